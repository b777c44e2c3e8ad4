"""Heavy-tailed policy search: Bedi, Parayil, Zhang, Wang, Koppel, "On the Sample Complexity and Metastability of
Heavy-tailed Policy Search in Continuous Control" (arXiv:2106.08414, JMLR 25(39), 2024). Brief:
``../shared/papers/05-heavy-tailed-pg.md``.

What this module measures, with the kernels of :mod:`repro.pg`:

- HPG, Algorithm 1 (paper section 4; ``pg.hpg``), with Gaussian, Cauchy and generalised-Gaussian policies
  (Examples 3.1-3.3) on Pathological Mountain Car and 1D Mario (section 6). Every (environment, policy, replicate)
  is one task of :func:`repro.sweep.sweep` (:func:`train`).
- The tail index alpha_hat of the gradient noise (Theorem 6.1, Fig 2; ``pg.gradient_noise_tail_index``): claims
  C1a, C1b, C2a, C2b.
- Evaluation returns (section 6 return experiments): claim C3.
- The exit time of eq. 5.6's noisy gradient ascent from the small goal's basin (Theorems 5.5-5.6, Defs 5.3-5.4;
  ``pg.exit_times``): claims C4a, C4b.
- E||grad J(theta_k)|| at checkpoints (Theorem 5.2; ``pg.gradient_at``): claim C5.

Random streams come from :mod:`repro.core.seeds` under (cfg.seed, name, ...): replicate r of environment e trains on
the stream ("hpg", e, r) whatever the policy, so the policies of one replicate share their random numbers and
comparisons between policies are paired by replicate; the metastability runs share ("metastability", run) across
every (alpha, width), so they are paired by run.
"""
from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from repro import pg, report
from repro.core import seeds
from repro.papers.config import PaperConfig, check_positive
from repro.pg.envs.pmc import BONANZA_REWARD, BONANZA_S, S_MAX, S_MIN, SMALL_GOAL_REWARD, SMALL_GOAL_S, pmc_profile
from repro.sweep import SERIAL, close_client, get_client, sweep

PAPER = "arXiv:2106.08414"
SLUG = "heavy-tailed-pg"
DATASETS = ()
"""Public datasets this paper reads: none (its environments are simulators)."""
ENVS = ("pmc", "mario")
ENV_LABELS = {"pmc": "PMC", "mario": "1D Mario"}
PMC_START = pg.make_env("pmc").start_low[0]
POLICY_NAMES = {"gaussian": "Gaussian", "cauchy": "Cauchy", "gen_gaussian": "gen. Gaussian"}
BEST_GOAL_RETURN = {"pmc": 0.8 * BONANZA_REWARD, "mario": 0.5}
"""An evaluation episode with a return above this reached the environment's best goal (PMC: the bonanza, +500; the
small goal pays 10 and the energy cost is small; 1D Mario: the left edge, +1)."""
PAPER_ALPHA = {("mario", "gaussian"): 1.0, ("mario", "cauchy"): 0.2, ("pmc", "cauchy"): 1.0}
"""Fig 2: the value the average alpha_hat settles at [paper section 6]."""
ALPHA_TOLERANCE = 0.3          # [our choice] brief C1/C2: reproduce within +-0.3
FINAL_SHARE = 0.1              # "final" = the last 10% of the evaluation points
MIN_NONZERO_SHARE = 0.5        # regime: share of iterations k >= K/2 with a non-zero gradient estimate
MIN_EXITED_SHARE = 0.5         # regime: share of metastability runs that exit before the cap
ALPHA_SWEEP_WIDTH = 1.0        # basin width of the exit-time-vs-alpha sweep
BAND_RESAMPLES = 2000          # bootstrap resamples of the figure bands

