"""Policy-gradient kernels: heavy-tailed policies, batched environments, HPG, tail index, metastability.

Brief 05 (arXiv:2106.08414, heavy-tailed policy search); brief 06 builds mirror ascent on the same pieces.

    from repro import pg
    env = pg.make_env("pmc")                       # also "mario", "mcc", "mcc_sparse"
    policy = pg.Policy("cauchy", sigma=1.0)        # "gaussian", "gen_gaussian" (alpha), "stable" (alpha)
    result = pg.hpg(env, policy, seeds=range(10), n_iterations=2000, batch_size=10, gamma=0.97, step_size=1e-3)
    ends, alpha_hat = pg.gradient_noise_tail_index(result.grads[0])
"""
from repro.pg.envs import ENV_NAMES, EnvSpec, make_env
from repro.pg.hpg import HPGResult, debiased_norm, gradient_at, hpg, hpg_reference
from repro.pg.metastability import exit_times, exit_times_reference, mean_exit_time
from repro.pg.policies import Policy, cauchy_score, gaussian_score, gen_gaussian_score
from repro.pg.rollout import Features, Trajectories, rollouts
from repro.pg.tail_index import gradient_noise_tail_index, inverse_tail_index, tail_index

__all__ = ["ENV_NAMES", "EnvSpec", "Features", "HPGResult", "Policy", "Trajectories", "cauchy_score",
           "debiased_norm", "exit_times", "exit_times_reference", "gaussian_score", "gen_gaussian_score",
           "gradient_at", "gradient_noise_tail_index", "hpg", "hpg_reference", "inverse_tail_index", "make_env",
           "mean_exit_time", "rollouts", "tail_index"]
