"""The numba cache folder is keyed by the package sources, so a changed module never meets stale machine code."""
import os
import subprocess
import sys

import numba

import repro


def test_cache_folder_is_keyed_by_the_source_digest():
    assert os.environ["NUMBA_CACHE_DIR"].endswith(repro.source_digest())
    assert numba.config.CACHE_DIR == os.environ["NUMBA_CACHE_DIR"]


def test_the_key_changes_with_the_sources(tmp_path):
    package = tmp_path / "repro"
    package.mkdir()
    (package / "__init__.py").write_text(open(repro.__file__).read())
    (package / "kernel.py").write_text("x = 1\n")
    code = "import repro; print(repro.source_digest())"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "REPRO_NUMBA_CACHE": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    (package / "kernel.py").write_text("x = 2\n")
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert first != second
