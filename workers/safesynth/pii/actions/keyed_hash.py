"""hash: keyed HMAC-SHA256 of the value, hex, truncated to `HASH_CHARS` characters.

(The module is named keyed_hash so it does not shadow the builtin `hash`.)

Keyed (RFC 2104), so nobody without the key can confirm a guess by hashing it
(a plain SHA-256 of an SSN is reversed by trying all 10^9 SSNs). 16 hex
characters keep 64 bits: by the birthday bound, a collision among n distinct
values has probability about n²/2^65, under 1e-9 for a million values.
Spellings of one value hash alike (digits of phones/SSNs/cards, case of
emails and names; see `value_key`).
"""

from __future__ import annotations

from typing import Any

from safesynth.pii.actions.base import Action, ValueContext, register, value_key
from safesynth.spec.models import PiiAction

HASH_CHARS = 16


@register
class Hash(Action):
    name = PiiAction.HASH

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        return ctx.keys.hexdigest("hash", value_key(ctx.entity, value))[:HASH_CHARS]
