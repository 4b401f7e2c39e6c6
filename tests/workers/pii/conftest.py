"""Fixtures for the PII tests: the NER engine once per session, keys, small tables."""

from __future__ import annotations

import pytest

from safesynth.pii.keys import KeyRing


@pytest.fixture(scope="session")
def ner_engine():  # type: ignore[no-untyped-def]
    """presidio + spaCy small model, loaded once for the whole test session (about 5 s)."""
    import torch

    torch.set_num_threads(1)
    from safesynth.pii.ner import get_engine

    return get_engine()


@pytest.fixture(scope="session")
def presidio_recognizers() -> None:
    """presidio's pattern recognizers, built once per session: importing presidio_analyzer (which imports its
    spaCy and transformers engines) takes 5–15 s on a busy core, paid here rather than inside a test."""
    from safesynth.pii import recognizers

    for entity in recognizers.ENTITIES:
        recognizers._get(entity)


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing(b"test-key-0123456789abcdef", "environment")


@pytest.fixture
def other_keys() -> KeyRing:
    return KeyRing(b"another-key-0123456789abcdef", "environment")
