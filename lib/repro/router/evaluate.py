"""Episodes: seeded workloads, rollouts of a policy over the vector environment, per-episode metrics (brief 03 §1).

Workload of evaluation episode e under run seed s: the stream (s, "router-eval", e) (so every method sees the same
episodes); training episode e of replicate r: (s, "router-train", r, e).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from repro.core.seeds import rng
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.routers import Router
from repro.router.workload import Workload, sample_workload


def workloads(cfg: EnvConfig, n_requests: int, rate: float, seed: int, keys: tuple, episodes, accuracy=None
              ) -> list[Workload]:
    """One workload per episode index, from the streams (seed, *keys, episode)."""
    return [sample_workload(n_requests, rate, cfg.service, rng(seed, *keys, int(e)), accuracy) for e in episodes]


def rollout(env: VectorRouterEnv, policy: Callable, episode_workloads: list[Workload]) -> pd.DataFrame:
    """Run ``policy(obs, aux) -> actions`` on one episode per cluster until every cluster is finished."""
    obs, info = env.reset(episode_workloads)
    while not env.finished.all():
        obs, _, _, _, info = env.step(policy(obs, info["aux"]))
    return env.episode_metrics()


def evaluate_router(router: Router, cfg: EnvConfig, episode_workloads: list[Workload]) -> pd.DataFrame:
    """Per-episode metrics of a classical router (its SJF preference sets the environment's queue order)."""
    env = VectorRouterEnv(replace(cfg, sjf=router.sjf), len(episode_workloads))
    router.reset(env.n_envs)
    metrics = rollout(env, router.act, episode_workloads)
    metrics.insert(0, "episode", np.arange(len(episode_workloads)))
    metrics.insert(0, "method", router.name)
    return metrics
