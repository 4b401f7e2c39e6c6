"""Operator latency and footprint against the emulated API server (tests/kubeapi).

    .venv/bin/python benchmarks/operator.py [--jobs 200] [--single 5]

Measures, with the real operator process (`python -m safesynth_operator`):

1. time from a SafeSynthJob created (HTTP POST returned) to its first stage Job
   stored, for a few jobs one after the other (target ≤ 1 s);
2. N SafeSynthJobs posted at once (8 client threads): time until every one has
   its first Job, and the operator's resident memory (peak, sampled every 50 ms;
   target ≤ 250 MB).

No kubelet runs: Jobs stay pending, which is what "first Job" measures. The
emulation answers in microseconds where a real API server takes milliseconds,
so these numbers are the operator's own cost, not a cluster's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import yaml  # noqa: E402

from tests.kubeapi.server import KubeAPIServer  # noqa: E402
from tests.operator.operator_process import OperatorProcess  # noqa: E402

NS = "bench"


def _post(url: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def _cr(name: str) -> dict[str, Any]:
    return {"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": name},
            "spec": {"data": {"uri": "s3://bench/table.csv"}}}


class Sampler:
    """Peak RSS of a process, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.proc, self.every, self.peak = psutil.Process(pid), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="SafeSynthJobs applied at once")
    parser.add_argument("--single", type=int, default=5, help="jobs timed one by one")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="safesynth-bench-"))
    server = KubeAPIServer().start()
    store = server.store
    jobs_rt = store.type("batch", "v1", "jobs")
    try:
        kubeconfig = server.write_kubeconfig(tmp / "kubeconfig")
        crd = yaml.safe_load((REPO / "crds" / "safesynthjobs.safesynth.io.yaml").read_text())
        store.create(store.type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None, crd)
        store.create(store.type("", "v1", "namespaces"), None,
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        url = f"{server.url}/apis/safesynth.io/v1alpha1/namespaces/{NS}/safesynthjobs"

        def job_names() -> set[str]:
            return {j["metadata"]["name"] for j in store.list(jobs_rt, NS)[0]}

        op = OperatorProcess({"KUBECONFIG": str(kubeconfig)}, tmp / "operator.log",
                             watch_namespaces=NS, stages="prepare,pii,train,generate,evaluate")
        t_start = time.perf_counter()
        op.start()
        startup = time.perf_counter() - t_start
        assert op.proc is not None
        idle_rss = psutil.Process(op.proc.pid).memory_info().rss

        singles = []
        for i in range(args.single):
            name = f"single-{i}"
            t0 = time.perf_counter()
            _post(url, _cr(name))
            while f"{name}-prepare" not in job_names():
                time.sleep(0.002)
                if time.perf_counter() - t0 > 30:
                    raise TimeoutError(f"no Job for {name}:\n{op.log()}")
            singles.append(time.perf_counter() - t0)

        cpu_before = psutil.Process(op.proc.pid).cpu_times()
        with Sampler(op.proc.pid) as sampler:
            names = [f"bulk-{i:03d}" for i in range(args.jobs)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: _post(url, _cr(n)), names))
            posted = time.perf_counter() - t0
            want = {f"{n}-prepare" for n in names}
            while not want <= job_names():
                time.sleep(0.05)  # each look copies every Job under the server's lock: keep it rare
                if time.perf_counter() - t0 > 300:
                    raise TimeoutError(f"{len(want - job_names())} without a Job:\n{op.log()}")
            all_first = time.perf_counter() - t0
            cpu_after = psutil.Process(op.proc.pid).cpu_times()
            time.sleep(1.0)  # let status writes and Job events settle, still sampling
        op.stop()
    finally:
        try:
            server.stop()
        except TimeoutError:  # a busy machine: the numbers above are already taken
            print("note: the emulated API server did not stop within 10 s", file=sys.stderr)

    mb = 1024 * 1024
    rows = [
        ("operator start until /healthz answers", f"{startup:.2f} s", ""),
        (f"CR created → first Job, median of {len(singles)}", f"{statistics.median(singles) * 1000:.0f} ms",
         "≤ 1 s"),
        (f"CR created → first Job, worst of {len(singles)}", f"{max(singles) * 1000:.0f} ms", "≤ 1 s"),
        (f"{args.jobs} CRs posted (8 threads)", f"{posted:.2f} s", ""),
        (f"{args.jobs} CRs → all have their first Job", f"{all_first:.2f} s", ""),
        ("  operator CPU time meanwhile", f"{cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system:.2f} s",
         ""),
        ("operator RSS idle", f"{idle_rss / mb:.0f} MB", ""),
        (f"operator RSS peak with {args.jobs} jobs", f"{sampler.peak / mb:.0f} MB", "≤ 250 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  target")
    print("-" * (width + 22))
    for what, value, target in rows:
        print(f"{what:<{width}}  {value:>10}  {target}")


if __name__ == "__main__":
    main()
