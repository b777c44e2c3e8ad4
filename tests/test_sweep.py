"""repro.sweep: grid x seeds on dask.distributed, same numbers and order as a serial run (DESIGN.md, "Scale-out")."""
import functools
import os
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import sweep as sweep_module
from repro.sweep import SERIAL, SweepError, SweepResult, expand_grid, get_client, sweep


def noisy_curve(scale, shift, seed):
    """A deterministic task: a seeded random curve plus scalars; sleeps so that tasks finish out of order."""
    time.sleep(0.02 * ((7 - seed) % 3))
    rng = np.random.default_rng([seed, int(scale * 10)])
    curve = scale * rng.standard_normal(5) + shift
    return {"mean": float(curve.mean()), "label": f"s{scale}", "final": curve[-1], "curve": curve,
            "grid": np.ones((2, 2)) * seed}


def fails_sometimes(x, seed):
    if x == 2 and seed in (1, 3):
        raise ArithmeticError(f"boom x={x} seed={seed}")
    return {"value": x * 100 + seed, "trace": np.arange(3) + x}


@pytest.fixture(scope="module")
def client():
    """One small LocalCluster (2 processes) for the whole module: cluster start-up costs seconds."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with Client(cluster) as c:
        yield c
    cluster.close()


GRID = {"scale": [0.5, 2.0], "shift": [0.0, -1.0, 3.0]}
SEEDS = [3, 0, 7, 1]


def test_grid_expands_in_order_and_checks_its_input():
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                                           {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert expand_grid([{"a": 1}, {"b": 2}]) == [{"a": 1}, {"b": 2}]
    with pytest.raises(ValueError, match="seed"):
        expand_grid({"seed": [1]})
    with pytest.raises(ValueError, match=r"grid\['a'\]"):
        expand_grid({"a": []})
    with pytest.raises(ValueError, match="grid\\['a'\\]"):
        expand_grid({"a": "abc"})
    with pytest.raises(ValueError, match="at least one"):
        expand_grid([])
    with pytest.raises(ValueError, match="entry 1"):
        expand_grid([{"a": 1}, 5])
    with pytest.raises(ValueError, match="distinct"):
        sweep(noisy_curve, GRID, [1, 1], client=SERIAL, progress=False)
    with pytest.raises(ValueError, match="client="):
        sweep(noisy_curve, GRID, [1], client="threads", progress=False)


def test_serial_table_is_ordered_by_settings_then_seed():
    result = sweep(noisy_curve, GRID, SEEDS, client=SERIAL, progress=False)
    assert isinstance(result, SweepResult) and len(result) == 6 * 4
    assert list(result.table.columns) == ["scale", "shift", "seed", "mean", "label", "final"]
    assert result.table["seed"].tolist() == SEEDS * 6
    assert result.table["shift"].tolist()[:8] == [0.0] * 4 + [-1.0] * 4
    assert result.table["final"].dtype == np.float64
    assert sorted(result.arrays) == ["curve", "grid"]
    curves = result.stack("curve", scale=2.0, shift=3.0)
    assert curves.shape == (4, 5)
    np.testing.assert_array_equal(curves[2], noisy_curve(2.0, 3.0, 7)["curve"])
    assert result.stack("grid", seed=7).shape == (6, 2, 2)
    with pytest.raises(ValueError, match="unknown column"):
        result.rows(colour="red")
    with pytest.raises(ValueError, match="no array output"):
        result.stack("nope")
    with pytest.raises(ValueError, match="no row matches"):
        result.stack("curve", scale=9.0)


def test_distributed_run_equals_serial_run_regardless_of_completion_order(client):
    serial = sweep(noisy_curve, GRID, SEEDS, client=SERIAL, progress=False)
    distributed = sweep(noisy_curve, GRID, SEEDS, client=client, progress=True)
    pd.testing.assert_frame_equal(serial.table, distributed.table)
    assert serial.arrays.keys() == distributed.arrays.keys()
    for name in serial.arrays:
        for a, b in zip(serial.arrays[name], distributed.arrays[name]):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


@pytest.mark.parametrize("where", ["serial", "cluster"])
def test_failed_tasks_are_all_reported_and_finished_ones_kept(where, client):
    with pytest.raises(SweepError) as caught:
        sweep(fails_sometimes, {"x": [1, 2, 3]}, [0, 1, 2, 3], client=SERIAL if where == "serial" else client,
              progress=False)
    error = caught.value
    assert [(s, seed) for s, seed, _ in error.failures] == [({"x": 2}, 1), ({"x": 2}, 3)]
    assert "ArithmeticError: boom x=2 seed=1" in error.failures[0][2]
    assert "settings={'x': 2} seed=3" in str(error) and "boom x=2 seed=3" in str(error)
    partial = error.partial
    assert len(partial) == 10
    assert partial.table["value"].tolist() == [100, 101, 102, 103, 200, 202, 300, 301, 302, 303]
    np.testing.assert_array_equal(partial.stack("trace", x=2), [[2, 3, 4], [2, 3, 4]])


def heals(folder, x, seed):
    """fails_sometimes until a file ``healed`` exists in ``folder``; every call is logged to ``folder/ran``."""
    with open(f"{folder}/ran", "a") as log:
        log.write(f"{x},{seed}\n")
    if not os.path.exists(f"{folder}/healed"):
        return fails_sometimes(x, seed)
    return {"value": x * 100 + seed, "trace": np.arange(3) + x}


@pytest.mark.parametrize("where", ["serial", "cluster"])
def test_a_stopped_sweep_resumes_from_its_checkpoint_and_keeps_it(where, client, tmp_path):
    store, log = tmp_path / "checkpoint", tmp_path / "ran"
    run = functools.partial(sweep, functools.partial(heals, str(tmp_path)), {"x": [1, 2, 3]}, [0, 1, 2, 3],
                            client=SERIAL if where == "serial" else client, progress=False, checkpoint=store)
    with pytest.raises(SweepError):
        run()
    assert len(list(store.glob("*.pkl"))) == 10, "the 10 finished tasks are kept"
    log.unlink()
    (tmp_path / "healed").touch()
    resumed = run()
    assert sorted(log.read_text().split()) == ["2,1", "2,3"], "only the two tasks that failed run again"
    assert resumed.table["value"].tolist() == [100, 101, 102, 103, 200, 201, 202, 203, 300, 301, 302, 303]
    np.testing.assert_array_equal(resumed.stack("trace", x=2), [[2, 3, 4]] * 4)
    assert len(list(store.glob("*.pkl"))) == 12, "the folder's owner removes it, not the sweep (a run holds several)"


def test_checkpoint_files_are_keyed_by_the_bound_arguments_and_a_damaged_one_is_rerun(tmp_path):
    calls = []

    def scaled(factor, x, seed):
        calls.append((factor, x, seed))
        return {"value": factor * x + seed}

    def paths(fn):
        return sweep_module.Checkpoint(tmp_path, fn, [({"x": 1}, 0)]).paths

    assert paths(functools.partial(scaled, 2)) != paths(functools.partial(scaled, 3))
    assert paths(functools.partial(scaled, 2)) == paths(functools.partial(scaled, 2))
    assert paths(functools.partial(scaled, 2)) != paths(functools.partial(noisy_curve, 2))
    paths(functools.partial(scaled, 2))[0].write_bytes(b"not a pickle")
    with pytest.warns(UserWarning, match="unreadable sweep checkpoint"):
        result = sweep(functools.partial(scaled, 2), {"x": [1]}, [0], client=SERIAL, progress=False,
                       checkpoint=tmp_path)
    assert result.table["value"].tolist() == [2] and calls == [(2, 1, 0)]


def test_checkpoint_dir_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("REPRO_CHECKPOINT_DIR", raising=False)
    assert sweep_module.checkpoint_dir().as_posix() == ".cache/sweeps"
    monkeypatch.setenv("REPRO_CHECKPOINT_DIR", "/somewhere/else")
    assert sweep_module.checkpoint_dir().as_posix() == "/somewhere/else"


def test_a_task_must_return_a_dict_without_name_clashes():
    with pytest.raises(SweepError, match="expected a dict"):
        sweep(lambda x, seed: x + seed, {"x": [1]}, [0], client=SERIAL, progress=False)
    with pytest.raises(SweepError, match="clash"):
        sweep(lambda x, seed: {"x": 1}, {"x": [1]}, [0], client=SERIAL, progress=False)


def test_list_grid_with_different_settings_fills_missing_columns():
    result = sweep(lambda seed, a=0, b=0: {"sum": a + b + seed}, [{"a": 1}, {"b": 10}], [0, 5],
                   client=SERIAL, progress=False)
    assert result.table["sum"].tolist() == [1, 6, 10, 15]
    assert result.table["a"].isna().tolist() == [False, False, True, True]


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), n_seeds=st.integers(1, 4))
def test_one_row_per_grid_point_and_seed(sizes, n_seeds):
    grid = {f"k{i}": list(range(n)) for i, n in enumerate(sizes)}
    result = sweep(lambda seed, **kw: {"total": sum(kw.values()) * 10 + seed}, grid, range(n_seeds),
                   client=SERIAL, progress=False)
    assert len(result) == int(np.prod(sizes)) * n_seeds
    expected = [sum(point.values()) * 10 + s for point in expand_grid(grid) for s in range(n_seeds)]
    assert result.table["total"].tolist() == expected


def test_get_client_connects_to_the_scheduler_named_in_the_environment(client, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", client.scheduler.address)
    try:
        shared = get_client()
        assert shared.scheduler.address == client.scheduler.address
        assert get_client() is shared                    # reused, not restarted
        assert sweep_module._SHARED["cluster"] is None      # no LocalCluster was started
        result = sweep(fails_sometimes, {"x": [1]}, [0, 1], progress=False)   # client=None: the shared client
        assert result.table["value"].tolist() == [100, 101]
    finally:
        sweep_module.close_client()
    assert client.status == "running"                    # the external cluster keeps running


def test_workers_get_one_numba_and_one_xla_thread_keeping_the_callers_xla_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env = sweep_module.worker_environment()
    assert env["NUMBA_NUM_THREADS"] == "1"
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x " + sweep_module.SINGLE_THREAD_XLA


def test_get_client_starts_one_local_cluster_and_reuses_it(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    try:
        shared = get_client(1)
        assert get_client(1) is shared
        assert list(shared.nthreads().values()) == [1]
        assert shared.run(lambda: __import__("os").environ.get("NUMBA_NUM_THREADS")) == {
            w: "1" for w in shared.nthreads()}
        assert shared.run(lambda: __import__("os").environ.get("XLA_FLAGS")) == {
            w: sweep_module.SINGLE_THREAD_XLA for w in shared.nthreads()}
        bigger = get_client(2)
        assert bigger is not shared and shared.status != "running" and len(bigger.nthreads()) == 2
    finally:
        sweep_module.close_client()
    assert sweep_module._SHARED["client"] is None
