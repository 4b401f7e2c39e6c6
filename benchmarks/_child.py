"""One generator, fitted and sampled in its own process: `python -m benchmarks._child JOB.json`.

A process per generator so that peak memory (ru_maxrss) belongs to that
generator alone and nothing leaks between them (torch threads, jax caches).
compare.py writes the job file and reads back `result.json`:

    {"fitSeconds", "sampleSeconds", "peakRssMb", "importRssMb", "rows", "extra": {...}}

Memory comes from /proc/self/status (Linux). `importRssMb` is the resident size after the generator's libraries are
imported and before fitting, so `peakRssMb - importRssMb` is roughly what the
model and its data cost. Runs in the project's .venv (safesynth, SDV, the
marginals floor) or in the smartnoise venv (MST, AIM), which has no safesynth:
only benchmarks._peers is imported there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    """Current resident set size."""
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """Peak resident set size of this program (VmHWM). Not ru_maxrss: Linux carries that over from the
    parent at fork, so every child would report at least the parent's size."""
    return _status_mb("VmHWM")


def limit_threads(n: int) -> None:
    """The same thread count for every generator (env vars must be set before numpy/torch/jax load)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}"


def run_peer(job: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from benchmarks import _peers

    if job["generator"] in ("gaussian_copula", "ctgan"):
        import sdv.single_table  # noqa: F401  (imports before the baseline, as for every generator)
        import torch

        torch.set_num_threads(job["threads"])
    elif job["generator"] in _peers.DP_PEERS:
        import snsynth  # noqa: F401
    train = pd.read_parquet(job["train"])
    base = rss_mb()
    t0 = time.perf_counter()
    sample = _peers.fit(job["generator"], train, job["kinds"], job["seed"], job.get("params", {}))
    t1 = time.perf_counter()
    syn = sample(job["rows"])
    t2 = time.perf_counter()
    syn.to_parquet(job["out"], index=False)
    return {"fitSeconds": t1 - t0, "sampleSeconds": t2 - t1, "importRssMb": base, "rows": len(syn), "extra": {}}


def run_safesynth(job: dict[str, Any]) -> dict[str, Any]:
    """The real train and generate stages on a run folder that already holds prepare/ (and pii/)."""
    import shutil

    import torch

    from safesynth.progress import LogProgress
    from safesynth.spec.models import SafeSynthJobSpec
    from safesynth.stages import generate, train
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    torch.set_num_threads(job["threads"])
    spec = SafeSynthJobSpec.model_validate(job["spec"])
    store = LocalStore(job["run"])
    progress = LogProgress()
    base = rss_mb()
    t0 = time.perf_counter()
    t = execute_stage(train, spec, store, progress, force=True).summary
    t1 = time.perf_counter()
    g = execute_stage(generate, spec, store, progress, force=True).summary
    t2 = time.perf_counter()
    shutil.copyfile(Path(job["run"]) / "generate" / "synthetic.parquet", job["out"])
    extra = {"epsilonSpent": t.get("epsilonSpent"), "steps": t.get("steps"), "loss": t.get("loss"),
             "model": t.get("model"), "validFraction": g.get("validFraction"), "trainSummary": "train/summary.json"}
    return {"fitSeconds": t1 - t0, "sampleSeconds": t2 - t1, "importRssMb": base, "rows": g["rowsGenerated"],
            "extra": extra}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    limit_threads(job["threads"])
    result = run_safesynth(job) if job["generator"] == "safesynth" else run_peer(job)
    result["peakRssMb"] = peak_mb()
    Path(job["result"]).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
