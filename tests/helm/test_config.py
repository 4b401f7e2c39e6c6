"""The operator-defaults ConfigMap: what the chart renders is what the operator loads.

Each rendering goes through `safesynth_operator.config.load_config`, the
function the operator calls at start, so a key the operator does not know (it
forbids extra keys) or a value it rejects fails here rather than in a cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from safesynth.spec.models import STAGE_ORDER, StageName
from safesynth_operator.config import OperatorConfig, StageDefaults, load_config
from tests.helm import chart

pytestmark = chart.needs_helm


def loaded(docs: list[chart.Manifest], tmp_path: Path) -> OperatorConfig:
    path = tmp_path / "config.yaml"
    path.write_text(chart.operator_config_text(docs))
    return load_config(path, environ={})


def test_default_values_give_the_operators_own_defaults(tmp_path: Path) -> None:
    """The chart restates the operator's defaults; they must not drift apart."""
    config = loaded(chart.template(), tmp_path)
    assert config == OperatorConfig()


def test_full_values_reach_every_setting(tmp_path: Path) -> None:
    config = loaded(chart.template(chart.CHART / "ci" / "full-values.yaml"), tmp_path)
    assert config.image == "registry.example.com/ml/safesynth-worker:0.1.0-cu128"
    assert config.image_pull_policy == "Always"
    assert config.image_pull_secrets == ["regcred", "mirror-cred"]
    assert config.service_account_name == "safesynth-stage"
    assert config.gpu_node_selector == {"cloud.example.com/accelerator": "h100"}, "`key: null` removes a default"
    assert [t["key"] for t in config.gpu_tolerations] == ["nvidia.com/gpu", "spot"]
    assert config.gpu_runtime_class_name == "nvidia" and config.shm_size == "8Gi"
    assert config.priority_class_name == "batch-low"
    assert (config.artifacts_uri, config.artifacts_endpoint, config.artifacts_region, config.artifacts_secret_name) == (
        "s3://synthetic-data/runs", "https://s3.eu-central-1.amazonaws.com", "eu-central-1", "safesynth-s3")
    assert config.local_paths_mounted is True and config.retry_backoff_seconds == 30
    assert (config.backoff_limit, config.active_deadline_seconds, config.ttl_seconds_after_finished) == (5, 43200, 600)
    assert config.run_as_user == 20000 and config.cache_dir == "/var/cache/safesynth"
    assert (config.metrics_port, config.liveness_port, config.resync_seconds) == (9100, 8081, 30.0)

    train = config.stage_defaults_for(StageName.TRAIN)
    assert train.gpu == 2 and train.requests == {"cpu": "8", "memory": "64Gi"}
    assert train.node_selector == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert train.active_deadline_seconds == 172800
    evaluate = config.stage_defaults_for(StageName.EVALUATE)
    assert evaluate.image == "registry.example.com/ml/safesynth-worker:0.1.0-cpu" and evaluate.backoff_limit == 4
    assert evaluate.requests == {"cpu": "2", "memory": "4Gi"}, "a partial override keeps the chart's other defaults"



def test_every_operator_setting_is_reachable_from_the_values() -> None:
    """A setting added to OperatorConfig needs a value in the chart (or it can only come via extraConfig)."""
    text = chart.operator_config_text(chart.template(chart.CHART / "ci" / "full-values.yaml"))
    written = OperatorConfig.model_validate(yaml.safe_load(text)).model_fields_set
    missing = set(OperatorConfig.model_fields) - written
    assert not missing, f"operator settings the chart's values cannot set: {missing}"


def test_namespaced_values(tmp_path: Path) -> None:
    config = loaded(chart.template(chart.CHART / "ci" / "namespaced-values.yaml"), tmp_path)
    assert config.watch_namespaces == ["team-a", "team-b"]
    assert config.artifacts_endpoint == "http://minio.minio.svc:9000"


@pytest.mark.parametrize(
    "sets, check",
    [
        (["metrics.enabled=false"], lambda c: c.metrics_port == 0),
        (["jobs.ttlSecondsAfterFinished=null"], lambda c: c.ttl_seconds_after_finished is None),
        (["workerImage.digest=sha256:" + "a" * 64], lambda c: c.image.endswith("@sha256:" + "a" * 64)),
        (["workerImage.tag=1.2.3"], lambda c: c.image == "ghcr.io/safesynth/safesynth-worker:1.2.3"),
        (["stages={prepare,pii}"], lambda c: c.stages == [StageName.PREPARE, StageName.PII]),
        (["artifacts.endpoint="], lambda c: c.artifacts_endpoint is None),
        (["extraConfig.resyncSeconds=5"], lambda c: c.resync_seconds == 5.0),
        (["imagePullSecrets[0].name=regcred"], lambda c: c.image_pull_secrets == ["regcred"]),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
def test_single_values(sets: list[str], check: Any, tmp_path: Path) -> None:
    assert check(loaded(chart.template(sets=sets), tmp_path))


def test_extra_config_with_an_unknown_key_is_refused_by_the_operator(tmp_path: Path) -> None:
    """extraConfig is not checked by the chart's schema; the operator stops at start instead."""
    from safesynth.errors import SpecError

    with pytest.raises(SpecError, match="invalid operator settings"):
        loaded(chart.template(sets=["extraConfig.resyncSecond=5"]), tmp_path)


def test_schema_of_stage_defaults_lists_exactly_the_operators_fields() -> None:
    schema = json.loads((chart.CHART / "values.schema.json").read_text())
    props = set(schema["definitions"]["stageDefaults"]["properties"])
    fields = {f.alias or name for name, f in StageDefaults.model_fields.items()}
    assert props == fields
    stages = schema["properties"]["stages"]["items"]["enum"]
    assert stages == [s.value for s in STAGE_ORDER]
    assert set(schema["properties"]["stageDefaults"]["properties"]) == set(stages)
