"""Stage `generate`: sample rows from the trained generator, validate them, write the synthetic table.

Reads train/model/ (and, without DP, the training rows, to recognise exact
copies and to keep identifiers fresh); writes generate/synthetic.csv,
generate/synthetic.parquet and a summary: rows generated, the raw valid
fraction, rejects by reason, valid rows per second, and without DP exact
copies of training rows. Output has exactly numRecords rows (default: as many
as the training table) in the original column order.

Under DP (the bundle says so) this stage reads no private row: everything it
writes is post-processing of the DP model. So it counts no copies, identifiers
are drawn without looking at the training values and are never null (the
training null share is a statistic no mechanism released), the columns of the
PII stage's fakes, which the DP model was not given, are faked again (one
synthetic person per row, fresh key: `refake_columns`), and the summary
holds only counts of what the DP model wrote.

Stop rule (`stop_reason`, a pure function): the run fails with a clear error
when the first batch yields no valid row, or when the rejected share of
`patience` consecutive batches exceeds maxInvalidFraction: more sampling would
not fix an undertrained model, retraining would.

Over 400 lines on purpose: the shell and the named steps only this stage calls (sampling, shards, re-faking).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np

from safesynth.contract import SYNTHETIC_CSV_KEY, SYNTHETIC_TABLE_KEY, summary_key
from safesynth.errors import BadInputError
from safesynth.generator import marginal_bundle
from safesynth.generator.columns import ColumnInfo
from safesynth.generator.entities import EntityLayout
from safesynth.generator.validate import row_key
from safesynth.progress import Progress
from safesynth.spec.models import GenerationSpec, SafeSynthJobSpec, StageName
from safesynth.stages.inputs import TRAIN_TABLE, input_prefix, read_json_if_present
from safesynth.store import ArtifactStore
from safesynth.valueformats import render_table

if TYPE_CHECKING:
    import pandas as pd

    from safesynth.generator.grammar import Grammar
    from safesynth.generator.serialize import Field
    from safesynth.generator.validate import RowValidator

NAME = StageName.GENERATE
READS = ("train/model/", "pii/train.parquet", "prepare/train.parquet")
WRITES = (SYNTHETIC_CSV_KEY, SYNTHETIC_TABLE_KEY, summary_key(NAME.value))

MIN_REQUEST = 16  # smallest batch sampled when few rows are missing


class GenerationStoppedError(BadInputError):
    """The model's rows keep failing validation: retrying the same model cannot help (exit 2)."""

    reason = "GenerationStopped"


def stop_reason(history: Sequence[tuple[int, int]], max_invalid_fraction: float, patience: int) -> Optional[str]:
    """Why to stop, given (accepted, sampled) per batch so far; None to go on."""
    if not history:
        return None
    if len(history) == 1 and history[0][0] == 0:
        return "the first batch yielded no valid row"
    recent = history[-patience:]
    if len(recent) == patience and all(s and (s - a) / s > max_invalid_fraction for a, s in recent):
        return f"more than {max_invalid_fraction:.0%} of rows were invalid in {patience} consecutive batches"
    return None


CPU_BATCH, GPU_BATCH = 256, 1024


def sampling_batch_size(requested: int | None, device: str) -> int:
    """spec.generation.batchSize, or the device's default: a GPU decodes 1024 rows per step about as fast
    as 256 (each step is launch-bound), a CPU thread gains little past 256 and holds a bigger KV cache."""
    return requested or (GPU_BATCH if device == "cuda" else CPU_BATCH)


def batch_request(remaining: int, accepted: int, sampled: int, batch_size: int) -> int:
    """Rows to sample next: enough for `remaining` at the acceptance rate so far (+10%), within [16, batch]."""
    rate = accepted / sampled if sampled else 1.0
    want = math.ceil(round(remaining / max(rate, 0.05) * 1.1, 6))
    return max(min(MIN_REQUEST, batch_size), min(batch_size, want))


