"""repro.fairness queue policies (brief 02 §2-3): numba vs plain-Python twin, VTC's bound, monotone counters,
OIT never throttles an interaction in progress, RPM's window, the closed loop, and the scheduler registry."""
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro import fairness
from repro.fairness.policy import F_COUNTER, I_NWAIT, P_N_TENANTS
from repro.replay.policies import QueuePolicy
from repro.replay.reference import ReferenceSimulation
from repro.replay.state import FLAG_ABORTED, FLAG_DROPPED, FLAG_THROTTLED

KV = 20_000
MAX_BATCH = 8
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RESULT_FIELDS = ("arrival", "admit", "first_token", "finish", "flags", "instance")


@pytest.fixture(scope="module")
def latency():
    return fairness.server(KV)


def small_workload(latency, seed, n_users=10, n_apps=3, duration=60.0, load=1.5, abusive_share=0.1):
    return fairness.make_workload(n_users, n_apps, duration, load_peak=load, abusive_share=abusive_share,
                                  latency=latency, max_batch=MAX_BATCH, calibration_requests=300, seed=seed)


workloads = st.builds(dict, seed=st.integers(0, 10_000), n_users=st.integers(2, 12), n_apps=st.integers(1, 4),
                      duration=st.floats(20.0, 60.0), load=st.floats(0.8, 2.5))
#: limits that make OIT and RPM throttle often (OIT: overloaded as soon as anything runs or waits)
TIGHT = dict(rpm=2, user_limit=0.0, hol_delay=0.0, kv_frac=0.0)


def test_unknown_scheduler_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid names: fcfs, rpm, vtc, wsc, wsc-noprio, oit\\+vtc, fairserve"):
        fairness.scheduler("drr", n_tenants=2, n_requests=2)


def test_every_scheduler_builds_a_queue_policy():
    for name in fairness.SCHEDULERS:
        pol = fairness.scheduler(name, n_tenants=3, n_requests=5, app_weight=[1.0, 2.0],
                                 app_system_tokens=[10, 20], user_limit=5.0, app_limit=[1.0, 1.0])
        assert isinstance(pol, QueuePolicy) and pol.name == name


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="app_system_tokens"):
        fairness.scheduler("wsc", n_tenants=2, n_requests=2, app_weight=[1.0, 2.0], app_system_tokens=[1.0])
    with pytest.raises(ValueError, match="app_weight"):
        fairness.scheduler("wsc", n_tenants=2, n_requests=2, app_weight=[0.0])
    with pytest.raises(ValueError, match="rpm"):
        fairness.scheduler("rpm", n_tenants=2, n_requests=2, rpm=0)


@SETTINGS
@given(workloads, st.sampled_from(sorted(fairness.SCHEDULERS)), st.booleans(), st.sampled_from([np.inf, 1.0, 5.0]))
def test_numba_policy_equals_python_reference(latency, wl, name, tight, timeout):
    w = small_workload(latency, **wl)
    extra = dict(TIGHT if tight else {}, queue_timeout_s=timeout)
    fast = fairness.replay(w, name, latency=latency, max_batch=MAX_BATCH, **extra)
    slow = fairness.replay(w, name, latency=latency, max_batch=MAX_BATCH, reference=True, **extra)
    for f in RESULT_FIELDS:
        assert np.array_equal(getattr(fast.result, f), getattr(slow.result, f), equal_nan=True), f
    assert np.array_equal(fast.counters, slow.counters)   # exactly, not approximately


def checking_policy(policy, check):
    """The policy's compiled hooks wrapped in Python so that ``check(cl, plug, before)`` runs after every event."""
    def notify(cl, plug, event, r, i, k, t):
        before = plug.f1[:, F_COUNTER].copy()
        out = policy.notify(cl, plug, event, r, i, k, t)
        check(cl, plug, before)
        return out

    return QueuePolicy(policy.on_arrival, policy.select_next, notify, policy.state, policy.name)


@SETTINGS
@given(workloads)
def test_vtc_bound_and_monotone_counters_at_every_event(latency, wl):
    w = small_workload(latency, **wl)
    params = fairness.workload_params(w)
    pol = fairness.scheduler("vtc", **params)
    w_p, w_q = 1.0, 2.0
    bound = 2 * max(w_p * int(w.trace.prompt_tokens.max()), w_q * KV)   # 2 max(w_p L_input, w_q M)
    seen = {"events": 0, "pairs": 0}

    def check(cl, plug, before):
        nt = int(plug.p[P_N_TENANTS])
        counters = plug.f1[:nt, F_COUNTER]
        assert np.all(counters >= before[:nt])                     # never decrease
        backlogged = counters[plug.i1[:nt, I_NWAIT] > 0]
        if backlogged.size >= 2:
            seen["pairs"] += 1
            assert backlogged.max() - backlogged.min() <= bound
        seen["events"] += 1

    sim = ReferenceSimulation(w.trace, latency, np.ones((1, 1), np.int64), max_batch=MAX_BATCH,
                              queue_policy=checking_policy(pol, check), think_time=w.think_time_s)
    sim.run(interval=1e9)
    assert seen["events"] > 0


@SETTINGS
@given(workloads, st.sampled_from(["oit+vtc", "fairserve"]))
def test_oit_never_throttles_an_interaction_in_progress(latency, wl, name):
    w = small_workload(latency, **wl)
    res = fairness.replay(w, name, latency=latency, max_batch=MAX_BATCH, **TIGHT).result
    throttled = (res.flags & FLAG_THROTTLED) != 0
    assert not np.any(throttled & (w.trace.step >= 1))
    # the only aborted calls are the rest of interactions whose first call was throttled (never started)
    aborted = (res.flags & FLAG_ABORTED) != 0
    first_throttled = np.unique(w.trace.interaction[throttled & (w.trace.step == 0)])
    assert np.all(np.isin(w.trace.interaction[aborted], first_throttled))


