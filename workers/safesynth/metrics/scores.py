"""0–10 scales, grades and the two composites: SQS (quality) and DPS (privacy).

Pure functions: a raw statistic in, a 0–10 score out. The quality curves are
the reference product's (NVIDIA NeMo Safe Synthesizer; "the reference product"
throughout these modules), so our SQS reads on the same scale; the privacy curves are ours and are documented where
they are defined.

Composites never drop a component silently. A component that could not be
computed is listed with its reason and the composite is the weighted mean of
the rest, marked incomplete; a component that applies to nothing (no free-text
columns, the PII stage did not run) is listed as not applicable. A score of 0
is a score, never a missing value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from safesynth.metrics.base import MetricResult, Status

GRADES = ((8.0, "Excellent"), (6.0, "Good"), (4.0, "Moderate"), (2.0, "Poor"), (-math.inf, "Very poor"))


def grade(score: float) -> str:
    """Bands of 2 points: ≥8 Excellent, ≥6 Good, ≥4 Moderate, ≥2 Poor, else Very poor."""
    if score is None or not math.isfinite(score):
        return "Not available"
    return next(name for floor, name in GRADES if score >= floor)


def _clip10(x: float) -> float:
    return float(min(10.0, max(0.0, x)))


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _banded(x: float, full_below: float, floor_above: float, floor: float, curve: Callable[[float], float]) -> float:
    """The reference product's curve shape: 10 below `full_below`, `floor` above `floor_above`, else curve(x) in 0–10."""
    if x < full_below:
        return 10.0
    if x > floor_above:
        return floor
    return _clip10(curve(x))


# ------------------------------------------------------------------ quality curves (NeMo)

def distribution_score(mean_js: float) -> float:
    """Mean JS distance x → 10 if x < 0.02, 0 if x > 0.99, else 7.44x² − 16.646x + 10.305."""
    return _banded(mean_js, 0.02, 0.99, 0.0, lambda x: 7.44 * x**2 - 16.646 * x + 10.305)


def correlation_score(mean_abs_diff: float) -> float:
    """Mean |Δassociation| x → 10 if x < 0.01, 0 if x > 0.46, else 37.562x² − 35.643x + 10.056."""
    return _banded(mean_abs_diff, 0.01, 0.46, 0.0, lambda x: 37.562 * x**2 - 35.643 * x + 10.056)


def deep_structure_score(mean_js: float) -> float:
    """Mean JS distance of the leading principal components x → 10·e^(−1.6x)."""
    return _clip10(10.0 * math.exp(-1.6 * mean_js))


def text_structure_score(mean_js: float) -> float:
    """Mean JS distance of text-shape features x → 10 if x < 0.12, 1.5 if x > 0.8, else −12.5x + 11.5."""
    return _banded(mean_js, 0.12, 0.8, 1.5, lambda x: -12.5 * x + 11.5)


def text_semantic_score(mean_js: float) -> float:
    """Embedding-space analogue of the deep-structure score: 10·e^(−1.6x) for the mean JS of embedding PCs."""
    return deep_structure_score(mean_js)


def utility_score(ratio: float) -> float:
    """ML utility: 10 × (synthetic-trained score / real-trained score), clipped to [0, 10]."""
    return _clip10(10.0 * ratio)


def detection_score(auc: float) -> float:
    """Detection: 10·(1 − 2·max(0, AUC − 0.5)), SDMetrics' detection metrics on a 0–10 scale.

    AUC 0.5 (the classifier cannot tell the tables apart) → 10; 0.65 → 7; 0.85 → 3; 1.0 → 0.
    An AUC below 0.5 is chance plus cross-validation noise, not better than real data.
    """
    return _clip10(10.0 * (1.0 - 2.0 * max(0.0, auc - 0.5)))


# ------------------------------------------------------------------ privacy curves (ours)

def membership_score(auc: float, epsilon: float) -> float:
    """The lower of an AUC-based and an ε-based score for one attack.

    AUC part: 10·(1 − 2·max(0, AUC − 0.5)), i.e. 10 minus ten times the
    membership advantage. ε part: 10·e^(−ε/2) with ε = ln(TPR/FPR) at a low
    FPR (see roc.empirical_epsilon): a leak of a few records barely moves AUC
    but shows here (TPR 17% at 1% FPR, ε ≈ 2.8 → 2.4; peers' 1.3% → 8.8).
    """
    by_auc = 10.0 * (1.0 - 2.0 * max(0.0, auc - 0.5))
    by_eps = 10.0 * math.exp(-max(0.0, epsilon) / 2.0)
    return _clip10(min(by_auc, by_eps))


def attribute_score(risk: float) -> float:
    """Anonymeter-style risk r ∈ [0, 1] → 10·(1 − r)²: r = 0.1 → 8.1, 0.3 → 4.9, 0.5 → 2.5."""
    return _clip10(10.0 * (1.0 - _clip01(risk)) ** 2)


def dcr_score(share_closer_to_train: float, excess_copy_share: float) -> float:
    """10 × SDMetrics' DCROverfittingProtection min(2(1−p), 1), times (1 − excess exact copies).

    p is the share of synthetic rows closer to training than to holdout rows
    (0.5 is ideal with equal-size references); excess copies = share of
    synthetic rows identical to a training row beyond what chance explains
    (see dcr.py).
    """
    protection = min(2.0 * (1.0 - share_closer_to_train), 1.0)
    return _clip10(10.0 * protection * (1.0 - _clip01(excess_copy_share)))


