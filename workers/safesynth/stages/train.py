"""Stage `train`: fit the generator on the (PII-replaced) training rows, with DP-SGD when asked.

Reads pii/train.parquet and pii/schema.json when the PII stage ran, else
prepare's (`inputs.input_prefix`); the holdout is never read. Writes the
generator folder to train/model/ (see safesynth.generator.bundle) and returns a
summary: steps and settings, without DP also loss, tokens/s and timings; with
DP the epsilon spent (DP-SGD plus the schema and marginal releases), delta,
noise multiplier, sample rate and accountant, and nothing measured on private
batches (see `train_summary`); the job fails if the epsilon it would report
exceeds privacy.epsilon.

Paths: from scratch (default, CPU-friendly) a small Llama and a BPE tokenizer
trained here; with training.baseModel a pretrained model fine-tuned with LoRA
and merged. With privacy.enabled the columns' categories and bounds come from
privacy.domains or from DP releases counted in epsilon, the tokenizer is fitted
on public schema-only rows, the model is pretrained on those rows without DP
(privacy.publicPretrain), then fine-tuned on the private rows with DP-SGD.

`run` is the shell: it reads the table, calls the steps below in order
(`build_corpus`, `fit_tokenizer`, `encode_corpus`, `build_model`,
`pretrain_public`, `fit_model`), saves the bundle and returns `train_summary`.

Over 400 lines on purpose: the shell and the named steps only this stage calls (the LM and marginal routes).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from safesynth.contract import summary_key
from safesynth.errors import BadInputError
from safesynth.generator import columns as C
from safesynth.generator import aim, derived, dp, lora, marginal_bundle, public, training, zcdp
from safesynth.generator import undeclared as U
from safesynth.generator import device as D
from safesynth.generator import entities as E
from safesynth.generator import model as M
from safesynth.generator import tokenizer as T
from safesynth.generator.bundle import Bundle, save_bundle
from safesynth.generator.marginals import fold_unreleased, release_marginals
from safesynth.generator.route import choose_route, dp_warnings
from safesynth.generator.serialize import frame_to_fields
from safesynth.pii import refake
from safesynth.progress import Progress
from safesynth.spec.models import ColumnDeclaration, PrivacySpec, SafeSynthJobSpec, StageName, TrainingSpec
from safesynth.stages.inputs import TRAIN_TABLE, input_prefix, read_json_if_present
from safesynth.store import ArtifactStore

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from safesynth.generator.serialize import Field

NAME = StageName.TRAIN
READS = ("pii/train.parquet", "pii/schema.json", "pii/report.json", "prepare/train.parquet", "prepare/schema.json")
WRITES = ("train/model/", summary_key(NAME.value))

PUBLIC_ROWS_MIN, PUBLIC_ROWS_MAX = 1000, 5000  # public pretraining rows: as many as the private ones, within these
PUBLIC_EPOCHS = 2.0
DP_DEFAULT_MAX_LEN = 512  # with DP the length limit cannot come from the private rows
TIME_CODES = ("%H", "%I", "%M", "%S", "%f", "%z", "%p", "%X", "%c", "%T", "%R")  # strptime codes of a time


@dataclass
class Corpus:
    """The training rows as field strings, the columns they describe and, under DP, the budget and public rows."""

    columns: list[C.ColumnInfo]
    fields: list[list[Field]]
    public_fields: Optional[list[list[Field]]] = None  # DP only: rows made from the released schema, no private value
    budget: Optional[dp.BudgetPlan] = None  # DP only
    aim_log: Optional[dict[str, Any]] = None  # hybrid route: the marginal model's round log (aim.round_log)


@dataclass
class Encoded:
    """Token ids of the rows, cut or filtered to the sequence limit fixed here."""

    rows: list[list[int]]  # private rows within max_len: cut under DP, longer ones dropped otherwise
    public_rows: Optional[list[list[int]]]  # DP only, as encoded (pretraining cuts them)
    max_len: int
    mean_tokens: float  # under DP, of the public rows only
    too_long: int  # private rows dropped for length (always 0 under DP)
    masks: Optional[list[list[int]]] = None  # grouped records: per-token loss masks (training.NO_LOSS)


@dataclass
class Fitted:
    """The main training run's outcome and the settings it ran with (the model is returned beside it)."""

    result: training.FitResult
    config: training.FitConfig
    epochs: float
    private: Optional[dp.PrivateTraining]


