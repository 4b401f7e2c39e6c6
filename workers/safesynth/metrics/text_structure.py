"""Text structure stability: do synthetic free-text values have the real values' shape?

Per value: sentence count, words per sentence, characters per word (the
reference product's three features). Each feature's distribution is compared
by JS distance on shared bins (divergence.bins_for), per free-text column; the score maps the
mean through the reference curve (scores.text_structure_score). At most
`max_rows` values per table are used (seeded sample).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext
from safesynth.metrics.divergence import bins_for, numeric_js

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
FEATURES = ("sentences", "wordsPerSentence", "charsPerWord")


def text_features(values: pd.Series) -> dict[str, np.ndarray]:
    """The three shape features of each non-null value."""
    out: dict[str, list[float]] = {f: [] for f in FEATURES}
    for v in values.dropna().astype(str):
        words = v.split()
        n_words = len(words)
        n_sent = max(1, sum(1 for s in _SENTENCE_END.split(v.strip()) if s.strip())) if n_words else 0
        out["sentences"].append(n_sent)
        out["wordsPerSentence"].append(n_words / n_sent if n_sent else 0.0)
        out["charsPerWord"].append(sum(len(w) for w in words) / n_words if n_words else 0.0)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


class TextStructure(Metric):
    name = "text_structure"
    title = "Text structure stability"
    group = Group.QUALITY
    explanation = ("Compares the shape of free-text values: sentences per value, words per sentence and "
                   "characters per word.")
    advice = ("If synthetic texts are too short or too long, raise the maximum sequence length, check for "
              "truncated generations, or adjust the temperature.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = ctx.columns_of(Kind.TEXT)
        if not cols:
            raise NotApplicable("no free-text columns")
        real = ctx.sample(ctx.real, "text-structure-real")
        syn = ctx.sample(ctx.synthetic, "text-structure-synthetic")
        rows, notes = [], []
        for c in cols:
            fr, fs = text_features(real[c]), text_features(syn[c])
            js = {f: numeric_js(fr[f], fs[f], bins_for(len(fr[f]), len(fs[f]))) for f in FEATURES}
            rows.append({"column": c, **{f"js_{f}": v for f, v in js.items()},
                         "meanJs": float(np.mean(list(js.values()))),
                         "meanWordsReal": float(fr["wordsPerSentence"].mean()) if fr["sentences"].size else None,
                         "meanWordsSynthetic": float(fs["wordsPerSentence"].mean()) if fs["sentences"].size else None})
        if len(ctx.real) > len(real) or len(ctx.synthetic) > len(syn):
            notes.append(f"text features from {len(real)} real and {len(syn)} synthetic rows (seeded sample)")
        mean = float(np.mean([r["meanJs"] for r in rows]))
        return self.result(scores.text_structure_score(mean), statistic={"meanJsDistance": mean},
                           params={"columns": len(cols), "bins": "divergence.bins_for", "features": list(FEATURES),
                                   "realRows": len(real), "syntheticRows": len(syn)},
                           details=rows, notes=notes)
