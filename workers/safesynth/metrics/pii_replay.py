"""PII replay: do original values of replaced PII columns reappear in the synthetic table?

The PII stage replaced these values before training, so the generator should
never have seen them. For each replaced column: the share of training rows
whose original value is found anywhere in the synthetic table, as a whole
cell or inside free text. For free-text columns a row's originals are the
spans the PII stage removed (tokens of its original text missing from its
replaced version); the row counts as replayed when any of them is found.

Chance matches happen: fakes share vocabulary with real values (Faker builds
street names from surnames, so "Smith" turns up inside "083 Smith Corners"),
and a common name is found more often than a rare one. The control is the
same share over the holdout's rows, which the generator never saw and which
are drawn like the training rows: without a leak both shares have the same
expectation, whatever the values' commonness. Excess replay =
(r_train − r_control)/(1 − r_control), 1 when every training original is
replayed; reported beyond chance, less Z_ONE_SIDED standard errors of the
difference (`excess_replay`). Without MIN_CONTROL holdout rows the raw
r_train is used. Score: scores.replay_score(worst column's excess).

Why rows and not distinct values: a control of holdout values never seen in
training is biased toward rare values (a value missing from 1,800 training
rows is rare), so chance matches of common training values read as replay.
On the quickstart with 12 epochs that bias read 13.7 % "replay" of surnames,
all of them surnames inside fake street addresses, with 30 control values.

Not checked, with the reason in the report: columns the PII stage kept, or
generalised / perturbed / date-shifted (their values stay in the original
range by design, so an exact match says nothing); columns with fewer than 20
distinct original values (replay cannot be told from chance). Values shorter
than 3 characters are only matched as whole cells, not inside text.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Optional

import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext

MIN_DISTINCT = 20
Z_ONE_SIDED = 1.645  # one-sided 95 %: replay must stand out from the holdout's chance matches
MIN_CONTROL = 30  # holdout rows with a value; fewer and the control share is mostly noise
MIN_TEXT_CHARS = 3
MAX_DIFF_ROWS = 5000
NOT_REPLACING = {"keep", "generalize", "perturb", "dateshift", "date_shift"}
_WS = re.compile(r"\s+")
_EDGE_PUNCT = "\"'.,;:!?()[]{}<>«»“”‘’"


def normalize(value: Any) -> str:
    return _WS.sub(" ", str(value)).strip().casefold()


def _tokens(text: str) -> list[str]:
    return [t.strip(_EDGE_PUNCT) for t in text.split() if t.strip(_EDGE_PUNCT)]


# ------------------------------------------------------------------ which columns were replaced

def replaced_from_report(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Columns the PII stage's report marks as PII, with entity, action and whether it is free text.

    Accepts {"columns": {name: {...}}} or {"columns": [{"column"|"name": ..., ...}]}; entries without
    an entity and without an action (or with action keep and no entity) are not PII.
    """
    cols = report.get("columns", {})
    entries: Iterable[tuple[str, Mapping[str, Any]]]
    if isinstance(cols, Mapping):
        entries = ((str(k), v) for k, v in cols.items() if isinstance(v, Mapping))
    else:
        entries = ((str(e.get("column", e.get("name"))), e) for e in cols if isinstance(e, Mapping))
    out = {}
    for name, e in entries:
        entity = e.get("entity", e.get("entityType"))
        if isinstance(entity, list):
            entity = ",".join(str(x) for x in entity) or None
        action = e.get("action")
        action = action.get("name") if isinstance(action, Mapping) else action
        spans = e.get("spansReplaced", e.get("spans", e.get("entitiesInText")))
        free_text = bool(e.get("freeText") or e.get("kind") == "text" or (isinstance(spans, (int, float)) and spans > 0)
                         or (isinstance(spans, (list, Mapping)) and len(spans) > 0))
        if entity is None and not free_text and (action is None or str(action).lower() == "keep"):
            continue
        out[name] = {"entity": entity, "action": None if action is None else str(action), "freeText": free_text,
                     "source": "report"}
    return out


_STRING_KINDS = (Kind.CATEGORICAL, Kind.TEXT, Kind.IDENTIFIER)


