"""Lesson 07's model: a UNet that predicts the noise in handwritten digits, trained and loaded.

The UNet is shikumi.unet, the noise schedule and the samplers shikumi.diffusion, the loss slide 47's
(diffusion.noise_prediction_loss); this module is the recipe: which digits, how many steps, what is saved.

    unet, schedule = load_unet_digits()        # the shipped checkpoint, its SHA-256 verified
    scheduler = DDIMScheduler(**schedule)
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch

from shikumi import checkpoint
from shikumi.diffusion import DDPMScheduler, noise_prediction_loss

NAME = "unet_digits"
DIGITS_SCHEDULE = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"}  # the cosine schedule


@functools.lru_cache(maxsize=1)
def _mnist_in_range() -> torch.Tensor:
    from shikumi import data

    images, _ = data.digits("mnist")       # (5000, 1, 28, 28) in [0, 1], sorted by label: 500 zeros, 500 ones, …
    order = np.random.RandomState(0).permutation(len(images))  # a fixed shuffle (RandomState never changes)
    return images[torch.from_numpy(order)] * 2 - 1              # [0, 1] → [-1, 1]


def digits_for_diffusion(split: str = "train") -> torch.Tensor:
    """MNIST digits scaled to [-1, 1], the range diffusion works in, in a fixed shuffled order:
    (4500, 1, 28, 28) for "train", the other (500, 1, 28, 28) for "val" (every digit in both)."""
    images = _mnist_in_range()
    return (images[:4500] if split == "train" else images[4500:]).clone()


# the lesson's recipe (issue 15): the quick UNet from nothing in about 3 minutes on a CPU, watched as it learns
LIVE = {"batch_size": 32, "lr": 4e-3, "max_steps": 800, "warmup_steps": 40}


def train_unet_digits(out_dir, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                      progress: bool = True, live=None):
    """`shikumi train unet_digits`: train the digit denoiser from scratch with fixed seeds (shikumi.train.train);
    save NAME.safetensors + .json, the scheduler's settings (NAME.scheduler.json) and the loss curve
    (NAME.history.json). "quick": the shipped recipe, about an hour on 2 busy CPU cores; "live": lesson 07's,
    the same UNet in about 3 minutes (smaller batches, more steps, a higher learning rate; benchmarks/results.md,
    section scratch_0507); "full": a bigger UNet, for a GPU. live: a shikumi.live.LiveTraining to watch it
    learn (with `sampler()`)."""
    from shikumi.device import get_device, seed_everything
    from shikumi.train import TrainConfig, train
    from shikumi.unet import UNet, UNetConfig

    seed_everything(0)
    device = get_device(device)
    in_the_lesson = size == "live"
    config = UNetConfig.preset("quick" if in_the_lesson else size, sample_size=28)
    model = UNet(config)
    scheduler = DDPMScheduler(**DIGITS_SCHEDULE)
    images = {split: digits_for_diffusion(split) for split in ("train", "val")}
    batch_size = LIVE["batch_size"] if in_the_lesson else 64 if size in ("tiny", "quick") else 128
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        x = images[split]
        return (x[torch.randint(len(x), (batch_size,), generator=g)],)

    full = size == "full"
    if in_the_lesson:
        steps = max_steps or LIVE["max_steps"]
        cfg = TrainConfig(max_steps=steps, lr=LIVE["lr"], warmup_steps=min(LIVE["warmup_steps"], max(1, steps // 20)),
                          weight_decay=0.01, eval_every=100, eval_steps=4, device=str(device), progress=progress,
                          cpu_threads=1)
    else:
        cfg = TrainConfig(max_steps=max_steps or (20000 if full else 4000), lr=5e-4 if full else 2e-3,
                          warmup_steps=200, weight_decay=0.01, eval_every=500, eval_steps=8, device=str(device),
                          progress=progress, cpu_threads=1)  # small convolutions: one thread is fastest
    history = train(model, get_batch, lambda m, b: noise_prediction_loss(m, b, scheduler), cfg, live=live)
    return save_denoiser(model, config, DIGITS_SCHEDULE, history, out_dir, NAME, size=size, device=str(device),
                         batch_size=batch_size)


def sampler(n: int = 16, num_inference_steps: int = 10, seed: int = 0):
    """A sample_fn for shikumi.live.LiveTraining: n digits drawn with DDIM in a few steps, always from the same
    starting noise, as images (n, 1, 28, 28) in [0, 1] — blobs at first, digits later."""
    from shikumi.diffusion import DDIMScheduler, sample

    @torch.no_grad()
    def draw(model) -> torch.Tensor:
        device = next(model.parameters()).device
        g = torch.Generator().manual_seed(seed)
        x = sample(model, DDIMScheduler(**DIGITS_SCHEDULE), (n, 1, 28, 28), num_inference_steps, generator=g,
                   device=device)
        return ((x.cpu() + 1) / 2).clamp(0, 1)

    return draw


# -- the judge: does a sample look like a digit? -------------------------------------------------------------

def digit_labels(split: str = "train") -> torch.Tensor:
    """The labels (0–9) of digits_for_diffusion(split), in the same order."""
    from shikumi import data

    _, labels = data.digits("mnist")
    order = np.random.RandomState(0).permutation(len(labels))
    labels = labels[torch.from_numpy(order)]
    return (labels[:4500] if split == "train" else labels[4500:]).clone()


NOT_A_DIGIT = 10


class DigitJudge(torch.nn.Module):
    """A small convolutional classifier of 28×28 pictures in [-1, 1]: 11 scores, the digits 0–9 and "not a digit"
    (class 10). It stands in for a reader who is asked "which digit is this?" about a generated sample."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, NOT_A_DIGIT + 1))

    def forward(self, x):                                          # (B, 1, 28, 28) in [-1, 1]
        return self.net(x)                                         # (B, 11)


