"""FieldTokenizer: digits one per token, specials only as ids, exact decoding, clear structural errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from safesynth.generator.serialize import FieldError
from safesynth.generator.tokenizer import FieldTokenizer, from_pretrained, train_bpe

CORPUS = ["12345", "hello world", "hello there", "2020-01-01", "<sep> and <null> typed by a user"] * 20


@pytest.fixture(scope="module")
def tok() -> FieldTokenizer:
    return train_bpe(CORPUS, vocab_size=300)


def test_digits_are_one_token_each(tok: FieldTokenizer) -> None:
    ids = tok.encode_values(["9876543210"])[0]
    assert len(ids) == 10 and [tok.decode_value([i]) for i in ids] == list("9876543210")


def test_special_token_text_inside_a_value_is_plain_bytes(tok: FieldTokenizer) -> None:
    row = tok.encode_rows([["<sep>", None, "<null><eos>"]])[0]
    sp = tok.specials
    assert row[0] == sp.bos and row[-1] == sp.eos and row.count(sp.sep) == 2 and row.count(sp.null) == 1
    assert tok.decode_row(row, 3) == ["<sep>", None, "<null><eos>"]


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda r, sp: r[:-1], "unfinished"),
    (lambda r, sp: r[:2] + [sp.sep] + r[2:], "columns"),
    (lambda r, sp: [sp.bos] + [sp.null] + r[1:], "structure"),
    (lambda r, sp: r[:2] + [sp.bos] + r[2:], "structure"),
])
def test_malformed_rows_fail_with_a_reason(tok: FieldTokenizer, edit, reason: str) -> None:  # type: ignore[no-untyped-def]
    row = tok.encode_rows([["12", "hello", "x"]])[0]
    with pytest.raises(FieldError) as info:
        tok.decode_row(edit(row, tok.specials), 3)
    assert info.value.reason == reason


def test_save_and_load_keep_ids(tok: FieldTokenizer, tmp_path: Path) -> None:
    tok.save(tmp_path)
    again = FieldTokenizer.load(tmp_path)
    rows = [["12345", None, "hello <sep>"]]
    assert again.encode_rows(rows) == tok.encode_rows(rows) and again.specials == tok.specials


def test_pretrained_tokenizer_reuses_spare_specials_or_adds_them(tok: FieldTokenizer) -> None:
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=tok.backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")
    wrapped = from_pretrained(hf)  # <sep> and <null> are registered specials here, but not *named* ones: reused
    assert wrapped.added_tokens == 0 and wrapped.specials.eos == hf.eos_token_id
    assert {wrapped.specials.sep, wrapped.specials.null} == {tok.specials.sep, tok.specials.null}
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer, backend.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    backend.train_from_iterator(["abc"] * 5, trainers.BpeTrainer(
        vocab_size=270, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bare = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>")  # only eos: bos, sep, null are added
    bare_wrapped = from_pretrained(bare)
    assert bare_wrapped.added_tokens == 3 and bare_wrapped.vocab_size == backend.get_vocab_size() + 3
    assert bare_wrapped.decode_row(bare_wrapped.encode_rows([["abc", None]])[0], 2) == ["abc", None]
