"""CLIP: text and images in one embedding space, learned from pairs (slides 45–46).

Slide 45: 「テキストもまた違う方法でベクトルにする」 — text, too, becomes a vector (an *embedding*), by another route
than images. Slide 46: 「テキストと画像のペアを大量に学習して、画像とテキストを同一の空間に埋め込む」 — learn from many
text–image pairs to embed images and text into the same space (Radford et al., 2021, "Learning Transferable
Visual Models From Natural Language Supervision").

    image (B, 3, 32, 32) → ImageEncoder (a small CNN)                       → (B, embed_dim) ┐ cosine × logit_scale
    caption ids (B, T)   → TextEncoder (pre-LN Transformer, causal mask,
                           the features at the end-of-text token)           → (B, embed_dim) ┘ = (B, B) logits

Training pulls each image towards its own caption and pushes it away from the other captions of the batch: the
symmetric contrastive loss `clip_loss`, a cross-entropy over the rows (image → text) and over the columns
(text → image) of the similarity matrix, whose right answers lie on the diagonal. The temperature is learned:
`logit_scale` starts at log(1 / 0.07) and is clamped so that exp(logit_scale) ≤ 100, as in the paper.

The text tower is built from GPT's Block (shikumi.gpt, pre-LN, causal self-attention through
shikumi.attention.MultiHeadAttention), like CLIP's. Lesson 08 reuses it, frozen, to read English and Japanese
prompts: `encode_text` gives one vector per caption, `text_hidden_states` one vector per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi import data, presets
from shikumi.captions import caption_words, unknown_words  # noqa: F401  (lessons call clip.caption_words)
from shikumi.gpt import Block
from shikumi.presets import ParameterCount
from shikumi.tokenizer import WordTokenizer

PRESETS: dict[str, dict] = {
    "tiny": dict(embed_dim=32, width=8, d_model=32, n_head=2, n_layer=1),      # tests: seconds on a CPU
    "quick": dict(embed_dim=64, width=16, d_model=64, n_head=4, n_layer=2),    # the shipped model (CPU, minutes)
    "full": dict(embed_dim=128, width=64, d_model=128, n_head=4, n_layer=4),   # for a GPU
}


@dataclass
class CLIPConfig:
    vocab_size: int = 64          # words of the shared English + Japanese vocabulary
    context_length: int = 16      # the longest caption, in tokens (<s> and </s> included)
    embed_dim: int = 64           # the width of the shared space both towers project into
    image_size: int = 32          # images are (3, image_size, image_size)
    width: int = 16               # image tower: channels of the first stage, doubled at each of 3 stages
    d_model: int = 64             # text tower: the width of every token's vector
    n_head: int = 4               # text tower: attention heads per Block
    n_layer: int = 2              # text tower: Blocks
    dropout: float = 0.0
    pad_id: int = 0               # the padding token (WordTokenizer: 0)
    logit_scale_init: float = math.log(1 / 0.07)   # the paper's initial temperature, 0.07
    logit_scale_max: float = math.log(100.0)       # the paper clamps the scale at 100

    @classmethod
    def preset(cls, name: str, **overrides) -> CLIPConfig:
        return presets.choose(cls, PRESETS, name, **overrides)


class ImageEncoder(nn.Module):
    """A small CNN: three stages that each halve the image (32 → 16 → 8 → 4), then one linear layer.

    The last feature map is flattened rather than averaged, so *where* the shape is (left, top…) survives."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        c = config.width
        self.stages = nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.GELU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU(),             # (B, c, 16, 16)
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.GELU(),     # (B, 2c, 8, 8)
            nn.Conv2d(2 * c, 4 * c, 3, padding=1), nn.GELU(),
            nn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1), nn.GELU(),     # (B, 4c, 4, 4)
        )
        side = config.image_size // 8
        self.proj = nn.Linear(4 * c * side * side, config.embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stages(images)                                             # (B, 4c, 4, 4)
        return self.proj(x.flatten(1))                                      # (B, embed_dim)


def pool_at_eot(hidden: torch.Tensor, tokens: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """(B, T, d) hidden states → (B, d): each caption's vector at its end-of-text token, its last real token.

    With a causal mask only the last token has seen the whole caption, so CLIP reads the caption there.
    Captions are right-padded, so the last real token sits at index (number of non-padding tokens) − 1."""
    last = (tokens != pad_id).sum(dim=1) - 1                                # (B,)
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]  # (B, d)


class TextEncoder(nn.Module):
    """Token + position embeddings, n_layer pre-LN Blocks with a causal mask, a final LayerNorm, then the
    end-of-text token's vector projected into the shared space (CLIP's text tower, made small)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.context_length, config.d_model)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_head, config.dropout, prenorm=True)
                                    for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.text_projection = nn.Linear(config.d_model, config.embed_dim, bias=False)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.01)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, d_model): one vector per token (what a UNet's cross-attention reads in lesson 08).

        The causal mask means padding after </s> never changes the real tokens' vectors."""
        T = tokens.size(1)
        if T > self.config.context_length:
            raise ValueError(f"{T} tokens, but context_length is {self.config.context_length}")
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(T, device=tokens.device))
        for block in self.blocks:
            x = block(x)                                                    # (B, T, d_model)
        return self.ln_f(x)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pooled = pool_at_eot(self.hidden_states(tokens), tokens, self.config.pad_id)  # (B, d_model)
        return self.text_projection(pooled)                                 # (B, embed_dim)


