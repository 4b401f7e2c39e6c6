"""Stage pii on a patients table: every detected PII column replaced, the rest byte-identical.

Runs prepare then pii (execute_stage) on the quickstart's examples/data/patients.csv
when it exists and on a Faker-made table of the same shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from safesynth.errors import BadInputError, SpecError
from safesynth.pii.keys import KEY_ENV
from safesynth.progress import LogProgress
from safesynth.spec import parse_spec
from safesynth.stages import pii, prepare
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.pii.tables import patients_table

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "examples" / "data" / "patients.csv"
KEY = "0123456789abcdef0123456789abcdef"


def _run(tmp: Path, data: Path, force: bool = False, **pii_spec: Any) -> tuple[LocalStore, dict[str, Any]]:
    spec = parse_spec({"data": {"uri": str(data), "holdoutRows": 20, "minHoldoutRows": 10,
                                "minTrainRows": 20}, "pii": pii_spec})
    store = LocalStore(tmp)
    execute_stage(prepare, spec, store, LogProgress())
    return store, execute_stage(pii, spec, store, LogProgress(), force=force).summary


def _texts(s: pd.Series) -> set[str]:
    return {" ".join(str(v).casefold().split()) for v in s.dropna()}


def _faker_csv(tmp_path: Path, n: int = 240) -> Path:
    path = tmp_path / "patients.csv"
    patients_table(n, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(params=[pytest.param("quickstart", marks=pytest.mark.slow), "faker"])
def patients_csv(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "quickstart":
        if not QUICKSTART.exists():
            pytest.skip("examples/data/patients.csv is not there yet")
        return QUICKSTART
    return _faker_csv(tmp_path)


def test_pii_columns_replaced_everything_else_identical(patients_csv: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    store, summary = _run(tmp_path / "run", patients_csv)
    report = store.read_json("pii/report.json")
    before = {s: store.read_table(f"prepare/{s}.parquet") for s in ("train", "holdout")}
    after = {s: store.read_table(f"pii/{s}.parquet") for s in ("train", "holdout")}
    cols = {c["column"]: c for c in report["columns"]}

    detected = {name for name, c in cols.items() if c["pii"] and c["mode"] == "structured"}
    names = " ".join(detected)
    for expected in ("first_name", "last_name", "email", "phone", "ssn"):
        if any(expected in c for c in cols):
            assert expected in names, f"{expected} not detected"
    assert summary["piiColumns"] >= 5 and summary["keySource"] == "environment"

    for name in detected:
        originals = _texts(pd.concat([before["train"][name], before["holdout"][name]]))
        for split in ("train", "holdout"):
            assert not _texts(after[split][name]) & originals, f"an original value of {name} survived ({split})"

    raw = {s: pq.read_table(store.root / "pii" / f"{s}.parquet") for s in ("train", "holdout")}
    raw_before = {s: pq.read_table(store.root / "prepare" / f"{s}.parquet") for s in ("train", "holdout")}
    unchanged = [name for name, c in cols.items() if c["mode"] == "none"]
    assert unchanged, "some columns should be left alone"
    for name in unchanged:
        for split in ("train", "holdout"):
            assert raw[split].column(name).equals(raw_before[split].column(name)), name
            assert after[split][name].dtype == before[split][name].dtype

    # free text: a row's own names, email and phone are gone from its note
    text_cols = [name for name, c in cols.items() if c["mode"] == "freeText"]
    for name in text_cols:
        src = before["train"]
        for i in range(len(src)):
            note = after["train"][name].iat[i]
            if pd.isna(note):
                continue
            for col in ("first_name", "last_name", "email", "phone", "ssn"):
                if col in src.columns and col in detected and isinstance(src[col].iat[i], str):
                    value = src[col].iat[i]
                    if len(value) >= 3:
                        assert value not in note, f"{col} of row {i} left in {name}"
            for col in detected:
                born = src[col].iat[i]
                if isinstance(born, pd.Timestamp):
                    assert born.strftime("%m/%d/%Y") not in note and born.strftime("%Y-%m-%d") not in note

    # the holdout got the same replacements as train
    for name in detected:
        if cols[name]["action"] not in ("fake", "tokenize", "hash", "mask", "generalize"):
            continue
        pairs: dict[str, set[str]] = {}
        for split in ("train", "holdout"):
            for old, new in zip(before[split][name].astype(str), after[split][name].astype(str)):
                pairs.setdefault(old, set()).add(new)
        assert all(len(v) == 1 for v in pairs.values()), name

    # no raw value in the report
    text = json.dumps(report)
    for name in detected:
        for v in before["train"][name].dropna().astype(str).head(50):
            if len(v) >= 5:
                assert v not in text
    schema = store.read_json("pii/schema.json")
    assert [c["name"] for c in schema["columns"]] == list(after["train"].columns)


@pytest.mark.slow
def test_deterministic_for_a_key_and_different_for_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _faker_csv(tmp_path, 80)

    def output(run: str, key: str | None) -> bytes:
        if key is None:
            monkeypatch.delenv(KEY_ENV, raising=False)
        else:
            monkeypatch.setenv(KEY_ENV, key)
        store, _ = _run(tmp_path / run, data, force=True)
        return store.read_bytes("pii/train.parquet") + store.read_bytes("pii/holdout.parquet")

    a, b = output("a", KEY), output("b", KEY)
    c = output("c", "another-key-0123456789abcdefghij")
    assert a == b and a != c
    # without a key each job gets its own: consistent inside the job, not across runs
    assert output("d", None) != output("e", None)


def test_disabled_copies_prepare_unchanged(tmp_path: Path) -> None:
    store, summary = _run(tmp_path / "run", _faker_csv(tmp_path, 60), enabled=False)
    assert summary["enabled"] is False and "unchanged" in summary["note"]
    for name in ("train.parquet", "holdout.parquet", "schema.json"):
        assert store.read_bytes(f"pii/{name}") == store.read_bytes(f"prepare/{name}")
    assert store.read_json("pii/report.json")["enabled"] is False


def test_rules_locks_drop_and_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    vault = tmp_path / "vault" / "tokens.parquet"
    rules = {"ssn": {"action": "drop"}, "note": {"action": "redact"}, "patient_id": {"action": "tokenize"}}
    store, summary = _run(tmp_path / "run", _faker_csv(tmp_path, 60), lockedColumns=["city"], columns=rules,
                          vaultUri=str(vault))
    train = store.read_table("pii/train.parquet")
    before = store.read_table("prepare/train.parquet")
    assert "ssn" not in train.columns and summary["droppedColumns"] == ["ssn"]
    assert train["city"].equals(before["city"])
    assert train["note"].str.contains("<PERSON>").any()
    tokens = pd.read_parquet(vault)
    assert set(tokens["column"]) == {"patient_id"} and not store.list("vault")
    report = store.read_json("pii/report.json")
    assert report["vault"] == {"written": True, "rows": len(tokens)}


def test_bad_rules_fail_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    data = _faker_csv(tmp_path, 60)
    with pytest.raises(BadInputError) as info:
        _run(tmp_path / "run", data, columns={"no_such_column": {"action": "hash"}})
    assert info.value.exit_code == 2 and "no_such_column" in str(info.value)
    assert not LocalStore(tmp_path / "run").list("pii/")
    with pytest.raises(SpecError) as bad:
        parse_spec({"data": {"uri": "x.csv"}, "pii": {"columns": {"ssn": {"action": "shred"}}}})
    assert "spec.pii.columns.ssn.action" in str(bad.value) and bad.value.exit_code == 2
    with pytest.raises(SpecError) as bad_entity:
        parse_spec({"data": {"uri": "x.csv"}, "pii": {"entities": ["PERSON", "SHOE_SIZE"]}})
    assert "spec.pii.entities" in str(bad_entity.value)



@pytest.mark.slow  # three PII stage runs (~9 s)
def test_faked_columns_keep_prepares_kind_whatever_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kinds pii/schema.json gives faked string columns are prepare's, so what the generator learns (and
    the training budget) does not change with the fakes an ephemeral key draws."""
    data = _faker_csv(tmp_path, 80)
    kinds = []
    for i, key in enumerate((KEY, "another-key-0123456789abcdefghij", "a-third-key-0123456789abcdefghij")):
        monkeypatch.setenv(KEY_ENV, key)
        store, _ = _run(tmp_path / f"run{i}", data, force=True)
        faked = {c["column"] for c in store.read_json("pii/report.json")["columns"] if c["action"] == "fake"}
        prepared = {c["name"]: c["kind"] for c in store.read_json("prepare/schema.json")["columns"]}
        after = {c["name"]: c["kind"] for c in store.read_json("pii/schema.json")["columns"]}
        assert faked, "the fixture has columns the PII stage fakes"
        for name in faked:
            if prepared[name] in ("text", "categorical", "identifier"):
                assert after[name] == prepared[name], name
        kinds.append(after)
    assert kinds[0] == kinds[1] == kinds[2]


