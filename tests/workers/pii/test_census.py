"""Census name frequencies: read from the `names` package's files, weighed by rank."""

from __future__ import annotations

from safesynth.pii import census, gazetteer


def test_lists_are_read_with_their_ranks() -> None:
    assert len(census.surnames()) > 80_000 and len(census.given_names()) > 5_000
    assert census.surnames()["smith"] == 1.0


def test_frequency_not_membership() -> None:
    sur = census.surnames()
    assert sur["mouse"] < 0.5 < sur["brown"] == 1.0  # a rare entry that is a word counts little
    assert census.weight(2_000, 88_799) == 1.0 and abs(census.weight(88_799, 88_799) - census.TAIL_WEIGHT) < 1e-9


def test_gazetteer_uses_census_beyond_faker() -> None:
    assert "thibodeaux" not in gazetteer.last_names() and gazetteer.last_weight("thibodeaux") > 0.35
    assert gazetteer.last_weight("garcia-lopez") > 0.5  # compound names by their weaker part
    assert gazetteer.full_name_score("Wang Wei") > 0.5  # family name first
    assert gazetteer.full_name_score("Wireless Mouse") == 0.0
    assert gazetteer.name_rates(["ORD-00017"]).last == 0.0  # codes are not names
