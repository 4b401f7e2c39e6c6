"""The SafeSynthJob spec: the single source of truth for every driver.

The CLI, the local driver, each stage and the operator validate with these
models; the CRD's OpenAPI schema is generated from them (`safesynth crd`).
Defaults live here and nowhere else. Field names are snake_case in Python and
camelCase on the wire, as Kubernetes expects; unknown fields are errors.

Cross-field rules are declared once per model in `CEL_RULES` (rule, message,
field path). The CRD carries them as `x-kubernetes-validations`, and
`safesynth.spec.rules` evaluates the very same expressions with cel-python, so
the API server and `safesynth validate` reject the same manifests.

Over 400 lines on purpose: one model per spec section, in the manifest's order,
so this file reads as the field reference a manifest is checked against.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel

from safesynth.spec import quantity

API_GROUP = "safesynth.io"
API_VERSION = "v1alpha1"
KIND = "SafeSynthJob"
PLURAL = "safesynthjobs"
SHORT_NAMES = ["ssj"]

# Child Jobs are named "<job>-<stage>" (longest: "-generate", 9 characters). The
# Job controller copies a Job's name into its pods' `batch.kubernetes.io/job-name`
# label, and a label value may hold at most 63 characters, so a longer Job name is
# rejected (pod names are not the limit: generateName truncates them). 63 - 9 = 54;
# 52 leaves two characters of slack for a longer stage or suffix later.
MAX_JOB_NAME_LENGTH = 52
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = quantity.PATTERN
COLUMN_NAME_MAX = 256
MAX_COLUMNS = 1000
MAX_JOB_DEADLINE_SECONDS = 30 * 86_400  # a month: longer than any training this product targets
MAX_JOB_BACKOFF_LIMIT = 10  # job-level retries; with back-off doubling to 10 min, ten cover about an hour

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=253)]
UriStr = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=COLUMN_NAME_MAX)]
MAX_GROUP_KEYS = 4  # a composite entity key of more columns is almost always a mistake (a row key, not an entity)
DEFAULT_MAX_GROUP_ROWS = 64  # covers longitudinal clinical tables (pbcseq: 16 visits at most) with room


class StageName(str, Enum):
    """Pipeline stages in execution order."""

    PREPARE = "prepare"
    PII = "pii"
    TRAIN = "train"
    GENERATE = "generate"
    EVALUATE = "evaluate"


STAGE_ORDER: tuple[StageName, ...] = tuple(StageName)


class DataFormat(str, Enum):
    AUTO = "auto"
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


class PiiAction(str, Enum):
    """What to do with a PII value. Each action is one module in safesynth.pii."""

    FAKE = "fake"
    HASH = "hash"
    MASK = "mask"
    REDACT = "redact"
    DROP = "drop"
    KEEP = "keep"
    DATE_SHIFT = "dateShift"
    GENERALIZE = "generalize"
    PERTURB = "perturb"
    TOKENIZE = "tokenize"


class PiiEntity(str, Enum):
    """Entity types, named as presidio names them where presidio has one."""

    PERSON = "PERSON"
    FIRST_NAME = "FIRST_NAME"
    LAST_NAME = "LAST_NAME"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"
    US_SSN = "US_SSN"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN_CODE = "IBAN_CODE"
    IP_ADDRESS = "IP_ADDRESS"
    URL = "URL"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    DATE_TIME = "DATE_TIME"
    STREET_ADDRESS = "STREET_ADDRESS"
    CITY = "CITY"
    STATE = "STATE"
    ZIP_CODE = "ZIP_CODE"
    LOCATION = "LOCATION"
    AGE = "AGE"
    ORGANIZATION = "ORGANIZATION"
    US_DRIVER_LICENSE = "US_DRIVER_LICENSE"
    US_PASSPORT = "US_PASSPORT"
    US_BANK_NUMBER = "US_BANK_NUMBER"
    MEDICAL_RECORD_NUMBER = "MEDICAL_RECORD_NUMBER"
    IDENTIFIER = "IDENTIFIER"


class Accountant(str, Enum):
    PRV = "prv"
    RDP = "rdp"


class Route(str, Enum):
    """Which generator a DP job trains (README, "Differential privacy"; the rule is generator/route.py)."""

    AUTO = "auto"
    MARGINAL = "marginal"
    HYBRID = "hybrid"
    LM = "lm"


class Device(str, Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class LrScheduler(str, Enum):
    COSINE = "cosine"
    LINEAR = "linear"
    CONSTANT = "constant"


class CelRule(BaseModel):
    """A cross-field rule, as the CRD carries it and as Python checks it."""

    rule: str
    message: str
    field_path: Optional[str] = None


class SpecModel(BaseModel):
    """Base for every spec section: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
        use_enum_values=False,
    )
    CEL_RULES: ClassVar[tuple[CelRule, ...]] = ()


