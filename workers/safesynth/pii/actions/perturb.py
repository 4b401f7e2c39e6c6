"""perturb: numbers move by a keyed share of their magnitude, dates by a keyed number of days.

x' = x + u·r·|x| with u uniform in [-1, 1) derived from (key, x) and r =
relativeNoise (default 0.1); integers are rounded and stay integers (zero
stays zero). Dates move by round(u·maxShiftDays) days. Keyed per value, so
equal values stay equal (counts and joins survive) and a re-run with the same
key gives the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from safesynth.pii.actions.base import NUMBER_KINDS, Action, ValueContext, register, text_of
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiAction


@register
class Perturb(Action):
    name = PiiAction.PERTURB
    kinds = NUMBER_KINDS | {ColumnKind.DATETIME}
    text_ok = False

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        u = 2.0 * ctx.keys.unit("perturb", text_of(value)) - 1.0
        if ctx.kind == ColumnKind.DATETIME or isinstance(value, pd.Timestamp):
            return pd.Timestamp(value) + pd.Timedelta(days=round(u * ctx.params.max_shift_days))
        x = float(value)
        new = x + u * ctx.params.relative_noise * abs(x)
        if ctx.kind == ColumnKind.INTEGER or isinstance(value, (int, np.integer)):
            return round(new)
        return new if math.isfinite(new) else value
