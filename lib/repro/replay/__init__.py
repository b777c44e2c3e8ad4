"""LLM cluster trace replay: a numba event loop over instances with iteration-level continuous batching.

Implements the instance and cluster model shared by brief 01 (SageServe) §2 "Entities", "Service model",
"Global router", "Short-term arbiters" (scaling with spin-up and spot-reclaim delays, unified vs siloed
pools), brief 02 (FairServe) §2 "Server model" (per-tenant queue policies and throttling plug in) and
brief 03 (Router) §2 "Instance model" (routers that see per-instance state, deferred routing, preemption,
chunked prefill). One engine serves all three; papers plug in policies, they never copy it.

Quick start::

    from repro.replay import Simulation, make_router, policies
    sim = Simulation(trace, latency, instances=np.full((n_models, n_regions), 20), max_batch=512,
                     router=make_router("shortest_queue", region="sageserve"), resolution=60.0)
    result = sim.run(controller=my_controller, interval=3600.0)   # or sim.run_until(t) step by step

Semantics (the engine, ``engine.py``, and the pure-Python reference, ``reference.py``, implement exactly
this; tests hold them equal to the last bit):

Requests. A request arrives at its trace time (closed loop, ``think_time`` > 0: call k+1 of an interaction
arrives think_time after call k finishes). On arrival it is counted in the controller's window, then
dropped (FLAG_DROPPED) if prompt + output tokens exceed one instance's KV capacity (it could never
complete), then offered to the queue policy's ``on_arrival`` (non-zero: FLAG_THROTTLED; in closed loop the
rest of its interaction is aborted, FLAG_ABORTED), then routed: the region router picks a region, the
instance router an instance of the request's (model, region, pool) that is spinning up or active. The
pool of a request is ``workload_pool[workload]`` (unified pools: (0, 0); siloed: (0, 1)). A router may
return -1: the request is held (FLAG_HELD) and routed again whenever an instance becomes active, or by the
controller (``Simulation.assign``).

Queue timeout (``queue_timeout_s``, default inf). A routed request that has not been admitted (its first prefill
has not started) by arrival + queue_timeout_s leaves at exactly that time: it is taken out of its waiting queue
(the queue policy is told EV_UNQUEUE, and the instance marked dirty, since the request behind it may fit) or out
of the hold queue, flagged FLAG_TIMED_OUT, never served; in closed loop the rest of its interaction is aborted.
A request preempted and requeued (it was admitted once) does not time out. So every request ends exactly once:
done, dropped, throttled, timed out or aborted (or stays held for ever without a timeout).

Instances. Each instance runs iterations back to back while it has admitted requests. At an iteration
boundary at time t it (1) accounts the iteration that ended: every decoding request generated one token,
prefill chunks were computed, and a request whose prefill is complete starts decoding (its first prefill
emitted its first output token: first-token time t, the end of its prefill iteration, EV_FIRST); (2) finishes
every request that has made o - 1 decode steps, o = ``output_tokens`` (brief 01 §7: the prefill emits the
first token, so o = 1 finishes at the end of its prefill; finish time t, its KV freed); (3) with on-demand
KV, preempts the most recently admitted request while the next decode step does not fit (vLLM recompute: it
returns to the front of the queue and later re-prefills prompt + the tokens of its decode steps, which
restores its KV and emits no token [our choice]; it then makes its remaining decode steps; first-token time
is kept); (4) a draining instance with nothing
left goes off; (5) if the instance is active, *dirty* (since its last admission attempt a request was
queued on it, finished, or completed its prefill) and has a batch slot free, it admits: it asks the
queue policy's ``select_next`` for a waiting request and admits it if KV has room, repeatedly while
batch < max_batch (and, with chunked prefill, budget is left), stopping at the first request that does
not fit (head-of-line blocking);
(6) it starts the next iteration: prefill tokens T = the prompt chunks of requests still prefilling (all
of each prompt, or with ``chunk_tokens`` = B a budget of B - (number decoding) tokens shared first come
first served), and one decode step for the b decoding requests holding context c KV tokens. Its duration is
``prefill(T) + step(b, c)`` (either term absent when T = 0 or b = 0), with the LatencyModel's
prefill(T) = p0 + p1 T + p2 T^2 and step(b, c) = d0 + d1 min(b, B_max) + d2 c, the batch term capped at the
largest profiled batch B_max (:mod:`repro.latency`, "decode bound"; no cap for a model without one). A chunk of
c tokens of a prompt whose first o tokens were prefilled earlier also attends over them: prefill adds
2 p2 sum(o c) over the iteration's chunks [our choice], so that a prompt prefilled alone in k chunks costs its
unchunked prefill plus (k - 1) p0. Iteration mode ``iteration``: "mixed" (default) as above; "prefill_priority"
(vLLM v0's scheduler): an iteration with prompts to prefill runs them alone, the decoding requests make no step
(b is taken as 0) and wait for the next iteration without prefills; whole prompts only (no ``chunk_tokens``).

KV reserve policy. "full" (default): admission reserves prompt + output tokens, so the cache never
overflows and nothing is preempted; "on_demand": admission takes prompt (+ decode steps made, after a
preemption) tokens and needs room for the coming decode step (in "prefill_priority" mode the step after the
prefills, which the request itself and every prefill admitted before it take part in: with the decodes stalled
while prefills run, the newest request would otherwise be preempted and readmitted forever), each decode step adds one token per decoding
request (a request finishing holds prompt + o - 1), preemption as in (3). A request is never admitted beyond capacity: KV in use <= capacity always.

Admission control: prompt + output > capacity is dropped at arrival. With on-demand KV a request just
preempted can be readmitted at once if it fits (vLLM without a watermark); that is the defined behaviour.

Exact event skipping. Between two changes of its batch an instance's decode steps form an *epoch*: the
batch b is fixed and the context grows by b per step, so the boundary after k steps is at
``t_epoch + k*a + d2*b*k(k-1)/2`` with a = step(b, c_epoch) (``state.decode_elapsed``). The engine jumps
straight to the next boundary where something can happen (a finish, on-demand KV full, or the first
boundary at or after a request was queued on an active instance with a free slot); the reference walks
every boundary. All times are computed from the epoch with this formula in both, so they agree exactly.
Decode steps are *committed* (the ``EV_DECODE`` notification to the queue policy, and the KV and
outstanding tokens stored in the state) at those event boundaries only; the state helpers add the steps
made since, so plug-ins always read current values. Ordering: events at equal times are processed
arrivals first (trace order, then released closed-loop calls by request index), then queue timeouts (in arrival
order), then instance boundaries (by instance index), then time-series ticks; a request queued at time t is admitted at the first boundary
of its instance that comes after the current event in that order.

Scaling. ``Simulation.run_until(t)`` processes all events at times <= t and returns a :class:`Snapshot`;
between chunks a controller adds instances (``add_instances``: serving after a delay, brief 01: spin-up
155 s, spot reclaim 65 s) or removes them (``remove_instances``: drain: no new requests, waiting ones are
rerouted at once, running ones finish, then off; a spinning-up instance is cancelled). GPU time per
instance counts from the add request to off (or to the end of the last chunk). Results: :class:`ReplayResult`.

Plug-in contract. A plug-in is a set of @njit hooks plus its own state; the engine receives them as one record,
:class:`repro.replay.state.Hooks` (queue policy state and hooks, router state, region and instance routers), built
by :class:`Simulation` from a :class:`QueuePolicy` and a :class:`Router`:

- queue policy (:class:`QueuePolicy`, :mod:`repro.replay.policies`): ``on_arrival(cl, plug, r, t) -> 0 | throttle``,
  ``select_next(cl, plug, i, t) -> request | -1``, ``notify(cl, plug, event, r, i, k, t)`` (EV_ENQUEUE,
  EV_UNQUEUE, EV_ADMIT, EV_FIRST, EV_DECODE, EV_FINISH, EV_PREEMPT); built in: FCFS and workload priority here,
  SageServe's NIW feeding in :mod:`repro.autoscale.feeding`, the per-tenant schedulers (VTC, RPM, FairServe) in
  :func:`repro.fairness.scheduler`;
- router (:class:`Router`, :mod:`repro.replay.routers`): ``region_router(cl, plug, r, t) -> region | -1`` and
  ``instance_router(cl, plug, r, region, t) -> instance | -1`` (-1 holds the request for the controller);
- controller: any Python callable ``controller(sim, snapshot)`` returning :class:`Add` / :class:`Remove` actions
  (or calling ``sim.add_instances``, ``sim.remove_instances``, ``sim.assign``).

Reads. A plug-in reads the cluster ``cl`` only through the named @njit accessors of :mod:`repro.replay.state`:
``n_instances``, ``instance_status``, ``kv_capacity``, ``waiting_count``, ``running_count``, ``queue_head`` /
``running_head`` then ``next_request`` (walk a waiting queue or a running batch), ``request_state``,
``request_tenant``, ``request_app``, ``request_step``, ``request_model``, ``request_pool``, ``request_workload``,
``request_tokens``, ``request_arrival``, ``n_region_choices`` / ``region_choice`` (a request's region priority
list), ``request_group`` / ``group_size`` / ``group_member`` (the accepting instances of a (model, region,
pool)), and the time-dependent ``kv_used``, ``outstanding_tokens``, ``decode_steps_done``, ``request_generated``,
``group_utilisation``. Writes. A plug-in writes only its own state (a :class:`Plug` of typed slots, one entity
per slot, which it names with its own @njit accessors; the built-in round robin keeps its cursors there); it
never writes the cluster, and a select_next changes nothing at all.

Numba features. The hooks are first-class function values (``numba`` calls the feature experimental): with them
the engine is compiled once, cached, and any @njit function with the right signature plugs in without a new
compilation of the engine (about a minute on this machine); a stable alternative (hooks as dispatcher arguments)
compiles the whole engine again for every combination of plug-ins. The cluster and plug-in states cross hook calls
as StructRefs (``numba.experimental.structref``): a call through a function pointer increments one reference
count per argument object, and a namedtuple of a dozen arrays costs a dozen (measured: it dominated the run
time). The one warning numba raises for first-class functions is ignored only around the engine's own
compilation (``engine._entry``).
"""
from repro.replay import policies, routers, state
from repro.replay.policies import QueuePolicy, fcfs, workload_priority
from repro.replay.routers import Router, make_router
from repro.replay.simulation import Add, Remove, ReplayResult, Simulation, Snapshot, simulate
from repro.replay.state import Hooks, Plug, make_plug

__all__ = ["Add", "Hooks", "Plug", "QueuePolicy", "Remove", "ReplayResult", "Router", "Simulation", "Snapshot", "fcfs",
           "make_plug", "make_router", "policies", "routers", "simulate", "state",
           "workload_priority"]
