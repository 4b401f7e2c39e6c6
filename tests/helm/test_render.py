"""What `helm template` renders: the objects, their labels, the operator pod, and schema validity.

Schema validity is checked offline with kubernetes-validate (it ships the
Kubernetes OpenAPI schemas per version) in strict mode, so an unknown or
misplaced field fails here as it would at `kubectl apply --validate=strict`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import kubernetes_validate
import pytest
import yaml

from tests.helm import chart

pytestmark = chart.needs_helm

FULL = chart.CHART / "ci" / "full-values.yaml"
NAMESPACED = chart.CHART / "ci" / "namespaced-values.yaml"
MINIMAL = chart.CHART / "ci" / "minimal-rbac-values.yaml"
VARIANTS = [None, *chart.CI_VALUES]
COMMON_LABELS = {"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                 "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/component"}


def render(values: Optional[Path], **kw: Any) -> list[chart.Manifest]:
    return chart.template(values, **kw) if values else chart.template(**kw)


def pod_spec(docs: list[chart.Manifest]) -> dict[str, Any]:
    return chart.one(docs, "Deployment")["spec"]["template"]["spec"]


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """Pod Security Standards "restricted" (v1.29 profile), the checks that apply to this pod."""
    problems = []
    pod_sc = spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(key)
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append("hostPath volume")
    for c in spec["containers"]:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{c['name']}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation must be false")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            problems.append(f"{c['name']}: capabilities must drop ALL")
        if set((sc.get("capabilities") or {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: adds capabilities")
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            problems.append(f"{c['name']}: runAsNonRoot")
        if (sc.get("runAsUser", pod_sc.get("runAsUser")) or 1) == 0:
            problems.append(f"{c['name']}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccompProfile")
        for p in c.get("ports", []):
            if p.get("hostPort"):
                problems.append(f"{c['name']}: hostPort")
    return problems


def test_default_objects() -> None:
    docs = chart.template()
    assert chart.kinds(docs) == [
        ("ClusterRole", "ss-safesynth", None),
        ("ClusterRoleBinding", "ss-safesynth", None),
        ("ConfigMap", "ss-safesynth-config", "safesynth-system"),
        ("Deployment", "ss-safesynth", "safesynth-system"),
        ("Service", "ss-safesynth-metrics", "safesynth-system"),
        ("ServiceAccount", "ss-safesynth", "safesynth-system"),
    ]


def test_namespaced_objects() -> None:
    kinds = chart.kinds(chart.template(NAMESPACED))
    assert ("Role", "ss-safesynth", "team-a") in kinds and ("RoleBinding", "ss-safesynth", "team-b") in kinds
    assert ("ClusterRole", "ss-safesynth-cluster-reads", None) in kinds
    assert ("ClusterRole", "ss-safesynth", None) not in kinds
    minimal = chart.kinds(chart.template(MINIMAL))
    assert not [k for k in minimal if k[0].startswith("Cluster")], "no cluster-wide grant at all"
    assert not [k for k in minimal if k[0] in ("ServiceAccount", "Service")]


@pytest.mark.parametrize("values", VARIANTS, ids=lambda p: p.name if p else "defaults")
def test_every_object_carries_the_standard_labels(values: Optional[Path]) -> None:
    for doc in render(values):
        labels = doc["metadata"].get("labels") or {}
        assert COMMON_LABELS <= labels.keys(), (doc["kind"], COMMON_LABELS - labels.keys())
        assert labels["helm.sh/chart"] == "safesynth-0.1.0" and labels["app.kubernetes.io/managed-by"] == "Helm"


@pytest.mark.parametrize("values", VARIANTS, ids=lambda p: p.name if p else "defaults")
def test_operator_pod(values: Optional[Path]) -> None:
    docs = render(values)
    deployment = chart.one(docs, "Deployment")
    config = yaml.safe_load(chart.operator_config_text(docs))
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()
    assert "app.kubernetes.io/version" not in selector, "an upgrade must not change an immutable selector"

    spec = deployment["spec"]["template"]["spec"]
    assert restricted_violations(spec) == []
    (container,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == config["livenessPort"]
    assert ports.get("metrics", 0) == config["metricsPort"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    env = {e["name"]: e.get("value") for e in container["env"]}
    config_path = Path(env["SAFESYNTH_OPERATOR_CONFIG"])
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(config_path.parent))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == chart.one(docs, "ConfigMap")["metadata"]["name"]
    assert config_path.name == "config.yaml"
    sa = [d for d in docs if d["kind"] == "ServiceAccount"]
    if sa:
        assert spec["serviceAccountName"] == sa[0]["metadata"]["name"]
    assert spec.get("automountServiceAccountToken") is True, "kopf talks to the API with the pod's token"


def test_full_values_reach_the_operator_pod() -> None:
    docs = chart.template(FULL)
    spec = pod_spec(docs)
    (container,) = spec["containers"]
    assert container["image"] == "registry.example.com/ml/safesynth-operator@sha256:" + "0123456789abcdef" * 4
    assert container["imagePullPolicy"] == "Always"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror-cred"}]
    assert spec["nodeSelector"] == {"node-role.example.com/system": "true"}
    assert spec["tolerations"][0]["key"] == "dedicated" and "nodeAffinity" in spec["affinity"]
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["serviceAccountName"] == "synth-operator"
    sa = chart.one(docs, "ServiceAccount")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn":
                                             "arn:aws:iam::123456789012:role/safesynth-operator"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SAFESYNTH_LOG_FORMAT"] == "full" and env["SAFESYNTH_DEBUG"] == "1" and env["TZ"] == "UTC"
    template_meta = chart.one(docs, "Deployment")["spec"]["template"]["metadata"]
    assert template_meta["annotations"]["example.com/team"] == "ml-platform"
    assert template_meta["labels"]["example.com/cost-center"] == "42"


def test_metrics_service_and_service_monitor_select_the_operator() -> None:
    docs = chart.template(FULL)
    pod_labels = chart.one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    service = chart.one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}]
    monitor = chart.one(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not [d for d in chart.template() if d["kind"] == "ServiceMonitor"], "off by default (needs its CRD)"


def test_no_metrics_means_no_service_and_no_port() -> None:
    docs = chart.template(sets=["metrics.enabled=false"])
    assert not [d for d in docs if d["kind"] in ("Service", "ServiceMonitor")]
    assert [p["name"] for p in pod_spec(docs)["containers"][0]["ports"]] == ["health"]


def test_a_settings_change_restarts_the_operator() -> None:
    def checksum(*sets: str) -> str:
        return chart.one(chart.template(sets=sets), "Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"]

    assert checksum() == checksum()
    assert checksum() != checksum("jobs.backoffLimit=3")


@pytest.mark.parametrize("kube_version", ["1.29.0", "1.33.0", kubernetes_validate.latest_version()])
@pytest.mark.parametrize("values", VARIANTS, ids=lambda p: p.name if p else "defaults")
def test_manifests_validate_against_kubernetes_schemas(values: Optional[Path], kube_version: str) -> None:
    without_schema = set()
    docs = render(values, crds=True)
    assert any(d["kind"] == "CustomResourceDefinition" for d in docs)
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            without_schema.add(doc["apiVersion"])
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {err.message}")
    # Only the Prometheus Operator's CRD has no schema offline; its fields are asserted above.
    assert without_schema <= {"monitoring.coreos.com/v1"}
