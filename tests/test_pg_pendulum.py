"""Batched numba Pendulum-v1 (brief 06 section 5) against gymnasium's Pendulum-v1 and its Python twin."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.pg import Policy, rollouts
from repro.pg.envs import PENDULUM, env_observe, env_observe_reference, env_step_reference, make_env, step_batch
from repro.pg.envs.pendulum import angle_normalize, pendulum_step, pendulum_step_reference

gymnasium = pytest.importorskip("gymnasium")

N_STEPS = 200


def test_batched_kernel_matches_gymnasium_over_200_steps():
    """16 copies from gymnasium's own start states, actions partly outside the torque box, 200 steps, to 1e-5."""
    n = 16
    rng = np.random.default_rng(0)
    actions = rng.normal(0.0, 3.0, size=(N_STEPS, n))
    envs = [gymnasium.make("Pendulum-v1") for _ in range(n)]
    gym_obs = np.array([env.reset(seed=100 + i)[0] for i, env in enumerate(envs)])
    states = np.array([env.unwrapped.state for env in envs], dtype=np.float64).T.copy()
    obs = np.zeros(3)
    done, rewards = np.zeros(n, dtype=bool), np.zeros(n)
    for t in range(N_STEPS):
        for i in range(n):
            env_observe(PENDULUM, states, i, obs)
            np.testing.assert_allclose(obs, gym_obs[i], atol=1e-5, rtol=0)
        step_batch(PENDULUM, states, actions[t], done, rewards)
        results = [env.step(np.array([actions[t, i]])) for i, env in enumerate(envs)]
        gym_obs = np.array([r[0] for r in results])
        gym_rewards = np.array([r[1] for r in results])
        np.testing.assert_allclose(rewards, gym_rewards, atol=1e-5, rtol=0)
        np.testing.assert_allclose(states.T, [env.unwrapped.state for env in envs], atol=1e-5, rtol=0)
        assert not done.any() and not any(r[2] for r in results)
    assert all(r[3] for r in results)        # gymnasium's TimeLimit ends the episode at our horizon
    assert make_env("pendulum").horizon == N_STEPS


def test_kernel_matches_gymnasium_from_set_states():
    """Start states set through env.unwrapped.state, including fast spins and angles far outside [-pi, pi)."""
    env = gymnasium.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(20):
        theta, theta_dot = rng.uniform(-12, 12), rng.uniform(-8, 8)
        env.state = np.array([theta, theta_dot])
        for _ in range(N_STEPS):
            a = rng.uniform(-4, 4)
            theta, theta_dot, reward, done = pendulum_step(theta, theta_dot, a)
            gym_obs, gym_reward, terminated, _, _ = env.step(np.array([a]))
            assert abs(theta - env.state[0]) < 1e-5 and abs(theta_dot - env.state[1]) < 1e-5
            assert abs(reward - gym_reward) < 1e-5 and done == terminated


@settings(max_examples=50, deadline=None)
@given(theta=st.floats(-20, 20), theta_dot=st.floats(-8, 8), a=st.floats(-50, 50))
def test_kernel_equals_python_twin_and_respects_limits(theta, theta_dot, a):
    ours = pendulum_step(theta, theta_dot, a)
    twin = pendulum_step_reference(theta, theta_dot, a)
    np.testing.assert_allclose(ours, twin, rtol=1e-12, atol=1e-12)
    assert abs(ours[1]) <= 8.0
    max_cost = math.pi ** 2 + 0.1 * theta_dot ** 2 + 0.001 * 4.0
    assert -max_cost - 1e-9 <= ours[2] <= 0.0
    assert -math.pi <= angle_normalize(theta) < math.pi
    states = np.array([[theta], [theta_dot]])
    obs = np.zeros(3)
    env_observe(PENDULUM, states, 0, obs)
    np.testing.assert_allclose(obs, env_observe_reference(PENDULUM, [theta, theta_dot]), rtol=1e-12, atol=1e-12)
    state, reward, done = env_step_reference(PENDULUM, [theta, theta_dot], a)
    np.testing.assert_allclose([*state, reward], twin[:3], rtol=1e-12, atol=1e-12)


def test_rollouts_on_pendulum_observe_cos_sin_and_never_terminate():
    env = make_env("pendulum")
    out = rollouts(env, Policy("cauchy", 1.0), np.zeros(4), 8, seed=0)
    assert (out.length == N_STEPS).all() and not out.terminated.any()
    np.testing.assert_allclose(out.phi[:, :, 0] ** 2 + out.phi[:, :, 1] ** 2, 1.0, atol=1e-12)
    assert (out.phi[:, :, 3] == 1.0).all() and (np.abs(out.phi[:, :, 2]) <= 8.0).all()
    assert (out.rew <= 0).all() and (out.rew >= -(math.pi ** 2 + 6.4 + 0.004)).all()
