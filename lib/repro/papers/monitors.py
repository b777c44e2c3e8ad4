"""Intelligent Monitoring Framework for Cloud Services (Srinivas et al., ICSE-SEIP 2024, arXiv:2403.07927 v1).

Brief 09 on the two public monitor corpora (:mod:`repro.data.monitors`: Azure Monitor Baseline Alerts and
awesome-prometheus-alerts); a *service* is an AMBA resource type or a Prometheus service.

* **Ontology** (brief §2, claim C1): documented keyword rules (:data:`RESOURCE_RULES`, :data:`METRIC_RULES`) give
  every alert one resource class (*what* to monitor) and one metric class (*which* signal). Their agreement with
  100 hand-labelled rules (``papers/data/monitors_hand_labels.csv``) is Cohen's kappa with a bootstrap interval
  over the labelled rules (:func:`kappa_interval`).
* **Recommender** (brief §2-3, claim C2): from a service's properties (corpus, category, name: TF-IDF over
  character n-grams) predict the set of resource classes its monitors cover (multi-label), leave-one-service-out.
  Models (:data:`MODELS`): the popularity prior, kNN (cosine over TF-IDF), one-vs-rest logistic regression
  (scikit-learn) and the prototypical network of :mod:`repro.learn.protonet`. **Multi-label prototypes** [our
  choice]: :class:`~repro.learn.protonet.ProtoNet` is single-label, so its encoder is trained in episodes on the
  training *rules* (input: the rule's service features; label: the rule's resource class), and each resource
  class then gets one binary prototype pair, the mean embedding of the training services that have the class and
  of those that do not; a held-out service's score for the class is the softmax of the negative squared distances
  to the pair (:func:`protonet_scores`). kNN, logistic regression and the network predict a class when its score is
  >= ``decision_threshold``; the popularity prior predicts its most frequent label set (:func:`popularity_predictions`).
  Metric classes are projected through the training rules' resource -> metric co-occurrence table
  (:func:`metric_scores`) and scored by precision@k and recall@k.
* **Intervals**: per-class F1 and its derived effects are bootstrapped over services (:func:`service_bootstrap`:
  multinomial resampling of the held-out services, seeds pooled within a service).

Seeds (:mod:`repro.core.seeds`): the smoke hold-out split (seed, "holdout-split"); the encoder groups (seed,
"encoder-groups"); the prototypical network of replicate r and encoder group g (seed, "protonet", "monitors", r, g);
the service bootstrap (seed, "service-bootstrap"); the kappa bootstrap (seed, "kappa-bootstrap", field).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score

from repro import data, report
from repro.core import seeds
from repro.data import monitors as corpora
from repro.papers.config import PaperConfig, check_fraction, check_positive

PAPER = "arXiv:2403.07927"
SLUG = "monitors"
DATASETS = corpora.CORPORA
"""Public datasets this paper reads (their DVC data stages are this stage's dependencies)."""
HAND_LABELS = Path(__file__).with_name("data") / "monitors_hand_labels.csv"
SPLITS = ("leave-one-service-out", "holdout")
MODELS = ("popularity", "knn", "logreg", "protonet")

#: resource classes of brief 09 §2 and what each covers [our choice: the definitions the hand labels follow]
RESOURCE_CLASSES = {
    "compute": "CPU, memory, processes, threads, hosts and VMs, runtimes (JVM heap), hardware",
    "storage": "disks, volumes, file systems, inodes, IOPS, blob/file capacity, storage nodes",
    "database": "database and cache engines: connections, queries, replication, compaction, cursors, TSDB",
    "network": "network/endpoint: links, bandwidth, gateways, tunnels, DNS, firewalls, proxies, load balancers, TLS",
    "messaging": "queue/messaging: brokers, queues, topics, events, dead letters, consumers and producers",
    "orchestration": "container/orchestrator: Kubernetes objects, pods, containers, registries, cluster managers",
    "dependency": "calls to other services: upstreams, backends, external APIs, providers, callouts",
    "application": "the service's own work: requests, jobs, runs, API calls, tokens, models (the default)",
}
METRIC_CLASSES = {
    "errors": "errors/failures: failed, rejected, corrupted, dead-lettered, 4xx/5xx, timeouts",
    "availability": "up/down, health, heartbeat, missing, unavailable, restarts",
    "latency": "latency, duration, response time, lag, slowness",
    "saturation": "saturation/utilisation: CPU, memory, disk use, percent used, capacity, quota, pending, evictions",
    "throughput": "requests, rates, counts, bytes or bits per second, processed items",
    "other": "anything else (configuration changes, security rule matches, business values)",
}


def _words(*patterns: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")", re.IGNORECASE)


#: resource rules over a rule's own text (name, description), first match wins; the order is part of the rule
RESOURCE_RULES = (
    ("dependency", _words(r"upstream", r"backend", r"dependen", r"callout", r"downstream", r"external",
                          r"provider", r"failed to scrape", r"scrape error")),
    ("storage", _words(r"disk", r"iops", r"volume", r"inode", r"file ?system", r"blob", r"file ?share",
                       r"storage", r"snapshot", r"sector", r"bucket")),
    ("compute", _words(r"cpu", r"vcpu", r"memory", r"processor", r"heap", r"gc\b", r"garbage", r"threads?\b",
                       r"load average", r"hypervisor", r"swap", r"oom", r"executor", r"host\b", r"virtual machine")),
    ("network", _words(r"network", r"bandwidth", r"bits", r"bytes (?:sent|received|in|out)", r"packet", r"dns",
                       r"tunnel", r"gateway", r"firewall", r"certificate", r"tls", r"ssl", r"proxy", r"load ?balancer",
                       r"bgp", r"express ?route", r"vpn", r"nsg", r"waf", r"ip address", r"route")),
    ("messaging", _words(r"queue", r"messages?\b", r"topic", r"dead ?letter", r"event ?hub", r"kafka", r"rabbit",
                         r"broker", r"partition", r"consumer", r"producer", r"bookie", r"publish")),
    ("orchestration", _words(r"kube", r"k8s", r"pods?\b", r"container", r"deployment", r"replicas", r"daemon ?set",
                             r"stateful ?set", r"hpa\b", r"registry", r"image", r"nomad", r"consul")),
    ("database", _words(r"database", r"db\b", r"sql", r"mysql", r"postgres", r"mongo", r"redis", r"cassandra",
                        r"memcache", r"clickhouse", r"couchdb", r"tsdb", r"compaction", r"cursor", r"tables?\b",
                        r"replication", r"transaction", r"deadlock")),
)
#: the service's class when no rule matches its own text: these lists over corpus category, service name and signal
SERVICE_RULES = (
    ("orchestration", _words(r"orchestrat", r"container", r"kube", r"managed ?clusters")),
    ("database", _words(r"database", r"db ?for", r"sql", r"document ?db", r"cache", r"kusto", r"redis", r"mongo",
                        r"cassandra", r"elastic ?search")),
    ("messaging", _words(r"broker", r"event ?hub", r"event ?grid", r"service ?bus", r"relay", r"queue", r"kafka")),
    ("storage", _words(r"storage", r"net ?app", r"ceph", r"minio", r"recovery ?services")),
    ("network", _words(r"network", r"proxies", r"proxy", r"load ?balancer", r"cdn", r"front ?door", r"dns",
                       r"api ?management")),
    ("compute", _words(r"compute", r"virtual ?machine", r"runtime", r"hybrid ?compute", r"batch", r"host")),
)
#: metric rules over a rule's own text, first match wins
METRIC_RULES = (
    ("errors", _words(r"errors?\b", r"fail", r"exception", r"reject", r"corrupt", r"dead ?letter", r"4xx", r"5xx",
                      r"servfail", r"throttl", r"denied", r"unauthori[sz]ed", r"drop", r"invalid", r"time ?outs?\b",
                      r"timed out", r"missed")),
    ("availability", _words(r"down\b", r"up\b", r"health", r"heartbeat", r"available", r"availability",
                            r"unreachable", r"missing", r"offline", r"out of service", r"not ready", r"restart",
                            r"crash", r"quorum", r"absent", r"line ?protocol")),
    ("latency", _words(r"latency", r"duration", r"response ?time", r"slow", r"lag\b", r"delay", r"time taken",
                       r"behind", r"training ?time")),
    ("saturation", _words(r"cpu", r"memory", r"usage", r"utili[sz]", r"percent", r"full\b", r"capacity", r"quota",
                          r"pending", r"queue", r"backlog", r"evict", r"too many", r"filling", r"inode", r"consumed",
                          r"load\b", r"exhaust", r"remaining", r"spill", r"used\b")),
    ("throughput", _words(r"requests?\b", r"rate\b", r"throughput", r"count\b", r"bytes", r"bits", r"per ?second",
                          r"traffic", r"processed", r"messages", r"operations", r"calls", r"pull", r"reads?\b",
                          r"writes?\b", r"connections", r"bandwidth", r"tokens")),
)


@dataclass(frozen=True)
class Config(PaperConfig):
    """The notebook's parameters (params.yaml ``papers.monitors``); the brief fixes none of them [our choice]."""
    corpora: tuple[str, ...]         # "amba", "prometheus-alerts" (brief §5: smoke AMBA only)
    split: str                       # "leave-one-service-out" (full) or "holdout" (smoke: one split)
    holdout_fraction: float          # share of services held out by the "holdout" split
    n_seeds: int                     # replicates of the prototypical network (the baselines are deterministic)
    encoder_folds: int               # leave-one-service-out: the network's encoder is trained once per group
    knn_k: int                       # neighbours of the kNN baseline
    logreg_c: float                  # inverse L2 strength of the logistic regression
    decision_threshold: float        # a class is predicted when its score >= this
    min_class_services: int          # a resource class is evaluated when >= this many services have it
    f1_target: float                 # C2: "production quality" per-class F1 [our threshold, brief: 0.7]
    class_share_target: float        # C2: the share of classes that must reach f1_target (brief: > 50 %)
    kappa_threshold: float           # C1: the kappa the rules must exceed (0.6: "substantial") [our choice]
    top_k: tuple[int, ...]           # k of precision@k / recall@k of the metric-class recommendations
    bootstrap_resamples: int         # resamples of services (C2) and of hand-labelled rules (C1)
    hidden: tuple[int, ...]          # encoder hidden layers of the prototypical network
    embedding_dim: int
    n_way: int
    k_shot: int
    n_query: int
    learning_rate: float
    n_episodes: int

    def problems(self) -> list[str]:
        found = super().problems() + check_positive(
            self, "n_seeds", "encoder_folds", "knn_k", "logreg_c", "min_class_services", "embedding_dim", "n_way",
            "k_shot", "n_query", "learning_rate", "n_episodes") + check_fraction(
            self, "holdout_fraction", "decision_threshold", "f1_target", "class_share_target", "kappa_threshold")
        unknown = sorted(set(self.corpora) - set(corpora.CORPORA))
        if not self.corpora or unknown:
            found.append(f"corpora: expected a non-empty subset of {list(corpora.CORPORA)}, got {list(self.corpora)}")
        if self.split not in SPLITS:
            found.append(f"split: expected one of {SPLITS}, got {self.split!r}")
        if not self.top_k or min(self.top_k) < 1 or max(self.top_k) > len(METRIC_CLASSES):
            found.append(f"top_k: expected values in 1..{len(METRIC_CLASSES)}, got {list(self.top_k)}")
        if self.bootstrap_resamples < 20:
            found.append(f"bootstrap_resamples: expected >= 20 (a 95% percentile interval), got {self.bootstrap_resamples}")
        if self.n_way < 2:
            found.append(f"n_way: expected >= 2, got {self.n_way}")
        return found


@dataclass(frozen=True)
class Results:
    """Tidy tables of one run.

    monitors: one row per alert (repro.data.monitors.COLUMNS) plus resource_class and metric_class (the rules).
    counts: one row per corpus: files, services, alerts.
    agreement: one row per hand-labelled rule: corpus, file, entry, name, hand_resource, hand_metric,
        rule_resource, rule_metric.
    services: one row per service: service, corpus, category, text (the features' source), fold, and one 0/1 column
        per resource class (has a monitor of the class) and per metric class (prefix "metric:").
    predictions: one row per replicate x model x held-out service x resource class: replicate, model, service,
        resource_class, score, predicted (bool), truth (bool).
    ranking: one row per replicate x model x held-out service x k: precision, recall (metric classes).
    training: one row per replicate x encoder group of the prototypical network: replicate, fold (the group),
        loss_start, loss_end (mean episode loss of the first and last tenth of the episodes).
    """
    monitors: pd.DataFrame
    counts: pd.DataFrame
    agreement: pd.DataFrame
    services: pd.DataFrame
    predictions: pd.DataFrame
    ranking: pd.DataFrame
    training: pd.DataFrame


# ----------------------------------------------------------------------------------------------- ontology

def normalised(text: str) -> str:
    """camelCase and snake_case split into words: 'DeadLetteredCount' -> 'dead lettered count'."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(text))
    return " ".join(re.sub(r"[_/.\-]+", " ", text).lower().split())


def _first_match(rules, text: str) -> str | None:
    return next((name for name, pattern in rules if pattern.search(text)), None)


def resource_class(rule_text: str, service_text: str) -> str:
    """The rule's resource class: its own text first, else its service's class, else "application"."""
    return (_first_match(RESOURCE_RULES, normalised(rule_text)) or _first_match(SERVICE_RULES, normalised(service_text))
            or "application")


def metric_class(rule_text: str) -> str:
    return _first_match(METRIC_RULES, normalised(rule_text)) or "other"


def _rule_text(monitors: pd.DataFrame) -> pd.Series:
    return monitors["name"] + " " + monitors["description"]


def _service_text(monitors: pd.DataFrame) -> pd.Series:
    signal = monitors["signal"].where(monitors["corpus"] == corpora.AMBA, "")  # AMBA: the metric namespace
    return monitors["category"] + " " + monitors["service"] + " " + signal


def label_monitors(monitors: pd.DataFrame) -> pd.DataFrame:
    """``monitors`` with the rules' resource_class and metric_class columns."""
    out = monitors.copy()
    out["resource_class"] = [resource_class(r, s) for r, s in zip(_rule_text(out), _service_text(out))]
    out["metric_class"] = [metric_class(r) for r in _rule_text(out)]
    return out


def read_hand_labels(file=HAND_LABELS) -> pd.DataFrame:
    """The committed hand labels; a row with an unknown class is an error naming the row."""
    labels = pd.read_csv(file, comment="#", dtype=str)
    for column, known in (("resource_class", RESOURCE_CLASSES), ("metric_class", METRIC_CLASSES)):
        bad = labels[~labels[column].isin(list(known))]
        if len(bad):
            row = bad.index[0]
            raise ValueError(f"{file}: data row {row + 1}: {column} {bad[column].iloc[0]!r} is not one of {list(known)}")
    return labels


def agreement_table(monitors: pd.DataFrame, hand: pd.DataFrame) -> pd.DataFrame:
    """Hand labels beside the rules' labels of the same alerts (matched by corpus, file, entry; names checked)."""
    merged = hand.merge(monitors, on=["corpus", "file", "entry"], how="left", suffixes=("", "_read"),
                        validate="one_to_one")
    lost = merged[merged["name_read"].isna() | (merged["name_read"] != merged["name"])]
    if len(lost):
        row = lost.iloc[0]
        raise ValueError(f"{HAND_LABELS}: the hand-labelled rule {row['corpus']}/{row['file']} {row['entry']} "
                         f"({row['name']!r}) is not in the corpus read (found {row['name_read']!r})")
    return pd.DataFrame({"corpus": merged["corpus"], "file": merged["file"], "entry": merged["entry"],
                         "name": merged["name"], "hand_resource": merged["resource_class"],
                         "hand_metric": merged["metric_class"], "rule_resource": merged["resource_class_read"],
                         "rule_metric": merged["metric_class_read"]})


# ----------------------------------------------------------------------------------------------- services

def service_table(monitors: pd.DataFrame) -> pd.DataFrame:
    """One row per service: its properties (text) and which resource and metric classes its monitors cover."""
    first = monitors.groupby("service", sort=True).first()
    text = [normalised(f"{c} {cat} {s}") for s, c, cat in zip(first.index, first["corpus"], first["category"])]
    table = pd.DataFrame({"service": first.index, "corpus": first["corpus"].to_numpy(),
                          "category": first["category"].to_numpy(), "text": text})
    resources = pd.crosstab(monitors["service"], monitors["resource_class"]).reindex(
        index=table["service"], columns=list(RESOURCE_CLASSES), fill_value=0)
    metrics = pd.crosstab(monitors["service"], monitors["metric_class"]).reindex(
        index=table["service"], columns=list(METRIC_CLASSES), fill_value=0)
    for c in RESOURCE_CLASSES:
        table[c] = (resources[c].to_numpy() > 0).astype(int)
    for m in METRIC_CLASSES:
        table[f"metric:{m}"] = (metrics[m].to_numpy() > 0).astype(int)
    return table


def assign_folds(services: pd.DataFrame, cfg: Config) -> np.ndarray:
    """Fold of each service: its own index (leave-one-service-out), or 0 = held out / -1 = training (holdout)."""
    n = len(services)
    if cfg.split == "leave-one-service-out":
        return np.arange(n)
    held = seeds.rng(cfg.seed, "holdout-split").permutation(n)[:max(1, round(cfg.holdout_fraction * n))]
    folds = np.full(n, -1)
    folds[held] = 0
    return folds


def encoder_groups(services: pd.DataFrame, cfg: Config) -> np.ndarray:
    """Encoder group of each held-out service (-1: never held out); the network of a group never saw its services.

    Leave-one-service-out: services are dealt at random into ``encoder_folds`` groups; hold-out: one group.
    """
    folds = services["fold"].to_numpy()
    if cfg.split == "holdout":
        return np.where(folds >= 0, 0, -1)
    order = seeds.rng(cfg.seed, "encoder-groups").permutation(len(folds))
    groups = np.empty(len(folds), dtype=int)
    groups[order] = np.arange(len(folds)) % cfg.encoder_folds
    return groups


def tfidf_features(services: pd.DataFrame):
    """TF-IDF over character 2-4-grams shared by >= 2 services, fit on every service's text (features only, no labels)."""
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2).fit_transform(
        services["text"])