def replaced_from_diff(original: pd.DataFrame, replaced: Optional[pd.DataFrame], kinds: Mapping[str, Kind],
                       *, changed: bool = True) -> dict[str, dict[str, Any]]:
    """Columns the PII stage dropped and, with `changed`, text-like columns whose values differ row by row.

    The report is the better source (it names the entity and action); the diff
    is the fallback when there is none. Only text-like columns count as
    changed, and only when at most half the columns differ: more means the
    tables are not row-aligned, and numbers compared as "replayed" would be
    false alarms.
    """
    if replaced is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    diffs = {}
    for c in original.columns:
        if c not in replaced.columns:
            out[c] = {"entity": None, "action": "drop", "freeText": kinds.get(c) is Kind.TEXT, "source": "diff"}
        elif changed and len(replaced) == len(original):
            a = original[c].astype(str).where(original[c].notna(), None)
            b = replaced[c].astype(str).where(replaced[c].notna(), None)
            diffs[c] = not a.reset_index(drop=True).equals(b.reset_index(drop=True))
    if diffs and sum(diffs.values()) <= len(original.columns) / 2:
        for c, differs in diffs.items():
            if differs and kinds.get(c, Kind.CATEGORICAL) in _STRING_KINDS:
                out[c] = {"entity": None, "action": None, "freeText": kinds.get(c) is Kind.TEXT, "source": "diff"}
    return out


def removed_spans_by_row(original: pd.Series, replaced: pd.Series, limit: int = MAX_DIFF_ROWS) -> list[set[str]]:
    """Per changed row (the first `limit`), the runs of original tokens absent from its replaced text: the spans
    PII replaced there (at least MIN_TEXT_CHARS characters). Unchanged rows have none and are left out."""
    out: list[set[str]] = []
    a, b = original.reset_index(drop=True), replaced.reset_index(drop=True)
    changed = [i for i in range(min(len(a), len(b))) if pd.notna(a[i]) and str(a[i]) != str(b[i])]
    for i in changed[:limit]:
        kept = set(_tokens(str(b[i]))) if pd.notna(b[i]) else set()
        spans: set[str] = set()
        run: list[str] = []
        for tok in [*_tokens(str(a[i])), None]:
            if tok is not None and tok not in kept:
                run.append(tok)
            elif run:
                spans.add(normalize(" ".join(run)))
                run = []
        spans = {x for x in spans if len(x) >= MIN_TEXT_CHARS}
        if spans:
            out.append(spans)
    return out


def removed_spans(original: pd.Series, replaced: pd.Series, limit: int = MAX_DIFF_ROWS) -> set[str]:
    """Every span the PII stage removed from the text (`removed_spans_by_row`, all rows together)."""
    return set().union(*removed_spans_by_row(original, replaced, limit))


# ------------------------------------------------------------------ where to look

class SyntheticIndex:
    """Whole cells and free-text tokens of the synthetic table, normalized, for membership tests."""

    def __init__(self, synthetic: pd.DataFrame, text_columns: list[str]) -> None:
        self.cells: set[str] = set()
        for c in synthetic.columns:
            self.cells.update(normalize(v) for v in pd.unique(synthetic[c].dropna().astype(str)))
        texts = [normalize(v) for c in text_columns if c in synthetic.columns for v in synthetic[c].dropna().astype(str)]
        self.tokens = {t for text in texts for t in _tokens(text)}
        self.blob = "\n".join(texts)

    def contains(self, value: str) -> bool:
        if value in self.cells:
            return True
        if len(value) < MIN_TEXT_CHARS:
            return False
        toks = _tokens(value)
        if not toks or any(t not in self.tokens for t in toks):
            return False
        return len(toks) == 1 or value in self.blob


def replay_share(rows: list[set[str]], index: SyntheticIndex) -> Optional[float]:
    """Share of rows with at least one original value found in the synthetic table (None without rows)."""
    found: dict[str, bool] = {}
    hits = 0
    for values in rows:
        for v in values:
            if v not in found:
                found[v] = index.contains(v)
        hits += any(found[v] for v in values)
    return hits / len(rows) if rows else None


def excess_replay(r_train: float, n_train: int, r_ctrl: Optional[float], n_ctrl: int) -> tuple[float, float]:
    """(excess beyond chance, raw excess). Raw: (r_train − r_ctrl)/(1 − r_ctrl). The excess subtracts
    Z_ONE_SIDED standard errors of the difference of the two shares first (pooled share, a two-proportion
    test): the holdout holds a few hundred rows, and where chance matches are common (a first name found in
    60 % of rows) the raw figure swings by ±0.09 from the split alone, which a 10 % gate would read as replay
    about one run in eight. A generator that replays every training original still reads an excess near 1."""
    if r_ctrl is None or r_ctrl >= 1:
        return r_train, r_train
    raw = max(0.0, (r_train - r_ctrl) / (1 - r_ctrl))
    pooled = (r_train * n_train + r_ctrl * n_ctrl) / (n_train + n_ctrl)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_train + 1 / n_ctrl))
    return max(0.0, (r_train - r_ctrl - Z_ONE_SIDED * se) / (1 - r_ctrl)), raw


