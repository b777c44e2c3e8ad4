"""repro.pg.policies: random streams, samplers, densities and scores (brief 05 section 2 "Policies")."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from repro.pg.policies import (CAUCHY, GAUSSIAN, GEN_GAUSSIAN, STABLE, Policy, ReferenceStream, cauchy_score,
                               new_stream, sample_deviation, uniform)

SETTINGS = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**40)
sigmas = st.floats(0.05, 5.0)
alphas = st.floats(0.3, 2.0)
scored = [Policy("gaussian", 1.3), Policy("cauchy", 0.7), Policy("gen_gaussian", 1.1, alpha=1.5),
          Policy("gen_gaussian", 0.5, alpha=0.8), Policy("stable", 0.9, alpha=1.0), Policy("stable", 0.9, alpha=2.0)]


@SETTINGS
@given(seed=seeds, stream_id=st.integers(0, 2**20))
def test_stream_matches_python_twin(seed, stream_id):
    state, ref = new_stream(seed, stream_id), ReferenceStream(seed, stream_id)
    ours = [uniform(state) for _ in range(20)]
    assert ours == [ref.uniform() for _ in range(20)]
    assert all(0.0 < u < 1.0 for u in ours)


def test_streams_differ_by_seed_and_id():
    firsts = {uniform(new_stream(s, i)) for s in range(20) for i in range(20)}
    assert len(firsts) == 400


@SETTINGS
@given(kind=st.sampled_from([GAUSSIAN, CAUCHY, GEN_GAUSSIAN, STABLE]), sigma=sigmas, alpha=alphas, seed=seeds)
def test_sampler_matches_python_twin(kind, sigma, alpha, seed):
    state, ref = new_stream(seed, 3), ReferenceStream(seed, 3)
    ours = [sample_deviation(kind, sigma, alpha, state) for _ in range(50)]
    assert ours == [ref.deviation(kind, sigma, alpha) for _ in range(50)]


@pytest.mark.parametrize("policy, dist", [
    (Policy("gaussian", 1.3), stats.norm(scale=1.3)),
    (Policy("cauchy", 0.7), stats.cauchy(scale=0.7)),
    (Policy("gen_gaussian", 1.1, alpha=1.5), stats.gennorm(1.5, scale=1.1)),
    (Policy("gen_gaussian", 0.5, alpha=0.6), stats.gennorm(0.6, scale=0.5)),
    (Policy("stable", 0.9, alpha=1.0), stats.cauchy(scale=0.9)),
    (Policy("stable", 0.9, alpha=2.0), stats.norm(scale=0.9 * math.sqrt(2))),
])
def test_samples_and_log_density_match_scipy(policy, dist):
    samples = policy.sample(5000, seed=11, mu=0.3) - 0.3
    assert stats.kstest(samples, dist.cdf).pvalue > 1e-3
    grid = np.linspace(-4, 4, 41)
    np.testing.assert_allclose(policy.log_density(grid + 0.3, mu=0.3), dist.logpdf(grid), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.7, 1.3, 1.8])
def test_stable_samples_have_the_stable_characteristic_function(alpha):
    sigma = 0.8
    x = Policy("stable", sigma, alpha=alpha).sample(200_000, seed=5)
    for omega in (0.3, 1.0, 2.0):
        assert abs(np.cos(omega * x).mean() - math.exp(-abs(sigma * omega) ** alpha)) < 0.01


@SETTINGS
@given(policy=st.sampled_from(scored), mu=st.floats(-3, 3))
def test_density_integrates_to_one(policy, mu):
    total, _ = integrate.quad(lambda a: math.exp(policy.log_density(a, mu)), -np.inf, np.inf, limit=200)
    assert abs(total - 1.0) < 1e-6


@SETTINGS
@given(policy=st.sampled_from(scored), x=st.floats(-6, 6).filter(lambda v: abs(v) > 1e-3))
def test_score_is_the_derivative_of_log_density(policy, x):
    h = 1e-6
    finite_difference = (policy.log_density(x, mu=h) - policy.log_density(x, mu=-h)) / (2 * h)
    assert policy.score(x) == pytest.approx(finite_difference, rel=1e-5, abs=1e-6)


@SETTINGS
@given(x=st.floats(-1e6, 1e6), sigma=sigmas)
def test_cauchy_score_is_bounded_by_one_over_sigma(x, sigma):
    assert abs(cauchy_score(x, sigma)) <= 1.0 / sigma * (1 + 1e-12)
    assert cauchy_score(sigma, sigma) == pytest.approx(1.0 / sigma)


def test_gaussian_score_grows_without_bound_and_gen_gaussian_interpolates():
    x = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(Policy("gaussian", 1.0).score(x), x)
    np.testing.assert_allclose(Policy("gen_gaussian", 1.0, alpha=2.0).score(x), 2 * x)      # N(0, 1/2)
    np.testing.assert_allclose(Policy("gen_gaussian", 1.0, alpha=1.0).score(x), np.ones(3))  # Laplace
    np.testing.assert_allclose(Policy("gen_gaussian", 1.0, alpha=1.5).score(x), 1.5 * np.sqrt(x))


def test_stable_policy_is_sampling_only_off_alpha_one_and_two():
    policy = Policy("stable", 1.0, alpha=1.5)
    assert not policy.has_score
    assert np.isnan(policy.score(0.3)) and np.isnan(policy.log_density(0.3))
    assert np.isfinite(policy.sample(10, seed=0)).all()
    assert Policy("stable", 1.0, alpha=1.0).has_score and Policy("stable", 1.0, alpha=2.0).has_score


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="stable", sigma=1.0, alpha=2.5), r"alpha in \(0, 2\]"),
    (dict(kind="stable", sigma=1.0, alpha=0.0), r"alpha in \(0, 2\]"),
    (dict(kind="gen_gaussian", sigma=1.0, alpha=-1.0), r"alpha in \(0, 2\]"),
    (dict(kind="gen_gaussian", sigma=1.0), r"alpha in \(0, 2\]"),
    (dict(kind="cauchy", sigma=0.0), r"sigma=0.0: expected a finite number > 0"),
    (dict(kind="gaussian", sigma=-1.0), r"sigma=-1.0: expected a finite number > 0"),
    (dict(kind="gaussian", sigma=float("nan")), r"sigma=nan"),
    (dict(kind="cauchy", sigma=1.0, alpha=1.5), r"alpha fixed at 1.0"),
    (dict(kind="laplace", sigma=1.0), r"kind='laplace': expected one of"),
])
def test_invalid_parameters_name_the_allowed_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Policy(**kwargs)
