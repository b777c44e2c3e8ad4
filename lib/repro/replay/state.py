"""Observable state of the replay engine: the arrays every controller reads, their column names, the plug-in
function types and the record of hooks the engine receives (:class:`Hooks`), the named accessors through which
plug-ins read the state (end of the module), and small helpers that compute time-dependent quantities (decode
progress, KV in use, outstanding tokens) from an instance's epoch.

Implements the shared cluster model of brief 01 §2 (instances, regions, pools, memory utilisation),
brief 02 §2 (per-tenant hooks) and brief 03 §2 (per-instance state for routers). The semantics are
documented in :mod:`repro.replay`.

Layout. The state is a :class:`Cluster` namedtuple of a dozen arrays so that a plug-in call costs a
few nanoseconds (numba passes every array of a namedtuple through a function pointer):

- ``inst``  int64   (cap, N_IN)   per instance, columns ``IN_*``
- ``instf`` float64 (cap, N_IF)   per instance, columns ``IF_*``
- ``req``   int32   (n, N_RQ)     per request, columns ``RQ_*``
- ``reqf``  float64 (n, N_RF)     per request, columns ``RF_*``
- ``prio``  int8    (n, n_regions) region priority list of each request (brief 01 §2)
- ``group`` int64   (n_groups, N_G) per (model, region, pool), columns ``G_*``; ``group_index`` gives the row
- ``members`` int64 (n_groups, cap) the accepting (spinning-up or active) instances of each group, in order of addition
- ``models`` float64 (n_models, N_M) latency coefficients and KV capacity, columns ``M_*``
- ``conf``  int64 (N_C,) configuration and global counters, ``C_*``;  ``conff`` float64 (N_CF,), ``CF_*``
- ``woken`` int64 (cap,) stack of instances marked dirty since the engine last looked (engine bookkeeping)
- ``window`` int64 (n_models, n_regions, 2, 3) arrivals since the controller's last call:
  [model, home region, workload, (count, prompt tokens, output tokens)]

Epoch. An instance's KV use, decode progress and outstanding tokens change at every decode step. The
arrays hold them as of the instance's last event, with the current *epoch* (since the last change of its
batch: start time IF_EP_T, steps IN_EP_S, batch IN_EP_B, per-step cost IF_EP_A) and the epoch step of that
event (IN_COMMIT_K); the helpers below add the steps made since, so every reader sees the same numbers
whatever the engine's internal event schedule, and a plug-in called while an instance processes a boundary
sees that instance's finishes and admissions so far.
"""
from __future__ import annotations

import collections
import math

import numba
import numpy as np
from numba import njit, types
from numba.experimental import structref

# ------------------------------------------------------------------------------------------ columns
# instance status (IN_STATUS)
SPINNING, ACTIVE, DRAINING, OFF = 0, 1, 2, 3
STATUS_NAMES = ("spinning", "active", "draining", "off")
# instance mode (IN_MODE): what the current iteration is
MODE_IDLE, MODE_PREFILL, MODE_DECODE = 0, 1, 2
# KV reserve policy (C_RESERVE)
RESERVE_FULL, RESERVE_ON_DEMAND = 0, 1
RESERVE_NAMES = ("full", "on_demand")
# iteration scheduling (Cluster.conf[C_ITERATION]): "mixed" runs waiting prefills and one decode step of the running
# batch in the same iteration; "prefill_priority" (vLLM v0) runs an iteration with prefills alone, the decodes stall
ITER_MIXED, ITER_PREFILL_PRIORITY = 0, 1
ITERATION_NAMES = ("mixed", "prefill_priority")

# Cluster.inst columns (int64)
(IN_MODEL, IN_REGION, IN_POOL, IN_GROUP, IN_STATUS, IN_MODE,
 IN_NWAIT, IN_NRUN, IN_NDEC, IN_NPF,
 IN_QHEAD, IN_QTAIL, IN_RHEAD, IN_RTAIL, IN_PFHEAD,
 IN_KV, IN_KVCAP, IN_EP_S, IN_EP_B, IN_EP_CTX, IN_EP_PREFILL, IN_RUN_TOKENS,
 IN_DEC_BASE, IN_WAIT_TOKENS, IN_DIRTY,
 IN_NADMIT, IN_NFINISH, IN_NPREEMPT, IN_MEMBER_POS, IN_COMMIT_K) = range(30)
