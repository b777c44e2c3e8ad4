"""repro.router: the batched cluster kernels equal the plain-Python twin step by step (hypothesis, with preemption
and SJF), hold their invariants (KV and batch limits, token conservation, FCFS routing, h <= 0), match a
hand-computed single-request timeline, and the vector API rejects bad input."""
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


def run_both(loads, actions, service, m, sjf):
    env = VectorRouterEnv(EnvConfig(m=m, service=service, sjf=sjf), len(loads))
    obs, info = env.reset(loads)
    refs = [ReferenceCluster(service, w, m, sjf) for w in loads]
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


@settings(max_examples=25, deadline=None)
@given(workloads(3), st.integers(0, 2**32 - 1), st.integers(1, 4), st.booleans(), st.sampled_from([600, 2000, 30000]),
       st.sampled_from([2, 128]))
def test_kernels_equal_the_python_twin(loads, action_seed, m, sjf, kv, max_batch):
    service = ServiceModel(kv_capacity=kv, max_batch=max_batch, max_time=40.0)
    actions = rng(action_seed, "test-router-actions").integers(0, m + 1, size=(300, len(loads)))
    env, refs = run_both(loads, actions, service, m, sjf)
    for b, ref in enumerate(refs):
        np.testing.assert_array_equal(env.req_i[b, :, k.O], [r.generated for r in ref.requests])
        np.testing.assert_array_equal(env.req_i[b, :, k.NPRE], [r.preemptions for r in ref.requests])
        np.testing.assert_allclose(env.req_f[b, :, k.T_DONE], [r.t_done for r in ref.requests])
        np.testing.assert_allclose(env.req_f[b, :, k.T_FIRST], [r.t_first for r in ref.requests])


def test_the_twin_agreement_covers_preemption():
    service = ServiceModel(kv_capacity=1500, max_time=60.0)
    loads = [sample_workload(60, 20.0, service, rng(3, "test-router-preempt"))]
    actions = rng(3, "test-router-preempt-actions").integers(0, 2, size=(1500, 1))
    env, refs = run_both(loads, actions, service, 2, False)
    assert env.req_i[0, :, k.NPRE].sum() > 0


@settings(max_examples=40, deadline=None)
@given(workloads(2), st.integers(0, 2**32 - 1), st.sampled_from([700, 3000]), st.sampled_from([3, 128]))
def test_invariants_hold_along_any_episode(loads, action_seed, kv, max_batch):
    m = 3
    service = ServiceModel(kv_capacity=kv, max_batch=max_batch, max_time=200.0)
    env = VectorRouterEnv(EnvConfig(m=m, service=service), len(loads))
    obs, info = env.reset(loads)
    gen = rng(action_seed, "test-router-invariants")
    completions = np.zeros(len(loads))
    while not env.finished.all():
        before = info["aux"]
        actions = gen.integers(0, m + 1, size=len(loads))
        obs, _, _, _, info = env.step(actions)
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
        assert completions[b] == served.sum()
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
