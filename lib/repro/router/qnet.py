"""The router's Q-networks (brief 03 §2 "Learner", paper A.9.3): the paper's MLP, or one scorer shared by the instances.

* ``mlp`` [paper]: the 27 -> 64 -> 64 -> 5 MLP of :mod:`repro.learn.mlp` on the whole observation.
* ``shared-instance`` [our choice, issue 15]: Q(s, route to i) = f(block_i, c(s)) for every instance i with one
  scorer f (hidden layers ``hidden``, then one output), and Q(s, wait) = g(c(s)) with a second MLP of the same
  hidden layers; c(s) = the queue features (last 3) and the mean of the m instance blocks. Relabelling the (identical)
  instances permutes the routing Q-values the same way and leaves the wait's unchanged, as the optimal Q-function
  does, so no Q-value depends on an instance's position. Reason: with the paper's MLP the greedy router sends the
  head to the legal instance with the most work left (rank 0.83-0.91 of 1, random 0.50; 4 training runs of the
  headline setting) and loses to uniform random routing, also when trained on randomly relabelled instances; each
  routing head of the MLP must learn from its own output how its instance's block bears on its value, from a signal
  about 1e-4 of the values it fits. The shared scorer reads instance i's block directly and learns one mapping
  from every instance's transitions.
"""
from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from repro.learn.mlp import ACTIVATIONS, MLP, make_mlp
from repro.router.cluster import PER_INSTANCE

NETWORKS = ("mlp", "shared-instance")


class SharedInstanceQ(nn.Module):
    """Q-values [n, m + 1] of observations [n, PER_INSTANCE m + 3] (module docstring)."""
    m: int
    hidden: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        n = x.shape[0]
        blocks = x[:, :PER_INSTANCE * self.m].reshape(n, self.m, PER_INSTANCE)
        context = jnp.concatenate([x[:, PER_INSTANCE * self.m:], blocks.mean(axis=1)], axis=1)
        per_instance = jnp.concatenate([blocks, jnp.broadcast_to(context[:, None, :], (n, self.m, context.shape[1]))],
                                       axis=2)
        route = MLP(self.hidden, 1, self.activation, name="scorer")(per_instance)[..., 0]
        wait = MLP(self.hidden, 1, self.activation, name="wait")(context)
        return jnp.concatenate([route, wait], axis=1)


def make_q_network(kind: str, m: int, hidden: Sequence[int], activation: str = "relu") -> nn.Module:
    """The Q-network ``kind`` (one of :data:`NETWORKS`) for m instances; ``make_mlp`` checks the sizes."""
    if kind not in NETWORKS:
        raise ValueError(f"network={kind!r}: expected one of {NETWORKS}")
    mlp = make_mlp(hidden, m + 1, activation)
    if kind == "mlp":
        return mlp
    return SharedInstanceQ(m, mlp.hidden, activation)
