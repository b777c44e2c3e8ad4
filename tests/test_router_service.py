"""repro.router.service: the linear (V100-like) and table (A100 Llama-3.1-8B) service models -- the table read from
sageserve-perf equals the CSV's medians at its points, interpolates linearly between them, holds its first value
below and extends its last segment beyond; the kernel's table lookup equals the Python one (hypothesis); the
derived constants follow the stated formulas; bad models are rejected; the kernels equal the Python twin on the
A100 model with chunked prefill."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.reference import ReferenceCluster
from repro.router.service import (A100_TABLE_FILE, DEC_N, PRE_N, TABLE, ServiceModel, a100_llama31_8b,
                                  table_value)
from repro.router.workload import sample_workload

SMALL = ((10.0, 1.0), (20.0, 3.0), (40.0, 2.0))


@pytest.fixture
def a100(data_mirror):
    return a100_llama31_8b(), pd.read_csv(data_mirror / "sageserve-perf" / A100_TABLE_FILE)


def test_the_a100_tables_are_the_csv_medians(a100):
    service, raw = a100
    single = raw[raw["batch_size"] == 1]
    for prompt in (128, 1024, 8192):
        expected = single[single["prompt_size"] == prompt]["prompt_time"].median()
        assert service.prefill_time(prompt) == pytest.approx(expected, rel=1e-9)
    sweep = raw[(raw["prompt_size"] == 512) & (raw["token_size"] == 128)]
    for batch in (1, 8, 32):
        expected = (sweep[sweep["batch_size"] == batch]["token_time"] / 128).median()
        assert service.decode_time(0, batch) == pytest.approx(expected, rel=1e-9)
    assert service.kind == "table" and service.kv_capacity == 430_000 and service.max_batch == 128


def test_the_a100_model_interpolates_between_its_points(a100):
    service, _ = a100
    mid = service.prefill_time(3072)
    assert mid == pytest.approx((service.prefill_time(2048) + service.prefill_time(4096)) / 2)
    assert service.decode_time(0, 24) == pytest.approx((service.decode_time(0, 16) + service.decode_time(0, 32)) / 2)
    assert service.decode_time(0, 128) > service.decode_time(0, 32) > service.decode_time(0, 1)
    assert service.prefill_time(1) == service.prefill_time(128)
    slope = (service.prefill_time(8192) - service.prefill_time(4096)) / 4096
    assert service.prefill_time(16384) == pytest.approx(service.prefill_time(8192) + slope * 8192)


def test_the_a100_constants_follow_their_formulas(a100):
    service, raw = a100
    repeats = raw[raw["batch_size"] == 1].groupby(["prompt_size", "token_size"])["prompt_time"].median()
    single = repeats.groupby("prompt_size").median()                 # prompt 512 was profiled at 7 token sizes
    assert service.grad1 == pytest.approx(np.polyfit(single.index, single.to_numpy(), 1)[0], rel=1e-9)
    assert service.grad2 / service.grad1 == pytest.approx(3.3e-5 / 3.2e-4)
    assert 1e-10 < service.attention < 1e-7                          # 2 p2 of a positive quadratic prefill fit
    assert service.decode_intercept == service.decode_time(0, 1)
    assert a100_llama31_8b(kv_capacity=50_000).kv_capacity == 50_000


def test_table_value_holds_the_first_value_below_and_extends_the_last_segment():
    assert table_value([0.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0], SMALL).tolist() == [1.0, 1.0, 2.0, 3.0, 2.5, 2.0,
                                                                                      1.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 1e4), st.floats(1e-4, 10.0)), min_size=2, max_size=8,
                unique_by=lambda p: p[0]), st.floats(0.0, 2e4))
def test_the_kernel_table_lookup_equals_the_python_one(points, x):
    table = tuple(sorted(points))
    service = ServiceModel(kind="table", prefill_table=table, decode_table=table)
    svc = service.as_array()
    assert k.table_value(svc, TABLE, int(svc[PRE_N]), x) == float(table_value(x, table))
    start = TABLE + 2 * int(svc[PRE_N])
    assert k.table_value(svc, start, int(svc[DEC_N]), x) == float(service.decode_time(0.0, x))
    assert k.prefill_time(svc, x) == float(service.prefill_time(x))


def test_the_linear_model_keeps_its_array_columns():
    svc = ServiceModel().as_array()
    assert svc[:11].tolist() == [3.2e-4, 0.0325, 7.5e-7, 0.02, 128, 30_000, 0.02, 0.5, 3.3e-5, 0.5, 1000.0]
    assert svc.size == TABLE
    assert k.decode_time(svc, 3, 4000.0) == pytest.approx(0.0325 + 7.5e-7 * 4000)
    assert k.prefill_time(svc, 100) == pytest.approx(0.032)


def test_bad_service_models_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        ServiceModel(kind="quadratic")
    with pytest.raises(ValueError, match="prefill_table: the table kind needs"):
        ServiceModel(kind="table", decode_table=SMALL)
    with pytest.raises(ValueError, match="decode_table: expected"):
        ServiceModel(kind="table", prefill_table=SMALL, decode_table=((2.0, 1.0), (1.0, 1.0)))
    with pytest.raises(ValueError, match="attention"):
        ServiceModel(attention=-1.0)


@pytest.mark.parametrize("chunk_budget", [0, 1024])
def test_the_kernels_equal_the_twin_on_the_a100_model(a100, chunk_budget):
    service = a100_llama31_8b(kv_capacity=5_000, max_time=30.0)
    loads = [sample_workload(150, 80.0, service, rng(5, "test-router-a100"))]
    env = VectorRouterEnv(EnvConfig(m=2, service=service, chunk_budget=chunk_budget), 1)
    obs, _ = env.reset(loads)
    ref = ReferenceCluster(service, loads[0], 2, chunk_budget=chunk_budget)
    actions = rng(5, "test-router-a100-actions").integers(0, 3, size=1500)
    for a in actions:
        obs, _, _, _, info = env.step(np.array([a]))
        r_obs, r_aux, r_terms, r_done = ref.step(int(a))
        np.testing.assert_allclose(obs[0], r_obs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(info["terms"][0], r_terms, rtol=1e-9, atol=1e-9)
        if r_done:
            break
    np.testing.assert_allclose(env.req_f[0, :, k.T_DONE], [r.t_done for r in ref.requests])
    assert env.env_i[0, k.E_DONE] > 20 and env.req_i[0, :, k.NPRE].sum() > 0
