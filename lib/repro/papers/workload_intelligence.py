"""Workload Intelligence: punching holes through the cloud abstraction (Huang et al., arXiv:2404.19143 v1).

Brief 08. Only the abstract and summaries could be read: the list of optimisations and the discount model are
unknown, so the paper's 48.8% average price cut can only be *bracketed* under stated discount models.

* **Hints** (brief §2): each of the 188 workloads of the synthetic survey (:mod:`repro.fleet.survey`, shared with
  brief 07) declares low availability (<= 3 nines), delay tolerance, preemptibility, statelessness, region
  agnosticism, migratability and scale-out.
* **Eligibility** (:data:`ELIGIBILITY`, [reconstructed, unverified]): ten optimisations, each usable by a
  workload whose hints satisfy a conjunction (e.g. Spot <= preemptible and stateless).
* **Price** (brief §2): ``p_w = max(1 - cap, prod_k (1 - d_k e_k(w)))`` of the list price; the reduction is
  ``1 - p_w``. The discounts ``d_k`` come from ``papers/data/workload_intelligence_discounts.csv`` (default, low,
  high and the public statement behind them, where one exists) and are swept: every discount scaled by 0.5-1.5
  (:func:`sensitivity`), all at their low or all at their high end (the bracket, :func:`named_sets`), and
  drawn uniformly within [low, high] (:func:`random_sets`).
* **Baseline** (brief §3): without hints only the VM type is known, so only opt-in Spot applies (the same
  workloads, Spot only).
* **Contribution** of each optimisation: exact Shapley values of the mean reduction over the 2^10 subsets of
  optimisations (:func:`shapley`), which add up to the mean reduction (the cap included).
* **Notifications** (claim C4, a toy): checkpointing workloads (preemptible, stateful) get an eviction notice
  ``lead`` seconds ahead; one that can finish a checkpoint within the lead loses nothing, otherwise it loses the
  work since its last checkpoint (:func:`lost_work`).
* **Intervals**: percentile bootstrap over workloads (:func:`workload_weights`).

Seeds (:mod:`repro.core.seeds`): the survey (seed, "fleet", "survey"); the bootstrap (seed, "workload-bootstrap");
random discount sets (seed, "discount-sets"); the eviction toy (seed, "eviction").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from repro import fleet, report
from repro.core import seeds
from repro.papers.config import ParameterError, PaperConfig, check_fraction, check_positive
from repro.report.intervals import CONFIDENCE

PAPER = "arXiv:2404.19143"
SLUG = "workload-intelligence"
DATASETS = ()
DISCOUNTS_FILE = Path(__file__).with_name("data") / "workload_intelligence_discounts.csv"
PAPER_REDUCTION = 0.488
HINTS = ("low_availability", "delay_tolerant", "preemptible", "stateless", "region_agnostic", "migratable",
         "scale_out")
ELIGIBILITY = {
    "spot": (("preemptible", True), ("stateless", True)),
    "harvest": (("preemptible", True), ("scale_out", True)),
    "oversubscription": (("low_availability", True), ("migratable", True)),
    "auto_scaling": (("scale_out", True), ("stateless", True)),
    "power_capping": (("low_availability", True),),
    "overclocking": (("scale_out", True), ("delay_tolerant", False)),
    "underclocking": (("delay_tolerant", True),),
    "rightsizing": (("migratable", True),),
    "low_availability_placement": (("low_availability", True),),
    "region_agnostic_placement": (("region_agnostic", True),),
}
"""optimisation -> the hints it needs, (hint, required value) all of which must hold [our reconstruction]."""
OPTIMIZATIONS = tuple(ELIGIBILITY)
NO_HINTS = ("spot",)  # without hints: opt-in Spot only


def describe(rule) -> str:
    """('preemptible', True), ('delay_tolerant', False) -> 'preemptible and not delay_tolerant'."""
    return " and ".join(hint if value else f"not {hint}" for hint, value in rule)


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.workload-intelligence``)."""
    n_workloads: int                 # brief: the 188 surveyed workloads
    n_vms: int                       # VMs of the fleet (VM-weighted averages)
    n_regions: int
    zipf_exponent: float             # as brief 07's fleet
    copula_rho: float
    price_cap: float                 # brief: the total discount is capped at 90%
    scale_low: float                 # sensitivity: discounts scaled from scale_low ...
    scale_high: float                # ... to scale_high (brief: 0.5-1.5)
    sensitivity_points: int          # brief: 50 (smoke 10)
    random_sets: int                 # discount sets drawn uniformly within [low, high]
    bootstrap_resamples: int         # brief: 1,000 bootstrap draws
    reproduce_band: float            # C1a: |ours - 48.8%| within this counts as reproduced [our choice]
    notice_leads_s: tuple[float, ...]    # C4: eviction notice lead times
    notice_claim_s: float            # C4: the lead time the claim tests (Azure Spot: 30 s)
    checkpoint_interval_min: tuple[float, float]   # C4: checkpoint interval range (uniform), minutes
    checkpoint_median_s: float       # C4: median checkpoint duration (log-normal, sigma 1)
    evictions_per_workload: int      # C4: simulated evictions per workload
    min_optimizations: int           # regime: optimisations with at least one eligible workload

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "n_workloads", "n_vms", "n_regions", "zipf_exponent", "sensitivity_points", "random_sets",
            "checkpoint_median_s", "evictions_per_workload", "min_optimizations") + check_fraction(
            self, "price_cap", "reproduce_band")
        if not 0 <= self.scale_low < self.scale_high:
            found.append(f"scale_low, scale_high: expected 0 <= scale_low < scale_high, got {self.scale_low}, "
                         f"{self.scale_high}")
        if self.bootstrap_resamples < 20:
            found.append(f"bootstrap_resamples: expected >= 20, got {self.bootstrap_resamples}")
        if not self.notice_leads_s or min(self.notice_leads_s) != 0 or self.notice_claim_s not in self.notice_leads_s:
            found.append(f"notice_leads_s: expected lead times including 0 and notice_claim_s "
                         f"({self.notice_claim_s}), got {list(self.notice_leads_s)}")
        low, high = self.checkpoint_interval_min
        if not 0 < low <= high:
            found.append(f"checkpoint_interval_min: expected 0 < low <= high, got {list(self.checkpoint_interval_min)}")
        return found


