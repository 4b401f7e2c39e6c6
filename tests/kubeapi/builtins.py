"""Defaulting and validation of built-in objects: the subset of kube-apiserver's rules that matter here.

Real `pkg/apis/*/validation` code is huge; this module keeps the checks an
operator that builds Jobs, ConfigMaps and Secrets is likely to trip over on
a real cluster, with the real messages:

- metadata: name format (RFC 1123 subdomain, or label for Namespace/Service,
  `<plural>.<group>` for a CRD), label keys and values (63 characters),
  annotation size, ownerReference required fields, no new finalizers once
  an object is being deleted;
- Job: restartPolicy Never/OnFailure, podFailurePolicy shape (needs Never;
  exit-code values sorted, unique, no 0 with `In`), containers with names
  and images, immutable `spec.template`/`selector`/`completions`/
  `podFailurePolicy`; defaults (backoffLimit 6, completions/parallelism 1,
  selector and `job-name`/`controller-uid` labels on the template);
  delete without propagationPolicy orphans pods (handled in store.py);
- Pod: containers, images, restartPolicy; container defaults
  (terminationMessagePath /dev/termination-log, policy File);
- ConfigMap/Secret: key format, 1 MiB total, `immutable`, Secret
  `stringData` folded into base64 `data`;
- Deployment: selector required and matching the template labels;
- CustomResourceDefinition: name, names, one storage version, a schema per
  version, CEL rules that compile; status Established/NamesAccepted.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

from tests.kubeapi.errors import Cause
from tests.kubeapi.resources import ResourceType

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 f"validation is '{DNS1123_SUBDOMAIN}')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             f"'{DNS1123_LABEL}')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   f"'12345', regex used for validation is '{_LABEL_VALUE}')")
MAX_CONFIG_BYTES = 1024 * 1024
MAX_ANNOTATION_BYTES = 256 * 1024


def _q(value: Any) -> str:
    return json.dumps(value)


# -- metadata ---------------------------------------------------------------------------------
def _name_rule(rt: ResourceType) -> str:
    if (rt.group, rt.plural) in (("", "namespaces"), ("", "services")):
        return "label"
    if rt.group == "rbac.authorization.k8s.io" or (rt.group, rt.plural) in (("", "events"),
                                                                             ("events.k8s.io", "events")):
        return "path"
    return "subdomain"


def validate_name(rt: ResourceType, name: str) -> list[Cause]:
    rule = _name_rule(rt)
    if rule == "path":
        if name in (".", "..") or "/" in name or "%" in name:
            return [Cause("metadata.name", f"Invalid value: {_q(name)}: may not contain '/' or '%'")]
        return []
    limit, pattern, msg = (63, DNS1123_LABEL, LABEL_MSG) if rule == "label" else (253, DNS1123_SUBDOMAIN,
                                                                                   SUBDOMAIN_MSG)
    causes = []
    if len(name) > limit:
        causes.append(Cause("metadata.name", f"Invalid value: {_q(name)}: must be no more than {limit} characters"))
    if not re.fullmatch(pattern, name):
        causes.append(Cause("metadata.name", f"Invalid value: {_q(name)}: {msg}"))
    return causes


def validate_labels(labels: Any, path: str = "metadata.labels") -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [Cause(path, f"Invalid value: {_q(labels)}: must be a map of strings")]
    causes = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, prefix))) or not name \
                or len(name) > 63 or not re.fullmatch(_LABEL_NAME, name):
            causes.append(Cause(path, f"Invalid value: {_q(key)}: name part must consist of alphanumeric "
                                      f"characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                      f"character, at most 63 characters"))
        if not isinstance(value, str):
            causes.append(Cause(f"{path}", f"Invalid value: {_q(value)}: label values must be strings"))
            continue
        if len(value) > 63:
            causes.append(Cause(path, f"Invalid value: {_q(value)}: must be no more than 63 characters"))
        if not re.fullmatch(_LABEL_VALUE, value):
            causes.append(Cause(path, f"Invalid value: {_q(value)}: {LABEL_VALUE_MSG}"))
    return causes


def validate_metadata(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes = validate_name(rt, meta.get("name", ""))
    causes += validate_labels(meta.get("labels"))
    annotations = meta.get("annotations") or {}
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > MAX_ANNOTATION_BYTES:
        causes.append(Cause("metadata.annotations", f"Too long: must have at most {MAX_ANNOTATION_BYTES} bytes",
                            "FieldValueTooLong"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                causes.append(Cause(f"metadata.ownerReferences[{i}].{key}", "Required value"
                                    if key != "uid" else "Invalid value: \"\": uid must not be empty",
                                    "FieldValueRequired"))
    if sum(1 for ref in meta.get("ownerReferences") or [] if ref.get("controller")) > 1:
        causes.append(Cause("metadata.ownerReferences", "Invalid value: \"array\": Only one reference can have "
                                                        "Controller set to true"))
    if old is not None and (old.get("metadata") or {}).get("deletionTimestamp"):
        new_finalizers = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
        if new_finalizers:
            causes.append(Cause("metadata.finalizers", f"Forbidden: no new finalizers can be added if the object "
                                                       f"is being deleted, found new finalizers "
                                                       f"{sorted(new_finalizers)}", "FieldValueForbidden"))
    return causes


# -- defaulting -----------------------------------------------------------------------------------
def _default_container(container: dict[str, Any]) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = str(container.get("image", ""))
    container.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image.split("/")[-1]
                         else "IfNotPresent")


def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)


def apply_defaults(rt: ResourceType, obj: dict[str, Any], uid: str) -> None:
    """Server-side defaulting of built-in types (the part of `SetDefaults_*` that readers depend on)."""
    key = (rt.group, rt.plural)
    spec = obj.get("spec")
    if key == ("", "pods") and isinstance(spec, dict):
        _default_pod_spec(spec)
    elif key == ("batch", "jobs") and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("manualSelector", None)
        if spec.get("manualSelector") is None:
            spec.pop("manualSelector")
        spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
        name = obj["metadata"].get("name", "")
        generated = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                     "controller-uid": uid, "job-name": name}
        if not spec.get("manualSelector"):
            spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
            template = spec.setdefault("template", {})
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            for k, v in generated.items():
                labels.setdefault(k, v)
        if isinstance(spec.get("template", {}).get("spec"), dict):
            _default_pod_spec(spec["template"]["spec"])
    elif key == ("apps", "deployments") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        if isinstance(spec.get("template", {}).get("spec"), dict):
            _default_pod_spec(spec["template"]["spec"])
    elif key == ("", "secrets"):
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif key == ("", "namespaces"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif key == ("", "services") and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif key == ("apiextensions.k8s.io", "customresourcedefinitions") and isinstance(spec, dict):
        names = spec.get("names") or {}
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", f"{names['kind']}List")
        spec.setdefault("conversion", {"strategy": "None"})


def initial_status(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
    """What a create leaves in `.status` for types with a status subresource (clients' status is dropped)."""
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        return {"phase": "Pending", "qosClass": "BestEffort"}
    if key == ("", "namespaces"):
        return {"phase": "Active"}
    if key in (("batch", "jobs"), ("apps", "deployments"), ("", "services")):
        return {}
    return None


# -- validation -----------------------------------------------------------------------------------
def _validate_containers(spec: dict[str, Any], path: str) -> list[Cause]:
    causes = []
    containers = spec.get("containers")
    if not containers:
        return [Cause(f"{path}.containers", "Required value", "FieldValueRequired")]
    names = set()
    for i, c in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        name = c.get("name") or ""
        if not name:
            causes.append(Cause(f"{cpath}.name", "Required value", "FieldValueRequired"))
        elif len(name) > 63 or not re.fullmatch(DNS1123_LABEL, name):
            causes.append(Cause(f"{cpath}.name", f"Invalid value: {_q(name)}: {LABEL_MSG}"))
        elif name in names:
            causes.append(Cause(f"{cpath}.name", f"Duplicate value: {_q(name)}", "FieldValueDuplicate"))
        names.add(name)
        if not c.get("image"):
            causes.append(Cause(f"{cpath}.image", "Required value", "FieldValueRequired"))
        for j, env in enumerate(c.get("env") or []):
            if not env.get("name"):
                causes.append(Cause(f"{cpath}.env[{j}].name", "Required value", "FieldValueRequired"))
            if "value" in env and not isinstance(env["value"], str):
                causes.append(Cause(f"{cpath}.env[{j}].value", f"Invalid value: {_q(env['value'])}: must be a "
                                                                 f"string"))
        volume_names = {v.get("name") for v in spec.get("volumes") or []}
        for j, mount in enumerate(c.get("volumeMounts") or []):
            if mount.get("name") not in volume_names:
                causes.append(Cause(f"{cpath}.volumeMounts[{j}].name", f"Not found: {_q(mount.get('name'))}",
                                    "FieldValueNotFound"))
    return causes


def _validate_job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    causes = _validate_containers(pod_spec, "spec.template.spec")
    causes += validate_labels((template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels")
    policy = pod_spec.get("restartPolicy", "Always")
    if policy not in ("Never", "OnFailure"):
        causes.append(Cause("spec.template.spec.restartPolicy", f'Unsupported value: {_q(policy)}: supported '
                                                                f'values: "OnFailure", "Never"',
                            "FieldValueNotSupported"))
    for field in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or value < (1 if field == "activeDeadlineSeconds"
                                                                           else 0)):
            causes.append(Cause(f"spec.{field}", f"Invalid value: {_q(value)}: must be greater than or equal to "
                                                 f"{1 if field == 'activeDeadlineSeconds' else 0}"))
    pfp = spec.get("podFailurePolicy")
    if pfp is not None:
        if policy != "Never":
            causes.append(Cause("spec.template.spec.restartPolicy", f'Invalid value: {_q(policy)}: only "Never" is '
                                                                    f'supported when podFailurePolicy is specified'))
        container_names = {c.get("name") for c in pod_spec.get("containers") or []}
        for i, rule in enumerate(pfp.get("rules") or []):
            rpath = f"spec.podFailurePolicy.rules[{i}]"
            if rule.get("action") not in ("FailJob", "FailIndex", "Ignore", "Count"):
                causes.append(Cause(f"{rpath}.action", f'Unsupported value: {_q(rule.get("action"))}: supported '
                                                       f'values: "Count", "FailIndex", "FailJob", "Ignore"',
                                    "FieldValueNotSupported"))
            codes = rule.get("onExitCodes")
            if bool(codes) == bool(rule.get("onPodConditions")):
                causes.append(Cause(rpath, "Invalid value: specifying one of OnExitCodes and OnPodConditions is "
                                           "required"))
            if not codes:
                continue
            if codes.get("operator") not in ("In", "NotIn"):
                causes.append(Cause(f"{rpath}.onExitCodes.operator", f'Unsupported value: '
                                    f'{_q(codes.get("operator"))}: supported values: "In", "NotIn"',
                                    "FieldValueNotSupported"))
            cname = codes.get("containerName")
            if cname is not None and cname not in container_names:
                causes.append(Cause(f"{rpath}.onExitCodes.containerName", f"Invalid value: {_q(cname)}: must be "
                                    f"one of the container or initContainer names in the pod template"))
            values = codes.get("values") or []
            if not values:
                causes.append(Cause(f"{rpath}.onExitCodes.values", "Invalid value: \"array\": at least one value "
                                                                   "is required"))
            for j, v in enumerate(values):
                vpath = f"{rpath}.onExitCodes.values[{j}]"
                if codes.get("operator") == "In" and v == 0:
                    causes.append(Cause(vpath, "Invalid value: 0: must not be 0 for the In operator"))
                if j > 0 and v == values[j - 1]:
                    causes.append(Cause(vpath, f"Duplicate value: {v}", "FieldValueDuplicate"))
                elif j > 0 and v < values[j - 1]:
                    causes.append(Cause(vpath, f"Invalid value: {v}: must be ordered"))
    if old is not None:
        old_spec = old.get("spec") or {}
        for field in ("template", "selector", "completions", "podFailurePolicy", "completionMode"):
            if spec.get(field) != old_spec.get(field):
                causes.append(Cause(f"spec.{field}", f"Invalid value: {_q(_summary(spec.get(field)))}: field is "
                                                     f"immutable"))
    return causes


def _summary(value: Any) -> Any:
    return "object" if isinstance(value, dict) else value


def _validate_config(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    causes = []
    total = 0
    fields = ("data", "binaryData") if rt.plural == "configmaps" else ("data",)
    for field in fields:
        for key, value in (obj.get(field) or {}).items():
            if len(key) > 253 or not re.fullmatch(_CONFIG_KEY, key):
                causes.append(Cause(f"{field}[{key}]", f"Invalid value: {_q(key)}: a valid config key must consist "
                                                       f"of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',"
                                                       f"  or 'KEY_NAME',  or 'key-name', regex used for validation "
                                                       f"is '{_CONFIG_KEY}')"))
            if not isinstance(value, str):
                causes.append(Cause(f"{field}[{key}]", f"Invalid value: {_q(value)}: must be a string"))
                continue
            total += len(key) + len(value)
    if total > MAX_CONFIG_BYTES:
        causes.append(Cause("", f"Too long: must have at most {MAX_CONFIG_BYTES} bytes", "FieldValueTooLong"))
    if old is not None and old.get("immutable"):
        for field in (*fields, "immutable"):
            if obj.get(field) != old.get(field):
                causes.append(Cause(field, "Forbidden: field is immutable when `immutable` is set",
                                    "FieldValueForbidden"))
    return causes


def _validate_deployment(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels")
    if not spec.get("selector"):
        return [Cause("spec.selector", "Required value", "FieldValueRequired")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        return [Cause("spec.template.metadata.labels", f"Invalid value: {_q(labels)}: `selector` does not match "
                                                       f"template `labels`")]
    return _validate_containers((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")


def _cel_rules(schema: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(schema, dict):
        return found
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        found.append((f"{path}.x-kubernetes-validations[{i}].rule", rule))
    for key, sub in (schema.get("properties") or {}).items():
        found += _cel_rules(sub, f"{path}.properties[{key}]")
    for key in ("items", "additionalProperties"):
        found += _cel_rules(schema.get(key), f"{path}.{key}")
    return found


def validate_crd(obj: dict[str, Any]) -> list[Cause]:
    from tests.kubeapi.schema import _cel_program

    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    group, plural = spec.get("group", ""), names.get("plural", "")
    if not group or "." not in group:
        causes.append(Cause("spec.group", f"Invalid value: {_q(group)}: should be a domain with at least one dot"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(Cause(f"spec.names.{field}", "Required value", "FieldValueRequired"))
    if obj["metadata"].get("name") != f"{plural}.{group}":
        causes.append(Cause("metadata.name", f"Invalid value: {_q(obj['metadata'].get('name'))}: must be "
                                             f"spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(Cause("spec.scope", f'Unsupported value: {_q(spec.get("scope"))}: supported values: '
                                          f'"Cluster", "Namespaced"', "FieldValueNotSupported"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(Cause("spec.versions", "Invalid value: null: must have exactly one version marked as storage "
                                             "version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(Cause("spec.versions", "Invalid value: \"array\": must have exactly one version marked as "
                                             "storage version"))
    for i, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            causes.append(Cause(f"spec.versions[{i}].schema.openAPIV3Schema", "Required value: schemas are "
                                                                              "required", "FieldValueRequired"))
            continue
        for path, rule in _cel_rules(schema, f"spec.versions[{i}].schema.openAPIV3Schema"):
            try:
                _cel_program(rule.get("rule", ""))
            except Exception as exc:  # broad on purpose: any parse failure is a compile error to the user
                causes.append(Cause(path, f"Invalid value: {_q(rule.get('rule'))}: compilation failed: {exc}"))
    return causes


def crd_status(obj: dict[str, Any], now: str) -> dict[str, Any]:
    """What the apiextensions controllers write once the names are accepted (on create: a CRD update keeps it)."""
    spec = obj["spec"]
    names = copy.deepcopy(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
             "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted",
             "lastTransitionTime": now},
        ],
        "storedVersions": [storage],
    }


def validate_builtin(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    key = (rt.group, rt.plural)
    if key == ("batch", "jobs"):
        return _validate_job(obj, old)
    if key == ("", "pods"):
        spec = obj.get("spec") or {}
        causes = _validate_containers(spec, "spec")
        if spec.get("restartPolicy") not in ("Always", "OnFailure", "Never"):
            causes.append(Cause("spec.restartPolicy", f'Unsupported value: {_q(spec.get("restartPolicy"))}',
                                "FieldValueNotSupported"))
        return causes
    if key in (("", "configmaps"), ("", "secrets")):
        return _validate_config(rt, obj, old)
    if key == ("apps", "deployments"):
        return _validate_deployment(obj)
    if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return validate_crd(obj)
    return []
