"""1D Mario (Matheron et al.): brief 05 section 2 "Environments" (paper section 6).

s in [0, 1], a in [-0.1, 0.1] (the box is applied by the rollout), reward 1{s + a < 0}, s' = min(1, max(0, s + a));
the episode ends on reward [our choice].
"""
from __future__ import annotations

from numba import njit

S_MIN, S_MAX = 0.0, 1.0


@njit(cache=True)
def mario_step(s, a):
    """One 1D-Mario step: returns (s', reward, done)."""
    moved = s + a
    reward = 1.0 if moved < S_MIN else 0.0
    return min(S_MAX, max(S_MIN, moved)), reward, reward > 0.0


def mario_step_reference(s: float, a: float) -> tuple[float, float, bool]:
    """Pure-Python twin of :func:`mario_step`."""
    reward = float(s + a < 0)
    return min(1.0, max(0.0, s + a)), reward, bool(reward)
