"""Replay buffer (repro.learn.replay): capacity, newest items kept, samples from stored items, determinism."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.learn.replay import ReplayBuffer

FIELDS = {"obs": ((2,), np.float32), "action": ((), np.int64)}


def batch_of(ids):
    """Items whose content is their global insertion id, so stored items can be traced back."""
    ids = np.asarray(ids)
    return {"obs": np.stack([ids, -ids], axis=1).astype(np.float32), "action": ids.astype(np.int64)}


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 12), sizes=st.lists(st.integers(0, 20), min_size=1, max_size=8),
       n_sample=st.integers(1, 30), seed=st.integers(0, 2 ** 16))
def test_keeps_the_newest_items_within_capacity_and_samples_only_stored_ones(capacity, sizes, n_sample, seed):
    buffer, added = ReplayBuffer(capacity, FIELDS), 0
    for size in sizes:
        buffer.add(batch_of(np.arange(added, added + size)))
        added += size
        assert len(buffer) == min(added, capacity) <= capacity
    newest = np.arange(max(0, added - capacity), added)
    np.testing.assert_array_equal(buffer.items()["action"], newest)
    np.testing.assert_array_equal(buffer.items()["obs"], batch_of(newest)["obs"])
    if added == 0:
        with pytest.raises(ValueError, match="empty"):
            buffer.sample(rng(seed, "replay"), n_sample)
        return
    sample = buffer.sample(rng(seed, "replay"), n_sample)
    assert sample["action"].shape == (n_sample,) and sample["obs"].shape == (n_sample, 2)
    assert np.isin(sample["action"], newest).all()
    np.testing.assert_array_equal(sample["obs"], batch_of(sample["action"])["obs"])   # fields stay aligned


def test_sampling_is_deterministic_for_a_seed_and_covers_the_buffer():
    buffer = ReplayBuffer(50, FIELDS)
    buffer.add(batch_of(np.arange(80)))
    a = buffer.sample(rng(3, "replay"), 5000)["action"]
    b = buffer.sample(rng(3, "replay"), 5000)["action"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, buffer.sample(rng(4, "replay"), 5000)["action"])
    counts = np.bincount(a - 30, minlength=50)
    assert counts.min() > 50 and counts.max() < 150      # uniform: 100 expected per item


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, FIELDS)
    buffer = ReplayBuffer(4, FIELDS)
    with pytest.raises(ValueError, match="missing fields \\['action'\\]"):
        buffer.add({"obs": np.zeros((1, 2))})
    with pytest.raises(ValueError, match="'obs' has item shape"):
        buffer.add({"obs": np.zeros((1, 3)), "action": np.zeros(1)})
    with pytest.raises(ValueError, match="different batch sizes"):
        buffer.add({"obs": np.zeros((2, 2)), "action": np.zeros(1)})
