"""FairServe multi-tenant generator: app population, users, interaction structure, determinism."""
import numpy as np
import pytest

from repro.traces import generate_multitenant_trace
from repro.traces.multitenant import CALLS_GROUPS, split_counts


@pytest.fixture(scope="module")
def workload():
    return generate_multitenant_trace(n_users=400, duration=1800.0, interactions_per_s=1.0, seed=5)


def test_app_population_follows_brief_02(workload):
    apps = workload.apps
    calls = apps.calls_per_interaction
    assert calls.size == 34
    assert np.sum(calls == 1) == 20
    assert np.sum((calls >= 2) & (calls <= 5)) == 10
    assert np.sum((calls >= 6) & (calls <= 12)) == 4
    assert apps.system_prompt_tokens.min() >= 50 and apps.system_prompt_tokens.max() <= 4000
    assert set(apps.token_pool) <= {"conv", "code"}
    assert np.all(apps.mean_tokens_per_interaction > 0)


def test_split_counts_scales_the_groups():
    assert split_counts(34, [g[0] for g in CALLS_GROUPS]).tolist() == [20, 10, 4]
    assert split_counts(10, [g[0] for g in CALLS_GROUPS]).tolist() == [6, 3, 1]
    assert split_counts(7, [1, 1, 1]).sum() == 7


def test_trace_fields_are_consistent_with_the_tables(workload):
    t, apps, users = workload.trace, workload.apps, workload.users
    t.validate()
    assert t.tenant.max() < users.home_app.size
    assert np.array_equal(t.app, users.home_app[t.tenant])
    assert np.all(t.prompt_tokens >= apps.system_prompt_tokens[t.app])
    # every interaction has exactly calls_per_interaction rows, steps 0..m-1, spaced by the think time
    order = np.lexsort((t.step, t.interaction))
    inter, step, arr = t.interaction[order], t.step[order], t.arrival[order]
    ids, first, counts = np.unique(inter, return_index=True, return_counts=True)
    assert np.array_equal(ids, np.arange(ids.size))
    assert np.array_equal(counts, apps.calls_per_interaction[t.app[order][first]])
    expected_step = np.arange(inter.size) - np.repeat(first, counts)
    assert np.array_equal(step, expected_step)
    gaps = np.diff(arr)[np.diff(inter) == 0]
    assert np.allclose(gaps, workload.think_time_s)
    # interaction ids follow start order
    starts = arr[first]
    assert np.all(np.diff(starts) >= 0)


def test_abusers_are_2_percent_and_send_20x(workload):
    users, t = workload.users, workload.trace
    assert users.abusive.sum() == 8
    first_calls = t.step == 0
    per_user = np.bincount(t.tenant[first_calls], minlength=users.abusive.size)
    expected = users.rate_per_s * workload.duration_s
    assert abs(per_user.sum() / expected.sum() - 1) < 0.05
    assert per_user[users.abusive].mean() > 5 * per_user[~users.abusive].mean()


def test_deterministic_per_seed_and_parameters_checked():
    a = generate_multitenant_trace(n_users=50, n_apps=10, duration=300.0, seed=2).trace
    b = generate_multitenant_trace(n_users=50, n_apps=10, duration=300.0, seed=2).trace
    assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.prompt_tokens, b.prompt_tokens)
    with pytest.raises(ValueError, match="abusive_share"):
        generate_multitenant_trace(n_users=5, abusive_share=1.5)
    with pytest.raises(ValueError, match="n_apps"):
        generate_multitenant_trace(n_apps=0)