def replay_score(excess_replay: float) -> float:
    """PII replay: 10·(1 − excess), excess = (r_train − r_control)/(1 − r_control) for the worst column."""
    return _clip10(10.0 * (1.0 - _clip01(excess_replay)))


# ------------------------------------------------------------------ composites

@dataclass
class Component:
    name: str
    title: str
    weight: float
    score: Optional[float]
    included: bool
    reason: Optional[str] = None


@dataclass
class Composite:
    name: str
    value: float
    grade: str
    complete: bool
    components: list[Component] = field(default_factory=list)
    formula: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if not math.isfinite(self.value) else round(self.value, 4),
            "grade": self.grade,
            "complete": self.complete,
            "formula": self.formula,
            "components": [
                {"name": c.name, "title": c.title, "weight": c.weight,
                 "score": None if c.score is None or not math.isfinite(c.score) else round(c.score, 4),
                 "included": c.included, "reason": c.reason}
                for c in self.components
            ],
        }


def _component(results: Mapping[str, MetricResult], name: str, weight: float) -> Component:
    res = results.get(name)
    if res is None:
        return Component(name, name, weight, None, False, "not run")
    if res.ok:
        return Component(name, res.title, weight, res.score, True)
    label = "not applicable" if res.status is Status.NOT_APPLICABLE else "failed"
    return Component(name, res.title, weight, None, False, f"{label}: {res.reason}")


def _weighted(components: list[Component]) -> float:
    used = [(c.weight, c.score) for c in components if c.included and c.score is not None]
    total = sum(w for w, _ in used)
    return sum(w * s for w, s in used) / total if total > 0 else math.nan


TABULAR_WEIGHTS = {"deep_structure": 0.84, "column_distribution": 0.86, "column_correlation": 1.0}
TEXT_WEIGHTS = {"text_semantic": 0.7, "text_structure": 0.3}
# One weight per kind of attack: the two inference attacks (ours and Anonymeter's) share one.
PRIVACY_WEIGHTS = {"membership_inference": 1.0, "singling_out": 1.0, "linkability": 1.0,
                   "attribute_inference": 0.5, "anonymeter_inference": 0.5, "dcr": 1.0, "pii_replay": 1.0}


def quality_composite(results: Mapping[str, MetricResult], n_tabular: int, n_text: int) -> Composite:
    """SQS = (n_tab·T + n_text·X)/(n_tab + n_text), T = (0.84·PCA + 0.86·dist + 1.0·corr)/2.7,
    X = 0.7·semantic + 0.3·structure (the reference product's weights)."""
    tab = [_component(results, n, w) for n, w in TABULAR_WEIGHTS.items()]
    txt = [_component(results, n, w) for n, w in TEXT_WEIGHTS.items()]
    t, x = _weighted(tab), _weighted(txt)
    parts = [(n_tabular, t), (n_text, x)]
    used = [(n, v) for n, v in parts if n > 0 and math.isfinite(v)]
    value = sum(n * v for n, v in used) / sum(n for n, _ in used) if used else math.nan
    expected_missing = [c for c in tab if n_tabular > 0 and not c.included] + \
                       [c for c in txt if n_text > 0 and not c.included]
    for c in (txt if n_text == 0 else []):
        c.reason = c.reason or "not applicable: no free-text columns"
    return Composite(
        name="SQS", value=value, grade=grade(value), complete=not expected_missing and bool(used),
        components=tab + txt,
        formula="(n_tabular·(0.84·deep + 0.86·distribution + 1.0·correlation)/2.7 "
                "+ n_text·(0.7·semantic + 0.3·structure)) / (n_tabular + n_text)",
    )


def privacy_composite(results: Mapping[str, MetricResult]) -> Composite:
    """DPS = weighted mean of the privacy components that apply (weights in PRIVACY_WEIGHTS):

        DPS = (1·membership + 1·singling out + 1·linkability + 0.5·attribute inference
               + 0.5·Anonymeter inference + 1·DCR + 1·PII replay) / (sum of the weights used)

    Each kind of attack counts once: membership (distance and density-ratio
    attacks), singling out and linkability (Anonymeter), inference (ours and
    Anonymeter's, half each: the same attack, two implementations), closeness
    of synthetic to training rows (DCR), replay of original PII. The three
    Anonymeter risks r map to 10·(1 − r)² (attribute_score): r = 0.05 → 9.0,
    0.15 → 7.2, 0.5 → 2.5.

    A failed component marks DPS incomplete (shown in the report), it never
    counts as a perfect or a zero score.
    """
    comps = [_component(results, n, w) for n, w in PRIVACY_WEIGHTS.items()]
    value = _weighted(comps)
    failed = [c for c in comps if not c.included and (c.reason or "").startswith(("failed", "not run"))]
    return Composite(
        name="DPS", value=value, grade=grade(value), complete=not failed and math.isfinite(value),
        components=comps, formula="(1·membership + 1·singling out + 1·linkability + 0.5·attribute inference "
                "+ 0.5·Anonymeter inference + 1·DCR + 1·PII replay) / weights used, over those that apply",
    )