def _quantity(value: Any) -> Any:
    """Kubernetes quantities may be written as numbers; keep them as strings (rules: safesynth.spec.quantity)."""
    return quantity.quantity_text(value)


Quantity = Annotated[str, Field(json_schema_extra={"x-kubernetes-int-or-string": True})]


# --------------------------------------------------------------------------- data


class ColumnKind(str, Enum):
    """What a column is, as prepare decides it and the generator, the PII stage and the metrics read it
    (prepare/schema.json). The one enum of kinds; DeclaredKind below is the subset a spec may declare."""

    INTEGER = "integer"
    FLOAT = "float"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"
    EMPTY = "empty"


class DeclaredKind(str, Enum):
    """Column kinds a user may declare: ColumnKind less `empty` (a test keeps the two in step). A separate
    enum so the CRD's schema lists exactly the values the API server should accept."""

    INTEGER = "integer"
    FLOAT = "float"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"


class ColumnDeclaration(SpecModel):
    """What a column is, declared rather than inferred: declared fields beat prepare's inference.

    Anything left out is still inferred (e.g. declare only `decimal: ","` and
    the column is still checked for numbers).
    """

    kind: Optional[DeclaredKind] = Field(None, description="The column's kind; values that do not parse under it "
                                                           "are counted as unparsed and become nulls.")
    format: Optional[Annotated[str, StringConstraints(min_length=2, max_length=64, pattern=r"%")]] = Field(
        None, description="Date/time format in strptime codes, e.g. '%d.%m.%Y'; implies kind datetime.")
    decimal: Optional[Literal[".", ","]] = Field(None, description="Decimal mark of the column's numbers.")
    thousands: Optional[Literal[",", ".", " ", "'", ""]] = Field(
        None, description="Thousands separator of the column's numbers; '' for none.")
    null_values: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=100)] = Field(
        default_factory=list, description="Cells read as null in this column, besides empty ones, e.g. ['?', '-'].")
    identifier: Optional[bool] = Field(
        None, description="true: an identifier (replaced, never learned); false: never typed identifier.")

    CEL_RULES = (
        CelRule(rule="!has(self.decimal) || !has(self.thousands) || self.decimal != self.thousands",
                message="decimal and thousands must differ", field_path=".thousands"),
        CelRule(rule="!(has(self.decimal) || has(self.thousands)) || !has(self.kind) || "
                     "self.kind == 'integer' || self.kind == 'float'",
                message="decimal and thousands apply to kind integer or float", field_path=".kind"),
        CelRule(rule="!has(self.format) || !has(self.kind) || self.kind == 'datetime'",
                message="format applies to kind datetime", field_path=".format"),
        CelRule(rule="!has(self.identifier) || !has(self.kind) || self.identifier == (self.kind == 'identifier')",
                message="identifier contradicts kind", field_path=".identifier"),
    )


