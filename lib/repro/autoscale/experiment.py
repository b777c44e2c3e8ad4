"""The SageServe experiment of brief 01 end to end, for notebooks/sageserve.ipynb: the synthetic week (§5), the
hourly forecasts (§2 "Forecast"), every strategy replayed (§2-§3), and the public 2023 hour as a real-data replay.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from repro.autoscale.planner import HourlyPlanner, hourly_forecasts, hourly_niw_max_prompt, minute_series
from repro.autoscale.runner import ServeConfig, run_strategy
from repro.plan import TPS_BY_MODEL, make_forecaster
from repro.traces import (SLA_MIX, WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE, Trace, concatenate,
                          generate_weekly_trace, window_share)

DAY_S = 86400


@dataclass(frozen=True)
class Workload:
    """The replayed trace, the forecaster's history before it (n_hist minutes), and the sizes."""
    trace: Trace
    history: Trace
    duration: float
    history_minutes: int
    n_models: int

    @property
    def n_hours(self) -> int:
        return int(self.duration // 3600)


def synthetic_workload(week_requests: int = 8_000_000, days: int = 7, rate_multiplier: float = 1.0, *,
                       n_models: int = 4, n_regions: int = 3, model_share=(0.4, 0.2, 0.2, 0.2),
                       region_share=(0.4, 0.3, 0.3), history_days: int = 3, seed: int = 0) -> Workload:
    """Brief 01 §5 synthetic default: ``days`` days from Monday 00:00 UTC at ``week_requests`` per week ×
    ``rate_multiplier``, plus ``history_days`` days before it (the end of the previous week, its own seeded
    stream) that only the forecaster sees."""
    if not 1 <= days <= 7 or not 1 <= history_days <= 7:
        raise ValueError(f"days and history_days: expected 1..7, got {days}, {history_days}")
    if not rate_multiplier > 0:
        raise ValueError(f"rate_multiplier: expected > 0, got {rate_multiplier}")
    kw = dict(n_models=n_models, model_share=tuple(model_share), n_regions=n_regions,
              region_share=tuple(region_share))
    duration = days * DAY_S
    n = int(round(week_requests * rate_multiplier * window_share(0, duration)))
    trace = generate_weekly_trace(n, duration, seed=seed, **kw)
    h_start = (7 - history_days) * DAY_S
    n_h = int(round(week_requests * rate_multiplier * window_share(h_start, history_days * DAY_S)))
    history = generate_weekly_trace(n_h, history_days * DAY_S, start=h_start, seed=seed + 7919, **kw)
    return Workload(trace, history, float(duration), history_days * 1440, n_models)


def forecast_inputs(workload: Workload, kind: str = "sarimax", **options) -> tuple[np.ndarray, np.ndarray]:
    """(forecasts (n_hours, n_models, n_regions, 60), niw_max_prompt (n_hours, n_models, n_regions)).

    ``kind`` "sarimax" (SARIMAX(2,0,1) + daily Fourier K=3, fit once a day on the last 3 days, state extended
    hourly) or "seasonal_naive"; ``options`` go to the forecaster."""
    w = workload
    n_series = w.n_models * w.trace.n_regions
    # the history ends at Monday 00:00 UTC, so its first minute is minute (1440 - n_hist % 1440) % 1440 of a day
    start_minute = (-w.history_minutes) % 1440
    forecaster = make_forecaster(kind, n_series, start_minute=start_minute, **options) if kind == "sarimax" \
        else make_forecaster(kind, n_series, **options)
    hist = minute_series(w.history, w.history_minutes, w.n_models)
    series = minute_series(w.trace, int(w.duration // 60), w.n_models)
    fc = hourly_forecasts(forecaster, hist, series, w.n_hours)
    return fc, hourly_niw_max_prompt(w.trace, w.n_hours, w.n_models)


def make_planner(forecasts, niw_max_prompt, names, n_regions: int, config: ServeConfig,
                 time_limit: float = 10.0, seed: int = 0) -> HourlyPlanner:
    """An hourly planner with the code's TPS per model and each region's fleet (start instances × models)."""
    fleet = np.full(n_regions, config.initial_instances * len(names))
    return HourlyPlanner(forecasts, niw_max_prompt, tps=[TPS_BY_MODEL[n] for n in names], fleet=fleet,
                         time_limit=time_limit, seed=seed)


def replay_strategies(trace, latency, strategies, duration: float, forecasts, niw_max_prompt, *,
                      config: ServeConfig = ServeConfig(), ilp_time_limit: float = 10.0, seed: int = 0,
                      progress=print) -> tuple[dict, dict]:
    """Run every strategy; returns ({name: StrategyRun}, {name: wall seconds})."""
    runs, seconds = {}, {}
    for name, strategy in strategies.items():
        t0 = time.perf_counter()
        planner = make_planner(forecasts, niw_max_prompt, latency.names, trace.n_regions, config,
                               ilp_time_limit, seed)
        runs[name] = run_strategy(trace, latency, strategy, duration, config=config, planner=planner)
        seconds[name] = time.perf_counter() - t0
        if progress:
            progress(f"{name}: replayed in {seconds[name]:.1f} s")
    return runs, seconds


# ------------------------------------------------------------------------------------------ real data
def labelled_real_trace(conv: Trace, code: Trace, *, n_models: int = 4, n_regions: int = 3,
                        model_share=(0.4, 0.2, 0.2, 0.2), region_share=(0.4, 0.3, 0.3), sla_mix=SLA_MIX,
                        seed: int = 0) -> Trace:
    """The public 2023 hour as a SageServe trace [our choice]: conversation requests are interactive, code
    requests non-interactive (brief 01 §5); model, home region (then a random order of the others) and SLA class
    within the workload are drawn with the synthetic shares. Arrival times and token counts are the trace's."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    parts = []
    for tr, w in ((conv, WORKLOAD_INTERACTIVE), (code, WORKLOAD_NONINTERACTIVE)):
        n = len(tr)
        classes = [(s, sla) for s, ww, sla in sla_mix if ww == w]
        p = np.array([s for s, _ in classes]) / sum(s for s, _ in classes)
        sla = np.array([x for _, x in classes], np.float32)[rng.choice(len(classes), n, p=p)]
        model = rng.choice(n_models, n, p=np.asarray(model_share) / np.sum(model_share)).astype(np.int16)
        home = rng.choice(n_regions, n, p=np.asarray(region_share) / np.sum(region_share))
        keys = rng.random((n, n_regions))
        keys[np.arange(n), home] = -1.0          # home first, the others in random order
        prio = np.argsort(keys, axis=1).astype(np.int8)
        parts.append(Trace.from_columns(tr.arrival, tr.prompt_tokens, tr.output_tokens, model=model,
                                        workload=np.full(n, w, np.int8), sla=sla, region_priority=prio))
    return concatenate(parts)


def oracle_level_forecasts(trace: Trace, n_models: int, duration: float, horizon: int = 60) -> np.ndarray:
    """(n_hours, n_models, n_regions, horizon) flat forecasts at each hour's actual mean interactive prompt tokens
    per minute: for the 1-hour public trace, which has no history to forecast from (an oracle for the level, not
    for the minute-to-minute shape; stated in the notebook)."""
    n_hours = max(1, int(duration // 3600))
    series = minute_series(trace, n_hours * 60, n_models)
    level = series.reshape(n_models, trace.n_regions, n_hours, 60).mean(axis=3)
    return np.repeat(np.moveaxis(level, 2, 0)[..., None], horizon, axis=3)
