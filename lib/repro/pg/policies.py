"""Scalar-action policies of heavy-tailed policy search and their score functions.

Brief 05 (arXiv:2106.08414), section 2 "Policies" (Examples 3.1-3.3):

* ``gaussian``      N(mu, sigma^2)                                  score (a-mu)/sigma^2
* ``cauchy``        sigma / (pi (sigma^2 + (a-mu)^2))               score 2(a-mu)/(sigma^2+(a-mu)^2), |score| <= 1/sigma
* ``gen_gaussian``  alpha/(2 sigma Gamma(1/alpha)) exp(-|a-mu|^alpha/sigma^alpha)   (Example 3.2, our choice)
                    score alpha sign(a-mu) |a-mu|^(alpha-1) / sigma^alpha
* ``stable``        symmetric alpha-stable, E exp(i w (a-mu)) = exp(-|sigma w|^alpha) (scipy's ``levy_stable``
                    scale convention: alpha=1 is Cauchy(sigma), alpha=2 is N(0, 2 sigma^2)), sampled by
                    Chambers-Mallows-Stuck. Its density and score have a closed form only at alpha=1 (Cauchy) and
                    alpha=2 (Gaussian with std sigma*sqrt(2)); **for other alpha the stable policy is sampling-only**
                    (``Policy.has_score`` is False, kernels return NaN) -- use ``gen_gaussian`` for a moderate tail
                    with a score. This is our documented choice (no tabulated numerical density).

The mean is linear in features, mu = theta . phi(s) (see :mod:`repro.pg.rollout`), so the score with respect to
theta is ``score_mu(a - mu) * phi(s)``; all functions here take the deviation ``x = a - mu``.

Kernels dispatch on a small integer ``kind`` code plus ``(sigma, alpha)`` so numba code never sees Python objects;
:class:`Policy` is the validating Python constructor producing them.

Random numbers: every kernel draws from a *stream*, a one-element ``uint64`` array holding a SplitMix64 state
(Steele, Lea & Flood 2014). A stream is keyed by ``(seed, stream_id)`` only, so a run's numbers do not depend on
what else runs in the same batch or thread (DESIGN.md determinism rule). :class:`ReferenceStream` is the
pure-Python twin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from numba import njit

GAUSSIAN, CAUCHY, GEN_GAUSSIAN, STABLE = 0, 1, 2, 3
KIND_CODES = {"gaussian": GAUSSIAN, "cauchy": CAUCHY, "gen_gaussian": GEN_GAUSSIAN, "stable": STABLE}

# ---------------------------------------------------------------- random streams (SplitMix64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


@njit(cache=True)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def new_stream(seed, stream_id):
    """A fresh random stream (uint64[1]) determined by the non-negative integers ``seed`` and ``stream_id``."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = _mix64(_mix64(np.uint64(seed) + _GOLDEN) ^ _mix64(np.uint64(stream_id) * _GOLDEN + _MIX1))
    return state


@njit(cache=True)
def next_u64(state):
    """Advance the stream and return 64 random bits."""
    state[0] += _GOLDEN
    return _mix64(state[0])


