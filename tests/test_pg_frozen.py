"""repro.pg.frozen: i.i.d. eq. 4.2 estimates at a frozen theta."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import pg
from repro.pg.frozen import estimates_at, estimates_at_reference

POLICIES = [pg.Policy("gaussian", 1.0), pg.Policy("cauchy", 1.0), pg.Policy("gen_gaussian", 1.0, alpha=1.5)]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.kind)
@pytest.mark.parametrize("env", ["pmc", "mario"])
def test_kernel_matches_the_plain_python_twin(env, policy):
    """Equal up to the order of the float sums (the twin sums score vectors, the kernel coordinates)."""
    spec = pg.make_env(env)
    theta = [0.3, -0.2]
    fast = estimates_at(spec, policy, theta, n=40, gamma=0.97, seed=4)
    np.testing.assert_allclose(fast, estimates_at_reference(spec, policy, theta, n=40, gamma=0.97, seed=4),
                               rtol=1e-10, atol=1e-10)


def test_estimates_are_unbiased_for_the_monte_carlo_gradient():
    """Known answer: the mean of i.i.d. estimates agrees with pg.gradient_at (other streams) within 4 standard
    errors of the difference, coordinate by coordinate."""
    spec, policy, theta = pg.make_env("pmc"), pg.Policy("cauchy", 1.0), np.array([0.0, -1.0])
    samples = estimates_at(spec, policy, theta, n=20_000, gamma=0.97, seed=1)
    mean, se = pg.gradient_at(spec, policy, theta[None], n_trajectories=20_000, gamma=0.97, seed=2)
    own_se = samples.std(axis=0) / np.sqrt(samples.shape[0])
    assert (np.abs(samples.mean(axis=0) - mean[0]) < 4 * np.hypot(own_se, se[0])).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30))
def test_row_i_depends_only_on_its_stream(seed, n):
    spec, policy = pg.make_env("mario"), pg.Policy("gaussian", 0.05)
    many = estimates_at(spec, policy, [0.0, -0.05], n=n + 5, gamma=0.97, seed=seed)
    np.testing.assert_array_equal(many[:n], estimates_at(spec, policy, [0.0, -0.05], n=n, gamma=0.97, seed=seed))


def test_bad_input_is_named():
    spec = pg.make_env("pmc")
    with pytest.raises(ValueError, match=r"theta: expected shape \(2,\)"):
        estimates_at(spec, pg.Policy("cauchy", 1.0), [0.0], n=5, gamma=0.97, seed=0)
    with pytest.raises(ValueError, match="needs a score"):
        estimates_at(spec, pg.Policy("stable", 1.0, alpha=1.5), [0.0, 0.0], n=5, gamma=0.97, seed=0)
    with pytest.raises(ValueError, match="gamma=1.5"):
        estimates_at(spec, pg.Policy("cauchy", 1.0), [0.0, 0.0], n=5, gamma=1.5, seed=0)
