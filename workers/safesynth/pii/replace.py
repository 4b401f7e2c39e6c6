"""Apply a plan to a table: every acting column replaced, consistently, in one pass.

The stage calls `apply_plan` once on train and holdout concatenated, so the
same original gets the same replacement in both (evaluation then compares
like with like) and no original of either split survives.

Per structured column the action runs once per distinct original (or per
distinct (original, subject) pair for dateShift), so cost scales with
distinct values, not rows. Where an action promises it, a replacement that
equals any original value of the column (train or holdout) is redrawn
(`ValueContext.attempt`), and tokenize's tokens are kept distinct; the
counts of redraws and of values still colliding after `MAX_ATTEMPTS` go to
the report.

Free-text columns come last, because the names, emails, phones, IDs,
addresses and dates that a row's own columns hold are replaced in its text
with exactly the values those cells got (`freetext.Known`; dates in their
common spellings).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
import pandas as pd

from safesynth.pii import freetext, gazetteer
from safesynth.pii.actions.base import ValueContext, get_action, text_of, value_key
from safesynth.pii.keys import KeyRing
from safesynth.pii.gazetteer import TITLES
from safesynth.pii.persona import Fakes, NameBook
from safesynth.pii.plan import FREE_TEXT, STRUCTURED, ColumnPlan, Plan
from safesynth.progress import Progress
from safesynth.schema import ColumnKind, TableSchema
from safesynth.spec.models import PiiAction, PiiEntity, PiiSpec

if TYPE_CHECKING:
    from safesynth.pii.ner import NerEngine

E = PiiEntity
MAX_ATTEMPTS = 25
NAME_FAMILY = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME})
# Subject tiers for dateShift, best first: the first tier a table has identifies a row's person.
SUBJECT_TIERS: tuple[frozenset[PiiEntity], ...] = (
    frozenset({E.IDENTIFIER, E.MEDICAL_RECORD_NUMBER}),
    frozenset({E.US_SSN}),
    frozenset({E.EMAIL_ADDRESS}),
    NAME_FAMILY,
    frozenset({E.PHONE_NUMBER, E.US_PASSPORT, E.US_DRIVER_LICENSE, E.US_BANK_NUMBER}),
)
# Entities whose originals are looked for, as known values, in the same row's free text.
KNOWN_IN_TEXT = NAME_FAMILY | {E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.US_SSN, E.CREDIT_CARD, E.IBAN_CODE, E.IP_ADDRESS,
                               E.URL, E.STREET_ADDRESS, E.CITY, E.LOCATION, E.ZIP_CODE, E.DATE_OF_BIRTH, E.DATE_TIME,
                               E.MEDICAL_RECORD_NUMBER, E.IDENTIFIER, E.US_DRIVER_LICENSE, E.US_PASSPORT,
                               E.US_BANK_NUMBER}


@dataclass
class ColumnResult:
    """What happened to one column (counts only)."""

    changed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per row
    distinct: int = 0
    redrawn: int = 0
    unresolved: int = 0
    dropped: bool = False
    text: Optional[freetext.FreeTextStats] = None


@dataclass
class Applied:
    table: pd.DataFrame
    results: dict[str, ColumnResult]
    tokens: Optional[pd.DataFrame] = None  # column, token, original: for the vault only


def _fold(value: Any) -> Any:
    """How values are compared for "equals an original": strings casefolded and trimmed."""
    return " ".join(value.casefold().split()) if isinstance(value, str) else value


def subject_keys(table: pd.DataFrame, plan: Plan, keys: KeyRing) -> Optional[pd.Series]:
    """A per-row person key from the best tier of identifier columns the plan found (see SUBJECT_TIERS)."""
    structured = [c for c in plan if c.pii and c.entity is not None and c.column in table.columns]
    for tier in SUBJECT_TIERS:
        cols = [c for c in structured if c.entity in tier]
        if not cols:
            continue
        parts = [table[c.column].map(lambda v, e=c.entity: "" if pd.isna(v) else value_key(e, v)) for c in cols]
        joined = parts[0] if len(parts) == 1 else pd.Series(["\x1e".join(t) for t in zip(*parts)], index=table.index)
        return joined.map(lambda s: None if not s.strip("\x1e") else keys.hexdigest("subject", s))
    return None


def entity_subjects(table: pd.DataFrame, entity_keys: Sequence[str], keys: KeyRing) -> pd.Series:
    """A per-row person key from spec.data.groupBy: every row of one entity is the same subject, so per-subject
    actions (date shifts) move all of an entity's dates together."""
    joined = table[list(entity_keys)].astype(str).agg("\x1e".join, axis=1)
    return joined.map(lambda s: keys.hexdigest("subject", s))


