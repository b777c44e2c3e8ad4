"""SageServe's long-term planner: hourly forecasts of each (model, region)'s interactive prompt tokens per minute
and the hourly scaling ILP on top of them (brief 01 §2 "Long-term ILP, re-solved every 3600 s", "Forecast").

The forecasts depend on the arrivals only, never on a strategy's decisions, so they are computed once per trace
(:func:`hourly_forecasts`) and shared by LT-I, LT-U and LT-UA. Each forecast at hour h is made with
:func:`repro.plan.rolling_forecasts`, which feeds the forecaster the minutes before h only (history before the
replayed window, then the replayed trace's own past): no look-ahead. The NIW term of the demand uses the largest
NIW prompt that arrived in the hour before the decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from repro.autoscale.arbiters import HourPlan
from repro.plan import TPS_A100, ilp_demand, rolling_forecasts, solve_scaling_ilp
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
