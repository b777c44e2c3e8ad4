"""Trajectory sampling with a linear-in-features policy mean: brief 05 section 2, Algorithm 1 (rollout part).

A trajectory from the start distribution takes at most ``n_steps`` actions a_t = mu_t + x_t with mu_t = theta . phi(s_t)
and x_t drawn from the policy; the environment receives a_t clipped to the action box (clip only in the environment,
brief: truncating the policy would break Assumption 4.3), and the trajectory records the *unclipped* a_t so the score
is computed on the sample itself. It stops when the environment terminates.

Features (kernel code + arrays, so numba needs no Python objects):
* ``FEATURES_LINEAR`` phi(s) = [obs, 1] (brief 05 [our choice]), d = obs_dim + 1;
* ``FEATURES_COSINE`` phi_j(s) = sqrt(2/m) cos(proj_j . obs + offset_j), d = m (random Fourier features when
  ``proj``/``offset`` are drawn at random; brief 06 uses 50 of them for the gym tasks).

Kernel tuples (build them with ``EnvSpec.kernel_args()``, ``policy_args(policy)``, ``Features.kernel_args()``):
``env = (code, start_low, start_high, action_low, action_high, horizon, obs_dim)``, ``policy = (kind, sigma, alpha)``,
``features = (kind, proj, offset)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec, env_observe, env_step
from repro.pg.policies import Policy, new_stream, sample_deviation, uniform

FEATURES_LINEAR, FEATURES_COSINE = 0, 1


@dataclass(frozen=True)
class Features:
    """Feature map phi(obs): ``Features()`` is [obs, 1]; ``Features.cosine(proj, offset)`` the cosine features."""
    kind: int = FEATURES_LINEAR
    proj: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def cosine(cls, proj, offset) -> "Features":
        """phi_j = sqrt(2/m) cos(proj[j] . obs + offset[j]); proj (m, obs_dim), offset (m,)."""
        proj = np.ascontiguousarray(proj, dtype=np.float64)
        offset = np.ascontiguousarray(offset, dtype=np.float64)
        if proj.ndim != 2 or offset.shape != (proj.shape[0],) or proj.shape[0] == 0:
            raise ValueError(f"cosine features: expected proj of shape (m, obs_dim) with m >= 1 and offset of shape "
                             f"(m,), got {proj.shape} and {offset.shape}")
        return cls(FEATURES_COSINE, proj, offset)

    def n_features(self, obs_dim: int) -> int:
        """Dimension d of phi (and of theta) for observations of size ``obs_dim``."""
        if self.kind == FEATURES_LINEAR:
            return obs_dim + 1
        if self.proj.shape[1] != obs_dim:
            raise ValueError(f"cosine features: proj has {self.proj.shape[1]} columns, the environment observes "
                             f"{obs_dim} numbers")
        return self.proj.shape[0]

    def kernel_args(self) -> tuple:
        return (int(self.kind), np.ascontiguousarray(self.proj, dtype=np.float64),
                np.ascontiguousarray(self.offset, dtype=np.float64))


def policy_args(policy: Policy) -> tuple:
    """(kind, sigma, alpha) with kernel dtypes."""
    return (int(policy.code), float(policy.sigma), float(policy.tail))


@njit(cache=True)
def fill_features(kind, obs, proj, offset, phi):
    """Write phi(obs) into ``phi`` for feature ``kind``."""
    if kind == FEATURES_LINEAR:
        for j in range(obs.size):
            phi[j] = obs[j]
        phi[obs.size] = 1.0
    else:
        m = proj.shape[0]
        amplitude = math.sqrt(2.0 / m)
        for j in range(m):
            z = offset[j]
            for c in range(obs.size):
                z += proj[j, c] * obs[c]
            phi[j] = amplitude * math.cos(z)


@njit(cache=True)
def reset_state(start_low, start_high, states, i, rng):
    """Draw the start of copy ``i``: component j uniform on [start_low[j], start_high[j]] (fixed when equal)."""
    for j in range(start_low.size):
        if start_high[j] > start_low[j]:
            states[j, i] = start_low[j] + (start_high[j] - start_low[j]) * uniform(rng)
        else:
            states[j, i] = start_low[j]


@njit(cache=True)
def policy_mean(theta, phi_t):
    """mu = theta . phi."""
    total = 0.0
    for j in range(theta.size):
        total += theta[j] * phi_t[j]
    return total


@njit(cache=True)
def state_buffers(env):
    """Work arrays (states (state_dim, 1), obs (obs_dim,)) for one copy of ``env``."""
    return np.zeros((env[1].size, 1)), np.zeros(env[6])


@njit(cache=True)
def trajectory_buffers(env, n_features):
    """Record arrays (phi (H, d), mu (H,), act (H,), rew (H,)) for one episode of ``env`` (H = horizon)."""
    horizon = env[5]
    return np.zeros((horizon, n_features)), np.zeros(horizon), np.zeros(horizon), np.zeros(horizon)


@njit(cache=True)
def sample_trajectory(env, policy, features, theta, n_steps, greedy, rng, states, obs, phi, mu, act, rew):
    """Run one episode of at most ``n_steps`` steps; fill phi[t], mu[t], act[t] (unclipped), rew[t].

    ``greedy`` takes a_t = mu_t (evaluation of the mean action) and draws no action noise.
    Returns (length, terminated).
    """
    code, start_low, start_high, action_low, action_high = env[0], env[1], env[2], env[3], env[4]
    kind, sigma, alpha = policy
    feature_kind, proj, offset = features
    reset_state(start_low, start_high, states, 0, rng)
    for t in range(n_steps):
        env_observe(code, states, 0, obs)
        fill_features(feature_kind, obs, proj, offset, phi[t])
        mean = policy_mean(theta, phi[t])
        action = mean if greedy else mean + sample_deviation(kind, sigma, alpha, rng)
        mu[t] = mean
        act[t] = action
        rew[t], done = env_step(code, states, 0, min(max(action, action_low), action_high))
        if done:
            return t + 1, True
    return n_steps, False


@njit(parallel=True, cache=True)
def _rollout_batch(env, policy, features, theta, n_steps, seed, phi, mu, act, rew, lengths, terminated):
    for i in prange(lengths.size):
        rng = new_stream(seed, i)
        states, obs = state_buffers(env)
        lengths[i], terminated[i] = sample_trajectory(env, policy, features, theta, n_steps, False, rng,
                                                      states, obs, phi[i], mu[i], act[i], rew[i])


@dataclass
class Trajectories:
    """A batch of n recorded episodes of at most H steps; entries past ``length[i]`` are 0.

    phi: (n, H, d) features; mu: (n, H) policy means; act: (n, H) unclipped actions; rew: (n, H) rewards;
    length: (n,) steps taken; terminated: (n,) whether the environment ended the episode.
    """
    phi: np.ndarray
    mu: np.ndarray
    act: np.ndarray
    rew: np.ndarray
    length: np.ndarray
    terminated: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """(n,) undiscounted return of each episode."""
        return self.rew.sum(axis=1)


def check_theta(theta, d: int) -> np.ndarray:
    """``theta`` as a contiguous float64 array of shape (d,); ValueError naming the expected shape otherwise."""
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if theta.shape != (d,):
        raise ValueError(f"theta: expected shape ({d},) for these features, got {theta.shape}")
    return theta


def rollouts(env: EnvSpec, policy: Policy, theta, n: int, seed: int, n_steps: int | None = None,
             features: Features | None = None) -> Trajectories:
    """``n`` independent episodes of at most ``n_steps`` (default ``env.horizon``) steps, in parallel.

    Episode i uses random stream (seed, i), so it is the same whatever ``n`` is.
    """
    features = features or Features()
    theta = check_theta(theta, features.n_features(env.obs_dim))
    n_steps = env.horizon if n_steps is None else int(n_steps)
    if n < 1 or seed < 0 or not 1 <= n_steps <= env.horizon:
        raise ValueError(f"rollouts: expected n >= 1, seed >= 0 and 1 <= n_steps <= horizon={env.horizon}, "
                         f"got n={n}, seed={seed}, n_steps={n_steps}")
    d = theta.size
    out = Trajectories(np.zeros((n, n_steps, d)), np.zeros((n, n_steps)), np.zeros((n, n_steps)),
                       np.zeros((n, n_steps)), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_))
    _rollout_batch(env.kernel_args(), policy_args(policy), features.kernel_args(), theta, n_steps, int(seed),
                   out.phi, out.mu, out.act, out.rew, out.length, out.terminated)
    return out
