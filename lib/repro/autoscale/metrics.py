"""Measurements of a strategy's replay for brief 01 §1 claims C1-C5 and the §4 figures.

- GPU-hours (C1): Σ instance-hours × 8 GPUs, each instance billed from its add request to off, clipped to the
  replayed window (the tail replayed so in-flight requests finish is not billed).
- Scaling overhead (C2): Σ over scale-ups of the delay (65 s reclaim / 155 s spin-up) × 8 GPUs, plus the
  instance-hours of active instances whose own memory utilisation is below 25 % (sampled at every control step),
  × 8 GPUs.
- Latency and SLOs (C4): p95 TTFT and p95 E2E of interactive (IW) requests; SLA attainment = share of IW requests
  of the 10-s class whose first token came within 10 s (our reading: the SLA of an interactive request bounds its
  time to first token; E2E attainment is reported too). Unfinished requests count as misses.
- Utility (C5, Fig 5 left) [code: plotting_scripts/Figure5.py]: 3 per served IW request, 1 per served NIW request,
  1.5 per spot instance per 15 minutes.
"""
from __future__ import annotations

import numpy as np

from repro.traces import WORKLOAD_INTERACTIVE, WORKLOAD_NONINTERACTIVE

GPUS_PER_INSTANCE = 8
UTILITY_IW, UTILITY_NIW, UTILITY_SPOT_PER_15MIN = 3.0, 1.0, 1.5


def _p95(x) -> float:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 95)) if x.size else float("nan")


