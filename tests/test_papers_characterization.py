"""repro.papers.characterization: thresholds are recovered on a problem with a known answer, F1 and its intervals,
claims decided from crafted counts, and a small end-to-end run (brief 07)."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from repro import papers
from repro.papers import ParameterError
from repro.papers import characterization as C


@pytest.fixture(scope="module")
def cfg():
    return papers.load_config("characterization", scale="smoke", n_vms=3000, days=4, pilot_vms=600, chunk_vms=1500,
                              bootstrap_resamples=100, threshold_grid=21, min_long_vms=20, min_class_vms=20)


@pytest.fixture(scope="module")
def results(cfg):
    return C.run(cfg)


def test_bad_parameters_name_the_field():
    with pytest.raises(ParameterError, match="n_vms"):
        papers.load_config("characterization", scale="smoke", n_vms=10)
    with pytest.raises(ParameterError, match="noise_levels"):
        papers.load_config("characterization", scale="smoke", noise_levels=[0.7])


def test_weighted_f1_of_known_predictions():
    truth = np.array([True, True, False, False])
    pred = np.array([[True, True, True], [True, False, True], [False, False, True], [False, False, True]])
    f1 = C.f1_of(pred, truth, np.ones(4))
    assert f1.tolist() == pytest.approx([1.0, 2 / 3, 2 / 3])
    assert C.f1_of(pred, truth, np.array([1.0, 0.0, 1.0, 0.0])).tolist() == pytest.approx([1.0, 1.0, 2 / 3])


def test_fit_thresholds_recovers_planted_thresholds():
    rng = np.random.default_rng(0)
    n = 4000
    vms = pd.DataFrame({"diurnal0": rng.random(n), "observed_days": rng.uniform(0, 7, n), "p95_cpu": rng.random(n),
                        "core_days": np.ones(n)})
    labels = {"diurnal": vms["diurnal0"].to_numpy() > 0.3,
              "delay_tolerant": (vms["diurnal0"].to_numpy() <= 0.3) & (vms["observed_days"].to_numpy() > 2.0),
              "preemptible": (vms["p95_cpu"].to_numpy() < 0.4) & (vms["observed_days"].to_numpy() < 1.5)}
    t = C.fit_thresholds(vms, labels, 201)
    assert t["diurnal"] == pytest.approx(0.3, abs=0.01)
    assert t["long"] == pytest.approx(2.0, abs=0.05)
    assert t["p95"] == pytest.approx(0.4, abs=0.01) and t["short"] == pytest.approx(1.5, abs=0.05)
    for rule, label in labels.items():
        assert C.f1_of(C.predict(rule, vms, t)[:, None], label, np.ones(n))[0] > 0.97


def test_candidates_include_the_default_and_the_constant_rules():
    grid = C.candidates(np.array([0.1, np.nan, 0.5]), 3, 0.2)
    assert grid[0] == -np.inf and grid[-1] == np.inf and 0.2 in grid and 0.3 in grid


def test_label_noise_is_nested_and_has_the_share(cfg):
    workloads = pd.DataFrame({q: np.zeros(4000, bool) for q in C.RULES.values()})
    noisy = C.noisy_answers(workloads, dataclasses.replace(cfg, noise_levels=(0.0, 0.1, 0.3)))
    assert not noisy["diurnal", 0.0].any()
    assert noisy["diurnal", 0.3].mean() == pytest.approx(0.3, abs=0.03)
    assert np.all(noisy["diurnal", 0.3] | ~noisy["diurnal", 0.1])


def test_run_tables_and_split(results, cfg):
    assert len(results.vms) == cfg.n_vms and results.workloads["test"].sum() == cfg.n_workloads // 2
    assert set(results.counts["method"]) == set(C.METHODS) and set(results.counts["truth"]) == set(C.TRUTHS)
    assert len(results.thresholds) == len(cfg.noise_levels)
    # every test VM is counted once per (truth, noise, rule, method): the weights add up to the test core-days
    total = results.counts.groupby(["truth", "noise", "rule", "method"])[["tp", "fp", "fn", "tn"]].sum().sum(axis=1)
    assert np.allclose(total, results.vms.loc[results.vms["test"], "core_days"].sum())


def test_claims_statuses_are_computed(results, cfg):
    out = {c["id"]: c for c in C.claims(results, cfg)}
    assert out["C1"]["status"] == out["C2"]["status"] == out["C5"]["status"] == "by-construction"
    assert out["C3"]["status"] == "cannot"
    assert {"C4a", "C4b", "C4c", "C4d", "C4e", "C4f"} <= set(out)
    # at 4 days, user-facing VMs are detectable: the diurnal rule beats the majority class at noise 0
    assert out["C4a"]["status"] == "direction-holds"
    assert C.claims_csv(list(out.values())).startswith("id,claim,paper_value,our_value,target,status,reason\n")


def _crafted(results, rule_cells, majority_cells):
    counts = results.counts.copy()
    for method, cells in (("rule", rule_cells), ("majority", majority_cells)):
        sel = counts["method"] == method
        counts.loc[sel, ["tp", "fp", "fn", "tn"]] = cells
    return dataclasses.replace(results, counts=counts)


def test_claims_follow_crafted_counts(results, cfg):
    better = _crafted(results, [5.0, 0.0, 0.0, 5.0], [0.0, 0.0, 5.0, 5.0])
    worse = _crafted(results, [0.0, 0.0, 5.0, 5.0], [5.0, 5.0, 0.0, 0.0])
    assert {c["status"] for c in C.inference_claims(better, cfg) if c["id"] == "C4c"} == {"direction-holds"}
    assert {c["status"] for c in C.inference_claims(worse, cfg) if c["id"] == "C4c"} == {"failed"}


def test_short_windows_make_periodicity_claims_not_testable(results, cfg):
    short = dataclasses.replace(results, vms=results.vms.assign(observed_days=0.5))
    status = {c["id"]: c["status"] for c in C.inference_claims(short, cfg)}
    assert status["C4a"] == status["C4b"] == "not-testable"
