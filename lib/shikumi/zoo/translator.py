"""Lesson 03's model: the Japanese → English translator (slides 19–20, 26–31), trained and loaded.

The model is shikumi.transformer, the sentences and the word-level helpers (segment, translate, exact_match)
shikumi.translation; this module is the recipe: how many steps, what is measured, what is saved beside the
weights (the two vocabularies).

    model, src_tok, tgt_tok = load_translator()   # the shipped checkpoint, its SHA-256 verified
    train_translator(folder, live=LiveTraining(sample_fn=sampler()))   # lesson 03: about 25 s
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from shikumi import checkpoint
from shikumi.tokenizer import WordTokenizer
from shikumi.transformer import Transformer, TransformerConfig
from shikumi.translation import (
    batch_sampler,
    build_tokenizers,
    exact_match,
    heldout_pairs,
    sample_pair,
    train_small,
    translate,
)

NAME = "translator"


def sampler(sentences=("私は家を建てた", "彼女は手紙を書いた"), src_tok=None, tgt_tok=None) -> Callable[[Transformer], str]:
    """A sample_fn for shikumi.live.LiveTraining: the model's translation of the same sentences every time, so
    the learner sees "i i i" turn into "i built a house" as it trains."""
    if src_tok is None or tgt_tok is None:
        src_tok, tgt_tok = build_tokenizers()

    def sample(model: Transformer) -> str:
        return "\n".join(f"{s} → {' '.join(translate(model, src_tok, tgt_tok, s))}" for s in sentences)

    return sample


def train_translator(out_dir: Path, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                     progress: bool = True, live=None) -> Path:
    """`shikumi train translator`: train from scratch with fixed seeds; save NAME.safetensors + .json, the two
    vocabularies (NAME.vocab.json) and what training measured (NAME.history.json). About a minute on 2 CPU cores.
    live: a shikumi.live.LiveTraining to watch it learn (lesson 03, with `sampler()`)."""
    from shikumi.device import seed_everything
    from shikumi.train import TrainConfig

    seed_everything(0)
    src_tok, tgt_tok = build_tokenizers()
    config = TransformerConfig.preset(size, src_vocab_size=src_tok.vocab_size, tgt_vocab_size=tgt_tok.vocab_size,
                                      block_size=24)
    model = Transformer(config)
    small = size in ("tiny", "quick")
    get_batch = batch_sampler(lambda rng: sample_pair(rng, "train"), heldout_pairs(200, seed=1), src_tok, tgt_tok)
    cfg = TrainConfig(max_steps=max_steps or (700 if small else 3000), lr=2e-3 if small else 5e-4,
                      warmup_steps=100, weight_decay=0.01, eval_every=250, eval_steps=4, device=device,
                      progress=progress, max_seconds=90 if small else None)
    history = train_small(model, get_batch, cfg, live=live)
    model.cpu()
    accuracy = exact_match(model, src_tok, tgt_tok, heldout_pairs())
    out_dir = Path(out_dir)
    path = checkpoint.save(model, config, out_dir / NAME)
    (out_dir / f"{NAME}.vocab.json").write_text(json.dumps({"src": src_tok.itos, "tgt": tgt_tok.itos},
                                                           ensure_ascii=False) + "\n", encoding="utf-8")
    checkpoint.save_history(history, out_dir, NAME, size=size, heldout_exact_match=accuracy)
    print(f"{NAME}: {model.num_parameters():,} parameters, {len(history.step)} steps in {history.seconds:.0f} s, "
          f"held-out exact match {accuracy:.1%}")
    return path


def load_tokenizers(directory: Path = checkpoint.SHIPPED) -> tuple[WordTokenizer, WordTokenizer]:
    data = json.loads((Path(directory) / f"{NAME}.vocab.json").read_text(encoding="utf-8"))
    src, tgt = WordTokenizer([]), WordTokenizer([])
    for tok, itos in ((src, data["src"]), (tgt, data["tgt"])):
        tok.itos, tok.stoi = itos, {w: i for i, w in enumerate(itos)}
    return src, tgt


def load_translator(device: str | torch.device = "cpu", directory: Path | None = None):
    """(model, src_tok, tgt_tok): the shipped translator (checksum verified), or one saved in `directory`."""
    if directory is None:
        model = checkpoint.load(Transformer, TransformerConfig, NAME, device=device)
        return (model, *load_tokenizers())
    model = checkpoint.load(Transformer, TransformerConfig, Path(directory) / f"{NAME}.safetensors", device=device)
    return (model, *load_tokenizers(directory))