class DataSpec(SpecModel):
    """Where the sensitive table is and how to split off the holdout."""

    uri: UriStr = Field(description="The table: s3://bucket/key, file:///path or a path. CSV, Parquet or JSONL.")
    format: DataFormat = Field(DataFormat.AUTO, description="File format; auto picks it from the extension.")
    holdout_fraction: float = Field(
        0.1,
        gt=0,
        le=0.5,
        description="Share of rows kept out of training as the privacy control and the utility test set.",
    )
    holdout_rows: Optional[int] = Field(
        None, ge=1, le=1_000_000, description="Exact holdout size; overrides holdoutFraction when set."
    )
    min_holdout_rows: int = Field(
        100,
        ge=10,
        le=100_000,
        description="Smallest holdout allowed: below ~100 rows attack scores are noise, so prepare fails instead.",
    )
    max_holdout_rows: int = Field(
        5000,
        ge=10,
        le=1_000_000,
        description="Cap on the holdout: more adds little to the evaluation and takes rows from training.",
    )
    min_train_rows: int = Field(
        100, ge=1, le=1_000_000, description="Fewest training rows left after the holdout; fewer is an error."
    )
    max_rows: Optional[int] = Field(
        None, ge=1, le=100_000_000, description="Seeded random subsample of the input before the split, if set."
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**32 - 1,
        description="The job's seed: the split and, unless a stage names its own, every other random choice.",
    )
    columns: Annotated[dict[ColumnName, ColumnDeclaration], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=dict,
        description="Declared column types by name, e.g. {visit: {format: '%d.%m.%Y'}, zip: {kind: categorical}}; "
                    "declared beats inferred.",
    )

    group_by: Annotated[list[ColumnName], Field(max_length=MAX_GROUP_KEYS)] = Field(
        default_factory=list,
        description="Entity-key column(s): rows sharing these values belong to one entity (a patient, a customer, "
                    "a device). The holdout takes whole entities, PII is replaced per entity, the generator writes "
                    "whole entities and, under DP, the unit of privacy is the entity.",
    )
    order_by: Optional[ColumnName] = Field(
        None,
        description="Column that orders an entity's rows (a date or a time index); needs groupBy. Generated rows "
                    "are in this order, and gaps between consecutive rows are learned.",
    )
    entity_columns: Optional[Annotated[list[ColumnName], Field(max_length=MAX_COLUMNS)]] = Field(
        None,
        description="Entity-level columns (constant within an entity: sex, date of birth, treatment arm), written "
                    "once per generated entity. Unset: found in the data (constant within 99% of entities), except "
                    "under privacy, where only declared ones are entity-level (finding them reads private rows).",
    )
    max_group_rows: int = Field(
        DEFAULT_MAX_GROUP_ROWS,
        ge=1,
        le=10_000,
        description="Most rows one entity may have: an entity with more keeps its first maxGroupRows rows (in "
                    "orderBy order) and a warning says how many entities were cut. Bounds one entity's "
                    "contribution under DP and the length of a generated entity.",
    )

    CEL_RULES = (
        CelRule(
            rule="self.minHoldoutRows <= self.maxHoldoutRows",
            message="minHoldoutRows must not exceed maxHoldoutRows",
            field_path=".minHoldoutRows",
        ),
        CelRule(
            rule="!has(self.orderBy) || (has(self.groupBy) && size(self.groupBy) > 0)",
            message="orderBy orders rows within an entity: set groupBy too",
            field_path=".orderBy",
        ),
    )


# ---------------------------------------------------------------------- artifacts


class LocalObjectReference(SpecModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]


class SecretKeyReference(SpecModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    key: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]


class ArtifactsSpec(SpecModel):
    """Where stages write. Credentials never appear here: only a Secret's name."""

    uri: Optional[UriStr] = Field(
        None,
        description=(
            "Root for run folders: s3://bucket/prefix, file:///path or a path. Locally defaults to ./safesynth-runs; "
            "on Kubernetes the operator's default applies."
        ),
    )
    endpoint: Optional[Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://")]] = Field(
        None, description="S3-compatible endpoint URL (MinIO, Ceph, R2). Unset: AWS or $AWS_ENDPOINT_URL."
    )
    region: Optional[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        None, description="S3 region. Unset: from the environment."
    )
    path_style: bool = Field(True, description="Path-style S3 addressing, which most S3-compatible servers need.")
    secret_ref: Optional[LocalObjectReference] = Field(
        None,
        description=(
            "Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, passed to stage pods by secretKeyRef. "
            "The operator never reads it."
        ),
    )
    delete_on_removal: bool = Field(
        False, description="Delete the run's artifacts when the SafeSynthJob is deleted (through a finalizer)."
    )


# ---------------------------------------------------------------------------- pii


class ColumnRule(SpecModel):
    """How one column is treated, overriding detection."""

    action: PiiAction = Field(description="What to do with the column's values.")
    entity: Optional[PiiEntity] = Field(None, description="Entity type, when detection should not decide it.")
    keep_last: Optional[int] = Field(None, ge=0, le=64, description="mask: characters left visible at the end.")
    max_shift_days: Optional[int] = Field(
        None, ge=1, le=3650, description="dateShift/perturb on dates: largest shift in days."
    )
    relative_noise: Optional[float] = Field(
        None, gt=0, le=1, description="perturb on numbers: largest offset as a share of the value's magnitude."
    )
    keep_digits: Optional[int] = Field(
        None, ge=0, le=10, description="generalize on codes such as zip: leading digits kept."
    )
    band_width: Optional[float] = Field(None, gt=0, description="generalize on numbers such as age: width of a band.")


