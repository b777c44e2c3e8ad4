"""repro.papers.mirror_ascent (brief 06): the tasks, the tidy results, and every status each claim can take."""
import numpy as np
import pandas as pd
import pytest

from repro.papers import ParameterError, load_config
from repro.papers import mirror_ascent as ma
from repro.report import validate_metrics

SLUG = "mirror-ascent"
TINY = dict(n_iterations={"pmc": 6, "mario": 6, "mcc_sparse": 6, "pendulum": 6}, batch_size=2, initial_batch=3,
            restart_every=3, eval_every=3, n_eval=2, n_features=5, step_sizes=[1e-4, 1e-2],
            train_steps={"pmc": 40, "mario": 40, "mcc_sparse": 60, "pendulum": 30}, radius_episodes=50,
            tracking_iterations=[1, 4], tracking_seeds=2, tracking_true_episodes=200, n_workers=1)


@pytest.fixture(scope="module")
def tiny():
    return load_config(SLUG, scale="smoke", **TINY)


# ---------------------------------------------------------------- config
def test_config_rejects_bad_values_in_one_message():
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", envs=["pmc", "atari"], methods=["SRMA-Cauchy"], radii=[2.0], n_eval=0,
                    step_sizes=[], n_iterations={"pmc": 1})
    text = str(err.value)
    for name in ("envs", "methods", "radii", "n_eval", "step_sizes", "n_iterations"):
        assert f".{name}:" in text


# ---------------------------------------------------------------- tasks
@pytest.mark.parametrize("method", sorted(ma.METHODS))
def test_every_method_runs_and_reports_curves_steps_and_weights(method, tiny):
    out = ma.train_run("pmc", method, 1e-3, 1, tiny)
    np.testing.assert_array_equal(out["iteration"], [0, 3, 6])
    for name in ("return", "discounted_return", "theta_norm", "steps", "ess_share"):
        assert out[name].shape == (3,)
    assert not out["diverged"] and 0.0 <= out["nonzero_direction_share"] <= 1.0
    assert out["steps"][0] == 0 and (np.diff(out["steps"]) >= 2).all() and out["total_steps"] >= out["steps"][-1]
    spec = ma.METHODS[method]
    tracked = spec.algorithm == "srma" and spec.tracking
    assert (out["weights_computed"] > 0) == tracked and np.isfinite(out["ess_median"]) == tracked
    assert 0 <= out["weights_overflowing"] + out["weights_vanishing"] <= out["weights_computed"]
    if spec.algorithm == "srma" and spec.restart:   # B0 = 3 episodes of <= 40 steps at k = 0 and k = 3
        assert out["steps"][1] <= 3 * 40 + 2 * 2 * 40


@pytest.mark.parametrize("method", ["SRMA-Cauchy", "HPG-Cauchy"])
def test_a_diverging_run_is_kept_with_nan_curves(method, tiny):
    out = ma.train_run("pmc", method, 1e308, 0, tiny)
    assert out["diverged"] and np.isnan(out["return"]).all() and np.isnan(out["total_steps"])


def test_gym_task_uses_fourier_features_and_is_deterministic(tiny):
    a = ma.train_run("pendulum", "SRMA-Cauchy", 1e-3, 2, tiny)
    b = ma.train_run("pendulum", "SRMA-Cauchy", 1e-3, 2, tiny)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert (a["return"] < 0).all()
    assert ma.env_features("pendulum", tiny).proj.shape == (5, 3)


def test_replicates_stages_and_run_seeds_get_different_streams(tiny):
    first = ma.train_run("pmc", "HPG-Cauchy", 1e-3, 0, tiny)
    assert not np.array_equal(first["return"], ma.train_run("pmc", "HPG-Cauchy", 1e-3, 1, tiny)["return"])
    assert not np.array_equal(first["steps"], ma.train_run("pmc", "HPG-Cauchy", 1e-3, 0, tiny, "sweep")["steps"])
    other = load_config(SLUG, scale="smoke", **{**TINY, "seed": 1})
    assert not np.array_equal(first["return"], ma.train_run("pmc", "HPG-Cauchy", 1e-3, 0, other)["return"])


