"""repro.router: the batched cluster kernels equal the plain-Python twin step by step (hypothesis, with preemption,
SJF, every batching mode, chunked prefill, the linear and the table service model), hold their invariants (KV and
batch limits, token conservation, tokens never decrease, every request finishes once, FCFS routing, h <= 0) in
every mode, admit in each batching mode's order, match hand-computed timelines (one request, chunked prefill), and
the vector API rejects bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.reference import ReferenceCluster
from repro.router.service import ServiceModel, bucket_of
from repro.router.workload import Workload, sample_workload


@st.composite
def workloads(draw, n_envs):
    n = draw(st.integers(1, 30))
    loads = []
    for _ in range(n_envs):
        prompt = np.array(draw(st.lists(st.integers(1, 400), min_size=n, max_size=n)), np.int64)
        decode = np.array(draw(st.lists(st.integers(1, 300), min_size=n, max_size=n)), np.int64)
        gaps = np.array(draw(st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n)))
        bucket = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64)
        loads.append(Workload(np.cumsum(gaps), np.zeros(n, np.int64), prompt, decode, bucket))
    return loads


TABLE_SERVICE = dict(kind="table", prefill_table=((64, 0.01), (256, 0.012), (1024, 0.05)),
                     decode_table=((1, 0.008), (4, 0.01), (16, 0.02)), attention=2e-6)
"""A small table model (not the A100 data) with a large attention coefficient, for the twin tests."""


def run_both(loads, actions, service, m, sjf, batching="fcfs", chunk_budget=0):
    env = VectorRouterEnv(EnvConfig(m=m, service=service, sjf=sjf, batching=batching, chunk_budget=chunk_budget),
                          len(loads))
    obs, info = env.reset(loads)
    refs = [ReferenceCluster(service, w, m, sjf, batching, chunk_budget) for w in loads]
    for b, ref in enumerate(refs):
        np.testing.assert_allclose(obs[b], ref.obs)
    for t in range(actions.shape[0]):
        obs, _, _, _, info = env.step(actions[t])
        for b, ref in enumerate(refs):
            r_obs, r_aux, r_terms, r_done = ref.step(int(actions[t, b]))
            np.testing.assert_allclose(obs[b], r_obs, rtol=1e-12, atol=1e-12, err_msg=f"obs, step {t}, cluster {b}")
            np.testing.assert_allclose(info["aux"][b], r_aux, rtol=1e-12, atol=1e-12, err_msg=f"aux, step {t}")
            np.testing.assert_allclose(info["terms"][b], r_terms, rtol=1e-9, atol=1e-9, err_msg=f"terms, step {t}")
            assert env.finished[b] == r_done
    return env, refs


@settings(max_examples=60, deadline=None)
@given(workloads(3), st.integers(0, 2**32 - 1), st.integers(1, 4), st.booleans(), st.sampled_from([600, 2000, 30000]),
       st.sampled_from([2, 128]), st.sampled_from(k.BATCHING), st.sampled_from([0, 0, 50, 300]), st.booleans())
def test_kernels_equal_the_python_twin(loads, action_seed, m, sjf, kv, max_batch, batching, chunk_budget, table):
    kind = TABLE_SERVICE if table else dict(attention=1e-6 if chunk_budget else 0.0)
    service = ServiceModel(kv_capacity=kv, max_batch=max_batch, max_time=40.0, **kind)
    actions = rng(action_seed, "test-router-actions").integers(0, m + 1, size=(300, len(loads)))
    env, refs = run_both(loads, actions, service, m, sjf, batching, chunk_budget)
    for b, ref in enumerate(refs):
        np.testing.assert_array_equal(env.req_i[b, :, k.O], [r.generated for r in ref.requests])
        np.testing.assert_array_equal(env.req_i[b, :, k.NPRE], [r.preemptions for r in ref.requests])
        np.testing.assert_allclose(env.req_f[b, :, k.T_DONE], [r.t_done for r in ref.requests])
        np.testing.assert_allclose(env.req_f[b, :, k.T_FIRST], [r.t_first for r in ref.requests])


@pytest.mark.parametrize("batching", k.BATCHING)
@pytest.mark.parametrize("chunk_budget", [0, 256])
def test_the_twin_agreement_covers_preemption(batching, chunk_budget):
    service = ServiceModel(kv_capacity=1500, max_time=60.0, attention=1e-6)
    loads = [sample_workload(60, 20.0, service, rng(3, "test-router-preempt"))]
    actions = rng(3, "test-router-preempt-actions").integers(0, 2, size=(1500, 1))
    env, refs = run_both(loads, actions, service, 2, False, batching, chunk_budget)
    assert env.req_i[0, :, k.NPRE].sum() > 0
    assert env.env_i[0, k.E_DONE] > 10


@settings(max_examples=40, deadline=None)
@given(workloads(2), st.integers(0, 2**32 - 1), st.sampled_from([700, 3000]), st.sampled_from([3, 128]),
       st.sampled_from(k.BATCHING), st.sampled_from([0, 64, 1024]), st.booleans())
def test_invariants_hold_along_any_episode(loads, action_seed, kv, max_batch, batching, chunk_budget, table):
    m = 3
    service = ServiceModel(kv_capacity=kv, max_batch=max_batch, max_time=400.0, **(TABLE_SERVICE if table else {}))
    env = VectorRouterEnv(EnvConfig(m=m, service=service, batching=batching, chunk_budget=chunk_budget), len(loads))
    obs, info = env.reset(loads)
    gen = rng(action_seed, "test-router-invariants")
    completions = np.zeros(len(loads))
    tokens, done_at = env.req_i[:, :, k.O].copy(), env.req_f[:, :, k.T_DONE].copy()
    while not env.finished.all():
        before = info["aux"]
        actions = gen.integers(0, m + 1, size=len(loads))
        actions[gen.random(len(loads)) < 0.5] = gen.integers(0, m)        # route at least half of the decisions
        obs, _, _, _, info = env.step(actions)
        assert np.all(env.req_i[:, :, k.O] >= tokens)                                    # tokens never decrease
        finished_before = done_at >= 0
        np.testing.assert_array_equal(env.req_f[:, :, k.T_DONE][finished_before], done_at[finished_before])
        assert np.all(env.req_i[:, :, k.ST][finished_before] == k.DONE)                  # done stays done
        tokens, done_at = env.req_i[:, :, k.O].copy(), env.req_f[:, :, k.T_DONE].copy()
        terms = info["terms"]
        assert np.all(terms[:, k.R_GUIDANCE] <= 1e-12)
        routed = (actions < m) & (terms[:, k.R_GUIDANCE] != 0)
        assert np.all(np.isclose(before[np.arange(len(loads)), np.minimum(actions, m - 1), k.A_MIX]
                                 - before[:, :, k.A_MIX].max(axis=1), terms[:, k.R_GUIDANCE]) | ~routed)
        completions += terms[:, k.R_COMPLETIONS]
        for b in range(len(loads)):
            running = np.isin(env.req_i[b, :, k.ST], (k.PREFILL, k.DECODE))
            for i in range(m):
                on = running & (env.req_i[b, :, k.INST] == i)
                assert on.sum() <= max_batch
                assert (env.req_i[b, on, k.P] + env.req_i[b, on, k.O]).sum() <= kv
        capacity = obs[:, 4:6 * m:6]
        assert np.all((capacity >= 0) & (capacity <= 1))
        assert np.all(env.req_i[:, :, k.O] <= env.req_i[:, :, k.D])
        np.testing.assert_array_equal(obs[:, 6 * m], np.minimum(env.env_i[:, k.E_ARRIVED] - env.env_i[:, k.E_ROUTED],
                                                                512))
    for b, w in enumerate(loads):
        served = env.req_f[b, :, k.T_DONE] >= 0
        np.testing.assert_array_equal(env.req_i[b, served, k.O], w.decode[served])          # tokens conserved
        assert completions[b] == served.sum()                                               # each finishes once
        assert served.all()                                                                 # ... and every one does
        assert np.all(env.req_f[b, served, k.T_FIRST] <= env.req_f[b, served, k.T_DONE])
        routed = env.req_f[b, :, k.T_ROUTE] >= 0
        assert np.all(env.req_f[b, routed, k.T_ROUTE] >= w.arrival[routed] - 1e-12)
        keys = env.req_i[b, routed, k.KEY] % k.PREEMPT_OFFSET
        np.testing.assert_array_equal(keys, np.arange(routed.sum()))                      # FCFS: routed in arrival order
        assert np.all(routed[:routed.sum()])


def test_a_lone_request_follows_the_hand_computed_timeline():
    service = ServiceModel()
    p, d = 100, 3
    load = Workload(np.array([0.0]), np.zeros(1, np.int64), np.array([p]), np.array([d]), bucket_of([d]))
    env = VectorRouterEnv(EnvConfig(m=2, service=service), 1)
    env.reset([load])
    env.step(np.array([1]))
    while not env.finished.all():
        env.step(np.array([2]))
    prefill = service.grad1 * p
    expected = prefill + service.decode_time(p + 1) + service.decode_time(p + 2)
    assert env.req_f[0, 0, k.T_FIRST] == pytest.approx(prefill)
    assert env.req_f[0, 0, k.T_DONE] == pytest.approx(expected)
    assert env.req_i[0, 0, k.INST] == 1
    metrics = env.episode_metrics()
    assert metrics.loc[0, "e2e_mean"] == pytest.approx(expected)
    assert metrics.loc[0, "unserved"] == 0


def test_waiting_forever_truncates_with_every_request_unserved():
    service = ServiceModel(max_time=1.0)
    loads = [sample_workload(10, 50.0, service, rng(0, "test-router-wait"))]
    env = VectorRouterEnv(EnvConfig(m=2, service=service), 1)
    env.reset(loads)
    steps = 0
    while not env.finished.all():
        _, reward, terminated, truncated, _ = env.step(np.array([2]))
        steps += 1
    assert truncated[0] and not terminated[0]
    assert steps == 50
    assert env.episode_metrics().loc[0, "unserved"] == 10
    assert reward[0] == -10.0                                  # every request waits with f = 0


def test_bad_input_is_rejected():
    service = ServiceModel()
    env = VectorRouterEnv(EnvConfig(m=2, service=service), 2)
    loads = [sample_workload(5, 10.0, service, rng(0, "test-router-bad", b)) for b in range(2)]
    with pytest.raises(ValueError, match="expected 2 workloads"):
        env.reset(loads[:1])
    env.reset(loads)
    with pytest.raises(ValueError, match="actions in 0..2"):
        env.step(np.array([0, 3]))
    with pytest.raises(ValueError, match="m: expected"):
        EnvConfig(m=0)
    with pytest.raises(ValueError, match="kv_capacity"):
        ServiceModel(kv_capacity=0)
    with pytest.raises(ValueError, match="batching"):
        EnvConfig(m=2, batching="sjf")
    with pytest.raises(ValueError, match="chunk_budget"):
        EnvConfig(m=2, chunk_budget=-1)
    with pytest.raises(ValueError, match="batching"):
        ReferenceCluster(service, loads[0], 2, batching="lifo")


def _one_instance_run(prompt, decode, batching, chunk_budget=0, **service):
    """Route every request (all arriving at 0) to instance 0 in index order, then wait until all finish."""
    n = len(prompt)
    load = Workload(np.zeros(n), np.zeros(n, np.int64), np.array(prompt), np.array(decode), bucket_of(decode))
    env = VectorRouterEnv(EnvConfig(m=1, service=ServiceModel(**service), batching=batching,
                                    chunk_budget=chunk_budget), 1)
    env.reset([load])
    while not env.finished.all():
        env.step(np.array([0]))
    return env


@pytest.mark.parametrize("batching, order", [("fcfs", [1, 2, 3]), ("bin-packing", [1, 3, 2]),
                                             ("least-work-left", [2, 1, 3])])
def test_each_batching_mode_admits_in_its_order(batching, order):
    # one slot (max batch 1): request 0 starts alone, then the mode picks among 1 (p 300, d 5), 2 (p 50, d 2) and
    # 3 (p 200, d 10): arrival order, largest prompt first, fewest decode tokens first
    env = _one_instance_run([10, 300, 50, 200], [40, 5, 2, 10], batching, max_batch=1)
    first = env.req_f[0, :, k.T_FIRST]
    assert np.argsort(first).tolist() == [0] + order
    assert env.req_i[0, :, k.NPRE].sum() == 0


@pytest.mark.parametrize("batching, skips", [("fcfs", False), ("bin-packing", True), ("least-work-left", True)])
def test_a_request_that_does_not_fit_blocks_fcfs_but_not_bin_packing(batching, skips):
    # KV 300: while request 0 (p 100) decodes, request 1 (p 250) cannot fit; request 2 (p 50) can.
    # FCFS waits behind request 1; bin packing admits the largest request that fits (2); least work left
    # admits the fewest decode tokens (2, d 2 < 3) first.
    env = _one_instance_run([100, 250, 50], [30, 3, 2], batching, kv_capacity=300)
    t_first, t_done = env.req_f[0, :, k.T_FIRST], env.req_f[0, :, k.T_DONE]
    assert (t_first[2] < t_done[0]) == skips
    assert t_first[1] > t_done[0]


def test_chunked_prefill_follows_the_hand_computed_timeline():
    service = ServiceModel(attention=1e-6)
    p, d, budget = 100, 3, 40
    env = _one_instance_run([p], [d], "fcfs", chunk_budget=budget, attention=1e-6)
    chunks = [(40, 0), (40, 40), (20, 80)]                          # (chunk tokens, earlier tokens of the prompt)
    prefill = sum(service.attention * c * e + service.grad1 * c for c, e in chunks)
    expected = prefill + service.decode_time(p + 1) + service.decode_time(p + 2)
    assert env.req_f[0, 0, k.T_FIRST] == pytest.approx(prefill)
    assert env.req_f[0, 0, k.T_DONE] == pytest.approx(expected)


def test_chunked_prefill_shares_iterations_with_decodes():
    # request 0 decodes while request 1's prompt (p 90) is prefilled in chunks of budget - 1 decode token
    service = ServiceModel(attention=1e-6)
    env = _one_instance_run([20, 90], [30, 1], "fcfs", chunk_budget=31, attention=1e-6)
    # request 0 alone: its 20 tokens in one chunk, then one decode iteration (request 1 is routed at 0.02 s)
    t, tokens = service.grad1 * 20 + service.decode_time(21), 22
    chunks = [(30, 0), (30, 30), (30, 60)]
    for c, e in chunks:
        t += service.attention * c * e + service.decode_time(tokens) + service.grad1 * c
        tokens += 1
    assert env.req_f[0, 1, k.T_FIRST] == pytest.approx(t)          # request 1's first token ends its prefill
    assert env.req_f[0, 1, k.T_DONE] == pytest.approx(t)
    assert env.req_f[0, 0, k.T_DONE] > t


def test_queue_means_are_the_time_averages_of_the_queues():
    """episode_metrics' router_queue_mean and instance_queue_mean (Little's law over the makespan) equal the
    queue lengths sampled at every decision step and averaged over time, up to one step per request (a request
    enters and leaves a queue inside a step)."""
    service = ServiceModel(kv_capacity=3000, max_time=120.0)
    loads = [sample_workload(80, 10.0, service, rng(5, "test-router-queues"))]
    m = 2
    env = VectorRouterEnv(EnvConfig(m=m, service=service), 1)
    env.reset(loads)
    gen = rng(5, "test-router-queue-actions")
    router_area = instance_area = 0.0
    while not env.finished.all():
        env.step(gen.integers(0, m + 1, size=1))
        arrived = (env.req_f[0, :, k.ARR] <= env.env_f[0, k.E_NOW])
        routed, first = env.req_f[0, :, k.T_ROUTE] >= 0, env.req_f[0, :, k.T_FIRST] >= 0
        router_area += (arrived & ~routed).sum() * service.dt
        instance_area += (routed & ~first).sum() * service.dt
    metrics = env.episode_metrics().iloc[0]
    makespan = metrics["makespan"]
    assert metrics["unserved"] == 0
    slack = len(loads[0].arrival) * service.dt / makespan
    assert metrics["router_queue_mean"] == pytest.approx(router_area / makespan, abs=slack)
    assert metrics["instance_queue_mean"] == pytest.approx(instance_area / makespan / m, abs=slack)
    assert metrics["router_queue_mean"] > 0 and metrics["instance_queue_mean"] > 0
