"""Double DQN (van Hasselt et al. 2016) with a periodically synced target network.

Brief 03 §2, "Learner" (paper A.9.3 and our choices): Double DQN, minibatch 512, an MLP Q-network
(27->64->64->5, ReLU), Adam lr 1e-3, replay 100k (:mod:`repro.learn.replay`), target sync every 1,000
updates, epsilon decaying linearly from 1 to 0.

Update on a minibatch of transitions (s, a, r, s', done), with online parameters theta and target theta^-:

    a*   = argmax_a' Q(s', a'; theta)                                  (the online network selects)
    y    = r + gamma * (1 - done) * Q(s', a*; theta^-)                 (the target network evaluates)
    loss = mean_i Huber_delta(Q(s_i, a_i; theta) - y_i)                (y is held fixed)

theta takes one Optax step on ``loss``; after every ``target_sync_every``-th update theta^- <- theta.
Exploration is epsilon-greedy with epsilon linear from ``epsilon_start`` to ``epsilon_end`` over
``epsilon_decay_steps`` steps (a step is whatever the caller counts: decisions or episodes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from repro.learn.mlp import apply, init_params, make_mlp, prng_key
from repro.papers.config import check_fraction, check_positive

OPTIMISERS = {"adam": optax.adam, "sgd": optax.sgd}


@dataclass(frozen=True)
class Config:
    """Double DQN settings; defaults are brief 03's (paper A.9.3 and [our choice] items)."""
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    optimiser: str = "adam"
    learning_rate: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 512
    replay_capacity: int = 100_000          # of the caller's repro.learn.replay.ReplayBuffer
    target_sync_every: int = 1_000
    huber_delta: float = 1.0
    epsilon_start: float = 1.0
    epsilon_end: float = 0.0
    epsilon_decay_steps: int = 20

    def __post_init__(self):
        problems = check_positive(self, "learning_rate", "batch_size", "replay_capacity", "target_sync_every",
                                  "huber_delta", "epsilon_decay_steps")
        problems += check_fraction(self, "gamma", "epsilon_start", "epsilon_end")
        if self.optimiser not in OPTIMISERS:
            problems.append(f"optimiser: expected one of {sorted(OPTIMISERS)}, got {self.optimiser!r}")
        if problems:
            raise ValueError("bad DQN config:\n  " + "\n  ".join(problems))


class State(NamedTuple):
    """Online and target parameters, optimiser state and the number of updates done (a pytree)."""
    online: dict
    target: dict
    opt_state: optax.OptState
    updates: jax.Array


class Batch(NamedTuple):
    """A minibatch of transitions; ``action`` is int, ``done`` is 1.0 where s' is terminal."""
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array


def epsilon(cfg: Config, step):
    """The exploration rate after ``step`` steps: linear from epsilon_start to epsilon_end, then flat."""
    return optax.linear_schedule(cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps)(step)


class DoubleDQN:
    """Double DQN for ``obs_dim``-dimensional observations and ``n_actions`` discrete actions.

    ``init(seed)`` -> :class:`State`; ``update(state, batch)`` -> (state, loss) (jitted);
    ``q_values(params, obs)``, ``greedy(params, obs)`` and ``act(params, obs, eps, key)`` (jitted).
    """

    def __init__(self, cfg: Config, obs_dim: int, n_actions: int):
        self.cfg, self.obs_dim, self.n_actions = cfg, int(obs_dim), int(n_actions)
        self.network = make_mlp(cfg.hidden, self.n_actions, cfg.activation)
        self.optimiser = OPTIMISERS[cfg.optimiser](cfg.learning_rate)
        self.update = jax.jit(self._update)
        self.greedy = jax.jit(self._greedy)
        self.act = jax.jit(self._act)

    def init(self, seed: int, *keys) -> State:
        """Fresh parameters from the stream ``(seed, "dqn", *keys)``; the target starts equal to the online net."""
        params = init_params(self.network, self.obs_dim, prng_key(seed, "dqn", *keys))
        return State(params, params, self.optimiser.init(params), jnp.zeros((), jnp.int32))

    def q_values(self, params, obs):
        return apply(self.network, params, obs)

    def loss(self, params, target, batch: Batch):
        """The mean Huber TD error of the online ``params`` against the Double-DQN target (module docstring)."""
        best_next = jnp.argmax(self.q_values(params, batch.next_obs), axis=-1)
        next_q = jnp.take_along_axis(self.q_values(target, batch.next_obs), best_next[:, None], axis=-1)[:, 0]
        y = jax.lax.stop_gradient(batch.reward + self.cfg.gamma * (1.0 - batch.done) * next_q)
        q = jnp.take_along_axis(self.q_values(params, batch.obs), batch.action[:, None], axis=-1)[:, 0]
        return jnp.mean(optax.huber_loss(q, y, delta=self.cfg.huber_delta))

    def _update(self, state: State, batch: Batch):
        loss, grads = jax.value_and_grad(self.loss)(state.online, state.target, batch)
        steps, opt_state = self.optimiser.update(grads, state.opt_state, state.online)
        online = optax.apply_updates(state.online, steps)
        updates = state.updates + 1
        target = optax.periodic_update(online, state.target, updates, self.cfg.target_sync_every)
        return State(online, target, opt_state, updates), loss

    def _greedy(self, params, obs):
        return jnp.argmax(self.q_values(params, obs), axis=-1)

    def _act(self, params, obs, eps, key):
        """Epsilon-greedy actions for a batch of observations: uniform with probability ``eps``, else greedy."""
        explore_key, action_key = jax.random.split(key)
        explore = jax.random.uniform(explore_key, obs.shape[:1]) < eps
        random_actions = jax.random.randint(action_key, obs.shape[:1], 0, self.n_actions)
        return jnp.where(explore, random_actions, self._greedy(params, obs))
