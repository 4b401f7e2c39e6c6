"""zCDP for the marginal route: OpenDP's Gaussian and exponential mechanisms, and rho <-> (epsilon, delta).

Why zCDP: AIM (McKenna et al., VLDB 2022) runs dozens of adaptive rounds, each
one selection and one measurement. zero-concentrated DP (Bun & Steinke 2016)
composes them by adding their rho, which is far tighter than adding epsilons;
the total rho is then converted once to (epsilon, delta) and composed with the
job's other (epsilon, delta) parts (schema release, DP-SGD) by basic composition.

Mechanisms (both sample with OpenDP's vetted samplers from its CSPRNG, never numpy):
- `gaussian_counts`: integer counts plus discrete Gaussian noise of scale sigma
  (`opendp.measurements.make_gaussian` on an integer vector, L2 distance);
  for L2 sensitivity s it is s^2/(2 sigma^2)-zCDP (Canonne, Kamath, Steinke 2020).
  One row changes one cell of a marginal by 1: s = 1.
- `select_index`: the exponential mechanism as report-noisy-max with Gumbel
  noise (`make_noisy_max` with a zCDP output measure). For scores of
  sensitivity D (adding or removing a row moves each score by at most D, in
  any direction) and noise scale 2D/eps it is eps-DP and, as a bounded-range
  mechanism, eps^2/8-zCDP (Cesar & Rogers 2021), the bound AIM uses.
  OpenDP's own privacy map returns that rho; `select_rho` reads it.

Conversion: `epsilon_of(rho, delta)` is the conversion of Canonne, Kamath and
Steinke (2020, Prop. 12; also private-pgm's `cdp_delta`), tighter than Bun &
Steinke's rho + 2 sqrt(rho ln(1/delta)); `rho_for(epsilon, delta)` inverts it by
bisection. Tests check both against OpenDP's own `make_zCDP_to_approxDP`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np


def cdp_delta(rho: float, epsilon: float) -> float:
    """The smallest delta such that rho-zCDP implies (epsilon, delta)-DP (CKS 2020, Prop. 12, optimized over alpha)."""
    if rho <= 0:
        return 0.0
    lo, hi = 1.01, (epsilon + 1.0) / (2.0 * rho) + 2.0
    for _ in range(200):  # the objective is convex in alpha: bisect on its derivative
        alpha = (lo + hi) / 2.0
        if (2.0 * alpha - 1.0) * rho - epsilon + math.log1p(-1.0 / alpha) < 0:
            lo = alpha
        else:
            hi = alpha
    alpha = (lo + hi) / 2.0
    delta = math.exp((alpha - 1.0) * (alpha * rho - epsilon) + alpha * math.log1p(-1.0 / alpha)) / (alpha - 1.0)
    return min(delta, 1.0)


def epsilon_of(rho: float, delta: float) -> float:
    """The smallest epsilon with cdp_delta(rho, epsilon) <= delta: what a rho-zCDP release costs at delta."""
    if rho <= 0:
        return 0.0
    lo, hi = 0.0, rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))  # Bun & Steinke's bound is an upper bound
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if cdp_delta(rho, mid) <= delta:
            hi = mid
        else:
            lo = mid
    return hi


def rho_for(epsilon: float, delta: float) -> float:
    """The largest rho whose conversion at delta costs at most epsilon (so a rho-zCDP release is (epsilon, delta)-DP)."""
    if epsilon <= 0:
        return 0.0
    lo, hi = 0.0, epsilon + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if cdp_delta(mid, epsilon) <= delta:
            lo = mid
        else:
            hi = mid
    return lo


def gaussian_rho(sigma: float, sensitivity: float = 1.0) -> float:
    """rho of the Gaussian mechanism: sensitivity^2 / (2 sigma^2)."""
    return sensitivity**2 / (2.0 * sigma**2)


def sigma_for(rho: float) -> float:
    """The Gaussian scale whose measurement of a sensitivity-1 marginal costs exactly rho."""
    return math.sqrt(1.0 / (2.0 * rho))


def gaussian_counts(counts: Sequence[float] | np.ndarray, sigma: float) -> np.ndarray:
    """Integer `counts` plus independent discrete Gaussian(sigma) noise from OpenDP (see the module docstring)."""
    ints = [round(float(c)) for c in np.asarray(counts, dtype=float).ravel()]
    return np.asarray(_gaussian(round(float(sigma), 12))(ints), dtype=float)


def opendp_gaussian_rho(sigma: float, sensitivity: float = 1.0) -> float:
    """rho by OpenDP's own privacy map for the Gaussian at `sigma`: an independent check of `gaussian_rho`."""
    return float(_gaussian(round(float(sigma), 12)).map(float(sensitivity)))


@lru_cache(maxsize=64)
def _gaussian(sigma: float) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float), sigma)


def select_index(scores: Sequence[float] | np.ndarray, epsilon: float, sensitivity: float) -> int:
    """The exponential mechanism: index of the highest score plus Gumbel(2 sensitivity / epsilon) noise (OpenDP)."""
    values = [float(s) for s in np.asarray(scores, dtype=float)]
    return int(_noisy_max(2.0 * float(sensitivity) / float(epsilon))(values))


def select_rho(epsilon: float, sensitivity: float) -> float:
    """rho OpenDP's privacy map gives `select_index` at (epsilon, sensitivity): epsilon^2 / 8."""
    return float(_noisy_max(2.0 * float(sensitivity) / float(epsilon)).map(float(sensitivity)))


@lru_cache(maxsize=256)
def _noisy_max(scale: float) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp.m.make_noisy_max(dp.vector_domain(dp.atom_domain(T=float, nan=False)),
                               dp.linf_distance(T=float, monotonic=False), dp.zero_concentrated_divergence(),
                               scale=scale)


def opendp_epsilon_of(rho: float, delta: float) -> float:
    """epsilon by OpenDP's zCDP -> approximate-DP conversion: an independent accountant for tests and checks."""
    import opendp.prelude as dp

    if rho <= 0:
        return 0.0
    dp.enable_features("contrib")
    meas: Any = dp.c.make_zCDP_to_approxDP(_gaussian(round(sigma_for(rho), 15)))
    return float(meas.map(1.0).epsilon(delta))
