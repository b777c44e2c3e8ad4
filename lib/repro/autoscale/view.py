"""What the SageServe arbiters see between two replay chunks: per endpoint (model, region, pool) aggregates of the
replay engine's :class:`~repro.replay.Snapshot` (brief 01 §2 "Short-term arbiters": u = an endpoint's memory
utilisation; §3 Chiron: the share of instances serving interactive requests, the pending batch work).

Arrays are indexed ``[model, region, pool]``; with unified pools there is one pool (0), with siloed pools pool 0
serves interactive (IW) and pool 1 non-interactive (NIW) requests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.replay.state import ACTIVE, SPINNING


@dataclass(frozen=True)
class EndpointView:
    """Per-endpoint state at time ``t`` (shapes (n_models, n_regions, n_pools) unless noted).

    n_active / n_spinning: instances serving / starting up. kv_used / kv_capacity: KV tokens over active instances.
    util: kv_used / kv_capacity (1.0 where no instance is active, as the engine's region router reads it).
    n_busy: active instances with at least one admitted or waiting request. n_waiting: requests waiting on the
    endpoint's instances. n_low: active instances whose own utilisation is below ``low_util`` (overhead metric).
    ready: no scaling operation of the endpoint is still in progress (cooldown, set by the executor).
    iw_tokens_last_minute: (n_models, n_regions) interactive prompt tokens whose home region is j that arrived in
    the last control interval, scaled to one minute (LT-UA's "actual tokens in the last minute").
    """

    t: float
    n_active: np.ndarray
    n_spinning: np.ndarray
    kv_used: np.ndarray
    kv_capacity: np.ndarray
    n_busy: np.ndarray
    n_waiting: np.ndarray
    n_low: np.ndarray
    ready: np.ndarray
    iw_tokens_last_minute: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.n_active.shape

    @property
    def util(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.kv_capacity > 0, self.kv_used / np.maximum(self.kv_capacity, 1), 1.0)

    @property
    def n_accepting(self) -> np.ndarray:
        """Instances that take new requests (active or spinning up): what the ILP counts as c_ij."""
        return self.n_active + self.n_spinning

    @property
    def busy_share(self) -> np.ndarray:
        """Chiron's ibp: share of active instances holding requests (0 where none is active)."""
        return np.where(self.n_active > 0, self.n_busy / np.maximum(self.n_active, 1), 0.0)


def endpoint_view(snap, shape, ready, low_util: float = 0.25) -> EndpointView:
    """Aggregate a replay Snapshot per endpoint. ``shape`` = (n_models, n_regions, n_pools); ``ready`` the
    executor's (n_models, n_regions, n_pools) bool mask."""
    n_m, n_r, n_p = shape
    size = n_m * n_r * n_p
    g = (snap.model * n_r + snap.region) * n_p + snap.pool
    active = snap.status == ACTIVE
    spinning = snap.status == SPINNING
    ga = g[active]

    def count(mask_g, weights=None):
        return np.bincount(mask_g, weights=weights, minlength=size).reshape(shape)

    kv_used = snap.kv_used[active].astype(np.float64)
    kv_cap = snap.kv_capacity[active].astype(np.float64)
    held = snap.n_running[active] + snap.n_waiting[active]
    span = max(snap.t - snap.t_prev, 1e-9)
    return EndpointView(
        t=float(snap.t),
        n_active=count(ga).astype(np.int64),
        n_spinning=count(g[spinning]).astype(np.int64),
        kv_used=count(ga, kv_used),
        kv_capacity=count(ga, kv_cap),
        n_busy=count(ga[held > 0]).astype(np.int64),
        n_waiting=count(ga, snap.n_waiting[active].astype(np.float64)).astype(np.int64),
        n_low=count(ga[kv_used < low_util * kv_cap]).astype(np.int64),
        ready=np.asarray(ready, bool).copy(),
        iw_tokens_last_minute=snap.arrivals[:, :, 0, 1].astype(np.float64) * (60.0 / span),
    )
