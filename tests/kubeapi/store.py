"""Object storage with kube-apiserver's write semantics: the heart of the emulation.

`ObjectStore` holds every object by (group, plural) -> (namespace, name) and
applies, on each write, what the real server applies:

- metadata it owns: `uid`, `creationTimestamp`, `resourceVersion` (one
  global counter, as etcd's revision), `generation` (bumped when anything
  but metadata and status changes), `generateName` suffixes;
- optimistic concurrency: a write carrying a stale `metadata.resourceVersion`
  is a 409 Conflict; a write that changes nothing is a no-op (no new
  resourceVersion, no watch event), which keeps kopf and controllers from
  looping;
- the status subresource: writes to `/status` change only `.status`; writes
  to the main resource keep the stored `.status`; creates drop it;
- unknown fields: pruned with a `Warning` header (the default, `Warn`),
  rejected with a 400 under `fieldValidation=Strict` (kubectl's default);
- custom resources: defaults, pruning, OpenAPI and CEL validation from the
  CRD (`schema.StructuralSchema`); built-ins: `builtins.py`;
- deletion: finalizers hold an object with `deletionTimestamp` until the
  last one is removed; owner references cascade (Background and Foreground
  both delete dependents synchronously; Orphan strips the reference);
  batch/v1 Jobs orphan their Pods when no propagationPolicy is given, as the
  real server does for backwards compatibility (with its warning);
- CRDs: creating one registers its resource for discovery, CRUD and watch
  and marks it Established; deleting one deletes its objects;
- watch: every change is an event with its resourceVersion, kept in a
  bounded history so that a watch can resume from a resourceVersion (or get
  410 Gone when it is older than the history).

All methods are thread-safe (one re-entrant lock); watchers are callbacks that
must not block (the HTTP server hands them to its event loop, the test
kubelet to a queue).
"""

from __future__ import annotations

import collections
import copy
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from tests.kubeapi import builtins, errors, patching
from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import BUILTIN, ResourceType
from tests.kubeapi.schema import StructuralSchema, model_unknown_fields

Obj = dict[str, Any]
#: Namespaces every cluster starts with.
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: How many watch events are kept for resuming watches (older resourceVersions get 410 Gone).
HISTORY_SIZE = 20_000
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    """A change: `obj` is the new state (the last state for DELETED)."""

    rv: int
    type: str
    key: tuple[str, str]
    obj: Obj


@dataclass
class _Watcher:
    key: tuple[str, str]
    deliver: Callable[[WatchEvent | None], None]


@dataclass
class WriteResult:
    """An object as stored (or as it would be, under dryRun) plus any `Warning` headers."""

    obj: Obj
    warnings: list[str]
    created: bool = False


