"""Sweeps over settings and seeds on dask.distributed (DESIGN.md, "Scale-out").

    from repro.sweep import sweep
    result = sweep(run_one, {"env": ["pmc", "mario"], "method": ["srma", "hpg"]}, seeds=range(10))
    result.table                                   # one row per (settings, seed), with the scalar outputs
    result.stack("returns", env="pmc", method="srma")   # (n_seeds, ...) stacked per-task arrays

``fn(**settings, seed=seed)`` is called once per pair of a grid point and a seed and returns a dict: scalar values
(numbers, bools, strings) become columns of ``result.table``; array values (anything with ``ndim >= 1``, e.g. a
per-iteration return curve) are kept per task in ``result.arrays[name][row]``. Rows are ordered by grid point (in
grid order), then seed (in the order given), whatever order the tasks finish in, so a sweep gives the same table
and arrays on one process (``client="serial"``) or on any cluster, provided ``fn`` is deterministic for its
arguments (every kernel in ``repro`` is: random streams are keyed by the seed).

A task that raises does not stop the others: when every task has finished, :class:`SweepError` lists each failed
(settings, seed) with its exception, and carries the finished tasks in ``error.partial`` (a :class:`SweepResult`).

Resuming (``checkpoint=DIR``): each finished task is also written to a file in DIR as it comes back, and a later
call with the same task skips it and reads the file instead, so a sweep stopped part-way (a killed stage, a
session that ended) resumes where it stopped. The sweep never removes them: whoever owns the folder does, once the
work that needs them is done, since one run may hold several sweeps (the notebook runner gives each paper run its
own folder and removes it after the run succeeded, :func:`repro.notebook.run_notebook`). A task's file is named by a hash of the ``repro`` package's source files,
``fn`` (module and name; for a ``functools.partial``, also the repr of its bound arguments), the settings and the
seed: any code or parameter change starts afresh. It does not cover data files ``fn`` reads (the project pins
them by hash) nor arguments whose repr is not their value (then the file is never found again: no resume, never a
wrong one). :func:`checkpoint_dir` is the default folder (``REPRO_CHECKPOINT_DIR``, else ``.cache/sweeps``).

Where the tasks run (``client=``):

* ``None`` (default): the shared client of this process from :func:`get_client`; it is started on first use and
  reused by later sweeps, so a notebook pays the cluster start-up (a few seconds) once;
* ``"serial"``: a plain loop in this process (debugging, tests, tiny sweeps);
* a ``distributed.Client`` you made yourself.

Pointing it at a cluster: start a scheduler and workers anywhere the ``repro`` package is installed at the same
version (``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786 --nworkers N --nthreads 1`` on each of the
others, or a dask-jobqueue / dask-kubernetes / Coiled cluster), then set ``DASK_SCHEDULER_ADDRESS=tcp://HOST:8786``
in the environment of the notebook or of ``dvc repro``: :func:`get_client` connects to that scheduler instead of
starting a LocalCluster, and ``n_workers`` is ignored (the cluster has its own size). Nothing else changes: task
functions are shipped by reference to their module (so library functions such as those in ``repro.pg`` must be
importable on the workers) and results come back in the same order with the same numbers. Use one thread per
worker process: numba kernels parallelise over seeds themselves, and the LocalCluster started here gives each
worker one numba thread and one XLA thread (:func:`worker_environment`) so that n_workers processes use n_workers
cores (XLA's own thread pool measured 10-20% slower with two workers on two cores; the numbers are the same).
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import os
import pickle
import traceback
import warnings
from dataclasses import dataclass, field
from numbers import Number
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from repro.core.io import atomic_write_bytes

SERIAL = "serial"


class SweepError(RuntimeError):
    """Some tasks of a sweep failed.

    failures: list of (settings, seed, exception text) in task order; partial: the :class:`SweepResult` of the tasks
    that finished.
    """

    def __init__(self, failures: list[tuple[dict, int, str]], partial: "SweepResult", n_tasks: int):
        self.failures = failures
        self.partial = partial
        lines = [f"  settings={settings!r} seed={seed}: {_last_line(text)}" for settings, seed, text in failures]
        super().__init__(f"{len(failures)} of {n_tasks} sweep tasks failed ({len(partial)} finished, kept in "
                         f"error.partial):\n" + "\n".join(lines))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


@dataclass(frozen=True)
class SweepResult:
    """The outputs of a sweep, one row per finished (settings, seed) task, in (grid point, seed) order.

    table: columns are the setting names, ``seed``, then the scalar outputs of ``fn``;
    arrays: ``arrays[name][row]`` is the array output ``name`` of the task in ``table`` row ``row`` (None when that
    task did not return it).
    """
    table: pd.DataFrame
    arrays: dict[str, list[np.ndarray | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    def rows(self, **settings) -> np.ndarray:
        """Row numbers whose settings (or seed) equal the given values, e.g. ``rows(env="pmc", method="srma")``."""
        unknown = set(settings) - set(self.table.columns)
        if unknown:
            raise ValueError(f"rows(): unknown column(s) {sorted(unknown)}; the table has {list(self.table.columns)}")
        mask = np.ones(len(self.table), dtype=bool)
        for name, value in settings.items():
            mask &= np.array([cell == value for cell in self.table[name]], dtype=bool)
        return np.flatnonzero(mask)

    def stack(self, name: str, **settings) -> np.ndarray:
        """The array output ``name`` of the matching rows, stacked along a new first axis (rows in table order)."""
        if name not in self.arrays:
            raise ValueError(f"stack(): no array output {name!r}; the sweep returned {sorted(self.arrays)}")
        rows = self.rows(**settings)
        if rows.size == 0:
            raise ValueError(f"stack({name!r}): no row matches {settings}")
        values = [self.arrays[name][r] for r in rows]
        missing = [int(r) for r, v in zip(rows, values) if v is None]
        if missing:
            raise ValueError(f"stack({name!r}): rows {missing} did not return {name!r}")
        shapes = {v.shape for v in values}
        if len(shapes) > 1:
            raise ValueError(f"stack({name!r}): the matching rows have different shapes {sorted(shapes)}; "
                             f"select rows of one shape with settings")
        return np.stack(values)


# ---------------------------------------------------------------- grid and task execution
def expand_grid(grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]]) -> list[dict]:
    """The grid points: the Cartesian product of a dict of value lists (first key varies slowest), or a list of
    dicts taken as is."""
    if isinstance(grid, Mapping):
        for name, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
                raise ValueError(f"grid[{name!r}]={values!r}: expected a non-empty list of values")
        points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        points = [dict(point) if isinstance(point, Mapping) else point for point in grid]
        bad = [i for i, point in enumerate(points) if not isinstance(point, dict)]
        if bad:
            raise ValueError(f"grid: expected a list of dicts, entry {bad[0]} is {points[bad[0]]!r}")
    else:
        raise ValueError(f"grid: expected a dict of value lists or a list of dicts, got {type(grid).__name__}")
    if not points:
        raise ValueError("grid: expected at least one grid point")
    for point in points:
        if "seed" in point:
            raise ValueError(f"grid point {point!r}: 'seed' is passed by sweep(); give the seeds in `seeds`")
        for name in point:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"grid point {point!r}: setting name {name!r} is not a valid keyword")
    return points


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (Number, str, bool, np.generic)) and np.ndim(value) == 0


def run_task(fn: Callable[..., Mapping], settings: dict, seed: int) -> tuple[bool, Any]:
    """Call ``fn(**settings, seed=seed)``: (True, {"scalars": {...}, "arrays": {...}}) or (False, traceback text).

    Runs on the worker; exceptions come back as text so a failing task never takes the sweep down.
    """
    try:
        out = fn(**settings, seed=seed)
        if not isinstance(out, Mapping):
            raise TypeError(f"sweep task returned {type(out).__name__}; expected a dict of scalars and arrays")
        clash = set(out) & (set(settings) | {"seed"})
        if clash:
            raise ValueError(f"sweep task output names {sorted(clash)} clash with the setting names or 'seed'")
        scalars = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items() if _is_scalar(v)}
        arrays = {k: np.asarray(v) for k, v in out.items() if k not in scalars}
        return True, {"scalars": scalars, "arrays": arrays}
    except Exception:  # noqa: BLE001 -- reported per task in SweepError
        return False, traceback.format_exc()


def _collect(points: list[dict], seeds: list[int], outcomes: list) -> SweepResult:
    """Assemble the finished outcomes (None = failed) into a SweepResult in task order."""
    records, array_rows = [], []
    for (point, seed), outcome in zip(itertools.product(points, seeds), outcomes):
        if outcome is None:
            continue
        records.append({**point, "seed": seed, **outcome["scalars"]})
        array_rows.append(outcome["arrays"])
    setting_names = list(dict.fromkeys(name for point in points for name in point))
    output_names = list(dict.fromkeys(name for record in records for name in record
                                      if name not in setting_names and name != "seed"))
    table = pd.DataFrame.from_records(records, columns=[*setting_names, "seed", *output_names])
    names = list(dict.fromkeys(name for row in array_rows for name in row))
    arrays = {name: [row.get(name) for row in array_rows] for name in names}
    return SweepResult(table, arrays)


# ---------------------------------------------------------------- resuming from finished tasks
PACKAGE = Path(__file__).resolve().parent
NOT_SOURCE = {".pyc", ".nbi", ".nbc"}


def checkpoint_dir() -> Path:
    """Where papers keep the finished tasks of a running sweep: ``REPRO_CHECKPOINT_DIR``, else ``.cache/sweeps``
    (relative to the working directory: the repository root under ``dvc repro`` and ``make``)."""
    return Path(os.environ.get("REPRO_CHECKPOINT_DIR", "").strip() or ".cache/sweeps")


@functools.lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """A hash of every source and data file of the ``repro`` package (caches excluded)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in NOT_SOURCE:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def describe_function(fn) -> tuple:
    """``fn`` as plain text: module and qualified name, and for a ``functools.partial`` its bound arguments' reprs."""
    if isinstance(fn, functools.partial):
        return (describe_function(fn.func), tuple(map(repr, fn.args)),
                tuple(sorted((name, repr(value)) for name, value in fn.keywords.items())))
    return getattr(fn, "__module__", None), getattr(fn, "__qualname__", repr(fn))


