"""Fields <-> token ids, with five special ids: pad, bos, eos, sep (between fields) and null.

A row is `bos f1 sep f2 sep ... fk eos`, each field tokenized on its own and a
null field written as the single `null` id. Because separators are ids and not
text, values need no escaping and decoding is exact: split on `sep`, decode each
segment. Special tokens typed inside a value (say the text "<sep>") are encoded
as plain bytes (`encode_special_tokens`), so they can never be confused with ids.

Two sources of the underlying `tokenizers.Tokenizer`:
- `train_bpe`: byte-level BPE trained here on field strings (merges never cross
  fields), digits split one per token so numbers are written digit by digit
  (a model then learns magnitudes position by position instead of memorising
  multi-digit tokens), ~1k vocabulary by default. Byte-level means any text can
  be encoded, even bytes never seen in training.
- `from_pretrained`: the pretrained model's own tokenizer; sep and null reuse
  spare special tokens it already has (SmolLM2 has fourteen), so no embedding
  rows need to be added; when there are too few, new ones are added and the
  caller resizes the embeddings.

Generated text is valid UTF-8 by the time it counts as a value: a byte-level
model can sample a lone lead byte or a continuation byte without its lead, which
the tokenizers library would decode to U+FFFD. `decode_row` decodes each field's
bytes strictly and rejects such a field (reason `encoding`), so a replacement
character reaches the output only when the training text held one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from safesynth.errors import BadInputError
from safesynth.generator.serialize import Field, FieldError

SPECIAL_NAMES = ("pad", "bos", "eos", "sep", "null")
BPE_SPECIALS = ["<pad>", "<bos>", "<eos>", "<sep>", "<null>"]
TOKENIZER_FILE = "tokenizer.json"
SPECIALS_FILE = "specials.json"


@dataclass(frozen=True)
class Specials:
    pad: int
    bos: int
    eos: int
    sep: int
    null: int

    def ids(self) -> set[int]:
        return {self.pad, self.bos, self.eos, self.sep, self.null}


class FieldTokenizer:
    """A `tokenizers.Tokenizer` plus the special ids of the row layout."""

    def __init__(self, backend: Any, specials: Specials, source: str = "bpe", added_tokens: int = 0) -> None:
        self.backend = backend
        self.backend.encode_special_tokens = True
        self.specials = specials
        self.source = source
        self.added_tokens = added_tokens  # tokens added to a pretrained vocabulary (embeddings must grow)
        self._bytes: Optional[list[Optional[bytes]]] = None  # per id, built on first strict decode

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size(with_added_tokens=True))

    # ------------------------------------------------------------------ encode
    def encode_values(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each string, no special tokens."""
        if not texts:
            return []
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def encode_rows(self, rows: Sequence[Sequence[Field]]) -> list[list[int]]:
        """`bos f1 sep ... fk eos` per row; strings are tokenized in one batch for speed."""
        flat = [f for row in rows for f in row if f is not None]
        encoded = iter(self.encode_values(flat))
        sp = self.specials
        out = []
        for row in rows:
            ids = [sp.bos]
            for j, f in enumerate(row):
                if j:
                    ids.append(sp.sep)
                ids.extend([sp.null] if f is None else next(encoded))
            ids.append(sp.eos)
            out.append(ids)
        return out

    # ------------------------------------------------------------------ decode
    def decode_value(self, ids: Sequence[int], *, strict: bool = False) -> str:
        """The text of a value's ids. `strict`: FieldError('encoding') when its bytes are not UTF-8, instead of
        the U+FFFD the library puts there (the grammar reads single tokens leniently; rows are strict)."""
        if not ids:
            return ""
        if strict:
            table = self.token_bytes()
            parts = [table[i] if 0 <= i < len(table) else None for i in ids] if table is not None else [None]
            if all(p is not None for p in parts):
                try:
                    return b"".join(p for p in parts if p is not None).decode("utf-8")
                except UnicodeDecodeError:
                    raise FieldError("encoding") from None
        return str(self.backend.decode(list(ids), skip_special_tokens=False))

    def token_bytes(self) -> Optional[list[Optional[bytes]]]:
        """Each id's bytes when the backend decodes with ByteLevel alone (our BPE, GPT-2-style pretrained
        tokenizers); None for other decoders, whose values are then decoded leniently. Added tokens map to None."""
        if self._bytes is None:
            decoder = (json.loads(self.backend.to_str()).get("decoder") or {}).get("type")
            if decoder != "ByteLevel":
                self._bytes = []
            else:
                inverse = byte_level_inverse()
                vocab = self.backend.get_vocab(with_added_tokens=False)
                table: list[Optional[bytes]] = [None] * self.vocab_size
                for token, i in vocab.items():
                    if 0 <= i < len(table) and all(ch in inverse for ch in token):
                        table[i] = bytes(inverse[ch] for ch in token)
                self._bytes = table
        return self._bytes or None

    def split_fields(self, ids: Sequence[int]) -> list[list[int]]:
        """Segments between separators of a row's ids (bos, eos and trailing pads removed)."""
        sp = self.specials
        body = list(ids)
        if body and body[0] == sp.bos:
            body = body[1:]
        if sp.eos not in body:
            raise FieldError("unfinished")
        body = body[: body.index(sp.eos)]
        segments: list[list[int]] = [[]]
        for t in body:
            if t == sp.sep:
                segments.append([])
            elif t in (sp.bos, sp.pad):
                raise FieldError("structure")
            else:
                segments[-1].append(t)
        return segments

    def decode_row(self, ids: Sequence[int], n_fields: int) -> list[Field]:
        """Fields of one generated row; FieldError('structure' | 'unfinished' | 'columns') when malformed."""
        segments = self.split_fields(ids)
        if len(segments) != n_fields:
            raise FieldError("columns")
        out: list[Field] = []
        for seg in segments:
            if seg == [self.specials.null]:
                out.append(None)
            elif self.specials.null in seg:
                raise FieldError("structure")
            else:
                out.append(self.decode_value(seg, strict=True))
        return out

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(folder / TOKENIZER_FILE))
        meta = {"specials": asdict(self.specials), "source": self.source, "addedTokens": self.added_tokens}
        (folder / SPECIALS_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> "FieldTokenizer":
        from tokenizers import Tokenizer

        folder = Path(folder)
        meta = json.loads((folder / SPECIALS_FILE).read_text())
        backend = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        return cls(backend, Specials(**meta["specials"]), meta.get("source", "bpe"), meta.get("addedTokens", 0))


def byte_level_inverse() -> dict[str, int]:
    """Character → byte of the ByteLevel alphabet (GPT-2's `bytes_to_unicode`, Radford et al. 2019): printable
    Latin-1 bytes stand for themselves, the other 68 bytes are shifted to U+0100 onwards, in byte order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in kept]
    return {**{chr(b): b for b in kept}, **{chr(256 + n): b for n, b in enumerate(shifted)}}


def train_bpe(texts: Iterable[str], vocab_size: int = 1024, min_frequency: int = 2) -> FieldTokenizer:
    """Byte-level BPE over field strings, digits one per token, five specials at ids 0-4."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=BPE_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    ids = [backend.token_to_id(t) for t in BPE_SPECIALS]  # the trainer puts every special token first
    return FieldTokenizer(backend, Specials(*(int(i) for i in ids if i is not None)), source="bpe")


def from_pretrained(hf_tokenizer: Any) -> FieldTokenizer:
    """Wrap a Hugging Face fast tokenizer; sep/null reuse spare special tokens, else new ones are added."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise BadInputError("training.baseModel: its tokenizer has no fast (tokenizers) backend; use a model with "
                            "a tokenizer.json")
    backend = backend.__class__.from_str(backend.to_str())  # a private copy: we change its settings
    eos = hf_tokenizer.eos_token_id
    if eos is None:
        raise BadInputError("training.baseModel: its tokenizer defines no end-of-sequence token")
    reserved = {eos, hf_tokenizer.unk_token_id, hf_tokenizer.pad_token_id}
    spare = sorted(i for i, tok in getattr(hf_tokenizer, "added_tokens_decoder", {}).items()
                   if getattr(tok, "special", False) and i not in reserved and i != hf_tokenizer.bos_token_id)
    bos: Optional[int] = hf_tokenizer.bos_token_id if hf_tokenizer.bos_token_id not in (None, eos) else None
    added = 0
    need = 2 + (bos is None)
    if len(spare) < need:
        from tokenizers import AddedToken

        new = [f"<|safesynth_{i}|>" for i in range(need - len(spare))]
        backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in new])
        spare += [backend.token_to_id(t) for t in new]
        added = len(new)
    if bos is None:
        bos = spare.pop(0)
    pad = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else eos
    return FieldTokenizer(backend, Specials(pad=pad, bos=bos, eos=eos, sep=spare[0], null=spare[1]),
                          source="pretrained", added_tokens=added)
