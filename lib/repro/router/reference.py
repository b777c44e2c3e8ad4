"""Plain-Python twin of :mod:`repro.router.cluster`: one cluster, one request object each, no numba.

It follows the rules of the kernel module's docstring line by line (brief 03 §2, instance model, state, reward;
§3 Table 2 batching modes; chunked prefill, C4), takes its iteration times from :class:`ServiceModel`'s NumPy
methods (an implementation separate from the kernels' table lookup) and is held equal to the batched kernels by
tests/test_router_env.py; :mod:`repro.bench.router` times it as the "Python hold/assign loop" the kernels replace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from repro.router.cluster import BATCHING, PREEMPT_OFFSET, QUEUE_CAP
from repro.router.service import ServiceModel
from repro.router.workload import Workload


@dataclass
class Request:
    index: int
    arrival: float
    prompt: int
    decode: int
    bucket: int
    dhat: float
    status: str = "queued"          # queued, waiting, prefill, decode, done
    instance: int = -1
    key: int = 0
    generated: int = 0
    preemptions: int = 0
    prefilled: int = 0              # chunked prefill: prompt + recomputed tokens prefilled so far
    chunk: int = 0                  # chunked prefill: tokens of the running chunk
    t_route: float = -1.0
    t_first: float = -1.0
    t_done: float = -1.0


@dataclass
class Instance:
    requests: list = field(default_factory=list)     # routed, unfinished requests on this instance
    kind: str = "idle"                                # idle, prefill, decode, chunked
    end: float = 0.0


def round2(x: float) -> float:
    return math.floor(x * 100.0 + 0.5) / 100.0


class ReferenceCluster:
    """One cluster of ``m`` instances serving ``workload``; ``step(action)`` -> (obs, aux, terms, done).
    ``sjf``, ``batching`` and ``chunk_budget`` as in :class:`repro.router.env.EnvConfig`."""

    def __init__(self, service: ServiceModel, workload: Workload, m: int, sjf: bool = False, batching: str = "fcfs",
                 chunk_budget: int = 0):
        if batching not in BATCHING:
            raise ValueError(f"batching: expected one of {BATCHING}, got {batching!r}")
        self.s, self.m, self.sjf, self.batching, self.chunk_budget = service, m, sjf, batching, chunk_budget
        self.requests = [Request(j, float(workload.arrival[j]), int(workload.prompt[j]), int(workload.decode[j]),
                                 int(workload.bucket[j]), float(workload.decode_estimate[j]))
                         for j in range(len(workload.arrival))]
        self.instances = [Instance() for _ in range(m)]
        self.now, self.routed, self.completed, self.done = 0.0, 0, 0, False
        self.decisions = self.busy_decisions = 0
        self.obs, self.aux = self._observe()

    # -- the router queue
    def queue(self) -> list[Request]:
        return [r for r in self.requests if r.status == "queued" and r.arrival <= self.now]

    def head(self):
        queue = self.queue()
        if not queue:
            return None
        if not self.sjf:
            return queue[0]
        return min(queue, key=lambda r: (r.prompt + r.dhat, r.index))

    # -- instances
    def decode_time(self, tokens: float, batch: int) -> float:
        return float(self.s.decode_time(tokens, batch))

    def next_admission(self, inst: Instance, kv_free: float):
        """Preempted requests first (oldest key), then the batching mode's order (cluster module docstring)."""
        waiting = [r for r in inst.requests if r.status == "waiting"]
        preempted = [r for r in waiting if r.key < 0]
        if preempted:
            return min(preempted, key=lambda r: r.key)
        if self.batching == "bin-packing":
            waiting = [r for r in waiting if r.prompt + 1 <= kv_free]
        order = {"fcfs": lambda r: r.key, "least-work-left": lambda r: (r.decode, r.key),
                 "bin-packing": lambda r: (-r.prompt, r.key)}[self.batching]
        return min(waiting, key=order, default=None)

    @staticmethod
    def preempt(r: Request):
        r.status, r.key = "waiting", r.key - PREEMPT_OFFSET
        r.preemptions += 1
        r.prefilled = r.chunk = 0

    def start(self, inst: Instance, clock: float) -> bool:
        if self.chunk_budget > 0:
            return self.start_chunked(inst, clock)
        decoding = [r for r in inst.requests if r.status == "decode"]
        kv = sum(r.prompt + r.generated for r in decoding)
        admitted = []
        while len(decoding) + len(admitted) < self.s.max_batch:
            r = self.next_admission(inst, self.s.kv_capacity - kv)
            if r is None or kv + r.prompt + r.generated + 1 > self.s.kv_capacity:
                break
            r.status = "prefill"
            admitted.append(r)
            kv += r.prompt + r.generated
        if admitted:
            inst.kind = "prefill"
            inst.end = clock + float(self.s.prefill_time(sum(r.prompt + r.generated for r in admitted)))
            return True
        if not decoding:
            inst.kind = "idle"
            return False
        decoding.sort(key=lambda r: r.key)
        while kv + len(decoding) > self.s.kv_capacity and len(decoding) > 1:
            victim = decoding.pop()
            kv -= victim.prompt + victim.generated
            self.preempt(victim)
        inst.kind, inst.end = "decode", clock + self.decode_time(kv, len(decoding))
        return True

    def start_chunked(self, inst: Instance, clock: float) -> bool:
        s = self.s
        running = sorted((r for r in inst.requests if r.status in ("prefill", "decode")), key=lambda r: r.key)
        kv = sum(r.prompt + r.generated for r in running)
        while kv + len(running) > s.kv_capacity and len(running) > 1:
            victim = running.pop()
            kv -= victim.prompt + victim.generated
            self.preempt(victim)
        decoding = [r for r in running if r.status == "decode"]
        left = max(self.chunk_budget - len(decoding), 0)
        chunk_tokens = pairs = 0
        for r in (r for r in running if r.status == "prefill"):
            if left <= 0:
                break
            r.chunk = min(r.prompt + r.generated - r.prefilled, left)
            chunk_tokens, pairs, left = chunk_tokens + r.chunk, pairs + r.chunk * r.prefilled, left - r.chunk
        n_run = len(running)
        while left > 0 and n_run < s.max_batch:
            r = self.next_admission(inst, s.kv_capacity - kv - n_run)
            if r is None or kv + n_run + r.prompt + r.generated + 1 > s.kv_capacity:
                break
            r.status, r.prefilled, r.chunk = "prefill", 0, min(r.prompt + r.generated, left)
            kv, n_run = kv + r.prompt + r.generated, n_run + 1
            chunk_tokens, left = chunk_tokens + r.chunk, left - r.chunk
        if not decoding and chunk_tokens == 0:
            inst.kind = "idle"
            return False
        duration = float(s.attention_time(pairs))
        if decoding:
            duration += self.decode_time(sum(r.prompt + r.generated for r in decoding), len(decoding))
        if chunk_tokens:
            duration += float(s.prefill_time(chunk_tokens))
        inst.kind, inst.end = "chunked", clock + duration
        return True

    @staticmethod
    def gain_token(r: Request, clock: float) -> int:
        r.generated += 1
        if r.t_first < 0:
            r.t_first = clock
        if r.generated >= r.decode:
            r.status, r.t_done = "done", clock
            return 1
        r.status = "decode"
        return 0

    def finish(self, inst: Instance) -> int:
        completed = 0
        for r in inst.requests:
            if inst.kind == "chunked" and r.status == "prefill" and r.chunk > 0:
                r.prefilled, r.chunk = r.prefilled + r.chunk, 0
                if r.prefilled == r.prompt + r.generated:
                    completed += self.gain_token(r, inst.end)
            elif r.status == inst.kind or (r.status == "decode" and inst.kind == "chunked"):
                completed += self.gain_token(r, inst.end)
        inst.kind = "idle"
        return completed

    def advance(self, inst: Instance, t: float, t_end: float) -> int:
        completed = 0
        clock = t if inst.kind == "idle" else inst.end
        while True:
            if inst.kind != "idle":
                if inst.end > t_end:
                    break
                clock = inst.end
                completed += self.finish(inst)
            if not self.start(inst, clock):
                break
        inst.requests = [r for r in inst.requests if r.status != "done"]
        return completed

    # -- the router's view
    def mixing_impact(self, r: Request, inst: Instance) -> float:
        s = self.s
        dec_tokens = sum(q.prompt + q.generated for q in inst.requests if q.status == "decode")
        t_p = min(max(-s.grad1 * r.prompt - s.grad2 * dec_tokens, -1.0), 0.0)
        r_p = t_p - (1.0 if -t_p > s.epsilon else 0.0)
        r_d = min(max(-len(inst.requests) * (s.grad1 * r.prompt + s.grad2 * r.dhat), -1.0), 1.0)
        return s.alpha * r_p + (1.0 - s.alpha) * r_d

    def _observe(self):
        s, head = self.s, self.head()
        obs, aux = [], []
        for inst in self.instances:
            reqs = inst.requests
            running = [r for r in reqs if r.status in ("prefill", "decode")]
            kv = sum(r.prompt + r.generated for r in running)
            per_token = self.decode_time(sum(r.prompt + r.generated for r in reqs), len(reqs))
            est = [max(r.dhat - r.generated, 1.0) * per_token
                   + (s.grad1 * (r.prompt + r.generated) if r.status == "waiting" else 0.0) for r in reqs]
            c = 1.0 - max(len(running) / s.max_batch, kv / s.kv_capacity)
            obs += [sum(r.status in ("waiting", "prefill") for r in reqs)]
            obs += [sum(r.status == "decode" and r.bucket == k for r in reqs) for k in range(3)]
            obs += [round2(c), round2(min(est)) if reqs else 0.0]
            tokens_left = (sum(r.prompt for r in reqs if r.status == "waiting")
                           + sum(max(r.dhat - r.generated, 0.0) for r in reqs))
            fits = len(running) < s.max_batch and kv + head.prompt + 1 <= s.kv_capacity if head else False
            aux.append([self.mixing_impact(head, inst) if head else 0.0, tokens_left, max(est, default=0.0),
                        float(fits)])
        queue = self.queue()
        obs += [min(len(queue), QUEUE_CAP), head.prompt if head else 0, head.bucket if head else 0]
        return np.array(obs, dtype=float), np.array(aux, dtype=float)

    def progress(self) -> float:
        return -sum(1.0 - min(r.generated / r.dhat, 1.0) for r in self.requests
                    if r.arrival <= self.now and r.status != "done")

    def step(self, action: int):
        """One decision (see :mod:`repro.router.cluster`); returns obs, aux, [progress, completions, h], done."""
        if self.done:
            return self.obs, self.aux, np.zeros(3), True
        head = self.head()
        self.decisions += 1
        self.busy_decisions += head is not None
        guidance = 0.0
        if head is not None and 0 <= action < self.m:
            guidance = self.aux[action, 0] - self.aux[:, 0].max()
            head.status, head.instance, head.key, head.t_route = "waiting", action, self.routed, self.now
            self.routed += 1
            self.instances[action].requests.append(head)
        t_end = self.now + self.s.dt
        completed = sum(self.advance(inst, self.now, t_end) for inst in self.instances)
        self.now = t_end
        self.completed += completed
        self.obs, self.aux = self._observe()
        self.done = self.completed == len(self.requests) or t_end >= self.s.max_time
        return self.obs, self.aux, np.array([self.progress(), completed, guidance]), self.done
