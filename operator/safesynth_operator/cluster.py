"""The operator's only door to the Kubernetes API: five verbs over JSON dicts.

`Cluster` is what the reconciler needs (get, list, create, patch, delete); the
one implementation, `KopfCluster`, rides on kopf's embedded aiohttp client, so
the operator shares kopf's login, connection pool and retry back-offs and
needs neither the `kubernetes` package (about 40 MB more per process) nor a
thread per request.

Why a private kopf module: kopf's public API (`kopf/__init__.py`, checked for
1.45) offers no request function; handlers may only patch their own object and
post events, and kopf's documented way to reach other objects is a second
client with its own login. So `kopf._cogs.clients.api` (the get/post/patch/delete
coroutines taking `settings=` and `logger=`) and `kopf._cogs.clients.errors`
(the APIError subclasses per status) are used here and nowhere else. The pin
`kopf>=1.37,<1.46` in pyproject.toml's operator extra protects exactly these
names and signatures: raise it only after the cluster-marked tests in
tests/operator pass with the new kopf (they run the real operator through this
class against tests/kubeapi).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol
from urllib.parse import urlencode

from safesynth import contract

from safesynth_operator import constants as c

if TYPE_CHECKING:
    import kopf

Obj = dict[str, Any]


class AlreadyExists(Exception):
    """409 on create: an object of that name exists (ours to adopt, or someone else's)."""


class Rejected(Exception):
    """422/400 on create or patch: the API server refused the object; `reason` is its own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Cluster(Protocol):
    async def get(self, path: str) -> Optional[Obj]: ...

    async def list(self, path: str, label_selector: str) -> list[Obj]: ...

    async def create(self, path: str, body: Mapping[str, Any]) -> Obj: ...

    async def patch(self, path: str, body: Mapping[str, Any]) -> Optional[Obj]: ...

    async def delete(self, path: str) -> None: ...


# --------------------------------------------------------------------- paths


def cr_path(namespace: str, name: Optional[str] = None, *, status: bool = False) -> str:
    path = f"/apis/{c.CR_GROUP}/{c.CR_VERSION}/namespaces/{namespace}/{c.CR_PLURAL}"
    path += f"/{name}" if name else ""
    return path + ("/status" if status else "")


def jobs_path(namespace: str, name: Optional[str] = None) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs" + (f"/{name}" if name else "")


def pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def configmaps_path(namespace: str, name: Optional[str] = None) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


def is_owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    """True when `uid` is among the object's owners: adopt it; else it is someone else's."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid for r in refs)


# ------------------------------------------------------------ kopf's client


class KopfCluster:
    """`Cluster` over kopf's API client; valid inside a running operator (handlers, startup)."""

    def __init__(self, settings: kopf.OperatorSettings, logger: Optional[kopf.Logger] = None) -> None:
        # Imported here, not at the top: the pure reconciler tests import this module without paying for
        # kopf (about half a second). Private: see the module docstring.
        from kopf._cogs.clients import api, errors

        self._api = api
        self._errors = errors
        self._settings = settings
        self._logger = logger or logging.getLogger("safesynth_operator.cluster")

    def _rejected(self, err: Exception) -> Rejected:
        message = getattr(err, "message", None) or f"HTTP {getattr(err, 'status', '?')}"
        return Rejected(str(message)[: contract.MESSAGE_MAX])

    async def get(self, path: str) -> Optional[Obj]:
        try:
            found: Obj = await self._api.get(path, settings=self._settings, logger=self._logger)
        except self._errors.APINotFoundError:
            return None
        return found

    async def list(self, path: str, label_selector: str) -> list[Obj]:
        url = f"{path}?{urlencode({'labelSelector': label_selector})}" if label_selector else path
        try:
            result = await self._api.get(url, settings=self._settings, logger=self._logger)
        except self._errors.APINotFoundError:
            return []
        return list(result.get("items") or [])

    async def create(self, path: str, body: Mapping[str, Any]) -> Obj:
        try:
            created: Obj = await self._api.post(path, payload=dict(body), settings=self._settings, logger=self._logger)
        except self._errors.APIConflictError:
            raise AlreadyExists(path) from None
        except (self._errors.APIUnprocessableEntityError, self._errors.APIForbiddenError) as err:
            raise self._rejected(err) from None
        except self._errors.APIClientError as err:
            if getattr(err, "status", None) == 400:
                raise self._rejected(err) from None
            raise
        return created

    async def patch(self, path: str, body: Mapping[str, Any]) -> Optional[Obj]:
        try:
            patched: Obj = await self._api.patch(
                path,
                payload=dict(body),
                headers={"Content-Type": "application/merge-patch+json"},
                settings=self._settings,
                logger=self._logger,
            )
        except self._errors.APINotFoundError:
            return None
        except self._errors.APIUnprocessableEntityError as err:
            raise self._rejected(err) from None
        return patched

    async def delete(self, path: str) -> None:
        try:
            await self._api.delete(
                path,
                payload={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
                settings=self._settings,
                logger=self._logger,
            )
        except self._errors.APINotFoundError:
            pass