def fixed_fields(fixed: dict[str, str], cols: Sequence[ColumnInfo]) -> dict[str, str]:
    """Canonical field strings of generation.fixedValues, checked against the columns (errors name the column)."""
    from safesynth.generator.serialize import FieldError, to_field
    from safesynth.generator.validate import check_value

    by_name = {c.name: c for c in cols}
    out = {}
    for name, text in fixed.items():
        col = by_name.get(name)
        if col is None:
            raise BadInputError(f"spec.generation.fixedValues: no column named {name!r} in the trained model")
        if not col.modeled:
            raise BadInputError(f"spec.generation.fixedValues.{name}: a {col.kind} column is not generated by the "
                                "model and cannot be fixed")
        try:
            out[name] = to_field(check_value(text, col), col) or ""
        except FieldError as err:
            raise BadInputError(f"spec.generation.fixedValues.{name}: the value fails the column's {err.reason} "
                                "check (allowed categories and bounds are in train/model/safesynth.json)") from None
    return out


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    import torch

    from safesynth.generator import device as D
    from safesynth.generator.bundle import load_bundle
    from safesynth.generator.grammar import Grammar
    from safesynth.generator.validate import RowValidator

    if shard_count(spec) > 1:
        return merge_shards(spec, store, progress)  # the shards ran first (run_shard), each in its own pod
    gen: GenerationSpec = spec.generation
    device = D.pick_device(spec.training.device.value)
    D.configure_threads(spec.training.threads)
    seed = gen.seed if gen.seed is not None else spec.data.seed
    batch_size = sampling_batch_size(gen.batch_size, device)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="safesynth-generate-") as tmp:
        store.download_dir("train/model", tmp)
        if marginal_bundle.is_marginal(tmp):  # the DP marginal route: no language model to decode
            return generate_marginal(tmp, spec, store, seed, t0)
        bundle = load_bundle(tmp, device)
    model, tok, cols = bundle.model, bundle.tokenizer, bundle.columns
    dp_on = bool(bundle.meta.get("privacy"))
    n_target = gen.num_records or int(bundle.meta.get("trainEntities") or bundle.meta["trainRows"])
    fixed = fixed_fields(gen.fixed_values, cols)
    drop_copies = gen.drop_training_copies and not dp_on  # see dp.py: filtering on private rows is outside DP
    train_df = None if dp_on else store.read_table(f"{input_prefix(store)}/{TRAIN_TABLE}")
    layout = EntityLayout.from_json(bundle.meta["entities"]) if bundle.meta.get("entities") else None
    keys = None if train_df is None else training_keys(context_table(train_df, layout), bundle.modeled)
    validator = RowValidator(cols, tok, keys)
    load_s = time.monotonic() - t0

    vocab = int(model.get_output_embeddings().weight.shape[0])
    grammar = Grammar(cols, tok, vocab, fixed, device)
    sampler = Sampler(model, grammar, tok.specials.bos, gen, batch_size, device,
                      max_len=int(bundle.meta.get("maxLength") or model.config.max_position_embeddings),
                      generator=torch.Generator(device=device).manual_seed(seed))
    if layout is not None:
        return generate_entities(sampler, validator, tok, layout, cols, bundle.meta, n_target, drop_copies,
                                 train_df, spec, store, progress, seed, load_s)
    sampled = sample_rows(sampler, validator, n_target, drop_copies, progress)

    synthetic = assemble_table(sampled.rows, cols, train_df, n_target, np.random.default_rng(seed))
    synthetic = refake_columns(synthetic, cols, spec.pii.locale)
    synthetic, derived_changed = apply_derived(synthetic, bundle.meta)
    write_synthetic(store, synthetic, seed)

    copies_out = 0 if drop_copies or keys is None else sum(row_key(r, bundle.modeled) in keys for r in sampled.rows)
    copies = {} if dp_on else {"exactCopies": validator.copies if keys is not None else None,
                               "exactCopiesInOutput": copies_out if keys is not None else None}
    return {
        "rowsGenerated": len(synthetic),
        **sampling_summary(sampled, validator, batch_size),
        **copies,
        "dropTrainingCopies": drop_copies,
        "fixedColumns": sorted(fixed),
        **({"derivedCellsChanged": derived_changed} if derived_changed else {}),
        "constrainedDecoding": True,  # validFraction is measured after the grammar's masks (grammar.py)
        "grammarStates": grammar.n_states,
        "temperature": gen.temperature,
        "topP": gen.top_p,
        **D.describe(device),
        "timings": {"load": round(load_s, 3), "sample": round(sampled.seconds, 3)},
    }


