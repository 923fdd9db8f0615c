"""The model zoo: how each shipped checkpoint is trained and loaded (`shikumi train NAME`).

The model modules (gpt, transformer, clip, autoencoder, unet, diffusion, pipeline) hold a model and its math
only; everything about one trained model of the course lives here, in a module of its own:

    zoo/translator.py       translator                  lesson 03: 私は家を建てた → I built a house
    zoo/gpt_shakespeare.py  gpt_shakespeare             lesson 04: a character GPT, and its Shakespeare corpus
    zoo/vae.py              vae_digits, vae_shapes      lesson 05 (vae_shapes is reused, frozen, by lesson 08)
    zoo/clip_shapes.py      clip_shapes                 lesson 06: CLIP on captioned shapes, English and Japanese
    zoo/unet_digits.py      unet_digits, digit_judge    lesson 07: the digit denoiser, and the judge of its samples
    zoo/sd_shapes.py        sd_shapes                   lesson 08: the text-conditioned latent UNet, its pipeline
    zoo/gpt_chat.py         gpt_chat_sft, gpt_chat_dpo  lesson 10: lesson 04's GPT taught to answer, then politely

Each module has its data (what the model sees), `train_NAME(out_dir, size, device)` (from scratch, fixed seeds:
saves NAME.safetensors + NAME.json, NAME.history.json and anything else the lesson needs into out_dir, and
returns the weights' path) and `load_…` (the shipped checkpoint, its SHA-256 verified, or one trained into a
folder). `shikumi train NAME` runs the recipe and records the SHA-256 in SHA256SUMS; `history(NAME)` reads what
training measured.

On several GPUs, `torchrun --nproc_per_node N -m shikumi train NAME` runs the recipe in N processes that
train together (shikumi.train explains how); only rank 0 prints and saves.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import tempfile
import time
from pathlib import Path

from shikumi import checkpoint
from shikumi.checkpoint import load_history as history  # history(NAME, folder=None): what training measured
from shikumi.train import is_main_process

__all__ = ["RECIPES", "history", "train_recipe"]
MODULES = ("clip_shapes", "gpt_chat", "gpt_shakespeare", "sd_shapes", "translator", "unet_digits", "vae")

RECIPES: dict[str, str] = {  # NAME: "module:function"
    "translator": "shikumi.zoo.translator:train_translator",
    "gpt_shakespeare": "shikumi.zoo.gpt_shakespeare:train_gpt_shakespeare",
    "vae_digits": "shikumi.zoo.vae:train_vae_digits",
    "vae_shapes": "shikumi.zoo.vae:train_vae_shapes",
    "clip_shapes": "shikumi.zoo.clip_shapes:train_clip_shapes",
    "unet_digits": "shikumi.zoo.unet_digits:train_unet_digits",
    "digit_judge": "shikumi.zoo.unet_digits:train_digit_judge",
    "sd_shapes": "shikumi.zoo.sd_shapes:train_sd_shapes",
    "gpt_chat_sft": "shikumi.zoo.gpt_chat:train_gpt_chat_sft",
    "gpt_chat_dpo": "shikumi.zoo.gpt_chat:train_gpt_chat_dpo",
}


def train_recipe(name: str, out_dir: Path | None = None, size: str = "quick",
                 device: str = "auto") -> Path | None:
    if name not in RECIPES:
        known = ", ".join(sorted(RECIPES)) or "none yet"
        raise KeyError(f"no recipe {name!r}; known: {known}")
    module, func = RECIPES[name].split(":")
    recipe = getattr(importlib.import_module(module), func)
    if not is_main_process():  # under torchrun: train alongside rank 0, quietly, and throw the copy away
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            recipe(Path(tmp), size=size, device=device)
        return None
    out_dir = Path(out_dir) if out_dir else checkpoint.SHIPPED
    start = time.perf_counter()
    path = recipe(out_dir, size=size, device=device)
    digest = checkpoint.record_checksum(name, out_dir)
    size_mb = path.stat().st_size / 2**20
    print(f"{name}: {path} ({size_mb:.1f} MB, sha256 {digest[:12]}…) in {time.perf_counter() - start:.0f} s")
    return path


def __getattr__(name: str):
    """`from shikumi import zoo` then `zoo.vae.load_vae(...)`: each module is imported when first used."""
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'shikumi.zoo' has no attribute {name!r}")
