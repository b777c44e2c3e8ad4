"""Benchmarks of the policy-gradient kernels (brief 05 section 5, brief 06 section 5; repro.pg): one JSON entry each.

Every entry holds the kernel's rate, the rate of its plain-Python/NumPy reference measured in the same run on the same
workload, their ratio, and a target [our choice] with whether it is met.

* ``mountain_car`` and ``pendulum``: environment steps per second of Cauchy-policy episodes (sigma = 1, phi = [obs, 1],
  actions clipped to the action box before the step, the score accumulated on the unclipped sample) of
  MountainCarContinuous (theta = 0, at most 500 steps) and Pendulum (theta = 0.1, phi = [cos, sin, theta_dot, 1], 200
  steps), through
  - ``repro.pg.rollouts``: 1,024 episodes in one parallel numba call (best of 3 timed calls after a warm-up);
  - gymnasium's ``MountainCarContinuous-v0`` / ``Pendulum-v1`` (``gymnasium.make``, standard wrappers) stepped one
    environment at a time, the policy in NumPy (sample, clip, score) -- fewer episodes, since it is slow;
  - the plain-Python twin of the rollout kernel (``repro.pg.hpg.episode_reference``).
  Target: at least 100 times gymnasium's rate.
* ``srma``: SRMA updates per second (one update = one iteration of one seed: B = 10 fresh PMC episodes of at most 100
  steps, two GPOMDP estimates and an importance weight per episode, a restart batch of B0 = 50 every 20 iterations,
  the mirror step) with 1,024 seeds in one parallel numba call (best of 3), against the plain-Python/NumPy twin
  ``repro.pg.srma.srma_reference`` on the same update. Target: at least 100 times the twin's rate.
* ``xp_rollout`` (only with ``--backend numpy|cupy``): environment steps per second of the array-namespace rollout
  ``repro.pg.xp_rollout.rollouts_xp`` on that backend (4,096 Pendulum copies, Cauchy policy, theta = 0.1 on
  [cos, sin, theta_dot, 1], 200 steps; best of 3 after a warm-up, the result copied back to the host), beside the
  numba kernel ``repro.pg.rollouts`` on the same workload in the same run. No target: it reports where the GPU pays.
  ``--backend cupy`` without a usable GPU stops with the backend's error before anything runs.
"""
from __future__ import annotations

import time

import numpy as np
from numba import get_num_threads

from repro.core import backend as array_backend
from repro.pg import Policy, make_env, rollouts, srma
from repro.pg.envs import EnvSpec
from repro.pg.hpg import episode_reference
from repro.pg.policies import ReferenceStream
from repro.pg.rollout import Features
from repro.pg.srma import srma_reference
from repro.pg.xp_rollout import rollouts_xp

SIGMA = 1.0
TARGET_SPEEDUP = 100.0


def best_rate(fn, repeats: int = 3) -> float:
    """The highest work per second over ``repeats`` timed calls ``fn(repeat)``, each returning the work it did."""
    best = 0.0
    for repeat in range(repeats):
        start = time.perf_counter()
        work = fn(repeat)
        best = max(best, work / (time.perf_counter() - start))
    return best


def gymnasium_rate(env: EnvSpec, gym_id: str, theta: np.ndarray, n_episodes: int, n_steps: int) -> float:
    """Steps per second of gymnasium's ``gym_id`` stepped one environment at a time (at most ``n_steps`` steps per
    episode), the Cauchy policy on phi = [obs, 1] in NumPy with actions clipped to ``env``'s action box."""
    import gymnasium
    gym_env = gymnasium.make(gym_id)
    rng = np.random.default_rng(0)

    def episodes(_) -> int:
        steps = 0
        for episode in range(n_episodes):
            obs, _ = gym_env.reset(seed=episode)
            score_sum = np.zeros(theta.size)
            for _ in range(n_steps):
                phi = np.append(obs, 1.0)
                deviation = SIGMA * rng.standard_cauchy()
                action = theta @ phi + deviation
                score_sum += 2.0 * deviation / (SIGMA ** 2 + deviation ** 2) * phi
                clipped = np.array([np.clip(action, env.action_low, env.action_high)])
                obs, reward, terminated, truncated, _ = gym_env.step(clipped)
                steps += 1
                if terminated or truncated:
                    break
        return steps

    return best_rate(episodes, repeats=1)


