"""Sequence metrics (spec.data.groupBy): hand-built tables whose right answer is known, then each metric.

The pure statistics (metrics/sequences.py) on tables small enough to check by
hand; the seven `sequence_*` metrics on a population of entities with known
structure (an entity-level sex and birth date, visits at increasing days, a lab
value that persists within an entity) and on ways to damage it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from safesynth.metrics import sequences as S
from safesynth.metrics.base import Group, NotApplicable, run_metric
from safesynth.metrics.registry import METRICS, all_metrics, by_name
from safesynth.metrics.sequence_autocorrelation import SequenceAutocorrelation
from safesynth.metrics.sequence_change import SequenceChange
from safesynth.metrics.sequence_entity_columns import SequenceEntityColumns
from safesynth.metrics.sequence_gaps import SequenceGaps
from safesynth.metrics.sequence_membership import SequenceMembership
from safesynth.metrics.sequence_order import SequenceOrder
from safesynth.metrics.sequence_rows import SequenceRows
from tests.workers.metrics.tables import context

KEY, DAY = ("pid",), "day"
SEQUENCE_METRICS = [cls for cls in METRICS if cls.group is Group.SEQUENCES]


def visits(n_entities: int, seed: int, prefix: str = "E") -> pd.DataFrame:
    """Entities of 1–8 rows: entity-level sex and birth date, increasing `day`, a persistent lab value
    (entity level + small AR noise), a stage that rarely moves; rows contiguous and in day order."""
    r = np.random.default_rng(seed)
    rows = []
    for e in range(n_entities):
        n = int(r.integers(1, 9))
        sex = str(r.choice(["f", "m"]))
        dob = pd.Timestamp("1930-01-01") + pd.Timedelta(days=int(r.integers(0, 20_000)))
        level = r.normal(100, 30)
        day, stage, lab = 0, int(r.integers(1, 4)), level
        for _ in range(n):
            lab = level + 0.7 * (lab - level) + r.normal(0, 3)
            rows.append({"pid": f"{prefix}{seed}-{e:04d}", "sex": sex, "dob": dob, "day": day,
                         "lab": round(float(lab), 2), "stage": stage})
            day += int(r.choice([182, 365, 365, 400]))
            stage = min(4, stage + int(r.random() < 0.1))
    return pd.DataFrame(rows)


def grouped(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None = None, **options: object):  # type: ignore[no-untyped-def]
    opts = {"group_by": KEY, "order_by": DAY, "max_rows": 2000, **options}
    return context(real, synthetic, holdout, **opts)


def shuffle_within_entities(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each entity's rows kept together, in a random order inside the entity."""
    r = np.random.default_rng(seed)
    parts = [g.iloc[r.permutation(len(g))] for _, g in df.groupby("pid", sort=False)]
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------------ pure statistics, by hand

HAND = pd.DataFrame({
    "pid": ["a", "a", "a", "b", "b", "c"],
    "day": [10, 0, 5, 0, 7, 0],  # a written out of order
    "x": [3.0, 1.0, 2.0, 10.0, 11.0, 50.0],
    "cat": ["p", "p", "q", "r", "r", "s"],
    "const": ["k", "k", "k", "m", "n", "o"],  # varies within b
})


def test_sequences_sort_each_entity_by_order_and_never_pair_across_entities() -> None:
    seq = S.sequences(HAND, ["pid"], "day")
    assert seq.frame["day"].tolist() == [0, 5, 10, 0, 7, 0]
    assert seq.codes.tolist() == [0, 0, 0, 1, 1, 2] and seq.entities == 3
    assert seq.pair.tolist() == [True, True, False, True, False]
    assert seq.lengths().tolist() == [3, 2, 1]
    assert S.gaps(seq, "day").tolist() == [5.0, 5.0, 7.0]


def test_change_and_autocorrelation_by_hand() -> None:
    seq = S.sequences(HAND, ["pid"], "day")
    # pairs in time order: (1,2), (2,3), (10,11)
    assert S.mean_abs_change(seq, "x") == (pytest.approx(1.0), 3)
    r, n = S.lag1_autocorrelation(seq, "x")
    assert n == 3 and r == pytest.approx(np.corrcoef([1, 2, 10], [2, 3, 11])[0, 1])
    share, pairs = S.change_share(seq, "cat")  # p→p? no: day order is p(0), q(5), p(10) for a; r→r for b
    assert pairs == 3 and share == pytest.approx(2 / 3)


