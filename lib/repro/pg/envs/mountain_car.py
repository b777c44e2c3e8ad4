"""MountainCarContinuous-v0 dynamics (gymnasium semantics) and its sparse variant; brief 05 section 2 / brief 06
section 5 (H3 uses the sparse variant).

force = min(max(a, -1), 1); v += 0.0015 force - 0.0025 cos(3 x); v clipped to [-0.07, 0.07]; x += v clipped to
[-1.2, 0.6]; at the left wall a negative velocity is zeroed; terminated when x >= 0.45 and v >= 0.
Reward: 100 on termination minus 0.1 a^2 (on the action as given, as gymnasium does); ``sparse``: 100 on
termination only. gymnasium stores the state as float32 after each step; this kernel keeps float64.
"""
from __future__ import annotations

import math

from numba import njit

MIN_POSITION, MAX_POSITION = -1.2, 0.6
MAX_SPEED = 0.07
GOAL_POSITION, GOAL_VELOCITY = 0.45, 0.0
POWER = 0.0015
GOAL_REWARD, ACTION_COST = 100.0, 0.1


@njit(cache=True)
def mcc_step(position, velocity, a, sparse):
    """One MountainCarContinuous step: returns (position', velocity', reward, terminated)."""
    force = min(max(a, -1.0), 1.0)
    velocity += force * POWER - 0.0025 * math.cos(3.0 * position)
    velocity = min(max(velocity, -MAX_SPEED), MAX_SPEED)
    position += velocity
    position = min(max(position, MIN_POSITION), MAX_POSITION)
    if position == MIN_POSITION and velocity < 0.0:
        velocity = 0.0
    done = position >= GOAL_POSITION and velocity >= GOAL_VELOCITY
    reward = GOAL_REWARD if done else 0.0
    if not sparse:
        reward -= ACTION_COST * a * a
    return position, velocity, reward, done


def mcc_step_reference(position: float, velocity: float, a: float, sparse: bool):
    """Pure-Python twin of :func:`mcc_step` (the tests also hold the kernel equal to gymnasium itself)."""
    force = min(max(a, -1.0), 1.0)
    velocity = min(max(velocity + force * 0.0015 - 0.0025 * math.cos(3 * position), -0.07), 0.07)
    position = min(max(position + velocity, -1.2), 0.6)
    if position == -1.2 and velocity < 0:
        velocity = 0.0
    done = bool(position >= 0.45 and velocity >= 0.0)
    reward = (100.0 if done else 0.0) - (0.0 if sparse else math.pow(a, 2) * 0.1)
    return position, velocity, reward, done
