"""LoRA adapters on a pretrained model, through peft.

Only the low-rank matrices train, so a 135M-3B model fine-tunes on one GPU and
DP-SGD's per-sample gradients stay small (opacus's "hooks" mode handles peft's
LoRA Linear layers). After training the adapter is merged into the weights so
the saved model loads without peft or the base model's files.
"""

from __future__ import annotations

import warnings
from typing import Any

from safesynth.errors import BadInputError


def apply_lora(model: Any, lora: Any, quantized: bool = False) -> Any:
    """`model` wrapped by peft with spec.training.lora (r, alpha, dropout, targetModules)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)  # type: ignore[no-untyped-call]
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)  # peft calls a deprecated transformers API
            return get_peft_model(model, config)
    except ValueError:
        names = sorted({n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if "." in n})[:20]
        raise BadInputError(
            "spec.training.lora.targetModules: none of the named modules exist in the base model; "
            f"module names there include: {', '.join(names)}"
        ) from None


def merge(model: Any) -> Any:
    """The base model with the adapter folded into its weights (a plain transformers model)."""
    return model.merge_and_unload()


def grow_embeddings(model: Any, vocab_size: int) -> None:
    """Make room for special tokens added to a pretrained vocabulary (tokenizer.from_pretrained)."""
    if model.get_input_embeddings().num_embeddings < vocab_size:
        model.resize_token_embeddings(vocab_size)
