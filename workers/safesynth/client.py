"""A small Python client for the jobs API (`safesynth serve`), used by `safesynth jobs ...` and notebooks.

    from safesynth.client import Client
    c = Client("http://127.0.0.1:8000")
    job = c.submit("examples/quickstart.yaml")
    c.wait(job["id"]); c.download(job["id"], "evaluate/report.html", "report.html")

Errors from the service arrive as `ApiError` with the service's code, message
and field paths; 4xx are bad requests (exit 2, not retried), 5xx and
connection failures are retryable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import httpx
import yaml

from safesynth.contract import API_URL_ENV, EXIT_BAD_INPUT, EXIT_RETRYABLE
from safesynth.errors import SafeSynthError

PREFIX = "/v1beta1/safe-synthesizer/jobs"
DEFAULT_URL = "http://127.0.0.1:8000"
# The caller's Kubernetes bearer token, for a service on a cluster (sent as Authorization: Bearer; never to S3).
TOKEN_ENV = "SAFESYNTH_API_TOKEN"
FINISHED = ("Succeeded", "Failed", "Suspended", "Cancelled")


class ApiError(SafeSynthError):
    """An error answer of the jobs API: `code`, `status`, and `details` (field paths)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]]) -> None:
        self.status, self.code, self.details = status, code, details
        self.reason = code
        self.exit_code = EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_RETRYABLE
        lines = [f"  - {d.get('fieldPath') or '(request)'}: {d.get('message')}" for d in details]
        super().__init__("\n".join([f"{message} (HTTP {status} {code})", *lines]))


def read_manifest(path: Union[str, Path]) -> dict[str, Any]:
    """A manifest file, with a relative local `spec.data.uri` made absolute against this directory:
    the service may run elsewhere on this machine, and the quickstart's path is relative to the repo root."""
    doc = yaml.safe_load(Path(path).read_text())
    data = ((doc or {}).get("spec") or {}).get("data") or {}
    uri = data.get("uri")
    if isinstance(uri, str) and "://" not in uri and not Path(uri).is_absolute() and Path(uri).exists():
        data["uri"] = str(Path(uri).resolve())
    return dict(doc)


class Client:
    """Thin wrapper over the routes; every method returns the service's JSON."""

    def __init__(self, url: Optional[str] = None, *, token: Optional[str] = None, timeout: float = 30.0) -> None:
        import os

        self.url = (url or os.environ.get(API_URL_ENV) or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def _call(self, method: str, path: str = "", **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, PREFIX + path, **kwargs)
        except httpx.TransportError as err:
            raise ApiError(503, "Unavailable", f"cannot reach the jobs API at {self.url}: {type(err).__name__}",
                           []) from None
        if response.status_code >= 400:
            try:
                body = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                body = {"code": "HttpError", "message": response.reason_phrase, "details": []}
            raise ApiError(response.status_code, body.get("code", "HttpError"), body.get("message", ""),
                           body.get("details") or [])
        return response.json() if response.content and "json" in response.headers.get("content-type", "") \
            else None

    def submit(self, manifest: Union[str, Path, dict[str, Any]], namespace: Optional[str] = None) -> dict[str, Any]:
        body = manifest if isinstance(manifest, dict) else read_manifest(manifest)
        params = {"namespace": namespace} if namespace else {}
        result: dict[str, Any] = self._call("POST", "", json=body, params=params)
        return result

    def list_jobs(self, namespace: Optional[str] = None, phase: Optional[str] = None, limit: int = 100,
             page_token: Optional[str] = None) -> dict[str, Any]:
        params = {k: v for k, v in (("namespace", namespace), ("phase", phase), ("limit", limit),
                                    ("pageToken", page_token)) if v is not None}
        result: dict[str, Any] = self._call("GET", "", params=params)
        return result

    def get(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/{job_id}")
        return result

    def status(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/{job_id}/status")
        return result

    def logs(self, job_id: str, follow: bool = False) -> Iterator[str]:
        with self._http.stream("GET", f"{PREFIX}/{job_id}/logs", params={"follow": follow}, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                self._call("GET", f"/{job_id}")  # raises the service's error for the same id
            yield from response.iter_text()

    def results(self, job_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/{job_id}/results")["data"]
        return result

    def download(self, job_id: str, key: str, dest: Union[str, Path]) -> Path:
        """Fetch one artifact through its signed link into `dest` (a file path)."""
        link = next((a["url"] for a in self.results(job_id) if a["key"] == key), None)
        if link is None:
            raise ApiError(404, "NotFound", f"job {job_id} has no artifact {key!r}", [])
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        with httpx.stream("GET", link, timeout=None) as response:
            if response.status_code >= 400:
                raise ApiError(response.status_code, "DownloadFailed", f"download of {key!r} failed", [])
            with out.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
        return out

    def cancel(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/{job_id}/cancel")
        return result

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/{job_id}")

    def wait(self, job_id: str, timeout: float = 3600.0, poll: float = 1.0) -> dict[str, Any]:
        """Poll until the job finishes; returns the job. Raises ApiError(408) on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["phase"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise ApiError(408, "Timeout", f"job {job_id} still {job['phase']} after {timeout:.0f} s", [])
            time.sleep(poll)

    def close(self) -> None:
        self._http.close()
