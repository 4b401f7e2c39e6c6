"""The operator process against the emulated API server (tests/kubeapi), through kubectl.

Each test starts the real operator (`python -m safesynth_operator`) with the
emulation's kubeconfig and a test kubelet: the fast one completes pods with the
exit codes and termination messages a test decides; the subprocess one runs the
real `safesynth stage` command. What the emulation cannot check (real
scheduling, the Job controller's back-off timing, RBAC enforcement) is listed in
tests/kubeapi's README.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import yaml

from safesynth.spec.models import STAGE_ORDER

from safesynth_operator import rbac
from tests.kubeapi.fixtures import KubeAPI
from tests.kubeapi.kubelet import Kubelet
from tests.operator.operator_process import OperatorProcess, free_port

pytestmark = pytest.mark.cluster

NS = "team"
REPO = Path(__file__).resolve().parents[2]
SUMMARIES: dict[str, dict[str, Any]] = {
    "prepare": {"trainRows": 360, "holdoutRows": 40},
    "pii": {"columnsReplaced": 2},
    "train": {"epsilonSpent": 3.25},
    "generate": {"rowsGenerated": 500},
    "evaluate": {"sqs": 8.4, "dps": 9.2},
}


def ok(stage: str) -> tuple[int, str]:
    return 0, json.dumps({"stage": stage, "specHash": "h", "durationSeconds": 0.5, "skipped": False,
                          **SUMMARIES.get(stage, {})})


def error(stage: str, code: int, reason: str, message: str) -> tuple[int, str]:
    return code, json.dumps({"stage": stage, "error": reason, "exitCode": code, "message": message})


def stage_of(job: dict[str, Any]) -> str:
    return job["metadata"]["labels"].get("safesynth.io/stage", "cleanup")


def manifest(name: str = "demo", **spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob",
                           "metadata": {"name": name, "namespace": NS},
                           "spec": {"data": {"uri": "s3://in/table.csv"}, **spec}})


def wait_for(what: Callable[[], Any], timeout: float = 20.0, op: Optional[OperatorProcess] = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out" + (f"; operator log:\n{op.log()}" if op else ""))


@pytest.fixture
def cluster(kube_api: KubeAPI) -> KubeAPI:
    kube_api.install_crds()
    kube_api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return kube_api


@pytest.fixture
def operator(cluster: KubeAPI, tmp_path: Path) -> Iterator[Callable[..., OperatorProcess]]:
    """Start operators with settings; all are stopped at teardown."""
    started: list[OperatorProcess] = []

    def start(**settings: Any) -> OperatorProcess:
        settings.setdefault("watch_namespaces", NS)
        settings.setdefault("artifacts_uri", "s3://runs")
        op = OperatorProcess(cluster.env, tmp_path / "operator.log", **settings).start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


def status(cluster: KubeAPI, name: str = "demo") -> dict[str, Any]:
    obj = cluster.objects.find("safesynthjobs", name, NS)
    return (obj or {}).get("status") or {}


def phase_is(cluster: KubeAPI, phase: str, name: str = "demo") -> Callable[[], bool]:
    return lambda: status(cluster, name).get("phase") == phase


def job_creates(cluster: KubeAPI) -> list[int]:
    return [r.status for r in cluster.requests
            if r.resource == "jobs" and r.verb == "create" and "kopf" in r.user_agent]


# --------------------------------------------------------------------------- tests


def test_example_runs_every_stage_in_order_to_success(cluster: KubeAPI, operator: Callable[..., OperatorProcess]
                                                      ) -> None:
    ran: list[str] = []

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        ran.append(stage_of(job))
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    metrics_port = free_port()
    op = operator(metrics_port=metrics_port)
    # The S3 variant: pods cannot read the laptop path of quickstart.yaml (refused, see below).
    cluster.kubectl("apply", "-n", NS, "-f", str(REPO / "examples" / "quickstart-s3.yaml"), check=True)
    wait_for(phase_is(cluster, "Succeeded", "quickstart"), op=op)

    assert ran == [s.value for s in STAGE_ORDER]
    assert job_creates(cluster) == [201] * len(STAGE_ORDER), "one Job per stage, never a second try"
    st = status(cluster, "quickstart")
    assert st["headline"] == {"sqs": 8.4, "dps": 9.2, "epsilonSpent": 3.25, "rowsGenerated": 500}
    assert [s["phase"] for s in st["stages"]] == ["Succeeded"] * 5 and st["observedGeneration"] == 1
    assert st["artifacts"]["runUri"].startswith(f"s3://runs/{NS}/quickstart-")
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Ready": "True", "Failed": "False", "Stalled": "False", "Complete": "True", "Suspended": "False"}

    for stage in STAGE_ORDER:
        job = cluster.objects.get("jobs", f"quickstart-{stage.value}", NS)
        pod = job["spec"]["template"]["spec"]
        gpu = stage.value in ("train", "generate")
        assert (pod["containers"][0]["resources"]["limits"].get("nvidia.com/gpu") == "1") is gpu
        assert ("nodeSelector" in pod and "tolerations" in pod) is gpu
        name = f"quickstart-{stage.value}"
        wait_for(lambda name=name: cluster.objects.get("jobs", name, NS)["spec"]
                 .get("ttlSecondsAfterFinished") == 3600, op=op)

    table = cluster.kubectl("get", "ssj", "-n", NS, check=True).stdout
    assert "Succeeded" in table and "8.4" in table and "9.2" in table
    events = cluster.objects.list("events", NS)
    reasons = {e.get("reason") for e in events}
    assert {"StageJobCreated", "StageSucceeded", "Succeeded"} <= reasons

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'safesynth_jobs{phase="Succeeded"} 1.0' in metrics
    assert 'safesynth_stage_results_total{phase="Succeeded",stage="train"} 1.0' in metrics

    # Every permission the operator used is granted by its role, and none touches Secrets.
    granted = {(g, r, v) for rule in rbac.RULES for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    used = cluster.server.permissions(user_agent="kopf")
    assert used <= granted, f"missing from rbac.RULES: {sorted(used - granted)}"
    assert not any(r.startswith("secrets") for _, r, _ in used)


def test_the_time_series_example_runs_through_the_cluster_with_its_grouping_kept(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    ran: list[str] = []
    cluster.start_kubelet(outcome=lambda job, attempt: (ran.append(stage_of(job)), ok(stage_of(job)))[1])
    op = operator()
    example = yaml.safe_load((REPO / "examples" / "timeseries.yaml").read_text())
    example["metadata"]["namespace"] = NS
    example["spec"]["data"]["uri"] = "s3://in/timeseries.csv"  # pods cannot read the laptop path (admission)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(example), check=True)
    wait_for(phase_is(cluster, "Succeeded", "timeseries"), op=op)
    assert ran == [s.value for s in STAGE_ORDER]
    stored = cluster.objects.get("safesynthjobs", "timeseries", NS)["spec"]["data"]
    # the CRD's schema keeps the grouping fields (an unknown field would have been pruned)
    assert (stored["groupBy"], stored["orderBy"], stored["maxGroupRows"]) == (["patient_id"], "day", 16)
    bad = cluster.kubectl("apply", "-f", "-", input=manifest("ungrouped", data={"uri": "s3://in/t.csv",
                                                                               "orderBy": "day"}))
    assert bad.returncode != 0 and "orderBy orders rows within an entity" in bad.stderr


def test_invalid_cr_is_rejected_at_admission_with_the_field_named(cluster: KubeAPI) -> None:
    bad = cluster.kubectl("apply", "-f", "-", input=manifest(privacy={"epsilon": -1}))
    assert bad.returncode != 0 and "spec.privacy.epsilon" in bad.stderr
    rule = cluster.kubectl("apply", "-f", "-", input=manifest(training={"hiddenSize": 100, "heads": 3}))
    assert rule.returncode != 0 and "hiddenSize must be a multiple of heads" in rule.stderr


@pytest.mark.slow  # end-to-end against a server; keeps make test-fast under 2 min
def test_exit_2_fails_with_the_reason_and_retry_annotation_resumes(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    broken = {"pii": True}

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        stage = stage_of(job)
        if stage == "pii" and broken["pii"]:
            return error(stage, 2, "BadInput", "pii.columns.ssn: no such column in the table")
        return ok(stage)

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,pii,evaluate")
    cluster.kubectl("apply", "-f", "-", input=manifest(), check=True)
    wait_for(phase_is(cluster, "Failed"), op=op)
    st = status(cluster)
    assert st["stage"] == "pii" and st["message"] == "stage pii failed: BadInput"
    assert st["stages"][1]["message"] == "pii.columns.ssn: no such column in the table"
    failed = next(c for c in st["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "BadInput"
    assert len(cluster.objects.list("pods", NS, {"safesynth.io/stage": "pii"})) == 1, "exit 2 is never retried"
    assert cluster.objects.find("jobs", "demo-evaluate", NS) is None

    broken["pii"] = False
    cluster.kubectl("annotate", "-n", NS, "ssj", "demo", "retry.safesynth.io/at=1", check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    st = status(cluster)
    assert [s["phase"] for s in st["stages"]] == ["Succeeded"] * 3
    assert job_creates(cluster).count(201) == 4, "prepare once, pii twice, evaluate once"


def test_retryable_failure_is_retried_by_the_job(cluster: KubeAPI, operator: Callable[..., OperatorProcess]
                                                 ) -> None:
    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        if attempt == 0:
            return error(stage_of(job), 1, "StorageError", "s3 endpoint unreachable; retrying")
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare")
    cluster.kubectl("apply", "-f", "-", input=manifest(), check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    assert status(cluster)["stages"][0]["attempts"] == 2
    assert job_creates(cluster) == [201]


@pytest.mark.slow
def test_restart_at_every_stage_boundary_never_duplicates_a_job(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    kubelet = cluster.start_kubelet(outcome=lambda job, attempt: ok(stage_of(job)))
    cluster.kubectl("apply", "-f", "-", input=manifest(), check=True)
    op = operator()
    for stage in STAGE_ORDER:
        name = f"demo-{stage.value}"
        wait_for(lambda name=name: cluster.objects.find("jobs", name, NS), op=op)
        op.stop(kill=True)  # killed right after creating the Job, before it has seen its result
        kubelet.wait_for_job(NS, f"demo-{stage.value}")
        op = operator()
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    assert job_creates(cluster) == [201] * len(STAGE_ORDER)
    assert status(cluster)["headline"]["sqs"] == 8.4


@pytest.mark.slow  # end-to-end against a server; keeps make test-fast under 2 min
def test_suspend_then_resume(cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    cluster.start_kubelet(outcome=lambda job, attempt: ok(stage_of(job)))
    op = operator(stages="prepare,pii")
    cluster.kubectl("apply", "-f", "-", input=manifest(suspend=True), check=True)
    wait_for(phase_is(cluster, "Suspended"), op=op)
    time.sleep(0.5)
    assert cluster.objects.list("jobs", NS) == []
    ready = next(c for c in status(cluster)["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Suspended"
    cluster.kubectl("patch", "-n", NS, "ssj", "demo", "--type", "merge", "-p", '{"spec":{"suspend":false}}',
                    check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)


def test_delete_removes_jobs_and_configmap(cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    cluster.start_kubelet(outcome=lambda job, attempt: ok(stage_of(job)))
    op = operator(stages="prepare,pii")
    cluster.kubectl("apply", "-f", "-", input=manifest(), check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    assert cluster.objects.find("configmaps", "demo-spec", NS) is not None
    cluster.kubectl("delete", "-n", NS, "ssj", "demo", "--wait=true", check=True)
    wait_for(lambda: not cluster.objects.list("jobs", NS) and cluster.objects.find("configmaps", "demo-spec", NS)
             is None, op=op)


@pytest.mark.slow
def test_delete_on_removal_runs_cleanup_before_the_finalizer_goes(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    commands: list[list[str]] = []

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        commands.append(job["spec"]["template"]["spec"]["containers"][0]["command"])
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare")
    cluster.kubectl("apply", "-f", "-", input=manifest(artifacts={"deleteOnRemoval": True}), check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    assert "safesynth.io/finalizer" in cluster.objects.get("safesynthjobs", "demo", NS)["metadata"]["finalizers"]
    cluster.kubectl("delete", "-n", NS, "ssj", "demo", "--wait=false", check=True)
    wait_for(lambda: cluster.objects.find("safesynthjobs", "demo", NS) is None, op=op)
    assert commands[-1][:2] == ["safesynth", "clean"] and commands[-1][-1].startswith(f"s3://runs/{NS}/demo-")


@pytest.mark.slow
def test_real_prepare_stage_in_a_subprocess(cluster: KubeAPI, operator: Callable[..., OperatorProcess],
                                            small_csv: Path, tmp_path: Path) -> None:
    """The stage contract end to end: spec from the ConfigMap, summary through the termination message."""
    bin_dir = Path(sys.executable).parent
    # The kubelet maps the pod's /tmp emptyDir to a local folder; a root outside /tmp keeps its
    # path rewriting from applying the /tmp mapping to already-mapped paths.
    root = Path(tempfile.mkdtemp(prefix="kubelet-", dir=REPO / ".cache"))
    kubelet = Kubelet(cluster.store, root, workdir=REPO, extra_env={"PATH": f"{bin_dir}:/usr/bin:/bin"}).start()
    try:
        _run_prepare(cluster, operator, small_csv, tmp_path)
    finally:
        kubelet.stop()
        shutil.rmtree(root, ignore_errors=True)


def _run_prepare(cluster: KubeAPI, operator: Callable[..., OperatorProcess], small_csv: Path, tmp_path: Path
                 ) -> None:
    # file:// keeps the kubelet from mapping the run folder into the pod's /tmp emptyDir.
    # The kubelet runs pods on this machine, so local paths are where the operator is told they are.
    op = operator(stages="prepare", artifacts_uri=(tmp_path / "runs").as_uri(), local_paths_mounted=True)
    cluster.kubectl("apply", "-f", "-", input=manifest(data={"uri": str(small_csv)},
                                                       artifacts={"deleteOnRemoval": True}), check=True)
    wait_for(lambda: status(cluster).get("phase") in ("Succeeded", "Failed"), timeout=60, op=op)
    st = status(cluster)
    assert st["phase"] == "Succeeded", st
    summary = st["stages"][0]["summary"]
    assert summary["stage"] == "prepare" and summary["skipped"] is False and summary["specHash"]
    run = Path(st["artifacts"]["runUri"].removeprefix("file://"))
    assert (run / "prepare" / "summary.json").exists() and (run / "prepare" / "train.parquet").exists()
    # deleteOnRemoval: deleting the job runs the real `safesynth clean` in a cleanup pod.
    cluster.kubectl("delete", "-n", NS, "ssj", "demo", "--wait=false", check=True)
    wait_for(lambda: cluster.objects.find("safesynthjobs", "demo", NS) is None, timeout=60, op=op)
    assert not run.exists() and (tmp_path / "runs").exists()


@pytest.mark.slow
def test_spec_edit_on_a_running_job_is_refused_and_no_running_job_is_deleted(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """onSpecChange: Reject (the default) is the CRD's transition rule: the API server refuses the edit,
    naming why; an edit of a stage not yet started goes through and reaches that stage's Job."""
    release = threading.Event()

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        if stage_of(job) == "pii":
            release.wait(30)
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,pii,evaluate")
    cluster.kubectl("apply", "-f", "-", input=manifest(), check=True)
    wait_for(lambda: [s.get("phase") for s in status(cluster).get("stages", [])][1:2] == ["Running"], op=op)

    refused = cluster.kubectl("patch", "-n", NS, "ssj", "demo", "--type", "merge", "-p", '{"spec":{"data":{"seed":7}}}')
    assert refused.returncode != 0 and "running stage depends on" in refused.stderr
    cluster.kubectl("patch", "-n", NS, "ssj", "demo", "--type", "merge", "-p",
                    '{"spec":{"evaluation":{"maxRows":1000}}}', check=True)
    time.sleep(0.5)
    release.set()
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    assert not [r for r in cluster.requests if r.resource == "jobs" and r.verb == "delete"], "no Job deleted"
    assert job_creates(cluster) == [201] * 3
    spec = json.loads(cluster.objects.get("configmaps", "demo-spec", NS)["data"]["spec.json"])
    assert spec["evaluation"]["maxRows"] == 1000 and spec["data"]["seed"] == 42

    # Conventions: `kubectl wait --for=condition=Complete` works; pod counts per stage; events from us.
    waited = cluster.kubectl("wait", "-n", NS, "ssj/demo", "--for=condition=Complete", "--timeout=10s")
    assert waited.returncode == 0, waited.stderr
    assert status(cluster)["stages"][0]["pods"] == {"active": 0, "ready": 0, "succeeded": 1, "failed": 0}
    sources = {(e.get("source") or {}).get("component") for e in cluster.objects.list("events", NS)}
    assert sources == {"safesynth-operator"}


