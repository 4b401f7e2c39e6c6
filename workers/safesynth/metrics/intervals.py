"""Confidence intervals for success rates (attack success, replay shares)."""

from __future__ import annotations

from scipy import stats


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate (95% by default), (0, 1) when there are no trials.

    center = (p + z²/2n) / (1 + z²/n); half = z·sqrt(p(1−p)/n + z²/4n²) / (1 + z²/n)
    (Wilson 1927), computed by scipy's `binomtest(...).proportion_ci(method="wilson")`.
    Unlike p ± z·se it stays inside [0, 1] and is sensible at p = 0 or 1, which
    attack rates often are. Anonymeter uses the same interval.
    """
    if n <= 0:
        return (0.0, 1.0)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (max(0.0, float(ci.low)), min(1.0, float(ci.high)))
