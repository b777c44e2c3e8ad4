"""Replay one SageServe scaling strategy over a trace (brief 01 §2-§3): the replay engine serves the requests, and
every ``control_interval`` seconds the strategy's arbiter looks at the endpoints and scales them through the
regions' spot pools.

Pieces (each small, none a copy of another):

- :class:`Strategy`: an arbiter factory plus the pool layout (unified: IW and NIW share an endpoint; siloed:
  separate IW / NIW pools per model and region, 16 + 4 of the 20 start instances [code: us3-new-dp]) and the
  region router (brief 01 §2 "Global router": first region under 0.7 memory utilisation, else the least utilised;
  ``"first"`` = always the first-priority region, the code's ``no_reroute``).
- :class:`ScalingExecutor`: applies an arbiter's steps: scale-ups through :class:`~repro.autoscale.spot.SpotPool`
  (65 s reclaim / 155 s spin-up, a failed take stops), scale-downs drain instances and give them to spot, never
  below ``min_instances`` per endpoint [code: an endpoint keeps one application of two instances], and a
  cool-down per endpoint until its last operation completes [code].
- :func:`run_strategy`: the loop; NIW requests wait in the instance queues and are admitted only while the
  instance's memory utilisation is below 0.5 (brief 01 §2 "NIW feeding", the engine's ``workload_priority``).
  (:func:`repro.autoscale.feeding.niw_feeding`, the same rule with an O(1) choice.)
  The ILP-driven arbiters get an :class:`~repro.autoscale.arbiters.HourPlan` at the start of every hour.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from repro.autoscale.arbiters import Arbiter, Chiron, LongTermImmediate, LongTermQuota, Reactive
from repro.autoscale.feeding import niw_feeding
from repro.autoscale.spot import RECLAIM_S, SPIN_DOWN_S, SPIN_UP_S, SpotPool
from repro.autoscale.view import endpoint_view


@dataclass(frozen=True)
class Strategy:
    """A named arbiter factory with its pool layout and region router."""
    name: str
    arbiter: Callable[[], Arbiter]
    siloed: bool = False
    region_router: str = "sageserve"


def make_strategies(region_router: str = "sageserve") -> dict[str, Strategy]:
    """The strategies of brief 01 §2-§3: Reactive (= Unified), LT-I, LT-U, LT-UA, Chiron, Siloed (Reactive on
    siloed pools)."""
    return {
        "Reactive": Strategy("Reactive", Reactive, region_router=region_router),
        "LT-I": Strategy("LT-I", LongTermImmediate, region_router=region_router),
        "LT-U": Strategy("LT-U", lambda: LongTermQuota("util"), region_router=region_router),
        "LT-UA": Strategy("LT-UA", lambda: LongTermQuota("forecast_ratio"), region_router=region_router),
        "Chiron": Strategy("Chiron", Chiron, siloed=True, region_router=region_router),
        "Siloed": Strategy("Siloed", Reactive, siloed=True, region_router=region_router),
    }


@dataclass(frozen=True)
class ServeConfig:
    """Cluster and control settings shared by every strategy (brief 01 §2 [code] unless noted)."""
    initial_instances: int = 20          # per model and region at t = 0
    siloed_split: tuple = (16, 4)        # IW / NIW pool share of the start instances when siloed [code]
    control_interval: float = 60.0       # seconds between arbiter decisions [our choice; the code decides per request]
    spin_up_s: float = SPIN_UP_S
    reclaim_s: float = RECLAIM_S
    spin_down_s: float = SPIN_DOWN_S
    min_instances: int = 2
    max_batch: int = 512
    region_threshold: float = 0.7
    niw_gate: float = 0.5
    instance_router: str = "least_tokens"   # the code's RoundRobin is join-the-least-pending-tokens
    low_util: float = 0.25               # "idle" instance for the overhead metric (brief 01 C2)
    tail_s: float = 3600.0               # replay after the window so in-flight requests finish (not billed)
    max_instances_created: int = 1 << 18  # instances a replay may create in total (sizes the NIW-feeding index)

    def initial(self, n_models: int, n_regions: int, siloed: bool) -> np.ndarray:
        if not siloed:
            return np.full((n_models, n_regions, 1), self.initial_instances, np.int64)
        iw, niw = self.siloed_split
        if iw + niw != self.initial_instances:
            raise ValueError(f"siloed_split {self.siloed_split} must add up to initial_instances "
                             f"{self.initial_instances}")
        out = np.empty((n_models, n_regions, 2), np.int64)
        out[:, :, 0], out[:, :, 1] = iw, niw
        return out


class ScalingExecutor:
    """Applies arbiter steps to a Simulation through the spot pool, with cool-downs and a minimum size."""

    def __init__(self, sim, spot: SpotPool, shape, *, min_instances: int = 2, spin_down_s: float = SPIN_DOWN_S,
                 max_instances_created: int | None = None):
        self.sim = sim
        self.max_instances_created = max_instances_created
        self.spot = spot
        self.shape = tuple(shape)
        self.min_instances = int(min_instances)
        self.spin_down_s = float(spin_down_s)
        self.ready_at = np.zeros(self.shape)
        self.up_events: list[tuple] = []      # (t, model, region, pool, delay)
        self.down_events: list[tuple] = []    # (t, model, region, pool, instances removed)

    @property
    def n_down(self) -> int:
        """Instances removed so far."""
        return int(sum(e[4] for e in self.down_events))

    def ready(self, t: float) -> np.ndarray:
        return self.ready_at <= t

    def apply(self, steps, view) -> np.ndarray:
        """Apply ``steps`` (n_models, n_regions, n_pools) at view.t; returns what was done (same shape)."""
        t = view.t
        done = np.zeros(self.shape, np.int64)
        steps = np.where(self.ready(t), np.asarray(steps, np.int64), 0)
        for m, j, p in zip(*np.nonzero(steps)):
            s = int(steps[m, j, p])
            if s > 0:
                longest = -1.0
                for _ in range(s):
                    if self.max_instances_created is not None and \
                            self.sim.n_instances >= self.max_instances_created:
                        raise ValueError(f"max_instances_created: the replay would create more than "
                                         f"{self.max_instances_created} instances; raise ServeConfig."
                                         f"max_instances_created")
                    delay = self.spot.take(int(j), int(m))
                    if delay is None:
                        break
                    self.sim.add_instances(int(m), int(j), 1, delay=delay, pool=int(p))
                    self.up_events.append((t, int(m), int(j), int(p), delay))
                    done[m, j, p] += 1
                    longest = max(longest, delay)
                if longest >= 0:
                    self.ready_at[m, j, p] = t + longest
            else:
                k = min(-s, int(view.n_accepting[m, j, p]) - self.min_instances)
                if k > 0:
                    self.sim.remove_instances(self.sim.pick_removable(int(m), int(j), k, int(p)))
                    self.spot.give(int(j), int(m), k)
                    done[m, j, p] -= k
                    self.down_events.append((t, int(m), int(j), int(p), k))
                    self.ready_at[m, j, p] = t + self.spin_down_s
        return done


@dataclass
class StrategyRun:
    """What one replay produced (everything later figures and metrics need; the per-request arrays are reduced
    by :func:`repro.autoscale.metrics.request_stats`).

    times: (n_steps,) control times; per step and endpoint (n_steps, n_models, n_regions, n_pools): n_accepting,
    n_active, kv_used, kv_capacity, n_low; spot: (n_steps, n_regions, n_models) spot instances. up_events:
    (n_up, 5) float array of (t, model, region, pool, delay); down_events: (n_down_events, 5) float array of
    (t, model, region, pool, instances removed); n_down: instances removed. instances: per-instance
    dict from the replay (model, region, pool, t_request, t_off, ...). requests: request statistics dict.
    plan_log: the planner's (hour, status, seconds, reason) records (empty without planner).
    """
    name: str
    duration: float
    interval: float
    times: np.ndarray
    n_accepting: np.ndarray
    n_active: np.ndarray
    kv_used: np.ndarray
    kv_capacity: np.ndarray
    n_low: np.ndarray
    spot: np.ndarray
    up_events: np.ndarray
    down_events: np.ndarray
    n_down: int
    instances: dict
    requests: dict
    plan_log: list = field(default_factory=list)


def build_simulation(trace, latency, strategy: Strategy, config: ServeConfig):
    """The replay Simulation for a strategy: start instances, router, NIW gate and pool layout."""
    from repro.replay import Simulation, make_router

    n_m, n_r = len(latency.names), trace.n_regions
    return Simulation(trace, latency, config.initial(n_m, n_r, strategy.siloed), max_batch=config.max_batch,
                      queue_policy=niw_feeding(len(trace), config.niw_gate, config.max_instances_created),
                      router=make_router(config.instance_router, region=strategy.region_router,
                                         region_threshold=config.region_threshold),
                      workload_pool=(0, 1) if strategy.siloed else (0, 0), n_pools=2 if strategy.siloed else 1)


def run_strategy(trace, latency, strategy: Strategy, duration: float, *, config: ServeConfig = ServeConfig(),
                 planner=None, summarize: Callable | None = None) -> StrategyRun:
    """Replay ``trace`` for ``duration`` seconds under ``strategy`` (plus ``config.tail_s`` without scaling so
    in-flight requests finish). ``planner`` (an :class:`~repro.autoscale.planner.HourlyPlanner`) is required by
    the ILP-driven strategies. ``summarize(result, trace, duration)`` reduces the per-request results (default
    :func:`repro.autoscale.metrics.request_stats`)."""
    from repro.autoscale.metrics import request_stats

    arbiter = strategy.arbiter()
    if arbiter.uses_plan and planner is None:
        raise ValueError(f"strategy {strategy.name}: needs a planner (HourlyPlanner) for its hourly ILP")
    interval = float(config.control_interval)
    if not interval > 0 or 3600.0 % interval:
        raise ValueError(f"control_interval: expected a divisor of 3600 s, got {interval}")
    sim = build_simulation(trace, latency, strategy, config)
    n_m, n_r = len(latency.names), trace.n_regions
    shape = (n_m, n_r, 2 if strategy.siloed else 1)
    spot = SpotPool(n_r, n_m, 0, config.reclaim_s, config.spin_up_s)
    executor = ScalingExecutor(sim, spot, shape, min_instances=config.min_instances, spin_down_s=config.spin_down_s,
                               max_instances_created=config.max_instances_created)
    rec = {k: [] for k in ("times", "n_accepting", "n_active", "kv_used", "kv_capacity", "n_low", "spot")}
    n_steps = int(round(duration / interval))
    log_start = len(planner.log) if planner is not None else 0
    snap = sim.run_until(0.0)
    for step in range(n_steps):
        t = step * interval
        view = endpoint_view(snap, shape, executor.ready(t), config.low_util)
        if arbiter.uses_plan and step % int(round(3600.0 / interval)) == 0:
            arbiter.new_plan(planner.plan(int(round(t / 3600.0)), view.n_accepting[:, :, 0]))
        for k, v in (("times", t), ("n_accepting", view.n_accepting), ("n_active", view.n_active),
                     ("kv_used", view.kv_used), ("kv_capacity", view.kv_capacity), ("n_low", view.n_low),
                     ("spot", spot.count.copy())):
            rec[k].append(v)          # the state at t, before this step's scaling
        arbiter.applied(executor.apply(arbiter.act(view), view))
        snap = sim.run_until(t + interval)
    sim.run_until(duration + config.tail_s)
    result = sim.result()
    del sim
    stats = (summarize or request_stats)(result, trace, duration)
    ups = np.array(executor.up_events, np.float64).reshape(-1, 5)
    downs = np.array(executor.down_events, np.float64).reshape(-1, 5)
    inst = {k: result.instances[k] for k in ("model", "region", "pool", "t_request", "t_ready", "t_off")}
    arrays = {k: np.asarray(v) for k, v in rec.items()}
    return StrategyRun(strategy.name, float(duration), interval, arrays["times"], arrays["n_accepting"],
                       arrays["n_active"], arrays["kv_used"], arrays["kv_capacity"], arrays["n_low"], arrays["spot"],
                       ups, downs, executor.n_down, inst, stats,
                       list(planner.log[log_start:]) if arbiter.uses_plan else [])
