"""repro.papers.heavy_tailed_pg (brief 05): the config, the runs' tidy results, and every status each claim can take."""
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


@pytest.fixture(scope="module")
def cfg():
    return load_config(SLUG, scale="smoke")


# ---------------------------------------------------------------- config
def test_config_rejects_bad_values_in_one_message():
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", n_seeds=1, gamma=1.5, meta_alphas=[2.5], tail_window=150, bogus=3)
    text = str(err.value)
    assert "bogus: unknown parameter" in text
    with pytest.raises(ParameterError) as err:
        load_config(SLUG, scale="smoke", n_seeds=1, gamma=1.5, meta_alphas=[2.5], tail_window=150)
    text = str(err.value)
    for name in ("n_seeds", "gamma", "meta_alphas", "tail_window"):
        assert f".{name}:" in text


# ---------------------------------------------------------------- runs
def test_run_at_smoke_scale_gives_tidy_tables(cfg):
    results = hpg.run(cfg)
    kinds = hpg.policy_kinds(cfg)
    runs = results.runs
    assert len(runs) == len(hpg.ENVS) * len(kinds) * cfg.n_seeds
    assert set(runs.groupby(["env", "policy", "seed"]).size()) == {1}
    for column in ("settled_alpha", "alpha_volatility", "nonzero_share", "final_return", "final_best_goal_share",
                   "box_share", "attenuation"):
        assert column in runs.columns
    assert runs["nonzero_share"].between(0, 1).all() and runs["box_share"].between(0, 1).all()
    n_windows = len(range(cfg.tail_window, cfg.n_iterations + 1, cfg.tail_stride))
    per_run = {"tail": n_windows, "evals": cfg.n_iterations // cfg.eval_every, "grad_norms": cfg.n_iterations,
               "checkpoints": cfg.grad_checkpoints}
    for name, points in per_run.items():
        table = getattr(results, name)
        assert len(table) == len(runs) * points, name
        assert list(table.columns[:3]) == ["env", "policy", "seed"]
    assert results.exits.groupby(["alpha", "width"]).size().eq(cfg.meta_runs).all()
    assert set(results.exits["alpha"]) == set(cfg.meta_alphas) | set(cfg.meta_width_alphas)
    # replicate r of an environment trains on the named stream ("hpg", env, r): the batched kernel's row for it
    kernel = pg.hpg(pg.make_env("pmc"), pg.Policy("cauchy", cfg.sigma_pmc),
                    seeds=[seeds.seed_int(cfg.seed, "hpg", "pmc", 1)], n_iterations=cfg.n_iterations,
                    batch_size=cfg.batch_size, gamma=cfg.gamma, step_size=cfg.step_size_pmc)
    norms = results.grad_norms.query("env == 'pmc' and policy == 'cauchy' and seed == 1")["grad_norm"]
    np.testing.assert_array_equal(norms.to_numpy(), kernel.grad_norm[0])
    claims = hpg.claims(results, cfg)
    assert [c["id"] for c in claims] == ["C1a", "C1b", "C2a", "C2b", "C3", "C4a", "C4b", "C5"]
    bands = hpg.seed_bands(results.tail, "alpha_hat", "window_end")
    assert len(bands) == len(hpg.ENVS) * len(kinds) * n_windows
    assert (bands["low"] <= bands["high"]).where(bands["low"].notna(), True).all()


def test_replicates_and_seeds_get_different_streams():
    tiny = dict(n_iterations=20, tail_window=10, gradnorm_smoothing=5, grad_checkpoints=2, grad_trajectories=4)
    cfg = load_config(SLUG, scale="smoke", **tiny)
    first = hpg.train("pmc", "cauchy", 0, cfg)["grad_norm"]
    assert not np.array_equal(first, hpg.train("pmc", "cauchy", 1, cfg)["grad_norm"])
    other = load_config(SLUG, scale="smoke", seed=1, **tiny)
    assert not np.array_equal(first, hpg.train("pmc", "cauchy", 0, other)["grad_norm"])
    np.testing.assert_array_equal(first, hpg.train("pmc", "cauchy", 0, cfg)["grad_norm"])


def test_per_run_measurements():
    grads = np.zeros((10, 2, 2))
    grads[6, 1, 0] = 1.0
    grads[2] = 5.0
    assert hpg.nonzero_share(grads) == pytest.approx(0.2)
    ends = np.array([2, 4, 6, 8, 10])
    mean, std = hpg.settled_alpha(ends, np.array([9.0, 9.0, 1.0, np.nan, 2.0]), 10)
    assert (mean, std) == (pytest.approx(1.5), pytest.approx(0.5))
    assert np.isnan(hpg.settled_alpha(ends, np.array([1.0, 1.0, np.nan, np.nan, 2.0]), 10)[1])
    assert hpg.final_mean(np.arange(20.0)) == pytest.approx(18.5)
    exits = pd.DataFrame({"alpha": 1.0, "width": np.repeat([1.0, 2.0, 4.0], 2), "run": [0, 1] * 3,
                          "exit_time": [10, 20, 40, 80, 160, 320], "exited": True})
    np.testing.assert_allclose(hpg.width_slopes(exits, 1.0), [2.0, 2.0])


