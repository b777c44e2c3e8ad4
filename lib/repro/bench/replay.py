"""Benchmark of the LLM cluster replay (repro.replay; brief 01 §2 and §5 "Full": 8M requests, 4 models,
3 regions, 20 instances per model and region at start).

Three entries:
- ``rate``: requests per second of the numba engine on a SageServe-shaped trace (the weekly generator's
  request mix at the week's mean rate) and of the pure-Python reference on a prefix of the same trace
  (the reference walks every iteration of every instance, so it runs on the first ``reference_requests``
  requests only; rates are compared per request), and their ratio.
- ``week``: wall time and peak memory (ru_maxrss) of replaying a full synthetic week (repro.traces.weekly,
  8M requests) with an hourly controller that adds instances where memory utilisation > 0.5 (155 s spin-up)
  and removes one where it is < 0.25 (the rule of :class:`repro.autoscale.Reactive`, brief 01 §2 "Reactive"),
  time series every 5 minutes.
- ``week_sageserve``: the same in the SageServe notebook's full-scale regime (issue 12: 10M requests, prompts x 5
  from ``papers.sageserve`` in params.yaml); its peak memory is the process's peak so far.
"""
from __future__ import annotations

import resource
import time

import numpy as np

from repro.autoscale import SPIN_UP_S, Reactive, endpoint_view
from repro.latency import load_latency_model
from repro.replay import Add, Remove, Simulation, make_router
from repro.replay.reference import ReferenceSimulation
from repro.traces.weekly import WEEK_S, generate_weekly_trace

WEEK_REQUESTS = 8_000_000


def _cluster_options():
    return dict(max_batch=512, reserve="full", router=make_router("shortest_queue", "sageserve"))


def _timed_run(cls, trace, latency, instances, **kw):
    sim = cls(trace, latency, instances, **_cluster_options(), **kw)
    wall, cpu = time.perf_counter(), time.process_time()
    res = sim.run(interval=3600.0)
    return res, time.perf_counter() - wall, time.process_time() - cpu


def reactive_controller(step: int = 2, arbiter: Reactive = Reactive()):
    """Hourly scaling per (model, region) of a unified-pool cluster by ``arbiter``'s rule (brief 01's Reactive:
    up where memory utilisation > 0.5, down where < 0.25), without SageServe's executor (no cool-downs, no spot
    pool): +``step`` instances (SPIN_UP_S spin-up) where it says up, -1 where it says down and more than one
    instance is active, +1 where none is active."""
    def controller(sim, snap):
        n_models, n_regions = snap.arrivals.shape[:2]
        view = endpoint_view(snap, (n_models, n_regions, 1), np.ones((n_models, n_regions, 1), bool))
        steps, n_active = arbiter.act(view)[:, :, 0], view.n_active[:, :, 0]
        actions = []
        for m in range(n_models):
            for j in range(n_regions):
                if n_active[m, j] == 0:
                    actions.append(Add(m, j, 1, SPIN_UP_S))
                elif steps[m, j] > 0:
                    actions.append(Add(m, j, step, SPIN_UP_S))
                elif steps[m, j] < 0 and n_active[m, j] > 1:
                    actions.append(Remove(m, j, 1))
        return actions
    return controller


