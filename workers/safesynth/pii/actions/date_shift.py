"""dateShift: move dates by a keyed offset of 1..maxShiftDays days, one offset per person.

The offset is derived from the row's *subject* (a key made from the row's
direct identifiers: ID, MRN, SSN, email, name; see `replace.subject_keys`), so
all dates of one person move together and the intervals between them (age at
visit, length of stay) are exact; the same person in train and holdout moves
alike. Without identifier columns the offset is derived from the date itself.
A shifted date that equals an original date of the column is moved by one
more day (alternating later/earlier), so no original date survives; the
report counts such adjustments. This is the classic date-shifting of clinical
de-identification (e.g. the i2b2/n2c2 and MIMIC practice of per-patient shifts).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from safesynth.pii.actions.base import Action, ValueContext, register, text_of
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiAction


def shift_days(ctx: ValueContext, key: str) -> int:
    """Signed offset in days: magnitude 1..max, sign and magnitude keyed; `attempt` walks d, d+1, d-1, ..."""
    top = ctx.params.max_shift_days
    days = 1 + int(ctx.keys.unit("dateShift", key) * top)
    if ctx.attempt:
        step = (ctx.attempt + 1) // 2
        days = days + step if ctx.attempt % 2 else days - step
        days = min(max(days, 1), top)
    return days if ctx.keys.unit("dateShift-sign", key) < 0.5 else -days


@register
class DateShift(Action):
    name = PiiAction.DATE_SHIFT
    avoids_originals = True
    per_subject = True
    kinds = frozenset({ColumnKind.DATETIME})
    text_ok = False

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        key = ctx.subject if ctx.subject is not None else text_of(value)
        return pd.Timestamp(value) + pd.Timedelta(days=shift_days(ctx, key))
