"""repro.papers.router: bad parameters are named, the isolated service time matches the kernel on a lone request,
a tiny run gives every method and claims whose statuses follow from the numbers (and can fail), keeps only the
episode-0 series the figures draw, and reruns are identical."""
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from repro import papers
from repro.report.claims import status_of
from repro.papers import router as paper
from repro.papers.config import ParameterError
from repro.router import cluster as k
from repro.router.env import VectorRouterEnv
from repro.router.workload import Workload


def tiny_config(**changes):
    cfg = papers.load_config("router", scale="smoke")
    small = dict(n_instances=2, n_requests=40, rate=8.0, kv_capacity=3000, n_train_seeds=2, train_episodes=2,
                 parallel_episodes=2, explore_episodes=1, eval_episodes=3, batch_size=32, update_every=4,
                 settings=("a100-n4", "a100-n4-chunked", "v100-n8", "azure-proxy"), grid_requests=16, grid_seeds=2,
                 placement_seeds=2, predictor_sweep=(0.5, 1.0))
    return dataclasses.replace(cfg, **{**small, **changes})


def test_bad_parameters_are_named():
    params = dataclasses.asdict(papers.load_config("router", scale="smoke"))
    params.update(predictor="psychic", kv_capacity=500, train_episodes=5, predictor_sweep=[0.5, 1.5])
    with pytest.raises(ParameterError) as err:
        paper.Config.from_params(params)
    for name in ("predictor", "kv_capacity", "train_episodes", "predictor_sweep"):
        assert name in str(err.value)


def test_chunked_setting_without_its_unchunked_base_is_named():
    params = dataclasses.asdict(papers.load_config("router", scale="smoke"))
    params.update(settings=["a100-n4-chunked"])
    with pytest.raises(ParameterError, match="'a100-n4-chunked' is compared with RR of 'a100-n4'"):
        paper.Config.from_params(params)


def test_isolated_service_time_equals_a_lone_request_in_the_cluster():
    cfg = tiny_config()
    env_cfg = paper.env_config(cfg)
    for prompt, decode in ((10, 1), (300, 7), (999, 40)):
        load = Workload(np.array([0.0]), np.zeros(1, np.int64), np.array([prompt]), np.array([decode]),
                        np.array([0]))
        env = VectorRouterEnv(env_cfg, 1)
        env.reset([load])
        env.step(np.array([0]))
        while not env.finished.all():
            env.step(np.array([cfg.n_instances]))
        expected = paper.isolated_service_time(env_cfg.service, [prompt], [decode])[0]
        assert env.req_f[0, 0, k.T_DONE] == pytest.approx(expected, rel=1e-9)


@pytest.fixture(scope="module")
def tiny_run():
    cfg = tiny_config()
    return cfg, paper.run(cfg)


