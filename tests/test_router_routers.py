"""repro.router.routers: each classical router picks what its rule says on hand-made features, waits on an empty
queue, and every router serves a whole episode; Min-Min's SJF queue routes the shortest job first."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import evaluate_router, workloads
from repro.router.routers import (
    A_DECODE_LEFT, A_HEAD_DECODE, CLASSICAL, DecodeBalancer, DedicatedSmallLarge, HeuristicOnly, JoinShortestQueue,
    MaxCapacityUsage, MinMin, RoundRobin, oracle_columns, with_oracle,
)
from repro.router.service import ServiceModel
from repro.router.workload import Workload, sample_workload

M = 3


def features(queue, capacity, mix, tokens, drain, fits):
    obs = np.zeros((1, k.obs_dim(M)))
    obs[0, 4:6 * M:6] = capacity
    obs[0, 6 * M] = queue
    aux = np.zeros((1, M, k.N_AUX))
    aux[0, :, k.A_MIX], aux[0, :, k.A_TOKENS], aux[0, :, k.A_DRAIN], aux[0, :, k.A_FITS] = mix, tokens, drain, fits
    return obs, aux


def test_each_rule_picks_its_instance_and_every_router_waits_on_an_empty_queue():
    obs, aux = features(2, [0.2, 0.9, 0.5], [-0.3, -0.6, -0.1], [50, 10, 30], [4.0, 2.0, 1.0], [1, 0, 1])
    assert JoinShortestQueue().act(obs, aux)[0] == 1
    assert MaxCapacityUsage().act(obs, aux)[0] == 2           # instance 1 has more capacity but cannot take the job
    assert MinMin().act(obs, aux)[0] == 2
    assert HeuristicOnly().act(obs, aux)[0] == 2
    none_fit = features(2, [0.2, 0.9, 0.5], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0])
    assert MaxCapacityUsage().act(*none_fit)[0] == M
    empty = features(0, [0.2, 0.9, 0.5], [-0.3, -0.6, -0.1], [50, 10, 30], [4.0, 2.0, 1.0], [1, 1, 1])
    for router in CLASSICAL:
        r = router()
        r.reset(1)
        assert r.act(*empty)[0] == M


def test_round_robin_cycles_only_when_it_routes():
    rr = RoundRobin()
    rr.reset(1)
    busy, empty = features(1, 0, 0, 0, 0, 1), features(0, 0, 0, 0, 0, 1)
    picks = [rr.act(*f)[0] for f in (busy, busy, empty, busy, busy)]
    assert picks == [0, 1, M, 2, 0]


def test_the_sjf_queue_routes_the_shortest_job_first():
    service = ServiceModel()
    load = Workload(np.zeros(3), np.zeros(3, np.int64), np.array([500, 20, 100]), np.array([10, 10, 10]),
                    np.array([1, 0, 0]))
    env = VectorRouterEnv(EnvConfig(m=2, service=service, sjf=True), 1)
    obs, _ = env.reset([load])
    assert obs[0, 12 + 1] == 20                                # the head seen by the router is the shortest job
    for _ in range(3):
        env.step(np.array([0]))
    np.testing.assert_array_equal(env.req_i[0, :, k.KEY], [2, 0, 1])


def test_every_router_serves_a_whole_episode():
    cfg = EnvConfig(m=2, service=ServiceModel(kv_capacity=4000))
    loads = workloads(cfg, 60, 10.0, 0, ("test-router-episode",), range(2))
    for router in CLASSICAL:
        metrics = evaluate_router(router(), cfg, loads).metrics
        assert (metrics["unserved"] == 0).all(), router.name
        assert (metrics["e2e_mean"] > 0).all()
        assert set(metrics["method"]) == {router.name}


def oracle_features(queue, head_decode, decode_left):
    obs = np.zeros((1, k.obs_dim(2)))
    obs[0, 6 * 2] = queue
    aux = np.zeros((1, 2, k.N_AUX + 2))
    aux[0, :, A_HEAD_DECODE], aux[0, :, A_DECODE_LEFT] = head_decode, decode_left
    return obs, aux


def test_table2_routers_pick_by_the_oracle_columns():
    dedicated, balancer = DedicatedSmallLarge(154), DecodeBalancer()
    assert dedicated.act(*oracle_features(1, 154, [0, 0]))[0] == 0          # heavy decode: instance 0
    assert dedicated.act(*oracle_features(1, 153, [0, 0]))[0] == 1          # light: instance 1
    assert balancer.act(*oracle_features(1, 10, [300, 120]))[0] == 1
    assert balancer.act(*oracle_features(1, 10, [50, 120]))[0] == 0
    assert balancer.act(*oracle_features(0, 10, [50, 120]))[0] == 2         # empty queue: wait
    with pytest.raises(ValueError, match="oracle"):
        balancer.act(*features(1, 0, 0, 0, 0, 1))
    with pytest.raises(ValueError, match="heavy_decode_tokens"):
        DedicatedSmallLarge(0)


def test_oracle_columns_read_the_head_and_the_decode_tokens_left():
    load = Workload(np.array([0.0, 0.0, 0.0]), np.zeros(3, np.int64), np.array([10, 20, 30]),
                    np.array([40, 7, 90]), np.array([0, 0, 0]))
    env = VectorRouterEnv(EnvConfig(m=2), 1)
    obs, info = env.reset([load])
    np.testing.assert_array_equal(oracle_columns(env)[0], [[40, 0], [40, 0]])
    env.step(np.array([1]))                                   # request 0 to instance 1; it prefills (1 token)
    cols = oracle_columns(env)[0]
    assert cols[0, 0] == 7 and cols[1, 0] == 7                # the head is now request 1
    generated = env.req_i[0, 0, k.O]
    assert generated >= 1
    np.testing.assert_array_equal(cols[:, 1], [0, 40 - generated])
    env.step(np.array([1]))
    env.step(np.array([0]))
    cols = with_oracle(env, env.aux)[0]
    assert cols.shape == (2, k.N_AUX + 2)
    assert cols[0, A_HEAD_DECODE] == 0                         # queue empty
    left = env.req_i[0, :, k.D] - env.req_i[0, :, k.O]
    done = env.req_i[0, :, k.ST] == k.DONE
    np.testing.assert_array_equal(cols[:, A_DECODE_LEFT], [left[2] * (not done[2]), (left[:2] * ~done[:2]).sum()])


def brute_force_oracle(env):
    """The oracle columns from the request arrays alone: head = the oldest arrived queued request."""
    out = np.zeros((env.n_envs, env.m, 2))
    for b in range(env.n_envs):
        req = env.req_i[b]
        queued = [j for j in range(env.env_i[b, k.E_ARRIVED]) if req[j, k.ST] == k.QUEUED]
        out[b, :, 0] = req[queued[0], k.D] if queued else 0
        for j in range(req.shape[0]):
            if req[j, k.INST] >= 0 and req[j, k.ST] != k.DONE:
                out[b, req[j, k.INST], 1] += req[j, k.D] - req[j, k.O]
    return out


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3))
def test_oracle_columns_equal_a_brute_force_reading_at_every_step(seed, m):
    g = rng(seed, "test-router-oracle")
    loads = [sample_workload(15, 20.0, ServiceModel(), g) for _ in range(3)]
    env = VectorRouterEnv(EnvConfig(m=m, service=ServiceModel(kv_capacity=1500, max_time=8.0)), 3)
    env.reset(loads)
    while not env.finished.all():
        np.testing.assert_array_equal(oracle_columns(env), brute_force_oracle(env))
        env.step(g.integers(0, m + 1, size=3))


def test_dedicated_small_large_places_every_heavy_decode_on_instance_0_and_the_balancer_balances():
    g = rng(3, "test-router-dedicated")
    load = sample_workload(30, 20.0, ServiceModel(), g)
    env = VectorRouterEnv(EnvConfig(m=2), 1)
    router = DedicatedSmallLarge(154)
    router.reset(1)
    obs, info = env.reset([load])
    while not env.finished[0]:
        obs, _, _, _, info = env.step(router.act(obs, with_oracle(env, info["aux"])))
    np.testing.assert_array_equal(env.req_i[0, :, k.INST], np.where(load.decode >= 154, 0, 1))
    same = Workload(np.zeros(4), np.zeros(4, np.int64), np.full(4, 10), np.array([100, 10, 10, 10]),
                    np.zeros(4, np.int64))
    balancer = DecodeBalancer()
    obs, info = env.reset([same])
    while not env.finished[0]:
        obs, _, _, _, info = env.step(balancer.act(obs, with_oracle(env, info["aux"])))
    np.testing.assert_array_equal(env.req_i[0, :, k.INST], [0, 1, 1, 1])       # 100 left on 0 vs 10, 20, 30 on 1