def load_discounts(path: Path = DISCOUNTS_FILE) -> pd.DataFrame:
    """The discount table, checked: one row per optimisation of :data:`ELIGIBILITY` in that order, 0 <= low <=
    default <= high < 1, and an eligible_when column that says what :data:`ELIGIBILITY` does."""
    table = pd.read_csv(path)
    expected = ["optimization", "eligible_when", "default", "low", "high", "source", "statement"]
    if list(table.columns) != expected:
        raise ParameterError(f"{path}: expected columns {expected}, got {list(table.columns)}")
    if tuple(table["optimization"]) != OPTIMIZATIONS:
        raise ParameterError(f"{path}: expected the rows {list(OPTIMIZATIONS)} in order, "
                             f"got {list(table['optimization'])}")
    for i, row in table.iterrows():
        where = f"{path} row {i + 2} ({row.optimization})"
        if not 0 <= row.low <= row.default <= row.high < 1:
            raise ParameterError(f"{where}: expected 0 <= low <= default <= high < 1, got {row.low}, {row.default}, "
                                 f"{row.high}")
        if row.eligible_when != describe(ELIGIBILITY[row.optimization]):
            raise ParameterError(f"{where}: eligible_when {row.eligible_when!r} differs from the code's rule "
                                 f"{describe(ELIGIBILITY[row.optimization])!r}")
    return table


