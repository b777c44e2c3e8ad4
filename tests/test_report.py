"""repro.report: statuses follow from intervals and regime checks, metrics.json follows its schema, outputs are deterministic."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import report
from repro.report import Interval, Regime
from repro.report.metrics import MetricsError

OK = Regime("share of minutes with >= 2 backlogged users", 0.8, 0.5)
BAD = Regime("share of minutes with >= 2 backlogged users", 0.1, 0.5)


def _iv(effect, low, high, n=10):
    return Interval(effect, low, high, n, "test")


@pytest.mark.parametrize("interval, expected, status", [
    (_iv(2.0, 1.0, 3.0), ">", "direction-holds"),
    (_iv(-2.0, -3.0, -1.0), ">", "failed"),
    (_iv(0.5, -1.0, 2.0), ">", "inconclusive"),
    (_iv(-2.0, -3.0, -1.0), "<", "direction-holds"),
    (_iv(2.0, 1.0, 3.0), "<", "failed"),
    (_iv(1.0, float("nan"), float("nan"), 1), ">", "inconclusive"),
])
def test_direction_status_is_decided_by_the_interval(interval, expected, status):
    claim = report.direction("C1", "x", "a > b", interval, OK, expected=expected)
    assert claim["status"] == status
    assert claim["ci_low"] == (None if np.isnan(interval.low) else interval.low)


def test_a_failed_regime_check_makes_any_claim_not_testable():
    claim = report.direction("C1", "x", "a > b", _iv(2.0, 1.0, 3.0), [OK, BAD])
    assert claim["status"] == "not-testable"
    assert "0.1" in claim["reason"] and "0.5" in claim["reason"]
    assert report.reproduce("C2", "x", "1", _iv(1.0, 0.9, 1.1), (0.7, 1.3), BAD)["status"] == "not-testable"


@pytest.mark.parametrize("interval, status", [
    (_iv(1.2, 1.1, 1.4), "reproduced"),      # inside the band
    (_iv(1.6, 1.25, 2.0), "reproduced"),     # overlaps its upper end
    (_iv(1.8, 1.5, 2.0), "failed"),          # entirely above
    (_iv(float("nan"), float("nan"), float("nan"), 0), "inconclusive"),
])
def test_reproduce_status_is_overlap_with_the_band(interval, status):
    assert report.reproduce("C1", "x", "≈1", interval, (0.7, 1.3), OK)["status"] == status


def test_reason_is_computed_from_the_numbers():
    a = report.direction("C1", "x", "a > b", _iv(2.0, 1.0, 3.0), OK, unit="%")
    b = report.direction("C1", "x", "a > b", _iv(4.0, 3.0, 5.0), OK, unit="%")
    assert a["reason"] != b["reason"] and "[1, 3]" in a["reason"] and "%" in a["reason"]


def test_by_construction_and_cannot_carry_no_interval():
    built = report.by_construction("C6", "8M requests", "8M", 8_000_000, "we generated exactly this many")
    assert built["status"] == "by-construction" and built["effect"] is None and built["regime_check"] == []
    assert report.cannot("C3", "$2M/month", "$2M", "needs the private fleet")["status"] == "cannot"


def test_regime_check_fails_on_non_finite_values():
    assert not Regime("x", float("nan"), 0.0).passed
    with pytest.raises(ValueError, match="op"):
        Regime("x", 1.0, 0.0, op="==")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30))
def test_mean_interval_contains_the_mean_and_is_reproducible(values):
    first, second = report.mean_interval(values), report.mean_interval(values)
    assert first == second
    assert first.low - 1e-6 <= first.effect <= first.high + 1e-6 and first.n == len(values)


def test_paired_difference_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    b = rng.normal(size=50)
    interval = report.paired_mean_difference(b + 1.0 + rng.normal(scale=0.1, size=50), b)
    assert interval.low < 1.0 < interval.high and interval.low > 0.9
    assert report.mean_difference([1.0, 2.0, 3.0], [np.nan, 1.0, 1.0]).n == 2


def test_rl_intervals_are_reproducible_and_point_the_right_way():
    rng = np.random.default_rng(1)
    better, worse = rng.normal(1.0, 0.3, 20), rng.normal(0.0, 0.3, 20)
    iqm = report.iqm_difference(better, worse)
    assert iqm == report.iqm_difference(better, worse) and iqm.low > 0
    poi = report.improvement_probability(better, worse)
    assert 0 < poi.low <= poi.effect <= poi.high <= 0.5
    state = np.random.get_state()[1].copy()
    report.improvement_probability(worse, better)
    assert np.array_equal(np.random.get_state()[1], state)  # the global generator is left as it was


def _figure(tmp_path, name="fig01_line.png"):
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], label="a")
    ax.legend()
    report.save_figure(fig, tmp_path, name)
    plt.close(fig)
    return name


def _claims():
    return [report.reproduce("C1", "x", "≈1", _iv(0.123456789, 0.1, 0.2), (0.0, 0.2), OK, evidence="fig01_line.png"),
            report.direction("C2", "y", "a > b", _iv(1.0, -1.0, 2.0), OK),
            report.by_construction("C3", "z", "8M", 8_000_000, "generated")]


def _write(tmp_path, **changes):
    kwargs = dict(paper="arXiv:0000.00000", slug="demo", scale="smoke", seed=0, claims=_claims(),
                  figures=[_figure(tmp_path)], figure_sources={"fig01_line.png": "repro.papers.demo.run"},
                  limitations=["synthetic data"], data={"azure-llm-2023": "unavailable: synthetic default"},
                  extra={"rate": np.float32(1.0) / 3})
    kwargs.update(changes)
    return report.write_metrics(tmp_path, **kwargs)


def test_write_metrics_round_trips_and_rounds(tmp_path):
    metrics = report.read_metrics(_write(tmp_path))
    assert metrics["claims"][0]["effect"] == 0.123457
    assert metrics["extra"]["rate"] == 0.333333


@pytest.mark.parametrize("change, field", [
    ({"scale": "medium"}, "scale"),
    ({"seed": -1}, "seed"),
    ({"claims": []}, "claims"),
    ({"figures": ["fig09_missing.png"]}, "figure_sources"),
    ({"figure_sources": {"fig01_line.png": "somewhere"}}, "figure_sources.fig01_line.png"),
])
def test_write_metrics_names_the_bad_field_and_writes_nothing(tmp_path, change, field):
    with pytest.raises(MetricsError, match=f"'{field}'"):
        _write(tmp_path, **change)
    assert not (tmp_path / "metrics.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _metrics(claim):
    return {"paper": "p", "slug": "s", "scale": "full", "seed": 0, "data": {}, "claims": [claim], "figures": [],
            "figure_sources": {}, "limitations": []}


@pytest.mark.parametrize("status", ["direction-holds", "failed", "reproduced", "not-testable", "by-construction"])
def test_a_typed_in_status_is_rejected(status):
    claim = report.direction("C1", "x", "a > b", _iv(1.0, -1.0, 2.0), OK)  # inconclusive
    claim["status"] = status
    with pytest.raises(MetricsError, match="claims\\[0\\] \\(C1\\).status"):
        report.validate_metrics(_metrics(claim))


def test_a_regime_verdict_that_disagrees_with_its_number_is_rejected():
    claim = report.direction("C1", "x", "a > b", _iv(2.0, 1.0, 3.0), BAD)
    claim["regime_check"][0]["passed"] = True
    claim["status"] = "direction-holds"
    with pytest.raises(MetricsError, match="regime_check\\[0\\].passed"):
        report.validate_metrics(_metrics(claim))


def test_figures_and_metrics_are_byte_identical_across_runs(tmp_path):
    report.use_style()
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a), _write(b)
    for name in ("fig01_line.png", "metrics.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_report_shows_intervals_regime_checks_and_figure_sources(tmp_path):
    paper = tmp_path / "paper"
    _write(paper / "demo")
    (paper / "demo" / "run.json").write_text(json.dumps({"scale": "smoke", "seed": 0, "runtime_s": 12.3,
                                                         "machine": {"cpus": 2}}))
    text = report.build_report(paper, paper / "REPORT.md").read_text()
    assert "| C1 |" in text and "0.123 [0.1, 0.2], n = 10" in text and "✓ share of minutes" in text
    assert "`repro.papers.demo.run`" in text and "runtime 12 s" in text and "synthetic data" in text
    assert "| [demo](#demo) | 1 | 1 | 0 | 1 | 0 | 0 | 1 | 0 |" in text  # held counts reproduced only


@pytest.mark.parametrize("value, text", [
    (28185, "28,185"), (28185.0, "28,185"), (-2.6e4, "-26,000"), (4339.36, "4,340"), (0.00708, "0.00708"),
    (1.5, "1.5"), (999.5, "1,000"), (999.4, "999"), (2.5e12, "2.5e+12"), (float("nan"), "undefined"), (None, "undefined"),
])
def test_fmt_writes_large_numbers_in_full_with_separators(value, text):
    assert report.fmt(value) == text


@pytest.mark.parametrize("tasks", [1, 3])
def test_vectorised_improvement_probability_equals_rliables(tasks):
    """Same point estimate as rliable's probability_of_improvement and the same interval up to resampling noise."""
    from rliable import metrics

    from repro.report.intervals import _rliable_interval

    rng = np.random.default_rng(4)
    a, b = rng.normal(0.3, 1.0, (20, tasks)), rng.normal(0.0, 1.0, (15, tasks))
    ours = report.improvement_probability(a, b)
    effect, low, high = _rliable_interval({"p": (a, b)},
                                          lambda x, y: np.array([metrics.probability_of_improvement(x, y) - 0.5]), "p")
    assert ours.effect == pytest.approx(effect)
    assert abs(ours.low - low) < 0.04 and abs(ours.high - high) < 0.04
    assert ours == report.improvement_probability(a, b)          # reproducible
    assert np.isnan(report.improvement_probability(a[:1], b).low)


def test_iqm_interval_equals_rliables_one_task_interval():
    from rliable import metrics

    from repro.report.intervals import _rliable_interval

    x = np.random.default_rng(5).standard_cauchy(30)
    ours = report.iqm_interval(x)
    effect, low, high = _rliable_interval({"q": (x[:, None],)}, lambda s: np.array([metrics.aggregate_iqm(s)]), "q")
    assert ours.effect == pytest.approx(effect)
    spread = high - low
    assert abs(ours.low - low) < 0.1 * spread and abs(ours.high - high) < 0.1 * spread
    assert np.isnan(report.iqm_interval(x[:1]).low)
