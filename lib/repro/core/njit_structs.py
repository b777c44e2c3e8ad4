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
by finishing step, released closed-loop calls by release time). One implementation serves every storage: a heap
reaches its storage only through five accessors (:func:`heap_at`, :func:`heap_put`, :func:`heap_slot`,
:func:`heap_clear_slot`, :func:`heap_key`) that the owner registers once with :func:`heap_storage`, which returns
the ``tag`` that selects them. The heap functions take ``(s, tag, row, ...)``: ``s`` is the owner's state (e.g. a
StructRef), ``row`` an index the accessors may use (e.g. one heap per row of a table), ``tag`` a compile-time
constant whose numba type picks the accessors (numba's stable ``@overload``; no first-class functions). A heap of
``n`` members occupies slots 0..n-1; members are ordered by (key, item), so the minimum is unique and the pop order
does not depend on the order of pushes. The caller keeps ``n`` (the functions return the new size) and must not
change a member's key without calling :func:`heap_sift` on its slot. The tests hold the pop order equal to
``sorted`` over (key, item) after any sequence of pushes, removals and key changes (hypothesis).

Why this shape (callgrind, a 20,000-request SageServe-shaped replay): the heap functions are inlined into the caller
(``inline="always"``) and the accessors index the owner's state directly, so no array handle with a reference
count is made per call; and accessors and the comparison are straight-line code, because a branch between an
array's reference increment and its decrement (``if x >= 0``, or the short-circuit ``or`` of a comparison) keeps
numba's reference-count pruning from removing the pair, and the increments then run inside the sift loops. With the
storage arrays passed as arguments the replay made 266 reference-count calls per request; in this form 173, and
6 % fewer instructions. (Inlining the accessors too, with ``@overload(inline="always")``, broke the engine's
equality with its twin for the writing accessors, so they are called.)
"""
from __future__ import annotations

import inspect

from numba import njit, types
from numba.core.imputils import lower_constant
from numba.extending import models, overload, register_model, typeof_impl


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


class HeapStorageType(types.Type):
    """The numba type of one heap storage: the heap functions are compiled per storage type, so the accessors
    registered for it are chosen at compile time and inlined."""

    def __init__(self, name):
        super().__init__(name=f"HeapStorage({name})")


class HeapStorage:
    """One heap storage: its five accessors and the compile-time tag that selects them (pass the HeapStorage
    itself as the heap functions' ``tag``; made by :func:`heap_storage`). In plain Python the accessor stubs call
    these functions directly, so the heap functions' ``py_func`` run too."""

    def __init__(self, name, at, put, slot, clear_slot, key):
        self.name = name
        self.at, self.put, self.slot, self.clear_slot, self.key = at, put, slot, clear_slot, key
        self.numba_type = HeapStorageType(name)

    def __repr__(self):
        return f"HeapStorage({self.name!r})"


register_model(HeapStorageType)(models.OpaqueModel)
typeof_impl.register(HeapStorage)(lambda storage, context: storage.numba_type)
lower_constant(HeapStorageType)(lambda context, builder, ty, value: context.get_constant_null(ty))


def heap_at(s, tag, row, x):
    """The member in slot x."""
    return tag.at(s, tag, row, x)


def heap_put(s, tag, row, x, item):
    """Member ``item`` now sits in slot x."""
    tag.put(s, tag, row, x, item)


def heap_slot(s, tag, row, item):
    """The slot of ``item``, -1 when it is not in the heap."""
    return tag.slot(s, tag, row, item)


def heap_clear_slot(s, tag, row, item):
    """``item`` left the heap: its slot becomes -1."""
    tag.clear_slot(s, tag, row, item)


def heap_key(s, tag, row, item):
    """The priority of ``item``."""
    return tag.key(s, tag, row, item)


def heap_storage(name: str, at, put, slot, clear_slot, key) -> HeapStorage:
    """Register a heap storage: five plain functions with the signatures of :func:`heap_at`, :func:`heap_put`,
    :func:`heap_slot`, :func:`heap_clear_slot` and :func:`heap_key` (same parameter names), each straight-line
    code. Returns the tag that selects them; ``name`` must be unique."""
    storage = HeapStorage(name, at, put, slot, clear_slot, key)
    for stub, impl in ((heap_at, at), (heap_put, put), (heap_slot, slot), (heap_clear_slot, clear_slot),
                       (heap_key, key)):
        overload(stub)(_for_storage(stub, storage.numba_type, impl))
    return storage


def _for_storage(stub, numba_type, impl):
    """numba's typing function for one accessor: ``impl`` when the tag is this storage's."""
    def select(s, tag, *args):
        return impl if tag == numba_type else None
    select.__signature__ = inspect.signature(stub)  # numba holds it to the implementation's
    return select


@njit(cache=True, inline="always")
def _heap_less(s, tag, row, a, b):
    """(key, item) order, without a branch (see the module docstring)."""
    ka = heap_key(s, tag, row, a)
    kb = heap_key(s, tag, row, b)
    return (ka < kb) | ((ka == kb) & (a < b))


@njit(cache=True, inline="always")
def _heap_swap(s, tag, row, x, y):
    a = heap_at(s, tag, row, x)
    heap_put(s, tag, row, x, heap_at(s, tag, row, y))
    heap_put(s, tag, row, y, a)


@njit(cache=True, inline="always")
def heap_sift(s, tag, row, n, x):
    """Restore the order of the n-member heap around slot x, whose member's key changed: up, then down."""
    while x > 0:
        p = (x - 1) >> 1
        if _heap_less(s, tag, row, heap_at(s, tag, row, x), heap_at(s, tag, row, p)):
            _heap_swap(s, tag, row, x, p)
            x = p
        else:
            break
    while True:
        c = 2 * x + 1
        if c >= n:
            break
        if c + 1 < n and _heap_less(s, tag, row, heap_at(s, tag, row, c + 1), heap_at(s, tag, row, c)):
            c += 1
        if _heap_less(s, tag, row, heap_at(s, tag, row, c), heap_at(s, tag, row, x)):
            _heap_swap(s, tag, row, x, c)
            x = c
        else:
            break


@njit(cache=True, inline="always")
def heap_push(s, tag, row, n, item):
    """Add ``item`` (its key already set) to the n-member heap. Returns the new size n + 1."""
    heap_put(s, tag, row, n, item)
    heap_sift(s, tag, row, n + 1, n)
    return n + 1


@njit(cache=True, inline="always")
def heap_remove(s, tag, row, n, item):
    """Take member ``item`` out of the n-member heap (``heap_at(s, tag, row, 0)``: pop the minimum). Returns the
    new size n - 1."""
    x = heap_slot(s, tag, row, item)
    n -= 1
    if x != n:
        _heap_swap(s, tag, row, x, n)
        heap_sift(s, tag, row, n, x)
    heap_clear_slot(s, tag, row, item)
    return n
