"""Numba event loop of the LLM cluster replay (brief 01 §2 "Service model", "Global router";
brief 02 §2 "Server model"; brief 03 §2 "Instance model"). Semantics: see :mod:`repro.replay`.

The loop is event-driven and exact: a running decode batch is advanced in one step to its next event
(a request finishing, the KV cache filling up, or the first iteration boundary after a request was
queued on it) with the closed form of :func:`repro.replay.state.decode_elapsed`, so the cost is O(1)
amortised per request and event, not per decode iteration. Instances wait in an indexed binary heap
keyed by (next event time, instance); each instance keeps its decoding requests in a heap keyed by
(finishing step, request); released closed-loop calls wait in a heap keyed by (time, request), and routed
requests in arrival order for their queue timeouts. The three heaps are the indexed heap of
:mod:`repro.core.njit_structs` over three storages: instances keyed by ``ev_time``; per instance, a row of ``fin``
keyed by the finishing step ``fin_key`` of each request; released calls keyed by their release time (the
request's arrival column); ``heap_pos`` holds a request's slot in either of the latter two (a request is never
in both: a released call has not arrived yet). The plug-ins arrive as one record of first-class numba
functions and their states (``state.Hooks``), so this module is compiled once and cached whatever policies
and routers plug in; the state crosses calls as StructRefs (one reference count per call, see
``state.ClusterRef``). :mod:`repro.replay` says why these two experimental numba features are used. The
request lists (waiting, running, hold) are the linked lists of :mod:`repro.core.njit_structs`.

Inlining. A call of a compiled function that receives the StructRefs and the hooks record costs the call, the
passing of the record's fields and an increment/decrement pair per reference that numba cannot prune. So the small
bookkeeping functions (``mark_dirty``, ``enqueue``, ``set_kv``, ...) and the steps with one or two call sites
(``arrive``, ``admit_waiting``, ``start_epoch``, the join, finish and preemption steps, ...) are inlined at numba
IR level (``inline="always"``), as are the plug-in accessors of :mod:`repro.replay.state`. Callgrind, 1-hour
600-user fairness workload, instructions inside the replay: plain FCFS 74.2M -> 64.9M, FairServe 122.4M -> 112.0M,
VTC 129.3M -> 117.7M, for about 10 % more cold compile time of the entry points. ``set_event`` (three inlined heap
operations, eight call sites), ``route``, ``boundary`` and the controller paths stay calls: inlining
``set_event`` as well doubled the compile time (about 30 s -> 62 s CPU).

Python calls four entry points (``entries()``): ``advance`` (the event loop up to a time), ``drain``,
``assign_held`` and ``add_instance`` (controller actions). :mod:`repro.replay.reference` is the
pure-Python twin that steps every iteration; tests hold both equal exactly.
"""
from __future__ import annotations

import collections
import math
import warnings

import numba
import numpy as np
from numba import njit, types
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.experimental import structref

from repro.core.njit_structs import (
    heap_push, heap_remove, heap_sift, heap_storage, list_insert_before, list_push_back, list_push_front, list_unlink,
)
from repro.replay.state import (
    ACTIVE, CF_NOW, CF_THINK, CF_TIMEOUT, CLUSTER_TYPE, C_CHUNK, C_CLOSED_LOOP, C_CUR_INDEX, C_CUR_KIND,
    C_HELD_HEAD, C_HELD_TAIL, C_ITERATION, C_MAX_BATCH, C_N_HELD, C_N_INST, C_N_WOKEN, C_RESERVE, DRAINING,
    EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_FINISH, EV_FIRST, EV_PREEMPT, EV_UNQUEUE, FLAG_ABORTED, FLAG_DROPPED,
    FLAG_HELD, FLAG_PREEMPTED, FLAG_REROUTED, FLAG_THROTTLED, FLAG_TIMED_OUT, G_CAP, G_KV, G_NACTIVE, G_NMEMBERS,
    HOOKS_TYPE, IF_BUSY, IF_BUSY_SINCE, IF_EP_A, IF_EP_END, IF_EP_T, IF_T_DRAIN, IF_T_OFF, IF_T_READY, IF_T_REQUEST,
    IN_COMMIT_K, IN_DEC_BASE, IN_DIRTY, IN_EP_B, IN_EP_CTX, IN_EP_PREFILL, IN_EP_S, IN_GROUP, IN_KV, IN_KVCAP,
    IN_MEMBER_POS, IN_MODE, IN_MODEL, IN_NADMIT, IN_NDEC, IN_NFINISH, IN_NPF, IN_NPREEMPT, IN_NRUN, IN_NWAIT,
    IN_PFHEAD, IN_POOL, IN_QHEAD, IN_QTAIL, IN_REGION, IN_RHEAD, IN_RTAIL, IN_RUN_TOKENS, IN_STATUS, IN_WAIT_TOKENS,
    ITER_PREFILL_PRIORITY, KIND_ARRIVAL, KIND_CONTROLLER, KIND_INSTANCE, KIND_TIMEOUT, MODE_DECODE, MODE_IDLE,
    MODE_PREFILL, M_KVCAP, OFF, RESERVE_ON_DEMAND, RF_ADMIT, RF_ARRIVAL, RF_FINISH, RF_FIRST, RQ_FLAGS,
    RQ_GENERATED, RQ_INST, RQ_JOIN, RQ_KV, RQ_MODEL, RQ_NEXT, RQ_NPREEMPT, RQ_OUTPUT, RQ_POOL, RQ_PREFILL_LEFT,
    RQ_PREV, RQ_PROMPT, RQ_REGION, RQ_STATE, RQ_SUCC, RQ_WORKLOAD, RS_DECODE, RS_DONE, RS_HELD, RS_PREFILL,
    RS_REJECTED, RS_WAITING, SPINNING, boundary_time, first_step_reaching, group_index, kv_used, prefill_seconds,
    step_seconds,
)

#: engine-private arrays (not visible to plug-ins)
ENGINE_FIELDS = ("ev_heap", "ev_pos", "ev_time", "fin", "fin_n", "fin_key", "heap_pos", "k_evt", "roots",
                 "rel_heap", "tmo", "ints")
