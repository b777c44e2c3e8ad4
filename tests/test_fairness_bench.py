"""The fairness benchmark runs in its quick form and returns the rates and ratios it promises (no speed asserted)."""
import json

from repro.bench.fairness import run


def test_quick_benchmark_reports_rates_and_ratios():
    out = run(quick=True)
    json.dumps(out)
    scale, ref = out["scale"], out["reference"]
    for key in ("rate_fcfs_plain", "rate_fcfs", "rate_vtc", "rate_fairserve", "counter_cost_vtc", "counter_cost_fairserve"):
        assert scale[key] > 0
    for key in ("rate_numba_vtc", "rate_python_vtc", "speedup_vtc", "speedup_fairserve"):
        assert ref[key] > 0
