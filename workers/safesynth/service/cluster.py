"""The cluster backend of the jobs service: each job is a SafeSynthJob, every call made as the caller.

Identity: the caller sends their Kubernetes bearer token. The service checks it
with a TokenReview (its own ServiceAccount may `create tokenreviews`), then
makes each API call with its own token plus `Impersonate-User` /
`Impersonate-Group` for that user, so the API server's RBAC (and admission,
and the audit log, which records both names) judges the very request that is
executed: a user without rights gets the API server's 403, turned into ours,
and nothing is created. The service's role holds only `impersonate` on users,
groups and serviceaccounts and `create` on tokenreviews: no rights on jobs,
pods or Secrets of its own. Token reviews are cached for REVIEW_CACHE_SECONDS
by the token's sha256 (the token itself is never stored or logged).

Mapping of the routes:
- job id `<namespace>.<name>` (namespaces and job names are DNS labels: no dots), so every call names its
  namespace and needs no cluster-wide read;
- create: the spec validated as `safesynth validate` does (400 with field paths), then a SafeSynthJob in
  `?namespace=`, the manifest's namespace, or the caller's own (a ServiceAccount's namespace, else the
  service's default namespace);
- list: the SafeSynthJobs of one namespace, oldest first; the page cursor is a position in that order;
- status: the custom resource's `.status`, as the operator wrote it;
- logs: the stage pods' logs (`pods` list, `pods/log` get, as the caller) in stage order;
- results: the run's objects in S3 (`status.artifacts.runUri`) with size, ETag and a presigned GET URL valid
  LINK_SECONDS, listed and signed with the service's own S3 credentials once the caller may `get` the job;
- cancel: `spec.suspend: true` (a merge patch), not a delete: the operator stops the running stage and starts
  no other, while status, stage history and artifacts stay, and `suspend: false` resumes where it stopped.
  A finished job is left as it is;
- delete: the SafeSynthJob (its Jobs, pods and ConfigMap go with it by ownerReference). Artifacts are
  removed by the operator when `spec.artifacts.deleteOnRemoval` is set; the service never deletes S3 objects.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from calendar import timegm
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from safesynth.errors import BadInputError
from safesynth.service.backend import Artifact, ForbiddenError, UnauthenticatedError
from safesynth.service.kube import ClusterUnavailableError, KubeConnection, User
from safesynth.service.records import JobNotFoundError, JobRecord
from safesynth.spec.load import parse_job
from safesynth.spec.models import API_GROUP, API_VERSION, KIND, PLURAL, STAGE_ORDER
from safesynth.spec.status import JobStatus

LINK_SECONDS = 900  # presigned URLs live 15 minutes, as the local backend's signed links
REVIEW_CACHE_SECONDS = 30.0  # a revoked token keeps working at most this long; saves a TokenReview per call
REVIEW_CACHE_SIZE = 1024
LOG_POLL_SECONDS = 2.0  # follow: how often new stage pods are looked for
# The operator's label on every stage pod (safesynth_operator.constants.LABEL_JOB; the service may not import
# the operator package, so the value is spelt from the same API group here).
JOB_LABEL = f"{API_GROUP}/job"
STAGE_LABEL = f"{API_GROUP}/stage"
FINISHED = ("Succeeded", "Failed")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# ------------------------------------------------------------------------------------- pure decisions


def job_id(namespace: str, name: str) -> str:
    return f"{namespace}.{name}"


def parse_job_id(value: str) -> tuple[str, str]:
    """(namespace, name) of `<namespace>.<name>`; anything else names no job (404)."""
    namespace, _, name = value.partition(".")
    if not (_LABEL.match(namespace) and _LABEL.match(name) and len(namespace) <= 63 and len(name) <= 63):
        raise JobNotFoundError(f"job {value!r} not found (cluster job ids are <namespace>.<name>)")
    return namespace, name


def phase_of(obj: dict[str, Any]) -> str:
    """The operator's phase; a suspended unfinished job reads Suspended at once (before the operator reacts)."""
    phase = str((obj.get("status") or {}).get("phase") or "Pending")
    if (obj.get("spec") or {}).get("suspend") and phase not in FINISHED:
        return "Suspended"
    return phase


def _epoch(stamp: Optional[str]) -> float:
    return float(timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))) if stamp else 0.0


def to_record(obj: dict[str, Any], seq: int = 0) -> JobRecord:
    """The API's job record of a SafeSynthJob (the spec as stored, metadata reduced to identity)."""
    meta, status = obj["metadata"], obj.get("status") or {}
    conditions = status.get("conditions") or []
    failed = next((c for c in conditions if c.get("type") == "Failed" and c.get("status") == "True"), None)
    created = _epoch(meta.get("creationTimestamp"))
    updated = max([created, *(_epoch(c.get("lastTransitionTime")) for c in conditions)])
    manifest = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid")},
                "spec": obj.get("spec") or {}}
    return JobRecord(id=job_id(meta["namespace"], meta["name"]), namespace=meta["namespace"], name=meta["name"],
                     manifest=manifest, phase=phase_of(obj), reason=failed.get("reason") if failed else None,
                     message=status.get("message"), created=created, updated=updated, seq=seq)


