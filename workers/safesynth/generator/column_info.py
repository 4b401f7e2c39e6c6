"""`ColumnInfo`: what the generator knows about one column, the type every generator module shares.

A `ColumnInfo` carries the column's kind (as prepare inferred it), the pandas
dtype to rebuild the output column with, and the constraints the sampler and
the validator enforce: allowed categories (as field strings) and numeric or
date bounds. It is stored with the model (`columns_to_json`).

This module sits below `serialize` (which spells values per ColumnInfo) and
`columns` (which builds ColumnInfo from the schema and the training rows, and
needs `serialize` to do so); `columns` re-exports everything here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("integer", "float", "categorical", "boolean", "datetime", "text", "identifier", "empty")
# Columns the language model writes; identifiers are made fresh and empty columns stay empty.
MODELED_KINDS = frozenset({"integer", "float", "categorical", "boolean", "datetime", "text"})
NUMERIC_KINDS = frozenset({"integer", "float"})
# Datetime styles: pandas datetimes written as a date or as ISO 8601; "text" keeps the original strings.
DATE, ISO, TEXT = "date", "iso", "text"


@dataclass
class ColumnInfo:
    """One column as the generator sees it; JSON-able (it is stored with the model)."""

    name: str
    kind: str
    dtype: str = "object"
    nullable: bool = True
    categories: Optional[list[str]] = None  # allowed field strings (categorical, boolean)
    minimum: Optional[float] = None  # numbers; datetimes as seconds since the epoch (UTC)
    maximum: Optional[float] = None
    style: str = ""  # datetime: date | iso | text; identifier: a template (see identifiers.py)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def modeled(self) -> bool:
        return self.kind in MODELED_KINDS

    @property
    def bool_dtype(self) -> bool:
        return self.dtype in ("bool", "boolean")

    @property
    def tz_aware(self) -> bool:
        """A pandas datetime dtype with a time zone, e.g. "datetime64[ns, UTC]"."""
        return self.dtype.startswith("datetime64") and "," in self.dtype

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ColumnInfo":
        return cls(**obj)


def parse_datetime(text: str) -> "pd.Timestamp":
    """Parse one date/time string (ISO or anything dateutil reads); ValueError when it is not one."""
    import pandas as pd

    ts = pd.Timestamp(text)
    if ts is pd.NaT:
        raise ValueError("not a date")
    return ts


def epoch_seconds(ts: "pd.Timestamp") -> float:
    """Seconds since 1970-01-01 UTC; naive timestamps count as UTC. Microsecond resolution, so that
    second-resolution timestamps far outside pandas' nanosecond range (year 9999) do not overflow."""
    import numpy as np

    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return float(ts.asm8.astype("datetime64[us]").astype(np.int64)) / 1e6


def columns_to_json(cols: list[ColumnInfo]) -> list[dict[str, Any]]:
    return [c.to_json() for c in cols]


def columns_from_json(items: list[dict[str, Any]]) -> list[ColumnInfo]:
    return [ColumnInfo.from_json(c) for c in items]
