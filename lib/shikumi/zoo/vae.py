"""The course's VAEs (lesson 05): how they are trained and loaded.

    vae_digits   MNIST digits, 28×28×1 → 16 numbers (1/49)                      lesson 05
    vae_shapes   the captioned shapes with SD's geometry, 32×32×3 → (4, 4, 4) (1/48)   lessons 05 and 08

The model and its loss are in shikumi.autoencoder; this module is the recipe: which images, how many steps, and
what is measured and saved beside the weights (scaling_factor, reconstruction MSE).

    vae = load_vae("vae_shapes")               # the shipped checkpoint, its SHA-256 verified
"""

from __future__ import annotations

from pathlib import Path

import torch

from shikumi import checkpoint
from shikumi.autoencoder import VAE, AutoencoderConfig, reconstruction_mse, vae_loss_fn


def digits_split(n_test: int = 500):
    """MNIST's 5,000 digits in a fixed shuffled order: ((train images, labels), (test images, labels))."""
    from shikumi import data

    images, labels = data.digits("mnist")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    images, labels = images[order], labels[order]
    return (images[n_test:], labels[n_test:]), (images[:n_test], labels[:n_test])


def fit_vae(name: str, config: AutoencoderConfig, train_images, val_images, test_sets: dict, out_dir: Path,
            beta: float, max_steps: int, lr: float, batch_size: int, device: str = "auto",
            progress: bool = True, warmup_steps: int = 100, live=None, channels_last: bool = False) -> Path:
    """Train a VAE with shikumi.train.train and vae_loss, measure scaling_factor (as SD's 0.18215: latents × it
    have unit variance) and the reconstruction MSE of each test set; save NAME.safetensors, NAME.json and
    NAME.history.json (losses and measurements) into out_dir. live: a shikumi.live.LiveTraining to watch it.
    channels_last: the weights stored (out, H, W, in) instead of (out, in, H, W): the same model, and a CPU
    thread runs these small convolutions about 10 % faster."""
    from shikumi.device import seed_everything
    from shikumi.train import TrainConfig, train

    seed_everything(0)
    model = VAE(config)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)

    def get_batch(split):
        pool = train_images if split == "train" else val_images
        return (pool[torch.randint(len(pool), (batch_size,), generator=gen)],)

    cfg = TrainConfig(max_steps=max_steps, lr=lr, warmup_steps=warmup_steps, weight_decay=0.0,
                      eval_every=min(500, max(1, max_steps // 6)), eval_steps=4, device=device, cpu_threads=1,
                      progress=progress)
    history = train(model, get_batch, vae_loss_fn(beta), cfg, live=live)
    model.cpu().eval()
    with torch.no_grad():
        means = model.encode(train_images[:2048]).latent_dist.mean
    config.scaling_factor = float(f"{1.0 / means.std().item():.5g}")
    measured = {f"{k}_mse": float(f"{reconstruction_mse(model, v):.4g}") for k, v in test_sets.items()}
    path = checkpoint.save(model, config, Path(out_dir) / name)
    checkpoint.save_history(history, out_dir, name, beta=beta, **measured)
    print(f"{name}: {model.num_parameters():,} parameters, {len(history.step)} steps in {history.seconds:.0f} s; "
          f"reconstruction MSE per pixel {measured}; scaling_factor {config.scaling_factor}")
    return path


def train_vae_digits(out_dir: Path, size: str = "quick", device: str = "auto", progress: bool = True) -> Path:
    """`shikumi train vae_digits`: lesson 05's digits VAE, 28×28×1 → 16 numbers (1/49)."""
    small = size in ("tiny", "quick")
    (train_x, _), (test_x, _) = digits_split()
    return fit_vae("vae_digits", AutoencoderConfig.preset("digits" if small else "digits-full"), train_x, test_x,
                   {"test": test_x}, out_dir, beta=1.0, max_steps=3000 if small else 20000, lr=3e-3 if small else 1e-3,
                   batch_size=64, device=device, progress=progress)


# the lesson's recipe (issue 15): the shapes VAE from nothing in about a minute on a CPU, watched as it learns.
# 2,100 steps in channels-last fill the 60 CPU-seconds (1,300 ended at 44): held-out pairs read back right 70 % → 87 %,
# trained pairs 79 % → 96 % (benchmarks/results.md, section 4f's note: β, L1, clipping, EMA and schedules did not help)
LIVE = {"batch_size": 16, "lr": 4e-3, "max_steps": 2100, "warmup_steps": 65, "channels_last": True}


def train_vae_shapes(out_dir: Path, size: str = "quick", device: str = "auto", progress: bool = True,
                     max_steps: int | None = None, live=None) -> Path:
    """`shikumi train vae_shapes`: the captioned shapes' VAE with SD's geometry, 32×32×3 → (4, 4, 4) (1/48),
    trained on split "train" only: the held-out colour × shape pairs (data.HELD_OUT) are never seen.
    size "live" is lesson 05's: the quick VAE in about a minute (batches of 16, not 64, at twice the learning rate;
    benchmarks/results.md, section scratch_0507); live: a shikumi.live.LiveTraining to watch it (with
    `reconstruction_sampler()`). Lesson 08 keeps loading the shipped vae_shapes, whatever lesson 05 trained."""
    from shikumi import data

    in_the_lesson = size == "live"
    small = size in ("tiny", "quick", "live")
    test_sets = {"train_pairs": data.shapes(512, "train", seed=2)[0], "heldout_pairs": data.shapes(512, "heldout", seed=3)[0]}
    config = AutoencoderConfig.preset("shapes" if small else "shapes-full")
    train_images = data.shapes(12000 if small else 50000, "train", seed=0)[0]
    val_images = data.shapes(256, "train", seed=1)[0]
    if in_the_lesson:
        steps = max_steps or LIVE["max_steps"]
        return fit_vae("vae_shapes", config, train_images, val_images, test_sets, out_dir, beta=1e-3,
                       max_steps=steps, lr=LIVE["lr"], batch_size=LIVE["batch_size"], device=device,
                       progress=progress, warmup_steps=min(LIVE["warmup_steps"], max(1, steps // 20)), live=live,
                       channels_last=LIVE["channels_last"])
    # "full" takes nothing from "live" (benchmarks/results.md, 4f): batches of 16 at twice the rate buy steps per
    # CPU-second, which a GPU does not need, and Muon has no nn.Linear to take in this VAE. Unmeasured at this
    # size until a GPU is lent: `python -m benchmarks.full_recipes` times it.
    return fit_vae("vae_shapes", config, train_images, val_images, test_sets, out_dir, beta=1e-3,
                   max_steps=max_steps or (3000 if small else 20000), lr=2e-3 if small else 1e-3,
                   batch_size=64 if small else 128, device=device, progress=progress, live=live)


def reconstruction_sampler(n: int = 8, seed: int = 100):
    """A sample_fn for shikumi.live.LiveTraining: the same n shapes every time — half of colour × shape pairs seen
    in training, half never seen — above the VAE's redrawing of them from their latent μ: (2n, 3, 32, 32)."""
    from shikumi import data

    seen = data.shapes(n - n // 2, "train", seed=seed)[0]
    unseen = data.shapes(n // 2, "heldout", seed=seed)[0]
    images = torch.cat([seen, unseen])

    @torch.no_grad()
    def redraw(model: VAE) -> torch.Tensor:
        device = next(model.parameters()).device
        again = model.decode(model.encode(images.to(device)).latent_dist.mean).clamp(0, 1).cpu()
        return torch.cat([images, again])

    return redraw


def load_vae(name: str = "vae_shapes", device: str | torch.device = "cpu", directory: Path | None = None) -> VAE:
    """A shipped VAE ("vae_shapes", "vae_digits"; checksum verified), or one that fit_vae saved in `directory`."""
    where = name if directory is None else Path(directory) / f"{name}.safetensors"
    model = checkpoint.load(VAE, AutoencoderConfig, where, device=device)
    model.config.block_out_channels = tuple(model.config.block_out_channels)  # JSON stored it as a list
    return model
