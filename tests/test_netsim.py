"""repro.netsim: the link kernel against its plain-Python twin, its invariants (hypothesis), the regimes, the vector
and gymnasium environments, the estimators, and the Minari round trip."""
import gymnasium
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.core.seeds import rng
from repro.netsim import (OOD_SCENARIOS, SCENARIOS, DelayGradient, KalmanEstimator, NetsimEnv, NoisyOracle, Oracle,
                          VectorLink, action_to_rate, link_step, link_step_reference, make_traces, rate_to_action,
                          register, rollout, step_calls)
from repro.netsim.link import BASE_RTT, DT

positive = st.floats(1e3, 5e7)
link_inputs = st.tuples(st.floats(0.0, 5e6), st.floats(0.0, 5e7), positive, st.floats(1e3, 1e7),
                        st.floats(0.0, 1.0), st.floats(0.0, 0.5))


@settings(max_examples=300, deadline=None)
@given(link_inputs)
def test_kernel_equals_its_python_twin(args):
    np.testing.assert_allclose(link_step(*args, BASE_RTT, DT), link_step_reference(*args), rtol=1e-9, atol=1e-6)


@settings(max_examples=300, deadline=None)
@given(link_inputs)
def test_link_invariants(args):
    queue, rate, capacity, buffer, loss_rate, jitter = args
    new_queue, delivered, lost, delay, reward = link_step(*args, BASE_RTT, DT)
    assert delivered <= capacity * DT * (1 + 1e-12)
    assert new_queue >= 0.0 and new_queue <= max(buffer, 0.0) * (1 + 1e-12) + 1e-9
    assert delay >= BASE_RTT / 2
    assert queue + rate * DT == pytest.approx(new_queue + delivered + lost, rel=1e-9, abs=1e-6)
    assert reward <= 5.0


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(SCENARIOS), st.integers(1, 12), st.integers(0, 2 ** 16))
def test_batched_steps_equal_per_call_twin_over_a_whole_call(scenario, n, seed):
    traces = make_traces(scenario, n, 40, rng(seed, "test-netsim"))
    link = VectorLink(traces)
    rates = action_to_rate(rng(seed, "test-rates").uniform(-1, 1, (40, n)))
    queues = np.zeros(n)
    for t in range(40):
        _, reward, _, _, info = link.step_rates(rates[t])
        for i in range(n):
            q, delivered, lost, delay, r = link_step_reference(queues[i], rates[t, i], traces.capacity[i, t],
                                                               traces.buffer[i], traces.loss_rate[i, t],
                                                               traces.jitter[i, t])
            queues[i] = q
            assert info["delay"][i] == pytest.approx(delay, rel=1e-9)
            assert reward[i] == pytest.approx(r, rel=1e-9, abs=1e-12)
            assert info["recv_rate"][i] <= traces.capacity[i, t] * (1 + 1e-12)
    np.testing.assert_allclose(link.queue, queues, rtol=1e-9, atol=1e-6)


def test_step_calls_writes_every_call():
    n = 5
    queue = np.zeros(n)
    outs = [np.full(n, np.nan) for _ in range(4)]
    step_calls(queue, np.full(n, 1e6), np.full(n, 5e5), np.full(n, 1e4), np.zeros(n), np.zeros(n), BASE_RTT, DT, *outs)
    delivered, lost, delay, reward = outs
    np.testing.assert_allclose(delivered, 5e5 * DT)                    # capacity-bound
    np.testing.assert_allclose(queue, 1e4)                             # buffer full
    np.testing.assert_allclose(lost, 1e6 * DT - 5e5 * DT - 1e4)         # the rest dropped
    np.testing.assert_allclose(delay, BASE_RTT / 2 + 1e4 / 5e5)


def test_action_scale_is_log_linear_10kbps_to_8mbps():
    np.testing.assert_allclose(action_to_rate([-1.0, 1.0, 0.0, 5.0]), [1e4, 8e6, np.sqrt(1e4 * 8e6), 8e6])
    a = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(rate_to_action(action_to_rate(a)), a, atol=1e-12)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenarios_mark_their_disturbance_and_are_reproducible(scenario):
    a, b = (make_traces(scenario, 30, 600, rng(1, "test-traces")) for _ in range(2))
    np.testing.assert_array_equal(a.capacity, b.capacity)
    assert (a.capacity >= 5e4).all() and (a.jitter >= 0).all() and ((0 <= a.loss_rate) & (a.loss_rate <= 1)).all()
    if scenario in OOD_SCENARIOS:
        assert 0.01 < a.ood.mean() < 0.95
    else:
        assert not a.ood.any()
    base = make_traces("in-distribution", 30, 600, rng(1, "test-traces"))
    if scenario == "loss-bursts":
        assert (a.loss_rate[a.ood] == 0.3).all()
    if scenario == "jitter":
        assert (a.jitter[a.ood] >= 0.1).all()
    if scenario == "capacity-drop":
        assert np.median(a.capacity[a.ood] / base.capacity[a.ood]) < 0.35