@dataclass
class Laps:
    """Seconds per phase of the stage, for the summary's `timings`."""

    timings: dict[str, float] = field(default_factory=dict)
    clock: float = field(default_factory=time.monotonic)

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    import torch

    tr, pv = spec.training, spec.privacy
    laps = Laps()
    src = input_prefix(store)
    df = store.read_table(f"{src}/{TRAIN_TABLE}")
    schema = read_json_if_present(store, f"{src}/schema.json")
    kinds = C.kinds_from_schema(schema) if schema is not None else C.infer_kinds(df)
    seed = training_seed(spec)
    schema_kinds = kinds
    kinds, refaked = refaked_kinds(store, src, pv, kinds)  # DP: the PII stage's fakes are not learned
    undeclared = check_declared(spec, schema, schema_kinds, refaked, progress)  # DP: layout facts read from data
    grouped = group_rows(df, kinds, spec) if spec.data.group_by else None
    if grouped is not None:
        df, kinds = grouped.table, grouped.kinds
    route, why = choose_route(pv.route.value, len(df), float(pv.epsilon or 0.0), list(kinds.values()),
                              grouped=grouped is not None)  # grouped: lm or hybrid (group_rows refuses marginal)
    if pv.enabled and route == "marginal":  # no language model: the DP marginal model is the generator
        summary = train_marginal(df, kinds, spec, store, src, seed, why)
        warnings = [*undeclared, *summary.pop("warnings", [])]
        return {**({"warnings": warnings} if warnings else {}), **summary}
    device = D.pick_device(tr.device.value)
    threads = D.configure_threads(tr.threads)
    torch.manual_seed(seed)
    corpus = build_corpus(df, kinds, pv, seed, src, route if pv.enabled else "lm", grouped, spec.data.columns)
    mark_refaked(corpus.columns, refaked)
    check_feasible(corpus, spec)
    laps.lap("load")

    tok, base = fit_tokenizer(corpus, tr, device, progress)
    encoded = encode_corpus(corpus, tok, tr.max_sequence_length, pv.enabled)
    if grouped is not None:  # the context generation forces is read, not learned (entities.loss_masks)
        encoded.masks = E.loss_masks(encoded.rows, [c.name for c in corpus.columns if c.modeled], grouped.layout,
                                     tok.specials.sep, tok.encode_values(["0"])[0], training.NO_LOSS)
    model, size = build_model(base, tok, encoded, tr, len(df), device)
    counts = {"parameters": M.count_parameters(model), "trainableParameters": M.count_parameters(model, True)}
    laps.lap("tokenizer" if not tr.base_model else "loadModel")

    pre = None
    if pv.enabled and pv.public_pretrain and encoded.public_rows:
        pre = pretrain_public(model, encoded, tok, tr, seed, device, progress)
        laps.lap("publicPretrain")
    owners = grouped.owners() if grouped is not None and pv.enabled else None
    trained, fitted = fit_model(model, encoded, tok, tr, pv, corpus.budget, seed, device, progress, owners,
                                grouped.n_entities if grouped is not None else None,
                                grouped.owners() if grouped is not None else None)
    laps.lap("train")

    meta = bundle_meta(len(df), spec, encoded.max_len, seed)
    rules = [] if pv.enabled or grouped is not None else derived.find_rules(df, kinds)
    if corpus.aim_log is not None:  # the hybrid route's marginal model: its rounds, so its rho can be recomputed
        meta["aimRounds"] = corpus.aim_log
    if rules:  # not under DP: finding them reads the rows
        meta["derivedRules"] = [r.to_json() for r in rules]
    if grouped is not None:
        length_eps = corpus.budget.length_epsilon if corpus.budget is not None else 0.0  # DP: a counted release
        meta.update(entities=grouped.layout.to_json(), trainEntities=grouped.n_entities, dtypes=grouped.dtypes,
                    entityLengths=E.length_histogram(grouped.owners(), grouped.layout.max_rows, length_eps))
    with tempfile.TemporaryDirectory(prefix="safesynth-train-") as tmp:
        save_bundle(tmp, Bundle(corpus.columns, tok, released_model(trained, fitted, tr), meta))
        store.upload_dir(tmp, "train/model")
    laps.lap("save")
    del model, trained, base
    if device == "cuda":  # the local driver runs generate next in this process: give its batches the memory
        torch.cuda.empty_cache()

    summary = train_summary(spec, src=src, n_rows=len(df), corpus=corpus, tok=tok, encoded=encoded, size=size,
                            counts=counts, fitted=fitted, pre=pre)
    if fitted.private is not None:  # the budget the summary reports must be the budget asked for
        dp.check_within_target(summary["epsilonSpent"], pv.epsilon or 0.0, "the job's total")
    # Under DP the timings are left out: time spent on private batches depends on their token counts.
    warnings = [*undeclared, *dp_warnings(corpus.columns, route)] if pv.enabled else []
    if grouped is not None:
        warnings += grouped.warnings
        summary.update(grouped.summary())
    if rules:
        summary["derivedColumns"] = {r.derived: {"relation": r.relation, "inputs": list(r.inputs)} for r in rules}
    return {**summary, **D.describe(device), "threads": threads, **({} if pv.enabled else {"timings": laps.timings}),
            **({"columnsRefaked": sorted(refaked)} if refaked else {}), **({"warnings": warnings} if warnings else {})}


