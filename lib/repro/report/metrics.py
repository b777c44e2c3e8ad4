"""The metrics.json contract of DESIGN.md: validation and the atomic writer.

Every notebook ends with :func:`write_metrics`; the report builder and the tests read the file
back through :func:`read_metrics`, so a malformed file is caught where it is made.
"""
from __future__ import annotations

import json
import operator
from pathlib import Path

from repro._io import atomic_write_text
from repro.report.claims import CLAIM_KEYS, STATUSES, TARGETS, rounded

SCALES = ("smoke", "full")
TOP_KEYS = ("paper", "slug", "scale", "seed", "claims", "figures", "limitations")


class MetricsError(ValueError):
    """metrics.json does not follow the contract; the message names the file and the field."""


def validate_metrics(metrics: dict, source: str = "metrics.json") -> None:
    """Raise :class:`MetricsError` naming ``source`` and the first field that breaks the contract."""
    def fail(field, expected):
        raise MetricsError(f"{source}: field {field!r}: expected {expected}")

    missing = [k for k in TOP_KEYS if k not in metrics]
    if missing:
        fail(missing[0], "to be present")
    unknown = sorted(set(metrics) - set(TOP_KEYS) - {"extra"})
    if unknown:
        fail(unknown[0], f"one of {TOP_KEYS + ('extra',)} (unknown field)")
    for key in ("paper", "slug"):
        if not isinstance(metrics[key], str) or not metrics[key]:
            fail(key, "a non-empty string")
    if metrics["scale"] not in SCALES:
        fail("scale", f"one of {SCALES}, got {metrics['scale']!r}")
    if not isinstance(metrics["seed"], int) or isinstance(metrics["seed"], bool):
        fail("seed", f"an integer, got {metrics['seed']!r}")
    for key in ("figures", "limitations"):
        if not isinstance(metrics[key], list) or not all(isinstance(x, str) for x in metrics[key]):
            fail(key, "a list of strings")
    if not isinstance(metrics.get("extra", {}), dict):
        fail("extra", "an object")
    if not isinstance(metrics["claims"], list) or not metrics["claims"]:
        fail("claims", "a non-empty list")
    seen = set()
    for i, claim in enumerate(metrics["claims"]):
        where = f"claims[{i}]"
        if not isinstance(claim, dict) or set(claim) != set(CLAIM_KEYS):
            fail(where, f"an object with exactly the keys {CLAIM_KEYS}")
        if claim["id"] in seen:
            fail(f"{where}.id", f"a unique id, {claim['id']!r} appears twice")
        seen.add(claim["id"])
        if claim["target"] not in TARGETS:
            fail(f"{where}.target", f"one of {TARGETS}, got {claim['target']!r}")
        if claim["status"] not in STATUSES:
            fail(f"{where}.status", f"one of {STATUSES}, got {claim['status']!r}")
        if (claim["target"] == "cannot") != (claim["status"] == "cannot"):
            fail(f"{where}.status", "'cannot' exactly when the target is 'cannot'")
        if claim["target"] == "reproduce" and claim["status"] == "direction-holds":
            fail(f"{where}.status", "'reproduced' or 'failed' for a 'reproduce' target")
        if claim["target"] == "direction" and claim["status"] == "reproduced":
            fail(f"{where}.status", "'direction-holds' or 'failed' for a 'direction' target")


def metrics_json(metrics: dict) -> str:
    """The canonical text of metrics.json: sorted-free, fixed indentation, UTF-8, trailing newline."""
    return json.dumps(metrics, indent=2, ensure_ascii=False) + "\n"


def _as_int(value):
    """numpy integers become ints; anything else is left for validation to reject."""
    try:
        return operator.index(value)
    except TypeError:
        return value


def write_metrics(out_dir, *, paper, slug, scale, seed, claims, figures, limitations, extra=None) -> Path:
    """Validate and atomically write ``out_dir/metrics.json``; every listed figure must exist."""
    out_dir = Path(out_dir)
    metrics = {"paper": paper, "slug": slug, "scale": scale, "seed": _as_int(seed),
               "claims": list(claims), "figures": list(figures),
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
