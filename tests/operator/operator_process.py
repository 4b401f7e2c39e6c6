"""The operator as a real process (`python -m safesynth_operator`), for cluster tests and the benchmark.

Started with the emulated API server's kubeconfig, its settings passed as
SAFESYNTH_OPERATOR_* environment variables; ready when kopf's /healthz answers;
stopped with SIGTERM (or killed, to test restarts). Its output goes to a file so
a failing test can show the operator's log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Optional

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    def __init__(self, env: Mapping[str, str], log_path: Path, **settings: Any) -> None:
        self.liveness_port = free_port()
        self.metrics_port = settings.pop("metrics_port", 0)
        self.log_path = log_path
        self.env = {**os.environ, **env, "SAFESYNTH_LOG_FORMAT": "full", "PYTHONUNBUFFERED": "1"}
        self.env["SAFESYNTH_OPERATOR_LIVENESS_PORT"] = str(self.liveness_port)
        self.env["SAFESYNTH_OPERATOR_METRICS_PORT"] = str(self.metrics_port)
        for key, value in settings.items():
            self.env[f"SAFESYNTH_OPERATOR_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 30.0) -> "OperatorProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "safesynth_operator"], cwd=REPO, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"operator not live after {timeout} s:\n{self.log()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path.exists() else ""

    def __enter__(self) -> "OperatorProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
