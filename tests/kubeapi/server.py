"""An HTTP emulation of kube-apiserver that the real kubectl, the kubernetes client and kopf talk to.

`KubeAPIServer` serves the Kubernetes REST API on 127.0.0.1 (a free port) from
a background thread with its own asyncio loop (aiohttp), backed by
`store.ObjectStore`. Clients reach it through an ordinary kubeconfig file, so
what is tested is the code path a cluster would see: discovery, REST paths,
content types, status codes, watch streams.

Served:

- discovery: /api, /api/v1, /apis, /apis/<group>, /apis/<group>/<version>
  (legacy documents; a client asking for aggregated discovery gets plain
  `application/json` and falls back, as it does with older servers), /version,
  and /openapi/v3 with one PATCH operation per kind declaring the
  `fieldValidation` parameter, which is what makes kubectl leave validation to
  the server instead of downloading full schemas;
- resources: get, list (label/field selectors, limit/continue, Table output
  for kubectl), watch (newline-delimited JSON events, resume from a
  resourceVersion, `timeoutSeconds`, `sendInitialEvents` bookmarks), create,
  update, patch (merge, strategic, JSON patch, approximated apply), delete
  (propagationPolicy, preconditions), deletecollection; `dryRun=All`;
  subresources `status` and `pods/log`.

Every request is appended to `requests` (RBAC verb, resource, subresource,
namespace, name, status, user agent) so a test can derive the permissions a
client actually used, e.g. to compare with a ClusterRole.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from multidict import CIMultiDict

from tests.kubeapi import errors, protobuf, selectors, tables
from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import BUILTIN_GROUP_ORDER, ResourceType, api_resource_entry
from tests.kubeapi.store import ObjectStore, WatchEvent

#: What /version reports (kubectl and helm read it; the kubectl under test is 1.33).
SERVER_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-emulated", "gitCommit": "emulated",
                  "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
                  "compiler": "gc", "platform": "linux/amd64"}
#: The bearer token written to the kubeconfig (the server accepts any, or none: no authn/authz).
TOKEN = "kubeapi-emulation-token"


@dataclass
class RequestRecord:
    """One request as RBAC would see it: verb on group/resource[/subresource], in a namespace, by name."""

    method: str
    path: str
    verb: str
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    user_agent: str = ""
    content_type: str = ""
    status: int | None = None

    @property
    def rbac_resource(self) -> str | None:
        """`jobs`, `safesynthjobs/status`, `pods/log` — as written in a Role's `resources`."""
        if self.resource is None:
            return None
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass
class _Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def _json(body: Any, status: int = 200, content_type: str = "application/json",
          warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for w in warnings or []:
        headers.add("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
    headers["Content-Type"] = content_type
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


def _go_bool(value: str | None) -> bool:
    """Query booleans as Go's strconv.ParseBool reads them (the python client sends `watch=True`)."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


class KubeAPIServer:
    """The emulated API server; `start()` it, point clients at `write_kubeconfig()`, `stop()` it."""

    def __init__(self, seed: int = 0) -> None:
        self.store = ObjectStore(seed=seed)
        self.requests: list[RequestRecord] = []
        self.url = ""
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._requests_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> KubeAPIServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="kubeapi-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound sockets here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.store.close_watches()

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig with one context pointing here (plain HTTP, a bearer token nobody checks)."""
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "kubeapi-emulation", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": TOKEN}}],
            "contexts": [{"name": "kubeapi-emulation",
                          "context": {"cluster": "kubeapi-emulation", "user": "tester", "namespace": namespace}}],
            "current-context": "kubeapi-emulation",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- request log -------------------------------------------------------------------
    def permissions(self, user_agent: str | None = None) -> set[tuple[str, str, str]]:
        """(apiGroup, resource[/subresource], verb) used by clients whose User-Agent contains `user_agent`."""
        with self._requests_lock:
            records = list(self.requests)
        return {(r.group or "", r.rbac_resource or "", r.verb) for r in records
                if r.resource and (user_agent is None or user_agent in r.user_agent)}

    # -- HTTP --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = RequestRecord(method=request.method, path=request.path, verb=request.method.lower(),
                               query=dict(request.query), user_agent=request.headers.get("User-Agent", ""),
                               content_type=request.headers.get("Content-Type", ""))
        with self._requests_lock:
            self.requests.append(record)
        try:
            response = await self._dispatch(request, record)
        except ApiError as exc:
            response = _json(exc.to_status(), exc.code)
        except Exception as exc:  # noqa: BLE001 - a bug in the emulation is a 500, with its traceback
            status = ApiError(500, "InternalError", f"emulation error: {exc!r}\n{traceback.format_exc()}")
            response = _json(status.to_status(), 500)
        if record.status is None:
            record.status = response.status
        return response

    def _route(self, parts: list[str]) -> tuple[str, str, list[str]] | None:
        if parts[0] == "api" and len(parts) >= 2:
            return "", parts[1], parts[2:]
        if parts[0] == "apis" and len(parts) >= 3:
            return parts[1], parts[2], parts[3:]
        return None

    async def _dispatch(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            discovery = self._discovery(parts)
            if discovery is not None:
                record.verb = "get"
                return discovery
        routed = self._route(parts) if parts else None
        if routed is None:
            raise errors.unknown_path()
        group, version, rest = routed
        record.group, record.version = group, version
        if not rest:
            raise errors.unknown_path()
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        if not rest:
            raise errors.unknown_path()
        with self.store.lock:
            if rest[0] == "namespaces" and len(rest) >= 3 and (
                    (rt := self.store.find_type(group, version, rest[2])) is not None and rt.namespaced):
                route = _Route(rt, rest[1], rest[3] if len(rest) > 3 else None,
                               rest[4] if len(rest) > 4 else None, watch_path)
                extra = rest[5:]
            else:
                rt = self.store.find_type(group, version, rest[0])
                if rt is None:
                    raise errors.unknown_path()
                route = _Route(rt, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None,
                               watch_path)
                extra = rest[3:]
        if extra or (route.subresource and route.subresource not in route.rt.subresources):
            raise errors.unknown_path()
        record.resource, record.subresource = route.rt.plural, route.subresource
        record.namespace, record.name = route.namespace, route.name
        return await self._resource(request, route, record)

    # -- discovery ---------------------------------------------------------------------
    def _discovery(self, parts: list[str]) -> web.Response | None:
        if not parts:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz"]})
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return web.Response(text="ok")
        if parts == ["version"]:
            return _json(SERVER_VERSION)
        if parts == ["api"]:
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if parts == ["apis"]:
            return _json({"kind": "APIGroupList", "apiVersion": "v1",
                          "groups": [self._group_doc(g) for g in self._groups()]})
        if parts[0] == "apis" and len(parts) == 2:
            if parts[1] not in self._groups():
                raise errors.unknown_path()
            return _json({"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(parts[1])})
        if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            types = [rt for rt in self.store.types() if rt.group == group and rt.version == version]
            if not types:
                raise errors.unknown_path()
            resources = [entry for rt in types for entry in api_resource_entry(rt)]
            return _json({"kind": "APIResourceList", "apiVersion": "v1",
                          "groupVersion": types[0].api_version, "resources": resources})
        if parts[0] == "openapi":
            return self._openapi(parts)
        return None

    def _groups(self) -> list[str]:
        present = {rt.group for rt in self.store.types() if rt.group}
        builtin = [g for g in BUILTIN_GROUP_ORDER if g in present]
        return builtin + sorted(present - set(builtin))

    def _versions(self, group: str) -> list[str]:
        seen: list[str] = []
        for rt in self.store.types():
            if rt.group == group and rt.version not in seen:
                seen.append(rt.version)
        return seen

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self._versions(group)]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def _openapi(self, parts: list[str]) -> web.Response:
        """OpenAPI v3, reduced to what kubectl reads: per kind, a PATCH that takes `fieldValidation`."""
        if parts[:2] != ["openapi", "v3"]:
            raise errors.unknown_path()
        gvs = sorted({(rt.group, rt.version) for rt in self.store.types()})
        if len(parts) == 2:
            paths = {}
            for group, version in gvs:
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={self.store.discovery_generation:016X}"}
            return _json({"paths": paths})
        rest = parts[2:]
        group, version = ("", rest[1]) if rest[0] == "api" and len(rest) == 2 else (
            (rest[1], rest[2]) if rest[0] == "apis" and len(rest) == 3 else ("?", "?"))
        types = [rt for rt in self.store.types() if rt.group == group and rt.version == version]
        if not types:
            raise errors.unknown_path()
        doc_paths: dict[str, Any] = {}
        for rt in types:
            gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
            params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                      for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
            op = {"operationId": f"patch{rt.kind}", "x-kubernetes-action": "patch",
                  "x-kubernetes-group-version-kind": gvk, "parameters": params,
                  "responses": {"200": {"description": "OK"}}}
            path = rt.base_path("{namespace}" if rt.namespaced else None) + "/{name}"
            doc_paths[path] = {"patch": op}
        return _json({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
                      "paths": doc_paths, "components": {"schemas": {}}})

    # -- resources ---------------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        ctype = request.headers.get("Content-Type", "")
        if "protobuf" in ctype:
            return protobuf.decode(raw)
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from None

    async def _resource(self, request: web.Request, route: _Route, record: RequestRecord) -> web.StreamResponse:
        q = request.query
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        dry_run = "All" in q.getall("dryRun", [])
        validation = q.get("fieldValidation", "Warn")
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation: Unsupported value: {validation!r}")
        method = request.method
        watch = route.watch_path or _go_bool(q.get("watch"))

        if method == "GET" and name is None:
            labels = selectors.parse_label_selector(q.get("labelSelector"))
            fields = selectors.parse_field_selector(q.get("fieldSelector"), rt.key)

            def match(obj: dict[str, Any]) -> bool:
                return selectors.labels_match(labels, obj) and fields(obj)

            if watch:
                record.verb = "watch"
                return await self._watch(request, route, match, record)
            record.verb = "list"
            return self._list(request, route, match)
        if method == "GET":
            record.verb = "get"
            if sub == "log":
                self.store.get(rt, ns, name)
                text = self.store.pod_logs.get((ns or "", name), "")
                if q.get("tailLines"):
                    text = "".join(text.splitlines(keepends=True)[-int(q["tailLines"]):])
                return web.Response(text=text, content_type="text/plain")
            obj = self.store.get(rt, ns, name)
            if "as=Table" in request.headers.get("Accept", ""):
                return _json(tables.to_table(rt, [obj], obj["metadata"]["resourceVersion"],
                                             q.get("includeObject", "Metadata")),
                             content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
            return _json(obj)
        if method == "POST":
            record.verb = "create"
            if name is not None:
                raise errors.method_not_allowed()
            if rt.namespaced and ns is None:
                raise errors.method_not_allowed()
            result = self.store.create(rt, ns, await self._body(request), dry_run=dry_run,
                                       field_validation=validation)
            return _json(result.obj, 201, warnings=result.warnings)
        if method == "PUT":
            record.verb = "update"
            if name is None or sub not in (None, "status"):
                raise errors.method_not_allowed()
            result = self.store.update(rt, ns, name, await self._body(request), subresource=sub, dry_run=dry_run,
                                       field_validation=validation)
            return _json(result.obj, warnings=result.warnings)
        if method == "PATCH":
            record.verb = "patch"
            if name is None or sub not in (None, "status"):
                raise errors.method_not_allowed()
            body = await self._body(request)
            result = self.store.patch(rt, ns, name, body, request.headers.get("Content-Type", ""), subresource=sub,
                                      dry_run=dry_run, field_validation=validation,
                                      field_manager=q.get("fieldManager"))
            return _json(result.obj, 201 if result.created else 200, warnings=result.warnings)
        if method == "DELETE":
            options = await self._body(request) or {}
            propagation = q.get("propagationPolicy") or options.get("propagationPolicy")
            orphan = options.get("orphanDependents", q.get("orphanDependents"))
            if propagation is None and orphan is not None:
                propagation = "Orphan" if orphan in (True, "true") else "Background"
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            if name is None:
                record.verb = "deletecollection"
                return self._delete_collection(route, q, propagation, dry_run)
            record.verb = "delete"
            result = self.store.delete(rt, ns, name, propagation=propagation, dry_run=dry_run,
                                       preconditions=options.get("preconditions"))
            return _json(self._delete_response(rt, result.obj), warnings=result.warnings)
        raise errors.method_not_allowed()

    @staticmethod
    def _delete_response(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Pods, Services and custom resources return the object; other types a Status (ReturnDeletedObject)."""
        if obj["metadata"].get("deletionTimestamp") or rt.is_custom or rt.key in (("", "pods"), ("", "services")):
            return obj
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": obj["metadata"]["name"], "group": rt.group, "kind": rt.plural,
                            "uid": obj["metadata"]["uid"]}}

    def _list(self, request: web.Request, route: _Route, match: Any) -> web.Response:
        q = request.query
        items, rv = self.store.list(route.rt, route.namespace, match)
        list_meta: dict[str, Any] = {}
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
            except ValueError:
                raise errors.bad_request("continue key is not valid") from None
            start = tuple(token["after"])
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        limit = int(q.get("limit") or 0)
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {"rv": rv, "after": [last.get("namespace", ""), last["name"]]}
            list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            list_meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if "as=Table" in request.headers.get("Accept", ""):
            return _json(tables.to_table(route.rt, items, str(rv), q.get("includeObject", "Metadata"), list_meta),
                         content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
        return _json({"kind": route.rt.list_kind, "apiVersion": route.rt.api_version,
                      "metadata": {"resourceVersion": str(rv), **list_meta}, "items": items})

    def _delete_collection(self, route: _Route, q: Any, propagation: str | None, dry_run: bool) -> web.Response:
        labels = selectors.parse_label_selector(q.get("labelSelector"))
        fields = selectors.parse_field_selector(q.get("fieldSelector"), route.rt.key)
        items, _ = self.store.list(route.rt, route.namespace,
                                   lambda o: selectors.labels_match(labels, o) and fields(o))
        deleted = []
        for obj in items:
            try:
                deleted.append(self.store.delete(route.rt, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                                 propagation=propagation, dry_run=dry_run).obj)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return _json({"kind": route.rt.list_kind, "apiVersion": route.rt.api_version,
                      "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": deleted})

    async def _watch(self, request: web.Request, route: _Route, match: Any,
                     record: RequestRecord) -> web.StreamResponse:
        q = request.query
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

        def deliver(event: WatchEvent | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, event)
            except RuntimeError:  # the server's loop is already closed (shutdown): nobody is listening
                pass

        send_initial = _go_bool(q.get("sendInitialEvents"))
        since = None if send_initial else q.get("resourceVersion")
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        try:
            initial, unsubscribe = self.store.watch(route.rt, since, deliver)
        except ApiError as exc:
            if exc.code != 410:
                raise
            await response.prepare(request)
            await response.write(json.dumps({"type": "ERROR", "object": exc.to_status()}).encode() + b"\n")
            record.status = 200
            return response
        record.status = 200
        await response.prepare(request)
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        deadline = loop.time() + timeout if timeout is not None else None
        rt, ns = route.rt, route.namespace

        async def send(event: WatchEvent) -> None:
            obj_ns = event.obj["metadata"].get("namespace")
            if ns is not None and obj_ns != ns:
                return
            new_match = match(event.obj)
            old_match = event.old is not None and match(event.old)
            kind = event.type
            if kind == "MODIFIED":
                if new_match and not old_match:
                    kind = "ADDED"
                elif old_match and not new_match:
                    kind = "DELETED"
                elif not new_match:
                    return
            elif not (new_match or old_match):
                return
            obj = dict(event.obj)
            obj["apiVersion"] = rt.api_version
            await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        try:
            for event in initial:
                await send(event)
            if send_initial:
                bookmark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {
                    "resourceVersion": str(self.store.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"}}}
                await response.write(json.dumps({"type": "BOOKMARK", "object": bookmark}).encode() + b"\n")
            while True:
                wait = 1.0
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        break
                try:
                    event = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if event is None:
                    break
                await send(event)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            unsubscribe()
        return response
