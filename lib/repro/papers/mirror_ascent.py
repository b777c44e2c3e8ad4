"""Hidden biases of policy mirror ascent in continuous action spaces (Bedi, Chakraborty, Parayil, Sadler, Tokekar,
Koppel; ICML 2022, arXiv:2201.12332).

Brief: ``../shared/papers/06-mirror-ascent.md``. Only the abstract and the reviews could be read, so the SRMA
recursion (brief section 2, :mod:`repro.pg.srma`), the baselines (section 3), the environments (section 5) and every
constant are [our choice]. This module is the paper's glue (issue 14 redesign):

* **Step sizes** (:func:`run`, stage "sweep"): every compared method on every environment at every eta of the log
  grid ``step_sizes``, ``sweep_seeds`` replicates each. A setting is *degenerate* -- dropped through a computed check,
  never by hand -- when a replicate diverged, when most updates are exactly zero (all-zero gradient estimates), or,
  for SRMA with tracking, when the importance weights' effective sample size ESS/B has a median below
  ``ESS_VALID`` (the tracker's corrections rest on a few trajectories: SRMA outside its valid regime). Each method's
  best eta on each environment maximises the IQM of reward accumulation among its valid settings.
* **Headline** (stage "train"): each method at its own best eta, ``n_seeds`` fresh replicates (streams independent of
  the sweep's, so the selection does not bias the comparison); the ablations of SRMA-Cauchy at SRMA-Cauchy's eta.
* **Matched budgets**: every run counts its environment steps (SRMA's B0 at k = 0 and at every restart included,
  HPG's random horizons replayed by :mod:`repro.pg.budget`); curves are compared on a grid of environment steps up to
  the largest budget every run of the environment reached, the return at x steps being the last evaluation made
  within x steps.
* **C1** (:func:`radius_run`): at a fixed theta (0, so mu = 0) the Gaussian policy's clipped-action (truncated) score
  estimator's bias ||E g_executed - grad J|| (:func:`repro.pg.gpomdp.gpomdp`, ``score_on="executed"``, paired with
  the unbiased estimator on the same episodes) for radii R inside the policy's support, so the box binds at every R.
* **SRMA's regime**: per iteration the importance weights' ESS/B (every SRMA run) and, on PMC, the tracker's error
  ||v_k - g_fresh(theta_k)|| against a fresh large-batch estimate, next to a fresh B-episode estimate's RMS error.

:func:`claims` decides C1-C4 with a 95% interval and computed regime checks (DESIGN.md, "Claims that can fail"):
C1 the log-log slope of the bias against R (bootstrap over replicates; regime: the box binds at every R); per
environment, C2 the difference in across-replicate spread of the final return HPG - SRMA, C3 the paired difference in
late fluctuation SRMA - HPG, C4 rliable's IQM difference in reward accumulation SRMA - the strongest baseline, each
with rliable's probability of improvement; regimes for C2-C4: every compared method has a valid eta, some method
learns, SRMA's ESS is in its valid regime, and (C4) the strongest baseline leaves headroom below the task's ceiling.

Evaluation [our choice]: every ``eval_every`` iterations theta_k runs ``n_eval`` fresh episodes to termination or
the horizon cap, on the same random streams for every method of a replicate (common random numbers).

Seeds (:mod:`repro.core.seeds`): replicate i of environment e trains on stream (seed, stage, e, i) with stage
"sweep" or "train", shared by the methods, and is evaluated on (seed, "eval", e, i); the gym tasks' random Fourier
features come from (seed, "features", e); C1 uses (seed, "radius", i), the same episodes' noise at every R; the
tracking diagnostic (seed, "tracking", i) and (seed, "tracking-gradient", i).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from repro import report
from repro.core import seeds
from repro.papers.config import PaperConfig, check_fraction, check_positive
from repro.pg.budget import hpg_training_steps
from repro.pg.envs import EnvSpec, make_env
from repro.pg.envs.mountain_car import GOAL_REWARD
from repro.pg.envs.pmc import BONANZA_REWARD
from repro.pg.features import gym_features
from repro.pg.gpomdp import gpomdp
from repro.pg.hpg import debiased_norm, hpg
from repro.pg.policies import Policy
from repro.pg.rollout import Features, rollouts
from repro.pg.srma import DivergenceError, srma
from repro.sweep import client_for, close_client, sweep

PAPER = "arXiv:2201.12332"
SLUG = "mirror-ascent"
DATASETS = ()
"""Public datasets this paper reads: none (its environments are simulators)."""


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
SRMA, HPG = "SRMA-Cauchy", "HPG-Cauchy"
BASELINES = ("HPG-Cauchy", "PG-Gaussian", "SRMA-Gaussian")
"""The section-3 baselines SRMA-Cauchy must beat in C4."""
CEILINGS = {"pmc": BONANZA_REWARD, "mario": 1.0, "mcc_sparse": GOAL_REWARD, "pendulum": 0.0}
"""The largest return an episode can earn (PMC's bonanza, Mario's single reward, MCC's goal, Pendulum's zero cost)."""

LATE_FRACTION = 0.25
"""C3: a run's late fluctuation is the std of its return over the last quarter of the matched budget."""
BOX_BINDS = 0.05
"""C1 regime [our choice]: at every radius R at least this share of the sampled actions falls outside [-R, R]."""
NONZERO_VALID = 0.5
"""A setting is degenerate when the median replicate moves theta (v_k != 0) in fewer than this share of iterations."""
ESS_VALID = 0.5
"""SRMA's valid regime [our choice]: the median over iterations and replicates of the importance weights' ESS/B."""
HEADROOM = 0.05
"""C4 regime [our choice]: the strongest baseline's IQM final return stays this share of the span from theta_0's
return to the ceiling below the ceiling; otherwise SRMA can at best tie."""
RETURN_FIGURES = {"pmc": "fig03_returns_pmc.png", "mario": "fig04_returns_mario.png",
                  "mcc_sparse": "fig05_returns_gym.png", "pendulum": "fig05_returns_gym.png"}
FIGURE_SOURCES = {"fig01_bias_vs_radius.png": "repro.papers.mirror_ascent.radius_summary",
                  "fig02_score_norm.png": "repro.papers.mirror_ascent.score_norms",
                  **{name: "repro.papers.mirror_ascent.return_bands" for name in
                     ("fig03_returns_pmc.png", "fig04_returns_mario.png", "fig05_returns_gym.png")},
                  "fig06_stability.png": "repro.papers.mirror_ascent.method_summary",
                  "fig07_eta_sweep.png": "repro.papers.mirror_ascent.setting_summary",
                  "fig08_srma_regime.png": "repro.papers.mirror_ascent.ess_bands"}
