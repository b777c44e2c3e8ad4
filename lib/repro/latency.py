"""Iteration-level LLM service-time model fitted to the SageServe profiling tables.

Implements the service model of brief 01 §2 "Service model" (also used by brief 02 §2 "Server model"
and brief 03 §2 "Instance model"): per model, GPU and tensor parallelism (TP),

    prefill_s(tokens)               = p0 + p1*tokens + p2*tokens**2    tokens = prompt tokens prefilled in one
                                                                       iteration, summed over the batch
    decode_step_s(batch, context)   = d0 + d1*batch + d2*context       context = KV tokens of the running batch

with the decode step bounded beyond the profiled batch sizes (brief 01 §7 "Measurement corrections": A/B
were profiled up to batch 64, C/D up to 32, and the engine runs batches up to 512). Our choice is a **cap**
(:data:`DECODE_BOUND`): the batch term is evaluated at most at the profiled maximum batch B_max,

    decode_step_s(batch, context)   = d0 + d1*min(batch, B_max) + d2*context

while the context term stays linear in the KV tokens the step reads (attention reads every KV token once per
step whatever the batch, so it is not an extrapolation in batch). B_max is the largest batch of the table's
decode rows (``decode_batch_max`` in the coefficients JSON); :func:`decode_bound_text` states it for a
paper's limitations. Both the engine and its reference evaluate the step through
:func:`repro.replay.state.step_seconds`, which applies the same cap.

The coefficients are fitted by robust least squares on relative error (soft-L1 loss, so one anomalous row cannot drag the
fit; every coefficient >= 0, so times are positive and non-decreasing in their arguments) to the profiled tables in ``sageserve-perf``, and the KV
capacity of one instance from brief 01's formula
``(TP x GPU memory - weight bytes) / (2 x layers x hidden x 2 bytes)`` (ignores GQA, as the brief says).

Reading of the tables (checked by tests/test_latency.py against the numbers themselves):
- ``perf_model_4_models.csv`` models A and B: times in **milliseconds**; ``prompt_time`` is the prefill of
  ``batch_size`` prompts of ``prompt_size`` tokens; ``token_time`` is the time of ONE decode step (TBT);
  ``e2e_time = prompt_time + n_steps*token_time`` where n_steps = token_size - 1 unless generation ended early
  (rows with token_size >= 512 often did; we use n_steps = (e2e - prompt)/token_time, the median of the repeats).
- models C and D of that file and the ``Llama-*-tp-*.csv`` files: times in **seconds**; ``token_time`` is the
  whole decode of ``token_size`` tokens (it doubles when token_size doubles), so a step is token_time/token_size
  (brief 03 §2). The C/D rows at TP t are identical to the Llama-3.1-8B / Llama-3.2-3B files at TP t/2.
- Prefill rows left out of the fit (listed in the JSON with the reason): in the A/B tables, a row whose time is
  below half of a row with fewer tokens (a failed measurement: A at TP2, batch 64, 0.79 s vs 6.6 s at batch 32);
  in the seconds tables, every batch > 1 row: there prefill time does not grow with the batch (32 x 512 tokens
  take 0.048 s vs 0.13 s for one 2048-token prompt), which we read as identical prompts sharing a cached prefix.
- The seconds tables' decode at prompt 8192 is about twice the step time of every other row (also of a
  4096-token-longer context); it stays in the fit (the robust loss discounts it) and is the worst fitted row.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, nnls

from repro import data

COEFFICIENTS_PATH = Path(__file__).with_name("latency_coefficients.json")

#: brief 01 §2 [code]: weight bytes, layers, hidden size. Llama-3.1-8B / Llama-3.2-3B are the C / D class.
ARCHITECTURE = {
    "A": {"layers": 80, "hidden": 8192, "weight_bytes": 135e9},
    "B": {"layers": 70, "hidden": 14336, "weight_bytes": 329e9},
    "C": {"layers": 32, "hidden": 4096, "weight_bytes": 51e9},
    "D": {"layers": 16, "hidden": 2048, "weight_bytes": 19.5e9},
}
ARCHITECTURE_ALIAS = {"Llama-3.1-8B": "C", "Llama-3.2-3B": "D"}
GPU_MEMORY_BYTES = {"a100-80gb": 80e9, "h100-80gb": 80e9, "h100-80gb-pcap": 80e9}
_MS_PER_STEP_MODELS = ("A", "B")   # the others are seconds with token_time = whole decode
_GROUP = ["model", "hardware", "tensor_parallel", "prompt_size", "batch_size", "token_size"]


@dataclass(frozen=True)
class LatencyModel:
    """Service times of ``len(names)`` models; index i is ``Trace.model == i``.

    prefill: float64 (n_models, 3) -> prefill_s = p0 + p1*tokens + p2*tokens**2 (only for tokens > 0).
    decode: float64 (n_models, 3) -> step_s = d0 + d1*min(batch, B_max) + d2*context_tokens.
    kv_capacity_tokens: int64 (n_models,) KV tokens one instance holds.
    tables: per model, which profiled table the coefficients came from (and any TP fallback).
    decode_batch_max: (n_models,) B_max, the largest profiled decode batch (None: no cap, e.g. a toy model).
    """

    names: tuple[str, ...]
    prefill: np.ndarray
    decode: np.ndarray
    kv_capacity_tokens: np.ndarray
    tables: tuple[str, ...] = ()
    decode_batch_max: np.ndarray | None = None

    @property
    def batch_cap(self) -> np.ndarray:
        """B_max per model as float64 (inf where there is no cap)."""
        if self.decode_batch_max is None:
            return np.full(len(self.names), np.inf)
        return np.asarray(self.decode_batch_max, np.float64)

    def prefill_time(self, model, tokens):
        p = self.prefill[model]
        tokens = np.asarray(tokens, dtype=np.float64)
        out = p[..., 0] + p[..., 1] * tokens + p[..., 2] * tokens * tokens
        return float(out) if np.ndim(out) == 0 else out

    def decode_time(self, model, batch, context):
        d = self.decode[model]
        batch = np.minimum(np.asarray(batch, np.float64), self.batch_cap[model])
        out = d[..., 0] + d[..., 1] * batch + d[..., 2] * np.asarray(context, np.float64)
        return float(out) if np.ndim(out) == 0 else out


#: how the decode step is bounded beyond the profiled batch range (see the module docstring)
DECODE_BOUND = "cap"


def decode_bound_text(latency: LatencyModel) -> str:
    """One sentence for a paper's limitations: the decode bound and each model's profiled batch range."""
    caps = ", ".join(f"{n}: {c:g}" for n, c in zip(latency.names, latency.batch_cap))
    return (f"Decode step beyond the profiled batch sizes ({DECODE_BOUND}): the batch term d1*batch is evaluated at "
            f"most at the largest profiled batch ({caps}); the context term stays linear in the KV tokens read.")


def _profiled_batch_max(entry: dict) -> int:
    """Largest batch among a coefficients table's decode rows."""
    if "decode_batch_max" in entry:
        return int(entry["decode_batch_max"])
    col = entry["rows_columns"].index("batch_size")
    return max(int(r[col]) for r in entry["rows"] if r[0] == "decode")


