"""repro.papers.streetwise: the shaping rules on hand values, the scripted gym policies and disturbances, online
windows, config checks, and the claims on crafted results (every status they can take)."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from repro.core.seeds import rng
from repro.learn.autoencoder import sliding_windows
from repro.papers import ParameterError
from repro.papers import streetwise as paper
from repro.papers.config import resolve_parameters

from conftest import ROOT


def config(**changes) -> paper.Config:
    return dataclasses.replace(paper.Config.from_params(resolve_parameters("streetwise", ROOT, scale="smoke")),
                               **changes)


def test_severity_modes_on_hand_values():
    score, thr = np.array([0.5, 1.0, 1.5, 2.0, 4.0]), 1.0
    np.testing.assert_allclose(paper.severity(score, thr), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(paper.severity(score, thr, "threshold"), [0, 0, 1, 1, 1])
    np.testing.assert_allclose(paper.severity(score, thr, "none"), 0)
    with pytest.raises(ValueError, match="severity mode"):
        paper.severity(score, thr, "soft")


def test_bwe_shaping_backs_off_toward_the_receive_rate_only():
    rate, recv = np.array([4e6, 4e6, 1e6, 4e6]), np.array([2e6, 2e6, 2e6, 0.0])
    kappa = np.array([0.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(paper.shaped_rate(rate, kappa, recv), [4e6, 1.8e6, 1e6, 4e6])
    np.testing.assert_allclose(paper.shaped_rate(rate, 0.5, recv)[:2], [2.9e6, 2.9e6])
    np.testing.assert_allclose(paper.blended_action(np.array([1.0]), 0.25, np.array([-1.0])), [0.5])


def test_reward_scale_is_iqls():
    rewards = np.array([[1.0, 1.0], [3.0, 3.0]])          # returns 2 and 6
    assert paper.reward_scale(rewards) == pytest.approx(250.0)
    assert paper.reward_scale(np.ones((3, 2))) == 1.0


def test_online_windows_equal_sliding_windows():
    obs = rng(0, "test-sw-windows").normal(size=(3, 12, 2)).astype(np.float32)
    windows = paper.OnlineWindows(4)
    online = np.stack([windows.push(obs[:, t]) for t in range(12)], axis=1)
    np.testing.assert_array_equal(online, sliding_windows(obs, 4))


@pytest.mark.parametrize("env, good", [("pendulum", -500.0), ("mcc", 80.0)])
def test_scripted_behaviour_solves_the_task(env, good):
    out = paper.gym_rollout(env, 20, 500, lambda obs, t: paper.scripted_action(env, obs), rng(0, "test-sw-gym"))
    assert out["reward"].sum(axis=1).mean() > good
    if env == "mcc":
        assert out["done"].sum() == 20                        # every car reaches the goal once
        assert (out["alive"].sum(axis=1) < 500).all()


def test_disturbances_act_only_where_scheduled():
    schedule = np.zeros((4, 50), dtype=bool)
    schedule[:2, 10:20] = True
    seen = []

    def policy(obs, t):
        seen.append(obs.copy())
        return np.full(len(obs), 1.0)

    base = paper.gym_rollout("pendulum", 4, 50, policy, rng(1, "test-sw-dist"))
    biased = paper.gym_rollout("pendulum", 4, 50, policy, rng(1, "test-sw-dist"), "obs-bias", schedule)
    diff = biased["obs"] - base["obs"]
    assert np.allclose(diff[:, :10], 0) and np.allclose(diff[2:], 0)
    np.testing.assert_allclose(diff[:2, 10, 2], 2.0, rtol=1e-6)   # the bias shows in theta_dot as seen
    gain = paper.gym_rollout("pendulum", 4, 50, policy, rng(1, "test-sw-dist"), "action-gain", schedule)
    assert not np.allclose(gain["reward"][:2, 10:], base["reward"][:2, 10:])
    np.testing.assert_allclose(gain["reward"][2:], base["reward"][2:])


def test_bad_parameters_are_named():
    params = resolve_parameters("streetwise", ROOT, scale="smoke")
    for change, name in (({"scenarios": ["jitter"]}, "scenarios"), ({"n_seeds": 1}, "n_seeds"),
                         ({"gym_envs": ["hopper"]}, "gym_envs"), ({"threshold_percentile": 100.0}, "threshold")):
        with pytest.raises(ParameterError, match=name):
            paper.Config.from_params({**params, **change})


# ----------------------------------------------------------------------------------------------- claims

def crafted(cfg, gain=0.3, degrade=0.5, fire_ood=0.5, auroc=0.9, gym_gain=20.0, gym_degrade=50.0, noise=0.05):
    """Results whose effects we set: Streetwise - IQL on OOD scenarios (gain), IQL's OOD regret (degrade), ..."""
    gen = rng(7, "test-sw-crafted")
    rows = []
    for r in cfg.seeds:
        for s in cfg.scenarios:
            ood = s != "in-distribution"
            iql = 4.0 - (degrade if ood else 0.0) + noise * gen.normal()
            for method, mos in (("oracle", 4.5), ("iql", iql), ("streetwise", iql + (gain if ood else 0.0)
                                                                + noise * gen.normal())):
                rows.append({"seed": r, "scenario": s, "method": method, "mos": mos,
                             "overestimate": 0.05, "overestimate_ood": 0.2 + noise * gen.normal(),
                             "fire_rate": np.nan, "kappa": np.nan})
    detector = pd.DataFrame([{"seed": r, "detector": d, "auroc": auroc + noise * gen.normal(), "fire_id": 0.01,
                              "fire_ood": fire_ood, "threshold": 1.0, "n_id": 1000, "n_ood": 500}
                             for r in cfg.seeds for d in ("lstm", "mlp")])
    training = pd.DataFrame([{"seed": r, "model": "ae-lstm", "loss_start": 1.0, "loss_end": 0.1} for r in cfg.seeds])
    gym = []
    for r in cfg.seeds:
        for e in cfg.gym_envs:
            for d in ("none", *paper.DISTURBANCES):
                iql = -200.0 - (gym_degrade if d != "none" else 0.0) + 10 * gen.normal()
                gym += [{"seed": r, "env": e, "disturbance": d, "method": "iql", "return": iql, "fire_rate": np.nan},
                        {"seed": r, "env": e, "disturbance": d, "method": "streetwise",
                         "return": iql + (gym_gain if d != "none" else 0.0) + 10 * gen.normal(), "fire_rate": 0.3}]
    empty = pd.DataFrame()
    return paper.Results(pd.DataFrame(rows), detector, empty, empty, pd.DataFrame(gym), training,
                         pd.DataFrame([{"dataset_id": "x", "path": "p", "transitions": 1, "episodes": 1,
                                        "behaviour_mos": 4.0, "reward_scale": 1.0}]))


