"""mask: hide all but the last `keepLast` characters ("***-**-6789"); separators stay, letters and digits become "*".

A value no longer than keepLast is masked entirely, so short values never
pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from safesynth.pii.actions.base import Action, ValueContext, register, text_of
from safesynth.spec.models import PiiAction

MASK_CHAR = "*"


def mask_text(text: str, keep_last: int) -> str:
    visible = sum(ch.isalnum() for ch in text)
    keep = keep_last if visible > keep_last else 0
    out, seen = [], 0
    for ch in text:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > visible - keep else MASK_CHAR)
        else:
            out.append(ch)
    return "".join(out)


@register
class Mask(Action):
    name = PiiAction.MASK

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        return mask_text(text_of(value), ctx.params.keep_last)
