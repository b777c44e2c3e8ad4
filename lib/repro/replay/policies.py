"""Instance-level queue policies for the replay engine: which waiting request an instance admits next,
and whether an arriving request is throttled (brief 02 §2 "VTC reference", "OIT"; brief 01 §2 "NIW
feeding"; brief 03 §2 "Instance model": FCFS admission).

A queue policy is three @njit functions with the signatures in :mod:`repro.replay.state` plus its state,
a :class:`~repro.replay.state.Plug` of arrays that only the policy reads and writes:

``on_arrival(cl, plug, r, t) -> int``
    called once per arriving request before routing; return 0 to accept, anything else to throttle
    (the request is flagged FLAG_THROTTLED, never served; in closed loop its interaction is aborted).
``select_next(cl, plug, i, t) -> int``
    called at an admission attempt of instance i: return a request waiting on i (walk the queue from
    ``cl.inst[i, IN_QHEAD]`` through ``cl.req[r, RQ_NEXT]``) or -1 to admit nothing now. It must not change
    state: if the KV cache has no room for the returned request the engine stops admitting (head-of-line
    blocking) and asks again at the instance's next admission attempt.
``notify(cl, plug, event, r, i, k, t) -> int``
    told of every change the policy may account for (EV_* in ``state``): enqueue, unqueue, admit (k = prefill
    tokens), decode (k steps for every decoding request of i, committed at the instance's events), finish,
    preempt. The return value is ignored.

Policies here: :func:`fcfs` (default), :func:`workload_priority` (interactive before non-interactive, with
SageServe's NIW gate), :func:`vtc` (Virtual Token Counter of Sheng et al., brief 02 §2, per-tenant
counters with lift) and :func:`rpm_throttle` (per-tenant requests-per-minute limit, FCFS inside).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from repro.replay.state import (
    EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_UNQUEUE, IN_KVCAP, IN_QHEAD, IN_RHEAD, Plug,
    RQ_NEXT, RQ_STATE, RQ_TENANT, RQ_WORKLOAD, RS_DECODE, kv_used, make_plug,
)


@dataclass(frozen=True)
class QueuePolicy:
    """A queue policy: its three hooks and its state (see the module docstring)."""
    on_arrival: object
    select_next: object
    notify: object
    state: Plug
    name: str = "custom"


@njit(cache=True)
def accept_all(cl, plug, r, t):
    return 0


@njit(cache=True)
def head_of_queue(cl, plug, i, t):
    return cl.inst[i, IN_QHEAD]


@njit(cache=True)
def ignore(cl, plug, event, r, i, k, t):
    return 0


def fcfs() -> QueuePolicy:
    """First come first served within an instance (preempted requests go back to the front)."""
    return QueuePolicy(accept_all, head_of_queue, ignore, make_plug(), "fcfs")


# ------------------------------------------------------------------------------ workload priority
@njit(cache=True)
def _select_by_workload(cl, plug, i, t):
    """First waiting interactive request in queue order; else the first non-interactive one if the
    instance's KV utilisation is below plug.p[0]."""
    r = cl.inst[i, IN_QHEAD]
    first_niw = -1
    while r >= 0:
        if cl.req[r, RQ_WORKLOAD] == 0:
            return r
        if first_niw < 0:
            first_niw = r
        r = cl.req[r, RQ_NEXT]
    if first_niw >= 0 and kv_used(cl, i, t, True) < plug.p[0] * cl.inst[i, IN_KVCAP]:
        return first_niw
    return -1


def workload_priority(niw_gate: float = np.inf) -> QueuePolicy:
    """Interactive (IW) requests first, FCFS within a class; non-interactive (NIW) ones only while the
    instance's memory utilisation is below ``niw_gate`` (brief 01 §2 "NIW feeding": 0.5). Cost O(queue length)
    per admission (it walks the queue)."""
    if not niw_gate > 0:
        raise ValueError(f"workload_priority: niw_gate must be > 0, got {niw_gate}")
    return QueuePolicy(accept_all, _select_by_workload, ignore, make_plug([niw_gate]), "workload_priority")


