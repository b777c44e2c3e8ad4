"""Random Fourier features (brief 06 section 2): shape, determinism, scale, and agreement with the rollout kernel."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.pg.features import OBSERVATION_RANGES, feature_matrix, gym_features, random_fourier_features
from repro.pg.rollout import FEATURES_COSINE, Features, fill_features


def test_shape_and_kind():
    features = gym_features("pendulum")
    assert features.kind == FEATURES_COSINE and features.proj.shape == (50, 3) and features.offset.shape == (50,)
    assert features.n_features(3) == 50
    assert gym_features("mcc_sparse", n_features=7).proj.shape == (7, 2)
    assert feature_matrix(features, np.zeros((4, 3))).shape == (4, 50)
    assert feature_matrix(Features(), [[0.5, 2.0]]).tolist() == [[0.5, 2.0, 1.0]]


def test_deterministic_for_a_seed_and_different_across_seeds():
    a, b, c = gym_features("mcc", seed=3), gym_features("mcc", seed=3), gym_features("mcc", seed=4)
    np.testing.assert_array_equal(a.proj, b.proj)
    np.testing.assert_array_equal(a.offset, b.offset)
    assert not np.array_equal(a.proj, c.proj)


def test_scale_follows_the_bandwidth_and_approximates_the_gaussian_kernel():
    features = random_fourier_features(2, 20_000, bandwidth=[0.5, 0.01], seed=0)
    np.testing.assert_allclose(features.proj.std(axis=0), [2.0, 100.0], rtol=0.03)
    assert features.offset.min() >= 0 and features.offset.max() < 2 * np.pi
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (30, 2)) * [0.5, 0.01]
    phi = feature_matrix(features, x)
    np.testing.assert_allclose((phi ** 2).sum(axis=1), 1.0, atol=0.03)
    approx = phi @ phi.T
    exact = np.exp(-0.5 * (((x[:, None, :] - x[None, :, :]) / [0.5, 0.01]) ** 2).sum(axis=2))
    assert np.abs(approx - exact).max() < 0.04


def test_gym_bandwidth_is_relative_to_the_observation_ranges():
    features = gym_features("mcc", n_features=20_000, relative_bandwidth=0.5)
    widths = np.array([hi - lo for lo, hi in OBSERVATION_RANGES["mcc"]])
    np.testing.assert_allclose(features.proj.std(axis=0), 1.0 / (0.5 * widths), rtol=0.03)


@pytest.mark.parametrize("kwargs, match", [
    (dict(obs_dim=0, n_features=5, bandwidth=1.0, seed=0), "obs_dim"),
    (dict(obs_dim=2, n_features=5, bandwidth=[1.0, 0.0], seed=0), "bandwidth"),
    (dict(obs_dim=2, n_features=5, bandwidth=[1.0, 2.0, 3.0], seed=0), "one number or 2"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_fourier_features(**kwargs)
    with pytest.raises(ValueError, match="env_name"):
        gym_features("cartpole")


@settings(max_examples=25, deadline=None)
@given(obs=st.lists(st.floats(-10, 10), min_size=3, max_size=3), seed=st.integers(0, 10_000))
def test_numpy_map_equals_the_rollout_kernel(obs, seed):
    features = gym_features("pendulum", n_features=12, seed=seed)
    phi = np.zeros(12)
    kind, proj, offset = features.kernel_args()
    fill_features(kind, np.array(obs), proj, offset, phi)
    np.testing.assert_allclose(phi, feature_matrix(features, [obs])[0], rtol=1e-12, atol=1e-12)
    assert np.abs(phi).max() <= np.sqrt(2.0 / 12) + 1e-15
