"""`safesynth pii plan`: a preview that prints the plan and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from safesynth.commands.pii import app
from tests.workers.pii.tables import patients_table


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(app, name="pii")
    return root


def test_plan_prints_a_table_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    patients_table(40).drop(columns=["note"]).to_csv(data, index=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(_cli(), ["pii", "plan", str(data), "--no-ner"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "US_SSN" in result.output and "EMAIL_ADDRESS" in result.output and "nothing was written" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_plan_applies_the_spec_and_prints_json(tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    patients_table(40).drop(columns=["note"]).to_csv(data, index=False)
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump({"data": {"uri": str(data)},
                                    "pii": {"columns": {"ssn": {"action": "hash"}}, "lockedColumns": ["email"]}}))
    result = CliRunner().invoke(_cli(), ["pii", "plan", str(data), "--spec", str(spec), "--json", "--no-ner"])
    assert result.exit_code == 0, result.output
    cols = {c["column"]: c for c in json.loads(result.output)["columns"]}
    assert cols["ssn"]["action"] == "hash" and cols["ssn"]["reason"].startswith("rule")
    assert cols["email"]["action"] == "keep" and "locked" in cols["email"]["reason"]


def test_plan_reports_bad_rules(tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    patients_table(20).to_csv(data, index=False)
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump({"data": {"uri": str(data)}, "pii": {"columns": {"sssn": {"action": "hash"}}}}))
    result = CliRunner().invoke(_cli(), ["pii", "plan", str(data), "--spec", str(spec), "--no-ner"])
    assert result.exit_code != 0 and "sssn" in str(result.exception)
