"""The metrics.json contract of DESIGN.md: a JSON Schema, the checks a schema cannot say, the atomic writer.

The schema (``metrics.schema.json`` beside this file) fixes the fields and their types. On top of it,
:func:`validate_metrics` recomputes every claim's status and every regime check's verdict from the
numbers stored with them, so a status typed in by hand, or one left stale after the numbers changed,
is rejected where the file is made. Every notebook ends with :func:`write_metrics`; the report
builder and the tests read the file back through :func:`read_metrics`.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import jsonschema

from repro.core.io import atomic_write_text
from repro.report.claims import COMPARISONS, rounded, status_of

SCHEMA_PATH = Path(__file__).with_name("metrics.schema.json")


class MetricsError(ValueError):
    """metrics.json does not follow the contract; the message names the file and the field."""


@lru_cache(maxsize=1)
def schema() -> dict:
    """The metrics.json JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _path(error: jsonschema.ValidationError) -> str:
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return parts.lstrip(".") or "(top level)"


def _check_claims(metrics: dict, fail) -> None:
    seen = set()
    for i, claim in enumerate(metrics["claims"]):
        where = f"claims[{i}] ({claim['id']})"
        if claim["id"] in seen:
            fail(f"{where}.id", f"a unique id, {claim['id']!r} appears twice")
        seen.add(claim["id"])
        for j, check in enumerate(claim["regime_check"]):
            value = check["value"]
            passed = value is not None and math.isfinite(value) and COMPARISONS[check["op"]](value, check["threshold"])
            if passed != check["passed"]:
                fail(f"{where}.regime_check[{j}].passed", f"{passed} as computed from value {value} "
                     f"{check['op']} {check['threshold']}, got {check['passed']}")
        computed = status_of(claim)
        if computed != claim["status"]:
            fail(f"{where}.status", f"{computed!r} as computed from the claim's interval and regime checks, "
                 f"got {claim['status']!r}")


def validate_metrics(metrics: dict, source: str = "metrics.json") -> None:
    """Raise :class:`MetricsError` naming ``source`` and the first field that breaks the contract."""
    def fail(field, expected):
        raise MetricsError(f"{source}: field {field!r}: expected {expected}")

    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(metrics), key=lambda e: list(e.absolute_path))
    if errors:
        fail(_path(errors[0]), errors[0].message)
    unsourced = [f for f in metrics["figures"] if f not in metrics["figure_sources"]]
    if unsourced:
        fail("figure_sources", f"a source for every figure; {unsourced[0]!r} has none")
    _check_claims(metrics, fail)


def metrics_json(metrics: dict) -> str:
    """The canonical text of metrics.json: fixed indentation, UTF-8, trailing newline."""
    return json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"


def write_metrics(out_dir, *, paper, slug, scale, seed, claims, figures, figure_sources, limitations, data=None,
                  extra=None) -> Path:
    """Validate and atomically write ``out_dir/metrics.json``; every listed figure must exist.

    ``figure_sources``: figure file -> the ``repro.papers`` function whose results it draws.
    ``data``: public dataset name -> what the run used ("used: <file> sha256 ..." or why not).
    """
    out_dir = Path(out_dir)
    metrics = {"paper": paper, "slug": slug, "scale": scale, "seed": int(seed), "data": dict(data or {}),
               "claims": list(claims), "figures": list(figures), "figure_sources": dict(figure_sources),
               "limitations": [str(x) for x in limitations]}
    if extra:
        metrics["extra"] = rounded(extra)
    path = out_dir / "metrics.json"
    validate_metrics(metrics, str(path))
    absent = [f for f in metrics["figures"] if not (out_dir / f).is_file()]
    if absent:
        raise MetricsError(f"{path}: field 'figures': {absent[0]!r} is listed but was not written to {out_dir}")
    return atomic_write_text(path, metrics_json(metrics))


def read_metrics(path) -> dict:
    """Load and validate one metrics.json."""
    path = Path(path)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise MetricsError(f"{path}: not valid JSON ({err})") from None
    validate_metrics(metrics, str(path))
    return metrics
