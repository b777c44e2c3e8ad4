"""repro.papers.workload_intelligence: the discount table is checked, the price model and its Shapley split on
problems with known answers, the eviction toy's invariants, and claims from a smoke run and crafted tables (brief 08)."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import papers
from repro.papers import ParameterError
from repro.papers import workload_intelligence as W


@pytest.fixture(scope="module")
def cfg():
    return papers.load_config("workload-intelligence", scale="smoke")


@pytest.fixture(scope="module")
def results(cfg):
    return W.run(cfg)


def test_discount_table_matches_the_code():
    table = W.load_discounts()
    assert tuple(table["optimization"]) == W.OPTIMIZATIONS
    assert (table["source"] != "none").any(), "at least one discount has a public source"


def test_a_bad_discount_row_is_named(tmp_path):
    table = W.load_discounts()
    table.loc[2, "low"] = 0.5  # above its default
    path = tmp_path / "discounts.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ParameterError, match=r"row 4 \(oversubscription\)"):
        W.load_discounts(path)
    table = W.load_discounts()
    table.loc[0, "eligible_when"] = "stateless"
    table.to_csv(path, index=False)
    with pytest.raises(ParameterError, match="differs from the code's rule"):
        W.load_discounts(path)


def test_bad_parameters_name_the_field():
    with pytest.raises(ParameterError, match="notice_leads_s"):
        papers.load_config("workload-intelligence", scale="smoke", notice_claim_s=45.0)


def test_reductions_multiply_and_cap():
    eligible = np.array([[1, 1], [1, 0], [0, 0]], dtype=bool)
    r = W.reductions(eligible, np.array([0.5, 0.5]), cap=0.9)
    assert r.tolist() == pytest.approx([0.75, 0.5, 0.0])
    assert W.reductions(eligible, np.array([0.9, 0.9]), cap=0.9)[0] == pytest.approx(0.9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 31), st.integers(1, 5))
def test_shapley_adds_up_and_treats_a_null_player_as_zero(seed, k):
    rng = np.random.default_rng(seed)
    eligible = rng.random((20, k + 1)) < 0.5
    eligible[:, -1] = False                       # the last optimisation applies to no workload
    d = rng.uniform(0, 0.9, k + 1)
    phi = W.shapley(eligible, d, cap=0.9)
    assert phi.sum() == pytest.approx(W.reductions(eligible, d, 0.9).mean())
    assert phi[-1] == pytest.approx(0.0)


def test_shapley_of_symmetric_optimisations_is_equal():
    eligible = np.ones((5, 2), dtype=bool)
    phi = W.shapley(eligible, np.array([0.5, 0.5]), cap=0.9)
    assert phi[0] == pytest.approx(phi[1]) and phi.sum() == pytest.approx(0.75)


def test_eligibility_follows_the_rules():
    workloads = pd.DataFrame({h: [True, False] for h in W.HINTS})
    e = W.eligibility(workloads)
    j = W.OPTIMIZATIONS.index("overclocking")  # scale_out and not delay_tolerant
    assert e[:, W.OPTIMIZATIONS.index("spot")].tolist() == [True, False] and e[:, j].tolist() == [False, False]


def test_lost_work_vanishes_once_the_notice_covers_a_checkpoint():
    interval, checkpoint = np.array([[30.0]]), np.array([[45.0]])
    phase = np.array([[0.5, 0.1]])
    assert W.lost_work(interval, checkpoint, phase, 30.0).tolist() == [[15.0, 3.0]]
    assert W.lost_work(interval, checkpoint, phase, 45.0).tolist() == [[0.0, 0.0]]


def test_run_and_claims(results, cfg):
    notice = results.notice.groupby("lead_s")["lost_min"].mean()
    assert np.all(np.diff(notice.to_numpy()) <= 0), "lost work falls with the lead time"
    assert results.shapley["shapley"].sum() == pytest.approx(results.workloads["reduction"].mean())
    assert np.all(np.diff(results.sensitivity["mean"]) >= 0)
    out = {c["id"]: c for c in W.claims(results, cfg)}
    assert out["C3"]["status"] == "by-construction"
    assert out["C2"]["status"] == "direction-holds"
    assert out["C1a"]["status"] in ("reproduced", "failed") and out["C1b"]["status"] in ("direction-holds", "failed",
                                                                                       "inconclusive")


def test_a_bracket_that_excludes_the_paper_fails(results, cfg):
    narrow = results.discounts.copy()
    narrow["low"] = narrow["high"] = narrow["default"] = 0.05
    crafted = dataclasses.replace(results, discounts=narrow)
    status = {c["id"]: c["status"] for c in W.price_claims(crafted, cfg)}
    assert status == {"C1a": "failed", "C1b": "failed"}
