"""repro.papers.monitors: ontology rules, hand labels, recommenders on known answers, claims on crafted results
(every status they can take), the no-data stop, and run() at smoke scale on the public corpora."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from repro import data
from repro.papers import ParameterError
from repro.papers import monitors as paper
from repro.papers.config import resolve_parameters

from conftest import ROOT


def config(**changes) -> paper.Config:
    params = resolve_parameters("monitors", ROOT, scale="smoke")
    return dataclasses.replace(paper.Config.from_params(params), **changes)


CFG = config(bootstrap_resamples=200)


# ----------------------------------------------------------------------------------------------- ontology

def test_normalised_splits_camel_and_snake_case():
    assert paper.normalised("DeadLetteredCount") == "dead lettered count"
    assert paper.normalised("node_disk_usage_percentage") == "node disk usage percentage"
    assert paper.normalised("ProcessCPUUsagePercentage") == "process cpu usage percentage"


@pytest.mark.parametrize("rule, service, resource, metric", [
    ("Data Disk IOPS Consumed Percentage", "Compute Compute/virtualMachines", "storage", "saturation"),
    ("Heartbeat Log Alert for Virtual Machine Heartbeat", "Compute Compute/virtualMachines", "compute", "availability"),
    ("MongoDB Down MongoDB instance is down", "Databases MongoDB", "database", "availability"),
    ("DeadLetteredCount Total dead lettered events", "EventGrid EventGrid/topics", "messaging", "errors"),
    ("Caddy Reverse Proxy Down upstream is unhealthy", "Proxies Caddy", "dependency", "availability"),
    ("TotalLatency The response latency of the service.", "HealthcareApis HealthcareApis/services", "application",
     "latency"),
    ("OnlineEstimatorOverallReward", "CognitiveServices CognitiveServices/accounts", "application", "other"),
])
def test_keyword_rules_on_known_rules(rule, service, resource, metric):
    assert paper.resource_class(rule, service) == resource
    assert paper.metric_class(rule) == metric


def test_hand_labels_are_100_rules_half_per_corpus_with_known_classes():
    labels = paper.read_hand_labels()
    assert len(labels) == 100 and labels["corpus"].value_counts().to_dict() == {"amba": 50, "prometheus-alerts": 50}
    assert not labels.duplicated(["corpus", "file", "entry"]).any()
    assert labels["resource_class"].nunique() == len(paper.RESOURCE_CLASSES)


def test_a_hand_label_with_an_unknown_class_names_its_row(tmp_path):
    file = tmp_path / "labels.csv"
    file.write_text("corpus,file,entry,name,resource_class,metric_class\n"
                    "amba,f,entry 0,a,compute,latency\namba,f,entry 1,b,gpu,latency\n")
    with pytest.raises(ValueError, match="data row 2: resource_class 'gpu'"):
        paper.read_hand_labels(file)


def test_agreement_requires_every_hand_labelled_rule_in_the_corpus():
    monitors = pd.DataFrame({"corpus": ["amba"], "file": ["f"], "entry": ["entry 0"], "name": ["a"],
                             "resource_class": ["compute"], "metric_class": ["latency"]})
    hand = pd.DataFrame({"corpus": ["amba"] * 2, "file": ["f"] * 2, "entry": ["entry 0", "entry 1"], "name": ["a", "b"],
                         "resource_class": ["compute"] * 2, "metric_class": ["latency"] * 2})
    with pytest.raises(ValueError, match="entry 1 .*'b'.* is not in the corpus read"):
        paper.agreement_table(monitors, hand)
    assert len(paper.agreement_table(monitors, hand.iloc[:1])) == 1


def test_kappa_is_one_for_identical_labels_and_its_interval_moves_with_disagreement():
    agree = pd.DataFrame({"hand_resource": list("aabbcc") * 10, "rule_resource": list("aabbcc") * 10})
    assert paper.kappa_interval(agree, "resource", CFG).effect == pytest.approx(1.0)
    noisy = agree.assign(rule_resource=list("abcabc") * 10)
    assert paper.kappa_interval(noisy, "resource", CFG).high < 0.5


# ----------------------------------------------------------------------------------------------- recommenders

def test_popularity_predicts_the_most_frequent_label_set_of_typical_size():
    y = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0]])
    assert paper.popularity_predictions(y, 2).tolist() == [[True, True, False, False]] * 2
    assert paper.popularity_scores(y, 1)[0].tolist() == pytest.approx([1, 2 / 3, 1 / 3, 0])


def test_knn_copies_the_labels_of_the_nearest_service():
    x_train = sp.csr_matrix(np.eye(3))
    y_train = np.array([[1, 0], [0, 1], [1, 1]])
    x_test = sp.csr_matrix([[0.0, 1.0, 0.0]])
    assert paper.knn_scores(x_train, y_train, x_test, 1).tolist() == [[0, 1]]


def test_logreg_separates_a_separable_problem_and_keeps_constant_classes():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-3, 1, (20, 2)), rng.normal(3, 1, (20, 2))])
    y = np.column_stack([np.r_[np.zeros(20), np.ones(20)], np.ones(40)]).astype(int)
    scores = paper.logreg_scores(sp.csr_matrix(x), y, sp.csr_matrix([[-3.0, -3.0], [3.0, 3.0]]), 10.0)
    assert scores[0, 0] < 0.1 < 0.9 < scores[1, 0]
    assert scores[:, 1].tolist() == [1, 1]


def test_protonet_binary_prototype_pairs_find_separated_classes():
    from repro.learn.protonet import Config as ProtoConfig
    from repro.learn.protonet import ProtoNet

    rng = np.random.default_rng(1)
    centres = np.array([[4.0, 0.0], [0.0, 4.0]])
    labels = np.repeat([0, 1], 30)
    x = (centres[labels] + rng.normal(0, 0.3, (60, 2))).astype(np.float32)
    net = ProtoNet(ProtoConfig(hidden=(8,), embedding_dim=4, n_way=2, k_shot=3, n_query=3, n_episodes=100), 2)
    net.embed_jit = net.embed
    params, _ = net.fit(x, labels, 0, "test")
    y_multi = np.column_stack([labels == 0, labels == 1, np.ones(60)]).astype(int)
    scores = paper.protonet_scores(net, params, x, y_multi, np.array([[4.0, 0.0], [0.0, 4.0]], np.float32))
    assert scores[0, 0] > 0.9 and scores[0, 1] < 0.1 and scores[1, 1] > 0.9 and scores[1, 0] < 0.1
    assert scores[:, 2].tolist() == [1, 1]


def test_precision_and_recall_at_k():
    scores = np.array([[0.9, 0.5, 0.1], [0.1, 0.2, 0.3]])
    truth = np.array([[1, 0, 1], [0, 0, 0]])
    precision, recall = paper.precision_recall_at_k(scores, truth, 2)
    assert precision.tolist() == [0.5, 0.0]
    assert recall[0] == 0.5 and np.isnan(recall[1])


def test_transfer_table_rows_are_distributions():
    rules = pd.DataFrame({"resource_class": ["compute", "compute", "storage"],
                          "metric_class": ["latency", "errors", "errors"]})
    table = paper.transfer_table(rules)
    assert table.sum(axis=1) == pytest.approx(np.ones(len(paper.RESOURCE_CLASSES)))
    assert table[list(paper.RESOURCE_CLASSES).index("storage"), list(paper.METRIC_CLASSES).index("errors")] == 1


def test_f1_from_counts():
    assert paper.f1_from_counts(np.array([2.0, 0.0]), np.array([1.0, 0.0]), np.array([1.0, 0.0])).tolist()[0] == 2 / 3
    assert np.isnan(paper.f1_from_counts(np.array([0.0]), np.array([0.0]), np.array([0.0]))[0])


# ----------------------------------------------------------------------------------------------- claims

def crafted(protonet_right: float, n_services: int = 40, learned: bool = True, kappa_agree: bool = True):
    """Results where every service has classes 0..3 of 8 with chance 1/2, and the prototypical network is right on a
    share ``protonet_right`` of (service, class) cells; the popularity prior predicts classes 0 and 1."""
    rng = np.random.default_rng(5)
    classes = list(paper.RESOURCE_CLASSES)
    truth = np.zeros((n_services, len(classes)), dtype=bool)
    truth[:, :4] = rng.random((n_services, 4)) < 0.5
    names = [f"s{i}" for i in range(n_services)]
    services = pd.DataFrame({"service": names, "fold": np.arange(n_services),
                             **{c: truth[:, j].astype(int) for j, c in enumerate(classes)}})
    right = rng.random(truth.shape) < protonet_right
    predicted = {"protonet": np.where(right, truth, ~truth), "knn": truth, "logreg": truth,
                 "popularity": np.tile(np.arange(len(classes)) < 2, (n_services, 1))}
    predictions = pd.concat([pd.DataFrame({"replicate": 0, "model": m, "service": np.repeat(names, len(classes)),
                                           "resource_class": np.tile(classes, n_services), "score": p.ravel() * 1.0,
                                           "predicted": p.ravel(), "truth": truth.ravel()})
                             for m, p in predicted.items()], ignore_index=True)
    hand = np.tile(classes, 8)[:60]
    agreement = pd.DataFrame({"hand_resource": hand, "rule_resource": hand if kappa_agree else np.roll(hand, 1),
                              "hand_metric": "errors", "rule_metric": "errors"})
    agreement.loc[::2, "hand_metric"] = "latency"
    agreement.loc[::2, "rule_metric"] = "latency" if kappa_agree else "errors"
    monitors = pd.DataFrame({"service": names, "resource_class": [classes[i % 8] for i in range(n_services)]})
    training = pd.DataFrame({"replicate": [0], "fold": [0], "loss_start": [2.0], "loss_end": [1.0 if learned else 3.0]})
    return paper.Results(monitors, pd.DataFrame(), agreement, services, predictions, pd.DataFrame(), training)


def statuses(results):
    return {c["id"]: c["status"] for c in paper.claims(results, CFG)}


def test_claims_hold_when_the_network_is_nearly_always_right():
    assert statuses(crafted(0.97)) == {"C1a": "direction-holds", "C1b": "direction-holds", "C2a": "direction-holds",
                                       "C2b": "direction-holds", "C3": "cannot"}


def test_claims_fail_when_the_network_is_wrong_and_the_rules_disagree():
    found = statuses(crafted(0.2, kappa_agree=False))
    assert found["C2a"] == "failed" and found["C1a"] == "failed" and found["C1b"] == "failed"


def test_c2_is_not_testable_when_the_network_does_not_learn_or_classes_lack_services():
    assert statuses(crafted(0.97, learned=False))["C2a"] == "not-testable"
    assert statuses(crafted(0.97, n_services=6))["C2b"] == "not-testable"


def test_config_rejects_bad_values():
    params = resolve_parameters("monitors", ROOT, scale="smoke")
    with pytest.raises(ParameterError, match="(?s)corpora.*split.*top_k"):
        paper.Config.from_params({**params, "corpora": ["nagios"], "split": "kfold", "top_k": [0]})


def test_without_data_the_paper_stops_with_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="No synthetic monitors"):
        paper.run(CFG)


# ----------------------------------------------------------------------------------------------- run

def test_run_at_smoke_scale_on_the_public_corpora(data_mirror):
    cfg = config(n_episodes=30, bootstrap_resamples=50)
    results = paper.run(cfg)
    held = results.services[results.services["fold"] >= 0]
    assert results.counts["alerts"].tolist() == [675]
    assert len(held) == round(cfg.holdout_fraction * len(results.services))
    assert len(results.predictions) == len(held) * len(paper.RESOURCE_CLASSES) * len(paper.MODELS) * cfg.n_seeds
    assert len(results.agreement) == 50
    assert set(results.monitors["resource_class"]) <= set(paper.RESOURCE_CLASSES)
    assert {c["id"] for c in paper.claims(results, cfg)} == {"C1a", "C1b", "C2a", "C2b", "C3"}
