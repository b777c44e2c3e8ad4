"""The router benchmark runs at tiny scale and reports both rates and their ratio (no timing is asserted)."""
from repro.bench.router import run


def test_quick_router_bench_reports_the_vector_env_and_the_python_twin():
    out = run(quick=True)
    assert out["unit"] == "decisions/s"
    assert out["vector_env_rate"] > 0 and out["reference_rate"] > 0
    assert out["speedup_vs_reference"] > 0
    assert isinstance(out["meets_target"], bool)