def test_radius_run_bias_is_zero_when_the_box_never_binds_and_positive_when_it_does(tiny):
    narrow, wide = ma.radius_run(2.0, 0, tiny), ma.radius_run(1000.0, 0, tiny)
    assert narrow["clipped_share"] > 0.5 and narrow["bias"] > 0 and narrow["gradient"] >= 0
    assert wide["clipped_share"] == 0.0 and wide["bias"] == 0.0     # executed == sampled action: no bias at all


def test_outside_box_share_counts_only_the_steps_taken():
    episodes = type("E", (), {"act": np.array([[0.0, 3.0, 9.0], [-2.0, 0.5, 0.0]]), "length": np.array([2, 3])})
    env = ma.make_env("pmc", action_low=-1.0, action_high=1.0)
    assert ma.outside_box_share(env, episodes) == pytest.approx(2 / 5)


def test_tracking_diagnostic(tiny):
    out = ma.tracking_errors(tiny)
    assert len(out) == len(tiny.step_sizes) * 2 * 2 and set(out["iteration"]) == {1, 4}
    assert (out["tracker_error"] > 0).all() and (out["plain_error"] > 0).all()
    assert ((out["ess_share"] > 0) & (out["ess_share"] <= 1 + 1e-12)).all()


def test_matched_budget_helpers():
    steps, returns = np.array([0.0, 100.0, 250.0]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ma.returns_at(steps, returns, np.array([0.0, 99.0, 100.0, 300.0])), [1, 1, 2, 3])
    np.testing.assert_array_equal(ma.budget_grid(200.0, 3), [0.0, 100.0, 200.0])
    means = ma.window_means(np.array([np.nan, 0.5, 1.0, np.nan, np.nan, np.nan]), np.array([0, 3, 6]))
    assert np.isnan(means[0]) and means[1] == 0.75 and np.isnan(means[2])


def test_summary_statistics():
    radius = pd.DataFrame({"radius": [1.0, 2.0, 5.0] * 2, "replicate": [0] * 3 + [1] * 3,
                           "bias": [3.0, 1.5, 0.6, 2.0, 2.0, 2.0]})
    np.testing.assert_allclose(ma.replicate_slopes(radius), [-1.0, 0.0], atol=1e-12)
    curve = np.array([0.0, 0.0, 1.0, 3.0])
    assert ma.tail_mean(curve, 0.5) == 2.0 and ma.late_fluctuation(curve) == 1.0
    band = ma.mean_band(pd.Series([1.0, 2.0, 3.0]))
    assert band["mean"] == 2.0 and band["low"] < 2.0 < band["high"]
    scores = ma.score_norms([0.0, 1.0, 100.0])
    assert scores["gaussian"].iloc[-1] == 100.0 and (scores["cauchy"] <= 1.0).all()
    assert ma.iqm([0.0, 1.0, 2.0, 100.0]) == 1.5


def sweep_rows(method, eta, diverged=(False, False), nonzero=(1.0, 1.0), ess=(0.9, 0.9), accumulation=(1.0, 2.0)):
    return [{"env": "pmc", "method": method, "step_size": eta, "replicate": r, "diverged": diverged[r],
             "nonzero_direction_share": nonzero[r], "ess_median": ess[r], "accumulation": accumulation[r]}
            for r in range(2)]


def test_settings_drop_degenerate_step_sizes_and_pick_the_best_valid_one():
    rows = (sweep_rows("SRMA-Cauchy", 1e-4) + sweep_rows("SRMA-Cauchy", 1e-3, ess=(0.2, 0.3), accumulation=(9, 9))
            + sweep_rows("SRMA-Cauchy", 1e-2, diverged=(False, True), accumulation=(9.0, np.nan))
            + sweep_rows("HPG-Cauchy", 1e-3, nonzero=(0.0, 0.1), ess=(np.nan, np.nan), accumulation=(5, 5))
            + sweep_rows("HPG-Cauchy", 1e-4, ess=(np.nan, np.nan)))
    settings = ma.settings_frame(pd.DataFrame(rows)).set_index(["method", "step_size"])
    assert list(settings["valid"]) == [True, False, False, False, True]
    assert "ESS/B" in settings.at[("SRMA-Cauchy", 1e-3), "why"] and "diverged" in settings.at[("SRMA-Cauchy", 1e-2),
                                                                                               "why"]
    assert "non-zero" in settings.at[("HPG-Cauchy", 1e-3), "why"]
    assert ma.best_step_sizes(settings.reset_index()) == {("pmc", "SRMA-Cauchy"): 1e-4, ("pmc", "HPG-Cauchy"): 1e-4}