# ---------------------------------------------------------------- claims on crafted results
def crafted_runs(overrides=None) -> pd.DataFrame:
    """Paper-like runs (every direction claim holds, every tail index at the paper's value); ``overrides`` maps
    (env, policy, column) -> per-seed values."""
    rng = np.random.default_rng(0)
    base = {"settled_alpha": {("mario", "gaussian"): 1.0, ("mario", "cauchy"): 0.2, ("pmc", "cauchy"): 1.0,
                              ("pmc", "gaussian"): 1.8},
            "alpha_volatility": {("pmc", "gaussian"): 0.5, ("pmc", "cauchy"): 0.1},
            "final_return": {("pmc", "cauchy"): 490.0, ("pmc", "gaussian"): 9.0},
            "attenuation": {("pmc", "cauchy"): 0.9, ("mario", "cauchy"): 0.9}}
    rows = []
    for env in hpg.ENVS:
        for policy in ("gaussian", "cauchy"):
            for seed in range(N_SEEDS):
                row = {"env": env, "policy": policy, "seed": seed, "nonzero_share": 1.0, "box_share": 0.1,
                       "final_best_goal_share": 0.0}
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
    return hpg.Results(runs=crafted_runs() if runs is None else runs, tail=empty, evals=empty, grad_norms=empty,
                       checkpoints=empty, exits=crafted_exits(cfg, **exit_options))


def statuses(results, cfg) -> dict:
    claims = hpg.claims(results, cfg)
    metrics = {"paper": hpg.PAPER, "slug": SLUG, "scale": "smoke", "seed": 0, "data": {}, "claims": claims,
               "figures": [], "figure_sources": {}, "limitations": hpg.limitations(cfg)}
    validate_metrics(metrics, "crafted")
    return {c["id"]: c["status"] for c in claims}


def test_paper_like_results_reproduce_and_hold(cfg):
    assert statuses(crafted(cfg), cfg) == {
        "C1a": "reproduced", "C1b": "reproduced", "C2a": "reproduced", "C2b": "direction-holds",
        "C3": "direction-holds", "C4a": "direction-holds", "C4b": "direction-holds", "C5": "direction-holds"}


def test_opposite_results_fail(cfg):
    runs = crafted_runs({("mario", "gaussian", "settled_alpha"): 1.9, ("mario", "cauchy", "settled_alpha"): 1.9,
                         ("pmc", "cauchy", "settled_alpha"): 1.9, ("pmc", "cauchy", "alpha_volatility"): 0.9,
                         ("pmc", "gaussian", "final_return"): 495.0, ("pmc", "cauchy", "final_return"): 5.0,
                         ("pmc", "cauchy", "attenuation"): 0.01, ("mario", "cauchy", "attenuation"): 0.01})
    assert set(statuses(crafted(cfg, runs, lighter_is_slower=False), cfg).values()) == {"failed"}


def test_regime_failures_make_claims_not_testable(cfg):
    runs = crafted_runs({("mario", "gaussian", "nonzero_share"): 0.0, ("mario", "cauchy", "nonzero_share"): 0.3,
                         ("pmc", "cauchy", "box_share"): 0.0})
    found = statuses(crafted(cfg, runs, exited=False), cfg)
    assert found == {"C1a": "not-testable", "C1b": "not-testable", "C2a": "reproduced", "C2b": "direction-holds",
                     "C3": "not-testable", "C4a": "not-testable", "C4b": "not-testable", "C5": "not-testable"}
    reason = {c["id"]: c["reason"] for c in hpg.claims(crafted(cfg, runs, exited=False), cfg)}
    assert "1D Mario Gaussian = 0 (needs >= 0.5) fails" in reason["C1a"]
    assert "action box, PMC Cauchy = 0 (needs > 0) fails" in reason["C3"]


def test_undecided_results_are_inconclusive(cfg):
    alternating = np.tile([-1.0, 1.0], N_SEEDS // 2)
    runs = crafted_runs({("mario", "gaussian", "settled_alpha"): np.nan,
                         ("pmc", "gaussian", "alpha_volatility"): 0.5 + alternating,
                         ("pmc", "cauchy", "alpha_volatility"): 0.5,
                         ("pmc", "cauchy", "final_return"): 10.0 + 5 * alternating,
                         ("pmc", "gaussian", "final_return"): 10.0,
                         ("pmc", "cauchy", "attenuation"): 0.3 + 0.2 * alternating,
                         ("mario", "cauchy", "attenuation"): 0.3,
                         ("mario", "gaussian", "attenuation"): 0.3, ("pmc", "gaussian", "attenuation"): 0.3})
    found = statuses(crafted(cfg, runs), cfg)
    assert {k: found[k] for k in ("C1a", "C2b", "C3", "C5")} == dict.fromkeys(("C1a", "C2b", "C3", "C5"),
                                                                              "inconclusive")
