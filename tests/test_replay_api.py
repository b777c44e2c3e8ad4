"""repro.replay public API: bad input raises ValueError naming the parameter, the controller's snapshot (arrival
window, utilisation, busy fraction), GPU-time accounting of scaling actions (brief 01 C1/C2), pools, the time
series, and plug-in errors."""
import numpy as np
import pytest
from numba import njit

from repro.replay import Add, Remove, Simulation, make_router, simulate
from replay_scenarios import random_trace, toy_latency
from repro.replay.state import ACTIVE, DRAINING, OFF, STATUS_NAMES
from repro.traces import Trace

LAT = toy_latency(2, 4000)
TRACE = random_trace(7, 120, duration=12.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_batch=0), "max_batch"), (dict(reserve="lazy"), "reserve"), (dict(chunk_tokens=0), "chunk_tokens"),
    (dict(think_time=0.0), "think_time"), (dict(resolution=-1.0), "resolution"),
    (dict(workload_pool=(0, 3), n_pools=2), "workload_pool"), (dict(iteration="decode_first"), "iteration"),
    (dict(iteration="prefill_priority", chunk_tokens=64), "chunk_tokens"),
])
def test_bad_options_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulation(TRACE, LAT, np.ones((2, 2), int), **kwargs)


def test_bad_instances_latency_and_trace():
    with pytest.raises(ValueError, match="instances"):
        Simulation(TRACE, LAT, np.ones((3, 2), int))
    with pytest.raises(ValueError, match="latency"):
        Simulation(TRACE, toy_latency(2, 4000, decode=(0.0, 0.0, 0.0)), np.ones((2, 2), int))
    with pytest.raises(ValueError, match="trace.model"):
        Simulation(TRACE, toy_latency(1, 4000), np.ones((1, 2), int))
    bad = Trace.from_columns([0.0, 1.0], [5, 5], [5, 5], interaction=[0, 0], step=[1, 2])
    with pytest.raises(ValueError, match="step 0"):
        Simulation(bad, toy_latency(1), np.ones((1, 1), int), think_time=0.1)


def test_run_until_rejects_the_past_and_bad_actions():
    sim = Simulation(TRACE, LAT, np.ones((2, 2), int))
    sim.run_until(5.0)
    with pytest.raises(ValueError, match="before the current time"):
        sim.run_until(4.0)
    with pytest.raises(ValueError, match="out of range"):
        sim.add_instances(2, 0)
    with pytest.raises(ValueError, match="no instance"):
        sim.remove_instances([99])
    with pytest.raises(ValueError, match="unknown action"):
        sim.apply(["grow"])


def test_snapshot_window_and_utilisation():
    sim = Simulation(TRACE, LAT, np.ones((2, 2), int))
    snap = sim.run_until(6.0)
    home = TRACE.region_priority[:, 0]
    seen = TRACE.arrival <= 6.0
    for m in range(2):
        for j in range(2):
            for w in range(2):
                sel = seen & (TRACE.model == m) & (home == j) & (TRACE.workload == w)
                assert snap.arrivals[m, j, w].tolist() == [sel.sum(), TRACE.prompt_tokens[sel].sum(),
                                                           TRACE.output_tokens[sel].sum()]
    snap2 = sim.run_until(12.0)   # the window restarts at every chunk
    sel = (TRACE.arrival > 6.0) & (TRACE.arrival <= 12.0)
    assert snap2.arrivals[..., 0].sum() == sel.sum()
    assert ((snap.utilisation >= 0) & (snap.utilisation <= 1)).all()
    assert ((snap2.busy_fraction >= 0) & (snap2.busy_fraction <= 1 + 1e-12)).all()
    assert snap.n_held == 0 and list(snap.status) == [ACTIVE] * 4