def bench_rate(n_requests: int, reference_requests: int, seed: int = 0) -> dict:
    latency = load_latency_model()
    duration = int(round(n_requests / WEEK_REQUESTS * WEEK_S))
    trace = generate_weekly_trace(n_requests, duration, start=10 * 3600.0, seed=seed)
    instances = np.full((4, 3), 20)
    _timed_run(Simulation, trace.slice(0, 100), latency, instances)   # compile or load the engine first
    res, wall, cpu = _timed_run(Simulation, trace, latency, instances)
    prefix = trace.slice(0, reference_requests)
    ref, ref_wall, ref_cpu = _timed_run(ReferenceSimulation, prefix, latency, instances)
    eng_prefix, _, _ = _timed_run(Simulation, prefix, latency, instances)
    same = all(np.array_equal(getattr(ref, f), getattr(eng_prefix, f), equal_nan=True)
               for f in ("admit", "first_token", "finish", "instance"))
    return {
        "trace": f"repro.traces.weekly, {n_requests} requests over {duration} s from Monday 10:00 (the week's mean "
                 f"rate), 4 models x 3 regions x 20 instances, max batch 512, full KV reservation, JSQ + SageServe "
                 f"region router",
        "engine_requests": n_requests, "engine_wall_s": round(wall, 3), "engine_cpu_s": round(cpu, 3),
        "engine_requests_per_s": round(n_requests / wall), "engine_requests_per_cpu_s": round(n_requests / cpu),
        "reference_requests": reference_requests,
        "reference_note": "the pure-Python reference runs on the first reference_requests requests of the same trace",
        "reference_wall_s": round(ref_wall, 3), "reference_requests_per_s": round(reference_requests / ref_wall, 1),
        "ratio": round((n_requests / wall) / (reference_requests / ref_wall), 1),
        "ratio_cpu": round((n_requests / cpu) / (reference_requests / ref_cpu), 1),
        "target_ratio": 30, "reference_equals_engine_on_prefix": bool(same),
        "finished_share": round(float(res.finished.mean()), 6),
    }


def bench_week(n_requests: int, duration: float, instances_per_group: int, seed: int = 0, tokens=None,
               label: str = "repro.traces.weekly") -> dict:
    """A full week (``tokens``: the generator's token pools, default the 2023 quantile tables) under the hourly
    reactive controller: wall time, memory, throughput and the fleet's GPU-hours and latency."""
    latency = load_latency_model()
    t0 = time.perf_counter()
    trace = generate_weekly_trace(n_requests, duration, seed=seed, **({} if tokens is None else {"tokens": tokens}))
    t1 = time.perf_counter()
    sim = Simulation(trace, latency, np.full((4, 3), instances_per_group), resolution=300.0, **_cluster_options())
    del trace
    t2 = time.perf_counter()
    cpu = time.process_time()
    res = sim.run(reactive_controller(), interval=3600.0)
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu
    done = res.finished
    return {
        "trace": f"{label}: {n_requests} requests over {duration:.0f} s, 4 models x 3 regions, "
                 f"{instances_per_group} instances per (model, region) at start",
        "controller": "hourly reactive: +2 instances (155 s spin-up) where KV utilisation > 0.5, -1 where < 0.25",
        "generate_s": round(t1 - t0, 2), "setup_s": round(t2 - t1, 2), "replay_s": round(t3 - t2, 2),
        "replay_cpu_s": round(cpu, 2), "wall_s_setup_plus_replay": round(t3 - t1, 2), "target_wall_s": 60,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "target_peak_mb": 4096,
        "requests_per_s": round(n_requests / (t3 - t2)),
        "instances_created": sim.n_instances, "gpu_hours": round(res.gpu_hours(8), 1),
        "finished_share": round(float(done.mean()), 6),
        "p95_ttft_s": round(float(np.percentile(res.ttft[done], 95)), 4),
        "p95_e2e_s": round(float(np.percentile(res.e2e[done], 95)), 4),
    }


def sageserve_week(quick: bool) -> dict:
    """The week in SageServe's full-scale regime (params.yaml ``papers.sageserve``: requests x rate multiplier,
    prompts x prompt_scale; brief 01 §7), 20 instances per endpoint at the start as in the authors' runs."""
    from repro import papers
    from repro.papers import sageserve

    cfg = papers.load_config("sageserve", scale="full")
    n = 20_000 if quick else int(round(cfg.week_requests * cfg.rate_multiplier))
    return bench_week(n, 7200.0 if quick else float(WEEK_S), 4 if quick else 20, tokens=sageserve.workload_tokens(cfg),
                      label=f"SageServe regime (prompts x {cfg.prompt_scale:g})")


def run(quick: bool = False) -> dict:
    if quick:
        return {"rate": bench_rate(5_000, 300), "week": bench_week(20_000, 7200.0, 4),
                "week_sageserve": sageserve_week(quick)}
    return {"rate": bench_rate(100_000, 10_000), "week": bench_week(WEEK_REQUESTS, float(WEEK_S), 20),
            "week_sageserve": sageserve_week(quick)}
