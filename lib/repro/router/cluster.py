"""Batched numba kernels of the router's cluster: B independent clusters of m instances (brief 03 §2).

A dedicated cluster model [our choice, imposed by the lead]: it implements brief 03's instance model directly and
does **not** go through :mod:`repro.replay.engine` (a departure from "an environment over the engine").

Decision step (every ``dt`` = 0.02 s of simulated time, paper §6), per cluster b:

1. action a < m routes the head of the router queue to instance a (a no-op if the queue is empty); a = m waits.
   The head is the oldest queued request, or the shortest job (prompt + d-hat) in SJF mode (Min-Min, A.2.3).
   Before routing, the guidance h = r_mix(head, a) - max_m' r_mix(head, m') <= 0 is recorded (0 for waits).
2. Every instance runs its iterations up to t + dt (vLLM-v0 prefill priority): an iteration starts when the last
   one ends (or at the routing time on an idle instance). At its start, waiting requests are admitted in the
   cluster's batching order (below) while the running count stays below ``max_batch`` and the KV cache holds prompt +
   generated + 1 tokens; if any was admitted the iteration is a prefill of those alone (prefill_time of their
   prompt + generated tokens, decodes stall); otherwise it decodes every running request (decode_time of the
   batch), after preempting the latest-routed running requests (recompute: back to the waiting queue ahead of every
   never-preempted request, generated tokens kept and re-prefilled) until one more token per request fits. Each
   member of an iteration gains one token when it ends; the first token's time is the TTFT point; a request with
   ``decode`` tokens is complete.
3. Arrivals up to t + dt join the router queue; the reward terms are
   ``progress`` = -sum over arrived, unfinished requests of (1 - f_j), f_j = min(o_j / d-hat_j, 1),
   ``completions`` in (t, t + dt] (times r_w = 60 in the reward) and ``h`` (times the guidance weight).
4. The observation (6 per instance + 3, 27 for m = 4) and the routers' auxiliary features are written.

Observation per instance i (columns 6i..6i+5): requests waiting or in prefill; decoding requests per predicted
bucket (3); free capacity C = 1 - max(running / max_batch, KV used / KV capacity); T-hat_c = the estimated time
to the instance's earliest completion, min over its requests of max(d-hat - o, 1) x decode_time(its requests)
(+ grad1 x (p + o) if not yet prefilled). C and T-hat_c are rounded to 2 decimals [paper A.9]. Queue (last 3):
min(queue length, 512), the head's prompt tokens and predicted bucket (0, 0 if the queue is empty).

Auxiliary features per instance (``aux[b, i]``): r_mix of the head on i (0 without a head); tokens left (prompt
tokens not yet prefilled + estimated decode tokens left); the estimated drain time (max over its requests of the
T-hat_c terms); 1 if the head fits now (running < max_batch and KV free >= p + 1), else 0.

Mixing impact (brief §2, reconstruction): T_p = clip(-grad1 p_i - grad2 sum_{j in decode(m)} (p_j + o_j), -1, 0),
r_p = T_p - [-T_p > eps], r_d = clip(-n_m (grad1 p_i + grad2 d-hat_i), -1, 1), r_mix = alpha r_p + (1-alpha) r_d.

Batching (admission order, paper §4.4 / Table 2, column E_BATCHING; all non-preemptive: running requests are never
displaced by an admission, and preempted requests, oldest key first, go before every never-started one in every
mode; ties by routing order):

* ``fcfs`` (vLLM's default): routing order; the first request that does not fit blocks the ones behind it.
* ``bin-packing``: the largest request that fits in free memory, size = its prompt tokens (the KV it takes when
  admitted; the instance cannot know the decode length) [our choice]; requests that do not fit are skipped.
* ``least-work-left``: the fewest decode tokens first, by the **oracle** decode length (the Table 2 grid is a
  characterisation with known lengths, like its Decode Balancer router) [our choice]; a request that does not
  fit blocks the ones behind it, as in FCFS.

Chunked prefill (column E_CHUNK = the token budget per iteration, paper A.12: 1,024; 0 = off, the rules above).
Each iteration, after preempting the latest-routed running requests until every running request can gain one
token, runs every decoding request (one token each, "decodes first"), then fills the rest of the budget with
prefill chunks: started prefills first (oldest key first), then new admissions in the batching order (KV check:
their whole prompt + generated + 1 beside every running request's next token; the whole prompt's KV is reserved
at admission [our choice]). Column PF counts a request's prefilled tokens, CHUNK the tokens of its running chunk;
a request whose prompt (+ recomputed tokens) is fully prefilled gains its first token when that iteration ends.
Iteration time [our choice] = attention x sum over chunks (chunk tokens x earlier tokens of its prompt)
+ decode_time(decoding batch) if any decode + prefill_time(all chunk tokens) if any chunk; ``attention`` is the
service model's coefficient (service.py: 2 p2 of the A100 prefill fit, 0 for the linear model).

Service time (service.py, column KIND): the linear V100-like model (prefill grad1 x tokens, decode
max(floor, a + b x batch tokens)) or the A100 table model (prefill_time(tokens), decode_time(batch size), linear
interpolation of tables stored in the service array after its fixed columns).

State lives in flat arrays (columns below); :mod:`repro.router.reference` is the plain-Python twin.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from repro.router.service import (ALPHA, ATTENTION, DEC_A, DEC_B, DEC_FLOOR, DEC_N, DT, EPS, GRAD1, GRAD2, KIND,
                                  KIND_TABLE, KV_CAP, MAX_BATCH, MAX_TIME, PRE_N, TABLE)

# request int columns (PF: prompt + recomputed tokens prefilled so far, CHUNK: tokens of the running chunk, both
# chunked prefill only); request float columns
P, D, BKT, ST, INST, KEY, O, NPRE, PF, CHUNK = range(10)
N_REQ_I = 10
ARR, T_ROUTE, T_FIRST, T_DONE, DHAT = range(5)
N_REQ_F = 5
# request status
QUEUED, WAITING, PREFILL, DECODE, DONE = range(5)
# instance: kind of the running iteration (int) and its end time (float)
IDLE, PREFILL_IT, DECODE_IT, CHUNKED_IT = range(4)
# cluster int columns; cluster float column
(E_ARRIVED, E_FIRST, E_LIVE, E_ROUTED, E_DONE, E_END, E_SJF, E_DECISIONS, E_BUSY_DECISIONS, E_BATCHING,
 E_CHUNK) = range(11)
N_ENV_I = 11
# batching (admission order) modes, column E_BATCHING
BATCHING = ("fcfs", "bin-packing", "least-work-left")
FCFS, BIN_PACKING, LEAST_WORK_LEFT = range(3)
E_NOW = 0
# reward terms
R_PROGRESS, R_COMPLETIONS, R_GUIDANCE = range(3)
# auxiliary features
A_MIX, A_TOKENS, A_DRAIN, A_FITS = range(4)
N_AUX = 4
# per-instance summary columns (scratch)
S_WAIT, S_B0, S_B1, S_B2, S_RUN, S_KV, S_ON, S_DEC_TOKENS, S_ON_TOKENS, S_TOKENS_LEFT, S_STEP = range(11)
N_SUMMARY = 11

PER_INSTANCE = 6
QUEUE_FEATURES = 3
QUEUE_CAP = 512
PREEMPT_OFFSET = 1 << 40
"""Subtracted from a preempted request's key so it is admitted before every never-preempted one."""


