"""Intrusive doubly linked lists for numba kernels: the request lists of the replay engine (waiting, running and
hold queues, :mod:`repro.replay.engine`, and its pure-Python twin :mod:`repro.replay.reference` through the
functions' ``py_func``), the interactive lists of NIW feeding (:mod:`repro.autoscale.feeding`) and the per-tenant
queues of the fairness policy (:mod:`repro.fairness.policy`).

A list lives in two arrays the caller owns: ``ends``, a 1-D array holding the list's head at index ``head`` and
its tail at index ``tail`` (e.g. a row of a per-instance table), and ``links``, a 2-D array whose row x holds
the next and previous member of x in columns ``nxt`` and ``prv``; -1 ends a list. An element is in at most one
list of a given ``links`` at a time. Every operation is O(1). The plain-Python model the tests hold these
equal to is a Python list (tests/test_njit_structs.py).
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
