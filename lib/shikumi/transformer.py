"""The Transformer of "Attention Is All You Need" (Google, 2017): an encoder–decoder (slides 26–31, 35).

Slide 28 draws two towers. The エンコーダ (encoder) reads the sentence to translate, 「私は家を建てた」: every word
becomes a vector, gets its position added (Positional Encoding), then N layers of Multi-Head Attention and a
feed-forward network (FFN) turn it into 「文中での重要度を加味した表現」, a representation that weighs what matters
in the sentence. The デコーダ (decoder) writes the translation one word at a time (slide 30):
「いままで生成した文章を入れて次の一単語を出す」 — the words written so far go in, the next word comes out — and
through cross-attention it adds 「翻訳前の文章」, the encoder's picture of the input sentence.

    config = TransformerConfig.preset("quick", src_vocab_size=120, tgt_vocab_size=100)
    model = Transformer(config)
    logits = model(src_ids, tgt_in)                       # training: every position at once (teacher forcing)
    out = model.generate(src_ids, bos_id=1, eos_id=2)     # greedy decoding, one word at a time (slide 25)

LayerNorm sits after each residual add ("post-LN"), as in the paper; `prenorm=True` moves it in front of each
sub-layer, as GPT-2 did (slide 14: 「正規化レイヤーの位置変えた」). Every attention — the encoder's self-attention,
the decoder's causal self-attention and its cross-attention — is shikumi.attention.MultiHeadAttention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi import presets
from shikumi.attention import MultiHeadAttention, causal_mask, padding_mask
from shikumi.presets import ParameterCount

PRESETS: dict[str, dict] = {
    "tiny": dict(d_model=32, n_head=2, n_layer=1, d_ff=64),                   # seconds on a CPU: chat demo, tests
    "quick": dict(d_model=64, n_head=4, n_layer=2, d_ff=128),                 # the shipped translator (~1 min, CPU)
    "full": dict(d_model=256, n_head=8, n_layer=3, d_ff=1024, dropout=0.1),   # for a GPU
    "base": dict(d_model=512, n_head=8, n_layer=6, d_ff=2048, dropout=0.1),   # the paper's base model
}


@dataclass
class TransformerConfig:
    src_vocab_size: int = 100   # words of the input language (Japanese)
    tgt_vocab_size: int = 100   # words of the output language (English)
    block_size: int = 32        # the longest sentence, in tokens, the positional encoding covers
    d_model: int = 64           # the width of every word vector
    n_head: int = 4             # attention heads per attention layer (slide 33: 8)
    n_layer: int = 2            # encoder layers, and as many decoder layers (slide 28: ×N層; the paper: N = 6)
    d_ff: int = 128             # the FFN's hidden width (the paper: 4 × d_model)
    dropout: float = 0.0
    prenorm: bool = False       # False: the paper's post-LN; True: GPT-2's pre-LN
    pad_id: int = 0             # the padding token, which nobody attends to

    @classmethod
    def preset(cls, name: str, **overrides) -> TransformerConfig:
        """A named size ("tiny", "quick", "full", "base") with any field overridden (e.g. the vocabulary sizes)."""
        return presets.choose(cls, PRESETS, name, **overrides)


def sinusoidal_positional_encoding(T: int, d_model: int) -> torch.Tensor:
    """(T, d_model): PE[pos, 2i] = sin(pos / 10000^(2i / d_model)), PE[pos, 2i+1] = cos(the same angle).

    Attention itself does not know word order (「私は家を建てた」 and 「家を私は建てた」 would look alike), so each
    position gets its own pattern of waves, added to the word vector (slide 28: 「位置情報をもった表現」).
    """
    if d_model % 2:
        raise ValueError(f"d_model={d_model} must be even: sines and cosines come in pairs")
    pos = torch.arange(T, dtype=torch.float32)[:, None]               # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)          # (d_model / 2,): 0, 2, 4, ...
    angle = pos / 10000 ** (two_i / d_model)                          # (T, d_model / 2)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(angle)                                    # even columns
    pe[:, 1::2] = torch.cos(angle)                                    # odd columns
    return pe


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2: the same small MLP applied to every position on its own (slide 28: FFNN)."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))                          # (B, T, d_model) → same


class EncoderLayer(nn.Module):
    """Self-attention over the input sentence, then the FFN; each wrapped in a residual add and a LayerNorm."""

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.0, prenorm: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.prenorm = prenorm

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, S, d_model); mask: (B, 1, 1, S) bool, False at padding
        if self.prenorm:
            x = x + self.dropout(self.self_attn(self.norm1(x), mask=mask))
            return x + self.dropout(self.ff(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.self_attn(x, mask=mask)))   # post-LN: add, then normalise
        return self.norm2(x + self.dropout(self.ff(x)))


class DecoderLayer(nn.Module):
    """Causal self-attention over the words written so far, cross-attention to the encoder, then the FFN."""

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.0, prenorm: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.prenorm = prenorm

    def forward(self, x: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
                need_weights: bool = False) -> torch.Tensor:
        # x: (B, T, d_model) the output so far; memory: (B, S, d_model) the encoder's output
        future = causal_mask(x.size(1), x.device)                      # (T, T): no peeking at later words
        drop = self.dropout
        if self.prenorm:
            x = x + drop(self.self_attn(self.norm1(x), mask=future))
            x = x + drop(self.cross_attn(self.norm2(x), memory, mask=src_mask, need_weights=need_weights))
            return x + drop(self.ff(self.norm3(x)))
        x = self.norm1(x + drop(self.self_attn(x, mask=future)))
        x = self.norm2(x + drop(self.cross_attn(x, memory, mask=src_mask, need_weights=need_weights)))
        return self.norm3(x + drop(self.ff(x)))


class Transformer(nn.Module, ParameterCount):
    """The whole of slide 28: embeddings + positional encoding, N encoder layers, N decoder layers, a linear layer
    to one score (logit) per output word."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.d_model)
        self.register_buffer("pos_encoding", sinusoidal_positional_encoding(c.block_size, c.d_model),
                             persistent=False)                          # (block_size, d_model), not learned
        self.encoder = nn.ModuleList(EncoderLayer(c.d_model, c.n_head, c.d_ff, c.dropout, c.prenorm)
                                     for _ in range(c.n_layer))
        self.decoder = nn.ModuleList(DecoderLayer(c.d_model, c.n_head, c.d_ff, c.dropout, c.prenorm)
                                     for _ in range(c.n_layer))
        # pre-LN leaves the last residual stream un-normalised, so it adds one final LayerNorm per tower
        self.enc_ln_f = nn.LayerNorm(c.d_model) if c.prenorm else nn.Identity()
        self.dec_ln_f = nn.LayerNorm(c.d_model) if c.prenorm else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.tgt_vocab_size)          # 「次に来そうな単語」: a score per word
        self.dropout = nn.Dropout(c.dropout)

    def embed(self, table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        T = ids.size(1)
        if T > self.config.block_size:
            raise ValueError(f"{T} tokens, but block_size is {self.config.block_size}")
        x = table(ids) * math.sqrt(self.config.d_model) + self.pos_encoding[:T]   # (B, T, d_model)
        return self.dropout(x)

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        """(B, S) word ids → (B, S, d_model): 「翻訳前の文章」 as the decoder will read it."""
        src_mask = padding_mask(src_ids, self.config.pad_id)           # (B, 1, 1, S)
        x = self.embed(self.src_embed, src_ids)
        for layer in self.encoder:
            x = layer(x, mask=src_mask)
        return self.enc_ln_f(x)

    def decode(self, tgt_ids: torch.Tensor, memory: torch.Tensor, src_ids: torch.Tensor,
               need_weights: bool = False) -> torch.Tensor:
        """(B, T) the output so far (starting with <s>) → (B, T, tgt_vocab_size): at every position, the scores
        of the word that comes next. need_weights=True keeps each layer's cross-attention weights."""
        src_mask = padding_mask(src_ids, self.config.pad_id)           # (B, 1, 1, S)
        x = self.embed(self.tgt_embed, tgt_ids)
        for layer in self.decoder:
            x = layer(x, memory, src_mask, need_weights=need_weights)
        return self.lm_head(self.dec_ln_f(x))

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor, need_weights: bool = False) -> torch.Tensor:
        return self.decode(tgt_ids, self.encode(src_ids), src_ids, need_weights=need_weights)

    def cross_attention(self) -> torch.Tensor:
        """(n_layer, B, n_head, T, S): the decoder's cross-attention weights of the last call with need_weights."""
        weights = [layer.cross_attn.last_weights for layer in self.decoder]
        if any(w is None for w in weights):
            raise RuntimeError("call the model with need_weights=True first")
        return torch.stack(weights)

    @torch.no_grad()
    def generate(self, src_ids: torch.Tensor, bos_id: int, eos_id: int,
                 max_new_tokens: int | None = None) -> torch.Tensor:
        """Greedy decoding (slides 25 and 30): encode once, then again and again feed the output so far to the
        decoder and append its most probable next word, until </s>. Returns (B, ≤ max_new_tokens) word ids,
        without <s>; a finished sentence ends with </s>, then padding."""
        max_new_tokens = max_new_tokens or self.config.block_size - 1
        memory = self.encode(src_ids)                                  # the encoder runs once
        B = src_ids.size(0)
        out = torch.full((B, 1), bos_id, dtype=torch.long, device=src_ids.device)
        done = torch.zeros(B, dtype=torch.bool, device=src_ids.device)
        for _ in range(max_new_tokens):
            logits = self.decode(out, memory, src_ids)[:, -1]          # (B, V): the last position's next word
            next_id = logits.argmax(dim=-1)
            next_id = torch.where(done, torch.full_like(next_id, self.config.pad_id), next_id)
            out = torch.cat([out, next_id[:, None]], dim=1)            # (B, T + 1)
            done |= next_id == eos_id
            if done.all():
                break
        return out[:, 1:]
