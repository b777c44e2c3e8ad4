"""FairServe's workload and server, calibrated to the server's capacity (brief 02 §2 "Server model", §5 "Synthetic
default"): what :func:`repro.traces.generate_multitenant_trace` does not do itself.

* Server [our choice, brief 02 §2]: one Llama-3.1-8B TP2 instance (A100-80GB) with the fitted service-time model of
  :mod:`repro.latency`, its KV capacity set to ``kv_tokens`` (100k in the brief), full KV reservation at admission.
* Capacity, two ways on the workload's own request mix (``calibration_requests`` calls of it, FCFS):
  - makespan (:func:`measure_capacity`): calls / makespan when all are released at t = 0, the throughput of a
    server that never idles and whose queue may grow without bound (an upper bound on what it sustains);
  - at a latency target (:func:`capacity_at_latency_target`, [our choice] how a serving engineer would state it):
    the largest Poisson arrival rate at which the ``quantile`` of the queueing delay (arrival to admission) stays
    <= ``target_s``, found by bisection on the rate with the same unit-rate arrival times scaled by 1/rate.
  ``make_workload`` uses the second when given ``latency_target_s``, else the first.
* Load [our choice]: the aggregate call rate at the peak is ``load_peak`` x capacity (1.2 in the brief); over
  time the rate follows a daily cosine between ``trough_ratio`` x peak and the peak (peak at t = 0, k x
  ``period_s``), made by thinning the interactions of a peak-rate trace (each kept with probability
  shape(start time)); ``trough_ratio = 1`` gives a constant load.
* App weights (WSC, [our choice]): w_a = E[tokens per interaction of a] / median over apps, clipped to [0.25, 4].
* OIT limits (brief 02 §2, k = 3 [our choice]): L_app,a = k x E[tokens/interaction_a] x expected interactions of
  app a per window (its users' normal peak rates); L_user,u = k x E[tokens/interaction of u's app] x expected
  interactions per window of the mean normal user (the operator does not know a user's own rate).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from repro.core import seeds
from repro.latency import LatencyModel, load_latency_model
from repro.replay.simulation import Simulation
from repro.traces import MultiTenantWorkload, Trace, generate_multitenant_trace

SERVER_MODEL = "Llama-3.1-8B"
SERVER_GPU = "a100-80gb"
SERVER_TP = 2


@dataclass(frozen=True)
class FairServeWorkload:
    """A multi-tenant workload calibrated to a server.

    base: the generated workload; its ``trace`` is the thinned one (interaction ids keep their values).
    normal_rate_per_s: (n_users,) each user's interaction rate at the peak without abuse (abusers' rate / factor).
    capacity_calls_per_s: measured server capacity on this request mix (at the latency target when one was given).
    makespan_calls_per_s: the makespan capacity of the same mix (:func:`measure_capacity`), for comparison.
    interactions_per_s: the generator's aggregate normal interaction rate at the peak.
    """
    base: MultiTenantWorkload
    normal_rate_per_s: np.ndarray
    capacity_calls_per_s: float
    interactions_per_s: float
    load_peak: float
    trough_ratio: float
    period_s: float
    makespan_calls_per_s: float = np.nan

    @property
    def trace(self) -> Trace:
        return self.base.trace

    @property
    def apps(self):
        return self.base.apps

    @property
    def users(self):
        return self.base.users

    @property
    def think_time_s(self) -> float:
        return self.base.think_time_s

    @property
    def duration_s(self) -> float:
        return self.base.duration_s


def server(kv_tokens: int = 100_000) -> LatencyModel:
    """Brief 02's server: Llama-3.1-8B TP2 on A100-80GB with ``kv_tokens`` of KV cache."""
    if kv_tokens < 1:
        raise ValueError(f"kv_tokens: expected >= 1, got {kv_tokens}")
    lat = load_latency_model(names=(SERVER_MODEL,), gpu=SERVER_GPU, tp=SERVER_TP)
    return dataclasses.replace(lat, kv_capacity_tokens=np.array([int(kv_tokens)], np.int64))


