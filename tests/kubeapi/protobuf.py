"""Decoding the few Kubernetes protobuf request bodies that Go clients send here.

client-go's typed clientsets encode request bodies as
`application/vnd.kubernetes.protobuf` for built-in types. Helm 4 stores
releases through such a client (Secrets, or ConfigMaps with
HELM_DRIVER=configmap), so without this decoder `helm install` cannot write
its release record. Responses stay JSON, which those clients also accept.

Format (k8s.io/apimachinery/pkg/runtime/serializer/protobuf): the magic
bytes `k8s\\x00`, then a `runtime.Unknown` message whose `raw` field holds
the object. Only Secret, ConfigMap and DeleteOptions are decoded, and of
them only the fields helm sends (ObjectMeta without ownerReferences and
finalizers; no `immutable`; DeleteOptions' grace period and propagation
policy); other fields are skipped, other kinds get a 415.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from tests.kubeapi import errors

MAGIC = b"k8s\x00"
Schema = dict[int, tuple[str, Any]]

_TIME: Schema = {1: ("seconds", "int"), 2: ("nanos", "int")}
_OBJECT_META: Schema = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"), 4: ("selfLink", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "string")), 12: ("annotations", ("map", "string")),
}
_KINDS: dict[str, Schema] = {
    "Secret": {1: ("metadata", ("message", _OBJECT_META)), 2: ("data", ("map", "bytes")), 3: ("type", "string"),
               4: ("stringData", ("map", "string"))},
    "ConfigMap": {1: ("metadata", ("message", _OBJECT_META)), 2: ("data", ("map", "string")),
                  3: ("binaryData", ("map", "bytes"))},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 4: ("propagationPolicy", "string")},
}
_UNKNOWN: Schema = {1: ("typeMeta", ("message", {1: ("apiVersion", "string"), 2: ("kind", "string")})),
                    2: ("raw", "raw"), 3: ("contentEncoding", "string"), 4: ("contentType", "string")}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field; length-delimited values stay bytes."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        else:  # fixed32/64: no field of the messages decoded here uses them
            raise errors.bad_request(f"protobuf: unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(kind: Any, value: Any) -> Any:
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "raw":
        return value
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "time":
        seconds = _decode(value, _TIME).get("seconds", 0)
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _decode(value, kind[1])  # ("message", schema)


def _decode(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _wire, value in _fields(buf):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = _decode(value, {1: ("key", "string"), 2: ("value", kind[1])})
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        else:
            out[name] = _scalar(kind, value)
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded request body as the JSON-shaped dict the store expects."""
    unknown = _decode(body[len(MAGIC):], _UNKNOWN)
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in _KINDS:
        raise errors.ApiError(415, "UnsupportedMediaType", f"the emulated server decodes protobuf only for "
                                                           f"{sorted(_KINDS)}, not {kind!r}; send JSON")
    obj = _decode(unknown.get("raw", b""), _KINDS[kind])
    if kind != "DeleteOptions":
        obj = {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
    return obj
