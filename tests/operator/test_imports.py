"""The operator image is slim: importing the handlers pulls in no ML or storage stack."""

from __future__ import annotations

import os
import subprocess
import sys

FORBIDDEN = ("pandas", "torch", "presidio_analyzer", "presidio_anonymizer", "boto3", "numpy", "transformers")


def test_handlers_import_no_ml_modules() -> None:
    code = (
        "import sys, safesynth_operator.handlers, safesynth_operator.__main__\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    env = {**os.environ, "SAFESYNTH_OPERATOR_METRICS_PORT": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""
