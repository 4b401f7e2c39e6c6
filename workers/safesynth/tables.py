"""Load the user's sensitive table from bytes, and refuse bad input with a clear message.

Over 400 lines on purpose: one reader per format, each with the messages that
locate bad input; they share this module's decoding and header checks and have one
caller, `load_table`, so they stay beside it.

`load_table` is a pure function of the bytes and the source name: the caller
(stage `prepare`) fetches the bytes, so this module never touches storage and
is easy to test. It reads CSV/TSV (optionally gzip-compressed), Parquet and JSON
Lines as faithfully as it can:

* CSV cells are read as *strings* (``dtype=str``). Column kinds and dtypes are
  decided later by `safesynth.schema`, which sees the original text: pandas'
  own guessing would turn the zip code "007" into the integer 7.
* Empty cells and the common NA spellings in `NA_VALUES` become nulls.
* Duplicate column names are found on the raw header (read with the csv
  module) before pandas can rename them to "x.1".

Every problem raises `BadInputError` (exit 2: retrying cannot help). Messages
say what is wrong, where (file, line, column name or position) and what to do.
They never repeat a cell value: the table is sensitive (PII). Column names are
fine to show; the one exception is a first row that looks like data, whose
cells are then not named, because they probably *are* data.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from safesynth.errors import BadInputError

FORMATS = ("auto", "csv", "parquet", "jsonl")

# Extension -> (format, delimiter, gzip-compressed). Longest suffixes first, so
# ".csv.gz" wins over ".gz". ".json" is deliberately absent: a JSON document is
# not JSON Lines, and guessing would give a confusing error further in.
EXTENSIONS: tuple[tuple[str, str, str | None, bool], ...] = (
    (".csv.gz", "csv", ",", True),
    (".tsv.gz", "csv", "\t", True),
    (".jsonl.gz", "jsonl", None, True),
    (".ndjson.gz", "jsonl", None, True),
    (".csv", "csv", ",", False),
    (".tsv", "csv", "\t", False),
    (".parquet", "parquet", None, False),
    (".pq", "parquet", None, False),
    (".jsonl", "jsonl", None, False),
    (".ndjson", "jsonl", None, False),
    (".jsonlines", "jsonl", None, False),
    (".json-lines", "jsonl", None, False),
)

# Cells read as null in CSV. Written out (rather than pandas' default list) so the
# behaviour does not drift with the pandas version; it is pandas' list minus the
# exotic spellings ("-1.#IND", "1.#QNAN", ...).
NA_VALUES: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null",
                              "None", "#N/A", "#NA", "<NA>")

# If a .csv header has a single field but splits into more on one of these, the
# file uses that separator (European Excel writes ";").
FALLBACK_DELIMITERS: tuple[str, ...] = (";", "\t", "|")

# `DataFrame.attrs` key under which a CSV table carries the delimiter it was read with.
DELIMITER_ATTR = "safesynth.delimiter"

# How many names to list in one message, so a 500-column mistake stays readable.
MAX_NAMES_IN_MESSAGE = 10

_BOM = b"\xef\xbb\xbf"
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?")


# --------------------------------------------------------------------------- API


def load_table(data: bytes, *, source: str, fmt: str = "auto") -> pd.DataFrame:
    """Parse `data` (the raw file) into a DataFrame with a fresh RangeIndex.

    `source` is the URI or file name: it appears in every message and, when
    `fmt` is "auto", its extension picks the format. `fmt` is one of
    `FORMATS` (spec.data.format). CSV columns come back as strings; Parquet
    and JSONL keep their own types. Raises `BadInputError` for any input that
    cannot be read as a table with named columns and at least one row.
    """
    fmt = getattr(fmt, "value", fmt)  # accept the DataFormat enum as well as its value
    if fmt not in FORMATS:
        raise BadInputError(f"{source}: unknown format {fmt!r}; set spec.data.format to one of {', '.join(FORMATS)}")
    ext_fmt, delimiter, gzipped = _from_extension(source)
    if fmt == "auto":
        if ext_fmt is None:
            raise BadInputError(
                f"{source}: cannot tell the file format from its name; give it a .csv, .tsv, .csv.gz, .parquet or "
                ".jsonl extension, or set spec.data.format to csv, parquet or jsonl"
            )
        fmt = ext_fmt
    if gzipped:
        data = _gunzip(data, source)
    if not data.strip() or data.strip() == _BOM:
        raise BadInputError(f"{source}: the file is empty; supply a table with a header row and data rows")
    if fmt == "parquet":
        df = _read_parquet(data, source)
    elif fmt == "jsonl":
        df = _read_jsonl(data, source)
    else:
        df = _read_csv(data, source, delimiter or ",", explicit_delimiter=delimiter == "\t")
    check_columns(df, source)
    return df.reset_index(drop=True)


def detect_format(source: str) -> str | None:
    """The format ("csv", "parquet", "jsonl") that `source`'s extension names, or None."""
    return _from_extension(source)[0]


