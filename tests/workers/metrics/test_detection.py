"""Detection: a classifier two-sample test finds broken relations that per-column scores miss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safesynth.metrics.base import run_metric
from safesynth.metrics.detection import Detection
from tests.workers.metrics.tables import context, population, shuffle_columns, split


def with_surnames(df: pd.DataFrame, seed: int, *, new_rare: bool = False) -> pd.DataFrame:
    """`df` plus a long-tailed free-form column: 2,000 names, Zipf-like (most of them rare).

    new_rare: names past the 30 most common are new strings, as a generator writes that invents
    plausible names instead of copying rare real ones.
    """
    r = np.random.default_rng(seed)
    k = np.arange(1, 2001)
    ranks = r.choice(k, len(df), p=k ** -1.1 / (k ** -1.1).sum())
    names = np.array([f"Name{x:04d}" for x in ranks], dtype=object)
    if new_rare:
        tail = ranks > 30
        names[tail] = [f"New{seed}-{i}" for i in range(int(tail.sum()))]
    return df.assign(surname=names)


@pytest.mark.slow
def test_shuffled_columns_are_detected_and_an_independent_draw_is_not() -> None:
    train, hold = split(population(900, 0), 300)
    shuffled = run_metric(Detection(), context(train, shuffle_columns(train, 1), hold, seed=3))
    fresh = run_metric(Detection(), context(train, population(600, 9), hold, seed=3))
    assert shuffled.ok and fresh.ok
    assert shuffled.statistic["auc"] > 0.75 and shuffled.score < 5.0
    assert fresh.statistic["auc"] < 0.6 and fresh.score > 8.0
    assert fresh.statistic["realVsRealAuc"] < 0.6  # the floor: two real samples
    again = run_metric(Detection(), context(train, population(600, 9), hold, seed=3))
    assert again.statistic == fresh.statistic  # seeded


def test_without_holdout_there_is_no_floor_and_it_says_so() -> None:
    real = population(300, 0)
    res = run_metric(Detection(), context(real, population(300, 1), None))
    assert res.ok and res.statistic["realVsRealAuc"] is None and any("holdout" in n for n in res.notes)


@pytest.mark.slow
def test_rare_values_are_compared_by_how_often_they_occur_not_by_which_string_they_are() -> None:
    # Run: real rows with a long-tailed name column; an independent draw from the same population
    # whose rare names are new strings (what a generator that does not copy writes), and the
    # real rows with every column shuffled.
    train, hold = split(with_surnames(population(1500, 0), 100), 300)
    new_names = run_metric(Detection(), context(train, with_surnames(population(1200, 9), 109, new_rare=True),
                                                hold, seed=3))
    shuffled = run_metric(Detection(), context(train, shuffle_columns(train, 1), hold, seed=3))
    # Assert: coded one label at a time, every rare real name against every new one told the
    # tables apart (AUC 0.645, score 7.1); pooled, the new names read like the real tail
    assert new_names.ok and shuffled.ok
    assert new_names.statistic["auc"] < 0.56 and new_names.score > 8.5
    assert new_names.params["minLabelRows"] == 20
    assert shuffled.statistic["auc"] > 0.75 and shuffled.score < 5.0  # broken relations still show


def test_an_invented_category_is_still_told_apart() -> None:
    # Pooling puts an unseen label in OTHER; where every real label is frequent, only synthetic
    # rows land there.
    real, syn = population(300, 0), population(300, 1)
    plain = run_metric(Detection(), context(real, syn, None))
    syn.loc[syn.index % 3 == 0, "group"] = "d"  # a third of the rows: AUC about 0.5 + 1/6 at best
    invented = run_metric(Detection(), context(real, syn, None))
    assert plain.ok and invented.ok
    assert plain.statistic["auc"] < 0.58 and invented.statistic["auc"] > 0.62


def test_grouped_records_are_folded_by_entity_so_entities_are_not_memorised() -> None:
    from safesynth.metrics.columns import Kind
    from safesynth.metrics.detection import detection_auc

    rng = np.random.default_rng(3)

    def patients(n: int, first_key: int) -> pd.DataFrame:
        """Same population on both sides: an exact per-patient age repeated on each of its 6 visits."""
        ages = rng.uniform(20, 80, n)
        rows = [{"key": first_key + i, "age": ages[i], "lab": rng.normal(ages[i] / 10, 1)}
                for i in range(n) for _ in range(6)]
        return pd.DataFrame(rows)

    a, b = patients(150, 0), patients(150, 10_000)
    kinds = {"age": Kind.NUMERIC, "lab": Kind.NUMERIC}
    by_row = detection_auc(a, b, ["age", "lab"], kinds, seed=0)
    by_entity = detection_auc(a, b, ["age", "lab"], kinds, seed=0, keys=["key"])
    assert by_row > 0.8  # random folds: the trees recognise each patient's exact age
    assert abs(by_entity - 0.5) < 0.1  # whole patients per fold: two samples of one population
