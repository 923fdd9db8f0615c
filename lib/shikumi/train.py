"""The one training loop of the course. Every model — GPT, the Transformer, the VAE, CLIP, the UNet — trains here.

    history = train(model, get_batch, loss_fn, TrainConfig(max_steps=500))

- `get_batch(split)` returns one batch (a tuple of tensors) for "train" or "val";
- `loss_fn(model, batch)` returns a scalar loss tensor;
- the loop does the rest: AdamW, learning-rate warmup then cosine decay, gradient clipping, bf16 autocast on
  CUDA, a progress bar showing the loss, and an evaluation every `eval_every` steps.

Several GPUs: start the same program once per GPU with torchrun, e.g.

    torchrun --nproc_per_node 4 -m shikumi train gpt_shakespeare --size full

torchrun sets WORLD_SIZE (how many processes), RANK (which one this is) and LOCAL_RANK (which GPU of this
machine). With WORLD_SIZE > 1 this loop joins the others (NCCL on GPUs, gloo on CPUs), wraps the model in
DistributedDataParallel, which averages the gradients of all processes after every backward pass so that their
copies of the model stay identical, and gives each process different batches: all draw the same batches and
each keeps every WORLD_SIZE-th one, so together they read what one process would read, in order, each batch
once. Random numbers inside loss_fn (noise, timesteps) get a seed per process. Only rank 0 shows progress.
loss_fn must call the model itself (`model(...)`): that call is where DistributedDataParallel hooks in.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
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
    max_cpu_seconds: float | None = None  # stop early after this much CPU time of this process (all its threads)
    optimizer: str = "adamw"      # "adamw", or "muon": Muon for the hidden matrices, AdamW for the rest (see make_optimizer)


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


def muon_matrices(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The hidden matrices Muon updates: the weights of the nn.Linear layers inside the network. Not the token
    embedding, nor an output layer tied to it or named `lm_head`/`head` (their rows are looked up one token at a
    time, not multiplied as a whole), and no bias, norm or convolution kernel: those stay with AdamW."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    chosen, seen = [], set()
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.split(".")[-1] in ("lm_head", "head"):
            continue
        w = module.weight
        if w.requires_grad and id(w) not in embeddings and id(w) not in seen:
            chosen.append(w)
            seen.add(id(w))
    return chosen


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over every parameter: weight decay on matrices, none on biases and norms."""
    return make_optimizers(model, dataclasses.replace(cfg, optimizer="adamw"))[0]


