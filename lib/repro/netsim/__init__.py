"""A batched bottleneck-link emulator for bandwidth estimation in real-time calls (brief 04, Streetwise, §5).

* :mod:`repro.netsim.link`     -- the numba link kernel (60 ms steps, drop-tail queue, loss, MOS-proxy reward) and
  its plain-Python twin;
* :mod:`repro.netsim.regimes`  -- in-distribution capacity traces (4G, 5G, wired) and the exogenous OOD scenarios;
* :mod:`repro.netsim.env`      -- the vector API over thousands of calls, the 4-dim and 150-dim observations, and a
  gymnasium environment registered as ``repro/NetsimBWE-v0``;
* :mod:`repro.netsim.policies` -- GCC-like behaviour policy, noisy oracle, Kalman (UKF-style) baseline, oracle;
* :mod:`repro.netsim.dataset`  -- the in-distribution offline dataset in Minari's format.
"""
from repro.netsim.env import ENV_ID, NetsimEnv, VectorLink, register
from repro.netsim.link import action_to_rate, link_step, link_step_reference, rate_to_action, step_calls
from repro.netsim.policies import DelayGradient, KalmanEstimator, NoisyOracle, Oracle, rollout
from repro.netsim.regimes import OOD_SCENARIOS, SCENARIOS, Traces, make_traces

__all__ = ["DelayGradient", "ENV_ID", "KalmanEstimator", "NetsimEnv", "NoisyOracle", "OOD_SCENARIOS", "Oracle",
           "SCENARIOS", "Traces", "VectorLink", "action_to_rate", "link_step", "link_step_reference", "make_traces",
           "rate_to_action", "register", "rollout", "step_calls"]
