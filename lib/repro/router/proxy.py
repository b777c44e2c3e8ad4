"""The public stand-in for the paper's private Cloud-X hour (brief 03 C6 and C9, §5 "Proxy for the production
trace"; paper A.12): the Azure LLM inference trace of 2023-11-16 (``azure-llm-2023``, conv + code) as router
episodes, with the paper's production predictor, a RandomForest on (prompt tokens, application).

* Trace: both files merged and time-ordered on their timestamps; the application (0 = conv, 1 = code) is the
  :class:`~repro.router.workload.Workload`'s ``task`` column.
* Predictor [paper A.12; split and forest size our choice]: scikit-learn ``RandomForestClassifier`` (100 trees,
  leaves of >= 20 requests) on (prompt tokens, application) -> the decode bucket
  (:func:`repro.router.service.bucket_of`), fitted on the requests of the hour's first half and scored on the
  second half (:func:`fit_predictor`: accuracy, the share of requests in bucket 0, the confusion matrix).
* Episodes [brief §5, our choice]: a random contiguous window of ``n`` requests of the hour's second half (the
  predictor never saw them), its arrival gaps scaled so that the window's mean rate is ``rate`` (the paper's
  protocol: 4,000 requests at 80 req/s) while its burstiness stays the trace's; buckets as the forest predicts them.
  Decode lengths are capped so that every request fits the KV cache alone, as in the synthetic mix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from repro import data
from repro.router.service import BUCKET_EDGES, ServiceModel, bucket_of
from repro.router.workload import Workload

DATASET = "azure-llm-2023"
FILES = {"conv": "AzureLLMInferenceTrace_conv.csv", "code": "AzureLLMInferenceTrace_code.csv"}
APPLICATIONS = tuple(FILES)
N_TREES, MIN_LEAF = 100, 20


def load_trace() -> pd.DataFrame:
    """The two files as one time-ordered frame: arrival (s since the first request of either), application (index
    into :data:`APPLICATIONS`), prompt and decode tokens."""
    parts, starts = [], []
    for app, name in enumerate(APPLICATIONS):
        trace, t0 = data.read_azure_trace(data.path(DATASET, FILES[name]))
        parts.append(pd.DataFrame({"arrival": trace.arrival, "application": app, "prompt": trace.prompt_tokens,
                                   "decode": trace.output_tokens}))
        starts.append(t0)
    first = min(starts)
    for part, t0 in zip(parts, starts):
        part["arrival"] += (t0 - first).total_seconds()
    merged = pd.concat(parts, ignore_index=True)
    return merged.sort_values(["arrival", "application"], kind="stable", ignore_index=True)


def split_halves(trace: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(first half, second half) of the hour by arrival time."""
    middle = trace["arrival"].iloc[0] + (trace["arrival"].iloc[-1] - trace["arrival"].iloc[0]) / 2
    early = trace["arrival"] < middle
    return trace[early].reset_index(drop=True), trace[~early].reset_index(drop=True)


def _features(frame: pd.DataFrame) -> np.ndarray:
    return frame[["prompt", "application"]].to_numpy(np.float64)


@dataclass(frozen=True)
class Predictor:
    """A fitted forest and its scores on the held-out half (module docstring)."""
    forest: RandomForestClassifier
    correct: np.ndarray             # per held-out request: the predicted bucket is the true one
    bucket0_share: float            # share of held-out requests whose true bucket is 0 (paper: 68.44 %)
    majority_accuracy: float        # accuracy of always predicting the most common training bucket
    confusion: np.ndarray           # [true bucket, predicted bucket] counts on the held-out half

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.forest.predict(_features(frame)).astype(np.int64)


def fit_predictor(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> Predictor:
    """Fit the forest on ``train`` and score it on ``test`` (seeded: the same inputs give the same forest)."""
    forest = RandomForestClassifier(n_estimators=N_TREES, min_samples_leaf=MIN_LEAF, random_state=seed, n_jobs=1)
    forest.fit(_features(train), bucket_of(train["decode"]))
    truth = bucket_of(test["decode"])
    predicted = forest.predict(_features(test)).astype(np.int64)
    n_buckets = len(BUCKET_EDGES) + 1
    confusion = np.zeros((n_buckets, n_buckets), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    majority = np.bincount(bucket_of(train["decode"]), minlength=n_buckets).argmax()
    return Predictor(forest, predicted == truth, float(np.mean(truth == 0)), float(np.mean(truth == majority)),
                     confusion)


@dataclass(frozen=True)
class ProxyData:
    """The merged trace, the held-out half the episodes are drawn from, and the forest fitted on the other half."""
    trace: pd.DataFrame
    pool: pd.DataFrame
    predictor: Predictor


def prepare(seed: int) -> ProxyData:
    """Load the trace, split it in halves and fit the forest (``seed``: its random_state)."""
    trace = load_trace()
    train, pool = split_halves(trace)
    return ProxyData(trace, pool, fit_predictor(train, pool, seed))


def window_workload(pool: pd.DataFrame, predictor: Predictor, n: int, rate: float, service: ServiceModel,
                    rng: np.random.Generator) -> Workload:
    """One episode: a random contiguous window of ``n`` requests of ``pool``, its gaps scaled to mean rate ``rate``
    (the first request at one mean gap), buckets predicted by ``predictor``."""
    if n < 2 or n > len(pool):
        raise ValueError(f"proxy window: expected 2 <= n <= {len(pool)} requests of the pool, got n={n}")
    if rate <= 0:
        raise ValueError(f"proxy window: expected rate > 0, got {rate}")
    start = int(rng.integers(0, len(pool) - n + 1))
    window = pool.iloc[start:start + n]
    gaps = np.diff(window["arrival"].to_numpy(), prepend=window["arrival"].iloc[0])
    span = gaps.sum()
    gaps[0] = span / (n - 1)
    arrival = np.cumsum(gaps * (n / rate) / gaps.sum()) if span > 0 else np.arange(1, n + 1) / rate
    prompt = window["prompt"].to_numpy(np.int64)
    decode = np.minimum(window["decode"].to_numpy(np.int64), service.kv_capacity - 1 - prompt)
    if (decode < 1).any():
        raise ValueError(f"proxy window: a prompt of {prompt.max():,} tokens does not fit the KV cache of "
                         f"{service.kv_capacity:,} tokens")
    return Workload(arrival, window["application"].to_numpy(np.int64), prompt, decode,
                    predictor.predict(window))


def summary(trace: pd.DataFrame) -> pd.DataFrame:
    """Requests, mean prompt and mean decode tokens per application and overall (the brief prints these beside
    Cloud-X's 5,526.64 / 112.69)."""
    rows = [("all", trace)] + [(name, trace[trace["application"] == a]) for a, name in enumerate(APPLICATIONS)]
    return pd.DataFrame([{"application": name, "requests": len(part), "mean_prompt": part["prompt"].mean(),
                          "mean_decode": part["decode"].mean(), "bucket0_share": float(np.mean(
                              bucket_of(part["decode"]) == 0))} for name, part in rows])