def generate_marginal(folder: str, spec: SafeSynthJobSpec, store: ArtifactStore, seed: int,
                      t0: float) -> dict[str, Any]:
    """The marginal route: rows sampled from the DP marginal model (post-processing), no training row read.

    Every row is valid by construction (values are decoded inside the DP-safe categories and bounds), so there is
    no validation loop; identifiers are fresh and never null, as for any DP bundle (`assemble_table`).
    """
    from safesynth.generator.serialize import from_field

    gen = spec.generation
    cols, attrs, model, meta = marginal_bundle.load(folder)
    n_target = gen.num_records or int(meta["trainRows"])
    load_s = time.monotonic() - t0
    t1 = time.monotonic()
    modeled = [c for c in cols if c.modeled]
    fixed = fixed_fields(gen.fixed_values, cols)
    fields = marginal_bundle.sample_fields(model, attrs, cols, n_target, seed)
    if fixed:  # held columns are overwritten; the marginal model does not condition on them
        at = {c.name: j for j, c in enumerate(modeled)}
        for row in fields:
            for name, text in fixed.items():
                row[at[name]] = text
    rows = [[from_field(f, c) for f, c in zip(r, modeled)] for r in fields]
    synthetic = assemble_table(rows, cols, None, n_target, np.random.default_rng(seed))
    synthetic = refake_columns(synthetic, cols, spec.pii.locale)
    store.write_table(SYNTHETIC_TABLE_KEY, synthetic)
    schema = read_json_if_present(store, f"{input_prefix(store)}/schema.json") or {}
    store.write_bytes(SYNTHETIC_CSV_KEY, csv_bytes(render_table(synthetic, schema, seed)))
    sample_s = time.monotonic() - t1
    return {
        "rowsGenerated": len(synthetic), "route": "marginal", "rowsSampled": n_target, "validFraction": 1.0,
        "fixedColumns": sorted(fixed), "dropTrainingCopies": False,
        "rowsPerSecond": round(n_target / sample_s, 1) if sample_s > 0 else None,
        "timings": {"load": round(load_s, 3), "sample": round(sample_s, 3)},
    }


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The table as RFC 4180 CSV in UTF-8: CRLF between records, so a field holding CR or LF is quoted.

    Python's csv writer (under pandas) quotes a field only for the delimiter, the quote character or a
    character of the line terminator: with pandas' default "\n" a bare "\r" in generated text went out
    unquoted and the file read back with an extra row.
    """
    text: str = df.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")


def apply_derived(synthetic: pd.DataFrame, meta: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Columns the train stage found to be functions of others (age from two dates, generator/derived.py)
    recomputed from the generated inputs, with the cells changed per column (counts only)."""
    from safesynth.generator import derived

    rules = [derived.DerivedRule.from_json(o) for o in meta.get("derivedRules") or []]
    return derived.apply_rules(synthetic, rules) if rules else (synthetic, {})


def write_synthetic(store: ArtifactStore, synthetic: pd.DataFrame, seed: int) -> None:
    """The table as Parquet (typed) and as CSV in the source's spellings (separators, %, the mix of date
    formats)."""
    store.write_table(SYNTHETIC_TABLE_KEY, synthetic)
    schema = read_json_if_present(store, f"{input_prefix(store)}/schema.json") or {}
    store.write_bytes(SYNTHETIC_CSV_KEY, csv_bytes(render_table(synthetic, schema, seed)))


def context_table(train_df: Optional[pd.DataFrame], layout: Optional[EntityLayout]) -> Optional[pd.DataFrame]:
    """The training rows as the model saw them: context rows for grouped records (entities.py), else as is."""
    if train_df is None or layout is None:
        return train_df
    from safesynth.generator import entities as E

    return E.to_context_rows(E.truncate(train_df, layout.keys, layout.order_by, layout.max_rows)[0], layout)


