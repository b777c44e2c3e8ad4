"""One module per paper: the glue between the kernels and a notebook (DESIGN.md, "The library").

Each ``repro.papers.<module>`` (slug ``heavy-tailed-pg`` -> module ``heavy_tailed_pg``) has

- ``Config``: a frozen dataclass (subclass of :class:`PaperConfig`) whose fields are exactly the
  notebook's parameters and the ``papers.<slug>`` section of params.yaml;
- ``run(cfg) -> Results``: tidy pandas DataFrames, a row per seed x method x setting, no plotting;
- ``claims(results, cfg) -> list[dict]``: the paper's claims with intervals, regime checks and
  computed statuses (:mod:`repro.report.claims`);
- ``LIMITATIONS`` or ``limitations(cfg)``: the brief's unknowns and our [our choice] decisions.

:func:`load_config` resolves a paper's parameters the way the notebook runner does (params.yaml,
smoke overrides, then explicit ones) and validates them, so tests and users get the same Config
that ``dvc repro`` runs.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from repro.papers.config import ParameterError, PaperConfig, load_params_file, repo_root, resolve_parameters

NOT_PAPERS = ("config",)
"""Modules of this package that are not papers."""


def _paper_slugs() -> tuple[str, ...]:
    """Every module of this package but :data:`NOT_PAPERS`, as a slug (``heavy_tailed_pg`` -> ``heavy-tailed-pg``):
    adding a paper is adding its module (and notebook, params.yaml section and tests), with no list to edit."""
    found = pkgutil.iter_modules([str(Path(__file__).parent)])
    return tuple(sorted(m.name.replace("_", "-") for m in found if not m.ispkg and m.name not in NOT_PAPERS))


SLUGS = _paper_slugs()
"""Every paper (and the traces calibration) with a module here, a notebook and a params.yaml section."""


def module_name(slug: str) -> str:
    """``heavy-tailed-pg`` -> ``repro.papers.heavy_tailed_pg``."""
    return f"repro.papers.{slug.replace('-', '_')}"


def paper_module(slug: str):
    """The module of ``slug``; an unknown slug is an error that lists the known ones."""
    if slug not in SLUGS:
        raise ParameterError(f"unknown paper {slug!r}; known: {', '.join(SLUGS)}")
    return importlib.import_module(module_name(slug))


def load_config(slug: str, scale: str | None = None, seed: int | None = None, root=None, **overrides) -> PaperConfig:
    """The validated Config of ``slug`` from params.yaml (``scale="smoke"`` applies the smoke section)."""
    params = resolve_parameters(slug, repo_root(root), scale=scale, seed=seed, overrides=overrides)
    return paper_module(slug).Config.from_params(params, where=f"params.yaml papers.{slug}")


__all__ = ["PaperConfig", "ParameterError", "SLUGS", "load_config", "load_params_file", "module_name",
           "paper_module", "repo_root", "resolve_parameters"]
