"""Pendulum-v1 dynamics (gymnasium semantics): brief 06 section 5 ("gym tasks via numba-reimplemented dynamics").

State (theta, theta_dot), theta = 0 upright. u = clip(a, -2, 2);
reward = -(angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2) on the state *before* the step;
theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -8, 8); theta' = theta + theta_dot' dt,
with g = 10, m = l = 1, dt = 0.05. Never terminates (gymnasium's TimeLimit truncates at 200 steps: the horizon).
Observation [cos theta, sin theta, theta_dot] (gymnasium returns it as float32; this kernel keeps float64).
Start: theta ~ U(-pi, pi), theta_dot ~ U(-1, 1).
"""
from __future__ import annotations

import math

from numba import njit

MAX_SPEED, MAX_TORQUE = 8.0, 2.0
DT, G, MASS, LENGTH = 0.05, 10.0, 1.0, 1.0
OBS_DIM = 3


@njit(cache=True)
def angle_normalize(x):
    """x wrapped to [-pi, pi) (floor modulo, as numpy's %)."""
    return ((x + math.pi) % (2.0 * math.pi)) - math.pi


@njit(cache=True)
def pendulum_step(theta, theta_dot, a):
    """One Pendulum-v1 step with torque ``a`` (clipped to [-2, 2] here, as gymnasium does):
    returns (theta', theta_dot', reward, terminated=False)."""
    u = min(max(a, -MAX_TORQUE), MAX_TORQUE)
    cost = angle_normalize(theta) ** 2 + 0.1 * theta_dot ** 2 + 0.001 * (u * u)
    new_theta_dot = theta_dot + (3.0 * G / (2.0 * LENGTH) * math.sin(theta) + 3.0 / (MASS * LENGTH ** 2) * u) * DT
    new_theta_dot = min(max(new_theta_dot, -MAX_SPEED), MAX_SPEED)
    return theta + new_theta_dot * DT, new_theta_dot, -cost, False


@njit(cache=True)
def pendulum_observe(theta, theta_dot, obs):
    """Write the observation [cos theta, sin theta, theta_dot] into ``obs`` (size 3)."""
    obs[0] = math.cos(theta)
    obs[1] = math.sin(theta)
    obs[2] = theta_dot


def pendulum_step_reference(theta: float, theta_dot: float, a: float) -> tuple[float, float, float, bool]:
    """Pure-Python twin of :func:`pendulum_step` (the tests also hold the kernel equal to gymnasium itself)."""
    u = min(max(a, -2.0), 2.0)
    wrapped = ((theta + math.pi) % (2 * math.pi)) - math.pi
    cost = wrapped ** 2 + 0.1 * theta_dot ** 2 + 0.001 * u ** 2
    new_theta_dot = min(max(theta_dot + (15.0 * math.sin(theta) + 3.0 * u) * 0.05, -8.0), 8.0)
    return theta + new_theta_dot * 0.05, new_theta_dot, -cost, False


def pendulum_observe_reference(theta: float, theta_dot: float) -> list[float]:
    """Pure-Python twin of :func:`pendulum_observe`."""
    return [math.cos(theta), math.sin(theta), theta_dot]
