"""HTTP routes of the jobs service (FastAPI), under the reference product's `/v1beta1/safe-synthesizer/jobs`.

Every error has one shape, `{"error": {"code", "message", "details": [{"fieldPath", "message"}]}}`,
and never echoes request values (FastAPI's default 422 body repeats the input: replaced here).
Differences from the reference product's API are listed in README.md ("Jobs API").
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import safesynth
from safesynth.errors import BadInputError, SafeSynthError, SpecError
from safesynth.service.backend import ForbiddenError, JobBackend, JobSession, UnauthenticatedError
from safesynth.service.local import ExpiredLinkError
from safesynth.service.records import PHASES, JobConflictError, JobNotFoundError

PREFIX = "/v1beta1/safe-synthesizer/jobs"
MAX_PAGE = 1000

_STATUS = {JobNotFoundError: 404, JobConflictError: 409, ExpiredLinkError: 403, ForbiddenError: 403,
           UnauthenticatedError: 401}
# The cluster backend needs the caller's Kubernetes bearer token; the local one ignores it.
_BEARER = HTTPBearer(auto_error=False, description="Kubernetes bearer token of the caller (cluster backend).")


def error_body(code: str, message: str, details: Optional[list[dict[str, str]]] = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _details(err: SpecError) -> list[dict[str, str]]:
    """SpecError problems are `field.path: what is wrong` lines (no values): split them for clients."""
    out = []
    for line in err.problems:
        path, _, what = line.partition(": ")
        out.append({"fieldPath": path, "message": what} if what else {"fieldPath": "", "message": line})
    return out


def _manifest(body: dict[str, Any]) -> dict[str, Any]:
    """A whole manifest, or `{name, namespace?, spec}` turned into one."""
    if "kind" in body or "apiVersion" in body:
        return body
    if "spec" not in body or "name" not in body:
        raise SpecError("request body: send a SafeSynthJob manifest, or {name, spec}",
                        ["name: required field is missing"] if "name" not in body else
                        ["spec: required field is missing"])
    meta = {"name": body["name"], **({"namespace": body["namespace"]} if body.get("namespace") else {})}
    return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": meta, "spec": body["spec"]}


def create_app(backend: JobBackend) -> FastAPI:
    """The API over one backend; the caller starts and stops the backend."""

    def caller(credentials: Optional[HTTPAuthorizationCredentials] = Depends(_BEARER)) -> JobSession:
        """The backend as this request's caller (the cluster backend authenticates the token here)."""
        return backend.session(credentials.credentials if credentials else None)

    app = FastAPI(title="safesynth jobs API", version=safesynth.__version__,
                  description="Submit, watch, fetch and cancel SafeSynthJobs.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        details = [{"fieldPath": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"])} for e in err.errors()]
        return JSONResponse(error_body("BadRequest", "invalid request", details), status_code=400)

    @app.exception_handler(SafeSynthError)
    async def _safesynth(_: Request, err: SafeSynthError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(err, cls)), None)
        if status is None:
            status = 400 if isinstance(err, BadInputError) else 500
        details = _details(err) if isinstance(err, SpecError) else []
        message = str(err).split("\n", 1)[0] if isinstance(err, SpecError) else str(err)
        return JSONResponse(error_body(err.reason, message, details), status_code=status)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PREFIX, status_code=201, summary="Create a job from a SafeSynthJob manifest or {name, spec}")
    def create(body: dict[str, Any] = Body(...), namespace: Optional[str] = Query(None),
               session: JobSession = Depends(caller)) -> dict[str, Any]:
        return session.create(_manifest(body), namespace).to_json()

    @app.get(PREFIX, summary="List jobs, oldest first, filtered by namespace and phase")
    def list_jobs(
        namespace: Optional[str] = Query(None),
        phase: Optional[str] = Query(None, pattern="^(" + "|".join(PHASES) + ")$"),
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        page_token: Optional[str] = Query(None, alias="pageToken", pattern="^[0-9]{1,18}$"),
        session: JobSession = Depends(caller),
    ) -> dict[str, Any]:
        rows = session.list_jobs(namespace, phase, limit + 1, int(page_token or 0))
        more = len(rows) > limit
        rows = rows[:limit]
        return {"data": [r.to_json() for r in rows], "nextPageToken": str(rows[-1].seq) if more else None}

    @app.get(PREFIX + "/{job_id}", summary="Get a job")
    def get(job_id: str, session: JobSession = Depends(caller)) -> dict[str, Any]:
        return session.get(job_id).to_json()

    @app.get(PREFIX + "/{job_id}/status", summary="The job's status, in the custom resource's .status shape")
    def status(job_id: str, session: JobSession = Depends(caller)) -> dict[str, Any]:
        return session.status(job_id)

    @app.get(PREFIX + "/{job_id}/logs", summary="The job's log (all stages); follow=true streams until it ends")
    def logs(job_id: str, follow: bool = Query(False), session: JobSession = Depends(caller)) -> StreamingResponse:
        chunks: Iterator[bytes] = session.open_log(job_id, follow)  # 404 before the stream starts
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

    @app.get(PREFIX + "/{job_id}/results", summary="Artifacts with size, sha256 and a short-lived download URL")
    def results(job_id: str, request: Request, session: JobSession = Depends(caller)) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/") + PREFIX
        return {"data": [a.to_json() for a in session.results(job_id, base, time.time())]}

    @app.get(PREFIX + "/{job_id}/results/download", summary="Download one artifact through a signed link")
    def download(job_id: str, key: str = Query(..., max_length=1024), expires: int = Query(...),
                 signature: str = Query(..., pattern="^[0-9a-f]{64}$"),
                 session: JobSession = Depends(caller)) -> FileResponse:
        path = session.artifact_path(job_id, key, expires, signature, time.time())
        return FileResponse(path, filename=path.name)

    @app.post(PREFIX + "/{job_id}/cancel", summary="Cancel: a queued job never runs, a running one is stopped")
    def cancel(job_id: str, session: JobSession = Depends(caller)) -> dict[str, Any]:
        return session.cancel(job_id).to_json()

    @app.delete(PREFIX + "/{job_id}", status_code=204, summary="Cancel, then delete the job and its artifacts")
    def delete(job_id: str, session: JobSession = Depends(caller)) -> Response:
        session.delete(job_id)
        return Response(status_code=204)

    return app