def obs_dim(m: int) -> int:
    return PER_INSTANCE * m + QUEUE_FEATURES


@njit(cache=True)
def table_value(svc, start, n, x):
    """Piecewise-linear table (x ascending at ``svc[start:start+n]``, y after it): the first y below the first x,
    the last segment extended beyond the last x (:func:`repro.router.service.table_value`)."""
    if x <= svc[start]:
        return svc[start + n]
    k = 1
    while k < n - 1 and x > svc[start + k]:
        k += 1
    x0, x1, y0, y1 = svc[start + k - 1], svc[start + k], svc[start + n + k - 1], svc[start + n + k]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@njit(cache=True)
def decode_time(svc, batch, tokens):
    """One decode iteration of ``batch`` requests holding ``tokens`` tokens (service-model kind, service.py)."""
    if svc[KIND] == KIND_TABLE:
        return table_value(svc, TABLE + 2 * int(svc[PRE_N]), int(svc[DEC_N]), batch)
    return max(svc[DEC_FLOOR], svc[DEC_A] + svc[DEC_B] * tokens)


@njit(cache=True)
def prefill_time(svc, tokens):
    """One prefill of ``tokens`` prompt (and recomputed) tokens."""
    if svc[KIND] == KIND_TABLE:
        return table_value(svc, TABLE, int(svc[PRE_N]), tokens)
    return svc[GRAD1] * tokens


