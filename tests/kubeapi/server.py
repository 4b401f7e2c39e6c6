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
- resources: get, list (label/field selectors, Table output for kubectl),
  watch (`?watch=true`, newline-delimited JSON events, resume from a
  resourceVersion, `timeoutSeconds`), create, update, patch (merge,
  strategic, JSON patch, approximated apply), delete (propagationPolicy);
  `dryRun=All`; subresources `status` and `pods/log`.

Every request is appended to `requests` (RBAC verb, resource, subresource,
namespace, name, status, user agent) so a test can derive the permissions a
client actually used, e.g. to compare with a ClusterRole.
"""

from __future__ import annotations

import asyncio
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
from tests.kubeapi.auth import ADMIN_USER, Attributes, Auth, UserInfo
from tests.kubeapi.errors import ApiError
from tests.kubeapi.resources import BUILTIN_GROUP_ORDER, ResourceType, api_resource_entry
from tests.kubeapi.store import ObjectStore, WatchEvent

#: What /version reports (kubectl and helm read it; the kubectl under test is 1.33).
SERVER_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-emulated", "gitCommit": "emulated",
                  "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
                  "compiler": "gc", "platform": "linux/amd64"}
#: The bearer token written to the kubeconfig: any token (or none) is accepted, unless `enable_rbac()` was
#: called; then this one is a cluster admin (group system:masters).
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
    #: with RBAC on (`enable_rbac`): the user the request acted as, and the one who impersonated them
    user: str | None = None
    impersonated_by: str | None = None

    @property
    def rbac_resource(self) -> str | None:
        """`jobs`, `safesynthjobs/status`, `pods/log` — as written in a Role's `resources`."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass
