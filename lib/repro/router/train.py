"""Training the three RL routers of brief 03 §2 with Double DQN (:mod:`repro.learn.dqn`) on the vector environment.

Variants (reward r = progress + r_w completions + w_k h, discount gamma_k for the transitions of episode k >= 1):

* ``baseline``  (Baseline RL):        w_k = 0,                  gamma_k = gamma;
* ``aware``     (Workload-Aware RL):  w_k = 1,                  gamma_k = gamma [our choice for the discount];
* ``guided``    (Workload-Guided RL): w_k = e^(-beta_d k) gamma, gamma_k = (1 - e^(-beta_d k)) gamma, beta_d = 0.5
  (HuRL's schedule, brief §2 "Guidance schedule", [paper, reading]).

The per-episode discount needs a per-transition discount in the TD target, which :class:`repro.learn.dqn.DoubleDQN`
does not have (its gamma is fixed in its Config): :class:`DiscountedDoubleDQN` overrides its loss so the
target is r + discount_i (1 - done) Q_target(s', argmax over the legal actions of s' of Q_online(s')), and the
replay stores each transition's discount and next legal actions. With every discount equal to Config.gamma and
every action legal it is exactly DoubleDQN (tests/test_router_train.py).

Decisions [our choice]: the agent is asked only when a request is queued (with an empty queue every action is a
wait). Legal actions [our choice, the literal reading of brief §2 "routed one at a time to an instance that has
capacity"]: the instances that can admit the head request now (aux ``A_FITS``); the wait only when none can.
Reason (issue 15): the effect of one decision on the return is ~1e-4 of the state value (one 0.02 s wait changes
it by ~1 request-step, and by exactly 0 while the instances are backlogged), far below the Q-network's error (the
greedy Q-gap is ~0.04 of values ~1), so without the mask the greedy policy picks by noise: it waits until the
instances starve, or sends most requests to one instance's queue, and leaves requests unserved at the cut. The
mask applies to exploration, to the greedy policy and to the argmax of the Double-DQN target (each transition
stores its next state's legal actions).
A transition runs from one such decision to the next (a semi-MDP): its reward is the discounted sum of the
per-step rewards in between and its discount is gamma_k^tau after tau steps, stored per transition, so steps with
nothing to route neither flood the replay nor shorten the horizon in decisions.

Q-network (``TrainConfig.network``, :mod:`repro.router.qnet`): the paper's MLP or, by default [our choice], one
scorer shared by the instances, which the module explains.

Training [our choices beside the brief's]: ``parallel`` clusters run ``parallel`` episodes in lockstep (episode
indices k = 1..episodes); epsilon-greedy with epsilon linear 1 -> 0 over the first 20 episodes
(:func:`repro.learn.dqn.epsilon`, per episode); one gradient step per ``update_every`` stored transitions once the
replay holds a minibatch; the network sees log(1 + obs) (every feature is >= 0) and rewards times
``reward_scale`` (a positive scale leaves the optimal policy unchanged). Seeds: network (seed, "dqn", "router",
variant, replicate); exploration and minibatches (seed, "router-explore", variant, replicate).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from repro.core.seeds import rng
from repro.learn import dqn
from repro.learn.replay import ReplayBuffer
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.evaluate import Evaluation, evaluate
from repro.router.qnet import NETWORKS, make_q_network
from repro.router.routers import explore_actions, legal_actions
from repro.router.workload import Workload

VARIANTS = ("baseline", "aware", "guided")
NAMES = {"baseline": "Baseline RL", "aware": "Workload-Aware RL", "guided": "Workload-Guided RL"}


class DiscountedBatch(NamedTuple):
    """A minibatch of transitions with each transition's own discount."""
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array
    discount: jax.Array
    next_legal: jax.Array       # [n, actions] 1.0 where the action is legal in next_obs


