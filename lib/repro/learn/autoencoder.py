"""Autoencoders over windows of observations: the OOD detector of Streetwise (brief 04 §2, "OOD detector").

* :class:`LSTMAutoencoder` [paper: an LSTM autoencoder; sizes our choice]: an LSTM encoder (``hidden`` units) reads
  the window of the last W observation vectors; its final hidden state goes through a linear ``bottleneck``; a
  linear map of the code, repeated W times, feeds an LSTM decoder whose outputs a linear layer maps back to
  observations.
* :class:`MLPAutoencoder` (the brief's ablation): the flattened window through ReLU layers
  ``hidden -> bottleneck -> hidden`` and a linear output of W x d, the same bottleneck without recurrence.

The score of a window is its reconstruction MSE e_t in standardised units (each observation feature centred and
scaled by the training windows' mean and standard deviation); a detector fires when e_t exceeds a threshold, the
99th percentile of in-distribution validation scores (:func:`threshold`).

Training: Adam (lr 1e-3, batch 256) on the MSE, for several seeds at once (``jax.vmap`` over the parameter state and
key, ``jax.lax.scan`` over steps), each seed initialised from the stream (seed, "autoencoder", kind) of
:mod:`repro.core.seeds` and sampling its own minibatches.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from repro.learn.mlp import prng_keys

KINDS = ("lstm", "mlp")


@dataclass(frozen=True)
class Config:
    """Sizes and optimiser (brief 04 §2: hidden 32, bottleneck 8)."""
    hidden: int = 32
    bottleneck: int = 8
    learning_rate: float = 1e-3
    batch_size: int = 256

    def __post_init__(self):
        bad = [f"{k}={getattr(self, k)!r}" for k in ("hidden", "bottleneck", "learning_rate", "batch_size")
               if not getattr(self, k) > 0]
        if bad:
            raise ValueError("bad autoencoder config: expected > 0: " + ", ".join(bad))


class LSTMAutoencoder(nn.Module):
    hidden: int
    bottleneck: int

    @nn.compact
    def __call__(self, x):                                   # (batch, W, d)
        (_, h), _ = nn.RNN(nn.OptimizedLSTMCell(self.hidden), return_carry=True)(x)
        code = nn.Dense(self.bottleneck)(h)
        seed = jnp.repeat(nn.Dense(self.hidden)(code)[:, None, :], x.shape[1], axis=1)
        return nn.Dense(x.shape[2])(nn.RNN(nn.OptimizedLSTMCell(self.hidden))(seed))


class MLPAutoencoder(nn.Module):
    hidden: int
    bottleneck: int

    @nn.compact
    def __call__(self, x):
        flat = x.reshape(x.shape[0], -1)
        for width in (self.hidden, self.bottleneck, self.hidden):
            flat = nn.relu(nn.Dense(width)(flat))
        return nn.Dense(x.shape[1] * x.shape[2])(flat).reshape(x.shape)


class Scaler(NamedTuple):
    """Per-feature mean and standard deviation of the training windows."""
    mean: jax.Array
    std: jax.Array


def sliding_windows(obs, window: int) -> np.ndarray:
    """Windows (..., T, window, d) of obs (..., T, d): window t holds steps t-window+1 .. t, the first step repeated
    before the start."""
    obs = np.asarray(obs, dtype=np.float32)
    pad = np.repeat(obs[..., :1, :], window - 1, axis=-2)
    padded = np.concatenate([pad, obs], axis=-2)
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-2)   # (..., T, d, window)
    return np.ascontiguousarray(np.swapaxes(view, -1, -2))


def threshold(scores, percentile: float = 99.0) -> np.ndarray:
    """The ``percentile`` of in-distribution scores along the last axis (one threshold per seed)."""
    return np.percentile(np.asarray(scores), percentile, axis=-1)


class Autoencoder:
    """An autoencoder of ``kind`` ("lstm" or "mlp") over windows of ``window`` x ``obs_dim`` observations."""

    def __init__(self, kind: str, window: int, obs_dim: int, cfg: Config = Config()):
        if kind not in KINDS:
            raise ValueError(f"autoencoder kind={kind!r}: expected one of {KINDS}")
        if window < 1 or obs_dim < 1:
            raise ValueError(f"autoencoder: expected window >= 1 and obs_dim >= 1, got {window}, {obs_dim}")
        self.kind, self.window, self.obs_dim, self.cfg = kind, int(window), int(obs_dim), cfg
        module = LSTMAutoencoder if kind == "lstm" else MLPAutoencoder
        self.net = module(cfg.hidden, cfg.bottleneck)
        self.optimiser = optax.adam(cfg.learning_rate)
        self._fit = jax.jit(jax.vmap(self._fit_one, in_axes=(0, None, None, None)), static_argnums=3)
        self.scores = jax.jit(jax.vmap(self._scores, in_axes=(0, None, None)))
        self.scores_per_seed = jax.jit(jax.vmap(self._scores, in_axes=(0, None, 0)))

    def _errors(self, params, scaler: Scaler, windows):
        x = (windows - scaler.mean) / scaler.std
        return jnp.mean((self.net.apply({"params": params}, x) - x) ** 2, axis=(1, 2))

    def _scores(self, params, scaler: Scaler, windows):
        """Reconstruction MSE per window (standardised units). ``scores(params, scaler, windows)`` does it for
        stacked (per-seed) params on shared windows (N, W, d) -> (seeds, N); ``scores_per_seed`` on per-seed windows
        (seeds, N, W, d)."""
        return self._errors(params, scaler, windows)

    def _fit_one(self, key, windows, scaler: Scaler, n_steps: int):
        init_key, sample_key = jax.random.split(key)
        params = self.net.init(init_key, jnp.zeros((1, self.window, self.obs_dim)))["params"]

        def step(carry, step_key):
            params, opt_state = carry
            batch = windows[jax.random.randint(step_key, (self.cfg.batch_size,), 0, windows.shape[0])]
            loss, grads = jax.value_and_grad(lambda p: jnp.mean(self._errors(p, scaler, batch)))(params)
            updates, opt_state = self.optimiser.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, self.optimiser.init(params)),
                                           jax.random.split(sample_key, n_steps))
        return params, losses

    def fit(self, windows, seeds: Sequence[int], n_steps: int):
        """Train one autoencoder per seed on ``windows`` (N, window, obs_dim); returns (stacked params, scaler,
        losses (seeds, n_steps))."""
        windows = jnp.asarray(windows, jnp.float32)
        if windows.ndim != 3 or windows.shape[1:] != (self.window, self.obs_dim) or windows.shape[0] == 0:
            raise ValueError(f"autoencoder windows: shape {tuple(windows.shape)}, expected (N >= 1, {self.window}, "
                             f"{self.obs_dim})")
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps <= 0:
            raise ValueError(f"autoencoder n_steps={n_steps!r}: expected a positive integer")
        flat = windows.reshape(-1, self.obs_dim)
        scaler = Scaler(flat.mean(axis=0), jnp.maximum(flat.std(axis=0), 1e-6))
        params, losses = self._fit(prng_keys(seeds, "autoencoder", self.kind), windows, scaler, int(n_steps))
        return params, scaler, losses
