"""repro.router.qnet: the shared-instance Q-network permutes its routing Q-values with the instances and keeps the
wait's, gives identical instances identical values, learns a known answer (discount 0: routing to instance i is
worth minus its first feature), and bad network names are named."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.learn import dqn
from repro.learn.mlp import MLP, init_params, prng_key
from repro.router.cluster import PER_INSTANCE
from repro.router.qnet import SharedInstanceQ, make_q_network
from repro.router.train import DiscountedBatch, DiscountedDoubleDQN, TrainConfig


def observations(gen, n, m):
    return jnp.asarray(gen.random((n, PER_INSTANCE * m + 3)), jnp.float32)


@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_relabelling_the_instances_permutes_their_q_values_and_keeps_the_wait(m, seed):
    gen = np.random.default_rng(seed)
    net = make_q_network("shared-instance", m, (16, 16))
    params = init_params(net, PER_INSTANCE * m + 3, prng_key(seed, "test-qnet"))
    obs = observations(gen, 5, m)
    perm = gen.permutation(m)                                   # new instance j is old instance perm[j]
    columns = np.concatenate([(PER_INSTANCE * perm[:, None] + np.arange(PER_INSTANCE)).ravel(),
                              np.arange(PER_INSTANCE * m, PER_INSTANCE * m + 3)])
    q, q_relabelled = net.apply({"params": params}, obs), net.apply({"params": params}, obs[:, columns])
    assert q.shape == (5, m + 1)
    np.testing.assert_allclose(q_relabelled[:, :m], q[:, perm], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q_relabelled[:, m], q[:, m], rtol=1e-5, atol=1e-6)


def test_identical_instances_have_identical_values():
    net = make_q_network("shared-instance", 4, (8,))
    params = init_params(net, PER_INSTANCE * 4 + 3, prng_key(0, "test-qnet"))
    block = np.random.default_rng(0).random(PER_INSTANCE)
    obs = jnp.asarray(np.concatenate([np.tile(block, 4), [3.0, 500.0, 1.0]])[None, :], jnp.float32)
    q = np.asarray(net.apply({"params": params}, obs))[0]
    np.testing.assert_allclose(q[:4], q[0], rtol=1e-6)


def test_routing_to_the_instance_with_least_load_is_learned_with_zero_discount():
    """Reward of routing to i = -(its first feature); the wait pays -1. The Q-values must approach these rewards."""
    m, n = 3, 128
    cfg = dqn.Config(hidden=(32,), learning_rate=0.01, batch_size=n, huber_delta=10.0)
    agent = DiscountedDoubleDQN(cfg, PER_INSTANCE * m + 3, m + 1, "shared-instance")
    state = agent.init(2)
    gen = rng(2, "test-qnet-bandit")
    for _ in range(600):
        obs = np.asarray(observations(gen, n, m))
        action = gen.integers(0, m + 1, n)
        load = obs[np.arange(n), PER_INSTANCE * np.minimum(action, m - 1)]
        reward = np.where(action < m, -load, -1.0).astype(np.float32)
        batch = DiscountedBatch(jnp.asarray(obs), jnp.asarray(action), jnp.asarray(reward), jnp.asarray(obs),
                                jnp.zeros(n), jnp.zeros(n), jnp.ones((n, m + 1)))
        state, _ = agent.update(state, batch)
    test = np.asarray(observations(gen, 200, m))
    q = np.asarray(agent.q(state.online, jnp.asarray(test)))
    expected = np.concatenate([-test[:, 0:PER_INSTANCE * m:PER_INSTANCE], -np.ones((200, 1))], axis=1)
    assert np.abs(q - expected).mean() < 0.02 and np.abs(q - expected).max() < 0.1
    assert (q.argmax(axis=1) == expected.argmax(axis=1)).mean() > 0.95


def test_the_paper_network_is_the_mlp_and_bad_names_are_named():
    assert isinstance(make_q_network("mlp", 4, (64, 64)), MLP)
    assert isinstance(make_q_network("shared-instance", 4, (64, 64)), SharedInstanceQ)
    with pytest.raises(ValueError, match="network='transformer'"):
        make_q_network("transformer", 4, (64, 64))
    with pytest.raises(ValueError, match="network"):
        TrainConfig(network="transformer")
