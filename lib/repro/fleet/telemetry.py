"""Per-VM lifetimes and 5-minute CPU telemetry of the synthetic fleet, calibrated to Resource Central
(brief 07 §2 "Telemetry per VM", §5 calibration facts: Cortez et al., SOSP 2017).

**VMs** (:func:`vm_table`): every VM belongs to a workload of :func:`repro.fleet.survey.draw_survey` and inherits
its answers. [our choices, documented here and printed by the papers' limitations]

* *Lifetime*: long-running (>= 3 days) with probability ``expit(long_logit + sum of LIFETIME_LOGIT over the
  workload's answers)`` (stateful, user-facing and delay-tolerant workloads live longer, preemptible ones
  shorter); long lifetimes are 3 days + Exponential(mean 7 days); short ones LogNormal(log 2 h, 2) truncated
  below 3 days (brief 07 §5). ``long_logit`` is fitted so that long-running VMs hold 94% of core-hours.
* *Cores*: 1, 2, 4, 8, 16 with probabilities :data:`CORE_SHARES`.
* *Observation*: a VM is observed for min(lifetime, window) at 5-minute samples, at a uniform offset.
* *CPU*: ``x_t = clip(mu + alpha sin(2 pi tau / 1 day + phase) + s max(eta_t - 1, 0), 0, 1)``: a base level
  ``mu ~ Beta(0.8, beta_b)`` (through a latent normal shifted by the answers: preemptible lower, user-facing
  higher), a daily swing of amplitude ``alpha`` ~ U(0.15, 0.45) for user-facing workloads and U(0, 0.03)
  otherwise, with a phase set by the region (time zone), and bursts: ``eta`` is a unit-variance AR(1) with
  coefficient 0.9 per 5 minutes, above one standard deviation 16% of the time, scaled by the VM's burstiness
  ``s = burst_sigma * LogNormal(0, 0.5)``. ``beta_b`` and ``burst_sigma`` are fitted (alternating bisection on
  a pilot of 3,000 VMs observed for up to 2 days) so that 60% of VMs average below 20% CPU and 40% have a P95
  below 50% (:func:`calibrate`); :func:`fit_report` gives the error on the whole fleet.

Each VM's noise comes from its own stream (run seed, "fleet", "telemetry", VM index), so a VM's series is the
same whichever chunk computes it: :func:`reduce_fleet` cuts the fleet into chunks of VMs and runs
:func:`chunk_stats` on each through :func:`repro.sweep.sweep` (a Dask cluster when DASK_SCHEDULER_ADDRESS is
set), with results identical to the serial run. Peak memory is a few float32 (chunk, 2016) arrays.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, signal, special, stats

from repro import sweep as sweeps
from repro.core import seeds
from repro.fleet import survey as surveys
from repro.fleet.stats import SAMPLES_PER_DAY, vm_cpu_stats

STEP_H = 24.0 / SAMPLES_PER_DAY
LONG_DAYS = 3.0                      # Resource Central: periodicity is detectable for VMs running >= 3 days
TARGETS = {"avg_cpu_below_0.2": 0.60, "p95_cpu_below_0.5": 0.40, "long_core_hour_share": 0.94}
"""Resource Central (SOSP 2017) facts the generator is fitted to (brief 07 §5)."""
SHORT_MEDIAN_H, SHORT_SIGMA = 2.0, 2.0   # brief 07 §5 [our choice]
LONG_EXTRA_MEAN_DAYS = 7.0               # [our choice]
CORES = np.array([1, 2, 4, 8, 16])
CORE_SHARES = np.array([0.3, 0.3, 0.2, 0.15, 0.05])   # [our choice]
LIFETIME_LOGIT = {"stateless": -1.0, "user_facing": 1.0, "delay_tolerant": 1.0, "preemptible": -1.0}
CPU_SHIFT = {"preemptible": -0.7, "user_facing": 0.3}  # latent-normal shifts of the average CPU [our choice]
BETA_A = 0.8
AMPLITUDE = {True: (0.15, 0.45), False: (0.0, 0.03)}   # daily amplitude (CPU fraction), user-facing or not
AR_COEFFICIENT = 0.9
BURST_SPREAD = 0.5
BURST_THRESHOLD = 1.0                                 # bursts: the AR(1) noise above 1 sd (16% of the time)


@dataclass(frozen=True)
class FleetSpec:
    """Everything that fixes a fleet: sizes, seed and the three calibrated constants."""
    n_workloads: int
    n_vms: int
    n_regions: int
    days: int
    zipf_exponent: float
    copula_rho: float
    seed: int
    long_logit: float = 0.0
    beta_b: float = 5.0
    burst_sigma: float = 1.5

    @property
    def steps(self) -> int:
        return int(self.days * SAMPLES_PER_DAY)


@functools.lru_cache(maxsize=4)
def workloads_of(spec: FleetSpec) -> pd.DataFrame:
    return surveys.draw_survey(spec.n_workloads, spec.n_vms, spec.n_regions, spec.zipf_exponent, spec.copula_rho,
                          spec.seed)


def _attribute_sum(vm_answers: pd.DataFrame, weights: dict) -> np.ndarray:
    return sum(w * vm_answers[q].to_numpy(float) for q, w in weights.items())


@functools.lru_cache(maxsize=4)
def _draws(seed: int, n_vms: int) -> dict[str, np.ndarray]:
    """The uniform and normal draws behind every VM attribute (fixed while constants are calibrated)."""
    rng = seeds.rng(seed, "fleet", "vms")
    return {name: rng.random(n_vms) for name in ("long", "life", "cores", "offset", "amplitude", "phase")} | {
        "cpu": rng.standard_normal(n_vms), "burst": rng.standard_normal(n_vms), "region": rng.random(n_vms)}


def _cores(u: np.ndarray) -> np.ndarray:
    return CORES[np.searchsorted(np.cumsum(CORE_SHARES), u * CORE_SHARES.sum(), side="right")]


def _lifetime_hours(long: np.ndarray, u: np.ndarray) -> np.ndarray:
    long_h = 24 * (LONG_DAYS - LONG_EXTRA_MEAN_DAYS * np.log1p(-u))
    cut = stats.norm.cdf(np.log(24 * LONG_DAYS / SHORT_MEDIAN_H) / SHORT_SIGMA)
    short_h = SHORT_MEDIAN_H * np.exp(SHORT_SIGMA * stats.norm.ppf(u * cut))
    return np.where(long, long_h, short_h)


def vm_columns(spec: FleetSpec, rows: np.ndarray | None = None) -> pd.DataFrame:
    """VMs ``rows`` (default: all) of the fleet; see :func:`vm_table`."""
    workloads = workloads_of(spec)
    rows = np.arange(spec.n_vms) if rows is None else np.asarray(rows)
    d = {k: v[rows] for k, v in _draws(spec.seed, spec.n_vms).items()}
    vm_workload = np.repeat(workloads["workload"].to_numpy(), workloads["vms"].to_numpy())[rows]
    answers = workloads.loc[vm_workload, list(surveys.QUESTIONS)].reset_index(drop=True)
    long = d["long"] < special.expit(spec.long_logit + _attribute_sum(answers, LIFETIME_LOGIT))
    lifetime = _lifetime_hours(long, d["life"])
    observed = np.clip(np.ceil(np.minimum(lifetime, 24 * spec.days) / STEP_H), 1, spec.steps).astype(np.int64)
    user = answers["user_facing"].to_numpy()
    low = np.where(user, AMPLITUDE[True][0], AMPLITUDE[False][0])
    high = np.where(user, AMPLITUDE[True][1], AMPLITUDE[False][1])
    spans = workloads["regions"].to_numpy()[vm_workload]
    first_region = (vm_workload * 7) % spec.n_regions  # a workload's regions: a run of consecutive region ids
    region = (first_region + np.floor(d["region"] * spans).astype(np.int64)) % spec.n_regions
    table = pd.DataFrame({
        "vm": rows, "workload": vm_workload, "region": region,
        "cores": _cores(d["cores"]),
        "long": long, "lifetime_h": lifetime, "observed": observed,
        "offset": np.floor(d["offset"] * (spec.steps - observed + 1)).astype(np.int64),
        "mu": stats.beta.ppf(stats.norm.cdf(d["cpu"] + _attribute_sum(answers, CPU_SHIFT)), BETA_A, spec.beta_b),
        "amplitude": low + (high - low) * d["amplitude"],
        "phase": 2 * np.pi * (region / spec.n_regions + 0.05 * d["phase"]),
        "burst": spec.burst_sigma * np.exp(BURST_SPREAD * d["burst"]),
    })
    return pd.concat([table, answers], axis=1)


@functools.lru_cache(maxsize=2)
def vm_table(spec: FleetSpec) -> pd.DataFrame:
    """One row per VM: vm, workload, region, cores, long (>= 3 days), lifetime_h, observed (samples), offset,
    mu, amplitude, phase, burst, and the workload's answers (:data:`repro.fleet.survey.QUESTIONS`)."""
    return vm_columns(spec)


