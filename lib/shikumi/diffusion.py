"""Diffusion: the forward process adds noise, the reverse process takes it away (slide 47).

Slide 47: 「Forward Process(かんたん)」 — blur a picture into noise, one small step at a time. Each step t adds a
little Gaussian noise of variance β_t (the *beta schedule*). Thanks to a closed form we can jump to any step at
once: with α_t = 1 − β_t and ᾱ_t = α_1 · α_2 · … · α_t (the *cumulative product*),

    q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I)      i.e.   x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,   ε ~ N(0, I)

「Reverse Process(むずかしい)」 — walking back needs a model. A UNet (shikumi.unet) looks at x_t and t and
predicts the noise ε̂ (「正確には、ノイズを形成する正規分布のパラメータを予測」). From ε̂ a *scheduler* computes x_{t−1}:

- DDPM (Ho et al. 2020): x_{t−1} = μ(x_t, ε̂) + σ_t · z, one small random step for each of the 1000 t's;
- DDIM (Song et al. 2021): a deterministic jump from t to an earlier t', so 20–50 steps are enough.

The two schedulers below are shaped like diffusers' (`DDPMScheduler`, `DDIMScheduler`: `add_noise`,
`set_timesteps`, `.timesteps`, `step(...).prev_sample`), and tests check that they give the same numbers.
Variables follow the papers: alpha_bar_t is ᾱ_t, alpha_bar_prev is ᾱ_{t−1} (or ᾱ of the previous inference step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# -- beta schedules: how much noise each step adds ------------------------------------------------------


def linear_betas(num_train_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """β_1 … β_T evenly spaced from beta_start to beta_end: the DDPM paper's schedule. (T,) float32."""
    return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)


