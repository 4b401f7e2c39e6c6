"""Text structure stability."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.metrics.base import NotApplicable
from safesynth.metrics.text_structure import TextStructure, text_features
from tests.workers.metrics.tables import context, population


def test_features_of_a_value() -> None:
    f = text_features(pd.Series(["One two three. Four five!", None, ""]))
    assert f["sentences"].tolist() == [2, 0]
    assert f["wordsPerSentence"].tolist() == [2.5, 0.0]
    assert f["charsPerWord"][0] == pytest.approx(len("Onetwothree.Fourfive!") / 5)


def test_identical_ten_and_one_word_texts_lower() -> None:
    real = population(400, 0, text=True)
    assert TextStructure().compute(context(real, real.copy())).score == 10.0
    short = real.copy()
    short["notes"] = "ok"
    kinds = {c: k for c, k in context(real, real).kinds.items()}
    res = TextStructure().compute(context(real, short, kinds=kinds))
    assert res.score < 5.0


def test_no_text_columns_is_not_applicable() -> None:
    real = population(50, 0)
    with pytest.raises(NotApplicable, match="no free-text"):
        TextStructure().compute(context(real, real))
