"""The jobs API over real HTTP: every route's success, bad request, not found and forbidden answers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import httpx
import pytest

from safesynth.client import PREFIX, ApiError
from safesynth.commands.jobs import openapi_document
from safesynth.service.local import LocalBackend
from tests.workers.service.conftest import Service

ROUTES_BY_ID = [("GET", ""), ("GET", "/status"), ("GET", "/logs"), ("GET", "/results"), ("POST", "/cancel"),
                ("DELETE", "")]


def test_create_get_status_and_list(service: Service, job_manifest: Callable[..., dict]) -> None:
    job = service.client.submit(job_manifest("first"))
    assert job["id"].startswith("ssj-") and job["phase"] == "Pending" and job["namespace"] == "default"
    assert service.client.get(job["id"])["spec"]["data"]["uri"] == job_manifest()["spec"]["data"]["uri"]
    assert service.client.status(job["id"])["phase"] == "Pending"
    body = {"name": "second", "namespace": "team-a", "spec": job_manifest()["spec"]}
    second = httpx.post(service.url + PREFIX, json=body).json()
    assert second["namespace"] == "team-a" and second["name"] == "second"
    assert [j["name"] for j in service.client.list_jobs()["data"]] == ["first", "second"]
    assert [j["name"] for j in service.client.list_jobs(namespace="team-a")["data"]] == ["second"]
    assert service.client.list_jobs(phase="Succeeded")["data"] == []


def test_bad_spec_is_400_with_field_paths_and_no_values(service: Service, job_manifest: Callable[..., dict]) -> None:
    secret = "s3cr3t-value-123"
    bad = job_manifest("bad", training={"maxSteps": secret}, bogus={"x": secret})
    response = httpx.post(service.url + PREFIX, json=bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidSpec"
    assert {d["fieldPath"] for d in error["details"]} == {"spec.training.maxSteps", "spec.bogus"}
    assert secret not in response.text
    assert service.client.list_jobs()["data"] == []  # nothing created

    not_json = httpx.post(service.url + PREFIX, content=b"[1, 2]", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "BadRequest"
    bad_query = httpx.get(service.url + PREFIX, params={"limit": 0, "phase": "Nope"})
    assert bad_query.status_code == 400
    assert {d["fieldPath"] for d in bad_query.json()["error"]["details"]} == {"query.limit", "query.phase"}


@pytest.mark.parametrize(("method", "suffix"), ROUTES_BY_ID)
def test_unknown_job_is_404_on_every_route(service: Service, method: str, suffix: str) -> None:
    response = httpx.request(method, f"{service.url}{PREFIX}/ssj-0000000000000000{suffix}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound"


def test_same_name_twice_is_409_and_concurrent_submissions_lose_nothing(
    service: Service, job_manifest: Callable[..., dict]
) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        created = list(pool.map(lambda i: service.client.submit(job_manifest(f"job-{i}")), range(50)))
        racing = list(pool.map(lambda _: httpx.post(service.url + PREFIX, json=job_manifest("same")), range(10)))
    assert len({j["id"] for j in created}) == 50
    assert sorted(r.status_code for r in racing) == [201] + [409] * 9
    names: list[str] = []
    token = None
    while True:
        page = service.client.list_jobs(limit=16, page_token=token)
        names += [j["name"] for j in page["data"]]
        token = page["nextPageToken"]
        if token is None:
            break
    assert sorted(names) == sorted([f"job-{i}" for i in range(50)] + ["same"])


def test_cancel_then_delete(service: Service, job_manifest: Callable[..., dict]) -> None:
    job = service.client.submit(job_manifest())
    assert service.client.cancel(job["id"])["phase"] == "Cancelled"
    assert service.client.status(job["id"])["phase"] == "Cancelled"
    assert service.client.cancel(job["id"])["phase"] == "Cancelled"  # idempotent
    service.client.delete(job["id"])
    with pytest.raises(ApiError) as err:
        service.client.get(job["id"])
    assert err.value.status == 404 and err.value.exit_code == 2


def test_forged_or_expired_download_link_is_403(service: Service, job_manifest: Callable[..., dict]) -> None:
    job = service.client.submit(job_manifest())
    url = f"{service.url}{PREFIX}/{job['id']}/results/download"
    forged = httpx.get(url, params={"key": "status.json", "expires": 4_000_000_000, "signature": "0" * 64})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "Forbidden"
    malformed = httpx.get(url, params={"key": "status.json", "expires": 1, "signature": "zz"})
    assert malformed.status_code == 400


def test_restart_requeues_running_jobs(tmp_path: Path, job_manifest: Callable[..., dict]) -> None:
    backend = LocalBackend(tmp_path)
    job = backend.create(job_manifest())
    assert backend.table.next_pending() is not None and backend.get(job.id).phase == "Running"
    backend.table.close()
    again = LocalBackend(tmp_path)
    record = again.get(job.id)
    assert record.phase == "Pending" and "restart" in (record.message or "")
    again.table.close()


def test_checked_in_openapi_document_is_current() -> None:
    checked_in = Path(__file__).resolve().parents[3] / "workers" / "safesynth" / "service" / "openapi.json"
    assert json.loads(checked_in.read_text()) == json.loads(json.dumps(openapi_document())), (
        "regenerate: safesynth serve --print-openapi > workers/safesynth/service/openapi.json")
    paths = openapi_document()["paths"]
    assert {PREFIX, PREFIX + "/{job_id}", PREFIX + "/{job_id}/status", PREFIX + "/{job_id}/logs",
            PREFIX + "/{job_id}/results", PREFIX + "/{job_id}/cancel"} <= set(paths)
