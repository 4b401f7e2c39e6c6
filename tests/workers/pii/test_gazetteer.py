"""Name lists from Faker and the rates the classifier reads."""

from __future__ import annotations

from safesynth.pii import gazetteer


def test_lists_are_loaded_and_casefolded() -> None:
    assert {"maria", "john"} <= gazetteer.first_names() and {"garcia", "smith"} <= gazetteer.last_names()
    assert all(n == n.casefold() for n in list(gazetteer.first_names())[:100])


def test_name_rates() -> None:
    single = gazetteer.name_rates(["Maria", "John", "Zzqx"])
    assert abs(single.first - 2 / 3) < 1e-9 and single.mean_tokens == 1.0
    full = gazetteer.name_rates(["Maria Garcia", "Smith, John", "Allen, Miss. Elisabeth Walton", "blue car"])
    assert full.full == 0.75 and full.mean_tokens > 1.5
    assert gazetteer.name_rates([]).full == 0.0


def test_full_name_layouts() -> None:
    assert gazetteer.looks_like_full_name("Mrs. Hudson Grey")
    assert not gazetteer.looks_like_full_name("Green Street")
    assert gazetteer.tokens("O'Brien-Smith, Mary-Ann") == ["o'brien-smith", "mary-ann"]
