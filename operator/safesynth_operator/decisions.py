"""Pure decisions of the operator: from what is observed to what should be.

Nothing here talks to the API server. `plan` takes the SafeSynthJob's spec and
old `.status`, the spec ConfigMap's hash and the child Jobs and Pods as the API
returned them, and answers with the new status and the few actions that get the
cluster there (create the next stage Job, delete stale Jobs, suspend or resume
one, set a finished Job's TTL). `reconciler.py` does the reading and acting.
Because every input is observable, an operator restarted at any point reaches
the same plan again: state lives in `.status` and on the children.

Reading a stage's result follows the stage contract (safesynth.contract):
the pod writes a JSON summary as its termination message; exit 2 (bad input)
and 3 (privacy budget) are permanent, anything else retryable, and Kubernetes
retries retryable failures up to the Job's backoffLimit with its exponential
back-off (10 s doubling to 6 min). Messages copied into status and events come
only from our own error summaries or are written here: never raw logs, which
could hold data values.

Over 400 lines on purpose: `plan` is one pure decision over the observed state; its helpers are private to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional, Sequence

from safesynth import contract
from safesynth.spec import sections
from safesynth.spec import status_rules as rules
from safesynth.spec.models import OnSpecChange, SafeSynthJobSpec, StageName
from safesynth.spec.status import JobPhase, JobStatus, PodCounts, StagePhase, StageStatus, set_condition, set_failed
from safesynth.spec.status_rules import DONE, TERMINAL

from safesynth_operator import constants as c

Obj = Mapping[str, Any]


# ---------------------------------------------------------------- stage order


def next_stage(order: Sequence[StageName], done: Iterable[StageName]) -> Optional[StageName]:
    """The first stage of `order` not yet done, or None when all are."""
    finished = set(done)
    return next((s for s in order if s not in finished), None)


# ------------------------------------------------------- reading Jobs and Pods


@dataclass(frozen=True)
class StageOutcome:
    """What a stage Job and its pods say about the stage."""

    phase: StagePhase
    attempts: int = 0
    start_time: Optional[str] = None
    completion_time: Optional[str] = None
    summary: Optional[dict[str, Any]] = None
    reason: Optional[str] = None
    message: Optional[str] = None
    exit_code: Optional[int] = None
    suspended: bool = False
    job_reason: Optional[str] = None  # the Job controller's reason for giving up (job_failure_reason)


@dataclass(frozen=True)
class Termination:
    exit_code: int
    reason: Optional[str]
    message: Optional[str]
    finished_at: str


def parse_summary(message: Optional[str]) -> Optional[dict[str, Any]]:
    """The stage's JSON summary, or None when the message is not a JSON object.

    With terminationMessagePolicy FallbackToLogsOnError a failed pod that wrote
    nothing gets its log tail instead; that text is never treated as a summary.
    """
    if not message:
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _log_error_line(message: Optional[str]) -> Optional[str]:
    """From a log tail, only the CLI's own `error: ...` line (value-free by the errors convention)."""
    if not message or parse_summary(message) is not None:
        return None
    for line in reversed(message.strip().splitlines()):
        if line.startswith("error: "):
            return line[len("error: "):][: contract.MESSAGE_MAX]
    return None


