"""Optimal vs random placement by exhaustive enumeration: brief 03 claim C8, paper §1 / Fig 2 (fig02).

* Workload [paper §1]: ``n_requests`` = 8 requests at ``rate`` = 1 req/s (Poisson arrivals, brief §2 [our choice]),
  prompt and decode tokens uniform on 10..100, from the stream (seed, "router-placement").
* Every one of the m^n assignments (2^8 = 256 on m = 2 instances) is one cluster of a single
  :class:`~repro.router.env.VectorRouterEnv`; :class:`AssignmentRouter` routes the queue head (the oldest queued
  request, so the k-th routed request is request k) to the instance its assignment names.
* Statistic: the paper's best 27.03 s, worst 32.34 s and random expectation 29.81 s are **total** E2E latency, the
  sum over the 8 requests (a mean of ~30 s per 10..100-token request would be far above any single request's
  service time) [our reading]. The random expectation is the mean over all assignments (uniform random placement).
* Interference spike [brief, our choice]: an iteration in which a prefill joins a running decode, i.e. an
  instance starts a prefill iteration while another of its requests is decoding. Counted from the kernel's
  per-request timings (:func:`interference_spikes`), exact when nothing was preempted (checked).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from repro.core.seeds import rng
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import rollout
from repro.router.routers import Router
from repro.router.service import ServiceModel, bucket_of
from repro.router.workload import Workload

PAPER_BEST, PAPER_WORST, PAPER_RANDOM = 27.03, 32.34, 29.81
"""Paper Fig 2: total E2E (s) of the best and worst placement and the random expectation."""
PAPER_SPIKES = ((27.03, 18), (28.92, 23), (29.47, 22), (30.27, 30), (31.13, 34), (32.34, 40))
"""Paper Fig 2b: (total E2E s, interference spikes) pairs."""


@dataclass(frozen=True)
class PlacementConfig:
    """The Fig 2 experiment (module docstring)."""
    n_requests: int = 8
    rate: float = 1.0
    min_tokens: int = 10
    max_tokens: int = 100
    m: int = 2
    seed: int = 0
    service: ServiceModel = field(default_factory=ServiceModel)

    def __post_init__(self):
        if not 1 <= self.n_requests <= 16:
            raise ValueError(f"n_requests: expected 1..16 (m^n clusters), got {self.n_requests}")
        if not self.rate > 0:
            raise ValueError(f"rate: expected > 0, got {self.rate}")
        if not 1 <= self.min_tokens <= self.max_tokens:
            raise ValueError(f"min_tokens, max_tokens: expected 1 <= min <= max, got {self.min_tokens}, "
                             f"{self.max_tokens}")
        if self.m < 1 or self.m ** self.n_requests > 70_000:
            raise ValueError(f"m: expected >= 1 with m^n_requests <= 70,000, got m={self.m}")


def placement_workload(cfg: PlacementConfig) -> Workload:
    """The seeded Fig 2 requests (prompt and decode uniform on min..max tokens, Poisson arrivals)."""
    g = rng(cfg.seed, "router-placement")
    n = cfg.n_requests
    prompt = g.integers(cfg.min_tokens, cfg.max_tokens + 1, size=n)
    decode = g.integers(cfg.min_tokens, cfg.max_tokens + 1, size=n)
    arrival = np.cumsum(g.exponential(1.0 / cfg.rate, size=n))
    return Workload(arrival, np.zeros(n, np.int64), prompt, decode, bucket_of(decode).astype(np.int64))


def all_assignments(n: int, m: int) -> np.ndarray:
    """Every assignment of n requests to m instances, ``[m^n, n]``, in lexicographic order."""
    return np.array(list(product(range(m), repeat=n)), dtype=np.int64).reshape(m ** n, n)


class AssignmentRouter(Router):
    """Routes the k-th request it routes in cluster b to ``assignments[b, k]`` (FCFS queue: request k)."""
    name = "Assignment"

    def __init__(self, assignments: np.ndarray):
        self.assignments = np.asarray(assignments, dtype=np.int64)

    def reset(self, n_envs):
        if n_envs != self.assignments.shape[0]:
            raise ValueError(f"n_envs: expected {self.assignments.shape[0]} (one per assignment), got {n_envs}")
        self.routed = np.zeros(n_envs, np.int64)

    def choose(self, obs, aux):
        m = aux.shape[1]
        routing = obs[:, k.PER_INSTANCE * m] > 0
        index = np.minimum(self.routed, self.assignments.shape[1] - 1)
        chosen = self.assignments[np.arange(len(index)), index]
        self.routed += routing
        return chosen


def interference_spikes(instance, t_first, t_done) -> np.ndarray:
    """Prefill iterations that start while another request of the same instance decodes, per row of ``[B, n]``.

    Request q's prefill iteration ends at t_first[q]; request j decodes when it starts iff j was prefilled in an
    earlier iteration (t_first[j] < t_first[q]) and completes in a later one (t_done[j] > t_first[q]). Requests
    prefilled together share t_first, so each iteration is counted once. Valid without preemption.
    """
    instance, t_first, t_done = (np.asarray(a) for a in (instance, t_first, t_done))
    same = instance[:, :, None] == instance[:, None, :]                       # [B, q, j]
    decoding = same & (t_first[:, None, :] < t_first[:, :, None]) & (t_done[:, None, :] > t_first[:, :, None])
    spiking = decoding.any(axis=2)                                            # request q's prefill is a spike
    later_twin = same & (t_first[:, :, None] == t_first[:, None, :]) & (
        np.arange(instance.shape[1])[None, :, None] > np.arange(instance.shape[1])[None, None, :])
    first_of_iteration = ~later_twin.any(axis=2)
    return (spiking & first_of_iteration).sum(axis=1)


def enumerate_placements(cfg: PlacementConfig) -> pd.DataFrame:
    """One row per assignment: the assignment string, total and mean E2E (s), interference spikes."""
    load = placement_workload(cfg)
    assignments = all_assignments(cfg.n_requests, cfg.m)
    env = VectorRouterEnv(EnvConfig(m=cfg.m, service=cfg.service), len(assignments))
    router = AssignmentRouter(assignments)
    router.reset(env.n_envs)
    metrics = rollout(env, router.act, [load] * len(assignments))
    if (metrics["unserved"] > 0).any():
        raise RuntimeError("enumerate_placements: an episode hit service.max_time; raise max_time")
    if (env.req_i[:, :, k.NPRE] > 0).any():
        raise RuntimeError("enumerate_placements: preemption occurred; the spike count from timings is invalid")
    e2e = env.req_f[:, :, k.T_DONE] - env.req_f[:, :, k.ARR]
    return pd.DataFrame({
        "assignment": ["".join(map(str, a)) for a in assignments],
        "e2e_total": e2e.sum(axis=1), "e2e_mean": e2e.mean(axis=1),
        "spikes": interference_spikes(env.req_i[:, :, k.INST], env.req_f[:, :, k.T_FIRST],
                                      env.req_f[:, :, k.T_DONE]),
    })


def placement_summary(placements: pd.DataFrame, column: str = "e2e_total") -> dict:
    """Best / random expectation (mean over assignments) / worst of ``column`` and the random/best ratio."""
    values = placements[column]
    best, mean, worst = float(values.min()), float(values.mean()), float(values.max())
    return {"best": best, "random": mean, "worst": worst, "random_over_best": mean / best,
            "spikes_best": int(placements.loc[values.idxmin(), "spikes"]),
            "spikes_worst": int(placements.loc[values.idxmax(), "spikes"]),
            "spike_e2e_corr": float(np.corrcoef(placements["spikes"], values)[0, 1])
            if placements["spikes"].nunique() > 1 else float("nan"),
            "paper": {"best": PAPER_BEST, "random": PAPER_RANDOM, "worst": PAPER_WORST,
                      "random_over_best": PAPER_RANDOM / PAPER_BEST}}


def plot_placements(ax, placements: pd.DataFrame) -> None:
    """fig02: total E2E vs interference spikes of every placement, with our best / random / worst lines; the
    paper's values (a different scale) are printed in a text box."""
    summary = placement_summary(placements)
    ax.scatter(placements["spikes"], placements["e2e_total"], s=14, alpha=0.5, label="every placement (ours)")
    for name, style in (("best", ":"), ("random", "-"), ("worst", "--")):
        ax.axhline(summary[name], color="C1", linestyle=style, linewidth=1, label=f"{name} {summary[name]:.2f} s")
    paper = "\n".join([f"paper: best {PAPER_BEST} s, random {PAPER_RANDOM} s, worst {PAPER_WORST} s",
                       f"random/best: paper {PAPER_RANDOM / PAPER_BEST:.3f}, ours {summary['random_over_best']:.3f}",
                       "paper Fig 2b (E2E s / spikes): " + ", ".join(f"{e}/{s}" for e, s in PAPER_SPIKES[:3]),
                       "    " + ", ".join(f"{e}/{s}" for e, s in PAPER_SPIKES[3:])])
    ax.text(0.02, 0.98, paper, transform=ax.transAxes, va="top", fontsize=7)
    ax.set_xlabel("interference spikes (prefill joins a running decode)")
    ax.set_ylabel(f"total E2E latency of the {len(placements['assignment'].iloc[0])} requests (s)")
    ax.legend(loc="lower right")
