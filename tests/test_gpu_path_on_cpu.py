"""What of the GPU path this CPU-only machine can still check, every run: each model of the course goes through
the one training loop under bf16 autocast and through torch.compile, here on the CPU.

On CUDA, the training loop wraps each step in bf16 autocast (shikumi.device.autocast) and, with
TrainConfig(compile=True), in torch.compile. CPU autocast applies the same rules to the same operations (matrix
products in bf16, reductions and losses in fp32), so a model that mixes dtypes wrongly fails here as it would on a
GPU. torch.compile runs with the "aot_eager" backend: TorchDynamo's graph capture and AOTAutograd's backward, which
are the same on every device, without the slow C++ code generation of the CPU's own backend. tests/test_cuda.py runs
the real thing on a GPU machine.

The full-size recipes, meant for a GPU, take two real steps here too, on batches cut small, with the settings they
claim (Muon where they carry it over from the lessons' live recipes, min-SNR for lesson 08); lesson 05's and 07's
full recipes changed nothing and are left to benchmarks/full_recipes.py.
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


# -- the full-size recipes (meant for a GPU) take real steps here, with the settings they claim -----------------


class _Trained(Exception):
    """Raised once the recipe's training is over: the test stops before its measuring and saving (CPU-minutes)."""


def _first_steps(monkeypatch, recipe_module, run_recipe, batch: int = 4) -> dict:
    """Run a zoo recipe (run_recipe(), from recipe_module) through the one training loop, under bf16 autocast, its
    batches cut to `batch` items; return what the loop got and built: {"cfg", "optimizers", "history", "model"}."""
    seen: dict = {}
    real_train, real_make = train_module.train, train_module.make_optimizers

    def make_optimizers(model, cfg):
        seen["optimizers"] = real_make(model, cfg)
        return seen["optimizers"]

    def train_(model, get_batch, loss_fn, cfg, **kwargs):
        def small(split):
            return tuple(t[:batch] for t in get_batch(split))
        seen.update(cfg=cfg, model=model, history=real_train(model, small, loss_fn, cfg, **kwargs))
        raise _Trained

    monkeypatch.setattr(train_module, "train", train_)
    monkeypatch.setattr(recipe_module, "train", train_, raising=False)   # a module that imported it at the top
    monkeypatch.setattr(train_module, "make_optimizers", make_optimizers)
    monkeypatch.setattr(train_module, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    with pytest.raises(_Trained):
        run_recipe()
    assert all(math.isfinite(x) for x in seen["history"].train_loss + seen["history"].eval_loss)
    return seen


def _assert_muon_stepped(seen: dict, lr: float):
    """The optimizers are [Muon, AdamW], Muon holds every hidden matrix of the model and has taken the steps,
    at the recipe's learning rate: a recipe that fell back to AdamW (or whose model had no nn.Linear for Muon)
    fails here."""
    model, optimizers = seen["model"], seen["optimizers"]
    assert [type(o) for o in optimizers] == [torch.optim.Muon, torch.optim.AdamW]
    in_muon = [p for g in optimizers[0].param_groups for p in g["params"]]
    hidden = train_module.muon_matrices(model)
    assert len(hidden) > 10 and {id(p) for p in in_muon} == {id(p) for p in hidden}
    assert all("momentum_buffer" in optimizers[0].state[p] for p in hidden)          # Muon stepped each one
    last = seen["history"].step[-1]
    assert optimizers[0].param_groups[0]["lr"] == pytest.approx(train_module.lr_at(last, seen["cfg"]))
    assert seen["cfg"].lr == lr


def test_lesson_04s_full_gpt_trains_with_muon_at_its_higher_rate(monkeypatch):
    from shikumi.zoo import gpt_shakespeare

    full = gpt_shakespeare.RECIPES["full"]
    monkeypatch.setitem(gpt_shakespeare.RECIPES, "full", dataclasses.replace(
        full, batch_size=2, train=dataclasses.replace(full.train, eval_steps=1, cpu_threads=1)))
    seen = _first_steps(monkeypatch, gpt_shakespeare,
                        lambda: gpt_shakespeare.train_gpt("full", "cpu", max_steps=2, progress=False))
    _assert_muon_stepped(seen, lr=4e-3)
    assert seen["model"].config.d_model == 384 and seen["model"].config.block_size == 256   # the full GPT itself


def test_lesson_06s_full_clip_trains_with_muon_at_its_higher_rate(monkeypatch, tmp_path):
    from shikumi.zoo import clip_shapes

    full = clip_shapes.RECIPES["full"]
    monkeypatch.setitem(clip_shapes.RECIPES, "full", dataclasses.replace(
        full, n_pool=200, train=dataclasses.replace(full.train, eval_steps=1)))
    seen = _first_steps(monkeypatch, clip_shapes,
                        lambda: clip_shapes.train_clip_shapes(tmp_path, "full", "cpu", max_steps=2, progress=False))
    _assert_muon_stepped(seen, lr=4e-3)
    assert seen["model"].config.d_model == 128                                              # the full CLIP


def test_lesson_08s_full_unet_trains_with_min_snr(monkeypatch, tmp_path):
    from shikumi.zoo import sd_shapes

    gammas = []
    real_loss = sd_shapes.denoising_loss

    def denoising_loss(unet, batch, scheduler, snr_gamma=None):
        gammas.append(snr_gamma)
        return real_loss(unet, batch, scheduler, snr_gamma)

    monkeypatch.setattr(sd_shapes, "denoising_loss", denoising_loss)
    monkeypatch.setitem(sd_shapes.RECIPES, "full", dataclasses.replace(sd_shapes.RECIPES["full"], n_images=64,
                                                                       eval_steps=1))
    seen = _first_steps(monkeypatch, sd_shapes,
                        lambda: sd_shapes.train_sd_shapes(tmp_path, "full", "cpu", max_steps=2, progress=False))
    assert gammas and set(gammas) == {5.0}                      # every step and evaluation weighted by min-SNR
    assert [type(o) for o in seen["optimizers"]] == [torch.optim.AdamW]
    assert seen["model"].config.block_out_channels == (128, 256)                            # the wide UNet
