"""Spot capacity of each region (brief 01 §2 "Short-term arbiters" Reactive rule and "Overheads" [code]).

A region owns a fixed fleet of instances (our reading of the released simulator: every scale-up takes a machine
from the region's spot capacity). An endpoint that scales down donates the instance to spot, where it keeps the
model's weights; scaling up takes a spot instance of the same model (reclaim, 65 s) or, failing that, kills spot
capacity holding another model and spins the model up on it (155 s). With no spot capacity left in the region a
scale-up fails. Spot instances serve other (opportunistic) work and are not LLM-serving GPU-hours.
"""
from __future__ import annotations

import numpy as np

SPIN_UP_S = 155.0     #: [code] start an instance from scratch
RECLAIM_S = 65.0      #: [code] reclaim a spot instance that still holds the model
SPIN_DOWN_S = 0.0     #: [code]


class SpotPool:
    """Spot instances per (region, model): ``count[j, m]``.

    reclaim_s / spin_up_s: scale-up delays. :meth:`take` returns the delay of one scale-up of model m in region j
    or None when the region has no spot capacity; :meth:`give` returns an instance to spot.
    """

    def __init__(self, n_regions: int, n_models: int, initial=0, reclaim_s: float = RECLAIM_S,
                 spin_up_s: float = SPIN_UP_S):
        self.count = np.zeros((n_regions, n_models), np.int64) + np.asarray(initial, np.int64)
        if np.any(self.count < 0):
            raise ValueError("initial: spot counts must be >= 0")
        self.reclaim_s = float(reclaim_s)
        self.spin_up_s = float(spin_up_s)
        self.n_reclaims = 0
        self.n_spin_ups = 0
        self.n_failed = 0

    def take(self, region: int, model: int) -> float | None:
        """One spot instance of ``region`` for ``model``: same model first (reclaim), else the other model with
        the most spot instances (ties: lowest index; the released code picks at random) is killed and ``model``
        spins up on its machine. None if the region has no spot capacity."""
        row = self.count[region]
        if row[model] > 0:
            row[model] -= 1
            self.n_reclaims += 1
            return self.reclaim_s
        if row.sum() == 0:
            self.n_failed += 1
            return None
        row[int(np.argmax(row))] -= 1
        self.n_spin_ups += 1
        return self.spin_up_s

    def give(self, region: int, model: int, k: int = 1) -> None:
        self.count[region, model] += int(k)

    @property
    def total(self) -> int:
        return int(self.count.sum())
