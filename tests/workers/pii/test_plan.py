"""The plan: precedence of locks, rules, free text and detection; bad rules are exit-2 errors."""

from __future__ import annotations

import pytest

from safesynth.errors import BadInputError
from safesynth.pii.classify import ColumnEvidence, Signal
from safesynth.pii.plan import DEFAULT_ACTIONS, FREE_TEXT, STRUCTURED, UNCHANGED, build_plan, plan_column
from safesynth.schema import ColumnKind as K
from safesynth.schema import ColumnSchema, TableSchema
from safesynth.spec.models import PiiAction as A
from safesynth.spec.models import PiiEntity as E
from safesynth.spec.models import PiiSpec


def ev(name: str, kind: K, entity: E | None, conf: float) -> ColumnEvidence:
    return ColumnEvidence(name, kind, entity, conf, (Signal("name", entity or E.PERSON, conf, "test"),))


def spec(**kw: object) -> PiiSpec:
    return PiiSpec.model_validate(kw)


def test_every_entity_has_a_default_action() -> None:
    assert set(DEFAULT_ACTIONS) == set(E)


def test_detection_above_and_below_threshold() -> None:
    hit = plan_column(ev("ssn", K.IDENTIFIER, E.US_SSN, 0.9), spec())
    assert (hit.mode, hit.action, hit.pii, hit.reason) == (STRUCTURED, A.FAKE, True, "detected")
    low = plan_column(ev("age", K.INTEGER, E.AGE, 0.3), spec())
    assert (low.mode, low.action, low.pii, low.reason) == (UNCHANGED, A.KEEP, False, "below threshold")
    assert plan_column(ev("age", K.INTEGER, E.AGE, 0.3), spec(threshold=0.2)).action == A.GENERALIZE


def test_state_is_detected_but_kept() -> None:
    p = plan_column(ev("state", K.CATEGORICAL, E.STATE, 0.8), spec())
    assert p.pii and p.mode == UNCHANGED and not p.changes


def test_default_action_falls_back_when_the_kind_does_not_fit() -> None:
    p = plan_column(ev("dob_text", K.IDENTIFIER, E.DATE_OF_BIRTH, 0.8), spec())
    assert p.action == A.TOKENIZE


def test_lock_beats_rule_and_detection() -> None:
    p = plan_column(ev("email", K.IDENTIFIER, E.EMAIL_ADDRESS, 0.99), spec(lockedColumns=["email"]))
    assert p.mode == UNCHANGED and p.pii and "locked" in p.reason


def test_rule_beats_detection_and_carries_params() -> None:
    s = spec(columns={"ssn": {"action": "mask", "keepLast": 2}, "note": {"action": "redact"},
                      "city": {"action": "keep"}})
    p = plan_column(ev("ssn", K.IDENTIFIER, E.US_SSN, 0.9), s)
    assert (p.action, p.params.keep_last, p.from_rule) == (A.MASK, 2, True)
    note = plan_column(ev("note", K.TEXT, None, 0.0), s)
    assert note.mode == FREE_TEXT and note.action == A.REDACT
    assert plan_column(ev("city", K.IDENTIFIER, E.CITY, 0.9), s).mode == UNCHANGED


def test_free_text_can_be_switched_off() -> None:
    assert plan_column(ev("note", K.TEXT, None, 0.0), spec()).mode == FREE_TEXT
    off = plan_column(ev("note", K.TEXT, None, 0.0), spec(freeText=False))
    assert off.mode == UNCHANGED and "freeText" in off.reason


def test_rule_for_a_missing_column_or_an_impossible_action_is_exit_2() -> None:
    schema = TableSchema(n_rows=1, columns=[ColumnSchema(name="ssn", kind=K.IDENTIFIER, dtype="string",
                                                         source_dtype="object", null_count=0, null_fraction=0.0,
                                                         n_unique=1)])
    evidence = {"ssn": ev("ssn", K.IDENTIFIER, E.US_SSN, 0.9)}
    with pytest.raises(BadInputError, match=r"spec.pii.columns names 'sn'") as info:
        build_plan(schema, evidence, spec(columns={"sn": {"action": "hash"}}))
    assert info.value.exit_code == 2
    with pytest.raises(BadInputError, match="lockedColumns"):
        build_plan(schema, evidence, spec(lockedColumns=["nope"]))
    with pytest.raises(BadInputError, match=r"spec.pii.columns.ssn.action: dateShift"):
        build_plan(schema, evidence, spec(columns={"ssn": {"action": "dateShift"}}))
    plan = build_plan(schema, evidence, spec())
    assert [c.column for c in plan.acting] == ["ssn"] and plan.get("ssn").as_dict()["entity"] == "US_SSN"


def test_text_with_weak_structured_evidence_is_still_scanned_as_free_text() -> None:
    p = plan_column(ev("contact_notes", K.TEXT, E.PHONE_NUMBER, 0.3), spec())
    assert p.mode == FREE_TEXT and p.entity is None
    address = plan_column(ev("address", K.TEXT, E.STREET_ADDRESS, 0.9), spec())
    assert address.mode == STRUCTURED and address.action == A.FAKE
