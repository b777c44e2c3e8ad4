"""SageServe's short-term arbiters and the Chiron baseline (brief 01 §2 "Short-term arbiters", §3 "Baselines").

An arbiter looks at an :class:`~repro.autoscale.view.EndpointView` and returns, per endpoint (model, region,
pool), how many instances to add (> 0) or remove (< 0) now. The executor (:mod:`repro.autoscale.runner`) applies
them through the region's spot pool, skips endpoints whose previous scaling is still in progress (the code's
cool-down: 65 s after a reclaim, 155 s after a spin-up, 0 s after a scale-down), keeps the minimum endpoint
size, and reports back what it did (:meth:`applied`), which the ILP-driven arbiters use to count down their quota.

Rules (u = the endpoint's memory utilisation):

- :class:`Reactive` (BasicArbiter): u > 0.5: +1; u < 0.25: −1.
- :class:`LongTermImmediate` (LT-I): the hour's ILP Δ at once.
- :class:`LongTermQuota` LT-U: the ILP's quota, one instance at a time, only while u > 0.5 (up) or u < 0.25
  (down); with the quota used up, +1 if u > 0.9.
- :class:`LongTermQuota` LT-UA: as LT-U, but the override fires when actual tokens in the last minute /
  forecast > 5.
- :class:`Chiron`: batch (NIW) pool: +1 when the estimated queue drain time exceeds 24 h, −1 when nothing
  waits; interactive pool: +1 if the share of instances serving requests (ibp) > 0.6, else −1.

Quota bookkeeping of LT-U/LT-UA [code]: the quota starts at the hour's ILP Δ and every applied change is
subtracted, so an override scale-up leaves a quota of −1 that a later scale-down (u < 0.25) takes back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REACTIVE_UP = 0.5       #: [code] scale up above this memory utilisation
REACTIVE_DOWN = 0.25    #: [code] scale down below it
LTU_OVERRIDE = 0.9      #: [code] LT-U scales up beyond its quota above this utilisation
LTUA_RATIO = 5.0        #: [code] LT-UA override: actual tokens in the last minute / forecast
CHIRON_IBP = 0.6        #: [code] Chiron interactive pool: scale up above this share of busy instances
CHIRON_DEADLINE_S = 86400.0   #: [code] Chiron batch pool: scale up when the queue takes longer to drain
CHIRON_PROMPT_TIME_S = 10.0   #: [code] ChironRoundRobin.prompt_time
CHIRON_DECODE_TPS = 100.0     #: [code] ChironRoundRobin.decode_throughput (tokens/s per instance)


@dataclass(frozen=True)
class HourPlan:
    """The long-term planner's output for one hour: ``delta`` (n_models, n_regions) ILP instance changes of the
    interactive pool (zeros when the solve failed), ``forecast`` (n_models, n_regions, horizon) prompt tokens per
    minute from ``t0`` on, and the solver ``status``."""
    t0: float
    delta: np.ndarray
    forecast: np.ndarray
    status: str

    def forecast_at(self, t: float) -> np.ndarray:
        """(n_models, n_regions) forecast for the minute containing t (the last one past the horizon)."""
        k = int(min(max((t - self.t0) // 60.0, 0), self.forecast.shape[2] - 1))
        return self.forecast[:, :, k]


class Arbiter:
    """Base: no scaling. Subclasses override :meth:`act`; ILP-driven ones also :meth:`new_plan`."""

    uses_plan = False

    def act(self, view) -> np.ndarray:
        return np.zeros(view.shape, np.int64)

    def new_plan(self, plan: HourPlan) -> None:
        """Called at the start of every hour by the runner when ``uses_plan``."""

    def applied(self, done: np.ndarray) -> None:
        """The instances actually added (> 0) or removed (< 0) per endpoint after :meth:`act`."""


def threshold_steps(util, ready, up: float = REACTIVE_UP, down: float = REACTIVE_DOWN) -> np.ndarray:
    """+1 where u > up, −1 where u < down, on ready endpoints (the BasicArbiter rule)."""
    util = np.asarray(util)
    steps = np.where(util > up, 1, np.where(util < down, -1, 0)).astype(np.int64)
    return np.where(ready, steps, 0)


class Reactive(Arbiter):
    """BasicArbiter: +1 instance when u > ``up``, −1 when u < ``down`` (every pool)."""

    def __init__(self, up: float = REACTIVE_UP, down: float = REACTIVE_DOWN):
        if not 0 <= down < up:
            raise ValueError(f"Reactive: expected 0 <= down < up, got down={down}, up={up}")
        self.up, self.down = float(up), float(down)

    def act(self, view) -> np.ndarray:
        return threshold_steps(view.util, view.ready, self.up, self.down)


class _PlanFollower(Arbiter):
    """Holds the hour's plan and the remaining quota of the interactive pool (pool 0)."""

    uses_plan = True

    def __init__(self):
        self.plan: HourPlan | None = None
        self.quota: np.ndarray | None = None

    def new_plan(self, plan: HourPlan) -> None:
        self.plan = plan
        self.quota = np.asarray(plan.delta, np.int64).copy()

    def applied(self, done: np.ndarray) -> None:
        if self.quota is not None:
            self.quota -= np.asarray(done, np.int64)[:, :, 0]

    def _pool0(self, view, steps0) -> np.ndarray:
        steps = np.zeros(view.shape, np.int64)
        steps[:, :, 0] = np.where(view.ready[:, :, 0], steps0, 0)
        return steps