class ObjectStore:
    """In-memory cluster state; see the module docstring for the semantics it follows."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._rv = 0
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._schemas: dict[tuple[str, str, str], StructuralSchema] = {}
        self._history: collections.deque[WatchEvent] = collections.deque(maxlen=HISTORY_SIZE)
        self._watchers: list[_Watcher] = []
        #: bumped whenever the set of served resources changes (discovery and OpenAPI hash).
        self.discovery_generation = 0
        #: pod logs by (namespace, name), written by the test kubelet, served at pods/log.
        self.pod_logs: dict[tuple[str, str], str] = {}
        for rt in BUILTIN:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        for ns in DEFAULT_NAMESPACES:
            self.create(self.type("", "v1", "namespaces"), None, {"metadata": {"name": ns}})

    # -- types -------------------------------------------------------------------------
    def types(self) -> list[ResourceType]:
        with self.lock:
            return list(self._types.values())

    def type(self, group: str, version: str, plural: str) -> ResourceType:
        """A type the caller knows is served (built-ins); KeyError otherwise."""
        return self._types[(group, version, plural)]

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def resolve(self, name: str) -> ResourceType:
        """A type by plural, singular, kind or short name, optionally `.group`-qualified (`jobs.batch`)."""
        with self.lock:
            for rt in self._types.values():
                for candidate in (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names):
                    if name.lower() in (candidate, f"{candidate}.{rt.group}" if rt.group else candidate):
                        return rt
        raise KeyError(f"no resource type {name!r}")

    # -- reads -------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        with self.lock:
            obj = self._objects[rt.key].get((self._ns(rt, namespace), name))
            if obj is None:
                raise errors.not_found(rt.plural, rt.group, name)
            return self._present(rt, obj)

    def list(self, rt: ResourceType, namespace: str | None = None,
             match: Callable[[Obj], bool] = lambda o: True) -> tuple[list[Obj], int]:
        """Objects of a type (all namespaces when `namespace` is None), sorted by namespace/name."""
        with self.lock:
            items = [self._present(rt, o) for (ns, _), o in sorted(self._objects[rt.key].items())
                     if (namespace is None or ns == namespace) and match(o)]
            return items, self._rv

    def _present(self, rt: ResourceType, obj: Obj) -> Obj:
        """A copy in the version asked for (CRDs may serve several versions of one stored object)."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        return out

    @staticmethod
    def _ns(rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    # -- watch -------------------------------------------------------------------------
    def watch(self, rt: ResourceType, since: str | None,
              deliver: Callable[[WatchEvent | None], None]) -> tuple[list[WatchEvent], Callable[[], None]]:
        """Register a watcher; returns the events to replay first and an unsubscribe function.

        `since` None/""/"0": synthetic ADDED events for the current state;
        a resourceVersion: the history after it, or 410 Gone when it is too old.
        """
        with self.lock:
            if since in (None, "", "0"):
                initial = [WatchEvent(int(o["metadata"]["resourceVersion"]), "ADDED", rt.key,
                                      self._present(rt, o))
                           for _, o in sorted(self._objects[rt.key].items())]
            else:
                rv = int(since)
                oldest = self._history[0].rv if self._history else self._rv + 1
                if rv < oldest - 1 and len(self._history) == self._history.maxlen:
                    raise errors.gone(f"too old resource version: {rv} ({oldest - 1})")
                initial = [e for e in self._history if e.rv > rv and e.key == rt.key]
            watcher = _Watcher(rt.key, deliver)
            self._watchers.append(watcher)

        def unsubscribe() -> None:
            with self.lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return initial, unsubscribe

    def close_watches(self) -> None:
        """End every watch (server shutdown): each watcher gets None."""
        with self.lock:
            watchers, self._watchers = self._watchers, []
        for w in watchers:
            w.deliver(None)

    def _emit(self, kind: str, key: tuple[str, str], obj: Obj) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), kind, key, copy.deepcopy(obj))
        self._history.append(event)
        for w in list(self._watchers):
            if w.key == key:
                w.deliver(event)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # -- admission ---------------------------------------------------------------------
    def _schema(self, rt: ResourceType) -> StructuralSchema | None:
        return self._schemas.get((rt.group, rt.version, rt.plural))

    def _normalize(self, rt: ResourceType, namespace: str | None, body: Any, field_validation: str,
                   warnings: list[str]) -> Obj:
        """Type/version/namespace checks and unknown-field handling, on a copy of a request body."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("apiVersion") not in (None, "", rt.api_version):
            raise errors.bad_request(f'the API version in the data ({obj["apiVersion"]}) does not match the '
                                     f'expected API version ({rt.api_version})')
        if obj.get("kind") not in (None, "", rt.kind):
            raise errors.bad_request(f'the kind in the data ({obj["kind"]}) does not match the expected kind '
                                     f'({rt.kind})')
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        unknown: list[str] = []
        schema = self._schema(rt)
        if schema is not None:
            unknown = schema.prune(obj)
        else:
            unknown = model_unknown_fields(obj, rt.model)
        if unknown:
            if field_validation == "Strict":
                listed = ", ".join(f'unknown field "{u}"' for u in unknown)
                raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                         f'strict decoding error: {listed}')
            if field_validation != "Ignore":
                warnings.extend(f'unknown field "{u}"' for u in unknown)
        return obj

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        causes = builtins.validate_metadata(rt, obj, old)
        if rt.is_custom:
            schema = self._schema(rt)
            if schema is not None:
                causes += schema.validate(obj, old)
        else:
            causes += builtins.validate_builtin(rt, obj, old)
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)

    def _default(self, rt: ResourceType, obj: Obj, uid: str) -> None:
        schema = self._schema(rt)
        if schema is not None:
            schema.apply_defaults(obj)
        else:
            builtins.apply_defaults(rt, obj, uid)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        """Namespaced objects only in an existing namespace (one being deleted is already gone: see README)."""
        if rt.namespaced and ("", namespace) not in self._objects[("", "namespaces")]:
            raise errors.not_found("namespaces", "", namespace)

    # -- writes ------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False,
               field_validation: str = "Warn") -> WriteResult:
        with self.lock:
            warnings: list[str] = []
            obj = self._normalize(rt, namespace, body, field_validation, warnings)
            meta = obj["metadata"]
            ns = self._ns(rt, meta.get("namespace"))
            self._check_namespace(rt, ns)
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + "".join(self._rng.choice(_SUFFIX_ALPHABET)
                                                                  for _ in range(5))
                else:
                    raise errors.invalid(rt.kind, rt.group, "", [errors.Cause(
                        "metadata.name", "Required value: name or generateName is required", "FieldValueRequired")])
            name = meta["name"]
            if (ns, name) in self._objects[rt.key]:
                raise errors.already_exists(rt.plural, rt.group, name)
            for server_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                                 "selfLink"):
                meta.pop(server_field, None)
            meta["uid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            meta["creationTimestamp"] = now_rfc3339()
            if rt.has_generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if rt.has_status:
                obj.pop("status", None)
                status = builtins.initial_status(rt, obj)
                if status is not None:
                    obj["status"] = status
            self._default(rt, obj, meta["uid"])
            self._validate(rt, obj, None)
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                obj["status"] = builtins.crd_status(obj, meta["creationTimestamp"])
            if dry_run:
                return WriteResult(self._present(rt, obj), warnings, created=True)
            meta["resourceVersion"] = self._next_rv()
            self._objects[rt.key][(ns, name)] = obj
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._register_crd(obj)
            self._emit("ADDED", rt.key, obj)
            return WriteResult(self._present(rt, obj), warnings, created=True)

    def update(self, rt: ResourceType, namespace: str | None, name: str, body: Any, *,
               subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn"
               ) -> WriteResult:
        """PUT semantics (and the tail of PATCH): replace the object, or only its status."""
        with self.lock:
            ns = self._ns(rt, namespace)
            old = self._objects[rt.key].get((ns, name))
            if old is None:
                raise errors.not_found(rt.plural, rt.group, name)
            warnings: list[str] = []
            new = self._normalize(rt, namespace, body, field_validation, warnings)
            meta = new["metadata"]
            sent_rv = meta.get("resourceVersion")
            if sent_rv not in (None, "") and sent_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, rt.group, name)
            if subresource == "status":
                result = copy.deepcopy(old)
                result["status"] = new.get("status") or {}
            else:
                result = new
                if rt.has_status:
                    if "status" in old:
                        result["status"] = copy.deepcopy(old["status"])
                    else:
                        result.pop("status", None)
                rmeta = result["metadata"]
                for fixed in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                              "generation", "name"):
                    if fixed in old["metadata"]:
                        rmeta[fixed] = old["metadata"][fixed]
                    else:
                        rmeta.pop(fixed, None)
            result["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            self._default(rt, result, old["metadata"]["uid"])
            if rt.has_generation and _spec_part(result) != _spec_part(old):
                result["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            self._validate(rt, result, old)
            if result == old:
                return WriteResult(self._present(rt, old), warnings)
            if dry_run:
                return WriteResult(self._present(rt, result), warnings)
            result["metadata"]["resourceVersion"] = self._next_rv()
            if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
                self._objects[rt.key][(ns, name)] = result
                self._remove(rt, ns, name, "Background")
                return WriteResult(self._present(rt, result), warnings)
            self._objects[rt.key][(ns, name)] = result
            self._emit("MODIFIED", rt.key, result)
            return WriteResult(self._present(rt, result), warnings)

    def patch(self, rt: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str, *,
              subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn"
              ) -> WriteResult:
        """PATCH: apply the body to the current object, then the same checks as an update."""
        ctype = content_type.split(";")[0].strip().lower()
        with self.lock:
            ns = self._ns(rt, namespace)
            current = self._objects[rt.key].get((ns, name))
            if ctype == "application/apply-patch+yaml":
                if current is None:
                    body = copy.deepcopy(patch)
                    body.setdefault("metadata", {})["name"] = name
                    return self.create(rt, namespace, body, dry_run=dry_run, field_validation=field_validation)
            if current is None:
                raise errors.not_found(rt.plural, rt.group, name)
            base = self._present(rt, current)
            if ctype in ("application/merge-patch+json", "application/json"):
                patched = patching.merge_patch(base, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if rt.is_custom:
                    raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                   "accepted media types include: application/json-patch+json, "
                                   "application/merge-patch+json, application/apply-patch+yaml")
                patched = patching.strategic_merge_patch(base, patch)
            elif ctype == "application/json-patch+json":
                patched = patching.json_patch(base, patch)
            elif ctype == "application/apply-patch+yaml":
                # Server-side apply, approximated: merge the applied intent (see README).
                patched = (patching.merge_patch(base, patch) if rt.is_custom
                           else patching.strategic_merge_patch(base, patch))
            else:
                raise errors.unsupported_media_type(content_type)
            return self.update(rt, namespace, name, patched, subresource=subresource, dry_run=dry_run,
                               field_validation=field_validation)

    def delete(self, rt: ResourceType, namespace: str | None, name: str, *, propagation: str | None = None,
               dry_run: bool = False) -> WriteResult:
        with self.lock:
            ns = self._ns(rt, namespace)
            obj = self._objects[rt.key].get((ns, name))
            if obj is None:
                raise errors.not_found(rt.plural, rt.group, name)
            warnings: list[str] = []
            if propagation is None and rt.key == ("batch", "jobs"):
                propagation = "Orphan"
                warnings.append("child pods are preserved by default when jobs are deleted; set "
                                "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
                                "suppress this warning")
            propagation = propagation or "Background"
            if dry_run:
                return WriteResult(self._present(rt, obj), warnings)
            if propagation == "Orphan":
                self._orphan_dependents(obj["metadata"]["uid"])
            elif propagation == "Foreground":
                self._delete_dependents(obj["metadata"]["uid"], "Background")
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["deletionTimestamp"] = now_rfc3339()
                    obj["metadata"]["deletionGracePeriodSeconds"] = 0
                    obj["metadata"]["resourceVersion"] = self._next_rv()
                    self._emit("MODIFIED", rt.key, obj)
                return WriteResult(self._present(rt, obj), warnings)
            gone_obj = self._remove(rt, ns, name, propagation)
            return WriteResult(gone_obj, warnings)

    def _remove(self, rt: ResourceType, ns: str, name: str, propagation: str) -> Obj:
        """Really delete: DELETED event, then CRD/namespace contents and owner-reference cascade."""
        obj = self._objects[rt.key].pop((ns, name))
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit("DELETED", rt.key, obj)
        uid = obj["metadata"]["uid"]
        if rt.key == ("", "pods"):
            self.pod_logs.pop((ns, name), None)
        if rt.key == ("", "namespaces"):
            for key, objs in list(self._objects.items()):
                for (obj_ns, obj_name) in [k for k in objs if k[0] == name]:
                    dep_rt = self._type_for_key(key)
                    if dep_rt is not None and (obj_ns, obj_name) in objs:
                        self._remove(dep_rt, obj_ns, obj_name, "Background")
        if propagation == "Orphan":
            self._orphan_dependents(uid)
        else:
            self._delete_dependents(uid, "Background")
        return self._present(rt, obj)

    def _type_for_key(self, key: tuple[str, str]) -> ResourceType:
        """Objects are only stored under served types, and a type is never unregistered."""
        return next(rt for rt in self._types.values() if rt.key == key)

    def _dependents(self, uid: str) -> list[tuple[ResourceType, str, str]]:
        found = []
        for key, objs in self._objects.items():
            dep_rt = self._type_for_key(key)
            for (ns, name), obj in objs.items():
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []):
                    found.append((dep_rt, ns, name))
        return found

    def _delete_dependents(self, uid: str, propagation: str) -> None:
        for dep_rt, ns, name in self._dependents(uid):
            if (ns, name) in self._objects[dep_rt.key]:
                self.delete(dep_rt, ns, name, propagation=propagation)

    def _orphan_dependents(self, uid: str) -> None:
        for dep_rt, ns, name in self._dependents(uid):
            obj = self._objects[dep_rt.key][(ns, name)]
            obj["metadata"]["ownerReferences"] = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._emit("MODIFIED", dep_rt.key, obj)

    # -- CRDs --------------------------------------------------------------------------
    def _register_crd(self, crd: Obj) -> None:
        spec = crd["spec"]
        names = crd["status"]["acceptedNames"]
        group = spec["group"]
        for version in spec["versions"]:
            subresources = tuple(s for s in ("status", "scale") if s in (version.get("subresources") or {}))
            rt = ResourceType(group, version["name"], names["plural"], names["kind"],
                              spec["scope"] == "Namespaced", names.get("singular", names["kind"].lower()),
                              short_names=tuple(names.get("shortNames") or ()), subresources=subresources,
                              categories=tuple(names.get("categories") or ()), has_generation=True,
                              crd_version=copy.deepcopy(version))
            self._types[(group, version["name"], names["plural"])] = rt
            self._schemas[(group, version["name"], names["plural"])] = StructuralSchema(
                names["kind"], group, version["schema"]["openAPIV3Schema"])
        self.discovery_generation += 1


def _spec_part(obj: Obj) -> Obj:
    """What `metadata.generation` counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
