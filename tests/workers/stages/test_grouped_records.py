"""Grouped records (spec.data.groupBy): the split, PII and the context-row layout keep entities whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.generator import entities as E
from safesynth.pii.keys import KEY_ENV
from safesynth.progress import LogProgress
from safesynth.spec import parse_spec
from safesynth.spec.models import SafeSynthJobSpec
from safesynth.stages import pii, prepare
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.pii.tables import patients_table

KEY = "0123456789abcdef0123456789abcdef"


def visits_table(patients: int = 80, seed: int = 5) -> pd.DataFrame:
    """Each patient of `patients_table` seen 1-6 times: person columns repeat, visit columns change."""
    rng = np.random.default_rng(seed)
    people = patients_table(patients, seed=seed).drop(columns=["visit_date", "note"])
    rows = []
    for _, person in people.iterrows():
        day = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        for _ in range(int(rng.integers(1, 7))):
            day += pd.Timedelta(days=int(rng.integers(1, 90)))
            rows.append({**person.to_dict(), "visit_date": day.date().isoformat(),
                         "systolic_bp": int(rng.normal(125, 15)), "cholesterol": round(float(rng.normal(190, 30)), 1)})
    table = pd.DataFrame(rows)
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # file order is not entity order


def _spec(path: Path, **data: object) -> object:
    return parse_spec({"data": {"uri": str(path), "groupBy": ["patient_id"], "orderBy": "visit_date",
                                "holdoutRows": 40, "minHoldoutRows": 10, "minTrainRows": 20, **data}})


@pytest.fixture
def visits_csv(tmp_path: Path) -> Path:
    path = tmp_path / "visits.csv"
    visits_table().to_csv(path, index=False)
    return path


def test_holdout_takes_whole_entities(visits_csv: Path, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    s = execute_stage(prepare, _spec(visits_csv), store, LogProgress()).summary
    train, holdout = store.read_table("prepare/train.parquet"), store.read_table("prepare/holdout.parquet")
    assert set(train["patient_id"]).isdisjoint(holdout["patient_id"])  # no entity split across the two
    assert len(train) + len(holdout) == len(pd.read_csv(visits_csv)) and s["holdoutRows"] >= 40
    for table in (train, holdout):  # each entity's rows together and in visit order
        ids = table["patient_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        assert len(starts) == table["patient_id"].nunique()
        assert (table.groupby("patient_id", sort=False)["visit_date"].apply(lambda s: s.is_monotonic_increasing)).all()


def test_entities_longer_than_max_group_rows_are_cut_with_a_warning(visits_csv: Path, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    s = execute_stage(prepare, _spec(visits_csv, maxGroupRows=2), store, LogProgress()).summary
    table = pd.concat([store.read_table("prepare/train.parquet"), store.read_table("prepare/holdout.parquet")])
    assert table.groupby("patient_id").size().max() == 2
    original = pd.read_csv(visits_csv)
    dropped = int((original.groupby("patient_id").size() - 2).clip(lower=0).sum())
    assert [w["count"] for w in s["warnings"] if w["code"] == "groupTruncated"] == [dropped]
    kept = table.sort_values(["patient_id", "visit_date"]).groupby("patient_id")["visit_date"].apply(list)
    first_two = original.sort_values(["patient_id", "visit_date"]).groupby("patient_id")["visit_date"].apply(
        lambda s: [pd.Timestamp(v) for v in s[:2]])
    assert kept.map(lambda v: [pd.Timestamp(x) for x in v]).tolist() == first_two.tolist()  # first rows, in order


def test_a_missing_entity_key_is_a_clear_error(tmp_path: Path) -> None:
    table = visits_table(40)
    table.loc[3, "patient_id"] = None
    path = tmp_path / "v.csv"
    table.to_csv(path, index=False)
    with pytest.raises(BadInputError, match=r"spec\.data\.groupBy: column 'patient_id' is empty in 1 row"):
        execute_stage(prepare, _spec(path), LocalStore(tmp_path / "run"), LogProgress())
    assert not (tmp_path / "run" / "prepare").exists()


def test_pii_is_replaced_per_entity_and_the_key_is_a_fresh_one(visits_csv: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    spec = _spec(visits_csv)
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    execute_stage(pii, spec, store, LogProgress())
    before = pd.concat([store.read_table("prepare/train.parquet"), store.read_table("prepare/holdout.parquet")])
    after = pd.concat([store.read_table("pii/train.parquet"), store.read_table("pii/holdout.parquet")])
    assert set(after["patient_id"]).isdisjoint(set(before["patient_id"]))  # the key itself is replaced
    # one fresh key per original key, in every row of the entity (train and holdout alike)
    pairs = pd.DataFrame({"old": before["patient_id"].to_numpy(), "new": after["patient_id"].to_numpy()})
    assert (pairs.groupby("old")["new"].nunique() == 1).all() and pairs["new"].nunique() == pairs["old"].nunique()
    for column in ("first_name", "last_name", "email", "date_of_birth", "ssn", "street_address"):
        per_entity = after.groupby("patient_id")[column].nunique(dropna=False)
        assert (per_entity == 1).all(), f"{column} re-identifies across an entity's rows"
        assert set(after[column].dropna().astype(str)).isdisjoint(set(before[column].dropna().astype(str))), column


def _context(table: pd.DataFrame) -> tuple[pd.DataFrame, E.EntityLayout, dict[str, str]]:
    from safesynth.generator.columns import infer_kinds

    kinds = infer_kinds(table)
    ordered = E.sort_entities(table, ["patient_id"], "visit_date")
    layout = E.plan_layout(ordered, kinds, ["patient_id"], "visit_date", 64)
    return ordered, layout, kinds


def test_context_rows_carry_the_entity_and_come_back_as_the_table() -> None:
    table = visits_table(30)
    table["visit_date"] = pd.to_datetime(table["visit_date"])
    ordered, layout, _ = _context(table)
    assert {"first_name", "date_of_birth", "ssn", "sex"} <= set(layout.static)
    assert {"systolic_bp", "cholesterol"} <= set(layout.varying) and "visit_date" not in layout.varying
    assert layout.gap_unit == "days"
    ctx = E.to_context_rows(ordered, layout)
    assert list(ctx.columns) == layout.context_columns
    assert ctx.columns.get_loc(E.PREV + "systolic_bp") + 1 == ctx.columns.get_loc("systolic_bp")  # lag next to it
    first = ctx[E.POS] == 0
    assert ctx.loc[first, E.PREV + "systolic_bp"].isna().all() and ctx.loc[first, E.GAP].isna().all()
    assert (ctx.loc[~first, E.PREV + "systolic_bp"].to_numpy()
            == ordered["systolic_bp"].shift(1)[~first].to_numpy()).all()
    assert (ctx.loc[~first, E.GAP] > 0).all()
    entity = E.entity_ids(ordered, ["patient_id"])
    back = E.from_context_rows(ctx, entity, layout, {c: str(ordered[c].dtype) for c in ordered.columns})
    assert list(back.columns) == list(table.columns)
    pd.testing.assert_series_equal(back["visit_date"], ordered["visit_date"], check_names=False)
    pd.testing.assert_frame_equal(back.drop(columns=["patient_id"]), ordered.drop(columns=["patient_id"]),
                                  check_dtype=False)
    assert back.groupby("patient_id").size().tolist() == ordered.groupby("patient_id", sort=False).size().tolist()


def test_a_reserved_column_name_is_refused() -> None:
    with pytest.raises(BadInputError, match="_ss_"):
        E.check_names(["age", "_ss_pos"])


def test_entity_gradients_are_merged_before_clipping() -> None:
    import torch

    from safesynth.generator.dp import PrivateTraining

    class Param:
        def __init__(self, gs: torch.Tensor) -> None:
            self.grad_sample = gs

    rows = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])  # rows 0 and 1 belong to entity 0, row 2 to entity 1
    opt = type("Opt", (), {"params": [Param(rows.clone())]})()
    PrivateTraining.merge_per_entity(opt, torch.tensor([0, 0, 1]))
    assert torch.equal(opt.params[0].grad_sample, torch.tensor([[2.0, 0.0], [0.0, 5.0]]))


def test_entity_batches_keep_each_entity_whole() -> None:
    from safesynth.generator.training import EntityDataset, make_entity_collate

    rows = [[1, 5, 2], [1, 6, 6, 2], [1, 7, 2], [1, 8, 8, 8, 2]]
    data = EntityDataset(rows, owners=[0, 0, 1, 2], pad_id=0)
    assert len(data) == 3
    ids, mask, owner = make_entity_collate(0)([data[2], data[0]])
    assert owner.tolist() == [0, 1, 1] and mask.sum(1).tolist() == [5, 3, 4]
    assert ids[1, :3].tolist() == [1, 5, 2] and ids[2, :4].tolist() == [1, 6, 6, 2]


@pytest.mark.slow
def test_dp_with_group_by_protects_entities(visits_csv: Path, tmp_path: Path) -> None:
    from safesynth.stages import train

    spec = parse_spec({"data": {"uri": str(visits_csv), "groupBy": ["patient_id"], "orderBy": "visit_date",
                                "entityColumns": ["sex", "blood_type"], "maxGroupRows": 6, "holdoutRows": 40,
                                "minHoldoutRows": 10, "minTrainRows": 20},
                       "pii": {"enabled": False},
                       "privacy": {"enabled": True, "epsilon": 8, "publicPretrain": False},
                       "training": {"maxSteps": 3, "batchSize": 8}})
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    summary = train.run(spec, store, LogProgress())
    entities = store.read_table("prepare/train.parquet")["patient_id"].nunique()
    assert summary["entities"] == entities and summary["entityLevelColumns"] == ["sex", "blood_type"]
    assert summary["privacyBudget"]["unit"] == "entity" and summary["privacyBudget"]["rowsPerUnit"] == 6
    assert summary["sampleRate"] == pytest.approx(1 / -(-entities // 8))  # Poisson over entities, not rows
    assert summary["epsilonSpent"] <= 8
    assert all(w["code"] != "entityLevelVaries" for w in summary.get("warnings", []))  # it would read private rows


def test_dp_with_group_by_refuses_the_marginal_route(visits_csv: Path, tmp_path: Path) -> None:
    from safesynth.stages import train

    spec = parse_spec({"data": {"uri": str(visits_csv), "groupBy": ["patient_id"], "holdoutRows": 40,
                                "minHoldoutRows": 10, "minTrainRows": 20},
                       "pii": {"enabled": False}, "privacy": {"enabled": True, "epsilon": 8, "route": "marginal"}})
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    with pytest.raises(BadInputError, match=r"spec\.privacy\.route: marginal .* use route hybrid"):
        train.run(spec, store, LogProgress())


def panel_table(entities: int = 150, seed: int = 3) -> pd.DataFrame:
    """Entities of 1-4 rows: sex per entity, a level that walks by at most 1 a visit, a state."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(entities):
        sex, day, level = rng.choice(["f", "m"]), int(rng.integers(0, 50)), int(rng.integers(0, 10))
        for _ in range(int(rng.integers(1, 5))):
            rows.append({"id": f"E{i:04d}", "day": day, "sex": sex, "level": level, "state": rng.choice(list("abc"))})
            day, level = day + int(rng.integers(1, 30)), int(np.clip(level + rng.integers(-1, 2), 0, 9))
    return pd.DataFrame(rows)


