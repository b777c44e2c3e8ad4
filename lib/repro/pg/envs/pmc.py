"""Pathological Mountain Car (PMC): brief 05 section 2 "Environments" (paper section 3 Fig 1 and section 6; [code]).

State s in [-4, 3.709]; the action is the vehicle's speed, s' = clip(s + 0.1 a, -4, 3.709). The landscape
f(s) = -s^3 + 4 s^2 - 4 has the small goal at its local maximum s = 8/3 (f = 5.481, reward 10) and the "bonanza"
at the left wall s = -4 (f = 124, reward 500); reaching either ends the episode. Every step pays 0.001 a^2.
The action box a in [-20, 20] is applied by the rollout before the step (brief: clip only in the environment).
"""
from __future__ import annotations

from numba import njit

S_MIN, S_MAX = -4.0, 3.709
SPEED_SCALE = 0.1
SMALL_GOAL_LEVEL, SMALL_GOAL_REWARD = 5.481, 10.0
BONANZA_LEVEL, BONANZA_REWARD = 124.0, 500.0
LEVEL_TOLERANCE = 0.001
ENERGY_COST = 0.001
SMALL_GOAL_S = 8.0 / 3.0   # argmax of f on the right (f'(s) = -3 s^2 + 8 s = 0)
BONANZA_S = S_MIN


@njit(cache=True)
def pmc_profile(s):
    """The PMC landscape f(s) = -s^3 + 4 s^2 - 4 (paper Fig 1)."""
    return -s ** 3 + 4.0 * s ** 2 - 4.0


@njit(cache=True)
def pmc_profile_slope(s):
    """f'(s) = -3 s^2 + 8 s."""
    return -3.0 * s * s + 8.0 * s


@njit(cache=True)
def pmc_step(s, a):
    """One PMC step from position ``s`` with (already clipped) speed ``a``: returns (s', reward, done)."""
    s_next = min(max(s + SPEED_SCALE * a, S_MIN), S_MAX)
    level = pmc_profile(s_next)
    goal, done = 0.0, False
    if abs(level - SMALL_GOAL_LEVEL) < LEVEL_TOLERANCE:
        goal, done = SMALL_GOAL_REWARD, True
    elif abs(level - BONANZA_LEVEL) < LEVEL_TOLERANCE:
        goal, done = BONANZA_REWARD, True
    return s_next, goal - ENERGY_COST * (a * a), done


def pmc_step_reference(s: float, a: float) -> tuple[float, float, bool]:
    """Pure-Python twin of :func:`pmc_step`, written as in the public PMC file."""
    s_next = min(max(s + 0.1 * a, -4.0), 3.709)
    level = (-s_next ** 3) + (4 * s_next ** 2) - 4
    if abs(level - 5.481) < 0.001:
        goal, done = 10.0, True
    elif abs(level - 124.0) < 0.001:
        goal, done = 500.0, True
    else:
        goal, done = 0.0, False
    return s_next, goal - 0.001 * a ** 2, done