EngineState = collections.namedtuple("EngineState", ENGINE_FIELDS)


@structref.register
class EngineRefType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class EngineRef(structref.StructRefProxy):
    """Engine-side handle on an EngineState's arrays (one reference count per call, see state.ClusterRef)."""


structref.define_proxy(EngineRef, EngineRefType, list(ENGINE_FIELDS))


@njit(cache=True)
def _new_engine_ref(ev_heap, ev_pos, ev_time, fin, fin_n, fin_key, heap_pos, k_evt, roots, rel_heap, tmo, ints):
    return EngineRef(ev_heap, ev_pos, ev_time, fin, fin_n, fin_key, heap_pos, k_evt, roots, rel_heap, tmo, ints)


def engine_ref(es: EngineState) -> EngineRef:
    return _new_engine_ref(*es)
# EngineState.ints; tmo[E_TMO_HEAD:E_TMO_TAIL] are the routed requests in arrival order (their timeouts come
# in the same order: every deadline is arrival + the same timeout), stale ones skipped when they reach the head
E_ROOT_PTR, E_REL_N, E_EV_N, E_NEXT_TICK, E_TMO_HEAD, E_TMO_TAIL = range(6)
N_E = 6
# time-series columns (Simulation.timeseries)
TS_STATUS, TS_NRUN, TS_NWAIT, TS_KV, TS_BUSY = range(5)
N_TS = 5
BIG = np.int64(1) << np.int64(62)


def new_engine_state(n_req: int, cap: int, max_batch: int, roots: np.ndarray, n_succ: int,
                     timeouts: bool = False) -> EngineState:
    return EngineState(
        ev_heap=np.full(cap, -1, np.int64), ev_pos=np.full(cap, -1, np.int64), ev_time=np.full(cap, np.inf),
        fin=np.full((cap, max_batch), -1, np.int64), fin_n=np.zeros(cap, np.int64),
        fin_key=np.zeros(n_req, np.int32), heap_pos=np.full(n_req, -1, np.int32), k_evt=np.zeros(cap, np.int64),
        roots=np.ascontiguousarray(roots, np.int64), rel_heap=np.full(n_succ + 1, -1, np.int64),
        tmo=np.zeros(n_req + 1 if timeouts else 1, np.int64), ints=np.zeros(N_E, np.int64))


def grow_engine_state(es: EngineState, cap: int) -> EngineState:
    """A copy of ``es`` with per-instance arrays grown to ``cap`` rows."""
    old = es.ev_heap.shape[0]

    def grow(a, fill):
        out = np.full((cap,) + a.shape[1:], fill, a.dtype)
        out[:old] = a
        return out

    return es._replace(ev_heap=grow(es.ev_heap, -1), ev_pos=grow(es.ev_pos, -1), ev_time=grow(es.ev_time, np.inf),
                       fin=grow(es.fin, -1), fin_n=grow(es.fin_n, 0), k_evt=grow(es.k_evt, 0))


# ================================================================== the three heaps (repro.core.njit_structs)
# Each heap's accessors are straight-line code (njit_structs says why). The state is the EngineRef, and for the
# released calls the pair (ClusterRef, EngineRef): their key is the request's arrival column. ``row`` is the
# instance for the finish heaps and unused by the other two.
def _ev_at(s, tag, row, x):
    return s.ev_heap[x]


def _ev_put(s, tag, row, x, item):
    s.ev_heap[x] = item
    s.ev_pos[item] = x


def _ev_slot(s, tag, row, item):
    return s.ev_pos[item]


def _ev_clear_slot(s, tag, row, item):
    s.ev_pos[item] = -1


def _ev_key(s, tag, row, item):
    return s.ev_time[item]


def _fin_at(s, tag, row, x):
    return s.fin[row, x]


def _fin_put(s, tag, row, x, item):
    s.fin[row, x] = item
    s.heap_pos[item] = x


def _req_slot(s, tag, row, item):
    return s.heap_pos[item]


def _req_clear_slot(s, tag, row, item):
    s.heap_pos[item] = -1


def _fin_key(s, tag, row, item):
    return s.fin_key[item]


def _rel_at(s, tag, row, x):
    return s[1].rel_heap[x]


def _rel_put(s, tag, row, x, item):
    s[1].rel_heap[x] = item
    s[1].heap_pos[item] = x


def _rel_slot(s, tag, row, item):
    return s[1].heap_pos[item]


def _rel_clear_slot(s, tag, row, item):
    s[1].heap_pos[item] = -1


def _rel_key(s, tag, row, item):
    return s[0].reqf[item, RF_ARRIVAL]


#: instances by next event time; per instance (row), decoding requests by finishing step; released closed-loop
#: calls by release time
EVENTS = heap_storage("replay.engine.events", _ev_at, _ev_put, _ev_slot, _ev_clear_slot, _ev_key)
FINISHES = heap_storage("replay.engine.finishes", _fin_at, _fin_put, _req_slot, _req_clear_slot, _fin_key)
RELEASES = heap_storage("replay.engine.releases", _rel_at, _rel_put, _rel_slot, _rel_clear_slot, _rel_key)


@njit(cache=True)
def set_event(es, i, t):
    """Schedule instance i's next event at t (inf removes it)."""
    es.ev_time[i] = t
    x = es.ev_pos[i]
    n = es.ints[E_EV_N]
    if t == np.inf:
        if x >= 0:
            es.ints[E_EV_N] = heap_remove(es, EVENTS, 0, n, i)
    elif x < 0:
        es.ints[E_EV_N] = heap_push(es, EVENTS, 0, n, i)
    else:
        heap_sift(es, EVENTS, 0, n, x)


@njit(cache=True, inline="always")
def _fin_push(cl, es, i, r):
    """r joins instance i's decode batch; it finishes o - 1 decode steps after its join (the prefill emitted the
    first of its o output tokens): the epoch-independent step count ``fin_key[r]``."""
    es.fin_key[r] = cl.req[r, RQ_JOIN] + cl.req[r, RQ_OUTPUT] - 1
    es.fin_n[i] = heap_push(es, FINISHES, i, es.fin_n[i], r)