CLAIM_CFG = config(n_seeds=6, scenarios=("in-distribution", "capacity-drop", "jitter"), gym_envs=("pendulum",))


def statuses(results):
    return {c["id"]: c["status"] for c in paper.claims(results, CLAIM_CFG)}


def test_claims_hold_on_results_built_to_hold():
    assert statuses(crafted(CLAIM_CFG)) == {"C1": "direction-holds", "C2": "direction-holds",
                                            "C3": "direction-holds", "C4": "direction-holds"}
    c1 = paper.claims(crafted(CLAIM_CFG), CLAIM_CFG)[0]
    assert "best scenario" in c1["our_value"] and "%" in c1["our_value"]


def test_claims_fail_or_are_not_testable_when_the_numbers_say_so():
    assert statuses(crafted(CLAIM_CFG, gain=-0.3, auroc=0.6, gym_gain=-40.0)) == {
        "C1": "failed", "C2": "direction-holds", "C3": "failed", "C4": "failed"}
    no_shift = statuses(crafted(CLAIM_CFG, degrade=-0.2, gym_degrade=-50.0))
    assert no_shift["C1"] == "not-testable" and no_shift["C4"] == "not-testable"
    assert statuses(crafted(CLAIM_CFG, fire_ood=0.0))["C1"] == "not-testable"
    assert statuses(crafted(CLAIM_CFG, gain=0.0, noise=0.2))["C1"] == "inconclusive"


def test_c4_without_gym_tasks_is_not_testable():
    cfg = dataclasses.replace(CLAIM_CFG, gym_envs=())
    results = crafted(cfg)
    assert paper.gym_claim(results, cfg)["status"] == "not-testable"


def test_limitations_name_our_choices():
    items = paper.limitations(config())
    assert len(items) >= 8 and sum("[our choice]" in i for i in items) >= 6
