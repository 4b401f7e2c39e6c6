"""The metrics an evaluation runs, in report order. Add a metric: one module, one line here."""

from __future__ import annotations

from safesynth.metrics.anonymeter_inference import AnonymeterInference
from safesynth.metrics.attribute_inference import AttributeInference
from safesynth.metrics.base import Group, Metric
from safesynth.metrics.copies import Copies
from safesynth.metrics.correlation import ColumnCorrelation
from safesynth.metrics.dcr import DistanceToClosestRecord
from safesynth.metrics.deep_structure import DeepStructure
from safesynth.metrics.detection import Detection
from safesynth.metrics.diagnostic import Diagnostic
from safesynth.metrics.distribution import ColumnDistribution
from safesynth.metrics.membership import MembershipInference
from safesynth.metrics.linkability import Linkability
from safesynth.metrics.ml_utility import MLUtility
from safesynth.metrics.pii_replay import PiiReplay
from safesynth.metrics.sdmetrics_compat import SDMetricsQuality
from safesynth.metrics.sequence_autocorrelation import SequenceAutocorrelation
from safesynth.metrics.sequence_change import SequenceChange
from safesynth.metrics.sequence_entity_columns import SequenceEntityColumns
from safesynth.metrics.sequence_gaps import SequenceGaps
from safesynth.metrics.sequence_membership import SequenceMembership
from safesynth.metrics.sequence_order import SequenceOrder
from safesynth.metrics.sequence_rows import SequenceRows
from safesynth.metrics.singling_out import SinglingOut
from safesynth.metrics.text_semantic import TextSemantic
from safesynth.metrics.text_structure import TextStructure

METRICS: tuple[type[Metric], ...] = (
    ColumnDistribution,
    ColumnCorrelation,
    DeepStructure,
    TextStructure,
    TextSemantic,
    SDMetricsQuality,
    Diagnostic,
    Detection,
    MLUtility,
    MembershipInference,
    SinglingOut,
    Linkability,
    AttributeInference,
    AnonymeterInference,
    DistanceToClosestRecord,
    Copies,
    PiiReplay,
    # Group.SEQUENCES: run only when spec.data.groupBy is set (evaluation.evaluate)
    SequenceRows,
    SequenceGaps,
    SequenceAutocorrelation,
    SequenceChange,
    SequenceEntityColumns,
    SequenceOrder,
    SequenceMembership,
)


def all_metrics(*, grouped: bool = False) -> list[Metric]:
    """The metrics an evaluation runs: the sequence metrics (Group.SEQUENCES) only for `grouped` tables
    (spec.data.groupBy set); without it they would only say "not applicable"."""
    return [cls() for cls in METRICS if grouped or cls.group is not Group.SEQUENCES]


def by_name() -> dict[str, type[Metric]]:
    return {cls.name: cls for cls in METRICS}
