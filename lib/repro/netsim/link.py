"""The bottleneck link of the Streetwise BWE emulator (brief 04 §5, "Synthetic BWE emulator"), one 60 ms step.

A fluid model of one call's path [our choice; conventions of the MMSys'24 challenge and OpenNetLab gym]:
the sender sends at the rate its bandwidth estimate sets for the whole step of ``dt`` seconds; a share
``loss_rate`` of what it sends is lost on the path (random loss, e.g. a Gilbert-Elliott burst); the rest joins a
drop-tail queue served at the link's available capacity; what exceeds the buffer after service is dropped.

    sent      = rate * dt
    arriving  = sent * (1 - loss_rate)
    delivered = min(queue + arriving, capacity * dt)
    queue'    = queue + arriving - delivered,  dropped = max(0, queue' - buffer),  queue' -= dropped
    delay     = base_rtt / 2 + queue' / capacity + jitter          (one-way delay of the step's last packet)
    loss      = (sent - arriving + dropped) / sent                  (0 when nothing is sent)

so delivered <= capacity * dt, 0 <= queue <= buffer, delay >= base_rtt / 2 and queue + sent = queue' + delivered + lost
(the property tests). Reward (brief §5, MOS proxy): r = 5 clip(recv / capacity, 0, 1) - 2 max(0, delay - 0.1) - 5 loss
with recv = delivered / dt. Actions map log-linearly from [-1, 1] to 10 kbps .. 8 Mbps (OpenNetLab).

:func:`step_calls` steps thousands of independent calls in one call (struct of arrays); :func:`link_step_reference`
is the plain-Python twin the tests hold it equal to.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

DT = 0.060                     # seconds per step (MMSys'24 monitor interval)
BASE_RTT = 0.040               # seconds [our choice]
MIN_RATE, MAX_RATE = 1e4, 8e6  # bps: the action range (OpenNetLab)
DELAY_TARGET = 0.1             # seconds: the MOS proxy penalises one-way delay above this
RECV_WEIGHT, DELAY_WEIGHT, LOSS_WEIGHT = 5.0, 2.0, 5.0


@njit(cache=True)
def link_step(queue, rate, capacity, buffer, loss_rate, jitter, base_rtt, dt):
    """One step of one call: returns (queue', delivered bits, lost bits, one-way delay s, reward)."""
    sent = rate * dt
    arriving = sent * (1.0 - loss_rate)
    delivered = min(queue + arriving, capacity * dt)
    new_queue = queue + arriving - delivered
    dropped = max(0.0, new_queue - buffer)
    new_queue -= dropped
    delay = 0.5 * base_rtt + new_queue / capacity + jitter
    lost = sent - arriving + dropped
    loss = lost / sent if sent > 0.0 else 0.0
    share = min(max(delivered / dt / capacity, 0.0), 1.0)
    reward = RECV_WEIGHT * share - DELAY_WEIGHT * max(0.0, delay - DELAY_TARGET) - LOSS_WEIGHT * loss
    return new_queue, delivered, lost, delay, reward


@njit(cache=True)
def step_calls(queue, rates, capacity, buffer, loss_rate, jitter, base_rtt, dt, delivered, lost, delay, reward):
    """Step every call i with send rate ``rates[i]`` (bps) on its link (capacity, loss_rate, jitter of this step;
    buffer in bits); ``queue`` (bits) is updated in place, the other outputs are written per call."""
    for i in range(rates.size):
        queue[i], delivered[i], lost[i], delay[i], reward[i] = link_step(
            queue[i], rates[i], capacity[i], buffer[i], loss_rate[i], jitter[i], base_rtt, dt)


def link_step_reference(queue: float, rate: float, capacity: float, buffer: float, loss_rate: float, jitter: float,
                        base_rtt: float = BASE_RTT, dt: float = DT) -> tuple[float, float, float, float, float]:
    """Plain-Python twin of :func:`link_step`, written from the equations of the module docstring."""
    sent = rate * dt
    random_loss = sent * loss_rate
    backlog = queue + sent - random_loss
    delivered = min(backlog, capacity * dt)
    overflow = max(0.0, backlog - delivered - buffer)
    new_queue = backlog - delivered - overflow
    delay = base_rtt / 2 + new_queue / capacity + jitter
    loss = (random_loss + overflow) / sent if sent > 0 else 0.0
    reward = 5 * min(max(delivered / dt / capacity, 0.0), 1.0) - 2 * max(0.0, delay - 0.1) - 5 * loss
    return new_queue, delivered, random_loss + overflow, delay, reward


def action_to_rate(action):
    """[-1, 1] -> 10 kbps .. 8 Mbps, log-linear (actions outside the box are clipped)."""
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return MIN_RATE * (MAX_RATE / MIN_RATE) ** ((a + 1.0) / 2.0)


def rate_to_action(rate):
    """The inverse of :func:`action_to_rate` (not clipped: rates outside the range map outside [-1, 1])."""
    rate = np.maximum(np.asarray(rate, dtype=np.float64), 1.0)
    return 2.0 * np.log(rate / MIN_RATE) / math.log(MAX_RATE / MIN_RATE) - 1.0
