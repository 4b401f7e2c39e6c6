"""Sharded generation on the emulated API server: the operator runs generate as one Indexed Job, then the
merge Job, then evaluate; the stage's result is the merge's."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Optional

import pytest

from safesynth.spec.models import STAGE_ORDER

from tests.kubeapi.fixtures import KubeAPI
from tests.operator.operator_process import OperatorProcess
from tests.operator.test_cluster import NS, cluster, manifest, ok, operator, phase_is, stage_of, status, wait_for

pytestmark = pytest.mark.cluster
__all__ = ["cluster", "operator"]  # fixtures used by the tests below


@pytest.mark.slow
def test_generate_runs_as_an_indexed_job_then_the_merge_job_then_evaluate(
        cluster: KubeAPI, operator: Callable[..., OperatorProcess]) -> None:
    ran: list[tuple[str, Optional[int]]] = []
    lock = threading.Lock()

    def outcome(job: dict[str, Any], attempt: int, index: Optional[int]) -> tuple[int, str]:
        merging = job["metadata"]["labels"]["app.kubernetes.io/component"] == "merge"
        with lock:
            ran.append(("merge" if merging else stage_of(job), index))
        if merging:
            return 0, json.dumps({"stage": "generate", "specHash": "h", "skipped": False, "rowsGenerated": 900,
                                  "shards": [{"index": i} for i in range(3)]})
        if index is not None:
            return 0, json.dumps({"stage": "generate", "shard": {"index": index, "count": 3}, "rowsGenerated": 300})
        return ok(stage_of(job))

    cluster.start_kubelet(outcome=outcome)
    op = operator()
    cluster.kubectl("apply", "-f", "-", input=manifest(generation={"shards": 3}), check=True)
    wait_for(phase_is(cluster, "Succeeded"), op=op)

    order = [name for name, _ in ran]
    stages = [s.value for s in STAGE_ORDER]
    assert order[:3] == stages[:3] and order[-2:] == ["merge", "evaluate"]
    assert sorted(i for name, i in ran if name == "generate") == [0, 1, 2]  # one pod per index, each once
    job = cluster.objects.get("jobs", "demo-generate", NS)
    assert (job["spec"]["completionMode"], job["spec"]["parallelism"], job["status"]["completedIndexes"]) == \
        ("Indexed", 3, "0-2")
    merge = cluster.objects.get("jobs", "demo-merge", NS)
    assert merge["metadata"]["ownerReferences"][0]["kind"] == "SafeSynthJob"
    assert "nvidia.com/gpu" not in json.dumps(merge["spec"]["template"])
    st = status(cluster)
    generate = next(s for s in st["stages"] if s["name"] == "generate")
    assert generate["phase"] == "Succeeded" and generate["jobName"] == "demo-merge"
    assert generate["summary"]["rowsGenerated"] == 900 and st["headline"]["rowsGenerated"] == 900
    assert "MergeJobCreated" in {e.get("reason") for e in cluster.objects.list("events", NS)}
