"""The classical routers of brief 03 §3, vectorised over B clusters (they read the observation and ``info["aux"]``).

* Round Robin: cyclic over instances, one step of the cycle per routed request.
* JSQ: the instance with the fewest prompt + decode tokens still to process (estimated decode tokens) [A.2.1].
* Maximum Capacity Usage: the instance with the most free capacity C among those that can take the head request
  now; wait if none can [A.2.2]. The paper's "once per second" is read as "with capacities refreshed at every
  decision" [our choice: routing one request per second cannot keep up with 20 req/s].
* Min-Min: the router queue is served shortest job first (prompt + upper edge of the predicted bucket; the
  environment's SJF mode) and the job goes to the instance that frees up earliest (smallest estimated drain
  time) [A.2.3].
* Heuristic only [our choice, ablation]: the instance with the largest r_mix (least mixing impact).

Every router routes whenever the queue is non-empty (no waiting), except MCU when no instance fits.
"""
from __future__ import annotations

import numpy as np

from repro.router import cluster as k


def _queue_nonempty(obs, m):
    return obs[:, k.PER_INSTANCE * m] > 0


class Router:
    """Base: ``reset(n_envs)`` at the start of an episode, ``act(obs, aux)`` -> actions; ``sjf`` for the env."""
    name = ""
    sjf = False

    def reset(self, n_envs: int) -> None:
        pass

    def choose(self, obs, aux) -> np.ndarray:
        raise NotImplementedError

    def act(self, obs, aux) -> np.ndarray:
        m = aux.shape[1]
        return np.where(_queue_nonempty(obs, m), self.choose(obs, aux), m).astype(np.int64)


class RoundRobin(Router):
    name = "RR"

    def reset(self, n_envs):
        self.next = np.zeros(n_envs, np.int64)

    def choose(self, obs, aux):
        m = aux.shape[1]
        chosen = self.next.copy()
        self.next = np.where(_queue_nonempty(obs, m), (self.next + 1) % m, self.next)
        return chosen


class JoinShortestQueue(Router):
    name = "JSQ"

    def choose(self, obs, aux):
        return np.argmin(aux[:, :, k.A_TOKENS], axis=1)


class MaxCapacityUsage(Router):
    name = "MCU"

    def choose(self, obs, aux):
        m = aux.shape[1]
        capacity = obs[:, 4:k.PER_INSTANCE * m:k.PER_INSTANCE]
        fits = aux[:, :, k.A_FITS] > 0
        best = np.argmax(np.where(fits, capacity, -np.inf), axis=1)
        return np.where(fits.any(axis=1), best, m)


class MinMin(Router):
    name = "Min-Min"
    sjf = True

    def choose(self, obs, aux):
        return np.argmin(aux[:, :, k.A_DRAIN], axis=1)


class HeuristicOnly(Router):
    name = "Heuristic"

    def choose(self, obs, aux):
        return np.argmax(aux[:, :, k.A_MIX], axis=1)


CLASSICAL = (RoundRobin, JoinShortestQueue, MaxCapacityUsage, MinMin, HeuristicOnly)
