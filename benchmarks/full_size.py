"""Lesson 08 at full size on a GPU: train the wide text-conditioned UNet, then judge its pictures.

    python -m benchmarks.full_size --device cuda --steps 3000 --out DIR

Trains `shikumi.zoo.sd_shapes.train_sd_shapes(size="full")` for --steps steps (the recipe's default is 20,000) into
DIR, then measures prompt fidelity (data.read_shape) on trained and held-out colour × shape pairs, and prints
one Markdown line with the figures. gpu_smoke.sh runs it; on a CPU it works too, slowly.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from shikumi.device import get_device
from shikumi.zoo import sd_shapes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", default="sd_shapes_full")
    args = parser.parse_args(argv)
    out = Path(args.out)
    start = time.perf_counter()
    sd_shapes.train_sd_shapes(out, size="full", device=args.device, max_steps=args.steps, progress=False)
    train_seconds = time.perf_counter() - start
    pipe = sd_shapes.load_pipeline(get_device(args.device), directory=out)
    with torch.inference_mode():
        fidelity = {split: sd_shapes.prompt_fidelity(pipe, split, repeats=1 if split == "train" else 2,
                                                    num_inference_steps=20, guidance_scale=3.0)
                    for split in ("train", "heldout")}
    params = sum(p.numel() for p in pipe.unet.parameters())
    print(f"| sd_shapes full ({params:,} parameters) | {args.steps} steps in {train_seconds:.0f} s on {args.device} | "
          f"trained pairs {fidelity['train']['color_shape']:.1%} of {fidelity['train']['n']} | "
          f"held-out pairs {fidelity['heldout']['color_shape']:.1%} of {fidelity['heldout']['n']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