FIGURE_SOURCES = {
    "fig01_pmc_landscape.png": "repro.papers.heavy_tailed_pg.landscape",
    "fig02a_tailindex_mario.png": "repro.papers.heavy_tailed_pg.seed_bands",
    "fig02b_tailindex_pmc.png": "repro.papers.heavy_tailed_pg.seed_bands",
    "fig03_return_pmc.png": "repro.papers.heavy_tailed_pg.seed_bands",
    "fig04_return_mario.png": "repro.papers.heavy_tailed_pg.seed_bands",
    "fig05_exit_time.png": "repro.papers.heavy_tailed_pg.exit_summary",
    "fig06_gradnorm.png": "repro.papers.heavy_tailed_pg.gradient_norm_curves",
}


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.heavy-tailed-pg``); every value is [our choice]."""

    n_seeds: int                  # replicates per (environment, policy)
    n_workers: int                # Dask LocalCluster processes of the sweep; 1 runs it in this process
    n_iterations: int             # K
    batch_size: int               # B trajectories per iteration
    gamma: float                  # discount; horizon T ~ Geom(1 - gamma^(1/2))
    sigma_pmc: float
    sigma_mario: float
    step_size_pmc: float          # constant eta
    step_size_mario: float
    gen_gaussian_alpha: float     # shape of Example 3.2's generalised Gaussian; 0 leaves that policy out
    eval_every: int
    n_eval: int                   # evaluation episodes every eval_every iterations (and per checkpoint for actions)
    tail_window: int              # iterations per tail-index window
    tail_stride: int
    grad_checkpoints: int         # evenly spaced iterations 0 .. K where E||grad J|| is measured
    grad_trajectories: int        # trajectories per Monte-Carlo gradient
    gradnorm_smoothing: int       # moving-average length of ||g_k|| in fig06
    meta_alphas: tuple[float, ...]
    meta_widths: tuple[float, ...]
    meta_width_alphas: tuple[float, ...]
    meta_step_size: float
    meta_noise_scale: float
    meta_runs: int
    meta_cap: int

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "n_seeds", "n_workers", "n_iterations", "batch_size", "sigma_pmc", "sigma_mario", "step_size_pmc",
            "step_size_mario", "eval_every", "n_eval", "tail_window", "tail_stride", "grad_checkpoints",
            "grad_trajectories", "gradnorm_smoothing", "meta_step_size", "meta_noise_scale", "meta_runs", "meta_cap")
        if self.n_seeds < 2:
            found.append(f"n_seeds: expected >= 2 (intervals over seeds), got {self.n_seeds}")
        if not 0.0 < self.gamma < 1.0:
            found.append(f"gamma: expected a discount in (0, 1), got {self.gamma}")
        if self.gen_gaussian_alpha != 0 and not 0.0 < self.gen_gaussian_alpha <= 2.0:
            found.append(f"gen_gaussian_alpha: expected 0 (left out) or a shape in (0, 2], "
                         f"got {self.gen_gaussian_alpha}")
        if not self.gradnorm_smoothing <= self.n_iterations:
            found.append(f"gradnorm_smoothing: expected at most n_iterations = {self.n_iterations}, "
                         f"got {self.gradnorm_smoothing}")
        if not self.tail_window * 2 <= self.n_iterations:
            found.append(f"tail_window: expected at most n_iterations / 2 = {self.n_iterations / 2:g}, "
                         f"got {self.tail_window}")
        if self.grad_checkpoints < 2 or self.grad_trajectories < 2:
            found.append(f"grad_checkpoints, grad_trajectories: expected >= 2, got {self.grad_checkpoints}, "
                         f"{self.grad_trajectories}")
        for name in ("meta_alphas", "meta_width_alphas"):
            values = getattr(self, name)
            if len(values) < 2 or not all(0.0 < a <= 2.0 for a in values):
                found.append(f"{name}: expected at least 2 tail indices in (0, 2], got {list(values)}")
        if len(self.meta_widths) < 2 or not all(w > 0 for w in self.meta_widths):
            found.append(f"meta_widths: expected at least 2 widths > 0, got {list(self.meta_widths)}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy results of :func:`run`; ``env`` is "pmc" or "mario", ``policy`` a :func:`policy_kinds` entry and ``seed``
    the replicate 0 .. n_seeds-1.

    runs: a row per (env, policy, seed): settled_alpha, alpha_volatility, nonzero_share, final_return,
        final_best_goal_share, box_share, attenuation (see :func:`train`);
    tail: a row per (env, policy, seed, window_end): alpha_hat of the window ending there;
    evals: a row per (env, policy, seed, iteration): eval_return (mean over episodes), best_goal_share;
    grad_norms: a row per (env, policy, seed, iteration): grad_norm = ||g_k|| of the batch estimate;
    checkpoints: a row per (env, policy, seed, iteration): true_grad_norm = ||grad J(theta_k)|| (Monte-Carlo, noise
        floor removed), box_share of sampled actions there;
    exits: a row per (alpha, width, run): exit_time (iterations, censored at the cap) and exited (before the cap).
    """

    runs: pd.DataFrame
    tail: pd.DataFrame
    evals: pd.DataFrame
    grad_norms: pd.DataFrame
    checkpoints: pd.DataFrame
    exits: pd.DataFrame


