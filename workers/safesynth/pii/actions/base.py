"""The shape every replacement action has, and the registry that finds them.

As in presidio-anonymizer, an action is a small class with a `name`, a
`validate` that refuses a column it cannot handle (a `BadInputError` naming the
spec field, exit 2) and an `operate` that turns one original value into its
replacement. The registry maps each `PiiAction` of the spec to one instance;
a new action is one module that subclasses `Action` and is decorated with
`@register`, plus one row in the shared test table.

`operate` must be a pure function of (value, context): everything random is
derived from the job key (`ctx.keys`, `ctx.fakes`), so the same value gets the
same replacement everywhere in a job and in every job with the same key.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Optional

from safesynth.errors import BadInputError
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook
from safesynth.schema import ColumnKind
from safesynth.spec.models import ColumnRule, PiiAction, PiiEntity

STRING_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.IDENTIFIER, ColumnKind.TEXT})
NUMBER_KINDS = frozenset({ColumnKind.INTEGER, ColumnKind.FLOAT})


@dataclass(frozen=True)
class ActionParams:
    """Per-column settings (spec ColumnRule fields), with the defaults that apply when unset.

    keep_last: mask leaves this many trailing characters (4: the convention for cards and SSNs).
    max_shift_days: dateShift/perturb on dates move at most this many days (180: ages and intervals
        stay within half a year, while exact dates no longer match records elsewhere).
    relative_noise: perturb moves numbers by at most this share of their magnitude (0.1).
    keep_digits: generalize keeps this many leading characters of a code (3: HIPAA Safe Harbor's ZIP3).
    band_width: generalize puts numbers in bands this wide (10, e.g. ages 30–39).
    """

    keep_last: int = 4
    max_shift_days: int = 180
    relative_noise: float = 0.1
    keep_digits: int = 3
    band_width: float = 10.0
    # Set by the hipaaSafeHarbor policy, not by rules: generalize pools ages of 90 and over, keeps the rest.
    age_top_only: bool = False

    @classmethod
    def from_rule(cls, rule: Optional[ColumnRule]) -> ActionParams:
        if rule is None:
            return cls()
        given: dict[str, Any] = {
            "keep_last": rule.keep_last,
            "max_shift_days": rule.max_shift_days,
            "relative_noise": rule.relative_noise,
            "keep_digits": rule.keep_digits,
            "band_width": rule.band_width,
        }
        return cls(**{k: v for k, v in given.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return {"keepLast": self.keep_last, "maxShiftDays": self.max_shift_days,
                "relativeNoise": self.relative_noise, "keepDigits": self.keep_digits, "bandWidth": self.band_width}


@dataclass(frozen=True)
class Target:
    """What an action is asked to handle: for `validate`."""

    column: str
    kind: ColumnKind
    entity: Optional[PiiEntity]
    free_text: bool = False

    def field(self) -> str:
        return f"spec.pii.columns.{self.column}.action"


@dataclass(frozen=True)
class ValueContext:
    """Everything `operate` may use besides the value itself."""

    entity: Optional[PiiEntity]
    params: ActionParams
    keys: KeyRing
    fakes: Fakes
    names: NameBook
    kind: Optional[ColumnKind] = None  # None for a span in free text
    column: str = ""
    subject: Optional[str] = None  # the row's person key (dateShift)
    person: Optional[tuple[str, str]] = None  # the row's fake (first, last) (emails)
    bounds: Optional[tuple[Any, Any]] = None  # the column's (min, max) (fake dates)
    attempt: int = 0  # > 0 when an earlier draw collided with an original value

    def retry(self, attempt: int) -> ValueContext:
        return replace(self, attempt=attempt)


class Action(abc.ABC):
    """One replacement action. Subclasses set `name` and implement `operate`."""

    name: ClassVar[PiiAction]
    # The applier redraws (ctx.attempt += 1) while a replacement equals an original value of the column.
    avoids_originals: ClassVar[bool] = False
    # Two different originals must never share a replacement (tokenize: reversible through the vault).
    injective: ClassVar[bool] = False
    # The replacement depends on the row's subject (dateShift: one offset per person).
    per_subject: ClassVar[bool] = False
    # The column disappears (drop); `operate` is then never called.
    removes_column: ClassVar[bool] = False
    # Leaves values as they are (keep).
    identity: ClassVar[bool] = False
    # Kinds the action accepts (None: any kind); free text is checked separately by `text_ok`.
    kinds: ClassVar[Optional[frozenset[ColumnKind]]] = None
    text_ok: ClassVar[bool] = True

    def validate(self, target: Target) -> None:
        """Raise BadInputError (naming the spec field) when this action cannot apply to `target`."""
        if target.kind == ColumnKind.BOOLEAN and not (self.identity or self.removes_column):
            self._refuse(target, "a boolean column holds no PII to replace; use keep or drop")
        if target.free_text:
            if not self.text_ok:
                self._refuse(target, "free-text columns take fake, hash, mask, redact, tokenize, keep or drop")
            return
        if self.kinds is not None and target.kind not in self.kinds:
            kinds = ", ".join(sorted(k.value for k in self.kinds))
            self._refuse(target, f"it applies to columns of kind {kinds}")

    def _refuse(self, target: Target, why: str) -> None:
        raise BadInputError(
            f"{target.field()}: {self.name.value} cannot apply to column {target.column!r} "
            f"(kind {target.kind.value}{', entity ' + target.entity.value if target.entity else ''}): {why}"
        )

    @abc.abstractmethod
    def operate(self, value: Any, ctx: ValueContext) -> Any:
        """The replacement of one non-null original value."""


_REGISTRY: dict[PiiAction, Action] = {}


def register(cls: type[Action]) -> type[Action]:
    """Class decorator: one instance per action name."""
    if cls.name in _REGISTRY:
        raise RuntimeError(f"action {cls.name.value} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def get_action(name: PiiAction) -> Action:
    from safesynth.pii import actions  # noqa: F401  (importing the package registers every action)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise BadInputError(f"unknown PII action {getattr(name, 'value', name)!r}") from None


def registered() -> dict[PiiAction, Action]:
    from safesynth.pii import actions  # noqa: F401

    return dict(_REGISTRY)



# Entities whose values are compared by their digits ("(555) 123-4567" is "555.123.4567"), and those
# compared case-insensitively; keyed derivations use this form, so spellings of one value agree.
DIGIT_ENTITIES = frozenset({PiiEntity.PHONE_NUMBER, PiiEntity.US_SSN, PiiEntity.CREDIT_CARD, PiiEntity.US_BANK_NUMBER})
CASELESS_ENTITIES = frozenset({
    PiiEntity.EMAIL_ADDRESS, PiiEntity.PERSON, PiiEntity.FIRST_NAME, PiiEntity.LAST_NAME, PiiEntity.CITY,
    PiiEntity.STATE, PiiEntity.LOCATION, PiiEntity.URL, PiiEntity.STREET_ADDRESS, PiiEntity.ORGANIZATION,
    PiiEntity.IBAN_CODE,
})


def text_of(value: Any) -> str:
    """A value as text: ISO 8601 for timestamps, no '.0' on integral floats."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def value_key(entity: Optional[PiiEntity], value: Any) -> str:
    """The form of a value that keyed derivations use (see DIGIT_ENTITIES, CASELESS_ENTITIES)."""
    text = text_of(value).strip()
    if entity in DIGIT_ENTITIES:
        digits = "".join(ch for ch in text if ch.isdigit())
        if digits:
            return digits
    if entity in CASELESS_ENTITIES or entity in DIGIT_ENTITIES:
        return " ".join(text.casefold().split())
    return text