N_IN = 30
# IN_KV and IN_RUN_TOKENS hold their values as of the instance's last event (an iteration boundary where
# something happened, written through while it is processed), IN_COMMIT_K the decode steps of the current
# epoch made by then; the helpers below add the steps made since.
# Cluster.instf columns (float64)
(IF_T_REQUEST, IF_T_READY, IF_T_DRAIN, IF_T_OFF, IF_EP_T, IF_EP_A, IF_EP_END,
 IF_BUSY, IF_BUSY_SINCE) = range(9)
N_IF = 9

# request state (RQ_STATE)
RS_PENDING, RS_HELD, RS_WAITING, RS_PREFILL, RS_DECODE, RS_DONE, RS_REJECTED = range(7)
# request flags (RQ_FLAGS, bit mask)
FLAG_DROPPED = 1      # the request can never fit one instance's KV cache (admission control)
FLAG_THROTTLED = 2    # the queue policy's on_arrival rejected it
FLAG_ABORTED = 4      # closed loop: an earlier call of its interaction was dropped or throttled
FLAG_PREEMPTED = 8    # preempted at least once (on-demand KV)
FLAG_HELD = 16        # waited in the router's hold queue at least once
FLAG_REROUTED = 32    # moved off a draining instance before admission
FLAG_TIMED_OUT = 64   # not admitted within the queue timeout of its arrival: left at arrival + timeout
FLAG_NAMES = {FLAG_DROPPED: "dropped", FLAG_THROTTLED: "throttled", FLAG_ABORTED: "aborted",
              FLAG_PREEMPTED: "preempted", FLAG_HELD: "held", FLAG_REROUTED: "rerouted", FLAG_TIMED_OUT: "timed_out"}

# Cluster.req columns (int32)
(RQ_PROMPT, RQ_OUTPUT, RQ_MODEL, RQ_TENANT, RQ_APP, RQ_INTERACTION, RQ_STEP, RQ_WORKLOAD, RQ_POOL,
 RQ_STATE, RQ_INST, RQ_REGION, RQ_FLAGS, RQ_NEXT, RQ_PREV,
 RQ_KV, RQ_PREFILL_LEFT, RQ_GENERATED, RQ_JOIN, RQ_SUCC, RQ_NPREEMPT) = range(21)
N_RQ = 21
# Cluster.reqf columns (float64)
RF_ARRIVAL, RF_SLA, RF_ADMIT, RF_FIRST, RF_FINISH = range(5)
N_RF = 5

# Cluster.group columns (int64)
G_NMEMBERS, G_NACTIVE, G_KV, G_CAP = range(4)
N_G = 4
# Cluster.models columns (float64)
# M_BMAX: largest profiled decode batch, the cap of the batch term (inf: none; repro.latency "decode bound")
M_P0, M_P1, M_P2, M_D0, M_D1, M_D2, M_KVCAP, M_BMAX = range(8)
N_M = 8
# Cluster.conf (int64)
(C_MAX_BATCH, C_CHUNK, C_RESERVE, C_N_MODELS, C_N_REGIONS, C_N_POOLS, C_N_INST,
 C_HELD_HEAD, C_HELD_TAIL, C_N_HELD, C_N_WOKEN, C_CLOSED_LOOP, C_CUR_KIND, C_CUR_INDEX, C_ITERATION) = range(15)
N_C = 15
# C_CUR_KIND: kind of the event being processed (ties at equal times are broken by kind, in the order
# arrival, timeout, instance, then by index)
KIND_ARRIVAL, KIND_INSTANCE, KIND_CONTROLLER, KIND_TIMEOUT = 0, 1, 2, 3
# Cluster.conff (float64): current time, think time (closed loop), queue timeout (inf: none)
CF_NOW, CF_THINK, CF_TIMEOUT = range(3)
N_CF = 3

# notify events (the queue policy's notify hook)
EV_ENQUEUE = 0    # r joined instance i's waiting queue; k = 1 at the front (preempted), 0 at the back
EV_UNQUEUE = 1    # r left i's waiting queue without being admitted (rerouted off a draining instance, timed out)
EV_ADMIT = 2      # r admitted into i's running batch; k = tokens it will prefill
EV_DECODE = 3     # every decoding request of i generated k tokens (r = -1); called when the steps are committed
EV_FINISH = 4     # r finished on i
EV_PREEMPT = 5    # r preempted on i (on-demand KV); k = decode steps it had made; it is re-enqueued next
EV_FIRST = 6      # r's first prefill completed on i: it emitted its first output token (k = 1), before its decode