@dataclass
class Grouped:
    """A grouped table as the model learns it: context rows (entities.py), their kinds and the layout."""

    table: pd.DataFrame
    kinds: dict[str, str]
    layout: E.EntityLayout
    n_entities: int
    dtypes: dict[str, str]
    changes: dict[str, int]  # static column -> entities in which it changes anyway

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [{"column": c, "kind": self.kinds.get(c, ""), "code": "entityLevelVaries", "count": n}
                for c, n in self.changes.items()]

    def owners(self) -> np.ndarray:
        """Each context row's entity (0-based): a new entity starts at position 0."""
        return np.cumsum(self.table[E.POS].to_numpy() == 0) - 1

    def summary(self) -> dict[str, Any]:
        """Counts and column names only (names are schema, not data)."""
        lay = self.layout
        return {"entities": self.n_entities, "groupBy": lay.keys, "orderBy": lay.order_by,
                "entityLevelColumns": lay.static, "rowLevelColumns": lay.varying,
                "maxGroupRows": lay.max_rows}


def group_rows(df: pd.DataFrame, kinds: dict[str, str], spec: SafeSynthJobSpec) -> Grouped:
    """spec.data.groupBy: the training table as context rows, one per row, with the entity's context.

    Under DP the unit of privacy is the entity: only declared entityColumns are entity-level (finding them
    would read private rows), the language model writes the rows (route lm, or hybrid: the marginal model,
    fitted on the context rows with an entity's maxGroupRows rows as one unit's contribution, only writes the
    public pretraining rows; route marginal is refused, since it writes rows independently), every release
    counts maxGroupRows rows per unit and DP-SGD clips per entity."""
    data, pv = spec.data, spec.privacy
    if pv.enabled and pv.route.value == "marginal":
        raise BadInputError("spec.privacy.route: marginal writes every row independently from the DP marginal "
                            "model, so it cannot keep an entity's rows together and in order; use route hybrid "
                            "(the marginal model only writes the language model's public pretraining rows), lm or "
                            "auto with spec.data.groupBy")
    ordered = E.sort_entities(df, data.group_by, data.order_by)
    layout = E.plan_layout(ordered, kinds, data.group_by, data.order_by, data.max_group_rows,
                           data.entity_columns, private=pv.enabled)
    table = E.to_context_rows(ordered, layout)
    n_entities = int(E.entity_ids(ordered, data.group_by).max()) + 1 if len(ordered) else 0
    dtypes = {str(c): str(ordered[c].dtype) for c in ordered.columns}
    if pv.enabled:  # one null flips int64 to Int64: under DP the stored dtype must not say whether one occurred
        dtypes = {c: dp.null_safe_dtype(d) for c, d in dtypes.items()}
    return Grouped(table, E.context_kinds(layout, kinds), layout, n_entities, dtypes,
                   {} if pv.enabled else E.static_changes(ordered, data.group_by, layout.static))


def check_feasible(corpus: Corpus, spec: SafeSynthJobSpec) -> None:
    """Exit 2 before training when dropTrainingCopies would reject every row the model could write.

    Under DP generate keeps copies (filtering on private rows is outside DP), and counting distinct private
    rows here would release a fact about them, so the check is for non-DP jobs only.
    """
    from safesynth.generator.feasibility import impossible_job_message, new_row_capacity

    if spec.privacy.enabled or not spec.generation.drop_training_copies:
        return
    message = impossible_job_message(new_row_capacity(corpus.columns, corpus.fields),
                                     sum(c.modeled for c in corpus.columns))
    if message is not None:
        raise BadInputError(message)