def popularity_scores(y_train: np.ndarray, n_test: int) -> np.ndarray:
    """Share of training services having each class, the same for every held-out service."""
    return np.tile(y_train.mean(axis=0), (n_test, 1))


def popularity_predictions(y_train: np.ndarray, n_test: int) -> np.ndarray:
    """The prior's label set: the m most frequent classes, m = the training services' mean number of classes.

    [our choice] Thresholding the shares at 0.5 would predict nothing when no class is in half of the services;
    the most frequent label set of the typical size is the stronger prior.
    """
    m = int(round(y_train.sum(axis=1).mean()))
    order = np.argsort(-y_train.mean(axis=0), kind="stable")
    chosen = np.zeros(y_train.shape[1], dtype=bool)
    chosen[order[:m]] = True
    return np.tile(chosen, (n_test, 1))


def knn_scores(x_train, y_train: np.ndarray, x_test, k: int) -> np.ndarray:
    """Share of the k most cosine-similar training services (TF-IDF rows are unit length) having each class."""
    similarity = (x_test @ x_train.T).toarray()
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :min(k, y_train.shape[0])]
    return y_train[nearest].mean(axis=1)


def logreg_scores(x_train, y_train: np.ndarray, x_test, c: float) -> np.ndarray:
    """One-vs-rest logistic regression: one binary model per class; a class constant in training keeps its value."""
    out = np.empty((x_test.shape[0], y_train.shape[1]))
    for j in range(y_train.shape[1]):
        if y_train[:, j].min() == y_train[:, j].max():
            out[:, j] = y_train[0, j]
        else:
            model = LogisticRegression(C=c, solver="liblinear").fit(x_train, y_train[:, j])
            out[:, j] = model.predict_proba(x_test)[:, 1]
    return out


