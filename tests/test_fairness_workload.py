"""repro.fairness.workload: server, capacity calibration, daily load shape, app weights and OIT limits (brief 02 §2, §5)."""
import numpy as np
import pytest

from repro import fairness

LAT = fairness.server(30_000)


@pytest.fixture(scope="module")
def workload():
    return fairness.make_workload(60, 8, 3600.0, load_peak=1.2, trough_ratio=0.5, period_s=3600.0,
                                  abusive_share=0.05, latency=LAT, max_batch=16, calibration_requests=2000, seed=11)


def test_server_is_llama_8b_tp2_with_the_given_kv():
    lat = fairness.server(100_000)
    assert lat.names == ("Llama-3.1-8B",) and lat.kv_capacity_tokens.tolist() == [100_000]
    with pytest.raises(ValueError, match="kv_tokens"):
        fairness.server(0)


def test_load_shape_peaks_at_zero_and_bottoms_at_half_period():
    assert fairness.load_shape(0.0, 0.5, 100.0) == pytest.approx(1.0)
    assert fairness.load_shape(50.0, 0.5, 100.0) == pytest.approx(0.5)
    assert np.all(fairness.load_shape(np.linspace(0, 300, 101), 1.0, 100.0) == 1.0)


def test_app_weights_are_normalised_by_the_median_and_clipped(workload):
    w = fairness.app_weights(workload.apps)
    e = workload.apps.mean_tokens_per_interaction
    assert np.allclose(w, np.clip(e / np.median(e), 0.25, 4.0))
    assert w.min() >= 0.25 and w.max() <= 4.0


def test_peak_load_is_the_requested_multiple_of_capacity(workload):
    tr = workload.trace
    # expected calls = capacity x load_peak x integral of the shape over the window (one full period: mean 0.75)
    expected = workload.capacity_calls_per_s * 1.2 * 0.75 * 3600.0
    assert len(tr) == pytest.approx(expected, rel=0.12)
    # the first tenth of the period (near the peak) carries more calls than the middle tenth (near the trough)
    assert np.sum(tr.arrival < 360) > 1.3 * np.sum((tr.arrival >= 1620) & (tr.arrival < 1980))


def test_thinning_keeps_whole_interactions(workload):
    tr = workload.trace
    first = tr.step == 0
    rows = np.bincount(tr.interaction, minlength=int(tr.interaction.max()) + 1)
    kept = tr.interaction[first]
    assert np.unique(kept).size == kept.size                                    # one first call each
    assert np.array_equal(rows[kept], workload.apps.calls_per_interaction[tr.app[first]])   # and all its calls
    assert rows.sum() == len(tr)


def test_same_seed_same_workload():
    a = fairness.make_workload(20, 4, 600.0, latency=LAT, calibration_requests=500, seed=3)
    b = fairness.make_workload(20, 4, 600.0, latency=LAT, calibration_requests=500, seed=3)
    assert a.capacity_calls_per_s == b.capacity_calls_per_s
    assert np.array_equal(a.trace.arrival, b.trace.arrival) and np.array_equal(a.trace.tenant, b.trace.tenant)


def test_capacity_is_calls_over_makespan():
    p = np.full(50, 1000)
    o = np.full(50, 100)
    cap = fairness.measure_capacity(p, o, LAT, 8)
    assert 0 < cap < 50
    assert fairness.measure_capacity(p, o, LAT, 16) > cap      # a larger batch serves faster


def test_workload_params_follow_the_limit_formulas(workload):
    prm = fairness.workload_params(workload, k=3.0, window=60.0)
    e = workload.apps.mean_tokens_per_interaction
    home = workload.users.home_app
    assert prm["n_tenants"] == home.size and prm["n_requests"] == len(workload.trace)
    assert np.allclose(prm["user_limit"], 3.0 * e[home] * 60.0 * workload.normal_rate_per_s.mean())
    app_rate = np.bincount(home, weights=workload.normal_rate_per_s, minlength=e.size)
    assert np.allclose(prm["app_limit"], 3.0 * e * 60.0 * app_rate)
    ab = workload.users.abusive
    assert np.allclose(workload.normal_rate_per_s[ab] * 20.0, workload.users.rate_per_s[ab])


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="trough_ratio"):
        fairness.make_workload(10, 2, 60.0, trough_ratio=0.0, latency=LAT)
    with pytest.raises(ValueError, match="calibration_requests"):
        fairness.make_workload(10, 2, 60.0, calibration_requests=5, latency=LAT)
    with pytest.raises(ValueError, match="k"):
        fairness.workload_params(fairness.make_workload(10, 2, 60.0, latency=LAT, calibration_requests=200), k=0)


def test_capacity_at_a_latency_target_meets_it_and_grows_with_it():
    from repro.core import seeds
    from repro.fairness.workload import capacity_at_latency_target, queueing_delay_quantile

    rng = np.random.default_rng(0)
    p, o = rng.integers(200, 3000, 600), rng.integers(10, 300, 600)
    caps = [capacity_at_latency_target(p, o, LAT, 16, target_s=t, seed=1) for t in (0.5, 5.0, 50.0)]
    assert 0 < caps[0] <= caps[1] <= caps[2] < fairness.measure_capacity(p, o, LAT, 16)
    unit = np.cumsum(seeds.rng(1, "capacity arrivals").exponential(1.0, p.size))
    assert queueing_delay_quantile(p, o, unit, caps[1], LAT, 16, 0.95) <= 5.0
    with pytest.raises(ValueError, match="target_s"):
        capacity_at_latency_target(p, o, LAT, 16, target_s=0.0)