def test_a_date_shifted_column_keeps_its_spelling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shifting dates changes the values, not how the file writes them: pii/schema.json keeps the column's
    format (declared or read by prepare), so generate renders the CSV in the source's spelling."""
    monkeypatch.setenv(KEY_ENV, KEY)
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 120), unit="D")
    data = tmp_path / "visits.csv"
    pd.DataFrame({"visit": days.strftime("%d.%m.%Y"), "score": rng.integers(0, 9, 120)}).to_csv(data, index=False)
    spec = parse_spec({"data": {"uri": str(data), "holdoutRows": 20, "minHoldoutRows": 10, "minTrainRows": 20,
                                "columns": {"visit": {"format": "%d.%m.%Y"}}},
                       "pii": {"columns": {"visit": {"action": "dateShift"}}}})
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    execute_stage(pii, spec, store, LogProgress())
    before = {c["name"]: c for c in store.read_json("prepare/schema.json")["columns"]}["visit"]
    after = {c["name"]: c for c in store.read_json("pii/schema.json")["columns"]}["visit"]
    assert before["format"] == "%d.%m.%Y" and after["kind"] == "datetime"
    assert after["format"] == "%d.%m.%Y"
    assert not store.read_table("pii/train.parquet")["visit"].equals(store.read_table("prepare/train.parquet")["visit"])
