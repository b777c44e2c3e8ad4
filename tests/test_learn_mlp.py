"""MLP and seeding (repro.learn.mlp); `import repro` stays free of JAX."""
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from repro.learn.mlp import apply, init_params, make_mlp, prng_key, prng_keys


def leaves(tree):
    return jax.tree_util.tree_leaves(tree)


def test_layer_shapes_and_forward_pass_match_a_numpy_reference():
    net = make_mlp((64, 64), 5)                      # the router's Q-network (brief 03, A.9.3)
    params = init_params(net, 27, prng_key(0, "mlp"))
    assert [p["kernel"].shape for p in params.values()] == [(27, 64), (64, 64), (64, 5)]
    x = np.asarray(jax.random.normal(prng_key(1, "x"), (3, 27)))
    h = x
    for i in range(2):
        h = np.maximum(h @ np.asarray(params[f"Dense_{i}"]["kernel"]) + np.asarray(params[f"Dense_{i}"]["bias"]), 0)
    out = h @ np.asarray(params["Dense_2"]["kernel"]) + np.asarray(params["Dense_2"]["bias"])
    np.testing.assert_allclose(apply(net, params, jnp.asarray(x)), out, rtol=1e-5, atol=1e-5)


def test_same_seed_same_parameters_other_seed_or_key_different():
    net = make_mlp((8,), 2, "tanh")
    a, b = init_params(net, 3, prng_key(5, "q")), init_params(net, 3, prng_key(5, "q"))
    assert all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b)))
    for other in (prng_key(6, "q"), prng_key(5, "pi")):
        assert not np.array_equal(leaves(a)[1], leaves(init_params(net, 3, other))[1])
    stacked = prng_keys([5, 6], "q")
    np.testing.assert_array_equal(jax.random.key_data(stacked[0]), jax.random.key_data(prng_key(5, "q")))


def test_bad_sizes_and_activation_are_named():
    with pytest.raises(ValueError, match="activation"):
        make_mlp((4,), 2, "sigmoidal")
    with pytest.raises(ValueError, match="hidden"):
        make_mlp((4, 0), 2)
    with pytest.raises(ValueError, match="out"):
        make_mlp((4,), 0)


def test_import_repro_does_not_import_jax():
    code = "import sys, repro, repro.papers, repro.core.seeds; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
