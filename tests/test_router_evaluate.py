"""repro.router.evaluate and the environment's per-request table (brief 03 §4, the time-series figures): the running
mean TTFT equals a hand computation, a reward trace has one entry per decision and sums to the episode's return
(progress terms + r_w per completion with guidance weight 0), the request table agrees with the episode metrics
and the throughputs are tokens served per second of the makespan."""
import numpy as np
import pytest

from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import evaluate_router, play, running_mean, workloads
from repro.router.routers import RoundRobin
from repro.router.service import ServiceModel

CFG = EnvConfig(m=2, service=ServiceModel(kv_capacity=4000, max_time=60.0))


def test_running_mean_equals_a_hand_computation():
    first_token = np.array([3.0, 1.0, np.nan, 2.0, 2.0])     # the nan request never got its first token
    ttft = np.array([30.0, 10.0, 99.0, 20.0, 40.0])
    got = running_mean(first_token, ttft, [0.0, 1.0, 1.5, 2.0, 3.0, 10.0])
    np.testing.assert_allclose(got, [np.nan, 10.0, 10.0, (10 + 20 + 40) / 3, (10 + 20 + 40 + 30) / 4, 25.0])
    assert np.isnan(running_mean([np.nan], [1.0], [5.0])).all()
    done, tbt = np.array([1.0, 2.0, 3.0]), np.array([0.5, np.nan, 1.5])   # a one-token request has no TBT
    np.testing.assert_allclose(running_mean(done, tbt, [1.0, 2.0, 3.0]), [0.5, 0.5, 1.0])


def test_reward_trace_has_a_step_per_decision_and_sums_to_the_return():
    loads = workloads(CFG, 30, 10.0, 0, ("test-evaluate-trace",), range(3))
    env = VectorRouterEnv(CFG, 3)
    router = RoundRobin()
    router.reset(3)
    traces = play(env, router.act, loads, traced=[0, 2])
    decisions = env.env_i[:, k.E_DECISIONS]
    assert [len(t) for t in traces] == [decisions[0], decisions[2]]
    assert decisions[0] != decisions[2]                      # each trace stops with its own episode

    again = VectorRouterEnv(CFG, 3)                          # the same episodes, the return summed by hand
    router.reset(3)
    obs, info = again.reset(loads)
    returns, progress = np.zeros(3), np.zeros(3)
    while not again.finished.all():
        active = ~again.finished
        obs, reward, _, _, info = again.step(router.act(obs, info["aux"]))
        returns += np.where(active, reward, 0.0)
        progress += info["terms"][:, k.R_PROGRESS]
    served = (again.req_f[:, :, k.T_DONE] >= 0).sum(axis=1)
    for trace, b in zip(traces, (0, 2)):
        assert trace.sum() == pytest.approx(returns[b], rel=1e-12)
        assert trace.sum() == pytest.approx(progress[b] + CFG.completion_reward * served[b], rel=1e-12)


def test_request_table_agrees_with_the_episode_metrics_and_the_workload():
    loads = workloads(CFG, 40, 12.0, 0, ("test-evaluate-table",), range(2))
    env = VectorRouterEnv(CFG, 2)
    router = RoundRobin()
    router.reset(2)
    play(env, router.act, loads)
    metrics, table = env.episode_metrics(), env.request_table([1, 0])
    assert list(table["episode"].unique()) == [1, 0]
    for b in (0, 1):
        rows = table[table["episode"] == b]
        np.testing.assert_array_equal(rows["task"], loads[b].task)
        np.testing.assert_array_equal(rows["prompt"], loads[b].prompt)
        np.testing.assert_array_equal(rows["arrival"], loads[b].arrival)
        assert rows["e2e"].mean() == pytest.approx(metrics.loc[b, "e2e_mean"])
        assert rows["ttft"].mean() == pytest.approx(metrics.loc[b, "ttft_mean"])
        assert rows["tbt"].mean() == pytest.approx(metrics.loc[b, "tbt_mean"])     # pandas skips the nans
        np.testing.assert_allclose(rows["ttft"], rows["first_token"] - rows["arrival"])
        np.testing.assert_allclose(rows["e2e"], rows["done"] - rows["arrival"])
        single = rows["decode"] == 1
        assert rows.loc[single, "tbt"].isna().all() and rows.loc[~single, "tbt"].notna().all()
        makespan = metrics.loc[b, "makespan"]
        assert metrics.loc[b, "unserved"] == 0 and makespan >= rows["done"].max()
        assert metrics.loc[b, "prompt_throughput"] == pytest.approx(rows["prompt"].sum() / makespan)
        assert metrics.loc[b, "generation_throughput"] == pytest.approx(rows["decode"].sum() / makespan)


def test_an_evaluation_keeps_episode_zero_series():
    loads = workloads(CFG, 30, 10.0, 0, ("test-evaluate-keep",), range(3))
    ev = evaluate_router(RoundRobin(), CFG, loads)
    assert ev.method == "RR" and list(ev.metrics["episode"]) == [0, 1, 2]
    assert set(ev.requests["episode"]) == {0} and len(ev.requests) == 30
    assert len(ev.rewards) == ev.metrics.loc[0, "decisions"]
