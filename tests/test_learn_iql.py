"""IQL (repro.learn.iql): the expectile loss on hand values, and a continuous bandit with a known best action."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from repro.core.seeds import rng
from repro.learn.iql import IQL, Config, Data, expectile_loss, gaussian_log_prob
from repro.learn.mlp import prng_key


def test_expectile_loss_on_hand_values():
    diff = jnp.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(expectile_loss(diff, 0.7), [0.3 * 4, 0.3 * 0.25, 0.0, 0.7, 0.7 * 9], rtol=1e-6)
    np.testing.assert_allclose(expectile_loss(diff, 0.5), 0.5 * diff ** 2, rtol=1e-6)   # half the MSE


@pytest.mark.parametrize("tau, expected", [(0.5, "mean"), (0.9999, "max")])
def test_minimiser_of_the_expectile_loss_is_the_mean_at_one_half_and_tends_to_the_max(tau, expected):
    values = jnp.asarray(rng(0, "test-expectile").normal(size=50))
    best = minimize_scalar(lambda v: float(jnp.mean(expectile_loss(values - v, tau))),
                           bounds=(-5, 5), method="bounded", options={"xatol": 1e-7}).x
    target = float(jnp.mean(values)) if expected == "mean" else float(jnp.max(values))
    assert abs(best - target) < 0.02


def test_gaussian_log_prob_equals_scipy():
    action, mean, log_std = np.array([[0.3, -0.9]]), np.array([[0.1, 0.2]]), np.array([-1.0, 0.5])
    expected = norm.logpdf(action, mean, np.exp(log_std)).sum(axis=-1)
    np.testing.assert_allclose(gaussian_log_prob(action, mean, log_std), expected, rtol=1e-5)


def test_one_update_moves_the_target_by_polyak_and_keeps_twin_heads_distinct():
    agent = IQL(Config(hidden=(4,), batch_size=8, polyak=0.25), obs_dim=1, action_dim=1)
    state = agent.init(prng_key(0, "test-iql-update"))
    data = bandit_data(8)
    batch = Data(*(jnp.asarray(x, jnp.float32) for x in data))
    new, losses = jax.jit(agent.update)(state, batch)
    for old_t, new_t, critic in zip(*(jax.tree_util.tree_leaves(t) for t in (state.target, new.target, new.critic))):
        np.testing.assert_allclose(new_t, 0.75 * old_t + 0.25 * critic, rtol=1e-5, atol=1e-7)
    kernel = new.critic["Dense_0"]["kernel"]
    assert kernel.shape[0] == 2 and not np.array_equal(kernel[0], kernel[1])
    assert losses.shape == (3,) and np.all(np.isfinite(losses))


def bandit_data(n=4000):
    """One-step bandit: s ~ U(-1, 1), behaviour a ~ U(-1, 1) (blind to s), reward -10 (a - a*(s))^2, a* = 0.6 s."""
    gen = rng(0, "test-iql-bandit")
    s = gen.uniform(-1, 1, (n, 1))
    a = gen.uniform(-1, 1, (n, 1))
    r = -10.0 * (a[:, 0] - 0.6 * s[:, 0]) ** 2
    return Data(s, a, r, s, np.ones(n))


@pytest.mark.slow
def test_iql_policy_finds_the_best_in_support_action_for_every_seed():
    agent = IQL(Config(hidden=(64, 64), learning_rate=1e-3), obs_dim=1, action_dim=1)
    states, losses = agent.train(bandit_data(), seeds=[3, 3, 4], n_steps=1500)
    grid = jnp.linspace(-0.9, 0.9, 19)[:, None]
    error = np.abs(np.asarray(agent.policy_means(states.actor, grid))[..., 0] - 0.6 * np.asarray(grid)[:, 0])
    # behaviour cloning would give ~0 everywhere: mean error 0.6 * mean|s| = 0.3 on this grid
    assert error.shape == (3, 19) and (error.mean(axis=1) < 0.05).all(), error.mean(axis=1)
    for leaf in jax.tree_util.tree_leaves(states):          # seeds 3 and 3 identical, seed 4 different
        np.testing.assert_array_equal(leaf[0], leaf[1])
    assert not np.array_equal(states.actor["Dense_0"]["kernel"][0], states.actor["Dense_0"]["kernel"][2])
    assert np.all(np.isfinite(losses))

    # V is the 0.7-expectile of Q over behaviour actions: at s = 0, Q(0, a) = -10 a^2 with a ~ U(-1, 1)
    q_at_zero = -10.0 * np.linspace(-1, 1, 20001) ** 2
    expectile = minimize_scalar(lambda v: float(np.mean(np.where(q_at_zero < v, 0.3, 0.7) * (q_at_zero - v) ** 2)),
                                bounds=(-10, 0), method="bounded").x
    value = jax.tree_util.tree_map(lambda x: x[2], states.value)
    assert abs(float(agent.value(value, jnp.zeros((1, 1)))[0]) - expectile) < 0.25, expectile


def test_bad_input_names_the_field():
    agent = IQL(Config(hidden=(4,)), obs_dim=1, action_dim=1)
    data = bandit_data(10)
    with pytest.raises(ValueError, match="'action'"):
        agent.train(data._replace(action=2 * data.action + 3), seeds=[0], n_steps=1)
    with pytest.raises(ValueError, match="'reward'"):
        agent.train(data._replace(reward=data.reward[:5]), seeds=[0], n_steps=1)
    with pytest.raises(ValueError, match="expectile"):
        Config(expectile=1.5)
