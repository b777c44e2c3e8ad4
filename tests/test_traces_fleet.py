"""repro.fleet: the per-VM telemetry kernel equals its NumPy twin; survey quotas, Zipf counts, calibration, and the
chunked reduction gives the same numbers serially, in other chunk sizes and on a Dask client."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import fleet
from repro.fleet import stats as S
from repro.fleet import survey as V
from repro.fleet import telemetry as T

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def chunks(draw):
    rows = draw(st.integers(1, 6))
    per_day = draw(st.sampled_from([4, 8, 24]))
    width = per_day * draw(st.integers(1, 4)) + draw(st.integers(0, per_day - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    cpu = rng.random((rows, width)).astype(np.float32)
    cpu[rng.random(rows) < 0.2] = 0.5  # some flat rows
    lengths = rng.integers(1, width + 1, rows)
    return cpu, lengths, per_day


@SETTINGS
@given(chunks())
def test_vm_cpu_stats_equals_the_reference(case):
    cpu, lengths, per_day = case
    fast = S.vm_cpu_stats(cpu, lengths, per_day)
    slow = S.vm_cpu_stats_reference(cpu, lengths, per_day)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


@SETTINGS
@given(chunks())
def test_vm_cpu_stats_invariants(case):
    cpu, lengths, per_day = case
    mean, p95, diurnal = S.vm_cpu_stats(cpu, lengths, per_day)
    for i, n in enumerate(lengths):
        x = cpu[i, :n]
        assert x.min() - 1e-6 <= mean[i] <= x.max() + 1e-6 and x.min() <= p95[i] <= x.max()
        assert np.isnan(diurnal[i]) == (n < per_day or np.ptp(x[: n // per_day * per_day]) == 0)
    finite = diurnal[np.isfinite(diurnal)]
    assert np.all((finite >= -1e-12) & (finite <= 1 + 1e-9))


def test_a_pure_daily_sine_has_diurnal_strength_one_and_noise_little():
    t = np.arange(3 * S.SAMPLES_PER_DAY + 17)
    sine = (0.5 + 0.3 * np.sin(2 * np.pi * t / S.SAMPLES_PER_DAY + 1.0)).astype(np.float32)
    noise = np.random.default_rng(0).random(len(t)).astype(np.float32)
    _, _, diurnal = S.vm_cpu_stats(np.stack([sine, noise]), np.array([len(t), len(t)]), S.SAMPLES_PER_DAY)
    assert diurnal[0] == pytest.approx(1.0, abs=1e-5)
    assert diurnal[1] < 0.02


def test_quota_answers_hit_the_shares_and_the_copula_correlates():
    latent = np.random.default_rng(1).standard_normal((1000, 3))
    answers = V.quota_answers(latent, np.array([0.629, 0.25, 0.5]))
    assert answers.sum(axis=0).tolist() == [629, 250, 500]
    corr = V.copula_correlation(0.3)
    assert np.all(np.linalg.eigvalsh(corr) > 0) and np.allclose(corr, corr.T)
    table = V.draw_survey(2000, 20000, 49, 0.8, 0.6, seed=3)
    group = table[list(V.COPULA_GROUP)].astype(float)
    assert group.corr().to_numpy()[np.triu_indices(3, 1)].min() > 0.1


@pytest.mark.parametrize("n, total, exponent", [(188, 100000, 0.8), (5, 5, 1.0), (10, 1234, 2.0)])
def test_zipf_counts_sum_to_the_total_and_fall_with_rank(n, total, exponent):
    counts = V.zipf_counts(n, total, exponent)
    assert counts.sum() == total and counts.min() >= 1 and np.all(np.diff(counts) <= 1)


def test_zipf_counts_need_one_vm_per_workload():
    with pytest.raises(ValueError, match="n_vms=3"):
        V.zipf_counts(5, 3, 1.0)


def test_survey_has_the_published_shares_and_sizes():
    spec = fleet.FleetSpec(188, 5000, 49, 1, 0.8, 0.3, 0)
    workloads = fleet.workloads_of(spec)
    shares = fleet.answer_shares(workloads).set_index("question")
    for q, p in fleet.SURVEY_SHARES.items():
        assert shares.loc[q, "sampled"] == round(p * 188) / 188
    assert workloads["vms"].sum() == 5000 and workloads["regions"].max() == 49


@pytest.fixture(scope="module")
def small_spec():
    return fleet.calibrate(fleet.FleetSpec(60, 3000, 49, 4, 0.8, 0.3, 0), pilot_vms=800)


def test_calibration_hits_the_resource_central_facts(small_spec):
    table = fleet.reduce_fleet(small_spec, 1000)
    fit = fleet.fit_report(table).set_index("fact")
    assert abs(fit.loc["long_core_hour_share", "error"]) < 1e-3
    assert abs(fit.loc["avg_cpu_below_0.2", "error"]) < 0.04
    assert abs(fit.loc["p95_cpu_below_0.5", "error"]) < 0.04
    assert table["observed"].max() == small_spec.steps and table["observed"].min() >= 1


def test_cpu_series_is_a_float32_utilisation(small_spec):
    vms = fleet.vm_table(small_spec).iloc[:50]
    cpu = fleet.cpu_series(vms, T.ar1_noise(vms["vm"].to_numpy(), small_spec.steps, small_spec.seed))
    assert cpu.dtype == np.float32 and cpu.shape == (50, small_spec.steps)
    assert cpu.min() >= 0 and cpu.max() <= 1


def test_a_vms_series_does_not_depend_on_its_chunk(small_spec):
    a = fleet.reduce_fleet(small_spec, 1000)
    b = fleet.reduce_fleet(small_spec, 377)
    for column in ("mean_cpu", "p95_cpu", "diurnal"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy())


def test_dask_reduction_equals_the_serial_one(small_spec):
    distributed = pytest.importorskip("distributed")
    spec = dataclasses.replace(small_spec, n_vms=800)
    serial = fleet.reduce_fleet(spec, 300)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        parallel = fleet.reduce_fleet(spec, 300, client=client)
    for column in ("mean_cpu", "p95_cpu", "diurnal"):
        np.testing.assert_array_equal(serial[column].to_numpy(), parallel[column].to_numpy())


def test_chunk_stats_refuses_another_seed(small_spec):
    with pytest.raises(ValueError, match="seed 5"):
        T.chunk_stats(0, 10, 5, small_spec)


def test_calibration_says_which_constant_cannot_meet_its_target():
    with pytest.raises(ValueError, match="no burst_sigma in"):
        T._root(lambda s: 0.1, (0.01, 20.0), 1e-4, "burst_sigma")
    assert T._root(lambda s: s - 2.0, (0.01, 20.0), 1e-9, "burst_sigma") == pytest.approx(2.0)
