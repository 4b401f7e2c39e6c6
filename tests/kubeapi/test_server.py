"""The emulated API server as the official kubernetes python client sees it.

Each test talks HTTP through a kubeconfig, so status codes, bodies and watch
streams are checked the way the operator's own client calls would meet them.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.cluster


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _message(exc: ApiException) -> str:
    return json.loads(exc.body)["message"]


def _cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data}


def _job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "main", "image": "busybox:1",
                                                           "command": ["true"]}]}}, **spec}}


def test_configmap_crud_watch_and_stale_resource_version(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    created = core.create_namespaced_config_map("default", _cm("a", x="1"))
    assert created is not None, "create must answer 201 with the object (the client returns None on 200)"
    meta = created.metadata
    assert meta.uid and meta.resource_version and meta.creation_timestamp

    listed = core.list_namespaced_config_map("default")
    assert [i.metadata.name for i in listed.items] == ["a"]
    assert int(listed.metadata.resource_version) >= int(meta.resource_version)

    events: list[tuple[str, str]] = []

    def watch_it() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=5):
            events.append((ev["type"], ev["object"].data.get("x")))
            if len(events) == 2:
                w.stop()

    t = threading.Thread(target=watch_it)
    t.start()
    _wait_for(lambda: events)  # the watch is open and has replayed the current state
    patched = core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}})
    t.join(timeout=5)
    assert events == [("ADDED", "1"), ("MODIFIED", "2")]
    assert int(patched.metadata.resource_version) > int(meta.resource_version)

    stale = core.read_namespaced_config_map("a", "default")
    stale.metadata.resource_version = meta.resource_version
    stale.data = {"x": "3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("a", "default", stale)
    assert err.value.status == 409 and "Conflict" in err.value.body

    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", _cm("a"))
    assert err.value.status == 409 and "AlreadyExists" in err.value.body
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("missing", "default")
    assert err.value.status == 404 and "NotFound" in err.value.body


def test_noop_update_keeps_resource_version(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    rv = core.create_namespaced_config_map("default", _cm("a", x="1")).metadata.resource_version
    again = core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    assert again.metadata.resource_version == rv


def test_watch_resumes_from_resource_version(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    rv = core.create_namespaced_config_map("default", _cm("a")).metadata.resource_version
    core.create_namespaced_config_map("default", _cm("b"))
    core.delete_namespaced_config_map("a", "default")
    seen = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1)]
    assert seen == [("ADDED", "b"), ("DELETED", "a")]


def test_label_and_field_selectors(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    core.create_namespaced_config_map("default", _cm("a", {"app": "x", "tier": "db"}))
    core.create_namespaced_config_map("default", _cm("b", {"app": "y"}))
    core.create_namespaced_config_map("default", _cm("c"))

    def names(**kw: str) -> list[str]:
        return [i.metadata.name for i in core.list_namespaced_config_map("default", **kw).items]

    assert names(label_selector="app=x") == ["a"]
    assert names(label_selector="app!=x") == ["b", "c"]
    assert names(label_selector="app in (x,y)") == ["a", "b"]
    assert names(label_selector="app notin (x)") == ["b", "c"]
    assert names(label_selector="tier") == ["a"]
    assert names(label_selector="!app") == ["c"]
    assert names(label_selector="app,app!=y") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    with pytest.raises(ApiException) as err:
        names(field_selector="data.x=1")
    assert err.value.status == 400


def test_cluster_wide_list_and_missing_namespace(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map("default", _cm("a"))
    core.create_namespaced_config_map("other", _cm("b"))
    everywhere = core.list_config_map_for_all_namespaces()
    assert sorted((i.metadata.namespace, i.metadata.name) for i in everywhere.items) == [
        ("default", "a"), ("other", "b")]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nowhere", _cm("c"))
    assert err.value.status == 404


def test_status_subresource_and_generation(kube_api):
    batch = client.BatchV1Api(kube_api.api_client())
    body = _job("j")
    body["status"] = {"succeeded": 5}
    job = batch.create_namespaced_job("default", body)
    assert job.status.succeeded is None, "create drops .status"
    assert job.metadata.generation == 1
    assert job.spec.backoff_limit == 6 and job.spec.template.metadata.labels["job-name"] == "j"

    job = batch.patch_namespaced_job_status("j", "default", {"status": {"active": 1}, "metadata": {
        "labels": {"ignored": "yes"}}})
    assert job.status.active == 1 and not (job.metadata.labels or {}).get("ignored")
    assert job.metadata.generation == 1, "status writes do not bump generation"

    job = batch.patch_namespaced_job("j", "default", {"status": {"active": 9}, "metadata": {"labels": {"l": "1"}}})
    assert job.status.active == 1, "main-resource writes ignore .status"
    assert job.metadata.labels["l"] == "1" and job.metadata.generation == 1

    job = batch.patch_namespaced_job("j", "default", {"spec": {"backoffLimit": 2}})
    assert job.metadata.generation == 2

    with pytest.raises(ApiException) as err:
        batch.patch_namespaced_job("j", "default", {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "other:2"}]}}}})
    assert err.value.status == 422 and "spec.template" in err.value.body and "immutable" in err.value.body


def test_job_validation_matches_real_rules(kube_api):
    batch = client.BatchV1Api(kube_api.api_client())
    bad = _job("j", podFailurePolicy={"rules": [{"action": "FailJob",
                                                 "onExitCodes": {"operator": "In", "values": [3, 2]}}]})
    bad["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job("default", bad)
    assert err.value.status == 422
    assert 'only "Never" is supported when podFailurePolicy is specified' in _message(err.value)
    assert "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 2: must be ordered" in _message(
        err.value)
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job("default", _job("x" * 64))
    assert err.value.status == 422 and "must be no more than 63 characters" in err.value.body


def test_owner_cascade_and_job_orphan_default(kube_api):
    api = kube_api.api_client()
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    owner = core.create_namespaced_config_map("default", _cm("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    child = _cm("child")
    child["metadata"]["ownerReferences"] = [ref]
    core.create_namespaced_config_map("default", child)
    grandchild = _cm("grandchild")
    grandchild["metadata"]["ownerReferences"] = [{**ref, "name": "child", "uid": core.read_namespaced_config_map(
        "child", "default").metadata.uid}]
    core.create_namespaced_config_map("default", grandchild)
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    assert core.list_namespaced_config_map("default").items == []

    job = batch.create_namespaced_job("default", _job("j"))
    pod = {"metadata": {"name": "j-pod", "ownerReferences": [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": job.metadata.uid, "controller": True}]},
        "spec": {"containers": [{"name": "main", "image": "busybox:1"}]}}
    core.create_namespaced_pod("default", pod)
    batch.delete_namespaced_job("j", "default")  # no propagationPolicy: batch/v1 orphans the pods
    remaining = core.read_namespaced_pod("j-pod", "default")
    assert not remaining.metadata.owner_references


def test_finalizers_hold_deletion(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    body = _cm("a")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("a", "default")
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": ["example.com/hold", "x/y"]}})
    assert err.value.status == 422
    core.patch_namespaced_config_map("a", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("a", "default")
    assert err.value.status == 404


def test_dry_run_and_json_patch(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    core.create_namespaced_config_map("default", _cm("dry"), dry_run="All")
    assert core.list_namespaced_config_map("default").items == []
    core.create_namespaced_config_map("default", _cm("a", x="1"))
    out = core.patch_namespaced_config_map("a", "default", [{"op": "replace", "path": "/data/x", "value": "2"},
                                                           {"op": "add", "path": "/data/y", "value": "3"}])
    assert out.data == {"x": "2", "y": "3"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("a", "default", [{"op": "test", "path": "/data/x", "value": "9"}])
    assert err.value.status == 422


def test_secret_string_data_and_unknown_builtin_fields(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    sec = core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert sec.data == {"k": "dg=="} and sec.type == "Opaque"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {**_cm("strict"), "spec": {"x": 1}},
                                          field_validation="Strict")
    assert err.value.status == 400 and 'strict decoding error: unknown field "spec"' in _message(err.value)
    core.create_namespaced_config_map("default", {**_cm("warn"), "spec": {"x": 1}})
    assert "spec" not in kube_api.objects.get("configmaps", "warn"), "Warn (the default) prunes unknown fields"


def test_discovery_and_request_log(kube_api):
    api = kube_api.api_client()
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"batch", "apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io",
            "events.k8s.io"} <= groups
    resources = client.BatchV1Api(api).get_api_resources().resources
    assert {r.name for r in resources} >= {"jobs", "jobs/status"}
    client.CoreV1Api(api).list_namespaced_pod("default")
    assert ("", "pods", "list") in kube_api.server.permissions(user_agent="OpenAPI-Generator")


def test_custom_resource_status_generation_and_patch_types(kube_api):
    kube_api.install_crds()
    custom = client.CustomObjectsApi(kube_api.api_client())
    args = ("safesynth.io", "v1alpha1", "default", "safesynthjobs")
    body = {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": "demo"},
            "spec": {"data": {"uri": "x.csv"}}, "status": {"phase": "Succeeded"}}
    obj = custom.create_namespaced_custom_object(*args, body)
    assert "status" not in obj and obj["metadata"]["generation"] == 1
    assert obj["spec"]["data"]["holdoutFraction"] == 0.1, "schema defaults applied on create"

    obj = custom.patch_namespaced_custom_object_status(*args, "demo", {"status": {"phase": "Running"}})
    assert obj["status"]["phase"] == "Running" and obj["status"]["stages"] == [], "status defaults applied"
    assert obj["metadata"]["generation"] == 1
    obj = custom.patch_namespaced_custom_object(*args, "demo", {"status": {"phase": "Failed"},
                                                                "spec": {"suspend": True}})
    assert obj["status"]["phase"] == "Running" and obj["metadata"]["generation"] == 2

    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object_status(*args, "demo", {"status": {"phase": "Bogus"}})
    assert err.value.status == 422 and "status.phase: Unsupported value" in _message(err.value)
    with pytest.raises(ApiException) as err:  # custom resources take no strategic merge patch
        custom.patch_namespaced_custom_object(*args, "demo", {"spec": {}},
                                              _content_type="application/strategic-merge-patch+json")
    assert err.value.status == 415
    stale = {"metadata": {"resourceVersion": "1"}, "spec": {"suspend": False}}
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(*args, "demo", stale)
    assert err.value.status == 409


def test_namespace_delete_removes_contents(kube_api):
    core = client.CoreV1Api(kube_api.api_client())
    core.create_namespace({"metadata": {"name": "tmp"}})
    core.create_namespaced_config_map("tmp", _cm("a"))
    core.delete_namespace("tmp")
    assert core.list_config_map_for_all_namespaces().items == []


def test_watch_from_expired_resource_version_gets_410(kube_api):
    import collections
    import urllib.request

    kube_api.store._history = collections.deque(maxlen=2)  # a short history, as after etcd compaction
    core = client.CoreV1Api(kube_api.api_client())
    for name in "abc":
        core.create_namespaced_config_map("default", _cm(name))
    url = f"{kube_api.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1"
    with urllib.request.urlopen(url, timeout=5) as response:
        event = json.loads(response.readline())
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
