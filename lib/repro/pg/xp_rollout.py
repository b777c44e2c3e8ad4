"""Batched policy rollouts on the array namespace (NumPy or CuPy): brief 05 section 2, Algorithm 1 (rollout part).

The array-namespace version of the numba rollout kernel :func:`repro.pg.rollout._rollout_batch` (with
:func:`repro.pg.envs.env_step` / :func:`repro.pg.envs.env_observe` for the environments and
:func:`repro.pg.policies.sample_deviation` for the policies): the same episodes and the same per-episode quantities
(:class:`repro.pg.rollout.Trajectories`), but every operation acts on all n copies at once, so the code runs
unchanged on NumPy (the default) and on CuPy (``REPRO_BACKEND=cupy``, :mod:`repro.core.backend`). Functions take the
namespace ``xp`` as their first argument; only the time steps are a Python loop, never the copies.

Random numbers: the numba kernel draws from its own per-copy SplitMix64 streams, which an array library cannot
reproduce cheaply, so here the randomness is an input: ``start_uniforms`` (state_dim, n) and ``step_uniforms``
(n_steps, draws, n), all in (0, 1). Fed the uniforms that stream (seed, i) of the numba kernel draws (in its order:
the start components that are not fixed, then the draws of each step), :func:`rollout_from_uniforms` returns what
:func:`repro.pg.rollout.rollouts` returns (tests/test_xp_kernels.py). :func:`rollouts_xp` draws the uniforms with the
namespace's own generator (same distribution, different numbers from the numba kernel).

Policies: Gaussian (Box-Muller, two uniforms per step), Cauchy (inversion, one) and symmetric alpha-stable
(Chambers-Mallows-Stuck, two); the generalised Gaussian needs a rejection sampler and stays numba-only.
Features: [obs, 1] and cosine features, summed in the numba kernel's order so that results agree to the last bit.
"""
from __future__ import annotations

import math

from repro.core import backend
from repro.pg.envs import MARIO, MCC_SPARSE, PENDULUM, PMC, EnvSpec
from repro.pg.envs import mountain_car as mcc
from repro.pg.envs import pendulum, pmc
from repro.pg.policies import CAUCHY, GAUSSIAN, STABLE, Policy
from repro.pg.rollout import FEATURES_LINEAR, Features, Trajectories, check_theta

#: uniforms drawn per step by each policy kind that has an array-namespace sampler
DRAWS_PER_STEP = {GAUSSIAN: 2, CAUCHY: 1, STABLE: 2}
_HALF_CELL = 2.0 ** -54   # centres a 53-bit uniform in its cell, as the numba streams do
_BELOW_ONE = 1.0 - 2.0 ** -53


# ---------------------------------------------------------------------------------------- environments
def pmc_step_xp(xp, s, a):
    """:func:`repro.pg.envs.pmc.pmc_step` on arrays: (s', reward, done) for positions ``s`` and clipped speeds ``a``."""
    s_next = xp.minimum(xp.maximum(s + pmc.SPEED_SCALE * a, pmc.S_MIN), pmc.S_MAX)
    level = -s_next ** 3 + 4.0 * s_next ** 2 - 4.0
    small = xp.abs(level - pmc.SMALL_GOAL_LEVEL) < pmc.LEVEL_TOLERANCE
    bonanza = ~small & (xp.abs(level - pmc.BONANZA_LEVEL) < pmc.LEVEL_TOLERANCE)
    goal = xp.where(small, pmc.SMALL_GOAL_REWARD, xp.where(bonanza, pmc.BONANZA_REWARD, 0.0))
    return s_next, goal - pmc.ENERGY_COST * (a * a), small | bonanza


def mario_step_xp(xp, s, a):
    """:func:`repro.pg.envs.mario.mario_step` on arrays: (s', reward, done)."""
    moved = s + a
    reward = xp.where(moved < 0.0, 1.0, 0.0)
    return xp.minimum(1.0, xp.maximum(0.0, moved)), reward, reward > 0.0


def pendulum_step_xp(xp, theta, theta_dot, a):
    """:func:`repro.pg.envs.pendulum.pendulum_step` on arrays: (theta', theta_dot', reward, terminated=False)."""
    u = xp.minimum(xp.maximum(a, -pendulum.MAX_TORQUE), pendulum.MAX_TORQUE)
    wrapped = ((theta + math.pi) % (2.0 * math.pi)) - math.pi
    cost = wrapped ** 2 + 0.1 * theta_dot ** 2 + 0.001 * (u * u)
    accel = (3.0 * pendulum.G / (2.0 * pendulum.LENGTH) * xp.sin(theta)
             + 3.0 / (pendulum.MASS * pendulum.LENGTH ** 2) * u)
    new_theta_dot = xp.minimum(xp.maximum(theta_dot + accel * pendulum.DT, -pendulum.MAX_SPEED), pendulum.MAX_SPEED)
    return theta + new_theta_dot * pendulum.DT, new_theta_dot, -cost, xp.zeros(theta.shape, dtype=bool)


