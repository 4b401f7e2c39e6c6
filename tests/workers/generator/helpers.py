"""Tiny tables, specs and models shared by the generator and stage tests (fast: seconds, one thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from safesynth.spec import parse_spec
from safesynth.spec.models import SafeSynthJobSpec

TINY_TRAINING = {"layers": 2, "hiddenSize": 32, "heads": 2, "epochs": 1, "batchSize": 16, "threads": 1,
                 "vocabSize": 300}


def tiny_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Typed like prepare's output: one column of every kind the generator handles."""
    rng = np.random.default_rng(seed)
    note = rng.choice(["fine", 'said "ok"\nthen left', "café ☕", None], n)
    return pd.DataFrame({
        "pid": pd.Series([f"P-{i:04d}" for i in range(n)], dtype="string"),
        "age": pd.Series(rng.integers(18, 90, n), dtype="int64"),
        "income": pd.Series(rng.normal(50_000, 12_000, n).round(2), dtype="float64"),
        "group": pd.Series(rng.choice(["a", "b", "c"], n), dtype="string"),
        "smoker": pd.Series(rng.random(n) < 0.4, dtype="bool"),
        "visit": pd.Series(pd.date_range("2020-01-01", periods=n, freq="D")),
        "note": pd.Series(note, dtype="string"),
        "blank": pd.Series([np.nan] * n, dtype="float64"),
    })


KINDS = {"pid": "identifier", "age": "integer", "income": "float", "group": "categorical", "smoker": "boolean",
         "visit": "datetime", "note": "text", "blank": "empty"}


def schema_json(df: pd.DataFrame, kinds: dict[str, str] = KINDS) -> dict[str, Any]:
    """The part of prepare's schema.json the generator reads."""
    return {"schema_version": 1, "n_rows": len(df),
            "columns": [{"name": c, "kind": kinds[c], "dtype": str(df[c].dtype)} for c in df.columns]}


def write_prepared(store: Any, df: pd.DataFrame, prefix: str = "prepare") -> None:
    """Stand in for the prepare (or pii) stage: its train table and schema."""
    store.write_table(f"{prefix}/train.parquet", df)
    store.write_json(f"{prefix}/schema.json", schema_json(df))


def tiny_spec(tmp_path: Path, **sections: Any) -> SafeSynthJobSpec:
    training = {**TINY_TRAINING, **sections.pop("training", {})}
    return parse_spec({"data": {"uri": str(tmp_path / "unused.csv")}, "training": training, **sections})


def tiny_pretrained_dir(path: Path) -> Path:
    """A random 1-layer Llama and a byte-level BPE tokenizer saved like a Hugging Face model folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(["hello world", "2020-01-01", "abc"] * 5, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<x1>", "<x2>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  unk_token="<|endoftext|>", additional_special_tokens=["<x1>", "<x2>"])
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=backend.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path
