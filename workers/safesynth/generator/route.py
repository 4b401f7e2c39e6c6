"""Which DP generator a job trains: `choose_route`, a pure decision on public facts (n, epsilon, column kinds).

Routes (README, "Differential privacy", says where epsilon goes under each):
- marginal: AIM-style DP marginals (aim.py) generate every tabular column; free-text columns get public lorem
  sentences at the model's null share. No language model, no DP-SGD.
- hybrid: the marginal model's samples are the LM's public pretraining rows (post-processing, free), then DP-SGD on
  the real rows with the rest of the budget: the LM can learn free text the marginal model cannot write.
- lm: DP-SGD on the LM only (public pretraining from one-way DP marginals), the path before issue 18.

The rule for `auto` (measured: benchmarks/RESULTS.md and the issue-18 report):
- no free-text column -> marginal. At equal epsilon AIM-style marginals beat the DP-SGD LM on every table we
  measured (quickstart, covid, Adult at epsilon 1 and 8), and marginal models lead DP tabular benchmarks.
- free text and n * epsilon >= HYBRID_MIN_ROW_EPSILON -> lm: enough signal for DP-SGD to learn the text, on the
  path that has been measured. `hybrid` is meant for this case but has not been benchmarked yet, so `auto` does not
  pick it; ask for it with privacy.route: hybrid.
- free text below that -> marginal: DP-SGD on so little signal lost to the marginal model even with the text
  column written as filler (quickstart, n = 1,800, at epsilon 1 and 8). The train stage warns that the text
  columns are public filler, so nobody mistakes them for learned text.
Only the row count n (public in this project's privacy model), epsilon and the declared kinds are read.

Grouped records (spec.data.groupBy; the unit of privacy is the entity, up to maxGroupRows rows):
- marginal is refused (the train stage's `group_rows`, naming spec.privacy.route): AIM samples independent
  rows, so it cannot write an entity's rows together, in order, with constant entity-level columns.
- hybrid is allowed when asked for: AIM is fitted on the context rows (lag columns included, so its samples
  carry lag-1 structure into the LM's public pretraining) with every measurement's sensitivity scaled to
  maxGroupRows (aim.py, `contribution`), then DP-SGD per entity as on lm.
- `auto` picks lm. hybrid gives half of what the schema leaves to a marginal model whose noise grows with
  maxGroupRows, so DP-SGD gets about half the epsilon, and it measured no better: the time-series example
  (246 training patients, maxGroupRows 16) at epsilon 8, training.maxSteps 32 on both, one run each
  (benchmarks/timeseries.py): SQS 5.55 (lm) vs 5.60 (hybrid), lag-1 |diff| mean over the labs 0.687 vs
  0.690, gap JS 0.877 vs 0.853, rows-per-entity JS 0.280 vs 0.323, entity membership AUC 0.53 vs 0.56.
  At that budget AIM's measurements (rho 0.28, noise 16 x a row's) are mostly noise.
"""

from __future__ import annotations

from typing import Any, Sequence

HYBRID_MIN_ROW_EPSILON = 50_000.0  # n x epsilon below which DP-SGD has measured too little signal (see above)
ROUTES = ("marginal", "hybrid", "lm")


def choose_route(requested: str, n_rows: int, epsilon: float, kinds: Sequence[str],
                 grouped: bool = False) -> tuple[str, str]:
    """(route, why): privacy.route when set, else the documented `auto` rule (`grouped`: spec.data.groupBy is
    set; under DP its caller has already refused marginal then)."""
    if requested in ROUTES:
        return requested, "privacy.route"
    if grouped:
        return "lm", "auto: grouped records: the language model writes an entity's rows in its context"
    has_text = "text" in kinds
    if not has_text:
        return "marginal", "auto: no free-text column"
    if n_rows * epsilon >= HYBRID_MIN_ROW_EPSILON:
        return "lm", f"auto: free text and n x epsilon >= {HYBRID_MIN_ROW_EPSILON:g}"
    return "marginal", f"auto: free text but n x epsilon < {HYBRID_MIN_ROW_EPSILON:g}"


def dp_warnings(columns: Sequence[Any], route: str) -> list[dict[str, str]]:
    """Column warnings for a DP train summary (schema_model.WARNING_TEXT codes): what the chosen route will
    not learn, so a filler or empty column is never mistaken for a learned one. Reads only the columns'
    kinds and the DP-released facts on them, never data."""
    out = []
    for col in columns:
        if not col.modeled:
            continue
        if route == "marginal" and col.kind == "text":
            out.append({"column": col.name, "code": "dpTextFiller", "kind": col.kind})
        released = (col.extra.get("released") or {}).get("categories")
        if col.kind == "categorical" and not col.categories and released == []:
            out.append({"column": col.name, "code": "dpNoCategory", "kind": col.kind})
    return out
