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
* Random [our choice, the floor of the RL routers' "policy learns" check]: uniform over the instances that can admit
  the head request now (:func:`legal_actions`, the RL routers' action mask); wait only when none can.

Paper Table 2 routers (§3 "Table 2 grid", claim C7) read two oracle columns appended to ``aux`` by
:func:`with_oracle` (output lengths are known [paper A.1]):

* Dedicated Small-Large: instance 0 serves only heavy-decode requests, instance 1 only light ones (m = 2). Heavy =
  the head's **true** decode length >= ``heavy_decode_tokens`` (5 s of decode under the service model, brief §2)
  [our choice: the oracle, not the predicted bucket, whose 256-token edge does not match the 5 s class threshold].
* Decode Balancer: the instance with the fewest decode tokens assigned and not yet generated (true lengths).

The kernel's ``aux`` does not carry these columns; :func:`with_oracle` computes them in Python from the env's
request arrays (valid for the FCFS router queue: the head is the oldest queued request).

Every router routes whenever the queue is non-empty (no waiting), except MCU when no instance fits.
"""
from __future__ import annotations

import numpy as np

from repro.core.seeds import rng
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


A_HEAD_DECODE, A_DECODE_LEFT = k.N_AUX, k.N_AUX + 1
"""Oracle aux columns: the head request's true decode tokens (0 without a head); per instance, the true decode
tokens of its unfinished requests not yet generated."""


def oracle_columns(env) -> np.ndarray:
    """The two oracle columns ``[B, m, 2]`` of a :class:`repro.router.env.VectorRouterEnv` in its current state
    (the head is the kernel's first-queued pointer, which :func:`repro.router.cluster.observe` leaves on it)."""
    if env.cfg.sjf:
        raise ValueError("oracle_columns: the env's router queue must be FCFS (sjf=False)")
    B, m = env.n_envs, env.m
    rows = np.arange(B)
    first = np.minimum(env.env_i[:, k.E_FIRST], env.req_i.shape[1] - 1)
    has_head = (env.env_i[:, k.E_FIRST] < env.env_i[:, k.E_ARRIVED]) & (env.req_i[rows, first, k.ST] == k.QUEUED)
    head_decode = np.where(has_head, env.req_i[rows, first, k.D], 0)
    st, inst = env.req_i[:, :, k.ST], env.req_i[:, :, k.INST]
    on = (inst >= 0) & (st != k.DONE)
    cell = (rows[:, None] * m + inst)[on]
    left = (env.req_i[:, :, k.D] - env.req_i[:, :, k.O])[on]
    decode_left = np.bincount(cell, weights=left, minlength=B * m).reshape(B, m)
    out = np.empty((B, m, 2))
    out[:, :, 0] = head_decode[:, None]
    out[:, :, 1] = decode_left
    return out


def with_oracle(env, aux) -> np.ndarray:
    """``aux`` with the oracle columns A_HEAD_DECODE and A_DECODE_LEFT appended (module docstring)."""
    return np.concatenate([aux, oracle_columns(env)], axis=2)


class DedicatedSmallLarge(Router):
    """Heavy-decode heads to instance 0, light ones to instance 1 (needs :func:`with_oracle` columns, m = 2)."""
    name = "Dedicated Small-Large"

    def __init__(self, heavy_decode_tokens: float):
        if not heavy_decode_tokens > 0:
            raise ValueError(f"heavy_decode_tokens: expected > 0, got {heavy_decode_tokens!r}")
        self.heavy_decode_tokens = float(heavy_decode_tokens)

    def choose(self, obs, aux):
        if aux.shape[1] != 2 or aux.shape[2] <= A_HEAD_DECODE:
            raise ValueError(f"{self.name}: expected aux [B, 2, >{A_HEAD_DECODE}] with oracle columns, "
                             f"got shape {aux.shape}")
        return np.where(aux[:, 0, A_HEAD_DECODE] >= self.heavy_decode_tokens, 0, 1)


class DecodeBalancer(Router):
    """The instance with the fewest true decode tokens left (needs :func:`with_oracle` columns)."""
    name = "Decode Balancer"

    def choose(self, obs, aux):
        if aux.shape[2] <= A_DECODE_LEFT:
            raise ValueError(f"{self.name}: expected aux with oracle columns, got shape {aux.shape}")
        return np.argmin(aux[:, :, A_DECODE_LEFT], axis=1)


def legal_actions(aux) -> np.ndarray:
    """[B, m + 1] booleans: the instances that can admit the head request now, and the wait (last) only when none
    can (the action mask of :mod:`repro.router.train`)."""
    fits = aux[:, :, k.A_FITS] > 0
    return np.concatenate([fits, ~fits.any(axis=1, keepdims=True)], axis=1)


def explore_actions(gen: np.random.Generator, aux) -> np.ndarray:
    """Uniform random legal actions, one per cluster."""
    legal = legal_actions(aux)
    pick = (gen.random(len(legal)) * legal.sum(axis=1)).astype(np.int64)
    return np.argmax(np.cumsum(legal, axis=1) > pick[:, None], axis=1)


class RandomLegal(Router):
    """Uniform random over the instances that can admit the head request now; waits only when none can (the floor
    of the "policy learns" check of :mod:`repro.papers.router`). Its draws come from the stream (seed,
    "router-random"), restarted at every ``reset``."""
    name = "Random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, n_envs):
        self.gen = rng(self.seed, "router-random")

    def act(self, obs, aux):
        m = aux.shape[1]
        return np.where(_queue_nonempty(obs, m), explore_actions(self.gen, aux), m).astype(np.int64)


CLASSICAL = (RoundRobin, JoinShortestQueue, MaxCapacityUsage, MinMin, HeuristicOnly)
