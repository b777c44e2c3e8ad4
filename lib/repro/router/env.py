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
per-episode latencies and throughputs of the finished episodes, :meth:`VectorRouterEnv.request_table` their
per-request times.
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

    def request_latencies(self) -> dict[str, np.ndarray]:
        """Per cluster and request ([B, n] each): ``e2e``, ``ttft``, ``router_wait`` (to routing) and ``instance_wait``
        (routing to first token, nan without a first token), ``tbt`` (first token to completion per later token, nan
        unless served with > 1 token), ``served``, ``prefilled`` (has its first token).

        Unserved requests (an episode cut at ``max_time``) count in e2e, ttft and router_wait with their time so
        far."""
        now = self.env_f[:, k.E_NOW][:, None]
        arrival, routed_at = self.req_f[:, :, k.ARR], self.req_f[:, :, k.T_ROUTE]
        first, done = self.req_f[:, :, k.T_FIRST], self.req_f[:, :, k.T_DONE]
        served, prefilled = done >= 0, first >= 0
        e2e = np.where(served, done, np.maximum(now, arrival)) - arrival
        tokens = self.req_i[:, :, k.D]
        with np.errstate(invalid="ignore", divide="ignore"):
            tbt = np.where(served & (tokens > 1), (done - first) / (tokens - 1), np.nan)
        return {"e2e": e2e, "ttft": np.where(prefilled, first - arrival, e2e),
                "router_wait": np.where(routed_at >= 0, routed_at - arrival, e2e),
                "instance_wait": np.where(prefilled, first - np.where(routed_at >= 0, routed_at, first), np.nan),
                "tbt": tbt, "served": served, "prefilled": prefilled}

    def episode_metrics(self) -> pd.DataFrame:
        """One row per cluster: mean / p95 E2E, TTFT, TBT, router wait, instance wait (route to first token of the
        requests with a first token), the time-average number of requests in the router queue and, per instance,
        of routed requests before their first token (paper Fig 5c; Little's law: the summed waits over the
        makespan), preemptions, the share of decisions with a queued request, and the prompt and generation
        throughput (prompt tokens of the prefilled requests and generated tokens per second of the makespan, paper
        Fig 6a). Unserved requests count as in :meth:`request_latencies`, flagged by ``unserved``.
        """
        lat = self.request_latencies()
        decisions = np.maximum(self.env_i[:, k.E_DECISIONS], 1)
        makespan = self.env_f[:, k.E_NOW]
        per_second = 1.0 / np.maximum(makespan, 1e-12)
        return pd.DataFrame({
            "e2e_mean": lat["e2e"].mean(axis=1), "e2e_p95": np.percentile(lat["e2e"], 95, axis=1),
            "ttft_mean": lat["ttft"].mean(axis=1), "tbt_mean": _nanmean(lat["tbt"]),
            "router_wait_mean": lat["router_wait"].mean(axis=1), "instance_wait_mean": _nanmean(lat["instance_wait"]),
            "router_queue_mean": np.nansum(lat["router_wait"], axis=1) * per_second,
            "instance_queue_mean": np.nansum(lat["instance_wait"], axis=1) * per_second / self.m,
            "preemptions": self.req_i[:, :, k.NPRE].sum(axis=1),
            "unserved": (~lat["served"]).sum(axis=1),
            "busy_queue_share": self.env_i[:, k.E_BUSY_DECISIONS] / decisions,
            "decisions": self.env_i[:, k.E_DECISIONS],
            "makespan": makespan,
            "prompt_throughput": np.where(lat["prefilled"], self.req_i[:, :, k.P], 0).sum(axis=1) * per_second,
            "generation_throughput": self.req_i[:, :, k.O].sum(axis=1) * per_second,
        })

    def request_table(self, clusters) -> pd.DataFrame:
        """One row per request of the finished episodes of ``clusters``: episode (the cluster), task, prompt and
        decode tokens, arrival, first-token and completion times (s, nan if not reached), and the
        :meth:`request_latencies` of the request (the time series of paper Figs 1c, 5a, 6b, 6c)."""
        clusters = np.asarray(clusters, dtype=np.int64)
        lat = self.request_latencies()
        first, done = self.req_f[clusters, :, k.T_FIRST], self.req_f[clusters, :, k.T_DONE]
        n = self._n_req
        return pd.DataFrame({
            "episode": np.repeat(clusters, n),
            "task": np.concatenate([self.workloads[b].task for b in clusters]),
            "prompt": self.req_i[clusters, :, k.P].ravel(), "decode": self.req_i[clusters, :, k.D].ravel(),
            "arrival": self.req_f[clusters, :, k.ARR].ravel(),
            "first_token": np.where(first >= 0, first, np.nan).ravel(),
            "done": np.where(done >= 0, done, np.nan).ravel(),
            **{name: lat[name][clusters].ravel() for name in ("e2e", "ttft", "tbt")}})


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 1 of the non-nan entries (0 where a row has none)."""
    present = ~np.isnan(values)
    return np.where(present, values, 0.0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
