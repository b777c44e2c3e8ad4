"""Run one paper's notebook with its parameters from params.yaml (DESIGN.md, "Notebooks").

    python -m repro.notebook run SLUG                      # params.yaml as is -> paper/SLUG/
    python -m repro.notebook run SLUG --scale smoke --seed 3   # -> runs/SLUG/smoke-seed3/
    python -m repro.notebook params SLUG --scale smoke     # print the resolved parameters
    python -m repro.notebook deps SLUG                     # the library code the notebook imports (dvc.yaml deps)

Parameters come from ``papers.<slug>`` in params.yaml (full-scale values); at smoke scale the
entries of ``smoke.<slug>`` replace them. Every parameter is checked by the paper's Config
(``repro.papers.<slug>``: unknown, missing, ill-typed or out-of-range names fail with one message),
the notebook runs under papermill into a temporary folder, and only a successful run replaces the
output folder, with ``run.json`` (runtime, machine, versions) and the executed notebook beside
the figures and metrics.json.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import yaml

from repro import papers
from repro.core.environ import scoped_environ
from repro.core.io import atomic_write_text, umask_mode
from repro.papers import ParameterError, repo_root
from repro.papers.config import load_yaml
from repro.sweep import checkpoint_dir

RUNNER_PARAMETERS = ("out_dir",)
"""Notebook parameters that the runner sets itself; they are not in params.yaml."""

PER_FILE_PACKAGES = ("papers", "core")
"""Subpackages whose modules count one by one as stage dependencies (one module per paper; core's independent
utilities), so that a change to one of them reruns only the stages that import it."""

RECORDED_PACKAGES = ("numpy", "numba", "scipy", "pandas", "matplotlib", "mip", "statsmodels", "rliable", "pooch",
                     "jsonschema", "dask", "papermill", "dvc")


def notebook_defaults(notebook: Path) -> dict:
    """Name -> default value of the notebook's ``parameters`` cell (literal values only)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"{notebook}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    defaults = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                raise ParameterError(f"{notebook}: parameter {node.targets[0].id!r} must have a literal default") from None
    return defaults


