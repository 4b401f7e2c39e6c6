"""examples/timeseries.yaml end to end at a CI size: whole entities come out, in order, with entity-level
columns constant, fresh keys and fake people, and the evaluation scores them as sequences."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import safesynth
from safesynth.pii.keys import KEY_ENV
from safesynth.spec.load import load_spec_file
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "timeseries.yaml"
TINY = {"layers": 2, "hidden_size": 64, "heads": 2, "max_steps": 300, "batch_size": 32, "threads": 1,
        "vocab_size": 300}


def shared_names(syn: pd.DataFrame, real: pd.DataFrame) -> int:
    """Full names found in both tables. The example's names and every fake are Faker draws from the same pools
    of first and last names, so one or two can coincide by chance (a CI run met one); a model that learned
    the real names would share most of them."""
    return len(set(syn["full_name"]) & set(real["full_name"]))


@pytest.mark.slow  # ~1 min on 2 cores: every stage on 90 patients
def test_time_series_example_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "0123456789abcdef0123456789abcdef")
    spec = load_spec_file(EXAMPLE)
    data = spec.data
    assert data.group_by == ["patient_id"] and data.order_by == "day"
    real = pd.read_csv(REPO / data.uri)
    keep = real["patient_id"].drop_duplicates().sample(90, random_state=0)
    # CI size: 90 patients and half of the lab columns (a tiny model writes fewer numbers in range)
    columns = ["patient_id", "full_name", "date_of_birth", "sex", "age", "trt", "day", "bili", "albumin", "stage"]
    real = real.loc[real["patient_id"].isin(keep), columns].reset_index(drop=True)
    result = safesynth.synthesize(real, name="ts", runs_dir=tmp_path, progress=False, spec=spec, training=TINY,
                                  generation={"num_records": 30, "max_invalid_fraction": 1.0, "temperature": 0.7,
                                              "fixed_values": {"sex": "m"}},
                                  evaluation={"gates": {}})
    syn = result.synthetic
    key = data.group_by[0]
    assert syn[key].nunique() == 30  # numRecords counts entities
    assert set(syn[key]).isdisjoint(set(real[key]))  # fresh keys
    ids = syn[key].to_numpy()
    assert (ids[1:] != ids[:-1]).sum() == 29  # each entity's rows in one block
    assert syn.groupby(key)[data.order_by].apply(lambda s: s.is_monotonic_increasing).all()
    assert syn.groupby(key).size().max() <= data.max_group_rows
    assert (syn["sex"] == "m").all()  # conditional generation at entity level: every entity a man
    for column in ("full_name", "date_of_birth", "sex"):
        assert (syn.groupby(key)[column].nunique(dropna=False) == 1).all(), column
    assert shared_names(syn, real) <= 2  # the PII stage's fakes, not real names
    sequences = result.metrics["metrics"]
    assert sequences["sequence_order"]["statistic"]["orderedShare"] == 1.0
    assert sequences["sequence_rows_per_entity"]["score"] is not None


@pytest.mark.slow  # ~40 s: every stage under DP on 90 patients
def test_time_series_example_under_dp_protects_entities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.setenv(KEY_ENV, "0123456789abcdef0123456789abcdef")
    spec = load_spec_file(EXAMPLE)
    real = pd.read_csv(REPO / spec.data.uri)
    keep = real["patient_id"].drop_duplicates().sample(90, random_state=0)
    columns = ["patient_id", "full_name", "date_of_birth", "sex", "age", "trt", "day", "bili", "albumin", "stage"]
    real = real.loc[real["patient_id"].isin(keep), columns].reset_index(drop=True)
    data = {**spec.data.model_dump(by_alias=True, exclude_unset=True, mode="json"),
            "entityColumns": ["full_name", "date_of_birth", "sex", "age", "trt"]}
    result = safesynth.synthesize(real, name="tsdp", runs_dir=tmp_path, progress=False, spec=spec, data=data,
                                  training={**TINY, "max_steps": 40, "batch_size": 16},
                                  privacy={"enabled": True, "epsilon": 8},
                                  generation={"num_records": 20, "max_invalid_fraction": 1.0, "temperature": 0.7},
                                  evaluation={"gates": {}})
    syn = result.synthetic
    assert syn["patient_id"].nunique() == 20
    assert syn.groupby("patient_id")["day"].apply(lambda s: s.is_monotonic_increasing).all()
    # the PII stage's names are not learned under DP: faked again, one synthetic person per entity
    assert (syn.groupby("patient_id")["full_name"].nunique() == 1).all()
    assert shared_names(syn, real) <= 2
    train = json.loads((Path(result.run_uri) / "train" / "summary.json").read_text())
    budget = train["privacyBudget"]
    assert budget["unit"] == "entity" and budget["rowsPerUnit"] == spec.data.max_group_rows
    assert budget["lengthEpsilon"] > 0 and train["epsilonSpent"] <= 8
    assert train["sampleRate"] == pytest.approx(1 / -(-train["entities"] // 16))  # Poisson over entities
