"""The mixing effect of paper §4.3, Figs 1a / 4c (brief 03 §2 "Mixing example", fig01), on the cluster model.

One instance (:class:`~repro.router.env.VectorRouterEnv`, m = 1) serves a first request (p = 1000, d = 1000,
arriving at 0) either alone or with a joining request (p = 500, d = 500) arriving each time the first request
reaches its 50th, 100th, ... generated token, while it is still running [our choice: no joiner at token 0]. The
paper reports 17 s alone and 31 s mixed.

The kernel records no per-iteration times, so the elapsed time of the first request's n-th iteration (its n-th
token, the prefill being iteration 1) is the end of the first decision step (dt = 0.02 s) by which it has n
tokens: exact to within one step; the last point is its exact completion time. A joiner's arrival time is that
step's end; since an arrival cannot change the past, the joiners are placed one at a time by re-running the
cluster up to the next one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.service import ServiceModel, bucket_of
from repro.router.workload import Workload

PAPER_ALONE, PAPER_MIXED = 17.0, 31.0
"""Paper Fig 1a: seconds for the first request alone and with joiners."""


@dataclass(frozen=True)
class MixingConfig:
    """The Fig 1a experiment (module docstring)."""
    first_prompt: int = 1000
    first_decode: int = 1000
    joiner_prompt: int = 500
    joiner_decode: int = 500
    every: int = 50
    service: ServiceModel = field(default_factory=ServiceModel)

    def __post_init__(self):
        for name in ("first_prompt", "first_decode", "joiner_prompt", "joiner_decode", "every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")


def _workload(cfg: MixingConfig, joiner_arrivals) -> Workload:
    n = 1 + len(joiner_arrivals)
    prompt = np.array([cfg.first_prompt] + [cfg.joiner_prompt] * (n - 1), np.int64)
    decode = np.array([cfg.first_decode] + [cfg.joiner_decode] * (n - 1), np.int64)
    return Workload(np.array([0.0, *joiner_arrivals]), np.zeros(n, np.int64), prompt, decode,
                    bucket_of(decode).astype(np.int64))


def first_request_progress(cfg: MixingConfig, joiner_arrivals, until_tokens=None) -> np.ndarray:
    """Elapsed time (s) at which the first request has generated 1, 2, ... tokens (module docstring), up to
    ``until_tokens`` (default: all of them)."""
    until = cfg.first_decode if until_tokens is None else int(until_tokens)
    env = VectorRouterEnv(EnvConfig(m=1, service=cfg.service), 1)
    env.reset([_workload(cfg, joiner_arrivals)])
    route = np.zeros(1, np.int64)                 # action 0 routes the head; a no-op on an empty queue
    reached = np.full(until, np.nan)
    while not env.finished[0]:
        env.step(route)
        tokens = min(env.req_i[0, 0, k.O], until)
        fresh = np.isnan(reached[:tokens])
        reached[:tokens][fresh] = env.env_f[0, k.E_NOW]
        if tokens >= until:
            break
    if env.req_f[0, 0, k.T_DONE] >= 0 and until == cfg.first_decode:
        reached[-1] = env.req_f[0, 0, k.T_DONE]
    if np.isnan(reached).any():
        raise RuntimeError("first_request_progress: the first request did not finish within service.max_time")
    return reached


def joiner_arrivals(cfg: MixingConfig) -> list[float]:
    """Arrival times of the joiners: when the first request reaches every ``every``-th token (with the earlier
    joiners present)."""
    arrivals: list[float] = []
    for target in range(cfg.every, cfg.first_decode, cfg.every):
        arrivals.append(float(first_request_progress(cfg, arrivals, target)[-1]))
    return arrivals


def mixing_effect(cfg: MixingConfig) -> pd.DataFrame:
    """Per iteration of the first request (1..d): elapsed time alone and with joiners (s)."""
    return pd.DataFrame({
        "iteration": np.arange(1, cfg.first_decode + 1),
        "alone": first_request_progress(cfg, []),
        "mixed": first_request_progress(cfg, joiner_arrivals(cfg)),
    })


def plot_mixing(ax, effect: pd.DataFrame) -> None:
    """fig01: elapsed time per iteration of the first request, alone vs mixed; the paper's end points."""
    ax.plot(effect["iteration"], effect["alone"], label=f"alone (ours {effect['alone'].iloc[-1]:.1f} s)")
    ax.plot(effect["iteration"], effect["mixed"], label=f"with joiners (ours {effect['mixed'].iloc[-1]:.1f} s)")
    last = effect["iteration"].iloc[-1]
    ax.scatter([last, last], [PAPER_ALONE, PAPER_MIXED], marker="x", color="k", label="paper: 17 s / 31 s")
    ax.set_xlabel("iteration of the first request")
    ax.set_ylabel("elapsed time (s)")
    ax.legend()
