"""Autoencoders and the VAE: Stable Diffusion's image encoder and decoder (slides 43–44).

Slide 44: 「自分自身を入力とし、自分自身を出力しようとするニューラルネットワークからホクホクの中間層を抜き取ることにより、
自分の圧縮表現を作る」 — a network whose input is also its target, squeezed through a narrow middle; the middle
is the image's compressed (latent) representation. Slide 43: Stable Diffusion's VAE turns a 512×512×3 image into
a 64×64×4 latent, 「元画像が1/48くらいのサイズになり、計算量が削減」 — 1/48 of the numbers to diffuse.

    config = AutoencoderConfig.preset("shapes")        # SD's geometry: 32×32×3 → (4, 4, 4), 1/48
    vae = VAE(config)
    posterior = vae.encode(images).latent_dist         # as in diffusers' AutoencoderKL
    z = posterior.sample()                             # (B, 4, 4, 4) = μ + σ·ε;  posterior.mean: μ
    images_again = vae.decode(z)                       # (B, 3, 32, 32)  (diffusers: vae.decode(z).sample)

Lesson 08 uses the shipped one as SD uses its VAE, with latents scaled to about unit variance:

    vae = shikumi.zoo.vae.load_vae("vae_shapes")                             # checksum verified
    latents = vae.encode(images).latent_dist.sample() * vae.config.scaling_factor   # what diffusion learns
    images = vae.decode(latents / vae.config.scaling_factor)                 # slide 42's step ⑦

`Autoencoder` is slide 44's plain version (encode(x) → z, a tensor). `VAE` adds slide 43's "V": the encoder
outputs a mean μ and a log-variance log σ² per latent number, the latent is sampled as z = μ + σ·ε, and a KL term
keeps every μ, σ near N(0, 1), so that decoding *any* nearby z gives a sensible image. Images are in [0, 1]
(SD's VAE uses [-1, 1]; nothing else changes). Latents are either maps (latent_channels, H/f, W/f) as in SD, or,
with latent_dim > 0, one flat vector per image (slide 44's picture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from shikumi import presets
from shikumi.presets import ParameterCount


@dataclass
class AutoencoderConfig:
    in_channels: int = 3                     # 1: grey digits; 3: RGB shapes
    image_size: int = 32                     # H = W
    block_out_channels: tuple = (16, 32, 64, 64)  # width of each level; each level after the first halves H, W
    mid_blocks: int = 1                      # ResnetBlocks at the smallest size (SD's "mid block")
    latent_channels: int = 4                 # SD: 4
    latent_dim: int = 0                      # 0: latents are maps, as in SD; > 0: one flat vector of this size
    norm_num_groups: int = 8                 # GroupNorm groups
    scaling_factor: float = 1.0              # SD: 0.18215 — latents × this have about unit variance for diffusion

    @property
    def downsample_factor(self) -> int:
        """f: the image's H and W are f times the latent map's (SD: 512 / 64 = 8)."""
        return 2 ** (len(self.block_out_channels) - 1)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of one image's latent: (latent_dim,) or (latent_channels, H/f, W/f)."""
        if self.latent_dim:
            return (self.latent_dim,)
        side = self.image_size // self.downsample_factor
        return (self.latent_channels, side, side)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, self.image_size, self.image_size)

    @classmethod
    def preset(cls, name: str, **overrides) -> AutoencoderConfig:
        """A named configuration ("digits", "shapes", "…-full") with any field overridden."""
        return presets.choose(cls, PRESETS, name, **overrides)


PRESETS = {
    # MNIST 28×28×1 → 28 → 14 → 7, flattened into 16 numbers: 784 / 16 = 49, about slide 43's 1/48
    "digits": dict(in_channels=1, image_size=28, block_out_channels=(8, 16, 32), mid_blocks=0, latent_dim=16),
    "digits-full": dict(in_channels=1, image_size=28, block_out_channels=(32, 64, 128), mid_blocks=2, latent_dim=16),
    # the captioned shapes 32×32×3 → 32 → 16 → 8 → 4: latents (4, 4, 4), f = 8 and 4 channels exactly like SD
    "shapes": dict(in_channels=3, image_size=32, block_out_channels=(16, 32, 64, 64), mid_blocks=1,
                   latent_channels=4),
    "shapes-full": dict(in_channels=3, image_size=32, block_out_channels=(64, 128, 256, 256), mid_blocks=2,
                        latent_channels=4, norm_num_groups=32),
}


