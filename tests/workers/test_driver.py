"""The local driver: stages in order, status.json like the CR's .status, resume."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert {c.type: c.status for c in on_disk.conditions} == {"Ready": "True", "Failed": "False", "Stalled": "False"}
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