def generate_entities(sampler: Sampler, validator: RowValidator, tok: Any, layout: EntityLayout,
                      all_cols: Sequence[ColumnInfo], meta: dict[str, Any], n_entities: int, drop_copies: bool, train_df: Optional[pd.DataFrame],
                      spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress, seed: int,
                      load_s: float) -> dict[str, Any]:
    """Grouped records: `n_entities` whole entities (generation.numRecords counts entities here), written in
    the original layout with fresh keys and orderBy rebuilt from the sampled gaps (entity_sampling.py)."""
    from safesynth.generator import entities as E
    from safesynth.generator.entity_sampling import EntitiesStoppedError, sample_entities
    from safesynth.generator.serialize import values_to_frame

    if shard_count(spec) > 1:
        raise BadInputError("spec.generation.shards: sharded generation of grouped records (spec.data.groupBy) is "
                            "not supported yet; set shards: 1")
    cols = validator.cols
    try:
        lengths = E.draw_lengths(meta.get("entityLengths") or [], n_entities, np.random.default_rng(seed))
        # Copies are judged per entity, not per context row: a short categorical series (4 yes/no visits)
        # repeats training rows by nature, and dropping such rows made first rows impossible to write.
        sampled = sample_entities(sampler.batch, validator, tok, layout, lengths, sampler.batch_size,
                                  False, progress)
    except EntitiesStoppedError as err:
        raise GenerationStoppedError(f"generation stopped: {err}; train longer (spec.training.epochs) or lower "
                                     "spec.generation.temperature") from None
    n_rows = len(sampled.rows)
    frame = assemble_frame(values_to_frame(sampled.rows, cols), all_cols, train_df, n_rows,
                           np.random.default_rng(seed))
    synthetic = E.from_context_rows(frame, sampled.entity, layout, meta.get("dtypes") or {})
    synthetic = refake_columns(synthetic, all_cols, spec.pii.locale, sampled.entity)
    entity_copies, copied_rows = None, 0
    if train_df is not None:  # not under DP: counting copies reads the private rows
        seen = set(E.entity_signatures(E.truncate(train_df, layout.keys, layout.order_by, layout.max_rows)[0],
                                       layout))
        copied = [len(sig) for sig in E.entity_signatures(synthetic, layout) if sig in seen]
        entity_copies, copied_rows = len(copied), sum(copied)
    write_synthetic(store, synthetic, seed)
    return {
        "rowsGenerated": len(synthetic),
        "entitiesGenerated": n_entities,
        "entitiesCut": sampled.cut,
        "rowsSampled": sampled.sampled,
        "validFraction": round(validator.valid / sampled.sampled, 4) if sampled.sampled else None,
        "invalid": dict(sorted(validator.rejected.items())),
        "exactCopies": validator.copies if validator.training_keys is not None else None,  # context rows
        "entityCopies": entity_copies,  # whole entities equal to a training entity (keys aside)
        **({"warnings": [{"column": layout.keys[0], "kind": "identifier", "code": "entityCopiesKept",
                          "count": copied_rows}]} if drop_copies and entity_copies else {}),
        "dropTrainingCopies": False,
        "rowsPerSecond": round(n_rows / sampled.seconds, 1) if sampled.seconds > 0 else None,
        "timings": {"load": round(load_s, 3), "sample": round(sampled.seconds, 3)},
    }


def training_keys(train_df: Optional[pd.DataFrame],
                  modeled: Sequence[ColumnInfo]) -> Optional[set[tuple[Field, ...]]]:
    """The training rows as field tuples, to recognise exact copies; None when the table lacks a modeled column."""
    from safesynth.generator.serialize import frame_to_fields

    if train_df is None or any(c.name not in train_df.columns for c in modeled):
        return None
    return {tuple(f) for f in frame_to_fields(train_df[[c.name for c in modeled]], modeled)}


@dataclass
class Sampler:
    """The trained model with its grammar and the spec's decoding settings: one `batch(n)` per request."""

    model: Any
    grammar: Grammar
    bos: int
    gen: GenerationSpec
    batch_size: int
    device: str
    max_len: int
    generator: Any  # torch.Generator, seeded from generation.seed

    def batch(self, n: int, forced: Optional[Sequence[dict[int, Sequence[int]]]] = None) -> list[list[int]]:
        from safesynth.generator.sampling import sample_batch

        return sample_batch(self.model, self.grammar, self.bos, n, max_len=self.max_len,
                            temperature=self.gen.temperature, top_p=self.gen.top_p, generator=self.generator,
                            device=self.device, forced=forced)


@dataclass
class Sampled:
    """Accepted rows (modeled columns' values) and the per-batch (accepted, sampled) history behind them."""

    rows: list[list[Any]] = field(default_factory=list)
    history: list[tuple[int, int]] = field(default_factory=list)
    sampled: int = 0
    seconds: float = 0.0


def sample_rows(sampler: Sampler, validator: RowValidator, n_target: int, drop_copies: bool, progress: Progress) -> Sampled:
    """Sample and validate batches until `n_target` rows are accepted, or raise when `stop_reason` says so."""
    gen, out = sampler.gen, Sampled()
    t0 = time.monotonic()
    with progress.task("generate: rows", total=n_target) as advance:
        while len(out.rows) < n_target:
            seqs = sampler.batch(batch_request(n_target - len(out.rows), len(out.rows), out.sampled,
                                               sampler.batch_size))
            ok = 0
            for ids in seqs:
                values = validator.accept(ids, drop_copies=drop_copies)
                if values is not None and len(out.rows) < n_target:
                    out.rows.append(values)
                    ok += 1
            out.sampled += len(seqs)
            out.history.append((ok, len(seqs)))
            advance(ok)
            elapsed = time.monotonic() - t0
            progress.note(f"generate: {len(out.rows)}/{n_target} rows, valid {validator.valid / out.sampled:.1%}, "
                          f"{len(out.rows) / max(elapsed, 1e-9):,.0f} valid rows/s")
            why = stop_reason(out.history, gen.max_invalid_fraction, gen.patience)
            if why is not None and len(out.rows) < n_target:
                counts = ", ".join(f"{r}={c}" for r, c in validator.rejected.most_common()) or "none"
                raise GenerationStoppedError(
                    f"generation stopped: {why} (rejects by reason: {counts}); train longer (spec.training.epochs), "
                    "lower spec.generation.temperature, or raise spec.generation.maxInvalidFraction"
                )
    out.seconds = time.monotonic() - t0
    return out


