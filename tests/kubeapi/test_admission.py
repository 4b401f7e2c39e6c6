"""What the emulation refuses, and with which status: one row per check. Pure, no HTTP.

These checks are why the emulation exists (a Job, ConfigMap or chart object
that a real API server would refuse must fail the cluster tests too), yet the
operator and the chart never trip them when all is well; this table makes sure
each one still fires, with the real server's status code and wording.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.kubeapi.errors import ApiError
from tests.kubeapi.store import ObjectStore

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "safesynthjobs.safesynth.io.yaml").read_text())
JOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "demo-prepare", "namespace": "default"},
    "spec": {"backoffLimit": 2, "template": {"spec": {
        "restartPolicy": "Never", "volumes": [{"name": "spec", "emptyDir": {}}],
        "containers": [{"name": "stage", "image": "worker:1", "env": [{"name": "A", "value": "1"}],
                        "volumeMounts": [{"name": "spec", "mountPath": "/etc/safesynth"}]}]}},
        "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
            "containerName": "stage", "operator": "In", "values": [2, 3]}}]}},
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "op"},
    "spec": {"selector": {"matchLabels": {"app": "op"}}, "template": {
        "metadata": {"labels": {"app": "op"}}, "spec": {"containers": [{"name": "op", "image": "op:1"}]}}},
}


def _said(err: ApiError) -> str:
    """The Status message and each cause as `field: message`, as kubectl prints them."""
    status = err.to_status()
    causes = (status.get("details") or {}).get("causes") or []
    return "\n".join([status["message"], *(f"{c.get('field')}: {c['message']}" for c in causes)])


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with the dotted `path` set (list indexes as numbers); None deletes the key."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is None:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return out


def _job(path: str, value: Any) -> tuple[str, dict[str, Any]]:
    return "jobs", _set(JOB, path, value)


CONTAINER = "spec.template.spec.containers.0"
RULE = "spec.podFailurePolicy.rules.0"

#: (resource, object to create) → (status, a fragment of one cause or of the message)
CREATE_CASES: list[tuple[tuple[str, dict[str, Any]], int, str]] = [
    (_job("metadata.name", "Demo_Prepare"), 422, "metadata.name: Invalid value"),
    (_job("metadata.name", "x" * 254), 422, "must be no more than 253 characters"),
    (_job("metadata.name", None), 422, "name or generateName is required"),
    (("rolebindings", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": "a%b"}, "roleRef": {}}), 422, "may not contain '/' or '%'"),
    (_job("metadata.labels", {"-bad": "x"}), 422, "name part must consist of alphanumeric characters"),
    (_job("metadata.labels", {"a": 1}), 422, "label values must be strings"),
    (_job("metadata.labels", {"a": "-x-"}), 422, "a valid label must be an empty string"),
    (_job("metadata.labels", ["a"]), 422, "must be a map of strings"),
    (_job("metadata.annotations", {"a": "x" * (256 * 1024)}), 422, "Too long: must have at most 262144 bytes"),
    (_job("metadata.ownerReferences", [{"apiVersion": "v1", "kind": "X", "name": "x"}]), 422,
     "metadata.ownerReferences[0].uid"),
    (_job("metadata.ownerReferences", [{"apiVersion": "v1", "kind": "X", "name": n, "uid": n, "controller": True}
                                       for n in "ab"]), 422, "Only one reference can have Controller set to true"),
    (_job("spec.template.spec.containers", []), 422, "spec.template.spec.containers: Required value"),
    (_job(f"{CONTAINER}.name", ""), 422, "containers[0].name: Required value"),
    (_job(f"{CONTAINER}.name", "Stage"), 422, "a lowercase RFC 1123 label"),
    (_job("spec.template.spec.containers", [JOB["spec"]["template"]["spec"]["containers"][0]] * 2), 422,
     "Duplicate value: \"stage\""),
    (_job(f"{CONTAINER}.image", ""), 422, "containers[0].image: Required value"),
    (_job(f"{CONTAINER}.env", [{"value": "1"}]), 422, "env[0].name: Required value"),
    (_job(f"{CONTAINER}.env", [{"name": "A", "value": 1}]), 422, "env[0].value: Invalid value: 1: must be a string"),
    (_job(f"{CONTAINER}.volumeMounts.0.name", "other"), 422, "volumeMounts[0].name: Not found"),
    (_job("spec.template.spec.restartPolicy", "Always"), 422, "spec.template.spec.restartPolicy: Unsupported value"),
    (_job("spec.backoffLimit", -1), 422, "spec.backoffLimit: Invalid value: -1"),
    (_job(f"{RULE}.action", "Retry"), 422, "action: Unsupported value"),
    (_job(f"{RULE}.onPodConditions", [{"type": "DisruptionTarget"}]), 422, "one of OnExitCodes and OnPodConditions"),
    (_job(f"{RULE}.onExitCodes.operator", "Is"), 422, "onExitCodes.operator: Unsupported value"),
    (_job(f"{RULE}.onExitCodes.containerName", "other"), 422, "must be one of the container"),
    (_job(f"{RULE}.onExitCodes.values", []), 422, "at least one value is required"),
    (_job(f"{RULE}.onExitCodes.values", [0, 2]), 422, "must not be 0 for the In operator"),
    (_job(f"{RULE}.onExitCodes.values", [2, 2]), 422, "Duplicate value: 2"),
    (_job(f"{RULE}.onExitCodes.values", [3, 2]), 422, "must be ordered"),
    (("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a/b": "x"}}),
     422, "a valid config key must consist"),
    (("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}}),
     422, "must be a string"),
    (("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                     "data": {"a": "x" * (1024 * 1024)}}), 422, "Too long: must have at most 1048576 bytes"),
    (("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "i"}]}}),
     422, "spec.restartPolicy: Unsupported value"),
    (("deployments", _set(DEPLOYMENT, "spec.selector", None)), 422, "spec.selector: Required value"),
    (("deployments", _set(DEPLOYMENT, "spec.template.metadata.labels", {"app": "x"})), 422,
     "`selector` does not match template `labels`"),
    (("crds", _set(CRD, "spec.group", "local")), 422, "should be a domain with at least one dot"),
    (("crds", _set(CRD, "spec.names.kind", "")), 422, "spec.names.kind: Required value"),
    (("crds", _set(CRD, "metadata.name", "ssj.safesynth.io")), 422, "must be spec.names.plural+\".\"+spec.group"),
    (("crds", _set(CRD, "spec.scope", "Global")), 422, "spec.scope: Unsupported value"),
    (("crds", _set(CRD, "spec.versions", [])), 422, "must have exactly one version marked as storage"),
    (("crds", _set(CRD, "spec.versions.0.storage", False)), 422, "must have exactly one version marked as storage"),
    (("crds", _set(CRD, "spec.versions.0.schema", None)), 422, "schemas are required"),
    (("crds", _set(CRD, "spec.versions.0.schema.openAPIV3Schema.x-kubernetes-validations", [{"rule": "self.("}])),
     422, "compilation failed"),
    (_job("apiVersion", "batch/v2"), 400, "does not match the expected API version"),
    (_job("kind", "CronJob"), 400, "does not match the expected kind"),
    (_job("metadata.namespace", "other"), 400, "does not match the namespace sent on the request"),
    (("jobs", "not an object"), 400, "was not a JSON object"),
]


@pytest.mark.parametrize("case, code, fragment", CREATE_CASES,
                         ids=[f"{r}-{i}" for i, ((r, _), _, _) in enumerate(CREATE_CASES)])
def test_create_is_refused(case: tuple[str, Any], code: int, fragment: str) -> None:
    store = ObjectStore()
    resource, body = case
    rt = store.resolve(resource)
    with pytest.raises(ApiError) as err:
        store.create(rt, "default" if rt.namespaced else None, body)
    assert err.value.code == code
    assert fragment in _said(err.value)


def _created(store: ObjectStore, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    rt = store.resolve(resource)
    return store.create(rt, "default" if rt.namespaced else None, body).obj


WRITE_CASES: list[tuple[str, Callable[[ObjectStore], Any], int, str]] = [
    ("immutable Job template", lambda s: s.update(s.resolve("jobs"), "default", "demo-prepare", _set(
        _created(s, "jobs", JOB), f"{CONTAINER}.image", "worker:2")), 422, "spec.template: Invalid value"),
    ("immutable ConfigMap", lambda s: s.patch(s.resolve("cm"), "default", "c", {"data": {"a": "2"}},
                                              "application/merge-patch+json") if _created(s, "cm", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True})
     else None, 422, "field is immutable when `immutable` is set"),
    ("no finalizer added while deleting", lambda s: (
        _created(s, "cm", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a/b"]}}),
        s.delete(s.resolve("cm"), "default", "c"),
        s.patch(s.resolve("cm"), "default", "c", {"metadata": {"finalizers": ["a/b", "c/d"]}},
                "application/merge-patch+json")), 422, "no new finalizers can be added"),
    ("PUT of a missing object", lambda s: s.update(s.resolve("jobs"), "default", "gone", JOB), 404, "not found"),
    ("PATCH of a missing object", lambda s: s.patch(s.resolve("jobs"), "default", "gone", {},
                                                    "application/merge-patch+json"), 404, "not found"),
    ("DELETE of a missing object", lambda s: s.delete(s.resolve("jobs"), "default", "gone"), 404, "not found"),
    ("unknown patch type", lambda s: s.patch(s.resolve("jobs"), "default", _created(s, "jobs", JOB)["metadata"][
        "name"], {}, "application/x-patch"), 415, "application/x-patch"),
    ("create in a missing namespace", lambda s: s.create(s.resolve("jobs"), "nowhere",
                                                                _set(JOB, "metadata.namespace", None)), 404,
     'namespaces "nowhere" not found'),
]


@pytest.mark.parametrize("what, write, code, fragment", WRITE_CASES, ids=[c[0] for c in WRITE_CASES])
def test_write_is_refused(what: str, write: Callable[[ObjectStore], Any], code: int, fragment: str) -> None:
    with pytest.raises(ApiError) as err:
        write(ObjectStore())
    assert err.value.code == code
    assert fragment in _said(err.value)


def test_dry_run_writes_change_nothing() -> None:
    store = ObjectStore()
    jobs = store.resolve("jobs")
    job = _created(store, "jobs", JOB)
    patched = store.patch(jobs, "default", "demo-prepare", {"metadata": {"labels": {"a": "b"}}},
                          "application/merge-patch+json", dry_run=True).obj
    assert patched["metadata"]["labels"] == {"a": "b"}
    store.delete(jobs, "default", "demo-prepare", propagation="Background", dry_run=True)
    assert store.get(jobs, "default", "demo-prepare") == job