def binned_p95(t, x, bin_s: float, n_bins: int) -> np.ndarray:
    """(n_bins,) 95th percentile of x per bin of t (NaN for empty bins; non-finite x ignored)."""
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float64)
    ok = np.isfinite(x) & np.isfinite(t)
    b = np.minimum((t[ok] // bin_s).astype(np.int64), n_bins - 1)
    xs = x[ok]
    order = np.lexsort((xs, b))
    b, xs = b[order], xs[order]
    out = np.full(n_bins, np.nan)
    starts = np.searchsorted(b, np.arange(n_bins), "left")
    ends = np.searchsorted(b, np.arange(n_bins), "right")
    for k in range(n_bins):
        if ends[k] > starts[k]:
            out[k] = np.percentile(xs[starts[k]:ends[k]], 95)
    return out


def request_stats(result, trace, duration: float, bin_s: float = 3 * 3600.0) -> dict:
    """Latency, SLA and served-request statistics of a replay (requests arriving within ``duration``)."""
    n_bins = max(1, int(np.ceil(duration / bin_s)))
    n_days = max(1, int(np.ceil(duration / 86400.0)))
    arrival = trace.arrival
    inside = arrival < duration
    iw = inside & (trace.workload == WORKLOAD_INTERACTIVE)
    niw = inside & (trace.workload == WORKLOAD_NONINTERACTIVE)
    ttft, e2e, finished = result.ttft, result.e2e, result.finished
    iw10 = iw & (trace.sla <= 10.0)
    niw_batch = niw & np.isfinite(trace.sla)
    day = np.minimum((arrival // 86400).astype(np.int64), n_days - 1)
    with np.errstate(invalid="ignore"):
        sla_ttft = ttft[iw10] <= trace.sla[iw10]          # NaN (no first token) compares False: a miss
        sla_e2e = finished[iw10] & (e2e[iw10] <= trace.sla[iw10])
        niw_ok = finished[niw_batch] & (e2e[niw_batch] <= trace.sla[niw_batch])
    return {
        "n_requests": int(inside.sum()), "n_iw": int(iw.sum()), "n_niw": int(niw.sum()),
        "iw_finished": float(finished[iw].mean()) if iw.any() else float("nan"),
        "niw_finished": float(finished[niw].mean()) if niw.any() else float("nan"),
        "dropped": int(result.dropped[inside].sum()),
        "p95_ttft_s": _p95(ttft[iw]), "p95_e2e_s": _p95(e2e[iw]),
        "p50_ttft_s": float(np.nanmedian(ttft[iw])) if iw.any() else float("nan"),
        "p95_ttft_by_model": [_p95(ttft[iw & (trace.model == m)]) for m in range(int(trace.model.max()) + 1)],
        "sla_ttft_iw10": float(sla_ttft.mean()) if sla_ttft.size else float("nan"),
        "sla_e2e_iw10": float(sla_e2e.mean()) if sla_e2e.size else float("nan"),
        "sla_e2e_niw_batch": float(niw_ok.mean()) if niw_ok.size else float("nan"),
        "bin_s": float(bin_s),
        "p95_ttft_bins": binned_p95(arrival[iw], ttft[iw], bin_s, n_bins),
        "p95_e2e_bins": binned_p95(arrival[iw], e2e[iw], bin_s, n_bins),
        "served_iw_per_day": np.bincount(day[iw & finished], minlength=n_days),
        "served_niw_per_day": np.bincount(day[niw & finished], minlength=n_days),
    }


def instance_seconds(run) -> np.ndarray:
    """(n_instances,) seconds each instance was held within the window [0, duration]."""
    inst = run.instances
    return np.clip(np.minimum(inst["t_off"], run.duration) - inst["t_request"], 0.0, None)


def gpu_hours(run, gpus: int = GPUS_PER_INSTANCE) -> float:
    """C1: Σ instance-hours × GPUs per instance within the window."""
    return float(instance_seconds(run).sum() / 3600.0 * gpus)


def instance_hours_by(run, key: str, n: int) -> np.ndarray:
    """(n,) instance-hours grouped by ``key`` ("region", "model" or "pool")."""
    return np.bincount(run.instances[key], weights=instance_seconds(run), minlength=n) / 3600.0


def overhead_gpu_hours(run, gpus: int = GPUS_PER_INSTANCE) -> dict:
    """C2: scale-up delay GPU-hours, idle (< 25 % utilisation) GPU-hours and their sum."""
    delay = float(run.up_events[:, 4].sum()) / 3600.0 * gpus if run.up_events.size else 0.0
    idle = float(run.n_low.sum()) * run.interval / 3600.0 * gpus
    return {"scale_up_delay": delay, "idle": idle, "total": delay + idle}


def effective_memory_util(run) -> np.ndarray:
    """(n_models,) KV tokens in use / KV capacity of active instances, summed over regions, pools and time."""
    cap = run.kv_capacity.sum(axis=(0, 2, 3))
    return np.where(cap > 0, run.kv_used.sum(axis=(0, 2, 3)) / np.maximum(cap, 1), np.nan)


def memory_util_samples(run, model: int, region: int | None = None) -> np.ndarray:
    """(n_steps,) memory utilisation of a model's endpoints (both pools; one region or all) at every step."""
    sl = (slice(None), model, slice(None) if region is None else region)
    used = run.kv_used[sl].reshape(run.kv_used.shape[0], -1).sum(axis=1)
    cap = run.kv_capacity[sl].reshape(run.kv_capacity.shape[0], -1).sum(axis=1)
    return np.where(cap > 0, used / np.maximum(cap, 1), np.nan)


def utility_per_day(run) -> dict:
    """Fig 5 left: utility per day of served IW requests, served NIW requests and spot capacity."""
    n_days = run.requests["served_iw_per_day"].size
    day = np.minimum((run.times // 86400).astype(np.int64), n_days - 1)
    spot_inst = run.spot.reshape(run.spot.shape[0], -1).sum(axis=1).astype(np.float64)
    spot = np.bincount(day, weights=spot_inst * run.interval / 900.0 * UTILITY_SPOT_PER_15MIN, minlength=n_days)
    return {"iw": run.requests["served_iw_per_day"] * UTILITY_IW,
            "niw": run.requests["served_niw_per_day"] * UTILITY_NIW, "spot": spot}


def run_summary(run, n_regions: int, n_models: int, gpus: int = GPUS_PER_INSTANCE) -> dict:
    """The per-strategy numbers that go into metrics.json."""
    req = run.requests
    over = overhead_gpu_hours(run, gpus)
    return {
        "gpu_hours": gpu_hours(run, gpus),
        "instance_hours_by_region": instance_hours_by(run, "region", n_regions).tolist(),
        "instance_hours_by_model": instance_hours_by(run, "model", n_models).tolist(),
        "mean_instances": float(run.n_accepting.sum(axis=(1, 2, 3)).mean()),
        "scale_up_events": int(run.up_events.shape[0]),
        "scale_down_instances": int(run.n_down),
        "overhead_gpu_hours": over["total"],
        "overhead_delay_gpu_hours": over["scale_up_delay"],
        "overhead_idle_gpu_hours": over["idle"],
        "effective_memory_util_by_model": effective_memory_util(run).tolist(),
        "p95_ttft_s": req["p95_ttft_s"], "p95_e2e_s": req["p95_e2e_s"],
        "sla_ttft_iw10": req["sla_ttft_iw10"], "sla_e2e_iw10": req["sla_e2e_iw10"],
        "sla_e2e_niw_batch": req["sla_e2e_niw_batch"],
        "iw_finished": req["iw_finished"], "niw_finished": req["niw_finished"],
    }