def check_columns(df: pd.DataFrame, source: str) -> None:
    """Refuse a table without columns or rows, or with blank or duplicate column names.

    Used for every format: CSV headers are checked earlier on the raw text (so
    pandas cannot rename duplicates), Parquet and JSONL only here.
    """
    names = list(df.columns)
    if not names:
        raise BadInputError(f"{source}: the table has no columns; supply a table with at least one named column")
    for pos, name in enumerate(names, start=1):
        if not isinstance(name, str):
            raise BadInputError(f"{source}: column {pos} has a name that is not text; name every column with a string")
    _check_names(names, source)
    if len(df) == 0:
        raise BadInputError(
            f"{source}: the table has a header but no rows ({len(names)} columns, 0 rows); supply a file with data rows"
        )


# --------------------------------------------------------------------- shared


def _from_extension(source: str) -> tuple[str | None, str | None, bool]:
    """(format, delimiter, gzipped) from the name's extension; query strings are ignored."""
    path = urlparse(source).path if "://" in source else source
    name = path.lower().rsplit("/", 1)[-1]
    for suffix, fmt, delimiter, gz in EXTENSIONS:
        if name.endswith(suffix):
            return fmt, delimiter, gz
    return None, None, name.endswith(".gz")


def _gunzip(data: bytes, source: str) -> bytes:
    """Decompress a .gz file; a name that promises gzip but holds something else is an error."""
    if not data.startswith(b"\x1f\x8b"):
        raise BadInputError(f"{source}: the name ends in .gz but the file is not gzip-compressed "
                            f"({_looks_like(data)}); compress it with gzip or remove the .gz suffix")
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise BadInputError(f"{source}: the gzip data is damaged or truncated ({type(exc).__name__}); "
                            "upload the file again") from None


def _looks_like(data: bytes) -> str:
    """A short description of what the bytes seem to be, from magic numbers (never from content)."""
    if data.startswith(b"PAR1"):
        return "it is a Parquet file"
    if data.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed"
    if data.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive, perhaps an Excel .xlsx workbook"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "it is an old Excel .xls workbook"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is UTF-16 text"
    head = data[:4096].lstrip(_BOM).lstrip()
    if b"\x00" in head:
        return "it is binary data"
    if head.startswith((b"{", b"[")):
        return "it looks like JSON text"
    return "it looks like text, perhaps CSV"


