"""Hidden biases of policy mirror ascent in continuous action spaces (Bedi, Chakraborty, Parayil, Sadler, Tokekar,
Koppel; ICML 2022, arXiv:2201.12332).

Brief: ``../shared/papers/06-mirror-ascent.md``. Only the abstract and the reviews could be read, so the SRMA
recursion (brief section 2, :mod:`repro.pg.srma`), the baselines (section 3), the environments (section 5) and every
constant are [our choice]. This module is the paper's glue:

* :func:`run` trains every (environment, method, replicate) -- SRMA-Cauchy, the section-3 baselines and the
  ablations -- and evaluates the iterates (claims C2-C4, figures 3-6); runs Gaussian PG on PMC with the action box
  [-R, R] for every radius R (claim C1, figure 1); and measures how well SRMA's tracker follows grad J (a diagnostic
  of the step size). The training and radius tasks go through :func:`repro.sweep.sweep`.
* :func:`claims` decides C1-C4 with a 95% interval over replicates and a regime check each (DESIGN.md, "Claims that
  can fail"): C1 the log-log slope of the gap against R (bootstrap over replicates; regime: the box binds at every R);
  per environment, C2 the difference in across-replicate spread of the final return HPG - SRMA, C3 the paired
  difference in late fluctuation SRMA - HPG, C4 the IQM difference in reward accumulation SRMA - the strongest
  baseline (rliable); regime for C2-C4: some compared method learns.

Evaluation [our choice]: every ``eval_every`` iterations theta_k runs ``n_eval`` fresh episodes to termination or
the horizon cap, on the same random streams for every method of a replicate (common random numbers), reporting the
undiscounted return and the gamma-discounted return sum_t gamma^t r_t (J(theta), the objective every method ascends).

Seeds (:mod:`repro.core.seeds`): replicate i of environment e trains on stream (seed, "train", e, i), shared by the
methods, and is evaluated on (seed, "eval", e, i); the gym tasks' random Fourier features come from
(seed, "features", e); the radius sweep uses (seed, "radius" | "radius-eval" | "radius-gradient", i), the same
training stream at every R; the tracking diagnostic (seed, "tracking", i) and (seed, "tracking-gradient", i).
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
from repro.pg.envs import EnvSpec, make_env
from repro.pg.features import gym_features
from repro.pg.gpomdp import gpomdp
from repro.pg.hpg import debiased_norm, hpg
from repro.pg.policies import Policy
from repro.pg.rollout import Features, rollouts
from repro.pg.srma import srma
from repro.sweep import close_client, get_client, sweep

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
BASELINES = ("HPG-Cauchy", "PG-Gaussian")
"""The section-3 baselines SRMA-Cauchy must beat in C4 (SRMA-Gaussian isolates the policy class, not a benchmark)."""

LATE_FRACTION = 0.25
"""C3: a run's late fluctuation is the std of its evaluation returns over the last quarter of the evaluations."""
RETURN_FIGURES = {"pmc": "fig03_returns_pmc.png", "mario": "fig04_returns_mario.png",
                  "mcc_sparse": "fig05_returns_gym.png", "pendulum": "fig05_returns_gym.png"}
FIGURE_SOURCES = {"fig01_bias_vs_radius.png": "repro.papers.mirror_ascent.radius_summary",
                  "fig02_score_norm.png": "repro.papers.mirror_ascent.score_norms",
                  **{name: "repro.papers.mirror_ascent.return_bands" for name in
                     ("fig03_returns_pmc.png", "fig04_returns_mario.png", "fig05_returns_gym.png",
                      "fig06_stability.png")}}
