"""NIW feeding as an O(1) queue policy for the replay engine (brief 01 §2 "NIW feeding": queued non-interactive
requests are admitted whenever the instance's memory utilisation u < 0.5; interactive requests first).

It makes the same choices as :func:`repro.replay.policies.workload_priority` (the reference: the tests hold the
two replays equal), which walks an instance's whole waiting queue to find the first interactive request. When
an endpoint runs hot for hours, its instances hold thousands of gated NIW requests and every admission attempt
re-walks them; here each instance instead keeps its waiting interactive requests in a second linked list
(mirroring their order in the main queue; the lists of :mod:`repro.core.njit_structs`), so a choice costs O(1):

- ``plug.i1[r] = (next, prev)`` of request r in its instance's interactive list;
- ``plug.i2[i] = (head, tail)`` of instance i's list (sized for ``max_instances`` instances);
- ``plug.p = [gate]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from repro.core.njit_structs import list_push_back, list_push_front, list_unlink
from repro.replay.policies import QueuePolicy, accept_all
from repro.replay.state import (EV_ADMIT, EV_ENQUEUE, EV_UNQUEUE, kv_capacity, kv_used, make_plug, queue_head,
                                request_workload)

NEXT, PREV = 0, 1
HEAD, TAIL = 0, 1


@njit(cache=True)
def _select(cl, plug, i, t):
    """The first waiting interactive request of i; else the queue head (then non-interactive) while
    KV in use < gate x capacity; else none."""
    r = plug.i2[i, HEAD]
    if r >= 0:
        return r
    h = queue_head(cl, i)
    if h >= 0 and kv_used(cl, i, t, True) < plug.p[0] * kv_capacity(cl, i):
        return h
    return -1


@njit(cache=True)
def _notify(cl, plug, event, r, i, k, t):
    if r < 0 or request_workload(cl, r) != 0:
        return 0
    if event == EV_ENQUEUE and k == 1:
        list_push_front(plug.i2[i], HEAD, TAIL, plug.i1, NEXT, PREV, r)
    elif event == EV_ENQUEUE:
        list_push_back(plug.i2[i], HEAD, TAIL, plug.i1, NEXT, PREV, r)
    elif event == EV_UNQUEUE or event == EV_ADMIT:
        list_unlink(plug.i2[i], HEAD, TAIL, plug.i1, NEXT, PREV, r)
    return 0


def niw_feeding(n_requests: int, niw_gate: float = 0.5, max_instances: int = 1 << 18) -> QueuePolicy:
    """Interactive requests first (FCFS), non-interactive ones only while u < ``niw_gate``; for a trace of
    ``n_requests`` rows and at most ``max_instances`` instances ever created in the replay."""
    if not niw_gate > 0:
        raise ValueError(f"niw_feeding: niw_gate must be > 0, got {niw_gate}")
    if n_requests < 0 or max_instances < 1:
        raise ValueError(f"niw_feeding: expected n_requests >= 0 and max_instances >= 1, got {n_requests}, "
                         f"{max_instances}")
    plug = make_plug([niw_gate], i1=np.full((max(n_requests, 1), 2), -1, np.int64),
                     i2=np.full((max_instances, 2), -1, np.int64))
    return QueuePolicy(accept_all, _select, _notify, plug, "niw_feeding")
