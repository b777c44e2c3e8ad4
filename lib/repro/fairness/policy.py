"""Per-tenant service counters (VTC, FairServe's WSC) and throttles (per-user RPM, FairServe's OIT) as one
queue policy of the replay engine (brief 02 §2 "VTC reference", "WSC", "OIT"; §3 baselines).

One set of three numba hooks (``on_arrival``, ``select_next``, ``notify``; see :mod:`repro.replay.policies`)
serves every scheduler of brief 02; the :class:`~repro.replay.state.Plug` parameters choose the variant:

Selection (``select_next``)
    * FIFO: the head of the instance's queue (FCFS, RPM).
    * Counter: the waiting request of the backlogged tenant with the smallest counter W_u (ties: the tenant
      whose head request has the smaller index); within a tenant, arrival order. With ``priority`` (WSC),
      calls that continue an interaction in progress (step >= 1) are taken before new interactions, the
      smallest W_u within each class [3p].
Charges (``notify``), one formula for both counters (brief 02 §2)
    * admission of k prompt tokens of a request of app a with system prompt S_a and app weight w_a:
      W_u += (alpha * (k - s) + beta * s) / w_a, with s = min(S_a, k);
    * every decoded token: W_u += gamma / w_a.
    VTC is alpha = beta = w_p = 1, gamma = w_q = 2, w_a = 1; WSC is alpha = 1, beta = 2, gamma = 1 and
    w_a = app weight [3p].
Lift
    When a tenant's waiting queue turns non-empty, W_u = max(W_u, min over backlogged tenants W_v), or, when no
    tenant is backlogged, max(W_u, W_l) for the tenant l whose queue emptied last (VTC paper, Algorithm 2; the
    VTC artifact leaves out this second case, which breaks the bound when a tenant idles through a quiet
    period). WSC's "set to the minimum active counter" [3p] is read the same way, so counters never decrease.
Throttles (``on_arrival``), over a sliding window of the last ``window`` seconds of accepted requests
    * RPM: reject a request whose tenant already had ``rpm`` accepted requests in the window (any call).
    * OIT: only while the server is overloaded (head-of-line queue delay > ``hol_delay`` s or KV utilisation
      > ``kv_frac`` [our choice]), reject a request that starts a new interaction (step 0) when its tenant's
      accepted tokens (prompt + output) in the window exceed L_user,u or its app's exceed L_app,a. A call of an
      interaction in progress is never rejected [paper].

The policy keeps per-tenant FIFO queues of waiting requests (one per class) and, per class, a compact list
of the tenants that have one non-empty, so a selection costs O(backlogged tenants), not O(queue length).
It drives one instance (brief 02 §2 "Server model"): ``select_next`` raises if the cluster has more.

State layout (``Plug``; nT tenants, nA apps, n requests):

* ``p``: parameters, indices ``P_*``.
* ``f1`` float64 (nT + nA, 4): tenant rows [F_COUNTER W_u, F_LIMIT L_user,u]; app rows nT + a
  [F_LIMIT L_app,a, F_WEIGHT w_a, F_SYSTEM S_a].
* ``i1`` int64 (nT + nA + 1, N_I): tenant rows: waiting count, head/tail of the two class queues, position in
  the two tenant lists, window count and tokens; app rows: window count and tokens; columns I_LIST0/1 hold
  the two tenant lists (entry k = k-th tenant); the last row holds the scalars S_* (list lengths, window
  ring head and tail).
* ``i2`` int64 (n, 3): per request, next/prev in its tenant's class queue and the window ring (slot k =
  the k-th accepted request; every request enters at most once, so the ring never wraps).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from repro.replay.policies import QueuePolicy
from repro.replay.state import (
    ACTIVE, C_N_INST, EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_UNQUEUE, IN_KVCAP, IN_QHEAD, IN_RHEAD, IN_STATUS,
    RF_ARRIVAL, RQ_APP, RQ_NEXT, RQ_OUTPUT, RQ_PROMPT, RQ_STATE, RQ_STEP, RQ_TENANT, RS_DECODE, kv_used,
    make_plug,
)

# ---------------------------------------------------------------------------------------- layout
# p (float64)
(P_SELECT, P_PRIORITY, P_ALPHA, P_BETA, P_GAMMA, P_THROTTLE, P_RPM, P_WINDOW, P_HOL_DELAY, P_KV_FRAC,
 P_N_TENANTS) = range(11)
N_P = 11
SELECT_FIFO, SELECT_COUNTER = 0, 1
THROTTLE_NONE, THROTTLE_RPM, THROTTLE_OIT = 0, 1, 2
# f1 columns
F_COUNTER, F_LIMIT, F_WEIGHT, F_SYSTEM = range(4)
N_F = 4
# i1 columns (tenant rows; app rows use I_WIN_COUNT, I_WIN_TOKENS; I_LIST0/1 are position-indexed)
(I_NWAIT, I_HEAD0, I_TAIL0, I_HEAD1, I_TAIL1, I_POS0, I_POS1, I_WIN_COUNT, I_WIN_TOKENS,
 I_LIST0, I_LIST1) = range(11)
N_I = 11
# i1 last row (scalars): list lengths, window ring head and tail, tenant whose queue emptied last (-1: none)
S_LEN0, S_LEN1, S_RING_HEAD, S_RING_TAIL, S_LAST_LEFT = range(5)
# i2 columns (per request)
R_NEXT, R_PREV, R_RING = range(3)
N_R = 3
#: class of a waiting request: 0 = continues an interaction in progress (only with priority), 1 = new.
CLASS_CONTINUING, CLASS_NEW = 0, 1


# ---------------------------------------------------------------------------------------- helpers
@njit(cache=True)
def request_class(cl, plug, r):
    """CLASS_CONTINUING for a call with step >= 1 when the policy prioritises interactions in progress."""
    if plug.p[P_PRIORITY] != 0.0 and cl.req[r, RQ_STEP] >= 1:
        return CLASS_CONTINUING
    return CLASS_NEW


@njit(cache=True)
def scalar_row(plug):
    """Row of ``plug.i1`` holding the S_* scalars (the last one)."""
    return plug.i1.shape[0] - 1


@njit(cache=True)
def lift_level(plug):
    """Counter a tenant joining the backlog is lifted to: the smallest W_v over backlogged tenants, else W_l of
    the tenant whose queue emptied last, else -inf (no lift)."""
    sc = scalar_row(plug)
    best = np.inf
    for c in range(2):
        for k in range(plug.i1[sc, S_LEN0 + c]):
            v = plug.i1[k, I_LIST0 + c]
            w = plug.f1[v, F_COUNTER]
            if w < best:
                best = w
    if best == np.inf:
        last = plug.i1[sc, S_LAST_LEFT]
        return plug.f1[last, F_COUNTER] if last >= 0 else -np.inf
    return best


@njit(cache=True)
def admission_charge(plug, nt, app, k):
    """Counter increment for admitting k prompt tokens of a request of ``app`` (the module docstring formula)."""
    row = nt + app
    s = min(plug.f1[row, F_SYSTEM], float(k))
    return (plug.p[P_ALPHA] * (k - s) + plug.p[P_BETA] * s) / plug.f1[row, F_WEIGHT]


@njit(cache=True)
def _queue_push(cl, plug, r, front):
    u = cl.req[r, RQ_TENANT]
    c = request_class(cl, plug, r)
    sc = scalar_row(plug)
    h, tl = I_HEAD0 + 2 * c, I_TAIL0 + 2 * c
    row = plug.i1[u]
    if row[h] < 0:   # the class queue turns non-empty: the tenant joins list c
        n = plug.i1[sc, S_LEN0 + c]
        plug.i1[n, I_LIST0 + c] = u
        row[I_POS0 + c] = n
        plug.i1[sc, S_LEN0 + c] = n + 1
        plug.i2[r, R_NEXT] = -1
        plug.i2[r, R_PREV] = -1
        row[h] = r
        row[tl] = r
    elif front:
        plug.i2[r, R_PREV] = -1
        plug.i2[r, R_NEXT] = row[h]
        plug.i2[row[h], R_PREV] = r
        row[h] = r
    else:
        plug.i2[r, R_NEXT] = -1
        plug.i2[r, R_PREV] = row[tl]
        plug.i2[row[tl], R_NEXT] = r
        row[tl] = r
    row[I_NWAIT] += 1


@njit(cache=True)
def _queue_remove(cl, plug, r):
    u = cl.req[r, RQ_TENANT]
    c = request_class(cl, plug, r)
    sc = scalar_row(plug)
    h, tl = I_HEAD0 + 2 * c, I_TAIL0 + 2 * c
    row = plug.i1[u]
    prv, nxt = plug.i2[r, R_PREV], plug.i2[r, R_NEXT]
    if prv >= 0:
        plug.i2[prv, R_NEXT] = nxt
    else:
        row[h] = nxt
    if nxt >= 0:
        plug.i2[nxt, R_PREV] = prv
    else:
        row[tl] = prv
    row[I_NWAIT] -= 1
    if row[I_NWAIT] == 0:
        plug.i1[sc, S_LAST_LEFT] = u
    if row[h] < 0:   # the class queue is empty: swap-remove the tenant from list c
        pos = row[I_POS0 + c]
        last = plug.i1[sc, S_LEN0 + c] - 1
        moved = plug.i1[last, I_LIST0 + c]
        plug.i1[pos, I_LIST0 + c] = moved
        plug.i1[moved, I_POS0 + c] = pos
        plug.i1[last, I_LIST0 + c] = -1
        row[I_POS0 + c] = -1
        plug.i1[sc, S_LEN0 + c] = last


# ---------------------------------------------------------------------------------------- hooks
@njit(cache=True)
def select_next(cl, plug, i, t):
    """FIFO: the instance's queue head. Counter: the head of the class queue of the backlogged tenant with the
    smallest (W_u, head request), class CLASS_CONTINUING first when it has any tenant."""
    if cl.conf[C_N_INST] != 1:
        raise ValueError("repro.fairness policies drive one instance (brief 02 §2): the cluster has more")
    if plug.p[P_SELECT] == SELECT_FIFO:
        return cl.inst[i, IN_QHEAD]
    sc = scalar_row(plug)
    c = CLASS_CONTINUING if plug.i1[sc, S_LEN0] > 0 else CLASS_NEW
    best = -1
    best_w = np.inf
    for k in range(plug.i1[sc, S_LEN0 + c]):
        u = plug.i1[k, I_LIST0 + c]
        w = plug.f1[u, F_COUNTER]
        head = plug.i1[u, I_HEAD0 + 2 * c]
        if w < best_w or (w == best_w and head < best):
            best_w = w
            best = head
    return best


@njit(cache=True)
def notify(cl, plug, event, r, i, k, t):
    """Counter bookkeeping: per-tenant queues, lift on becoming backlogged, admission and decode charges."""
    if plug.p[P_SELECT] == SELECT_FIFO:
        return 0
    nt = int(plug.p[P_N_TENANTS])
    if event == EV_ENQUEUE:
        u = cl.req[r, RQ_TENANT]
        if plug.i1[u, I_NWAIT] == 0:   # lift (brief 02 §2)
            low = lift_level(plug)
            if low > plug.f1[u, F_COUNTER]:
                plug.f1[u, F_COUNTER] = low
        _queue_push(cl, plug, r, k == 1)
    elif event == EV_UNQUEUE:
        _queue_remove(cl, plug, r)
    elif event == EV_ADMIT:
        _queue_remove(cl, plug, r)
        plug.f1[cl.req[r, RQ_TENANT], F_COUNTER] += admission_charge(plug, nt, cl.req[r, RQ_APP], k)
    elif event == EV_DECODE:
        x = cl.inst[i, IN_RHEAD]
        while x >= 0:
            if cl.req[x, RQ_STATE] == RS_DECODE:
                plug.f1[cl.req[x, RQ_TENANT], F_COUNTER] += plug.p[P_GAMMA] * k / plug.f1[nt + cl.req[x, RQ_APP], F_WEIGHT]
            x = cl.req[x, RQ_NEXT]
    return 0


@njit(cache=True)
def overloaded(cl, plug, t):
    """OIT's overload signal: some active instance's oldest waiting request has waited > P_HOL_DELAY seconds, or
    the KV tokens in use over all active instances exceed P_KV_FRAC of their capacity."""
    used = 0
    cap = 0
    for i in range(cl.conf[C_N_INST]):
        if cl.inst[i, IN_STATUS] != ACTIVE:
            continue
        h = cl.inst[i, IN_QHEAD]
        if h >= 0 and t - cl.reqf[h, RF_ARRIVAL] > plug.p[P_HOL_DELAY]:
            return True
        used += kv_used(cl, i, t, False)
        cap += cl.inst[i, IN_KVCAP]
    return cap > 0 and used > plug.p[P_KV_FRAC] * cap


@njit(cache=True)
def _expire_window(cl, plug, t):
    """Drop accepted requests that arrived ``window`` or more seconds before t from the window sums."""
    nt = int(plug.p[P_N_TENANTS])
    s = plug.i1[scalar_row(plug)]
    head = s[S_RING_HEAD]
    while head < s[S_RING_TAIL]:
        x = plug.i2[head, R_RING]
        if t - cl.reqf[x, RF_ARRIVAL] < plug.p[P_WINDOW]:
            break
        tokens = np.int64(cl.req[x, RQ_PROMPT]) + cl.req[x, RQ_OUTPUT]
        u, a = cl.req[x, RQ_TENANT], nt + cl.req[x, RQ_APP]
        plug.i1[u, I_WIN_COUNT] -= 1
        plug.i1[u, I_WIN_TOKENS] -= tokens
        plug.i1[a, I_WIN_COUNT] -= 1
        plug.i1[a, I_WIN_TOKENS] -= tokens
        head += 1
    s[S_RING_HEAD] = head


@njit(cache=True)
def _accept(cl, plug, r):
    nt = int(plug.p[P_N_TENANTS])
    s = plug.i1[scalar_row(plug)]
    plug.i2[s[S_RING_TAIL], R_RING] = r
    s[S_RING_TAIL] += 1
    tokens = np.int64(cl.req[r, RQ_PROMPT]) + cl.req[r, RQ_OUTPUT]
    u, a = cl.req[r, RQ_TENANT], nt + cl.req[r, RQ_APP]
    plug.i1[u, I_WIN_COUNT] += 1
    plug.i1[u, I_WIN_TOKENS] += tokens
    plug.i1[a, I_WIN_COUNT] += 1
    plug.i1[a, I_WIN_TOKENS] += tokens


@njit(cache=True)
def on_arrival(cl, plug, r, t):
    """Throttle (1) or accept (0) an arriving request; accepted requests enter the sliding window."""
    mode = plug.p[P_THROTTLE]
    if mode == THROTTLE_NONE:
        return 0
    _expire_window(cl, plug, t)
    u = cl.req[r, RQ_TENANT]
    if mode == THROTTLE_RPM:
        if plug.i1[u, I_WIN_COUNT] >= plug.p[P_RPM]:
            return 1
    elif cl.req[r, RQ_STEP] == 0:   # OIT: only new interactions, only while overloaded
        a = int(plug.p[P_N_TENANTS]) + cl.req[r, RQ_APP]
        over = plug.i1[u, I_WIN_TOKENS] > plug.f1[u, F_LIMIT] or plug.i1[a, I_WIN_TOKENS] > plug.f1[a, F_LIMIT]
        if over and overloaded(cl, plug, t):
            return 1
    _accept(cl, plug, r)
    return 0


# ---------------------------------------------------------------------------------------- construction
def counter_policy(n_tenants: int, n_requests: int, *, select: int, throttle: int, priority: bool = False,
                   alpha: float = 1.0, beta: float = 1.0, gamma: float = 2.0, app_weight=None,
                   app_system_tokens=None, user_limit=None, app_limit=None, rpm: float = 0.0,
                   window: float = 60.0, hol_delay: float = 2.0, kv_frac: float = 0.9, name: str = "custom"
                   ) -> QueuePolicy:
    """A :class:`QueuePolicy` with fresh state. ``app_weight``, ``app_system_tokens``, ``app_limit`` (nA,) per app
    (default one app, weight 1, no system prompt, no limit); ``user_limit`` (nT,) or a scalar. Limits are in
    tokens per ``window`` seconds. See the module docstring for the meaning of each parameter."""
    n_tenants, n_requests = int(n_tenants), int(n_requests)
    if n_tenants < 1 or n_requests < 1:
        raise ValueError(f"n_tenants and n_requests: expected >= 1, got {n_tenants}, {n_requests}")
    given = [a for a in (app_weight, app_system_tokens, app_limit) if a is not None]
    n_apps = np.size(given[0]) if given else 1
    w = np.ones(n_apps) if app_weight is None else np.asarray(app_weight, np.float64).reshape(-1)
    system = np.zeros(n_apps) if app_system_tokens is None else np.asarray(app_system_tokens, np.float64).reshape(-1)
    a_lim = np.full(n_apps, np.inf) if app_limit is None else np.asarray(app_limit, np.float64).reshape(-1)
    u_lim = np.broadcast_to(np.asarray(np.inf if user_limit is None else user_limit, np.float64), (n_tenants,))
    for label, arr in (("app_weight", w), ("app_system_tokens", system), ("app_limit", a_lim)):
        if arr.shape != (n_apps,):
            raise ValueError(f"{label}: expected one value per app ({n_apps} apps), got shape {arr.shape}")
    if not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError("app_weight: expected finite weights > 0")
    if np.any(system < 0) or np.any(np.isnan(a_lim)) or np.any(np.isnan(u_lim)):
        raise ValueError("app_system_tokens must be >= 0 and the limits must not be NaN")
    if min(alpha, beta, gamma) < 0:
        raise ValueError(f"alpha, beta, gamma: expected >= 0, got {alpha}, {beta}, {gamma}")
    if throttle == THROTTLE_RPM and not rpm >= 1:
        raise ValueError(f"rpm: expected a limit >= 1 request per window, got {rpm}")
    if not (window > 0 and hol_delay >= 0 and kv_frac >= 0):
        raise ValueError(f"window > 0, hol_delay >= 0, kv_frac >= 0 expected, got {window}, {hol_delay}, {kv_frac}")
    p = np.zeros(N_P)
    p[[P_SELECT, P_PRIORITY, P_ALPHA, P_BETA, P_GAMMA, P_THROTTLE, P_RPM, P_WINDOW, P_HOL_DELAY, P_KV_FRAC,
       P_N_TENANTS]] = [select, float(priority), alpha, beta, gamma, throttle, rpm, window, hol_delay, kv_frac,
                        n_tenants]
    f1 = np.zeros((n_tenants + n_apps, N_F))
    f1[:n_tenants, F_LIMIT] = u_lim
    f1[n_tenants:, F_LIMIT] = a_lim
    f1[n_tenants:, F_WEIGHT] = w
    f1[n_tenants:, F_SYSTEM] = system
    i1 = np.zeros((n_tenants + n_apps + 1, N_I), np.int64)
    i1[:n_tenants, [I_HEAD0, I_TAIL0, I_HEAD1, I_TAIL1, I_POS0, I_POS1, I_LIST0, I_LIST1]] = -1
    i1[n_tenants:, [I_LIST0, I_LIST1]] = -1
    i1[-1, :] = 0
    i1[-1, S_LAST_LEFT] = -1
    i2 = np.full((n_requests, N_R), -1, np.int64)
    return QueuePolicy(on_arrival, select_next, notify, make_plug(p, f1=f1, i1=i1, i2=i2), name)


def counters(policy: QueuePolicy) -> np.ndarray:
    """W_u per tenant (a copy) of a policy made by :func:`counter_policy`."""
    return policy.state.f1[:int(policy.state.p[P_N_TENANTS]), F_COUNTER].copy()