class LongTermImmediate(_PlanFollower):
    """LT-I: apply what is left of the hour's ILP Δ at once (all of it at the start of the hour)."""

    def act(self, view) -> np.ndarray:
        if self.quota is None:
            return np.zeros(view.shape, np.int64)
        return self._pool0(view, self.quota)


class LongTermQuota(_PlanFollower):
    """LT-U (``override="util"``) and LT-UA (``override="forecast_ratio"``): follow the ILP quota one instance at a
    time, up only while u > ``up`` and down only while u < ``down``; once the quota is used up (0), scale up
    anyway when the override fires: u > ``util_override`` (LT-U) or actual / forecast tokens of the last minute
    > ``ratio_override`` (LT-UA)."""

    OVERRIDES = ("util", "forecast_ratio")

    def __init__(self, override: str = "util", up: float = REACTIVE_UP, down: float = REACTIVE_DOWN,
                 util_override: float = LTU_OVERRIDE, ratio_override: float = LTUA_RATIO):
        super().__init__()
        if override not in self.OVERRIDES:
            raise ValueError(f"LongTermQuota: override must be one of {self.OVERRIDES}, got {override!r}")
        self.override = override
        self.up, self.down = float(up), float(down)
        self.util_override, self.ratio_override = float(util_override), float(ratio_override)

    def overriding(self, view) -> np.ndarray:
        """(n_models, n_regions) bool: the override condition of the interactive pool."""
        if self.override == "util":
            return view.util[:, :, 0] > self.util_override
        predicted = self.plan.forecast_at(view.t)
        return view.iw_tokens_last_minute > self.ratio_override * np.maximum(predicted, 1.0)

    def act(self, view) -> np.ndarray:
        if self.quota is None:
            return np.zeros(view.shape, np.int64)
        u = view.util[:, :, 0]
        q = self.quota
        up = ((q > 0) & (u > self.up)) | ((q == 0) & self.overriding(view))
        down = (q < 0) & (u < self.down)
        return self._pool0(view, np.where(up, 1, np.where(down, -1, 0)))


class Chiron(Arbiter):
    """Chiron (ChironArbiter) on siloed pools: pool 0 interactive, pool 1 batch (NIW).

    Interactive pool: +1 when the share of active instances holding requests exceeds ``ibp_up``, else −1.
    Batch pool: estimated drain time = waiting × ``prompt_time_s`` + waiting × ``tokens_per_request`` /
    (``decode_tps`` × active instances); +1 when above ``deadline_s``, −1 when nothing waits.
    ``tokens_per_request`` stands for the pending output tokens per waiting request, which the view does not
    carry (default 13: the median output of the 2023 code trace, brief 01 §5).
    """

    def __init__(self, ibp_up: float = CHIRON_IBP, deadline_s: float = CHIRON_DEADLINE_S,
                 prompt_time_s: float = CHIRON_PROMPT_TIME_S, decode_tps: float = CHIRON_DECODE_TPS,
                 tokens_per_request: float = 13.0):
        self.ibp_up = float(ibp_up)
        self.deadline_s = float(deadline_s)
        self.prompt_time_s = float(prompt_time_s)
        self.decode_tps = float(decode_tps)
        self.tokens_per_request = float(tokens_per_request)

    def drain_seconds(self, view) -> np.ndarray:
        """(n_models, n_regions) estimated seconds to drain the batch pool's waiting requests."""
        w = view.n_waiting[:, :, 1].astype(np.float64)
        active = view.n_active[:, :, 1].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            decode = np.where(active > 0, w * self.tokens_per_request / (self.decode_tps * np.maximum(active, 1)),
                              np.where(w > 0, np.inf, 0.0))
        return w * self.prompt_time_s + decode

    def act(self, view) -> np.ndarray:
        if view.shape[2] != 2:
            raise ValueError(f"Chiron: needs siloed pools (interactive 0, batch 1), got {view.shape[2]} pool(s)")
        steps = np.zeros(view.shape, np.int64)
        steps[:, :, 0] = np.where(view.busy_share[:, :, 0] > self.ibp_up, 1, -1)
        drain = self.drain_seconds(view)
        steps[:, :, 1] = np.where(drain > self.deadline_s, 1, np.where(view.n_waiting[:, :, 1] == 0, -1, 0))
        return np.where(view.ready, steps, 0)
