"""repro.notebook: parameters are checked against the notebook, outputs appear only on success."""
import json
import textwrap

import nbformat
import pytest
import yaml

from repro import notebook as runner

NOTEBOOK_BODY = """
from pathlib import Path
import matplotlib.pyplot as plt
from repro import report
report.use_style()
if fail:
    raise RuntimeError("asked to fail")
fig, ax = plt.subplots(); ax.plot(range(n), range(n))
name = report.save_figure(fig, out_dir, "fig01_line.png")
claims = [report.reproduce("C1", "n is ten", "10", n, 10, 0, name)]
report.write_metrics(out_dir, paper="demo", slug="demo", scale=scale, seed=seed, claims=claims,
                     figures=[name], limitations=[])
"""


@pytest.fixture
def repo(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('scale = "full"\nseed = 0\nout_dir = "paper/demo"\nn = 10\nrate = 0.5\nfail = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(textwrap.dedent(NOTEBOOK_BODY))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "demo.ipynb")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "papers": {"demo": {"scale": "full", "seed": 0, "n": 10, "rate": 0.5, "fail": False}},
        "smoke": {"demo": {"n": 3}}}))
    return tmp_path


def test_smoke_overrides_apply_only_at_smoke_scale(repo):
    assert runner.resolve_parameters("demo", repo)["n"] == 10
    assert runner.resolve_parameters("demo", repo, scale="smoke")["n"] == 3
    assert runner.resolve_parameters("demo", repo, seed=4, assignments=["rate=1"])["seed"] == 4


@pytest.mark.parametrize("assignment, message", [
    ("nn=3", "papers.demo.nn: unknown parameter"),
    ("n=ten", "papers.demo.n: expected int"),
    ("scale=medium", "papers.demo.scale: expected 'smoke' or 'full'"),
])
def test_bad_parameters_are_named(repo, assignment, message):
    with pytest.raises(runner.ParameterError, match=message):
        runner.resolve_parameters("demo", repo, assignments=[assignment])


def test_missing_parameter_is_named(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    del params["papers"]["demo"]["rate"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(runner.ParameterError, match="papers.demo.rate: missing"):
        runner.resolve_parameters("demo", repo)


def test_unknown_slug_is_named(repo):
    with pytest.raises(runner.ParameterError, match="no entry papers.nope"):
        runner.resolve_parameters("nope", repo)


def test_run_writes_outputs_and_run_record(repo):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", runner.resolve_parameters("demo", repo), out, repo, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["demo.ipynb", "fig01_line.png", "metrics.json", "run.json"]
    assert json.loads((out / "run.json").read_text())["parameters"]["n"] == 10
    assert json.loads((out / "metrics.json").read_text())["claims"][0]["status"] == "reproduced"


def test_a_failing_run_leaves_the_previous_outputs(repo):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", runner.resolve_parameters("demo", repo), out, repo, progress=False)
    before = (out / "metrics.json").read_bytes()
    params = runner.resolve_parameters("demo", repo, assignments=["fail=true"])
    with pytest.raises(RuntimeError, match="asked to fail"):
        runner.run_notebook("demo", params, out, repo, progress=False)
    assert (out / "metrics.json").read_bytes() == before
    assert [p.name for p in (repo / "paper").iterdir()] == ["demo"]