def cosine_betas(num_train_timesteps: int, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule (Nichol & Dhariwal 2021, diffusers' "squaredcos_cap_v2"). (T,) float32.

    It defines ᾱ directly, ᾱ(s) = cos²((s + 0.008) / 1.008 · π/2) for s from 0 to 1, and derives each
    β_t = 1 − ᾱ_t / ᾱ_{t−1}. Small images keep some signal for longer than with the linear schedule.
    """
    def alpha_bar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    T = num_train_timesteps
    betas = [min(1 - alpha_bar((t + 1) / T) / alpha_bar(t / T), max_beta) for t in range(T)]
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(beta_schedule: str, num_train_timesteps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    if beta_schedule == "linear":
        return linear_betas(num_train_timesteps, beta_start, beta_end)
    if beta_schedule == "squaredcos_cap_v2":
        return cosine_betas(num_train_timesteps)
    raise ValueError(f"beta_schedule must be 'linear' or 'squaredcos_cap_v2', not {beta_schedule!r}")


# -- what every scheduler shares: the schedule, the forward process, the inference timesteps -------------


@dataclass
class SchedulerConfig:
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    beta_schedule: str = "linear"          # "linear" or "squaredcos_cap_v2" (cosine)
    prediction_type: str = "epsilon"       # what the model predicts: "epsilon" (ε), "sample" (x_0) or "v_prediction"
    clip_sample: bool = True               # clamp the predicted x_0 to [-clip_sample_range, clip_sample_range]
    clip_sample_range: float = 1.0
    timestep_spacing: str = "leading"      # which t's set_timesteps picks: "leading", "trailing" or "linspace"
    steps_offset: int = 0
    variance_type: str = "fixed_small"     # DDPM: σ_t² = β̃_t ("fixed_small") or β_t ("fixed_large")
    set_alpha_to_one: bool = True          # DDIM: ᾱ before the first step is 1 (a clean image)


@dataclass
class SchedulerOutput:
    prev_sample: torch.Tensor              # x_{t−1}: the sample one (inference) step less noisy
    pred_original_sample: torch.Tensor     # x̂_0: the model's current guess of the clean image


class NoiseScheduler:
    """The parts DDPM and DDIM share. Subclasses add `step`."""

    def __init__(self, **config):
        self.config = SchedulerConfig(**config)
        c = self.config
        self.betas = make_betas(c.beta_schedule, c.num_train_timesteps, c.beta_start, c.beta_end)  # β_t, (T,)
        self.alphas = 1.0 - self.betas                                    # α_t = 1 − β_t
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)          # ᾱ_t = α_0 · α_1 · … · α_t (t from 0)
        self.one = torch.tensor(1.0)
        self.init_noise_sigma = 1.0                                       # sampling starts from N(0, I)
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(c.num_train_timesteps - 1, -1, -1)  # T−1, …, 1, 0 until set_timesteps

    def __len__(self) -> int:
        return self.config.num_train_timesteps

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """The forward process in one jump: x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε.

        original_samples x_0: (B, ...); noise ε: same shape; timesteps: (B,) ints, one t per sample.
        """
        alphas_cumprod = self.alphas_cumprod.to(original_samples.device, original_samples.dtype)
        alpha_bar_t = alphas_cumprod[timesteps.to(original_samples.device)].flatten()     # (B,)
        alpha_bar_t = alpha_bar_t.view(-1, *[1] * (original_samples.dim() - 1))           # (B, 1, 1, 1)
        return alpha_bar_t ** 0.5 * original_samples + (1 - alpha_bar_t) ** 0.5 * noise

    def scale_model_input(self, sample: torch.Tensor, timestep=None) -> torch.Tensor:
        return sample  # DDPM and DDIM feed x_t to the model as it is (kept for diffusers' interface)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """Choose which num_inference_steps of the T training steps sampling visits, from noisy to clean."""
        T = self.config.num_train_timesteps
        if num_inference_steps > T:
            raise ValueError(f"num_inference_steps={num_inference_steps} cannot exceed num_train_timesteps={T}")
        self.num_inference_steps = n = num_inference_steps
        spacing = self.config.timestep_spacing
        if spacing == "leading":      # 0, k, 2k, … with k = T // n: the DDIM paper's choice
            timesteps = np.arange(n) * (T // n) + self.config.steps_offset
        elif spacing == "trailing":   # counted back from T − 1: the first step starts from pure noise
            timesteps = (np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1)[::-1]
        elif spacing == "linspace":   # evenly from 0 to T − 1
            timesteps = np.linspace(0, T - 1, n).round().astype(np.int64)
        else:
            raise ValueError(f"timestep_spacing must be 'leading', 'trailing' or 'linspace', not {spacing!r}")
        self.timesteps = torch.from_numpy(timesteps[::-1].copy()).long().to(device)  # noisy → clean: 950, 900, …, 0

    def predict_original(self, model_output: torch.Tensor, alpha_bar_t: torch.Tensor,
                         sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂_0, ε̂) from what the model predicted, then x̂_0 clipped if config.clip_sample."""
        kind = self.config.prediction_type
        if kind == "epsilon":      # x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, solved for x_0
            eps = model_output
            x0 = (sample - (1 - alpha_bar_t) ** 0.5 * eps) / alpha_bar_t ** 0.5
        elif kind == "sample":
            x0 = model_output
            eps = (sample - alpha_bar_t ** 0.5 * x0) / (1 - alpha_bar_t) ** 0.5
        elif kind == "v_prediction":  # v = √ᾱ_t ε − √(1 − ᾱ_t) x_0
            x0 = alpha_bar_t ** 0.5 * sample - (1 - alpha_bar_t) ** 0.5 * model_output
            eps = alpha_bar_t ** 0.5 * model_output + (1 - alpha_bar_t) ** 0.5 * sample
        else:
            raise ValueError(f"prediction_type must be 'epsilon', 'sample' or 'v_prediction', not {kind!r}")
        if self.config.clip_sample:  # a clean image lives in [-1, 1]: a guess outside it is surely wrong
            r = self.config.clip_sample_range
            x0 = x0.clamp(-r, r)
        return x0, eps


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like x, drawn on the generator's device (as diffusers' randn_tensor)."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


# -- DDPM: 1000 small random steps -----------------------------------------------------------------------


class DDPMScheduler(NoiseScheduler):
    """Denoising diffusion probabilistic models (Ho et al. 2020), like diffusers.DDPMScheduler."""

    def previous_timestep(self, t: int) -> int:
        if self.num_inference_steps is None:
            return t - 1
        i = (self.timesteps == t).nonzero()[0, 0].item()
        return self.timesteps[i + 1].item() if i + 1 < len(self.timesteps) else -1

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor,
             generator: torch.Generator | None = None, variance_noise: torch.Tensor | None = None) -> SchedulerOutput:
        """x_t → x_{t−1} = μ + σ_t · z. variance_noise: the z to use (default: drawn from generator)."""
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        alpha_bar_t = self.alphas_cumprod[t]                                       # ᾱ_t
        alpha_bar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one  # ᾱ_{t−1} (1 before step 0)
        alpha_t = alpha_bar_t / alpha_bar_prev                                     # α_t
        beta_t = 1 - alpha_t                                                       # β_t
        x0, _ = self.predict_original(model_output, alpha_bar_t, sample)           # x̂_0 (DDPM eq. 15)
        # μ: the mean of q(x_{t−1} | x_t, x̂_0), a mix of the clean guess and the current sample (DDPM eq. 7)
        x0_coeff = alpha_bar_prev ** 0.5 * beta_t / (1 - alpha_bar_t)
        xt_coeff = alpha_t ** 0.5 * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
        mean = x0_coeff * x0 + xt_coeff * sample
        if t == 0:  # the last step adds no noise
            return SchedulerOutput(prev_sample=mean, pred_original_sample=x0)
        if self.config.variance_type == "fixed_small":   # σ_t² = β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
            variance = torch.clamp((1 - alpha_bar_prev) / (1 - alpha_bar_t) * beta_t, min=1e-20)
        elif self.config.variance_type == "fixed_large":  # σ_t² = β_t
            variance = beta_t
        else:
            raise ValueError(f"variance_type must be 'fixed_small' or 'fixed_large', not {self.config.variance_type!r}")
        z = variance_noise if variance_noise is not None else _randn_like(model_output, generator)
        return SchedulerOutput(prev_sample=mean + variance ** 0.5 * z, pred_original_sample=x0)


