"""repro.core.backend: NumPy by default, an explicit error when CuPy is asked for and cannot run."""
import numpy as np
import pytest

from repro.core import backend


def test_numpy_is_the_default(monkeypatch):
    monkeypatch.delenv("REPRO_BACKEND", raising=False)
    assert backend.array_module() is np


def test_unknown_backend_is_named(monkeypatch):
    monkeypatch.setenv("REPRO_BACKEND", "jax")
    with pytest.raises(ValueError, match="REPRO_BACKEND='jax'"):
        backend.array_module()


def test_cupy_without_gpu_is_an_error(monkeypatch):
    if backend.gpu_available():
        pytest.skip("a GPU is present")
    monkeypatch.setenv("REPRO_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match="gpu"):
        backend.array_module()


@pytest.mark.gpu
def test_cupy_round_trip(monkeypatch):
    if not backend.gpu_available():
        pytest.skip("no CUDA device or CuPy: GPU tests run only where a GPU is lent")
    monkeypatch.setenv("REPRO_BACKEND", "cupy")
    xp = backend.array_module()
    assert backend.to_numpy(xp.arange(4) * 2).tolist() == [0, 2, 4, 6]


def test_a_named_backend_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("REPRO_BACKEND", "cupy")
    assert backend.array_module("numpy") is np
    with pytest.raises(ValueError, match="'jax'"):
        backend.array_module("jax")
