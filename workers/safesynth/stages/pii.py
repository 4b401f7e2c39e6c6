"""Stage `pii`: find PII in every column and in free text, and replace it before anything is learned.

Reads prepare/{train,holdout}.parquet and prepare/schema.json. Classifies
columns on the training split only (the holdout is never looked at to make
decisions), then applies one plan to train and holdout together, so both get
the same replacements and no original value of either survives. Writes
pii/train.parquet, pii/holdout.parquet, pii/schema.json (dropped columns gone,
kinds of replaced columns re-inferred) and pii/report.json (no values).
Columns the plan leaves alone are written exactly as prepare wrote them.

With spec.pii.enabled false the three prepare artifacts are copied byte for
byte and the summary says so.

The HMAC key is the one environment read of this stage: Kubernetes injects
secrets as environment variables, and a key must never travel in the spec
or the artifacts (see `safesynth.pii.keys`; variable `SAFESYNTH_PII_KEY`).
When spec.pii.vaultUri is set and some column is tokenized, the token →
original table is written there (Parquet) and nowhere else.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any, Optional

import pandas as pd

from safesynth.pii.classify import classify_table
from safesynth.pii.keys import resolve_key
from safesynth.pii.ner import LazyEngine, get_engine
from safesynth.pii.plan import Plan, build_plan, check_columns
from safesynth.pii.replace import Applied, apply_plan
from safesynth.pii.report import build_report, summarize
from safesynth.progress import Progress
from safesynth.schema import ColumnSchema, TableSchema, coerce_to_schema, infer_column
from safesynth.spec.models import (
    ColumnDeclaration,
    ColumnKind,
    DeclaredKind,
    PiiAction,
    SafeSynthJobSpec,
    StageName,
)
from safesynth.store import ArtifactStore, open_store, split_uri

NAME = StageName.PII
READS = ("prepare/train.parquet", "prepare/holdout.parquet", "prepare/schema.json")
WRITES = ("pii/train.parquet", "pii/holdout.parquet", "pii/schema.json", "pii/report.json")
_COPIED = ("train.parquet", "holdout.parquet", "schema.json")


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    pii = spec.pii
    if not pii.enabled:
        return _copy_unchanged(store, progress)

    train = store.read_table("prepare/train.parquet")
    holdout = store.read_table("prepare/holdout.parquet")
    schema = TableSchema.from_json_dict(store.read_json("prepare/schema.json"))
    check_columns(pii, schema.names)
    keys = resolve_key(pii, os.environ)

    with progress.task("pii: classify columns", total=len(schema.columns)) as advance:
        # the birth-date rule's reference date: the day the stage runs (the one clock read, here in the shell)
        evidence = classify_table(train, schema, pii, ner=LazyEngine(), seed=spec.data.seed, today=date.today())
        advance(len(schema.columns))
    plan = build_plan(schema, evidence, pii)
    full = pd.concat([train, holdout], ignore_index=True)
    applied = apply_plan(full, plan, keys, pii, schema=schema, ner=get_engine, progress=progress,
                         entity_keys=spec.data.group_by)
    out_schema, replaced = output_schema(schema, applied, plan)
    out_train, out_holdout = split_outputs(train, holdout, applied, replaced)

    vault_rows = None
    if applied.tokens is not None and pii.vault_uri:
        _write_vault(spec, pii.vault_uri, applied.tokens)
        vault_rows = len(applied.tokens)
    with progress.task("pii: write tables", total=2) as advance:
        store.write_table("pii/train.parquet", out_train)
        advance(1)
        store.write_table("pii/holdout.parquet", out_holdout)
        advance(1)
    store.write_json("pii/schema.json", out_schema.to_json_dict())
    report = build_report(plan, applied, n_train=len(train), n_holdout=len(holdout), keys=keys, pii=pii,
                          output_schema=out_schema, vault_rows=vault_rows)
    store.write_json("pii/report.json", report)
    return summarize(report)


# Kinds a faked column keeps from prepare: whatever fakes were drawn, a faked address stays what the real one
# was, so the learned columns (and the training budget) do not swing with the PII key.
_FAKE_KEEPS_KIND = frozenset({ColumnKind.TEXT, ColumnKind.CATEGORICAL, ColumnKind.IDENTIFIER})


def _keep_spelling(new: ColumnSchema, before: Optional[ColumnSchema]) -> ColumnSchema:
    """A date column that stays a date column keeps prepare's formats (declared or read off the file): the
    replaced values are timestamps, which carry no spelling, and without this a shifted `%d.%m.%Y` column came
    out of generate in pandas' default spelling, a declared format lost."""
    if before is None or before.kind != ColumnKind.DATETIME or new.kind != ColumnKind.DATETIME or new.format:
        return new
    return new.model_copy(update={"format": before.format, "formats": before.formats, "declared": before.declared})


