"""Multi-tenant, multi-application LLM workload for FairServe (brief 02 §2 "State" and §5 "Synthetic default").

Applications a = 0..n_apps-1 (34 by default, the paper's count) each have a system prompt of S_a tokens
(LogUniform(50, 4000)), m_a LLM calls per interaction (1 for 20 apps, 2-5 for 10 apps, 6-12 for 4 apps;
scaled to other n_apps by largest remainder), a token pool ('conv' or 'code' from the 2023 Azure trace;
30 % of apps code-like [our choice]) and per-app scale factors on the pool's user-input and output lengths
(LogUniform(0.25, 2) each [our choice], so apps differ in their input and output distributions).
A call's prompt is S_a + round(input_scale_a x pool prompt), its output max(1, round(output_scale_a x pool output)).

Users u = 0..n_users-1 (the Trace's ``tenant``) have a home app (Zipf(1.1) over a random popularity order of the
apps) and Poisson interaction arrivals at rate r_u: LogNormal(0, rate_sigma) weights scaled so that the normal
rates sum to ``interactions_per_s``; a share ``abusive_share`` of users (2 %) send ``abuse_factor`` (20x) theirs.

Closed-loop convention for multi-call interactions (brief 02 §2: call k+1 arrives only after call k completes,
plus a think time): row k >= 1 of an interaction has ``arrival = start + k * think_time`` (the earliest it could
arrive), and ``arrival[k] - arrival[k-1]`` is the think time; a replay releases call k at
completion(call k-1) + think time. Rows are sorted by this nominal arrival; interaction ids follow start order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repro.core.trace import Trace
from repro.traces.tokens import quantile_tokens

#: brief 02 §5: (number of apps out of 34, min calls, max calls) per interaction.
CALLS_GROUPS = ((20, 1, 1), (10, 2, 5), (4, 6, 12))


@dataclass(frozen=True)
class AppTable:
    """Per application (index = Trace.app). Arrays of shape (n_apps,)."""

    system_prompt_tokens: np.ndarray   # int32
    calls_per_interaction: np.ndarray  # int16
    token_pool: tuple[str, ...]        # 'conv' or 'code'
    input_scale: np.ndarray            # float64
    output_scale: np.ndarray           # float64
    mean_prompt_tokens: np.ndarray     # float64 expected prompt tokens per call (system + user input)
    mean_output_tokens: np.ndarray     # float64 expected output tokens per call

    @property
    def mean_tokens_per_interaction(self) -> np.ndarray:
        return self.calls_per_interaction * (self.mean_prompt_tokens + self.mean_output_tokens)


@dataclass(frozen=True)
class UserTable:
    """Per user (index = Trace.tenant). Arrays of shape (n_users,)."""

    home_app: np.ndarray    # int32
    rate_per_s: np.ndarray  # float64 interactions per second (abusers included at their abusive rate)
    abusive: np.ndarray     # bool


@dataclass(frozen=True)
class MultiTenantWorkload:
    trace: Trace
    apps: AppTable
    users: UserTable
    think_time_s: float
    duration_s: float


def split_counts(total: int, weights) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder; ties to the first)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def make_apps(rng: np.random.Generator, n_apps: int = 34, tokens=None, *, system_prompt_range=(50, 4000),
              calls_groups=CALLS_GROUPS, code_app_share: float = 0.3, scale_range=(0.25, 2.0)) -> AppTable:
    """Draw the application population described in the module docstring."""
    if n_apps < 1:
        raise ValueError(f"n_apps: expected >= 1, got {n_apps}")
    tokens = tokens if tokens is not None else quantile_tokens()
    lo, hi = system_prompt_range
    if not 1 <= lo <= hi:
        raise ValueError(f"system_prompt_range: expected 1 <= low <= high, got {system_prompt_range}")
    system = np.rint(np.exp(rng.uniform(np.log(lo), np.log(hi), n_apps))).astype(np.int32)
    sizes = split_counts(n_apps, [g[0] for g in calls_groups])
    calls = np.concatenate([rng.integers(g[1], g[2] + 1, size=k) for g, k in zip(calls_groups, sizes)])
    calls = rng.permutation(calls).astype(np.int16)
    pool = tuple(np.where(rng.random(n_apps) < code_app_share, "code", "conv").tolist())
    s_lo, s_hi = np.log(scale_range[0]), np.log(scale_range[1])
    in_scale = np.exp(rng.uniform(s_lo, s_hi, n_apps))
    out_scale = np.exp(rng.uniform(s_lo, s_hi, n_apps))
    means = np.array([tokens[p].mean() for p in pool])
    return AppTable(system, calls, pool, in_scale, out_scale,
                    system + in_scale * means[:, 0], out_scale * means[:, 1])


def make_users(rng: np.random.Generator, n_users: int, n_apps: int, *, interactions_per_s: float,
               abusive_share: float = 0.02, abuse_factor: float = 20.0, zipf_exponent: float = 1.1,
               rate_sigma: float = 1.0) -> UserTable:
    if n_users < 1:
        raise ValueError(f"n_users: expected >= 1, got {n_users}")
    if not 0.0 <= abusive_share <= 1.0:
        raise ValueError(f"abusive_share: expected a share in [0, 1], got {abusive_share}")
    if interactions_per_s <= 0:
        raise ValueError(f"interactions_per_s: expected > 0, got {interactions_per_s}")
    popularity = 1.0 / np.arange(1, n_apps + 1) ** zipf_exponent
    order = rng.permutation(n_apps)               # which app has popularity rank 1, 2, ...
    rank_of_user = rng.choice(n_apps, size=n_users, p=popularity / popularity.sum())
    home = order[rank_of_user].astype(np.int32)
    weight = rng.lognormal(0.0, rate_sigma, n_users)
    rate = interactions_per_s * weight / weight.sum()
    abusive = np.zeros(n_users, bool)
    abusive[rng.choice(n_users, size=int(round(abusive_share * n_users)), replace=False)] = True
    rate[abusive] *= abuse_factor
    return UserTable(home, rate, abusive)


def generate_multitenant_trace(n_users: int = 2000, n_apps: int = 34, duration: float = 7200.0, *,
                               interactions_per_s: float = 2.0, abusive_share: float = 0.02,
                               abuse_factor: float = 20.0, zipf_exponent: float = 1.1, rate_sigma: float = 1.0,
                               think_time: float = 0.2, system_prompt_range=(50, 4000), calls_groups=CALLS_GROUPS,
                               code_app_share: float = 0.3, scale_range=(0.25, 2.0), tokens=None,
                               seed: int = 0) -> MultiTenantWorkload:
    """FairServe workload: apps, users and the trace of their interactions over ``duration`` seconds.

    ``interactions_per_s`` is the aggregate interaction rate of all users at their normal rates (abusers then
    send ``abuse_factor`` times theirs); calibrate it to the server with ``apps.mean_tokens_per_interaction``.
    ``tokens``: samplers per pool ('conv', 'code') with ``sample(rng, n)`` and ``mean()``; default the committed
    quantile tables (pass ``repro.traces.token_samplers('auto')`` to resample the real 2023 trace when present).
    """
    if duration <= 0 or think_time <= 0:
        raise ValueError(f"duration and think_time: expected > 0, got {duration} and {think_time}")
    tokens = tokens if tokens is not None else quantile_tokens()
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    apps = make_apps(rng, n_apps, tokens, system_prompt_range=system_prompt_range, calls_groups=calls_groups,
                     code_app_share=code_app_share, scale_range=scale_range)
    users = make_users(rng, n_users, n_apps, interactions_per_s=interactions_per_s, abusive_share=abusive_share,
                       abuse_factor=abuse_factor, zipf_exponent=zipf_exponent, rate_sigma=rate_sigma)

    per_user = rng.poisson(users.rate_per_s * duration)
    user = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    start = rng.uniform(0.0, duration, user.size)
    order = np.argsort(start, kind="stable")                  # interaction id = rank of its start time
    user, start = user[order], start[order]
    app = users.home_app[user]
    calls = apps.calls_per_interaction[app].astype(np.int64)
    interaction = np.repeat(np.arange(user.size, dtype=np.int64), calls)
    first_row = np.cumsum(calls) - calls
    step = (np.arange(interaction.size) - first_row[interaction]).astype(np.int16)
    row_app = app[interaction]
    arrival = start[interaction] + step * think_time

    prompt = np.empty(interaction.size, np.int64)
    output = np.empty(interaction.size, np.int64)
    for pool in ("conv", "code"):
        apps_in_pool = np.array([p == pool for p in apps.token_pool])
        sel = np.flatnonzero(apps_in_pool[row_app])
        if sel.size == 0:
            continue
        p, o = tokens[pool].sample(rng, sel.size)
        a = row_app[sel]
        prompt[sel] = apps.system_prompt_tokens[a] + np.rint(apps.input_scale[a] * p)
        output[sel] = np.maximum(1, np.rint(apps.output_scale[a] * o))
    rows = np.argsort(arrival, kind="stable")
    trace = Trace.from_columns(arrival[rows], prompt[rows], output[rows], tenant=user[interaction][rows],
                               app=row_app[rows], interaction=interaction[rows], step=step[rows])
    return MultiTenantWorkload(trace, apps, users, float(think_time), float(duration))
