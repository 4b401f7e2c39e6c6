"""Operator settings: file, environment overrides, errors named by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from safesynth.errors import SpecError
from safesynth.spec.models import STAGE_ORDER, StageName

from safesynth_operator.config import load_config


def test_defaults_run_every_stage_with_gpu_for_train_and_generate() -> None:
    cfg = load_config(environ={})
    assert cfg.stages == list(STAGE_ORDER)
    assert [s for s in STAGE_ORDER if cfg.stage_defaults_for(s).gpu] == [StageName.TRAIN, StageName.GENERATE]


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "image: registry.local/worker:1\n"
        "stages: [evaluate, prepare]\n"
        "stageDefaults:\n  train: {gpu: 0}\n"
        "watchNamespaces: [a]\n"
    )
    cfg = load_config(path, environ={"SAFESYNTH_OPERATOR_WATCH_NAMESPACES": "x, y", "SAFESYNTH_OPERATOR_METRICS_PORT": "0"})
    assert cfg.image == "registry.local/worker:1"
    assert cfg.stages == [StageName.PREPARE, StageName.EVALUATE]  # put in pipeline order
    assert cfg.stage_defaults_for(StageName.TRAIN).gpu == 0
    assert cfg.watch_namespaces == ["x", "y"] and cfg.metrics_port == 0


@pytest.mark.parametrize(
    "text, env, where",
    [
        ("stagez: [prepare]\n", {}, "stagez"),
        ("stages: [prepare, prepare]\n", {}, "stages"),
        ("backoffLimit: -1\n", {}, "backoffLimit"),
        ("", {"SAFESYNTH_OPERATOR_NO_SUCH": "1"}, "SAFESYNTH_OPERATOR_NO_SUCH"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, env: dict[str, str], where: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_config(path, environ=env)
    assert where.lower() in str(err.value).lower().replace("backoff_limit", "backofflimit")
