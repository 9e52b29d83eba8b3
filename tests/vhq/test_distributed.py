"""Device resolution: clear errors, and float32 pinned on CUDA (no TF32)."""

from __future__ import annotations

import pytest
import torch

from vhq import distributed
from vhq.errors import BadInput


@pytest.fixture
def tf32_on():
    """Both TF32 switches on for the test, restored afterwards (process-wide flags)."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_cuda_resolution_turns_tf32_off(monkeypatch, tf32_on):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert distributed.resolve_device("cuda:0") == torch.device("cuda", 0)
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is False


def test_auto_on_a_gpu_machine_also_pins_fp32(monkeypatch, tf32_on):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert distributed.resolve_device("auto").type == "cuda"
    assert torch.backends.cudnn.allow_tf32 is False


def test_cpu_leaves_the_flags_alone(tf32_on):
    assert distributed.resolve_device("cpu") == torch.device("cpu")
    assert torch.backends.cudnn.allow_tf32 is True


@pytest.mark.parametrize("name,message", [("cdua", "not a valid device"), ("cuda", "CUDA is not available")])
def test_bad_device_is_one_line(monkeypatch, name, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BadInput, match=message):
        distributed.resolve_device(name)
