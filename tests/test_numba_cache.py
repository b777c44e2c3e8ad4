"""numba caches keyed per kernel module on the repro modules it imports (repro.core.numba_cache)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import repro
from repro.core import numba_cache
from repro.core.numba_cache import (ReproModuleLocator, direct_imports, module_dependencies, module_key,
                                    prune_stale_folders)


@pytest.fixture
def repro_copy(tmp_path):
    """A copy of the repro package's sources, free to edit."""
    root = tmp_path / "repro"
    shutil.copytree(numba_cache.PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.csv"))
    yield root
    direct_imports.cache_clear()


def _edit(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")
    direct_imports.cache_clear()


def test_numba_tries_the_repro_locator_first():
    assert numba.config.CACHE_LOCATOR_CLASSES.split(",")[0] == repro.CACHE_LOCATOR


def test_a_kernel_key_follows_the_modules_it_imports_and_only_those(repro_copy):
    engine = module_key("repro.replay.engine", repro_copy)
    dependencies = module_dependencies("repro.replay.engine", repro_copy)
    assert "repro.report.figures" not in dependencies
    _edit(repro_copy / "report" / "figures.py", "# a comment")
    assert module_key("repro.replay.engine", repro_copy) == engine
    imported = next(m for m in dependencies if m != "repro.replay.engine")  # e.g. repro.replay.state
    _edit(numba_cache.module_file(imported, repro_copy), "# a comment")
    assert module_key("repro.replay.engine", repro_copy) != engine


def test_a_kernel_key_follows_transitive_and_relative_imports(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "kernel.py").write_text("from .sub import middle\n")
    (root / "sub" / "middle.py").write_text("def f():\n    from pkg.leaf import g\n    return g\n")
    (root / "leaf.py").write_text("g = 1\n")
    (root / "other.py").write_text("import pkg.leaf\n")
    assert module_dependencies("pkg.kernel", root) == ("pkg.kernel", "pkg.leaf", "pkg.sub.middle")
    before = module_key("pkg.kernel", root)
    _edit(root / "other.py", "x = 2")
    assert module_key("pkg.kernel", root) == before
    _edit(root / "leaf.py", "g = 2")
    assert module_key("pkg.kernel", root) != before


@settings(max_examples=40, deadline=None)
@given(edges=st.sets(st.tuples(st.integers(0, 5), st.integers(0, 5))), kernel=st.integers(0, 5),
       edited=st.integers(0, 5))
def test_a_key_changes_exactly_when_a_module_reachable_by_imports_changes(edges, kernel, edited):
    """Any import graph (cycles included): editing module ``edited`` changes the key of ``kernel`` iff reachable."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        root.mkdir()
        (root / "__init__.py").write_text("")
        for m in range(6):
            (root / f"m{m}.py").write_text("".join(f"from pkg import m{b}\n" for a, b in sorted(edges) if a == m))
        reachable, todo = {kernel}, [kernel]
        while todo:
            a = todo.pop()
            for b in {b for x, b in edges if x == a} - reachable:
                reachable.add(b)
                todo.append(b)
        before = module_key(f"pkg.m{kernel}", root)
        _edit(root / f"m{edited}.py", "# edited")
        assert (module_key(f"pkg.m{kernel}", root) != before) == (edited in reachable)
    direct_imports.cache_clear()


def test_the_locator_puts_repro_functions_in_their_module_folder_and_leaves_others_to_numba(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_NUMBA_CACHE", str(tmp_path))
    locator = ReproModuleLocator.from_function(module_key, numba_cache.__file__)
    assert Path(locator.get_cache_path()) == tmp_path / module_key("repro.core.numba_cache")
    assert ReproModuleLocator.from_function(_edit, __file__) is None


def test_pruning_removes_only_old_folders_that_no_current_key_names(tmp_path):
    old = time.time() - 2 * numba_cache.PRUNE_AFTER_S
    for name in ("current", "stale_old", "stale_young"):
        (tmp_path / name).mkdir()
    for name in ("current", "stale_old"):
        os.utime(tmp_path / name, (old, old))
    assert prune_stale_folders(tmp_path, keep={"current"}) == [tmp_path / "stale_old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "stale_young"]


KERNEL = """
from numba import njit
from repro.helper import scale

@njit(cache=True)
def kernel(x):
    return scale(x) + 1.0
"""

RUN = """
import repro.kernel as k
print(k.kernel(1.0), sum(k.kernel.stats.cache_hits.values()), sum(k.kernel.stats.cache_misses.values()))
"""


def test_an_edit_to_a_module_the_kernel_does_not_import_recompiles_nothing(tmp_path):
    """End to end, in fresh processes: compile, edit an unrelated module (cache hit), edit the callee (recompiled)."""
    package = tmp_path / "src" / "repro"
    (package / "core").mkdir(parents=True)
    shutil.copy(repro.__file__, package / "__init__.py")
    (package / "core" / "__init__.py").write_text("")
    shutil.copy(numba_cache.__file__, package / "core" / "numba_cache.py")
    (package / "kernel.py").write_text(KERNEL)
    (package / "helper.py").write_text("from numba import njit\n\n@njit\ndef scale(x):\n    return 2.0 * x\n")
    (package / "unrelated.py").write_text("x = 1\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src"), "REPRO_NUMBA_CACHE": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES")

    def run() -> list[str]:
        out = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True)
        return out.stdout.split()

    assert run() == ["3.0", "0", "1"]  # compiled and saved
    (package / "unrelated.py").write_text("x = 2  # edited\n")
    assert run() == ["3.0", "1", "0"]  # loaded from the cache
    (package / "helper.py").write_text((package / "helper.py").read_text().replace("2.0 * x", "3.0 * x"))
    assert run() == ["4.0", "0", "1"]  # the callee changed: recompiled, not stale
    assert len([p for p in (tmp_path / "cache").iterdir() if p.name.startswith("repro.kernel-")]) == 2
