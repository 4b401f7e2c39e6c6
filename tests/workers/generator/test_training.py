"""The training loop: schedule shapes, step planning, learning, reproducibility."""

from __future__ import annotations

import itertools

import pytest
import torch

from safesynth.generator import model as M
from safesynth.generator import training as T
from safesynth.progress import LogProgress


def test_warmup_then_cosine_linear_or_constant() -> None:
    f = [T.lr_factor(s, 100, 10, "cosine") for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == 1.0 and f[10] == 1.0
    assert f[55] == pytest.approx(0.5, abs=0.02) and f[-1] < 0.01 and all(a >= b for a, b in itertools.pairwise(f[10:]))
    assert T.lr_factor(55, 100, 10, "linear") == pytest.approx(0.5)
    assert T.lr_factor(99, 100, 10, "constant") == 1.0


@pytest.mark.parametrize(("rows", "tokens", "device", "epochs"), [
    (1800, 1.4e5, "cpu", 5.56), (2000, 1e5, "cpu", 5.0), (500, 1e4, "cpu", 8.0), (32_000, 1e6, "cpu", 1.0),
    (2000, 4e5, "cpu", 3.0), (200_000, 1e7, "cuda", 1.0), (500, 1e4, "cuda", 8.0), (2000, 4e5, "cuda", 8.0),
])
def test_auto_epochs(rows: int, tokens: float, device: str, epochs: float) -> None:
    assert T.auto_epochs(rows, device, tokens) == epochs


def test_auto_epochs_do_not_follow_the_fakes() -> None:
    """Issue 19: the quickstart's rows held 78 to 93 tokens depending on the PII key; the schedule must not move."""
    quickstart = {T.auto_epochs(1800, "cpu", 1800 * mean) for mean in range(70, 100)}
    assert quickstart == {5.56}
    # only rows long enough to pass the CPU guard make it read the tokens (and never below one epoch)
    assert T.auto_epochs(1800, "cpu", 1800 * 200) < 5.56 and T.auto_epochs(1800, "cpu", 1e9) == 1.0


def test_plan_steps_rounds_up_and_respects_max_steps() -> None:
    assert T.plan_steps(100, 32, 2, None) == 8 and T.plan_steps(100, 32, 2, 5) == 5 and T.plan_steps(10, 32, 1, None) == 1


def tiny_fit(seed: int, steps: int = 30):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rows = [[1, 5 + i % 3, 9, 5 + i % 3, 2] for i in range(40)]  # a pattern worth learning
    specials = type("S", (), {"bos": 1, "eos": 2, "pad": 0})
    model = M.build_scratch_model(M.ModelSize(1, 16, 2, 16), 16, specials)
    cfg = T.FitConfig(steps=steps, batch_size=8, learning_rate=1e-2, seed=seed)
    loader = T.make_loader(T.RowDataset(rows), 8, 0, seed)
    return model, T.fit(model, T.make_optimizer(model, cfg), loader, cfg, LogProgress())


def test_fit_learns_and_is_reproducible() -> None:
    model_a, res = tiny_fit(0)
    model_b, _ = tiny_fit(0)
    assert res.steps == 30 and res.losses[-1] < res.losses[0] / 2 and res.tokens > 0
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()))
    assert len(res.curve(5)) == 5 and res.final_loss is not None


def test_loss_per_row_weights_rows_equally() -> None:
    torch.manual_seed(0)
    specials = type("S", (), {"bos": 1, "eos": 2, "pad": 0})
    model = M.build_scratch_model(M.ModelSize(1, 16, 2, 16), 16, specials)
    batch = T.make_collate(0)([(torch.tensor([1, 5, 2]),), (torch.tensor([1, 5, 6, 7, 8, 9, 2]),)])
    per_row = T.sequence_loss(model, *batch, per_row=True)
    per_token = T.sequence_loss(model, *batch, per_row=False)
    short = T.sequence_loss(model, batch[0][:1, :3], batch[1][:1, :3], per_row=False)
    long = T.sequence_loss(model, batch[0][1:], batch[1][1:], per_row=False)
    assert per_row.item() == pytest.approx((short.item() + long.item()) / 2, rel=1e-4)
    assert per_token.item() == pytest.approx((2 * short.item() + 6 * long.item()) / 8, rel=1e-4)


def test_validation_split_is_seeded_disjoint_and_skipped_on_small_tables() -> None:
    keep, held = T.split_validation(1800, 7)
    assert len(held) == 180 and sorted(keep + held) == list(range(1800)) and not set(keep) & set(held)
    assert T.split_validation(1800, 7) == (keep, held) and T.split_validation(1800, 8) != (keep, held)
    assert T.split_validation(100_000, 7)[1].__len__() == T.MAX_VALIDATION_ROWS
    assert T.split_validation(400, 7) == (list(range(400)), [])  # 40 rows would measure noise
    # the ceiling of a validated run: the plain schedule times the factor, cap and CPU guard included
    assert T.auto_epochs(1800, "cpu", 1.4e5, T.VALIDATED_EPOCH_FACTOR) == pytest.approx(2 * 5.56, abs=0.01)
    assert T.auto_epochs(500, "cpu", 1e4, T.VALIDATED_EPOCH_FACTOR) == 2 * T.MAX_AUTO_EPOCHS


def test_validation_stops_a_run_that_memorizes_and_keeps_its_best_weights() -> None:
    """Random rows hold nothing to generalise: past the first checks the model can only learn them by heart,
    the held-out rows' loss rises beyond its noise, the run stops before its planned steps and the kept weights
    (the latest within one standard error of the lowest loss) come back."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    rows = [[1, *torch.randint(3, 32, (10,), generator=gen).tolist(), 2] for _ in range(60)]
    specials = type("S", (), {"bos": 1, "eos": 2, "pad": 0})
    model = M.build_scratch_model(M.ModelSize(2, 64, 2, 16), 32, specials)
    cfg = T.FitConfig(steps=600, batch_size=8, learning_rate=1e-2, seed=0)
    validation = T.Validation(T.make_loader(T.RowDataset(rows[40:]), 64, 0, 1), every=10, rows=20)
    loader = T.make_loader(T.RowDataset(rows[:40]), 8, 0, 0)
    res = T.fit(model, T.make_optimizer(model, cfg), loader, cfg, LogProgress(), validation=validation)
    assert validation.stopped_early and res.steps < cfg.steps and res.validation is validation
    losses = [loss for _, loss in validation.checks]
    assert min(losses) < losses[-1] and validation.kept_step < res.steps
    assert validation.loss(model, "cpu") == pytest.approx(dict(validation.checks)[validation.kept_step], abs=1e-4)
    assert res.losses[-1] < min(losses)  # training rows kept getting likelier: memorization, not learning
    assert validation.to_json()["rows"] == 20 and validation.to_json()["stoppedEarly"] is True
    with pytest.raises(ValueError, match="DP"):
        T.fit(model, T.make_optimizer(model, cfg), loader, cfg, LogProgress(), validation=validation, privacy=object())


def test_validation_split_holds_whole_entities() -> None:
    owners = [e for e in range(300) for _ in range(1 + e % 7)]  # 300 entities of 1 to 7 rows
    keep, held = T.split_validation(len(owners), 3, owners)
    held_entities = {owners[i] for i in held}
    assert held_entities.isdisjoint({owners[i] for i in keep}) and len(held_entities) == 30
    assert sorted(keep + held) == list(range(len(owners)))
    assert T.split_validation(len(owners[:60]), 3, owners[:60]) == (list(range(60)), [])  # 6 entities, too few rows
