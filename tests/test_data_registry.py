"""Dataset registry: path resolution, mirror checksum, fetch (mirror, file:// URL, patched opener), CLI."""
import dataclasses
import hashlib
import io

import pytest

from repro import data
from repro.data import registry
from repro.data.__main__ import main as cli


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No mirror, data dir in tmp_path."""
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def toy_dataset(monkeypatch, tmp_path):
    """A registered one-file dataset whose content we control."""
    content = b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,2\n"
    src = tmp_path / "upstream" / "toy.csv"
    src.parent.mkdir()
    src.write_bytes(content)
    ds = data.Dataset("toy", (data.DataFile("toy.csv", (src.as_uri(),), hashlib.sha256(content).hexdigest()),),
                      "CC0", "-", "test", "a toy dataset")
    monkeypatch.setitem(registry.DATASETS, "toy", ds)
    return ds, content


def test_registry_lists_required_datasets():
    assert {"azure-llm-2023", "sageserve-perf"} <= set(data.DATASETS)
    for ds in data.DATASETS.values():
        assert ds.licence and ds.source
        for f in ds.files:
            assert all(u.startswith("https://") for u in f.urls)
    names = {f.name for f in data.dataset("azure-llm-2023").files}
    assert names == {"AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_conv.csv"}


def test_registered_checksums_match_the_mirror(data_mirror):
    for name in ("azure-llm-2023", "sageserve-perf"):
        for f in data.dataset(name).files:
            assert data.sha256_of(data_mirror / name / f.name) == f.sha256, f.name


def test_path_prefers_the_mirror(data_mirror):
    p = data.path("azure-llm-2023", "AzureLLMInferenceTrace_code.csv")
    assert p == data_mirror / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv"
    assert data.available("azure-llm-2023")


def test_path_without_data_says_how_to_fetch(isolated):
    with pytest.raises(data.DataUnavailableError, match="python -m repro.data fetch azure-llm-2023"):
        data.path("azure-llm-2023", "AzureLLMInferenceTrace_code.csv")
    assert not data.available("azure-llm-2023")
    with pytest.raises(KeyError, match="unknown dataset"):
        data.path("nope", "x.csv")
    with pytest.raises(KeyError, match="no file"):
        data.path("azure-llm-2023", "x.csv")


def test_mirror_with_a_corrupt_file_is_refused(isolated, toy_dataset, monkeypatch):
    mirror = isolated / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "toy.csv").write_bytes(b"something else\n")
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(data.ChecksumError, match="sha256"):
        data.path("toy", "toy.csv")


def test_fetch_from_file_url_then_path_resolves(isolated, toy_dataset):
    ds, content = toy_dataset
    out = data.fetch("toy")
    assert out == [isolated / "data" / "toy" / "toy.csv"]
    assert out[0].read_bytes() == content
    assert data.path("toy", "toy.csv") == out[0]
    assert [p.name for p in out[0].parent.iterdir()] == ["toy.csv"]   # no temporary files left


def test_fetch_copies_from_the_mirror(isolated, toy_dataset, monkeypatch):
    ds, content = toy_dataset
    mirror = isolated / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "toy.csv").write_bytes(content)
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))

    def no_network(url):
        raise AssertionError("fetch went to the network although the mirror has the file")

    out = data.fetch("toy", opener=no_network, force=True)
    assert out[0].read_bytes() == content


def test_fetch_with_patched_opener_and_bad_checksum_leaves_nothing(isolated, toy_dataset, monkeypatch):
    ds, content = toy_dataset
    https = dataclasses.replace(ds, files=(dataclasses.replace(ds.files[0], urls=("https://example.invalid/toy.csv",)),))
    monkeypatch.setitem(registry.DATASETS, "toy", https)
    calls = []

    def opener(url):
        calls.append(url)
        return io.BytesIO(b"tampered content")

    with pytest.raises(OSError, match="sha256"):
        data.fetch("toy", opener=opener)
    assert calls == ["https://example.invalid/toy.csv"]
    folder = isolated / "data" / "toy"
    assert list(folder.iterdir()) == []

    out = data.fetch("toy", opener=lambda url: io.BytesIO(content))
    assert out[0].read_bytes() == content


def test_cli_list_and_check(isolated, tmp_path, capsys):
    assert cli(["list"]) == 0
    assert "azure-llm-2023" in capsys.readouterr().out
    good = tmp_path / "good.csv"
    good.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,2\n2023-11-16 18:00:01.5,20,4\n")
    assert cli(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 rows" in out and "span 1.5 s" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,-2\n")
    assert cli(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "GeneratedTokens" in err


def test_cli_fetch_reports_failure(isolated, toy_dataset, monkeypatch, capsys):
    ds, _ = toy_dataset
    broken = dataclasses.replace(ds, files=(dataclasses.replace(ds.files[0], urls=("file:///nonexistent/toy.csv",)),))
    monkeypatch.setitem(registry.DATASETS, "toy", broken)
    monkeypatch.setattr("repro.data.__main__.DATASETS", registry.DATASETS)
    assert cli(["fetch", "toy"]) == 1
    assert "could not fetch toy/toy.csv" in capsys.readouterr().err