PiiColumnMap = Annotated[dict[ColumnName, ColumnRule], Field(max_length=MAX_COLUMNS)]


class PiiPolicy(str, Enum):
    """What the PII stage replaces by default (safesynth.pii.plan says per entity)."""

    DEFAULT = "default"
    HIPAA_SAFE_HARBOR = "hipaaSafeHarbor"


class PiiSpec(SpecModel):
    """Detection and replacement of PII before anything is learned."""

    enabled: bool = Field(True, description="Find and replace PII. On by default.")
    policy: PiiPolicy = Field(
        PiiPolicy.DEFAULT,
        description=(
            "default: direct identifiers replaced, quasi-identifiers (ages, dates other than birth) kept; in doubt "
            "about a column of a table about people, replace. hipaaSafeHarbor: the 18 identifiers of 45 CFR "
            "164.514(b)(2): ZIP to 3 digits (000 for small areas), every date tied to a person to its year, ages "
            "over 89 to 90+."
        ),
    )
    entities: Optional[Annotated[list[PiiEntity], Field(max_length=64)]] = Field(
        None, description="Entity types to look for; unset means all."
    )
    columns: PiiColumnMap = Field(default_factory=dict, description="Per-column rules, e.g. {ssn: {action: hash}}.")
    locked_columns: Annotated[list[ColumnName], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=list, description="Columns never changed by the PII stage."
    )
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$", max_length=10)] = Field(
        "en_US", description="Faker locale for fake replacements."
    )
    threshold: float = Field(
        0.5, ge=0, le=1, description="Combined evidence a column needs to be treated as PII (0–1)."
    )
    ner_score_threshold: float = Field(0.5, ge=0, le=1, description="Lowest NER score counted as a vote.")
    sample_size: int = Field(500, ge=10, le=100_000, description="Values sampled per column for classification.")
    free_text: bool = Field(True, description="Find and replace PII spans inside free-text columns.")
    key_secret_ref: Optional[SecretKeyReference] = Field(
        None,
        description=(
            "Secret key for keyed hashing and consistent replacement across jobs. Unset: a key is made per job "
            "and never written out."
        ),
    )
    vault_uri: Optional[UriStr] = Field(
        None, description="Where tokenize writes its reverse lookup table. Unset: no table is written."
    )

    CEL_RULES = (
        CelRule(
            rule="self.lockedColumns.all(c, !(c in self.columns))",
            message="a column cannot be both locked and given a rule",
            field_path=".lockedColumns",
        ),
    )


# ----------------------------------------------------------------------- training


class LoraSpec(SpecModel):
    r: int = Field(16, ge=1, le=1024, description="LoRA rank.")
    alpha: float = Field(32, gt=0, le=4096, description="LoRA scaling alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    target_modules: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=128)]], Field(max_length=64)] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        description="Module names LoRA adapts.",
    )


class TrainingSpec(SpecModel):
    """The generator. Unset sizes are chosen from the data's size."""

    base_model: Optional[Annotated[str, StringConstraints(min_length=1, max_length=1024)]] = Field(
        None,
        description=(
            "Pretrained causal LM to fine-tune with LoRA: a Hugging Face id, a local directory or a .gguf file. "
            "Unset: a small model trained from scratch (CPU-friendly)."
        ),
    )
    epochs: Optional[float] = Field(
        None, gt=0, le=1000,
        description="Passes over the training rows. Unset: auto; without DP, 10% of the rows are then held out and "
                    "training keeps the weights of their lowest loss, stopping when it no longer falls.")
    max_steps: Optional[int] = Field(None, ge=1, le=10_000_000, description="Stop after this many optimizer steps.")
    batch_size: int = Field(32, ge=1, le=65_536, description="Rows per optimizer step (expected size under DP).")
    learning_rate: Optional[float] = Field(None, gt=0, le=1, description="Peak learning rate. Unset: auto.")
    lr_scheduler: LrScheduler = Field(LrScheduler.COSINE, description="Cosine after warmup was the stable choice.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up the learning rate.")
    weight_decay: float = Field(0.01, ge=0, le=1, description="AdamW weight decay.")
    layers: Optional[int] = Field(None, ge=1, le=64, description="From-scratch model: transformer layers.")
    hidden_size: Optional[int] = Field(None, ge=16, le=8192, description="From-scratch model: hidden size.")
    heads: Optional[int] = Field(None, ge=1, le=128, description="From-scratch model: attention heads.")
    vocab_size: int = Field(1024, ge=260, le=65_536, description="From-scratch tokenizer: byte-level BPE vocabulary.")
    max_sequence_length: Optional[int] = Field(
        None, ge=16, le=32_768, description="Longest serialized row in tokens. Unset: from the data."
    )
    lora: LoraSpec = Field(default_factory=LoraSpec, description="LoRA settings for the pretrained path.")
    qlora: bool = Field(False, description="Load the base model in 4 bits (needs bitsandbytes and a GPU).")
    device: Device = Field(Device.AUTO, description="auto uses CUDA when present.")
    threads: Optional[int] = Field(
        None, ge=1, le=256, description="torch CPU threads. Unset: 1 (two threads on a busy 2-core box ran 6x slower)."
    )
    seed: Optional[int] = Field(None, ge=0, le=2**32 - 1, description="Unset: data.seed.")

    CEL_RULES = (
        CelRule(
            rule="!has(self.hiddenSize) || !has(self.heads) || self.hiddenSize % self.heads == 0",
            message="hiddenSize must be a multiple of heads",
            field_path=".hiddenSize",
        ),
    )


