"""repro.papers.heavy_tailed_pg (brief 05): the config, the eta sweep and the runs' tidy results, and every status
each claim can take."""
import numpy as np
import pandas as pd
import pytest

from repro import pg
from repro.core import seeds
from repro.papers import ParameterError, load_config
from repro.papers import heavy_tailed_pg as hpg
from repro.report import validate_metrics

SLUG = "heavy-tailed-pg"
N_SEEDS, N_RUNS = 8, 40
TINY = dict(n_iterations=20, gradnorm_smoothing=5, grad_checkpoints=3, grad_trajectories=4, tail_samples=100,
            eval_every=5)


@pytest.fixture(scope="module")
def cfg():
    return load_config(SLUG, scale="smoke", tail_samples=10_000)


# ---------------------------------------------------------------- config
def test_config_rejects_bad_values_in_one_message():
    bad = dict(n_seeds=1, gamma=1.5, meta_alphas=[2.5], step_sizes=[1e-2, 1e-3], tail_samples=50)
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", bogus=3, **bad)
    assert "bogus: unknown parameter" in str(err.value)
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", **bad)
    for name in ("n_seeds", "gamma", "meta_alphas", "step_sizes", "tail_samples"):
        assert f".{name}:" in str(err.value) or f" {name}:" in str(err.value) or f"{name}," in str(err.value)


