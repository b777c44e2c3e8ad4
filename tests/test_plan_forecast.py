"""Forecasters of brief 01 §2 "Forecast": seasonal naive, SARIMAX + daily Fourier with daily refits, no look-ahead."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.plan import (SarimaxFourier, SeasonalNaive, fourier_terms, in_sample_forecasts, make_forecaster, mape,
                        one_step_in_sample, rolling_forecasts, with_forecast_noise)

PERIOD = 60   # a toy "day" of 60 minutes keeps the SARIMAX fits fast


def daily_series(n_series, n, period=PERIOD, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    base = 1000.0 * (1 + np.arange(n_series))[:, None]
    return base * (1 + 0.5 * np.sin(2 * np.pi * t / period))[None, :] + rng.normal(0, 20, (n_series, n))


def test_seasonal_naive_is_the_value_one_period_earlier():
    y = np.arange(30.0).reshape(2, 15)
    f = SeasonalNaive(2, period=5)
    f.observe(y[:, :7])
    np.testing.assert_array_equal(f.forecast(3), y[:, 2:5])
    f.observe(y[:, 7])
    np.testing.assert_array_equal(f.forecast(5), y[:, 3:8])
    with pytest.raises(ValueError, match="horizon"):
        f.forecast(6)
    with pytest.raises(ValueError, match="needs 5"):
        SeasonalNaive(1, period=5).forecast(1)
    with pytest.raises(ValueError, match="observe"):
        f.observe(np.zeros(3))


@settings(max_examples=15, deadline=None)
@given(t=st.integers(PERIOD, 3 * PERIOD), shift=st.floats(-500, 500).filter(lambda v: abs(v) > 1),
       kind=st.sampled_from(["seasonal_naive", "sarimax"]))
def test_no_look_ahead(t, shift, kind):
    """Perturbing the data at and after the decision time t leaves the forecast made at t unchanged."""
    y = daily_series(2, 4 * PERIOD)
    z = y.copy()
    z[:, t:] += shift
    opts = dict(period=PERIOD) if kind == "seasonal_naive" else dict(
        period=PERIOD, fit_window=3 * PERIOD, refit_every=PERIOD, min_history=PERIOD, maxiter=20)
    decisions = [PERIOD, t] if t > PERIOD else [t]
    a = rolling_forecasts(make_forecaster(kind, 2, **opts), y, decisions, 30)
    b = rolling_forecasts(make_forecaster(kind, 2, **opts), z, decisions, 30)
    np.testing.assert_array_equal(a, b)


def test_sarimax_refits_daily_and_extends_hourly():
    y = daily_series(2, 6 * PERIOD)
    f = SarimaxFourier(2, period=PERIOD, fit_window=3 * PERIOD, refit_every=2 * PERIOD, min_history=PERIOD,
                       maxiter=30)
    decisions = np.arange(3 * PERIOD, 6 * PERIOD - 15 + 1, 15)
    fc = rolling_forecasts(f, y, decisions, 15)
    # fits at 3P and 5P only (every 2P); the hours between extend the state
    assert f.n_fits == 2 * 2 and f.fallbacks == 0
    actual = np.stack([y[:, t:t + 15] for t in decisions])
    assert mape(actual, fc) < 5.0
    # better than a flat forecast at the last value
    flat = np.stack([np.repeat(y[:, t - 1:t], 15, axis=1) for t in decisions])
    assert mape(actual, fc) < mape(actual, flat)


def test_extend_equals_filtering_with_fixed_parameters():
    """The extended state gives the same forecast as re-filtering all data with the fitted parameters."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = daily_series(1, 5 * PERIOD)
    f = SarimaxFourier(1, period=PERIOD, fit_window=3 * PERIOD, refit_every=10 * PERIOD, min_history=PERIOD,
                       maxiter=30)
    f.observe(y[:, :3 * PERIOD])
    f.forecast(10)
    f.observe(y[:, 3 * PERIOD:4 * PERIOD])
    got = f.forecast(10)[0]
    params = f._res[0].params
    ex = fourier_terms(np.arange(5 * PERIOD), PERIOD, 3)
    full = SARIMAX(y[0, :4 * PERIOD], exog=ex[:4 * PERIOD], order=(2, 0, 1), trend="c").filter(params)
    want = full.forecast(10, exog=ex[4 * PERIOD:4 * PERIOD + 10])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_forecast_noise_is_seeded_mean_one_and_zero_noise_is_identity():
    f = np.full((3, 4, 5), 100.0)
    np.testing.assert_array_equal(with_forecast_noise(f, 0.0), f)
    a = with_forecast_noise(f, 0.3, seed=1)
    np.testing.assert_array_equal(a, with_forecast_noise(f, 0.3, seed=1))
    assert not np.array_equal(a, with_forecast_noise(f, 0.3, seed=2))
    assert np.all(a[..., :1] == a)           # one factor per forecast, shared by its horizon
    big = with_forecast_noise(np.ones((20000, 1)), 0.5, seed=2)
    assert big.mean() == pytest.approx(1.0, abs=0.02)
    assert np.log(big).std() == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="sigma"):
        with_forecast_noise(f, -0.1)


def test_make_forecaster_rejects_unknown_kind():
    with pytest.raises(ValueError, match="forecast kind"):
        make_forecaster("prophet", 1)


def test_in_sample_arima_on_a_random_walk_predicts_the_last_value():
    """Known answer: the best one-step predictor of a random walk is the previous value; ARIMA(3,1,2) fitted on it
    must come close (step noise sd 1)."""
    y = 1000.0 + np.cumsum(np.random.default_rng(4).normal(0, 1, 3000))
    pred = one_step_in_sample(y)
    assert pred.shape == y.shape and np.all(np.isfinite(pred))
    assert np.mean(np.abs(pred[10:] - y[9:-1])) < 0.3
    assert np.mean(np.abs(pred[10:] - y[10:])) == pytest.approx(np.sqrt(2 / np.pi), rel=0.15)   # E|N(0,1)|


def test_in_sample_forecasts_layout_and_oracle_advantage():
    y = daily_series(2, 6 * PERIOD, seed=5)
    decisions = np.array([3 * PERIOD, 4 * PERIOD, 6 * PERIOD - 10])
    fc = in_sample_forecasts(y, decisions, 20)
    assert fc.shape == (3, 2, 20)
    pred = one_step_in_sample(y[1])
    np.testing.assert_allclose(fc[0, 1], pred[3 * PERIOD:3 * PERIOD + 20])
    np.testing.assert_allclose(fc[2, 1, 10:], pred[-1])                 # past the series: its last prediction
    genuine = rolling_forecasts(SeasonalNaive(2, period=PERIOD), y, decisions[:2], 20)
    actual = np.stack([y[:, t:t + 20] for t in decisions[:2]])
    assert mape(actual, fc[:2]) < mape(actual, genuine)                  # it sees the minute before: oracle-like
    with pytest.raises(ValueError, match="decision_minutes"):
        in_sample_forecasts(y, [7 * PERIOD], 5)


def test_in_sample_falls_back_to_the_previous_value_on_a_failed_fit():
    y = np.full(50, 7.0)
    pred = one_step_in_sample(y)
    assert np.all(np.isfinite(pred)) and pred.shape == (50,)
