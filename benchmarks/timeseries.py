"""Grouped records benchmark: sequence metrics and SQS for safesynth vs a generator of independent rows.

    .venv/bin/python benchmarks/timeseries.py                          # runs `safesynth run examples/timeseries.yaml`
    .venv/bin/python benchmarks/timeseries.py --safesynth-run DIR      # scores an existing run folder instead
    .venv/bin/python benchmarks/timeseries.py --skip-safesynth         # the baseline and the real reference only

Data: examples/data/timeseries.csv (1,945 visits of 312 PBC patients, built by
examples/make_timeseries_data.py), grouped by `patient_id`, ordered by `day`
(examples/timeseries.yaml). Rows of the printed table:

- safesynth: `safesynth run` of the spec in a temporary folder (its own
  prepare, pii, train, generate), or the run folder given with
  --safesynth-run (copied, model weights left out, so re-scoring never writes
  into it). A failed run is printed as a failed row and the others still run;
- GaussianCopula (rows): SDV's GaussianCopulaSynthesizer (sdv==2.0.0, the
  `bench` extra; the same peer as benchmarks/compare.py, benchmarks/_peers.py)
  fitted on the same training table safesynth saw (pii/train when the PII stage
  ran) as independent rows: the entity key is modelled as one more categorical
  column, so each synthetic row draws its key on its own, and the rows are
  written in the order the peer samples them. That is what a row generator
  knows of entities and time: nothing;
- holdout (real): the real holdout patients scored as if they were synthetic:
  what sampling noise alone leaves on each statistic. It has about a quarter
  as many entities as the training table (62 against 246), so its floor is
  higher than that of a synthetic table as large as the training table (JS
  distance grows like sqrt(bins/n)). No membership figures: its "synthetic"
  entities are the non-members themselves.

The PII stage runs under a fixed public key (FIXED_KEY, unless
SAFESYNTH_PII_KEY is set), so its fakes and the baseline repeat exactly.
Every row is scored by the evaluate stage itself (forced re-run) on the same
prepare/pii outputs, so the tables, split and metric code are the same.
Targets (issue 20) are printed in the header and checked per row: entities in
order 100%, entity-level columns constant in ≥ 99% of entities (the lowest
column), rows-per-entity JS ≤ 0.1, gap JS ≤ 0.15, lag-1 autocorrelation within
0.1 of the real one for every time-varying numeric column (the lab values:
numeric columns that are not entity-level), SQS ≥ 8. A second table gives the
lag-1 autocorrelation per time-varying column.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "workers") not in sys.path:
    sys.path.insert(0, str(REPO / "workers"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._table import markdown_table  # noqa: E402

DEFAULT_SPEC = REPO / "examples" / "timeseries.yaml"
# The PII stage's key unless one is set: a public benchmark constant, not a secret; it only makes the
# fakes (and so pii/train, and the baseline fitted on it) the same from run to run (README, "Reproducibility").
FIXED_KEY = "safesynth-timeseries-benchmark-fixed-key"
PII_KEY_ENV = "SAFESYNTH_PII_KEY"

# (header, getter, format, target check or None), in table order
Getter = Callable[[dict[str, Any]], Any]
COLUMNS: list[tuple[str, Getter, str, Optional[Callable[[float], bool]]]] = [
    ("ordered % (=100)", lambda r: _pct(r, "sequence_order", "orderedShare"), "{:.1f}", lambda v: v >= 100.0),
    ("contiguous %", lambda r: _pct(r, "sequence_order", "contiguousShare"), "{:.1f}", None),
    ("entity-level const % min (≥99)", lambda r: _pct(r, "sequence_entity_columns", "minSyntheticConstantShare"),
     "{:.1f}", lambda v: v >= 99.0),
    ("rows/entity JS (≤0.10)", lambda r: _stat(r, "sequence_rows_per_entity", "jsDistance"), "{:.3f}",
     lambda v: v <= 0.10),
    ("gap JS (≤0.15)", lambda r: _stat(r, "sequence_gaps", "jsDistance"), "{:.3f}", lambda v: v <= 0.15),
    ("lag-1 |Δ| max, labs (≤0.10)", lambda r: r.get("labMaxAbsDiff"), "{:.3f}", lambda v: v <= 0.10),
    ("lag-1 |Δ| mean, labs", lambda r: r.get("labMeanAbsDiff"), "{:.3f}", None),
    ("change error", lambda r: _stat(r, "sequence_change", "meanError"), "{:.3f}", None),
    ("entity MIA AUC", lambda r: _stat(r, "sequence_membership", "auc"), "{:.3f}", None),
    ("entity TPR@1%FPR", lambda r: _stat(r, "sequence_membership", "tprAt1PctFpr"), "{:.3f}", None),
    ("SQS (≥8)", lambda r: r.get("sqs"), "{:.2f}", lambda v: v >= 8.0),
    ("DPS", lambda r: r.get("dps"), "{:.2f}", None),
]


def _metric(r: dict[str, Any], name: str) -> dict[str, Any]:
    m = (r.get("metrics") or {}).get(name) or {}
    return m if m.get("status") == "ok" else {}


def _stat(r: dict[str, Any], name: str, key: str) -> Optional[float]:
    v = (_metric(r, name).get("statistic") or {}).get(key)
    return float(v) if isinstance(v, (int, float)) else None


def _pct(r: dict[str, Any], name: str, key: str) -> Optional[float]:
    v = _stat(r, name, key)
    return None if v is None else 100.0 * v


def lab_columns(metrics: dict[str, Any]) -> list[str]:
    """Time-varying numeric columns: those with a lag-1 autocorrelation that are not entity-level."""
    ac = ((metrics.get("sequence_autocorrelation") or {}).get("statistic") or {}).get("real") or {}
    level = set(((metrics.get("sequence_entity_columns") or {}).get("statistic") or {}).get("entityLevelColumns")
                or [])
    return [c for c in ac if c not in level]


def lab_summary(row: dict[str, Any], labs: list[str]) -> None:
    """Add the max and mean |Δ autocorrelation| over the lab columns to a scored row."""
    diffs = (_metric(row, "sequence_autocorrelation").get("statistic") or {}).get("absDifference") or {}
    vals = [float(diffs[c]) for c in labs if isinstance(diffs.get(c), (int, float))]
    if vals:
        row["labMaxAbsDiff"], row["labMeanAbsDiff"] = max(vals), sum(vals) / len(vals)


def targets_met(row: dict[str, Any]) -> str:
    if row.get("error"):
        return "–"
    parts = []
    for header, get, _, check in COLUMNS:
        if check is None:
            continue
        v = get(row)
        parts.append(f"{header.split(' (')[0]}: {'–' if v is None else ('met' if check(v) else 'MISSED')}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------ the runs


def run_safesynth(spec_path: Path, work: Path, timeout: int) -> Path:
    """`safesynth run SPEC --run-uri WORK/safesynth` from the repo root; exit 4 (gates) still leaves the artifacts."""
    run_dir = work / "safesynth"
    exe = Path(sys.executable).with_name("safesynth")
    cmd = [str(exe) if exe.exists() else "safesynth", "run", str(spec_path), "--run-uri", str(run_dir)]
    log = work / "safesynth-run.log"
    print(f"running {' '.join(cmd)} (log: {log})", file=sys.stderr, flush=True)
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if proc.returncode not in (0, 4):
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-3:]
        raise RuntimeError(f"safesynth run exited {proc.returncode}: {' | '.join(tail)[-300:]}")
    return run_dir


def copy_run(src: Path, dst: Path) -> Path:
    """A run folder's stage outputs without the model weights (re-scoring writes evaluate/ in the copy)."""
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if Path(d).name == "train" and n == "model"])
    return dst


