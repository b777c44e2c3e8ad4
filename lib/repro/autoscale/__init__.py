"""SageServe's scaling controllers on the replay engine (brief 01 §2 "Short-term arbiters", "Long-term ILP",
"Global router"; §3 baselines Reactive, Chiron, Siloed).

- arbiters.py: :class:`Reactive`, :class:`LongTermImmediate` (LT-I), :class:`LongTermQuota` (LT-U with
  ``override="util"``, LT-UA with ``override="forecast_ratio"``), :class:`Chiron`; each ``act(view) -> steps``.
- view.py: :func:`endpoint_view`, the per-endpoint aggregates an arbiter reads.
- spot.py: :class:`SpotPool`, each region's spot capacity (65 s reclaim, 155 s spin-up).
- planner.py: :class:`HourlyPlanner` (forecast + ILP every hour), :func:`hourly_forecasts`,
  :func:`hourly_in_sample_forecasts` (the code's oracle-like reading), :func:`minute_series`,
  :func:`instance_capacity` (the ILP's TPS per model from our service model).
- runner.py: :func:`run_strategy`, :class:`Strategy`, :func:`make_strategies`, :class:`ServeConfig`.
- metrics.py: GPU-hours, overhead, latency/SLA, utility, memory utilisation of a :class:`StrategyRun`.
"""
from repro.autoscale.arbiters import (Arbiter, Chiron, HourPlan, LongTermImmediate, LongTermQuota, Reactive,
                                      threshold_steps)
from repro.autoscale.metrics import (effective_memory_util, gpu_hours, instance_hours_by, memory_util_samples,
                                     overhead_gpu_hours, request_stats, run_summary, utility_per_day)
from repro.autoscale.planner import (Capacity, CapacityConfig, HourlyPlanner, hourly_forecasts,
                                     hourly_in_sample_forecasts, hourly_niw_max_prompt, instance_capacity,
                                     minute_series, steady_trace)
from repro.autoscale.runner import (ScalingExecutor, ServeConfig, Strategy, StrategyRun, build_simulation,
                                    make_strategies, run_strategy)
from repro.autoscale.spot import RECLAIM_S, SPIN_DOWN_S, SPIN_UP_S, SpotPool
from repro.autoscale.view import EndpointView, endpoint_view

__all__ = ["Arbiter", "Capacity", "CapacityConfig", "Chiron", "EndpointView", "HourPlan", "HourlyPlanner",
           "LongTermImmediate", "LongTermQuota",
           "RECLAIM_S", "Reactive", "SPIN_DOWN_S", "SPIN_UP_S", "ScalingExecutor", "ServeConfig", "SpotPool",
           "Strategy", "StrategyRun", "build_simulation", "effective_memory_util", "endpoint_view", "gpu_hours",
           "hourly_forecasts", "hourly_in_sample_forecasts", "hourly_niw_max_prompt", "instance_capacity",
           "instance_hours_by", "make_strategies",
           "memory_util_samples", "minute_series", "overhead_gpu_hours", "request_stats", "run_strategy",
           "run_summary", "steady_trace", "threshold_steps", "utility_per_day"]
