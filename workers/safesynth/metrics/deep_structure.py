"""Deep structure stability: does the synthetic table fill the real table's main directions of variation?

PCA with 2 components is fitted on the real table (encoding.TableEncoder:
standardized numbers, one-hot categories); both tables are projected on it and
each component's distribution is compared by JS distance on shared bins
(divergence.bins_for).
Score: 10·e^(−1.6·mean) (the reference product's curve). This catches joint
structure that one- and two-column metrics miss. All rows are used; the
scatter in the report shows a seeded sample of 400 points per table.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext, rng_for
from safesynth.metrics.divergence import bins_for, numeric_js
from safesynth.metrics.encoding import fit_encoder

COMPONENTS = 2
SCATTER_POINTS = 400


class DeepStructure(Metric):
    name = "deep_structure"
    title = "Deep structure stability"
    group = Group.QUALITY
    explanation = ("Projects both tables on the real table's two leading principal components and compares "
                   "the projected distributions (JS distance).")
    advice = ("A low score with good column scores means rows are plausible column by column but not as "
              "wholes: train longer, use a larger model, or lower the temperature.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = ctx.tabular
        if not cols:
            raise NotApplicable("no numeric, date, categorical or boolean columns")
        if len(ctx.real) < 3 or len(ctx.synthetic) < 1:
            raise NotApplicable("too few rows for a PCA")
        enc = fit_encoder(ctx.real, cols, ctx.kinds)
        xr, xs = enc.transform(ctx.real), enc.transform(ctx.synthetic)
        k = min(COMPONENTS, xr.shape[1], len(ctx.real) - 1)
        if k < 1:
            raise NotApplicable("the encoded real table has no variation")
        pca = PCA(n_components=k, random_state=ctx.options.seed).fit(xr)
        pr, ps = pca.transform(xr), pca.transform(xs)
        bins = bins_for(len(pr), len(ps))
        js = [numeric_js(pr[:, i], ps[:, i], bins) for i in range(k)]
        mean = float(np.mean(js))
        rng = rng_for(ctx.options.seed, "pca-scatter")
        ir = rng.choice(len(pr), min(SCATTER_POINTS, len(pr)), replace=False)
        is_ = rng.choice(len(ps), min(SCATTER_POINTS, len(ps)), replace=False)
        return self.result(
            scores.deep_structure_score(mean),
            statistic={"meanJsDistance": mean, "jsPerComponent": js},
            params={"components": k, "bins": bins, "encodedFeatures": int(xr.shape[1]),
                    "explainedVarianceRatio": pca.explained_variance_ratio_.tolist(),
                    "realRows": len(ctx.real), "syntheticRows": len(ctx.synthetic)},
            visual={"real": pr[ir, :2].tolist(), "synthetic": ps[is_, :2].tolist(),
                    "explained": pca.explained_variance_ratio_.tolist()},
        )
