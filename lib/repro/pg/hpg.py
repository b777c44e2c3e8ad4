"""Heavy-tailed policy gradient (HPG), Algorithm 1 of arXiv:2106.08414: brief 05 section 2 "Algorithm 1".

For k = 0 .. K-1, from the start state draw B trajectories with random horizon T ~ Geom(1 - gamma^(1/2)) on
{0, 1, ...} (T+1 actions a_0..a_T, also capped by the environment's horizon and ended early by termination), form

    g_i = ( sum_{u<=T} gamma^(u/2) r_u ) * ( sum_{u<=T} grad log pi(a_u | s_u) )              (eq. 4.2, our form)
    g_i = sum_{t<=T} gamma^(t/2) r_t * sum_{u<=t} grad log pi(a_u | s_u)          (causal variant, ``causal=True``)

with grad log pi = score_mu(a - mu) phi(s) on the unclipped action, and ascend theta_{k+1} = theta_k + eta mean_i g_i
with a constant step eta. a_0 is drawn from the policy at s_0 (documented deviation from a fixed a_0).

Many seeds run in one numba call (parallel over seeds). Seed s uses random streams (s, 0) for training and (s, 1)
for evaluation only, so a seed's results are identical alone or in any batch, and switching evaluation on or off
does not change training.

Outputs per iteration: theta_k, every per-trajectory estimate g_{k,i} (for the tail-index estimator), the
undiscounted return of every training trajectory (over its random horizon), and -- every ``eval_every`` iterations
-- the undiscounted returns of ``n_eval`` evaluation episodes run to termination or the horizon cap with theta_k.
:func:`hpg_reference` is the plain-Python twin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec, env_observe_reference, env_step_reference
from repro.pg.policies import Policy, ReferenceStream, geometric_horizon, new_stream, score_mu
from repro.pg.rollout import (FEATURES_LINEAR, Features, check_theta, policy_args, sample_trajectory, state_buffers,
                              trajectory_buffers)


@njit(cache=True)
def hpg_estimate(policy, phi, mu, act, rew, length, gamma, causal, score_sum, g_out):
    """Write the eq. 4.2 estimate of one recorded trajectory into ``g_out``; ``score_sum`` is (d,) scratch.

    Returns the discounted return sum_u gamma^(u/2) r_u.
    """
    kind, sigma, alpha = policy
    d = g_out.size
    for j in range(d):
        g_out[j] = 0.0
        score_sum[j] = 0.0
    root = math.sqrt(gamma)
    weight = 1.0
    discounted = 0.0
    for u in range(length):
        score = score_mu(kind, act[u] - mu[u], sigma, alpha)
        for j in range(d):
            score_sum[j] += score * phi[u, j]
        discounted += weight * rew[u]
        if causal:
            for j in range(d):
                g_out[j] += weight * rew[u] * score_sum[j]
        weight *= root
    if not causal:
        for j in range(d):
            g_out[j] = discounted * score_sum[j]
    return discounted


@njit(cache=True)
def evaluate_returns(env, policy, features, theta, greedy, rng, states, obs, phi, mu, act, rew, returns_out):
    """Undiscounted returns of ``returns_out.size`` episodes under ``theta`` (to termination or the horizon cap,
    the mean action when ``greedy``), drawn in turn from stream ``rng``, into ``returns_out``; the other arrays are
    the work buffers of :func:`repro.pg.rollout.sample_trajectory`. Used by HPG and SRMA (:mod:`repro.pg.srma`)."""
    for e in range(returns_out.size):
        length, _ = sample_trajectory(env, policy, features, theta, env[5], greedy, rng, states, obs, phi, mu, act,
                                      rew)
        returns_out[e] = rew[:length].sum()


@njit(cache=True)
def hpg_run(seed, env, policy, features, theta0, gamma, step_size, batch_size, causal, eval_every, eval_greedy,
            theta_out, grads_out, train_return_out, eval_return_out):
    """One HPG run of K = grads_out.shape[0] iterations with random streams (seed, 0) and (seed, 1).

    theta_out (K+1, d), grads_out (K, B, d), train_return_out (K, B), eval_return_out (E, n_eval) are written.
    """
    n_iterations, d = grads_out.shape[0], grads_out.shape[2]
    horizon = env[5]
    train_rng = new_stream(seed, 0)
    eval_rng = new_stream(seed, 1)
    states, obs = state_buffers(env)
    phi, mu, act, rew = trajectory_buffers(env, d)
    score_sum = np.zeros(d)
    theta = theta0.copy()
    for k in range(n_iterations):
        theta_out[k] = theta
        if eval_every > 0 and k % eval_every == 0:
            evaluate_returns(env, policy, features, theta, eval_greedy, eval_rng, states, obs, phi, mu, act, rew,
                             eval_return_out[k // eval_every])
        step = np.zeros(d)
        for i in range(batch_size):
            n_steps = min(geometric_horizon(train_rng, gamma) + 1, horizon)
            length, _ = sample_trajectory(env, policy, features, theta, n_steps, False, train_rng, states, obs,
                                          phi, mu, act, rew)
            hpg_estimate(policy, phi, mu, act, rew, length, gamma, causal, score_sum, grads_out[k, i])
            train_return_out[k, i] = rew[:length].sum()
            step += grads_out[k, i]
        theta = theta + step_size * (step / batch_size)
    theta_out[n_iterations] = theta


@njit(parallel=True, cache=True)
def _hpg_batch(seeds, env, policy, features, theta0, gamma, step_size, batch_size, causal, eval_every, eval_greedy,
               theta_out, grads_out, train_return_out, eval_return_out):
    for r in prange(seeds.size):
        hpg_run(seeds[r], env, policy, features, theta0, gamma, step_size, batch_size, causal, eval_every,
                eval_greedy, theta_out[r], grads_out[r], train_return_out[r], eval_return_out[r])


@njit(parallel=True, cache=True)
def _gradient_at(env, policy, features, thetas, n_trajectories, gamma, causal, seed, mean_out, se_out):
    for p in prange(thetas.shape[0]):
        rng = new_stream(seed, p)
        d = thetas.shape[1]
        states, obs = state_buffers(env)
        phi, mu, act, rew = trajectory_buffers(env, d)
        g, score_sum, total, total_sq = np.zeros(d), np.zeros(d), np.zeros(d), np.zeros(d)
        for _ in range(n_trajectories):
            n_steps = min(geometric_horizon(rng, gamma) + 1, env[5])
            length, _ = sample_trajectory(env, policy, features, thetas[p], n_steps, False, rng, states, obs, phi,
                                          mu, act, rew)
            hpg_estimate(policy, phi, mu, act, rew, length, gamma, causal, score_sum, g)
            total += g
            total_sq += g * g
        mean_out[p] = total / n_trajectories
        variance = np.maximum(total_sq / n_trajectories - mean_out[p] ** 2, 0.0)
        se_out[p] = np.sqrt(variance / max(n_trajectories - 1, 1))


def gradient_at(env: EnvSpec, policy: Policy, thetas, *, n_trajectories: int, gamma: float, seed: int,
                causal: bool = False, features: Features | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo estimate of grad J(theta) at every row of ``thetas`` (m, d): the mean of ``n_trajectories``
    eq. 4.2 estimates (unbiased, brief section 2) and its standard error, both (m, d). Row p uses stream (seed, p).
    Used to measure E||grad J(theta_k)|| along HPG runs (Theorem 5.2, claim C5) instead of the noisy ||g_k||."""
    features = features or Features()
    d = features.n_features(env.obs_dim)
    thetas = np.ascontiguousarray(thetas, dtype=np.float64)
    if thetas.ndim != 2 or thetas.shape[1] != d:
        raise ValueError(f"thetas: expected shape (m, {d}), got {thetas.shape}")
    _validated(env, policy, [seed], 1, 1, gamma, 1.0, None, features, 0, 0)
    if int(n_trajectories) < 2:
        raise ValueError(f"n_trajectories={n_trajectories}: expected >= 2")
    mean, se = np.zeros_like(thetas), np.zeros_like(thetas)
    _gradient_at(env.kernel_args(), policy_args(policy), features.kernel_args(), thetas, int(n_trajectories),
                 float(gamma), bool(causal), int(seed), mean, se)
    return mean, se


