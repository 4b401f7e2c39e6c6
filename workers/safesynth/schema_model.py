"""The schema's data model: column kinds and what prepare writes to prepare/schema.json.

Only the types: the rules and thresholds that fill them in are in
`safesynth.schema`, which re-exports everything here (callers import from it).
Kept apart so the column types can change without touching the inference rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safesynth.spec.models import ColumnKind  # the one kind enum, beside the kinds a spec may declare

SCHEMA_VERSION = 2




class CategoryCount(BaseModel):
    """One category of a categorical or boolean column and how many rows hold it."""

    model_config = ConfigDict(frozen=True)

    value: str
    count: int


class FormatCount(BaseModel):
    """One date format of a column and how many rows are written in it."""

    model_config = ConfigDict(frozen=True)

    format: str
    count: int


class SchemaWarning(BaseModel):
    """A decision the user should know about: column name and a reason code, never a value.

    Codes: numbers or dates kept as text (`leadingZeros`, `longIntegers`,
    `mostlyNumbers`, `mostlyDates`, `idName`), values that did not parse under
    the column's kind (`unparsed`, with `count`), and day/month order that one
    column writes both ways (`ambiguousDayMonth`).
    """

    model_config = ConfigDict(frozen=True)

    column: str
    code: str
    kind: str = Field(description="the kind the column was given")
    count: int | None = None


# What each warning code means for the user, and what to do; the summary carries the codes.
WARNING_TEXT = {
    "leadingZeros": "numbers with leading zeros kept as text (codes such as zip codes); declare kind: integer to "
                    "model them as numbers",
    "longIntegers": "numbers too long for integers kept as text (card or account numbers)",
    "mostlyNumbers": "most values are numbers but too many are not, so the column is text; fix the odd values or "
                     "declare kind: float in spec.data.columns (the rest are then counted as unparsed)",
    "mostlyDates": "most values are dates but too many do not parse, so the column is text; declare kind: datetime "
                   "and its format in spec.data.columns",
    "idName": "unique integers named like an ID are an identifier (replaced, not learned); declare "
              "identifier: false to model them",
    "unparsed": "values did not parse under the column's kind and became nulls",
    "dpTextFiller": "free text is not learned on the DP marginal route: the synthetic column holds public filler "
                    "sentences; set privacy.route: lm to learn it with DP-SGD",
    "dpNoCategory": "no category passed the DP release at this epsilon, so the synthetic column is empty; declare "
                    "its categories in privacy.domains (they are then public and cost nothing) or raise epsilon",
    "groupTruncated": "entities with more rows than spec.data.maxGroupRows keep their first rows in orderBy order; "
                      "the rest are left out of training and evaluation (raise maxGroupRows to keep them)",
    "entityLevelVaries": "constant within almost every entity, so it is generated as one value per entity (its "
                         "first row's); the entities where it changes are learned with their first value",
    "entityCopiesKept": "grouped records: generation.dropTrainingCopies is not applied (a short series of few "
                        "values repeats training rows by nature); rows of generated entities equal to a training "
                        "entity are left in the table (generate's entityCopies counts the entities)",
    "ambiguousDayMonth": "dates are written both day-first and month-first, so values like 01/02 are read "
                         "month-first; declare the format in spec.data.columns",
    "dpUndeclaredKind": "under DP its kind was read from the table, outside the guarantee; declare kind in "
                        "spec.data.columns (privacy.requireDeclaredSchema refuses to train without it)",
    "dpUndeclaredFormat": "under DP the date format the CSV is written in was read from the values, outside the "
                          "guarantee; declare format in spec.data.columns",
    "dpUndeclaredSpelling": "under DP the decimal mark, thousands separator or unit the CSV is written with was "
                            "read from the values, outside the guarantee; declare decimal or thousands in "
                            "spec.data.columns (a unit cannot be declared: write the numbers without it)",
    "dpUndeclaredFake": "under DP the PII stage's detection on the table made it a column of fresh fakes, outside "
                        "the guarantee; name it in spec.pii.columns with action fake and its entity",
}


def warning_text(warning: SchemaWarning | dict[str, Any]) -> str:
    """One line for logs and the run's final output: column, kind, what happened; never a value."""
    w = warning if isinstance(warning, SchemaWarning) else SchemaWarning.model_validate(warning)
    count = f" ({w.count} rows)" if w.count else ""
    return f"column {w.column!r} ({w.kind}): {WARNING_TEXT.get(w.code, w.code)}{count}"


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
    # Declared in spec.data.columns (kind, format, separators, null values) rather than inferred.
    declared: bool | None = None
    # Cells read as null besides empty ones (e.g. "?", "-"): tokens, not data; coerce_to_schema nulls them.
    null_values: list[str] | None = None
    # Strings that did not parse under the column's kind (they become nulls in coerce_to_schema).
    unparsed_count: int | None = None
    # integer, float from strings: decimal mark and thousands separator when not plain ".", none; a unit
    # written after the numbers ("%", " kg") or, with unit_first, before them (a currency symbol).
    decimal: str | None = None
    thousands: str | None = None
    unit: str | None = None
    unit_first: bool | None = None
    # datetime from strings: the most used strptime format, and every format with its rows (a mixed column).
    format: str | None = None
    formats: list[FormatCount] | None = None
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
    warnings: list[SchemaWarning] = Field(default_factory=list)

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

    def kinds(self) -> dict[str, str]:
        """Column name -> kind value: the one view every component starts from."""
        return {c.name: c.kind.value for c in self.columns}

    def of_kind(self, *kinds: ColumnKind) -> list[ColumnSchema]:
        return [c for c in self.columns if c.kind in kinds]
