"""Environment steps consumed by an HPG run, for comparisons at matched sample budgets (brief 06 section 3 baselines,
issue 14: "x-axes in environment steps with matched budgets").

:func:`repro.pg.hpg.hpg` records theta_k, every per-trajectory estimate and return, but not how many environment
steps each random-horizon trajectory took (T ~ Geom(1 - gamma^(1/2)), capped by the horizon and ended early by
termination). HPG's training stream (seed, 0) is used only by the training trajectories (evaluation has its own
stream), so the run's trajectories can be replayed exactly from the recorded theta_k: :func:`hpg_training_steps`
redraws them and returns their lengths, and their undiscounted returns so a caller (and the tests) can check the
replay against ``HPGResult.train_return``. SRMA counts its own steps (:attr:`repro.pg.srma.SRMAResult.steps`).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from repro.pg.envs import EnvSpec
from repro.pg.hpg import HPGResult
from repro.pg.policies import Policy, geometric_horizon, new_stream
from repro.pg.rollout import Features, policy_args, sample_trajectory, state_buffers, trajectory_buffers


@njit(cache=True)
def replay_hpg_run(seed, env, policy, features, thetas, gamma, steps_out, returns_out):
    """Redraw the B = steps_out.shape[1] training trajectories of each iteration k of an HPG run with parameters
    thetas[k] on its training stream (seed, 0); write their lengths (steps_out (K, B)) and returns (returns_out)."""
    train_rng = new_stream(seed, 0)
    states, obs = state_buffers(env)
    phi, mu, act, rew = trajectory_buffers(env, thetas.shape[1])
    for k in range(steps_out.shape[0]):
        for i in range(steps_out.shape[1]):
            n_steps = min(geometric_horizon(train_rng, gamma) + 1, env[5])
            length, _ = sample_trajectory(env, policy, features, thetas[k], n_steps, False, train_rng, states, obs,
                                          phi, mu, act, rew)
            steps_out[k, i] = length
            returns_out[k, i] = rew[:length].sum()


@njit(parallel=True, cache=True)
def _replay_batch(seeds, env, policy, features, thetas, gamma, steps_out, returns_out):
    for r in prange(seeds.size):
        replay_hpg_run(seeds[r], env, policy, features, thetas[r], gamma, steps_out[r], returns_out[r])


def hpg_training_steps(env: EnvSpec, policy: Policy, result: HPGResult, *, gamma: float,
                       features: Features | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps (n, K, B) int64, returns (n, K, B)) of every training trajectory of ``result``, an :func:`hpg` run
    made with the same ``env``, ``policy``, ``gamma`` and ``features``. The returns equal ``result.train_return``
    when the arguments match (a mismatch raises ValueError naming the first differing seed)."""
    n, K, B = result.train_return.shape
    steps, returns = np.zeros((n, K, B), dtype=np.int64), np.zeros((n, K, B))
    features = features or Features()
    _replay_batch(np.asarray(result.seeds, dtype=np.int64), env.kernel_args(), policy_args(policy),
                  features.kernel_args(), np.ascontiguousarray(result.theta[:, :K]), float(gamma), steps, returns)
    for r in range(n):
        if not np.array_equal(returns[r], result.train_return[r]):
            raise ValueError(f"hpg_training_steps: the replay of seed {int(result.seeds[r])} does not match the run's "
                             f"training returns; pass the env, policy, gamma and features the run used")
    return steps, returns
