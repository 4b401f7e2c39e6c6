"""The marginal DP core: zCDP conversion against OpenDP, the public discretization, AIM's ledger, the route rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from safesynth.generator import aim, zcdp
from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.dp import plan_budget
from safesynth.generator.route import HYBRID_MIN_ROW_EPSILON, choose_route
from safesynth.spec.models import PrivacySpec


# ------------------------------------------------------------------ zCDP accounting


@pytest.mark.parametrize(("rho", "delta"), [(0.01, 1e-5), (0.125, 1e-5), (0.5, 1e-6), (3.0, 5e-6)])
def test_rho_to_epsilon_matches_opendp_conversion(rho: float, delta: float) -> None:
    ours = zcdp.epsilon_of(rho, delta)
    assert ours == pytest.approx(zcdp.opendp_epsilon_of(rho, delta), rel=1e-9)
    assert ours < rho + 2 * math.sqrt(rho * math.log(1 / delta))  # tighter than Bun & Steinke's bound


@pytest.mark.parametrize(("eps", "delta"), [(1.0, 1e-5), (8.0, 1e-5), (0.3, 1e-6)])
def test_rho_for_is_the_inverse_and_never_overspends(eps: float, delta: float) -> None:
    rho = zcdp.rho_for(eps, delta)
    assert zcdp.opendp_epsilon_of(rho, delta) <= eps * (1 + 1e-9)
    assert zcdp.epsilon_of(rho * 1.001, delta) > eps  # and it is the largest such rho


def test_mechanism_rho_comes_from_opendp_privacy_maps() -> None:
    assert zcdp.opendp_gaussian_rho(3.0) == pytest.approx(zcdp.gaussian_rho(3.0)) == pytest.approx(1 / 18)
    assert zcdp.select_rho(0.4, 2.0) == pytest.approx(0.4**2 / 8)  # exponential mechanism: eps^2/8 at any sensitivity
    noisy = zcdp.gaussian_counts([5, 0, 7], 1e-3)
    assert noisy.tolist() == [5.0, 0.0, 7.0]  # integer output, centred on the counts
    assert zcdp.select_index([0.0, 1e6, 0.0], 1.0, 1.0) == 1


# ------------------------------------------------------------------ discretization


def columns() -> list[ColumnInfo]:
    return [
        ColumnInfo("group", "categorical", "object", categories=["a", "b"]),  # declared
        ColumnInfo("city", "categorical", "object", categories=["x"], extra={"released": {"categories": ["x"]}}),
        ColumnInfo("age", "integer", "Int64", minimum=0, maximum=9),
        ColumnInfo("score", "float", "float64", minimum=0.0, maximum=100.0),
        ColumnInfo("note", "text", "object"),
        ColumnInfo("pid", "identifier", "object"),
    ]


def test_discretization_reads_only_public_column_facts() -> None:
    attrs = {a.name: a for a in aim.discretize(columns())}
    assert "pid" not in attrs
    assert attrs["group"].labels == ["a", "b", aim.NULL]  # declared list: no unlisted bucket
    assert attrs["city"].labels == ["x", aim.UNLISTED, aim.NULL]  # released list may be partial
    assert attrs["age"].size == 11 and attrs["age"].edges == [float(k) for k in range(11)]  # one bin per integer
    assert attrs["score"].size == aim.NUMBER_BINS + 1 and attrs["score"].edges[0] == 0 and attrs["score"].edges[-1] == 100
    assert attrs["note"].labels == [aim.PRESENT, aim.NULL]


def test_encode_buckets_nulls_unlisted_and_out_of_range_values() -> None:
    cols = columns()
    attrs = aim.discretize(cols)
    df = pd.DataFrame({"group": ["a", None, "zz"], "city": ["x", "y", None], "age": [3, 250, None],
                       "score": [50.0, -1.0, None], "note": ["hi", None, "yo"], "pid": ["1", "2", "3"]})
    enc = aim.encode(df, attrs, cols)
    assert enc["group"].tolist() == [0, 2, 2]  # a value outside a declared list counts as null
    assert enc["city"].tolist() == [0, 1, 2]
    assert enc["age"].tolist() == [3, 9, 10]  # clipped into the end bin; null bucket last
    assert enc["score"].tolist() == [10, 0, aim.NUMBER_BINS]
    assert enc["note"].tolist() == [0, 1, 0]


def test_decode_stays_inside_the_enforced_domain() -> None:
    cols = columns()
    attrs = aim.discretize(cols)
    rng = np.random.default_rng(0)
    idx = {a.name: rng.integers(0, a.size, 500) for a in attrs}
    rows = aim.decode(idx, attrs, cols, seed=1, text_fields={"note": ["t"] * 500})
    frame = pd.DataFrame(rows, columns=[c.name for c in cols if c.modeled])
    assert set(frame["group"].dropna()) <= {"a", "b"} and set(frame["city"].dropna()) == {"x"}
    ages = frame["age"].dropna().astype(int)
    assert ages.between(0, 9).all()
    assert frame["score"].dropna().astype(float).between(0, 100).all()
    assert frame["note"].isna().mean() == pytest.approx((idx["note"] == 1).mean())


def test_workload_and_weights() -> None:
    attrs = aim.discretize(columns())
    work = aim.workload(attrs)
    assert len(work) == math.comb(5, 2) + math.comb(5, 3)
    cands = aim.candidates([("a", "b"), ("b", "c")])
    assert cands[("b",)] == 2 and cands[("a", "b")] == 3 and cands[("a",)] == 1


# ------------------------------------------------------------------ AIM's ledger


@pytest.mark.slow
def test_aim_spends_exactly_its_rho_and_records_every_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aim, "ROUNDS_PER_COLUMN", 2)  # a few rounds: each compiles a new JAX program
    rng = np.random.default_rng(0)
    n = 400
    a = rng.choice(["a", "b"], n)
    df = pd.DataFrame({"group": a, "age": np.where(a == "a", rng.integers(0, 3, n), rng.integers(6, 10, n)),
                       "score": rng.uniform(0, 100, n)})
    cols = [c for c in columns() if c.name in df.columns]
    rho = zcdp.rho_for(1.0, 1e-5)
    res = aim.fit(df, cols, rho, n)
    assert aim.rho_spent(res.rounds) == pytest.approx(rho, rel=1e-9)  # all of it, never more
    assert zcdp.opendp_epsilon_of(aim.rho_spent(res.rounds), 1e-5) <= 1.0 + 1e-9
    assert len(res.measurements) == len(res.rounds) >= 4  # three one-way marginals and at least one selected
    assert [r.clique for r in res.rounds[:3]] == [("group",), ("age",), ("score",)]
    assert all(r.select_epsilon == 0 for r in res.rounds[:3]) and all(r.select_epsilon > 0 for r in res.rounds[3:])
    T = aim.ROUNDS_PER_COLUMN * 3
    assert res.rounds[0].sigma == pytest.approx(math.sqrt(T / (2 * aim.ALPHA * rho)))
    for (clique, y, sigma), r in zip(res.measurements, res.rounds):
        assert y.size == math.prod(a.size for a in res.attrs if a.name in clique) and sigma == r.sigma
    manifest, arrays = aim.save_model(res)
    attrs, model = aim.load_model(manifest, arrays)
    assert [a.to_json() for a in attrs] == [a.to_json() for a in res.attrs]
    sample, again = aim.sample_indices(model, 50, seed=3), aim.sample_indices(model, 50, seed=3)
    assert all(np.array_equal(sample[k], again[k]) for k in sample)  # sampling is seeded post-processing


# ------------------------------------------------------------------ route and budget


@pytest.mark.parametrize(("requested", "n", "eps", "kinds", "route"), [
    ("auto", 2000, 8.0, ["categorical", "integer"], "marginal"),
    ("auto", 100_000, 8.0, ["categorical", "integer"], "marginal"),
    ("auto", 1800, 8.0, ["categorical", "text"], "marginal"),
    ("auto", int(HYBRID_MIN_ROW_EPSILON), 1.0, ["categorical", "text"], "lm"),  # hybrid: opt-in until measured
    ("lm", 2000, 8.0, ["categorical"], "lm"),
    ("hybrid", 10, 1.0, ["integer"], "hybrid"),
    ("marginal", 10**6, 10.0, ["text"], "marginal"),
])
def test_route_decision_table(requested: str, n: int, eps: float, kinds: list[str], route: str) -> None:
    assert choose_route(requested, n, eps, kinds)[0] == route


def test_budget_plan_per_route() -> None:
    pv = PrivacySpec.model_validate({"enabled": True, "epsilon": 8.0, "schemaEpsilon": 1.0})
    cols = [ColumnInfo("city", "categorical"), ColumnInfo("age", "integer")]
    m = plan_budget(pv, 2000, cols, route="marginal")
    assert m.aim_epsilon == 7.0 and m.marginal_epsilon == 0 and m.train_epsilon == 0
    assert m.aim_delta + m.schema_delta == pytest.approx(m.delta) and m.train_delta == pytest.approx(0)
    assert zcdp.epsilon_of(m.aim_rho, m.aim_delta) == pytest.approx(7.0)
    h = plan_budget(pv, 2000, cols, route="hybrid")
    assert h.aim_epsilon == 3.5 and h.train_epsilon == pytest.approx(3.5) and h.marginal_epsilon == 0
    assert h.aim_delta == pytest.approx(h.train_delta) and h.aim_delta + h.train_delta + h.schema_delta == h.delta
    lm = plan_budget(pv, 2000, cols)
    assert lm.aim_epsilon == 0 and lm.marginal_epsilon == 1.0 and lm.route == "lm"


def test_dp_warnings_name_filler_text_and_empty_categories_only() -> None:
    from safesynth.generator.column_info import ColumnInfo
    from safesynth.generator.route import dp_warnings

    note = ColumnInfo("note", "text", "string")
    city = ColumnInfo("city", "categorical", "string")
    city.extra["released"] = {"categories": [], "covered": 0.0}
    sex = ColumnInfo("sex", "categorical", "string")
    sex.categories = ["female", "male"]
    sex.extra["released"] = {"categories": ["female", "male"], "covered": 1.0}
    gone = ColumnInfo("name", "empty", "string")  # refaked under DP: not modeled, no warning
    codes = {(w["column"], w["code"]) for w in dp_warnings([note, city, sex, gone], "marginal")}
    assert codes == {("note", "dpTextFiller"), ("city", "dpNoCategory")}
    assert {w["code"] for w in dp_warnings([note, city], "lm")} == {"dpNoCategory"}  # the LM learns text
