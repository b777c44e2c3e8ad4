"""Benchmark of the fleet telemetry reduction (brief 07 §2; repro.fleet.stats).

Rates are CPU samples reduced per second (mean, P95, diurnal strength), best of ``repeats`` after a warm-up, on
(rows, 2016) float32 chunks with random observed lengths: ``rate_numba`` for :func:`repro.fleet.vm_cpu_stats`,
``rate_reference`` for its NumPy twin on a quarter of the rows, ``speedup`` their ratio; ``fleet_vms_per_s``: VMs
generated and reduced per second by :func:`repro.fleet.reduce_fleet` (serial, 7 days; quick: 1 day).
"""
from __future__ import annotations

import time

import numpy as np

from repro import fleet
from repro.bench import best_seconds


def run(quick: bool = False) -> dict:
    rows, repeats = (200, 1) if quick else (4000, 3)
    rng = np.random.default_rng(0)
    cpu = rng.random((rows, 2016)).astype(np.float32)
    lengths = rng.integers(1, 2017, rows)
    n = int(lengths.sum())
    fast = n / best_seconds(lambda: fleet.vm_cpu_stats(cpu, lengths, fleet.SAMPLES_PER_DAY), repeats)
    quarter = rows // 4
    start = time.perf_counter()
    fleet.vm_cpu_stats_reference(cpu[:quarter], lengths[:quarter], fleet.SAMPLES_PER_DAY)
    slow = int(lengths[:quarter].sum()) / (time.perf_counter() - start)
    spec = fleet.FleetSpec(188, 1000 if quick else 10000, 49, 1 if quick else 7, 0.8, 0.3, 0)
    seconds = best_seconds(lambda: fleet.reduce_fleet(spec, 2500), 1)
    return {"samples": n, "rate_numba": fast, "rate_reference": slow, "speedup": fast / slow,
            "fleet_vms_per_s": spec.n_vms / seconds}
