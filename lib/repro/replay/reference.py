"""Pure-Python reference of the replay engine (same semantics as :mod:`repro.replay.engine`, see
:mod:`repro.replay`), for the tests that hold the two equal and for the benchmark's baseline
(brief 01 §2 "Service model", brief 02 §2 "Server model", brief 03 §2 "Instance model").

Where the engine jumps from event to event with closed forms, a finish heap per instance and wake-up
arithmetic, this reference walks every iteration boundary of every instance in global (time, kind,
index) order (the earliest of each instance's next boundary, kept in a list), counts every generated
token of every request one by one, recomputes sums (context, outstanding tokens) from the requests,
and decides at each boundary from first principles whether something happens there. It also checks at
every boundary that KV in use stays within capacity and the batch within max_batch. It shares with the
engine only the layout of the observable state (so the same plug-ins run on both; they are called
through their pure-Python ``py_func``), the linked lists of :mod:`repro.core.njit_structs` (their ``py_func``;
tested on their own against a Python list) and the arithmetic of the service model (``state.prefill_seconds``,
``step_seconds``, ``decode_elapsed``), which defines the float values.
"""
from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from repro.core.njit_structs import list_push_back, list_push_front, list_unlink
from repro.replay.simulation import Simulation
from repro.replay.state import (
    ACTIVE, CF_NOW, CF_THINK, CF_TIMEOUT, C_CHUNK, C_CLOSED_LOOP, C_CUR_INDEX, C_CUR_KIND, C_HELD_HEAD, C_HELD_TAIL,
    C_ITERATION, C_MAX_BATCH, C_N_HELD, C_N_INST, C_RESERVE, DRAINING, EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_FINISH,
    EV_FIRST, EV_PREEMPT, EV_UNQUEUE, FLAG_ABORTED, FLAG_DROPPED, FLAG_HELD, FLAG_PREEMPTED, FLAG_REROUTED,
    FLAG_THROTTLED, FLAG_TIMED_OUT, G_CAP, G_KV, G_NACTIVE, G_NMEMBERS, IF_BUSY, IF_BUSY_SINCE, IF_EP_A, IF_EP_END,
    IF_EP_T, IF_T_DRAIN, IF_T_OFF, IF_T_READY, IF_T_REQUEST, IN_COMMIT_K, IN_DEC_BASE, IN_DIRTY, IN_EP_B, IN_EP_CTX,
    IN_EP_PREFILL, IN_EP_S, IN_GROUP, IN_KV, IN_KVCAP, IN_MEMBER_POS, IN_MODE, IN_MODEL, IN_NADMIT, IN_NDEC,
    IN_NFINISH, IN_NPF, IN_NPREEMPT, IN_NRUN, IN_NWAIT, IN_PFHEAD, IN_POOL, IN_QHEAD, IN_QTAIL, IN_REGION, IN_RHEAD,
    IN_RTAIL, IN_RUN_TOKENS, IN_STATUS, IN_WAIT_TOKENS, ITER_PREFILL_PRIORITY, KIND_ARRIVAL, KIND_CONTROLLER,
    KIND_INSTANCE, KIND_TIMEOUT, MODE_DECODE, MODE_IDLE, MODE_PREFILL, M_D2, M_KVCAP, OFF, RESERVE_ON_DEMAND,
    RF_ADMIT, RF_ARRIVAL, RF_FINISH, RF_FIRST, RQ_FLAGS, RQ_GENERATED, RQ_INST, RQ_JOIN, RQ_KV, RQ_MODEL, RQ_NEXT,
    RQ_NPREEMPT, RQ_OUTPUT, RQ_POOL, RQ_PREFILL_LEFT, RQ_PREV, RQ_PROMPT, RQ_REGION, RQ_STATE, RQ_SUCC, RQ_WORKLOAD,
    RS_DECODE, RS_DONE, RS_HELD, RS_PENDING, RS_PREFILL, RS_REJECTED, RS_WAITING, SPINNING, decode_elapsed,
    group_index, prefill_seconds, step_seconds,
)

_list_push_back, _list_push_front, _list_unlink = list_push_back.py_func, list_push_front.py_func, list_unlink.py_func
_prefill_seconds = prefill_seconds.py_func
_step_seconds = step_seconds.py_func
_decode_elapsed = decode_elapsed.py_func
_group_index = group_index.py_func


