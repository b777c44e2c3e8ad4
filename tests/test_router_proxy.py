"""repro.router.proxy: the merged Azure 2023 trace is time-ordered and complete, the forest is scored on requests it
never saw and is reproducible, and an episode window is a contiguous piece of the pool at the asked mean rate with
the pool's burstiness; bad windows are named."""
import numpy as np
import pandas as pd
import pytest

from repro import data
from repro.router import proxy
from repro.router.service import ServiceModel, bucket_of

pytestmark = pytest.mark.skipif(not data.available(proxy.DATASET), reason="azure-llm-2023 not available")


@pytest.fixture(scope="module")
def prepared():
    return proxy.prepare(seed=0)


def test_trace_merges_both_applications_in_time_order(prepared):
    trace = prepared.trace
    assert np.all(np.diff(trace["arrival"]) >= 0)
    counts = trace["application"].value_counts()
    assert counts[proxy.APPLICATIONS.index("conv")] == 19366 and counts[proxy.APPLICATIONS.index("code")] == 8819
    assert (trace[["prompt", "decode"]] >= 1).all().all()


def test_forest_is_scored_on_the_held_out_half_only(prepared):
    train, pool = proxy.split_halves(prepared.trace)
    assert train["arrival"].max() < pool["arrival"].min()
    assert len(train) + len(pool) == len(prepared.trace)
    p = prepared.predictor
    assert len(p.correct) == len(pool) == p.confusion.sum()
    assert p.accuracy == pytest.approx(np.trace(p.confusion) / p.confusion.sum())
    np.testing.assert_array_equal(p.confusion.sum(axis=1), np.bincount(bucket_of(pool["decode"]), minlength=3))
    again = proxy.fit_predictor(train, pool, seed=0)
    np.testing.assert_array_equal(again.confusion, p.confusion)


def test_a_forest_that_can_only_guess_scores_the_majority_share():
    gen = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame({"arrival": np.arange(n, dtype=float), "application": gen.integers(0, 2, n),
                          "prompt": gen.integers(1, 500, n), "decode": np.where(gen.random(n) < 0.8, 10, 500)})
    p = proxy.fit_predictor(frame.iloc[:n // 2], frame.iloc[n // 2:], seed=1)
    assert p.accuracy == pytest.approx(p.majority_accuracy, abs=0.03)     # features carry no information


def test_window_is_contiguous_at_the_asked_rate_with_the_pool_burstiness(prepared):
    service = ServiceModel(kv_capacity=430_000)
    w = proxy.window_workload(prepared.pool, prepared.predictor, 500, 80.0, service, np.random.default_rng(3))
    assert w.arrival.size == 500 and np.all(np.diff(w.arrival) >= 0)
    assert 500 / w.arrival[-1] == pytest.approx(80.0)
    pool = prepared.pool
    prompts = pool["prompt"].to_numpy()
    starts = [s for s in np.flatnonzero(prompts == w.prompt[0]) if np.array_equal(prompts[s:s + 500], w.prompt)]
    assert len(starts) == 1                                    # the window is one contiguous piece of the pool
    window = pool.iloc[starts[0]:starts[0] + 500]
    np.testing.assert_array_equal(window["prompt"], w.prompt)
    gaps = np.diff(window["arrival"].to_numpy())
    np.testing.assert_allclose(np.diff(w.arrival), gaps * (np.diff(w.arrival).sum() / gaps.sum()), rtol=1e-9)
    np.testing.assert_array_equal(w.bucket, prepared.predictor.predict(window))


def test_bad_windows_are_named(prepared):
    service = ServiceModel(kv_capacity=430_000)
    with pytest.raises(ValueError, match="n=1"):
        proxy.window_workload(prepared.pool, prepared.predictor, 1, 80.0, service, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rate"):
        proxy.window_workload(prepared.pool, prepared.predictor, 10, 0.0, service, np.random.default_rng(0))
    with pytest.raises(ValueError, match="KV cache"):
        proxy.window_workload(prepared.pool, prepared.predictor, 2000, 80.0, ServiceModel(kv_capacity=1100),
                              np.random.default_rng(0))
