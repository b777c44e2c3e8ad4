"""repro.replay: the numba engine equals the pure-Python reference exactly (same floats, same order) across
KV reserve policies, chunked prefill, both iteration modes (mixed, prefill priority), routers, queue policies
(workload priority here, the per-tenant schedulers of repro.fairness against their plain-Python twin), closed loop,
scaling actions and deferred routing; hand-computed timings; results do not depend on the chunking of the
replay."""
import numpy as np
import pytest
from numba import njit

from repro import fairness
from repro.replay import Add, QueuePolicy, Remove, Simulation, make_plug, make_router, policies, workload_priority
from repro.replay.reference import ReferenceSimulation
from replay_scenarios import compare_results, random_actions, random_trace, scripted_controller, toy_latency
from repro.replay.state import (CLUSTER_FIELDS, C_CUR_INDEX, C_CUR_KIND, C_N_WOKEN, EV_ADMIT, EV_FINISH, FLAG_ABORTED,
                                FLAG_DROPPED, FLAG_HELD, FLAG_PREEMPTED, FLAG_REROUTED, FLAG_TIMED_OUT, RS_REJECTED,
                                RQ_STATE, G_NMEMBERS, IN_NRUN, IN_NWAIT, RQ_MODEL,
                                RQ_POOL, decode_elapsed, group_index, kv_used, prefill_seconds, step_seconds)
from repro.traces import Trace


def run_both(trace, latency, instances, *, actions=None, interval=5.0, until=None, twin=None, **options):
    """Run the engine and the reference on the same input; assert they agree exactly; return the engine's result.
    ``twin``: the plain-Python twin of ``options["queue_policy"]`` (a :func:`repro.fairness.reference_policy`) that
    the reference runs instead of the policy's own hooks; then the policy states agree in their counters."""
    out = []
    for cls in (Simulation, ReferenceSimulation):
        opts = dict(options, queue_policy=twin) if cls is ReferenceSimulation and twin is not None else options
        sim = cls(trace, latency, instances, **opts)
        res = sim.run(scripted_controller(actions or {}), interval=interval, until=until)
        out.append((sim, res))
    (sa, a), (sb, b) = out
    assert compare_results(a, b) == []
    for name in CLUSTER_FIELDS:
        x, y = getattr(sa.cl, name), getattr(sb.cl, name)
        if name == "woken":
            continue
        if name == "conf":   # engine bookkeeping of wake-ups
            x, y = np.delete(x, [C_N_WOKEN, C_CUR_KIND, C_CUR_INDEX]), np.delete(y, [C_N_WOKEN, C_CUR_KIND, C_CUR_INDEX])
        n = sa.n_instances if name in ("inst", "instf") else None
        assert np.array_equal(x[:n], y[:n], equal_nan=True), name
    if twin is not None:
        assert np.array_equal(fairness.counters(sa.queue_policy), fairness.counters(sb.queue_policy))
        return a, sa
    for p, q in zip(sa.queue_policy.state, sb.queue_policy.state):
        assert np.array_equal(p, q, equal_nan=True)
    return a, sa


TRACE = random_trace(1, 250, duration=25.0)
LAT = toy_latency(2, kv_capacity=4000)
SCALING = {5.0: [Add(0, 0, 2, 3.0), Add(1, 1, 1, 0.0)], 10.0: [Remove(0, 1, 1)], 15.0: [Remove(1, 1, 2), Add(1, 0, 1, 1.5)]}