@dataclass(frozen=True)
class Results:
    """Tidy tables of one run.

    workloads: one row per workload: the survey answers, vms, one 0/1 column per optimisation (eligible with
        hints), reduction (default discounts, hints) and reduction_no_hints (Spot only).
    discounts: the discount table (:func:`load_discounts`).
    sets: one row per named discount set (default, low, high) x weighting (workloads, vms): mean reduction.
    shapley: one row per optimisation: eligible share, shapley (contribution to the mean reduction, default set).
    sensitivity: one row per scale: mean reduction, ci_low, ci_high (bootstrap over workloads).
    random: one row per random discount set: mean reduction.
    notice: one row per lead time x checkpointing workload: lost (mean lost work per eviction, minutes).
    """
    workloads: pd.DataFrame
    discounts: pd.DataFrame
    sets: pd.DataFrame
    shapley: pd.DataFrame
    sensitivity: pd.DataFrame
    random: pd.DataFrame
    notice: pd.DataFrame


# ------------------------------------------------------------------------------------------ price model

def eligibility(workloads: pd.DataFrame) -> np.ndarray:
    """(workloads, optimisations) bool: e_k(w) of :data:`ELIGIBILITY`."""
    return np.stack([np.logical_and.reduce([workloads[h].to_numpy() == v for h, v in rule])
                     for rule in ELIGIBILITY.values()], axis=1)


def reductions(eligible: np.ndarray, discounts: np.ndarray, cap: float) -> np.ndarray:
    """Per-workload price reduction ``1 - max(1 - cap, prod_k (1 - d_k e_k))``; ``discounts`` (..., K) broadcast
    against ``eligible`` (W, K) -> (..., W)."""
    factors = 1 - np.asarray(discounts)[..., None, :] * eligible
    return 1 - np.maximum(1 - cap, np.prod(factors, axis=-1))


def workload_weights(cfg: Config, n: int) -> np.ndarray:
    """(resamples, n) multinomial bootstrap weights over workloads."""
    return seeds.rng(cfg.seed, "workload-bootstrap").multinomial(
        n, np.full(n, 1.0 / n), size=cfg.bootstrap_resamples).astype(float)


def percentile_interval(effect: float, replicates: np.ndarray, n: int, method: str) -> report.Interval:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return report.Interval(float(effect), float(low), float(high), n, method)


