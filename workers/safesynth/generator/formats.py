"""Character automata for the canonical spellings of numbers and dates (see serialize.py).

The sampler (grammar.py) lifts each automaton to tokens: a token may follow
when all of its characters are accepted one after the other, so the model can
only write well-formed fields, e.g. one decimal point, no leading zeros in
integers, months 01-12. Hand-built rather than compiled from regular
expressions: four small fixed languages do not justify a regex-to-DFA
dependency, and the states are easy to read here.

- integer:  -?(0|[1-9][0-9]{0,K-1}), K = digits of the largest |bound|, at
            least as many digits as a positive lower bound; or exactly the
            integers of the range when it is small (`strings_dfa`)
- float:    the same integer part, (.[0-9]{1,D})? with D the most decimals
            seen (when known), and (e[+-][0-9]+)? unless the bounds say
            float_text writes the column positionally
- date:     YYYY-MM-DD with MM in 01-12, DD in 01-31, and the year within the
            bounds' years when they are known
- iso:      date T hh:mm:ss (.fraction)?, then (+hh:mm | -hh:mm | Z) on
            tz-aware columns only
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Optional

DIGITS = frozenset("0123456789")
NONZERO = frozenset("123456789")
MAX_INT_DIGITS = 19  # int64
MAX_FLOAT_INT_DIGITS = 16  # float_text writes positional below 1e16


@dataclass
class CharDFA:
    """States are ints; `edges[q]` lists (characters, next state); `accept` are final states."""

    start: int = 0
    accept: set[int] = field(default_factory=set)
    edges: dict[int, list[tuple[frozenset[str], int]]] = field(default_factory=dict)
    size: int = 1

    def new(self, accepting: bool = False) -> int:
        q = self.size
        self.size += 1
        if accepting:
            self.accept.add(q)
        return q

    def add(self, q: int, chars: frozenset[str] | str, target: int) -> None:
        self.edges.setdefault(q, []).append((frozenset(chars), target))

    def step(self, q: int, ch: str) -> Optional[int]:
        for chars, target in self.edges.get(q, ()):
            if ch in chars:
                return target
        return None

    def run(self, q: int, text: str) -> Optional[int]:
        """The state after reading `text` from `q`, None when it leaves the language."""
        for ch in text:
            nxt = self.step(q, ch)
            if nxt is None:
                return None
            q = nxt
        return q

    @property
    def alphabet(self) -> frozenset[str]:
        return frozenset(c for lst in self.edges.values() for chars, _ in lst for c in chars)


def _integer_part(dfa: CharDFA, q_from: int, max_digits: int, negative: bool, *, min_digits: int = 1,
                  signed_zero: bool = False) -> list[int]:
    """Add sign and integer digits after `q_from`; returns the states that end a whole integer part.

    At least `min_digits` digits (so "0" only when min_digits is 1). "-0" is an
    integer nobody writes, but the start of "-0.5" (signed_zero, for floats).
    """
    ends = []
    if min_digits <= 1:
        zero = dfa.new()
        dfa.add(q_from, "0", zero)
        ends.append(zero)
    starts = [q_from]
    if negative:
        signed = dfa.new()
        dfa.add(q_from, "-", signed)
        starts.append(signed)
        if signed_zero and min_digits <= 1:
            dfa.add(signed, "0", ends[0])
    digits = [dfa.new() for _ in range(max(1, max_digits))]
    for s in starts:
        dfa.add(s, NONZERO, digits[0])
    for a, b in itertools.pairwise(digits):
        dfa.add(a, DIGITS, b)
    ends += digits[max(0, min_digits - 1):]
    return ends


def integer_dfa(max_digits: int = MAX_INT_DIGITS, negative: bool = True, min_digits: int = 1) -> CharDFA:
    dfa = CharDFA()
    dfa.accept.update(_integer_part(dfa, dfa.start, max_digits, negative, min_digits=min_digits))
    return dfa


def float_dfa(max_int_digits: int = MAX_FLOAT_INT_DIGITS, negative: bool = True, min_int_digits: int = 1,
              exponent: bool = True, max_decimals: Optional[int] = None) -> CharDFA:
    dfa = CharDFA()
    ints = _integer_part(dfa, dfa.start, max_int_digits, negative, min_digits=min_int_digits, signed_zero=True)
    dfa.accept.update(ints)
    fracs: list[int] = []
    if max_decimals != 0:  # 0: every value is integral, no point at all
        dot = dfa.new()
        for q in ints:
            dfa.add(q, ".", dot)
        if max_decimals is None:
            fracs = [dfa.new(accepting=True)]
            dfa.add(dot, DIGITS, fracs[0])
            dfa.add(fracs[0], DIGITS, fracs[0])
        else:
            fracs = [dfa.new(accepting=True) for _ in range(max_decimals)]
            dfa.add(dot, DIGITS, fracs[0])
            for a, b in itertools.pairwise(fracs):
                dfa.add(a, DIGITS, b)
    if exponent:
        e, e_sign, e_digits = dfa.new(), dfa.new(), dfa.new(accepting=True)
        for q in [*ints, *fracs]:
            dfa.add(q, "e", e)
        dfa.add(e, "+-", e_sign)
        dfa.add(e_sign, DIGITS, e_digits)
        dfa.add(e_digits, DIGITS, e_digits)
    return dfa


def strings_dfa(strings: list[str], q_from: Optional[int] = None, dfa: Optional[CharDFA] = None) -> CharDFA:
    """Exactly `strings` (a character trie), e.g. every integer of a small range; appended after q_from if given."""
    dfa = dfa or CharDFA()
    root = dfa.start if q_from is None else q_from
    for text in strings:
        q = root
        for ch in text:
            nxt = dfa.step(q, ch)
            if nxt is None:
                nxt = dfa.new()
                dfa.add(q, ch, nxt)
            q = nxt
        dfa.accept.add(q)
    return dfa


def _chain(dfa: CharDFA, q: int, parts: list[frozenset[str] | str]) -> int:
    for chars in parts:
        nxt = dfa.new()
        dfa.add(q, chars, nxt)
        q = nxt
    return q


def _two_digits(dfa: CharDFA, q: int, first_then_second: list[tuple[str, frozenset[str] | str]],
                end: Optional[int] = None) -> int:
    """Two digits where the second's range depends on the first: [(first chars, second chars), ...]."""
    end = dfa.new() if end is None else end
    for first, second in first_then_second:
        mid = dfa.new()
        dfa.add(q, first, mid)
        dfa.add(mid, second, end)
    return end


