"""repro.pg.envs: PMC, 1D Mario and MountainCarContinuous kernels (brief 05 section 2 "Environments")."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.pg.envs import (MARIO, MCC, MCC_SPARSE, PMC, EnvSpec, env_step_reference, make_env, step_batch)
from repro.pg.envs.mario import mario_step
from repro.pg.envs.mountain_car import mcc_step
from repro.pg.envs.pmc import SMALL_GOAL_S, pmc_profile, pmc_step

SETTINGS = settings(max_examples=30, deadline=None)
BOUNDS = {PMC: [(-4.0, 3.709)], MARIO: [(0.0, 1.0)], MCC: [(-1.2, 0.6), (-0.07, 0.07)],
          MCC_SPARSE: [(-1.2, 0.6), (-0.07, 0.07)]}
NAMES = {PMC: "pmc", MARIO: "mario", MCC: "mcc", MCC_SPARSE: "mcc_sparse"}


@pytest.mark.parametrize("pumping", [False, True])
def test_mountain_car_matches_gymnasium(pumping):
    """Up to 500 steps per start state, >= 1000 steps in all; gymnasium is put in our (float64) state before every
    step, since it stores its state as float32 (open-loop trajectories drift apart by ~1e-5 over 500 steps)."""
    gym = pytest.importorskip("gymnasium")
    env = gym.make("MountainCarContinuous-v0")
    env.reset(seed=0)
    rng = np.random.default_rng(1 + pumping)
    steps = terminations = 0
    while steps < 1000:
        position, velocity = rng.uniform(-1.2, 0.5), rng.uniform(-0.07, 0.07)
        for _ in range(500):
            # pumping (push along the velocity) reaches the goal; uniform actions exercise clipping and the wall
            a = np.sign(velocity) * 1.2 + rng.normal(0, 0.5) if pumping else rng.uniform(-2.0, 2.0)
            env.unwrapped.state = np.array([position, velocity])
            obs, reward, terminated, _, _ = env.step(np.array([a]))
            position, velocity, our_reward, done = mcc_step(position, velocity, a, False)
            steps += 1
            assert abs(obs[0] - position) < 1e-5 and abs(obs[1] - velocity) < 1e-5
            assert abs(reward - our_reward) < 1e-5
            assert done == terminated
            if done:
                terminations += 1
                break
    assert terminations >= (3 if pumping else 0)


@SETTINGS
@given(position=st.floats(-1.2, 0.6), velocity=st.floats(-0.07, 0.07), a=st.floats(-3, 3))
def test_mountain_car_sparse_variant_and_twin(position, velocity, a):
    dense = mcc_step(position, velocity, a, False)
    sparse = mcc_step(position, velocity, a, True)
    assert dense[:2] == sparse[:2] and dense[3] == sparse[3]
    assert sparse[2] == (100.0 if sparse[3] else 0.0)
    assert dense[2] == pytest.approx(sparse[2] - 0.1 * a * a, abs=1e-12)
    state, reward, done = env_step_reference(MCC, [position, velocity], a)
    assert state == pytest.approx(list(dense[:2]), abs=1e-15) and done == dense[3]
    assert reward == pytest.approx(dense[2], abs=1e-12)


@SETTINGS
@given(s=st.floats(-4.0, 3.709), a=st.floats(-20, 20))
def test_pmc_matches_python_twin(s, a):
    s_next, reward, done = pmc_step(s, a)
    ref_s, ref_reward, ref_done = env_step_reference(PMC, [s], a)
    assert [s_next] == ref_s and done == ref_done
    assert reward == pytest.approx(ref_reward, abs=1e-12)


def test_pmc_goals_and_energy_cost():
    assert pmc_profile(SMALL_GOAL_S) == pytest.approx(5.4815, abs=1e-4) and pmc_profile(-4.0) == 124.0
    a = (SMALL_GOAL_S - 1.0) / 0.1
    s_next, reward, done = pmc_step(1.0, a)
    assert done and reward == pytest.approx(10 - 0.001 * a * a)
    s_next, reward, done = pmc_step(-3.5, -20.0)          # clipped at the left wall: the bonanza
    assert s_next == -4.0 and done and reward == pytest.approx(500 - 0.4)
    s_next, reward, done = pmc_step(3.6, 20.0)            # right wall: no reward
    assert s_next == 3.709 and not done and reward == pytest.approx(-0.4)
    assert pmc_step(0.0, 1.0) == (0.1, -0.001, False)


@SETTINGS
@given(s=st.floats(0.0, 1.0), a=st.floats(-0.1, 0.1))
def test_mario_matches_python_twin_and_rewards_only_the_left_exit(s, a):
    s_next, reward, done = mario_step(s, a)
    assert ([s_next], reward, done) == env_step_reference(MARIO, [s], a)
    assert reward == float(s + a < 0) and done == (reward == 1.0) and 0.0 <= s_next <= 1.0


@SETTINGS
@given(code=st.sampled_from([PMC, MARIO, MCC, MCC_SPARSE]), seed=st.integers(0, 2**31), n=st.integers(1, 40))
def test_batch_stays_in_bounds_and_done_copies_stay_done(code, seed, n):
    spec = make_env(NAMES[code])
    rng = np.random.default_rng(seed)
    states = np.array([rng.uniform(lo, hi, n) for lo, hi in BOUNDS[code]])
    done = np.zeros(n, dtype=bool)
    rewards = np.zeros(n)
    scale = (spec.action_high - spec.action_low) / 2
    for _ in range(60):
        before_states, before_done = states.copy(), done.copy()
        actions = np.clip(rng.standard_cauchy(n) * scale, spec.action_low, spec.action_high)
        step_batch(code, states, actions, done, rewards)
        for j, (lo, hi) in enumerate(BOUNDS[code]):
            assert (states[j] >= lo).all() and (states[j] <= hi).all()
        assert (done >= before_done).all()
        np.testing.assert_array_equal(states[:, before_done], before_states[:, before_done])
        assert (rewards[before_done] == 0).all()
        for i in np.flatnonzero(~before_done):     # every live copy took exactly the scalar step
            ref_state, ref_reward, ref_done = env_step_reference(code, list(before_states[:, i]), actions[i])
            np.testing.assert_allclose(states[:, i], ref_state, atol=1e-15)
            assert rewards[i] == pytest.approx(ref_reward, abs=1e-12) and done[i] == ref_done


def test_make_env_defaults_and_validation():
    assert make_env("pmc").action_high == 20.0 and make_env("mario").start_low == (0.5,)
    assert make_env("pmc", action_low=-5.0, action_high=5.0).action_low == -5.0
    with pytest.raises(ValueError, match="expected one of"):
        make_env("cartpole")
    with pytest.raises(ValueError, match="unknown field"):
        make_env("pmc", speed=3)
    with pytest.raises(ValueError, match="action_low < action_high"):
        make_env("pmc", action_low=1.0, action_high=1.0)
    with pytest.raises(ValueError, match="horizon"):
        make_env("mcc", horizon=0)
    with pytest.raises(ValueError, match="start_low/start_high need 2"):
        EnvSpec("x", MCC, 2, 2, -1.0, 1.0, (0.0,), (0.0,), 10)


def test_an_unbounded_action_box_is_the_public_pmc_file_which_never_clips():
    """heavy-tailed-pg measures alpha_hat at theta_0 both ways: our clip-before-step, and the public PMC file, whose
    speed and energy cost are taken as drawn (make_env with the largest finite box)."""
    from repro import pg

    big = np.finfo(float).max
    public = make_env("pmc", action_low=-big, action_high=big)
    batch = pg.rollouts(public, pg.Policy("cauchy", 1.0), [0.0, 0.0], 50, seed=1)
    clipped = pg.rollouts(make_env("pmc"), pg.Policy("cauchy", 1.0), [0.0, 0.0], 50, seed=1)
    taken = np.arange(batch.act.shape[1]) < batch.length[:, None]
    for i, t in zip(*np.nonzero(taken)):   # every step pays the unclipped energy cost, as in the public file
        goal = batch.rew[i, t] + 0.001 * batch.act[i, t] ** 2
        assert goal == pytest.approx(0.0, abs=1e-6) or goal == pytest.approx(10.0) or goal == pytest.approx(500.0)
    assert (np.abs(batch.act[taken]) > 20).any()
    assert batch.rew.min() < clipped.rew.min() and clipped.rew.min() >= -0.001 * 20 ** 2 - 1e-9
