"""DP: budget split, DP schema release, and DP-SGD through opacus with Poisson sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from opacus.data_loader import DPDataLoader
from opacus.optimizers import DPOptimizer
from opacus.utils.uniform_sampler import UniformWithReplacementSampler
from transformers import LlamaForCausalLM

from safesynth.errors import PrivacyBudgetError
from safesynth.generator import dp, noise
from safesynth.generator import model as M
from safesynth.generator import training as T
from safesynth.generator.columns import ColumnInfo
from safesynth.progress import LogProgress
from safesynth.spec.models import PrivacySpec
from tests.workers.generator.helpers import KINDS, tiny_table


def privacy(**kw: object) -> PrivacySpec:
    return PrivacySpec.model_validate({"enabled": True, **kw})


@pytest.mark.parametrize("n", [10, 1_800, 10_000, 1_000_000])
def test_auto_delta_is_at_most_1e5_and_a_tenth_of_one_over_n(n: int) -> None:
    assert dp.auto_delta(n) <= min(1e-5, 1 / (10 * n)) and dp.auto_delta(n) > 0


def test_a_delta_of_one_over_n_or_more_is_rejected_naming_the_field() -> None:
    cols = [ColumnInfo("n", "integer", "int64")]
    with pytest.raises(PrivacyBudgetError, match=r"spec\.privacy\.delta"):
        dp.plan_budget(privacy(epsilon=8, delta=1 / 500), 500, cols)
    with pytest.raises(PrivacyBudgetError, match=r"spec\.privacy\.delta"):
        dp.plan_budget(privacy(epsilon=8, delta=0.005), 1000, cols)
    assert dp.plan_budget(privacy(epsilon=8, delta=1e-4), 1000, cols).delta == 1e-4
    assert dp.plan_budget(privacy(epsilon=8), 1000, cols).delta == 1e-5


def test_a_reported_epsilon_above_the_target_fails_the_job() -> None:
    dp.check_within_target(8.0, 8.0, "total")
    with pytest.raises(PrivacyBudgetError, match=r"spec\.privacy\.epsilon") as err:
        dp.check_within_target(9.35, 8.0, "the job's total")
    assert err.value.exit_code == 3


def test_budget_split_adds_up_and_declared_domains_cost_nothing() -> None:
    cols = [ColumnInfo("g", "categorical", "string"), ColumnInfo("n", "integer", "int64"),
            ColumnInfo("b", "boolean", "bool"), ColumnInfo("t", "text", "string")]
    plan = dp.plan_budget(privacy(epsilon=4, schemaEpsilon=1, marginalEpsilon=0.5), 500, cols)
    assert plan.category_columns == ["g"] and plan.bound_columns == ["n"]  # bool dtype and text need nothing
    assert plan.train_epsilon + plan.schema_epsilon + plan.marginal_epsilon == 4 and plan.train_epsilon == 2.5
    assert plan.per_column_epsilon == 0.5 and plan.to_json()["marginalEpsilon"] == 0.5
    assert plan.train_delta + plan.schema_delta == pytest.approx(plan.delta)
    declared = dp.plan_budget(privacy(epsilon=4, marginalEpsilon=0,
                                      domains={"g": {"categories": ["x"]}, "n": {"min": 0, "max": 9}}), 500, cols)
    assert declared.schema_epsilon == 0 and declared.train_epsilon == 4


def test_schema_epsilon_must_leave_something_for_training() -> None:
    cols = [ColumnInfo("g", "categorical", "string")]
    with pytest.raises(PrivacyBudgetError, match="schemaEpsilon"):
        dp.plan_budget(privacy(epsilon=0.5, schemaEpsilon=0.5, marginalEpsilon=0), 100, cols)
    with pytest.raises(PrivacyBudgetError, match="marginalEpsilon"):
        dp.plan_budget(privacy(epsilon=1, schemaEpsilon=0.5, marginalEpsilon=0.5), 100, cols)
    default = dp.plan_budget(privacy(epsilon=8), 100, cols)  # defaults: min(1, epsilon/8) each
    assert default.schema_epsilon == 1.0 and default.marginal_epsilon == 1.0 and default.train_epsilon == 6.0
    small = dp.plan_budget(privacy(epsilon=0.5), 100, cols)
    assert small.schema_epsilon == 0.0625 and small.marginal_epsilon == 0.0625
    # the marginals only feed public pretraining: without it they are not released, so not paid for
    assert dp.plan_budget(privacy(epsilon=8, publicPretrain=False), 100, cols).marginal_epsilon == 0


def test_dp_categories_keep_frequent_and_hide_rare_ones() -> None:
    values = ["common"] * 400 + ["other"] * 300 + ["rare"] * 3 + [None] * 50
    eps, delta = 1.0, 1e-5
    assert dp.category_threshold(eps, delta) == pytest.approx(12.51, abs=0.01)
    kept = [dp.dp_categories(values, eps, delta) for _ in range(20)]
    assert all(cats == ["common", "other"] for cats, _ in kept)
    assert all(abs(covered - 750) < 20 for _, covered in kept)  # nulls count as covered, the rare rows do not
    # the threshold's promise: a category held by a single row escapes with probability below delta
    loose = 0.02
    escaped = sum(bool(dp.dp_categories(["one"], eps, loose)[0]) for _ in range(3000))
    assert escaped / 3000 < loose + 0.008  # exact: P(Z >= 4) = e^-4/(1+e^-1) = 0.0134 for threshold 4.91


def test_release_noise_is_opendps_discrete_laplace_and_not_replayable() -> None:
    draws = noise.laplace_counts(np.zeros(20_000, dtype=int), 2.0)
    assert np.array_equal(draws, np.round(draws))  # integers: no floating-point low bits to attack
    # discrete Laplace(scale 2): P(Z = 0) = tanh(1/4)
    assert (draws == 0).mean() == pytest.approx(np.tanh(0.25), abs=0.015)
    assert not np.array_equal(draws, noise.laplace_counts(np.zeros(20_000, dtype=int), 2.0))
    # OpenDP's own privacy map agrees with the epsilon we book for scale 1/epsilon at sensitivity 1
    assert noise.laplace_epsilon(1 / 0.25) == pytest.approx(0.25)


def test_dp_bounds_cover_the_bulk_and_come_from_a_fixed_grid() -> None:
    x = np.append(np.random.default_rng(0).normal(50_000, 5_000, 2000), [np.nan] * 100)
    lo, hi, covered = dp.dp_bounds(x, 1.0, dp.number_edges())
    edges = set(dp.number_edges().tolist())
    assert lo in edges and hi in edges and lo <= np.nanquantile(x, 0.01) and hi >= np.nanquantile(x, 0.99)
    assert covered == pytest.approx(2100, abs=40)
    assert dp.dp_bounds(np.array([5.0]), 0.01, dp.number_edges()) is None


def test_dp_safe_columns_use_declared_domains_and_never_exact_private_values() -> None:
    df = tiny_table(3000)
    df.loc[0, "group"] = "only-one-person"
    p = privacy(epsilon=8, schemaEpsilon=4, domains={"age": {"min": 0, "max": 120}})
    plan = dp.plan_budget(p, len(df), [ColumnInfo(c, KINDS[c], str(df[c].dtype)) for c in df.columns])
    cols = {c.name: c for c in dp.dp_safe_columns(df, KINDS, p, plan)}
    assert (cols["age"].minimum, cols["age"].maximum) == (0, 120)
    assert cols["group"].categories == ["a", "b", "c"]  # covers ~all rows: enforced; the single person is not in it
    assert cols["income"].minimum not in set(df["income"]) and cols["income"].maximum not in set(df["income"])
    assert cols["income"].minimum is not None and cols["income"].extra["released"]["covered"] > 0.98
    assert cols["smoker"].categories == ["false", "true"] and all(c.nullable for c in cols.values())
    assert cols["pid"].style == ""  # no identifier template learned from the data


def test_released_ranges_are_always_enforced_and_a_failed_release_falls_back_to_the_public_default() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame({
        "g": pd.Series(["x"] * 900 + [f"rare{i}" for i in range(100)], dtype="string"),
        "v": pd.Series(np.append(rng.normal(100, 1, 900), 10 ** rng.uniform(3, 30, 100)), dtype="float64"),
        # a handful of dates scattered over centuries: no year bin passes the threshold
        "born": pd.Series(pd.to_datetime([f"{y}-06-01" for y in rng.integers(1710, 2240, n)])),
        "k": pd.Series(rng.integers(0, 5, n), dtype="int64"),
    })
    kinds = {"g": "categorical", "v": "float", "born": "datetime", "k": "integer"}
    p = privacy(epsilon=8, schemaEpsilon=2)
    plan = dp.plan_budget(p, len(df), [ColumnInfo(c, kinds[c], str(df[c].dtype)) for c in df.columns])
    g, v, born, k = dp.dp_safe_columns(df, kinds, p, plan)
    assert g.categories == ["x"] and g.extra["released"]["covered"] < 0.95
    assert v.extra["released"]["covered"] < 0.95  # partial coverage, enforced all the same
    assert (v.minimum, v.maximum) == (v.extra["released"]["min"], v.extra["released"]["max"])
    assert v.minimum <= 99 and v.maximum >= 101
    assert "released" not in born.extra
    assert (born.minimum, born.maximum) == dp.enforced_bounds("datetime", None)
    assert pd.Timestamp(born.minimum, unit="s").year == 1900 and pd.Timestamp(born.maximum, unit="s").year == 2100
    assert k.minimum is not None and float(k.minimum).is_integer() and k.minimum <= 0 and k.maximum >= 4
    assert k.dtype == "Int64"  # the same with or without a null: the dtype says nothing about one


def test_the_grammar_enforces_dp_released_date_bounds() -> None:
    """Issue 18's crash: an unenforced DP date range let the model write year 9938."""
    from safesynth.generator.validate import check_value
    from safesynth.generator.serialize import FieldError

    col = ColumnInfo("born", "datetime", "datetime64[ns]", style="iso")
    col.minimum, col.maximum = dp.enforced_bounds("datetime", None)
    check_value("1950-01-01T00:00:00", col)
    with pytest.raises(FieldError):
        check_value("9938-01-01T00:00:00", col)


