"""The one-machine backend of the jobs service: a queue in SQLite, worker processes running `safesynth run`.

Each job runs in its own process (the same command a user would type, so
resume, status.json and exit codes are exactly the CLI's), at most
`max_concurrent` at once (default 1: training takes the machine's cores).
A process per job also makes cancel a plain terminate and keeps a crashing job
from taking the service down.

Restart: jobs that were Running when the service stopped are queued again and
resume at their first unfinished stage (finished stages are skipped by the
stage contract), rather than being marked failed.

Files under `root`: `jobs.sqlite`, `manifests/<id>.json`, `logs/<id>.log`,
`runs/<namespace>/<name>/` (the run URI, unless the spec names `artifacts.uri`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from safesynth.contract import STATUS_KEY
from safesynth.errors import BadInputError
from safesynth.service import signing
from safesynth.service.backend import Artifact
from safesynth.service.records import ACTIVE, JobRecord, JobTable
from safesynth.spec.load import parse_job
from safesynth.spec.status import JobStatus

DEFAULT_NAMESPACE = "default"
LINK_SECONDS = 900  # download links live 15 minutes: long enough to fetch, short enough to not be shared
_POLL = 0.2  # seconds between checks of a running process (cancel latency)


class ExpiredLinkError(BadInputError):
    """A download link that is forged or past its expiry (HTTP 403)."""

    reason = "Forbidden"


class LocalBackend:
    """Jobs on this machine. Thread-safe; `start()` launches the dispatcher, `stop()` ends it and its workers."""

    def __init__(self, root: Path, *, max_concurrent: int = 1) -> None:
        self.root = root.resolve()
        self.table = JobTable(self.root / "jobs.sqlite")
        self.max_concurrent = max_concurrent
        self._secret = secrets.token_bytes(32)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._procs_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.table.requeue_running("resumed after a service restart")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for i in range(self.max_concurrent):
            t = threading.Thread(target=self._work, name=f"safesynth-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop dispatching; running jobs are terminated and queued again for the next start."""
        self._stop.set()
        with self._procs_lock:
            procs = list(self._procs.values())
        for p in procs:
            p.terminate()
        for t in self._threads:
            t.join(timeout=15)
        self.table.requeue_running("service stopped while running; resumes at the next start")
        self.table.close()

    # ------------------------------------------------------------------ API
    def session(self, token: Optional[str]) -> LocalBackend:
        """One machine, no users: every caller gets the same view (the service listens on 127.0.0.1)."""
        return self

    def create(self, manifest: dict[str, Any], namespace: Optional[str] = None) -> JobRecord:
        """Validate like `safesynth validate` (field paths in the error), then queue."""
        job = parse_job(manifest, source="request body")
        ns = namespace or job.metadata.namespace or DEFAULT_NAMESPACE
        wire = job.model_dump(by_alias=True, mode="json", exclude_none=True)
        wire["metadata"]["namespace"] = ns
        record = self.table.insert(ns, job.metadata.name, wire)
        path = self._manifest_path(record.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(wire))
        return record

    def list_jobs(self, namespace: Optional[str], phase: Optional[str], limit: int, after: int) -> list[JobRecord]:
        return self.table.select(namespace, phase, limit, after)

    def get(self, job_id: str) -> JobRecord:
        return self.table.get(job_id)

    def status(self, job_id: str) -> dict[str, Any]:
        """The run's status.json (the custom resource's `.status` shape); before the run starts, the record's."""
        record = self.table.get(job_id)
        path = self.run_dir(record) / STATUS_KEY
        status = JobStatus.model_validate(json.loads(path.read_text())) if path.is_file() else JobStatus()
        out = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        if record.phase in ("Pending", "Cancelled") or (record.phase == "Failed" and status.phase.value != "Failed"):
            out["phase"], out["message"] = record.phase, record.message  # queued, cancelled or crashed before status
        return out

    def log_path(self, job_id: str) -> Path:
        self.table.get(job_id)
        return self.root / "logs" / f"{job_id}.log"

    def open_log(self, job_id: str, follow: bool) -> Iterator[bytes]:
        self.log_path(job_id)  # 404 before the stream starts
        return self.follow_log(job_id, follow)

    def follow_log(self, job_id: str, follow: bool) -> Iterator[bytes]:
        """The job's log; with `follow`, keep streaming until the job leaves Pending/Running."""
        path = self.log_path(job_id)
        offset = 0
        while True:
            if path.is_file():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    yield chunk
            if not follow or self.table.get(job_id).phase not in ACTIVE:
                if path.is_file() and path.stat().st_size > offset:
                    continue
                return
            time.sleep(_POLL)

    def results(self, job_id: str, base_url: str, now: float) -> list[Artifact]:
        """Every artifact of the run with its size, checksum and a signed link valid for LINK_SECONDS."""
        record = self.table.get(job_id)
        run = self.run_dir(record)
        if not run.is_dir():
            return []
        expires = int(now) + LINK_SECONDS
        out = []
        for path in sorted(p for p in run.rglob("*") if p.is_file()):
            key = path.relative_to(run).as_posix()
            sig = signing.signature(self._secret, job_id, key, expires)
            url = f"{base_url}/{job_id}/results/download?key={key}&expires={expires}&signature={sig}"
            out.append(Artifact(key, path.stat().st_size, _sha256(path), url))
        return out

    def artifact_path(self, job_id: str, key: str, expires: int, sig: str, now: float) -> Path:
        """The file a valid link points at; forged, expired or escaping links are refused."""
        record = self.table.get(job_id)
        if not signing.verify(self._secret, job_id, key, expires, sig, now):
            raise ExpiredLinkError("download link is invalid or expired; list the results again for a fresh one")
        run = self.run_dir(record).resolve()
        path = (run / key).resolve()
        if run not in path.parents or not path.is_file():
            raise BadInputError(f"key {key!r} is not an artifact of job {job_id}")
        return path

    def cancel(self, job_id: str) -> JobRecord:
        """Queued: never runs. Running: its process is terminated. Finished jobs are left as they are."""
        if self.table.set_phase(job_id, "Cancelled", "Cancelled", "cancelled by request", only_if=ACTIVE):
            with self._procs_lock:
                proc = self._procs.get(job_id)
            if proc is not None:
                proc.terminate()
        return self.table.get(job_id)

    def delete(self, job_id: str) -> None:
        """Cancel, then remove the record, its manifest, its log and its run folder (when under our root)."""
        record = self.cancel(job_id)
        with self._procs_lock:
            proc = self._procs.get(job_id)
        if proc is not None:
            proc.wait(timeout=30)
        run = self.run_dir(record)
        if self.root in run.parents and run.is_dir():
            shutil.rmtree(run)
        for path in (self._manifest_path(job_id), self.root / "logs" / f"{job_id}.log"):
            path.unlink(missing_ok=True)
        self.table.delete(job_id)

    # ------------------------------------------------------------------ internals
    def run_dir(self, record: JobRecord) -> Path:
        artifacts = (record.manifest.get("spec") or {}).get("artifacts") or {}
        if artifacts.get("uri") and not str(artifacts["uri"]).startswith("s3://"):
            return Path(str(artifacts["uri"]).removeprefix("file://")) / record.name
        return self.root / "runs" / record.namespace / record.name

    def _manifest_path(self, job_id: str) -> Path:
        return self.root / "manifests" / f"{job_id}.json"

    def _work(self) -> None:
        while not self._stop.is_set():
            record = self.table.next_pending()
            if record is None:
                self._stop.wait(_POLL)
                continue
            self._run(record)

    def _run(self, record: JobRecord) -> None:
        log = self.root / "logs" / f"{record.id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        run = self.run_dir(record)
        cmd = [sys.executable, "-c", "from safesynth.cli import main; main()", "run",
               str(self._manifest_path(record.id)), "--run-uri", str(run)]
        env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            with self._procs_lock:
                self._procs[record.id] = proc
            try:
                code = proc.wait()
            finally:
                with self._procs_lock:
                    self._procs.pop(record.id, None)
        if self._stop.is_set():
            return  # stop() queues it again
        phase, reason, message = _outcome(code, run / STATUS_KEY)
        self.table.set_phase(record.id, phase, reason, message, only_if=("Running",))


def _outcome(code: int, status_path: Path) -> tuple[str, Optional[str], Optional[str]]:
    """The record's final phase from the run's own status, or from the exit code when it wrote none."""
    if status_path.is_file():
        status = JobStatus.model_validate(json.loads(status_path.read_text()))
        if status.phase.value in ("Succeeded", "Failed", "Suspended"):
            failed = next((c for c in status.conditions if c.type == "Failed" and c.status == "True"), None)
            return status.phase.value, failed.reason if failed else None, status.message
    return ("Succeeded", None, None) if code == 0 else ("Failed", "ProcessExited", f"worker exited with code {code}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
