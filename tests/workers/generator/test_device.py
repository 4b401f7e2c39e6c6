"""Device choice and torch threads."""

from __future__ import annotations

import pytest
import torch

from safesynth.errors import BadInputError
from safesynth.generator import device as D


def test_cpu_and_auto() -> None:
    assert D.pick_device("cpu") == "cpu"
    assert D.pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_a_gpu_is_a_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"training\.device"):
        D.pick_device("cuda")


def test_threads_default_to_one() -> None:
    before = torch.get_num_threads()
    try:
        assert D.configure_threads(None) == 1 and torch.get_num_threads() == 1
        assert D.configure_threads(2) == 2
    finally:
        torch.set_num_threads(before)
