"""The interface the HTTP routes (`app.py`) use, met by the one-machine and the cluster backends.

A backend opens a `JobSession` per request for the caller's bearer token
(`session(token)`): the local backend has no users and returns itself; the
cluster backend authenticates the token and returns a session that acts as
that user, so Kubernetes RBAC decides each call. The routes never see which.
Errors carry their HTTP status by type (app.py's table): not found 404,
conflict 409, unauthenticated 401, forbidden 403, bad input 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol

from safesynth.errors import BadInputError
from safesynth.service.records import JobRecord


@dataclass(frozen=True)
class Artifact:
    """One file of a run. `sha256` is the content hash where the backend computes it (local files);
    `etag` is S3's ETag (the MD5 of a single-part upload, not a content hash of multipart ones)."""

    key: str
    size: int
    sha256: Optional[str]
    url: Optional[str]
    etag: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256, "etag": self.etag, "url": self.url}


class UnauthenticatedError(BadInputError):
    """No bearer token, or one the cluster does not accept (HTTP 401)."""

    reason = "Unauthorized"


class ForbiddenError(BadInputError):
    """The caller's identity may not do this (HTTP 403): cluster RBAC said no."""

    reason = "Forbidden"


class JobSession(Protocol):
    """What one caller may do with jobs; every method raises the typed errors above or records.py's."""

    def create(self, manifest: dict[str, Any], namespace: Optional[str] = None) -> JobRecord: ...

    def list_jobs(self, namespace: Optional[str], phase: Optional[str], limit: int, after: int) -> list[JobRecord]:
        """At most `limit` jobs after the cursor `after` (a record's `seq`), in a stable order."""
        ...

    def get(self, job_id: str) -> JobRecord: ...

    def status(self, job_id: str) -> dict[str, Any]: ...

    def open_log(self, job_id: str, follow: bool) -> Iterator[bytes]:
        """Check the job exists (raising before any byte is sent), then return its log stream."""
        ...

    def results(self, job_id: str, base_url: str, now: float) -> list[Artifact]: ...

    def artifact_path(self, job_id: str, key: str, expires: int, sig: str, now: float) -> Path: ...

    def cancel(self, job_id: str) -> JobRecord: ...

    def delete(self, job_id: str) -> None: ...


class JobBackend(Protocol):
    """A backend: hands out sessions per caller."""

    def session(self, token: Optional[str]) -> JobSession: ...
