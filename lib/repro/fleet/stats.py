"""Per-VM reductions of 5-minute CPU telemetry (brief 07 §2 "Rules", §5 calibration facts).

For each VM (a row of a chunk, of which the first ``lengths[i]`` samples are its observed life):

* ``mean``: average CPU over the observed samples;
* ``p95``: the nearest-rank 95th percentile (``np.percentile(..., method="inverted_cdf")``);
* ``diurnal``: the share of the signal's power at the 24-hour period, over the longest whole-day prefix of
  the observed samples (``days = n // per_day`` days):  ``2 |X_k|^2 / (m * sum_t (x_t - mean_m)^2)`` with
  ``X_k`` the DFT of that prefix at ``k = days`` cycles (one per day) and ``m = days * per_day``; a pure daily
  sine gives 1, white noise about ``2 / m``. NaN when the VM lived less than one day or the prefix is flat.

:func:`vm_cpu_stats` is the numba kernel (one pass per row for the DFT bin, a partial sort for the percentile);
:func:`vm_cpu_stats_reference` is its NumPy twin (``np.fft.rfft`` row by row); tests hold them equal.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

SAMPLES_PER_DAY = 288  # 5-minute samples


@njit(cache=True)
def vm_cpu_stats(cpu, lengths, per_day):
    """(mean, p95, diurnal) float64 arrays of shape (rows,) from ``cpu`` (rows, T) float32 and ``lengths`` (rows,).

    Row i uses ``cpu[i, :lengths[i]]`` (1 <= lengths[i] <= T); see the module docstring for the definitions.
    """
    rows, width = cpu.shape
    mean = np.empty(rows)
    p95 = np.empty(rows)
    diurnal = np.empty(rows)
    angle = 2.0 * np.pi / per_day
    cos_t = np.cos(angle * np.arange(width))
    sin_t = np.sin(angle * np.arange(width))
    for i in range(rows):
        n = lengths[i]
        x = cpu[i, :n].astype(np.float64)
        mean[i] = x.mean()
        rank = max(int(math.ceil(0.95 * n)) - 1, 0)
        p95[i] = np.partition(x, rank)[rank]
        m = (n // per_day) * per_day
        if m == 0:
            diurnal[i] = np.nan
            continue
        mu = x[:m].mean()
        re = 0.0
        im = 0.0
        total = 0.0
        for t in range(m):
            d = x[t] - mu
            re += d * cos_t[t]
            im += d * sin_t[t]
            total += d * d
        diurnal[i] = 2.0 * (re * re + im * im) / (m * total) if total > 0.0 else np.nan
    return mean, p95, diurnal


def vm_cpu_stats_reference(cpu: np.ndarray, lengths: np.ndarray, per_day: int):
    """NumPy twin of :func:`vm_cpu_stats` (rfft and np.percentile per row)."""
    rows = cpu.shape[0]
    mean, p95, diurnal = np.empty(rows), np.empty(rows), np.full(rows, np.nan)
    for i in range(rows):
        x = cpu[i, :lengths[i]].astype(np.float64)
        mean[i] = x.mean()
        p95[i] = np.percentile(x, 95, method="inverted_cdf")
        days = len(x) // per_day
        if days == 0:
            continue
        prefix = x[:days * per_day] - x[:days * per_day].mean()
        total = float(np.sum(prefix ** 2))
        if total > 0:
            diurnal[i] = 2 * np.abs(np.fft.rfft(prefix)[days]) ** 2 / (len(prefix) * total)
    return mean, p95, diurnal
