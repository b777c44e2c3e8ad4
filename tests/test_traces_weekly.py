"""Weekly SageServe trace: exact size, determinism, class/model/region mixes, 2024 shape targets, memory."""
import tracemalloc

import numpy as np
import pytest

from repro.traces.weekly import binned_load, calibration_rates
from repro.traces import (RATE_TARGETS_2024, SLA_MIX, WEEK_S, WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE,
                          arrival_rate, generate_weekly_trace, shape_metrics, window_share)


@pytest.fixture(scope="module")
def week():
    return generate_weekly_trace(400_000, seed=3)


def test_exact_count_valid_and_deterministic(week):
    week.validate()
    assert len(week) == 400_000
    assert 0 <= week.arrival[0] and week.arrival[-1] < WEEK_S
    again = generate_weekly_trace(400_000, seed=3)
    for name in ("arrival", "prompt_tokens", "output_tokens", "model", "sla", "region_priority"):
        assert np.array_equal(getattr(week, name), getattr(again, name)), name
    other = generate_weekly_trace(400_000, seed=4)
    assert not np.array_equal(week.arrival, other.arrival)


def test_sla_mix_model_and_region_shares(week):
    n = len(week)
    for share, workload, sla in SLA_MIX:
        got = np.mean((week.workload == workload) & (week.sla == np.float32(sla)))
        assert abs(got - share) < 0.005, (workload, sla, got)
    assert np.allclose(np.bincount(week.model) / n, [0.4, 0.2, 0.2, 0.2], atol=0.005)
    home = week.region_priority[:, 0]
    assert np.allclose(np.bincount(home) / n, [0.4, 0.3, 0.3], atol=0.005)
    # the other regions follow in random order: given home 0, orders (0,1,2) and (0,2,1) equally likely
    second = week.region_priority[home == 0, 1]
    assert abs(np.mean(second == 1) - 0.5) < 0.01


def test_binned_load_adds_up(week):
    load = binned_load(week)
    assert load["rps"].shape == (2, 42)
    assert load["rps"].sum() * 4 * 3600 == pytest.approx(len(week))
    tokens = week.prompt_tokens.sum(dtype=np.int64) + week.output_tokens.sum(dtype=np.int64)
    assert load["tps"].sum() * 4 * 3600 == pytest.approx(tokens)


def test_tokens_come_from_the_workloads_pools(week):
    iw = week.workload == WORKLOAD_INTERACTIVE
    niw = week.workload == WORKLOAD_NONINTERACTIVE
    # conv (IW): median output 129; code (NIW): median output 13
    assert abs(np.median(week.output_tokens[iw]) - 129) <= 6
    assert abs(np.median(week.output_tokens[niw]) - 13) <= 2


def test_per_minute_rates_follow_the_2024_shape():
    for kind in ("conv", "code"):
        rates = calibration_rates(kind, 2_000_000, seed=1)
        m = shape_metrics(rates["hourly"], kind)
        assert np.isclose(rates["per_minute"].sum(), rates["intensity"].sum())
        target = RATE_TARGETS_2024[kind]
        lo, hi = target["workday_peak"]
        assert lo <= m["workday_peak"] <= hi, (kind, m)
        if kind == "conv":
            lo, hi = target["night_and_weekend"]
            assert lo <= m["night_and_weekend"] <= hi, m
            assert abs(m["weekend_over_workday"] - target["weekend_over_workday"]) < 0.1, m
        else:
            assert target["trough"][0] <= m["trough"] <= target["trough"][1], m
            assert target["weekend_peak"][0] <= m["weekend_peak"] <= target["weekend_peak"][1], m
            assert 8 <= m["workday_peak_over_trough"] <= 14, m


def test_one_hour_window_and_window_share():
    share = window_share(14 * 3600, 3600)
    assert 0.005 < share < 0.02
    t = generate_weekly_trace(5000, duration=3600, start=14 * 3600, n_models=2, model_share=(0.5, 0.5),
                              n_regions=2, region_share=(0.5, 0.5), seed=0)
    t.validate()
    assert len(t) == 5000 and t.arrival[-1] < 3600 and t.n_regions == 2 and t.model.max() == 1
    assert window_share(0, WEEK_S) == pytest.approx(1.0)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="model_share"):
        generate_weekly_trace(10, duration=60, model_share=(0.5, 0.6, 0.0, 0.0))
    with pytest.raises(ValueError, match="region_share"):
        generate_weekly_trace(10, duration=60, n_regions=2)
    with pytest.raises(ValueError, match="duration"):
        generate_weekly_trace(10, duration=0.5)
    with pytest.raises(ValueError, match="kind"):
        arrival_rate([0.0], "chat")


def test_memory_at_one_million_extrapolates_below_2_gb():
    tracemalloc.start()
    try:
        t = generate_weekly_trace(1_000_000, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = t.nbytes
    at_10m = 10 * peak   # upper bound: output, hourly chunks and per-second arrays all scale at most linearly
    print(f"peak traced {peak / 1e6:.1f} MB at 1M requests (output {output / 1e6:.1f} MB); "
          f"extrapolated 10M: <= {at_10m / 1e9:.2f} GB")
    assert at_10m < 2e9
    assert peak < output + 200e6