CONFIGS = {
    "fcfs": dict(),
    "on_demand": dict(reserve="on_demand"),
    "chunked": dict(chunk_tokens=96),
    "chunked_on_demand": dict(reserve="on_demand", chunk_tokens=200),
    "prefill_priority": dict(iteration="prefill_priority"),
    "prefill_priority_on_demand": dict(iteration="prefill_priority", reserve="on_demand"),
    "rr_sageserve": dict(router=make_router("round_robin", "sageserve")),
    "jsq": dict(router=make_router("shortest_queue")),
    "least_tokens": dict(router=make_router("least_tokens", "sageserve", region_threshold=0.3)),
    "least_kv_on_demand": dict(router=make_router("least_kv"), reserve="on_demand"),
    "priority_gate": dict(queue_policy=workload_priority(0.3)),
    "siloed": dict(workload_pool=(0, 1)),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_engine_equals_reference_with_scaling(name):
    opts = dict(CONFIGS[name])
    instances = np.ones((2, 2, 2), int) if name == "siloed" else np.ones((2, 2), int)
    res, sim = run_both(TRACE, LAT, instances, actions=SCALING, max_batch=6, resolution=2.5, **opts)
    assert res.finished.sum() + res.dropped.sum() + res.throttled.sum() == len(TRACE)
    assert sim.n_instances > 4


def test_preemption_and_drops_under_tight_on_demand_kv():
    trace = random_trace(2, 120, duration=10.0, prompt=(50, 400), output=(50, 400))
    lat = toy_latency(2, kv_capacity=[900, 2500])
    res, _ = run_both(trace, lat, np.ones((2, 2), int), reserve="on_demand", max_batch=8, resolution=1.0,
                      actions={5.0: [Remove(0, 0, 1)]})
    assert (res.flags & FLAG_PREEMPTED).any()
    assert ((res.flags & FLAG_DROPPED) != 0).sum() == ((trace.prompt_tokens + trace.output_tokens)[trace.model == 0] > 900).sum()
    assert (res.n_preemptions > 0).sum() == ((res.flags & FLAG_PREEMPTED) != 0).sum()


# the per-tenant schedulers of repro.fairness drive one instance (brief 02 §2): a one-model, one-region trace
FAIR_TRACE = random_trace(6, 200, n_models=1, n_regions=1, duration=25.0)
FAIR_LAT = toy_latency(1, kv_capacity=3000)
#: name -> (scheduler, its parameters, simulation options); random_trace draws apps 0..2
FAIRNESS = {
    "vtc": ("vtc", dict(), dict()),
    "vtc_on_demand_chunked": ("vtc", dict(w_output=3.0), dict(reserve="on_demand", chunk_tokens=128)),
    "rpm": ("rpm", dict(rpm=3), dict()),
    "fairserve": ("fairserve", dict(app_weight=[1.0, 2.0, 0.5], app_system_tokens=[0.0, 50.0, 200.0],
                                    user_limit=4000.0, hol_delay=0.5), dict(chunk_tokens=96)),
}


def fairness_policy(name, trace, **params):
    """Scheduler ``name`` of repro.fairness sized for ``trace`` (4 tenants, 3 apps)."""
    params = {"app_weight": np.ones(3), **params}
    return fairness.scheduler(name, n_tenants=4, n_requests=len(trace), **params)


@pytest.mark.parametrize("name", list(FAIRNESS))
def test_engine_equals_reference_with_fairness_schedulers(name):
    scheduler, params, opts = FAIRNESS[name]
    pol = fairness_policy(scheduler, FAIR_TRACE, **params)
    res, sim = run_both(FAIR_TRACE, FAIR_LAT, np.ones((1, 1), int), queue_policy=pol,
                        twin=fairness.reference_policy(pol), max_batch=6, resolution=2.5, **opts)
    assert res.finished.sum() + res.dropped.sum() + res.throttled.sum() == len(FAIR_TRACE)
    if scheduler == "vtc":
        assert (fairness.counters(sim.queue_policy) > 0).all()
    else:
        assert res.throttled.any()


def test_closed_loop_and_exact_ties():
    trace = random_trace(3, 150, duration=10.0, interactions=True, grid=0.25)
    run_both(trace, LAT, np.ones((2, 2), int), think_time=0.25, max_batch=4, resolution=1.0,
             queue_policy=workload_priority(0.3), actions={5.0: [Add(0, 1, 1, 0.0)]})


def test_closed_loop_throttling_aborts_interactions():
    trace = random_trace(3, 150, n_models=1, n_regions=1, duration=10.0, interactions=True, grid=0.25)
    pol = fairness_policy("rpm", trace, rpm=2)
    res, _ = run_both(trace, FAIR_LAT, np.ones((1, 1), int), think_time=0.25, max_batch=4, resolution=1.0,
                      queue_policy=pol, twin=fairness.reference_policy(pol))
    assert res.throttled.any() and ((res.flags & FLAG_ABORTED) != 0).any()


TIMEOUTS = {
    "fcfs_scaling": (dict(max_batch=3, actions=SCALING), 1.0),
    "on_demand_preemption": (dict(max_batch=6, reserve="on_demand"), 2.0),
    "held": (dict(max_batch=3, router=make_router("hold")), 0.5),
    "priority_gate": (dict(max_batch=4, queue_policy=workload_priority(0.3)), 1.0),
}


@pytest.mark.parametrize("name", list(TIMEOUTS))
def test_queue_timeouts_engine_equals_reference(name):
    opts, timeout = TIMEOUTS[name]
    lat = toy_latency(2, kv_capacity=1200) if name == "on_demand_preemption" else LAT
    res, _ = run_both(TRACE, lat, np.ones((2, 2), int), resolution=2.5, queue_timeout_s=timeout, **opts)
    out = res.timed_out
    assert out.any() and not np.isfinite(res.admit[out]).any()
    assert (res.finished | res.dropped | out).all()
    if name == "on_demand_preemption":   # preempted requests are requeued and do not time out
        assert (res.flags & FLAG_PREEMPTED).any() and not (out & ((res.flags & FLAG_PREEMPTED) != 0)).any()
    if name == "held":   # nobody assigns the held requests: each leaves the hold queue at arrival + timeout
        assert out.all() and (res.flags == FLAG_HELD | FLAG_TIMED_OUT).all()


def test_queue_timeouts_abort_interactions_and_notify_the_policy():
    trace = random_trace(3, 150, n_models=1, n_regions=1, duration=10.0, interactions=True, grid=0.25)
    pol = fairness_policy("vtc", trace)
    res, sim = run_both(trace, FAIR_LAT, np.ones((1, 1), int), think_time=0.25, max_batch=2, resolution=1.0,
                        queue_policy=pol, twin=fairness.reference_policy(pol), queue_timeout_s=0.75)
    assert res.timed_out.any() and ((res.flags & FLAG_ABORTED) != 0).any()
    # the policy's per-tenant queues saw every timed-out request leave (EV_UNQUEUE): none is waiting at the end
    assert (sim.queue_policy.state.i1[:4, 0] == 0).all()


def test_queue_timeout_by_hand():
    """Batch of one: r0 (arrival 0) runs 1 + 3 s; r1 (arrival 0.5) and r2 (arrival 3.2) wait; with a 2 s timeout
    r1 leaves at exactly 2.5, r2 is admitted when r0 finishes at 4.0 (waited 0.8 s)."""
    lat = toy_latency(1, 10_000, prefill=(1.0, 0.0, 0.0), decode=(1.0, 0.0, 0.0))
    trace = Trace.from_columns([0.0, 0.5, 3.2], [10, 10, 10], [4, 4, 4])
    for cls in (Simulation, ReferenceSimulation):
        sim = cls(trace, lat, np.ones((1, 1), int), max_batch=1, queue_timeout_s=2.0)
        res = sim.run(interval=100.0)
        assert res.timed_out.tolist() == [False, True, False]
        assert res.flags[1] == FLAG_TIMED_OUT and sim.cl.req[1, RQ_STATE] == RS_REJECTED
        assert np.isnan(res.admit[1]) and np.isnan(res.finish[1])
        assert res.admit[2] == res.finish[0] and res.finished[[0, 2]].all()
        assert sim.now >= 2.5


def test_lattice_latencies_make_boundaries_coincide_with_arrivals():
    """Integer step times put many boundaries exactly on arrival and activation times (tie rules)."""
    lat = toy_latency(1, 3000, prefill=(1.0, 0.0, 0.0), decode=(0.5, 0.0, 0.0))
    trace = random_trace(4, 80, n_models=1, n_regions=1, duration=20.0, prompt=(1, 50), output=(1, 12), grid=0.5)
    run_both(trace, lat, np.full((1, 1), 2), max_batch=3, interval=2.0, resolution=0.5,
             actions={2.0: [Add(0, 0, 1, 1.0)], 6.0: [Remove(0, 0, 1)], 8.0: [Add(0, 0, 2, 0.0)]})


@njit(cache=True)
def _route_to_last_member(cl, plug, r, region, t):
    """A custom instance router: the most recently added accepting instance, counting calls in plug.i1."""
    g = group_index(cl, cl.req[r, RQ_MODEL], region, cl.req[r, RQ_POOL])
    n = cl.group[g, G_NMEMBERS]
    plug.i1[0, 0] += 1
    return cl.members[g, n - 1] if n > 0 else -1


def test_custom_instance_router_plugs_in():
    rt = make_router(_route_to_last_member, "first", state=make_plug(i1=np.zeros((1, 1))))
    _, sim = run_both(TRACE, LAT, np.ones((2, 2), int), router=rt, actions=SCALING, max_batch=6)
    assert sim.router.state.i1[0, 0] >= len(TRACE)
    assert rt.state.i1[0, 0] == 0   # the simulation worked on its own copy


def test_hold_router_with_controller_assignment():
    """Deferred routing (brief 03): everything is held; the controller assigns the held requests every chunk."""
    def assign_all(sim, snap):
        for r in sim.held():
            m, pool = sim.cl.req[r, RQ_MODEL], sim.cl.req[r, RQ_POOL]
            cand = snap.accepting(m, 0, pool)
            load = sim.cl.inst[cand, IN_NWAIT] + sim.cl.inst[cand, IN_NRUN]
            sim.assign(int(r), int(cand[np.argmin(load)]))

    results = []
    for cls in (Simulation, ReferenceSimulation):
        sim = cls(TRACE, LAT, np.ones((2, 2), int), router=make_router("hold"), max_batch=6)
        results.append(sim.run(assign_all, interval=0.5))
    assert compare_results(*results) == []
    res = results[0]
    assert res.finished.all() and ((res.flags & FLAG_HELD) != 0).all()
    assert (res.admit >= np.ceil(res.arrival / 0.5) * 0.5 - 1e-12).all()


def test_rerouting_off_draining_instances_keeps_equality():
    trace = random_trace(5, 200, duration=8.0)
    res, _ = run_both(trace, LAT, np.full((2, 2), 2), max_batch=2, interval=1.0,
                      actions={2.0: [Remove(0, 0, 2), Remove(1, 0, 1)], 3.0: [Remove(0, 1, 2)], 4.0: [Add(0, 0, 1, 2.0)]})
    assert (res.flags & FLAG_REROUTED).any() and (res.flags & FLAG_HELD).any()


def test_random_scaling_scripts():
    for seed in range(3):
        trace = random_trace(10 + seed, 150, duration=15.0)
        run_both(trace, LAT, np.ones((2, 2, 2), int), workload_pool=(0, 1), max_batch=5, interval=3.0,
                 reserve=("full", "on_demand")[seed % 2], actions=random_actions(seed, np.arange(3.0, 15.0, 3.0), 2, 2, 2))


def test_single_request_timing_by_hand():
    """One request, prompt P, output O on an idle instance: first token = arrival + prefill(P) (the prefill emits
    the first token); then O - 1 decode steps of cost d0 + d1 + d2 * (P + k), k = 0..O-2 (brief 01 §7)."""
    lat = toy_latency(1, 10_000, prefill=(0.5, 0.01, 0.0), decode=(0.1, 0.0, 0.001))
    trace = Trace.from_columns([2.0], [100], [4])
    res = Simulation(trace, lat, np.ones((1, 1), int)).run()
    first = 2.0 + (0.5 + 0.01 * 100)
    steps = [0.1 + 0.001 * (100 + k) for k in range(3)]
    assert res.first_token[0] == first and res.admit[0] == 2.0
    assert res.finish[0] == pytest.approx(first + sum(steps), abs=1e-12)
    assert res.instances["gpu_seconds"][0] == res.t_end
    m = lat.prefill
    assert prefill_seconds.py_func(np.c_[m, lat.decode, [10_000], [np.inf]], 0, 100, 0) == 0.5 + 0.01 * 100
    assert decode_elapsed.py_func(0.1 + 0.001 * 100, 0.001, 1, 3) == pytest.approx(sum(steps), abs=1e-12)


@pytest.mark.parametrize("cls", [Simulation, ReferenceSimulation])
def test_output_one_finishes_with_its_prefill_and_output_two_after_one_step(cls):
    """o = 1: finish = first token = end of the prefill; o = 2: one decode step of cost d0 + d1 + d2 * P later.
    Prefill 0.5 + 0.01 P, step 0.1 + 0.001 * context; requests far apart (each alone on the instance)."""
    lat = toy_latency(1, 10_000, prefill=(0.5, 0.01, 0.0), decode=(0.1, 0.0, 0.001))
    trace = Trace.from_columns([0.0, 10.0], [100, 50], [1, 2])
    res = cls(trace, lat, np.ones((1, 1), int), reserve="on_demand").run()
    assert res.first_token.tolist() == [1.5, 10.0 + (0.5 + 0.01 * 50)]
    assert res.finish[0] == 1.5
    assert res.finish[1] == res.first_token[1] + (0.1 + 0.001 * 50)


def test_output_one_in_a_running_batch_finishes_at_the_end_of_its_prefill_iteration():
    """Prefill 1 s, step 1 s. r0 (o = 3): prefill [0, 1], step 1 ends at 2; r1 (o = 1) arrives at 1.5 and is
    admitted at 2; iteration [2, 4) = r1's prefill + r0's step 2: both finish at 4, r1's first token at 4."""
    lat = toy_latency(1, 10_000, prefill=(1.0, 0.0, 0.0), decode=(1.0, 0.0, 0.0))
    trace = Trace.from_columns([0.0, 1.5], [10, 10], [3, 1])
    for reserve in ("full", "on_demand"):
        res, sim = run_both(trace, lat, np.ones((1, 1), int), reserve=reserve)
        assert res.admit.tolist() == [0.0, 2.0] and res.first_token.tolist() == [1.0, 4.0]
        assert res.finish.tolist() == [4.0, 4.0]
        assert sim.cl.inst[0, IN_NRUN] == 0 and kv_used(sim._cl_ref, 0, 10.0, True) == 0


def test_decode_batch_term_is_capped_at_the_profiled_batch():
    """step = d0 + d1 * min(b, B_max) + d2 * context (repro.latency's decode bound), in the engine's arithmetic
    and in LatencyModel.decode_time; the engine with a cap still equals the reference."""
    lat = toy_latency(1, 10_000, decode=(0.02, 0.01, 1e-6), batch_max=2)
    models = np.c_[lat.prefill, lat.decode, lat.kv_capacity_tokens, lat.batch_cap]
    for b in (1, 2, 5):
        expected = 0.02 + 0.01 * min(b, 2) + 1e-6 * 300
        assert step_seconds.py_func(models, 0, b, 300) == expected
        assert lat.decode_time(0, b, 300) == pytest.approx(expected, rel=1e-15)
    trace = random_trace(8, 120, n_models=1, n_regions=1, duration=5.0)
    capped, _ = run_both(trace, lat, np.ones((1, 1), int), max_batch=6, reserve="on_demand")
    free, _ = run_both(trace, toy_latency(1, 10_000, decode=(0.02, 0.01, 1e-6)), np.ones((1, 1), int), max_batch=6,
                       reserve="on_demand")
    assert np.nanmean(capped.e2e) < np.nanmean(free.e2e)


def test_second_request_joins_the_running_batch_at_the_next_boundary():
    """Continuous batching: a request arriving mid-decode is admitted at the next iteration boundary; its prefill
    iteration also advances the running request by one step."""
    lat = toy_latency(1, 10_000, prefill=(1.0, 0.0, 0.0), decode=(1.0, 0.0, 0.0))
    trace = Trace.from_columns([0.0, 2.5], [10, 10], [5, 2])
    res = Simulation(trace, lat, np.ones((1, 1), int)).run()
    # r0: prefill [0,1] emits token 1, its 4 decode steps end at 2,3,...; r1 arrives 2.5 -> admitted at boundary 3
    # iteration [3,5) = prefill(1) + one decode step of r0 (2 s); r0 steps at 2,3,5,6 -> finish 6;
    # r1: first token at 5, its one decode step ends at 6
    assert res.admit.tolist() == [0.0, 3.0]
    assert res.first_token.tolist() == [1.0, 5.0]
    assert res.finish.tolist() == [6.0, 6.0]


def test_prefill_priority_stalls_the_running_decodes_by_hand():
    """As the test above with iteration="prefill_priority" (vLLM v0): r1's prefill iteration [3, 4) runs alone, r0
    makes no step in it; r0 steps at 2, 3, 5, 6 (its third step waits for r1's prefill), r1's one step joins the
    batch in [4, 5); both finish: r1 at 5, r0 at 6."""
    lat = toy_latency(1, 10_000, prefill=(1.0, 0.0, 0.0), decode=(1.0, 0.0, 0.0))
    trace = Trace.from_columns([0.0, 2.5], [10, 10], [5, 2])
    for reserve in ("full", "on_demand"):
        res, sim = run_both(trace, lat, np.ones((1, 1), int), iteration="prefill_priority", reserve=reserve)
        assert res.admit.tolist() == [0.0, 3.0]
        assert res.first_token.tolist() == [1.0, 4.0]
        assert res.finish.tolist() == [6.0, 5.0]


def test_prefill_priority_shortens_prefill_iterations_on_a_loaded_instance():
    """With prefill priority a prompt's prefill iteration carries no decode step, so from admission to first token
    takes less time on average than in mixed iterations on a loaded instance (the decodes pay instead)."""
    trace = random_trace(9, 200, n_models=1, n_regions=1, duration=10.0)
    lat = toy_latency(1, 20_000, prefill=(0.02, 1e-4, 0.0), decode=(0.02, 1e-4, 1e-6))
    mixed, _ = run_both(trace, lat, np.ones((1, 1), int), max_batch=16)
    first, _ = run_both(trace, lat, np.ones((1, 1), int), max_batch=16, iteration="prefill_priority")
    assert np.mean(first.first_token - first.admit) < np.mean(mixed.first_token - mixed.admit)


def test_chunked_prefill_pays_attention_over_earlier_chunks_by_hand():
    """One prompt of 250 tokens (output 1) alone, chunks of 100: iterations of 100, 100 and 50 tokens cost
    p0 + p1 c + p2 ((o + c)^2 - o^2) with o the tokens before the chunk, in total 3 p0 + p1 250 + p2 250^2: the
    unchunked prefill plus two iteration overheads."""
    p0, p1, p2 = 0.5, 0.01, 1e-4
    lat = toy_latency(1, 10_000, prefill=(p0, p1, p2), decode=(0.1, 0.0, 0.0))
    trace = Trace.from_columns([0.0], [250], [1])
    res, _ = run_both(trace, lat, np.ones((1, 1), int), chunk_tokens=100)
    chunks = [p0 + p1 * c + p2 * ((o + c) ** 2 - o ** 2) for o, c in ((0, 100), (100, 100), (200, 50))]
    assert res.first_token[0] == pytest.approx(sum(chunks), abs=1e-12)
    assert res.first_token[0] == pytest.approx(3 * p0 + p1 * 250 + p2 * 250 ** 2, abs=1e-12)
    whole, _ = run_both(trace, lat, np.ones((1, 1), int))
    assert whole.first_token[0] == pytest.approx(p0 + p1 * 250 + p2 * 250 ** 2, abs=1e-12)


@pytest.mark.parametrize("interval", [0.7, 3.0, 13.0])
def test_results_do_not_depend_on_the_chunking(interval):
    def run(iv):
        sim = Simulation(TRACE, LAT, np.ones((2, 2), int), max_batch=4, reserve="on_demand", resolution=1.0)
        return sim.run(interval=iv, until=60.0)
    assert compare_results(run(60.0), run(interval)) == []


@njit(cache=True)
def _record_kv(cl, plug, event, r, i, k, t):
    """notify hook: log (event, request, instance, KV in use as the plug-in sees it) in plug.i1."""
    if event == EV_ADMIT or event == EV_FINISH:
        n = plug.i2[0, 0]
        plug.i1[n, 0] = event
        plug.i1[n, 1] = r
        plug.i1[n, 2] = i
        plug.i1[n, 3] = kv_used(cl, i, t, True)
        plug.i2[0, 0] = n + 1
    return 0


def test_plug_ins_see_kv_current_within_a_boundary():
    """With full reservation, KV in use right after an admission or a finish is the sum of prompt + output over
    the instance's admitted, unfinished requests, including the changes made earlier at the same boundary."""
    pol = QueuePolicy(policies.accept_all, policies.head_of_queue, _record_kv,
                      make_plug(i1=np.zeros((2 * len(TRACE), 4)), i2=np.zeros((1, 1))))
    _, sim = run_both(TRACE, LAT, np.ones((2, 2), int), queue_policy=pol, max_batch=5)
    log = sim.queue_policy.state.i1[:sim.queue_policy.state.i2[0, 0]]
    need = TRACE.prompt_tokens.astype(np.int64) + TRACE.output_tokens
    held = {}
    for event, r, i, kv in log:
        held[i] = held.get(i, 0) + (need[r] if event == EV_ADMIT else -need[r])
        assert kv == held[i]