def mcc_step_xp(xp, position, velocity, a, sparse: bool):
    """:func:`repro.pg.envs.mountain_car.mcc_step` on arrays: (position', velocity', reward, terminated)."""
    force = xp.minimum(xp.maximum(a, -1.0), 1.0)
    velocity = velocity + force * mcc.POWER - 0.0025 * xp.cos(3.0 * position)
    velocity = xp.minimum(xp.maximum(velocity, -mcc.MAX_SPEED), mcc.MAX_SPEED)
    position = xp.minimum(xp.maximum(position + velocity, mcc.MIN_POSITION), mcc.MAX_POSITION)
    velocity = xp.where((position == mcc.MIN_POSITION) & (velocity < 0.0), 0.0, velocity)
    done = (position >= mcc.GOAL_POSITION) & (velocity >= mcc.GOAL_VELOCITY)
    reward = xp.where(done, mcc.GOAL_REWARD, 0.0)
    if not sparse:
        reward = reward - mcc.ACTION_COST * a * a
    return position, velocity, reward, done


def env_step_xp(xp, code: int, states, a):
    """:func:`repro.pg.envs.env_step` for all copies: (states', reward, done) from ``states`` (state_dim, n) and
    the clipped actions ``a`` (n,). Returns new arrays; the caller decides which copies keep them."""
    if code == PMC:
        s, reward, done = pmc_step_xp(xp, states[0], a)
        return s[None], reward, done
    if code == MARIO:
        s, reward, done = mario_step_xp(xp, states[0], a)
        return s[None], reward, done
    if code == PENDULUM:
        theta, theta_dot, reward, done = pendulum_step_xp(xp, states[0], states[1], a)
    else:
        theta, theta_dot, reward, done = mcc_step_xp(xp, states[0], states[1], a, code == MCC_SPARSE)
    return xp.stack([theta, theta_dot]), reward, done


def env_observe_xp(xp, code: int, states):
    """:func:`repro.pg.envs.env_observe` for all copies: observations (obs_dim, n)."""
    if code == PENDULUM:
        return xp.stack([xp.cos(states[0]), xp.sin(states[0]), states[1]])
    return states


# ---------------------------------------------------------------------------------------- policy and features
def draws_per_step(kind: int) -> int:
    """Uniforms one step of policy ``kind`` reads; ValueError for a kind without an array-namespace sampler."""
    if kind not in DRAWS_PER_STEP:
        raise ValueError(f"policy kind code {kind}: the array-namespace rollout samples gaussian, cauchy and stable "
                         "policies; gen_gaussian needs a rejection sampler and runs only in the numba kernel")
    return DRAWS_PER_STEP[kind]


def deviation_xp(xp, kind: int, sigma: float, alpha: float, uniforms):
    """:func:`repro.pg.policies.sample_deviation` for all copies from ``uniforms`` (draws, n) in (0, 1): row k is
    the k-th uniform the numba sampler would draw (Gaussian: Box-Muller on rows 0, 1; Cauchy: row 0; stable:
    Chambers-Mallows-Stuck on rows 0, 1, row 1 unused at alpha = 1)."""
    draws_per_step(kind)
    if kind == GAUSSIAN:
        return sigma * (xp.sqrt(-2.0 * xp.log(uniforms[0])) * xp.cos(2.0 * math.pi * uniforms[1]))
    if kind == CAUCHY:
        return sigma * xp.tan(math.pi * (uniforms[0] - 0.5))
    v = math.pi * (uniforms[0] - 0.5)                              # STABLE
    if alpha == 1.0:
        return sigma * xp.tan(v)
    w = -xp.log(uniforms[1])
    return sigma * (xp.sin(alpha * v) / xp.cos(v) ** (1.0 / alpha)
                    * (xp.cos((1.0 - alpha) * v) / w) ** ((1.0 - alpha) / alpha))


def features_xp(xp, features: Features, obs):
    """phi(obs) for all copies, (n, d), summed in the numba kernel's order (:func:`repro.pg.rollout.fill_features`)."""
    if features.kind == FEATURES_LINEAR:
        return xp.concatenate([obs, xp.ones((1, obs.shape[1]))]).T
    proj, offset = xp.asarray(features.proj), xp.asarray(features.offset)
    z = xp.repeat(offset[:, None], obs.shape[1], axis=1)
    for c in range(obs.shape[0]):
        z = z + proj[:, c:c + 1] * obs[c]
    return (math.sqrt(2.0 / proj.shape[0]) * xp.cos(z)).T


def policy_mean_xp(xp, theta, phi):
    """mu = theta . phi for all copies, (n,), summed in the numba kernel's order."""
    total = xp.zeros(phi.shape[0])
    for j in range(theta.shape[0]):
        total = total + theta[j] * phi[:, j]
    return total


