"""stages.inputs: the one rule for which folder later stages read, pii/ over prepare/."""

from __future__ import annotations

from pathlib import Path

from safesynth.stages.inputs import input_prefix, read_json_if_present
from safesynth.store import LocalStore


def test_pii_output_wins_over_prepare_once_it_exists(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("prepare/train.parquet", b"p")
    assert input_prefix(store) == "prepare"
    store.write_bytes("pii/schema.json", b"{}")  # a schema alone is not the PII stage's output
    assert input_prefix(store) == "prepare"
    store.write_bytes("pii/train.parquet", b"q")
    assert input_prefix(store) == "pii"


def test_optional_json_is_none_when_absent(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert read_json_if_present(store, "pii/report.json") is None
    store.write_json("pii/report.json", {"version": 1})
    assert read_json_if_present(store, "pii/report.json") == {"version": 1}
