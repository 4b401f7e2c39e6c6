"""Sharded generation benchmark: rows per second of the generate stage with 1 and with N shards.

    .venv/bin/python benchmarks/shards.py                    # 1 vs 2 shards, 2,000 rows, quickstart table
    .venv/bin/python benchmarks/shards.py --shards 1 2 4 --rows 4000 --epochs 2

Trains once on examples/data/patients.csv (the quickstart table, through the
real prepare, pii and train stages of `safesynth run`), then runs the generate
stage the way `safesynth run` does with spec.generation.shards = N: N
`safesynth stage generate --shard i/N` processes, then the merge. Each process
samples on one CPU thread (spec.training.threads, default 1), so N shards use
N cores. Rows per second are end to end (process start, model load, sampling,
merge: what a user waits for) and of sampling alone (the slowest shard's
sampling time, as the merged summary reports). The speed-up is over 1 shard.

Timings on a shared machine depend on what else runs: the load average is
printed before and after each case and the cores this process may use; compare
only runs at similar load. The target (issue 21) is 2 shards >= 1.7x the rows/s
of 1 shard on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workers"))
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks._table import markdown_table  # noqa: E402
from safesynth.driver import run_job  # noqa: E402
from safesynth.progress import LogProgress  # noqa: E402
from safesynth.spec import parse_job  # noqa: E402
from safesynth.spec.models import SafeSynthJob, StageName  # noqa: E402

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def job_for(run: Path, rows: int, shards: int, epochs: float) -> SafeSynthJob:
    """The quickstart manifest, with the training cut to `epochs` and generation set to `rows` in `shards`."""
    body = yaml.safe_load(QUICKSTART.read_text())
    spec = body["spec"]
    spec["data"]["uri"] = str(REPO / "examples" / "data" / "patients.csv")
    spec.setdefault("training", {})["epochs"] = epochs
    spec["generation"] = {**(spec.get("generation") or {}), "numRecords": rows, "shards": shards,
                          "maxInvalidFraction": 1.0}
    spec.setdefault("artifacts", {})["uri"] = str(run)
    spec.setdefault("evaluation", {})
    return parse_job(body)


def measure(run: Path, rows: int, shards: int, epochs: float) -> dict[str, Any]:
    job = job_for(run, rows, shards, epochs)
    before = load()
    t0 = time.monotonic()
    status = run_job(job, str(run / "job"), progress=LogProgress(), force=True, only=[StageName.GENERATE])
    wall = time.monotonic() - t0
    summary = next(s.summary for s in status.stages if s.name == "generate") or {}
    return {"name": f"{shards} shard{'s' if shards > 1 else ''}", "shards": shards,
            "rows": summary.get("rowsGenerated"), "seconds": wall,
            "rowsPerSecond": (summary.get("rowsGenerated") or 0) / wall,
            "samplingRowsPerSecond": summary.get("rowsPerSecond"), "loadBefore": before, "loadAfter": load(),
            "timings": summary.get("timings") or {}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=1.0, help="training epochs (the model only has to sample)")
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"cores usable: {cores}; load average at start: {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="safesynth-bench-shards-") as tmp:
        run = Path(tmp)
        train_job = job_for(run, args.rows, 1, args.epochs)
        run_job(train_job, str(run / "job"), progress=LogProgress(),
                only=[StageName.PREPARE, StageName.PII, StageName.TRAIN])
        results = [measure(run, args.rows, n, args.epochs) for n in args.shards]
    base = results[0]["rowsPerSecond"]
    for r in results:
        r["speedup"] = r["rowsPerSecond"] / base if base else None
    print(markdown_table(results, [
        ("rows", lambda r: r["rows"], "{:,}"),
        ("seconds (end to end)", lambda r: r["seconds"], "{:.1f}"),
        ("rows/s (end to end)", lambda r: r["rowsPerSecond"], "{:.1f}"),
        ("rows/s (sampling)", lambda r: r["samplingRowsPerSecond"], "{:.1f}"),
        ("model load s (slowest)", lambda r: r["timings"].get("load"), "{:.1f}"),
        ("sampling s (slowest)", lambda r: r["timings"].get("sample"), "{:.1f}"),
        ("merge s", lambda r: r["timings"].get("merge"), "{:.1f}"),
        (f"speed-up vs {results[0]['shards']}", lambda r: r["speedup"], "{:.2f}x"),
    ], label="case"))
    for r in results:
        print(f"{r['name']}: load average before {r['loadBefore']}, after {r['loadAfter']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
