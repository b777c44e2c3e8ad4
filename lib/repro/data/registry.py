"""Registry of the public datasets the project reads, and how to get them (DESIGN.md "Data policy").

Each dataset has files with a public URL, a sha256 and a licence. :func:`path` resolves a file from
``$REPRO_DATA_MIRROR/<name>/<file>`` when the mirror is set (checksum verified), else from
``data/<name>/<file>`` under the repository root when it was fetched; otherwise it raises
:class:`DataUnavailableError` saying how to fetch. :func:`fetch` downloads with urllib to a temporary
file, verifies the checksum and renames it into place, so nothing half-written is ever left behind.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "REPRO_DATA_MIRROR"
DATA_DIR_ENV = "REPRO_DATA_DIR"


class DataUnavailableError(FileNotFoundError):
    """A registered file is neither in the mirror nor fetched."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the registered one."""


@dataclass(frozen=True)
class DataFile:
    name: str                 # file name inside the dataset folder
    urls: tuple[str, ...]     # public addresses, tried in order
    sha256: str | None        # None: not pinned (file too large to mirror); fetch prints the computed hash
    rows: int | None = None   # data rows, for information


@dataclass(frozen=True)
class Dataset:
    name: str
    files: tuple[DataFile, ...]
    licence: str
    licence_url: str
    source: str
    description: str

    def file(self, name: str) -> DataFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(f"dataset {self.name!r} has no file {name!r}; registered files: {[f.name for f in self.files]}")


_AZURE_COMMIT = "b469a113cedca53ddc3bdea71a143dc4b7d8700c"
_AZURE_RAW = "https://raw.githubusercontent.com/Azure/AzurePublicDataset"
_SAGE_COMMIT = "0b95ca2d615b46fc1cf9e7d7d9783c0dcb3fac17"
_SAGE_RAW = f"https://raw.githubusercontent.com/shashwatj07/SageServe/{_SAGE_COMMIT}/data"
_AZURE_BLOB = "https://azurepublicdatasettraces.blob.core.windows.net/azurellminfererencetrace"


def _azure_file(name: str, sha256: str, rows: int) -> DataFile:
    return DataFile(name, (f"{_AZURE_RAW}/{_AZURE_COMMIT}/data/{name}", f"{_AZURE_RAW}/master/data/{name}"), sha256, rows)


def _sage_file(name: str, sha256: str, rows: int) -> DataFile:
    return DataFile(name, (f"{_SAGE_RAW}/{name}",), sha256, rows)


DATASETS: dict[str, Dataset] = {
    "azure-llm-2023": Dataset(
        name="azure-llm-2023",
        files=(
            _azure_file("AzureLLMInferenceTrace_code.csv",
                        "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6", 8819),
            _azure_file("AzureLLMInferenceTrace_conv.csv",
                        "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8", 19366),
        ),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        source=f"github.com/Azure/AzurePublicDataset commit {_AZURE_COMMIT}, data/ "
               "(AzureLLMInferenceDataset2023.md; the Splitwise trace, ISCA 2024)",
        description="Azure LLM inference traces, one hour on 2023-11-16: TIMESTAMP, ContextTokens, GeneratedTokens",
    ),
    "azure-llm-2024": Dataset(
        name="azure-llm-2024",
        files=(
            DataFile("AzureLLMInferenceTrace_code_1week.csv", (f"{_AZURE_BLOB}/AzureLLMInferenceTrace_code_1week.csv",), None),
            DataFile("AzureLLMInferenceTrace_conv_1week.csv", (f"{_AZURE_BLOB}/AzureLLMInferenceTrace_conv_1week.csv",), None),
        ),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        source="github.com/Azure/AzurePublicDataset AzureLLMInferenceDataset2024.md (DynamoLLM, HPCA 2025); "
               "files on Azure blob storage, not pinned by checksum (tens of millions of rows)",
        description="Azure LLM inference traces, one week in May 2024, same three columns as 2023",
    ),
    "sageserve-perf": Dataset(
        name="sageserve-perf",
        files=(
            _sage_file("perf_model_4_models.csv",
                       "df4c5db81ef539cb2954bfeeeb427db1d03652f79c129854b94a9801c93636c6", 1660),
            _sage_file("Llama-3.1-8B-tp-2.csv", "3bd295ee50cc5cb4fb54aa744dd4f6898dc50b0059e77b9b67b5972e56c59987", 100),
            _sage_file("Llama-3.1-8B-tp-4.csv", "c9930584eba52e941c26455abb17007630cec4d64e91a6f55c01835353773c9f", 100),
            _sage_file("Llama-3.2-3B-tp-2.csv", "6ee5e97c5f72c720ca4e1d500978d4ecd0eab2c97cfc6ddba5f7e5de58444c06", 100),
            _sage_file("Llama-3.2-3B-tp-4.csv", "18b6da5807466dc7a4deb590b1e3f1974145c84b698ffa28281c8b5c487e5d0c", 100),
        ),
        licence="MIT",
        licence_url=f"https://github.com/shashwatj07/SageServe/blob/{_SAGE_COMMIT}/LICENSE",
        source=f"github.com/shashwatj07/SageServe commit {_SAGE_COMMIT}, folder data/",
        description="Profiled LLM latency tables (prompt time, token time) by model, GPU, tensor parallelism, batch, prompt size",
    ),
}


def dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)}") from None


def repo_root() -> Path:
    """The repository root (the folder holding pyproject.toml above lib/repro)."""
    return Path(__file__).resolve().parents[3]


def data_dir() -> Path:
    """Where fetched datasets live: $REPRO_DATA_DIR if set, else data/ under the repository root."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else repo_root() / "data"


def sha256_of(file: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verify(file: Path, expected: str | None) -> None:
    if expected is None:
        return
    st = file.stat()
    key = (str(file), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key) or sha256_of(file)
    if digest != expected:
        raise ChecksumError(f"{file}: sha256 {digest} differs from the registered {expected}; "
                            "the file is corrupt or a different version")
    _VERIFIED[key] = digest


def mirror_dir() -> Path | None:
    env = os.environ.get(MIRROR_ENV)
    return Path(env) if env else None


def path(name: str, file: str) -> Path:
    """Local path of a registered file: from the mirror (verified), else data/<name>/<file> if fetched."""
    ds = dataset(name)
    entry = ds.file(file)
    mirror = mirror_dir()
    if mirror is not None:
        candidate = mirror / name / file
        if candidate.is_file():
            _verify(candidate, entry.sha256)
            return candidate
    local = data_dir() / name / file
    if local.is_file():
        _verify(local, entry.sha256)
        return local
    where = f"the mirror {mirror / name / file} nor " if mirror is not None else ""
    raise DataUnavailableError(
        f"{name}/{file} is neither in {where}{local}. Fetch it with `python -m repro.data fetch {name}` "
        f"(needs network), or set {MIRROR_ENV} to a folder laid out as <dataset>/<file> (e.g. ../shared/data).")


def available(name: str, file: str | None = None) -> bool:
    """True if the file (or every file of the dataset) resolves through :func:`path`."""
    files = [file] if file else [f.name for f in dataset(name).files]
    try:
        for f in files:
            path(name, f)
    except (DataUnavailableError, ChecksumError):
        return False
    return True


def fetch(name: str, *, dest: Path | None = None, opener=None, force: bool = False) -> list[Path]:
    """Download every file of dataset ``name`` into ``dest`` (default data/<name>/).

    Copies from $REPRO_DATA_MIRROR when set and the file is there, else downloads its URLs in order with
    ``opener`` (default urllib.request.urlopen). Each file goes to a temporary file in the destination
    folder, is checked against its sha256, then renamed; on any failure nothing is left behind.
    """
    ds = dataset(name)
    dest = Path(dest) if dest is not None else data_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    opener = opener or urllib.request.urlopen
    out = []
    for entry in ds.files:
        target = dest / entry.name
        if target.is_file() and not force:
            _verify(target, entry.sha256)
            out.append(target)
            continue
        mirror = mirror_dir()
        sources: list[str | Path] = []
        if mirror is not None and (mirror / name / entry.name).is_file():
            sources.append(mirror / name / entry.name)
        sources.extend(entry.urls)
        errors = []
        for src in sources:
            try:
                _download(src, target, entry.sha256, opener)
                break
            except (OSError, ChecksumError) as exc:  # URLError is an OSError
                errors.append(f"{src}: {exc}")
        else:
            raise OSError(f"could not fetch {name}/{entry.name}:\n  " + "\n  ".join(errors))
        if entry.sha256 is None:
            warnings.warn(f"{name}/{entry.name} has no registered sha256; fetched file has sha256 {sha256_of(target)}",
                          stacklevel=2)
        out.append(target)
    return out


def _download(src, target: Path, sha256: str | None, opener) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(src, Path):
                with open(src, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
            else:
                with opener(src) as resp:
                    shutil.copyfileobj(resp, out, 1 << 20)
        _verify(Path(tmp), sha256)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