def refaked_kinds(store: ArtifactStore, src: str, pv: PrivacySpec,
                  kinds: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(kinds, refaked): under DP, the columns whose training values are the PII stage's fakes (per
    pii/report.json, `refake.refaked_columns`) become "empty", so no mechanism reads them and no epsilon is
    booked for them; generate fakes them again after sampling. Without DP (or without the PII stage) they are
    learned as before: (kinds, {}). `refaked` maps column -> entity name.
    """
    if not pv.enabled or src != "pii":
        return kinds, {}
    found = refake.refaked_columns(read_json_if_present(store, f"{src}/report.json"))
    refaked = {c: e.value for c, e in found.items() if c in kinds}
    return {c: ("empty" if c in refaked else k) for c, k in kinds.items()}, refaked


def check_declared(spec: SafeSynthJobSpec, schema: Optional[dict[str, Any]], kinds: dict[str, str],
                   refaked: dict[str, str], progress: Progress) -> list[dict[str, str]]:
    """Under DP, the column layout's facts read from the table rather than declared (`undeclared.py`): with
    privacy.requireDeclaredSchema a BadInputError naming them, before anything is trained or written; else one
    summary warning per fact, and the declarations to paste in the log. [] without DP or when all is declared.
    `kinds` are the schema's (or, without schema.json, inferred here), before refaked columns are emptied."""
    pv = spec.privacy
    if not pv.enabled:
        return []
    layout = schema if schema is not None else {"columns": [{"name": c, "kind": k} for c, k in kinds.items()]}
    found = U.undeclared_facts(layout, spec.data.columns, refaked, spec.pii.columns)
    if not found:
        return []
    if pv.require_declared_schema:
        raise BadInputError(U.refusal(found, spec.data.columns, spec.pii.columns))
    progress.note(f"{len(found.facts)} fact(s) of the column layout were read from the table, outside the DP "
                  "guarantee (declare them, or set privacy.requireDeclaredSchema to refuse):\n"
                  + found.snippet(spec.data.columns, spec.pii.columns).rstrip())
    return found.warnings()


def declared_date_styles(cols: list[C.ColumnInfo], declared: Mapping[str, ColumnDeclaration]) -> None:
    """Under DP a date column's style cannot come from its values ("date" would need every value at midnight),
    so it is ISO; a declared format without a time code says the values are dates: written YYYY-MM-DD, the
    declared spelling's content, rather than with a time no value had."""
    for col in cols:
        fmt = (declared.get(col.name) or ColumnDeclaration()).format
        if col.kind == "datetime" and col.style == C.ISO and fmt and not any(t in fmt for t in TIME_CODES):
            col.style = C.DATE


def mark_refaked(columns: list[C.ColumnInfo], refaked: dict[str, str]) -> None:
    """Record on each refaked column, stored with the model, the entity generate draws for it."""
    for col in columns:
        if col.name in refaked:
            col.extra["refake"] = refaked[col.name]
            col.dtype, col.nullable = "object", False


def training_seed(spec: SafeSynthJobSpec) -> int:
    """spec.training.seed, else the job's seed (data.seed)."""
    return spec.training.seed if spec.training.seed is not None else spec.data.seed