"""Figure file -> the function whose results it draws (metrics.json figure_sources)."""
BOX_BINDS = 0.05
"""C1 regime [our choice]: at every radius R at least this share of the final policy's actions falls outside [-R, R]."""


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.mirror-ascent``); every value is [our choice]."""
    envs: tuple[str, ...]
    methods: tuple[str, ...]
    ablations: tuple[str, ...]
    ablation_envs: tuple[str, ...]
    n_seeds: int
    n_workers: int
    n_iterations: int
    batch_size: int
    initial_batch: int
    restart_every: int
    step_size: float
    sigma: dict[str, float]
    gamma: dict[str, float]
    train_steps: dict[str, int]
    n_features: int
    eval_every: int
    n_eval: int
    final_fraction: float
    radii: tuple[float, ...]
    radius_gradient_episodes: int
    tracking_step_sizes: tuple[float, ...]
    tracking_iterations: tuple[int, ...]
    tracking_seeds: int
    tracking_true_episodes: int

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "n_seeds", "n_workers", "n_iterations", "batch_size", "initial_batch", "step_size", "n_features",
            "eval_every", "n_eval", "final_fraction", "radius_gradient_episodes", "tracking_seeds",
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
        for name in ("sigma", "gamma", "train_steps"):
            absent = [e for e in self.envs if e not in getattr(self, name)]
            if absent:
                found.append(f"{name}: expected a value for every environment in envs, missing {absent}")
        if len(set(self.radii)) < 2 or min(self.radii, default=0.0) <= 0:
            found.append(f"radii: expected at least two distinct radii > 0, got {list(self.radii)}")
        if self.restart_every < 0:
            found.append(f"restart_every: expected >= 0 (0: never), got {self.restart_every}")
        if self.eval_every > self.n_iterations:
            found.append(f"eval_every: expected <= n_iterations = {self.n_iterations}, got {self.eval_every}")
        if not self.tracking_step_sizes or min(self.tracking_step_sizes) <= 0:
            found.append(f"tracking_step_sizes: expected step sizes > 0, got {list(self.tracking_step_sizes)}")
        if not self.tracking_iterations or min(self.tracking_iterations) < 0:
            found.append(f"tracking_iterations: expected iterations >= 0, got {list(self.tracking_iterations)}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy results of :func:`run`.

    runs: one row per (env, method, replicate): final_return (undiscounted, mean of the last ``final_fraction`` of
      the evaluations), final_discounted_return, initial_return (theta_0), accumulation (mean return over all
      evaluations), late_fluctuation, final_theta_norm, nonzero_direction_share (iterations with v_k != 0) and the
      importance-weight counts weights_computed / weights_overflowing / weights_vanishing (SRMA with tracking);
    curves: one row per (env, method, replicate, iteration) evaluated: return, discounted_return,
      outside_box_share (of the evaluation episodes' actions), theta_norm;
    radius: one row per (radius, replicate) of Gaussian PG on PMC with the box [-R, R]: gap_moving_average,
      gap_gradient, return, discounted_return, outside_box_share (of the final policy's actions);
    tracking: one row per (step_size, replicate, iteration): tracker_error ||v_k - grad J(theta_k)|| and
      plain_error, the RMS error of a fresh B-episode estimate at theta_k.
    """
    runs: pd.DataFrame
    curves: pd.DataFrame
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


def train_run(env: str, method: str, seed: int, cfg: Config) -> dict:
    """Train ``method`` on ``env`` for replicate ``seed`` (0, 1, ...) and evaluate theta_k every ``eval_every``
    iterations (a sweep task: scalars and per-checkpoint arrays)."""
    spec, env_spec = METHODS[method], make_env(env)
    policy, features = Policy(spec.policy, cfg.sigma[env]), env_features(env, cfg)
    common = dict(seeds=[seeds.seed_int(cfg.seed, "train", env, seed)], n_iterations=cfg.n_iterations,
                  batch_size=cfg.batch_size, gamma=cfg.gamma[env], step_size=cfg.step_size, features=features)
    if spec.algorithm == "hpg":
        result = hpg(env_spec, policy, **common)
        thetas, direction_norm, weights = result.theta[0], result.grad_norm[0], (0, 0, 0)
    else:
        result = srma(env_spec, policy, initial_batch=cfg.initial_batch, tracking=spec.tracking,
                      restart_every=cfg.restart_every if spec.restart else 0, p="auto" if spec.pnorm else None,
                      n_steps=cfg.train_steps[env], **common)
        thetas, direction_norm = result.theta[0], result.direction_norm[0]
        weights = (result.weights_computed[0], result.weights_overflowing[0], result.weights_vanishing[0])
    checkpoints = np.arange(0, cfg.n_iterations + 1, cfg.eval_every)
    returns = evaluate(env_spec, policy, thetas[checkpoints], features, n_episodes=cfg.n_eval,
                       seed=seeds.seed_int(cfg.seed, "eval", env, seed), gamma=cfg.gamma[env])
    return {"final_theta_norm": float(np.linalg.norm(thetas[-1])),
            "nonzero_direction_share": float((direction_norm > 0).mean()),
            "weights_computed": int(weights[0]), "weights_overflowing": int(weights[1]),
            "weights_vanishing": int(weights[2]), "iteration": checkpoints, "return": returns["return"],
            "discounted_return": returns["discounted_return"], "outside_box_share": returns["outside_box_share"],
            "theta_norm": np.linalg.norm(thetas[checkpoints], axis=1)}


