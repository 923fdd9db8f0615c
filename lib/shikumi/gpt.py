"""GPT: a Transformer decoder, made big and pre-trained on a lot of text (slides 12–15, 21, 25, 37–39).

Slide 13: 「でかいTransformerを大量に事前学習させたやつ」 — a big Transformer, pre-trained on a huge amount of text.
GPT keeps only the decoder half of lesson 03's Transformer: no encoder, so no cross-attention. Every position
looks at itself and the positions before it (the causal mask), and the model learns to predict the next token:

    tokens → token embedding + position embedding → n_layer × Block → LayerNorm → logits over the vocabulary

Block (pre-LN, GPT-2): x = x + Attention(LayerNorm(x)); x = x + MLP(LayerNorm(x)).
Block (post-LN, GPT-1 and the 2017 Transformer): x = LayerNorm(x + Attention(x)); x = LayerNorm(x + MLP(x)).
Slide 14 lists moving the LayerNorm (「正規化レイヤーの位置変えた」) among GPT-2's changes: `prenorm` switches.

The output layer shares its weights with the token embedding ("tied" embeddings, as in GPT-1/2/3), and the
names and shapes follow GPT-2, so `GPT.from_pretrained` can load OpenAI's GPT-2 weights saved by Hugging Face.

`GPT.generate` writes one token at a time (slide 25) and keeps each Block's keys and values in a `GPTCache`, so
every position is computed once rather than at every step, as real LLMs do.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi import presets
from shikumi.attention import KVCache, MultiHeadAttention
from shikumi.presets import ParameterCount


@dataclass
class GPTConfig:
    vocab_size: int = 50257     # how many different tokens (GPT-2's BPE vocabulary; ~80 for characters)
    block_size: int = 1024      # the context window: the most tokens the model sees at once
    n_layer: int = 12           # how many Blocks are stacked
    n_head: int = 12            # attention heads per Block (they split d_model: no extra parameters)
    d_model: int = 768          # the width of every token's vector
    dropout: float = 0.0
    prenorm: bool = True        # True: GPT-2's pre-LN; False: GPT-1's post-LN (and no final LayerNorm)
    layer_norm_eps: float = 1e-5

    @classmethod
    def preset(cls, name: str, **overrides) -> GPTConfig:
        """A named size: GPTConfig.preset("gpt2"), or preset("nano", vocab_size=82) for characters."""
        return presets.choose(cls, PRESETS, name, **overrides)


# The published sizes (GPT-1: Radford et al. 2018; GPT-2: 2019; GPT-3: Brown et al. 2020, the 175B model).
# Only count the big ones' parameters (`num_parameters`): GPT-3 would need ~700 GB of memory to build.
PRESETS: dict[str, dict] = {
    "nano":        dict(n_layer=4, n_head=4, d_model=128, block_size=128, vocab_size=128),
    "micro":       dict(n_layer=6, n_head=6, d_model=192, block_size=256, vocab_size=128),
    "gpt1":        dict(n_layer=12, n_head=12, d_model=768, block_size=512, vocab_size=40478, prenorm=False),
    "gpt2":        dict(n_layer=12, n_head=12, d_model=768, block_size=1024, vocab_size=50257),
    "gpt2-medium": dict(n_layer=24, n_head=16, d_model=1024, block_size=1024, vocab_size=50257),
    "gpt2-large":  dict(n_layer=36, n_head=20, d_model=1280, block_size=1024, vocab_size=50257),
    "gpt2-xl":     dict(n_layer=48, n_head=25, d_model=1600, block_size=1024, vocab_size=50257),
    "gpt3":        dict(n_layer=96, n_head=96, d_model=12288, block_size=2048, vocab_size=50257),
}


def num_parameters(config: GPTConfig) -> int:
    """The exact parameter count of GPT(config), without building it (slide 14's table)."""
    d, V, T, L = config.d_model, config.vocab_size, config.block_size, config.n_layer
    embeddings = V * d + T * d                   # token + position; the output layer reuses the token one
    attention = 4 * (d * d + d)                  # q, k, v and out projections, with biases
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)  # d → 4d → d
    layer_norms = 2 * (2 * d)                    # two per Block, each a scale and a shift
    final_norm = 2 * d if config.prenorm else 0
    return embeddings + L * (attention + mlp + layer_norms) + final_norm


