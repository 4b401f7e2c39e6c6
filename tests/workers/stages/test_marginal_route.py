"""The marginal route end to end at CI size: train fits AIM under DP, generate samples without any training row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from safesynth.generator import zcdp
from safesynth.progress import LogProgress
from safesynth.stages import generate, train
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.generator.helpers import tiny_spec, tiny_table, write_prepared

PRIVACY = {"enabled": True, "epsilon": 3.0, "schemaEpsilon": 0.5, "route": "marginal",
           "domains": {"age": {"min": 18, "max": 89}, "group": {"categories": ["a", "b", "c"]}}}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, dict, dict]:  # type: ignore[type-arg]
    from safesynth.generator import aim

    mp = pytest.MonkeyPatch()
    mp.setattr(aim, "ROUNDS_PER_COLUMN", 2)  # CI size: a few rounds (each one compiles a new JAX program)
    root = tmp_path_factory.mktemp("marginal")
    store = LocalStore(root / "run")
    write_prepared(store, tiny_table(300))
    spec = tiny_spec(root, privacy=PRIVACY, generation={"numRecords": 120})
    trained = execute_stage(train, spec, store, LogProgress()).summary
    # generate must not need the private rows: take them away first
    Path(store.url("prepare/train.parquet")).unlink()
    generated = execute_stage(generate, spec, store, LogProgress()).summary
    mp.undo()
    return store, trained, generated


@pytest.mark.slow
def test_ledger_recomputes_from_the_recorded_rounds(run) -> None:  # type: ignore[no-untyped-def]
    store, s, _ = run
    manifest = json.loads(Path(store.url("train/model/marginal.json")).read_text())
    rounds = manifest["aim"]["rounds"]
    rho = sum(1 / (2 * r["sigma"] ** 2) + r["selectEpsilon"] ** 2 / 8 for r in rounds)
    budget = s["privacyBudget"]
    assert budget["route"] == "marginal" and s["route"] == "marginal" and budget["trainEpsilonTarget"] == 0
    eps_aim = zcdp.opendp_epsilon_of(rho, budget["aimDelta"])  # OpenDP's conversion, not ours
    assert eps_aim == pytest.approx(s["aimEpsilon"], abs=1e-4) and eps_aim <= budget["aimEpsilon"] + 1e-9
    assert s["epsilonSpent"] == pytest.approx(budget["schemaEpsilon"] + eps_aim, abs=1e-4)
    assert s["epsilonSpent"] <= 3.0
    assert budget["aimDelta"] + budget["schemaDelta"] <= budget["deltaTotal"] * (1 + 1e-12)
    # nothing measured on private rows in the summary
    assert not {"loss", "lossCurve", "tokensPerSecond", "timings", "rowsTooLong"} & set(s)


@pytest.mark.slow
def test_declared_domains_are_used_and_undeclared_ones_paid(run) -> None:  # type: ignore[no-untyped-def]
    store, s, _ = run
    manifest = json.loads(Path(store.url("train/model/marginal.json")).read_text())
    attrs = {a["name"]: a for a in manifest["aim"]["attributes"]}
    assert attrs["group"]["labels"][:3] == ["a", "b", "c"] and "\x00unlisted" not in attrs["group"]["labels"]
    assert attrs["age"]["edges"][0] == 18 and attrs["age"]["edges"][-1] <= 90
    assert {"income", "visit"} <= set(s["privacyBudget"]["releasedBounds"])  # undeclared: paid from schemaEpsilon


@pytest.mark.slow
def test_generate_writes_the_table_from_the_model_alone(run) -> None:  # type: ignore[no-untyped-def]
    store, _, g = run
    out = store.read_table("generate/synthetic.parquet")
    real = tiny_table(300)
    assert len(out) == 120 == g["rowsGenerated"] and list(out.columns) == list(real.columns)
    assert set(out["group"].dropna()) <= {"a", "b", "c"} and out["age"].dropna().between(18, 89).all()
    assert out["pid"].notna().all() and not set(out["pid"]) & set(real["pid"])  # fresh, never null under DP
    assert out["blank"].isna().all() and pd.api.types.is_datetime64_any_dtype(out["visit"])
    assert g["route"] == "marginal" and "exactCopies" not in g


@pytest.mark.slow
def test_filler_text_is_a_warning_of_the_run(run) -> None:  # type: ignore[no-untyped-def]
    """The marginal route writes no learned text: the summary says so by column, and the end of the run
    prints it (driver.column_warnings reads every stage's warnings)."""
    from safesynth.driver import column_warnings
    from safesynth.spec.status import JobStatus, StageStatus

    _, s, _ = run
    assert {(w["column"], w["code"]) for w in s["warnings"]} >= {("note", "dpTextFiller")}
    # nothing in spec.data.columns: every kind was read from the table, outside the guarantee, and said so
    assert {(w["column"], w["code"]) for w in s["warnings"]} >= {(c, "dpUndeclaredKind") for c in ("age", "visit")}
    status = JobStatus(stages=[StageStatus(name="train", summary=s)])
    assert any("'note'" in line and "filler" in line for line in column_warnings(status))
