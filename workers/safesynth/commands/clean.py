"""`safesynth clean --spec FILE --run-uri URI`: remove one run's artifacts.

The operator runs this in a cleanup Job when a SafeSynthJob with
`spec.artifacts.deleteOnRemoval: true` is deleted (the operator itself has no
S3 client and never sees the credentials). Users run it by hand to drop a
local or S3 run.

Deleting is the one irreversible thing safesynth does, so the decision is a
pure function with two guards: never a bucket or filesystem root, and never a
prefix that holds anything but a safesynth run (stage folders and
status.json). A typo in `--run-uri` then fails with exit 2 and deletes
nothing, instead of emptying somebody's bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from safesynth.contract import STATUS_KEY
from safesynth.errors import BadInputError


def run_entries() -> frozenset[str]:
    """Top-level names a run folder may hold: one folder per stage, and status.json."""
    from safesynth.spec.models import STAGE_ORDER

    return frozenset({s.value for s in STAGE_ORDER} | {STATUS_KEY})


@dataclass(frozen=True)
class CleanPlan:
    """What `clean` would delete, or why it refuses to."""

    keys: tuple[str, ...]
    foreign: tuple[str, ...]  # top-level names that are not part of a run

    @property
    def safe(self) -> bool:
        return not self.foreign


def plan_clean(keys: list[str]) -> CleanPlan:
    """Every key goes when all of them sit under a stage folder or are status.json; else nothing does."""
    allowed = run_entries()
    foreign = sorted({k.split("/", 1)[0] for k in keys} - allowed)
    return CleanPlan(keys=tuple(keys), foreign=tuple(foreign))


def _is_root(uri: str) -> bool:
    """A bucket (s3://b, s3://b/) or a filesystem root or home folder is never a run."""
    if uri.startswith("s3://"):
        _bucket, _, prefix = uri[len("s3://"):].partition("/")
        return not prefix.strip("/")
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    resolved = Path(path).expanduser().absolute()
    return resolved in (Path(resolved.anchor), Path.home())


def clean_command(
    spec: Path = typer.Option(..., "--spec", help="The SafeSynthJob manifest or spec (for the S3 endpoint and region)."),
    run_uri: str = typer.Option(..., "--run-uri", help="The run to remove (s3://bucket/prefix/<name> or a folder)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed; remove nothing."),
) -> None:
    """Remove a run's artifacts. Refuses a bucket or filesystem root, and any prefix holding other files."""
    from rich.console import Console

    from safesynth.driver import open_run_store
    from safesynth.spec import load_spec_file

    console = Console()
    job_spec = load_spec_file(spec)
    if _is_root(run_uri):
        raise BadInputError(f"--run-uri {run_uri!r} is a bucket or filesystem root, not a run; "
                            "name the run's own prefix (…/<job name>)")
    store = open_run_store(job_spec, run_uri)
    plan = plan_clean(store.list(""))
    if not plan.safe:
        shown = ", ".join(plan.foreign[:5]) + (" …" if len(plan.foreign) > 5 else "")
        raise BadInputError(f"{run_uri} holds entries that are not part of a safesynth run ({shown}); "
                            "nothing was deleted. Check --run-uri, or remove the prefix by hand")
    if dry_run:
        console.print(f"would remove {len(plan.keys)} artifact(s) under {run_uri}", highlight=False)
        return
    store.delete_prefix("")
    console.print(f"removed {len(plan.keys)} artifact(s) under {run_uri}", highlight=False)
