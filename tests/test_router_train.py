"""repro.router.train: the per-transition-discount Double DQN equals repro.learn.dqn's when every discount is gamma and
every action is legal, learns a known answer (discount 0: Q -> the action's mean reward), takes its target's argmax
over the next state's legal actions only; only instances that can admit the head are legal, the wait only when none
can (in exploration and the greedy policy); the variants' guidance schedules; a short training run of each variant
and network."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repro.core.seeds import rng
from repro.learn import dqn
from repro.router.env import EnvConfig
from repro.router.evaluate import workloads
from repro.router.routers import explore_actions, legal_actions
from repro.router.service import ServiceModel
from repro.router.cluster import A_FITS, N_AUX
from repro.router.train import (
    VARIANTS, DiscountedBatch, DiscountedDoubleDQN, TrainConfig, act_greedy, evaluate_agent, schedule,
    train,
)


def random_batch(gen, n=32, dim=3, actions=2):
    return (jnp.asarray(gen.normal(size=(n, dim)), jnp.float32), jnp.asarray(gen.integers(0, actions, n)),
            jnp.asarray(gen.normal(size=n), jnp.float32), jnp.asarray(gen.normal(size=(n, dim)), jnp.float32),
            jnp.asarray(gen.integers(0, 2, n), jnp.float32))


def test_a_constant_discount_is_exactly_double_dqn():
    cfg = dqn.Config(hidden=(8,), gamma=0.9, batch_size=32, target_sync_every=2)
    base, ours = dqn.DoubleDQN(cfg, 3, 2), DiscountedDoubleDQN(cfg, 3, 2)
    s_base, s_ours = base.init(0), ours.init(0)
    gen = rng(0, "test-router-ddqn")
    for _ in range(5):
        fields = random_batch(gen)
        s_base, l_base = base.update(s_base, dqn.Batch(*fields))
        s_ours, l_ours = ours.update(s_ours, DiscountedBatch(*fields, jnp.full(32, 0.9, jnp.float32),
                                                             jnp.ones((32, 2), jnp.float32)))
        assert float(l_base) == pytest.approx(float(l_ours), rel=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(s_base.online), jax.tree_util.tree_leaves(s_ours.online)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_zero_discount_learns_each_actions_mean_reward():
    cfg = dqn.Config(hidden=(), learning_rate=0.05, batch_size=64, huber_delta=10.0)
    agent = DiscountedDoubleDQN(cfg, 1, 2)
    state = agent.init(1)
    gen = rng(1, "test-router-bandit")
    for _ in range(400):
        action = gen.integers(0, 2, 64)
        reward = np.where(action == 0, 1.0, -2.0) + 0.1 * gen.normal(size=64)
        obs = np.ones((64, 1), np.float32)
        batch = DiscountedBatch(jnp.asarray(obs), jnp.asarray(action), jnp.asarray(reward, jnp.float32),
                                jnp.asarray(obs), jnp.zeros(64), jnp.zeros(64), jnp.ones((64, 2)))
        state, _ = agent.update(state, batch)
    np.testing.assert_allclose(agent.q_values(state.online, jnp.ones((1, 1)))[0], [1.0, -2.0], atol=0.05)


def test_the_target_maximises_over_the_next_states_legal_actions_only():
    # One state looping onto itself, discount 0.5; action 1 pays 1, action 0 pays 0. Both legal next:
    # Q(1) = 1 + 0.5 Q(1) = 2, Q(0) = 0.5 Q(1) = 1. Only action 0 legal next: Q(0) = 0.5 Q(0) = 0, Q(1) = 1.
    cfg = dqn.Config(hidden=(), learning_rate=0.05, batch_size=64, huber_delta=10.0, target_sync_every=10)
    agent = DiscountedDoubleDQN(cfg, 1, 2)
    obs = jnp.ones((64, 1), jnp.float32)
    for legal, expected in (([1.0, 1.0], [1.0, 2.0]), ([1.0, 0.0], [0.0, 1.0])):
        state, gen = agent.init(2), rng(2, "test-router-legal")
        for _ in range(1500):
            action = gen.integers(0, 2, 64)
            batch = DiscountedBatch(obs, jnp.asarray(action), jnp.asarray(action, jnp.float32), obs, jnp.zeros(64),
                                    jnp.full(64, 0.5), jnp.tile(jnp.asarray(legal), (64, 1)))
            state, _ = agent.update(state, batch)
        np.testing.assert_allclose(agent.q_values(state.online, obs[:1])[0], expected, atol=0.05)


def aux_with_fits(fits):
    fits = np.asarray(fits, float)
    aux = np.zeros(fits.shape + (N_AUX,))
    aux[:, :, A_FITS] = fits
    return aux


def test_only_instances_with_room_are_legal_and_the_wait_only_when_none_has_room():
    aux = aux_with_fits([[0, 0, 0], [1, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(legal_actions(aux), [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 1, 0]])
    gen = rng(3, "test-router-explore")
    many = np.stack([explore_actions(gen, aux) for _ in range(2000)])
    assert set(many[:, 0]) == {3} and set(many[:, 1]) == {0}
    assert set(many[:, 2]) == {1, 2} and abs((many[:, 2] == 1).mean() - 0.5) < 0.05     # uniform over legal
    # a network whose favourite action is the wait: greedy waits only where waiting is legal
    cfg = dqn.Config(hidden=())
    agent = DiscountedDoubleDQN(cfg, 4, 4)
    params = jax.tree_util.tree_map(jnp.zeros_like, agent.init(0).online)
    params = jax.tree_util.tree_map(lambda p: p.at[..., 3].set(1.0) if p.ndim == 1 else p, params)
    obs = np.zeros((4, 4))
    obs[:3, -3] = 1.0                                              # clusters 0-2 have a queued request
    got = act_greedy(agent, params, obs, aux_with_fits([[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 1, 1]]))
    np.testing.assert_array_equal(got, [3, 0, 2, 3])                      # cluster 3: empty queue -> wait


def test_schedules_of_the_three_variants():
    k = np.array([1, 2, 10])
    w, g = schedule("baseline", k, 0.99, 0.5)
    np.testing.assert_array_equal(w, 0.0)
    np.testing.assert_array_equal(g, 0.99)
    w, g = schedule("aware", k, 0.99, 0.5)
    np.testing.assert_array_equal(w, 1.0)
    np.testing.assert_array_equal(g, 0.99)
    w, g = schedule("guided", k, 0.99, 0.5)
    np.testing.assert_allclose(w, 0.99 * np.exp(-0.5 * k))
    np.testing.assert_allclose(w + g, 0.99)                    # gamma - gamma_hat_k is the guidance weight
    assert w[-1] < 0.01
    with pytest.raises(ValueError, match="variant"):
        schedule("other", k, 0.99, 0.5)


@pytest.mark.parametrize("variant, network", [(v, "shared-instance") for v in VARIANTS] + [("guided", "mlp")])
def test_each_variant_trains_and_is_evaluated_on_a_tiny_cluster(variant, network):
    env_cfg = EnvConfig(m=2, service=ServiceModel(kv_capacity=3000, max_time=60.0))
    cfg = TrainConfig(episodes=4, parallel=2, update_every=4, network=network,
                      dqn=dqn.Config(batch_size=32, replay_capacity=5000, epsilon_decay_steps=2))
    agent, params, history = train(variant, env_cfg, cfg,
                                   lambda r: workloads(env_cfg, 40, 10.0, 0, ("test-train", r), range(2)), 0, 0)
    np.testing.assert_array_equal(history["episode"], [1, 2, 3, 4])
    np.testing.assert_allclose(history["epsilon"], [1.0, 0.5, 0.0, 0.0])
    loads = workloads(env_cfg, 40, 10.0, 0, ("test-eval",), range(3))
    metrics = evaluate_agent(agent, params, env_cfg, loads, variant).metrics
    assert len(metrics) == 3 and (metrics["e2e_mean"] > 0).all()
