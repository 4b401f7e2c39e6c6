"""One status model (issue 21.7): the same stage outcomes through the local driver and the operator.

The driver runs plug-in stages in-process under the real stage contract; the
operator's reconciler sees the same results the way a cluster reports them (a
pod's termination message is the stage's summary, or `error_summary` on a
failure). Both statuses must say the same: phase, stage, message, conditions,
per-stage results, headline and which artifacts are named.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from safesynth.driver import run_job
from safesynth.errors import BadInputError, SafeSynthError
from safesynth.spec import parse_job
from safesynth.spec.models import StageName
from safesynth.stages.runner import error_summary

from safesynth_operator.cluster import cr_path
from safesynth_operator.reconciler import Reconciler
from tests.operator.conftest_helpers import NS, config, cr
from tests.operator.fakecluster import FakeCluster

STAGES = [StageName.PREPARE, StageName.PII, StageName.EVALUATE]
TIMING = {"startedAt", "finishedAt", "durationSeconds", "version", "specHash"}


class GateNotMet(SafeSynthError):
    reason, exit_code = "GateNotMet", 4


def crash() -> BaseException:
    return RuntimeError("row 17: alice@example.com")


# stage -> summary numbers (success) or the exception it raises
Outcome = dict[str, Any]
SCENARIOS: dict[str, dict[str, Any]] = {
    "all succeed": {"prepare": {"trainRows": 360}, "pii": {"columnsReplaced": 2}, "evaluate": {"sqs": 8.4, "dps": 9.2}},
    "bad input": {"prepare": {"trainRows": 360}, "pii": lambda: BadInputError("spec.pii.columns.ssn: no such column")},
    "crash": {"prepare": {"trainRows": 360}, "pii": crash},
    "gate not met": {"prepare": {"trainRows": 360}, "pii": {},
                     "evaluate": lambda: GateNotMet("evaluation gates: membership risk above its limit")},
}


def _module(stage: StageName, outcome: Any) -> ModuleType:
    def run(spec: Any, store: Any, progress: Any) -> dict[str, Any]:
        if callable(outcome):
            raise outcome()
        return dict(outcome)

    module = ModuleType(f"stage_{stage.value}")
    module.NAME = stage  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    return module


def through_driver(scenario: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The driver's status.json, and each finished stage's summary (what its pod would report)."""
    job = parse_job({**cr(), "status": None})
    modules = {s: _module(s, scenario.get(s.value, {})) for s in STAGES}
    run = tmp_path / "run"
    try:
        run_job(job, str(run), stages=modules, marker_dir=tmp_path / "markers")
    except BaseException:
        pass
    summaries = {s.value: json.loads((run / s.value / "summary.json").read_text())
                 for s in STAGES if (run / s.value / "summary.json").exists()}
    return json.loads((run / "status.json").read_text()), summaries


def through_operator(scenario: dict[str, Any], summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    cluster = FakeCluster()
    cluster.add(cr_path(NS), cr())

    def step() -> dict[str, Any]:
        asyncio.run(Reconciler(cluster, config(stages=STAGES)).reconcile(NS, "demo"))
        return cluster.objects[cr_path(NS)]["demo"]["status"]

    status = step()
    for stage in STAGES:
        outcome = scenario.get(stage.value)
        if outcome is None or f"demo-{stage.value}" not in cluster.jobs():
            break
        if callable(outcome):
            err = outcome()
            summary = error_summary(stage, err)
            code = summary["exitCode"]
            cluster.finish_job(f"demo-{stage.value}", code, json.dumps(summary),
                               job_reason="PodFailurePolicy" if code in (2, 3, 4) else "BackoffLimitExceeded")
        else:
            cluster.finish_job(f"demo-{stage.value}", 0, json.dumps(summaries[stage.value]))
        status = step()
    return status


def comparable(status: dict[str, Any], run_uri: str) -> dict[str, Any]:
    """What both drivers must agree on: no times, Job names, attempts or pod counts (cluster-only facts)."""
    stages = [{k: ({kk: vv for kk, vv in v.items() if kk not in TIMING} if k == "summary" else v)
               for k, v in s.items() if k in ("name", "phase", "reason", "message", "summary")}
              for s in status.get("stages", [])]
    artifacts = {k: v.replace(run_uri.rstrip("/"), "<run>") for k, v in status.get("artifacts", {}).items()
                 if k != "runUri"}
    conditions = {c["type"]: (c["status"], c["reason"], c.get("message", "")) for c in status["conditions"]}
    return {"phase": status["phase"], "stage": status.get("stage"), "message": status.get("message"),
            "stages": stages, "artifacts": artifacts, "headline": status.get("headline", {}),
            "conditions": conditions}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_driver_and_operator_report_the_same_status(name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    local, summaries = through_driver(scenario, tmp_path)
    remote = through_operator(scenario, summaries)
    assert comparable(local, local["artifacts"]["runUri"]) == comparable(remote, remote["artifacts"]["runUri"])
    assert "alice" not in json.dumps(local) + json.dumps(remote)
    if name == "gate not met":
        assert local["phase"] == "Failed" and "syntheticTable" not in local["artifacts"]
    if name == "all succeed":
        assert {c["type"] for c in local["conditions"] if c["status"] == "True"} == {"Ready", "Complete"}
