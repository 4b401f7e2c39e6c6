"""`safesynth validate JOB.yaml [--data FILE]`: check manifests offline, for GitOps CI and before a run.

Without `--data` it checks what the API server would: field types, bounds,
unknown fields, CEL rules and the kind's spelling. With `--data` it also reads
the table (a path, file:// or s3:// URI) and checks every column the spec
names against the table's header (`safesynth.spec.references`), the same check
prepare makes before anything is learned. Exit 2 lists every problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from safesynth.errors import SafeSynthError, SpecError
from safesynth.spec.models import SafeSynthJob


def table_columns(uri: str, job: SafeSynthJob) -> list[str]:
    """The column names of the table at `uri`, read as prepare reads spec.data.uri (format and S3 settings)."""
    from safesynth.store import read_uri_bytes
    from safesynth.tables import load_table

    art = job.spec.artifacts
    raw = read_uri_bytes(uri, endpoint_url=art.endpoint, region=art.region, path_style=art.path_style,
                         field="--data")
    return [str(c) for c in load_table(raw, source=uri, fmt=job.spec.data.format.value).columns]


def reference_errors(job: SafeSynthJob, source: str, data: str) -> list[str]:
    """Every unknown column the job names, as 'field.path: ...' lines (empty when all are in the table)."""
    from safesynth.spec.references import reference_problems

    return reference_problems(job.spec, table_columns(data, job))


def validate_command(
    manifests: List[Path] = typer.Argument(..., help="Manifest files; other kinds in them are skipped."),
    data: Optional[str] = typer.Option(
        None, "--data", help="A table (path, file:// or s3:// URI) to check the spec's column names against; "
        "defaults to nothing (no table is read).",
    ),
) -> None:
    """Check SafeSynthJob manifests offline against the spec (for GitOps CI). Exit 2 lists every problem."""
    from safesynth.spec import load_jobs

    out, err = Console(), Console(stderr=True)
    failed = False
    for path in manifests:
        try:
            jobs = load_jobs(path)
            for job in jobs if data else []:
                problems = reference_errors(job, str(path), data or "")
                if problems:
                    raise SpecError(f"{path}: {job.metadata.name} names columns that {data} does not have "
                                    f"({len(problems)} problem(s))", problems)
        except SafeSynthError as exc:
            failed = True
            err.print(f"FAIL {exc}", highlight=False, markup=False, soft_wrap=True)
            continue
        names = ", ".join(j.metadata.name for j in jobs) or "no SafeSynthJob"
        out.print(f"ok   {path}: {names}", highlight=False, markup=False, soft_wrap=True)
    if failed:
        raise SpecError("some manifests are invalid (listed above)")
