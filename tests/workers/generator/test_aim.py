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


def test_decode_writes_no_null_in_a_column_that_cannot_be_null() -> None:
    cols = [ColumnInfo("_ss_pos", "integer", "int64", minimum=0, maximum=3, nullable=False),
            ColumnInfo("group", "categorical", "object", categories=["a", "b"], nullable=False),
            ColumnInfo("age", "integer", "Int64", minimum=0, maximum=9)]
    attrs = aim.discretize(cols)
    idx = {"_ss_pos": np.array([4, 0, 4, 1, 1, 4]), "group": np.array([2, 2, 0, 2, 0, 0]),
           "age": np.array([10, 3, 10, 10, 1, 2])}  # the last bucket is null
    frame = pd.DataFrame(aim.decode(idx, attrs, cols, seed=0), columns=[c.name for c in cols])
    assert frame["_ss_pos"].notna().all() and set(frame["_ss_pos"]) <= {"0", "1"}  # the sample's own buckets
    assert frame["group"].tolist() == ["a"] * 6 and frame["age"].isna().sum() == 3  # nullable: nulls kept


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
    monkeypatch.setattr(aim, "REFINE_SHARE", 0.1)  # within-bin histograms on, whatever the default
    rng = np.random.default_rng(0)
    n = 2000
    a = rng.choice(["a", "b"], n)
    df = pd.DataFrame({"group": a, "age": np.where(a == "a", rng.integers(0, 3, n), rng.integers(6, 10, n)),
                       "score": rng.uniform(0, 100, n)})
    cols = [c for c in columns() if c.name in df.columns]
    rho = zcdp.rho_for(8.0, 1e-5)
    releases: list[tuple[str, float]] = []  # every call of a mechanism on the data, in order
    gaussian, select = zcdp.gaussian_counts, zcdp.select_index

    def gaussian_spy(counts, sigma):  # type: ignore[no-untyped-def]
        releases.append(("gaussian", sigma))
        return gaussian(counts, sigma)

    def select_spy(scores, eps, sensitivity):  # type: ignore[no-untyped-def]
        releases.append(("select", eps))
        return select(scores, eps, sensitivity)

    monkeypatch.setattr(zcdp, "gaussian_counts", gaussian_spy)
    monkeypatch.setattr(zcdp, "select_index", select_spy)
    res = aim.fit(df, cols, rho, n)
    assert aim.rho_spent(res.rounds) == pytest.approx(rho, rel=1e-9)  # all of it, never more
    assert zcdp.opendp_epsilon_of(aim.rho_spent(res.rounds), 1e-5) <= 8.0 + 1e-9
    # every release is in the ledger: a Gaussian measurement or a selection without its Round fails here
    recorded = [("select", r.select_epsilon) for r in res.rounds if r.select_epsilon > 0]
    assert sorted(s for k, s in releases if k == "gaussian") == sorted(r.sigma for r in res.rounds)
    assert [e for k, e in releases if k == "select"] == [e for _, e in recorded]
    fine_rounds = [r for r in res.rounds if r.refine_level]
    aim_rounds = [r for r in res.rounds if not r.refine_level]
    assert fine_rounds, "the score bins are refined (~100 rows each clear the threshold at epsilon 8)"
    assert all(r.select_epsilon == 0 and r.to_json()["refineLevel"] == r.refine_level for r in fine_rounds)
    assert sum(len(a.fine) for a in res.attrs) == len(fine_rounds)
    assert len(res.measurements) == len(aim_rounds) >= 4  # three one-way marginals and at least one selected
    assert [r.clique for r in aim_rounds[:3]] == [("group",), ("age",), ("score",)]
    assert all(r.select_epsilon == 0 for r in aim_rounds[:3]) and all(r.select_epsilon > 0 for r in aim_rounds[3:])
    T = aim.ROUNDS_PER_COLUMN * 3
    assert res.rounds[0].sigma == pytest.approx(math.sqrt(T / (2 * aim.ALPHA * rho)))
    for (clique, y, sigma), r in zip(res.measurements, aim_rounds):
        assert y.size == math.prod(a.size for a in res.attrs if a.name in clique) and sigma == r.sigma
    manifest, arrays = aim.save_model(res)
    attrs, model = aim.load_model(manifest, arrays)
    assert [a.to_json() for a in attrs] == [a.to_json() for a in res.attrs]
    for a, b in zip(attrs, res.attrs):
        assert len(a.fine) == len(b.fine) and all(np.array_equal(x, y) for x, y in zip(a.fine, b.fine))
    sample, again = aim.sample_indices(model, 50, seed=3), aim.sample_indices(model, 50, seed=3)
    assert all(np.array_equal(sample[k], again[k]) for k in sample)  # sampling is seeded post-processing


# ------------------------------------------------------------------ within-bin refinement


