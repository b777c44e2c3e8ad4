"""Hourly instance-scaling ILP of SageServe (brief 01 §2 "Long-term ILP, re-solved every 3600 s"), solved with
``mip`` / CBC.

Indices: model i, region j, GPU type k. Parameters: ``current`` c_ijk instances, ``demand`` D_ij (forecast prompt
tokens per minute, see below), ``tps`` TPS_ik tokens one instance serves in the same unit, ``gpu_cost`` g_k and
``startup_cost`` s_ik. Variables Δ_ijk = Δ⁺_ijk − Δ⁻_ijk with Δ⁺, Δ⁻ ∈ ℤ≥0 (our choice; equivalent to the code's
big-M formulation with binaries r + s = 1 and N = s·Δ, because a plan with both Δ⁺ > 0 and Δ⁻ > 0 costs s_ik more
per unit than the same net change and is never optimal)::

    min  Σ_ijk g_k·(Δ⁺_ijk − Δ⁻_ijk) + s_ik·Δ⁺_ijk
    s.t. Δ⁻_ijk ≤ c_ijk                                  (Δ ≥ −c)
         Σ_k (c_ijk + Δ⁺_ijk − Δ⁻_ijk)·TPS_ik ≥ D_ij       ∀ i, j
         Σ_i (c_ijk + Δ⁺_ijk − Δ⁻_ijk) ≤ cap_jk            ∀ j, k   (optional fleet size, our choice)

The fleet constraint is ours: the released simulator scales up only by reclaiming spot capacity of the region,
so a region never holds more instances than its fleet; with it the ILP can be infeasible (demand above what the
fleet serves). An infeasible, timed-out or failed solve never raises: :class:`ScalingPlan` carries the status and
``delta`` is all zeros (keep the current allocation), so a week-long replay carries on.

Units [code]: the simulator's forecast is a 1-minute series and TPS_ik = 30 × (tokens/s one instance prefills)
(A 30×7516.67, B 30×5398.07, C and D 30×1.6e6), i.e. tokens per minute at 50 % of peak throughput; we read D_ij
as prompt tokens per minute accordingly. C and D are then effectively unconstrained (one instance serves any
demand), as in the code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

#: brief 01 §2 [code]: per-instance throughput (prompt tokens per minute, see the module docstring) on A100.
TPS_BY_MODEL = {"A": 30 * 7516.67, "B": 30 * 5398.07, "C": 30 * 1.6e6, "D": 30 * 1.6e6}
TPS_A100 = tuple(TPS_BY_MODEL[m] for m in "ABCD")
GPU_COST_A100 = 10.0      #: g_k [code]
STARTUP_COST = 150.0      #: s_ik [code]

STATUS_OPTIMAL = "optimal"
STATUS_INFEASIBLE = "infeasible"
STATUS_TIMEOUT = "timeout"        # time limit reached before optimality was proven (feasible or not)
STATUS_ERROR = "error"            # any other solver outcome (unbounded, numerical trouble)
STATUSES = (STATUS_OPTIMAL, STATUS_INFEASIBLE, STATUS_TIMEOUT, STATUS_ERROR)


@dataclass(frozen=True)
class ScalingPlan:
    """Result of one ILP solve.

    delta: int64 (n_models, n_regions, n_gpus), Δ = Δ⁺ − Δ⁻ (all zeros unless status is "optimal").
    objective: optimal objective value (NaN unless optimal). status: one of STATUSES. seconds: wall time of
    building and solving the model. reason: the solver's status name when not optimal.
    """

    delta: np.ndarray
    objective: float
    status: str
    seconds: float
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OPTIMAL

    @property
    def scale_up(self) -> np.ndarray:
        return np.maximum(self.delta, 0)

    @property
    def scale_down(self) -> np.ndarray:
        return np.maximum(-self.delta, 0)


def _as_inputs(current, demand, tps, gpu_cost, startup_cost, max_instances):
    c = np.asarray(current)
    if c.ndim == 2:
        c = c[:, :, None]
    if c.ndim != 3 or np.any(c < 0) or not np.all(np.equal(np.mod(c, 1), 0)):
        raise ValueError(f"current: expected non-negative integer counts of shape (models, regions[, gpus]), "
                         f"got shape {np.shape(current)}")
    c = c.astype(np.int64)
    n_i, n_j, n_k = c.shape
    d = np.asarray(demand, np.float64)
    if d.shape != (n_i, n_j) or not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"demand: expected finite non-negative values of shape ({n_i}, {n_j}), got {d.shape} "
                         f"with min {np.min(d) if d.size else 'n/a'}")
    tp = np.asarray(tps, np.float64).reshape(n_i, -1) if np.size(tps) == n_i * n_k else None
    if tp is None or tp.shape != (n_i, n_k) or np.any(tp <= 0):
        raise ValueError(f"tps: expected positive throughputs of shape ({n_i}, {n_k}), got shape {np.shape(tps)}")
    g = np.broadcast_to(np.asarray(gpu_cost, np.float64), (n_k,)).copy()
    s = np.broadcast_to(np.asarray(startup_cost, np.float64), (n_i, n_k)).copy()
    cap = None
    if max_instances is not None:
        cap = np.broadcast_to(np.asarray(max_instances, np.float64), (n_j, n_k)).copy()
        if np.any(cap < 0):
            raise ValueError("max_instances: expected non-negative fleet sizes per (region, gpu)")
    return c, d, tp, g, s, cap


def plan_objective(delta, gpu_cost, startup_cost) -> float:
    """Objective of a net plan Δ (n_models, n_regions, n_gpus): Σ g_k·Δ + s_ik·max(Δ, 0)."""
    delta = np.asarray(delta, np.float64)
    g = np.broadcast_to(np.asarray(gpu_cost, np.float64), delta.shape[2:])
    s = np.broadcast_to(np.asarray(startup_cost, np.float64), (delta.shape[0], delta.shape[2]))
    return float((delta * g[None, None, :]).sum() + (np.maximum(delta, 0) * s[:, None, :]).sum())


def solve_scaling_ilp(current, demand, tps=TPS_A100, gpu_cost=GPU_COST_A100, startup_cost=STARTUP_COST, *,
                      max_instances=None, time_limit: float = 10.0, max_nodes: int = 100_000,
                      seed: int = 0) -> ScalingPlan:
    """Solve the hourly scaling ILP (module docstring) with CBC: one thread, fixed seed, messages off.

    current: (n_models, n_regions) or (n_models, n_regions, n_gpus) instance counts; demand: (n_models, n_regions);
    tps: (n_models, n_gpus) (or (n_models,) for one GPU type); gpu_cost: (n_gpus,) or scalar; startup_cost:
    (n_models, n_gpus) or scalar; max_instances: None or the fleet size per (region, gpu) (scalar broadcasts);
    time_limit: seconds for CBC; max_nodes: branch-and-bound nodes (a deterministic limit, unlike the time).
    Reaching either limit before optimality is status "timeout". Never raises on an infeasible or unsolved
    model: see :class:`ScalingPlan`. Constraints hold within CBC's feasibility tolerance (1e-6: a demand of
    1e-7 tokens per minute can be left unserved).
    """
    import mip

    c, d, tp, g, s, cap = _as_inputs(current, demand, tps, gpu_cost, startup_cost, max_instances)
    if not time_limit > 0:
        raise ValueError(f"time_limit: expected > 0 seconds, got {time_limit}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes: expected >= 1, got {max_nodes}")
    n_i, n_j, n_k = c.shape
    t0 = time.perf_counter()
    model = mip.Model(sense=mip.MINIMIZE, solver_name=mip.CBC)
    model.verbose = 0
    model.threads = 1
    model.seed = int(seed)
    idx = [(i, j, k) for i in range(n_i) for j in range(n_j) for k in range(n_k)]
    up = {x: model.add_var(f"up_{x[0]}_{x[1]}_{x[2]}", lb=0, var_type=mip.INTEGER) for x in idx}
    # Δ⁻ ≤ c_ijk is the variable's upper bound
    down = {x: model.add_var(f"down_{x[0]}_{x[1]}_{x[2]}", lb=0, ub=float(c[x]), var_type=mip.INTEGER) for x in idx}
    model.objective = mip.xsum(g[x[2]] * (up[x] - down[x]) + s[x[0], x[2]] * up[x] for x in idx)
    for i in range(n_i):
        for j in range(n_j):
            model.add_constr(mip.xsum(tp[i, k] * (float(c[i, j, k]) + up[i, j, k] - down[i, j, k])
                                      for k in range(n_k)) >= float(d[i, j]), name=f"demand_{i}_{j}")
    if cap is not None:
        for j in range(n_j):
            for k in range(n_k):
                model.add_constr(mip.xsum(float(c[i, j, k]) + up[i, j, k] - down[i, j, k] for i in range(n_i))
                                 <= float(cap[j, k]), name=f"fleet_{j}_{k}")
    status = model.optimize(max_seconds=float(time_limit), max_nodes=int(max_nodes))
    seconds = time.perf_counter() - t0
    zero = np.zeros_like(c)
    if status == mip.OptimizationStatus.OPTIMAL:
        delta = np.zeros_like(c)
        for x in idx:
            delta[x] = int(round(up[x].x)) - int(round(down[x].x))
        return ScalingPlan(delta, plan_objective(delta, g, s), STATUS_OPTIMAL, seconds)
    if status == mip.OptimizationStatus.INFEASIBLE:
        return ScalingPlan(zero, float("nan"), STATUS_INFEASIBLE, seconds, status.name)
    if status in (mip.OptimizationStatus.FEASIBLE, mip.OptimizationStatus.NO_SOLUTION_FOUND):
        return ScalingPlan(zero, float("nan"), STATUS_TIMEOUT, seconds, status.name)
    return ScalingPlan(zero, float("nan"), STATUS_ERROR, seconds, status.name)


def ilp_demand(forecast_iw, niw_max_prompt, window=(20, 60), niw_factor: float = 0.1) -> np.ndarray:
    """Brief 01 §2 [code] demand D_ij: the maximum of the IW forecast over the minutes starting in
    [t + window[0], t + window[1]) min, plus ``niw_factor`` × the largest NIW prompt seen in the last hour.

    forecast_iw: (n_models, n_regions, horizon) forecast prompt tokens per minute, index h = the minute starting
    h minutes after the decision time (horizon >= window[1]); niw_max_prompt: (n_models, n_regions).
    Negative forecasts count as 0.
    """
    f = np.asarray(forecast_iw, np.float64)
    lo, hi = window
    if f.ndim != 3 or f.shape[2] < hi or not 0 <= lo < hi:
        raise ValueError(f"forecast_iw: expected (models, regions, horizon >= {hi}) for window {window}, "
                         f"got shape {f.shape}")
    peak = np.maximum(f[:, :, lo:hi].max(axis=2), 0.0)
    return peak + niw_factor * np.asarray(niw_max_prompt, np.float64)
