"""A messy export and its clean twin: the same rows, spelled as spreadsheets and databases spell them.

Shared by the schema tests, the end-to-end format test and benchmarks/formats.py.
The messy file is a ";"-separated CSV (European Excel) holding every format of
issue 16: dates in three formats in one column, `12,345` thousands, `1.234,5`
decimal commas, `12,5%` percentages, `?` and `-` nulls, padded categories. The
clean twin holds the same values as ISO dates, plain numbers and empty cells.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

DATE_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%B %d, %Y")
KINDS = {"visit": "datetime", "income": "integer", "balance": "float", "rate": "float", "age": "integer",
         "group": "categorical"}


def typed_rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """The values both files spell: what prepare must read from either."""
    rng = np.random.default_rng(seed)
    income = np.where(rng.random(n) < 0.15, rng.integers(100, 999, n),
                      np.minimum(np.exp(rng.normal(10.5, 0.8, n)).round(), 250_000)).astype("int64")
    age = pd.Series(rng.integers(18, 90, n), dtype="Int64").mask(rng.random(n) < 0.1)
    return pd.DataFrame({
        "visit": pd.Series(pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1460, n), unit="D")),
        "income": income,
        "balance": (rng.normal(8_000, 9_000, n) * 10).round() / 10,
        "rate": (rng.beta(2, 5, n) * 1000).round() / 10,
        "age": age,
        "group": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
    })


def _grouped(x: float, decimals: int, thousands: str, decimal: str) -> str:
    text = f"{x:,.{decimals}f}" if decimals else f"{int(x):,}"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def messy_csv(rows: pd.DataFrame, seed: int = 0) -> bytes:
    """The rows as a European spreadsheet export with mixed conventions (see the module docstring)."""
    rng = np.random.default_rng(seed + 1)
    fmt = rng.choice(len(DATE_FORMATS), len(rows), p=[0.5, 0.3, 0.2])
    out = pd.DataFrame({
        "visit": [t.strftime(DATE_FORMATS[f]) for t, f in zip(rows["visit"], fmt, strict=True)],
        "income": [_grouped(v, 0, ",", ".") for v in rows["income"]],
        "balance": [_grouped(v, 1, ".", ",").rstrip("0").rstrip(",") if v % 1 == 0 else _grouped(v, 1, ".", ",")
                    for v in rows["balance"]],
        "rate": [f"{v:g}".replace(".", ",") + "%" for v in rows["rate"]],
        "age": ["?" if pd.isna(v) else (f" {v} " if i % 7 == 0 else str(v)) for i, v in enumerate(rows["age"])],
        "group": [f" {g}" if i % 5 == 0 else g for i, g in enumerate(rows["group"])],
    })
    buf = io.StringIO()
    out.to_csv(buf, sep=";", index=False)
    return buf.getvalue().encode("utf-8")


def clean_csv(rows: pd.DataFrame) -> bytes:
    """The same rows as a plain export: ISO dates, plain numbers, empty nulls."""
    out = rows.copy()
    out["visit"] = out["visit"].dt.strftime("%Y-%m-%d")
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def run_pipeline(csv_path: str, run_dir: str, training: dict[str, Any], num_records: int | None = None
                 ) -> dict[str, Any]:
    """prepare -> train -> generate on one file (PII off: both twins must see the same rows), then score.

    Returns the prepare schema, the synthetic CSV re-read by prepare's rules,
    and the SDMetrics column-shape score per column (KSComplement for numbers
    and dates, TVComplement for categories) of the typed synthetic table
    against the typed training rows.
    """
    from safesynth.driver import run_job
    from safesynth.metrics.sdmetrics_compat import KSComplement, TVComplement
    from safesynth.progress import LogProgress
    from safesynth.spec import parse_job
    from safesynth.spec.models import StageName
    from safesynth.store import LocalStore

    spec: dict[str, Any] = {"data": {"uri": csv_path, "minHoldoutRows": 10, "holdoutRows": 20, "minTrainRows": 10},
                            "pii": {"enabled": False}, "training": training,
                            "generation": {"maxInvalidFraction": 1.0, **({"numRecords": num_records}
                                                                         if num_records else {})}}
    job = parse_job({"apiVersion": "safesynth.io/v1alpha1", "kind": "SafeSynthJob", "metadata": {"name": "formats"},
                     "spec": spec})
    run_job(job, run_dir, progress=LogProgress(), only=[StageName.PREPARE, StageName.TRAIN, StageName.GENERATE])
    store = LocalStore(run_dir)
    schema = store.read_json("prepare/schema.json")
    real, synthetic = store.read_table("prepare/train.parquet"), store.read_table("generate/synthetic.parquet")
    shapes = {}
    for col in schema["columns"]:
        metric = KSComplement if col["kind"] in ("integer", "float", "datetime") else TVComplement
        shapes[col["name"]] = metric.compute(real[col["name"]], synthetic[col["name"]])
    return {"schema": schema, "synthetic_csv": store.read_bytes("generate/synthetic.csv"), "shapes": shapes,
            "summary": store.read_json("prepare/summary.json")}
