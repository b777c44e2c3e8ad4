"""Benchmarks: each module ``repro.bench.<name>`` exposes ``run(quick=False) -> dict``.

Every entry reports a kernel's rate and, measured in the same run on the same input, the rate of
its plain reference, with their ratio: machines are shared and noisy, ratios are what we compare.
"""
from __future__ import annotations

import time

import numpy as np


def best_seconds(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn``, after one untimed call (compile, or load from numba's
    cache)."""
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_rate(fn, repeats: int) -> float:
    """Largest work per second over ``repeats`` calls of ``fn``, which returns the work it did (no warm-up call)."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        work = fn()
        best = max(best, work / (time.perf_counter() - start))
    return best