# ------------------------------------------------------------------------ privacy


class ColumnDomain(SpecModel):
    """A column's public value domain: declared here, it costs no privacy budget."""

    categories: Optional[Annotated[list[Annotated[str, StringConstraints(max_length=1024)]], Field(max_length=10_000)]] = Field(
        None, description="Every value the column may take, as strings (booleans: 'true'/'false')."
    )
    min: Optional[float] = Field(None, description="Smallest value (numbers), inclusive.")
    max: Optional[float] = Field(None, description="Largest value (numbers), inclusive.")
    min_date: Optional[Annotated[str, StringConstraints(max_length=64)]] = Field(None, description="Earliest date/time, ISO 8601.")
    max_date: Optional[Annotated[str, StringConstraints(max_length=64)]] = Field(None, description="Latest date/time, ISO 8601.")


class PrivacySpec(SpecModel):
    """Record-level differential privacy for training (DP-SGD)."""

    enabled: bool = Field(False, description="Train with DP-SGD to a target (epsilon, delta).")
    epsilon: Optional[float] = Field(
        None, gt=0, le=100,
        description=(
            "Target epsilon for the whole job (training plus any DP schema release). Required when enabled: "
            "a silent default would promise a guarantee nobody chose."
        ),
    )
    delta: Optional[float] = Field(
        None, gt=0, lt=0.01, description="Target delta; must be below 1/n for n training rows (checked at train time). "
        "Unset: min(1e-5, 1/(10 n))."
    )
    max_grad_norm: float = Field(1.0, gt=0, le=100, description="Per-sample gradient clipping bound.")
    accountant: Accountant = Field(
        Accountant.PRV, description="PRV was tighter than RDP here; RDP is the fallback."
    )
    public_pretrain: bool = Field(
        True,
        description="Pretrain without DP on rows made only from the schema (no private values) before DP fine-tuning.",
    )
    route: Route = Field(
        Route.AUTO,
        description=(
            "DP generator: marginal (AIM-style DP marginals, no language model), hybrid (the marginal model's rows "
            "pretrain the LM, then DP-SGD), lm (DP-SGD only). auto: marginal, or lm for tables with free text "
            "when rows x epsilon >= 50,000; lm with data.groupBy, where marginal is refused (it writes rows "
            "independently) and hybrid fits the marginal model per entity (README, \"Differential privacy\")."
        ),
    )
    domains: Annotated[dict[ColumnName, ColumnDomain], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=dict,
        description=(
            "Public domains per column, e.g. {sex: {categories: [F, M]}, age: {min: 0, max: 120}}. With DP on, "
            "categories and bounds not declared here are released by a DP mechanism that spends schemaEpsilon."
        ),
    )
    schema_epsilon: Optional[float] = Field(
        None, gt=0, le=10,
        description=(
            "Part of epsilon (absolute, not extra) spent releasing undeclared categories and bounds under DP; "
            "unspent when every needed domain is declared. Unset: 1, or epsilon/8 when that is smaller."
        ),
    )
    marginal_epsilon: Optional[float] = Field(
        None, ge=0, le=10,
        description=(
            "Part of epsilon (absolute, not extra) spent releasing each column's noisy histogram, which the public "
            "pretraining rows then follow; 0 turns it off (uniform public rows). Unset: 1, or epsilon/8 when that "
            "is smaller; unspent when publicPretrain is off."
        ),
    )
    require_declared_schema: bool = Field(
        False,
        description=(
            "Under DP, refuse to train when a column's kind, a date column's format, a number column's spelling "
            "(decimal mark, thousands separator, unit) or a faked column (spec.pii.columns) is read from the data "
            "instead of declared; then nothing written by train or generate depends on a raw-table fact outside "
            "the guarantee. Off: the train summary warns once per undeclared fact."
        ),
    )

    CEL_RULES = (
        CelRule(
            rule="!self.enabled || has(self.epsilon)",
            message="epsilon is required when privacy is enabled",
            field_path=".epsilon",
        ),
        CelRule(
            rule=(
                "!has(self.epsilon) || (has(self.schemaEpsilon) ? double(self.schemaEpsilon) : 0.0)"
                " + (has(self.marginalEpsilon) ? double(self.marginalEpsilon) : 0.0) < double(self.epsilon)"
            ),
            message="schemaEpsilon + marginalEpsilon must be below epsilon (they are shares of it)",
            field_path=".schemaEpsilon",
        ),
    )


