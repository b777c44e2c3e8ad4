"""repro.core.njit_structs: the intrusive doubly linked lists equal a Python list model after any sequence of
push_back / push_front / insert_before / unlink over several lists sharing one links array (hypothesis), walked forwards and
backwards, with the ends stored in rows of a table (as the replay engine and the fairness policy keep them); the
indexed heap pops in (key, item) order after any sequence of pushes, removals and key changes, for several heaps in
the rows of one table sharing one position array (as the engine's finish heaps do)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numba import njit

from repro.core.njit_structs import (
    heap_push, heap_remove, heap_sift, heap_storage, list_insert_before, list_push_back, list_push_front,
    list_unlink,
)

N_LISTS, N_ITEMS = 3, 12
HEAD, TAIL = 2, 0           # columns of the ends table (any two distinct ones)
NXT, PRV = 1, 3             # columns of the links table

ops = st.lists(st.tuples(st.sampled_from(["back", "front", "before", "unlink"]), st.integers(0, N_LISTS - 1),
                         st.integers(0, N_ITEMS - 1), st.integers(0, N_ITEMS)), max_size=80)


def walk(ends, links, forward):
    x = ends[HEAD] if forward else ends[TAIL]
    out = []
    while x >= 0:
        out.append(int(x))
        x = links[x, NXT] if forward else links[x, PRV]
        assert len(out) <= N_ITEMS
    return out


@settings(max_examples=200, deadline=None)
@given(ops, st.sampled_from([np.int64, np.int32]))
def test_lists_equal_a_python_list_model(sequence, link_dtype):
    ends = np.full((N_LISTS, 4), -1, np.int64)
    links = np.full((N_ITEMS, 4), -1, link_dtype)
    model = [[] for _ in range(N_LISTS)]
    owner = {}
    for op, k, x, y in sequence:
        if op == "unlink":
            if x not in owner:
                continue
            list_unlink(ends[owner[x]], HEAD, TAIL, links, NXT, PRV, x)
            model[owner.pop(x)].remove(x)
            assert links[x, NXT] == -1 and links[x, PRV] == -1
        elif x not in owner:
            if op == "back":
                list_push_back(ends[k], HEAD, TAIL, links, NXT, PRV, x)
                model[k].append(x)
            elif op == "before":   # before member y of list k, or append when y is not in it
                before = y if owner.get(y) == k else -1
                list_insert_before(ends[k], HEAD, TAIL, links, NXT, PRV, x, before)
                model[k].insert(model[k].index(y) if before >= 0 else len(model[k]), x)
            else:
                list_push_front(ends[k], HEAD, TAIL, links, NXT, PRV, x)
                model[k].insert(0, x)
            owner[x] = k
        for j in range(N_LISTS):
            assert walk(ends[j], links, True) == model[j]
            assert walk(ends[j], links, False) == model[j][::-1]
    free = [x for x in range(N_ITEMS) if x not in owner]
    assert (links[free] == -1).all()


heap_ops = st.lists(st.tuples(st.sampled_from(["push", "remove", "rekey", "pop"]), st.integers(0, N_LISTS - 1),
                              st.integers(0, N_ITEMS - 1), st.integers(-3, 3)), max_size=80)


def _at(s, tag, row, x):
    return s[0][row, x]


def _put(s, tag, row, x, item):
    s[0][row, x] = item
    s[1][item] = x


def _slot(s, tag, row, item):
    return s[1][item]


def _clear_slot(s, tag, row, item):
    s[1][item] = -1


def _key(s, tag, row, item):
    return s[2][item]


#: heaps in the rows of one table, one position array shared by all, keys by item: (heaps, pos, key)
ROWS = heap_storage("tests.rows", _at, _put, _slot, _clear_slot, _key)


@njit
def push(s, row, n, item):
    return heap_push(s, ROWS, row, n, item)


@njit
def remove(s, row, n, item):
    return heap_remove(s, ROWS, row, n, item)


@njit
def sift(s, row, n, x):
    heap_sift(s, ROWS, row, n, x)


def check_heap(heap, n, pos, key, members):
    """Slots and positions agree, the heap property holds, and the members are exactly ``members``."""
    assert sorted(int(x) for x in heap[:n]) == sorted(members)
    for x in range(n):
        assert pos[heap[x]] == x
        if x > 0:
            parent = heap[(x - 1) // 2]
            assert (key[parent], parent) <= (key[heap[x]], heap[x])


@settings(max_examples=200, deadline=None)
@given(heap_ops, st.sampled_from([np.int32, np.float64]))
def test_heaps_pop_in_key_then_item_order(sequence, key_dtype):
    heaps = np.full((N_LISTS, N_ITEMS), -1, np.int64)
    sizes = np.zeros(N_LISTS, np.int64)
    pos = np.full(N_ITEMS, -1, np.int32)
    key = np.zeros(N_ITEMS, key_dtype)
    owner = {}
    for op, k, x, v in sequence:
        if op == "push" and x not in owner:
            key[x] = v
            sizes[k] = push((heaps, pos, key), k, sizes[k], x)
            owner[x] = k
        elif op == "remove" and x in owner:
            j = owner.pop(x)
            sizes[j] = remove((heaps, pos, key), j, sizes[j], x)
            assert pos[x] == -1
        elif op == "rekey" and x in owner:
            key[x] = v
            sift((heaps, pos, key), owner[x], sizes[owner[x]], pos[x])
        elif op == "pop" and sizes[k] > 0:
            expected = min((key[y], y) for y, j in owner.items() if j == k)[1]
            assert heaps[k, 0] == expected
            sizes[k] = remove((heaps, pos, key), k, sizes[k], heaps[k, 0])
            del owner[expected]
        for j in range(N_LISTS):
            check_heap(heaps[j], sizes[j], pos, key, [y for y, o in owner.items() if o == j])
