"""The house rules: one source of truth for packages, the README's two commands, CI calls them."""
import re
import tomllib

import yaml

from repro import papers
from repro.notebook import code_dependencies

from conftest import ROOT


def test_environment_yml_installs_the_project_from_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python and project["requires-python"] == ">=" + python[0].split("=")[1]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert pip == ["-e .[dev]"], "pyproject.toml is the one source of truth for packages"


def test_readme_first_screen_has_the_two_commands_and_ci_runs_the_test_one():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", first_screen, re.S)
    assert blocks and blocks[0].split() == ["make", "repro", "make", "test"]
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_stages_run_the_project_interpreter_whatever_path_says():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    python = [v["python"] for v in dvc["vars"] if "python" in v][0]
    assert ".venv/bin/python" in python
    assert all(stage["cmd"].startswith("${python} ") for stage in dvc["stages"].values())


def test_every_dataset_a_paper_reads_is_a_stage_the_paper_depends_on():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for slug in papers.SLUGS:
        for name in papers.paper_module(slug).DATASETS:
            stage = dvc["stages"][f"data-{name}"]
            assert stage["cmd"] == f"${{python}} -m repro.data fetch {name} --for-pipeline"
            assert stage["outs"] == [{f"data/{name}": {"cache": False}}]
            assert f"data/{name}" in dvc["stages"][slug]["deps"], f"{slug} reads {name} invisibly to DVC"


def test_every_paper_has_a_stage_listing_the_code_it_imports():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for slug in params["papers"]:
        stage = dvc["stages"][slug]
        assert stage["cmd"].startswith(f"${{python}} -m repro.notebook run {slug}")
        assert stage["outs"] == [{f"paper/{slug}": {"cache": False, "persist": True}}], \
            "outputs persist: DVC must not delete the committed results before a stage runs"
        assert stage["params"] == [f"papers.{slug}"]
        missing = set(code_dependencies(slug, ROOT)) - set(stage["deps"])
        assert not missing, f"dvc.yaml stage {slug}: deps lack {sorted(missing)}"
        assert {f"notebooks/{slug}.ipynb", "lib/repro/notebook.py"} <= set(stage["deps"])
        assert f"paper/{slug}/metrics.json" in dvc["metrics"], slug
        assert f"paper/{slug}" in dvc["stages"]["report"]["deps"], slug
