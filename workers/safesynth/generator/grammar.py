"""The row layout as a token-level state machine, so the sampler can only write well-formed rows.

Each modeled column gets an automaton over tokens:
- categorical / boolean columns (and columns held at a fixed value): a trie of
  the allowed categories' token paths, so only those categories can be written;
- integer / float / date columns: the character automata of formats.py lifted
  to tokens (a token may follow when each of its characters is accepted);
- free text: any content tokens that keep the bytes well-formed UTF-8 (byte-level
  tokenizers), else any content token.
Around them the layout: a field ends with `sep` (the last one with `eos`) only
in an accepting state; `null` only as a whole field where the column allows
nulls. All of it is flattened into tensors (a mask per state, sorted
(state, token) -> state keys, per-state end/null targets) so one sampling step
advances every sequence of the batch with a handful of tensor operations.

What the grammar cannot see (a number out of range, 30 February, a training
copy) is left to the validator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from safesynth.generator import formats
from safesynth.generator.column_info import DATE, ISO, ColumnInfo
from safesynth.generator.tokenizer import FieldTokenizer


@dataclass
class Automaton:
    """Token automaton of one column: local states 0..n-1, start 0."""

    n: int = 1
    accept: set[int] = field(default_factory=set)
    edges: dict[tuple[int, int], int] = field(default_factory=dict)
    default: dict[int, int] = field(default_factory=dict)  # state -> next, for any allowed content token
    free_mask: Any = None  # the content tokens of `default` states

    def new(self) -> int:
        self.n += 1
        return self.n - 1


def trie_automaton(paths: Sequence[Sequence[int]]) -> Automaton:
    """Exactly the given token paths (a category may be a prefix of another: both end states accept)."""
    a = Automaton()
    for path in paths:
        q = 0
        for t in path:
            if (q, t) not in a.edges:
                a.edges[(q, t)] = a.new()
            q = a.edges[(q, t)]
        a.accept.add(q)
    return a


def dfa_automaton(dfa: formats.CharDFA, token_text: dict[int, str]) -> Automaton:
    """`dfa` lifted to tokens: states are the DFA states reachable by whole tokens from the start."""
    alphabet = dfa.alphabet
    candidates = [(t, s) for t, s in token_text.items() if s and set(s) <= alphabet]
    local = {dfa.start: 0}
    a = Automaton()
    todo = [dfa.start]
    while todo:
        q = todo.pop()
        for t, s in candidates:
            nxt = dfa.run(q, s)
            if nxt is None:
                continue
            if nxt not in local:
                local[nxt] = a.new()
                todo.append(nxt)
            a.edges[(local[q], t)] = local[nxt]
    a.accept = {local[q] for q in dfa.accept if q in local}
    return a


def free_automaton(content_mask: Any, allow_empty: bool) -> Automaton:
    """Any content token, any length (empty too when allow_empty)."""
    a = Automaton(n=2, accept={1} | ({0} if allow_empty else set()), default={0: 1, 1: 1}, free_mask=content_mask)
    return a


# UTF-8 decoder states (RFC 3629 §4): where the bytes so far leave a well-formed prefix.
_LEAD, _CONT1, _CONT2, _CONT3, _AFTER_E0, _AFTER_ED, _AFTER_F0, _AFTER_F4 = range(8)
_UTF8_STATES = 8


def utf8_step(state: int, byte: int) -> Optional[int]:
    """The decoder state after `byte`, or None when no well-formed UTF-8 continues this way.

    Written out because the grammar needs the decoder's intermediate states per token, which
    Python's codecs do not expose; the ranges are RFC 3629's (no overlongs, no surrogates, ≤ U+10FFFF).
    """
    if state == _LEAD:
        if byte < 0x80:
            return _LEAD
        if 0xC2 <= byte <= 0xDF:
            return _CONT1
        if byte == 0xE0:
            return _AFTER_E0
        if byte == 0xED:
            return _AFTER_ED
        if 0xE1 <= byte <= 0xEF:
            return _CONT2
        if byte == 0xF0:
            return _AFTER_F0
        if byte == 0xF4:
            return _AFTER_F4
        if 0xF1 <= byte <= 0xF3:
            return _CONT3
        return None
    low, high, nxt = {
        _CONT1: (0x80, 0xBF, _LEAD), _CONT2: (0x80, 0xBF, _CONT1), _CONT3: (0x80, 0xBF, _CONT2),
        _AFTER_E0: (0xA0, 0xBF, _CONT1), _AFTER_ED: (0x80, 0x9F, _CONT1),
        _AFTER_F0: (0x90, 0xBF, _CONT2), _AFTER_F4: (0x80, 0x8F, _CONT2),
    }[state]
    return nxt if low <= byte <= high else None


def utf8_automaton(token_bytes: Sequence[Optional[bytes]], content_ids: Sequence[int],
                   allow_empty: bool) -> Automaton:
    """Any content tokens whose bytes together stay well-formed UTF-8, ending on a character boundary.

    A byte-level model can otherwise sample a lone continuation byte or stop inside a character;
    such a field used to be rejected after sampling (reason `encoding`), which an undertrained model
    does for most rows. States: the UTF-8 decoder's (start = boundary), plus one state that marks
    "at least one token written" when empty values are not allowed.
    """
    a = Automaton(n=2 * _UTF8_STATES)  # state k: decoder state k%8; k >= 8: something was written

    def after(state: int, data: bytes) -> Optional[int]:
        cur: Optional[int] = state
        for b in data:
            cur = utf8_step(cur, b) if cur is not None else None
        return cur

    for t in content_ids:
        data = token_bytes[t] if t < len(token_bytes) else None
        if not data:
            continue
        for q in range(_UTF8_STATES):
            end = after(q, data)
            if end is not None:
                if q == _LEAD:  # before anything is written the decoder is at a boundary
                    a.edges[(q, t)] = _UTF8_STATES + end
                a.edges[(_UTF8_STATES + q, t)] = _UTF8_STATES + end
    a.accept = {_UTF8_STATES + _LEAD} | ({_LEAD} if allow_empty else set())
    return a


SMALL_INTEGER_RANGE = 2000  # integer ranges up to this size are spelled out exactly (a character trie)
MAX_YEAR_SPAN = 1000  # date bounds spanning more years than this do not limit the year
# Date columns spanning up to this many days are spelled out day by day (a character trie of about
# two states a day), so the sampler cannot write a day out of range or an impossible date; wider
# spans keep the generic YYYY-MM-DD automaton (smaller grammar) and leave range checks to the validator.
EXACT_DATE_DAYS = 1500


def column_dfa(col: ColumnInfo) -> Optional[formats.CharDFA]:
    """The character automaton of a column's canonical spelling (within its bounds); None for free-form columns."""
    bounds = (col.minimum, col.maximum) if col.minimum is not None and col.maximum is not None else None
    if col.kind == "integer":
        if bounds is None:
            return formats.integer_dfa(formats.digits_of(None), negative=True, min_digits=1)
        lo, hi = bounds
        if hi - lo <= SMALL_INTEGER_RANGE:
            return formats.strings_dfa([str(i) for i in range(math.ceil(lo), math.floor(hi) + 1)])
        return formats.integer_dfa(formats.digits_of(max(abs(lo), abs(hi))), negative=lo < 0,
                                   min_digits=formats.digits_of(lo) if lo >= 1 else 1)
    if col.kind == "float":
        if bounds is None:
            return formats.float_dfa()
        lo, hi = bounds
        biggest = max(abs(lo), abs(hi))
        positional = (biggest < 1e16 and ((lo > 0 and lo >= 1e-6) or lo <= 0)
                      and ((hi < 0 and hi <= -1e-6) or hi >= 0))
        return formats.float_dfa(formats.digits_of(biggest), negative=lo < 0,
                                 min_int_digits=formats.digits_of(lo) if lo >= 1 else 1, exponent=not positional,
                                 max_decimals=col.extra.get("decimals"))
    if col.kind != "datetime" or col.style not in (DATE, ISO):
        return None
    if col.style == DATE and bounds is not None and 0 <= bounds[1] - bounds[0] <= EXACT_DATE_DAYS * 86_400:
        return formats.strings_dfa(_dates_between(*bounds))
    years = None
    if bounds is not None:
        y0, y1 = _year(bounds[0]), _year(bounds[1])
        if 0 <= y1 - y0 <= MAX_YEAR_SPAN and y0 >= 1000 and y1 <= 9999:
            years = [str(y) for y in range(y0, y1 + 1)]
    return formats.date_dfa(years) if col.style == DATE else formats.iso_dfa(years, offset=col.tz_aware)


