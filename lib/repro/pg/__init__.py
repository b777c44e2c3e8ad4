"""Policy-gradient kernels: heavy-tailed policies, batched environments, HPG, tail index, metastability, SRMA.

Brief 05 (arXiv:2106.08414, heavy-tailed policy search); brief 06 (arXiv:2201.12332, policy mirror ascent) builds
GPOMDP, SRMA, Pendulum and random Fourier features on the same pieces.

    from repro import pg
    env = pg.make_env("pmc")                       # also "mario", "mcc", "mcc_sparse", "pendulum"
    policy = pg.Policy("cauchy", sigma=1.0)        # "gaussian", "gen_gaussian" (alpha), "stable" (alpha)
    result = pg.hpg(env, policy, seeds=range(10), n_iterations=2000, batch_size=10, gamma=0.97, step_size=1e-3)
    ends, alpha_hat = pg.gradient_noise_tail_index(result.grads[0])
    runs = pg.srma(env, policy, seeds=range(10), n_iterations=2000)       # raises pg.DivergenceError on NaN/inf
    g = pg.gpomdp(env, policy, [0.0, 0.0], n=100, seed=0, gamma=0.97)    # (100, d) GPOMDP estimates
    phi = pg.gym_features("pendulum")              # 50 random Fourier features (pg.random_fourier_features)
    batch = pg.rollouts_xp(env, policy, [0.0, 0.0], n=4096, seed=0)     # on NumPy or CuPy (REPRO_BACKEND)
"""
from repro.pg.envs import ENV_NAMES, EnvSpec, make_env
from repro.pg.features import gym_features, random_fourier_features
from repro.pg.gpomdp import gpomdp
from repro.pg.hpg import HPGResult, debiased_norm, gradient_at, hpg, hpg_reference
from repro.pg.metastability import exit_times, exit_times_reference, mean_exit_time
from repro.pg.policies import Policy, cauchy_score, gaussian_score, gen_gaussian_score
from repro.pg.rollout import Features, Trajectories, rollouts
from repro.pg.srma import DivergenceError, SRMAResult, srma
from repro.pg.tail_index import gradient_noise_tail_index, inverse_tail_index, tail_index
from repro.pg.xp_rollout import rollout_from_uniforms, rollouts_xp

__all__ = ["DivergenceError", "ENV_NAMES", "EnvSpec", "Features", "HPGResult", "Policy", "SRMAResult", "Trajectories",
           "cauchy_score", "debiased_norm", "exit_times", "exit_times_reference", "gaussian_score",
           "gen_gaussian_score", "gpomdp", "gradient_at", "gradient_noise_tail_index", "gym_features", "hpg",
           "hpg_reference", "inverse_tail_index", "make_env", "mean_exit_time", "random_fourier_features", "rollouts",
           "srma", "tail_index", "rollout_from_uniforms", "rollouts_xp"]