def gains() -> aim.Attribute:
    edges = [float(e) for e in np.arange(0, 100_001, 5000)]
    return aim.Attribute("gain", "integer", [f"bin{i}" for i in range(20)] + [aim.NULL], edges)


def test_refinement_levels_are_public_and_stop_at_the_resolution() -> None:
    assert aim.planned_levels(gains()) == 4  # 5000 -> 313 -> 20 -> 2 -> 1
    assert aim.planned_levels(aim.Attribute("a", "integer", [], [0.0, 6.0, 12.0])) == 1  # one cell per integer
    assert aim.planned_levels(aim.Attribute("s", "float", [], [0.0, 2.5, 5.0])) == 2  # 2.5 -> 0.16 -> 0.01
    assert aim.planned_levels(aim.Attribute("g", "categorical", ["a", aim.NULL])) == 0
    assert aim.split(0.0, 6.0, 1.0).tolist() == [0, 1, 2, 3, 4, 5, 6]


def test_refine_books_every_measurement_and_places_the_point_mass() -> None:
    n = 4000
    x = np.where(np.arange(n) < 3600, 0.0, 7_000.0 + np.arange(n) % 50)  # 90% exactly 0
    a = gains()
    one_way = np.zeros(21)
    one_way[0], one_way[1] = 3600.0, 400.0
    res = aim.AimResult([a], None, [(("gain",), one_way, 1.0)], rho_budget=0.1, total=n)
    spent = aim.refine(res, {"gain": x}, 0.1)
    fine = [r for r in res.rounds if r.refine_level]
    assert spent == pytest.approx(aim.rho_spent(fine)) and spent <= 0.1 * (1 + 1e-12)
    assert [r.refine_level for r in fine] == list(range(1, len(a.fine) + 1)) and len(a.fine) == 4
    assert all(r.sigma == pytest.approx(zcdp.sigma_for(0.1 / 4)) for r in fine)
    out = aim._place(a, np.zeros(1000, dtype=np.int64), np.random.default_rng(0))
    assert np.mean(np.floor(out) == 0) > 0.8  # uniform in the bin would give 1 in 5000


def test_a_mass_at_the_upper_bound_of_a_float_stays_there() -> None:
    edges = [float(e) for e in np.linspace(0.0, 45.0, 21)]
    a = aim.Attribute("ct", "float", [f"bin{i}" for i in range(20)] + [aim.NULL], edges)
    x = np.where(np.arange(2000) < 1800, 45.0, 30.0 + (np.arange(2000) % 7))
    one_way = np.bincount(np.clip(np.searchsorted(edges, x, side="right") - 1, 0, 19), minlength=21).astype(float)
    res = aim.AimResult([a], None, [(("ct",), one_way, 1.0)], total=2000)
    assert aim.refine(res, {"ct": x}, 1.0) > 0
    out = aim._place(a, np.full(500, 19), np.random.default_rng(1))
    assert np.mean(np.round(out, 2) == 45.0) > 0.95  # not spread over [42.75, 45)


def test_refine_spends_nothing_where_noise_would_swamp_the_counts() -> None:
    a = gains()
    res = aim.AimResult([a], None, [(("gain",), np.full(21, 3.0), 1.0)], total=60)
    assert aim.refine(res, {"gain": np.zeros(60)}, 1e-4) == 0.0
    assert not res.rounds and a.fine == []
    out = aim._place(a, np.full(200, 3), np.random.default_rng(0))  # unrefined: uniform within the bin
    assert out.min() >= 15_000 and out.max() < 20_000 and np.ptp(out) > 1000


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


@pytest.mark.parametrize(("requested", "route"), [("auto", "lm"), ("lm", "lm"), ("hybrid", "hybrid")])
def test_grouped_records_route_lm_unless_hybrid_is_asked_for(requested: str, route: str) -> None:
    # without free text auto would pick marginal for a table; an entity's rows need the language model
    assert choose_route(requested, 2000, 8.0, ["categorical", "integer"], grouped=True)[0] == route


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


# ------------------------------------------------------------------ entities: a unit of up to `contribution` rows


