"""SageServe controllers on the replay engine: spot pool, executor, NIW feeding, planner and a tiny replay of
every strategy (brief 01 §2-§3)."""
import numpy as np
import pytest

from repro.autoscale import (CapacityConfig, EndpointView, HourlyPlanner, ScalingExecutor, ServeConfig, SpotPool,
                             hourly_forecasts, hourly_in_sample_forecasts, hourly_niw_max_prompt, instance_capacity,
                             make_strategies, minute_series, run_strategy, run_summary, steady_trace)
from repro.autoscale.feeding import niw_feeding
from repro.autoscale.metrics import binned_p95, gpu_hours, instance_seconds
from repro.latency import load_latency_model
from repro.plan import SeasonalNaive, TPS_BY_MODEL
from repro.replay import Simulation, make_router, workload_priority
from repro.traces import generate_weekly_trace


def test_spot_pool_reclaims_same_model_then_kills_others():
    s = SpotPool(2, 3)
    assert s.take(0, 1) is None and s.n_failed == 1
    s.give(0, 1)
    s.give(0, 2, 2)
    assert s.take(0, 1) == 65.0                  # same model: reclaim
    assert s.take(0, 0) == 155.0                 # other model's spot killed, spin up
    np.testing.assert_array_equal(s.count[0], [0, 0, 1])
    assert s.take(1, 0) is None
    assert (s.n_reclaims, s.n_spin_ups, s.total) == (1, 1, 1)


class FakeSim:
    """Records the executor's calls."""

    def __init__(self):
        self.added, self.removed, self.n_instances = [], [], 0

    def add_instances(self, m, j, k, delay, pool):
        self.added.append((m, j, pool, delay))
        self.n_instances += k

    def pick_removable(self, m, j, k, p):
        return list(range(k))

    def remove_instances(self, ids):
        self.removed.append(list(ids))


def simple_view(n_accepting, t=0.0):
    a = np.asarray(n_accepting, np.int64)
    z = np.zeros(a.shape)
    return EndpointView(t, a, np.zeros_like(a), z, z + 1, np.zeros_like(a), np.zeros_like(a), np.zeros_like(a),
                        np.ones(a.shape, bool), np.zeros(a.shape[:2]))


def test_executor_spot_delays_cooldown_and_minimum():
    sim, spot = FakeSim(), SpotPool(1, 2, initial=[[1, 1]])
    ex = ScalingExecutor(sim, spot, (2, 1, 1), min_instances=2)
    done = ex.apply(np.array([[[2]], [[-5]]]), simple_view([[[3]], [[4]]]))
    np.testing.assert_array_equal(done[:, 0, 0], [2, -2])     # 2 up (reclaim, then kill B's spot), 4 -> min 2
    assert [a[3] for a in sim.added] == [65.0, 155.0]
    assert ex.ready_at[0, 0, 0] == 155.0 and ex.ready_at[1, 0, 0] == 0.0
    assert spot.count.tolist() == [[0, 2]]
    # model 0 is cooling down until 155 s: nothing happens before
    assert not ex.apply(np.array([[[1]], [[0]]]), simple_view([[[5]], [[2]]], t=100.0)).any()
    done = ex.apply(np.array([[[1]], [[-1]]]), simple_view([[[5]], [[2]]], t=155.0))
    np.testing.assert_array_equal(done[:, 0, 0], [1, 0])      # reclaim-from-other; model 1 already at minimum
    limited = ScalingExecutor(FakeSim(), SpotPool(1, 1, initial=[[5]]), (1, 1, 1), max_instances_created=0)
    with pytest.raises(ValueError, match="max_instances_created"):
        limited.apply(np.ones((1, 1, 1), np.int64), simple_view([[[2]]]))


@pytest.fixture(scope="module")
def tiny():
    kw = dict(n_models=2, model_share=(0.6, 0.4), n_regions=2, region_share=(0.5, 0.5))
    trace = generate_weekly_trace(30000, 4 * 3600, start=11 * 3600, seed=5, **kw)
    history = generate_weekly_trace(150000, 86400, start=6 * 86400, seed=6, **kw)
    latency = load_latency_model(("A", "B"))
    return trace, history, latency


