"""SageServe's long-term planner: hourly forecasts of each (model, region)'s interactive prompt tokens per minute
and the hourly scaling ILP on top of them (brief 01 §2 "Long-term ILP, re-solved every 3600 s", "Forecast").

The forecasts depend on the arrivals only, never on a strategy's decisions, so they are computed once per trace
(:func:`hourly_forecasts`) and shared by LT-I, LT-U and LT-UA. Each forecast at hour h is made with
:func:`repro.plan.rolling_forecasts`, which feeds the forecaster the minutes before h only (history before the
replayed window, then the replayed trace's own past): no look-ahead. The NIW term of the demand uses the largest
NIW prompt that arrived in the hour before the decision.

The ILP's per-instance capacity TPS_i comes from our own service model (brief 01 §7, replacing the code's
hard-coded constants): :func:`instance_capacity` replays a steady Poisson stream of one model's interactive
requests on a fixed set of instances and searches the arrival rate at which the mean memory utilisation reaches
the Reactive scale-up threshold u = 0.5 (or, if the instances saturate first, the largest rate they keep up
with); TPS_i is that rate's prompt tokens per minute per instance.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from repro.autoscale.arbiters import REACTIVE_UP, Arbiter, HourPlan
from repro.core.trace import Trace
from repro.plan import TPS_A100, ilp_demand, in_sample_forecasts, rolling_forecasts, solve_scaling_ilp
from repro.traces import WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE


def minute_series(trace, n_minutes: int, n_models: int) -> np.ndarray:
    """(n_models, n_regions, n_minutes) interactive prompt tokens per minute by (model, home region)."""
    iw = trace.workload == WORKLOAD_INTERACTIVE
    minute = (trace.arrival[iw] // 60).astype(np.int64)
    keep = minute < n_minutes
    n_r = trace.n_regions
    home = trace.region_priority[iw, 0][keep]
    key = (trace.model[iw][keep].astype(np.int64) * n_r + home) * n_minutes + minute[keep]
    out = np.bincount(key, weights=trace.prompt_tokens[iw][keep].astype(np.float64),
                      minlength=n_models * n_r * n_minutes)
    return out.reshape(n_models, n_r, n_minutes)


def hourly_niw_max_prompt(trace, n_hours: int, n_models: int) -> np.ndarray:
    """(n_hours, n_models, n_regions): entry h is the largest NIW prompt (by model, home region) that arrived in
    hour h − 1, i.e. in the last hour before the decision at the start of hour h (0 for h = 0 and empty hours)."""
    out = np.zeros((n_hours, n_models, trace.n_regions))
    niw = trace.workload == WORKLOAD_NONINTERACTIVE
    hour = (trace.arrival[niw] // 3600).astype(np.int64) + 1
    keep = hour < n_hours
    np.maximum.at(out, (hour[keep], trace.model[niw][keep].astype(np.int64), trace.region_priority[niw, 0][keep]),
                  trace.prompt_tokens[niw][keep].astype(np.float64))
    return out


def hourly_forecasts(forecaster, history: np.ndarray, series: np.ndarray, n_hours: int,
                     horizon: int = 60) -> np.ndarray:
    """(n_hours, n_models, n_regions, horizon) forecasts made at the start of each replayed hour.

    history: (n_models, n_regions, n_hist) minutes before the replayed window; series: (n_models, n_regions,
    n_minutes) minutes of the window (see :func:`minute_series`). ``forecaster`` is a fresh
    :mod:`repro.plan` forecaster over n_models * n_regions series.
    """
    n_m, n_r = series.shape[:2]
    full = np.concatenate([history, series], axis=2).reshape(n_m * n_r, -1)
    decisions = history.shape[2] + 60 * np.arange(n_hours)
    fc = rolling_forecasts(forecaster, full, decisions, horizon)
    return fc.reshape(n_hours, n_m, n_r, horizon)


def hourly_in_sample_forecasts(history: np.ndarray, series: np.ndarray, n_hours: int,
                               horizon: int = 60) -> np.ndarray:
    """(n_hours, n_models, n_regions, horizon): :func:`repro.plan.in_sample_forecasts` (the code's in-sample
    ARIMA(3,1,2), oracle-like) over history + window, read at the start of each replayed hour; same layout as
    :func:`hourly_forecasts`."""
    n_m, n_r = series.shape[:2]
    full = np.concatenate([history, series], axis=2).reshape(n_m * n_r, -1)
    decisions = history.shape[2] + 60 * np.arange(n_hours)
    return in_sample_forecasts(full, decisions, horizon).reshape(n_hours, n_m, n_r, horizon)


@dataclass(frozen=True)
class CapacityConfig:
    """How :func:`instance_capacity` measures one instance's capacity: ``instances`` fixed instances (no scaling),
    ``duration_s`` of steady Poisson arrivals, utilisation averaged after ``warmup_s``; arrival rates per instance
    searched from ``start_rate`` (requests/s) by doubling, then ``bisections`` halvings of the bracket (in log
    rate). A rate is "kept up with" when at least ``min_served`` of the requests arriving before
    duration − ``settle_s`` got their first token within the window."""
    target_util: float = REACTIVE_UP
    instances: int = 4
    duration_s: float = 7200.0
    warmup_s: float = 1800.0
    settle_s: float = 900.0
    start_rate: float = 0.05
    max_doublings: int = 14
    bisections: int = 6
    min_served: float = 0.99
    control_interval: float = 60.0

    def __post_init__(self):
        if not (0 < self.target_util < 1 and self.instances >= 1 and 0 <= self.warmup_s < self.duration_s
                and 0 <= self.settle_s < self.duration_s and self.start_rate > 0 and 0 < self.min_served <= 1):
            raise ValueError(f"CapacityConfig: inconsistent settings {self}")


@dataclass(frozen=True)
class Capacity:
    """One model's measured instance capacity. requests_per_s, prompt_tokens_per_s: per instance at the found
    rate; util: its measured mean memory utilisation; bound: "memory" (u reached the target) or "throughput"
    (the instances stopped keeping up first); probes: (rate per instance, util, served share) of every replay."""
    model: str
    requests_per_s: float
    prompt_tokens_per_s: float
    util: float
    bound: str
    mean_prompt_tokens: float
    probes: tuple

    @property
    def tokens_per_minute(self) -> float:
        """TPS_i in the ILP's unit (prompt tokens per minute per instance)."""
        return 60.0 * self.prompt_tokens_per_s


