"""A test "kubelet + Job controller": turns batch/v1 Jobs in the emulated server into finished Pods.

There is no scheduler, kubelet or kube-controller-manager behind the emulated
API server, so nothing would ever happen to a Job an operator creates. This
module plays their part, deterministically and in-process (it uses the
`ObjectStore` directly, so its own writes do not show up in the server's
request log or the operator's RBAC comparison):

- for each Job created after `start()` (not suspended) it creates a Pod the way
  the Job controller does (`generateName: <job>-`, the template's labels
  including `job-name`/`controller-uid`, a controlling ownerReference), marks
  it Running, runs it, and records the outcome;
- **fast variant** (`outcome=` given): a function `(job, attempt) ->
  PodResult | (exit_code, message)` decides the result, nothing is executed;
- **subprocess variant** (default): the first container's `command + args`
  run as a local process (`$(VAR)` expanded), with env resolved from
  `value` and `valueFrom.secretKeyRef/configMapKeyRef/fieldRef` (labels and
  annotations only) (Secrets and ConfigMaps read from the emulated server; a
  missing one or a missing key leaves the pod Pending with
  `CreateContainerConfigError`, as on a node; `optional` is not read).
  ConfigMap and Secret volumes (every key, no `items`) are written under
  `<root>/<ns>/<pod>/volumes/` and `emptyDir` gets an empty folder there;
  every occurrence of a mount path in the command, args and env values is
  rewritten to that local folder
  (`/etc/safesynth/spec.json` -> `<root>/.../volumes/spec/spec.json`),
  and the container's `terminationMessagePath` likewise to a local file, read
  back after exit (4096 bytes max; `FallbackToLogsOnError` uses the log
  tail). stdout+stderr become the pod log (served at pods/log);
- then it writes Pod status (phase, `containerStatuses[0].state.terminated`
  exitCode/reason/message) and Job status as the Job controller of 1.33
  does: `Complete` + `SuccessCriteriaMet`, or a new Pod per retry until
  failures exceed `backoffLimit` (`FailureTarget` + `Failed`,
  BackoffLimitExceeded), `podFailurePolicy` rules on exit codes
  (FailJob -> reason PodFailurePolicy at once, Ignore -> not counted, Count),
  `activeDeadlineSeconds` (DeadlineExceeded), with `active`, `ready`,
  `failed`, `succeeded`, `startTime`, `completionTime`;
- suspension: a Job created suspended (as Kueue's are) gets `Suspended=True`
  (JobSuspended) and no pod until `spec.suspend` is false (then
  `Suspended=False`, JobResumed); a Job suspended while its pod runs has that
  pod stopped — the process killed (exit 137), or, in the fast variant,
  `kubelet.halted(job)` turns True and the pod ends when the outcome function
  returns — then the pod is deleted, the Job shows `active` 0 and
  `Suspended=True`, and a resume starts a new pod (not a failed attempt). A
  deleted Job's running process is killed likewise.

- Indexed Jobs (`_run_indexed`): one pod per completion index, `parallelism` at once, each with
  JOB_COMPLETION_INDEX; `completedIndexes`; failures of all indexes against `backoffLimit`.

Not emulated: retry back-off delays (retries are immediate), parallelism/
completions > 1 outside Indexed Jobs, `backoffLimitPerIndex`, pod-condition rules (DisruptionTarget), the
`batch.kubernetes.io/job-tracking` pod finalizer, resources and node
selection (every pod "runs" on node `kubeapi-emulation`), init and sidecar
containers (only the first container runs), `envFrom`, `workingDir`,
`hostPath` volumes, an image's ENTRYPOINT (a container needs `command`),
grace periods (a stopped pod's process is killed at once).
"""

from __future__ import annotations

import base64
import concurrent.futures
import inspect
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

from tests.kubeapi import errors
from tests.kubeapi.store import ObjectStore, WatchEvent, now_rfc3339

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NODE_NAME = "kubeapi-emulation"
#: kubelet's cap on a termination message (bytes), and the log tail used by FallbackToLogsOnError.
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
INDEX_KEY = "batch.kubernetes.io/job-completion-index"  # label and annotation of an Indexed Job's pod
INDEX_ENV = "JOB_COMPLETION_INDEX"


@dataclass(frozen=True)
class PodResult:
    """How a pod ended: container exit code, termination message, and its log."""

    exit_code: int
    message: str = ""
    logs: str = ""


