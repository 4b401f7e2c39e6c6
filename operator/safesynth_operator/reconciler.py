"""The shell around `decisions.plan`: read, plan, act, for one SafeSynthJob at a time.

Every kopf handler (create, resume, spec update, a child Job's event, the
safety-net timer) ends in `Reconciler.reconcile(namespace, name)`, which reads
the object, its ConfigMap, its Jobs (and Pods when a result must be read),
asks `decisions.plan` what should be, and acts idempotently:

1. when the spec changed, write the reset status first (so an interrupted
   restart never leaves results of the old spec attached to the new one);
2. delete stale Jobs (propagationPolicy Background);
3. write the spec ConfigMap, last of the spec-change steps, as its commit mark;
4. create the next stage Job (409 → adopt it if we own it, else fail the stage);
5. suspend/resume a Job, write `.status` (a merge patch, only when it changed);
6. set ttlSecondsAfterFinished on Jobs whose result is now in `.status`.

A lock per object serializes reconciles within this process (kopf already
serializes handlers of one object, but a Job's event runs beside them); it
holds no state: all state is read from the API server each time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from safesynth.errors import SpecError
from safesynth.spec.load import parse_job
from safesynth.spec.models import SafeSynthJobSpec, StageName
from safesynth.spec import status_rules
from safesynth.spec.status import JobPhase, JobStatus, StagePhase, now_iso

from safesynth_operator import constants as c
from safesynth_operator import decisions, manifests, metrics
from safesynth_operator.cluster import (
    AlreadyExists,
    Cluster,
    Rejected,
    configmaps_path,
    cr_path,
    is_owned_by,
    jobs_path,
    pods_path,
)
from safesynth_operator.config import OperatorConfig

log = logging.getLogger("safesynth_operator")
EventSink = Callable[[Mapping[str, Any], decisions.Event], None]


def _no_events(body: Mapping[str, Any], event: decisions.Event) -> None:
    return None


def _log_failure(task: "asyncio.Task[Optional[JobStatus]]") -> None:
    """A wake-up's reconcile runs outside any kopf handler: its error is logged (by type), not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("scheduled reconcile failed: %s", type(task.exception()).__name__)