class DiscountedDoubleDQN(dqn.DoubleDQN):
    """:class:`repro.learn.dqn.DoubleDQN` with a per-transition discount and next-state legal actions in the TD
    target (module docstring) and the Q-network ``network`` of :mod:`repro.router.qnet`; ``q`` is the jitted
    ``q_values``."""

    def __init__(self, cfg: dqn.Config, obs_dim: int, n_actions: int, network: str = "mlp"):
        super().__init__(cfg, obs_dim, n_actions)
        self.network_kind = network
        self.network = make_q_network(network, n_actions - 1, cfg.hidden, cfg.activation)
        self.q = jax.jit(self.q_values)

    def loss(self, params, target, batch: DiscountedBatch):
        best_next = jnp.argmax(jnp.where(batch.next_legal > 0, self.q_values(params, batch.next_obs), -jnp.inf), axis=-1)
        next_q = jnp.take_along_axis(self.q_values(target, batch.next_obs), best_next[:, None], axis=-1)[:, 0]
        y = jax.lax.stop_gradient(batch.reward + batch.discount * (1.0 - batch.done) * next_q)
        q = jnp.take_along_axis(self.q_values(params, batch.obs), batch.action[:, None], axis=-1)[:, 0]
        return jnp.mean(optax.huber_loss(q, y, delta=self.cfg.huber_delta))