def build_corpus(df: pd.DataFrame, kinds: dict[str, str], pv: PrivacySpec, seed: int, source: str,
                 route: str = "lm", grouped: Optional[Grouped] = None,
                 declared: Optional[Mapping[str, ColumnDeclaration]] = None) -> Corpus:
    """The rows as fields, and the columns' categories and bounds.

    Without DP the columns are described from the rows. With DP they come from
    privacy.domains or from DP releases booked in the budget, values outside a
    released list are redrawn from the column's DP marginal, and public rows
    are drawn from the released schema for the tokenizer and pretraining. The
    DP noise comes from OpenDP and the redraws from the OS's CSPRNG: neither may be reproducible from the spec.
    On the hybrid route the public rows are samples of the DP marginal model (aim.py) instead.

    Grouped records (`grouped`): the lag columns are described as their source columns (no release of their
    own), position and row count have public ranges, and under DP every release counts an entity's rows
    (maxGroupRows) as what one unit can add; on the hybrid route that includes AIM, fitted on the context rows
    (lag columns too, so the public rows carry lag-1 structure) with `contribution` = maxGroupRows.
    `declared` (spec.data.columns): under DP a declared date-only format makes a date column's style date.
    """
    n = len(df)
    plan, marginals, aim_rows, aim_log = None, None, None, None
    if pv.enabled:
        released_df = df.drop(columns=[c for c in df.columns if str(c).startswith(E.PREV)])
        units, contribution = n, 1
        if grouped is not None:
            units, contribution = grouped.n_entities, grouped.layout.max_rows
            pv = pv.model_copy(update={"domains": {**E.public_domains(grouped.layout), **pv.domains}})
        probe = [C.ColumnInfo(str(c), kinds[c], str(released_df[c].dtype)) for c in released_df.columns]
        plan = dp.plan_budget(pv, units, probe, route=route, contribution=contribution)
        cols = dp.dp_safe_columns(released_df, kinds, pv, plan)
        declared_date_styles(cols, declared or {})
        if grouped is not None:
            cols = E.lag_infos(E.with_lag_columns(cols, df.columns), grouped.layout)
        marginals = release_marginals(df, cols, plan.marginal_epsilon, public.public_bounds(cols), contribution)
        if route == "hybrid":
            fitted = aim.fit(df, cols, plan.aim_rho, n, contribution=contribution)
            plan.aim_epsilon = check_aim_spent(fitted, plan)
            public_n = min(max(n, PUBLIC_ROWS_MIN), PUBLIC_ROWS_MAX)
            aim_rows = aim.decode(aim.sample_indices(fitted.model, public_n, seed), fitted.attrs, cols, seed)
            aim_log = aim.round_log(fitted)
    else:
        cols = C.describe_columns(df, kinds)
        if grouped is not None:
            cols = E.lag_infos(cols, grouped.layout)
    if not any(c.modeled for c in cols):
        raise BadInputError(f"{source}/schema.json: every column is an identifier or empty, so there is nothing for "
                            "the generator to learn; check the column kinds in the prepare stage's schema")
    fields = frame_to_fields(df, cols)
    if not pv.enabled:
        return Corpus(cols, fields)
    fields = fold_unreleased(fields, cols, marginals or {})
    public_n = min(max(n, PUBLIC_ROWS_MIN), PUBLIC_ROWS_MAX)
    public_fields = aim_rows if aim_rows is not None else public.public_rows(cols, public_n, seed, marginals)
    return Corpus(cols, fields, public_fields, plan, aim_log)


def check_aim_spent(fitted: aim.AimResult, plan: dp.BudgetPlan) -> float:
    """The epsilon AIM's recorded rounds cost at the plan's aim_delta (rho recomputed from the log, converted);
    PrivacyBudgetError when it exceeds the plan's share."""
    spent = zcdp.epsilon_of(aim.rho_spent(fitted.rounds), plan.aim_delta)
    dp.check_within_target(spent, plan.aim_epsilon, "the marginal model's rounds")
    return spent


def train_marginal(df: pd.DataFrame, kinds: dict[str, str], spec: SafeSynthJobSpec, store: ArtifactStore, src: str,
                   seed: int, why: str) -> dict[str, Any]:
    """The marginal route: DP-safe columns, AIM on the whole budget left by the schema, the model saved to
    train/model/ (marginal_bundle); the summary holds settings and the ledger, nothing measured on private rows."""
    pv, n = spec.privacy, len(df)
    probe = [C.ColumnInfo(str(c), kinds[c], str(df[c].dtype)) for c in df.columns]
    plan = dp.plan_budget(pv, n, probe, route="marginal")
    cols = dp.dp_safe_columns(df, kinds, pv, plan)
    declared_date_styles(cols, spec.data.columns)
    refaked = refaked_kinds(store, src, pv, kinds)[1]
    mark_refaked(cols, refaked)
    if not any(c.modeled for c in cols):
        raise BadInputError(f"{src}/schema.json: every column is an identifier or empty, so there is nothing for "
                            "the generator to learn; check the column kinds in the prepare stage's schema")
    fitted = aim.fit(df, cols, plan.aim_rho, n)
    aim_eps = check_aim_spent(fitted, plan)
    total = plan.schema_epsilon + aim_eps
    dp.check_within_target(total, pv.epsilon or 0.0, "the job's total")
    meta = {"route": "marginal", "trainRows": n, "privacy": True, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="safesynth-train-") as tmp:
        marginal_bundle.save(tmp, cols, fitted, meta)
        store.upload_dir(tmp, "train/model")
    warnings = dp_warnings(cols, "marginal")  # text written as filler, categories nothing released
    return {
        **({"warnings": warnings} if warnings else {}),
        "inputStage": src, "trainRows": n, "route": "marginal", "routeReason": why,
        "columnsModeled": sum(c.modeled for c in cols),
        "columnsGeneratedOutsideModel": sum(not c.modeled for c in cols),
        "model": {"kind": "marginal", "attributes": len(fitted.attrs), "cliques": len(fitted.model.cliques)},
        "rounds": len(fitted.rounds), "epsilonSpent": round(total, 4), "aimEpsilon": round(aim_eps, 4),
        "aimRho": aim.rho_spent(fitted.rounds), "delta": plan.delta, "privacyBudget": plan.to_json(),
        **({"columnsRefaked": sorted(refaked)} if refaked else {}),
    }


