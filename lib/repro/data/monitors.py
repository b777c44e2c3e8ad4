"""Loaders for the two public monitor corpora of brief 09 (arXiv:2403.07927, §5 "Data").

* **AMBA** (Azure Monitor Baseline Alerts, dataset ``amba``): one ``alerts.yaml`` per Azure resource type at
  ``services/<Category>/<resourceType>/alerts.yaml``, a YAML list of alert entries (name, description, type,
  properties with metricName/metricNamespace/...). An empty file is a resource type with no alert.
* **awesome-prometheus-alerts** (dataset ``prometheus-alerts``): one ``rules.yml``,
  ``groups[].services[].exporters[].rules[]`` with name, description, query, severity.

Both are parsed with PyYAML's safe loader (``yaml.safe_load``; its C build when available). Every alert becomes
one row of a tidy table (:data:`COLUMNS`); a *service* is an AMBA resource type or a Prometheus service.
Malformed input raises one :class:`MonitorFormatError` naming the file and the entry (e.g.
``groups[2].services[0].exporters[1].rules[4]``) and what was expected. The number of rows read is checked against the count the registry records for the file
(:attr:`repro.data.registry.DataFile.rows`), so a file that parses but lost entries is an error too.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from repro.data import registry

AMBA, PROMETHEUS = "amba", "prometheus-alerts"
CORPORA = (AMBA, PROMETHEUS)
COLUMNS = ["corpus", "service", "category", "name", "description", "kind", "signal", "severity", "file", "entry"]
"""corpus: AMBA or PROMETHEUS; service: 'Category/resourceType' (AMBA) or the Prometheus service name;
category: AMBA category or Prometheus group; kind: AMBA type (Metric, Log, ActivityLog, ...) or 'PromQL';
signal: AMBA metricNamespace + metricName (or the log query), Prometheus query; entry: where in the file."""


class MonitorFormatError(ValueError):
    """A monitor file or one of its entries does not have the expected shape."""

    def __init__(self, file, entry: str, problem: str):
        self.file, self.entry = str(file), entry
        super().__init__(f"{file}: {entry}: {problem}")


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader, in its libyaml (C) build when installed: the same documents, about 10x faster."""


def _parse(file: Path):
    try:
        return yaml.load(Path(file).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as err:
        raise MonitorFormatError(file, "whole file", f"not valid YAML ({err})") from None


def _text(value, file, entry: str, field: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or (required and str(value).strip() == ""):
        raise MonitorFormatError(file, entry, f"field {field!r}: expected non-empty text, got {value!r}")
    return str(value).strip()


def _mapping(value, file, entry: str) -> dict:
    if not isinstance(value, dict):
        raise MonitorFormatError(file, entry, f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value, file, entry: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MonitorFormatError(file, entry, f"expected a list, got {type(value).__name__}")
    return value


def amba_rows(file: Path, relative: str) -> list[dict]:
    """The alert entries of one AMBA ``alerts.yaml`` (``relative``: services/<Category>/<resourceType>/alerts.yaml)."""
    parts = Path(relative).parts
    if len(parts) != 4 or parts[0] != "services" or parts[3] != "alerts.yaml":
        raise MonitorFormatError(file, "path", "expected services/<Category>/<resourceType>/alerts.yaml")
    category, resource_type = parts[1], parts[2]
    rows = []
    for i, item in enumerate(_list(_parse(file), file, "top level")):
        where = f"entry {i}"
        item = _mapping(item, file, where)
        props = _mapping(item.get("properties") or {}, file, f"{where}.properties")
        signal = " ".join(_text(props.get(k), file, f"{where}.properties", k, required=False)
                          for k in ("metricNamespace", "metricName", "query", "operationName"))
        rows.append({"corpus": AMBA, "service": f"{category}/{resource_type}", "category": category,
                     "name": _text(item.get("name"), file, where, "name"),
                     "description": _text(item.get("description"), file, where, "description", required=False),
                     "kind": _text(item.get("type"), file, where, "type"), "signal": " ".join(signal.split()),
                     "severity": _text(props.get("severity"), file, f"{where}.properties", "severity", required=False),
                     "file": relative, "entry": where})
    return rows


def prometheus_rows(file: Path, relative: str = "rules.yml") -> list[dict]:
    """Every rule of awesome-prometheus-alerts' ``rules.yml``."""
    doc = _mapping(_parse(file), file, "top level")
    rows = []
    for g, group in enumerate(_list(doc.get("groups"), file, "groups")):
        gwhere = f"groups[{g}]"
        group = _mapping(group, file, gwhere)
        group_name = _text(group.get("name"), file, gwhere, "name")
        for s, service in enumerate(_list(group.get("services"), file, f"{gwhere}.services")):
            swhere = f"{gwhere}.services[{s}]"
            service = _mapping(service, file, swhere)
            service_name = _text(service.get("name"), file, swhere, "name")
            for e, exporter in enumerate(_list(service.get("exporters"), file, f"{swhere}.exporters")):
                ewhere = f"{swhere}.exporters[{e}]"
                exporter = _mapping(exporter, file, ewhere)
                for r, rule in enumerate(_list(exporter.get("rules"), file, f"{ewhere}.rules")):
                    where = f"{ewhere}.rules[{r}]"
                    rule = _mapping(rule, file, where)
                    rows.append({"corpus": PROMETHEUS, "service": service_name, "category": group_name,
                                 "name": _text(rule.get("name"), file, where, "name"),
                                 "description": _text(rule.get("description"), file, where, "description",
                                                      required=False),
                                 "kind": "PromQL", "signal": _text(rule.get("query"), file, where, "query"),
                                 "severity": _text(rule.get("severity"), file, where, "severity", required=False),
                                 "file": relative, "entry": where})
    return rows


def _checked_count(rows: list[dict], file: Path, expected: int | None) -> list[dict]:
    if expected is not None and len(rows) != expected:
        raise MonitorFormatError(file, "whole file", f"{len(rows)} alert entries read, the registry records {expected}")
    return rows


def load_corpus(corpus: str) -> pd.DataFrame:
    """Every alert of ``corpus`` (AMBA or PROMETHEUS) through the registry (mirror or fetched, sha256 checked).

    Raises :class:`repro.data.DataUnavailableError` when the files are neither in the mirror nor fetched.
    """
    ds = registry.dataset(corpus)
    parse = amba_rows if corpus == AMBA else prometheus_rows
    rows = []
    for entry in ds.files:
        file = registry.path(corpus, entry.name)
        rows += _checked_count(parse(file, entry.name), file, entry.rows)
    return pd.DataFrame(rows, columns=COLUMNS)


def load_monitors(corpora=CORPORA) -> pd.DataFrame:
    """The alerts of every corpus in ``corpora``, one row per alert (:data:`COLUMNS`)."""
    unknown = sorted(set(corpora) - set(CORPORA))
    if unknown:
        raise ValueError(f"corpora: unknown {unknown}; expected a subset of {list(CORPORA)}")
    return pd.concat([load_corpus(c) for c in corpora], ignore_index=True)


def corpus_counts(monitors: pd.DataFrame) -> pd.DataFrame:
    """One row per corpus: files, services (with at least one alert) and alerts."""
    return (monitors.groupby("corpus", sort=True)
            .agg(files=("file", "nunique"), services=("service", "nunique"), alerts=("name", "size")).reset_index())
