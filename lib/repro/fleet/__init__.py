"""The synthetic first-party VM fleet shared by papers 07 (characterisation) and 08 (Workload Intelligence).

- survey.py: 188 workloads' survey answers (published marginals, Gaussian copula), VMs per workload, regions.
- telemetry.py: per-VM lifetimes and 5-minute CPU, calibrated to Resource Central's quantiles; the chunked
  reduction through repro.sweep (serial or Dask).
- stats.py: the numba per-VM reduction (mean, P95, diurnal power share) and its NumPy twin.
"""
from repro.fleet.stats import SAMPLES_PER_DAY, vm_cpu_stats, vm_cpu_stats_reference
from repro.fleet.survey import OUR_SHARES, QUESTIONS, SURVEY_SHARES, answer_shares, draw_survey
from repro.fleet.telemetry import (TARGETS, FleetSpec, calibrate, core_hour_share_long, cpu_series, fit_report,
                                   reduce_fleet, vm_table, workloads_of)

__all__ = ["FleetSpec", "OUR_SHARES", "QUESTIONS", "SAMPLES_PER_DAY", "SURVEY_SHARES", "TARGETS", "answer_shares",
           "calibrate", "core_hour_share_long", "cpu_series", "draw_survey", "fit_report", "reduce_fleet",
           "vm_cpu_stats",
           "vm_cpu_stats_reference", "vm_table", "workloads_of"]
