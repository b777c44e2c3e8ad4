"""FairServe: fair multi-tenant LLM serving across applications (Khan et al., "Ensuring Fair LLM Serving Amid
Diverse Applications", arXiv:2411.15997 v1; brief ``../shared/papers/02-fairserve.md``).

The paper's glue, between the kernels of :mod:`repro.fairness` and ``notebooks/fairserve.ipynb``:

* workload (brief §5): :func:`repro.fairness.make_workload`, calibrated to the server's measured capacity;
* server and schedulers (brief §2-§3): FCFS, RPM (one run per limit of ``rpm_limits``), VTC, WSC alone, OIT+VTC and
  FairServe (OIT+WSC), each replayed by :func:`repro.fairness.replay`;
* measurements (brief §1, §4): :mod:`repro.fairness.metrics` over the whole horizon (figures) and per day block
  (claims C1-C3);
* claims C1-C3 with paired intervals over replicates and a regime check, C4 "cannot" (private data).

Replicates [our choice]: replicate i of the run seed s is the workload of kernel seed
``seeds.seed_int(s, "fairserve", i)`` (:mod:`repro.core.seeds`), i < ``n_seeds``; each replicate's horizon is cut
into day blocks at the troughs of the daily load cosine (the queue is emptiest there): block d holds the times t
with floor(t / period_s + 1/2) = d modulo the number of whole periods, so the half-days at both ends of the horizon
form one block. A claim's effect is the mean over (replicate, day) pairs of FairServe's measurement minus the
baseline's on the same pair (:func:`repro.report.paired_mean_difference`).

Regime check: the share of minutes with at least two backlogged users (a user is backlogged in a minute when one
of its requests waits through the whole minute), from the replays; below :data:`CONTENTION_THRESHOLD` nobody
competes for the server and fairness among users cannot be told apart from an idle queue.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from repro import fairness, report
from repro.core import seeds
from repro.fairness import metrics
from repro.papers.config import PaperConfig, check_fraction, check_positive
from repro.replay.state import FLAG_THROTTLED
from repro.sweep import get_client, sweep
from repro.traces import token_samplers

SCHEDULERS = ("fcfs", "rpm", "vtc", "wsc", "oit+vtc", "fairserve")
"""Every scheduler of the main comparison (brief 02 §3); RPM runs once per limit of ``rpm_limits``."""
TOKEN_SOURCES = ("tables", "trace", "auto")
DATASETS = ("azure-llm-2023",)
"""Public datasets this paper may read ("trace" and "auto" token sources; their DVC data stages are deps)."""
CONTENTION_THRESHOLD = 0.2
"""Regime check [our choice]: a fairness claim needs >= 2 backlogged users in at least this share of minutes."""
LATENCY_PROBABILITIES = np.linspace(0.0, 1.0, 201)
CURVE_POINTS = 240
"""Time points per user in the service-over-time curves (figure 2)."""
CALL_SAMPLE = 200_000
"""Calls sampled for the per-app length distributions (figure 1)."""
SUMMARY_KEYS = ("wsc_gap_max", "wsc_gap_p99", "wsc_gap_mean", "wsc_jain_mean", "wsc_bins", "vtc_gap_max",
                "vtc_gap_p99", "vtc_jain_mean", "latency_normal_p50", "latency_normal_p95", "latency_normal_p99",
                "latency_abusive_p95", "throttled_share_abusive", "throttled_share_normal", "throttled_from_normal",
                "abuser_admitted_token_share", "aborted_share", "aborted_share_normal", "throughput_tokens_per_s",
                "finished_share", "multi_completed", "single_completed", "multi_latency_p95", "single_latency_p95",
                "longsp_latency_p95", "shortsp_latency_p95")
"""Whole-horizon measurements of each run kept in :attr:`Results.runs` (means over replicates in metrics.json)."""
PAPER_VALUE = "qualitative (numbers unknown)"


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.fairserve``); brief 02 §2-§5, the rest [our choice]."""

    n_users: int
    n_apps: int
    duration_s: float
    load_peak: float
    trough_ratio: float
    period_s: float
    abusive_share: float
    abuse_factor: float
    think_time_s: float
    token_source: str
    calibration_requests: int
    kv_tokens: int
    max_batch: int
    rpm_limit: int
    rpm_limits: tuple[int, ...]
    vtc_w_input: float
    vtc_w_output: float
    wsc_alpha: float
    wsc_beta: float
    wsc_gamma: float
    weight_clip: tuple[float, float]
    oit_k: float
    window_s: float
    hol_delay_s: float
    kv_frac: float
    bin_s: float
    n_seeds: int
    n_plotted_normal: int
    sens_duration_s: float
    sens_abusive_shares: tuple[float, ...]
    sens_load_peaks: tuple[float, ...]
    sens_schedulers: tuple[str, ...]
    n_workers: int

    def problems(self) -> list[str]:
        found = super().problems()
        found += check_positive(self, "n_users", "n_apps", "duration_s", "load_peak", "trough_ratio", "period_s",
                                "abuse_factor", "think_time_s", "calibration_requests", "kv_tokens", "max_batch",
                                "rpm_limit", "vtc_w_input", "vtc_w_output", "wsc_alpha", "wsc_beta", "wsc_gamma",
                                "oit_k", "window_s", "hol_delay_s", "bin_s", "n_seeds", "n_plotted_normal",
                                "sens_duration_s", "n_workers")
        found += check_fraction(self, "trough_ratio", "abusive_share", "kv_frac")
        if self.token_source not in TOKEN_SOURCES:
            found.append(f"token_source: expected one of {TOKEN_SOURCES}, got {self.token_source!r}")
        if self.calibration_requests < 100:
            found.append(f"calibration_requests: expected >= 100, got {self.calibration_requests}")
        if self.rpm_limit not in self.rpm_limits or min(self.rpm_limits, default=0) <= 0:
            found.append(f"rpm_limits: expected positive limits including rpm_limit={self.rpm_limit}, "
                         f"got {list(self.rpm_limits)}")
        if not 0 < self.weight_clip[0] <= self.weight_clip[1]:
            found.append(f"weight_clip: expected 0 < low <= high, got {list(self.weight_clip)}")
        whole = self.duration_s / self.period_s
        if whole > 1 and whole != round(whole):
            found.append(f"duration_s: expected at most one period_s or a whole number of them (day blocks), "
                         f"got {self.duration_s} with period_s {self.period_s}")
        if not all(0 <= s <= 1 for s in self.sens_abusive_shares):
            found.append(f"sens_abusive_shares: expected values in [0, 1], got {list(self.sens_abusive_shares)}")
        if not all(x > 0 for x in self.sens_load_peaks):
            found.append(f"sens_load_peaks: expected values > 0, got {list(self.sens_load_peaks)}")
        unknown = [s for s in self.sens_schedulers if s not in SCHEDULERS or s == "rpm"]
        if unknown:
            found.append(f"sens_schedulers: expected names among {[s for s in SCHEDULERS if s != 'rpm']}, "
                         f"got {unknown}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy results of :func:`run`; every frame has a ``run`` column (``fcfs``, ``rpm10``, ``vtc``, ...) where
    it has runs.

    workloads: a row per replicate (its kernel seed ``workload_seed``, requests, capacity, ...).
    runs: a row per replicate x run: whole-horizon measurements (:data:`SUMMARY_KEYS`), ``contended_share``.
    days: a row per replicate x run x day block: ``minutes``, ``contended_minutes`` (>= 2 backlogged users),
        ``gap_p99`` and ``jain_mean`` (normalised service), ``multi_latency_p95`` / ``single_latency_p95``
        (well-behaved users' interactions of multi- / single-call apps, s), ``throttled_share_normal``.
    sensitivity: a row per sensitivity point (``load_peak``, ``abusive_share``) x run, replicate 0.
    service: replicate 0, a row per run x plotted user x time point: cumulative normalised service.
    latency: replicate 0, a row per run x user class x probability: quantile of interaction E2E latency (s).
    apps: replicate 0, a row per app (sorted by calls per interaction, then system prompt); calls: replicate 0, a
        random sample of calls (user input, output tokens).
    """

    workloads: pd.DataFrame
    runs: pd.DataFrame
    days: pd.DataFrame
    sensitivity: pd.DataFrame
    service: pd.DataFrame
    latency: pd.DataFrame
    apps: pd.DataFrame
    calls: pd.DataFrame


# ------------------------------------------------------------------------------------------------ runs
def run_labels(schedulers, rpm_limits) -> list[tuple[str, str, float]]:
    """(run label, scheduler name, RPM limit or NaN): RPM once per limit (``rpm10``), the others once."""
    runs = []
    for name in schedulers:
        if name == "rpm":
            runs += [(f"rpm{int(r)}", "rpm", float(r)) for r in rpm_limits]
        else:
            runs.append((name, name, np.nan))
    return runs


def run_name(label: str) -> str:
    """Display name of a run label: ``rpm10`` -> "RPM 10/min", ``oit+vtc`` -> "OIT+VTC"."""
    if label.startswith("rpm"):
        return f"RPM {label[3:]}/min"
    return fairness.LABELS[label]


def n_days(duration_s: float, cfg: Config) -> int:
    """Number of day blocks of a horizon: whole periods, at least one."""
    return max(1, int(round(duration_s / cfg.period_s)))


def day_of(t, duration_s: float, cfg: Config) -> np.ndarray:
    """Day block of times ``t`` (module docstring): cut at the troughs, the two end half-days joined."""
    return np.floor(np.asarray(t, np.float64) / cfg.period_s + 0.5).astype(np.int64) % n_days(duration_s, cfg)


def make_replicate_workload(cfg: Config, workload_seed: int, tokens: dict, load_peak: float, abusive_share: float,
                            duration_s: float) -> fairness.FairServeWorkload:
    """Brief 02 §5's workload of one replicate at one sensitivity point (``tokens``: length samplers per pool)."""
    return fairness.make_workload(cfg.n_users, cfg.n_apps, duration_s, load_peak=load_peak,
                                  trough_ratio=cfg.trough_ratio, period_s=cfg.period_s, abusive_share=abusive_share,
                                  abuse_factor=cfg.abuse_factor, think_time=cfg.think_time_s,
                                  tokens=tokens, latency=fairness.server(cfg.kv_tokens),
                                  max_batch=cfg.max_batch, calibration_requests=cfg.calibration_requests,
                                  seed=workload_seed)


def replay_run(cfg: Config, workload, name: str, rpm: float) -> fairness.Replay:
    """One scheduler on one workload, with the Config's scheduler parameters (brief 02 §2-§3)."""
    extra = {} if np.isnan(rpm) else {"rpm": rpm}
    return fairness.replay(workload, name, latency=fairness.server(cfg.kv_tokens), max_batch=cfg.max_batch,
                           k=cfg.oit_k, weight_clip=cfg.weight_clip, w_input=cfg.vtc_w_input,
                           w_output=cfg.vtc_w_output, alpha=cfg.wsc_alpha, beta=cfg.wsc_beta, gamma=cfg.wsc_gamma,
                           hol_delay=cfg.hol_delay_s, kv_frac=cfg.kv_frac, window=cfg.window_s, **extra)


def service_units(cfg: Config, workload) -> dict:
    """Per-request charges in FairServe's normalised units (``wsc``, first) and VTC's (``vtc``)."""
    prm = fairness.workload_params(workload, k=cfg.oit_k, window=cfg.window_s, weight_clip=cfg.weight_clip)
    return {"wsc": metrics.wsc_charges(workload.trace, prm["app_weight"], prm["app_system_tokens"], cfg.wsc_alpha,
                                       cfg.wsc_beta, cfg.wsc_gamma),
            "vtc": metrics.vtc_charges(workload.trace, cfg.vtc_w_input, cfg.vtc_w_output)}


def app_classes(apps) -> dict:
    """Apps per class: multi- vs single-call (C1), system prompt above the median vs not."""
    long_prompt = apps.system_prompt_tokens > np.median(apps.system_prompt_tokens)
    return {"multi": apps.calls_per_interaction > 1, "single": apps.calls_per_interaction == 1,
            "longsp": long_prompt, "shortsp": ~long_prompt}


def plotted_users(workload, n_normal: int) -> np.ndarray:
    """Users drawn in figure 2: every abuser and the ``n_normal`` well-behaved users who asked for the most tokens
    (ties: lower id)."""
    trace = workload.trace
    demand = np.bincount(trace.tenant, weights=trace.prompt_tokens + trace.output_tokens,
                         minlength=workload.users.abusive.size)
    normal = np.flatnonzero(~workload.users.abusive)
    top = normal[np.argsort(-demand[normal], kind="stable")[:n_normal]]
    return np.sort(np.concatenate([np.flatnonzero(workload.users.abusive), top]))


def run_summary(cfg: Config, workload, result, units: dict, duration_s: float, keep_users=None) -> dict:
    """Whole-horizon measurements of one replay (:func:`repro.fairness.metrics.summarise` and the app classes)."""
    summary = metrics.summarise(workload.trace, result, workload.users.abusive, units, bin_s=cfg.bin_s,
                                horizon=duration_s, keep_users=keep_users)
    for cls, mask in app_classes(workload.apps).items():
        stats = metrics.app_class_stats(workload.trace, result, workload.users.abusive, mask)
        summary[f"{cls}_completed"], summary[f"{cls}_latency_p95"] = stats["completed"], stats["latency_p95"]
    summary["contended_share"] = summary["wsc_bins"] / int(np.ceil(duration_s / cfg.bin_s))
    return summary


def percentile_or_nan(x, q: float) -> float:
    """The q-th percentile of ``x``, NaN when it is empty."""
    return float(np.percentile(x, q)) if np.size(x) else np.nan


def mean_or_nan(x) -> float:
    """The mean of the finite values of ``x``, NaN when there are none."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan


def day_table(cfg: Config, workload, result, units: dict) -> pd.DataFrame:
    """Per day block of one replay: contention, service gap p99 and Jain's index (normalised service), p95
    latency of well-behaved users' interactions of multi- and single-call apps, throttled share of their requests."""
    trace, abusive = workload.trace, workload.users.abusive
    n_bins, n_users = int(np.ceil(cfg.duration_s / cfg.bin_s)), abusive.size
    backlogged = metrics.backlog_matrix(trace, result, cfg.bin_s, n_bins, n_users)
    service = metrics.service_matrix(trace, result, units["wsc"], cfg.bin_s, n_bins, n_users)
    bins, gaps, jain = metrics.bin_fairness(service, backlogged)
    contended, gap, jain_bin = np.zeros(n_bins, bool), np.zeros(n_bins), np.full(n_bins, np.nan)
    contended[bins], gap[bins], jain_bin[bins] = True, gaps, jain
    bin_day = day_of(np.arange(n_bins) * cfg.bin_s, cfg.duration_s, cfg)
    it = metrics.interactions(trace, result)
    start_day = np.where(it["present"], day_of(np.nan_to_num(it["start"]), cfg.duration_s, cfg), -1)
    latency = it["end"] - it["start"]
    normal = it["completed"] & ~abusive[np.maximum(it["tenant"], 0)]
    multi = workload.apps.calls_per_interaction[np.maximum(it["app"], 0)] > 1
    request_day, normal_request = start_day[trace.interaction], ~abusive[trace.tenant]
    throttled = (result.flags & FLAG_THROTTLED) != 0
    rows = []
    for d in range(n_days(cfg.duration_s, cfg)):
        in_day, started = bin_day == d, start_day == d
        requests = normal_request & (request_day == d)
        rows.append({"day": d, "minutes": int(in_day.sum()),
                     "contended_minutes": int(contended[in_day].sum()),
                     "gap_p99": percentile_or_nan(gap[in_day], 99), "jain_mean": mean_or_nan(jain_bin[in_day]),
                     "multi_latency_p95": percentile_or_nan(latency[normal & started & multi], 95),
                     "single_latency_p95": percentile_or_nan(latency[normal & started & ~multi], 95),
                     "throttled_share_normal": float(throttled[requests].mean()) if requests.any() else np.nan})
    return pd.DataFrame(rows)


def service_curves(cumulative: np.ndarray, users: np.ndarray, abusive: np.ndarray, cfg: Config) -> pd.DataFrame:
    """Figure 2's curves: cumulative service of the plotted users at about :data:`CURVE_POINTS` bin ends."""
    n_bins = cumulative.shape[1]
    step = max(1, n_bins // CURVE_POINTS)
    ends = np.arange(step - 1, n_bins, step)
    return pd.DataFrame({"user": np.repeat(users, ends.size), "abusive": np.repeat(abusive[users], ends.size),
                         "time_h": np.tile((ends + 1) * cfg.bin_s / 3600.0, users.size),
                         "service": cumulative[:, ends].ravel()})


def latency_quantiles(workload, result) -> pd.DataFrame:
    """Figure 4's CDFs: quantiles of the interaction E2E latency of well-behaved and of abusive users."""
    frames = []
    for users, lat in zip(("well-behaved", "abusive"),
                          metrics.interaction_latency(workload.trace, result, workload.users.abusive)):
        if lat.size:
            frames.append(pd.DataFrame({"users": users, "probability": LATENCY_PROBABILITIES,
                                        "latency_s": np.quantile(lat, LATENCY_PROBABILITIES)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["users", "probability", "latency_s"])


def workload_tables(cfg: Config, workload) -> dict[str, pd.DataFrame]:
    """Figure 1's inputs: the apps (sorted by calls per interaction, then system prompt) and a random sample of
    calls (stream (seed, "fairserve", "call sample"))."""
    apps, trace = workload.apps, workload.trace
    sample = seeds.rng(cfg.seed, "fairserve", "call sample").choice(len(trace), size=min(len(trace), CALL_SAMPLE),
                                                                   replace=False)
    sample.sort()
    app = trace.app[sample]
    order = np.lexsort((apps.system_prompt_tokens, apps.calls_per_interaction))
    return {"apps": pd.DataFrame({"app": order, "system_prompt_tokens": apps.system_prompt_tokens[order],
                                  "calls_per_interaction": apps.calls_per_interaction[order]}),
            "calls": pd.DataFrame({"app": app, "user_input_tokens": trace.prompt_tokens[sample]
                                   - apps.system_prompt_tokens[app], "output_tokens": trace.output_tokens[sample]})}


def records(frame: pd.DataFrame) -> np.ndarray:
    """A DataFrame as a structured array (how a sweep task hands a table back; see :func:`frame`)."""
    return frame.to_records(index=False)


def frame(arrays) -> pd.DataFrame:
    """The structured arrays of sweep tasks as one DataFrame (rows in task order)."""
    return pd.concat([pd.DataFrame.from_records(a) for a in arrays if a is not None and a.size], ignore_index=True)


def compare(cfg: Config, *, replicate: int, load_peak: float, abusive_share: float, sensitivity: bool,
            seed: int) -> dict:
    """One replicate at one point: its workload replayed under every run (a :func:`repro.sweep.sweep` task).

    Main comparison (``sensitivity`` False): ``cfg.duration_s``, every scheduler, the ``runs`` and ``days``
    tables, and for replicate 0 the figure tables. Sensitivity: ``cfg.sens_duration_s``, ``cfg.sens_schedulers``,
    the ``runs`` table only. Returns structured arrays (:func:`records`) by table name.
    """
    workload_seed = seeds.seed_int(seed, "fairserve", replicate)
    duration_s = cfg.sens_duration_s if sensitivity else cfg.duration_s
    tokens = token_samplers(cfg.token_source)
    w = make_replicate_workload(cfg, workload_seed, tokens, load_peak, abusive_share, duration_s)
    units = service_units(cfg, w)
    detail = not sensitivity and replicate == 0
    keep = plotted_users(w, cfg.n_plotted_normal) if detail else None
    ids = {"replicate": replicate, "workload_seed": workload_seed}
    workload_row = {**ids, "n_requests": len(w.trace), "n_interactions": int(np.unique(w.trace.interaction).size),
                    "n_abusive": int(w.users.abusive.sum()), "capacity_calls_per_s": w.capacity_calls_per_s,
                    "interactions_per_s_peak": w.interactions_per_s,
                    "token_source": tokens["conv"].source}
    tables = {"runs": [], "days": [], "service": [], "latency": []}
    for label, name, rpm in run_labels(cfg.sens_schedulers if sensitivity else SCHEDULERS, cfg.rpm_limits):
        result = replay_run(cfg, w, name, rpm).result
        summary = run_summary(cfg, w, result, units, duration_s, keep)
        cumulative = summary.pop("cumulative", None)
        run_ids = {**ids, "run": label, "scheduler": name, "rpm_limit": rpm}
        tables["runs"].append(pd.DataFrame([{**run_ids, "n_requests": len(w.trace), **summary}]))
        if not sensitivity:
            tables["days"].append(day_table(cfg, w, result, units).assign(**run_ids))
        if detail:
            tables["service"].append(service_curves(cumulative, keep, w.users.abusive, cfg).assign(run=label))
            tables["latency"].append(latency_quantiles(w, result).assign(run=label))
    out = {name: records(pd.concat(parts, ignore_index=True)) for name, parts in tables.items() if parts}
    out["workloads"] = records(pd.DataFrame([workload_row]))
    if detail:
        out.update({name: records(table) for name, table in workload_tables(cfg, w).items()})
    return out


def sensitivity_points(cfg: Config) -> list[dict]:
    """Figure 6's points: every abuser share at the main load, every other peak load at the main abuser share."""
    points = [{"load_peak": cfg.load_peak, "abusive_share": a} for a in cfg.sens_abusive_shares]
    return points + [{"load_peak": x, "abusive_share": cfg.abusive_share} for x in cfg.sens_load_peaks
                     if x != cfg.load_peak]


def run(cfg: Config) -> Results:
    """Every replicate under every scheduler, and the sensitivity points on replicate 0 (on ``n_workers`` dask
    workers, or in this process when ``n_workers`` is 1: same numbers)."""
    client = "serial"
    if cfg.n_workers > 1:
        get_client(cfg.n_workers)
        client = None
    main = sweep(functools.partial(compare, cfg, sensitivity=False),
                 [{"replicate": i, "load_peak": cfg.load_peak, "abusive_share": cfg.abusive_share}
                  for i in range(cfg.n_seeds)], [cfg.seed], client=client, progress=False)
    sens = sweep(functools.partial(compare, cfg, sensitivity=True),
                 [{"replicate": 0, **point} for point in sensitivity_points(cfg)], [cfg.seed], client=client,
                 progress=False)
    tables = {name: frame(arrays) for name, arrays in main.arrays.items()}
    points = sens.table[["load_peak", "abusive_share"]].to_dict("records")
    sensitivity = pd.concat([pd.DataFrame.from_records(a).assign(**point)
                             for a, point in zip(sens.arrays["runs"], points)], ignore_index=True)
    return Results(workloads=tables["workloads"], runs=tables["runs"], days=tables["days"], sensitivity=sensitivity,
                   service=tables["service"], latency=tables["latency"], apps=tables["apps"], calls=tables["calls"])


# ------------------------------------------------------------------------------------------------ claims
def contention(days: pd.DataFrame, label: str) -> report.Regime:
    """Regime check of a run: the share of its minutes (all replicates and days) with >= 2 backlogged users."""
    rows = days[days["run"] == label]
    minutes = rows["minutes"].sum()
    value = rows["contended_minutes"].sum() / minutes if minutes else np.nan
    return report.Regime(f"share of minutes with >= 2 backlogged users, {run_name(label)}", value,
                         CONTENTION_THRESHOLD)


def per_day(days: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """``values`` (one per row of ``days``) as a (replicate, day) x run table, for paired differences."""
    return days.assign(value=values).pivot(index=["replicate", "day"], columns="run", values="value")


def matched_rpm(runs: pd.DataFrame, cfg: Config) -> str:
    """C3's RPM run: the loosest limit whose abusers' admitted token share (mean over replicates) is at most
    FairServe's, i.e. that curbs abusers at least as much; the strictest limit when none does."""
    share = runs.groupby("run")["abuser_admitted_token_share"].mean()
    curbing = [r for r in sorted(cfg.rpm_limits) if share[f"rpm{r}"] <= share["fairserve"]]
    return f"rpm{curbing[-1] if curbing else min(cfg.rpm_limits)}"


def latency_claim(id: str, baseline: str, days: pd.DataFrame) -> dict:
    """C1: FairServe's log p95-latency ratio (multi- / single-call apps) minus the baseline's, paired."""
    ratio = per_day(days, np.log(days["multi_latency_p95"] / days["single_latency_p95"]))
    effect = report.paired_mean_difference(ratio["fairserve"], ratio[baseline])
    geo = np.exp(ratio.mean())
    return report.direction(
        id, f"{run_name(baseline)} is unfair to applications with many LLM calls per interaction; FairServe less so "
        "(the p95 latency of multi-call apps' interactions over single-call apps' is smaller)", PAPER_VALUE, effect,
        contention(days, baseline), expected="<", unit="log of the p95-latency ratio, FairServe minus baseline",
        our_value=f"p95 latency multi/single-call apps (geometric mean over replicate-days): {run_name(baseline)} "
                  f"{geo[baseline]:.2f}x, FairServe {geo['fairserve']:.2f}x",
        evidence="fig04_latency_wellbehaved.png")


def fairness_claim(id: str, scheduler: str, column: str, expected: str, days: pd.DataFrame) -> dict:
    """C2: a fairness measurement of ``scheduler`` minus VTC's, paired; needs both runs contended."""
    table = per_day(days, days[column])
    effect = report.paired_mean_difference(table[scheduler], table["vtc"])
    what = {"gap_p99": "p99 over minutes of the service gap between backlogged users (normalised units)",
            "jain_mean": "Jain's index of backlogged users' normalised service per minute"}[column]
    side = "smaller" if expected == "<" else "higher"
    return report.direction(
        id, f"{run_name(scheduler)} is fairer than VTC: {side} {what}", PAPER_VALUE, effect,
        [contention(days, scheduler), contention(days, "vtc")], expected=expected,
        unit=f"{column}, {run_name(scheduler)} minus VTC",
        our_value=f"{run_name(scheduler)} {report.fmt(table[scheduler].mean())} vs VTC "
                  f"{report.fmt(table['vtc'].mean())} (mean over replicate-days)", evidence="fig03_fairness_gap.png")


def throttling_claim(days: pd.DataFrame, runs: pd.DataFrame, cfg: Config) -> dict:
    """C3: well-behaved requests throttled by FairServe minus by the matched RPM limit (percentage points)."""
    rpm = matched_rpm(runs, cfg)
    table = per_day(days, 100.0 * days["throttled_share_normal"])
    effect = report.paired_mean_difference(table["fairserve"], table[rpm])
    mean = runs.groupby("run").mean(numeric_only=True)
    return report.direction(
        "C3", "Throttling curbs abusive users without hurting others: FairServe throttles a smaller share of "
        "well-behaved users' requests than an RPM limit that curbs abusers as much", PAPER_VALUE, effect,
        contention(days, "fcfs"), expected="<", unit="percentage points of well-behaved requests, FairServe minus RPM",
        our_value=f"well-behaved requests throttled: FairServe {table['fairserve'].mean():.2f} % vs {run_name(rpm)} "
                  f"{table[rpm].mean():.2f} %; abusers' admitted token share FairServe "
                  f"{100 * mean.loc['fairserve', 'abuser_admitted_token_share']:.1f} %, {run_name(rpm)} "
                  f"{100 * mean.loc[rpm, 'abuser_admitted_token_share']:.1f} %, unthrottled "
                  f"{100 * mean.loc['fcfs', 'abuser_admitted_token_share']:.1f} %; interactions aborted mid-way "
                  f"{100 * mean.loc['fairserve', 'aborted_share']:.2f} % vs {100 * mean.loc[rpm, 'aborted_share']:.2f} %",
        evidence="fig05_throttling.png")


def claims(results: Results, cfg: Config) -> list[dict]:
    """Brief 02's claims C1-C4 with paired intervals over (replicate, day) and contention regime checks."""
    days, runs = results.days, results.runs
    rpm = f"rpm{cfg.rpm_limit}"
    return [
        latency_claim("C1a", "vtc", days),
        latency_claim("C1b", rpm, days),
        fairness_claim("C2a", "fairserve", "gap_p99", "<", days),
        fairness_claim("C2b", "fairserve", "jain_mean", ">", days),
        fairness_claim("C2c", "wsc", "jain_mean", ">", days),
        throttling_claim(days, runs, cfg),
        report.cannot("C4", "Characterisation of MS CoPilot: millions of requests, thousands of users, 34 applications",
                      "34 apps, thousands of users, millions of requests",
                      f"private data; we generate {cfg.n_apps} synthetic apps and {cfg.n_users:,} users "
                      f"({int(results.workloads['n_requests'].mean()):,} requests per replicate)"),
    ]


# ------------------------------------------------------------------------------------------------ report
def limitations(cfg: Config) -> list[str]:
    """Brief 02 §6's unknowns and every [our choice] of this reproduction."""
    days = n_days(cfg.duration_s, cfg)
    return [
        "Brief §6: the paper's body, exact WSC/OIT formulas, thresholds and numeric results were unreadable; the "
        "formulas used are a third party's reading [3p] plus our own choices, so every claim is checked for direction "
        "only.",
        "Brief §6: CoPilot data is private, so the app and user populations are synthetic (C4 cannot be reproduced).",
        "Brief §6: the server is a table-driven simulator (Llama-3.1-8B TP2 latency fitted to the SageServe "
        "profiles), not a GPU.",
        "Brief §6: fairness metric definitions follow VTC (service gap between backlogged users), not necessarily "
        "the paper.",
        f"[our choice] One instance with a KV cache of {cfg.kv_tokens:,} tokens reserved in full at admission, max "
        f"batch {cfg.max_batch}; the engine admits at every iteration boundary (event-driven), not on a 2 s "
        "scheduling tick.",
        f"[our choice] Load: the peak call rate is {cfg.load_peak} x the capacity measured by an FCFS replay of "
        f"{cfg.calibration_requests:,} calls of the workload's own mix released at once; the rate follows a daily "
        f"cosine down to {cfg.trough_ratio} x the peak; {cfg.duration_s / 86400:g} simulated days (not 2 h) so that "
        "one instance sees >= 1M requests.",
        f"[our choice] Think time {cfg.think_time_s} s between a call's finish and the next call of its interaction "
        "(closed loop).",
        f"[our choice] Lengths: token source {cfg.token_source!r}: user-input and output lengths resampled from the "
        "Azure 2023 trace (code pool for 30 % of apps) or from its committed quantile tables; per-app scale factors "
        "LogUniform(0.25, 2).",
        "[VTC] Counter lift follows VTC's Algorithm 2: to the smallest backlogged counter, or to the counter of the "
        "last user whose queue emptied when nobody is backlogged (the VTC artifact omits the latter; without it the "
        "2x bound fails). WSC's 'set to the minimum active counter' [3p] is read the same way so that counters never "
        "decrease.",
        f"[3p] WSC charges (alpha*input + beta*system)/w_a per prefill and gamma/w_a per decoded token with "
        f"alpha={cfg.wsc_alpha}, beta={cfg.wsc_beta}, gamma={cfg.wsc_gamma}: beta > alpha charges system-prompt "
        "tokens more, against the stated intent of not penalising long system prompts; the app weight compensates.",
        f"[our choice] App weight w_a = E[tokens per interaction of a] / median over apps, clipped to "
        f"{list(cfg.weight_clip)}.",
        "[3p] WSC schedules calls of interactions in progress before new interactions, the smallest counter within "
        "each class.",
        f"[our choice] OIT overload: head-of-line queue delay > {cfg.hol_delay_s} s or KV utilisation > {cfg.kv_frac}; "
        f"windows of {cfg.window_s:g} s over accepted requests' prompt + output tokens (output length known at "
        "arrival in the simulator).",
        f"[our choice] OIT limits with k = {cfg.oit_k:g}: L_app = k x E[tokens/interaction of the app] x its users' "
        "expected interactions per window (normal peak rates); L_user = k x E[tokens/interaction of the user's app] x "
        "the mean normal user's expected interactions per window. At 2,000 users this is below one interaction, so "
        "during overload a user who started an interaction in the last minute cannot start another.",
        f"[our choice] RPM counts every call (so multi-call interactions are cut mid-way); C1b uses the limit "
        f"{cfg.rpm_limit}/min, the sweep is {list(cfg.rpm_limits)}; C3 compares FairServe with the loosest limit that "
        "curbs abusers at least as much (abusers' admitted token share at most FairServe's, mean over replicates), "
        "the strictest when none does.",
        f"[our choice] Metrics: service in {cfg.bin_s:g} s bins in FairServe's normalised units (prefill charged at "
        "admission, decode spread over [first token, finish]); 'backlogged' = waiting through the whole bin; gap = "
        "max - min over backlogged users, 0 when fewer than two; Jain's index over the same users; latency = "
        "interaction E2E. In VTC's own cost units VTC has the smaller gap (it equalises exactly that), see fig03 right.",
        f"[our choice] Replicates: {cfg.n_seeds} workload seeds (replicate i of run seed s draws from the stream "
        f"(s, 'fairserve', i)) x {days} day block(s) cut at the daily load troughs, the two end half-days joined; "
        "intervals are bootstrap 95% intervals of paired (replicate, day) differences. Days of one seed share the "
        "user and app population, so they are not fully independent and the intervals may be too narrow.",
        f"[our choice] Regime check: a claim comparing fairness needs >= 2 backlogged users in at least "
        f"{CONTENTION_THRESHOLD:g} of the minutes of each run it compares (C1 of the baseline, C3 of FCFS, the "
        "unthrottled workload); with OIT the queue rarely holds two backlogged users, so FairServe's small gap comes "
        "from throttling and C2a/C2b read not-testable when so; C2c compares WSC alone (FairServe's scheduler "
        "without throttling) with VTC.",
        f"[our choice] Sensitivity (fig06): replicate 0 only, {cfg.sens_duration_s / 86400:g} simulated days per "
        "point, no interval.",
    ]


def metrics_extra(results: Results) -> dict:
    """metrics.json ``extra``: workload facts per replicate, each run's whole-horizon means over replicates and
    contention, the sensitivity points."""
    workloads = results.workloads
    means = results.runs.groupby("run", sort=False)[[*SUMMARY_KEYS, "contended_share"]].mean()
    keep = ["load_peak", "abusive_share", "run", "n_requests", "wsc_gap_max", "wsc_gap_p99", "wsc_jain_mean",
            "latency_normal_p95", "contended_share"]
    return {"workload": {c: workloads[c].tolist() for c in workloads.columns if c != "token_source"}
            | {"token_source": str(workloads["token_source"].iloc[0])},
            "runs": {label: row.to_dict() for label, row in means.iterrows()},
            "sensitivity": results.sensitivity[keep].to_dict("records")}


def data_used(results: Results) -> dict:
    """metrics.json ``data``: where the token lengths came from (the public trace or its committed quantiles)."""
    return {"azure-llm-2023": f"used: {results.workloads['token_source'].iloc[0]}"}