def shapley(eligible: np.ndarray, discounts: np.ndarray, cap: float) -> np.ndarray:
    """Exact Shapley value of each optimisation in the mean reduction over workloads (sums to the mean)."""
    k = eligible.shape[1]
    masks = (np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1           # (2^k, k) subsets
    value = reductions(eligible, masks * discounts, cap).mean(axis=1)            # (2^k,) mean reduction
    size = masks.sum(axis=1)
    out = np.zeros(k)
    for j in range(k):
        without = masks[:, j] == 0
        weight = np.array([math.factorial(s) * math.factorial(k - s - 1) for s in size[without]]) / math.factorial(k)
        out[j] = np.sum(weight * (value[np.flatnonzero(without) | (1 << j)] - value[without]))
    return out


def named_sets(eligible: np.ndarray, vms: np.ndarray, table: pd.DataFrame, cap: float) -> pd.DataFrame:
    rows = []
    for name in ("default", "low", "high"):
        r = reductions(eligible, table[name].to_numpy(), cap)
        rows += [{"set": name, "weighting": "workloads", "mean": float(r.mean())},
                 {"set": name, "weighting": "vms", "mean": float(np.average(r, weights=vms))}]
    return pd.DataFrame(rows)


def sensitivity(eligible: np.ndarray, table: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Mean reduction with every default discount scaled by s (capped at 0.95), s over the configured range."""
    scales = np.linspace(cfg.scale_low, cfg.scale_high, cfg.sensitivity_points)
    per = reductions(eligible, np.minimum(scales[:, None] * table["default"].to_numpy()[None, :], 0.95),
                     cfg.price_cap)                                              # (scales, workloads)
    boot = per @ workload_weights(cfg, eligible.shape[0]).T / eligible.shape[0]  # (scales, resamples)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(boot, [tail, 100 - tail], axis=1)
    return pd.DataFrame({"scale": scales, "mean": per.mean(axis=1), "ci_low": low, "ci_high": high})


def random_sets(eligible: np.ndarray, table: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Mean reduction of discount sets drawn uniformly within [low, high] per optimisation."""
    u = seeds.rng(cfg.seed, "discount-sets").random((cfg.random_sets, len(table)))
    d = table["low"].to_numpy() + u * (table["high"] - table["low"]).to_numpy()
    means = reductions(eligible, d, cfg.price_cap).mean(axis=1)
    return pd.DataFrame({"set": np.arange(cfg.random_sets), "mean": means})


# ------------------------------------------------------------------------------------------ notifications (C4)

def lost_work(interval_min: np.ndarray, checkpoint_s: np.ndarray, phase: np.ndarray, lead_s: float) -> np.ndarray:
    """Lost work (minutes) per eviction: 0 when the notice lead covers a checkpoint, else the time since the last
    checkpoint (``phase`` in [0, 1) of the interval). Arrays broadcast (workloads, evictions)."""
    return np.where(checkpoint_s <= lead_s, 0.0, phase * interval_min)


def notice_table(workloads: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per lead time x checkpointing workload (preemptible, stateful): mean lost minutes per eviction."""
    users = workloads[workloads["preemptible"] & ~workloads["stateless"]]["workload"].to_numpy()
    rng = seeds.rng(cfg.seed, "eviction")
    low, high = cfg.checkpoint_interval_min
    interval = rng.uniform(low, high, len(users))[:, None]
    checkpoint = cfg.checkpoint_median_s * np.exp(rng.standard_normal(len(users)))[:, None]
    phase = rng.random((len(users), cfg.evictions_per_workload))
    return pd.DataFrame([{"lead_s": lead, "workload": w, "lost_min": lost}
                         for lead in cfg.notice_leads_s
                         for w, lost in zip(users, lost_work(interval, checkpoint, phase, lead).mean(axis=1))])


# ------------------------------------------------------------------------------------------ run

def run(cfg: Config) -> Results:
    spec = fleet.FleetSpec(cfg.n_workloads, cfg.n_vms, cfg.n_regions, 7, cfg.zipf_exponent, cfg.copula_rho,
                           cfg.seed)
    workloads = fleet.workloads_of(spec).copy()
    table = load_discounts()
    eligible = eligibility(workloads)
    spot_only = table["default"].to_numpy() * np.isin(OPTIMIZATIONS, NO_HINTS)
    workloads = workloads.assign(**{k: eligible[:, j] for j, k in enumerate(OPTIMIZATIONS)},
                                 reduction=reductions(eligible, table["default"].to_numpy(), cfg.price_cap),
                                 reduction_no_hints=reductions(eligible, spot_only, cfg.price_cap))
    contributions = pd.DataFrame({"optimization": OPTIMIZATIONS, "eligible": eligible.mean(axis=0),
                                  "eligible_no_hints": eligible.mean(axis=0) * np.isin(OPTIMIZATIONS, NO_HINTS),
                                  "shapley": shapley(eligible, table["default"].to_numpy(), cfg.price_cap)})
    return Results(workloads=workloads, discounts=table,
                   sets=named_sets(eligible, workloads["vms"].to_numpy(), table, cfg.price_cap),
                   shapley=contributions, sensitivity=sensitivity(eligible, table, cfg),
                   random=random_sets(eligible, table, cfg), notice=notice_table(workloads, cfg))


# ------------------------------------------------------------------------------------------ claims

def mean_reduction_interval(results: Results, cfg: Config, set_name: str = "default") -> report.Interval:
    """Mean reduction over workloads under a named discount set, bootstrap over workloads."""
    eligible = results.workloads[list(OPTIMIZATIONS)].to_numpy()
    r = reductions(eligible, results.discounts[set_name].to_numpy(), cfg.price_cap)
    w = workload_weights(cfg, len(r))
    return percentile_interval(float(r.mean()), w @ r / len(r), len(r),
                               f"percentile bootstrap over {len(r)} workloads, {cfg.bootstrap_resamples} resamples")


def bracket_interval(results: Results, cfg: Config) -> report.Interval:
    """min(48.8% - mean reduction(all low), mean reduction(all high) - 48.8%): > 0 when 48.8% is inside the
    bracket the low and high discount sets span; bootstrap over workloads (both ends from one resample)."""
    eligible = results.workloads[list(OPTIMIZATIONS)].to_numpy()
    low = reductions(eligible, results.discounts["low"].to_numpy(), cfg.price_cap)
    high = reductions(eligible, results.discounts["high"].to_numpy(), cfg.price_cap)
    w = workload_weights(cfg, len(low))
    n = len(low)
    effect = min(PAPER_REDUCTION - low.mean(), high.mean() - PAPER_REDUCTION)
    boot = np.minimum(PAPER_REDUCTION - w @ low / n, w @ high / n - PAPER_REDUCTION)
    return percentile_interval(float(effect), boot, n, f"percentile bootstrap over {n} workloads, "
                               f"{cfg.bootstrap_resamples} resamples; min distance of 48.8% to the bracket's ends")


def regime(results: Results, cfg: Config) -> report.Regime:
    usable = int((results.shapley["eligible"] > 0).sum())
    return report.Regime("optimisations with at least one eligible workload", usable, cfg.min_optimizations)


def percentile_of_paper(results: Results) -> float:
    """Share of workloads whose reduction (default discounts) is below 48.8%."""
    return float(np.mean(results.workloads["reduction"] < PAPER_REDUCTION))


def scale_at_paper(results: Results) -> float:
    """The discount scale at which the mean reduction crosses 48.8% (NaN when the sweep never does)."""
    s = results.sensitivity
    above = s["mean"].to_numpy() >= PAPER_REDUCTION
    if above.all() or not above.any():
        return float("nan")
    return float(np.interp(PAPER_REDUCTION, s["mean"], s["scale"]))


def price_claims(results: Results, cfg: Config) -> list[dict]:
    default = mean_reduction_interval(results, cfg)
    bracket = bracket_interval(results, cfg)
    sets = results.sets[results.sets["weighting"] == "workloads"].set_index("set")["mean"]
    vm = results.sets[results.sets["weighting"] == "vms"].set_index("set")["mean"]
    inside = float(np.mean(results.random["mean"] >= PAPER_REDUCTION))
    band = (PAPER_REDUCTION - cfg.reproduce_band, PAPER_REDUCTION + cfg.reproduce_band)
    return [
        report.reproduce("C1a", "average price reduction over the 188 workloads under the default discounts (public "
                         "statements where they exist, else our choice)", "48.8%", default, band, regime(results, cfg),
                         unit="fraction of list price",
                         our_value=f"{default.effect:.1%} [{default.low:.1%}, {default.high:.1%}] (VM-weighted "
                                   f"{vm['default']:.1%}); 48.8% is at the {percentile_of_paper(results):.0%} "
                                   "percentile of the per-workload reductions",
                         evidence="fig02_price_reduction_dist.png"),
        report.direction("C1b", "48.8% lies inside the bracket of mean reductions spanned by all discounts at their "
                         "low end and all at their high end: min distance to the bracket's ends",
                         "48.8% on average", bracket, regime(results, cfg), unit="fraction of list price",
                         our_value=f"bracket [{sets['low']:.1%}, {sets['high']:.1%}] (VM-weighted [{vm['low']:.1%}, "
                                   f"{vm['high']:.1%}]); {inside:.0%} of {cfg.random_sets} random discount sets give "
                                   f">= 48.8%; the default set scaled by {report.fmt(scale_at_paper(results))} "
                                   "gives 48.8%",
                         evidence="fig04_sensitivity.png"),
    ]


def hint_claim(results: Results, cfg: Config) -> dict:
    w = results.workloads
    effect = report.paired_mean_difference(w["reduction"], w["reduction_no_hints"])
    regimes = [regime(results, cfg)]
    top = results.shapley.sort_values("shapley", ascending=False).head(3)
    return report.direction(
        "C2", "hints make ten optimisations usable: mean price reduction with hints minus without (opt-in Spot only)",
        "ten optimisations become usable", effect, regimes, unit="fraction of list price",
        our_value=f"{effect.effect:.1%} [{effect.low:.1%}, {effect.high:.1%}]; largest contributions: "
                  + ", ".join(f"{r.optimization} {r.shapley:.1%}" for r in top.itertuples()),
        evidence="fig03_contribution.png")


def notice_claim(results: Results, cfg: Config) -> dict:
    t = results.notice
    without = t[t["lead_s"] == 0].sort_values("workload")["lost_min"].to_numpy()
    with_notice = t[t["lead_s"] == cfg.notice_claim_s].sort_values("workload")["lost_min"].to_numpy()
    effect = report.paired_mean_difference(without, with_notice)
    users = int(t["workload"].nunique())
    return report.direction(
        "C4", f"platform-to-workload eviction notices let checkpointing workloads save state: lost work per eviction "
              f"without notice minus with {report.fmt(cfg.notice_claim_s)} s notice (toy)",
        "bi-directional interface lets workloads react (no number)", effect,
        report.Regime("checkpointing workloads (preemptible and stateful)", users, 10), unit="minutes",
        evidence="fig05_notification.png")


def claims(results: Results, cfg: Config) -> list[dict]:
    shares = fleet.answer_shares(results.workloads)
    listing = "; ".join(f"{r.question} {r.sampled:.1%}" for r in shares[shares["source"] == "paper"].itertuples())
    return [*price_claims(results, cfg), hint_claim(results, cfg),
            report.by_construction("C3", "survey shares motivate the hints (brief 07 C2)",
                                   "62.9%, 62.8%, 60.6%, ~25%, 61.4%", listing,
                                   "the synthetic survey is drawn with these shares (quotas), see the characterization "
                                   "notebook", evidence="fig01_eligibility.png"),
            notice_claim(results, cfg)]


def extra(results: Results, cfg: Config) -> dict:
    return {
        "sets": {f"{r.set} {r.weighting}": r.mean for r in results.sets.itertuples()},
        "shapley": dict(zip(results.shapley["optimization"], results.shapley["shapley"])),
        "eligible_share": dict(zip(results.shapley["optimization"], results.shapley["eligible"])),
        "paper_percentile": percentile_of_paper(results),
        "scale_at_paper": scale_at_paper(results),
        "random_sets_reaching_paper": float(np.mean(results.random["mean"] >= PAPER_REDUCTION)),
        "random_sets_range": [float(results.random["mean"].min()), float(results.random["mean"].max())],
        "lost_minutes_by_lead": results.notice.groupby("lead_s")["lost_min"].mean().to_dict(),
    }


def limitations(cfg: Config) -> list[str]:
    return [
        "The paper's list of optimisations and its discount model are unknown: 48.8% cannot be reproduced, only "
        "bracketed under discount sets we state (papers/data/workload_intelligence_discounts.csv).",
        "[our reconstruction] Ten optimisations and their eligibility rules: " + "; ".join(
            f"{k} <= {describe(v)}" for k, v in ELIGIBILITY.items()) + ".",
        "[our choice] Only Spot has a public price statement (vendors' 'up to 90%' and '60-91%'); every other "
        "discount and range is ours, so the bracket is as wide as our ranges.",
        f"[our choice] Discounts multiply, capped at a {cfg.price_cap:.0%} total reduction; the sensitivity scales "
        f"every default discount by {cfg.scale_low}-{cfg.scale_high} (each capped at 95%).",
        "[our choice] Without hints only opt-in Spot applies, to the same workloads that would be eligible for it.",
        "The survey answers are synthetic (brief 07's fleet; published marginals, copula, our extra shares): "
        "eligibility shares follow from them and are not the paper's.",
        f"[our choice] Eviction toy: checkpoint intervals U{tuple(cfg.checkpoint_interval_min)} min, checkpoint "
        f"durations log-normal (median {report.fmt(cfg.checkpoint_median_s)} s, sigma 1); a checkpoint that fits the "
        "notice saves all work, otherwise the work since the last checkpoint is lost. It shows the mechanism, not a "
        "measured benefit.",
        "There is no production data.",
    ]