@njit(cache=True)
def round2(x):
    return np.floor(x * 100.0 + 0.5) / 100.0


@njit(cache=True)
def head_index(req_i, req_f, env_i, b):
    """The request the router would route now: oldest queued, or the shortest queued job in SJF mode; -1 if none."""
    first = env_i[b, E_FIRST]
    while first < env_i[b, E_ARRIVED] and req_i[b, first, ST] != QUEUED:
        first += 1
    env_i[b, E_FIRST] = first
    if first >= env_i[b, E_ARRIVED]:
        return -1
    if env_i[b, E_SJF] == 0:
        return first
    best, best_size = -1, 0.0
    for j in range(first, env_i[b, E_ARRIVED]):
        if req_i[b, j, ST] == QUEUED:
            size = req_i[b, j, P] + req_f[b, j, DHAT]
            if best < 0 or size < best_size:
                best, best_size = j, size
    return best


@njit(cache=True)
def summarise(svc, req_i, live, env_i, b, m, out):
    """Per-instance counts and token sums of cluster b into ``out[m, N_SUMMARY]``."""
    out[:, :] = 0.0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        i = req_i[b, j, INST]
        st = req_i[b, j, ST]
        tokens = req_i[b, j, P] + req_i[b, j, O]
        out[i, S_ON] += 1
        out[i, S_ON_TOKENS] += tokens
        if st == WAITING or st == PREFILL:
            out[i, S_WAIT] += 1
        if st == DECODE:
            out[i, S_B0 + req_i[b, j, BKT]] += 1
            out[i, S_DEC_TOKENS] += tokens
        if st == PREFILL or st == DECODE:
            out[i, S_RUN] += 1
            out[i, S_KV] += tokens
        if st == WAITING:
            out[i, S_TOKENS_LEFT] += req_i[b, j, P]


@njit(cache=True)
def mixing_impact(svc, prompt, dhat, dec_tokens, n_on):
    """r_mix of a request (prompt, d-hat) on an instance with ``dec_tokens`` decode tokens and ``n_on`` requests."""
    t_p = min(max(-svc[GRAD1] * prompt - svc[GRAD2] * dec_tokens, -1.0), 0.0)
    r_p = t_p - (1.0 if -t_p > svc[EPS] else 0.0)
    r_d = min(max(-n_on * (svc[GRAD1] * prompt + svc[GRAD2] * dhat), -1.0), 1.0)
    return svc[ALPHA] * r_p + (1.0 - svc[ALPHA]) * r_d


@njit(cache=True)
def route(req_i, req_f, env_i, live, b, j, instance, t):
    req_i[b, j, ST] = WAITING
    req_i[b, j, INST] = instance
    req_i[b, j, KEY] = env_i[b, E_ROUTED]
    req_f[b, j, T_ROUTE] = t
    env_i[b, E_ROUTED] += 1
    live[b, env_i[b, E_LIVE]] = j
    env_i[b, E_LIVE] += 1


