"""Lesson 08's model: the text-conditioned latent UNet, trained and loaded, and the shipped pipeline.

The pipeline (slide 42's seven steps) is shikumi.pipeline; the UNet shikumi.unet; the VAE and CLIP are the ones
lessons 05 and 06 trained (zoo.vae, zoo.clip_shapes), frozen. This module is the recipe: the latents and captions
the UNet learns from, how many steps, and how to judge whether a picture matches its prompt.

    pipe = load_pipeline()                     # vae_shapes + clip_shapes + sd_shapes, each SHA-256 verified
    pipe("赤い丸", num_inference_steps=20).images
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Recipe:
    """How train_sd_shapes trains one size (the UNet is unet_config(unet)); the VAE and CLIP stay frozen."""
    unet: str                         # unet_config's size
    n_images: int                     # training pictures, encoded once before the first step
    batch_size: int
    steps: int
    lr: float                         # peak learning rate (linear warmup, then cosine decay to a tenth)
    warmup_steps: int
    snr_gamma: float | None = None    # min-SNR loss weighting (see denoising_loss); None: the plain MSE
    eval_every: int = 500
    eval_steps: int = 8


RECIPES: dict[str, Recipe] = {
    # quick: the shipped sd_shapes — about 6 minutes on 2 quiet CPU cores, 15 on busy ones
    "quick": Recipe("quick", n_images=20000, batch_size=128, steps=4000, lr=2e-3, warmup_steps=200),
    # live: the same UNet trained inside lesson 08 while the learner watches (issue 15), within 180 CPU-seconds
    # (benchmarks/results.md, section 4g). What makes it faster than "quick": twice as many steps of half the
    # batch, a higher learning rate with a shorter warmup, min-SNR loss weighting, and 8,000 training pictures
    # instead of 20,000 (encoding them is part of the lesson's time; 160 captions, each drawn ~50 times, suffice).
    "live": Recipe("quick", n_images=8000, batch_size=64, steps=1700, lr=3e-3, warmup_steps=100, snr_gamma=5.0,
                   eval_every=100, eval_steps=2),
    # full: a wider UNet, for a GPU. From "live" it takes what is not about CPUs: min-SNR weighting, γ = 5
    # (benchmarks/results.md, 4g: the clear gain early on). Its batch, learning rate and warmup stay: half the
    # batch at a higher rate was about even per CPU-second there, and Muon was not measured (a UNet is mostly
    # convolutions, which Muon leaves to AdamW). Unmeasured at this size until a GPU is lent:
    # `python -m benchmarks.full_recipes` compares it with the plain MSE.
    "full": Recipe("full", n_images=50000, batch_size=256, steps=20000, lr=1e-3, warmup_steps=200, snr_gamma=5.0),
    # tiny: the tests
    "tiny": Recipe("tiny", n_images=512, batch_size=16, steps=20, lr=2e-3, warmup_steps=2, eval_every=10,
                   eval_steps=1),
}


def latent_schedule(size: str = "quick") -> dict:
    """The noise schedule a size trains with (and saves as NAME.scheduler.json): LATENT_SCHEDULE for every size."""
    if size not in RECIPES:
        raise ValueError(f"size must be one of {sorted(RECIPES)}, not {size!r}")
    return dict(LATENT_SCHEDULE)


def denoising_loss(unet, batch, scheduler, snr_gamma: float | None = None) -> torch.Tensor:
    """Slide 47's exercise on latents: noise each z_0 to a random t, ask the UNet (reading the caption) for the noise.

    snr_gamma: weight each picture's squared error by min(SNR_t, γ) / SNR_t, with SNR_t = ᾱ_t / (1 − ᾱ_t) its
    signal-to-noise ratio (min-SNR, Hang et al. 2023). The nearly clean timesteps, whose noise is small and easy
    to find and changes little of the picture, then stop pulling the UNet away from the noisy ones that decide
    what is drawn; training converges in fewer steps. None: the plain mean squared error."""
    z0, context, mask = batch
    t = torch.randint(0, scheduler.config.num_train_timesteps, (z0.shape[0],), device=z0.device)
    noise = torch.randn_like(z0)
    predicted = unet(scheduler.add_noise(z0, noise, t), t, context, mask)
    if snr_gamma is None:
        return torch.nn.functional.mse_loss(predicted, noise)
    alpha_bar = scheduler.alphas_cumprod.to(z0.device)[t]
    snr = alpha_bar / (1 - alpha_bar)
    weight = snr.clamp(max=snr_gamma) / snr                                       # (B,): 1 where the noise dominates
    return (((predicted - noise) ** 2).mean(dim=(1, 2, 3)) * weight).mean()


def train_sd_shapes(out_dir, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                    progress: bool = True, live=None):
    """`shikumi train sd_shapes`: train lesson 08's text-conditioned UNet on the captioned shapes' latents
    (split "train": the held-out colour × shape pairs are never seen), English and Japanese captions mixed,
    the prompt dropped P_UNCOND of the time. Saves NAME.safetensors + .json, NAME.scheduler.json and
    NAME.history.json. Sizes (RECIPES): "quick" (the shipped one, about 6 minutes on 2 quiet CPU cores), "live"
    (lesson 08's, the same UNet within 3 CPU-minutes), "full" (a wider UNet, for a GPU), "tiny" (tests).
    live: a shikumi.live.LiveTraining to watch it learn (lesson 08, with `sampler()`); its Stop keeps the model."""
    from shikumi.device import get_device, seed_everything
    from shikumi.diffusion import DDPMScheduler
    from shikumi.train import TrainConfig, train
    from shikumi.unet import UNet
    from shikumi.zoo.clip_shapes import load_clip
    from shikumi.zoo.unet_digits import save_denoiser
    from shikumi.zoo.vae import load_vae

    schedule = latent_schedule(size)
    recipe = RECIPES[size]
    seed_everything(0)
    device = get_device(device)
    vae, (clip_model, tokenizer) = load_vae("vae_shapes", device), load_clip(device)
    config = unet_config(recipe.unet)
    model = UNet(config)
    scheduler = DDPMScheduler(**schedule)
    sets = {"train": training_set(vae, clip_model, tokenizer, recipe.n_images, seed=0, device=device),
            "val": training_set(vae, clip_model, tokenizer, 1024, seed=1, device=device)}
    batch_size = recipe.batch_size
    g = torch.Generator().manual_seed(0)

    def get_batch(split):
        latents, which, hidden, mask = sets[split]
        i = torch.randint(len(latents), (batch_size,), generator=g)
        lang = torch.randint(2, (batch_size,), generator=g)                            # English or Japanese
        caption = which[i, lang]
        caption[torch.rand(batch_size, generator=g) < P_UNCOND] = 0                    # "": learn ε̂_uncond too
        caption = caption.to(hidden.device)
        return latents[i.to(latents.device)], hidden[caption], mask[caption]

    cfg = TrainConfig(max_steps=max_steps or recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps,
                      weight_decay=0.01, eval_every=recipe.eval_every, eval_steps=recipe.eval_steps,
                      device=str(device), progress=progress, cpu_threads=1)
    history = train(model, get_batch, lambda unet, batch: denoising_loss(unet, batch, scheduler, recipe.snr_gamma),
                    cfg, live=live)
    return save_denoiser(model, config, schedule, history, out_dir, NAME, size=size, device=str(device),
                         batch_size=batch_size)


def sampler(lang: str = "en", size: str = "live"):
    """A sample_fn for shikumi.live.LiveTraining: the pictures the UNet draws for the same eight prompts (DDIM,
    20 steps, guidance 3, the same starting noise every time), a matplotlib Figure with the prompts as titles —
    the top row pairs it trains on, the bottom row pairs it never sees (data.HELD_OUT). lang: the prompts'
    language. The VAE and CLIP are loaded once, here."""
    import matplotlib.pyplot as plt

    from shikumi import data, plot
    from shikumi.zoo.clip_shapes import load_clip
    from shikumi.zoo.vae import load_vae

    specs = [data.Shape("red", "circle", "large", "left"), data.Shape("blue", "square", "large", "top"),
             data.Shape("green", "triangle", "large", "middle"), data.Shape("yellow", "cross", "large", "right"),
             data.Shape("red", "triangle", "large", "middle"), data.Shape("blue", "cross", "large", "left"),
             data.Shape("yellow", "circle", "large", "bottom"), data.Shape("green", "square", "large", "right")]
    prompts = [s.caption(lang) for s in specs]
    vae, (clip_model, tokenizer) = load_vae("vae_shapes").eval(), load_clip()
    clip_model.eval()
    schedule = latent_schedule(size)
    shown = []

    def sample(unet):
        device = next(unet.parameters()).device
        pipe = TextToImagePipeline(vae.to(device), clip_model.to(device), tokenizer, unet, DDIMScheduler(**schedule))
        images = pipe(prompts, num_inference_steps=20, guidance_scale=3.0,
                      generator=torch.Generator().manual_seed(0)).images
        while shown:                      # one figure open at a time, however long the run (a script keeps them)
            plt.close(shown.pop())
        shown.append(plot.image_grid(images, prompts, ncols=4, size=1.6))
        return shown[-1]

    return sample


def unet_config(size: str = "quick"):
    """The latent UNet: two levels (4×4 and 2×2), attention and cross-attention to the text at both."""
    from shikumi.unet import UNetConfig

    widths = {"tiny": (16, 32), "quick": (32, 64), "live": (32, 64), "full": (128, 256)}
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
