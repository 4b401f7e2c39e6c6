"""The local driver: `safesynth run JOB.yaml` runs every stage in one process.

It reads the same manifest `kubectl apply` takes, runs the registered stages in
order through the same contract the operator's pods use (so a re-run resumes at
the first unfinished stage), and keeps `status.json` at the run root in the
shape of the CR's `.status`, rewritten after every transition. Phase,
conditions and headline come from safesynth.spec.status_rules, the rules the
operator applies to the custom resource.

The status never lies (issue 19): any exception in a stage, or in the driver
itself, is recorded as `Failed` with a reason and a value-free message before it
propagates; a status write that fails is retried and then kept as a local marker
file that the next run reads before anything else; a stage that finished earlier
keeps its result when a re-run fails before touching that stage's artifacts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping, Optional

from safesynth.contract import EXIT_RETRYABLE, MESSAGE_MAX, PERMANENT_EXIT_CODES, STATUS_KEY, summary_key
from safesynth.errors import SafeSynthError
from safesynth.progress import Advance, LogProgress, Progress
from safesynth.shard_launch import FORK, fork_shards, launch_mode, oversubscribed
from safesynth.spec import status_rules as rules
from safesynth.spec.models import SafeSynthJob, SafeSynthJobSpec, StageName
from safesynth.spec.status import JobPhase, JobStatus, StagePhase, StageProgress, StageStatus, now_iso
from safesynth.stages import registry
from safesynth.stages.runner import (
    error_summary,
    execute_shard,
    execute_stage,
    pending_shards,
    shard_count,
    stage_is_current,
    stage_spec_hash,
)
from safesynth.store import ArtifactStore, open_store

LOCAL_RUNS = "./safesynth-runs"
STATUS_WRITE_ATTEMPTS = 3  # tries of one status.json write before the local marker is used
STATUS_WRITE_BACKOFF_SECONDS = 0.5  # doubled after each failed try: 0.5 s, 1 s
PROGRESS_PUBLISH_SECONDS = 10.0  # least time between status writes for progress alone (S3 PUTs cost)
log = logging.getLogger("safesynth")


def default_run_uri(job: SafeSynthJob) -> str:
    """`<artifacts.uri>/<name>` when the spec names a root, else ./safesynth-runs/<name>."""
    root = job.spec.artifacts.uri or LOCAL_RUNS
    return f"{root.rstrip('/')}/{job.metadata.name}"


def open_run_store(spec: SafeSynthJobSpec, run_uri: str) -> ArtifactStore:
    """The run's store, reached with the spec's S3 settings (the CLI's `stage` and `clean` use it too)."""
    a = spec.artifacts
    return open_store(run_uri, endpoint_url=a.endpoint, region=a.region, path_style=a.path_style)


def default_marker_dir() -> Path:
    """Where status markers go when status.json cannot be written: the user's cache, not the run's store
    (which is what just failed)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "safesynth" / "status"


class StatusMarker:
    """The fallback for a status.json that could not be written: one local file per run URI.

    Written only after the retries of a status write failed; read by the next run
    of the same run URI before anything else (it is newer than any status.json
    there) and removed once a status.json write succeeds again.
    """

    def __init__(self, folder: Path, run_uri: str) -> None:
        self.path = folder / (hashlib.sha256(run_uri.encode()).hexdigest()[:16] + ".json")
        self.run_uri = run_uri

    def write(self, status: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"runUri": self.run_uri, "status": status}))
        tmp.replace(self.path)

    def read(self) -> Optional[JobStatus]:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("runUri") != self.run_uri:
            return None
        try:
            return JobStatus.model_validate(saved.get("status") or {})
        except ValueError:
            return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _previous(store: Optional[ArtifactStore], marker: StatusMarker) -> Optional[JobStatus]:
    """The last recorded status of this run URI: the marker when there is one, else status.json."""
    found = marker.read()
    if found is not None or store is None:
        return found
    try:
        if store.exists(STATUS_KEY):
            return JobStatus.model_validate(store.read_json(STATUS_KEY))
    except Exception as err:  # broad on purpose: an unreadable old status must not stop a new run
        log.warning("previous %s unreadable (%s); starting a fresh status", STATUS_KEY, type(err).__name__)
    return None


def _carried(previous: Optional[JobStatus], name: StageName) -> StageStatus:
    """A stage's entry at the start of a run: its earlier result if it finished, else Pending.

    A Running or Failed entry of an earlier run is not true any more (that run is
    over and this one will try again), so only finished results carry over.
    """
    for entry in (previous.stages if previous else []):
        if entry.name == name.value and entry.phase in rules.DONE:
            return entry.model_copy(update={"progress": None, "pods": None})
    return StageStatus(name=name.value)


class _Publisher:
    """status.json writes with retries, then the marker; never raises (a status write must not replace
    the error that is being recorded)."""

    def __init__(self, store: Optional[ArtifactStore], marker: StatusMarker,
                 on_status: Optional[Callable[[JobStatus], None]], sleep: Callable[[float], None]) -> None:
        self.store, self.marker, self.on_status, self.sleep = store, marker, on_status, sleep
        self.last = 0.0

    def __call__(self, status: JobStatus) -> None:
        self.last = time.monotonic()
        wire = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        delay = STATUS_WRITE_BACKOFF_SECONDS
        for attempt in range(STATUS_WRITE_ATTEMPTS if self.store is not None else 0):
            try:
                assert self.store is not None
                self.store.write_json(STATUS_KEY, wire)
                self.marker.clear()
                break
            except Exception as err:  # broad on purpose: any storage failure falls back to the marker
                log.warning("writing %s failed (%s), attempt %d of %d", STATUS_KEY, type(err).__name__,
                            attempt + 1, STATUS_WRITE_ATTEMPTS)
                if attempt + 1 < STATUS_WRITE_ATTEMPTS:
                    self.sleep(delay)
                    delay *= 2
        else:
            try:
                self.marker.write(wire)
                log.warning("status kept in %s; the next run of this job reads it", self.marker.path)
            except OSError as err:
                log.error("status could not be recorded anywhere (%s)", type(err).__name__)
        if self.on_status:
            self.on_status(status)


class _ProgressTap:
    """Passes progress on to the user's display and records the running stage's count and time left."""

    def __init__(self, inner: Progress, entry: Callable[[], Optional[StageStatus]], publish: Callable[[], None],
                 last: Callable[[], float]) -> None:
        self.inner, self.entry, self.publish, self.last = inner, entry, publish, last

    @contextmanager
    def task(self, description: str, total: Optional[int] = None) -> Iterator[Advance]:
        t0 = time.monotonic()
        with self.inner.task(description, total) as advance_inner:
            entry = self.entry()
            if entry is not None:
                entry.progress = StageProgress(task=description, done=0, total=total)

            def advance(n: int = 1) -> None:
                advance_inner(n)
                if entry is None or entry.progress is None:
                    return
                done = entry.progress.done + n
                entry.progress = StageProgress(task=description, done=done, total=total,
                                               eta_seconds=rules.estimate_remaining(done, total, time.monotonic() - t0))
                if time.monotonic() - self.last() >= PROGRESS_PUBLISH_SECONDS:
                    self.publish()

            yield advance

    def note(self, message: str) -> None:
        self.inner.note(message)


def _kept(store: ArtifactStore, spec: SafeSynthJobSpec, name: StageName, prior: StageStatus, force: bool) -> bool:
    """Whether a stage that just failed still holds its earlier finished result.

    A stage deletes its folder before it starts work, so its summary still being
    there means the failure came before (reading the store, say). When the store
    cannot even be asked, an earlier result for this very spec hash could only
    have failed in the skip check, which comes before any delete.
    """
    if prior.phase not in rules.DONE or not prior.summary:
        return False
    try:
        return store.exists(summary_key(name.value))
    except Exception:  # broad on purpose: the store may be down; decide from what is known
        return not force and prior.summary.get("specHash") == stage_spec_hash(spec, name)


def run_job(
    job: SafeSynthJob,
    run_uri: Optional[str] = None,
    *,
    progress: Optional[Progress] = None,
    force: bool = False,
    only: Optional[list[StageName]] = None,
    on_status: Optional[Callable[[JobStatus], None]] = None,
    stages: Optional[Mapping[StageName, ModuleType]] = None,
    marker_dir: Optional[Path] = None,
    sleep: Callable[[float], None] = time.sleep,
) -> JobStatus:
    """Run the job's stages in order; returns the final status (also in status.json).

    Raises the failing stage's exception after recording it in the status.
    `stages` replaces the registered stage modules (tests plug in their own).
    """
    progress = progress or LogProgress()
    run_uri = run_uri or default_run_uri(job)
    modules = dict(stages) if stages is not None else registry()
    selected = [s for s in modules if only is None or s in only]
    marker = StatusMarker(marker_dir or default_marker_dir(), run_uri)
    store: Optional[ArtifactStore] = None
    status = JobStatus(phase=JobPhase.RUNNING, start_time=now_iso(), stages=[StageStatus(name=s.value) for s in selected])
    status.artifacts.run_uri = run_uri
    publish = _Publisher(None, marker, on_status, sleep)
    running: Optional[StageStatus] = None
    suspend = job.spec.suspend
    try:
        store = open_run_store(job.spec, run_uri)
        publish.store = store
        previous = _previous(store, marker)
        status.stages = [_carried(previous, s) for s in selected]
        status.artifacts.run_uri = store.uri
        rules.apply_headline(status, store.uri)
        rules.settle(status, suspend=suspend, launched=not suspend, now=now_iso())
        if suspend:
            publish(status)
            return status
        tap = _ProgressTap(progress, lambda: running, lambda: publish(status), lambda: publish.last)
        for entry, name in zip(status.stages, selected):
            prior = entry.model_copy(deep=True)
            entry.phase, entry.start_time, entry.attempts = StagePhase.RUNNING, now_iso(), 1
            entry.completion_time = entry.reason = entry.message = entry.summary = None
            running = entry
            rules.apply_headline(status, store.uri)
            rules.settle(status, suspend=False, launched=True, now=now_iso())
            publish(status)
            try:
                run_shards(modules[name], job.spec, store, tap, force=force)
                outcome = execute_stage(modules[name], job.spec, store, tap, force=force)
            except BaseException as err:
                reason, message = rules.stage_failure(error_summary(name, err))
                failure = None
                if _kept(store, job.spec, name, prior, force):
                    status.stages[status.stages.index(entry)] = prior  # the earlier result still stands
                    failure = rules.Failure(reason, message, stage=name.value)
                else:
                    entry.phase, entry.completion_time = StagePhase.FAILED, now_iso()
                    entry.reason, entry.message, entry.progress = reason, message, None
                running = None
                rules.apply_headline(status, store.uri)
                rules.settle(status, suspend=False, launched=True, now=now_iso(), failure=failure)
                publish(status)
                raise
            running = None
            entry.phase = StagePhase.SKIPPED if outcome.skipped else StagePhase.SUCCEEDED
            entry.completion_time, entry.summary, entry.progress = now_iso(), outcome.summary, None
            rules.apply_headline(status, store.uri)
            rules.settle(status, suspend=False, launched=True, now=now_iso())
            publish(status)
        return status
    except BaseException as err:
        if status.phase is not JobPhase.FAILED:  # the driver itself failed, outside any stage
            if isinstance(err, SafeSynthError):
                failure = rules.Failure(err.reason, str(err)[:MESSAGE_MAX])
            else:
                failure = rules.Failure(type(err).__name__, f"the local driver failed: {type(err).__name__}; "
                                        f"{rules.HIDDEN}")
            rules.settle(status, suspend=False, launched=True, now=now_iso(), failure=failure)
            publish(status)
        raise


def shard_command(stage: StageName, spec_file: Path, run_uri: str, index: int, count: int, force: bool) -> list[str]:
    """`safesynth stage NAME --shard I/N` with this interpreter, as an Indexed Job's pod runs it."""
    cmd = [sys.executable, "-m", "safesynth.cli", "stage", stage.value, "--spec", str(spec_file),
           "--run-uri", run_uri, "--shard", f"{index}/{count}"]
    return cmd + (["--force"] if force else [])


def run_shards(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress, *,
               force: bool = False) -> None:
    """A sharded stage's shards as parallel local processes (as the Indexed Job's pods on a cluster), before
    `execute_stage` merges them. Nothing runs when the stage is current, and only unfinished shards run (each
    skips by its own summary). A failed shard raises ShardFailedError with its exit code, so a bad-input
    shard is not retried, like the pod's podFailurePolicy.

    Where `shard_launch_mode` says so the shards are forked from this process, with the model loaded once
    here (`fork_stage_shards`); else each is a `safesynth stage --shard` process (`shard_command`)."""
    count = shard_count(module, spec)
    if count <= 1 or (not force and stage_is_current(module, spec, store)):
        return
    todo = list(range(count)) if force else pending_shards(module, spec, store)
    if not todo:
        return
    stage: StageName = module.NAME
    mode = shard_launch_mode(module, spec)
    threads = spec.training.threads or 1
    if spec.training.device.value != "cuda" and oversubscribed(len(todo), threads, os.cpu_count()):
        progress.note(f"warning: {stage.value}: {len(todo)} shards x {threads} CPU threads (spec.training.threads) "
                      f"on {os.cpu_count()} cores: the shards will contend; set spec.training.threads: 1 to run "
                      "local shards on one thread each (forked from this process, the model loaded once)")
    progress.note(f"{stage.value}: running shard(s) {', '.join(map(str, todo))} of {count} as "
                  f"{'processes forked from this one' if mode == FORK else 'processes'}")
    if mode == FORK:
        codes = fork_stage_shards(module, spec, store, todo, count, force=force)
    else:
        with tempfile.TemporaryDirectory(prefix="safesynth-shards-") as tmp:
            spec_file = Path(tmp) / "spec.json"
            spec_file.write_text(spec.model_dump_json(by_alias=True, exclude_none=True))
            procs = [(i, subprocess.Popen(shard_command(stage, spec_file, store.uri, i, count, force),
                                          stdin=subprocess.DEVNULL)) for i in todo]
            codes = [(i, p.wait()) for i, p in procs]
    failed = [(i, c) for i, c in codes if c != 0]
    if failed:
        index, code = failed[0]
        raise ShardFailedError(f"{stage.value}: shard {index} of {count} exited with code {code} (its error is "
                               f"printed above); the other shards' results are kept", code)


def shard_launch_mode(module: ModuleType, spec: SafeSynthJobSpec) -> str:
    """FORK or PROCESS for this stage and spec on this platform (shard_launch.launch_mode decides)."""
    forkable = getattr(module, "shard_forkable", None)
    return launch_mode(sys.platform, multiprocessing.get_all_start_methods(),
                       bool(forkable(spec)) if forkable is not None else False)


def fork_stage_shards(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore, todo: list[int],
                      count: int, *, force: bool) -> list[tuple[int, int]]:
    """The shards `todo` forked from this process, each under `execute_shard` exactly as `safesynth stage
    --shard I/N` runs it, on a store of its own (an S3 client does not survive fork); what every shard
    needs is loaded once before the fork where the stage offers it (`shard_preload`)."""
    def run_one(index: int) -> None:
        execute_shard(module, spec, open_run_store(spec, store.uri), LogProgress(), index, count, force=force)

    preload = getattr(module, "shard_preload", None)
    with preload(spec, store) if preload is not None else nullcontext():
        return fork_shards(run_one, todo)


class ShardFailedError(SafeSynthError):
    """A local shard process failed; carries its exit code, so bad input (2) stays permanent."""

    reason = "ShardFailed"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code if exit_code in PERMANENT_EXIT_CODES else EXIT_RETRYABLE


def column_warnings(status: JobStatus) -> list[str]:
    """Every stage's column warnings (prepare's typing fallbacks and unparsed values, train's DP columns that
    come out as filler or empty) as lines for the end of a run, in stage order; names and codes, no values."""
    from safesynth.schema_model import warning_text

    return [warning_text(w) for s in status.stages for w in ((s.summary or {}).get("warnings") or [])]


def local_path(run_uri: str) -> Optional[Path]:
    """The folder for a local run URI, for printing; None for S3."""
    if run_uri.startswith("s3://"):
        return None
    return Path(run_uri.removeprefix("file://")).resolve()

