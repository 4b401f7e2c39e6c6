"""`safesynth evaluate --group-by/--order-by` and `safesynth.evaluate(group_by=, order_by=)`: grouped records.

The same sequence metrics as a job's evaluate stage with spec.data.groupBy/orderBy,
for tables made by any tool; a bad option is exit 2 before anything is written.
The command runs in this process through `safesynth.cli.main`, so exit codes and
messages are the real ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import safesynth
from safesynth.cli import main
from safesynth.contract import EXIT_BAD_INPUT
from safesynth.errors import BadInputError

#: What metrics/sequence_*.py add for grouped tables (sequence_membership needs a holdout).
SEQUENCE_METRICS = {"sequence_rows_per_entity", "sequence_gaps", "sequence_autocorrelation", "sequence_change",
                    "sequence_entity_columns", "sequence_order", "sequence_membership"}


def grouped(entities: int, seed: int, prefix: str) -> pd.DataFrame:
    """Patients with 2-6 visits each: an integer day (increasing), an entity-level arm, a lab value near the
    patient's own level (so consecutive rows are correlated)."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(entities):
        arm, level, day = str(rng.choice(["a", "b"])), float(rng.normal(50, 10)), 0
        for _ in range(int(rng.integers(2, 7))):
            day += int(rng.integers(1, 30))
            rows.append({"patient": f"{prefix}{e}", "day": day, "arm": arm,
                         "lab": round(level + float(rng.normal(0, 2)), 2)})
    return pd.DataFrame(rows)


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, Path]:
    paths = {"real": tmp_path / "real.csv", "synthetic": tmp_path / "syn.csv", "holdout": tmp_path / "hold.csv"}
    grouped(40, 0, "P").to_csv(paths["real"], index=False)
    grouped(40, 1, "S").to_csv(paths["synthetic"], index=False)  # another draw, fresh keys: a good generator
    grouped(20, 2, "H").to_csv(paths["holdout"], index=False)
    return paths


def evaluate_args(tables: dict[str, Path], out: Path, *extra: str, holdout: bool = False) -> list[str]:
    args = ["evaluate", "--real", str(tables["real"]), "--synthetic", str(tables["synthetic"]),
            "--out", str(out), "--max-rows", "100", "--no-gates", *extra]
    return args + (["--holdout", str(tables["holdout"])] if holdout else [])


@pytest.mark.slow  # two evaluations, ≥ 2 s on 2 cores
def test_group_by_adds_the_sequence_metrics(tables: dict[str, Path], tmp_path: Path) -> None:
    main(evaluate_args(tables, tmp_path / "grouped", "--group-by", "patient", "--order-by", "day"))
    metrics = json.loads((tmp_path / "grouped" / "metrics.json").read_text())
    results = metrics["metrics"]
    assert SEQUENCE_METRICS <= set(results)
    assert {n for n in SEQUENCE_METRICS if results[n]["status"] == "ok"} == SEQUENCE_METRICS - {"sequence_membership"}
    assert "holdout" in results["sequence_membership"]["reason"]  # not applicable without one, and says why
    assert results["sequence_order"]["statistic"]["orderedShare"] == 1.0  # every synthetic patient's days increase
    assert metrics["options"]["groupBy"] == ["patient"] and metrics["options"]["orderBy"] == "day"
    key = next(c for c in metrics["columns"] if c["column"] == "patient")
    assert "entity key" in key["excluded"]  # fresh keys are not compared as values
    assert (tmp_path / "grouped" / "report.html").exists() and (tmp_path / "grouped" / "audit.json").exists()

    main(evaluate_args(tables, tmp_path / "rows"))
    plain = json.loads((tmp_path / "rows" / "metrics.json").read_text())
    assert not [n for n in plain["metrics"] if n.startswith("sequence_")]
    assert plain["options"]["groupBy"] == [] and plain["options"]["orderBy"] is None


def _write_without(tables: dict[str, Path], which: str, column: str) -> None:
    df = pd.read_csv(tables[which])
    df.drop(columns=[column]).to_csv(tables[which], index=False)


@pytest.mark.parametrize(
    ("extra", "drop", "expected"),
    [
        (["--order-by", "day"], None, ["--order-by", "--group-by"]),
        (["--group-by", "pid"], None, ["--group-by: 'pid' not a column of {real}",
                                       "its columns: 'patient', 'day', 'arm', 'lab'"]),
        (["--group-by", "patient", "--order-by", "when"], None, ["--order-by: 'when' not a column of {real}"]),
        (["--group-by", "patient"], ("synthetic", "patient"),
         ["--group-by: 'patient' not a column of {synthetic}", "its columns: 'day', 'arm', 'lab'"]),
        (["--group-by", "patient", "--order-by", "day"], ("holdout", "day"),
         ["--order-by: 'day' not a column of {holdout}", "its columns: 'patient', 'arm', 'lab'"]),
        (["--group-by", ""], None, ["--group-by: String should have at least 1 character"]),
        ([a for i in range(5) for a in ("--group-by", f"k{i}")], None, ["--group-by: List should have at most 4"]),
    ],
)
def test_bad_grouping_options_exit_2_and_write_nothing(
    tables: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], drop: tuple[str, str] | None, expected: list[str],
) -> None:
    if drop is not None:
        _write_without(tables, *drop)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        main(evaluate_args(tables, out, *extra, holdout=True))
    assert exited.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    for text in expected:
        assert text.format(**tables) in err, err
    assert "unexpected" not in err
    assert not out.exists()  # no report, no half-written folder


def test_help_describes_the_grouping_options(capsys: pytest.CaptureFixture[str]) -> None:
    main(["evaluate", "--help"])  # help exits 0: main returns
    text = " ".join(re.sub("[│─╭╮╰╯]", " ", capsys.readouterr().out).split())  # rich boxes and wraps the help
    assert "--group-by" in text and "--order-by" in text
    assert "spec.data.groupBy" in text and "needs --group-by" in text


@pytest.mark.slow  # one evaluation with a holdout, ≥ 2 s on 2 cores
def test_api_group_by_returns_the_sequence_metrics() -> None:
    real, synthetic, holdout = grouped(40, 0, "P"), grouped(40, 1, "S"), grouped(20, 2, "H")
    scored = safesynth.evaluate(real, synthetic, holdout, max_rows=100, group_by="patient", order_by="day")
    assert SEQUENCE_METRICS <= set(scored.results)
    assert all(scored.results[n].ok for n in SEQUENCE_METRICS), {n: scored.results[n].reason for n in SEQUENCE_METRICS}
    assert scored.options.group_by == ("patient",) and scored.options.order_by == "day"
    assert scored.to_json()["metrics"]["sequence_membership"]["status"] == "ok"


def test_api_checks_the_grouping_like_the_command() -> None:
    real, synthetic = grouped(10, 0, "P"), grouped(10, 1, "S")
    with pytest.raises(BadInputError, match="order_by orders rows within an entity: set group_by too"):
        safesynth.evaluate(real, synthetic, order_by="day")
    with pytest.raises(BadInputError, match=r"group_by: 'patient' not a column of the synthetic table; its columns"):
        safesynth.evaluate(real, synthetic.drop(columns=["patient"]), group_by=["patient"])
    with pytest.raises(BadInputError, match=r"order_by: 'visit' not a column of the real table"):
        safesynth.evaluate(real, synthetic, group_by=["patient"], order_by="visit")
