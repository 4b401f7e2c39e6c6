"""Sharded generation benchmark: rows per second of the generate stage with 1 and with N shards.

    .venv/bin/python benchmarks/shards.py                    # 1 vs 2 shards, 2,000 rows, 3 runs each
    .venv/bin/python benchmarks/shards.py --shards 1 2 4 --rows 4000 --epochs 2 --repeat 5
    .venv/bin/python benchmarks/shards.py --launch process   # shards as `safesynth stage --shard` processes
    .venv/bin/python benchmarks/shards.py --rows 4000 --launch auto process --max-others 0.1 --run-dir /tmp/b

Trains once on examples/data/patients.csv (the quickstart table, through the
real prepare, pii and train stages of `safesynth run`, in this process), then
runs the generate stage through `run_job` the way `safesynth run` does with
spec.generation.shards = N. With 1 shard the stage samples in this process.
With N > 1 the driver's `run_shards` starts the shards the way it picks on this
platform (`--launch auto`, on Linux CPU: forked from this process after the
model is loaded once here), or as N `safesynth stage generate --shard i/N`
processes (`--launch process`: what every run did before, and what a non-fork
platform or a GPU still gets); then the stage merges them. Every shard, and the
1-shard run, samples on one CPU thread (spec.training.threads, default 1), so
N shards use N cores.

Rows per second "end to end" are the rows over the wall time of that `run_job`
call: status writes, process start (if any), model load, sampling, the shards'
writes and the merge, or for 1 shard the table's assembly and writes: what a
user waits for once training is done (training and the imports it made are
not counted for either). "Sampling" rows per second are over the slowest
shard's sampling time, as the merged summary reports. The speed-up is the
median end-to-end rows/s over the first case's median (1 shard).

Timings on a shared machine depend on what else runs: each case runs
`--repeat` times, interleaved (one round = each case once), and the table
shows medians; the load average before each run (our own previous run counts
in it) and the share of the machine's CPU that other processes used during it
("others' CPU", from /proc/stat less this process and its shards) are printed,
so compare only runs at similar load. `--max-others 0.1` starts each round on
an idle machine and drops a round in which others used over 10% of the CPU.
The target (issue 21) is 2 shards >= 1.7x the rows/s of 1 shard on an idle
2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workers"))
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks._table import markdown_table  # noqa: E402
from safesynth import driver  # noqa: E402
from safesynth.driver import run_job  # noqa: E402
from safesynth.progress import LogProgress  # noqa: E402
from safesynth.shard_launch import PROCESS  # noqa: E402
from safesynth.spec import parse_job  # noqa: E402
from safesynth.spec.models import SafeSynthJob, StageName  # noqa: E402
from safesynth.stages import registry  # noqa: E402

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def cpu_ticks() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (zeros where it is missing)."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return (sum(fields[:8]) - idle) / hz, sum(fields[:8]) / hz


def own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the shards)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_until_idle(max_others: float, window: float = 10.0) -> None:
    """Block until other processes use under `max_others` of the machine's CPU over `window` seconds."""
    while True:
        (busy0, total0), own0 = cpu_ticks(), own_cpu()
        time.sleep(window)
        (busy1, total1), own1 = cpu_ticks(), own_cpu()
        if total1 <= total0 or (busy1 - busy0 - (own1 - own0)) / (total1 - total0) < max_others:
            return


def job_for(run: Path, rows: int, shards: int, epochs: float) -> SafeSynthJob:
    """The quickstart manifest, with the training cut to `epochs` and generation set to `rows` in `shards`."""
    body = yaml.safe_load(QUICKSTART.read_text())
    spec = body["spec"]
    spec["data"]["uri"] = str(REPO / "examples" / "data" / "patients.csv")
    # One thread per shard and for the 1-shard run (the module docstring): the example itself trains on two.
    spec.setdefault("training", {}).update(epochs=epochs, threads=1)
    spec["generation"] = {**(spec.get("generation") or {}), "numRecords": rows, "shards": shards,
                          "maxInvalidFraction": 1.0}
    spec.setdefault("artifacts", {})["uri"] = str(run)
    spec.setdefault("evaluation", {})
    return parse_job(body)


def measure(run: Path, rows: int, shards: int, epochs: float, launch: str) -> dict[str, Any]:
    job = job_for(run, rows, shards, epochs)
    mode = "in process" if shards == 1 else (PROCESS if launch == PROCESS else
                                                driver.shard_launch_mode(registry()[StageName.GENERATE], job.spec))
    before, (busy0, total0), own0 = load(), cpu_ticks(), own_cpu()
    t0 = time.monotonic()
    with _forced(launch):
        status = run_job(job, str(run / "job"), progress=LogProgress(), force=True, only=[StageName.GENERATE])
    wall = time.monotonic() - t0
    (busy1, total1), own1 = cpu_ticks(), own_cpu()
    others = (busy1 - busy0 - (own1 - own0)) / (total1 - total0) if total1 > total0 else None
    summary = next(s.summary for s in status.stages if s.name == "generate") or {}
    preloaded = [s.get("preloaded") for s in summary.get("shards") or []]
    return {"name": f"{shards} shard{'s' if shards > 1 else ''}", "shards": shards, "launch": mode,
            "preloaded": all(preloaded) if preloaded else None,
            "rows": summary.get("rowsGenerated"), "seconds": wall,
            "rowsPerSecond": (summary.get("rowsGenerated") or 0) / wall,
            "samplingRowsPerSecond": summary.get("rowsPerSecond"), "loadBefore": before,
            "othersCpu": None if others is None else max(0.0, others), "timings": summary.get("timings") or {}}


