"""The presidio adapter: offline model, NER pipe only, spans with positions and no text."""

from __future__ import annotations

from safesynth.pii import ner
from safesynth.spec.models import PiiEntity as E


def test_engine_is_loaded_once_and_runs_ner_only(ner_engine) -> None:  # type: ignore[no-untyped-def]
    assert ner.get_engine() is ner_engine and ner.is_loaded()
    nlp = ner_engine.nlp_engine.nlp[ner.LANGUAGE]
    assert nlp.meta["name"] in ner.MODEL and nlp.pipe_names == ["ner"]
    # only spaCy NER is registered: pattern entities are safesynth.pii.patterns' job
    assert [r.name for r in ner_engine.analyzer.registry.recognizers] == ["SpacyRecognizer"]


def test_spans(ner_engine) -> None:  # type: ignore[no-untyped-def]
    texts = ["Patient John Smith moved to Boston last year.", "", "no entities here"]
    found = ner_engine.analyze(texts, entities=[E.PERSON, E.LOCATION], min_score=0.5)
    assert len(found) == 3 and found[1] == [] and found[2] == []
    got = {(s.entity, texts[0][s.start:s.end]) for s in found[0]}
    assert (E.PERSON, "John Smith") in got and (E.LOCATION, "Boston") in got
    assert all(s.source == "ner" and s.score == ner.NER_SCORE for s in found[0])
    assert ner_engine.analyze(texts, entities=[E.PERSON], min_score=0.9) == [[], [], []]
    assert ner_engine.analyze(texts, entities=[E.EMAIL_ADDRESS]) == [[], [], []]


def test_lazy_engine_loads_only_when_used() -> None:
    assert ner.LazyEngine().analyze([]) == []
