"""repro.papers.fairserve: Config, blocks, comparable sets, claims on crafted results (every status) and run() at
smoke scale."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from repro import fairness
from repro.core import seeds
from repro.papers import ParameterError, load_config
from repro.papers import fairserve as F

CFG = dataclasses.replace(load_config("fairserve", scale="smoke"), loads=(1.0,))
RUNS = [label for label, _, _ in F.run_labels(F.SCHEDULERS, CFG.rpm_limits)]
CLAIMED = ("C1a", "C1b", "C2a", "C2b", "C2c", "C2d", "C3")


def crafted(effect: dict, *, n_replicates=3, n_blocks=4, noise=0.05, contended=None, alternate=False) -> F.Results:
    """Results by hand at load 1: every run and comparison side has the same per-block numbers except FairServe's /
    WSC's (side a), shifted by ``effect`` (``latency``: multiplies FairServe's multi-call p95; ``gap``, ``jain``,
    ``wsc_gap``, ``wsc_jain``, ``throttled``: added). ``contended``: run or comparison "a-b" -> share of contended
    time (default 0.5); ``alternate``: the shift flips sign by block."""
    rng = np.random.default_rng(0)
    contended = contended or {}
    blocks, pairs, jain = [], [], []
    for r in range(n_replicates):
        for d in range(n_blocks):
            sign = -1.0 if alternate and d % 2 else 1.0
            ids = {"replicate": r, "load": 1.0, "block": d}
            for label in RUNS:
                fs = label == "fairserve"
                jitter = noise * rng.standard_normal()
                blocks.append({**ids, "run": label, "contended_share": contended.get(label, 0.5),
                               "multi_latency_p95": 100.0 * np.exp(jitter) * (effect.get("latency", 1.0) ** sign
                                                                              if fs else 1.0),
                               "single_latency_p95": 20.0,
                               "throttled_share_normal": 0.02 + 0.001 * jitter
                               + (sign * effect.get("throttled", 0.0) if fs else 0.0)})
            for a, b in F.COMPARISONS:
                key = {"fairserve": "", "wsc": "wsc_"}.get(a)
                share = contended.get(f"{a}-{b}", 0.5)
                for unit in (*F.UNITS, "own"):
                    jitter = noise * rng.standard_normal()
                    gap = sign * effect.get(f"{key}gap", 0.0) if key is not None and b == "vtc" else 0.0
                    pairs.append({**ids, "a": a, "b": b, "unit": unit, "contended_share": share, "n_pairs": 10,
                                  "mean_a": 1000.0 + 100 * jitter + gap, "mean_b": 1000.0, "p99_a": 1.0,
                                  "p99_b": 1.0, "max_a": 1.0, "max_b": 1.0})
                for unit in ("wsc", "tokens"):
                    for window in CFG.jain_windows:
                        jitter = noise * rng.standard_normal()
                        shift = sign * effect.get(f"{key}jain", 0.0) if key is not None and b == "vtc" else 0.0
                        jain.append({**ids, "a": a, "b": b, "unit": unit, "window_s": window, "n_windows": 5,
                                     "jain_a": 0.5 + 0.1 * jitter + shift, "jain_b": 0.5})
    runs = pd.DataFrame([{"replicate": r, "load": 1.0, "run": label,
                          "abuser_admitted_token_share": {"fairserve": 0.20, "rpm5": 0.15, "rpm10": 0.19}.get(label, 0.25),
                          "aborted_share": 0.0 if label == "fairserve" else 0.05}
                         for r in range(n_replicates) for label in RUNS])
    empty = pd.DataFrame()
    return F.Results(workloads=pd.DataFrame({"n_requests": [1000] * n_replicates}), runs=runs,
                     blocks=pd.DataFrame(blocks), pairs=pd.DataFrame(pairs), jain=pd.DataFrame(jain), service=empty,
                     latency=empty, apps=empty, calls=empty)


def statuses(results) -> dict:
    return {c["id"].split(" ")[0]: c["status"] for c in F.claims(results, CFG)}


FAIRER = {"latency": 0.5, "gap": -500.0, "jain": 0.2, "wsc_gap": -500.0, "wsc_jain": 0.2, "throttled": -0.01}


def test_fairserve_better_on_every_pair_holds_in_direction():
    assert statuses(crafted(FAIRER)) == {**{k: "direction-holds" for k in CLAIMED}, "C4": "cannot"}


def test_fairserve_worse_on_every_pair_fails():
    worse = {"latency": 2.0, "gap": 500.0, "jain": -0.2, "wsc_gap": 500.0, "wsc_jain": -0.2, "throttled": 0.01}
    found = statuses(crafted(worse))
    assert {found[k] for k in CLAIMED} == {"failed"}


def test_effects_that_flip_sign_by_block_are_inconclusive():
    found = statuses(crafted(FAIRER, alternate=True))
    assert {found[k] for k in CLAIMED} == {"inconclusive"}


def test_one_replicate_block_gives_no_interval():
    found = F.claims(crafted(FAIRER, n_replicates=1, n_blocks=1), CFG)
    assert all(c["status"] == "inconclusive" and c["n"] == 1 for c in found if c["id"] != "C4")


def test_claims_are_not_testable_where_nobody_competes():
    found = statuses(crafted(FAIRER, contended={"fairserve-vtc": 0.01}))
    assert found["C2a"] == found["C2b"] == "not-testable"                 # the comparable set is not contended
    assert found["C2c"] == found["C1a"] == found["C3"] == "direction-holds"
    idle = statuses(crafted(FAIRER, contended={label: 0.0 for label in RUNS}
                            | {f"{a}-{b}": 0.0 for a, b in F.COMPARISONS}))
    assert {idle[k] for k in CLAIMED} == {"not-testable"}


def test_every_claim_is_made_at_every_load():
    cfg = dataclasses.replace(CFG, loads=(1.0, 2.0))
    results = crafted(FAIRER)
    doubled = {name: pd.concat([t, t.assign(load=2.0)], ignore_index=True) if "load" in t else t
               for name, t in dataclasses.asdict(results).items()}
    ids = [c["id"] for c in F.claims(F.Results(**doubled), cfg)]
    assert ids == [f"{k} ({x})" for x in ("1x", "2x") for k in CLAIMED] + ["C4"]


def test_regime_check_reports_the_contended_share_of_the_comparable_set():
    c2a = next(c for c in F.claims(crafted(FAIRER, contended={"fairserve-vtc": 0.1}), CFG) if c["id"] == "C2a (1x)")
    (check,) = c2a["regime_check"]
    assert "FairServe and VTC" in check["name"] and check["value"] == pytest.approx(0.1)
    assert check["threshold"] == F.CONTENTION_THRESHOLD and not check["passed"]


def test_c3_compares_with_the_loosest_rpm_limit_that_curbs_abusers_as_much():
    runs = crafted(FAIRER).runs
    assert F.matched_rpm(runs, CFG, 1.0) == "rpm10"        # rpm5 (0.15) and rpm10 (0.19) curb <= FairServe's 0.20
    none = runs.assign(abuser_admitted_token_share=np.where(runs.run == "fairserve", 0.01, 0.3))
    assert F.matched_rpm(none, CFG, 1.0) == "rpm5"         # none does: the strictest


def test_comparison_effects_pair_the_sides_and_count_the_items():
    effects = F.comparison_effects(crafted(FAIRER, noise=0.0))
    row = effects[(effects.measure == "gap") & (effects.a == "fairserve") & (effects.unit == "wsc")].iloc[0]
    assert row.diff_mean == pytest.approx(-500.0) and row.a_mean == pytest.approx(500.0) and row.n_items == 120
    ablation = F.ablation(effects, CFG)
    assert set(ablation.measure) == {"gap", "jain"} and "WSC w/o priority" in set(ablation.a)


def test_blocks_cut_the_horizon():
    cfg = dataclasses.replace(CFG, duration_s=1000.0, block_s=300.0)
    assert F.n_blocks(cfg) == 4 and F.block_edges(cfg).tolist() == [0.0, 300.0, 600.0, 900.0, 1000.0]
    assert F.block_of([0.0, 299.9, 300.0, 999.0, 1200.0], cfg).tolist() == [0, 0, 1, 3, 3]


def test_config_rejects_bad_values_in_one_message():
    params = {**CFG.as_dict(), "rpm_limit": 7, "token_source": "web", "loads": [], "jain_window_s": 7.0,
              "block_s": 1e9}
    with pytest.raises(ParameterError) as err:
        F.Config.from_params(params)
    for name in ("rpm_limits", "token_source", "loads", "jain_windows", "block_s"):
        assert name in str(err.value)


def test_backlog_seconds_spread_each_interval_over_its_windows():
    backlog = (np.array([0, 1]), np.array([50.0, 0.0]), np.array([130.0, 10.0]))
    assert F.backlog_seconds(backlog, 60.0, 3, 2).tolist() == [[10.0, 60.0, 10.0], [10.0, 0.0, 0.0]]


def test_capacity_at_the_latency_target_is_below_the_makespan_one():
    w = fairness.make_workload(40, 4, 300.0, latency=fairness.server(30_000), calibration_requests=300,
                               latency_target_s=2.0, seed=5)
    assert 0 < w.capacity_calls_per_s < w.makespan_calls_per_s


@pytest.fixture(scope="module")
def smoke():
    return F.run(load_config("fairserve", scale="smoke"))


def test_run_at_smoke_scale_is_tidy(smoke):
    cfg = load_config("fairserve", scale="smoke")
    n, n_loads = cfg.n_seeds, len(cfg.loads)
    assert len(smoke.workloads) == n * n_loads
    assert sorted(set(smoke.workloads["workload_seed"])) == sorted(seeds.seed_int(cfg.seed, "fairserve", i)
                                                                   for i in range(n))
    assert smoke.runs.groupby(["load", "replicate", "run"]).size().eq(1).all()
    assert len(smoke.runs) == n * n_loads * len(RUNS) and set(F.SUMMARY_KEYS) <= set(smoke.runs.columns)
    assert len(smoke.blocks) == n * n_loads * len(RUNS) * F.n_blocks(cfg)
    assert len(smoke.pairs) == n * n_loads * len(F.COMPARISONS) * (len(F.UNITS) + 1) * F.n_blocks(cfg)
    assert len(smoke.jain) == n * n_loads * len(F.COMPARISONS) * 2 * len(cfg.jain_windows) * F.n_blocks(cfg)
    assert set(smoke.latency.run) == set(smoke.service.run) == set(RUNS)
    assert len(smoke.apps) == cfg.n_apps and len(smoke.calls) > 0


def test_smoke_scale_claims_follow_the_contention(smoke):
    cfg = load_config("fairserve", scale="smoke")
    found = F.claims(smoke, cfg)
    assert len(found) == 7 * len(cfg.loads) + 1
    for c in found[:-1]:
        assert (c["status"] == "not-testable") == (not all(r["passed"] for r in c["regime_check"]))
    low = [c for c in found if c["id"].endswith(f"({F.load_name(min(cfg.loads))})")]
    assert all(c["status"] == "not-testable" for c in low)                # nobody competes at the lowest load


def test_plotted_users_are_the_abusers_and_the_heaviest_normal_users():
    w = fairness.make_workload(40, 4, 300.0, latency=fairness.server(30_000), calibration_requests=300, seed=5)
    keep = F.plotted_users(w, 3)
    abusers = np.flatnonzero(w.users.abusive)
    assert set(abusers) <= set(keep) and len(keep) == abusers.size + 3


def test_a_jain_claim_without_comparable_windows_says_so_in_its_regime():
    """No comparable window means no Jain effect: the claim is not testable, and its regime check counts the
    replicate-blocks that hold one (0), so the missing interval is explained by a computed number."""
    empty = pd.DataFrame({"a": ["fairserve"], "b": ["vtc"], "unit": ["wsc"], "window_s": [CFG.jain_window_s],
                          "block": [0], "n_windows": [0], "jain_a": [np.nan], "jain_b": [np.nan], "load": [1.0]})
    pairs = pd.DataFrame({"a": ["fairserve"], "b": ["vtc"], "load": [1.0], "unit": ["wsc"], "contended_share": [0.9]})
    claim = F.jain_claim("C2b", "fairserve", empty, pairs, CFG, 1.0)
    assert claim["status"] == "not-testable" and claim["n"] == 0
    checks = {c["name"].split(",")[0]: c for c in claim["regime_check"]}
    name = f"replicate-blocks with a comparable {CFG.jain_window_s:g} s window (both Jain's indices defined)"
    assert checks[name]["value"] == 0 and not checks[name]["passed"]
    assert "replicate-blocks with a comparable" in claim["reason"]
