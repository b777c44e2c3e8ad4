"""95% intervals over independent replicates (DESIGN.md, "Claims that can fail").

Every effect that decides a claim comes with an :class:`Interval`: the point estimate, a 95%
interval, the number of replicates and how the interval was made.

- Returns of RL runs across seeds: rliable's stratified bootstrap (:func:`iqm_difference` through rliable;
  :func:`improvement_probability` and :func:`iqm_interval` vectorised, tested equal to rliable's), the field's
  standard for few-seed RL results.
- Everything else (savings per day, latency ratios per seed, ...): ``scipy.stats.bootstrap``
  (:func:`mean_interval`, :func:`mean_difference`, :func:`paired_mean_difference`).

Resampling streams come from :mod:`repro.core.seeds` under fixed keys, so the same numbers always
give the same interval (metrics.json must be byte-identical across reruns). With fewer than two
finite replicates there is no interval: both ends are NaN and the claim reads "inconclusive".
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from repro.core import seeds

CONFIDENCE = 0.95
RESAMPLES = 9999
RL_RESAMPLES = 2000
_BOOTSTRAP_SEED = 20250101  # the resampling stream's root; intervals never depend on a paper's seed


@dataclass(frozen=True)
class Interval:
    """An effect with its 95% interval over ``n`` replicates (``method`` says how it was made)."""

    effect: float
    low: float
    high: float
    n: int
    method: str

    @property
    def finite(self) -> bool:
        return bool(np.isfinite([self.effect, self.low, self.high]).all())

    def scaled(self, factor: float) -> "Interval":
        """The same interval in other units (e.g. a fraction as percent)."""
        return Interval(self.effect * factor, self.low * factor, self.high * factor, self.n, self.method)


def _finite(values) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def _nan_interval(effect: float, n: int, method: str) -> Interval:
    return Interval(float(effect), float("nan"), float("nan"), int(n), method)


def _bootstrap(data, statistic, *, paired: bool, keys) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (percentile: defined even when every replicate is equal)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degenerate resamples of constant data
        result = stats.bootstrap(data, statistic, n_resamples=RESAMPLES, paired=paired, vectorized=True,
                                 confidence_level=CONFIDENCE, method="percentile",
                                 rng=seeds.rng(_BOOTSTRAP_SEED, *keys))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def mean_interval(values) -> Interval:
    """Mean of independent replicates (seeds, days) with its bootstrap 95% interval.

    ``values``: shape (n,), entry [i] the measurement of replicate i; NaNs are dropped.
    """
    x = _finite(values)
    if x.size == 0:
        return _nan_interval(float("nan"), 0, "bootstrap mean")
    if x.size < 2:
        return _nan_interval(x.mean(), x.size, "bootstrap mean")
    low, high = _bootstrap((x,), _mean, paired=False, keys=("mean", x.size))
    return Interval(float(x.mean()), low, high, int(x.size), "bootstrap mean")


def paired_mean_difference(a, b) -> Interval:
    """Mean of a[i] - b[i] over paired replicates (the same seed or day under two methods).

    ``a``, ``b``: shape (n,); pairs with a NaN on either side are dropped.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired replicates need equal shapes, got {a.shape} and {b.shape}")
    interval = mean_interval((a - b)[np.isfinite(a) & np.isfinite(b)])
    return Interval(interval.effect, interval.low, interval.high, interval.n, "bootstrap paired mean difference")


def mean_difference(a, b) -> Interval:
    """mean(a) - mean(b) for two independent groups of replicates (each resampled on its own)."""
    a, b = _finite(a), _finite(b)
    method = "bootstrap difference of means"
    if a.size == 0 or b.size == 0:
        return _nan_interval(float("nan"), min(a.size, b.size), method)
    effect = float(a.mean() - b.mean())
    if min(a.size, b.size) < 2:
        return _nan_interval(effect, min(a.size, b.size), method)
    low, high = _bootstrap((a, b), _mean_diff, paired=False, keys=("difference", a.size, b.size))
    return Interval(effect, low, high, int(min(a.size, b.size)), method)


def _rliable_interval(score_dict, func, key: str) -> tuple[float, float, float]:
    """rliable's interval, made reproducible.

    rliable 1.2's stratified resampling draws from NumPy's global generator (``np.random.choice``)
    whatever ``random_state`` says, so the global state is seeded here and restored afterwards.
    """
    from rliable import library as rly

    seed = seeds.seed_int(_BOOTSTRAP_SEED, "rliable", key) % 2**32
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # arch: random_state -> generator
            points, intervals = rly.get_interval_estimates(score_dict, func, reps=RL_RESAMPLES,
                                                           confidence_interval_size=CONFIDENCE,
                                                           random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)
    return float(np.ravel(points[key])[0]), float(intervals[key][0].ravel()[0]), float(intervals[key][1].ravel()[0])