HYBRID_PANEL = {"enabled": True, "epsilon": 8, "route": "hybrid",
                "domains": {"sex": {"categories": ["f", "m"]}, "state": {"categories": ["a", "b", "c"]},
                            "level": {"min": 0, "max": 9}}}


def _panel_spec(path: Path) -> SafeSynthJobSpec:
    panel_table().to_csv(path, index=False)
    return parse_spec({"data": {"uri": str(path), "groupBy": ["id"], "orderBy": "day", "entityColumns": ["sex"],
                                "maxGroupRows": 4, "holdoutRows": 60, "minHoldoutRows": 10, "minTrainRows": 20},
                       "pii": {"enabled": False}, "privacy": HYBRID_PANEL,
                       "training": {"layers": 2, "hiddenSize": 32, "heads": 2, "vocabSize": 300, "threads": 1,
                                    "maxSteps": 3, "batchSize": 8}})


@pytest.mark.slow  # ~1 min: AIM on the context rows, then a few public and DP-SGD steps
def test_dp_with_group_by_trains_on_the_hybrid_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AIM on the context rows (an entity = maxGroupRows rows of one unit) writes the public pretraining rows,
    in the corpus' column order; its epsilon is in the ledger and the total stays within the target."""
    from safesynth.generator import aim, zcdp
    from safesynth.stages import train

    monkeypatch.setattr(aim, "ROUNDS_PER_COLUMN", 1)  # CI size: a few rounds (each compiles a new JAX program)
    spec = _panel_spec(tmp_path / "panel.csv")
    store = LocalStore(tmp_path / "run")
    execute_stage(prepare, spec, store, LogProgress())
    df = store.read_table("prepare/train.parquet")
    kinds = {c["name"]: c["kind"] for c in store.read_json("prepare/schema.json")["columns"]}
    grouped = train.group_rows(df, kinds, spec)
    corpus = train.build_corpus(grouped.table, grouped.kinds, spec.privacy, 0, "prepare", "hybrid", grouped)
    names = [c.name for c in corpus.columns if c.modeled]
    assert E.PREV + "level" in names and E.PREV + "state" in names  # AIM models the lag columns too
    public = pd.DataFrame(corpus.public_fields, columns=names)
    assert len(public) == train.PUBLIC_ROWS_MIN and public.shape[1] == len(corpus.fields[0])
    assert set(public["sex"].dropna()) <= {"f", "m"} and set(public["state"].dropna()) <= set("abc")
    assert set(public[E.PREV + "state"].dropna()) <= set("abc")
    assert public[E.POS].astype(int).between(0, 3).all() and public[E.ROWS].astype(int).between(1, 4).all()
    assert public["level"].dropna().astype(int).between(0, 9).all()
    plan = corpus.budget
    assert plan is not None and plan.route == "hybrid" and plan.contribution == 4 and plan.aim_epsilon > 0

    summary = train.run(spec, store, LogProgress())
    budget = summary["privacyBudget"]
    assert budget["route"] == "hybrid" and budget["unit"] == "entity" and budget["rowsPerUnit"] == 4
    assert 0 < budget["aimEpsilon"] <= 8 / 2 and summary["publicPretrain"]["rows"] == train.PUBLIC_ROWS_MIN
    assert budget["aimRho"] == pytest.approx(zcdp.rho_for(budget["aimEpsilon"], budget["aimDelta"]))
    parts = (summary["trainEpsilon"] + budget["schemaEpsilon"] + budget["marginalEpsilon"] + budget["aimEpsilon"]
             + budget["lengthEpsilon"])
    assert summary["epsilonSpent"] == pytest.approx(parts, abs=1e-3) and summary["epsilonSpent"] <= 8
    assert budget["aimDelta"] + budget["trainDelta"] + budget["schemaDelta"] == pytest.approx(budget["deltaTotal"])
    assert summary["entities"] == df["id"].nunique()
    # The marginal model is not kept on this route: its round log is, so the ledger can be checked from artifacts.
    log = json.loads(Path(store.url("train/model/safesynth.json")).read_text())["aimRounds"]
    recomputed = aim.rho_spent(aim.rounds_from_log(log))
    assert log["contribution"] == 4 and {r["sensitivity"] for r in log["rounds"]} == {4.0}
    assert recomputed == pytest.approx(log["rhoSpent"]) and recomputed <= log["rhoBudget"] + 1e-9
    assert zcdp.epsilon_of(recomputed, budget["aimDelta"]) <= budget["aimEpsilon"] + 1e-6


