"""Forecasts of the per-minute interactive prompt-token load of each (model, region) for the hourly ILP
(brief 01 §2 "Forecast").

- :class:`SeasonalNaive` (smoke scale): the value one period (24 h) earlier.
- :class:`SarimaxFourier` (full scale, our choice): ``statsmodels`` SARIMAX(2,0,1) with a constant and a daily
  Fourier term (K = 3 sine/cosine pairs as regressors) on the 1-minute series, fitted on the last 3 days.
  Refitting every series every hour does not fit the time budget, so the parameters are re-estimated once a day
  (``refit_every`` minutes) and in between the fitted model's state is moved forward over the newly observed
  minutes without refitting (``results.extend``: the Kalman filter runs over the new data only, with the
  parameters held fixed).
- :func:`in_sample_forecasts` (ablation, [code] reading, brief 01 §7): ARIMA(3,1,2) fitted once on the whole
  series and read in-sample, each minute predicted one step ahead from the minutes before it with parameters that
  saw the whole week: near-oracle, unlike the genuine 20-60-min-ahead forecasts above.
- :func:`with_forecast_noise`: forecasts times multiplicative lognormal noise (sensitivity study).

No look-ahead by construction (all but :func:`in_sample_forecasts`): a forecaster only knows the minutes handed
to :meth:`observe` (the controller passes the arrivals the replay has already produced), and :meth:`forecast`
predicts the minutes that follow them. All forecasters keep ``n_series`` independent series side by side (one per (model, region)).
"""
from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

DAY_MIN = 1440


