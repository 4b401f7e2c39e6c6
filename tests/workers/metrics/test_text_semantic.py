"""Text semantic similarity with the packaged all-MiniLM-L6-v2 (offline)."""

from __future__ import annotations

import pytest

from safesynth.metrics.text_semantic import TextSemantic, embed
from tests.workers.metrics.tables import context, population

pytestmark = pytest.mark.slow  # loads a sentence-embedding model (~8 s on a busy CPU)

OTHER = ["the stock market fell sharply today as investors sold shares",
         "our football team won the championship in the final minute",
         "bake the bread for forty minutes until golden brown",
         "the new phone has a larger screen and a faster chip"]


def test_embeddings_are_offline_and_normalized(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    e = embed(["a patient with a fever", "a patient with a high temperature", "the football final"])
    assert e.shape == (3, 384) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert e[0] @ e[1] > e[0] @ e[2]


def test_same_topic_scores_higher_than_another_topic() -> None:
    real = population(120, 0, text=True)
    kinds = context(real, real).kinds
    same = TextSemantic().compute(context(real, population(120, 1, text=True), kinds=kinds, text_max_values=60))
    other = real.copy()
    other["notes"] = [OTHER[i % len(OTHER)] for i in range(len(other))]
    off = TextSemantic().compute(context(real, other, kinds=kinds, text_max_values=60))
    assert same.score > off.score
    assert same.details[0]["centroidCosine"] > off.details[0]["centroidCosine"]
    assert any("embedded" in n for n in same.notes)  # sampling is said
