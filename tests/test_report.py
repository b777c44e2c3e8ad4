"""repro.report: claim statuses come from numbers, metrics.json follows the contract, outputs are deterministic."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from repro import report
from repro.report.metrics import MetricsError


def test_reproduce_status_follows_the_tolerance():
    assert report.reproduce("C1", "x", "≈1", 1.25, 1.0, 0.3)["status"] == "reproduced"
    assert report.reproduce("C1", "x", "≈1", 1.35, 1.0, 0.3)["status"] == "failed"
    assert report.reproduce("C1", "x", "≈1", float("nan"), 1.0, 0.3)["status"] == "failed"


def test_direction_needs_a_computed_bool():
    assert report.direction("C2", "x", "a > b", 3.0, bool(3.0 > 2.0))["status"] == "direction-holds"
    assert report.direction("C2", "x", "a > b", 1.0, np.float64(1.0) > 2.0)["status"] == "failed"
    with pytest.raises(TypeError, match="C2"):
        report.direction("C2", "x", "a > b", 1.0, "yes")


def test_cannot_keeps_the_reason():
    claim = report.cannot("C3", "$2M/month", "$2M", "needs the private fleet size")
    assert claim["status"] == "cannot" and "private" in claim["our_value"]


def _figure(tmp_path, name="fig01_line.png"):
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], label="a")
    ax.legend()
    report.save_figure(fig, tmp_path, name)
    plt.close(fig)
    return name


def _write(tmp_path, **changes):
    kwargs = dict(paper="arXiv:0000.00000", slug="demo", scale="smoke", seed=0,
                  claims=[report.reproduce("C1", "x", "≈1", 0.123456789, 0.1, 0.1, "fig01_line.png")],
                  figures=[_figure(tmp_path)], limitations=["synthetic data"], extra={"rate": np.float32(1.0) / 3})
    kwargs.update(changes)
    return report.write_metrics(tmp_path, **kwargs)


def test_write_metrics_round_trips_and_rounds(tmp_path):
    metrics = report.read_metrics(_write(tmp_path))
    assert metrics["claims"][0]["our_value"] == 0.123457
    assert metrics["extra"]["rate"] == 0.333333


@pytest.mark.parametrize("change, field", [
    ({"scale": "medium"}, "scale"),
    ({"seed": "0"}, "seed"),
    ({"claims": []}, "claims"),
    ({"figures": ["fig09_missing.png"]}, "figures"),
])
def test_write_metrics_names_the_bad_field_and_writes_nothing(tmp_path, change, field):
    with pytest.raises(MetricsError, match=f"'{field}'"):
        _write(tmp_path, **change)
    assert not (tmp_path / "metrics.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_typed_in_status_is_rejected(tmp_path):
    claim = report.reproduce("C1", "x", "≈1", 5.0, 1.0, 0.1)
    claim["status"] = "direction-holds"
    with pytest.raises(MetricsError, match="claims\\[0\\].status"):
        report.validate_metrics({"paper": "p", "slug": "s", "scale": "full", "seed": 0, "claims": [claim],
                                 "figures": [], "limitations": []})


def test_figures_and_metrics_are_byte_identical_across_runs(tmp_path):
    report.use_style()
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a), _write(b)
    for name in ("fig01_line.png", "metrics.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_report_lists_every_claim_and_figure(tmp_path):
    paper = tmp_path / "paper"
    _write(paper / "demo")
    (paper / "demo" / "run.json").write_text(json.dumps({"scale": "smoke", "seed": 0, "runtime_s": 12.3,
                                                         "machine": {"cpus": 2}}))
    text = report.build_report(paper, paper / "REPORT.md").read_text()
    assert "| C1 |" in text and "![fig01_line.png](demo/fig01_line.png)" in text
    assert "runtime 12 s" in text and "synthetic data" in text


def test_a_non_finite_value_reads_as_undefined_in_the_report(tmp_path):
    paper = tmp_path / "paper"
    _write(paper / "demo", claims=[report.reproduce("C1", "x", "≈1", float("nan"), 1.0, 0.3)])
    text = report.build_report(paper, paper / "REPORT.md").read_text()
    assert "| C1 | x (target 1.0 ± 0.3) | ≈1 | undefined (not a finite number) |" in text