OutcomeFn = Callable[[Obj, int], Union[PodResult, tuple[int, str]]]


class _Stuck(Exception):
    """The container cannot start (missing Secret/ConfigMap): the pod stays Pending, the Job active."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Kubelet:
    """Runs Jobs of an `ObjectStore`; `start()` and `stop()` it (the `kube_api` fixture does both)."""

    def __init__(self, store: ObjectStore, root: Path, *, outcome: OutcomeFn | None = None,
                 workdir: Path | None = None, extra_env: dict[str, str] | None = None,
                 pod_timeout: float = 120.0, max_parallel: int = 2) -> None:
        """
        root: folder for materialized volumes and termination-message files.
        outcome: the fast variant's decision function; None runs containers as subprocesses.
        workdir: the cwd of container processes (default: current directory).
        extra_env: added to every container's environment (e.g. PYTHONPATH); pod env wins over it.
        pod_timeout: seconds before a process is killed when the Job has no activeDeadlineSeconds.
        """
        self.store = store
        self.root = root
        self.outcome = outcome
        self.workdir = workdir or Path.cwd()
        self.extra_env = dict(extra_env or {})
        self.pod_timeout = pod_timeout
        self._jobs_rt = store.type("batch", "v1", "jobs")
        self._pods_rt = store.type("", "v1", "pods")
        self._events: queue.Queue[WatchEvent | None] = queue.Queue()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_parallel,
                                                           thread_name_prefix="kubelet-pod")
        self._started: set[str] = set()  # job uids
        self._procs: dict[str, subprocess.Popen[bytes]] = {}  # job uid (+ "/<index>") -> running process
        self._halts: dict[str, threading.Event] = {}  # job uid -> set when its running pod must stop
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.errors: list[BaseException] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Kubelet:
        # From "now" on: Jobs that exist already are not run (the fixture starts the kubelet before any test writes).
        _, self._unsubscribe = self.store.watch(self._jobs_rt, None, self._events.put)
        self._thread = threading.Thread(target=self._loop, name="kubelet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._events.put(None)
        with self._lock:
            for proc in self._procs.values():
                _kill(proc)
            for halt in self._halts.values():
                halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wait_for_job(self, namespace: str, name: str, timeout: float = 20.0) -> Obj:
        """Block until the Job has a Complete or Failed condition; returns it (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                job = self.store.get(self._jobs_rt, namespace, name)
            except errors.ApiError:
                job = None
            if job and finished(job):
                return job
            if self.errors:
                raise self.errors[0]
            time.sleep(0.02)
        raise TimeoutError(f"job {namespace}/{name} did not finish in {timeout}s")

    # -- dispatch ----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            event = self._events.get()
            if event is None:
                return
            job, uid = event.obj, event.obj["metadata"]["uid"]
            with self._lock:
                started = uid in self._started
            if started:
                if event.type == "DELETED" or job["spec"].get("suspend"):
                    self._halt(uid)  # the Job controller (suspend) or the garbage collector (delete) ends the pod
                continue
            if event.type == "DELETED" or finished(job):
                continue
            if job["spec"].get("suspend"):
                self._mark_suspended(job)
                continue
            self._submit(job, uid)

    def _submit(self, job: Obj, uid: str) -> None:
        with self._lock:
            if uid in self._started:
                return
            self._started.add(uid)
            self._halts[uid] = threading.Event()
        self._pool.submit(self._guarded, job["metadata"]["namespace"], job["metadata"]["name"], uid)

    def halted(self, job: Obj) -> bool:
        """For fast-variant outcome functions: True once the Job's pod is being stopped (the Job was suspended
        or deleted), as SIGTERM tells a real container. The outcome function should then return soon: the pod
        counts as running until it does."""
        event = self._halts.get(job["metadata"]["uid"])
        return event is not None and event.is_set()

    def _halt(self, uid: str) -> None:
        with self._lock:
            event = self._halts.get(uid)
            procs = [p for key, p in self._procs.items() if key == uid or key.startswith(f"{uid}/")]
        if event is not None:
            event.set()
        for proc in procs:
            _kill(proc)

    def _mark_suspended(self, job: Obj) -> None:
        """A Job created (or left) suspended, e.g. by Kueue, gets the Job controller's Suspended condition."""
        conditions = (job.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions):
            return
        meta = job["metadata"]
        try:
            self._job_status(meta["namespace"], meta["name"], {"conditions": [
                _condition("Suspended", "JobSuspended", "Job suspended", now_rfc3339())]})
        except errors.ApiError:
            pass  # deleted meanwhile

    def _guarded(self, namespace: str, name: str, uid: str) -> None:
        try:
            self._run_job(namespace, name, uid)
        except errors.ApiError as exc:
            if exc.code != 404:  # the Job (or a pod) was deleted under us: nothing left to do
                self.errors.append(exc)
                log.exception("kubelet: job %s/%s", namespace, name)
        except BaseException as exc:  # broad on purpose: surfaced through wait_for_job and the fixture
            self.errors.append(exc)
            log.exception("kubelet: job %s/%s", namespace, name)

    # -- the Job controller ------------------------------------------------------------
    def _job(self, namespace: str, name: str, uid: str) -> Obj | None:
        try:
            job = self.store.get(self._jobs_rt, namespace, name)
        except errors.ApiError:
            return None
        return job if job["metadata"]["uid"] == uid else None

    def _job_status(self, namespace: str, name: str, status: Obj) -> None:
        self.store.patch(self._jobs_rt, namespace, name, {"status": status}, "application/merge-patch+json",
                         subresource="status")

    def _pod_status(self, namespace: str, name: str, status: Obj) -> None:
        self.store.patch(self._pods_rt, namespace, name, {"status": status}, "application/merge-patch+json",
                         subresource="status")

    def _run_job(self, namespace: str, name: str, uid: str) -> None:
        job = self._job(namespace, name, uid)
        if job is None:
            return
        if job["spec"].get("completionMode") == "Indexed":
            self._run_indexed(job)
            return
        spec = job["spec"]
        start_time = now_rfc3339()
        started = time.monotonic()
        deadline = spec.get("activeDeadlineSeconds")
        backoff_limit = int(spec.get("backoffLimit", 6))
        failed = 0
        attempt = 0
        first: Obj = {"startTime": start_time, "active": 1, "ready": 0, "terminating": 0,
                      "uncountedTerminatedPods": {}}
        if any(c.get("type") == "Suspended" for c in (job.get("status") or {}).get("conditions") or []):
            first["conditions"] = [{**_condition("Suspended", "JobResumed", "Job resumed", start_time),
                                    "status": "False"}]
        self._job_status(namespace, name, first)
        while not self._stop.is_set():
            job = self._job(namespace, name, uid)
            if job is None:
                return
            pod = self._create_pod(job)
            pod_name = pod["metadata"]["name"]
            self._job_status(namespace, name, {"active": 1, "ready": 0})
            timeout = self.pod_timeout
            if deadline is not None:
                timeout = max(0.0, float(deadline) - (time.monotonic() - started))
            try:
                self._mark_running(pod)
                self._job_status(namespace, name, {"ready": 1})
                result, deadline_hit = self._execute(job, pod, attempt, timeout)
            except _Stuck as stuck:
                self._pod_status(namespace, pod_name, {"phase": "Pending", "containerStatuses": [
                    self._container_status(pod, {"waiting": {"reason": stuck.reason, "message": stuck.message}})]})
                self._job_status(namespace, name, {"ready": 0})
                return
            if self._job(namespace, name, uid) is None:
                return
            if self._halts[uid].is_set():
                self._suspended(namespace, name, uid, pod)
                return
            self._mark_terminated(pod, result)
            if deadline_hit:
                failed += 1
                self._fail(namespace, name, failed, "DeadlineExceeded", "Job was active longer than specified "
                                                                         "deadline")
                return
            if result.exit_code == 0:
                message = "Reached expected number of succeeded pods"
                now = now_rfc3339()
                self._job_status(namespace, name, {
                    "active": None, "ready": 0, "succeeded": 1, "completionTime": now,
                    "conditions": [_condition("SuccessCriteriaMet", "CompletionsReached", message, now),
                                   _condition("Complete", "CompletionsReached", message, now)]})
                return
            action, index = _pod_failure_action(spec.get("podFailurePolicy"), pod, result.exit_code)
            if action == "FailJob":
                failed += 1
                container = (pod["spec"].get("containers") or [{}])[0].get("name", "")
                self._fail(namespace, name, failed, "PodFailurePolicy",
                           f"Container {container} for pod {namespace}/{pod_name} failed with exit code "
                           f"{result.exit_code} matching FailJob rule at index {index}")
                return
            if action != "Ignore":
                failed += 1
            if failed > backoff_limit:
                self._fail(namespace, name, failed, "BackoffLimitExceeded", "Job has reached the specified backoff "
                                                                            "limit")
                return
            self._job_status(namespace, name, {"active": None, "ready": 0, "failed": failed or None})
            attempt += 1

    def _run_indexed(self, job: Obj) -> None:
        """An Indexed Job (completionMode Indexed): `completions` indexes, up to `parallelism` pods at once, one
        pod per index and try. An index that succeeds is recorded in `completedIndexes` (and `succeeded`); a
        failed pod is retried for its index; failures of all indexes together count against `backoffLimit`
        (no `backoffLimitPerIndex`); a FailJob rule, the deadline or the backoff limit fail the Job and stop
        the other indexes' pods. Suspended, the running pods stop and are deleted; resumed, only indexes not
        yet completed run again."""
        meta, spec = job["metadata"], job["spec"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        completions = int(spec.get("completions") or 1)
        parallelism = max(1, min(int(spec.get("parallelism") or 1), completions))
        status = job.get("status") or {}
        done = set(_parse_indexes(status.get("completedIndexes") or ""))
        backoff_limit = int(spec.get("backoffLimit", 6))
        deadline = spec.get("activeDeadlineSeconds")
        started = time.monotonic()
        lock = threading.Lock()
        state: Obj = {"failed": int(status.get("failed") or 0), "active": 0, "end": None, "halted": False}
        ending = threading.Event()  # the Job failed: other indexes stop
        first: Obj = {"startTime": status.get("startTime") or now_rfc3339(), "terminating": 0,
                      "uncountedTerminatedPods": {}}
        if any(c.get("type") == "Suspended" for c in status.get("conditions") or []):
            first["conditions"] = [{**_condition("Suspended", "JobResumed", "Job resumed", now_rfc3339()),
                                    "status": "False"}]
        self._job_status(namespace, name, first)

        def end(reason: str, message: str) -> None:
            if state["end"] is None:
                state["end"] = (reason, message)
            ending.set()
            with self._lock:
                procs = [p for key, p in self._procs.items() if key.startswith(f"{uid}/")]
            for proc in procs:
                _kill(proc)

        def run_index(index: int) -> None:
            attempt = 0
            while not (self._stop.is_set() or ending.is_set()):
                current = self._job(namespace, name, uid)
                if current is None or self._halts[uid].is_set():
                    return
                pod = self._create_pod(current, index)
                with lock:
                    state["active"] += 1
                    self._job_status(namespace, name, {"active": state["active"], "ready": state["active"]})
                self._mark_running(pod)
                timeout = self.pod_timeout
                if deadline is not None:
                    timeout = max(0.0, float(deadline) - (time.monotonic() - started))
                result, deadline_hit = self._execute(current, pod, attempt, timeout, index)
                with lock:
                    state["active"] -= 1
                    if self._job(namespace, name, uid) is None:
                        return
                    if self._halts[uid].is_set():
                        state["halted"] = True
                        self._mark_terminated(pod, PodResult(137, ""))
                        try:
                            self.store.delete(self._pods_rt, namespace, pod["metadata"]["name"])
                        except errors.ApiError:
                            pass
                        return
                    if ending.is_set():
                        self._mark_terminated(pod, PodResult(137, ""))
                        return
                    self._mark_terminated(pod, result)
                    if deadline_hit:
                        state["failed"] += 1
                        end("DeadlineExceeded", "Job was active longer than specified deadline")
                        return
                    if result.exit_code == 0:
                        done.add(index)
                        self._job_status(namespace, name, {"active": state["active"] or None,
                                                           "ready": state["active"], "succeeded": len(done),
                                                           "completedIndexes": _format_indexes(done)})
                        return
                    action, rule = _pod_failure_action(spec.get("podFailurePolicy"), pod, result.exit_code)
                    if action != "Ignore":
                        state["failed"] += 1
                    if action == "FailJob":
                        container = (pod["spec"].get("containers") or [{}])[0].get("name", "")
                        end("PodFailurePolicy", f"Container {container} for pod {namespace}/{pod['metadata']['name']}"
                                                f" failed with exit code {result.exit_code} matching FailJob rule "
                                                f"at index {rule}")
                        return
                    if state["failed"] > backoff_limit:
                        end("BackoffLimitExceeded", "Job has reached the specified backoff limit")
                        return
                    self._job_status(namespace, name, {"failed": state["failed"]})
                attempt += 1

        todo = [i for i in range(completions) if i not in done]
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="kubelet-index") as pool:
            for future in [pool.submit(run_index, i) for i in todo]:
                future.result()
        if self._job(namespace, name, uid) is None:
            return
        if state["end"] is not None:
            self._fail(namespace, name, state["failed"], *state["end"])
        elif len(done) == completions:
            message, now = "Reached expected number of succeeded pods", now_rfc3339()
            self._job_status(namespace, name, {
                "active": None, "ready": 0, "succeeded": completions, "completedIndexes": _format_indexes(done),
                "completionTime": now,
                "conditions": [_condition("SuccessCriteriaMet", "CompletionsReached", message, now),
                               _condition("Complete", "CompletionsReached", message, now)]})
        elif state["halted"] or self._halts[uid].is_set():
            self._job_status(namespace, name, {"active": None, "ready": 0, "conditions": [
                _condition("Suspended", "JobSuspended", "Job suspended", now_rfc3339())]})
            with self._lock:
                self._started.discard(uid)
                self._halts.pop(uid, None)
            resumed = self._job(namespace, name, uid)
            if resumed is not None and not resumed["spec"].get("suspend"):
                self._submit(resumed, uid)

    def _suspended(self, namespace: str, name: str, uid: str, pod: Obj) -> None:
        """The Job was suspended while its pod ran: the pod ends (SIGKILL, exit 137) and is deleted, the Job
        shows active 0 and Suspended; resumed, it starts a new pod (suspension is not a failed attempt)."""
        self._mark_terminated(pod, PodResult(137, ""))
        try:
            self.store.delete(self._pods_rt, namespace, pod["metadata"]["name"])
        except errors.ApiError:
            pass
        self._job_status(namespace, name, {"active": None, "ready": 0, "conditions": [
            _condition("Suspended", "JobSuspended", "Job suspended", now_rfc3339())]})
        with self._lock:
            self._started.discard(uid)
            self._halts.pop(uid, None)
        job = self._job(namespace, name, uid)  # resumed while the pod was stopping: the event is already past
        if job is not None and not job["spec"].get("suspend"):
            self._submit(job, uid)

    def _fail(self, namespace: str, name: str, failed: int, reason: str, message: str) -> None:
        now = now_rfc3339()
        self._job_status(namespace, name, {
            "active": None, "ready": 0, "failed": failed,
            "conditions": [_condition("FailureTarget", reason, message, now),
                           _condition("Failed", reason, message, now)]})

    # -- pods --------------------------------------------------------------------------
    def _create_pod(self, job: Obj, index: int | None = None) -> Obj:
        """A pod of the Job; for an Indexed Job's `index`, named, labelled and annotated with its completion
        index, with JOB_COMPLETION_INDEX in every container's env (from that annotation), as the Job
        controller does."""
        template = job["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        meta = job["metadata"]
        body = {
            "metadata": {
                "generateName": f"{meta['name']}-" if index is None else f"{meta['name']}-{index}-",
                "namespace": meta["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"],
                                     "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": NODE_NAME},
        }
        if index is not None:
            body["metadata"]["labels"][INDEX_KEY] = body["metadata"]["annotations"][INDEX_KEY] = str(index)
            body["spec"]["hostname"] = f"{meta['name']}-{index}"
            ref = {"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}}
            body["spec"]["containers"] = [{**c, "env": [ref, *(c.get("env") or [])]}
                                          for c in body["spec"].get("containers") or []]
        return self.store.create(self._pods_rt, meta["namespace"], body).obj

    def _container_status(self, pod: Obj, state: Obj, ready: bool = False) -> Obj:
        container = (pod["spec"].get("containers") or [{}])[0]
        return {"name": container.get("name", ""), "image": container.get("image", ""), "imageID": "",
                "containerID": f"emulated://{pod['metadata']['uid']}", "ready": ready, "restartCount": 0,
                "started": ready, "state": state}

    def _mark_running(self, pod: Obj) -> None:
        now = now_rfc3339()
        self._pod_status(pod["metadata"]["namespace"], pod["metadata"]["name"], {
            "phase": "Running", "startTime": now, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
            "conditions": [_condition("PodScheduled", None, None, now), _condition("Initialized", None, None, now),
                           _condition("ContainersReady", None, None, now), _condition("Ready", None, None, now)],
            "containerStatuses": [self._container_status(pod, {"running": {"startedAt": now}}, ready=True)],
        })

    def _mark_terminated(self, pod: Obj, result: PodResult) -> None:
        now = now_rfc3339()
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        terminated: Obj = {"exitCode": result.exit_code, "reason": "Completed" if result.exit_code == 0 else "Error",
                           "startedAt": now, "finishedAt": now, "containerID": f"emulated://{pod['metadata']['uid']}"}
        if result.message:
            terminated["message"] = result.message
        not_ready = {"status": "False", "reason": "PodCompleted" if result.exit_code == 0 else "PodFailed"}
        self.store.pod_logs[(ns, name)] = result.logs
        self._pod_status(ns, name, {
            "phase": "Succeeded" if result.exit_code == 0 else "Failed",
            "conditions": [_condition("PodScheduled", None, None, now), _condition("Initialized", None, None, now),
                           {**_condition("ContainersReady", None, None, now), **not_ready},
                           {**_condition("Ready", None, None, now), **not_ready}],
            "containerStatuses": [self._container_status(pod, {"terminated": terminated})],
        })

    # -- running a container -----------------------------------------------------------
    def _execute(self, job: Obj, pod: Obj, attempt: int, timeout: float,
                 index: int | None = None) -> tuple[PodResult, bool]:
        """(result, deadline_hit). An outcome function that takes three arguments gets an Indexed Job's pod
        index as the third (None for other Jobs)."""
        if self.outcome is not None:
            takes_index = len(inspect.signature(self.outcome).parameters) >= 3
            got = self.outcome(job, attempt, index) if takes_index else self.outcome(job, attempt)  # type: ignore[call-arg]
            return (got if isinstance(got, PodResult) else PodResult(int(got[0]), str(got[1]))), False
        return self._subprocess(job, pod, timeout, index)

    def _subprocess(self, job: Obj, pod: Obj, timeout: float, index: int | None = None) -> tuple[PodResult, bool]:
        ns, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        spec = pod["spec"]
        container = (spec.get("containers") or [{}])[0]
        pod_root = self.root / ns / pod_name
        (pod_root / "home").mkdir(parents=True, exist_ok=True)
        mounts = self._materialize_volumes(pod, container, pod_root)
        message_path = container.get("terminationMessagePath", "/dev/termination-log")
        message_file = pod_root / "termination-log"
        message_file.write_text("")
        mounts[message_path] = str(message_file)
        env = self._resolve_env(pod, container)
        rewrite = _rewriter(mounts)
        env = {k: rewrite(v) for k, v in env.items()}
        argv = [rewrite(_expand(a, env)) for a in list(container["command"]) + list(container.get("args") or [])]
        # The running interpreter's bin folder first, so `python`/`safesynth` resolve to this virtualenv
        # even when pytest was started as .venv/bin/python without activating it.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        full_env = {"PATH": path, "HOME": str(pod_root / "home"),
                    "HOSTNAME": pod_name, **self.extra_env, **env}
        proc = subprocess.Popen(argv, cwd=self.workdir, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        uid = job["metadata"]["uid"] if index is None else f"{job['metadata']['uid']}/{index}"
        with self._lock:
            self._procs[uid] = proc
        deadline_hit = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, _ = proc.communicate()
            deadline_hit = True
        finally:
            with self._lock:
                self._procs.pop(uid, None)
        logs = out.decode(errors="replace")
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode  # killed by signal N -> 128+N
        message = message_file.read_bytes()[:MAX_MESSAGE_BYTES].decode(errors="replace")
        if not message.strip() and code != 0 and container.get("terminationMessagePolicy") == \
                "FallbackToLogsOnError":
            tail = "".join(logs.splitlines(keepends=True)[-FALLBACK_LOG_LINES:])
            message = tail.encode()[-FALLBACK_LOG_BYTES:].decode(errors="replace")
        return PodResult(code, message, logs), deadline_hit

    def _lookup(self, plural: str, namespace: str, name: str) -> Obj | None:
        try:
            return self.store.get(self.store.type("", "v1", plural), namespace, name)
        except errors.ApiError:
            return None

    def _source_data(self, kind: str, namespace: str, name: str) -> dict[str, str]:
        """A ConfigMap's or Secret's data as text (Secrets decoded); raises _Stuck when it is missing."""
        obj = self._lookup("configmaps" if kind == "configMap" else "secrets", namespace, name)
        if obj is None:
            raise _Stuck("CreateContainerConfigError", f'{"configmap" if kind == "configMap" else "secret"} '
                                                       f'"{name}" not found')
        if kind == "configMap":
            return dict(obj.get("data") or {})  # binaryData is not read
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}

    def _resolve_env(self, pod: Obj, container: Obj) -> dict[str, str]:
        ns = pod["metadata"]["namespace"]
        env: dict[str, str] = {}
        for var in container.get("env") or []:
            name = var["name"]
            if "value" in var:
                env[name] = _expand(str(var["value"]), env)
                continue
            source = var.get("valueFrom") or {}
            for kind, key in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                ref = source.get(key)
                if ref:
                    data = self._source_data(kind, ns, ref["name"])
                    if ref["key"] not in data:
                        raise _Stuck("CreateContainerConfigError", f'couldn\'t find key {ref["key"]} in '
                                                                   f'{"ConfigMap" if kind == "configMap" else "Secret"}'
                                                                   f' {ns}/{ref["name"]}')
                    env[name] = data[ref["key"]]
            if "fieldRef" in source:
                env[name] = _field_ref(pod, source["fieldRef"]["fieldPath"])
        return env

    def _materialize_volumes(self, pod: Obj, container: Obj, pod_root: Path) -> dict[str, str]:
        """Write ConfigMap/Secret/emptyDir volumes under pod_root; returns mountPath -> local path."""
        ns = pod["metadata"]["namespace"]
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        mounts: dict[str, str] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"], {})
            folder = pod_root / "volumes" / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            for kind, field, name_key in (("configMap", "configMap", "name"), ("secret", "secret", "secretName")):
                source = volume.get(field)
                if source is None:
                    continue
                for key, value in self._source_data(kind, ns, source.get(name_key, "")).items():
                    (folder / key).write_text(value)
            local = folder / mount["subPath"] if mount.get("subPath") else folder
            mounts[mount["mountPath"].rstrip("/") or "/"] = str(local)
        return mounts


def _parse_indexes(text: str) -> list[int]:
    """`completedIndexes` ("0-2,5") as a list of ints."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def _format_indexes(indexes: set[int]) -> str:
    """Sorted indexes as the Job controller writes them: runs of consecutive ones as "a-b", joined by commas."""
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def finished(job: Obj) -> bool:
    """A Job with a Complete or Failed condition set to True."""
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def _condition(kind: str, reason: str | None, message: str | None, now: str) -> Obj:
    cond: Obj = {"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        cond["lastProbeTime"] = None  # pods report it as null; Jobs set it
    return cond


def _pod_failure_action(policy: Obj | None, pod: Obj, exit_code: int) -> tuple[str, int]:
    """The first podFailurePolicy rule matching the container's exit code: (action, rule index)."""
    container = (pod["spec"].get("containers") or [{}])[0].get("name")
    for index, rule in enumerate((policy or {}).get("rules") or []):
        codes = rule.get("onExitCodes")
        if not codes or (codes.get("containerName") not in (None, container)):
            continue
        values = codes.get("values") or []
        hit = exit_code in values if codes.get("operator") == "In" else (exit_code != 0 and exit_code not in values)
        if hit:
            return rule.get("action", "Count"), index
    return "Count", -1


def _field_ref(pod: Obj, path: str) -> str:
    """`metadata.labels['k']` or `metadata.annotations['k']`; other field paths read as empty."""
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    return str((pod["metadata"].get(m.group(1)) or {}).get(m.group(2), "")) if m else ""


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known variables are substituted, others stay (no `$$` escapes)."""
    return re.sub(r"\$\(([A-Za-z_][\w.-]*)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def _rewriter(mounts: dict[str, str]) -> Callable[[str], str]:
    """Replace container paths (mount points, the termination-message path) with their local copies.

    One pass over the text with every mount point in a single alternation (longest first), so a
    path that was already mapped is never mapped again (e.g. a local root under /tmp while the pod
    also mounts /tmp).
    """
    ordered = sorted(mounts, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w.\-/])(" + "|".join(re.escape(p) for p in ordered) + r")(?=/|$|[\s\"'=:,;])"
    )

    def rewrite(text: str) -> str:
        return pattern.sub(lambda m: mounts[m.group(1)], text)

    return rewrite


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill a container process and its children (it runs in its own session, so its group is its pid)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
