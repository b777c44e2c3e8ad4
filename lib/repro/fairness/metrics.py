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

from repro.replay.state import FLAG_ABORTED, FLAG_THROTTLED, FLAG_TIMED_OUT


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


def waiting_until(result, queue_timeout_s: float = np.inf) -> np.ndarray:
    """End of each request's wait: its admission, arrival + ``queue_timeout_s`` for one that timed out in the
    queue, or the end of the replay for one released but never admitted (NaN for throttled, dropped or
    never-released requests)."""
    end = result.admit.copy()
    timed_out = (result.flags & FLAG_TIMED_OUT) != 0
    stuck = (np.isnan(end) & np.isfinite(result.arrival) & ~timed_out
             & ((result.flags & (FLAG_THROTTLED | FLAG_ABORTED)) == 0))
    end[stuck] = result.t_end
    end[timed_out] = result.arrival[timed_out] + queue_timeout_s
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


def backlog_matrix(trace, result, bin_s: float, n_bins: int, n_users: int, queue_timeout_s: float = np.inf) -> np.ndarray:
    """:func:`backlog_bins` of a replay (``queue_timeout_s``: the replay's queue timeout, see :func:`waiting_until`)."""
    return backlog_bins(trace.tenant, result.arrival, waiting_until(result, queue_timeout_s), float(bin_s),
                        int(n_users), int(n_bins))


def summarise(trace, result, abusive, units: dict, *, bin_s: float, horizon: float, keep_users=None,
              queue_timeout_s: float = np.inf) -> dict:
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


# ---------------------------------------------------------------------------------------- VTC's pairwise metric
# The VTC paper's fairness measure [VTC]: for two tenants f, g both continuously backlogged over [lo, hi], the
# difference of the service they received there, (S_f(hi) - S_f(lo)) - (S_g(hi) - S_g(lo)), with S_u(t) the
# cumulative service of u up to t (prefill charge at admission, decode charge spread over [first token, finish],
# as in the bins above; right-continuous). Its bound is 2 max(w_p L_input, w_q M) for VTC in VTC's units.
@njit(cache=True)
def merge_intervals(tenant, start, end):
    """Per tenant, the union of the intervals [start, end) (any order; empty or NaN ones ignored) as disjoint
    intervals sorted by (tenant, start): arrays (tenant, start, end). Touching intervals are joined."""
    order = np.argsort(start, kind="mergesort")
    order = order[np.argsort(tenant[order], kind="mergesort")]
    out_t = np.empty(order.shape[0], np.int64)
    out_s = np.empty(order.shape[0])
    out_e = np.empty(order.shape[0])
    m = 0
    for r in order:
        a, z = start[r], end[r]
        if not z > a:
            continue
        if m > 0 and out_t[m - 1] == tenant[r] and a <= out_e[m - 1]:
            out_e[m - 1] = max(out_e[m - 1], z)
        else:
            out_t[m], out_s[m], out_e[m] = tenant[r], a, z
            m += 1
    return out_t[:m], out_s[:m], out_e[:m]


def merge_intervals_reference(tenant, start, end):
    """Plain-Python twin of :func:`merge_intervals`."""
    by_tenant = {}
    for u, a, z in zip(tenant, start, end):
        if z > a:
            by_tenant.setdefault(int(u), []).append([float(a), float(z)])
    rows = []
    for u in sorted(by_tenant):
        merged = []
        for a, z in sorted(by_tenant[u]):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], z)
            else:
                merged.append([a, z])
        rows += [(u, a, z) for a, z in merged]
    return (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float64),
            np.array([r[2] for r in rows], np.float64))


@njit(cache=True)
def intersect_intervals(ta, sa, ea, tb, sb, eb):
    """Per tenant, the intersection of two interval sets, each as :func:`merge_intervals` returns them:
    (tenant, start, end) sorted by (tenant, start), non-empty intervals only."""
    n = ta.shape[0] + tb.shape[0]
    out_t = np.empty(n, np.int64)
    out_s = np.empty(n)
    out_e = np.empty(n)
    i = j = m = 0
    while i < ta.shape[0] and j < tb.shape[0]:
        if ta[i] != tb[j]:
            if ta[i] < tb[j]:
                i += 1
            else:
                j += 1
            continue
        lo, hi = max(sa[i], sb[j]), min(ea[i], eb[j])
        if hi > lo:
            out_t[m], out_s[m], out_e[m] = ta[i], lo, hi
            m += 1
        if ea[i] < eb[j]:
            i += 1
        else:
            j += 1
    return out_t[:m], out_s[:m], out_e[:m]


