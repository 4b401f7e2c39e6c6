"""Where the generator runs: CUDA when asked for or present, and how many CPU threads torch uses.

Threads default to 1: on a busy 2-core machine two torch threads ran about six
times slower than one, and a pod's CPU limit is rarely more.
"""

from __future__ import annotations

from typing import Any, Optional

from safesynth.errors import BadInputError

DEFAULT_THREADS = 1


def pick_device(requested: str = "auto") -> str:
    """"cuda" or "cpu" for spec.training.device (auto | cpu | cuda)."""
    import torch

    requested = getattr(requested, "value", requested)
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise BadInputError("spec.training.device is cuda but no CUDA device is visible; use auto or cpu")
        return "cuda"
    return "cuda" if torch.cuda.is_available() else "cpu"


def configure_threads(threads: Optional[int]) -> int:
    """Set torch's intra-op threads (spec.training.threads, default 1); returns the number set."""
    import torch

    n = threads or DEFAULT_THREADS
    torch.set_num_threads(n)
    return n


def describe(device: str) -> dict[str, Any]:
    """A summary-friendly description of the device (name and count, no host details)."""
    import torch

    if device == "cuda":
        return {"device": "cuda", "deviceName": torch.cuda.get_device_name(0)}
    return {"device": "cpu", "threads": torch.get_num_threads()}