def test_constant_shares_count_entities_with_two_rows_or_more() -> None:
    shares, counted = S.constant_shares(HAND, ["pid"], ["const", "cat"])
    assert counted == 2  # c has one row: constant by construction, left out
    assert shares == {"const": 0.5, "cat": 0.5}
    assert S.entity_level_columns({"a": 0.995, "b": 0.98, "c": None}) == ["a"]


def test_ordering_reads_rows_as_written() -> None:
    o = S.ordering(HAND, ["pid"], "day")
    assert (o.entities, o.ordered, o.contiguous) == (3, 2, 3)
    interleaved = HAND.iloc[[1, 3, 2, 4, 0, 5]]  # a: 0, 5, 10 in order but split by b's rows
    o = S.ordering(interleaved, ["pid"], "day")
    assert (o.ordered, o.contiguous) == (3, 1)
    with_null = pd.DataFrame({"pid": ["a"] * 3, "day": [1.0, np.nan, 2.0]})
    assert S.ordering(with_null, ["pid"], "day").ordered == 1  # a null is skipped, not a step back
    back_after_null = pd.DataFrame({"pid": ["a"] * 3, "day": [5.0, np.nan, 2.0]})
    assert S.ordering(back_after_null, ["pid"], "day").ordered == 0


def test_composite_keys_and_null_keys_name_entities() -> None:
    df = pd.DataFrame({"k1": ["a", "a", None, None], "k2": [1, 2, 1, 1]})
    assert S.entity_codes(df, ["k1", "k2"]).tolist() == [0, 1, 2, 2]


def test_length_histogram_uses_the_shared_integer_support() -> None:
    h = S.length_histogram(np.array([1, 2, 2]), np.array([2, 2, 2, 3]))
    assert h.labels == ["1", "2", "3"]
    assert h.real.tolist() == [1, 2, 0] and h.synthetic.tolist() == [0, 3, 1]
    assert h.js == pytest.approx(jensenshannon([1 / 3, 2 / 3, 0], [0, 3 / 4, 1 / 4], base=2))
    assert S.length_histogram(np.array([1, 4]), np.array([1, 4])).js == 0.0
    wide = S.length_histogram(np.array([1, 100]), np.array([200]))
    assert len(wide.labels) == S.LENGTH_BINS and wide.real.sum() == 2


def test_gap_histogram_bins_at_real_quantiles() -> None:
    real = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    h = S.gap_histogram(real, real.copy(), bins=4)
    assert h.edges == [2.75, 4.5, 6.25] and h.real.tolist() == [2, 2, 2, 2] and h.js == 0.0
    assert h.labels == ["1–2.8", "2.8–4.5", "4.5–6.2", "6.2–8"]  # outer and null bins empty: dropped
    far = S.gap_histogram(real, np.array([0.5, 100.0, 200.0, np.nan]), bins=4)
    assert far.labels == ["< 1", "1–2.8", "2.8–4.5", "4.5–6.2", "6.2–8", "> 8", "(missing)"]
    assert far.real.tolist() == [0, 2, 2, 2, 2, 0, 0] and far.synthetic.tolist() == [1, 0, 0, 0, 0, 2, 1]
    assert far.js == 1.0  # disjoint: nothing inside the real range
    near = S.gap_histogram(real, np.array([1.0, 1.0, 8.0, 9.0]), bins=4)
    assert near.synthetic.tolist() == [2, 0, 0, 1, 1]  # ties at the real range's ends stay inside it
    assert near.js == pytest.approx(jensenshannon([2, 2, 2, 2, 0], [2, 0, 0, 1, 1], base=2))


# ------------------------------------------------------------------------------------------- the metrics


def test_identical_tables_score_ten_and_js_zero() -> None:
    real = visits(120, 0)
    ctx = grouped(real, real.copy())
    for cls in (SequenceRows, SequenceGaps, SequenceAutocorrelation, SequenceChange, SequenceEntityColumns,
                SequenceOrder):
        res = cls().compute(ctx)
        assert res.score == pytest.approx(10.0), cls.name
    assert SequenceRows().compute(ctx).statistic["jsDistance"] == 0.0
    assert SequenceGaps().compute(ctx).statistic["jsDistance"] == 0.0


def test_fresh_keys_do_not_matter() -> None:
    real = visits(80, 0)
    fresh = real.assign(pid=real["pid"].map({k: f"S-{i}" for i, k in enumerate(real["pid"].unique())}))
    ctx = grouped(real, fresh)
    assert SequenceRows().compute(ctx).statistic["jsDistance"] == 0.0
    assert SequenceOrder().compute(ctx).score == 10.0


