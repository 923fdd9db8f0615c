"""The full-size recipes on a GPU, old settings against new: quality after a bounded run, and its seconds.

    python -m benchmarks.full_recipes --device cuda            on one GPU: runs capped at 210 s of training, meant to
                                                               fit 8 minutes with data and judging (not yet timed)
    python -m benchmarks.full_recipes --device cpu --tiny      2 steps of each on small data: does it start?

The live recipes of lessons 04 and 06 learned faster per CPU-second with Muon at four times the AdamW rate
(benchmarks/results.md, 4d and 4e), lesson 08's with min-SNR weighting (4g); the full (GPU) recipes took those
changes over, unmeasured. This script measures them: each full recipe is trained from scratch by its own
function in zoo/ (the course's one loop, bf16 autocast on CUDA), once with the settings it had before ("old") and
once as it is now ("new"), for the same planned steps (the schedule fitted to them: the cosine decay ends there,
the warmup keeps its share of the run; lessons 05 and 07 keep theirs in steps) and the same wall-clock cap,
then judged as the recipe judges it. Lessons 05 and 07's full recipes changed nothing: one run each, timed.
It prints one Markdown table; paste it into benchmarks/results.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import tempfile
import time

import torch

from shikumi import data
from shikumi.checkpoint import load_history
from shikumi.device import get_device
from shikumi.zoo import clip_shapes, gpt_shakespeare, sd_shapes, unet_digits, vae

# steps planned for each recipe (its warmup and cosine decay fitted to them) and the wall-clock cap of one run:
# 2 × 35 + 2 × 25 + 2 × 25 + 20 + 20 = 210 s of training; the rest of 8 minutes is for drawing the pictures on
# the CPU (50,000 for sd_shapes and vae_shapes: about a minute), setup and judging
PLAN = {"gpt_shakespeare": (1500, 35), "clip_shapes": (1000, 25), "sd_shapes": (2000, 25),
        "unet_digits": (1500, 20), "vae_shapes": (1500, 20)}


class Deadline:
    """A stand-in for shikumi.live.LiveTraining that shows nothing and asks the loop to stop after `seconds`."""

    stop_requested = False

    def __init__(self, seconds: float):
        self.seconds = seconds

    def start(self, total_steps, max_seconds=None):
        self.planned, self.t0 = total_steps, time.perf_counter()

    def update(self, model, step, history) -> bool:
        return time.perf_counter() - self.t0 > self.seconds     # after loss.item(): the GPU has caught up

    def end(self, model, history, stopped=False):
        self.steps, self.seconds_used = len(history.step), time.perf_counter() - self.t0

    def close(self):
        pass


@contextlib.contextmanager
def recipe_as(recipes: dict, size: str, recipe):
    """RECIPES[size] replaced by `recipe` for the duration: the recipe's own function then trains with it."""
    kept = recipes[size]
    recipes[size] = recipe
    try:
        yield
    finally:
        recipes[size] = kept


def warmup_for(warmup_steps: int, recipe_steps: int, steps: int) -> int:
    """The warmup of a run of `steps` planned steps: the same share of it as the recipe's warmup of its own."""
    return max(1, round(warmup_steps * steps / recipe_steps))


def fitted(cfg, steps: int):
    """A recipe's TrainConfig for a run of `steps` planned steps (recipe functions take max_steps themselves)."""
    return dataclasses.replace(cfg, warmup_steps=warmup_for(cfg.warmup_steps, cfg.max_steps, steps))


def gpt(device, steps, cap, tiny) -> list[tuple]:
    """Lesson 04: held-out loss on the whole of The Tempest (nats per character; lower is better)."""
    full = gpt_shakespeare.RECIPES["full"]
    if tiny:
        full = dataclasses.replace(full, batch_size=2, train=dataclasses.replace(full.train, eval_steps=1))
    old = dataclasses.replace(full, train=dataclasses.replace(full.train, optimizer="adamw", lr=1e-3))
    rows = []
    for name, recipe in (("old", old), ("new", full)):
        recipe = dataclasses.replace(recipe, train=fitted(recipe.train, steps))
        watch = Deadline(cap)
        with recipe_as(gpt_shakespeare.RECIPES, "full", recipe):
            model, _ = gpt_shakespeare.train_gpt("full", str(device), max_steps=steps, progress=False, live=watch)
            held_out = gpt_shakespeare.encode(gpt_shakespeare.corpus("full")[1])
        loss = gpt_shakespeare.nats_per_char(model, held_out[:2000] if tiny else held_out, batch_size=64)
        rows.append((name, f"{recipe.train.optimizer}, lr {recipe.train.lr:g}", watch, f"{loss:.3f} nats/char"))
    return rows