def _parse_assignment(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise ParameterError(f"--set {text!r}: expected NAME=VALUE")
    name, value = text.split("=", 1)
    return name.strip(), load_yaml(value)


def resolve_parameters(slug: str, root: Path, scale=None, seed=None, assignments=(), config_class=None) -> dict:
    """params.yaml's ``papers.<slug>`` (smoke overrides at smoke scale, then the CLI's), checked by the paper's Config.

    ``config_class`` defaults to ``repro.papers.<slug>.Config``.
    """
    overrides = dict(_parse_assignment(a) for a in assignments)
    params = papers.resolve_parameters(slug, root, scale=scale, seed=seed, overrides=overrides)
    config_class = config_class or papers.paper_module(slug).Config
    config_class.from_params(params, where=f"params.yaml papers.{slug}")
    return params


def _notebook_source(notebook: Path) -> str:
    """The notebook's code cells as one Python source, IPython magics and shell lines dropped."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    lines = [line for cell in nb.cells if cell.cell_type == "code" for line in cell.source.splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def _imported_repro_modules(source: str, lib: Path) -> set[str]:
    """Names of the ``repro`` modules that ``source`` imports (``from repro.x import y`` counts y if a module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "repro")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "repro":
            found.add(node.module)
            for alias in node.names:
                candidate = lib.joinpath(*f"{node.module}.{alias.name}".split(".")[1:])
                if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
                    found.add(f"{node.module}.{alias.name}")
    return found


def _module_file(name: str, lib: Path) -> Path:
    path = lib.joinpath(*name.split(".")[1:])
    return path / "__init__.py" if (path / "__init__.py").is_file() else path.with_suffix(".py")


def code_dependencies(slug: str, root: Path) -> list[str]:
    """The library paths notebooks/<slug>.ipynb depends on: its ``repro`` imports, followed transitively.

    A subpackage counts as its folder (``lib/repro/pg``), a top-level module as its file, and a module of
    :data:`PER_FILE_PACKAGES` as its own file (a change to one paper's module reruns that paper only); the
    package's own ``__init__.py`` always counts, and so does a paper module's committed data
    (``lib/repro/papers/data/<module>_*``, e.g. hand labels). This is what the paper's stage in dvc.yaml must
    list as deps.
    """
    lib = root / "lib" / "repro"
    pending = sorted(_imported_repro_modules(_notebook_source(root / "notebooks" / f"{slug}.ipynb"), lib))
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        for parent in (".".join(parts[:i]) for i in range(1, len(parts))):
            pending.append(parent)
        source_file = _module_file(name, lib)
        if source_file.is_file():
            pending.extend(_imported_repro_modules(source_file.read_text(encoding="utf-8"), lib) - seen)
    deps = set()
    for name in seen:
        parts = name.split(".")
        if len(parts) == 1:
            deps.add("lib/repro/__init__.py")
        elif parts[1] in PER_FILE_PACKAGES:
            deps.add(_module_file(name, lib).relative_to(root).as_posix())
            deps.update(p.relative_to(root).as_posix() for p in (lib / parts[1] / "data").glob(f"{parts[-1]}_*"))
        elif (lib / parts[1]).is_dir():
            deps.add(f"lib/repro/{parts[1]}")
        else:
            deps.add(f"lib/repro/{parts[1]}.py")
    return sorted(deps)


def _versions() -> dict:
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(root: Path) -> str | None:
    """The commit checked out at ``root`` (git resolves packed refs and worktrees, which reading .git/HEAD by hand
    missed: run.json said null in fresh clones); None outside a git checkout or without git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_record(slug: str, params: dict, runtime_s: float, started: datetime, root: Path) -> dict:
    """What run.json holds: everything about a run that is not a result."""
    return {"slug": slug, "scale": params["scale"], "seed": params.get("seed"), "parameters": params,
            "runtime_s": round(runtime_s, 1), "started_utc": started.isoformat(timespec="seconds"),
            "git_commit": git_commit(root),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "packages": _versions()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(folder: Path) -> int | None:
    """The pid in a work folder's name ``.<out>.new-<pid>-<random>`` or ``.<out>.old-<pid>``."""
    tail = folder.name.rsplit(".", 1)[-1].split("-")
    return int(tail[1]) if len(tail) > 1 and tail[1].isdigit() else None


def recover_interrupted(out: Path) -> None:
    """Clean up after a runner that was killed: restore ``out`` if it was mid-swap, drop its work folders.

    A run that was killed (SIGKILL, power loss) leaves ``.<out>.new-<pid>-*`` (a half-written result) and,
    if it died inside the swap, ``.<out>.old-<pid>`` (the previous result) with ``out`` missing.
    Folders of runners that are still alive are left alone.
    """
    for folder in sorted(out.parent.glob(f".{out.name}.old-*")):
        pid = _owner(folder)
        if pid is None or _pid_alive(pid):
            continue
        if out.exists():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            os.replace(folder, out)
    for folder in out.parent.glob(f".{out.name}.new-*"):
        pid = _owner(folder)
        if pid is not None and not _pid_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _replace_folder(new: Path, out: Path) -> None:
    """Swap ``new`` into place as ``out``; the old folder is removed only after the swap."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old)


def run_folder_name(params: dict, overrides: dict) -> str:
    """``<scale>-seed<seed>`` plus every other override, so runs that differ never share a folder."""
    parts = [f"{params['scale']}-seed{params.get('seed', 0)}"]
    parts += [f"{name}={json.dumps(value, separators=(',', ':'))}" for name, value in sorted(overrides.items())
              if name not in ("scale", "seed")]
    name = "-".join(parts)
    safe = "".join(c if c.isalnum() or c in "-_=.,+" else "_" for c in name)
    if len(safe) > 120:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        safe = f"{parts[0]}-{digest}"
    return safe


def default_out(slug: str, root: Path, params: dict, overrides: dict) -> Path:
    """paper/<slug> for the committed configuration, runs/<slug>/<run folder name> for any other."""
    if not overrides:
        return root / "paper" / slug
    return root / "runs" / slug / run_folder_name(params, overrides)


def _new_work_folder(out: Path) -> Path:
    """A fresh ``.<out>.new-<pid>-*`` beside ``out``, with the permissions of an ordinary folder."""
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    os.chmod(work, umask_mode(0o777))
    return work


def checkpoint_folder(root: Path, slug: str, out: Path) -> Path:
    """The sweep checkpoint folder of the runs that write ``out`` (:mod:`repro.sweep`, "Resuming"): one per output
    folder under ``REPRO_CHECKPOINT_DIR`` (default ``.cache/sweeps`` in the repository), so that a smoke run never
    removes the saved tasks of a stopped full run."""
    base = root / checkpoint_dir()
    return base / f"{slug}-{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:12]}"


def run_notebook(slug: str, params: dict, out: Path, root: Path, progress: bool = True) -> Path:
    """Execute notebooks/<slug>.ipynb with ``params`` and replace ``out`` with its outputs.

    The notebook writes into a work folder beside ``out``; only a run that finished and wrote
    metrics.json is swapped into place. Ctrl-C or a failing cell removes the work folder and leaves
    ``out`` as it was; after a SIGKILL the next run cleans up (:func:`recover_interrupted`). Its sweeps keep
    their finished tasks in :func:`checkpoint_folder` until the run succeeds, so a stopped run resumes.
    """
    import papermill

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted(out)
    work = _new_work_folder(out)
    checkpoints = checkpoint_folder(root, slug, out)
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    executed = work / f"{slug}.ipynb"
    try:
        with scoped_environ(REPRO_CHECKPOINT_DIR=str(checkpoints)):
            papermill.execute_notebook(str(root / "notebooks" / f"{slug}.ipynb"), str(executed),
                                       parameters={**params, "out_dir": str(work)}, kernel_name="python3",
                                       progress_bar=progress, cwd=str(root))
    except BaseException as err:
        failed = root / "runs" / f"{slug}-failed.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        if executed.is_file():
            shutil.copyfile(executed, failed)
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(err, papermill.PapermillExecutionError):
            raise RuntimeError(f"notebooks/{slug}.ipynb failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                               f"(executed notebook kept at {failed}; {out} left unchanged)") from None
        raise
    if not (work / "metrics.json").is_file():
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"notebooks/{slug}.ipynb finished without writing metrics.json; {out} left unchanged")
    record = run_record(slug, params, time.perf_counter() - t0, started, root)
    atomic_write_text(work / "run.json", json.dumps(record, indent=2) + "\n")
    _replace_folder(work, out)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repro.notebook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "params", "deps"])
    parser.add_argument("slug")
    parser.add_argument("--scale", choices=["smoke", "full"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="override one notebook parameter (YAML value)")
    parser.add_argument("--out", type=Path, help="output folder (default: paper/SLUG, or runs/SLUG/... when customised)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    root = repo_root()
    if args.command == "deps":
        print("\n".join(code_dependencies(args.slug, root)))
        return 0
    try:
        params = resolve_parameters(args.slug, root, args.scale, args.seed, args.assignments)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "params":
        print(yaml.safe_dump(params, sort_keys=False), end="")
        return 0
    overrides = {"scale": args.scale, "seed": args.seed, **dict(_parse_assignment(a) for a in args.assignments)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    out = args.out or default_out(args.slug, root, params, overrides)
    try:
        written = run_notebook(args.slug, params, out, root, progress=not args.no_progress)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
