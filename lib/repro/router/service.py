"""The V100-like Llama-2-7B instance model of brief 03 §2 ("Instance model", "Characterisation") as a flat array.

* Prefill iteration: ``grad1`` s per prompt token (paper §4.2: grad1 = 3.2e-4), the admitted prompts alone.
* Decode iteration: a line through Fig 4b's extracted axis range, 0.034 s at 2,000 and 0.037 s at 6,000 batch
  tokens (prompt + generated tokens of the decoding requests), floored at 0.02 s, the paper's minimum decode
  batch time [derived from the figure axes; approximate, printed as such].
* Max batch 128 requests [paper A.9]; KV capacity 30k tokens (32 GB V100, 0.9 utilisation, 13.5 GB of weights,
  0.5 MiB per token) [our choice].
* The mixing-impact constants (§2, "Mixing impact"): grad2 = 3.3e-5 (the paper's normalising constant),
  epsilon = 0.5 s (the heavy-prompt threshold) and alpha = 0.5.
* The router decides every ``dt`` = 0.02 s [paper §6].

The kernels read these numbers from one float64 array (:meth:`ServiceModel.as_array`, column constants below).
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

from repro.papers.config import check_fraction, check_positive

GRAD1, DEC_A, DEC_B, DEC_FLOOR, MAX_BATCH, KV_CAP, DT, EPS, GRAD2, ALPHA, MAX_TIME = range(11)
"""Columns of the service array the kernels read."""

BUCKET_EDGES = (256, 2048)
"""Decode-length bucket edges of the RL state (tokens): 0-256, 256-2,048, >= 2,048 [paper A.9]."""
BUCKET_ESTIMATE = (256.0, 2048.0, 4096.0)
"""Estimated decode tokens d-hat of each predicted bucket: its upper edge, 4,096 for the open top bucket [our
choice; Min-Min uses the upper edge too, paper A.2.3]. Decode lengths are capped at 4,096."""


@dataclass(frozen=True)
class ServiceModel:
    """Brief 03's V100-like Llama-2-7B service model (module docstring); ``max_time`` ends an episode (s)."""
    grad1: float = 3.2e-4
    decode_intercept: float = 0.0325
    decode_slope: float = 7.5e-7
    decode_floor: float = 0.02
    max_batch: int = 128
    kv_capacity: int = 30_000
    dt: float = 0.02
    epsilon: float = 0.5
    grad2: float = 3.3e-5
    alpha: float = 0.5
    max_time: float = 1_000.0

    def __post_init__(self):
        problems = check_positive(self, "grad1", "decode_intercept", "decode_floor", "max_batch", "kv_capacity",
                                  "dt", "epsilon", "grad2", "max_time")
        problems += check_fraction(self, "alpha")
        if self.decode_slope < 0:
            problems.append(f"decode_slope: expected >= 0, got {self.decode_slope}")
        if problems:
            raise ValueError("bad service model:\n  " + "\n  ".join(problems))

    def as_array(self) -> np.ndarray:
        """The float64 array the kernels read (columns GRAD1 .. MAX_TIME, in field order)."""
        assert [f.name for f in fields(self)][-1] == "max_time"
        return np.array(astuple(self), dtype=np.float64)

    def decode_time(self, batch_tokens):
        """Seconds of one decode iteration over ``batch_tokens`` tokens (prompt + generated) in the batch."""
        return np.maximum(self.decode_floor, self.decode_intercept + self.decode_slope * np.asarray(batch_tokens))

    def prefill_time(self, prompt_tokens):
        """Seconds of one prefill iteration over ``prompt_tokens`` tokens."""
        return self.grad1 * np.asarray(prompt_tokens, dtype=float)


def bucket_of(decode_tokens) -> np.ndarray:
    """The decode-length bucket (0, 1, 2) of each length, edges :data:`BUCKET_EDGES`."""
    return np.searchsorted(np.asarray(BUCKET_EDGES), np.asarray(decode_tokens), side="right")