def sampling_summary(sampled: Sampled, validator: RowValidator, batch_size: int) -> dict[str, Any]:
    """Counts and rates of the sampling loop: how many rows it took, why the rejected ones failed."""
    from safesynth.generator.validate import REASONS

    n = sampled.sampled
    return {
        "rowsSampled": n,
        "batches": len(sampled.history),
        "batchSize": batch_size,
        "validFraction": round(validator.valid / n, 4) if n else None,
        "acceptedFraction": round(len(sampled.rows) / n, 4) if n else None,
        "invalid": {r: validator.rejected.get(r, 0) for r in REASONS},
        "invalidByColumn": {name: dict(sorted(c.items())) for name, c in sorted(validator.rejected_by_column.items())},
        "rowsPerSecond": round(len(sampled.rows) / sampled.seconds, 1) if sampled.seconds > 0 else None,
    }


def assemble_table(rows: list[list[Any]], cols: Sequence[ColumnInfo], train_df: Optional[pd.DataFrame], n_rows: int,
                   rng: np.random.Generator) -> pd.DataFrame:
    """The synthetic table in the training layout: modeled columns from `rows`, identifiers made fresh
    (`identifier_column`; `train_df` None under DP), columns the model does not write left empty."""
    from safesynth.generator.serialize import values_to_frame

    return assemble_frame(values_to_frame(rows, [c for c in cols if c.modeled]), cols, train_df, n_rows, rng)


