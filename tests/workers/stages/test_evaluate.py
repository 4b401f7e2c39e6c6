"""Stage evaluate (and the standalone `evaluate` command): inputs, outputs, headline, errors.

These tests do not train a model: they write generate/synthetic.parquet
themselves (a noisy resample of the training rows, or a copy of them), and
write pii/* as the PII stage's contract describes, which is what the evaluate
stage reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from safesynth.contract import EXIT_GATE_NOT_MET
from safesynth.errors import ArtifactNotFoundError, BadInputError, GateNotMetError
from safesynth.progress import LogProgress
from safesynth.spec import parse_spec
from safesynth.spec.models import SafeSynthJobSpec
from safesynth.stages import evaluate, prepare
from safesynth.stages.runner import execute_stage, stage_spec_hash
from safesynth.store import LocalStore
from tests.workers.metrics.tables import population


def noisy_resample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A stand-in generator: resampled rows with jittered numbers (no exact copies)."""
    rng = np.random.default_rng(seed)
    out = df.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    out["income"] = out["income"] + rng.normal(0, 3000, n)
    out["age"] = np.clip(out["age"] + rng.integers(-3, 4, n), 18, 89)
    out["score"] = out["score"] + rng.normal(0, 2, n)
    out["id"] = [f"S-{i}" for i in range(n)]
    return out


@pytest.fixture
def prepared(tmp_path: Path) -> tuple[SafeSynthJobSpec, LocalStore]:
    df = population(800, 0)
    df["name"] = [f"Person Number{i}" for i in range(len(df))]
    csv = tmp_path / "people.csv"
    df.to_csv(csv, index=False)
    spec = parse_spec({"data": {"uri": str(csv), "holdoutRows": 200},
                       "evaluation": {"maxRows": 400, "target": "group"}})
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    return spec, store


def write_synthetic(store: LocalStore, df: pd.DataFrame) -> None:
    store.write_table("generate/synthetic.parquet", df)
    store.write_json("generate/summary.json", {"stage": "generate", "startedAt": "t0", "finishedAt": "t1"})