def base_run(spec: Any, work: Path) -> Path:
    """prepare (and pii when enabled) for the spec, when no safesynth run folder provides them."""
    from safesynth.progress import LogProgress
    from safesynth.stages import pii, prepare
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    store = LocalStore(work / "base")
    execute_stage(prepare, spec, store, LogProgress())
    if spec.pii.enabled:
        execute_stage(pii, spec, store, LogProgress())
    return work / "base"


def training_table(run_dir: Path) -> tuple[Any, dict[str, str], str]:
    """What the generator saw (pii/train over prepare/train), its schema kinds, and where it came from."""
    from safesynth.store import LocalStore

    store = LocalStore(run_dir)
    prefix = "pii" if store.exists("pii/train.parquet") else "prepare"
    schema = store.read_json(f"{prefix}/schema.json") if store.exists(f"{prefix}/schema.json") else \
        store.read_json("prepare/schema.json")
    cols = schema.get("columns", schema)
    kinds = {str(c["name"]): str(c["kind"]) for c in cols} if isinstance(cols, list) else \
        {str(k): str(v.get("kind") if isinstance(v, dict) else v) for k, v in cols.items()}
    return store.read_table(f"{prefix}/train.parquet"), kinds, prefix


def gaussian_copula_rows(base: Path, dst: Path, spec: Any, seed: int) -> tuple[Path, dict[str, float]]:
    """The baseline's run folder: the base's prepare/pii outputs plus GaussianCopula rows as generate/synthetic."""
    import pandas as pd

    from benchmarks import _peers
    from safesynth.store import LocalStore

    train, kinds, _ = training_table(base)
    kinds = {c: ("categorical" if c in spec.data.group_by else k) for c, k in kinds.items() if c in train.columns}
    t0 = time.perf_counter()
    sample = _peers.fit("gaussian_copula", train, kinds, seed, {})
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = sample(len(train))
    sample_s = time.perf_counter() - t0
    shutil.copytree(base, dst, ignore=lambda d, names: [n for n in names if n in ("generate", "evaluate", "train")])
    LocalStore(dst).write_table("generate/synthetic.parquet", pd.DataFrame(syn))
    return dst, {"fitSeconds": fit_s, "sampleSeconds": sample_s}


