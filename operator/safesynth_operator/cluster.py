"""The operator's only door to the Kubernetes API: five verbs over JSON dicts.

`Cluster` is what the reconciler needs (get, list, create, patch, delete); the
one implementation, `KopfCluster`, rides on kopf's embedded aiohttp client, so
the operator shares kopf's login, connection pool and retry back-offs and
needs neither the `kubernetes` package (about 40 MB more per process) nor a
thread per request. kopf's client lives in a private module: every use of it is
in this file, so a kopf upgrade touches one place.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Protocol
from urllib.parse import urlencode

from safesynth_operator import constants as c

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

    def __init__(self, settings: Any, logger: Optional[logging.Logger] = None) -> None:
        from kopf._cogs.clients import api, errors  # private: see the module docstring

        self._api = api
        self._errors = errors
        self._settings = settings
        self._logger = logger or logging.getLogger("safesynth_operator.cluster")

    def _rejected(self, err: Exception) -> Rejected:
        message = getattr(err, "message", None) or f"HTTP {getattr(err, 'status', '?')}"
        return Rejected(str(message)[: c.MESSAGE_MAX])

    async def get(self, path: str) -> Optional[Obj]:
        try:
            return await self._api.get(path, settings=self._settings, logger=self._logger)
        except self._errors.APINotFoundError:
            return None

    async def list(self, path: str, label_selector: str) -> list[Obj]:
        url = f"{path}?{urlencode({'labelSelector': label_selector})}" if label_selector else path
        try:
            result = await self._api.get(url, settings=self._settings, logger=self._logger)
        except self._errors.APINotFoundError:
            return []
        return list(result.get("items") or [])

    async def create(self, path: str, body: Mapping[str, Any]) -> Obj:
        try:
            return await self._api.post(path, payload=dict(body), settings=self._settings, logger=self._logger)
        except self._errors.APIConflictError:
            raise AlreadyExists(path) from None
        except (self._errors.APIUnprocessableEntityError, self._errors.APIForbiddenError) as err:
            raise self._rejected(err) from None
        except self._errors.APIClientError as err:
            if getattr(err, "status", None) == 400:
                raise self._rejected(err) from None
            raise

    async def patch(self, path: str, body: Mapping[str, Any]) -> Optional[Obj]:
        try:
            return await self._api.patch(
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
