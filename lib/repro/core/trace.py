"""The request-trace layout shared by every LLM-serving paper (briefs 01 SageServe §2 "Request fields",
02 FairServe §2 "State", 03 Router §5 "Workload").

A :class:`Trace` is a struct of arrays with one row per request, sorted by arrival time. Dtypes are
compact (about 40 bytes per request with three regions) so that ten million requests fit in memory
together with the generators' temporaries.

It lives in :mod:`repro.core` because both the loaders of public traces (:mod:`repro.data`) and the
synthetic generators (:mod:`repro.traces`, which re-exports it) produce it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

WORKLOAD_INTERACTIVE = 0
WORKLOAD_NONINTERACTIVE = 1

#: field name -> (dtype, default fill value) for the one-dimensional columns.
_COLUMNS: dict[str, tuple[np.dtype, object]] = {
    "arrival": (np.dtype(np.float64), None),
    "prompt_tokens": (np.dtype(np.int32), None),
    "output_tokens": (np.dtype(np.int32), None),
    "model": (np.dtype(np.int16), 0),
    "tenant": (np.dtype(np.int32), 0),
    "app": (np.dtype(np.int32), 0),
    "interaction": (np.dtype(np.int64), -1),
    "step": (np.dtype(np.int16), 0),
    "workload": (np.dtype(np.int8), WORKLOAD_INTERACTIVE),
    "sla": (np.dtype(np.float32), np.inf),
}
_REGION_DTYPE = np.dtype(np.int8)


@dataclass(frozen=True)
class Trace:
    """One row per request, sorted by arrival.

    arrival: float64 (n,) seconds since trace start, non-decreasing.
    prompt_tokens, output_tokens: int32 (n,) >= 1.
    model: int16 (n,) model index 0..n_models-1 (index into LatencyModel.names).
    tenant: int32 (n,) tenant / user id, 0 when unknown.
    app: int32 (n,) application id, 0 when unknown.
    interaction: int64 (n,) interaction id, -1 when the request is standalone.
    step: int16 (n,) 0-based step of the request within its interaction.
    workload: int8 (n,) WORKLOAD_INTERACTIVE (0) or WORKLOAD_NONINTERACTIVE (1).
    sla: float32 (n,) seconds, np.inf when none.
    region_priority: int8 (n, n_regions); row i lists region indices in request i's preference order.
    """

    arrival: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    model: np.ndarray
    tenant: np.ndarray
    app: np.ndarray
    interaction: np.ndarray
    step: np.ndarray
    workload: np.ndarray
    sla: np.ndarray
    region_priority: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival.shape[0])

    @property
    def n_regions(self) -> int:
        return int(self.region_priority.shape[1])

    @property
    def n_models(self) -> int:
        return int(self.model.max()) + 1 if len(self) else 0

    def validate(self) -> None:
        """Check dtypes, shapes and invariants; raise ValueError naming the first offending field."""
        n = len(self)
        for name, (dtype, _) in _COLUMNS.items():
            col = getattr(self, name)
            if not isinstance(col, np.ndarray):
                raise ValueError(f"Trace.{name}: expected a numpy array, got {type(col).__name__}")
            if col.dtype != dtype:
                raise ValueError(f"Trace.{name}: expected dtype {dtype}, got {col.dtype}")
            if col.shape != (n,):
                raise ValueError(f"Trace.{name}: expected shape ({n},), got {col.shape}")
        rp = self.region_priority
        if not isinstance(rp, np.ndarray) or rp.dtype != _REGION_DTYPE:
            raise ValueError(f"Trace.region_priority: expected an int8 array, got {getattr(rp, 'dtype', type(rp))}")
        if rp.ndim != 2 or rp.shape[0] != n or rp.shape[1] < 1:
            raise ValueError(f"Trace.region_priority: expected shape ({n}, n_regions>=1), got {rp.shape}")
        if n == 0:
            return
        _check(np.all(np.isfinite(self.arrival)), "arrival", "finite values")
        _check(self.arrival[0] >= 0, "arrival", "values >= 0")
        _check(np.all(np.diff(self.arrival) >= 0), "arrival", "non-decreasing values")
        _check(self.prompt_tokens.min() >= 1, "prompt_tokens", "values >= 1")
        _check(self.output_tokens.min() >= 1, "output_tokens", "values >= 1")
        _check(self.model.min() >= 0, "model", "values >= 0")
        _check(self.step.min() >= 0, "step", "values >= 0")
        _check(self.interaction.min() >= -1, "interaction", "values >= -1")
        _check(np.isin(self.workload, (WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE)).all(), "workload",
               "values WORKLOAD_INTERACTIVE (0) or WORKLOAD_NONINTERACTIVE (1)")
        _check(not np.isnan(self.sla).any() and self.sla.min() > 0, "sla", "positive seconds or inf")
        n_regions = rp.shape[1]
        _check(rp.min() >= 0 and rp.max() < n_regions, "region_priority", f"region indices in 0..{n_regions - 1}")
        if n_regions > 1:
            _check(np.all(np.sort(rp, axis=1) == np.arange(n_regions, dtype=_REGION_DTYPE)), "region_priority",
                   "each row a permutation of the region indices")

    @classmethod
    def from_columns(cls, arrival, prompt_tokens, output_tokens, *, n_regions: int | None = None,
                     validate: bool = True, **optional) -> "Trace":
        """Build a Trace from the three required columns plus any optional ones, casting to the layout's
        dtypes and filling absent columns with their defaults (model 0, tenant 0, app 0, interaction -1,
        step 0, interactive, no SLA, region_priority = identity order over n_regions (default 1))."""
        unknown = set(optional) - set(_COLUMNS) - {"region_priority"}
        if unknown:
            raise ValueError(f"Trace.from_columns: unknown column(s) {sorted(unknown)}; "
                             f"expected some of {sorted(set(_COLUMNS) | {'region_priority'})}")
        arrival = np.asarray(arrival, dtype=np.float64)
        n = arrival.shape[0]
        given = {"arrival": arrival, "prompt_tokens": prompt_tokens, "output_tokens": output_tokens, **optional}
        cols = {}
        for name, (dtype, default) in _COLUMNS.items():
            value = given.get(name)
            if value is None:
                cols[name] = np.full(n, default, dtype=dtype)
            else:
                cols[name] = _cast(name, value, dtype)
        rp = optional.get("region_priority")
        if rp is None:
            k = 1 if n_regions is None else int(n_regions)
            rp = np.broadcast_to(np.arange(k, dtype=_REGION_DTYPE), (n, k)).copy()
        else:
            rp = _cast("region_priority", rp, _REGION_DTYPE)
            if rp.ndim == 1:
                rp = rp.reshape(n, 1)
        trace = cls(region_priority=rp, **cols)
        if validate:
            trace.validate()
        return trace

    def slice(self, start: int, stop: int) -> "Trace":
        """Rows start..stop-1 (views, no copy)."""
        return Trace(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    def take(self, index: np.ndarray) -> "Trace":
        """Rows selected by an integer index or boolean mask (copies); the caller keeps arrival order."""
        return Trace(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def concatenate(traces: list[Trace]) -> Trace:
    """Concatenate traces (same n_regions) and stable-sort the result by arrival."""
    if not traces:
        raise ValueError("concatenate: expected at least one trace")
    cols = {f.name: np.concatenate([getattr(t, f.name) for t in traces]) for f in fields(Trace)}
    order = np.argsort(cols["arrival"], kind="stable")
    if np.any(np.diff(order) != 1):
        cols = {k: v[order] for k, v in cols.items()}
    return Trace(**cols)


def _cast(name: str, value, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == dtype:
        return arr
    if np.issubdtype(dtype, np.integer):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
                raise ValueError(f"Trace.{name}: expected integer values, got non-integral numbers")
        info = np.iinfo(dtype)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise ValueError(f"Trace.{name}: values outside the range of {dtype} [{info.min}, {info.max}]")
    return arr.astype(dtype)


def _check(ok, name: str, expected: str) -> None:
    if not ok:
        raise ValueError(f"Trace.{name}: expected {expected}")
