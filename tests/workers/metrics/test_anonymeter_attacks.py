"""Anonymeter's singling-out, linkability and inference attacks, through our metrics (one class per module)."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.metrics.anonymeter_inference import AnonymeterInference
from safesynth.metrics.anonymeter_inputs import attack_tables, pinned_global_rng
from safesynth.metrics.base import NotApplicable, Status, run_metric
from safesynth.metrics.linkability import Linkability, split_columns
from safesynth.metrics.singling_out import SinglingOut
from tests.workers.metrics.tables import context, population, split

pytestmark = pytest.mark.slow  # each attack runs Anonymeter (numba compiles its k-NN on first use)


@pytest.fixture(scope="module")
def tables():  # type: ignore[no-untyped-def]
    train, hold = split(population(1400, 0), 400)
    return train, hold, population(1000, 9)


def test_inputs_are_equal_size_seeded_and_encoded(tables) -> None:  # type: ignore[no-untyped-def]
    train, hold, fresh = tables
    t = attack_tables(context(train, fresh, hold), max_original=300, max_synthetic=500)
    assert len(t.main) == len(t.control) == 300 and len(t.synthetic) == 500  # main and control on equal footing
    assert "id" not in t.columns and {"age", "visit"} <= t.continuous  # identifiers out; dates as numbers
    assert t.main["visit"].dtype == float and t.main["group"].dtype == object
    again = attack_tables(context(train, fresh, hold), max_original=300, max_synthetic=500)
    assert t.main.equals(again.main) and t.synthetic.equals(again.synthetic)
    with pytest.raises(NotApplicable):
        attack_tables(context(train, fresh, None))


def test_pinned_rng_restores_the_global_state() -> None:
    np.random.seed(5)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    with pinned_global_rng(1, "x"):
        a = np.random.random()
    with pinned_global_rng(1, "x"):
        assert np.random.random() == a
    assert (np.random.get_state()[1] == before).all()  # type: ignore[index]


@pytest.mark.parametrize("metric", [SinglingOut, Linkability, AnonymeterInference])
def test_copy_is_a_risk_a_fresh_sample_is_not(metric: type, tables) -> None:  # type: ignore[no-untyped-def]
    train, hold, fresh = tables
    copy = metric().compute(context(train, train.copy(), hold))
    drawn = metric().compute(context(train, fresh, hold))
    key = "risk" if metric is Linkability else "maxRisk"
    assert copy.statistic[key] > 0.3 and copy.score < 5.0
    lo, hi = drawn.statistic["riskInterval"]
    assert lo <= 0.05 and drawn.statistic[key] < 0.12 and drawn.score > 7.5
    assert lo <= drawn.statistic[key] <= hi


def test_same_tables_and_seed_give_the_same_risks(tables) -> None:  # type: ignore[no-untyped-def]
    train, hold, fresh = tables
    for metric in (SinglingOut, Linkability, AnonymeterInference):
        a = metric().compute(context(train, fresh, hold, seed=3))
        b = metric().compute(context(train, fresh, hold, seed=3))
        assert a.statistic == b.statistic and a.details == b.details


def test_singling_out_reports_both_modes_and_no_holdout_is_not_applicable(tables) -> None:  # type: ignore[no-untyped-def]
    train, hold, fresh = tables
    res = SinglingOut().compute(context(train, train.copy(), hold))
    assert [r["mode"] for r in res.details] == ["univariate", "multivariate"]
    assert res.statistic["maxRisk"] == max(res.statistic["univariateRisk"], res.statistic["multivariateRisk"])
    out = run_metric(SinglingOut(), context(train, fresh, None))
    assert out.status is Status.NOT_APPLICABLE and "holdout" in (out.reason or "")


def test_linkability_splits_columns_alternately() -> None:
    assert split_columns(["a", "b", "c", "d", "e"]) == (["a", "c", "e"], ["b", "d"])


def test_a_larger_training_table_is_not_read_as_singling_out() -> None:
    """Null: synthetic rows drawn from the population, never from training. Anonymeter's documented use
    (1,800 training vs 200 control rows) scores this ~0.2; equal-size samples must not."""
    train, hold = split(population(2000, 0), 200)
    res = SinglingOut().compute(context(train, population(1800, 7), hold))
    assert res.params["trainingRows"] == res.params["controlRows"] == 200
    assert res.statistic["maxRisk"] < 0.1 and res.statistic["riskInterval"][0] <= 0.02