@contextmanager
def _forced(launch: str) -> Iterator[None]:
    """`--launch process`: the driver starts `safesynth stage --shard` processes whatever it would pick."""
    if launch != PROCESS:
        yield
        return
    picked = driver.shard_launch_mode
    driver.shard_launch_mode = lambda module, spec: PROCESS
    try:
        yield
    finally:
        driver.shard_launch_mode = picked


def warm_imports(run: Path) -> None:
    """Load the trained model once and drop it: when the training was already there (--run-dir) this process
    has not imported torch and transformers yet, and the first case must not pay for that alone."""
    from safesynth.generator.bundle import load_bundle

    load_bundle(run / "job" / "train" / "model", "cpu")


def median_case(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per case: the medians of its runs' numbers, the spread of their load."""
    def med(get: Any) -> Any:
        values = [v for v in (get(r) for r in runs) if v is not None]
        return statistics.median(values) if values else None

    first = runs[0]
    how = first["launch"] + (", model loaded once" if first["preloaded"] else "")
    return {**first, "name": f"{first['name']} ({how})", "seconds": med(lambda r: r["seconds"]), "rowsPerSecond": med(lambda r: r["rowsPerSecond"]),
            "samplingRowsPerSecond": med(lambda r: r["samplingRowsPerSecond"]),
            "othersCpu": med(lambda r: r["othersCpu"]), "runs": len(runs),
            "timings": {k: med(lambda r, k=k: r["timings"].get(k)) for k in ("load", "sample", "merge")},
            "loads": [r["loadBefore"].split()[0] for r in runs]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=1.0, help="training epochs (the model only has to sample)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each case, interleaved; the table shows medians")
    ap.add_argument("--launch", choices=["auto", PROCESS], nargs="+", default=["auto"],
                    help="how N > 1 shards start: as the driver picks here, or as `safesynth stage` processes "
                         "(both: each N runs both ways)")
    ap.add_argument("--max-others", type=float, metavar="FRACTION",
                    help="on a shared machine: start each round once other processes use under this share of the "
                         "CPU, and drop (and redo) a round in which they used more, e.g. 0.1")
    ap.add_argument("--max-rounds", type=int, default=30, help="with --max-others: give up after this many rounds")
    ap.add_argument("--run-dir", type=Path, help="keep the run in this folder; a later run with the same --epochs "
                    "skips the training already there")
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print(f"cores usable: {cores}; load average at start: {load()}", flush=True)
    cases = [(n, how) for n in args.shards for how in (args.launch if n > 1 else ["auto"])]
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory(prefix="safesynth-bench-shards-") as tmp:
        run = args.run_dir.resolve() if args.run_dir else Path(tmp)
        train_job = job_for(run, args.rows, 1, args.epochs)
        run_job(train_job, str(run / "job"), progress=LogProgress(),
                only=[StageName.PREPARE, StageName.PII, StageName.TRAIN])
        warm_imports(run)
        rounds = 0
        while len(runs[cases[0]]) < args.repeat:
            rounds += 1
            if args.max_others is not None:
                if rounds > args.max_rounds:
                    sys.exit(f"gave up: {args.max_rounds} rounds, other processes kept using the CPU")
                wait_until_idle(args.max_others)
            got = []
            for n, how in cases:
                r = measure(run, args.rows, n, args.epochs, how)
                got.append(r)
                print(f"{r['name']} ({r['launch']}): {r['seconds']:.1f} s, {r['rowsPerSecond']:.1f} rows/s end to "
                      f"end; load before {r['loadBefore']}, others' CPU {r['othersCpu'] or 0:.0%}", flush=True)
            if args.max_others is not None and any((r["othersCpu"] or 0) > args.max_others for r in got):
                print("  (round dropped: other processes used the CPU during it)", flush=True)
                continue
            for (n, how), r in zip(cases, got):
                runs[(n, how)].append(r)
    results = [median_case(runs[case]) for case in cases]
    base = results[0]["rowsPerSecond"]
    for r in results:
        r["speedup"] = r["rowsPerSecond"] / base if base else None
    print(f"\nmedians of {args.repeat} run(s) each, {args.rows:,} rows:")
    print(markdown_table(results, [
        ("rows", lambda r: r["rows"], "{:,}"),
        ("seconds (end to end)", lambda r: r["seconds"], "{:.1f}"),
        ("rows/s (end to end)", lambda r: r["rowsPerSecond"], "{:.1f}"),
        ("rows/s (sampling)", lambda r: r["samplingRowsPerSecond"], "{:.1f}"),
        ("model load s (slowest)", lambda r: r["timings"].get("load"), "{:.1f}"),
        ("sampling s (slowest)", lambda r: r["timings"].get("sample"), "{:.1f}"),
        ("merge s", lambda r: r["timings"].get("merge"), "{:.1f}"),
        (f"speed-up vs {results[0]['shards']}", lambda r: r["speedup"], "{:.2f}x"),
        ("others' CPU", lambda r: r["othersCpu"], "{:.0%}"),
    ], label="case"))
    for r in results:
        print(f"{r['name']}: 1-minute load average before each run: {', '.join(r['loads'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
