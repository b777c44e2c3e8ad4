"""Python face of the replay engine: build the state from a Trace and a LatencyModel, replay in time chunks,
let a controller add and remove instances between chunks, and collect per-request, per-instance and
time-series results (brief 01 §2 "Long-term ILP"/"Short-term arbiters" need the chunks and the GPU-time
accounting; briefs 02 and 03 use the same object with one region). Semantics: see :mod:`repro.replay`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from numba import njit

from repro.replay import engine
from repro.replay.policies import QueuePolicy, fcfs
from repro.replay.routers import Router, make_router
from repro.replay.state import (
    ACTIVE, CF_NOW, CF_THINK, CF_TIMEOUT, C_CHUNK, C_CLOSED_LOOP, C_CUR_KIND, C_HELD_HEAD, C_HELD_TAIL, C_ITERATION,
    C_MAX_BATCH, C_N_HELD, C_N_INST, C_N_MODELS, C_N_POOLS, C_N_REGIONS, C_RESERVE, Cluster, FLAG_DROPPED,
    FLAG_THROTTLED, FLAG_TIMED_OUT, G_NMEMBERS, Hooks, IF_BUSY, IF_BUSY_SINCE, IF_T_DRAIN, IF_T_OFF, IF_T_READY,
    IF_T_REQUEST, IN_KVCAP, IN_MODEL, IN_NADMIT, IN_NFINISH, IN_NPREEMPT, IN_NRUN, IN_NWAIT, IN_POOL, IN_REGION,
    IN_STATUS, ITERATION_NAMES, KIND_CONTROLLER, M_BMAX, M_D0, M_D1, M_D2, M_KVCAP, M_P0, M_P1, M_P2, N_C, N_CF,
    N_G, N_IF, N_IN, N_M, N_RF, N_RQ, RESERVE_NAMES, RF_ADMIT, RF_ARRIVAL, RF_FINISH, RF_FIRST, RF_SLA, RQ_APP,
    RQ_FLAGS, RQ_INST, RQ_INTERACTION, RQ_MODEL, RQ_NEXT, RQ_NPREEMPT, RQ_OUTPUT, RQ_POOL, RQ_PREV, RQ_PROMPT,
    RQ_REGION, RQ_STEP, RQ_SUCC, RQ_TENANT, RQ_WORKLOAD, SPINNING, cluster_ref, copy_plug, group_index, kv_used_all,
    plug_ref,
)

INT32_MAX = np.iinfo(np.int32).max


# ------------------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class Snapshot:
    """What a controller sees at time ``t`` (end of a chunk). Per-instance arrays are indexed by instance id
    (0..n_instances-1, including instances that are off). ``arrivals[m, j, w, c]``: requests of model m whose
    home (first-priority) region is j and workload class w that arrived during the chunk ending at t;
    c = 0 count, 1 prompt tokens, 2 output tokens. ``busy_fraction``: share of the chunk each instance had
    admitted requests. ``kv_used``: KV tokens in use at t."""
    t: float
    t_prev: float
    model: np.ndarray
    region: np.ndarray
    pool: np.ndarray
    status: np.ndarray
    n_running: np.ndarray
    n_waiting: np.ndarray
    kv_used: np.ndarray
    kv_capacity: np.ndarray
    busy_fraction: np.ndarray
    arrivals: np.ndarray
    n_held: int

    @property
    def utilisation(self) -> np.ndarray:
        """Memory utilisation per instance (brief 01 §2: KV in use / KV capacity)."""
        return self.kv_used / self.kv_capacity

    def accepting(self, model: int, region: int, pool: int = 0) -> np.ndarray:
        """Ids of the instances of (model, region, pool) that are spinning up or active."""
        return np.flatnonzero((self.model == model) & (self.region == region) & (self.pool == pool)
                              & ((self.status == SPINNING) | (self.status == ACTIVE)))


@dataclass(frozen=True)
class Add:
    """Controller action: k new instances of (model, region, pool), serving after ``delay`` seconds."""
    model: int
    region: int
    k: int = 1
    delay: float = 0.0
    pool: int = 0


@dataclass(frozen=True)
class Remove:
    """Controller action: drain k instances of (model, region, pool), chosen by ``Simulation.pick_removable``,
    or exactly the instances ``ids`` when given."""
    model: int = -1
    region: int = -1
    k: int = 1
    pool: int = 0
    ids: tuple = ()


@dataclass(frozen=True)
class ReplayResult:
    """Per request (arrays over the trace rows): ``arrival`` (actual; closed-loop calls are released
    think_time after their predecessor finishes, NaN if never released), ``admit`` (first admission),
    ``first_token``, ``finish`` (NaN when it did not happen), ``instance`` and ``region`` (last ones, -1 if
    never routed), ``flags`` (FLAG_* bits), ``n_preemptions``.
    Per instance: ``instances`` dict of arrays (model, region, pool, status, t_request, t_ready, t_drain,
    t_off (inf while on), gpu_seconds = instance-seconds from the add request until off or ``t_end``,
    n_admitted, n_finished, n_preempted).
    Time series (``resolution`` > 0): ``ts_times`` (n_ticks,) and ``ts[name]`` (n_ticks, n_instances) for
    name in status (-1 before the instance existed), n_running, n_waiting, kv_used, busy_fraction (share of the
    tick interval busy); tick k samples the state at k * resolution after every event at that time."""
    t_end: float
    arrival: np.ndarray
    admit: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    instance: np.ndarray
    region: np.ndarray
    flags: np.ndarray
    n_preemptions: np.ndarray
    instances: dict
    ts_times: np.ndarray
    ts: dict = field(default_factory=dict)

    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> np.ndarray:
        return self.finish - self.arrival

    @property
    def finished(self) -> np.ndarray:
        return np.isfinite(self.finish)

    @property
    def dropped(self) -> np.ndarray:
        return (self.flags & FLAG_DROPPED) != 0

    @property
    def throttled(self) -> np.ndarray:
        return (self.flags & FLAG_THROTTLED) != 0

    @property
    def timed_out(self) -> np.ndarray:
        """Requests that left unserved at arrival + queue_timeout_s (never admitted by then)."""
        return (self.flags & FLAG_TIMED_OUT) != 0

    def gpu_hours(self, gpus_per_instance: int = 8) -> float:
        """Brief 01 C1: sum of instance-hours x GPUs per instance."""
        return float(self.instances["gpu_seconds"].sum()) / 3600.0 * gpus_per_instance


# ------------------------------------------------------------------------------------------ setup
def _closed_loop_links(interaction: np.ndarray, step: np.ndarray) -> np.ndarray:
    """succ[r] = the next call of r's interaction (step + 1), -1 if none."""
    n = interaction.shape[0]
    succ = np.full(n, -1, np.int32)
    idx = np.flatnonzero(interaction >= 0)
    if idx.size == 0:
        return succ
    order = idx[np.lexsort((step[idx], interaction[idx]))]
    inter = interaction[order]
    st = step[order].astype(np.int64)
    first = np.ones(order.size, bool)
    first[1:] = inter[1:] != inter[:-1]
    if np.any(st[first] != 0):
        bad = order[first][st[first] != 0][0]
        raise ValueError(f"Trace.step: closed loop needs every interaction to start at step 0; interaction "
                         f"{interaction[bad]} (row {bad}) starts at step {step[bad]}")
    gap = ~first & (st != np.roll(st, 1) + 1)
    if np.any(gap):
        bad = order[np.flatnonzero(gap)[0]]
        raise ValueError(f"Trace.step: interaction {interaction[bad]} (row {bad}) has step {step[bad]} "
                         f"without the step before it (or twice)")
    nxt = np.flatnonzero(~first)
    succ[order[nxt - 1]] = order[nxt]
    return succ