def fresh_entity_key(column: pd.Series, keys: KeyRing) -> pd.Series:
    """The entity-key column replaced value by value with a keyed pseudonym: the same original key gives the
    same new key in every row (train and holdout alike), integers stay integers (60-bit, so int64 holds them
    and collisions are negligible), anything else becomes a 16-hex-digit string."""
    integer = column.dtype.kind in "iu" or str(column.dtype) in ("Int64", "Int32")
    if integer:
        return column.map(lambda v: int(keys.hexdigest("entity-key", str(v))[:15], 16)).astype("int64")
    return column.map(lambda v: keys.hexdigest("entity-key", str(v))[:16]).astype("string")


def _name_book(table: pd.DataFrame, plan: Plan, fakes: Fakes) -> NameBook:
    book = NameBook(fakes)
    firsts: list[str] = []
    lasts: list[str] = []
    for c in plan:
        if not (c.pii and c.entity in NAME_FAMILY and c.column in table.columns):
            continue
        values = [v for v in table[c.column].dropna().unique().tolist() if isinstance(v, str)]
        if c.entity == E.FIRST_NAME:
            firsts += values
        elif c.entity == E.LAST_NAME:
            lasts += values
        else:
            for v in values:
                toks = [t for t in gazetteer.tokens(v) if t not in TITLES and len(t) > 1]
                if len(toks) >= 2:
                    firsts += toks[:-1]
                    lasts.append(toks[-1])
                elif toks:
                    lasts.append(toks[0])
    book.learn(first=firsts, last=lasts)
    return book


def _persons(table: pd.DataFrame, plan: Plan, names: NameBook) -> Callable[[int], Optional[tuple[str, str]]]:
    """Row position → the fake (first, last) of that row's person, from its name columns."""
    cols: dict[PiiEntity, str] = {}
    for c in plan:
        if c.pii and c.entity in NAME_FAMILY and c.entity not in cols and c.column in table.columns:
            cols[c.entity] = c.column

    def get(i: int) -> Optional[tuple[str, str]]:
        if not cols:
            return None
        row = {e: table[col].iat[i] for e, col in cols.items()}
        vals = {e: (v if isinstance(v, str) and v.strip() else None) for e, v in row.items()}
        first, last, full = vals.get(E.FIRST_NAME), vals.get(E.LAST_NAME), vals.get(E.PERSON)
        if not (first or last or full):
            return None
        return names.person(first, last, full)

    return get


def _output_series(present: list[Any], mask: np.ndarray, like: pd.Series) -> pd.Series:
    """Replacements (one per non-null cell) back into a column shaped like `like`: all datetimes, all
    integers or all floats keep such a dtype, anything else becomes "string" (as prepare types text)."""
    n = len(like)
    if present and all(isinstance(v, pd.Timestamp) for v in present):
        out = pd.Series(pd.NaT, index=like.index, dtype=like.dtype if str(like.dtype).startswith("datetime") else
                        "datetime64[ns]")
        out[mask] = pd.to_datetime(pd.Series(present, index=like.index[mask]))
        return out
    if present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present):
        ints = pd.array([pd.NA] * n, dtype="Int64")
        ints[mask] = np.asarray(present, dtype="int64")  # a list here trips pandas' masked putmask
        out = pd.Series(ints, index=like.index)
        return out if out.isna().any() else out.astype("int64")
    if present and all(isinstance(v, (float, np.floating)) for v in present):
        out = pd.Series(np.nan, index=like.index, dtype="float64")
        out[mask] = present
        return out
    obj = pd.Series([pd.NA] * n, index=like.index, dtype=object)
    obj[mask] = [v if isinstance(v, str) else text_of(v) for v in present]
    return obj.astype("string")


