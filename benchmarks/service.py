"""Jobs API on one machine: submit → first status latency, concurrent submissions, listing 1,000 jobs.

    .venv/bin/python -m benchmarks.service [--jobs 1000]

A real uvicorn server on a free port and a real HTTP client (httpx), as in the
tests; the queue has no worker, so only the service itself is measured, not
training. Targets (issue 22): submit → first status < 1 s; 50 concurrent
submissions without loss or duplicates; list of 1,000 jobs < 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvicorn

from safesynth.client import Client
from safesynth.service.app import create_app
from safesynth.service.local import LocalBackend


def _manifest(name: str, data: Path) -> dict[str, Any]:
    return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name},
            "spec": {"data": {"uri": str(data)}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the table before timing the list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "t.csv"
        data.write_text("a,b\n1,2\n")
        backend = LocalBackend(root / "svc")
        server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        client = Client(f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}")

        first_status = []
        for i in range(20):
            t0 = time.perf_counter()
            job = client.submit(_manifest(f"lat-{i}", data))
            client.status(job["id"])
            first_status.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as pool:
            created = list(pool.map(lambda i: client.submit(_manifest(f"conc-{i}", data)), range(50)))
        concurrent_s = time.perf_counter() - t0
        distinct = len({j["id"] for j in created})

        for i in range(args.jobs - 70):
            backend.create(_manifest(f"fill-{i}", data))
        listing = []
        for _ in range(10):
            t0 = time.perf_counter()
            page = client.list_jobs(limit=1000)
            listing.append(time.perf_counter() - t0)
        listed = len(page["data"])

        client.close()
        server.should_exit = True
        thread.join(timeout=10)
        backend.stop()

    rows = [
        ("submit → first status, median of 20 (s)", f"{statistics.median(first_status):.3f}", "< 1"),
        ("submit → first status, worst of 20 (s)", f"{max(first_status):.3f}", "< 1"),
        ("50 concurrent submissions (s)", f"{concurrent_s:.2f}", "—"),
        ("  distinct jobs created of 50", str(distinct), "50"),
        (f"list {listed} jobs, median of 10 (ms)", f"{1000 * statistics.median(listing):.0f}", "< 200"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | value | target |")
    print(f"|{'-' * (width + 2)}|-------|--------|")
    for name, value, target in rows:
        print(f"| {name:<{width}} | {value} | {target} |")


if __name__ == "__main__":
    main()
