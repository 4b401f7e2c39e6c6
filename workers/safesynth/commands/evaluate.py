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


def typed_tables(real: pd.DataFrame, *others: Optional[pd.DataFrame]) -> tuple[dict[str, Any], list[Any]]:
    """The real table's kinds by prepare's rules, and every table parsed with that one schema.

    "12,345", "?" or "04/03/2021" in the synthetic file are read exactly as
    in the real one, as the pipeline's own stages read them.
    """
    from safesynth.metrics.columns import kinds_from_schema
    from safesynth.schema import coerce_to_schema, infer_schema
    from safesynth.tables import DELIMITER_ATTR

    schema = infer_schema(real, delimiter=real.attrs.get(DELIMITER_ATTR))
    known = set(schema.names)
    tables = [None if df is None else coerce_to_schema(df[[c for c in df.columns if c in known]], schema)
              for df in (real, *others)]
    return kinds_from_schema(schema.to_json_dict()), tables


def infer_table_kinds(df: pd.DataFrame) -> dict[str, Any]:
    """Kinds by prepare's rules (`typed_tables` also parses the tables with them)."""
    return typed_tables(df)[0]


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
    gate: Optional[List[str]] = typer.Option(
        None, "--gate", help="Override a release gate, NAME=VALUE with the spec's names (spec.evaluation.gates), "
        "e.g. minDetection=5 or maxPiiReplay=off (repeatable). Unset: the spec's defaults."
    ),
    no_gates: bool = typer.Option(False, "--no-gates", help="Report the scores only; exit 0 whatever they are."),
) -> None:
    """Score a synthetic table against a real one: quality, privacy, an offline HTML report.

    The same release gates as a job's evaluate stage (defaults of spec.evaluation.gates): a failed gate
    exits 4 (GateNotMet) after writing the report, exactly as the stage does.
    """
    from rich.console import Console

    from safesynth.audit import build_audit
    from safesynth.errors import BadInputError
    from safesynth.metrics.context import EvalOptions
    from safesynth.errors import GateNotMetError
    from safesynth.metrics.evaluation import check_column_sets, evaluate
    from safesynth.metrics.gates import parse_overrides
    from safesynth.progress import RichProgress
    from safesynth.report import render_report
    from safesynth.store import LocalStore

    console = Console(stderr=True)
    real_df, syn_df = read_table(real), read_table(synthetic)
    hold_df = read_table(holdout) if holdout is not None else None
    if gate and no_gates:
        raise BadInputError("--gate and --no-gates: give one or the other")
    try:
        gates = parse_overrides(list(gate or []))
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if no_gates:
        gates = gates.model_copy(update={"enabled": False})
    check_column_sets(real_df, syn_df, "synthetic")
    if hold_df is not None:
        check_column_sets(real_df, hold_df, "holdout")
    names = {str(c) for c in real_df.columns}
    for flag, cols in (("--target", [target] if target else []), ("--quasi-identifier", quasi_identifier or []),
                       ("--sensitive", sensitive or [])):
        missing = [c for c in cols if c not in names]
        if missing:
            raise BadInputError(f"{flag}: {', '.join(map(repr, missing))} not a column of {real}")
    options = EvalOptions(max_rows=max_rows, seed=seed, target=target,
                          quasi_identifiers=tuple(quasi_identifier or ()), sensitive_columns=tuple(sensitive or ()))
    kinds, (real_df, syn_df, hold_df) = typed_tables(real_df, syn_df, hold_df)
    evaluation = evaluate(real_df, syn_df, hold_df, kinds=kinds, options=options,
                          progress=RichProgress(console))
    sources = {"real": str(real), "synthetic": str(synthetic), **({"holdout": str(holdout)} if holdout else {})}
    audit = build_audit(evaluation=evaluation, inputs=sources)
    evaluation.apply_gates(gates)  # HIPAA Safe Harbor needs the PII stage: not shown here, so that gate fails if asked
    audit["release"] = evaluation.release
    store = LocalStore(out)
    store.write_json("metrics.json", evaluation.to_json())
    store.write_json("audit.json", audit)
    store.write_text("report.html", render_report(evaluation, audit, title="Synthetic data report", sources=sources))
    s = evaluation.summary()
    typer.echo(f"SQS {_headline(s, 'sqs')}  DPS {_headline(s, 'dps')}  detection {_na(s['detection'])}  "
               f"utility ratio {_na(s['utilityRatio'])}")
    typer.echo(f"report: {Path(out, 'report.html').resolve()}")
    for g in s.get("gates", []):
        mark = {True: "pass", False: "FAIL", None: "n/a "}[g["passed"]]
        typer.echo(f"  [{mark}] {g['name']}: {g['reason']}")
    typer.echo(s.get("verdict", ""))
    if s.get("released") is False:
        raise GateNotMetError("release gates not met: " + ", ".join(s["failedGates"]) + f"; see {out}/report.html",
                              s)


def _na(x: Any) -> str:
    return "n/a" if x is None else str(x)


def _headline(s: dict[str, Any], key: str) -> str:
    """'8.61 (Excellent)', or 'n/a (why)' when the composite has no value."""
    if s[key] is None:
        return f"n/a ({s[f'{key}Reason']})"
    return f"{s[key]} ({s[f'{key}Grade']})"
