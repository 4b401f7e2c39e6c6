"""`helm lint --strict` with the default and the ci/ values; wrong values are refused by values.schema.json."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.helm import chart

pytestmark = chart.needs_helm


@pytest.mark.parametrize("values", [None, *chart.CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_lint_strict(values: Path | None) -> None:
    args = ["lint", "--strict", str(chart.CHART)] + (["-f", str(values)] if values else [])
    out = chart.helm(*args, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


def test_there_are_ci_values_files() -> None:
    assert {p.name for p in chart.CI_VALUES} >= {"namespaced-values.yaml", "full-values.yaml",
                                                 "minimal-rbac-values.yaml"}


# A typo or a wrong type fails at `helm install`, naming the key, instead of being ignored.
BAD = [
    (["imagePullSecret[0]=regcred"], "additional properties 'imagePullSecret'"),
    (["watchNamespaces=team-a"], "/watchNamespaces"),
    (["watchNamespaces={Team_A}"], "/watchNamespaces/0"),
    (["stages={prepare,clean}"], "/stages/1"),
    (["stages={prepare,prepare}"], "/stages"),
    (["stageDefaults.train.gpu=-1"], "/stageDefaults/train/gpu"),
    (["stageDefaults.train.gpus=1"], "additional properties 'gpus'"),
    (["stageDefaults.optimize.gpu=1"], "additional properties 'optimize'"),
    (["stageDefaults.pii.requests.memory=lots"], "/stageDefaults/pii/requests/memory"),
    (["jobs.backoffLimit=101"], "/jobs/backoffLimit"),
    (["jobs.activeDeadlineSeconds=0"], "/jobs/activeDeadlineSeconds"),
    (["image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    (["image.digest=latest"], "/image/digest"),
    (["artifacts.uri=bucket/prefix"], "/artifacts/uri"),
    (["artifacts.endpoint=minio:9000"], "/artifacts/endpoint"),
    (["operator.logFormat=xml"], "/operator/logFormat"),
    (["operator.livenessPort=0"], "/operator/livenessPort"),
    (["metrics.serviceMonitor.interval=often"], "/metrics/serviceMonitor/interval"),
    (["gpu.tolerations[0].effect=Sometimes"], "/gpu/tolerations/0/effect"),
]


@pytest.mark.parametrize("sets, where", BAD, ids=[b[0][0] for b in BAD])
def test_wrong_values_fail_the_schema(sets: list[str], where: str) -> None:
    err = chart.render_error(sets=sets)
    assert "don't meet the specifications of the schema" in err and where in err, err


def test_lint_fails_on_wrong_values_too() -> None:
    out = chart.helm("lint", "--strict", str(chart.CHART), "--set", "jobs.backoffLimit=-1", check=False)
    assert out.returncode != 0 and "/jobs/backoffLimit" in out.stdout + out.stderr


def test_kube_version_floor() -> None:
    """CRD validation rules (CEL) are GA from 1.29: older clusters are refused at install."""
    assert chart.helm("template", "ss", str(chart.CHART), "--kube-version", "1.29.0", check=False).returncode == 0
    out = chart.helm("template", "ss", str(chart.CHART), "--kube-version", "1.28.9", check=False)
    assert out.returncode != 0 and "kubeVersion" in out.stderr


def test_packaged_chart_carries_the_rules_and_crds_but_not_ci_values(tmp_path: Path) -> None:
    chart.helm("package", str(chart.CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("safesynth-*.tgz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"safesynth/files/rbac.yaml", "safesynth/crds/safesynthjobs.safesynth.io.yaml",
            "safesynth/values.schema.json"} <= names
    assert not [n for n in names if n.startswith("safesynth/ci/")]
    out = chart.helm("template", "ss", str(archive))
    assert "kind: ClusterRole\n" in out.stdout and "safesynthjobs/status" in out.stdout