# ---------------------------------------------------------------- run at smoke scale
@pytest.fixture(scope="module")
def smoke_results():
    cfg = load_config(SLUG, scale="smoke", n_workers=1, n_iterations={"pmc": 40, "mario": 40}, radius_episodes=50,
                      tracking_true_episodes=200, step_sizes=[1e-4, 1e-3], n_seeds=3, sweep_seeds=2)
    return cfg, ma.run(cfg)


def test_run_at_smoke_scale_is_tidy(smoke_results, tmp_path):
    cfg, results = smoke_results
    runs = results.runs
    assert {"env", "method", "step_size", "replicate", "final_return", "initial_return", "accumulation",
            "late_fluctuation", "budget", "total_steps", "ess_median", "weights_computed"} <= set(runs.columns)
    assert len(results.sweep) == len(ma.sweep_grid(cfg)) * cfg.sweep_seeds
    assert len(results.settings) == len(ma.sweep_grid(cfg)) and results.settings.groupby(["env", "method"])[
        "best"].sum().le(1).all()
    best = ma.best_step_sizes(results.settings)
    expected = len(ma.headline_grid(cfg, best)) * cfg.n_seeds
    assert len(runs) == expected and not runs.duplicated(["env", "method", "replicate"]).any()
    for (env, method), eta in best.items():
        assert (ma.runs_of(runs, env, method)["step_size"] == eta).all()
    for env, group in runs[runs["method"].isin(cfg.methods)].groupby("env"):   # matched budget: all reached it
        assert (group["total_steps"] >= group["budget"]).all() and group["budget"].nunique() == 1
    assert len(results.budget_curves) == expected * cfg.budget_points
    assert len(results.radius) == len(cfg.radii) * cfg.n_seeds
    claims = ma.claims(results, cfg)
    assert [c["id"] for c in claims] == ["C1"] + [f"C{k}.{e}" for k in (2, 3, 4) for e in cfg.envs]
    summary = ma.method_summary(results, cfg.methods)
    metrics = {"paper": ma.PAPER, "slug": SLUG, "scale": "smoke", "seed": 0, "data": {}, "claims": claims,
               "figures": list(ma.FIGURE_SOURCES), "figure_sources": ma.FIGURE_SOURCES, "limitations":
               ma.limitations(cfg), "extra": ma.extra(results, summary)}
    validate_metrics(metrics)


# ---------------------------------------------------------------- claims on crafted results
N = 10
SYMMETRIC = np.linspace(-1.0, 1.0, N)


def noise(key: int) -> np.ndarray:
    return np.random.default_rng(key).normal(0.0, 1.0, N)


def crafted(env="pmc", final=None, initial=None, fluctuation=None, accumulation=None, share=0.5, slope=-1.0,
            ess=0.9, invalid=()):
    """Results with hand-made summaries: per method arrays of N replicates (defaults: a learning, equal run); every
    method has a valid step size except those in ``invalid``."""
    methods = ("SRMA-Cauchy", "HPG-Cauchy", "PG-Gaussian", "SRMA-Gaussian")
    rows, base = [], 10.0 + SYMMETRIC
    for method in methods:
        for r in range(N):
            rows.append({"env": env, "method": method, "replicate": r, "step_size": 1e-3,
                         "final_return": (final or {}).get(method, base)[r],
                         "initial_return": (initial if initial is not None else np.zeros(N))[r],
                         "late_fluctuation": (fluctuation or {}).get(method, base)[r],
                         "accumulation": (accumulation or {}).get(method, base)[r],
                         "ess_median": ess if method.startswith("SRMA") else np.nan})
    radii = np.array([1.0, 2.0, 5.0, 10.0])
    radius = pd.DataFrame([{"radius": R, "replicate": r, "clipped_share": share,
                            "bias": 3.0 * R ** (slope + 0.1 * SYMMETRIC[r]), "relative_bias": 1.0 / R}
                           for r in range(N) for R in radii])
    settings = pd.DataFrame([{"env": env, "method": m, "step_size": 1e-3, "valid": m not in invalid,
                              "best": m not in invalid} for m in methods])
    empty = pd.DataFrame()
    return ma.Results(settings=settings, sweep=empty, runs=pd.DataFrame(rows), curves=empty, budget_curves=empty,
                      radius=radius, tracking=empty)


