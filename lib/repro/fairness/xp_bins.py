"""Per-tenant service accounting in time bins on the array namespace (NumPy or CuPy): brief 02 section 4, the
service-gap and Jain's-index metrics of :mod:`repro.fairness.metrics`.

The array-namespace version of the numba kernel :func:`repro.fairness.metrics.service_bins` (service per tenant and
time bin: the prefill charge at admission, the decode charge spread uniformly over [first token, finish]) and of
:func:`repro.fairness.metrics.bin_fairness` (per-bin service gap and Jain's index over the backlogged tenants), plus
the per-tenant cumulative service counters that the plots show. Every request is expanded into the bins it covers
(one row per request x bin, built with a cumulative sum and a search instead of a loop), and the rows are summed per
(tenant, bin) with one ``bincount``: no Python loop over requests, tenants or bins, so the same code runs on NumPy
and on CuPy (``REPRO_BACKEND=cupy``, :mod:`repro.core.backend`). Each row's share is computed as in the numba
kernel; only the order of the additions differs, so results agree to rounding (tests/test_xp_kernels.py).

:func:`repro.fairness.metrics.backlog_bins` (interval unions per tenant) stays numba-only.
"""
from __future__ import annotations


def first_bins_xp(xp, start, bin_s: float):
    """Bin index of each time in ``start`` (int64; the numba kernel's ``int(start // bin_s)``)."""
    return (start // bin_s).astype(xp.int64)


def decode_bin_counts_xp(xp, first, finish, bin_s: float, n_bins: int):
    """(first bin, number of bins b >= first bin with b < n_bins and b * bin_s < finish) of each decode interval."""
    b0 = first_bins_xp(xp, first, bin_s)
    end = xp.ceil(finish / bin_s).astype(xp.int64)
    end = xp.where((end - 1) * bin_s >= finish, end - 1, end)     # exact b * bin_s < finish at float edges
    end = xp.where(end * bin_s < finish, end + 1, end)
    return b0, xp.maximum(xp.minimum(end, n_bins) - b0, 0)


def expand_rows_xp(xp, counts):
    """For rows repeated ``counts`` times: (source row of each expanded row, its 0-based rank within the source)."""
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if counts.size else 0
    k = xp.arange(total)
    row = xp.searchsorted(ends, k, side="right")
    return row, k - (ends[row] - counts[row])


def service_bins_xp(xp, tenant, output, admit, first, finish, c_prefill, c_decode, bin_s: float, n_users: int,
                    n_bins: int):
    """float64 (n_users, n_bins): service per tenant and bin, equal to :func:`repro.fairness.metrics.service_bins`
    on the same arrays (on ``xp``): NaN admit counts nothing, decode needs a finite finish, service after the last
    bin is left out."""
    tenant = tenant.astype(xp.int64)
    admitted = ~xp.isnan(admit)
    b_admit = first_bins_xp(xp, xp.where(admitted, admit, 0.0), bin_s)
    prefill = admitted & (b_admit < n_bins)
    keys = [xp.where(prefill, tenant * n_bins + b_admit, 0)]
    weights = [xp.where(prefill, c_prefill, 0.0)]

    decoding = admitted & ~xp.isnan(finish)
    total = c_decode * output
    a = xp.where(decoding, first, 0.0)
    z = xp.where(decoding, finish, 0.0)
    instant = decoding & (z <= a)                                   # all decode service at the first token
    b_first = first_bins_xp(xp, a, bin_s)
    at_once = instant & (b_first < n_bins)
    keys.append(xp.where(at_once, tenant * n_bins + b_first, 0))
    weights.append(xp.where(at_once, total, 0.0))

    spread = decoding & ~instant
    b0, counts = decode_bin_counts_xp(xp, a, xp.where(spread, z, a), bin_s, n_bins)
    row, rank = expand_rows_xp(xp, xp.where(spread, counts, 0))
    b = b0[row] + rank
    lo = xp.maximum(a[row], b * bin_s)
    hi = xp.minimum(z[row], (b + 1) * bin_s)
    rate = total[row] / (z[row] - a[row])
    keys.append(tenant[row] * n_bins + b)
    weights.append(xp.where(hi > lo, rate * (hi - lo), 0.0))

    summed = xp.bincount(xp.concatenate(keys), weights=xp.concatenate(weights), minlength=n_users * n_bins)
    return summed.reshape(n_users, n_bins)


def cumulative_service_xp(xp, service):
    """(n_users, n_bins) service counters: each tenant's service up to the end of each bin (never decreasing)."""
    return xp.cumsum(service, axis=1)


def bin_fairness_xp(xp, service, backlogged):
    """:func:`repro.fairness.metrics.bin_fairness`: per bin with >= 2 backlogged tenants, (bin index, service gap
    max - min, Jain's index) over the backlogged tenants of that bin."""
    bins = xp.flatnonzero(backlogged.sum(axis=0) >= 2)
    s = service[:, bins]
    mask = backlogged[:, bins]
    gaps = xp.where(mask, s, -xp.inf).max(axis=0) - xp.where(mask, s, xp.inf).min(axis=0)
    kept = xp.where(mask, s, 0.0)
    square_sum = (kept * kept).sum(axis=0)
    jain = xp.where(square_sum == 0, 1.0,
                    kept.sum(axis=0) ** 2 / (mask.sum(axis=0) * xp.where(square_sum == 0, 1.0, square_sum)))
    return bins.astype(xp.int64), gaps, jain