def debiased_norm(mean: np.ndarray, se: np.ndarray) -> np.ndarray:
    """sqrt(max(||mean||^2 - ||se||^2, 0)) over the last axis: ||grad J|| without the noise floor that a finite
    Monte-Carlo mean adds to its squared norm (E||mean||^2 = ||grad J||^2 + sum of the variances of the mean)."""
    return np.sqrt(np.maximum((np.asarray(mean) ** 2 - np.asarray(se) ** 2).sum(axis=-1), 0.0))


@dataclass
class HPGResult:
    """Per-seed HPG histories (n = number of seeds, K iterations, B batch, d parameters, E evaluations).

    theta: (n, K+1, d), theta[r, k] is the parameter used at iteration k (theta[r, K] the final one);
    grads: (n, K, B, d), grads[r, k, i] is the estimate g_{k,i} of trajectory i at iteration k;
    train_return: (n, K, B) undiscounted return of each training trajectory (random horizon);
    eval_iterations: (E,) iterations at which evaluation ran; eval_return: (n, E, n_eval) undiscounted returns of
    evaluation episodes (to termination or the horizon cap) under theta at those iterations.
    """
    seeds: np.ndarray
    theta: np.ndarray
    grads: np.ndarray
    train_return: np.ndarray
    eval_iterations: np.ndarray
    eval_return: np.ndarray

    @property
    def grad_estimate(self) -> np.ndarray:
        """(n, K, d) the batch-mean estimate g_k used in the update."""
        return self.grads.mean(axis=2)

    @property
    def grad_norm(self) -> np.ndarray:
        """(n, K) Euclidean norm of g_k."""
        return np.linalg.norm(self.grad_estimate, axis=2)