def page(items: list[dict[str, Any]], phase: Optional[str], limit: int, after: int) -> list[JobRecord]:
    """Oldest first (creation time, then name), filtered by phase; `seq` is the 1-based position, the cursor."""
    ordered = sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp") or "", o["metadata"]["name"]))
    records = [to_record(o, n) for n, o in enumerate(ordered, start=1)]
    return [r for r in records if r.seq > after and (phase is None or r.phase == phase)][:limit]


def stage_pods_in_order(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stage pods in pipeline order, attempts of one stage by creation time; other pods (cleanup) last."""
    order = {s.value: n for n, s in enumerate(STAGE_ORDER)}

    def key(pod: dict[str, Any]) -> tuple[int, str, str]:
        stage = (pod["metadata"].get("labels") or {}).get(STAGE_LABEL, "")
        return order.get(stage, len(order)), pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]

    return sorted(pods, key=key)


def split_s3_uri(uri: Optional[str]) -> Optional[tuple[str, str]]:
    """(bucket, prefix ending in /) of an s3:// run URI; None for anything else (nothing to presign)."""
    if not uri or not uri.startswith("s3://"):
        return None
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    prefix = prefix.strip("/")
    return (bucket, prefix + "/" if prefix else "") if bucket else None


# ------------------------------------------------------------------------------------------ backend


@dataclass(frozen=True)
class _Review:
    user: User
    until: float


class ClusterBackend:
    """Sessions for callers on one cluster; `s3_client(endpoint, region, path_style)` makes boto3 clients."""

    def __init__(self, conn: KubeConnection, *, default_namespace: str = "default",
                 s3_client: Optional[Callable[[Optional[str], Optional[str], bool], Any]] = None,
                 link_seconds: int = LINK_SECONDS) -> None:
        self.conn = conn
        self.default_namespace = default_namespace
        self.link_seconds = link_seconds
        self._s3_client = s3_client or default_s3_client
        self._reviews: dict[str, _Review] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Nothing runs in the service: the operator runs the jobs."""

    def stop(self) -> None:
        self.conn.close()

    def session(self, token: Optional[str]) -> ClusterSession:
        if not token:
            raise UnauthenticatedError("send your Kubernetes bearer token (Authorization: Bearer ...)")
        return ClusterSession(self, self.authenticate(token))

    def authenticate(self, token: str) -> User:
        """The token's user by TokenReview, cached by the token's hash for REVIEW_CACHE_SECONDS."""
        key, now = hashlib.sha256(token.encode()).hexdigest(), time.monotonic()
        with self._lock:
            cached = self._reviews.get(key)
        if cached is not None and cached.until > now:
            return cached.user
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            review = self.conn.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                       "review the caller's token", json=body)
        except ForbiddenError:
            raise ClusterUnavailableError("the service's ServiceAccount may not create TokenReviews; install the "
                                          "chart's api RBAC (api.rbac.create)") from None
        status = review.get("status") or {}
        if not status.get("authenticated"):
            raise UnauthenticatedError("the cluster did not accept your bearer token")
        info = status.get("user") or {}
        user = User(str(info.get("username")), tuple(str(g) for g in info.get("groups") or []))
        with self._lock:
            if len(self._reviews) >= REVIEW_CACHE_SIZE:
                self._reviews = {k: v for k, v in self._reviews.items() if v.until > now}
                if len(self._reviews) >= REVIEW_CACHE_SIZE:
                    self._reviews.clear()
            self._reviews[key] = _Review(user, now + REVIEW_CACHE_SECONDS)
        return user


def default_s3_client(endpoint: Optional[str], region: Optional[str], path_style: bool) -> Any:
    """boto3 with the service's credentials (environment / IRSA), the stores' retry settings."""
    import boto3
    from botocore.config import Config

    from safesynth.store import s3_retry_config

    config = Config(s3={"addressing_style": "path" if path_style else "auto"}, signature_version="s3v4",
                    **s3_retry_config(os.environ))
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)


class ClusterSession:
    """One caller's view: every Kubernetes call impersonates `user`."""

    def __init__(self, backend: ClusterBackend, user: User) -> None:
        self.backend, self.user, self.conn = backend, user, backend.conn

    def _path(self, namespace: str, name: Optional[str] = None) -> str:
        base = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}"
        return f"{base}/{name}" if name else base

    def _get(self, job: str, verb: str = "get") -> dict[str, Any]:
        namespace, name = parse_job_id(job)
        obj: dict[str, Any] = self.conn.request("GET", self._path(namespace, name), f"{verb} job {job}",
                                                user=self.user)
        return obj

    def create(self, manifest: dict[str, Any], namespace: Optional[str] = None) -> JobRecord:
        job = parse_job(manifest, source="request body")
        ns = namespace or job.metadata.namespace or self.user.service_account_namespace \
            or self.backend.default_namespace
        wire = job.model_dump(by_alias=True, mode="json", exclude_none=True)
        meta = {"name": job.metadata.name, "namespace": ns,
                **{k: wire["metadata"][k] for k in ("labels", "annotations") if wire["metadata"].get(k)}}
        body = {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "metadata": meta, "spec": wire["spec"]}
        created = self.conn.request("POST", self._path(ns), f"create job {job.metadata.name!r} in namespace "
                                    f"{ns!r}", user=self.user, json=body)
        return to_record(created)

    def list_jobs(self, namespace: Optional[str], phase: Optional[str], limit: int, after: int) -> list[JobRecord]:
        ns = namespace or self.user.service_account_namespace or self.backend.default_namespace
        listing = self.conn.request("GET", self._path(ns), f"list jobs in namespace {ns!r}", user=self.user)
        return page(listing.get("items") or [], phase, limit, after)

    def get(self, job_id: str) -> JobRecord:
        return to_record(self._get(job_id))

    def status(self, job_id: str) -> dict[str, Any]:
        status = JobStatus.model_validate(self._get(job_id).get("status") or {})
        out: dict[str, Any] = status.model_dump(by_alias=True, mode="json", exclude_none=True)
        return out

    def open_log(self, job_id: str, follow: bool) -> Iterator[bytes]:
        obj = self._get(job_id, "read the log of")  # 404/403 before the stream starts
        return self._logs(obj, follow)

    def _logs(self, obj: dict[str, Any], follow: bool) -> Iterator[bytes]:
        """Each stage pod's log once, headed by its stage and pod name; with `follow`, new pods until the job
        finishes (a running pod's log is read with follow=true, which a real API server streams to its end)."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        seen: set[str] = set()
        while True:
            pods = self.conn.request("GET", f"/api/v1/namespaces/{ns}/pods", f"list the pods of job {ns}.{name}",
                                     user=self.user, params={"labelSelector": f"{JOB_LABEL}={name}"})
            for pod in stage_pods_in_order(pods.get("items") or []):
                pod_name = pod["metadata"]["name"]
                if pod_name in seen:
                    continue
                seen.add(pod_name)
                running = (pod.get("status") or {}).get("phase") in ("Pending", "Running", None)
                stage = (pod["metadata"].get("labels") or {}).get(STAGE_LABEL, "cleanup")
                yield f"==> {stage} ({pod_name}) <==\n".encode()
                params = {"follow": "true"} if follow and running else None
                yield from self.conn.stream_text(f"/api/v1/namespaces/{ns}/pods/{pod_name}/log",
                                                 f"read the log of pod {pod_name}", user=self.user, params=params)
            if not follow:
                return
            current = self.conn.request("GET", self._path(ns, name), f"get job {ns}.{name}", user=self.user)
            if phase_of(current) in (*FINISHED, "Suspended"):
                return
            time.sleep(LOG_POLL_SECONDS)

    def results(self, job_id: str, base_url: str, now: float) -> list[Artifact]:
        obj = self._get(job_id, "read the results of")
        status = obj.get("status") or {}
        location = split_s3_uri((status.get("artifacts") or {}).get("runUri"))
        if location is None:
            return []
        bucket, prefix = location
        settings = (obj.get("spec") or {}).get("artifacts") or {}
        s3 = self.backend._s3_client(settings.get("endpoint"), settings.get("region"),
                                     bool(settings.get("pathStyle", True)))
        try:
            out = []
            for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in listing.get("Contents", []):
                    if item["Key"].endswith("/"):
                        continue
                    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": item["Key"]},
                                                    ExpiresIn=self.backend.link_seconds)
                    out.append(Artifact(item["Key"][len(prefix):], int(item["Size"]), None, url,
                                        str(item.get("ETag", "")).strip('"')))
        except Exception as err:  # botocore's error tree; reported by type and bucket, never with its message
            if type(err).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
                raise BadInputError("the jobs service has no S3 credentials to list artifacts (api.s3.secretName)"
                                    ) from None
            raise ClusterUnavailableError(f"listing the artifacts of {job_id} in bucket {bucket!r} failed "
                                          f"({type(err).__name__}); retry later") from None
        return sorted(out, key=lambda a: a.key)

    def artifact_path(self, job_id: str, key: str, expires: int, sig: str, now: float) -> Path:
        raise JobNotFoundError("on a cluster, artifacts download from the presigned S3 URLs that results lists")

    def cancel(self, job_id: str) -> JobRecord:
        obj = self._get(job_id, "cancel")
        if phase_of(obj) in FINISHED or (obj.get("spec") or {}).get("suspend"):
            return to_record(obj)
        namespace, name = parse_job_id(job_id)
        patched = self.conn.request("PATCH", self._path(namespace, name), f"cancel (patch) job {job_id}",
                                    user=self.user, json={"spec": {"suspend": True}},
                                    content_type="application/merge-patch+json")
        return to_record(patched)

    def delete(self, job_id: str) -> None:
        namespace, name = parse_job_id(job_id)
        self.conn.request("DELETE", self._path(namespace, name), f"delete job {job_id}", user=self.user,
                          json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
