"""Character automata accept the canonical spellings and nothing malformed."""

from __future__ import annotations

import pytest

from safesynth.generator import formats as F


def accepts(dfa: F.CharDFA, text: str) -> bool:
    q = dfa.run(dfa.start, text)
    return q is not None and q in dfa.accept


@pytest.mark.parametrize(("dfa", "good", "bad"), [
    (F.integer_dfa(), ["0", "7", "-12", "123456789"], ["", "-", "007", "-0", "1.0", "1e5", "--1"]),
    (F.integer_dfa(max_digits=2, negative=False, min_digits=2), ["10", "99"], ["0", "7", "100", "-10"]),
    (F.float_dfa(), ["0", "0.5", "-0.5", "-0", "123.456", "1e-07", "1.5e+20"], ["", ".5", "1.", "1..2", "01.5", "1e7"]),
    (F.float_dfa(max_int_digits=3, negative=False, min_int_digits=2, exponent=False), ["10.5", "999"],
     ["9.5", "1000", "-10", "1e+05"]),
    (F.float_dfa(max_decimals=2), ["1.25", "-0.5", "3"], ["1.255"]),
    (F.float_dfa(max_decimals=0, exponent=False), ["3", "-12"], ["3.0", "3.5"]),
    (F.date_dfa(), ["2020-01-31", "1999-12-01"], ["2020-13-01", "2020-00-10", "2020-01-32", "2020-1-1", "20200101"]),
    (F.date_dfa(years=["2019", "2020"]), ["2019-05-05", "2020-12-31"], ["2021-01-01", "1919-01-01"]),
    (F.iso_dfa(), ["2020-01-01T10:11:12", "2020-01-01T23:59:59.5"],
     ["2020-01-01", "2020-01-01T24:00:00", "2020-01-01T10:60:00", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00+00:00"]),
    (F.iso_dfa(offset=True), ["2020-01-01T00:00:00+00:00", "2020-01-01T00:00:00.5Z", "2020-01-01T00:00:00-05:00"],
     ["2020-01-01T00:00:00", "2020-01-01T10:00:00+0000"]),
    (F.strings_dfa(["18", "19", "100"]), ["18", "19", "100"], ["1", "10", "20", "1000"]),
])
def test_automata(dfa: F.CharDFA, good: list[str], bad: list[str]) -> None:
    assert [t for t in good if not accepts(dfa, t)] == []
    assert [t for t in bad if accepts(dfa, t)] == []
