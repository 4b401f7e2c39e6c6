"""A real job through the service: queued, run by a worker process, results fetched through signed links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from safesynth.cli import main
from tests.workers.service.conftest import Service

TINY = {"layers": 2, "hiddenSize": 32, "heads": 2, "maxSteps": 20, "batchSize": 16, "threads": 1, "vocabSize": 300}


@pytest.mark.slow
def test_job_runs_and_its_report_downloads(running_service: Service, job_manifest: Callable[..., dict],
                                           tmp_path: Path) -> None:
    client = running_service.client
    job = client.submit(job_manifest("tiny", training=TINY, generation={"numRecords": 30}))
    done = client.wait(job["id"], timeout=600, poll=0.5)
    log = "".join(client.logs(job["id"]))
    assert done["phase"] == "Succeeded", log[-2000:]
    status = client.status(job["id"])
    assert [s["phase"] for s in status["stages"]] == ["Succeeded"] * 5
    assert status["headline"]["rowsGenerated"] == 30
    artifacts = {a["key"]: a for a in client.results(job["id"])}
    assert {"generate/synthetic.csv", "evaluate/report.html", "status.json"} <= set(artifacts)
    report = client.download(job["id"], "evaluate/report.html", tmp_path / "report.html")
    import hashlib

    assert hashlib.sha256(report.read_bytes()).hexdigest() == artifacts["evaluate/report.html"]["sha256"]
    assert "prepare" in log and "evaluate" in log


def test_cli_verbs_talk_to_the_service(service: Service, job_manifest: Callable[..., dict], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = job_manifest("from-cli")
    manifest["spec"]["data"]["uri"] = Path(manifest["spec"]["data"]["uri"]).name  # relative to the cwd
    monkeypatch.chdir(Path(job_manifest()["spec"]["data"]["uri"]).parent)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    monkeypatch.setenv("SAFESYNTH_API_URL", service.url)

    def cli(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
            raise SystemExit(0)
        assert exit_.value.code == 0, capsys.readouterr().err
        return capsys.readouterr().out

    job_id = cli("jobs", "submit", str(path)).split()[0]
    record = service.client.get(job_id)
    assert Path(record["spec"]["data"]["uri"]).is_absolute()  # made absolute against the client's cwd
    assert "from-cli" in cli("jobs", "list")
    assert json.loads(cli("jobs", "status", job_id))["phase"] == "Pending"
    assert "Cancelled" in cli("jobs", "cancel", job_id)
    with pytest.raises(SystemExit) as missing:
        main(["jobs", "status", "ssj-0000000000000000"])
    assert missing.value.code == 2 and "NotFound" in capsys.readouterr().err
