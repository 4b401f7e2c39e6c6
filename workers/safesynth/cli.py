"""The `safesynth` command: a thin shell over the driver, the stages and the spec.

Exit codes follow safesynth.contract (raised as safesynth.errors): 0 done, 2 bad
input or config (never retried), 3 privacy budget impossible, anything else
retryable. Unexpected exceptions print their type only (their text could hold
data values) unless SAFESYNTH_DEBUG=1.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

import safesynth
from safesynth.contract import DEBUG_ENV, EXIT_BAD_INPUT, TERMINATION_ENV
from safesynth.errors import SafeSynthError

app = typer.Typer(
    name="safesynth",
    help="Private synthetic tables: find and replace PII, train a generator (optionally with DP), "
    "generate, and score quality and privacy. One SafeSynthJob manifest runs here or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
# soft_wrap: an error names files and field paths; a hard wrap at 80 columns would cut a path in two.
err_console = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"safesynth {safesynth.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more (never data values)."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def run(
    manifest: Path = typer.Argument(..., help="SafeSynthJob manifest (YAML or JSON), the file kubectl apply takes."),
    run_uri: Optional[str] = typer.Option(
        None, "--run-uri", help="Where artifacts go (s3://bucket/prefix or a folder). "
        "Default: <spec.artifacts.uri>/<name>, or ./safesynth-runs/<name>."
    ),
    force: bool = typer.Option(False, "--force", help="Re-run stages even when finished for this spec."),
    stage: Optional[List[str]] = typer.Option(None, "--stage", help="Run only this stage (repeatable)."),
) -> None:
    """Run every stage of a job on this machine, resuming where a previous run stopped."""
    from safesynth.driver import column_warnings, run_job
    from safesynth.progress import RichProgress
    from safesynth.spec import load_job
    from safesynth.spec.models import StageName
    from safesynth.stages import get_stage

    job = load_job(manifest)
    only = [StageName(get_stage(s).NAME) for s in stage] if stage else None
    status = run_job(job, run_uri, progress=RichProgress(err_console), force=force, only=only)
    table = Table(title=f"SafeSynthJob {job.metadata.name}: {status.phase.value}")
    for col in ("stage", "phase", "seconds", "why it ran"):
        table.add_column(col)
    for s in status.stages:
        summary = s.summary or {}
        secs = summary.get("durationSeconds")
        why = "" if s.phase.value == "Skipped" else str(summary.get("ranBecause") or "")  # a skip's is stale
        table.add_row(s.name, s.phase.value, "" if secs is None else f"{secs:.1f}", why)
    out.print(table)
    out.print(f"artifacts: {status.artifacts.run_uri}")
    for label, value in (("synthetic table", status.artifacts.synthetic_table), ("report", status.artifacts.report)):
        if value:
            out.print(f"{label}: {value}")
    h = status.headline
    if h.sqs is not None or h.dps is not None:
        out.print(f"SQS {h.sqs}  DPS {h.dps}")
    for line in column_warnings(status):  # prepare's typing fallbacks: what may not be what the user expects
        out.print(f"warning: {line}", highlight=False, markup=False)


@app.command("stage")
def stage_cmd(
    name: str = typer.Argument(..., help="prepare, pii, train, generate or evaluate."),
    spec: Path = typer.Option(..., "--spec", help="A SafeSynthJob manifest or just its spec, YAML or JSON."),
    run_uri: str = typer.Option(..., "--run-uri", help="The run's artifact root (s3://bucket/prefix or a folder)."),
    force: bool = typer.Option(False, "--force", help="Run even when finished for this spec."),
    shard: Optional[str] = typer.Option(
        None, "--shard", metavar="INDEX/COUNT",
        help="Run one shard of a sharded stage (generate with spec.generation.shards > 1), e.g. 0/4; an "
        "Indexed Job's pod passes $(JOB_COMPLETION_INDEX)/COUNT. Without it the stage merges its finished shards.",
    ),
) -> None:
    """Run one stage, as a Kubernetes Job's pod does. Writes its summary to the termination log."""
    from safesynth.driver import open_run_store
    from safesynth.progress import LogProgress
    from safesynth.spec import load_spec_file
    from safesynth.stages import get_stage
    from safesynth.stages.runner import error_summary, execute_shard, execute_stage, termination_message

    module = get_stage(name)
    try:
        job_spec = load_spec_file(spec)
        store = open_run_store(job_spec, run_uri)
        if shard is not None:
            index, count = parse_shard(shard)
            outcome = execute_shard(module, job_spec, store, LogProgress(), index, count, force=force)
        else:
            outcome = execute_stage(module, job_spec, store, LogProgress(), force=force)
    except BaseException as exc:
        _write_termination(termination_message(error_summary(module.NAME, exc)))
        raise
    summary = {**outcome.summary, "skipped": outcome.skipped}
    _write_termination(termination_message(summary))
    out.print_json(json.dumps(summary, default=str))