# ---------------------------------------------------------------------------------------- rollout
def start_states_xp(xp, env: EnvSpec, start_uniforms):
    """Start states (state_dim, n): component j uniform on [start_low[j], start_high[j]] from ``start_uniforms[j]``
    (fixed, and the uniform unused, when the bounds are equal)."""
    rows = [xp.full(start_uniforms.shape[1], lo) if hi <= lo else lo + (hi - lo) * start_uniforms[j]
            for j, (lo, hi) in enumerate(zip(env.start_low, env.start_high))]
    return xp.stack(rows)


def check_uniforms(env: EnvSpec, policy: Policy, start_uniforms, step_uniforms) -> None:
    """ValueError unless the uniform arrays have the shapes a rollout of ``env`` with ``policy`` reads."""
    draws = draws_per_step(policy.code)
    n = start_uniforms.shape[-1]
    if start_uniforms.shape != (env.state_dim, n) or step_uniforms.ndim != 3 or step_uniforms.shape[1:] != (draws, n):
        raise ValueError(f"uniforms: expected start_uniforms ({env.state_dim}, n) and step_uniforms "
                         f"(n_steps, {draws}, n) for {env.name} with the {policy.kind} policy, got "
                         f"{start_uniforms.shape} and {step_uniforms.shape}")


def rollout_from_uniforms(xp, env: EnvSpec, policy: Policy, theta, start_uniforms, step_uniforms,
                          features: Features | None = None) -> Trajectories:
    """n episodes of at most n_steps steps for all copies at once (the numba kernel's episodes, module docstring).

    start_uniforms: (state_dim, n); step_uniforms: (n_steps, DRAWS_PER_STEP[policy.code], n); both in (0, 1) and
    on the namespace ``xp``. Returns :class:`Trajectories` whose arrays live on ``xp``; entries past an episode's
    length are 0, as in the numba kernel.
    """
    features = features or Features()
    theta_host = check_theta(backend.to_numpy(theta), features.n_features(env.obs_dim))
    check_uniforms(env, policy, start_uniforms, step_uniforms)
    n_steps, n, d = step_uniforms.shape[0], start_uniforms.shape[1], theta_host.size
    if not 1 <= n_steps <= env.horizon:
        raise ValueError(f"rollout: expected 1 <= n_steps <= horizon={env.horizon}, got {n_steps}")
    theta = xp.asarray(theta_host)
    states = start_states_xp(xp, env, start_uniforms)
    out = Trajectories(xp.zeros((n, n_steps, d)), xp.zeros((n, n_steps)), xp.zeros((n, n_steps)),
                       xp.zeros((n, n_steps)), xp.zeros(n, dtype=xp.int64), xp.zeros(n, dtype=bool))
    running = xp.ones(n, dtype=bool)
    for t in range(n_steps):
        phi = features_xp(xp, features, env_observe_xp(xp, env.code, states))
        mean = policy_mean_xp(xp, theta, phi)
        action = mean + deviation_xp(xp, policy.code, policy.sigma, policy.tail, step_uniforms[t])
        clipped = xp.minimum(xp.maximum(action, env.action_low), env.action_high)
        new_states, reward, done = env_step_xp(xp, env.code, states, clipped)
        out.phi[:, t] = xp.where(running[:, None], phi, 0.0)
        out.mu[:, t] = xp.where(running, mean, 0.0)
        out.act[:, t] = xp.where(running, action, 0.0)
        out.rew[:, t] = xp.where(running, reward, 0.0)
        out.length += running
        states = xp.where(running, new_states, states)
        out.terminated |= running & done
        running = running & ~done
    return out


def open_uniforms(xp, rng, shape):
    """Uniforms strictly inside (0, 1) from ``rng`` (a NumPy or CuPy Generator; CuPy's may return 1.0)."""
    return xp.minimum(rng.random(shape) + _HALF_CELL, _BELOW_ONE)


def rollouts_xp(env: EnvSpec, policy: Policy, theta, n: int, seed: int, n_steps: int | None = None,
                features: Features | None = None, xp=None) -> Trajectories:
    """``n`` episodes of at most ``n_steps`` (default ``env.horizon``) steps on ``xp`` (default
    :func:`repro.core.backend.array_module`), the uniforms drawn by ``xp.random.default_rng(seed)``."""
    xp = backend.array_module() if xp is None else xp
    n_steps = env.horizon if n_steps is None else int(n_steps)
    if n < 1 or seed < 0:
        raise ValueError(f"rollouts_xp: expected n >= 1 and seed >= 0, got n={n}, seed={seed}")
    draws = draws_per_step(policy.code)
    rng = xp.random.default_rng(seed)
    start_uniforms = open_uniforms(xp, rng, (env.state_dim, n))
    step_uniforms = open_uniforms(xp, rng, (n_steps, draws, n))
    return rollout_from_uniforms(xp, env, policy, theta, start_uniforms, step_uniforms, features)
