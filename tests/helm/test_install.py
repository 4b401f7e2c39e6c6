"""The chart on the emulated API server (tests/kubeapi), with the real helm and kubectl, and the real operator.

Each test installs the chart, then starts `python -m safesynth_operator` the
way the Deployment would: the environment of its container and the settings
file from the installed ConfigMap (only the ports are moved to free ones). A
job then runs through every stage (the fast test kubelet completes the pods),
and every request the operator made is authorized against the Roles and
bindings the chart installed, as the API server's RBAC would: anything not
granted fails the test. The emulation enforces no RBAC itself (see
tests/kubeapi/README.md), so this comparison is the check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import yaml

from safesynth.spec.models import STAGE_ORDER
from tests.helm import argocd_health, chart
from tests.kubeapi.fixtures import KubeAPI
from tests.kubeapi.server import RequestRecord
from tests.operator.operator_process import OperatorProcess
from tests.operator.test_cluster import wait_for

pytestmark = [pytest.mark.cluster, chart.needs_helm, chart.needs_kubectl]

RELEASE_NS = "safesynth-system"
RELEASE = "ss"
FULLNAME = f"{RELEASE}-safesynth"


def namespace(kube_api: KubeAPI, name: str) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def job_manifest(name: str, ns: str) -> str:
    return yaml.safe_dump({"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob",
                           "metadata": {"name": name, "namespace": ns},
                           "spec": {"data": {"uri": "s3://in/table.csv"}}})


def ok(job: dict[str, Any], attempt: int) -> tuple[int, str]:
    stage = job["metadata"]["labels"].get("safesynth.io/stage", "cleanup")
    return 0, json.dumps({"stage": stage, "specHash": "h", "durationSeconds": 0.1, "skipped": False})


def phase(kube_api: KubeAPI, name: str, ns: str) -> Optional[str]:
    obj = kube_api.objects.find("safesynthjobs", name, ns) or {}
    return (obj.get("status") or {}).get("phase")


@pytest.fixture
def start_operator(kube_api: KubeAPI, tmp_path: Path) -> Iterator[Callable[[], OperatorProcess]]:
    """The operator as the installed Deployment describes it (env and mounted settings file)."""
    started: list[OperatorProcess] = []

    def start() -> OperatorProcess:
        deployment = kube_api.objects.get("deployments", FULLNAME, RELEASE_NS)
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
        config_map = kube_api.objects.get("configmaps", volume["configMap"]["name"], RELEASE_NS)
        local = tmp_path / "etc"
        local.mkdir(exist_ok=True)
        for key, text in config_map["data"].items():
            (local / key).write_text(text)
        env = {e["name"]: e["value"].replace(mount["mountPath"], str(local)) for e in container["env"]}
        assert Path(env["SAFESYNTH_OPERATOR_CONFIG"]).is_file()
        op = OperatorProcess({**kube_api.env, **env}, tmp_path / "operator.log").start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


# ----------------------------------------------------------------------------- RBAC


def _matches(rule: dict[str, Any], r: RequestRecord) -> bool:
    return ((r.group or "") in rule["apiGroups"] or "*" in rule["apiGroups"]) and \
        (r.rbac_resource in rule["resources"] or "*" in rule["resources"]) and \
        (r.verb in rule["verbs"] or "*" in rule["verbs"])


def _bound_to(binding: dict[str, Any], sa: str, sa_ns: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == sa_ns
               for s in binding.get("subjects") or [])


def denied(kube_api: KubeAPI, requests: list[RequestRecord], sa: str, sa_ns: str) -> list[str]:
    """Requests the installed RBAC would refuse to `system:serviceaccount:<sa_ns>:<sa>` (RBAC's own algorithm:
    ClusterRoleBindings grant everywhere, RoleBindings only in their namespace)."""
    objs = kube_api.objects
    cluster_rules = [rule for b in objs.list("clusterrolebindings") if _bound_to(b, sa, sa_ns)
                     for rule in objs.get("clusterroles", b["roleRef"]["name"], None)["rules"]]
    ns_rules: dict[str, list[dict[str, Any]]] = {}
    for b in objs.list("rolebindings"):
        if _bound_to(b, sa, sa_ns):
            ns = b["metadata"]["namespace"]
            ref = b["roleRef"]
            role = objs.get("roles", ref["name"], ns) if ref["kind"] == "Role" else \
                objs.get("clusterroles", ref["name"], None)
            ns_rules.setdefault(ns, []).extend(role["rules"])
    refused = []
    for r in requests:
        if r.resource is None:  # discovery (/api, /apis, /version): granted to every authenticated user
            continue
        rules = cluster_rules + (ns_rules.get(r.namespace, []) if r.namespace else [])
        if not any(_matches(rule, r) for rule in rules):
            refused.append(f"{r.verb} {r.group or 'core'}/{r.rbac_resource} in {r.namespace or '(cluster)'}")
    return sorted(set(refused))


def operator_requests(kube_api: KubeAPI) -> list[RequestRecord]:
    reqs = [r for r in kube_api.requests if "kopf" in r.user_agent]
    assert reqs, "the operator made no request"
    return reqs


# ----------------------------------------------------------------------------- tests


@pytest.mark.slow  # end-to-end against a server; keeps make test-fast under 2 min
def test_helm_install_cluster_wide_then_a_job_runs_within_the_granted_rbac(
        kube_api: KubeAPI, start_operator: Callable[[], OperatorProcess]) -> None:
    out = kube_api.helm("install", RELEASE, str(chart.CHART), "--namespace", RELEASE_NS, "--create-namespace")
    assert out.returncode == 0, out.stderr
    assert "kubectl get ssj -w" in out.stdout, "NOTES.txt is shown"

    crd = kube_api.objects.get("customresourcedefinitions", "safesynthjobs.safesynth.io", None)
    assert {c["type"] for c in crd["status"]["conditions"]} >= {"Established"}, "helm installed the CRD from crds/"
    for kind, name, ns in [("deployments", FULLNAME, RELEASE_NS), ("serviceaccounts", FULLNAME, RELEASE_NS),
                           ("configmaps", f"{FULLNAME}-config", RELEASE_NS),
                           ("services", f"{FULLNAME}-metrics", RELEASE_NS),
                           ("clusterroles", FULLNAME, None), ("clusterrolebindings", FULLNAME, None)]:
        assert kube_api.objects.find(kind, name, ns) is not None, (kind, name)

    kube_api.start_kubelet(outcome=ok)
    op = start_operator()
    namespace(kube_api, "team")
    kube_api.kubectl("apply", "-f", "-", input=job_manifest("demo", "team"), check=True)
    wait_for(lambda: phase(kube_api, "demo", "team") == "Succeeded", timeout=30, op=op)

    # The chart's defaults reached the stage Jobs through the settings file.
    train = kube_api.objects.get("jobs", "demo-train", "team")["spec"]["template"]["spec"]
    assert train["containers"][0]["image"] == "ghcr.io/safesynth/safesynth-worker:0.1.0"
    assert train["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert train["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert [kube_api.objects.find("jobs", f"demo-{s.value}", "team") is not None for s in STAGE_ORDER] == [True] * 5

    assert denied(kube_api, operator_requests(kube_api), FULLNAME, RELEASE_NS) == []
    assert not any(r.resource == "secrets" for r in operator_requests(kube_api))

    # The Argo CD health check reads the status the real operator wrote.
    assert argocd_health.health(kube_api.objects.get("safesynthjobs", "demo", "team"))[0] == "Healthy"

    out = kube_api.helm("uninstall", RELEASE, "--namespace", RELEASE_NS)
    assert out.returncode == 0, out.stderr
    assert kube_api.objects.find("deployments", FULLNAME, RELEASE_NS) is None
    assert kube_api.objects.find("customresourcedefinitions", "safesynthjobs.safesynth.io", None) is not None, \
        "helm keeps CRDs (and with them every SafeSynthJob) on uninstall"


@pytest.mark.slow  # end-to-end against a server; keeps make test-fast under 2 min
def test_kubectl_apply_of_the_namespaced_rendering_watches_only_those_namespaces(
        kube_api: KubeAPI, start_operator: Callable[[], OperatorProcess], tmp_path: Path) -> None:
    rendered = chart.helm("template", RELEASE, str(chart.CHART), "--namespace", RELEASE_NS, "--include-crds",
                          "-f", str(chart.CHART / "ci" / "namespaced-values.yaml")).stdout
    for ns in (RELEASE_NS, "team-a", "team-b", "elsewhere"):
        namespace(kube_api, ns)
    out = kube_api.kubectl("apply", "--server-side", "-f", "-", input=rendered)
    assert out.returncode == 0, out.stderr
    assert kube_api.objects.find("roles", FULLNAME, "team-a") is not None
    assert kube_api.objects.find("rolebindings", FULLNAME, "team-b") is not None
    assert kube_api.objects.find("clusterroles", FULLNAME, None) is None

    kube_api.start_kubelet(outcome=ok)
    op = start_operator()
    for ns in ("team-a", "team-b", "elsewhere"):
        kube_api.kubectl("apply", "-f", "-", input=job_manifest("demo", ns), check=True)
    wait_for(lambda: phase(kube_api, "demo", "team-a") == phase(kube_api, "demo", "team-b") == "Succeeded",
             timeout=30, op=op)
    assert phase(kube_api, "demo", "elsewhere") is None, "a namespace outside watchNamespaces is left alone"
    assert kube_api.objects.list("jobs", "elsewhere") == []

    prepare = kube_api.objects.get("jobs", "demo-prepare", "team-a")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in prepare["containers"][0]["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio.minio.svc:9000"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "safesynth-s3"

    requests = operator_requests(kube_api)
    assert denied(kube_api, requests, FULLNAME, RELEASE_NS) == []
    assert not any(r.namespace == "elsewhere" for r in requests)
    assert not any(r.resource == "secrets" for r in requests)
    # The read-only ClusterRole is used, not decoration: kopf lists the namespaces and CRDs.
    cluster_scoped = {(r.rbac_resource, r.verb) for r in requests if r.namespace is None and r.resource}
    assert {("namespaces", "list"), ("customresourcedefinitions", "list")} <= cluster_scoped
    kube_api.kubectl("delete", "clusterrolebinding", f"{FULLNAME}-cluster-reads", check=True)
    assert {d.split(" in ")[0] for d in denied(kube_api, requests, FULLNAME, RELEASE_NS)} == {
        "list core/namespaces", "watch core/namespaces",
        "list apiextensions.k8s.io/customresourcedefinitions", "watch apiextensions.k8s.io/customresourcedefinitions",
    }, "without rbac.clusterScopedReads only kopf's cluster-wide reads would be refused"