def test_the_forced_context_is_read_but_not_learned() -> None:
    layout = E.EntityLayout(keys=["k"], order_by=None, order_kind=None, gap_unit="", static=["sex"],
                            varying=["bp"], lagged=["bp"], columns=["k", "sex", "bp"])
    modeled = layout.context_columns  # _ss_pos, sex, _ss_rows, _ss_prev_bp, bp
    sep, zero = 3, [10]
    first = [1, 10, sep, 20, sep, 11, sep, 4, sep, 30, 2]  # bos 0 | sex | rows | prev (null) | bp eos
    later = [1, 11, sep, 20, sep, 11, sep, 30, sep, 31, 2]
    masks = E.loss_masks([first, later], modeled, layout, sep, zero, no_loss=9)
    assert masks[0] == [1, 9, 9, 1, 1, 9, 9, 9, 9, 1, 1]  # first row: position, row count, no previous value
    assert masks[1] == [1, 9, 9, 9, 9, 9, 9, 9, 9, 1, 1]  # later rows: only bp (and the end) is written


@pytest.mark.slow  # ~30 s: every stage on a small panel
def test_a_short_panel_of_few_values_generates_though_every_row_repeats_training(tmp_path: Path) -> None:
    """Four yes/no visits per child (geepack's ohio shape): every possible first row is a training row, so
    dropping copies row by row made generation impossible; copies are counted per entity instead."""
    import safesynth

    rng = np.random.default_rng(0)
    n = 150
    table = pd.DataFrame({"id": np.repeat(np.arange(n), 4), "age": np.tile([-2, -1, 0, 1], n),
                          "smoke": np.repeat(rng.integers(0, 2, n), 4), "resp": rng.integers(0, 2, 4 * n)})
    result = safesynth.synthesize(table, name="panel", runs_dir=tmp_path, progress=False,
                                  data={"uri": "ignored.csv", "groupBy": ["id"], "orderBy": "age",
                                        "holdoutRows": 100, "minHoldoutRows": 10},
                                  pii={"enabled": False},
                                  training={"layers": 2, "hidden_size": 64, "heads": 2, "max_steps": 60,
                                            "threads": 1, "vocab_size": 300},
                                  generation={"num_records": 40}, evaluation={"gates": {}})
    syn = result.synthetic
    assert syn["id"].nunique() == 40 and (syn.groupby("id").size() == 4).all()
    assert (syn.groupby("id")["smoke"].nunique() == 1).all()
    summary = json.loads((Path(result.run_uri) / "generate" / "summary.json").read_text())
    assert summary["entityCopies"] is not None and summary["dropTrainingCopies"] is False


