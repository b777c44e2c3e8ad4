"""Stochastic Recursive Mirror Ascent (SRMA) and mirror ascent without tracking: brief 06 section 2 "SRMA".

The exact recursion of arXiv:2201.12332 is not in what we could read; this is the SARAH/STORM-type recursive policy
gradient with importance sampling plus a mirror step that the paper's wording describes [our choice]:

    v_0     = (1/B0) sum_{tau ~ pi_theta_0} g(tau | theta_0)                                   (B0 = 50 trajectories)
    v_k     = v_{k-1} + (1/B) sum_{tau ~ pi_theta_k} [ g(tau | theta_k) - w(tau) g(tau | theta_{k-1}) ]
    w(tau)  = prod_t pi_theta_{k-1}(a_t | s_t) / pi_theta_k(a_t | s_t)     (summed in log-space, clipped to [0, 5])
    grad psi(theta_{k+1}) = grad psi(theta_k) + eta v_k                               (constant eta and B)

g is GPOMDP with a gamma-discount (:mod:`repro.pg.gpomdp`) on episodes of at most ``n_steps`` steps. Every
``restart_every`` iterations (SRVR-style safeguard; 0 = never) v_k is recomputed from B0 fresh trajectories.
With ``tracking=False`` the update is plain (stochastic) mirror ascent, v_k = (1/B) sum g(tau | theta_k): the
"mirror ascent without tracking" baseline, and with the Euclidean map and a Gaussian policy the Gaussian
REINFORCE/GPOMDP baseline.

Mirror maps (``p``): psi = 1/2 ||theta||_p^2 with
    grad psi(theta)_i    = sign(theta_i) |theta_i|^(p-1) ||theta||_p^(2-p),
    grad psi^*(y)_i      = sign(y_i) |y_i|^(q-1) ||y||_q^(2-q),   1/p + 1/q = 1;
p = 2 is psi = 1/2 ||theta||^2 (plain gradient ascent); the brief's p-norm map takes p = 1 + 1/log d.

Importance weights: a weight above the cap (5) is clipped and counted as *overflowing*; a weight below
``VANISHING_WEIGHT`` (1e-6, our choice) is counted as *vanishing* (its correction term is effectively dropped).
Per tracked iteration the weights' effective sample size is reported as a share of the batch,
ESS/B = (sum_i w_i)^2 / (B sum_i w_i^2) in [1/B, 1] (Kong 1992; 1: every weight equal, the old and new policies
agree on the batch; 1/B: one trajectory carries the whole correction; 0 when every weight underflows to 0), NaN
at fresh (restart) iterations. The environment steps drawn at every iteration (B0 at k = 0 and at restarts) are
counted, so budgets can be matched.
A NaN or inf in v_k or theta_{k+1} stops the run: :func:`srma` raises :class:`DivergenceError` naming the seed and
iteration.

Random streams as in HPG: seed s draws training episodes from stream (s, 0) and evaluation episodes from (s, 1), so a
seed's run is the same alone or in any batch. :func:`srma_reference` is the plain-Python twin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec
from repro.pg.gpomdp import gpomdp_estimate, gpomdp_reference
from repro.pg.hpg import (check_run_options, episode_reference, evaluate_returns, evaluate_returns_reference,
                          evaluation_iterations)
from repro.pg.policies import Policy, ReferenceStream, log_density, new_stream
from repro.pg.rollout import Features, policy_args, policy_mean, sample_trajectory, state_buffers, trajectory_buffers

WEIGHT_CAP = 5.0
VANISHING_WEIGHT = 1e-6
EUCLIDEAN_P = 2.0
N_WEIGHT_STATS = 3   # per seed: [weights computed, overflowing (clipped at the cap), vanishing]


class DivergenceError(FloatingPointError):
    """An SRMA update produced NaN or inf; ``failures`` lists (seed, iteration) of every diverged run."""

    def __init__(self, failures: list[tuple[int, int]], step_size: float):
        self.failures = failures
        runs = ", ".join(f"seed {seed} at iteration {k}" for seed, k in failures)
        super().__init__(f"SRMA diverged (NaN or inf in the update, step_size={step_size:g}): {runs}")


def pnorm_exponent(d: int) -> float:
    """The brief's p = 1 + 1/log d for a d-dimensional parameter (d >= 2)."""
    if d < 2:
        raise ValueError(f"p-norm mirror map: needs d >= 2 parameters, got d={d}")
    return 1.0 + 1.0 / math.log(d)