class PiiReplay(Metric):
    name = "pii_replay"
    title = "PII replay"
    group = Group.PRIVACY
    explanation = ("For every column the PII stage replaced, the share of training rows whose original value "
                   "still appears in the synthetic table (as a cell or inside free text), compared with the same "
                   "share of holdout rows (never trained on), whose originals can only appear by chance.")
    advice = ("Replayed originals mean PII reached the generator: check the PII stage's report for columns it "
              "missed or kept, add per-column rules (spec.pii.columns), and never lock PII columns.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        pii = ctx.pii
        if pii is None:
            raise NotApplicable("the PII stage did not run (spec.pii.enabled is false or no pii/ artifacts)")
        if not pii.replaced:
            raise NotApplicable("the PII stage replaced no column")
        index = SyntheticIndex(ctx.synthetic, ctx.columns_of(Kind.TEXT))
        rows = []
        for col, info in sorted(pii.replaced.items()):
            row: dict[str, Any] = {"column": col, "entity": info.get("entity"), "action": info.get("action"),
                                   "freeText": bool(info.get("freeText"))}
            action = str(info.get("action") or "").lower()
            if action in NOT_REPLACING:
                rows.append({**row, "checked": False,
                             "reason": f"action {info.get('action')} keeps values in range by design"})
                continue
            if col not in pii.original_train.columns:
                rows.append({**row, "checked": False, "reason": "original column not available"})
                continue
            train_rows, ctrl_rows = self._values(col, bool(info.get("freeText")), pii)
            distinct = len(set().union(*train_rows))
            if distinct < MIN_DISTINCT:
                rows.append({**row, "checked": False, "distinctOriginals": distinct,
                             "reason": f"fewer than {MIN_DISTINCT} distinct original values"})
                continue
            r_train = float(replay_share(train_rows, index) or 0.0)
            r_ctrl = replay_share(ctrl_rows, index) if len(ctrl_rows) >= MIN_CONTROL else None
            excess, raw = excess_replay(r_train, len(train_rows), r_ctrl, len(ctrl_rows))
            rows.append({**row, "checked": True, "distinctOriginals": distinct, "rows": len(train_rows),
                         "replayShare": r_train, "replayed": round(r_train * len(train_rows)),
                         "controlRows": len(ctrl_rows), "controlShare": r_ctrl, "rawExcess": raw, "excess": excess})
        checked = [r for r in rows if r.get("checked")]
        if not checked:
            raise NotApplicable("no replaced column could be checked: "
                                + "; ".join(f"{r['column']}: {r['reason']}" for r in rows))
        worst = max(checked, key=lambda r: r["excess"])
        return self.result(
            scores.replay_score(worst["excess"]),
            statistic={"maxExcessReplay": worst["excess"], "worstColumn": worst["column"],
                       "columnsChecked": len(checked), "columnsReplaced": len(rows)},
            params={"minDistinct": MIN_DISTINCT, "minControl": MIN_CONTROL, "minTextChars": MIN_TEXT_CHARS,
                    "match": "whole cell, or token-aligned inside free text; case and spacing ignored"},
            details=rows,
        )

    @staticmethod
    def _values(col: str, free_text: bool, pii: Any) -> tuple[list[set[str]], list[set[str]]]:
        """Per training row and per holdout row, the original values to look for (rows without one left out)."""
        if free_text and pii.replaced_train is not None and col in pii.replaced_train.columns:
            train = removed_spans_by_row(pii.original_train[col], pii.replaced_train[col])
            hold: list[set[str]] = []
            if pii.original_holdout is not None and pii.replaced_holdout is not None \
                    and col in pii.original_holdout.columns and col in pii.replaced_holdout.columns:
                hold = removed_spans_by_row(pii.original_holdout[col], pii.replaced_holdout[col])
            return train, hold

        def cells(table: Optional[pd.DataFrame]) -> list[set[str]]:
            if table is None or col not in table.columns:
                return []
            values = (normalize(v) for v in table[col].dropna().astype(str))
            return [{v} for v in values if v]

        return cells(pii.original_train), cells(pii.original_holdout)
