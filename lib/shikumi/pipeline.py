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

from dataclasses import dataclass

import torch

from shikumi.diffusion import NoiseScheduler

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
