"""Attention: which words in the sentence should I pay attention to? (slides 16–18, 32–34)

Slide 17: 「文中のどの単語に注目すればいいのか を表すスコアを出すモデル」. For every word (a *query*) we score every
word (a *key*), turn the scores into weights with a softmax, and mix the words' *values* with those weights:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d) V

This file is the one implementation every model of the course uses: the Transformer (lesson 03), GPT (04),
CLIP's text encoder (06) and the UNet's cross-attention (08). `scaled_dot_product_attention` has two paths:
the explicit math, to read and to look at the weights, and PyTorch's fused kernel, to be fast. Tests check
that they agree, and that `MultiHeadAttention` matches `torch.nn.MultiheadAttention`. `KVCache` keeps the keys
and values of the tokens already read, so that generating text one token at a time computes each position once.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, True where a position may look: itself and the past, never the future (GPT, decoders)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, T) bool, True for real tokens: nobody attends to padding. Broadcasts over heads and queries."""
    return (tokens != pad_id)[:, None, None, :]


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 need_weights: bool = False,
                                 is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q kᵀ / √d) v.

    q: (..., T_q, d), k: (..., T_k, d), v: (..., T_k, d_v); mask: bool, broadcastable to (..., T_q, T_k),
    True where attention is allowed. Returns (output (..., T_q, d_v), weights (..., T_q, T_k) or None).
    need_weights=True takes the explicit path so the weights can be returned; otherwise PyTorch's fused kernel.
    is_causal=True means mask=causal_mask(T) (self-attention, T_q = T_k), without building it: the fused
    kernel then skips the future by itself, and PyTorch may pick its fastest kernel (on a GPU, FlashAttention,
    which takes no mask at all).
    """
    if is_causal and (mask is not None or q.size(-2) != k.size(-2)):
        raise ValueError("is_causal=True is the causal mask of self-attention: give no mask, and T_q = T_k")
    if not need_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
        return out, None
    if is_causal:  # the explicit path needs the mask written out
        mask = causal_mask(q.size(-2), device=q.device)              # (T, T)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))         # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))             # forbidden → weight 0 after softmax
    weights = scores.softmax(dim=-1)
    if mask is not None:  # a query allowed to see nothing gets zero weights (not NaN), as in the fused kernel
        weights = weights.masked_fill(~mask, 0.0)
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights                                       # (..., T_q, d_v)


class KVCache:
    """One self-attention layer's keys and values, kept between calls while a text grows (slide 25).

    Generating reads the text one new token at a time. With the causal mask, the key and value of a position depend
    only on that position and the ones before it, so they are the same at every step: compute them once, store
    them here, and each step computes only the newest token's query, key and value.

        keys, values: (B, n_head, max_len, head_dim); slot s of row b holds position s of row b's text.

    A query at position p attends to slots 0 … p: exactly what the causal mask lets it see without the cache.
    Slots past a row's own position (empty, or padding written there) are masked out, and overwritten later.
    """

    def __init__(self, max_len: int):
        self.max_len = max_len
        self.keys: torch.Tensor | None = None       # allocated at the first update, like the keys it stores
        self.values: torch.Tensor | None = None

    def update(self, k: torch.Tensor, v: torch.Tensor,
               positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, T, hd) of the tokens at positions (B, T); return every slot's keys and values
        (B, nh, max_len, hd) and the mask (B, 1, T, max_len), True where the query at positions[b, t] may look."""
        if self.keys is None:
            B, nh, _, hd = k.shape
            self.keys = k.new_zeros(B, nh, self.max_len, hd)
            self.values = v.new_zeros(B, nh, self.max_len, v.size(-1))
        slots = positions[:, None, :, None]                                     # (B, 1, T, 1)
        self.keys.scatter_(2, slots.expand_as(k), k)                            # keys[b, :, positions[b, t]] = k[b, :, t]
        self.values.scatter_(2, slots.expand_as(v), v)
        mask = torch.arange(self.max_len, device=k.device) <= slots            # (B, 1, T, max_len): the causal mask
        return self.keys, self.values, mask

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order): the texts still being generated."""
        if self.keys is not None:
            self.keys, self.values = self.keys[rows], self.values[rows]


class MultiHeadAttention(nn.Module):
    """n_head attentions side by side, each on its own d_model / n_head slice (slide 33: 8 heads, merged).

    Self-attention: forward(x). Cross-attention (a decoder reading the encoder, a UNet reading the text):
    forward(x, context), with queries from x and keys/values from context (whose width may be d_context).
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 d_context: int | None = None):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} must be divisible by n_head={n_head}")
        self.n_head, self.head_dim, self.dropout = n_head, d_model // n_head, dropout
        d_context = d_context or d_model
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_context, d_model, bias=bias)
        self.v_proj = nn.Linear(d_context, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.last_weights: torch.Tensor | None = None  # (B, n_head, T_q, T_k) after a call with need_weights

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)    # (B, nh, T, hd)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim)  # (B, T, d_model)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                need_weights: bool = False, is_causal: bool = False, cache: KVCache | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        """is_causal=True: the same as mask=causal_mask(T), faster (GPT's self-attention).

        cache (causal self-attention only): x holds the new tokens, at positions (B, T_q) of their texts; their
        keys and values join those of the earlier positions in the cache, and the causal mask spans the cache.
        """
        context = x if context is None else context                 # x: (B, T_q, d_model), context: (B, T_k, d_ctx)
        q = self.split_heads(self.q_proj(x))                         # (B, nh, T_q, hd)
        k = self.split_heads(self.k_proj(context))                   # (B, nh, T_k, hd)
        v = self.split_heads(self.v_proj(context))                   # (B, nh, T_k, hd)
        if cache is not None:  # attend to every position so far, not only the new ones
            k, v, mask = cache.update(k, v, positions)               # (B, nh, max_len, hd) ×2, (B, 1, T_q, max_len)
            is_causal = False                                        # the mask above is the causal mask
        out, weights = scaled_dot_product_attention(q, k, v, mask=mask, need_weights=need_weights,
                                                    dropout_p=self.dropout if self.training else 0.0,
                                                    is_causal=is_causal)
        self.last_weights = weights.detach() if weights is not None else None
        return self.out_proj(self.merge_heads(out))                  # (B, T_q, d_model)
