"""Link regimes of the Streetwise emulator: in-distribution capacity traces and exogenous OOD disturbances
(brief 04 §5, "Synthetic BWE emulator" and "OOD test regimes"). Every number here is [our choice].

In-distribution (the offline data sees only these): piecewise-constant capacity over 200 ms segments whose
log-level is an AR(1) process (coefficient 0.9) around the call's median, one of

* ``4g``: median 3 Mbps, log-sd 0.5;   * ``5g``: median 12 Mbps, log-sd 0.5;
* ``wired``: median log-uniform on 0.2-35 Mbps per call, log-sd 0.15 (OpenNetLab's wired traces);

with iid random loss U(0, 1%) per call, jitter Exp(2 ms) per step, a drop-tail buffer of 250 ms at the call's median
capacity. Regimes are dealt to calls in equal shares.

OOD scenarios keep that base and add one exogenous process (``ood`` marks the steps where it acts):

* ``cross-traffic``: a Markov chain over cross-traffic shares {0, 0.2, 0.4, 0.6, 0.8} (leaves its level with
  probability 0.03 per step, to a uniform level); the call gets capacity x (1 - share);
* ``capacity-drop``: with probability 0.005 per step a drop to U(5%, 30%) of capacity for U(2, 6) s;
* ``loss-bursts``: Gilbert-Elliott loss, good -> bad 0.01, bad -> good 0.15 per step, 30% loss when bad;
* ``jitter``: jitter spikes, on with probability 0.01, off with 0.1 per step, U(100, 400) ms extra delay while on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.netsim.link import DT

REGIMES = ("4g", "5g", "wired")
SCENARIOS = ("in-distribution", "cross-traffic", "capacity-drop", "loss-bursts", "jitter")
OOD_SCENARIOS = SCENARIOS[1:]
SEGMENT = 0.2               # seconds of constant capacity
AR_COEFFICIENT = 0.9
MIN_CAPACITY = 5e4          # bps
BUFFER_SECONDS = 0.25
_MEDIAN_SD = {"4g": (3e6, 0.5), "5g": (12e6, 0.5), "wired": (None, 0.15)}
WIRED_RANGE = (2e5, 35e6)
CROSS_SHARES = np.array([0.0, 0.2, 0.4, 0.6, 0.8])


@dataclass(frozen=True)
class Traces:
    """Exogenous inputs of ``n`` calls over ``T`` steps: available capacity (bps), random-loss rate, jitter (s) and
    the OOD mask, each (n, T); the buffer (bits) and the regime name per call, (n,)."""
    capacity: np.ndarray
    loss_rate: np.ndarray
    jitter: np.ndarray
    ood: np.ndarray
    buffer: np.ndarray
    regime: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.capacity.shape

    def take(self, index) -> "Traces":
        """The calls ``index`` (e.g. ``np.tile(np.arange(n), k)`` to replay the same calls k times)."""
        return Traces(*(getattr(self, f)[index] for f in ("capacity", "loss_rate", "jitter", "ood", "buffer",
                                                            "regime")))


def markov_chain(rng, n: int, steps: int, p_leave: np.ndarray, start) -> np.ndarray:
    """States (n, steps) of chains on {0, .., k-1}: from state s leave with p_leave[s] to a uniform other state."""
    k = len(p_leave)
    out = np.empty((n, steps), dtype=np.int64)
    state = np.broadcast_to(np.asarray(start), (n,)).astype(np.int64).copy()
    leave = rng.random((n, steps))
    jump = rng.integers(1, k, size=(n, steps)) if k > 1 else np.zeros((n, steps), dtype=np.int64)
    for t in range(steps):
        out[:, t] = state
        moving = leave[:, t] < p_leave[state]
        state = np.where(moving, (state + jump[:, t]) % k, state)
    return out


def base_capacity(rng, regimes: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(capacity (n, steps) bps, median (n,) bps) of the in-distribution regimes."""
    n = regimes.size
    medians, sds = np.empty(n), np.empty(n)
    for name, (median, sd) in _MEDIAN_SD.items():
        rows = regimes == name
        if median is None:
            medians[rows] = np.exp(rng.uniform(*np.log(WIRED_RANGE), size=rows.sum()))
        else:
            medians[rows] = median
        sds[rows] = sd
    n_segments = int(np.ceil(steps * DT / SEGMENT)) + 1
    noise = rng.standard_normal((n, n_segments))
    level = np.empty((n, n_segments))
    level[:, 0] = noise[:, 0]
    for k in range(1, n_segments):
        level[:, k] = AR_COEFFICIENT * level[:, k - 1] + np.sqrt(1 - AR_COEFFICIENT ** 2) * noise[:, k]
    segment = np.floor(np.arange(steps) * DT / SEGMENT + 1e-9).astype(np.int64)
    capacity = medians[:, None] * np.exp(sds[:, None] * level[:, segment])
    return np.maximum(capacity, MIN_CAPACITY), medians