def holdout_as_synthetic(base: Path, dst: Path) -> Path:
    """The real holdout entities in the synthetic table's place: the sampling-noise floor."""
    from safesynth.store import LocalStore

    shutil.copytree(base, dst, ignore=lambda d, names: [n for n in names if n in ("generate", "evaluate", "train")])
    store = LocalStore(dst)
    prefix = "pii" if store.exists("pii/holdout.parquet") else "prepare"
    store.write_table("generate/synthetic.parquet", store.read_table(f"{prefix}/holdout.parquet"))
    return dst


def score(run_dir: Path, spec: Any) -> dict[str, Any]:
    """The evaluate stage, forced, on `run_dir`; metrics.json and the summary (a failed gate is not an error here)."""
    from safesynth.errors import GateNotMetError
    from safesynth.progress import LogProgress
    from safesynth.stages import evaluate
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    store = LocalStore(run_dir)
    try:
        summary = execute_stage(evaluate, spec, store, LogProgress(), force=True).summary
    except GateNotMetError as err:
        summary = dict(err.summary)
    metrics = store.read_json("evaluate/metrics.json")
    return {"sqs": summary.get("sqs"), "dps": summary.get("dps"), "metrics": metrics["metrics"],
            "evaluateSeconds": metrics.get("seconds")}