def intersect_intervals_reference(ta, sa, ea, tb, sb, eb):
    """Plain-Python twin of :func:`intersect_intervals` (every pair of intervals of the same tenant)."""
    rows = sorted((int(u), max(a, c), min(z, d)) for u, a, z in zip(ta, sa, ea) for v, c, d in zip(tb, sb, eb)
                  if u == v and min(z, d) > max(a, c))
    return (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float64),
            np.array([r[2] for r in rows], np.float64))


@njit(cache=True)
def _sweep_pairs(tenant, start, end, fill, out_f, out_g, out_lo, out_hi):
    """Sweep the intervals by start; with ``fill`` write every overlapping pair of two tenants' intervals,
    return their number."""
    order = np.argsort(start, kind="mergesort")
    active = np.empty(order.shape[0], np.int64)
    n_active = 0
    m = 0
    for k in order:
        kept = 0
        for q in range(n_active):                  # drop the intervals that ended by this start
            j = active[q]
            if end[j] > start[k]:
                active[kept] = j
                kept += 1
        n_active = kept
        for q in range(n_active):
            j = active[q]
            if tenant[j] != tenant[k]:
                if fill:
                    out_f[m] = min(tenant[j], tenant[k])
                    out_g[m] = max(tenant[j], tenant[k])
                    out_lo[m] = start[k]
                    out_hi[m] = min(end[k], end[j])
                m += 1
        active[n_active] = k
        n_active += 1
    return m


@njit(cache=True)
def overlapping_pairs(tenant, start, end):
    """Every maximal interval in which two tenants are both inside one of their intervals (merged per tenant,
    :func:`merge_intervals`): arrays (f, g, lo, hi) with f < g, in the order of the later interval's start."""
    dummy_i = np.empty(0, np.int64)
    dummy_f = np.empty(0)
    m = _sweep_pairs(tenant, start, end, False, dummy_i, dummy_i, dummy_f, dummy_f)
    f = np.empty(m, np.int64)
    g = np.empty(m, np.int64)
    lo = np.empty(m)
    hi = np.empty(m)
    _sweep_pairs(tenant, start, end, True, f, g, lo, hi)
    return f, g, lo, hi


def overlapping_pairs_reference(tenant, start, end):
    """Plain-Python twin of :func:`overlapping_pairs` (every pair of intervals; rows sorted by (lo, f, g))."""
    rows = []
    for i in range(len(tenant)):
        for j in range(i + 1, len(tenant)):
            lo, hi = max(start[i], start[j]), min(end[i], end[j])
            if tenant[i] != tenant[j] and hi > lo:
                rows.append((min(tenant[i], tenant[j]), max(tenant[i], tenant[j]), lo, hi))
    rows.sort(key=lambda r: (r[2], r[0], r[1], r[3]))
    cols = list(zip(*rows)) if rows else [(), (), (), ()]
    return (np.array(cols[0], np.int64), np.array(cols[1], np.int64), np.array(cols[2], np.float64),
            np.array(cols[3], np.float64))


@njit(cache=True)
def service_curves(tenant, output, admit, first, finish, c_prefill, c_decode, n_users):
    """Each tenant's cumulative service S_u(t) as a piecewise-linear function: CSR arrays (ptr (n_users + 1,),
    times, level, slope) where tenant u's breakpoints are ptr[u]:ptr[u + 1], sorted by time, and
    S_u(t) = level[k] + slope[k] (t - times[k]) for the last breakpoint k with times[k] <= t (0 before the first).
    Charges as :func:`service_bins`: prefill at admission (NaN: never), decode over [first, finish] if finished."""
    n = tenant.shape[0]
    ev_u = np.empty(3 * n, np.int64)
    ev_t = np.empty(3 * n)
    ev_jump = np.empty(3 * n)
    ev_dslope = np.empty(3 * n)
    m = 0
    for r in range(n):
        if np.isnan(admit[r]):
            continue
        ev_u[m], ev_t[m], ev_jump[m], ev_dslope[m] = tenant[r], admit[r], c_prefill[r], 0.0
        m += 1
        if np.isnan(finish[r]):
            continue
        total = c_decode[r] * output[r]
        if finish[r] <= first[r]:
            ev_u[m], ev_t[m], ev_jump[m], ev_dslope[m] = tenant[r], first[r], total, 0.0
            m += 1
        else:
            rate = total / (finish[r] - first[r])
            ev_u[m], ev_t[m], ev_jump[m], ev_dslope[m] = tenant[r], first[r], 0.0, rate
            ev_u[m + 1], ev_t[m + 1], ev_jump[m + 1], ev_dslope[m + 1] = tenant[r], finish[r], 0.0, -rate
            m += 2
    order = np.argsort(ev_t[:m], kind="mergesort")
    order = order[np.argsort(ev_u[:m][order], kind="mergesort")]
    ptr = np.zeros(n_users + 1, np.int64)
    times = np.empty(m)
    level = np.empty(m)
    slope = np.empty(m)
    for q in range(m):
        k = order[q]
        u = ev_u[k]
        ptr[u + 1] += 1
        times[q] = ev_t[k]
        if q > 0 and ev_u[order[q - 1]] == u:
            level[q] = level[q - 1] + slope[q - 1] * (ev_t[k] - times[q - 1]) + ev_jump[k]
            slope[q] = slope[q - 1] + ev_dslope[k]
        else:
            level[q] = ev_jump[k]
            slope[q] = ev_dslope[k]
    for u in range(n_users):
        ptr[u + 1] += ptr[u]
    return ptr, times, level, slope


