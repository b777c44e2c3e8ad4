"""Registry of the public datasets the project reads, and how to get them (DESIGN.md "Data policy").

Every registered file has a public URL, a sha256 and (through its dataset) a licence. Downloads go
through `pooch <https://www.fatiando.org/pooch>`_: one :class:`pooch.Pooch` per dataset, whose registry
is the files' sha256 and whose URLs are the files' addresses; pooch streams into a temporary file beside
the target, checks the hash and only then moves it into place, so nothing half-written is left behind.

Where a file is read from, in order (:func:`path`):

1. ``$REPRO_DATA_MIRROR/<name>/<file>`` when the variable is set and the file is there (CI and offline
   machines: a folder laid out like ``../shared/data``);
2. ``data/<name>/<file>`` under the repository root (or ``$REPRO_DATA_DIR/<name>/<file>``), where
   :func:`fetch` puts it.

A file found in either place is checked against its registered sha256 (once per size and modification
time): a mismatch raises :class:`ChecksumError` naming the file, the expected and the found digest,
everywhere (:func:`path`, :func:`available`, :func:`fetch`); it is never read as "not available".
No file in either place raises :class:`DataUnavailableError` saying how to get it.
"""
from __future__ import annotations

import contextlib
import csv
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pooch
from pooch.downloaders import choose_downloader

MIRROR_ENV = "REPRO_DATA_MIRROR"
DATA_DIR_ENV = "REPRO_DATA_DIR"


class DataUnavailableError(FileNotFoundError):
    """A registered file is neither in the mirror nor fetched (or could not be fetched)."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the registered one."""

    def __init__(self, file, expected: str, found: str):
        self.file, self.expected, self.found = str(file), expected, found
        super().__init__(f"{file}: sha256 {found} differs from the registered sha256 {expected}; "
                         "the file is corrupt or a different version")


@dataclass(frozen=True)
class DataFile:
    name: str                 # file name inside the dataset folder
    url: str                  # public address
    sha256: str | None        # None: not pinned (file too large to mirror); fetch warns with the computed hash
    rows: int | None = None   # data rows, for information


@dataclass(frozen=True)
class Dataset:
    name: str
    files: tuple[DataFile, ...]
    licence: str              # the licence of every file of the dataset
    licence_url: str
    source: str
    description: str

    def file(self, name: str) -> DataFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(f"dataset {self.name!r} has no file {name!r}; registered files: {[f.name for f in self.files]}")

    def pooch(self, folder: Path) -> pooch.Pooch:
        """The pooch registry of this dataset's files, downloading into ``folder``."""
        return pooch.create(path=folder, base_url="",
                            registry={f.name: f"sha256:{f.sha256}" if f.sha256 else None for f in self.files},
                            urls={f.name: f.url for f in self.files})


_AZURE_COMMIT = "b469a113cedca53ddc3bdea71a143dc4b7d8700c"
_AZURE_RAW = f"https://raw.githubusercontent.com/Azure/AzurePublicDataset/{_AZURE_COMMIT}/data"
_SAGE_COMMIT = "0b95ca2d615b46fc1cf9e7d7d9783c0dcb3fac17"
_SAGE_RAW = f"https://raw.githubusercontent.com/shashwatj07/SageServe/{_SAGE_COMMIT}/data"
_AZURE_BLOB = "https://azurepublicdatasettraces.blob.core.windows.net/azurellminfererencetrace"


def _azure_file(name: str, sha256: str, rows: int) -> DataFile:
    return DataFile(name, f"{_AZURE_RAW}/{name}", sha256, rows)


def _sage_file(name: str, sha256: str, rows: int) -> DataFile:
    return DataFile(name, f"{_SAGE_RAW}/{name}", sha256, rows)


_AMBA_COMMIT = "b772e9f93427cb3e08ed4be305bd9f929a0ceb01"
_AMBA_RAW = f"https://raw.githubusercontent.com/Azure/azure-monitor-baseline-alerts/{_AMBA_COMMIT}"
_AMBA_MANIFEST = Path(__file__).with_name("amba_files.csv")
"""Committed manifest of the AMBA files (path, sha256, alert entries), one row per ``alerts.yaml``."""
_PROM_COMMIT = "a8533189af0246de5e21a6d8d25bd37816894f07"
_PROM_RAW = f"https://raw.githubusercontent.com/samber/awesome-prometheus-alerts/{_PROM_COMMIT}"


