"""Fairness, latency and throttling metrics of a FairServe replay (brief 02 §1 claims C1-C3, §4 figures).

Definitions (following VTC's service-difference metric [VTC]; bins and units are [our choice]):

* Service: a request's prefill charge c_p counts at its admission time, its decode charge (c_d per output
  token) spread uniformly over [first token, finish]. Units: ``wsc_charges`` (FairServe's normalised service:
  (alpha*user_input + beta*system)/w_a and gamma/w_a per token) or ``vtc_charges`` (w_p*prompt, w_q per token).
* ``service[u, b]``: tenant u's service in time bin b = [b*bin_s, (b+1)*bin_s).
* ``backlogged[u, b]``: u had a request waiting (arrived or released, not yet admitted) at every instant of bin b.
* Service gap of bin b: max - min of ``service[:, b]`` over the tenants backlogged in b, 0 when fewer than two
  are (no two backlogged tenants, nothing to be unfair between); its max, p99 and mean over all bins of the
  horizon. Jain's index of bin b over the same tenants, averaged over the bins with >= 2 backlogged tenants.
* Interaction E2E latency: finish of its last call - arrival of its first call, for interactions whose calls
  all finished; "aborted mid-way": some call with step >= 1 was throttled (so the rest were dropped).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from repro.replay.state import FLAG_ABORTED, FLAG_THROTTLED


# ---------------------------------------------------------------------------------------- charges
def wsc_charges(trace, app_weight, app_system_tokens, alpha=1.0, beta=2.0, gamma=1.0):
    """Per request (prefill charge, decode charge per output token) in FairServe's normalised units."""
    w = np.asarray(app_weight, np.float64)[trace.app]
    s = np.minimum(np.asarray(app_system_tokens, np.float64)[trace.app], trace.prompt_tokens)
    return (alpha * (trace.prompt_tokens - s) + beta * s) / w, gamma / w


def vtc_charges(trace, w_input=1.0, w_output=2.0):
    """Per request (prefill charge, decode charge per output token) in VTC's units."""
    n = len(trace)
    return w_input * trace.prompt_tokens.astype(np.float64), np.full(n, float(w_output))