def check_run_options(env: EnvSpec, seeds, gamma, step_size, eval_every, n_eval, theta0,
                      features: Features | None) -> tuple[np.ndarray, Features, np.ndarray]:
    """The checks HPG and SRMA share; returns (seeds as int64, features (default [obs, 1]), theta0 (default 0))."""
    seeds = np.asarray(seeds, dtype=np.int64).ravel()
    if seeds.size == 0 or (seeds < 0).any():
        raise ValueError(f"seeds={seeds.tolist()}: expected at least one seed, all >= 0")
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma={gamma!r}: expected a discount in (0, 1)")
    if not (math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size={step_size!r}: expected a finite number > 0")
    if int(eval_every) < 0 or int(n_eval) < 0 or (eval_every > 0) != (n_eval > 0):
        raise ValueError(f"eval_every={eval_every}, n_eval={n_eval}: expected both 0 (no evaluation) or both >= 1")
    features = features or Features()
    d = features.n_features(env.obs_dim)
    theta0 = np.zeros(d) if theta0 is None else check_theta(theta0, d)
    return seeds, features, theta0


def evaluation_iterations(n_iterations: int, eval_every: int) -> np.ndarray:
    """(E,) int64 iterations k = 0, eval_every, 2 eval_every, ... < n_iterations at which theta_k is evaluated
    (none when ``eval_every`` is 0)."""
    if int(eval_every) <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, int(n_iterations), int(eval_every), dtype=np.int64)


def _validated(env, policy, seeds, n_iterations, batch_size, gamma, step_size, theta0, features, eval_every,
               n_eval):
    if not policy.has_score:
        raise ValueError(f"policy {policy}: HPG needs a score; the stable policy has one only for alpha in {{1, 2}} "
                         f"(use kind='gen_gaussian' for a moderate tail)")
    if int(n_iterations) < 1 or int(batch_size) < 1:
        raise ValueError(f"expected n_iterations >= 1 and batch_size >= 1, got {n_iterations} and {batch_size}")
    return check_run_options(env, seeds, gamma, step_size, eval_every, n_eval, theta0, features)


def hpg(env: EnvSpec, policy: Policy, *, seeds, n_iterations: int, batch_size: int, gamma: float, step_size: float,
        theta0=None, causal: bool = False, features: Features | None = None, eval_every: int = 0, n_eval: int = 0,
        eval_greedy: bool = False) -> HPGResult:
    """Run Algorithm 1 for every seed in ``seeds`` (in parallel); theta0 defaults to zeros.

    eval_every/n_eval: evaluate theta_k at k = 0, eval_every, ... with n_eval episodes (0/0: no evaluation);
    eval_greedy: evaluation takes the mean action instead of sampling.
    """
    seeds, features, theta0 = _validated(env, policy, seeds, n_iterations, batch_size, gamma, step_size, theta0,
                                         features, eval_every, n_eval)
    n, d, K, B = seeds.size, theta0.size, int(n_iterations), int(batch_size)
    eval_iterations = evaluation_iterations(K, eval_every)
    result = HPGResult(seeds, np.zeros((n, K + 1, d)), np.zeros((n, K, B, d)), np.zeros((n, K, B)), eval_iterations,
                       np.zeros((n, eval_iterations.size, int(n_eval))))
    _hpg_batch(seeds, env.kernel_args(), policy_args(policy), features.kernel_args(), theta0, float(gamma),
               float(step_size), B, bool(causal), int(eval_every), bool(eval_greedy),
               result.theta, result.grads, result.train_return, result.eval_return)
    return result


