"""generalize: coarser values. Codes keep `keepDigits` leading characters, numbers fall in bands, dates keep the year.

* codes (ZIP and other strings): "02134" → "021**" (HIPAA Safe Harbor allows
  the first three ZIP digits; a ZIP+4 suffix is dropped); a US ZIP whose
  3-digit area had 20,000 people or fewer (`hipaa.RESTRICTED_ZIP3`) becomes
  "000**", as Safe Harbor asks;
* numbers: band of width `bandWidth`: 37 → "30-39" (integers), 3.7 →
  "0-10" (floats); for AGE, 90 and over become "90+" (Safe Harbor); with
  `ageTopOnly` (the hipaaSafeHarbor policy) ages up to 89 stay exact;
* dates: the year, as an integer.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from safesynth.pii.hipaa import RESTRICTED_ZIP3
from safesynth.pii.actions.base import NUMBER_KINDS, STRING_KINDS, Action, ValueContext, register, text_of
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiAction, PiiEntity

AGE_TOP_CODE = 90


def generalize_code(text: str, keep: int) -> str:
    core = text.split("-")[0] if len(text) == 10 and text[5:6] == "-" and text[:5].isdigit() else text
    out, seen = [], 0
    for ch in core:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen <= keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def band(x: float, width: float, integral: bool) -> str:
    lo = math.floor(x / width) * width
    if integral and float(width).is_integer():
        return f"{int(lo)}-{int(lo + width - 1)}"
    return f"{lo:g}-{lo + width:g}"


@register
class Generalize(Action):
    name = PiiAction.GENERALIZE
    kinds = NUMBER_KINDS | STRING_KINDS | {ColumnKind.DATETIME}
    text_ok = False

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        if ctx.kind == ColumnKind.DATETIME or isinstance(value, pd.Timestamp):
            return int(pd.Timestamp(value).year)
        if ctx.kind in NUMBER_KINDS and ctx.entity != PiiEntity.ZIP_CODE:
            x = float(value)
            if ctx.entity == PiiEntity.AGE and x >= AGE_TOP_CODE:
                return f"{AGE_TOP_CODE}+"
            if ctx.entity == PiiEntity.AGE and ctx.params.age_top_only:
                return str(int(x)) if x.is_integer() else f"{x:g}"
            return band(x, ctx.params.band_width, ctx.kind == ColumnKind.INTEGER)
        text = text_of(value)
        if ctx.entity == PiiEntity.ZIP_CODE and ctx.params.keep_digits == 3 and text[:3] in RESTRICTED_ZIP3 \
                and text[:5].isdigit():
            text = "000" + text[3:]
        return generalize_code(text, ctx.params.keep_digits)
