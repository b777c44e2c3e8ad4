"""Plain-Python twin of the FairServe/VTC queue policy of :mod:`repro.fairness.policy` (brief 02 §2), for the tests
that hold the numba counters equal to it and for the benchmark's baseline.

It keeps its state in Python containers (a deque per tenant and class, a deque for the sliding window, dicts of
window sums) and finds the next tenant by scanning every tenant; only the counters W_u live in the policy state
the engine passes to the hooks (its F_COUNTER column), so :func:`repro.fairness.policy.counters` reads both
implementations.
The arithmetic of every charge is written in the same order as in the kernel, so counters agree exactly.
"""
from __future__ import annotations

import copy
import math
from collections import defaultdict, deque

from repro.fairness.policy import (
    A_LIMIT, A_SYSTEM, A_WEIGHT, F_COUNTER, F_LIMIT, P_ALPHA, P_BETA, P_GAMMA, P_HOL_DELAY, P_KV_FRAC, P_N_TENANTS,
    P_PRIORITY, P_RPM, P_SELECT, P_THROTTLE, P_WINDOW, SELECT_FIFO, THROTTLE_NONE, THROTTLE_RPM,
)
from repro.replay.policies import QueuePolicy
from repro.replay.state import (
    ACTIVE, C_N_INST, EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_FIRST, EV_UNQUEUE, IN_KVCAP, IN_QHEAD, IN_RHEAD, IN_STATUS,
    RF_ARRIVAL, RQ_APP, RQ_NEXT, RQ_OUTPUT, RQ_PROMPT, RQ_STATE, RQ_STEP, RQ_TENANT, RS_DECODE, kv_used,
)