# -- DDIM: a few deterministic jumps -----------------------------------------------------------------------


class DDIMScheduler(NoiseScheduler):
    """Denoising diffusion implicit models (Song et al. 2021), like diffusers.DDIMScheduler.

    eta = 0 (the default) makes sampling deterministic: the same starting noise always gives the same image.
    """

    def __init__(self, **config):
        super().__init__(**config)
        self.final_alpha_cumprod = self.one if self.config.set_alpha_to_one else self.alphas_cumprod[0]

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None, variance_noise: torch.Tensor | None = None) -> SchedulerOutput:
        """x_t → x_{t'}, t' = t − T / num_inference_steps (DDIM eq. 12)."""
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps(num_inference_steps) before step()")
        t = int(timestep)
        prev_t = t - self.config.num_train_timesteps // self.num_inference_steps
        alpha_bar_t = self.alphas_cumprod[t]                                                      # ᾱ_t
        alpha_bar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod  # ᾱ_{t'}
        x0, eps = self.predict_original(model_output, alpha_bar_t, sample)                        # x̂_0, ε̂
        # σ_t(η) (DDIM eq. 16): η = 0 → no noise at all; η = 1 → as random as DDPM
        variance = (1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev)
        sigma_t = eta * variance ** 0.5
        direction = (1 - alpha_bar_prev - sigma_t ** 2) ** 0.5 * eps   # "the direction pointing to x_t"
        prev_sample = alpha_bar_prev ** 0.5 * x0 + direction            # re-noise x̂_0 to the level of t'
        if eta > 0:
            z = variance_noise if variance_noise is not None else _randn_like(model_output, generator)
            prev_sample = prev_sample + sigma_t * z
        return SchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)


# -- sampling: start from noise, call the model, step, repeat -----------------------------------------------


@torch.no_grad()
def sample(model, scheduler: NoiseScheduler, shape: tuple[int, ...], num_inference_steps: int,
           generator: torch.Generator | None = None, device: str | torch.device = "cpu", context=None,
           keep: int = 0, progress: bool = False, **step_kwargs):
    """The reverse process: x_T ~ N(0, I), then x_t → x_{t−1} with the model's ε̂ at every timestep.

    model(x, t, context) predicts the noise; shape: (B, C, H, W). Returns the final x_0 in [-1, 1] (as the model
    made it), or, with keep=k > 0, (x_0, [(t, x_t, x̂_0) at k evenly spaced steps]) to look at the way back.
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    x = torch.randn(shape, generator=generator, device=generator.device if generator else device).to(device)
    x = x * scheduler.init_noise_sigma
    scheduler.set_timesteps(num_inference_steps)
    n = len(scheduler.timesteps)
    marks = {round(i * (n - 1) / max(1, keep - 1)) for i in range(keep)} if keep else set()
    kept = []
    for i, t in enumerate(tqdm(scheduler.timesteps, disable=not progress, desc="sampling", leave=False)):
        eps = model(scheduler.scale_model_input(x, t), t.to(device), context)   # ε̂ = model(x_t, t)
        out = scheduler.step(eps, t, x, generator=generator, **step_kwargs)
        if i in marks:
            kept.append((int(t), x.cpu(), out.pred_original_sample.cpu()))
        x = out.prev_sample
    return (x, kept) if keep else x


# -- training: slide 47's pairs ------------------------------------------------------------------------

def noise_prediction_loss(model, batch, scheduler: NoiseScheduler) -> torch.Tensor:
    """Slide 47's training pairs: pick a random t, noise x_0 to x_t, ask the model for the noise; MSE(ε̂, ε)."""
    (x0,) = batch                                                        # (B, C, H, W) clean images
    t = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), device=x0.device)  # (B,)
    noise = torch.randn_like(x0)                                         # ε ~ N(0, I)
    x_t = scheduler.add_noise(x0, noise, t)                              # the noisy half of the pair
    return torch.nn.functional.mse_loss(model(x_t, t), noise)
