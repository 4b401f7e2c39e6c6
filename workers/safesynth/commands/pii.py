"""`safesynth pii plan DATA [--spec JOB.yaml]`: preview what the PII stage would do, changing nothing.

Loads the table as `prepare` does (same loader, same column kinds), classifies
a sample of every column and prints the per-column plan: kind, detected
entity, confidence, the signals that fired, the action and why. Nothing is
written and no key is needed. With --spec the job's pii section applies
(rules, locks, thresholds, entities); DATA may be a path, file:// or s3:// URI.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from safesynth.pii.plan import ColumnPlan, Plan

app = typer.Typer(name="pii", help="Find PII in a table and preview how it would be replaced.",
                  no_args_is_help=True, add_completion=False)


def load_plan(data: str, spec_path: Optional[Path], *, ner: bool = True) -> Plan:
    """The plan for `data` under the spec's pii section (defaults without a spec)."""
    from safesynth.pii.classify import classify_table
    from safesynth.pii.ner import LazyEngine
    from safesynth.pii.plan import build_plan
    from safesynth.schema import coerce_to_schema, infer_schema
    from safesynth.spec import load_spec_file
    from safesynth.spec.models import ArtifactsSpec, PiiSpec
    from safesynth.store import read_uri_bytes
    from safesynth.tables import load_table

    spec = load_spec_file(spec_path) if spec_path is not None else None
    pii = spec.pii if spec is not None else PiiSpec()
    art = spec.artifacts if spec is not None else ArtifactsSpec()
    seed = spec.data.seed if spec is not None else 42
    raw = read_uri_bytes(data, endpoint_url=art.endpoint, region=art.region, path_style=art.path_style, field="DATA")
    df = load_table(raw, source=data, fmt=spec.data.format.value if spec is not None else "auto")
    schema = infer_schema(df)
    df = coerce_to_schema(df, schema)
    evidence = classify_table(df, schema, pii, ner=LazyEngine() if ner else None, seed=seed, today=date.today())
    return build_plan(schema, evidence, pii)


def _signals(col: ColumnPlan) -> str:
    """The detection signals behind a column's decision, with their scores (negative ones signed)."""
    parts = [f"{s.source}:{s.entity.value}={s.score:+.2f}" if s.score < 0 else f"{s.source}:{s.entity.value}={s.score:.2f}"
             for s in col.signals]
    if col.span_rates:
        parts.append("spans " + ", ".join(f"{e.value} {r:.0%}" for e, r in col.span_rates.items()))
    return "; ".join(parts)


def _action(col: ColumnPlan) -> str:
    """What the plan does to the column, as the table shows it."""
    if col.mode == "none":
        return "keep"
    return f"spans: {col.action.value}" if col.mode == "freeText" else col.action.value


@app.command("plan")
def plan_cmd(
    data: str = typer.Argument(..., help="The table: a path, file:// or s3:// URI (CSV, Parquet or JSONL)."),
    spec: Optional[Path] = typer.Option(None, "--spec", help="A SafeSynthJob manifest (or its spec) whose pii "
                                        "section applies: rules, locked columns, thresholds, entities."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON instead of a table."),
    ner: bool = typer.Option(True, "--ner/--no-ner", help="Use the NER model (slower to start, finds names "
                             "without telling column names)."),
) -> None:
    """Print the per-column PII plan for DATA without changing anything."""
    plan = load_plan(data, spec, ner=ner)
    console = Console()
    if as_json:
        console.print_json(json.dumps({"columns": [c.as_dict() for c in plan]}))
        return
    table = Table(title=f"PII plan for {data}", show_lines=False)
    for name in ("column", "kind", "entity", "confidence", "action", "reason", "signals"):
        table.add_column(name, overflow="fold")
    for c in plan:
        style = "bold" if c.changes else "dim"
        table.add_row(c.column, c.kind.value, c.entity.value if c.entity else "", f"{c.confidence:.2f}",
                      _action(c), c.reason, _signals(c), style=style)
    console.print(table)
    acting = len(plan.acting)
    console.print(f"{acting} of {len(plan.columns)} columns would change; nothing was written.")