def output_schema(schema: TableSchema, applied: Applied, plan: Optional[Plan] = None) -> tuple[TableSchema, pd.DataFrame]:
    """(schema of pii/'s tables, the changed columns coerced to it).

    Dropped columns leave the schema; a changed column's kind is inferred again
    from its replaced values (a generalized age may no longer be an integer),
    except that a string column replaced by fakes keeps prepare's kind (see
    _FAKE_KEEPS_KIND); untouched columns keep prepare's entry.
    """
    changed = [c for c, r in applied.results.items() if not r.dropped and r.changed.any()]
    by_name = {c.name: c for c in schema.columns}
    replaced = applied.table[changed]

    def declared(name: str) -> Optional[ColumnDeclaration]:
        if plan is None or name not in by_name or by_name[name].kind not in _FAKE_KEEPS_KIND:
            return None
        if plan.get(name).action != PiiAction.FAKE:
            return None
        return ColumnDeclaration(kind=DeclaredKind(by_name[name].kind.value))

    if changed:
        inferred = TableSchema(n_rows=len(applied.table),
                               columns=[_keep_spelling(infer_column(c, replaced[c], declared(c)), by_name.get(c))
                                        for c in changed])
        replaced = coerce_to_schema(replaced, inferred)
        by_name.update({c.name: c for c in inferred.columns})
    kept = [by_name[c] for c in schema.names if c in applied.table.columns]
    return TableSchema(n_rows=schema.n_rows, columns=kept), replaced


def split_outputs(train: pd.DataFrame, holdout: pd.DataFrame, applied: Applied,
                  replaced: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and holdout as prepare wrote them, less dropped columns, with changed columns from `replaced`
    (train rows first, as they were concatenated), so untouched columns stay byte for byte."""
    n_train = len(train)
    out_train, out_holdout = train.copy(), holdout.copy()
    for name, r in applied.results.items():
        if r.dropped:
            out_train, out_holdout = out_train.drop(columns=[name]), out_holdout.drop(columns=[name])
    for name in replaced.columns:
        out_train[name] = replaced[name].iloc[:n_train].reset_index(drop=True)
        out_holdout[name] = replaced[name].iloc[n_train:].reset_index(drop=True)
    return out_train, out_holdout


def _copy_unchanged(store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    """spec.pii.enabled false: prepare's tables and schema copied byte for byte, and a report that says so."""
    for name in _COPIED:
        store.write_bytes(f"pii/{name}", store.read_bytes(f"prepare/{name}"))
    note = "spec.pii.enabled is false: prepare's tables and schema were copied to pii/ unchanged"
    store.write_json("pii/report.json", {"version": 1, "enabled": False, "note": note})
    progress.note(note)
    return {"enabled": False, "note": note}


def _write_vault(spec: SafeSynthJobSpec, vault_uri: str, tokens: pd.DataFrame) -> None:
    """The token → original table, to spec.pii.vaultUri only (never under the run)."""
    parent, key = split_uri(vault_uri)
    art = spec.artifacts
    open_store(parent, endpoint_url=art.endpoint, region=art.region, path_style=art.path_style).write_table(key, tokens)
