"""repro.papers.mirror_ascent (brief 06): the tasks, the tidy results, and every status each claim can take."""
import numpy as np
import pandas as pd
import pytest

from repro.papers import ParameterError, load_config
from repro.papers import mirror_ascent as ma
from repro.report import validate_metrics

SLUG = "mirror-ascent"
TINY = dict(n_iterations=6, batch_size=2, initial_batch=3, restart_every=3, eval_every=3, n_eval=2, n_features=5,
            train_steps={"pmc": 40, "mario": 40, "mcc_sparse": 60, "pendulum": 30}, radius_gradient_episodes=50,
            tracking_step_sizes=[1e-4], tracking_iterations=[1, 4], tracking_seeds=2, tracking_true_episodes=200)


@pytest.fixture(scope="module")
def tiny():
    return load_config(SLUG, scale="smoke", **TINY)


# ---------------------------------------------------------------- config
def test_config_rejects_bad_values_in_one_message():
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", envs=["pmc", "atari"], methods=["SRMA-Cauchy"], radii=[2.0], n_eval=0)
    text = str(err.value)
    for name in ("envs", "methods", "radii", "n_eval"):
        assert f".{name}:" in text


# ---------------------------------------------------------------- tasks (moved from tests/test_pg_mirror_runs.py)
@pytest.mark.parametrize("method", sorted(ma.METHODS))
def test_every_method_runs_and_reports_curves_and_weight_counts(method, tiny):
    out = ma.train_run("pmc", method, 1, tiny)
    np.testing.assert_array_equal(out["iteration"], [0, 3, 6])
    assert out["return"].shape == out["discounted_return"].shape == out["theta_norm"].shape == (3,)
    assert 0.0 <= out["nonzero_direction_share"] <= 1.0
    spec = ma.METHODS[method]
    assert (out["weights_computed"] > 0) == (spec.algorithm == "srma" and spec.tracking)
    assert 0 <= out["weights_overflowing"] + out["weights_vanishing"] <= out["weights_computed"]


def test_gym_task_uses_fourier_features_and_is_deterministic(tiny):
    a = ma.train_run("pendulum", "SRMA-Cauchy", 2, tiny)
    b = ma.train_run("pendulum", "SRMA-Cauchy", 2, tiny)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert (a["return"] < 0).all()
    assert ma.env_features("pendulum", tiny).proj.shape == (5, 3)


def test_replicates_and_run_seeds_get_different_streams(tiny):
    first = ma.train_run("pmc", "HPG-Cauchy", 0, tiny)
    assert not np.array_equal(first["return"], ma.train_run("pmc", "HPG-Cauchy", 1, tiny)["return"])
    other = load_config(SLUG, scale="smoke", seed=1, **TINY)
    assert not np.array_equal(first["return"], ma.train_run("pmc", "HPG-Cauchy", 0, other)["return"])


def test_radius_run_reports_both_gaps_and_the_box_share(tiny):
    narrow, wide = ma.radius_run(0.5, 0, tiny), ma.radius_run(50.0, 0, tiny)
    assert narrow["gap_moving_average"] > 0 and narrow["gap_gradient"] >= 0 and np.isfinite(narrow["return"])
    assert narrow["outside_box_share"] > 0.3 and wide["outside_box_share"] == 0.0


def test_outside_box_share_counts_only_the_steps_taken():
    episodes = type("E", (), {"act": np.array([[0.0, 3.0, 9.0], [-2.0, 0.5, 0.0]]), "length": np.array([2, 3])})
    env = ma.make_env("pmc", action_low=-1.0, action_high=1.0)
    assert ma.outside_box_share(env, episodes) == pytest.approx(2 / 5)


def test_tracking_diagnostic(tiny):
    out = ma.tracking_errors(tiny)
    assert len(out) == 2 * 2 and set(out["iteration"]) == {1, 4}
    assert (out["tracker_error"] > 0).all() and (out["plain_error"] > 0).all()