@dataclass
class Reconciler:
    cluster: Cluster
    config: OperatorConfig
    post_event: EventSink = _no_events
    clock: Callable[[], str] = now_iso
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict, repr=False)
    _wakeups: dict[tuple[str, str], asyncio.TimerHandle] = field(default_factory=dict, repr=False)

    def _lock(self, namespace: str, name: str) -> asyncio.Lock:
        return self._locks.setdefault((namespace, name), asyncio.Lock())

    def forget(self, namespace: str, name: str) -> None:
        """Drop the per-object lock of a deleted SafeSynthJob (keeps memory flat over time)."""
        self._locks.pop((namespace, name), None)
        wakeup = self._wakeups.pop((namespace, name), None)
        if wakeup is not None:
            wakeup.cancel()
        metrics.forget((namespace, name))

    def _wake_up_in(self, namespace: str, name: str, seconds: float) -> None:
        """Reconcile again after `seconds` (a retry's back-off ends, the job's deadline comes): no event
        would arrive then. In memory only; a restarted operator's resume handler and the resync sweep
        (every resync_seconds) reconcile unfinished jobs anyway, so a lost wake-up is late, never missed."""
        key = (namespace, name)
        old = self._wakeups.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._wakeups.pop(key, None)
            task = loop.create_task(self.reconcile(namespace, name))
            task.add_done_callback(_log_failure)

        self._wakeups[key] = loop.call_later(max(seconds, 0.0) + 0.5, fire)

    async def reconcile(self, namespace: str, name: str) -> Optional[JobStatus]:
        """Bring one SafeSynthJob one step closer to done; returns the status written (None: gone)."""
        t0 = time.perf_counter()
        try:
            async with self._lock(namespace, name):
                return await self._reconcile(namespace, name)
        except Exception:
            metrics.RECONCILE_ERRORS.inc()
            raise
        finally:
            metrics.RECONCILE_SECONDS.observe(time.perf_counter() - t0)

    async def retry(self, namespace: str, name: str) -> Optional[JobStatus]:
        """Resume a failed SafeSynthJob at its failed stage (the `retry.safesynth.io/at` annotation)."""
        async with self._lock(namespace, name):
            body = await self.cluster.get(cr_path(namespace, name))
            if body is None:
                return None
            old_raw = body.get("status") or {}
            generation = (body.get("metadata") or {}).get("generation")
            status, jobs = decisions.reset_failed(decisions.parse_status(old_raw), generation, self.clock())
            uid = body["metadata"].get("uid", "")
            for job_name in jobs:
                existing = await self.cluster.get(jobs_path(namespace, job_name))
                if existing is not None and is_owned_by(existing, uid):
                    await self.cluster.delete(jobs_path(namespace, job_name))
            patch = decisions.status_patch(old_raw, status)
            if patch:
                await self.cluster.patch(cr_path(namespace, name, status=True), {"status": patch})
            if jobs:
                self.post_event(body, decisions.Event("Normal", "Retrying", f"retrying stage Job(s) {', '.join(jobs)}"))
            return await self._reconcile(namespace, name)

    async def cleanup(self, body: Mapping[str, Any]) -> str:
        """One step of deleting the run prefix: 'done', 'waiting' or 'failed' (the handler maps these).

        The stage Jobs are suspended and their pods waited for first (decisions.plan_cleanup),
        so no stage writes after the prefix is gone. The cleanup Job reads the spec ConfigMap
        like a stage does, so it is written first when the job never got that far.
        """
        owner = manifests.Owner.from_body(body)
        if not decisions.managed_here(body):
            return "done"  # the controller that ran it (MultiKueue's worker cluster) owns its artifacts
        try:
            spec = parse_job({k: v for k, v in body.items() if k != "status"}).spec
        except SpecError:
            return "done"  # an invalid spec never ran, so it wrote nothing
        cleanup = await self.cluster.get(jobs_path(owner.namespace, c.cleanup_job_name(owner.name)))
        stage_jobs: list[dict[str, Any]] = []
        pods: list[dict[str, Any]] = []
        if cleanup is None:
            stage_jobs = [j for j in await self.cluster.list(jobs_path(owner.namespace), f"{c.LABEL_JOB}={owner.name}")
                          if is_owned_by(j, owner.uid) and c.LABEL_STAGE in ((j.get("metadata") or {}).get("labels") or {})]
            pods = [p for p in await self.cluster.list(pods_path(owner.namespace), f"{c.LABEL_JOB}={owner.name}")
                    if c.LABEL_STAGE in ((p.get("metadata") or {}).get("labels") or {})]
        step = decisions.plan_cleanup(stage_jobs, pods, cleanup)
        for job_name in step.stop_jobs:
            await self.cluster.patch(jobs_path(owner.namespace, job_name),
                                     {"metadata": {"annotations": {c.ANNOTATION_SUSPENDED_BY: "true"}},
                                      "spec": {"suspend": True}})
        if step.stop_jobs:
            self.post_event(body, decisions.Event("Normal", "StoppingStages",
                                                  f"stopping stage Job(s) {', '.join(step.stop_jobs)} before "
                                                  f"the artifacts are deleted"))
        if step.create:
            await self._apply_configmap(owner, spec)
            try:
                await self.cluster.create(jobs_path(owner.namespace), manifests.build_cleanup_job(owner, spec, self.config))
            except AlreadyExists:
                pass
            self.post_event(body, decisions.Event("Normal", "DeletingArtifacts", "cleanup Job created"))
        if step.outcome == "done":
            self.post_event(body, decisions.Event("Normal", "ArtifactsDeleted", "run prefix deleted"))
        return step.outcome

    async def resync_once(self, namespaces: Sequence[str]) -> int:
        """Reconcile every unfinished SafeSynthJob once; returns how many were visited."""
        paths = [cr_path(ns) for ns in namespaces] or [f"/apis/{c.CR_GROUP}/{c.CR_VERSION}/{c.CR_PLURAL}"]
        visited = 0
        for path in paths:
            for body in await self.cluster.list(path, ""):
                if (body.get("status") or {}).get("phase") in (JobPhase.SUCCEEDED.value, JobPhase.FAILED.value):
                    continue
                meta = body.get("metadata") or {}
                try:
                    await self.reconcile(meta.get("namespace") or "default", meta["name"])
                except Exception as err:  # broad on purpose: one bad object must not stop the sweep
                    log.warning("resync of %s/%s failed: %s", meta.get("namespace"), meta.get("name"),
                                type(err).__name__)
                visited += 1
        return visited

    async def resync_forever(self, namespaces: Sequence[str], interval: float) -> None:
        """`resync_once` every `interval` seconds until cancelled (operator shutdown)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.resync_once(namespaces)
            except Exception as err:  # broad on purpose: the API may be briefly away; try next time
                log.warning("resync sweep failed: %s", type(err).__name__)

    # ------------------------------------------------------------------ steps

    async def _reconcile(self, namespace: str, name: str) -> Optional[JobStatus]:
        body = await self.cluster.get(cr_path(namespace, name))
        if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
            return None
        if not decisions.managed_here(body):
            return None  # spec.managedBy names another controller (MultiKueue): its status, its Jobs
        owner = manifests.Owner.from_body(body)
        meta = body["metadata"]
        old_raw = body.get("status") or {}
        old = decisions.parse_status(old_raw)
        spec: Optional[SafeSynthJobSpec] = None
        problems: Optional[list[str]] = None
        try:
            spec = parse_job({k: v for k, v in body.items() if k != "status"}, f"{namespace}/{name}").spec
        except SpecError as err:
            problems = err.problems or [str(err).splitlines()[0]]

        if spec is not None:
            payload = manifests.spec_payload(spec)
            hashed = manifests.spec_hash(payload)
            run = manifests.run_uri(spec, self.config, owner)
        else:
            hashed, run = "", f"{self.config.artifacts_uri.rstrip('/')}/{namespace}/{name}-{owner.uid[:8]}/"

        jobs: dict[StageName, dict[str, Any]] = {}
        merge_job: Optional[dict[str, Any]] = None
        deleting: set[str] = set()
        for job in await self.cluster.list(jobs_path(namespace), f"{c.LABEL_JOB}={name}"):
            if not is_owned_by(job, owner.uid):
                continue
            jmeta = job.get("metadata") or {}
            if jmeta.get("deletionTimestamp"):
                deleting.add(jmeta["name"])
                continue
            if (jmeta.get("labels") or {}).get(c.LABEL_COMPONENT) == c.COMPONENT_MERGE:
                merge_job = job  # a sharded generate stage's merge: labelled stage=generate, read apart
                continue
            try:
                jobs[StageName((jmeta.get("labels") or {}).get(c.LABEL_STAGE))] = job
            except ValueError:
                continue
        cm = await self.cluster.get(configmaps_path(namespace, c.spec_configmap_name(name)))
        cm_hash = None
        applied: Optional[SafeSynthJobSpec] = None
        if cm is not None and is_owned_by(cm, owner.uid):
            cm_hash = ((cm.get("metadata") or {}).get("labels") or {}).get(c.LABEL_SPEC_HASH)
            applied = manifests.parse_payload((cm.get("data") or {}).get(c.SPEC_KEY))
        pods: list[dict[str, Any]] = []
        if decisions.needs_pods(old, jobs, merge_job):
            pods = await self.cluster.list(pods_path(namespace), f"{c.LABEL_JOB}={name}")

        obs = decisions.Observed(
            name=name,
            stages=self.config.stages,
            status=old,
            spec=spec,
            spec_hash=hashed,
            run_uri=run,
            now=self.clock(),
            generation=meta.get("generation"),
            problems=problems,
            configmap_hash=cm_hash,
            applied_spec=applied,
            jobs=jobs,
            deleting=frozenset(deleting),
            pods=pods,
            ttl_seconds=self.config.ttl_seconds_after_finished,
            queue=owner.labels.get(c.KUEUE_QUEUE_LABEL),
            local_paths_mounted=self.config.local_paths_mounted,
            retry_backoff_seconds=self.config.retry_backoff_seconds,
            merge_job=merge_job,
        )
        plan = decisions.plan(obs)
        status = plan.status
        events = list(plan.events)

        if plan.reset:
            patch = decisions.status_patch(old_raw, status)
            if patch and await self.cluster.patch(cr_path(namespace, name, status=True), {"status": patch}) is None:
                return None
            old_raw = decisions.dump_status(status)
        for job_name in plan.delete_jobs:
            await self.cluster.delete(jobs_path(namespace, job_name))
        if plan.apply_configmap and spec is not None:
            conflict = await self._apply_configmap(owner, spec)
            if conflict:
                self._fail(status, obs, status_rules.Failure("NameConflict", conflict), events)
                plan.create = None
        job_spec = obs.applied_spec if plan.use_applied_spec else spec
        if plan.create is not None and job_spec is not None:
            failure = await self._create_job(owner, job_spec, plan.create)
            if failure is not None:
                reason, message = failure
                entry = next(e for e in status.stages if e.name == plan.create.value)
                entry.phase, entry.message, entry.completion_time = StagePhase.FAILED, message, obs.now
                entry.reason = reason
                self._fail(status, obs, None, events)
            else:
                metrics.STAGE_JOBS_CREATED.labels(stage=plan.create.value).inc()
        if plan.create_merge and job_spec is not None:
            failure = await self._create_job(owner, job_spec, StageName.GENERATE,
                                             manifests.build_merge_job(owner, job_spec, self.config))
            if failure is not None:
                entry = next(e for e in status.stages if e.name == StageName.GENERATE.value)
                entry.phase, entry.completion_time, (entry.reason, entry.message) = StagePhase.FAILED, obs.now, failure
                self._fail(status, obs, None, events)
        for job_name in plan.suspend_jobs:
            await self.cluster.patch(
                jobs_path(namespace, job_name),
                {"metadata": {"annotations": {c.ANNOTATION_SUSPENDED_BY: "true"}}, "spec": {"suspend": True}},
            )
        for job_name in plan.resume_jobs:
            await self.cluster.patch(
                jobs_path(namespace, job_name),
                {"metadata": {"annotations": {c.ANNOTATION_SUSPENDED_BY: None}}, "spec": {"suspend": False}},
            )
        patch = decisions.status_patch(old_raw, status)
        if patch and await self.cluster.patch(cr_path(namespace, name, status=True), {"status": patch}) is None:
            return None
        for job_name in plan.finish_jobs:
            await self.cluster.patch(
                jobs_path(namespace, job_name), {"spec": {"ttlSecondsAfterFinished": self.config.ttl_seconds_after_finished}}
            )
        failed_reason = next((cd.reason for cd in status.conditions if cd.type == "Failed" and cd.status == "True"), None)
        metrics.observe((namespace, name), old, status, failed_reason)
        for event in events:
            self.post_event(body, event)
            log.info("%s/%s %s: %s", namespace, name, event.reason, event.message)
        if plan.requeue_after is not None:
            self._wake_up_in(namespace, name, plan.requeue_after)
        return status

    async def _apply_configmap(self, owner: manifests.Owner, spec: SafeSynthJobSpec) -> Optional[str]:
        """Create or update `<job>-spec`; a message when the name belongs to someone else."""
        body = manifests.build_spec_configmap(owner, spec)
        try:
            await self.cluster.create(configmaps_path(owner.namespace), body)
            return None
        except AlreadyExists:
            pass
        path = configmaps_path(owner.namespace, body["metadata"]["name"])
        existing = await self.cluster.get(path)
        if existing is not None and not is_owned_by(existing, owner.uid):
            return f"ConfigMap {body['metadata']['name']} exists and is not owned by this SafeSynthJob; delete or rename it"
        await self.cluster.patch(path, {"metadata": {"labels": body["metadata"]["labels"]}, "data": body["data"]})
        return None

    async def _create_job(
        self, owner: manifests.Owner, spec: SafeSynthJobSpec, stage: StageName,
        body: Optional[dict[str, Any]] = None,
    ) -> Optional[tuple[str, str]]:
        """Create the stage Job (or `body`, the merge Job); adopt ours on 409. Returns (reason, message) when
        it cannot exist."""
        body = body or manifests.build_stage_job(owner, spec, stage, self.config)
        try:
            await self.cluster.create(jobs_path(owner.namespace), body)
            return None
        except Rejected as err:
            return "InvalidJob", f"the API server rejected Job {body['metadata']['name']}: {err.reason}"
        except AlreadyExists:
            pass
        existing = await self.cluster.get(jobs_path(owner.namespace, body["metadata"]["name"]))
        if existing is None or is_owned_by(existing, owner.uid):
            return None  # ours (adopted; the next reconcile reads it) or gone meanwhile (the next one creates it)
        return (
            "NameConflict",
            f"Job {body['metadata']['name']} exists and is not owned by this SafeSynthJob; delete or rename it",
        )

    @staticmethod
    def _fail(status: JobStatus, obs: decisions.Observed, failure: Optional[status_rules.Failure],
              events: list[decisions.Event]) -> None:
        """A failure found while acting (a name conflict, a Job the API server refused): the same status
        rules as any other failure (safesynth.spec.status_rules), so Failed and Stalled move together."""
        status_rules.settle(status, suspend=False, launched=True, now=obs.now, generation=obs.generation,
                            failure=failure)
        events.append(decisions.Event("Warning", failure.reason if failure else "StageFailed",
                                      failure.message if failure else status.message or "stage failed"))
