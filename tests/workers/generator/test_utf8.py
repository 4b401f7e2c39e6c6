"""Generated values are valid UTF-8: a row whose field bytes are not is rejected, never decoded to U+FFFD."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.serialize import FieldError
from safesynth.generator.tokenizer import byte_level_inverse, train_bpe
from safesynth.generator.validate import RowValidator

TEXTS = ["café au lait", "naïve 日本語 ☕", "plain words", "emoji 🙂 here"] * 20


def test_byte_level_inverse_is_the_tokenizers_alphabet() -> None:
    from tokenizers import pre_tokenizers

    inverse = byte_level_inverse()
    assert set(inverse) == set(pre_tokenizers.ByteLevel.alphabet()) and sorted(inverse.values()) == list(range(256))


def byte_ids(tok, data: bytes) -> list[int]:  # type: ignore[no-untyped-def]
    """The single-byte token of each byte (a byte-level vocabulary has all 256)."""
    table = tok.token_bytes()
    one = {b[0]: i for i, b in enumerate(table) if b is not None and len(b) == 1}
    return [one[b] for b in data]


def test_split_multibyte_characters_decode_and_broken_ones_are_rejected() -> None:
    tok = train_bpe(TEXTS, vocab_size=300)
    sp = tok.specials

    def row(*fields: list[int]) -> list[int]:
        return [sp.bos, *[t for j, f in enumerate(fields) for t in ([sp.sep] if j else []) + f], sp.eos]

    good = byte_ids(tok, "é日".encode())  # each character split into its bytes, one token each
    assert tok.decode_row(row(good), 1) == ["é日"]
    for broken in (b"\xc3", b"\xa9", b"ab\xe6\x97", b"\xff"):
        with pytest.raises(FieldError) as err:
            tok.decode_row(row(byte_ids(tok, broken)), 1)
        assert err.value.reason == "encoding"
    assert tok.decode_value(byte_ids(tok, b"\xc3")) == "\ufffd"  # lenient, for the grammar's token table


@pytest.mark.parametrize("training_has_fffd", [False, True])
def test_no_replacement_character_unless_the_training_text_holds_one(training_has_fffd: bool) -> None:
    texts = TEXTS + (["broken \ufffd export"] * 5 if training_has_fffd else [])
    tok = train_bpe(texts, vocab_size=400)
    col = ColumnInfo("note", "text", dtype="string", nullable=False)
    validator = RowValidator([col], tok)
    content = [i for i in range(tok.vocab_size) if i not in tok.specials.ids()]
    rng = np.random.default_rng(0)
    accepted = []
    for _ in range(3000):  # a worst-case sampler: random content tokens, as an untrained model would pick
        ids = [tok.specials.bos, *rng.choice(content, rng.integers(1, 6)).tolist(), tok.specials.eos]
        values = validator.accept(ids)
        if values is not None:
            accepted.append(values[0])
    assert validator.rejected["encoding"] > 0 and len(accepted) > 100
    with_fffd = [v for v in accepted if "\ufffd" in v]
    if training_has_fffd:  # the character itself is valid UTF-8 and may be generated from its own bytes
        fffd_ids = tok.encode_values(["\ufffd"])[0]
        assert tok.decode_row([tok.specials.bos, *fffd_ids, tok.specials.eos], 1) == ["\ufffd"]
    else:
        assert with_fffd == []


def test_the_grammar_only_lets_well_formed_utf8_through() -> None:
    """A sampler that picks uniformly among the tokens the grammar allows (an untrained model's worst
    case) never writes a field the strict decoder rejects, and still reaches multi-byte characters."""
    import torch

    from safesynth.generator.grammar import Grammar

    tok = train_bpe(TEXTS, vocab_size=300)
    col = ColumnInfo("note", "text", dtype="string", nullable=False)
    grammar = Grammar([col], tok, tok.vocab_size)
    validator = RowValidator([col], tok)
    gen = torch.Generator().manual_seed(0)
    multibyte = 0
    for _ in range(300):
        state, ids = torch.tensor([grammar.start]), [tok.specials.bos]
        for _ in range(40):
            allowed = torch.nonzero(grammar.masks[state[0]]).flatten()
            if len(ids) > 12 and bool(grammar.masks[state[0], tok.specials.eos]):
                t = torch.tensor([tok.specials.eos])
            else:
                t = allowed[torch.randint(len(allowed), (1,), generator=gen)]
            ids.append(int(t))
            state, finished = grammar.step(state, t)
            if bool(finished[0]):
                break
        values = validator.accept(ids)
        assert validator.rejected["encoding"] == 0
        if values is not None and any(ord(ch) > 127 for ch in values[0]):
            multibyte += 1
    assert multibyte > 0
