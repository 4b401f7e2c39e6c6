"""Detection: can a classifier tell synthetic rows from real ones?

A classifier two-sample test (Lopez-Paz & Oquab 2017; SDMetrics'
LogisticDetection, synthcity's detection_xgb): label real rows 0 and
synthetic rows 1, train gradient-boosted trees (scikit-learn
HistGradientBoosting, categories native, nulls as missing) and measure the
cross-validated ROC AUC of their out-of-fold predictions. AUC 0.5 means the
tables are indistinguishable; a generator that keeps every column's
distribution but breaks the relations between columns (SQS barely notices)
is found by the trees, which split on combinations. Score:
scores.detection_score(AUC) = 10·(1 − 2·max(0, AUC − 0.5)).

Real side: the rows the generator saw; both sides the same size, the smaller
table's, at most MAX_ROWS per side (seeded samples: the cost is the trees',
which grows with rows; the report says when it sampled).

Floor: the same test between training rows and holdout rows at the holdout's
row count (two real samples, so the AUC real data gets). It shows what "as
good as real" reads on this table, noise included. Encoded columns: numeric,
date, categorical and boolean columns; identifiers and free text are left out
(a unique id or a sentence would separate any two tables).

Rare labels pooled (MIN_LABEL_ROWS): a categorical label gets a code of its
own only when the rows of the test (both sides together, so the choice
cannot see which side a row is on) hold it at least MIN_LABEL_ROWS times;
rarer labels share one code, "other" (encoding.CodedFeatures with
min_label_rows). Two reasons, neither tied to a dataset or a column name:
- The long tail of a free-form column (names, cities, free-typed labels) is
  where a generator should not copy: a good one writes plausible new or other
  rare values. Coded one by one, every rare real string against every novel
  synthetic one is a feature that separates the tables by exact identity,
  which is a copy test (copies, DCR and PII replay are those), not a
  distribution test. Pooled, the trees still see how often rare or unseen
  values occur, and an invented label in a column whose labels are all
  frequent still stands out (its "other" rows are synthetic only).
- Categorical splits sort labels by their share of synthetic rows and take
  the best cut; with many small labels that search fits noise: it raises the
  real-vs-real AUC and spends the trees' splits on noise, hiding real
  differences elsewhere in the row. 20 is HistGradientBoosting's default
  min_samples_leaf, the fewest rows a leaf of the trees holds.
SDMetrics instead drops columns whose metadata marks them PII or of a
semantic type (first_name, city, …), and synthcity label-encodes every
column; the first needs metadata that `safesynth evaluate` on two plain
tables lacks, the second keeps the exact-identity test. Pooling treats every
categorical column the same way, with or without metadata. Labels and nulls
are on one footing in both tables: both are coded by `columns.canonical`
after `columns.align` gave them the real column's kind, so an integer column
read back from CSV as floats, or a boolean written as text, codes the same.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext
from safesynth.metrics.encoding import CodedFeatures

MAX_ROWS = 3000  # rows per side: 50,000-row tables stay within the evaluate benchmark's time
FOLDS = 5
MIN_ROWS = 50  # per side; fewer and the cross-validated AUC is mostly noise
MIN_LABEL_ROWS = 20  # rows (both sides) a label needs for a code of its own; HGB's min_samples_leaf
TREES = 100


def entity_groups(real: pd.DataFrame, other: pd.DataFrame, keys: Sequence[str]) -> Optional[np.ndarray]:
    """Each row's entity across both tables (grouped records), for folds that keep an entity's rows together;
    None without keys. The side is part of the label: a synthetic key may spell a real one."""
    if not keys or any(k not in real.columns or k not in other.columns for k in keys):
        return None

    def labels(df: pd.DataFrame, side: str) -> list[str]:
        return [side + "\x1f".join(map(str, t)) for t in df[list(keys)].itertuples(index=False, name=None)]

    return np.asarray(labels(real, "r:") + labels(other, "s:"), dtype=object)


def detection_auc(real: pd.DataFrame, other: pd.DataFrame, cols: Sequence[str], kinds: Mapping[str, Kind],
                  seed: int, keys: Sequence[str] = ()) -> float:
    """Cross-validated ROC AUC of gradient-boosted trees separating `other` (1) from `real` (0).

    Categories are coded from both samples together, blind to which side a row is on: choosing the
    labels by the real rows' counts alone would leak the class into the features (a label kept
    because its real count came out high is, on average, more real than synthetic, in the held-out
    fold too), and MIN_LABEL_ROWS counts the rows the trees see.

    Grouped records (`keys`, spec.data.groupBy): the folds keep each entity's rows together
    (StratifiedGroupKFold). With rows split at random, an entity's repeated values (its birth date, its
    age to the last decimal) sit in the training and the held-out folds at once, and the trees learn to
    recognise the entities rather than real from synthetic: the time-series example's synthetic table
    read AUC 0.997 that way, its birth-date column alone 0.875.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    features = CodedFeatures(pd.concat([real, other], ignore_index=True), cols, kinds,
                             min_label_rows=MIN_LABEL_ROWS)
    x = np.vstack([features.matrix(real), features.matrix(other)])
    y = np.concatenate([np.zeros(len(real)), np.ones(len(other))])
    model = HistGradientBoostingClassifier(max_iter=TREES, categorical_features=features.categorical_mask,
                                           early_stopping=False, random_state=seed)
    groups = entity_groups(real, other, keys)
    folds: Any = (StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed) if groups is None else
                  StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed))
    with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP threads fight on a busy 2-core box
        proba = cross_val_predict(model, x, y, cv=folds, groups=groups, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


class Detection(Metric):
    name = "detection"
    title = "Detection (classifier two-sample test)"
    group = Group.ALONGSIDE
    explanation = ("Gradient-boosted trees try to tell synthetic rows from real ones (cross-validated ROC AUC; "
                   "0.5 = indistinguishable, 1.0 = always told apart). Unlike per-column and per-pair scores, the "
                   "trees see combinations of columns, so broken relations show here. The same test between "
                   "two real samples (training vs holdout rows) is shown as what real data gets.")
    advice = ("A low score means synthetic rows are easy to tell apart: look for impossible combinations "
              "(e.g. a result that contradicts its measurement), invented categories or shifted ranges; train "
              "longer, on more data, or with a larger model.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = ctx.tabular
        if not cols:
            raise NotApplicable("no numeric, date, categorical or boolean columns to classify on")
        n = min(len(ctx.real), len(ctx.synthetic), MAX_ROWS)
        if n < MIN_ROWS:
            raise NotApplicable(f"fewer than {MIN_ROWS} rows in the real or the synthetic table")
        seed = ctx.options.seed
        real = ctx.sample(ctx.real, "detection-real", n)
        syn = ctx.sample(ctx.synthetic, "detection-synthetic", n)
        keys = ctx.options.group_by
        auc = detection_auc(real, syn, cols, ctx.kinds, seed, keys)
        notes = []
        if max(len(ctx.real), len(ctx.synthetic)) > n:
            notes.append(f"detection uses {n} real and {n} synthetic rows (seeded samples of equal size)")
        statistic: dict[str, Any] = {"auc": auc}
        params: dict[str, Any] = {"model": f"HistGradientBoostingClassifier(max_iter={TREES})",
                                  "folds": FOLDS, "rowsPerSide": n, "columns": len(cols), "seed": seed,
                                  "minLabelRows": MIN_LABEL_ROWS, "foldsByEntity": bool(keys)}
        holdout = ctx.holdout
        if holdout is not None and min(len(holdout), len(ctx.real)) >= MIN_ROWS:
            n_b = min(len(holdout), len(ctx.real), MAX_ROWS)
            base = detection_auc(ctx.sample(ctx.real, "detection-baseline-real", n_b),
                                 ctx.sample(holdout, "detection-baseline-holdout", n_b), cols, ctx.kinds, seed,
                                 keys)
            statistic.update(realVsRealAuc=base, realVsRealScore=scores.detection_score(base))
            params["realVsRealRowsPerSide"] = n_b
        else:
            statistic.update(realVsRealAuc=None, realVsRealScore=None)
            notes.append("no real-vs-real floor: it needs at least "
                         f"{MIN_ROWS} holdout rows (rows the generator never saw)")
        return self.result(scores.detection_score(auc), statistic=statistic, params=params, notes=notes)