def core_hour_share_long(vms: pd.DataFrame) -> float:
    """Share of core-hours (cores x lifetime) held by VMs living >= 3 days."""
    core_hours = vms["cores"] * vms["lifetime_h"]
    return float(core_hours[vms["long"]].sum() / core_hours.sum())


def ar1_noise(vm_ids: np.ndarray, steps: int, seed: int) -> np.ndarray:
    """(len(vm_ids), steps) float32 unit-variance AR(1) noise, row i from the stream of VM vm_ids[i]."""
    base = seeds.seed_int(seed, "fleet", "telemetry")
    eps = np.empty((len(vm_ids), steps), dtype=np.float32)
    for row, vm in enumerate(vm_ids):
        np.random.default_rng([base, int(vm)]).standard_normal(steps, dtype=np.float32, out=eps[row])
    eps[:, 0] /= np.float32(np.sqrt(1 - AR_COEFFICIENT ** 2))  # start in the stationary law
    return signal.lfilter([np.sqrt(1 - AR_COEFFICIENT ** 2)], [1.0, -AR_COEFFICIENT], eps, axis=1).astype(np.float32)


def cpu_series(vms: pd.DataFrame, noise: np.ndarray) -> np.ndarray:
    """(rows, steps) float32 CPU utilisation in [0, 1] of the VMs ``vms`` given their AR(1) ``noise``; sample t
    of a row is at 5-minute step ``offset + t`` of the window (only the first ``observed`` samples are its life)."""
    steps = noise.shape[1]
    clock = (vms["offset"].to_numpy()[:, None] + np.arange(steps)[None, :]).astype(np.float32)
    daily = np.sin(np.float32(2 * np.pi / SAMPLES_PER_DAY) * clock + vms["phase"].to_numpy(np.float32)[:, None])
    burst = vms["burst"].to_numpy(np.float32)[:, None]
    level = vms["mu"].to_numpy(np.float32)[:, None] + vms["amplitude"].to_numpy(np.float32)[:, None] * daily
    cpu = level + burst * np.maximum(noise - np.float32(BURST_THRESHOLD), 0)
    return np.clip(cpu, 0, 1, out=cpu)


