"""Every command the README shows is run here, so the README cannot drift from what works.

Each command-like code span of README.md must be a key of :data:`COMMANDS`, which says how the suite runs it:
for real where that is cheap, otherwise in its own dry form (``make -n``, ``dvc repro --dry``, the runner's
``params`` instead of ``run``: the same parameter resolution and validation without the notebook). A new README
command without an entry here fails :func:`test_every_readme_command_is_covered`.
"""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SHARED_DATA

BIN = Path(sys.executable).parent
PY = [sys.executable]
DVC = [str(BIN / "dvc")]
MIRROR = Path(os.environ.get("REPRO_DATA_MIRROR", SHARED_DATA))
NOT_COMMANDS = {"make", ".venv/bin/python", "REPRO_DATA_MIRROR=/path/to/mirror", "REPRO_BACKEND=cupy", "REPRO_BACKEND",
                "REPRO_CHECKPOINT_DIR", "dvc status"}
"""Code spans that name a tool or a variable rather than a command to run (``dvc status`` is run below too)."""

COMMANDS = {
    "make repro": ["make", "-n", "repro"],
    "make test": ["make", "-n", "test"],
    "make lab": ["make", "-n", "lab"],
    'make lab LAB_ARGS="--ip 0.0.0.0 --port 8890 --no-browser"':
        ["make", "-n", "lab", "LAB_ARGS=--ip 0.0.0.0 --port 8890 --no-browser"],
    "make paper PAPER=heavy-tailed-pg SCALE=full SEED=3":
        ["make", "-n", "paper", "PAPER=heavy-tailed-pg", "SCALE=full", "SEED=3"],
    "make repro FORCE=1": ["make", "-n", "repro", "FORCE=1"],
    "REPRO_DATA_MIRROR=../shared/data make repro": ["make", "-n", "repro"],
    "make bench": ["make", "-n", "bench"],
    "dvc repro": DVC + ["dag"],  # the whole pipeline; a dry run of it needs the data stages' outputs present
    ".venv/bin/dvc repro [STAGE]": DVC + ["repro", "--dry", "heavy-tailed-pg"],
    "dvc repro -f [STAGE]": DVC + ["repro", "--dry", "-f", "heavy-tailed-pg"],
    "dvc exp run -S papers.heavy-tailed-pg.n_seeds=5": "experiment",
    "dvc params diff": DVC + ["params", "diff"],
    "dvc metrics show": DVC + ["metrics", "show"],
    ".venv/bin/python -m repro.notebook run heavy-tailed-pg --scale smoke --seed 3 --set n_iterations=500":
        PY + ["-m", "repro.notebook", "params", "heavy-tailed-pg", "--scale", "smoke", "--seed", "3", "--set",
              "n_iterations=500"],
    ".venv/bin/python -m repro.notebook params SLUG": PY + ["-m", "repro.notebook", "params", "fairserve"],
    ".venv/bin/python -m repro.tools.warm": PY + ["-m", "repro.tools.warm", "fairness"],
    "python -m repro.data list": PY + ["-m", "repro.data", "list"],
    "python -m repro.data check FILE": "check",
    ".venv/bin/python -m repro.data fetch NAME": "fetch",
    "python -m repro.tools.derive": "derive",
    ".venv/bin/python -m repro.bench NAME": PY + ["-m", "repro.bench", "fairness", "--quick"],
    "python -m repro.bench pg --backend cupy": "cupy",
    "pip install -e .[dev,lab]": "extras",
    "pip install -e .[gpu]": "extras",
}


def readme_commands() -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", (ROOT / "README.md").read_text(encoding="utf-8"))
    return [s for s in dict.fromkeys(spans) if re.match(r"^(\.venv/bin/|python |make|dvc |REPRO_|pip )", s)
            and s not in NOT_COMMANDS]


def run(argv, env=None, cwd=ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_every_readme_command_is_covered():
    missing = [c for c in readme_commands() if c not in COMMANDS]
    assert not missing, f"README commands the suite does not run (add them to COMMANDS): {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, how in COMMANDS.items() if isinstance(how, list)])
def test_readme_command_runs(command):
    done = run(COMMANDS[command])
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    if "FORCE=1" in command:
        assert "--force" in done.stdout
    if "LAB_ARGS" in command:
        assert "--port 8890" in done.stdout


def test_readme_extras_exist():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"dev", "lab", "gpu"} <= set(extras)


def test_readme_check_command(tmp_path):
    good = tmp_path / "trace.csv"
    good.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,2\n")
    assert run(PY + ["-m", "repro.data", "check", str(good)]).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,ten,2\n")
    done = run(PY + ["-m", "repro.data", "check", str(bad)])
    assert done.returncode == 1 and "line 2" in done.stderr and "ContextTokens" in done.stderr


@pytest.mark.skipif(not MIRROR.is_dir(), reason="public data mirror not available (set REPRO_DATA_MIRROR)")
def test_readme_fetch_command(tmp_path):
    done = run(PY + ["-m", "repro.data", "fetch", "sageserve-perf"],
               env={"REPRO_DATA_MIRROR": str(MIRROR), "REPRO_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "sageserve-perf").iterdir())


@pytest.mark.slow
@pytest.mark.skipif(not MIRROR.is_dir(), reason="public data mirror not available (set REPRO_DATA_MIRROR)")
def test_readme_derive_command_regenerates_the_committed_facts(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "lib", copy / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    done = run(PY + ["-m", "repro.tools.derive"], env={"PYTHONPATH": str(copy / "lib"), "REPRO_DATA_MIRROR": str(MIRROR)},
               cwd=copy)
    assert done.returncode == 0, done.stderr
    facts = [p.relative_to(ROOT / "lib") for p in (ROOT / "lib").rglob("*") if p.suffix in (".csv", ".json")
             and "facts" in p.parts or p.name == "latency_coefficients.json"]
    assert facts
    for rel in facts:
        assert (copy / "lib" / rel).read_bytes() == (ROOT / "lib" / rel).read_bytes(), f"{rel} differs when rederived"


def test_readme_experiment_command_names_a_real_parameter():
    # `dvc exp run --dry` works in a temporary copy that lacks the fetched data/ folders, so the suite checks the
    # parameter the command sets (it exists in params.yaml and the paper's Config accepts the new value) instead;
    # the command itself runs in the workspace.
    assert "n_seeds" in yaml.safe_load((ROOT / "params.yaml").read_text())["papers"]["heavy-tailed-pg"]
    done = run(PY + ["-m", "repro.notebook", "params", "heavy-tailed-pg", "--set", "n_seeds=5"])
    assert done.returncode == 0 and "n_seeds: 5" in done.stdout, done.stderr


def test_readme_cupy_command_fails_clearly_without_a_gpu():
    done = run(PY + ["-m", "repro.bench", "pg", "--backend", "cupy", "--quick"])
    if done.returncode == 0:
        pytest.skip("a GPU is present: the command ran")
    assert done.returncode == 2 and "cupy" in done.stderr.lower()
