"""Value formats (ours and presidio's): what should and should not match, spans in text, offline domains."""

from __future__ import annotations

import socket

import pytest

from safesynth.pii import patterns, recognizers
from safesynth.spec.models import PiiEntity as E

pytestmark = pytest.mark.usefixtures("presidio_recognizers")

SHOULD = [
    ("email", "jane.doe@example.com"), ("email", "J_Doe+tag@mail.co.uk"),
    ("phone (NANP)", "(555) 123-4567"), ("phone (NANP)", "555.123.4567"), ("phone (NANP)", "+1-555-123-4567x89"),
    ("phone (NANP)", "001-555-123-4567"), ("phone (international)", "+44 20 7946 0958"),
    ("phone (international)", "+49(0) 565179832"), ("phone (national, leading 0)", "(0116) 4960087"),
    ("phone (digits only)", "2125551234"), ("ssn", "536-22-1234"), ("ssn", "536 22 1234"),
    ("ssn (digits only)", "536221234"),
    ("credit card (Luhn)", "4111 1111 1111 1111"), ("credit card (Luhn)", "371449635398431"),
    ("credit card (Luhn)", "2221001234123450"), ("credit card (Luhn)", "4018516772604666700"),
    ("IBAN (mod 97)", "GB82 WEST 1234 5698 7654 32"), ("IBAN (mod 97)", "DE89370400440532013000"),
    ("IPv4", "192.168.0.1"), ("IPv6", "2001:db8::ff00:42:8329"), ("URL", "https://www.example.org/a?b=1"),
    ("URL", "www.example.com"), ("US ZIP", "02134"), ("US ZIP", "02134-1234"), ("UK postcode", "SW1A 1AA"),
    ("Canadian postcode", "K1A 0B1"), ("street address (USPS suffix)", "96937 Sharon Loaf"),
    ("street address (USPS suffix)", "12 Main St. Apt 4, Springfield, IL 62704"), ("US state", "CA"),
    ("US state", "new york"), ("date", "2021-03-04"), ("date", "03/04/2021"),
]
SHOULD_NOT = [
    ("email", "jane.doe@example"), ("email", "jane.doe@example.notarealtld"), ("email", "not an email"),
    ("phone (NANP)", "5551234567"), ("phone (NANP)", "123-45-6789"),
    ("phone (digits only)", "5551234567"), ("phone (digits only)", "1234567890"), ("phone (NANP)", "2021-03-04"),
    ("ssn", "000-12-3456"), ("ssn", "666-12-3456"), ("ssn", "900-12-3456"), ("ssn", "123-00-4567"),
    ("ssn", "123-45-0000"), ("ssn", "123-456-789"), ("ssn", "536-22.1234"), ("ssn", "123-45-6789"),
    ("ssn", "12345-6789"), ("ssn (digits only)", "936221234"), ("ssn (digits only)", "111111111"), ("credit card (Luhn)", "4111 1111 1111 1112"),
    ("credit card (Luhn)", "1234567812345670"), ("IBAN (mod 97)", "GB82 WEST 1234 5698 7654 33"),
    ("IBAN (mod 97)", "XX82WEST12345698765432"), ("IPv4", "256.1.1.1"), ("IPv4", "1.2.3"), ("IPv6", "10:30:00"),
    ("URL", "example"), ("URL", "https://localhost.invalidtld/"), ("US ZIP", "1234"), ("US state", "Narnia"),
    ("street address (USPS suffix)", "Main Street"),
]


@pytest.mark.parametrize(("name", "value"), SHOULD)
def test_pattern_matches(name: str, value: str) -> None:
    assert patterns.BY_NAME[name].matches(value)


@pytest.mark.parametrize(("name", "value"), SHOULD_NOT)
def test_pattern_rejects(name: str, value: str) -> None:
    assert not patterns.BY_NAME[name].matches(value)


def test_entity_evidence_counts_mixed_formats_together() -> None:
    values = ["(555) 123-4567", "+44 20 7946 0958", "555.123.4567", "n/a"]
    ev = patterns.entity_evidence(values)[E.PHONE_NUMBER]
    assert ev.rate == 0.75 and 0.5 < ev.strength < 0.8 and ev.loose_rate == 0.75
    assert patterns.entity_evidence([]) == {}


def test_find_spans_in_text() -> None:
    text = ("Mail jane.doe@example.com or call (555) 123-4567 / +44 20 7946 0958; SSN 536-22-1234, "
            "card 4111-1111-1111-1111, IP 10.0.0.1, see https://example.org/x.")
    found = {(s.entity, text[s.start:s.end]) for s in patterns.find_spans(text)}
    assert {(E.EMAIL_ADDRESS, "jane.doe@example.com"), (E.PHONE_NUMBER, "(555) 123-4567"),
            (E.PHONE_NUMBER, "+44 20 7946 0958"), (E.US_SSN, "536-22-1234"),
            (E.CREDIT_CARD, "4111-1111-1111-1111"), (E.IP_ADDRESS, "10.0.0.1"),
            (E.URL, "https://example.org/x")} <= found
    assert all(s.source == "pattern" for s in patterns.find_spans(text))
    assert patterns.find_spans("Call 555-123-4567", [E.EMAIL_ADDRESS]) == []
    # bare 9 digits are SSN evidence in a column, never a span in running text
    assert patterns.find_spans("order 536221234 shipped", [E.US_SSN]) == []


def test_every_format_is_selectable_by_name_and_entity() -> None:
    assert len(patterns.BY_NAME) == len(patterns.PATTERNS)
    for p in patterns.PATTERNS:
        assert p in patterns.patterns_for(p.entity) and 0 < p.reliability <= 1


def test_domains_are_checked_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """tldextract must use its bundled snapshot: with sockets disabled, validation still works."""
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    recognizers._tld_extractor.cache_clear()
    recognizers.find.cache_clear()
    email = patterns.BY_NAME["email"]
    assert email.matches("a@b.example.co.uk") and not email.matches("a@b.nope")
    assert patterns.url_valid("https://sub.example.com/path")
