"""repro.pg rollouts, HPG (Algorithm 1) and the metastability model (brief 05 section 2)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import pg
from repro.pg.hpg import episode_reference, hpg_estimate
from repro.pg.policies import ReferenceStream, geometric_horizon, new_stream
from repro.pg.rollout import Features, fill_features, policy_args

SETTINGS = settings(max_examples=25, deadline=None)
COMMON = dict(n_iterations=12, batch_size=3, gamma=0.97)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.97])
def test_geometric_horizon_has_the_right_law(gamma):
    state = new_stream(0, 0)
    draws = np.array([geometric_horizon(state, gamma) for _ in range(100_000)])
    root = math.sqrt(gamma)
    mean, std = root / (1 - root), math.sqrt(root) / (1 - root)
    assert (draws >= 0).all()
    assert abs(draws.mean() - mean) < 4 * std / math.sqrt(draws.size)
    assert abs((draws == 0).mean() - (1 - root)) < 0.01
    ref = ReferenceStream(0, 0)
    assert draws[:100].tolist() == [ref.geometric_horizon(gamma) for _ in range(100)]


@pytest.mark.parametrize("name, policy, theta", [
    ("pmc", pg.Policy("cauchy", 1.0), [0.5, -3.0]),
    ("mario", pg.Policy("gaussian", 0.05), [0.0, -0.05]),
    ("mcc", pg.Policy("gen_gaussian", 1.0, alpha=1.5), [0.0, 10.0, 0.1]),
    ("pendulum", pg.Policy("cauchy", 1.0), [0.3, -0.2, 0.1, 0.05]),     # observation [cos, sin, theta_dot] != state
])
def test_rollouts_match_python_twin_and_do_not_depend_on_batch_size(name, policy, theta):
    env = pg.make_env(name)
    batch = pg.rollouts(env, policy, theta, 5, seed=4, n_steps=200)
    for i in range(5):
        steps = episode_reference(env, policy, Features(), np.array(theta), 200, False, ReferenceStream(4, i))
        n = batch.length[i]
        assert n == len(steps)
        # equal up to libm's last bit (numba's and Python's cos may differ by one ulp)
        np.testing.assert_allclose(batch.act[i, :n], [a for _, _, a, _ in steps], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.rew[i, :n], [r for *_, r in steps], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.phi[i, :n], [phi for phi, *_ in steps], rtol=1e-12, atol=1e-12)
        assert (batch.act[i, n:] == 0).all()
    smaller = pg.rollouts(env, policy, theta, 2, seed=4, n_steps=200)
    np.testing.assert_array_equal(smaller.act, batch.act[:2])


def test_rollouts_record_unclipped_actions():
    out = pg.rollouts(pg.make_env("pmc"), pg.Policy("cauchy", 1.0), [0.0, 0.0], 50, seed=0, n_steps=100)
    assert np.abs(out.act).max() > 20.0                     # heavy-tailed samples beyond the action box
    assert out.terminated.any() and (out.length <= 100).all()


@SETTINGS
@given(obs=st.lists(st.floats(-2, 2), min_size=3, max_size=3), seed=st.integers(0, 1000))
def test_cosine_features(obs, seed):
    rng = np.random.default_rng(seed)
    proj, offset = rng.normal(size=(7, 3)), rng.uniform(0, 2 * np.pi, 7)
    phi = np.zeros(7)
    fill_features(1, np.array(obs), proj, offset, phi)
    np.testing.assert_allclose(phi, np.sqrt(2 / 7) * np.cos(proj @ np.array(obs) + offset), atol=1e-14)
    assert Features.cosine(proj, offset).n_features(3) == 7
    with pytest.raises(ValueError, match="observes 2 numbers"):
        Features.cosine(proj, offset).n_features(2)


@SETTINGS
@given(seed=st.integers(0, 10_000), causal=st.booleans(),
       policy=st.sampled_from([pg.Policy("cauchy", 1.0), pg.Policy("gaussian", 1.0),
                               pg.Policy("gen_gaussian", 1.0, alpha=1.2)]))
def test_estimate_is_eq_4_2_on_recorded_trajectories(seed, causal, policy):
    gamma = 0.9
    trajectories = pg.rollouts(pg.make_env("pmc"), policy, [0.3, -1.0], 4, seed=seed, n_steps=40)
    g, scratch = np.zeros(2), np.zeros(2)
    for i in range(4):
        n = trajectories.length[i]
        phi, rew = trajectories.phi[i, :n], trajectories.rew[i, :n]
        scores = policy.score(trajectories.act[i, :n], trajectories.mu[i, :n])[:, None] * phi
        weights = gamma ** (np.arange(n) / 2)
        if causal:
            expected = ((weights * rew)[:, None] * np.cumsum(scores, axis=0)).sum(axis=0)
        else:
            expected = (weights * rew).sum() * scores.sum(axis=0)
        discounted = hpg_estimate(policy_args(policy), trajectories.phi[i], trajectories.mu[i], trajectories.act[i],
                                  trajectories.rew[i], n, gamma, causal, scratch, g)
        assert discounted == pytest.approx((weights * rew).sum(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, policy, step_size, causal, features", [
    ("pmc", pg.Policy("cauchy", 1.0), 1e-3, False, None),
    ("pmc", pg.Policy("gaussian", 1.0), 1e-3, True, None),
    ("mario", pg.Policy("gaussian", 0.05), 1e-2, False, None),
    ("mcc", pg.Policy("gen_gaussian", 1.0, alpha=1.5), 1e-3, True,
     Features.cosine(np.array([[3.0, 20.0], [-2.0, 5.0], [1.0, -30.0]]), np.array([0.1, 1.0, 2.0]))),
    ("pendulum", pg.Policy("cauchy", 1.0), 1e-4, True, None),
])
def test_hpg_matches_python_twin(name, policy, step_size, causal, features):
    env = pg.make_env(name)
    args = dict(COMMON, step_size=step_size, causal=causal, features=features, eval_every=5, n_eval=2)
    ours = pg.hpg(env, policy, seeds=[9], **args)
    ref = pg.hpg_reference(env, policy, seed=9, **args)
    for field in ("theta", "grads", "train_return", "eval_return", "eval_iterations"):
        np.testing.assert_allclose(getattr(ours, field), getattr(ref, field), rtol=1e-12, atol=1e-12, err_msg=field)
    assert ours.eval_return.shape == (1, 3, 2)


def test_same_seed_gives_the_same_run_alone_or_in_a_batch():
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    args = dict(n_iterations=60, batch_size=4, gamma=0.97, step_size=1e-3, eval_every=20, n_eval=3)
    alone = pg.hpg(env, policy, seeds=[7], **args)
    batch = pg.hpg(env, policy, seeds=[3, 7, 11, 12], **args)
    for field in ("theta", "grads", "train_return", "eval_return"):
        np.testing.assert_array_equal(getattr(alone, field)[0], getattr(batch, field)[1], err_msg=field)
    assert not np.array_equal(batch.theta[0], batch.theta[1])
    silent = pg.hpg(env, policy, seeds=[7], **dict(args, eval_every=0, n_eval=0))   # evaluation has its own stream
    np.testing.assert_array_equal(silent.theta, alone.theta)


def test_hpg_update_is_constant_step_ascent_on_the_batch_mean():
    result = pg.hpg(pg.make_env("pmc"), pg.Policy("cauchy", 1.0), seeds=[0, 1], step_size=1e-3, **COMMON)
    np.testing.assert_allclose(np.diff(result.theta, axis=1), 1e-3 * result.grad_estimate, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result.grad_norm, np.linalg.norm(result.grads.mean(axis=2), axis=2))


@pytest.mark.parametrize("kwargs, message", [
    (dict(policy=pg.Policy("stable", 1.0, alpha=1.5)), "needs a score"),
    (dict(gamma=1.0), r"gamma=1.0: expected a discount in \(0, 1\)"),
    (dict(step_size=0.0), "step_size=0.0"),
    (dict(seeds=[-1]), "all >= 0"),
    (dict(theta0=[0.0, 0.0, 0.0]), r"theta: expected shape \(2,\)"),
    (dict(eval_every=5), "both 0"),
])
def test_hpg_rejects_bad_input(kwargs, message):
    args = dict(policy=pg.Policy("cauchy", 1.0), seeds=[0], step_size=1e-3, **COMMON)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        pg.hpg(pg.make_env("pmc"), **args)


# ---------------------------------------------------------------- metastability (eq. 5.6)
META = dict(step_size=0.01, noise_scale=15.0)


@pytest.mark.parametrize("alpha, width", [(1.0, 1.0), (1.5, 0.5), (2.0, 1.0), (1.25, 2.0)])
def test_exit_times_match_python_twin(alpha, width):
    ours = pg.exit_times(alpha, width=width, cap=3000, n_runs=12, seed=2, **META)
    ref = pg.exit_times_reference(alpha, width=width, cap=3000, n_runs=12, seed=2, **META)
    np.testing.assert_array_equal(ours[0], ref[0])
    np.testing.assert_array_equal(ours[1], ref[1])


@SETTINGS
@given(alpha=st.floats(0.8, 2.0), cap=st.integers(1, 400), noise=st.floats(0.0, 60.0), seed=st.integers(0, 99))
def test_exit_times_are_positive_capped_and_counted(alpha, cap, noise, seed):
    times, exited = pg.exit_times(alpha, step_size=0.01, noise_scale=noise, cap=cap, n_runs=8, seed=seed)
    assert ((times >= 1) & (times <= cap)).all()
    assert (times[~exited] == cap).all()
    longer, longer_exited = pg.exit_times(alpha, step_size=0.01, noise_scale=noise, cap=cap + 50, n_runs=8,
                                          seed=seed)
    np.testing.assert_array_equal(longer[exited], times[exited])      # an exit is the first one, whatever the cap
    assert longer_exited[exited].all()


def test_exit_time_edge_cases_and_direction():
    times, exited = pg.exit_times(1.5, step_size=0.01, noise_scale=0.0, cap=500, n_runs=4, seed=0)
    assert (times == 500).all() and not exited.any()                 # no noise: the maximum is stable
    times, exited = pg.exit_times(1.0, step_size=0.01, noise_scale=1e7, cap=500, n_runs=50, seed=0)
    assert exited.all() and np.median(times) == 1                    # huge noise: out in one step, counted as 1
    heavy = pg.exit_times(1.0, cap=20_000, n_runs=200, seed=1, **META)[0].mean()
    light = pg.exit_times(2.0, cap=20_000, n_runs=200, seed=1, **META)[0].mean()
    assert heavy < light / 10
    with pytest.raises(ValueError, match=r"alpha=2.5: expected a tail index in \(0, 2\]"):
        pg.exit_times(2.5, cap=10, n_runs=1, seed=0, **META)


def test_gradient_at_is_the_mean_of_eq_4_2_estimates():
    env, policy, gamma = pg.make_env("pmc"), pg.Policy("gaussian", 1.0), 0.9
    thetas = np.array([[0.0, 0.0], [0.5, -4.0]])
    mean, se = pg.gradient_at(env, policy, thetas, n_trajectories=30, gamma=gamma, seed=5)
    for p in range(2):
        rng, estimates = ReferenceStream(5, p), []
        for _ in range(30):
            n_steps = min(rng.geometric_horizon(gamma) + 1, env.horizon)
            steps = episode_reference(env, policy, Features(), thetas[p], n_steps, False, rng)
            scores = sum(policy.score(a, m) * phi for phi, m, a, _ in steps)
            estimates.append(sum(gamma ** (u / 2) * r for u, (*_, r) in enumerate(steps)) * scores)
        np.testing.assert_allclose(mean[p], np.mean(estimates, axis=0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(se[p], np.std(estimates, axis=0, ddof=1) / np.sqrt(30), rtol=1e-6)
    assert pg.debiased_norm(np.array([3.0, 4.0]), np.array([0.0, 0.0])) == 5.0
    assert pg.debiased_norm(np.array([0.1, 0.1]), np.array([1.0, 1.0])) == 0.0
