"""The jobs API over the cluster backend: real HTTP to the service, the service to the emulated API server.

The emulated server enforces RBAC here (tests/kubeapi/auth.py): the service's
ServiceAccount holds only `impersonate` and `create tokenreviews`; alice may
manage SafeSynthJobs and read pod logs in team-a; bob has no binding. Every
route is checked for success, a bad request where it takes input (400 with
the field path), an unknown job (404) and a caller without rights (403, and
nothing changed). Artifacts live on moto's S3 server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import pytest

from safesynth.client import PREFIX, Client
from safesynth.service.cluster import ClusterBackend
from safesynth.service.kube import KubeConnection
from tests.kubeapi.fixtures import KubeAPI
from tests.s3server import admin_client
from tests.workers.service.conftest import serve

pytestmark = pytest.mark.cluster

SERVICE_RULES = [
    {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
]
USER_RULES = [
    {"apiGroups": ["safesynth.io"], "resources": ["safesynthjobs"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
]
RBAC = "rbac.authorization.k8s.io"


@dataclass
class Cluster:
    kube: KubeAPI
    url: str
    alice: str
    bob: str

    def call(self, method: str, path: str = "", token: Optional[str] = "alice", **kw: Any) -> httpx.Response:
        bearer = {"alice": self.alice, "bob": self.bob}.get(token or "", token)
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.request(method, self.url + PREFIX + path, headers=headers, timeout=30, **kw)

    def jobs(self, ns: str = "team-a") -> list[str]:
        return [o["metadata"]["name"] for o in self.kube.objects.list("safesynthjobs", ns)]

    def set_status(self, name: str, status: dict[str, Any], ns: str = "team-a") -> None:
        store = self.kube.store
        store.patch(store.resolve("safesynthjobs"), ns, name, {"status": status}, "application/merge-patch+json",
                    subresource="status")


def manifest(name: str = "demo", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name},
            "spec": {"data": {"uri": "s3://in/table.csv"}, **spec}}


@pytest.fixture
def cluster(kube_api: KubeAPI, s3_env: str) -> Iterator[Cluster]:
    auth = kube_api.enable_rbac()
    kube_api.install_crds()
    for ns in ("team-a", "safesynth-system"):
        kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kube_api.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "api"},
                     "rules": SERVICE_RULES})
    kube_api.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "api"},
                     "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "api"},
                     "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": "safesynth-system"}]})
    kube_api.create({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "jobs-user"},
                     "rules": USER_RULES})
    kube_api.create({"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                     "metadata": {"name": "alice", "namespace": "team-a"},
                     "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "jobs-user"},
                     "subjects": [{"kind": "User", "name": "alice"}]})
    conn = KubeConnection(kube_api.url, token=auth.service_account_token("safesynth-system", "api"))
    backend = ClusterBackend(conn, default_namespace="team-a")
    try:
        with serve(backend) as url:
            yield Cluster(kube_api, url, auth.token_for("alice", ["data-team"]), auth.token_for("bob"))
    finally:
        backend.stop()


def test_create_as_the_caller_and_nothing_for_a_caller_without_rights(cluster: Cluster) -> None:
    created = cluster.call("POST", json=manifest())
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["id"], job["namespace"], job["phase"]) == ("team-a.demo", "team-a", "Pending")
    assert cluster.jobs() == ["demo"]
    made = [r for r in cluster.kube.requests if r.resource == "safesynthjobs" and r.verb == "create"]
    assert [(r.user, r.impersonated_by) for r in made] == [("alice", "system:serviceaccount:safesynth-system:api")]
    own = {(r.group, r.resource, r.verb) for r in cluster.kube.requests if r.impersonated_by is None
           and r.user and r.user.endswith(":api") and r.resource}
    assert own == {("authentication.k8s.io", "tokenreviews", "create")}, "the service acts on nothing as itself"

    short = cluster.call("POST", json={"name": "short", "spec": manifest()["spec"]})
    assert short.status_code == 201 and short.json()["id"] == "team-a.short"
    assert cluster.call("POST", json=manifest()).status_code == 409

    refused = cluster.call("POST", token="bob", json=manifest("bobs"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Forbidden"
    elsewhere = cluster.call("POST", json=manifest("other"), params={"namespace": "default"})
    assert elsewhere.status_code == 403, "alice's rights stop at team-a"
    assert cluster.call("POST", token=None, json=manifest("anon")).status_code == 401
    assert cluster.call("POST", token="forged-token", json=manifest("forged")).status_code == 401
    assert sorted(cluster.jobs()) == ["demo", "short"] and cluster.jobs("default") == []


def test_bad_requests_are_400_with_field_paths_and_create_nothing(cluster: Cluster) -> None:
    secret = "s3cr3t-value-123"
    bad = cluster.call("POST", json=manifest(training={"maxSteps": secret}))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidSpec"
    assert {d["fieldPath"] for d in bad.json()["error"]["details"]} == {"spec.training.maxSteps"}
    assert secret not in bad.text and cluster.jobs() == []
    listing = cluster.call("GET", params={"limit": 0})
    assert listing.status_code == 400 and listing.json()["error"]["details"][0]["fieldPath"] == "query.limit"
    logs = cluster.call("GET", "/team-a.demo/logs", params={"follow": "maybe"})
    assert logs.status_code == 400 and logs.json()["error"]["details"][0]["fieldPath"] == "query.follow"


def test_list_get_and_status(cluster: Cluster) -> None:
    for n in range(3):
        assert cluster.call("POST", json=manifest(f"job-{n}")).status_code == 201
    cluster.set_status("job-1", {"phase": "Succeeded", "headline": {"sqs": 8.5}})
    first = cluster.call("GET", params={"limit": 2}).json()
    assert [j["name"] for j in first["data"]] == ["job-0", "job-1"] and first["nextPageToken"] == "2"
    rest = cluster.call("GET", params={"limit": 2, "pageToken": first["nextPageToken"]}).json()
    assert [j["name"] for j in rest["data"]] == ["job-2"] and rest["nextPageToken"] is None
    assert [j["name"] for j in cluster.call("GET", params={"phase": "Succeeded"}).json()["data"]] == ["job-1"]
    assert cluster.call("GET", "/team-a.job-1").json()["spec"]["data"]["uri"] == "s3://in/table.csv"
    status = cluster.call("GET", "/team-a.job-1/status").json()
    assert status["phase"] == "Succeeded" and status["headline"]["sqs"] == 8.5
    assert cluster.call("GET", "/team-a.job-0/status").json()["phase"] == "Pending"

    assert cluster.call("GET", token="bob").status_code == 403
    for suffix in ("", "/status"):
        assert cluster.call("GET", "/team-a.job-1" + suffix, token="bob").status_code == 403
        assert cluster.call("GET", "/team-a.nope" + suffix).status_code == 404
        assert cluster.call("GET", "/not-an-id" + suffix).status_code == 404


def test_logs_of_the_stage_pods_in_stage_order(cluster: Cluster) -> None:
    assert cluster.call("POST", json=manifest()).status_code == 201
    for stage, text in (("pii", "pii done\n"), ("prepare", "prepared 400 rows\n")):
        pod = cluster.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"demo-{stage}-x1", "namespace": "team-a",
            "labels": {"safesynth.io/job": "demo", "safesynth.io/stage": stage}},
            "spec": {"containers": [{"name": "stage", "image": "w"}]}})[0]
        cluster.kube.store.pod_logs[("team-a", pod["metadata"]["name"])] = text
    log = cluster.call("GET", "/team-a.demo/logs")
    assert log.status_code == 200
    assert log.text == "==> prepare (demo-prepare-x1) <==\nprepared 400 rows\n==> pii (demo-pii-x1) <==\npii done\n"
    assert cluster.call("GET", "/team-a.demo/logs", token="bob").status_code == 403
    assert cluster.call("GET", "/team-a.nope/logs").status_code == 404


def test_results_list_s3_objects_with_etag_and_a_presigned_url(cluster: Cluster, s3_bucket: str, s3_env: str,
                                                               tmp_path: Path) -> None:
    assert cluster.call("POST", json=manifest()).status_code == 201
    s3 = admin_client(s3_env)
    run = "team-a/demo-0123abcd/"
    files = {"evaluate/report.html": b"<html>report</html>", "status.json": b"{}"}
    for key, body in files.items():
        s3.put_object(Bucket=s3_bucket, Key=run + key, Body=body)
    s3.put_object(Bucket=s3_bucket, Key="team-a/other-run/status.json", Body=b"not this run")
    assert cluster.call("GET", "/team-a.demo/results").json()["data"] == [], "no run URI in status yet"
    cluster.set_status("demo", {"artifacts": {"runUri": f"s3://{s3_bucket}/{run}"}})

    found = {a["key"]: a for a in cluster.call("GET", "/team-a.demo/results").json()["data"]}
    assert set(found) == set(files)
    report = found["evaluate/report.html"]
    assert report["size"] == len(files["evaluate/report.html"]) and report["sha256"] is None
    assert report["etag"] == hashlib.md5(files["evaluate/report.html"]).hexdigest()
    assert "X-Amz-Expires=900" in report["url"] and "Signature" in report["url"]
    assert httpx.get(report["url"]).content == files["evaluate/report.html"], "the presigned URL downloads"
    client = Client(cluster.url, token=cluster.alice)  # the CLI's client: token to the service, none to S3
    try:
        fetched = client.download("team-a.demo", "evaluate/report.html", tmp_path / "report.html")
    finally:
        client.close()
    assert fetched.read_bytes() == files["evaluate/report.html"]

    assert cluster.call("GET", "/team-a.demo/results", token="bob").status_code == 403
    assert cluster.call("GET", "/team-a.nope/results").status_code == 404


def test_cancel_suspends_and_delete_removes(cluster: Cluster) -> None:
    assert cluster.call("POST", json=manifest()).status_code == 201
    cluster.set_status("demo", {"phase": "Running", "stage": "train"})
    assert cluster.call("POST", "/team-a.demo/cancel", token="bob").status_code == 403
    assert cluster.kube.objects.get("safesynthjobs", "demo", "team-a")["spec"]["suspend"] is False
    cancelled = cluster.call("POST", "/team-a.demo/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["phase"] == "Suspended"
    assert cluster.kube.objects.get("safesynthjobs", "demo", "team-a")["spec"]["suspend"] is True
    assert cluster.call("POST", "/team-a.demo/cancel").json()["phase"] == "Suspended"  # idempotent
    assert cluster.call("POST", "/team-a.nope/cancel").status_code == 404

    assert cluster.call("DELETE", "/team-a.demo", token="bob").status_code == 403
    assert cluster.jobs() == ["demo"]
    assert cluster.call("DELETE", "/team-a.demo").status_code == 204
    assert cluster.jobs() == []
    assert cluster.call("DELETE", "/team-a.demo").status_code == 404
    assert cluster.call("GET", "/team-a.demo").status_code == 404