# ------------------------------------------------------------------------------ VTC (brief 02 §2)
# plug.p = [w_input, w_output]; plug.f1[tenant, 0] = counter W_u; plug.i1[tenant, 0] = requests of the
# tenant waiting anywhere (backlog); plug.i1[0, 1] = number of backlogged tenants.
@njit(cache=True)
def _vtc_select(cl, plug, i, t):
    """The waiting request of i whose tenant has the smallest counter (ties: queue order)."""
    r = cl.inst[i, IN_QHEAD]
    best = -1
    best_w = np.inf
    while r >= 0:
        w = plug.f1[cl.req[r, RQ_TENANT], 0]
        if w < best_w:
            best_w = w
            best = r
        r = cl.req[r, RQ_NEXT]
    return best


@njit(cache=True)
def _vtc_min_backlogged(cl, plug):
    best = np.inf
    for u in range(plug.f1.shape[0]):
        if plug.i1[u, 0] > 0 and plug.f1[u, 0] < best:
            best = plug.f1[u, 0]
    return best


@njit(cache=True)
def _vtc_notify(cl, plug, event, r, i, k, t):
    if event == EV_ENQUEUE:
        u = cl.req[r, RQ_TENANT]
        if plug.i1[u, 0] == 0:   # the tenant becomes backlogged: lift its counter
            low = _vtc_min_backlogged(cl, plug)
            if low < np.inf and plug.f1[u, 0] < low:
                plug.f1[u, 0] = low
        plug.i1[u, 0] += 1
    elif event == EV_UNQUEUE:
        plug.i1[cl.req[r, RQ_TENANT], 0] -= 1
    elif event == EV_ADMIT:
        u = cl.req[r, RQ_TENANT]
        plug.i1[u, 0] -= 1
        plug.f1[u, 0] += plug.p[0] * k
    elif event == EV_DECODE:
        x = cl.inst[i, IN_RHEAD]
        while x >= 0:
            if cl.req[x, RQ_STATE] == RS_DECODE:
                plug.f1[cl.req[x, RQ_TENANT], 0] += plug.p[1] * k
            x = cl.req[x, RQ_NEXT]
    return 0


def vtc(n_tenants: int, w_input: float = 1.0, w_output: float = 2.0) -> QueuePolicy:
    """Virtual Token Counter (brief 02 §2 [VTC]): admit the waiting request whose tenant has received the
    least weighted service; counters grow by w_input per prompt token at admission and w_output per decoded
    token; a tenant that becomes backlogged is lifted to the smallest counter among backlogged tenants.
    Decode tokens are charged when an instance commits its steps (at its events), so with several
    instances a counter can lag by the steps since that instance's last event. O(queue + tenants) per call."""
    if n_tenants < 1:
        raise ValueError(f"vtc: n_tenants must be >= 1, got {n_tenants}")
    return QueuePolicy(accept_all, _vtc_select, _vtc_notify,
                       make_plug([w_input, w_output], f1=np.zeros((n_tenants, 1)), i1=np.zeros((n_tenants, 1))),
                       "vtc")


# ------------------------------------------------------------------------------ RPM throttle (brief 02 §3)
# plug.p = [limit]; plug.f1[tenant, :limit] = ring of the tenant's last accepted arrival times; plug.i1[tenant, 0] =
# ring position.
@njit(cache=True)
def _rpm_on_arrival(cl, plug, r, t):
    u = cl.req[r, RQ_TENANT]
    limit = plug.f1.shape[1]
    pos = plug.i1[u, 0]
    if t - plug.f1[u, pos] < 60.0:   # the oldest of the last `limit` accepted requests is within a minute
        return 1
    plug.f1[u, pos] = t
    plug.i1[u, 0] = (pos + 1) % limit
    return 0


def rpm_throttle(n_tenants: int, limit: int) -> QueuePolicy:
    """Reject a request when its tenant already had ``limit`` accepted requests in the last 60 s; FCFS inside."""
    if limit < 1 or n_tenants < 1:
        raise ValueError(f"rpm_throttle: limit and n_tenants must be >= 1, got {limit}, {n_tenants}")
    return QueuePolicy(_rpm_on_arrival, head_of_queue, ignore,
                       make_plug([limit], f1=np.full((n_tenants, limit), -np.inf), i1=np.zeros((n_tenants, 1))),
                       "rpm")
