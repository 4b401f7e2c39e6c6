"""What every metric is and returns.

A metric is one class (SDMetrics' shape): a name, a title, a goal, bounds, a
group (quality, privacy, or a figure shown alongside), an explanation and
advice for the report, and one `compute(ctx) -> MetricResult`. `run_metric`
wraps `compute` so a failure becomes a NaN score with the error's *type* (an
exception's text may repeat data values) and the report still renders; a
metric that does not apply (no free-text columns, no holdout) raises
`NotApplicable` with a reason the report prints.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from safesynth.errors import SafeSynthError
from safesynth.metrics.context import EvalContext, NotApplicable

__all__ = ["Goal", "Group", "Metric", "MetricResult", "NotApplicable", "Status", "run_metric"]

log = logging.getLogger("safesynth.metrics")


class Goal(str, Enum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Group(str, Enum):
    QUALITY = "quality"  # components of SQS
    PRIVACY = "privacy"  # components of DPS
    ALONGSIDE = "alongside"  # shown next to the composites, not part of them (SDMetrics figures, ML utility)
    SEQUENCES = "sequences"  # grouped records (spec.data.groupBy): entity and time structure, not in SQS or DPS


class Status(str, Enum):
    OK = "ok"
    NOT_APPLICABLE = "notApplicable"
    ERROR = "error"


@dataclass
class MetricResult:
    """One metric's outcome. `visual` feeds the report's charts and never reaches metrics.json."""

    name: str
    title: str
    group: Group
    score: float = math.nan  # 0–10 for SQS/DPS components; the metric's own scale for figures alongside
    scale: tuple[float, float] = (0.0, 10.0)
    status: Status = Status.OK
    statistic: dict[str, Any] = field(default_factory=dict)  # the raw numbers the score comes from
    params: dict[str, Any] = field(default_factory=dict)  # settings and sample sizes
    details: Any = None  # per column / per pair / per attack rows (names and numbers only)
    notes: list[str] = field(default_factory=list)  # sampling and caveats, printed in the report
    reason: str | None = None  # why not applicable, or the error type
    seconds: float = 0.0
    visual: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK and not math.isnan(self.score)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "group": self.group.value,
            "score": _finite(self.score),
            "scale": list(self.scale),
            "status": self.status.value,
            "reason": self.reason,
            "statistic": _clean(self.statistic),
            "params": _clean(self.params),
            "details": _clean(self.details),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }


class Metric:
    """Base class: subclasses set the class attributes and implement `compute`."""

    name: ClassVar[str]
    title: ClassVar[str]
    group: ClassVar[Group]
    goal: ClassVar[Goal] = Goal.MAXIMIZE
    min_value: ClassVar[float] = 0.0
    max_value: ClassVar[float] = 10.0
    explanation: ClassVar[str] = ""  # what the score measures, for the report
    advice: ClassVar[str] = ""  # what to do when it is low

    def result(self, score: float, **kw: Any) -> MetricResult:
        return MetricResult(
            name=self.name, title=self.title, group=self.group, score=float(score),
            scale=(self.min_value, self.max_value), **kw,
        )

    def compute(self, ctx: EvalContext) -> MetricResult:  # pragma: no cover - abstract
        raise NotImplementedError


def run_metric(metric: Metric, ctx: EvalContext) -> MetricResult:
    """`metric.compute(ctx)`, timed; failures become NaN with a reason, never an exception."""
    t0 = time.monotonic()
    try:
        if len(ctx.synthetic) == 0:
            raise NotApplicable("the synthetic table is empty")
        res = metric.compute(ctx)
    except NotApplicable as exc:
        res = MetricResult(metric.name, metric.title, metric.group, status=Status.NOT_APPLICABLE,
                           reason=str(exc), scale=(metric.min_value, metric.max_value))
    except SafeSynthError as exc:  # our own messages carry no data values
        res = MetricResult(metric.name, metric.title, metric.group, status=Status.ERROR,
                           reason=f"{type(exc).__name__}: {exc}", scale=(metric.min_value, metric.max_value))
    except Exception as exc:  # a failing metric must not sink the report
        log.warning("metric %s failed: %s", metric.name, type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        res = MetricResult(metric.name, metric.title, metric.group, status=Status.ERROR,
                           reason=f"{type(exc).__name__} (message hidden: it may contain data values)",
                           scale=(metric.min_value, metric.max_value))
    res.seconds = time.monotonic() - t0
    return res


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to null, tuples to lists."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_clean(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return _finite(float(obj))
    if isinstance(obj, Enum):
        return obj.value
    return obj
