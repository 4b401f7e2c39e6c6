"""The optimisation loop: AdamW, linear warmup then cosine (or linear/constant) decay, progress.

One loop serves the three paths: from scratch, LoRA, and DP-SGD (where `dp.py`
has wrapped the model, optimizer and loader). What changes under DP is the loss:
the mean over rows of each row's mean token loss, because opacus scales
per-sample gradients of a batch-mean loss by the batch size, and a row's
clipped gradient must depend on that row alone. Without DP the loss is the
usual mean over all tokens of the batch.

Measured here (issue 4): constant learning rate was unstable for the small
model; warmup + cosine at 3e-3 trained it in minutes.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, cast

from safesynth.progress import Progress

LOG_EVERY_S = 15.0  # seconds between progress notes (loss, tokens/s, epsilon)
MAX_AUTO_EPOCHS = 8.0  # the measured setting on 2,000 rows
AUTO_EPOCH_ROWS = 16_000  # GPU: auto epochs = this / rows (within [1, 8]): ~500 steps of 32 rows on small tables
# CPU: auto epochs = this / rows (within [1, 8]), a budget in row visits. Without a validation slice the
# quickstart's 1,800 rows get 5.56 epochs (317 steps of 32): ~0.85M tokens, ~2 minutes on one thread of an
# idle 2-core box (issue 19 item 5). With one (non-DP, epochs unset) the ceiling doubles: 1,620 rows, 12.35
# epochs, 630 steps, ~4.5 minutes; the quickstart's validation loss was still falling at the ceiling.
CPU_EPOCH_ROWS = 10_000
# With a validation slice (non-DP, epochs left to auto): the schedule's ceiling is this many times the plain
# one, and the run keeps its latest weights within noise of its lowest validation loss (`Validation`). Early stopping makes the
# longer ceiling safe: it stops where held-out rows stop getting likelier, before the model learns rows by
# heart. The ceiling is a time bound, not a target.
VALIDATED_EPOCH_FACTOR = 2.0
VALIDATION_SHARE = 0.1  # of the training rows, seeded; never trained on
MIN_VALIDATION_ROWS = 50  # fewer and one row moves the validation loss more than an epoch does
MAX_VALIDATION_ROWS = 2_000  # enough for a loss to 2 decimals; the check's cost stays small beside training
CHECKS_PER_EPOCH = 2  # validation losses measured per pass over the training rows
PATIENCE = 4  # checks above the lowest validation loss (beyond its noise) before the run stops (2 epochs)
# CPU: a ceiling on training tokens for tables of long rows (one thread trains the default model at
# 4.9k-6.5k tokens/s, so 1.2M is ~3-4 minutes). The quickstart (78-93 tokens a row, depending on the fakes
# drawn) stays 30% below it, so its schedule never reads the fakes; a table this guard cuts does follow them.
CPU_TOKEN_GUARD = 1.2e6
LR_SCRATCH = 3e-3  # measured: stable with warmup + cosine for the small Llama
LR_LORA = 5e-4  # a common LoRA rate for 100M-3B models


@dataclass
class FitConfig:
    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    label: str = "train"


@dataclass
class FitResult:
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    epsilon: Optional[float] = None
    validation: Optional["Validation"] = None

    @property
    def final_loss(self) -> Optional[float]:
        """Mean loss over the last 10% of steps (at least one): less noisy than the last step's."""
        if not self.losses:
            return None
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return float(sum(tail) / len(tail))

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def curve(self, points: int = 20) -> list[float]:
        """The loss curve averaged into at most `points` buckets, for the summary."""
        if not self.losses:
            return []
        size = max(1, math.ceil(len(self.losses) / points))
        return [round(sum(b) / len(b), 4) for b in (self.losses[i:i + size] for i in range(0, len(self.losses), size))]


