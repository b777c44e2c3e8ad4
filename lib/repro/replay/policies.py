"""Instance-level queue policies for the replay engine: which waiting request an instance admits next,
and whether an arriving request is throttled (the plug-in interface of brief 02 §2 "Server model"; brief 01 §2
"NIW feeding"; brief 03 §2 "Instance model": FCFS admission).

A queue policy is three @njit functions with the signatures in :mod:`repro.replay.state` plus its state,
a :class:`~repro.replay.state.Plug` of arrays that only the policy reads and writes:

``on_arrival(cl, plug, r, t) -> int``
    called once per arriving request before routing; return 0 to accept, anything else to throttle
    (the request is flagged FLAG_THROTTLED, never served; in closed loop its interaction is aborted).
``select_next(cl, plug, i, t) -> int``
    called at an admission attempt of instance i: return a request waiting on i (walk the queue from
    ``queue_head(cl, i)`` through ``next_request(cl, r)``) or -1 to admit nothing now. It must not change
    state: if the KV cache has no room for the returned request the engine stops admitting (head-of-line
    blocking) and asks again at the instance's next admission attempt.
``notify(cl, plug, event, r, i, k, t) -> int``
    told of every change the policy may account for (EV_* in ``state``): enqueue, unqueue, admit (k = prefill
    tokens), first token (k = 1, the first prefill of r emitted its first output token), decode (k steps for
    every decoding request of i, committed at the instance's events), finish, preempt. The return value is
    ignored.

A policy reads the cluster only through the accessors of :mod:`repro.replay.state` (``queue_head``,
``request_tenant``, ``kv_used``, ...) and writes only its own state.

Policies here: :func:`fcfs` (default) and :func:`workload_priority` (interactive before non-interactive, with
SageServe's NIW gate). The per-tenant schedulers (VTC with its lift, RPM, WSC, OIT, FairServe) have one
implementation, :func:`repro.fairness.scheduler`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from repro.replay.state import Plug, kv_capacity, kv_used, make_plug, next_request, queue_head, request_workload


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
    return queue_head(cl, i)


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
    r = queue_head(cl, i)
    first_niw = -1
    while r >= 0:
        if request_workload(cl, r) == 0:
            return r
        if first_niw < 0:
            first_niw = r
        r = next_request(cl, r)
    if first_niw >= 0 and kv_used(cl, i, t, True) < plug.p[0] * kv_capacity(cl, i):
        return first_niw
    return -1


def workload_priority(niw_gate: float = np.inf) -> QueuePolicy:
    """Interactive (IW) requests first, FCFS within a class; non-interactive (NIW) ones only while the
    instance's memory utilisation is below ``niw_gate`` (brief 01 §2 "NIW feeding": 0.5). Cost O(queue length)
    per admission (it walks the queue)."""
    if not niw_gate > 0:
        raise ValueError(f"workload_priority: niw_gate must be > 0, got {niw_gate}")
    return QueuePolicy(accept_all, _select_by_workload, ignore, make_plug([niw_gate]), "workload_priority")
