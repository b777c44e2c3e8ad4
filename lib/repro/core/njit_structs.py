"""Small data structures for numba kernels: intrusive doubly linked lists and an indexed binary heap.

Lists: the request lists of the replay engine (waiting, running and hold queues, :mod:`repro.replay.engine`, and
its pure-Python twin :mod:`repro.replay.reference` through the functions' ``py_func``), the interactive lists of
NIW feeding (:mod:`repro.autoscale.feeding`) and the per-tenant queues of the fairness policy
(:mod:`repro.fairness.policy`).

A list lives in two arrays the caller owns: ``ends``, a 1-D array holding the list's head at index ``head`` and
its tail at index ``tail`` (e.g. a row of a per-instance table), and ``links``, a 2-D array whose row x holds
the next and previous member of x in columns ``nxt`` and ``prv``; -1 ends a list. An element is in at most one
list of a given ``links`` at a time. Every operation is O(1). The plain-Python model the tests hold these
equal to is a Python list (tests/test_njit_structs.py).

Heap: the replay engine's three priority queues (instances by next event time, each instance's decoding requests
by finishing step, released closed-loop calls by release time). A heap of ``n`` members lives in arrays the caller
owns: ``heap[:n]``, the members (item ids) in heap order; ``pos``, indexed by item, the slot of each member (-1
when absent); ``key``, indexed by item, its priority (any numeric dtype). Members are ordered by (key, item), so
the minimum is unique and the pop order does not depend on the order of pushes. The caller keeps ``n`` (the
functions return the new size) and must not change a member's key without calling :func:`heap_sift` on its slot.
The tests hold the pop order equal to ``sorted`` over (key, item) after any sequence of pushes, removals and key
changes (hypothesis). The heap functions are inlined into their callers at numba's IR level (``inline="always"``):
a call would pass each of its four arrays as an unpacked struct with a reference count, in the engine's hot loop.
"""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def list_push_back(ends, head, tail, links, nxt, prv, x):
    """Append x to the list."""
    t = ends[tail]
    links[x, prv] = t
    links[x, nxt] = -1
    if t >= 0:
        links[t, nxt] = x
    else:
        ends[head] = x
    ends[tail] = x


@njit(cache=True)
def list_push_front(ends, head, tail, links, nxt, prv, x):
    """Prepend x to the list: appending to the same list read backwards (head and tail, next and prev swapped)."""
    list_push_back(ends, tail, head, links, prv, nxt, x)


@njit(cache=True)
def list_unlink(ends, head, tail, links, nxt, prv, x):
    """Remove member x from the list; its links are reset to -1."""
    p = links[x, prv]
    n = links[x, nxt]
    if p >= 0:
        links[p, nxt] = n
    else:
        ends[head] = n
    if n >= 0:
        links[n, prv] = p
    else:
        ends[tail] = p
    links[x, nxt] = -1
    links[x, prv] = -1


@njit(cache=True)
def list_insert_before(ends, head, tail, links, nxt, prv, x, before):
    """Insert x just before member ``before`` of the list (before = -1: append)."""
    if before < 0:
        list_push_back(ends, head, tail, links, nxt, prv, x)
        return
    p = links[before, prv]
    links[x, prv] = p
    links[x, nxt] = before
    links[before, prv] = x
    if p >= 0:
        links[p, nxt] = x
    else:
        ends[head] = x


@njit(cache=True, inline="always")
def _heap_less(key, a, b):
    return key[a] < key[b] or (key[a] == key[b] and a < b)


@njit(cache=True, inline="always")
def _heap_swap(heap, pos, x, y):
    a = heap[x]
    b = heap[y]
    heap[x] = b
    heap[y] = a
    pos[b] = x
    pos[a] = y


@njit(cache=True, inline="always")
def heap_sift(heap, n, pos, key, x):
    """Restore the order of the n-member heap around slot x, whose member's key changed: up, then down."""
    while x > 0:
        p = (x - 1) >> 1
        if _heap_less(key, heap[x], heap[p]):
            _heap_swap(heap, pos, x, p)
            x = p
        else:
            break
    while True:
        c = 2 * x + 1
        if c >= n:
            break
        if c + 1 < n and _heap_less(key, heap[c + 1], heap[c]):
            c += 1
        if _heap_less(key, heap[c], heap[x]):
            _heap_swap(heap, pos, x, c)
            x = c
        else:
            break


@njit(cache=True, inline="always")
def heap_push(heap, n, pos, key, item):
    """Add ``item`` (its priority already in ``key[item]``) to the n-member heap. Returns the new size n + 1."""
    heap[n] = item
    pos[item] = n
    heap_sift(heap, n + 1, pos, key, n)
    return n + 1


@njit(cache=True, inline="always")
def heap_remove(heap, n, pos, key, item):
    """Take member ``item`` out of the n-member heap (``heap[0]``: pop the minimum). Returns the new size n - 1."""
    x = pos[item]
    n -= 1
    if x != n:
        _heap_swap(heap, pos, x, n)
        heap_sift(heap, n, pos, key, x)
    heap[n] = -1
    pos[item] = -1
    return n
