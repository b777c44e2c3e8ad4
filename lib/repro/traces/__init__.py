"""Seeded synthetic request traces calibrated to public facts (briefs 01, 02, 03)."""
from repro.traces.layout import WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE, Trace, concatenate

__all__ = ["Trace", "WORKLOAD_INTERACTIVE", "WORKLOAD_NONINTERACTIVE", "concatenate"]
