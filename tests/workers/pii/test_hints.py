"""Column-name hints: tables of names that should and should not match each entity."""

from __future__ import annotations

import pytest

from safesynth.pii import hints
from safesynth.spec.models import PiiEntity as E


@pytest.mark.parametrize(("raw", "normalized"), [
    ("firstName", "first_name"), ("First Name", "first_name"), ("FIRST-NAME", "first_name"),
    ("patientID", "patient_id"), ("DOB", "dob"), ("e-mail", "e_mail"), ("  zip code ", "zip_code"),
])
def test_normalize(raw: str, normalized: str) -> None:
    assert hints.normalize(raw) == normalized


@pytest.mark.parametrize(("name", "entity"), [
    ("first_name", E.FIRST_NAME), ("fname", E.FIRST_NAME), ("givenName", E.FIRST_NAME),
    ("fake_first_name", E.FIRST_NAME), ("last_name", E.LAST_NAME), ("Surname", E.LAST_NAME),
    ("patient_name", E.PERSON), ("fullName", E.PERSON), ("email", E.EMAIL_ADDRESS), ("E-Mail", E.EMAIL_ADDRESS),
    ("phone", E.PHONE_NUMBER), ("mobile_number", E.PHONE_NUMBER), ("home_phone", E.PHONE_NUMBER),
    ("ssn", E.US_SSN), ("social_security_number", E.US_SSN), ("card_number", E.CREDIT_CARD),
    ("iban", E.IBAN_CODE), ("ip_address", E.IP_ADDRESS), ("clientIp", E.IP_ADDRESS), ("website", E.URL),
    ("date_of_birth", E.DATE_OF_BIRTH), ("dob", E.DATE_OF_BIRTH), ("birthdate", E.DATE_OF_BIRTH),
    ("street_address", E.STREET_ADDRESS), ("address_line_1", E.STREET_ADDRESS), ("city", E.CITY),
    ("state", E.STATE), ("zip", E.ZIP_CODE), ("postal_code", E.ZIP_CODE), ("mrn", E.MEDICAL_RECORD_NUMBER),
    ("patient_id", E.IDENTIFIER), ("subject_id", E.IDENTIFIER), ("username", E.IDENTIFIER),
    ("passport_number", E.US_PASSPORT), ("age", E.AGE), ("employer", E.ORGANIZATION),
])
def test_names_that_hint(name: str, entity: E) -> None:
    assert entity in {h.entity for h in hints.hints_for(name)}


@pytest.mark.parametrize(("name", "not_entity"), [
    ("email_address", E.STREET_ADDRESS), ("ip_address", E.STREET_ADDRESS), ("clinic_name", E.PERSON),
    ("product_name", E.PERSON), ("pan_day", E.CREDIT_CARD), ("cell_count", E.PHONE_NUMBER),
    ("marital_state", E.STATE), ("birth_weight", E.DATE_OF_BIRTH), ("ph_level", E.PHONE_NUMBER),
    ("test_id", E.IDENTIFIER), ("paid", E.IDENTIFIER), ("visit_date", E.DATE_OF_BIRTH),
])
def test_names_that_do_not(name: str, not_entity: E) -> None:
    assert not_entity not in {h.entity for h in hints.hints_for(name)}


def test_strongest_first_and_weak_name_alone_is_below_threshold() -> None:
    found = hints.hints_for("name")
    assert [h.entity for h in found] == [E.PERSON] and found[0].strength < 0.5
    assert hints.hints_for("customer_name")[0].strength >= hints.STRONG


def test_generic_id() -> None:
    assert hints.generic_id("order_id") and hints.generic_id("txnId") and hints.generic_id("ID")
    assert not hints.generic_id("paid") and not hints.generic_id("valid")
