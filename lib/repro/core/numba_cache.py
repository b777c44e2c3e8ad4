"""numba's on-disk cache keyed per kernel module on the repro modules that module imports.

Why: numba's ``cache=True`` stamps a cached function with its own file only. A kernel that calls or
inlines an ``@njit`` function from another module carries that callee's machine code in its cache
entry, so after the callee's module changes numba would load stale code. Keying one cache folder on
the whole package avoided that but threw every kernel away after a comment edit anywhere (47-58 s of
compiling before the first replay or HPG run). Here each module's kernels live in their own folder,

    ``$REPRO_NUMBA_CACHE/<module name>-<digest>``   (default base ``~/.cache/repro/numba``)

where the digest covers the module's source and the sources of every ``repro`` module it imports,
directly or transitively (:func:`module_dependencies`: an AST walk of ``import`` and ``from ... import``
statements, resolved to files under the package). An edit to a module that a kernel does not import
leaves its folder, and so its compiled code, in place.

How: :class:`ReproModuleLocator` is a numba cache locator that answers for functions defined in
``repro`` modules; numba tries it first because ``repro/__init__.py`` names it, followed by numba's
own locators, in ``NUMBA_CACHE_LOCATOR_CLASSES`` (numba's setting for exactly this). Functions
elsewhere (tests, notebooks) fall through to numba's default locators. Importing ``repro`` therefore
does not import numba. The setting is inherited by child processes: they must be able to import
``repro`` if they compile cached numba functions (all the project's stages and kernels can).

Stale folders are removed by :func:`prune_stale_folders`, which ``python -m repro.tools.warm`` calls: a
folder that no current module key names and that nobody has used for :data:`PRUNE_AFTER_S` (numba
touches a folder each time it locates a function in it, so a folder in use stays young).

Limitation: a dependency that a kernel receives at run time rather than imports (an ``@njit`` function
passed as an argument) is not in its key; the module that builds such a call must import the callee's
module for that module's folder to follow the callee.
"""
import ast
import hashlib
import os
import shutil
import time
from functools import lru_cache
from pathlib import Path

from numba.core.caching import _CacheLocator, _SourceFileBackedLocatorMixin

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The folder of the ``repro`` package (lib/repro)."""

PRUNE_AFTER_S = 24 * 3600.0
"""A stale cache folder is removed only after it went unused this long (another process may use it)."""


def cache_base() -> Path:
    """The folder that holds one cache folder per kernel module: ``$REPRO_NUMBA_CACHE`` or ``~/.cache/repro/numba``."""
    return Path(os.environ.get("REPRO_NUMBA_CACHE", Path.home() / ".cache" / "repro" / "numba"))


def module_file(name: str, root: Path = PACKAGE_ROOT) -> Path | None:
    """The source file of module ``name`` of the package at ``root`` (``pkg.a.b`` -> root/a/b.py or root/a/b/__init__.py)."""
    parts = name.split(".")
    if parts[0] != root.name:
        return None
    base = root.joinpath(*parts[1:])
    for path in (base.with_suffix(".py") if parts[1:] else None, base / "__init__.py"):
        if path is not None and path.is_file():
            return path
    return None


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module named by a (possibly relative) ``from X import`` inside module ``name``."""
    if not node.level:
        return node.module or ""
    package = name.split(".")
    package = package if is_package else package[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


@lru_cache(maxsize=None)
def direct_imports(name: str, root: Path = PACKAGE_ROOT) -> tuple[str, ...]:
    """The modules of the package at ``root`` that module ``name`` imports anywhere in its source, sorted.

    ``from M import a`` counts as a dependency on ``M.a`` when that is a module, else on ``M``.
    """
    path = module_file(name, root)
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, name, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if module_file(submodule, root) else module)
    return tuple(sorted(m for m in found if m != name and module_file(m, root)))


def module_dependencies(name: str, root: Path = PACKAGE_ROOT) -> tuple[str, ...]:
    """Module ``name`` and every module of the package it imports, directly or transitively, sorted."""
    seen, todo = {name}, [name]
    while todo:
        for dependency in direct_imports(todo.pop(), root):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return tuple(sorted(seen))


def module_key(name: str, root: Path = PACKAGE_ROOT) -> str:
    """``<name>-<digest>``: the cache folder name of module ``name``; the digest covers the sources of
    :func:`module_dependencies` (module names and file contents)."""
    digest = hashlib.sha256()
    for dependency in module_dependencies(name, root):
        digest.update(dependency.encode() + b"\0" + module_file(dependency, root).read_bytes() + b"\0")
    return f"{name}-{digest.hexdigest()[:16]}"


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    """The dotted module name of source file ``path`` inside the package at ``root``."""
    parts = path.resolve().relative_to(root).with_suffix("").parts
    return ".".join((root.name,) + (parts[:-1] if parts[-1] == "__init__" else parts))


def current_keys(root: Path = PACKAGE_ROOT) -> set[str]:
    """The cache folder names of every module of the package at ``root`` as its sources stand now."""
    return {module_key(module_name(path, root), root) for path in root.rglob("*.py")}


def prune_stale_folders(base: Path, keep: set[str], older_than_s: float = PRUNE_AFTER_S) -> list[Path]:
    """Remove the folders under ``base`` not named in ``keep`` and unused for ``older_than_s`` seconds; return them."""
    if not base.is_dir():
        return []
    cutoff = time.time() - older_than_s
    stale = [p for p in sorted(base.iterdir()) if p.is_dir() and p.name not in keep and p.stat().st_mtime < cutoff]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


class ReproModuleLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """numba cache locator for functions defined in ``repro`` modules: ``<cache_base()>/<module_key(module)>``."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(cache_base() / _key_of_file(str(Path(py_file).resolve())))

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(PACKAGE_ROOT):
            return None
        return super().from_function(py_func, py_file)


@lru_cache(maxsize=None)
def _key_of_file(path: str) -> str:
    """:func:`module_key` of the module in file ``path``, computed once per process."""
    return module_key(module_name(Path(path)))
