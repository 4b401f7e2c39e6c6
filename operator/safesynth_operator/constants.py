"""Names, labels, annotations and limits shared by the operator's manifests and handlers.

Everything the operator writes onto the cluster is named here, once, so that a
restarted operator (state lives in `.status` and on the children, never in
memory) finds by the same names what an earlier process made. Names the stage
pods share with the workers (exit codes, environment variables, artifact keys,
message limits) are not here: they come from `safesynth.contract`.
"""

from __future__ import annotations

from safesynth.spec.models import API_GROUP, API_VERSION, KIND, MAX_JOB_NAME_LENGTH, PLURAL, StageName

# --- the custom resource
CR_GROUP = API_GROUP
CR_VERSION = API_VERSION
CR_PLURAL = PLURAL
CR_KIND = KIND
CR_API_VERSION = f"{API_GROUP}/{API_VERSION}"

# --- labels (selectors find children by these; values are DNS labels ≤ 63 chars)
LABEL_JOB = f"{API_GROUP}/job"
LABEL_STAGE = f"{API_GROUP}/stage"
LABEL_SPEC_HASH = f"{API_GROUP}/spec-hash"
# Hash of what one stage's Job depends on (safesynth.spec.sections): a spec edit leaves a Job whose
# inputs hash is unchanged in place, so an edit of a later stage's section never stops a running one.
LABEL_INPUTS_HASH = f"{API_GROUP}/inputs-hash"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "safesynth"
MANAGED_BY = "safesynth-operator"
# Copied from the SafeSynthJob to its stage Jobs so Kueue admits each stage through the user's queue.
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"

# --- annotations
ANNOTATION_RUN_URI = f"{API_GROUP}/run-uri"
# Set on a stage Job that the operator suspended because spec.suspend became true;
# only those are resumed, so a Job that Kueue holds is left to Kueue.
ANNOTATION_SUSPENDED_BY = f"{API_GROUP}/suspended-by-operator"
# Set by users to re-run a failed stage: `kubectl annotate ssj NAME retry.safesynth.io/at=$(date +%s) --overwrite`.
# Not under `safesynth.io/`: kopf hides its own prefix from the diffs that trigger handlers.
ANNOTATION_RETRY = f"retry.{API_GROUP}/at"

# Copied likewise: Kueue's WorkloadPriorityClass of each stage's Workload.
KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
# spec.managedBy values this operator acts on (unset means this operator too); any other value, such as
# MultiKueue's, leaves the object to that controller.
CONTROLLER_NAME = f"{API_GROUP}/operator"

# --- conditions beyond the five of safesynth.spec.status_rules
CONDITION_SPEC_CHANGE_REJECTED = "SpecChangeRejected"
CONDITION_QUEUED = "Queued"  # written only for jobs with a queue-name label
CONDITION_ADMITTED = "Admitted"

# --- reasons the Job controller writes on a failed Job, kept as the stage's reason
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
REASON_DEADLINE = "DeadlineExceeded"
REASON_INVALID_SPEC = "InvalidSpec"
#: Job failures that an automatic retry (spec.backoffLimit) may fix: a retryable exit code that used up the
#: stage Job's own retries. Exit 2/3/4 (podFailurePolicy FailJob) and deadlines fail the same way again.
RETRIED_REASONS = (REASON_BACKOFF_LIMIT,)

# --- job-level retries (spec.backoffLimit): the Job controller's back-off, one level up; the first wait is
# OperatorConfig.retryBackoffSeconds (10 s), doubled per retry up to this cap
RETRY_BACKOFF_MAX_SECONDS = 600  # ten minutes, so ten retries stay within about an hour

# --- events
EVENT_COMPONENT = MANAGED_BY  # source.component / reportingComponent of every event the operator posts

# --- kopf's own bookkeeping, renamed under our group (see handlers.configure)
FINALIZER = f"{API_GROUP}/finalizer"
KOPF_PREFIX = API_GROUP

# --- the stage pod
CONTAINER_NAME = "stage"
SPEC_MOUNT = "/etc/safesynth"
SPEC_KEY = "spec.json"
SPEC_FILE = f"{SPEC_MOUNT}/{SPEC_KEY}"
TERMINATION_LOG = "/dev/termination-log"  # the pod's path; its env name is safesynth.contract.TERMINATION_ENV
GPU_RESOURCE = "nvidia.com/gpu"
SPEC_HASH_LENGTH = 16  # hex chars of sha256 kept in the label: 64 bits, enough to tell specs apart

# --- limits
DNS_LABEL_MAX = 63
CLEANUP_POLL_SECONDS = 2  # deleteOnRemoval: how often a deletion checks the stopping stage pods and cleanup Job
SPEC_SUFFIX = "spec"
CLEANUP_SUFFIX = "cleanup"
# spec.generation.shards > 1: generate runs as an Indexed Job, then `<job>-merge` (a small CPU Job running
# `safesynth stage generate`) merges the shards; the generate stage is done when the merge is.
MERGE_SUFFIX = "merge"
COMPONENT_MERGE = "merge"  # app.kubernetes.io/component of the merge Job (its stage label stays `generate`)
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


def child_name(job_name: str, stage: StageName) -> str:
    """Deterministic `<job>-<stage>` so a restarted operator finds what it made."""
    if len(job_name) > MAX_JOB_NAME_LENGTH:
        raise ValueError(f"job name longer than {MAX_JOB_NAME_LENGTH} characters")
    return f"{job_name}-{stage.value}"


def spec_configmap_name(job_name: str) -> str:
    """`<job>-spec`: the ConfigMap stage pods read their spec from (shorter than any stage suffix)."""
    if len(job_name) > MAX_JOB_NAME_LENGTH:
        raise ValueError(f"job name longer than {MAX_JOB_NAME_LENGTH} characters")
    return f"{job_name}-{SPEC_SUFFIX}"


def cleanup_job_name(job_name: str) -> str:
    """`<job>-cleanup`: the Job that deletes the run prefix (7 characters, as short as the longest stage)."""
    if len(job_name) > MAX_JOB_NAME_LENGTH:
        raise ValueError(f"job name longer than {MAX_JOB_NAME_LENGTH} characters")
    return f"{job_name}-{CLEANUP_SUFFIX}"


def merge_job_name(job_name: str) -> str:
    """`<job>-merge`: the Job that merges a sharded generate stage's shards (shorter than `-generate`)."""
    if len(job_name) > MAX_JOB_NAME_LENGTH:
        raise ValueError(f"job name longer than {MAX_JOB_NAME_LENGTH} characters")
    return f"{job_name}-{MERGE_SUFFIX}"