# ---------------------------------------------------------------- kernels
@njit(cache=True)
def mirror_gradient(x, p, out):
    """out = grad of 1/2 ||x||_p^2 at x (the map to the dual space; the identity for p = 2)."""
    if p == EUCLIDEAN_P:
        out[:] = x
        return
    norm = 0.0
    for i in range(x.size):
        norm += abs(x[i]) ** p
    if norm == 0.0:
        out[:] = 0.0
        return
    scale = norm ** ((2.0 - p) / p)
    for i in range(x.size):
        out[i] = math.copysign(abs(x[i]) ** (p - 1.0), x[i]) * scale


@njit(cache=True)
def mirror_inverse(y, p, out):
    """out = grad psi^*(y), the inverse of :func:`mirror_gradient` with exponent p (the q-norm map, 1/p + 1/q = 1)."""
    mirror_gradient(y, p / (p - 1.0) if p != EUCLIDEAN_P else EUCLIDEAN_P, out)


@njit(cache=True)
def log_likelihood_ratio(policy, theta_num, theta_den, phi, act, length):
    """sum_t log pi_theta_num(a_t | s_t) - log pi_theta_den(a_t | s_t) over the first ``length`` steps."""
    kind, sigma, alpha = policy
    total = 0.0
    for t in range(length):
        total += (log_density(kind, act[t] - policy_mean(theta_num, phi[t]), sigma, alpha)
                  - log_density(kind, act[t] - policy_mean(theta_den, phi[t]), sigma, alpha))
    return total


@njit(cache=True)
def clipped_weight(log_w, cap, stats):
    """exp(log_w) clipped to [0, cap]; counts it in stats = [computed, overflowing, vanishing]."""
    stats[0] += 1
    if log_w > math.log(cap):
        stats[1] += 1
        return cap
    w = math.exp(log_w)
    if w < VANISHING_WEIGHT:
        stats[2] += 1
    return w


@njit(cache=True)
def effective_sample_share(w_sum, w_sq, n):
    """ESS/n = (sum w)^2 / (n sum w^2) of n importance weights given their sum and sum of squares (0 if all are 0)."""
    return 0.0 if w_sq == 0.0 else w_sum * w_sum / (n * w_sq)


@njit(cache=True)
def _all_finite(x):
    for i in range(x.size):
        if not math.isfinite(x[i]):
            return False
    return True