def not_digits(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pictures a reader would not call a digit, made from digits x (B, 1, 28, 28) in [-1, 1]: two digits on top
    of each other, a digit buried in noise, a smudge, or its ink scattered at random."""
    b = len(x)
    kind = torch.randint(4, (b, 1, 1, 1), generator=generator)
    other = x[torch.randperm(b, generator=generator)]
    mix = 0.35 + 0.3 * torch.rand(b, 1, 1, 1, generator=generator)
    blend = mix * x + (1 - mix) * other
    buried = (x + 0.8 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
    smudge = (torch.nn.functional.avg_pool2d(x, 7, 1, 3) * 2 + 0.3).clamp(-1, 1)
    scattered = x.flatten(1)[:, torch.randperm(x[0].numel(), generator=generator)].view_as(x)
    return torch.where(kind == 0, blend, torch.where(kind == 1, buried, torch.where(kind == 2, smudge, scattered)))


@functools.lru_cache(maxsize=1)
def digit_judge(steps: int = 1500) -> DigitJudge:
    """The judge of lesson 07's samples, trained here from fixed seeds (about half a minute on a CPU, once per
    process): the 4,500 training digits, shifted by up to 2 pixels, and 16 "not a digit" pictures (not_digits)
    with every 64 digits. On the 500 held-out digits it names 98 % right and calls 99 % digits;
    pure noise and not_digits pictures pass as digits about 5 % of the time (tests/test_diffusion.py)."""
    gen = torch.Generator().manual_seed(0)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    judge = DigitJudge()
    torch.random.set_rng_state(torch_state)
    x, y = digits_for_diffusion("train"), digit_labels("train")
    opt = torch.optim.Adam(judge.parameters(), 2e-3)
    with torch.enable_grad():                                   # also when first asked inside torch.no_grad()
        for _ in range(steps):
            i = torch.randint(len(x), (64,), generator=gen)
            dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
            batch = torch.roll(x[i], (dx, dy), (2, 3))
            batch = torch.cat([batch, not_digits(batch[:16], gen)])
            target = torch.cat([y[i], torch.full((16,), NOT_A_DIGIT)])
            loss = torch.nn.functional.cross_entropy(judge(batch), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return judge.eval().requires_grad_(False)


@torch.no_grad()
def recognised(samples: torch.Tensor, threshold: float = 0.5) -> dict:
    """How many samples (B, 1, 28, 28) in [-1, 1] the judge reads as a digit: the share whose most likely class
    is a digit with probability >= threshold, and how many of each digit (counts[d]) — a model that draws only
    ones would score high on share and show it here."""
    probs = torch.softmax(digit_judge()(samples.float().cpu().clamp(-1, 1)), dim=1)   # (B, 11)
    best, which = probs.max(1)
    ok = (best >= threshold) & (which != NOT_A_DIGIT)
    return {"share": ok.float().mean().item(), "counts": torch.bincount(which[ok], minlength=10).tolist()}


def save_denoiser(model, config, schedule: dict, history, out_dir, name: str, **measured) -> Path:
    """Save a trained noise predictor the one way lessons 07 and 08 load it: NAME.safetensors + .json (the
    weights and the UNet's config), NAME.scheduler.json (the noise schedule it learned) and NAME.history.json."""
    out_dir = Path(out_dir)
    path = checkpoint.save(model.cpu(), config, out_dir / name)
    (out_dir / f"{name}.scheduler.json").write_text(json.dumps(schedule, indent=2) + "\n", encoding="utf-8")
    checkpoint.save_history(history, out_dir, name, **measured, parameters=model.num_parameters())
    print(f"{name}: {model.num_parameters():,} parameters, {len(history.step)} steps in {history.seconds:.0f} s, "
          f"final validation loss {history.eval_loss[-1]:.4f}")
    return path


def load_unet_digits(device: str | torch.device = "cpu", directory=None):
    """(model, scheduler settings): the shipped digit UNet (checksum verified), or one saved in `directory`."""
    from shikumi.unet import UNet, UNetConfig

    folder = checkpoint.SHIPPED if directory is None else Path(directory)
    source = NAME if directory is None else folder / f"{NAME}.safetensors"
    model = checkpoint.load(UNet, UNetConfig, source, device=device)
    return model, json.loads((folder / f"{NAME}.scheduler.json").read_text(encoding="utf-8"))
