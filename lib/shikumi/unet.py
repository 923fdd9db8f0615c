"""The UNet: the noise predictor of the reverse process (slides 47–48).

Given a noisy image x_t and its timestep t, the UNet predicts the noise ε that was added (slide 47's note:
「正確には、ノイズを形成する正規分布のパラメータ(分散, 平均)を予測」). Its shape is a U:

    x (B, C, H, W) ─ conv_in ─ level 0 ─────────────────────────── skip ─────────── level 0 ─ conv_out ─ ε̂
                                 └ down ─ level 1 ────────── skip ─────── level 1 ─ up ┘
                                            └ down ─ level 2 ─ middle ─ level 2 ─ up ┘

- the *down path* halves the resolution at each level, so deeper levels see a wider area of the image;
- the *up path* doubles it back, and each level is handed the down path's features at the same resolution
  (the *skip connections*), so fine detail is not lost on the way through the bottleneck;
- the timestep t enters as a sinusoidal embedding, added inside every residual block: the network needs to
  know how much noise to expect (at t = 999 almost everything is noise, at t = 10 almost nothing is);
- attention blocks let every pixel look at every other pixel (self-attention) and, when a context is given,
  at the words of a prompt (cross-attention, lesson 08: UNetConfig(cross_attention_dim=...)). Both use
  shikumi.attention.MultiHeadAttention, the course's one attention.

The config's names are diffusers' (UNet2DModel, UNet2DConditionModel): block_out_channels, layers_per_block,
norm_num_groups, cross_attention_dim.

    model = UNet(UNetConfig.preset("quick"))           # 28×28 digits, no text
    eps_hat = model(x_t, t)                             # (B, 1, 28, 28)
    model = UNet(UNetConfig.preset("quick", in_channels=4, out_channels=4, cross_attention_dim=64))
    eps_hat = model(z_t, t, context=text_embeddings)    # lesson 08: text injected at every denoising step
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi.attention import MultiHeadAttention
from shikumi.presets import ParameterCount, choose


@dataclass
class UNetConfig:
    in_channels: int = 1
    out_channels: int = 1
    block_out_channels: tuple[int, ...] = (16, 32, 64)     # channels at each level: H×W, H/2×W/2, H/4×W/4
    attention_levels: tuple[bool, ...] = (False, False, True)  # which levels have attention blocks
    layers_per_block: int = 1                              # residual blocks per level (up path: the same)
    n_head: int = 4
    cross_attention_dim: int | None = None                 # the context's width (text embeddings); None: no text
    norm_num_groups: int = 8                               # GroupNorm groups; every channel count must divide by it
    dropout: float = 0.0
    sample_size: int = 28                                  # H = W of the images it is trained on (informational)

    def __post_init__(self):  # JSON gives lists back: make them tuples again
        self.block_out_channels, self.attention_levels = tuple(self.block_out_channels), tuple(self.attention_levels)
        if len(self.block_out_channels) != len(self.attention_levels):
            raise ValueError("block_out_channels and attention_levels need one entry per level")

    @classmethod
    def preset(cls, size: str = "quick", **overrides) -> UNetConfig:
        sizes = {
            "tiny": cls(block_out_channels=(16, 32), attention_levels=(False, True), n_head=2),  # tests
            "quick": cls(),                                                                   # 0.5 M, CPU
            "full": cls(block_out_channels=(64, 128, 256), attention_levels=(False, True, True),
                        layers_per_block=2, n_head=8, dropout=0.1),                           # a GPU
        }
        return choose(cls, sizes, size, **overrides)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoids of t at dim/2 frequencies, as the Transformer's positions (slide 30): (B,) → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]                                           # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)                       # (B, dim)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with a shortcut; the timestep embedding is added in between."""

    def __init__(self, c_in: int, c_out: int, d_time: int, groups: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time_proj = nn.Linear(d_time, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))                        # (B, c_out, H, W)
        h = h + self.time_proj(F.silu(t_emb))[:, :, None, None]      # + t: (B, c_out) → (B, c_out, 1, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))          # (B, c_out, H, W)
        return self.shortcut(x) + h