def test_summary_statistics():
    radius = pd.DataFrame({"radius": [1.0, 2.0, 5.0] * 2, "replicate": [0] * 3 + [1] * 3,
                           "gap_moving_average": [3.0, 1.5, 0.6, 2.0, 2.0, 2.0]})
    np.testing.assert_allclose(ma.replicate_slopes(radius), [-1.0, 0.0], atol=1e-12)
    curve = np.array([0.0, 0.0, 1.0, 3.0])
    assert ma.tail_mean(curve, 0.5) == 2.0 and ma.late_fluctuation(curve) == 1.0
    band = ma.mean_band(pd.Series([1.0, 2.0, 3.0]))
    assert band["mean"] == 2.0 and band["low"] < 2.0 < band["high"] and band["std"] == 1.0
    scores = ma.score_norms([0.0, 1.0, 100.0])
    assert scores["gaussian"].iloc[-1] == 100.0 and (scores["cauchy"] <= 1.0).all()


# ---------------------------------------------------------------- run at smoke scale
@pytest.fixture(scope="module")
def smoke_results():
    cfg = load_config(SLUG, scale="smoke", n_workers=1, n_iterations=40, radius_gradient_episodes=50,
                      tracking_true_episodes=200)
    return cfg, ma.run(cfg)


def test_run_at_smoke_scale_is_tidy(smoke_results, tmp_path):
    cfg, results = smoke_results
    runs = results.runs
    assert {"env", "method", "replicate", "final_return", "initial_return", "accumulation", "late_fluctuation",
            "final_theta_norm", "nonzero_direction_share", "weights_computed"} <= set(runs.columns)
    expected = len(ma.training_grid(cfg)) * cfg.n_seeds
    assert len(runs) == expected and not runs.duplicated(["env", "method", "replicate"]).any()
    assert len(results.curves) == expected * (cfg.n_iterations // cfg.eval_every + 1)
    assert len(results.radius) == len(cfg.radii) * cfg.n_seeds
    assert {"gap_moving_average", "gap_gradient", "outside_box_share"} <= set(results.radius.columns)
    assert len(results.tracking) == len(cfg.tracking_step_sizes) * cfg.tracking_seeds * len(cfg.tracking_iterations)
    claims = ma.claims(results, cfg)
    assert [c["id"] for c in claims] == ["C1"] + [f"C{k}.{e}" for k in (2, 3, 4) for e in cfg.envs]
    bands = ma.return_bands(results)
    assert len(bands) == len(results.curves) // cfg.n_seeds
    metrics = {"paper": ma.PAPER, "slug": SLUG, "scale": "smoke", "seed": 0, "data": {}, "claims": claims,
               "figures": list(ma.FIGURE_SOURCES), "figure_sources": ma.FIGURE_SOURCES, "limitations":
               ma.limitations(cfg), "extra": ma.extra(results)}
    validate_metrics(metrics)


# ---------------------------------------------------------------- claims on crafted results
N = 10
SYMMETRIC = np.linspace(-1.0, 1.0, N)


def noise(key: int) -> np.ndarray:
    return np.random.default_rng(key).normal(0.0, 1.0, N)


def crafted(env="pmc", final=None, initial=None, fluctuation=None, accumulation=None, share=0.5, slope=-1.0):
    """Results with hand-made summaries: per method arrays of N replicates (defaults: a learning, equal run)."""
    methods = ("SRMA-Cauchy", "HPG-Cauchy", "PG-Gaussian")
    rows, base = [], 10.0 + SYMMETRIC
    for method in methods:
        for r in range(N):
            rows.append({"env": env, "method": method, "replicate": r,
                         "final_return": (final or {}).get(method, base)[r],
                         "initial_return": (initial if initial is not None else np.zeros(N))[r],
                         "late_fluctuation": (fluctuation or {}).get(method, base)[r],
                         "accumulation": (accumulation or {}).get(method, base)[r]})
    radii = np.array([1.0, 2.0, 5.0, 10.0])
    radius = pd.DataFrame([{"radius": R, "replicate": r, "outside_box_share": share,
                            "gap_moving_average": 3.0 * R ** (slope + 0.1 * SYMMETRIC[r])}
                           for r in range(N) for R in radii])
    return ma.Results(runs=pd.DataFrame(rows), curves=pd.DataFrame(), radius=radius, tracking=pd.DataFrame())


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
    flat = crafted(final={m: np.zeros(N) for m in ("HPG-Cauchy", "SRMA-Cauchy", "PG-Gaussian")},
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
                    "PG-Gaussian": np.full(N, -100.0)}
    c = claim(crafted(accumulation=accumulation), "C4.pmc")
    assert c["status"] == status and "(HPG-Cauchy)" in c["claim"]