# --------------------------------------------------------------------- generation


class GenerationSpec(SpecModel):
    num_records: Optional[int] = Field(
        None, ge=1, le=100_000_000, description="Rows to generate. Unset: as many as training rows."
    )
    # 1.0 samples the model's own distribution. Measured on four quickstart models (fresh PII keys) and two
    # other tables (acs12, wage), the same weights sampled at 1.0 against 0.9: SQS higher on all six (spread
    # over the four 0.13 against 0.22), SDMetrics quality higher on all six, detection higher on five. The
    # time-series example keeps 0.9 (its lag-1 autocorrelation and SQS were lower at 1.0).
    temperature: float = Field(1.0, gt=0, le=5, description="Sampling temperature (1.0: the model's own "
                               "distribution; below 1 sharper, fewer rare values).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    batch_size: Optional[int] = Field(
        None, ge=1, le=65_536,
        description="Sequences sampled at once. Unset: 256 on CPU, 1024 on a GPU (decoding there is bound by "
        "kernel launches per step, so wider batches are nearly free).",
    )
    max_invalid_fraction: float = Field(
        0.5, ge=0, le=1, description="Stop when more than this share of rows is invalid for `patience` batches."
    )
    patience: int = Field(3, ge=1, le=1000, description="Batches over maxInvalidFraction tolerated before stopping.")
    drop_training_copies: bool = Field(True, description="Reject generated rows that copy a training row exactly.")
    fixed_values: Annotated[dict[ColumnName, Annotated[str, StringConstraints(max_length=1024)]], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=dict, description="Conditional generation: columns held at given values (as strings)."
    )
    seed: Optional[int] = Field(None, ge=0, le=2**32 - 1, description="Unset: data.seed.")
    shards: int = Field(
        1, ge=1, le=64,
        description="Generate in this many parallel pieces: on a cluster one Indexed Job with this many pods "
        "(each its own GPU, row range and seed), locally this many processes; merged in index order. 1: one "
        "process, output as before. 64: the largest Indexed Job a GPU queue is usually given at once.",
    )


# --------------------------------------------------------------------- evaluation


class GatesSpec(SpecModel):
    """Release gates: thresholds the evaluation must meet before the synthetic table counts as the result.

    Defaults fail a verbatim or half copy of the training rows and a table whose
    columns were shuffled independently, and pass the quickstart's output
    (tests/workers/metrics/test_gates.py measures each). A threshold set to null
    turns that gate off; a gate whose score does not apply (e.g. no holdout) is
    reported "not checked" and does not block. The same gates, with the same
    names, drive `safesynth evaluate --gate NAME=VALUE`.
    """

    enabled: bool = Field(True, description="Apply the gates; false reports the scores only (exit 0 whatever they are).")
    min_quality: Optional[float] = Field(
        5.0, ge=0, le=10, description="Lowest SQS (0–10; the reference product's score). 5: mid 'Moderate'.")
    min_detection: Optional[float] = Field(
        3.0, ge=0, le=10, description="Lowest detection score (0–10; 3 = classifier AUC 0.85): relations broken.")
    min_utility_ratio: Optional[float] = Field(
        0.5, ge=0, le=10, description="Lowest ML-utility ratio (synthetic-trained / real-trained score on the holdout).")
    min_privacy: Optional[float] = Field(
        5.0, ge=0, le=10, description="Lowest DPS (0–10): a half copy of the training rows scores about 3.")
    max_membership_tpr_at1_fpr: Optional[float] = Field(
        0.15, ge=0, le=1, description="Highest membership-attack TPR at 1% FPR (share; peers measure ~0.01).")
    max_singling_out_risk: Optional[float] = Field(
        None, ge=0, le=1, description="Highest Anonymeter singling-out risk (training vs holdout targets; 0 = none).")
    max_linkability_risk: Optional[float] = Field(
        None, ge=0, le=1, description="Highest Anonymeter linkability risk (training vs holdout targets; 0 = none).")
    max_exact_copies: Optional[float] = Field(
        0.01, ge=0, le=1, description="Highest share of synthetic rows that copy a training row, beyond chance.")
    max_pii_replay: Optional[float] = Field(
        0.1, ge=0, le=1, description="Highest excess share of original PII values replayed (worst column).")
    require_differential_privacy: bool = Field(
        False, description="Fail unless the generator was trained with differential privacy (spec.privacy).")
    hipaa_safe_harbor: bool = Field(
        False, description="Fail unless every detected HIPAA Safe Harbor category was removed or replaced.")