def chunk_stats(start: int, stop: int, seed: int, spec: FleetSpec) -> dict[str, np.ndarray]:
    """mean, p95 and diurnal (:func:`repro.fleet.stats.vm_cpu_stats`) of VMs start..stop-1 (a sweep task)."""
    if seed != spec.seed:
        raise ValueError(f"chunk_stats: seed {seed} differs from the fleet's seed {spec.seed}")
    vms = vm_table(spec).iloc[start:stop]
    cpu = cpu_series(vms, ar1_noise(vms["vm"].to_numpy(), spec.steps, spec.seed))
    mean, p95, diurnal = vm_cpu_stats(cpu, vms["observed"].to_numpy(), SAMPLES_PER_DAY)
    return {"mean": mean, "p95": p95, "diurnal": diurnal}


def reduce_fleet(spec: FleetSpec, chunk_vms: int, client=sweeps.SERIAL, progress: bool = False) -> pd.DataFrame:
    """The VM table with the telemetry statistics mean_cpu, p95_cpu, diurnal, computed chunk by chunk through
    :func:`repro.sweep.sweep` (``client``: "serial", None for the shared Dask client, or a distributed.Client)."""
    bounds = [{"start": s, "stop": min(s + chunk_vms, spec.n_vms)} for s in range(0, spec.n_vms, chunk_vms)]
    result = sweeps.sweep(functools.partial(chunk_stats, spec=spec), bounds, seeds=[spec.seed], client=client,
                          progress=progress, desc="fleet telemetry")
    out = vm_table(spec).copy()
    for name, column in (("mean", "mean_cpu"), ("p95", "p95_cpu"), ("diurnal", "diurnal")):
        out[column] = np.concatenate(result.arrays[name])
    return out


