"""The test kubelet: Jobs become Pods and finish with the status fields the Job controller writes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.kubeapi.kubelet import Kubelet, PodResult, _Stuck
from tests.kubeapi.store import ObjectStore

pytestmark = pytest.mark.cluster


def _job(name: str, command: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "safesynth:test", "command": command or ["true"],
                                 "env": [{"name": "SAFESYNTH_TERMINATION_LOG", "value": "/dev/termination-log"}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
                     **spec}}


def _conditions(job: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c.get("reason", "") for c in job["status"].get("conditions") or [] if c["status"] == "True"}


def test_fast_variant_completes_a_job(kube_api):
    kubelet = kube_api.start_kubelet(outcome=lambda job, attempt: (0, '{"rows": 10}'))
    kube_api.create(_job("demo-prepare"))
    job = kubelet.wait_for_job("default", "demo-prepare")
    assert _conditions(job) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    status = job["status"]
    assert status["succeeded"] == 1 and status["ready"] == 0 and "active" not in status
    assert status["startTime"] and status["completionTime"]
    pods = kube_api.objects.list("pods", labels={"job-name": "demo-prepare"})
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["name"].startswith("demo-prepare-")
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert pod["status"]["phase"] == "Succeeded"
    assert terminated == {**terminated, "exitCode": 0, "reason": "Completed", "message": '{"rows": 10}'}


def test_backoff_limit_retries_then_fails(kube_api):
    attempts: list[int] = []

    def outcome(job: dict[str, Any], attempt: int) -> PodResult:
        attempts.append(attempt)
        return PodResult(1, "boom")

    kubelet = kube_api.start_kubelet(outcome=outcome)
    kube_api.create(_job("retry", backoffLimit=2))
    job = kubelet.wait_for_job("default", "retry")
    assert attempts == [0, 1, 2], "failures > backoffLimit ends the Job: 3 pods for backoffLimit 2"
    assert _conditions(job) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert job["status"]["failed"] == 3 and "completionTime" not in job["status"]
    assert len(kube_api.objects.list("pods")) == 3


def test_retry_then_succeed(kube_api):
    kubelet = kube_api.start_kubelet(outcome=lambda job, attempt: (1, "flaky") if attempt == 0 else (0, "ok"))
    kube_api.create(_job("flaky", backoffLimit=1))
    job = kubelet.wait_for_job("default", "flaky")
    assert "Complete" in _conditions(job) and job["status"]["failed"] == 1 and job["status"]["succeeded"] == 1


def test_pod_failure_policy_fail_job_on_exit_code_2(kube_api):
    kubelet = kube_api.start_kubelet(outcome=lambda job, attempt: (2, "bad input"))
    kube_api.create(_job("bad", backoffLimit=6, podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [2]}}]}))
    job = kubelet.wait_for_job("default", "bad")
    assert _conditions(job)["Failed"] == "PodFailurePolicy"
    message = next(c["message"] for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert "failed with exit code 2 matching FailJob rule at index 0" in message
    assert job["status"]["failed"] == 1 and len(kube_api.objects.list("pods")) == 1


def test_subprocess_variant_env_volumes_and_termination_message(kube_api):
    kube_api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "spec"},
                     "data": {"spec.json": '{"epsilon": 8}'}})
    kube_api.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3"},
                     "data": {"key": base64.b64encode(b"AKIA-test").decode()}})
    script = ('echo "{\\"spec\\": $(cat /etc/safesynth/spec.json), \\"key\\": \\"$AWS_ACCESS_KEY_ID\\", '
              '\\"stage\\": \\"$STAGE\\"}" > $SAFESYNTH_TERMINATION_LOG; echo done')
    body = _job("run", command=["sh", "-c", script])
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] += [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "key"}}},
        {"name": "STAGE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}}]
    container["volumeMounts"] = [{"name": "spec", "mountPath": "/etc/safesynth", "readOnly": True}]
    body["spec"]["template"]["spec"]["volumes"] = [{"name": "spec", "configMap": {"name": "spec"}}]
    kubelet = kube_api.start_kubelet()
    kube_api.create(body)
    job = kubelet.wait_for_job("default", "run")
    assert "Complete" in _conditions(job), job["status"]
    pod = kube_api.objects.list("pods")[0]
    message = pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    assert json.loads(message) == {"spec": {"epsilon": 8}, "key": "AKIA-test", "stage": "run"}
    logs = kube_api.kubectl("logs", pod["metadata"]["name"])
    assert logs.stdout.strip() == "done", logs.stderr


def test_subprocess_failure_and_missing_secret(kube_api):
    kubelet = kube_api.start_kubelet()
    failing = _job("fails", command=["sh", "-c", "echo oops; exit 3"])
    failing["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    kube_api.create(failing)
    job = kubelet.wait_for_job("default", "fails")
    assert "Failed" in _conditions(job)
    terminated = kube_api.objects.list("pods", labels={"job-name": "fails"})[0]["status"]["containerStatuses"][0][
        "state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error" and terminated["message"] == "oops\n"

    stuck = _job("stuck")
    stuck["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}})
    kube_api.create(stuck)
    with pytest.raises(TimeoutError):
        kubelet.wait_for_job("default", "stuck", timeout=0.5)
    pod = kube_api.objects.list("pods", labels={"job-name": "stuck"})[0]
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"


def test_active_deadline_kills_the_process(kube_api):
    kubelet = kube_api.start_kubelet()
    kube_api.create(_job("slow", command=["sleep", "30"], activeDeadlineSeconds=1))
    job = kubelet.wait_for_job("default", "slow", timeout=10)
    assert _conditions(job)["Failed"] == "DeadlineExceeded"


def test_a_missing_secret_key_keeps_the_container_from_starting(tmp_path):
    store = ObjectStore()
    store.create(store.resolve("secrets"), "default", {"metadata": {"name": "s3"}, "stringData": {"other": "x"}})
    container = {"name": "main", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "key"}}}]}
    pod = {"metadata": {"namespace": "default"}, "spec": {"containers": [container]}}
    with pytest.raises(_Stuck) as stuck:
        Kubelet(store, tmp_path)._resolve_env(pod, container)
    assert stuck.value.reason == "CreateContainerConfigError" and "couldn't find key key in Secret default/s3" in \
        stuck.value.message


def test_suspending_a_running_job_stops_its_pod_and_resume_starts_a_new_one(kube_api):
    """What the operator's deleteOnRemoval and Kueue rely on: suspension ends the pod, active drops to 0."""
    import threading
    import time

    started = threading.Event()
    holder: dict[str, Kubelet] = {}

    def outcome(job: dict[str, Any], attempt: int) -> PodResult:
        if attempt == 0 and not holder.get("resumed"):
            started.set()
            while not holder["kubelet"].halted(job):
                time.sleep(0.01)
            return PodResult(0, "wrote artifacts after the stop")  # what a pod would do if not killed
        return PodResult(0, "done")

    holder["kubelet"] = kubelet = kube_api.start_kubelet(outcome=outcome)
    kube_api.create(_job("held"))
    assert started.wait(10)
    assert len(kube_api.objects.list("pods", labels={"job-name": "held"})) == 1
    kube_api.store.patch(kube_api.store.type("batch", "v1", "jobs"), "default", "held",
                         {"spec": {"suspend": True}}, "application/merge-patch+json")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = kube_api.objects.get("jobs", "held")
        if _conditions(job).get("Suspended") == "JobSuspended":
            break
        time.sleep(0.02)
    assert "active" not in job["status"] and kube_api.objects.list("pods", labels={"job-name": "held"}) == []
    assert "failed" not in job["status"], "a stopped pod is not a failed attempt"

    holder["resumed"] = kubelet  # type: ignore[assignment]
    kube_api.store.patch(kube_api.store.type("batch", "v1", "jobs"), "default", "held",
                         {"spec": {"suspend": False}}, "application/merge-patch+json")
    job = kubelet.wait_for_job("default", "held")
    assert _conditions(job)["Complete"] == "CompletionsReached"


def test_a_job_created_suspended_waits_with_the_suspended_condition(kube_api):
    kubelet = kube_api.start_kubelet(outcome=lambda job, attempt: (0, "ok"))
    kube_api.create(_job("queued", suspend=True))
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Suspended" not in _conditions(kube_api.objects.get("jobs", "queued")):
        time.sleep(0.02)
    assert _conditions(kube_api.objects.get("jobs", "queued")) == {"Suspended": "JobSuspended"}
    assert kube_api.objects.list("pods", labels={"job-name": "queued"}) == []
    kube_api.store.patch(kube_api.store.type("batch", "v1", "jobs"), "default", "queued",
                         {"spec": {"suspend": False}}, "application/merge-patch+json")
    job = kubelet.wait_for_job("default", "queued")
    assert "Suspended" not in _conditions(job) and job["status"]["succeeded"] == 1