@njit(cache=True)
def _latest_running(req_i, live, env_i, b, m):
    """The running (prefill or decode) request of instance m routed last: the preemption victim; -1 if none."""
    best = -1
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        st = req_i[b, j, ST]
        if req_i[b, j, INST] == m and (st == PREFILL or st == DECODE):
            if best < 0 or req_i[b, j, KEY] > req_i[b, best, KEY]:
                best = j
    return best


@njit(cache=True)
def _admitted_before(req_i, b, j, i, mode):
    """Whether waiting request j of cluster b goes before waiting request i (module docstring, "Batching")."""
    key_j, key_i = req_i[b, j, KEY], req_i[b, i, KEY]
    if mode != FCFS and key_j >= 0 and key_i >= 0:
        if mode == LEAST_WORK_LEFT and req_i[b, j, D] != req_i[b, i, D]:
            return req_i[b, j, D] < req_i[b, i, D]
        if mode == BIN_PACKING and req_i[b, j, P] != req_i[b, i, P]:
            return req_i[b, j, P] > req_i[b, i, P]
    return key_j < key_i                     # preempted (negative) keys first, then FCFS


@njit(cache=True)
def next_admission(req_i, live, env_i, b, m, kv_free):
    """The waiting request of instance m to admit next (module docstring, "Batching"); -1 if none.

    Preempted requests (negative key) first, oldest key first, in every mode; then the mode's order. Bin packing
    skips never-started requests whose prompt + 1 token exceeds ``kv_free``.
    """
    mode = env_i[b, E_BATCHING]
    best = -1
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        if req_i[b, j, INST] != m or req_i[b, j, ST] != WAITING:
            continue
        if mode == BIN_PACKING and req_i[b, j, KEY] >= 0 and req_i[b, j, P] + 1 > kv_free:
            continue
        if best < 0 or _admitted_before(req_i, b, j, best, mode):
            best = j
    return best


@njit(cache=True)
def preempt(req_i, b, j):
    """Recompute preemption: back to waiting, ahead of every never-preempted request, generated tokens kept."""
    req_i[b, j, ST] = WAITING
    req_i[b, j, KEY] -= PREEMPT_OFFSET
    req_i[b, j, NPRE] += 1
    req_i[b, j, PF] = 0
    req_i[b, j, CHUNK] = 0


@njit(cache=True)
def start_iteration(svc, req_i, live, env_i, inst_kind, inst_end, b, m, clock):
    """Start instance m's next iteration at ``clock`` (prefill priority); False if it has nothing to run."""
    if env_i[b, E_CHUNK] > 0:
        return start_chunked_iteration(svc, req_i, live, env_i, inst_kind, inst_end, b, m, clock)
    kv, n_dec = 0, 0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        if req_i[b, j, INST] == m and req_i[b, j, ST] == DECODE:
            kv += req_i[b, j, P] + req_i[b, j, O]
            n_dec += 1
    admitted, prefill_tokens = 0, 0
    while n_dec + admitted < svc[MAX_BATCH]:
        j = next_admission(req_i, live, env_i, b, m, svc[KV_CAP] - kv)
        if j < 0:
            break
        tokens = req_i[b, j, P] + req_i[b, j, O]
        if kv + tokens + 1 > svc[KV_CAP]:
            break
        req_i[b, j, ST] = PREFILL
        kv += tokens
        admitted += 1
        prefill_tokens += tokens
    if admitted > 0:
        inst_kind[b, m] = PREFILL_IT
        inst_end[b, m] = clock + prefill_time(svc, prefill_tokens)
        return True
    if n_dec == 0:
        inst_kind[b, m] = IDLE
        return False
    while kv + n_dec > svc[KV_CAP] and n_dec > 1:
        j = _latest_running(req_i, live, env_i, b, m)
        kv -= req_i[b, j, P] + req_i[b, j, O]
        preempt(req_i, b, j)
        n_dec -= 1
    inst_kind[b, m] = DECODE_IT
    inst_end[b, m] = clock + decode_time(svc, n_dec, kv)
    return True