_MONTH_DAYS: tuple[tuple[tuple[str, ...], list[tuple[str, frozenset[str] | str]]], ...] = (
    (("01", "03", "05", "07", "08", "10", "12"), [("0", NONZERO), ("12", DIGITS), ("3", "01")]),
    (("04", "06", "09", "11"), [("0", NONZERO), ("12", DIGITS), ("3", "0")]),
    (("02",), [("0", NONZERO), ("12", DIGITS)]),
)


def _date(dfa: CharDFA, years: Optional[list[str]] = None) -> int:
    if years:
        before = set(dfa.accept)
        strings_dfa(years, dfa.start, dfa)
        ends = set(dfa.accept) - before
        dfa.accept.difference_update(ends)
        q = dfa.new()
        for e in ends:
            dfa.add(e, "-", q)
    else:
        q = _chain(dfa, dfa.start, [DIGITS, DIGITS, DIGITS, DIGITS, "-"])
    # The month decides the last day (February up to 29: leap years are left to the validator), so the
    # sampler cannot write 31 April; each month group has its own path to one shared end state.
    end = dfa.new()
    for months, days in _MONTH_DAYS:
        mid = dfa.new()
        for m in months:
            first = dfa.step(q, m[0])
            if first is None:
                first = dfa.new()
                dfa.add(q, m[0], first)
            dfa.add(first, m[1], mid)
        dash = _chain(dfa, mid, ["-"])
        _two_digits(dfa, dash, days, end)
    return end


def date_dfa(years: Optional[list[str]] = None) -> CharDFA:
    """YYYY-MM-DD; `years` (4-digit strings) limits the year when given."""
    dfa = CharDFA()
    dfa.accept.add(_date(dfa, years))
    return dfa


def iso_dfa(years: Optional[list[str]] = None, offset: bool = False) -> CharDFA:
    """date T hh:mm:ss(.fraction)?, then an offset (+hh:mm, -hh:mm or Z) exactly when `offset` (tz-aware
    columns): a column mixing both would not read back as one dtype."""
    dfa = CharDFA()
    q = _chain(dfa, _date(dfa, years), ["T"])
    q = _two_digits(dfa, q, [("01", DIGITS), ("2", "0123")])
    q = _chain(dfa, q, [":", "012345", DIGITS, ":", "012345", DIGITS])
    dot, frac = dfa.new(), dfa.new()
    dfa.add(q, ".", dot)
    dfa.add(dot, DIGITS, frac)
    dfa.add(frac, DIGITS, frac)
    if not offset:
        dfa.accept.update({q, frac})
        return dfa
    zulu = dfa.new(accepting=True)
    sign = dfa.new()
    for base in (q, frac):
        dfa.add(base, "Z", zulu)
        dfa.add(base, "+-", sign)
    dfa.accept.add(_chain(dfa, sign, [DIGITS, DIGITS, ":", DIGITS, DIGITS]))
    return dfa


def digits_of(x: Optional[float]) -> int:
    """Digits of the integer part of |x| (1 for |x| < 1)."""
    if x is None:
        return MAX_INT_DIGITS
    return max(1, len(str(int(abs(x)))))
