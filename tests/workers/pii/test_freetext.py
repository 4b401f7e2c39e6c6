"""Spans in free text: detection, overlap resolution, consistent in-place replacement."""

from __future__ import annotations

import pandas as pd

from safesynth.pii.actions import ActionParams, ValueContext
from safesynth.pii.freetext import (DEFAULT_TEXT_ENTITIES, FreeTextStats, Known, SpanReplacer, known_spans,
                                    replace_column, replace_text, text_entities)
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook
from safesynth.pii.spans import Span, resolve_overlaps
from safesynth.spec.models import PiiAction as A
from safesynth.spec.models import PiiEntity as E


def replacer(keys: KeyRing, action: A | None = None) -> SpanReplacer:
    fakes = Fakes("en_US", keys)
    base = ValueContext(entity=None, params=ActionParams(), keys=keys, fakes=fakes, names=NameBook(fakes))
    return SpanReplacer(base, action)


def test_overlaps_keep_the_most_trusted_span() -> None:
    spans = [Span(E.URL, 15, 26, 0.85, "pattern"), Span(E.EMAIL_ADDRESS, 10, 26, 0.95, "pattern"),
             Span(E.PERSON, 0, 5, 0.85, "ner"), Span(E.PERSON, 0, 8, 1.0, "known")]
    kept = resolve_overlaps(spans)
    assert [(s.entity, s.start, s.source) for s in kept] == [(E.PERSON, 0, "known"), (E.EMAIL_ADDRESS, 10, "pattern")]


def test_text_entities_follow_the_spec() -> None:
    assert text_entities(None) == DEFAULT_TEXT_ENTITIES and E.DATE_TIME not in DEFAULT_TEXT_ENTITIES
    assert text_entities([E.FIRST_NAME, E.CITY]) == {E.PERSON, E.LOCATION}
    assert text_entities([E.DATE_TIME, E.US_SSN]) == {E.DATE_TIME, E.US_SSN}


def test_known_values_are_whole_words_and_names_case_sensitive() -> None:
    known = [Known("Will", E.FIRST_NAME, "Ted"), Known("ann@x.com", E.EMAIL_ADDRESS, "b@y.com"), Known("Al", E.LAST_NAME, "Z")]
    text = "Will said he will mail ANN@X.COM; Willow and Al agree."
    spans, reps = known_spans(text, known)
    found = sorted((text[s.start:s.end], reps[(s.start, s.end)]) for s in spans)
    assert found == [("ANN@X.COM", "b@y.com"), ("Will", "Ted")]


def test_replace_text_in_place_and_consistently(keys: KeyRing) -> None:
    r = replacer(keys)
    stats = FreeTextStats()
    text = "Call 555-123-4567 today. Again: 555-123-4567."
    spans = [Span(E.PHONE_NUMBER, 5, 17, 0.8, "pattern"), Span(E.PHONE_NUMBER, 32, 44, 0.8, "pattern")]
    out = replace_text(text, spans, {}, r, stats)
    new = out[5:17]
    assert out == f"Call {new} today. Again: {new}." and new != "555-123-4567"
    assert stats.spans["PHONE_NUMBER"] == 2 and stats.sources["pattern"] == 2


def test_rule_action_applies_to_every_span(keys: KeyRing) -> None:
    r = replacer(keys, A.REDACT)
    out = replace_text("Mail a@b.com now", [Span(E.EMAIL_ADDRESS, 5, 12, 0.95, "pattern")], {}, r, FreeTextStats())
    assert out == "Mail <EMAIL_ADDRESS> now"
    masked = replacer(keys, A.MASK).replace("555-123-4567", E.PHONE_NUMBER)
    assert masked == "***-***-4567"


def test_replace_column_with_known_values_and_ner(keys: KeyRing, ner_engine) -> None:  # type: ignore[no-untyped-def]
    r = replacer(keys)
    names = r.base.names
    maria, garcia = names.first("Maria"), names.last("Garcia")
    values = pd.Series(["We spoke with Maria Garcia, phone 555-123-4567.", None, "Nothing to report.",
                        "Maria called from Boston about jane.roe@example.com.", "Call back: mariag@x.org"],
                       dtype="string")
    known = [[Known("Maria", E.FIRST_NAME, maria), Known("Garcia", E.LAST_NAME, garcia)], [], [],
             [Known("Maria", E.FIRST_NAME, maria)], [Known("mariag@x.org", E.EMAIL_ADDRESS, "lb@y.org")]]
    out, stats = replace_column(values, replacer=r, entities=DEFAULT_TEXT_ENTITIES, ner=ner_engine, threshold=0.5,
                                known_by_row=known)
    assert str(out.dtype) == "string" and pd.isna(out[1]) and out[2] == "Nothing to report."
    # the NER span "Maria Garcia" is replaced token-wise, exactly as the name columns were
    assert out[0] == f"We spoke with {maria} {garcia}, phone {out[0].split('phone ')[1]}"
    assert "555-123-4567" not in out[0]
    assert out[3].startswith(f"{maria} called from ") and "Boston" not in out[3] and "jane.roe@example.com" not in out[3]
    assert out[4] == "Call back: lb@y.org"
    assert stats.scanned == 4 and stats.changed == 3 and stats.sources["known"] >= 2
    assert {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "LOCATION"} <= set(stats.spans)


def test_a_wider_span_of_the_same_entity_swallows_a_known_one(keys: KeyRing) -> None:
    text = "Christopher Williams (son) called."
    spans = [Span(E.PERSON, 12, 20, 1.0, "known"), Span(E.PERSON, 0, 20, 0.85, "ner")]
    assert [(s.start, s.end) for s in resolve_overlaps(spans)] == [(0, 20)]
    r = replacer(keys)
    out = replace_text(text, spans, {(12, 20): r.base.names.last("Williams")}, r, FreeTextStats())
    assert "Christopher" not in out and r.base.names.last("Williams") in out


def test_lower_case_ner_hits_are_ignored_in_text(ner_engine) -> None:  # type: ignore[no-untyped-def]
    from safesynth.pii.freetext import detect_spans

    found = detect_spans(['Fever and a "barky" cough since Monday.', "Seen by Maria Lopez."], ner_engine,
                         DEFAULT_TEXT_ENTITIES, 0.5)
    assert found[0] == [] and [s.entity for s in found[1]] == [E.PERSON]
