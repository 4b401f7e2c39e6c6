"""LoRA on a pretrained model: only adapters train, DP-SGD works through them, merging gives a plain model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from safesynth.errors import BadInputError
from safesynth.generator import dp, lora
from safesynth.generator import model as M
from safesynth.generator import training as T
from safesynth.generator.tokenizer import from_pretrained
from safesynth.progress import LogProgress
from safesynth.spec.models import LoraSpec
from tests.workers.generator.helpers import tiny_pretrained_dir


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return tiny_pretrained_dir(tmp_path_factory.mktemp("base"))


def test_only_adapters_train_and_merge_gives_a_plain_model(base: Path) -> None:
    model, hf_tok = M.load_pretrained(str(base), "cpu")
    tok = from_pretrained(hf_tok)
    assert tok.added_tokens == 0 and {tok.specials.sep, tok.specials.null} == {3, 4}
    peft_model = lora.apply_lora(model, LoraSpec(r=4, alpha=8))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    merged = lora.merge(peft_model)
    assert type(merged).__name__ == "LlamaForCausalLM" and not any("lora_" in n for n, _ in merged.named_parameters())


@pytest.mark.slow  # ~2.4 s on 2 cores: DP-SGD steps through peft
def test_dp_sgd_through_lora_hooks(base: Path) -> None:
    model, hf_tok = M.load_pretrained(str(base), "cpu")
    tok = from_pretrained(hf_tok)
    model = lora.apply_lora(model, LoraSpec(r=4, alpha=8, dropout=0.0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    rows = tok.encode_rows([["hello", "2020-01-01", None]] * 32)
    cfg = T.FitConfig(steps=3, batch_size=8, learning_rate=1e-3)
    loader = T.make_loader(T.RowDataset(rows), 8, tok.specials.pad, 0)
    private = dp.PrivateTraining(delta=1e-3, accountant="rdp")
    model, optimizer, loader = private.make_private(model, T.make_optimizer(model, cfg), loader,
                                                    target_epsilon=5.0, steps=3, max_grad_norm=1.0, seed=0)
    res = T.fit(model, optimizer, loader, cfg, LogProgress(), privacy=private)
    assert res.steps == 3 and 0 < res.epsilon <= 5.01
    after = dict(dp.unwrap(model).named_parameters())
    changed = {n for n, p in before.items() if not torch.equal(p, after[n].detach())}
    assert changed and all("lora_" in n for n in changed)  # noise and clipped gradients reach adapters only


def test_unknown_target_modules_name_the_field(base: Path) -> None:
    model, _ = M.load_pretrained(str(base), "cpu")
    with pytest.raises(BadInputError, match="targetModules"):
        lora.apply_lora(model, LoraSpec(target_modules=["no_such_proj"]))


def test_validation_keeps_the_adapters_not_a_copy_of_the_frozen_base(base: Path) -> None:
    """Early stopping's best weights are what training changes: with LoRA the adapters only (a copy of a
    pretrained base per improvement would cost its size in memory), and restoring them brings the loss back."""
    model, hf_tok = M.load_pretrained(str(base), "cpu")
    tok = from_pretrained(hf_tok)
    peft_model = lora.apply_lora(model, LoraSpec(r=4, alpha=8))
    rows = tok.encode_rows([[f"row {i}", "x"] for i in range(8)])
    loader = T.make_loader(T.RowDataset(rows), 8, tok.specials.pad, 0)
    validation = T.Validation(loader, every=1, rows=8)
    validation.check(peft_model, 1, "cpu")
    kept = validation._best_state or {}
    assert kept and all("lora_" in k for k in kept)
    before = validation.loss(peft_model, "cpu")
    with torch.no_grad():
        for p in peft_model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))  # training moved the adapters
    assert validation.loss(peft_model, "cpu") != pytest.approx(before)
    validation.restore(peft_model)
    assert validation.loss(peft_model, "cpu") == pytest.approx(before)
