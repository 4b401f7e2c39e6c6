"""Operator settings: what a cluster admin decides once, for every SafeSynthJob.

The Helm chart renders these as YAML into a ConfigMap mounted into the operator
pod; `load_config` reads that file (path in $SAFESYNTH_OPERATOR_CONFIG) and then
applies environment overrides named `SAFESYNTH_OPERATOR_<FIELD>` (for example
`SAFESYNTH_OPERATOR_STAGES=prepare,pii`), which is how tests and one-off runs
change a field without a file. Keys are camelCase like Helm values; unknown
keys are errors so a typo in values.yaml fails at start, not silently.

A SafeSynthJob's `spec.resources.<stage>` is merged over `stageDefaults`
(see `manifests.effective_stage_settings`); nothing here is read per request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from safesynth.errors import SpecError
from safesynth.spec.load import format_validation_error
from safesynth.spec.models import STAGE_ORDER, StageName
from safesynth.spec.quantity import quantity_text

CONFIG_ENV = "SAFESYNTH_OPERATOR_CONFIG"
ENV_PREFIX = "SAFESYNTH_OPERATOR_"
DEFAULT_CONFIG_PATH = "/etc/safesynth-operator/config.yaml"


class _Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StageDefaults(_Settings):
    """Scheduling defaults of one stage; any unset field falls back to the operator-wide value."""

    image: Optional[str] = Field(None, description="Worker image of this stage. Unset: OperatorConfig.image.")
    requests: dict[str, str] = Field(default_factory=dict, description="Container resource requests.")
    limits: dict[str, str] = Field(default_factory=dict, description="Container resource limits.")
    gpu: int = Field(0, ge=0, le=16, description="nvidia.com/gpu count; > 0 makes it a GPU stage.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    runtime_class_name: Optional[str] = None
    priority_class_name: Optional[str] = None
    backoff_limit: Optional[int] = Field(None, ge=0, le=100, description="Unset: OperatorConfig.backoffLimit.")
    active_deadline_seconds: Optional[int] = Field(
        None, ge=1, description="Seconds. Unset: OperatorConfig.activeDeadlineSeconds."
    )

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _quantities(cls, value: Any) -> Any:
        """Checked at start, as the spec's are: the operator compares requests with limits on every Job it builds."""
        if isinstance(value, dict):
            return {k: quantity_text(v) for k, v in value.items()}
        return value


def _default_stage_defaults() -> dict[StageName, StageDefaults]:
    """CPU stages ask for little; train and generate are GPU stages (one device each).

    Requests are sized for the small-to-medium tables the product targets (up to ~1M
    rows); memory limits equal requests so the scheduler's promise holds (Guaranteed
    memory), CPU is left unlimited to avoid throttling.
    """
    cpu = {"cpu": "1", "memory": "2Gi"}
    return {
        StageName.PREPARE: StageDefaults(requests=dict(cpu), limits={"memory": "2Gi"}),
        StageName.PII: StageDefaults(requests={"cpu": "1", "memory": "4Gi"}, limits={"memory": "4Gi"}),
        StageName.TRAIN: StageDefaults(requests={"cpu": "2", "memory": "16Gi"}, limits={"memory": "16Gi"}, gpu=1),
        StageName.GENERATE: StageDefaults(requests={"cpu": "2", "memory": "16Gi"}, limits={"memory": "16Gi"}, gpu=1),
        StageName.EVALUATE: StageDefaults(requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "4Gi"}),
    }