def _py(f):
    """The pure-Python body of an @njit plug-in (plain functions pass through)."""
    return getattr(f, "py_func", f)


class ReferenceSimulation(Simulation):
    """Same constructor and API as :class:`repro.replay.Simulation`; every iteration is simulated in Python."""

    # ------------------------------------------------------------------ backend
    def _init_backend(self, roots, n_succ, capacity, timeouts):
        self.roots = [int(r) for r in roots]
        self.root_ptr = 0
        self.released: list[tuple[float, int]] = []   # heap of (time, request)
        self.routed: deque[int] = deque()   # requests routed at arrival, in arrival order (queue timeouts)
        self.next_tick = 1
        self.steps: list[int] = []        # decode steps made by each instance
        self.epoch_k: list[int] = []      # decode steps made in the current decode epoch
        self.notified_k: list[int] = []   # of which already reported through EV_DECODE
        self.kv: list[int] = []           # KV tokens held (counted token by token)
        self.wake_at: list[float] = []    # idle instance marked dirty: boundary at this time
        self.next_t: list[float] = []     # next boundary of each instance (refreshed when the instance is touched)
        self.touched: set[int] = set()
        self.generated: dict[int, int] = {}   # decoding request -> output tokens so far
        qp, rt = self.queue_policy, self.router
        self.on_arrival, self.select_next, self.notify = _py(qp.on_arrival), _py(qp.select_next), _py(qp.notify)
        self.region_router, self.instance_router = _py(rt.region_router), _py(rt.instance_router)

    def _grow_backend(self, capacity):
        pass

    def _pending_events(self):
        self._refresh()
        return (self.root_ptr < len(self.roots) or bool(self.released) or min(self.next_t, default=math.inf) < math.inf
                or self._next_timeout()[0] < math.inf)

    def _kv_used_all(self, t):
        return np.array(self.kv, np.int64)

    # ------------------------------------------------------------------ lists
    def _push(self, heads, hcol, tcol, r, front=False):
        (_list_push_front if front else _list_push_back)(heads, hcol, tcol, self.cl.req, RQ_NEXT, RQ_PREV, r)

    def _unlink(self, heads, hcol, tcol, r):
        _list_unlink(heads, hcol, tcol, self.cl.req, RQ_NEXT, RQ_PREV, r)

    def _walk(self, r):
        out = []
        while r >= 0:
            out.append(r)
            r = int(self.cl.req[r, RQ_NEXT])
        return out

    def _running(self, i):
        return self._walk(int(self.cl.inst[i, IN_RHEAD]))

    # ------------------------------------------------------------------ requests
    def _mark_dirty(self, i):
        if self.cl.inst[i, IN_DIRTY] == 0:
            self.cl.inst[i, IN_DIRTY] = 1
            self.wake_at[i] = self.now
            self.touched.add(i)

    def _enqueue(self, r, i, t, front):
        cl = self.cl
        cl.req[r, RQ_STATE], cl.req[r, RQ_INST], cl.req[r, RQ_REGION] = RS_WAITING, i, cl.inst[i, IN_REGION]
        self._push(cl.inst[i], IN_QHEAD, IN_QTAIL, r, front)
        cl.inst[i, IN_NWAIT] += 1
        cl.inst[i, IN_WAIT_TOKENS] += int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_OUTPUT])
        self.notify(cl, self.queue_policy.state, EV_ENQUEUE, r, i, 1 if front else 0, t)
        self._mark_dirty(i)

    def _route(self, r, t):
        cl, rs = self.cl, self.router.state
        region = int(self.region_router(cl, rs, r, t))
        i = int(self.instance_router(cl, rs, r, region, t)) if region >= 0 else -1
        if i >= 0:
            st = cl.inst[i, IN_STATUS]
            if not (i < cl.conf[C_N_INST] and st in (SPINNING, ACTIVE) and cl.inst[i, IN_MODEL] == cl.req[r, RQ_MODEL]
                    and cl.inst[i, IN_POOL] == cl.req[r, RQ_POOL]):
                raise ValueError("instance_router returned an instance that does not serve the request's model "
                                 "and pool or is not accepting requests")
            self._enqueue(r, i, t, False)
        else:
            cl.req[r, RQ_STATE], cl.req[r, RQ_INST], cl.req[r, RQ_REGION] = RS_HELD, -1, -1
            cl.req[r, RQ_FLAGS] |= FLAG_HELD
            self._push(cl.conf, C_HELD_HEAD, C_HELD_TAIL, r)
            cl.conf[C_N_HELD] += 1
        return i

    def _retry_held(self, t):
        cl = self.cl
        held = self._walk(int(cl.conf[C_HELD_HEAD]))
        cl.conf[C_HELD_HEAD] = cl.conf[C_HELD_TAIL] = -1
        cl.conf[C_N_HELD] = 0
        for r in held:
            cl.req[r, RQ_NEXT] = cl.req[r, RQ_PREV] = -1
        still = []
        for r in held:
            cl.conf[C_HELD_HEAD] = cl.conf[C_HELD_TAIL] = -1   # route() appends to an empty list...
            if self._route(r, t) < 0:
                still.append(r)
        cl.conf[C_HELD_HEAD] = cl.conf[C_HELD_TAIL] = -1        # ...rebuilt here in the original order
        cl.conf[C_N_HELD] = 0
        for r in still:
            self._push(cl.conf, C_HELD_HEAD, C_HELD_TAIL, r)
            cl.conf[C_N_HELD] += 1

    def _reject(self, r, flag):
        cl = self.cl
        cl.req[r, RQ_STATE] = RS_REJECTED
        cl.req[r, RQ_FLAGS] |= flag
        s = int(cl.req[r, RQ_SUCC])
        while s >= 0:
            cl.req[s, RQ_STATE] = RS_REJECTED
            cl.req[s, RQ_FLAGS] |= FLAG_ABORTED
            s = int(cl.req[s, RQ_SUCC])

    def _arrive(self, r, t):
        cl = self.cl
        m, home, w = int(cl.req[r, RQ_MODEL]), int(cl.prio[r, 0]), int(cl.req[r, RQ_WORKLOAD])
        prompt, output = int(cl.req[r, RQ_PROMPT]), int(cl.req[r, RQ_OUTPUT])
        cl.reqf[r, RF_ARRIVAL] = t
        cl.window[m, home, w] += (1, prompt, output)
        if prompt + output > cl.models[m, M_KVCAP]:
            self._reject(r, FLAG_DROPPED)
        elif self.on_arrival(cl, self.queue_policy.state, r, t) != 0:
            self._reject(r, FLAG_THROTTLED)
        else:
            self._route(r, t)
            if cl.conff[CF_TIMEOUT] < math.inf:
                self.routed.append(r)

    def _next_timeout(self):
        """(arrival + timeout, request) of the earliest routed request never admitted and still waiting or held."""
        cl = self.cl
        while self.routed:
            r = self.routed[0]
            if cl.req[r, RQ_STATE] in (RS_WAITING, RS_HELD) and math.isnan(cl.reqf[r, RF_ADMIT]):
                return float(cl.reqf[r, RF_ARRIVAL] + cl.conff[CF_TIMEOUT]), r
            self.routed.popleft()
        return math.inf, -1

    def _time_out(self, r, t):
        cl = self.cl
        self.routed.popleft()
        if cl.req[r, RQ_STATE] == RS_WAITING:
            i = int(cl.req[r, RQ_INST])
            self._unlink(cl.inst[i], IN_QHEAD, IN_QTAIL, r)
            cl.inst[i, IN_NWAIT] -= 1
            cl.inst[i, IN_WAIT_TOKENS] -= int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_OUTPUT])
            self.notify(cl, self.queue_policy.state, EV_UNQUEUE, r, i, 0, t)
            self._mark_dirty(i)
        else:
            self._unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, r)
            cl.conf[C_N_HELD] -= 1
        self._reject(r, FLAG_TIMED_OUT)

    # ------------------------------------------------------------------ instances
    def _add(self, model, region, pool, t, delay, active):
        cl = self.cl
        if cl.conf[C_N_INST] >= cl.inst.shape[0]:
            self._grow(2 * cl.inst.shape[0])
            cl = self.cl
        i = int(cl.conf[C_N_INST])
        cl.conf[C_N_INST] += 1
        g = int(_group_index(cl, model, region, pool))
        cl.inst[i] = 0
        cl.inst[i, [IN_MODEL, IN_REGION, IN_POOL, IN_GROUP]] = model, region, pool, g
        cl.inst[i, [IN_QHEAD, IN_QTAIL, IN_RHEAD, IN_RTAIL, IN_PFHEAD]] = -1
        cl.inst[i, IN_STATUS], cl.inst[i, IN_MODE] = SPINNING, MODE_IDLE
        cl.inst[i, IN_KVCAP] = int(cl.models[model, M_KVCAP])
        cl.instf[i] = np.nan
        cl.instf[i, [IF_T_REQUEST, IF_T_READY, IF_T_DRAIN, IF_T_OFF, IF_EP_T, IF_EP_A, IF_EP_END, IF_BUSY]] = (
            t, t + delay, np.inf, np.inf, t, 0.0, np.inf, 0.0)
        n = int(cl.group[g, G_NMEMBERS])
        cl.members[g, n] = i
        cl.group[g, G_NMEMBERS] = n + 1
        cl.inst[i, IN_MEMBER_POS] = n
        self.steps.append(0)
        self.epoch_k.append(0)
        self.notified_k.append(0)
        self.kv.append(0)
        self.wake_at.append(math.inf)
        self.next_t.append(math.inf)
        self.touched.add(i)
        if active:
            self._activate(i)
        return i

    def _activate(self, i):
        cl = self.cl
        cl.inst[i, IN_STATUS] = ACTIVE
        g = cl.inst[i, IN_GROUP]
        cl.group[g, G_NACTIVE] += 1
        cl.group[g, G_CAP] += cl.inst[i, IN_KVCAP]
        cl.group[g, G_KV] += cl.inst[i, IN_KV]

    def _drain(self, i, t):
        cl = self.cl
        st = int(cl.inst[i, IN_STATUS])
        if st in (OFF, DRAINING):
            return
        g = int(cl.inst[i, IN_GROUP])
        mem = [int(x) for x in cl.members[g, :cl.group[g, G_NMEMBERS]] if x != i]
        cl.members[g, :] = -1
        cl.members[g, :len(mem)] = mem
        for pos, j in enumerate(mem):
            cl.inst[j, IN_MEMBER_POS] = pos
        cl.group[g, G_NMEMBERS] = len(mem)
        cl.inst[i, IN_MEMBER_POS] = -1
        if st == ACTIVE:
            cl.group[g, G_NACTIVE] -= 1
            cl.group[g, G_CAP] -= cl.inst[i, IN_KVCAP]
            cl.group[g, G_KV] -= cl.inst[i, IN_KV]
        cl.instf[i, IF_T_DRAIN] = t
        cl.inst[i, IN_STATUS] = DRAINING
        self.touched.add(i)
        self._reroute_waiting(i, t)
        if st == SPINNING or cl.inst[i, IN_NRUN] == 0:
            self._turn_off(i, t)

    def _turn_off(self, i, t):
        self.cl.inst[i, IN_STATUS] = OFF
        self.cl.instf[i, IF_T_OFF] = t
        self.cl.inst[i, IN_MODE] = MODE_IDLE

    def _reroute_waiting(self, i, t):
        cl = self.cl
        for r in self._walk(int(cl.inst[i, IN_QHEAD])):
            self._unlink(cl.inst[i], IN_QHEAD, IN_QTAIL, r)
            cl.inst[i, IN_NWAIT] -= 1
            cl.inst[i, IN_WAIT_TOKENS] -= int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_OUTPUT])
            self.notify(cl, self.queue_policy.state, EV_UNQUEUE, r, i, 0, t)
            cl.req[r, RQ_FLAGS] |= FLAG_REROUTED
            self._route(r, t)

    def _assign(self, r, i, t):
        cl = self.cl
        if cl.req[r, RQ_STATE] != RS_HELD:
            raise ValueError("assign: the request is not in the hold queue")
        if not (cl.inst[i, IN_STATUS] in (SPINNING, ACTIVE) and cl.inst[i, IN_MODEL] == cl.req[r, RQ_MODEL]
                and cl.inst[i, IN_POOL] == cl.req[r, RQ_POOL]):
            raise ValueError("assign: the instance does not serve the request's model and pool or is not accepting")
        self._unlink(cl.conf, C_HELD_HEAD, C_HELD_TAIL, r)
        cl.conf[C_N_HELD] -= 1
        self._enqueue(r, i, t, False)

    # ------------------------------------------------------------------ time
    def _boundary_time(self, i, k):
        cl = self.cl
        return cl.instf[i, IF_EP_T] + _decode_elapsed(cl.instf[i, IF_EP_A], cl.models[cl.inst[i, IN_MODEL], M_D2],
                                                      int(cl.inst[i, IN_EP_B]), k)

    def _next_boundary(self, i):
        cl = self.cl
        st, mode = cl.inst[i, IN_STATUS], cl.inst[i, IN_MODE]
        if st == OFF:
            return math.inf
        if st == SPINNING:
            return float(cl.instf[i, IF_T_READY])
        if mode == MODE_PREFILL:
            return float(cl.instf[i, IF_EP_END])
        if mode == MODE_DECODE:
            return float(self._boundary_time(i, self.epoch_k[i] + 1))
        return self.wake_at[i] if cl.inst[i, IN_DIRTY] and st == ACTIVE else math.inf

    def _advance(self, t_end, ts, tick0):
        cl = self.cl
        res = self.resolution
        while True:
            ta, ra = math.inf, -1
            from_rel = False
            if self.root_ptr < len(self.roots):
                ra = self.roots[self.root_ptr]
                ta = float(cl.reqf[ra, RF_ARRIVAL])
            if self.released and (self.released[0][0], self.released[0][1]) < (ta, ra if ra >= 0 else math.inf):
                ta, ra = self.released[0]
                from_rel = True
            self._refresh()
            ti = min(self.next_t, default=math.inf)
            ii = self.next_t.index(ti) if ti < math.inf else -1
            tt = self.next_tick * res if res > 0 else math.inf
            to, ro = self._next_timeout()
            if ta <= ti and ta <= tt and ta <= to:
                if ta > t_end:
                    break
                if from_rel:
                    heapq.heappop(self.released)
                else:
                    self.root_ptr += 1
                cl.conff[CF_NOW] = ta
                cl.conf[C_CUR_KIND], cl.conf[C_CUR_INDEX] = KIND_ARRIVAL, ra
                if cl.req[ra, RQ_STATE] == RS_PENDING:
                    self._arrive(ra, ta)
            elif to <= ti and to <= tt:
                if to > t_end:
                    break
                cl.conff[CF_NOW] = to
                cl.conf[C_CUR_KIND], cl.conf[C_CUR_INDEX] = KIND_TIMEOUT, ro
                self._time_out(ro, to)
            elif ti <= tt:
                if ti > t_end:
                    break
                cl.conff[CF_NOW] = ti
                cl.conf[C_CUR_KIND], cl.conf[C_CUR_INDEX] = KIND_INSTANCE, ii
                self._step(ii, ti)
            else:
                if tt > t_end:
                    break
                self._sample(ts, self.next_tick - tick0, tt)
                self.next_tick += 1
        cl.conff[CF_NOW] = max(cl.conff[CF_NOW], t_end)
        cl.conf[C_CUR_KIND], cl.conf[C_CUR_INDEX] = KIND_CONTROLLER, 0

    def _sample(self, ts, row, tau):
        cl = self.cl
        for i in range(self.n_instances):
            since = cl.instf[i, IF_BUSY_SINCE]
            ts[row, i] = (cl.inst[i, IN_STATUS], cl.inst[i, IN_NRUN], cl.inst[i, IN_NWAIT], self.kv[i],
                          cl.instf[i, IF_BUSY] + (0.0 if math.isnan(since) else tau - since))

    # ------------------------------------------------------------------ one iteration boundary
    def _remaining_tokens(self, i):
        """Prompt (still to prefill) + output tokens still to generate over i's admitted requests."""
        cl = self.cl
        total = 0
        for r in self._running(i):
            if cl.req[r, RQ_STATE] == RS_DECODE:   # o - 1 decode steps after the prefill
                total += int(cl.req[r, RQ_OUTPUT]) - 1 - self.generated[r]
            else:
                total += int(cl.req[r, RQ_PREFILL_LEFT]) + int(cl.req[r, RQ_OUTPUT]) - int(cl.req[r, RQ_GENERATED])
        return total

    def _write_through(self, i):
        """Publish i's exact KV use and outstanding tokens (the observable state as of this event)."""
        cl = self.cl
        if cl.inst[i, IN_STATUS] == ACTIVE:
            cl.group[cl.inst[i, IN_GROUP], G_KV] += self.kv[i] - cl.inst[i, IN_KV]
        cl.inst[i, IN_KV] = self.kv[i]
        cl.inst[i, IN_RUN_TOKENS] = self._remaining_tokens(i)

    def _refresh(self):
        for i in self.touched:
            self.next_t[i] = self._next_boundary(i)
        self.touched.clear()

    def _step(self, i, t):
        self.touched.add(i)
        self._boundary(i, t)
        row = self.cl.inst[i]
        if not (0 <= self.kv[i] <= row[IN_KVCAP] and row[IN_NRUN] <= self.cl.conf[C_MAX_BATCH]):
            raise AssertionError(f"instance {i} at t={t}: KV {self.kv[i]} of {row[IN_KVCAP]}, batch {row[IN_NRUN]}")

    def _boundary(self, i, t):
        """Instance i reaches an iteration boundary at t: account the iteration that just ended, then decide
        whether anything happens here."""
        cl = self.cl
        row = cl.inst[i]
        on_demand = cl.conf[C_RESERVE] == RESERVE_ON_DEMAND
        qs = self.queue_policy.state
        mode = int(row[IN_MODE])
        decoding = [r for r in self._running(i) if cl.req[r, RQ_STATE] == RS_DECODE]
        was_dirty = bool(row[IN_DIRTY]) and row[IN_STATUS] == ACTIVE and row[IN_NRUN] < cl.conf[C_MAX_BATCH]
        if row[IN_STATUS] == SPINNING:
            self._activate(i)
            self._retry_held(t)
        event = mode != MODE_DECODE or was_dirty
        stalled = mode == MODE_PREFILL and row[IN_EP_B] == 0   # prefill priority: the decodes waited
        if mode in (MODE_PREFILL, MODE_DECODE) and decoding and not stalled:   # one step for every decoding request
            self.steps[i] += 1
            for r in decoding:
                self.generated[r] += 1
            if on_demand:
                self.kv[i] += len(decoding)
        s = self.steps[i]
        finishing = self._finishing(decoding)
        n_dec_after = len(decoding) - len(finishing)
        if mode == MODE_DECODE:
            self.epoch_k[i] += 1
            freed = sum(self._kv_of_finished(r) for r in finishing)
            event = event or bool(finishing) or (on_demand and self.kv[i] - freed + n_dec_after > row[IN_KVCAP])
            if not event:
                return
            k = self.epoch_k[i] - self.notified_k[i]
            self.notified_k[i] = row[IN_COMMIT_K] = self.epoch_k[i]
            self._write_through(i)
            self.notify(cl, qs, EV_DECODE, -1, i, k, t)
        elif mode == MODE_PREFILL:
            self._write_through(i)
            if decoding and not stalled:
                self.notify(cl, qs, EV_DECODE, -1, i, 1, t)
            for r in self._running(i):
                if cl.req[r, RQ_STATE] == RS_PREFILL and cl.req[r, RQ_PREFILL_LEFT] == 0:
                    self._join(i, r, s, t)
            # a request of output 1 finishes with its prefill (it needs no decode step)
            finishing = self._finishing([r for r in self._running(i) if cl.req[r, RQ_STATE] == RS_DECODE])
        changed = mode == MODE_PREFILL
        for r in finishing:
            self._finish(i, r, t)
            changed = True
        if on_demand:
            while self.kv[i] + row[IN_NDEC] > row[IN_KVCAP]:
                self._preempt_newest(i, s, t)
                changed = True
        if row[IN_STATUS] == DRAINING and row[IN_NRUN] == 0:
            self._start_epoch(i, t)
            self._turn_off(i, t)
            return
        if row[IN_STATUS] == ACTIVE and row[IN_DIRTY] and row[IN_NRUN] < cl.conf[C_MAX_BATCH]:
            changed = self._admit(i, t) > 0 or changed
        if changed or mode != MODE_DECODE:
            self._start_epoch(i, t)

    def _finishing(self, decoding):
        """The decoding requests that have made their o - 1 decode steps, in request order."""
        return sorted(r for r in decoding if self.generated[r] == self.cl.req[r, RQ_OUTPUT] - 1)

    def _kv_of_finished(self, r):
        """KV tokens a finished request frees: its reservation, or on demand prompt + its o - 1 decode steps."""
        cl = self.cl
        held = int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_OUTPUT])
        return held - 1 if cl.conf[C_RESERVE] == RESERVE_ON_DEMAND else held

    def _join(self, i, r, s, t):
        cl = self.cl
        cl.req[r, RQ_STATE] = RS_DECODE
        first = math.isnan(cl.reqf[r, RF_FIRST])
        if first:
            cl.reqf[r, RF_FIRST] = t
        gen = int(cl.req[r, RQ_GENERATED])
        cl.req[r, RQ_JOIN] = s - gen
        self.generated[r] = gen
        cl.inst[i, IN_NDEC] += 1
        cl.inst[i, IN_NPF] -= 1
        cl.inst[i, IN_DEC_BASE] += int(cl.req[r, RQ_PROMPT]) - (s - gen)
        nxt = int(cl.req[r, RQ_NEXT])
        cl.inst[i, IN_PFHEAD] = nxt if cl.inst[i, IN_NPF] > 0 else -1
        self._mark_dirty(i)
        self._write_through(i)
        if first:
            self.notify(cl, self.queue_policy.state, EV_FIRST, r, i, 1, t)

    def _finish(self, i, r, t):
        cl = self.cl
        cl.req[r, RQ_STATE] = RS_DONE
        cl.reqf[r, RF_FINISH] = t
        row = cl.inst[i]
        row[IN_NRUN] -= 1
        row[IN_NDEC] -= 1
        row[IN_DEC_BASE] -= int(cl.req[r, RQ_PROMPT]) - int(cl.req[r, RQ_JOIN])
        row[IN_NFINISH] += 1
        self._unlink(row, IN_RHEAD, IN_RTAIL, r)
        self.kv[i] -= self._kv_of_finished(r)
        del self.generated[r]
        self._write_through(i)
        self.notify(cl, self.queue_policy.state, EV_FINISH, r, i, 0, t)
        self._mark_dirty(i)
        s = int(cl.req[r, RQ_SUCC])
        if s >= 0 and cl.conf[C_CLOSED_LOOP]:
            tr = t + cl.conff[CF_THINK]
            cl.reqf[s, RF_ARRIVAL] = tr
            heapq.heappush(self.released, (tr, s))

    def _preempt_newest(self, i, s, t):
        cl = self.cl
        row = cl.inst[i]
        r = int(row[IN_RTAIL])
        if cl.req[r, RQ_STATE] == RS_DECODE:
            gen = self.generated.pop(r)
            self.kv[i] -= int(cl.req[r, RQ_PROMPT]) + gen
            row[IN_NDEC] -= 1
            row[IN_DEC_BASE] -= int(cl.req[r, RQ_PROMPT]) - int(cl.req[r, RQ_JOIN])
        else:
            gen = int(cl.req[r, RQ_GENERATED])
            self.kv[i] -= int(cl.req[r, RQ_KV])
            row[IN_NPF] -= 1
            if row[IN_NPF] == 0:
                row[IN_PFHEAD] = -1
        cl.req[r, RQ_GENERATED] = gen
        cl.req[r, RQ_NPREEMPT] += 1
        cl.req[r, RQ_FLAGS] |= FLAG_PREEMPTED
        row[IN_NRUN] -= 1
        row[IN_NPREEMPT] += 1
        self._unlink(row, IN_RHEAD, IN_RTAIL, r)
        self._write_through(i)
        self.notify(cl, self.queue_policy.state, EV_PREEMPT, r, i, gen, t)
        if row[IN_STATUS] == ACTIVE:
            self._enqueue(r, i, t, True)
        else:
            cl.req[r, RQ_FLAGS] |= FLAG_REROUTED
            self._route(r, t)

    def _admit(self, i, t):
        cl = self.cl
        row = cl.inst[i]
        chunk = int(cl.conf[C_CHUNK])
        on_demand = cl.conf[C_RESERVE] == RESERVE_ON_DEMAND
        prefills_alone = cl.conf[C_ITERATION] == ITER_PREFILL_PRIORITY
        budget = 1
        if chunk > 0:
            budget = chunk - int(row[IN_NDEC])
            for r in self._running(i):
                if cl.req[r, RQ_STATE] == RS_PREFILL and budget > 0:
                    budget -= min(int(cl.req[r, RQ_PREFILL_LEFT]), budget)
        row[IN_DIRTY] = 0
        self.wake_at[i] = math.inf
        n = 0
        while row[IN_NRUN] < cl.conf[C_MAX_BATCH] and budget > 0:
            r = int(self.select_next(cl, self.queue_policy.state, i, t))
            if r < 0:
                break
            if cl.req[r, RQ_STATE] != RS_WAITING or cl.req[r, RQ_INST] != i:
                raise ValueError("select_next returned a request that is not waiting on this instance")
            prompt, output, gen = int(cl.req[r, RQ_PROMPT]), int(cl.req[r, RQ_OUTPUT]), int(cl.req[r, RQ_GENERATED])
            need = prompt + gen if on_demand else prompt + output
            step = int(row[IN_NDEC]) + (int(row[IN_NPF]) + 1 if prefills_alone else 0)
            if self.kv[i] + need + (step if on_demand else 0) > row[IN_KVCAP]:
                break
            self._unlink(row, IN_QHEAD, IN_QTAIL, r)
            row[IN_NWAIT] -= 1
            row[IN_WAIT_TOKENS] -= prompt + output
            self._push(row, IN_RHEAD, IN_RTAIL, r)
            row[IN_NRUN] += 1
            row[IN_NPF] += 1
            if row[IN_PFHEAD] < 0:
                row[IN_PFHEAD] = r
            cl.req[r, RQ_STATE] = RS_PREFILL
            cl.req[r, RQ_KV] = need
            cl.req[r, RQ_PREFILL_LEFT] = prompt + gen
            self.kv[i] += need
            if math.isnan(cl.reqf[r, RF_ADMIT]):
                cl.reqf[r, RF_ADMIT] = t
            row[IN_NADMIT] += 1
            n += 1
            self._write_through(i)
            self.notify(cl, self.queue_policy.state, EV_ADMIT, r, i, prompt + gen, t)
            if chunk > 0:
                budget -= min(prompt + gen, budget)
        return n

    def _start_epoch(self, i, t):
        """The batch of i changed at t: record the new epoch and this iteration's prefill chunks."""
        cl = self.cl
        row, f = cl.inst[i], cl.instf[i]
        m = int(row[IN_MODEL])
        running = self._running(i)
        decoding = [r for r in running if cl.req[r, RQ_STATE] == RS_DECODE]
        self._write_through(i)
        row[IN_EP_S] = self.steps[i]
        row[IN_COMMIT_K] = 0
        f[IF_EP_T], f[IF_EP_END] = t, np.inf
        busy, since = len(running) > 0, f[IF_BUSY_SINCE]
        if busy and math.isnan(since):
            f[IF_BUSY_SINCE] = t
        elif not busy and not math.isnan(since):
            f[IF_BUSY] += t - since
            f[IF_BUSY_SINCE] = np.nan
        self.epoch_k[i] = self.notified_k[i] = 0
        if not running:
            row[IN_MODE], row[IN_EP_B], row[IN_EP_CTX], row[IN_EP_PREFILL] = MODE_IDLE, 0, 0, 0
            f[IF_EP_A] = 0.0
            return
        b = len(decoding)
        ctx = sum(int(cl.req[r, RQ_PROMPT]) + self.generated[r] for r in decoding)
        if cl.conf[C_ITERATION] == ITER_PREFILL_PRIORITY and b < len(running):
            b, ctx = 0, 0   # the prefills run alone, the decodes stall for this iteration
        row[IN_EP_B], row[IN_EP_CTX] = b, ctx
        a = _step_seconds(cl.models, m, b, ctx) if b > 0 else 0.0
        f[IF_EP_A] = a
        chunk = int(cl.conf[C_CHUNK])
        budget = chunk - b
        total = earlier = 0
        for r in running:
            if cl.req[r, RQ_STATE] != RS_PREFILL:
                continue
            left = int(cl.req[r, RQ_PREFILL_LEFT])
            c = left if chunk == 0 else min(left, max(budget, 0))
            if c <= 0:
                break
            earlier += c * (int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_GENERATED]) - left)
            cl.req[r, RQ_PREFILL_LEFT] = left - c
            total += c
            budget -= c
        row[IN_EP_PREFILL] = total
        if total > 0:
            row[IN_MODE] = MODE_PREFILL
            f[IF_EP_END] = t + (_prefill_seconds(cl.models, m, total, earlier) + a)
        else:
            row[IN_MODE] = MODE_DECODE
