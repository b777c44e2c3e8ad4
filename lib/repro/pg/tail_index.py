"""Tail-index estimator of Mohammadi, Mohammadpour & Ogata (2015), as used in brief 05 section 2 (paper section 6,
Theorem 6.1) on policy-gradient noise.

For K = K1 * K2 i.i.d. samples X_i of a symmetric alpha-stable law, the block sums Y_j (K2 blocks of K1 samples)
satisfy Y_j =d K1^(1/alpha) X, hence

    1/alpha_hat = ( (1/K2) sum_j log|Y_j| - (1/K) sum_i log|X_i| ) / log K1.

The estimate of 1/alpha is unbiased for stable samples; for light-tailed samples (finite variance) it tends to 1/2,
i.e. alpha_hat -> 2. :func:`gradient_noise_tail_index` applies it the way the paper does: to per-coordinate gradient
noise (estimates minus their mean over a window of iterations), averaged over coordinates.

Two conventions for samples with exact zeros (an all-zero gradient estimate, e.g. no trajectory rewarded):
``eps=None`` leaves exact zeros out of the log averages (a zero carries no tail information); ``eps > 0`` takes
log(|x| + eps) over every sample, as in the public code of Simsekli et al. (2019), ``eps = RAW_EPS =
np.spacing(1)``. There each zero contributes log(eps) = -36 to the mean of log|X_i| but rarely to that of the block
sums, so a zero-inflated sample reads as very heavy-tailed: for a Bernoulli(0.1) x N(0, 1) sample (true index 2)
alpha_hat is about 0.1. :func:`convention_tail_index` applies either convention to a sample of gradient estimates.
"""
from __future__ import annotations

import math

import numpy as np

RAW_EPS = float(np.spacing(1.0))
"""The eps of log(|x| + eps) in Simsekli et al.'s public tail-index code."""
CONVENTIONS = ("centred", "raw")
"""centred: estimates minus their mean, exact zeros left out; raw: the estimates themselves, log(|x| + RAW_EPS)."""


def inverse_tail_index(x, k1: int | None = None, eps: float | None = None) -> float:
    """The estimate of 1/alpha from the 1-D sample ``x`` with block size ``k1`` (default floor(sqrt(len(x)))).

    Only the first K1 * K2 samples are used (K2 = len(x) // K1). With ``eps=None`` exact zeros in X or Y carry no
    tail information (log 0 = -inf) and are left out of their average; with ``eps > 0`` every sample enters as
    log(|x| + eps) (see the module docstring). NaN when every sample or every block sum is 0.
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 4 or not np.isfinite(x).all():
        raise ValueError(f"tail_index: expected at least 4 finite samples, got {x.size} samples "
                         f"({int((~np.isfinite(x)).sum())} not finite)")
    k1 = int(math.isqrt(x.size)) if k1 is None else int(k1)
    if not 2 <= k1 <= x.size // 2:
        raise ValueError(f"tail_index: block size k1={k1} must be in [2, {x.size // 2}] for {x.size} samples")
    k2 = x.size // k1
    x = x[: k1 * k2]
    abs_x = np.abs(x)
    abs_y = np.abs(x.reshape(k2, k1).sum(axis=1))
    if not (abs_x > 0).any() or not (abs_y > 0).any():
        return math.nan
    if eps is not None:
        if not eps > 0:
            raise ValueError(f"tail_index: eps={eps!r}, expected None (zeros left out) or a number > 0")
        return float((np.log(abs_y + eps).mean() - np.log(abs_x + eps).mean()) / math.log(k1))
    return float((np.log(abs_y[abs_y > 0]).mean() - np.log(abs_x[abs_x > 0]).mean()) / math.log(k1))


def tail_index(x, k1: int | None = None, eps: float | None = None) -> float:
    """Mohammadi et al.'s estimate alpha_hat = 1 / (estimate of 1/alpha); inf if that estimate is <= 0."""
    inverse = inverse_tail_index(x, k1, eps)
    if math.isnan(inverse):
        return math.nan
    return math.inf if inverse <= 0 else 1.0 / inverse


def gradient_noise_tail_index(grads, window: int = 100, stride: int = 10, k1: int | None = None):
    """Average alpha_hat of gradient noise over sliding windows of iterations.

    grads: (K, B, d) per-trajectory estimates of one run (``HPGResult.grads[r]``). For the window of iterations
    [end - window, end), X = the window's window*B estimates of coordinate j minus their mean; alpha_hat is
    computed per coordinate and averaged over the d coordinates (the paper plots the average estimate).
    Returns (ends, alpha_hat): window end iterations (window, window+stride, ..., <= K) and the averages.
    """
    grads = np.asarray(grads, dtype=float)
    if grads.ndim != 3:
        raise ValueError(f"grads: expected shape (K, B, d), got {grads.shape}")
    n_iterations = grads.shape[0]
    if not 1 <= window <= n_iterations or stride < 1:
        raise ValueError(f"window={window}, stride={stride}: expected 1 <= window <= K={n_iterations}, stride >= 1")
    ends = np.arange(window, n_iterations + 1, stride)
    alphas = np.empty(ends.size)
    for w, end in enumerate(ends):
        block = grads[end - window:end].reshape(-1, grads.shape[2])
        noise = block - block.mean(axis=0)
        alphas[w] = np.mean([tail_index(noise[:, j], k1) for j in range(noise.shape[1])])
    return ends, alphas


def convention_tail_index(samples, convention: str, k1: int | None = None) -> float:
    """alpha_hat of i.i.d. estimates ``samples`` (n, d) under ``convention`` (one of CONVENTIONS), per coordinate and
    averaged over the coordinates that have one; NaN when none has (e.g. every estimate is exactly 0).

    centred: X = samples minus their mean, exact zeros left out (the noise around E g, Theorem 6.1's X);
    raw: X = samples, log(|x| + RAW_EPS) (Simsekli et al.'s public code, which feeds raw stochastic gradients).
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        raise ValueError(f"samples: expected shape (n, d), got {samples.shape}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention={convention!r}: expected one of {CONVENTIONS}")
    if convention == "centred":
        values = [tail_index(column - column.mean(), k1) if (column != 0).any() else math.nan
                  for column in samples.T]
    else:
        values = [tail_index(column, k1, RAW_EPS) for column in samples.T]
    values = np.array(values)
    return float(values[np.isfinite(values)].mean()) if np.isfinite(values).any() else math.nan
