"""repro: reproductions of ten papers as a thin library of kernels.

Importing the package points numba's on-disk cache at a folder keyed by a digest of the package's
sources. numba's ``cache=True`` checks only the cached function's own file, so a kernel that
inlines a function from another module would otherwise load stale machine code after that module
changed; with the key, any source change starts from a fresh cache. The base folder is
``$REPRO_NUMBA_CACHE`` (default ``~/.cache/repro/numba``).
"""
import hashlib
import os
import sys
from pathlib import Path

__version__ = "0.1.0"


def source_digest() -> str:
    """A short digest of every .py file of the package (path and content)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _use_keyed_numba_cache() -> None:
    base = Path(os.environ.get("REPRO_NUMBA_CACHE", Path.home() / ".cache" / "repro" / "numba"))
    folder = str(base / source_digest())
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # numba read its configuration already; caches are located at decoration time
        sys.modules["numba"].config.CACHE_DIR = folder


_use_keyed_numba_cache()