def kv_capacity_tokens(model: str, gpu: str = "a100-80gb", tp: int = 8) -> int:
    """Brief 01 §2: (tp x GPU memory - weight bytes) / (2 x layers x hidden x 2 bytes), floored."""
    arch = ARCHITECTURE[ARCHITECTURE_ALIAS.get(model, model)]
    free = tp * GPU_MEMORY_BYTES[gpu] - arch["weight_bytes"]
    if free <= 0:
        raise ValueError(f"kv_capacity_tokens: model {model!r} weights ({arch['weight_bytes']:.3g} B) do not fit "
                         f"in {tp} x {gpu}")
    return int(free // (2 * arch["layers"] * arch["hidden"] * 2))


def load_latency_model(names=("A", "B", "C", "D"), gpu: str = "a100-80gb", tp: int = 8,
                       coefficients: str | Path | None = None) -> LatencyModel:
    """Latency model for ``names`` on ``gpu`` at tensor parallelism ``tp`` from the committed coefficients.

    If a model was not profiled at ``tp`` on ``gpu``, the nearest profiled TP is used (ties: the larger),
    as brief 01 §2 allows ("TP=8 (or TP=4)"); the fallback is recorded in ``tables`` and warned about.
    KV capacity is computed for the TP actually requested.
    """
    doc = json.loads(Path(coefficients or COEFFICIENTS_PATH).read_text())
    by_key = {(t["model"], t["gpu"], t["tp"]): t for t in doc["tables"]}
    prefill, decode, kv, tables, batch_max = [], [], [], [], []
    for name in names:
        tps = sorted(k[2] for k in by_key if k[0] == name and k[1] == gpu)
        if not tps:
            have = sorted({(k[0], k[1]) for k in by_key})
            raise ValueError(f"load_latency_model: no profiled table for model {name!r} on gpu {gpu!r}; "
                             f"available (model, gpu): {have}")
        chosen = min(tps, key=lambda t: (abs(np.log2(t / tp)), -t))
        entry = by_key[(name, gpu, chosen)]
        label = f"{name} {gpu} tp{chosen} ({entry['file']})"
        if chosen != tp:
            label += f" [fallback: tp{tp} not profiled]"
            warnings.warn(f"load_latency_model: {name} on {gpu} has no tp={tp} table; using tp={chosen}", stacklevel=2)
        prefill.append(entry["prefill"])
        decode.append(entry["decode"])
        kv.append(kv_capacity_tokens(name, gpu, tp))
        tables.append(label)
        batch_max.append(_profiled_batch_max(entry))
    return LatencyModel(tuple(names), np.array(prefill, np.float64), np.array(decode, np.float64),
                        np.array(kv, np.int64), tuple(tables), np.array(batch_max, np.int64))


# ----------------------------------------------------------------------------------------------- fitting

def read_perf_table(path: str | Path) -> pd.DataFrame:
    """One row per profiled configuration (median of repeats), in seconds, with the per-step reading above.

    Columns: model, gpu, tp, prompt_size, batch_size, token_size, prefill_tokens, prefill_s,
    decode_steps, decode_context, decode_step_s, file.
    """
    path = Path(path)
    raw = pd.read_csv(path)
    missing = set(_GROUP + ["prompt_time", "token_time", "e2e_time"]) - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    ms = raw["model"].isin(_MS_PER_STEP_MODELS).to_numpy()
    scale = np.where(ms, 1e-3, 1.0)
    raw = raw.assign(
        prefill_s=raw["prompt_time"] * scale,
        decode_steps=np.where(ms, (raw["e2e_time"] - raw["prompt_time"]) / raw["token_time"], raw["token_size"]),
    )
    raw["decode_steps"] = np.minimum(raw["decode_steps"], raw["token_size"])
    raw["decode_step_s"] = np.where(ms, raw["token_time"] * 1e-3, raw["token_time"] / raw["token_size"])
    g = raw.groupby(_GROUP, sort=True)[["prefill_s", "decode_steps", "decode_step_s"]].median().reset_index()
    g = g.rename(columns={"hardware": "gpu", "tensor_parallel": "tp"})
    g["prefill_tokens"] = g["prompt_size"] * g["batch_size"]
    # mean KV tokens of the running batch over the decode: prompt plus half the generated tokens
    g["decode_context"] = g["batch_size"] * (g["prompt_size"] + (g["decode_steps"] - 1) / 2)
    g["file"] = path.name
    return g


def _failed_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows whose time is below half of some row with strictly fewer tokens (a failed measurement)."""
    bad = np.zeros(x.size, bool)
    for i in range(x.size):
        smaller = x < x[i]
        bad[i] = smaller.any() and y[i] < 0.5 * y[smaller].max()
    return bad


def _fit_relative(features: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients beta >= 0 minimising a robust (soft-L1, scale 0.1) loss of the relative errors
    (features @ beta - y) / y; started from the non-negative least-squares solution."""
    a = features / y[:, None]
    norm = np.linalg.norm(a, axis=0)
    norm[norm == 0] = 1.0
    start, _ = nnls(a / norm, np.ones_like(y))
    res = least_squares(lambda b: (a / norm) @ b - 1.0, start, bounds=(0.0, np.inf), loss="soft_l1", f_scale=0.1,
                        method="trf", x_scale="jac")
    return res.x / norm


def _sig(x: float, digits: int = 6) -> float:
    """x to ``digits`` significant digits; |x| < 1e-15 (a coefficient the bound pinned at 0) becomes 0."""
    return float(f"{x:.{digits}g}") if abs(x) >= 1e-15 else 0.0


def _prefill_excluded(table: pd.DataFrame) -> tuple[np.ndarray, str]:
    x = table["prefill_tokens"].to_numpy(np.float64)
    y = table["prefill_s"].to_numpy(np.float64)
    if table["model"].iloc[0] in _MS_PER_STEP_MODELS:
        return _failed_rows(x, y), "failed measurement: below half the time of a row with fewer tokens"
    return (table["batch_size"] > 1).to_numpy(), ("batched prefill does not grow with batch in this table "
                                                  "(identical prompts sharing a cached prefix, our reading)")


def fit_table(table: pd.DataFrame) -> dict:
    """Fit prefill and decode coefficients for one (model, gpu, tp) table; see the module docstring."""
    x = table["prefill_tokens"].to_numpy(np.float64)
    y = table["prefill_s"].to_numpy(np.float64)
    excluded, reason = _prefill_excluded(table)
    pre = _fit_relative(np.column_stack([np.ones_like(x), x, x * x])[~excluded], y[~excluded])
    b = table["batch_size"].to_numpy(np.float64)
    c = table["decode_context"].to_numpy(np.float64)
    s = table["decode_step_s"].to_numpy(np.float64)
    dec = _fit_relative(np.column_stack([np.ones_like(b), b, c]), s)
    pre = [_sig(v) for v in pre]
    dec = [_sig(v) for v in dec]
    pre_fit = pre[0] + pre[1] * x + pre[2] * x * x
    dec_fit = dec[0] + dec[1] * b + dec[2] * c
    rows, excluded_rows = [], []
    for i, r in enumerate(table.itertuples(index=False)):
        for kind, meas, fit, out in (("prefill", y[i], pre_fit[i], excluded[i]), ("decode", s[i], dec_fit[i], False)):
            row = [kind, int(r.prompt_size), int(r.batch_size), int(r.token_size), _sig(meas), _sig(fit),
                   _sig((fit - meas) / meas, 4)]
            (excluded_rows if out else rows).append(row)
    rel = {k: np.array([abs(r[6]) for r in rows if r[0] == k]) for k in ("prefill", "decode")}
    first = table.iloc[0]
    return {
        "model": str(first["model"]), "gpu": str(first["gpu"]), "tp": int(first["tp"]), "file": str(first["file"]),
        "units": "ms; token_time per decode step" if first["model"] in _MS_PER_STEP_MODELS
        else "s; token_time = whole decode of token_size tokens",
        "prefill": pre, "decode": dec, "decode_batch_max": int(b.max()),
        "fit_error": {f"{k}_{stat}": _sig(float(fn(v)), 4) for k, v in rel.items()
                      for stat, fn in (("median_abs_rel", np.median), ("max_abs_rel", np.max))},
        "rows_columns": ["kind", "prompt_size", "batch_size", "token_size", "measured_s", "fitted_s", "rel_err"],
        "rows": rows,
        "excluded_reason": reason if excluded_rows else "",
        "excluded_rows": excluded_rows,
    }


def fit_latency_tables(paths) -> dict:
    """Refit every (model, gpu, tp) table found in the given CSVs; returns the coefficients document."""
    frames = [read_perf_table(p) for p in paths]
    tables = []
    for frame in frames:
        for _, table in frame.groupby(["model", "gpu", "tp"], sort=True):
            tables.append(fit_table(table.reset_index(drop=True)))
    return {
        "source": "github.com/shashwatj07/SageServe commit 0b95ca2d615b46fc1cf9e7d7d9783c0dcb3fac17, data/ "
                  "(perf_model_4_models.csv, Llama-3.1-8B-tp-{2,4}.csv, Llama-3.2-3B-tp-{2,4}.csv)",
        "licence": "MIT (SageServe repository); these coefficients are derived facts",
        "regenerate": "REPRO_DATA_MIRROR=../shared/data python -m repro.tools.derive",
        "fit_form": {
            "prefill_s": "p0 + p1*tokens + p2*tokens**2, tokens = prompt_size*batch_size",
            "decode_step_s": "d0 + d1*batch + d2*context, context = batch*(prompt_size + (decode_steps-1)/2); "
                             "the engine evaluates d1*min(batch, decode_batch_max) (cap beyond the profiled batches)",
            "method": "robust least squares (scipy least_squares, soft-L1 loss, scale 0.1) on relative error with "
                      "every coefficient >= 0, one fit per (model, gpu, tp), on the median of the repeats of each "
                      "configuration",
        },
        "reading": "Reading of the tables " + __doc__.split("Reading of the tables")[1].strip(),
        "kv_capacity": {"formula": "(tp * gpu_memory_bytes - weight_bytes) / (2 * layers * hidden * 2)",
                        "architecture": ARCHITECTURE, "alias": ARCHITECTURE_ALIAS, "gpu_memory_bytes": GPU_MEMORY_BYTES,
                        "source": "brief 01 §2 (SageServe code: weight bytes, layers, hidden)"},
        "tables": tables,
    }


def latency_paths() -> list[Path]:
    """The sageserve-perf CSVs through the data registry (mirror or fetched)."""
    return [data.path("sageserve-perf", f.name) for f in data.dataset("sageserve-perf").files]


def write_latency_coefficients(out: str | Path = COEFFICIENTS_PATH, paths=None) -> Path:
    """Refit from the data and write the JSON atomically."""
    doc = fit_latency_tables(paths if paths is not None else latency_paths())
    out = Path(out)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out)
    return out
