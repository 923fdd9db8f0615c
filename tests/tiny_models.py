"""Every model of the course, tiny, with a batch maker and its loss: for the tests that run each model through
the one training loop on another path (CUDA, bf16 autocast, torch.compile)."""

from __future__ import annotations

import torch

from shikumi import autoencoder, diffusion, translation
from shikumi.autoencoder import VAE, AutoencoderConfig
from shikumi.clip import CLIP, CLIPConfig
from shikumi.gpt import GPT, GPTConfig
from shikumi.transformer import Transformer, TransformerConfig
from shikumi.unet import UNet, UNetConfig
from shikumi.zoo import clip_shapes, gpt_shakespeare, unet_digits


def tokens(B, T, vocab, g):
    return torch.randint(1, vocab, (B, T), generator=g)


def tiny_gpt():
    model = GPT(GPTConfig(vocab_size=40, block_size=32, n_layer=2, n_head=4, d_model=64))
    return model, lambda g: (tokens(8, 32, 40, g), tokens(8, 32, 40, g)), gpt_shakespeare.loss_fn


def tiny_transformer():
    model = Transformer(TransformerConfig(src_vocab_size=30, tgt_vocab_size=30, block_size=16))
    return model, lambda g: (tokens(8, 10, 30, g), tokens(8, 12, 30, g), tokens(8, 12, 30, g)), translation.loss_fn


def tiny_vae():
    model = VAE(AutoencoderConfig.preset("shapes"))
    return model, lambda g: (torch.rand(8, 3, 32, 32, generator=g) * 2 - 1,), autoencoder.vae_loss_fn(1e-3)


def tiny_clip():
    model = CLIP(CLIPConfig())
    return model, lambda g: (torch.rand(8, 3, 32, 32, generator=g), tokens(8, 16, 64, g)), clip_shapes.loss_fn


def tiny_unet_with_text():
    """Lesson 08's kind of UNet: latents (4, 8, 8) and cross-attention to a text (B, 5, 12)."""
    model = UNet(UNetConfig.preset("tiny", in_channels=4, out_channels=4, cross_attention_dim=12, sample_size=8))
    scheduler = diffusion.DDPMScheduler()

    def loss_fn(m, batch):
        z0, context = batch
        t = torch.randint(0, 1000, (z0.shape[0],), device=z0.device)
        noise = torch.randn_like(z0)
        return torch.nn.functional.mse_loss(m(scheduler.add_noise(z0, noise, t), t, context), noise)

    return model, lambda g: (torch.randn(8, 4, 8, 8, generator=g), torch.randn(8, 5, 12, generator=g)), loss_fn


def tiny_unet_digits():
    model = UNet(UNetConfig.preset("tiny"))
    scheduler = diffusion.DDPMScheduler(**unet_digits.DIGITS_SCHEDULE)
    return (model, lambda g: (torch.rand(8, 1, 28, 28, generator=g) * 2 - 1,),
            lambda m, b: diffusion.noise_prediction_loss(m, b, scheduler))


MODELS = {"gpt": tiny_gpt, "transformer": tiny_transformer, "vae": tiny_vae, "clip": tiny_clip,
          "unet_digits": tiny_unet_digits, "unet_with_text": tiny_unet_with_text}
