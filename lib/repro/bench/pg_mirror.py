"""Benchmarks of brief 06 (policy mirror ascent): the batched Pendulum kernel and SRMA updates.

* :func:`pendulum_entry`: environment steps per second of Cauchy-policy episodes (sigma = 1, theta = 0.1, features
  [cos, sin, theta_dot, 1], 200 steps, torque clipped to [-2, 2] before the step, score accumulated on the unclipped
  sample) through ``repro.pg.rollouts`` on the numba Pendulum (1,024 episodes in one parallel call, best of 3), and
  through gymnasium's ``Pendulum-v1`` (``gymnasium.make``, standard wrappers) stepped one environment at a time with
  the same policy in NumPy, measured in the same run. Target ratio >= 100.
* :func:`srma_entry`: SRMA updates per second (one update = one iteration of one seed: B = 10 fresh PMC episodes of
  at most 100 steps, two GPOMDP estimates and an importance weight per episode, a restart batch of B0 = 50 every
  20 iterations, the mirror step) with 1,024 seeds in one parallel numba call, against the plain-Python/NumPy
  twin ``srma_reference`` on the same update, measured in the same run.
"""
from __future__ import annotations

import time

import numpy as np
from numba import get_num_threads

from repro.pg import Policy, make_env, rollouts
from repro.pg.srma import srma, srma_reference

SIGMA = 1.0
THETA = np.full(4, 0.1)


def _best_of(fn, repeats: int = 3) -> float:
    best = np.inf
    for repeat in range(repeats):
        start = time.perf_counter()
        fn(repeat)
        best = min(best, time.perf_counter() - start)
    return best


def _gymnasium_pendulum_rate(n_episodes: int, n_steps: int) -> float:
    import gymnasium
    env = gymnasium.make("Pendulum-v1")
    rng = np.random.default_rng(0)
    steps = 0
    start = time.perf_counter()
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=episode)
        score_sum = np.zeros(THETA.size)
        for _ in range(n_steps):
            phi = np.array([obs[0], obs[1], obs[2], 1.0])
            deviation = SIGMA * rng.standard_cauchy()
            action = THETA @ phi + deviation
            score_sum += 2.0 * deviation / (SIGMA ** 2 + deviation ** 2) * phi
            obs, reward, terminated, truncated, _ = env.step(np.array([np.clip(action, -2.0, 2.0)]))
            steps += 1
            if terminated or truncated:
                break
    return steps / (time.perf_counter() - start)


def pendulum_entry(quick: bool = False) -> dict:
    """Steps per second of the batched numba Pendulum vs gymnasium Pendulum-v1 one env at a time, and the ratio."""
    n_numba, n_gym, n_steps = (64, 2, 50) if quick else (1024, 20, 200)
    env, policy = make_env("pendulum"), Policy("cauchy", SIGMA)
    rollouts(env, policy, THETA, 2, seed=0, n_steps=2)       # compile or load from the cache
    elapsed = _best_of(lambda r: rollouts(env, policy, THETA, n_numba, seed=r, n_steps=n_steps))
    numba_rate = n_numba * n_steps / elapsed
    gym_rate = _gymnasium_pendulum_rate(n_gym, n_steps)
    return {"workload": f"Pendulum-v1, Cauchy policy on [cos, sin, theta_dot, 1], {n_steps} steps per episode",
            "numba_episodes": n_numba, "gymnasium_episodes": n_gym, "numba_threads": get_num_threads(),
            "numba_steps_per_s": round(numba_rate), "gymnasium_steps_per_s": round(gym_rate),
            "speedup_vs_gymnasium": round(numba_rate / gym_rate, 1)}


def srma_entry(quick: bool = False) -> dict:
    """SRMA updates per second with many seeds in parallel vs the plain-Python/NumPy twin, and the ratio."""
    n_seeds, n_iterations, n_reference = (32, 5, 2) if quick else (1024, 20, 5)
    env, policy = make_env("pmc"), Policy("cauchy", SIGMA)
    options = dict(batch_size=10, initial_batch=50, restart_every=20, step_size=1e-3, gamma=0.97, n_steps=100)
    srma(env, policy, seeds=[0], n_iterations=2, **options)        # compile or load from the cache
    elapsed = _best_of(lambda r: srma(env, policy, seeds=np.arange(n_seeds) + r * n_seeds,
                                      n_iterations=n_iterations, **options))
    kernel_rate = n_seeds * n_iterations / elapsed
    start = time.perf_counter()
    srma_reference(env, policy, seed=0, n_iterations=n_reference, **options)
    reference_rate = n_reference / (time.perf_counter() - start)
    return {"workload": "SRMA on PMC, Cauchy policy, B = 10, B0 = 50, restart every 20, episodes <= 100 steps",
            "kernel_seeds": n_seeds, "kernel_iterations": n_iterations, "reference_iterations": n_reference,
            "numba_threads": get_num_threads(),
            "kernel_updates_per_s": round(kernel_rate, 1), "reference_updates_per_s": round(reference_rate, 2),
            "speedup_vs_reference": round(kernel_rate / reference_rate, 1)}


def run(quick: bool = False) -> dict:
    """Both entries (for ``python -m repro.bench pg_mirror``)."""
    return {"pendulum": pendulum_entry(quick), "srma": srma_entry(quick)}
