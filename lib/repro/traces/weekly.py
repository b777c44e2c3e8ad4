"""Week-long multi-region, multi-model request trace with interactive (IW) and non-interactive (NIW)
classes (brief 01 SageServe §2 "Request fields" and §5 "Synthetic default"; shape calibrated to the
week-long Azure LLM inference trace 2024, ../shared/data/azure-llm-2024/SOURCE.md).

Arrival-rate shape (invocations per minute at the 2024 trace's scale, times in UTC): a floor plus
asymmetric Gaussian bumps per day, with working-day and weekend amplitudes (our fit by eye to the
public plots, checked against the SOURCE.md targets in notebooks/traces.ipynb):

- ``conv`` (conversation): floor 1,050; working days a bump at 03:30 (+1,700) and the main one at 14:30
  (+3,300), i.e. two bumps per working day and a peak of about 4,350/min; weekend +150 / +900, about half
  the working-day level.
- ``code``: floor 420; one peak per working day at 18:30 UTC (+4,600, rising sigma 3 h, falling 4 h),
  weekend +850 at 19:00 (peaks about 1,270/min); about 11x peak-to-trough on working days.

Arrivals are a non-homogeneous Poisson process at 1-s resolution, conditioned on its total count so a trace
has exactly ``total_requests`` rows: the per-second counts are one multinomial draw over the window's
seconds (probability proportional to the class-mixture rate), and each arrival's class is drawn with the
classes' share of the rate in its second (superposition / marking theorem). Request attributes are then
filled one hour of arrivals at a time into preallocated arrays, each hour with its own seeded stream, so
memory is the output (about 44 bytes per request with 3 regions) plus per-second arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from repro.core.trace import WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE, Trace
from repro.traces.tokens import quantile_tokens

DAY_S = 86400
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class Bump:
    """One daily bump: centre hour (UTC), rising and falling sigma (h), amplitude on working days / weekends."""

    hour: float
    sigma_rise: float
    sigma_fall: float
    amp_workday: float
    amp_weekend: float


#: per-minute invocation rate shapes of the 2024 week (floor, bumps); see the module docstring.
SHAPES: dict[str, tuple[float, tuple[Bump, ...]]] = {
    "conv": (1050.0, (Bump(3.5, 2.5, 2.5, 1700.0, 150.0), Bump(14.5, 4.0, 4.0, 3300.0, 900.0))),
    "code": (420.0, (Bump(18.5, 3.0, 4.0, 4600.0, 0.0), Bump(19.0, 5.0, 5.0, 0.0, 850.0))),
}

#: calibration targets read off the public 2024 plots (azure-llm-2024/SOURCE.md), invocations per minute.
RATE_TARGETS_2024 = {
    "conv": {"workday_peak": (4000.0, 5200.0), "night_and_weekend": (1000.0, 1800.0), "weekend_over_workday": 0.5},
    "code": {"workday_peak": (4000.0, 5800.0), "trough": (300.0, 600.0), "weekend_peak": (1000.0, 1400.0),
             "workday_peak_over_trough": 10.0},
}

#: brief 01 §2 synthetic SLA mix: (share, workload, SLA seconds); utility 3/2/1/0 and NIW batch 128 follow from it.
SLA_MIX = ((0.7, WORKLOAD_INTERACTIVE, 10.0), (0.1, WORKLOAD_INTERACTIVE, 3600.0),
           (0.1, WORKLOAD_NONINTERACTIVE, 86400.0), (0.1, WORKLOAD_NONINTERACTIVE, math.inf))
#: which 2024 shape and which 2023 token pool each workload follows (brief 01 §5: IW from conv, NIW from code).
CLASS_SHAPE = {WORKLOAD_INTERACTIVE: "conv", WORKLOAD_NONINTERACTIVE: "code"}


def is_workday(day_index: np.ndarray, start_weekday: int = 0) -> np.ndarray:
    """Day index (0 = first day of the window) -> True on Monday..Friday; start_weekday 0 = Monday."""
    return (np.asarray(day_index) + start_weekday) % 7 < 5


def arrival_rate(t, kind: str, start_weekday: int = 0) -> np.ndarray:
    """Invocations per minute (2024 scale) at times t (seconds; 0 = midnight UTC of a ``start_weekday`` day)."""
    try:
        floor, bumps = SHAPES[kind]
    except KeyError:
        raise ValueError(f"arrival_rate: kind must be one of {sorted(SHAPES)}, got {kind!r}") from None
    t = np.asarray(t, dtype=np.float64)
    rate = np.full(t.shape, floor)
    if t.size == 0:
        return rate
    first, last = int(np.floor(t.min() / DAY_S)) - 2, int(np.floor(t.max() / DAY_S)) + 2
    for day in range(first, last + 1):
        workday = bool(is_workday(day, start_weekday))
        for b in bumps:
            amp = b.amp_workday if workday else b.amp_weekend
            if amp == 0.0:
                continue
            dh = (t - (day * DAY_S + b.hour * 3600.0)) / 3600.0
            sigma = np.where(dh < 0, b.sigma_rise, b.sigma_fall)
            rate += amp * np.exp(-0.5 * (dh / sigma) ** 2)
    return rate


def shape_metrics(rate_per_min: np.ndarray, kind: str, start_weekday: int = 0) -> dict[str, float]:
    """Calibration metrics of a per-minute rate series covering whole days from midnight UTC (length 1440*days),
    comparable with RATE_TARGETS_2024[kind]: medians over working days of the daily peak and trough, weekend
    peak (daytime, 06:00-24:00 UTC: a Saturday's first hours carry Friday evening's tail) and level, and ratios."""
    r = np.asarray(rate_per_min, dtype=np.float64)
    if r.size % 1440:
        raise ValueError(f"rate_per_min: expected whole days of minutes (a multiple of 1440), got {r.size}")
    days = r.reshape(-1, 1440)
    work = is_workday(np.arange(days.shape[0]), start_weekday)
    if not work.any() or work.all():
        raise ValueError("rate_per_min: needs at least one working day and one weekend day")
    peak, trough = days.max(axis=1), days.min(axis=1)
    out = {
        "workday_peak": float(np.median(peak[work])),
        "workday_trough": float(np.median(trough[work])),
        "weekend_peak": float(np.median(days[~work, 360:].max(axis=1))),
        "weekend_mean": float(days[~work].mean()),
        "weekend_over_workday": float(days[~work].mean() / days[work].mean()),
        "workday_peak_over_trough": float(np.median(peak[work] / trough[work])),
    }
    if kind == "conv":
        # "1,000-1,800/min at night and on the weekend": working-day troughs and the weekend mean
        out["night_and_weekend"] = float(np.median(np.concatenate([trough[work], [out["weekend_mean"]]])))
    elif kind == "code":
        out["trough"] = out["workday_trough"]
    return out


def calibration_rates(kind: str, n_requests: int, seed: int = 0, start_weekday: int = 0) -> dict[str, np.ndarray]:
    """A one-class week following ``kind``'s shape, as per-minute rates in 2024 units (invocations/min).

    Returns 'per_minute' (the sampled counts rescaled by the week's 2024 volume / n_requests), 'hourly' (its
    hourly means, repeated per minute; what :func:`shape_metrics` is computed on) and 'intensity' (the exact
    shape averaged per minute). All arrays have 7*1440 entries starting Monday 00:00 UTC by default.
    """
    t = generate_weekly_trace(n_requests, sla_mix=((1.0, WORKLOAD_INTERACTIVE, 10.0),),
                              class_shape={WORKLOAD_INTERACTIVE: kind}, n_models=1, model_share=(1.0,),
                              n_regions=1, region_share=(1.0,), start_weekday=start_weekday, seed=seed)
    counts = np.bincount((t.arrival // 60).astype(np.int64), minlength=7 * 1440)
    intensity = arrival_rate(np.arange(WEEK_S) + 0.5, kind, start_weekday).reshape(-1, 60).mean(axis=1)
    per_minute = counts * (intensity.sum() / max(n_requests, 1))
    hourly = np.repeat(per_minute.reshape(-1, 60).mean(axis=1), 60)
    return {"per_minute": per_minute, "hourly": hourly, "intensity": intensity}


def binned_load(trace: Trace, bin_seconds: float = 4 * 3600, duration: float | None = None) -> dict[str, np.ndarray]:
    """Requests/s and tokens/s (prompt + output) per time bin and workload (brief 01 Fig 3 layout).

    Returns 'start' (n_bins,) bin start times, and 'rps' and 'tps', each float64 (2, n_bins) with row
    WORKLOAD_INTERACTIVE / WORKLOAD_NONINTERACTIVE."""
    duration = float(trace.arrival[-1]) if duration is None and len(trace) else (duration or bin_seconds)
    n_bins = max(1, int(math.ceil(duration / bin_seconds)))
    b = np.minimum((trace.arrival // bin_seconds).astype(np.int64), n_bins - 1)
    key = trace.workload.astype(np.int64) * n_bins + b
    reqs = np.bincount(key, minlength=2 * n_bins).reshape(2, n_bins)
    toks = np.bincount(key, weights=trace.prompt_tokens.astype(np.float64) + trace.output_tokens,
                       minlength=2 * n_bins).reshape(2, n_bins)
    return {"start": np.arange(n_bins) * bin_seconds, "rps": reqs / bin_seconds, "tps": toks / bin_seconds}


def _per_second_weights(start: float, n_sec: int, start_weekday: int, sla_mix, class_shape):
    """(probability of each second, P(IW | second)) for the mixture of the workloads' shapes."""
    t = start + np.arange(n_sec) + 0.5
    share = {w: sum(s for s, ww, _ in sla_mix if ww == w) for w in (WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE)}
    lam = {}
    for w, s in share.items():
        if s > 0:
            shape = arrival_rate(t, class_shape[w], start_weekday)
            lam[w] = s * shape / shape.sum()
        else:
            lam[w] = np.zeros(n_sec)
    p = lam[WORKLOAD_INTERACTIVE] + lam[WORKLOAD_NONINTERACTIVE]
    with np.errstate(invalid="ignore", divide="ignore"):
        p_iw = np.where(p > 0, lam[WORKLOAD_INTERACTIVE] / p, 0.0)
    return p / p.sum(), p_iw


