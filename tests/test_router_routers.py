"""repro.router.routers: each classical router picks what its rule says on hand-made features, waits on an empty
queue, and every router serves a whole episode; Min-Min's SJF queue routes the shortest job first."""
import numpy as np

from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import evaluate_router, workloads
from repro.router.routers import (
    CLASSICAL, HeuristicOnly, JoinShortestQueue, MaxCapacityUsage, MinMin, RoundRobin,
)
from repro.router.service import ServiceModel
from repro.router.workload import Workload

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
        metrics = evaluate_router(router(), cfg, loads)
        assert (metrics["unserved"] == 0).all(), router.name
        assert (metrics["e2e_mean"] > 0).all()
        assert set(metrics["method"]) == {router.name}