def _condition(obj: Obj, type_: str) -> Optional[Obj]:
    """The object's condition `type_` when its status is "True" (an absent or False one reads as None)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_ and cond.get("status") == "True":
            return cond
    return None


def pods_of(job: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The pods a Job made: by controller uid (owner reference or label), else by job-name label."""
    meta = job.get("metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    out = []
    for pod in pods:
        pmeta = pod.get("metadata") or {}
        labels = pmeta.get("labels") or {}
        owners = {o.get("uid") for o in pmeta.get("ownerReferences") or []}
        if uid and (
            uid in owners
            or labels.get("batch.kubernetes.io/controller-uid") == uid
            or labels.get("controller-uid") == uid
        ):
            out.append(pod)
        elif not owners and name and (labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")) == name:
            out.append(pod)
    return out


def termination(pod: Obj) -> Optional[Termination]:
    """The stage container's terminated state, if it has one."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") not in (c.CONTAINER_NAME, None):
            continue
        for key in ("state", "lastState"):
            term = (status.get(key) or {}).get("terminated")
            if term:
                return Termination(
                    exit_code=int(term.get("exitCode", 0)),
                    reason=term.get("reason"),
                    message=term.get("message"),
                    finished_at=term.get("finishedAt") or "",
                )
    return None


def _latest(pods: Iterable[Obj], *, succeeded: Optional[bool]) -> Optional[Termination]:
    found = []
    for pod in pods:
        term = termination(pod)
        if term is None:
            continue
        if succeeded is True and term.exit_code != 0:
            continue
        if succeeded is False and term.exit_code == 0:
            continue
        created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
        found.append((term.finished_at, created, term))
    return max(found, key=lambda t: (t[0], t[1]))[2] if found else None


def job_failure_reason(job: Obj) -> Optional[str]:
    """Why the Job controller gave up on a Job: its Failed (or FailureTarget) condition's reason, or, from
    the counters alone (an older cluster), BackoffLimitExceeded when failures exceed the backoffLimit."""
    cond = _condition(job, "Failed") or _condition(job, "FailureTarget") or {}
    reason = cond.get("reason")
    st, spec = job.get("status") or {}, job.get("spec") or {}
    if reason is None and int(st.get("failed") or 0) > int(spec.get("backoffLimit", 6)):
        return c.REASON_BACKOFF_LIMIT
    return str(reason) if reason else None


def _failure(stage: StageName, job: Obj, term: Optional[Termination]) -> tuple[str, str, Optional[int]]:
    """(reason, message, exit code) of a failed stage, in words a user can act on.

    The stage's own error summary decides when there is one (the local driver reports
    the same: one status model). Otherwise the reason is the Job controller's own
    (BackoffLimitExceeded, DeadlineExceeded: what `kubectl describe job` shows),
    never a made-up StageError where Kubernetes says more.
    """
    spec = job.get("spec") or {}
    job_reason = job_failure_reason(job)
    summary = parse_summary(term.message) if term else None
    exit_code = term.exit_code if term else None
    tries = int((job.get("status") or {}).get("failed") or 0)
    if summary and summary.get("error"):
        code = summary.get("exitCode", exit_code)
        reason, message = rules.stage_failure(summary, exit_code)
        return reason, message, code if isinstance(code, int) else exit_code
    if term and term.reason == "OOMKilled":
        return (
            "OOMKilled",
            f"the stage ran out of memory (exit code {term.exit_code}); raise spec.resources.{stage.value}.limits.memory",
            term.exit_code,
        )
    if job_reason == c.REASON_DEADLINE:
        return (
            c.REASON_DEADLINE,
            f"the stage ran longer than activeDeadlineSeconds ({spec.get('activeDeadlineSeconds')} s); "
            f"raise spec.resources.{stage.value}.activeDeadlineSeconds",
            exit_code,
        )
    logged = _log_error_line(term.message if term else None)
    if logged:
        return (job_reason or "StageError", logged, exit_code)
    if exit_code is not None:
        extra = f" after {tries} attempt(s)" if tries else ""
        return (job_reason or "StageError", f"the stage exited with code {exit_code}{extra}; see the pod logs", exit_code)
    return (job_reason or "StageError", "the stage Job failed without a pod result; see `kubectl describe job`", None)


def read_job(stage: StageName, job: Obj, pods: Iterable[Obj]) -> StageOutcome:
    """A stage Job's state, with the summary from its pod's termination message.

    Job conditions decide (Complete, Failed); without them the counters do, as
    older clusters and a Job that is still being updated may not show them yet.
    """
    st = job.get("status") or {}
    spec = job.get("spec") or {}
    mine = pods_of(job, pods)
    active, succeeded, failed = int(st.get("active") or 0), int(st.get("succeeded") or 0), int(st.get("failed") or 0)
    attempts = active + succeeded + failed
    start = st.get("startTime")
    completions = int(spec.get("completions") or 1)  # an Indexed Job (sharded stage) needs every index
    if _condition(job, "Complete") or (succeeded >= completions > 0 and not _condition(job, "Failed")):
        term = _latest(mine, succeeded=True)
        summary = parse_summary(term.message) if term else None
        phase = StagePhase.SKIPPED if summary and summary.get("skipped") else StagePhase.SUCCEEDED
        done = st.get("completionTime") or (term.finished_at if term else None)
        return StageOutcome(phase, max(attempts, 1), start, done, summary=summary, exit_code=0)
    backoff_limit = spec.get("backoffLimit", 6)
    if _condition(job, "Failed") or failed > backoff_limit:
        term = _latest(mine, succeeded=False)
        reason, message, code = _failure(stage, job, term)
        cond = _condition(job, "Failed") or {}
        done = cond.get("lastTransitionTime") or (term.finished_at if term else None)
        return StageOutcome(StagePhase.FAILED, max(attempts, 1), start, done, reason=reason, message=message,
                            exit_code=code, job_reason=job_failure_reason(job))
    if _condition(job, "Suspended") or spec.get("suspend"):
        return StageOutcome(StagePhase.PENDING, attempts, start, suspended=True)
    if active > 0:
        return StageOutcome(StagePhase.RUNNING, attempts, start)
    if failed > 0:  # between a failed pod and its replacement (the Job controller backs off 10 s, 20 s, ...)
        return StageOutcome(StagePhase.RUNNING, attempts, start, message=f"retrying after {failed} failed attempt(s)")
    return StageOutcome(StagePhase.PENDING, attempts, start)


# ----------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Event:
    """A Kubernetes event on the SafeSynthJob: counts, names and reasons only."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    """Everything `plan` needs, as read from the API server."""

    name: str
    stages: Sequence[StageName]
    status: JobStatus
    spec: Optional[SafeSynthJobSpec]
    spec_hash: str
    run_uri: str
    now: str
    generation: Optional[int] = None
    problems: Optional[Sequence[str]] = None  # set when the spec is invalid
    configmap_hash: Optional[str] = None  # None: no ConfigMap yet
    applied_spec: Optional[SafeSynthJobSpec] = None  # the spec in the ConfigMap: what the stage pods run with
    jobs: Mapping[StageName, Obj] = field(default_factory=dict)  # owned children not being deleted
    deleting: frozenset[str] = frozenset()  # names of owned Jobs being deleted
    pods: Sequence[Obj] = ()
    ttl_seconds: Optional[int] = None
    queue: Optional[str] = None  # the SafeSynthJob's kueue.x-k8s.io/queue-name label
    local_paths_mounted: bool = False  # OperatorConfig.localPathsMounted
    retry_backoff_seconds: float = 10.0  # OperatorConfig.retryBackoffSeconds
    merge_job: Optional[Obj] = None  # `<job>-merge` (a sharded generate stage's merge), when it exists


@dataclass
class Plan:
    status: JobStatus
    reset: bool = False  # write `status` before acting: stage entries start over for a new spec
    apply_configmap: bool = False
    use_applied_spec: bool = False  # a rejected spec change: new Jobs keep the spec in the ConfigMap
    delete_jobs: list[str] = field(default_factory=list)
    create: Optional[StageName] = None
    create_merge: bool = False  # create `<job>-merge`: every shard of the generate Indexed Job succeeded
    suspend_jobs: list[str] = field(default_factory=list)
    resume_jobs: list[str] = field(default_factory=list)
    finish_jobs: list[str] = field(default_factory=list)  # set ttlSecondsAfterFinished (status written first)
    events: list[Event] = field(default_factory=list)
    requeue_after: Optional[float] = None  # seconds until a retry or the job's deadline is due


def job_hash(job: Obj) -> Optional[str]:
    return ((job.get("metadata") or {}).get("labels") or {}).get(c.LABEL_SPEC_HASH)


def inputs_hash(job: Obj) -> Optional[str]:
    return ((job.get("metadata") or {}).get("labels") or {}).get(c.LABEL_INPUTS_HASH)


def needs_pods(status: JobStatus, jobs: Mapping[StageName, Obj], merge: Optional[Obj] = None) -> bool:
    """Pods are listed only when a finished Job's result is not yet in status (saves a LIST per event)."""
    recorded = {s.name: s for s in status.stages}
    for stage, job in [*jobs.items(), *([(StageName.GENERATE, merge)] if merge is not None else [])]:
        entry = recorded.get(stage.value)
        names = {job["metadata"]["name"]} | ({merge["metadata"]["name"]} if merge and stage is StageName.GENERATE else set())
        if _finished(job) and not (entry and entry.phase in TERMINAL and entry.job_name in names):
            return True
    return False


# --------------------------------------------------------- sharded generate stage


def sharded(spec: Optional[SafeSynthJobSpec], stage: StageName) -> bool:
    """Whether `stage` runs as an Indexed Job followed by a merge Job (spec.generation.shards > 1)."""
    return spec is not None and stage is StageName.GENERATE and spec.generation.shards > 1


def read_sharded(stage: StageName, job: Obj, merge: Optional[Obj], pods: Iterable[Obj]) -> StageOutcome:
    """A sharded stage's state from its Indexed Job and its merge Job: the shards' while they run or when one
    failed; Running while the merge is due or runs; the merge Job's result (its summary is the stage's) once
    it ends. Attempts count the pods of both."""
    shards = read_job(stage, job, pods)
    if shards.phase not in DONE:
        return shards
    total = int((job.get("spec") or {}).get("completions") or 1)
    if merge is None:
        return StageOutcome(StagePhase.RUNNING, shards.attempts, shards.start_time,
                            message=f"all {total} shards done; merging")
    merged = read_job(stage, merge, pods)
    message = merged.message if merged.phase in TERMINAL else f"all {total} shards done; merging"
    return replace(merged, attempts=shards.attempts + merged.attempts, start_time=shards.start_time,
                   phase=merged.phase if merged.phase is not StagePhase.PENDING else StagePhase.RUNNING,
                   message=message)


def _finished(job: Obj) -> bool:
    st = job.get("status") or {}
    return bool(_condition(job, "Complete") or _condition(job, "Failed") or st.get("succeeded") or st.get("failed"))


def _fresh_entries(stages: Sequence[StageName]) -> list[StageStatus]:
    return [StageStatus(name=s.value) for s in stages]


@dataclass(frozen=True)
class SpecChange:
    """What a new spec means for the stages (`decide_spec_change`)."""

    apply: bool  # write the new spec to the ConfigMap now
    restart_from: Optional[StageName] = None  # entries from here on start over, their Jobs go
    rejected: Optional[str] = None  # why the change waits (onSpecChange: Reject with a running stage)


def decide_spec_change(obs: Observed) -> SpecChange:
    """A new spec against the applied one: which stages it touches, and whether it may act now.

    A stage is touched when its inputs (safesynth.spec.sections) changed. When no
    unfinished stage Job is touched, the change applies at once and the first
    touched stage starts over (a finished job re-runs from there). When a running
    one is touched, `spec.onSpecChange` decides: RestartFromChangedStage deletes it
    and starts over; Reject (the default) deletes nothing: the running stage ends on
    the applied spec, a condition says the change waits, and it applies once no
    touched stage runs. The CRD's transition rule refuses such edits at the API
    server already; this is the second line, for CRDs installed without it.
    """
    if obs.spec is None or obs.applied_spec is None:
        return SpecChange(apply=True, restart_from=obs.stages[0] if obs.stages else None)
    changed = sections.first_changed_stage(obs.applied_spec, obs.spec, obs.stages)
    if changed is None:
        return SpecChange(apply=True)
    order = list(obs.stages)
    live = [s for s, job in obs.jobs.items() if s in order and not _finished(job)
            and inputs_hash(job) == sections.stage_inputs_hash(obs.applied_spec, s)]
    touched = [s for s in live if order.index(s) >= order.index(changed)]
    if touched and obs.spec.on_spec_change is OnSpecChange.REJECT:
        fields = sections.changed_fields(obs.applied_spec, obs.spec, touched[0])
        return SpecChange(apply=False, rejected=(
            f"{', '.join(fields)} changed while stage {touched[0].value} runs, which depends on it; "
            f"spec.onSpecChange is Reject, so the change waits until that stage ends and then runs again from "
            f"stage {changed.value}. Revert it, or set spec.onSpecChange: RestartFromChangedStage to restart now"))
    return SpecChange(apply=True, restart_from=changed)


def plan(obs: Observed) -> Plan:
    """The next status and actions for one SafeSynthJob (see the module docstring)."""
    old = obs.status
    status = old.model_copy(deep=True)
    status.observed_generation = obs.generation
    status.artifacts.run_uri = obs.run_uri
    result = Plan(status=status)
    gen = obs.generation

    problems = obs.problems
    if problems is None and obs.spec is not None and not _launched_before(old, obs.jobs):
        unreadable = data_uri_problem(obs.spec.data.uri, obs.local_paths_mounted)
        problems = [unreadable] if unreadable else None
    if problems is not None:
        message = ("spec is invalid: " + "; ".join(problems))[: contract.MESSAGE_MAX]
        first_time = old.phase is not JobPhase.FAILED or old.message != message
        rules.settle(status, suspend=False, launched=False, now=obs.now, generation=gen,
                     failure=rules.Failure(c.REASON_INVALID_SPEC, message))
        if first_time:
            result.events.append(Event("Warning", c.REASON_INVALID_SPEC, message))
        return result

    old_entries = {s.name: s for s in old.stages}
    status.stages = [(old_entries.get(s.value) or StageStatus(name=s.value)).model_copy(deep=True) for s in obs.stages]
    spec = obs.spec
    if obs.configmap_hash != obs.spec_hash:
        change = decide_spec_change(obs)
        _record_rejection(status, change.rejected, gen, obs.now)
        if change.rejected:
            result.use_applied_spec = True
            spec = obs.applied_spec
        else:
            result.apply_configmap = True
            if change.restart_from is not None:
                first = list(obs.stages).index(change.restart_from)
                started = any(e.phase is not StagePhase.PENDING or e.job_name for e in status.stages[first:])
                status.stages[first:] = _fresh_entries(obs.stages[first:])
                if started:
                    result.reset = True
                    for e in status.stages[first:]:
                        old_entries.pop(e.name, None)
                    result.events.append(Event("Normal", "SpecChanged",
                                               f"spec changed; stages run again from {change.restart_from.value}"))
                status.start_time = status.completion_time = status.next_retry_time = None
                status.retries = 0  # a new spec is a new run: its retries start from zero
                status.headline = type(status.headline)()
    else:
        _record_rejection(status, None, gen, obs.now)

    # Jobs built for other inputs than the stage's (current) ones are deleted and otherwise ignored.
    current: dict[StageName, Obj] = {}
    for stage, child in obs.jobs.items():
        fits = spec is not None and stage in obs.stages and (
            inputs_hash(child) == sections.stage_inputs_hash(spec, stage) if inputs_hash(child)
            else job_hash(child) == obs.configmap_hash)
        if fits and not (result.reset and stage.value not in old_entries):
            current[stage] = child
        else:
            result.delete_jobs.append(child["metadata"]["name"])

    merge = obs.merge_job
    if merge is not None and not (sharded(spec, StageName.GENERATE) and spec is not None
                                  and StageName.GENERATE in obs.stages
                                  and inputs_hash(merge) == sections.stage_inputs_hash(spec, StageName.GENERATE)
                                  and not (result.reset and StageName.GENERATE.value not in old_entries)):
        result.delete_jobs.append(merge["metadata"]["name"])
        merge = None

    retryable: set[StageName] = set()  # stages whose Job just failed in a way a new try may fix
    # Fold each Job's observed state into its stage entry. Results already
    # recorded stay as recorded: the pods that carried them may be gone.
    for entry, stage in zip(status.stages, obs.stages):
        job = current.get(stage)
        prior = old_entries.get(stage.value)
        if job is None:
            if entry.phase not in TERMINAL:
                # Never created, or deleted behind our back: (re)created below; a
                # finished stage's pod then only confirms its summary (skip by hash).
                entry.phase, entry.job_name, entry.pods = StagePhase.PENDING, None, None
            continue
        in_shards = sharded(spec, stage)
        if in_shards and merge is not None:
            job = merge  # the merge Job carries the stage's result; the shards' Job is finished before it
        name = job["metadata"]["name"]
        if prior is not None and prior.phase in TERMINAL and prior.job_name == name:
            if prior.phase is not StagePhase.FAILED and not (job.get("spec") or {}).get("ttlSecondsAfterFinished"):
                if obs.ttl_seconds is not None:
                    result.finish_jobs.extend(_stage_job_names(current[stage], job))
            continue
        out = read_sharded(stage, current[stage], merge, obs.pods) if in_shards else read_job(stage, job, obs.pods)
        entry.job_name = name
        entry.phase = out.phase
        entry.attempts = max(entry.attempts, out.attempts)
        entry.start_time = entry.start_time or out.start_time
        entry.pods = _pod_counts(job)
        if out.phase in TERMINAL:
            entry.completion_time = out.completion_time or obs.now
            entry.summary = out.summary
            entry.message = out.message
            entry.reason = out.reason
            if out.phase is not StagePhase.FAILED and obs.ttl_seconds is not None \
                    and not (job.get("spec") or {}).get("ttlSecondsAfterFinished"):
                result.finish_jobs.extend(_stage_job_names(current[stage], job))
        else:
            entry.message = "Job suspended (spec.suspend or a queue such as Kueue)" if out.suspended else out.message
        _stage_events(result, stage, prior, entry, out)
        if out.phase is StagePhase.FAILED and out.job_reason in c.RETRIED_REASONS \
                and out.exit_code not in contract.PERMANENT_EXIT_CODES:
            retryable.add(stage)

    rules.apply_headline(status, obs.run_uri)
    suspend = bool(obs.spec and obs.spec.suspend)
    now = _parse_time(obs.now)
    _enforce_deadline(result, obs, spec, current, now)
    _schedule_retry(result, obs, spec, current, now, retryable)
    busy_names = set(result.delete_jobs) | set(obs.deleting)
    failed = next((e for e in status.stages if e.phase is StagePhase.FAILED), None)
    pending = next_stage(obs.stages, [StageName(e.name) for e in status.stages if e.phase in DONE])
    queued: Optional[str] = None

    if merge is not None and c.child_name(obs.name, StageName.GENERATE) in result.delete_jobs:
        result.delete_jobs.append(merge["metadata"]["name"])  # the shards go (retry, deadline): their merge too
        merge = None
    if failed is None and pending is not None:
        entry = status.stages[list(obs.stages).index(pending)]
        job = current.get(pending)
        if sharded(spec, pending) and merge is not None:
            job = merge  # suspend, resume and queue apply to the Job that runs now
        if suspend:
            if job is not None and not (job.get("spec") or {}).get("suspend") and entry.phase not in TERMINAL:
                result.suspend_jobs.append(job["metadata"]["name"])
        elif sharded(spec, pending) and merge is None and job is not None and read_job(pending, job, ()).phase in DONE:
            if c.merge_job_name(obs.name) not in busy_names:
                result.create_merge = True
        elif job is None:
            due = _parse_time(status.next_retry_time) if status.next_retry_time else None
            if due is not None and now is not None and due > now:
                _requeue(result, (due - now).total_seconds())  # the back-off of _schedule_retry is not over
            elif c.child_name(obs.name, pending) not in busy_names:
                status.next_retry_time = None
                result.create = pending
                entry.job_name = c.child_name(obs.name, pending)
                entry.phase, entry.message, entry.reason = StagePhase.PENDING, None, None
        elif (job.get("spec") or {}).get("suspend") and \
                ((job.get("metadata") or {}).get("annotations") or {}).get(c.ANNOTATION_SUSPENDED_BY):
            result.resume_jobs.append(job["metadata"]["name"])
            entry.message = None
        elif obs.queue and (job.get("spec") or {}).get("suspend"):
            queued = obs.queue  # held by the queue (Kueue unsuspends it on admission), not by us
            entry.message = f"Job waits for admission by queue {obs.queue}"
    if obs.queue:
        _record_admission(status, obs, pending, current, queued, gen)

    launched = bool(result.create) or bool(current) or any(e.phase is not StagePhase.PENDING for e in status.stages)
    rules.settle(status, suspend=suspend, launched=launched, now=obs.now, generation=gen, queued=queued)
    if status.phase is not old.phase:
        kind = "Warning" if status.phase is JobPhase.FAILED else "Normal"
        result.events.append(Event(kind, status.phase.value, status.message or status.phase.value))
    if result.create is not None:
        result.events.append(Event("Normal", "StageJobCreated",
                                   f"created Job {c.child_name(obs.name, result.create)}"))
    if result.create_merge:
        result.events.append(Event("Normal", "MergeJobCreated", f"all shards of stage generate done; created Job "
                                                                f"{c.merge_job_name(obs.name)}"))
    return result


def _stage_job_names(job: Obj, result_job: Obj) -> list[str]:
    """The Jobs a finished stage leaves: its Job, and its merge Job when the stage was sharded."""
    names = [job["metadata"]["name"], result_job["metadata"]["name"]]
    return list(dict.fromkeys(names))


# ------------------------------------------------- admission, deadline, retries


def data_uri_problem(uri: str, local_paths_mounted: bool) -> Optional[str]:
    """Why stage pods cannot read `spec.data.uri`, or None when they can (as far as a name tells).

    A pod has its own filesystem: a relative path resolves against the worker image's
    working directory, never the directory `kubectl apply` ran in, and an absolute or
    file:// path exists in the pod only when the cluster admin mounted it there at the
    same path (OperatorConfig.localPathsMounted). Refused before the first Job, so the
    user reads this instead of a prepare pod's exit 2 minutes later. Other schemes
    (s3://) are left to the stage, which knows how to reach them.
    """
    if "://" in uri and not uri.startswith("file://"):
        return None
    hint = "use an object store URI such as s3://bucket/key (examples/quickstart-s3.yaml)"
    if not (uri.startswith("file://") or uri.startswith("/")):
        return (f"spec.data.uri: a relative path is read in the stage pod's working directory, not where the "
                f"manifest was applied; {hint}")
    if local_paths_mounted:
        return None
    return (f"spec.data.uri: a local path is not readable by stage pods unless the operator setting "
            f"localPathsMounted says one volume holds it at the same path in every pod; {hint}")


def _launched_before(status: JobStatus, jobs: Mapping[StageName, Obj]) -> bool:
    """A stage Job was made once: admission checks of the spec are over by then (they refuse the first Job)."""
    return bool(jobs) or any(e.job_name or e.phase is not StagePhase.PENDING for e in status.stages)


def _parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _requeue(result: Plan, seconds: float) -> None:
    seconds = max(seconds, 0.0)
    result.requeue_after = seconds if result.requeue_after is None else min(result.requeue_after, seconds)


def retry_delay(retries_done: int, base_seconds: float) -> float:
    """Seconds before retry number `retries_done + 1`: base, 2·base, 4·base, ... capped at 10 min (the Job
    controller's own pod back-off, one level up, so a storage outage gets minutes to clear, not a tight loop)."""
    return float(min(base_seconds * 2 ** min(retries_done, 16), c.RETRY_BACKOFF_MAX_SECONDS))


def _enforce_deadline(result: Plan, obs: Observed, spec: Optional[SafeSynthJobSpec], current: dict[StageName, Obj],
                      now: Optional[datetime]) -> None:
    """spec.activeDeadlineSeconds: past it, the current stage fails with DeadlineExceeded and its Job is
    deleted (its pods stop, as the Job controller stops a Job past its own deadline); before it, a wake-up
    is asked for at the deadline, since no event would come then."""
    status = result.status
    start = _parse_time(status.start_time)
    if spec is None or spec.active_deadline_seconds is None or start is None or now is None:
        return
    if any(e.phase is StagePhase.FAILED for e in status.stages) or all(e.phase in DONE for e in status.stages):
        return
    left = spec.active_deadline_seconds - (now - start).total_seconds()
    if left > 0:
        _requeue(result, left)
        return
    entry = next(e for e in status.stages if e.phase not in DONE)
    job = current.pop(StageName(entry.name), None)
    if job is not None:
        result.delete_jobs.append(job["metadata"]["name"])
        entry.job_name = job["metadata"]["name"]
    entry.phase, entry.reason, entry.completion_time = StagePhase.FAILED, c.REASON_DEADLINE, obs.now
    entry.message = (f"the job ran longer than spec.activeDeadlineSeconds ({spec.active_deadline_seconds} s); "
                     f"stage {entry.name} was stopped")
    status.next_retry_time = None
    result.events.append(Event("Warning", c.REASON_DEADLINE, entry.message))


def _schedule_retry(result: Plan, obs: Observed, spec: Optional[SafeSynthJobSpec], current: dict[StageName, Obj],
                    now: Optional[datetime], retryable: set[StageName]) -> None:
    """spec.backoffLimit: a stage that failed retryably (RETRIED_REASONS) starts over after a back-off.

    Its Job is deleted and its entry goes back to Pending with attempts at zero (they
    count the pods of one try); `status.retries` counts the tries and
    `status.nextRetryTime` says when the next Job is created.
    """
    status = result.status
    entry = next((e for e in status.stages if e.phase is StagePhase.FAILED), None)
    if entry is None or spec is None or now is None or StageName(entry.name) not in retryable:
        return
    if status.retries >= spec.backoff_limit:
        return
    start = _parse_time(status.start_time)
    if spec.active_deadline_seconds is not None and start is not None \
            and (now - start).total_seconds() >= spec.active_deadline_seconds:
        return  # no time left for another try
    delay = retry_delay(status.retries, obs.retry_backoff_seconds)
    status.retries += 1
    due = now + timedelta(seconds=delay)
    status.next_retry_time = _format_time(due + timedelta(microseconds=(1_000_000 - due.microsecond) % 1_000_000))
    job = current.pop(StageName(entry.name), None)
    if job is not None:
        result.delete_jobs.append(job["metadata"]["name"])
    elif entry.job_name:
        result.delete_jobs.append(entry.job_name)
    why = job_failure_reason(job) if job is not None else entry.reason
    entry.phase, entry.job_name, entry.completion_time, entry.reason = StagePhase.PENDING, None, None, None
    entry.attempts, entry.pods, entry.summary = 0, None, None
    entry.message = f"retry {status.retries} of {spec.backoff_limit} at {status.next_retry_time} after {why}"
    _requeue(result, delay)
    result.events.append(Event("Warning", "Retrying", f"stage {entry.name} failed ({why}); "
                                                      f"retry {status.retries} of {spec.backoff_limit} in {delay:g} s"))


def _record_admission(status: JobStatus, obs: Observed, pending: Optional[StageName], current: Mapping[StageName, Obj],
                      queued: Optional[str], generation: Optional[int]) -> None:
    """Queued and Admitted, for a job sent through a Kueue queue: is the current stage's Job waiting for
    quota (Queued), or admitted and running (Admitted)? Kueue admits each stage's Job as its own Workload."""
    job = current.get(pending) if pending is not None else None
    admitted = job is not None and not (job.get("spec") or {}).get("suspend") and pending is not None
    stage = pending.value if pending is not None else ""
    if queued:
        q_reason, q_msg = "WaitingForAdmission", f"stage {stage} Job waits in queue {queued}"
    else:
        q_reason, q_msg = ("Admitted", "") if admitted else ("NoJobWaiting", "")
    status.conditions = set_condition(status.conditions, c.CONDITION_QUEUED, bool(queued), q_reason, q_msg,
                                      generation, now=obs.now)
    a_msg = f"stage {stage} Job admitted by queue {obs.queue}" if admitted else ""
    status.conditions = set_condition(status.conditions, c.CONDITION_ADMITTED, admitted,
                                      "Admitted" if admitted else ("Queued" if queued else "NoJobAdmitted"), a_msg,
                                      generation, now=obs.now)


def _record_rejection(status: JobStatus, rejected: Optional[str], generation: Optional[int], now: str) -> None:
    """The SpecChangeRejected condition: True with the reason while a change waits; False once it is gone."""
    present = any(cd.type == c.CONDITION_SPEC_CHANGE_REJECTED for cd in status.conditions)
    if rejected:
        status.conditions = set_condition(status.conditions, c.CONDITION_SPEC_CHANGE_REJECTED, True, "StageRunning",
                                          rejected, generation, now=now)
    elif present:
        status.conditions = set_condition(status.conditions, c.CONDITION_SPEC_CHANGE_REJECTED, False, "Applied",
                                          "", generation, now=now)


def _pod_counts(job: Obj) -> PodCounts:
    st = job.get("status") or {}
    return PodCounts(active=int(st.get("active") or 0), ready=int(st.get("ready") or 0),
                     succeeded=int(st.get("succeeded") or 0), failed=int(st.get("failed") or 0))


def _stage_events(result: Plan, stage: StageName, prior: Optional[StageStatus], entry: StageStatus,
                  out: StageOutcome) -> None:
    before = prior.phase if prior else StagePhase.PENDING
    if entry.phase is before:
        return
    if entry.phase is StagePhase.RUNNING:
        result.events.append(Event("Normal", "StageRunning", f"stage {stage.value} running (attempt {entry.attempts})"))
    elif entry.phase in DONE:
        secs = (entry.summary or {}).get("durationSeconds")
        took = f" in {secs} s" if isinstance(secs, (int, float)) else ""
        verb = "skipped (already done for this spec)" if entry.phase is StagePhase.SKIPPED else f"succeeded{took}"
        result.events.append(Event("Normal", "StageSucceeded", f"stage {stage.value} {verb}"))
    elif entry.phase is StagePhase.FAILED:
        result.events.append(Event("Warning", "StageFailed", f"stage {stage.value} failed: {out.reason}"))


# ------------------------------------------------------------- ownership, deletion


def managed_here(body: Obj) -> bool:
    """Whether this operator runs the object: spec.managedBy unset or naming it. Another value (MultiKueue's
    `kueue.x-k8s.io/multikueue`) hands the object to that controller, which mirrors status from a worker
    cluster; acting on it here too would run every stage twice."""
    managed_by = (body.get("spec") or {}).get("managedBy")
    return managed_by in (None, "", c.CONTROLLER_NAME)


@dataclass(frozen=True)
class CleanupStep:
    """One step of `spec.artifacts.deleteOnRemoval` (`plan_cleanup`)."""

    outcome: str  # "waiting" | "done" | "failed"
    stop_jobs: tuple[str, ...] = ()  # stage Jobs to suspend (the Job controller then ends their pods)
    running_pods: int = 0  # stage pods not yet ended
    create: bool = False  # create the cleanup Job now


def plan_cleanup(stage_jobs: Sequence[Obj], pods: Sequence[Obj], cleanup_job: Optional[Obj]) -> CleanupStep:
    """Stop every stage, wait until none of its pods runs, and only then delete the artifacts.

    A stage pod that still runs when the run prefix is deleted can write its
    artifacts back afterwards, and nothing would ever delete them. Suspending a
    Job is how Kubernetes stops its pods without losing the Job (deleting it would
    hand the pods to the garbage collector, and they would vanish from the API
    while still terminating); a pod counts as ended once its phase is Succeeded
    or Failed, or it is gone.
    """
    if cleanup_job is not None:
        if _condition(cleanup_job, "Complete"):
            return CleanupStep("done")
        if _condition(cleanup_job, "Failed"):
            return CleanupStep("failed")
        return CleanupStep("waiting")
    stop = tuple(j["metadata"]["name"] for j in stage_jobs
                 if not (_condition(j, "Complete") or _condition(j, "Failed")) and not (j.get("spec") or {}).get("suspend"))
    running = sum(1 for p in pods if ((p.get("status") or {}).get("phase") or "Pending") in ("Pending", "Running", "Unknown"))
    if stop or running:
        return CleanupStep("waiting", stop_jobs=stop, running_pods=running)
    return CleanupStep("waiting", create=True)


# ------------------------------------------------------------------ retries


def reset_failed(status: JobStatus, generation: Optional[int], now: str) -> tuple[JobStatus, list[str]]:
    """Resume from the failed stage: its entry goes back to Pending and its Job is to be deleted.

    Finished stages stay finished, so the pipeline continues where it stopped
    (what users of KubeRay and Kubeflow ask for most after a failure). Attempts
    start again from zero: they count the tries of this run of the stage.
    """
    status = status.model_copy(deep=True)
    to_delete = []
    for entry in status.stages:
        if entry.phase is StagePhase.FAILED:
            if entry.job_name:
                to_delete.append(entry.job_name)
            entry.phase, entry.job_name, entry.message, entry.completion_time = StagePhase.PENDING, None, None, None
            entry.reason, entry.pods, entry.attempts = None, None, 0  # a new try counts its own attempts
    status.retries, status.next_retry_time = 0, None  # a manual retry starts a fresh spec.backoffLimit budget
    if to_delete or status.phase is JobPhase.FAILED:
        status.phase, status.completion_time = JobPhase.RUNNING, None
        status.message = "retrying from the failed stage"
        status.conditions = set_failed(status.conditions, False, "Retrying", "", generation, now=now)
        status.conditions = set_condition(
            status.conditions, "Ready", False, "Retrying", status.message, generation, now=now
        )
    return status, to_delete


# ------------------------------------------------------------- status patch


def dump_status(status: JobStatus) -> dict[str, Any]:
    """The one wire shape of `.status` (the CRD schema prunes anything else)."""
    return status.model_dump(by_alias=True, mode="json", exclude_none=True)


def parse_status(raw: Optional[Mapping[str, Any]]) -> JobStatus:
    """`.status` as stored; unreadable content (hand-edited) starts over rather than crash the handler."""
    try:
        return JobStatus.model_validate(dict(raw or {}))
    except ValueError:
        return JobStatus()


def _merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns `old` into `new`: changed keys, nested maps as sub-patches, null removes.

    Hand-written: no installed library creates merge patches (jsonpatch, which kopf brings, writes RFC 6902).
    """
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            sub = _merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif value != before:
            patch[key] = value
    return patch


def status_patch(old_raw: Optional[Mapping[str, Any]], new: JobStatus) -> Optional[dict[str, Any]]:
    """A JSON merge patch from the stored status to `new` (nulls remove stale keys); None if equal."""
    patch = _merge_patch(dict(old_raw or {}), dump_status(new))
    return patch or None
