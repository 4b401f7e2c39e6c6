"""DP noise and secret randomness: every draw that hides private data comes from here.

Why a module: the guarantee of each counted release (dp.py's schema release,
marginals.py's histograms) rests on its noise being (a) exactly the
distribution the proof assumes and (b) unpredictable to anyone holding the
spec. numpy's `Generator.laplace` fails (a): it returns floating-point values
whose low-order bits leak the value they were added to (Mironov, "On
significance of the least significant bits for differential privacy", CCS
2012). So counts are noised with OpenDP's vetted sampler:

- `laplace_counts`: the discrete Laplace (two-sided geometric) mechanism,
  `opendp.measurements.make_laplace` over integer vectors with the L1
  distance. It samples exactly, from OpenDP's CSPRNG, in integer arithmetic.
  P(Z = k) is proportional to exp(-|k|/scale), so for integer counts of L1
  sensitivity s, scale s/epsilon gives pure epsilon-DP (Ghosh, Roughgarden,
  Sundararajan 2009; Canonne, Kamath, Steinke 2020). Its tail, used by the
  thresholds in dp.py: P(Z >= k) = exp(-k/scale) / (1 + exp(-1/scale)) <
  exp(-k/scale) for integers k >= 1.

Everything else random that depends on the data (per-row redraws such as
`marginals.fold_unreleased`) uses `secret_rng`, seeded with 128 bits from the
OS's CSPRNG, so no one can replay it from the spec. Those draws are not
noise in a mechanism: their distribution, not their bits, is what the privacy
argument uses (see fold_unreleased).

OpenDP is imported on first use (about 2 s): stages without DP never pay it.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any, Sequence

import numpy as np


def secret_rng() -> np.random.Generator:
    """A numpy Generator seeded from the OS's CSPRNG (128 bits): not reproducible from anything in the spec."""
    return np.random.default_rng(secrets.randbits(128))


def secure_seed() -> int:
    """A seed from the OS's CSPRNG, for torch generators (DP-SGD's Gaussian noise and Poisson batches)."""
    return secrets.randbits(63)


def laplace_counts(counts: Sequence[int] | np.ndarray, scale: float) -> np.ndarray:
    """`counts` (integers) plus independent discrete Laplace(scale) noise from OpenDP: see the module docstring.

    The caller sets scale = (L1 sensitivity) / epsilon. Returns integers as a float array.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    ints = [round(float(c)) for c in np.asarray(counts, dtype=float).ravel()]
    if not ints:
        return np.zeros(0)
    noisy = _laplace_measurement(float(scale))(ints)
    return np.asarray(noisy, dtype=float)


@lru_cache(maxsize=64)
def _laplace_measurement(scale: float) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")  # make_laplace is in OpenDP's "contrib" set (vetted proofs, newer API)
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale)


def laplace_epsilon(scale: float, sensitivity: int = 1) -> float:
    """The epsilon OpenDP's own privacy map gives the discrete Laplace at `scale` for L1 `sensitivity`.

    A check on our arithmetic from an independent source (tests recompute the budget with it).
    """
    return float(_laplace_measurement(float(scale)).map(sensitivity))