def fit_tokenizer(corpus: Corpus, tr: TrainingSpec, device: str, progress: Progress) -> tuple[T.FieldTokenizer, Any]:
    """(tokenizer, base model or None).

    With training.baseModel: the pretrained model and its tokenizer, embeddings
    grown for our special tokens. From scratch: a byte-level BPE fitted on the
    public rows under DP (so no private word enters the vocabulary), else on
    the training rows.
    """
    if tr.base_model:
        with progress.task("train: load base model", total=None):
            base, hf_tok = M.load_pretrained(tr.base_model, device, tr.qlora)
        tok = T.from_pretrained(hf_tok)
        lora.grow_embeddings(base, tok.vocab_size)
        return tok, base
    corpus_rows = corpus.public_fields if corpus.public_fields is not None else corpus.fields
    return T.train_bpe((f for row in corpus_rows for f in row if f is not None), tr.vocab_size), None


def encode_corpus(corpus: Corpus, tok: T.FieldTokenizer, requested_max: Optional[int], dp_on: bool) -> Encoded:
    """Token ids within the sequence limit; under DP the limit and mean length come from public rows only."""
    rows = tok.encode_rows(corpus.fields)
    public_ids = tok.encode_rows(corpus.public_fields) if corpus.public_fields is not None else None
    shape_rows = public_ids if public_ids is not None else rows
    lengths = np.array([len(r) for r in shape_rows]) if shape_rows else np.array([2])
    max_len = sequence_limit(int(lengths.max()), requested_max, dp_on)
    kept = fit_rows(rows, max_len, dp_on)
    if not kept:
        raise BadInputError(f"every training row is longer than spec.training.maxSequenceLength ({max_len} tokens); "
                            "raise it")
    return Encoded(kept, public_ids, max_len, float(lengths.mean()), len(rows) - len(kept))


def build_model(base: Any, tok: T.FieldTokenizer, encoded: Encoded, tr: TrainingSpec, n_rows: int,
                device: str) -> tuple[Any, Optional[M.ModelSize]]:
    """(model, size): LoRA adapters on the base model, or a small Llama sized from the data (size None for LoRA)."""
    if base is not None:
        return lora.apply_lora(base, tr.lora, quantized=tr.qlora), None
    auto = M.auto_size(n_rows, encoded.mean_tokens, encoded.max_len, tr)
    size = M.ModelSize(auto.layers, auto.hidden, auto.heads, encoded.max_len)
    return M.build_scratch_model(size, tok.vocab_size, tok.specials).to(device), size


def pretrain_public(model: Any, encoded: Encoded, tok: T.FieldTokenizer, tr: TrainingSpec, seed: int, device: str,
                    progress: Progress) -> training.FitResult:
    """PUBLIC_EPOCHS over the public rows without DP: they hold no private value, so this costs no epsilon."""
    public_rows = encoded.public_rows or []
    steps = training.plan_steps(len(public_rows), tr.batch_size, PUBLIC_EPOCHS, tr.max_steps)
    cfg = fit_config(tr, steps, seed, device, "train: public pretraining")
    rows = fit_rows(public_rows, encoded.max_len, dp_on=True)
    loader = training.make_loader(training.RowDataset(rows), tr.batch_size, tok.specials.pad, seed)
    return training.fit(model, training.make_optimizer(model, cfg), loader, cfg, progress)


