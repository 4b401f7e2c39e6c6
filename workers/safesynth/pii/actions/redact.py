"""redact: replace the value by its entity type in angle brackets, e.g. "<US_SSN>" (presidio's convention)."""

from __future__ import annotations

from typing import Any

from safesynth.pii.actions.base import Action, ValueContext, register
from safesynth.spec.models import PiiAction


@register
class Redact(Action):
    name = PiiAction.REDACT

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        return f"<{ctx.entity.value if ctx.entity else 'REDACTED'}>"
