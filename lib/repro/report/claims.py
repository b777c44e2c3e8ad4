"""Claim records and their statuses, computed from numbers (DESIGN.md, "metrics.json").

A claim is a dict with the keys of :data:`CLAIM_KEYS`. Its ``status`` is always derived here from
the measured value, never typed in by a notebook:

- ``reproduce``: the paper gives a number; status "reproduced" when |ours - target| <= tol.
- ``direction``: the paper gives a qualitative effect; status "direction-holds" when the boolean
  that the notebook computed from its numbers is true.
- ``cannot``: the claim is not measurable here; the reason goes into ``our_value``.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

CLAIM_KEYS = ("id", "claim", "paper_value", "our_value", "target", "status", "evidence")
TARGETS = ("reproduce", "direction", "cannot")
STATUSES = ("reproduced", "direction-holds", "failed", "cannot")


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


def _claim(id, claim, paper_value, our_value, target, status, evidence):
    return {"id": str(id), "claim": str(claim), "paper_value": str(paper_value),
            "our_value": rounded(our_value), "target": target, "status": status,
            "evidence": str(evidence)}


def reproduce(id, claim, paper_value, our_value, target, tol, evidence=""):
    """A numeric claim: "reproduced" when ``|our_value - target| <= tol``, else "failed".

    ``target`` is the paper's number as a float, ``tol`` the tolerance the brief sets, and
    ``paper_value`` the paper's number as the paper states it (e.g. "≈0.2").
    A non-finite ``our_value`` fails.
    """
    if tol < 0:
        raise ValueError(f"claim {id}: tol must be >= 0, got {tol}")
    ours = float(our_value)
    ok = math.isfinite(ours) and abs(ours - float(target)) <= tol
    text = f"{claim} (target {target} ± {tol})"
    return _claim(id, text, paper_value, ours, "reproduce", "reproduced" if ok else "failed", evidence)


def direction(id, claim, paper_value, our_value, holds, evidence=""):
    """A qualitative claim: "direction-holds" when ``holds`` (computed from the numbers) is true."""
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"claim {id}: holds must be a bool computed from the numbers, got {holds!r}")
    return _claim(id, claim, paper_value, our_value, "direction",
                  "direction-holds" if bool(holds) else "failed", evidence)


def cannot(id, claim, paper_value, why, evidence=""):
    """A claim this project cannot measure; ``why`` says what is missing."""
    return _claim(id, claim, paper_value, str(why), "cannot", "cannot", evidence)
