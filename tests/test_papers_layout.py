"""The papers layer (DESIGN.md, "The library"): one module per paper, whose Config is the notebook's parameters.

For every paper: the module has Config, run, claims and limitations; the Config's fields, the keys of
``papers.<slug>`` in params.yaml and the notebook's ``parameters`` cell are the same names; the notebook's
defaults are the committed full-scale values; the smoke section only names known fields; the notebook is
thin (it calls ``run`` and ``claims`` and has little code of its own).
"""
import ast
import dataclasses

import nbformat
import pytest
import yaml

from repro import papers
from repro.notebook import RUNNER_PARAMETERS, notebook_defaults

from conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
MAX_NOTEBOOK_CODE_LINES = 120


def test_every_params_section_is_a_known_paper():
    assert sorted(PARAMS["papers"]) == sorted(papers.SLUGS)
    assert set(PARAMS.get("smoke", {})) <= set(papers.SLUGS)


@pytest.mark.parametrize("slug", papers.SLUGS)
def test_module_has_the_paper_interface(slug):
    module = papers.paper_module(slug)
    assert module.__doc__ and len(module.__doc__) > 80, "the module docstring names the paper and its sections"
    assert dataclasses.is_dataclass(module.Config) and issubclass(module.Config, papers.PaperConfig)
    assert module.Config.__dataclass_params__.frozen
    assert isinstance(module.DATASETS, tuple), "DATASETS: the public datasets the paper may read"
    for name in ("run", "claims", "limitations"):
        assert callable(getattr(module, name)), f"repro.papers.{slug}: no {name}()"


@pytest.mark.parametrize("slug", papers.SLUGS)
def test_config_fields_params_and_notebook_parameters_agree(slug):
    fields = {f.name for f in dataclasses.fields(papers.paper_module(slug).Config)}
    defaults = notebook_defaults(ROOT / "notebooks" / f"{slug}.ipynb")
    assert set(PARAMS["papers"][slug]) == fields, "params.yaml papers.<slug> = Config fields"
    assert set(defaults) - set(RUNNER_PARAMETERS) == fields, "notebook parameters = Config fields"
    assert set(PARAMS.get("smoke", {}).get(slug) or {}) <= fields
    differing = {k: (defaults[k], v) for k, v in PARAMS["papers"][slug].items() if defaults[k] != v}
    assert not differing, f"notebook defaults differ from params.yaml (full scale): {differing}"
    papers.load_config(slug)  # the committed parameters pass validation
    papers.load_config(slug, scale="smoke")


def _code_lines(nb) -> list[str]:
    return [line for cell in nb.cells if cell.cell_type == "code" for line in cell.source.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("slug", papers.SLUGS)
def test_notebook_is_thin_and_calls_run_and_claims(slug):
    nb = nbformat.read(ROOT / "notebooks" / f"{slug}.ipynb", as_version=4)
    lines = _code_lines(nb)
    assert len(lines) <= MAX_NOTEBOOK_CODE_LINES, f"{slug}: {len(lines)} lines of code"
    calls = {getattr(node.func, "id", getattr(node.func, "attr", None))
             for node in ast.walk(ast.parse("\n".join(lines))) if isinstance(node, ast.Call)}
    assert {"run", "claims"} <= calls
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "outputs stripped"
    headings = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    for part in ("Question", "Setup", "Claim", "Limitations"):
        assert part in headings, f"{slug}: the story lacks a '{part}' section"