def make_traces(scenario: str, n_calls: int, n_steps: int, rng: np.random.Generator) -> Traces:
    """``n_calls`` calls of ``n_steps`` steps of ``scenario`` (one of :data:`SCENARIOS`), drawn from ``rng``."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario={scenario!r}: expected one of {SCENARIOS}")
    if n_calls < 1 or n_steps < 1:
        raise ValueError(f"make_traces: expected n_calls >= 1 and n_steps >= 1, got {n_calls}, {n_steps}")
    regimes = np.array(REGIMES)[np.arange(n_calls) % len(REGIMES)]
    capacity, medians = base_capacity(rng, regimes, n_steps)
    loss_rate = np.repeat(rng.uniform(0.0, 0.01, size=(n_calls, 1)), n_steps, axis=1)
    jitter = rng.exponential(0.002, size=(n_calls, n_steps))
    ood = np.zeros((n_calls, n_steps), dtype=bool)
    if scenario == "cross-traffic":
        share = CROSS_SHARES[markov_chain(rng, n_calls, n_steps, np.full(len(CROSS_SHARES), 0.03), 0)]
        capacity = np.maximum(capacity * (1.0 - share), MIN_CAPACITY)
        ood = share > 0
    elif scenario == "capacity-drop":
        ood, factor = capacity_drops(rng, n_calls, n_steps)
        capacity = np.maximum(capacity * np.where(ood, factor, 1.0), MIN_CAPACITY)
    elif scenario == "loss-bursts":
        ood = markov_chain(rng, n_calls, n_steps, np.array([0.01, 0.15]), 0) == 1
        loss_rate = np.where(ood, 0.3, loss_rate)
    elif scenario == "jitter":
        ood = markov_chain(rng, n_calls, n_steps, np.array([0.01, 0.1]), 0) == 1
        jitter = jitter + np.where(ood, rng.uniform(0.1, 0.4, size=(n_calls, n_steps)), 0.0)
    return Traces(capacity, loss_rate, jitter, ood, BUFFER_SECONDS * medians, regimes)


def capacity_drops(rng, n: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask, factor), each (n, steps): drops start with probability 0.005 per step, last U(2, 6) s at U(5%, 30%)."""
    mask = np.zeros((n, steps), dtype=bool)
    factor = np.ones((n, steps))
    starts = rng.random((n, steps)) < 0.005
    lengths = np.round(rng.uniform(2.0, 6.0, size=(n, steps)) / DT).astype(np.int64)
    levels = rng.uniform(0.05, 0.3, size=(n, steps))
    for i, t in zip(*np.nonzero(starts)):
        end = min(steps, t + lengths[i, t])
        fresh = ~mask[i, t:end]
        factor[i, t:end][fresh] = levels[i, t]
        mask[i, t:end] = True
    return mask, factor
