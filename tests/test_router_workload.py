"""repro.router.workload: the emulated predictor is right at the set accuracy and otherwise off by one bucket; the
synthetic mix respects its caps and task means; the heavy-decode calibration hits the paper's share where feasible."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.router.service import ServiceModel, bucket_of
from repro.router.workload import (
    HEAVY_DECODE_SHARE, MAX_DECODE, MAX_PROMPT, MEAN_PROMPT, calibration, predict_buckets, sample_workload,
)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_predictor_is_right_at_the_accuracy_and_otherwise_adjacent(accuracy, seed):
    true = rng(seed, "test-true").integers(0, 3, 4000)
    predicted = predict_buckets(true, accuracy, rng(seed, "test-pred"))
    assert np.all(np.abs(predicted - true) <= 1) and predicted.min() >= 0 and predicted.max() <= 2
    assert abs((predicted == true).mean() - accuracy) < 0.04


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3000), st.floats(0.5, 100.0), st.sampled_from([1100, 8000, 30000]), st.integers(0, 2**32 - 1))
def test_workload_respects_caps_and_is_sorted(n, rate, kv, seed):
    service = ServiceModel(kv_capacity=kv)
    w = sample_workload(n, rate, service, rng(seed, "test-workload"), accuracy=1.0)
    assert np.all(np.diff(w.arrival) >= 0) and w.arrival[0] > 0
    assert w.prompt.min() >= 1 and w.prompt.max() <= MAX_PROMPT
    assert w.decode.min() >= 1 and w.decode.max() <= MAX_DECODE
    assert np.all(w.prompt + w.decode + 1 <= kv)
    np.testing.assert_array_equal(w.bucket, bucket_of(w.decode))          # the oracle


def test_mix_means_and_calibrated_heavy_shares():
    service = ServiceModel()
    w = sample_workload(60_000, 20.0, service, rng(0, "test-mix"))
    for t, mean in enumerate(MEAN_PROMPT):
        assert abs(w.prompt[w.task == t].mean() - mean) < 0.06 * mean
    fit = calibration(service)
    feasible = np.isclose(fit["heavy_share"], HEAVY_DECODE_SHARE, atol=1e-6)
    assert feasible.sum() >= 3                                           # ELI5, SQuAD and WNUT are matched exactly
    assert np.all(np.array(fit["heavy_share"])[~feasible] < HEAVY_DECODE_SHARE[~feasible])
