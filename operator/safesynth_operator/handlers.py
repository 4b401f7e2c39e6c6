"""kopf handlers: each one a few lines that end in `Reconciler.reconcile`.

Run with:  kopf run --standalone --all-namespaces --liveness=http://0.0.0.0:8080/healthz \
               -m safesynth_operator.handlers
(or `python -m safesynth_operator`, which takes namespaces and ports from the
operator settings). Import side effects are kopf's registrations, nothing else
(settings are read at import because kopf fixes timer intervals then).

kopf's own bookkeeping is renamed under safesynth.io: the finalizer
`safesynth.io/finalizer`, progress and last-handled-configuration annotations
`safesynth.io/...`; none of it goes into `.status`, whose schema prunes
unknown fields. Handlers return nothing (kopf would store results in status).
Exceptions raised here reach events: their messages carry names, never data.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import kopf

from safesynth_operator import constants as c
from safesynth_operator import metrics
from safesynth_operator.cluster import KopfCluster
from safesynth_operator.config import OperatorConfig, load_config
from safesynth_operator.decisions import Event
from safesynth_operator.reconciler import Reconciler

CR = (c.CR_GROUP, c.CR_VERSION, c.CR_PLURAL)
CONFIG: OperatorConfig = load_config()
log = logging.getLogger("safesynth_operator")


def _post_event(body: Any, event: Event) -> None:
    kopf.event(dict(body), type=event.type, reason=event.reason, message=event.message)


def _namespace(namespace: Optional[str]) -> str:
    """The object's namespace: kopf's type allows None (cluster-scoped kinds); ours and Jobs always have one."""
    if namespace is None:
        raise kopf.PermanentError("expected a namespaced object")
    return namespace


def configure(settings: kopf.OperatorSettings) -> None:
    """Rename kopf's marks under safesynth.io and keep its chatter out of events."""
    settings.persistence.finalizer = c.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.KOPF_PREFIX, key="last-handled-configuration"
    )
    # "Handler succeeded" events add nothing for users; our transitions are posted explicitly.
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = c.EVENT_COMPONENT  # events read "from safesynth-operator", not kopf
    settings.watching.server_timeout = 300  # seconds; re-list now and then so nothing is missed for long
    settings.watching.client_timeout = 330


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    configure(settings)
    memo.reconciler = Reconciler(KopfCluster(settings, logger), CONFIG, post_event=_post_event)
    metrics.serve(CONFIG.metrics_port)
    # The safety net for lost watch events: one LIST per interval, not a kopf timer per object
    # (timers would put a finalizer on every SafeSynthJob and delay each creation by a round trip).
    memo.resync = asyncio.create_task(memo.reconciler.resync_forever(CONFIG.watch_namespaces, CONFIG.resync_seconds))
    logger.info("safesynth operator: stages %s", ",".join(s.value for s in CONFIG.stages))


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    task = getattr(memo, "resync", None)
    if task is not None:
        task.cancel()


@kopf.on.create(*CR)
async def created(namespace: Optional[str], name: str, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.reconcile(_namespace(namespace), name)


@kopf.on.resume(*CR)
async def resumed(namespace: Optional[str], name: str, memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.reconcile(_namespace(namespace), name)


@kopf.on.update(*CR, field="spec")
async def spec_changed(namespace: Optional[str], name: str, memo: kopf.Memo, **_: Any) -> None:
    """A new spec restarts the stage list (finished stages are skipped by the pods); suspend toggles only."""
    await memo.reconciler.reconcile(_namespace(namespace), name)


@kopf.on.field(*CR, field=("metadata", "annotations", c.ANNOTATION_RETRY))
async def retry_requested(namespace: Optional[str], name: str, new: Any, memo: kopf.Memo, **_: Any) -> None:
    """`kubectl annotate ssj NAME retry.safesynth.io/at=$(date +%s) --overwrite` resumes at the failed stage."""
    if new:
        await memo.reconciler.retry(_namespace(namespace), name)


@kopf.on.event("batch", "v1", "jobs", labels={c.LABEL_JOB: kopf.PRESENT, c.LABEL_MANAGED_BY: c.MANAGED_BY},
               when=lambda type, **_: type is not None)
async def stage_job_changed(event: kopf.RawEvent, body: kopf.Body, namespace: Optional[str], memo: kopf.Memo,
                            **_: Any) -> None:
    """A stage Job moved (started, finished, deleted): reconcile its SafeSynthJob.

    The initial listing (type None) is skipped: resume handlers reconcile every
    SafeSynthJob at start anyway.
    """
    if not hasattr(memo, "reconciler"):
        return
    owners = [o for o in body.metadata.get("ownerReferences", []) if o.get("kind") == c.CR_KIND]
    if owners:
        await memo.reconciler.reconcile(_namespace(namespace), owners[0]["name"])


@kopf.on.delete(*CR, when=lambda spec, **_: bool((spec.get("artifacts") or {}).get("deleteOnRemoval")))
async def delete_artifacts(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """`spec.artifacts.deleteOnRemoval`: a cleanup Job removes the run prefix before the finalizer goes."""
    outcome = await memo.reconciler.cleanup(dict(body))
    if outcome == "waiting":
        raise kopf.TemporaryError("waiting for the stage pods to end, then the cleanup Job",
                                  delay=c.CLEANUP_POLL_SECONDS)
    if outcome == "failed":
        # A permanent error releases the finalizer: deletion must not hang on storage trouble.
        raise kopf.PermanentError("cleanup Job failed; the run prefix may remain (see its pod logs)")


@kopf.on.event(*CR, when=lambda type, **_: type == "DELETED")
async def forget_deleted(namespace: Optional[str], name: str, memo: kopf.Memo, **_: Any) -> None:
    """Drop the per-object lock and metric entry of a deleted SafeSynthJob."""
    if hasattr(memo, "reconciler"):
        memo.reconciler.forget(_namespace(namespace), name)


@kopf.on.probe(id="reconciling")
def probe(memo: kopf.Memo, **_: Any) -> int:
    """/healthz reports how many SafeSynthJobs this process has seen."""
    return len(getattr(memo.reconciler, "_locks", {})) if hasattr(memo, "reconciler") else 0
