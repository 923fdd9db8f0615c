"""A character-level GPT on Shakespeare: the data, the training recipe, the shipped checkpoint (lesson 04).

Slide 37: GPT-2 read 40 GB of web text. We read Shakespeare, one character at a time: six tragedies to learn
from, and a seventh play, The Tempest, held out to measure how well the model predicts text it never saw
(in nats per character, the same yardstick as lesson 01's n-gram models).

    model, tok = load_gpt_shakespeare()                       # the shipped checkpoint, checksum verified
    ids = torch.tensor([tok.encode("ROMEO\\n")])
    print(tok.decode(model.generate(ids, 200, temperature=0.8)[0]))

`shikumi train gpt_shakespeare` reproduces the checkpoint (`train_gpt_shakespeare`); `--size full` trains a
bigger model on all the other plays (meant for a GPU).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from shikumi import checkpoint, data
from shikumi.device import get_device, seed_everything
from shikumi.gpt import GPT, GPTConfig
from shikumi.tokenizer import CharTokenizer, load_tokenizer
from shikumi.train import History, TrainConfig, train

NAME = "gpt_shakespeare"
TOKENIZER_FILE = f"{NAME}_tokenizer.json"
HELDOUT_PLAY = "the-tempest"
QUICK_PLAYS = ["hamlet", "macbeth", "othello", "king-lear", "romeo-and-juliet", "julius-caesar"]  # ~830k chars


@dataclass
class Recipe:
    model: GPTConfig           # vocab_size is filled in from the tokenizer
    train: TrainConfig
    batch_size: int
    plays: list[str] | None    # the training plays; None: every play but the held-out one


RECIPES: dict[str, Recipe] = {
    # quick: ~0.8 M parameters (3 MB), about ten minutes on 2 CPU cores — the shipped checkpoint
    "quick": Recipe(GPTConfig.preset("nano", block_size=128),
                    TrainConfig(max_steps=2000, lr=2e-3, warmup_steps=100, eval_every=250, weight_decay=0.1),
                    batch_size=32, plays=QUICK_PLAYS),
    # live: the same GPT trained inside lesson 04 while the learner watches (issue 15): about 100 CPU-seconds
    # to under 2.0 nats/char on The Tempest. What makes it faster than "quick" (benchmarks/results.md, 4d): more,
    # smaller steps (16 windows a step instead of 32), Muon for the hidden matrices, and the higher learning rate
    # Muon makes safe (8e-3: AdamW diverges there). One thread: a second makes a step ~1.65× faster on a quiet
    # machine, but many times slower on a busy one (every small operation waits for the other thread).
    "live": Recipe(GPTConfig.preset("nano", block_size=128),
                   TrainConfig(max_steps=650, lr=8e-3, warmup_steps=30, eval_every=25, eval_steps=10,
                               weight_decay=0.1, optimizer="muon", cpu_threads=1),
                   batch_size=16, plays=QUICK_PLAYS),
    # full: ~10 M parameters on all 37 other plays, meant for a GPU. From "live" it takes what is not about CPUs
    # (benchmarks/results.md, 4d, one change at a time): Muon for the hidden matrices, and the higher learning rate
    # Muon made safe there — four times the AdamW rate (live: 8e-3 against quick's 2e-3; here 4e-3 against the
    # 1e-3 this recipe had). Its batch, steps and warmup stay (smaller batches only buy steps per CPU-second).
    # Unmeasured at this size until a GPU is lent: `python -m benchmarks.full_recipes` compares old and new.
    "full": Recipe(GPTConfig(n_layer=6, n_head=6, d_model=384, block_size=256, dropout=0.1),
                   TrainConfig(max_steps=5000, lr=4e-3, warmup_steps=200, eval_every=500, optimizer="muon"),
                   batch_size=64, plays=None),
}


@functools.lru_cache(maxsize=1)
def tokenizer() -> CharTokenizer:
    """One token per character that occurs anywhere in the 38 plays (82 of them), so any play encodes."""
    return CharTokenizer.from_text(data.shakespeare())


def corpus(size: str = "quick") -> tuple[str, str]:
    """(training text, held-out text): the recipe's training plays, and The Tempest."""
    plays = RECIPES[size].plays
    if plays is None:
        plays = [p for p in data.shakespeare_plays() if p != HELDOUT_PLAY]
    return data.shakespeare(plays), data.shakespeare([HELDOUT_PLAY])


def encode(text: str, tok: CharTokenizer | None = None) -> torch.Tensor:
    """Text → a 1-D tensor of token ids (torch.long)."""
    return torch.tensor((tok or tokenizer()).encode(text), dtype=torch.long)


def batch_fn(train_ids: torch.Tensor, val_ids: torch.Tensor, block_size: int, batch_size: int,
             seed: int = 0) -> Callable[[str], tuple[torch.Tensor, torch.Tensor]]:
    """get_batch(split) for shikumi.train: batch_size random windows of block_size characters.

    x = ids[i : i + block_size], y = ids[i + 1 : i + block_size + 1]: at every position, the next character.
    """
    generators = {"train": torch.Generator().manual_seed(seed), "val": torch.Generator().manual_seed(seed + 1)}

    def get_batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        ids = train_ids if split == "train" else val_ids
        starts = torch.randint(len(ids) - block_size - 1, (batch_size,), generator=generators[split])
        x = torch.stack([ids[s : s + block_size] for s in starts.tolist()])          # (B, T)
        y = torch.stack([ids[s + 1 : s + block_size + 1] for s in starts.tolist()])  # (B, T)
        return x, y

    return get_batch


