"""GPOMDP policy-gradient estimator with a gamma-discount: brief 06 section 2 ("g is GPOMDP with a gamma-discount").

For one recorded trajectory tau = (s_0, a_0, r_0, ..., s_{T-1}, a_{T-1}, r_{T-1}) and parameters theta,

    g(tau | theta) = sum_{t<T} gamma^t r_t sum_{u<=t} grad_theta log pi_theta(a_u | s_u)        (Baxter & Bartlett 2001)

with grad_theta log pi = score_mu(a_u - theta . phi(s_u)) phi(s_u) for any policy family of
:mod:`repro.pg.policies` (the family is the kernel's ``policy = (kind, sigma, alpha)`` tuple: one estimator for
Gaussian, Cauchy and the rest, no copy per policy). theta need not be the parameter that generated tau: SRMA
evaluates g(tau | theta_{k-1}) on trajectories drawn with theta_k (:mod:`repro.pg.srma`).

Clipped-action (truncated) score, ``score_on="executed"``: the environment receives clip(a_t, -R, R), and an
implementation that records the *executed* action evaluates the score at clip(a_t) instead of the sample a_t. That
estimator is biased for the gradient of the clipped-action objective (the likelihood-ratio identity holds only for the
sampled a_t); its bias ||E g_executed - grad J|| is the "hidden bias" of a Gaussian policy in a box of radius R that
brief 06 claim C1 is about. ``score_on="sample"`` (default) is the unbiased estimator.

Relation to HPG (brief 05): the causal variant of :func:`repro.pg.hpg.hpg_estimate` weights rewards by gamma^(t/2);
with gamma replaced by gamma^2 it is this estimator at theta = the sampling parameter (a test holds them equal).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec
from repro.pg.policies import Policy, score_mu
from repro.pg.rollout import Features, check_theta, policy_args, policy_mean, rollouts


@njit(cache=True)
def gpomdp_estimate(policy, theta, phi, act, rew, length, gamma, score_sum, g_out):
    """Write g(tau | theta) of the trajectory (phi (H, d), act (H,), rew (H,), first ``length`` steps) into ``g_out``
    (d,); ``score_sum`` is (d,) scratch. Returns the discounted return sum_t gamma^t r_t."""
    kind, sigma, alpha = policy
    d = g_out.size
    for j in range(d):
        g_out[j] = 0.0
        score_sum[j] = 0.0
    discount = 1.0
    discounted = 0.0
    for t in range(length):
        score = score_mu(kind, act[t] - policy_mean(theta, phi[t]), sigma, alpha)
        for j in range(d):
            score_sum[j] += score * phi[t, j]
        weighted_reward = discount * rew[t]
        for j in range(d):
            g_out[j] += weighted_reward * score_sum[j]
        discounted += weighted_reward
        discount *= gamma
    return discounted


@njit(parallel=True, cache=True)
def _gpomdp_batch(policy, theta, phi, act, rew, length, gamma, g_out):
    for i in prange(length.size):
        score_sum = np.zeros(theta.size)
        gpomdp_estimate(policy, theta, phi[i], act[i], rew[i], length[i], gamma, score_sum, g_out[i])


def gpomdp_reference(policy: Policy, theta, phi, act, rew, gamma: float) -> np.ndarray:
    """Plain-Python twin of :func:`gpomdp_estimate` on one trajectory given as its T steps (phi rows, actions,
    rewards), summing in the kernel's order so the two agree to the last bit."""
    theta = [float(t) for t in theta]
    score_sum, g = np.zeros(len(theta)), np.zeros(len(theta))
    discount = 1.0
    for phi_t, a_t, r_t in zip(phi, act, rew):
        mean = float(sum(t * p for t, p in zip(theta, phi_t)))
        score_sum += float(policy.score(a_t, mean)) * np.asarray(phi_t, dtype=float)
        g += (discount * r_t) * score_sum
        discount *= gamma
    return g


SCORE_ON = ("sample", "executed")


def gpomdp(env: EnvSpec, policy: Policy, theta, *, n: int, seed: int, gamma: float, n_steps: int | None = None,
           features: Features | None = None, score_on: str = "sample") -> np.ndarray:
    """(n, d) GPOMDP estimates at ``theta`` from ``n`` fresh episodes of at most ``n_steps`` steps (stream (seed, i)
    for episode i, as :func:`repro.pg.rollout.rollouts`). With ``score_on="sample"`` their mean estimates grad J(theta)
    of the gamma-discounted return over ``n_steps`` steps; with ``"executed"`` the score is taken at the action clipped
    to the environment's box (the biased clipped-action estimator). The same seed gives the same episodes for both."""
    if score_on not in SCORE_ON:
        raise ValueError(f"score_on={score_on!r}: expected one of {SCORE_ON}")
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma={gamma!r}: expected a discount in (0, 1)")
    if not policy.has_score:
        raise ValueError(f"policy {policy}: GPOMDP needs a score (stable policies have one only for alpha in {{1, 2}})")
    features = features or Features()
    theta = check_theta(theta, features.n_features(env.obs_dim))
    trajectories = rollouts(env, policy, theta, n, seed, n_steps, features)
    out = np.zeros((n, theta.size))
    act = trajectories.act if score_on == "sample" else np.clip(trajectories.act, env.action_low, env.action_high)
    _gpomdp_batch(policy_args(policy), theta, trajectories.phi, np.ascontiguousarray(act), trajectories.rew,
                  trajectories.length, float(gamma), out)
    return out
