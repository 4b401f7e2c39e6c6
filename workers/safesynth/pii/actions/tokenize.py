"""tokenize: a format-preserving token, consistent per value: same length and character classes.

Digits become digits, letters letters of the same case, everything else is
kept ("P-00123" → "P-83015"). Integers stay integers with no leading zero.
Tokens are injective within a job (the applier redraws on a clash), and never
equal an original value of the column. Reversal is possible only through the
lookup table that the stage writes when `spec.pii.vaultUri` is set (off by
default); without it a token is as one-way as a hash.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.pii.actions.base import STRING_KINDS, Action, ValueContext, register, text_of, value_key
from safesynth.pii.formats import token_like
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiAction


@register
class Tokenize(Action):
    name = PiiAction.TOKENIZE
    avoids_originals = True
    injective = True
    kinds = STRING_KINDS | {ColumnKind.INTEGER}

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        rng = ctx.keys.rng("tokenize", f"{value_key(ctx.entity, value)}\x1f{ctx.attempt}")
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            sign = -1 if value < 0 else 1
            return sign * int(token_like(str(abs(int(value))), rng, first_nonzero=True))
        return token_like(text_of(value), rng)