@njit(cache=True)
def start_chunked_iteration(svc, req_i, live, env_i, inst_kind, inst_end, b, m, clock):
    """Chunked prefill (module docstring, "Chunked prefill"); False if instance m has nothing to run."""
    budget = env_i[b, E_CHUNK]
    kv, n_run = 0, 0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        st = req_i[b, j, ST]
        if req_i[b, j, INST] == m and (st == PREFILL or st == DECODE):
            kv += req_i[b, j, P] + req_i[b, j, O]
            n_run += 1
    while kv + n_run > svc[KV_CAP] and n_run > 1:
        j = _latest_running(req_i, live, env_i, b, m)
        kv -= req_i[b, j, P] + req_i[b, j, O]
        preempt(req_i, b, j)
        n_run -= 1
    n_dec, dec_tokens = 0, 0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        if req_i[b, j, INST] == m and req_i[b, j, ST] == DECODE:
            n_dec += 1
            dec_tokens += req_i[b, j, P] + req_i[b, j, O]
    left = max(budget - n_dec, 0)
    chunk_tokens, attention = 0, 0.0
    while left > 0:                          # started prefills continue, oldest key first
        j = -1
        for k in range(env_i[b, E_LIVE]):
            i = live[b, k]
            if (req_i[b, i, INST] == m and req_i[b, i, ST] == PREFILL and req_i[b, i, CHUNK] == 0
                    and (j < 0 or req_i[b, i, KEY] < req_i[b, j, KEY])):
                j = i
        if j < 0:
            break
        c = min(req_i[b, j, P] + req_i[b, j, O] - req_i[b, j, PF], left)
        req_i[b, j, CHUNK] = c
        chunk_tokens += c
        attention += c * req_i[b, j, PF]
        left -= c
    while left > 0 and n_run < svc[MAX_BATCH]:
        j = next_admission(req_i, live, env_i, b, m, svc[KV_CAP] - kv - n_run)
        if j < 0:
            break
        tokens = req_i[b, j, P] + req_i[b, j, O]
        if kv + n_run + tokens + 1 > svc[KV_CAP]:
            break
        c = min(tokens, left)
        req_i[b, j, ST] = PREFILL
        req_i[b, j, PF] = 0
        req_i[b, j, CHUNK] = c
        kv += tokens
        n_run += 1
        chunk_tokens += c
        left -= c
    if n_dec == 0 and chunk_tokens == 0:
        inst_kind[b, m] = IDLE
        return False
    duration = svc[ATTENTION] * attention
    if n_dec > 0:
        duration += decode_time(svc, n_dec, dec_tokens)
    if chunk_tokens > 0:
        duration += prefill_time(svc, chunk_tokens)
    inst_kind[b, m] = CHUNKED_IT
    inst_end[b, m] = clock + duration
    return True


@njit(cache=True)
def _gain_token(req_i, req_f, b, j, clock):
    """Request j gains a token at ``clock``; returns 1 if that completes it."""
    req_i[b, j, O] += 1
    if req_f[b, j, T_FIRST] < 0:
        req_f[b, j, T_FIRST] = clock
    if req_i[b, j, O] >= req_i[b, j, D]:
        req_i[b, j, ST] = DONE
        req_f[b, j, T_DONE] = clock
        return 1
    req_i[b, j, ST] = DECODE
    return 0


@njit(cache=True)
def finish_iteration(req_i, req_f, live, env_i, inst_kind, inst_end, b, m):
    """End instance m's iteration: each decode member, and each prefill member whose prompt is now fully
    prefilled, gains a token; returns the number of completed requests."""
    clock = inst_end[b, m]
    kind = inst_kind[b, m]
    completed = 0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        if req_i[b, j, INST] != m:
            continue
        st = req_i[b, j, ST]
        if kind == CHUNKED_IT and st == PREFILL and req_i[b, j, CHUNK] > 0:
            req_i[b, j, PF] += req_i[b, j, CHUNK]
            req_i[b, j, CHUNK] = 0
            if req_i[b, j, PF] == req_i[b, j, P] + req_i[b, j, O]:
                completed += _gain_token(req_i, req_f, b, j, clock)
        elif (st == DECODE and kind != PREFILL_IT) or (st == PREFILL and kind == PREFILL_IT):
            completed += _gain_token(req_i, req_f, b, j, clock)
    inst_kind[b, m] = IDLE
    return completed


