"""The stage contract: summary last, skip on the same spec hash, clean failure."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

from safesynth.contract import TERMINATION_LIMIT
from safesynth.errors import BadInputError
from safesynth.progress import LogProgress
from safesynth.spec import parse_spec
from safesynth.spec.models import StageName
from safesynth.stages.runner import (
    error_summary,
    execute_stage,
    stage_spec_hash,
    termination_message,
)
from safesynth.store import LocalStore


def counting_stage(name: StageName = StageName.TRAIN, fail: BaseException | None = None) -> types.ModuleType:
    """A stage module that writes one artifact and counts its calls."""
    mod = types.ModuleType(f"stage_{name.value}")
    mod.NAME = name
    mod.calls = 0

    def run(spec: Any, store: LocalStore, progress: Any) -> dict[str, Any]:
        mod.calls += 1
        store.write_json(f"{name.value}/artifact.json", {"n": mod.calls})
        assert not store.exists(f"{name.value}/summary.json"), "summary must be written after the stage's work"
        if fail is not None:
            raise fail
        return {"rows": 7}

    mod.run = run
    return mod


SPEC = parse_spec({"data": {"uri": "t.csv"}})


def test_summary_is_written_last_and_second_run_is_skipped(tmp_path: Path) -> None:
    store, stage = LocalStore(tmp_path), counting_stage()
    first = execute_stage(stage, SPEC, store, LogProgress())
    assert not first.skipped and first.summary["rows"] == 7
    assert first.summary["specHash"] == stage_spec_hash(SPEC, StageName.TRAIN)
    assert json.loads((tmp_path / "train" / "summary.json").read_text()) == first.summary
    again = execute_stage(stage, SPEC, store, LogProgress())
    assert again.skipped and stage.calls == 1 and again.summary == first.summary


def test_force_and_spec_change_rerun(tmp_path: Path) -> None:
    store, stage = LocalStore(tmp_path), counting_stage()
    execute_stage(stage, SPEC, store, LogProgress())
    execute_stage(stage, SPEC, store, LogProgress(), force=True)
    changed = parse_spec({"data": {"uri": "t.csv"}, "training": {"epochs": 3}})
    execute_stage(stage, changed, store, LogProgress())
    assert stage.calls == 3


@pytest.mark.parametrize(
    ("change", "stage", "same"),
    [
        ({"evaluation": {"maxRows": 1000}}, StageName.TRAIN, True),
        ({"evaluation": {"maxRows": 1000}}, StageName.EVALUATE, False),
        ({"data": {"uri": "t.csv", "seed": 1}}, StageName.EVALUATE, False),
        ({"pii": {"locale": "de_DE"}}, StageName.PREPARE, True),
        ({"pii": {"locale": "de_DE"}}, StageName.PII, False),
        ({"resources": {"train": {"gpu": 2}}}, StageName.TRAIN, True),
        ({"artifacts": {"uri": "s3://b/p"}}, StageName.EVALUATE, True),
        ({"suspend": True}, StageName.EVALUATE, True),
        ({"privacy": {"enabled": True}}, StageName.PII, True),
        ({"privacy": {"enabled": True}}, StageName.GENERATE, False),
    ],
)
def test_hash_covers_the_stage_and_its_inputs_only(change: dict, stage: StageName, same: bool) -> None:
    changed = parse_spec({"data": {"uri": "t.csv"}, **change})
    assert (stage_spec_hash(changed, stage) == stage_spec_hash(SPEC, stage)) is same


def test_failure_leaves_no_artifacts_and_no_summary(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    execute_stage(counting_stage(), SPEC, store, LogProgress())
    changed = parse_spec({"data": {"uri": "t.csv"}, "training": {"epochs": 3}})
    with pytest.raises(BadInputError):
        execute_stage(counting_stage(fail=BadInputError("nope")), changed, store, LogProgress())
    assert store.list("train/") == []  # old summary gone too: it described other artifacts


def test_termination_message_fits_and_keeps_scalars() -> None:
    summary = {"stage": "train", "rows": 5, "perColumn": {f"c{i}": "x" * 100 for i in range(100)}}
    text = termination_message(summary)
    assert len(text.encode()) <= TERMINATION_LIMIT
    parsed = json.loads(text)
    assert parsed["rows"] == 5 and parsed["truncated"] is True and "perColumn" not in parsed
    assert json.loads(termination_message({"a": 1})) == {"a": 1}


def test_error_summary_carries_exit_code_but_not_foreign_messages() -> None:
    assert error_summary(StageName.PII, BadInputError("bad column 3"))["exitCode"] == 2
    foreign = error_summary(StageName.PII, ValueError("SECRET-VALUE-123"))
    assert foreign["exitCode"] == 1 and "SECRET-VALUE-123" not in json.dumps(foreign)