@njit(cache=True)
def _fill_requests(req, reqf, arrival, sla, prompt, output, model, tenant, app, interaction, step, workload, pool_of):
    """Rows of Cluster.req / Cluster.reqf from the trace's columns, in one pass over memory."""
    for r in range(req.shape[0]):
        for c in range(req.shape[1]):
            req[r, c] = 0
        req[r, RQ_PROMPT] = prompt[r]
        req[r, RQ_OUTPUT] = output[r]
        req[r, RQ_MODEL] = model[r]
        req[r, RQ_TENANT] = tenant[r]
        req[r, RQ_APP] = app[r]
        req[r, RQ_INTERACTION] = interaction[r]
        req[r, RQ_STEP] = step[r]
        req[r, RQ_WORKLOAD] = workload[r]
        req[r, RQ_POOL] = pool_of[workload[r]]
        req[r, RQ_INST] = -1
        req[r, RQ_REGION] = -1
        req[r, RQ_NEXT] = -1
        req[r, RQ_PREV] = -1
        req[r, RQ_SUCC] = -1
        for c in range(reqf.shape[1]):
            reqf[r, c] = np.nan
        reqf[r, RF_ARRIVAL] = arrival[r]
        reqf[r, RF_SLA] = sla[r]


def build_cluster(trace, latency, *, max_batch: int, reserve: str, chunk_tokens, workload_pool, n_pools: int,
                  think_time, capacity: int, queue_timeout_s: float = math.inf, iteration: str = "mixed") -> tuple[Cluster, np.ndarray, int]:
    """The state arrays for a trace; returns (cluster, root request order, number of closed-loop successors)."""
    n = len(trace)
    n_models = len(latency.names)
    n_regions = trace.n_regions
    if n and int(trace.model.max()) >= n_models:
        raise ValueError(f"trace.model: model index {int(trace.model.max())} has no entry in the latency model "
                         f"({n_models} models: {latency.names})")
    if n and int(trace.interaction.max()) > INT32_MAX:
        raise ValueError("trace.interaction: ids above 2**31-1 are not supported by the replay")
    pool_of = np.asarray(workload_pool, np.int64)
    if pool_of.shape != (2,) or pool_of.min() < 0 or pool_of.max() >= n_pools:
        raise ValueError(f"workload_pool: expected two pool ids in 0..{n_pools - 1} (interactive, non-interactive), "
                         f"got {workload_pool!r}")
    req = np.empty((n, N_RQ), np.int32)
    reqf = np.empty((n, N_RF))
    _fill_requests(req, reqf, trace.arrival, trace.sla, trace.prompt_tokens, trace.output_tokens, trace.model,
                   trace.tenant, trace.app, trace.interaction, trace.step, trace.workload, pool_of)
    closed = think_time is not None
    n_succ = 0
    if closed:
        succ = _closed_loop_links(trace.interaction, trace.step)
        req[:, RQ_SUCC] = succ
        is_succ = np.zeros(n, bool)
        is_succ[succ[succ >= 0]] = True
        reqf[is_succ, RF_ARRIVAL] = np.nan
        roots = np.flatnonzero(~is_succ)
        n_succ = int(is_succ.sum())
    else:
        roots = np.arange(n, dtype=np.int64)
    models = np.zeros((n_models, N_M))
    models[:, [M_P0, M_P1, M_P2]] = latency.prefill
    models[:, [M_D0, M_D1, M_D2]] = latency.decode
    models[:, M_KVCAP] = latency.kv_capacity_tokens
    models[:, M_BMAX] = getattr(latency, "batch_cap", np.inf)
    conf = np.zeros(N_C, np.int64)
    conf[C_MAX_BATCH] = max_batch
    conf[C_CHUNK] = 0 if chunk_tokens is None else int(chunk_tokens)
    conf[C_RESERVE] = RESERVE_NAMES.index(reserve)
    conf[C_ITERATION] = ITERATION_NAMES.index(iteration)
    conf[C_N_MODELS] = n_models
    conf[C_N_REGIONS] = n_regions
    conf[C_N_POOLS] = n_pools
    conf[[C_HELD_HEAD, C_HELD_TAIL]] = -1
    conf[C_CLOSED_LOOP] = int(closed)
    conf[C_CUR_KIND] = KIND_CONTROLLER
    conff = np.zeros(N_CF)
    conff[CF_THINK] = 0.0 if think_time is None else float(think_time)
    conff[CF_TIMEOUT] = float(queue_timeout_s)
    n_groups = n_models * n_regions * n_pools
    cl = Cluster(inst=np.zeros((capacity, N_IN), np.int64), instf=np.zeros((capacity, N_IF)), req=req, reqf=reqf,
                 prio=np.ascontiguousarray(trace.region_priority, np.int8), group=np.zeros((n_groups, N_G), np.int64),
                 members=np.full((n_groups, capacity), -1, np.int64), models=models, conf=conf, conff=conff,
                 woken=np.zeros(capacity, np.int64), window=np.zeros((n_models, n_regions, 2, 3), np.int64))
    return cl, roots, n_succ