def _amba_files() -> tuple[DataFile, ...]:
    """The AMBA files listed in the committed manifest; ``rows`` is the number of alert entries of the file."""
    with _AMBA_MANIFEST.open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return tuple(DataFile(r["file"], f"{_AMBA_RAW}/{r['file']}", r["sha256"], int(r["entries"])) for r in rows)


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
            DataFile("AzureLLMInferenceTrace_code_1week.csv", f"{_AZURE_BLOB}/AzureLLMInferenceTrace_code_1week.csv", None),
            DataFile("AzureLLMInferenceTrace_conv_1week.csv", f"{_AZURE_BLOB}/AzureLLMInferenceTrace_conv_1week.csv", None),
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
    "amba": Dataset(
        name="amba",
        files=_amba_files(),
        licence="MIT",
        licence_url=f"https://github.com/Azure/azure-monitor-baseline-alerts/blob/{_AMBA_COMMIT}/LICENSE",
        source=f"github.com/Azure/azure-monitor-baseline-alerts commit {_AMBA_COMMIT}, every services/**/alerts.yaml "
               "(manifest: lib/repro/data/amba_files.csv)",
        description="Azure Monitor Baseline Alerts: Microsoft's recommended alerts, one alerts.yaml per Azure resource "
                    "type (services/<Category>/<resourceType>/alerts.yaml); rows = alert entries",
    ),
    "prometheus-alerts": Dataset(
        name="prometheus-alerts",
        files=(DataFile("rules.yml", f"{_PROM_RAW}/_data/rules.yml",
                        "8c7ca4b6506d186d3e92c3083e87f7f36877710648c539e1a000e7550b82fc30", 1155),),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        source=f"github.com/samber/awesome-prometheus-alerts commit {_PROM_COMMIT}, _data/rules.yml",
        description="awesome-prometheus-alerts: alert rules (name, description, query, severity) for about 90 "
                    "technologies in groups; rows = rules",
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


def mirror_dir() -> Path | None:
    env = os.environ.get(MIRROR_ENV)
    return Path(env) if env else None


def sha256_of(file: str | os.PathLike) -> str:
    return pooch.file_hash(str(file), alg="sha256")


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verify(file: Path, expected: str | None) -> None:
    """Raise :class:`ChecksumError` unless ``file`` has the sha256 ``expected`` (None: not pinned)."""
    if expected is None:
        return
    st = file.stat()
    key = (str(file), st.st_size, st.st_mtime_ns)
    found = _VERIFIED.get(key) or sha256_of(file)
    if found != expected:
        raise ChecksumError(file, expected, found)
    _VERIFIED[key] = found


def _mirror_file(name: str, file: str) -> Path | None:
    mirror = mirror_dir()
    candidate = mirror / name / file if mirror is not None else None
    return candidate if candidate is not None and candidate.is_file() else None


def path(name: str, file: str) -> Path:
    """Local path of a registered file: from the mirror, else data/<name>/<file> if fetched (sha256 checked)."""
    entry = dataset(name).file(file)
    local = data_dir() / name / file
    for candidate in (_mirror_file(name, file), local):
        if candidate is not None and candidate.is_file():
            _verify(candidate, entry.sha256)
            return candidate
    mirror = mirror_dir()
    where = f"the mirror {mirror / name / file} nor " if mirror is not None else ""
    raise DataUnavailableError(
        f"{name}/{file} is neither in {where}{local}. Fetch it with `python -m repro.data fetch {name}` "
        f"(needs network), or set {MIRROR_ENV} to a folder laid out as <dataset>/<file> (e.g. ../shared/data).")


def available(name: str, file: str | None = None) -> bool:
    """True if the file (or every file of the dataset) resolves through :func:`path`, False if it is absent.

    A file that is present with the wrong sha256 raises :class:`ChecksumError`: it is an error, not absence.
    """
    files = [file] if file else [f.name for f in dataset(name).files]
    try:
        for f in files:
            path(name, f)
    except DataUnavailableError:
        return False
    return True


def _copy_from(source: Path):
    """A pooch downloader that copies ``source`` (a mirror file) instead of going to the network."""
    def copy(url, output_file, pooch_instance, check_only=False):
        shutil.copyfile(source, output_file)
    return copy


@contextlib.contextmanager
def _quiet_pooch(quiet: bool):
    """Silence pooch's "Downloading file ..." line while it copies from the mirror (nothing is downloaded)."""
    logger = pooch.get_logger()
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _checked(download, expected: str | None, label: str):
    """Wrap a pooch downloader so a wrong sha256 raises our :class:`ChecksumError` naming ``label``."""
    def checked(url, output_file, pooch_instance, check_only=False):
        download(url, output_file, pooch_instance)
        if expected is not None:
            found = sha256_of(output_file)
            if found != expected:
                raise ChecksumError(label, expected, found)
    return checked


def fetch(name: str, *, dest: Path | None = None, force: bool = False, downloader=None) -> list[Path]:
    """Put every file of dataset ``name`` into ``dest`` (default data/<name>/) and return their paths.

    A file already in ``dest`` is checked; with the wrong sha256 it raises :class:`ChecksumError`
    unless ``force`` (then it is fetched again). A missing file is copied from ``$REPRO_DATA_MIRROR``
    when the mirror has it, else downloaded from its URL by pooch (``downloader``: a pooch downloader,
    default chosen from the URL). Downloaded or copied content with the wrong sha256 raises
    :class:`ChecksumError` and leaves nothing behind; a failed download raises :class:`DataUnavailableError`.
    """
    ds = dataset(name)
    dest = Path(dest) if dest is not None else data_dir() / name
    registry = ds.pooch(dest)
    out = []
    for entry in ds.files:
        target = dest / entry.name
        if target.is_file() and not force:
            _verify(target, entry.sha256)
            out.append(target)
            continue
        mirrored = _mirror_file(name, entry.name)
        source = _copy_from(mirrored) if mirrored is not None else downloader or choose_downloader(entry.url)
        label = f"{mirrored or entry.url} ({name}/{entry.name})"
        try:
            with _quiet_pooch(mirrored is not None):
                registry.fetch(entry.name, downloader=_checked(source, entry.sha256, label))
        except ChecksumError:
            raise
        except OSError as exc:  # requests' errors are OSErrors too
            raise DataUnavailableError(f"could not fetch {name}/{entry.name} from {entry.url}: {exc}") from exc
        if entry.sha256 is None:
            warnings.warn(f"{name}/{entry.name} has no registered sha256; the fetched file has sha256 "
                          f"{sha256_of(target)}", stacklevel=2)
        out.append(target)
    return out


UNAVAILABLE_MARKER = "UNAVAILABLE.txt"
"""Written into data/<name>/ by :func:`fetch_for_pipeline` when the dataset cannot be had."""


def fetch_for_pipeline(name: str, *, downloader=None) -> list[Path]:
    """The DVC data stage of dataset ``name``: fetch it into data/<name>/, or record there why it is unavailable.

    data/<name>/ is the stage's output and every paper stage that reads the dataset depends on it, so
    whether a result was made with the public data is visible to DVC: the folder's hash differs between
    "the files, checksum-verified" and "UNAVAILABLE.txt with the reason", and ``dvc status`` marks the paper
    stages changed when the data appears or disappears. A file with the wrong sha256 is an error
    (:class:`ChecksumError`), never recorded as unavailable.
    """
    dest = data_dir() / name
    marker = dest / UNAVAILABLE_MARKER
    try:
        files = fetch(name, dest=dest, downloader=downloader)
    except DataUnavailableError as exc:
        dest.mkdir(parents=True, exist_ok=True)
        for entry in dataset(name).files:  # a partial dataset is not a dataset
            (dest / entry.name).unlink(missing_ok=True)
        marker.write_text(f"{name} is unavailable; notebooks use their synthetic default.\n{exc}\n", encoding="utf-8")
        return []
    marker.unlink(missing_ok=True)
    return files

