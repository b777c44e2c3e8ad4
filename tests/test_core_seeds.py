"""repro.core.seeds: named streams are reproducible, independent and stable when new streams are added."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core import seeds


def test_the_same_name_gives_the_same_stream():
    assert seeds.rng(3, "hpg", "PMC", 2).random(4).tolist() == seeds.rng(3, "hpg", "PMC", 2).random(4).tolist()
    assert seeds.seed_int(0, "a") == seeds.seed_int(0, "a")


def test_replicates_of_neighbouring_seeds_never_share_a_stream():
    # the old `seed + i` scheme gave replicate 1 of seed 0 the stream of replicate 0 of seed 1
    run0 = set(seeds.seed_ints(0, 3, "fairserve").tolist())
    run1 = set(seeds.seed_ints(1, 3, "fairserve").tolist())
    assert not run0 & run1 and len(run0) == 3


def test_kernel_seeds_are_non_negative_int64():
    values = seeds.seed_ints(7, 100, "x")
    assert values.dtype == np.int64 and (values >= 0).all()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.one_of(st.integers(0, 10**6), st.text(max_size=8)), max_size=4))
def test_a_key_added_after_others_leaves_them_unchanged(seed, keys):
    before = seeds.seed_int(seed, *keys)
    seeds.seed_int(seed, *keys, "new")
    assert seeds.seed_int(seed, *keys) == before
    assert seeds.seed_int(seed, *keys, "new") != before


@pytest.mark.parametrize("seed, keys", [(-1, ()), (1.5, ()), (0, (-2,)), (0, (1.0,)), (True, ())])
def test_bad_seeds_and_keys_are_rejected(seed, keys):
    with pytest.raises((ValueError, TypeError)):
        seeds.seed_int(seed, *keys)
