"""Calibration report of the synthetic generators (slug ``traces``; not a paper).

The SageServe, FairServe and Router briefs (01 §2 "Request fields" and §5, 02 §5, 03 §5) replay synthetic
request traces through a table-driven latency model (brief 01 §2 "Service model"). This module checks those
inputs against the public facts they are calibrated to:

* :func:`token_comparison`: prompt/output token lengths of :class:`repro.traces.tokens.QuantileTokens` (a
  Gaussian copula over the committed quantile tables) against the public Azure LLM inference trace 2023
  (claims T1, T2; figures 1-2), with a percentile bootstrap over resampled requests;
* :func:`rate_shapes`: the weekly arrival-rate shapes of :mod:`repro.traces.weekly` against the bands read off the
  public plots of the week-long 2024 trace (T3-T9, figure 3);
* :func:`weekly_trace`: the SageServe-scale week and its SLA mix (T10, figure 4);
* :func:`latency_fit`: the latency coefficients refitted to every row of the SageServe profiling tables (T11,
  figure 5), with a bootstrap over table rows.

What each claim can say (DESIGN.md, "Claims that can fail"): T1, T2 and T11 compare with public data and are
``reproduce`` claims with a 95% interval; their regime check is that the public rows were read at all (without the
data they are not testable). T3-T10 are numbers our own inputs fix (the rate shapes were fitted to the very bands
they are compared with; the SLA mix is what we sample) and are ``by-construction``.

Seeds (:mod:`repro.core.seeds`): synthetic token pairs of pool k on stream (seed, "tokens", k), their bootstrap on
(seed, "token-bootstrap", k); the one-class shape weeks (seed, "rate-shape", k); the SageServe week (seed, "week");
the latency bootstrap (seed, "latency-bootstrap").
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from repro import data, latency, report
from repro import traces as gen
from repro.core import seeds
from repro.papers.config import PaperConfig, check_fraction, check_positive
from repro.report.intervals import CONFIDENCE, RESAMPLES
from repro.traces import tokens

PAPER = "calibration"
SLUG = "traces"
TOKENS_DATASET = "azure-llm-2023"
PERF_DATASET = "sageserve-perf"
DATASETS = (TOKENS_DATASET, PERF_DATASET)
"""Public datasets this calibration reads (their DVC data stages are this stage's dependencies)."""
SYNTHETIC, PUBLIC = "synthetic", "public"
WORKLOAD_NAMES = {gen.WORKLOAD_INTERACTIVE: "IW", gen.WORKLOAD_NONINTERACTIVE: "NIW"}
LOAD_BIN_S = 4 * 3600
#: claims T3-T9: (id, pool, metric of repro.traces.shape_metrics, what, the band as the public plots give it, unit)
RATE_CLAIMS = (
    ("T3", "conv", "workday_peak", "conv working-day peak", "4,000-5,200", "invocations/min"),
    ("T4", "conv", "night_and_weekend", "conv night and weekend level", "1,000-1,800", "invocations/min"),
    ("T5", "conv", "weekend_over_workday", "conv weekend level over working-day level", "about 0.5", "ratio"),
    ("T6", "code", "workday_peak", "code working-day peak", "4,000-5,800", "invocations/min"),
    ("T7", "code", "trough", "code trough", "300-600", "invocations/min"),
    ("T8", "code", "weekend_peak", "code weekend peak", "1,000-1,400", "invocations/min"),
    ("T9", "code", "workday_peak_over_trough", "code working-day peak-to-trough ratio", "about 10x", "ratio"),
)
LATENCY_COLUMNS = ["model", "gpu", "tp", "kind", "prompt_size", "batch_size", "token_size", "measured_s", "fitted_s",
                   "rel_err"]


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.traces``)."""
    week_requests: int               # the SageServe-scale weekly trace (brief 01 C6: 8M requests)
    shape_requests: int              # one-class weeks used to measure the conv and code rate shapes
    token_samples: int               # synthetic (prompt, output) pairs per pool
    bootstrap_resamples: int         # resamples of the requests for the T1/T2 intervals [our choice]
    ks_threshold: float              # largest acceptable KS distance to the public token lengths [our choice]
    rho_tolerance: float             # largest acceptable difference in Spearman rho [our choice]
    latency_median_tolerance: float  # largest acceptable median |relative error| of the latency fit [our choice]

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "week_requests", "shape_requests", "token_samples", "ks_threshold", "rho_tolerance",
            "latency_median_tolerance") + check_fraction(self, "ks_threshold", "rho_tolerance")
        if self.bootstrap_resamples < 20:
            found.append(f"bootstrap_resamples: expected >= 20 (a 95% percentile interval), got {self.bootstrap_resamples}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy tables of one calibration run.

    datasets: one row per public dataset: dataset, used (bool), rows (int), detail.
    tokens: one row per (prompt, output) pair: kind ('code' | 'conv'), source ('synthetic' | 'public'), prompt, output.
    token_bootstrap: one row per kind x replicate (0 = the observed samples, 1.. = resamples of both):
        kind, replicate, ks_prompt, ks_output, rho_synthetic, rho_public (empty without the public trace).
    rates: one row per pool x minute of the week: kind, minute, per_minute, hourly, intensity (invocations/min).
    rate_shape: one row per pool x metric: kind, metric, sampled (hourly means of the sampled week), exact (the shape).
    sla_mix: one row per SLA class of the week: workload, sla_s, target_share, requests, share.
    weekly_load: one row per 4-hour bin x workload: start_s, workload ('IW' | 'NIW'), requests_per_s, tokens_per_s.
    latency: one row per fitted profiling-table row: model, gpu, tp, kind, prompt_size, batch_size, token_size,
        measured_s, fitted_s, rel_err, source ('public tables' refit | 'committed coefficients').
    """
    datasets: pd.DataFrame
    tokens: pd.DataFrame
    token_bootstrap: pd.DataFrame
    rates: pd.DataFrame
    rate_shape: pd.DataFrame
    sla_mix: pd.DataFrame
    weekly_load: pd.DataFrame
    latency: pd.DataFrame


