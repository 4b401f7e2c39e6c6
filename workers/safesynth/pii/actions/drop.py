"""drop: remove the column from pii/train.parquet and pii/holdout.parquet (in free text: redact the span)."""

from __future__ import annotations

from typing import Any

from safesynth.pii.actions.base import Action, ValueContext, register
from safesynth.spec.models import PiiAction


@register
class Drop(Action):
    name = PiiAction.DROP
    removes_column = True

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        # Only reached for a span inside free text, where a column cannot be dropped: redact it.
        return f"<{ctx.entity.value if ctx.entity else 'REDACTED'}>"
