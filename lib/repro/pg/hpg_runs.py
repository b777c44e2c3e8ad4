"""HPG runs of brief 05 (arXiv:2106.08414, Algorithm 1) as sweep tasks, for notebooks/heavy-tailed-pg.

:func:`hpg_task` is one HPG run (one environment, one policy, one seed) as a plain function of (settings..., seed)
returning a dict of arrays, so :func:`repro.sweep.sweep` can run the grid (environment, policy) x seeds on a Dask
cluster; :func:`hpg_result` stacks the seeds of one grid point back into the :class:`~repro.pg.hpg.HPGResult` that
a batched :func:`~repro.pg.hpg.hpg` call returns. A seed's run does not depend on the batch it runs in (streams
(seed, 0) and (seed, 1)), so the stacked result equals the batched one exactly.
"""
from __future__ import annotations

import numpy as np

from repro.pg.envs import make_env
from repro.pg.hpg import HPGResult, hpg
from repro.pg.policies import Policy

PER_SEED = ("theta", "grads", "train_return", "eval_return")
"""The per-seed fields of HPGResult; :func:`hpg_task` returns them without the seed axis, plus eval_iterations."""


def hpg_task(env: str, policy: str, seed: int, *, sigma: float, step_size: float, n_iterations: int,
             batch_size: int, gamma: float, alpha: float | None = None, eval_every: int = 0, n_eval: int = 0,
             causal: bool = False) -> dict:
    """One HPG run of the policy ``Policy(policy, sigma, alpha=alpha)`` on ``make_env(env)`` for ``seed``.

    Returns arrays theta (K+1, d), grads (K, B, d), train_return (K, B), eval_iterations (E,) and
    eval_return (E, n_eval): row ``seed`` of :func:`repro.pg.hpg.hpg` with the same arguments.
    """
    result = hpg(make_env(env), Policy(policy, sigma, alpha=alpha), seeds=[seed], n_iterations=n_iterations,
                 batch_size=batch_size, gamma=gamma, step_size=step_size, causal=causal, eval_every=eval_every,
                 n_eval=n_eval)
    return {**{name: getattr(result, name)[0] for name in PER_SEED}, "eval_iterations": result.eval_iterations}


def hpg_result(runs, **settings) -> HPGResult:
    """The HPGResult of the sweep rows matching ``settings`` (e.g. ``env="pmc", policy="cauchy"``) of a
    :class:`repro.sweep.SweepResult` of :func:`hpg_task`, seeds stacked in table order."""
    rows = runs.rows(**settings)
    if rows.size == 0:
        raise ValueError(f"hpg_result: no sweep row matches {settings}")
    seeds = np.asarray(runs.table["seed"].to_numpy()[rows], dtype=np.int64)
    stacked = {name: runs.stack(name, **settings) for name in PER_SEED}
    return HPGResult(seeds=seeds, eval_iterations=runs.arrays["eval_iterations"][rows[0]], **stacked)
