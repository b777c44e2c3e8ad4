"""``python -m repro.tools.warm``: compile every numba kernel once into the on-disk cache, then prune stale folders.

The Makefile runs it after installing, so the first replay, HPG run or notebook stage of a fresh checkout loads
machine code instead of compiling it (DESIGN.md, "Performance"). Each step pushes the smallest inputs through a
package's public entry points, which compiles the kernels behind them exactly as real runs do (same types, so
the same cache entries; a kernel's callees are compiled and cached with it); it prints one line per package with
the seconds it took.
Cache folders are keyed per module (:mod:`repro.core.numba_cache`); folders that no current key names and
that went unused for a day are removed last.
"""
import argparse
import sys
import time

import numpy as np

from repro import fairness, fleet, netsim, pg
from repro.autoscale.feeding import niw_feeding
from repro.core import numba_cache, seeds
from repro.latency import load_latency_model
from repro.pg import Features
from repro.pg.envs import step_batch
from repro.replay import Simulation, workload_priority
from repro.replay.routers import INSTANCE_ROUTERS, REGION_ROUTERS, make_router
from repro.traces.weekly import generate_weekly_trace


def _tiny_trace():
    """Ten minutes of a two-model, two-region synthetic week: 2,000 requests."""
    return generate_weekly_trace(2000, 600, seed=0, n_models=2, model_share=(0.5, 0.5), n_regions=2,
                                 region_share=(0.5, 0.5))


def warm_replay() -> None:
    """The replay engine with every instance router and region router on a tiny two-model trace."""
    trace = _tiny_trace()
    latency = load_latency_model(("A", "B"))
    for instance in INSTANCE_ROUTERS:
        for region in REGION_ROUTERS:
            sim = Simulation(trace, latency, np.ones((2, 2), np.int64), max_batch=16,
                             router=make_router(instance, region=region))
            sim.run_until(300.0)
            sim.add_instances(0, 0, 1, delay=10.0)
            sim.remove_instances(sim.pick_removable(1, 1, 1))
            sim.run_until(1200.0)
            sim.result()


def warm_autoscale() -> None:
    """The NIW-feeding queue policy of the SageServe controllers, and its reference twin, on the tiny trace."""
    trace = _tiny_trace()
    for policy in (niw_feeding(len(trace), 0.5, 64), workload_priority(0.5)):
        sim = Simulation(trace, load_latency_model(("A", "B")), np.ones((2, 2), np.int64), max_batch=16,
                         queue_policy=policy, router=make_router("least_tokens", region="sageserve"))
        sim.run_until(1200.0)
        sim.result()


def warm_fairness() -> None:
    """Every fairness scheduler on a tiny workload, and the service and backlog bins of the metrics."""
    latency = fairness.server(20_000)
    workload = fairness.make_workload(6, 2, 30.0, load_peak=2.0, abusive_share=0.2, latency=latency, max_batch=8,
                                      calibration_requests=100, seed=0)
    for name in fairness.SCHEDULERS:
        result = fairness.replay(workload, name, latency=latency, max_batch=8, rpm=2).result
    trace, metrics = workload.trace, fairness.metrics
    metrics.service_matrix(trace, result, metrics.vtc_charges(trace), 10.0, 3, 6)
    metrics.backlog_matrix(trace, result, 10.0, 3, 6)
    backlog = metrics.backlog_intervals(trace, result)       # the VTC-paper pair metric: intervals, pairs, curves
    pairs = metrics.overlapping_pairs(*metrics.intersect_intervals(*backlog, *backlog))
    metrics.pair_differences(pairs, metrics.replay_curves(trace, result, metrics.vtc_charges(trace), 6))


def _zero_theta(env) -> np.ndarray:
    """A zero parameter vector for ``env`` with the default linear features."""
    return np.zeros(Features().n_features(env.obs_dim))


def warm_pg() -> None:
    """Rollouts of every environment and policy family, HPG, SRMA, GPOMDP, gradients and metastability."""
    for env_name in pg.ENV_NAMES:
        env = pg.make_env(env_name)
        pg.rollouts(env, pg.Policy("cauchy", 1.0), _zero_theta(env), 2, seed=0, n_steps=5)
        step_batch(env.code, np.zeros((env.state_dim, 2)), np.zeros(2), np.zeros(2, bool), np.zeros(2))
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    for family in (pg.Policy("gaussian", 1.0), pg.Policy("gen_gaussian", 1.0, alpha=1.5),
                   pg.Policy("stable", 1.0, alpha=1.5)):
        pg.rollouts(env, family, _zero_theta(env), 2, seed=0, n_steps=5)
    policy.score(np.zeros(2)), policy.log_density(np.zeros(2)), policy.sample(2, seed=0)
    pg.hpg(env, policy, seeds=[0], n_iterations=2, batch_size=2, gamma=0.97, step_size=1e-3)
    pg.srma(env, policy, seeds=[0], n_iterations=2, batch_size=2, initial_batch=2)
    pg.gpomdp(env, policy, _zero_theta(env), n=2, seed=0, gamma=0.97)
    pg.gradient_at(env, policy, _zero_theta(env)[None, :], n_trajectories=2, gamma=0.97, seed=0)
    pg.exit_times(1.5, step_size=0.1, noise_scale=0.1, cap=10, n_runs=2, seed=0)


def warm_fleet() -> None:
    fleet.vm_cpu_stats(np.zeros((1, fleet.SAMPLES_PER_DAY), np.float32), np.array([fleet.SAMPLES_PER_DAY]),
                       fleet.SAMPLES_PER_DAY)


def warm_netsim() -> None:
    traces = netsim.make_traces("in-distribution", 2, 2, seeds.rng(0, "warm-netsim"))
    link = netsim.VectorLink(traces)
    link.step_rates(np.full(2, 1e6))


STEPS = {"replay": warm_replay, "autoscale": warm_autoscale, "fairness": warm_fairness, "pg": warm_pg,
         "fleet": warm_fleet, "netsim": warm_netsim}
"""Package name -> the step that compiles its kernels."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repro.tools.warm", description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help=f"some of {', '.join(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.packages) - set(STEPS))
    if unknown:
        parser.error(f"unknown package {', '.join(unknown)}: expected some of {', '.join(STEPS)}")
    start = time.perf_counter()
    for name in args.packages or STEPS:
        began = time.perf_counter()
        STEPS[name]()
        print(f"warm {name:<10} {time.perf_counter() - began:6.1f} s", flush=True)
    base = numba_cache.cache_base()
    removed = numba_cache.prune_stale_folders(base, numba_cache.current_keys())
    print(f"warm total      {time.perf_counter() - start:6.1f} s; cache {base}; {len(removed)} stale folders removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
