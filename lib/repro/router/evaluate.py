"""Episodes: seeded workloads, rollouts of a policy over the vector environment, per-episode metrics (brief 03 §1).

Workload of evaluation episode e under run seed s: the stream (s, "router-eval", e) (so every method sees the same
episodes); training episode e of replicate r: (s, "router-train", r, e).

An evaluation (:class:`Evaluation`) keeps every episode's metrics and, for the time-series figures of brief 03 §4
(paper Figs 1c, 6b, 6c, 10), the first episode's per-request table and its reward per decision step.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from repro.core.seeds import rng
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.routers import Router
from repro.router.workload import Workload, sample_workload


def workloads(cfg: EnvConfig, n_requests: int, rate: float, seed: int, keys: tuple, episodes, accuracy=None
              ) -> list[Workload]:
    """One workload per episode index, from the streams (seed, *keys, episode)."""
    return [sample_workload(n_requests, rate, cfg.service, rng(seed, *keys, int(e)), accuracy) for e in episodes]


def play(env: VectorRouterEnv, policy: Callable, episode_workloads: list[Workload], traced: Sequence[int] = ()
         ) -> list[np.ndarray]:
    """Run ``policy(obs, aux) -> actions`` on one episode per cluster until every cluster is finished; return the
    reward of every decision step of each cluster in ``traced`` (as :meth:`VectorRouterEnv.step` computes it, with
    the environment's guidance weights), one array per traced cluster, as long as its episode."""
    traced = np.asarray(traced, dtype=np.int64)
    obs, info = env.reset(episode_workloads)
    steps = []
    while not env.finished.all():
        obs, reward, _, _, info = env.step(policy(obs, info["aux"]))
        steps.append(reward[traced])
    rewards = np.array(steps).reshape(len(steps), len(traced))
    return [rewards[:env.env_i[b, k.E_DECISIONS], j] for j, b in enumerate(traced)]


def rollout(env: VectorRouterEnv, policy: Callable, episode_workloads: list[Workload]) -> pd.DataFrame:
    """:func:`play`, then the per-episode metrics (:meth:`VectorRouterEnv.episode_metrics`)."""
    play(env, policy, episode_workloads)
    return env.episode_metrics()


@dataclass(frozen=True)
class Evaluation:
    """One method on the evaluation episodes: ``metrics`` one row per episode (method, episode, episode_metrics
    columns); ``requests`` the per-request table of episode 0 (:meth:`VectorRouterEnv.request_table`);
    ``rewards`` episode 0's reward per decision step (with the environment's guidance weight, 0 unless set)."""
    method: str
    metrics: pd.DataFrame
    requests: pd.DataFrame
    rewards: np.ndarray


def evaluate(env: VectorRouterEnv, policy: Callable, episode_workloads: list[Workload], name: str) -> Evaluation:
    """Run ``policy`` on every evaluation episode (one cluster each) and keep what :class:`Evaluation` holds."""
    rewards, = play(env, policy, episode_workloads, traced=[0])
    metrics = env.episode_metrics()
    metrics.insert(0, "episode", np.arange(len(episode_workloads)))
    metrics.insert(0, "method", name)
    return Evaluation(name, metrics, env.request_table([0]), rewards)


def evaluate_router(router: Router, cfg: EnvConfig, episode_workloads: list[Workload]) -> Evaluation:
    """A classical router on the evaluation episodes (its SJF preference sets the environment's queue order)."""
    env = VectorRouterEnv(replace(cfg, sjf=router.sjf), len(episode_workloads))
    router.reset(env.n_envs)
    return evaluate(env, router.act, episode_workloads, router.name)


def running_mean(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """At each time of ``at``: the mean of the ``values`` whose ``times`` are <= it (nan before the first; entries
    with a nan time or value never count). Running mean TTFT by first-token time: paper Figs 1c and 6b; TBT by
    completion (a one-token request has none): Fig 5a."""
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    present = ~np.isnan(times) & ~np.isnan(values)
    order = np.argsort(times[present], kind="stable")
    sorted_times = times[present][order]
    cumulative = np.concatenate([[0.0], np.cumsum(values[present][order])])
    count = np.searchsorted(sorted_times, np.asarray(at, dtype=float), side="right")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, cumulative[count] / count, np.nan)