# ----------------------------------------------------------------------------------------------- run

def dataset_status(name: str) -> dict:
    """Whether a public dataset can be read (a wrong checksum is an error, raised by repro.data)."""
    ds = data.dataset(name)
    if data.available(name):
        files = ", ".join(f"{f.name} ({f.rows} rows)" if f.rows else f.name for f in ds.files)
        return {"dataset": name, "used": True, "rows": sum(f.rows or 0 for f in ds.files),
                "detail": f"{files}; read through repro.data, sha256 checked; {ds.licence}"}
    return {"dataset": name, "used": False, "rows": 0,
            "detail": f"not in {data.MIRROR_ENV} nor data/{name}/ (python -m repro.data fetch {name})"}


def synthetic_tokens(cfg: Config) -> pd.DataFrame:
    """``token_samples`` pairs per pool from the committed quantile tables (Gaussian copula)."""
    frames = []
    for kind, sampler in tokens.quantile_tokens().items():
        prompt, output = sampler.sample(seeds.rng(cfg.seed, "tokens", kind), cfg.token_samples)
        frames.append(pd.DataFrame({"kind": kind, "source": SYNTHETIC, "prompt": prompt, "output": output}))
    return pd.concat(frames, ignore_index=True)


def public_tokens() -> pd.DataFrame:
    """Every request of the public 2023 trace (code and conv)."""
    return pd.concat([pd.DataFrame({"kind": kind, "source": PUBLIC, "prompt": s.prompt, "output": s.output})
                      for kind, s in tokens.empirical_tokens().items()], ignore_index=True)