def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the next character, averaged over every position: nats per character."""
    x, y = batch
    logits = model(x)                                                      # (B, T, vocab)
    return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())


@torch.no_grad()
@torch.no_grad()
def nats_per_char(model: GPT, ids: torch.Tensor, batch_size: int = 32) -> float:
    """Average -log P(next character) over a whole text, read in windows of block_size characters.

    The text is cut into consecutive windows; each character after the first is predicted once, from the
    characters before it in its window.
    """
    model.eval()
    device = next(model.parameters()).device
    T = model.config.block_size
    ids = ids.to(device)
    n_windows = (len(ids) - 1) // T
    x = ids[: n_windows * T].view(n_windows, T)                            # (n_windows, T)
    y = ids[1 : n_windows * T + 1].view(n_windows, T)                      # (n_windows, T): shifted by one
    total = 0.0
    for i in range(0, n_windows, batch_size):
        logits = model(x[i : i + batch_size]).float()                      # (b, T, vocab)
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch_size].flatten(), reduction="sum").item()
    rest = ids[n_windows * T :]                                            # the last, shorter window
    if len(rest) > 1:
        logits = model(rest[None, :-1]).float()                            # (1, len(rest) - 1, vocab)
        total += F.cross_entropy(logits[0], rest[1:], reduction="sum").item()
    return total / (len(ids) - 1)


def char_lines(text: str) -> list[list[str]]:
    """Text → one list of characters per line, for lesson 01's NGramModel (its </s> plays the newline)."""
    return [list(line) for line in text.split("\n")]


def ngram_nats_per_char(model, text: str) -> float:
    """A character n-gram model's held-out loss in nats per character (newlines included, like the GPT's)."""
    return math.log(model.perplexity(char_lines(text)))


def train_gpt(size: str = "quick", device: str = "auto", seed: int = 0, progress: bool = True,
              max_steps: int | None = None, live=None, max_seconds: float | None = None) -> tuple[GPT, History]:
    """Train the recipe's GPT from scratch with the course's one training loop.

    live: a shikumi.live.LiveTraining to watch it learn (lesson 04: `sampler()` as its sample_fn);
    max_seconds: stop after this much wall time, whatever the recipe's step count."""
    recipe = RECIPES[size]
    seed_everything(seed)
    tok = tokenizer()
    train_text, val_text = corpus(size)
    config = dataclasses.replace(recipe.model, vocab_size=tok.vocab_size)
    cfg = dataclasses.replace(recipe.train, device=str(get_device(device)), progress=progress,
                              max_steps=max_steps or recipe.train.max_steps,
                              max_seconds=max_seconds if max_seconds is not None else recipe.train.max_seconds)
    model = GPT(config)
    get_batch = batch_fn(encode(train_text, tok), encode(val_text, tok), config.block_size, recipe.batch_size, seed)
    history = train(model, get_batch, loss_fn, cfg, live=live)
    return model, history


def sampler(prompt: str = "ROMEO\n", n: int = 160, temperature: float = 0.8, seed: int = 0
            ) -> Callable[[GPT], str]:
    """A sample_fn for LiveTraining: the model's continuation of `prompt` (n characters). The same random numbers
    every time, so what changes from one sample to the next is the model, not the dice."""
    tok = tokenizer()

    def sample(model: GPT) -> str:
        device = next(model.parameters()).device
        ids = encode(prompt, tok)[None].to(device)                           # (1, T)
        g = torch.Generator(device=device).manual_seed(seed)
        out = model.generate(ids, n, temperature=temperature, generator=g)   # (1, T + n)
        return prompt + tok.decode(out[0, ids.size(1):].tolist())

    return sample


def train_gpt_shakespeare(out_dir: Path, size: str = "quick", device: str = "auto") -> Path:
    """The recipe behind `shikumi train gpt_shakespeare`: train, then save weights, config and tokenizer."""
    model, history = train_gpt(size, device)
    out_dir = Path(out_dir)
    path = checkpoint.save(model, model.config, out_dir / NAME)
    tokenizer().save(out_dir / TOKENIZER_FILE)
    held_out = nats_per_char(model.cpu(), encode(corpus(size)[1]))
    print(f"{NAME} ({size}): {model.num_parameters():,} parameters, {history.seconds:.0f} s of training, "
          f"held-out loss {held_out:.3f} nats/char")
    return path


def load_gpt_shakespeare(device: str | torch.device = "cpu", path: str | Path | None = None
                         ) -> tuple[GPT, CharTokenizer]:
    """The shipped character-level GPT and its tokenizer (or those saved under `path`)."""
    model = checkpoint.load(GPT, GPTConfig, str(path) if path else NAME, device=device)
    folder = Path(path).parent if path else checkpoint.SHIPPED
    return model, load_tokenizer(folder / TOKENIZER_FILE)