@pytest.mark.parametrize(("dtype", "safe"), [("int64", "Int64"), ("Int64", "Int64"), ("bool", "boolean"),
                                             ("float64", "float64"), ("string", "string")])
def test_storage_dtypes_do_not_depend_on_nulls(dtype: str, safe: str) -> None:
    assert dp.null_safe_dtype(dtype) == safe


def tiny_private_run(accountant: str, steps: int = 6):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    rows = [[1, *rng.integers(5, 60, rng.integers(3, 12)).tolist(), 2] for _ in range(60)]
    specials = type("S", (), {"bos": 1, "eos": 2, "pad": 0})
    model = M.build_scratch_model(M.ModelSize(1, 16, 2, 32), 64, specials)
    cfg = T.FitConfig(steps=steps, batch_size=8, learning_rate=1e-3)
    loader = T.make_loader(T.RowDataset(rows), 8, 0, 0)
    private = dp.PrivateTraining(delta=1e-4, accountant=accountant)
    model, optimizer, loader = private.make_private(model, T.make_optimizer(model, cfg), loader,
                                                    target_epsilon=3.0, steps=steps, max_grad_norm=1.0, seed=0)
    result = T.fit(model, optimizer, loader, cfg, LogProgress(), privacy=private)
    return private, optimizer, loader, result, model