# ---------------------------------------------------------------- setup
def policy_kinds(cfg: Config) -> tuple[str, ...]:
    """The compared policies: Gaussian, Cauchy and (unless gen_gaussian_alpha is 0) the generalised Gaussian."""
    return ("gaussian", "cauchy") + (("gen_gaussian",) if cfg.gen_gaussian_alpha > 0 else ())


def policy_labels(cfg: Config) -> dict[str, str]:
    """Policy kind -> the name figures use (the generalised Gaussian with its shape)."""
    return {**POLICY_NAMES, "gen_gaussian": f"gen. Gaussian α={cfg.gen_gaussian_alpha:g}"}


def make_policy(env: str, kind: str, cfg: Config) -> pg.Policy:
    """The policy ``kind`` with the environment's scale sigma (brief section 2, [our choice])."""
    sigma = cfg.sigma_pmc if env == "pmc" else cfg.sigma_mario
    return pg.Policy(kind, sigma, alpha=cfg.gen_gaussian_alpha if kind == "gen_gaussian" else None)


def checkpoint_iterations(cfg: Config) -> np.ndarray:
    """The evenly spaced iterations 0 .. K where ||grad J(theta_k)|| and the actions are measured."""
    return np.linspace(0, cfg.n_iterations, cfg.grad_checkpoints).astype(np.int64)


