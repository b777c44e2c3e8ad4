"""Trace layout (repro.core.trace): defaults, dtypes, validation errors that name the field, slicing."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from repro.core.trace import WORKLOAD_NONINTERACTIVE, Trace, concatenate


def small(n=4, **kw):
    return Trace.from_columns(np.arange(n, dtype=float), np.full(n, 5), np.full(n, 2), **kw)


def test_from_columns_fills_defaults_with_compact_dtypes():
    t = small(3, n_regions=3)
    assert len(t) == 3
    expect = {"arrival": np.float64, "prompt_tokens": np.int32, "output_tokens": np.int32, "model": np.int16,
              "tenant": np.int32, "app": np.int32, "interaction": np.int64, "step": np.int16, "workload": np.int8,
              "sla": np.float32, "region_priority": np.int8}
    for name, dtype in expect.items():
        assert getattr(t, name).dtype == dtype, name
    assert t.interaction.tolist() == [-1, -1, -1] and np.isinf(t.sla).all()
    assert t.region_priority.tolist() == [[0, 1, 2]] * 3
    assert small(2).region_priority.shape == (2, 1)
    # 10 M requests with 3 regions stay well under 2 GB
    assert t.nbytes / len(t) * 10_000_000 < 0.5e9


def test_from_columns_takes_optional_columns_and_rejects_unknown():
    t = small(2, model=[1, 3], workload=[0, WORKLOAD_NONINTERACTIVE], sla=[10.0, np.inf],
              region_priority=[[1, 0], [0, 1]])
    assert t.model.tolist() == [1, 3] and t.n_regions == 2
    with pytest.raises(ValueError, match="unknown column"):
        small(2, colour=[1, 2])
    with pytest.raises(ValueError, match="Trace.prompt_tokens: expected integer"):
        Trace.from_columns([0.0], [1.5], [1])
    with pytest.raises(ValueError, match="Trace.model: values outside"):
        small(1, model=[40000])


@pytest.mark.parametrize("field, value, message", [
    ("arrival", np.array([0.0, 2.0, 1.0, 3.0]), "non-decreasing"),
    ("arrival", np.array([-1.0, 0, 1, 2]), ">= 0"),
    ("prompt_tokens", np.array([5, 0, 5, 5], np.int32), ">= 1"),
    ("output_tokens", np.array([5, 5, 5, 5], np.int64), "dtype int32"),
    ("workload", np.array([0, 2, 0, 0], np.int8), "WORKLOAD_INTERACTIVE"),
    ("sla", np.array([1, 0, 1, 1], np.float32), "positive"),
    ("step", np.array([0, 0], np.int16), "shape"),
    ("region_priority", np.array([[0, 0], [0, 1], [1, 0], [0, 1]], np.int8), "permutation"),
    ("region_priority", np.array([[0, 2], [0, 1], [1, 0], [0, 1]], np.int8), "region indices"),
])
def test_validate_names_the_offending_field(field, value, message):
    t = dataclasses.replace(small(4, n_regions=2), **{field: value})
    with pytest.raises(ValueError, match=f"Trace.{field}: .*{message}"):
        t.validate()


def test_slice_and_take_and_concatenate():
    t = small(6, n_regions=3)
    s = t.slice(2, 5)
    assert len(s) == 3 and s.arrival.tolist() == [2.0, 3.0, 4.0] and s.region_priority.shape == (3, 3)
    assert np.shares_memory(s.arrival, t.arrival)
    s.validate()
    c = concatenate([t.slice(3, 6), t.slice(0, 3)])
    assert c.arrival.tolist() == t.arrival.tolist()
    assert len(t.take(np.array([0, 5]))) == 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=0, max_size=50), st.integers(1, 5))
def test_sorted_arrivals_always_validate(arrivals, n_regions):
    arr = np.sort(np.array(arrivals, dtype=float))
    n = arr.size
    rng = np.random.default_rng(n)
    rp = np.argsort(rng.random((n, n_regions)), axis=1)
    t = Trace.from_columns(arr, np.ones(n), np.ones(n), region_priority=rp)
    t.validate()
    assert len(t) == n and t.n_regions == n_regions