"""Figure file -> the function whose results it draws (metrics.json figure_sources)."""


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.mirror-ascent``); every value is [our choice]."""
    envs: tuple[str, ...]
    methods: tuple[str, ...]
    ablations: tuple[str, ...]
    ablation_envs: tuple[str, ...]
    n_seeds: int
    sweep_seeds: int
    n_workers: int
    n_iterations: dict[str, int]
    batch_size: int
    initial_batch: int
    restart_every: int
    step_sizes: tuple[float, ...]
    sigma: dict[str, float]
    gamma: dict[str, float]
    train_steps: dict[str, int]
    n_features: int
    eval_every: int
    n_eval: int
    final_fraction: float
    budget_points: int
    radii: tuple[float, ...]
    radius_sigma: float
    radius_episodes: int
    tracking_iterations: tuple[int, ...]
    tracking_seeds: int
    tracking_true_episodes: int

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "n_seeds", "sweep_seeds", "n_workers", "batch_size", "initial_batch", "n_features", "eval_every",
            "n_eval", "final_fraction", "budget_points", "radius_sigma", "radius_episodes", "tracking_seeds",
            "tracking_true_episodes") + check_fraction(self, "final_fraction")
        for name, allowed in (("envs", ENVS), ("ablation_envs", ENVS), ("methods", METHODS), ("ablations", METHODS)):
            unknown = sorted(set(getattr(self, name)) - set(allowed))
            if unknown:
                found.append(f"{name}: expected some of {sorted(allowed)}, got unknown {unknown}")
        if not self.envs:
            found.append("envs: expected at least one environment, got none")
        missing = [m for m in (SRMA, HPG) if m not in self.methods]
        if missing:
            found.append(f"methods: expected {SRMA} and {HPG} (the claims compare them), missing {missing}")
        for name in ("sigma", "gamma", "train_steps", "n_iterations"):
            absent = [e for e in self.envs if e not in getattr(self, name)]
            if absent:
                found.append(f"{name}: expected a value for every environment in envs, missing {absent}")
        short = {e: k for e, k in self.n_iterations.items() if e in self.envs and k < 2 * self.eval_every}
        if short:
            found.append(f"n_iterations: expected >= 2 eval_every = {2 * self.eval_every} per environment, got {short}")
        if len(set(self.radii)) < 2 or min(self.radii, default=0.0) <= 0:
            found.append(f"radii: expected at least two distinct radii > 0, got {list(self.radii)}")
        if not self.step_sizes or min(self.step_sizes) <= 0:
            found.append(f"step_sizes: expected step sizes > 0, got {list(self.step_sizes)}")
        if self.restart_every < 0:
            found.append(f"restart_every: expected >= 0 (0: never), got {self.restart_every}")
        if not self.tracking_iterations or min(self.tracking_iterations) < 1:
            found.append(f"tracking_iterations: expected iterations >= 1, got {list(self.tracking_iterations)}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy results of :func:`run`.

    settings: one row per (env, method, step_size) of the sweep: diverged_share, nonzero_share, ess_median,
      accumulation_iqm (at the sweep's matched budget), valid, why (the failed check, "" if valid), best;
    sweep: one row per (env, method, step_size, replicate) of the sweep (the runs' summaries, as ``runs``);
    runs: one row per (env, method, replicate) of the headline at the method's best eta: step_size, budget (env
      steps), total_steps, final_return / accumulation / late_fluctuation (on the matched-budget grid),
      initial_return (theta_0), final_theta_norm, nonzero_direction_share, ess_median and the importance-weight
      counts weights_computed / weights_overflowing / weights_vanishing;
    curves: one row per (env, method, replicate, iteration) evaluated in the headline: steps (environment steps
      drawn before that iteration), return, discounted_return, outside_box_share, theta_norm, ess_share (mean
      ESS/B over the iterations since the previous evaluation);
    budget_curves: one row per (env, method, replicate, grid point) of the headline's matched-budget grid: steps,
      return and ess_share of the last evaluation within that many environment steps;
    radius: one row per (radius, replicate): bias (||E g_executed - grad J||), gradient (||grad J||), relative_bias,
      clipped_share (sampled actions outside [-R, R]);
    tracking: one row per (step_size, replicate, iteration) of SRMA-Cauchy on PMC without restarts: tracker_error
      ||v_k - g_fresh(theta_k)||, plain_error (RMS error of a fresh B-episode estimate) and ess_share.
    """
    settings: pd.DataFrame
    sweep: pd.DataFrame
    runs: pd.DataFrame
    curves: pd.DataFrame
    budget_curves: pd.DataFrame
    radius: pd.DataFrame
    tracking: pd.DataFrame


# ---------------------------------------------------------------- runs
def env_features(env: str, cfg: Config) -> Features:
    """phi = [s, 1] for PMC and Mario, ``n_features`` random Fourier features for the gym tasks (brief section 2)."""
    if env in ("pmc", "mario"):
        return Features()
    return gym_features(env, n_features=cfg.n_features, seed=seeds.seed_int(cfg.seed, "features", env))


def outside_box_share(env: EnvSpec, episodes) -> float:
    """Share of the recorded (unclipped) actions that fall outside the environment's action box."""
    taken = np.arange(episodes.act.shape[1]) < episodes.length[:, None]
    outside = (episodes.act < env.action_low) | (episodes.act > env.action_high)
    return float((outside & taken).sum() / max(taken.sum(), 1))


def evaluate(env: EnvSpec, policy: Policy, thetas, features: Features, *, n_episodes: int, seed: int,
             gamma: float) -> dict:
    """Undiscounted and discounted mean returns and the share of actions outside the box of ``n_episodes`` episodes
    under each row of ``thetas`` (m, d), every row on the same streams (seed, i). Returns arrays of shape (m,)."""
    discounts = gamma ** np.arange(env.horizon)
    out = {name: np.zeros(len(thetas)) for name in ("return", "discounted_return", "outside_box_share")}
    for c, theta in enumerate(thetas):
        episodes = rollouts(env, policy, theta, n_episodes, seed, features=features)
        out["return"][c] = episodes.returns.mean()
        out["discounted_return"][c] = (episodes.rew @ discounts[:episodes.rew.shape[1]]).mean()
        out["outside_box_share"][c] = outside_box_share(env, episodes)
    return out


def train_policy(env: str, method: str, step_size: float, seed: int, cfg: Config, stage: str) -> dict:
    """Train ``method`` on ``env`` with ``step_size`` on stream (cfg.seed, stage, env, seed): the iterates, the
    per-iteration direction norms, environment steps and ESS/B, and the weight counts; raises DivergenceError."""
    spec, env_spec = METHODS[method], make_env(env)
    policy, features = Policy(spec.policy, cfg.sigma[env]), env_features(env, cfg)
    common = dict(seeds=[seeds.seed_int(cfg.seed, stage, env, seed)], n_iterations=cfg.n_iterations[env],
                  batch_size=cfg.batch_size, gamma=cfg.gamma[env], step_size=step_size, features=features)
    if spec.algorithm == "hpg":
        result = hpg(env_spec, policy, **common)
        if not np.isfinite(result.theta).all():
            raise DivergenceError([(common["seeds"][0], int(np.argmin(np.isfinite(result.theta).all(axis=2)[0])))],
                                  step_size)
        steps = hpg_training_steps(env_spec, policy, result, gamma=cfg.gamma[env], features=features)[0][0].sum(axis=1)
        return {"theta": result.theta[0], "direction_norm": result.grad_norm[0], "steps": steps,
                "ess": np.full(steps.size, np.nan), "weights": (0, 0, 0)}
    result = srma(env_spec, policy, initial_batch=cfg.initial_batch, tracking=spec.tracking,
                  restart_every=cfg.restart_every if spec.restart else 0, p="auto" if spec.pnorm else None,
                  n_steps=cfg.train_steps[env], **common)
    return {"theta": result.theta[0], "direction_norm": result.direction_norm[0], "steps": result.steps[0],
            "ess": result.ess_share[0], "weights": (result.weights_computed[0], result.weights_overflowing[0],
                                                    result.weights_vanishing[0])}