def test_entity_lengths_follow_the_histogram_without_sampling_noise() -> None:
    histogram = [30.0, 0.0, 50.0, 20.0]
    lengths = E.draw_lengths(histogram, 100, np.random.default_rng(0))
    assert np.bincount(lengths, minlength=5)[1:].tolist() == [30, 0, 50, 20]  # exact at the histogram's size
    half = E.draw_lengths(histogram, 50, np.random.default_rng(1))
    assert np.bincount(half, minlength=5)[1:].tolist() == [15, 0, 25, 10]
    assert E.draw_lengths([0.0, 0.0], 3, np.random.default_rng(0)).tolist() == [1, 1, 1]
    ids = E.entity_ids(pd.DataFrame({"k": [1, 1, 2, 3, 3, 3]}), ["k"])
    assert E.length_histogram(ids, 4) == [1.0, 1.0, 1.0, 0.0]


def test_new_layouts_put_the_row_count_before_the_entity_columns_old_bundles_keep_their_order() -> None:
    """The model writes entity-level columns (follow-up time, outcome) knowing the row count that generation
    forces; a bundle saved before the change (no `rows_first` in its JSON) reads back in its own order."""
    table = pd.DataFrame({"k": [1, 1, 2, 2, 2], "t": [0, 5, 0, 3, 9], "sex": ["f", "f", "m", "m", "m"],
                          "bp": [120, 125, 130, 128, 131]})
    layout = E.plan_layout(table, {"k": "integer", "t": "integer", "sex": "categorical", "bp": "integer"},
                           ["k"], "t", 16, private=False)
    cols = layout.context_columns
    assert cols[:3] == [E.POS, E.ROWS, "sex"] and cols.index(E.ROWS) < cols.index(E.START)
    old = {k: v for k, v in layout.to_json().items() if k != "rows_first"}
    assert E.EntityLayout.from_json(old).context_columns[:2] == [E.POS, "sex"]
    assert E.EntityLayout.from_json(layout.to_json()).context_columns == cols