@njit(cache=True)
def advance_instance(svc, req_i, req_f, live, env_i, inst_kind, inst_end, b, m, t, t_end):
    """Run instance m of cluster b from ``t`` to ``t_end``; returns the completions in between."""
    completed = 0
    clock = t if inst_kind[b, m] == IDLE else inst_end[b, m]
    while True:
        if inst_kind[b, m] != IDLE:
            if inst_end[b, m] > t_end:
                break
            clock = inst_end[b, m]
            completed += finish_iteration(req_i, req_f, live, env_i, inst_kind, inst_end, b, m)
        if not start_iteration(svc, req_i, live, env_i, inst_kind, inst_end, b, m, clock):
            break
    return completed


@njit(cache=True)
def compact_live(req_i, live, env_i, b):
    n = 0
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        if req_i[b, j, ST] != DONE:
            live[b, n] = j
            n += 1
    env_i[b, E_LIVE] = n


@njit(cache=True)
def observe(svc, req_i, req_f, live, env_i, summary, obs, aux, b):
    """Write cluster b's observation row and auxiliary features (module docstring); returns the progress term."""
    n_inst = aux.shape[1]
    summarise(svc, req_i, live, env_i, b, n_inst, summary)
    soonest = np.full(n_inst, np.inf)
    drain = np.zeros(n_inst)
    for i in range(n_inst):
        summary[i, S_STEP] = decode_time(svc, summary[i, S_ON], summary[i, S_ON_TOKENS])
    progress = -float(env_i[b, E_ARRIVED] - env_i[b, E_ROUTED])
    for k in range(env_i[b, E_LIVE]):
        j = live[b, k]
        i = req_i[b, j, INST]
        left = max(req_f[b, j, DHAT] - req_i[b, j, O], 1.0)
        est = left * summary[i, S_STEP]
        if req_i[b, j, ST] == WAITING:
            est += svc[GRAD1] * (req_i[b, j, P] + req_i[b, j, O])
        soonest[i] = min(soonest[i], est)
        drain[i] = max(drain[i], est)
        summary[i, S_TOKENS_LEFT] += max(req_f[b, j, DHAT] - req_i[b, j, O], 0.0)
        progress -= 1.0 - min(req_i[b, j, O] / req_f[b, j, DHAT], 1.0)
    head = head_index(req_i, req_f, env_i, b)
    for i in range(n_inst):
        c = 1.0 - max(summary[i, S_RUN] / svc[MAX_BATCH], summary[i, S_KV] / svc[KV_CAP])
        base = PER_INSTANCE * i
        obs[b, base] = summary[i, S_WAIT]
        obs[b, base + 1] = summary[i, S_B0]
        obs[b, base + 2] = summary[i, S_B1]
        obs[b, base + 3] = summary[i, S_B2]
        obs[b, base + 4] = round2(c)
        obs[b, base + 5] = round2(soonest[i]) if summary[i, S_ON] > 0 else 0.0
        aux[b, i, A_TOKENS] = summary[i, S_TOKENS_LEFT]
        aux[b, i, A_DRAIN] = drain[i]
        if head >= 0:
            aux[b, i, A_MIX] = mixing_impact(svc, req_i[b, head, P], req_f[b, head, DHAT],
                                             summary[i, S_DEC_TOKENS], summary[i, S_ON])
            fits = summary[i, S_RUN] < svc[MAX_BATCH] and summary[i, S_KV] + req_i[b, head, P] + 1 <= svc[KV_CAP]
            aux[b, i, A_FITS] = 1.0 if fits else 0.0
        else:
            aux[b, i, A_MIX] = 0.0
            aux[b, i, A_FITS] = 0.0
    q = PER_INSTANCE * n_inst
    obs[b, q] = min(env_i[b, E_ARRIVED] - env_i[b, E_ROUTED], QUEUE_CAP)
    obs[b, q + 1] = req_i[b, head, P] if head >= 0 else 0.0
    obs[b, q + 2] = req_i[b, head, BKT] if head >= 0 else 0.0
    return progress


