"""Latency model: reading of the tables' units, fit error against every table row, committed coefficients,
KV capacity (brief 01 formula), TP fallback, and the evaluation API the replay engine uses."""
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro import latency
from repro.data import dataset


@pytest.fixture(scope="module")
def perf_paths():
    """The SageServe tables from the mirror (module scope, so not conftest's function-scoped data_mirror)."""
    mirror = Path(os.environ.get("REPRO_DATA_MIRROR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (mirror / "sageserve-perf").is_dir():
        pytest.skip(f"public data mirror {mirror} not available (set REPRO_DATA_MIRROR)")
    return [mirror / "sageserve-perf" / f.name for f in dataset("sageserve-perf").files]


@pytest.fixture(scope="module")
def refit(perf_paths):
    return latency.fit_latency_tables(perf_paths)


def test_unit_reading_is_what_the_numbers_say(perf_paths):
    raw = pd.read_csv(perf_paths[0])
    short = raw[raw["token_size"] == 128]
    ab = short[short["model"].isin(["A", "B"])]
    # ms and per-step token_time: e2e = prompt + (token_size - 1) * token_time, within 3 %
    ratio = (ab["e2e_time"] - ab["prompt_time"]) / ab["token_time"]
    assert np.median(ratio) == pytest.approx(127, rel=0.01)
    assert ab["token_time"].median() > 20       # tens of ms per step: milliseconds
    cd = raw[raw["model"].isin(["C", "D"])]
    # seconds and whole-decode token_time: e2e = prompt + token_time, and token_time doubles with token_size
    assert np.allclose(cd["e2e_time"], cd["prompt_time"] + cd["token_time"], rtol=0.03)
    one = cd[(cd["prompt_size"] == 512) & (cd["batch_size"] == 1) & (cd["model"] == "C") & (cd["tensor_parallel"] == 4)]
    per_size = one.groupby("token_size")["token_time"].median()
    assert per_size[256] / per_size[128] == pytest.approx(2.0, rel=0.02)
    # the 4-model file's C at TP4 is the Llama-3.1-8B TP2 file
    llama = pd.read_csv(perf_paths[1])
    c4 = raw[(raw["model"] == "C") & (raw["tensor_parallel"] == 4)].reset_index(drop=True)
    assert np.allclose(c4[["prompt_time", "token_time"]].to_numpy(), llama[["prompt_time", "token_time"]].to_numpy())


def test_fit_error_against_every_table_row(refit):
    rows = []
    for t in refit["tables"]:
        for kind, prompt, batch, tokens, measured, fitted, rel in t["rows"]:
            rows.append({"table": f"{t['model']} {t['gpu']} tp{t['tp']}", "kind": kind, "prompt": prompt,
                         "batch": batch, "token_size": tokens, "measured_s": measured, "fitted_s": fitted,
                         "rel_err": rel})
    df = pd.DataFrame(rows)
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(df.to_string(index=False))
    err = df["rel_err"].abs()
    worst = df.loc[err.idxmax()]
    print(f"worst row: {worst.to_dict()}")
    summary = df.assign(abs_err=err).groupby("kind")["abs_err"].median()
    print("median |relative error| per kind:", summary.to_dict())
    assert err.median() < 0.10, f"median relative error {err.median():.3f}; worst row {worst.to_dict()}"
    assert summary.max() < 0.10
    for t in refit["tables"]:  # every table on its own
        assert t["fit_error"]["decode_median_abs_rel"] < 0.10, t["model"]
        assert t["fit_error"]["prefill_median_abs_rel"] < 0.15, t["model"]
    assert all(v >= 0 for t in refit["tables"] for v in t["prefill"] + t["decode"])


def test_committed_coefficients_equal_the_refit(refit):
    committed = json.loads(latency.COEFFICIENTS_PATH.read_text())
    assert committed["source"].startswith("github.com/shashwatj07/SageServe")
    assert "MIT" in committed["licence"]
    assert [(t["model"], t["gpu"], t["tp"]) for t in committed["tables"]] == \
        [(t["model"], t["gpu"], t["tp"]) for t in refit["tables"]]
    for a, b in zip(committed["tables"], refit["tables"]):
        np.testing.assert_allclose(a["prefill"], b["prefill"], rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(a["decode"], b["decode"], rtol=1e-4, atol=1e-12)
        assert a["decode_batch_max"] == b["decode_batch_max"]


def test_kv_capacity_follows_brief_01():
    m = latency.load_latency_model()
    expected = [(640e9 - 135e9) / (2 * 80 * 8192 * 2), (640e9 - 329e9) / (2 * 70 * 14336 * 2),
                (640e9 - 51e9) / (2 * 32 * 4096 * 2), (640e9 - 19.5e9) / (2 * 16 * 2048 * 2)]
    assert m.kv_capacity_tokens.tolist() == [int(x) for x in expected]
    assert m.kv_capacity_tokens.dtype == np.int64
    with pytest.raises(ValueError, match="do not fit"):
        latency.kv_capacity_tokens("B", "a100-80gb", 2)


def test_tp_fallback_is_recorded():
    with pytest.warns(UserWarning, match="no tp=2 table"):
        m = latency.load_latency_model(("C",), tp=2)
    assert "fallback" in m.tables[0] and "tp4" in m.tables[0]
    m = latency.load_latency_model(("Llama-3.1-8B",), tp=2)
    assert "fallback" not in m.tables[0]
    with pytest.raises(ValueError, match="no profiled table"):
        latency.load_latency_model(("Z",))


def test_evaluation_api_matches_the_formula():
    m = latency.load_latency_model()
    assert m.prefill.shape == (4, 3) and m.decode.shape == (4, 3) and m.names == ("A", "B", "C", "D")
    p0, p1, p2 = m.prefill[1]
    assert m.prefill_time(1, 2000) == pytest.approx(p0 + p1 * 2000 + p2 * 2000 ** 2, rel=1e-12)
    d0, d1, d2 = m.decode[2]
    assert m.decode_time(2, 16, 30000) == pytest.approx(d0 + d1 * 16 + d2 * 30000, rel=1e-12)
    vec = m.prefill_time(np.array([0, 1, 2, 3]), np.array([100, 200, 300, 400]))
    assert vec.shape == (4,) and np.all(np.diff(m.prefill_time(0, np.array([1, 10, 100, 1000]))) > 0)
    # A at TP8 on A100: about 45 ms per decode step at batch 1 and 0.1 s to prefill 512 tokens (SageServe table)
    assert m.decode_time(0, 1, 600) == pytest.approx(0.045, rel=0.1)
    assert m.prefill_time(0, 512) == pytest.approx(0.094, rel=0.1)


def test_decode_batch_term_is_capped_at_the_profiled_range():
    """Brief 01 §7: A/B were profiled up to batch 64, C/D up to 32; beyond, the batch term stays at its value there
    (the decode bound is a cap) while the context term stays linear."""
    m = latency.load_latency_model()
    assert m.decode_batch_max.tolist() == [64, 64, 32, 32] and latency.DECODE_BOUND == "cap"
    committed = json.loads(latency.COEFFICIENTS_PATH.read_text())
    assert all(t["decode_batch_max"] == max(r[2] for r in t["rows"] if r[0] == "decode") for t in committed["tables"])
    d0, d1, d2 = m.decode[0]
    assert m.decode_time(0, 512, 40_000) == pytest.approx(d0 + d1 * 64 + d2 * 40_000, rel=1e-12)
    assert m.decode_time(0, 512, 40_000) < d0 + d1 * 512 + d2 * 40_000
    assert m.decode_time(0, 16, 40_000) == pytest.approx(d0 + d1 * 16 + d2 * 40_000, rel=1e-12)
    assert "A: 64" in latency.decode_bound_text(m) and "cap" in latency.decode_bound_text(m)