def autocorrelation_table(rows: list[dict[str, Any]], labs: list[str]) -> str:
    """Lag-1 autocorrelation per lab column: the real value, then each generator's and |Δ|."""
    scored = [r for r in rows if not r.get("error") and _metric(r, "sequence_autocorrelation")]
    if not scored or not labs:
        return ""
    real = _metric(scored[0], "sequence_autocorrelation")["statistic"]["real"]
    out = []
    for c in labs:
        line: dict[str, Any] = {"name": c, "real": real.get(c)}
        for r in scored:
            st = _metric(r, "sequence_autocorrelation")["statistic"]
            line[r["name"]] = st["synthetic"].get(c)
            line[r["name"] + " |Δ|"] = st["absDifference"].get(c)
        out.append(line)
    def key(k: str) -> Getter:
        return lambda x: x.get(k)

    cols: list[tuple[str, Getter, str]] = [("real", key("real"), "{:.3f}")]
    for r in scored:
        cols += [(r["name"], key(r["name"]), "{:.3f}"), ("|Δ| (≤0.10)", key(r["name"] + " |Δ|"), "{:.3f}")]
    return markdown_table(out, cols, label="column")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the SafeSynthJob manifest (groupBy set)")
    ap.add_argument("--safesynth-run", type=Path, default=None, help="score this existing run folder")
    ap.add_argument("--skip-safesynth", action="store_true", help="no safesynth row (baseline and reference only)")
    ap.add_argument("--work", type=Path, default=None, help="keep the run folders here (default: a temp folder)")
    ap.add_argument("--seed", type=int, default=0, help="the baseline's seed")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds for `safesynth run`")
    args = ap.parse_args(argv)

    from safesynth.spec import load_job

    os.environ.setdefault(PII_KEY_ENV, FIXED_KEY)  # before any stage runs, here or in `safesynth run`
    spec = load_job(args.spec).spec
    if not spec.data.group_by:
        ap.error(f"{args.spec}: spec.data.groupBy is not set; this benchmark scores grouped records")
    tmp = None if args.work else tempfile.TemporaryDirectory()
    work = args.work or Path(tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    base: Optional[Path] = None
    try:
        if not args.skip_safesynth:
            row: dict[str, Any] = {"name": "safesynth"}
            try:
                run_dir = (copy_run(args.safesynth_run, work / "safesynth-copy") if args.safesynth_run
                           else run_safesynth(args.spec.resolve(), work, args.timeout))
                row.update(score(run_dir, spec))
                base = run_dir
            except Exception as exc:  # the other rows still run
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            rows.append(row)
        if base is None:
            base = base_run(spec, work)
        row = {"name": "GaussianCopula (rows)"}
        try:
            gc_dir, timing = gaussian_copula_rows(base, work / "gaussian-copula", spec, args.seed)
            row.update(score(gc_dir, spec), **timing)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
        ref: dict[str, Any] = {"name": "holdout (real)"}
        ref.update(score(holdout_as_synthetic(base, work / "holdout"), spec))
        ref["metrics"].pop("sequence_membership", None)  # its "synthetic" entities are the non-members: no target
        rows.append(ref)
        labs = next((lab_columns(r["metrics"]) for r in rows if r.get("metrics")), [])
        for r in rows:
            lab_summary(r, labs)
        train, _, source = training_table(base)
    finally:
        if tmp is not None:
            tmp.cleanup()

    print(f"\ngrouped records: {args.spec.relative_to(REPO) if args.spec.is_relative_to(REPO) else args.spec}, "
          f"groupBy {list(spec.data.group_by)}, orderBy {spec.data.order_by}; training table {source}/train "
          f"({len(train):,} rows, {train[list(spec.data.group_by)].drop_duplicates().shape[0]:,} entities); "
          f"{os.cpu_count()} CPUs, load average at start {load:.1f}\n")
    print(markdown_table(rows, [(h, g, f) for h, g, f, _ in COLUMNS]))
    print("\nLag-1 autocorrelation within entities, time-varying numeric columns (labs: not entity-level):\n")
    print(autocorrelation_table(rows, labs))
    print("\nTargets:")
    for r in rows:
        if r["name"] != "holdout (real)":
            print(f"- {r['name']}: {targets_met(r) if not r.get('error') else 'failed: ' + str(r['error'])}")
    for r in rows:
        if r.get("fitSeconds") is not None:
            print(f"\n{r['name']}: fit {r['fitSeconds']:.1f} s, sample {r['sampleSeconds']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