def auto_epochs(n_rows: int, device: str = "cpu", tokens_per_epoch: float = 0.0, factor: float = 1.0) -> float:
    """Passes over the data when the spec leaves epochs unset: a function of the row count and the device.

    Small tables need several passes, large ones fewer: min(8, R/rows), at
    least 1, with R = AUTO_EPOCH_ROWS on a GPU and CPU_EPOCH_ROWS on CPU (fewer
    row visits keep the quickstart within a few minutes there). Why not a token
    budget: the rows hold the PII stage's fakes, drawn afresh with every
    ephemeral key, and the tokenizer is fitted on them, so tokens per row move
    from run to run (78 to 93 on the quickstart) and a schedule read from them
    moved the step count by 20% and SQS by half a point (issue 19). Only a
    table whose rows are long enough to pass CPU_TOKEN_GUARD (never below one
    epoch) gets a schedule that reads `tokens_per_epoch`. `factor` scales the
    budget, the cap and the guard alike (VALIDATED_EPOCH_FACTOR: a ceiling for
    runs that stop on their validation loss).
    """
    budget = factor * (CPU_EPOCH_ROWS if device == "cpu" else AUTO_EPOCH_ROWS)
    epochs = min(factor * MAX_AUTO_EPOCHS, max(1.0, budget / max(n_rows, 1)))
    if device == "cpu" and tokens_per_epoch * epochs > factor * CPU_TOKEN_GUARD:
        epochs = max(1.0, factor * CPU_TOKEN_GUARD / tokens_per_epoch)
    return round(epochs, 2)


def plan_steps(n_rows: int, batch_size: int, epochs: float, max_steps: Optional[int]) -> int:
    """Optimizer steps for `epochs` passes of ceil(n/batch) batches, capped by maxSteps."""
    steps = max(1, math.ceil(epochs * math.ceil(n_rows / max(1, min(batch_size, n_rows)))))
    return min(steps, max_steps) if max_steps else steps


def lr_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """Multiplier of the peak learning rate at `step` (0-based).

    Linear warmup over `warmup` steps, then cosine: 0.5(1 + cos(pi t)) with t the
    share of the remaining steps done (Loshchilov & Hutter, SGDR), or linear
    decay 1 - t, or constant.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * t)) if kind == "cosine" else 1.0 - t


NO_LOSS = 2  # attention-mask value of a token the model reads but is not trained to write (a forced field)


class RowDataset:
    """Token ids of each row, with its attention-mask values (1; NO_LOSS where the row's tokens are given at
    generation, grouped records' forced context); items are tuples of tensors, as opacus's DPDataLoader wants."""

    def __init__(self, rows: Sequence[Sequence[int]], masks: Optional[Sequence[Sequence[int]]] = None) -> None:
        import torch

        self.rows = [torch.tensor(r, dtype=torch.long) for r in rows]
        self.masks = [torch.tensor(m, dtype=torch.long) for m in masks] if masks is not None else [
            torch.ones(len(r), dtype=torch.long) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return (self.rows[i], self.masks[i])


class EntityDataset:
    """One item per entity: its rows' token ids, padded into one tensor, and their lengths.

    Used under DP with grouped records (spec.data.groupBy): opacus's Poisson sampler then draws entities,
    and the collate below flattens the drawn entities' rows into one batch with the owner of each row, so
    that the per-row gradients can be merged per entity before clipping (dp.merge_per_entity).
    """

    def __init__(self, rows: Sequence[Sequence[int]], owners: Sequence[int], pad_id: int,
                 masks: Optional[Sequence[Sequence[int]]] = None) -> None:
        import torch

        groups: dict[int, list[tuple[Sequence[int], Sequence[int]]]] = {}
        for k, (r, e) in enumerate(zip(rows, owners)):
            groups.setdefault(int(e), []).append((r, masks[k] if masks is not None else [1] * len(r)))
        self.items = []
        for e in sorted(groups):
            members = groups[e]
            longest = max(len(r) for r, _ in members)
            ids = torch.full((len(members), longest), pad_id, dtype=torch.long)
            att = torch.zeros((len(members), longest), dtype=torch.long)
            for i, (r, m) in enumerate(members):
                ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
                att[i, : len(r)] = torch.tensor(list(m), dtype=torch.long)
            self.items.append((ids, att))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.items[i]


def make_entity_collate(pad_id: int) -> Callable[[list[tuple[Any, Any]]], list[Any]]:
    """Entities' rows as one right-padded batch: [input_ids, attention_mask, owner] (owner: 0..k-1 per row)."""

    def collate(batch: list[tuple[Any, Any]]) -> list[Any]:
        import torch

        rows = [(ids[i], att[i], e) for e, (ids, att) in enumerate(batch) for i in range(ids.shape[0])]
        longest = max(int((a > 0).sum()) for _, a, _ in rows)
        ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, (row, att, _) in enumerate(rows):
            n = int((att > 0).sum())
            ids[i, :n], mask[i, :n] = row[:n], att[:n]
        return [ids, mask, torch.tensor([e for _, _, e in rows], dtype=torch.long)]

    return collate


def make_collate(pad_id: int) -> Callable[[list[tuple[Any]]], list[Any]]:
    """Right-pad a batch to its longest row: [input_ids, attention_mask]."""

    def collate(batch: list[tuple[Any, ...]]) -> list[Any]:
        import torch

        longest = max(len(b[0]) for b in batch)
        ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for i, item in enumerate(batch):
            row = item[0]
            ids[i, : len(row)] = row
            mask[i, : len(row)] = item[1] if len(item) > 1 else 1
        return [ids, mask]

    return collate


def token_losses(model: Any, ids: Any, mask: Any) -> tuple[Any, Any]:
    """(next-token losses, which of them count): both [rows, length − 1]; losses are 0 where they do not."""
    import torch
    import torch.nn.functional as F

    positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0).expand(ids.shape[0], -1)
    attention = (mask > 0).long()
    logits = model(input_ids=ids, attention_mask=attention, position_ids=positions).logits[:, :-1].float()
    target, tmask = ids[:, 1:], (mask[:, 1:] == 1).float()
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none").view_as(tmask)
    return nll * tmask, tmask


