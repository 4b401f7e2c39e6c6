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

import click
import typer
from rich.console import Console
from rich.table import Table

import safesynth
from safesynth.contract import DEBUG_ENV, TERMINATION_ENV
from safesynth.errors import SafeSynthError, SpecError

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
err_console = Console(stderr=True)


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
    from safesynth.driver import run_job
    from safesynth.progress import RichProgress
    from safesynth.spec import load_job
    from safesynth.spec.models import StageName
    from safesynth.stages import get_stage

    job = load_job(manifest)
    only = [StageName(get_stage(s).NAME) for s in stage] if stage else None
    status = run_job(job, run_uri, progress=RichProgress(err_console), force=force, only=only)
    table = Table(title=f"SafeSynthJob {job.metadata.name}: {status.phase.value}")
    for col in ("stage", "phase", "seconds"):
        table.add_column(col)
    for s in status.stages:
        secs = (s.summary or {}).get("durationSeconds")
        table.add_row(s.name, s.phase.value, "" if secs is None else f"{secs:.1f}")
    out.print(table)
    out.print(f"artifacts: {status.artifacts.run_uri}")
    for label, value in (("synthetic table", status.artifacts.synthetic_table), ("report", status.artifacts.report)):
        if value:
            out.print(f"{label}: {value}")
    h = status.headline
    if h.sqs is not None or h.dps is not None:
        out.print(f"SQS {h.sqs}  DPS {h.dps}")


@app.command("stage")
def stage_cmd(
    name: str = typer.Argument(..., help="prepare, pii, train, generate or evaluate."),
    spec: Path = typer.Option(..., "--spec", help="A SafeSynthJob manifest or just its spec, YAML or JSON."),
    run_uri: str = typer.Option(..., "--run-uri", help="The run's artifact root (s3://bucket/prefix or a folder)."),
    force: bool = typer.Option(False, "--force", help="Run even when finished for this spec."),
) -> None:
    """Run one stage, as a Kubernetes Job's pod does. Writes its summary to the termination log."""
    from safesynth.driver import open_run_store
    from safesynth.progress import LogProgress
    from safesynth.spec import load_spec_file
    from safesynth.stages import get_stage
    from safesynth.stages.runner import error_summary, execute_stage, termination_message

    module = get_stage(name)
    try:
        job_spec = load_spec_file(spec)
        store = open_run_store(job_spec, run_uri)
        outcome = execute_stage(module, job_spec, store, LogProgress(), force=force)
    except BaseException as exc:
        _write_termination(termination_message(error_summary(module.NAME, exc)))
        raise
    summary = {**outcome.summary, "skipped": outcome.skipped}
    _write_termination(termination_message(summary))
    out.print_json(json.dumps(summary, default=str))


def _write_termination(text: str) -> None:
    """The pod's termination message (Kubernetes shows it in the Job's status), when the env names a file."""
    path = os.environ.get(TERMINATION_ENV)
    if path:
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:  # the message is a courtesy; never fail the stage for it
            logging.getLogger("safesynth").warning("could not write termination message: %s", type(exc).__name__)


@app.command()
def validate(
    manifests: List[Path] = typer.Argument(..., help="Manifest files; other kinds in them are skipped."),
) -> None:
    """Check SafeSynthJob manifests offline against the spec (for GitOps CI). Exit 2 lists every problem."""
    from safesynth.spec import load_jobs

    failed = False
    for path in manifests:
        try:
            jobs = load_jobs(path)
        except SafeSynthError as exc:
            failed = True
            err_console.print(f"FAIL {exc}", highlight=False, markup=False)
            continue
        names = ", ".join(j.metadata.name for j in jobs) or "no SafeSynthJob"
        out.print(f"ok   {path}: {names}", highlight=False, markup=False)
    if failed:
        raise SpecError("some manifests are invalid (listed above)")


@app.command()
def crd() -> None:
    """Print the SafeSynthJob CustomResourceDefinition generated from the spec models."""
    from safesynth.spec.crd import render_crd

    sys.stdout.write(render_crd())


def _mount_command_groups() -> None:
    from safesynth.commands.clean import clean_command
    from safesynth.commands.evaluate import evaluate_command
    from safesynth.commands.pii import app as pii_app

    app.add_typer(pii_app, name="pii", help="Preview PII detection: `safesynth pii plan DATA`.")
    app.command("evaluate")(evaluate_command)
    app.command("clean")(clean_command)


_mount_command_groups()


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: maps errors to exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
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


if __name__ == "__main__":
    main()
