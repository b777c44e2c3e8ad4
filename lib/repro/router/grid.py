"""Routing vs instance-level batching: brief 03 claim C7, §3 "Table 2 grid", §5 "Table 2 and Fig 2 workloads" (fig04).

* Workloads [paper §4.4, brief §5]: ``n_requests`` (3,000) on m = 2 instances at ``rate`` = 10 req/s [our choice],
  Poisson arrivals (brief §2). Classes LL, LH, HL, HH (prompt x decode): a light length is uniform on the integers
  below the class threshold, a heavy one on threshold..4 x threshold [our choice]; thresholds in seconds under the
  service model (heavy prompt: >= 0.5 s of prefill = 0.5 / grad1 tokens; heavy decode: >= 5 s of decode =
  5 / decode_intercept tokens, as in :mod:`repro.router.workload`). Scenarios: I = LH and HL in random order,
  II = all four classes in random order, III = all LH then all HL, IV = all HL then all LH; classes in equal
  numbers [our choice]. Scenario s's workload is the stream (seed, "router-table2", s), shared by all 9 cells.
  The predicted bucket is the true one (no router here reads it).
* Grid: 3 batching (``EnvConfig.batching``: "fcfs", "bin-packing", "least-work-left") x 3 routers (Dedicated
  Small-Large, Round Robin, Decode Balancer; :mod:`repro.router.routers`, oracle output lengths) x 4 scenarios.
  One environment per batching runs the 12 (router, scenario) cells as parallel clusters.
* Statistic: per cell, total E2E = the sum over requests of E2E latency (also the mean and the makespan). Paper
  Table 2 reports 424-704 s for 3,000 requests, which is the order of a makespan rather than a sum of per-request
  latencies; its unit is unclear, so C7 compares spreads, a comparison the same for the sum and the mean.
  C7 [brief]: in scenarios I and II, for each batching, the spread (max - min) across routers exceeds the spread
  across batchers of every router (:func:`routing_vs_batching`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from repro.core.seeds import rng
from repro.router.cluster import BATCHING as BATCHINGS
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import rollout
from repro.router.routers import DecodeBalancer, DedicatedSmallLarge, RoundRobin, with_oracle
from repro.router.service import ServiceModel, bucket_of
from repro.router.workload import Workload

CLASSES = ("LL", "LH", "HL", "HH")
SCENARIOS = {"I": ("LH", "HL"), "II": CLASSES, "III": ("LH", "HL"), "IV": ("HL", "LH")}
"""Classes of each scenario; I and II are shuffled, III and IV are blocks in the order given."""
SHUFFLED = ("I", "II")
ROUTERS = ("Dedicated Small-Large", "RR", "Decode Balancer")

PAPER_TABLE2 = pd.DataFrame(
    [(b, r, s, v) for b, r, values in (
        ("bin-packing", "Dedicated Small-Large", (704.5, 644.75, 566.25, 588.15)),
        ("bin-packing", "RR", (581.5, 559.3, 424.8, 440.68)),
        ("bin-packing", "Decode Balancer", (595.82, 555.4, 424.82, 440.81)),
        ("least-work-left", "Dedicated Small-Large", (704.5, 641.81, 566.25, 588.15)),
        ("least-work-left", "RR", (585.14, 554.00, 424.64, 440.82)),
        ("least-work-left", "Decode Balancer", (596.95, 559.97, 424.66, 440.81)),
        ("fcfs", "Dedicated Small-Large", (704.5, 648.66, 566.25, 588.15)),
        ("fcfs", "RR", (607.45, 572.16, 424.80, 440.82)),
        ("fcfs", "Decode Balancer", (605.65, 573.17, 424.82, 440.81)),
    ) for s, v in zip(SCENARIOS, values)],
    columns=["batching", "router", "scenario", "e2e_total"])
"""Paper Table 2 (total E2E s, as parsed in brief 03 §1), in the layout of :func:`run_grid`."""


@dataclass(frozen=True)
class GridConfig:
    """The Table 2 experiment (module docstring); ``service.max_time`` must cover the makespan."""
    n_requests: int = 3000
    rate: float = 10.0
    m: int = 2
    seed: int = 0
    heavy_prompt_seconds: float = 0.5
    heavy_decode_seconds: float = 5.0
    heavy_max_multiple: float = 4.0
    batchings: tuple = BATCHINGS
    scenarios: tuple = tuple(SCENARIOS)
    service: ServiceModel = field(default_factory=lambda: ServiceModel(max_time=20_000.0))

    def __post_init__(self):
        if self.n_requests < 4:
            raise ValueError(f"n_requests: expected >= 4 (one per class), got {self.n_requests}")
        if not self.rate > 0:
            raise ValueError(f"rate: expected > 0, got {self.rate}")
        if self.m != 2:
            raise ValueError(f"m: Dedicated Small-Large needs exactly 2 instances, got {self.m}")
        if not self.heavy_max_multiple > 1:
            raise ValueError(f"heavy_max_multiple: expected > 1, got {self.heavy_max_multiple}")
        if bad := [b for b in self.batchings if b not in BATCHINGS]:
            raise ValueError(f"batchings: unknown {bad}, expected some of {BATCHINGS}")
        if bad := [s for s in self.scenarios if s not in SCENARIOS]:
            raise ValueError(f"scenarios: unknown {bad}, expected some of {tuple(SCENARIOS)}")

    @property
    def prompt_threshold(self) -> int:
        """Smallest heavy prompt (tokens): prefill time >= heavy_prompt_seconds."""
        return int(np.ceil(self.heavy_prompt_seconds / self.service.grad1))

    @property
    def decode_threshold(self) -> int:
        """Smallest heavy decode (tokens): decode time >= heavy_decode_seconds at the decode intercept."""
        return int(np.ceil(self.heavy_decode_seconds / self.service.decode_intercept))


def class_sequence(scenario: str, n: int, g: np.random.Generator) -> np.ndarray:
    """The class names of the n requests of a scenario, in arrival order (equal counts, module docstring)."""
    classes = SCENARIOS[scenario]
    labels = np.repeat(np.array(classes), np.diff(np.linspace(0, n, len(classes) + 1).astype(int)))
    return g.permutation(labels) if scenario in SHUFFLED else labels


def _lengths(heavy: np.ndarray, threshold: int, multiple: float, g: np.random.Generator) -> np.ndarray:
    light = g.integers(1, threshold, size=heavy.size)
    big = g.integers(threshold, int(np.floor(multiple * threshold)) + 1, size=heavy.size)
    return np.where(heavy, big, light).astype(np.int64)


def scenario_workload(cfg: GridConfig, scenario: str) -> Workload:
    """Scenario ``scenario``'s requests; ``task`` holds the class index into :data:`CLASSES`."""
    g = rng(cfg.seed, "router-table2", scenario)
    labels = class_sequence(scenario, cfg.n_requests, g)
    prompt = _lengths(np.char.startswith(labels, "H"), cfg.prompt_threshold, cfg.heavy_max_multiple, g)
    decode = _lengths(np.char.endswith(labels, "H"), cfg.decode_threshold, cfg.heavy_max_multiple, g)
    if (prompt + decode + 1 > cfg.service.kv_capacity).any():
        raise ValueError("service.kv_capacity: a heavy request does not fit the KV cache alone")
    arrival = np.cumsum(g.exponential(1.0 / cfg.rate, size=cfg.n_requests))
    task = np.array([CLASSES.index(c) for c in labels], dtype=np.int64)
    return Workload(arrival, task, prompt, decode, bucket_of(decode).astype(np.int64))


