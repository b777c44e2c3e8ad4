"""Array backend: NumPy by default, CuPy when ``REPRO_BACKEND=cupy`` and a GPU is present (DESIGN.md, "GPU").

Batch kernels written against the array namespace returned by :func:`array_module` run on either;
numba kernels always run on the CPU. Tests run the NumPy path; GPU tests are marked ``gpu``.
"""
from __future__ import annotations

import os

import numpy as np

BACKENDS = ("numpy", "cupy")


def requested_backend(name: str | None = None) -> str:
    """``name``, or when it is None the backend named by ``REPRO_BACKEND`` (default ``numpy``); an unknown name is
    an error."""
    chosen = os.environ.get("REPRO_BACKEND", "numpy") if name is None else name
    chosen = chosen.strip().lower()
    if chosen not in BACKENDS:
        raise ValueError(f"REPRO_BACKEND={chosen!r}: expected one of {BACKENDS}")
    return chosen


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or CUDA runtime errors without a driver
        return False


def array_module(name: str | None = None):
    """``numpy`` or ``cupy`` as requested (``name``, else ``REPRO_BACKEND``); asking for CuPy without a usable GPU
    is an error, not a silent fallback."""
    if requested_backend(name) == "numpy":
        return np
    if not gpu_available():
        raise RuntimeError("the cupy backend was requested (REPRO_BACKEND=cupy or --backend cupy) but CuPy or a CUDA "
                           "device is not available "
                           "(install the 'gpu' extra: pip install -e .[gpu])")
    import cupy
    return cupy


def to_numpy(array) -> np.ndarray:
    """A host NumPy copy of a NumPy or CuPy array."""
    return array.get() if hasattr(array, "get") else np.asarray(array)
