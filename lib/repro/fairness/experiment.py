"""One seed of brief 02's comparison: make the workload, replay it under each scheduler, measure (brief 02 §1
claims C1-C3, §4 figures). A plain function of its settings and seed, so :func:`repro.sweep.sweep` can run seeds
and sensitivity points on dask workers (same numbers as a serial loop).

Runs are labelled by scheduler name, RPM runs as ``rpm<R>`` for each R of ``rpm_limits``. The returned dict has
workload facts (``n_requests``, ``capacity_calls_per_s``, ...), ``<label>.<metric>`` scalars from
:func:`repro.fairness.metrics.summarise` and, per app class (``multi``: m_a > 1 vs ``single``; ``longsp``: system
prompt above the apps' median vs ``shortsp``), ``<label>.<class>_completed``, ``_aborted``, ``_latency_p95``; with
``curves``, arrays for the figures: ``<label>.cumulative`` (service of the plotted users per bin),
``<label>.latency_normal`` / ``latency_abusive`` (interaction E2E latencies) and ``plotted_users``.
"""
from __future__ import annotations

import numpy as np

from repro.fairness import metrics
from repro.fairness.run import replay
from repro.fairness.workload import make_workload, server, workload_params


def run_labels(schedulers, rpm_limits) -> list[tuple[str, str, dict]]:
    """(label, scheduler name, extra parameters) of every run: RPM once per limit, the others once."""
    runs = []
    for name in schedulers:
        if name == "rpm":
            runs += [(f"rpm{int(r)}", "rpm", {"rpm": float(r)}) for r in rpm_limits]
        else:
            runs.append((name, name, {}))
    return runs


def plotted_users(workload, n_normal: int) -> np.ndarray:
    """Tenant ids drawn in the service-over-time figure: every abuser and the ``n_normal`` well-behaved users with
    the most requested tokens (ties: lower id)."""
    demand = np.bincount(workload.trace.tenant, weights=workload.trace.prompt_tokens + workload.trace.output_tokens,
                         minlength=workload.users.abusive.size)
    normal = np.flatnonzero(~workload.users.abusive)
    top = normal[np.argsort(-demand[normal], kind="stable")[:n_normal]]
    return np.sort(np.concatenate([np.flatnonzero(workload.users.abusive), top]))


def compare_schedulers(*, seed: int, n_users: int, n_apps: int, duration_s: float, load_peak: float,
                       trough_ratio: float, period_s: float, abusive_share: float, abuse_factor: float,
                       think_time_s: float, kv_tokens: int, max_batch: int, token_source: str,
                       calibration_requests: int, schedulers, rpm_limits, oit_k: float, window_s: float,
                       hol_delay_s: float, kv_frac: float, wsc_alpha: float, wsc_beta: float, wsc_gamma: float,
                       vtc_w_input: float, vtc_w_output: float, weight_clip, bin_s: float, curves: bool = False,
                       n_plotted_normal: int = 30) -> dict:
    """Replay one seed's workload under every scheduler of ``schedulers`` (module docstring)."""
    from repro.traces import token_samplers

    tokens = token_samplers(token_source)
    latency = server(kv_tokens)
    w = make_workload(n_users, n_apps, duration_s, load_peak=load_peak, trough_ratio=trough_ratio, period_s=period_s,
                      abusive_share=abusive_share, abuse_factor=abuse_factor, think_time=think_time_s, tokens=tokens,
                      latency=latency, max_batch=max_batch, calibration_requests=calibration_requests, seed=seed)
    prm = workload_params(w, k=oit_k, window=window_s, weight_clip=tuple(weight_clip))
    units = {"wsc": metrics.wsc_charges(w.trace, prm["app_weight"], prm["app_system_tokens"], wsc_alpha, wsc_beta,
                                        wsc_gamma),
             "vtc": metrics.vtc_charges(w.trace, vtc_w_input, vtc_w_output)}
    apps = w.apps
    classes = {"multi": apps.calls_per_interaction > 1, "single": apps.calls_per_interaction == 1,
               "longsp": apps.system_prompt_tokens > np.median(apps.system_prompt_tokens),
               "shortsp": apps.system_prompt_tokens <= np.median(apps.system_prompt_tokens)}
    keep = plotted_users(w, n_plotted_normal) if curves else None
    out = {"n_requests": len(w.trace), "n_interactions": int(np.unique(w.trace.interaction).size),
           "n_users": int(n_users), "n_abusive": int(w.users.abusive.sum()),
           "capacity_calls_per_s": w.capacity_calls_per_s, "interactions_per_s_peak": w.interactions_per_s,
           "token_source": tokens["conv"].source}
    if curves:
        out["plotted_users"] = keep
        out["plotted_abusive"] = w.users.abusive[keep]
    params = dict(w_input=vtc_w_input, w_output=vtc_w_output, alpha=wsc_alpha, beta=wsc_beta, gamma=wsc_gamma,
                  hol_delay=hol_delay_s, kv_frac=kv_frac, window=window_s)
    for label, name, extra in run_labels(schedulers, rpm_limits):
        rep = replay(w, name, latency=latency, max_batch=max_batch, k=oit_k, weight_clip=tuple(weight_clip),
                     **params, **extra)
        s = metrics.summarise(w.trace, rep.result, w.users.abusive, units, bin_s=bin_s, horizon=w.duration_s,
                              keep_users=keep)
        if curves:
            out[f"{label}.cumulative"] = s.pop("cumulative")
            normal, abusive = metrics.interaction_latency(w.trace, rep.result, w.users.abusive)
            out[f"{label}.latency_normal"], out[f"{label}.latency_abusive"] = normal, abusive
        out.update({f"{label}.{k}": v for k, v in s.items()})
        for cls, mask in classes.items():
            for k, v in metrics.app_class_stats(w.trace, rep.result, w.users.abusive, mask).items():
                out[f"{label}.{cls}_{k}"] = v
    return out