# -- the VAE's three formulas (slide 43) ------------------------------------------------------------

def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = μ + σ·ε with σ = exp(½ log σ²): a sample of N(μ, σ²) that gradients can flow through."""
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²): summed over each image's latent numbers, averaged
    over the batch (dimension 0). A scalar tensor; 0 exactly when every μ = 0 and σ = 1."""
    per_number = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    return per_number.flatten(1).sum(1).mean()


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> torch.Tensor:
    """reconstruction + β · KL: the squared error summed over each image's pixels, plus β times kl_divergence,
    both averaged over the batch. β = 1 is the textbook VAE; SD's VAE uses a tiny β (only a light pull to N(0, 1))."""
    reconstruction = (x_hat - x).pow(2).flatten(1).sum(1).mean()
    return reconstruction + beta * kl_divergence(mu, logvar)


def compression_ratio(image_shape, latent_shape) -> float:
    """How many image numbers per latent number: 512·512·3 / (64·64·4) = 48 (slide 43's 「1/48」)."""
    return math.prod(image_shape) / math.prod(latent_shape)


class DiagonalGaussian:
    """The encoder's answer for each latent number: N(mean, exp(logvar)). Named like diffusers'
    DiagonalGaussianDistribution: .mean, .logvar, .std, .var, .sample(generator), .mode(), .kl()."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor):
        self.mean = mean
        self.logvar = logvar.clamp(-30.0, 20.0)  # exp() stays finite
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return reparameterize(self.mean, self.logvar, eps)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """Per image: (B,), summed over its latent numbers (diffusers' .kl() does the same)."""
        return (0.5 * (self.mean.pow(2) + self.logvar.exp() - 1 - self.logvar)).flatten(1).sum(1)


@dataclass
class EncoderOutput:
    latent_dist: DiagonalGaussian           # diffusers: AutoencoderKLOutput.latent_dist


# -- the layers ----------------------------------------------------------------------------------

class ResnetBlock(nn.Module):
    """x + conv(SiLU(norm(conv(SiLU(norm(x)))))): two 3×3 convolutions that keep the shape (as in SD's VAE)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(groups, channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):                                          # (B, C, H, W)
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))               # (B, C, H, W)


class Encoder(nn.Module):
    """(B, C, H, W) image → (B, out, H/f, W/f) maps, or (B, out) when config.latent_dim > 0.

    Each level after the first halves H and W with a 3×3 convolution of stride 2; the ResnetBlocks work at the
    smallest size (SD's "mid block"), where they cost least."""

    def __init__(self, config: AutoencoderConfig, out: int):
        super().__init__()
        ch, g = list(config.block_out_channels), config.norm_num_groups
        self.conv_in = nn.Conv2d(config.in_channels, ch[0], 3, padding=1)          # (B, ch[0], H, W)
        self.down = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(ch, ch[1:]))
        self.mid = nn.Sequential(*(ResnetBlock(ch[-1], g) for _ in range(config.mid_blocks)))
        self.norm_out = nn.GroupNorm(min(g, ch[-1]), ch[-1])
        side = config.image_size // config.downsample_factor
        self.flat = bool(config.latent_dim)
        if self.flat:  # flatten the maps into one vector: slide 44's narrow middle (here conv_out is a linear layer)
            self.conv_out = nn.Linear(ch[-1] * side * side, out)
        else:
            self.conv_out = nn.Conv2d(ch[-1], out, 3, padding=1)

    def forward(self, x):                                          # (B, C, H, W)
        h = F.silu(self.conv_in(x))
        for down in self.down:
            h = F.silu(down(h))                                    # H and W halve at every level
        h = F.silu(self.norm_out(self.mid(h)))                     # (B, ch[-1], H/f, W/f)
        return self.conv_out(h.flatten(1) if self.flat else h)     # (B, out) or (B, out, H/f, W/f)


class Decoder(nn.Module):
    """The mirror image: latents (B, latent_channels, H/f, W/f) or (B, latent_dim) → (B, C, H, W).

    Each level doubles H and W with a transposed 4×4 convolution of stride 2."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        ch, g = list(reversed(config.block_out_channels)), config.norm_num_groups
        self.side = config.image_size // config.downsample_factor
        self.flat = bool(config.latent_dim)
        if self.flat:  # a flat code: a linear layer makes maps again
            self.conv_in = nn.Linear(config.latent_dim, ch[0] * self.side * self.side)
        else:
            self.conv_in = nn.Conv2d(config.latent_channels, ch[0], 3, padding=1)
        self.mid = nn.Sequential(*(ResnetBlock(ch[0], g) for _ in range(config.mid_blocks)))
        self.up = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1) for a, b in zip(ch, ch[1:]))
        self.conv_out = nn.Conv2d(ch[-1], config.in_channels, 3, padding=1)

    def forward(self, z):
        h = self.conv_in(z)
        if self.flat:
            h = h.view(len(z), -1, self.side, self.side)           # (B, ch[0]·s·s) → (B, ch[0], s, s), s = H/f
        h = self.mid(h)                                            # (B, ch[0], H/f, W/f)
        for up in self.up:
            h = up(F.silu(h))                                      # H and W double at every level
        return self.conv_out(F.silu(h))                            # (B, C, H, W)


# -- the models ----------------------------------------------------------------------------------

class Autoencoder(nn.Module, ParameterCount):
    """Slide 44: encode(x) → z (the compressed representation), decode(z) → x̂; trained so that x̂ ≈ x."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, self._encoder_outputs(config))
        self.decoder = Decoder(config)

    @staticmethod
    def _encoder_outputs(config: AutoencoderConfig) -> int:
        return config.latent_dim or config.latent_channels

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)                                     # (B, *latent_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)                                     # (B, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(Autoencoder):
    """Slide 43's Variational AutoEncoder, shaped like diffusers' AutoencoderKL:
    encode(x).latent_dist → DiagonalGaussian (.mean = μ, .logvar = log σ², .sample() = μ + σ·ε); decode(z) → x̂.
    forward(x) → (x̂, posterior), decoding a sample (or the mean with sample_posterior=False)."""

    @staticmethod
    def _encoder_outputs(config: AutoencoderConfig) -> int:
        return 2 * (config.latent_dim or config.latent_channels)  # a mean and a log-variance for each number

    def encode(self, x: torch.Tensor) -> EncoderOutput:
        mean, logvar = self.encoder(x).chunk(2, dim=1)             # each (B, *latent_shape)
        return EncoderOutput(DiagonalGaussian(mean, logvar))

    def forward(self, x: torch.Tensor, sample_posterior: bool = True, generator: torch.Generator | None = None):
        posterior = self.encode(x).latent_dist
        z = posterior.sample(generator) if sample_posterior else posterior.mode()
        return self.decode(z), posterior


def vae_loss_fn(beta: float):
    """A loss_fn for shikumi.train.train: batch (images,) → vae_loss of a sampled reconstruction."""
    def loss_fn(model: VAE, batch):
        (x,) = batch[:1]
        x_hat, posterior = model(x)
        return vae_loss(x_hat.float(), x, posterior.mean.float(), posterior.logvar.float(), beta)
    return loss_fn


@torch.no_grad()
def reconstruction_mse(model: Autoencoder, images: torch.Tensor, batch_size: int = 256) -> float:
    """Mean squared error per pixel between images and their reconstructions (the VAE decodes the mean μ)."""
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device)
        z = model.encode(x).latent_dist.mean if isinstance(model, VAE) else model.encode(x)
        total += (model.decode(z).clamp(0, 1) - x).pow(2).sum().item()
    return total / images.numel()
