"""Implicit Q-Learning (Kostrikov, Nair & Levine 2021), trained for several seeds at once under ``jax.vmap``.

Brief 04 §2, "IQL" (standard IQL with IQL's defaults): on offline transitions (s, a, r, s', done),

    L_V(psi)   = E[ |tau - 1(u < 0)| * u^2 ],  u = min_k Q_k(s, a; theta^-_k) - V(s; psi)      (expectile, tau = 0.7)
    L_Q(theta) = sum_k E[ (r + gamma (1 - done) V(s'; psi) - Q_k(s, a; theta_k))^2 ]            (twin Q, gamma = 0.99)
    L_pi(phi)  = -E[ min(exp(beta * A), 100) * log pi(a | s; phi) ],  A = min_k Q_k(s, a; theta^-) - V(s)
                                                                            (AWR, beta = 3, weights clipped at 100)
    theta^-   <- (1 - 0.005) theta^- + 0.005 theta                                            (Polyak target)

with 2-layer MLPs of 256 ReLU units and Adam lr 3e-4, batch 256. One update step takes one minibatch and
updates V, then pi, then Q, then the target, in that order (as in IQL's reference implementation).

Policy [our choice, IQL's default for continuous control]: a Gaussian with mean tanh(mu(s)) in [-1, 1]^d and
a state-independent log standard deviation clipped to [-5, 2]; the deployed action is the mean. Actions in
the dataset must therefore be scaled to [-1, 1]. IQL's cosine decay of the actor learning rate and
its dropout are not used.

Seeds: ``train(data, seeds, n_steps)`` initialises one state per seed from the stream (seed, "iql") and
runs ``n_steps`` updates of all of them at once (``jax.vmap`` over the state and key, ``jax.lax.scan``
over steps), sampling each seed's minibatches from the same dataset with its own key.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from repro.learn.mlp import apply, init_params, make_mlp, prng_keys
from repro.papers.config import check_fraction, check_positive

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
"""Clip of the policy's log standard deviation (IQL's)."""


@dataclass(frozen=True)
class Config:
    """IQL settings; defaults are IQL's (brief 04 §2)."""
    hidden: tuple[int, ...] = (256, 256)
    expectile: float = 0.7
    temperature: float = 3.0
    max_weight: float = 100.0
    gamma: float = 0.99
    polyak: float = 0.005
    learning_rate: float = 3e-4
    batch_size: int = 256

    def __post_init__(self):
        problems = check_positive(self, "temperature", "max_weight", "learning_rate", "batch_size")
        problems += check_fraction(self, "expectile", "gamma", "polyak")
        if problems:
            raise ValueError("bad IQL config:\n  " + "\n  ".join(problems))


class Data(NamedTuple):
    """Offline transitions as arrays with a leading item axis; ``done`` is 1.0 where s' is terminal."""
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array


class State(NamedTuple):
    """Parameters and optimiser states of V, the twin Q (stacked on a leading axis of 2), its target and pi."""
    value: dict
    critic: dict
    target: dict
    actor: dict
    log_std: jax.Array
    value_opt: optax.OptState
    critic_opt: optax.OptState
    actor_opt: optax.OptState


def expectile_loss(diff, expectile: float):
    """Asymmetric squared loss |tau - 1(diff < 0)| * diff^2, elementwise (diff = Q - V)."""
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return weight * diff ** 2


