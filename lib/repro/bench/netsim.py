"""Benchmark of the Streetwise link kernel (brief 04 §5; repro.netsim): call-steps per second.

``step_calls`` steps 4,096 independent calls (one 60 ms step of one call = one call-step) of in-distribution
traces at a fixed send rate per call, best of 3 timed passes over 200 steps after a warm-up; the plain-Python twin
``link_step_reference`` runs the same inputs call by call (fewer steps, it is slow). Target [our choice]: at least 100
times the twin's rate. The whole vector environment (``VectorLink.step``: the kernel plus observation and history
bookkeeping in NumPy) is timed on the same workload for reference.
"""
from __future__ import annotations


import numpy as np

from repro.bench import best_rate
from repro.core.seeds import rng
from repro.netsim import VectorLink, link_step_reference, make_traces, step_calls
from repro.netsim.link import BASE_RTT, DT

TARGET_SPEEDUP = 100.0


def _kernel_pass(traces, rates, steps: int) -> int:
    n = rates.size
    queue = np.zeros(n)
    delivered, lost, delay, reward = (np.empty(n) for _ in range(4))
    capacity, loss_rate, jitter = (np.ascontiguousarray(a.T)
                                   for a in (traces.capacity, traces.loss_rate, traces.jitter))
    for t in range(steps):
        step_calls(queue, rates, capacity[t], traces.buffer, loss_rate[t], jitter[t], BASE_RTT, DT, delivered, lost,
                   delay, reward)
    return n * steps


def _reference_pass(traces, rates, steps: int) -> int:
    n = rates.size
    for i in range(n):
        queue = 0.0
        for t in range(steps):
            queue = link_step_reference(queue, rates[i], traces.capacity[i, t], traces.buffer[i],
                                        traces.loss_rate[i, t], traces.jitter[i, t])[0]
    return n * steps


def run(quick: bool = False) -> dict:
    n, steps, ref_steps = (256, 20, 20) if quick else (4096, 200, 50)
    traces = make_traces("in-distribution", n, steps, rng(0, "bench-netsim"))
    rates = rng(0, "bench-netsim-rates").uniform(1e5, 8e6, n)
    _kernel_pass(traces, rates, 2)                                      # compile or load from the cache
    kernel_rate = best_rate(lambda: _kernel_pass(traces, rates, steps), 3)
    reference_rate = best_rate(lambda: _reference_pass(traces, rates, ref_steps), 1)

    def env_pass():
        link = VectorLink(traces)
        for _ in range(steps):
            link.step_rates(rates)
        return n * steps

    env_rate = best_rate(env_pass, 2)
    return {"workload": f"{n} in-distribution calls x {steps} steps of 60 ms, fixed send rate per call",
            "unit": "call-steps/s", "kernel_rate": round(kernel_rate), "vector_env_rate": round(env_rate),
            "reference_rate": round(reference_rate), "speedup_vs_reference": round(kernel_rate / reference_rate, 1),
            "vector_env_speedup_vs_reference": round(env_rate / reference_rate, 1),
            "target": f"speedup_vs_reference >= {TARGET_SPEEDUP:g}",
            "meets_target": bool(kernel_rate / reference_rate >= TARGET_SPEEDUP)}