def table2_routers(cfg: GridConfig) -> list:
    """Fresh Dedicated Small-Large, Round Robin and Decode Balancer routers (order of :data:`ROUTERS`)."""
    return [DedicatedSmallLarge(cfg.decode_threshold), RoundRobin(), DecodeBalancer()]


def run_batching(cfg: GridConfig, batching: str, loads: dict) -> pd.DataFrame:
    """The 3 routers x scenarios cells of one batching algorithm, as parallel clusters of one environment."""
    routers, scenarios = table2_routers(cfg), list(loads)
    n_s = len(scenarios)
    env = VectorRouterEnv(EnvConfig(m=cfg.m, service=cfg.service, batching=batching), len(routers) * n_s)
    for router in routers:
        router.reset(n_s)

    def policy(obs, aux):
        full = with_oracle(env, aux)
        return np.concatenate([r.act(obs[i * n_s:(i + 1) * n_s], full[i * n_s:(i + 1) * n_s])
                               for i, r in enumerate(routers)])

    metrics = rollout(env, policy, [loads[s] for _ in routers for s in scenarios])
    return pd.DataFrame({
        "batching": batching, "router": [r.name for r in routers for _ in scenarios],
        "scenario": scenarios * len(routers), "e2e_total": metrics["e2e_mean"] * cfg.n_requests,
        "e2e_mean": metrics["e2e_mean"], "makespan": metrics["makespan"], "preemptions": metrics["preemptions"],
        "unserved": metrics["unserved"]})


