"""Batched environments of brief 05 section 2 (PMC, 1D Mario) and gymnasium's MountainCarContinuous-v0.

Kernels address an environment by an integer ``code`` and keep states as a struct of arrays ``states[j, i]``
(state component j of copy i), so thousands of copies step in one call (:func:`step_batch`) and a single rollout
uses the same :func:`env_step` on a (state_dim, 1) array. :class:`EnvSpec` is the validating Python description
(code, action box applied by the rollout, start distribution, horizon cap); build one with :func:`make_env`.

Adding an environment: a module with a scalar ``<name>_step`` kernel and its Python twin, a code below, one
branch in :func:`env_step`, :func:`env_observe` and :func:`env_step_reference`, and an entry in ``_DEFAULTS``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from repro.pg.envs.mario import mario_step, mario_step_reference
from repro.pg.envs.mountain_car import mcc_step, mcc_step_reference
from repro.pg.envs.pendulum import pendulum_observe, pendulum_observe_reference, pendulum_step, pendulum_step_reference
from repro.pg.envs.pmc import pmc_step, pmc_step_reference

PMC, MARIO, MCC, MCC_SPARSE, PENDULUM = 0, 1, 2, 3, 4


@njit(cache=True)
def env_step(code, states, i, a):
    """Step copy ``i`` of ``states`` (shape (state_dim, n)) with the clipped action ``a``; returns (reward, done)."""
    if code == PMC:
        states[0, i], reward, done = pmc_step(states[0, i], a)
    elif code == MARIO:
        states[0, i], reward, done = mario_step(states[0, i], a)
    elif code == PENDULUM:
        states[0, i], states[1, i], reward, done = pendulum_step(states[0, i], states[1, i], a)
    else:
        states[0, i], states[1, i], reward, done = mcc_step(states[0, i], states[1, i], a, code == MCC_SPARSE)
    return reward, done


@njit(cache=True)
def env_observe(code, states, i, obs):
    """Write the observation of copy ``i`` into ``obs`` (Pendulum: [cos, sin, theta_dot]; the others: their state)."""
    if code == PENDULUM:
        pendulum_observe(states[0, i], states[1, i], obs)
        return
    for j in range(obs.size):
        obs[j] = states[j, i]


@njit(cache=True)
def step_batch(code, states, actions, done, rewards):
    """Step every copy that is not ``done`` (actions already clipped); done copies keep their state and get reward 0.

    states: (state_dim, n) float64, updated in place; actions: (n,); done: (n,) bool, updated; rewards: (n,) out.
    """
    for i in range(actions.size):
        if done[i]:
            rewards[i] = 0.0
            continue
        rewards[i], done[i] = env_step(code, states, i, actions[i])


def env_step_reference(code: int, state: list[float], a: float) -> tuple[list[float], float, bool]:
    """Pure-Python twin of :func:`env_step` on one state given as a list."""
    if code == PMC:
        s, reward, done = pmc_step_reference(state[0], a)
        return [s], reward, done
    if code == MARIO:
        s, reward, done = mario_step_reference(state[0], a)
        return [s], reward, done
    if code == PENDULUM:
        theta, theta_dot, reward, done = pendulum_step_reference(state[0], state[1], a)
        return [theta, theta_dot], reward, done
    position, velocity, reward, done = mcc_step_reference(state[0], state[1], a, code == MCC_SPARSE)
    return [position, velocity], reward, done


def env_observe_reference(code: int, state: list[float]) -> list[float]:
    """Pure-Python twin of :func:`env_observe` on one state given as a list."""
    if code == PENDULUM:
        return pendulum_observe_reference(state[0], state[1])
    return list(state)


@dataclass(frozen=True)
class EnvSpec:
    """What a rollout needs to know about an environment.

    code: kernel code; state_dim/obs_dim: sizes; action_low/high: the box applied to actions before the step;
    start_low/high: per state component, the start is uniform on [low, high] (fixed when equal);
    horizon: cap on the number of steps of one episode.
    """
    name: str
    code: int
    state_dim: int
    obs_dim: int
    action_low: float
    action_high: float
    start_low: tuple
    start_high: tuple
    horizon: int

    def __post_init__(self):
        if not (math.isfinite(self.action_low) and math.isfinite(self.action_high)
                and self.action_low < self.action_high):
            raise ValueError(f"env {self.name}: expected finite action_low < action_high, "
                             f"got [{self.action_low}, {self.action_high}]")
        if len(self.start_low) != self.state_dim or len(self.start_high) != self.state_dim:
            raise ValueError(f"env {self.name}: start_low/start_high need {self.state_dim} entries")
        if any(lo > hi for lo, hi in zip(self.start_low, self.start_high)):
            raise ValueError(f"env {self.name}: expected start_low <= start_high, "
                             f"got {self.start_low} > {self.start_high}")
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"env {self.name}: horizon={self.horizon!r}, expected an integer >= 1")

    def kernel_args(self) -> tuple:
        """(code, start_low, start_high, action_low, action_high, horizon, obs_dim) with kernel dtypes."""
        return (int(self.code), np.asarray(self.start_low, dtype=np.float64),
                np.asarray(self.start_high, dtype=np.float64), float(self.action_low), float(self.action_high),
                int(self.horizon), int(self.obs_dim))


_DEFAULTS = {
    # brief 05: s0 = 1.0, a in [-20, 20], horizon cap 500 [our choice]
    "pmc": dict(code=PMC, state_dim=1, obs_dim=1, action_low=-20.0, action_high=20.0,
                start_low=(1.0,), start_high=(1.0,), horizon=500),
    # brief 05: s0 = 0.5, a in [-0.1, 0.1], horizon cap 500 [our choice]
    "mario": dict(code=MARIO, state_dim=1, obs_dim=1, action_low=-0.1, action_high=0.1,
                  start_low=(0.5,), start_high=(0.5,), horizon=500),
    # gymnasium MountainCarContinuous-v0: x0 ~ U(-0.6, -0.4), v0 = 0, action box [-1, 1], TimeLimit 999
    "mcc": dict(code=MCC, state_dim=2, obs_dim=2, action_low=-1.0, action_high=1.0,
                start_low=(-0.6, 0.0), start_high=(-0.4, 0.0), horizon=999),
    "mcc_sparse": dict(code=MCC_SPARSE, state_dim=2, obs_dim=2, action_low=-1.0, action_high=1.0,
                       start_low=(-0.6, 0.0), start_high=(-0.4, 0.0), horizon=999),
    # gymnasium Pendulum-v1 (added by H3, brief 06): theta ~ U(-pi, pi), theta_dot ~ U(-1, 1), torque box [-2, 2],
    # TimeLimit 200 steps; observation [cos theta, sin theta, theta_dot]
    "pendulum": dict(code=PENDULUM, state_dim=2, obs_dim=3, action_low=-2.0, action_high=2.0,
                     start_low=(-math.pi, -1.0), start_high=(math.pi, 1.0), horizon=200),
}
ENV_NAMES = tuple(_DEFAULTS)


def make_env(name: str, **overrides) -> EnvSpec:
    """The default spec of environment ``name`` (one of ENV_NAMES), with any field overridden,
    e.g. ``make_env("pmc", action_low=-5.0, action_high=5.0)``."""
    if name not in _DEFAULTS:
        raise ValueError(f"env name={name!r}: expected one of {ENV_NAMES}")
    spec = EnvSpec(name=name, **_DEFAULTS[name])
    unknown = set(overrides) - set(spec.__dataclass_fields__)
    if unknown:
        raise ValueError(f"make_env({name!r}): unknown field(s) {sorted(unknown)}; "
                         f"expected some of {sorted(spec.__dataclass_fields__)}")
    return replace(spec, **overrides)
