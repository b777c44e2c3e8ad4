"""A gymnasium-style vector environment over the batched cluster kernels (brief 03 §2, the router's MDP).

``VectorRouterEnv(cfg, n_envs)``: ``reset(workloads)`` -> (obs[B, 6m+3], info); ``step(actions[B])`` ->
(obs, reward[B], terminated[B], truncated[B], info). Actions are 0..m-1 (route the head request to that instance)
or m (wait). The reward is Eq 3 as read in brief 03 §2:

    r = progress + r_w * completions + guidance_weight * h

with the three terms computed by the kernel (:mod:`repro.router.cluster`); ``guidance_weight`` is a per-cluster
array the trainer sets per episode (0: Baseline RL, 1: Workload-Aware, e^(-beta_d k) gamma: Workload-Guided).
Episodes run in lockstep [our choice]: a cluster whose episode ends stays finished (zero reward, unchanged
observation) until the next ``reset``, so there is no auto-reset. ``info`` carries the reward terms and
``aux`` (per-instance features the classical routers read). :meth:`VectorRouterEnv.episode_metrics` returns the
per-request latencies of the finished episodes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from repro.router import cluster as k
from repro.router.service import ServiceModel
from repro.router.workload import Workload


@dataclass(frozen=True)
class EnvConfig:
    """One cluster setting: ``m`` instances, the service model, the completion reward r_w [paper A.9.3]."""
    m: int = 4
    service: ServiceModel = field(default_factory=ServiceModel)
    completion_reward: float = 60.0
    sjf: bool = False           # the router queue serves the shortest job first (Min-Min) instead of FCFS
    batching: str = "fcfs"      # instance admission order, one of cluster.BATCHING (paper Table 2)
    chunk_budget: int = 0       # chunked prefill: max batched tokens per iteration (paper A.12: 1,024); 0 = off

    def __post_init__(self):
        if not isinstance(self.m, int) or self.m < 1:
            raise ValueError(f"m: expected a positive number of instances, got {self.m!r}")
        if self.batching not in k.BATCHING:
            raise ValueError(f"batching: expected one of {k.BATCHING}, got {self.batching!r}")
        if not isinstance(self.chunk_budget, int) or self.chunk_budget < 0:
            raise ValueError(f"chunk_budget: expected an int >= 0 (0 = no chunking), got {self.chunk_budget!r}")


class VectorRouterEnv:
    """B independent clusters stepped by one kernel call (module docstring)."""

    def __init__(self, cfg: EnvConfig, n_envs: int):
        if n_envs < 1:
            raise ValueError(f"n_envs: expected >= 1, got {n_envs}")
        self.cfg, self.n_envs, self.m = cfg, int(n_envs), cfg.m
        self.n_actions = cfg.m + 1
        self.obs_dim = k.obs_dim(cfg.m)
        self.svc = cfg.service.as_array()
        self.guidance_weight = np.zeros(self.n_envs)
        self._n_req = 0

    def reset(self, workloads: Sequence[Workload]):
        """Start one episode per cluster, cluster b serving ``workloads[b]`` (all of the same length)."""
        if len(workloads) != self.n_envs:
            raise ValueError(f"reset: expected {self.n_envs} workloads, got {len(workloads)}")
        sizes = {len(w.arrival) for w in workloads}
        if len(sizes) != 1:
            raise ValueError(f"reset: every workload needs the same number of requests, got sizes {sorted(sizes)}")
        n, B = sizes.pop(), self.n_envs
        if n != self._n_req:
            self._allocate(n)
        for b, w in enumerate(workloads):
            self.req_i[b, :, k.P], self.req_i[b, :, k.D], self.req_i[b, :, k.BKT] = w.prompt, w.decode, w.bucket
            self.req_f[b, :, k.ARR], self.req_f[b, :, k.DHAT] = w.arrival, w.decode_estimate
        self.env_i[:, k.E_SJF] = int(self.cfg.sjf)
        self.env_i[:, k.E_BATCHING] = k.BATCHING.index(self.cfg.batching)
        self.env_i[:, k.E_CHUNK] = self.cfg.chunk_budget
        self.workloads = list(workloads)
        k.reset_clusters(self.svc, self.req_i, self.req_f, self.env_i, self.env_f, self.inst_kind, self.inst_end,
                         self.live, self.summary, self.obs, self.aux)
        assert B == self.obs.shape[0]
        return self.obs.copy(), {"aux": self.aux.copy()}

    def _allocate(self, n: int):
        B, m = self.n_envs, self.m
        self._n_req = n
        self.req_i = np.zeros((B, n, k.N_REQ_I), np.int64)
        self.req_f = np.zeros((B, n, k.N_REQ_F), np.float64)
        self.env_i = np.zeros((B, k.N_ENV_I), np.int64)
        self.env_f = np.zeros((B, 1), np.float64)
        self.inst_kind = np.zeros((B, m), np.int64)
        self.inst_end = np.zeros((B, m), np.float64)
        self.live = np.zeros((B, n), np.int64)
        self.summary = np.zeros((m, k.N_SUMMARY), np.float64)
        self.obs = np.zeros((B, self.obs_dim), np.float64)
        self.aux = np.zeros((B, m, k.N_AUX), np.float64)
        self.terms = np.zeros((B, 3), np.float64)

    @property
    def finished(self) -> np.ndarray:
        return self.env_i[:, k.E_END] != 0

    def step(self, actions):
        """Advance every unfinished cluster by one decision (dt of simulated time)."""
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (self.n_envs,) or actions.min() < 0 or actions.max() > self.m:
            raise ValueError(f"step: expected {self.n_envs} actions in 0..{self.m}, got {actions!r}")
        active = ~self.finished
        k.step_clusters(actions, self.svc, self.req_i, self.req_f, self.env_i, self.env_f, self.inst_kind,
                        self.inst_end, self.live, self.summary, self.obs, self.aux, self.terms)
        reward = (self.terms[:, k.R_PROGRESS] + self.cfg.completion_reward * self.terms[:, k.R_COMPLETIONS]
                  + self.guidance_weight * self.terms[:, k.R_GUIDANCE])
        done = self.finished
        all_served = self.env_i[:, k.E_DONE] == self._n_req
        terminated, truncated = done & active & all_served, done & active & ~all_served
        return self.obs.copy(), reward, terminated, truncated, {"aux": self.aux.copy(), "terms": self.terms.copy()}

    def episode_metrics(self) -> pd.DataFrame:
        """One row per cluster: mean / p95 E2E, TTFT, TBT, router wait, instance wait (route to first token of the
        requests with a first token), preemptions, the share of decisions with a queued request.

        Unserved requests (an episode cut at ``max_time``) count with their time so far, flagged by ``unserved``.
        """
        now = self.env_f[:, k.E_NOW][:, None]
        arrival = self.req_f[:, :, k.ARR]
        done_at = np.where(self.req_f[:, :, k.T_DONE] >= 0, self.req_f[:, :, k.T_DONE], np.maximum(now, arrival))
        e2e = done_at - arrival
        first = self.req_f[:, :, k.T_FIRST]
        ttft = np.where(first >= 0, first - arrival, e2e)
        routed_at = self.req_f[:, :, k.T_ROUTE]
        wait = np.where(routed_at >= 0, routed_at - arrival, e2e)
        tokens = self.req_i[:, :, k.D]
        served = self.req_f[:, :, k.T_DONE] >= 0
        has_tbt = served & (tokens > 1)
        tbt = np.where(has_tbt, (done_at - np.where(first >= 0, first, done_at)) / np.maximum(tokens - 1, 1), 0.0)
        decisions = np.maximum(self.env_i[:, k.E_DECISIONS], 1)
        return pd.DataFrame({
            "e2e_mean": e2e.mean(axis=1), "e2e_p95": np.percentile(e2e, 95, axis=1),
            "ttft_mean": ttft.mean(axis=1), "tbt_mean": tbt.sum(axis=1) / np.maximum(has_tbt.sum(axis=1), 1),
            "router_wait_mean": wait.mean(axis=1),
            "instance_wait_mean": np.where(first >= 0, first - np.where(routed_at >= 0, routed_at, first), 0.0).sum(axis=1)
            / np.maximum((first >= 0).sum(axis=1), 1),
            "preemptions": self.req_i[:, :, k.NPRE].sum(axis=1),
            "unserved": (~served).sum(axis=1),
            "busy_queue_share": self.env_i[:, k.E_BUSY_DECISIONS] / decisions,
            "decisions": self.env_i[:, k.E_DECISIONS],
            "makespan": self.env_f[:, k.E_NOW],
        })
