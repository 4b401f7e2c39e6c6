"""Confidence intervals for success rates (attack success, replay shares)."""

from __future__ import annotations

import math


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial rate (95% by default).

    center = (p + z²/2n) / (1 + z²/n); half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n)
    (Wilson 1927). Unlike p ± z·se it stays inside [0, 1] and is sensible at
    p = 0 or 1, which attack rates often are. Anonymeter uses the same interval.
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))