CLUSTER_FIELDS = ("inst", "instf", "req", "reqf", "prio", "group", "members", "models", "conf", "conff", "woken",
                  "window")
PLUG_FIELDS = ("p", "f1", "f2", "i1", "i2", "i3", "i4", "s")

#: The arrays of the state on the Python side (the reference and plug-ins' py_func read them like this).
Cluster = collections.namedtuple("Cluster", CLUSTER_FIELDS)
Plug = collections.namedtuple("Plug", PLUG_FIELDS)
Plug.__doc__ = """State of one plug-in (queue policy or router), owned by it, passed through the engine untouched.

Typed slots: p float64 (k,) parameters; f1, f2 float64 2-D; i1..i4 int64 2-D; s int64 (k,) scalars. A plug-in
keeps one entity per slot (e.g. FairServe: tenant rows in f1 and i1, app rows in f2 and i2, never both in one
array) and names its slots with @njit accessors (``repro.fairness.policy.tenant_counters`` ...). The slots are
fixed because the engine is compiled once for one state type (first-class function hooks, :mod:`repro.replay`);
a record with per-plug-in field names would be a new type, and a new engine compilation, per plug-in."""


# The engine sees the same arrays through numba StructRefs: one reference-counted object per argument, so a
# call costs one atomic increment instead of one per array (measured: it dominated the run time otherwise).
@structref.register
class ClusterRefType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class ClusterRef(structref.StructRefProxy):
    """Engine-side handle on a :class:`Cluster`'s arrays (same memory)."""


structref.define_proxy(ClusterRef, ClusterRefType, list(CLUSTER_FIELDS))


@structref.register
class PlugRefType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class PlugRef(structref.StructRefProxy):
    """Engine-side handle on a :class:`Plug`'s arrays (same memory)."""


structref.define_proxy(PlugRef, PlugRefType, list(PLUG_FIELDS))


@njit(cache=True)
def _new_cluster_ref(inst, instf, req, reqf, prio, group, members, models, conf, conff, woken, window):
    return ClusterRef(inst, instf, req, reqf, prio, group, members, models, conf, conff, woken, window)


@njit(cache=True)
def _new_plug_ref(p, f1, f2, i1, i2, i3, i4, s):
    return PlugRef(p, f1, f2, i1, i2, i3, i4, s)


def cluster_ref(cl: Cluster) -> ClusterRef:
    return _new_cluster_ref(*cl)


def plug_ref(plug: Plug) -> PlugRef:
    return _new_plug_ref(*plug)


def make_plug(p=(), f1=None, f2=None, i1=None, i2=None, i3=None, i4=None, s=()) -> Plug:
    """A :class:`Plug` with the right dtypes; absent 2-D arrays are (1, 1) zeros."""
    def f2d(a):
        return np.zeros((1, 1)) if a is None else np.ascontiguousarray(np.atleast_2d(np.asarray(a, np.float64)))

    def i2d(a):
        return np.zeros((1, 1), np.int64) if a is None else np.ascontiguousarray(np.atleast_2d(np.asarray(a, np.int64)))

    scalars = np.ascontiguousarray(np.asarray(s, np.int64).reshape(-1))
    return Plug(np.ascontiguousarray(np.asarray(p, np.float64).reshape(-1)), f2d(f1), f2d(f2), i2d(i1), i2d(i2),
                i2d(i3), i2d(i4), scalars if scalars.size else np.zeros(1, np.int64))


def copy_plug(plug: Plug) -> Plug:
    """A deep copy with the layout's dtypes (plug-in state is mutated by the run)."""
    if len(plug) != len(PLUG_FIELDS):
        raise ValueError(f"plug-in state: expected a Plug {PLUG_FIELDS}, got {type(plug).__name__}")
    return make_plug(*(np.array(a, copy=True) for a in plug))


def _prototype_cluster() -> Cluster:
    z = np.zeros
    return Cluster(z((1, N_IN), np.int64), z((1, N_IF)), z((1, N_RQ), np.int32), z((1, N_RF)),
                   z((1, 1), np.int8), z((1, N_G), np.int64), z((1, 1), np.int64), z((1, N_M)),
                   z(N_C, np.int64), z(N_CF), z(1, np.int64), z((1, 1, 2, 3), np.int64))