def landscape(n_points: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig 1: the PMC height profile f(s) = -s^3 + 4 s^2 - 4 over [-4, 3.709] (columns s, height) and its two goals
    (columns goal, s, height, reward)."""
    s = np.linspace(S_MIN, S_MAX, n_points)
    goals = pd.DataFrame({"goal": ["small goal", "bonanza"], "s": [SMALL_GOAL_S, BONANZA_S],
                          "reward": [SMALL_GOAL_REWARD, BONANZA_REWARD]})
    return (pd.DataFrame({"s": s, "height": [pmc_profile(v) for v in s]}),
            goals.assign(height=[pmc_profile(v) for v in goals["s"]]))


# ---------------------------------------------------------------- per-run measurements
def final_mean(values: np.ndarray) -> float:
    """Mean of the last FINAL_SHARE of an evaluation curve (at least its last point)."""
    return float(np.mean(values[-max(1, int(values.size * FINAL_SHARE)):]))


def nonzero_share(grads: np.ndarray) -> float:
    """Share of iterations k >= K/2 whose batch has a non-zero gradient estimate (grads: (K, B, d)); an all-zero
    batch (no trajectory rewarded) carries no gradient noise, and a window of them gives no alpha_hat."""
    second_half = grads[grads.shape[0] // 2:]
    return float((np.abs(second_half).sum(axis=(1, 2)) > 0).mean())


def settled_alpha(ends: np.ndarray, alpha_hat: np.ndarray, n_iterations: int) -> tuple[float, float]:
    """(mean, standard deviation) of alpha_hat over the windows ending in the second half of training: where the
    average estimate settles, and how volatile it is there. NaN when fewer than 1 (mean) or 2 (std) windows have an
    estimate."""
    settled = alpha_hat[(ends > n_iterations / 2) & np.isfinite(alpha_hat)]
    mean = float(settled.mean()) if settled.size else np.nan
    return mean, float(settled.std()) if settled.size >= 2 else np.nan


def box_share(env: pg.EnvSpec, policy: pg.Policy, thetas: np.ndarray, n_episodes: int, seed: int) -> np.ndarray:
    """Per row of ``thetas``: the share of the actions sampled in ``n_episodes`` episodes (to termination or the
    horizon cap) that reach the environment's action box (unclipped action <= low or >= high); row p uses the
    stream (seed, p)."""
    shares = np.zeros(len(thetas))
    for p, theta in enumerate(thetas):
        batch = pg.rollouts(env, policy, theta, n_episodes, seeds.seed_int(seed, p))
        taken = np.arange(batch.act.shape[1]) < batch.length[:, None]
        hit = (batch.act <= env.action_low) | (batch.act >= env.action_high)
        shares[p] = (hit & taken).sum() / taken.sum()
    return shares


def train(env: str, policy: str, seed: int, cfg: Config) -> dict:
    """One HPG run (Algorithm 1) of replicate ``seed`` of ``policy`` on ``env`` and what the claims read from it.

    Scalars (the columns of :attr:`Results.runs`): settled_alpha and alpha_volatility (:func:`settled_alpha`),
    nonzero_share, final_return (mean evaluation return over the last FINAL_SHARE of evaluations),
    final_best_goal_share (share of those evaluation episodes reaching the best goal), box_share (share of sampled
    actions at the action box, over all checkpoints) and attenuation = ||grad J(theta_K)|| / ||grad J(theta_0)||.
    Arrays: the curves of :class:`Results`' long tables.
    """
    spec, kernel_policy = pg.make_env(env), make_policy(env, policy, cfg)
    step_size = cfg.step_size_pmc if env == "pmc" else cfg.step_size_mario
    result = pg.hpg(spec, kernel_policy, seeds=[seeds.seed_int(cfg.seed, "hpg", env, seed)],
                    n_iterations=cfg.n_iterations, batch_size=cfg.batch_size, gamma=cfg.gamma, step_size=step_size,
                    eval_every=cfg.eval_every, n_eval=cfg.n_eval)
    ends, alpha_hat = pg.gradient_noise_tail_index(result.grads[0], window=cfg.tail_window, stride=cfg.tail_stride)
    checkpoints = checkpoint_iterations(cfg)
    thetas = result.theta[0, checkpoints]
    mean, se = pg.gradient_at(spec, kernel_policy, thetas, n_trajectories=cfg.grad_trajectories, gamma=cfg.gamma,
                              seed=seeds.seed_int(cfg.seed, "gradient", env, policy, seed))
    true_norm = pg.debiased_norm(mean, se)
    actions = box_share(spec, kernel_policy, thetas, cfg.n_eval, seeds.seed_int(cfg.seed, "actions", env, policy, seed))
    eval_return = result.eval_return[0]
    best_goal = (eval_return > BEST_GOAL_RETURN[env]).mean(axis=1)
    settled, volatility = settled_alpha(ends, alpha_hat, cfg.n_iterations)
    return {"settled_alpha": settled, "alpha_volatility": volatility, "nonzero_share": nonzero_share(result.grads[0]),
            "final_return": final_mean(eval_return.mean(axis=1)), "final_best_goal_share": final_mean(best_goal),
            "box_share": float(actions.mean()),
            "attenuation": float(true_norm[-1] / true_norm[0]) if true_norm[0] > 0 else np.nan,
            "window_end": ends, "alpha_hat": alpha_hat,
            "eval_iteration": result.eval_iterations, "eval_return": eval_return.mean(axis=1),
            "best_goal_share": best_goal,
            "iteration": np.arange(cfg.n_iterations), "grad_norm": result.grad_norm[0],
            "checkpoint": checkpoints, "true_grad_norm": true_norm, "checkpoint_box_share": actions}


LONG_TABLES = {"tail": {"window_end": "window_end", "alpha_hat": "alpha_hat"},
               "evals": {"eval_iteration": "iteration", "eval_return": "eval_return",
                         "best_goal_share": "best_goal_share"},
               "grad_norms": {"iteration": "iteration", "grad_norm": "grad_norm"},
               "checkpoints": {"checkpoint": "iteration", "true_grad_norm": "true_grad_norm",
                               "checkpoint_box_share": "box_share"}}
"""Results table -> {array output of :func:`train`: column}."""


def long_table(runs, columns: dict[str, str]) -> pd.DataFrame:
    """One row per (env, policy, seed, point) from the array outputs ``columns`` of a sweep of :func:`train`."""
    frames = []
    for row, (env, policy, seed) in enumerate(runs.table[["env", "policy", "seed"]].itertuples(index=False)):
        arrays = {column: runs.arrays[name][row] for name, column in columns.items()}
        frames.append(pd.DataFrame({"env": env, "policy": policy, "seed": seed, **arrays}))
    return pd.concat(frames, ignore_index=True)


def exit_times(cfg: Config) -> pd.DataFrame:
    """Exit times of eq. 5.6 from the small goal's basin (``pg.exit_times``) for every alpha of ``meta_alphas`` at
    width ALPHA_SWEEP_WIDTH and every (alpha, width) of ``meta_width_alphas`` x ``meta_widths``; a row per
    (alpha, width, run). Run r uses the same stream under every setting."""
    settings = sorted({(a, ALPHA_SWEEP_WIDTH) for a in cfg.meta_alphas}
                      | {(a, w) for a in cfg.meta_width_alphas for w in cfg.meta_widths})
    seed = seeds.seed_int(cfg.seed, "metastability")
    frames = []
    for alpha, width in settings:
        times, exited = pg.exit_times(alpha, step_size=cfg.meta_step_size, noise_scale=cfg.meta_noise_scale,
                                      width=width, cap=cfg.meta_cap, n_runs=cfg.meta_runs, seed=seed)
        frames.append(pd.DataFrame({"alpha": alpha, "width": width, "run": np.arange(cfg.meta_runs),
                                    "exit_time": times, "exited": exited}))
    return pd.concat(frames, ignore_index=True)


def sweep_client(cfg: Config):
    """Where the HPG runs go: in this process when ``n_workers`` is 1 and no Dask scheduler is named
    (DASK_SCHEDULER_ADDRESS), else the shared Dask client (a LocalCluster of ``n_workers`` processes)."""
    if cfg.n_workers == 1 and not os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip():
        return SERIAL
    return get_client(cfg.n_workers)


def run(cfg: Config) -> Results:
    """Every HPG run ((environment, policy) x replicate, a task each of :func:`repro.sweep.sweep`; the results do not
    depend on where the tasks run) and the metastability runs."""
    grid = [{"env": env, "policy": kind} for env in ENVS for kind in policy_kinds(cfg)]
    client = sweep_client(cfg)
    runs = sweep(functools.partial(train, cfg=cfg), grid, range(cfg.n_seeds), client=client, progress=False)
    if client != SERIAL:
        close_client()
    tables = {name: long_table(runs, columns) for name, columns in LONG_TABLES.items()}
    return Results(runs=runs.table, exits=exit_times(cfg), **tables)


# ---------------------------------------------------------------- summaries for figures
def _nanmean(x, axis=-1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def seed_bands(frame: pd.DataFrame, value: str, x: str) -> pd.DataFrame:
    """Mean of ``value`` over seeds at every ``x`` per (env, policy), with a 95% percentile-bootstrap band over
    seeds (NaN entries left out; NaN where no seed has a value): columns env, policy, x, mean, low, high."""
    frames = []
    for (env, policy), group in frame.groupby(["env", "policy"], sort=False):
        table = group.pivot(index="seed", columns=x, values=value)
        values = table.to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            band = stats.bootstrap((values,), _nanmean, axis=0, vectorized=True, n_resamples=BAND_RESAMPLES,
                                   method="percentile", rng=seeds.rng(0, "band", env, policy, value))
        frames.append(pd.DataFrame({"env": env, "policy": policy, x: table.columns.to_numpy(),
                                    "mean": _nanmean(values, axis=0), "low": band.confidence_interval.low,
                                    "high": band.confidence_interval.high}))
    return pd.concat(frames, ignore_index=True)


def gradient_norm_curves(results: Results, cfg: Config) -> pd.DataFrame:
    """Moving average (``gradnorm_smoothing`` iterations, ending at ``iteration``) of the mean over seeds of
    ||g_k||, per (env, policy): columns env, policy, iteration, grad_norm."""
    kernel = np.ones(cfg.gradnorm_smoothing) / cfg.gradnorm_smoothing
    frames = []
    for (env, policy), group in results.grad_norms.groupby(["env", "policy"], sort=False):
        mean = group.groupby("iteration")["grad_norm"].mean().to_numpy()
        smoothed = np.convolve(mean, kernel, mode="valid")
        frames.append(pd.DataFrame({"env": env, "policy": policy, "grad_norm": smoothed,
                                    "iteration": np.arange(smoothed.size) + cfg.gradnorm_smoothing}))
    return pd.concat(frames, ignore_index=True)


def exit_summary(exits: pd.DataFrame) -> pd.DataFrame:
    """Per (alpha, width): the mean exit time (runs censored at the cap count at the cap, so it is a lower bound when
    any are) with its bootstrap 95% interval over runs, the share exited before the cap and the median (exact when
    more than half exited, else NaN)."""
    rows = []
    for (alpha, width), group in exits.groupby(["alpha", "width"]):
        interval = report.mean_interval(group["exit_time"].to_numpy(dtype=float))
        summary = pg.mean_exit_time(group["exit_time"].to_numpy(), group["exited"].to_numpy())
        rows.append({"alpha": alpha, "width": width, "mean": interval.effect, "low": interval.low,
                     "high": interval.high, "exited_share": 1.0 - summary["censored"], "median": summary["median"]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- claims
def per_seed(runs: pd.DataFrame, env: str, policy: str, column: str) -> np.ndarray:
    """``column`` of the runs of (env, policy), in seed order."""
    rows = runs[(runs["env"] == env) & (runs["policy"] == policy)].sort_values("seed")
    return rows[column].to_numpy(dtype=float)


def nonzero_regime(runs: pd.DataFrame, env: str, policy: str) -> report.Regime:
    """Regime: the gradient estimate is non-zero in at least MIN_NONZERO_SHARE of the second-half iterations."""
    return report.Regime(f"share of iterations k >= K/2 with a non-zero gradient estimate, {ENV_LABELS[env]} "
                         f"{POLICY_NAMES[policy]}", float(np.mean(per_seed(runs, env, policy, "nonzero_share"))),
                         MIN_NONZERO_SHARE)


def log_exit_times(exits: pd.DataFrame, alpha: float, width: float) -> np.ndarray:
    """log exit time of every run (run order) at (alpha, width); censored runs count at the cap."""
    rows = exits[(exits["alpha"] == alpha) & (exits["width"] == width)].sort_values("run")
    return np.log(rows["exit_time"].to_numpy(dtype=float))


def width_slopes(exits: pd.DataFrame, alpha: float) -> np.ndarray:
    """Per run: the least-squares slope of log exit time against log width at ``alpha`` (the runs share their
    stream across widths); its mean over runs is the slope of the mean log exit time."""
    table = exits[exits["alpha"] == alpha].pivot(index="run", columns="width", values="exit_time")
    x = np.log(table.columns.to_numpy(dtype=float))
    y = np.log(table.to_numpy(dtype=float))
    x = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ x / (x @ x)


def exited_regime(exits: pd.DataFrame, alpha: float, width: float) -> report.Regime:
    """Regime: at least MIN_EXITED_SHARE of the runs at (alpha, width) exit before the cap."""
    rows = exits[(exits["alpha"] == alpha) & (exits["width"] == width)]
    return report.Regime(f"share of runs exiting before the cap, α = {alpha:g}, width {width:g}",
                         float(rows["exited"].mean()), MIN_EXITED_SHARE)


def tail_claim(id: str, results: Results, env: str, policy: str) -> dict:
    """C1a/C1b/C2a: the settled alpha_hat (mean over seeds) against the paper's Fig 2 value +- ALPHA_TOLERANCE."""
    value = PAPER_ALPHA[env, policy]
    label = POLICY_NAMES[policy]
    settles = "settles at" if policy == "gaussian" else "settles around"
    settled = per_seed(results.runs, env, policy, "settled_alpha")
    interval = report.mean_interval(settled)
    return report.reproduce(
        id, f"{ENV_LABELS[env]}: the average tail index α̂ of the {label}-policy gradient noise {settles} {value:g} "
        f"(mean over seeds of α̂ over the windows ending after K/2)", f"≈{value:g}", interval,
        (value - ALPHA_TOLERANCE, value + ALPHA_TOLERANCE), nonzero_regime(results.runs, env, policy),
        our_value=f"{report.fmt(interval.effect)} [{report.fmt(interval.low)}, {report.fmt(interval.high)}] from "
                  f"{interval.n} of {settled.size} seeds with a defined α̂ (an interval needs 2)",
        evidence="fig02a_tailindex_mario.png" if env == "mario" else "fig02b_tailindex_pmc.png")


def claims(results: Results, cfg: Config) -> list[dict]:
    """C1a-C5 of the brief with intervals over replicates and regime checks (see the notebook's "Claim check")."""
    runs, exits = results.runs, results.exits
    final = {p: per_seed(runs, "pmc", p, "final_return") for p in ("cauchy", "gaussian")}
    attenuation = {p: np.mean([per_seed(runs, env, p, "attenuation") for env in ENVS], axis=0)
                   for p in ("cauchy", "gaussian")}
    light, heavy = max(cfg.meta_alphas), min(cfg.meta_alphas)
    light_w, heavy_w = max(cfg.meta_width_alphas), min(cfg.meta_width_alphas)
    pmc_regimes = [nonzero_regime(runs, "pmc", p) for p in ("gaussian", "cauchy")]
    return [
        tail_claim("C1a", results, "mario", "gaussian"),
        tail_claim("C1b", results, "mario", "cauchy"),
        tail_claim("C2a", results, "pmc", "cauchy"),
        report.direction(
            "C2b", "PMC: the Gaussian-policy tail index is volatile: its standard deviation across the windows "
            "ending after K/2 exceeds the Cauchy one's (paired by seed)", "volatile",
            report.paired_mean_difference(per_seed(runs, "pmc", "gaussian", "alpha_volatility"),
                                          per_seed(runs, "pmc", "cauchy", "alpha_volatility")),
            pmc_regimes, expected=">", unit="(std of α̂, Gaussian − Cauchy)", evidence="fig02b_tailindex_pmc.png"),
        report.direction(
            "C3", "PMC: the heavy-tailed (Cauchy) policy escapes the spurious small goal and reaches a higher final "
            "evaluation return than the Gaussian policy (IQM over seeds)", "Cauchy > Gaussian (no numbers)",
            report.iqm_difference(final["cauchy"], final["gaussian"]),
            pmc_regimes + [report.Regime("share of sampled actions at the action box, PMC Cauchy",
                                         float(np.mean(per_seed(runs, "pmc", "cauchy", "box_share"))), 0.0, op=">")],
            expected=">", unit="(return, Cauchy − Gaussian)",
            our_value=f"IQM final return Cauchy {stats.trim_mean(final['cauchy'], 0.25):.4g}, "
                      f"Gaussian {stats.trim_mean(final['gaussian'], 0.25):.4g}",
            evidence="fig03_return_pmc.png"),
        report.direction(
            "C4a", f"Exit time from the small goal's basin decreases as the tails get heavier: mean log exit time at "
            f"α = {light:g} minus at α = {heavy:g} (width {ALPHA_SWEEP_WIDTH:g}, paired by run; runs censored at the "
            "cap count at the cap, a lower bound)", "decreases polynomially",
            report.paired_mean_difference(log_exit_times(exits, light, ALPHA_SWEEP_WIDTH),
                                          log_exit_times(exits, heavy, ALPHA_SWEEP_WIDTH)),
            exited_regime(exits, light, ALPHA_SWEEP_WIDTH), expected=">", unit="(log iterations)",
            evidence="fig05_exit_time.png"),
        report.direction(
            "C4b", f"Exit time grows polynomially with the basin's width for heavy tails and faster (exponentially) "
            f"for light ones: slope of log exit time vs log width at α = {light_w:g} minus at α = {heavy_w:g} "
            "(paired by run; censored runs count at the cap, a lower bound)", "polynomial vs exponential",
            report.paired_mean_difference(width_slopes(exits, light_w), width_slopes(exits, heavy_w)),
            exited_regime(exits, light_w, max(cfg.meta_widths)), expected=">", unit="(log-log slope)",
            evidence="fig05_exit_time.png"),
        report.direction(
            "C5", "E‖∇J(θ_k)‖ attenuates more slowly for the heavy-tailed (Cauchy) policy than for the Gaussian one: "
            "factor ‖∇J(θ_K)‖/‖∇J(θ_0)‖, Cauchy − Gaussian, per seed averaged over PMC and 1D Mario",
            "slower (Thm 5.2)", report.paired_mean_difference(attenuation["cauchy"], attenuation["gaussian"]),
            [nonzero_regime(runs, env, p) for env in ENVS for p in ("gaussian", "cauchy")], expected=">",
            unit="(attenuation factor)", evidence="fig06_gradnorm.png"),
    ]


def extra(results: Results, cfg: Config) -> dict:
    """The per-(environment, policy) and per-(alpha, width) numbers behind the claims, for metrics.json."""
    runs = results.runs.assign(key=results.runs["env"] + "/" + results.runs["policy"])
    by_run = runs.groupby("key", sort=False)
    exits = exit_summary(results.exits)
    final = {p: per_seed(runs, "pmc", p, "final_return") for p in ("cauchy", "gaussian")}
    improvement = report.improvement_probability(final["cauchy"], final["gaussian"])
    attenuation = {env: report.paired_mean_difference(per_seed(runs, env, "cauchy", "attenuation"),
                                                      per_seed(runs, env, "gaussian", "attenuation")) for env in ENVS}
    return {
        "per_env_policy_mean_over_seeds": by_run[["settled_alpha", "alpha_volatility", "nonzero_share",
                                                  "final_return", "box_share", "attenuation"]].mean().to_dict("index"),
        "share_of_seeds_mostly_at_best_goal": (by_run["final_best_goal_share"].apply(lambda s: (s > 0.5).mean())
                                               .to_dict()),
        "pmc_final_return_improvement_probability_minus_half": vars(improvement),
        "attenuation_difference_cauchy_minus_gaussian_by_env": {env: vars(v) for env, v in attenuation.items()},
        "exit_time": {f"alpha={r.alpha:g}, width={r.width:g}": {"mean": r.mean, "ci": [r.low, r.high],
                                                               "exited_share": r.exited_share, "median": r.median}
                      for r in exits.itertuples()},
        "exit_time_width_slope_mean": {f"{a:g}": float(width_slopes(results.exits, a).mean())
                                       for a in cfg.meta_width_alphas},
    }


def limitations(cfg: Config) -> list[str]:
    """The brief's known unknowns (section 6) and every [our choice]."""
    return [
        "The paper was read in a rendering with display equations stripped and Sec. 6 cut after Fig 2: step size, "
        "σ, γ, batch size (the analysis uses B = 1), start pair, horizon cap and seed counts are our choices.",
        "Eq. 4.2 itself, Example 3.2's density and the tail-estimator block sizes are not in the stored text.",
        "The return-curve figures, their numbers and the 'common approaches' compared are not in the stored text: "
        "Figs 3-4 have no paper numbers to compare with.",
        "Only the α̂ values of Fig 2 are numeric claims; everything else is qualitative (direction only).",
        "The paper's '1D Mario: s ∈ [−4, 3.709], a ∈ [−20, 20]' is read as the PMC ranges (a slip in the text).",
        f"[our choice] C1/C2 tolerance ±{ALPHA_TOLERANCE:g} around the paper's α̂; 'settles at' = the mean over seeds "
        "of each seed's mean α̂ over the windows ending after K/2, volatility = each seed's std over those windows.",
        f"[our choice] Example 3.2 ('moderate-tailed' policy) as a generalised Gaussian exp(−|a−μ|^α/σ^α), α = "
        f"{cfg.gen_gaussian_alpha:g}.",
        f"[our choice] Features φ(s) = [s, 1], θ₀ = 0; σ fixed at {cfg.sigma_pmc:g} (PMC) and {cfg.sigma_mario:g} "
        "(1D Mario).",
        "[our choice] Estimator: the random-horizon form Σ γ^{u/2} r_u · Σ ∇log π over T ~ Geom(1 − γ^½); "
        "the causal variant exists (pg.hpg(causal=True)) but is not used here.",
        "[our choice] Start s₀ = 1.0 (PMC), 0.5 (1D Mario); a₀ is drawn from the policy at s₀ (not a fixed a₀).",
        f"[our choice] B = {cfg.batch_size}, γ = {cfg.gamma:g}, η = {cfg.step_size_pmc:g} (PMC) and "
        f"{cfg.step_size_mario:g} (1D Mario), K = {cfg.n_iterations}, {cfg.n_seeds} seeds; the policies of one "
        "replicate share its random stream (comparisons are paired by seed).",
        "[our choice] Horizon cap 500 steps; 1D Mario ends on reward.",
        f"[our choice] Tail-index windows of {cfg.tail_window} iterations × B samples, K1 = ⌊√(window·B)⌋, per "
        "coordinate, averaged over coordinates; windows whose estimates are all exactly 0 give no α̂.",
        "[our choice] Returns are evaluation returns of fresh episodes under θ_k (to termination or the cap), "
        f"{cfg.n_eval} episodes every {cfg.eval_every} iterations; 'final' = the last {FINAL_SHARE:.0%} of them. "
        f"C3 compares their IQM over seeds (rliable); an episode above {BEST_GOAL_RETURN['pmc']:g} on PMC counts as "
        "reaching the bonanza.",
        f"[our choice] Regime checks: the gradient estimate must be non-zero in at least {MIN_NONZERO_SHARE:.0%} of "
        "the iterations k ≥ K/2 of every run a claim reads (an all-zero batch carries no noise and no gradient); "
        f"C3 also needs the Cauchy policy's actions to reach the PMC action box (measured on {cfg.n_eval} episodes "
        f"at each of {cfg.grad_checkpoints} checkpoints); C4 needs at least {MIN_EXITED_SHARE:.0%} of the runs of "
        "the lightest tail (largest width for C4b) to exit before the cap.",
        "[our choice] Metastability (fig05, our illustration of Thms 5.5-5.6): 1-D eq. 5.6 on the PMC profile "
        f"stretched at fixed curvature, η = {cfg.meta_step_size:g}, noise scale {cfg.meta_noise_scale:g}, exit at "
        f"θ ≤ 0, {cfg.meta_runs} runs censored at {cfg.meta_cap} iterations (a censored run counts at the cap, so "
        "means and the C4 effects are lower bounds where runs are censored); the paper's analysis is for d > 1. "
        "C4a compares the mean log exit time of the extreme α, C4b the per-run log-log slopes against width.",
        "[our choice] C5 measures ‖∇J(θ_k)‖ by fresh Monte-Carlo gradients at checkpoints (noise floor removed), "
        "not the paper's constants; its effect averages the two environments' factor differences per seed.",
        "[our choice] The symmetric α-stable policy has a score only at α = 1 and 2 (Cauchy, Gaussian); other α are "
        "sampling-only and the moderate tail uses the generalised Gaussian.",
        f"[our choice] Figure bands are 95% percentile-bootstrap intervals over seeds ({BAND_RESAMPLES} resamples).",
    ]
