"""repro.data.monitors: the AMBA and awesome-prometheus-alerts loaders (safe YAML, one clear error per malformed
entry, counts checked against the registry) and their registry entries (per-file URLs pinned to a commit, sha256)."""
import re

import pytest

from repro import data
from repro.data import monitors
from repro.data.monitors import MonitorFormatError

AMBA_ENTRY = """- name: CPU
  description: CPU percentage
  type: Metric
  properties:
    metricName: Percentage CPU
    metricNamespace: Microsoft.Compute/virtualMachines
    severity: 2
"""
PROM_RULES = """groups:
  - name: Databases
    services:
      - name: MySQL
        exporters:
          - slug: mysqld-exporter
            rules:
              - name: MySQL down
                description: MySQL instance is down
                query: "mysql_up == 0"
                severity: critical
              - name: MySQL restarted
                description: restarted
                query: "mysql_global_status_uptime < 60"
"""


def write(tmp_path, text, name="alerts.yaml"):
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


def test_amba_rows_read_every_entry_with_its_service(tmp_path):
    rows = monitors.amba_rows(write(tmp_path, AMBA_ENTRY * 2), "services/Compute/virtualMachines/alerts.yaml")
    assert len(rows) == 2
    assert rows[0]["service"] == "Compute/virtualMachines" and rows[0]["category"] == "Compute"
    assert rows[1]["entry"] == "entry 1" and "Percentage CPU" in rows[0]["signal"]


def test_an_empty_amba_file_is_a_resource_type_without_alerts(tmp_path):
    assert monitors.amba_rows(write(tmp_path, ""), "services/Databricks/workspaces/alerts.yaml") == []


def test_malformed_yaml_names_the_file(tmp_path):
    file = write(tmp_path, "- name: [unclosed\n")
    with pytest.raises(MonitorFormatError, match=re.escape(str(file)) + ".*not valid YAML"):
        monitors.amba_rows(file, "services/Compute/virtualMachines/alerts.yaml")


def test_an_entry_without_a_name_is_named(tmp_path):
    file = write(tmp_path, AMBA_ENTRY + "- description: no name\n  type: Metric\n")
    with pytest.raises(MonitorFormatError, match=r"entry 1: field 'name'"):
        monitors.amba_rows(file, "services/Compute/virtualMachines/alerts.yaml")


def test_a_non_mapping_entry_is_named(tmp_path):
    with pytest.raises(MonitorFormatError, match=r"entry 1: expected a mapping"):
        monitors.amba_rows(write(tmp_path, AMBA_ENTRY + "- just text\n"), "services/A/b/alerts.yaml")


def test_an_unexpected_amba_path_is_an_error(tmp_path):
    with pytest.raises(MonitorFormatError, match="services/<Category>/<resourceType>/alerts.yaml"):
        monitors.amba_rows(write(tmp_path, AMBA_ENTRY), "alerts.yaml")


def test_prometheus_rules_are_read_with_group_and_service(tmp_path):
    rows = monitors.prometheus_rows(write(tmp_path, PROM_RULES, "rules.yml"))
    assert [r["name"] for r in rows] == ["MySQL down", "MySQL restarted"]
    assert rows[0]["category"] == "Databases" and rows[0]["service"] == "MySQL" and rows[0]["signal"] == "mysql_up == 0"
    assert rows[1]["entry"] == "groups[0].services[0].exporters[0].rules[1]"


def test_a_prometheus_rule_without_query_names_its_place(tmp_path):
    text = PROM_RULES.replace('                query: "mysql_global_status_uptime < 60"\n', "")
    with pytest.raises(MonitorFormatError, match=r"groups\[0\]\.services\[0\]\.exporters\[0\]\.rules\[1\]: field 'query'"):
        monitors.prometheus_rows(write(tmp_path, text, "rules.yml"))


def test_a_count_differing_from_the_registry_is_an_error(tmp_path):
    file = write(tmp_path, AMBA_ENTRY)
    rows = monitors.amba_rows(file, "services/A/b/alerts.yaml")
    with pytest.raises(MonitorFormatError, match="1 alert entries read, the registry records 2"):
        monitors._checked_count(rows, file, 2)


def test_unknown_corpus_is_rejected():
    with pytest.raises(ValueError, match="unknown"):
        monitors.load_monitors(("nagios",))


def test_registry_pins_every_file_to_a_commit_and_a_checksum():
    amba, prom = data.dataset("amba"), data.dataset("prometheus-alerts")
    assert len(amba.files) == 78 and sum(f.rows for f in amba.files) == 675
    for f in (*amba.files, *prom.files):
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f.name
        assert re.search(r"/[0-9a-f]{40}/", f.url), f"{f.url} is not pinned to a commit"
        assert f.url.endswith(f.name)
    assert prom.file("rules.yml").rows == 1155
    assert amba.licence == "MIT" and prom.licence == "CC BY 4.0"


def test_real_corpora_counts(data_mirror):
    frame = monitors.load_monitors()
    counts = monitors.corpus_counts(frame).set_index("corpus")
    assert counts.loc["amba"].to_dict() == {"files": 76, "services": 76, "alerts": 675}  # 2 of 78 files are empty
    assert counts.loc["prometheus-alerts"].to_dict() == {"files": 1, "services": 93, "alerts": 1155}
    assert list(frame.columns) == monitors.COLUMNS
    assert frame["name"].str.len().min() > 0


def test_missing_corpus_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="python -m repro.data fetch prometheus-alerts"):
        monitors.load_corpus(monitors.PROMETHEUS)
