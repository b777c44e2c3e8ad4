"""Vector and gymnasium environments over the bottleneck-link kernel (brief 04 §5, "Observation").

:class:`VectorLink` steps every call of a :class:`~repro.netsim.regimes.Traces` at once (one numba call per step,
gymnasium's vector API: ``reset() -> obs``, ``step(actions) -> obs, reward, terminated, truncated, info``).
:class:`NetsimEnv` is one call as a ``gymnasium.Env``, registered as ``repro/NetsimBWE-v0`` (the environment the
Minari dataset names).

Observations [our choice]:

* ``"basic"`` (4 numbers, OpenNetLab-style): the receive rate of the last step on the action scale
  (:func:`~repro.netsim.link.rate_to_action`, clipped to [-2, 1.5]), the one-way delay (s), the loss fraction, the
  last action;
* ``"msr"`` (150 numbers, the MMSys'24 layout: 15 features x 10 monitor intervals of 60 ms, newest first, feature
  major): receive rate (Mbps), received kbit, send rate (Mbps), delay (s), queuing delay over the call's minimum (s),
  minimum delay (s), delay change (s), loss fraction, lost kbit, receive/send ratio, receive rate on the action
  scale, action, |delay change| (s), 600 ms mean receive rate (Mbps), 600 ms max delay (s). The names follow the
  challenge's layout; the challenge's exact feature definitions are not reproduced.
"""
from __future__ import annotations

import gymnasium
import numpy as np

from repro.netsim.link import BASE_RTT, DT, action_to_rate, rate_to_action, step_calls
from repro.netsim.regimes import SCENARIOS, Traces, make_traces

OBSERVATIONS = {"basic": 4, "msr": 150}
HISTORY = 10            # monitor intervals kept (600 ms): the MSR window and the shaping's receive-rate estimate
MSR_FEATURES = 15
ENV_ID = "repro/NetsimBWE-v0"


class VectorLink:
    """All calls of ``traces`` stepped together; ``observation`` is "basic" or "msr"."""

    def __init__(self, traces: Traces, observation: str = "basic", base_rtt: float = BASE_RTT):
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation={observation!r}: expected one of {sorted(OBSERVATIONS)}")
        self.traces, self.observation, self.base_rtt = traces, observation, float(base_rtt)
        self.n, self.horizon = traces.shape
        self.obs_dim = OBSERVATIONS[observation]
        self.buffer = np.ascontiguousarray(traces.buffer, dtype=np.float64)
        self.reset()

    def reset(self) -> np.ndarray:
        self.t = 0
        self.queue = np.zeros(self.n)
        self.action = np.full(self.n, -1.0)
        self.history = np.zeros((self.n, HISTORY, 6))        # recv bps, sent bps, delay, loss, lost bits, action
        self.history[:, :, 2] = self.base_rtt / 2
        self.min_delay = np.full(self.n, np.inf)
        return self.observe()

    def receive_estimate(self) -> np.ndarray:
        """Mean receive rate (bps) of the last 600 ms (fewer steps at the start of the call)."""
        k = min(self.t, HISTORY)
        return self.history[:, :k, 0].mean(axis=1) if k else np.zeros(self.n)

    def step(self, actions):
        """Send at ``action_to_rate(actions)`` for one step (actions: (n,) or (n, 1) in [-1, 1])."""
        actions = np.clip(np.asarray(actions, dtype=np.float64).reshape(self.n), -1.0, 1.0)
        return self.step_rates(action_to_rate(actions), actions)

    def step_rates(self, rates, actions=None):
        """Send at ``rates`` (bps, clipped to the action range) for one step."""
        if self.t >= self.horizon:
            raise RuntimeError("VectorLink.step after the last step of the traces: call reset()")
        rates = action_to_rate(rate_to_action(rates)) if actions is None else np.asarray(rates, dtype=np.float64)
        actions = rate_to_action(rates) if actions is None else actions
        t, tr = self.t, self.traces
        capacity = np.ascontiguousarray(tr.capacity[:, t])
        delivered, lost, delay, reward = (np.empty(self.n) for _ in range(4))
        step_calls(self.queue, np.ascontiguousarray(rates), capacity, self.buffer,
                   np.ascontiguousarray(tr.loss_rate[:, t]), np.ascontiguousarray(tr.jitter[:, t]), self.base_rtt, DT,
                   delivered, lost, delay, reward)
        sent = rates * DT
        loss = np.divide(lost, sent, out=np.zeros(self.n), where=sent > 0)
        self.history = np.roll(self.history, 1, axis=1)
        self.history[:, 0] = np.stack([delivered / DT, rates, delay, loss, lost, actions], axis=1)
        self.min_delay = np.minimum(self.min_delay, delay)
        self.action, self.t = actions, t + 1
        info = {"capacity": capacity, "rate": rates, "recv_rate": delivered / DT, "delay": delay, "loss": loss,
                "ood": tr.ood[:, t]}
        truncated = np.full(self.n, self.t == self.horizon)
        return self.observe(), reward, np.zeros(self.n, dtype=bool), truncated, info

    def observe(self) -> np.ndarray:
        h = self.history
        if self.observation == "basic":
            recv = np.clip(rate_to_action(h[:, 0, 0]), -2.0, 1.5)
            return np.stack([recv, h[:, 0, 2], h[:, 0, 3], self.action], axis=1).astype(np.float32)
        return msr_features(h, np.where(np.isfinite(self.min_delay), self.min_delay, self.base_rtt / 2))


def msr_features(history: np.ndarray, min_delay: np.ndarray) -> np.ndarray:
    """The 150-dim observation (module docstring) from a (n, 10, 6) history, newest interval first."""
    recv, sent, delay, loss, lost, action = (history[:, :, j] for j in range(6))
    change = delay - np.roll(delay, -1, axis=1)
    change[:, -1] = 0.0
    features = [recv / 1e6, recv * DT / 1e3, sent / 1e6, delay, delay - min_delay[:, None],
                np.repeat(min_delay[:, None], HISTORY, axis=1), change, loss, lost / 1e3,
                np.divide(recv, sent, out=np.zeros_like(recv), where=sent > 0), rate_to_action(recv), action,
                np.abs(change), np.repeat(recv.mean(axis=1, keepdims=True) / 1e6, HISTORY, axis=1),
                np.repeat(delay.max(axis=1, keepdims=True), HISTORY, axis=1)]
    return np.concatenate(features, axis=1).astype(np.float32)


class NetsimEnv(gymnasium.Env):
    """One call of ``scenario`` lasting ``n_steps`` steps of 60 ms; action in [-1, 1] (log-linear 10 kbps-8 Mbps).
    Each ``reset(seed=...)`` draws a fresh call from the environment's generator."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str = "in-distribution", n_steps: int = 1000, observation: str = "basic"):
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario={scenario!r}: expected one of {SCENARIOS}")
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation={observation!r}: expected one of {sorted(OBSERVATIONS)}")
        self.scenario, self.n_steps, self.observation_kind = scenario, int(n_steps), observation
        dim = OBSERVATIONS[observation]
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.link = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.link = VectorLink(make_traces(self.scenario, 1, self.n_steps, self.np_random), self.observation_kind)
        return self.link.observe()[0], {}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.link.step(np.asarray(action, dtype=np.float64).reshape(1))
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {k: v[0] for k, v in info.items()}


def register() -> str:
    """Register :class:`NetsimEnv` with gymnasium as ``repro/NetsimBWE-v0`` (idempotent); returns the id."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="repro.netsim.env:NetsimEnv")
    return ENV_ID
