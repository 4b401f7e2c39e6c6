"""The per-column plan: what happens to each column, and why. A pure function of evidence and spec.

Order of precedence for a column:

1. `spec.pii.lockedColumns`: never changed (still classified and reported);
2. a rule in `spec.pii.columns`: its action (and entity, if given) wins
   over detection; a text column without a rule entity stays free text and
   the action applies to the spans in it;
3. free text (kind text without a structured entity above the threshold):
   spans are replaced when spec.pii.freeText is on;
4. detection: confidence ≥ spec.pii.threshold → the entity's default action
   (`DEFAULT_ACTIONS`); if that action cannot handle the column's kind (a
   birth date stored as text cannot be date-shifted) the first of fake,
   tokenize, redact that can;
5. otherwise the column is kept as it is.

Defaults follow HIPAA Safe Harbor (45 CFR 164.514(b)(2)) where it speaks:
names, contact details, numbers and street addresses are replaced by
consistent fakes or tokens; birth dates are shifted per person; ZIP codes
keep three digits; states are kept (Safe Harbor allows them). Ages and dates
other than birth and death are quasi-identifiers, not identifiers: their
hints stay below the threshold, and a rule such as `{age: {action:
generalize}}` or `{visit_date: {action: dateShift}}` opts in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from safesynth.errors import BadInputError
from safesynth.pii.actions.base import ActionParams, Target, get_action
from safesynth.pii.evidence import ColumnEvidence, Signal
from safesynth.schema import ColumnKind, TableSchema
from safesynth.spec.models import PiiAction, PiiEntity, PiiPolicy, PiiSpec

E = PiiEntity
A = PiiAction
DEFAULT_ACTIONS: dict[PiiEntity, PiiAction] = {
    E.PERSON: A.FAKE, E.FIRST_NAME: A.FAKE, E.LAST_NAME: A.FAKE, E.EMAIL_ADDRESS: A.FAKE, E.PHONE_NUMBER: A.FAKE,
    E.US_SSN: A.FAKE, E.CREDIT_CARD: A.FAKE, E.IBAN_CODE: A.FAKE, E.IP_ADDRESS: A.FAKE, E.URL: A.FAKE,
    E.DATE_OF_BIRTH: A.DATE_SHIFT, E.DATE_TIME: A.DATE_SHIFT, E.STREET_ADDRESS: A.FAKE, E.CITY: A.FAKE,
    E.STATE: A.KEEP, E.ZIP_CODE: A.GENERALIZE, E.LOCATION: A.FAKE, E.AGE: A.GENERALIZE, E.ORGANIZATION: A.FAKE,
    E.US_DRIVER_LICENSE: A.TOKENIZE, E.US_PASSPORT: A.TOKENIZE, E.US_BANK_NUMBER: A.TOKENIZE,
    E.MEDICAL_RECORD_NUMBER: A.TOKENIZE, E.IDENTIFIER: A.TOKENIZE,
}
# hipaaSafeHarbor: dates tied to a person keep only their year (birth dates included), ages over 89 are
# pooled (generalize with ActionParams.age_top_only), ZIP codes keep 3 digits or become 000 (generalize).
HIPAA_ACTIONS: dict[PiiEntity, PiiAction] = {E.DATE_OF_BIRTH: A.GENERALIZE, E.DATE_TIME: A.GENERALIZE,
                                             E.AGE: A.GENERALIZE}
FALLBACK_ACTIONS = (A.FAKE, A.TOKENIZE, A.REDACT)
# Quasi-identifiers: under the default policy acted on only when the column name asks ("date_of_death",
# "age" with a lowered threshold); found from the values alone (age + birth year agree), they are kept.
QUASI_IDENTIFIERS = frozenset({E.AGE, E.DATE_TIME})
# "In doubt, replace": in a table about people, a column whose best entity is a direct identifier with at
# least DOUBT_FLOOR confidence is replaced even below the threshold, and the plan says so.
DOUBT_FLOOR = 0.25
DOUBT_ENTITIES = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME, E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.US_SSN,
                            E.CREDIT_CARD, E.IBAN_CODE, E.IP_ADDRESS, E.URL, E.STREET_ADDRESS, E.CITY, E.LOCATION,
                            E.ZIP_CODE, E.DATE_OF_BIRTH, E.US_DRIVER_LICENSE, E.US_PASSPORT, E.US_BANK_NUMBER,
                            E.MEDICAL_RECORD_NUMBER, E.IDENTIFIER})
NAME_FAMILY = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME})
NAMES_AND_PLACES = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME, E.CITY, E.LOCATION})
DOUBT_MIN_DISTINCT = 40

STRUCTURED, FREE_TEXT, UNCHANGED = "structured", "freeText", "none"


@dataclass(frozen=True)
class ColumnPlan:
    column: str
    kind: ColumnKind
    mode: str  # STRUCTURED, FREE_TEXT or UNCHANGED
    entity: Optional[PiiEntity]
    confidence: float
    pii: bool  # detected (confidence ≥ threshold) or declared by a rule
    action: PiiAction
    reason: str
    params: ActionParams = field(default_factory=ActionParams)
    signals: tuple[Signal, ...] = ()
    from_rule: bool = False
    span_rates: dict[PiiEntity, float] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        """Whether applying the plan may alter this column."""
        return self.mode != UNCHANGED and self.action != A.KEEP

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.column, "kind": self.kind.value, "mode": self.mode,
            "entity": self.entity.value if self.entity else None, "confidence": round(self.confidence, 3),
            "pii": self.pii, "action": self.action.value, "reason": self.reason,
            "signals": [s.as_dict() for s in self.signals],
        }
        if self.from_rule:
            out["params"] = self.params.as_dict()
        if self.span_rates:
            out["sampledSpanRates"] = {e.value: round(r, 3) for e, r in self.span_rates.items()}
        return out


@dataclass(frozen=True)
class Plan:
    columns: tuple[ColumnPlan, ...]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.columns)

    def get(self, name: str) -> ColumnPlan:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    @property
    def acting(self) -> list[ColumnPlan]:
        return [c for c in self.columns if c.changes]


def check_columns(pii: PiiSpec, columns: Iterable[str]) -> None:
    """Rules and locks must name columns of the table (a typo would silently leave PII in place)."""
    present = set(columns)
    for label, names in (("columns", list(pii.columns)), ("lockedColumns", list(pii.locked_columns))):
        missing = [n for n in names if n not in present]
        if missing:
            raise BadInputError(
                f"spec.pii.{label} names {', '.join(repr(m) for m in missing)}, which prepare/schema.json does not "
                f"have; the table's columns are: {', '.join(sorted(present))}"
            )


def _valid(action: PiiAction, target: Target) -> bool:
    try:
        get_action(action).validate(target)
    except BadInputError:
        return False
    return True


def plan_column(ev: ColumnEvidence, pii: PiiSpec) -> ColumnPlan:
    """The plan for one column (see the module docstring for the order of precedence)."""
    name, kind = ev.column, ev.kind
    passes = ev.entity is not None and ev.confidence >= pii.threshold
    common: dict[str, Any] = {"column": name, "kind": kind, "confidence": ev.confidence, "signals": ev.signals,
                              "span_rates": ev.span_rates}
    if name in pii.locked_columns:
        return ColumnPlan(mode=UNCHANGED, entity=ev.entity, pii=passes, action=A.KEEP,
                          reason="locked (spec.pii.lockedColumns)", **common)
    # Text is free text unless it holds one structured entity above the threshold (e.g. addresses).
    text_free = kind == ColumnKind.TEXT and not passes and not _in_doubt(ev, pii)
    rule = pii.columns.get(name)
    if rule is not None:
        entity = rule.entity or (None if text_free else ev.entity)
        free = text_free and rule.entity is None
        mode = UNCHANGED if rule.action == A.KEEP else (FREE_TEXT if free else STRUCTURED)
        get_action(rule.action).validate(Target(name, kind, entity, free_text=free))
        return ColumnPlan(mode=mode, entity=entity, pii=True, action=rule.action, from_rule=True,
                          params=ActionParams.from_rule(rule), reason="rule (spec.pii.columns)", **common)
    if text_free:
        if pii.free_text:
            return ColumnPlan(mode=FREE_TEXT, entity=None, pii=False, action=A.FAKE,
                              reason="free text: PII spans replaced in place", **common)
        return ColumnPlan(mode=UNCHANGED, entity=None, pii=False, action=A.KEEP,
                          reason="free text not scanned (spec.pii.freeText is false)", **common)
    hipaa = pii.policy == PiiPolicy.HIPAA_SAFE_HARBOR
    if hipaa and ev.people:
        tied = _hipaa_person_field(ev, pii)
        if tied is not None:
            return tied
    if passes and ev.entity is not None:
        return _act(ev, ev.entity, pii, "detected", common)
    if _in_doubt(ev, pii) and ev.entity is not None:
        why = (f"in doubt ({ev.confidence:.2f} < threshold {pii.threshold:.2f}) about a column of a table about "
               f"people (columns {', '.join(ev.people[:3])}): replaced rather than kept")
        return _act(ev, ev.entity, pii, why, common)
    reason = ev.note or ("below threshold" if ev.entity is not None else "no PII evidence")
    return ColumnPlan(mode=UNCHANGED, entity=ev.entity, pii=False, action=A.KEEP, reason=reason, **common)


def _in_doubt(ev: ColumnEvidence, pii: PiiSpec) -> bool:
    """Below the threshold, but a direct identifier with some evidence in a table about people: replace. A text
    column qualifies only with value evidence (a pattern, rows, table context), never on NER alone."""
    if not (ev.people and ev.entity in DOUBT_ENTITIES and DOUBT_FLOOR <= ev.confidence < pii.threshold):
        return False
    if ev.kind == ColumnKind.TEXT and not any(s.entity == ev.entity and s.source in ("pattern", "rows", "table")
                                              and s.score > 0 for s in ev.signals):
        return False
    return _doubt_ok(ev)


def _doubt_ok(ev: ColumnEvidence) -> bool:
    """Doubt is not enough for a category (few distinct names or places: eye colours, regions) or for a bare
    integer that only looks like a ZIP code (quantities)."""
    if ev.entity in NAMES_AND_PLACES and ev.distinct < DOUBT_MIN_DISTINCT:
        return False
    if ev.entity in NAME_FAMILY and not any(s.source in ("name", "gazetteer", "rows", "table") and s.score > 0
                                            and s.entity in NAME_FAMILY for s in ev.signals):
        return False  # NER alone calls two-word product names persons
    return not (ev.entity == E.ZIP_CODE and ev.kind in (ColumnKind.INTEGER, ColumnKind.FLOAT))


def _act(ev: ColumnEvidence, entity: PiiEntity, pii: PiiSpec, reason: str, common: dict[str, Any],
         params: Optional[ActionParams] = None) -> ColumnPlan:
    """The entity's default action under the policy (or the first fallback the column's kind accepts)."""
    target = Target(ev.column, ev.kind, entity)
    hipaa = pii.policy == PiiPolicy.HIPAA_SAFE_HARBOR
    action = (HIPAA_ACTIONS.get(entity) if hipaa else None) or DEFAULT_ACTIONS.get(entity, A.TOKENIZE)
    named = any(s.source == "name" and s.entity == entity and s.score >= pii.threshold for s in ev.signals)
    if not hipaa and entity in QUASI_IDENTIFIERS and not named:
        return ColumnPlan(mode=UNCHANGED, entity=entity, pii=False, action=A.KEEP,
                          reason=f"{entity.value} found from the values is a quasi-identifier: kept under the "
                                 "default policy (hipaaSafeHarbor generalizes it; a rule opts in)", **common)
    if not _valid(action, target):
        action = next(a for a in FALLBACK_ACTIONS if _valid(a, target))
    if action == A.KEEP:
        return ColumnPlan(mode=UNCHANGED, entity=entity, pii=True, action=A.KEEP,
                          reason=f"{reason}; {entity.value} is kept by the {pii.policy.value} policy", **common)
    if hipaa and entity == E.AGE:
        params = ActionParams(age_top_only=True)
    return ColumnPlan(mode=STRUCTURED, entity=entity, pii=True, action=action, reason=reason,
                      params=params or ActionParams(), **common)


def _hipaa_person_field(ev: ColumnEvidence, pii: PiiSpec) -> Optional[ColumnPlan]:
    """hipaaSafeHarbor, in a table about people: every date to its year, ages over 89 pooled, even when the
    column's evidence is below the threshold (Safe Harbor names the category, not a confidence)."""
    common: dict[str, Any] = {"column": ev.column, "kind": ev.kind, "confidence": ev.confidence,
                              "signals": ev.signals, "span_rates": ev.span_rates}
    dated = ev.kind == ColumnKind.DATETIME or ev.entity in (E.DATE_TIME, E.DATE_OF_BIRTH)
    if dated and ev.entity != E.DATE_OF_BIRTH:
        why = "hipaaSafeHarbor: a date in a table about people is tied to a person; only its year is kept"
        return _act(ev, E.DATE_TIME, pii, why, common)
    if ev.entity == E.AGE or (E.AGE in ev.scores and ev.kind in (ColumnKind.INTEGER, ColumnKind.FLOAT)):
        return _act(ev, E.AGE, pii, "hipaaSafeHarbor: ages over 89 pooled into 90+", common)
    return None


def build_plan(schema: TableSchema, evidence: dict[str, ColumnEvidence], pii: PiiSpec) -> Plan:
    """One ColumnPlan per schema column, in table order."""
    check_columns(pii, schema.names)
    return Plan(tuple(plan_column(evidence[c.name], pii) for c in schema.columns if c.name in evidence))