def _pairs(frame: pd.DataFrame, kind: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    sel = frame[(frame["kind"] == kind) & (frame["source"] == source)]
    return sel["prompt"].to_numpy(), sel["output"].to_numpy()


def token_statistics(synthetic: tuple[np.ndarray, np.ndarray], public: tuple[np.ndarray, np.ndarray]) -> dict:
    """KS distances of the two marginals and the Spearman rank correlation of each sample."""
    return {"ks_prompt": stats.ks_2samp(synthetic[0], public[0], method="asymp").statistic,
            "ks_output": stats.ks_2samp(synthetic[1], public[1], method="asymp").statistic,
            "rho_synthetic": stats.spearmanr(*synthetic).statistic, "rho_public": stats.spearmanr(*public).statistic}


def token_bootstrap(frame: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Replicate 0: the statistics of the observed samples; 1..B: of both samples resampled (pairs kept together)."""
    rows = []
    for kind in tokens.KINDS:
        synthetic, public = _pairs(frame, kind, SYNTHETIC), _pairs(frame, kind, PUBLIC)
        if public[0].size == 0:
            continue
        rng = seeds.rng(cfg.seed, "token-bootstrap", kind)
        for replicate in range(cfg.bootstrap_resamples + 1):
            if replicate:
                s = rng.integers(0, synthetic[0].size, synthetic[0].size)
                p = rng.integers(0, public[0].size, public[0].size)
                sample = ((synthetic[0][s], synthetic[1][s]), (public[0][p], public[1][p]))
            else:
                sample = (synthetic, public)
            rows.append({"kind": kind, "replicate": replicate, **token_statistics(*sample)})
    columns = ["kind", "replicate", "ks_prompt", "ks_output", "rho_synthetic", "rho_public"]
    return pd.DataFrame(rows, columns=columns)


def token_comparison(cfg: Config, have_public: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tokens, token_bootstrap): synthetic pairs, the public trace's pairs when available, and the bootstrap."""
    frame = pd.concat([synthetic_tokens(cfg), public_tokens()], ignore_index=True) if have_public \
        else synthetic_tokens(cfg)
    return frame, token_bootstrap(frame, cfg)


def rate_shapes(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rates, rate_shape): one-class synthetic weeks per pool, in 2024 invocations/min, and their shape metrics."""
    rates, shape = [], []
    for kind in ("conv", "code"):
        r = gen.calibration_rates(kind, cfg.shape_requests, seed=seeds.seed_int(cfg.seed, "rate-shape", kind))
        rates.append(pd.DataFrame({"kind": kind, "minute": np.arange(r["hourly"].size), **r}))
        sampled, exact = gen.shape_metrics(r["hourly"], kind), gen.shape_metrics(r["intensity"], kind)
        shape += [{"kind": kind, "metric": m, "sampled": sampled[m], "exact": exact[m]} for m in sampled]
    return pd.concat(rates, ignore_index=True), pd.DataFrame(shape)


def weekly_trace(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sla_mix, weekly_load) of the SageServe-scale week (brief 01 §2 SLA mix, 4 models, 3 regions)."""
    week = gen.generate_weekly_trace(cfg.week_requests, seed=seeds.seed_int(cfg.seed, "week"))
    week.validate()
    mix = []
    for share, workload, sla in gen.SLA_MIX:
        n = int(np.count_nonzero((week.workload == workload) & (week.sla == np.float32(sla))))
        mix.append({"workload": WORKLOAD_NAMES[workload], "sla_s": sla, "target_share": share, "requests": n,
                    "share": n / len(week)})
    load = gen.binned_load(week, LOAD_BIN_S, duration=gen.WEEK_S)
    bins = [pd.DataFrame({"start_s": load["start"], "workload": name, "requests_per_s": load["rps"][w],
                          "tokens_per_s": load["tps"][w]}) for w, name in WORKLOAD_NAMES.items()]
    return pd.DataFrame(mix), pd.concat(bins, ignore_index=True)


def latency_fit(have_public: bool) -> pd.DataFrame:
    """Every fitted row of the profiling tables: refit from the public tables, else the committed fit's stored rows."""
    doc = latency.fit_latency_tables(latency.latency_paths()) if have_public \
        else json.loads(latency.COEFFICIENTS_PATH.read_text())
    rows = [(t["model"], t["gpu"], t["tp"], *r) for t in doc["tables"] for r in t["rows"]]
    frame = pd.DataFrame(rows, columns=LATENCY_COLUMNS)
    frame["source"] = "public tables" if have_public else "committed coefficients"
    return frame


def run(cfg: Config) -> Results:
    datasets = pd.DataFrame([dataset_status(TOKENS_DATASET), dataset_status(PERF_DATASET)])
    used = dict(zip(datasets["dataset"], datasets["used"]))
    token_frame, bootstrap = token_comparison(cfg, used[TOKENS_DATASET])
    rates, shape = rate_shapes(cfg)
    mix, load = weekly_trace(cfg)
    return Results(datasets, token_frame, bootstrap, rates, shape, mix, load, latency_fit(used[PERF_DATASET]))


# ----------------------------------------------------------------------------------------------- claims

def data_record(results: Results) -> dict[str, str]:
    """metrics.json ``data``: per public dataset, "used: ..." or "unavailable: ..."."""
    return {row.dataset: f"{'used' if row.used else 'unavailable'}: {row.detail}"
            for row in results.datasets.itertuples()}


def public_requests(results: Results) -> int:
    return int(np.count_nonzero(results.tokens["source"] == PUBLIC))


def percentile_interval(per_replicate: pd.Series, n: int, method: str) -> report.Interval:
    """The observed value (replicate 0) with the percentile interval of the resampled replicates."""
    observed = float(per_replicate.loc[0]) if 0 in per_replicate.index else np.nan
    resampled = per_replicate.drop(0, errors="ignore").to_numpy(float)
    if resampled.size < 2 or not np.isfinite(resampled).all():
        return report.Interval(observed, np.nan, np.nan, n, method)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return report.Interval(observed, float(low), float(high), n, method)


def token_intervals(results: Results, cfg: Config) -> tuple[report.Interval, report.Interval]:
    """Largest KS distance of the four marginals, and largest |rho synthetic - rho public| of the two pools."""
    boot = results.token_bootstrap
    method = (f"percentile bootstrap, {cfg.bootstrap_resamples} resamples of the public and synthetic requests; "
              "resampling adds sampling noise to a distance, so the interval sits above the observed value and "
              "its upper end is a conservative bound")
    ks = boot[["ks_prompt", "ks_output"]].max(axis=1).groupby(boot["replicate"]).max()
    rho = (boot["rho_synthetic"] - boot["rho_public"]).abs().groupby(boot["replicate"]).max()
    n = public_requests(results)
    return percentile_interval(ks, n, method), percentile_interval(rho, n, method)


def token_claims(results: Results, cfg: Config) -> list[dict]:
    ks, rho = token_intervals(results, cfg)
    regime = report.Regime("public 2023 trace requests read", public_requests(results), 1)
    facts = tokens.read_token_stats()["spearman_rho"]
    return [
        report.reproduce("T1", "synthetic token lengths (Gaussian copula over the quantile tables) match the public "
                         "2023 trace: largest KS distance of the 4 marginals (code/conv x prompt/output)",
                         f"0 (same distribution); our threshold {report.fmt(cfg.ks_threshold)}", ks,
                         (0.0, cfg.ks_threshold), regime, unit="KS distance", evidence="fig01_token_cdfs.png"),
        report.reproduce("T2", "prompt/output Spearman rank correlation kept: largest |synthetic - public| over code "
                         "and conv", f"conv {facts['conv']:.3f}, code {facts['code']:.3f} in the public trace; our "
                         f"tolerance {report.fmt(cfg.rho_tolerance)}", rho, (0.0, cfg.rho_tolerance), regime,
                         unit="|Δ Spearman ρ|", evidence="fig02_prompt_output_correlation.png"),
    ]


def rate_claims(results: Results) -> list[dict]:
    shape = results.rate_shape.set_index(["kind", "metric"])
    out = []
    for id_, kind, metric, what, band, unit in RATE_CLAIMS:
        sampled, exact = shape.loc[(kind, metric), "sampled"], shape.loc[(kind, metric), "exact"]
        why = (f"our rate shape for {kind} was fitted by eye to the target {band} read off the public 2024 plots "
               f"(the data are not in the mirror); the shape itself gives {report.fmt(exact, 4)}, the sampled "
               f"week's hourly means {report.fmt(sampled, 4)}")
        out.append(report.by_construction(id_, what, band, float(sampled), why, unit=unit,
                                          evidence="fig03_arrival_rates.png"))
    return out


def sla_claim(results: Results) -> dict:
    mix = results.sla_mix
    n = int(mix["requests"].sum())
    error = float((mix["share"] - mix["target_share"]).abs().max())
    smallest = float(mix["target_share"].min())
    why = (f"each request's SLA class is drawn with the shares {'/'.join(f'{100 * s:.0f}' for s in mix['target_share'])} "
           f"of brief 01 §2; {report.fmt(n)} requests give a largest share error of {report.fmt(error)} (binomial standard "
           f"error of a {100 * smallest:.0f} % class: {report.fmt(np.sqrt(smallest * (1 - smallest) / max(n, 1)))})")
    return report.by_construction("T10", "weekly trace SLA mix 70/10/10/10 (largest share error)", "0", error, why,
                                  unit="fraction of requests", evidence="fig04_weekly_trace.png")


def latency_claim(results: Results, cfg: Config) -> dict:
    lat = results.latency
    refit = lat[lat["source"] == "public tables"]
    errors = refit["rel_err"].abs().to_numpy(float)
    method = "percentile bootstrap of the median over profiling-table rows"
    if errors.size >= 2:
        ci = stats.bootstrap((errors,), np.median, n_resamples=RESAMPLES, batch=1000, method="percentile",
                             confidence_level=CONFIDENCE, rng=seeds.rng(cfg.seed, "latency-bootstrap"))
        interval = report.Interval(float(np.median(errors)), float(ci.confidence_interval.low),
                                   float(ci.confidence_interval.high), int(errors.size), method)
    else:
        interval = report.Interval(float(np.median(errors)) if errors.size else np.nan, np.nan, np.nan,
                                   int(errors.size), method)
    regime = report.Regime("public SageServe profiling-table rows refit", len(refit), 1)
    return report.reproduce("T11", "latency fit: median |relative error| over every fitted row of the SageServe "
                            "profiling tables", f"0 (exact fit); our tolerance {report.fmt(cfg.latency_median_tolerance)}",
                            interval, (0.0, cfg.latency_median_tolerance), regime, unit="relative error (fraction)",
                            evidence="fig05_latency_fit.png")


def claims(results: Results, cfg: Config) -> list[dict]:
    return [*token_claims(results, cfg), *rate_claims(results), sla_claim(results), latency_claim(results, cfg)]


def extra(results: Results) -> dict:
    """Numbers behind the claims for metrics.json ``extra``: observed token statistics, shapes, the worst latency row."""
    observed = results.token_bootstrap[results.token_bootstrap["replicate"] == 0].set_index("kind")
    worst = results.latency.loc[results.latency["rel_err"].abs().idxmax()] if len(results.latency) else None
    return {
        "tokens": {kind: row[["ks_prompt", "ks_output", "rho_synthetic", "rho_public"]].to_dict()
                   for kind, row in observed.iterrows()},
        "rate_shape": {kind: dict(zip(g["metric"], g["sampled"])) for kind, g in results.rate_shape.groupby("kind")},
        "weekly_trace_requests": int(results.sla_mix["requests"].sum()),
        "latency": {"rows": len(results.latency), "source": ", ".join(sorted(set(results.latency["source"]))),
                    "worst_row": None if worst is None else worst.to_dict()},
    }


def limitations(cfg: Config) -> list[str]:
    return [
        "The 2024 week-long trace is not in the mirror (tens of millions of rows): the rate targets are bands read by "
        "eye off its public plots (azure-llm-2024/SOURCE.md) and the rate shapes are our fit to them, so T3-T9 are "
        "by construction: they check the sampler against our own targets, not against the 2024 data.",
        "T1, T2 and T11 are in-sample: the quantile tables, the Spearman rho and the latency coefficients were derived "
        "from the very public rows they are compared with. They test the fidelity of the sampler (interpolation, "
        "copula, rounding) and of the fit's functional form, not how well one hour of 2023 traffic or one set of "
        "profiling runs stands for other hours, days or hardware.",
        "Token lengths come from one hour of 2023 traffic; the week-long trace's length mix may differ by hour and day.",
        "The Gaussian copula keeps the marginals and the Spearman rank correlation only: the conv trace's clusters "
        "(fig02: e.g. prompts near 400 tokens with outputs near 400) are spread out. Generators take "
        "repro.traces.token_samplers('trace') to resample real (prompt, output) pairs when the joint matters.",
        f"[our choice] T1/T2 intervals: percentile bootstrap over {cfg.bootstrap_resamples} resamples of both the "
        "public requests and the synthetic sample (pairs kept together), of the largest statistic over marginals or "
        "pools. A KS distance or an absolute difference only grows under resampling noise, so the interval can sit "
        "above the observed value.",
        "[our choice] T11 interval: percentile bootstrap of the median over the fitted table rows, treated as "
        "independent although rows of one (model, GPU, TP) table share a fit: the interval is optimistic.",
        "[our choice] Thresholds: KS distance <= " + report.fmt(cfg.ks_threshold) + ", Spearman difference <= "
        + report.fmt(cfg.rho_tolerance) + ", median relative latency error <= "
        + report.fmt(cfg.latency_median_tolerance) + "; the sources publish no tolerance.",
        "The latency model is a fit to profiling tables, not a GPU run; prefill is a function of the batch's total "
        "prompt tokens, so a batch of short prompts and one long prompt of the same total cost the same (up to 35 % "
        "off in A/B).",
        "The seconds tables' batched-prefill rows do not grow with batch size (read as prefix caching) and are left out "
        "of the fit (listed in latency_coefficients.json); their decode at prompt 8192 is about twice any other step "
        "time and is the worst-fitted row.",
        "KV capacity follows brief 01's formula (ignores GQA and paging).",
        "Without the public data (REPRO_DATA_MIRROR or python -m repro.data fetch), T1, T2 and T11 are not testable "
        "(their regime check counts the public rows read) and fig05 draws the rows stored with the committed fit.",
    ]