@pytest.mark.slow  # ~2.6–4 s on 2 cores (opacus import and 6 DP steps)
def test_dp_sgd_uses_dpoptimizer_poisson_sampling_and_stays_within_epsilon() -> None:
    private, optimizer, loader, result, _ = tiny_private_run("rdp")
    assert isinstance(optimizer, DPOptimizer) and isinstance(loader, DPDataLoader)
    assert isinstance(loader.batch_sampler, UniformWithReplacementSampler)
    assert private.sample_rate == pytest.approx(1 / 8) and private.noise_multiplier > 0
    assert result.steps == 6 and 0 < result.epsilon <= 3.0 + 0.01
    assert sum(h[2] for h in private.engine.accountant.history) == 6


@pytest.mark.slow  # ~2.5–5 s on 2 cores: the PRV accountant's noise search
def test_prv_accountant_is_the_default_and_reaches_the_target() -> None:
    private, _, _, result, _ = tiny_private_run("prv", steps=4)
    assert private.accountant == "prv" and 2.5 < result.epsilon <= 3.0 + 0.01


def test_epsilon_falls_back_to_rdp_when_prv_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from opacus.accountants import PRVAccountant, RDPAccountant

    def broken(self: object, delta: float, **kw: object) -> float:
        raise ValueError("PRV domain")

    history = [(0.8, 0.1, 50)]
    exact, note = dp.accountant_epsilon("prv", history, 1e-5)
    assert note is None
    monkeypatch.setattr(PRVAccountant, "get_epsilon", broken)
    eps, note = dp.accountant_epsilon("prv", history, 1e-5)
    rdp = RDPAccountant()
    rdp.history = history
    assert eps == pytest.approx(rdp.get_epsilon(1e-5)) and eps > exact and "RDP" in (note or "")
    # the looser fallback is what the job would report: above a target PRV had just met, so it fails
    with pytest.raises(PrivacyBudgetError):
        dp.check_within_target(eps, exact, "DP-SGD")


def test_an_empty_poisson_batch_still_adds_noise_and_counts_a_step() -> None:
    private, optimizer, _, _, _ = tiny_private_run("rdp", steps=1)
    before = [p.detach().clone() for p in optimizer.params]
    steps = sum(h[2] for h in private.engine.accountant.history)
    optimizer.zero_grad(set_to_none=True)
    private.empty_step(optimizer)
    assert sum(h[2] for h in private.engine.accountant.history) == steps + 1
    assert any(not torch.equal(a, b) for a, b in zip(before, optimizer.params))


def test_unwrap_returns_the_plain_model_without_hooks() -> None:
    *_, wrapped = tiny_private_run("rdp", steps=1)
    plain = dp.unwrap(wrapped)
    assert isinstance(plain, LlamaForCausalLM) and not any(m._forward_hooks for m in plain.modules())