# ------------------------------------------------------------------------------------------ calibration

def fit_long_logit(spec: FleetSpec) -> float:
    """``long_logit`` at which long-running VMs hold TARGETS["long_core_hour_share"] of core-hours."""
    workloads = workloads_of(spec)
    d = _draws(spec.seed, spec.n_vms)
    answers = workloads.loc[np.repeat(workloads["workload"].to_numpy(), workloads["vms"].to_numpy()),
                            list(surveys.QUESTIONS)]
    tilt = _attribute_sum(answers, LIFETIME_LOGIT)
    cores = _cores(d["cores"])

    def gap(logit):
        long = d["long"] < special.expit(logit + tilt)
        core_hours = cores * _lifetime_hours(long, d["life"])
        return core_hours[long].sum() / core_hours.sum() - TARGETS["long_core_hour_share"]
    return float(optimize.brentq(gap, -12.0, 12.0, xtol=1e-6))


def _pilot_shares(vms: pd.DataFrame, noise: np.ndarray) -> tuple[float, float]:
    cpu = cpu_series(vms, noise)
    mean, p95, _ = vm_cpu_stats(cpu, np.minimum(vms["observed"].to_numpy(), noise.shape[1]), SAMPLES_PER_DAY)
    return float(np.mean(mean < 0.2)), float(np.mean(p95 < 0.5))


def calibrate(spec: FleetSpec, pilot_vms: int = 3000, pilot_days: int = 2, rounds: int = 4) -> FleetSpec:
    """``spec`` with long_logit, beta_b and burst_sigma fitted to :data:`TARGETS` (beta_b and burst_sigma by
    alternating bisection on a pilot of VMs observed for at most ``pilot_days``; noise drawn once)."""
    spec = dataclasses.replace(spec, long_logit=fit_long_logit(spec))
    pilot_rows = np.sort(seeds.rng(spec.seed, "fleet", "pilot").choice(spec.n_vms, min(pilot_vms, spec.n_vms),
                                                                         replace=False))
    noise = ar1_noise(pilot_rows, min(pilot_days, spec.days) * SAMPLES_PER_DAY, spec.seed)

    def shares(beta_b, burst_sigma):
        vms = vm_columns(dataclasses.replace(spec, beta_b=beta_b, burst_sigma=burst_sigma), pilot_rows)
        return _pilot_shares(vms, noise)

    beta_b, burst = spec.beta_b, spec.burst_sigma
    for _ in range(rounds):  # the average share grows with beta_b, the P95 share falls with burst_sigma
        beta_b = _root(lambda b: shares(b, burst)[0] - TARGETS["avg_cpu_below_0.2"], (0.3, 200.0), 1e-3, "beta_b")
        burst = _root(lambda s: TARGETS["p95_cpu_below_0.5"] - shares(beta_b, s)[1], (0.01, 20.0), 1e-4,
                      "burst_sigma")
    return dataclasses.replace(spec, beta_b=float(beta_b), burst_sigma=float(burst))


def _root(gap, bracket: tuple[float, float], xtol: float, name: str) -> float:
    """The root of ``gap`` in ``bracket``, or one error saying which constant cannot meet its target."""
    ends = (gap(bracket[0]), gap(bracket[1]))
    if np.sign(ends[0]) == np.sign(ends[1]):
        raise ValueError(f"calibrate: no {name} in {list(bracket)} meets the Resource Central target (pilot share "
                         f"gaps {ends[0]:+.3f} and {ends[1]:+.3f} at the ends); the fleet is too small or too short")
    return float(optimize.brentq(gap, *bracket, xtol=xtol))


def fit_report(fleet: pd.DataFrame) -> pd.DataFrame:
    """One row per calibration target: target, realised (whole fleet), error (realised - target)."""
    realised = {"avg_cpu_below_0.2": float(np.mean(fleet["mean_cpu"] < 0.2)),
                "p95_cpu_below_0.5": float(np.mean(fleet["p95_cpu"] < 0.5)),
                "long_core_hour_share": core_hour_share_long(fleet)}
    return pd.DataFrame([{"fact": k, "target": TARGETS[k], "realised": realised[k],
                          "error": realised[k] - TARGETS[k]} for k in TARGETS])
