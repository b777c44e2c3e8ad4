"""Policy-gradient estimates at a frozen parameter: brief 05 section 2 (Algorithm 1, eq. 4.2, Theorem 6.1) for the
tail-index measurements of the heavy-tailed-pg paper.

:func:`estimates_at` draws ``n`` i.i.d. per-trajectory estimates g_i of eq. 4.2 (the estimator HPG uses,
:func:`repro.pg.hpg.hpg_estimate`) at one fixed theta: trajectory i runs on the random stream (seed, i) with its
own horizon T_i ~ Geom(1 - gamma^(1/2)). The tail index of these samples is a property of the estimator at theta,
not of a window pooled over a moving theta. :func:`estimates_at_reference` is the plain-Python twin.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec
from repro.pg.hpg import episode_reference, hpg_estimate
from repro.pg.policies import Policy, ReferenceStream, geometric_horizon, new_stream, score_mu
from repro.pg.rollout import Features, check_theta, policy_args, sample_trajectory, state_buffers, trajectory_buffers


@njit(parallel=True, cache=True)
def _estimates_at(env, policy, features, theta, gamma, seed, out):
    for i in prange(out.shape[0]):
        rng = new_stream(seed, i)
        states, obs = state_buffers(env)
        phi, mu, act, rew = trajectory_buffers(env, theta.size)
        score_sum = np.zeros(theta.size)
        n_steps = min(geometric_horizon(rng, gamma) + 1, env[5])
        length, _ = sample_trajectory(env, policy, features, theta, n_steps, False, rng, states, obs, phi, mu, act,
                                      rew)
        hpg_estimate(policy, phi, mu, act, rew, length, gamma, False, score_sum, out[i])


def _checked(env: EnvSpec, policy: Policy, theta, n: int, gamma: float, seed: int, features: Features | None):
    features = features or Features()
    theta = check_theta(theta, features.n_features(env.obs_dim))
    if not policy.has_score:
        raise ValueError(f"policy {policy}: eq. 4.2 needs a score (Gaussian, Cauchy or generalised Gaussian)")
    if int(n) < 1 or int(seed) < 0 or not 0.0 < gamma < 1.0:
        raise ValueError(f"estimates_at: expected n >= 1, seed >= 0 and gamma in (0, 1), got n={n}, seed={seed}, "
                         f"gamma={gamma}")
    return features, theta


def estimates_at(env: EnvSpec, policy: Policy, theta, *, n: int, gamma: float, seed: int,
                 features: Features | None = None) -> np.ndarray:
    """(n, d) i.i.d. eq. 4.2 estimates g_i at the fixed ``theta`` (row i from stream (seed, i), in parallel)."""
    features, theta = _checked(env, policy, theta, n, gamma, seed, features)
    out = np.zeros((int(n), theta.size))
    _estimates_at(env.kernel_args(), policy_args(policy), features.kernel_args(), theta, float(gamma), int(seed), out)
    return out


def estimates_at_reference(env: EnvSpec, policy: Policy, theta, *, n: int, gamma: float, seed: int,
                           features: Features | None = None) -> np.ndarray:
    """Plain-Python twin of :func:`estimates_at`."""
    features, theta = _checked(env, policy, theta, n, gamma, seed, features)
    out = np.zeros((int(n), theta.size))
    for i in range(int(n)):
        rng = ReferenceStream(int(seed), i)
        n_steps = min(rng.geometric_horizon(gamma) + 1, env.horizon)
        steps = episode_reference(env, policy, features, theta, n_steps, False, rng)
        discounted = sum(math.sqrt(gamma) ** u * r for u, (*_, r) in enumerate(steps))
        out[i] = discounted * sum(score_mu(policy.code, a - m, policy.sigma, policy.tail) * phi
                                  for phi, m, a, _ in steps)
    return out
