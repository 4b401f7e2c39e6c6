"""`kopf run` against the emulation: a minimal operator's handler runs and its status patch lands.

This is the proof that kopf's startup (discovery, CRD scan, list+watch,
annotation bookkeeping, guarded status patches, events) works against the
emulated server, so the real operator's tests can rely on it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster
KOPF_TIMEOUT_S = 30

OPERATOR = '''
import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="test.safesynth.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="test.safesynth.io")
    settings.watching.server_timeout = 10


@kopf.on.create("safesynth.io", "v1alpha1", "safesynthjobs")
def created(body, spec, patch, logger, **_):
    patch.status["phase"] = "Running"
    patch.status["stage"] = "prepare"
    logger.info("saw %s", spec["data"]["uri"])
    kopf.info(body, reason="Seen", message="seen")
'''


@pytest.mark.timeout(90)
def test_kopf_handler_patches_status(kube_api, tmp_path: Path):
    kube_api.install_crds()
    kube_api.create(Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml")
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    log = tmp_path / "kopf.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                                 "--verbose", str(operator)], env=kube_api.env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + KOPF_TIMEOUT_S
        status: dict = {}
        while time.monotonic() < deadline and proc.poll() is None:
            status = kube_api.objects.get("ssj", "quickstart").get("status") or {}
            if status.get("phase") == "Running":
                break
            time.sleep(0.1)
        assert status.get("phase") == "Running", log.read_text()[-3000:]
        assert status.get("stage") == "prepare"
        assert status.get("stages") == [] and status.get("conditions") == [], "status defaults from the CRD schema"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    annotations = kube_api.objects.get("ssj", "quickstart")["metadata"].get("annotations") or {}
    assert any(k.startswith("test.safesynth.io") for k in annotations), annotations
    used = kube_api.server.permissions(user_agent="kopf")
    assert ("safesynth.io", "safesynthjobs", "watch") in used
    assert ("safesynth.io", "safesynthjobs/status", "patch") in used or \
           ("safesynth.io", "safesynthjobs", "patch") in used
