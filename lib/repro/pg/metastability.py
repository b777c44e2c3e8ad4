"""Metastability of heavy-tailed gradient ascent: brief 05 section 2 "Metastability model" (paper section 5.2,
eqs. 5.6-5.8, Theorems 5.5-5.6), used for fig05.

Eq. 5.6 models HPG as gradient ascent plus symmetric alpha-stable noise,

    theta_{k+1} = clip( theta_k + eta (J'(theta_k) + noise_scale * S_k) ),   S_k ~ SaS(alpha, scale 1),

here in one dimension on the PMC landscape stretched by ``width`` at fixed curvature:
J(theta) = width^2 f(theta / width) with f(s) = -s^3 + 4 s^2 - 4 on [-4 width, 3.709 width] (clip = the PMC walls),
so the basin's width grows like ``width`` and its barrier height like ``width^2`` (its "volume" in the paper's
wording), while the curvature at the maximum stays f''(8/3) = -8. The small goal's basin of attraction is
G = (0, 3.709 width] (f has its local minimum at 0), the bonanza lies beyond. Starting at the small-goal maximum
theta_0 = (8/3) width, the *exit time* (Def. 5.3) is the first k >= 1 with theta_k <= 0. Heavier tails (smaller
alpha) should exit polynomially faster (Thm 5.5); Gaussian noise (alpha = 2) needs a time exponential in the
barrier. Runs that have not exited after ``cap`` iterations are censored at ``cap``.

Random stream (seed, run) drives run ``run``, so a run's exit time does not depend on the batch.
:func:`exit_times_reference` is the plain-Python twin.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from repro.pg.envs.pmc import S_MAX, S_MIN, SMALL_GOAL_S, pmc_profile_slope
from repro.pg.policies import ReferenceStream, new_stream, stable_variate


@njit(cache=True)
def landscape_gradient(theta, width):
    """J'(theta) for J(theta) = width^2 f(theta / width), f the PMC profile."""
    return width * pmc_profile_slope(theta / width)


@njit(cache=True)
def exit_time(alpha, step_size, noise_scale, width, cap, rng):
    """Iterations until theta first leaves the small-goal basin (theta <= 0), or ``cap`` if it never does within cap.

    Returns (iterations, exited).
    """
    theta = SMALL_GOAL_S * width
    low, high = S_MIN * width, S_MAX * width
    for k in range(1, cap + 1):
        noise = noise_scale * stable_variate(rng, alpha)
        theta = min(max(theta + step_size * (landscape_gradient(theta, width) + noise), low), high)
        if theta <= 0.0:
            return k, True
    return cap, False


@njit(parallel=True, cache=True)
def _exit_times(alpha, step_size, noise_scale, width, cap, seed, times, exited):
    for run in prange(times.size):
        times[run], exited[run] = exit_time(alpha, step_size, noise_scale, width, cap, new_stream(seed, run))


def _check(alpha, step_size, noise_scale, width, cap, n_runs, seed):
    if not 0.0 < alpha <= 2.0:
        raise ValueError(f"alpha={alpha!r}: expected a tail index in (0, 2]")
    if not (step_size > 0 and noise_scale >= 0 and width > 0):
        raise ValueError(f"expected step_size > 0, noise_scale >= 0 and width > 0, got {step_size}, {noise_scale}, "
                         f"{width}")
    if int(cap) < 1 or int(n_runs) < 1 or int(seed) < 0:
        raise ValueError(f"expected cap >= 1, n_runs >= 1 and seed >= 0, got {cap}, {n_runs}, {seed}")


def exit_times(alpha: float, *, step_size: float, noise_scale: float, width: float = 1.0, cap: int, n_runs: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exit times of ``n_runs`` independent runs (in parallel): (times (n_runs,) int64 in [1, cap], exited bool)."""
    _check(alpha, step_size, noise_scale, width, cap, n_runs, seed)
    times = np.zeros(int(n_runs), dtype=np.int64)
    exited = np.zeros(int(n_runs), dtype=np.bool_)
    _exit_times(float(alpha), float(step_size), float(noise_scale), float(width), int(cap), int(seed), times, exited)
    return times, exited


def exit_times_reference(alpha: float, *, step_size: float, noise_scale: float, width: float = 1.0, cap: int,
                         n_runs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain-Python twin of :func:`exit_times`."""
    _check(alpha, step_size, noise_scale, width, cap, n_runs, seed)
    times, exited = [], []
    for run in range(n_runs):
        rng = ReferenceStream(seed, run)
        theta, k, out = 8.0 / 3.0 * width, 0, False
        while k < cap and not out:
            k += 1
            s = theta / width
            slope = width * (-3.0 * s * s + 8.0 * s)
            theta = min(max(theta + step_size * (slope + noise_scale * rng.stable(alpha)), -4.0 * width),
                        3.709 * width)
            out = theta <= 0.0
        times.append(k)
        exited.append(out)
    return np.array(times, dtype=np.int64), np.array(exited)


def mean_exit_time(times: np.ndarray, exited: np.ndarray) -> dict:
    """Summary of censored exit times: mean of min(tau, cap) (a lower bound when some runs are censored),
    the fraction censored, and the median (exact when fewer than half are censored)."""
    return {"mean": float(np.mean(times)), "censored": float(1.0 - np.mean(exited)),
            "median": float(np.median(times)) if np.mean(exited) > 0.5 else math.nan}