def gaussian_log_prob(action, mean, log_std):
    """log N(action; mean, diag(exp(log_std))^2), summed over action dimensions."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


class IQL:
    """IQL for ``obs_dim``-dimensional observations and ``action_dim``-dimensional actions in [-1, 1]."""

    def __init__(self, cfg: Config, obs_dim: int, action_dim: int):
        self.cfg, self.obs_dim, self.action_dim = cfg, int(obs_dim), int(action_dim)
        self.value_net = make_mlp(cfg.hidden, 1)
        self.critic_net = make_mlp(cfg.hidden, 1)
        self.actor_net = make_mlp(cfg.hidden, self.action_dim)
        self.optimiser = optax.adam(cfg.learning_rate)
        self.policy_mean = jax.jit(self._policy_mean)
        self.policy_means = jax.jit(jax.vmap(self._policy_mean, in_axes=(0, None)))
        self._train_all = jax.jit(self._train_seeds, static_argnums=2)

    # ------------------------------------------------------------------ networks
    def value(self, params, obs):
        return apply(self.value_net, params, obs)[..., 0]

    def q_values(self, critic, obs, action):
        """Both Q heads, shape (2, batch): the twin parameters are stacked on a leading axis."""
        sa = jnp.concatenate([obs, action], axis=-1)
        return jax.vmap(lambda p: apply(self.critic_net, p, sa)[..., 0])(critic)

    def _policy_mean(self, actor, obs):
        """The deployed (mean) action in [-1, 1]; ``policy_means`` does it for stacked actors (one per seed)."""
        return jnp.tanh(apply(self.actor_net, actor, obs))

    # ------------------------------------------------------------------ init and losses
    def init(self, key) -> State:
        value_key, critic_key, actor_key = jax.random.split(key, 3)
        value = init_params(self.value_net, self.obs_dim, value_key)
        critic = jax.vmap(lambda k: init_params(self.critic_net, self.obs_dim + self.action_dim, k))(
            jax.random.split(critic_key, 2))
        actor = init_params(self.actor_net, self.obs_dim, actor_key)
        log_std = jnp.zeros(self.action_dim)
        return State(value, critic, critic, actor, log_std, self.optimiser.init(value),
                     self.optimiser.init(critic), self.optimiser.init((actor, log_std)))

    def value_loss(self, value, target, batch: Data):
        q = jnp.min(self.q_values(target, batch.obs, batch.action), axis=0)
        return jnp.mean(expectile_loss(q - self.value(value, batch.obs), self.cfg.expectile))

    def actor_loss(self, actor_and_log_std, value, target, batch: Data):
        actor, log_std = actor_and_log_std
        advantage = jnp.min(self.q_values(target, batch.obs, batch.action), axis=0) - self.value(value, batch.obs)
        weight = jax.lax.stop_gradient(jnp.minimum(jnp.exp(self.cfg.temperature * advantage), self.cfg.max_weight))
        log_prob = gaussian_log_prob(batch.action, self._policy_mean(actor, batch.obs),
                                     jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX))
        return -jnp.mean(weight * log_prob)

    def critic_loss(self, critic, value, batch: Data):
        y = batch.reward + self.cfg.gamma * (1.0 - batch.done) * self.value(value, batch.next_obs)
        return jnp.mean(jnp.sum((self.q_values(critic, batch.obs, batch.action) - y) ** 2, axis=0))

    # ------------------------------------------------------------------ updates
    def _step(self, params, opt_state, loss_fn, *args):
        loss, grads = jax.value_and_grad(loss_fn)(params, *args)
        steps, opt_state = self.optimiser.update(grads, opt_state, params)
        return optax.apply_updates(params, steps), opt_state, loss

    def update(self, state: State, batch: Data):
        """One IQL update of V, pi, Q and the target on ``batch``; returns (state, (value, actor, critic) losses)."""
        value, value_opt, value_loss = self._step(state.value, state.value_opt, self.value_loss, state.target, batch)
        (actor, log_std), actor_opt, actor_loss = self._step((state.actor, state.log_std), state.actor_opt,
                                                             self.actor_loss, value, state.target, batch)
        critic, critic_opt, critic_loss = self._step(state.critic, state.critic_opt, self.critic_loss, value, batch)
        target = optax.incremental_update(critic, state.target, self.cfg.polyak)
        new = State(value, critic, target, actor, log_std, value_opt, critic_opt, actor_opt)
        return new, jnp.stack([value_loss, actor_loss, critic_loss])

    def _train_one(self, key, data: Data, n_steps: int):
        init_key, sample_key = jax.random.split(key)
        n_items = data.reward.shape[0]

        def step(state, step_key):
            index = jax.random.randint(step_key, (self.cfg.batch_size,), 0, n_items)
            return self.update(state, jax.tree_util.tree_map(lambda x: x[index], data))

        return jax.lax.scan(step, self.init(init_key), jax.random.split(sample_key, n_steps))

    def train(self, data: Data, seeds: Sequence[int], n_steps: int):
        """Train one IQL agent per seed, all at once; returns (stacked states, losses of shape (seeds, steps, 3))."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps <= 0:
            raise ValueError(f"IQL n_steps={n_steps!r}: expected a positive integer")
        data = check_data(data, self.obs_dim, self.action_dim)
        return self._train_all(prng_keys(seeds, "iql"), data, int(n_steps))

    def _train_seeds(self, keys, data: Data, n_steps: int):
        return jax.vmap(lambda key: self._train_one(key, data, n_steps))(keys)


def check_data(data: Data, obs_dim: int, action_dim: int) -> Data:
    """``data`` as float32 JAX arrays, or a ValueError naming the field with a wrong shape or range."""
    data = Data(*(jnp.asarray(x, jnp.float32) for x in data))
    n = data.obs.shape[0]   # items, counted on obs
    expected = {"obs": (n, obs_dim), "action": (n, action_dim), "reward": (n,), "next_obs": (n, obs_dim),
                "done": (n,)}
    for name, shape in expected.items():
        if getattr(data, name).shape != shape:
            raise ValueError(f"IQL data field {name!r}: shape {getattr(data, name).shape}, expected {shape}")
    if n == 0:
        raise ValueError("IQL data: no transitions")
    if float(jnp.max(jnp.abs(data.action))) > 1.0:
        raise ValueError("IQL data field 'action': values outside [-1, 1] (scale actions to the policy's range)")
    return data
