"""Child manifests of a SafeSynthJob, built by pure functions that return dicts.

The handlers only adopt and create what these return, so every field of a stage
Job is decided here, from three layers: the spec (what to run), the operator
settings (cluster defaults from Helm) and `spec.resources.<stage>` (per-job
overrides). Expected manifests are stored as YAML under tests/operator/expected/.

Conventions followed: the Kubernetes "restricted" Pod Security Standard
(non-root, no privilege escalation, drop ALL, seccomp RuntimeDefault), Jobs with
podFailurePolicy (exit codes that cannot pass on retry fail the Job at once,
disruptions do not count), and credentials only by secretKeyRef so the operator
never reads a Secret.

Over 400 lines on purpose: every child manifest's pure builder, checked together against tests/operator/expected/.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from safesynth import contract
from safesynth.spec import sections
from safesynth.spec.models import SafeSynthJobSpec, StageName, Toleration
from safesynth.spec.quantity import parse_quantity

from safesynth_operator import constants as c
from safesynth_operator.config import OperatorConfig

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The parts of a SafeSynthJob's metadata its children are built from."""

    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "Owner":
        meta = body.get("metadata") or {}
        return cls(
            name=meta["name"],
            namespace=meta.get("namespace") or "default",
            uid=meta.get("uid") or "",
            labels=dict(meta.get("labels") or {}),
        )


# ------------------------------------------------------------------ spec and URIs


def spec_payload(spec: SafeSynthJobSpec) -> str:
    """The spec as stage pods read it: canonical JSON, defaults filled, `suspend` left out.

    `suspend` only tells the operator whether to launch; leaving it out means
    suspending and resuming never changes what pods see nor the spec hash.
    """
    wire = spec.model_dump(by_alias=True, mode="json", exclude_none=True)
    wire.pop("suspend", None)
    return json.dumps(wire, sort_keys=True, separators=(",", ":"))


def parse_payload(payload: Optional[str]) -> Optional[SafeSynthJobSpec]:
    """The spec a ConfigMap holds (what running stage pods read); None when absent or unreadable."""
    if not payload:
        return None
    try:
        return SafeSynthJobSpec.model_validate(json.loads(payload))
    except ValueError:
        return None


def spec_hash(payload: str) -> str:
    """Short sha256 of the payload, carried as a label by every child made for it."""
    return hashlib.sha256(payload.encode()).hexdigest()[: c.SPEC_HASH_LENGTH]


def run_uri(spec: SafeSynthJobSpec, config: OperatorConfig, owner: Owner) -> str:
    """`<artifacts root>/<namespace>/<name>-<uid8>/`: per namespace, so two teams' jobs of one name never meet.

    The uid part keeps a re-created job of the same name from resuming the old
    one's artifacts, which belong to another spec history.
    """
    root = (spec.artifacts.uri or config.artifacts_uri).rstrip("/")
    return f"{root}/{owner.namespace}/{owner.name}-{owner.uid[:8]}/"


def owner_reference(owner: Owner) -> Manifest:
    """Controller reference: deletion of the SafeSynthJob cascades to the child."""
    return {
        "apiVersion": c.CR_API_VERSION,
        "kind": c.CR_KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(owner: Owner, component: str, **extra: str) -> dict[str, str]:
    labels = {
        c.LABEL_NAME: c.APP_NAME,
        c.LABEL_COMPONENT: component,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_JOB: owner.name,
    }
    labels.update(extra)
    return labels


def build_spec_configmap(owner: Owner, spec: SafeSynthJobSpec) -> Manifest:
    """`<job>-spec` ConfigMap holding spec.json; its spec-hash label says which spec it holds."""
    payload = spec_payload(spec)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": c.spec_configmap_name(owner.name),
            "namespace": owner.namespace,
            "labels": _labels(owner, "spec", **{c.LABEL_SPEC_HASH: spec_hash(payload)}),
            "ownerReferences": [owner_reference(owner)],
        },
        "data": {c.SPEC_KEY: payload},
    }


# --------------------------------------------------------------- stage settings


