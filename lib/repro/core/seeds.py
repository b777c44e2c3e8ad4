"""One seed scheme for the whole project (DESIGN.md, "Rules of the house").

Every random stream is named: ``(seed, key1, key2, ...)`` where ``seed`` is the run's seed (the
``seed`` parameter of a paper) and the keys say what the stream is for (``"hpg"``, ``"PMC"``,
``"cauchy"``, replicate ``3``). The stream is ``np.random.SeedSequence(seed, spawn_key=keys)`` with
string keys turned into integers by a fixed hash, so

- the same (seed, keys) always gives the same stream, on every machine and in every process;
- different keys give independent streams (SeedSequence's guarantee), so replicate 1 of seed 0 and
  replicate 0 of seed 1 never share a stream, unlike ``seed + i`` schemes;
- adding a new stream never shifts an existing one.

Kernels take plain integer seeds (numba cannot take a SeedSequence): :func:`seed_int` gives one.
"""
from __future__ import annotations

import hashlib

import numpy as np

Key = int | str


def _key_int(key: Key) -> int:
    if isinstance(key, bool) or not isinstance(key, (int, np.integer, str)):
        raise TypeError(f"seed keys are ints or strings, got {type(key).__name__} {key!r}")
    if isinstance(key, str):
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "little")
    if key < 0:
        raise ValueError(f"integer seed keys must be >= 0, got {key}")
    return int(key)


def sequence(seed: int, *keys: Key) -> np.random.SeedSequence:
    """The SeedSequence of the stream named ``keys`` under the run seed ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed), spawn_key=tuple(_key_int(k) for k in keys))


def rng(seed: int, *keys: Key) -> np.random.Generator:
    """A NumPy Generator on the stream ``(seed, *keys)``."""
    return np.random.default_rng(sequence(seed, *keys))


def seed_int(seed: int, *keys: Key) -> int:
    """A 63-bit integer seed for a kernel, drawn from the stream ``(seed, *keys)``."""
    return int(sequence(seed, *keys).generate_state(1, np.uint64)[0] >> np.uint64(1))


def seed_ints(seed: int, n: int, *keys: Key) -> np.ndarray:
    """``n`` kernel seeds for replicates ``0..n-1`` of the stream ``(seed, *keys)`` (int64 array)."""
    return np.array([seed_int(seed, *keys, i) for i in range(int(n))], dtype=np.int64)