def _dates_between(lo: float, hi: float) -> list[str]:
    """Every YYYY-MM-DD day from lo to hi (epoch seconds, inclusive): no 30 February, no day out of bounds."""
    import datetime as dt

    epoch = dt.datetime(1970, 1, 1)
    first = (epoch + dt.timedelta(seconds=lo)).date()
    last = (epoch + dt.timedelta(seconds=hi)).date()
    if dt.datetime.combine(first, dt.time()) < epoch + dt.timedelta(seconds=lo):
        first += dt.timedelta(days=1)  # lo falls inside a day: that day's midnight is out of bounds
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _year(seconds: float) -> int:
    import datetime as dt

    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).year


class Grammar:
    """Allowed tokens and transitions of the row layout, as tensors for batched decoding."""

    def __init__(self, cols: Sequence[ColumnInfo], tokenizer: FieldTokenizer, vocab_size: int,
                 fixed: Optional[dict[str, str]] = None, device: str = "cpu") -> None:
        import torch

        sp = tokenizer.specials
        self.vocab_size = vocab_size
        cols = [c for c in cols if c.modeled]
        fixed = fixed or {}
        content = torch.zeros(vocab_size, dtype=torch.bool)
        content[: tokenizer.vocab_size] = True
        content[sorted(sp.ids())] = False
        token_text = {i: tokenizer.decode_value([i]) for i in range(min(vocab_size, tokenizer.vocab_size))
                      if content[i]}
        byte_table = tokenizer.token_bytes()  # None for tokenizers that are not plain byte-level
        content_ids = sorted(token_text)

        masks: list[Any] = []
        end_tok: list[int] = []
        end_next: list[int] = []  # filled once every column's start is known
        null_next: list[int] = []
        default_next: list[int] = []
        keys: dict[int, int] = {}
        starts: list[int] = []
        owner: list[int] = []  # column index of each state

        def add_state(mask: Any, end: int, j: int) -> int:
            masks.append(mask)
            end_tok.append(end)
            end_next.append(-1)
            null_next.append(-1)
            default_next.append(-1)
            owner.append(j)
            return len(masks) - 1

        for j, col in enumerate(cols):
            end = sp.sep if j < len(cols) - 1 else sp.eos
            if col.name in fixed:
                auto = trie_automaton(tokenizer.encode_values([fixed[col.name]]))
            elif col.kind in ("categorical", "boolean") and col.categories:
                auto = trie_automaton(tokenizer.encode_values(col.categories))
            elif (dfa := column_dfa(col)) is not None:
                auto = dfa_automaton(dfa, token_text)
            elif byte_table is not None:
                auto = utf8_automaton(byte_table, content_ids, allow_empty=col.kind == "text")
            else:
                auto = free_automaton(content, allow_empty=col.kind == "text")
            base = len(masks)
            for q in range(auto.n):
                mask = auto.free_mask.clone() if q in auto.default else torch.zeros(vocab_size, dtype=torch.bool)
                if q in auto.accept:
                    mask[end] = True
                add_state(mask, end, j)
                if q in auto.default:
                    default_next[base + q] = base + auto.default[q]
            for (q, t), r in auto.edges.items():
                masks[base + q][t] = True
                keys[(base + q) * vocab_size + t] = base + r
            if col.nullable and col.name not in fixed:
                after_null = add_state(torch.zeros(vocab_size, dtype=torch.bool), end, j)
                masks[after_null][end] = True
                masks[base][sp.null] = True
                null_next[base] = after_null
            starts.append(base)
        self.done = add_state(torch.zeros(vocab_size, dtype=torch.bool), -1, len(cols))
        masks[self.done][sp.pad] = True
        default_next[self.done] = self.done
        for s, j in enumerate(owner):
            if s != self.done:
                end_next[s] = starts[j + 1] if j + 1 < len(cols) else self.done
        self.start = starts[0] if starts else self.done
        # column j's start state -> j (-1 elsewhere): where the sampler begins writing a forced field
        column_at = torch.full((len(masks),), -1, dtype=torch.long)
        column_at[torch.tensor(starts, dtype=torch.long)] = torch.arange(len(starts))
        self.column_at = column_at.to(device)
        self.n_columns = len(starts)

        self.masks = torch.stack(masks).to(device)
        self.end_tok = torch.tensor(end_tok, device=device)
        self.end_next = torch.tensor(end_next, device=device)
        self.null_next = torch.tensor(null_next, device=device)
        self.default_next = torch.tensor(default_next, device=device)
        ordered = sorted(keys)
        self.keys = torch.tensor(ordered or [-1], dtype=torch.long, device=device)
        self.values = torch.tensor([keys[k] for k in ordered] or [self.done], dtype=torch.long, device=device)
        self.null_id, self.eos_id = sp.null, sp.eos
        self.n_states = len(masks)

    def step(self, state: Any, tok: Any) -> tuple[Any, Any]:
        """(next state, finished) for each sequence after it emitted `tok` in `state`."""
        import torch

        is_end = tok == self.end_tok[state]
        nulls = self.null_next[state]
        is_null = (tok == self.null_id) & (nulls >= 0)
        nxt = self.default_next[state].clone()
        lookup = ~is_end & ~is_null & (nxt < 0)
        if bool(lookup.any()):
            k = state[lookup] * self.vocab_size + tok[lookup]
            pos = torch.searchsorted(self.keys, k).clamp(max=len(self.keys) - 1)
            nxt[lookup] = torch.where(self.keys[pos] == k, self.values[pos], torch.full_like(k, self.done))
        nxt = torch.where(is_null, nulls, nxt)
        nxt = torch.where(is_end, self.end_next[state], nxt)
        finished = is_end & (self.end_tok[state] == self.eos_id)
        return nxt, finished