@dataclass(frozen=True)
class StageSettings:
    """Operator defaults merged with `spec.resources.<stage>`: what the Job is built from."""

    image: str
    requests: dict[str, str]
    limits: dict[str, str]
    gpu: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    runtime_class_name: Optional[str]
    priority_class_name: Optional[str]
    backoff_limit: int
    active_deadline_seconds: int


def _toleration(t: Toleration | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(t, Toleration):
        return t.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dict(t)


def effective_stage_settings(config: OperatorConfig, spec: SafeSynthJobSpec, stage: StageName) -> StageSettings:
    """Spec over stage defaults over operator-wide values, key by key.

    A limit that only comes from the defaults is raised to a larger request the
    spec asks for (asking for 32Gi must not fail against a 16Gi default limit).
    GPU placement (nodeSelector, toleration, runtime class) is added only when
    the effective GPU count is above zero, so `gpu: 0` moves a stage to CPU nodes.
    """
    d = config.stage_defaults_for(stage)
    o = getattr(spec.resources, stage.value)
    requests = {**d.requests, **((o.requests if o else None) or {})}
    limits = {**d.limits, **((o.limits if o else None) or {})}
    user_limits = set((o.limits if o else None) or {})
    for res, req in requests.items():
        if res in limits and res not in user_limits and parse_quantity(req) > parse_quantity(limits[res]):
            limits[res] = req
    gpu = o.gpu if o and o.gpu is not None else d.gpu
    requests.pop(c.GPU_RESOURCE, None)
    limits.pop(c.GPU_RESOURCE, None)
    node_selector: dict[str, str] = {}
    tolerations: list[dict[str, Any]] = []
    runtime_class = None
    if gpu > 0:
        requests[c.GPU_RESOURCE] = limits[c.GPU_RESOURCE] = str(gpu)
        node_selector.update(config.gpu_node_selector)
        tolerations.extend(config.gpu_tolerations)
        runtime_class = config.gpu_runtime_class_name
    node_selector.update(d.node_selector)
    node_selector.update((o.node_selector if o else None) or {})
    for given in [*d.tolerations, *((o.tolerations if o else None) or [])]:
        t = _toleration(given)
        if t not in tolerations:
            tolerations.append(t)
    return StageSettings(
        image=d.image or config.image,
        requests=requests,
        limits=limits,
        gpu=gpu,
        node_selector=node_selector,
        tolerations=tolerations,
        runtime_class_name=(o.runtime_class_name if o else None) or d.runtime_class_name or runtime_class,
        priority_class_name=(o.priority_class_name if o else None) or d.priority_class_name or config.priority_class_name,
        backoff_limit=next(v for v in ((o.backoff_limit if o else None), d.backoff_limit, config.backoff_limit) if v is not None),
        active_deadline_seconds=(o.active_deadline_seconds if o else None)
        or d.active_deadline_seconds
        or config.active_deadline_seconds,
    )


# -------------------------------------------------------------------- stage Job


def _env(spec: SafeSynthJobSpec, config: OperatorConfig, stage: StageName | None = None) -> list[dict[str, Any]]:
    """Plain settings as values; the two AWS keys and the PII key only as references to Secrets.

    The PII key goes to the pii pod alone: no other stage replaces values, so no
    other pod needs to hold the key.
    """
    env: list[dict[str, Any]] = [
        {"name": contract.TERMINATION_ENV, "value": c.TERMINATION_LOG},
        # The root filesystem is read-only: everything that writes goes to emptyDirs.
        {"name": "HOME", "value": "/tmp"},
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "XDG_CACHE_HOME", "value": config.cache_dir},
    ]
    endpoint = spec.artifacts.endpoint or config.artifacts_endpoint
    region = spec.artifacts.region or config.artifacts_region
    if endpoint:
        env.append({"name": "AWS_ENDPOINT_URL", "value": endpoint})
    if region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": region})
    secret = spec.artifacts.secret_ref.name if spec.artifacts.secret_ref else config.artifacts_secret_name
    if secret:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    key_ref = spec.pii.key_secret_ref
    if stage is StageName.PII and key_ref is not None:
        env.append({"name": contract.PII_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": key_ref.name, "key": key_ref.key}}})
    return env


def _pod_failure_policy() -> Manifest:
    """Exit 2/3 (bad input, privacy budget) fail the Job at once; evictions and preemptions are not failures."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": c.CONTAINER_NAME,
                    "operator": "In",
                    "values": list(contract.PERMANENT_EXIT_CODES),
                },
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }


def stage_command(stage: StageName, run: str, shards: int = 1) -> list[str]:
    """The stage contract's entry point, `safesynth stage NAME --spec FILE --run-uri URI` (safesynth.cli);
    a shard of an Indexed Job adds `--shard $(JOB_COMPLETION_INDEX)/N` (the kubelet expands the variable,
    which the Job controller sets in each of the Job's pods)."""
    cmd = ["safesynth", "stage", stage.value, "--spec", c.SPEC_FILE, "--run-uri", run]
    return cmd + (["--shard", f"$({contract.SHARD_INDEX_ENV})/{shards}"] if shards > 1 else [])


def shard_count(spec: SafeSynthJobSpec, stage: StageName) -> int:
    """Pods of the stage's Job: spec.generation.shards for generate, 1 for every other stage."""
    return spec.generation.shards if stage is StageName.GENERATE else 1


def build_stage_job(
    owner: Owner,
    spec: SafeSynthJobSpec,
    stage: StageName,
    config: OperatorConfig,
) -> Manifest:
    """The batch/v1 Job of one stage. ttlSecondsAfterFinished is deliberately absent:
    the operator sets it only once the summary is copied into `.status`, so a
    finished Job is never garbage-collected before its result is read."""
    s = effective_stage_settings(config, spec, stage)
    run = run_uri(spec, config, owner)
    hashed = spec_hash(spec_payload(spec))
    labels = _labels(owner, "stage", **{c.LABEL_STAGE: stage.value, c.LABEL_SPEC_HASH: hashed,
                                        c.LABEL_INPUTS_HASH: sections.stage_inputs_hash(spec, stage)})
    job_labels = dict(labels)
    for kueue_label in (c.KUEUE_QUEUE_LABEL, c.KUEUE_PRIORITY_LABEL):
        if kueue_label in owner.labels:
            job_labels[kueue_label] = owner.labels[kueue_label]
    resources: dict[str, Any] = {}
    if s.requests:
        resources["requests"] = dict(sorted(s.requests.items()))
    if s.limits:
        resources["limits"] = dict(sorted(s.limits.items()))
    mounts = [
        {"name": "spec", "mountPath": c.SPEC_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "cache", "mountPath": config.cache_dir},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "spec", "configMap": {"name": c.spec_configmap_name(owner.name)}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "cache", "emptyDir": {}},
    ]
    if s.gpu > 0:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": config.shm_size}})
    container: dict[str, Any] = {
        "name": c.CONTAINER_NAME,
        "image": s.image,
        "imagePullPolicy": config.image_pull_policy,
        "command": stage_command(stage, run, shard_count(spec, stage)),
        "env": _env(spec, config, stage),
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "terminationMessagePath": c.TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": config.run_as_user,
            "runAsGroup": config.run_as_user,
            "fsGroup": config.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if config.service_account_name:
        pod_spec["serviceAccountName"] = config.service_account_name
    if config.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in config.image_pull_secrets]
    if s.node_selector:
        pod_spec["nodeSelector"] = dict(sorted(s.node_selector.items()))
    if s.tolerations:
        pod_spec["tolerations"] = s.tolerations
    if s.runtime_class_name:
        pod_spec["runtimeClassName"] = s.runtime_class_name
    if s.priority_class_name:
        pod_spec["priorityClassName"] = s.priority_class_name
    job_spec: dict[str, Any] = {
        "backoffLimit": s.backoff_limit,
        "activeDeadlineSeconds": s.active_deadline_seconds,
        "podFailurePolicy": _pod_failure_policy(),
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    shards = shard_count(spec, stage)
    if shards > 1:
        # One pod per shard, all at once: Kueue admits the N pods as one Workload (N GPUs or none), and
        # each index retries on its own pod within the Job's backoffLimit.
        job_spec.update({"completionMode": "Indexed", "completions": shards, "parallelism": shards})
    if c.KUEUE_QUEUE_LABEL in job_labels:
        # Created suspended, as Kueue asks of Jobs it manages: no pod starts before the queue admits
        # the stage (Kueue's webhook would suspend it too, but not where the webhook is not installed yet).
        job_spec["suspend"] = True
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": c.child_name(owner.name, stage),
            "namespace": owner.namespace,
            "labels": job_labels,
            "annotations": {c.ANNOTATION_RUN_URI: run},
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": job_spec,
    }


# ------------------------------------------------------------------ cleanup Job


def cleanup_command(run: str) -> list[str]:
    """Removes the run prefix; the worker CLI's `safesynth clean` (the operator has no S3 client)."""
    return ["safesynth", "clean", "--spec", c.SPEC_FILE, "--run-uri", run]


def build_cleanup_job(owner: Owner, spec: SafeSynthJobSpec, config: OperatorConfig) -> Manifest:
    """`<job>-cleanup`: the prepare stage's pod shape (CPU, same credentials) running `safesynth clean`.

    Owned by the SafeSynthJob like the stages, so it goes with it once the
    finalizer is released; no retries beyond one, as deletion must not hang.
    """
    job = build_stage_job(owner, spec, StageName.PREPARE, config)
    job["metadata"]["name"] = c.cleanup_job_name(owner.name)
    job["metadata"]["labels"][c.LABEL_COMPONENT] = "cleanup"
    job["metadata"]["labels"].pop(c.LABEL_STAGE, None)
    job["metadata"]["labels"].pop(c.KUEUE_QUEUE_LABEL, None)  # a deletion must not wait in a queue
    job["metadata"]["labels"].pop(c.KUEUE_PRIORITY_LABEL, None)
    job["spec"].pop("suspend", None)
    template = job["spec"]["template"]
    template["metadata"]["labels"][c.LABEL_COMPONENT] = "cleanup"
    template["metadata"]["labels"].pop(c.LABEL_STAGE, None)
    container = template["spec"]["containers"][0]
    container["command"] = cleanup_command(run_uri(spec, config, owner))
    container["resources"] = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}
    for key in ("nodeSelector", "tolerations", "runtimeClassName"):
        template["spec"].pop(key, None)
    job["spec"]["backoffLimit"] = 1
    job["spec"]["activeDeadlineSeconds"] = 600
    return job


# -------------------------------------------------------------------- merge Job


def build_merge_job(owner: Owner, spec: SafeSynthJobSpec, config: OperatorConfig) -> Manifest:
    """`<job>-merge`: after a sharded generate stage's Indexed Job, `safesynth stage generate` merges its shards.

    A Job of its own rather than a step of the last index (indexes run in parallel, so that pod would hold a
    GPU while it waited for the others) or of the evaluate Job (which may write only under evaluate/): it
    writes generate/synthetic.* and generate/summary.json last, under the stage contract. It needs no GPU
    and no model weights, so it has the prepare stage's CPU shape, and the generate stage's labels (inputs
    hash included), so a spec edit that replaces the generate Job replaces it too.
    """
    job = build_stage_job(owner, spec, StageName.PREPARE, config)
    generate = build_stage_job(owner, spec, StageName.GENERATE, config)
    run = run_uri(spec, config, owner)
    job["metadata"]["name"] = c.merge_job_name(owner.name)
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels[c.LABEL_COMPONENT] = c.COMPONENT_MERGE
        labels[c.LABEL_STAGE] = StageName.GENERATE.value
        labels[c.LABEL_INPUTS_HASH] = generate["metadata"]["labels"][c.LABEL_INPUTS_HASH]
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = stage_command(StageName.GENERATE, run)
    container["env"] = _env(spec, config, StageName.GENERATE)
    return job