def clip(device, steps, cap, tiny) -> list[tuple]:
    """Lesson 06: zero-shot exact match on held-out colour × shape pairs, English (higher is better)."""
    full = clip_shapes.RECIPES["full"]
    if tiny:
        full = dataclasses.replace(full, n_pool=200, train=dataclasses.replace(full.train, eval_steps=1))
    old = dataclasses.replace(full, train=dataclasses.replace(full.train, optimizer="adamw", lr=1e-3,
                                                              warmup_steps=100))
    rows = []
    for name, recipe in (("old", old), ("new", full)):
        recipe = dataclasses.replace(recipe, train=fitted(recipe.train, steps))
        watch = Deadline(cap)
        with recipe_as(clip_shapes.RECIPES, "full", recipe), tempfile.TemporaryDirectory() as tmp:
            clip_shapes.train_clip_shapes(tmp, "full", str(device), max_steps=steps, progress=False, live=watch)
            zero_shot = load_history(clip_shapes.NAME, tmp)["zero_shot"]["heldout_pairs_en"]["exact"]
        settings = f"{recipe.train.optimizer}, lr {recipe.train.lr:g}, warmup {recipe.train.warmup_steps}"
        rows.append((name, settings, watch, f"{zero_shot:.1%} zero-shot"))
    return rows


def sd(device, steps, cap, tiny) -> list[tuple]:
    """Lesson 08: colour and shape right on trained / held-out pairs (DDIM 20 steps, guidance 3; higher is better)."""
    full = sd_shapes.RECIPES["full"]
    if tiny:
        full = dataclasses.replace(full, n_images=64, eval_steps=1)
    rows = []
    full = dataclasses.replace(full, warmup_steps=warmup_for(full.warmup_steps, full.steps, steps))
    for name, recipe in (("old", dataclasses.replace(full, snr_gamma=None)), ("new", full)):
        watch = Deadline(cap)
        with recipe_as(sd_shapes.RECIPES, "full", recipe), tempfile.TemporaryDirectory() as tmp:
            sd_shapes.train_sd_shapes(tmp, "full", str(device), max_steps=steps, progress=False, live=watch)
            pipe = sd_shapes.load_pipeline(device, directory=tmp)
            with torch.inference_mode():
                rates = [sd_shapes.prompt_fidelity(pipe, split, num_inference_steps=2 if tiny else 20,
                                                   guidance_scale=3.0)["color_shape"] for split in ("train", "heldout")]
        loss = "plain MSE" if recipe.snr_gamma is None else f"min-SNR, γ = {recipe.snr_gamma:g}"
        rows.append((name, loss, watch, f"{rates[0]:.1%} / {rates[1]:.1%} trained / held-out"))
    return rows


def digits(device, steps, cap, tiny) -> list[tuple]:
    """Lesson 07 (unchanged): the share of 100 samples (DDIM 20 steps) the digit judge reads as a digit."""
    from shikumi.diffusion import DDIMScheduler, sample

    watch = Deadline(cap)
    with tempfile.TemporaryDirectory() as tmp:
        unet_digits.train_unet_digits(tmp, "full", str(device), max_steps=steps, progress=False, live=watch)
        model, schedule = unet_digits.load_unet_digits(device, directory=tmp)
    n = 8 if tiny else 100
    with torch.no_grad():
        samples = sample(model.eval(), DDIMScheduler(**schedule), (n, 1, 28, 28), 2 if tiny else 20,
                         generator=torch.Generator().manual_seed(0), device=device)
    share = unet_digits.recognised(samples)["share"]
    return [("unchanged", "AdamW, as before", watch, f"{share:.0%} read as digits")]


def vae_shapes(device, steps, cap, tiny) -> list[tuple]:
    """Lesson 05 (unchanged): reconstruction MSE per pixel on held-out colour × shape pairs (lower is better)."""
    watch = Deadline(cap)
    with tempfile.TemporaryDirectory() as tmp:
        vae.train_vae_shapes(tmp, "full", str(device), progress=False, max_steps=steps, live=watch)
        mse = load_history("vae_shapes", tmp)["heldout_pairs_mse"]
    return [("unchanged", "AdamW, as before", watch, f"{mse:.5f} MSE held-out")]


RUNS = {"gpt_shakespeare": gpt, "clip_shapes": clip, "sd_shapes": sd, "unet_digits": digits, "vae_shapes": vae_shapes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", default=",".join(RUNS), help="comma-separated recipes: " + ", ".join(RUNS))
    parser.add_argument("--tiny", action="store_true",
                        help="2 steps of each recipe on small data (every set of shapes cut to 256 pictures): "
                             "a check that the script runs, on a CPU; its figures mean nothing")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    # the same pictures are drawn for several runs (sd_shapes' 50,000 and vae_shapes' are the same): draw them once
    shapes = functools.lru_cache(maxsize=None)(data.shapes)
    data.shapes = (lambda n, *a, **k: shapes(min(n, 256), *a, **k)) if args.tiny else shapes
    start = time.perf_counter()
    print(f"| recipe | settings | steps done of planned | seconds of training ({device.type}) | steps per second | "
          "quality at the end |\n|---|---|---:|---:|---:|---|", flush=True)
    for name in args.only.split(","):
        steps, cap = (2, 600) if args.tiny else PLAN[name]
        for which, settings, watch, quality in RUNS[name](device, steps, cap, args.tiny):
            print(f"| {name} full, {which} | {settings} | {watch.steps} of {watch.planned} | "
                  f"{watch.seconds_used:.1f} | {watch.steps / watch.seconds_used:.1f} | {quality} |", flush=True)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    print(f"\n{time.perf_counter() - start:.0f} s in all on {where}{', --tiny' if args.tiny else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
