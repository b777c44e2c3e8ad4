"""GPOMDP estimator with a gamma-discount (brief 06 section 2): kernel vs twin, relation to HPG, invariants."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import pg
from repro.pg.features import gym_features
from repro.pg.gpomdp import gpomdp, gpomdp_estimate, gpomdp_reference
from repro.pg.hpg import hpg_estimate
from repro.pg.rollout import Features, policy_args

SETTINGS = settings(max_examples=25, deadline=None)
CASES = [
    ("pmc", pg.Policy("cauchy", 1.0), None, [0.5, -3.0], [0.4, -2.0]),
    ("mario", pg.Policy("gaussian", 0.05), None, [0.0, -0.05], [0.1, -0.02]),
    ("mcc_sparse", pg.Policy("cauchy", 1.0), gym_features("mcc_sparse", 10, seed=1), np.linspace(-1, 1, 10),
     np.zeros(10)),
    ("pendulum", pg.Policy("gaussian", 1.0), gym_features("pendulum", 10, seed=2), np.zeros(10),
     np.linspace(0, 1, 10)),
]


def _estimates(policy, theta, batch, gamma):
    out = np.zeros((batch.length.size, len(theta)))
    scratch = np.zeros(len(theta))
    for i in range(batch.length.size):
        gpomdp_estimate(policy_args(policy), np.asarray(theta, float), batch.phi[i], batch.act[i], batch.rew[i],
                        batch.length[i], gamma, scratch, out[i])
    return out


@pytest.mark.parametrize("name, policy, features, theta, theta_eval", CASES)
def test_kernel_equals_python_twin_at_the_sampling_and_another_theta(name, policy, features, theta, theta_eval):
    env, features = pg.make_env(name), features or Features()
    batch = pg.rollouts(env, policy, theta, 6, seed=3, n_steps=150, features=features)
    for at in (theta, theta_eval):
        kernel = _estimates(policy, at, batch, 0.95)
        for i in range(6):
            n = batch.length[i]
            twin = gpomdp_reference(policy, at, batch.phi[i, :n], batch.act[i, :n], batch.rew[i, :n], 0.95)
            np.testing.assert_allclose(kernel[i], twin, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(gpomdp(env, policy, theta, n=6, seed=3, gamma=0.95, n_steps=150,
                                         features=features), _estimates(policy, theta, batch, 0.95))


@pytest.mark.parametrize("kind", ["gaussian", "cauchy"])
def test_equals_causal_hpg_estimate_with_squared_discount(kind):
    """HPG's causal variant weights r_t by gamma^(t/2): with gamma -> gamma^2 it is GPOMDP(gamma)."""
    env, policy, theta, gamma = pg.make_env("pmc"), pg.Policy(kind, 1.0), np.array([0.3, -1.0]), 0.9
    batch = pg.rollouts(env, policy, theta, 8, seed=0, n_steps=60)
    ours = _estimates(policy, theta, batch, gamma)
    scratch, theirs = np.zeros(2), np.zeros((8, 2))
    for i in range(8):
        hpg_estimate(policy_args(policy), batch.phi[i], batch.mu[i], batch.act[i], batch.rew[i], batch.length[i],
                     gamma ** 2, True, scratch, theirs[i])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.floats(-5, 5), gamma=st.floats(0.5, 0.99))
def test_linear_in_rewards_and_bounded_for_cauchy(seed, scale, gamma):
    env, policy, theta = pg.make_env("pmc"), pg.Policy("cauchy", 1.0), np.array([0.2, -1.0])
    batch = pg.rollouts(env, policy, theta, 3, seed=seed, n_steps=40)
    g = _estimates(policy, theta, batch, gamma)
    batch.rew *= scale
    np.testing.assert_allclose(_estimates(policy, theta, batch, gamma), scale * g, rtol=1e-9, atol=1e-9)
    batch.rew[:] = 0.0
    assert (_estimates(policy, theta, batch, gamma) == 0).all()
    # Cauchy score <= 1/sigma: |g_j| <= sum_t gamma^t |r_t| (t+1) max|phi_j| / sigma
    batch.rew[:] = 1.0
    steps = np.arange(40)
    bound = (gamma ** steps * (steps + 1)).sum() * np.abs(batch.phi).max(axis=(0, 1))
    assert (np.abs(_estimates(policy, theta, batch, gamma)) <= bound + 1e-9).all()


def test_bad_input():
    env = pg.make_env("pmc")
    with pytest.raises(ValueError, match="gamma"):
        gpomdp(env, pg.Policy("cauchy"), [0.0, 0.0], n=2, seed=0, gamma=1.0)
    with pytest.raises(ValueError, match="score"):
        gpomdp(env, pg.Policy("stable", 1.0, alpha=1.5), [0.0, 0.0], n=2, seed=0, gamma=0.9)
    with pytest.raises(ValueError, match="theta"):
        gpomdp(env, pg.Policy("cauchy"), [0.0], n=2, seed=0, gamma=0.9)


def test_executed_action_score_clips_before_the_score_and_matches_the_twin():
    policy, theta = pg.Policy("gaussian", 2.0), np.array([0.3, -0.5])
    narrow, wide = pg.make_env("pmc", action_low=-1.0, action_high=1.0), pg.make_env("pmc")
    options = dict(n=20, seed=3, gamma=0.9, n_steps=30)
    sample, executed = (gpomdp(narrow, policy, theta, score_on=s, **options) for s in ("sample", "executed"))
    batch = pg.rollouts(narrow, policy, theta, 20, seed=3, n_steps=30)
    for i in range(3):
        t = batch.length[i]
        twin = gpomdp_reference(policy, theta, batch.phi[i, :t], np.clip(batch.act[i, :t], -1, 1), batch.rew[i, :t],
                                0.9)
        np.testing.assert_allclose(executed[i], twin, rtol=1e-12, atol=1e-12)
    assert np.abs(batch.act).max() > 1 and not np.allclose(sample, executed)     # the box binds: the scores differ
    np.testing.assert_array_equal(gpomdp(wide, pg.Policy("gaussian", 0.1), theta, score_on="executed", **options),
                                  gpomdp(wide, pg.Policy("gaussian", 0.1), theta, **options))  # |a| << 20
    with pytest.raises(ValueError, match="score_on"):
        gpomdp(narrow, policy, theta, score_on="clipped", **options)
