"""shikumi.device: the device policy, seeding and autocast, on a machine with or without a GPU."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from shikumi.device import autocast, describe, get_device, seed_everything

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="this machine has a GPU")
@pytest.mark.parametrize("preference", ["auto", "AUTO", "", None])
def test_auto_is_cpu_without_a_gpu(preference):
    assert get_device(preference) == torch.device("cpu")


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU here")
def test_auto_is_cuda_with_a_gpu():
    assert get_device("auto").type == "cuda"


@pytest.mark.parametrize("preference", ["cpu", "CPU"])
def test_cpu_on_request(preference):
    device = get_device(preference)
    assert isinstance(device, torch.device)
    assert device.type == "cpu"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("preference", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_a_clear_error(preference):
    with pytest.raises(RuntimeError) as info:
        get_device(preference)
    message = str(info.value)
    assert "no CUDA GPU" in message
    assert repr(preference) in message
    assert "DEVICE = 'auto'" in message


def test_seed_everything_makes_torch_reproducible():
    seed_everything(42)
    first = torch.randn(5)
    seed_everything(42)
    second = torch.randn(5)
    assert torch.equal(first, second)
    seed_everything(43)
    assert not torch.equal(first, torch.randn(5))


def test_seed_everything_seeds_python_and_numpy():
    seed_everything(7)
    a = (random.random(), np.random.rand())
    seed_everything(7)
    assert (random.random(), np.random.rand()) == a


def test_autocast_on_cpu_is_a_no_op():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast("cpu") as entered:
        product = a @ b
    assert entered is None
    assert product.dtype == torch.float32  # a real CPU autocast would give bfloat16
    assert torch.allclose(product, a @ b)
    assert not torch.is_autocast_enabled("cpu")


def test_autocast_accepts_a_device_object():
    with autocast(torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU here")
def test_autocast_on_cuda_is_bf16():
    a = torch.randn(4, 4, device="cuda")
    with autocast("cuda"):
        assert (a @ a).dtype == torch.bfloat16


def test_describe_cpu():
    text = describe("cpu")
    assert text.startswith("cpu (") and "threads" in text


def test_describe_speaks_the_lessons_language():
    """The Japanese edition prints its device line in Japanese (set_language("ja") at the lesson's top)."""
    from shikumi import lang

    assert describe("cpu", "ja").startswith("cpu（") and "スレッド" in describe("cpu", "ja")
    before = lang.current()
    try:
        lang.set_language("ja")
        assert "スレッド" in describe("cpu") and "threads" not in describe("cpu")
    finally:
        lang.set_language(before)
    assert "threads" in describe("cpu")