def app_weights(apps, clip=(0.25, 4.0)) -> np.ndarray:
    """WSC app weights w_a (n_apps,): mean tokens per interaction over its median across apps, clipped."""
    e = np.asarray(apps.mean_tokens_per_interaction, np.float64)
    return np.clip(e / np.median(e), clip[0], clip[1])


def load_shape(t, trough_ratio: float, period_s: float) -> np.ndarray:
    """Arrival rate relative to the peak at times t: trough + (1 - trough) (1 + cos(2 pi t / period)) / 2."""
    t = np.asarray(t, np.float64)
    return trough_ratio + (1.0 - trough_ratio) * 0.5 * (1.0 + np.cos(2.0 * np.pi * t / period_s))


def measure_capacity(prompt_tokens, output_tokens, latency: LatencyModel, max_batch: int) -> float:
    """Calls per second one instance completes when all the given calls are waiting at t = 0 (FCFS)."""
    p = np.asarray(prompt_tokens)
    if p.size == 0:
        raise ValueError("measure_capacity: expected at least one call")
    trace = Trace.from_columns(np.zeros(p.size), p, output_tokens)
    res = Simulation(trace, latency, np.ones((1, 1), np.int64), max_batch=max_batch).run(interval=1e12)
    done = res.finished
    return float(done.sum() / np.max(res.finish[done]))


def queueing_delay_quantile(prompt_tokens, output_tokens, unit_arrivals, rate: float, latency: LatencyModel,
                            max_batch: int, quantile: float) -> float:
    """The ``quantile`` of the queueing delay (admission - arrival, s) of the given calls arriving at
    ``unit_arrivals / rate`` (FCFS, one instance); inf when some call is never admitted."""
    trace = Trace.from_columns(np.asarray(unit_arrivals, np.float64) / rate, prompt_tokens, output_tokens)
    res = Simulation(trace, latency, np.ones((1, 1), np.int64), max_batch=max_batch).run(interval=1e12)
    delay = res.admit - res.arrival
    return float(np.quantile(delay, quantile)) if np.all(np.isfinite(delay)) else np.inf


def capacity_at_latency_target(prompt_tokens, output_tokens, latency: LatencyModel, max_batch: int, *,
                               target_s: float, quantile: float = 0.95, seed: int = 0, steps: int = 12,
                               upper: float | None = None) -> float:
    """Calls per second one instance sustains with the ``quantile`` of the queueing delay <= ``target_s``
    (module docstring): bisection over the Poisson rate between 0 and ``upper`` (default the makespan capacity;
    ``steps`` halvings; arrival gaps from the stream (seed, "capacity arrivals")). Returns the largest rate tried
    that met the target (0 if none did)."""
    if not target_s > 0 or not 0 < quantile < 1:
        raise ValueError(f"target_s > 0 and 0 < quantile < 1 expected, got {target_s}, {quantile}")
    p = np.asarray(prompt_tokens)
    if p.size == 0:
        raise ValueError("capacity_at_latency_target: expected at least one call")
    unit = np.cumsum(seeds.rng(seed, "capacity arrivals").exponential(1.0, p.size))
    lo, hi = 0.0, measure_capacity(p, output_tokens, latency, max_batch) if upper is None else float(upper)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if queueing_delay_quantile(p, output_tokens, unit, mid, latency, max_batch, quantile) <= target_s:
            lo = mid
        else:
            hi = mid
    return lo


