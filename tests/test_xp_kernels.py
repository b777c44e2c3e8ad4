"""Array-namespace kernels (repro.pg.xp_rollout, repro.fairness.xp_bins, repro.traces.xp_stats) equal the numba
kernels and NumPy/SciPy statistics they mirror; the same tests run on CuPy where a GPU is present (marked ``gpu``)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from repro import traces
from repro.core import backend
from repro.fairness import metrics
from repro.fairness.xp_bins import bin_fairness_xp, cumulative_service_xp, service_bins_xp
from repro.pg import Features, Policy, make_env, random_fourier_features, rollouts
from repro.pg.envs import ENV_NAMES, env_observe, step_batch
from repro.pg.policies import ReferenceStream
from repro.pg.xp_rollout import (DRAWS_PER_STEP, deviation_xp, env_observe_xp, env_step_xp, rollout_from_uniforms,
                                 rollouts_xp)
from repro.traces import tokens
from repro.traces.xp_stats import (binned_load_xp, hourly_means_xp, ks_distance_xp, ks_to_quantile_table_xp,
                                   per_minute_counts_xp, quantiles_xp, spearman_xp)

SETTINGS = settings(max_examples=30, deadline=None)


def _cupy():
    if not backend.gpu_available():
        pytest.skip("no CUDA device or CuPy: the CuPy case runs only where a GPU is present")
    import cupy
    return cupy


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array namespace under test: NumPy always, CuPy when a GPU is present (skipped with a reason otherwise)."""
    return np if request.param == "numpy" else _cupy()


def host(array):
    return backend.to_numpy(array)


# ---------------------------------------------------------------------------------------- pg rollout
#: per environment, the box of states drawn for the step test (each state component's (low, high))
STATE_BOXES = {"pmc": [(-4.0, 3.709)], "mario": [(0.0, 1.0)], "mcc": [(-1.2, 0.6), (-0.07, 0.07)],
               "mcc_sparse": [(-1.2, 0.6), (-0.07, 0.07)], "pendulum": [(-4.0, 4.0), (-8.0, 8.0)]}


