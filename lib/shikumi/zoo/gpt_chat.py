"""Lesson 10's models: lesson 04's GPT fine-tuned to answer (SFT), then preference-tuned (DPO); trained, loaded.

The losses and the loops around them are shikumi.finetune (SFT) and shikumi.preference (reward model, DPO); the
chats shikumi.chatdata. This module is the two recipes behind the shipped checkpoints: how many steps at which
learning rate, on how many demonstrations or preference pairs, and what is measured.

    model, tok = load_gpt_chat("gpt_chat_sft")     # or "gpt_chat_dpo"; the shipped checkpoint, SHA-256 verified
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from shikumi import checkpoint
from shikumi.device import get_device, seed_everything
from shikumi.finetune import finetune_sft, score
from shikumi.gpt import GPT, GPTConfig
from shikumi.preference import finetune_dpo, win_rate
from shikumi.tokenizer import CharTokenizer, load_tokenizer
from shikumi.train import History, TrainConfig
from shikumi.zoo import gpt_shakespeare

SFT_NAME = "gpt_chat_sft"
DPO_NAME = "gpt_chat_dpo"


# -- step 1: supervised fine-tuning ---------------------------------------------------------------------------

@dataclass
class SFTRecipe:
    train: TrainConfig
    batch_size: int
    n_train: int          # demonstrations generated for training
    n_val: int            # held-out demonstrations, for the evaluation loss


SFT_RECIPES: dict[str, SFTRecipe] = {
    # quick: the shipped checkpoint, about eight minutes on one CPU core
    "quick": SFTRecipe(TrainConfig(max_steps=1500, lr=1e-3, warmup_steps=50, eval_every=100, weight_decay=0.0,
                                   cpu_threads=1),
                       batch_size=32, n_train=4000, n_val=256),
    # full: longer, with bigger batches (meant for a GPU)
    "full": SFTRecipe(TrainConfig(max_steps=3000, lr=1e-3, warmup_steps=100, eval_every=250, weight_decay=0.0),
                      batch_size=64, n_train=8000, n_val=512),
}


def train_sft(size: str = "quick", device: str = "auto", seed: int = 0, progress: bool = True,
              max_steps: int | None = None, base: GPT | None = None) -> tuple[GPT, History]:
    """Lesson 04's shipped GPT (or `base`), fine-tuned on the recipe's demonstrations."""
    from shikumi import chatdata

    recipe = SFT_RECIPES[size]
    seed_everything(seed)
    model, tok = gpt_shakespeare.load_gpt_shakespeare()
    if base is not None:
        model.load_state_dict(base.state_dict())
    cfg = dataclasses.replace(recipe.train, device=str(get_device(device)), progress=progress,
                              max_steps=max_steps or recipe.train.max_steps)
    history = finetune_sft(model, tok, chatdata.instructions(recipe.n_train, "train", seed),
                           chatdata.instructions(recipe.n_val, "heldout", seed), cfg, recipe.batch_size, seed)
    return model, history


def train_gpt_chat_sft(out_dir: Path, size: str = "quick", device: str = "auto") -> Path:
    """The recipe behind `shikumi train gpt_chat_sft`: fine-tune, save, and record what it measured."""
    from shikumi import chatdata

    model, history = train_sft(size, device)
    model = model.cpu()
    base, tok = gpt_shakespeare.load_gpt_shakespeare()
    heldout = chatdata.instructions(64, "heldout", seed=1)
    before, after = score(base, tok, heldout), score(model, tok, heldout)
    path = checkpoint.save(model, model.config, Path(out_dir) / SFT_NAME)
    checkpoint.save_history(history, out_dir, SFT_NAME, heldout_correct_base=before.correct,
                            heldout_correct=after.correct, heldout_polite=after.polite)
    print(f"{SFT_NAME} ({size}): {history.seconds:.0f} s; held-out answers right: base {before.correct:.0%}, "
          f"fine-tuned {after.correct:.0%} (polite {after.polite:.0%})")
    return path


def load_gpt_chat(name: str = SFT_NAME, device: str | torch.device = "cpu",
                  path: str | Path | None = None) -> tuple[GPT, CharTokenizer]:
    """A shipped chat model ("gpt_chat_sft", "gpt_chat_dpo"; or one saved under `path`) and its tokenizer,
    lesson 04's 82 characters."""
    model = checkpoint.load(GPT, GPTConfig, str(path) if path else name, device=device)
    return model, load_tokenizer(checkpoint.SHIPPED / gpt_shakespeare.TOKENIZER_FILE)


# -- step 2: preference tuning (DPO) ------------------------------------------------------------------

@dataclass
class DPORecipe:
    train: TrainConfig
    beta: float
    batch_size: int
    n_train: int          # preference pairs generated for training


DPO_RECIPES: dict[str, DPORecipe] = {
    # quick: the shipped checkpoint, about a minute on one CPU core. A small learning rate and few steps: pushed
    # further, DPO drives both answers' probabilities down and the model forgets how to write (try lr=3e-4).
    "quick": DPORecipe(TrainConfig(max_steps=120, lr=1e-5, warmup_steps=10, eval_every=20, weight_decay=0.0,
                                   cpu_threads=1),
                       beta=0.1, batch_size=16, n_train=1000),
    "full": DPORecipe(TrainConfig(max_steps=240, lr=1e-5, warmup_steps=20, eval_every=40, weight_decay=0.0),
                      beta=0.1, batch_size=32, n_train=2000),
}


def train_dpo(size: str = "quick", device: str = "auto", seed: int = 0, progress: bool = True,
              sft_path: str | Path | None = None) -> tuple[GPT, History]:
    """The SFT model (shipped, or the one at sft_path), DPO-tuned on the recipe's preference pairs."""
    from shikumi import chatdata

    recipe = DPO_RECIPES[size]
    seed_everything(seed)
    model, tok = load_gpt_chat(SFT_NAME, path=sft_path)
    cfg = dataclasses.replace(recipe.train, device=str(get_device(device)), progress=progress)
    history = finetune_dpo(model, tok, chatdata.preference_pairs(recipe.n_train, "train", seed),
                           chatdata.preference_pairs(128, "heldout", seed), cfg, recipe.beta, recipe.batch_size, seed)
    return model, history


def train_gpt_chat_dpo(out_dir: Path, size: str = "quick", device: str = "auto") -> Path:
    """The recipe behind `shikumi train gpt_chat_dpo`: DPO on top of gpt_chat_sft (the one in out_dir, if there)."""
    from shikumi import chatdata

    out_dir = Path(out_dir)
    mine = out_dir / f"{SFT_NAME}.safetensors"
    sft_path = mine if mine.exists() and out_dir.resolve() != checkpoint.SHIPPED.resolve() else None
    model, history = train_dpo(size, device, sft_path=sft_path)
    model = model.cpu()
    sft, tok = load_gpt_chat(SFT_NAME, path=sft_path)
    pairs = chatdata.preference_pairs(200, "heldout", seed=1)
    heldout = chatdata.instructions(64, "heldout", seed=1)
    before, after = win_rate(sft, tok, pairs), win_rate(model, tok, pairs)
    right = score(model, tok, heldout).correct
    path = checkpoint.save(model, model.config, out_dir / DPO_NAME)
    checkpoint.save_history(history, out_dir, DPO_NAME, heldout_win_rate_sft=before, heldout_win_rate=after,
                            heldout_correct=right)
    print(f"{DPO_NAME} ({size}): {history.seconds:.0f} s; held-out win rate: SFT {before:.0%}, DPO {after:.0%}; "
          f"held-out answers right {right:.0%}")
    return path
