"""Benchmark of the router's batched cluster kernels (brief 03 §2; repro.router.cluster): decisions per second.

64 clusters of 4 V100-like instances, each serving 2,000 requests at 20 req/s, are routed round robin for 3,000
decisions (one decision = one cluster advanced by 0.02 s of simulated time), best of 3 timed passes after a
warm-up, on one core. ``vector_env_rate`` times the whole loop (the kernel call inside ``VectorRouterEnv.step`` plus
the vectorised round-robin router and the reward assembly in NumPy).
The plain-Python twin (:class:`repro.router.reference.ReferenceCluster`, the Python hold/assign loop) runs the
same workloads and policy, cluster by cluster, for fewer decisions. Target (the issue): >= 50,000 decisions/s
per core for the vector environment.
"""
from __future__ import annotations

from repro.bench import best_rate
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import workloads
from repro.router.reference import ReferenceCluster
from repro.router.routers import RoundRobin

TARGET_RATE = 50_000.0


def _env_pass(env, loads, steps: int) -> int:
    obs, info = env.reset(loads)
    router = RoundRobin()
    router.reset(env.n_envs)
    for _ in range(steps):
        obs, _, _, _, info = env.step(router.act(obs, info["aux"]))
    return env.n_envs * steps


def _reference_pass(cfg, loads, steps: int) -> int:
    for w in loads:
        ref = ReferenceCluster(cfg.service, w, cfg.m)
        router = RoundRobin()
        router.reset(1)
        for _ in range(steps):
            ref.step(int(router.act(ref.obs[None], ref.aux[None])[0]))
    return len(loads) * steps


def run(quick: bool = False) -> dict:
    n_envs, n_req, steps, ref_envs, ref_steps = (8, 200, 300, 1, 100) if quick else (64, 2000, 3000, 2, 1500)
    cfg = EnvConfig()
    loads = workloads(cfg, n_req, 20.0, 0, ("bench-router",), range(n_envs))
    env = VectorRouterEnv(cfg, n_envs)
    _env_pass(env, loads, 2)                                        # compile or load from the cache
    env_rate = best_rate(lambda: _env_pass(env, loads, steps), 3)
    reference_rate = best_rate(lambda: _reference_pass(cfg, loads[:ref_envs], ref_steps), 1)
    return {"workload": f"{n_envs} clusters x 4 instances, {n_req} requests at 20 req/s, {steps} decisions of 0.02 s,"
                        " round robin", "unit": "decisions/s",
            "vector_env_rate": round(env_rate),
            "reference_rate": round(reference_rate), "reference_us_per_decision": round(1e6 / reference_rate, 1),
            "speedup_vs_reference": round(env_rate / reference_rate, 1),
            "target": f"vector_env_rate >= {TARGET_RATE:g}", "meets_target": bool(env_rate >= TARGET_RATE)}
