"""Decision rules of SageServe's arbiters (brief 01 §2 "Short-term arbiters", §3 Chiron) on hand-made states."""
import numpy as np
import pytest

from repro.autoscale import (Chiron, EndpointView, HourPlan, LongTermImmediate, LongTermQuota, Reactive,
                             threshold_steps)


def view(util, *, ready=None, n_active=4, n_waiting=0, n_busy=None, tokens=0.0, t=0.0):
    """A view whose endpoints have the given utilisations (any shape (M, R) or (M, R, P))."""
    u = np.asarray(util, np.float64)
    if u.ndim == 2:
        u = u[:, :, None]
    cap = np.full(u.shape, 1000.0)
    act = np.broadcast_to(np.asarray(n_active, np.int64), u.shape).copy()
    return EndpointView(
        t=t, n_active=act, n_spinning=np.zeros(u.shape, np.int64), kv_used=u * cap, kv_capacity=cap,
        n_busy=np.broadcast_to(np.asarray(act if n_busy is None else n_busy, np.int64), u.shape).copy(),
        n_waiting=np.broadcast_to(np.asarray(n_waiting, np.int64), u.shape).copy(),
        n_low=np.zeros(u.shape, np.int64),
        ready=np.ones(u.shape, bool) if ready is None else np.asarray(ready, bool),
        iw_tokens_last_minute=np.broadcast_to(np.asarray(tokens, np.float64), u.shape[:2]).copy())


def plan(delta, forecast=100.0, horizon=60, t0=0.0):
    d = np.asarray(delta, np.int64)
    return HourPlan(t0, d, np.full(d.shape + (horizon,), float(forecast)), "optimal")


@pytest.mark.parametrize("u, step", [(0.0, -1), (0.2499, -1), (0.25, 0), (0.4, 0), (0.5, 0), (0.5001, 1), (1.0, 1)])
def test_reactive_thresholds(u, step):
    assert Reactive().act(view([[u]]))[0, 0, 0] == step


def test_reactive_respects_cooldown_and_all_pools():
    v = view(np.array([[[0.9, 0.1]]]), ready=np.array([[[True, False]]]))
    np.testing.assert_array_equal(Reactive().act(v), [[[1, 0]]])
    np.testing.assert_array_equal(threshold_steps(np.array([0.6, 0.1]), np.array([True, True]), 0.5, 0.25), [1, -1])
    with pytest.raises(ValueError, match="down < up"):
        Reactive(up=0.2, down=0.3)


def test_lt_i_applies_the_whole_delta_and_counts_down():
    a = LongTermImmediate()
    assert not a.act(view([[0.3, 0.3]])).any()          # no plan yet: no scaling
    a.new_plan(plan([[3, -2]]))
    np.testing.assert_array_equal(a.act(view([[0.3, 0.3]]))[:, :, 0], [[3, -2]])
    a.applied(np.array([[[2], [-2]]]))                   # one scale-up failed (no spot)
    np.testing.assert_array_equal(a.act(view([[0.0, 0.99]]))[:, :, 0], [[1, 0]])
    np.testing.assert_array_equal(a.act(view([[0.0, 0.0]], ready=[[[False], [True]]]))[:, :, 0], [[0, 0]])


@pytest.mark.parametrize("quota, u, step", [
    (2, 0.51, 1), (2, 0.5, 0), (2, 0.2, 0),          # positive quota: only while u > 0.5
    (-1, 0.24, -1), (-1, 0.25, 0), (-1, 0.95, 0),    # negative quota: only while u < 0.25
    (0, 0.9, 0), (0, 0.91, 1), (0, 0.1, 0),          # quota used up: override above 0.9
])
def test_lt_u_quota_and_override(quota, u, step):
    a = LongTermQuota("util")
    a.new_plan(plan([[quota]]))
    assert a.act(view([[u]]))[0, 0, 0] == step


def test_lt_u_quota_bookkeeping_follows_the_code():
    a = LongTermQuota("util")
    a.new_plan(plan([[1]]))
    a.applied(np.array([[[1]]]))        # quota 1 -> 0
    assert a.act(view([[0.6]]))[0, 0, 0] == 0
    assert a.act(view([[0.95]]))[0, 0, 0] == 1
    a.applied(np.array([[[1]]]))        # override: quota 0 -> -1, a later u < 0.25 takes it back
    assert a.act(view([[0.2]]))[0, 0, 0] == -1
    a.new_plan(plan([[0]]))             # a new hour resets the quota
    assert a.act(view([[0.2]]))[0, 0, 0] == 0


@pytest.mark.parametrize("tokens, step", [(500.0, 1), (499.0, 0), (0.0, 0)])
def test_lt_ua_override_uses_forecast_ratio(tokens, step):
    a = LongTermQuota("forecast_ratio")
    a.new_plan(plan([[0]], forecast=100.0))
    assert a.act(view([[0.99]], tokens=tokens + 1e-9 if step else tokens))[0, 0, 0] == step


def test_lt_ua_reads_the_forecast_of_the_current_minute():
    fc = np.full((1, 1, 60), 100.0)
    fc[0, 0, 30] = 1000.0
    a = LongTermQuota("forecast_ratio")
    a.new_plan(HourPlan(3600.0, np.zeros((1, 1), np.int64), fc, "optimal"))
    assert a.act(view([[0.1]], tokens=600.0, t=3600.0 + 29 * 60))[0, 0, 0] == 1
    assert a.act(view([[0.1]], tokens=600.0, t=3600.0 + 30 * 60 + 5))[0, 0, 0] == 0
    with pytest.raises(ValueError, match="override"):
        LongTermQuota("queue")


def test_chiron_interactive_pool_ibp_rule():
    c = Chiron()
    u = np.zeros((1, 3, 2))
    busy = np.array([[[7, 0], [6, 0], [0, 0]]])
    steps = c.act(view(u, n_active=10, n_busy=busy, n_waiting=np.array([[[0, 1], [0, 1], [0, 1]]])))
    np.testing.assert_array_equal(steps[0, :, 0], [1, -1, -1])    # ibp 0.7 > 0.6 up; 0.6 and 0 down


def test_chiron_batch_pool_drain_time_rule():
    c = Chiron(prompt_time_s=10.0, decode_tps=100.0, tokens_per_request=100.0, deadline_s=86400.0)
    waiting = np.array([[[0, 0], [0, 8000], [0, 9000]]])
    steps = c.act(view(np.zeros((1, 3, 2)), n_active=1, n_waiting=waiting))
    # drain = w*10 + w*100/(100*1): 0 -> down, 8000*11 = 88000 > 86400 -> up, 9000 -> up
    np.testing.assert_array_equal(steps[0, :, 1], [-1, 1, 1])
    np.testing.assert_array_equal(c.drain_seconds(view(np.zeros((1, 1, 2)), n_active=0, n_waiting=3)), [[np.inf]])
    waiting = np.array([[[0, 7000]]])
    assert c.act(view(np.zeros((1, 1, 2)), n_active=1, n_waiting=waiting))[0, 0, 1] == 0   # 77000 s: hold
    with pytest.raises(ValueError, match="siloed"):
        c.act(view(np.zeros((1, 1))))
