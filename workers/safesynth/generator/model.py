"""The causal LM: a small Llama built from a config in code, or a pretrained model.

From scratch (`training.baseModel` unset) the size follows the data: the issue's
measurement on a 2,000-row, 6-column table was 4 layers, hidden 128, 4 heads
(~1M parameters) in ~3 minutes on one CPU thread; bigger tables get a bigger
model (`auto_size`). Embeddings are untied so opacus's per-sample gradient
hooks see each weight once.

Pretrained (`training.baseModel` set): a Hugging Face id (from the local cache),
a local directory, or a .gguf file loaded and de-quantized by transformers with
the `gguf` package. Recent transformers keep GGUF blocks packed
and unpack them in every matmul when a kernel is installed; we ask for a dense
de-quantized model instead (LoRA wraps plain Linear layers, and a 135M model
is small). The GGUF quantizer and the config's quantization description stay
attached and `save_pretrained` rejects them, so they are cleared before saving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from safesynth.errors import BadInputError


@dataclass(frozen=True)
class ModelSize:
    layers: int
    hidden: int
    heads: int
    max_len: int

    @property
    def intermediate(self) -> int:
        """SwiGLU width ~8/3 of hidden (Llama's ratio), rounded up to a multiple of 32."""
        return int(math.ceil(self.hidden * 8 / 3 / 32) * 32)


def auto_size(n_rows: int, mean_tokens: float, max_tokens: int, training: Any = None) -> ModelSize:
    """Model size for `n_rows` rows of ~`mean_tokens` tokens; spec values (training.*) win.

    Tiers by training tokens per epoch (T = rows x tokens): T < 1.5M -> 4 x 128
    (the measured quickstart size); T < 8M -> 6 x 192; else 8 x 256. The
    sequence limit is the longest row plus a margin, rounded up to 8.
    """
    tokens = n_rows * mean_tokens
    if tokens < 1.5e6:
        layers, hidden, heads = 4, 128, 4
    elif tokens < 8e6:
        layers, hidden, heads = 6, 192, 6
    else:
        layers, hidden, heads = 8, 256, 8
    if training is not None:
        layers = training.layers or layers
        hidden = training.hidden_size or hidden
        heads = training.heads or (heads if hidden % heads == 0 else _divisor(hidden))
    if hidden % heads:
        raise BadInputError(f"spec.training.hiddenSize ({hidden}) must be a multiple of spec.training.heads ({heads})")
    max_len = (training.max_sequence_length if training is not None and training.max_sequence_length else
               int(math.ceil((max_tokens + 8) / 8) * 8))
    return ModelSize(layers, hidden, heads, max_len)


def _divisor(hidden: int) -> int:
    return next(h for h in (8, 6, 4, 2, 1) if hidden % h == 0)


def build_scratch_model(size: ModelSize, vocab_size: int, specials: Any) -> Any:
    """A randomly initialised LlamaForCausalLM of `size` (seed torch before calling for reproducibility)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=size.max_len,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=specials.bos,
        eos_token_id=specials.eos,
        pad_token_id=specials.pad,
        attention_dropout=0.0,
    )
    return LlamaForCausalLM(cfg)


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# ----------------------------------------------------------------- pretrained


@dataclass(frozen=True)
class BaseModelRef:
    """Where a pretrained model comes from: a folder or hub id, and a .gguf file inside the folder if any."""

    path: str
    gguf_file: Optional[str] = None


def resolve_base_model(ref: str) -> BaseModelRef:
    """A local .gguf file, a local folder, `<package>/<file>.gguf` shipped in a package, or a hub id."""
    p = Path(ref).expanduser()
    if ref.endswith(".gguf"):
        if not p.is_file():
            from safesynth.resources import package_file

            parts = ref.split("/")
            if len(parts) < 2:
                raise BadInputError(f"spec.training.baseModel: GGUF file {ref!r} not found")
            p = package_file(parts[0], *parts[1:])
        return BaseModelRef(str(p.resolve().parent), p.name)
    if p.is_dir():
        return BaseModelRef(str(p.resolve()))
    return BaseModelRef(ref)  # a hub id: transformers finds it in the local cache or downloads it


def quiet_transformers() -> None:
    """No tqdm bars from transformers' own loading and saving: stages report progress through
    safesynth.progress, and a pod's log should not fill with carriage-return bars."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers leaves it unannotated


def load_pretrained(ref: str, device: str, qlora: bool = False) -> tuple[Any, Any]:
    """(model, hf_tokenizer) for `ref`; float32 on CPU, bfloat16 on CUDA, 4-bit NF4 with qlora."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = resolve_base_model(ref)
    kwargs: dict[str, Any] = {}
    if base.gguf_file:
        kwargs["gguf_file"] = base.gguf_file
        try:  # transformers >= 5.2x keeps GGUF blocks packed when a kernel exists: slow matmuls, no LoRA on them
            from transformers import GgufConfig

            kwargs["quantization_config"] = GgufConfig(dequantize=True)
        except ImportError:  # older versions always de-quantize
            pass
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if qlora:
        kwargs["quantization_config"] = _qlora_config(device, base)  # (raises for GGUF, so nothing is overwritten)
    quiet_transformers()
    try:
        tok = AutoTokenizer.from_pretrained(base.path, **({"gguf_file": base.gguf_file} if base.gguf_file else {}))
        model: Any = AutoModelForCausalLM.from_pretrained(base.path, dtype=dtype, **kwargs)  # its .to is mistyped
    except (OSError, ValueError) as exc:
        raise BadInputError(f"spec.training.baseModel: cannot load {ref!r} ({type(exc).__name__}); give a local "
                            "folder, a .gguf file, or a Hugging Face id present in the local cache") from None
    if base.gguf_file:
        model.config.quantization_config = None  # set by the GGUF loader; save_pretrained refuses it (see save_model)
    if not qlora:
        model.to(device)
    return model, tok


def _qlora_config(device: str, base: BaseModelRef) -> Any:
    if device != "cuda":
        raise BadInputError("spec.training.qlora needs a CUDA device; set training.device to auto/cuda on a GPU node")
    if base.gguf_file:
        raise BadInputError("spec.training.qlora cannot re-quantize a .gguf model; use a hub id or folder, or qlora: false")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise BadInputError("spec.training.qlora needs the bitsandbytes package in the worker image") from None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16)


def save_model(model: Any, folder: str | Path) -> None:
    """save_pretrained as safetensors. A GGUF-loaded model holds de-quantized weights but still carries the
    GGUF quantizer, which save_pretrained refuses: both it and the config's description are cleared."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and "gguf" in type(quantizer).__name__.lower():
        model.hf_quantizer = None
        model.config.quantization_config = None
    quiet_transformers()
    model.save_pretrained(str(folder), safe_serialization=True)


def load_model(folder: str | Path, device: str) -> Any:
    """A saved causal LM, in eval mode on `device`."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    quiet_transformers()
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)  # its .to is mistyped
    return model.to(device).eval()