def test_niw_feeding_equals_the_reference_policy(tiny):
    """The O(1) NIW-feeding policy makes exactly the choices of the engine's workload_priority, under scaling."""
    trace, _, latency = tiny
    results = []
    for policy in (workload_priority(0.5), niw_feeding(len(trace), 0.5, 64)):
        sim = Simulation(trace, latency, np.ones((2, 2), np.int64), max_batch=32, queue_policy=policy,
                         router=make_router("least_tokens", region="sageserve"))
        for k in range(1, 4 * 60 + 1):
            sim.run_until(60.0 * k)
            if k % 40 == 0:
                sim.add_instances(k % 2, (k // 40) % 2, 1, delay=65.0)
            if k % 70 == 0:
                sim.remove_instances(sim.pick_removable(0, 0, 1))
        sim.run_until(6 * 3600.0)
        results.append(sim.result())
    a, b = results
    for field in ("admit", "first_token", "finish", "instance", "region"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.all(np.isnan(a.finish))
    with pytest.raises(ValueError, match="niw_gate"):
        niw_feeding(10, 0.0)


def test_planner_inputs_use_only_the_past(tiny):
    trace, history, _ = tiny
    series = minute_series(trace, 240, 2)
    assert series.shape == (2, 2, 240)
    iw = trace.workload == 0
    assert series.sum() == trace.prompt_tokens[iw].sum()
    niw = hourly_niw_max_prompt(trace, 4, 2)
    assert not niw[0].any()                                   # nothing before hour 0
    sel = (trace.workload == 1) & (trace.arrival < 3600) & (trace.model == 1) & (trace.region_priority[:, 0] == 0)
    assert niw[1, 1, 0] == trace.prompt_tokens[sel].max()
    fc = hourly_forecasts(SeasonalNaive(4), minute_series(history, 1440, 2), series, 4)
    hist = minute_series(history, 1440, 2)
    full = np.concatenate([hist, series], axis=2)
    np.testing.assert_array_equal(fc[2], full[:, :, 1440 + 120 - 1440:1440 + 180 - 1440])


@pytest.fixture(scope="module")
def runs(tiny):
    trace, history, latency = tiny
    fc = hourly_forecasts(SeasonalNaive(4), minute_series(history, 1440, 2), minute_series(trace, 240, 2), 4)
    niw = hourly_niw_max_prompt(trace, 4, 2)
    config = ServeConfig(initial_instances=5, siloed_split=(4, 1), min_instances=1, tail_s=1800.0)
    out = {}
    for name, strategy in make_strategies().items():
        planner = HourlyPlanner(fc, niw, tps=[TPS_BY_MODEL[n] for n in latency.names], fleet=np.full(2, 10))
        out[name] = run_strategy(trace, latency, strategy, 4 * 3600.0, config=config, planner=planner)
    return out, config


def test_every_strategy_replays_within_the_fleet(runs, tiny):
    trace, _, _ = tiny
    out, config = runs
    for name, run in out.items():
        assert run.times.size == 4 * 60
        fleet_used = run.n_accepting.sum(axis=(1, 3)) + run.spot.sum(axis=2)     # (steps, regions)
        assert np.all(fleet_used <= 2 * config.initial_instances), name
        assert np.all(run.n_accepting[1:] >= config.min_instances), name
        assert set(np.unique(run.up_events[:, 4])) <= {65.0, 155.0}, name
        assert gpu_hours(run) == pytest.approx(instance_seconds(run).sum() / 3600 * 8)
        assert run.requests["n_requests"] == len(trace)
        s = run_summary(run, 2, 2)
        assert s["overhead_gpu_hours"] == pytest.approx(s["overhead_delay_gpu_hours"] + s["overhead_idle_gpu_hours"])
        assert 0 <= s["sla_ttft_iw10"] <= 1
        if name in ("LT-I", "LT-U", "LT-UA"):
            assert [h for h, *_ in run.plan_log] == [0, 1, 2, 3]
            assert all(st == "optimal" for _, st, _, _ in run.plan_log)
        else:
            assert run.plan_log == []


def test_scale_down_events_add_up_to_the_instances_removed(runs):
    out, config = runs
    for name, run in out.items():
        assert run.down_events.shape[1] == 5 and run.down_events[:, 4].sum() == run.n_down, name
        assert np.all(run.down_events[:, 4] >= 1) and np.all(np.diff(run.down_events[:, 0]) >= 0), name
        assert np.all((run.down_events[:, 0] >= 0) & (run.down_events[:, 0] < run.duration)), name
    assert out["LT-I"].n_down > 0                 # the first plan scales the 5 start instances down


def test_lt_i_moves_to_the_ilp_target_at_once(runs):
    out, _ = runs
    lt_i = out["LT-I"]
    # the first plan (hour 0) scales the 5 start instances down to the ILP's target (min 1) before minute 1
    assert lt_i.n_accepting[1].sum() < lt_i.n_accepting[0].sum()
    assert lt_i.n_accepting[1].sum() <= out["Reactive"].n_accepting[1].sum()


def test_replay_is_deterministic(tiny, runs):
    trace, history, latency = tiny
    out, config = runs
    fc = hourly_forecasts(SeasonalNaive(4), minute_series(history, 1440, 2), minute_series(trace, 240, 2), 4)
    planner = HourlyPlanner(fc, hourly_niw_max_prompt(trace, 4, 2), tps=[TPS_BY_MODEL[n] for n in latency.names],
                            fleet=np.full(2, 10))
    again = run_strategy(trace, latency, make_strategies()["LT-UA"], 4 * 3600.0, config=config, planner=planner)
    first = out["LT-UA"]
    np.testing.assert_array_equal(again.n_accepting, first.n_accepting)
    np.testing.assert_array_equal(again.up_events, first.up_events)
    assert gpu_hours(again) == gpu_hours(first)


def test_run_strategy_needs_a_planner_for_lt(tiny):
    trace, _, latency = tiny
    with pytest.raises(ValueError, match="planner"):
        run_strategy(trace, latency, make_strategies()["LT-U"], 3600.0)
    with pytest.raises(ValueError, match="control_interval"):
        run_strategy(trace, latency, make_strategies()["Reactive"], 3600.0, config=ServeConfig(control_interval=7))


def test_binned_p95_matches_numpy():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 100, 500)
    x = rng.exponential(1, 500)
    x[::17] = np.nan
    got = binned_p95(t, x, 25.0, 4)
    for k in range(4):
        sel = (t // 25 == k) & np.isfinite(x)
        assert got[k] == pytest.approx(np.percentile(x[sel], 95))


# ------------------------------------------------------------------------------------------------ capacity (TPS)
class _Fixed:
    """Token sampler with one (prompt, output) pair."""

    def __init__(self, prompt, output):
        self.prompt, self.output = prompt, output

    def sample(self, rng, n):
        return np.full(n, self.prompt, np.int32), np.full(n, self.output, np.int32)


def test_steady_trace_is_poisson_at_the_rate():
    trace = steady_trace(2.0, 3600.0, _Fixed(100, 10), seed=3)
    assert abs(len(trace) - 7200) < 4 * np.sqrt(7200)
    assert np.all(np.diff(trace.arrival) >= 0) and trace.arrival.max() < 3600.0
    assert set(trace.prompt_tokens) == {100} and (trace.workload == 0).all() and (trace.sla == 10.0).all()


FAST = CapacityConfig(instances=2, duration_s=1800.0, warmup_s=600.0, settle_s=300.0, bisections=4)


@pytest.fixture(scope="module")
def capacity_a():
    return load_latency_model(("A",)), {t: instance_capacity(load_latency_model(("A",)), _Fixed(4000, 200),
                                                             CapacityConfig(**{**FAST.__dict__, "target_util": t}))
                                        for t in (0.3, 0.5)}


def test_instance_capacity_stays_below_the_target_and_grows_with_it(capacity_a):
    latency, caps = capacity_a
    for target, cap in caps.items():
        assert cap.util < target and cap.bound in ("memory", "throughput")
        assert cap.prompt_tokens_per_s == pytest.approx(cap.requests_per_s * 4000)
        assert cap.tokens_per_minute == pytest.approx(60 * cap.prompt_tokens_per_s)
        # the next probed rate above the answer failed (u >= target or a growing queue)
        above = [p for p in cap.probes if p[0] > cap.requests_per_s]
        assert above and all(u >= target or served < FAST.min_served for _, u, served in above)
    assert caps[0.3].requests_per_s <= caps[0.5].requests_per_s


def test_instance_capacity_agrees_with_littles_law_on_a_light_load(capacity_a):
    """At the found rate, mean KV in use ≈ arrival rate x the KV-seconds one request holds (Little's law), i.e. a
    sanity check of the memory bound: u stays within a factor of the analytic prefill + decode residence."""
    latency, caps = capacity_a
    cap = caps[0.3]
    steps = 199                                   # o - 1 decode steps or o: the bound below covers both
    t_decode = latency.decode_time(0, 1, 4000)    # lightest step: a lower bound on the residence
    kv_seconds_low = 4000 * (latency.prefill_time(0, 4000) + steps * t_decode)
    util_low = cap.requests_per_s * kv_seconds_low / latency.kv_capacity_tokens[0]
    assert util_low <= cap.util + 0.05


def test_instance_capacity_rejects_several_models():
    with pytest.raises(ValueError, match="one-model"):
        instance_capacity(load_latency_model(("A", "B")), _Fixed(100, 10), FAST)
    with pytest.raises(ValueError, match="CapacityConfig"):
        CapacityConfig(target_util=1.5)


def test_in_sample_forecasts_read_one_step_predictions(tiny):
    trace, history, _ = tiny
    hist, series = minute_series(history, 1440, 2), minute_series(trace, 240, 2)
    fc = hourly_in_sample_forecasts(hist, series, 4)
    assert fc.shape == (4, 2, 2, 60) and np.all(np.isfinite(fc))
    # hour h's forecast for minute k is the one-step prediction of minute 1440 + 60 h + k of history + window
    from repro.plan import one_step_in_sample
    full = np.concatenate([hist, series], axis=2)
    pred = one_step_in_sample(full[1, 0])
    np.testing.assert_allclose(fc[2, 1, 0], pred[1440 + 120:1440 + 180])
