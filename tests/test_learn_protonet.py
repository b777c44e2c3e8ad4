"""Prototypical network (repro.learn.protonet): prototypes vs NumPy, separable blobs hidden in noise."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repro.core.seeds import rng
from repro.learn.mlp import init_params, prng_key
from repro.learn.protonet import Config, ProtoNet, check_items, logits, prototypes

N_CLASSES, NOISE_DIMS = 6, 10


def blobs(n_per_class, seed_key):
    """Classes separated on 2 informative dimensions (std 0.3, centres on a circle of radius 2) and drowned
    in 10 noise dimensions of std 3, so raw Euclidean nearest-prototype does poorly and learning must help."""
    gen = rng(0, "test-protonet", seed_key)
    angle = 2 * np.pi * np.arange(N_CLASSES) / N_CLASSES
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    informative = centres[y] + 0.3 * gen.normal(size=(len(y), 2))
    x = np.concatenate([informative, 3.0 * gen.normal(size=(len(y), NOISE_DIMS))], axis=1).astype(np.float32)
    return x, y


def test_prototypes_and_logits_equal_a_numpy_reference():
    gen = rng(0, "test-protonet-ref")
    emb, labels = gen.normal(size=(30, 4)), gen.integers(0, 3, 30)
    protos = np.stack([emb[labels == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(prototypes(jnp.asarray(emb), jnp.asarray(labels), 3), protos, rtol=1e-5)
    query = gen.normal(size=(7, 4))
    reference = -np.array([[np.sum((q - p) ** 2) for p in protos] for q in query])
    np.testing.assert_allclose(logits(jnp.asarray(query), jnp.asarray(protos)), reference, rtol=1e-5)


@pytest.mark.slow
def test_episodic_training_classifies_held_out_blobs_near_perfectly():
    x, y = blobs(200, "train")
    support_x, support_y = blobs(10, "support")
    query_x, query_y = blobs(100, "query")
    cfg = Config(hidden=(32,), embedding_dim=8, n_way=4, k_shot=5, n_query=10, learning_rate=1e-2, n_episodes=300)
    net = ProtoNet(cfg, x.shape[1])
    params, losses = net.fit(x, y, seed=0)
    untrained = init_params(net.encoder, x.shape[1], prng_key(0, "protonet"))
    acc = lambda p: float(np.mean(np.asarray(net.predict(p, support_x, support_y, query_x, N_CLASSES)) == query_y))
    assert acc(params) > 0.95
    assert acc(untrained) < 0.8                           # the problem is not solved by a random encoder
    assert losses[-50:].mean() < losses[:50].mean()

    again, _ = net.fit(x, y, seed=0)                       # same seed => identical parameters
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="protonet x"):
        check_items(np.zeros((4, 3)), np.array([0, 1, 0, 1]), input_dim=2)
    with pytest.raises(ValueError, match="protonet y"):
        check_items(np.zeros((4, 2)), np.array([0.0, 1.0, 0.0, 1.0]), input_dim=2)
    with pytest.raises(ValueError, match="n_way"):
        Config(n_way=1)