#: numba types of the state and of the five plug-in hooks (first-class function types: the engine is
#: compiled once for these types and cached; any @njit function with a matching signature plugs in).
CLUSTER_TYPE = ClusterRefType([(name, numba.typeof(a)) for name, a in zip(CLUSTER_FIELDS, _prototype_cluster())])
PLUG_TYPE = PlugRefType([(name, numba.typeof(a)) for name, a in zip(PLUG_FIELDS, make_plug())])
ON_ARRIVAL_SIG = types.int64(CLUSTER_TYPE, PLUG_TYPE, types.int64, types.float64)
SELECT_NEXT_SIG = types.int64(CLUSTER_TYPE, PLUG_TYPE, types.int64, types.float64)
NOTIFY_SIG = types.int64(CLUSTER_TYPE, PLUG_TYPE, types.int64, types.int64, types.int64, types.int64, types.float64)
REGION_ROUTER_SIG = types.int64(CLUSTER_TYPE, PLUG_TYPE, types.int64, types.float64)
INSTANCE_ROUTER_SIG = types.int64(CLUSTER_TYPE, PLUG_TYPE, types.int64, types.int64, types.float64)
ON_ARRIVAL_TYPE = types.FunctionType(ON_ARRIVAL_SIG)
SELECT_NEXT_TYPE = types.FunctionType(SELECT_NEXT_SIG)
NOTIFY_TYPE = types.FunctionType(NOTIFY_SIG)
REGION_ROUTER_TYPE = types.FunctionType(REGION_ROUTER_SIG)
INSTANCE_ROUTER_TYPE = types.FunctionType(INSTANCE_ROUTER_SIG)

HOOKS_FIELDS = ("policy_state", "on_arrival", "select_next", "notify", "router_state", "region_router",
                "instance_router")
#: The one record of plug-in hooks the engine receives: the queue policy's three hooks and state, the region and
#: instance routers and their shared state (states as engine-side :class:`PlugRef` handles).
Hooks = collections.namedtuple("Hooks", HOOKS_FIELDS)
HOOKS_TYPE = types.NamedTuple((PLUG_TYPE, ON_ARRIVAL_TYPE, SELECT_NEXT_TYPE, NOTIFY_TYPE, PLUG_TYPE,
                               REGION_ROUTER_TYPE, INSTANCE_ROUTER_TYPE), Hooks)


# ------------------------------------------------------------------------------------------ timing
@njit(cache=True)
def prefill_seconds(models, m, tokens, earlier):
    """Brief 01 §2 service model: p0 + p1*T + p2*T**2 for T > 0 prompt tokens prefilled in one iteration, plus the
    attention of chunked prefill over the earlier chunks of their prompts, 2*p2*``earlier`` with ``earlier`` = sum
    over the iteration's chunks of (chunk tokens x tokens of its prompt prefilled before) [our choice]: a chunk of c
    tokens after o earlier ones adds p2*((o + c)**2 - o**2), so a prompt prefilled alone in k chunks costs its
    unchunked prefill plus (k - 1)*p0 (whole prompts: ``earlier`` = 0, the brief's form)."""
    return (models[m, M_P0] + models[m, M_P1] * tokens
            + models[m, M_P2] * float(tokens * tokens + 2 * earlier))


@njit(cache=True)
def step_seconds(models, m, batch, context):
    """One decode step of ``batch`` requests holding ``context`` KV tokens: d0 + d1*min(batch, B_max) + d2*context
    (the batch term capped at the profiled range, :mod:`repro.latency`)."""
    return models[m, M_D0] + models[m, M_D1] * min(float(batch), models[m, M_BMAX]) + models[m, M_D2] * context