@njit(cache=True, inline="always")
def _fin_remove(es, i, r):
    es.fin_n[i] = heap_remove(es, FINISHES, i, es.fin_n[i], r)


@njit(cache=True, inline="always")
def _rel_push(cl, es, t, r):
    """Closed loop: call r is released at t (its arrival time)."""
    cl.reqf[r, RF_ARRIVAL] = t
    es.ints[E_REL_N] = heap_push((cl, es), RELEASES, 0, es.ints[E_REL_N], r)


@njit(cache=True, inline="always")
def _rel_pop(cl, es):
    es.ints[E_REL_N] = heap_remove((cl, es), RELEASES, 0, es.ints[E_REL_N], es.rel_heap[0])


# ================================================================== shared request bookkeeping
@njit(cache=True, inline="always")
def mark_dirty(cl, i):
    """Instance i must try to admit at its next iteration boundary."""
    if cl.inst[i, IN_DIRTY] == 0:
        cl.inst[i, IN_DIRTY] = 1
        n = cl.conf[C_N_WOKEN]
        cl.woken[n] = i
        cl.conf[C_N_WOKEN] = n + 1


@njit(cache=True, inline="always")
def enqueue(cl, hk, r, i, t, front):
    """Put r in instance i's waiting queue (at the front for a preempted request)."""
    cl.req[r, RQ_STATE] = RS_WAITING
    cl.req[r, RQ_INST] = i
    cl.req[r, RQ_REGION] = cl.inst[i, IN_REGION]
    if front:
        list_push_front(cl.inst[i], IN_QHEAD, IN_QTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    else:
        list_push_back(cl.inst[i], IN_QHEAD, IN_QTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    cl.inst[i, IN_NWAIT] += 1
    cl.inst[i, IN_WAIT_TOKENS] += cl.req[r, RQ_PROMPT] + cl.req[r, RQ_OUTPUT]
    hk.notify(cl, hk.policy_state, EV_ENQUEUE, r, i, 1 if front else 0, t)
    mark_dirty(cl, i)


@njit(cache=True, inline="always")
def unqueue(cl, hk, r, i, t):
    """Take r out of instance i's waiting queue without admitting it."""
    list_unlink(cl.inst[i], IN_QHEAD, IN_QTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    cl.inst[i, IN_NWAIT] -= 1
    cl.inst[i, IN_WAIT_TOKENS] -= cl.req[r, RQ_PROMPT] + cl.req[r, RQ_OUTPUT]
    hk.notify(cl, hk.policy_state, EV_UNQUEUE, r, i, 0, t)


@njit(cache=True, inline="always")
def accepts(cl, i, model, pool):
    """Instance i takes newly routed requests of (model, pool): spinning up or active, not draining."""
    st = cl.inst[i, IN_STATUS]
    return (st == SPINNING or st == ACTIVE) and cl.inst[i, IN_MODEL] == model and cl.inst[i, IN_POOL] == pool


@njit(cache=True)
def route(cl, hk, r, t):
    """Ask the routers where r goes; enqueue it there or hold it. Returns the instance or -1 (held)."""
    region = hk.region_router(cl, hk.router_state, r, t)
    i = -1
    if region >= 0:
        i = hk.instance_router(cl, hk.router_state, r, region, t)
    if i >= 0:
        if i >= cl.conf[C_N_INST] or not accepts(cl, i, cl.req[r, RQ_MODEL], cl.req[r, RQ_POOL]):
            raise ValueError("instance_router returned an instance that does not serve the request's model "
                             "and pool or is not accepting requests")
        enqueue(cl, hk, r, i, t, False)
    else:
        cl.req[r, RQ_STATE] = RS_HELD
        cl.req[r, RQ_INST] = -1
        cl.req[r, RQ_REGION] = -1
        cl.req[r, RQ_FLAGS] |= FLAG_HELD
        list_push_back(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r)
        cl.conf[C_N_HELD] += 1
    return i


@njit(cache=True)
def retry_held(cl, hk, t):
    """Route every held request again, in hold order (called when an instance becomes active)."""
    r = cl.conf[C_HELD_HEAD]
    while r >= 0:
        nxt = cl.req[r, RQ_NEXT]
        list_unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r)
        cl.conf[C_N_HELD] -= 1
        i = route(cl, hk, r, t)
        if i < 0:  # route() appended it again: move it back to where it was
            list_unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r)
            list_insert_before(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r, nxt)
        r = nxt


@njit(cache=True, inline="always")
def reject(cl, r, flag):
    """Mark r (and, in closed loop, every later call of its interaction) as never served."""
    cl.req[r, RQ_STATE] = RS_REJECTED
    cl.req[r, RQ_FLAGS] |= flag
    s = cl.req[r, RQ_SUCC]
    while s >= 0:
        cl.req[s, RQ_STATE] = RS_REJECTED
        cl.req[s, RQ_FLAGS] |= FLAG_ABORTED
        s = cl.req[s, RQ_SUCC]


@njit(cache=True, inline="always")
def arrive(cl, es, hk, r, t):
    """Request r arrives at t: count it, admission control, throttling hook, routing."""
    m = cl.req[r, RQ_MODEL]
    cl.reqf[r, RF_ARRIVAL] = t
    home = cl.prio[r, 0]
    w = cl.req[r, RQ_WORKLOAD]
    cl.window[m, home, w, 0] += 1
    cl.window[m, home, w, 1] += cl.req[r, RQ_PROMPT]
    cl.window[m, home, w, 2] += cl.req[r, RQ_OUTPUT]
    if np.int64(cl.req[r, RQ_PROMPT]) + cl.req[r, RQ_OUTPUT] > cl.models[m, M_KVCAP]:
        reject(cl, r, FLAG_DROPPED)
        return
    if hk.on_arrival(cl, hk.policy_state, r, t) != 0:
        reject(cl, r, FLAG_THROTTLED)
        return
    route(cl, hk, r, t)
    if cl.conff[CF_TIMEOUT] < np.inf:
        x = es.ints[E_TMO_TAIL]
        es.tmo[x] = r
        es.ints[E_TMO_TAIL] = x + 1


@njit(cache=True, inline="always")
def awaits_admission(cl, r):
    """r is waiting or held and has never been admitted (a preempted, requeued request does not time out)."""
    st = cl.req[r, RQ_STATE]
    return (st == RS_WAITING or st == RS_HELD) and math.isnan(cl.reqf[r, RF_ADMIT])


@njit(cache=True, inline="always")
def next_timeout(cl, es):
    """(time, request) of the next queue timeout, skipping requests admitted or gone since; (inf, -1) if none."""
    x = es.ints[E_TMO_HEAD]
    tail = es.ints[E_TMO_TAIL]
    while x < tail and not awaits_admission(cl, es.tmo[x]):
        x += 1
    es.ints[E_TMO_HEAD] = x
    if x == tail:
        return np.inf, -1
    r = es.tmo[x]
    return cl.reqf[r, RF_ARRIVAL] + cl.conff[CF_TIMEOUT], r


@njit(cache=True)
def time_out(cl, es, hk, r, t):
    """r was not admitted within the queue timeout: it leaves its queue (or the hold queue) now, never served."""
    es.ints[E_TMO_HEAD] += 1
    if cl.req[r, RQ_STATE] == RS_WAITING:
        i = cl.req[r, RQ_INST]
        unqueue(cl, hk, r, i, t)
        mark_dirty(cl, i)   # the request behind it may fit where it did not
    else:
        list_unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r)
        cl.conf[C_N_HELD] -= 1
    reject(cl, r, FLAG_TIMED_OUT)