def sequence_loss(model: Any, ids: Any, mask: Any, per_row: bool) -> Any:
    """Next-token cross-entropy; per_row=True averages within each row first (see module docstring).

    `mask`: 0 padding, 1 a token to learn, NO_LOSS a token the model reads but never writes (a forced
    field at generation: grouped records' context), as in fine-tuning on prompts without their loss."""
    nll, tmask = token_losses(model, ids, mask)
    if per_row:
        return (nll.sum(1) / tmask.sum(1).clamp(min=1)).mean()
    return nll.sum() / tmask.sum().clamp(min=1)


def make_loader(dataset: RowDataset | EntityDataset, batch_size: int, pad_id: int, seed: int) -> Any:
    import torch
    from torch.utils.data import DataLoader, Dataset

    gen = torch.Generator().manual_seed(seed)
    rows = cast("Dataset[tuple[Any]]", dataset)  # a map-style dataset by protocol (__len__, __getitem__)
    collate = make_entity_collate(pad_id) if isinstance(dataset, EntityDataset) else make_collate(pad_id)
    return DataLoader(rows, batch_size=min(batch_size, len(dataset)), shuffle=True, generator=gen,
                      collate_fn=collate, drop_last=False)


def make_optimizer(model: Any, cfg: FitConfig) -> Any:
    """AdamW on trainable weights; no decay on norms and biases (the usual GPT/Llama practice)."""
    import torch

    decay: list[Any] = []
    no_decay: list[Any] = []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate, betas=(0.9, 0.95), eps=1e-8)


