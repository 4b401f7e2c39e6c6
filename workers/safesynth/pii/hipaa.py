"""HIPAA Safe Harbor (45 CFR 164.514(b)(2)(i)): the 18 identifier categories, our entities for each, and
what the PII stage found and did per category. One map, read by the PII report and the evaluate stage's audit.

Facts used here (see also `RESTRICTED_ZIP3`):

* (B) geographic units smaller than a state: a ZIP code may keep its first three
  digits unless the 3-digit area holds 20,000 people or fewer, then `000`;
* (C) every element of a date except the year, for dates directly related to
  an individual (birth, admission, discharge, death, visits), and ages over 89
  (with any date element that would reveal one) pooled into one category, 90+;
* categories without a detector here (biometrics, photographs) are reported as
  "not checked", never as "not found".

A category's status is one of: "found" (some column or span holds it, with
the action taken), "not found" (a detector ran and found nothing), "not checked"
(no detector for it, or the PII stage did not run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from safesynth.spec.models import PiiEntity

E = PiiEntity

# 3-digit ZIP prefixes whose areas held 20,000 people or fewer in the 2000 Census (as HHS OCR's 2012
# de-identification guidance lists them): Safe Harbor replaces them by 000.
RESTRICTED_ZIP3 = frozenset({"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831",
                             "878", "879", "884", "890", "893"})
RESTRICTED_ZIP3_SOURCE = ("US Census Bureau, 2000 Census, as listed by HHS OCR, Guidance Regarding Methods for "
                          "De-identification of Protected Health Information (2012)")

# (code, category, entities that belong to it). Entities may be listed in one category only.
CATEGORIES: tuple[tuple[str, str, tuple[PiiEntity, ...]], ...] = (
    ("A", "Names", (E.PERSON, E.FIRST_NAME, E.LAST_NAME)),
    ("B", "Geographic subdivisions smaller than a state (street address, city, county, ZIP code)",
     (E.STREET_ADDRESS, E.CITY, E.ZIP_CODE, E.LOCATION)),
    ("C", "Dates (except year) directly related to an individual, and ages over 89",
     (E.DATE_OF_BIRTH, E.DATE_TIME, E.AGE)),
    ("D", "Telephone numbers", (E.PHONE_NUMBER,)),
    ("E", "Fax numbers", ()),
    ("F", "Email addresses", (E.EMAIL_ADDRESS,)),
    ("G", "Social security numbers", (E.US_SSN,)),
    ("H", "Medical record numbers", (E.MEDICAL_RECORD_NUMBER,)),
    ("I", "Health plan beneficiary numbers", ()),
    ("J", "Account numbers", (E.US_BANK_NUMBER, E.IBAN_CODE, E.CREDIT_CARD)),
    ("K", "Certificate/license numbers", (E.US_DRIVER_LICENSE, E.US_PASSPORT)),
    ("L", "Vehicle identifiers and serial numbers, including license plates", ()),
    ("M", "Device identifiers and serial numbers", ()),
    ("N", "Web URLs", (E.URL,)),
    ("O", "IP addresses", (E.IP_ADDRESS,)),
    ("P", "Biometric identifiers, including finger and voice prints", ()),
    ("Q", "Full-face photographs and comparable images", ()),
    ("R", "Any other unique identifying number, characteristic, or code", (E.IDENTIFIER,)),
)
# Categories our detectors cover through another category's entity: fax numbers are phone numbers; health
# plan numbers are found by the medical-record hint ("member_id", "policy_number"); vehicle and device
# serials by the generic identifier rules. Their status says so instead of "not checked".
COVERED_BY: dict[str, str] = {"E": "D", "I": "H", "L": "R", "M": "R"}
REMOVED = frozenset({"fake", "hash", "mask", "redact", "drop", "tokenize"})
TRANSFORMED = frozenset({"generalize", "dateShift", "perturb"})

FOUND, NOT_FOUND, NOT_CHECKED = "found", "not found", "not checked"


def category_of(entity: Optional[str]) -> Optional[str]:
    """The category code of an entity name ("ZIP_CODE" → "B"), or None."""
    for code, _, entities in CATEGORIES:
        if entity in {e.value for e in entities}:
            return code
    return None


# generalize does what Safe Harbor asks for these (ZIP3 with 000, year only, 90+)
SAFE_GENERALIZED = frozenset({E.ZIP_CODE.value, E.DATE_OF_BIRTH.value, E.DATE_TIME.value, E.AGE.value})


def handling(action: Optional[str], entity: Optional[str] = None) -> str:
    """What an action means for Safe Harbor, in a few words."""
    if action in REMOVED:
        return "removed or replaced"
    if action == "generalize" and entity in SAFE_GENERALIZED:
        return "removed or replaced (generalized as Safe Harbor allows: ZIP3 or 000, year, 90+)"
    if action in TRANSFORMED:
        return "transformed (check: ZIP to 3 digits, dates to year, ages over 89 pooled)"
    if action == "keep":
        return "KEPT: not de-identified"
    return "unknown"


def categories(columns: Optional[Iterable[Mapping[str, Any]]], *, stage_ran: bool) -> list[dict[str, Any]]:
    """Per category: status, the columns that hold it with their action, and the entities it covers.

    `columns` are the PII report's column entries (column, entity, pii, action; `freeText` span counts by
    entity for text columns). Without a PII stage every category is "not checked".
    """
    rows = list(columns or [])
    out = []
    for code, label, entities in CATEGORIES:
        names = {e.value for e in entities}
        held: list[str] = []
        done: list[str] = []
        for c in rows:
            entity = c.get("entity")
            spans = (c.get("freeText") or {}).get("spans") or {}
            if c.get("pii") and entity in names:
                held.append(str(c["column"]))
                done.append(f"{c['column']}: {c.get('action')} ({handling(c.get('action'), entity)})")
            elif any(spans.get(n) for n in names):
                held.append(str(c["column"]))
                done.append(f"{c['column']}: spans replaced in free text")
        if not stage_ran:
            status = NOT_CHECKED
        elif held:
            status = FOUND
        elif entities or code in COVERED_BY:
            status = NOT_FOUND
        else:
            status = NOT_CHECKED
        out.append({"code": code, "category": label, "status": status, "found": bool(held), "columns": held,
                    "handling": sorted(done), "entities": sorted(names),
                    **({"coveredBy": COVERED_BY[code]} if code in COVERED_BY else {})})
    return out