def independent_draw(n: int, seed: int) -> pd.DataFrame:
    """A stand-in for a good generator: new rows from the same population (another seed), no training row."""
    df = population(n, seed)
    df["name"] = [f"Other Person{i}" for i in range(n)]
    return df


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_evaluate_writes_metrics_report_audit_and_headline(prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    write_synthetic(store, independent_draw(500, 11))
    out = execute_stage(evaluate, spec, store, LogProgress())
    s = out.summary
    assert s["released"] is True and {g["name"] for g in s["gates"]} >= {"minDetection", "maxExactCopies"}
    assert isinstance(s["sqs"], float) and isinstance(s["dps"], float)
    assert s["sqsGrade"] in ("Excellent", "Good") and s["dpsGrade"] and s["report"] == "evaluate/report.html"
    assert s["rowsEvaluated"] == {"real": 600, "synthetic": 500, "holdout": 200}
    for key in evaluate.WRITES:
        assert store.exists(key)
    metrics = json.loads(store.read_text("evaluate/metrics.json"), parse_constant=pytest.fail)
    assert metrics["metrics"]["ml_utility"]["params"]["target"] == "group"
    assert metrics["metrics"]["pii_replay"]["status"] == "notApplicable"  # no pii/ artifacts in this run
    audit = store.read_json("evaluate/audit.json")
    assert audit["specHash"] == stage_spec_hash(spec, evaluate.NAME) and "prepare" in audit["stages"]
    assert audit["inputs"]["real"] == "prepare/train.parquet" and audit["differentialPrivacy"]["enabled"] is False
    html = store.read_text("evaluate/report.html")
    assert 'id="report-title"' in html and "Person Number" not in html
    # the summary carries numbers and grades only
    assert "Person" not in json.dumps(s)


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_a_copy_of_training_rows_fails_the_gates_and_keeps_its_artifacts(
        prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    write_synthetic(store, store.read_table("prepare/train.parquet"))
    with pytest.raises(GateNotMetError, match=r"maxExactCopies") as err:
        execute_stage(evaluate, spec, store, LogProgress())
    assert err.value.exit_code == EXIT_GATE_NOT_MET and err.value.reason == "GateNotMet"
    s = store.read_json("evaluate/summary.json")  # written before the error: the report stays for inspection
    assert s["released"] is False and s["dps"] < 3.0 and "maxExactCopies" in s["failedGates"]
    assert store.exists("evaluate/report.html") and store.read_json("evaluate/metrics.json")["release"]["released"] is False
    # a re-run skips the finished stage but fails the same way: a failed gate never becomes a pass
    with pytest.raises(GateNotMetError):
        execute_stage(evaluate, spec, store, LogProgress())
    # with the gates off (a spec change) the same table is evaluated again and released
    off = spec.model_copy(update={"evaluation": spec.evaluation.model_copy(
        update={"gates": spec.evaluation.gates.model_copy(update={"enabled": False})})})
    again = execute_stage(evaluate, off, store, LogProgress())
    assert not again.skipped and again.summary["released"] is True and again.summary["gates"] == []


def simulate_pii_stage(store: LocalStore) -> None:
    """pii/* as the PII stage writes it: name replaced consistently in train and holdout, a report without values."""
    for split in ("train", "holdout"):
        df = store.read_table(f"prepare/{split}.parquet")
        df["name"] = [f"Fake {split} {i}" for i in range(len(df))]
        store.write_table(f"pii/{split}.parquet", df)
    schema = store.read_json("prepare/schema.json")
    store.write_json("pii/schema.json", schema)
    store.write_json("pii/report.json", {"columns": {"name": {"entity": "PERSON", "confidence": 0.95,
                                                              "action": "fake", "valuesChanged": 600}}})
    store.write_json("pii/summary.json", {"stage": "pii"})
    store.write_json("train/summary.json", {"stage": "train", "epsilonSpent": 7.5, "delta": 1e-5,
                                            "accountant": "prv", "noiseMultiplier": 0.7})


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_pii_replay_reads_originals_and_dp_comes_from_train_summary(
        prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    spec = spec.model_copy(update={"privacy": spec.privacy.model_copy(update={"enabled": True})})
    simulate_pii_stage(store)
    original = store.read_table("prepare/train.parquet")
    syn = noisy_resample(store.read_table("pii/train.parquet"), 500, 2)
    syn.loc[:199, "name"] = original["name"].iloc[:200].to_numpy()  # the generator replays 200 real names
    write_synthetic(store, syn)
    with pytest.raises(GateNotMetError, match="maxPiiReplay"):  # 200 real names replayed
        execute_stage(evaluate, spec, store, LogProgress())
    s = store.read_json("evaluate/summary.json")
    assert s["epsilonSpent"] == 7.5
    metrics = store.read_json("evaluate/metrics.json")
    replay = metrics["metrics"]["pii_replay"]
    assert replay["status"] == "ok" and replay["details"][0]["column"] == "name"
    assert replay["details"][0]["replayShare"] == pytest.approx(200 / 600) and replay["score"] < 7.5
    audit = store.read_json("evaluate/audit.json")
    assert audit["inputs"]["real"] == "pii/train.parquet" and audit["inputs"]["holdout"] == "pii/holdout.parquet"
    assert audit["pii"]["columns"][0]["entity"] == "PERSON"
    assert next(c for c in audit["hipaaSafeHarbor"]["categories"] if c["code"] == "A")["found"]
    assert audit["differentialPrivacy"]["epsilonSpent"] == 7.5 and audit["differentialPrivacy"]["accountant"] == "prv"
    html = store.read_text("evaluate/report.html")
    assert "ε = 7.50" in html and "Person Number" not in html


def test_missing_synthetic_table_is_a_clear_error(prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    with pytest.raises(ArtifactNotFoundError, match=r"generate/synthetic\.parquet.*generate stage"):
        execute_stage(evaluate, spec, store, LogProgress())
    assert store.list("evaluate/") == []


def test_unknown_columns_in_spec_fail_before_any_work(prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    write_synthetic(store, store.read_table("prepare/train.parquet").head(50))
    bad = spec.model_copy(update={"evaluation": spec.evaluation.model_copy(
        update={"target": "nope", "sensitive_columns": ["also_nope"]})})
    with pytest.raises(BadInputError, match=r"spec\.evaluation\.target.*spec\.evaluation\.sensitiveColumns"):
        execute_stage(evaluate, bad, store, LogProgress())


def test_disabled_evaluation_is_skipped(prepared: tuple[SafeSynthJobSpec, LocalStore]) -> None:
    spec, store = prepared
    off = spec.model_copy(update={"evaluation": spec.evaluation.model_copy(update={"enabled": False})})
    s = execute_stage(evaluate, off, store, LogProgress()).summary
    assert s["skipped"] is True and not store.exists("evaluate/report.html")


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_command_scores_any_two_tables(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from safesynth.commands.evaluate import evaluate_command

    app = typer.Typer()
    app.command()(evaluate_command)
    full = population(700, 0)
    full.iloc[200:].to_csv(tmp_path / "real.csv", index=False)
    full.iloc[:200].to_parquet(tmp_path / "holdout.parquet", index=False)
    population(400, 3).to_csv(tmp_path / "syn.csv", index=False)  # an independent draw: a good generator
    args = ["--real", str(tmp_path / "real.csv"), "--synthetic", str(tmp_path / "syn.csv"),
            "--holdout", str(tmp_path / "holdout.parquet"), "--out", str(tmp_path / "out"), "--max-rows", "300"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "SQS" in res.output and "DPS" in res.output and "report.html" in res.output
    metrics: dict[str, Any] = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["metrics"]["membership_inference"]["status"] == "ok"
    html = (tmp_path / "out" / "report.html").read_text()
    assert len(html) > 10_000 and "Unknown" in html  # DP status of tables made elsewhere is not claimed
    no_holdout = CliRunner().invoke(app, args[:4] + ["--out", str(tmp_path / "out2")])
    assert no_holdout.exit_code == 0
    m2 = json.loads((tmp_path / "out2" / "metrics.json").read_text())
    assert m2["metrics"]["membership_inference"]["status"] == "notApplicable"
    assert "holdout" in m2["metrics"]["membership_inference"]["reason"]
    assert "DPS n/a (" in no_holdout.output and "holdout" in no_holdout.output  # n/a with a reason, not None
    bad = CliRunner().invoke(app, args + ["--target", "nope"])
    assert isinstance(bad.exception, BadInputError)


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_command_gates_decide_like_the_stage_and_reject_other_columns(tmp_path: Path) -> None:
    """A verbatim copy without --holdout still fails (exact copies need no holdout); --gate/--no-gates override."""
    import typer
    from typer.testing import CliRunner

    from safesynth.commands.evaluate import evaluate_command

    app = typer.Typer()
    app.command()(evaluate_command)
    real = population(400, 0)
    real.to_csv(tmp_path / "real.csv", index=False)
    base = ["--real", str(tmp_path / "real.csv"), "--synthetic", str(tmp_path / "real.csv"), "--max-rows", "300"]
    copy = CliRunner().invoke(app, base + ["--out", str(tmp_path / "a")])
    assert isinstance(copy.exception, GateNotMetError) and copy.exception.exit_code == EXIT_GATE_NOT_MET
    assert "[FAIL] maxExactCopies" in copy.output and (tmp_path / "a" / "report.html").exists()
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["release"]["released"] is False
    assert metrics["metrics"]["copies"]["statistic"]["exactCopyShare"] == 1.0
    off = CliRunner().invoke(app, base + ["--out", str(tmp_path / "b"), "--no-gates"])
    assert off.exit_code == 0, off.output
    loose = CliRunner().invoke(app, base + ["--out", str(tmp_path / "c"), "--gate", "maxExactCopies=off"])
    assert loose.exit_code == 0, loose.output
    typo = CliRunner().invoke(app, base + ["--gate", "maxCopies=1"])
    assert isinstance(typo.exception, BadInputError) and "maxExactCopies" in str(typo.exception)
    real.drop(columns=["income", "smoker"]).to_csv(tmp_path / "narrow.csv", index=False)
    narrow = CliRunner().invoke(app, base[:2] + ["--synthetic", str(tmp_path / "narrow.csv")])
    assert isinstance(narrow.exception, BadInputError)
    assert "'income', 'smoker'" in str(narrow.exception) and "missing" in str(narrow.exception)