def _check_latency(latency) -> None:
    p = np.asarray(latency.prefill, np.float64)
    d = np.asarray(latency.decode, np.float64)
    k = np.asarray(latency.kv_capacity_tokens)
    n = len(latency.names)
    if p.shape != (n, 3) or d.shape != (n, 3) or k.shape != (n,):
        raise ValueError(f"latency: expected prefill and decode of shape ({n}, 3) and kv_capacity_tokens ({n},), "
                         f"got {p.shape}, {d.shape}, {k.shape}")
    if not (np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(np.isfinite(d)) and np.all(d >= 0)):
        raise ValueError("latency: coefficients must be finite and >= 0")
    if np.any(d[:, 0] <= 0) or np.any(p[:, 0] + p[:, 1] <= 0):
        raise ValueError("latency: every iteration must take time: need decode d0 > 0 and prefill p0 + p1 > 0")
    if np.any(k < 1):
        raise ValueError("latency.kv_capacity_tokens: expected >= 1 token per instance")
    cap = np.asarray(getattr(latency, "batch_cap", np.full(n, np.inf)), np.float64)
    if cap.shape != (n,) or np.any(np.isnan(cap)) or np.any(cap < 1):
        raise ValueError(f"latency.decode_batch_max: expected one cap >= 1 per model ({n}), got {cap}")