class MLP(nn.Module):
    """The feed-forward part of a Block: widen to 4·d_model, GELU, back to d_model (each position alone)."""

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GPT-2's GELU is the tanh approximation ("gelu_new" in Hugging Face)
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate="tanh")))  # (B, T, d_model)


class Block(nn.Module):
    """One decoder layer: causal self-attention, then the MLP, each wrapped in a residual connection."""

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0, prenorm: bool = True,
                 layer_norm_eps: float = 1e-5):
        super().__init__()
        self.prenorm = prenorm
        self.ln_1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(d_model, n_head, dropout=dropout)
        self.ln_2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.mlp = MLP(d_model, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, positions: torch.Tensor | None = None
                ) -> torch.Tensor:
        """x: (B, T, d_model). With a cache, x holds only the new tokens, at positions (B, T) (see GPT.forward)."""
        # no peeking ahead: is_causal=True is mask=causal_mask(T) (lesson 02) without building it (faster on a GPU)
        if self.prenorm:  # GPT-2: normalise what goes into each part; the residual path stays untouched
            x = x + self.dropout(self.attn(self.ln_1(x), is_causal=True, cache=cache, positions=positions))
            x = x + self.mlp(self.ln_2(x))
        else:             # GPT-1: normalise after adding
            x = self.ln_1(x + self.dropout(self.attn(x, is_causal=True, cache=cache, positions=positions)))
            x = self.ln_2(x + self.mlp(x))
        return x                                                           # (B, T, d_model)