def rollout_entry(name: str, gym_id: str, theta: np.ndarray, n_steps: int, quick: bool) -> dict:
    """Steps per second of ``repro.pg.rollouts`` on environment ``name``, of gymnasium's ``gym_id`` one environment
    at a time and of the plain-Python twin, and the ratios."""
    n_kernel, n_gym, n_reference = (64, 2, 1) if quick else (1024, 40, 4)
    env, policy = make_env(name), Policy("cauchy", SIGMA)
    rollouts(env, policy, theta, 2, seed=0, n_steps=2)       # compile or load from the cache
    kernel_rate = best_rate(lambda r: int(rollouts(env, policy, theta, n_kernel, seed=r, n_steps=n_steps).length.sum()))
    gym_rate = gymnasium_rate(env, gym_id, theta, n_gym, n_steps)
    reference_rate = best_rate(lambda _: sum(len(episode_reference(env, policy, Features(), theta, n_steps, False,
                                                                   ReferenceStream(0, i)))
                                             for i in range(n_reference)), repeats=1)
    return {"workload": f"{gym_id}, Cauchy policy on [obs, 1], <= {n_steps} steps per episode", "unit": "env steps/s",
            "kernel_episodes": n_kernel, "gymnasium_episodes": n_gym, "reference_episodes": n_reference,
            "numba_threads": get_num_threads(), "kernel_rate": round(kernel_rate), "gymnasium_rate": round(gym_rate),
            "reference_rate": round(reference_rate), "speedup_vs_gymnasium": round(kernel_rate / gym_rate, 1),
            "speedup_vs_reference": round(kernel_rate / reference_rate, 1),
            "target": f"speedup_vs_gymnasium >= {TARGET_SPEEDUP:g}",
            "meets_target": bool(kernel_rate / gym_rate >= TARGET_SPEEDUP)}


def mountain_car_entry(quick: bool = False) -> dict:
    """The rollout entry on MountainCarContinuous (theta = 0, at most 500 steps; quick: 100)."""
    return rollout_entry("mcc", "MountainCarContinuous-v0", np.zeros(3), 100 if quick else 500, quick)


def pendulum_entry(quick: bool = False) -> dict:
    """The rollout entry on Pendulum (theta = 0.1, 200 steps; quick: 50)."""
    return rollout_entry("pendulum", "Pendulum-v1", np.full(4, 0.1), 50 if quick else 200, quick)


def srma_entry(quick: bool = False) -> dict:
    """SRMA updates per second with many seeds in parallel vs the plain-Python/NumPy twin, and the ratio."""
    n_seeds, n_iterations, n_reference = (32, 5, 2) if quick else (1024, 20, 5)
    env, policy = make_env("pmc"), Policy("cauchy", SIGMA)
    options = dict(batch_size=10, initial_batch=50, restart_every=20, step_size=1e-3, gamma=0.97, n_steps=100)
    srma(env, policy, seeds=[0], n_iterations=2, **options)        # compile or load from the cache

    def kernel_updates(repeat: int) -> int:
        srma(env, policy, seeds=np.arange(n_seeds) + repeat * n_seeds, n_iterations=n_iterations, **options)
        return n_seeds * n_iterations

    def reference_updates(_) -> int:
        srma_reference(env, policy, seed=0, n_iterations=n_reference, **options)
        return n_reference

    kernel_rate, reference_rate = best_rate(kernel_updates), best_rate(reference_updates, repeats=1)
    return {"workload": "SRMA on PMC, Cauchy policy, B = 10, B0 = 50, restart every 20, episodes <= 100 steps",
            "unit": "SRMA updates/s (one iteration of one seed)", "kernel_seeds": n_seeds,
            "kernel_iterations": n_iterations, "reference_iterations": n_reference, "numba_threads": get_num_threads(),
            "kernel_rate": round(kernel_rate, 1), "reference_rate": round(reference_rate, 2),
            "speedup_vs_reference": round(kernel_rate / reference_rate, 1),
            "target": f"speedup_vs_reference >= {TARGET_SPEEDUP:g}",
            "meets_target": bool(kernel_rate / reference_rate >= TARGET_SPEEDUP)}


def xp_rollout_entry(xp, quick: bool = False) -> dict:
    """Steps per second of the array-namespace rollout on namespace ``xp`` and of the numba rollout kernel, on the same
    Pendulum workload (module docstring), and their ratio."""
    n, n_steps = (256, 20) if quick else (4096, 200)
    env, policy, theta = make_env("pendulum"), Policy("cauchy", SIGMA), np.full(4, 0.1)
    rollouts(env, policy, theta, 2, seed=0, n_steps=2)                 # compile or load from the cache
    rollouts_xp(env, policy, theta, 2, seed=0, n_steps=2, xp=xp)       # CuPy compiles its kernels on first use
    numba_rate = best_rate(lambda r: int(rollouts(env, policy, theta, n, seed=r, n_steps=n_steps).length.sum()))
    xp_rate = best_rate(lambda r: int(array_backend.to_numpy(
        rollouts_xp(env, policy, theta, n, seed=r, n_steps=n_steps, xp=xp).length).sum()))
    return {"workload": f"Pendulum-v1, Cauchy policy on [obs, 1], {n} copies x {n_steps} steps", "unit": "env steps/s",
            "backend": xp.__name__, "copies": n, "numba_threads": get_num_threads(), "xp_rate": round(xp_rate),
            "numba_rate": round(numba_rate), "xp_over_numba": round(xp_rate / numba_rate, 3)}


def run(quick: bool = False, backend: str | None = None) -> dict:
    """The three numba entries (``python -m repro.bench pg``), and with ``backend`` ('numpy' or 'cupy';
    ``--backend``) the array-namespace rollout on it; an unusable backend raises before anything runs."""
    xp = array_backend.array_module(backend) if backend is not None else None
    out = {"mountain_car": mountain_car_entry(quick), "pendulum": pendulum_entry(quick), "srma": srma_entry(quick)}
    if xp is not None:
        out["xp_rollout"] = xp_rollout_entry(xp, quick)
    return out