def radius_run(radius: float, seed: int, cfg: Config) -> dict:
    """Gaussian PG (GPOMDP ascent) on PMC with the action box [-radius, radius] for replicate ``seed`` (claim C1).

    The stationarity gap two ways: the moving average of ||g_k|| over the last ``final_fraction`` of the iterations
    (brief) and a Monte-Carlo ||grad J(theta_K)|| from ``radius_gradient_episodes`` episodes with its noise floor
    removed; the final policy's returns and share of actions outside the box.
    """
    env, policy, gamma, n_steps = (make_env("pmc", action_low=-float(radius), action_high=float(radius)),
                                   Policy("gaussian", cfg.sigma["pmc"]), cfg.gamma["pmc"], cfg.train_steps["pmc"])
    result = srma(env, policy, seeds=[seeds.seed_int(cfg.seed, "radius", seed)], n_iterations=cfg.n_iterations,
                  batch_size=cfg.batch_size, gamma=gamma, step_size=cfg.step_size, tracking=False, n_steps=n_steps)
    theta = result.theta[0, -1]
    g = gpomdp(env, policy, theta, n=cfg.radius_gradient_episodes, gamma=gamma, n_steps=n_steps,
               seed=seeds.seed_int(cfg.seed, "radius-gradient", seed))
    final = evaluate(env, policy, theta[None, :], Features(), n_episodes=cfg.n_eval, gamma=gamma,
                     seed=seeds.seed_int(cfg.seed, "radius-eval", seed))
    tail = max(1, int(round(cfg.final_fraction * cfg.n_iterations)))
    return {"gap_moving_average": float(result.direction_norm[0, -tail:].mean()),
            "gap_gradient": float(debiased_norm(g.mean(axis=0), g.std(axis=0, ddof=1) / math.sqrt(len(g)))),
            **{name: float(values[0]) for name, values in final.items()}}


def tracking_errors(cfg: Config) -> pd.DataFrame:
    """How well SRMA's tracker follows grad J on PMC (Cauchy policy, no restarts): a diagnostic of the step size.

    For each step size and replicate, at each of ``tracking_iterations`` the error ||v_k - grad J(theta_k)|| with
    grad J(theta_k) the mean of ``tracking_true_episodes`` GPOMDP estimates, and for comparison the RMS error
    sqrt(trace Cov[g] / B) of a fresh B-episode estimate at the same theta_k (what ascent without tracking uses).
    """
    env, policy = make_env("pmc"), Policy("cauchy", cfg.sigma["pmc"])
    gamma, n_steps, iterations = cfg.gamma["pmc"], cfg.train_steps["pmc"], sorted(cfg.tracking_iterations)
    rows = []
    for eta in cfg.tracking_step_sizes:
        result = srma(env, policy, seeds=seeds.seed_ints(cfg.seed, cfg.tracking_seeds, "tracking"),
                      n_iterations=iterations[-1] + 1, batch_size=cfg.batch_size, initial_batch=cfg.initial_batch,
                      step_size=eta, gamma=gamma, restart_every=0, n_steps=n_steps)
        for r in range(cfg.tracking_seeds):
            for k in iterations:
                g = gpomdp(env, policy, result.theta[r, k], n=cfg.tracking_true_episodes, gamma=gamma,
                           n_steps=n_steps, seed=seeds.seed_int(cfg.seed, "tracking-gradient", r))
                rows.append({"step_size": eta, "replicate": r, "iteration": k,
                             "tracker_error": float(np.linalg.norm(result.direction[r, k] - g.mean(axis=0))),
                             "plain_error": math.sqrt(g.var(axis=0).sum() / cfg.batch_size)})
    return pd.DataFrame(rows, columns=["step_size", "replicate", "iteration", "tracker_error", "plain_error"])


def training_grid(cfg: Config) -> list[dict]:
    """Every (env, method) of the compared methods, then the ablations on ``ablation_envs``."""
    return ([{"env": e, "method": m} for e in cfg.envs for m in cfg.methods]
            + [{"env": e, "method": m} for e in cfg.ablation_envs if e in cfg.envs for m in cfg.ablations])


