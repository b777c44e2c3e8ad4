"""The SageServe experiment helpers: synthetic week with history, forecast inputs, the labelled real hour."""
import numpy as np
import pytest

from repro.autoscale import minute_series
from repro.autoscale.experiment import (forecast_inputs, labelled_real_trace, oracle_level_forecasts,
                                        synthetic_workload)
from repro.traces import Trace, window_share


@pytest.fixture(scope="module")
def work():
    return synthetic_workload(400_000, 1, 1.0, n_models=2, n_regions=2, model_share=(0.5, 0.5),
                              region_share=(0.5, 0.5), history_days=1, seed=2)


def test_synthetic_workload_sizes_and_history(work):
    assert len(work.trace) == round(400_000 * window_share(0, 86400))
    assert len(work.history) == round(400_000 * window_share(6 * 86400, 86400))   # Sunday before the Monday
    assert work.duration == 86400 and work.history_minutes == 1440 and work.n_hours == 24
    assert work.trace.arrival.max() < 86400 and work.history.arrival.max() < 86400
    with pytest.raises(ValueError, match="days"):
        synthetic_workload(1000, 8)
    with pytest.raises(ValueError, match="rate_multiplier"):
        synthetic_workload(1000, 1, 0.0)


def test_seasonal_naive_forecast_inputs_are_yesterday(work):
    fc, niw = forecast_inputs(work, "seasonal_naive")
    assert fc.shape == (24, 2, 2, 60) and niw.shape == (24, 2, 2)
    hist = minute_series(work.history, 1440, 2)
    series = minute_series(work.trace, 1440, 2)
    np.testing.assert_array_equal(fc[0], hist[:, :, :60])            # hour 0 = Sunday 00:00-01:00
    np.testing.assert_array_equal(fc[5], hist[:, :, 300:360])
    assert not np.array_equal(fc[5], series[:, :, 300:360])


def test_labelled_real_trace_keeps_times_and_tokens_and_draws_labels():
    rng = np.random.default_rng(0)
    n1, n2 = 4000, 2000
    conv = Trace.from_columns(np.sort(rng.uniform(0, 3600, n1)), rng.integers(1, 3000, n1), rng.integers(1, 500, n1))
    code = Trace.from_columns(np.sort(rng.uniform(0, 3600, n2)), rng.integers(1, 3000, n2), rng.integers(1, 50, n2))
    t = labelled_real_trace(conv, code, seed=1)
    t.validate()
    assert len(t) == n1 + n2 and t.n_regions == 3
    assert np.all(np.diff(t.arrival) >= 0)
    assert (t.workload == 0).sum() == n1
    assert sorted(t.prompt_tokens[t.workload == 1].tolist()) == sorted(code.prompt_tokens.tolist())
    assert set(np.unique(t.sla[t.workload == 0])) == {10.0, 3600.0}
    assert np.isinf(t.sla[t.workload == 1]).mean() == pytest.approx(0.5, abs=0.05)
    assert (t.model == 0).mean() == pytest.approx(0.4, abs=0.03)
    assert (t.region_priority[:, 0] == 0).mean() == pytest.approx(0.4, abs=0.03)
    assert np.all(np.sort(t.region_priority, axis=1) == np.arange(3))      # each row a permutation
    again = labelled_real_trace(conv, code, seed=1)
    np.testing.assert_array_equal(again.region_priority, t.region_priority)


def test_oracle_level_forecast_is_the_hour_mean(work):
    fc = oracle_level_forecasts(work.trace, 2, 7200.0)
    series = minute_series(work.trace, 120, 2)
    assert fc.shape == (2, 2, 2, 60)
    np.testing.assert_allclose(fc[1, :, :, 7], series[:, :, 60:].mean(axis=2))
