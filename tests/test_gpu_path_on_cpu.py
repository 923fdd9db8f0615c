"""What of the GPU path this CPU-only machine can still check, every run: each model of the course goes through
the one training loop under bf16 autocast and through torch.compile, here on the CPU.

On CUDA, the training loop wraps each step in bf16 autocast (shikumi.device.autocast) and, with
TrainConfig(compile=True), in torch.compile. CPU autocast applies the same rules to the same operations (matrix
products in bf16, reductions and losses in fp32), so a model that mixes dtypes wrongly fails here as it would on a
GPU. torch.compile runs with the "aot_eager" backend: TorchDynamo's graph capture and AOTAutograd's backward, which
are the same on every device, without the slow C++ code generation of the CPU's own backend. tests/test_cuda.py runs
the real thing on a GPU machine.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from shikumi import train as train_module
from shikumi.train import TrainConfig, train
from tests.tiny_models import MODELS

STEPS = TrainConfig(max_steps=5, lr=1e-3, warmup_steps=1, eval_every=0, eval_steps=1, device="cpu", progress=False,
                    cpu_threads=1)


def _one_batch(name):
    torch.manual_seed(0)
    model, make_batch, loss_fn = MODELS[name]()
    return model, make_batch(torch.Generator().manual_seed(0)), loss_fn


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_under_bf16_autocast(name, monkeypatch):
    model, batch, loss_fn = _one_batch(name)
    monkeypatch.setattr(train_module, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    seen = set()

    def watched(m, b):
        seen.add(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu"))
        return loss_fn(m, b)

    history = train(model, lambda split: batch, watched, STEPS)
    assert seen == {torch.bfloat16}                                        # the loss ran under autocast
    assert all(math.isfinite(x) for x in history.train_loss + history.eval_loss), history.train_loss
    assert next(model.parameters()).dtype == torch.float32                 # autocast: weights stay fp32
    assert min(history.train_loss[1:]) < history.train_loss[0]             # and it learns: the loss falls


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_through_torch_compile(name, monkeypatch):
    compiled, real_compile = [], torch.compile

    def compile_(module, **kwargs):
        compiled.append(module)
        return real_compile(module, backend="aot_eager", **kwargs)

    monkeypatch.setattr(train_module.torch, "compile", compile_)
    model, batch, loss_fn = _one_batch(name)
    eager, _, _ = _one_batch(name)                                         # the same weights, not compiled
    torch.manual_seed(1)
    first_eager = loss_fn(eager, batch).item()
    torch.manual_seed(1)                                                   # the same noise inside loss_fn
    history = train(model, lambda split: batch, loss_fn, dataclasses.replace(STEPS, compile=True))
    assert compiled == [model]
    assert history.train_loss[0] == pytest.approx(first_eager, rel=1e-4)   # compiled, it computes the same loss
    assert min(history.train_loss[1:]) < history.train_loss[0]
