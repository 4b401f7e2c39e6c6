"""The schema's data model: column kinds and what prepare writes to prepare/schema.json.

Only the types: the rules and thresholds that fill them in are in
`safesynth.schema`, which re-exports everything here (callers import from it).
Kept apart so the column types can change without touching the inference rules.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class ColumnKind(str, Enum):
    """What a column is, as the generators and the PII stage see it."""

    INTEGER = "integer"
    FLOAT = "float"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"
    EMPTY = "empty"


class CategoryCount(BaseModel):
    """One category of a categorical or boolean column and how many rows hold it."""

    model_config = ConfigDict(frozen=True)

    value: str
    count: int


class ColumnSchema(BaseModel):
    """One column: its kind, null counts and kind-specific statistics.

    Fields that do not apply to the kind are None and left out of the JSON.
    """

    name: str
    kind: ColumnKind
    dtype: str = Field(description="pandas dtype after coerce_to_schema: what the Parquet column holds")
    source_dtype: str = Field(description="pandas dtype as loaded")
    null_count: int
    null_fraction: float
    n_unique: int = Field(description="distinct non-null values")
    # integer, float: numbers; datetime: ISO 8601 strings.
    min: int | float | str | None = None
    max: int | float | str | None = None
    all_integral: bool | None = None
    # datetime: the strptime format the strings were parsed with (None for a datetime dtype), and how many
    # non-null strings did not parse (at most 5%; they become nulls in coerce_to_schema).
    format: str | None = None
    unparsed_count: int | None = None
    # categorical, boolean: categories seen at least MIN_CATEGORY_COUNT times (boolean: both), most frequent first.
    categories: list[CategoryCount] | None = None
    rare_category_count: int | None = None
    rare_row_count: int | None = None
    # boolean from strings: the spellings of true and false in the file (most frequent if several cases).
    true_token: str | None = None
    false_token: str | None = None
    # text, identifier: lengths only, never values.
    mean_chars: float | None = None
    max_chars: int | None = None
    mean_words: float | None = None


class TableSchema(BaseModel):
    """The schema of the whole table, written as prepare/schema.json."""

    schema_version: int = SCHEMA_VERSION
    n_rows: int
    columns: list[ColumnSchema]

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, leaving out statistics that do not apply to a column's kind."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> TableSchema:
        return cls.model_validate(data)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def of_kind(self, *kinds: ColumnKind) -> list[ColumnSchema]:
        return [c for c in self.columns if c.kind in kinds]
