"""repro.papers.fairserve: Config, the day blocks, claims on crafted results (every status) and run() at smoke scale."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from repro.core import seeds
from repro.papers import ParameterError, load_config
from repro.papers import fairserve as F

CFG = load_config("fairserve", scale="smoke")
RUNS = [label for label, _, _ in F.run_labels(F.SCHEDULERS, CFG.rpm_limits)]


def crafted(effect: dict, *, n_replicates=3, n_days=4, noise=0.05, contended=None, alternate=False) -> F.Results:
    """Results by hand: every run has the same per-day numbers except FairServe/WSC, shifted by ``effect``
    (``latency``: multiplies FairServe's multi-call p95, ``gap``, ``jain``, ``wsc_jain``, ``throttled``: added).
    ``contended``: run -> share of contended minutes (default 0.5); ``alternate``: the shift flips sign by day."""
    rng = np.random.default_rng(0)
    contended = contended or {}
    rows = []
    for r in range(n_replicates):
        for d in range(n_days):
            sign = -1.0 if alternate and d % 2 else 1.0
            for label in RUNS:
                fs, wsc = label == "fairserve", label == "wsc"
                jitter = noise * rng.standard_normal()
                rows.append({"replicate": r, "day": d, "run": label, "minutes": 1440,
                             "contended_minutes": int(1440 * contended.get(label, 0.5)),
                             "gap_p99": 1000.0 + 100 * jitter + (sign * effect.get("gap", 0.0) if fs else 0.0),
                             "jain_mean": 0.5 + jitter * 0.1 + (sign * effect.get("jain", 0.0) if fs else 0.0)
                             + (sign * effect.get("wsc_jain", 0.0) if wsc else 0.0),
                             "multi_latency_p95": 100.0 * np.exp(jitter) * (effect.get("latency", 1.0) ** sign
                                                                            if fs else 1.0),
                             "single_latency_p95": 20.0,
                             "throttled_share_normal": 0.02 + 0.001 * jitter
                             + (sign * effect.get("throttled", 0.0) if fs else 0.0)})
    days = pd.DataFrame(rows)
    runs = pd.DataFrame([{"replicate": r, "run": label,
                          "abuser_admitted_token_share": {"fairserve": 0.20, "rpm5": 0.15, "rpm10": 0.19}.get(label, 0.25),
                          "aborted_share": 0.0 if label == "fairserve" else 0.05}
                         for r in range(n_replicates) for label in RUNS])
    empty = pd.DataFrame()
    return F.Results(workloads=pd.DataFrame({"n_requests": [1000] * n_replicates}), runs=runs, days=days,
                     sensitivity=empty, service=empty, latency=empty, apps=empty, calls=empty)


def statuses(results) -> dict:
    return {c["id"]: c["status"] for c in F.claims(results, CFG)}


FAIRER = {"latency": 0.5, "gap": -500.0, "jain": 0.2, "wsc_jain": 0.2, "throttled": -0.01}


def test_fairserve_better_on_every_pair_holds_in_direction():
    assert statuses(crafted(FAIRER)) == {"C1a": "direction-holds", "C1b": "direction-holds",
                                        "C2a": "direction-holds", "C2b": "direction-holds",
                                        "C2c": "direction-holds", "C3": "direction-holds", "C4": "cannot"}


def test_fairserve_worse_on_every_pair_fails():
    worse = {"latency": 2.0, "gap": 500.0, "jain": -0.2, "wsc_jain": -0.2, "throttled": 0.01}
    found = statuses(crafted(worse))
    assert {found[k] for k in ("C1a", "C1b", "C2a", "C2b", "C2c", "C3")} == {"failed"}


def test_effects_that_flip_sign_by_day_are_inconclusive():
    found = statuses(crafted(FAIRER, alternate=True))
    assert {found[k] for k in ("C1a", "C1b", "C2a", "C2b", "C2c", "C3")} == {"inconclusive"}


def test_one_replicate_day_gives_no_interval():
    found = F.claims(crafted(FAIRER, n_replicates=1, n_days=1), CFG)
    assert all(c["status"] == "inconclusive" and c["n"] == 1 for c in found if c["id"] != "C4")


def test_claims_are_not_testable_where_nobody_competes():
    found = statuses(crafted(FAIRER, contended={"fairserve": 0.01}))
    assert found["C2a"] == found["C2b"] == "not-testable"
    assert found["C2c"] == found["C1a"] == found["C3"] == "direction-holds"   # FairServe's own queue is not needed
    idle = statuses(crafted(FAIRER, contended={label: 0.0 for label in RUNS}))
    assert {idle[k] for k in ("C1a", "C1b", "C2a", "C2b", "C2c", "C3")} == {"not-testable"}


def test_regime_check_reports_the_share_of_contended_minutes():
    c2a = next(c for c in F.claims(crafted(FAIRER, contended={"fairserve": 0.1}), CFG) if c["id"] == "C2a")
    checks = {check["name"]: check for check in c2a["regime_check"]}
    fs = checks["share of minutes with >= 2 backlogged users, FairServe"]
    assert fs["value"] == pytest.approx(144 / 1440) and fs["threshold"] == F.CONTENTION_THRESHOLD
    assert not fs["passed"] and checks["share of minutes with >= 2 backlogged users, VTC"]["passed"]


def test_c3_compares_with_the_loosest_rpm_limit_that_curbs_abusers_as_much():
    runs = crafted(FAIRER).runs
    assert F.matched_rpm(runs, CFG) == "rpm10"             # rpm5 (0.15) and rpm10 (0.19) curb <= FairServe's 0.20
    none = runs.assign(abuser_admitted_token_share=np.where(runs.run == "fairserve", 0.01, 0.3))
    assert F.matched_rpm(none, CFG) == "rpm5"              # none does: the strictest


def test_day_blocks_are_cut_at_the_troughs_and_wrap_the_end_half_days():
    cfg = dataclasses.replace(CFG, duration_s=4 * 86400.0, period_s=86400.0)
    t = np.array([0.0, 43199.0, 43200.0, 129599.0, 129600.0, 302400.0, 345599.0])
    assert F.day_of(t, cfg.duration_s, cfg).tolist() == [0, 0, 1, 1, 2, 0, 0]
    assert F.n_days(600.0, cfg) == 1 and F.day_of([0.0, 599.0], 600.0, cfg).tolist() == [0, 0]


def test_config_rejects_bad_values_in_one_message():
    params = {**CFG.as_dict(), "rpm_limit": 7, "token_source": "web", "sens_schedulers": ["rpm"],
              "duration_s": 1.5 * 86400.0}
    with pytest.raises(ParameterError) as err:
        F.Config.from_params(params)
    for name in ("rpm_limits", "token_source", "sens_schedulers", "duration_s"):
        assert name in str(err.value)


@pytest.fixture(scope="module")
def smoke():
    return F.run(CFG)


def test_run_at_smoke_scale_is_tidy(smoke):
    n = CFG.n_seeds
    assert len(smoke.workloads) == n
    assert smoke.workloads["workload_seed"].tolist() == [seeds.seed_int(CFG.seed, "fairserve", i) for i in range(n)]
    assert smoke.runs.groupby(["replicate", "run"]).size().eq(1).all() and len(smoke.runs) == n * len(RUNS)
    assert set(F.SUMMARY_KEYS) <= set(smoke.runs.columns)
    assert len(smoke.days) == n * len(RUNS) * F.n_days(CFG.duration_s, CFG)
    assert {"replicate", "day", "run", "minutes", "contended_minutes", "gap_p99", "jain_mean", "multi_latency_p95",
            "single_latency_p95", "throttled_share_normal"} <= set(smoke.days.columns)
    points = F.sensitivity_points(CFG)
    assert len(smoke.sensitivity) == len(points) * len(CFG.sens_schedulers)
    assert set(smoke.latency.run) == set(smoke.service.run) == set(RUNS)
    assert len(smoke.apps) == CFG.n_apps and len(smoke.calls) > 0


def test_smoke_scale_has_no_competing_users_so_its_claims_are_not_testable(smoke):
    found = F.claims(smoke, CFG)
    assert [c["status"] for c in found] == ["not-testable"] * 6 + ["cannot"]
    assert all(check["value"] < F.CONTENTION_THRESHOLD for c in found for check in c["regime_check"]
               if not check["passed"])


def test_plotted_users_are_the_abusers_and_the_heaviest_normal_users():
    from repro import fairness

    w = fairness.make_workload(40, 4, 300.0, latency=fairness.server(30_000), calibration_requests=300, seed=5)
    keep = F.plotted_users(w, 3)
    abusers = np.flatnonzero(w.users.abusive)
    assert set(abusers) <= set(keep) and len(keep) == abusers.size + 3