def _structured(table: pd.DataFrame, c: ColumnPlan, base: ValueContext, subjects: Optional[pd.Series],
                persons: Callable[[int], Optional[tuple[str, str]]],
                reference_rows: Optional[int] = None) -> tuple[pd.Series, dict[Any, Any], ColumnResult]:
    action = get_action(c.action)
    s = table[c.column]
    mask = s.notna().to_numpy()
    vals = s[mask].tolist()
    positions = np.flatnonzero(mask)
    subj = subjects[mask].tolist() if (action.per_subject and subjects is not None) else [None] * len(vals)
    originals = {_fold(v) for v, p in zip(vals, positions) if reference_rows is None or p < reference_rows}
    used: set[Any] = set()
    mapping: dict[tuple[Any, Any], Any] = {}
    result = ColumnResult()
    first_pos: dict[Any, int] = {}
    if c.entity == E.EMAIL_ADDRESS:
        for v, p in zip(vals, positions):
            first_pos.setdefault(v, int(p))
    for v, sj in zip(vals, subj):
        item = (v, sj)
        if item in mapping:
            continue
        person = persons(first_pos[v]) if v in first_pos else None
        ctx = ValueContext(entity=base.entity, params=base.params, keys=base.keys, fakes=base.fakes,
                           names=base.names, kind=base.kind, column=c.column, subject=sj, person=person,
                           bounds=base.bounds)
        out = action.operate(v, ctx)
        attempt = 0
        while (action.avoids_originals and _fold(out) in originals) or (action.injective and _fold(out) in used):
            attempt += 1
            if attempt > MAX_ATTEMPTS:
                result.unresolved += 1
                break
            out = action.operate(v, ctx.retry(attempt))
        result.redrawn += attempt > 0
        used.add(_fold(out))
        mapping[item] = out
    new_values = [mapping[(v, sj)] for v, sj in zip(vals, subj)]
    new = _output_series(new_values, mask, s)
    result.distinct = len(mapping)
    old_text = s.map(lambda v: None if pd.isna(v) else text_of(v))
    new_text = new.map(lambda v: None if pd.isna(v) else text_of(v))
    result.changed = (old_text != new_text).to_numpy() & mask
    by_value = {v: out for (v, _), out in mapping.items()}
    return new, by_value, result


def _date_texts(ts: pd.Timestamp) -> list[str]:
    """How a date is commonly written in notes: ISO, US with and without zero padding, "April 16, 2018"."""
    return [ts.strftime("%Y-%m-%d"), ts.strftime("%m/%d/%Y"), f"{ts.month}/{ts.day}/{ts.year}",
            ts.strftime("%B %d, %Y").replace(" 0", " "), ts.strftime("%b %d, %Y").replace(" 0", " ")]


def _known_by_row(before: pd.DataFrame, after: pd.DataFrame, plan: Plan, results: dict[str, ColumnResult],
                  names: NameBook) -> list[list[freetext.Known]]:
    """Per row, its originals in PII columns and what that row's cells became (dates in several spellings)."""
    rows: list[list[freetext.Known]] = [[] for _ in range(len(before))]
    for c in plan:
        r = results.get(c.column)
        if r is None or c.mode != STRUCTURED or c.entity not in KNOWN_IN_TEXT:
            continue
        old_col = before[c.column].tolist()
        new_col = None if r.dropped else after[c.column].tolist()
        for i, v in enumerate(old_col):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                continue
            new = f"<{c.entity.value}>" if new_col is None else new_col[i]
            if isinstance(v, pd.Timestamp):
                olds = _date_texts(v)
                news = _date_texts(new) if isinstance(new, pd.Timestamp) else [text_of(new)] * len(olds)
                rows[i] += [freetext.Known(o, c.entity, n) for o, n in zip(olds, news)]
                continue
            text = text_of(v).strip()
            rows[i].append(freetext.Known(text, c.entity, text_of(new)))
            if c.entity == E.PERSON and c.action == PiiAction.FAKE:  # its words, for "Mr. Smith" in a note
                words = [w for w in text.replace(",", " ").split() if w.rstrip(".").casefold() not in TITLES]
                if len(words) >= 2:
                    rows[i].append(freetext.Known(words[0], E.FIRST_NAME, names.first(words[0])))
                    rows[i].append(freetext.Known(words[-1], E.LAST_NAME, names.last(words[-1])))
    return rows