def make_workload(n_users: int = 2000, n_apps: int = 34, duration_s: float = 7200.0, *, load_peak: float = 1.2,
                  trough_ratio: float = 1.0, period_s: float = 86400.0, abusive_share: float = 0.02,
                  abuse_factor: float = 20.0, think_time: float = 0.2, tokens=None, latency: LatencyModel | None = None,
                  max_batch: int = 256, calibration_requests: int = 20000, latency_target_s: float | None = None,
                  latency_quantile: float = 0.95, seed: int = 0) -> FairServeWorkload:
    """Generate the brief 02 workload with its peak call rate at ``load_peak`` x the server's capacity.

    ``tokens``: samplers per pool (``repro.traces.token_samplers(...)``; default the committed quantile tables).
    ``latency``: the server (default :func:`server`). Capacity: :func:`capacity_at_latency_target` with
    ``latency_target_s`` and ``latency_quantile`` when a target is given, else :func:`measure_capacity` (makespan).
    Same seed, same workload (the capacity replays are exact); the generator draws from ``seed``, the thinning
    from the stream (seed, "thinning") of :mod:`repro.core.seeds`.
    """
    if not load_peak > 0 or not 0 < trough_ratio <= 1 or not period_s > 0:
        raise ValueError(f"load_peak > 0, 0 < trough_ratio <= 1, period_s > 0 expected, got {load_peak}, "
                         f"{trough_ratio}, {period_s}")
    if calibration_requests < 100:
        raise ValueError(f"calibration_requests: expected >= 100, got {calibration_requests}")
    latency = latency or server()
    common = dict(n_users=n_users, n_apps=n_apps, abusive_share=abusive_share, abuse_factor=abuse_factor,
                  think_time=think_time, tokens=tokens, seed=seed)
    # users and apps do not depend on the rate or duration: calls per second at interactions_per_s = 1
    tables = generate_multitenant_trace(duration=1e-6, interactions_per_s=1.0, **common)
    calls = tables.apps.calls_per_interaction[tables.users.home_app].astype(np.float64)
    calls_per_s_at_unit_rate = float(np.sum(tables.users.rate_per_s * calls))
    sample = generate_multitenant_trace(duration=calibration_requests / calls_per_s_at_unit_rate,
                                        interactions_per_s=1.0, **common).trace
    makespan = capacity = measure_capacity(sample.prompt_tokens, sample.output_tokens, latency, max_batch)
    if latency_target_s is not None:
        capacity = capacity_at_latency_target(sample.prompt_tokens, sample.output_tokens, latency, max_batch,
                                              target_s=latency_target_s, quantile=latency_quantile, seed=seed,
                                              upper=makespan)
    ips = load_peak * capacity / calls_per_s_at_unit_rate
    peak = generate_multitenant_trace(duration=duration_s, interactions_per_s=ips, **common)
    trace = peak.trace
    if trough_ratio < 1.0 and len(trace):
        first = trace.step == 0
        n_int = int(trace.interaction.max()) + 1
        start = np.zeros(n_int)
        start[trace.interaction[first]] = trace.arrival[first]
        u = seeds.rng(seed, "thinning").random(n_int)
        keep = u < load_shape(start, trough_ratio, period_s)
        trace = trace.take(keep[trace.interaction])
    base = dataclasses.replace(peak, trace=trace)
    normal = peak.users.rate_per_s / np.where(peak.users.abusive, abuse_factor, 1.0)
    return FairServeWorkload(base, normal, capacity, float(ips), float(load_peak), float(trough_ratio), float(period_s),
                             makespan)


def workload_params(workload: FairServeWorkload, k: float = 3.0, window: float = 60.0,
                    weight_clip=(0.25, 4.0)) -> dict:
    """The per-workload keyword arguments of :func:`repro.fairness.scheduler`: sizes, app weights and system
    prompts (WSC), OIT limits in tokens per ``window`` seconds (module docstring)."""
    if not k > 0:
        raise ValueError(f"k: expected > 0, got {k}")
    apps, users = workload.apps, workload.users
    e = np.asarray(apps.mean_tokens_per_interaction, np.float64)
    n_apps = e.size
    app_rate = np.bincount(users.home_app, weights=workload.normal_rate_per_s, minlength=n_apps)
    mean_user_rate = float(workload.normal_rate_per_s.mean())
    return dict(n_tenants=users.home_app.size, n_requests=max(1, len(workload.trace)),
                app_weight=app_weights(apps, weight_clip),
                app_system_tokens=apps.system_prompt_tokens.astype(np.float64),
                user_limit=k * e[users.home_app] * window * mean_user_rate,
                app_limit=k * e * window * app_rate, window=window)
