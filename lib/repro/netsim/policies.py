"""Bandwidth estimators of the Streetwise emulator (brief 04 §3 "Baselines", §5 "Offline data"), vectorised over
calls.

A controller is called once per step as ``controller(link, info)`` (``info`` of the previous step, None at the start
of the call) and returns each call's send rate in bps; :func:`rollout` runs one over every call of a
:class:`~repro.netsim.env.VectorLink` and records the transitions.

* :class:`DelayGradient` (behaviour policy, GCC-like [our simplification of WebRTC's GCC]): over-use (the delay grew
  by more than 10 ms in a step, or exceeds 150 ms while growing) -> 0.85 x the receive rate; loss above 10% ->
  x (1 - loss/2); otherwise a multiplicative increase of 8% per step, capped at 1.5 x the receive rate + 50 kbps;
* :class:`NoisyOracle` (behaviour policy): the step's true available capacity x exp(N(0, sigma^2));
* :class:`KalmanEstimator` (the brief's UKF-style baseline, our simplification): a Kalman filter on the log
  receive rate with a random-walk state (process variance 0.01, observation variance 0.05); estimate = 1.05 x the
  filtered rate;
* :class:`Oracle`: the true available capacity (the upper bound).
"""
from __future__ import annotations

import numpy as np

from repro.netsim.env import VectorLink
from repro.netsim.link import MIN_RATE, rate_to_action

START_RATE = 3e5   # bps of every estimator's first step [our choice]


class DelayGradient:
    """GCC-like delay-gradient estimator (module docstring)."""

    def __init__(self, increase: float = 1.08, decrease: float = 0.85, overuse: float = 0.010):
        self.increase, self.decrease, self.overuse = increase, decrease, overuse
        self.estimate = self.last_delay = None

    def __call__(self, link: VectorLink, info):
        if info is None:
            self.estimate, self.last_delay = np.full(link.n, START_RATE), np.full(link.n, link.base_rtt / 2)
            return self.estimate.copy()
        recv, delay, loss = info["recv_rate"], info["delay"], info["loss"]
        gradient = delay - self.last_delay
        overuse = (gradient > self.overuse) | ((delay > 0.15) & (gradient > 0))
        grown = np.minimum(self.estimate * self.increase, 1.5 * recv + 5e4)
        estimate = np.where(loss > 0.1, self.estimate * (1.0 - loss / 2), grown)
        self.estimate = np.maximum(np.where(overuse, self.decrease * recv, estimate), MIN_RATE)
        self.last_delay = delay
        return self.estimate.copy()


class NoisyOracle:
    """The available capacity x a log-normal error (sigma, drawn from ``rng``)."""

    def __init__(self, rng: np.random.Generator, sigma: float = 0.3):
        self.rng, self.sigma = rng, float(sigma)

    def __call__(self, link: VectorLink, info):
        return link.traces.capacity[:, link.t] * np.exp(self.sigma * self.rng.standard_normal(link.n))


class Oracle:
    """The true available capacity of the step."""

    def __call__(self, link: VectorLink, info):
        return link.traces.capacity[:, link.t].copy()


class KalmanEstimator:
    """Random-walk Kalman filter on the log receive rate; estimate = ``margin`` x the filtered rate."""

    def __init__(self, process_var: float = 0.01, observation_var: float = 0.05, margin: float = 1.05):
        self.q, self.r, self.margin = process_var, observation_var, margin
        self.mean = self.var = None

    def __call__(self, link: VectorLink, info):
        if info is None:
            self.mean, self.var = np.full(link.n, np.log(START_RATE)), np.ones(link.n)
        else:
            z = np.log(np.maximum(info["recv_rate"], MIN_RATE))
            prior = self.var + self.q
            gain = prior / (prior + self.r)
            self.mean = self.mean + gain * (z - self.mean)
            self.var = (1.0 - gain) * prior
        return self.margin * np.exp(self.mean)


def rollout(link: VectorLink, controller, record_obs: bool = True) -> dict:
    """Run ``controller`` on every call of ``link`` from reset to the end of its traces.

    Returns arrays of shape (n, T): reward, rate (bps), action (rate on the action scale), capacity, recv_rate,
    delay, loss, ood; with ``record_obs`` also obs and next_obs (n, T, obs_dim)."""
    obs = link.reset()
    n, horizon = link.n, link.horizon
    keys = ("reward", "rate", "action", "capacity", "recv_rate", "delay", "loss")
    out = {k: np.empty((n, horizon)) for k in keys}
    out["ood"] = np.empty((n, horizon), dtype=bool)
    if record_obs:
        out["obs"] = np.empty((n, horizon, link.obs_dim), dtype=np.float32)
        out["next_obs"] = np.empty_like(out["obs"])
    info = None
    for t in range(horizon):
        rates = controller(link, info)
        actions = np.clip(rate_to_action(rates), -1.0, 1.0)
        next_obs, reward, _, _, info = link.step(actions)
        if record_obs:
            out["obs"][:, t], out["next_obs"][:, t] = obs, next_obs
        out["reward"][:, t], out["action"][:, t] = reward, actions
        for k in ("rate", "capacity", "recv_rate", "delay", "loss", "ood"):
            out[k][:, t] = info[k]
        obs = next_obs
    return out
