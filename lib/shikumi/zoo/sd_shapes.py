"""Lesson 08's model: the text-conditioned latent UNet, trained and loaded, and the shipped pipeline.

The pipeline (slide 42's seven steps) is shikumi.pipeline; the UNet shikumi.unet; the VAE and CLIP are the ones
lessons 05 and 06 trained (zoo.vae, zoo.clip_shapes), frozen. This module is the recipe: the latents and captions
the UNet learns from, how many steps, and how to judge whether a picture matches its prompt.

    pipe = load_pipeline()                     # vae_shapes + clip_shapes + sd_shapes, each SHA-256 verified
    pipe("赤い丸", num_inference_steps=20).images
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from shikumi import checkpoint
from shikumi.diffusion import DDIMScheduler, NoiseScheduler
from shikumi.pipeline import TextToImagePipeline

NAME = "sd_shapes"
# the noise schedule of the latent diffusion model: cosine, and no clipping — latents are not in [-1, 1]
LATENT_SCHEDULE = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "clip_sample": False}
P_UNCOND = 0.1  # how often training drops the prompt (replaces it by ""), so the UNet also learns ε̂_uncond


# -- training: the UNet learns to denoise latents, reading the caption ------------------------------------

def training_set(vae, clip_model, tokenizer, n_images: int, seed: int, device="cpu", batch_size: int = 512):
    """Encode everything once (the VAE and CLIP are frozen): (latents (N, 4, 4, 4), caption index per image and
    language (N, 2), the captions' hidden states (C, 16, 64) and masks (C, 16)); caption 0 is "" (no text)."""
    from shikumi import data
    from shikumi.clip import tokenize

    images, specs, en, ja = data.shapes(n_images, "train", seed=seed)
    captions = [""] + sorted(set(en) | set(ja))
    index = {c: i for i, c in enumerate(captions)}
    with torch.no_grad():
        latents = torch.cat([vae.encode(images[i:i + batch_size].to(device)).latent_dist.mean
                             for i in range(0, n_images, batch_size)]) * vae.config.scaling_factor
        ids = tokenize(captions, tokenizer).to(device)
        hidden, mask = clip_model.text_hidden_states(ids), ids != tokenizer.pad_id
    which = torch.tensor([[index[a], index[b]] for a, b in zip(en, ja)])
    return latents, which, hidden, mask


def train_sd_shapes(out_dir, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                    progress: bool = True):
    """`shikumi train sd_shapes`: train lesson 08's text-conditioned UNet on the captioned shapes' latents
    (split "train": the held-out colour × shape pairs are never seen), English and Japanese captions mixed,
    the prompt dropped P_UNCOND of the time. Saves NAME.safetensors + .json, NAME.scheduler.json and
    NAME.history.json. "quick": about 6 minutes on 2 quiet CPU cores, 15 on busy ones; "full": a wider UNet, for a GPU."""
    from shikumi.device import get_device, seed_everything
    from shikumi.diffusion import DDPMScheduler
    from shikumi.train import TrainConfig, train
    from shikumi.unet import UNet
    from shikumi.zoo.clip_shapes import load_clip
    from shikumi.zoo.unet_digits import save_denoiser
    from shikumi.zoo.vae import load_vae

    seed_everything(0)
    device = get_device(device)
    vae, (clip_model, tokenizer) = load_vae("vae_shapes", device), load_clip(device)
    full = size == "full"
    config = unet_config(size)
    model = UNet(config)
    scheduler = DDPMScheduler(**LATENT_SCHEDULE)
    sets = {"train": training_set(vae, clip_model, tokenizer, 50000 if full else 20000, seed=0, device=device),
            "val": training_set(vae, clip_model, tokenizer, 1024, seed=1, device=device)}
    batch_size = 256 if full else 128
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        latents, which, hidden, mask = sets[split]
        i = torch.randint(len(latents), (batch_size,), generator=g)
        lang = torch.randint(2, (batch_size,), generator=g)                            # English or Japanese
        caption = which[i, lang]
        caption[torch.rand(batch_size, generator=g) < P_UNCOND] = 0                    # "": learn ε̂_uncond too
        caption = caption.to(hidden.device)
        return latents[i.to(latents.device)], hidden[caption], mask[caption]

    def loss_fn(unet, batch):
        z0, context, mask = batch
        t = torch.randint(0, scheduler.config.num_train_timesteps, (z0.shape[0],), device=z0.device)
        noise = torch.randn_like(z0)
        return torch.nn.functional.mse_loss(unet(scheduler.add_noise(z0, noise, t), t, context, mask), noise)

    cfg = TrainConfig(max_steps=max_steps or (20000 if full else 4000), lr=1e-3 if full else 2e-3,
                      warmup_steps=200, weight_decay=0.01, eval_every=500, eval_steps=8, device=str(device),
                      progress=progress, cpu_threads=1)
    history = train(model, get_batch, loss_fn, cfg)
    return save_denoiser(model, config, LATENT_SCHEDULE, history, out_dir, NAME, size=size, device=str(device),
                         batch_size=batch_size)


def unet_config(size: str = "quick"):
    """The latent UNet: two levels (4×4 and 2×2), attention and cross-attention to the text at both."""
    from shikumi.unet import UNetConfig

    widths = {"tiny": (16, 32), "quick": (32, 64), "full": (128, 256)}
    if size not in widths:
        raise ValueError(f"size must be one of {sorted(widths)}, not {size!r}")
    return UNetConfig(in_channels=4, out_channels=4, block_out_channels=widths[size], attention_levels=(True, True),
                      layers_per_block=2 if size == "full" else 1, n_head=4, cross_attention_dim=64,
                      sample_size=4)


def load_pipeline(device: str | torch.device = "cpu", directory=None, scheduler: NoiseScheduler | None = None):
    """The shipped text-to-image pipeline: vae_shapes + clip_shapes + sd_shapes (each checksum verified), or
    a UNet that train_sd_shapes saved in `directory`. scheduler: DDIM with the training schedule by default."""
    from shikumi.zoo.clip_shapes import load_clip
    from shikumi.zoo.vae import load_vae

    folder = checkpoint.SHIPPED if directory is None else Path(directory)
    settings = json.loads((folder / f"{NAME}.scheduler.json").read_text(encoding="utf-8"))
    unet = load_unet(device, directory)
    clip_model, tokenizer = load_clip(device)
    vae = load_vae("vae_shapes", device).eval()
    return TextToImagePipeline(vae, clip_model.eval(), tokenizer, unet, scheduler or DDIMScheduler(**settings))


def load_unet(device: str | torch.device = "cpu", directory=None):
    """The shipped text-conditioned UNet alone (checksum verified), or one saved in `directory`; in eval mode."""
    from shikumi.unet import UNet, UNetConfig

    source = NAME if directory is None else Path(directory) / f"{NAME}.safetensors"
    return checkpoint.load(UNet, UNetConfig, source, device=device).eval()


# -- does the picture match the prompt? ---------------------------------------------------------------------

def prompt_fidelity(pipe: TextToImagePipeline, split: str = "train", repeats: int = 1, seed: int = 0,
                    batch_size: int = 200, progress: bool = False, desc: str | None = None, **call_kwargs) -> dict:
    """Generate one image for every (colour, shape, size, position) of `split` ("train" or "heldout") in both
    languages, `repeats` times, and judge each with data.read_shape (rules, no neural network).
    Returns {"n": images, "color_shape": fraction whose colour and shape match, "all": fraction matching all
    four words, "en"/"ja": color_shape per language, "misses": a few (prompt, what was read) pairs,
    "kept_color": the fraction of the misses (colour or shape wrong) whose colour was still right}.
    desc: the progress bar's label (the lesson's language); by default "drawing and judging (split)"."""
    from tqdm.auto import tqdm

    from shikumi import data

    specs = [s for s in data.all_shapes(split) for _ in range(repeats)]
    jobs = [(s, lang) for lang in ("en", "ja") for s in specs]
    generator = torch.Generator().manual_seed(seed)
    results = []
    for i in tqdm(range(0, len(jobs), batch_size), desc=desc or f"drawing and judging ({split})", disable=not progress,
                  leave=False):
        chunk = jobs[i:i + batch_size]
        images = pipe([s.caption(lang) for s, lang in chunk], generator=generator, **call_kwargs).images.cpu()
        results += [(s, lang, data.read_shape(im)) for (s, lang), im in zip(chunk, images)]

    def rate(rows, exact=False):
        good = [r for s, _, r in rows if r is not None and (r == s if exact else (r.color, r.shape) == (s.color, s.shape))]
        return len(good) / max(1, len(rows))

    missed = [(s, r) for s, _, r in results if r is None or (r.color, r.shape) != (s.color, s.shape)]
    return {"n": len(results), "color_shape": rate(results), "all": rate(results, exact=True),
            "kept_color": sum(r is not None and r.color == s.color for s, r in missed) / max(1, len(missed)),
            **{lang: rate([r for r in results if r[1] == lang]) for lang in ("en", "ja")},
            "misses": [(s.caption(lang), r and r.caption(lang)) for s, lang, r in results
                       if r is None or (r.color, r.shape) != (s.color, s.shape)][:8]}