def parse_shard(text: str) -> tuple[int, int]:
    """`INDEX/COUNT` (0 <= INDEX < COUNT) as two ints; BadInputError (exit 2) naming the option otherwise."""
    from safesynth.errors import BadInputError

    index, sep, count = text.partition("/")
    if sep and index.strip().isdigit() and count.strip().isdigit() and int(index) < int(count):
        return int(index), int(count)
    raise BadInputError(f"--shard {text!r}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/2")


def _write_termination(text: str) -> None:
    """The pod's termination message (Kubernetes shows it in the Job's status), when the env names a file."""
    path = os.environ.get(TERMINATION_ENV)
    if path:
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:  # the message is a courtesy; never fail the stage for it
            logging.getLogger("safesynth").warning("could not write termination message: %s", type(exc).__name__)


@app.command()
def crd() -> None:
    """Print the SafeSynthJob CustomResourceDefinition generated from the spec models."""
    from safesynth.spec.crd import render_crd

    sys.stdout.write(render_crd())


def _mount_command_groups() -> None:
    from safesynth.commands.clean import clean_command
    from safesynth.commands.evaluate import evaluate_command
    from safesynth.commands.jobs import app as jobs_app, serve_command
    from safesynth.commands.pii import app as pii_app
    from safesynth.commands.validate import validate_command

    app.add_typer(pii_app, name="pii", help="Preview PII detection: `safesynth pii plan DATA`.")
    app.command("validate")(validate_command)
    app.command("evaluate")(evaluate_command)
    app.command("clean")(clean_command)
    app.command("serve")(serve_command)
    app.add_typer(jobs_app, name="jobs", help="Talk to the jobs API: submit, list, status, logs, results, cancel.")


_mount_command_groups()


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: maps errors to exit codes.

    The parser's errors (unknown command, missing or bad option, bare `safesynth`)
    are typer's own exception types: typer >= 0.26 vendors click, so the separate
    click package's types never match them (pyproject pins the typer series).
    They print the parser's message and exit 2, like any other bad input.
    """
    try:
        code = app(args=argv, prog_name="safesynth", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except TyperException as exc:
        show_usage_error(exc)
        sys.exit(EXIT_BAD_INPUT)
    except SafeSynthError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # last line of defence: the type and place only, never the message
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        else:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            err_console.print(
                f"error: unexpected {type(exc).__name__} at {Path(where.filename).name}:{where.lineno} "
                f"(message hidden: it may contain data values; set {DEBUG_ENV}=1 to see it)",
                highlight=False, markup=False,
            )
        sys.exit(1)
    if isinstance(code, int) and code:  # in non-standalone mode a `typer.Exit(n)` comes back as its code
        sys.exit(code)


def show_usage_error(exc: TyperException) -> None:
    """The parser's message on stderr: usage line, help hint and error, as typer prints it standalone.

    Bare `safesynth` has already printed its help (no_args_is_help), so nothing more is said then.
    """
    if type(exc).__name__ == "NoArgsIsHelpError":  # typer's own test, without importing its private module
        return
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        err_console.print(f"Error: {exc.format_message()}", highlight=False, markup=False)


if __name__ == "__main__":
    main()