class Checkpoint:
    """The files of one sweep's finished tasks in ``directory`` (module docstring, "Resuming")."""

    def __init__(self, directory: str | os.PathLike, fn: Callable, tasks: list[tuple[dict, int]]):
        self.directory = Path(directory)
        head = repr((package_fingerprint(), describe_function(fn)))
        self.paths = [self.directory / f"{self._key(head, point, seed)}.pkl" for point, seed in tasks]

    @staticmethod
    def _key(head: str, point: dict, seed: int) -> str:
        text = repr((head, sorted((name, repr(value)) for name, value in point.items()), int(seed)))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def load(self, i: int):
        """Task ``i``'s saved outcome, or None when it has none (an unreadable file is warned about and ignored)."""
        path = self.paths[i]
        try:
            return pickle.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except Exception as error:  # noqa: BLE001 -- a damaged file costs a rerun of its task, nothing more
            warnings.warn(f"{path}: unreadable sweep checkpoint ({type(error).__name__}: {error}); rerunning its task",
                          stacklevel=2)
            return None

    def save(self, i: int, outcome) -> None:
        atomic_write_bytes(self.paths[i], pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))


def sweep(fn: Callable[..., Mapping], grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]],
          seeds: Sequence[int], *, client=None, progress: bool = True, desc: str | None = None,
          checkpoint: str | os.PathLike | None = None) -> SweepResult:
    """Run ``fn(**settings, seed=seed)`` for every grid point and seed (see the module docstring).

    client: None (shared client from :func:`get_client`), ``"serial"`` (in-process loop) or a distributed.Client;
    progress: show a tqdm bar of finished tasks; desc: its label (default: fn's name); checkpoint: a folder that
    keeps every finished task, so that a stopped sweep resumes (module docstring; its owner removes it).
    Raises SweepError after all tasks ran if any failed (finished ones in ``error.partial``, and in ``checkpoint``).
    """
    from tqdm.auto import tqdm

    points = expand_grid(grid)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds}: expected distinct seeds")
    if isinstance(client, str) and client != SERIAL:
        raise ValueError(f"client={client!r}: expected None, {SERIAL!r} or a distributed.Client")
    tasks = list(itertools.product(points, seeds))
    store = None if checkpoint is None else Checkpoint(checkpoint, fn, tasks)
    saved = [None if store is None else store.load(i) for i in range(len(tasks))]
    results: list = [(True, outcome) if outcome is not None else None for outcome in saved]
    todo = [i for i, result in enumerate(results) if result is None]

    def finish(i: int, result) -> None:
        results[i] = result
        if store is not None and result[0]:
            store.save(i, result[1])
        bar.update()

    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=desc or getattr(fn, "__name__", "sweep"),
               disable=not progress)
    try:
        if client == SERIAL:
            for i in todo:
                finish(i, run_task(fn, *tasks[i]))
        elif todo:
            from distributed import as_completed

            client = get_client() if client is None else client
            futures = [client.submit(run_task, fn, *tasks[i], pure=False) for i in todo]
            index = {future.key: i for future, i in zip(futures, todo)}
            for future in as_completed(futures):
                if future.status == "finished":
                    finish(index[future.key], future.result())
                else:  # the worker died or the task could not be run at all
                    error = future.exception()
                    finish(index[future.key], (False, f"{type(error).__name__}: {error}"))
                future.release()
    finally:
        bar.close()
    outcomes = [value if ok else None for ok, value in results]
    collected = _collect(points, seeds, outcomes)
    failures = [(dict(point), seed, value) for (point, seed), (ok, value) in zip(tasks, results) if not ok]
    if failures:
        raise SweepError(failures, collected, len(tasks))
    return collected