class EvaluationSpec(SpecModel):
    enabled: bool = Field(True, description="Score quality and privacy and write the HTML report.")
    gates: GatesSpec = Field(default_factory=GatesSpec, description="Release gates; a failed gate fails the job (exit 4).")
    target: Optional[ColumnName] = Field(
        None, description="Column predicted in the ML-utility test. Unset: chosen automatically."
    )
    quasi_identifiers: Annotated[list[ColumnName], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=list, description="Columns an attacker is assumed to know. Unset: chosen automatically."
    )
    sensitive_columns: Annotated[list[ColumnName], Field(max_length=MAX_COLUMNS)] = Field(
        default_factory=list, description="Columns the attribute-inference attack tries to learn."
    )
    max_rows: int = Field(
        5000, ge=100, le=10_000_000, description="Rows sampled per table for costly statistics (said in the report)."
    )
    seed: Optional[int] = Field(None, ge=0, le=2**32 - 1, description="Unset: data.seed.")

    CEL_RULES = (
        CelRule(
            rule="!has(self.target) || !(self.target in self.quasiIdentifiers)",
            message="the target column cannot also be a quasi-identifier",
            field_path=".target",
        ),
    )


# ---------------------------------------------------------------------- resources


class Toleration(SpecModel):
    key: Optional[Annotated[str, StringConstraints(max_length=253)]] = None
    operator: Optional[Literal["Exists", "Equal"]] = None
    value: Optional[Annotated[str, StringConstraints(max_length=253)]] = None
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = None
    toleration_seconds: Optional[int] = Field(None, ge=0)


QuantityMap = Annotated[dict[Annotated[str, StringConstraints(max_length=253)], Quantity], Field(max_length=32)]