def entity_table(entities: int = 1000, most: int = 3, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(rows, each row's entity): entities of 1..`most` rows that mostly repeat their values (a patient's
    visits), so one entity can put all its rows in one cell of a marginal."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, most + 1, entities)
    owner = np.repeat(np.arange(entities), sizes)
    group = rng.choice(["a", "b"], entities)[owner]
    age = rng.integers(0, 10, entities)[owner]
    score = np.round(rng.uniform(3, 12, entities)[owner] + rng.normal(0, 1, len(owner)).clip(-3, 3), 2)  # 3 bins
    df = pd.DataFrame({"group": group, "age": age, "score": score.clip(0, 100)})
    return df, owner


ENTITY_ROUNDS = 2


@pytest.fixture(scope="module")
def entity_fits() -> dict[int, tuple[aim.AimResult, float]]:
    """aim.fit on `entity_table` at contribution 1 and 3 (the largest entity), a few rounds each."""
    mp = pytest.MonkeyPatch()
    mp.setattr(aim, "ROUNDS_PER_COLUMN", ENTITY_ROUNDS)  # a few rounds: each compiles a new JAX program
    mp.setattr(aim, "REFINE_SHARE", 0.1)  # within-bin histograms on, whatever the default
    df, _ = entity_table()
    cols = [c for c in columns() if c.name in df.columns]
    rho = zcdp.rho_for(8.0, 1e-5)
    try:
        return {k: (aim.fit(df, cols, rho, len(df), contribution=k), rho) for k in (1, 3)}
    finally:
        mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3])
def test_contribution_scales_every_sensitivity_and_keeps_the_budget(
        entity_fits: dict[int, tuple[aim.AimResult, float]], k: int) -> None:
    res, rho = entity_fits[k]
    assert res.contribution == k
    assert aim.rho_spent(res.rounds) == pytest.approx(rho, abs=1e-9)  # all of it, never more
    assert aim.rho_spent(res.rounds) <= rho * (1 + 1e-12)
    weights = aim.candidates(aim.workload(res.attrs))
    for r in res.rounds:
        assert r.sensitivity == k
        # k rows per unit at noise sigma cost what one row costs at sigma / k
        assert zcdp.gaussian_rho(r.sigma, r.sensitivity) == pytest.approx(zcdp.gaussian_rho(r.sigma / k), rel=1e-12)
        assert zcdp.opendp_gaussian_rho(r.sigma, r.sensitivity) == pytest.approx(r.rho - r.select_epsilon**2 / 8)
        if r.select_epsilon > 0:
            assert r.select_sensitivity == k * max(weights.values())
    assert any(r.refine_level for r in res.rounds) and any(r.select_epsilon > 0 for r in res.rounds)
    # the round log alone (its JSON, as saved with the model) gives the same total
    logged = [r.to_json() for r in res.rounds]
    again = sum(j["sensitivity"] ** 2 / (2 * j["sigma"] ** 2) + j["selectEpsilon"] ** 2 / 8 for j in logged)
    assert again == pytest.approx(rho, abs=1e-9)
    T = ENTITY_ROUNDS * 3
    assert res.rounds[0].sigma == pytest.approx(k * math.sqrt(T / (2 * aim.ALPHA * rho)))  # same schedule, k x noise
    for (_, _, sigma), r in zip(res.measurements, [r for r in res.rounds if not r.refine_level]):
        assert sigma == r.sigma  # the estimator weighs each measurement by the noise it really has


@pytest.mark.slow
def test_removing_one_entity_moves_every_measured_marginal_within_the_recorded_sensitivity(
        entity_fits: dict[int, tuple[aim.AimResult, float]]) -> None:
    """Neighbouring datasets at entity level: D and D minus one whole entity, for every entity of the table."""
    df, owner = entity_table()
    res, _ = entity_fits[3]
    cols = [c for c in columns() if c.name in df.columns]
    enc = aim.encode(df, res.attrs, cols)
    sizes = {a.name: a.size for a in res.attrs}
    weights = aim.candidates(aim.workload(res.attrs))

    def cells(clique: tuple[str, ...]) -> np.ndarray:
        return np.ravel_multi_index(tuple(enc[c] for c in clique), tuple(sizes[c] for c in clique))

    measured = {r.clique: r for r in res.rounds if not r.refine_level}
    worst_l2 = 0.0
    for clique, r in measured.items():
        flat, m = cells(clique), math.prod(sizes[c] for c in clique)
        for e in range(int(owner.max()) + 1):  # M_r(D) - M_r(D - e): the counts of e's rows
            delta = np.bincount(flat[owner == e], minlength=m)
            worst_l2 = max(worst_l2, float(np.linalg.norm(delta)))
            assert np.linalg.norm(delta) <= r.sensitivity and delta.sum() <= r.sensitivity
    assert worst_l2 == 3.0  # tight: an entity of 3 identical rows; a per-row sensitivity (1) would be wrong here
    select_sens = {r.select_sensitivity for r in res.rounds if r.select_epsilon > 0}
    assert len(select_sens) == 1
    worst_score = 0.0  # |score(D) - score(D - e)| <= w_r ||M_r(D) - M_r(D - e)||_1 for any model answer
    for clique, w in weights.items():
        flat, m = cells(clique), math.prod(sizes[c] for c in clique)
        per_entity = np.array([np.bincount(flat[owner == e], minlength=m).sum() for e in range(int(owner.max()) + 1)])
        worst_score = max(worst_score, w * float(per_entity.max()))
    assert worst_score <= select_sens.pop()
