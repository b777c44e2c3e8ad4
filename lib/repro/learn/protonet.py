"""A prototypical network (Snell, Swersky & Zemel 2017) trained in episodes with Optax.

Brief 09 §2, "Recommender": "a prototypical network in JAX + Flax + Optax: an MLP encoder with class
prototypes = mean embeddings, trained in episodes". With encoder f_phi (an :class:`repro.learn.mlp.MLP`):

    c_k         = mean of f_phi(x) over the support items x of class k                       (prototype)
    p(y = k | x) = softmax_k( -||f_phi(x) - c_k||^2 )                                         (squared Euclidean)
    loss        = mean over query items of -log p(y = true class | x)

An episode picks ``n_way`` classes (all classes if there are fewer), ``k_shot`` support and ``n_query``
query items of each; the encoder takes one Adam step on the episode's loss. Items of a class are drawn
without replacement when the class has at least ``k_shot + n_query`` items, else with replacement
[our choice: small classes still take part]. Episodes are drawn from the stream (seed, "protonet").
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from repro.core.seeds import rng
from repro.learn.mlp import apply, init_params, make_mlp, prng_key
from repro.papers.config import check_positive


@dataclass(frozen=True)
class Config:
    """Encoder and episode settings [our choice; brief 09 leaves them open]."""
    hidden: tuple[int, ...] = (64,)
    embedding_dim: int = 32
    n_way: int = 8
    k_shot: int = 5
    n_query: int = 5
    learning_rate: float = 1e-3
    n_episodes: int = 500

    def __post_init__(self):
        problems = check_positive(self, "embedding_dim", "n_way", "k_shot", "n_query", "learning_rate",
                                  "n_episodes")
        if self.n_way < 2:
            problems.append(f"n_way: expected >= 2 classes per episode, got {self.n_way!r}")
        if problems:
            raise ValueError("bad prototypical-network config:\n  " + "\n  ".join(problems))


def prototypes(embeddings, labels, n_classes: int):
    """Mean embedding of each class 0..n_classes-1 (rows of a (n_classes, dim) array); a class with no items is NaN."""
    one_hot = jax.nn.one_hot(labels, n_classes, dtype=embeddings.dtype)
    return (one_hot.T @ embeddings) / jnp.sum(one_hot, axis=0)[:, None]


def logits(query_embeddings, protos):
    """Negative squared Euclidean distance of every query embedding to every prototype, shape (queries, classes)."""
    return -jnp.sum((query_embeddings[:, None, :] - protos[None, :, :]) ** 2, axis=-1)


class ProtoNet:
    """A prototypical network over ``input_dim``-dimensional feature vectors."""

    def __init__(self, cfg: Config, input_dim: int):
        self.cfg, self.input_dim = cfg, int(input_dim)
        self.encoder = make_mlp(cfg.hidden, cfg.embedding_dim)
        self.optimiser = optax.adam(cfg.learning_rate)
        self._step = jax.jit(self._episode_step, static_argnums=6)
        self.predict = jax.jit(self._predict, static_argnums=4)

    def embed(self, params, x):
        return apply(self.encoder, params, x)

    def episode_loss(self, params, support_x, support_y, query_x, query_y, n_way: int):
        protos = prototypes(self.embed(params, support_x), support_y, n_way)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits(self.embed(params, query_x), protos),
                                                                        query_y))

    def _episode_step(self, params, opt_state, support_x, support_y, query_x, query_y, n_way):
        loss, grads = jax.value_and_grad(self.episode_loss)(params, support_x, support_y, query_x, query_y, n_way)
        steps, opt_state = self.optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, steps), opt_state, loss

    def _predict(self, params, support_x, support_y, query_x, n_classes):
        """The class (0..n_classes-1) whose prototype is nearest to each query item."""
        protos = prototypes(self.embed(params, support_x), support_y, n_classes)
        return jnp.argmax(logits(self.embed(params, query_x), protos), axis=-1)

    def fit(self, x, y, seed: int, *keys):
        """Encoder parameters after ``n_episodes`` episodes on items ``x`` (n, input_dim) with labels ``y`` (n,).

        Returns (params, losses per episode). Episodes and initial parameters come from ``(seed, "protonet", *keys)``.
        """
        x, y = check_items(x, y, self.input_dim)
        classes = np.unique(y)
        members = [np.flatnonzero(y == c) for c in classes]
        n_way = min(self.cfg.n_way, len(classes))
        episodes = rng(seed, "protonet", *keys)
        params = init_params(self.encoder, self.input_dim, prng_key(seed, "protonet", *keys))
        opt_state = self.optimiser.init(params)
        losses = np.empty(self.cfg.n_episodes)
        support_y = np.repeat(np.arange(n_way), self.cfg.k_shot)   # episode labels, row-major like ravel()
        query_y = np.repeat(np.arange(n_way), self.cfg.n_query)
        for i in range(self.cfg.n_episodes):
            support, query = self._episode(episodes, members, n_way)
            params, opt_state, loss = self._step(params, opt_state, x[support.ravel()], support_y,
                                                 x[query.ravel()], query_y, n_way)
            losses[i] = float(loss)
        return params, losses

    def _episode(self, episodes: np.random.Generator, members, n_way: int):
        """Item indices of one episode: support (n_way, k_shot) and query (n_way, n_query), row w = class w."""
        chosen = episodes.choice(len(members), size=n_way, replace=False)
        need = self.cfg.k_shot + self.cfg.n_query
        drawn = np.stack([episodes.choice(members[c], size=need, replace=len(members[c]) < need) for c in chosen])
        return drawn[:, :self.cfg.k_shot], drawn[:, self.cfg.k_shot:]


def check_items(x, y, input_dim: int):
    """``x`` as float32 (n, input_dim) and ``y`` as int labels (n,), or a ValueError naming the bad one."""
    x, y = np.asarray(x, np.float32), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != input_dim:
        raise ValueError(f"protonet x: shape {x.shape}, expected (items, {input_dim})")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"protonet y: expected {len(x)} integer labels, got shape {y.shape} dtype {y.dtype}")
    if len(np.unique(y)) < 2:
        raise ValueError("protonet y: expected at least 2 classes")
    return x, y
