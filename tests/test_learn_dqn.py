"""Double DQN (repro.learn.dqn): one update against its closed form, target sync, epsilon, a chain MDP solved."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repro.core.seeds import rng
from repro.learn.dqn import Batch, Config, DoubleDQN, State, epsilon
from repro.learn.mlp import prng_key
from repro.learn.replay import ReplayBuffer


def linear_params(kernel, bias):
    return {"Dense_0": {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}}


def test_one_sgd_step_equals_the_hand_computed_double_dqn_update():
    gamma, lr, delta = 0.9, 0.1, 1.0
    agent = DoubleDQN(Config(hidden=(), optimiser="sgd", learning_rate=lr, gamma=gamma, huber_delta=delta,
                             target_sync_every=100), obs_dim=2, n_actions=2)
    w, b = np.array([[0.5, -0.2], [0.1, 0.4]]), np.array([0.0, 0.1])
    w_t, b_t = np.array([[0.3, 0.6], [0.5, -0.2]]), np.array([0.2, -0.1])
    online = linear_params(w, b)
    state = State(online, linear_params(w_t, b_t), agent.optimiser.init(online), jnp.zeros((), jnp.int32))
    obs, act = np.array([[1.0, 0.0], [0.5, 2.0]]), np.array([0, 1])
    rew, nxt, done = np.array([1.0, -3.0]), np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([0.0, 1.0])

    # the closed form: online net picks a*, target net evaluates it; Huber gradient = clip(error, -delta, delta)
    best = np.argmax(nxt @ w + b, axis=1)
    target_q = (nxt @ w_t + b_t)[np.arange(2), best]
    assert best[0] != np.argmax(nxt[0] @ w_t + b_t)  # Double DQN differs from max over the target net here
    y = rew + gamma * (1 - done) * target_q
    err = (obs @ w + b)[np.arange(2), act] - y
    assert abs(err[0]) < delta < abs(err[1])         # one sample on each branch of the Huber loss
    grad_err = np.clip(err, -delta, delta) / 2       # mean over the 2 samples
    grad_w, grad_b = np.zeros_like(w), np.zeros_like(b)
    for i in range(2):
        grad_w[:, act[i]] += grad_err[i] * obs[i]
        grad_b[act[i]] += grad_err[i]
    huber = np.where(np.abs(err) <= delta, 0.5 * err ** 2, delta * (np.abs(err) - 0.5 * delta))

    batch = Batch(jnp.asarray(obs, jnp.float32), jnp.asarray(act), jnp.asarray(rew, jnp.float32),
                  jnp.asarray(nxt, jnp.float32), jnp.asarray(done, jnp.float32))
    new, loss = agent.update(state, batch)
    np.testing.assert_allclose(new.online["Dense_0"]["kernel"], w - lr * grad_w, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(new.online["Dense_0"]["bias"], b - lr * grad_b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(loss), huber.mean(), rtol=1e-6)
    np.testing.assert_array_equal(new.target["Dense_0"]["kernel"], w_t.astype(np.float32))   # no sync before update 100
    assert int(new.updates) == 1


def test_target_network_is_synced_exactly_every_n_updates():
    agent = DoubleDQN(Config(hidden=(4,), batch_size=8, target_sync_every=3), obs_dim=3, n_actions=2)
    state = agent.init(0)
    gen = rng(0, "test-dqn-sync")
    batch = Batch(jnp.asarray(gen.normal(size=(8, 3)), jnp.float32), jnp.asarray(gen.integers(0, 2, 8)),
                  jnp.ones(8), jnp.asarray(gen.normal(size=(8, 3)), jnp.float32), jnp.zeros(8))
    synced = []
    for _ in range(6):
        state, _ = agent.update(state, batch)
        leaves = zip(jax.tree_util.tree_leaves(state.online), jax.tree_util.tree_leaves(state.target))
        synced.append(all(np.array_equal(a, b) for a, b in leaves))
    assert synced == [False, False, True, False, False, True]


def test_epsilon_is_linear_then_flat():
    cfg = Config(epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=10)
    np.testing.assert_allclose([float(epsilon(cfg, s)) for s in (0, 5, 10, 20)], [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


def test_act_is_greedy_at_zero_epsilon_and_uniform_at_one():
    agent = DoubleDQN(Config(hidden=(8,)), obs_dim=2, n_actions=3)
    params = agent.init(1).online
    obs = jnp.asarray(rng(1, "test-dqn-act").normal(size=(4000, 2)), jnp.float32)
    key = prng_key(1, "test-dqn-act")
    np.testing.assert_array_equal(agent.act(params, obs, 0.0, key), agent.greedy(params, obs))
    counts = np.bincount(np.asarray(agent.act(params, obs, 1.0, key)), minlength=3) / len(obs)
    np.testing.assert_allclose(counts, 1 / 3, atol=0.03)


def test_same_seed_same_parameters_and_different_seed_different():
    agent = DoubleDQN(Config(hidden=(16, 16)), obs_dim=5, n_actions=3)
    a, b, c = (jax.tree_util.tree_leaves(agent.init(s).online) for s in (7, 7, 8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_bad_config_names_the_parameter():
    with pytest.raises(ValueError, match="gamma"):
        Config(gamma=1.5)
    with pytest.raises(ValueError, match="optimiser"):
        Config(optimiser="rmsprop")


# ---------------------------------------------------------------- a chain MDP with known Q*
N_STATES, GOAL, GAMMA = 5, 4, 0.9   # states 0..3, goal 4 is terminal; action 1 = right, 0 = left (floor at 0)


def chain_step(state, action):
    nxt = np.where(action == 1, state + 1, np.maximum(state - 1, 0))
    done = (nxt == GOAL).astype(np.float32)
    return nxt, done.copy(), done                        # reward 1 exactly on reaching the goal


def optimal_q():
    v = GAMMA ** (GOAL - 1 - np.arange(GOAL))           # V*(s) = gamma^(3-s): walk right, reward 1 on reaching 4
    right = v
    left = GAMMA * v[np.maximum(np.arange(GOAL) - 1, 0)]
    return np.stack([left, right], axis=1)


@pytest.mark.slow
def test_double_dqn_solves_a_chain_mdp_exactly():
    cfg = Config(hidden=(32,), learning_rate=3e-3, gamma=GAMMA, batch_size=64, replay_capacity=10_000,
                 target_sync_every=50, epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=150)
    agent = DoubleDQN(cfg, obs_dim=N_STATES, n_actions=2)
    state = agent.init(0, "chain")
    eye = np.eye(N_STATES, dtype=np.float32)
    buffer = ReplayBuffer(cfg.replay_capacity, {"obs": ((N_STATES,), np.float32), "action": ((), np.int32),
                                                "reward": ((), np.float32), "next_obs": ((N_STATES,), np.float32),
                                                "done": ((), np.float32)})
    gen, keys = rng(0, "chain"), jax.random.split(prng_key(0, "chain-act"), 400)
    pos = gen.integers(0, GOAL, 8)                       # 8 chains stepped together, random starts
    for it in range(400):
        action = np.asarray(agent.act(state.online, eye[pos], float(epsilon(cfg, it)), keys[it]))
        nxt, reward, done = chain_step(pos, action)
        buffer.add({"obs": eye[pos], "action": action, "reward": reward, "next_obs": eye[nxt], "done": done})
        pos = np.where(done == 1, gen.integers(0, GOAL, 8), nxt)
        if len(buffer) >= cfg.batch_size:
            for _ in range(2):
                sample = buffer.sample(gen, cfg.batch_size)
                state, _ = agent.update(state, Batch(**{k: jnp.asarray(v) for k, v in sample.items()}))
    q = np.asarray(agent.q_values(state.online, eye[:GOAL]))
    np.testing.assert_array_equal(np.argmax(q, axis=1), np.ones(GOAL, int))   # always right
    np.testing.assert_allclose(q, optimal_q(), atol=0.05)