class StageOverrides(SpecModel):
    """Per-stage scheduling, merged over the operator's defaults. Ignored by `safesynth run`."""

    requests: Optional[QuantityMap] = Field(None, description="Resource requests, e.g. {cpu: '2', memory: 8Gi}.")
    limits: Optional[QuantityMap] = Field(None, description="Resource limits.")
    gpu: Optional[int] = Field(None, ge=0, le=16, description="nvidia.com/gpu count; 0 runs the stage on CPU nodes.")
    node_selector: Optional[Annotated[dict[Annotated[str, StringConstraints(max_length=317)], Annotated[str, StringConstraints(max_length=63)]], Field(max_length=32)]] = None
    tolerations: Optional[Annotated[list[Toleration], Field(max_length=32)]] = None
    runtime_class_name: Optional[Annotated[str, StringConstraints(max_length=253)]] = None
    priority_class_name: Optional[Annotated[str, StringConstraints(max_length=253)]] = None
    backoff_limit: Optional[int] = Field(None, ge=0, le=100, description="Retries of a retryable failure.")
    active_deadline_seconds: Optional[int] = Field(None, ge=1, description="Wall-clock limit of the stage's Job.")

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _quantities(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _quantity(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> "StageOverrides":
        """A limit below its request is refused by the API server only when the stage's Job is created,
        hours into a job; here it fails validation, `safesynth validate` and the operator before any Job.
        (Not a CEL rule: quantities need the Kubernetes CEL quantity library, which cel-python lacks.)"""
        for key, limit in (self.limits or {}).items():
            request = (self.requests or {}).get(key)
            if request is not None and quantity.parse_quantity(limit) < quantity.parse_quantity(request):
                raise ValueError(f"limits.{key} ({limit}) is below requests.{key} ({request})")
        return self


class ResourcesSpec(SpecModel):
    prepare: Optional[StageOverrides] = None
    pii: Optional[StageOverrides] = None
    train: Optional[StageOverrides] = None
    generate: Optional[StageOverrides] = None
    evaluate: Optional[StageOverrides] = None


# --------------------------------------------------------------------------- spec


class OnSpecChange(str, Enum):
    """What a spec edit does while the job runs (see safesynth.spec.sections for what a stage depends on)."""

    REJECT = "Reject"
    RESTART_FROM_CHANGED_STAGE = "RestartFromChangedStage"


class SafeSynthJobSpec(SpecModel):
    """What to synthesize, how privately, and where the artifacts go."""

    data: DataSpec = Field(description="The sensitive input table.")
    artifacts: ArtifactsSpec = Field(default_factory=ArtifactsSpec, description="Where run artifacts go.")
    pii: PiiSpec = Field(default_factory=PiiSpec, description="PII detection and replacement.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Generator training.")
    privacy: PrivacySpec = Field(default_factory=PrivacySpec, description="Differential privacy.")
    generation: GenerationSpec = Field(default_factory=GenerationSpec, description="Sampling.")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec, description="Quality and privacy scoring.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="Per-stage scheduling overrides.")
    suspend: bool = Field(False, description="Stop launching stages (Kueue-friendly); set false to continue.")
    on_spec_change: OnSpecChange = Field(
        OnSpecChange.REJECT,
        description=(
            "While the job runs, an edit of a field that a started stage depends on is refused (Reject) or "
            "restarts the job from the first changed stage, deleting that stage's running Job "
            "(RestartFromChangedStage). suspend and the fields of stages not yet started may always change."
        ),
    )
    active_deadline_seconds: Optional[int] = Field(
        None, ge=1, le=MAX_JOB_DEADLINE_SECONDS,
        description=(
            "Wall-clock seconds the whole job may run, counted from its first stage's start (retries and "
            "suspension included). Past it the running stage is stopped and the job fails with reason "
            "DeadlineExceeded. Unset: only each stage's own limit (spec.resources.<stage>.activeDeadlineSeconds)."
        ),
    )
    backoff_limit: int = Field(
        0, ge=0, le=MAX_JOB_BACKOFF_LIMIT,
        description=(
            "Automatic retries of the job from its failed stage after a retryable failure (the stage Job's "
            "BackoffLimitExceeded), waiting 10 s, 20 s, 40 s ... (at most 10 min) before each. Failures that "
            "cannot pass on retry (exit codes 2, 3, 4, DeadlineExceeded, OOMKilled) are never retried. "
            "0: a failed stage fails the job, as for a KubeRay RayJob."
        ),
    )
    managed_by: Optional[Annotated[str, StringConstraints(min_length=1, max_length=63,
                                                          pattern=r"^[a-z0-9.-]+/[a-zA-Z0-9._-]+$")]] = Field(
        None,
        description=(
            "The controller that runs this job: unset or safesynth.io/operator for this operator; any other "
            "value (e.g. kueue.x-k8s.io/multikueue) makes this operator leave the object alone, so MultiKueue "
            "can dispatch it to a worker cluster and mirror its status back. Immutable (a CRD transition rule)."
        ),
    )


class ObjectMeta(BaseModel):
    """The parts of metadata safesynth reads; the rest is the API server's business."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_JOB_NAME_LENGTH, pattern=DNS1123_LABEL)]
    namespace: Optional[Annotated[str, StringConstraints(max_length=63, pattern=DNS1123_LABEL)]] = None
    uid: Optional[str] = None
    labels: Optional[dict[str, str]] = None
    annotations: Optional[dict[str, str]] = None


class SafeSynthJob(BaseModel):
    """A whole manifest, exactly what `kubectl apply` takes."""

    model_config = ConfigDict(extra="forbid")

    api_version: Literal["safesynth.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["SafeSynthJob"]
    metadata: ObjectMeta
    spec: SafeSynthJobSpec
    status: Optional[dict[str, Any]] = None


def iter_cel_rules(model: type[BaseModel]) -> tuple[CelRule, ...]:
    """A model's cross-field rules; models outside SpecModel (metadata, the manifest) have none."""
    return model.CEL_RULES if issubclass(model, SpecModel) else ()
