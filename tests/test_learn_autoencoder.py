"""repro.learn.autoencoder: windows, thresholds, and both autoencoders on a problem with a known answer (windows of
a 2-parameter family are reconstructed; windows off the family are not)."""
import jax
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from repro.core.seeds import rng
from repro.learn.autoencoder import Autoencoder, Config, sliding_windows, threshold

W = 8


def test_sliding_windows_pad_with_the_first_step_and_end_at_t():
    obs = np.arange(10, dtype=np.float32).reshape(5, 2)          # T = 5, d = 2
    windows = sliding_windows(obs, 3)
    assert windows.shape == (5, 3, 2)
    np.testing.assert_array_equal(windows[0], [[0, 1], [0, 1], [0, 1]])
    np.testing.assert_array_equal(windows[4], obs[2:5])
    assert sliding_windows(np.zeros((2, 7, 4, 3)), 5).shape == (2, 7, 4, 5, 3)


def test_threshold_is_the_percentile_per_seed():
    scores = np.stack([np.arange(101.0), 2 * np.arange(101.0)])
    np.testing.assert_allclose(threshold(scores), [99.0, 198.0])


def waves(n, generator, noise=0.0, speed=0.5):
    """Windows of (sin, cos) of a phase advancing ``speed`` per step, amplitude in [0.5, 1.5]: 2 free parameters."""
    phase = generator.uniform(0, 2 * np.pi, (n, 1)) + speed * np.arange(W)
    amplitude = generator.uniform(0.5, 1.5, (n, 1))
    x = np.stack([amplitude * np.sin(phase), amplitude * np.cos(phase)], axis=-1)
    return (x + noise * generator.standard_normal(x.shape)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lstm", "mlp"])
def test_autoencoder_reconstructs_its_family_and_flags_other_windows(kind):
    gen = rng(0, "test-autoencoder")
    ae = Autoencoder(kind, W, 2, Config(hidden=32, bottleneck=4, learning_rate=3e-3))
    params, scaler, losses = ae.fit(waves(4000, gen), seeds=[1, 1, 2], n_steps=800)
    assert losses.shape == (3, 800) and (losses[:, -50:].mean(axis=1) < 0.2 * losses[:, :10].mean(axis=1)).all()
    for leaf in jax.tree_util.tree_leaves(params):               # seeds 1 and 1 identical, 2 different
        np.testing.assert_array_equal(leaf[0], leaf[1])
    inside = np.asarray(ae.scores(params, scaler, waves(500, gen)))
    outside = np.asarray(ae.scores(params, scaler, waves(500, gen, noise=0.5, speed=1.7)))
    thr = threshold(inside)
    for s in range(3):
        labels = np.r_[np.zeros(500), np.ones(500)]
        assert roc_auc_score(labels, np.r_[inside[s], outside[s]]) > 0.95
        assert (outside[s] > thr[s]).mean() > 0.8


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="kind"):
        Autoencoder("gru", W, 2)
    with pytest.raises(ValueError, match="bottleneck"):
        Config(bottleneck=0)
    with pytest.raises(ValueError, match="windows"):
        Autoencoder("mlp", W, 2).fit(np.zeros((10, W, 3)), seeds=[0], n_steps=1)