class _Route:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _json(body: Any, status: int = 200, content_type: str = "application/json",
          warnings: list[str] | None = None) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for w in warnings or []:
        headers.add("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
    headers["Content-Type"] = content_type
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


_USER = web.RequestKey("user", UserInfo)


def _rbac_verb(method: str, name: str | None, watch: str | None) -> str:
    """The RBAC verb of a resource request (kube-apiserver's RequestInfoFactory, for the paths served here)."""
    if method == "GET":
        return "get" if name is not None else ("watch" if _go_bool(watch) else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


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
        #: None: every request is allowed (the default); see auth.py
        self.auth: Auth | None = None

    def enable_rbac(self) -> Auth:
        """Authenticate bearer tokens, honour Impersonate-* headers and authorize by the stored RBAC objects."""
        if self.auth is None:
            self.auth = Auth(self.store)
            self.auth.add_token(TOKEN, ADMIN_USER)
        return self.auth

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
            except BaseException as exc:  # broad on purpose: reported to the starting thread
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
        assert self._loop is not None and self._thread is not None, "stop() without start()"
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
            if self.auth is not None:
                requester = self.auth.authenticate(request.headers.get("Authorization"))
                user = self.auth.impersonate(requester, request.headers, request.headers.items())
                request[_USER] = user
                record.user = user.name
                record.impersonated_by = requester.name if user is not requester else None
            response = await self._dispatch(request, record)
        except ApiError as exc:
            response = _json(exc.to_status(), exc.code)
        except Exception as exc:  # broad on purpose: a bug in the emulation is a 500, with its traceback
            status = ApiError(500, "InternalError", f"emulation error: {exc!r}\n{traceback.format_exc()}")
            response = _json(status.to_status(), 500)
        if record.status is None:
            record.status = response.status
        return response

    async def _dispatch(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            discovery = self._discovery(parts)
            if discovery is not None:
                record.verb = "get"
                return discovery
        # /api/v1/<rest> or /apis/<group>/<version>/<rest>; <rest>: [namespaces/<ns>/]<plural>[/<name>[/<sub>]]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.unknown_path()
        record.group, record.version = group, version
        if group == "authentication.k8s.io" and rest == ["tokenreviews"]:
            return await self._token_review(request, record)
        namespace = None
        with self.store.lock:
            rt = self.store.find_type(group, version, rest[2]) if rest[0] == "namespaces" and len(rest) >= 3 else None
            if rt is not None and rt.namespaced:
                namespace, rest = rest[1], rest[2:]
            else:
                rt = self.store.find_type(group, version, rest[0])
        name, sub = (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        if rt is None or len(rest) > 3 or (sub and sub not in rt.subresources):
            raise errors.unknown_path()
        route = _Route(rt, namespace, name, sub)
        record.resource, record.subresource = route.rt.plural, route.subresource
        record.namespace, record.name = route.namespace, route.name
        if self.auth is not None:
            verb = _rbac_verb(request.method, route.name, request.query.get("watch"))
            self.auth.check(request[_USER], Attributes(verb, group, route.rt.plural, route.subresource,
                                                        route.namespace, route.name))
        return await self._resource(request, route, record)

    async def _token_review(self, request: web.Request, record: RequestRecord) -> web.Response:
        """POST tokenreviews (create-only, nothing stored); served only with RBAC on, as it needs a token table."""
        record.resource, record.verb = "tokenreviews", "create"
        if self.auth is None or request.method != "POST":
            raise errors.unknown_path() if self.auth is None else errors.method_not_allowed()
        self.auth.check(request[_USER], Attributes("create", "authentication.k8s.io", "tokenreviews"))
        return _json(self.auth.token_review(await self._body(request) or {}), 201)

    # -- discovery ---------------------------------------------------------------------
    def _discovery(self, parts: list[str]) -> web.Response | None:
        """The discovery documents clients read (legacy, not aggregated); None for anything else."""
        if parts == ["version"]:
            return _json(SERVER_VERSION)
        if parts == ["api"]:
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if parts == ["apis"]:
            return _json({"kind": "APIGroupList", "apiVersion": "v1",
                          "groups": [self._group_doc(g) for g in self._groups()]})
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        types = self._group_version_types(parts)
        if not types:
            return None  # not a discovery path, or an unknown group/version: routed, and a 404 there
        resources = [entry for rt in types for entry in api_resource_entry(rt)]
        return _json({"kind": "APIResourceList", "apiVersion": "v1",
                      "groupVersion": types[0].api_version, "resources": resources})

    def _group_version_types(self, parts: list[str]) -> list[ResourceType]:
        """The types of `api/<version>` or `apis/<group>/<version>`; none for any other path."""
        if parts[:1] == ["api"] and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[:1] == ["apis"] and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return []
        return [rt for rt in self.store.types() if rt.group == group and rt.version == version]

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

    def _openapi(self, rest: list[str]) -> web.Response:
        """OpenAPI v3, reduced to what kubectl reads: per kind, a PATCH that takes `fieldValidation`."""
        gvs = sorted({(rt.group, rt.version) for rt in self.store.types()})
        if not rest:
            paths = {}
            for group, version in gvs:
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={self.store.discovery_generation:016X}"}
            return _json({"paths": paths})
        doc_paths: dict[str, Any] = {}
        for rt in self._group_version_types(rest):
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
        return yaml.safe_load(raw) if "yaml" in ctype else json.loads(raw)

    async def _resource(self, request: web.Request, route: _Route, record: RequestRecord) -> web.StreamResponse:
        q = request.query
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        dry_run = "All" in q.getall("dryRun", [])
        validation = q.get("fieldValidation", "Warn")
        method = request.method
        writable = name is not None and sub in (None, "status")
        allowed = {"GET": True, "POST": name is None and (ns is not None or not rt.namespaced),
                   "PUT": writable, "PATCH": writable, "DELETE": name is not None}
        if not allowed.get(method):  # incl. DELETE on a collection: deletecollection is not served
            raise errors.method_not_allowed()

        if method == "GET" and name is None:
            labels = selectors.parse_label_selector(q.get("labelSelector"))
            fields = selectors.parse_field_selector(q.get("fieldSelector"), rt.key)

            def match(obj: dict[str, Any]) -> bool:
                return selectors.labels_match(labels, obj) and fields(obj)

            if _go_bool(q.get("watch")):
                record.verb = "watch"
                return await self._watch(request, route, match, record)
            record.verb = "list"
            return self._list(request, route, match)
        if method == "GET":
            record.verb = "get"
            if sub == "log":
                self.store.get(rt, ns, name)
                return web.Response(text=self.store.pod_logs.get((ns or "", name), ""), content_type="text/plain")
            obj = self.store.get(rt, ns, name)
            if "as=Table" in request.headers.get("Accept", ""):
                return _json(tables.to_table(rt, [obj], obj["metadata"]["resourceVersion"],
                                             q.get("includeObject", "Metadata")),
                             content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
            return _json(obj)
        if method == "POST":
            record.verb = "create"
            result = self.store.create(rt, ns, await self._body(request), dry_run=dry_run,
                                       field_validation=validation)
            return _json(result.obj, 201, warnings=result.warnings)
        if method == "PUT":
            record.verb = "update"
            result = self.store.update(rt, ns, name, await self._body(request), subresource=sub, dry_run=dry_run,
                                       field_validation=validation)
            return _json(result.obj, warnings=result.warnings)
        if method == "PATCH":
            record.verb = "patch"
            body = await self._body(request)
            result = self.store.patch(rt, ns, name, body, request.headers.get("Content-Type", ""), subresource=sub,
                                      dry_run=dry_run, field_validation=validation)
            return _json(result.obj, 201 if result.created else 200, warnings=result.warnings)
        record.verb = "delete"
        options = await self._body(request) or {}
        result = self.store.delete(rt, ns, name, propagation=q.get("propagationPolicy") or options.get(
                                   "propagationPolicy"), dry_run=dry_run or "All" in (options.get("dryRun") or []))
        return _json(self._delete_response(rt, result.obj), warnings=result.warnings)

    @staticmethod
    def _delete_response(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Pods, Services and custom resources return the object; other types a Status (ReturnDeletedObject)."""
        if obj["metadata"].get("deletionTimestamp") or rt.is_custom or rt.key in (("", "pods"), ("", "services")):
            return obj
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": obj["metadata"]["name"], "group": rt.group, "kind": rt.plural,
                            "uid": obj["metadata"]["uid"]}}

    def _list(self, request: web.Request, route: _Route, match: Any) -> web.Response:
        """All matching items in one response: `limit` is ignored, so no `continue` token is ever handed out."""
        items, rv = self.store.list(route.rt, route.namespace, match)
        if "as=Table" in request.headers.get("Accept", ""):
            return _json(tables.to_table(route.rt, items, str(rv), request.query.get("includeObject", "Metadata")),
                         content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
        return _json({"kind": route.rt.list_kind, "apiVersion": route.rt.api_version,
                      "metadata": {"resourceVersion": str(rv)}, "items": items})

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

        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        try:
            initial, unsubscribe = self.store.watch(route.rt, q.get("resourceVersion"), deliver)
        except ApiError as exc:  # 410 Gone: the version is older than the history kept
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
            """The event as is when its object is in the watched namespace and selectors (see README for what
            a real server does when an object enters or leaves a label selector)."""
            if (ns is not None and event.obj["metadata"].get("namespace") != ns) or not match(event.obj):
                return
            obj = dict(event.obj)
            obj["apiVersion"] = rt.api_version
            await response.write(json.dumps({"type": event.type, "object": obj}).encode() + b"\n")

        try:
            for event in initial:
                await send(event)
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
