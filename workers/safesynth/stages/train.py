"""Stage `train`: fit the generator on the (PII-replaced) training rows, with DP-SGD when asked.

Reads pii/train.parquet and pii/schema.json when the PII stage ran, else
prepare's; the holdout is never read. Writes the generator folder to
train/model/ (see safesynth.generator.bundle) and returns a summary: loss,
tokens/s, steps, timings, and with DP the epsilon spent (DP-SGD plus any DP
schema release), delta, noise multiplier, sample rate and accountant.

Paths: from scratch (default, CPU-friendly) a small Llama and a BPE tokenizer
trained here; with training.baseModel a pretrained model fine-tuned with LoRA
and merged. With privacy.enabled the columns' categories and bounds come from
privacy.domains or from DP releases counted in epsilon, the tokenizer is fitted
on public schema-only rows, the model is pretrained on those rows without DP
(privacy.publicPretrain), then fine-tuned on the private rows with DP-SGD.
"""

from __future__ import annotations

import math
import tempfile
import time
from typing import Any, Optional

import numpy as np

from safesynth.errors import BadInputError
from safesynth.progress import Progress
from safesynth.spec.models import SafeSynthJobSpec, StageName
from safesynth.store import ArtifactStore

NAME = StageName.TRAIN
READS = ("pii/train.parquet", "pii/schema.json", "prepare/train.parquet", "prepare/schema.json")
WRITES = ("train/model/", "train/summary.json")

PUBLIC_ROWS_MIN, PUBLIC_ROWS_MAX = 1000, 5000  # public pretraining rows: as many as the private ones, within these
PUBLIC_EPOCHS = 2.0
DP_DEFAULT_MAX_LEN = 512  # with DP the length limit cannot come from the private rows


