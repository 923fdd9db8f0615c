"""The one training loop of the course. Every model — GPT, the Transformer, the VAE, CLIP, the UNet — trains here.

    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=500))

- `get_batch(split)` returns one batch (a tuple of tensors) for "train" or "val";
- `loss_fn(model, batch)` returns a scalar loss tensor;
- the loop does the rest: AdamW, learning-rate warmup then cosine decay, gradient clipping, bf16 autocast on
  CUDA, a progress bar showing the loss, and an evaluation every `eval_every` steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from shikumi.device import autocast, cpu_threads, get_device


@dataclass
class TrainConfig:
    max_steps: int = 1000
    lr: float = 3e-4              # peak learning rate, reached after warmup
    min_lr_ratio: float = 0.1     # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 50
    weight_decay: float = 0.1     # applied to matrices only, not to biases and norms
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0        # max gradient norm; 0 turns clipping off
    eval_every: int = 100         # 0: evaluate only at the end
    eval_steps: int = 10          # batches averaged for one evaluation
    device: str = "auto"
    compile: bool = False         # torch.compile the model (worth it on a GPU for long runs)
    cpu_threads: int | None = None  # on a CPU: 1 is fastest for the course's small models; None: PyTorch's default
    progress: bool = True
    max_seconds: float | None = None  # stop early after this much wall time (a CPU budget)


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to cfg.lr, then cosine decay down to cfg.lr * cfg.min_lr_ratio at cfg.max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def _to(batch, device):
    return tuple(t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in batch)


@torch.no_grad()
def evaluate(model, get_batch, loss_fn, steps: int, device, split: str = "val") -> float:
    was_training = model.training
    model.eval()
    losses = []
    for _ in range(steps):
        with autocast(device):
            losses.append(loss_fn(model, _to(get_batch(split), device)).item())
    model.train(was_training)
    return sum(losses) / len(losses)


def train(model: torch.nn.Module, get_batch: Callable[[str], tuple], loss_fn: Callable, cfg: TrainConfig,
          on_eval: Callable[[int, float], None] | None = None) -> History:
    """Train `model` in place for cfg.max_steps steps; return the loss history."""
    with cpu_threads(cfg.cpu_threads, get_device(cfg.device)):
        return _train(model, get_batch, loss_fn, cfg, on_eval)


def _train(model, get_batch, loss_fn, cfg: TrainConfig, on_eval) -> History:
    device = get_device(cfg.device)
    model.to(device).train()
    step_model = torch.compile(model) if cfg.compile else model
    optimizer = make_optimizer(model, cfg)
    history, start = History(), time.perf_counter()
    bar = tqdm(range(cfg.max_steps), disable=not cfg.progress, desc="training", leave=False)
    for step in bar:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with autocast(device):
            loss = loss_fn(step_model, _to(get_batch("train"), device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        history.step.append(step)
        history.train_loss.append(loss.item())
        history.lr.append(lr)
        last = step == cfg.max_steps - 1
        out_of_time = cfg.max_seconds is not None and time.perf_counter() - start > cfg.max_seconds
        if (cfg.eval_every and step % cfg.eval_every == 0 and step) or last or out_of_time:
            val = evaluate(model, get_batch, loss_fn, cfg.eval_steps, device)
            history.eval_step.append(step)
            history.eval_loss.append(val)
            if on_eval is not None:
                on_eval(step, val)
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val:.3f}")
        elif step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if out_of_time:
            break
    bar.close()
    model.eval()
    history.seconds = time.perf_counter() - start
    return history
