"""`safesynth clean`: what the operator's deleteOnRemoval Job runs. It must delete a run and nothing else."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from safesynth.commands.clean import plan_clean
from tests.conftest import minimal_manifest
from tests.workers.test_cli import cli


def test_plan_accepts_stage_folders_and_status_only() -> None:
    assert plan_clean(["prepare/train.parquet", "evaluate/report.html", "status.json"]).safe
    plan = plan_clean(["prepare/train.parquet", "backup/db.sql", "notes.txt"])
    assert not plan.safe and plan.foreign == ("backup", "notes.txt")


@pytest.mark.slow  # end-to-end against a server; keeps make test-fast under 2 min
def test_clean_removes_the_s3_run_and_leaves_its_neighbours(write_manifest, s3_env: str, s3_bucket: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_env)
    run_keys = ["runs/demo/prepare/train.parquet", "runs/demo/prepare/summary.json", "runs/demo/status.json"]
    for key in [*run_keys, "runs/demo-2/status.json", "runs/other/prepare/summary.json"]:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    spec = write_manifest(minimal_manifest("t.csv"))

    dry = cli("clean", "--spec", str(spec), "--run-uri", f"s3://{s3_bucket}/runs/demo", "--dry-run")
    assert dry.returncode == 0 and "3 artifact" in dry.stdout, dry.stderr
    assert len(s3.list_objects_v2(Bucket=s3_bucket)["Contents"]) == 5

    result = cli("clean", "--spec", str(spec), "--run-uri", f"s3://{s3_bucket}/runs/demo")
    assert result.returncode == 0, result.stderr
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert left == {"runs/demo-2/status.json", "runs/other/prepare/summary.json"}


@pytest.mark.parametrize("suffix", ["", "/", "/runs"])
def test_clean_refuses_a_bucket_or_a_prefix_that_is_not_one_run(suffix: str, write_manifest, s3_env: str,
                                                                   s3_bucket: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_env)
    s3.put_object(Bucket=s3_bucket, Key="runs/demo/status.json", Body=b"x")
    spec = write_manifest(minimal_manifest("t.csv"))
    result = cli("clean", "--spec", str(spec), "--run-uri", f"s3://{s3_bucket}{suffix}")
    assert result.returncode == 2
    assert "nothing was deleted" in result.stderr or "root" in result.stderr
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == ["runs/demo/status.json"]


def test_clean_local_run_and_refuses_a_folder_with_other_files(tmp_path: Path, write_manifest) -> None:
    run = tmp_path / "run"
    (run / "train" / "model").mkdir(parents=True)
    (run / "train" / "model" / "weights.bin").write_bytes(b"w")
    (run / "status.json").write_text("{}")
    spec = write_manifest(minimal_manifest("t.csv"))

    refused = cli("clean", "--spec", str(spec), "--run-uri", str(tmp_path))  # holds "run/" and job.yaml
    assert refused.returncode == 2 and (run / "status.json").exists()

    done = cli("clean", "--spec", str(spec), "--run-uri", str(run))
    assert done.returncode == 0, done.stderr
    assert not (run / "status.json").exists() and not (run / "train").exists()
