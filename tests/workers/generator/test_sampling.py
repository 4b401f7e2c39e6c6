"""Batched KV-cache sampling: seeded, well-formed even from an untrained model, top-p as defined."""

from __future__ import annotations

import pytest
import torch

from safesynth.generator import columns as C
from safesynth.generator import model as M
from safesynth.generator.grammar import Grammar
from safesynth.generator.sampling import filter_top_p, sample_batch
from safesynth.generator.serialize import frame_to_fields
from safesynth.generator.tokenizer import train_bpe
from safesynth.generator.validate import RowValidator
from tests.workers.generator.helpers import KINDS, tiny_table


@pytest.fixture(scope="module")
def parts():  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    df = tiny_table(60)
    cols = [c for c in C.describe_columns(df, KINDS) if c.name != "note"]  # no free text: rows always end
    fields = frame_to_fields(df[[c.name for c in cols]], cols)
    tok = train_bpe((f for r in fields for f in r if f is not None), 300)
    torch.manual_seed(0)
    model = M.build_scratch_model(M.ModelSize(1, 32, 2, 64), tok.vocab_size, tok.specials).eval()
    return cols, tok, model


def draw(parts, seed: int, n: int = 24, top_p: float = 1.0) -> list[list[int]]:  # type: ignore[no-untyped-def]
    cols, tok, model = parts
    g = Grammar(cols, tok, tok.vocab_size)
    return sample_batch(model, g, tok.specials.bos, n, max_len=64, temperature=1.0, top_p=top_p,
                        generator=torch.Generator().manual_seed(seed))


def test_same_seed_same_rows_other_seed_other_rows(parts) -> None:  # type: ignore[no-untyped-def]
    assert draw(parts, 1) == draw(parts, 1)
    assert draw(parts, 1) != draw(parts, 2)


def test_untrained_model_still_writes_well_formed_rows(parts) -> None:  # type: ignore[no-untyped-def]
    cols, tok, _ = parts
    v = RowValidator(cols, tok)
    for ids in draw(parts, 3, n=40):
        v.accept(ids)
    # the grammar rules out every structural, type and category error; only ranges (floats, dates) and
    # impossible dates such as 30 February remain for the validator
    assert set(v.rejected) <= {"range", "type"} and v.valid > 0


def test_top_p_keeps_the_smallest_prefix_reaching_p() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert torch.allclose(filter_top_p(probs, 0.7), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    assert torch.allclose(filter_top_p(probs, 0.5), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert torch.equal(filter_top_p(probs, 1.0), probs)


def test_forced_fields_are_written_wherever_they_sit_and_the_rest_is_sampled(parts) -> None:  # type: ignore[no-untyped-def]
    cols, tok, model = parts
    modeled = [c for c in cols if c.modeled]
    names = [c.name for c in modeled]
    g = Grammar(cols, tok, tok.vocab_size)
    age, group, smoker = names.index("age"), names.index("group"), names.index("smoker")
    wanted = [{age: tok.encode_values(["33"])[0], group: tok.encode_values([modeled[group].categories[-1]])[0]},
              {smoker: tok.encode_values([modeled[smoker].categories[0]])[0]},
              {}]
    out = sample_batch(model, g, tok.specials.bos, 3, max_len=64, temperature=1.0, top_p=1.0,
                       generator=torch.Generator().manual_seed(0), forced=wanted)
    for ids, forced in zip(out, wanted):
        fields = tok.split_fields(ids)
        assert len(fields) == len(modeled)  # the grammar still closes every row
        for j, tokens in forced.items():
            assert fields[j] == list(tokens)
    free = sample_batch(model, g, tok.specials.bos, 3, max_len=64, temperature=1.0, top_p=1.0,
                        generator=torch.Generator().manual_seed(0))
    assert tok.split_fields(free[0])[age] != tok.encode_values(["33"])[0] or out[0] != free[0]
