"""Random Fourier features of the observation: brief 06 section 2 "Policy" (gym tasks: 50 random Fourier features).

Rahimi & Recht (2007): with W_j ~ N(0, diag(1/l^2)) and b_j ~ U(0, 2 pi), phi_j(x) = sqrt(2/m) cos(W_j . x + b_j)
satisfies E[phi(x) . phi(y)] = exp(-sum_c (x_c - y_c)^2 / (2 l_c^2)) (a Gaussian kernel with bandwidths l), and
||phi(x)||^2 = 1 on average. The map is evaluated inside the rollout kernels (:class:`repro.pg.rollout.Features`,
kind ``FEATURES_COSINE``); this module only draws its random projection, seeded, so the same seed gives the
same features on every machine.

Bandwidths for the gym tasks [our choice]: ``relative_bandwidth`` times the width of each observation component's
range (MountainCarContinuous: position [-1.2, 0.6], velocity [-0.07, 0.07]; Pendulum: cos, sin in [-1, 1],
theta_dot in [-8, 8]), so every component matters at the same relative scale.
"""
from __future__ import annotations

import numpy as np

from repro.pg.rollout import FEATURES_LINEAR, Features

OBSERVATION_RANGES = {
    "mcc": ((-1.2, 0.6), (-0.07, 0.07)),
    "mcc_sparse": ((-1.2, 0.6), (-0.07, 0.07)),
    "pendulum": ((-1.0, 1.0), (-1.0, 1.0), (-8.0, 8.0)),
}


def random_fourier_features(obs_dim: int, n_features: int, bandwidth, seed: int) -> Features:
    """``n_features`` random Fourier features of a size-``obs_dim`` observation for the Gaussian kernel with
    bandwidth ``bandwidth`` (a number, or one per observation component), drawn from ``default_rng(seed)``."""
    if int(obs_dim) < 1 or int(n_features) < 1:
        raise ValueError(f"random_fourier_features: expected obs_dim >= 1 and n_features >= 1, "
                         f"got {obs_dim} and {n_features}")
    bandwidth = np.asarray(bandwidth, dtype=np.float64).ravel()
    if bandwidth.size not in (1, int(obs_dim)):
        raise ValueError(f"bandwidth={bandwidth.tolist()}: expected one number or {obs_dim} (one per observation "
                         f"component)")
    bandwidth = np.broadcast_to(bandwidth, (int(obs_dim),))
    if not (np.isfinite(bandwidth).all() and (bandwidth > 0).all()):
        raise ValueError(f"bandwidth={bandwidth.tolist()}: expected finite numbers > 0, one per observation component")
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((int(n_features), int(obs_dim))) / bandwidth
    offset = rng.uniform(0.0, 2.0 * np.pi, int(n_features))
    return Features.cosine(proj, offset)


def gym_features(env_name: str, n_features: int = 50, seed: int = 0, relative_bandwidth: float = 0.2) -> Features:
    """The random Fourier features used for gym task ``env_name`` (a key of OBSERVATION_RANGES): bandwidth
    ``relative_bandwidth`` times each observation component's range width."""
    if env_name not in OBSERVATION_RANGES:
        raise ValueError(f"env_name={env_name!r}: expected one of {sorted(OBSERVATION_RANGES)}")
    widths = np.array([high - low for low, high in OBSERVATION_RANGES[env_name]])
    return random_fourier_features(widths.size, n_features, relative_bandwidth * widths, seed)


def feature_matrix(features: Features, observations) -> np.ndarray:
    """phi of every row of ``observations`` (n, obs_dim) as an (n, d) array, in NumPy (for plots and tests)."""
    obs = np.atleast_2d(np.asarray(observations, dtype=np.float64))
    if features.kind == FEATURES_LINEAR:
        return np.hstack([obs, np.ones((obs.shape[0], 1))])
    m = features.proj.shape[0]
    return np.sqrt(2.0 / m) * np.cos(obs @ features.proj.T + features.offset)
