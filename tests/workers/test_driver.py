"""The local driver: stages in order, status.json like the CR's .status, resume."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from safesynth.driver import default_run_uri, run_job
from safesynth.errors import BadInputError
from safesynth.spec import parse_job
from safesynth.spec.models import StageName
from safesynth.spec.status import JobStatus
from tests.conftest import minimal_manifest

PREPARE_ONLY = [StageName.PREPARE]


def test_run_writes_status_and_resumes(small_csv: Path, tmp_path: Path) -> None:
    job = parse_job(minimal_manifest(str(small_csv)))
    run = tmp_path / "run"
    first = run_job(job, str(run), only=PREPARE_ONLY)
    assert first.phase.value == "Succeeded"
    assert [s.phase.value for s in first.stages] == ["Succeeded"]
    on_disk = JobStatus.model_validate(json.loads((run / "status.json").read_text()))
    assert on_disk.phase.value == "Succeeded" and on_disk.artifacts.run_uri == str(run)
    assert {c.type: c.status for c in on_disk.conditions} == {
        "Ready": "True", "Failed": "False", "Stalled": "False", "Complete": "True", "Suspended": "False"}
    assert (run / "prepare" / "train.parquet").exists()

    second = run_job(job, str(run), only=PREPARE_ONLY)
    assert [s.phase.value for s in second.stages] == ["Skipped"]
    assert second.stages[0].summary == first.stages[0].summary

    reseeded = parse_job(minimal_manifest(str(small_csv), data={"uri": str(small_csv), "seed": 7}))
    third = run_job(reseeded, str(run), only=PREPARE_ONLY)
    assert [s.phase.value for s in third.stages] == ["Succeeded"]


def test_failure_is_recorded_then_raised(tmp_path: Path) -> None:
    job = parse_job(minimal_manifest(str(tmp_path / "missing.csv")))
    with pytest.raises(BadInputError):
        run_job(job, str(tmp_path / "run"))
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["phase"] == "Failed" and status["stages"][0]["phase"] == "Failed"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "ArtifactNotFound"
    assert not (tmp_path / "run" / "prepare").exists()


def test_suspended_job_runs_nothing(small_csv: Path, tmp_path: Path) -> None:
    job = parse_job(minimal_manifest(str(small_csv), suspend=True))
    status = run_job(job, str(tmp_path / "run"))
    assert status.phase.value == "Suspended"
    assert not (tmp_path / "run" / "prepare").exists()


def test_default_run_uri() -> None:
    assert default_run_uri(parse_job(minimal_manifest("t.csv", name="abc"))) == "./safesynth-runs/abc"
    job = parse_job(minimal_manifest("t.csv", name="abc", artifacts={"uri": "s3://b/root/"}))
    assert default_run_uri(job) == "s3://b/root/abc"


# ------------------------------------------------- a status that never lies (issues 16.10, 19.4)


def plugin(name: StageName, run: Any) -> ModuleType:
    """A stage module under the real stage contract (execute_stage, the real store): its `run` decides."""
    module = ModuleType(f"stage_{name.value}")
    module.NAME = name  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    return module


def stages(**runs: Any) -> dict[StageName, ModuleType]:
    return {StageName(k): plugin(StageName(k), v) for k, v in runs.items()}


def ok(**numbers: Any) -> Any:
    return lambda spec, store, progress: dict(numbers)


def crash(spec: Any, store: Any, progress: Any) -> dict[str, Any]:
    raise RuntimeError("row 17: alice@example.com")  # a message that quotes data


def read_status(run: Path) -> dict[str, Any]:
    return json.loads((run / "status.json").read_text())


def test_a_crash_in_a_stage_is_recorded_as_failed_without_its_message(tmp_path: Path) -> None:
    job = parse_job(minimal_manifest("t.csv"))
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=crash), marker_dir=tmp_path / "m")
    status = read_status(run)
    assert status["phase"] == "Failed" and status["stage"] == "pii"
    assert [(s["phase"], s.get("reason")) for s in status["stages"]] == [("Succeeded", None), ("Failed", "RuntimeError")]
    assert "alice" not in json.dumps(status)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "RuntimeError" and "hidden" in failed["message"]


def test_a_failed_status_write_is_retried_then_kept_in_a_marker_the_next_run_reads(tmp_path: Path) -> None:
    job = parse_job(minimal_manifest("t.csv"))
    run, markers = tmp_path / "run", tmp_path / "m"
    run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=ok()), marker_dir=markers)

    def unwritable(spec: Any, store: Any, progress: Any) -> dict[str, Any]:
        (run / "status.json").unlink()
        (run / "status.json").mkdir()  # the store can no longer write status.json
        raise RuntimeError("storage went away")

    sleeps: list[float] = []
    with pytest.raises(RuntimeError, match="storage went away"):  # the stage's error, not the status write's
        run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=unwritable), force=True,
                marker_dir=markers, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0], "two retries with back-off before the marker"
    (marker,) = markers.iterdir()
    assert json.loads(marker.read_text())["status"]["phase"] == "Failed"

    (run / "status.json").rmdir()
    # The next run starts from the marker's record, newer than any status.json, and removes it once written.
    seen: list[str] = []
    run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=ok()), marker_dir=markers,
            on_status=lambda st: seen.append(st.stages[0].phase.value))
    assert seen[0] == "Running" and read_status(run)["phase"] == "Succeeded"
    assert not list(markers.iterdir()), "marker removed once status.json is written again"
    run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=ok()), marker_dir=markers)
    assert read_status(run)["phase"] == "Succeeded" and not list(markers.iterdir()), "marker removed once written"


def test_a_rerun_that_fails_early_keeps_finished_stages(tmp_path: Path) -> None:
    job = parse_job(minimal_manifest("t.csv"))
    run = tmp_path / "run"
    run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=ok()), marker_dir=tmp_path / "m")
    summary = (run / "pii" / "summary.json").read_text()
    # The re-run fails in pii's skip check, before pii touches its artifacts: its summary cannot be read.
    (run / "pii" / "summary.json").write_text("{not json")
    with pytest.raises(BadInputError):
        run_job(job, str(run), stages=stages(prepare=ok(trainRows=5), pii=ok()), marker_dir=tmp_path / "m")
    status = read_status(run)
    assert status["phase"] == "Failed" and status["stage"] == "pii"
    assert [s["phase"] for s in status["stages"]] == ["Skipped", "Succeeded"], "never downgraded"
    assert json.loads(summary)["stage"] == "pii"


def test_unmet_release_gate_withholds_the_synthetic_table(tmp_path: Path) -> None:
    from safesynth.errors import SafeSynthError

    class GateNotMet(SafeSynthError):
        reason, exit_code = "GateNotMet", 4

    def gate(spec: Any, store: Any, progress: Any) -> dict[str, Any]:
        raise GateNotMet("evaluation.gates.membership: 0.09 above 0.05")

    job = parse_job(minimal_manifest("t.csv"))
    run = tmp_path / "run"
    with pytest.raises(GateNotMet):
        run_job(job, str(run), stages=stages(generate=ok(rowsGenerated=50), evaluate=gate), marker_dir=tmp_path / "m")
    status = read_status(run)
    assert status["phase"] == "Failed" and "syntheticTable" not in status["artifacts"]
    assert "withheld" in status["message"] and status["headline"]["rowsGenerated"] == 50


def test_progress_and_time_left_of_the_running_stage_reach_the_status(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("safesynth.driver.PROGRESS_PUBLISH_SECONDS", 0.0)

    def steps(spec: Any, store: Any, progress: Any) -> dict[str, Any]:
        with progress.task("training steps", total=4) as advance:
            for _ in range(4):
                advance(1)
        return {}

    seen: list[dict[str, Any]] = []
    run_job(parse_job(minimal_manifest("t.csv")), str(tmp_path / "run"), stages=stages(train=steps),
            marker_dir=tmp_path / "m", on_status=lambda st: seen.append(st.stages[0].model_dump(by_alias=True)))
    counted = [s["progress"] for s in seen if s.get("progress")]
    assert [p["done"] for p in counted] == [1, 2, 3, 4] and counted[0]["task"] == "training steps"
    assert counted[0]["etaSeconds"] is not None and counted[-1]["etaSeconds"] == 0.0
    assert seen[-1]["progress"] is None, "a finished stage shows its summary, not a count"