def _scores(values) -> np.ndarray:
    scores = np.asarray(values, dtype=float)
    return scores[:, None] if scores.ndim == 1 else scores


def iqm_difference(a, b) -> Interval:
    """IQM(a) - IQM(b) of RL scores with rliable's stratified bootstrap 95% interval.

    ``a``, ``b``: shape (runs,) or (runs, tasks); entry [n][m] the score of run n on task m
    (e.g. the final evaluation return of seed n). Runs are resampled within each task.
    """
    from rliable import metrics

    a, b = _scores(a), _scores(b)
    n = int(min(a.shape[0], b.shape[0]))
    method = "rliable stratified bootstrap, IQM difference"
    if n < 2 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        effect = metrics.aggregate_iqm(a) - metrics.aggregate_iqm(b) if n else float("nan")
        return _nan_interval(effect, n, method)

    def difference(x, y):
        return np.array([metrics.aggregate_iqm(x) - metrics.aggregate_iqm(y)])

    effect, low, high = _rliable_interval({"d": (a, b)}, difference, "d")
    return Interval(effect, low, high, n, method)


def _win_share(x, y) -> np.ndarray:
    """P(x > y) + P(x = y)/2 averaged over tasks; x (..., n, T), y (..., m, T) -> shape (...)."""
    wins = (x[..., :, None, :] > y[..., None, :, :]) + 0.5 * (x[..., :, None, :] == y[..., None, :, :])
    return wins.mean(axis=(-3, -2, -1))


def _stratified(scores: np.ndarray, rng, reps: int) -> np.ndarray:
    """``reps`` stratified resamples of (runs, tasks) scores: runs redrawn within each task -> (reps, runs, tasks)."""
    runs, tasks = scores.shape
    index = rng.integers(0, runs, size=(reps, runs, tasks))
    return np.take_along_axis(scores[None], index, axis=1)


def improvement_probability(a, b) -> Interval:
    """P(a > b) - 1/2 (rliable's probability of improvement, ties count 1/2, averaged over tasks) with its 95%
    interval from rliable's stratified percentile bootstrap (the runs of ``a`` and of ``b`` redrawn within each
    task), vectorised: rliable's own loop over resamples costs seconds per call; a test holds the two equal.

    Positive means a run of method ``a`` tends to beat a run of method ``b``; the interval excludes
    0 when that is more than chance. ``a``, ``b``: shape (runs,) or (runs, tasks) as in :func:`iqm_difference`;
    runs with a non-finite score are left out.
    """
    a, b = _scores(a), _scores(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"improvement_probability: a has {a.shape[1]} tasks, b has {b.shape[1]}")
    a, b = a[np.isfinite(a).all(axis=1)], b[np.isfinite(b).all(axis=1)]
    n = int(min(a.shape[0], b.shape[0]))
    method = "stratified bootstrap (rliable's), probability of improvement - 1/2"
    effect = float(_win_share(a, b)) - 0.5 if n else float("nan")
    if n < 2:
        return _nan_interval(effect, n, method)
    rng = seeds.rng(_BOOTSTRAP_SEED, "improvement", *a.shape, *b.shape)
    shares = np.concatenate([_win_share(_stratified(a, rng, 100), _stratified(b, rng, 100))
                             for _ in range(RL_RESAMPLES // 100)]) - 0.5
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(shares, [tail, 100 - tail])
    return Interval(effect, float(low), float(high), n, method)


def _iqm(x, axis=-1):
    return stats.trim_mean(x, 0.25, axis=axis)


def iqm_interval(values) -> Interval:
    """IQM (25% trimmed mean) of one method's runs with a 95% percentile-bootstrap interval over runs (rliable's
    stratified bootstrap for one task, vectorised; a test holds it equal to rliable's). NaNs are dropped; no
    interval with fewer than 2 runs."""
    x = _finite(values)
    method = "percentile bootstrap over runs, IQM (rliable's stratified bootstrap, one task)"
    if x.size < 2:
        return _nan_interval(_iqm(x) if x.size else float("nan"), x.size, method)
    low, high = _bootstrap((x,), _iqm, paired=False, keys=("iqm", x.size))
    return Interval(float(_iqm(x)), low, high, int(x.size), method)

