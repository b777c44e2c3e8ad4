"""Sweep tasks of brief 06 (repro.pg.mirror_runs): outputs, determinism, and the summary statistics."""
import numpy as np
import pytest

from repro.pg.mirror_runs import (METHODS, late_fluctuation, loglog_slope, radius_run, run_method, tail_mean,
                                   tracking_error)
from repro.sweep import SERIAL, sweep

KNOBS = dict(sigma={"pmc": 1.0, "mario": 0.05, "pendulum": 1.0}, step_size=1e-3,
             gamma={"pmc": 0.97, "mario": 0.97, "pendulum": 0.97}, n_steps={"pmc": 40, "mario": 40, "pendulum": 30},
             n_iterations=6, batch_size=2, initial_batch=3, restart_every=3, eval_every=3, n_eval=2, n_features=5,
             feature_seed=0)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs_and_reports_curves_and_weight_counts(method):
    out = run_method("pmc", method, 1, **KNOBS)
    np.testing.assert_array_equal(out["eval_iterations"], [0, 3, 6])
    assert out["eval_return"].shape == out["eval_undiscounted"].shape == (3,)
    assert out["theta_norm"].shape == (7,) and out["direction_norm"].shape == (6,)
    assert out["final_return"] == out["eval_return"][-1]
    spec = METHODS[method]
    tracked = spec.algorithm == "srma" and spec.tracking
    assert (out["weights_computed"] > 0) == tracked
    assert 0 <= out["weights_overflowing"] + out["weights_vanishing"] <= out["weights_computed"]


def test_gym_task_uses_fourier_features_and_is_deterministic():
    a = run_method("pendulum", "SRMA-Cauchy", 2, **KNOBS)
    b = run_method("pendulum", "SRMA-Cauchy", 2, **KNOBS)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert (a["eval_undiscounted"] < 0).all()


def test_sweep_of_tasks_has_one_row_per_setting_and_seed():
    import functools
    result = sweep(functools.partial(run_method, **KNOBS), {"env": ["pmc", "mario"], "method": ["HPG-Cauchy"]},
                   [0, 1], client=SERIAL, progress=False)
    assert len(result) == 4 and result.stack("eval_return", env="mario").shape == (2, 3)


def test_radius_run_reports_both_gaps():
    out = radius_run(2.0, 0, sigma=1.0, step_size=1e-3, gamma=0.97, n_steps=30, n_iterations=10, batch_size=2,
                     tail_fraction=0.2, n_gradient=50, n_eval=5)
    assert out["gap_moving_average"] > 0 and out["gap_gradient"] >= 0 and np.isfinite(out["final_return"])


def test_summary_statistics():
    x = np.array([1.0, 2.0, 5.0, 10.0])
    slope, intercept = loglog_slope(x, 3.0 / x)
    assert slope == pytest.approx(-1.0) and intercept == pytest.approx(np.log(3.0))
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1.0, 2.0], [1.0, 0.0])
    curves = np.array([[0.0, 0.0, 1.0, 3.0], [5.0, 5.0, 5.0, 5.0]])
    np.testing.assert_allclose(tail_mean(curves, 0.5), [2.0, 5.0])
    np.testing.assert_allclose(late_fluctuation(curves, 0.5), [1.0, 0.0])


def test_tracking_error_diagnostic():
    from repro.pg import Policy
    out = tracking_error("pmc", Policy("cauchy", 1.0), step_size=1e-4, seeds=[0, 1], iterations=[1, 4], n_true=200,
                         gamma=0.97, n_steps=30, batch_size=3, initial_batch=5)
    assert out["iterations"] == [1, 4] and out["tracker_error"].shape == (2,)
    assert (out["tracker_error"] > 0).all() and out["plain_error"] > 0
