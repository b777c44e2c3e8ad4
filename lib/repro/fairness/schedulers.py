"""The schedulers of brief 02 §3 by name: FCFS, RPM, VTC, WSC alone, OIT+VTC and FairServe (OIT+WSC).

``scheduler(name, **params)`` returns the :class:`~repro.replay.policies.QueuePolicy` the replay engine takes
(``Simulation(..., queue_policy=...)``); every variant is the one policy of :mod:`repro.fairness.policy` with
different parameters. :func:`workload_params` derives the per-workload parameters (tenants, requests, app
weights, system prompts, OIT limits) from a :class:`repro.fairness.workload.FairServeWorkload`.
"""
from __future__ import annotations

import numpy as np

from repro.fairness.policy import (
    SELECT_COUNTER, SELECT_FIFO, THROTTLE_NONE, THROTTLE_OIT, THROTTLE_RPM, counter_policy,
)
from repro.replay.policies import QueuePolicy

#: name -> (selection, counter, throttle); counter "vtc" = unweighted w_p/w_q, "wsc" = app-weighted with priority.
SCHEDULERS = {
    "fcfs": (SELECT_FIFO, None, THROTTLE_NONE),
    "rpm": (SELECT_FIFO, None, THROTTLE_RPM),
    "vtc": (SELECT_COUNTER, "vtc", THROTTLE_NONE),
    "wsc": (SELECT_COUNTER, "wsc", THROTTLE_NONE),
    "oit+vtc": (SELECT_COUNTER, "vtc", THROTTLE_OIT),
    "fairserve": (SELECT_COUNTER, "wsc", THROTTLE_OIT),
}
#: display names for figures and tables
LABELS = {"fcfs": "FCFS", "rpm": "RPM", "vtc": "VTC", "wsc": "WSC", "oit+vtc": "OIT+VTC", "fairserve": "FairServe"}


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
    select, counter, throttle = SCHEDULERS[name]
    given = [a for a in (app_weight, app_system_tokens, app_limit) if a is not None]
    n_apps = np.size(given[0]) if given else 1
    if counter == "wsc":
        weights = dict(priority=True, alpha=alpha, beta=beta, gamma=gamma, app_weight=app_weight)
    else:
        weights = dict(priority=False, alpha=w_input, beta=w_input, gamma=w_output, app_weight=np.ones(n_apps))
    oit = throttle == THROTTLE_OIT
    return counter_policy(n_tenants, n_requests, select=select, throttle=throttle,
                          app_system_tokens=app_system_tokens, user_limit=user_limit if oit else None,
                          app_limit=app_limit if oit else None, rpm=rpm if throttle == THROTTLE_RPM else 0.0,
                          window=window, hol_delay=hol_delay, kv_frac=kv_frac, name=name, **weights)
