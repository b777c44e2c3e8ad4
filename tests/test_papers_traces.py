"""repro.papers.traces: claims on crafted results (every status they can take), run() at smoke scale."""
import numpy as np
import pandas as pd
import pytest

from repro.papers import load_config
from repro.papers import traces as paper

CFG = load_config("traces", scale="smoke")


def bootstrap(ks: dict[int, float], rho_gap: dict[int, float] | None = None) -> pd.DataFrame:
    """Per replicate r: both pools with KS distance ks[r] (prompt) and Spearman gap rho_gap[r]."""
    rho_gap = rho_gap or {r: 0.0 for r in ks}
    return pd.DataFrame([{"kind": kind, "replicate": r, "ks_prompt": ks[r], "ks_output": ks[r] / 2,
                          "rho_synthetic": 0.1 + rho_gap[r], "rho_public": 0.1}
                         for kind in ("code", "conv") for r in ks],
                        columns=["kind", "replicate", "ks_prompt", "ks_output", "rho_synthetic", "rho_public"])


def tokens(public_rows: int) -> pd.DataFrame:
    rows = [{"kind": k, "source": paper.SYNTHETIC, "prompt": 10, "output": 5} for k in ("code", "conv")]
    rows += [{"kind": "conv", "source": paper.PUBLIC, "prompt": 10, "output": 5}] * public_rows
    return pd.DataFrame(rows)


def latency(errors, source="public tables") -> pd.DataFrame:
    errors = np.asarray(errors, float)
    return pd.DataFrame({"model": "A", "gpu": "a100-80gb", "tp": 8, "kind": "decode", "prompt_size": 128,
                         "batch_size": 1, "token_size": 128, "measured_s": 1.0, "fitted_s": 1.0 + errors,
                         "rel_err": errors, "source": source})


def results(*, public_rows=100, ks=None, rho_gap=None, errors=(0.01, 0.02, 0.03, 0.05), latency_source="public tables"):
    ks = ks if ks is not None else {0: 0.005, **{r: 0.006 + 0.0001 * r for r in range(1, 41)}}
    shape = pd.DataFrame([{"kind": kind, "metric": metric, "sampled": 1.0, "exact": 1.1}
                          for _, kind, metric, *_ in paper.RATE_CLAIMS])
    mix = pd.DataFrame({"workload": ["IW", "IW", "NIW", "NIW"], "sla_s": [10.0, 3600.0, 86400.0, np.inf],
                        "target_share": [0.7, 0.1, 0.1, 0.1], "requests": [700, 101, 99, 100],
                        "share": [0.7, 0.101, 0.099, 0.1]})
    datasets = pd.DataFrame([{"dataset": "azure-llm-2023", "used": public_rows > 0, "rows": public_rows, "detail": "x"},
                             {"dataset": "sageserve-perf", "used": True, "rows": 4, "detail": "y"}])
    return paper.Results(datasets, tokens(public_rows), bootstrap(ks if public_rows else {}, rho_gap),
                         pd.DataFrame(), shape, mix, pd.DataFrame(), latency(errors, latency_source))


def statuses(res) -> dict[str, str]:
    return {c["id"]: c["status"] for c in paper.claims(res, CFG)}


def test_with_the_public_data_the_comparisons_reproduce_and_the_rest_is_by_construction():
    got = statuses(results())
    assert got["T1"] == got["T2"] == got["T11"] == "reproduced"
    assert {got[f"T{i}"] for i in range(3, 11)} == {"by-construction"}
    t1 = paper.claims(results(), CFG)[0]
    assert t1["effect"] == 0.005 and t1["n"] == 100 and t1["regime_check"][0]["value"] == 100
    assert t1["ci_low"] > 0.006 and t1["ci_high"] < 0.0103


def test_intervals_beyond_the_thresholds_fail():
    far = {r: 0.5 for r in range(0, 41)}
    got = statuses(results(ks=far, rho_gap=far, errors=[0.5, 0.6, 0.7]))
    assert got["T1"] == got["T2"] == got["T11"] == "failed"


def test_without_the_public_data_the_comparisons_are_not_testable():
    res = results(public_rows=0, latency_source="committed coefficients")
    got = statuses(res)
    assert got["T1"] == got["T2"] == got["T11"] == "not-testable"
    assert "public 2023 trace requests read = 0" in paper.claims(res, CFG)[0]["reason"]
    assert paper.data_record(res)["azure-llm-2023"].startswith("unavailable: ")


def test_without_resamples_or_rows_there_is_no_interval():
    got = statuses(results(ks={0: 0.005}, errors=[0.01]))
    assert got["T1"] == got["T2"] == got["T11"] == "inconclusive"


def test_by_construction_reasons_come_from_the_numbers():
    claims = {c["id"]: c for c in paper.claims(results(), CFG)}
    assert "the shape itself gives 1.1" in claims["T3"]["reason"]
    assert "1,000 requests give a largest share error of 0.001" in claims["T10"]["reason"]


def test_config_rejects_out_of_range_values():
    with pytest.raises(ValueError, match="bootstrap_resamples"):
        load_config("traces", scale="smoke", bootstrap_resamples=5)
    with pytest.raises(ValueError, match="ks_threshold"):
        load_config("traces", scale="smoke", ks_threshold=1.5)


def test_without_data_the_run_says_so_and_draws_the_committed_rows(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_DATA_MIRROR", raising=False)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    assert paper.dataset_status("azure-llm-2023")["used"] is False
    frame, boot = paper.token_comparison(load_config("traces", scale="smoke", token_samples=1000), False)
    assert set(frame["source"]) == {paper.SYNTHETIC} and boot.empty
    assert set(paper.latency_fit(False)["source"]) == {"committed coefficients"}


@pytest.mark.slow
def test_run_at_smoke_scale_gives_tidy_tables(data_mirror):
    cfg = load_config("traces", scale="smoke", bootstrap_resamples=20)
    res = paper.run(cfg)
    assert res.datasets["used"].all()
    assert res.tokens.groupby(["kind", "source"]).size().loc[(slice(None), paper.SYNTHETIC)].eq(cfg.token_samples).all()
    assert res.token_bootstrap.groupby("kind")["replicate"].nunique().eq(cfg.bootstrap_resamples + 1).all()
    assert list(res.rates.columns) == ["kind", "minute", "per_minute", "hourly", "intensity"]
    assert len(res.rates) == 2 * 7 * 1440
    assert res.sla_mix["requests"].sum() == cfg.week_requests
    assert len(res.weekly_load) == 2 * 42 and set(res.weekly_load["workload"]) == {"IW", "NIW"}
    assert list(res.latency.columns) == [*paper.LATENCY_COLUMNS, "source"] and len(res.latency) > 600
    got = statuses(res)
    assert got["T1"] in ("reproduced", "failed") and got["T11"] in ("reproduced", "failed")