def _refuse_binary(data: bytes, source: str, fmt_name: str) -> None:
    """Text formats: refuse Parquet, archives, UTF-16 and other binary data before decoding."""
    if data.startswith((b"PAR1", b"\x1f\x8b", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        what = _looks_like(data)
        raise BadInputError(f"{source}: this is not a {fmt_name} file: {what}; give the file the extension of its real "
                            "format (.parquet, .csv.gz) or set spec.data.format, or export the table as CSV")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInputError(f"{source}: the file is UTF-16 encoded; re-save it as UTF-8 (in Excel: 'CSV UTF-8')")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise BadInputError(f"{source}: the file holds binary data (a NUL byte at byte offset {nul}, line {line}), "
                            f"so it is not a {fmt_name} text file; export the table as UTF-8 {fmt_name}")


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) or an error naming the first bad byte's position.

    There is deliberately no latin-1 fallback: it would silently turn every
    accented name into mojibake, which then gets learned and synthesized.
    """
    base = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[base:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = base + exc.start
        line = data.count(b"\n", 0, offset) + 1
        col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        raise _EncodingError(offset, line, col) from None


class _EncodingError(Exception):
    """Internal: where the first invalid UTF-8 byte is; turned into a BadInputError by the reader."""

    def __init__(self, offset: int, line: int, col: int) -> None:
        super().__init__(offset, line, col)
        self.offset, self.line, self.col = offset, line, col

    def message(self, source: str, where: str = "") -> str:
        return (f"{source}: the file is not valid UTF-8: the first bad byte is at byte offset {self.offset} "
                f"(line {self.line}, character {self.col}{where}); re-save the file as UTF-8 (in Excel: 'CSV UTF-8'; "
                "or convert it, e.g. iconv -f latin1 -t utf-8)")


def _check_names(names: list[str], source: str) -> None:
    """Blank names (by 1-based position) and duplicate names (by name) are refused."""
    blank = [pos for pos, name in enumerate(names, start=1) if not name.strip()]
    if blank:
        shown = ", ".join(map(str, blank[:MAX_NAMES_IN_MESSAGE]))
        more = f" and {len(blank) - MAX_NAMES_IN_MESSAGE} more" if len(blank) > MAX_NAMES_IN_MESSAGE else ""
        hint = " (a trailing delimiter at the end of the header?)" if blank == [len(names)] else ""
        raise BadInputError(f"{source}: column {shown}{more} (counting from 1) has an empty name{hint}; "
                            "give every column a name in the header")
    counts = Counter(names)
    dups = [name for name in dict.fromkeys(names) if counts[name] > 1]
    if dups:
        shown = ", ".join(f"{name!r} ({counts[name]} times)" for name in dups[:MAX_NAMES_IN_MESSAGE])
        raise BadInputError(f"{source}: duplicate column names: {shown}; give every column a unique name")


# ------------------------------------------------------------------------- CSV


def _read_csv(data: bytes, source: str, delimiter: str, *, explicit_delimiter: bool) -> pd.DataFrame:
    """CSV/TSV text -> DataFrame of strings (nulls for `NA_VALUES`).

    The header is read with the csv module first: duplicates, blank names and a
    missing header are caught there. pandas then parses the body (fast, C); it
    only reports ragged rows by record number, so on a parser error the csv
    module re-reads the text to find the physical line to report.
    """
    _refuse_binary(data, source, "CSV")
    try:
        text = _decode(data, source)
    except _EncodingError as exc:
        where = _column_of_bad_byte(data, exc, delimiter)
        raise BadInputError(exc.message(source, f", column {where!r}" if where else "")) from None

    header, header_line = _read_header(text, delimiter, source)
    if len(header) == 1 and not explicit_delimiter:
        for alt in FALLBACK_DELIMITERS:
            alt_header, _ = _read_header(text, alt, source)
            if len(alt_header) > 1:
                delimiter, header = alt, alt_header
                break
    if _looks_like_data(header):
        raise BadInputError(f"{source}: the first row looks like data, not a header (line {header_line}: every cell "
                            "is a number or a date); add a header row with the column names")
    _check_names(header, source)

    try:
        with warnings.catch_warnings():
            # With index_col=False pandas only *warns* when every row has extra fields, and drops them.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_values=list(NA_VALUES),
                index_col=False,
                skip_blank_lines=True,
                engine="c",
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning, csv.Error) as exc:
        raise BadInputError(_locate_csv_problem(text, delimiter, len(header), source, exc)) from None
    except pd.errors.EmptyDataError:
        raise BadInputError(f"{source}: the file is empty; supply a table with a header row and data rows") from None
    if list(df.columns) != header:  # pandas and the csv module disagree on the header: do not guess
        raise BadInputError(f"{source}: the header on line {header_line} could not be read consistently "
                            f"({len(header)} vs {len(df.columns)} columns); check the quoting of the header row")
    if len(df) == 0:
        raise BadInputError(f"{source}: the table has a header but no rows ({len(header)} columns, 0 rows); "
                            "supply a file with data rows")
    df.attrs[DELIMITER_ATTR] = delimiter  # the schema's tie-breaker for the decimal mark (";" files use ",")
    return df


def _read_header(text: str, delimiter: str, source: str) -> tuple[list[str], int]:
    """The first non-blank record and the line it starts on (pandas skips leading blank lines too)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    prev = 0
    try:
        for row in reader:
            if (row and any(cell.strip() for cell in row)) or len(row) > 1:
                return row, prev + 1
            prev = reader.line_num
    except csv.Error:
        raise BadInputError(f"{source}: the header starting on line {prev + 1} is not valid CSV (a quote that is never "
                            "closed?); fix the quoting of the header row") from None
    raise BadInputError(f"{source}: the file is empty; supply a table with a header row and data rows")


def _looks_like_data(header: list[str]) -> bool:
    """True when every non-blank header cell is a number or a date: such a row is data, not names."""
    cells = [cell.strip() for cell in header if cell.strip()]
    return bool(cells) and all(_NUMBER.fullmatch(cell) or _DATE.fullmatch(cell) for cell in cells)


@contextmanager
def _big_fields() -> Iterator[None]:
    """Lift the csv module's 128 KiB cell limit for a while: long free-text cells are legitimate."""
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) per CSV record, including the header; blank lines are skipped."""
    with _big_fields():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        prev = 0
        for row in reader:
            start = prev + 1
            prev = reader.line_num
            if row:
                yield start, row


def _locate_csv_problem(text: str, delimiter: str, n_cols: int, source: str, exc: BaseException) -> str:
    """A message naming the line of the first ragged record or broken quote (pandas only counts records)."""
    for line, row in _records(text, delimiter):
        if len(row) > n_cols:
            return (f"{source}: line {line} has {len(row)} fields but the header has {n_cols} columns; quote cells "
                    "that contain the delimiter, or remove the extra fields")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    prev = 0
    try:
        with _big_fields():
            for _ in reader:
                prev = reader.line_num
    except csv.Error:
        return (f"{source}: broken quoting in the record starting on line {prev + 1}: a quote is never closed or is "
                "followed by stray characters; quote the cell properly (a quote inside a quoted cell is written \"\")")
    return f"{source}: the CSV could not be parsed ({type(exc).__name__}); check the delimiter and the quoting"


def _column_of_bad_byte(data: bytes, exc: _EncodingError, delimiter: str) -> str | None:
    """The header name of the column holding the first invalid byte, found by re-reading with replacements.

    The first cell holding U+FFFD (the replacement character) in a record that
    starts at or before the bad byte's line is taken; None when it is in the
    header or cannot be placed.
    """
    text = data.decode("utf-8-sig", errors="replace")
    try:
        records = _records(text, delimiter)
        header_line, header = next(records)
        if exc.line <= header_line:
            return None
        for line, row in records:
            if line > exc.line:
                return None
            for name, cell in zip(header, row, strict=False):
                if "\ufffd" in cell:
                    return name
    except (csv.Error, StopIteration):
        return None
    return None


# --------------------------------------------------------------------- Parquet


def _read_parquet(data: bytes, source: str) -> pd.DataFrame:
    """Parquet -> DataFrame with its own types; nested and binary columns are refused.

    Dates come back as datetime64 (not Python date objects) and decimals as
    float64, the forms the schema and the generators understand.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not (data.startswith(b"PAR1") and data.endswith(b"PAR1")):
        raise BadInputError(f"{source}: this is not a Parquet file ({_looks_like(data)}); give the file the extension "
                            "of its real format (.csv, .jsonl) or set spec.data.format")
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(f"{source}: the Parquet file is damaged or unsupported ({type(exc).__name__}); "
                            "write it again, e.g. with pandas.DataFrame.to_parquet") from None
    names = list(schema.names)
    if not names:
        raise BadInputError(f"{source}: the table has no columns; supply a table with at least one named column")
    _check_names(names, source)  # before reading: pyarrow and pandas handle duplicate names badly
    for field in schema:
        t = field.type
        if pa.types.is_nested(t):
            raise BadInputError(f"{source}: column {field.name!r} holds nested values ({t}); flatten it into "
                                "plain columns (numbers, text, dates, booleans)")
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            raise BadInputError(f"{source}: column {field.name!r} holds binary data; store it as text or drop it")
        if pa.types.is_duration(t) or pa.types.is_interval(t):
            raise BadInputError(f"{source}: column {field.name!r} holds durations; store them as a number "
                                "(e.g. seconds)")
    try:
        table = parquet.read()
        for i, field in enumerate(table.schema):
            if pa.types.is_decimal(field.type):
                table = table.set_column(i, field.name, table.column(i).cast(pa.float64(), safe=False))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BadInputError(f"{source}: the Parquet file is damaged or unsupported ({type(exc).__name__}); "
                            "write it again, e.g. with pandas.DataFrame.to_parquet") from None
    try:
        df = table.to_pandas(date_as_object=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise BadInputError(f"{source}: the Parquet file cannot be converted to a table ({type(exc).__name__}); "
                            "write it again, e.g. with pandas.DataFrame.to_parquet") from None
    if not isinstance(df.index, pd.RangeIndex):  # a pandas index stored in the file: named ones are data
        df = df.reset_index(drop=all(n is None for n in df.index.names))
    return df


# ----------------------------------------------------------------------- JSONL


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key twice in one object would silently lose a value."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey(next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1))
    return obj


def _read_jsonl(data: bytes, source: str) -> pd.DataFrame:
    """JSON Lines -> DataFrame: one flat object per line, keys are columns (in first-seen order).

    Missing keys are nulls. Columns of all-booleans, all-integers (Int64 when
    some are missing) and numbers keep those types; anything else is left as
    Python objects for the schema to read as text.
    """
    _refuse_binary(data, source, "JSON Lines")
    try:
        text = _decode(data, source)
    except _EncodingError as exc:
        raise BadInputError(exc.message(source)) from None
    if text.lstrip().startswith("["):
        raise BadInputError(f"{source}: the file is a JSON array, not JSON Lines; write one JSON object per line")
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{source}: line {lineno} is not valid JSON ({exc.msg} at character {exc.colno}); "
                                "write one JSON object per line") from None
        except _DuplicateKey as exc:
            raise BadInputError(f"{source}: line {lineno} has the key {exc.key!r} more than once; "
                                "give every field a unique name") from None
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(obj), "a number" if obj is not None
                                                                               else "null")
            raise BadInputError(f"{source}: line {lineno} is {kind}, not a JSON object; write one object per line, "
                                "e.g. {\"column\": value, ...}")
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                what = "object" if isinstance(value, dict) else "array"
                raise BadInputError(f"{source}: column {key!r} on line {lineno} holds a nested {what}; "
                                    "flatten it into plain columns")
        records.append(obj)
    names = list(dict.fromkeys(key for rec in records for key in rec))
    if not names:
        raise BadInputError(f"{source}: the table has no columns (every line is an empty object); "
                            "supply objects with at least one field")
    _check_names(names, source)
    return pd.DataFrame({name: _json_column([rec.get(name) for rec in records]) for name in names})


def _json_column(values: list[Any]) -> pd.Series:
    """One JSONL column with the narrowest faithful dtype."""
    present = [v for v in values if v is not None]
    types = {type(v) for v in present}
    has_null = len(present) < len(values)
    try:
        if types == {bool}:
            return pd.Series(pd.array(values, dtype="boolean" if has_null else "bool"))
        if types == {int}:
            return pd.Series(pd.array(values, dtype="Int64" if has_null else "int64"))
        if types and types <= {int, float}:
            return pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")
    except (OverflowError, TypeError, ValueError):  # integers beyond int64: keep them exact, as objects
        pass
    if types and types <= {str}:
        return pd.Series(values)
    return pd.Series(values, dtype=object)