def fit_model(model: Any, encoded: Encoded, tok: T.FieldTokenizer, tr: TrainingSpec, pv: PrivacySpec,
              budget: Optional[dp.BudgetPlan], seed: int, device: str, progress: Progress,
              owners: Optional[np.ndarray] = None, entities: Optional[int] = None,
              row_entities: Optional[np.ndarray] = None) -> tuple[Any, Fitted]:
    """(trained model, outcome): training.epochs (else auto) epochs over the private rows, with DP-SGD to the
    budget's epsilon when on (the model then comes back wrapped by opacus).

    Under DP the batches must be unpredictable (dp.secure_seed); otherwise they are seeded for reproducibility.
    `owners` (DP with grouped records: each row's entity): batches draw entities, not rows, and a step's
    batchSize counts entities.

    Without DP and with epochs unset, a validation slice decides when to stop (`training.Validation`); with
    grouped records (`row_entities`: each row's entity) it holds whole entities.

    Grouped records (`entities`): the automatic schedule counts entities where a table counts rows (one
    entity of several rows is one example of the conditional the model must learn), and its CPU token guard
    counts the tokens the model learns (not the forced context it only reads). Measured on the time-series
    example (246 training patients, 1,553 visits): the row rule's 5.7 epochs left lag-1 autocorrelation
    0.5 off the real on average; 10 epochs brought it to 0.22 with DPS 8.9 (entity membership AUC 0.53).
    """
    rows, masks, validation, held_entities = encoded.rows, encoded.masks, None, 0
    if not pv.enabled and tr.epochs is None:  # a held-out slice (whole entities when grouped) decides when to stop
        rows, masks, validation, held_entities = validation_slice(rows, masks, row_entities, tr.batch_size,
                                                                  tok.specials.pad, seed)
    if entities is not None:  # the schedule counts training entities
        entities -= held_entities
    learned = (sum(sum(1 for v in m if v == 1) for m in masks) if masks is not None
               else encoded.mean_tokens * len(rows))
    factor = training.VALIDATED_EPOCH_FACTOR if validation is not None else 1.0
    epochs = tr.epochs or training.auto_epochs(entities or len(rows), device, learned, factor)
    units = len(rows) if owners is None else int(owners.max()) + 1
    cfg = fit_config(tr, training.plan_steps(units, tr.batch_size, epochs, tr.max_steps), seed, device, "train")
    loader_seed = dp.secure_seed() if pv.enabled else seed + 1
    dataset = (training.RowDataset(rows, masks) if owners is None
               else training.EntityDataset(rows, owners.tolist(), tok.specials.pad, masks))
    loader = training.make_loader(dataset, tr.batch_size, tok.specials.pad, loader_seed)
    optimizer = training.make_optimizer(model, cfg)
    private = None
    if pv.enabled:
        assert budget is not None
        private = dp.PrivateTraining(delta=budget.train_delta, accountant=pv.accountant.value)
        model, optimizer, loader = private.make_private(
            model, optimizer, loader, target_epsilon=budget.train_epsilon, steps=cfg.steps,
            max_grad_norm=pv.max_grad_norm,
        )
    result = training.fit(model, optimizer, loader, cfg, progress, privacy=private, validation=validation)
    if validation is not None:  # the epochs the kept weights saw, not the ceiling
        epochs = round(validation.kept_step * min(tr.batch_size, len(rows)) / len(rows), 2)
    return model, Fitted(result, cfg, epochs, private)


def validation_slice(rows: list[list[int]], masks: Optional[list[list[int]]], row_entities: Optional[np.ndarray],
                     batch_size: int, pad: int, seed: int,
                     ) -> tuple[list[list[int]], Optional[list[list[int]]], Optional[training.Validation], int]:
    """(training rows, their masks, the validation check or None, entities held out): the rows split by
    `training.split_validation` (whole entities with `row_entities`), checked CHECKS_PER_EPOCH times a pass."""
    keep, held = training.split_validation(len(rows), seed, None if row_entities is None else row_entities.tolist())
    if not held:
        return rows, masks, None, 0
    loader = training.make_loader(training.RowDataset([rows[i] for i in held],
                                                      [masks[i] for i in held] if masks is not None else None),
                                  64, pad, seed + 2)
    train_rows = [rows[i] for i in keep]
    every = max(1, math.ceil(len(train_rows) / min(batch_size, len(train_rows)) / training.CHECKS_PER_EPOCH))
    held_entities = len(set(row_entities[held].tolist())) if row_entities is not None else 0
    return (train_rows, [masks[i] for i in keep] if masks is not None else None,
            training.Validation(loader, every, rows=len(held)), held_entities)


def released_model(trained: Any, fitted: Fitted, tr: TrainingSpec) -> Any:
    """The model as saved: opacus's per-sample hooks removed, LoRA adapters merged into the base weights."""
    model = dp.unwrap(trained) if fitted.private is not None else trained
    return lora.merge(model) if tr.base_model else model


def model_kind(tr: TrainingSpec) -> str:
    """The bundle's model kind: "lora" (a pretrained base fine-tuned with adapters) or "scratch"."""
    return "lora" if tr.base_model else "scratch"


def bundle_meta(n_rows: int, spec: SafeSynthJobSpec, max_len: int, seed: int) -> dict[str, Any]:
    """What the generate stage reads back from train/model/safesynth.json besides columns and tokenizer."""
    tr = spec.training
    return {
        "trainRows": n_rows,
        "privacy": bool(spec.privacy.enabled),
        "modelKind": model_kind(tr),
        "baseModel": tr.base_model,
        "maxLength": max_len,
        "seed": seed,
    }


