"""Formats benchmark: a messy spreadsheet export and its clean twin through prepare, train and generate.

    .venv/bin/python benchmarks/formats.py                 # 2,000 rows, the default small model
    .venv/bin/python benchmarks/formats.py --rows 500 --epochs 2 --tiny

The messy file (tests/workers/format_tables.py) holds issue 16's formats: dates
in three formats in one column, `12,345` thousands, `1.234,5` decimal commas,
`12,5%` percentages, `?` nulls and padded categories, in a ";"-separated CSV;
the clean twin holds the same rows as ISO dates, plain numbers and empty cells.
Both run the real stages (PII off, so both train on the same rows). Printed:
each column's kind and spelling as prepare decided them, whether the
synthetic CSV keeps them (re-read by prepare's rules), and the SDMetrics
column-shape score (KSComplement / TVComplement against the training rows)
of both runs with their difference; the target is |difference| <= 0.05.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workers"))
sys.path.insert(0, str(REPO))

from safesynth.schema import infer_schema  # noqa: E402
from safesynth.tables import DELIMITER_ATTR, load_table  # noqa: E402
from tests.workers.format_tables import clean_csv, messy_csv, run_pipeline, typed_rows  # noqa: E402

TINY = {"layers": 2, "hiddenSize": 32, "heads": 2, "batchSize": 16, "vocabSize": 300}


def spelling(col: dict) -> str:
    """A column's spelling in words: separators, unit, date formats, null tokens (never values)."""
    parts = []
    if col.get("decimal"):
        parts.append(f"dec={col['decimal']}")
    if col.get("thousands"):
        parts.append(f"thou={col['thousands']!r}")
    if col.get("unit") == "%":
        parts.append("%")
    if len(col.get("formats") or []) > 1:
        parts.append(f"{len(col['formats'])} date formats")
    if col.get("null_values"):
        parts.append(f"nulls={col['null_values']}")
    return " ".join(parts) or "plain"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--tiny", action="store_true", help="the test suite's tiny model (seconds, lower fidelity)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = typed_rows(args.rows, args.seed)
    training = {**(TINY if args.tiny else {}), "epochs": args.epochs}
    runs, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="safesynth-formats-") as tmp:
        for name, data in (("messy", messy_csv(rows, args.seed)), ("clean", clean_csv(rows))):
            path = Path(tmp, f"{name}.csv")
            path.write_bytes(data)
            t0 = time.monotonic()
            runs[name] = run_pipeline(str(path), str(Path(tmp, f"run-{name}")), training)
            seconds[name] = time.monotonic() - t0
    messy, clean = runs["messy"], runs["clean"]
    synthetic = load_table(messy["synthetic_csv"], source="synthetic.csv")
    again = {c.name: c.model_dump(mode="json") for c in infer_schema(
        synthetic, delimiter=synthetic.attrs.get(DELIMITER_ATTR)).columns}
    print(f"{args.rows} rows, {args.epochs} epochs{' (tiny model)' if args.tiny else ''}; "
          f"messy run {seconds['messy']:.0f} s, clean run {seconds['clean']:.0f} s")
    print(f"{'column':<9} {'kind':<12} {'source spelling':<34} {'synthetic CSV spelling':<34} "
          f"{'shape messy':>11} {'shape clean':>11} {'diff':>6}")
    worst = 0.0
    for col in messy["schema"]["columns"]:
        name = col["name"]
        a, b = messy["shapes"][name], clean["shapes"][name]
        worst = max(worst, abs(a - b))
        kinds = col["kind"] if again[name]["kind"] == col["kind"] else f"{col['kind']}->{again[name]['kind']}"
        print(f"{name:<9} {kinds:<12} {spelling(col):<34} {spelling(again[name]):<34} {a:>11.3f} {b:>11.3f} "
              f"{a - b:>+6.3f}")
    print(f"largest |difference|: {worst:.3f} (target <= 0.05); prepare warnings: {messy['summary']['warnings']}")


if __name__ == "__main__":
    main()
