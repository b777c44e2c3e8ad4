"""The synthetic 5-task request mix and the emulated output-length predictor of brief 03 §5 and §2.

* Tasks (paper Table 1): Books, ELI5, IMDb, SQuAD, WNUT with their sample shares, mean prompt and mean decode
  tokens and heavy-decode shares. Per task, prompt and decode lengths are lognormal [our choice]: the prompt with
  the task's mean and log-sd :data:`PROMPT_LOG_SD` [our choice], capped at 1,000 tokens [paper A.4]; the decode
  with the task's mean and the log-sd that gives the task's heavy-decode share (decode time >= 5 s under the
  service model, i.e. >= 5 s / decode_intercept tokens) where one exists, else the log-sd with the largest share
  (:func:`decode_log_sd`; the obtained shares are reported by :func:`calibration`). Decodes are capped at 4,096.
* Arrivals: Poisson at ``rate`` req/s [our choice].
* Predictor [our choice (a)]: the true decode bucket with probability equal to the task's Table 1 accuracy,
  otherwise an adjacent bucket (from the middle bucket either neighbour with equal chance). ``accuracy`` = 1 is
  the oracle; a scalar replaces every task's accuracy (the accuracy sweep of fig 14).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from repro.router.service import BUCKET_ESTIMATE, ServiceModel, bucket_of

TASKS = ("books", "eli5", "imdb", "squad", "wnut")
SAMPLES = np.array([7351, 6988, 6564, 7122, 3304])
MEAN_PROMPT = np.array([29.09, 29.83, 211.54, 125.16, 26.41])
MEAN_DECODE = np.array([61.76, 334.40, 142.53, 220.02, 64.10])
HEAVY_DECODE_SHARE = np.array([0.0918, 0.5818, 0.4101, 0.4795, 0.0871])
ACCURACY = np.array([0.9310, 0.7036, 0.7992, 0.6527, 0.9506])
"""Paper Table 1: samples, mean prompt / decode tokens, heavy-decode share, predictor accuracy per task."""
PROMPT_LOG_SD = 0.8
MAX_PROMPT, MAX_DECODE = 1000, 4096
HEAVY_DECODE_SECONDS = 5.0


def heavy_share(log_sd, mean: float, threshold: float):
    """P(X >= threshold) for X lognormal with the given mean and log-sd (``log_sd`` may be an array)."""
    log_sd = np.asarray(log_sd, dtype=float)
    return norm.sf((np.log(threshold) - np.log(mean) + log_sd ** 2 / 2) / log_sd)


def decode_log_sd(mean: float, share: float, threshold: float) -> float:
    """The smallest log-sd whose lognormal (mean fixed) has ``share`` above ``threshold``, else the best one."""
    grid = np.linspace(0.05, 3.0, 296)
    gap = heavy_share(grid, mean, threshold) - share
    crossing = np.flatnonzero(np.sign(gap[:-1]) != np.sign(gap[1:]))
    if crossing.size == 0:
        return float(grid[np.argmax(gap)])
    i = crossing[0]
    return float(brentq(lambda s: float(heavy_share(s, mean, threshold)) - share, grid[i], grid[i + 1]))


def calibration(service: ServiceModel) -> dict:
    """Per task: the decode log-sd used and the heavy-decode share it gives (vs the paper's)."""
    threshold = HEAVY_DECODE_SECONDS / service.decode_intercept
    sds = [decode_log_sd(m, s, threshold) for m, s in zip(MEAN_DECODE, HEAVY_DECODE_SHARE)]
    return {"task": list(TASKS), "decode_log_sd": sds, "paper_heavy_share": HEAVY_DECODE_SHARE.tolist(),
            "heavy_share": [float(heavy_share(s, m, threshold)) for s, m in zip(sds, MEAN_DECODE)],
            "heavy_threshold_tokens": threshold}


@dataclass(frozen=True)
class Workload:
    """``n`` requests of one episode, sorted by arrival: arrival (s), task, prompt / decode tokens, predicted bucket."""
    arrival: np.ndarray
    task: np.ndarray
    prompt: np.ndarray
    decode: np.ndarray
    bucket: np.ndarray

    @property
    def decode_estimate(self) -> np.ndarray:
        """d-hat: the estimated decode tokens of each request's predicted bucket."""
        return np.asarray(BUCKET_ESTIMATE)[self.bucket]


def predict_buckets(true_bucket, accuracy, rng: np.random.Generator) -> np.ndarray:
    """Emulated predictor: the true bucket with probability ``accuracy`` (per request), else an adjacent one."""
    true_bucket = np.asarray(true_bucket)
    wrong = rng.random(true_bucket.size) >= accuracy
    step = np.where(rng.random(true_bucket.size) < 0.5, -1, 1)
    step = np.where(true_bucket == 0, 1, np.where(true_bucket == 2, -1, step))
    return np.where(wrong, true_bucket + step, true_bucket).astype(np.int64)


def sample_workload(n: int, rate: float, service: ServiceModel, rng: np.random.Generator,
                    accuracy: float | None = None) -> Workload:
    """One episode of ``n`` requests at ``rate`` req/s; ``accuracy`` None = the paper's per-task accuracies."""
    if n <= 0 or rate <= 0:
        raise ValueError(f"workload: expected n > 0 and rate > 0, got n={n}, rate={rate}")
    threshold = HEAVY_DECODE_SECONDS / service.decode_intercept
    task = rng.choice(len(TASKS), size=n, p=SAMPLES / SAMPLES.sum())
    decode_sd = np.array([decode_log_sd(m, s, threshold) for m, s in zip(MEAN_DECODE, HEAVY_DECODE_SHARE)])[task]
    prompt = _lognormal(MEAN_PROMPT[task], np.full(n, PROMPT_LOG_SD), rng).clip(1, MAX_PROMPT)
    decode = _lognormal(MEAN_DECODE[task], decode_sd, rng).clip(1, MAX_DECODE)
    decode = np.minimum(decode, service.kv_capacity - 1 - prompt)          # every request fits the KV cache alone
    arrival = np.cumsum(rng.exponential(1.0 / rate, size=n))
    acc = ACCURACY[task] if accuracy is None else np.full(n, float(accuracy))
    bucket = predict_buckets(bucket_of(decode), acc, rng)
    return Workload(arrival, task.astype(np.int64), prompt, decode, bucket)


def _lognormal(mean, log_sd, rng):
    return np.rint(rng.lognormal(np.log(mean) - log_sd ** 2 / 2, log_sd)).astype(np.int64)
