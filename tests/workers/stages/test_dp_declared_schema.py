"""Issue 18 item 4: under DP the train stage says which facts of the column layout came from the table.

privacy.requireDeclaredSchema refuses before anything is trained or written; by default the train summary
warns once per undeclared fact; declaring kinds, date formats and faked columns makes both go away, and a
declared date-only format is the bundle's date style, on the LM and the marginal route.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.progress import LogProgress
from safesynth.stages import generate, train
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.generator.helpers import KINDS, schema_json, tiny_spec, tiny_table

DECLARED = {"pid": {"kind": "identifier"}, "age": {"kind": "integer"}, "income": {"kind": "float"},
            "group": {"kind": "categorical"}, "smoker": {"kind": "boolean"}, "visit": {"format": "%d.%m.%Y"},
            "note": {"kind": "text"}}
FAKES = {"email": {"action": "fake", "entity": "EMAIL_ADDRESS"}}
PATHS = [*(f"spec.data.columns.{c}.kind" for c in DECLARED), "spec.data.columns.visit.format",
         "spec.pii.columns.email"]


def pii_output(store: LocalStore, n: int = 120) -> None:
    """Stand in for prepare and the PII stage: visit was read from strings written %d.%m.%Y, email holds fakes."""
    df = tiny_table(n).drop(columns=["blank"])
    df["email"] = pd.Series([f"someone{i}@example.org" for i in range(n)], dtype="string")
    schema = schema_json(df, {**KINDS, "email": "identifier"})
    for col in schema["columns"]:
        if col["name"] == "visit":
            col.update(format="%d.%m.%Y", formats=[{"format": "%d.%m.%Y", "count": n}])
    store.write_table("pii/train.parquet", df)
    store.write_json("pii/schema.json", schema)
    store.write_json("pii/report.json", {"version": 1, "enabled": True, "columns": [
        {"column": "email", "entity": "EMAIL_ADDRESS", "action": "fake", "mode": "structured",
         "outputKind": "identifier"}]})


def dp_spec(tmp_path: Path, route: str, declared: bool, require: bool, columns: Any = None) -> Any:
    privacy = {"enabled": True, "epsilon": 8.0, "schemaEpsilon": 0.5, "route": route, "publicPretrain": False,
               "requireDeclaredSchema": require}
    columns = DECLARED if declared else (columns or {})
    return tiny_spec(tmp_path, training={"maxSteps": 2}, privacy=privacy,
                     generation={"numRecords": 30, "maxInvalidFraction": 1.0},
                     data={"uri": str(tmp_path / "unused.csv"), "columns": columns},
                     pii={"columns": FAKES if declared else {}})


def undeclared(summary: dict[str, Any]) -> set[tuple[str, str]]:
    return {(w["column"], w["code"]) for w in summary.get("warnings", []) if w["code"].startswith("dpUndeclared")}


@pytest.mark.parametrize("route", ["lm", "marginal"])
def test_require_declared_schema_refuses_before_training_and_writes_nothing(
        tmp_path: Path, route: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def trained(*_: Any, **__: Any) -> None:
        raise AssertionError("trained although the layout is undeclared")

    monkeypatch.setattr(train, "build_corpus", trained)
    monkeypatch.setattr(train, "train_marginal", trained)
    store = LocalStore(tmp_path / "run")
    pii_output(store)
    spec = dp_spec(tmp_path, route, declared=False, require=True, columns={"age": {"kind": "integer"}})
    with pytest.raises(BadInputError) as info:
        train.run(spec, store, LogProgress())
    message = str(info.value)
    assert info.value.exit_code == 2
    assert [p for p in PATHS if p not in message] == ["spec.data.columns.age.kind"]  # age was declared
    assert "visit: {kind: datetime, format: '%d.%m.%Y'}" in message  # the snippet, ready to paste
    assert "email: {action: fake, entity: EMAIL_ADDRESS}" in message
    assert "someone" not in message and "example.org" not in message
    assert not [p for p in (tmp_path / "run").rglob("*") if p.is_file() and "train" in p.relative_to(
        tmp_path / "run").parts]


@pytest.mark.slow  # DP releases and two DP-SGD steps on a tiny model: a few seconds
def test_by_default_the_summary_warns_per_undeclared_fact(tmp_path: Path) -> None:
    from safesynth.driver import column_warnings
    from safesynth.spec.status import JobStatus, StageStatus

    store = LocalStore(tmp_path / "run")
    pii_output(store)
    s = execute_stage(train, dp_spec(tmp_path, "lm", declared=False, require=False), store, LogProgress()).summary
    assert undeclared(s) == {*((c, "dpUndeclaredKind") for c in DECLARED), ("visit", "dpUndeclaredFormat"),
                             ("email", "dpUndeclaredFake")}
    lines = column_warnings(JobStatus(stages=[StageStatus(name="train", summary=s)]))
    assert any("'email'" in line and "spec.pii.columns" in line for line in lines)
    assert any("'visit'" in line and "date format" in line for line in lines)
    styles = {c["name"]: c["style"] for c in store.read_json("train/model/safesynth.json")["columns"]}
    assert styles["visit"] == "iso"  # no declared format: nothing says the values are dates alone


@pytest.mark.slow  # each route trains and generates (DP-SGD steps; AIM rounds compile JAX programs): ~5-10 s
@pytest.mark.parametrize("route", ["lm", "marginal"])
def test_declarations_leave_no_warning_and_set_the_date_style(tmp_path: Path, route: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from safesynth.generator import aim

    monkeypatch.setattr(aim, "ROUNDS_PER_COLUMN", 2)  # CI size
    store = LocalStore(tmp_path / "run")
    pii_output(store)
    spec = dp_spec(tmp_path, route, declared=True, require=True)
    s = execute_stage(train, spec, store, LogProgress()).summary
    assert s["privacyBudget"]["route"] == route and undeclared(s) == set()
    if route == "lm":
        columns = store.read_json("train/model/safesynth.json")["columns"]
    else:
        columns = store.read_json("train/model/marginal.json")["columns"]
    by_name = {c["name"]: c for c in columns}
    assert by_name["visit"]["style"] == "date"  # declared %d.%m.%Y: dates, never written with a time
    assert by_name["email"]["extra"]["refake"] == "EMAIL_ADDRESS"
    execute_stage(generate, spec, store, LogProgress())
    csv = pd.read_csv(io.BytesIO(store.read_bytes("generate/synthetic.csv")), dtype=str)
    assert csv["visit"].dropna().str.fullmatch(r"\d{2}\.\d{2}\.\d{4}").all()  # the declared spelling