def window_means(values: np.ndarray, checkpoints: np.ndarray) -> np.ndarray:
    """At each checkpoint c > 0 the NaN-ignoring mean of values[previous checkpoint:c] (NaN at c = 0 or if empty)."""
    out = np.full(checkpoints.size, np.nan)
    for i in range(1, checkpoints.size):
        window = values[checkpoints[i - 1]:checkpoints[i]]
        if np.isfinite(window).any():
            out[i] = float(np.nanmean(window))
    return out


def train_run(env: str, method: str, step_size: float, seed: int, cfg: Config, stage: str = "train") -> dict:
    """A sweep task: train ``method`` on ``env`` with ``step_size`` for replicate ``seed`` and evaluate theta_k every
    ``eval_every`` iterations. A run that diverges is kept, with ``diverged`` True and NaN curves."""
    checkpoints = np.arange(0, cfg.n_iterations[env] + 1, cfg.eval_every)
    try:
        trained = train_policy(env, method, step_size, seed, cfg, stage)
    except DivergenceError:
        nan = np.full(checkpoints.size, np.nan)
        return {"diverged": True, "final_theta_norm": np.nan, "nonzero_direction_share": np.nan, "ess_median": np.nan,
                "total_steps": np.nan, "weights_computed": 0, "weights_overflowing": 0, "weights_vanishing": 0,
                "iteration": checkpoints, "steps": nan, "return": nan, "discounted_return": nan,
                "outside_box_share": nan, "theta_norm": nan, "ess_share": nan}
    spec, thetas, ess = METHODS[method], trained["theta"], trained["ess"]
    policy, features, env_spec = Policy(spec.policy, cfg.sigma[env]), env_features(env, cfg), make_env(env)
    cumulative = np.concatenate([[0], np.cumsum(trained["steps"])])
    returns = evaluate(env_spec, policy, thetas[checkpoints], features, n_episodes=cfg.n_eval,
                       seed=seeds.seed_int(cfg.seed, "eval", env, seed), gamma=cfg.gamma[env])
    return {"diverged": False, "final_theta_norm": float(np.linalg.norm(thetas[-1])),
            "nonzero_direction_share": float((trained["direction_norm"] > 0).mean()),
            "ess_median": float(np.nanmedian(ess)) if np.isfinite(ess).any() else np.nan,
            "total_steps": float(cumulative[-1]), **dict(zip(("weights_computed", "weights_overflowing",
                                                             "weights_vanishing"), map(int, trained["weights"]))),
            "iteration": checkpoints, "steps": cumulative[checkpoints].astype(float), **returns,
            "theta_norm": np.linalg.norm(thetas[checkpoints], axis=1), "ess_share": window_means(ess, checkpoints)}


def radius_run(radius: float, seed: int, cfg: Config) -> dict:
    """C1 at radius R for replicate ``seed``: at theta = 0 on PMC with the box [-R, R] and a Gaussian policy of scale
    ``radius_sigma``, the bias ||E g_executed - grad J|| of the clipped-action score estimator (the mean of the paired
    differences g_executed - g_sample over ``radius_episodes`` episodes, noise floor removed), ||grad J|| (from
    g_sample) and the share of sampled actions outside the box."""
    env = make_env("pmc", action_low=-float(radius), action_high=float(radius))
    policy, theta, stream = Policy("gaussian", cfg.radius_sigma), np.zeros(2), seeds.seed_int(cfg.seed, "radius", seed)
    options = dict(n=cfg.radius_episodes, seed=stream, gamma=cfg.gamma["pmc"], n_steps=cfg.train_steps["pmc"])
    sample = gpomdp(env, policy, theta, **options)
    bias_terms = gpomdp(env, policy, theta, score_on="executed", **options) - sample
    root_n = math.sqrt(cfg.radius_episodes)
    bias = float(debiased_norm(bias_terms.mean(axis=0), bias_terms.std(axis=0, ddof=1) / root_n))
    gradient = float(debiased_norm(sample.mean(axis=0), sample.std(axis=0, ddof=1) / root_n))
    episodes = rollouts(env, policy, theta, cfg.radius_episodes, stream, cfg.train_steps["pmc"])
    return {"bias": bias, "gradient": gradient, "relative_bias": bias / gradient if gradient > 0 else np.nan,
            "clipped_share": outside_box_share(env, episodes)}


def tracking_errors(cfg: Config) -> pd.DataFrame:
    """How well SRMA's tracker follows the gradient on PMC (Cauchy policy, no restarts) at every eta of the grid.

    For each step size and replicate, at each of ``tracking_iterations``: the error ||v_k - g_fresh(theta_k)|| with
    g_fresh the mean of ``tracking_true_episodes`` fresh GPOMDP estimates at theta_k, the RMS error
    sqrt(trace Cov[g] / B) of a fresh B-episode estimate at the same theta_k (what ascent without tracking uses), and
    the iteration's ESS/B. A step size at which SRMA diverges gives no rows.
    """
    env, policy = make_env("pmc"), Policy("cauchy", cfg.sigma["pmc"])
    gamma, n_steps, iterations = cfg.gamma["pmc"], cfg.train_steps["pmc"], sorted(cfg.tracking_iterations)
    rows = []
    for eta in cfg.step_sizes:
        try:
            result = srma(env, policy, seeds=seeds.seed_ints(cfg.seed, cfg.tracking_seeds, "tracking"),
                          n_iterations=iterations[-1] + 1, batch_size=cfg.batch_size, initial_batch=cfg.initial_batch,
                          step_size=eta, gamma=gamma, restart_every=0, n_steps=n_steps)
        except DivergenceError:
            continue
        for r in range(cfg.tracking_seeds):
            for k in iterations:
                g = gpomdp(env, policy, result.theta[r, k], n=cfg.tracking_true_episodes, gamma=gamma,
                           n_steps=n_steps, seed=seeds.seed_int(cfg.seed, "tracking-gradient", r))
                rows.append({"step_size": eta, "replicate": r, "iteration": k,
                             "tracker_error": float(np.linalg.norm(result.direction[r, k] - g.mean(axis=0))),
                             "plain_error": math.sqrt(g.var(axis=0).sum() / cfg.batch_size),
                             "ess_share": float(result.ess_share[r, k])})
    return pd.DataFrame(rows, columns=["step_size", "replicate", "iteration", "tracker_error", "plain_error",
                                       "ess_share"])


