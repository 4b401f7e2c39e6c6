"""Stage train: artifacts and summary, pii/ over prepare/, seeded runs, DP accounting, the LoRA path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from safesynth.progress import LogProgress
from safesynth.stages import train
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.generator.helpers import tiny_pretrained_dir, tiny_spec, tiny_table, write_prepared

PRIVATE_WORD = "Quetzalcoatlus"  # frequent in the private rows: a BPE fitted on them would learn it


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def private_table(n: int = 60):  # type: ignore[no-untyped-def]
    df = tiny_table(n)
    df["note"] = df["note"].astype(object).where(df.index % 2 == 0, f"{PRIVATE_WORD} {PRIVATE_WORD}").astype("string")
    return df


def vocab(store: LocalStore) -> str:
    return store.read_text("train/model/tokenizer/tokenizer.json")


def test_writes_the_model_and_a_summary(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    write_prepared(store, private_table())
    s = execute_stage(train, tiny_spec(tmp_path), store, LogProgress()).summary
    assert s["inputStage"] == "prepare" and s["trainRows"] == 60 and s["columnsModeled"] == 6
    assert s["steps"] == 4 and s["loss"] > 0 and s["tokensPerSecond"] > 0 and s["model"]["layers"] == 2
    assert s["epsilonSpent"] is None and s["delta"] is None and s["accountant"] is None
    assert set(s["timings"]) >= {"load", "train", "save"} and s["device"] == "cpu" and s["threads"] == 1
    for key in ("safesynth.json", "model/config.json", "model/model.safetensors", "tokenizer/tokenizer.json"):
        assert store.exists(f"train/model/{key}")
    assert PRIVATE_WORD[:6] in vocab(store)  # without DP the tokenizer learns from the rows


def test_reads_pii_output_when_present(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    write_prepared(store, tiny_table())
    write_prepared(store, tiny_table().drop(columns=["pid", "note"]), prefix="pii")
    s = execute_stage(train, tiny_spec(tmp_path), store, LogProgress()).summary
    manifest = store.read_json("train/model/safesynth.json")
    assert s["inputStage"] == "pii" and "pid" not in [c["name"] for c in manifest["columns"]]


def test_same_spec_and_seed_give_the_same_model(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        store = LocalStore(tmp_path / name)
        write_prepared(store, tiny_table())
        execute_stage(train, tiny_spec(tmp_path), store, LogProgress())
        runs.append(store.read_bytes("train/model/model/model.safetensors"))
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_dp_training_reports_epsilon_within_target_and_learns_nothing_outside_dp(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    write_prepared(store, private_table(80))
    spec = tiny_spec(tmp_path, training={"maxSteps": 6}, privacy={"enabled": True, "epsilon": 4.0, "schemaEpsilon": 0.5,
                                        "route": "lm", "domains": {"age": {"min": 0, "max": 120}}})
    s = execute_stage(train, spec, store, LogProgress()).summary
    assert s["accountant"] == "prv" and 0 < s["epsilonSpent"] <= 4.0 + 0.01
    budget = s["privacyBudget"]
    assert budget["marginalEpsilon"] == 0.5  # default epsilon/8
    assert s["epsilonSpent"] == pytest.approx(s["trainEpsilon"] + budget["schemaEpsilon"] + budget["marginalEpsilon"],
                                              abs=1e-3)
    assert s["delta"] == 1e-5 and s["noiseMultiplier"] > 0 and 0 < s["sampleRate"] < 1
    # nothing measured on private batches: no loss, curve, throughput or timings (README, "Differential privacy")
    assert not {"loss", "lossCurve", "tokensPerSecond", "timings", "rowsTooLong"} & set(s)
    assert "age" not in s["privacyBudget"]["releasedBounds"] and "income" in s["privacyBudget"]["releasedBounds"]
    assert s["publicPretrain"]["steps"] == 6 and s["steps"] == 5 and "rowsTooLong" not in s
    assert PRIVATE_WORD[:6] not in vocab(store)  # the tokenizer was fitted on public rows only
    manifest = store.read_json("train/model/safesynth.json")
    assert manifest["privacy"] is True and all(c["nullable"] for c in manifest["columns"])


def test_lora_path_on_a_local_pretrained_model(tmp_path: Path) -> None:
    base = tiny_pretrained_dir(tmp_path / "base")
    store = LocalStore(tmp_path / "run")
    write_prepared(store, tiny_table())
    spec = tiny_spec(tmp_path, training={"baseModel": str(base), "maxSteps": 2, "lora": {"r": 4, "alpha": 8}})
    s = execute_stage(train, spec, store, LogProgress()).summary
    assert s["model"]["kind"] == "lora" and s["model"]["loraR"] == 4 and s["steps"] == 2
    assert 0 < s["model"]["trainableParameters"] < s["model"]["parameters"]
    config = json.loads(store.read_text("train/model/model/config.json"))
    assert config["model_type"] == "llama" and "quantization_config" not in config


def test_a_table_with_nothing_to_learn_is_a_bad_input(tmp_path: Path) -> None:
    from safesynth.errors import BadInputError

    store = LocalStore(tmp_path / "run")
    write_prepared(store, tiny_table()[["pid", "blank"]])
    with pytest.raises(BadInputError, match="nothing for the generator to learn"):
        execute_stage(train, tiny_spec(tmp_path), store, LogProgress())


def test_sequence_limit_and_long_rows() -> None:
    assert train.sequence_limit(50, None, dp_on=False) == 64 and train.sequence_limit(50, 40, dp_on=False) == 40
    assert train.sequence_limit(50, None, dp_on=True) == train.DP_DEFAULT_MAX_LEN
    rows = [[1, 2, 3], [1, 2, 3, 4, 5]]
    assert train.fit_rows(rows, 4, dp_on=False) == [[1, 2, 3]]
    assert train.fit_rows(rows, 4, dp_on=True) == [[1, 2, 3], [1, 2, 3, 4]]  # DP: the row count stays public


@pytest.mark.slow  # the last step trains a tiny model
@pytest.mark.parametrize("table", ["one low-cardinality column", "all rows identical", "two small columns crossed"])
def test_a_job_that_cannot_yield_a_new_row_fails_before_training(tmp_path: Path, table: str) -> None:
    import pandas as pd

    from safesynth.errors import BadInputError

    n = 60
    frames = {
        "one low-cardinality column": pd.DataFrame({"group": pd.Series(["abc"[i % 3] for i in range(n)], dtype="string")}),
        "all rows identical": pd.DataFrame({"group": pd.Series(["a"] * n, dtype="string"),
                                            "age": pd.Series([40] * n, dtype="int64")}),
        "two small columns crossed": pd.DataFrame({"group": pd.Series(["ab"[i % 2] for i in range(n)], dtype="string"),
                                                   "smoker": pd.Series([i % 4 < 2 for i in range(n)], dtype="bool")}),
    }
    store = LocalStore(tmp_path / "run")
    write_prepared(store, frames[table])
    with pytest.raises(BadInputError, match="dropTrainingCopies") as err:
        execute_stage(train, tiny_spec(tmp_path), store, LogProgress())
    assert "dropTrainingCopies: false" in str(err.value) and not store.exists("train/model/safesynth.json")
    # with copies allowed the same table trains
    spec = tiny_spec(tmp_path, generation={"dropTrainingCopies": False})
    assert execute_stage(train, spec, store, LogProgress()).summary["trainRows"] == n


def test_a_validation_slice_is_held_out_without_dp_and_epochs_unset(tmp_path: Path) -> None:
    """600 rows, epochs unset: 60 rows are held out and never trained on, the summary says which check kept
    the weights; with epochs set (or under DP) every row trains and there is no slice."""
    store = LocalStore(tmp_path / "run")
    write_prepared(store, private_table(600))
    s = execute_stage(train, tiny_spec(tmp_path, training={"epochs": None, "max_steps": 6}), store,
                      LogProgress()).summary
    v = s["validation"]
    assert v["rows"] == 60 and 0 < v["keptStep"] <= s["steps"] == 6 and [c[0] for c in v["checks"]][-1] == 6
    fixed = LocalStore(tmp_path / "fixed")
    write_prepared(fixed, private_table(600))
    s = execute_stage(train, tiny_spec(tmp_path, training={"epochs": 1.0, "max_steps": 6}), fixed,
                      LogProgress()).summary
    assert "validation" not in s
