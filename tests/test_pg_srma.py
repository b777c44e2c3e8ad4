"""SRMA and mirror ascent without tracking (brief 06 section 2): kernel vs plain-Python twin, properties, divergence."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import pg
from repro.pg.features import gym_features
from repro.pg.gpomdp import gpomdp_estimate
from repro.pg.rollout import policy_args
from repro.pg.srma import (VANISHING_WEIGHT, WEIGHT_CAP, DivergenceError, clipped_weight, effective_sample_share,
                           log_likelihood_ratio, mirror_gradient, mirror_gradient_reference, mirror_inverse,
                           mirror_inverse_reference, pnorm_exponent, srma, srma_reference)

SETTINGS = settings(max_examples=25, deadline=None)
SMALL = dict(n_iterations=7, batch_size=3, initial_batch=5, gamma=0.95, n_steps=60)
FIELDS = ["theta", "direction", "batch_return", "eval_return", "weights_computed", "weights_overflowing",
          "weights_vanishing", "steps", "ess_share"]


def assert_same_run(a, b, rtol=1e-10):
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(a.eval_iterations, b.eval_iterations)


@pytest.mark.parametrize("name, policy, options", [
    ("pmc", pg.Policy("cauchy", 1.0), dict(step_size=1e-2, restart_every=3, eval_every=3, n_eval=2)),
    ("pmc", pg.Policy("gaussian", 1.0), dict(step_size=1e-3, restart_every=0, p="auto")),
    ("mario", pg.Policy("gaussian", 0.05), dict(step_size=1e-1, restart_every=4, eval_every=2, n_eval=1)),
    ("mcc", pg.Policy("cauchy", 1.0), dict(step_size=1e-2, tracking=False, p=1.5,
                                                  features=gym_features("mcc", 6, seed=0))),
    ("pendulum", pg.Policy("cauchy", 1.0), dict(step_size=1e-2, restart_every=3, eval_every=4, n_eval=1)),
    ("pendulum", pg.Policy("gaussian", 1.0), dict(step_size=1e-2, p="auto", features=gym_features("pendulum", 5))),
])
def test_kernel_equals_python_twin(name, policy, options):
    env = pg.make_env(name)
    kernel = srma(env, policy, seeds=[4], **SMALL, **options)
    twin = srma_reference(env, policy, seed=4, **SMALL, **options)
    assert_same_run(kernel, twin)
    assert kernel.theta.shape[1] == SMALL["n_iterations"] + 1
    assert np.abs(kernel.theta[0, -1] - kernel.theta[0, 0]).max() > 0      # it moved


def test_steps_count_every_drawn_episode_including_restarts():
    env, policy = pg.make_env("pendulum"), pg.Policy("cauchy", 1.0)   # never terminates: every episode is n_steps long
    result = srma(env, policy, seeds=[3], n_iterations=7, batch_size=3, initial_batch=5, restart_every=3,
                  n_steps=20, step_size=1e-3)
    np.testing.assert_array_equal(result.steps[0], [100, 60, 60, 100, 60, 60, 100])


def test_ess_share_is_nan_when_fresh_near_one_for_tiny_steps_and_in_range():
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    tiny = srma(env, policy, seeds=[1], step_size=1e-9, restart_every=3, **{**SMALL, "n_iterations": 7})
    ess = tiny.ess_share[0]
    assert np.isnan(ess[[0, 3, 6]]).all()
    np.testing.assert_allclose(ess[[1, 2, 4, 5]], 1.0, atol=1e-6)
    for eta in (3e-2, 1.0):   # at eta = 1 every weight underflows to 0: ESS 0, the correction is dropped
        big = srma(env, policy, seeds=[1], step_size=eta, restart_every=0, **SMALL).ess_share[0, 1:]
        in_range = (big >= 1 / SMALL["batch_size"] - 1e-12) & (big <= 1 + 1e-12)
        assert (in_range | (big == 0)).all() and big.min() < 0.99


@SETTINGS
@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=20))
def test_effective_sample_share_matches_its_formula(weights):
    w = np.array(weights)
    share = effective_sample_share(w.sum(), (w * w).sum(), w.size)
    expected = 0.0 if (w * w).sum() == 0 else w.sum() ** 2 / (w.size * (w * w).sum())
    assert share == pytest.approx(expected) and (share == 0.0 or 1 / w.size - 1e-9 <= share <= 1 + 1e-9)


def test_seeds_are_independent_of_the_batch():
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    both = srma(env, policy, seeds=[0, 9, 2], step_size=1e-2, eval_every=2, n_eval=2, **SMALL)
    alone = srma(env, policy, seeds=[2], step_size=1e-2, eval_every=2, n_eval=2, **SMALL)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(both, name)[2:], getattr(alone, name))
    assert not np.array_equal(both.theta[0], both.theta[1])


@pytest.mark.parametrize("kind", ["gaussian", "cauchy"])
def test_restart_every_iteration_is_mirror_ascent_without_tracking(kind):
    """A restart resets the tracker to a fresh estimate: restarting at every iteration with B0 = B is plain ascent."""
    env, policy = pg.make_env("pmc"), pg.Policy(kind, 1.0)
    common = dict(seeds=[1], n_iterations=6, gamma=0.95, n_steps=60, step_size=1e-2)
    restarted = srma(env, policy, batch_size=4, initial_batch=4, restart_every=1, **common)
    plain = srma(env, policy, batch_size=4, initial_batch=99, tracking=False, **common)
    for name in ["theta", "direction", "batch_return"]:
        np.testing.assert_array_equal(getattr(restarted, name), getattr(plain, name))
    assert restarted.weights_computed[0] == plain.weights_computed[0] == 0


@pytest.mark.parametrize("restart_every, expected", [(0, 3 * 9), (4, 3 * 7), (1, 0)])
def test_weights_are_computed_once_per_tracking_trajectory(restart_every, expected):
    result = srma(pg.make_env("pmc"), pg.Policy("gaussian", 1.0), seeds=[0], n_iterations=10, batch_size=3,
                  initial_batch=5, restart_every=restart_every, step_size=1e-3, n_steps=30)
    assert result.weights_computed[0] == expected
    assert 0 <= result.weights_overflowing[0] + result.weights_vanishing[0] <= expected


@SETTINGS
@given(log_w=st.floats(-800, 800), cap=st.floats(0.5, 10))
def test_clipped_weight_is_in_zero_cap_and_counted(log_w, cap):
    stats = np.zeros(3, dtype=np.int64)
    w = clipped_weight(log_w, cap, stats)
    assert 0.0 <= w <= cap and stats[0] == 1
    assert stats[1] == (log_w > math.log(cap))
    assert stats[2] == (math.exp(min(log_w, 700)) < VANISHING_WEIGHT)
    if stats[1] == 0:
        assert w == pytest.approx(math.exp(log_w), rel=1e-15)


@SETTINGS
@given(seed=st.integers(0, 10_000), shift=st.floats(-0.5, 0.5), kind=st.sampled_from(["gaussian", "cauchy"]))
def test_importance_weight_properties(seed, shift, kind):
    """w = 1 and a zero correction when theta_k = theta_{k-1}; w(theta_a -> theta_b) w(theta_b -> theta_a) = 1."""
    policy, theta = pg.Policy(kind, 1.0), np.array([0.3, -1.0])
    batch = pg.rollouts(pg.make_env("pmc"), policy, theta, 2, seed=seed, n_steps=30)
    other = theta + shift
    args = policy_args(policy)
    g_new, g_old, scratch = np.zeros(2), np.zeros(2), np.zeros(2)
    for i in range(2):
        phi, act, n = batch.phi[i], batch.act[i], batch.length[i]
        assert log_likelihood_ratio(args, theta, theta, phi, act, n) == 0.0
        gpomdp_estimate(args, theta, phi, act, batch.rew[i], n, 0.95, scratch, g_new)
        gpomdp_estimate(args, theta.copy(), phi, act, batch.rew[i], n, 0.95, scratch, g_old)
        stats = np.zeros(3, dtype=np.int64)
        assert (g_new - clipped_weight(0.0, WEIGHT_CAP, stats) * g_old == 0).all()
        forward = log_likelihood_ratio(args, theta, other, phi, act, n)
        backward = log_likelihood_ratio(args, other, theta, phi, act, n)
        assert forward == pytest.approx(-backward, abs=1e-9)


def test_tracking_and_ascent_use_the_same_estimator_for_both_policies():
    """Gaussian and Cauchy runs share one code path; a negligible step keeps theta and gives identity weights."""
    for kind in ("gaussian", "cauchy"):
        result = srma(pg.make_env("mario"), pg.Policy(kind, 0.05), seeds=[3], n_iterations=5, batch_size=2,
                      initial_batch=3, step_size=1e-300, n_steps=40)
        assert np.abs(result.theta).max() < 1e-290 and result.weights_computed[0] == 2 * 4
        assert result.weights_overflowing[0] == result.weights_vanishing[0] == 0


@SETTINGS
@given(x=st.lists(st.floats(-100, 100), min_size=2, max_size=8), p=st.floats(1.05, 4.0))
def test_mirror_maps_invert_each_other_and_match_twins(x, p):
    x = np.array(x)
    dual, back = np.zeros_like(x), np.zeros_like(x)
    mirror_gradient(x, p, dual)
    mirror_inverse(dual, p, back)
    np.testing.assert_allclose(back, x, rtol=1e-6, atol=1e-6 * (1 + np.abs(x).max()))
    np.testing.assert_allclose(dual, mirror_gradient_reference(x, p), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(back, mirror_inverse_reference(dual, p), rtol=1e-12, atol=1e-300)
    # the dual norm of grad psi(x) is ||x||_p (psi = 1/2 ||x||_p^2)
    q = p / (p - 1)
    assert np.sum(np.abs(dual) ** q) ** (1 / q) == pytest.approx(np.sum(np.abs(x) ** p) ** (1 / p), rel=1e-9,
                                                                 abs=1e-12)
    mirror_gradient(x, 2.0, dual)
    np.testing.assert_array_equal(dual, x)


def test_pnorm_exponent_and_auto():
    assert pnorm_exponent(50) == pytest.approx(1 + 1 / math.log(50))
    with pytest.raises(ValueError, match="d >= 2"):
        pnorm_exponent(1)
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    auto = srma(env, policy, seeds=[0], p="auto", step_size=1e-2, **SMALL)
    explicit = srma(env, policy, seeds=[0], p=pnorm_exponent(2), step_size=1e-2, **SMALL)
    np.testing.assert_array_equal(auto.theta, explicit.theta)


def test_nan_or_inf_stops_the_run_naming_iteration_and_seed():
    env, policy = pg.make_env("pmc"), pg.Policy("gaussian", 1.0)
    options = dict(SMALL, step_size=1e308)
    with pytest.raises(DivergenceError, match="seed 0 at iteration 0, seed 5 at iteration 1") as caught:
        srma(env, policy, seeds=[0, 5], **dict(options, n_iterations=2))
    assert caught.value.failures == [(0, 0), (5, 1)]
    with np.errstate(all="ignore"), pytest.raises(DivergenceError, match="seed 5 at iteration 1"):
        srma_reference(env, policy, seed=5, **options)


@pytest.mark.parametrize("options, match", [
    (dict(batch_size=0), "batch_size"),
    (dict(initial_batch=2.5), "initial_batch"),
    (dict(restart_every=-1), "restart_every"),
    (dict(step_size=math.inf), "step_size"),
    (dict(gamma=1.0), "gamma"),
    (dict(p=1.0), "p="),
    (dict(n_steps=501), "n_steps"),
    (dict(eval_every=2), "eval_every"),
    (dict(seeds=[]), "seeds"),
    (dict(theta0=[1.0]), "theta"),
    (dict(weight_cap=0.0), "weight_cap"),
])
def test_bad_input(options, match):
    args = {"seeds": [0], "n_iterations": 2, **options}
    with pytest.raises(ValueError, match=match):
        srma(pg.make_env("pmc"), pg.Policy("cauchy", 1.0), **args)


# ---------------------------------------------------------------- HPG's step counts (repro.pg.budget)
def test_hpg_replay_reproduces_the_run_and_counts_its_steps():
    from repro.pg.budget import hpg_training_steps
    env, policy = pg.make_env("pmc"), pg.Policy("cauchy", 1.0)
    run = pg.hpg(env, policy, seeds=[2, 7], n_iterations=30, batch_size=4, gamma=0.97, step_size=1e-2,
                 eval_every=10, n_eval=2)
    steps, returns = hpg_training_steps(env, policy, run, gamma=0.97)
    np.testing.assert_array_equal(returns, run.train_return)
    assert steps.shape == (2, 30, 4) and (steps >= 1).all() and (steps <= env.horizon).all()
    assert 10 < steps.mean() < 120        # geometric horizon of mean 1 / (1 - 0.97^0.5) ~ 66, ended early by goals
    with pytest.raises(ValueError, match="seed 2"):
        hpg_training_steps(env, policy, run, gamma=0.9)