def test_rows_shuffled_within_entities_fail_ordering_only() -> None:
    real = visits(150, 0)
    ctx = grouped(real, shuffle_within_entities(real, 1))
    order = SequenceOrder().compute(ctx)
    multi = (real.groupby("pid").size() >= 2).mean()
    assert order.statistic["orderedShare"] < 1 - 0.5 * multi and order.score < 7.0
    assert order.statistic["contiguousShare"] == 1.0 and order.statistic["realOrderedShare"] == 1.0
    # the other statistics read rows in time order, so shuffling inside an entity changes none of them
    assert SequenceGaps().compute(ctx).statistic["jsDistance"] == 0.0
    assert SequenceAutocorrelation().compute(ctx).score == pytest.approx(10.0)


def test_an_entity_level_column_that_varies_lowers_the_constant_share() -> None:
    real = visits(150, 0)
    r = np.random.default_rng(3)
    broken = real.assign(sex=r.choice(["f", "m"], len(real)))
    res = SequenceEntityColumns().compute(grouped(real, broken))
    assert set(res.statistic["entityLevelColumns"]) == {"sex", "dob"}  # stage moves, lab varies
    assert res.statistic["syntheticConstantShare"]["dob"] == 1.0
    assert res.statistic["syntheticConstantShare"]["sex"] < 0.4
    assert res.statistic["minSyntheticConstantShare"] < 0.4 and res.score < 7.5
    rows = {d["column"]: d for d in res.details}
    assert rows["lab"]["entityLevel"] is False and rows["lab"]["realConstantShare"] < 0.1


def test_independent_rows_lose_autocorrelation_and_change_too_much() -> None:
    real = visits(150, 0)
    r = np.random.default_rng(4)
    independent = pd.DataFrame({c: real[c].to_numpy()[r.permutation(len(real))] for c in real.columns})
    ctx = grouped(real, independent)
    ac = SequenceAutocorrelation().compute(ctx)
    assert ac.statistic["real"]["lab"] > 0.8 and abs(ac.statistic["synthetic"]["lab"]) < 0.3
    assert ac.statistic["absDifference"]["lab"] > 0.5 and ac.score < 3.0
    ch = SequenceChange().compute(ctx)
    assert ch.statistic["numericRatio"]["lab"] > 3  # neighbours are strangers now
    assert ch.statistic["changeShareReal"]["sex"] == 0.0 and ch.statistic["changeShareSynthetic"]["sex"] > 0.3
    assert ch.score < 6.0
    assert SequenceOrder().compute(ctx).score < 5.0


def test_rows_per_entity_and_gaps_see_a_different_shape() -> None:
    real = visits(200, 0)
    singles = real.groupby("pid", sort=False).head(1)  # every entity one row: no gaps at all
    res = SequenceRows().compute(grouped(real, singles))
    assert res.statistic["syntheticMaxRows"] == 1 and res.statistic["jsDistance"] > 0.5 and res.score < 5.0
    daily = real.assign(day=real.groupby("pid").cumcount())  # visits one day apart
    gaps = SequenceGaps().compute(grouped(real, daily))
    assert gaps.statistic["syntheticMedianGap"] == 1.0 and gaps.statistic["jsDistance"] > 0.9


def test_membership_attack_catches_a_verbatim_copy_of_training_entities() -> None:
    pop = visits(400, 0)
    ids = pop["pid"].unique()
    hold_ids = set(ids[:100])
    train = pop[~pop["pid"].isin(hold_ids)].reset_index(drop=True)
    hold = pop[pop["pid"].isin(hold_ids)].reset_index(drop=True)
    copy = SequenceMembership().compute(grouped(train, train.copy(), hold))
    assert copy.statistic["auc"] > 0.9 and copy.statistic["tprAt1PctFpr"] > 0.5 and copy.score < 2.0
    assert copy.params["members"] == copy.params["nonMembers"] == 100
    assert {"sex", "dob"} <= set(copy.params["entityLevelColumns"])
    fresh = SequenceMembership().compute(grouped(train, visits(300, 9, prefix="S"), hold))
    assert 0.35 < fresh.statistic["auc"] < 0.65 and fresh.score > 6.0
    assert not any("share a key" in n for n in fresh.notes)


