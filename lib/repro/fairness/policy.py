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
    * every output token: W_u += gamma / w_a (the first when the prefill emits it, EV_FIRST; each later one
      at its decode step, EV_DECODE).
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

The policy keeps per-tenant FIFO queues of waiting requests (one per class; the doubly linked lists of
:mod:`repro.core.njit_structs`) and, per class, a compact list of the tenants that have one non-empty, so a
selection costs O(backlogged tenants), not O(queue length). It drives one instance (brief 02 §2 "Server
model"): ``select_next`` raises if the cluster has more. It reads the cluster only through the accessors of
:mod:`repro.replay.state`.

State (a :class:`~repro.replay.state.Plug`, one entity per slot, each named by an accessor below; nT tenants,
nA apps, n requests):

* ``params`` (p): parameters, indices ``P_*``.
* ``tenant_floats`` (f1, (nT, N_TF)): W_u (F_COUNTER) and L_user,u (F_LIMIT).
* ``app_floats`` (f2, (nA, N_AF)): L_app,a (A_LIMIT), w_a (A_WEIGHT), S_a (A_SYSTEM).
* ``tenant_ints`` (i1, (nT, N_I)): waiting count, head/tail of the two class queues, position in the two
  backlog lists, window count and tokens.
* ``app_window`` (i2, (nA, N_W)): window count and tokens per app.
* ``backlog_lists`` (i3, (nT, 2)): column c lists the tenants with a non-empty class-c queue (entry k = the
  k-th such tenant).
* ``request_links`` (i4, (n, N_R)): per request, next/prev in its tenant's class queue and the window ring
  (slot k = the k-th accepted request; every request enters at most once, so the ring never wraps).
* ``scalars`` (s): S_* (backlog list lengths, window ring head and tail, the tenant whose queue emptied last).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from repro.core.njit_structs import list_push_back, list_push_front, list_unlink
from repro.replay.policies import QueuePolicy
from repro.replay.state import (
    ACTIVE, EV_ADMIT, EV_DECODE, EV_ENQUEUE, EV_FIRST, EV_UNQUEUE, RS_DECODE, instance_status, kv_capacity, kv_used,
    make_plug, n_instances, next_request, queue_head, request_app, request_arrival, request_state, request_step,
    request_tenant, request_tokens, running_head,
)

# ---------------------------------------------------------------------------------------- layout
# params (float64)
(P_SELECT, P_PRIORITY, P_ALPHA, P_BETA, P_GAMMA, P_THROTTLE, P_RPM, P_WINDOW, P_HOL_DELAY, P_KV_FRAC,
 P_N_TENANTS) = range(11)
N_P = 11
SELECT_FIFO, SELECT_COUNTER = 0, 1
THROTTLE_NONE, THROTTLE_RPM, THROTTLE_OIT = 0, 1, 2
# tenant_floats columns
F_COUNTER, F_LIMIT = range(2)
N_TF = 2
# app_floats columns
A_LIMIT, A_WEIGHT, A_SYSTEM = range(3)
N_AF = 3
# tenant_ints columns
I_NWAIT, I_HEAD0, I_TAIL0, I_HEAD1, I_TAIL1, I_POS0, I_POS1, I_WIN_COUNT, I_WIN_TOKENS = range(9)
N_I = 9
# app_window columns
W_COUNT, W_TOKENS = range(2)
N_W = 2
# scalars: backlog list lengths, window ring head and tail, tenant whose queue emptied last (-1: none)
S_LEN0, S_LEN1, S_RING_HEAD, S_RING_TAIL, S_LAST_LEFT = range(5)
N_S = 5
# request_links columns
R_NEXT, R_PREV, R_RING = range(3)
N_R = 3
#: class of a waiting request: 0 = continues an interaction in progress (only with priority), 1 = new.
CLASS_CONTINUING, CLASS_NEW = 0, 1


# ---------------------------------------------------------------------------------------- named state
# The named slots and the small helpers below are inlined into the hooks (numba IR level): a call per read cost
# more than the read (repro.replay.engine, "Inlining").
@njit(cache=True, inline="always")
def params(plug):
    return plug.p


@njit(cache=True, inline="always")
def tenant_floats(plug):
    return plug.f1


@njit(cache=True, inline="always")
def app_floats(plug):
    return plug.f2


@njit(cache=True, inline="always")
def tenant_ints(plug):
    return plug.i1


@njit(cache=True, inline="always")
def app_window(plug):
    return plug.i2


@njit(cache=True, inline="always")
def backlog_lists(plug):
    return plug.i3


@njit(cache=True, inline="always")
def request_links(plug):
    return plug.i4


@njit(cache=True, inline="always")
def scalars(plug):
    return plug.s


# ---------------------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def request_class(cl, plug, r):
    """CLASS_CONTINUING for a call with step >= 1 when the policy prioritises interactions in progress."""
    if params(plug)[P_PRIORITY] != 0.0 and request_step(cl, r) >= 1:
        return CLASS_CONTINUING
    return CLASS_NEW


@njit(cache=True)
def lift_level(plug):
    """Counter a tenant joining the backlog is lifted to: the smallest W_v over backlogged tenants, else W_l of
    the tenant whose queue emptied last, else -inf (no lift)."""
    sc = scalars(plug)
    lists = backlog_lists(plug)
    counter = tenant_floats(plug)
    best = np.inf
    for c in range(2):
        for k in range(sc[S_LEN0 + c]):
            w = counter[lists[k, c], F_COUNTER]
            if w < best:
                best = w
    if best == np.inf:
        last = sc[S_LAST_LEFT]
        return counter[last, F_COUNTER] if last >= 0 else -np.inf
    return best


@njit(cache=True, inline="always")
def admission_charge(plug, app, k):
    """Counter increment for admitting k prompt tokens of a request of ``app`` (the module docstring formula)."""
    a = app_floats(plug)
    p = params(plug)
    s = min(a[app, A_SYSTEM], float(k))
    return (p[P_ALPHA] * (k - s) + p[P_BETA] * s) / a[app, A_WEIGHT]


@njit(cache=True, inline="always")
def token_charge(plug, app, k):
    """Counter increment for k output tokens of a request of ``app``."""
    return params(plug)[P_GAMMA] * k / app_floats(plug)[app, A_WEIGHT]


@njit(cache=True, inline="always")
def _queue_push(cl, plug, r, front):
    u = request_tenant(cl, r)
    c = request_class(cl, plug, r)
    sc = scalars(plug)
    row = tenant_ints(plug)[u]
    if row[I_HEAD0 + 2 * c] < 0:   # the class queue turns non-empty: the tenant joins backlog list c
        n = sc[S_LEN0 + c]
        backlog_lists(plug)[n, c] = u
        row[I_POS0 + c] = n
        sc[S_LEN0 + c] = n + 1
    if front:
        list_push_front(row, I_HEAD0 + 2 * c, I_TAIL0 + 2 * c, request_links(plug), R_NEXT, R_PREV, r)
    else:
        list_push_back(row, I_HEAD0 + 2 * c, I_TAIL0 + 2 * c, request_links(plug), R_NEXT, R_PREV, r)
    row[I_NWAIT] += 1


@njit(cache=True, inline="always")
def _queue_remove(cl, plug, r):
    u = request_tenant(cl, r)
    c = request_class(cl, plug, r)
    sc = scalars(plug)
    row = tenant_ints(plug)[u]
    list_unlink(row, I_HEAD0 + 2 * c, I_TAIL0 + 2 * c, request_links(plug), R_NEXT, R_PREV, r)
    row[I_NWAIT] -= 1
    if row[I_NWAIT] == 0:
        sc[S_LAST_LEFT] = u
    if row[I_HEAD0 + 2 * c] < 0:   # the class queue is empty: swap-remove the tenant from backlog list c
        lists = backlog_lists(plug)
        pos = row[I_POS0 + c]
        last = sc[S_LEN0 + c] - 1
        moved = lists[last, c]
        lists[pos, c] = moved
        tenant_ints(plug)[moved, I_POS0 + c] = pos
        lists[last, c] = -1
        row[I_POS0 + c] = -1
        sc[S_LEN0 + c] = last


# ---------------------------------------------------------------------------------------- hooks
@njit(cache=True)
def select_next(cl, plug, i, t):
    """FIFO: the instance's queue head. Counter: the head of the class queue of the backlogged tenant with the
    smallest (W_u, head request), class CLASS_CONTINUING first when it has any tenant."""
    if n_instances(cl) != 1:
        raise ValueError("repro.fairness policies drive one instance (brief 02 §2): the cluster has more")
    if params(plug)[P_SELECT] == SELECT_FIFO:
        return queue_head(cl, i)
    sc = scalars(plug)
    lists = backlog_lists(plug)
    counter = tenant_floats(plug)
    ints = tenant_ints(plug)
    c = CLASS_CONTINUING if sc[S_LEN0] > 0 else CLASS_NEW
    best = -1
    best_w = np.inf
    for k in range(sc[S_LEN0 + c]):
        u = lists[k, c]
        w = counter[u, F_COUNTER]
        head = ints[u, I_HEAD0 + 2 * c]
        if w < best_w or (w == best_w and head < best):
            best_w = w
            best = head
    return best


@njit(cache=True)
def notify(cl, plug, event, r, i, k, t):
    """Counter bookkeeping: per-tenant queues, lift on becoming backlogged, admission and output-token charges."""
    if params(plug)[P_SELECT] == SELECT_FIFO:
        return 0
    counter = tenant_floats(plug)
    if event == EV_ENQUEUE:
        u = request_tenant(cl, r)
        if tenant_ints(plug)[u, I_NWAIT] == 0:   # lift (brief 02 §2)
            low = lift_level(plug)
            if low > counter[u, F_COUNTER]:
                counter[u, F_COUNTER] = low
        _queue_push(cl, plug, r, k == 1)
    elif event == EV_UNQUEUE:
        _queue_remove(cl, plug, r)
    elif event == EV_ADMIT:
        _queue_remove(cl, plug, r)
        counter[request_tenant(cl, r), F_COUNTER] += admission_charge(plug, request_app(cl, r), k)
    elif event == EV_FIRST:
        counter[request_tenant(cl, r), F_COUNTER] += token_charge(plug, request_app(cl, r), k)
    elif event == EV_DECODE:
        x = running_head(cl, i)
        while x >= 0:
            if request_state(cl, x) == RS_DECODE:
                counter[request_tenant(cl, x), F_COUNTER] += token_charge(plug, request_app(cl, x), k)
            x = next_request(cl, x)
    return 0


@njit(cache=True)
def overloaded(cl, plug, t):
    """OIT's overload signal: some active instance's oldest waiting request has waited > P_HOL_DELAY seconds, or
    the KV tokens in use over all active instances exceed P_KV_FRAC of their capacity."""
    used = 0
    cap = 0
    p = params(plug)
    for i in range(n_instances(cl)):
        if instance_status(cl, i) != ACTIVE:
            continue
        h = queue_head(cl, i)
        if h >= 0 and t - request_arrival(cl, h) > p[P_HOL_DELAY]:
            return True
        used += kv_used(cl, i, t, False)
        cap += kv_capacity(cl, i)
    return cap > 0 and used > p[P_KV_FRAC] * cap


@njit(cache=True)
def _window_add(cl, plug, x, sign):
    """Add (sign = 1) or take out (-1) accepted request x from its tenant's and app's window sums."""
    tokens = request_tokens(cl, x)
    row = tenant_ints(plug)[request_tenant(cl, x)]
    app = app_window(plug)[request_app(cl, x)]
    row[I_WIN_COUNT] += sign
    row[I_WIN_TOKENS] += sign * tokens
    app[W_COUNT] += sign
    app[W_TOKENS] += sign * tokens


@njit(cache=True)
def _expire_window(cl, plug, t):
    """Drop accepted requests that arrived ``window`` or more seconds before t from the window sums."""
    sc = scalars(plug)
    links = request_links(plug)
    window = params(plug)[P_WINDOW]
    head = sc[S_RING_HEAD]
    while head < sc[S_RING_TAIL]:
        x = links[head, R_RING]
        if t - request_arrival(cl, x) < window:
            break
        _window_add(cl, plug, x, -1)
        head += 1
    sc[S_RING_HEAD] = head


@njit(cache=True)
def _accept(cl, plug, r):
    sc = scalars(plug)
    request_links(plug)[sc[S_RING_TAIL], R_RING] = r
    sc[S_RING_TAIL] += 1
    _window_add(cl, plug, r, 1)


@njit(cache=True)
def on_arrival(cl, plug, r, t):
    """Throttle (1) or accept (0) an arriving request; accepted requests enter the sliding window."""
    p = params(plug)
    mode = p[P_THROTTLE]
    if mode == THROTTLE_NONE:
        return 0
    _expire_window(cl, plug, t)
    u = request_tenant(cl, r)
    if mode == THROTTLE_RPM:
        if tenant_ints(plug)[u, I_WIN_COUNT] >= p[P_RPM]:
            return 1
    elif request_step(cl, r) == 0:   # OIT: only new interactions, only while overloaded
        a = request_app(cl, r)
        over = (tenant_ints(plug)[u, I_WIN_TOKENS] > tenant_floats(plug)[u, F_LIMIT]
                or app_window(plug)[a, W_TOKENS] > app_floats(plug)[a, A_LIMIT])
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
    tenant_f = np.zeros((n_tenants, N_TF))
    tenant_f[:, F_LIMIT] = u_lim
    app_f = np.zeros((n_apps, N_AF))
    app_f[:, A_LIMIT] = a_lim
    app_f[:, A_WEIGHT] = w
    app_f[:, A_SYSTEM] = system
    tenant_i = np.zeros((n_tenants, N_I), np.int64)
    tenant_i[:, [I_HEAD0, I_TAIL0, I_HEAD1, I_TAIL1, I_POS0, I_POS1]] = -1
    sc = np.zeros(N_S, np.int64)
    sc[S_LAST_LEFT] = -1
    state = make_plug(p, f1=tenant_f, f2=app_f, i1=tenant_i, i2=np.zeros((n_apps, N_W), np.int64),
                      i3=np.full((n_tenants, 2), -1, np.int64), i4=np.full((n_requests, N_R), -1, np.int64), s=sc)
    return QueuePolicy(on_arrival, select_next, notify, state, name)


def counters(policy: QueuePolicy) -> np.ndarray:
    """W_u per tenant (a copy) of a policy made by :func:`counter_policy`."""
    return policy.state.f1[:, F_COUNTER].copy()