class GPTCache:
    """What generation keeps between steps: each Block's keys and values, and how long each row's text is so far.

    layers[i]: Block i's KVCache, keys and values (B, n_head, block_size, head_dim); lengths: (B,) the number of
    positions stored for each row. Rows may differ in length (chats of different lengths, padded at the end).
    """

    def __init__(self, config: GPTConfig, batch: int, device: torch.device | str | None = None):
        self.layers = [KVCache(config.block_size) for _ in range(config.n_layer)]
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)          # (B,)

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows, in this order (drop the texts that are finished)."""
        for layer in self.layers:
            layer.keep(rows)
        self.lengths = self.lengths[rows]


class GPT(nn.Module, ParameterCount):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.block_size, config.d_model)  # learned, one per position
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(config.d_model, config.n_head, config.dropout, config.prenorm, config.layer_norm_eps)
            for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.prenorm else nn.Identity()
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.token_embedding.weight                 # tied: one matrix, used twice
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the layers that write into the residual path
            if name.endswith(("attn.out_proj.weight", "mlp.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * config.n_layer) ** 0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, cache: GPTCache | None = None) -> torch.Tensor:
        """idx: (B, T) token ids, T ≤ block_size → logits (B, T, vocab_size): the next token at every position.

        With a cache, idx holds the tokens that come next in each row, after the cache.lengths[b] already stored:
        they take positions lengths[b], lengths[b] + 1, …, attend to the stored keys and values as well, and are
        stored in turn. The logits are those that the full forward of the whole text would give at those positions.
        """
        B, T = idx.shape
        length = T if cache is None else T + int(cache.lengths.max())     # the longest text, new tokens included
        if length > self.config.block_size:
            raise ValueError(f"a sequence of {length} tokens does not fit the context window "
                             f"(block_size={self.config.block_size}); keep only the last {self.config.block_size}")
        positions = torch.arange(T, device=idx.device)                     # (T,)
        if cache is not None:  # the new tokens continue each row's text
            positions = cache.lengths[:, None] + positions                 # (B, T)
        x = self.token_embedding(idx) + self.position_embedding(positions)  # (B, T, d_model)
        x = self.dropout(x)
        layer_caches = cache.layers if cache is not None else [None] * len(self.blocks)
        for block, layer_cache in zip(self.blocks, layer_caches):
            x = block(x, layer_cache, positions)                           # (B, T, d_model)
        if cache is not None:
            cache.lengths = cache.lengths + T
        return self.lm_head(self.ln_f(x))                                  # (B, T, vocab_size)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Append max_new_tokens tokens to idx (B, T), one at a time (slide 25); returns (B, T + max_new_tokens).

        temperature=0 is greedy: always the most probable token. Otherwise sample from
        softmax(logits / temperature), keeping only the top_k most probable tokens when top_k is given.
        Only the last block_size tokens are fed back: the model forgets whatever falls out of its window.

        Each step feeds only the newest token; the keys and values of the earlier ones wait in a GPTCache (the
        numbers are those of feeding the whole window every time). Once the text outgrows block_size the window
        slides: every token moves to a new position, so the stored keys and values no longer hold, and from then
        on the whole window is computed at every step, without the cache.
        """
        was_training = self.training
        self.eval()
        T = self.config.block_size
        cache, stored = GPTCache(self.config, idx.size(0), idx.device), 0  # stored: tokens of each row in the cache
        for _ in range(max_new_tokens):
            if idx.size(1) <= T:  # read what the cache does not hold yet: the prompt, then only the newest token
                logits = self(idx[:, stored:], cache=cache)                # (B, new tokens, vocab_size)
                stored = idx.size(1)
            else:                 # the window slid: every token has a new position, so compute it all again
                logits = self(idx[:, -T:])                                 # (B, block_size, vocab_size)
            logits = logits[:, -1, :].float()                              # (B, vocab_size): the last position
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)              # (B, 1)
            else:
                probs = next_token_probs(logits, temperature, top_k)
                next_id = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, next_id.to(idx.dtype)], dim=1)
        self.train(was_training)
        return idx

    @classmethod
    def from_pretrained(cls, path: str | Path) -> GPT:
        """Load a Hugging Face GPT-2 checkpoint folder (config.json + model.safetensors) from disk.

        Hugging Face's GPT-2 uses `Conv1D` layers, which store a weight as (in, out) — the transpose of
        nn.Linear's (out, in) — and packs the query, key and value projections into one `c_attn` layer.
        """
        from safetensors.torch import load_file

        path = Path(path)
        hf = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if hf.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"this GPT uses the tanh GELU; the checkpoint uses {hf['activation_function']!r}")
        config = GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"], n_layer=hf["n_layer"],
                           n_head=hf["n_head"], d_model=hf["n_embd"],
                           layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5))
        state = {k.removeprefix("transformer."): v for k, v in load_file(str(path / "model.safetensors")).items()}
        model = cls(config)
        d = config.d_model
        ours = {"token_embedding.weight": state["wte.weight"], "position_embedding.weight": state["wpe.weight"],
                "ln_f.weight": state["ln_f.weight"], "ln_f.bias": state["ln_f.bias"]}
        for i in range(config.n_layer):
            h, b = f"h.{i}.", f"blocks.{i}."
            qkv_w, qkv_b = state[h + "attn.c_attn.weight"], state[h + "attn.c_attn.bias"]  # (d, 3d), (3d,)
            for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
                ours[b + f"attn.{name}.weight"] = qkv_w[:, j * d:(j + 1) * d].t()          # (d, d) as (out, in)
                ours[b + f"attn.{name}.bias"] = qkv_b[j * d:(j + 1) * d]
            ours[b + "attn.out_proj.weight"] = state[h + "attn.c_proj.weight"].t()
            ours[b + "attn.out_proj.bias"] = state[h + "attn.c_proj.bias"]
            ours[b + "mlp.fc.weight"] = state[h + "mlp.c_fc.weight"].t()                    # (4d, d)
            ours[b + "mlp.fc.bias"] = state[h + "mlp.c_fc.bias"]
            ours[b + "mlp.proj.weight"] = state[h + "mlp.c_proj.weight"].t()                # (d, 4d)
            ours[b + "mlp.proj.bias"] = state[h + "mlp.c_proj.bias"]
            for ln in ("ln_1", "ln_2"):
                ours[b + f"{ln}.weight"], ours[b + f"{ln}.bias"] = state[h + f"{ln}.weight"], state[h + f"{ln}.bias"]
        ours["lm_head.weight"] = ours["token_embedding.weight"]                             # tied
        model.load_state_dict({k: v.float().contiguous() for k, v in ours.items()})
        return model.eval()


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Probabilities for the next token from logits (..., vocab_size) (slide 25 and beyond).

    temperature < 1 sharpens the distribution (towards greedy), > 1 flattens it; 0 puts everything on the
    argmax. top_k keeps the k largest logits (and any tied with the k-th) and gives the rest probability 0.
    """
    if temperature == 0:
        return F.one_hot(logits.argmax(dim=-1), logits.size(-1)).to(logits.dtype)
    logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]          # (..., 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits.softmax(dim=-1)


def config_dict(config: GPTConfig) -> dict:
    """The config as a plain dict (what lesson 04's count_parameters exercise receives)."""
    return dataclasses.asdict(config)
