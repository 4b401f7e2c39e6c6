"""`safesynth evaluate --real A --synthetic B [--holdout C] [--out DIR]`: score any two tables.

The same metrics, report and audit as the evaluate stage, for tables made by
any tool. Without `--holdout` the privacy attacks and ML utility cannot run
(they need rows the generator never saw); the report says so. Column kinds
are inferred from the real table.

cli.py mounts `evaluate_command` as `safesynth evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

if TYPE_CHECKING:
    import pandas as pd


def read_table(path: Path) -> pd.DataFrame:
    """CSV, Parquet or JSONL by extension, through the prepare stage's loader (the same parsing rules)."""
    from safesynth.errors import BadInputError
    from safesynth.tables import load_table

    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    table: pd.DataFrame = load_table(path.read_bytes(), source=str(path), fmt="auto")
    return table


def infer_table_kinds(df: pd.DataFrame) -> dict[str, Any]:
    """Kinds from the prepare stage's schema inference, else (when it fails on this table) the metrics' own."""
    from safesynth.metrics.columns import infer_kinds, kinds_from_schema
    from safesynth.schema import infer_schema

    try:
        return kinds_from_schema(infer_schema(df).to_json_dict())
    except Exception:  # any failure of the pipeline's inference: fall back to the metrics' own
        return infer_kinds(df)


def evaluate_command(
    real: Path = typer.Option(..., "--real", help="The table the generator learned from (CSV, Parquet, JSONL)."),
    synthetic: Path = typer.Option(..., "--synthetic", help="The synthetic table to score."),
    holdout: Optional[Path] = typer.Option(
        None, "--holdout", help="Real rows the generator never saw: enables privacy attacks and ML utility."
    ),
    out: Path = typer.Option(Path("evaluation"), "--out", help="Folder for report.html, metrics.json, audit.json."),
    target: Optional[str] = typer.Option(None, "--target", help="Column for the ML-utility test (default: auto)."),
    quasi_identifier: Optional[List[str]] = typer.Option(
        None, "--quasi-identifier", help="Column an attacker knows (repeatable; default: all others)."
    ),
    sensitive: Optional[List[str]] = typer.Option(
        None, "--sensitive", help="Column the attribute-inference attack targets (repeatable; default: auto)."
    ),
    max_rows: int = typer.Option(5000, "--max-rows", min=100, help="Rows sampled for quadratic statistics."),
    seed: int = typer.Option(42, "--seed", min=0, help="Seed for every sample and attack split."),
) -> None:
    """Score a synthetic table against a real one: quality, privacy, an offline HTML report."""
    from rich.console import Console

    from safesynth.audit import build_audit
    from safesynth.errors import BadInputError
    from safesynth.metrics.context import EvalOptions
    from safesynth.metrics.evaluation import evaluate
    from safesynth.progress import RichProgress
    from safesynth.report import render_report
    from safesynth.store import LocalStore

    console = Console(stderr=True)
    real_df, syn_df = read_table(real), read_table(synthetic)
    hold_df = read_table(holdout) if holdout is not None else None
    names = {str(c) for c in real_df.columns}
    for flag, cols in (("--target", [target] if target else []), ("--quasi-identifier", quasi_identifier or []),
                       ("--sensitive", sensitive or [])):
        missing = [c for c in cols if c not in names]
        if missing:
            raise BadInputError(f"{flag}: {', '.join(map(repr, missing))} not a column of {real}")
    options = EvalOptions(max_rows=max_rows, seed=seed, target=target,
                          quasi_identifiers=tuple(quasi_identifier or ()), sensitive_columns=tuple(sensitive or ()))
    evaluation = evaluate(real_df, syn_df, hold_df, kinds=infer_table_kinds(real_df), options=options,
                          progress=RichProgress(console))
    sources = {"real": str(real), "synthetic": str(synthetic), **({"holdout": str(holdout)} if holdout else {})}
    audit = build_audit(evaluation=evaluation, inputs=sources)
    store = LocalStore(out)
    store.write_json("metrics.json", evaluation.to_json())
    store.write_json("audit.json", audit)
    store.write_text("report.html", render_report(evaluation, audit, title="Synthetic data report", sources=sources))
    s = evaluation.summary()
    typer.echo(f"SQS {s['sqs']} ({s['sqsGrade']})  DPS {s['dps']} ({s['dpsGrade']})")
    typer.echo(f"report: {Path(out, 'report.html').resolve()}")
