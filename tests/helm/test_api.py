"""The chart's optional jobs API (api.enabled): lint, render, schemas, and an install that serves real users.

The install test runs on the emulated API server with RBAC enforced
(tests/kubeapi/auth.py): `safesynth serve` starts with the container's own
arguments and the token of the ServiceAccount the chart made, so a rule
missing from the chart's ClusterRole fails the test, and a user without a
binding is refused with nothing created.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import kubernetes_validate
import pytest
import yaml

from safesynth.client import PREFIX
from tests.helm import chart
from tests.helm.test_render import restricted_violations
from tests.kubeapi.fixtures import KubeAPI

pytestmark = chart.needs_helm

ON = ["api.enabled=true"]
FULLNAME = "ss-safesynth"
API = f"{FULLNAME}-api"


def api_docs(sets: list[str] = ON, **kw: Any) -> list[chart.Manifest]:
    return [d for d in chart.template(sets=sets, **kw)
            if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "api"]


def test_off_by_default() -> None:
    assert api_docs(sets=[]) == []


def test_lint_strict_with_the_api_on(tmp_path: Path) -> None:
    values = tmp_path / "api.yaml"
    values.write_text(yaml.safe_dump({"api": {"enabled": True, "replicas": 2, "s3": {"secretName": "api-s3"},
                                              "image": {"repository": "registry.example.com/safesynth-api"},
                                              "service": {"type": "LoadBalancer"}}}))
    out = chart.helm("lint", "--strict", str(chart.CHART), "-f", str(values), check=False)
    assert out.returncode == 0 and "[WARNING]" not in out.stdout, out.stdout + out.stderr


def test_objects_rbac_and_pod() -> None:
    docs = api_docs(ON + ["api.s3.secretName=api-s3", "artifacts.endpoint=http://minio:9000"])
    assert chart.kinds(docs) == [("ClusterRole", API, None), ("ClusterRoleBinding", API, None),
                                 ("Deployment", API, "safesynth-system"), ("Service", API, "safesynth-system"),
                                 ("ServiceAccount", API, "safesynth-system")]
    role = chart.one(docs, "ClusterRole")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    ], "impersonation and token reviews only: no rights on jobs, pods or Secrets of its own"
    binding = chart.one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": "safesynth-system"}]

    deployment = chart.one(docs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert restricted_violations(spec) == []
    assert spec["serviceAccountName"] == API and spec["automountServiceAccountToken"] is True
    (container,) = spec["containers"]
    assert container["command"] == ["safesynth"] and container["args"][:3] == ["serve", "--backend", "cluster"]
    assert container["image"] == "ghcr.io/safesynth/safesynth-worker:0.1.0", "defaults to the worker image"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "api-s3",
                                                                         "key": "AWS_SECRET_ACCESS_KEY"}
    # The API's Service selects only API pods; the operator's selectors never match them.
    service = chart.one(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    operator = chart.one(chart.template(sets=ON), "Deployment", FULLNAME)
    assert not operator["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("kube_version", ["1.29.0", "1.33.0"])
def test_manifests_validate_against_kubernetes_schemas(kube_version: str) -> None:
    for doc in api_docs(ON + ["api.s3.secretName=api-s3"]):
        kubernetes_validate.validate(doc, kube_version, strict=True)


@pytest.mark.parametrize(("sets", "where"), [
    (["api.port=80"], "/api/port"),
    (["api.image.digest=latest"], "/api/image/digest"),
    (["api.defaultNamespace=Team_A"], "/api/defaultNamespace"),
    (["api.enable=true"], "additional properties 'enable'"),
    (["api.service.type=Ingress"], "/api/service/type"),
])
def test_wrong_values_fail_the_schema(sets: list[str], where: str) -> None:
    err = chart.render_error(sets=sets)
    assert "don't meet the specifications of the schema" in err and where in err, err


# ------------------------------------------------------------------------------------ on the cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api_process(kube_api: KubeAPI, tmp_path: Path) -> Iterator[str]:
    """`helm install` with the API on, then `safesynth serve` as its Deployment runs it, with its SA's token."""
    auth = kube_api.enable_rbac()
    out = kube_api.helm("install", "ss", str(chart.CHART), "--namespace", "safesynth-system", "--create-namespace",
                        "--set", "api.enabled=true", "--set", "api.defaultNamespace=team-a")
    assert out.returncode == 0, out.stderr
    (container,) = kube_api.objects.get("deployments", API, "safesynth-system")["spec"]["template"]["spec"][
        "containers"]
    sa = kube_api.objects.get("deployments", API, "safesynth-system")["spec"]["template"]["spec"][
        "serviceAccountName"]
    config = yaml.safe_load(kube_api.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = auth.service_account_token("safesynth-system", sa)
    kubeconfig = tmp_path / "api-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    port = _free_port()
    args = list(container["args"])
    args[args.index("--host") + 1], args[args.index("--port") + 1] = "127.0.0.1", str(port)
    command = [str(Path(sys.executable).parent / container["command"][0]), *args, "--kubeconfig", str(kubeconfig)]
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen(command, env=kube_api.env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "api.log").read_text()
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.mark.slow
@pytest.mark.cluster
def test_installed_api_serves_users_with_their_own_rights(kube_api: KubeAPI, api_process: str) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    rbac = "rbac.authorization.k8s.io"
    kube_api.create({"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": "jobs-user"},
                     "rules": [{"apiGroups": ["safesynth.io"], "resources": ["safesynthjobs"],
                                "verbs": ["get", "list", "create", "patch", "delete"]}]})
    kube_api.create({"apiVersion": f"{rbac}/v1", "kind": "RoleBinding",
                     "metadata": {"name": "alice", "namespace": "team-a"},
                     "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "jobs-user"},
                     "subjects": [{"kind": "User", "name": "alice"}]})
    auth = kube_api.server.enable_rbac()
    alice, bob = auth.token_for("alice"), auth.token_for("bob")
    job = {"name": "demo", "spec": {"data": {"uri": "s3://in/table.csv"}}}

    refused = httpx.post(api_process + PREFIX, json=job, headers={"Authorization": f"Bearer {bob}"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Forbidden"
    assert kube_api.objects.list("safesynthjobs") == []
    created = httpx.post(api_process + PREFIX, json=job, headers={"Authorization": f"Bearer {alice}"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "team-a.demo"
    assert kube_api.objects.get("safesynthjobs", "demo", "team-a")["spec"]["data"]["uri"] == "s3://in/table.csv"
    listed = httpx.get(api_process + PREFIX, headers={"Authorization": f"Bearer {alice}"}).json()
    assert [j["id"] for j in listed["data"]] == ["team-a.demo"]
    assert httpx.get(api_process + PREFIX).status_code == 401
