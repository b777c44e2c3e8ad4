"""Routers of the replay engine: the region router picks the region of a request, the instance router the
instance inside (request's model, region, pool) (brief 01 §2 "Global router"; brief 03 §3 baselines RR and
JSQ; brief 03 §2 "Action": holding a request at the router).

Both are @njit functions with the signatures in :mod:`repro.replay.state`, sharing one
:class:`~repro.replay.state.Plug` of router state (the built-in state: ``p[0]`` the region threshold, ``i1[g, 0]``
the round-robin cursor of group g):

``region_router(cl, plug, r, t) -> region``   (-1: hold the request)
``instance_router(cl, plug, r, region, t) -> instance``   (-1: hold the request)

They read the cluster through the accessors of :mod:`repro.replay.state` only. The candidates of request r in
region j are ``group_member(cl, g, x)`` for x < ``group_size(cl, g)``, ``g = request_group(cl, r, j)``: instances
of r's model and pool in j that accept requests (spinning up or active). The built-in instance routers prefer active instances and fall back to
spinning-up ones (which admit when ready). A held request waits in the hold queue; held requests are
routed again whenever an instance becomes active, and a controller may place them with
``Simulation.assign``, so a router returning -1 plus a controller gives deferred routing (brief 03's RL
router, MCU).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from repro.replay.state import (
    ACTIVE, Plug, group_member, group_size, group_utilisation, instance_status, kv_capacity, kv_used, make_plug,
    n_region_choices, outstanding_tokens, region_choice, request_group, running_count, waiting_count,
)

#: rows of the built-in router state's round-robin cursors (groups beyond share a row: still cyclic, less even)
MAX_GROUPS = 1024


@dataclass(frozen=True)
class Router:
    """A region router, an instance router and their shared state."""
    region_router: object
    instance_router: object
    state: Plug
    name: str = "custom"


# ------------------------------------------------------------------------------ region routers
@njit(cache=True)
def first_serving_region(cl, plug, r, t):
    """The first region in r's priority list that has an accepting instance of r's model and pool."""
    for x in range(n_region_choices(cl)):
        j = region_choice(cl, r, x)
        if group_size(cl, request_group(cl, r, j)) > 0:
            return j
    return -1


@njit(cache=True)
def sageserve_region(cl, plug, r, t):
    """Brief 01 §2 "Global router": the first region in r's priority list serving the model whose memory
    utilisation is below plug.p[0] (0.7), else the serving region with the lowest utilisation (ties: priority)."""
    best = -1
    best_u = np.inf
    for x in range(n_region_choices(cl)):
        j = region_choice(cl, r, x)
        g = request_group(cl, r, j)
        if group_size(cl, g) == 0:
            continue
        u = group_utilisation(cl, g)
        if u < plug.p[0]:
            return j
        if u < best_u:
            best_u = u
            best = j
    return best


# ------------------------------------------------------------------------------ instance routers
SCORE_QUEUE, SCORE_TOKENS, SCORE_KV = 0, 1, 2


@njit(cache=True)
def _score(cl, i, kind, t):
    if kind == SCORE_QUEUE:
        return float(waiting_count(cl, i) + running_count(cl, i))
    if kind == SCORE_TOKENS:
        return float(outstanding_tokens(cl, i, t, False))
    return kv_used(cl, i, t, False) / kv_capacity(cl, i)


@njit(cache=True)
def argmin_member(cl, g, kind, t):
    """The member of group g with the lowest score (ties: order of addition), active ones first."""
    best = -1
    best_s = np.inf
    best_active = False
    for x in range(group_size(cl, g)):
        i = group_member(cl, g, x)
        active = instance_status(cl, i) == ACTIVE
        if best_active and not active:
            continue
        s = _score(cl, i, kind, t)
        if best < 0 or (active and not best_active) or s < best_s:
            best = i
            best_s = s
            best_active = active
    return best


@njit(cache=True)
def round_robin(cl, plug, r, region, t):
    """Cyclic over the group's active members (spinning-up ones if none is active); the group's cursor is row
    g of the router state's ``i1`` (its own state: a router writes no engine column)."""
    g = request_group(cl, r, region)
    n = group_size(cl, g)
    if n == 0:
        return -1
    row = g % plug.i1.shape[0]
    start = plug.i1[row, 0]
    for d in range(n):
        x = (start + d) % n
        if instance_status(cl, group_member(cl, g, x)) == ACTIVE:
            plug.i1[row, 0] = x + 1
            return group_member(cl, g, x)
    x = start % n
    plug.i1[row, 0] = x + 1
    return group_member(cl, g, x)


@njit(cache=True)
def shortest_queue(cl, plug, r, region, t):
    """Join the shortest queue: fewest waiting + running requests."""
    return argmin_member(cl, request_group(cl, r, region), SCORE_QUEUE, t)


@njit(cache=True)
def least_tokens(cl, plug, r, region, t):
    """Fewest outstanding prompt + output tokens (brief 03 §3 JSQ counts tokens, not requests)."""
    return argmin_member(cl, request_group(cl, r, region), SCORE_TOKENS, t)


@njit(cache=True)
def least_kv(cl, plug, r, region, t):
    """Lowest KV utilisation."""
    return argmin_member(cl, request_group(cl, r, region), SCORE_KV, t)


@njit(cache=True)
def hold(cl, plug, r, region, t):
    """Never route: every request waits in the hold queue for the controller (deferred routing)."""
    return -1


INSTANCE_ROUTERS = {"round_robin": round_robin, "shortest_queue": shortest_queue, "least_tokens": least_tokens,
                    "least_kv": least_kv, "hold": hold}
REGION_ROUTERS = {"first": first_serving_region, "sageserve": sageserve_region}


def make_router(instance: str | object = "round_robin", region: str | object = "first",
                region_threshold: float = 0.7, state: Plug | None = None) -> Router:
    """A router from names (``INSTANCE_ROUTERS``, ``REGION_ROUTERS``) or your own @njit functions.

    ``region="sageserve"`` uses ``region_threshold`` (brief 01: 0.7); ``region="first"`` always takes the first
    region of the request's priority list that serves its model (brief 01 ``no_reroute``). A custom router
    brings its own ``state`` (a Plug); the default state holds ``[region_threshold]`` in ``p`` and the round-robin
    cursors (one row per group, :data:`MAX_GROUPS`) in ``i1``.
    """
    def pick(table, x, what):
        if isinstance(x, str):
            if x not in table:
                raise ValueError(f"make_router: unknown {what} router {x!r}; expected one of {sorted(table)}")
            return table[x]
        return x

    inst = pick(INSTANCE_ROUTERS, instance, "instance")
    reg = pick(REGION_ROUTERS, region, "region")
    name = f"{region if isinstance(region, str) else 'custom'}/{instance if isinstance(instance, str) else 'custom'}"
    default = make_plug([region_threshold], i1=np.zeros((MAX_GROUPS, 1), np.int64))
    return Router(reg, inst, state if state is not None else default, name)
