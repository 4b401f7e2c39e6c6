"""The test kubelet's Indexed Jobs: one pod per completion index with JOB_COMPLETION_INDEX, completedIndexes,
per-index retries within the Job's backoffLimit, FailJob ending every index, suspension keeping done indexes."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest

from tests.kubeapi.kubelet import PodResult, _format_indexes, _parse_indexes
from tests.kubeapi.test_kubelet import _conditions, _job

pytestmark = pytest.mark.cluster


def _indexed(name: str, n: int, command: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    return _job(name, command, completionMode="Indexed", completions=n, parallelism=n, **spec)


def test_index_lists_read_and_write_as_the_job_controller_does() -> None:
    assert _format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8" and _parse_indexes("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    assert _format_indexes(set()) == "" and _parse_indexes("") == []


def test_each_index_runs_in_its_own_pod_at_once_with_its_index_in_env(kube_api, tmp_path):
    script = ("import os, sys, time; i = os.environ['JOB_COMPLETION_INDEX']; open(sys.argv[2] + '/' + i, 'w')"
              ".write(sys.argv[1]); time.sleep(0.5)")
    kubelet = kube_api.start_kubelet()
    kube_api.create(_indexed("gen", 3, [sys.executable, "-c", script, "$(JOB_COMPLETION_INDEX)/3", str(tmp_path)]))
    t0 = time.monotonic()
    job = kubelet.wait_for_job("default", "gen", timeout=60)
    assert _conditions(job) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    assert job["status"]["succeeded"] == 3 and job["status"]["completedIndexes"] == "0-2"
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"0": "0/3", "1": "1/3", "2": "2/3"}
    pods = kube_api.objects.list("pods", labels={"job-name": "gen"})
    assert sorted(p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] for p in pods) == ["0", "1", "2"]
    key = "batch.kubernetes.io/job-completion-index"
    assert all(p["metadata"]["name"].startswith(f"gen-{p['metadata']['annotations'][key]}-") for p in pods)
    assert time.monotonic() - t0 < 3 * 0.5 + 5  # in parallel (loose: the machine is shared)


def test_a_failed_index_is_retried_alone_and_failures_count_against_the_backoff_limit(kube_api):
    runs: list[tuple[int, int]] = []
    lock = threading.Lock()

    def outcome(job: dict[str, Any], attempt: int, index: int) -> PodResult:
        with lock:
            runs.append((index, attempt))
        return PodResult(1 if index == 1 and attempt == 0 else 0, "")

    kubelet = kube_api.start_kubelet(outcome=outcome)
    kube_api.create(_indexed("retry", 2, backoffLimit=1))
    job = kubelet.wait_for_job("default", "retry")
    assert "Complete" in _conditions(job) and job["status"]["failed"] == 1 and job["status"]["succeeded"] == 2
    assert sorted(runs) == [(0, 0), (1, 0), (1, 1)]


def test_fail_job_rule_fails_the_job_and_stops_the_other_indexes(kube_api):
    def outcome(job: dict[str, Any], attempt: int, index: int) -> PodResult:
        if index == 0:
            return PodResult(2, '{"error": "BadInput"}')
        deadline = time.monotonic() + 10
        while not kubelet.halted(job) and time.monotonic() < deadline and not done.is_set():
            time.sleep(0.02)
        return PodResult(0, "")

    done = threading.Event()
    kubelet = kube_api.start_kubelet(outcome=outcome)
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [2]}}]}
    kube_api.create(_indexed("bad", 2, backoffLimit=3, podFailurePolicy=policy))
    job = kubelet.wait_for_job("default", "bad")
    done.set()
    assert _conditions(job)["Failed"] == "PodFailurePolicy" and not job["status"].get("completedIndexes")
