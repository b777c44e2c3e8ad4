"""The schedulers of brief 02 §3 by name: FCFS, RPM, VTC, WSC alone, OIT+VTC and FairServe (OIT+WSC).

``scheduler(name, **params)`` returns the :class:`~repro.replay.policies.QueuePolicy` the replay engine takes
(``Simulation(..., queue_policy=...)``); every variant is the one policy of :mod:`repro.fairness.policy` with
different parameters. :func:`workload_params` derives the per-workload parameters (tenants, requests, app
weights, system prompts, OIT limits) from a :class:`repro.fairness.workload.FairServeWorkload`.

:func:`replay` runs a workload on brief 02's server (§2 "Server model") under one named scheduler: the engine is
:class:`repro.replay.Simulation` with one instance, full KV reservation and the closed loop of brief 02 §2 (call
k+1 of an interaction is released think_time seconds after call k finishes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from repro.fairness.policy import (
    SELECT_COUNTER, SELECT_FIFO, THROTTLE_NONE, THROTTLE_OIT, THROTTLE_RPM, counter_policy, counters,
)
from repro.fairness.workload import FairServeWorkload, server, workload_params
from repro.replay.policies import QueuePolicy
from repro.replay.simulation import ReplayResult, Simulation

#: name -> (selection, counter, throttle, priority); counter "vtc" = unweighted w_p/w_q, "wsc" = app-weighted;
#: priority: calls of interactions in progress first (WSC [3p]); "wsc-noprio" is the ablation without that rule.
SCHEDULERS = {
    "fcfs": (SELECT_FIFO, None, THROTTLE_NONE, False),
    "rpm": (SELECT_FIFO, None, THROTTLE_RPM, False),
    "vtc": (SELECT_COUNTER, "vtc", THROTTLE_NONE, False),
    "wsc": (SELECT_COUNTER, "wsc", THROTTLE_NONE, True),
    "wsc-noprio": (SELECT_COUNTER, "wsc", THROTTLE_NONE, False),
    "oit+vtc": (SELECT_COUNTER, "vtc", THROTTLE_OIT, False),
    "fairserve": (SELECT_COUNTER, "wsc", THROTTLE_OIT, True),
}
#: display names for figures and tables
LABELS = {"fcfs": "FCFS", "rpm": "RPM", "vtc": "VTC", "wsc": "WSC", "wsc-noprio": "WSC w/o priority",
          "oit+vtc": "OIT+VTC", "fairserve": "FairServe"}


def scheduler(name: str, *, n_tenants: int, n_requests: int, app_weight=None, app_system_tokens=None,
              user_limit=None, app_limit=None, rpm: float = 10.0, w_input: float = 1.0, w_output: float = 2.0,
              alpha: float = 1.0, beta: float = 2.0, gamma: float = 1.0, window: float = 60.0,
              hol_delay: float = 2.0, kv_frac: float = 0.9) -> QueuePolicy:
    """The queue policy of scheduler ``name`` (one of :data:`SCHEDULERS`), with fresh state.

    n_tenants, n_requests: sizes of the trace it will replay (tenant ids < n_tenants, app ids < len(app_weight)).
    app_weight, app_system_tokens: (n_apps,) w_a and S_a for WSC (VTC uses weight 1 and ignores S_a).
    user_limit (n_tenants,) or scalar, app_limit (n_apps,): OIT limits in tokens per ``window`` seconds.
    rpm: RPM's limit of accepted requests per ``window`` seconds and tenant.
    w_input, w_output: VTC's w_p, w_q. alpha, beta, gamma: WSC's prefill (user input, system prompt) and decode
    weights. hol_delay, kv_frac: OIT's overload thresholds (queue delay in seconds, KV utilisation).
    """
    if name not in SCHEDULERS:
        raise ValueError(f"scheduler: unknown name {name!r}; valid names: {', '.join(SCHEDULERS)}")
    select, counter, throttle, priority = SCHEDULERS[name]
    given = [a for a in (app_weight, app_system_tokens, app_limit) if a is not None]
    n_apps = np.size(given[0]) if given else 1
    if counter == "wsc":
        weights = dict(priority=priority, alpha=alpha, beta=beta, gamma=gamma, app_weight=app_weight)
    else:
        weights = dict(priority=False, alpha=w_input, beta=w_input, gamma=w_output, app_weight=np.ones(n_apps))
    oit = throttle == THROTTLE_OIT
    return counter_policy(n_tenants, n_requests, select=select, throttle=throttle,
                          app_system_tokens=app_system_tokens, user_limit=user_limit if oit else None,
                          app_limit=app_limit if oit else None, rpm=rpm if throttle == THROTTLE_RPM else 0.0,
                          window=window, hol_delay=hol_delay, kv_frac=kv_frac, name=name, **weights)


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
           weight_clip=(0.25, 4.0), reference: bool = False, queue_timeout_s: float = math.inf, **params) -> Replay:
    """Replay ``workload`` under scheduler ``name``; ``params`` override :func:`scheduler`'s keyword arguments
    (e.g. ``rpm=10``, ``beta=1``); ``k`` scales OIT's limits, ``weight_clip`` bounds the WSC app weights. ``reference``: run the pure-Python engine
    (:class:`repro.replay.reference.ReferenceSimulation`) with the pure-Python policy
    (:func:`repro.fairness.reference.reference_policy`) instead: same results, far slower. ``queue_timeout_s``: a call
    not admitted within this many seconds of its arrival leaves unserved (``result.timed_out``; its interaction is
    aborted), see :class:`repro.replay.Simulation`."""
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
                     queue_policy=policy, think_time=workload.think_time_s, queue_timeout_s=queue_timeout_s)
    result = sim.run(interval=1e12)
    return Replay(name, result, counters(sim.queue_policy), sim.queue_policy)