@njit(cache=True)
def srma_run(seed, env, policy, features, theta0, gamma, step_size, batch_size, initial_batch, restart_every,
             tracking, n_steps, p, weight_cap, eval_every, eval_greedy, theta_out, direction_out, batch_return_out,
             steps_out, ess_out, eval_return_out, weight_stats):
    """One SRMA (or, with ``tracking`` False, plain mirror ascent) run of K = direction_out.shape[0] iterations.

    theta_out (K+1, d), direction_out (K, d) = v_k, batch_return_out (K,) mean undiscounted return of iteration k's
    fresh episodes, steps_out (K,) environment steps drawn at iteration k, ess_out (K,) the importance weights'
    ESS/B (NaN at fresh iterations), eval_return_out (E, n_eval), weight_stats (3,) are written. Returns -1, or the
    iteration at which v_k or theta_{k+1} stopped being finite (the run stops there).
    """
    n_iterations, d = direction_out.shape[0], direction_out.shape[1]
    train_rng = new_stream(seed, 0)
    eval_rng = new_stream(seed, 1)
    states, obs = state_buffers(env)
    phi, mu, act, rew = trajectory_buffers(env, d)
    score_sum, g_new, g_old = np.zeros(d), np.zeros(d), np.zeros(d)
    theta, theta_prev, v, dual = theta0.copy(), theta0.copy(), np.zeros(d), np.zeros(d)
    mirror_gradient(theta, p, dual)
    for k in range(n_iterations):
        theta_out[k] = theta
        if eval_every > 0 and k % eval_every == 0:
            evaluate_returns(env, policy, features, theta, eval_greedy, eval_rng, states, obs, phi, mu, act, rew,
                             eval_return_out[k // eval_every])
        fresh = (not tracking) or k == 0 or (restart_every > 0 and k % restart_every == 0)
        n_batch = batch_size if (not tracking or not fresh) else initial_batch
        if fresh:
            v[:] = 0.0
        total_return, n_drawn, w_sum, w_sq = 0.0, 0, 0.0, 0.0
        for _ in range(n_batch):
            length, _ = sample_trajectory(env, policy, features, theta, n_steps, False, train_rng, states, obs,
                                          phi, mu, act, rew)
            total_return += rew[:length].sum()
            n_drawn += length
            gpomdp_estimate(policy, theta, phi, act, rew, length, gamma, score_sum, g_new)
            if fresh:
                v += g_new / n_batch
            else:
                gpomdp_estimate(policy, theta_prev, phi, act, rew, length, gamma, score_sum, g_old)
                w = clipped_weight(log_likelihood_ratio(policy, theta_prev, theta, phi, act, length), weight_cap,
                                   weight_stats)
                w_sum += w
                w_sq += w * w
                v += (g_new - w * g_old) / n_batch
        batch_return_out[k] = total_return / n_batch
        steps_out[k] = n_drawn
        ess_out[k] = math.nan if fresh else effective_sample_share(w_sum, w_sq, n_batch)
        direction_out[k] = v
        if not _all_finite(v):
            return k
        dual += step_size * v
        theta_prev[:] = theta
        mirror_inverse(dual, p, theta)
        if not _all_finite(theta):
            return k
    theta_out[n_iterations] = theta
    return -1


@njit(parallel=True, cache=True)
def _srma_batch(seeds, env, policy, features, theta0, gamma, step_size, batch_size, initial_batch, restart_every,
                tracking, n_steps, p, weight_cap, eval_every, eval_greedy, theta_out, direction_out,
                batch_return_out, steps_out, ess_out, eval_return_out, weight_stats, status):
    for r in prange(seeds.size):
        status[r] = srma_run(seeds[r], env, policy, features, theta0, gamma, step_size, batch_size, initial_batch,
                             restart_every, tracking, n_steps, p, weight_cap, eval_every, eval_greedy, theta_out[r],
                             direction_out[r], batch_return_out[r], steps_out[r], ess_out[r], eval_return_out[r],
                             weight_stats[r])


# ---------------------------------------------------------------- Python API
@dataclass
class SRMAResult:
    """Per-seed SRMA histories (n seeds, K iterations, d parameters, E evaluations of n_eval episodes).

    theta: (n, K+1, d), theta[r, k] is the parameter used at iteration k (theta[r, K] the final one);
    direction: (n, K, d), the v_k used in the update at iteration k (the tracked gradient for SRMA, the plain
    estimate without tracking); batch_return: (n, K) mean undiscounted return of iteration k's fresh episodes;
    steps: (n, K) environment steps drawn at iteration k (B0 episodes at k = 0 and at restarts, B otherwise);
    ess_share: (n, K) the importance weights' ESS/B at iteration k (NaN at fresh iterations);
    eval_iterations: (E,); eval_return: (n, E, n_eval) undiscounted returns of evaluation episodes (to termination or
    the horizon cap); weights_computed / weights_overflowing / weights_vanishing: (n,) importance-weight counts.
    """
    seeds: np.ndarray
    theta: np.ndarray
    direction: np.ndarray
    batch_return: np.ndarray
    eval_iterations: np.ndarray
    eval_return: np.ndarray
    weights_computed: np.ndarray
    weights_overflowing: np.ndarray
    weights_vanishing: np.ndarray
    steps: np.ndarray
    ess_share: np.ndarray

    @property
    def direction_norm(self) -> np.ndarray:
        """(n, K) Euclidean norm of v_k."""
        return np.linalg.norm(self.direction, axis=2)


def _validated(env, policy, seeds, n_iterations, batch_size, initial_batch, step_size, gamma, restart_every, p,
               n_steps, theta0, features, eval_every, n_eval, weight_cap):
    if not policy.has_score:
        raise ValueError(f"policy {policy}: SRMA needs a score and a density (stable policies have them only for "
                         f"alpha in {{1, 2}})")
    for name, value in [("n_iterations", n_iterations), ("batch_size", batch_size),
                        ("initial_batch", initial_batch)]:
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value!r}: expected an integer >= 1")
    if int(restart_every) != restart_every or restart_every < 0:
        raise ValueError(f"restart_every={restart_every!r}: expected an integer >= 0 (0: never restart)")
    if not (math.isfinite(weight_cap) and weight_cap > 0):
        raise ValueError(f"weight_cap={weight_cap!r}: expected a finite number > 0")
    n_steps = env.horizon if n_steps is None else n_steps
    if int(n_steps) != n_steps or not 1 <= n_steps <= env.horizon:
        raise ValueError(f"n_steps={n_steps!r}: expected an integer in [1, horizon={env.horizon}]")
    seeds, features, theta0 = check_run_options(env, seeds, gamma, step_size, eval_every, n_eval, theta0, features)
    p = EUCLIDEAN_P if p is None else (pnorm_exponent(theta0.size) if p == "auto" else p)
    if not (isinstance(p, (int, float)) and math.isfinite(p) and p > 1):
        raise ValueError(f"p={p!r}: expected None (Euclidean), 'auto' (1 + 1/log d) or a number > 1")
    return seeds, features, theta0, float(p), int(n_steps)


def srma(env: EnvSpec, policy: Policy, *, seeds, n_iterations: int, batch_size: int = 10, initial_batch: int = 50,
         step_size: float = 1e-3, gamma: float = 0.97, restart_every: int = 20, tracking: bool = True, p=None,
         n_steps: int | None = None, theta0=None, features: Features | None = None, eval_every: int = 0,
         n_eval: int = 0, eval_greedy: bool = False, weight_cap: float = WEIGHT_CAP) -> SRMAResult:
    """Run SRMA (``tracking=True``) or mirror ascent without tracking for every seed in ``seeds`` (in parallel).

    p: None for psi = 1/2 ||theta||^2, ``"auto"`` for the p-norm map with p = 1 + 1/log d, or a number > 1;
    n_steps: episode length cap of the training episodes (default: the environment's horizon);
    restart_every: recompute v_k from ``initial_batch`` fresh episodes every this many iterations (0: never);
    eval_every/n_eval: evaluate theta_k at k = 0, eval_every, ... with n_eval episodes (0/0: none).
    Raises DivergenceError if any seed's update becomes NaN or inf.
    """
    seeds, features, theta0, p, n_steps = _validated(env, policy, seeds, n_iterations, batch_size, initial_batch,
                                                     step_size, gamma, restart_every, p, n_steps, theta0, features,
                                                     eval_every, n_eval, weight_cap)
    n, d, K = seeds.size, theta0.size, int(n_iterations)
    eval_iterations = evaluation_iterations(K, eval_every)
    theta, direction = np.zeros((n, K + 1, d)), np.zeros((n, K, d))
    batch_return, eval_return = np.zeros((n, K)), np.zeros((n, eval_iterations.size, int(n_eval)))
    steps, ess = np.zeros((n, K), dtype=np.int64), np.full((n, K), np.nan)
    stats, status = np.zeros((n, N_WEIGHT_STATS), dtype=np.int64), np.full(n, -1, dtype=np.int64)
    _srma_batch(seeds, env.kernel_args(), policy_args(policy), features.kernel_args(), theta0, float(gamma),
                float(step_size), int(batch_size), int(initial_batch), int(restart_every), bool(tracking), n_steps, p,
                float(weight_cap), int(eval_every), bool(eval_greedy), theta, direction, batch_return, steps, ess,
                eval_return, stats, status)
    diverged = [(int(seeds[r]), int(status[r])) for r in range(n) if status[r] >= 0]
    if diverged:
        raise DivergenceError(diverged, step_size)
    return SRMAResult(seeds, theta, direction, batch_return, eval_iterations, eval_return, stats[:, 0].copy(),
                      stats[:, 1].copy(), stats[:, 2].copy(), steps, ess)


# ---------------------------------------------------------------- plain-Python twin
def mirror_gradient_reference(x, p: float) -> np.ndarray:
    """NumPy twin of :func:`mirror_gradient`."""
    x = np.asarray(x, dtype=float)
    if p == EUCLIDEAN_P:
        return x.copy()
    norm = float(sum(abs(v) ** p for v in x))
    if norm == 0.0:
        return np.zeros_like(x)
    return np.array([math.copysign(abs(v) ** (p - 1.0), v) for v in x]) * norm ** ((2.0 - p) / p)


def mirror_inverse_reference(y, p: float) -> np.ndarray:
    """NumPy twin of :func:`mirror_inverse`."""
    return mirror_gradient_reference(y, p / (p - 1.0) if p != EUCLIDEAN_P else EUCLIDEAN_P)


def srma_reference(env: EnvSpec, policy: Policy, *, seed: int, n_iterations: int, batch_size: int = 10,
                   initial_batch: int = 50, step_size: float = 1e-3, gamma: float = 0.97, restart_every: int = 20,
                   tracking: bool = True, p=None, n_steps: int | None = None, theta0=None,
                   features: Features | None = None, eval_every: int = 0, n_eval: int = 0, eval_greedy: bool = False,
                   weight_cap: float = WEIGHT_CAP) -> SRMAResult:
    """SRMA for one seed in plain Python/NumPy (slow; the same numbers as :func:`srma`)."""
    seeds, features, theta, p, n_steps = _validated(env, policy, [seed], n_iterations, batch_size, initial_batch,
                                                    step_size, gamma, restart_every, p, n_steps, theta0, features,
                                                    eval_every, n_eval, weight_cap)
    train_rng, eval_rng = ReferenceStream(seed, 0), ReferenceStream(seed, 1)
    dual, theta_prev, v = mirror_gradient_reference(theta, p), theta.copy(), np.zeros(theta.size)
    thetas, directions, batch_returns, eval_returns, steps_drawn, ess = [], [], [], [], [], []
    computed = overflowing = vanishing = 0
    for k in range(n_iterations):
        thetas.append(theta.copy())
        if eval_every and k % eval_every == 0:
            eval_returns.append(evaluate_returns_reference(env, policy, features, theta, eval_greedy, eval_rng,
                                                           n_eval))
        fresh = not tracking or k == 0 or (restart_every > 0 and k % restart_every == 0)
        n_batch = batch_size if (not tracking or not fresh) else initial_batch
        if fresh:
            v = np.zeros(theta.size)
        returns, lengths, weights = [], [], []
        for _ in range(n_batch):
            steps = episode_reference(env, policy, features, theta, n_steps, False, train_rng)
            phi, act, rew = [s[0] for s in steps], [s[2] for s in steps], [s[3] for s in steps]
            returns.append(sum(rew))
            lengths.append(len(steps))
            g_new = gpomdp_reference(policy, theta, phi, act, rew, gamma)
            if fresh:
                v = v + g_new / n_batch
                continue
            g_old = gpomdp_reference(policy, theta_prev, phi, act, rew, gamma)
            log_w = 0.0
            for phi_t, a_t in zip(phi, act):
                mu_old = float(sum(t * f for t, f in zip(theta_prev, phi_t)))
                mu_new = float(sum(t * f for t, f in zip(theta, phi_t)))
                log_w += float(policy.log_density(a_t, mu_old)) - float(policy.log_density(a_t, mu_new))
            computed += 1
            if log_w > math.log(weight_cap):
                w, overflowing = weight_cap, overflowing + 1
            else:
                w = math.exp(log_w)
                vanishing += w < VANISHING_WEIGHT
            weights.append(w)
            v = v + (g_new - w * g_old) / n_batch
        batch_returns.append(sum(returns) / n_batch)
        steps_drawn.append(sum(lengths))
        w_sq = sum(w * w for w in weights)
        ess.append(math.nan if fresh else (0.0 if w_sq == 0.0 else sum(weights) ** 2 / (n_batch * w_sq)))
        directions.append(v.copy())
        if not (np.isfinite(v).all()):
            raise DivergenceError([(seed, k)], step_size)
        dual = dual + step_size * v
        theta_prev, theta = theta, mirror_inverse_reference(dual, p)
        if not np.isfinite(theta).all():
            raise DivergenceError([(seed, k)], step_size)
    thetas.append(theta)
    eval_iterations = evaluation_iterations(n_iterations, eval_every)
    return SRMAResult(seeds, np.array([thetas]), np.array([directions]), np.array([batch_returns]), eval_iterations,
                      np.array(eval_returns, dtype=float).reshape(1, eval_iterations.size, n_eval),
                      np.array([computed]), np.array([overflowing]), np.array([vanishing]),
                      np.array([steps_drawn], dtype=np.int64), np.array([ess], dtype=float))