def input_prefix(store: ArtifactStore) -> str:
    """pii/ when the PII stage wrote its table, else prepare/."""
    return "pii" if store.exists("pii/train.parquet") else "prepare"


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    import torch

    from safesynth.generator import columns as C
    from safesynth.generator import device as D
    from safesynth.generator import dp, lora, public, training
    from safesynth.generator import model as M
    from safesynth.generator import tokenizer as T
    from safesynth.generator.bundle import Bundle, save_bundle
    from safesynth.generator.marginals import fold_unreleased, release_marginals
    from safesynth.generator.serialize import frame_to_fields

    tr, pv = spec.training, spec.privacy
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 3)
        clock = now

    src = input_prefix(store)
    df = store.read_table(f"{src}/train.parquet")
    kinds = (C.kinds_from_schema(store.read_json(f"{src}/schema.json")) if store.exists(f"{src}/schema.json")
             else C.infer_kinds(df))
    seed = tr.seed if tr.seed is not None else spec.data.seed
    device = D.pick_device(tr.device.value)
    threads = D.configure_threads(tr.threads)
    torch.manual_seed(seed)
    n = len(df)

    plan, marginals = None, None
    if pv.enabled:
        probe = [C.ColumnInfo(str(c), kinds[c], str(df[c].dtype)) for c in df.columns]
        plan = dp.plan_budget(pv, n, probe)
        secret = np.random.default_rng(dp.secure_seed())  # DP noise must not be reproducible from the spec
        cols = dp.dp_safe_columns(df, kinds, pv, plan, secret)
        marginals = release_marginals(df, cols, plan.marginal_epsilon, secret, public.public_bounds(cols))
    else:
        cols = C.describe_columns(df, kinds)
    if not any(c.modeled for c in cols):
        raise BadInputError(f"{src}/schema.json: every column is an identifier or empty, so there is nothing for "
                            "the generator to learn; check the column kinds in the prepare stage's schema")
    fields = frame_to_fields(df, cols)
    if pv.enabled:
        fields = fold_unreleased(fields, cols, marginals or {}, np.random.default_rng(seed))
    public_n = min(max(n, PUBLIC_ROWS_MIN), PUBLIC_ROWS_MAX)
    public_fields = public.public_rows(cols, public_n, seed, marginals) if pv.enabled else None
    lap("load")

    # ---- tokenizer and model
    trainable_note: dict[str, Any] = {}
    if tr.base_model:
        with progress.task("train: load base model", total=None):
            model, hf_tok = M.load_pretrained(tr.base_model, device, tr.qlora)
        tok = T.from_pretrained(hf_tok)
        lora.grow_embeddings(model, tok.vocab_size)
    else:
        corpus = public_fields if public_fields is not None else fields
        tok = T.train_bpe((f for row in corpus for f in row if f is not None), tr.vocab_size)
    rows = tok.encode_rows(fields)
    public_ids = tok.encode_rows(public_fields) if public_fields is not None else None
    shape_rows = public_ids if public_ids is not None else rows  # under DP, sizes come from public rows only
    lengths = np.array([len(r) for r in shape_rows]) if shape_rows else np.array([2])
    max_len = sequence_limit(int(lengths.max()), tr.max_sequence_length, pv.enabled)
    size = None
    if tr.base_model:
        model = lora.apply_lora(model, tr.lora, quantized=tr.qlora)
    else:
        size = M.auto_size(n, float(lengths.mean()), max_len, tr)
        size = M.ModelSize(size.layers, size.hidden, size.heads, max_len)
        model = M.build_scratch_model(size, tok.vocab_size, tok.specials).to(device)
    kept = fit_rows(rows, max_len, pv.enabled)
    if not kept:
        raise BadInputError(f"every training row is longer than spec.training.maxSequenceLength ({max_len} tokens); "
                            "raise it")
    trainable_note = {"parameters": M.count_parameters(model), "trainableParameters": M.count_parameters(model, True)}
    lap("tokenizer" if not tr.base_model else "loadModel")

    # ---- optional public pretraining (DP only)
    pad = tok.specials.pad
    pre_result = None
    if pv.enabled and pv.public_pretrain and public_ids:
        steps = training.plan_steps(len(public_ids), tr.batch_size, PUBLIC_EPOCHS, tr.max_steps)
        pre_cfg = fit_config(tr, steps, seed, device, "train: public pretraining")
        pub = fit_rows(public_ids, max_len, dp_on=True)
        loader = training.make_loader(training.RowDataset(pub), tr.batch_size, pad, seed)
        pre_result = training.fit(model, training.make_optimizer(model, pre_cfg), loader, pre_cfg, progress)
        lap("publicPretrain")

    # ---- main training
    tokens_per_epoch = float(lengths.mean()) * len(kept)
    epochs = tr.epochs or training.auto_epochs(len(kept), tokens_per_epoch, device)
    cfg = fit_config(tr, training.plan_steps(len(kept), tr.batch_size, epochs, tr.max_steps), seed, device, "train")
    # under DP the batches must be unpredictable (dp.secure_seed); otherwise seeded for reproducibility
    loader_seed = dp.secure_seed() if pv.enabled else seed + 1
    loader = training.make_loader(training.RowDataset(kept), tr.batch_size, pad, loader_seed)
    optimizer = training.make_optimizer(model, cfg)
    private = None
    if pv.enabled:
        assert plan is not None
        private = dp.PrivateTraining(delta=plan.train_delta, accountant=pv.accountant.value)
        model, optimizer, loader = private.make_private(
            model, optimizer, loader, target_epsilon=plan.train_epsilon, steps=cfg.steps,
            max_grad_norm=pv.max_grad_norm,
        )
    result = training.fit(model, optimizer, loader, cfg, progress, privacy=private)
    lap("train")

    # ---- save
    if private is not None:
        model = dp.unwrap(model)
    if tr.base_model:
        model = lora.merge(model)
    meta = {
        "trainRows": n,
        "privacy": bool(pv.enabled),
        "modelKind": "lora" if tr.base_model else "scratch",
        "baseModel": tr.base_model,
        "maxLength": max_len,
        "seed": seed,
    }
    with tempfile.TemporaryDirectory(prefix="safesynth-train-") as tmp:
        save_bundle(tmp, Bundle(cols, tok, model, meta))
        store.upload_dir(tmp, "train/model")
    lap("save")
    del model, optimizer, loader
    if device == "cuda":  # the local driver runs generate next in this process: give its batches the memory
        torch.cuda.empty_cache()

    summary: dict[str, Any] = {
        "inputStage": src,
        "trainRows": n,
        "columnsModeled": sum(c.modeled for c in cols),
        "columnsGeneratedOutsideModel": sum(not c.modeled for c in cols),
        "model": {
            "kind": meta["modelKind"], "baseModel": tr.base_model, "vocabSize": tok.vocab_size,
            "maxSequenceLength": max_len, **trainable_note,
            **({"layers": size.layers, "hiddenSize": size.hidden, "heads": size.heads} if size else {}),
            **({"loraR": tr.lora.r, "loraAlpha": tr.lora.alpha} if tr.base_model else {}),
        },
        "epochs": epochs,
        "steps": result.steps,
        "batchSize": tr.batch_size,
        "learningRate": cfg.learning_rate,
        "loss": result.final_loss,
        "lossCurve": result.curve(),
        "tokensPerSecond": round(result.tokens_per_second, 1),
        "epsilonSpent": None,
        "delta": None,
        "noiseMultiplier": None,
        "sampleRate": None,
        "accountant": None,
        **D.describe(device),
        "threads": threads,
        "timings": timings,
    }
    if not pv.enabled:
        summary["rowsTooLong"] = n - len(kept)  # with DP this count would be a non-private statistic
    if pre_result is not None:
        summary["publicPretrain"] = {"rows": len(public_ids or []), "steps": pre_result.steps,
                                     "loss": pre_result.final_loss}
    if private is not None and plan is not None:
        train_eps = result.epsilon if result.epsilon is not None else private.epsilon_spent()
        summary.update({
            "epsilonSpent": round(train_eps + plan.released_epsilon, 4),
            "trainEpsilon": round(train_eps, 4),
            "delta": plan.delta,
            "noiseMultiplier": private.noise_multiplier,
            "sampleRate": private.sample_rate,
            "accountant": private.accountant,
            "maxGradNorm": pv.max_grad_norm,
            "privacyBudget": plan.to_json(),
        })
        if private.fallback_reason:
            summary["accountantNote"] = private.fallback_reason
    return summary


