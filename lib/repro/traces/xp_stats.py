"""Trace statistics of the traces notebook on the array namespace (NumPy or CuPy): binned arrival rates, token-length
quantiles, Kolmogorov-Smirnov distances and Spearman's rho (:mod:`repro.papers.traces`, claims T1-T10).

The array-namespace version of the NumPy/SciPy statistics the calibration report uses: :func:`binned_load_xp` of
:func:`repro.traces.weekly.binned_load`, :func:`per_minute_counts_xp` and :func:`hourly_means_xp` of the per-minute
and hourly rates inside :func:`repro.traces.weekly.calibration_rates`, :func:`quantiles_xp` of ``numpy.quantile``
(the 'linear' method of the quantile tables), :func:`ks_distance_xp` of ``scipy.stats.ks_2samp(...).statistic``,
:func:`ks_to_quantile_table_xp` of :func:`repro.traces.tokens.ks_to_quantile_table` and :func:`spearman_xp` of
``scipy.stats.spearmanr(...).statistic`` (average ranks for ties). No numba kernel is involved: these mirror NumPy
and SciPy code. Every function takes the namespace ``xp`` first and its arrays on that namespace, and returns arrays
(0-d for a single statistic) on it; tests/test_xp_kernels.py holds them equal to the NumPy/SciPy originals.
"""
from __future__ import annotations

MINUTE_S, HOUR_MINUTES = 60.0, 60


def binned_counts_xp(xp, t, bin_s: float, n_bins: int, weights=None):
    """(n_bins,) number (or summed ``weights``) of the events at times ``t`` >= 0 per bin [b bin_s, (b+1) bin_s);
    events past the last bin count in the last bin (as :func:`repro.traces.weekly.binned_load` does)."""
    b = xp.minimum((t // bin_s).astype(xp.int64), n_bins - 1)
    return xp.bincount(b, weights=weights, minlength=n_bins)


def per_minute_counts_xp(xp, arrival, n_minutes: int):
    """(n_minutes,) arrivals per minute, as :func:`repro.traces.weekly.calibration_rates` counts them."""
    return xp.bincount((arrival // MINUTE_S).astype(xp.int64), minlength=n_minutes)


def hourly_means_xp(xp, per_minute):
    """Hourly means of a per-minute series (length a multiple of 60), repeated per minute."""
    return xp.repeat(per_minute.reshape(-1, HOUR_MINUTES).mean(axis=1), HOUR_MINUTES)


def binned_load_xp(xp, arrival, workload, tokens, bin_s: float, n_bins: int) -> dict:
    """:func:`repro.traces.weekly.binned_load` from the trace's columns: 'start' (n_bins,), and 'rps' and 'tps'
    (2, n_bins), row w the requests/s and tokens/s of workload w. ``tokens``: prompt + output tokens per request."""
    b = xp.minimum((arrival // bin_s).astype(xp.int64), n_bins - 1)
    key = workload.astype(xp.int64) * n_bins + b
    requests = xp.bincount(key, minlength=2 * n_bins).reshape(2, n_bins)
    token_sum = xp.bincount(key, weights=tokens.astype(xp.float64), minlength=2 * n_bins).reshape(2, n_bins)
    return {"start": xp.arange(n_bins) * bin_s, "rps": requests / bin_s, "tps": token_sum / bin_s}


def quantiles_xp(xp, x, levels):
    """Quantiles of ``x`` at ``levels`` by the 'linear' method (the method of the committed quantile tables)."""
    return xp.quantile(x.astype(xp.float64), xp.asarray(levels, dtype=xp.float64))


def empirical_cdf_xp(xp, sample, at):
    """Share of ``sample`` <= each point of ``at``."""
    return xp.searchsorted(xp.sort(sample), at, side="right") / sample.size


def ks_distance_xp(xp, a, b):
    """Two-sample Kolmogorov-Smirnov distance sup |F_a - F_b|, evaluated at every point of both samples."""
    at = xp.concatenate([a, b])
    return xp.max(xp.abs(empirical_cdf_xp(xp, a, at) - empirical_cdf_xp(xp, b, at)))


def ks_to_quantile_table_xp(xp, sample, levels, values):
    """:func:`repro.traces.tokens.ks_to_quantile_table`: KS distance between ``sample`` and the piecewise-linear
    CDF of a quantile table, evaluated at the table's distinct values."""
    grid = xp.unique(values)
    return xp.max(xp.abs(empirical_cdf_xp(xp, sample, grid) - xp.interp(grid, values, levels)))


def average_ranks_xp(xp, x):
    """Ranks 1..n of ``x``, ties sharing the mean of their ranks (scipy.stats.rankdata's 'average')."""
    ordered = xp.sort(x)
    below = xp.searchsorted(ordered, x, side="left")
    through = xp.searchsorted(ordered, x, side="right")
    return (below + through + 1) / 2.0


def spearman_xp(xp, x, y):
    """Spearman's rank correlation: Pearson's r of the average ranks."""
    rx = average_ranks_xp(xp, x)
    ry = average_ranks_xp(xp, y)
    rx = rx - rx.mean()
    ry = ry - ry.mean()
    return (rx * ry).sum() / xp.sqrt((rx * rx).sum() * (ry * ry).sum())
