"""Optimisation and forecasting for capacity planning (brief 01 SageServe §2 "Long-term ILP" and "Forecast").

- :func:`solve_scaling_ilp` (ilp.py): the hourly instance-scaling ILP with the Δ⁺/Δ⁻ split, CBC via ``mip``;
  :class:`ScalingPlan` its result (status "optimal" / "infeasible" / "timeout" / "error"; never raises on a bad
  solve); :func:`ilp_demand` the demand D_ij from a forecast.
- :class:`SeasonalNaive`, :class:`SarimaxFourier` (forecast.py): per-minute load forecasters fed only with
  observed minutes (no look-ahead); :func:`with_forecast_noise` for the sensitivity study;
  :func:`in_sample_forecasts`, the code's in-sample ARIMA(3,1,2) reading (oracle-like ablation).
"""
from repro.plan.forecast import (IN_SAMPLE_ARIMA_ORDER, SarimaxFourier, SeasonalNaive, fourier_terms,
                                 in_sample_forecasts, make_forecaster, mape, one_step_in_sample, rolling_forecasts,
                                 with_forecast_noise)
from repro.plan.ilp import (GPU_COST_A100, STARTUP_COST, STATUS_ERROR, STATUS_INFEASIBLE, STATUS_OPTIMAL,
                            STATUS_TIMEOUT, STATUSES, TPS_A100, TPS_BY_MODEL, ScalingPlan, ilp_demand, plan_objective,
                            solve_scaling_ilp)

__all__ = ["GPU_COST_A100", "IN_SAMPLE_ARIMA_ORDER", "STARTUP_COST", "STATUSES", "STATUS_ERROR",
           "STATUS_INFEASIBLE", "STATUS_OPTIMAL", "STATUS_TIMEOUT", "SarimaxFourier", "ScalingPlan", "SeasonalNaive",
           "TPS_A100", "TPS_BY_MODEL", "fourier_terms", "ilp_demand", "in_sample_forecasts", "make_forecaster", "mape",
           "one_step_in_sample", "plan_objective", "rolling_forecasts", "solve_scaling_ilp", "with_forecast_noise"]
