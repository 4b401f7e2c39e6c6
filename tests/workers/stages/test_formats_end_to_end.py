"""Issue 16's target, CI-sized: a messy export and its clean twin through prepare, train and generate.

Each column keeps its kind and spelling in the synthetic CSV, and its column
shape score is within 0.05 of the clean twin's (benchmarks/formats.py runs
the same at full size and prints the table).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from safesynth.schema import infer_schema
from safesynth.tables import DELIMITER_ATTR, load_table
from tests.workers.format_tables import KINDS, clean_csv, messy_csv, run_pipeline, typed_rows
from tests.workers.generator.helpers import TINY_TRAINING


@pytest.mark.slow
def test_messy_export_round_trips_like_its_clean_twin(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    rows = typed_rows(120)
    runs = {}
    for name, data in (("messy", messy_csv(rows)), ("clean", clean_csv(rows))):
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        runs[name] = run_pipeline(str(path), str(tmp_path / f"run-{name}"), {**TINY_TRAINING, "epochs": 2},
                                  num_records=60)
    messy, clean = runs["messy"], runs["clean"]
    assert {c["name"]: c["kind"] for c in messy["schema"]["columns"]} == KINDS
    assert messy["summary"]["warnings"] == [] and messy["summary"]["unparsed"] == {}

    synthetic = load_table(messy["synthetic_csv"], source="synthetic.csv")
    again = infer_schema(synthetic, delimiter=synthetic.attrs.get(DELIMITER_ATTR))
    assert again.kinds() == KINDS
    source = {c["name"]: c for c in messy["schema"]["columns"]}
    for name in ("income", "balance", "rate"):
        col = again.column(name)
        assert (col.thousands, col.unit) == (source[name].get("thousands"), source[name].get("unit")), name
    assert {f.format for f in again.column("visit").formats or []} <= {f["format"] for f in source["visit"]["formats"]}
    assert len(again.column("visit").formats or []) >= 2  # a mix, as in the source
    for name, score in clean["shapes"].items():
        assert abs(messy["shapes"][name] - score) <= 0.05, name
