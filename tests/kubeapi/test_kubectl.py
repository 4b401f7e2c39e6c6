"""The real kubectl 1.33 against the emulation: the user's path (`kubectl apply -f`) end to end.

These pin what a user would see on a real cluster: the CRD becomes
Established, the quickstart is accepted with its schema defaults filled in,
printer columns show, and invalid manifests fail with the field named.
"""

from __future__ import annotations

import pytest
import yaml

from tests.kubeapi.fixtures import CRD_FILE, KUBECTL, REPO

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl binary not vendored (.cache/vendor/bin/kubectl)"),
]
QUICKSTART = REPO / "examples" / "quickstart.yaml"


def _ssj(name: str, **spec: object) -> str:
    return yaml.safe_dump({"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob",
                           "metadata": {"name": name}, "spec": {"data": {"uri": "x.csv"}, **spec}})


@pytest.fixture
def with_crd(kube_api):
    """The CRD applied with kubectl (as a user or Helm would), then waited for."""
    out = kube_api.kubectl("apply", "-f", str(CRD_FILE))
    assert out.returncode == 0, out.stderr
    return kube_api


def test_crd_apply_establishes(with_crd):
    wait = with_crd.kubectl("wait", "--for=condition=Established", "--timeout=10s",
                            "crd/safesynthjobs.safesynth.io")
    assert wait.returncode == 0, wait.stderr
    listed = with_crd.kubectl("get", "crd")
    assert "safesynthjobs.safesynth.io" in listed.stdout
    status = with_crd.kubectl("get", "crd", "safesynthjobs.safesynth.io", "-o",
                              "jsonpath={.status.conditions[?(@.type=='Established')].status}")
    assert status.stdout == "True"


def test_quickstart_apply_get_and_defaults(with_crd):
    out = with_crd.kubectl("apply", "-f", str(QUICKSTART))
    assert out.returncode == 0, out.stderr
    assert "safesynthjob.safesynth.io/quickstart created" in out.stdout

    table = with_crd.kubectl("get", "ssj")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["NAME", "PHASE", "STAGE", "QUALITY", "PRIVACY", "EPSILON", "AGE"]
    assert table.stdout.splitlines()[1].startswith("quickstart")

    got = yaml.safe_load(with_crd.kubectl("get", "ssj", "quickstart", "-o", "yaml").stdout)
    data = got["spec"]["data"]
    assert data["holdoutFraction"] == 0.1 and data["minHoldoutRows"] == 100 and data["format"] == "auto"
    assert got["metadata"]["generation"] == 1 and got["metadata"]["uid"]

    again = with_crd.kubectl("apply", "-f", str(QUICKSTART))
    assert "unchanged" in again.stdout, "re-applying the same file is a no-op"


def test_status_printer_columns(with_crd):
    with_crd.kubectl("apply", "-f", str(QUICKSTART), check=True)
    rt = with_crd.store.resolve("ssj")
    with_crd.store.patch(rt, "default", "quickstart", {"status": {"phase": "Succeeded", "stage": "evaluate",
                                                                  "headline": {"sqs": 8.5, "dps": 9.1}}},
                         "application/merge-patch+json", subresource="status")
    row = with_crd.kubectl("get", "ssj", "quickstart").stdout.splitlines()[1].split()
    assert row[:5] == ["quickstart", "Succeeded", "evaluate", "8.5", "9.1"]


@pytest.mark.parametrize("manifest, expected", [
    (_ssj("bad-eps", privacy={"enabled": True, "epsilon": -1}),
     "spec.privacy.epsilon: Invalid value: -1: spec.privacy.epsilon in body should be greater than 0"),
    (_ssj("bad-field", data={"uri": "x.csv", "holdoutFractoin": 0.2}),
     'strict decoding error: unknown field "spec.data.holdoutFractoin"'),
    (_ssj("a" * 53), "metadata.name must be at most 52 characters"),
    (_ssj("bad-enum", data={"uri": "x.csv", "format": "xml"}), 'spec.data.format: Unsupported value: "xml"'),
    (_ssj("bad-cel", data={"uri": "x.csv", "minHoldoutRows": 900, "maxHoldoutRows": 800}),
     "spec.data.minHoldoutRows: Invalid value: \"object\": minHoldoutRows must not exceed maxHoldoutRows"),
])
def test_invalid_manifests_are_rejected(with_crd, manifest, expected):
    out = with_crd.kubectl("apply", "-f", "-", input=manifest)
    assert out.returncode != 0
    assert expected in out.stderr, out.stderr
    assert with_crd.objects.list("ssj") == []


def test_kubectl_delete_cascades_to_owned_objects(with_crd):
    with_crd.kubectl("apply", "-f", str(QUICKSTART), check=True)
    owner = with_crd.objects.get("ssj", "quickstart")
    with_crd.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "quickstart-spec", "ownerReferences": [{"apiVersion": "safesynth.io/v1alpha1",
                                                        "kind": "SafeSynthJob", "name": "quickstart",
                                                        "uid": owner["metadata"]["uid"], "controller": True}]}})
    out = with_crd.kubectl("delete", "ssj", "quickstart", "--timeout=10s")
    assert out.returncode == 0, out.stderr
    assert with_crd.objects.find("configmaps", "quickstart-spec") is None