def claim(results, cid):
    cfg = load_config(SLUG, scale="smoke", envs=["pmc"])
    return {c["id"]: c for c in ma.claims(results, cfg)}[cid]


@pytest.mark.parametrize("slope, share, status", [(-1.0, 0.5, "direction-holds"), (1.0, 0.5, "failed"),
                                                  (0.0, 0.5, "inconclusive"), (-1.0, 0.01, "not-testable")])
def test_c1_statuses(slope, share, status):
    c = claim(crafted(slope=slope, share=share), "C1")
    assert c["status"] == status and c["n"] == N
    assert c["regime_check"][0]["value"] == pytest.approx(share)


def spread(scale):
    return 10.0 + scale * noise(1)


@pytest.mark.parametrize("hpg, srma, status", [(20.0, 1.0, "direction-holds"), (1.0, 20.0, "failed"),
                                               (5.0, 5.0, "inconclusive")])
def test_c2_statuses(hpg, srma, status):
    c = claim(crafted(final={"HPG-Cauchy": spread(hpg), "SRMA-Cauchy": spread(srma)}), "C2.pmc")
    assert c["status"] == status and c["expected"] == ">"


def test_c2_is_not_testable_when_no_method_learns():
    flat = crafted(final={m: np.zeros(N) for m in ("HPG-Cauchy", "SRMA-Cauchy", "PG-Gaussian", "SRMA-Gaussian")},
                   initial=np.full(N, 1.0))
    for cid in ("C2.pmc", "C3.pmc", "C4.pmc"):
        assert claim(flat, cid)["status"] == "not-testable"


@pytest.mark.parametrize("srma, hpg, status", [(1.0, 9.0, "direction-holds"), (9.0, 1.0, "failed"),
                                               (5.0, 5.0, "inconclusive")])
def test_c3_statuses(srma, hpg, status):
    fluctuation = {"SRMA-Cauchy": srma + noise(2), "HPG-Cauchy": hpg + noise(2 if srma == hpg else 3)}
    c = claim(crafted(fluctuation=fluctuation), "C3.pmc")
    assert c["status"] == status and c["expected"] == "<"


@pytest.mark.parametrize("srma, best_baseline, status", [(50.0, 10.0, "direction-holds"), (0.0, 40.0, "failed"),
                                                         (10.0, 10.0, "inconclusive")])
def test_c4_statuses_against_the_strongest_baseline(srma, best_baseline, status):
    accumulation = {"SRMA-Cauchy": srma + noise(4),
                    "HPG-Cauchy": best_baseline + noise(4 if srma == best_baseline else 5),
                    "PG-Gaussian": np.full(N, -100.0), "SRMA-Gaussian": np.full(N, -50.0)}
    c = claim(crafted(accumulation=accumulation), "C4.pmc")
    assert c["status"] == status and "(HPG-Cauchy)" in c["claim"]


@pytest.mark.parametrize("cid", ["C2.pmc", "C3.pmc", "C4.pmc"])
def test_srma_outside_its_valid_regime_or_a_method_without_valid_eta_is_not_testable(cid):
    low_ess = claim(crafted(ess=0.2), cid)
    assert low_ess["status"] == "not-testable" and "ESS/B" in low_ess["reason"]
    missing = claim(crafted(invalid=("PG-Gaussian",)), cid)
    assert missing["status"] == "not-testable" and "PG-Gaussian" in missing["reason"]


def test_c4_is_not_testable_when_the_strongest_baseline_sits_at_the_ceiling():
    at_ceiling = np.full(N, ma.CEILINGS["pmc"])
    c = claim(crafted(final={"HPG-Cauchy": at_ceiling}, accumulation={"HPG-Cauchy": at_ceiling}), "C4.pmc")
    assert c["status"] == "not-testable" and "headroom" in c["reason"]
    assert claim(crafted(), "C4.pmc")["regime_check"][-1]["passed"]


def test_direction_claims_show_the_probability_of_improvement():
    c = claim(crafted(fluctuation={"SRMA-Cauchy": 1.0 + noise(2), "HPG-Cauchy": 9.0 + noise(3)}), "C3.pmc")
    assert "P(HPG fluctuates more) − ½ = 0.5" in c["our_value"]