def test_gpu_time_of_scaling_actions():
    """Instance-seconds count from the add request (spin-up included) until off (brief 01 C1, C2)."""
    sim = Simulation(TRACE, LAT, np.ones((2, 2), int))
    sim.run_until(2.0)
    new = sim.add_instances(0, 0, k=2, delay=155.0)
    snap = sim.run_until(10.0)
    assert [STATUS_NAMES[s] for s in snap.status[new]] == ["spinning", "spinning"]
    sim.remove_instances([new[0]])            # cancelled while spinning: off at once
    sim.remove_instances(sim.pick_removable(1, 1, 1))
    res = sim.run(interval=5.0)
    inst = res.instances
    assert inst["status"][new[0]] == OFF and inst["t_off"][new[0]] == 10.0
    assert inst["gpu_seconds"][new[0]] == 8.0
    assert inst["t_ready"][new[1]] == 157.0 and res.t_end >= 157.0   # the run lasts until the spin-up is done
    assert inst["status"][new[1]] == ACTIVE and inst["gpu_seconds"][new[1]] == res.t_end - 2.0
    assert (res.instance != new[1]).all()      # the trace was served before it was ready
    assert res.finished.all()
    assert res.gpu_hours(8) == pytest.approx(inst["gpu_seconds"].sum() / 3600 * 8)


def test_drain_finishes_running_requests_then_turns_off():
    trace = random_trace(8, 60, n_models=1, n_regions=1, duration=2.0, output=(100, 200))
    sim = Simulation(trace, toy_latency(1, 50_000), np.full((1, 1), 2), router=make_router("shortest_queue"))
    snap = sim.run_until(2.0)
    busy = int(np.argmax(snap.n_running))
    sim.apply([Remove(ids=(busy,))])
    assert sim.snapshot().status[busy] == DRAINING
    res = sim.run(interval=1.0)
    on_it = res.instance == busy
    assert res.instances["t_off"][busy] == res.finish[on_it].max()
    assert res.finished.all()


def test_siloed_pools_keep_workloads_apart():
    res = simulate(TRACE, LAT, np.ones((2, 2, 2), int), workload_pool=(0, 1), interval=5.0)
    pool_of_instance = res.instances["pool"][res.instance]
    assert np.array_equal(pool_of_instance, TRACE.workload.astype(int))


def test_requests_of_a_model_without_instances_are_held_until_one_is_added():
    sim = Simulation(TRACE, LAT, np.array([[1, 1], [0, 0]]))
    sim.run_until(12.0)
    held = sim.held()
    assert len(held) == (TRACE.model == 1).sum()
    sim.apply([Add(1, 1, 1, delay=3.0)])
    res = sim.run(interval=5.0)
    assert res.finished.all()
    assert (res.admit[held] >= 15.0).all() and (res.region[held] == 1).all()


def test_time_series_shape_and_busy_fraction():
    res = simulate(TRACE, LAT, np.ones((2, 2), int), resolution=0.5, interval=4.0, until=20.0)
    assert res.ts_times[0] == 0.5 and res.ts_times[-1] == 20.0 and len(res.ts_times) == 40
    for k in ("status", "n_running", "n_waiting", "kv_used", "busy_fraction"):
        assert res.ts[k].shape == (40, 4)
    assert ((res.ts["busy_fraction"] >= 0) & (res.ts["busy_fraction"] <= 1 + 1e-9)).all()
    assert (res.ts["busy_fraction"][res.ts["n_running"] > 0] > 0).all()


@njit
def _bad_router(cl, plug, r, region, t):
    return 0   # instance 0 serves model 0 only


def test_a_router_returning_a_wrong_instance_is_an_error():
    with pytest.raises(ValueError, match="instance_router returned"):
        simulate(TRACE, LAT, np.ones((2, 2), int), router=make_router(_bad_router))
    with pytest.raises(ValueError, match="unknown instance router"):
        make_router("fastest")


def test_time_series_across_instance_array_growth():
    sim = Simulation(TRACE, LAT, np.ones((2, 2), int), resolution=1.0)
    sim.run_until(3.0)
    new = sim.add_instances(1, 0, k=10, delay=1.5)
    res = sim.run(interval=3.0)
    assert sim.cl.inst.shape[0] >= 14 and res.ts["status"].shape[1] == 14
    assert (res.ts["status"][:3, new] == -1).all() and (res.ts["status"][3, new] == 0).all()
    assert (res.ts["status"][4:, new] >= 1).all()