@njit(cache=True)
def decode_elapsed(a, d2, batch, k):
    """Seconds of k decode steps from an epoch whose first step costs ``a``: the context grows by
    ``batch`` tokens per step, so sum_{j<k} (a + d2*batch*j) = k*a + d2*batch*k(k-1)/2 (exact integers)."""
    return k * a + d2 * float(batch * ((k * (k - 1)) // 2))


@njit(cache=True)
def boundary_time(cl, i, k):
    """Time of the boundary after k decode steps of instance i's current decode epoch."""
    m = cl.inst[i, IN_MODEL]
    return cl.instf[i, IF_EP_T] + decode_elapsed(cl.instf[i, IF_EP_A], cl.models[m, M_D2], cl.inst[i, IN_EP_B], k)


@njit(cache=True)
def first_step_reaching(cl, i, t, kmin, inclusive):
    """Smallest k >= kmin whose boundary time is >= t (``inclusive``) or > t, in i's decode epoch."""
    m = cl.inst[i, IN_MODEL]
    a = cl.instf[i, IF_EP_A]
    d2 = cl.models[m, M_D2]
    b = cl.inst[i, IN_EP_B]
    dt = t - cl.instf[i, IF_EP_T]
    qa = 0.5 * d2 * b
    qb = a - qa
    if dt <= 0.0:
        est = 0.0
    elif qa > 0.0:
        est = (-qb + math.sqrt(qb * qb + 4.0 * qa * dt)) / (2.0 * qa)
    else:
        est = dt / qb
    k = max(kmin, int(est) - 1)
    while not _reaches(cl, i, k, t, inclusive):
        k += 1
    while k > kmin and _reaches(cl, i, k - 1, t, inclusive):
        k -= 1
    return k


@njit(cache=True)
def _reaches(cl, i, k, t, inclusive):
    bt = boundary_time(cl, i, k)
    return bt >= t if inclusive else bt > t


@njit(cache=True)
def decode_steps_done(cl, i, t, inclusive):
    """Decode steps instance i has completed since its epoch began, by time t: boundaries at times < t,
    or <= t when ``inclusive`` (plug-ins called at an arrival use inclusive=False: at equal times arrivals
    come before instance boundaries; the time series uses inclusive=True), and at least the steps of its
    last event. Zero outside a decode epoch."""
    if cl.inst[i, IN_MODE] != MODE_DECODE:
        return 0
    k = cl.inst[i, IN_COMMIT_K]
    if t > cl.instf[i, IF_EP_T]:
        # boundaries strictly before t are those before the first one at or after t
        k = max(k, first_step_reaching(cl, i, t, 0, not inclusive) - 1)
    return k


@njit(cache=True)
def _steps_since_commit(cl, i, t, inclusive):
    return decode_steps_done(cl, i, t, inclusive) - cl.inst[i, IN_COMMIT_K] if cl.inst[i, IN_MODE] == MODE_DECODE else 0


@njit(cache=True)
def kv_used(cl, i, t, inclusive):
    """KV tokens instance i holds at time t (reserve-full: reserved tokens; on-demand: prompt + generated)."""
    kv = cl.inst[i, IN_KV]
    if cl.conf[C_RESERVE] == RESERVE_ON_DEMAND:
        kv += cl.inst[i, IN_EP_B] * _steps_since_commit(cl, i, t, inclusive)
    return kv


@njit(cache=True)
def kv_used_all(cl, t, inclusive):
    """kv_used of every instance, as an int64 array."""
    n = cl.conf[C_N_INST]
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = kv_used(cl, i, t, inclusive)
    return out


@njit(cache=True)
def outstanding_tokens(cl, i, t, inclusive):
    """Prompt + output tokens still to process on instance i (waiting and running) at time t."""
    return (cl.inst[i, IN_WAIT_TOKENS] + cl.inst[i, IN_RUN_TOKENS]
            - cl.inst[i, IN_EP_B] * _steps_since_commit(cl, i, t, inclusive))


@njit(cache=True)
def request_generated(cl, r, t, inclusive):
    """Output tokens request r has generated by time t: the first (emitted by its first prefill) plus one per decode
    step (counting steps lost to preemption as generated)."""
    st = cl.req[r, RQ_STATE]
    if st == RS_DONE:
        return int(cl.req[r, RQ_OUTPUT])
    if st != RS_DECODE:
        return 0 if math.isnan(cl.reqf[r, RF_FIRST]) else int(cl.req[r, RQ_GENERATED]) + 1
    i = cl.req[r, RQ_INST]
    return cl.inst[i, IN_EP_S] + decode_steps_done(cl, i, t, inclusive) - cl.req[r, RQ_JOIN] + 1


@njit(cache=True)
def group_index(cl, model, region, pool):
    """Row of Cluster.group for (model, region, pool)."""
    return (model * cl.conf[C_N_REGIONS] + region) * cl.conf[C_N_POOLS] + pool


@njit(cache=True)
def group_utilisation(cl, g):
    """Memory utilisation of a group (brief 01 §2): KV tokens in use / KV capacity over its active instances,
    each instance's KV taken at its last event. 1.0 when the group has no active instance."""
    cap = cl.group[g, G_CAP]
    if cap <= 0:
        return 1.0
    return cl.group[g, G_KV] / cap


# ------------------------------------------------------------------------------------------ plug-in accessors
# The named reads a plug-in makes of the engine's state (the plug-in contract of repro.replay): a plug-in reads
# the cluster through these and the time-dependent helpers above, and writes only its own state.
# Inlined into the plug-in (numba IR level): a call would cost more than the read (see repro.replay.engine).
@njit(cache=True, inline="always")
def n_instances(cl):
    """Instances created so far (ids 0..n-1, including those that are off)."""
    return cl.conf[C_N_INST]


@njit(cache=True, inline="always")
def instance_status(cl, i):
    """SPINNING, ACTIVE, DRAINING or OFF."""
    return cl.inst[i, IN_STATUS]


@njit(cache=True, inline="always")
def kv_capacity(cl, i):
    """KV tokens instance i holds at most."""
    return cl.inst[i, IN_KVCAP]


@njit(cache=True, inline="always")
def waiting_count(cl, i):
    """Requests in instance i's waiting queue."""
    return cl.inst[i, IN_NWAIT]


@njit(cache=True, inline="always")
def running_count(cl, i):
    """Requests admitted on instance i (prefilling or decoding)."""
    return cl.inst[i, IN_NRUN]


@njit(cache=True, inline="always")
def queue_head(cl, i):
    """First request of instance i's waiting queue (-1: empty); walk it with :func:`next_request`."""
    return cl.inst[i, IN_QHEAD]


@njit(cache=True, inline="always")
def running_head(cl, i):
    """First request of instance i's running batch, in admission order (-1: none)."""
    return cl.inst[i, IN_RHEAD]


@njit(cache=True, inline="always")
def next_request(cl, r):
    """The request after r in its waiting queue or running batch (-1: r is the last)."""
    return cl.req[r, RQ_NEXT]


@njit(cache=True, inline="always")
def request_state(cl, r):
    """RS_* of request r."""
    return cl.req[r, RQ_STATE]


@njit(cache=True, inline="always")
def request_tenant(cl, r):
    return cl.req[r, RQ_TENANT]


@njit(cache=True, inline="always")
def request_app(cl, r):
    return cl.req[r, RQ_APP]


@njit(cache=True, inline="always")
def request_step(cl, r):
    """Position of r in its interaction (0: it starts one)."""
    return cl.req[r, RQ_STEP]


@njit(cache=True, inline="always")
def request_model(cl, r):
    return cl.req[r, RQ_MODEL]


@njit(cache=True, inline="always")
def request_pool(cl, r):
    return cl.req[r, RQ_POOL]


@njit(cache=True, inline="always")
def request_workload(cl, r):
    """0: interactive, 1: non-interactive."""
    return cl.req[r, RQ_WORKLOAD]


@njit(cache=True, inline="always")
def request_tokens(cl, r):
    """Prompt + output tokens of r (int64)."""
    return np.int64(cl.req[r, RQ_PROMPT]) + cl.req[r, RQ_OUTPUT]


@njit(cache=True, inline="always")
def request_arrival(cl, r):
    """Arrival time of r (NaN for a closed-loop call not released yet)."""
    return cl.reqf[r, RF_ARRIVAL]


@njit(cache=True, inline="always")
def n_region_choices(cl):
    """Length of every request's region priority list."""
    return cl.prio.shape[1]


@njit(cache=True, inline="always")
def region_choice(cl, r, x):
    """The x-th region of r's priority list (x = 0: its home region)."""
    return cl.prio[r, x]


@njit(cache=True, inline="always")
def group_size(cl, g):
    """Accepting (spinning-up or active) instances of group g."""
    return cl.group[g, G_NMEMBERS]


@njit(cache=True, inline="always")
def group_member(cl, g, x):
    """The x-th accepting instance of group g, in order of addition."""
    return cl.members[g, x]


@njit(cache=True, inline="always")
def request_group(cl, r, region):
    """Group of r's (model, region, pool)."""
    return group_index(cl, cl.req[r, RQ_MODEL], region, cl.req[r, RQ_POOL])
