"""examples/gitops: the Argo CD health check, and that every manifest there fits what it points at.

The health check is tested in Lua 5.1 (tests/helm/argocd_health.py) against
statuses built with the operator's own status models and wire format
(decisions.dump_status), so a renamed field breaks this test and not only
dashboards. Argo CD and Flux themselves do not run here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import kubernetes_validate
import pytest
import yaml

from safesynth.spec import parse_job
from safesynth.spec.status import Condition, Headline, JobPhase, JobStatus, StageStatus, set_condition, set_failed
from safesynth_operator.config import load_config
from safesynth_operator.decisions import dump_status
from tests.helm import chart
from tests.helm.argocd_health import SCRIPT_PATH, health
from tests.kubeapi.fixtures import KubeAPI

NOW = "2026-01-01T00:00:00Z"

GITOPS = chart.REPO / "examples" / "gitops"


def docs(relative: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((GITOPS / relative).read_text()) if d]


def ssj(status: Optional[JobStatus], generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob",
        "metadata": {"name": "demo", "namespace": "team-a", "generation": generation},
        "spec": {"data": {"uri": "s3://in/table.csv"}},
    }
    if status is not None:
        obj["status"] = dump_status(status)
    return obj


def conditions(ready: tuple[bool, str], failed: Optional[tuple[bool, str]] = None) -> list[Condition]:
    out = set_condition([], "Ready", ready[0], ready[1], "", 1, now=NOW)
    if failed is not None:
        out = set_failed(out, failed[0], failed[1], "", 1, now=NOW)
    return out


def status(phase: JobPhase, **kw: Any) -> JobStatus:
    kw.setdefault("observed_generation", 1)
    return JobStatus(phase=phase, **kw)


CASES = [
    ("no status yet", ssj(None), "Progressing", "pick up"),
    ("pending", ssj(status(JobPhase.PENDING, conditions=conditions((False, "Pending")))), "Progressing", "Pending"),
    ("running a stage", ssj(status(JobPhase.RUNNING, stage="train", message="stage train running",
                                   stages=[StageStatus(name="prepare", phase="Succeeded")],
                                   conditions=conditions((False, "Running"), (False, "NoFailure"))), ),
     "Progressing", "stage train running"),
    ("running without a message", ssj(status(JobPhase.RUNNING, stage="pii")), "Progressing", "stage pii"),
    ("retrying after a failure", ssj(status(JobPhase.RUNNING, message="retrying from the failed stage",
                                            conditions=conditions((False, "Retrying"), (False, "Retrying")))),
     "Progressing", "retrying"),
    ("suspended", ssj(status(JobPhase.SUSPENDED, message="spec.suspend is true: no new stage is launched",
                             conditions=conditions((False, "Suspended")))), "Suspended", "spec.suspend"),
    ("failed", ssj(status(JobPhase.FAILED, stage="pii", message="stage pii failed: BadInput",
                          conditions=conditions((False, "BadInput"), (True, "BadInput")))),
     "Degraded", "stage pii failed: BadInput"),
    ("failed condition before the phase moves", ssj(status(JobPhase.RUNNING, conditions=conditions(
        (False, "Running"), (True, "OOMKilled")))), "Degraded", "OOMKilled"),
    ("invalid spec", ssj(status(JobPhase.FAILED, message="spec.privacy.epsilon: must be > 0",
                                conditions=conditions((False, "InvalidSpec")))), "Degraded", "epsilon"),
    ("succeeded", ssj(status(JobPhase.SUCCEEDED, message="5 stage(s) done",
                             headline=Headline(sqs=8.43, dps=9.2, epsilon_spent=3.25),
                             conditions=conditions((True, "Succeeded"), (False, "NoFailure")))),
     "Healthy", "5 stage(s) done (quality 8.4, privacy 9.2, epsilon 3.25)"),
    ("succeeded without scores", ssj(status(JobPhase.SUCCEEDED, conditions=conditions((True, "Succeeded")))),
     "Healthy", "Succeeded"),
    ("succeeded, then the spec changed", ssj(status(JobPhase.SUCCEEDED, conditions=conditions((True, "Succeeded"))),
                                             generation=2), "Progressing", "generation 2"),
    ("failed, then the spec changed", ssj(status(JobPhase.FAILED, conditions=conditions(
        (False, "BadInput"), (True, "BadInput"))), generation=3), "Progressing", "generation 3"),
    ("no observedGeneration", ssj(status(JobPhase.RUNNING, observed_generation=None)), "Progressing", "generation 1"),
]


@pytest.mark.parametrize("obj, expected, in_message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_argocd_health(obj: dict[str, Any], expected: str, in_message: str) -> None:
    got, message = health(obj)
    assert got == expected, message
    assert in_message in message


def test_unknown_phase_is_unknown() -> None:
    obj = ssj(status(JobPhase.RUNNING))
    obj["status"]["phase"] = "Exploded"
    assert health(obj) == ("Unknown", "Unrecognised phase Exploded")


def test_argocd_cm_carries_the_script_verbatim() -> None:
    (cm,) = docs("argocd/argocd-cm-health.yaml")
    assert cm["metadata"] == {**cm["metadata"], "name": "argocd-cm", "namespace": "argocd"}
    assert cm["data"]["resource.customizations.health.safesynth.io_SafeSynthJob"] == SCRIPT_PATH.read_text()
    kubernetes_validate.validate(cm, "1.29.0", strict=True)


@chart.needs_helm
def test_argocd_application_renders_the_chart_with_its_values(tmp_path: Path) -> None:
    (app,) = docs("argocd/application.yaml")
    source = app["spec"]["source"]
    assert (chart.REPO / source["path"]).resolve() == chart.CHART
    rendered = chart.template(source["helm"]["valuesObject"], tmp=tmp_path,
                              release=source["helm"]["releaseName"], namespace=app["spec"]["destination"]["namespace"])
    (tmp_path / "config.yaml").write_text(chart.operator_config_text(rendered))
    config = load_config(tmp_path / "config.yaml", environ={})
    assert config.artifacts_secret_name == "safesynth-s3" and config.watch_namespaces == []
    assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]


@chart.needs_helm
def test_flux_helmrelease_renders_the_chart_and_points_at_its_source(tmp_path: Path) -> None:
    (release,) = docs("flux/helmrelease.yaml")
    sources = {(d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]): d for d in docs("flux/source.yaml")}
    ref = release["spec"]["chartRef"]
    assert (ref["kind"], ref["name"], ref["namespace"]) in sources
    assert release["spec"]["install"]["crds"] == release["spec"]["upgrade"]["crds"] == "CreateReplace"
    rendered = chart.template(release["spec"]["values"], tmp=tmp_path, release=release["spec"]["releaseName"],
                              namespace=release["metadata"]["namespace"])
    assert [d["metadata"]["namespace"] for d in rendered if d["kind"] == "Role"] == release["spec"]["values"][
        "watchNamespaces"]


def test_job_sources_point_at_the_jobs_folder() -> None:
    (kustomization,) = docs("flux/jobs-kustomization.yaml")
    sources = {(d["kind"], d["metadata"]["name"]) for d in docs("flux/source.yaml")}
    ref = kustomization["spec"]["sourceRef"]
    assert (ref["kind"], ref["name"]) in sources
    (app,) = docs("argocd/jobs-application.yaml")
    for path in (kustomization["spec"]["path"], app["spec"]["source"]["path"]):
        assert (chart.REPO / path).resolve() == GITOPS / "jobs"
    listed = docs("jobs/kustomization.yaml")[0]["resources"]
    assert sorted(listed) == sorted(p.name for p in (GITOPS / "jobs").glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.cluster
def test_jobs_in_git_pass_the_crd_and_the_spec_models(kube_api: KubeAPI) -> None:
    kube_api.install_crds()
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    for name in docs("jobs/kustomization.yaml")[0]["resources"]:
        for doc in docs(f"jobs/{name}"):
            parse_job(doc)
            out = kube_api.kubectl("apply", "--dry-run=server", "-n", "team-a", "-f", str(GITOPS / "jobs" / name))
            assert out.returncode == 0, out.stderr
