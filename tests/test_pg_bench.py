"""The pg benchmark runs in its quick form and returns the rates, ratios and targets it promises (no speed asserted)."""
import json

import pytest

from repro.bench.pg import run


def test_quick_benchmark_reports_rates_ratios_and_targets():
    pytest.importorskip("gymnasium")
    out = run(quick=True)
    json.dumps(out)
    assert set(out) == {"mountain_car", "pendulum", "srma"}
    for name in ("mountain_car", "pendulum"):
        entry = out[name]
        for key in ("kernel_rate", "gymnasium_rate", "reference_rate", "speedup_vs_gymnasium", "speedup_vs_reference"):
            assert entry[key] > 0, (name, key)
        assert entry["target"].startswith("speedup_vs_gymnasium") and isinstance(entry["meets_target"], bool)
    srma = out["srma"]
    assert srma["kernel_rate"] > 0 and srma["reference_rate"] > 0 and srma["speedup_vs_reference"] > 0
    assert srma["target"].startswith("speedup_vs_reference") and isinstance(srma["meets_target"], bool)