def steady_trace(rate: float, duration: float, sampler, seed: int) -> Trace:
    """Poisson arrivals at ``rate`` requests/s for ``duration`` s, one model and region, interactive 10-s SLA,
    (prompt, output) from ``sampler.sample(rng, n)``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    n = int(rng.poisson(rate * duration))
    arrival = np.sort(rng.uniform(0.0, duration, n))
    prompt, output = sampler.sample(rng, n)
    return Trace.from_columns(arrival, prompt, output, workload=np.full(n, WORKLOAD_INTERACTIVE, np.int8),
                              sla=np.full(n, 10.0, np.float32))


def _probe(latency, sampler, rate: float, cfg: CapacityConfig, seed: int) -> tuple[float, float, float]:
    """(mean memory utilisation after warm-up, share of settled requests served, mean prompt) at ``rate`` per
    instance on ``cfg.instances`` fixed instances."""
    from repro.autoscale.runner import ServeConfig, Strategy, run_strategy

    trace = steady_trace(rate * cfg.instances, cfg.duration_s, sampler, seed)
    settled = trace.arrival < cfg.duration_s - cfg.settle_s

    def served(result, trace, duration):
        first = np.isfinite(result.ttft[settled]) & (trace.arrival[settled] + result.ttft[settled] <= duration)
        return {"served": float(first.mean()) if settled.any() else 1.0}

    serve = ServeConfig(initial_instances=cfg.instances, min_instances=cfg.instances,
                        control_interval=cfg.control_interval, tail_s=0.0)
    run = run_strategy(trace, latency, Strategy("fixed", Arbiter), cfg.duration_s, config=serve, summarize=served)
    late = run.times >= cfg.warmup_s
    util = float(run.kv_used[late].sum() / max(run.kv_capacity[late].sum(), 1))
    return util, run.requests["served"], float(trace.prompt_tokens.mean()) if len(trace) else 0.0


def instance_capacity(latency, sampler, cfg: CapacityConfig = CapacityConfig(), seed: int = 0) -> Capacity:
    """The prompt-token rate one instance of ``latency``'s single model sustains at u = ``cfg.target_util``
    (brief 01 §7 [our choice]): the largest probed rate whose mean utilisation stays below the target and whose
    requests are all kept up with (see :class:`CapacityConfig`), found by doubling then bisection."""
    if len(latency.names) != 1:
        raise ValueError(f"instance_capacity: expected a one-model latency model, got {latency.names}")
    probes = []

    def ok(rate):
        util, served, mean_prompt = _probe(latency, sampler, rate, cfg, seed)
        probes.append((rate, util, served, mean_prompt))
        return util < cfg.target_util and served >= cfg.min_served

    low, high = 0.0, cfg.start_rate
    for _ in range(cfg.max_doublings):
        if not ok(high):
            break
        low, high = high, 2.0 * high
    else:
        raise ValueError(f"instance_capacity: model {latency.names[0]} never reached u = {cfg.target_util} nor "
                         f"saturated up to {high / 2:g} requests/s per instance; raise max_doublings")
    failed = probes[-1]
    for _ in range(cfg.bisections):
        mid = np.sqrt(low * high) if low > 0 else high / 2.0
        if ok(mid):
            low = mid
        else:
            high, failed = mid, probes[-1]
    if low == 0.0:
        raise ValueError(f"instance_capacity: model {latency.names[0]} fails already at {high:g} requests/s per "
                         "instance; lower start_rate")
    at = next(p for p in probes if p[0] == low)
    bound = "memory" if failed[1] >= cfg.target_util else "throughput"
    return Capacity(latency.names[0], low, low * at[3], at[1], bound, at[3],
                    tuple((r, u, s) for r, u, s, _ in probes))


@dataclass
class HourlyPlanner:
    """Solves the scaling ILP at the start of every hour for one strategy's current allocation.

    forecasts: (n_hours, n_models, n_regions, horizon) from :func:`hourly_forecasts` (possibly with noise);
    niw_max_prompt: (n_hours, n_models, n_regions) from :func:`hourly_niw_max_prompt`; tps: (n_models,) instance
    throughput (tokens per minute, brief 01 §2, e.g. ``[TPS_BY_MODEL[n] for n in latency.names]``); fleet:
    instances per region (the ILP's fleet constraint) or None;
    time_limit: CBC seconds per solve. ``log`` collects (hour, status, seconds, reason) of every solve.
    """

    forecasts: np.ndarray
    niw_max_prompt: np.ndarray
    tps: tuple = TPS_A100
    fleet: np.ndarray | None = None
    time_limit: float = 10.0
    seed: int = 0
    window: tuple = (20, 60)
    niw_factor: float = 0.1
    log: list = field(default_factory=list)

    def plan(self, hour: int, current: np.ndarray) -> HourPlan:
        """The plan for ``hour`` given the current (n_models, n_regions) instance counts of the interactive pool.
        A failed solve (infeasible, timed out) yields Δ = 0: the current allocation is kept."""
        fc = self.forecasts[hour]
        demand = ilp_demand(fc, self.niw_max_prompt[hour], self.window, self.niw_factor)
        tps = np.asarray(self.tps, np.float64)
        fleet = None if self.fleet is None else np.asarray(self.fleet)[:, None]
        sol = solve_scaling_ilp(current, demand, tps, max_instances=fleet, time_limit=self.time_limit,
                                seed=self.seed)
        self.log.append((int(hour), sol.status, float(sol.seconds), sol.reason))
        return HourPlan(t0=3600.0 * hour, delta=sol.delta[:, :, 0], forecast=fc, status=sol.status)

    def failed_hours(self) -> list:
        """(hour, status, reason) of every solve that was not optimal."""
        return [(h, s, r) for h, s, _, r in self.log if s != "optimal"]

    def solve_seconds(self) -> np.ndarray:
        return np.array([x[2] for x in self.log])
