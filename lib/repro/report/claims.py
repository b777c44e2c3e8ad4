"""Claim records whose status is computed from numbers (DESIGN.md, "Claims that can fail").

A claim is worth printing only if the run could have shown the opposite, so every measured claim
carries a **regime check** (the precondition under which the paper's mechanism can act, with its
number) and an **effect with a 95% interval** over independent replicates (:mod:`repro.report.intervals`).
The status follows from those numbers alone, by :func:`decide_status`:

==================  ===========================================================================
status              when
==================  ===========================================================================
not-testable        a regime check failed: the mechanism could not act, so the run says nothing
inconclusive        no finite interval, or (direction) the interval straddles 0
direction-holds     target "direction": the interval excludes 0 on the paper's side
failed              the interval excludes 0 the other way, or (reproduce) misses the paper's band
reproduced          target "reproduce": the interval overlaps the paper's number within its band
by-construction     a number our inputs fix (requests we generated): shown, never counted as held
cannot              the data or system is private; the reason says what is missing
==================  ===========================================================================

The ``reason`` printed beside a status is composed here from the same numbers, never fixed prose.
metrics.json validation calls :func:`decide_status` again, so a status typed in by hand is rejected.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from numbers import Real

import numpy as np

from repro.report.intervals import Interval

TARGETS = ("reproduce", "direction", "by-construction", "cannot")
STATUSES = ("reproduced", "direction-holds", "inconclusive", "failed", "not-testable", "by-construction", "cannot")
CLAIM_KEYS = ("id", "claim", "paper_value", "our_value", "unit", "target", "expected", "band", "effect", "ci_low",
              "ci_high", "n", "interval_method", "regime_check", "status", "reason", "evidence")
COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
EXPECTED = (">", "<")


def rounded(value, digits: int = 6):
    """Round floats (recursively in lists and dicts) to ``digits`` significant digits.

    Keeps metrics.json byte-identical across platforms whose last float bits differ, and readable.
    NaN and infinities become None (JSON has no such numbers).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return rounded(value.tolist(), digits)
    if isinstance(value, int):
        return value
    if isinstance(value, Real):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    raise TypeError(f"cannot store a value of type {type(value).__name__} in metrics.json: {value!r}")


def fmt(value, digits: int = 3) -> str:
    """A number as a reader wants it in a reason: 'undefined' when not finite; from 1,000 up to 10^12 in full
    with thousands separators (whole numbers exactly, others rounded to ``digits`` significant digits);
    otherwise ``digits`` significant digits."""
    if value is None or (isinstance(value, Real) and not math.isfinite(float(value))):
        return "undefined"
    x = float(value)
    rounded = x if x.is_integer() else float(f"{x:.{digits}g}")
    if 1e3 <= abs(rounded) < 1e12:
        return f"{rounded:,.0f}"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class Regime:
    """A regime check: ``value op threshold`` must hold for the paper's mechanism to act.

    ``name`` says what is measured (e.g. "mean instances per endpoint, models A/B, Reactive").
    A non-finite value fails the check.
    """

    name: str
    value: float
    threshold: float
    op: str = ">="

    def __post_init__(self):
        if self.op not in COMPARISONS:
            raise ValueError(f"regime check {self.name!r}: op must be one of {tuple(COMPARISONS)}, got {self.op!r}")

    @property
    def passed(self) -> bool:
        value = float(self.value)
        return math.isfinite(value) and bool(COMPARISONS[self.op](value, float(self.threshold)))

    def as_dict(self) -> dict:
        return {"name": self.name, "value": rounded(float(self.value)), "op": self.op,
                "threshold": rounded(float(self.threshold)), "passed": self.passed}

    def describe(self) -> str:
        verdict = "holds" if self.passed else "fails"
        return f"regime check {self.name} = {fmt(self.value)} (needs {self.op} {fmt(self.threshold)}) {verdict}"


def _interval_ok(low, high) -> bool:
    return low is not None and high is not None and math.isfinite(low) and math.isfinite(high)


def decide_status(target: str, *, regime_passed: bool = True, ci_low=None, ci_high=None, expected=None,
                  band=None) -> str:
    """The status a claim's numbers imply (the table in the module docstring)."""
    if target in ("cannot", "by-construction"):
        return target
    if target not in ("reproduce", "direction"):
        raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")
    if not regime_passed:
        return "not-testable"
    if not _interval_ok(ci_low, ci_high):
        return "inconclusive"
    if target == "reproduce":
        low, high = band
        return "reproduced" if ci_high >= low and ci_low <= high else "failed"
    if expected not in EXPECTED:
        raise ValueError(f"a direction claim needs expected in {EXPECTED}, got {expected!r}")
    above, below = ci_low > 0, ci_high < 0
    if not (above or below):
        return "inconclusive"
    return "direction-holds" if above == (expected == ">") else "failed"


