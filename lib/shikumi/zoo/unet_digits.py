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


def train_unet_digits(out_dir, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                      progress: bool = True):
    """`shikumi train unet_digits`: train the digit denoiser from scratch with fixed seeds (shikumi.train.train);
    save NAME.safetensors + .json, the scheduler's settings (NAME.scheduler.json) and the loss curve
    (NAME.history.json). "quick": about an hour on 2 busy CPU cores; "full": a bigger UNet, for a GPU."""
    from shikumi.device import get_device, seed_everything
    from shikumi.train import TrainConfig, train
    from shikumi.unet import UNet, UNetConfig

    seed_everything(0)
    device = get_device(device)
    config = UNetConfig.preset(size, sample_size=28)
    model = UNet(config)
    scheduler = DDPMScheduler(**DIGITS_SCHEDULE)
    images = {split: digits_for_diffusion(split) for split in ("train", "val")}
    batch_size = 64 if size in ("tiny", "quick") else 128
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        x = images[split]
        return (x[torch.randint(len(x), (batch_size,), generator=g)],)

    full = size == "full"
    cfg = TrainConfig(max_steps=max_steps or (20000 if full else 4000), lr=5e-4 if full else 2e-3,
                      warmup_steps=200, weight_decay=0.01, eval_every=500, eval_steps=8, device=str(device),
                      progress=progress, cpu_threads=1)  # small convolutions: one thread is fastest
    history = train(model, get_batch, lambda m, b: noise_prediction_loss(m, b, scheduler), cfg)
    return save_denoiser(model, config, DIGITS_SCHEDULE, history, out_dir, NAME, size=size, device=str(device),
                         batch_size=batch_size)


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