def run_grid(cfg: GridConfig) -> pd.DataFrame:
    """One row per (batching, router, scenario) cell: total / mean E2E (s), makespan, preemptions, unserved."""
    loads = {s: scenario_workload(cfg, s) for s in cfg.scenarios}
    grid = pd.concat([run_batching(cfg, b, loads) for b in cfg.batchings], ignore_index=True)
    if (grid["unserved"] > 0).any():
        raise RuntimeError("run_grid: some cells hit service.max_time; raise it")
    return grid


def routing_vs_batching(grid: pd.DataFrame, column: str = "e2e_total", scenarios=SHUFFLED) -> pd.DataFrame:
    """C7 per (scenario, batching): the spread of ``column`` across routers, the largest spread across batchers of
    any router in that scenario, and whether the first exceeds the second (None with fewer than 2 batchings)."""
    rows = []
    for s in scenarios:
        cells = grid[grid["scenario"] == s]
        batcher_spread = cells.groupby("router")[column].agg(lambda v: v.max() - v.min()).max()
        n_batchings = cells["batching"].nunique()
        for b, group in cells.groupby("batching", sort=False):
            router_spread = group[column].max() - group[column].min()
            rows.append({"scenario": s, "batching": b, "router_spread": router_spread,
                         "max_batcher_spread": batcher_spread, "n_batchings": n_batchings,
                         "routing_matters_more": bool(router_spread > batcher_spread) if n_batchings > 1 else None})
    return pd.DataFrame(rows)


AXIS_LABELS = {"e2e_total": "total E2E latency (s)", "e2e_mean": "mean E2E latency (s)", "makespan": "makespan (s)",
               "preemptions": "preemptions"}


def plot_grid(ax, grid: pd.DataFrame, column: str = "e2e_total", title: str = "", legend: bool = True) -> None:
    """fig04: grouped bars of ``column`` per scenario, one bar per (batching, router) cell present in ``grid``
    (``legend=False`` for all but one panel of a figure whose panels share their cells)."""
    cells = list(dict.fromkeys(zip(grid["batching"], grid["router"])))
    scenarios = list(dict.fromkeys(grid["scenario"]))
    width = 0.8 / len(cells)
    for i, (b, r) in enumerate(cells):
        sub = grid[(grid["batching"] == b) & (grid["router"] == r)].set_index("scenario")
        ax.bar(np.arange(len(scenarios)) + (i - (len(cells) - 1) / 2) * width, sub.loc[scenarios, column],
               width, label=f"{b} / {r}", color=f"C{ROUTERS.index(r)}", alpha=1.0 - 0.3 * BATCHINGS.index(b),
               edgecolor="k", linewidth=0.3)
    ax.set_xticks(np.arange(len(scenarios)), scenarios)
    ax.set_xlabel("scenario")
    ax.set_ylabel(AXIS_LABELS.get(column, column))
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