@njit(cache=True, inline="always")
def set_kv(cl, i, kv):
    """Instance i now holds kv KV tokens (its active group's total follows)."""
    if cl.inst[i, IN_STATUS] == ACTIVE:
        cl.group[cl.inst[i, IN_GROUP], G_KV] += kv - cl.inst[i, IN_KV]
    cl.inst[i, IN_KV] = kv


@njit(cache=True, inline="always")
def activate(cl, i):
    """Instance i finished spinning up."""
    cl.inst[i, IN_STATUS] = ACTIVE
    g = cl.inst[i, IN_GROUP]
    cl.group[g, G_NACTIVE] += 1
    cl.group[g, G_CAP] += cl.inst[i, IN_KVCAP]
    cl.group[g, G_KV] += cl.inst[i, IN_KV]


@njit(cache=True)
def remove_member(cl, i):
    """Take instance i out of its group's accepting members (order of the others kept)."""
    g = cl.inst[i, IN_GROUP]
    pos = cl.inst[i, IN_MEMBER_POS]
    n = cl.group[g, G_NMEMBERS]
    for x in range(pos, n - 1):
        j = cl.members[g, x + 1]
        cl.members[g, x] = j
        cl.inst[j, IN_MEMBER_POS] = x
    cl.members[g, n - 1] = -1
    cl.group[g, G_NMEMBERS] = n - 1
    cl.inst[i, IN_MEMBER_POS] = -1
    if cl.inst[i, IN_STATUS] == ACTIVE:
        cl.group[g, G_NACTIVE] -= 1
        cl.group[g, G_CAP] -= cl.inst[i, IN_KVCAP]
        cl.group[g, G_KV] -= cl.inst[i, IN_KV]


@njit(cache=True, inline="always")
def turn_off(cl, i, t):
    cl.inst[i, IN_STATUS] = OFF
    cl.instf[i, IF_T_OFF] = t
    cl.inst[i, IN_MODE] = MODE_IDLE


@njit(cache=True)
def reroute_waiting(cl, hk, i, t):
    """Move every request waiting on (draining or cancelled) instance i to another instance or the hold queue."""
    while cl.inst[i, IN_QHEAD] >= 0:
        r = cl.inst[i, IN_QHEAD]
        unqueue(cl, hk, r, i, t)
        cl.req[r, RQ_FLAGS] |= FLAG_REROUTED
        route(cl, hk, r, t)


@njit(cache=True, inline="always")
def set_busy(cl, i, t):
    """Busy-time accounting: an instance is busy while it has admitted requests."""
    busy = cl.inst[i, IN_NRUN] > 0
    since = cl.instf[i, IF_BUSY_SINCE]
    if busy and math.isnan(since):
        cl.instf[i, IF_BUSY_SINCE] = t
    elif not busy and not math.isnan(since):
        cl.instf[i, IF_BUSY] += t - since
        cl.instf[i, IF_BUSY_SINCE] = np.nan


@njit(cache=True)
def new_instance(cl, model, region, pool, t, delay, active):
    """Append an instance row (spinning up until t + delay, or active now). Returns its index."""
    i = cl.conf[C_N_INST]
    if i >= cl.inst.shape[0]:
        raise ValueError("instance capacity exceeded (grow the arrays first)")
    cl.conf[C_N_INST] = i + 1
    g = group_index(cl, model, region, pool)
    row = cl.inst[i]
    row[:] = 0
    row[IN_MODEL] = model
    row[IN_REGION] = region
    row[IN_POOL] = pool
    row[IN_GROUP] = g
    row[IN_STATUS] = SPINNING
    row[IN_MODE] = MODE_IDLE
    for c in (IN_QHEAD, IN_QTAIL, IN_RHEAD, IN_RTAIL, IN_PFHEAD):
        row[c] = -1
    row[IN_KVCAP] = np.int64(cl.models[model, M_KVCAP])
    f = cl.instf[i]
    f[:] = np.nan
    f[IF_T_REQUEST] = t
    f[IF_T_READY] = t + delay
    f[IF_T_DRAIN] = np.inf
    f[IF_T_OFF] = np.inf
    f[IF_EP_T] = t
    f[IF_EP_A] = 0.0
    f[IF_EP_END] = np.inf
    f[IF_BUSY] = 0.0
    n = cl.group[g, G_NMEMBERS]
    cl.members[g, n] = i
    cl.group[g, G_NMEMBERS] = n + 1
    row[IN_MEMBER_POS] = n
    if active:
        activate(cl, i)
    return i


