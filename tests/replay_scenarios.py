"""Small replay scenarios for the tests of :mod:`repro.replay` (brief 01 §2 cluster shape,
scaled down): a toy latency model, random traces with every Trace field exercised, a scripted scaling
controller, and an exact comparison of two replay results.
"""
from __future__ import annotations

import numpy as np

from repro.latency import LatencyModel
from repro.replay.simulation import Add, Remove, ReplayResult
from repro.traces import Trace

RESULT_FIELDS = ("arrival", "admit", "first_token", "finish", "instance", "region", "flags", "n_preemptions")


def toy_latency(n_models: int = 2, kv_capacity=4000, prefill=(0.01, 1e-4, 1e-8),
                decode=(0.02, 1e-4, 1e-6), batch_max=None) -> LatencyModel:
    """Identical coefficients for every model; ``kv_capacity`` a number or one per model; ``batch_max`` the
    decode batch cap (None: none)."""
    kv = np.broadcast_to(np.asarray(kv_capacity, np.int64), (n_models,)).copy()
    cap = None if batch_max is None else np.full(n_models, batch_max, np.int64)
    return LatencyModel(tuple(f"M{m}" for m in range(n_models)), np.tile(np.asarray(prefill, float), (n_models, 1)),
                        np.tile(np.asarray(decode, float), (n_models, 1)), kv, decode_batch_max=cap)


def random_trace(seed: int, n: int, *, n_models: int = 2, n_regions: int = 2, duration: float = 30.0,
                 prompt=(1, 500), output=(1, 300), n_tenants: int = 4, interactions: bool = False,
                 grid: float | None = None) -> Trace:
    """A random trace. ``interactions``: requests grouped into interactions of 1-3 calls (closed loop);
    ``grid``: arrival times rounded to a grid (creates exact ties)."""
    rng = np.random.default_rng(seed)
    arrival = np.sort(rng.uniform(0.0, duration, n))
    if grid:
        arrival = np.round(arrival / grid) * grid
    priority = np.array([rng.permutation(n_regions) for _ in range(n)], np.int8).reshape(n, n_regions)
    cols = dict(model=rng.integers(0, n_models, n), workload=rng.integers(0, 2, n),
                tenant=rng.integers(0, n_tenants, n), app=rng.integers(0, 3, n), region_priority=priority)
    if interactions:
        inter = np.zeros(n, np.int64)
        step = np.zeros(n, np.int64)
        k = 0
        x = 0
        while x < n:
            m = int(rng.integers(1, 4))
            inter[x:x + m] = k
            step[x:x + m] = np.arange(min(m, n - x))
            x += m
            k += 1
        cols.update(interaction=inter, step=step)
    return Trace.from_columns(arrival, rng.integers(prompt[0], prompt[1] + 1, n),
                              rng.integers(output[0], output[1] + 1, n), n_regions=n_regions, **cols)


def scripted_controller(actions: dict):
    """A controller applying ``actions[t]`` (a list of Add/Remove) at the chunk ending at time t."""
    def controller(sim, snap):
        return actions.get(round(snap.t, 9), [])
    return controller


def random_actions(seed: int, times, n_models: int, n_regions: int, n_pools: int = 1) -> dict:
    """Random add/remove actions at the given chunk times (delays 0-5 s)."""
    rng = np.random.default_rng(seed)
    out = {}
    for t in times:
        acts = []
        for _ in range(int(rng.integers(0, 3))):
            m, j, p = int(rng.integers(n_models)), int(rng.integers(n_regions)), int(rng.integers(n_pools))
            if rng.random() < 0.5:
                acts.append(Add(m, j, int(rng.integers(1, 3)), float(rng.choice([0.0, 1.5, 5.0])), p))
            else:
                acts.append(Remove(m, j, 1, p))
        out[round(float(t), 9)] = acts
    return out


def compare_results(a: ReplayResult, b: ReplayResult) -> list[str]:
    """Names of the fields where two results differ (exactly; NaN equals NaN)."""
    diff = [f for f in RESULT_FIELDS if not np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)]
    diff += [f"instances.{k}" for k in a.instances
             if not np.array_equal(a.instances[k], b.instances[k], equal_nan=True)]
    diff += [f"ts.{k}" for k in a.ts if k not in b.ts or not np.array_equal(a.ts[k], b.ts[k], equal_nan=True)]
    if a.t_end != b.t_end or not np.array_equal(a.ts_times, b.ts_times):
        diff.append("times")
    return diff


__all__ = ["Add", "Remove", "compare_results", "random_actions", "random_trace", "scripted_controller", "toy_latency"]
