"""Paper parameters: params.yaml sections resolved and checked into a frozen Config.

``params.yaml`` holds ``papers.<slug>`` (full-scale values, what ``dvc repro`` runs) and
``smoke.<slug>`` (values that replace them at smoke scale). :func:`resolve_parameters` merges them
with explicit overrides; :meth:`PaperConfig.from_params` checks names, types and ranges and fails
once, naming every bad parameter, before anything runs.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path

import yaml

SCALES = ("smoke", "full")


class ParameterError(ValueError):
    """A parameter in params.yaml or on the command line does not fit the paper's Config."""


def repo_root(start=None) -> Path:
    """The folder holding params.yaml, searched upwards from ``start`` (default: the working directory)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no params.yaml in {here} or any folder above it: run from the repository")


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 numbers: ``1e9`` and ``1e-3`` are floats, not strings."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^[-+]?(?:(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?
               |[0-9][0-9_]*[eE][-+]?[0-9]+|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$""", re.X),
    list("-+0123456789."))


def load_yaml(text: str):
    """Parse YAML text with YAML 1.2 numbers (params.yaml and ``--set NAME=VALUE``)."""
    return yaml.load(text, Loader=_Yaml12Loader)


def load_params_file(root: Path) -> dict:
    path = Path(root) / "params.yaml"
    try:
        params = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ParameterError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(params.get("papers"), dict):
        raise ParameterError(f"{path}: expected a mapping 'papers: {{<slug>: {{...}}}}'")
    return params


def resolve_parameters(slug: str, root: Path, scale=None, seed=None, overrides=None) -> dict:
    """params.yaml's ``papers.<slug>``, then ``smoke.<slug>`` at smoke scale, then ``seed`` and ``overrides``."""
    params_file = load_params_file(root)
    if slug not in params_file["papers"]:
        raise ParameterError(f"params.yaml: no entry papers.{slug} (known: {', '.join(sorted(params_file['papers']))})")
    params = dict(params_file["papers"][slug] or {})
    if scale is not None:
        params["scale"] = scale
    if params.get("scale") == "smoke":
        params.update((params_file.get("smoke") or {}).get(slug) or {})
    if seed is not None:
        params["seed"] = seed
    params.update(overrides or {})
    return params


def _conforms(value, hint) -> bool:
    """Does ``value`` (as YAML gives it) fit the type annotation ``hint``?"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_conforms(v, a) for v, a in zip(value, args))
        return all(_conforms(v, args[0]) for v in value) if args else True
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(k, args[0]) and _conforms(v, args[1])
                                               for k, v in value.items())
    if typing.get_origin(hint) is typing.Literal:
        return value in args
    raise TypeError(f"Config annotation {hint!r} is not supported")


def _coerce(value, hint):
    """YAML lists become tuples (a frozen Config must be hashable); ints stay ints where floats are allowed."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, tuple) and isinstance(value, (list, tuple)):
        inner = args[0] if args and (origin is list or args[-1] is Ellipsis) else None
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(_coerce(v, a) for v, a in zip(value, args))
        return tuple(_coerce(v, inner) for v in value) if inner is not None else tuple(value)
    if hint is float and isinstance(value, int):
        return float(value)
    if origin is dict and isinstance(value, dict):
        return types.MappingProxyType({k: _coerce(v, args[1]) for k, v in value.items()})
    return value


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


@dataclasses.dataclass(frozen=True)
class PaperConfig:
    """Base of every paper's Config: ``scale`` and ``seed``, then the paper's own fields (no defaults).

    Subclasses add fields with type annotations (int, float, bool, str, tuple[...], dict[str, ...]) and
    may override :meth:`problems` to check ranges; :meth:`from_params` enforces both.
    """

    scale: str
    seed: int

    @classmethod
    def from_params(cls, params: dict, where: str = "parameters") -> "PaperConfig":
        """A Config from a mapping, or :class:`ParameterError` naming every unknown, missing or bad name."""
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        problems = [f"{where}.{n}: unknown parameter (accepted: {', '.join(sorted(names))})"
                    for n in sorted(set(params) - set(names))]
        problems += [f"{where}.{n}: missing" for n in names if n not in params]
        problems += [f"{where}.{n}: expected {_type_name(hints[n])}, got {type(params[n]).__name__} {params[n]!r}"
                     for n in names if n in params and not _conforms(params[n], hints[n])]
        if problems:
            raise ParameterError("bad parameters:\n  " + "\n  ".join(problems))
        cfg = cls(**{n: _coerce(params[n], hints[n]) for n in names})
        problems = [f"{where}.{p}" for p in cfg.problems()]
        if problems:
            raise ParameterError("bad parameters:\n  " + "\n  ".join(problems))
        return cfg

    @classmethod
    def from_namespace(cls, namespace: dict, where: str = "notebook parameters") -> "PaperConfig":
        """A Config from a notebook's globals: its fields are picked out, the rest ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.from_params({k: v for k, v in namespace.items() if k in names}, where=where)

    def problems(self) -> list[str]:
        """Range checks: one "name: expected ..., got ..." string per bad value (subclasses extend this)."""
        found = []
        if self.scale not in SCALES:
            found.append(f"scale: expected one of {SCALES}, got {self.scale!r}")
        if self.seed < 0:
            found.append(f"seed: expected an integer >= 0, got {self.seed}")
        return found

    def as_dict(self) -> dict:
        """The parameters as plain YAML-able values (tuples as lists)."""
        def plain(value):
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if isinstance(value, (dict, types.MappingProxyType)):
                return {k: plain(v) for k, v in value.items()}
            return value
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def check_positive(cfg, *names) -> list[str]:
    """Problems for every named field that is not > 0 (counts, durations, step sizes)."""
    return [f"{n}: expected > 0, got {getattr(cfg, n)!r}" for n in names
            if not (isinstance(getattr(cfg, n), (int, float)) and getattr(cfg, n) > 0)]


def check_fraction(cfg, *names) -> list[str]:
    """Problems for every named field that is not a probability in [0, 1]."""
    return [f"{n}: expected a value in [0, 1], got {getattr(cfg, n)!r}" for n in names
            if not (isinstance(getattr(cfg, n), (int, float)) and 0.0 <= getattr(cfg, n) <= 1.0
                    and not math.isnan(getattr(cfg, n)))]
