"""keep: leave the values as they are (a detected column the user decided is fine, or STATE by default)."""

from __future__ import annotations

from typing import Any

from safesynth.pii.actions.base import Action, ValueContext, register
from safesynth.spec.models import PiiAction


@register
class Keep(Action):
    name = PiiAction.KEEP
    identity = True

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        return value