@njit(cache=True)
def service_at(ptr, times, level, slope, users, t):
    """S_u(t) of :func:`service_curves` for each (users[i], t[i])."""
    out = np.zeros(users.shape[0])
    for i in range(users.shape[0]):
        a, z = ptr[users[i]], ptr[users[i] + 1]
        k = a + np.searchsorted(times[a:z], t[i], side="right") - 1
        if k >= a:
            out[i] = level[k] + slope[k] * (t[i] - times[k])
    return out


def service_at_reference(tenant, output, admit, first, finish, c_prefill, c_decode, users, t):
    """Plain-Python twin of :func:`service_curves` + :func:`service_at`: S_u(t) summed request by request."""
    out = np.zeros(len(users))
    for i, (u, x) in enumerate(zip(users, t)):
        for r in range(len(tenant)):
            if tenant[r] != u or np.isnan(admit[r]):
                continue
            out[i] += c_prefill[r] if admit[r] <= x else 0.0
            if np.isnan(finish[r]):
                continue
            total = c_decode[r] * output[r]
            if finish[r] <= first[r]:
                out[i] += total if first[r] <= x else 0.0
            else:
                out[i] += total * min(max((x - first[r]) / (finish[r] - first[r]), 0.0), 1.0)
    return out


def backlog_intervals(trace, result, queue_timeout_s: float = np.inf):
    """Each tenant's backlogged intervals (a request of it waiting, :func:`waiting_until`), merged:
    (tenant, start, end) sorted by (tenant, start)."""
    end = waiting_until(result, queue_timeout_s)
    arrival = np.where(np.isfinite(end), result.arrival, np.nan)
    return merge_intervals(trace.tenant.astype(np.int64), arrival, end)


def replay_curves(trace, result, charges, n_users: int):
    """:func:`service_curves` of a replay with per-request ``charges`` = (prefill charge, decode charge per token)."""
    c_p, c_d = charges
    return service_curves(trace.tenant.astype(np.int64), trace.output_tokens.astype(np.float64), result.admit,
                          result.first_token, result.finish, np.ascontiguousarray(c_p, np.float64),
                          np.ascontiguousarray(c_d, np.float64), int(n_users))


def pair_differences(pairs, curves) -> np.ndarray:
    """|service of f - service of g| over each pair interval (f, g, lo, hi) of :func:`overlapping_pairs`, with
    the cumulative service ``curves`` of :func:`service_curves`."""
    f, g, lo, hi = pairs
    d_f = service_at(*curves, f, hi) - service_at(*curves, f, lo)
    d_g = service_at(*curves, g, hi) - service_at(*curves, g, lo)
    return np.abs(d_f - d_g)


def time_with_backlog(start, end, at_least: int, edges) -> np.ndarray:
    """Seconds of each window [edges[i], edges[i + 1]) during which >= ``at_least`` of the intervals are open
    (intervals of one tenant must be disjoint, so this counts backlogged tenants)."""
    t = np.concatenate([start, end])
    step = np.concatenate([np.ones(len(start), np.int64), -np.ones(len(end), np.int64)])
    order = np.lexsort((step, t))                  # at equal times close (-1) before open (+1)
    t, count = t[order], np.cumsum(step[order])
    if t.size == 0:
        return np.zeros(len(edges) - 1)
    # count[k] holds on [t[k], t[k + 1]); cumulative time with count >= at_least, read at the edges
    on = np.where(count[:-1] >= at_least, np.diff(t), 0.0)
    cum_t, cum_on = t, np.concatenate([[0.0], np.cumsum(on)])
    edges = np.asarray(edges, np.float64)
    k = np.clip(np.searchsorted(cum_t, edges, side="right") - 1, 0, None)
    inside = (count[k] >= at_least) & (edges >= cum_t[0])
    at_edge = np.where(edges < cum_t[0], 0.0, cum_on[k] + np.where(inside, edges - cum_t[k], 0.0))
    return np.diff(at_edge)
