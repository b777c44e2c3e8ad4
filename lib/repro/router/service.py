"""The instance service models of brief 03 §2 ("Instance model", "Service times", "Characterisation") as a flat array.

Two kinds share one dataclass, :class:`ServiceModel` (``kind``):

``"linear"`` -- the V100-like Llama-2-7B model (C1, C2, C5, C7, C8), the default:

* Prefill iteration: ``grad1`` s per prompt token (paper §4.2: grad1 = 3.2e-4), the admitted prompts alone.
* Decode iteration: a line through Fig 4b's extracted axis range, 0.034 s at 2,000 and 0.037 s at 6,000 batch
  tokens (prompt + generated tokens of the decoding requests), floored at 0.02 s, the paper's minimum decode
  batch time [derived from the figure axes; approximate, printed as such].
* KV capacity 30k tokens (32 GB V100, 0.9 utilisation, 13.5 GB of weights, 0.5 MiB per token) [our choice].
* Chunk attention coefficient 0: the linear model has no attention (quadratic) term, so a prompt costs the same
  chunked or not, apart from sharing iterations [our choice, follows from the model].

``"table"`` -- the A100 Llama-3.1-8B model (C3, C4, C6 proxy), :func:`a100_llama31_8b`, read from
``sageserve-perf/Llama-3.1-8B-tp-2.csv`` through :func:`repro.latency.read_perf_table` (median of the repeats,
seconds; a decode step is token_time / token_size):

* Prefill iteration = prompt_time(tokens) of the batch-1 rows (prompt 128 .. 8,192), where tokens = all prompt
  (and recomputed) tokens of the iteration. The batch > 1 rows are not used: their prompt_time does not grow
  with the batch (identical prompts sharing a cached prefix, the reading of :mod:`repro.latency`) [our choice].
* Decode iteration = token_time(batch) / token_size of the batch sweep (prompt 512, 128 tokens, batch 1 .. 32),
  by the number of decoding requests.
* Both tables are interpolated linearly; below the first point the first value holds (the fixed cost of an
  iteration), beyond the last point the last segment is extended (prompts over 8,192 tokens, batches over 32 up
  to 128) [our choice].
* KV capacity 430k tokens, max batch 128 (brief §2).
* grad1 = the least-squares slope of the prefill table (s per token), grad2 = grad1 x 3.3e-5 / 3.2e-4 (the
  paper's ratio of its two normalising constants) -- "gradients re-profiled" (C3) [our choice]. epsilon, alpha
  as below. decode_intercept = the batch-1 step (it sets the workload's heavy-decode threshold), decode_slope 0.
* Chunk attention coefficient = 2 p2, p2 the quadratic coefficient of :func:`repro.latency.fit_table`'s prefill
  fit: a prompt's p2 p^2 attention cost split into chunks is sum_k p2 c_k^2 + 2 p2 sum_k c_k e_k, e_k the
  tokens before chunk k; the first part stays in the prefill table's time of c_k, the second is the chunk's
  attention over earlier chunks [our choice].

Common to both:

* Max batch 128 requests [paper A.9].
* The mixing-impact constants (§2, "Mixing impact"): grad2 = 3.3e-5 (the paper's normalising constant),
  epsilon = 0.5 s (the heavy-prompt threshold) and alpha = 0.5.
* The router decides every ``dt`` = 0.02 s [paper §6].

The kernels read these numbers from one float64 array (:meth:`ServiceModel.as_array`, column constants below);
the two tables follow the fixed columns from :data:`TABLE` on: prefill x, prefill y, decode x, decode y.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro import data, latency
from repro.papers.config import check_fraction, check_positive

(GRAD1, DEC_A, DEC_B, DEC_FLOOR, MAX_BATCH, KV_CAP, DT, EPS, GRAD2, ALPHA, MAX_TIME, KIND, ATTENTION, PRE_N,
 DEC_N, TABLE) = range(16)
"""Columns of the service array the kernels read (TABLE: where the tables start)."""
KINDS = ("linear", "table")
KIND_LINEAR, KIND_TABLE = range(2)

BUCKET_EDGES = (256, 2048)
"""Decode-length bucket edges of the RL state (tokens): 0-256, 256-2,048, >= 2,048 [paper A.9]."""
BUCKET_ESTIMATE = (256.0, 2048.0, 4096.0)
"""Estimated decode tokens d-hat of each predicted bucket: its upper edge, 4,096 for the open top bucket [our
choice; Min-Min uses the upper edge too, paper A.2.3]. Decode lengths are capped at 4,096."""

A100_TABLE_FILE = "Llama-3.1-8B-tp-2.csv"
PAPER_GRAD1, PAPER_GRAD2 = 3.2e-4, 3.3e-5


@dataclass(frozen=True)
class ServiceModel:
    """Brief 03's service model (module docstring); ``max_time`` ends an episode (s). ``kind="table"`` reads
    ``prefill_table`` ((prompt tokens, s), ...) and ``decode_table`` ((batch, s), ...) instead of the lines."""
    grad1: float = PAPER_GRAD1
    decode_intercept: float = 0.0325
    decode_slope: float = 7.5e-7
    decode_floor: float = 0.02
    max_batch: int = 128
    kv_capacity: int = 30_000
    dt: float = 0.02
    epsilon: float = 0.5
    grad2: float = PAPER_GRAD2
    alpha: float = 0.5
    max_time: float = 1_000.0
    kind: str = "linear"
    attention: float = 0.0          # chunked prefill: s per (chunk token x earlier token of its prompt)
    prefill_table: tuple = ()
    decode_table: tuple = ()

    def __post_init__(self):
        problems = check_positive(self, "grad1", "decode_intercept", "decode_floor", "max_batch", "kv_capacity",
                                  "dt", "epsilon", "grad2", "max_time")
        problems += check_fraction(self, "alpha")
        if self.decode_slope < 0:
            problems.append(f"decode_slope: expected >= 0, got {self.decode_slope}")
        if self.attention < 0:
            problems.append(f"attention: expected >= 0, got {self.attention}")
        if self.kind not in KINDS:
            problems.append(f"kind: expected one of {KINDS}, got {self.kind!r}")
        for name in ("prefill_table", "decode_table"):
            problems += _table_problems(name, getattr(self, name), self.kind == "table")
        if problems:
            raise ValueError("bad service model:\n  " + "\n  ".join(problems))

    def as_array(self) -> np.ndarray:
        """The float64 array the kernels read (columns GRAD1 .. DEC_N, then the tables)."""
        fixed = [self.grad1, self.decode_intercept, self.decode_slope, self.decode_floor, self.max_batch,
                 self.kv_capacity, self.dt, self.epsilon, self.grad2, self.alpha, self.max_time,
                 KINDS.index(self.kind), self.attention, len(self.prefill_table), len(self.decode_table)]
        tables = [v for table in (self.prefill_table, self.decode_table) for column in zip(*table) for v in column]
        return np.array(fixed + tables, dtype=np.float64)

    def decode_time(self, batch_tokens, batch_size=1):
        """Seconds of one decode iteration of ``batch_size`` requests holding ``batch_tokens`` tokens (prompt +
        generated); the linear kind reads the tokens, the table kind the batch size."""
        if self.kind == "table":
            return table_value(batch_size, self.decode_table)
        return np.maximum(self.decode_floor, self.decode_intercept + self.decode_slope * np.asarray(batch_tokens))

    def prefill_time(self, prompt_tokens):
        """Seconds of one prefill iteration over ``prompt_tokens`` tokens."""
        if self.kind == "table":
            return table_value(prompt_tokens, self.prefill_table)
        return self.grad1 * np.asarray(prompt_tokens, dtype=float)

    def attention_time(self, token_pairs):
        """Seconds of prefill chunks' attention over their prompts' earlier chunks: ``token_pairs`` = sum over
        chunks of chunk tokens x earlier tokens (module docstring)."""
        return self.attention * np.asarray(token_pairs, dtype=float)


def _table_problems(name: str, table: tuple, required: bool) -> list[str]:
    if not table:
        return [f"{name}: the table kind needs at least 2 (x, seconds) points"] if required else []
    x = np.array([p[0] for p in table], dtype=float)
    y = np.array([p[1] for p in table], dtype=float)
    if len(x) < 2 or np.any(np.diff(x) <= 0) or np.any(y <= 0):
        return [f"{name}: expected >= 2 points, x strictly increasing, seconds > 0, got {table!r}"]
    return []


def table_value(x, table: tuple):
    """Piecewise-linear ``table`` ((x, y), ...) at ``x``: the first y below the first x, the last segment
    extended beyond the last x."""
    xs = np.array([p[0] for p in table], dtype=float)
    ys = np.array([p[1] for p in table], dtype=float)
    x = np.asarray(x, dtype=float)
    k = np.clip(np.searchsorted(xs, x, side="left"), 1, len(xs) - 1)
    value = ys[k - 1] + (ys[k] - ys[k - 1]) * (x - xs[k - 1]) / (xs[k] - xs[k - 1])
    return np.where(x <= xs[0], ys[0], value)


def a100_llama31_8b(**overrides) -> ServiceModel:
    """The A100 Llama-3.1-8B (TP2) table model of the module docstring, read through the data registry
    (``REPRO_DATA_MIRROR``); ``overrides`` replace fields (e.g. ``kv_capacity`` for the 50k sweep)."""
    rows = latency.read_perf_table(data.path("sageserve-perf", A100_TABLE_FILE))
    single = rows[rows["batch_size"] == 1].groupby("prompt_size")["prefill_s"].median()
    sweep = rows[(rows["prompt_size"] == 512) & (rows["token_size"] == 128)].set_index("batch_size")["decode_step_s"]
    prefill = tuple((float(x), float(y)) for x, y in single.items())
    decode = tuple((float(x), float(y)) for x, y in sweep.sort_index().items())
    grad1 = float(np.polyfit(single.index.to_numpy(float), single.to_numpy(float), 1)[0])
    p2 = latency.fit_table(rows)["prefill"][2]
    fields = dict(kind="table", prefill_table=prefill, decode_table=decode, grad1=grad1,
                  grad2=grad1 * PAPER_GRAD2 / PAPER_GRAD1, decode_intercept=decode[0][1], decode_slope=0.0,
                  decode_floor=min(y for _, y in decode), kv_capacity=430_000, attention=2.0 * p2)
    return ServiceModel(**(fields | overrides))


def bucket_of(decode_tokens) -> np.ndarray:
    """The decode-length bucket (0, 1, 2) of each length, edges :data:`BUCKET_EDGES`."""
    return np.searchsorted(np.asarray(BUCKET_EDGES), np.asarray(decode_tokens), side="right")