class ReferencePolicy:
    """The policy described in :mod:`repro.fairness.policy`, step by step in Python."""

    def __init__(self, state):
        p = state.p
        self.nt = int(p[P_N_TENANTS])
        self.fifo = p[P_SELECT] == SELECT_FIFO
        self.priority = p[P_PRIORITY] != 0.0
        self.alpha, self.beta, self.gamma = float(p[P_ALPHA]), float(p[P_BETA]), float(p[P_GAMMA])
        self.throttle, self.rpm, self.window = p[P_THROTTLE], float(p[P_RPM]), float(p[P_WINDOW])
        self.hol_delay, self.kv_frac = float(p[P_HOL_DELAY]), float(p[P_KV_FRAC])
        self.user_limit = [float(x) for x in state.f1[:, F_LIMIT]]
        self.app_limit = [float(x) for x in state.f2[:, A_LIMIT]]
        self.weight = [float(x) for x in state.f2[:, A_WEIGHT]]
        self.system = [float(x) for x in state.f2[:, A_SYSTEM]]
        self.queues = (defaultdict(deque), defaultdict(deque))    # class -> tenant -> waiting requests
        self.n_wait = defaultdict(int)
        self.last_left = -1                                       # tenant whose queue emptied last
        self.accepted = deque()                                   # requests in the sliding window
        self.user_count, self.user_tokens = defaultdict(int), defaultdict(int)
        self.app_tokens = defaultdict(int)

    # ------------------------------------------------------------------ hooks
    def select_next(self, cl, plug, i, t):
        if cl.conf[C_N_INST] != 1:
            raise ValueError("repro.fairness policies drive one instance (brief 02 §2): the cluster has more")
        if self.fifo:
            return int(cl.inst[i, IN_QHEAD])
        c = 0 if any(self.queues[0].values()) else 1
        heads = [(float(plug.f1[u, F_COUNTER]), q[0]) for u, q in self.queues[c].items() if q]
        return min(heads)[1] if heads else -1

    def notify(self, cl, plug, event, r, i, k, t):
        if self.fifo:
            return 0
        if event == EV_ENQUEUE:
            u = int(cl.req[r, RQ_TENANT])
            if self.n_wait[u] == 0:   # lift: smallest backlogged counter, else the last tenant to leave
                low = min((float(plug.f1[v, F_COUNTER]) for v, n in self.n_wait.items() if n > 0), default=math.inf)
                if low == math.inf:
                    low = float(plug.f1[self.last_left, F_COUNTER]) if self.last_left >= 0 else -math.inf
                if low > plug.f1[u, F_COUNTER]:
                    plug.f1[u, F_COUNTER] = low
            q = self.queues[self._class(cl, r)][u]
            q.appendleft(r) if k == 1 else q.append(r)
            self.n_wait[u] += 1
        elif event in (EV_UNQUEUE, EV_ADMIT):
            u = int(cl.req[r, RQ_TENANT])
            self.queues[self._class(cl, r)][u].remove(r)
            self.n_wait[u] -= 1
            if self.n_wait[u] == 0:
                self.last_left = u
            if event == EV_ADMIT:
                a = int(cl.req[r, RQ_APP])
                s = min(self.system[a], float(k))
                plug.f1[u, F_COUNTER] += (self.alpha * (k - s) + self.beta * s) / self.weight[a]
        elif event == EV_FIRST:
            plug.f1[int(cl.req[r, RQ_TENANT]), F_COUNTER] += self.gamma * k / self.weight[int(cl.req[r, RQ_APP])]
        elif event == EV_DECODE:
            x = int(cl.inst[i, IN_RHEAD])
            while x >= 0:
                if cl.req[x, RQ_STATE] == RS_DECODE:
                    plug.f1[int(cl.req[x, RQ_TENANT]), F_COUNTER] += self.gamma * k / self.weight[int(cl.req[x, RQ_APP])]
                x = int(cl.req[x, RQ_NEXT])
        return 0

    def on_arrival(self, cl, plug, r, t):
        if self.throttle == THROTTLE_NONE:
            return 0
        while self.accepted and t - cl.reqf[self.accepted[0], RF_ARRIVAL] >= self.window:
            self._count(cl, self.accepted.popleft(), -1)
        u, a = int(cl.req[r, RQ_TENANT]), int(cl.req[r, RQ_APP])
        if self.throttle == THROTTLE_RPM:
            if self.user_count[u] >= self.rpm:
                return 1
        elif cl.req[r, RQ_STEP] == 0:
            over = self.user_tokens[u] > self.user_limit[u] or self.app_tokens[a] > self.app_limit[a]
            if over and self._overloaded(cl, t):
                return 1
        self.accepted.append(r)
        self._count(cl, r, 1)
        return 0

    # ------------------------------------------------------------------ helpers
    def _class(self, cl, r):
        return 0 if self.priority and cl.req[r, RQ_STEP] >= 1 else 1

    def _count(self, cl, r, sign):
        tokens = int(cl.req[r, RQ_PROMPT]) + int(cl.req[r, RQ_OUTPUT])
        u, a = int(cl.req[r, RQ_TENANT]), int(cl.req[r, RQ_APP])
        self.user_count[u] += sign
        self.user_tokens[u] += sign * tokens
        self.app_tokens[a] += sign * tokens

    def _overloaded(self, cl, t):
        used = cap = 0
        for i in range(int(cl.conf[C_N_INST])):
            if cl.inst[i, IN_STATUS] != ACTIVE:
                continue
            h = int(cl.inst[i, IN_QHEAD])
            if h >= 0 and t - cl.reqf[h, RF_ARRIVAL] > self.hol_delay:
                return True
            used += int(kv_used(cl, i, t, False))
            cap += int(cl.inst[i, IN_KVCAP])
        return cap > 0 and used > self.kv_frac * cap


def reference_policy(policy: QueuePolicy) -> QueuePolicy:
    """The plain-Python twin of a fresh policy made by :func:`repro.fairness.policy.counter_policy`
    (it copies the parameters and limits from the policy's state; its counters live in the state the engine
passes to the hooks)."""
    ref = ReferencePolicy(policy.state)
    return QueuePolicy(ref.on_arrival, ref.select_next, ref.notify, copy.deepcopy(policy.state), policy.name)