def assemble_frame(model_frame: pd.DataFrame, cols: Sequence[ColumnInfo], train_df: Optional[pd.DataFrame],
                   n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """`assemble_table` from the modeled columns as a frame (a sharded run's merged shards)."""
    import pandas as pd

    from safesynth.generator.serialize import values_to_frame

    out = {}
    for col in cols:
        if col.modeled:
            out[col.name] = model_frame[col.name]
        elif col.kind == "identifier":
            out[col.name] = identifier_column(col, train_df, n_rows, rng)
        else:
            out[col.name] = values_to_frame([[None]] * n_rows, [col])[col.name]
    return pd.DataFrame(out, columns=[c.name for c in cols])


def refake_columns(table: pd.DataFrame, cols: Sequence[ColumnInfo], locale: str,
                   entity: Optional[np.ndarray] = None) -> pd.DataFrame:
    """The table with the columns the model was not given (DP only: train marks them `extra["refake"]`) filled
    with fresh fakes, one synthetic person per row, under a new secret key (`pii.refake`). No training row is
    read and nothing is booked in epsilon: the values depend on the key, the row number and the locale alone.
    """
    import pandas as pd

    from safesynth.pii import refake
    from safesynth.spec.models import PiiEntity

    wanted = {c.name: PiiEntity(c.extra["refake"]) for c in cols if c.extra.get("refake")}
    if not wanted:
        return table
    if entity is None:  # one synthetic person per row
        values = refake.refake_rows(len(table), wanted, locale)
    else:  # grouped records: one synthetic person per entity, in every row of it
        per_entity = refake.refake_rows(int(entity.max()) + 1 if len(entity) else 0, wanted, locale)
        values = {name: [column[e] for e in entity.tolist()] for name, column in per_entity.items()}
    out = table.copy()
    for name, column in values.items():
        out[name] = pd.Series(column, index=out.index, dtype=object)
    return out


def identifier_column(col: ColumnInfo, train_df: Optional[pd.DataFrame], n_rows: int,
                      rng: np.random.Generator) -> pd.Series:
    """Fresh identifiers in the column's style, none equal to a training value, with the column's share of
    missing values kept (an optional SSN stays optional).

    `train_df` None (DP): identifiers drawn without the training values and never null, because avoiding
    real identifiers and copying the null share would both read private rows outside the DP release.
    """
    from safesynth.generator.identifiers import make_identifiers

    real = train_df[col.name] if train_df is not None and col.name in train_df.columns else None
    avoid = real.dropna().astype(str).tolist() if real is not None else []
    ids = make_identifiers(n_rows, col.style, rng, avoid, numeric="int" in col.dtype.lower())
    series = _identifier_series(ids, col)
    share = float(real.isna().mean()) if real is not None else 0.0
    if share > 0:
        if series.dtype.kind in "iu":
            series = series.astype("Int64")
        series = series.mask(rng.random(n_rows) < share)
    return series


def _identifier_series(ids: list[str], col: ColumnInfo) -> pd.Series:
    """Identifier values in the column's dtype (integers stay integers when every id is numeric)."""
    import pandas as pd

    if "int" in col.dtype.lower() and all(i.isdigit() for i in ids):
        return pd.Series([int(i) for i in ids], dtype=col.dtype)
    return pd.Series(ids, dtype="string" if col.dtype == "string" else object)


# ------------------------------------------------------------------ sharded generation (spec.generation.shards)
#
# With N > 1 shards, shard i (`run_shard`, one pod of an Indexed Job or one local process) samples the rows
# [shard_range(n, i, N)) with its own seed (`shard_seed`) and writes only their modeled columns under
# generate/shards/<i>/; the stage itself (`run`, through `merge_shards`) then concatenates them in index
# order and finishes the table as one run does (fresh identifiers, DP refakes, the CSV in the source's
# spellings), seeded by the base seed. So the same spec gives the same merged table whatever order or
# machine the shards ran in. The runner (safesynth.stages.runner) checks that every shard finished for this
# spec before it lets `run` merge.


def shard_count(spec: SafeSynthJobSpec) -> int:
    """How many shards this spec generates in (1: not sharded)."""
    return spec.generation.shards


def kept_on_rerun(spec: SafeSynthJobSpec) -> tuple[str, ...]:
    """Keys under generate/ that a re-run of the stage (the merge) keeps: the shards' finished outputs."""
    from safesynth.contract import SHARDS_DIR

    return (f"{NAME.value}/{SHARDS_DIR}/",) if shard_count(spec) > 1 else ()


def shard_range(total: int, index: int, count: int) -> tuple[int, int]:
    """Rows [start, stop) of shard `index` of `count`: disjoint, in order, covering [0, total), sizes within 1."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside 0..{count - 1}")
    return total * index // count, total * (index + 1) // count


def shard_seed(seed: int, index: int, count: int) -> int:
    """Shard `index`'s sampling seed: the base seed itself when there is one shard (output as before), else
    the index-th child of numpy's SeedSequence(seed): independent streams, deterministic per (seed, index)."""
    if count == 1:
        return seed
    return int(np.random.SeedSequence(seed).spawn(count)[index].generate_state(1)[0])


@dataclass
class _Loaded:
    """What sampling needs, loaded once per process from train/model/ (and the training rows without DP)."""

    cols: list[ColumnInfo]
    modeled: list[ColumnInfo]
    dp_on: bool
    n_target: int
    fixed: dict[str, str]
    drop_copies: bool
    keys: Optional[set[tuple[Field, ...]]]
    validator: RowValidator
    grammar: Grammar
    sampler_args: dict[str, Any]
    device: str
    batch_size: int
    load_s: float
    preloaded: bool = False  # taken from the process that forked this shard (shard_preload), not loaded here


# What `shard_preload` loaded, by (run URI, spec): shards forked inside its block find it here.
_PRELOADED: dict[tuple[str, str], _Loaded] = {}


def _preload_key(spec: SafeSynthJobSpec, store: ArtifactStore) -> tuple[str, str]:
    return store.uri, spec.model_dump_json()


def _load_for_sampling(spec: SafeSynthJobSpec, store: ArtifactStore) -> _Loaded:
    from safesynth.generator import device as D
    from safesynth.generator.bundle import load_bundle
    from safesynth.generator.grammar import Grammar
    from safesynth.generator.validate import RowValidator

    gen = spec.generation
    D.configure_threads(spec.training.threads)
    held = _PRELOADED.get(_preload_key(spec, store))
    if held is not None:  # the model, grammar and keys are shared; the validator's counts are this shard's own
        return dataclasses.replace(held, validator=RowValidator(held.cols, held.validator.tokenizer, held.keys),
                                   preloaded=True)
    device = D.pick_device(spec.training.device.value)
    batch_size = sampling_batch_size(gen.batch_size, device)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="safesynth-generate-") as tmp:
        store.download_dir("train/model", tmp)
        bundle = load_bundle(tmp, device)
    model, tok, cols = bundle.model, bundle.tokenizer, bundle.columns
    dp_on = bool(bundle.meta.get("privacy"))
    fixed = fixed_fields(gen.fixed_values, cols)
    drop_copies = gen.drop_training_copies and not dp_on  # see dp.py: filtering on private rows is outside DP
    train_df = None if dp_on else store.read_table(f"{input_prefix(store)}/{TRAIN_TABLE}")
    keys = None if train_df is None else training_keys(train_df, bundle.modeled)
    vocab = int(model.get_output_embeddings().weight.shape[0])
    grammar = Grammar(cols, tok, vocab, fixed, device)
    args = {"model": model, "bos": tok.specials.bos,
            "max_len": int(bundle.meta.get("maxLength") or model.config.max_position_embeddings)}
    return _Loaded(cols, bundle.modeled, dp_on, gen.num_records or int(bundle.meta["trainRows"]), fixed,
                   drop_copies, keys, RowValidator(cols, tok, keys), grammar, args, device, batch_size,
                   time.monotonic() - t0)


