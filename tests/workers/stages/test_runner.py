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
    rerun_reason,
    stage_spec_hash,
    termination_message,
)
from safesynth.store import LocalStore, open_store


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
        ({"privacy": {"enabled": True, "epsilon": 8.0}}, StageName.PII, True),
        ({"privacy": {"enabled": True, "epsilon": 8.0}}, StageName.GENERATE, False),
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


def write_table(path: Path, rows: int) -> None:
    """A plain table with `rows` rows, enough for the default 100-row holdout and 100 training rows."""
    import pandas as pd

    pd.DataFrame({"age": [20 + i % 50 for i in range(rows)], "group": ["ab"[i % 2] for i in range(rows)]}).to_csv(
        path, index=False)


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.slow)])
def test_new_export_at_the_same_path_reruns_prepare_and_what_follows(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest,
) -> None:
    """Resume keys on what was read: 300 rows → 200 at the same URI re-runs prepare; the next stage follows."""
    from safesynth.stages import prepare

    table = tmp_path / "export.csv"
    write_table(table, 300)
    uri = str(table)
    if backend == "s3":
        request.getfixturevalue("s3_env")
        bucket = request.getfixturevalue("s3_bucket")
        uri = f"s3://{bucket}/in/export.csv"
        open_store(f"s3://{bucket}").write_bytes("in/export.csv", table.read_bytes())
    spec = parse_spec({"data": {"uri": uri}})
    store, downstream = LocalStore(tmp_path / "run"), counting_stage(StageName.PII)

    first = [execute_stage(m, spec, store, LogProgress()) for m in (prepare, downstream)]
    assert first[0].summary["rows"] == 300 and first[0].reason == "no finished run"
    again = [execute_stage(m, spec, store, LogProgress()) for m in (prepare, downstream)]
    assert all(o.skipped for o in again) and downstream.calls == 1

    write_table(table, 200)
    if backend == "s3":
        open_store(uri.rsplit("/", 1)[0]).write_bytes("export.csv", table.read_bytes())
    rerun = [execute_stage(m, spec, store, LogProgress()) for m in (prepare, downstream)]
    assert not rerun[0].skipped and rerun[0].summary["rows"] == 200
    assert rerun[0].summary["ranBecause"] == "input changed: spec.data.uri"
    assert not rerun[1].skipped and downstream.calls == 2
    assert rerun[1].reason == "input changed: prepare/summary.json"


@pytest.mark.parametrize(
    ("previous", "inputs", "force", "expected"),
    [
        (None, {}, False, "no finished run"),
        ({"specHash": "h", "inputs": {}}, {}, True, "forced (--force)"),
        ({"specHash": "h", "inputs": {"a": 1}}, {"a": 1}, False, None),
        ({"specHash": "old", "specSections": {"data": "x", "pii": "p"}, "inputs": {}}, {}, False,
         "spec changed: spec.data"),
        ({"specHash": "h"}, {"a": 1}, False, "input identity not recorded by the earlier run"),
        ({"specHash": "h", "inputs": {"a": 1, "b": 2}}, {"a": 1, "b": 3, "c": 0}, False, "input changed: b, c"),
    ],
)
def test_rerun_reason(previous: dict | None, inputs: dict, force: bool, expected: str | None) -> None:
    assert rerun_reason(previous, "h", {"data": "d", "pii": "p"}, inputs, force) == expected


def test_a_failing_cleanup_never_hides_the_stages_own_error(s3_env: str, s3_bucket: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """In an S3 outage the stage's write fails, then so does the removal of its folder: the write's error,
    naming the artifact and retryable, is the one that propagates."""
    from safesynth.errors import StorageError
    from tests.faultproxy import cuttable

    monkeypatch.setenv("SAFESYNTH_S3_MAX_ATTEMPTS", "1")
    with cuttable(s3_env) as proxy:
        store = open_store(f"s3://{s3_bucket}/run", endpoint_url=proxy.url)

        def run(spec: Any, st: Any, progress: Any) -> dict[str, Any]:
            proxy.cut()
            st.write_bytes("train/model.bin", b"x")
            return {}

        stage = types.ModuleType("stage_train")
        stage.NAME, stage.run = StageName.TRAIN, run
        with pytest.raises(StorageError) as err:
            execute_stage(stage, SPEC, store, LogProgress())
    assert f"s3://{s3_bucket}/run/train/model.bin" in str(err.value) and "retryable" in str(err.value)