class CLIP(nn.Module, ParameterCount):
    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        self.image_encoder = ImageEncoder(config)
        self.text_encoder = TextEncoder(config)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))  # log of the scale

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] → (B, embed_dim); unit length unless normalize=False."""
        features = self.image_encoder(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(B, T) ids (right-padded, ending in </s>) → (B, embed_dim); unit length unless normalize=False."""
        features = self.text_encoder(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def text_hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.text_encoder.hidden_states(tokens)                      # (B, T, d_model)

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), the temperature's inverse, clamped to [1, 100] as in the paper."""
        return self.logit_scale.clamp(0.0, self.config.logit_scale_max).exp()

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        """(unit image features (B, E), unit text features (B, E), the scale): what clip_loss takes."""
        return self.encode_image(images), self.encode_text(tokens), self.scale()


def similarity(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale=1.0) -> torch.Tensor:
    """(N, E), (M, E) → (N, M): cosine similarity of every image with every text, times logit_scale."""
    image_features = F.normalize(image_features, dim=-1)
    text_features = F.normalize(text_features, dim=-1)
    return logit_scale * image_features @ text_features.T                   # (N, M)


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale) -> torch.Tensor:
    """The symmetric contrastive loss of CLIP (the paper's Figure 3), a scalar.

    image_features, text_features: (B, E), row i of each from the same pair (normalised here if they are not);
    logit_scale: the multiplier exp(t), a float or a scalar tensor. Logits (B, B) = logit_scale × cosines; for
    image i the right text is text i, and for text j the right image is image j: the targets are the diagonal.
    """
    logits_per_image = similarity(image_features, text_features, logit_scale)  # (B, B): rows are images
    targets = torch.arange(logits_per_image.size(0), device=logits_per_image.device)
    image_to_text = F.cross_entropy(logits_per_image, targets)             # each image picks its caption
    text_to_image = F.cross_entropy(logits_per_image.T, targets)           # each caption picks its image
    return (image_to_text + text_to_image) / 2


# -- captions → token ids ------------------------------------------------------------------------
# caption_words (shikumi.captions) reads a caption, or what a learner types, as the captions' own words.

def tokenize(texts: list[str], tokenizer: WordTokenizer, context_length: int = 16) -> torch.Tensor:
    """Captions → (B, context_length) ids: <s> words </s>, right-padded; unknown words become <unk>."""
    ids = torch.full((len(texts), context_length), tokenizer.pad_id, dtype=torch.long)
    for i, text in enumerate(texts):
        row = tokenizer.encode(caption_words(text)[: context_length - 2], add_bos=True, add_eos=True)
        ids[i, : len(row)] = torch.tensor(row)
    return ids


# -- zero-shot classification --------------------------------------------------------------------

@torch.no_grad()
def zero_shot_accuracy(model: CLIP, tokenizer: WordTokenizer, images: torch.Tensor, specs: list,
                       lang: str = "en", batch_size: int = 500) -> dict[str, float]:
    """Classify each image among all 200 captions (one prompt per colour × shape × size × position, in `lang`)
    by cosine similarity; the fraction right: "exact" (the whole caption) and each attribute of the caption."""
    device = next(model.parameters()).device
    classes = data.all_shapes("all")
    prompts = model.encode_text(tokenize([s.caption(lang) for s in classes], tokenizer,
                                         model.config.context_length).to(device))  # (200, E)
    picks = torch.cat([(model.encode_image(images[i:i + batch_size].to(device)) @ prompts.T).argmax(dim=1)
                       for i in range(0, len(images), batch_size)]).tolist()
    result = {"exact": sum(classes[p] == s for p, s in zip(picks, specs)) / len(specs)}
    for attribute in ("color", "shape", "size", "position"):
        right = sum(getattr(classes[p], attribute) == getattr(s, attribute) for p, s in zip(picks, specs))
        result[attribute] = right / len(specs)
    return result
