"""From the course's pipeline to the real one: diffusers' StableDiffusionPipeline, built tiny and locally.

Lesson 08 ends where a learner meets Stable Diffusion itself. The real pipeline has the same parts as
shikumi.pipeline, under the names the libraries use:

    the course                         diffusers / transformers              Stable Diffusion 1.5
    shikumi.autoencoder.VAE            diffusers.AutoencoderKL               (1, 3, 512, 512) ↔ (1, 4, 64, 64)
    shikumi.clip  (text tower)         transformers.CLIPTextModel            77 tokens → (1, 77, 768)
    shikumi.unet.UNet (+ cross-attn)   diffusers.UNet2DConditionModel        860 M parameters
    shikumi.diffusion.DDIMScheduler    diffusers.DDIMScheduler (and others)  the same formulas
    shikumi.pipeline                   diffusers.StableDiffusionPipeline     pipe(prompt).images

`tiny_stable_diffusion()` builds that pipeline with random weights and our sizes (32×32 images, 4×4×4 latents),
with no download: its tokenizer is a character-level CLIPTokenizer whose vocabulary is written on the spot.
Random weights draw nothing sensible; the point is to see each real component take and return the same shapes
as ours. To run the real model, see the lesson's last section.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) table from the 256 byte values to printable characters, so BPE can work on text."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def character_tokenizer(max_length: int = 64):
    """A CLIPTokenizer with no merges: every byte is a token (the real one has 49,408 learned merges)."""
    from transformers import CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    folder = Path(tempfile.mkdtemp(prefix="shikumi-tokenizer-"))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length)


def tiny_stable_diffusion(seed: int = 0):
    """diffusers.StableDiffusionPipeline with random weights at the course's sizes; no download, a few seconds."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")   # no notes about optional image processors
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = character_tokenizer()
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=tokenizer.model_max_length, projection_dim=64,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 64, 64),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=8, sample_size=32)                     # 32×32×3 → 4×4×4, as vae_shapes
    unet = UNet2DConditionModel(sample_size=4, in_channels=4, out_channels=4, block_out_channels=(64, 128),
                                down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), layers_per_block=1,
                                cross_attention_dim=64, attention_head_dim=16, norm_num_groups=8)
    scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe
