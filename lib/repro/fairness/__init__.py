"""Fair multi-tenant LLM serving (brief 02, FairServe arXiv:2411.15997; VTC arXiv:2401.00588).

- :func:`scheduler` (schedulers.py): the queue policy of FCFS, RPM, VTC, WSC, OIT+VTC or FairServe (OIT+WSC) by
  name, for :class:`repro.replay.Simulation`; one numba policy (policy.py) with a pure-Python twin (reference.py).
- :func:`replay` (schedulers.py): one scheduler on one workload, on brief 02's server.
- :func:`make_workload`, :func:`server`, :func:`workload_params` (workload.py): the brief's workload calibrated to
  the server's capacity, app weights and OIT limits.
- metrics.py: service per tenant and time bin, backlog, service gaps, Jain's index, latency and throttling.
- xp_bins.py: the service bins, service counters, gaps and Jain's index on the array namespace (NumPy/CuPy).

The paper's experiment (every scheduler on each replicate, claims) is :mod:`repro.papers.fairserve`.
"""
from repro.fairness import metrics, xp_bins
from repro.fairness.policy import counter_policy, counters
from repro.fairness.reference import reference_policy
from repro.fairness.schedulers import LABELS, SCHEDULERS, Replay, replay, scheduler
from repro.fairness.workload import (FairServeWorkload, app_weights, load_shape, make_workload, measure_capacity,
                                     server, workload_params)

__all__ = ["FairServeWorkload", "LABELS", "Replay", "SCHEDULERS", "app_weights", "counter_policy", "counters",
           "load_shape", "make_workload", "measure_capacity", "metrics", "reference_policy", "replay", "scheduler",
           "server", "workload_params", "xp_bins"]