# ---------------------------------------------------------------------------------------- service per bin
@njit(cache=True)
def service_bins(tenant, output, admit, first, finish, c_prefill, c_decode, bin_s, n_users, n_bins):
    """float64 (n_users, n_bins): service per tenant and bin (module docstring); requests never admitted
    (NaN admit) count nothing, decode needs a finite finish; service after the last bin is left out."""
    out = np.zeros((n_users, n_bins))
    for r in range(tenant.shape[0]):
        if np.isnan(admit[r]):
            continue
        u = tenant[r]
        b = int(admit[r] // bin_s)
        if b < n_bins:
            out[u, b] += c_prefill[r]
        if np.isnan(finish[r]):
            continue
        total = c_decode[r] * output[r]
        a, z = first[r], finish[r]
        if z <= a:
            b = int(a // bin_s)
            if b < n_bins:
                out[u, b] += total
            continue
        rate = total / (z - a)
        b = int(a // bin_s)
        while b < n_bins and b * bin_s < z:
            lo = max(a, b * bin_s)
            hi = min(z, (b + 1) * bin_s)
            if hi > lo:
                out[u, b] += rate * (hi - lo)
            b += 1
    return out


def service_bins_reference(tenant, output, admit, first, finish, c_prefill, c_decode, bin_s, n_users, n_bins):
    """Plain-Python twin of :func:`service_bins`."""
    out = np.zeros((n_users, n_bins))
    for r in range(len(tenant)):
        if np.isnan(admit[r]):
            continue
        u = int(tenant[r])
        if int(admit[r] // bin_s) < n_bins:
            out[u, int(admit[r] // bin_s)] += c_prefill[r]
        if np.isnan(finish[r]):
            continue
        total, a, z = c_decode[r] * output[r], first[r], finish[r]
        if z <= a:
            if int(a // bin_s) < n_bins:
                out[u, int(a // bin_s)] += total
            continue
        for b in range(int(a // bin_s), n_bins):
            if b * bin_s >= z:
                break
            lo, hi = max(a, b * bin_s), min(z, (b + 1) * bin_s)
            if hi > lo:
                out[u, b] += total / (z - a) * (hi - lo)
    return out


# ---------------------------------------------------------------------------------------- backlog per bin
@njit(cache=True)
def backlog_bins(tenant, arrival, wait_end, bin_s, n_users, n_bins):
    """bool (n_users, n_bins): tenant u was backlogged during the whole of bin b (module docstring): the union
    of its requests' waits [arrival, wait_end) (see :func:`waiting_until`; NaN = never waited) covers the bin."""
    out = np.zeros((n_users, n_bins), np.bool_)
    order = np.argsort(arrival, kind="mergesort")
    order = order[np.argsort(tenant[order], kind="mergesort")]
    k = 0
    n = order.shape[0]
    while k < n:
        u = tenant[order[k]]
        lo = np.inf
        hi = -np.inf
        while k < n and tenant[order[k]] == u:
            r = order[k]
            a, z = arrival[r], wait_end[r]
            k += 1
            if not (z > a):
                continue
            if a > hi:   # a new merged interval starts: close the previous one
                _mark_covered(out, u, lo, hi, bin_s, n_bins)
                lo = a
                hi = z
            elif z > hi:
                hi = z
        _mark_covered(out, u, lo, hi, bin_s, n_bins)
    return out


@njit(cache=True)
def _mark_covered(out, u, lo, hi, bin_s, n_bins):
    if not hi > lo:
        return
    b = int(np.floor(lo / bin_s))
    if b * bin_s < lo:
        b += 1
    while b < n_bins and (b + 1) * bin_s <= hi:
        out[u, b] = True
        b += 1


def backlog_bins_reference(tenant, arrival, wait_end, bin_s, n_users, n_bins):
    """Plain-Python twin of :func:`backlog_bins`: a bin is covered when the union of its tenant's waiting
    intervals contains it (checked bin by bin)."""
    out = np.zeros((n_users, n_bins), bool)
    intervals = {}
    for r in range(len(tenant)):
        if wait_end[r] > arrival[r]:
            intervals.setdefault(int(tenant[r]), []).append((float(arrival[r]), float(wait_end[r])))
    for u, iv in intervals.items():
        iv.sort()
        merged = []
        for a, z in iv:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], z)
            else:
                merged.append([a, z])
        for a, z in merged:
            for b in range(n_bins):
                if a <= b * bin_s and (b + 1) * bin_s <= z:
                    out[u, b] = True
    return out


def waiting_until(result) -> np.ndarray:
    """End of each request's wait: its admission, or the end of the replay for one released but never admitted
    (NaN for throttled, dropped or never-released requests)."""
    end = result.admit.copy()
    stuck = np.isnan(end) & np.isfinite(result.arrival) & ((result.flags & (FLAG_THROTTLED | FLAG_ABORTED)) == 0)
    end[stuck] = result.t_end
    return end


# ---------------------------------------------------------------------------------------- summaries
def jain_index(x) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2) of a non-empty vector; 1 when all are equal (or all zero)."""
    x = np.asarray(x, np.float64)
    sq = float(np.sum(x * x))
    return 1.0 if sq == 0 else float(np.sum(x) ** 2 / (x.size * sq))


def bin_fairness(service: np.ndarray, backlogged: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin with >= 2 backlogged tenants: (bin index, service gap max - min, Jain's index) over them."""
    bins, gaps, jain = [], [], []
    for b in np.flatnonzero(backlogged.sum(axis=0) >= 2):
        s = service[backlogged[:, b], b]
        bins.append(b)
        gaps.append(s.max() - s.min())
        jain.append(jain_index(s))
    return np.array(bins, np.int64), np.array(gaps), np.array(jain)


def gap_summary(gaps: np.ndarray, jain: np.ndarray, n_bins: int) -> dict:
    """Max, p99 and mean over all ``n_bins`` bins of the per-bin gaps (0 in bins without two backlogged tenants),
    the mean Jain's index over the bins that have them (NaN if none) and their number."""
    full = np.zeros(max(int(n_bins), 1))
    full[:gaps.size] = np.sort(gaps)
    return {"gap_max": float(full.max()), "gap_p99": float(np.percentile(full, 99)), "gap_mean": float(full.mean()),
            "jain_mean": float(jain.mean()) if jain.size else np.nan, "bins": int(gaps.size)}


def interactions(trace, result) -> dict:
    """Per interaction (arrays indexed by interaction id 0..max; ``present`` marks ids in the trace): tenant, app,
    calls, start (arrival of step 0), end (last finish, NaN unless completed), completed, throttled at its first
    call, aborted mid-way."""
    inter = trace.interaction
    sel = inter >= 0
    n = int(inter[sel].max()) + 1 if sel.any() else 0
    ids = inter[sel]
    tenant = np.full(n, -1, np.int64)
    tenant[ids] = trace.tenant[sel]
    app = np.full(n, -1, np.int64)
    app[ids] = trace.app[sel]
    calls = np.bincount(ids, minlength=n)
    done = np.bincount(ids, weights=np.isfinite(result.finish[sel]), minlength=n)
    end = np.full(n, -np.inf)
    np.maximum.at(end, ids, np.where(np.isfinite(result.finish[sel]), result.finish[sel], -np.inf))
    first = sel & (trace.step == 0)
    start = np.full(n, np.nan)
    start[inter[first]] = result.arrival[first]
    throttled = (result.flags & FLAG_THROTTLED) != 0
    first_throttled = np.zeros(n, bool)
    first_throttled[inter[first & throttled]] = True
    aborted = np.zeros(n, bool)
    aborted[inter[sel & throttled & (trace.step >= 1)]] = True
    present = calls > 0
    completed = present & (done == calls)
    return {"tenant": tenant, "app": app, "calls": calls, "start": start, "end": np.where(completed, end, np.nan),
            "completed": completed, "first_throttled": first_throttled, "aborted": aborted, "present": present}


def throttling(trace, result, abusive) -> dict:
    """Throttled shares by user class (brief 02 C3). ``abusive``: bool per tenant."""
    ab = np.asarray(abusive)[trace.tenant]
    thr = (result.flags & FLAG_THROTTLED) != 0
    admitted = np.isfinite(result.admit)
    tokens = trace.prompt_tokens.astype(np.float64) + trace.output_tokens
    it = interactions(trace, result)
    started = it["present"] & ~it["first_throttled"]
    ab_int = np.asarray(abusive)[np.maximum(it["tenant"], 0)]

    def share(num, den):
        return float(num.sum() / den.sum()) if den.sum() else np.nan

    return {"throttled_share_abusive": share(thr & ab, ab), "throttled_share_normal": share(thr & ~ab, ~ab),
            "throttled_from_normal": share(thr & ~ab, thr),
            "abuser_admitted_token_share": share(tokens * (admitted & ab), tokens * admitted),
            "aborted_share": share(it["aborted"], started),
            "aborted_share_normal": share(it["aborted"] & ~ab_int, started & ~ab_int),
            "aborted_share_abusive": share(it["aborted"] & ab_int, started & ab_int)}


def app_class_stats(trace, result, abusive, in_class) -> dict:
    """Well-behaved users' interactions of the apps with ``in_class[app]`` (brief 02 C1): share completed (not
    throttled at the start nor aborted mid-way), share aborted mid-way, p95 E2E latency of the completed ones."""
    it = interactions(trace, result)
    app = np.maximum(it["app"], 0)
    sel = it["present"] & ~np.asarray(abusive)[np.maximum(it["tenant"], 0)] & np.asarray(in_class)[app]
    lat = (it["end"] - it["start"])[sel & it["completed"]]
    n = int(sel.sum())
    return {"completed": float(it["completed"][sel].mean()) if n else np.nan,
            "aborted": float(it["aborted"][sel].mean()) if n else np.nan,
            "latency_p95": float(np.percentile(lat, 95)) if lat.size else np.nan, "interactions": n}


def interaction_latency(trace, result, abusive) -> tuple[np.ndarray, np.ndarray]:
    """E2E latency (s) of completed interactions of well-behaved and of abusive users."""
    it = interactions(trace, result)
    lat = it["end"] - it["start"]
    ok = it["completed"]
    ab = np.asarray(abusive)[np.maximum(it["tenant"], 0)]
    return lat[ok & ~ab], lat[ok & ab]


def service_matrix(trace, result, charges, bin_s: float, n_bins: int, n_users: int) -> np.ndarray:
    """:func:`service_bins` of a replay with per-request ``charges`` = (prefill charge, decode charge per token)."""
    c_p, c_d = charges
    return service_bins(trace.tenant, trace.output_tokens, result.admit, result.first_token, result.finish,
                        np.ascontiguousarray(c_p, np.float64), np.ascontiguousarray(c_d, np.float64),
                        float(bin_s), int(n_users), int(n_bins))


def backlog_matrix(trace, result, bin_s: float, n_bins: int, n_users: int) -> np.ndarray:
    """:func:`backlog_bins` of a replay."""
    return backlog_bins(trace.tenant, result.arrival, waiting_until(result), float(bin_s), int(n_users), int(n_bins))


def summarise(trace, result, abusive, units: dict, *, bin_s: float, horizon: float, keep_users=None) -> dict:
    """The numbers brief 02 asks for, for one replay.

    units: name -> per-request charges (e.g. {"wsc": wsc_charges(...), "vtc": vtc_charges(...)}); service gaps
    and Jain's index are computed in each (keys ``<unit>_gap_max`` ...). horizon: seconds covered by the bins
    (the arrival window). keep_users: tenant ids whose cumulative service per bin (first unit) is returned under
    ``cumulative`` (for plotting), shape (len(keep_users), n_bins).
    """
    n_users = int(np.size(abusive))
    n_bins = int(np.ceil(horizon / bin_s))
    backlogged = backlog_matrix(trace, result, bin_s, n_bins, n_users)
    out = {}
    for k, (unit, charges) in enumerate(units.items()):
        service = service_matrix(trace, result, charges, bin_s, n_bins, n_users)
        _, gaps, jain = bin_fairness(service, backlogged)
        out.update({f"{unit}_{key}": value for key, value in gap_summary(gaps, jain, n_bins).items()})
        if k == 0 and keep_users is not None:
            out["cumulative"] = np.cumsum(service[np.asarray(keep_users)], axis=1)
    normal, abuser = interaction_latency(trace, result, abusive)
    for label, lat in (("normal", normal), ("abusive", abuser)):
        for q in (50, 95, 99):
            out[f"latency_{label}_p{q}"] = float(np.percentile(lat, q)) if lat.size else np.nan
    out.update(throttling(trace, result, abusive))
    done = np.isfinite(result.finish)
    out["throughput_tokens_per_s"] = float((trace.prompt_tokens[done].sum() + trace.output_tokens[done].sum())
                                           / np.max(result.finish[done])) if done.any() else 0.0
    out["finished_share"] = float(done.mean()) if done.size else np.nan
    out["backlogged_user_bins"] = int(backlogged.sum())
    return out