def train_summary(spec: SafeSynthJobSpec, *, src: str, n_rows: int, corpus: Corpus, tok: T.FieldTokenizer,
                  encoded: Encoded, size: Optional[M.ModelSize], counts: dict[str, int], fitted: Fitted,
                  pre: Optional[training.FitResult]) -> dict[str, Any]:
    """The stage summary (counts, losses, ε; never data).

    Under DP it omits every statistic of the private batches (loss, loss curve, tokens/s, rows too long; the
    caller drops the timings): none is released by a counted mechanism. The public pretraining's loss stays
    (public rows only), as do settings and the accountant's parameters (data-independent given n).
    """
    tr, pv, result = spec.training, spec.privacy, fitted.result
    summary: dict[str, Any] = {
        "inputStage": src,
        "trainRows": n_rows,
        "columnsModeled": sum(c.modeled for c in corpus.columns),
        "columnsGeneratedOutsideModel": sum(not c.modeled for c in corpus.columns),
        "model": {
            "kind": model_kind(tr), "baseModel": tr.base_model, "vocabSize": tok.vocab_size,
            "maxSequenceLength": encoded.max_len, **counts,
            **({"layers": size.layers, "hiddenSize": size.hidden, "heads": size.heads} if size else {}),
            **({"loraR": tr.lora.r, "loraAlpha": tr.lora.alpha} if tr.base_model else {}),
        },
        "epochs": fitted.epochs,
        "steps": result.steps,
        "batchSize": tr.batch_size,
        "learningRate": fitted.config.learning_rate,
        "epsilonSpent": None,
        "delta": None,
        "noiseMultiplier": None,
        "sampleRate": None,
        "accountant": None,
    }
    if not pv.enabled:  # under DP each of these is a statistic of the private rows, released by no mechanism
        summary.update({"rowsTooLong": encoded.too_long, "loss": result.final_loss, "lossCurve": result.curve(),
                        "tokensPerSecond": round(result.tokens_per_second, 1)})
        if result.validation is not None:
            summary["validation"] = result.validation.to_json()
    if pre is not None:
        summary["publicPretrain"] = {"rows": len(encoded.public_rows or []), "steps": pre.steps,
                                     "loss": pre.final_loss}
    private, plan = fitted.private, corpus.budget
    if private is not None and plan is not None:
        train_eps = result.epsilon if result.epsilon is not None else private.epsilon_spent()
        summary.update({
            "epsilonSpent": round(train_eps + plan.released_epsilon, 4),
            "trainEpsilon": round(train_eps, 4),
            "delta": plan.delta,
            "noiseMultiplier": private.noise_multiplier,
            "sampleRate": private.sample_rate,
            "accountant": private.accountant,
            "maxGradNorm": pv.max_grad_norm,
            "privacyBudget": plan.to_json(),
        })
        if private.fallback_reason:
            summary["accountantNote"] = private.fallback_reason
    return summary


def sequence_limit(longest: int, requested: Optional[int], dp_on: bool) -> int:
    """Tokens per row: spec.training.maxSequenceLength, else the longest row + 8 rounded up to 8.

    With DP, `longest` comes from the public rows, and the limit is at least
    DP_DEFAULT_MAX_LEN so that private rows are rarely cut (see fit_rows).
    """
    if requested:
        return requested
    if dp_on:
        return max(DP_DEFAULT_MAX_LEN, longest + 8)
    return int(math.ceil((longest + 8) / 8) * 8)


def fit_rows(rows: list[list[int]], max_len: int, dp_on: bool) -> list[list[int]]:
    """Rows within the limit. Without DP longer rows are dropped (and counted); with DP they are cut
    instead, so the dataset size, which sets the sampling rate, never depends on private values."""
    if dp_on:
        return [r[:max_len] for r in rows]
    return [r for r in rows if len(r) <= max_len]


def fit_config(tr: TrainingSpec, steps: int, seed: int, device: str, label: str) -> training.FitConfig:
    """The optimizer settings of spec.training for a run of `steps` steps (learning rate by path when unset)."""
    return training.FitConfig(
        steps=steps, batch_size=tr.batch_size,
        learning_rate=tr.learning_rate or (training.LR_LORA if tr.base_model else training.LR_SCRATCH),
        weight_decay=tr.weight_decay, warmup_ratio=tr.warmup_ratio, scheduler=tr.lr_scheduler.value, seed=seed,
        device=device, label=label,
    )