class OperatorConfig(_Settings):
    """Every operator-wide setting, with its unit and why its default."""

    # --- what runs
    image: str = Field(
        "ghcr.io/safesynth/safesynth-worker:0.1.0", description="Worker image for stages without their own."
    )
    image_pull_policy: str = Field("IfNotPresent", pattern=r"^(Always|IfNotPresent|Never)$")
    image_pull_secrets: list[str] = Field(default_factory=list, description="Secret names (references only).")
    service_account_name: Optional[str] = Field(
        None, description="Stage pods' ServiceAccount (for IRSA/workload identity). Unset: the namespace default."
    )
    stages: list[StageName] = Field(
        default_factory=lambda: list(STAGE_ORDER),
        description="Stages the operator runs, in STAGE_ORDER; fewer while the pipeline is being built.",
    )
    stage_defaults: dict[StageName, StageDefaults] = Field(default_factory=_default_stage_defaults)

    # --- GPU placement, applied to stages whose effective gpu count is > 0
    gpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"},
        description="Label set by NVIDIA's GPU feature discovery on GPU nodes.",
    )
    gpu_tolerations: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        description="GPU node pools are usually tainted nvidia.com/gpu:NoSchedule.",
    )
    gpu_runtime_class_name: Optional[str] = Field(None, description="e.g. 'nvidia' where the runtime is not default.")
    shm_size: str = Field("2Gi", description="Memory-backed /dev/shm for GPU stages (PyTorch data loaders, NCCL).")
    priority_class_name: Optional[str] = None

    # --- artifacts defaults, used where spec.artifacts leaves them unset
    artifacts_uri: str = Field("s3://safesynth", description="Root of run folders when spec.artifacts.uri is unset.")
    artifacts_endpoint: Optional[str] = Field(None, description="Default S3 endpoint (MinIO, Ceph).")
    artifacts_region: Optional[str] = None
    artifacts_secret_name: Optional[str] = Field(
        None, description="Default Secret with AWS keys, used when spec.artifacts.secretRef is unset."
    )

    # --- Job policy
    backoff_limit: int = Field(
        2, ge=0, le=100, description="Pod retries of a retryable failure; Kubernetes backs off 10 s, 20 s, 40 s..."
    )
    active_deadline_seconds: int = Field(
        86_400, ge=1, description="Seconds a stage Job may run: a day covers the long GPU trainings."
    )
    ttl_seconds_after_finished: Optional[int] = Field(
        3_600,
        ge=0,
        description="Seconds a finished stage Job is kept, set only after its summary is in .status; None keeps it.",
    )
    local_paths_mounted: bool = Field(
        False,
        description=(
            "True when every stage pod sees local paths at the same place (a shared volume mounted at that path, "
            "or a one-node development cluster): only then may spec.data.uri be file:// or an absolute path. "
            "Off by default: on a cluster a laptop's path does not exist in the pod, and the job is refused "
            "before its first Job instead of failing in prepare."
        ),
    )
    retry_backoff_seconds: float = Field(
        10.0, gt=0, le=600,
        description=(
            "Seconds before a job's first automatic retry from a failed stage (spec.backoffLimit); doubled per "
            "retry up to RETRY_BACKOFF_MAX_SECONDS. 10 s, as the Job controller's pod back-off starts."
        ),
    )
    run_as_user: int = Field(10001, ge=1, description="UID of the worker image's user (Dockerfile).")
    cache_dir: str = Field("/cache", description="XDG/HF cache in the worker image; an emptyDir under a read-only root.")

    # --- the operator process
    watch_namespaces: list[str] = Field(default_factory=list, description="Empty: every namespace.")
    metrics_port: int = Field(8000, ge=0, le=65535, description="Prometheus /metrics; 0 turns it off.")
    liveness_port: int = Field(8080, ge=0, le=65535, description="kopf's /healthz; 0 turns it off.")
    resync_seconds: float = Field(
        60.0, gt=0, description="Seconds between safety-net reconciles of unfinished jobs, should a watch event be lost."
    )

    @field_validator("stages")
    @classmethod
    def _stages_in_order(cls, value: list[StageName]) -> list[StageName]:
        """Stages run in STAGE_ORDER whatever order the file lists them; duplicates are a mistake."""
        if len(set(value)) != len(value):
            raise ValueError("stages must not repeat")
        if not value:
            raise ValueError("at least one stage must run")
        return [s for s in STAGE_ORDER if s in value]

    def stage_defaults_for(self, stage: StageName) -> StageDefaults:
        return self.stage_defaults.get(stage) or StageDefaults()


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """`SAFESYNTH_OPERATOR_WATCH_NAMESPACES=a,b` → {"watchNamespaces": ["a", "b"]}; values are YAML."""
    out: dict[str, Any] = {}
    fields = OperatorConfig.model_fields
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        field = key[len(ENV_PREFIX):].lower()
        if field not in fields:
            raise SpecError(f"{key}: no operator setting named {field!r}")
        value = yaml.safe_load(raw) if raw.strip() else None
        annotation = str(fields[field].annotation)
        if isinstance(value, str) and annotation.startswith("list"):
            value = [v.strip() for v in value.split(",") if v.strip()]
        out[field] = value
    return out


def load_config(path: Optional[str | Path] = None, environ: Optional[dict[str, str]] = None) -> OperatorConfig:
    """Settings from the YAML file (if any) with environment overrides on top.

    Raises SpecError listing every problem by key, like a bad manifest does.
    """
    environ = dict(os.environ) if environ is None else environ
    path = path or environ.get(CONFIG_ENV) or (DEFAULT_CONFIG_PATH if Path(DEFAULT_CONFIG_PATH).exists() else None)
    doc: dict[str, Any] = {}
    source = "environment"
    if path:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise SpecError(f"{path}: cannot read operator settings ({type(err).__name__})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SpecError(f"{path}: operator settings must be a mapping")
        doc = loaded or {}
    try:
        base = OperatorConfig.model_validate(doc)
        overrides = _env_overrides(environ)
        if not overrides:
            return base
        merged = {**base.model_dump(by_alias=False), **overrides}
        return OperatorConfig.model_validate(merged)
    except ValidationError as err:
        problems = format_validation_error(err)
        raise SpecError(f"{source}: invalid operator settings ({len(problems)} problem(s))", problems) from None
