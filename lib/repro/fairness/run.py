"""Replay a FairServe workload on brief 02's server under one named scheduler (brief 02 §2 "Server model", §3).

The engine is :class:`repro.replay.Simulation` with one instance, full KV reservation and the closed loop of
brief 02 §2 (call k+1 of an interaction is released think_time seconds after call k finishes); the scheduler is
the queue policy from :func:`repro.fairness.scheduler`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.fairness.policy import counters
from repro.fairness.schedulers import scheduler
from repro.fairness.workload import FairServeWorkload, server, workload_params
from repro.replay.policies import QueuePolicy
from repro.replay.simulation import ReplayResult, Simulation


@dataclass(frozen=True)
class Replay:
    """One scheduler's replay: the engine's per-request result, the final counters W_u (zeros for FIFO
    schedulers) and the policy the simulation ran (its state after the run)."""
    name: str
    result: ReplayResult
    counters: np.ndarray
    policy: QueuePolicy


def check_ids(trace, n_tenants: int, n_apps: int) -> None:
    """The policy indexes its per-tenant and per-app rows by the trace's ids: they must be in range."""
    if len(trace) and (trace.tenant.min() < 0 or trace.tenant.max() >= n_tenants):
        raise ValueError(f"trace.tenant: expected ids in 0..{n_tenants - 1}, got {trace.tenant.min()}..{trace.tenant.max()}")
    if len(trace) and (trace.app.min() < 0 or trace.app.max() >= n_apps):
        raise ValueError(f"trace.app: expected ids in 0..{n_apps - 1}, got {trace.app.min()}..{trace.app.max()}")


def replay(workload: FairServeWorkload, name: str, *, latency=None, max_batch: int = 256, k: float = 3.0,
           weight_clip=(0.25, 4.0), reference: bool = False, **params) -> Replay:
    """Replay ``workload`` under scheduler ``name``; ``params`` override :func:`scheduler`'s keyword arguments
    (e.g. ``rpm=10``, ``beta=1``); ``k`` scales OIT's limits, ``weight_clip`` bounds the WSC app weights. ``reference``: run the pure-Python engine
    (:class:`repro.replay.reference.ReferenceSimulation`) with the pure-Python policy
    (:func:`repro.fairness.reference.reference_policy`) instead: same results, far slower."""
    latency = latency or server()
    kwargs = workload_params(workload, k=k, window=params.get("window", 60.0), weight_clip=weight_clip)
    kwargs.update(params)
    check_ids(workload.trace, kwargs["n_tenants"], np.size(kwargs["app_weight"]))
    policy = scheduler(name, **kwargs)
    simulation = Simulation
    if reference:
        from repro.fairness.reference import reference_policy
        from repro.replay.reference import ReferenceSimulation
        policy, simulation = reference_policy(policy), ReferenceSimulation
    sim = simulation(workload.trace, latency, np.ones((1, 1), np.int64), max_batch=max_batch, reserve="full",
                     queue_policy=policy, think_time=workload.think_time_s)
    result = sim.run(interval=1e12)
    return Replay(name, result, counters(sim.queue_policy), sim.queue_policy)