def _one_blas_thread():
    """Run the (small) state-space algebra on one BLAS thread: threads only add contention on a shared machine
    (threadpoolctl comes with scikit-learn; without it this is a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


class _History:
    """Observed minutes of n_series series, stored in a growing float64 (n_series, capacity) buffer."""

    def __init__(self, n_series: int):
        if n_series < 1:
            raise ValueError(f"n_series: expected >= 1, got {n_series}")
        self.n_series = int(n_series)
        self._buf = np.zeros((self.n_series, 4096))
        self.n = 0

    def observe(self, y) -> None:
        """Append new minutes: y of shape (n_series,) (one minute) or (n_series, k)."""
        y = np.asarray(y, np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != self.n_series:
            raise ValueError(f"observe: expected shape ({self.n_series},) or ({self.n_series}, k), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("observe: values must be finite")
        k = y.shape[1]
        if self.n + k > self._buf.shape[1]:
            grown = np.zeros((self.n_series, max(2 * self._buf.shape[1], self.n + k)))
            grown[:, :self.n] = self._buf[:, :self.n]
            self._buf = grown
        self._buf[:, self.n:self.n + k] = y
        self.n += k

    @property
    def history(self) -> np.ndarray:
        """(n_series, n) every minute observed so far (a view; do not modify)."""
        return self._buf[:, :self.n]


class SeasonalNaive(_History):
    """ŷ[n + h] = y[n + h − period] (the same minute one period earlier), h = 0 .. horizon−1.

    Needs at least ``period`` observed minutes and horizon <= period."""

    def __init__(self, n_series: int, period: int = DAY_MIN):
        super().__init__(n_series)
        if period < 1:
            raise ValueError(f"period: expected >= 1 minute, got {period}")
        self.period = int(period)

    def forecast(self, horizon: int) -> np.ndarray:
        """(n_series, horizon) forecast of the minutes following the observed ones."""
        if not 1 <= horizon <= self.period:
            raise ValueError(f"horizon: expected 1..{self.period} minutes, got {horizon}")
        if self.n < self.period:
            raise ValueError(f"SeasonalNaive: needs {self.period} observed minutes, has {self.n}")
        start = self.n - self.period
        return self.history[:, start:start + horizon].copy()


def fourier_terms(minutes, period: int = DAY_MIN, k: int = 3) -> np.ndarray:
    """(len(minutes), 2k) regressors sin(2π q m / period), cos(2π q m / period) for q = 1..k."""
    m = np.asarray(minutes, np.float64)
    cols = []
    for q in range(1, k + 1):
        ang = 2.0 * math.pi * q * m / period
        cols += [np.sin(ang), np.cos(ang)]
    return np.column_stack(cols) if cols else np.zeros((m.size, 0))


class SarimaxFourier(_History):
    """SARIMAX(order) with a constant and a K-term daily Fourier regressor, one model per series.

    start_minute: minute of the day (UTC) of the first observed minute (aligns the Fourier terms).
    fit_window: minutes of history used for each fit (3 days). refit_every: minutes between parameter fits
    (1 day); in between, the state is extended over new minutes with the parameters fixed.
    min_history: minutes needed before the first fit. maxiter: optimiser iterations per fit.
    A fit that raises falls back to :class:`SeasonalNaive` for that series until the next fit (counted in
    ``fallbacks``).
    """

    def __init__(self, n_series: int, order=(2, 0, 1), period: int = DAY_MIN, fourier_k: int = 3,
                 fit_window: int = 3 * DAY_MIN, refit_every: int = DAY_MIN, min_history: int = DAY_MIN,
                 start_minute: int = 0, maxiter: int = 50):
        super().__init__(n_series)
        if refit_every < 1 or fit_window < 1 or min_history < 1:
            raise ValueError("fit_window, refit_every and min_history must be >= 1 minute")
        self.order = tuple(order)
        self.period = int(period)
        self.fourier_k = int(fourier_k)
        self.fit_window = int(fit_window)
        self.refit_every = int(refit_every)
        self.min_history = int(min_history)
        self.start_minute = int(start_minute)
        self.maxiter = int(maxiter)
        self._res = [None] * self.n_series     # current results object per series
        self._upto = [0] * self.n_series       # minutes the results object has filtered
        self._fit_at = -1                      # n at the last fit (all series are fitted together)
        self.n_fits = 0
        self.fallbacks = 0

    def _exog(self, a: int, b: int) -> np.ndarray:
        return fourier_terms(np.arange(a, b) + self.start_minute, self.period, self.fourier_k)

    def _fit(self, s: int):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        a = max(0, self.n - self.fit_window)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = SARIMAX(self.history[s, a:self.n], exog=self._exog(a, self.n), order=self.order, trend="c")
                res = model.fit(disp=False, maxiter=self.maxiter)
            except (ValueError, np.linalg.LinAlgError):
                return None
        return res if np.all(np.isfinite(res.params)) else None

    def forecast(self, horizon: int) -> np.ndarray:
        """(n_series, horizon) forecast of the minutes following the observed ones."""
        if horizon < 1:
            raise ValueError(f"horizon: expected >= 1 minute, got {horizon}")
        if self.n < self.min_history:
            raise ValueError(f"SarimaxFourier: needs {self.min_history} observed minutes, has {self.n}")
        with _one_blas_thread():
            return self._forecast(horizon)

    def _forecast(self, horizon: int) -> np.ndarray:
        refit = self._fit_at < 0 or self.n - self._fit_at >= self.refit_every
        out = np.empty((self.n_series, horizon))
        for s in range(self.n_series):
            if refit:
                self._res[s] = self._fit(s)
                self._upto[s] = self.n
                self.n_fits += 1
            elif self._res[s] is not None and self._upto[s] < self.n:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._res[s] = self._res[s].extend(self.history[s, self._upto[s]:self.n],
                                                       exog=self._exog(self._upto[s], self.n))
                self._upto[s] = self.n
            if self._res[s] is None:
                self.fallbacks += 1
                out[s] = _seasonal_naive_row(self.history[s], self.period, horizon)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out[s] = self._res[s].forecast(horizon, exog=self._exog(self.n, self.n + horizon))
        if refit:
            self._fit_at = self.n
        return out


def _seasonal_naive_row(y: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """Seasonal-naive forecast of one series, repeating the last period cyclically (or the last value)."""
    if y.size >= period:
        last = y[y.size - period:]
        return last[np.arange(horizon) % period].copy()
    return np.full(horizon, y[-1] if y.size else 0.0)


#: brief 01 §7 [code]: the order of the released simulator's per-minute ARIMA.
IN_SAMPLE_ARIMA_ORDER = (3, 1, 2)


def one_step_in_sample(y: np.ndarray, order=IN_SAMPLE_ARIMA_ORDER) -> np.ndarray:
    """(n,) one-step-ahead in-sample predictions of one series by an ARIMA(order) fitted on all of it (innovations
    MLE, the fast exact-likelihood fit); entry t uses y[:t] and the whole-series parameters. A failed fit falls
    back to the previous minute's value (entry 0: y[0])."""
    from statsmodels.tsa.arima.model import ARIMA

    y = np.asarray(y, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pred = np.asarray(ARIMA(y, order=tuple(order)).fit(method="innovations_mle").predict(), np.float64)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):   # e.g. a constant series
            pred = np.full(y.shape, np.nan)
    if pred.shape != y.shape or not np.all(np.isfinite(pred)):
        pred = np.concatenate([y[:1], y[:-1]])
    return pred


