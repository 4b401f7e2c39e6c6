"""presidio's predefined recognizers behind `recognizers`: selection, our changes to them, offline, quiet logs."""

from __future__ import annotations

import logging
import random

import pytest

from safesynth.pii import formats, recognizers
from safesynth.spec.models import PiiEntity as E

pytestmark = pytest.mark.usefixtures("presidio_recognizers")

# (entity, value, whole value recognized?): one row per setting we change, and presidio's own rules we rely on.
CASES = [
    (E.CREDIT_CARD, "4111-1111-1111-1111", True),
    (E.CREDIT_CARD, "2221001234123450", True),  # 2-series Mastercard: presidio's default regex misses it
    (E.CREDIT_CARD, "4018516772604666700", True),  # 19-digit Visa: likewise
    (E.CREDIT_CARD, "1234567812345670", False),  # Luhn-valid, issuer digit 1: presidio's default regex accepts it
    (E.CREDIT_CARD, "4111 1111 1111 1112", False),  # Luhn (presidio's check)
    (E.IBAN_CODE, "DE89 3704 0044 0532 0130 00", True),
    (E.IBAN_CODE, "DE89 3704 0044 0532 0130 01", False),  # mod 97
    (E.IBAN_CODE, "GB82WEST1234569876543", False),  # one character short of GB's format
    (E.US_SSN, "536-22-1234", True),
    (E.US_SSN, "536221234", True),
    (E.US_SSN, "936-22-1234", False),  # area 9xx: added here, presidio accepts it
    (E.US_SSN, "666-22-1234", False),
    (E.US_SSN, "12345-6789", False),  # presidio's "very weak" ZIP+4-shaped pattern is not loaded
    (E.US_SSN, "123-456789", False),  # nor its 3-6 one
    (E.EMAIL_ADDRESS, "ann.lee@example.co.uk", True),
    (E.EMAIL_ADDRESS, "ann.lee@example.notatld", False),  # public suffix, on the bundled snapshot
]


@pytest.mark.parametrize(("entity", "value", "expected"), CASES)
def test_whole_values(entity: E, value: str, expected: bool) -> None:
    assert recognizers.whole_value(value, entity) is expected


def test_registry_selects_one_recognizer_per_entity() -> None:
    for entity in recognizers.ENTITIES:
        chosen = recognizers._get(entity)
        assert recognizers.FROM_ENTITY[entity] in chosen.supported_entities


def test_hits_carry_positions_and_pattern_not_text() -> None:
    text = "IBAN DE89370400440532013000, card 4111111111111111."
    (iban,) = recognizers.find(text, E.IBAN_CODE)
    assert (iban.start, iban.end, iban.pattern) == (5, 27, "IBAN Generic")
    (card,) = recognizers.find(text, E.CREDIT_CARD)
    assert text[card.start:card.end] == "4111111111111111" and card.pattern == recognizers.CARD_PATTERN_NAME
    assert not hasattr(card, "text")


def test_prefilter_skips_without_calling_presidio(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizers.find.cache_clear()

    def boom(entity: E) -> None:
        raise AssertionError("presidio called for a value its regex cannot match")

    monkeypatch.setattr(recognizers, "_get", boom)
    for entity, value in ((E.EMAIL_ADDRESS, "no at sign"), (E.US_SSN, "12-34"), (E.CREDIT_CARD, "4111 1111"),
                          (E.IBAN_CODE, "de89 short")):
        assert recognizers.find(value, entity) == ()


def test_presidio_logs_never_reach_ours(caplog: pytest.LogCaptureFixture) -> None:
    """presidio's IBAN recognizer logs the text it failed to validate at ERROR: those records must not pass."""
    recognizers._get(E.IBAN_CODE)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger(recognizers.PRESIDIO_LOGGER).error("Failed to validate text %s", "DE89370400440532013000")
    assert "DE89370400440532013000" not in caplog.text


def test_generated_check_digits_pass_presidio() -> None:
    """Replacements compute check digits themselves (presidio only validates): both must agree."""
    rng = random.Random(3)
    for _ in range(50):
        body = rng.choice("3456") + "".join(rng.choice("0123456789") for _ in range(14))
        assert recognizers.whole_value(body + formats.luhn_check_digit(body), E.CREDIT_CARD)
        bban = "".join(rng.choice("0123456789") for _ in range(18))
        assert recognizers.whole_value("DE" + formats.iban_check_digits("DE", bban) + bban, E.IBAN_CODE)
