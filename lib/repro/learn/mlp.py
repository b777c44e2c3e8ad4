"""The multilayer perceptron of every learner, and JAX keys from the project's seed scheme.

Brief 03 §2 (Learner, paper A.9.3): layers (27->64), (64->64), (64->5) with ReLU after the hidden layers,
i.e. ``MLP(hidden=(64, 64), out=5)``. Brief 04 §2 (IQL): 2 hidden layers of 256 units with ReLU. Brief 09 §2:
the prototypical network's encoder. ``hidden=()`` is a single linear layer (used by the known-answer tests).

Keys: :func:`prng_key` turns the stream ``(seed, *keys)`` of :mod:`repro.core.seeds` into a JAX key through
:func:`repro.core.seeds.seed_int` (63 bits, split into the two 32-bit words of a threefry key), so parameter
initialisation is a function of the run seed and the stream's name only.
"""
from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from repro.core.seeds import Key, seed_int

ACTIVATIONS = {"relu": nn.relu, "tanh": jnp.tanh, "gelu": nn.gelu, "elu": nn.elu}
"""Hidden-layer activations by name (the output layer is linear)."""


def prng_key(seed: int, *keys: Key) -> jax.Array:
    """The JAX key of the stream ``(seed, *keys)``: all 63 bits of ``seed_int(seed, *keys)``."""
    word = seed_int(seed, *keys)
    return jax.random.wrap_key_data(np.array([word >> 32, word & 0xFFFFFFFF], dtype=np.uint32))


def prng_keys(seeds: Sequence[int], *keys: Key) -> jax.Array:
    """One key per run seed, stacked (the leading axis is the one ``jax.vmap`` maps over)."""
    return jnp.stack([prng_key(int(s), *keys) for s in seeds])


class MLP(nn.Module):
    """Dense layers of sizes ``hidden`` with ``activation`` after each, then a linear layer of size ``out``."""
    hidden: Sequence[int]
    out: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


def make_mlp(hidden: Sequence[int], out: int, activation: str = "relu") -> MLP:
    """An :class:`MLP`, with a clear error for a bad size or activation name."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r}: expected one of {sorted(ACTIVATIONS)}")
    hidden = tuple(hidden)
    if any(not isinstance(w, (int, np.integer)) or w <= 0 for w in hidden):
        raise ValueError(f"hidden={hidden!r}: expected positive layer widths")
    if not isinstance(out, (int, np.integer)) or out <= 0:
        raise ValueError(f"out={out!r}: expected a positive output size")
    return MLP(hidden=tuple(int(w) for w in hidden), out=int(out), activation=activation)


def init_params(module: nn.Module, input_dim: int, key: jax.Array):
    """The parameter pytree of ``module`` for inputs of width ``input_dim``, initialised from ``key``."""
    return module.init(key, jnp.zeros((1, int(input_dim)), jnp.float32))["params"]


def apply(module: nn.Module, params, x):
    """``module``'s output on ``x`` under ``params`` (the pytree :func:`init_params` returns)."""
    return module.apply({"params": params}, x)