def run_shard(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress, index: int, count: int
              ) -> dict[str, Any]:
    """Shard `index` of `count`: sample its row range with its own seed, write its rows; returns its summary.

    Writes only generate/shards/<index>/rows.parquet (the runner writes the shard's summary.json after it).
    """
    import torch

    from safesynth.contract import SHARD_ROWS_FILE, shard_prefix
    from safesynth.generator import device as D
    from safesynth.generator.serialize import values_to_frame

    gen = spec.generation
    loaded = _load_for_sampling(spec, store)
    start, stop = shard_range(loaded.n_target, index, count)
    seed = shard_seed(gen.seed if gen.seed is not None else spec.data.seed, index, count)
    sampler = Sampler(loaded.sampler_args["model"], loaded.grammar, loaded.sampler_args["bos"], gen,
                      loaded.batch_size, loaded.device, max_len=loaded.sampler_args["max_len"],
                      generator=torch.Generator(device=loaded.device).manual_seed(seed))
    sampled = sample_rows(sampler, loaded.validator, stop - start, loaded.drop_copies, progress)
    store.write_table(f"{shard_prefix(NAME.value, index)}{SHARD_ROWS_FILE}", values_to_frame(sampled.rows,
                                                                                              loaded.modeled))
    copies_out = 0 if loaded.drop_copies or loaded.keys is None else \
        sum(row_key(r, loaded.modeled) in loaded.keys for r in sampled.rows)
    copies = {} if loaded.dp_on else {
        "exactCopies": loaded.validator.copies if loaded.keys is not None else None,
        "exactCopiesInOutput": copies_out if loaded.keys is not None else None}
    return {
        "shard": {"index": index, "count": count, "rowRange": [start, stop], "seed": seed},
        "rowsGenerated": len(sampled.rows),
        "rowsValid": loaded.validator.valid,
        **sampling_summary(sampled, loaded.validator, loaded.batch_size),
        **copies,
        "dropTrainingCopies": loaded.drop_copies,
        "fixedColumns": sorted(loaded.fixed),
        "constrainedDecoding": True,
        "grammarStates": loaded.grammar.n_states,
        "temperature": gen.temperature,
        "topP": gen.top_p,
        **D.describe(loaded.device),
        "timings": {"load": round(loaded.load_s, 3), "sample": round(sampled.seconds, 3)},
        "preloaded": loaded.preloaded,
    }


def shard_forkable(spec: SafeSynthJobSpec) -> bool:
    """Whether a shard can sample in a forked copy of a process that loaded the model (`shard_preload`): only
    on the CPU with one torch thread per shard. A CUDA context does not survive fork, nor does a thread pool
    that OpenMP started before it. False when the device cannot be resolved (each shard then reports why)."""
    from safesynth.generator import device as D

    try:
        device = D.pick_device(spec.training.device.value)
    except Exception:  # broad on purpose: the shard processes raise the real error with its exit code
        return False
    return device == "cpu" and (spec.training.threads or D.DEFAULT_THREADS) == 1


@contextmanager
def shard_preload(spec: SafeSynthJobSpec, store: ArtifactStore) -> Iterator[bool]:
    """Load what every shard samples with (model, grammar, training keys) once, for the shards forked inside
    the block (the local driver's fork path): their `run_shard` takes it instead of loading it again, and its
    time is each shard's `timings.load`. Yields whether it loaded; when loading fails, each shard loads for
    itself and fails as it would on its own (same error, same exit code)."""
    key = _preload_key(spec, store)
    try:
        _PRELOADED[key] = _load_for_sampling(spec, store)
    except Exception as err:  # broad on purpose: see above; the type only, the message may hold values
        logging.getLogger(__name__).info("generate: shards load the model themselves (%s)", type(err).__name__)
    try:
        yield key in _PRELOADED
    finally:
        _PRELOADED.pop(key, None)


