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
from safesynth.generator import dp
from safesynth.generator import model as M
from safesynth.generator import training as T
from safesynth.generator.columns import ColumnInfo
from safesynth.progress import LogProgress
from safesynth.spec.models import PrivacySpec
from tests.workers.generator.helpers import KINDS, tiny_table


def privacy(**kw: object) -> PrivacySpec:
    return PrivacySpec.model_validate({"enabled": True, **kw})


def test_auto_delta_is_below_one_over_n() -> None:
    assert dp.auto_delta(1000) == pytest.approx(1000 ** -1.2) and dp.auto_delta(1000) < 1 / 1000


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
    assert dp.category_threshold(eps, delta) == pytest.approx(11.82, abs=0.01)
    kept = [dp.dp_categories(values, eps, delta, np.random.default_rng(s)) for s in range(20)]
    assert all(cats == ["common", "other"] for cats, _ in kept)
    assert all(abs(covered - 750) < 20 for _, covered in kept)  # nulls count as covered, the rare rows do not
    # the threshold's promise: a category held by a single row escapes with probability delta
    loose = 1e-2 / 3
    escaped = sum(bool(dp.dp_categories(["one"], eps, loose, np.random.default_rng(s))[0]) for s in range(4000))
    assert escaped / 4000 == pytest.approx(loose, abs=0.002)


def test_dp_bounds_cover_the_bulk_and_come_from_a_fixed_grid() -> None:
    x = np.append(np.random.default_rng(0).normal(50_000, 5_000, 2000), [np.nan] * 100)
    lo, hi, covered = dp.dp_bounds(x, 1.0, dp.number_edges(), np.random.default_rng(1))
    edges = set(dp.number_edges().tolist())
    assert lo in edges and hi in edges and lo <= np.nanquantile(x, 0.01) and hi >= np.nanquantile(x, 0.99)
    assert covered == pytest.approx(2100, abs=40)
    assert dp.dp_bounds(np.array([5.0]), 0.01, dp.number_edges(), np.random.default_rng(0)) is None


def test_dp_safe_columns_use_declared_domains_and_never_exact_private_values() -> None:
    df = tiny_table(3000)
    df.loc[0, "group"] = "only-one-person"
    p = privacy(epsilon=8, schemaEpsilon=4, domains={"age": {"min": 0, "max": 120}})
    plan = dp.plan_budget(p, len(df), [ColumnInfo(c, KINDS[c], str(df[c].dtype)) for c in df.columns])
    cols = {c.name: c for c in dp.dp_safe_columns(df, KINDS, p, plan, np.random.default_rng(0))}
    assert (cols["age"].minimum, cols["age"].maximum) == (0, 120)
    assert cols["group"].categories == ["a", "b", "c"]  # covers ~all rows: enforced; the single person is not in it
    assert cols["income"].minimum not in set(df["income"]) and cols["income"].maximum not in set(df["income"])
    assert cols["income"].minimum is not None and cols["income"].extra["released"]["covered"] > 0.98
    assert cols["smoker"].categories == ["false", "true"] and all(c.nullable for c in cols.values())
    assert cols["pid"].style == ""  # no identifier template learned from the data


def test_partial_categories_are_enforced_partial_ranges_are_not() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "g": pd.Series(["x"] * 900 + [f"rare{i}" for i in range(100)], dtype="string"),
        "v": pd.Series(np.append(rng.normal(100, 1, 900), 10 ** rng.uniform(3, 30, 100)), dtype="float64"),  # a thin tail: no bin passes
    })
    p = privacy(epsilon=8, schemaEpsilon=2)
    plan = dp.plan_budget(p, len(df), [ColumnInfo("g", "categorical", "string"), ColumnInfo("v", "float", "float64")])
    g, v = dp.dp_safe_columns(df, {"g": "categorical", "v": "float"}, p, plan, np.random.default_rng(0))
    assert g.categories == ["x"] and g.extra["released"]["covered"] < 0.95
    assert v.minimum is None and v.extra["released"]["min"] is not None  # ~90% covered: seeds public rows only


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
    private, _, _, result, _ = tiny_private_run("rdp", steps=2)

    def broken(delta: float) -> float:
        raise ValueError("PRV domain")

    monkeypatch.setattr(private.engine, "get_epsilon", broken)
    assert private.epsilon_spent() == pytest.approx(result.epsilon)
    assert "RDP" in (private.fallback_reason or "")


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
