"""Text to image: slide 42's seven steps, assembled from the course's own parts (slides 42, 48–50).

Slide 42 draws Stable Diffusion as seven numbered steps. Every part already exists in the course:

    ① noise            torch.randn                    (B, 4, 4, 4) latents, pure noise          ← lesson 07
    ② image → latents  VAE encoder (img2img only)     (B, 3, 32, 32) → (B, 4, 4, 4)              ← lesson 05
    ③ text → vectors   CLIP's text encoder, frozen    (B, 16) ids → (B, 16, 64), one per token   ← lesson 06
    ④ text + noise     the UNet's cross-attention: every latent pixel reads every word
    ⑤ one denoising    UNet(z_t, t, text) → ε̂, then the scheduler: z_t → z_{t−1}            ← lesson 07
    ⑥ repeat N times   「UNetには毎回入力テキストを入れる」: the text goes in at every step
    ⑦ latents → image  VAE decoder                    (B, 4, 4, 4) → (B, 3, 32, 32)              ← lesson 05

One idea is new: *classifier-free guidance* (Ho & Salimans 2022). The UNet is trained to denoise both with the
prompt and, one time in ten, with an empty prompt "". At sampling time it predicts the noise both ways and
pushes away from the unconditional guess:

    ε̂ = ε̂_uncond + guidance_scale · (ε̂_text − ε̂_uncond)

guidance_scale = 1 is the plain conditional model; larger values follow the prompt more strictly.

`TextToImagePipeline` is shaped like diffusers' StableDiffusionPipeline (`pipe(prompt, num_inference_steps,
guidance_scale, negative_prompt, generator).images`); passing `image=` and `strength=` makes it the
img2img pipeline (diffusers keeps that in a second class, StableDiffusionImg2ImgPipeline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from shikumi import checkpoint
from shikumi.diffusion import DDIMScheduler, NoiseScheduler

NAME = "sd_shapes"
# the noise schedule of the latent diffusion model: cosine, and no clipping — latents are not in [-1, 1]
LATENT_SCHEDULE = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "clip_sample": False}
P_UNCOND = 0.1  # how often training drops the prompt (replaces it by ""), so the UNet also learns ε̂_uncond


# -- the two small formulas of the pipeline -------------------------------------------------------------

def classifier_free_guidance(noise_uncond: torch.Tensor, noise_text: torch.Tensor,
                             guidance_scale: float) -> torch.Tensor:
    """ε̂ = ε̂_uncond + s · (ε̂_text − ε̂_uncond): s = 0 ignores the prompt, s = 1 is the conditional model."""
    return noise_uncond + guidance_scale * (noise_text - noise_uncond)


def img2img_start(num_inference_steps: int, strength: float) -> int:
    """Where img2img joins the sampling loop: the index into scheduler.timesteps of its first step.

    strength 1.0 starts at index 0 (pure noise: the input image is forgotten); strength 0.0 starts past the end
    (nothing changes). As in diffusers: int(num_inference_steps · strength) steps are run, the last ones."""
    steps_run = min(int(num_inference_steps * strength), num_inference_steps)
    return num_inference_steps - steps_run


@dataclass
class PipelineOutput:
    images: torch.Tensor        # (B, 3, 32, 32) in [0, 1]
    latents: torch.Tensor       # (B, 4, 4, 4): the denoised latents the decoder turned into images


class TextToImagePipeline:
    """The seven steps of slide 42 as methods, and `__call__` running them in order."""

    def __init__(self, vae, text_encoder, tokenizer, unet, scheduler: NoiseScheduler):
        self.vae, self.text_encoder, self.tokenizer = vae, text_encoder, tokenizer
        self.unet, self.scheduler = unet, scheduler
        self.device = next(unet.parameters()).device
        self.latent_shape = tuple(vae.config.latent_shape)       # (4, 4, 4)

    # ① noise
    def prepare_latents(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z_T ~ N(0, I): (B, 4, 4, 4), drawn on the generator's device (CPU by default), so a seed gives the
        same picture on any machine."""
        z = torch.randn((batch_size, *self.latent_shape), generator=generator,
                        device=generator.device if generator is not None else "cpu")
        return z.to(self.device) * self.scheduler.init_noise_sigma

    # ② image → latents (img2img)
    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 32, 32) in [0, 1] → (B, 4, 4, 4): the VAE's mean, times scaling_factor (unit variance)."""
        return self.vae.encode(images.to(self.device)).latent_dist.mean * self.vae.config.scaling_factor

    # ③ text → vectors
    @torch.no_grad()
    def encode_prompt(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts (English or Japanese) → (hidden states (B, 16, 64), mask (B, 16): True for real tokens)."""
        from shikumi.clip import tokenize

        ids = tokenize(list(prompts), self.tokenizer).to(self.device)               # (B, 16)
        return self.text_encoder.text_hidden_states(ids), ids != self.tokenizer.pad_id

    def unknown_words(self, prompt: str) -> list[str]:
        """The words of a prompt the text encoder does not know (it reads them as <unk>): what a prompt box
        should tell the learner. Spaces, punctuation, 大きい, 〜色 … are already read as the captions' words."""
        from shikumi.captions import unknown_words

        return unknown_words(prompt, self.tokenizer.stoi)

    # ④ + ⑤ one denoising step, the text read through cross-attention
    @torch.no_grad()
    def predict_noise(self, latents: torch.Tensor, t, text: tuple, uncond: tuple | None,
                      guidance_scale: float) -> torch.Tensor:
        """ε̂ for latents (B, 4, 4, 4) at timestep t; with guidance, the UNet runs on a batch of 2B: the
        unconditional half and the text half, then classifier_free_guidance combines them."""
        context, mask = text
        if uncond is None or guidance_scale == 1.0:
            return self.unet(latents, t, context, mask)
        both = self.unet(torch.cat([latents, latents]), t, torch.cat([uncond[0], context]),
                         torch.cat([uncond[1], mask]))                             # (2B, 4, 4, 4)
        noise_uncond, noise_text = both.chunk(2)
        return classifier_free_guidance(noise_uncond, noise_text, guidance_scale)

    # ⑦ latents → image
    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, 4, 4, 4) → (B, 3, 32, 32) in [0, 1]: undo the scaling, then the VAE's decoder."""
        return self.vae.decode(latents / self.vae.config.scaling_factor).clamp(0, 1)

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], num_inference_steps: int = 25, guidance_scale: float = 3.0,
                 negative_prompt: str | list[str] | None = None, generator: torch.Generator | None = None,
                 image: torch.Tensor | None = None, strength: float = 0.7,
                 callback=None, progress: bool = False) -> PipelineOutput:
        """Generate one image per prompt. image (B, 3, 32, 32) switches to img2img: it is encoded (②), noised
        to the timestep that `strength` picks, and denoised under the prompt. callback(i, t, latents) is called
        after every step (to watch the denoising)."""
        from tqdm.auto import tqdm

        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        B = len(prompts)
        text = self.encode_prompt(prompts)                                                          # ③
        negative = negative_prompt if negative_prompt is not None else ""
        uncond = self.encode_prompt([negative] * B if isinstance(negative, str) else negative)      # ε̂_uncond's text
        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = self.scheduler.timesteps
        latents = self.prepare_latents(B, generator)                                                # ①
        if image is not None:                                                                       # ② img2img
            timesteps = timesteps[img2img_start(num_inference_steps, strength):]
            if len(timesteps) == 0:
                return PipelineOutput(images=image.clamp(0, 1).to(self.device), latents=self.encode_image(image))
            latents = self.scheduler.add_noise(self.encode_image(image), latents, timesteps[:1].repeat(B))
        for i, t in enumerate(tqdm(timesteps, disable=not progress, desc="denoising", leave=False)):  # ⑥
            noise = self.predict_noise(latents, t, text, uncond, guidance_scale)                    # ④ ⑤
            latents = self.scheduler.step(noise, t, latents).prev_sample
            if callback is not None:
                callback(i, int(t), latents)
        return PipelineOutput(images=self.decode_latents(latents), latents=latents)                 # ⑦

    def to(self, device) -> TextToImagePipeline:
        for part in (self.vae, self.text_encoder, self.unet):
            part.to(device)
        self.device = torch.device(device)
        return self


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
    from shikumi.autoencoder import load_vae
    from shikumi.clip import load_clip
    from shikumi.device import get_device, seed_everything
    from shikumi.diffusion import DDPMScheduler, save_denoiser
    from shikumi.train import TrainConfig, train
    from shikumi.unet import UNet

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
    return UNetConfig(in_channels=4, out_channels=4, block_channels=widths[size], attention_levels=(True, True),
                      layers_per_block=2 if size == "full" else 1, n_head=4, cross_attention_dim=64,
                      sample_size=4)


def load_pipeline(device: str | torch.device = "cpu", directory=None, scheduler: NoiseScheduler | None = None):
    """The shipped text-to-image pipeline: vae_shapes + clip_shapes + sd_shapes (each checksum verified), or
    a UNet that train_sd_shapes saved in `directory`. scheduler: DDIM with the training schedule by default."""
    from shikumi.autoencoder import load_vae
    from shikumi.clip import load_clip

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


def training_history(directory=None) -> dict:
    """What training measured: the loss curve, steps, seconds, device (NAME.history.json)."""
    return checkpoint.load_history(NAME, directory)


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
