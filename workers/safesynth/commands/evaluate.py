"""`safesynth evaluate --real A --synthetic B [--holdout C] [--out DIR]`: score any two tables.

The same metrics, report and audit as the evaluate stage, for tables made by
any tool. Without `--holdout` the privacy attacks and ML utility cannot run
(they need rows the generator never saw); the report says so. Column kinds
are inferred from the real table. `--group-by KEY [--order-by TIME]` says the
rows are grouped records, as spec.data.groupBy/orderBy: the keys are scored as
identifiers and the sequence metrics run, as in the evaluate stage.

cli.py mounts `evaluate_command` as `safesynth evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Sequence, Union

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


#: spec.data's grouping fields and the command's options for them: errors name what the caller typed.
GROUP_OPTIONS: Mapping[str, str] = {"groupBy": "--group-by", "orderBy": "--order-by"}
MAX_LISTED_COLUMNS = 40  # an error lists at most this many of a table's columns


def check_grouping(group_by: Optional[Sequence[str]], order_by: Optional[str],
                   names: Mapping[str, str] = GROUP_OPTIONS) -> tuple[tuple[str, ...], Optional[str]]:
    """`group_by`/`order_by` checked by spec.data.groupBy/orderBy's own rules (the DataSpec model's field
    constraints and its CEL rules: at most MAX_GROUP_KEYS keys, non-empty names, orderBy needs groupBy);
    BadInputError (exit 2) naming `names[field]` for each problem, before any table is read."""
    import re

    from pydantic import ValidationError

    from safesynth.errors import BadInputError
    from safesynth.spec.models import DataSpec, iter_cel_rules
    from safesynth.spec.rules import evaluate_rule

    keys = [group_by] if isinstance(group_by, str) else list(group_by or [])

    def named(text: str) -> str:  # the spec's field names in a message -> the caller's option names
        return re.sub(r"\b(" + "|".join(map(re.escape, names)) + r")\b", lambda m: names[m.group(1)], text)

    doc: dict[str, Any] = {"uri": "-", "groupBy": keys, **({"orderBy": order_by} if order_by is not None else {})}
    try:
        data = DataSpec.model_validate(doc)
    except ValidationError as err:
        problems = [f"{names.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}"
                    for e in err.errors(include_input=False, include_url=False)]
        raise BadInputError("; ".join(problems)) from None
    wire = data.model_dump(by_alias=True, exclude_none=True, mode="json")
    problems = []
    for rule in iter_cel_rules(DataSpec):
        field = (rule.field_path or "").lstrip(".")
        if field in names and not evaluate_rule(rule.rule, wire):
            message = named(rule.message)
            problems.append(message if message.startswith(names[field]) else f"{names[field]}: {message}")
    if problems:
        raise BadInputError("; ".join(problems))
    return tuple(data.group_by), data.order_by


def check_option_columns(options: Sequence[tuple[str, Sequence[str]]],
                         tables: Sequence[tuple[Union[str, Path], Optional[pd.DataFrame]]]) -> None:
    """Every column an option names is a column of every table, else BadInputError (exit 2) naming the
    option, the table (its path, or a name), the missing column(s) and the table's columns."""
    from safesynth.errors import BadInputError

    for label, df in tables:
        if df is None:
            continue
        have = [str(c) for c in df.columns]
        known = set(have)
        problems = []
        for flag, cols in options:
            missing = [c for c in cols if c not in known]
            if missing:
                problems.append(f"{flag}: {', '.join(map(repr, missing))} not a column of {label}")
        if problems:
            listed = ", ".join(map(repr, have[:MAX_LISTED_COLUMNS]))
            more = f" and {len(have) - MAX_LISTED_COLUMNS} more" if len(have) > MAX_LISTED_COLUMNS else ""
            raise BadInputError("; ".join(problems) + f"; its columns: {listed}{more}")


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
    group_by: Optional[List[str]] = typer.Option(
        None, "--group-by", help="Entity-key column, as spec.data.groupBy: rows sharing its value are one entity "
        "(a patient, a customer). Adds the sequence metrics; the keys are not compared as values "
        "(repeatable for a composite key)."
    ),
    order_by: Optional[str] = typer.Option(
        None, "--order-by", help="Column that orders an entity's rows (a date or a number), as spec.data.orderBy; "
        "needs --group-by. Default: the rows' order in the file."
    ),
) -> None:
    """Score a synthetic table against a real one: quality, privacy, an offline HTML report.

    The same release gates as a job's evaluate stage (defaults of spec.evaluation.gates): a failed gate
    exits 4 (GateNotMet) after writing the report, exactly as the stage does.

    With --group-by (and --order-by) the rows are grouped records: the sequence metrics run (spec.data.groupBy).
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
    if gate and no_gates:
        raise BadInputError("--gate and --no-gates: give one or the other")
    keys, order = check_grouping(group_by, order_by)
    real_df, syn_df = read_table(real), read_table(synthetic)
    hold_df = read_table(holdout) if holdout is not None else None
    try:
        gates = parse_overrides(list(gate or []))
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if no_gates:
        gates = gates.model_copy(update={"enabled": False})
    # Grouping columns first in every table: their errors name the option, not just "the columns differ".
    check_option_columns([("--group-by", keys), ("--order-by", [order] if order else [])],
                         [(real, real_df), (synthetic, syn_df), (holdout or "", hold_df)])
    check_column_sets(real_df, syn_df, "synthetic")
    if hold_df is not None:
        check_column_sets(real_df, hold_df, "holdout")
    check_option_columns([("--target", [target] if target else []), ("--quasi-identifier", quasi_identifier or []),
                          ("--sensitive", sensitive or [])], [(real, real_df)])
    options = EvalOptions(max_rows=max_rows, seed=seed, target=target,
                          quasi_identifiers=tuple(quasi_identifier or ()), sensitive_columns=tuple(sensitive or ()),
                          group_by=keys, order_by=order)
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
