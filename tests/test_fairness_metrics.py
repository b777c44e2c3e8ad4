"""repro.fairness.metrics: service and backlog kernels equal their plain-Python twins; summaries on a replay."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import fairness
from repro.fairness import metrics as M
from repro.replay.state import FLAG_THROTTLED

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def request_times(draw):
    n = draw(st.integers(1, 40))
    n_users = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    tenant = rng.integers(0, n_users, n).astype(np.int32)
    arrival = rng.uniform(0, 100, n)
    admit = arrival + rng.exponential(20, n)
    first = admit + rng.exponential(1, n)
    finish = first + rng.exponential(15, n) * (rng.random(n) < 0.9)   # some finish at their first token
    admit[rng.random(n) < 0.15] = np.nan                                # never admitted
    finish[np.isnan(admit)] = np.nan
    first[np.isnan(admit)] = np.nan
    output = rng.integers(1, 50, n).astype(np.int32)
    c_p = rng.uniform(0, 100, n)
    c_d = rng.uniform(0, 3, n)
    bin_s = draw(st.sampled_from([1.0, 7.5, 10.0, 60.0]))
    n_bins = draw(st.integers(1, 20))
    return tenant, arrival, admit, first, finish, output, c_p, c_d, bin_s, n_users, n_bins


@SETTINGS
@given(request_times())
def test_service_bins_equal_the_reference(case):
    tenant, arrival, admit, first, finish, output, c_p, c_d, bin_s, n_users, n_bins = case
    fast = M.service_bins(tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, n_bins)
    slow = M.service_bins_reference(tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, n_bins)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-9)


@SETTINGS
@given(request_times())
def test_service_bins_conserve_the_charges(case):
    tenant, arrival, admit, first, finish, output, c_p, c_d, bin_s, n_users, n_bins = case
    out = M.service_bins(tenant, output, admit, first, finish, c_p, c_d, 1e6, n_users, 1)   # one bin holds all
    admitted, done = np.isfinite(admit), np.isfinite(finish)
    assert out.sum() == pytest.approx(c_p[admitted].sum() + (c_d * output)[done].sum(), rel=1e-12)
    assert np.all(out >= 0)


@SETTINGS
@given(request_times())
def test_backlog_bins_equal_the_reference(case):
    tenant, arrival, admit, first, finish, output, c_p, c_d, bin_s, n_users, n_bins = case
    fast = M.backlog_bins(tenant, arrival, admit, bin_s, n_users, n_bins)
    slow = M.backlog_bins_reference(tenant, arrival, admit, bin_s, n_users, n_bins)
    assert np.array_equal(fast, slow)


def test_backlog_needs_the_whole_bin_covered():
    tenant = np.array([0, 0, 1], np.int32)
    arrival = np.array([0.0, 10.0, 5.0])
    wait_end = np.array([10.0, 25.0, 19.0])   # tenant 0 waits [0, 25) with a touching join; tenant 1 [5, 19)
    out = M.backlog_bins(tenant, arrival, wait_end, 10.0, 2, 3)
    assert out.tolist() == [[True, True, False], [False, False, False]]


def test_jain_index():
    assert M.jain_index([1, 1, 1]) == 1.0
    assert M.jain_index([1, 0, 0, 0]) == pytest.approx(0.25)
    assert M.jain_index([0, 0]) == 1.0


def test_bin_fairness_uses_only_backlogged_tenants():
    service = np.array([[5.0, 1.0, 7.0], [1.0, 9.0, 0.0], [3.0, 0.0, 0.0]])
    backlogged = np.array([[True, True, True], [True, False, False], [False, True, False]])
    bins, gaps, jain = M.bin_fairness(service, backlogged)
    assert bins.tolist() == [0, 1] and gaps.tolist() == [4.0, 1.0]
    assert jain[0] == pytest.approx(36 / (2 * 26))
    s = M.gap_summary(gaps, jain, 3)   # bin 2 has one backlogged tenant: gap 0
    assert s["gap_max"] == 4.0 and s["gap_mean"] == pytest.approx(5 / 3) and s["bins"] == 2
    assert M.gap_summary(gaps[:0], jain[:0], 3)["gap_max"] == 0.0


def test_app_class_stats_split_by_app(replayed):
    w, _, reps = replayed
    res = reps["rpm"].result
    multi = w.apps.calls_per_interaction > 1
    a, b = (M.app_class_stats(w.trace, res, w.users.abusive, cls) for cls in (multi, ~multi))
    it = M.interactions(w.trace, res)
    normal = it["present"] & ~w.users.abusive[np.maximum(it["tenant"], 0)]
    assert a["interactions"] + b["interactions"] == normal.sum()
    assert b["interactions"] == 0 or b["aborted"] == 0.0   # a single-call interaction cannot abort mid-way


@pytest.fixture(scope="module")
def replayed():
    lat = fairness.server(20_000)
    w = fairness.make_workload(12, 3, 120.0, load_peak=2.0, abusive_share=0.2, latency=lat, max_batch=8,
                               calibration_requests=300, seed=4)
    return w, lat, {name: fairness.replay(w, name, latency=lat, max_batch=8, rpm=2) for name in fairness.SCHEDULERS}


def test_throttling_shares_are_consistent(replayed):
    w, _, reps = replayed
    res = reps["rpm"].result
    s = M.throttling(w.trace, res, w.users.abusive)
    thr = (res.flags & FLAG_THROTTLED) != 0
    ab = w.users.abusive[w.trace.tenant]
    assert s["throttled_share_abusive"] == pytest.approx(thr[ab].mean())
    assert s["throttled_share_normal"] == pytest.approx(thr[~ab].mean())
    assert 0 <= s["aborted_share"] <= 1 and 0 <= s["abuser_admitted_token_share"] <= 1
    assert M.throttling(w.trace, reps["fcfs"].result, w.users.abusive)["aborted_share"] == 0.0


def test_interactions_and_latency(replayed):
    w, _, reps = replayed
    res = reps["fcfs"].result
    it = M.interactions(w.trace, res)
    assert it["completed"][it["present"]].all()            # nothing throttled under FCFS
    normal, abusive = M.interaction_latency(w.trace, res, w.users.abusive)
    assert normal.size + abusive.size == it["present"].sum()
    assert np.all(normal > 0) and np.all(abusive > 0)


def test_summarise_reports_every_number(replayed):
    w, _, reps = replayed
    prm = fairness.workload_params(w)
    units = {"wsc": M.wsc_charges(w.trace, prm["app_weight"], prm["app_system_tokens"]),
             "vtc": M.vtc_charges(w.trace)}
    s = M.summarise(w.trace, reps["vtc"].result, w.users.abusive, units, bin_s=10.0, horizon=w.duration_s,
                    keep_users=[0, 1])
    for key in ("wsc_gap_max", "wsc_gap_p99", "vtc_jain_mean", "latency_normal_p95", "throttled_from_normal",
                "throughput_tokens_per_s"):
        assert key in s
    assert s["cumulative"].shape == (2, 12)
    assert np.all(np.diff(s["cumulative"], axis=1) >= 0)


# ---------------------------------------------------------------------------------------- VTC's pairwise metric
@st.composite
def intervals(draw):
    n = draw(st.integers(0, 25))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    tenant = rng.integers(0, draw(st.integers(1, 5)), n).astype(np.int64)
    start = np.round(rng.uniform(0, 50, n), 1)                          # rounded: touching and equal ends occur
    end = start + np.round(rng.exponential(8, n), 1) * (rng.random(n) < 0.9)   # some empty
    return tenant, start, end


def same_rows(a, b):
    order_a, order_b = np.lexsort(a[::-1]), np.lexsort(b[::-1])
    return all(np.array_equal(x[order_a], y[order_b]) for x, y in zip(a, b))


@SETTINGS
@given(intervals())
def test_merge_intervals_equals_the_reference_and_keeps_the_union(case):
    tenant, start, end = case
    merged = M.merge_intervals(tenant, start, end)
    assert same_rows(merged, M.merge_intervals_reference(tenant, start, end))
    t, s, e = merged
    assert np.all(e > s)
    same = t[1:] == t[:-1]
    assert np.all(s[1:][same] > e[:-1][same])                             # disjoint, not touching
    for x in np.linspace(0, 80, 161):                                     # the union is unchanged
        inside = {int(u) for u, a, z in zip(tenant, start, end) if a <= x < z}
        assert inside == {int(u) for u, a, z in zip(t, s, e) if a <= x < z}


@SETTINGS
@given(intervals(), intervals())
def test_intersect_intervals_equals_the_reference(case_a, case_b):
    a, b = M.merge_intervals(*case_a), M.merge_intervals(*case_b)
    both = M.intersect_intervals(*a, *b)
    assert same_rows(both, M.intersect_intervals_reference(*a, *b))
    assert same_rows(M.intersect_intervals(*a, *a), a)                     # idempotent


@SETTINGS
@given(intervals())
def test_overlapping_pairs_equal_the_reference(case):
    merged = M.merge_intervals(*case)
    f, g, lo, hi = M.overlapping_pairs(*merged)
    assert same_rows((f, g, lo, hi), M.overlapping_pairs_reference(*merged))
    assert np.all(f < g) and np.all(hi > lo)


@SETTINGS
@given(request_times())
def test_service_curves_equal_the_reference_and_the_bins(case):
    tenant, arrival, admit, first, finish, output, c_p, c_d, bin_s, n_users, n_bins = case
    tenant = tenant.astype(np.int64)
    curves = M.service_curves(tenant, output.astype(np.float64), admit, first, finish, c_p, c_d, n_users)
    users = np.repeat(np.arange(n_users), 30)
    t = np.tile(np.linspace(0, 300, 30), n_users)
    fast = M.service_at(*curves, users, t)
    slow = M.service_at_reference(tenant, output, admit, first, finish, c_p, c_d, users, t)
    assert np.allclose(fast, slow, rtol=1e-9, atol=1e-6)
    assert np.all(np.diff(fast.reshape(n_users, 30), axis=1) >= -1e-6)    # cumulative service never decreases
    bins = M.service_bins(tenant, output, admit, first, finish, c_p, c_d, bin_s, n_users, n_bins)
    ends = np.arange(1, n_bins + 1) * bin_s                               # S_u(bin end) = sum of the bins before
    at_ends = M.service_at(*curves, np.repeat(np.arange(n_users), n_bins), np.tile(ends, n_users))
    assert np.allclose(at_ends.reshape(n_users, n_bins), np.cumsum(bins, axis=1), rtol=1e-9, atol=1e-6)


def test_pair_difference_is_the_service_gap_over_the_common_backlog():
    # tenant 0 backlogged [0, 10), tenant 1 [5, 20): common [5, 10); tenant 0 gets 4 units/s there, tenant 1 none
    tenant = np.array([0, 1], np.int64)
    curves = M.service_curves(tenant, np.array([40.0, 10.0]), np.array([5.0, 30.0]), np.array([5.0, 30.0]),
                              np.array([15.0, 40.0]), np.array([0.0, 7.0]), np.array([1.0, 1.0]), 2)
    backlog = M.merge_intervals(tenant, np.array([0.0, 5.0]), np.array([10.0, 20.0]))
    pairs = M.overlapping_pairs(*backlog)
    assert [x.tolist() for x in pairs] == [[0], [1], [5.0], [10.0]]
    assert M.pair_differences(pairs, curves).tolist() == pytest.approx([20.0])


def test_time_with_backlog_counts_time_with_enough_open_intervals():
    start, end = np.array([0.0, 5.0, 8.0]), np.array([10.0, 20.0, 9.0])   # >= 2 open on [5, 10)
    assert M.time_with_backlog(start, end, 2, [0.0, 6.0, 30.0]).tolist() == pytest.approx([1.0, 4.0])
    assert M.time_with_backlog(start, end, 3, [0.0, 30.0]).tolist() == pytest.approx([1.0])
    assert M.time_with_backlog(start, end, 1, [-5.0, 0.0, 25.0]).tolist() == pytest.approx([0.0, 20.0])
    assert M.time_with_backlog(np.array([]), np.array([]), 2, [0.0, 1.0]).tolist() == [0.0]


def test_timed_out_requests_wait_until_their_timeout():
    from types import SimpleNamespace

    from repro.replay.state import FLAG_TIMED_OUT
    result = SimpleNamespace(admit=np.array([3.0, np.nan, np.nan, np.nan]), arrival=np.array([1.0, 2.0, 4.0, 5.0]),
                             flags=np.array([0, FLAG_TIMED_OUT, FLAG_THROTTLED, 0]), t_end=100.0)
    assert M.waiting_until(result, 30.0).tolist()[:2] == [3.0, 32.0]
    assert np.isnan(M.waiting_until(result, 30.0)[2]) and M.waiting_until(result, 30.0)[3] == 100.0