# ------------------------------------------------------------------------------------------ simulation
class Simulation:
    """Trace replay over a cluster of LLM instances, advanced in time chunks.

    Parameters
    ----------
    trace: repro.traces.Trace (sorted by arrival).
    latency: repro.latency.LatencyModel (one row per model index of the trace).
    instances: initial instances, active at t = 0: an int array of counts, shape (n_models, n_regions) or
        (n_models, n_regions, n_pools).
    max_batch: requests admitted at once per instance (brief 01: 512, brief 03: 128).
    reserve: "full" (admission reserves prompt + output tokens of KV; never preempts) or "on_demand"
        (reserves the prompt, grows a token per decode step, preempts the newest request when full; vLLM).
    chunk_tokens: chunked prefill, tokens per iteration (decode tokens count against it); None = whole prompts.
        A chunk also pays attention over its prompt's earlier chunks (``state.prefill_seconds``).
    iteration: "mixed" (default: an iteration runs the waiting prefills and one decode step of the batch) or
        "prefill_priority" (vLLM v0: an iteration with prefills runs them alone and the decodes stall; whole
        prompts only, since chunked prefill mixes decodes into every iteration by design).
    queue_policy: a QueuePolicy (default FCFS). router: a Router (default first serving region, round robin).
    workload_pool: pool id of (interactive, non-interactive) requests; (0, 1) with pools 0/1 = siloed pools.
    n_pools: number of pools (default max(workload_pool) + 1, at least the instances' pools).
    think_time: None for open loop (every request arrives at its trace time); a number > 0 for closed loop:
        call k+1 of an interaction arrives think_time seconds after call k finishes (brief 02 §2).
    resolution: seconds between time-series samples (None: no time series).
    queue_timeout_s: a request not admitted (its first prefill not started) within this many seconds of its
        arrival leaves at exactly arrival + queue_timeout_s, flagged FLAG_TIMED_OUT (closed loop: the rest of its
        interaction is aborted); a preempted, requeued request does not time out. inf (default): never.
    """

    def __init__(self, trace, latency, instances, *, max_batch: int = 512, reserve: str = "full",
                 chunk_tokens: int | None = None, queue_policy: QueuePolicy | None = None,
                 router: Router | None = None, workload_pool=(0, 0), n_pools: int | None = None,
                 think_time: float | None = None, resolution: float | None = None,
                 queue_timeout_s: float = math.inf, iteration: str = "mixed"):
        _check_latency(latency)
        if max_batch < 1:
            raise ValueError(f"max_batch: expected >= 1, got {max_batch}")
        if reserve not in RESERVE_NAMES:
            raise ValueError(f"reserve: expected one of {RESERVE_NAMES}, got {reserve!r}")
        if chunk_tokens is not None and chunk_tokens < 1:
            raise ValueError(f"chunk_tokens: expected None or >= 1, got {chunk_tokens}")
        if iteration not in ITERATION_NAMES:
            raise ValueError(f"iteration: expected one of {ITERATION_NAMES}, got {iteration!r}")
        if iteration == "prefill_priority" and chunk_tokens is not None:
            raise ValueError(f"iteration='prefill_priority' prefills whole prompts alone; chunk_tokens={chunk_tokens} "
                             "mixes decodes into every iteration: pass one or the other")
        if think_time is not None and not think_time > 0:
            raise ValueError(f"think_time: expected None (open loop) or > 0 seconds, got {think_time}")
        if resolution is not None and not resolution > 0:
            raise ValueError(f"resolution: expected None or > 0 seconds, got {resolution}")
        if not queue_timeout_s > 0:
            raise ValueError(f"queue_timeout_s: expected > 0 seconds (inf: no timeout), got {queue_timeout_s}")
        counts = np.asarray(instances, np.int64)
        n_models, n_regions = len(latency.names), trace.n_regions
        if counts.ndim == 2:
            counts = counts[:, :, None]
        if counts.ndim != 3 or counts.shape[:2] != (n_models, n_regions) or counts.min() < 0:
            raise ValueError(f"instances: expected non-negative counts of shape ({n_models}, {n_regions}) or "
                             f"({n_models}, {n_regions}, n_pools), got shape {np.shape(instances)}")
        n_pools = int(n_pools or max(max(workload_pool) + 1, counts.shape[2]))
        if counts.shape[2] > n_pools:
            raise ValueError(f"instances: {counts.shape[2]} pools given but n_pools={n_pools}")
        # plug-in state is mutable: each simulation works on its own copy (read it back from sim.queue_policy)
        qp, rt = queue_policy or fcfs(), router or make_router()
        self.queue_policy = dataclasses.replace(qp, state=copy_plug(qp.state))
        self.router = dataclasses.replace(rt, state=copy_plug(rt.state))
        self.resolution = float(resolution or 0.0)
        self.max_batch = int(max_batch)
        capacity = max(8, int(counts.sum()) * 2)
        self.cl, roots, n_succ = build_cluster(trace, latency, max_batch=max_batch, reserve=reserve,
                                               chunk_tokens=chunk_tokens, workload_pool=workload_pool,
                                               n_pools=n_pools, think_time=think_time, capacity=capacity,
                                               queue_timeout_s=queue_timeout_s, iteration=iteration)
        qp, rt = self.queue_policy, self.router
        self._hooks = Hooks(plug_ref(qp.state), qp.on_arrival, qp.select_next, qp.notify, plug_ref(rt.state),
                            rt.region_router, rt.instance_router)
        self._init_backend(roots, n_succ, capacity, math.isfinite(queue_timeout_s))
        self._ts_chunks: list[np.ndarray] = []
        self._ts_first_tick = 1
        self._chunk_start = (0.0, np.zeros(0))   # (time, busy seconds per instance) when the last chunk began
        for (m, j, p), k in np.ndenumerate(counts):
            for _ in range(int(k)):
                self._add(m, j, p, 0.0, 0.0, True)

    # -------------------------------------------------------------- backend (the reference overrides these)
    def _init_backend(self, roots, n_succ, capacity, timeouts):
        self._fns = engine.entries()
        self.es = engine.new_engine_state(self.cl.req.shape[0], capacity, self.max_batch, roots, n_succ, timeouts)
        self.es.ints[engine.E_NEXT_TICK] = 1
        self._refs()

    def _grow_backend(self, capacity):
        self.es = engine.grow_engine_state(self.es, capacity)
        self._refs()

    def _refs(self):
        self._cl_ref, self._es_ref = cluster_ref(self.cl), engine.engine_ref(self.es)

    def _advance(self, t_end, ts, tick0):
        return self._fns["advance"](self._cl_ref, self._es_ref, ts, self._hooks, float(t_end), int(tick0),
                                    self.resolution)

    def _add(self, model, region, pool, t, delay, active):
        if self.cl.conf[C_N_INST] >= self.cl.inst.shape[0]:
            self._grow(2 * self.cl.inst.shape[0])
        return int(self._fns["add_instance"](self._cl_ref, self._es_ref, int(model), int(region), int(pool), float(t),
                                             float(delay), bool(active)))

    def _drain(self, i, t):
        self._fns["drain"](self._cl_ref, self._es_ref, self._hooks, int(i), float(t))

    def _assign(self, r, i, t):
        self._fns["assign_held"](self._cl_ref, self._es_ref, self._hooks, int(r), int(i), float(t))

    def _pending_events(self) -> bool:
        es = self.es
        return (es.ints[engine.E_ROOT_PTR] < es.roots.shape[0] or es.ints[engine.E_REL_N] > 0
                or es.ints[engine.E_EV_N] > 0 or es.ints[engine.E_TMO_HEAD] < es.ints[engine.E_TMO_TAIL])

    # -------------------------------------------------------------- public API
    @property
    def now(self) -> float:
        return float(self.cl.conff[CF_NOW])

    @property
    def n_instances(self) -> int:
        return int(self.cl.conf[C_N_INST])

    @property
    def done(self) -> bool:
        """No arrival, instance or timeout event is left (held requests may remain)."""
        return not self._pending_events()

    def run_until(self, t: float) -> Snapshot:
        """Process every event at times <= t; return the controller's view at t."""
        t = float(t)
        if not t >= self.now:
            raise ValueError(f"run_until: t={t} is before the current time {self.now}")
        if self.resolution > 0 and not math.isfinite(t):
            raise ValueError("run_until: t must be finite when a time series is recorded")
        self.cl.window[:] = 0
        self._chunk_start = (self.now, self._busy_seconds())
        tick0 = self._ts_first_tick + sum(c.shape[0] for c in self._ts_chunks)
        n_ticks = 0
        if self.resolution > 0:
            last = math.floor(t / self.resolution)
            while (last + 1) * self.resolution <= t:
                last += 1
            while last * self.resolution > t:
                last -= 1
            n_ticks = max(0, last - tick0 + 1)
        ts = np.zeros((n_ticks, self.cl.inst.shape[0], engine.N_TS))
        ts[:, :, engine.TS_STATUS] = -1     # instances that do not exist yet
        self._advance(t, ts, tick0)
        if n_ticks:
            self._ts_chunks.append(ts)
        return self.snapshot()

    def _busy_seconds(self) -> np.ndarray:
        cl, n = self.cl, self.n_instances
        since = cl.instf[:n, IF_BUSY_SINCE]
        return cl.instf[:n, IF_BUSY] + np.where(np.isnan(since), 0.0, self.now - since)

    def snapshot(self) -> Snapshot:
        """The controller's view now; the arrival window and busy fractions cover the last run_until chunk."""
        cl, n, t = self.cl, self.n_instances, self.now
        t0, busy0 = self._chunk_start
        prev = np.zeros(n)
        prev[:busy0.size] = busy0
        span = t - t0
        frac = (self._busy_seconds() - prev) / span if span > 0 else np.zeros(n)
        kv = self._kv_used_all(t)
        return Snapshot(t=t, t_prev=t0, model=cl.inst[:n, IN_MODEL].copy(), region=cl.inst[:n, IN_REGION].copy(),
                        pool=cl.inst[:n, IN_POOL].copy(), status=cl.inst[:n, IN_STATUS].copy(),
                        n_running=cl.inst[:n, IN_NRUN].copy(), n_waiting=cl.inst[:n, IN_NWAIT].copy(), kv_used=kv,
                        kv_capacity=cl.inst[:n, IN_KVCAP].copy(), busy_fraction=frac, arrivals=cl.window.copy(),
                        n_held=int(cl.conf[C_N_HELD]))

    def _kv_used_all(self, t):
        return kv_used_all(self._cl_ref, t, True)

    def add_instances(self, model: int, region: int, k: int = 1, delay: float = 0.0, pool: int = 0) -> list[int]:
        """Request k instances of (model, region, pool) now; they serve after ``delay`` seconds (brief 01:
        155 s spin-up, 65 s spot reclaim). GPU time counts from now."""
        self._check_group(model, region, pool)
        if not delay >= 0:
            raise ValueError(f"add_instances: delay must be >= 0, got {delay}")
        return [self._add(model, region, pool, self.now, delay, False) for _ in range(int(k))]

    def remove_instances(self, ids: Iterable[int]) -> None:
        """Drain these instances: no new requests, waiting ones are rerouted now, running ones finish, then off.
        A spinning-up instance is cancelled at once."""
        for i in ids:
            if not 0 <= int(i) < self.n_instances:
                raise ValueError(f"remove_instances: no instance {i} (have {self.n_instances})")
            self._drain(int(i), self.now)

    def pick_removable(self, model: int, region: int, k: int, pool: int = 0) -> list[int]:
        """Which k instances of (model, region, pool) to remove: spinning-up ones first (newest first), then
        active ones with the fewest waiting + running requests (ties: newest first)."""
        self._check_group(model, region, pool)
        cl = self.cl
        g = int(group_index(cl, model, region, pool))
        mem = cl.members[g, :cl.group[g, G_NMEMBERS]]
        key = [(cl.inst[i, IN_STATUS] != SPINNING, cl.inst[i, IN_NRUN] + cl.inst[i, IN_NWAIT], -i) for i in mem]
        order = sorted(range(len(mem)), key=lambda x: key[x])
        return [int(mem[x]) for x in order[:k]]

    def assign(self, request: int, instance: int) -> None:
        """Route a held request to an instance (deferred routing by the controller)."""
        if not 0 <= int(instance) < self.n_instances:
            raise ValueError(f"assign: no instance {instance}")
        self._assign(int(request), int(instance), self.now)

    def held(self) -> np.ndarray:
        """Requests in the hold queue, in order."""
        out, r = [], int(self.cl.conf[C_HELD_HEAD])
        while r >= 0:
            out.append(r)
            r = int(self.cl.req[r, RQ_NEXT])
        return np.array(out, np.int64)

    def apply(self, actions) -> None:
        """Apply controller actions (Add / Remove)."""
        for a in actions or ():
            if isinstance(a, Add):
                self.add_instances(a.model, a.region, a.k, a.delay, a.pool)
            elif isinstance(a, Remove):
                self.remove_instances(a.ids if a.ids else self.pick_removable(a.model, a.region, a.k, a.pool))
            else:
                raise ValueError(f"apply: unknown action {a!r}; expected Add or Remove")

    def run(self, controller: Callable | None = None, interval: float = 3600.0,
            until: float | None = None) -> ReplayResult:
        """Replay in chunks of ``interval`` seconds until ``until`` (default: until no event is left), calling
        ``controller(sim, snapshot)`` after each chunk; it may return Add/Remove actions or call the methods."""
        if not interval > 0:
            raise ValueError(f"run: interval must be > 0, got {interval}")
        while (until is None and not self.done) or (until is not None and self.now < until):
            t = self.now + interval if until is None else min(self.now + interval, until)
            snap = self.run_until(t)
            if controller is not None:
                self.apply(controller(self, snap))
        return self.result()

    def result(self) -> ReplayResult:
        cl, n, t = self.cl, self.n_instances, self.now
        f = cl.instf[:n]
        t_off = f[:, IF_T_OFF]
        inst = {
            "model": cl.inst[:n, IN_MODEL].copy(), "region": cl.inst[:n, IN_REGION].copy(),
            "pool": cl.inst[:n, IN_POOL].copy(), "status": cl.inst[:n, IN_STATUS].copy(),
            "t_request": f[:, IF_T_REQUEST].copy(), "t_ready": f[:, IF_T_READY].copy(),
            "t_drain": f[:, IF_T_DRAIN].copy(), "t_off": t_off.copy(),
            "gpu_seconds": np.minimum(t_off, t) - f[:, IF_T_REQUEST],
            "n_admitted": cl.inst[:n, IN_NADMIT].copy(), "n_finished": cl.inst[:n, IN_NFINISH].copy(),
            "n_preempted": cl.inst[:n, IN_NPREEMPT].copy(),
        }
        ts_times = np.zeros(0)
        ts = {}
        if self._ts_chunks:
            full = np.zeros((sum(c.shape[0] for c in self._ts_chunks), n, engine.N_TS))
            full[:, :, engine.TS_STATUS] = -1
            row = 0
            for c in self._ts_chunks:
                k = min(n, c.shape[1])
                full[row:row + c.shape[0], :k] = c[:, :k]
                row += c.shape[0]
            ts_times = (self._ts_first_tick + np.arange(full.shape[0])) * self.resolution
            busy = full[:, :, engine.TS_BUSY]
            ts = {"status": full[:, :, engine.TS_STATUS].astype(np.int8),
                  "n_running": full[:, :, engine.TS_NRUN].astype(np.int32),
                  "n_waiting": full[:, :, engine.TS_NWAIT].astype(np.int32),
                  "kv_used": full[:, :, engine.TS_KV].astype(np.int64),
                  "busy_fraction": np.diff(busy, axis=0, prepend=0.0) / self.resolution}
        return ReplayResult(
            t_end=t, arrival=cl.reqf[:, RF_ARRIVAL].copy(), admit=cl.reqf[:, RF_ADMIT].copy(),
            first_token=cl.reqf[:, RF_FIRST].copy(), finish=cl.reqf[:, RF_FINISH].copy(),
            instance=cl.req[:, RQ_INST].copy(), region=cl.req[:, RQ_REGION].copy(),
            flags=cl.req[:, RQ_FLAGS].copy(), n_preemptions=cl.req[:, RQ_NPREEMPT].copy(), instances=inst,
            ts_times=ts_times, ts=ts)

    # -------------------------------------------------------------- helpers
    def _check_group(self, model, region, pool):
        c = self.cl.conf
        if not (0 <= model < c[C_N_MODELS] and 0 <= region < c[C_N_REGIONS] and 0 <= pool < c[C_N_POOLS]):
            raise ValueError(f"(model, region, pool)=({model}, {region}, {pool}) out of range: "
                             f"{c[C_N_MODELS]} models, {c[C_N_REGIONS]} regions, {c[C_N_POOLS]} pools")

    def _grow(self, capacity):
        cl = self.cl
        old = cl.inst.shape[0]

        def grow(a, fill, axis=0):
            shape = list(a.shape)
            shape[axis] = capacity
            out = np.full(shape, fill, a.dtype)
            out[(slice(None),) * axis + (slice(0, old),)] = a
            return out

        self.cl = cl._replace(inst=grow(cl.inst, 0), instf=grow(cl.instf, 0.0), woken=grow(cl.woken, 0),
                              members=grow(cl.members, -1, axis=1))
        self._grow_backend(capacity)


def simulate(trace, latency, instances, *, controller: Callable | None = None, interval: float = 3600.0,
             until: float | None = None, **options) -> ReplayResult:
    """One call: build a :class:`Simulation` with ``options`` and run it to the end (see ``Simulation.run``)."""
    return Simulation(trace, latency, instances, **options).run(controller, interval, until)


__all__ = ["Add", "Remove", "ReplayResult", "Simulation", "Snapshot", "build_cluster", "simulate"]