@njit(cache=True)
def arrive(req_f, env_i, b, t):
    n = req_f.shape[1]
    while env_i[b, E_ARRIVED] < n and req_f[b, env_i[b, E_ARRIVED], ARR] <= t:
        env_i[b, E_ARRIVED] += 1


@njit(cache=True)
def reset_clusters(svc, req_i, req_f, env_i, env_f, inst_kind, inst_end, live, summary, obs, aux):
    """Start every cluster at time 0 (request columns P, D, BKT and ARR, DHAT, and the settings E_SJF, E_BATCHING,
    E_CHUNK already filled)."""
    for b in range(req_i.shape[0]):
        req_i[b, :, ST] = QUEUED
        req_i[b, :, INST] = -1
        req_i[b, :, KEY] = 0
        req_i[b, :, O] = 0
        req_i[b, :, NPRE] = 0
        req_i[b, :, PF] = 0
        req_i[b, :, CHUNK] = 0
        req_f[b, :, T_ROUTE] = -1.0
        req_f[b, :, T_FIRST] = -1.0
        req_f[b, :, T_DONE] = -1.0
        sjf, batching, chunk = env_i[b, E_SJF], env_i[b, E_BATCHING], env_i[b, E_CHUNK]
        env_i[b, :] = 0
        env_i[b, E_SJF], env_i[b, E_BATCHING], env_i[b, E_CHUNK] = sjf, batching, chunk
        env_f[b, E_NOW] = 0.0
        inst_kind[b, :] = IDLE
        inst_end[b, :] = 0.0
        arrive(req_f, env_i, b, 0.0)
        observe(svc, req_i, req_f, live, env_i, summary, obs, aux, b)


@njit(cache=True)
def step_clusters(actions, svc, req_i, req_f, env_i, env_f, inst_kind, inst_end, live, summary, obs, aux, terms):
    """One decision step of every unfinished cluster (module docstring); finished clusters are left as they are."""
    n_inst = inst_kind.shape[1]
    n_req = req_i.shape[1]
    for b in range(req_i.shape[0]):
        terms[b, :] = 0.0
        if env_i[b, E_END] != 0:
            continue
        t = env_f[b, E_NOW]
        head = head_index(req_i, req_f, env_i, b)
        env_i[b, E_DECISIONS] += 1
        if head >= 0:
            env_i[b, E_BUSY_DECISIONS] += 1
        a = actions[b]
        if head >= 0 and 0 <= a < n_inst:
            best = aux[b, 0, A_MIX]
            for i in range(1, n_inst):
                best = max(best, aux[b, i, A_MIX])
            terms[b, R_GUIDANCE] = aux[b, a, A_MIX] - best
            route(req_i, req_f, env_i, live, b, head, a, t)
        t_end = t + svc[DT]
        completed = 0
        for i in range(n_inst):
            completed += advance_instance(svc, req_i, req_f, live, env_i, inst_kind, inst_end, b, i, t, t_end)
        env_f[b, E_NOW] = t_end
        env_i[b, E_DONE] += completed
        arrive(req_f, env_i, b, t_end)
        compact_live(req_i, live, env_i, b)
        terms[b, R_PROGRESS] = observe(svc, req_i, req_f, live, env_i, summary, obs, aux, b)
        terms[b, R_COMPLETIONS] = completed
        if env_i[b, E_DONE] == n_req or t_end >= svc[MAX_TIME]:
            env_i[b, E_END] = 1
