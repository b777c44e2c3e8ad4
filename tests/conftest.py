"""Shared test set-up: the repository root and the public-data mirror."""
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