def window_share(start: float, duration: float, start_weekday: int = 0, sla_mix=SLA_MIX, class_shape=CLASS_SHAPE) -> float:
    """Fraction of a week's requests (starting at t=0) that fall in [start, start+duration), for the class mixture.

    E.g. a one-day smoke trace at 5 % of an 8M-request week: total_requests = 0.05 * 8e6 * window_share(...)."""
    tw = np.arange(WEEK_S) + 0.5
    tx = start + np.arange(int(round(duration))) + 0.5
    out = 0.0
    for s, w, _ in sla_mix:
        kind = class_shape[w]
        out += s * arrival_rate(tx, kind, start_weekday).sum() / arrival_rate(tw, kind, start_weekday).sum()
    return float(out / sum(s for s, _, _ in sla_mix))


def _check_shares(name: str, shares, n: int | None = None) -> np.ndarray:
    arr = np.asarray(shares, dtype=np.float64)
    if arr.ndim != 1 or (n is not None and arr.size != n) or np.any(arr < 0) or not np.isclose(arr.sum(), 1.0):
        expect = f"{n} " if n is not None else ""
        raise ValueError(f"{name}: expected {expect}non-negative shares summing to 1, got {list(shares)}")
    return np.cumsum(arr)


def generate_weekly_trace(total_requests: int = 8_000_000, duration: float = WEEK_S, *, start: float = 0.0,
                          start_weekday: int = 0, n_models: int = 4, model_share=(0.4, 0.2, 0.2, 0.2),
                          n_regions: int = 3, region_share=(0.4, 0.3, 0.3), sla_mix=SLA_MIX,
                          class_shape=CLASS_SHAPE, tokens=None, seed: int = 0, chunk_seconds: int = 3600) -> Trace:
    """A SageServe-style trace of exactly ``total_requests`` requests in the window [start, start+duration).

    Parameters (brief 01 §5 defaults): ``start`` seconds after midnight UTC of a ``start_weekday`` day (0 = Monday)
    where the window begins (arrivals are relative to the window start); ``model_share`` / ``region_share`` the
    model and home-region mix; region_priority is the home region followed by a random order of the others;
    ``sla_mix`` (share, workload, SLA s) classes; ``class_shape`` the 2024 rate shape each workload follows;
    ``tokens`` per token pool ('conv', 'code') a sampler with ``sample(rng, n)`` (default: the committed quantile
    tables; IW draws from conv, NIW from code). Deterministic for a seed.
    """
    n_sec = int(round(duration))
    if n_sec < 1 or abs(n_sec - duration) > 1e-9:
        raise ValueError(f"duration: expected a whole number of seconds >= 1, got {duration}")
    if total_requests < 0:
        raise ValueError(f"total_requests: expected >= 0, got {total_requests}")
    if chunk_seconds < 1:
        raise ValueError(f"chunk_seconds: expected >= 1, got {chunk_seconds}")
    model_cum = _check_shares("model_share", model_share, n_models)
    region_cum = _check_shares("region_share", region_share, n_regions)
    if n_regions > 127 or n_models > 32767:
        raise ValueError("n_regions must be <= 127 and n_models <= 32767 (int8 / int16 columns)")
    sla_mix = tuple(sla_mix)
    _check_shares("sla_mix shares", [s for s, _, _ in sla_mix])
    tokens = tokens if tokens is not None else quantile_tokens()
    for w in {w for _, w, _ in sla_mix}:
        if class_shape.get(w) not in tokens:
            raise ValueError(f"tokens: no sampler for pool {class_shape.get(w)!r} used by workload {w}")

    p_sec, p_iw = _per_second_weights(start, n_sec, start_weekday, sla_mix, class_shape)
    counts = np.random.default_rng(np.random.SeedSequence(seed)).multinomial(int(total_requests), p_sec)
    n = int(total_requests)
    out = {
        "arrival": np.empty(n, np.float64), "prompt_tokens": np.empty(n, np.int32),
        "output_tokens": np.empty(n, np.int32), "model": np.empty(n, np.int16), "workload": np.empty(n, np.int8),
        "sla": np.empty(n, np.float32), "region_priority": np.empty((n, n_regions), np.int8),
    }
    class_tables = _class_tables(sla_mix)
    offset = 0
    for c, s0 in enumerate(range(0, n_sec, chunk_seconds)):
        s1 = min(s0 + chunk_seconds, n_sec)
        cnt = counts[s0:s1]
        m = int(cnt.sum())
        if m == 0:
            continue
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, c)))
        _fill_chunk(rng, {k: v[offset:offset + m] for k, v in out.items()}, np.repeat(np.arange(s0, s1), cnt),
                    p_iw, class_tables, class_shape, tokens, model_cum, region_cum)
        offset += m
    return Trace.from_columns(**out, validate=False)


