"""A fixed-capacity replay buffer over NumPy arrays (brief 03 §2, Learner: "replay buffer 100k").

Transitions are stored field by field (``obs``, ``action``, ``reward``, ``next_obs``, ``done``, or any other
names) in preallocated arrays used as a ring: once ``capacity`` items are stored, each new item overwrites
the oldest, so the buffer always holds the ``capacity`` newest items. Sampling is uniform with replacement
over the stored items, drawn from a caller's :class:`numpy.random.Generator` (a stream of
:func:`repro.core.seeds.rng`), so a run's minibatches are a function of its seed.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class ReplayBuffer:
    """Ring buffer of ``capacity`` items with fields ``{name: (shape, dtype)}``.

    ``add(batch)`` stores a batch (a mapping name -> array with a leading batch axis); ``sample(rng, n)``
    returns ``n`` stored items; ``len(buffer)`` is the number stored (never more than ``capacity``).
    """

    def __init__(self, capacity: int, fields: Mapping[str, tuple]):
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity <= 0:
            raise ValueError(f"replay capacity={capacity!r}: expected a positive integer")
        if not fields:
            raise ValueError("replay fields: expected at least one field {name: (shape, dtype)}")
        self.capacity = int(capacity)
        self._data = {name: np.zeros((self.capacity, *tuple(shape)), dtype=dtype)
                      for name, (shape, dtype) in fields.items()}
        self._next = 0      # slot the next item goes to
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, batch: Mapping[str, np.ndarray]) -> None:
        """Store every item of ``batch``; if it holds more than ``capacity`` items only the newest are kept."""
        n = self._batch_size(batch)
        keep = min(n, self.capacity)
        slots = (self._next + np.arange(n - keep, n)) % self.capacity
        for name, store in self._data.items():
            store[slots] = np.asarray(batch[name])[n - keep:]
        self._next = (self._next + n) % self.capacity
        self._size = min(self._size + n, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """``n`` items drawn uniformly with replacement from the stored ones (a new dict of arrays)."""
        if self._size == 0:
            raise ValueError("replay sample: the buffer is empty")
        index = rng.integers(0, self._size, size=int(n))
        return {name: store[index] for name, store in self._data.items()}

    def items(self) -> dict[str, np.ndarray]:
        """Every stored item, oldest first (a copy)."""
        order = (self._next - self._size + np.arange(self._size)) % self.capacity
        return {name: store[order] for name, store in self._data.items()}

    def _batch_size(self, batch: Mapping[str, np.ndarray]) -> int:
        missing = sorted(set(self._data) - set(batch))
        extra = sorted(set(batch) - set(self._data))
        if missing or extra:
            raise ValueError(f"replay add: missing fields {missing}, unknown fields {extra}")
        sizes = {name: len(np.asarray(batch[name])) for name in self._data}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"replay add: fields have different batch sizes {sizes}")
        for name, store in self._data.items():
            shape = np.shape(batch[name])[1:]
            if shape != store.shape[1:]:
                raise ValueError(f"replay add: field {name!r} has item shape {shape}, expected {store.shape[1:]}")
        return next(iter(sizes.values()))
