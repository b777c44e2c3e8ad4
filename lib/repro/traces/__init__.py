"""Seeded synthetic request traces calibrated to public facts (briefs 01 SageServe, 02 FairServe, 03 Router).

- :class:`Trace` (:mod:`repro.core.trace`, re-exported): the struct-of-arrays request trace every replay consumes.
- :func:`generate_weekly_trace` (weekly.py): week-long multi-region, multi-model IW/NIW trace (brief 01).
- :func:`generate_multitenant_trace` (multitenant.py): users x 34 applications with multi-call interactions (brief 02).
- :func:`token_samplers` (tokens.py): prompt/output lengths from the 2023 Azure trace's quantile tables or the trace itself.
- xp_stats.py: binned rates, quantiles, KS distances and Spearman's rho on the array namespace (NumPy/CuPy).
"""
from repro.core.trace import WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE, Trace, concatenate
from repro.traces import xp_stats
from repro.traces.multitenant import AppTable, MultiTenantWorkload, UserTable, generate_multitenant_trace
from repro.traces.tokens import EmpiricalTokens, QuantileTokens, empirical_tokens, quantile_tokens, token_samplers
from repro.traces.weekly import (CLASS_SHAPE, RATE_TARGETS_2024, SLA_MIX, WEEK_S, arrival_rate, binned_load, calibration_rates,
                                 generate_weekly_trace, shape_metrics, window_share)

__all__ = [
    "AppTable", "CLASS_SHAPE", "EmpiricalTokens", "MultiTenantWorkload", "QuantileTokens", "RATE_TARGETS_2024",
    "SLA_MIX", "Trace", "UserTable", "WEEK_S", "WORKLOAD_INTERACTIVE", "WORKLOAD_NONINTERACTIVE", "arrival_rate",
    "binned_load", "calibration_rates",
    "concatenate", "empirical_tokens", "generate_multitenant_trace", "generate_weekly_trace", "quantile_tokens",
    "shape_metrics", "token_samplers", "window_share", "xp_stats",
]
