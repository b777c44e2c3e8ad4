"""The hourly scaling ILP (brief 01 §2) against brute-force enumeration, and its failure statuses."""
import itertools
import math

import mip
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.plan import (STATUS_INFEASIBLE, STATUS_OPTIMAL, STATUS_TIMEOUT, ilp_demand, plan_objective,
                        solve_scaling_ilp)


def brute_force(current, demand, tps, gpu_cost, startup_cost, max_instances=None):
    """Reference: enumerate every new allocation n_ijk in 0..max(c_ijk, ceil(D_ij / TPS_ik)) (an optimum never
    holds more instances of a type than it needs alone, since every instance costs g_k > 0). Demand counts as met
    within 1e-6 tokens, CBC's feasibility tolerance."""
    c = np.asarray(current)
    n_i, n_j, n_k = c.shape
    ranges = [range(0, max(int(c[i, j, k]), math.ceil(demand[i, j] / tps[i, k])) + 1)
              for i in range(n_i) for j in range(n_j) for k in range(n_k)]
    best = math.inf
    for combo in itertools.product(*ranges):
        n = np.array(combo).reshape(c.shape)
        if np.any((n * tps[:, None, :]).sum(axis=2) < demand - 1e-6):
            continue
        if max_instances is not None and np.any(n.sum(axis=0) > max_instances):
            continue
        best = min(best, plan_objective(n - c, gpu_cost, startup_cost))
    return best


@st.composite
def small_problems(draw):
    n_i, n_j, n_k = draw(st.sampled_from([(1, 1, 2), (2, 1, 2), (2, 2, 1), (1, 2, 2), (3, 1, 1)]))
    c = np.array(draw(st.lists(st.integers(0, 3), min_size=n_i * n_j * n_k, max_size=n_i * n_j * n_k))
                 ).reshape(n_i, n_j, n_k)
    tps = np.array(draw(st.lists(st.sampled_from([50.0, 80.0, 100.0, 130.0]), min_size=n_i * n_k,
                                 max_size=n_i * n_k))).reshape(n_i, n_k)
    demand = np.array(draw(st.lists(st.floats(0, 320), min_size=n_i * n_j, max_size=n_i * n_j))).reshape(n_i, n_j)
    g = np.array(draw(st.lists(st.sampled_from([1.0, 7.0, 10.0]), min_size=n_k, max_size=n_k)))
    s = np.array(draw(st.lists(st.sampled_from([0.0, 15.0, 150.0]), min_size=n_i * n_k, max_size=n_i * n_k))
                 ).reshape(n_i, n_k)
    cap = draw(st.one_of(st.none(), st.integers(1, 9)))
    return c, demand, tps, g, s, cap


@settings(max_examples=40, deadline=None)
@given(small_problems())
def test_ilp_matches_brute_force(problem):
    c, demand, tps, g, s, cap = problem
    best = brute_force(c, demand, tps, g, s, cap)
    plan = solve_scaling_ilp(c, demand, tps, g, s, max_instances=cap, time_limit=30, seed=0)
    if math.isinf(best):
        assert plan.status == STATUS_INFEASIBLE
        assert not plan.delta.any()
        return
    assert plan.status == STATUS_OPTIMAL
    assert plan.objective == pytest.approx(best, abs=1e-6)
    n = c + plan.delta
    assert n.min() >= 0
    assert np.all((n * tps[:, None, :]).sum(axis=2) >= demand - 1e-6)
    if cap is not None:
        assert np.all(n.sum(axis=0) <= cap)


def test_brief_constants_scale_to_ceil_of_demand():
    # one GPU type: the optimum is exactly ceil(D / TPS) instances (C and D need one instance for any demand)
    from repro.plan import TPS_A100
    c = np.full((4, 3), 20)
    demand = np.array([[5e5, 3e5, 1e3], [2e5, 0.0, 5e4], [1e5] * 3, [1.0, 2.0, 3.0]])
    plan = solve_scaling_ilp(c, demand)
    want = np.ceil(demand / np.array(TPS_A100)[:, None]).astype(int)
    assert plan.ok
    np.testing.assert_array_equal((c + plan.delta[..., 0]), want)
    assert plan.scale_up.sum() == 0 and plan.scale_down.sum() == (c - want).sum()


def test_infeasible_fleet_returns_status_and_zero_delta():
    plan = solve_scaling_ilp(np.full((2, 1), 1), np.array([[1e7], [1e7]]), tps=[1e6, 1e6], max_instances=3)
    assert plan.status == STATUS_INFEASIBLE and plan.reason == "INFEASIBLE"
    assert not plan.delta.any() and math.isnan(plan.objective) and not plan.ok


@pytest.mark.parametrize("solver_status", [mip.OptimizationStatus.FEASIBLE, mip.OptimizationStatus.NO_SOLUTION_FOUND])
def test_timeout_keeps_current_allocation(monkeypatch, solver_status):
    monkeypatch.setattr(mip.Model, "optimize", lambda self, **kw: solver_status)
    plan = solve_scaling_ilp(np.full((2, 2), 4), np.full((2, 2), 1e6), tps=[1e5, 1e5], time_limit=0.01)
    assert plan.status == STATUS_TIMEOUT and plan.reason == solver_status.name
    assert not plan.delta.any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(current=-np.ones((1, 1)), demand=np.ones((1, 1))), "current"),
    (dict(current=np.ones((1, 1)), demand=np.ones((2, 1))), "demand"),
    (dict(current=np.ones((1, 1)), demand=np.array([[np.nan]])), "demand"),
    (dict(current=np.ones((1, 1)), demand=np.ones((1, 1)), tps=[0.0]), "tps"),
    (dict(current=np.ones((1, 1)), demand=np.ones((1, 1)), tps=[1.0], time_limit=0), "time_limit"),
])
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve_scaling_ilp(**kwargs)


def test_ilp_demand_window_max_plus_niw():
    f = np.zeros((1, 2, 60))
    f[0, 0, 19] = 1e9          # before the window: ignored
    f[0, 0, 30] = 500.0
    f[0, 1, 59] = 70.0
    f[0, 1, 40] = -5.0
    d = ilp_demand(f, np.array([[1000.0, 0.0]]))
    np.testing.assert_allclose(d, [[600.0, 70.0]])
    with pytest.raises(ValueError, match="forecast_iw"):
        ilp_demand(np.zeros((1, 1, 30)), np.zeros((1, 1)))