# ------------------------------------------------------------------ issue 21.3-21.5


def labelled(name: str = "demo", labels: Optional[dict[str, str]] = None, **spec: Any) -> str:
    doc = yaml.safe_load(manifest(name, **spec))
    doc["metadata"]["labels"] = labels or {}
    return yaml.safe_dump(doc)


def condition(cluster: KubeAPI, type_: str, name: str = "demo") -> dict[str, Any]:
    return next((c for c in status(cluster, name).get("conditions", []) if c["type"] == type_), {})


@pytest.mark.slow
def test_data_uri_pods_cannot_read_is_refused_before_the_first_job(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """The laptop quickstart (relative path) and an absolute path without localPathsMounted: InvalidSpec,
    naming spec.data.uri, and no Job; an s3:// one in the same operator runs."""
    cluster.start_kubelet(outcome=lambda job, attempt: ok(stage_of(job)))
    op = operator(stages="prepare")
    cluster.kubectl("apply", "-n", NS, "-f", str(REPO / "examples" / "quickstart.yaml"), check=True)
    cluster.kubectl("apply", "-f", "-", input=manifest("local", data={"uri": "file:///data/table.csv"}), check=True)
    cluster.kubectl("apply", "-f", "-", input=manifest("remote"), check=True)
    wait_for(phase_is(cluster, "Succeeded", "remote"), op=op)
    for name, words in (("quickstart", "relative path"), ("local", "localPathsMounted")):
        wait_for(phase_is(cluster, "Failed", name), op=op)
        failed = condition(cluster, "Failed", name)
        assert failed["status"] == "True" and failed["reason"] == "InvalidSpec"
        assert failed["message"].startswith("spec is invalid: spec.data.uri: ") and words in failed["message"]
    assert {j["metadata"]["name"] for j in cluster.objects.list("jobs", NS)} == {"remote-prepare"}


@pytest.mark.slow
def test_retryable_failure_retries_from_the_failed_stage_with_backoff(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """spec.backoffLimit: a stage Job that gave up (BackoffLimitExceeded, the Job controller's reason) is
    tried again from that stage after a back-off; attempts count per try; finished stages are not re-run."""
    failures = {"pii": 2}
    ran: list[str] = []

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        stage = stage_of(job)
        ran.append(stage)
        if stage == "pii" and failures["pii"] > 0:
            failures["pii"] -= 1
            return 1, ""  # a crash that wrote no summary
        return ok(stage)

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,pii", retry_backoff_seconds=0.2)
    cluster.kubectl("apply", "-f", "-", input=manifest(backoffLimit=3, resources={"pii": {"backoffLimit": 0}}),
                    check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)
    st = status(cluster)
    assert ran == ["prepare", "pii", "pii", "pii"] and st["retries"] == 2 and "nextRetryTime" not in st
    assert st["stages"][1]["attempts"] == 1, "attempts count the pods of the last try only"
    retrying = [e["message"] for e in cluster.objects.list("events", NS) if e.get("reason") == "Retrying"]
    assert len(retrying) == 2 and all("BackoffLimitExceeded" in m for m in retrying)

    # Out of retries: the Job controller's reason is the stage's, and the job fails.
    failures["pii"] = 5
    cluster.kubectl("apply", "-f", "-", input=manifest("spent", backoffLimit=1, resources={"pii": {"backoffLimit": 0}}),
                    check=True)
    wait_for(phase_is(cluster, "Failed", "spent"), op=op)
    st = status(cluster, "spent")
    assert st["retries"] == 1 and st["stages"][1]["reason"] == "BackoffLimitExceeded"
    assert condition(cluster, "Failed", "spent")["reason"] == "BackoffLimitExceeded"


@pytest.mark.slow
def test_gate_not_met_fails_at_once_with_its_reason_and_no_retry(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """Exit 4 (contract.EXIT_GATE_NOT_MET) is in the FailJob rule, so neither the Job nor spec.backoffLimit
    tries again: the same inputs fail the same gate."""
    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        stage = stage_of(job)
        if stage == "evaluate":
            return error(stage, 4, "GateNotMet", "evaluation gates: quality 5.1 below minQuality 7")
        return ok(stage)

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,evaluate", retry_backoff_seconds=0.2)
    cluster.kubectl("apply", "-f", "-", input=manifest(backoffLimit=3), check=True)
    wait_for(phase_is(cluster, "Failed"), op=op)
    time.sleep(0.5)
    st = status(cluster)
    assert st["stages"][1]["reason"] == "GateNotMet" and st["retries"] == 0
    assert condition(cluster, "Failed")["reason"] == "GateNotMet"
    job = cluster.objects.get("jobs", "demo-evaluate", NS)
    assert 4 in job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"]
    assert job["status"]["conditions"][-1]["reason"] == "PodFailurePolicy"
    assert len(cluster.objects.list("pods", NS, {"safesynth.io/stage": "evaluate"})) == 1
    assert job_creates(cluster) == [201, 201]


@pytest.mark.slow
def test_job_deadline_stops_the_running_stage_and_fails_with_deadline_exceeded(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    holder: dict[str, Kubelet] = {}

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        if stage_of(job) == "pii":
            while not holder["kubelet"].halted(job):
                time.sleep(0.02)
        return ok(stage_of(job))

    holder["kubelet"] = cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,pii")
    cluster.kubectl("apply", "-f", "-", input=manifest(activeDeadlineSeconds=2), check=True)
    wait_for(phase_is(cluster, "Failed"), op=op)  # no event comes at the deadline: the operator wakes itself
    st = status(cluster)
    assert st["stages"][1]["reason"] == "DeadlineExceeded" and "spec.activeDeadlineSeconds (2 s)" in st["stages"][1]["message"]
    assert condition(cluster, "Failed")["reason"] == "DeadlineExceeded"
    wait_for(lambda: cluster.objects.find("jobs", "demo-pii", NS) is None, op=op)


@pytest.mark.slow
def test_delete_on_removal_stops_running_stages_before_the_cleanup_job(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """A running stage could write its artifacts back after the cleanup: the operator suspends the stage
    Jobs and waits for their pods to end before the cleanup Job exists."""
    order: list[str] = []
    holder: dict[str, Kubelet] = {}

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        if stage_of(job) == "cleanup":
            order.append("cleanup")
            return 0, ""
        order.append(f"{stage_of(job)} started")
        while not holder["kubelet"].halted(job):
            time.sleep(0.02)
        time.sleep(0.5)  # a pod takes a while to stop; it still writes meanwhile
        order.append(f"{stage_of(job)} stopped")
        return ok(stage_of(job))

    holder["kubelet"] = cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare,pii")
    cluster.kubectl("apply", "-f", "-", input=manifest(artifacts={"deleteOnRemoval": True}), check=True)
    wait_for(lambda: order == ["prepare started"], op=op)
    cluster.kubectl("delete", "-n", NS, "ssj", "demo", "--wait=false", check=True)
    wait_for(lambda: cluster.objects.find("safesynthjobs", "demo", NS) is None, timeout=30, op=op)
    assert order == ["prepare started", "prepare stopped", "cleanup"]
    suspends = [r for r in cluster.requests if r.resource == "jobs" and r.verb == "patch" and r.name == "demo-prepare"]
    assert suspends, "the stage Job was suspended"


@pytest.mark.slow
def test_kueue_queued_then_admitted_with_priority_and_managed_by(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    """A stage Job that Kueue holds (created suspended) shows phase Queued and Queued=True, not Running;
    admitted (Kueue unsuspends it; here the test does), Admitted=True. spec.managedBy hands the object to
    MultiKueue: no Job, no status, and the field cannot change."""
    release = threading.Event()

    def outcome(job: dict[str, Any], attempt: int) -> tuple[int, str]:
        release.wait(20)
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    op = operator(stages="prepare")
    kueue = {"kueue.x-k8s.io/queue-name": "team-gpu", "kueue.x-k8s.io/priority-class": "batch-high"}
    cluster.kubectl("apply", "-f", "-", input=labelled(labels=kueue), check=True)
    cluster.kubectl("apply", "-f", "-", input=manifest("elsewhere", managedBy="kueue.x-k8s.io/multikueue"),
                    check=True)
    wait_for(phase_is(cluster, "Queued"), op=op)
    job = cluster.objects.get("jobs", "demo-prepare", NS)
    assert job["spec"]["suspend"] is True and job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "batch-high"
    assert condition(cluster, "Queued")["status"] == "True" and condition(cluster, "Admitted")["status"] == "False"
    assert "team-gpu" in status(cluster)["message"]

    cluster.kubectl("patch", "-n", NS, "job", "demo-prepare", "--type", "merge", "-p", '{"spec":{"suspend":false}}',
                    check=True)  # what Kueue does on admission
    wait_for(phase_is(cluster, "Running"), op=op)
    wait_for(lambda: condition(cluster, "Admitted").get("status") == "True", op=op)
    assert condition(cluster, "Queued")["status"] == "False"
    release.set()
    wait_for(phase_is(cluster, "Succeeded"), op=op)

    assert cluster.objects.find("jobs", "elsewhere-prepare", NS) is None and status(cluster, "elsewhere") == {}
    changed = cluster.kubectl("patch", "-n", NS, "ssj", "elsewhere", "--type", "merge", "-p",
                              '{"spec":{"managedBy":"safesynth.io/operator"}}')
    assert changed.returncode != 0 and "spec.managedBy is immutable" in changed.stderr
