"""repro: reproductions of ten papers as a thin library of kernels.

Importing the package points numba's on-disk cache at a folder keyed by a digest of the kernel
layers' sources. numba's ``cache=True`` checks only the cached function's own file, so a kernel that
inlines a function from another module would otherwise load stale machine code after that module
changed; with the key, any change to kernel code starts from a fresh cache. The layers above the
kernels (papers, report, the runner, benchmarks, sweeps: :data:`NOT_KERNEL_CODE`) hold no numba code
and kernels never import them (DESIGN.md, data flows one way), so editing them keeps the cache.
The base folder is ``$REPRO_NUMBA_CACHE`` (default ``~/.cache/repro/numba``).
"""
import hashlib
import os
import sys
from pathlib import Path

__version__ = "0.1.0"


NOT_KERNEL_CODE = ("papers", "report", "bench", "tools", "notebook.py", "sweep.py", "data")
"""Top-level entries of the package that no numba kernel imports: left out of the cache key."""


def source_digest() -> str:
    """A short digest of the kernel layers' .py files (path and content)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] in NOT_KERNEL_CODE:
            continue
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