# ---------------------------------------------------------------- matched budgets
CURVE_COLUMNS = ("iteration", "steps", "return", "discounted_return", "outside_box_share", "theta_norm", "ess_share")


def curve_frame(training) -> pd.DataFrame:
    """The sweep's per-checkpoint arrays as one row per (env, method, step_size, replicate, iteration)."""
    table = training.table
    frames = [pd.DataFrame({"env": table.at[row, "env"], "method": table.at[row, "method"],
                            "step_size": table.at[row, "step_size"], "replicate": int(table.at[row, "seed"]),
                            **{name: training.arrays[name][row] for name in CURVE_COLUMNS}})
              for row in range(len(table))]
    return pd.concat(frames, ignore_index=True)


def budget_grid(budget: float, points: int) -> np.ndarray:
    """``points`` environment-step counts from 0 to ``budget``."""
    return np.linspace(0.0, budget, points)


def returns_at(steps: np.ndarray, returns: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The return at each budget of ``grid``: that of the last evaluation made within that many steps."""
    return returns[np.searchsorted(steps, grid, side="right") - 1]


def tail_mean(values: np.ndarray, fraction: float) -> float:
    """Mean of the last ``fraction`` of a curve (at least one point)."""
    return float(values[-max(1, int(round(fraction * values.size))):].mean())


def late_fluctuation(values: np.ndarray) -> float:
    """Std of a curve over its last LATE_FRACTION of points (at least two): how much a run still moves (C3)."""
    return float(values[-max(2, int(round(LATE_FRACTION * values.size))):].std())


def run_frame(training, curves: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, grid): one row per run with the sweep's scalars plus summaries of its evaluation curve on the
    matched-budget grid of its environment (the largest budget every non-diverged run of a compared method of that
    environment reached), and one row per (run, grid point) with the return and ESS/B at that budget."""
    table = training.table.rename(columns={"seed": "replicate"})
    compared = table[~table["diverged"].astype(bool) & table["method"].isin(cfg.methods)]
    budgets = compared.groupby("env")["total_steps"].min()
    summaries, grids = [], []
    for (env, method, eta, replicate), curve in curves.groupby(["env", "method", "step_size", "replicate"],
                                                               sort=False):
        returns = curve["return"].to_numpy()
        row = {"env": env, "method": method, "step_size": eta, "replicate": replicate, "initial_return": returns[0],
               "budget": budgets.get(env, np.nan)}
        if np.isfinite(returns).all() and np.isfinite(row["budget"]):
            grid = budget_grid(row["budget"], cfg.budget_points)
            steps = curve["steps"].to_numpy()
            at_budget = returns_at(steps, returns, grid)
            row.update(final_return=tail_mean(at_budget, cfg.final_fraction), accumulation=float(at_budget.mean()),
                       late_fluctuation=late_fluctuation(at_budget))
            grids.append(pd.DataFrame({"env": env, "method": method, "replicate": replicate, "steps": grid,
                                       "return": at_budget,
                                       "ess_share": returns_at(steps, curve["ess_share"].to_numpy(), grid)}))
        summaries.append(row)
    runs = pd.DataFrame(summaries).merge(table, on=["env", "method", "step_size", "replicate"], validate="one_to_one")
    return runs, (pd.concat(grids, ignore_index=True) if grids else pd.DataFrame(
        columns=["env", "method", "replicate", "steps", "return", "ess_share"]))


def iqm(values) -> float:
    """Interquartile mean (rliable's IQM: the mean of the middle 50%)."""
    x = np.asarray(values, dtype=float)
    return float(stats.trim_mean(x, 0.25)) if x.size else float("nan")


def setting_checks(group: pd.DataFrame, method: str) -> list[report.Regime]:
    """The checks a (env, method, step_size) setting must pass: no replicate diverged, the median replicate moved
    theta in most iterations, and (SRMA with tracking) the importance weights' median ESS/B is in the valid regime."""
    checks = [report.Regime("share of diverged replicates", group["diverged"].astype(float).mean(), 0.0, op="<="),
              report.Regime("median share of iterations with a non-zero update",
                            group["nonzero_direction_share"].median(), NONZERO_VALID)]
    spec = METHODS[method]
    if spec.algorithm == "srma" and spec.tracking:
        checks.append(report.Regime("median ESS/B of the importance weights", group["ess_median"].median(),
                                    ESS_VALID))
    return checks


def settings_frame(sweep_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (env, method, step_size) of the sweep with its checks, IQM accumulation and whether it is the
    method's best valid step size on that environment."""
    rows = []
    for (env, method, eta), group in sweep_runs.groupby(["env", "method", "step_size"], sort=False):
        failed = [c.describe() for c in setting_checks(group, method) if not c.passed]
        rows.append({"env": env, "method": method, "step_size": eta,
                     "diverged_share": group["diverged"].astype(float).mean(),
                     "nonzero_share": group["nonzero_direction_share"].median(),
                     "ess_median": group["ess_median"].median(),
                     "accumulation_iqm": iqm(group["accumulation"].dropna()), "valid": not failed,
                     "why": "; ".join(failed)})
    frame = pd.DataFrame(rows)
    frame["best"] = False
    valid = frame[frame["valid"]]
    if len(valid):
        frame.loc[valid.groupby(["env", "method"])["accumulation_iqm"].idxmax().to_numpy(), "best"] = True
    return frame


def best_step_sizes(settings: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(env, method) -> the best valid step size of the sweep (methods without a valid one are absent)."""
    best = settings[settings["best"]]
    return {(env, method): float(eta) for env, method, eta in best[["env", "method", "step_size"]].itertuples(False)}


def sweep_grid(cfg: Config) -> list[dict]:
    """Every (env, method, step size) of the compared methods."""
    return [{"env": e, "method": m, "step_size": eta} for e in cfg.envs for m in cfg.methods for eta in cfg.step_sizes]


def headline_grid(cfg: Config, best: dict) -> list[dict]:
    """Every compared method at its best step size, then the ablations at SRMA-Cauchy's, on ``ablation_envs``."""
    grid = [{"env": e, "method": m, "step_size": best[e, m]} for e in cfg.envs for m in cfg.methods if (e, m) in best]
    return grid + [{"env": e, "method": m, "step_size": best[e, SRMA]} for e in cfg.ablation_envs
                   if e in cfg.envs and (e, SRMA) in best for m in cfg.ablations]


def training_stage(grid: list[dict], replicates, cfg: Config, stage: str, client) -> tuple[pd.DataFrame, ...]:
    """Run ``grid`` x ``replicates`` through the sweep: (runs, curves, matched-budget grid) as in :class:`Results`."""
    training = sweep(functools.partial(train_run, cfg=cfg, stage=stage), grid, replicates, client=client,
                     progress=False)
    curves = curve_frame(training)
    return (*run_frame(training, curves, cfg), curves)


def run(cfg: Config) -> Results:
    """Every experiment of the notebook: the step-size sweep, the headline at each method's best eta, C1's bias
    against R and the tracking diagnostic."""
    client = client_for(cfg.n_workers)
    try:
        sweep_runs, _, _ = training_stage(sweep_grid(cfg), range(cfg.sweep_seeds), cfg, "sweep", client)
        settings = settings_frame(sweep_runs)
        runs, grid, curves = training_stage(headline_grid(cfg, best_step_sizes(settings)), range(cfg.n_seeds), cfg,
                                            "train", client)
        radius = sweep(functools.partial(radius_run, cfg=cfg), {"radius": list(cfg.radii)}, range(cfg.n_seeds),
                       client=client, progress=False)
    finally:
        close_client()
    return Results(settings=settings, sweep=sweep_runs, runs=runs, curves=curves, budget_curves=grid,
                   radius=radius.table.rename(columns={"seed": "replicate"}), tracking=tracking_errors(cfg))


# ---------------------------------------------------------------- summaries for figures and metrics
def mean_band(values: pd.Series) -> pd.Series:
    """Mean over replicates with its bootstrap 95% interval (percentile: it stays within the observed values, so a
    band never reaches returns no run could have); the bands of the figures."""
    interval = report.mean_interval(values.dropna())
    return pd.Series({"mean": interval.effect, "low": interval.low, "high": interval.high, "n": interval.n})


def return_bands(results: Results, column: str = "return") -> pd.DataFrame:
    """Per (env, method, environment steps on the matched-budget grid): the mean of ``column`` over replicates with
    its bootstrap 95% interval (figs 3-5 and, with ``ess_share``, fig 8)."""
    return (results.budget_curves.groupby(["env", "method", "steps"], sort=False)[column].apply(mean_band)
            .unstack().reset_index())


def ess_bands(results: Results) -> pd.DataFrame:
    """Fig 8: the importance weights' ESS/B against environment steps for the tracking methods (mean, 95% CI)."""
    bands = return_bands(results, "ess_share")
    return bands[bands["method"].map(lambda m: METHODS[m].algorithm == "srma" and METHODS[m].tracking)]


def radius_summary(results: Results) -> pd.DataFrame:
    """Per radius R: the mean (95% interval) of the bias, ||grad J||, the relative bias and the clipped share
    (fig 1)."""
    frames = {column: results.radius.groupby("radius")[column].apply(mean_band).unstack()
              for column in ("bias", "gradient", "relative_bias", "clipped_share")}
    return pd.concat(frames, axis=1).reset_index()


def replicate_slopes(radius: pd.DataFrame, column: str = "bias") -> np.ndarray:
    """Per replicate, the least-squares slope of log(column) against log R (NaN where a value is not positive)."""
    table = radius.pivot(index="replicate", columns="radius", values=column).sort_index(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(table.to_numpy(dtype=float))
    x = np.log(table.columns.to_numpy(dtype=float))
    return np.array([np.polyfit(x, row, 1)[0] if np.isfinite(row).all() else np.nan for row in y])


def score_norms(deviation, sigma: float = 1.0) -> pd.DataFrame:
    """|d log pi(a) / d mu| at a - mu = ``deviation`` for the Gaussian (unbounded) and Cauchy (bounded by 1/sigma)
    policies (fig 2)."""
    deviation = np.asarray(deviation, dtype=float)
    return pd.DataFrame({"deviation": deviation,
                         **{kind: np.abs(Policy(kind, sigma).score(deviation)) for kind in ("gaussian", "cauchy")}})


def runs_of(runs: pd.DataFrame, env: str, method: str) -> pd.DataFrame:
    """The rows of one (env, method), by replicate."""
    return runs[(runs["env"] == env) & (runs["method"] == method)].sort_values("replicate")


def spread(values: pd.Series) -> pd.Series:
    """Absolute deviations from the median: their mean is a Brown-Forsythe measure of spread across replicates."""
    return (values - values.median()).abs()


def method_summary(results: Results, methods) -> pd.DataFrame:
    """Per headline (env, method) of ``methods``: its step size, the rliable IQM [95% CI] of the final return, the
    IQM accumulation, and the mean [95% CI] of the across-replicate spread (C2) and of the late fluctuation (C3)
    (fig 6)."""
    rows = []
    for (env, method), group in results.runs[results.runs["method"].isin(methods)].groupby(["env", "method"],
                                                                                           sort=False):
        row = {"env": env, "method": method, "step_size": group["step_size"].iloc[0], "budget": group["budget"].iloc[0],
               "accumulation_iqm": iqm(group["accumulation"])}
        for name, interval in (("final_iqm", report.iqm_interval(group["final_return"])),
                               ("spread", report.mean_interval(spread(group["final_return"]))),
                               ("late_fluctuation", report.mean_interval(group["late_fluctuation"]))):
            row.update({name: interval.effect, f"{name}_low": interval.low, f"{name}_high": interval.high})
        rows.append(row)
    return pd.DataFrame(rows)


def setting_summary(results: Results) -> pd.DataFrame:
    """Fig 7: the sweep's settings with their checks, IQM accumulation and the chosen step sizes."""
    return results.settings


# ---------------------------------------------------------------- claims
def valid_regime(settings: pd.DataFrame, env: str, methods) -> report.Regime:
    """Every compared method has a step size that passed the sweep's checks on ``env``."""
    best = best_step_sizes(settings)
    missing = [m for m in methods if (env, m) not in best]
    return report.Regime(f"{env}: methods without a valid step size in the sweep ({', '.join(missing) or 'none'})",
                         len(missing), 0, op="<=")


def learning_regime(runs: pd.DataFrame, env: str, methods) -> report.Regime:
    """"The policy learns": the largest, over ``methods``, lower 95% bound of the paired return gain over theta_0."""
    lows = {}
    for method in methods:
        rows = runs_of(runs, env, method)
        gain = report.paired_mean_difference(rows["final_return"], rows["initial_return"])
        lows[method] = gain.low if np.isfinite(gain.low) else -np.inf
    best = max(lows, key=lows.get)
    return report.Regime(f"{env}: lower 95% bound of the return gain over theta_0, best of {'/'.join(methods)} "
                         f"({best})", lows[best], 0.0, op=">")


def ess_regime(runs: pd.DataFrame, env: str) -> report.Regime:
    """SRMA-Cauchy's tracker in its valid regime: the median over its runs of the median ESS/B."""
    return report.Regime(f"{env}: SRMA-Cauchy's median ESS/B of the importance weights",
                         runs_of(runs, env, SRMA)["ess_median"].median(), ESS_VALID)


def headroom_regime(runs: pd.DataFrame, env: str, strongest: str) -> report.Regime:
    """The strongest baseline leaves room below the task's ceiling: (ceiling - its IQM final return) / (ceiling -
    IQM return at theta_0)."""
    start, best = iqm(runs[runs["env"] == env]["initial_return"]), iqm(runs_of(runs, env, strongest)["final_return"])
    span = CEILINGS[env] - start
    return report.Regime(f"{env}: headroom left by {strongest} below the ceiling {CEILINGS[env]:g}, share of the span "
                         f"from theta_0", (CEILINGS[env] - best) / span if span > 0 else np.nan, HEADROOM)


def with_improvement(interval: report.Interval, a, b, who: str) -> str:
    """'effect [low, high]; P(who) - 1/2 = p [low, high]': the effect and rliable's probability of improvement."""
    p = report.improvement_probability(a, b)
    show = report.claims.fmt
    return (f"{show(interval.effect)} [{show(interval.low)}, {show(interval.high)}]; P({who}) − ½ = "
            f"{show(p.effect)} [{show(p.low)}, {show(p.high)}]")


def common_regimes(results: Results, env: str, methods) -> list[report.Regime]:
    """C2-C4 regimes: every compared method has a valid eta, some method learns, SRMA's ESS is valid."""
    return [valid_regime(results.settings, env, methods), learning_regime(results.runs, env, methods),
            ess_regime(results.runs, env)]


def bias_claim(results: Results) -> dict:
    """C1: the per-replicate log-log slope of the clipped-action score's bias against R is negative; the box must
    bind at every R."""
    share = results.radius.groupby("radius")["clipped_share"].mean()
    regime = report.Regime(f"smallest share of sampled actions outside [-R, R] over R (at R = {share.idxmin():g})",
                           share.min(), BOX_BINDS)
    slope = report.mean_interval(replicate_slopes(results.radius))
    relative = report.mean_interval(replicate_slopes(results.radius, "relative_bias"))
    show = report.claims.fmt
    return report.direction(
        "C1", "Gaussian policy on PMC at fixed theta: the bias ||E g_R - grad J|| of the clipped-action (truncated) "
        "score estimator decreases with the action radius R (bias ∝ 1/R); per-replicate slope of log bias against "
        "log R", "slope ≈ −1 (rate of a bound)", slope, regime, expected="<", unit="log-log slope",
        our_value=f"{show(slope.effect)} [{show(slope.low)}, {show(slope.high)}] (paper's rate −1); bias relative "
                  f"to ||grad J||: slope {show(relative.effect)} [{show(relative.low)}, {show(relative.high)}]",
        evidence="fig01_bias_vs_radius.png")


def dispersion_claim(results: Results, env: str, methods) -> dict:
    """C2 on ``env``: HPG-Cauchy's final returns spread more across replicates than SRMA-Cauchy's (difference of
    mean absolute deviations from each method's median, a Brown-Forsythe spread)."""
    deviations = {m: spread(runs_of(results.runs, env, m)["final_return"]).to_numpy() for m in (HPG, SRMA)}
    interval = report.mean_difference(deviations[HPG], deviations[SRMA])
    return report.direction(
        f"C2.{env}", f"{env}: Cauchy HPG's final return (matched budget, each at its best eta) varies more across "
        "replicates than SRMA's; difference of mean absolute deviations from the median, HPG − SRMA",
        "HPG unstable, SRMA stable", interval, common_regimes(results, env, methods), expected=">", unit="return",
        our_value=with_improvement(interval, deviations[HPG], deviations[SRMA], "HPG deviates more"),
        evidence="fig06_stability.png")


def settling_claim(results: Results, env: str, methods) -> dict:
    """C3 on ``env``: SRMA-Cauchy's late fluctuation is smaller than HPG-Cauchy's (paired by replicate)."""
    fluctuation = {m: runs_of(results.runs, env, m)["late_fluctuation"].to_numpy() for m in (SRMA, HPG)}
    interval = report.paired_mean_difference(fluctuation[SRMA], fluctuation[HPG])
    return report.direction(
        f"C3.{env}", f"{env}: SRMA with constant eta and B settles while HPG oscillates; late fluctuation (std of a "
        f"run's return over the last {LATE_FRACTION:.0%} of the matched budget), SRMA − HPG, each at its best eta",
        "SRMA converges", interval, common_regimes(results, env, methods), expected="<", unit="return",
        our_value=with_improvement(interval, fluctuation[HPG], fluctuation[SRMA], "HPG fluctuates more"),
        evidence="fig06_stability.png")


def accumulation_claim(results: Results, env: str, methods) -> dict:
    """C4 on ``env``: SRMA-Cauchy accumulates more reward (mean return over the matched budget) than the strongest
    section-3 baseline (highest IQM), by rliable's IQM difference; regime adds the baseline's headroom."""
    runs = results.runs
    baselines = [m for m in BASELINES if m in methods and len(runs_of(runs, env, m))] or [HPG]
    accumulation = {m: runs_of(runs, env, m)["accumulation"].to_numpy() for m in (SRMA, *baselines)}
    strongest = max(baselines, key=lambda m: iqm(accumulation[m]) if accumulation[m].size else -np.inf)
    interval = report.iqm_difference(accumulation[SRMA], accumulation[strongest])
    return report.direction(
        f"C4.{env}", f"{env}: SRMA-Cauchy accumulates more reward than the baselines ({', '.join(baselines)}); IQM "
        f"difference of the mean return over the matched budget against the strongest one ({strongest}), each at its "
        "best eta", "improved reward accumulation", interval,
        common_regimes(results, env, methods) + [headroom_regime(runs, env, strongest)], expected=">", unit="return",
        our_value=with_improvement(interval, accumulation[SRMA], accumulation[strongest], f"SRMA beats {strongest}"),
        evidence=RETURN_FIGURES[env])


def claims(results: Results, cfg: Config) -> list[dict]:
    """C1, then C2, C3 and C4 for every environment (one claim per environment, in ``cfg.envs`` order)."""
    methods = list(cfg.methods)
    return ([bias_claim(results)] + [dispersion_claim(results, env, methods) for env in cfg.envs]
            + [settling_claim(results, env, methods) for env in cfg.envs]
            + [accumulation_claim(results, env, methods) for env in cfg.envs])


def limitations(cfg: Config) -> list[str]:
    """The brief's unknowns and our choices."""
    return [
        "Only the abstract and reviews of arXiv:2201.12332 were readable: the exact SRMA recursion, mirror map, "
        "importance-weight clipping, environments, baselines and numbers are unknown; our SRMA is a SARAH-type "
        "recursive GPOMDP estimator with trajectory importance weights plus a mirror step, faithful in spirit only.",
        "C1 [our design]: the bias is measured directly at θ = 0 (μ = 0) on PMC as ‖E ĝ_R − ∇J_R‖, ĝ_R taking the "
        "score at the executed (clipped) action and ∇J_R estimated without bias from the sampled action on the same "
        f"{cfg.radius_episodes} episodes; σ = {cfg.radius_sigma:g} and R ∈ {list(cfg.radii)} keep the box binding "
        f"(regime: at every R at least {BOX_BINDS:.0%} of the sampled actions are clipped). The paper's 1/R is a "
        "bound; with a Gaussian tail the measured bias can fall faster than 1/R, so the slope is an empirical "
        "illustration and only its sign is the claim.",
        f"Step sizes: every method is swept over η ∈ {list(cfg.step_sizes)} with {cfg.sweep_seeds} replicates on "
        f"streams independent of the {cfg.n_seeds} headline replicates. A setting is dropped when a replicate "
        f"diverged, when the median replicate updates θ in fewer than {NONZERO_VALID:.0%} of iterations (all-zero "
        f"gradient estimates), or, for SRMA with tracking, when the median ESS/B of its importance weights is below "
        f"{ESS_VALID:.0%} [our thresholds]. The best η maximises the IQM of reward accumulation; C2-C4 compare each "
        "method at its own best η, so C3 (the brief's 'same η and B') is tested at tuned, not equal, step sizes.",
        "Matched budgets: returns are compared on a grid of environment steps up to the largest budget every "
        "compared run of the environment reached (SRMA's B0 at k = 0 and at every restart counted, HPG's random "
        "horizons counted by an exact replay); a run that learns to end episodes early reaches more iterations "
        f"within the budget. Constants: B = {cfg.batch_size}, B0 = {cfg.initial_batch}, restart every "
        f"{cfg.restart_every} iterations, weights clipped to [0, 5], iterations {dict(cfg.n_iterations)}, training "
        f"episodes capped at {dict(cfg.train_steps)}, discounts {dict(cfg.gamma)}, policy scales {dict(cfg.sigma)}.",
        "Regimes of C2-C4 [our choices]: every compared method has a valid η; some method learns (the lower 95% "
        "bound of its paired gain of final over θ_0 return is > 0); SRMA-Cauchy's median ESS/B ≥ "
        f"{ESS_VALID:.0%}; and for C4 the strongest baseline leaves at least {HEADROOM:.0%} of the span from θ_0 to "
        f"the task's ceiling ({CEILINGS}); where a baseline sits at the ceiling SRMA can at best tie, so the tasks "
        "cannot separate the methods and the claim is not-testable. Pendulum has no reachable ceiling.",
        "Statistics: IQM and its 95% interval by rliable's stratified bootstrap; every direction claim also shows "
        "rliable's probability of improvement P(a > b) − ½ with its interval; curve bands are percentile-bootstrap "
        "95% intervals of the mean over replicates. C2's spread is the mean absolute deviation from each method's median "
        "(Brown-Forsythe). C4 compares SRMA-Cauchy with the baseline of higher IQM accumulation (chosen after "
        "seeing the runs, so the interval is optimistic for the baseline, i.e. conservative for the paper).",
        "The tracking diagnostic (PMC, no restarts) compares SRMA's tracker with a fresh "
        f"{cfg.tracking_true_episodes}-episode estimate at iterations {list(cfg.tracking_iterations)} for every η of "
        "the grid; a step size at which SRMA diverges has no rows.",
        "Sparse MountainCarContinuous pays only at the goal; returns are bimodal (0 or ≈100) across replicates. "
        "Mirror ascent without tracking uses ψ = ½‖θ‖², so with a Cauchy policy it coincides with GPOMDP ascent.",
    ]


def extra(results: Results, summary: pd.DataFrame) -> dict:
    """Supporting numbers for metrics.json: the sweep, the headline per method (``summary``: :func:`method_summary`),
    the C1 table and the diagnostics."""
    methods = {env: {row["method"]: {k: v for k, v in row.items() if k not in ("env", "method")}
                     for row in group.to_dict("records")} for env, group in summary.groupby("env", sort=False)}
    weights = results.runs.groupby(["env", "method"], sort=False).agg(
        step_size=("step_size", "first"), final_return_mean=("final_return", "mean"),
        weights_computed=("weights_computed", "sum"), weights_overflowing=("weights_overflowing", "sum"),
        weights_vanishing=("weights_vanishing", "sum"), ess_median=("ess_median", "median"))
    for (env, method), row in weights.iterrows():
        methods[env].setdefault(method, {}).update(row.to_dict())
    c1 = results.radius.groupby("radius")[["bias", "gradient", "relative_bias", "clipped_share"]].mean()
    tracking = results.tracking.groupby(["step_size", "iteration"], as_index=False)[
        ["tracker_error", "plain_error", "ess_share"]].mean()
    return {"best_step_size": {f"{env}/{method}": float(eta)
                               for (env, method), eta in best_step_sizes(results.settings).items()},
            "settings": results.settings.drop(columns=["best"]).to_dict("records"), "methods": methods,
            "c1": {"radius": c1.index.tolist(), **{name: c1[name].tolist() for name in c1.columns}},
            "tracking_error": tracking.to_dict("records")}


# ---------------------------------------------------------------- figures (drawn by the notebook)
COLORS = {"SRMA-Cauchy": "#D55E00", "HPG-Cauchy": "#E69F00", "PG-Gaussian": "#0072B2", "SRMA-Gaussian": "#56B4E9",
          "MA-Cauchy": "#009E73", "SRMA-Cauchy-pnorm": "#CC79A7", "SRMA-Cauchy-norestart": "#555555"}
ENV_TITLES = {"pmc": "Pathological Mountain Car", "mario": "1D Mario", "mcc_sparse": "sparse MountainCarContinuous",
              "pendulum": "Pendulum-v1"}


def draw_band(ax, x, band: pd.DataFrame, style="-", fill=True, **kw) -> None:
    """The mean with its 95% interval shaded."""
    ax.plot(x, band["mean"], style, **kw)
    if fill:
        ax.fill_between(x, band["low"], band["high"], color=kw.get("color"), alpha=0.15, linewidth=0)


def bias_figure(results: Results):
    """Fig 1: (a) the clipped-action score's bias against R on log-log with the fitted slope; (b) the same bias
    relative to ||grad J_R||; (c) the share of clipped actions at every R (the regime check)."""
    import matplotlib.pyplot as plt
    c1 = radius_summary(results)
    radii = c1["radius"].to_numpy()
    fig, axes = plt.subplots(1, 3, figsize=(17.0, 4.6))
    for ax, column, label, unit in ((axes[0], "bias", "bias ‖E ĝ_R − ∇J_R‖", "gradient norm (return per θ unit)"),
                                    (axes[1], "relative_bias", "bias / ‖∇J_R‖", "fraction")):
        slope = report.mean_interval(replicate_slopes(results.radius, column))
        ax.plot(results.radius["radius"], results.radius[column], ".", color="#0072B2", alpha=0.35)
        draw_band(ax, radii, c1[column], "o-", color="#0072B2", label=f"{label} (dots: replicates); slope "
                  f"{slope.effect:+.2f} [{slope.low:+.2f}, {slope.high:+.2f}]")
        ax.plot(radii, c1[column]["mean"].iloc[-1] * (radii / radii[-1]) ** -1.0, ":", color="grey",
                label="paper's rate: slope −1")
        ax.set(xscale="log", yscale="log", xlabel="action radius R (actions clipped to [−R, R])", ylabel=unit,
               title=f"({'ab'[column != 'bias']}) {label} vs R (mean, 95% CI)")
        ax.set_xticks(radii, [f"{r:g}" for r in radii], minor=False)
        ax.minorticks_off()
        ax.legend(loc="best", fontsize="small")
    bx = axes[2]
    draw_band(bx, radii, c1["clipped_share"] * 100, "o-", color="#0072B2", label="sampled actions (mean, 95% CI)")
    for r, share in zip(radii, c1["clipped_share"]["mean"]):
        bx.annotate(f"{share:.1%}", (r, share * 100), textcoords="offset points", xytext=(4, 6), fontsize="small")
    bx.axhline(BOX_BINDS * 100, color="grey", linestyle=":", label=f"regime threshold {BOX_BINDS:.0%}")
    bx.set(xscale="log", ylim=(0, 100), xlabel="action radius R", ylabel="actions outside [−R, R] (%)",
           title="(c) the box binds at every R")
    bx.set_xticks(radii, [f"{r:g}" for r in radii], minor=False)
    bx.minorticks_off()
    bx.legend(loc="best", fontsize="small")
    fig.suptitle("Fig 1 — Gaussian policy on PMC at θ = 0: bias of the clipped-action score vs R (C1)")
    return fig


def returns_figure(results: Results, envs, title: str, ablations=()):
    """Figs 3-5: return against environment steps on the matched budget, each method at its best eta (the
    ``ablations`` dashed, without a band)."""
    import matplotlib.pyplot as plt
    bands = return_bands(results)
    fig, axes = plt.subplots(1, max(1, len(envs)), figsize=(6.4 * max(1, len(envs)), 4.6), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for method, b in bands[bands["env"] == env].groupby("method", sort=False):
            eta = runs_of(results.runs, env, method)["step_size"].iloc[0]
            ablation = method in ablations
            draw_band(ax, b["steps"] / 1e3, b, "--" if ablation else "-", fill=not ablation, color=COLORS[method],
                      label=f"{method} (η = {eta:g})")
        ax.set(xlabel="environment steps (thousands; matched budget)", ylabel="return per episode (undiscounted)",
               title=ENV_TITLES[env])
        ax.legend(loc="best", fontsize="small")
    if not envs:
        axes[0, 0].text(0.5, 0.5, "not run at this scale (envs parameter)", ha="center", va="center")
        axes[0, 0].set_axis_off()
    fig.suptitle(f"{title} (mean, bootstrap 95% CI over replicates; dashed: ablations, no band)")
    return fig


def stability_figure(summary: pd.DataFrame, envs):
    """Fig 6: per environment and method (``summary``: :func:`method_summary`), the IQM final return, the
    across-replicate spread (C2) and the late fluctuation (C3), each with its 95% interval."""
    import matplotlib.pyplot as plt
    panels = (("final_iqm", "IQM final return"), ("spread", "spread across replicates (C2)"),
              ("late_fluctuation", "late fluctuation (C3)"))
    fig, axes = plt.subplots(len(panels), max(1, len(envs)), figsize=(4.8 * max(1, len(envs)), 9.6), squeeze=False)
    for col, env in enumerate(envs):
        rows = summary[summary["env"] == env].reset_index(drop=True)
        for row, (name, label) in enumerate(panels):
            ax = axes[row, col]
            for i, r in rows.iterrows():
                ax.errorbar(i, r[name], yerr=[[r[name] - r[f"{name}_low"]], [r[f"{name}_high"] - r[name]]], fmt="o",
                            color=COLORS[r["method"]], capsize=3)
            ax.set_xticks(range(len(rows)), rows["method"] if row == len(panels) - 1 else [""] * len(rows),
                          rotation=30, ha="right", fontsize="small")
            ax.set(ylabel=f"{label} (return)", title=ENV_TITLES[env] if row == 0 else "")
    fig.suptitle("Fig 6 — headline at each method's best η: IQM final return (rliable) and the C2/C3 statistics "
                 "(95% CI)")
    return fig


def eta_sweep_figure(results: Results, envs):
    """Fig 7: IQM reward accumulation against eta for every method; invalid settings hollow and labelled."""
    import matplotlib.pyplot as plt
    settings = results.settings
    fig, axes = plt.subplots(1, max(1, len(envs)), figsize=(5.6 * max(1, len(envs)), 4.6), squeeze=False)
    offsets = {m: 1.0 + 0.06 * (i - 1.5) for i, m in enumerate(COLORS)}
    for ax, env in zip(axes[0], envs):
        for method, group in settings[settings["env"] == env].groupby("method", sort=False):
            x = group["step_size"] * offsets[method]
            ax.plot(x, group["accumulation_iqm"], "-", color=COLORS[method], alpha=0.5)
            ok = group["valid"].to_numpy(bool)
            ax.plot(x[ok], group["accumulation_iqm"][ok], "o", color=COLORS[method], label=method)
            ax.plot(x[~ok], group["accumulation_iqm"][~ok], "o", mfc="none", color=COLORS[method])
            best = group[group["best"]]
            ax.plot(best["step_size"] * offsets[method], best["accumulation_iqm"], "*", ms=14, color=COLORS[method])
            for _, r in group[~ok & group["accumulation_iqm"].isna()].iterrows():
                ax.annotate("diverged", (r["step_size"] * offsets[method], 0), xycoords=("data", "axes fraction"),
                            color=COLORS[method], fontsize="x-small", rotation=90, va="bottom")
        ax.set(xscale="log", xlabel="step size η (log grid)", ylabel="IQM reward accumulation (return per episode)",
               title=ENV_TITLES[env])
        ax.legend(loc="best", fontsize="small")
    fig.suptitle("Fig 7 — step-size sweep (filled: valid; hollow: degenerate — diverged, all-zero updates or "
                 f"ESS/B < {ESS_VALID:.0%}; star: best η)")
    return fig


def srma_regime_figure(results: Results):
    """Fig 8: (left) the importance weights' ESS/B against environment steps at the best eta; (right) the tracker's
    error against a fresh estimate on PMC for every eta, next to a fresh B-episode estimate's RMS error."""
    import matplotlib.pyplot as plt
    bands = ess_bands(results)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.8, 4.6))
    styles = dict(zip(ENVS, ("-", "--", ":", "-.")))
    for (env, method), b in bands.groupby(["env", "method"], sort=False):
        draw_band(ax, b["steps"] / max(b["steps"].max(), 1), b, styles[env], color=COLORS[method],
                  label=f"{method}, {env}")
    ax.axhline(ESS_VALID, color="grey", linestyle=":", label=f"valid-regime threshold {ESS_VALID:.0%}")
    ax.set(xlabel="share of the matched budget (environment steps)", ylabel="ESS / B (fraction)", ylim=(0, 1.05),
           title="(a) importance weights' effective sample size")
    ax.legend(loc="best", fontsize="x-small")
    tracking = results.tracking.groupby(["step_size", "iteration"], as_index=False)[["tracker_error",
                                                                                      "plain_error"]].mean()
    for i, (eta, group) in enumerate(tracking.groupby("step_size")):
        color = plt.cm.viridis(i / max(1, tracking["step_size"].nunique() - 1))
        bx.plot(group["iteration"], group["tracker_error"], "o-", color=color, label=f"tracker, η = {eta:g}")
        bx.plot(group["iteration"], group["plain_error"], "x:", color=color, label=f"fresh B-batch, η = {eta:g}")
    bx.set(yscale="log", xlabel="iteration k (no restarts)", ylabel="error vs fresh large-batch estimate (norm)",
           title="(b) PMC: does the tracker track?")
    bx.legend(loc="best", fontsize="x-small")
    fig.suptitle("Fig 8 — SRMA's valid regime")
    return fig