def protonet_scores(net, params, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Binary prototype pair per class: softmax over -squared distance to (has-class, lacks-class) prototypes."""
    from repro.learn.protonet import logits, prototypes

    out = np.empty((len(x_test), y_train.shape[1]))
    train_embedding, test_embedding = net.embed_jit(params, x_train), net.embed_jit(params, x_test)
    for j in range(y_train.shape[1]):
        if y_train[:, j].min() == y_train[:, j].max():
            out[:, j] = y_train[0, j]
            continue
        pair = prototypes(train_embedding, 1 - y_train[:, j], 2)      # row 0: has the class, row 1: lacks it
        out[:, j] = softmax(np.asarray(logits(test_embedding, pair)), axis=1)[:, 0]
    return out


def metric_scores(resource_scores: np.ndarray, transfer: np.ndarray) -> np.ndarray:
    """Metric-class scores: resource-class scores times P(metric class | resource class) of the training rules."""
    return resource_scores @ transfer


def transfer_table(train_monitors: pd.DataFrame) -> np.ndarray:
    """P(metric class | resource class) over training rules, (resource classes, metric classes); empty rows uniform."""
    counts = pd.crosstab(train_monitors["resource_class"], train_monitors["metric_class"]).reindex(
        index=list(RESOURCE_CLASSES), columns=list(METRIC_CLASSES), fill_value=0).to_numpy(float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / counts.shape[1])


def precision_recall_at_k(scores: np.ndarray, truth: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: share of the top-k classes that are true, and share of the true classes in the top k (NaN: none true)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(truth, top, axis=1).sum(axis=1)
    n_true = truth.sum(axis=1)
    return hits / k, np.where(n_true > 0, hits / np.maximum(n_true, 1), np.nan)


# ----------------------------------------------------------------------------------------------- run

def require_corpora(corpora, purpose: str) -> None:
    """Raise :class:`repro.data.DataUnavailableError` unless every monitor corpus in ``corpora`` can be read; the
    message says what needs them (``purpose``) and how to get them. A real-data paper stops rather than invent
    monitors (data policy)."""
    missing = [c for c in corpora if not data.available(c)]
    if missing:
        raise data.DataUnavailableError(
            f"{purpose}, and {', '.join(missing)} cannot be read: set {data.MIRROR_ENV} to a folder laid out like "
            "../shared/data, or run " + " and ".join(f"`python -m repro.data fetch {c}`" for c in missing)
            + " (needs network). No synthetic monitors are made up in their place.")


def require_data(cfg: Config) -> None:
    """This paper has no synthetic default: it stops unless every corpus of ``cfg`` can be read."""
    require_corpora(cfg.corpora, "brief 09 (monitors) runs on the public monitor corpora only")


def _fit_protonet(net, monitors_train: pd.DataFrame, index: dict, x_dense: np.ndarray, cfg: Config, replicate: int,
                  fold: int):
    rows = monitors_train["service"].map(index).to_numpy()
    labels = monitors_train["resource_class"].map({c: i for i, c in enumerate(RESOURCE_CLASSES)}).to_numpy()
    params, losses = net.fit(x_dense[rows], labels, cfg.seed, "monitors", replicate, fold)
    tenth = max(1, len(losses) // 10)
    return params, {"replicate": replicate, "fold": fold, "loss_start": float(losses[:tenth].mean()),
                    "loss_end": float(losses[-tenth:].mean())}


def _protonet(cfg: Config, input_dim: int):
    from repro.learn.protonet import Config as ProtoConfig
    from repro.learn.protonet import ProtoNet

    import jax

    net = ProtoNet(ProtoConfig(hidden=cfg.hidden, embedding_dim=cfg.embedding_dim, n_way=cfg.n_way,
                               k_shot=cfg.k_shot, n_query=cfg.n_query, learning_rate=cfg.learning_rate,
                               n_episodes=cfg.n_episodes), input_dim)
    net.embed_jit = jax.jit(net.embed)  # one compilation per input shape, reused by every fold
    return net


def _rules_of(monitors: pd.DataFrame, services: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    return monitors[monitors["service"].isin(set(services["service"].iloc[rows]))]


def recommend(monitors: pd.DataFrame, services: pd.DataFrame, cfg: Config):
    """(predictions, ranking, training) of every model on every held-out fold (:class:`Results`).

    Baselines and prototypes use every service but the fold's; the network's encoder is trained once per replicate
    and encoder group (:func:`encoder_groups`) on the services outside the group [our choice: 2 cores cannot train
    n_seeds x services encoders], so no held-out service is ever in its encoder's training rules.
    """
    x = tfidf_features(services)
    x_dense = x.toarray().astype(np.float32)
    y = services[list(RESOURCE_CLASSES)].to_numpy()
    metric_truth = services[[f"metric:{m}" for m in METRIC_CLASSES]].to_numpy()
    index = {s: i for i, s in enumerate(services["service"])}
    net = _protonet(cfg, x.shape[1])
    folds, groups = services["fold"].to_numpy(), encoder_groups(services, cfg)
    fold_ids = sorted(set(folds) - {-1})
    tests = {f: np.flatnonzero(folds == f) for f in fold_ids}
    trains = {f: np.flatnonzero(folds != f) for f in fold_ids}
    transfers = {f: transfer_table(_rules_of(monitors, services, trains[f])) for f in fold_ids}
    fixed = {f: {"popularity": popularity_scores(y[trains[f]], len(tests[f])),
                 "knn": knn_scores(x[trains[f]], y[trains[f]], x[tests[f]], cfg.knn_k),
                 "logreg": logreg_scores(x[trains[f]], y[trains[f]], x[tests[f]], cfg.logreg_c)} for f in fold_ids}
    predictions, ranking, training = [], [], []
    for replicate in range(cfg.n_seeds):
        for group in sorted(set(groups) - {-1}):
            outside = np.flatnonzero(groups != group)
            params, record = _fit_protonet(net, _rules_of(monitors, services, outside), index, x_dense, cfg, replicate,
                                           int(group))
            training.append(record)
            for fold in sorted({folds[i] for i in np.flatnonzero(groups == group)}):
                test, train = tests[fold], trains[fold]
                scores = {**fixed[fold], "protonet": protonet_scores(net, params, x_dense[train], y[train],
                                                                     x_dense[test])}
                rows, ranks = _fold_rows(replicate, scores, services["service"].iloc[test], y[train], y[test],
                                         metric_truth[test], transfers[fold], cfg)
                predictions += rows
                ranking += ranks
    return pd.concat(predictions, ignore_index=True), pd.DataFrame(ranking), pd.DataFrame(training)


def _fold_rows(replicate, scores: dict, names, y_train, y_test, metric_test, transfer, cfg: Config):
    """Prediction frames and ranking rows of one held-out fold, every model."""
    predictions, ranking = [], []
    for model, s in scores.items():
        predicted = popularity_predictions(y_train, len(y_test)) if model == "popularity" \
            else s >= cfg.decision_threshold
        predictions.append(_prediction_rows(replicate, model, names, s, predicted, y_test))
        ranking += _ranking_rows(replicate, model, names, metric_scores(s, transfer), metric_test, cfg)
    return predictions, ranking


def _prediction_rows(replicate, model, names, scores, predicted, truth) -> pd.DataFrame:
    n, k = scores.shape
    return pd.DataFrame({"replicate": replicate, "model": model, "service": np.repeat(names.to_numpy(), k),
                         "resource_class": np.tile(list(RESOURCE_CLASSES), n), "score": scores.ravel(),
                         "predicted": predicted.ravel(), "truth": truth.ravel().astype(bool)})


def _ranking_rows(replicate, model, names, scores, truth, cfg: Config) -> list[dict]:
    rows = []
    for k in cfg.top_k:
        precision, recall = precision_recall_at_k(scores, truth, k)
        rows += [{"replicate": replicate, "model": model, "service": s, "k": k, "precision": p, "recall": r}
                 for s, p, r in zip(names, precision, recall)]
    return rows


def run(cfg: Config) -> Results:
    require_data(cfg)
    monitors = label_monitors(corpora.load_monitors(cfg.corpora))
    hand = read_hand_labels()
    agreement = agreement_table(monitors, hand[hand["corpus"].isin(cfg.corpora)])
    services = service_table(monitors)
    services["fold"] = assign_folds(services, cfg)
    predictions, ranking, training = recommend(monitors, services, cfg)
    return Results(monitors, corpora.corpus_counts(monitors), agreement, services, predictions, ranking, training)


# ----------------------------------------------------------------------------------------------- statistics

def kappa_interval(agreement: pd.DataFrame, field: str, cfg: Config) -> report.Interval:
    """Cohen's kappa between hand and rule labels (``field``: "resource" or "metric"), bootstrap over the rules."""
    hand, rule = agreement[f"hand_{field}"].to_numpy(), agreement[f"rule_{field}"].to_numpy()
    method = f"percentile bootstrap over the hand-labelled rules, {cfg.bootstrap_resamples} resamples"
    if len(hand) < 2:
        return report.Interval(np.nan, np.nan, np.nan, len(hand), method)
    rng = seeds.rng(cfg.seed, "kappa-bootstrap", field)
    replicates = [cohen_kappa_score(hand[i], rule[i]) for i in
                  (rng.integers(0, len(hand), len(hand)) for _ in range(cfg.bootstrap_resamples))]
    return _percentile(float(cohen_kappa_score(hand, rule)), np.asarray(replicates), len(hand), method)


def _percentile(effect: float, replicates: np.ndarray, n: int, method: str) -> report.Interval:
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 2:
        return report.Interval(effect, np.nan, np.nan, n, method)
    tail = 100 * (1 - report.intervals.CONFIDENCE) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return report.Interval(effect, float(low), float(high), n, method)


def confusion_counts(predictions: pd.DataFrame, model: str) -> dict[str, np.ndarray]:
    """tp, fp, fn of ``model``, arrays (services, resource classes) summed over replicates; services sorted."""
    sel = predictions[predictions["model"] == model]
    out = {}
    for name, mask in (("tp", sel["predicted"] & sel["truth"]), ("fp", sel["predicted"] & ~sel["truth"]),
                       ("fn", ~sel["predicted"] & sel["truth"])):
        out[name] = (pd.crosstab(sel["service"], sel["resource_class"], values=mask.astype(int), aggfunc="sum")
                     .reindex(columns=list(RESOURCE_CLASSES)).fillna(0).to_numpy(float))
    return out


def f1_from_counts(tp, fp, fn):
    """F1 = 2 TP / (2 TP + FP + FN) along the last axis's classes; NaN where a class has no positive at all."""
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def service_bootstrap(cfg: Config, n_services: int) -> np.ndarray:
    """Bootstrap weights (resamples, services): how often each held-out service is drawn in each resample."""
    rng = seeds.rng(cfg.seed, "service-bootstrap", n_services)
    return rng.multinomial(n_services, np.full(n_services, 1.0 / n_services), size=cfg.bootstrap_resamples).astype(float)


def per_class_f1(results: Results, cfg: Config) -> pd.DataFrame:
    """One row per model x resource class: f1, ci_low, ci_high (bootstrap over services), services (with the class)."""
    weights = _weights(results, cfg)
    positives = _positive_services(results)
    rows = []
    for model in MODELS:
        counts = confusion_counts(results.predictions, model)
        observed = f1_from_counts(*(counts[k].sum(axis=0) for k in ("tp", "fp", "fn")))
        resampled = f1_from_counts(*(weights @ counts[k] for k in ("tp", "fp", "fn")))
        for j, c in enumerate(RESOURCE_CLASSES):
            interval = _percentile(float(observed[j]), resampled[:, j], weights.shape[1], "")
            rows.append({"model": model, "resource_class": c, "f1": interval.effect, "ci_low": interval.low,
                         "ci_high": interval.high, "services": int(positives[c])})
    return pd.DataFrame(rows)


def _weights(results: Results, cfg: Config) -> np.ndarray:
    return service_bootstrap(cfg, results.predictions["service"].nunique())


def _positive_services(results: Results) -> pd.Series:
    """Held-out services having each resource class (what the per-class F1 is measured on)."""
    held = results.services[results.services["fold"] >= 0]
    return held[list(RESOURCE_CLASSES)].sum()


def evaluated_classes(results: Results, cfg: Config) -> list[str]:
    positives = _positive_services(results)
    return [c for c in RESOURCE_CLASSES if positives[c] >= cfg.min_class_services]


def class_share_interval(results: Results, cfg: Config, model: str = "protonet") -> report.Interval:
    """Share of evaluated classes whose F1 >= f1_target, minus class_share_target; bootstrap over services."""
    columns = [list(RESOURCE_CLASSES).index(c) for c in evaluated_classes(results, cfg)]
    weights = _weights(results, cfg)
    counts = confusion_counts(results.predictions, model)
    observed = f1_from_counts(*(counts[k].sum(axis=0) for k in ("tp", "fp", "fn")))[columns]
    resampled = f1_from_counts(*(weights @ counts[k] for k in ("tp", "fp", "fn")))[:, columns]
    share = lambda f1: np.mean(np.nan_to_num(f1, nan=0.0) >= cfg.f1_target, axis=-1) - cfg.class_share_target
    method = (f"percentile bootstrap over held-out services, {cfg.bootstrap_resamples} resamples; share of "
              f"{len(columns)} evaluated classes with F1 >= {cfg.f1_target} minus {cfg.class_share_target}")
    return _percentile(float(share(observed)), share(resampled), weights.shape[1], method)


def macro_f1_difference(results: Results, cfg: Config, model: str = "protonet",
                        baseline: str = "popularity") -> report.Interval:
    """Macro F1 over evaluated classes of ``model`` minus ``baseline``, paired bootstrap over services."""
    columns = [list(RESOURCE_CLASSES).index(c) for c in evaluated_classes(results, cfg)]
    weights = _weights(results, cfg)

    def macro(counts, w=None):
        parts = [counts[k].sum(axis=0) if w is None else w @ counts[k] for k in ("tp", "fp", "fn")]
        return np.nan_to_num(f1_from_counts(*parts)[..., columns], nan=0.0).mean(axis=-1)

    a, b = confusion_counts(results.predictions, model), confusion_counts(results.predictions, baseline)
    method = f"paired percentile bootstrap over held-out services, {cfg.bootstrap_resamples} resamples"
    return _percentile(float(macro(a) - macro(b)), macro(a, weights) - macro(b, weights), weights.shape[1], method)


def ranking_intervals(results: Results) -> pd.DataFrame:
    """One row per model x k x measure (precision, recall): mean over services (replicates averaged) with its CI."""
    per_service = results.ranking.groupby(["model", "k", "service"])[["precision", "recall"]].mean().reset_index()
    rows = []
    for (model, k), group in per_service.groupby(["model", "k"], sort=False):
        for measure in ("precision", "recall"):
            interval = report.mean_interval(group[measure].to_numpy())
            rows.append({"model": model, "k": int(k), "measure": measure, "mean": interval.effect,
                         "ci_low": interval.low, "ci_high": interval.high, "services": interval.n})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- claims

def data_record(results: Results) -> dict[str, str]:
    """metrics.json ``data``: per corpus, what was read."""
    out = {}
    for row in results.counts.itertuples():
        ds = data.dataset(row.corpus)
        out[row.corpus] = (f"used: {row.files} files, {row.services} services with alerts, {row.alerts} alerts; "
                           f"{ds.source}; sha256 checked; {ds.licence}")
    return out


def ontology_claims(results: Results, cfg: Config) -> list[dict]:
    n_alerts, n_services = len(results.monitors), results.monitors["service"].nunique()
    regime = [report.Regime("hand-labelled rules matched in the corpora read", len(results.agreement), 50),
              report.Regime("resource classes the rules assign", results.monitors["resource_class"].nunique(), 2)]
    out = []
    for id_, field, what in (("C1a", "resource", "resource class"), ("C1b", "metric", "metric class")):
        kappa = kappa_interval(results.agreement, field, cfg)
        shifted = report.Interval(kappa.effect - cfg.kappa_threshold, kappa.low - cfg.kappa_threshold,
                                  kappa.high - cfg.kappa_threshold, kappa.n, kappa.method)
        out.append(report.direction(
            id_, f"an ontology of monitors ({what}) by documented keyword rules over the public corpora "
                 f"({report.fmt(n_alerts)} alerts of {n_services} services) agrees with hand labels: Cohen's kappa "
                 f"minus {cfg.kappa_threshold}", "30,000+ monitors from 791 services in a resource x metric ontology",
            shifted, regime, unit="kappa - threshold",
            our_value=f"kappa {report.fmt(kappa.effect)} [{report.fmt(kappa.low)}, {report.fmt(kappa.high)}]",
            evidence="fig01_resource_classes.png" if field == "resource" else "fig02_metric_classes.png"))
    return out


def recommender_claims(results: Results, cfg: Config) -> list[dict]:
    evaluated = evaluated_classes(results, cfg)
    held = int((results.services["fold"] >= 0).sum())
    training = results.training
    learned = float(np.mean(training["loss_end"] < training["loss_start"])) if len(training) else 0.0
    regime = [report.Regime(f"resource classes with >= {cfg.min_class_services} held-out services", len(evaluated), 2),
              report.Regime("share of prototypical-network fits whose episode loss fell", learned, 0.8)]
    share = class_share_interval(results, cfg)
    diff = macro_f1_difference(results, cfg)
    f1 = per_class_f1(results, cfg)
    proto = f1[(f1["model"] == "protonet") & f1["resource_class"].isin(evaluated)]
    listing = ", ".join(f"{r.resource_class} {report.fmt(r.f1)}" for r in proto.itertuples())
    return [
        report.direction("C2a", f"the prototypical recommender reaches per-class F1 >= {cfg.f1_target} for more than "
                         f"{cfg.class_share_target:.0%} of resource classes (leave-one-service-out, {held} services): "
                         "share of classes minus the target share", "production quality for the majority of classes",
                         share, regime, unit="fraction of classes",
                         our_value=f"{report.fmt(share.effect + cfg.class_share_target)} of {len(evaluated)} classes "
                                   f"({listing})", evidence="fig04_f1_per_class.png"),
        report.direction("C2b", "the prototypical recommender beats the popularity prior: macro F1 over the evaluated "
                         "resource classes, protonet minus popularity", "beats the prior (no number published)", diff,
                         regime, unit="F1", evidence="fig04_f1_per_class.png"),
    ]


def claims(results: Results, cfg: Config) -> list[dict]:
    return [*ontology_claims(results, cfg), *recommender_claims(results, cfg),
            report.cannot("C3", "user study: usefulness of the recommendations", "4.27/5",
                          "a user study with Microsoft service owners; no participants or responses are public")]


def extra(results: Results, cfg: Config) -> dict:
    """Numbers behind the claims for metrics.json ``extra``: counts, kappas, per-class F1 with CIs, ranking."""
    f1 = per_class_f1(results, cfg)
    return {
        "counts": results.counts.set_index("corpus").to_dict(orient="index"),
        "kappa": {f: vars(kappa_interval(results.agreement, f, cfg)) for f in ("resource", "metric")},
        "evaluated_classes": evaluated_classes(results, cfg),
        "f1_per_class": {m: {r.resource_class: [r.f1, r.ci_low, r.ci_high, r.services]
                             for r in g.itertuples()} for m, g in f1.groupby("model", sort=False)},
        "macro_f1_protonet_minus": {b: vars(macro_f1_difference(results, cfg, baseline=b)) for b in MODELS[:3]},
        "ranking": {f"{r.model}@{r.k} {r.measure}": [r.mean, r.ci_low, r.ci_high]
                    for r in ranking_intervals(results).itertuples()},
    }


def limitations(cfg: Config) -> list[str]:
    return [
        "Public recommended alerts (AMBA: Microsoft's baseline for each Azure resource type; awesome-prometheus-alerts: "
        "community rules per technology) are not Microsoft's 30,000 production monitors of 791 services: the corpus is "
        "a few hundred services' recommended alerts, and a service's monitors here are a curated list, not an "
        "engineer's history.",
        "The brief expects about 1.3k AMBA alert entries; the pinned commit has 675 entries in 78 files (2 empty: "
        "Databricks/workspaces, ServiceFabric/clusters), so 76 AMBA services enter the recommender.",
        "The labels are our keyword rules, checked against 100 rules labelled by one person (no second annotator, so "
        "no inter-annotator kappa); C1's kappa measures the rules against that person's reading. The rules were "
        "written before the comparison and not changed after it: their visible slips (a description saying 'only "
        "available on ...' read as availability, 'replicas' read as Kubernetes) stay, because fixing them on the "
        "same 100 rules would inflate kappa; a fix needs a fresh hand sample.",
        "[our choice] Resource class = the resource the alert's signal is about (a VM's disk IOPS alert is storage), "
        "falling back to the service's type; the 8 classes have no place for power hardware (a UPS battery is labelled "
        "compute). Metric classes follow USE/RED words; the order of the rule lists decides overlaps (errors before "
        "availability before latency before saturation before throughput).",
        "[our choice] Service properties are the corpus, category and service name only (TF-IDF over character "
        "2-4-grams, fit on all services' names: no labels); the alerts' own text is never a feature of the held-out "
        "service, since the labels are computed from it.",
        "[our choice] Multi-label prototypical network: the encoder is trained in episodes on the training rules "
        "(single-label: a rule's resource class) and each class gets a binary prototype pair (services with / "
        "without it); a class is predicted when its score >= " + report.fmt(cfg.decision_threshold) + " (kNN, "
        "logistic regression, network); the popularity prior predicts the m most frequent classes, m = the training "
        "services' mean number of classes.",
        "[our choice] C2: F1 >= " + report.fmt(cfg.f1_target) + " for > " + f"{cfg.class_share_target:.0%}" + " of the "
        "resource classes with >= " + str(cfg.min_class_services) + " held-out services; per-class F1 pools seeds "
        "within a service and is bootstrapped over services. Kappa threshold for C1: " + report.fmt(cfg.kappa_threshold)
        + " ('substantial agreement', Landis and Koch).",
        "The paper's per-class numbers are unknown, so C2 tests the brief's direction only; the user study (C3) "
        "cannot be reproduced. Our service properties are far poorer than the paper's (no service description, "
        "dependencies or telemetry: only a category and a name), which bounds every model's F1; the network's "
        "margin over the popularity prior (C2b) says little on its own, because a fixed label set scores 0 on every "
        "class it leaves out: compare it with kNN and logistic regression (metrics.json extra.macro_f1_protonet_minus).",
        "[our choice] Leave-one-service-out for the baselines and the prototypes; the network's encoder is trained "
        "once per replicate and per group of held-out services (" + str(cfg.encoder_folds) + " groups, dealt at random), "
        "on the rules of the services outside the group, so no held-out service is in its encoder's training data.",
        "Without the corpora (neither REPRO_DATA_MIRROR nor python -m repro.data fetch amba / prometheus-alerts) the "
        "notebook stops with that message: the data policy forbids a synthetic stand-in for a real-data paper.",
    ]
