"""The Python API: settings validated like a manifest, a DataFrame in and a synthetic DataFrame out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import safesynth
from safesynth.api import build_manifest, synthesize
from safesynth.errors import BadInputError, SpecError
from safesynth.spec import parse_job
from safesynth.spec.models import TrainingSpec
from tests.conftest import REPO

QUICKSTART = REPO / "examples" / "data" / "patients.csv"
TINY = {"layers": 2, "hidden_size": 32, "heads": 2, "max_steps": 60, "batch_size": 16, "threads": 1,
        "vocab_size": 300}


def test_sections_accept_snake_case_dicts_and_models() -> None:
    manifest = build_manifest("t.parquet", "nb", {
        "training": TrainingSpec(max_steps=5), "generation": {"num_records": 10, "fixed_values": {"first_name": "1"}},
        "privacy": None,
    })
    spec = parse_job(manifest).spec
    assert spec.training.max_steps == 5 and spec.generation.num_records == 10
    assert spec.generation.fixed_values == {"first_name": "1"}  # a column map keeps its keys
    assert spec.data.uri == "t.parquet" and not spec.privacy.enabled


def test_unknown_section_and_bad_field_fail_before_anything_is_written(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    with pytest.raises(BadInputError, match="unknown setting"):
        synthesize(frame, runs_dir=tmp_path, progress=False, trainng={"max_steps": 1})
    with pytest.raises(SpecError, match=r"spec\.training\.max_step: unknown field"):
        synthesize(frame, runs_dir=tmp_path, progress=False, training={"max_step": 1})
    with pytest.raises(SpecError, match=r"metadata\.name"):
        synthesize(frame, name="Not A Name", runs_dir=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_data_must_be_a_dataframe(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="DataFrame"):
        synthesize([[1, 2]], runs_dir=tmp_path, progress=False)  # type: ignore[arg-type]


@pytest.mark.slow
def test_quickstart_sample_end_to_end_then_resumes(tmp_path: Path) -> None:
    real = pd.read_csv(QUICKSTART).sample(400, random_state=0).reset_index(drop=True)
    result = safesynth.synthesize(real, name="qs", runs_dir=tmp_path, progress=False, training=TINY,
                                  generation={"num_records": 60, "max_invalid_fraction": 0.95}, data={"seed": 3})
    assert list(result.synthetic.columns) == list(real.columns)
    assert len(result.synthetic) == 60
    assert 0 <= result.scores["sqs"] <= 10 and result.report_path is not None and result.report_path.is_file()
    assert result.status.phase.value in ("Succeeded", "Failed")
    assert result.released == (result.status.phase.value == "Succeeded")
    assert result.metrics["rows"]["synthetic"] == 60 and result.metrics["sqs"]["value"] == pytest.approx(
        result.scores["sqs"], abs=0.01)

    again = safesynth.synthesize(real, name="qs", runs_dir=tmp_path, progress=False, training=TINY,
                                 generation={"num_records": 60, "max_invalid_fraction": 0.95}, data={"seed": 3})
    phases = {s.name: s.phase.value for s in again.status.stages}
    assert {p for n, p in phases.items() if n != "evaluate"} == {"Skipped"}  # nothing re-ran
    # A stored "not released" verdict is raised again on resume, never silently turned into a pass.
    assert phases["evaluate"] == ("Skipped" if result.released else "Failed")
    assert again.released == result.released and again.gates == result.gates
    pd.testing.assert_frame_equal(again.synthetic, result.synthetic)

    scored = safesynth.evaluate(real.iloc[:300], result.synthetic, real.iloc[300:])
    assert scored.sqs.value == pytest.approx(scored.summary()["sqs"], abs=0.01)
    assert scored.rows["holdout"] == 100
