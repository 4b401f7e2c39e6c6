"""PII replay: do original values of replaced PII columns reappear in the synthetic table?

The PII stage replaced these values before training, so the generator should
never have seen them. For each replaced column: the share of its distinct
original training values found anywhere in the synthetic table, as a whole
cell or inside free text. For free-text columns the originals are the spans
the PII stage removed (tokens of the original text missing from its replaced
version, row by row).

Chance matches happen (a fake name generator also produces "John Smith"), so
the same share is measured for a control: original holdout values that never
occur in training. Excess replay = (r_train − r_control)/(1 − r_control);
without a big enough control the raw r_train is used. Score:
scores.replay_score(worst column's excess).

Not checked, with the reason in the report: columns the PII stage kept, or
generalised / perturbed / date-shifted (their values stay in the original
range by design, so an exact match says nothing); columns with fewer than 20
distinct original values (replay cannot be told from chance). Values shorter
than 3 characters are only matched as whole cells, not inside text.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext

MIN_DISTINCT = 20
MIN_CONTROL = 10
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


def removed_spans(original: pd.Series, replaced: pd.Series, limit: int = MAX_DIFF_ROWS) -> set[str]:
    """Runs of original tokens absent from the replaced text of the same row: the spans PII replaced."""
    spans: set[str] = set()
    a, b = original.reset_index(drop=True), replaced.reset_index(drop=True)
    changed = [i for i in range(min(len(a), len(b))) if pd.notna(a[i]) and str(a[i]) != str(b[i])]
    for i in changed[:limit]:
        kept = set(_tokens(str(b[i]))) if pd.notna(b[i]) else set()
        run: list[str] = []
        for tok in [*_tokens(str(a[i])), None]:
            if tok is not None and tok not in kept:
                run.append(tok)
            elif run:
                spans.add(normalize(" ".join(run)))
                run = []
    return {s for s in spans if len(s) >= MIN_TEXT_CHARS}


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


def replay_share(values: set[str], index: SyntheticIndex) -> Optional[float]:
    return sum(index.contains(v) for v in values) / len(values) if values else None


class PiiReplay(Metric):
    name = "pii_replay"
    title = "PII replay"
    group = Group.PRIVACY
    explanation = ("For every column the PII stage replaced, the share of its original values that still "
                   "appear in the synthetic table (as a cell or inside free text), compared with the share of "
                   "unseen holdout values that appear by chance.")
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
            train_vals, ctrl_vals = self._values(col, bool(info.get("freeText")), pii)
            if len(train_vals) < MIN_DISTINCT:
                rows.append({**row, "checked": False, "distinctOriginals": len(train_vals),
                             "reason": f"fewer than {MIN_DISTINCT} distinct original values"})
                continue
            r_train = replay_share(train_vals, index)
            r_ctrl = replay_share(ctrl_vals, index) if len(ctrl_vals) >= MIN_CONTROL else None
            if r_ctrl is not None and r_ctrl < 1:
                excess = max(0.0, (r_train - r_ctrl) / (1 - r_ctrl))  # type: ignore[operator]
            else:
                excess = float(r_train)  # type: ignore[arg-type]
            rows.append({**row, "checked": True, "distinctOriginals": len(train_vals),
                         "replayShare": r_train, "replayed": round(r_train * len(train_vals)),  # type: ignore[operator]
                         "controlValues": len(ctrl_vals), "controlShare": r_ctrl, "excess": excess})
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
    def _values(col: str, free_text: bool, pii: Any) -> tuple[set[str], set[str]]:
        if free_text and pii.replaced_train is not None and col in pii.replaced_train.columns:
            train = removed_spans(pii.original_train[col], pii.replaced_train[col])
            hold: set[str] = set()
            if pii.original_holdout is not None and pii.replaced_holdout is not None \
                    and col in pii.original_holdout.columns and col in pii.replaced_holdout.columns:
                hold = removed_spans(pii.original_holdout[col], pii.replaced_holdout[col])
            return train, hold - train
        train = {normalize(v) for v in pd.unique(pii.original_train[col].dropna().astype(str))}
        train.discard("")
        hold = set()
        if pii.original_holdout is not None and col in pii.original_holdout.columns:
            hold = {normalize(v) for v in pd.unique(pii.original_holdout[col].dropna().astype(str))} - train
            hold.discard("")
        return train, hold