def apply_plan(
    table: pd.DataFrame,
    plan: Plan,
    keys: KeyRing,
    pii: PiiSpec,
    *,
    schema: Optional[TableSchema] = None,
    ner: Optional[Callable[[], "NerEngine"]] = None,
    progress: Optional[Progress] = None,
    entity_keys: Sequence[str] = (),
    reference_rows: Optional[int] = None,
) -> Applied:
    """Replace every acting column of `table` (a copy is returned); `ner` builds the NER engine when free
    text needs it. `entity_keys` (spec.data.groupBy): those columns are the subject of every per-subject action
    and are themselves replaced by keyed pseudonyms (never dropped), consistently across all of an entity's
    rows.

    `reference_rows`: the table-wide state that decides the draws (the name book, and per column the original
    values a fake must not equal) comes from the first `reference_rows` rows only. A finished run's rows put
    first with new rows after them are then replaced exactly as the run replaced them, and the new rows as
    that run would have replaced a new value (benchmarks/membership_control.py replays a run's PII on extra
    non-members this way). Unset: the whole table, as the PII stage runs."""
    fakes = Fakes(pii.locale, keys)
    names = _name_book(table if reference_rows is None else table.iloc[:reference_rows], plan, fakes)
    subjects = entity_subjects(table, entity_keys, keys) if entity_keys else subject_keys(table, plan, keys)
    persons = _persons(table, plan, names)
    out = table.copy()
    results: dict[str, ColumnResult] = {}
    token_rows: list[tuple[str, str, str]] = []
    structured = [c for c in plan.acting if c.mode == STRUCTURED and c.column in table.columns]
    texts = [c for c in plan.acting if c.mode == FREE_TEXT and c.column in table.columns]

    def context(c: ColumnPlan) -> ValueContext:
        bounds = None
        if schema is not None and c.kind == ColumnKind.DATETIME:
            col = schema.column(c.column)
            bounds = (col.min, col.max)
        return ValueContext(entity=c.entity, params=c.params, keys=keys, fakes=fakes, names=names, kind=c.kind,
                            column=c.column, bounds=bounds)

    with _task(progress, "pii: replace columns", len(structured)) as advance:
        # name columns first, so emails can use the row's fake person
        for c in sorted(structured, key=lambda c: c.entity not in NAME_FAMILY):
            if get_action(c.action).removes_column:
                results[c.column] = ColumnResult(changed=table[c.column].notna().to_numpy(), dropped=True)
                advance(1)
                continue
            new, mapping, result = _structured(table, c, context(c), subjects, persons, reference_rows)
            out[c.column] = new
            results[c.column] = result
            if c.action == PiiAction.TOKENIZE:
                token_rows += [(c.column, text_of(tok), text_of(orig)) for orig, tok in mapping.items()]
            advance(1)

    if texts:
        engine = ner() if ner is not None else None
        known = _known_by_row(table, out, plan, results, names)
        allowed = frozenset(pii.entities) if pii.entities else None
        for c in texts:
            if get_action(c.action).removes_column:
                results[c.column] = ColumnResult(changed=table[c.column].notna().to_numpy(), dropped=True)
                continue
            replacer = freetext.SpanReplacer(context(c), c.action if c.from_rule else None)
            with _task(progress, f"pii: free text in {c.column}", len(table)) as adv:
                new, stats = freetext.replace_column(table[c.column], replacer=replacer,
                                                     entities=freetext.text_entities(allowed), ner=engine,
                                                     threshold=pii.ner_score_threshold, known_by_row=known,
                                                     advance=adv)
            out[c.column] = new
            changed = (table[c.column].astype(object).fillna("\x00").to_numpy()
                       != new.astype(object).fillna("\x00").to_numpy())
            results[c.column] = ColumnResult(changed=changed, distinct=stats.scanned, text=stats)
    for k in entity_keys:  # a key the plan left alone (or dropped) still leaves as a pseudonym
        done = results.get(k)
        if done is None or done.dropped or not done.changed.any():
            out[k] = fresh_entity_key(table[k], keys)
            results[k] = ColumnResult(changed=table[k].notna().to_numpy(), distinct=int(table[k].nunique()))
    dropped = [name for name, r in results.items() if r.dropped]
    out = out.drop(columns=dropped)
    tokens = pd.DataFrame(token_rows, columns=["column", "token", "original"]) if token_rows else None
    return Applied(out, results, tokens)



def _task(progress: Optional[Progress], description: str, total: int) -> Any:
    return progress.task(description, total=total) if progress else contextlib.nullcontext(lambda n=1: None)
