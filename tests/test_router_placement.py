"""repro.router.placement and repro.router.mixing (brief 03 C8, fig01, fig02): the enumeration has m^n rows, is
trivial for one request, gives mirrored assignments equal latencies, the spike count from timings equals an
iteration-level count on the plain-Python twin, and the joining requests slow the first request down."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.router import cluster as k
from repro.router.env import EnvConfig, VectorRouterEnv
from repro.router.mixing import MixingConfig, first_request_progress, joiner_arrivals, mixing_effect
from repro.router.placement import (
    AssignmentRouter, PlacementConfig, all_assignments, enumerate_placements, interference_spikes,
    placement_summary, placement_workload,
)
from repro.router.reference import ReferenceCluster


def test_all_assignments_lists_every_placement_once():
    a = all_assignments(8, 2)
    assert a.shape == (256, 8)
    assert len({tuple(r) for r in a}) == 256
    assert all_assignments(3, 3).shape == (27, 3)


def test_one_request_has_m_identical_placements_with_its_isolated_latency():
    cfg = PlacementConfig(n_requests=1)
    rows = enumerate_placements(cfg)
    load = placement_workload(cfg)
    s = cfg.service
    prefill = s.grad1 * load.prompt[0]
    decodes = sum(s.decode_time(load.prompt[0] + o) for o in range(1, load.decode[0]))
    routed = np.ceil(load.arrival[0] / s.dt - 1e-9) * s.dt            # the first decision step after arrival
    assert len(rows) == 2
    assert rows["e2e_total"].nunique() == 1
    np.testing.assert_allclose(rows["e2e_total"], routed - load.arrival[0] + prefill + decodes, atol=1e-9)
    assert (rows["spikes"] == 0).all()


def test_the_enumeration_has_256_rows_mirror_symmetry_and_best_le_random_le_worst():
    rows = enumerate_placements(PlacementConfig()).set_index("assignment")
    assert len(rows) == 256
    for a in rows.index:
        mirror = "".join("1" if c == "0" else "0" for c in a)
        assert rows.loc[a, "e2e_total"] == rows.loc[mirror, "e2e_total"]
        assert rows.loc[a, "spikes"] == rows.loc[mirror, "spikes"]
    summary = placement_summary(rows.reset_index())
    assert summary["best"] <= summary["random"] <= summary["worst"]
    assert summary["random_over_best"] >= 1.0
    np.testing.assert_allclose(rows["e2e_mean"] * 8, rows["e2e_total"])


def test_same_seed_same_table_and_another_seed_another_workload():
    a, b = enumerate_placements(PlacementConfig(n_requests=3)), enumerate_placements(PlacementConfig(n_requests=3))
    pd.testing.assert_frame_equal(a, b)
    other = placement_workload(PlacementConfig(seed=1))
    assert not np.array_equal(other.prompt, placement_workload(PlacementConfig()).prompt)


def test_spikes_on_hand_made_timelines():
    # instance 0: request 0 decodes over (1, 5]; request 1 prefilled at 2 (spike); request 2 prefilled with 1 at 2
    # (same iteration, no extra spike); request 3 on instance 1 alone; request 4 on 0 after 0 finished (no spike)
    inst = np.array([[0, 0, 0, 1, 0]])
    first = np.array([[1.0, 2.0, 2.0, 2.5, 9.0]])
    done = np.array([[5.0, 3.0, 8.0, 4.0, 9.5]])
    assert interference_spikes(inst, first, done)[0] == 1
    # instance 1 now holds 1 and 2 (one prefill iteration at 2) and 3, which joins them at 2.5; 4 follows 0 on 0
    assert interference_spikes(np.array([[0, 1, 1, 1, 0]]), first, done)[0] == 1
    assert interference_spikes(np.array([[0, 1, 0, 1, 1]]), first, done)[0] == 2         # 2 joins 0; 3 joins 1


class SpikeCountingTwin(ReferenceCluster):
    """The plain-Python twin, counting prefill iterations that start while a request of the instance decodes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spikes = 0

    def start(self, inst, clock):
        decoding = any(r.status == "decode" for r in inst.requests)
        started = super().start(inst, clock)
        self.spikes += started and inst.kind == "prefill" and decoding
        return started


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1), st.floats(0.5, 4.0))
def test_spikes_from_timings_equal_the_iteration_level_count(n, seed, rate):
    cfg = PlacementConfig(n_requests=n, seed=seed, rate=rate)
    load = placement_workload(cfg)
    assignment = np.random.default_rng(seed).integers(0, 2, size=(1, n))
    env = VectorRouterEnv(EnvConfig(m=2, service=cfg.service), 1)
    twin = SpikeCountingTwin(cfg.service, load, 2)
    router = AssignmentRouter(assignment)
    router.reset(1)
    obs, info = env.reset([load])
    while not env.finished[0]:
        action = router.act(obs, info["aux"])
        obs, _, _, _, info = env.step(action)
        twin.step(int(action[0]))
    assert env.req_i[0, :, k.NPRE].sum() == 0
    np.testing.assert_array_equal(env.req_i[0, :, k.INST], assignment[0])
    counted = interference_spikes(env.req_i[:, :, k.INST], env.req_f[:, :, k.T_FIRST], env.req_f[:, :, k.T_DONE])
    assert counted[0] == twin.spikes


def test_bad_placement_config_is_rejected():
    with pytest.raises(ValueError, match="n_requests"):
        PlacementConfig(n_requests=0)
    with pytest.raises(ValueError, match="min_tokens"):
        PlacementConfig(min_tokens=50, max_tokens=10)


def test_mixing_alone_is_the_isolated_timeline_and_joiners_slow_the_first_request():
    cfg = MixingConfig(first_prompt=200, first_decode=120, joiner_prompt=100, joiner_decode=100, every=40)
    s = cfg.service
    alone = first_request_progress(cfg, [])
    expected_end = s.grad1 * 200 + sum(s.decode_time(200 + o) for o in range(1, 120))
    np.testing.assert_allclose(alone[-1], expected_end, atol=1e-9)
    assert np.all(np.diff(alone) >= 0)
    arrivals = joiner_arrivals(cfg)
    assert len(arrivals) == 2                                        # at tokens 40 and 80
    np.testing.assert_allclose(arrivals[0], alone[39], atol=1e-12)    # the first joiner arrives on the alone path
    effect = mixing_effect(cfg)
    assert len(effect) == 120
    assert (effect["mixed"] >= effect["alone"] - 1e-12).all()
    assert effect["mixed"].iloc[-1] > effect["alone"].iloc[-1] + 2 * s.grad1 * 100 - 1e-9   # two joiner prefills
    np.testing.assert_array_equal(effect["mixed"][:40], effect["alone"][:40])


def test_the_figure_functions_draw_on_an_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from repro.router.mixing import plot_mixing
    from repro.router.placement import plot_placements
    fig, (a, b) = plt.subplots(1, 2)
    plot_placements(a, enumerate_placements(PlacementConfig(n_requests=3)))
    plot_mixing(b, mixing_effect(MixingConfig(first_prompt=50, first_decode=30, every=10)))
    assert len(a.collections) == 1 and len(b.lines) == 2
    plt.close(fig)
