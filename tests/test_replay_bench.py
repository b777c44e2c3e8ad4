"""The replay benchmark runs at tiny scale and reports what the README promises (no timing is asserted)."""
from repro.bench.replay import run


def test_quick_replay_bench_reports_rates_and_both_weeks():
    out = run(quick=True)
    assert out["rate"]["reference_equals_engine_on_prefix"]
    assert out["rate"]["engine_requests_per_s"] > 0 and out["rate"]["ratio"] > 0
    for week in ("week", "week_sageserve"):
        assert 0.99 <= out[week]["finished_share"] <= 1.0
        assert out[week]["gpu_hours"] > 0
    assert "prompts x 5" in out["week_sageserve"]["trace"]
