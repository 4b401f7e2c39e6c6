"""The real helm 4 against the emulation, with a throw-away chart (not the project's, which has its own tests).

Helm 4 installs with server-side apply and stores releases in Secrets through
a protobuf client; this checks both paths work, so chart tests can rely on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kubeapi.fixtures import HELM

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not HELM.exists(), reason="helm binary not vendored (.cache/vendor/bin/helm)"),
]

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\n",
    "templates/all.yaml": """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: probe}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: probe}
rules:
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: probe}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: probe}
subjects: [{kind: ServiceAccount, name: probe, namespace: "{{ .Release.Namespace }}"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      serviceAccountName: probe
      containers: [{name: main, image: "busybox:1"}]
""",
}


def test_helm_install_upgrade_uninstall(kube_api, tmp_path: Path):
    chart = tmp_path / "probe"
    for name, text in CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    out = kube_api.helm("install", "probe", str(chart), "--namespace", "ops", "--create-namespace")
    assert out.returncode == 0, out.stderr
    assert kube_api.objects.get("deployments", "probe", "ops")["spec"]["replicas"] == 1
    assert kube_api.objects.get("clusterroles", "probe", None)["rules"][0]["resources"] == ["jobs"]
    releases = kube_api.objects.list("secrets", "ops", labels={"owner": "helm", "name": "probe"})
    assert [r["metadata"]["labels"]["status"] for r in releases] == ["deployed"]

    out = kube_api.helm("upgrade", "probe", str(chart), "--namespace", "ops", "--set", "replicas=2")
    assert out.returncode == 0, out.stderr
    deployment = kube_api.objects.get("deployments", "probe", "ops")
    assert deployment["spec"]["replicas"] == 2 and deployment["metadata"]["generation"] == 2

    out = kube_api.helm("uninstall", "probe", "--namespace", "ops")
    assert out.returncode == 0, out.stderr
    assert kube_api.objects.find("deployments", "probe", "ops") is None
    assert kube_api.objects.list("secrets", "ops", labels={"owner": "helm"}) == []