SUMMED = ("rowsGenerated", "rowsSampled", "batches", "rowsValid")


def merged_summary(shards: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The stage summary from the shards' summaries, in index order (pure): counts summed, fractions recomputed
    from the sums, rows/s as the shards' rows over the slowest shard's sampling time (they sample in parallel).
    """
    first = shards[0]
    out: dict[str, Any] = {k: v for k, v in first.items()
                           if k not in ("shard", "timings", "preloaded", "specHash", "specSections", "inputs", "ranBecause",
                                        "startedAt", "finishedAt", "durationSeconds", "version", "stage")}
    for key in SUMMED:
        out[key] = sum(int(s.get(key) or 0) for s in shards)
    sampled = out["rowsSampled"]
    out["validFraction"] = round(out.pop("rowsValid") / sampled, 4) if sampled else None
    out["acceptedFraction"] = round(out["rowsGenerated"] / sampled, 4) if sampled else None
    out["invalid"] = {r: sum(int((s.get("invalid") or {}).get(r, 0)) for s in shards) for r in first.get("invalid", {})}
    by_col: dict[str, dict[str, int]] = {}
    for s in shards:
        for name, reasons in (s.get("invalidByColumn") or {}).items():
            for reason, n in reasons.items():
                by_col.setdefault(name, {})[reason] = by_col.setdefault(name, {}).get(reason, 0) + int(n)
    out["invalidByColumn"] = {name: dict(sorted(c.items())) for name, c in sorted(by_col.items())}
    for key in ("exactCopies", "exactCopiesInOutput"):
        if key in first:
            values = [s.get(key) for s in shards]
            out[key] = None if None in values else sum(int(str(v)) for v in values)
    slowest = max(float((s.get("timings") or {}).get("sample") or 0.0) for s in shards)
    out["rowsPerSecond"] = round(out["rowsGenerated"] / slowest, 1) if slowest > 0 else None
    out["shards"] = [{**s["shard"], "rows": s.get("rowsGenerated"), "rowsPerSecond": s.get("rowsPerSecond"),
                      "durationSeconds": s.get("durationSeconds"), "preloaded": bool(s.get("preloaded"))}
                     for s in shards]
    return out


def merge_shards(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    """Concatenate the shards' rows in index order and finish the table as one run does; returns the summary.

    Needs no GPU and no model weights (the column list comes from the bundle's manifest), so on a cluster it
    runs as a small CPU Job after the Indexed Job's pods. Reads the training rows only without DP (fresh
    identifiers avoid real ones), as `run` does.
    """
    import pandas as pd

    from safesynth.contract import SHARD_ROWS_FILE, shard_prefix, shard_summary_key
    from safesynth.generator.bundle import MANIFEST
    from safesynth.generator.column_info import columns_from_json

    t0 = time.monotonic()
    count = shard_count(spec)
    gen = spec.generation
    seed = gen.seed if gen.seed is not None else spec.data.seed
    meta = store.read_json(f"train/model/{MANIFEST}")
    cols = columns_from_json(meta["columns"])
    dp_on = bool(meta.get("privacy"))
    summaries = [store.read_json(shard_summary_key(NAME.value, i)) for i in range(count)]
    frames = [store.read_table(f"{shard_prefix(NAME.value, i)}{SHARD_ROWS_FILE}") for i in range(count)]
    with progress.task("generate: merge shards", total=count) as advance:
        model_frame = pd.concat(frames, ignore_index=True)
        advance(count)
    n_rows = len(model_frame)
    train_df = None if dp_on else store.read_table(f"{input_prefix(store)}/{TRAIN_TABLE}")
    synthetic = assemble_frame(model_frame, cols, train_df, n_rows, np.random.default_rng(seed))
    synthetic = refake_columns(synthetic, cols, spec.pii.locale)
    synthetic, derived_changed = apply_derived(synthetic, meta)
    store.write_table(SYNTHETIC_TABLE_KEY, synthetic)
    schema = read_json_if_present(store, f"{input_prefix(store)}/schema.json") or {}
    store.write_bytes(SYNTHETIC_CSV_KEY, csv_bytes(render_table(synthetic, schema, seed)))
    summary = merged_summary(summaries)
    if derived_changed:
        summary["derivedCellsChanged"] = derived_changed
    summary["timings"] = {"load": max(float((s.get("timings") or {}).get("load") or 0) for s in summaries),
                          "sample": max(float((s.get("timings") or {}).get("sample") or 0) for s in summaries),
                          "merge": round(time.monotonic() - t0, 3)}
    return summary