def make_optimizers(model: torch.nn.Module, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """The optimizers for cfg.optimizer: [AdamW], or [Muon, AdamW].

    AdamW (Loshchilov & Hutter 2019) keeps, for every number in the model, a running mean of its gradient and of
    the gradient squared, and moves each number on its own. Weight decay pulls matrices gently towards 0.

    Muon (Jordan et al. 2024, the optimizer of the modded-nanogpt speedrun records) treats a weight matrix as
    one thing: it takes the matrix's gradient with momentum and replaces it by the nearest orthogonal matrix
    (a few Newton–Schulz steps), so that every direction of the matrix learns at the same pace rather than a
    few dominant ones. It is for the hidden matrices only (`muon_matrices`); embeddings, the output layer,
    biases and norms stay with AdamW. Scaled as Moonshot's "match_rms_adamw", the same learning rate suits both.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    muon = muon_matrices(model) if cfg.optimizer == "muon" else []
    if cfg.optimizer not in ("adamw", "muon"):
        raise ValueError(f"TrainConfig.optimizer is {cfg.optimizer!r}; choose 'adamw' or 'muon'")
    in_muon = {id(p) for p in muon}
    rest = [p for p in params if id(p) not in in_muon]
    decay = [p for p in rest if p.dim() >= 2]
    no_decay = [p for p in rest if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizers: list[torch.optim.Optimizer] = []
    if muon:
        optimizers.append(torch.optim.Muon(muon, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                           adjust_lr_fn="match_rms_adamw"))
    optimizers.append(torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas))
    return optimizers


def _to(batch, device):
    return tuple(t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in batch)


@torch.no_grad()
def evaluate(model, get_batch, loss_fn, steps: int, device, split: str = "val") -> float:
    """The mean loss over `steps` batches of `split` (under torchrun: over every process's batches)."""
    was_training = model.training
    model.eval()
    losses = []
    for _ in range(steps):
        with autocast(device):
            losses.append(loss_fn(model, _to(get_batch(split), device)).item())
    model.train(was_training)
    return _mean_over_processes(sum(losses) / len(losses), device)


# -- several processes (torchrun): a no-op in a plain run ------------------------------------------------


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, how many processes): (0, 1) in a plain run; under torchrun, what it set."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main_process() -> bool:
    """True in a plain run, and in rank 0 under torchrun: the one process that prints and saves."""
    return rank_and_world()[0] == 0


def _join_processes(device: torch.device) -> torch.device:
    """Join the torchrun group (NCCL between GPUs, gloo between CPUs); on GPUs, take this process's own GPU."""
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def _own_batches(get_batch, rank: int, world: int):
    """get_batch for process `rank` of `world`: draw `world` batches, keep the rank-th (see the module's doc)."""
    if world == 1:
        return get_batch
    return lambda split: [get_batch(split) for _ in range(world)][rank]


def _mean_over_processes(value: float, device) -> float:
    if not (dist.is_available() and dist.is_initialized()):
        return value
    total = torch.tensor(value, device=device)
    dist.all_reduce(total)                                       # the sum over processes, on every process
    return total.item() / dist.get_world_size()


def _any_process(flag: bool, device) -> bool:
    """True on every process if it is True on one (so that all stop at the same step)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor(float(flag), device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def train(model: torch.nn.Module, get_batch: Callable[[str], tuple], loss_fn: Callable, cfg: TrainConfig,
          on_eval: Callable[[int, float], None] | None = None, live=None) -> History:
    """Train `model` in place for cfg.max_steps steps; return the loss history (under torchrun, on every process).

    live: a shikumi.live.LiveTraining, to watch it learn in a lesson (a live loss plot, samples, a Stop button).
    With it, stopping — its button, or Jupyter's interrupt — ends training early and keeps the model as it is.
    """
    rank, world = rank_and_world()
    device = get_device(cfg.device)
    if world == 1:
        with cpu_threads(cfg.cpu_threads, device):
            return _train(model, get_batch, loss_fn, cfg, on_eval, device, live=live)
    started_here = not dist.is_initialized()
    device = _join_processes(device)
    if rank:
        torch.manual_seed(torch.initial_seed() + rank)           # each process its own noise in loss_fn
    try:
        with cpu_threads(cfg.cpu_threads, device):
            return _train(model, _own_batches(get_batch, rank, world), loss_fn, cfg,
                          on_eval if rank == 0 else None, device, rank, live if rank == 0 else None)
    finally:
        if started_here:
            dist.destroy_process_group()


def _train(model, get_batch, loss_fn, cfg: TrainConfig, on_eval, device, rank: int = 0, live=None) -> History:
    model.to(device).train()
    step_model = model
    if dist.is_available() and dist.is_initialized():            # torchrun: average the gradients of all processes
        step_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        step_model = torch.compile(step_model)
    optimizers = make_optimizers(model, cfg)
    history, start, cpu_start = History(), time.perf_counter(), time.process_time()
    bar = tqdm(range(cfg.max_steps), disable=not cfg.progress or rank != 0 or live is not None, desc="training",
               leave=False)
    interrupted = False
    try:
        if live is not None:
            live.start(cfg.max_steps, cfg.max_seconds)
        try:
            for step in bar:
                if _step(model, step_model, get_batch, loss_fn, cfg, optimizers, history, device, step,
                         start, cpu_start, on_eval, bar, live):
                    break
        except KeyboardInterrupt:          # Jupyter's ■ while a lesson watches: keep the model as it is
            if live is None:
                raise
            interrupted = True
        bar.close()
        if interrupted and history.step and (not history.eval_step or history.eval_step[-1] != history.step[-1]):
            _evaluate_now(model, get_batch, loss_fn, cfg, device, history, history.step[-1], on_eval)
        model.eval()
        history.seconds = time.perf_counter() - start
        if live is not None:
            live.end(model, history, stopped=interrupted or live.stop_requested)
    finally:
        if live is not None:
            live.close()                   # whatever happened, give the kernel its event handling back
    return history


def _evaluate_now(model, get_batch, loss_fn, cfg, device, history, step, on_eval) -> float:
    val = evaluate(model, get_batch, loss_fn, cfg.eval_steps, device)
    history.eval_step.append(step)
    history.eval_loss.append(val)
    if on_eval is not None:
        on_eval(step, val)
    return val


def _step(model, step_model, get_batch, loss_fn, cfg, optimizers, history, device, step, start, cpu_start,
          on_eval, bar, live) -> bool:
    """One training step (and an evaluation when one is due); True when training should stop now."""
    lr = lr_at(step, cfg)
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr
    with autocast(device):
        loss = loss_fn(step_model, _to(get_batch("train"), device))
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    for optimizer in optimizers:
        optimizer.step()
    history.step.append(step)
    history.train_loss.append(loss.item())
    history.lr.append(lr)
    last = step == cfg.max_steps - 1
    stop = live is not None and live.update(model, step, history)
    if cfg.max_seconds is not None:
        stop = stop or time.perf_counter() - start > cfg.max_seconds
    if cfg.max_cpu_seconds is not None:
        stop = stop or time.process_time() - cpu_start > cfg.max_cpu_seconds
    if cfg.max_seconds is not None or cfg.max_cpu_seconds is not None or live is not None:
        stop = _any_process(stop, device)                       # under torchrun, all stop at the same step
    if (cfg.eval_every and step % cfg.eval_every == 0 and step) or last or stop:
        val = _evaluate_now(model, get_batch, loss_fn, cfg, device, history, step, on_eval)
        bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val:.3f}")
    elif step % 10 == 0:
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return stop