# ---------------------------------------------------------------- runs
def test_run_at_smoke_scale_gives_tidy_tables():
    cfg = load_config(SLUG, scale="smoke")
    results = hpg.run(cfg)
    kinds = hpg.policy_kinds(cfg)
    tuning, runs = results.tuning, results.runs
    assert len(tuning) == len(hpg.ENVS) * len(kinds) * len(cfg.step_sizes) * cfg.tune_seeds
    assert len(runs) == len(hpg.ENVS) * len(kinds) * cfg.n_seeds
    assert set(runs.groupby(["env", "policy", "seed"]).size()) == {1}
    assert (runs.groupby(["env", "policy"])["step_size"].nunique() == 1).all()
    for column in ("settled_alpha_centred", "settled_alpha_raw", "alpha_volatility_raw", "zero_share", "gain",
                   "best_goal_gain", "start_best_goal_share", "final_return", "box_share", "attenuation", "budget"):
        assert column in runs.columns
    assert runs["zero_share"].between(0, 1).all() and runs["box_share"].between(0, 1).all()
    # every run is read at its environment's budget, the smallest step count of the compared runs
    assert (runs.groupby("env")["budget"].first() == runs.groupby("env")["total_steps"].min()).all()
    per_run = {"tail": cfg.grad_checkpoints, "evals": cfg.n_iterations // cfg.eval_every,
               "grad_norms": cfg.n_iterations, "checkpoints": cfg.grad_checkpoints}
    for name, points in per_run.items():
        table = getattr(results, name)
        assert len(table) == len(runs) * points, name
        assert list(table.columns[:3]) == ["env", "policy", "seed"]
    assert (results.evals.groupby(["env", "policy", "seed"])["steps"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert results.exits.groupby(["alpha", "width"]).size().eq(cfg.meta_runs).all()
    assert set(results.clipping["actions"].str.contains("never clipped")) == {True, False}
    # headline replicate r of an environment trains on the named stream ("hpg", env, r) at the method's best eta
    eta = runs.query("env == 'pmc' and policy == 'cauchy'")["step_size"].iloc[0]
    kernel = pg.hpg(pg.make_env("pmc"), pg.Policy("cauchy", cfg.sigma_pmc),
                    seeds=[seeds.seed_int(cfg.seed, "hpg", "pmc", 1)], n_iterations=cfg.n_iterations,
                    batch_size=cfg.batch_size, gamma=cfg.gamma, step_size=eta)
    norms = results.grad_norms.query("env == 'pmc' and policy == 'cauchy' and seed == 1")["grad_norm"]
    np.testing.assert_array_equal(norms.to_numpy(), kernel.grad_norm[0])
    claims = hpg.claims(results, cfg)
    assert [c["id"] for c in claims] == ["C1a centred", "C1a raw", "C1b centred", "C1b raw", "C2a centred",
                                         "C2a raw", "C2b centred", "C2b raw", "C3a", "C3b", "C4a", "C4b", "C5"]
    swept = hpg.sweep_summary(results)
    assert len(swept) == len(tuning) // cfg.tune_seeds and swept.groupby(["env", "policy"])["best"].sum().eq(1).all()
    assert (swept["low"] <= swept["high"]).where(swept["low"].notna(), True).all()


def test_replicates_and_seeds_get_different_streams():
    cfg = load_config(SLUG, scale="smoke", **TINY)
    first = hpg.train("pmc", "cauchy", 1e-3, 0, cfg)
    assert not np.array_equal(first["grad_norm"], hpg.train("pmc", "cauchy", 1e-3, 1, cfg)["grad_norm"])
    other = load_config(SLUG, scale="smoke", seed=1, **TINY)
    assert not np.array_equal(first["grad_norm"], hpg.train("pmc", "cauchy", 1e-3, 0, other)["grad_norm"])
    again = hpg.train("pmc", "cauchy", 1e-3, 0, cfg)
    for name in ("grad_norm", "checkpoint_alpha_raw", "steps"):
        np.testing.assert_array_equal(first[name], again[name])
    tuned = hpg.tune("pmc", "cauchy", 1e-3, 0, cfg)
    assert not np.array_equal(tuned["eval_return"], first["eval_return"])   # tuning replicates are other draws


def test_per_run_measurements():
    grads = np.zeros((10, 2, 2))
    grads[6, 1, 0] = 1.0
    grads[2] = 5.0
    assert hpg.nonzero_share(grads) == pytest.approx(0.2)
    mean, std = hpg.settled(np.array([1.0, np.nan, 2.0]))
    assert (mean, std) == (pytest.approx(1.5), pytest.approx(0.5))
    assert np.isnan(hpg.settled(np.array([1.0, np.nan]))[1])
    steps, values = np.array([0, 10, 20, 90, 95, 100, 150]), np.arange(7.0)
    assert hpg.at_budget(steps, values, 100) == pytest.approx(4.0)     # points at 90, 95, 100
    assert hpg.at_budget(steps, values, 60) == pytest.approx(2.0)      # none in [54, 60]: the last one before
    np.testing.assert_array_equal(hpg.spent_before(np.array([3, 4, 5]), np.array([0, 2, 3])), [0, 7, 12])
    x = hpg.zero_inflated_normal(1000, 0.25, seed=3)
    assert (x == 0).sum() == 250
    exits = pd.DataFrame({"alpha": 1.0, "width": np.repeat([1.0, 2.0, 4.0], 2), "run": [0, 1] * 3,
                          "exit_time": [10, 20, 40, 80, 160, 320], "exited": True})
    np.testing.assert_allclose(hpg.width_slopes(exits, 1.0), [2.0, 2.0])


def test_best_eta_skips_settings_that_fail_the_regime_check():
    """The highest-return setting has all-zero gradients: the regime check, not a hand-made list, drops it."""
    rows = [{"env": "mario", "policy": "cauchy", "step_size": eta, "seed": s, "final_eval_return": value,
             "mean_eval_return": speed, "nonzero_share": share}
            for eta, value, speed, share in ((1e-3, 0.9, 0.5, 1.0), (1e-2, 1.0, 0.5, 0.1), (1e-4, 0.5, 0.4, 1.0),
                                             (1e-5, 0.9, 0.3, 1.0)) for s in range(4)]
    assert hpg.best_step_sizes(pd.DataFrame(rows)) == {("mario", "cauchy"): 1e-3}   # ties: the faster learner
    none_pass = pd.DataFrame(rows).assign(nonzero_share=0.0)
    assert hpg.best_step_sizes(none_pass) == {("mario", "cauchy"): 1e-2}


def test_estimator_calibration_controls(cfg):
    controls = hpg.calibration(cfg)
    stable = controls[controls["control"] == "SαS"]
    ok = stable[(stable["true_alpha"] >= 1.0)]
    assert (abs(ok["alpha"] - ok["true_alpha"]) < 0.25).all()   # sd of alpha_hat ~0.1 at 10^4 draws, K1 = 100
    raw = controls[(controls["control"] != "SαS") & (controls["convention"] == "raw")].set_index("zero_share")
    assert abs(raw.loc[0.0, "alpha"] - 2.0) < 0.25 and raw.loc[0.9, "alpha"] < 0.3   # zeros read as heavy tails


# ---------------------------------------------------------------- claims on crafted results
def crafted_runs(overrides=None) -> pd.DataFrame:
    """Paper-like runs (every direction claim holds, every tail index at the paper's value in both conventions);
    ``overrides`` maps (env, policy, column) -> per-seed values."""
    rng = np.random.default_rng(0)
    alpha = {("mario", "gaussian"): 1.0, ("mario", "cauchy"): 0.2, ("pmc", "cauchy"): 1.0, ("pmc", "gaussian"): 1.8}
    base = {**{f"settled_alpha_{c}": alpha for c in ("centred", "raw")},
            **{f"alpha_volatility_{c}": {("pmc", "gaussian"): 0.5, ("pmc", "cauchy"): 0.1} for c in ("centred", "raw")},
            "gain": {("pmc", "cauchy"): 250.0, ("pmc", "gaussian"): 1.0},
            "best_goal_gain": {("pmc", "cauchy"): 0.5, ("pmc", "gaussian"): 0.0},
            "attenuation": {("pmc", "cauchy"): 0.9, ("mario", "cauchy"): 0.9}}
    rows = []
    for env in hpg.ENVS:
        for policy in ("gaussian", "cauchy"):
            for seed in range(N_SEEDS):
                row = {"env": env, "policy": policy, "seed": seed, "step_size": 1e-3, "nonzero_share": 1.0,
                       "zero_share": 0.0, "box_share": 0.1, "start_best_goal_share": 0.3, "final_best_goal_share": 0.8}
                for column, values in base.items():
                    row[column] = values.get((env, policy), 0.3) + 0.01 * rng.standard_normal()
                rows.append(row)
    runs = pd.DataFrame(rows)
    for (env, policy, column), values in (overrides or {}).items():
        runs.loc[(runs["env"] == env) & (runs["policy"] == policy), column] = values
    return runs


def crafted_exits(cfg, lighter_is_slower=True, exited=True) -> pd.DataFrame:
    """Exit times growing with alpha and (faster for larger alpha) with width, or the reverse."""
    rng = np.random.default_rng(1)
    settings = {(a, hpg.ALPHA_SWEEP_WIDTH) for a in cfg.meta_alphas}
    settings |= {(a, w) for a in cfg.meta_width_alphas for w in cfg.meta_widths}
    frames = []
    for alpha, width in sorted(settings):
        sign = 1.0 if lighter_is_slower else -1.0
        log_mean = 8.0 + sign * (3.0 * alpha + 2.0 * alpha * np.log(width))
        times = np.exp(log_mean + 0.3 * rng.standard_normal(N_RUNS))
        frames.append(pd.DataFrame({"alpha": alpha, "width": width, "run": np.arange(N_RUNS), "exit_time": times,
                                    "exited": exited or alpha < max(cfg.meta_alphas)}))
    return pd.concat(frames, ignore_index=True)


def crafted(cfg, runs=None, **exit_options) -> hpg.Results:
    empty = pd.DataFrame()
    return hpg.Results(tuning=empty, runs=crafted_runs() if runs is None else runs, tail=empty, evals=empty,
                       grad_norms=empty, checkpoints=empty, controls=empty, clipping=empty,
                       exits=crafted_exits(cfg, **exit_options))


def statuses(results, cfg) -> dict:
    claims = hpg.claims(results, cfg)
    metrics = {"paper": hpg.PAPER, "slug": SLUG, "scale": "smoke", "seed": 0, "data": {}, "claims": claims,
               "figures": [], "figure_sources": {}, "limitations": hpg.limitations(cfg)}
    validate_metrics(metrics, "crafted")
    return {c["id"]: c["status"] for c in claims}


TAIL_IDS = [f"{i} {c}" for i in ("C1a", "C1b", "C2a") for c in ("centred", "raw")]


def test_paper_like_results_reproduce_and_hold(cfg):
    assert statuses(crafted(cfg), cfg) == {
        **dict.fromkeys(TAIL_IDS, "reproduced"), "C2b centred": "direction-holds", "C2b raw": "direction-holds",
        **dict.fromkeys(("C3a", "C3b", "C4a", "C4b", "C5"), "direction-holds")}


def test_opposite_results_fail(cfg):
    overrides = {(env, policy, f"settled_alpha_{c}"): 1.9 for env, policy in hpg.PAPER_ALPHA
                 for c in ("centred", "raw")}
    overrides.update({("pmc", "cauchy", f"alpha_volatility_{c}"): 0.9 for c in ("centred", "raw")})
    overrides.update({("pmc", "gaussian", "gain"): 400.0, ("pmc", "cauchy", "gain"): -5.0,
                      ("pmc", "gaussian", "best_goal_gain"): 0.5, ("pmc", "cauchy", "best_goal_gain"): -0.3,
                      ("pmc", "cauchy", "attenuation"): 0.01, ("mario", "cauchy", "attenuation"): 0.01})
    assert set(statuses(crafted(cfg, crafted_runs(overrides), lighter_is_slower=False), cfg).values()) == {"failed"}


def test_regime_failures_make_claims_not_testable(cfg):
    runs = crafted_runs({("mario", "gaussian", "nonzero_share"): 0.0, ("mario", "gaussian", "zero_share"): 0.9,
                         ("mario", "cauchy", "zero_share"): 0.3, ("pmc", "cauchy", "start_best_goal_share"): 0.95})
    found = statuses(crafted(cfg, runs, exited=False), cfg)
    assert found == {**dict.fromkeys(TAIL_IDS[:4], "not-testable"), "C2a centred": "reproduced",
                     "C2a raw": "reproduced", "C2b centred": "direction-holds", "C2b raw": "direction-holds",
                     **dict.fromkeys(("C3a", "C3b", "C4a", "C4b", "C5"), "not-testable")}
    reason = {c["id"]: c["reason"] for c in hpg.claims(crafted(cfg, runs, exited=False), cfg)}
    assert "share of non-zero frozen estimates ĝ at k >= K/2, 1D Mario Gaussian = 0.1 (needs >= 0.5) fails" \
        in reason["C1a raw"]
    # 70% non-zero estimates pass the first check; the raw convention fails its calibration at that zero share
    assert "share of non-zero frozen estimates" not in reason["C1b raw"]
    assert "same zero share (0.3), raw convention = " in reason["C1b raw"] and "fails" in reason["C1b raw"]
    assert "bonanza already at θ_0 (room to learn) = 0.95 (needs <= 0.8) fails" in reason["C3a"]


def test_undecided_results_are_inconclusive(cfg):
    alternating = np.tile([-1.0, 1.0], N_SEEDS // 2)
    runs = crafted_runs({("mario", "gaussian", "settled_alpha_centred"): np.nan,
                         ("pmc", "gaussian", "alpha_volatility_raw"): 0.5 + alternating,
                         ("pmc", "cauchy", "alpha_volatility_raw"): 0.5,
                         ("pmc", "cauchy", "gain"): 10.0 + 5 * alternating, ("pmc", "gaussian", "gain"): 10.0,
                         ("pmc", "cauchy", "attenuation"): 0.3 + 0.2 * alternating,
                         ("mario", "cauchy", "attenuation"): 0.3,
                         ("mario", "gaussian", "attenuation"): 0.3, ("pmc", "gaussian", "attenuation"): 0.3})
    found = statuses(crafted(cfg, runs), cfg)
    keys = ("C1a centred", "C2b raw", "C3a", "C5")
    assert {k: found[k] for k in keys} == dict.fromkeys(keys, "inconclusive")