# ---------------------------------------------------------------- the shared client
_SHARED: dict[str, Any] = {"client": None, "cluster": None, "n_workers": None}


SINGLE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def worker_environment() -> dict[str, str]:
    """The environment of a LocalCluster worker: one thread for numba and for XLA's CPU kernels (JAX), so that
    n_workers processes share n_workers cores instead of oversubscribing them; ``XLA_FLAGS`` already set is kept."""
    xla = f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA}".strip()
    return {"NUMBA_NUM_THREADS": "1", "XLA_FLAGS": xla}


def get_client(n_workers: int | None = None):
    """The shared distributed.Client of this process, started on first use and reused afterwards.

    With ``DASK_SCHEDULER_ADDRESS`` set: a client of that scheduler (``n_workers`` ignored). Otherwise a LocalCluster
    of ``n_workers`` processes (default: the number of cores) with one thread each (:func:`worker_environment`);
    asking for a different ``n_workers`` than the running one closes it and starts a new one.
    """
    from distributed import Client, LocalCluster

    address = os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip()
    wanted = None if address else int(n_workers or os.cpu_count() or 1)
    if wanted is not None and wanted < 1:
        raise ValueError(f"n_workers={n_workers!r}: expected an integer >= 1")
    client = _SHARED["client"]
    if client is not None and client.status == "running" and _SHARED["n_workers"] == wanted:
        return client
    close_client()
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(n_workers=wanted, threads_per_worker=1, processes=True, dashboard_address=":0",
                               env=worker_environment())
        _SHARED["cluster"] = cluster
        client = Client(cluster)
    _SHARED.update(client=client, n_workers=wanted)
    return client


def client_for(n_workers: int):
    """Where a paper's tasks run: ``SERIAL`` (a loop in this process) when ``n_workers`` is 1 and no scheduler is
    named in ``DASK_SCHEDULER_ADDRESS``, else the shared client (:func:`get_client`). Same numbers either way."""
    if n_workers == 1 and not os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip():
        return SERIAL
    return get_client(n_workers)


def close_client() -> None:
    """Close the shared client (and the LocalCluster it started; an external cluster keeps running)."""
    client, cluster = _SHARED["client"], _SHARED["cluster"]
    _SHARED.update(client=None, cluster=None, n_workers=None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


atexit.register(close_client)