@pytest.mark.parametrize("name", ENV_NAMES)
def test_env_step_equals_the_numba_step(xp, name):
    env = make_env(name)
    rng = np.random.default_rng(1)
    n = 2000
    states = np.stack([rng.uniform(low, high, n) for low, high in STATE_BOXES[name]])
    if name == "pmc":
        states[0, :200] = 8.0 / 3.0 + rng.uniform(-0.1, 0.1, 200)     # steps that may reach the small goal
    actions = np.clip(rng.normal(0, 10, n), env.action_low, env.action_high)
    expected, rewards, done = states.copy(), np.zeros(n), np.zeros(n, dtype=np.bool_)
    step_batch(env.code, expected, actions, done, rewards)
    got, reward, finished = env_step_xp(xp, env.code, xp.asarray(states), xp.asarray(actions))
    np.testing.assert_allclose(host(got), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(reward), rewards, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(host(finished), done)
    obs = np.zeros((env.obs_dim, n))
    for i in range(n):
        env_observe(env.code, states, i, obs[:, i])
    np.testing.assert_allclose(host(env_observe_xp(xp, env.code, xp.asarray(states))), obs, rtol=1e-12, atol=1e-15)


def stream_uniforms(env, policy, seed: int, n: int, n_steps: int):
    """The uniforms numba rollout copy i draws from stream (seed, i), laid out as rollout_from_uniforms reads them."""
    draws = DRAWS_PER_STEP[policy.code]
    start, steps = np.full((env.state_dim, n), 0.5), np.zeros((n_steps, draws, n))
    for i in range(n):
        stream = ReferenceStream(seed, i)
        for j, (lo, hi) in enumerate(zip(env.start_low, env.start_high)):
            if hi > lo:
                start[j, i] = stream.uniform()
        for t in range(n_steps):
            for k in range(draws if policy.kind != "stable" or policy.tail != 1.0 else 1):
                steps[t, k, i] = stream.uniform()
    return start, steps


@pytest.mark.parametrize("kind, sigma, alpha", [("gaussian", 0.3, None), ("cauchy", 1.0, None),
                                                ("stable", 1.0, 1.5), ("stable", 0.5, 1.0)])
def test_policy_sampling_equals_the_numba_sampler(xp, kind, sigma, alpha):
    policy = Policy(kind, sigma, alpha)
    env = make_env("pmc")
    _, steps = stream_uniforms(env, policy, seed=3, n=1, n_steps=500)
    got = deviation_xp(xp, policy.code, policy.sigma, policy.tail, xp.asarray(steps[:, :, 0].T))
    np.testing.assert_allclose(host(got), policy.sample(500, seed=3), rtol=1e-12, atol=1e-12)


def test_generalised_gaussian_is_named_as_numba_only():
    with pytest.raises(ValueError, match="gen_gaussian"):
        rollouts_xp(make_env("pmc"), Policy("gen_gaussian", 1.0, alpha=1.5), np.zeros(2), 4, seed=0, xp=np)


CASES = [("pmc", Policy("cauchy", 1.0), [0.5, -0.2], None, 120),
         ("pmc", Policy("gaussian", 2.0), [-3.0, 1.0], None, 150),
         ("pendulum", Policy("gaussian", 0.5), [0.1, 0.1, 0.1, 0.1], None, 60),
         ("pendulum", Policy("cauchy", 1.0), None, "cosine", 40),
         ("mcc", Policy("cauchy", 1.0), [0.0, 100.0, 0.0], None, 120),
         ("mario", Policy("stable", 0.05, alpha=1.5), [-0.1, 0.0], None, 80)]


@pytest.mark.parametrize("name, policy, theta, feature_kind, n_steps", CASES)
def test_rollout_on_the_kernel_uniforms_equals_the_numba_rollout(xp, name, policy, theta, feature_kind, n_steps):
    env = make_env(name)
    features = random_fourier_features(env.obs_dim, 6, 1.0, seed=2) if feature_kind else Features()
    theta = np.linspace(-0.3, 0.3, 6) if theta is None else np.asarray(theta)
    n, seed = 48, 5
    expected = rollouts(env, policy, theta, n, seed=seed, n_steps=n_steps, features=features)
    start, steps = stream_uniforms(env, policy, seed, n, n_steps)
    got = rollout_from_uniforms(xp, env, policy, xp.asarray(theta), xp.asarray(start), xp.asarray(steps), features)
    np.testing.assert_array_equal(host(got.length), expected.length)
    np.testing.assert_array_equal(host(got.terminated), expected.terminated)
    for field in ("phi", "mu", "act", "rew"):
        np.testing.assert_allclose(host(getattr(got, field)), getattr(expected, field), rtol=1e-12, atol=1e-12,
                                   err_msg=field)
    np.testing.assert_allclose(host(got.returns), expected.returns, rtol=1e-12, atol=1e-12)


def test_drawn_rollouts_match_the_numba_rollouts_in_distribution():
    """With its own generator the xp rollout draws other numbers: its PMC outcomes agree in distribution."""
    env, policy, theta = make_env("pmc"), Policy("cauchy", 1.0), np.zeros(2)
    ours = rollouts_xp(env, policy, theta, 4000, seed=0, n_steps=200, xp=np)
    numba = rollouts(env, policy, theta, 4000, seed=0, n_steps=200)
    assert abs(ours.terminated.mean() - numba.terminated.mean()) < 0.05
    assert stats.ks_2samp(ours.length, numba.length).pvalue > 1e-3


# ---------------------------------------------------------------------------------------- fairness bins
@st.composite
def served_requests(draw):
    n = draw(st.integers(1, 60))
    n_users = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    tenant = rng.integers(0, n_users, n).astype(np.int32)
    admit = rng.uniform(0, 100, n) + rng.exponential(20, n)
    first = admit + rng.exponential(1, n)
    finish = first + rng.exponential(15, n) * (rng.random(n) < 0.9)   # some finish at their first token
    admit[rng.random(n) < 0.15] = np.nan
    finish[np.isnan(admit) | (rng.random(n) < 0.1)] = np.nan             # never admitted, or still running
    first[np.isnan(admit)] = np.nan
    output = rng.integers(1, 50, n).astype(np.int32)
    c_p, c_d = rng.uniform(0, 100, n), rng.uniform(0, 3, n)
    bin_s = draw(st.sampled_from([0.1, 1.0, 7.5, 10.0, 60.0]))
    n_bins = draw(st.integers(1, 30))
    return tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, n_bins


def on(xp, arrays):
    return [xp.asarray(a) for a in arrays]


@SETTINGS
@given(served_requests())
def test_service_bins_equal_the_numba_kernel(case):
    expected = metrics.service_bins(*case)
    got = service_bins_xp(np, *case)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(served_requests())
def test_service_is_conserved_and_counters_never_decrease(case):
    tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, _ = case
    horizon_bins = int(np.nanmax(np.concatenate([admit, finish, first, [0.0]])) // bin_s) + 2
    service = service_bins_xp(np, tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, horizon_bins)
    admitted, finished = ~np.isnan(admit), ~np.isnan(finish)
    owed = np.zeros(n_users)
    np.add.at(owed, tenant[admitted], c_p[admitted])
    np.add.at(owed, tenant[finished], (c_d * output)[finished])
    np.testing.assert_allclose(service.sum(axis=1), owed, rtol=1e-9, atol=1e-9)
    counters = cumulative_service_xp(np, service)
    assert np.all(np.diff(counters, axis=1) >= -1e-9 * (1 + np.abs(counters[:, 1:])))


def test_service_bins_on_the_backend(xp):
    rng = np.random.default_rng(0)
    n, n_users, n_bins, bin_s = 20_000, 500, 120, 30.0
    admit = rng.uniform(0, 3600, n)
    first = admit + rng.exponential(2, n)
    finish = first + rng.exponential(60, n)
    case = (rng.integers(0, n_users, n), rng.integers(1, 500, n), admit, first, finish, rng.uniform(0, 100, n),
            np.full(n, 2.0))
    expected = metrics.service_bins(*case, bin_s, n_users, n_bins)
    got = service_bins_xp(xp, *on(xp, case), bin_s, n_users, n_bins)
    np.testing.assert_allclose(host(got), expected, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 25), st.integers(0, 2 ** 31))
def test_bin_fairness_equals_the_numpy_loop(n_users, n_bins, seed):
    rng = np.random.default_rng(seed)
    service = rng.exponential(5, (n_users, n_bins)) * (rng.random((n_users, n_bins)) < 0.8)
    backlogged = rng.random((n_users, n_bins)) < 0.6
    bins, gaps, jain = metrics.bin_fairness(service, backlogged)
    got = bin_fairness_xp(np, service, backlogged)
    np.testing.assert_array_equal(got[0], bins)
    np.testing.assert_allclose(got[1], gaps, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], jain, rtol=1e-12)