@njit(cache=True)
def uniform(state):
    """U(0, 1) strictly inside the interval: 53 random bits, centred in their cell."""
    return ((next_u64(state) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def normal(state):
    """N(0, 1) by Box-Muller (one variate per two uniforms; the second is discarded for simplicity)."""
    u1 = uniform(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def exponential(state):
    """Exp(1) by inversion."""
    return -math.log(uniform(state))


@njit(cache=True)
def gamma_variate(state, shape):
    """Gamma(shape, 1) by Marsaglia-Tsang (2000); shape < 1 via Gamma(shape+1) * U^(1/shape)."""
    boost = 1.0
    if shape < 1.0:
        boost = uniform(state) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(uniform(state)) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost


@njit(cache=True)
def geometric_horizon(state, gamma):
    """T ~ Geom(1 - gamma^(1/2)) on {0, 1, 2, ...}: P(T = t) = gamma^(t/2) (1 - gamma^(1/2)) (Algorithm 1)."""
    return int(math.floor(math.log(uniform(state)) / (0.5 * math.log(gamma))))


@njit(cache=True)
def stable_variate(state, alpha):
    """Standard symmetric alpha-stable, E exp(iwX) = exp(-|w|^alpha), by Chambers-Mallows-Stuck (1976)."""
    v = math.pi * (uniform(state) - 0.5)
    if alpha == 1.0:
        return math.tan(v)
    w = exponential(state)
    return (math.sin(alpha * v) / math.cos(v) ** (1.0 / alpha)
            * (math.cos((1.0 - alpha) * v) / w) ** ((1.0 - alpha) / alpha))


class ReferenceStream:
    """Pure-Python twin of a kernel stream: ``ReferenceStream(seed, stream_id)`` yields the same numbers as
    ``new_stream(seed, stream_id)`` through the same draw functions (used by reference implementations and tests)."""

    def __init__(self, seed: int, stream_id: int):
        golden = 0x9E3779B97F4A7C15
        self.state = self._mix(self._mix((seed + golden) & _MASK64)
                               ^ self._mix((stream_id * golden + 0xBF58476D1CE4E5B9) & _MASK64))

    @staticmethod
    def _mix(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        return ((self._mix(self.state) >> 11) + 0.5) * (1.0 / 9007199254740992.0)

    def normal(self) -> float:
        u1, u2 = self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def exponential(self) -> float:
        return -math.log(self.uniform())

    def gamma(self, shape: float) -> float:
        boost = 1.0
        if shape < 1.0:
            boost = self.uniform() ** (1.0 / shape)
            shape += 1.0
        d = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0.0:
                continue
            v = v * v * v
            if math.log(self.uniform()) < 0.5 * x * x + d - d * v + d * math.log(v):
                return d * v * boost

    def geometric_horizon(self, gamma: float) -> int:
        return int(math.floor(math.log(self.uniform()) / (0.5 * math.log(gamma))))

    def stable(self, alpha: float) -> float:
        v = math.pi * (self.uniform() - 0.5)
        if alpha == 1.0:
            return math.tan(v)
        w = self.exponential()
        return (math.sin(alpha * v) / math.cos(v) ** (1.0 / alpha)
                * (math.cos((1.0 - alpha) * v) / w) ** ((1.0 - alpha) / alpha))

    def deviation(self, kind: int, sigma: float, alpha: float) -> float:
        """Reference twin of :func:`sample_deviation`."""
        if kind == GAUSSIAN:
            return sigma * self.normal()
        if kind == CAUCHY:
            return sigma * math.tan(math.pi * (self.uniform() - 0.5))
        if kind == GEN_GAUSSIAN:
            magnitude = sigma * self.gamma(1.0 / alpha) ** (1.0 / alpha)
            return magnitude if self.uniform() < 0.5 else -magnitude
        return sigma * self.stable(alpha)


# ---------------------------------------------------------------- per-family densities and scores
@njit(cache=True)
def gaussian_score(x, sigma):
    """d/dmu log N(a; mu, sigma^2) at x = a - mu."""
    return x / (sigma * sigma)


@njit(cache=True)
def cauchy_score(x, sigma):
    """d/dmu log Cauchy(a; mu, sigma) at x = a - mu; bounded by 1/sigma (attained at |x| = sigma)."""
    return 2.0 * x / (sigma * sigma + x * x)


@njit(cache=True)
def gen_gaussian_score(x, sigma, alpha):
    """d/dmu log of exp(-|x|^alpha/sigma^alpha): alpha sign(x)|x|^(alpha-1)/sigma^alpha (0 at x = 0)."""
    if x == 0.0:
        return 0.0
    return math.copysign(alpha * abs(x) ** (alpha - 1.0) / sigma ** alpha, x)


@njit(cache=True)
def _gaussian_log_density(x, sigma):
    return -0.5 * (x / sigma) ** 2 - math.log(sigma * math.sqrt(2.0 * math.pi))


@njit(cache=True)
def _cauchy_log_density(x, sigma):
    return math.log(sigma / math.pi) - math.log(sigma * sigma + x * x)


@njit(cache=True)
def _gen_gaussian_log_density(x, sigma, alpha):
    return math.log(alpha / (2.0 * sigma)) - math.lgamma(1.0 / alpha) - (abs(x) / sigma) ** alpha


@njit(cache=True)
def score_mu(kind, x, sigma, alpha):
    """d/dmu log pi(a | mu) at deviation x = a - mu for policy ``kind`` (NaN for sampling-only stable alpha)."""
    if kind == GAUSSIAN:
        return gaussian_score(x, sigma)
    if kind == CAUCHY:
        return cauchy_score(x, sigma)
    if kind == GEN_GAUSSIAN:
        return gen_gaussian_score(x, sigma, alpha)
    if alpha == 1.0:
        return cauchy_score(x, sigma)
    if alpha == 2.0:
        return gaussian_score(x, sigma * math.sqrt(2.0))
    return math.nan


@njit(cache=True)
def log_density(kind, x, sigma, alpha):
    """log pi(a | mu) at deviation x = a - mu for policy ``kind`` (NaN for sampling-only stable alpha)."""
    if kind == GAUSSIAN:
        return _gaussian_log_density(x, sigma)
    if kind == CAUCHY:
        return _cauchy_log_density(x, sigma)
    if kind == GEN_GAUSSIAN:
        return _gen_gaussian_log_density(x, sigma, alpha)
    if alpha == 1.0:
        return _cauchy_log_density(x, sigma)
    if alpha == 2.0:
        return _gaussian_log_density(x, sigma * math.sqrt(2.0))
    return math.nan


@njit(cache=True)
def sample_deviation(kind, sigma, alpha, state):
    """One draw of a - mu from policy ``kind`` using random stream ``state``."""
    if kind == GAUSSIAN:
        return sigma * normal(state)
    if kind == CAUCHY:
        return sigma * math.tan(math.pi * (uniform(state) - 0.5))
    if kind == GEN_GAUSSIAN:
        magnitude = sigma * gamma_variate(state, 1.0 / alpha) ** (1.0 / alpha)
        return magnitude if uniform(state) < 0.5 else -magnitude
    return sigma * stable_variate(state, alpha)


@njit(cache=True)
def _score_array(kind, x, sigma, alpha):
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = score_mu(kind, x[i], sigma, alpha)
    return out


@njit(cache=True)
def _log_density_array(kind, x, sigma, alpha):
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = log_density(kind, x[i], sigma, alpha)
    return out


@njit(cache=True)
def _sample_array(kind, sigma, alpha, n, seed, stream_id):
    state = new_stream(seed, stream_id)
    out = np.empty(n)
    for i in range(n):
        out[i] = sample_deviation(kind, sigma, alpha, state)
    return out


# ---------------------------------------------------------------- Python-level validating constructor
_FIXED_ALPHA = {"gaussian": 2.0, "cauchy": 1.0}


@dataclass(frozen=True)
class Policy:
    """A scalar-action policy family with fixed scale ``sigma``; ``alpha`` is the tail/shape index.

    ``Policy("cauchy", sigma=1.0)``, ``Policy("gaussian", sigma=0.05)``, ``Policy("gen_gaussian", 1.0, alpha=1.5)``,
    ``Policy("stable", 1.0, alpha=1.5)`` (sampling only unless alpha is 1 or 2). Kernels receive
    ``(policy.code, policy.sigma, policy.tail)``.
    """
    kind: str
    sigma: float = 1.0
    alpha: float | None = None

    def __post_init__(self):
        if self.kind not in KIND_CODES:
            raise ValueError(f"policy kind={self.kind!r}: expected one of {sorted(KIND_CODES)}")
        if not (isinstance(self.sigma, Real) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"policy sigma={self.sigma!r}: expected a finite number > 0")
        if self.kind in _FIXED_ALPHA:
            if self.alpha is not None and self.alpha != _FIXED_ALPHA[self.kind]:
                raise ValueError(f"policy alpha={self.alpha!r}: the {self.kind} policy has alpha fixed at "
                                 f"{_FIXED_ALPHA[self.kind]} (leave alpha unset)")
        elif not isinstance(self.alpha, Real) or not 0.0 < self.alpha <= 2.0:
            raise ValueError(f"policy alpha={self.alpha!r}: the {self.kind} policy needs alpha in (0, 2]")

    @property
    def code(self) -> int:
        """Integer kind code used by the kernels."""
        return KIND_CODES[self.kind]

    @property
    def tail(self) -> float:
        """The alpha passed to kernels (2 for Gaussian, 1 for Cauchy)."""
        return float(_FIXED_ALPHA.get(self.kind, self.alpha))

    @property
    def has_score(self) -> bool:
        """False only for the stable policy with alpha not in {1, 2} (no closed-form density)."""
        return self.kind != "stable" or self.tail in (1.0, 2.0)

    def score(self, a, mu=0.0) -> np.ndarray:
        """d/dmu log pi(a | mu), elementwise."""
        x = np.asarray(a, dtype=float) - mu
        return _score_array(self.code, x.ravel(), float(self.sigma), self.tail).reshape(x.shape)

    def log_density(self, a, mu=0.0) -> np.ndarray:
        """log pi(a | mu), elementwise."""
        x = np.asarray(a, dtype=float) - mu
        return _log_density_array(self.code, x.ravel(), float(self.sigma), self.tail).reshape(x.shape)

    def sample(self, n: int, seed: int, mu: float = 0.0) -> np.ndarray:
        """``n`` actions drawn around mean ``mu`` from stream (seed, 0); same kernel sampler as the rollouts."""
        if n < 0 or seed < 0:
            raise ValueError(f"sample: expected n >= 0 and seed >= 0, got n={n}, seed={seed}")
        return mu + _sample_array(self.code, float(self.sigma), self.tail, int(n), int(seed), 0)