def test_a_tiny_run_covers_every_method_and_decides_claims_from_numbers(tiny_run):
    cfg, results = tiny_run
    methods = set(results.evaluation["method"])
    assert methods == {"RR", "JSQ", "MCU", "Min-Min", "Heuristic", "Random", *paper.NAMES.values()}
    rl = results.evaluation[results.evaluation["method"].isin(paper.NAMES.values())]
    assert len(rl) == len(paper.SETTINGS) * 3 * cfg.n_train_seeds * cfg.eval_episodes
    assert set(results.evaluation["setting"]) == set(paper.SETTINGS)
    assert set(results.grid["grid_seed"]) == {0, 1} and len(results.placements) == 2 * 2 ** 8
    assert sorted(results.training["episode"].unique()) == [1, 2]
    table = paper.improvement_table(results)
    assert (table["ci_low"] <= table["improvement"]).all() and (table["improvement"] <= table["ci_high"]).all()
    claims = paper.claims(results, cfg)
    for claim in claims:
        assert claim["status"] == status_of(claim)
    statuses = {c["id"]: c["status"] for c in claims}
    assert statuses["C9"] == statuses["C6"] == "cannot"
    assert {"C3", "C4-RR-chunking", "C4-WG", "C5", "C6-proxy", "C6-proxy-vs-C3", "C7", "C8-best-random",
            "C8-worst-random"} <= set(statuses)
    proxy = paper.extra(results, cfg)["proxy"]
    assert 0.0 <= proxy["forest_accuracy_ci"][0] <= proxy["forest_accuracy"] <= proxy["forest_accuracy_ci"][1] <= 1.0
    assert paper.extra(results, dataclasses.replace(cfg, settings=()))["proxy"] is not None   # from the results
    no_proxy = paper.proxy_claims(results, dataclasses.replace(cfg, settings=("a100-n4",)))
    assert [c["id"] for c in no_proxy] == ["C6"]
    # a regime the run cannot meet turns every measured claim not-testable
    strict = dataclasses.replace(cfg, min_load_ratio=1e6)
    assert {c["status"] for c in paper.claims(results, strict)
            if c["target"] != "cannot" and not c["id"].startswith(("C7", "C8"))} == {"not-testable"}
    # with the regimes waived, a band that excludes every value fails
    loose = dataclasses.replace(cfg, min_load_ratio=0.0, min_busy_share=0.0, heuristic_band=1e-9)
    c2 = [c for c in paper.claims(results, loose) if c["id"] == "C2-JSQ"][0]
    jsq = table.set_index("method").loc["JSQ"]
    if jsq["ci_low"] > 1e-9 or jsq["ci_high"] < 0:
        assert c2["status"] == "failed"
    assert len(paper.limitations(cfg)) >= 8


def test_same_seed_same_numbers_in_this_process_or_on_two_dask_workers(tiny_run):
    cfg, results = tiny_run
    assert cfg.n_workers == 1
    again = paper.run(dataclasses.replace(cfg, n_workers=2))
    np.testing.assert_array_equal(results.evaluation["e2e_mean"].to_numpy(), again.evaluation["e2e_mean"].to_numpy())
    pd.testing.assert_frame_equal(results.requests, again.requests)      # the figures' series too
    pd.testing.assert_frame_equal(results.rewards, again.rewards)


def test_results_keep_only_the_series_the_figures_draw(tiny_run):
    cfg, results = tiny_run
    requests, rewards = results.requests, results.rewards
    methods = set(results.evaluation["method"])
    for setting in paper.TIME_SERIES_SETTINGS:
        rows = requests[requests["setting"] == setting]
        assert set(rows["method"]) == methods
        assert len(rows) == len(methods) * paper.n_requests(cfg, setting)       # episode 0, replicate 0 only
    assert set(requests["setting"]) == set(paper.TIME_SERIES_SETTINGS)
    assert set(rewards["method"]) == set(paper.NAMES.values())
    ev = results.evaluation
    for method, trace in rewards.groupby("method"):     # one reward per decision step of episode 0, replicate 0
        first = ev[(ev["setting"] == paper.HEADLINE) & (ev["method"] == method) & (ev["replicate"] == 0)
                   & (ev["episode"] == 0)]
        assert len(trace) == first["decisions"].item()
    means = paper.method_means(results)
    assert (means.loc[paper.THROUGHPUT_SETTINGS[1], ["prompt_throughput", "generation_throughput"]] > 0).all().all()


def test_the_time_series_figures_draw(tiny_run):
    cfg, results = tiny_run
    for draw, n in ((paper.plot_over_time, 1), (paper.plot_a100_chunking, 3), (paper.plot_task_mix, 1),
                    (lambda axes, r: paper.plot_test_rewards(axes, r, cfg), 3), (paper.plot_tbt_and_waits, 4),
                    (paper.plot_predictor, 3)):
        fig, axes = plt.subplots(1, n)
        draw(axes, results)
        assert all(ax.has_data() for ax in np.atleast_1d(axes))
        plt.close(fig)