def split_validation(n_rows: int, seed: int, owners: Optional[Sequence[int]] = None) -> tuple[list[int], list[int]]:
    """(training row indices, validation row indices): a seeded VALIDATION_SHARE of the units (rows, or with
    `owners` (each row's entity, grouped records) whole entities, so no entity is on both sides), at most
    MAX_VALIDATION_ROWS rows; no validation when the held rows would be fewer than MIN_VALIDATION_ROWS."""
    import numpy as np

    unit = np.arange(n_rows) if owners is None else np.asarray(owners)
    units = np.unique(unit)
    order = np.random.default_rng(seed).permutation(units)
    held_units = order[: int(len(units) * VALIDATION_SHARE)]
    held_mask = np.isin(unit, held_units)
    if held_mask.sum() > MAX_VALIDATION_ROWS:  # keep whole units, the first ones in the seeded order
        rows_per = {int(u): int(c) for u, c in zip(*np.unique(unit, return_counts=True))}
        take, total = [], 0
        for u in held_units.tolist():
            if total + rows_per[u] > MAX_VALIDATION_ROWS:
                break
            take.append(u)
            total += rows_per[u]
        held_mask = np.isin(unit, take)
    if held_mask.sum() < MIN_VALIDATION_ROWS:
        return list(range(n_rows)), []
    return np.flatnonzero(~held_mask).tolist(), np.flatnonzero(held_mask).tolist()


@dataclass
class Validation:
    """Early stopping on held-out training rows: the loss is measured `every` steps, the latest weights whose
    loss is within one standard error of the lowest are kept (a CPU copy of what trains), and the run stops
    after PATIENCE checks above that band.

    Why: a fixed number of epochs is either short for a table whose relations take long to learn (the
    quickstart's age by test week, at 5.6 epochs) or long enough for a small table to be learned by heart.
    The validation loss is the held-out rows' mean token loss: the cross-entropy of the model to rows it
    never saw, which falls while the model generalises and rises once it memorizes. Non-DP only: under DP
    a loss on private rows would be a release no mechanism pays for."""

    loader: Any
    every: int
    rows: int = 0
    patience: int = PATIENCE
    lowest: float = math.inf
    kept_step: int = 0
    checks: list[tuple[int, float]] = field(default_factory=list)
    stopped_early: bool = False
    _best_state: Optional[dict[str, Any]] = None
    _bad: int = 0

    def loss(self, model: Any, device: str) -> float:
        return self.measure(model, device)[0]

    def measure(self, model: Any, device: str) -> tuple[float, float]:
        """(mean token loss of the held-out rows, its standard error with rows as the sampling unit: a ratio
        estimator over rows of different lengths)."""
        import numpy as np
        import torch

        sums: list[float] = []
        counts: list[float] = []
        model.eval()
        with torch.no_grad():
            for batch in self.loader:
                nll, tmask = token_losses(model, batch[0].to(device), batch[1].to(device))
                sums += nll.sum(1).tolist()
                counts += tmask.sum(1).tolist()
        model.train()
        s, n = np.asarray(sums), np.asarray(counts)
        mean = float(s.sum() / max(n.sum(), 1.0))
        rows = len(s)
        se = float(np.sqrt(((s - mean * n) ** 2).sum() / max(rows - 1, 1) * rows) / max(n.sum(), 1.0))
        return mean, se

    def check(self, model: Any, step: int, device: str) -> bool:
        """Measure at `step`; True when the run should stop.

        The weights kept are the latest whose loss is within one standard error of the lowest so far: late
        in a run the loss moves by less than the slice's noise while the learning rate anneals, and on the
        quickstart the runs whose lowest loss came earliest were the ones the detection test told apart best
        (best at step 468: detection 5.84; at 572: 7.70). A loss above that band counts towards patience."""
        value, se = self.measure(model, device)
        self.checks.append((step, round(value, 4)))
        self.lowest = min(self.lowest, value)
        if value <= self.lowest + se:
            self.kept_step, self._bad = step, 0
            # only what training changes (all of a model from scratch; LoRA's adapters, not the frozen base)
            trainable = {name for name, p in model.named_parameters() if p.requires_grad}
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                                if k in trainable}
            return False
        self._bad += 1
        return self._bad >= self.patience

    def restore(self, model: Any) -> None:
        """Load the kept weights (no-op before the first check)."""
        if self._best_state is not None:
            model.load_state_dict(self._best_state, strict=False)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "keptStep": self.kept_step, "lowestLoss": round(self.lowest, 4),
                "stoppedEarly": self.stopped_early, "checks": [list(c) for c in self.checks]}