@dataclass(frozen=True)
class TrainConfig:
    """How one RL router is trained (module docstring); ``dqn`` holds the learner's settings."""
    episodes: int = 40
    parallel: int = 8
    update_every: int = 16
    beta_d: float = 0.5
    reward_scale: float = 1e-4
    network: str = "shared-instance"
    dqn: dqn.Config = field(default_factory=dqn.Config)

    def __post_init__(self):
        for name in ("episodes", "parallel", "update_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.episodes % self.parallel:
            raise ValueError(f"episodes={self.episodes}: expected a multiple of parallel={self.parallel}")
        if self.beta_d <= 0 or self.reward_scale <= 0:
            raise ValueError("beta_d and reward_scale: expected > 0")
        if self.network not in NETWORKS:
            raise ValueError(f"network={self.network!r}: expected one of {NETWORKS}")


def schedule(variant: str, episode, gamma: float, beta_d: float):
    """(guidance weight w_k, discount gamma_k) of episodes ``episode`` (k >= 1) for a variant."""
    k = np.asarray(episode, dtype=float)
    if variant == "baseline":
        return np.zeros_like(k), np.full_like(k, gamma)
    if variant == "aware":
        return np.ones_like(k), np.full_like(k, gamma)
    if variant == "guided":
        decay = np.exp(-beta_d * k)
        return decay * gamma, (1.0 - decay) * gamma
    raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")


def features(obs) -> np.ndarray:
    """What the network reads: log(1 + obs), float32."""
    return np.log1p(obs).astype(np.float32)


def act_greedy(agent: DiscountedDoubleDQN, params, obs, aux) -> np.ndarray:
    """Greedy legal actions; the network is asked only for clusters with a queued request (elsewhere every action
    is a wait, and the wait action m is returned), which saves most network calls."""
    m = agent.n_actions - 1
    busy = obs[:, -3] > 0
    actions = np.full(len(obs), m, np.int64)
    if busy.any():
        q = np.asarray(agent.q(params, features(obs[busy])))
        actions[busy] = np.argmax(np.where(legal_actions(aux[busy]), q, -np.inf), axis=1)
    return actions


def greedy_policy(agent: DiscountedDoubleDQN, params) -> Callable:
    return lambda obs, aux: act_greedy(agent, params, obs, aux)


class Transitions:
    """One open decision per cluster (semi-MDP, module docstring): the observation and action of its last decision,
    the discounted reward since, and the discount to apply to the next decision's value."""

    def __init__(self, n: int, obs_dim: int):
        self.obs = np.zeros((n, obs_dim), np.float32)
        self.action = np.zeros(n, np.int32)
        self.reward = np.zeros(n)
        self.discount = np.ones(n)
        self.is_open = np.zeros(n, bool)

    def open(self, where, x, actions):
        self.obs[where], self.action[where] = x[where], actions[where]
        self.reward[where], self.discount[where], self.is_open[where] = 0.0, 1.0, True

    def accumulate(self, where, reward, gamma):
        where = where & self.is_open
        self.reward[where] += self.discount[where] * reward[where]
        self.discount[where] *= gamma[where]

    def close(self, where, next_x, next_legal, done, buffer: ReplayBuffer) -> int:
        """Store the open transitions of clusters ``where`` (ending in ``next_x`` with legal actions ``next_legal``);
        returns how many."""
        where = where & self.is_open
        if where.any():
            buffer.add({"obs": self.obs[where], "action": self.action[where], "reward": self.reward[where],
                        "next_obs": next_x[where], "done": done[where].astype(np.float32),
                        "discount": self.discount[where], "next_legal": next_legal[where].astype(np.float32)})
            self.is_open[where] = False
        return int(where.sum())


def train(variant: str, env_cfg: EnvConfig, cfg: TrainConfig, round_workloads: Callable[[int], list[Workload]],
          seed: int, replicate: int, agent: DiscountedDoubleDQN | None = None):
    """Train one router; ``round_workloads(r)`` gives the ``parallel`` workloads of round r.

    ``agent`` (optional) reuses an agent of the same settings, so its jitted functions compile once per process.
    Returns (agent, online parameters, per-episode history: return, mean E2E, epsilon, guidance weight)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")
    env = VectorRouterEnv(env_cfg, cfg.parallel)
    if agent is None or (agent.cfg, agent.obs_dim, agent.n_actions, agent.network_kind) != (
            cfg.dqn, env.obs_dim, env.n_actions, cfg.network):
        agent = DiscountedDoubleDQN(cfg.dqn, env.obs_dim, env.n_actions, cfg.network)
    state = agent.init(seed, "router", variant, replicate)
    gen = rng(seed, "router-explore", variant, replicate)
    buffer = ReplayBuffer(cfg.dqn.replay_capacity, {
        "obs": ((env.obs_dim,), np.float32), "action": ((), np.int32), "reward": ((), np.float32),
        "next_obs": ((env.obs_dim,), np.float32), "done": ((), np.float32), "discount": ((), np.float32),
        "next_legal": ((env.n_actions,), np.float32)})
    history, pending = [], 0
    for r in range(cfg.episodes // cfg.parallel):
        episode = r * cfg.parallel + 1 + np.arange(cfg.parallel)
        eps = np.array([float(dqn.epsilon(cfg.dqn, k - 1)) for k in episode])
        env.guidance_weight, discount = schedule(variant, episode, cfg.dqn.gamma, cfg.beta_d)
        obs, info = env.reset(round_workloads(r))
        x, legal, returns = features(obs), legal_actions(info["aux"]), np.zeros(cfg.parallel)
        open_ = Transitions(cfg.parallel, env.obs_dim)
        while not env.finished.all():
            active = ~env.finished
            decide = active & (obs[:, -3] > 0)
            explore = gen.random(cfg.parallel) < eps
            actions = np.where(explore, explore_actions(gen, info["aux"]), act_greedy(agent, state.online, obs, info["aux"]))
            actions = np.where(decide, actions, env.m)
            pending += open_.close(decide, x, legal, np.zeros(cfg.parallel, bool), buffer)
            open_.open(decide, x, actions)
            obs, reward, terminated, truncated, info = env.step(actions)
            x, legal = features(obs), legal_actions(info["aux"])
            returns += np.where(active, reward, 0.0)
            open_.accumulate(active, cfg.reward_scale * reward, discount)
            pending += open_.close(terminated | truncated, x, legal, terminated, buffer)
            while pending >= cfg.update_every and len(buffer) >= cfg.dqn.batch_size:
                pending -= cfg.update_every
                state, _ = agent.update(state, DiscountedBatch(**buffer.sample(gen, cfg.dqn.batch_size)))
        metrics = env.episode_metrics()
        history.append(pd.DataFrame({"variant": variant, "replicate": replicate, "episode": episode,
                                     "return": returns, "e2e_mean": metrics["e2e_mean"], "epsilon": eps,
                                     "guidance_weight": env.guidance_weight}))
    return agent, state.online, pd.concat(history, ignore_index=True)


def evaluate_agent(agent: DiscountedDoubleDQN, params, env_cfg: EnvConfig, episode_workloads: list[Workload],
                   name: str) -> Evaluation:
    """The greedy policy of a trained router on the evaluation episodes (guidance weight 0: the reward trace has
    the progress and completion terms only)."""
    env = VectorRouterEnv(env_cfg, len(episode_workloads))
    return evaluate(env, greedy_policy(agent, params), episode_workloads, name)
