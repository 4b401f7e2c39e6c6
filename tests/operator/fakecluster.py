"""An in-memory `Cluster` for unit tests of the reconciler shell: dicts, merge patches, uids.

Not an API server (that is tests/kubeapi, used by the cluster-marked tests):
just enough storage semantics (409 on create, 404 → None, JSON merge patch,
status as a subresource, label selectors of the form k=v) to drive the shell
through restarts and conflicts in milliseconds. `finish_job` plays the Job
controller and kubelet: it records a pod's termination and the Job's conditions.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any, Mapping, Optional

from safesynth_operator.cluster import AlreadyExists
from tests.kubeapi.patching import merge_patch  # the API server emulation's RFC 7386, not the operator's

_uids = itertools.count(1)


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []

    @staticmethod
    def _split(path: str) -> tuple[str, str, bool]:
        status = path.endswith("/status")
        if status:
            path = path[: -len("/status")]
        collection, _, name = path.rpartition("/")
        return collection, name, status

    def add(self, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(_uids):04d}-0000-0000")
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
        self.objects.setdefault(collection, {})[meta["name"]] = obj
        return obj

    async def get(self, path: str) -> Optional[dict[str, Any]]:
        self.calls.append(("get", path))
        collection, name, _ = self._split(path)
        obj = self.objects.get(collection, {}).get(name)
        return copy.deepcopy(obj) if obj is not None else None

    async def list(self, path: str, label_selector: str) -> list[dict[str, Any]]:
        self.calls.append(("list", path))
        want = dict(part.split("=", 1) for part in label_selector.split(",") if part)
        items = self.objects.get(path, {}).values()
        return [copy.deepcopy(o) for o in items
                if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in want.items())]

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", path))
        if body["metadata"]["name"] in self.objects.get(path, {}):
            raise AlreadyExists(path)
        json.dumps(body)  # what goes over the wire must be JSON
        return self.add(path, dict(body))

    async def patch(self, path: str, body: Mapping[str, Any]) -> Optional[dict[str, Any]]:
        self.calls.append(("patch", path))
        collection, name, status = self._split(path)
        obj = self.objects.get(collection, {}).get(name)
        if obj is None:
            return None
        json.dumps(body)
        if status:
            obj["status"] = merge_patch(obj.get("status"), body.get("status"))
        else:
            new = merge_patch(obj, {k: v for k, v in body.items() if k != "status"})
            if new.get("spec") != obj.get("spec"):
                new["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            obj.clear()
            obj.update(new)
        return copy.deepcopy(obj)

    async def delete(self, path: str) -> None:
        self.calls.append(("delete", path))
        collection, name, _ = self._split(path)
        self.objects.get(collection, {}).pop(name, None)

    # ----------------------------------------------------- the Job controller's part

    def jobs(self, namespace: str = "ns") -> dict[str, dict[str, Any]]:
        return self.objects.get(f"/apis/batch/v1/namespaces/{namespace}/jobs", {})

    def start_job(self, name: str, namespace: str = "ns") -> None:
        job = self.jobs(namespace)[name]
        job["status"] = {"active": 1, "startTime": "2024-01-01T00:00:01Z"}

    def finish_job(self, name: str, exit_code: int, message: str = "", namespace: str = "ns",
                   reason: Optional[str] = None, job_reason: Optional[str] = None) -> None:
        """The pod terminated with `exit_code` and `message`; the Job is Complete or Failed."""
        job = self.jobs(namespace)[name]
        labels = job["spec"]["template"]["metadata"]["labels"]
        self.add(f"/api/v1/namespaces/{namespace}/pods", {
            "metadata": {
                "name": f"{name}-{next(_uids):05d}",
                "labels": {**labels, "batch.kubernetes.io/job-name": name},
                "ownerReferences": [{"kind": "Job", "name": name, "uid": job["metadata"]["uid"]}],
            },
            "status": {"containerStatuses": [{"name": "stage", "state": {"terminated": {
                "exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                "message": message, "finishedAt": "2024-01-01T00:01:00Z",
            }}}]},
        })
        ok = exit_code == 0
        job["status"] = {
            "startTime": "2024-01-01T00:00:01Z",
            "succeeded" if ok else "failed": 1,
            "conditions": [{"type": "Complete" if ok else "Failed", "status": "True",
                            "reason": job_reason or ("Completed" if ok else "PodFailurePolicy"),
                            "lastTransitionTime": "2024-01-01T00:01:00Z"}],
        }
        if ok:
            job["status"]["completionTime"] = "2024-01-01T00:01:00Z"
