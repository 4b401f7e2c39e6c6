"""Job records of the one-machine jobs service, kept in SQLite (stdlib) so they survive a restart.

A record is what the service knows about a job besides its run artifacts:
identity (id, namespace, name), the manifest as submitted, and the service's
own phase (Pending while queued, Running while a worker process runs it, then
the phase the run's status.json reports, or Cancelled). Reads and writes go
through one lock: SQLite allows one writer, and the API serves requests from a
thread pool.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from safesynth.errors import BadInputError

ACTIVE = ("Pending", "Running")
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Suspended", "Cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    manifest TEXT NOT NULL,
    phase TEXT NOT NULL,
    reason TEXT,
    message TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (namespace, name)
)
"""


class JobNotFoundError(BadInputError):
    """No job with that id (HTTP 404)."""

    reason = "NotFound"


class JobConflictError(BadInputError):
    """A job of that name already exists in the namespace (HTTP 409)."""

    reason = "AlreadyExists"


@dataclass(frozen=True)
class JobRecord:
    id: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    phase: str
    reason: Optional[str]
    message: Optional[str]
    created: float
    updated: float
    seq: int

    def to_json(self) -> dict[str, Any]:
        """The API's job object: identity, phase and times; the spec is served by `get`, never logged."""
        return {
            "id": self.id, "namespace": self.namespace, "name": self.name, "phase": self.phase,
            "reason": self.reason, "message": self.message,
            "createdAt": _iso(self.created), "updatedAt": _iso(self.updated),
            "spec": self.manifest.get("spec", {}),
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class JobTable:
    """The `jobs` table: create, read, list with a cursor, update phase, delete."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._tx() as c:
            c.execute(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def insert(self, namespace: str, name: str, manifest: dict[str, Any]) -> JobRecord:
        now = time.time()
        job_id = f"ssj-{uuid.uuid4().hex[:16]}"
        try:
            with self._tx() as c:
                c.execute(
                    "INSERT INTO jobs (id, namespace, name, manifest, phase, created, updated) "
                    "VALUES (?, ?, ?, ?, 'Pending', ?, ?)",
                    (job_id, namespace, name, json.dumps(manifest), now, now),
                )
        except sqlite3.IntegrityError:
            raise JobConflictError(
                f"metadata.name: a job named {name!r} already exists in namespace {namespace!r}; "
                "delete it or choose another name"
            ) from None
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"job {job_id!r} not found")
        return _record(row)

    def select(
        self, namespace: Optional[str] = None, phase: Optional[str] = None, limit: int = 100, after: int = 0
    ) -> list[JobRecord]:
        """Jobs in submission order after the cursor `after` (a record's `seq`)."""
        sql, args = "SELECT * FROM jobs WHERE seq > ?", list[Any]([after])
        if namespace is not None:
            sql, args = sql + " AND namespace = ?", [*args, namespace]
        if phase is not None:
            sql, args = sql + " AND phase = ?", [*args, phase]
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [_record(r) for r in rows]

    def next_pending(self) -> Optional[JobRecord]:
        """Claim the oldest queued job: Pending → Running in one transaction, so no two workers take it."""
        with self._tx() as c:
            row = c.execute("SELECT * FROM jobs WHERE phase = 'Pending' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET phase = 'Running', updated = ? WHERE id = ?", (time.time(), row["id"]))
        return self.get(row["id"])

    def set_phase(self, job_id: str, phase: str, reason: Optional[str] = None, message: Optional[str] = None,
                  *, only_if: Optional[tuple[str, ...]] = None) -> bool:
        """Move a job to `phase`; with `only_if`, only from one of those phases (True when it moved)."""
        sql = "UPDATE jobs SET phase = ?, reason = ?, message = ?, updated = ? WHERE id = ?"
        args: list[Any] = [phase, reason, message, time.time(), job_id]
        if only_if:
            sql += f" AND phase IN ({', '.join('?' * len(only_if))})"
            args += list(only_if)
        with self._tx() as c:
            return c.execute(sql, args).rowcount == 1

    def requeue_running(self, message: str) -> int:
        """After a restart nothing runs: Running jobs go back to the queue (stages resume where they stopped)."""
        with self._tx() as c:
            return c.execute(
                "UPDATE jobs SET phase = 'Pending', message = ?, updated = ? WHERE phase = 'Running'",
                (message, time.time()),
            ).rowcount

    def delete(self, job_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"], namespace=row["namespace"], name=row["name"], manifest=json.loads(row["manifest"]),
        phase=row["phase"], reason=row["reason"], message=row["message"], created=row["created"],
        updated=row["updated"], seq=row["seq"],
    )
