"""Column-name hints: what a column's name says it holds.

A name is normalized to lower-case words joined by "_" ("firstName",
"First Name" and "FIRST-NAME" all become "first_name"), then matched against
one rule per entity family. A rule has a strength, the evidence a matching
name gives on its own (see `classify` for how evidence combines):

* STRONG (0.7): unambiguous names ("ssn", "email", "date_of_birth"); enough on
  their own to pass the default threshold of 0.5, unless the values
  contradict them (a column "email" holding yes/no);
* MEDIUM (0.55): usually PII, sometimes not ("url", a generic "*_id" that is
  mostly distinct);
* WEAK (0.4 and below): names that need the values to agree ("name" alone,
  "employer", "age"), below the default threshold on their own.

`unless` stops a rule where a more specific one applies ("email_address" is
not a street address).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from safesynth.spec.models import PiiEntity

STRONG = 0.7
MEDIUM = 0.55
WEAK = 0.4


@dataclass(frozen=True)
class HintRule:
    name: str
    entity: PiiEntity
    strength: float
    pattern: re.Pattern[str]
    unless: Optional[re.Pattern[str]] = None

    def matches(self, normalized: str) -> bool:
        if not self.pattern.search(normalized):
            return False
        return self.unless is None or not self.unless.search(normalized)


@dataclass(frozen=True)
class Hint:
    """A rule that matched a column name."""

    rule: str
    entity: PiiEntity
    strength: float


def _w(body: str) -> re.Pattern[str]:
    """`body` as whole "_"-delimited words of a normalized name."""
    return re.compile(rf"(?:^|_)(?:{body})(?:_|$)")


_NUM = r"(?:_?(?:num|number|nr|no|nbr|id|code))?"
_PERSON_ROLES = (
    r"full|patient|customer|client|person|member|employee|contact|owner|holder|card_?holder|account_?holder|"
    r"guardian|parent|mother|father|spouse|partner|emergency_?contact|physician|doctor|nurse|provider|subscriber|"
    r"insured|beneficiary|recipient|sender|applicant|candidate|student|author|resident|participant|legal|display|"
    r"maiden|mothers_?maiden|next_?of_?kin|caregiver|referrer|signer|witness|requester|assignee|reporter"
)

RULES: tuple[HintRule, ...] = (
    HintRule("first name", PiiEntity.FIRST_NAME, STRONG,
             _w(r"(?:first|given|fore|christian|middle)_?names?|f_?name|first|forename|middle_?initial|firstname")),
    HintRule("given", PiiEntity.FIRST_NAME, MEDIUM, re.compile(r"^(?:given|givens|prenom|vorname|nombre)$")),
    HintRule("last name", PiiEntity.LAST_NAME, STRONG,
             _w(r"(?:last|family|sur|maiden)_?names?|l_?name|last|surname|lastname|familyname")),
    HintRule("person name", PiiEntity.PERSON, STRONG, _w(rf"(?:{_PERSON_ROLES})_?names?|fullname")),
    HintRule("name", PiiEntity.PERSON, WEAK, re.compile(r"^(?:names?|person|patient|customer|client|contact)$")),
    HintRule("username", PiiEntity.IDENTIFIER, STRONG, _w(r"user_?name|login|handle|screen_?name|user")),
    HintRule("email", PiiEntity.EMAIL_ADDRESS, STRONG, _w(r"e_?mails?|email_?address|mail_?address|mail")),
    HintRule("phone", PiiEntity.PHONE_NUMBER, STRONG,
             _w(rf"(?:(?:home|work|mobile|cell|office|contact|primary|secondary|alt|alternate|emergency)_?)?"
                rf"(?:phone|telephone|tel|mobile|cellphone|cell_?phone|fax|msisdn){_NUM}|cell|contact_?number"),
             unless=re.compile(r"cell_(?:count|type|line|size|s)")),
    HintRule("ssn", PiiEntity.US_SSN, STRONG,
             _w(r"ssn|ss_?n|social_?security(?:_?(?:num|number|no|nr))?|soc_?sec(?:_?(?:num|no))?|sin_?number")),
    HintRule("credit card", PiiEntity.CREDIT_CARD, STRONG,
             _w(r"credit_?card(?:_?(?:num|number|no|nr))?|cc_?(?:num|number|no)|card_?(?:num|number|no|nr)|ccn")),
    HintRule("card", PiiEntity.CREDIT_CARD, WEAK, _w(r"card|credit_?card")),
    HintRule("iban", PiiEntity.IBAN_CODE, STRONG, _w(r"iban(?:_?(?:code|number|no))?")),
    HintRule("bank account", PiiEntity.US_BANK_NUMBER, STRONG,
             _w(r"(?:bank_?)?account_?(?:num|number|no|nr)|acct_?(?:num|number|no)?|bank_?account|routing(?:_?number)?")),
    HintRule("ip address", PiiEntity.IP_ADDRESS, STRONG,
             _w(r"ip|ipv4|ipv6|ip_?addr(?:ess)?|client_?ip|remote_?(?:addr|ip)|host_?ip|source_?ip|src_?ip|ip_?address")),
    HintRule("url", PiiEntity.URL, MEDIUM,
             _w(r"url|uri|website|web_?site|homepage|home_?page|web_?page|profile_?(?:url|link)|link|linkedin|blog")),
    HintRule("date of birth", PiiEntity.DATE_OF_BIRTH, STRONG,
             _w(r"dob|d_o_b|birth_?date|date_?of_?birth|birth_?day|birthdate|born(?:_on)?|bdate|birth_?dt")),
    HintRule("birth", PiiEntity.DATE_OF_BIRTH, MEDIUM, re.compile(r"^(?:birth|born|geburtsdatum|naissance)$")),
    HintRule("date of death", PiiEntity.DATE_TIME, MEDIUM,
             _w(r"dod|death_?date|date_?of_?death|deceased_?(?:date|on)|died(?:_on)?")),
    HintRule("street address", PiiEntity.STREET_ADDRESS, STRONG,
             _w(r"street(?:_?address)?|(?:home_?|mailing_?|postal_?|residential_?|billing_?|shipping_?|street_?)?"
                r"address(?:_?line)?(?:_?\d)?|addr(?:_?\d)?|address\d|residence|house_?number"),
             unless=re.compile(r"(?:e_?mail|ip|mac|web|url|wallet|contract|memory|bitcoin|btc|eth)_?addr")),
    HintRule("city", PiiEntity.CITY, STRONG,
             _w(r"city|town|municipality|city_?name|hometown|home_?town|birth_?place|place_?of_?birth|village")),
    HintRule("county", PiiEntity.LOCATION, MEDIUM, _w(r"county|district|neighbou?rhood|borough|suburb")),
    HintRule("state", PiiEntity.STATE, 0.6, _w(r"state|province|state_?code|state_?abbr|state_?name|us_?state"),
             unless=re.compile(r"(?:marital|civil|current|order|machine|job|process|account|payment|workflow)_?state")),
    HintRule("zip", PiiEntity.ZIP_CODE, STRONG,
             _w(r"zip|zipcode|zip_?code|zip5|zip_?plus_?4|postal_?code|post_?code|postcode|postal|plz|cep")),
    HintRule("location", PiiEntity.LOCATION, MEDIUM,
             _w(r"location|geo_?location|home_?location|gps|lat_?lon(?:g)?|coordinates|whereabouts")),
    HintRule("age", PiiEntity.AGE, 0.3, _w(r"age|age_?years|age_?yrs|patient_?age|age_?at_?\w+")),
    HintRule("organization", PiiEntity.ORGANIZATION, WEAK,
             _w(r"employer|company(?:_?name)?|organi[sz]ation(?:_?name)?|workplace|business_?name|firm")),
    HintRule("driver license", PiiEntity.US_DRIVER_LICENSE, STRONG,
             _w(r"drivers?_?licen[cs]e(?:_?(?:num|number|no))?|dl_?(?:num|number|no)|licen[cs]e_?(?:num|number|no)")),
    HintRule("passport", PiiEntity.US_PASSPORT, STRONG, _w(r"passport(?:_?(?:num|number|no|id))?")),
    HintRule("medical record number", PiiEntity.MEDICAL_RECORD_NUMBER, STRONG,
             _w(r"mrn|medical_?record(?:_?(?:num|number|no|id))?|health_?record(?:_?(?:num|number|no))?|"
                r"chart_?(?:num|number|no)|hospital_?(?:num|number|no)|nhs_?(?:num|number|no)?|"
                r"health_?(?:insurance|plan)_?(?:num|number|no|id)|insurance_?(?:num|number|no|id)|"
                r"member_?(?:num|number|no)|policy_?(?:num|number|no)")),
    HintRule("person identifier", PiiEntity.IDENTIFIER, STRONG,
             _w(r"(?:patient|subject|person|customer|client|employee|user|account|participant|resident|"
                r"beneficiary|insured|policyholder|student|voter|citizen|national|tax|taxpayer|member|"
                r"guest|passenger|donor|applicant|driver|buyer|seller|owner|contact|visitor)_?"
                r"(?:id|identifier|key|uuid|guid|code|ref)|(?:\w+_)?case_?(?:id|num|number|no|nr)|uid|user_?id|national_?id|tax_?id|tin|ein|nino|"
                r"personnummer|cpf|nif|bsn")),
)

# Generic ID-looking names ("id", "order_id", "txnId"): identifiers only when mostly distinct
# (schema kind "identifier"); see `classify`. Same rule as safesynth.schema.ID_NAME_PATTERN.
GENERIC_ID = _w(r"id|uuid|guid|identifier|key|ref|reference(?:_?(?:num|number|no))?|record_?(?:num|number|no)")
GENERIC_ID_STRENGTH = MEDIUM


# Names of business records: an order, invoice or shipment number or date describes a transaction, not a
# person (precision: a 9-digit order number is not an SSN; a ship date is not a birth date).
BUSINESS = _w(r"order|orders|invoice|sku|product|item|shipment|shipping|ship|shipped|tracking|transaction|txn|"
              r"purchase|catalog|catalogue|batch|lot|part|inventory|stock|delivery|delivered|po|receipt|cart|"
              r"ticket|booking|reservation|coupon|promo")


def business_word(name: str) -> Optional[str]:
    """The business-record word in a column name ("order" in "order_no"), or None."""
    m = BUSINESS.search(normalize(name))
    return m.group(0).strip("_") if m else None


def normalize(name: str) -> str:
    """Lower-case words joined by "_": camelCase split, other separators collapsed."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    return s


def hints_for(name: str) -> list[Hint]:
    """Every rule that matches `name`, strongest first (ties by rule order)."""
    norm = normalize(name)
    found = [Hint(r.name, r.entity, r.strength) for r in RULES if r.matches(norm)]
    return sorted(found, key=lambda h: -h.strength)


def generic_id(name: str) -> bool:
    """A name that looks like some identifier ("id", "order_id", "txnId")."""
    return bool(GENERIC_ID.search(normalize(name)))
