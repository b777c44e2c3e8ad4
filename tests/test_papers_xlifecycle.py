"""repro.papers.xlifecycle: the retrieval recommender and its scores on known answers, the circularity controls,
the classifiers, the bootstrap, claims on crafted results (every status they can take), the no-data stop, and
run() at smoke scale on the public monitor corpora."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from rouge_score import rouge_scorer
from sklearn.metrics import f1_score

from repro import data
from repro.papers import ParameterError
from repro.papers import xlifecycle as paper
from repro.papers.config import resolve_parameters
from repro.traces import incidents as gen

from conftest import ROOT


def config(**changes) -> paper.Config:
    params = resolve_parameters("xlifecycle", ROOT, scale="smoke")
    return dataclasses.replace(paper.Config.from_params(params), **changes)


CFG = config(bootstrap_resamples=200)


# ----------------------------------------------------------------------------------------------- texts and controls

def test_strip_fault_words_removes_the_cause_vocabulary_and_keeps_service_names():
    stripped = paper.strip_fault_words("orders-db connection pool exhausted on the primary, p99 high at cart-web")
    assert stripped == "orders-db p99 high at cart-web"


def test_suspect_upstreams_are_upstreams_touched_by_a_related_incident():
    upstreams = {"a-web": ("x-db", "y-cache"), "b-web": ("x-db",), "x-db": (), "y-cache": (), "c-web": ("y-cache",)}
    inc = pd.DataFrame({"service": ["a-web", "b-web", "c-web", "a-web"], "minute": [0.0, 5.0, 500.0, 1000.0]})
    assert paper.suspect_upstreams(inc, upstreams, 30.0) == [("x-db",), ("x-db",), (), ()]
    assert paper.related_incidents(inc["minute"].to_numpy(), 30.0).sum() == 2


def test_shuffled_upstreams_permute_the_lists_among_services_that_have_one():
    services = gen.service_graph(gen.IncidentConfig(), 0)
    true, placebo = dict(zip(services["service"], services["upstreams"])), paper.shuffled_upstreams(services, 0)
    assert sorted(map(tuple, placebo.values())) == sorted(map(tuple, true.values()))
    assert all(placebo[s] == () for s, ups in true.items() if ups == ())
    assert placebo != true


def test_label_noise_replaces_about_the_requested_share_and_zero_is_identity():
    causes = np.array([f"c{i}" for i in range(2000)])
    assert (paper.recorded_causes(causes, 0.0, 0, 1) == causes).all()
    changed = np.mean(paper.recorded_causes(causes, 0.4, 0, 1) != causes)
    assert 0.35 < changed < 0.45


# ----------------------------------------------------------------------------------------------- retrieval

def test_nearest_record_skips_unavailable_records_and_breaks_ties_by_order():
    x = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    self_only = np.eye(4, dtype=bool)
    assert paper.nearest_record(x, x, self_only).tolist() == [1, 0, 3, 2]
    assert paper.nearest_records(x, x, self_only, 2)[0].tolist() == [1, 2]
    open_incidents = paper.unavailable_records(np.array([0.0, 5.0, 100.0, 400.0]), 30.0)
    assert paper.nearest_record(x, x, open_incidents).tolist() == [2, 2, 3, 2]


def test_dependency_context_that_names_the_cause_gives_exact_recommendations():
    """Metadata say nothing (every incident alike); the dependency text names the failing service; each cause occurs
    twice, so leave-one-out retrieval with the dependency context finds the twin and metadata alone cannot."""
    causes = np.repeat([f"svc{i}-db database: disk full on the data volume" for i in range(6)], 2)
    texts = paper.ConditionTexts(metadata=np.full(12, "service front-web symptoms"),
                                 dependencies=np.array([f"suspect svc{i // 2}-db database" for i in range(12)]),
                                 shuffled=np.array([f"suspect svc{(i // 2 + 1) % 6}-db database" for i in range(12)]),
                                 recorded=causes, unavailable=np.eye(12, dtype=bool))
    picks = paper.recommendations(texts, CFG)
    assert (causes[picks["+dependencies"]] == causes).all()
    assert (causes[picks["+examples+shuffled"]] != causes).all()
    assert np.mean(causes[picks["metadata"]] == causes) < 0.5


def test_cause_scorer_matches_rouge_score_and_the_random_baseline_is_the_mean_over_the_others():
    causes = np.array(["a-db database: disk full", "b-api backend: memory leak in the worker",
                       "a-db database: replication lag", "b-api backend: memory leak in the worker"])
    scorer = paper.CauseScorer(causes)
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    s = scorer.scores(causes[[0, 1]], causes[[2, 2]])
    assert s["rouge_l"][0] == pytest.approx(rouge.score(causes[2], causes[0])["rougeL"].fmeasure)
    assert scorer.scores(causes, causes)["rouge_l"] == pytest.approx(np.ones(4))
    assert scorer.scores(causes, causes)["cosine"] == pytest.approx(np.ones(4))
    unavailable = np.eye(4, dtype=bool)
    unavailable[0, 1] = True
    random = scorer.expected_random(causes, causes, unavailable)
    for i in range(4):
        others = [j for j in range(4) if not unavailable[i, j]]
        brute = np.mean([scorer.scores(causes[[j]], causes[[i]])["rouge_l"][0] for j in others])
        assert random["rouge_l"][i] == pytest.approx(brute)
    assert random["exact"].tolist() == pytest.approx([0, 1 / 3, 0, 1 / 3])


def test_majority_cause_leaves_out_the_incident_and_the_unavailable_records():
    recorded = np.array(["x", "x", "y", "y", "y"])
    assert paper.majority_cause(recorded, np.eye(5, dtype=bool)).tolist() == ["y", "y", "x", "x", "x"]
    unavailable = np.eye(5, dtype=bool)
    unavailable[0, 2:] = True
    assert paper.majority_cause(recorded, unavailable)[0] == "x"


# ----------------------------------------------------------------------------------------------- classifiers

def test_out_of_fold_logistic_regression_separates_a_separable_problem():
    rng = np.random.default_rng(0)
    labels = np.repeat([False, True], 40)
    x = sp.csr_matrix(np.column_stack([np.where(labels, 3.0, -3.0) + rng.normal(0, 1, 80), rng.normal(0, 1, 80)]))
    folds = paper.fold_ids(labels, CFG, "test")
    assert sorted(np.unique(folds)) == list(range(CFG.cv_folds))
    assert np.mean(paper.out_of_fold(x, labels, folds, 1.0) == labels) > 0.95
    constant = np.ones(80, dtype=bool)
    assert paper.out_of_fold(x, constant, folds, 1.0).all()


def test_f1_counts_equals_sklearn_on_every_resample():
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    index = rng.integers(0, 50, (20, 50))
    ours = paper.f1_counts(truth, pred, index, 1)
    theirs = [f1_score(truth[i] == 1, pred[i] == 1) for i in index]
    assert ours == pytest.approx(theirs)


def test_bootstrap_interval_is_deterministic_and_collapses_on_constant_data():
    x = np.full(30, 0.25)
    iv = paper.bootstrap_interval(lambda i: x[i].mean(axis=1), 30, CFG, "t", "m")
    assert (iv.effect, iv.low, iv.high) == pytest.approx((0.25, 0.25, 0.25))
    y = np.random.default_rng(2).normal(size=40)
    a = paper.bootstrap_interval(lambda i: y[i].mean(axis=1), 40, CFG, "t", "m")
    assert a == paper.bootstrap_interval(lambda i: y[i].mean(axis=1), 40, CFG, "t", "m")
    assert a.low < y.mean() < a.high


def test_own_text_resource_tells_rule_matches_from_the_service_fallback():
    assert paper.own_text_resource("Data Disk IOPS Consumed Percentage")
    assert not paper.own_text_resource("OnlineEstimatorOverallReward")


# ----------------------------------------------------------------------------------------------- claims

CORPUS = gen.generate_incidents(dataclasses.replace(CFG.incident_config(), n_incidents=200), 0)


def crafted(dep_gain: float, depfail_right: float, context_gain: float, n_rules: int = 120, n_services: int = 30):
    """Results where dependency context adds ``dep_gain`` to every incident's scores, the dependency-failure
    classifier with context is right on a share ``depfail_right`` (metadata: a coin), and service context turns a
    share ``context_gain`` of wrong rule predictions right (negative: right ones wrong)."""
    rng = np.random.default_rng(7)
    inc = CORPUS.incidents
    n = len(inc)
    base = rng.uniform(0.2, 0.4, n)
    frames = []
    for condition in paper.conditions(CFG):
        for setting in (*paper.SETTINGS, *paper.BASELINES):
            gain = dep_gain if setting in ("+dependencies", "+examples+dependencies") else 0.0
            score = np.clip(base + gain + rng.normal(0, 0.01, n), 0, 1)
            frames.append(pd.DataFrame({"condition": condition, "setting": setting, "incident": inc["incident"],
                                        "dependency_failure": inc["dependency_failure"], "predicted": "",
                                        "rouge_l": score, "cosine": score, "exact": 0.0}))
    truth = inc["dependency_failure"].to_numpy()
    depfail = []
    for condition in paper.conditions(CFG):
        for features in paper.FEATURES:
            right = rng.random(n) < (depfail_right if features == "+dependencies" else 0.5)
            depfail.append(pd.DataFrame({"condition": condition, "features": features, "incident": inc["incident"],
                                         "truth": truth, "predicted": np.where(right, truth, ~truth)}))
    classes = ["a", "b", "c"]
    rules = pd.DataFrame({"service": [f"s{i % n_services}" for i in range(n_rules)],
                          "metric_class": [classes[i % 3] for i in range(n_rules)],
                          "resource_class": [classes[(i // 2) % 3] for i in range(n_rules)],
                          "own_text_resource": np.arange(n_rules) % 2 == 0, "corpus": "amba"})
    rows = []
    for task, column in paper.TASKS.items():
        labels = rules[column].to_numpy()
        text_right = rng.random(n_rules) < 0.5
        flip = rng.random(n_rules) < abs(context_gain)
        both_right = np.where(flip, context_gain > 0, text_right)
        for name, right in (("text", text_right), ("text+context", both_right)):
            wrong = np.array([classes[(classes.index(c) + 1) % 3] for c in labels])
            rows.append(pd.DataFrame({"task": task, "input": name, "rule": np.arange(n_rules), "truth": labels,
                                      "predicted": np.where(right, labels, wrong)}))
    return paper.Results(CORPUS, pd.concat(frames, ignore_index=True), pd.concat(depfail, ignore_index=True), rules,
                         pd.concat(rows, ignore_index=True), pd.DataFrame())


def statuses(results):
    return {c["id"]: c["status"] for c in paper.claims(results, CFG)}


def test_claims_hold_when_context_helps():
    found = statuses(crafted(0.05, 0.95, 0.6))
    assert {found[k] for k in ("C1a", "C1b", "C1c", "C1d", "C2", "C3-slo-acc", "C3-slo-f1", "C3-resource-acc",
                               "C3-resource-f1")} == {"direction-holds"}
    assert found["C0"] == "by-construction" and found["C1-llm"] == found["C3-llm"] == "cannot"


def test_claims_fail_when_context_hurts_and_are_inconclusive_when_it_does_nothing():
    hurt = statuses(crafted(-0.05, 0.05, -0.6))
    assert hurt["C1a"] == hurt["C2"] == hurt["C3-slo-acc"] == "failed"
    assert statuses(crafted(0.0, 0.5, 0.0))["C1c"] == "inconclusive"


def test_c3_is_not_testable_when_classes_lack_services():
    found = statuses(crafted(0.05, 0.95, 0.6, n_services=1))
    assert found["C3-slo-acc"] == found["C3-resource-f1"] == "not-testable"


def test_config_rejects_bad_values():
    params = resolve_parameters("xlifecycle", ROOT, scale="smoke")
    with pytest.raises(ParameterError, match="(?s)label_noise.*corpora.*cv_folds"):
        paper.Config.from_params({**params, "label_noise": [1.5], "corpora": ["nagios"], "cv_folds": 1})


def test_without_data_the_paper_stops_with_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="(?s)brief 10.*cannot be read.*fetch amba.*No synthetic monitors"):
        paper.run(CFG)


# ----------------------------------------------------------------------------------------------- run

def test_run_at_smoke_scale(data_mirror):
    results = paper.run(CFG)
    n, conds = CFG.n_incidents, paper.conditions(CFG)
    assert len(results.corpus.incidents) == n and len(results.corpus.services) == CFG.n_services
    assert len(results.root_cause) == n * len(conds) * (len(paper.SETTINGS) + len(paper.BASELINES))
    assert len(results.depfail) == n * len(conds) * len(paper.FEATURES)
    assert len(results.monitors) == CFG.n_monitors and not results.monitors.duplicated(["corpus", "file", "entry"]).any()
    assert len(results.classification) == CFG.n_monitors * len(paper.TASKS) * len(paper.INPUTS)
    assert results.root_cause[["rouge_l", "cosine"]].stack().between(0, 1 + 1e-9).all()
    ids = {c["id"] for c in paper.claims(results, CFG)}
    assert ids == {"C0", "C1a", "C1b", "C1c", "C1d", "C1-llm", "C2", "C3-slo-acc", "C3-slo-f1", "C3-resource-acc",
                   "C3-resource-f1", "C3-llm"}