def test_tight_oit_does_throttle(latency):
    w = small_workload(latency, seed=1, n_users=6, duration=60.0, load=2.5)
    res = fairness.replay(w, "fairserve", latency=latency, max_batch=MAX_BATCH, **TIGHT).result
    assert res.throttled.sum() > 0


@SETTINGS
@given(workloads, st.integers(1, 4))
def test_rpm_never_accepts_more_than_the_limit_per_window(latency, wl, limit):
    w = small_workload(latency, **wl)
    res = fairness.replay(w, "rpm", latency=latency, max_batch=MAX_BATCH, rpm=limit).result
    accepted = np.isfinite(res.arrival) & ((res.flags & (FLAG_THROTTLED | FLAG_ABORTED | FLAG_DROPPED)) == 0)
    for u in np.unique(w.trace.tenant):   # a dropped request (never fits the KV cache) never reaches the limiter
        t = np.sort(res.arrival[accepted & (w.trace.tenant == u)])
        if t.size > limit:   # any `limit + 1` consecutive accepted arrivals span at least the window
            assert np.all(t[limit:] - t[:-limit] >= 60.0)


@SETTINGS
@given(workloads, st.sampled_from(sorted(fairness.SCHEDULERS)))
def test_closed_loop_releases_each_call_after_the_previous_one_plus_think_time(latency, wl, name):
    w = small_workload(latency, **wl)
    res = fairness.replay(w, name, latency=latency, max_batch=MAX_BATCH, **TIGHT).result
    tr = w.trace
    order = np.lexsort((tr.step, tr.interaction))
    order = order[tr.interaction[order] >= 0]
    prev, nxt = order[:-1], order[1:]
    same = tr.interaction[prev] == tr.interaction[nxt]
    prev, nxt = prev[same], nxt[same]
    released = np.isfinite(res.arrival[nxt])
    assert np.array_equal(res.arrival[nxt][released], res.finish[prev][released] + w.think_time_s)
    assert np.all(np.isnan(res.arrival[nxt][~np.isfinite(res.finish[prev])]))   # never released otherwise
    admitted = np.isfinite(res.admit[nxt])
    assert np.all(res.admit[nxt][admitted] >= res.finish[prev][admitted] + w.think_time_s)


def test_lift_raises_a_returning_tenant_to_the_smallest_backlogged_counter(latency):
    w = small_workload(latency, seed=7, n_users=8, duration=60.0, load=2.0)
    params = fairness.workload_params(w)
    pol = fairness.scheduler("vtc", **params)
    lifted = {"n": 0}

    def notify(cl, plug, event, r, i, k, t):
        from repro.replay.state import EV_ENQUEUE, RQ_TENANT
        nt = int(plug.p[P_N_TENANTS])
        u = cl.req[r, RQ_TENANT] if r >= 0 else -1
        waiting = plug.i1[:nt, I_NWAIT] > 0
        low = plug.f1[:nt, F_COUNTER][waiting].min() if waiting.any() else np.inf
        joins = event == EV_ENQUEUE and not waiting[u]
        out = pol.notify(cl, plug, event, r, i, k, t)
        if joins and np.isfinite(low):
            assert plug.f1[u, F_COUNTER] >= low
            lifted["n"] += 1
        return out

    sim = ReferenceSimulation(w.trace, latency, np.ones((1, 1), np.int64), max_batch=MAX_BATCH,
                              queue_policy=dataclasses.replace(pol, notify=notify), think_time=w.think_time_s)
    sim.run(interval=1e9)
    assert lifted["n"] > 0


def test_policies_drive_one_instance_only(latency):
    w = small_workload(latency, seed=2)
    pol = fairness.scheduler("vtc", **fairness.workload_params(w))
    from repro.replay import Simulation
    sim = Simulation(w.trace, latency, np.full((1, 1), 2, np.int64), max_batch=MAX_BATCH, queue_policy=pol,
                     think_time=w.think_time_s)
    with pytest.raises(ValueError, match="one instance"):
        sim.run(interval=1e9)


@pytest.mark.parametrize("reference", [False, True])
def test_vtc_charges_every_prompt_and_output_token_once(latency, reference):
    """One tenant (no lift can act): after every request finished, W = w_p * prompt tokens + w_q * output tokens,
    summed over requests; the first output token (emitted by the prefill, EV_FIRST) is charged like the others."""
    from repro.replay import Simulation
    from repro.traces import Trace
    rng = np.random.default_rng(3)
    n = 40
    trace = Trace.from_columns(np.sort(rng.uniform(0, 5, n)), rng.integers(1, 300, n), rng.integers(1, 40, n))
    pol = fairness.scheduler("vtc", n_tenants=1, n_requests=n)
    sim_cls = ReferenceSimulation if reference else Simulation
    sim = sim_cls(trace, latency, np.ones((1, 1), np.int64), max_batch=4,
                  queue_policy=fairness.reference_policy(pol) if reference else pol)
    res = sim.run(interval=1e9)
    assert res.finished.all()
    assert fairness.counters(sim.queue_policy)[0] == 1.0 * trace.prompt_tokens.sum() + 2.0 * trace.output_tokens.sum()
