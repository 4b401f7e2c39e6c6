"""A trained generator survives save and load: columns, tokenizer and weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from safesynth.errors import BadInputError
from safesynth.generator import columns as C
from safesynth.generator import model as M
from safesynth.generator.bundle import MANIFEST, Bundle, load_bundle, save_bundle
from safesynth.generator.tokenizer import train_bpe


@pytest.mark.slow  # ~2.5–4.5 s on 2 cores: saves and reloads a model through transformers
def test_save_and_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tok = train_bpe(["a", "b", "12"] * 5, 270)
    cols = [C.ColumnInfo("g", "categorical", "string", categories=["a", "b"]), C.ColumnInfo("id", "identifier")]
    model = M.build_scratch_model(M.ModelSize(1, 16, 2, 16), tok.vocab_size, tok.specials)
    save_bundle(tmp_path, Bundle(cols, tok, model, {"trainRows": 5}))
    again = load_bundle(tmp_path, "cpu")
    assert again.columns == cols and again.meta == {"trainRows": 5} and [c.name for c in again.modeled] == ["g"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.model.state_dict().values()))
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["format"] = 99
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match="re-run the train stage"):
        load_bundle(tmp_path, "cpu")


def test_a_missing_bundle_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="run the train stage"):
        load_bundle(tmp_path, "cpu")