# ================================================================== the iteration boundary
@njit(cache=True, inline="always")
def _join_decode(cl, es, hk, i, r, s, t):
    """r finished its prefill at the boundary where instance i has made s decode steps. Its first prefill emitted
    its first output token (EV_FIRST); a prefill after a preemption recomputes its KV and emits nothing."""
    cl.req[r, RQ_STATE] = RS_DECODE
    cl.inst[i, IN_RUN_TOKENS] -= 1
    first = math.isnan(cl.reqf[r, RF_FIRST])
    if first:
        cl.reqf[r, RF_FIRST] = t
    join = s - cl.req[r, RQ_GENERATED]
    if join > 2147483647 - 2 * cl.req[r, RQ_OUTPUT]:
        raise OverflowError("decode step counter exceeds int32")
    cl.req[r, RQ_JOIN] = join
    cl.inst[i, IN_NDEC] += 1
    cl.inst[i, IN_NPF] -= 1
    cl.inst[i, IN_DEC_BASE] += cl.req[r, RQ_PROMPT] - join
    _fin_push(cl, es, i, r)
    mark_dirty(cl, i)
    if first:
        hk.notify(cl, hk.policy_state, EV_FIRST, r, i, 1, t)


@njit(cache=True, inline="always")
def _finish(cl, es, hk, i, r, t):
    """r generated its last token at the boundary at t: free its KV, release its closed-loop successor."""
    cl.req[r, RQ_STATE] = RS_DONE
    cl.reqf[r, RF_FINISH] = t
    cl.inst[i, IN_NRUN] -= 1
    cl.inst[i, IN_NDEC] -= 1
    cl.inst[i, IN_DEC_BASE] -= cl.req[r, RQ_PROMPT] - cl.req[r, RQ_JOIN]
    cl.inst[i, IN_NFINISH] += 1
    list_unlink(cl.inst[i], IN_RHEAD, IN_RTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    held = np.int64(cl.req[r, RQ_PROMPT]) + cl.req[r, RQ_OUTPUT]   # reserved; on demand: prompt + o - 1 steps
    set_kv(cl, i, cl.inst[i, IN_KV] - (held - 1 if cl.conf[C_RESERVE] == RESERVE_ON_DEMAND else held))
    hk.notify(cl, hk.policy_state, EV_FINISH, r, i, 0, t)
    mark_dirty(cl, i)
    s = cl.req[r, RQ_SUCC]
    if s >= 0 and cl.conf[C_CLOSED_LOOP] != 0:
        _rel_push(cl, es, t + cl.conff[CF_THINK], s)


@njit(cache=True, inline="always")
def _preempt_tail(cl, es, hk, i, s, t):
    """Preempt the most recently admitted request of i (vLLM recompute): free its KV, requeue it."""
    r = cl.inst[i, IN_RTAIL]
    if cl.req[r, RQ_STATE] == RS_DECODE:
        gen = s - cl.req[r, RQ_JOIN]
        freed = np.int64(cl.req[r, RQ_PROMPT]) + gen
        cl.inst[i, IN_NDEC] -= 1
        cl.inst[i, IN_DEC_BASE] -= cl.req[r, RQ_PROMPT] - cl.req[r, RQ_JOIN]
        _fin_remove(es, i, r)
        left = np.int64(cl.req[r, RQ_OUTPUT]) - 1 - gen
    else:
        gen = np.int64(cl.req[r, RQ_GENERATED])
        freed = np.int64(cl.req[r, RQ_KV])
        cl.inst[i, IN_NPF] -= 1
        if cl.inst[i, IN_NPF] == 0:
            cl.inst[i, IN_PFHEAD] = -1
        left = np.int64(cl.req[r, RQ_PREFILL_LEFT]) + cl.req[r, RQ_OUTPUT] - gen
    cl.req[r, RQ_GENERATED] = gen
    cl.req[r, RQ_NPREEMPT] += 1
    cl.req[r, RQ_FLAGS] |= FLAG_PREEMPTED
    cl.inst[i, IN_NRUN] -= 1
    cl.inst[i, IN_NPREEMPT] += 1
    list_unlink(cl.inst[i], IN_RHEAD, IN_RTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    set_kv(cl, i, cl.inst[i, IN_KV] - freed)
    cl.inst[i, IN_RUN_TOKENS] -= left
    hk.notify(cl, hk.policy_state, EV_PREEMPT, r, i, gen, t)
    if cl.inst[i, IN_STATUS] == ACTIVE:
        enqueue(cl, hk, r, i, t, True)
    else:
        cl.req[r, RQ_FLAGS] |= FLAG_REROUTED
        route(cl, hk, r, t)


@njit(cache=True, inline="always")
def _prefill_budget_left(cl, i, n_dec):
    """Chunked prefill: tokens of this iteration's budget not taken by decodes and ongoing prefills."""
    budget = cl.conf[C_CHUNK] - n_dec
    r = cl.inst[i, IN_PFHEAD]
    while r >= 0 and budget > 0:
        budget -= min(np.int64(cl.req[r, RQ_PREFILL_LEFT]), budget)
        r = cl.req[r, RQ_NEXT]
    return budget


@njit(cache=True, inline="always")
def admit_waiting(cl, hk, i, t):
    """Admission at a boundary: while a batch slot (and chunk budget) is free, ask the queue policy for the
    next waiting request and admit it if the KV cache has room, else stop (head-of-line blocking). On-demand room
    includes the next decode step of the running decodes and, when prefills run alone, of every admitted prefill
    too: else the newest request is preempted right after its prefill and readmitted while the decodes stall,
    forever. Returns the number admitted."""
    cap = cl.inst[i, IN_KVCAP]
    chunk = cl.conf[C_CHUNK]
    on_demand = cl.conf[C_RESERVE] == RESERVE_ON_DEMAND
    prefills_alone = cl.conf[C_ITERATION] == ITER_PREFILL_PRIORITY
    budget = _prefill_budget_left(cl, i, cl.inst[i, IN_NDEC]) if chunk > 0 else 1
    cl.inst[i, IN_DIRTY] = 0
    n = 0
    while cl.inst[i, IN_NRUN] < cl.conf[C_MAX_BATCH] and budget > 0:
        r = hk.select_next(cl, hk.policy_state, i, t)
        if r < 0:
            break
        if cl.req[r, RQ_STATE] != RS_WAITING or cl.req[r, RQ_INST] != i:
            raise ValueError("select_next returned a request that is not waiting on this instance")
        gen = np.int64(cl.req[r, RQ_GENERATED])
        prompt = np.int64(cl.req[r, RQ_PROMPT])
        if on_demand:
            need = prompt + gen
            step = cl.inst[i, IN_NDEC] + (cl.inst[i, IN_NPF] + 1 if prefills_alone else 0)
            room = cl.inst[i, IN_KV] + need + step <= cap
        else:
            need = prompt + cl.req[r, RQ_OUTPUT]
            room = cl.inst[i, IN_KV] + need <= cap
        if not room:
            break
        list_unlink(cl.inst[i], IN_QHEAD, IN_QTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
        cl.inst[i, IN_NWAIT] -= 1
        cl.inst[i, IN_WAIT_TOKENS] -= prompt + cl.req[r, RQ_OUTPUT]
        list_push_back(cl.inst[i], IN_RHEAD, IN_RTAIL, cl.req, RQ_NEXT, RQ_PREV, r)
        cl.inst[i, IN_NRUN] += 1
        cl.inst[i, IN_NPF] += 1
        if cl.inst[i, IN_PFHEAD] < 0:
            cl.inst[i, IN_PFHEAD] = r
        cl.req[r, RQ_STATE] = RS_PREFILL
        cl.req[r, RQ_KV] = need
        cl.req[r, RQ_PREFILL_LEFT] = prompt + gen
        set_kv(cl, i, cl.inst[i, IN_KV] + need)
        cl.inst[i, IN_RUN_TOKENS] += prompt + cl.req[r, RQ_OUTPUT]
        n += 1
        if math.isnan(cl.reqf[r, RF_ADMIT]):
            cl.reqf[r, RF_ADMIT] = t
        cl.inst[i, IN_NADMIT] += 1
        hk.notify(cl, hk.policy_state, EV_ADMIT, r, i, prompt + gen, t)
        if chunk > 0:
            budget -= min(prompt + gen, budget)
    return n


@njit(cache=True, inline="always")
def start_epoch(cl, i, s, t):
    """A new batch composition on instance i at boundary t (s decode steps done): record the epoch and
    take this iteration's prefill chunks. Returns the mode (idle, prefill iteration or decode epoch)."""
    m = cl.inst[i, IN_MODEL]
    cl.inst[i, IN_EP_S] = s
    cl.inst[i, IN_COMMIT_K] = 0
    cl.instf[i, IF_EP_T] = t
    cl.instf[i, IF_EP_END] = np.inf
    set_busy(cl, i, t)
    if cl.inst[i, IN_NRUN] == 0:
        cl.inst[i, IN_MODE] = MODE_IDLE
        cl.inst[i, IN_EP_B] = 0
        cl.inst[i, IN_EP_CTX] = 0
        cl.inst[i, IN_EP_PREFILL] = 0
        cl.instf[i, IF_EP_A] = 0.0
        return MODE_IDLE
    b = cl.inst[i, IN_NDEC]
    ctx = cl.inst[i, IN_DEC_BASE] + b * s
    if cl.conf[C_ITERATION] == ITER_PREFILL_PRIORITY and cl.inst[i, IN_NPF] > 0:
        b, ctx = 0, 0   # the prefills run alone, the decodes stall for this iteration
    cl.inst[i, IN_EP_B] = b
    cl.inst[i, IN_EP_CTX] = ctx
    a = step_seconds(cl.models, m, b, ctx) if b > 0 else 0.0
    cl.instf[i, IF_EP_A] = a
    chunk = cl.conf[C_CHUNK]
    budget = chunk - b
    total = np.int64(0)
    earlier = np.int64(0)
    r = cl.inst[i, IN_PFHEAD]
    while r >= 0:
        left = np.int64(cl.req[r, RQ_PREFILL_LEFT])
        c = left if chunk == 0 else min(left, max(budget, 0))
        if c <= 0:
            break
        earlier += c * (np.int64(cl.req[r, RQ_PROMPT]) + cl.req[r, RQ_GENERATED] - left)
        cl.req[r, RQ_PREFILL_LEFT] = left - c
        total += c
        budget -= c
        r = cl.req[r, RQ_NEXT]
    cl.inst[i, IN_EP_PREFILL] = total
    if total > 0:
        cl.inst[i, IN_MODE] = MODE_PREFILL
        cl.instf[i, IF_EP_END] = t + (prefill_seconds(cl.models, m, total, earlier) + a)
        return MODE_PREFILL
    cl.inst[i, IN_MODE] = MODE_DECODE
    return MODE_DECODE


@njit(cache=True, inline="always")
def _plan_decode(cl, es, i):
    """Next event of a decode epoch: the first finish, or the boundary where the next step would not fit."""
    k = np.int64(es.fin_key[es.fin[i, 0]]) - cl.inst[i, IN_EP_S]
    if cl.conf[C_RESERVE] == RESERVE_ON_DEMAND:
        k = min(k, cl.inst[i, IN_COMMIT_K] + (cl.inst[i, IN_KVCAP] - cl.inst[i, IN_KV]) // cl.inst[i, IN_EP_B])
    es.k_evt[i] = k
    set_event(es, i, boundary_time(cl, i, k))


@njit(cache=True)
def boundary(cl, es, hk, i, t):
    """Process instance i's event at iteration boundary t (see the semantics in repro.replay)."""
    mode = cl.inst[i, IN_MODE]
    on_demand = cl.conf[C_RESERVE] == RESERVE_ON_DEMAND
    changed = False
    if cl.inst[i, IN_STATUS] == SPINNING:
        activate(cl, i)
        retry_held(cl, hk, t)
    # 1. commit the decode steps made since the last event, then prefill completions
    b = cl.inst[i, IN_EP_B]
    if mode == MODE_PREFILL:
        s = cl.inst[i, IN_EP_S] + (1 if b > 0 else 0)
        set_kv(cl, i, cl.inst[i, IN_KV] + (b if on_demand else 0))
        cl.inst[i, IN_RUN_TOKENS] -= cl.inst[i, IN_EP_PREFILL] + b
        if b > 0:
            hk.notify(cl, hk.policy_state, EV_DECODE, -1, i, 1, t)
        r = cl.inst[i, IN_PFHEAD]
        while r >= 0 and cl.req[r, RQ_PREFILL_LEFT] == 0:
            nxt = cl.req[r, RQ_NEXT]
            _join_decode(cl, es, hk, i, r, s, t)
            r = nxt
        cl.inst[i, IN_PFHEAD] = r
        changed = True
    elif mode == MODE_DECODE:
        k = es.k_evt[i]
        s = cl.inst[i, IN_EP_S] + k
        steps = k - cl.inst[i, IN_COMMIT_K]
        set_kv(cl, i, cl.inst[i, IN_KV] + (b * steps if on_demand else 0))
        cl.inst[i, IN_RUN_TOKENS] -= b * steps
        cl.inst[i, IN_COMMIT_K] = k
        hk.notify(cl, hk.policy_state, EV_DECODE, -1, i, steps, t)
    else:
        s = cl.inst[i, IN_EP_S]
    # 2. finishes, in request order
    while es.fin_n[i] > 0 and es.fin_key[es.fin[i, 0]] <= s:
        r = es.fin[i, 0]
        _fin_remove(es, i, r)
        _finish(cl, es, hk, i, r, t)
        changed = True
    # 3. on-demand KV: preempt the newest requests until the next decode step fits
    if on_demand:
        while cl.inst[i, IN_KV] + cl.inst[i, IN_NDEC] > cl.inst[i, IN_KVCAP]:
            _preempt_tail(cl, es, hk, i, s, t)
            changed = True
    # 4. a draining instance goes off when its last request is done
    if cl.inst[i, IN_STATUS] == DRAINING and cl.inst[i, IN_NRUN] == 0:
        start_epoch(cl, i, s, t)
        turn_off(cl, i, t)
        set_event(es, i, np.inf)
        return
    # 5. admission
    if cl.inst[i, IN_STATUS] == ACTIVE and cl.inst[i, IN_DIRTY] != 0 and cl.inst[i, IN_NRUN] < cl.conf[C_MAX_BATCH]:
        if admit_waiting(cl, hk, i, t) > 0:
            changed = True
    # 6. next iteration
    if not changed and mode == MODE_DECODE:
        _plan_decode(cl, es, i)
        return
    new_mode = start_epoch(cl, i, s, t)
    if new_mode == MODE_IDLE:
        set_event(es, i, np.inf)
    elif new_mode == MODE_PREFILL:
        set_event(es, i, cl.instf[i, IF_EP_END])
    else:
        _plan_decode(cl, es, i)


@njit(cache=True)
def wake_dirty(cl, es):
    """Give every instance marked dirty an event at its first iteration boundary not yet passed: a boundary at
    exactly the current time counts if it comes after the current event in (time, kind, index) order."""
    t = cl.conff[CF_NOW]
    kind = cl.conf[C_CUR_KIND]
    cur = cl.conf[C_CUR_INDEX]
    for x in range(cl.conf[C_N_WOKEN]):
        i = cl.woken[x]
        if cl.inst[i, IN_DIRTY] == 0 or cl.inst[i, IN_STATUS] != ACTIVE or cl.inst[i, IN_NRUN] >= cl.conf[C_MAX_BATCH]:
            continue
        mode = cl.inst[i, IN_MODE]
        if mode == MODE_IDLE:
            if es.ev_time[i] > t:
                set_event(es, i, t)
        elif mode == MODE_DECODE:
            inclusive = kind == KIND_ARRIVAL or kind == KIND_TIMEOUT or (kind == KIND_INSTANCE and i > cur)
            k = first_step_reaching(cl, i, t, cl.inst[i, IN_COMMIT_K] + 1, inclusive)
            if k < es.k_evt[i]:
                es.k_evt[i] = k
                set_event(es, i, boundary_time(cl, i, k))
    cl.conf[C_N_WOKEN] = 0


# ================================================================== time series
@njit(cache=True)
def sample(cl, ts, row, tau):
    """Time-series row at tick tau: status, batch, waiting, KV in use and cumulative busy seconds."""
    for i in range(cl.conf[C_N_INST]):
        ts[row, i, TS_STATUS] = cl.inst[i, IN_STATUS]
        ts[row, i, TS_NRUN] = cl.inst[i, IN_NRUN]
        ts[row, i, TS_NWAIT] = cl.inst[i, IN_NWAIT]
        ts[row, i, TS_KV] = kv_used(cl, i, tau, True)
        since = cl.instf[i, IF_BUSY_SINCE]
        ts[row, i, TS_BUSY] = cl.instf[i, IF_BUSY] + (0.0 if math.isnan(since) else tau - since)


# ================================================================== the event loop
@njit(cache=True)
def advance(cl, es, ts, hk,
            t_end, tick0, resolution):
    """Process every event with time <= t_end, in (time, kind, index) order: arrivals (trace order, then
    released closed-loop calls, by request index), queue timeouts (in arrival order), instance boundaries
    (by instance), time-series ticks.
    Returns the number of events processed."""
    n_events = 0
    roots = es.roots
    n_roots = roots.shape[0]
    timeouts = cl.conff[CF_TIMEOUT] < np.inf
    to = np.inf
    ro = -1
    while True:
        ta = np.inf
        ra = -1
        from_rel = False
        p = es.ints[E_ROOT_PTR]
        if p < n_roots:
            ra = roots[p]
            ta = cl.reqf[ra, RF_ARRIVAL]
        if es.ints[E_REL_N] > 0:
            rr = es.rel_heap[0]
            tr = cl.reqf[rr, RF_ARRIVAL]
            if tr < ta or (tr == ta and rr < ra):
                ta = tr
                ra = rr
                from_rel = True
        ti = np.inf
        ii = -1
        if es.ints[E_EV_N] > 0:
            ii = es.ev_heap[0]
            ti = es.ev_time[ii]
        tt = np.inf
        if resolution > 0.0:
            tt = es.ints[E_NEXT_TICK] * resolution
        if timeouts:
            to, ro = next_timeout(cl, es)
        if ta <= ti and ta <= tt and ta <= to:
            if ta > t_end:
                break
            if from_rel:
                _rel_pop(cl, es)
            else:
                es.ints[E_ROOT_PTR] = p + 1
            cl.conff[CF_NOW] = ta
            cl.conf[C_CUR_KIND] = KIND_ARRIVAL
            cl.conf[C_CUR_INDEX] = ra
            if cl.req[ra, RQ_STATE] == 0:  # RS_PENDING; aborted calls are skipped
                arrive(cl, es, hk, ra, ta)
        elif to <= ti and to <= tt:
            if to > t_end:
                break
            cl.conff[CF_NOW] = to
            cl.conf[C_CUR_KIND] = KIND_TIMEOUT
            cl.conf[C_CUR_INDEX] = ro
            time_out(cl, es, hk, ro, to)
        elif ti <= tt:
            if ti > t_end:
                break
            cl.conff[CF_NOW] = ti
            cl.conf[C_CUR_KIND] = KIND_INSTANCE
            cl.conf[C_CUR_INDEX] = ii
            boundary(cl, es, hk, ii, ti)
        else:
            if tt > t_end:
                break
            sample(cl, ts, es.ints[E_NEXT_TICK] - tick0, tt)
            es.ints[E_NEXT_TICK] += 1
        if cl.conf[C_N_WOKEN] > 0:
            wake_dirty(cl, es)
        n_events += 1
    cl.conff[CF_NOW] = max(cl.conff[CF_NOW], t_end)
    cl.conf[C_CUR_KIND] = KIND_CONTROLLER
    cl.conf[C_CUR_INDEX] = 0
    return n_events


@njit(cache=True)
def drain(cl, es, hk, i, t):
    """Controller action: stop routing to instance i, reroute its waiting queue, let its batch finish, then off.
    A spinning-up instance is cancelled at once."""
    st = cl.inst[i, IN_STATUS]
    if st == OFF or st == DRAINING:
        return
    remove_member(cl, i)
    cl.instf[i, IF_T_DRAIN] = t
    cl.inst[i, IN_STATUS] = DRAINING
    reroute_waiting(cl, hk, i, t)
    if st == SPINNING or cl.inst[i, IN_NRUN] == 0:
        turn_off(cl, i, t)
        set_event(es, i, np.inf)
    elif cl.inst[i, IN_MODE] == MODE_DECODE:   # a pending wake-up for admission is void now
        _plan_decode(cl, es, i)
    if cl.conf[C_N_WOKEN] > 0:
        wake_dirty(cl, es)


@njit(cache=True)
def assign_held(cl, es, hk, r, i, t):
    """Controller action: route held request r to instance i."""
    if cl.req[r, RQ_STATE] != RS_HELD:
        raise ValueError("assign: the request is not in the hold queue")
    if not accepts(cl, i, cl.req[r, RQ_MODEL], cl.req[r, RQ_POOL]):
        raise ValueError("assign: the instance does not serve the request's model and pool or is not accepting")
    list_unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, cl.req, RQ_NEXT, RQ_PREV, r)
    cl.conf[C_N_HELD] -= 1
    enqueue(cl, hk, r, i, t, False)
    wake_dirty(cl, es)


@njit(cache=True)
def add_instance(cl, es, model, region, pool, t, delay, active):
    """Controller action: a new instance, active now or after ``delay`` seconds of spin-up."""
    i = new_instance(cl, model, region, pool, t, delay, active)
    es.fin_n[i] = 0
    es.k_evt[i] = 0
    es.ev_time[i] = np.inf
    es.ev_pos[i] = -1
    if not active:
        set_event(es, i, t + delay)
    return i


# ================================================================== compiled entry points
def _entry(dispatcher, *argtypes):
    """Compile ``dispatcher`` for exactly these argument types (plug-ins as first-class function types, so
    the machine code is cached once for all plug-ins) and return the compiled entry point. numba labels
    first-class function types "experimental" and warns at each compilation; that one warning is ignored
    here, for this compilation only (the module docstring says why the feature is used)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                                category=NumbaExperimentalFeatureWarning)
        dispatcher.compile(argtypes)
    return dispatcher.overloads[tuple(argtypes)].entry_point


_ENTRIES = {}


def entries() -> dict:
    """The engine's compiled entry points, compiled (or loaded from numba's cache) on first use."""
    if not _ENTRIES:
        proto = new_engine_state(1, 1, 1, np.zeros(0, np.int64), 0)
        es_type = EngineRefType([(name, numba.typeof(a)) for name, a in zip(ENGINE_FIELDS, proto)])
        ts_type = types.float64[:, :, ::1]
        _ENTRIES["advance"] = _entry(advance, CLUSTER_TYPE, es_type, ts_type, HOOKS_TYPE, types.float64,
                                     types.int64, types.float64)
        _ENTRIES["drain"] = _entry(drain, CLUSTER_TYPE, es_type, HOOKS_TYPE, types.int64, types.float64)
        _ENTRIES["assign_held"] = _entry(assign_held, CLUSTER_TYPE, es_type, HOOKS_TYPE, types.int64, types.int64,
                                         types.float64)
        _ENTRIES["add_instance"] = _entry(add_instance, CLUSTER_TYPE, es_type, types.int64, types.int64,
                                          types.int64, types.float64, types.float64, types.boolean)
    return _ENTRIES
