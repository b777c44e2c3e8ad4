"""repro.router.grid (brief 03 C7, Table 2): scenario workloads have the right classes, order and length ranges;
a reduced grid runs every cell with the same workload per scenario; the C7 statistic is right on hand-made values
and holds on the paper's own Table 2."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.router.grid import (
    CLASSES, PAPER_TABLE2, ROUTERS, GridConfig, class_sequence, routing_vs_batching, run_grid, scenario_workload,
)
from repro.router.service import ServiceModel

SMALL = dict(n_requests=40, rate=2.0)


def test_thresholds_follow_the_service_model():
    cfg = GridConfig()
    assert cfg.prompt_threshold == 1563                     # 0.5 s / 3.2e-4 s per token = 1562.5
    assert cfg.decode_threshold == 154                      # 5 s / 0.0325 s per token = 153.8


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["I", "II", "III", "IV"]), st.integers(4, 400), st.integers(0, 2**31 - 1))
def test_scenario_workloads_have_their_classes_and_length_ranges(scenario, n, seed):
    cfg = GridConfig(n_requests=n, seed=seed)
    w = scenario_workload(cfg, scenario)
    labels = np.array(CLASSES)[w.task]
    heavy_p, heavy_d = np.char.startswith(labels, "H"), np.char.endswith(labels, "H")
    assert (w.prompt[heavy_p] >= cfg.prompt_threshold).all() and (w.prompt[heavy_p] <= 4 * cfg.prompt_threshold).all()
    assert (w.prompt[~heavy_p] >= 1).all() and (w.prompt[~heavy_p] < cfg.prompt_threshold).all()
    assert (w.decode[heavy_d] >= cfg.decode_threshold).all() and (w.decode[heavy_d] <= 4 * cfg.decode_threshold).all()
    assert (w.decode[~heavy_d] < cfg.decode_threshold).all()
    assert np.all(np.diff(w.arrival) >= 0)
    counts = pd.Series(labels).value_counts()
    expected = {"I": {"LH", "HL"}, "II": set(CLASSES), "III": {"LH", "HL"}, "IV": {"LH", "HL"}}[scenario]
    assert set(counts.index) == expected
    assert counts.max() - counts.min() <= 1


def test_scenarios_iii_and_iv_are_blocks_in_order_and_i_is_shuffled():
    g = np.random.default_rng(0)
    assert list(class_sequence("III", 6, g)) == ["LH"] * 3 + ["HL"] * 3
    assert list(class_sequence("IV", 5, g)) == ["HL"] * 2 + ["LH"] * 3
    shuffled = class_sequence("I", 200, g)
    assert (shuffled[:100] == "LH").sum() not in (0, 100)


def test_same_seed_same_workload():
    a, b = scenario_workload(GridConfig(), "II"), scenario_workload(GridConfig(), "II")
    np.testing.assert_array_equal(a.prompt, b.prompt)
    np.testing.assert_array_equal(a.arrival, b.arrival)


def test_a_reduced_grid_runs_every_cell():
    grid = run_grid(GridConfig(**SMALL))
    assert len(grid) == 3 * 3 * 4
    assert set(grid["batching"]) == {"fcfs", "bin-packing", "least-work-left"}
    assert set(grid["router"]) == set(ROUTERS)
    assert (grid["unserved"] == 0).all() and (grid["e2e_total"] > 0).all()
    np.testing.assert_allclose(grid["e2e_total"], grid["e2e_mean"] * 40)


def test_every_router_gives_the_same_latency_when_requests_never_overlap():
    cfg = GridConfig(n_requests=4, rate=0.1, heavy_prompt_seconds=0.05, heavy_decode_seconds=0.5, seed=2,
                     batchings=("fcfs",), scenarios=("III",))
    w = scenario_workload(cfg, "III")
    biggest = w.prompt.max() + w.decode.max()
    longest = cfg.service.grad1 * w.prompt.max() + w.decode.max() * cfg.service.decode_time(biggest)
    assert np.diff(w.arrival).min() > longest + cfg.service.dt        # precondition of the known answer
    grid = run_grid(cfg)
    assert grid["e2e_total"].nunique() == 1


def test_routing_vs_batching_on_hand_made_values_and_on_the_paper_table():
    rows = [(b, r, s, v) for s in ("I", "II") for b, base in (("fcfs", 0.0), ("bin-packing", 1.0))
            for r, v in (("RR", 10.0 + base), ("Decode Balancer", 20.0), ("Dedicated Small-Large", 50.0))]
    grid = pd.DataFrame(rows, columns=["batching", "router", "scenario", "e2e_total"])
    stat = routing_vs_batching(grid)
    assert list(stat["router_spread"]) == [40.0, 39.0, 40.0, 39.0]
    assert (stat["max_batcher_spread"] == 1.0).all() and stat["routing_matters_more"].all()
    one_batcher = routing_vs_batching(grid[grid["batching"] == "fcfs"])
    assert one_batcher["routing_matters_more"].isna().all()          # undecided with a single batching
    paper = routing_vs_batching(PAPER_TABLE2)
    assert len(paper) == 6 and paper["routing_matters_more"].all()
    np.testing.assert_allclose(paper.set_index(["scenario", "batching"]).loc[("I", "fcfs"), "router_spread"],
                               704.5 - 605.65)


def test_bad_grid_config_is_rejected():
    with pytest.raises(ValueError, match="batchings"):
        GridConfig(batchings=("lifo",))
    with pytest.raises(ValueError, match="m:"):
        GridConfig(m=3)
    with pytest.raises(ValueError, match="kv_capacity"):
        scenario_workload(GridConfig(service=ServiceModel(kv_capacity=2000)), "III")


def test_plot_grid_draws_one_bar_per_cell():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from repro.router.grid import plot_grid
    fig, ax = plt.subplots()
    plot_grid(ax, PAPER_TABLE2)
    assert len(ax.patches) == 36
    plt.close(fig)