def test_membership_notes_a_split_that_was_not_by_entity() -> None:
    pop = visits(300, 0)
    train, hold = pop.iloc[200:].reset_index(drop=True), pop.iloc[:200].reset_index(drop=True)  # may cut an entity
    res = SequenceMembership().compute(grouped(train, train.copy(), hold))
    shared = set(train["pid"]) & set(hold["pid"])
    assert bool(shared) == any("share a key" in n for n in res.notes)


def test_not_applicable_without_group_by_or_order_by() -> None:
    real = visits(40, 0)
    plain = context(real, real.copy())
    for cls in SEQUENCE_METRICS:
        with pytest.raises(NotApplicable, match="groupBy"):
            cls().compute(plain)
    unordered = grouped(real, real.copy(), order_by=None)
    for cls in (SequenceGaps, SequenceOrder):
        with pytest.raises(NotApplicable, match="orderBy"):
            cls().compute(unordered)
    assert SequenceRows().compute(unordered).score == 10.0  # needs only the keys
    with pytest.raises(NotApplicable, match="holdout"):
        SequenceMembership().compute(grouped(real, real.copy()))
    with pytest.raises(NotApplicable, match="not in the evaluated table"):
        SequenceRows().compute(grouped(real, real.copy(), group_by=("nope",)))


@pytest.mark.parametrize("case", ["ordinary", "empty_synthetic", "single_rows", "constant", "null_keys"])
def test_every_sequence_metric_returns_a_result(case: str) -> None:
    pop = visits(160, 0)
    ids = set(pop["pid"].unique()[:40])
    train, hold = pop[~pop["pid"].isin(ids)], pop[pop["pid"].isin(ids)]
    syn = visits(120, 1, prefix="S")
    if case == "empty_synthetic":
        syn = syn.iloc[:0]
    if case == "single_rows":
        syn = syn.groupby("pid").head(1)
    if case == "constant":
        syn = syn.assign(lab=5.0, stage=1, day=0)
    if case == "null_keys":
        syn = syn.assign(pid=None)
    ctx = grouped(train, syn, hold)
    for cls in SEQUENCE_METRICS:
        res = run_metric(cls(), ctx)
        assert res.name == cls.name and res.group is Group.SEQUENCES
        if res.ok:
            assert cls.min_value <= res.score <= cls.max_value, (cls.name, res.score)
        else:
            assert res.reason and math.isnan(res.score), cls.name
            assert res.status.value == "notApplicable", (cls.name, res.reason)
        if case == "ordinary":
            assert res.ok, (cls.name, res.reason)


def test_registry_runs_sequence_metrics_only_for_grouped_tables() -> None:
    names = {cls.name for cls in SEQUENCE_METRICS}
    assert len(names) == 7 and names <= set(by_name())
    assert not names & {m.name for m in all_metrics()}
    assert names <= {m.name for m in all_metrics(grouped=True)}


@pytest.mark.slow  # a whole evaluation: ≥ 2 s on 2 cores
def test_evaluate_runs_the_sequence_group_and_treats_keys_as_identifiers() -> None:
    from safesynth.metrics.columns import Kind
    from safesynth.metrics.context import EvalOptions
    from safesynth.metrics.evaluation import evaluate

    pop = visits(120, 0)
    ids = set(pop["pid"].unique()[:30])
    train, hold = pop[~pop["pid"].isin(ids)], pop[pop["pid"].isin(ids)]
    syn = visits(90, 2, prefix="S")  # fresh keys
    ev = evaluate(train, syn, hold, options=EvalOptions(max_rows=500, group_by=KEY, order_by=DAY))
    assert {cls.name for cls in SEQUENCE_METRICS} <= set(ev.results)
    assert all(ev.results[cls.name].ok for cls in SEQUENCE_METRICS)
    assert ev.kinds["pid"] is Kind.IDENTIFIER  # fresh keys are never compared as values
    dist = {d["column"] for d in ev.results["column_distribution"].details}
    assert "pid" not in dist and "lab" in dist
    doc = ev.to_json()
    assert doc["options"]["groupBy"] == ["pid"] and doc["options"]["orderBy"] == "day"
    assert doc["metrics"]["sequence_order"]["group"] == "sequences"
    key_row = next(c for c in doc["columns"] if c["column"] == "pid")
    assert "entity key" in key_row["excluded"]
    plain = evaluate(train, syn, hold, options=EvalOptions(max_rows=500))
    assert not any(r.group is Group.SEQUENCES for r in plain.results.values())
    assert plain.to_json()["options"]["groupBy"] == []