def test_regime_medians():
    traces = make_traces("in-distribution", 300, 200, rng(2, "test-regimes"))
    median = {r: np.median(traces.capacity[traces.regime == r]) for r in ("4g", "5g")}
    assert 2e6 < median["4g"] < 4.5e6 and 8e6 < median["5g"] < 18e6


def test_oracle_beats_behaviour_and_kalman_on_in_distribution_calls():
    traces = make_traces("in-distribution", 60, 300, rng(3, "test-policies"))
    returns = {name: rollout(VectorLink(traces), c, record_obs=False)["reward"].mean()
               for name, c in (("oracle", Oracle()), ("gcc", DelayGradient()), ("kalman", KalmanEstimator()),
                               ("noisy", NoisyOracle(rng(3, "noise"))))}
    assert returns["oracle"] > max(returns["gcc"], returns["kalman"], returns["noisy"])
    assert returns["gcc"] > 2.0


def test_observations_basic_and_msr_layout():
    traces = make_traces("in-distribution", 4, 30, rng(4, "test-obs"))
    out = rollout(VectorLink(traces), DelayGradient())
    assert out["obs"].shape == (4, 30, 4) and np.isfinite(out["obs"]).all()
    np.testing.assert_allclose(out["next_obs"][:, :, 3], out["action"], atol=1e-6)
    np.testing.assert_allclose(out["next_obs"][:, :, 1], out["delay"], rtol=1e-6)
    msr = VectorLink(traces, observation="msr")
    out = rollout(msr, DelayGradient())
    assert out["obs"].shape == (4, 30, 150) and np.isfinite(out["obs"]).all()
    last = out["next_obs"][:, -1].reshape(4, 15, 10)                  # feature-major, newest interval first
    np.testing.assert_allclose(last[:, 3, 0], out["delay"][:, -1], rtol=1e-6)
    np.testing.assert_allclose(last[:, 3, 1], out["delay"][:, -2], rtol=1e-6)
    np.testing.assert_allclose(last[:, 0, 0], out["recv_rate"][:, -1] / 1e6, rtol=1e-5)
    with pytest.raises(ValueError, match="observation"):
        VectorLink(traces, observation="wide")


def test_gymnasium_environment_is_registered_and_passes_the_checker():
    from gymnasium.utils.env_checker import check_env
    env = gymnasium.make(register(), scenario="jitter", n_steps=20)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    total, steps, truncated = 0.0, 0, False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(np.array([0.0], dtype=np.float32))
        total, steps = total + reward, steps + 1
    assert steps == 20 and np.isfinite(total) and obs.shape == (4,)
    with pytest.raises(ValueError, match="scenario"):
        NetsimEnv(scenario="satellite")


def test_minari_round_trip(tmp_path):
    pytest.importorskip("minari")
    from repro.netsim.dataset import collect, load_minari, write_minari
    data = collect(4, 25, rng(5, "test-minari"))
    assert list(data["behaviour"]) == ["delay-gradient"] * 2 + ["noisy-oracle"] * 2
    write_minari(data, "netsim-test-v0", tmp_path)
    write_minari(data, "netsim-test-v0", tmp_path)                     # replacing an existing copy works
    loaded = load_minari("netsim-test-v0", tmp_path)
    np.testing.assert_allclose(loaded.obs, data["obs"].reshape(-1, 4))
    np.testing.assert_allclose(loaded.next_obs, data["next_obs"].reshape(-1, 4))
    np.testing.assert_allclose(loaded.action[:, 0], data["action"].ravel(), rtol=1e-6)
    np.testing.assert_allclose(loaded.reward, data["reward"].ravel())
    assert loaded.done.sum() == 0


def test_quick_benchmark_reports_rates_and_the_ratio():
    from repro.bench.netsim import run
    out = run(quick=True)
    assert out["unit"] == "call-steps/s" and out["kernel_rate"] > 0 and out["reference_rate"] > 0
    assert out["speedup_vs_reference"] == pytest.approx(out["kernel_rate"] / out["reference_rate"], rel=0.05)
    assert isinstance(out["meets_target"], bool)