# ---------------------------------------------------------------- plain-Python twin
def episode_reference(env: EnvSpec, policy: Policy, features: Features, theta, n_steps: int, greedy: bool,
                      rng: ReferenceStream) -> list[tuple]:
    """Plain-Python twin of :func:`repro.pg.rollout.sample_trajectory`: the list of (phi_t, mu_t, a_t, r_t)."""
    state = [lo + (hi - lo) * rng.uniform() if hi > lo else lo for lo, hi in zip(env.start_low, env.start_high)]
    steps = []
    for _ in range(n_steps):
        obs = np.array(env_observe_reference(env.code, state), dtype=float)
        if features.kind == FEATURES_LINEAR:
            phi = np.append(obs, 1.0)
        else:  # summed in the kernel's order so the twin matches to the last bit
            m = features.proj.shape[0]
            phi = np.array([math.sqrt(2.0 / m) * math.cos(sum((p * o for p, o in zip(features.proj[j], obs)),
                                                               features.offset[j])) for j in range(m)])
        mean = float(sum(t * p for t, p in zip(theta, phi)))
        action = mean if greedy else mean + rng.deviation(policy.code, policy.sigma, policy.tail)
        state, reward, done = env_step_reference(env.code, state, min(max(action, env.action_low), env.action_high))
        steps.append((phi, mean, action, reward))
        if done:
            break
    return steps


def evaluate_returns_reference(env: EnvSpec, policy: Policy, features: Features, theta, greedy: bool,
                               rng: ReferenceStream, n_episodes: int) -> list[float]:
    """Plain-Python twin of :func:`evaluate_returns`: the undiscounted returns of ``n_episodes`` episodes."""
    return [sum(r for *_, r in episode_reference(env, policy, features, theta, env.horizon, greedy, rng))
            for _ in range(n_episodes)]


def hpg_reference(env: EnvSpec, policy: Policy, *, seed: int, n_iterations: int, batch_size: int, gamma: float,
                  step_size: float, theta0=None, causal: bool = False, features: Features | None = None,
                  eval_every: int = 0, n_eval: int = 0, eval_greedy: bool = False) -> HPGResult:
    """Algorithm 1 for one seed in plain Python (slow; same numbers as :func:`hpg`)."""
    seeds, features, theta = _validated(env, policy, [seed], n_iterations, batch_size, gamma, step_size, theta0,
                                        features, eval_every, n_eval)
    train_rng, eval_rng = ReferenceStream(seed, 0), ReferenceStream(seed, 1)
    thetas, grads, train_returns, eval_returns = [], [], [], []
    for k in range(n_iterations):
        thetas.append(theta.copy())
        if eval_every and k % eval_every == 0:
            eval_returns.append(evaluate_returns_reference(env, policy, features, theta, eval_greedy, eval_rng,
                                                           n_eval))
        batch, batch_returns = [], []
        for _ in range(batch_size):
            n_steps = min(train_rng.geometric_horizon(gamma) + 1, env.horizon)
            steps = episode_reference(env, policy, features, theta, n_steps, False, train_rng)
            scores = [score_mu(policy.code, a - m, policy.sigma, policy.tail) * phi for phi, m, a, _ in steps]
            weights = [1.0]
            for _ in steps[1:]:
                weights.append(weights[-1] * math.sqrt(gamma))
            rewards = [r for *_, r in steps]
            if causal:
                g = sum(w * r * sum(scores[:t + 1]) for t, (w, r) in enumerate(zip(weights, rewards)))
            else:
                g = sum(w * r for w, r in zip(weights, rewards)) * sum(scores)
            batch.append(np.zeros(theta.size) + g)
            batch_returns.append(sum(rewards))
        grads.append(batch)
        train_returns.append(batch_returns)
        theta = theta + step_size * (sum(batch, np.zeros(theta.size)) / batch_size)
    thetas.append(theta)
    eval_iterations = evaluation_iterations(n_iterations, eval_every)
    return HPGResult(seeds, np.array([thetas]), np.array([grads]), np.array([train_returns]), eval_iterations,
                     np.array(eval_returns, dtype=float).reshape(1, eval_iterations.size, n_eval))