def test_rl_claims_need_a_policy_that_learned_to_route(tiny_run):
    cfg, results = tiny_run
    loose = dataclasses.replace(cfg, min_load_ratio=0.0, min_busy_share=0.0)
    ev = results.evaluation.copy()
    rl = ev["method"].isin(paper.NAMES.values())
    ev.loc[rl, "unserved"] = 0
    for setting, rows in ev.groupby("setting"):   # every RL router beats random routing in its own setting
        ev.loc[rl & (ev["setting"] == setting), "e2e_mean"] = 0.5 * rows.loc[rows["method"] == paper.RANDOM,
                                                                              "e2e_mean"].mean()
    ev.loc[ev["method"] == paper.NAMES["guided"], "unserved"] = cfg.n_requests // 2   # holds half until the cut
    held = dataclasses.replace(results, evaluation=ev)
    statuses = {c["id"]: c["status"] for c in paper.claims(held, loose)}
    guided = ["C1", "C1-order-WG-WA", "C2-WG-vs-JSQ", "C2-WG-vs-MCU", "C2-WG-vs-Min-Min"]
    assert {statuses[i] for i in guided} == {"not-testable"}
    assert "not-testable" not in {statuses[i] for i in ("C1-Base", "C1-order-WA-Base", "C10-router-wait", "C2-JSQ")}
    served = paper.learned(held, cfg, "guided", "aware")[0]
    assert served.value == pytest.approx(0.5, abs=0.01) and not served.passed


def test_rl_claims_need_a_policy_that_beats_random_routing(tiny_run):
    cfg, results = tiny_run
    loose = dataclasses.replace(cfg, min_load_ratio=0.0, min_busy_share=0.0)
    ev = results.evaluation.copy()
    headline = ev["setting"] == paper.HEADLINE
    rand = ev.loc[headline & (ev["method"] == paper.RANDOM), "e2e_mean"].mean()
    ev.loc[ev["method"].isin(paper.NAMES.values()), "unserved"] = 0
    ev.loc[headline & ev["method"].isin(paper.NAMES.values()), "e2e_mean"] = 0.5 * rand
    ev.loc[headline & (ev["method"] == paper.NAMES["baseline"]), "e2e_mean"] = 2.0 * rand   # worse than random
    statuses = {c["id"]: c["status"] for c in paper.claims(dataclasses.replace(results, evaluation=ev), loose)}
    assert statuses["C1-Base"] == "not-testable" and statuses["C1"] != "not-testable"
    over_random = paper.learned(dataclasses.replace(results, evaluation=ev), cfg, "guided")[1]
    assert over_random.value == pytest.approx(50.0) and over_random.passed


def test_predictor_panels_hold_the_emulated_accuracy_and_the_sweep(tiny_run):
    cfg, results = tiny_run
    table = results.predictor                       # per task: share of requests whose predicted bucket is right
    assert table["requests"].sum() == cfg.eval_episodes * cfg.n_requests
    seen = table[table["requests"] > 0]
    assert ((seen["emulated"] >= 0) & (seen["emulated"] <= 1)).all()
    oracle = paper.predictor_table(dataclasses.replace(cfg, predictor="oracle"))
    assert (oracle.loc[oracle["requests"] > 0, "emulated"] == 1).all()
    sweep = paper.predictor_sweep_table(results)    # one row per swept accuracy, then the headline WG run
    assert sweep["accuracy"].iloc[:-1].tolist() == list(cfg.predictor_sweep) and np.isnan(sweep["accuracy"].iloc[-1])
    assert (sweep["n"] == cfg.n_train_seeds).all()
    rows = results.predictor_sweep
    assert len(rows) == len(cfg.predictor_sweep) * cfg.n_train_seeds * cfg.eval_episodes


def test_the_predictor_sweep_only_changes_the_predicted_buckets():
    cfg = tiny_config()
    paper_loads, oracle_loads = paper.eval_workloads(cfg), paper.eval_workloads(cfg, predictor=1.0)
    for a, b in zip(paper_loads, oracle_loads):
        for field in ("arrival", "task", "prompt", "decode"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert any((a.bucket != b.bucket).any() for a, b in zip(paper_loads, oracle_loads))