def test_bin_fairness_on_the_backend(xp):
    rng = np.random.default_rng(4)
    service, backlogged = rng.exponential(5, (300, 200)), rng.random((300, 200)) < 0.3
    expected = metrics.bin_fairness(service, backlogged)
    got = bin_fairness_xp(xp, xp.asarray(service), xp.asarray(backlogged))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(host(g), e, rtol=1e-12)


# ---------------------------------------------------------------------------------------- trace statistics
@pytest.fixture(scope="module")
def week():
    return traces.generate_weekly_trace(20_000, seed=7)


def test_binned_load_equals_the_numpy_version(xp, week):
    expected = traces.binned_load(week, 4 * 3600, duration=traces.WEEK_S)
    n_bins = expected["start"].size
    tokens_per_request = week.prompt_tokens.astype(np.float64) + week.output_tokens
    got = binned_load_xp(xp, *on(xp, (week.arrival, week.workload, tokens_per_request)), 4 * 3600, n_bins)
    for key in ("start", "rps", "tps"):
        np.testing.assert_allclose(host(got[key]), expected[key], rtol=1e-12, err_msg=key)


def test_minute_and_hourly_rates_equal_the_numpy_version(xp, week):
    counts = np.bincount((week.arrival // 60).astype(np.int64), minlength=7 * 1440)
    got = per_minute_counts_xp(xp, xp.asarray(week.arrival), 7 * 1440)
    np.testing.assert_array_equal(host(got), counts)
    rates = traces.calibration_rates("code", 5_000, seed=1)
    np.testing.assert_allclose(host(hourly_means_xp(xp, xp.asarray(rates["per_minute"]))), rates["hourly"],
                               rtol=1e-12)


@SETTINGS
@given(st.integers(2, 300), st.integers(2, 300), st.integers(0, 2 ** 31))
def test_ks_spearman_quantiles_equal_scipy_and_numpy(n_a, n_b, seed):
    rng = np.random.default_rng(seed)
    a = rng.lognormal(6, 1, n_a).round()              # integer token lengths: many ties
    b = rng.lognormal(6.2, 0.8, n_b).round()
    y = (a * rng.uniform(0.5, 2, n_a)).round()
    assert float(ks_distance_xp(np, a, b)) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    rho = stats.spearmanr(a, y).statistic
    if np.isfinite(rho):
        assert float(spearman_xp(np, a, y)) == pytest.approx(rho, abs=1e-12)
    levels = np.linspace(0, 1, 11)
    np.testing.assert_allclose(quantiles_xp(np, a, levels), np.quantile(a, levels), rtol=1e-12)


def test_token_statistics_on_the_backend(xp):
    tables = tokens.quantile_tokens()
    levels = np.asarray(tokens.QUANTILE_LEVELS, dtype=np.float64)
    rng = np.random.default_rng(0)
    (cp, co), (vp, vo) = tables["code"].sample(rng, 20_000), tables["conv"].sample(rng, 20_000)
    assert float(host(ks_distance_xp(xp, *on(xp, (cp, vp))))) == pytest.approx(stats.ks_2samp(cp, vp).statistic,
                                                                                abs=1e-12)
    assert float(host(spearman_xp(xp, *on(xp, (cp, co))))) == pytest.approx(stats.spearmanr(cp, co).statistic,
                                                                             abs=1e-12)
    values = np.quantile(cp, levels)
    expected = tokens.ks_to_quantile_table(co, levels, values)
    got = ks_to_quantile_table_xp(xp, *on(xp, (co, levels, values)))
    assert float(host(got)) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(host(quantiles_xp(xp, xp.asarray(vo), levels)), np.quantile(vo, levels), rtol=1e-12)
    assert math.isfinite(float(host(ks_distance_xp(xp, *on(xp, (co, vo))))))


# ---------------------------------------------------------------------------------------- benchmark
def test_bench_reports_the_xp_rollout_beside_the_numba_kernel():
    from repro.bench.pg import xp_rollout_entry
    entry = xp_rollout_entry(np, quick=True)
    assert entry["backend"] == "numpy" and entry["xp_rate"] > 0 and entry["numba_rate"] > 0
    assert entry["xp_over_numba"] > 0


def test_bench_with_cupy_and_no_gpu_stops_with_the_backend_error(capsys):
    from repro.bench.__main__ import main
    if backend.gpu_available():
        pytest.skip("a GPU is present")
    assert main(["pg", "--backend", "cupy"]) == 2
    assert "CuPy or a CUDA device is not available" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", "--backend", "numpy"])


def test_rollouts_run_on_the_namespace_repro_backend_names(monkeypatch):
    monkeypatch.delenv("REPRO_BACKEND", raising=False)
    batch = rollouts_xp(make_env("pendulum"), Policy("gaussian", 0.5), np.zeros(4), 16, seed=1, n_steps=10)
    assert isinstance(batch.rew, np.ndarray) and batch.length.tolist() == [10] * 16
    assert np.all(np.isfinite(batch.returns)) and not batch.terminated.any()