class AttentionBlock(nn.Module):
    """Every pixel is a token: self-attention, then cross-attention to the context (if any), then an MLP."""

    def __init__(self, channels: int, n_head: int, groups: int, d_context: int | None = None):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.proj_in = nn.Linear(channels, channels)
        self.norm1 = nn.LayerNorm(channels)
        self.self_attn = MultiHeadAttention(channels, n_head)
        self.norm2 = nn.LayerNorm(channels) if d_context else None
        self.cross_attn = MultiHeadAttention(channels, n_head, d_context=d_context) if d_context else None
        self.norm3 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(), nn.Linear(4 * channels, channels))
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        h = self.norm(x).view(B, C, H * W).transpose(1, 2)           # (B, H·W, C): one token per pixel
        h = self.proj_in(h)
        h = h + self.self_attn(self.norm1(h))                        # pixels look at pixels
        if self.cross_attn is not None and context is not None:     # pixels look at words: (B, T_text, d_ctx)
            mask = None if context_mask is None else context_mask[:, None, None, :]  # (B, 1, 1, T_text)
            h = h + self.cross_attn(self.norm2(h), context, mask=mask)
        h = h + self.mlp(self.norm3(h))
        h = self.proj_out(h).transpose(1, 2).reshape(B, C, H, W)     # back to (B, C, H, W)
        return x + h


class Level(nn.Module):
    """One resolution of the U: layers_per_block × (ResBlock, then an AttentionBlock if attention)."""

    def __init__(self, c_in: int, c_out: int, cfg: UNetConfig, d_time: int, attention: bool):
        super().__init__()
        self.res = nn.ModuleList(ResBlock(c_in if i == 0 else c_out, c_out, d_time, cfg.norm_num_groups, cfg.dropout)
                                 for i in range(cfg.layers_per_block))
        self.attn = nn.ModuleList(AttentionBlock(c_out, cfg.n_head, cfg.norm_num_groups, cfg.cross_attention_dim)
                                  for _ in range(cfg.layers_per_block)) if attention else None

    def forward(self, h, t_emb, context=None, context_mask=None):
        for i, res in enumerate(self.res):
            h = res(h, t_emb)
            if self.attn is not None:
                h = self.attn[i](h, context, context_mask)
        return h


class Upsample(nn.Module):
    """Double H and W (nearest neighbour), then a 3×3 convolution to smooth and change the channels."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))   # (B, c_out, 2H, 2W)


class UNet(nn.Module, ParameterCount):
    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        chs = cfg.block_out_channels
        d_time = 4 * chs[0]
        self.time_mlp = nn.Sequential(nn.Linear(chs[0], d_time), nn.SiLU(), nn.Linear(d_time, d_time))
        self.conv_in = nn.Conv2d(cfg.in_channels, chs[0], 3, padding=1)
        # down path: level i works at H / 2^i; every level but the last ends by halving H and W
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = chs[0]
        for i, (c_out, attn) in enumerate(zip(chs, cfg.attention_levels)):
            self.down.append(Level(c, c_out, cfg, d_time, attn))
            last = i == len(chs) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c_out, c_out, 3, stride=2, padding=1))
            c = c_out
        # the bottom of the U: the smallest, most global view
        self.mid = Level(c, c, cfg, d_time, attention=True)
        # up path: level i takes its own input plus the skip from down level i (concatenated channels)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(chs))):
            self.up.append(Level(c + chs[i], chs[i], cfg, d_time, cfg.attention_levels[i]))
            c = chs[i]
            self.upsample.append(Upsample(c, chs[i - 1]) if i > 0 else nn.Identity())
            c = chs[i - 1] if i > 0 else c
        self.norm_out = nn.GroupNorm(cfg.norm_num_groups, chs[0])
        self.conv_out = nn.Conv2d(chs[0], cfg.out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, in_channels, H, W), H and W divisible by 2^(levels − 1); t: an int or (B,) timesteps;
        context: (B, T_text, cross_attention_dim) or None; context_mask: (B, T_text) bool, True = a real token.
        Returns the predicted noise ε̂: (B, out_channels, H, W)."""
        B = x.shape[0]
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(B)          # (B,)
        t_emb = self.time_mlp(timestep_embedding(t, self.config.block_out_channels[0]))  # (B, d_time)
        h = self.conv_in(x)                                                    # (B, c0, H, W)
        skips = []
        for level, down in zip(self.down, self.downsample):
            h = level(h, t_emb, context, context_mask)                         # (B, c_i, H/2^i, W/2^i)
            skips.append(h)
            h = down(h)                                                        # (B, c_i, H/2^(i+1), …)
        h = self.mid(h, t_emb, context, context_mask)
        for level, up in zip(self.up, self.upsample):
            h = torch.cat([h, skips.pop()], dim=1)                             # (B, c + c_i, H/2^i, W/2^i)
            h = level(h, t_emb, context, context_mask)                         # (B, c_i, H/2^i, W/2^i)
            h = up(h)                                                          # (B, c_{i−1}, H/2^(i−1), …)
        return self.conv_out(F.silu(self.norm_out(h)))                         # (B, out_channels, H, W)

