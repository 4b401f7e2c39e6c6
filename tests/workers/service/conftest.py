"""A real jobs service on a free port (uvicorn in a thread), talked to over HTTP."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import uvicorn

from safesynth.client import Client
from safesynth.service.app import create_app
from safesynth.service.local import LocalBackend


@dataclass
class Service:
    url: str
    backend: LocalBackend
    client: Client


@contextmanager
def serve(backend: Any) -> Iterator[str]:
    """Any backend behind the real app, in uvicorn on a free port; yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _serve(root: Path, start_workers: bool) -> Iterator[Service]:
    backend = LocalBackend(root)
    if start_workers:
        backend.start()
    try:
        with serve(backend) as url:
            client = Client(url)
            try:
                yield Service(url, backend, client)
            finally:
                client.close()
    finally:
        backend.stop()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The API with its queue but no worker: submitted jobs stay Pending (no training in API tests)."""
    yield from _serve(tmp_path / "service", start_workers=False)


@pytest.fixture
def running_service(tmp_path: Path) -> Iterator[Service]:
    """The API with one worker: submitted jobs really run."""
    yield from _serve(tmp_path / "service", start_workers=True)


@pytest.fixture
def job_manifest(small_csv: Path) -> Callable[..., dict]:
    def make(name: str = "demo", **spec: object) -> dict:
        return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name},
                "spec": {"data": {"uri": str(small_csv)}, **spec}}

    return make