def _reason(status: str, interval: Interval, regimes: list[Regime], unit: str, expected=None, band=None) -> str:
    failed = [r for r in regimes if not r.passed]
    if status == "not-testable":
        return "; ".join(r.describe() for r in failed) + ": the mechanism cannot act here, so the run cannot decide"
    u = f" {unit}" if unit else ""
    shown = (f"{fmt(interval.effect)}{u}, 95% CI [{fmt(interval.low)}, {fmt(interval.high)}], "
             f"n = {interval.n} ({interval.method})")
    checks = "; ".join(r.describe() for r in regimes)
    tail = f"; {checks}" if checks else ""
    if status == "inconclusive" and not interval.finite:
        return f"no interval: {shown}; fewer than 2 finite replicates{tail}"
    if band is not None:
        where = "overlaps" if status == "reproduced" else "misses"
        return f"{shown} {where} the paper's band [{fmt(band[0])}, {fmt(band[1])}]{tail}"
    side = {"direction-holds": "excludes 0 on the paper's side", "failed": "excludes 0 against the paper",
            "inconclusive": "straddles 0"}[status]
    return f"{shown} {side} (paper: effect {expected} 0){tail}"


def _record(id, claim, paper_value, our_value, unit, target, expected, band, interval, regimes, status, reason,
            evidence) -> dict:
    return {"id": str(id), "claim": str(claim), "paper_value": str(paper_value), "our_value": rounded(our_value),
            "unit": str(unit), "target": target, "expected": expected,
            "band": None if band is None else [rounded(float(band[0])), rounded(float(band[1]))],
            "effect": None if interval is None else rounded(interval.effect),
            "ci_low": None if interval is None else rounded(interval.low),
            "ci_high": None if interval is None else rounded(interval.high),
            "n": None if interval is None else int(interval.n),
            "interval_method": None if interval is None else interval.method,
            "regime_check": [r.as_dict() for r in regimes], "status": status, "reason": reason,
            "evidence": str(evidence)}


def _regimes(regime) -> list[Regime]:
    if regime is None:
        return []
    regimes = [regime] if isinstance(regime, Regime) else list(regime)
    if not all(isinstance(r, Regime) for r in regimes):
        raise TypeError("regime must be a Regime or a list of Regime records")
    return regimes


def _display(interval: Interval) -> str:
    return f"{fmt(interval.effect)} [{fmt(interval.low)}, {fmt(interval.high)}]"


def direction(id, claim, paper_value, interval: Interval, regime, *, expected: str = ">", unit: str = "",
              our_value=None, evidence: str = "") -> dict:
    """A qualitative claim decided by the sign of ``interval`` (effect > 0 or < 0 as ``expected``).

    ``regime``: one :class:`Regime` or a list; any failing check makes the claim "not-testable".
    ``our_value`` defaults to "effect [low, high]"; pass text to show more (e.g. both methods' numbers).
    """
    if not isinstance(interval, Interval):
        raise TypeError(f"claim {id}: interval must be a repro.report.Interval, got {type(interval).__name__}")
    regimes = _regimes(regime)
    passed = all(r.passed for r in regimes)
    status = decide_status("direction", regime_passed=passed, ci_low=interval.low, ci_high=interval.high,
                           expected=expected)
    reason = _reason(status, interval, regimes, unit, expected=expected)
    return _record(id, claim, paper_value, _display(interval) if our_value is None else our_value, unit,
                   "direction", expected, None, interval, regimes, status, reason, evidence)


def reproduce(id, claim, paper_value, interval: Interval, band, regime, *, unit: str = "", our_value=None,
              evidence: str = "") -> dict:
    """A numeric claim: "reproduced" when ``interval`` overlaps ``band`` = (low, high), the paper's number ± tolerance."""
    if not isinstance(interval, Interval):
        raise TypeError(f"claim {id}: interval must be a repro.report.Interval, got {type(interval).__name__}")
    low, high = (float(band[0]), float(band[1]))
    if not low <= high:
        raise ValueError(f"claim {id}: band must be (low, high) with low <= high, got {band}")
    regimes = _regimes(regime)
    passed = all(r.passed for r in regimes)
    status = decide_status("reproduce", regime_passed=passed, ci_low=interval.low, ci_high=interval.high,
                           band=(low, high))
    reason = _reason(status, interval, regimes, unit, band=(low, high))
    return _record(id, claim, paper_value, _display(interval) if our_value is None else our_value, unit,
                   "reproduce", None, (low, high), interval, regimes, status, reason, evidence)


def by_construction(id, claim, paper_value, our_value, why, *, unit: str = "", evidence: str = "") -> dict:
    """A number our inputs fix (e.g. the request count we generated): shown, never counted as reproduced."""
    return _record(id, claim, paper_value, our_value, unit, "by-construction", None, None, None, [],
                   "by-construction", str(why), evidence)


def cannot(id, claim, paper_value, why, *, evidence: str = "") -> dict:
    """A claim this project cannot measure; ``why`` says what is missing."""
    return _record(id, claim, paper_value, None, "", "cannot", None, None, None, [], "cannot", str(why), evidence)


def status_of(claim: dict) -> str:
    """Recompute a stored claim's status from its own numbers (used by metrics.json validation)."""
    return decide_status(claim["target"], regime_passed=all(r["passed"] for r in claim["regime_check"]),
                         ci_low=claim["ci_low"], ci_high=claim["ci_high"], expected=claim["expected"],
                         band=claim["band"])


def claims_frame(claims):
    """The claims as a pandas DataFrame, for display at the end of a notebook."""
    import pandas as pd

    return pd.DataFrame(claims, columns=["id", "claim", "paper_value", "our_value", "effect", "ci_low", "ci_high",
                                         "n", "status", "reason"])

