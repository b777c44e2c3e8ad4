"""Every paper's notebook at smoke scale, through the same runner DVC uses.

Checks the metrics.json contract, that every listed figure is a PNG, that the parameters cell and
params.yaml agree, and that two runs with the same seed give byte-identical metrics and figures.
"""
import pytest
import yaml

from repro import notebook as runner
from repro import report

from conftest import ROOT

SLUGS = sorted((yaml.safe_load((ROOT / "params.yaml").read_text()) or {}).get("papers") or {})
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_notebook_has_a_stage_and_every_stage_a_notebook():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks == SLUGS


@pytest.mark.notebook
@pytest.mark.parametrize("slug", SLUGS)
def test_notebook_runs_at_smoke_scale_deterministically(slug, tmp_path):
    params = runner.resolve_parameters(slug, ROOT, scale="smoke")
    first = runner.run_notebook(slug, params, tmp_path / "a", ROOT, progress=False)
    metrics = report.read_metrics(first / "metrics.json")
    assert metrics["slug"] == slug and metrics["scale"] == "smoke"
    assert metrics["figures"], "a paper notebook must produce figures"
    for fig in metrics["figures"]:
        assert (first / fig).read_bytes()[:8] == PNG_MAGIC, fig
    second = runner.run_notebook(slug, params, tmp_path / "b", ROOT, progress=False)
    for name in ["metrics.json", *metrics["figures"]]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{slug}: {name} differs between runs"
