"""Shared test set-up: the repository root, the public-data mirror and a temporary sweep checkpoint folder."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def data_mirror(monkeypatch):
    """Point REPRO_DATA_MIRROR at the public data (CI sets it; locally ../shared/data); skip when absent."""
    mirror = Path(os.environ.get("REPRO_DATA_MIRROR", SHARED_DATA))
    if not mirror.is_dir():
        pytest.skip(f"public data mirror {mirror} not available (set REPRO_DATA_MIRROR)")
    monkeypatch.setenv("REPRO_DATA_MIRROR", str(mirror))
    return mirror


@pytest.fixture(autouse=True, scope="session")
def sweep_checkpoints_in_a_temporary_folder(tmp_path_factory):
    """Sweeps that tests run in-process keep their finished tasks in a temporary folder (``REPRO_CHECKPOINT_DIR``),
    not in the repository's ``.cache/sweeps``, which test runs would otherwise fill and a later run would read back
    instead of computing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPRO_CHECKPOINT_DIR", str(tmp_path_factory.mktemp("sweeps")))
        yield
