"""The experiments of brief 06 (arXiv:2201.12332, policy mirror ascent) as sweep tasks, for notebooks/mirror-ascent.

Each task is a plain function of (settings..., seed) returning a dict of scalars and arrays, so
:func:`repro.sweep.sweep` can run the grid of environments x methods x seeds on a Dask cluster:

* :func:`run_method`: one training run of one method (section 3 baselines and SRMA variants) on one environment,
  followed by an evaluation of the iterates at checkpoints (claims C2-C4, figures 3-6);
* :func:`radius_run`: Gaussian PG on PMC with the action box [-R, R] (claim C1, figure 1).

Evaluation [our choice]: every ``eval_every`` iterations theta_k is evaluated by ``n_eval`` fresh episodes run to
termination or the horizon cap, from random streams (EVAL_SEED_OFFSET + seed, i) shared by all methods (common
random numbers), reporting the gamma-discounted return sum_t gamma^t r_t -- J(theta), the objective every method
ascends (HPG's random-horizon estimate has the same expectation) -- and the undiscounted return.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from repro.pg.envs import make_env
from repro.pg.features import gym_features
from repro.pg.gpomdp import gpomdp
from repro.pg.hpg import debiased_norm, hpg
from repro.pg.policies import Policy
from repro.pg.rollout import Features, rollouts
from repro.pg.srma import srma

EVAL_SEED_OFFSET = 1_000_000
GRADIENT_SEED_OFFSET = 2_000_000


@dataclass(frozen=True)
class MethodSpec:
    """A compared method: the algorithm, the policy family and the SRMA options."""
    algorithm: str            # "srma" (also mirror ascent without tracking) or "hpg"
    policy: str               # "cauchy" or "gaussian"
    tracking: bool = True
    pnorm: bool = False       # p-norm mirror map with p = 1 + 1/log d instead of psi = 1/2 ||theta||^2
    restart: bool = True      # restart the tracker every ``restart_every`` iterations


METHODS = {
    "SRMA-Cauchy": MethodSpec("srma", "cauchy"),
    "HPG-Cauchy": MethodSpec("hpg", "cauchy"),
    "PG-Gaussian": MethodSpec("srma", "gaussian", tracking=False),
    "SRMA-Gaussian": MethodSpec("srma", "gaussian"),
    "MA-Cauchy": MethodSpec("srma", "cauchy", tracking=False),
    "SRMA-Cauchy-pnorm": MethodSpec("srma", "cauchy", pnorm=True),
    "SRMA-Cauchy-norestart": MethodSpec("srma", "cauchy", restart=False),
}
"""Method name -> spec. PG-Gaussian is GPOMDP gradient ascent (brief section 3, "Gaussian PG"); MA-Cauchy is mirror
ascent without tracking (psi = 1/2 ||theta||^2, so plain GPOMDP ascent with the Cauchy policy)."""

ENVS = ("pmc", "mario", "mcc_sparse", "pendulum")


def env_features(env_name: str, n_features: int, feature_seed: int) -> Features:
    """phi = [s, 1] for PMC and Mario, ``n_features`` random Fourier features for the gym tasks (brief section 2)."""
    if env_name in ("pmc", "mario"):
        return Features()
    return gym_features(env_name, n_features=n_features, seed=feature_seed)


def checkpoint_returns(env, policy: Policy, thetas, *, n_episodes: int, seed: int, gamma: float,
                       features: Features) -> tuple[np.ndarray, np.ndarray]:
    """(discounted, undiscounted) mean returns of ``n_episodes`` episodes under each row of ``thetas`` (m, d),
    every checkpoint with the same streams (EVAL_SEED_OFFSET + seed, i)."""
    discounts = gamma ** np.arange(env.horizon)
    discounted, undiscounted = np.zeros(len(thetas)), np.zeros(len(thetas))
    for c, theta in enumerate(thetas):
        episodes = rollouts(env, policy, theta, n_episodes, EVAL_SEED_OFFSET + seed, features=features)
        discounted[c] = (episodes.rew @ discounts).mean()
        undiscounted[c] = episodes.rew.sum(axis=1).mean()
    return discounted, undiscounted


def run_method(env: str, method: str, seed: int, *, sigma: dict, step_size: float, gamma: dict, n_steps: dict,
               n_iterations: int, batch_size: int, initial_batch: int, restart_every: int, eval_every: int,
               n_eval: int, n_features: int, feature_seed: int) -> dict:
    """Train ``method`` (a key of METHODS) on ``env`` for one seed and evaluate its iterates.

    sigma, gamma, n_steps: per-environment values (dicts keyed by env name); n_steps caps SRMA's training episodes
    (HPG draws its random horizons, capped by the environment's horizon); step_size: the constant eta of every method;
    features: phi = [s, 1] (PMC, Mario) or ``n_features`` random Fourier features drawn with ``feature_seed``.
    Returns scalars (final returns, importance-weight counts) and arrays: eval_iterations (E,), eval_return (E,)
    discounted and eval_undiscounted (E,), theta_norm (K+1,), direction_norm (K,).
    """
    spec = METHODS[method]
    env_spec = make_env(env)
    policy = Policy(spec.policy, sigma[env])
    features = env_features(env, n_features, feature_seed)
    common = dict(seeds=[seed], n_iterations=n_iterations, batch_size=batch_size, gamma=gamma[env],
                  step_size=step_size, features=features)
    if spec.algorithm == "hpg":
        result = hpg(env_spec, policy, **common)
        thetas, direction_norm = result.theta[0], result.grad_norm[0]
        weights = (0, 0, 0)
    else:
        result = srma(env_spec, policy, initial_batch=initial_batch, tracking=spec.tracking,
                      restart_every=restart_every if spec.restart else 0, p="auto" if spec.pnorm else None,
                      n_steps=n_steps[env], **common)
        thetas, direction_norm = result.theta[0], result.direction_norm[0]
        weights = (int(result.weights_computed[0]), int(result.weights_overflowing[0]),
                   int(result.weights_vanishing[0]))
    checkpoints = np.arange(0, n_iterations + 1, eval_every)
    discounted, undiscounted = checkpoint_returns(env_spec, policy, thetas[checkpoints], n_episodes=n_eval,
                                                  seed=seed, gamma=gamma[env], features=features)
    return {"final_return": float(discounted[-1]), "final_undiscounted": float(undiscounted[-1]),
            "final_theta_norm": float(np.linalg.norm(thetas[-1])),
            "weights_computed": weights[0], "weights_overflowing": weights[1], "weights_vanishing": weights[2],
            "eval_iterations": checkpoints, "eval_return": discounted, "eval_undiscounted": undiscounted,
            "theta_norm": np.linalg.norm(thetas, axis=1), "direction_norm": direction_norm}


def radius_run(radius: float, seed: int, *, sigma: float, step_size: float, gamma: float, n_steps: int,
               n_iterations: int, batch_size: int, tail_fraction: float, n_gradient: int, n_eval: int) -> dict:
    """Gaussian PG (GPOMDP ascent) on PMC with the action box [-radius, radius] (claim C1).

    Returns the stationarity gap measured two ways -- the moving average of ||g_k|| over the last ``tail_fraction``
    of the iterations (brief) and a Monte-Carlo estimate of ||grad J(theta_K)|| from ``n_gradient`` episodes with its
    noise floor removed -- and the final discounted return.
    """
    env = make_env("pmc", action_low=-float(radius), action_high=float(radius))
    policy = Policy("gaussian", sigma)
    result = srma(env, policy, seeds=[seed], n_iterations=n_iterations, batch_size=batch_size, gamma=gamma,
                  step_size=step_size, tracking=False, n_steps=n_steps)
    tail = max(1, int(round(tail_fraction * n_iterations)))
    theta = result.theta[0, -1]
    g = gpomdp(env, policy, theta, n=n_gradient, seed=GRADIENT_SEED_OFFSET + seed, gamma=gamma, n_steps=n_steps)
    true_norm = debiased_norm(g.mean(axis=0), g.std(axis=0, ddof=1) / math.sqrt(n_gradient))
    discounted, _ = checkpoint_returns(env, policy, theta[None, :], n_episodes=n_eval, seed=seed, gamma=gamma,
                                       features=Features())
    return {"gap_moving_average": float(result.direction_norm[0, -tail:].mean()),
            "gap_gradient": float(true_norm), "final_return": float(discounted[0])}


def loglog_slope(x, y) -> tuple[float, float]:
    """Least-squares (slope, intercept) of log y against log x (positive x and y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"loglog_slope: expected >= 2 positive (x, y) pairs of equal shape, got {x.shape}, {y.shape}")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def late_fluctuation(curves, fraction: float = 0.25) -> np.ndarray:
    """Per run, the standard deviation of a curve over its last ``fraction`` of points (curves: (n_runs, E)):
    how much a run still moves once it should have settled (claim C3)."""
    curves = np.asarray(curves, dtype=float)
    tail = max(2, int(round(fraction * curves.shape[1])))
    return curves[:, -tail:].std(axis=1)


def tail_mean(curves, fraction: float = 0.1) -> np.ndarray:
    """Per run, the mean of a curve over its last ``fraction`` of points (curves: (n_runs, E)): a final value that
    does not hinge on one noisy evaluation."""
    curves = np.asarray(curves, dtype=float)
    tail = max(1, int(round(fraction * curves.shape[1])))
    return curves[:, -tail:].mean(axis=1)


def tracking_error(env_name: str, policy: Policy, *, step_size: float, seeds, iterations, n_true: int, gamma: float,
                   n_steps: int, batch_size: int, initial_batch: int) -> dict:
    """How well SRMA's tracker follows grad J: a diagnostic of the step size (brief section 2, SRMA).

    SRMA runs without restarts from theta_0 = 0 (phi = [s, 1]); at each of ``iterations`` the error
    ||v_k - grad J(theta_k)|| is averaged over ``seeds``, with grad J(theta_k) the mean of ``n_true`` GPOMDP
    estimates. For comparison, ``plain_error`` is the root-mean-square error sqrt(trace Cov[g] / B) of a fresh
    B-episode GPOMDP estimate at the same theta_k (what ascent without tracking uses), averaged over seeds and
    iterations. Returns {"iterations", "tracker_error" (per iteration), "plain_error"}.
    """
    env = make_env(env_name)
    iterations = [int(k) for k in iterations]
    result = srma(env, policy, seeds=seeds, n_iterations=max(iterations) + 1, batch_size=batch_size,
                  initial_batch=initial_batch, step_size=step_size, gamma=gamma, restart_every=0, n_steps=n_steps)
    tracker, plain = np.zeros(len(iterations)), []
    for c, k in enumerate(iterations):
        for r, seed in enumerate(result.seeds):
            g = gpomdp(env, policy, result.theta[r, k], n=n_true, seed=GRADIENT_SEED_OFFSET + int(seed), gamma=gamma,
                       n_steps=n_steps)
            tracker[c] += np.linalg.norm(result.direction[r, k] - g.mean(axis=0)) / len(result.seeds)
            plain.append(math.sqrt(g.var(axis=0).sum() / batch_size))
    return {"iterations": iterations, "tracker_error": tracker, "plain_error": float(np.mean(plain))}