def _class_tables(sla_mix):
    """Per workload: (cumulative conditional shares, SLA of each class)."""
    tables = {}
    for w in (WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE):
        shares = np.array([s for s, ww, _ in sla_mix if ww == w], np.float64)
        if shares.size and shares.sum() > 0:
            slas = np.array([sla for _, ww, sla in sla_mix if ww == w], np.float32)
            tables[w] = (np.cumsum(shares) / shares.sum(), slas)
    return tables


def _fill_chunk(rng, out, secs, p_iw, class_tables, class_shape, tokens, model_cum, region_cum):
    m = secs.size
    arrival = secs + rng.random(m)
    arrival.sort()
    out["arrival"][:] = arrival
    is_iw = rng.random(m) < p_iw[secs]
    workload = np.where(is_iw, WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE).astype(np.int8)
    out["workload"][:] = workload
    u = rng.random(m)
    for w, (cum, slas) in class_tables.items():
        sel = workload == w
        k = np.minimum(np.searchsorted(cum, u[sel], side="right"), slas.size - 1)
        out["sla"][sel] = slas[k]
    out["model"][:] = np.minimum(np.searchsorted(model_cum, rng.random(m), side="right"), model_cum.size - 1)
    n_regions = region_cum.size
    home = np.minimum(np.searchsorted(region_cum, rng.random(m), side="right"), n_regions - 1)
    keys = rng.random((m, n_regions))
    keys[np.arange(m), home] = -1.0
    out["region_priority"][:] = np.argsort(keys, axis=1)
    for w in class_tables:
        sel = np.flatnonzero(workload == w)
        prompt, output = tokens[class_shape[w]].sample(rng, sel.size)
        out["prompt_tokens"][sel] = prompt
        out["output_tokens"][sel] = output
