"""repro.notebook: parameters are checked by the paper's Config, outputs appear only on success."""
import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest
import yaml

from repro import notebook as runner
from repro.core.io import umask_mode
from repro.papers import PaperConfig


@dataclasses.dataclass(frozen=True)
class DemoConfig(PaperConfig):
    n: int
    rate: float
    fail: bool


resolve = functools.partial(runner.resolve_parameters, config_class=DemoConfig)

NOTEBOOK_BODY = """
from pathlib import Path
import matplotlib.pyplot as plt
from repro import report
from repro.sweep import checkpoint_dir
report.use_style()
checkpoint_dir().mkdir(parents=True, exist_ok=True)
(checkpoint_dir() / "task.pkl").write_text("a finished sweep task")
if fail:
    raise RuntimeError("asked to fail")
fig, ax = plt.subplots(); ax.plot(range(n), range(n))
name = report.save_figure(fig, out_dir, "fig01_line.png")
interval = report.Interval(n, n, n, 2, "fixed")
claims = [report.reproduce("C1", "n is ten", "10", interval, (10, 10), report.Regime("n", n, 1), evidence=name)]
report.write_metrics(out_dir, paper="demo", slug="demo", scale=scale, seed=seed, claims=claims,
                     figures=[name], figure_sources={name: "repro.papers.demo.run"}, limitations=[])
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
    assert resolve("demo", repo)["n"] == 10
    assert resolve("demo", repo, scale="smoke")["n"] == 3
    assert resolve("demo", repo, seed=4, assignments=["rate=1"])["seed"] == 4


@pytest.mark.parametrize("assignment, message", [
    ("nn=3", "papers.demo.nn: unknown parameter"),
    ("n=ten", "papers.demo.n: expected int"),
    ("scale=medium", "papers.demo.scale: expected one of"),
])
def test_bad_parameters_are_named(repo, assignment, message):
    with pytest.raises(runner.ParameterError, match=message):
        resolve("demo", repo, assignments=[assignment])


def test_missing_parameter_is_named(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    del params["papers"]["demo"]["rate"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(runner.ParameterError, match="papers.demo.rate: missing"):
        resolve("demo", repo)


def test_unknown_slug_is_named(repo):
    with pytest.raises(runner.ParameterError, match="no entry papers.nope"):
        resolve("nope", repo)


def test_run_writes_outputs_and_run_record(repo):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", resolve("demo", repo), out, repo, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["demo.ipynb", "fig01_line.png", "metrics.json", "run.json"]
    assert json.loads((out / "run.json").read_text())["parameters"]["n"] == 10
    assert json.loads((out / "metrics.json").read_text())["claims"][0]["status"] == "reproduced"


def test_run_record_names_the_commit_with_packed_refs_and_none_outside_git(repo):
    """git_commit asks git: it resolves a branch whose ref is packed (as in a fresh clone), and is None outside a
    checkout."""
    assert runner.git_commit(repo) is None
    git = functools.partial(subprocess.run, cwd=repo, check=True, capture_output=True)
    git(["git", "init", "-q", "-b", "main"])
    git(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"])
    git(["git", "pack-refs", "--all"])
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    head = git(["git", "rev-parse", "HEAD"], text=True).stdout.strip()
    assert runner.git_commit(repo) == head


def test_sweep_checkpoints_survive_a_failed_run_and_go_with_a_successful_one(repo, monkeypatch):
    """The notebook's sweeps save into a folder of this output's own (a smoke run elsewhere has another); a failed
    run keeps it (the rerun resumes), a successful one removes it."""
    monkeypatch.delenv("REPRO_CHECKPOINT_DIR", raising=False)
    out = repo / "paper" / "demo"
    folder = runner.checkpoint_folder(repo, "demo", out)
    assert folder.parent == repo / ".cache" / "sweeps"
    assert folder != runner.checkpoint_folder(repo, "demo", repo / "runs" / "demo")
    with pytest.raises(RuntimeError):
        runner.run_notebook("demo", resolve("demo", repo, assignments=["fail=true"]), out, repo, progress=False)
    assert (folder / "task.pkl").is_file()
    assert "REPRO_CHECKPOINT_DIR" not in os.environ
    runner.run_notebook("demo", resolve("demo", repo), out, repo, progress=False)
    assert not folder.exists()


def test_a_failing_run_leaves_the_previous_outputs(repo):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", resolve("demo", repo), out, repo, progress=False)
    before = (out / "metrics.json").read_bytes()
    params = resolve("demo", repo, assignments=["fail=true"])
    with pytest.raises(RuntimeError, match="asked to fail"):
        runner.run_notebook("demo", params, out, repo, progress=False)
    assert (out / "metrics.json").read_bytes() == before
    assert [p.name for p in (repo / "paper").iterdir()] == ["demo"]


def test_numbers_are_read_as_yaml_1_2(repo):
    assert resolve("demo", repo, assignments=["rate=1e9"])["rate"] == 1e9
    assert resolve("demo", repo, assignments=["rate=2.5e-3"])["rate"] == 2.5e-3


def test_runs_that_differ_by_any_override_get_different_folders(repo):
    a = runner.default_out("demo", repo, {"scale": "smoke", "seed": 3}, {"scale": "smoke", "n": 5})
    b = runner.default_out("demo", repo, {"scale": "smoke", "seed": 3}, {"scale": "smoke", "n": 6})
    assert a != b and a.parent == repo / "runs" / "demo" and "n=5" in a.name
    assert runner.default_out("demo", repo, {"scale": "full", "seed": 0}, {}) == repo / "paper" / "demo"


def test_outputs_are_readable_by_others(repo):
    out = runner.run_notebook("demo", resolve("demo", repo), repo / "paper" / "demo", repo, progress=False)
    assert out.stat().st_mode & 0o777 == umask_mode(0o777)  # not mkdtemp's owner-only 0700
    for path in out.iterdir():
        assert path.stat().st_mode & 0o666 == umask_mode(0o666), path.name


SLOW_BODY = NOTEBOOK_BODY.replace('if fail:', 'import time\nPath(out_dir, "sleeping").touch()\ntime.sleep(600)\nif fail:')
"""The demo's body, told to mark its work folder and sleep: the test interrupts the kernel inside that cell."""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_run_leaves_the_previous_outputs_and_no_stray_folders(repo, sig):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", resolve("demo", repo), out, repo, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    nb = nbformat.read(repo / "notebooks" / "demo.ipynb", as_version=4)
    nb.cells[1].source = textwrap.dedent(SLOW_BODY)
    nbformat.write(nb, repo / "notebooks" / "demo.ipynb")
    script = ("import sys; from pathlib import Path; from repro import notebook as r; "
              "p = dict(scale='full', seed=0, n=10, rate=0.5, fail=False); "
              "r.run_notebook('demo', p, Path(sys.argv[1]), Path(sys.argv[2]), progress=False)")
    # SIGINT back to its default: a shell without job control starts background jobs (and so this test's
    # run) with SIGINT ignored, which the child would inherit
    proc = subprocess.Popen([sys.executable, "-c", script, str(out), str(repo)], start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list((repo / "paper").glob(".demo.new-*/sleeping")) and time.monotonic() < deadline:
        time.sleep(0.2)   # wait until the kernel is inside the sleeping cell, however slow its start under load
    assert time.monotonic() < deadline, "the slow notebook never reached its sleeping cell"
    os.killpg(proc.pid, sig)
    proc.wait(timeout=60)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    if sig == signal.SIGINT:
        assert [p.name for p in (repo / "paper").iterdir()] == ["demo"]
    runner.recover_interrupted(out)  # what the next run does first
    assert [p.name for p in (repo / "paper").iterdir()] == ["demo"]


def test_a_run_killed_inside_the_swap_is_restored(repo):
    out = repo / "paper" / "demo"
    runner.run_notebook("demo", resolve("demo", repo), out, repo, progress=False)
    before = (out / "metrics.json").read_bytes()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.replace(out, out.with_name(f".demo.old-{dead.pid}"))
    (repo / "paper" / f".demo.new-{dead.pid}-abc").mkdir()
    runner.recover_interrupted(out)
    assert (out / "metrics.json").read_bytes() == before
    assert [p.name for p in (repo / "paper").iterdir()] == ["demo"]
