"""Benchmark of the fairness queue policies in the replay engine (brief 02 §2; repro.fairness).

Rates are trace requests replayed per second (simulation set-up included, workload generation not), best of
``repeats`` timed runs after a warm-up, measured in the same run on the same input:

* ``scale``: brief 02's workload (2,000 users, 34 apps, one simulated day at 1.2x capacity at peak; quick: 100
  users, 10 apps, 20 minutes) replayed with the engine's plain FCFS policy (``repro.replay.policies.fcfs``) and
  with the ``repro.fairness`` schedulers FCFS (its FIFO mode), VTC and FairServe; ``counter_cost_*`` = plain FCFS
  rate / scheduler rate (target: at most 2);
* ``reference``: a smaller workload (200 users, 10 apps, 10 minutes; quick: 30 users, 3 apps, 1 minute) replayed by
  the numba engine with the numba policy and by the pure-Python engine with the pure-Python policy
  (``replay(..., reference=True)``); ``speedup_*`` = numba rate / Python rate (target: at least 30).
"""
from __future__ import annotations

import time

import numpy as np

from repro.bench import best_seconds
from repro.fairness import make_workload, replay, server
from repro.replay import Simulation
from repro.replay.policies import fcfs

SCHEDULERS = ("fcfs", "vtc", "fairserve")


def _plain_fcfs(w, latency):
    return Simulation(w.trace, latency, np.ones((1, 1), np.int64), max_batch=256, queue_policy=fcfs(),
                      think_time=w.think_time_s).run(interval=1e12)


def run(quick: bool = False) -> dict:
    latency = server(100_000)
    big = make_workload(*((100, 10, 1200.0) if quick else (2000, 34, 86400.0)), load_peak=1.2, trough_ratio=0.5,
                        latency=latency, calibration_requests=2000 if quick else 20000, seed=0)
    repeats = 1 if quick else 3
    n = len(big.trace)
    rates = {"fcfs_plain": n / best_seconds(lambda: _plain_fcfs(big, latency), repeats)}
    for name in SCHEDULERS:
        rates[name] = n / best_seconds(lambda: replay(big, name, latency=latency), repeats)
    small = make_workload(*((30, 3, 60.0) if quick else (200, 10, 600.0)), load_peak=1.2, latency=latency,
                          calibration_requests=500 if quick else 3000, seed=1)
    m = len(small.trace)
    reference = {"requests": m}
    for name in ("vtc", "fairserve"):
        fast = m / best_seconds(lambda: replay(small, name, latency=latency), repeats)
        start = time.perf_counter()
        replay(small, name, latency=latency, reference=True)
        slow = m / (time.perf_counter() - start)
        reference.update({f"rate_numba_{name}": fast, f"rate_python_{name}": slow, f"speedup_{name}": fast / slow})
    return {
        "unit": "trace requests replayed per second",
        "scale": {"requests": n, "users": int(big.users.home_app.size), "apps": int(big.apps.calls_per_interaction.size),
                  **{f"rate_{k}": v for k, v in rates.items()},
                  "counter_cost_vtc": rates["fcfs_plain"] / rates["vtc"],
                  "counter_cost_fairserve": rates["fcfs_plain"] / rates["fairserve"],
                  "targets": "counter_cost <= 2"},
        "reference": {**reference, "targets": "speedup >= 30"},
    }