def fit(
    model: Any,
    optimizer: Any,
    loader: Any,
    cfg: FitConfig,
    progress: Progress,
    *,
    privacy: Any = None,
    validation: Optional[Validation] = None,
) -> FitResult:
    """Run `cfg.steps` optimizer steps over `loader` (re-iterated as needed).

    `privacy`, when given, is a `dp.PrivateTraining`: the loader samples Poisson
    batches (possibly empty), the optimizer clips and adds noise, and epsilon is
    read from its accountant for the progress notes. `validation` (never with
    `privacy`): stop early and keep the latest weights within noise of the lowest validation loss.
    """
    if validation is not None and privacy is not None:
        raise ValueError("validation-based early stopping reads private rows: not under DP")
    import torch
    from torch.optim.lr_scheduler import LambdaLR

    base_optimizer = getattr(optimizer, "original_optimizer", optimizer)
    warmup = math.ceil(cfg.warmup_ratio * cfg.steps)
    scheduler = LambdaLR(base_optimizer, lambda s: lr_factor(s, cfg.steps, warmup, cfg.scheduler))
    use_autocast = cfg.device == "cuda" and privacy is None
    result = FitResult()
    model.train()
    t0 = last_note = time.monotonic()
    with progress.task(f"{cfg.label}: {cfg.steps} steps", total=cfg.steps) as advance:
        while result.steps < cfg.steps:
            for batch in loader:
                if result.steps >= cfg.steps:
                    break
                batch_ids, batch_mask = batch[0], batch[1]
                owner = batch[2] if len(batch) > 2 else None  # entities' rows (EntityDataset)
                optimizer.zero_grad(set_to_none=True)
                if batch_ids.shape[0] == 0:  # an empty Poisson batch still takes a (noise-only) DP step
                    privacy.empty_step(optimizer)
                else:
                    ids, mask = batch_ids.to(cfg.device), batch_mask.to(cfg.device)  # mask: see sequence_loss
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_autocast):
                        loss = sequence_loss(model, ids, mask, per_row=privacy is not None)
                    with warnings.catch_warnings():
                        # opacus's per-sample hooks fire on modules whose inputs need no grad (embeddings): expected
                        warnings.filterwarnings("ignore", message="Full backward hook is firing")
                        loss.backward()
                    if owner is not None and privacy is not None:
                        privacy.merge_per_entity(optimizer, owner)
                    optimizer.step()
                    result.losses.append(float(loss.detach()))
                    result.tokens += int((mask > 0).sum())
                scheduler.step()
                result.steps += 1
                advance(1)
                now = time.monotonic()
                if now - last_note >= LOG_EVERY_S or result.steps == cfg.steps:
                    last_note = now
                    result.seconds = now - t0
                    _note(progress, cfg, result, privacy)
                if validation is not None and (result.steps % validation.every == 0 or result.steps == cfg.steps):
                    if validation.check(model, result.steps, cfg.device) and result.steps < cfg.steps:
                        validation.stopped_early = True
                        progress.note(f"{cfg.label}: validation loss kept from step {validation.kept_step} "
                                      f"(lowest {validation.lowest:.3f}); stopped at step {result.steps}")
                        break
            if validation is not None and validation.stopped_early:
                break
    if validation is not None:
        validation.restore(model)
        result.validation = validation
    result.seconds = time.monotonic() - t0
    if privacy is not None:
        result.epsilon = privacy.epsilon_spent()
    model.eval()
    return result


def _note(progress: Progress, cfg: FitConfig, result: FitResult, privacy: Any) -> None:
    """A progress line. Under DP only the step and the accountant's epsilon: loss and tokens/s are measured on
    private batches and released by no mechanism, so they stay out of the logs too."""
    if privacy is not None:
        progress.note(f"{cfg.label}: step {result.steps}/{cfg.steps} epsilon {privacy.epsilon_spent():.2f}")
        return
    recent = result.losses[-20:]
    loss = sum(recent) / len(recent) if recent else float("nan")
    progress.note(f"{cfg.label}: step {result.steps}/{cfg.steps} loss {loss:.3f} "
                  f"tokens/s {result.tokens_per_second:,.0f}")
