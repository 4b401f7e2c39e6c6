"""Generating whole entities row by row, each row's context forced (entities.py has the layout).

Position 0 of every entity is sampled with `_ss_pos = 0`, its row count
(drawn by the caller from the rows-per-entity histogram), and null previous
values and gap forced: the model writes the entity's static columns, its
start and the first row. Position k > 0 is sampled for the entities whose row count is
above k, in one batch, with the context forced: the position, the entity's
static columns, start and row count (the first row's values) and the
previous row's values in the `_ss_prev_` columns. So static columns are
constant and the row count is the drawn one by construction; only the gap and
the varying columns are sampled.

A row the validator rejects is sampled again (up to RETRIES times for that
entity at that position); an entity whose row still fails ends there, and the
count of such entities is reported (`entitiesCut`), never hidden.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.entities import POS, ROWS, EntityLayout
from safesynth.generator.serialize import Field
from safesynth.generator.tokenizer import FieldTokenizer
from safesynth.generator.validate import RowValidator, row_key
from safesynth.progress import Progress

RETRIES = 8  # extra tries for one entity's row at one position before the entity ends there
FIRST_ROUNDS = 50  # batches of first rows with nothing accepted before giving up
OVERSAMPLE = 4  # first rows sampled per entity still missing one

BatchFn = Callable[[int, Sequence[dict[int, Sequence[int]]]], list[list[int]]]


class EntitiesStoppedError(RuntimeError):
    """No first row of an entity passes validation: the model cannot write this table."""


@dataclass
class SampledEntities:
    """Accepted rows (modeled columns' values), each row's entity (0-based, contiguous, in position order)."""

    rows: list[list[Any]] = field(default_factory=list)
    entity: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sampled: int = 0
    cut: int = 0  # entities ended early because a row kept failing
    seconds: float = 0.0
    history: list[tuple[int, int]] = field(default_factory=list)


def forced_ids(tok: FieldTokenizer, fields: dict[int, Field]) -> dict[int, Sequence[int]]:
    """Token ids per forced column index ([null] for a null field)."""
    texts = [f for f in fields.values() if f is not None]
    encoded = iter(tok.encode_values(texts))
    return {j: ([tok.specials.null] if f is None else list(next(encoded))) for j, f in fields.items()}


def sample_entities(batch: BatchFn, validator: RowValidator, tok: FieldTokenizer, layout: EntityLayout,
                    lengths: np.ndarray, batch_size: int, drop_copies: bool, progress: Progress) -> SampledEntities:
    """One entity per entry of `lengths` (its row count, forced on every row; see the module docstring)."""
    cols: list[ColumnInfo] = validator.cols
    index = {c.name: i for i, c in enumerate(cols)}
    forced = [c for c in layout.forced_columns if c in index]
    pos_i, rows_i = index[POS], index[ROWS]
    lag_src = {f"_ss_prev_{c}": index[c] for c in layout.lagged if c in index}
    n_entities = len(lengths)
    first_nulls: dict[int, Field] = {index[c]: None for c in layout.first_row_nulls if c in index}
    out = SampledEntities()
    t0 = time.monotonic()
    firsts: list[list[Any]] = []
    pending = [int(n) for n in lengths]
    with progress.task("generate: entities", total=n_entities) as advance:
        idle = 0
        while pending:
            # a batch of at least OVERSAMPLE tries per missing entity (up to batch_size): the last few
            # entities are not left to one try per batch when most first rows fail validation
            chunk, pending = pending[:batch_size], pending[batch_size:]
            tries = [chunk[i % len(chunk)] for i in range(max(len(chunk), min(batch_size, OVERSAMPLE * len(chunk))))]
            seqs = batch(len(tries), [forced_ids(tok, {pos_i: "0", rows_i: str(n), **first_nulls}) for n in tries])
            missing = Counter(chunk)
            ok = 0
            for n, ids in zip(tries, seqs):
                if not missing[n]:
                    continue
                values = validator.accept(ids, drop_copies=drop_copies)
                if values is not None:
                    firsts.append(values)
                    missing[n] -= 1
                    ok += 1
            pending += [n for n, left in missing.items() for _ in range(left)]  # tried again, fresh rows
            out.sampled += len(seqs)
            out.history.append((ok, len(seqs)))
            advance(ok)
            idle = 0 if ok else idle + 1
            if idle >= FIRST_ROUNDS:
                raise EntitiesStoppedError(f"no entity's first row passed validation in {FIRST_ROUNDS} batches")
    lengths = np.array([max(1, min(layout.max_rows, int(v[rows_i] or 1))) for v in firsts], dtype=np.int64)
    rows: list[list[list[Any]]] = [[v] for v in firsts]
    with progress.task("generate: rows after the first", total=int(lengths.sum() - len(lengths))) as advance:
        for k in range(1, int(lengths.max(initial=1))):
            todo = [e for e in range(n_entities) if lengths[e] > k]
            attempts = dict.fromkeys(todo, 0)
            while todo:
                prefixes = [forced_ids(tok, _forced_fields(rows[e], k, forced, cols, index, pos_i, lag_src))
                            for e in todo]
                accepted: list[int] = []
                failed: list[int] = []
                for start_i in range(0, len(todo), batch_size):
                    chunk = todo[start_i:start_i + batch_size]
                    seqs = batch(len(chunk), prefixes[start_i:start_i + batch_size])
                    out.sampled += len(seqs)
                    ok = 0
                    for e, ids in zip(chunk, seqs):
                        values = validator.accept(ids, drop_copies=drop_copies)
                        (accepted if values is not None else failed).append(e)
                        if values is not None:
                            rows[e].append(values)
                            ok += 1
                    out.history.append((ok, len(seqs)))
                advance(len(accepted))
                todo = []
                for e in failed:
                    attempts[e] += 1
                    if attempts[e] > RETRIES:
                        lengths[e] = k
                        out.cut += 1
                    else:
                        todo.append(e)
    out.rows = [r for entity_rows in rows for r in entity_rows]
    out.entity = np.repeat(np.arange(n_entities), [len(r) for r in rows])
    out.seconds = time.monotonic() - t0
    return out


def _forced_fields(previous: list[list[Any]], k: int, forced: Sequence[str], cols: Sequence[ColumnInfo],
                   index: dict[str, int], pos_i: int, lag_src: dict[str, int]) -> dict[int, Field]:
    """The forced fields of an entity's row k by column index: position k, the first row's context, the last
    row's values."""
    first = row_key(previous[0], cols)
    last = row_key(previous[-1], cols)
    fields: dict[int, Field] = {}
    for name in forced:
        i = index[name]
        if i == pos_i:
            fields[i] = str(k)
        elif name in lag_src:
            fields[i] = last[lag_src[name]]
        else:
            fields[i] = first[i]
    return fields
