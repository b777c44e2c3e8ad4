"""repro.pg.tail_index: Mohammadi et al.'s estimator (brief 05 section 2 "Tail-index estimator")."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import pg
from repro.pg.tail_index import CONVENTIONS, RAW_EPS, convention_tail_index


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 2.0])
def test_recovers_the_tail_index_of_symmetric_stable_samples(alpha):
    """As the paper uses it: average of per-coordinate estimates, here 10 coordinates of 10^4 samples each."""
    policy = pg.Policy("stable", 2.5, alpha=alpha)
    estimates = [pg.tail_index(policy.sample(10_000, seed=100 + c)) for c in range(10)]
    assert abs(np.mean(estimates) - alpha) < 0.1


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e3), seed=st.integers(0, 1000))
def test_estimate_is_scale_invariant(scale, seed):
    x = np.random.default_rng(seed).standard_cauchy(2000)
    assert pg.tail_index(scale * x) == pytest.approx(pg.tail_index(x), rel=1e-9)


def test_block_sums_follow_the_formula():
    x = np.array([1.0, -2.0, 4.0, 0.5, 3.0, -1.0, 2.0, 2.0, 7.0])   # K1 = 3 blocks of 3
    y = np.array([3.0, 2.5, 11.0])
    expected = (np.log(y).mean() - np.log(np.abs(x)).mean()) / math.log(3)
    assert pg.inverse_tail_index(x) == pytest.approx(expected)
    assert pg.tail_index(x) == pytest.approx(1 / expected)
    assert pg.inverse_tail_index(x[:8], k1=2) == pytest.approx(
        (np.log(np.abs(x[:8].reshape(4, 2).sum(1))).mean() - np.log(np.abs(x[:8])).mean()) / math.log(2))


def test_zeros_and_bad_input():
    assert math.isnan(pg.tail_index(np.zeros(100)))
    with_zeros = np.concatenate([np.random.default_rng(0).standard_cauchy(900), np.zeros(100)])
    assert np.isfinite(pg.tail_index(with_zeros))
    with pytest.raises(ValueError, match="at least 4 finite samples"):
        pg.tail_index([1.0, 2.0])
    with pytest.raises(ValueError, match="not finite"):
        pg.tail_index([1.0, 2.0, np.inf, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"block size k1=1 must be in \[2, 50\]"):
        pg.tail_index(np.ones(100), k1=1)


def test_gradient_noise_windows():
    rng = np.random.default_rng(3)
    grads = rng.standard_cauchy((300, 10, 2)) + 5.0          # the window mean is removed
    ends, alphas = pg.gradient_noise_tail_index(grads, window=100, stride=50)
    assert ends.tolist() == [100, 150, 200, 250, 300]
    block = grads[200:300].reshape(-1, 2)
    noise = block - block.mean(axis=0)
    assert alphas[-1] == pytest.approx(np.mean([pg.tail_index(noise[:, j]) for j in range(2)]))
    assert abs(alphas.mean() - 1.0) < 0.3
    with pytest.raises(ValueError, match=r"expected shape \(K, B, d\)"):
        pg.gradient_noise_tail_index(grads[:, :, 0])
    with pytest.raises(ValueError, match="window=400"):
        pg.gradient_noise_tail_index(grads, window=400)


# ---------------------------------------------------------------- conventions (raw log(|x| + eps) vs centred)
def test_raw_convention_reads_the_share_of_zeros_not_the_tail():
    """A Bernoulli(0.1) x N(0, 1) sample has true index 2; Simsekli et al.'s log(|x| + eps) reads it as ~0.1, and
    without zeros the two conventions agree with the truth (the finding behind brief 05's C1 checks)."""
    rng = np.random.default_rng(5)
    light = rng.standard_normal(10_000)
    inflated = light * (rng.random(10_000) < 0.1)
    assert convention_tail_index(inflated[:, None], "raw") < 0.3
    for convention in CONVENTIONS:
        assert abs(convention_tail_index(light[:, None], convention) - 2.0) < 0.25
    assert pg.tail_index(light, eps=RAW_EPS) == pytest.approx(pg.tail_index(light), rel=1e-6)


def test_raw_convention_follows_the_formula_with_eps():
    x = np.array([1.0, 0.0, 4.0, 0.5, 3.0, -1.0, 0.0, 2.0, 7.0])
    y = np.abs(x.reshape(3, 3).sum(axis=1))
    expected = (np.log(y + 0.1).mean() - np.log(np.abs(x) + 0.1).mean()) / math.log(3)
    assert pg.inverse_tail_index(x, eps=0.1) == pytest.approx(expected)
    with pytest.raises(ValueError, match="eps=0"):
        pg.inverse_tail_index(x, eps=0)


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_both_conventions_recover_stable_indices_from_one(alpha):
    sample = pg.Policy("stable", 1.0, alpha=alpha).sample(20_000, seed=11)
    for convention in CONVENTIONS:
        assert abs(convention_tail_index(sample[:, None], convention) - alpha) < 0.2


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-1e3, 1e3), scale=st.floats(1e-2, 1e2), seed=st.integers(0, 1000))
def test_centred_convention_ignores_shift_and_scale(shift, scale, seed):
    x = np.random.default_rng(seed).standard_cauchy((2000, 2))
    assert convention_tail_index(scale * x + shift, "centred") == pytest.approx(convention_tail_index(x, "centred"),
                                                                                rel=1e-6)


def test_convention_averages_coordinates_and_rejects_bad_input():
    rng = np.random.default_rng(2)
    samples = np.column_stack([rng.standard_cauchy(900), np.zeros(900)])   # the all-zero coordinate has no index
    centred = samples[:, 0] - samples[:, 0].mean()
    assert convention_tail_index(samples, "centred") == pytest.approx(pg.tail_index(centred))
    assert math.isnan(convention_tail_index(np.zeros((100, 2)), "raw"))
    assert math.isnan(convention_tail_index(np.zeros((100, 2)), "centred"))
    with pytest.raises(ValueError, match="convention='pooled'"):
        convention_tail_index(samples, "pooled")
    with pytest.raises(ValueError, match=r"expected shape \(n, d\)"):
        convention_tail_index(samples[:, 0], "raw")
