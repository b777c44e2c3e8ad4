"""Benchmark of the batched policy rollout (brief 05 section 5; repro.pg.rollout).

Workload: Cauchy-policy (sigma = 1, theta = 0, phi = [position, velocity, 1]) episodes of MountainCarContinuous,
at most 500 steps each, actions clipped to [-1, 1] before the step, unclipped actions recorded for the score.
Rates are environment steps per second, measured in the same run on
* ``repro.pg.rollouts``: 1,024 episodes in one parallel numba call (best of 3 timed calls after a warm-up);
* gymnasium's ``MountainCarContinuous-v0`` (``gymnasium.make``, with its standard wrappers) stepped one
  environment at a time, the policy in NumPy (sample, clip, score) -- fewer episodes, since it is slow;
* the plain-Python twin of the rollout kernel (``repro.pg.hpg.episode_reference``).
"""
from __future__ import annotations

import time

import numpy as np
from numba import get_num_threads

from repro.pg import Policy, make_env, rollouts
from repro.pg.hpg import episode_reference
from repro.pg.policies import ReferenceStream
from repro.pg.rollout import Features

SIGMA = 1.0


def _numba_rate(env, policy, theta, n, n_steps) -> float:
    rollouts(env, policy, theta, 2, seed=0, n_steps=2)   # compile / load from cache
    best = np.inf
    for repeat in range(3):
        start = time.perf_counter()
        out = rollouts(env, policy, theta, n, seed=repeat, n_steps=n_steps)
        best = min(best, time.perf_counter() - start)
    return int(out.length.sum()) / best


def _gymnasium_rate(theta, n, n_steps) -> float:
    import gymnasium
    env = gymnasium.make("MountainCarContinuous-v0")
    rng = np.random.default_rng(0)
    steps = 0
    start = time.perf_counter()
    for episode in range(n):
        obs, _ = env.reset(seed=episode)
        score_sum = np.zeros(theta.size)
        for _ in range(n_steps):
            phi = np.array([obs[0], obs[1], 1.0])
            deviation = SIGMA * rng.standard_cauchy()
            action = theta @ phi + deviation
            score_sum += 2.0 * deviation / (SIGMA ** 2 + deviation ** 2) * phi
            obs, reward, terminated, truncated, _ = env.step(np.array([np.clip(action, -1.0, 1.0)]))
            steps += 1
            if terminated or truncated:
                break
    return steps / (time.perf_counter() - start)


def _reference_rate(env, policy, theta, n, n_steps) -> float:
    start = time.perf_counter()
    steps = sum(len(episode_reference(env, policy, Features(), theta, n_steps, False, ReferenceStream(0, i)))
                for i in range(n))
    return steps / (time.perf_counter() - start)


def run(quick: bool = False) -> dict:
    """Steps per second of the numba rollout, gymnasium one-at-a-time and the plain-Python twin, and the ratios."""
    n_rollouts, n_gym, n_reference, n_steps = (64, 2, 1, 100) if quick else (1024, 40, 4, 500)
    env, policy, theta = make_env("mcc"), Policy("cauchy", SIGMA), np.zeros(3)
    numba_rate = _numba_rate(env, policy, theta, n_rollouts, n_steps)
    gym_rate = _gymnasium_rate(theta, n_gym, n_steps)
    reference_rate = _reference_rate(env, policy, theta, n_reference, n_steps)
    return {
        "workload": f"MountainCarContinuous, Cauchy policy, <= {n_steps} steps per episode",
        "numba_rollouts": n_rollouts, "gymnasium_rollouts": n_gym, "reference_rollouts": n_reference,
        "numba_threads": get_num_threads(),
        "numba_steps_per_s": round(numba_rate),
        "gymnasium_steps_per_s": round(gym_rate),
        "reference_steps_per_s": round(reference_rate),
        "speedup_vs_gymnasium": round(numba_rate / gym_rate, 1),
        "speedup_vs_reference": round(numba_rate / reference_rate, 1),
    }
