"""Stage Jobs and the spec ConfigMap, compared with expected YAML under tests/operator/expected/.

Regenerate after an intended change with SAFESYNTH_UPDATE_EXPECTED=1 and review the diff.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml

from safesynth.spec.models import StageName

from safesynth_operator import manifests as m
from tests.operator.conftest_helpers import NS, UID, config, cr, spec_of

EXPECTED = Path(__file__).with_name("expected")


def _normalize(manifest: dict[str, Any]) -> dict[str, Any]:
    """Replace what follows every new spec field (the spec JSON and its hash) by placeholders.

    Other sections of the spec grow as stages are built; the manifests' shape is
    what these files pin. The payload and hash are checked on their own below.
    """
    out = copy.deepcopy(manifest)
    for meta in (out["metadata"], out.get("spec", {}).get("template", {}).get("metadata", {})):
        if "safesynth.io/spec-hash" in meta.get("labels", {}):
            meta["labels"]["safesynth.io/spec-hash"] = "<spec hash>"
    if "spec.json" in out.get("data", {}):
        out["data"]["spec.json"] = "<spec payload>"
    return out


def _compare(name: str, manifest: dict[str, Any]) -> None:
    manifest = _normalize(manifest)
    path = EXPECTED / name
    if os.environ.get("SAFESYNTH_UPDATE_EXPECTED") == "1":
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    assert manifest == yaml.safe_load(path.read_text()), f"{name} differs; see the module docstring"


def _owner(**labels: str) -> m.Owner:
    return m.Owner("demo", NS, UID, labels)


FULL = cr(
    artifacts={"uri": "s3://runs/root/", "secretRef": {"name": "s3-creds"}, "endpoint": "http://minio:9000",
               "region": "eu-west-1"},
    resources={"train": {"requests": {"memory": "32Gi"}, "tolerations": [{"key": "team", "operator": "Exists"}]}},
)


def test_prepare_job_on_cpu() -> None:
    _compare("stage-job-prepare.yaml", m.build_stage_job(_owner(), spec_of(FULL), StageName.PREPARE, config()))


def test_train_job_on_gpu_with_overrides_and_queue() -> None:
    owner = _owner(**{"kueue.x-k8s.io/queue-name": "gpu-queue", "kueue.x-k8s.io/priority-class": "batch-high"})
    job = m.build_stage_job(owner, spec_of(FULL), StageName.TRAIN, config())
    _compare("stage-job-train-gpu.yaml", job)
    # Kueue: the queue and priority reach the Job's Workload; created suspended, so nothing starts unadmitted.
    assert job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "batch-high"
    assert job["spec"]["suspend"] is True
    cleanup = m.build_cleanup_job(owner, spec_of(FULL), config())
    assert "suspend" not in cleanup["spec"] and not any(k.startswith("kueue") for k in cleanup["metadata"]["labels"])
    # A larger request raises the default limit rather than producing an invalid Job.
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "32Gi"


def test_spec_configmap() -> None:
    spec = spec_of(FULL)
    cm = m.build_spec_configmap(_owner(), spec)
    _compare("spec-configmap.yaml", cm)
    assert cm["data"]["spec.json"] == m.spec_payload(spec)
    assert cm["metadata"]["labels"]["safesynth.io/spec-hash"] == m.spec_hash(m.spec_payload(spec))
    job = m.build_stage_job(_owner(), spec, StageName.PREPARE, config())
    assert job["metadata"]["labels"]["safesynth.io/spec-hash"] == cm["metadata"]["labels"]["safesynth.io/spec-hash"]


def test_gpu_zero_moves_a_stage_to_cpu_nodes() -> None:
    body = cr(resources={"generate": {"gpu": 0, "nodeSelector": {"pool": "cpu"}}})
    pod = m.build_stage_job(_owner(), spec_of(body), StageName.GENERATE, config())["spec"]["template"]["spec"]
    res = pod["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in res.get("limits", {}) and "nvidia.com/gpu" not in res.get("requests", {})
    assert pod["nodeSelector"] == {"pool": "cpu"} and "tolerations" not in pod
    assert all(v["name"] != "dshm" for v in pod["volumes"])


def test_credentials_only_by_secret_reference() -> None:
    job = m.build_stage_job(_owner(), spec_of(FULL), StageName.EVALUATE, config())
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert "value" not in env[key] and env[key]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": key}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000"
    # Without a secretRef nor an operator default, no credential variables at all.
    plain = m.build_stage_job(_owner(), spec_of(cr()), StageName.EVALUATE, config())
    names = {e["name"] for e in plain["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_pii_key_reaches_only_the_pii_pod_by_reference() -> None:
    from safesynth.pii.keys import KEY_ENV  # the name the worker reads

    body = cr(pii={"keySecretRef": {"name": "pii-key", "key": "hmac"}})
    for stage in StageName:
        env = {e["name"]: e for e in m.build_stage_job(_owner(), spec_of(body), stage, config())
               ["spec"]["template"]["spec"]["containers"][0]["env"]}
        if stage is StageName.PII:
            assert env[KEY_ENV] == {"name": KEY_ENV, "valueFrom": {"secretKeyRef": {"name": "pii-key", "key": "hmac"}}}
        else:
            assert KEY_ENV not in env
    plain = m.build_stage_job(_owner(), spec_of(cr()), StageName.PII, config())
    assert KEY_ENV not in {e["name"] for e in plain["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_restricted_pod_security() -> None:
    pod = m.build_stage_job(_owner(), spec_of(cr()), StageName.PII, config())["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert ctr["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                      "readOnlyRootFilesystem": True, "runAsNonRoot": True}
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"


def test_run_uri_and_hash() -> None:
    spec = spec_of(cr())
    assert m.run_uri(spec, config(), _owner()) == "s3://runs/ns/demo-0123abcd/"
    assert m.run_uri(spec_of(cr(artifacts={})), config(artifactsUri="s3://default/"), _owner()) == \
        "s3://default/ns/demo-0123abcd/"
    same = m.spec_hash(m.spec_payload(spec_of(cr(suspend=True))))
    assert same == m.spec_hash(m.spec_payload(spec)), "suspending must not look like a new spec"
    assert m.spec_hash(m.spec_payload(spec_of(cr(data={"uri": "s3://in/other.csv"})))) != same
    assert "suspend" not in json.loads(m.spec_payload(spec))


def test_cleanup_job_runs_clean_on_the_run_prefix() -> None:
    job = m.build_cleanup_job(_owner(), spec_of(FULL), config())
    ctr = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["name"] == "demo-cleanup"
    assert ctr["command"][:2] == ["safesynth", "clean"] and ctr["command"][-1] == "s3://runs/root/ns/demo-0123abcd/"


SHARDED = cr(artifacts={"uri": "s3://runs/root/"})
SHARDED["spec"]["generation"] = {"shards": 4}  # (cr's own `generation` is metadata.generation)


def test_sharded_generate_is_one_indexed_job_each_pod_its_shard() -> None:
    job = m.build_stage_job(_owner(), spec_of(SHARDED), StageName.GENERATE, config())
    _compare("stage-job-generate-sharded.yaml", job)
    assert (job["spec"]["completionMode"], job["spec"]["completions"], job["spec"]["parallelism"]) == ("Indexed", 4, 4)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--shard", "$(JOB_COMPLETION_INDEX)/4"]
    single = m.build_stage_job(_owner(), spec_of(cr()), StageName.GENERATE, config())
    assert "completionMode" not in single["spec"] and "--shard" not in single["spec"]["template"]["spec"]["containers"][0]["command"]


def test_merge_job_runs_the_generate_stage_on_cpu_with_generate_labels() -> None:
    owner = _owner(**{"kueue.x-k8s.io/queue-name": "gpu-queue"})
    spec = spec_of(SHARDED)
    merge = m.build_merge_job(owner, spec, config())
    _compare("merge-job.yaml", merge)
    generate = m.build_stage_job(owner, spec, StageName.GENERATE, config())
    labels = merge["metadata"]["labels"]
    assert merge["metadata"]["name"] == "demo-merge" and labels["app.kubernetes.io/component"] == "merge"
    assert labels["safesynth.io/inputs-hash"] == generate["metadata"]["labels"]["safesynth.io/inputs-hash"]
    pod = merge["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in json.dumps(pod) and "completionMode" not in merge["spec"]
    assert pod["containers"][0]["command"][:3] == ["safesynth", "stage", "generate"] and "--shard" not in pod["containers"][0]["command"]
