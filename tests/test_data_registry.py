"""Dataset registry on pooch: path resolution, mirror checksum, fetch (mirror, fake downloader), CLI, import order.

No test touches the network: fetches copy from a mirror folder made in tmp_path or go through a fake
pooch downloader, with a registry entry the test constructs.
"""
import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import pooch
import pytest

from repro import data
from repro.data import registry
from repro.data.__main__ import main as cli

CONTENT = b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,2\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No mirror, data dir in tmp_path."""
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def toy(monkeypatch):
    """A registered one-file dataset 'toy' whose URL is never reached (tests fetch from a mirror or a fake)."""
    ds = data.Dataset("toy", (data.DataFile("toy.csv", "https://example.invalid/toy.csv", DIGEST),),
                      "CC0", "https://creativecommons.org/publicdomain/zero/1.0/", "test", "a toy dataset")
    monkeypatch.setitem(registry.DATASETS, "toy", ds)
    return ds


def make_mirror(root: Path, monkeypatch, content: bytes = CONTENT) -> Path:
    (root / "mirror" / "toy").mkdir(parents=True)
    (root / "mirror" / "toy" / "toy.csv").write_bytes(content)
    monkeypatch.setenv(data.MIRROR_ENV, str(root / "mirror"))
    return root / "mirror" / "toy" / "toy.csv"


def serving(content: bytes, calls: list):
    """A pooch downloader that writes ``content`` and records the URL."""
    def download(url, output_file, pooch_instance, check_only=False):
        calls.append(url)
        Path(output_file).write_bytes(content)
    return download


def no_network(url, output_file, pooch_instance, check_only=False):
    raise AssertionError(f"fetch went to the network ({url}) although it should not")


def test_registry_lists_required_datasets():
    assert {"azure-llm-2023", "sageserve-perf"} <= set(data.DATASETS)
    for ds in data.DATASETS.values():
        assert ds.licence and ds.licence_url and ds.source
        for f in ds.files:
            assert f.url.startswith("https://")
        assert set(ds.pooch(Path("unused")).registry) == {f.name for f in ds.files}
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


def test_a_corrupt_mirror_file_is_an_error_everywhere(isolated, toy, monkeypatch):
    bad = make_mirror(isolated, monkeypatch, b"something else\n")
    found = hashlib.sha256(b"something else\n").hexdigest()
    for call in (lambda: data.path("toy", "toy.csv"), lambda: data.available("toy"),
                 lambda: data.fetch("toy", downloader=no_network)):
        with pytest.raises(data.ChecksumError) as err:
            call()
        message = str(err.value)
        assert str(bad) in message and DIGEST in message and found in message
    assert not (isolated / "data" / "toy").exists() or not any((isolated / "data" / "toy").iterdir())


def test_fetch_copies_from_the_mirror_then_path_resolves(isolated, toy, monkeypatch):
    make_mirror(isolated, monkeypatch)
    out = data.fetch("toy", downloader=no_network)
    assert out == [isolated / "data" / "toy" / "toy.csv"]
    assert out[0].read_bytes() == CONTENT
    assert [p.name for p in out[0].parent.iterdir()] == ["toy.csv"]   # no temporary files left
    monkeypatch.delenv(data.MIRROR_ENV)
    assert data.path("toy", "toy.csv") == out[0]
    assert data.fetch("toy", downloader=no_network) == out             # already there: no download


def test_fetch_downloads_through_pooch_and_refuses_a_wrong_checksum(isolated, toy):
    calls = []
    with pytest.raises(data.ChecksumError, match="example.invalid/toy.csv") as err:
        data.fetch("toy", downloader=serving(b"tampered content", calls))
    assert DIGEST in str(err.value) and hashlib.sha256(b"tampered content").hexdigest() in str(err.value)
    assert calls == ["https://example.invalid/toy.csv"]
    assert list((isolated / "data" / "toy").iterdir()) == []           # nothing half-written left behind

    out = data.fetch("toy", downloader=serving(CONTENT, calls))
    assert out[0].read_bytes() == CONTENT and len(calls) == 2


def test_a_corrupt_local_file_is_an_error_until_fetched_again_with_force(isolated, toy):
    local = isolated / "data" / "toy" / "toy.csv"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"stale\n")
    with pytest.raises(data.ChecksumError, match="toy.csv"):
        data.path("toy", "toy.csv")
    with pytest.raises(data.ChecksumError):
        data.fetch("toy", downloader=no_network)
    data.fetch("toy", force=True, downloader=serving(CONTENT, []))
    assert data.path("toy", "toy.csv").read_bytes() == CONTENT


def test_fetch_reports_a_failed_download(isolated, toy):
    def offline(url, output_file, pooch_instance, check_only=False):
        raise ConnectionError("network is unreachable")

    with pytest.raises(data.DataUnavailableError, match="could not fetch toy/toy.csv"):
        data.fetch("toy", downloader=offline)


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
    assert "line 2" in err and "GeneratedTokens" in err


def test_cli_list_and_fetch_report_a_corrupt_mirror(isolated, toy, monkeypatch, capsys):
    make_mirror(isolated, monkeypatch, b"something else\n")
    assert cli(["list"]) == 1
    assert "CHECKSUM MISMATCH" in capsys.readouterr().out
    assert cli(["fetch", "toy"]) == 1
    assert "differs from the registered sha256" in capsys.readouterr().err


def test_importing_data_does_not_import_traces_or_latency():
    code = ("import sys, repro.data; "
            "print(sorted(m for m in sys.modules if m.startswith(('repro.traces', 'repro.latency', 'repro.replay'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_data_traces_and_latency_import_our_modules_at_the_top_only(repo_root):
    """core <- data <- traces / latency: no import of ours inside a function (the old way round a cycle)."""
    import ast

    lib = repo_root / "lib" / "repro"
    files = [*sorted((lib / "core").glob("*.py")), *sorted((lib / "data").glob("*.py")),
             *sorted((lib / "traces").glob("*.py")), lib / "latency.py", *sorted((lib / "tools").glob("*.py"))]
    nested = []
    for file in files:
        for func in ast.walk(ast.parse(file.read_text())):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "repro" or \
                            isinstance(node, ast.Import) and any(a.name.split(".")[0] == "repro" for a in node.names):
                        nested.append(f"{file.relative_to(repo_root)}:{node.lineno}")
    assert nested == []


def unreachable(url, output_file, pooch_instance, check_only=False):
    raise OSError(f"network unreachable for {url}")


def test_pipeline_fetch_records_unavailability_then_the_data(isolated, toy, monkeypatch):
    folder = registry.data_dir() / "toy"
    assert registry.fetch_for_pipeline("toy", downloader=unreachable) == []
    assert sorted(p.name for p in folder.iterdir()) == [registry.UNAVAILABLE_MARKER]
    assert "unavailable" in (folder / registry.UNAVAILABLE_MARKER).read_text()
    assert not data.available("toy")
    make_mirror(isolated, monkeypatch)
    assert registry.fetch_for_pipeline("toy", downloader=no_network) == [folder / "toy.csv"]
    assert sorted(p.name for p in folder.iterdir()) == ["toy.csv"]  # the marker is gone: DVC sees a new hash


def test_pipeline_fetch_fails_on_a_corrupt_mirror_file(isolated, toy, monkeypatch):
    make_mirror(isolated, monkeypatch, content=CONTENT + b"tampered\n")
    with pytest.raises(data.ChecksumError, match=DIGEST):
        registry.fetch_for_pipeline("toy", downloader=no_network)
    assert not (registry.data_dir() / "toy" / registry.UNAVAILABLE_MARKER).exists()


def test_a_mirror_copy_is_not_logged_as_a_download(isolated, toy, monkeypatch):
    make_mirror(isolated, monkeypatch)
    logger, seen = pooch.get_logger(), []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: seen.append(record.getMessage())
    level = logger.level
    logger.addHandler(handler)
    try:
        data.fetch("toy", downloader=no_network)
    finally:
        logger.removeHandler(handler)
    assert not [m for m in seen if "Downloading" in m]
    assert logger.level == level                      # restored after the copy