def in_sample_forecasts(series, decision_minutes, horizon: int, order=IN_SAMPLE_ARIMA_ORDER) -> np.ndarray:
    """(len(decision_minutes), n_series, horizon) "forecasts" read from :func:`one_step_in_sample`: the forecast
    made at minute t for minute t + k is the one-step in-sample prediction of minute t + k (made at t + k − 1).
    This is the released code's reading [code, brief 01 §7], an oracle-like ablation: it knows every minute up to
    the one it predicts. Minutes past the series repeat its last prediction."""
    y = np.asarray(series, np.float64)
    ts = np.asarray(decision_minutes, np.int64)
    if horizon < 1:
        raise ValueError(f"horizon: expected >= 1 minute, got {horizon}")
    if ts.size and (ts.min() < 0 or ts.max() > y.shape[1]):
        raise ValueError(f"decision_minutes: expected minutes in 0..{y.shape[1]}")
    minutes = np.minimum(ts[:, None] + np.arange(horizon), y.shape[1] - 1)
    with _one_blas_thread():
        pred = np.stack([one_step_in_sample(row, order) for row in y])
    return np.moveaxis(pred[:, minutes], 0, 1)


def with_forecast_noise(forecasts, sigma: float, seed: int = 0) -> np.ndarray:
    """Forecasts times multiplicative lognormal noise exp(σ·z − σ²/2) (mean 1), z ~ N(0, 1), one draw per forecast
    (per index of every axis but the last, the horizon): the whole horizon of a forecast is off by the same
    factor, a level error for the hour, which is what moves the ILP's window maximum (forecast-error
    sensitivity, our addition). σ = 0 returns a copy."""
    if sigma < 0:
        raise ValueError(f"sigma: expected >= 0, got {sigma}")
    f = np.asarray(forecasts, np.float64)
    if sigma == 0:
        return f.copy()
    z = np.random.default_rng(np.random.SeedSequence(seed)).standard_normal(f.shape[:-1])
    return f * np.exp(sigma * z - 0.5 * sigma ** 2)[..., None]


def mape(actual, predicted, floor: float = 1.0) -> float:
    """Mean absolute percentage error (in %), over entries with |actual| >= floor."""
    a = np.asarray(actual, np.float64)
    p = np.asarray(predicted, np.float64)
    keep = np.abs(a) >= floor
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(p[keep] - a[keep]) / np.abs(a[keep])))


def make_forecaster(kind: str, n_series: int, *, start_minute: int = 0, **options):
    """'seasonal_naive' -> SeasonalNaive, 'sarimax' -> SarimaxFourier."""
    if kind == "seasonal_naive":
        return SeasonalNaive(n_series, **options)
    if kind == "sarimax":
        return SarimaxFourier(n_series, start_minute=start_minute, **options)
    raise ValueError(f"forecast kind: expected 'seasonal_naive' or 'sarimax', got {kind!r}")


def rolling_forecasts(forecaster, series, decision_minutes, horizon: int) -> np.ndarray:
    """Forecasts made at each decision minute t (ascending) from the minutes before t only.

    series: (n_series, n_minutes) the actual values; the forecaster is fed series[:, :t] step by step (it must
    start empty) and asked for ``horizon`` minutes at each t. Returns (len(decision_minutes), n_series, horizon).
    """
    y = np.asarray(series, np.float64)
    ts = np.asarray(decision_minutes, np.int64)
    if np.any(np.diff(ts) < 0) or (ts.size and (ts[0] < 0 or ts[-1] > y.shape[1])):
        raise ValueError(f"decision_minutes: expected ascending minutes in 0..{y.shape[1]}")
    if forecaster.n != 0:
        raise ValueError("rolling_forecasts: the forecaster must not have observed anything yet")
    out = np.empty((ts.size, y.shape[0], horizon))
    for x, t in enumerate(ts):
        if t > forecaster.n:
            forecaster.observe(y[:, forecaster.n:t])
        out[x] = forecaster.forecast(horizon)
    return out