def curve_frame(training) -> pd.DataFrame:
    """The sweep's per-checkpoint arrays as one row per (env, method, replicate, iteration)."""
    table = training.table
    frames = [pd.DataFrame({"env": table.at[row, "env"], "method": table.at[row, "method"],
                            "replicate": int(table.at[row, "seed"]),
                            **{name: training.arrays[name][row]
                               for name in ("iteration", "return", "discounted_return", "outside_box_share", "theta_norm")}})
              for row in range(len(table))]
    return pd.concat(frames, ignore_index=True)


def tail_mean(values: np.ndarray, fraction: float) -> float:
    """Mean of the last ``fraction`` of a curve (at least one point)."""
    return float(values[-max(1, int(round(fraction * values.size))):].mean())


def late_fluctuation(values: np.ndarray) -> float:
    """Std of a curve over its last LATE_FRACTION of points (at least two): how much a run still moves (C3)."""
    return float(values[-max(2, int(round(LATE_FRACTION * values.size))):].std())


def run_frame(training, curves: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per (env, method, replicate): the sweep's scalars plus summaries of the run's evaluation curve."""
    summaries = []
    for (env, method, replicate), curve in curves.groupby(["env", "method", "replicate"], sort=False):
        returns, discounted = curve["return"].to_numpy(), curve["discounted_return"].to_numpy()
        summaries.append({"env": env, "method": method, "replicate": replicate,
                          "final_return": tail_mean(returns, cfg.final_fraction),
                          "final_discounted_return": tail_mean(discounted, cfg.final_fraction),
                          "initial_return": float(returns[0]), "accumulation": float(returns.mean()),
                          "late_fluctuation": late_fluctuation(returns)})
    scalars = training.table.rename(columns={"seed": "replicate"})
    return pd.DataFrame(summaries).merge(scalars, on=["env", "method", "replicate"], validate="one_to_one")


def run(cfg: Config) -> Results:
    """Every experiment of the notebook: the training sweep, the radius sweep (C1) and the tracking diagnostic."""
    replicates = range(cfg.n_seeds)
    client = get_client(cfg.n_workers)
    try:
        training = sweep(functools.partial(train_run, cfg=cfg), training_grid(cfg), replicates, client=client,
                         progress=False)
        radius = sweep(functools.partial(radius_run, cfg=cfg), {"radius": list(cfg.radii)}, replicates,
                       client=client, progress=False)
    finally:
        close_client()
    curves = curve_frame(training)
    return Results(runs=run_frame(training, curves, cfg), curves=curves,
                   radius=radius.table.rename(columns={"seed": "replicate"}), tracking=tracking_errors(cfg))


# ---------------------------------------------------------------- summaries for figures and metrics
def replicate_slopes(radius: pd.DataFrame, column: str = "gap_moving_average") -> np.ndarray:
    """Per replicate, the least-squares slope of log(column) against log R (NaN where a gap is not positive)."""
    table = radius.pivot(index="replicate", columns="radius", values=column).sort_index(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(table.to_numpy(dtype=float))
    x = np.log(table.columns.to_numpy(dtype=float))
    return np.array([np.polyfit(x, row, 1)[0] if np.isfinite(row).all() else np.nan for row in y])


def mean_band(values: pd.Series) -> pd.Series:
    """Mean over replicates with its 95% t-interval (the bands of the figures) and the std."""
    x = values.to_numpy(dtype=float)
    n, mean, std = x.size, x.mean(), x.std(ddof=1) if x.size > 1 else 0.0
    half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    return pd.Series({"mean": mean, "low": mean - half, "high": mean + half, "std": std, "n": n})


def return_bands(results: Results) -> pd.DataFrame:
    """Per (env, method, iteration): mean undiscounted return over replicates, 95% interval and std (figs 3-6)."""
    return (results.curves.groupby(["env", "method", "iteration"], sort=False)["return"].apply(mean_band)
            .unstack().reset_index())


def radius_summary(results: Results) -> pd.DataFrame:
    """Per radius R: the mean (95% interval) of the moving-average gap, ||grad J|| and the outside-box share (fig 1)."""
    frames = {column: results.radius.groupby("radius")[column].apply(mean_band).unstack()
              for column in ("gap_moving_average", "gap_gradient", "outside_box_share")}
    return pd.concat(frames, axis=1).reset_index()


def score_norms(deviation, sigma: float = 1.0) -> pd.DataFrame:
    """|d log pi(a) / d mu| at a - mu = ``deviation`` for the Gaussian (unbounded) and Cauchy (bounded by 1/sigma)
    policies (fig 2)."""
    deviation = np.asarray(deviation, dtype=float)
    return pd.DataFrame({"deviation": deviation,
                         **{kind: np.abs(Policy(kind, sigma).score(deviation)) for kind in ("gaussian", "cauchy")}})


# ---------------------------------------------------------------- claims
def runs_of(runs: pd.DataFrame, env: str, method: str) -> pd.DataFrame:
    """The rows of one (env, method), by replicate."""
    return runs[(runs["env"] == env) & (runs["method"] == method)].sort_values("replicate")


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


def spread(values: pd.Series) -> pd.Series:
    """Absolute deviations from the median: their mean is a Brown-Forsythe measure of spread across replicates."""
    return (values - values.median()).abs()


def bias_claim(results: Results) -> dict:
    """C1: the per-replicate log-log slope of the moving-average gap against R is negative; the box must bind."""
    share = results.radius.groupby("radius")["outside_box_share"].mean()
    regime = report.Regime(f"smallest share of the final policy's actions outside [-R, R] over R (at R = "
                           f"{share.idxmin():g})", share.min(), BOX_BINDS)
    return report.direction(
        "C1", "Gaussian PG on PMC: the stationarity gap (moving-average ||g_k||, last iterations) decreases with "
        "the action radius R (bias ∝ 1/R); per-replicate slope of log gap against log R",
        "slope ≈ −1 (rate of a bound)", report.mean_interval(replicate_slopes(results.radius)), regime, expected="<",
        unit="log-log slope", evidence="fig01_bias_vs_radius.png")


def dispersion_claim(runs: pd.DataFrame, env: str) -> dict:
    """C2 on ``env``: HPG-Cauchy's final returns spread more across replicates than SRMA-Cauchy's (difference of
    mean absolute deviations from each method's median, a Brown-Forsythe spread)."""
    deviations = {m: spread(runs_of(runs, env, m)["final_return"]) for m in (HPG, SRMA)}
    return report.direction(
        f"C2.{env}", f"{env}: Cauchy HPG's final return varies more across replicates than SRMA's; difference of "
        "mean absolute deviations from the median, HPG − SRMA", "HPG unstable, SRMA stable",
        report.mean_difference(deviations[HPG], deviations[SRMA]), learning_regime(runs, env, (SRMA, HPG)),
        expected=">", unit="return", evidence="fig06_stability.png")


def settling_claim(runs: pd.DataFrame, env: str) -> dict:
    """C3 on ``env``: SRMA-Cauchy's late fluctuation is smaller than HPG-Cauchy's (paired by replicate)."""
    return report.direction(
        f"C3.{env}", f"{env}: SRMA with constant eta and B settles while HPG with the same eta and B oscillates; "
        f"late fluctuation (std of a run's return over its last {LATE_FRACTION:.0%} of evaluations), SRMA − HPG",
        "SRMA converges", report.paired_mean_difference(runs_of(runs, env, SRMA)["late_fluctuation"],
                                                        runs_of(runs, env, HPG)["late_fluctuation"]),
        learning_regime(runs, env, (SRMA, HPG)), expected="<", unit="return", evidence="fig06_stability.png")


def accumulation_claim(runs: pd.DataFrame, env: str, methods) -> dict:
    """C4 on ``env``: SRMA-Cauchy accumulates more reward (mean evaluation return over training) than the strongest
    section-3 baseline (highest IQM), by rliable's IQM difference."""
    baselines = [m for m in BASELINES if m in methods]
    accumulation = {m: runs_of(runs, env, m)["accumulation"].to_numpy() for m in (SRMA, *baselines)}
    strongest = max(baselines, key=lambda m: stats.trim_mean(accumulation[m], 0.25))   # the IQM
    return report.direction(
        f"C4.{env}", f"{env}: SRMA-Cauchy accumulates more reward than the baselines ({', '.join(baselines)}); IQM "
        f"difference of the mean evaluation return over training against the strongest one ({strongest})",
        "improved reward accumulation", report.iqm_difference(accumulation[SRMA], accumulation[strongest]),
        learning_regime(runs, env, (SRMA, *baselines)), expected=">", unit="return",
        evidence=RETURN_FIGURES[env])


def claims(results: Results, cfg: Config) -> list[dict]:
    """C1, then C2, C3 and C4 for every environment (one claim per environment, in ``cfg.envs`` order)."""
    runs = results.runs
    return ([bias_claim(results)] + [dispersion_claim(runs, env) for env in cfg.envs]
            + [settling_claim(runs, env) for env in cfg.envs]
            + [accumulation_claim(runs, env, cfg.methods) for env in cfg.envs])


def limitations(cfg: Config) -> list[str]:
    """The brief's unknowns and our choices."""
    return [
        "Only the abstract and reviews of arXiv:2201.12332 were readable: the exact SRMA recursion, mirror map, "
        "importance-weight clipping, environments, baselines and numbers are unknown; our SRMA is a SARAH-type "
        "recursive GPOMDP estimator with trajectory importance weights plus a mirror step, faithful in spirit only.",
        "The 'bias ∝ 1/R' claim is a bound; our slope is an empirical illustration on PMC. It can only show the "
        f"effect where the box binds: C1 is not-testable unless at every R at least {BOX_BINDS:.0%} of the final "
        "policy's actions fall outside [-R, R] [our threshold].",
        f"Constants are our choices: constant η = {cfg.step_size:g} and B = {cfg.batch_size} for every method (brief), "
        f"B0 = {cfg.initial_batch}, restart every {cfg.restart_every} iterations, weights clipped to [0, 5], "
        f"training episodes capped at {dict(cfg.train_steps)}, discounts {dict(cfg.gamma)}, policy scales "
        f"{dict(cfg.sigma)}.",
        "Regime check of C2-C4 [our choice]: some compared method learns, i.e. the lower 95% bound of its paired "
        "gain of final over θ_0 return is > 0; otherwise the comparison is between policies that never moved.",
        "C2's spread is the mean absolute deviation of the final return from each method's median (Brown-Forsythe), "
        "so that a bootstrap over replicates gives an interval; the brief's spread of ‖θ‖ is reported in extra only. "
        "C4 compares SRMA-Cauchy with the baseline of higher IQM accumulation on each environment (chosen after "
        "seeing the runs, so the interval is optimistic for the baseline, i.e. conservative for the paper).",
        "SRMA's tracker is only as good as its importance-weighted corrections: when η‖v_k‖ moves θ far between "
        "iterations (PMC rewards reach 500), trajectory weights stray from 1 and the corrections' variance "
        "accumulates between restarts. The tracking-error diagnostic (extra.tracking_error) compares the brief's η "
        "with smaller ones; a smaller η or a larger B would favour tracking but leaves the brief's constant-η, "
        "constant-B comparison.",
        "Returns are evaluated with n_eval episodes per checkpoint. Sparse MountainCarContinuous pays only at the "
        "goal, which few initial episodes reach within 999 steps, so early learning hinges on rare events and "
        "returns are bimodal (0 or ≈100) across replicates.",
        "Mirror ascent without tracking uses ψ = ½‖θ‖², so with a Cauchy policy it coincides with GPOMDP gradient "
        "ascent.",
    ]


def extra(results: Results) -> dict:
    """Supporting numbers for metrics.json: per (env, method) means, the C1 table and the tracking diagnostic."""
    per_method = results.runs.groupby(["env", "method"], sort=False).agg(
        final_return=("final_return", "mean"), final_discounted_return=("final_discounted_return", "mean"),
        accumulation=("accumulation", "mean"), late_fluctuation=("late_fluctuation", "mean"),
        final_return_std=("final_return", "std"), theta_norm_std=("final_theta_norm", "std"),
        nonzero_direction_share=("nonzero_direction_share", "mean"),
        weights_computed=("weights_computed", "sum"), weights_overflowing=("weights_overflowing", "sum"),
        weights_vanishing=("weights_vanishing", "sum"))
    methods = {env: {method: row.to_dict() for (_, method), row in group.iterrows()}
               for env, group in per_method.groupby(level="env", sort=False)}
    c1 = results.radius.groupby("radius")[["gap_moving_average", "gap_gradient", "outside_box_share",
                                           "return"]].mean()
    slopes = replicate_slopes(results.radius, "gap_gradient")
    tracking = results.tracking.groupby(["step_size", "iteration"], as_index=False)[["tracker_error",
                                                                                     "plain_error"]].mean()
    return {"methods": methods,
            "c1": {"radius": c1.index.tolist(), **{name: c1[name].tolist() for name in c1.columns},
                   "slope_gradient_mean": float(slopes[np.isfinite(slopes)].mean()) if np.isfinite(slopes).any()
                   else None},
            "tracking_error": [{"step_size": eta, "iteration": group["iteration"].tolist(),
                                "tracker_error": group["tracker_error"].tolist(),
                                "plain_error": float(group["plain_error"].mean())}
                               for eta, group in tracking.groupby("step_size", sort=False)]}