def sequence_limit(longest: int, requested: Optional[int], dp_on: bool) -> int:
    """Tokens per row: spec.training.maxSequenceLength, else the longest row + 8 rounded up to 8.

    With DP, `longest` comes from the public rows, and the limit is at least
    DP_DEFAULT_MAX_LEN so that private rows are rarely cut (see fit_rows).
    """
    if requested:
        return requested
    if dp_on:
        return max(DP_DEFAULT_MAX_LEN, longest + 8)
    return int(math.ceil((longest + 8) / 8) * 8)


def fit_rows(rows: list[list[int]], max_len: int, dp_on: bool) -> list[list[int]]:
    """Rows within the limit. Without DP longer rows are dropped (and counted); with DP they are cut
    instead, so the dataset size, which sets the sampling rate, never depends on private values."""
    if dp_on:
        return [r[:max_len] for r in rows]
    return [r for r in rows if len(r) <= max_len]


def fit_config(tr: Any, steps: int, seed: int, device: str, label: str) -> Any:
    """The optimizer settings of spec.training for a run of `steps` steps."""
    from safesynth.generator import training

    return training.FitConfig(
        steps=steps, batch_size=tr.batch_size,
        learning_rate=tr.learning_rate or (training.LR_LORA if tr.base_model else training.LR_SCRATCH),
        weight_decay=tr.weight_decay, warmup_ratio=tr.warmup_ratio, scheduler=tr.lr_scheduler.value, seed=seed,
        device=device, label=label,
    )
