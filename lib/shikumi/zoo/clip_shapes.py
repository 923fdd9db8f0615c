"""Lesson 06's model: CLIP on the captioned shapes, in English and Japanese, trained and loaded.

The model and its contrastive loss are shikumi.clip; this module is the recipe: one vocabulary for both
languages, batches of image–caption pairs with no caption twice, how many steps, and what is measured.

    model, tokenizer = load_clip()             # the shipped checkpoint, its SHA-256 verified
    train_clip_shapes(folder, size="live", live=LiveTraining(sample_fn=sampler()))   # lesson 06, about a minute
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from shikumi import checkpoint, data
from shikumi.captions import caption_words
from shikumi.clip import CLIP, CLIPConfig, clip_loss, tokenize, zero_shot_accuracy
from shikumi.tokenizer import WordTokenizer, load_tokenizer

NAME = "clip_shapes"


def build_tokenizer() -> WordTokenizer:
    """One vocabulary for both languages: every word of every caption, English and Japanese."""
    shapes = data.all_shapes("all")
    return WordTokenizer.from_sentences(caption_words(s.caption(lang)) for s in shapes for lang in ("en", "ja"))



def batch_sampler(tokenizer: WordTokenizer, batch_size: int = 128, n_pool: int = 8000, seed: int = 0,
                  context_length: int = 16):
    """get_batch(split) → (images (B, 3, 32, 32), token ids (B, T)) for shikumi.train.

    "train" draws from a pool of n_pool images of split "train"; "val" from other images (another seed) of the
    same colour × shape pairs. No two pairs of a batch share a caption (B ≤ 160 distinct ones), so the only
    right answer for each image is on the diagonal. Each image comes with its English or its Japanese caption."""
    pools = {}
    for split, pool_seed, n in (("train", seed, n_pool), ("val", seed + 10_000, max(batch_size * 4, 512))):
        images, specs, en, ja = data.shapes(n, "train", seed=pool_seed)
        by_spec: dict = {}
        for i, spec in enumerate(specs):
            by_spec.setdefault(spec, []).append(i)
        pools[split] = (images, list(by_spec.values()), tokenize(en, tokenizer, context_length),
                        tokenize(ja, tokenizer, context_length))
    rng = random.Random(seed)

    def get_batch(split: str):
        images, groups, en_ids, ja_ids = pools[split]
        chosen = [rng.choice(g) for g in rng.sample(groups, min(batch_size, len(groups)))]
        japanese = torch.tensor([rng.random() < 0.5 for _ in chosen])[:, None]
        idx = torch.tensor(chosen)
        return images[idx], torch.where(japanese, ja_ids[idx], en_ids[idx])  # (B, 3, 32, 32), (B, T)

    return get_batch


def loss_fn(model: CLIP, batch) -> torch.Tensor:
    images, tokens = batch
    return clip_loss(*model(images, tokens))


def sampler(n: int = 200, lang: str = "en"):
    """A sample_fn for shikumi.live.LiveTraining: zero-shot accuracy on n held-out pictures (colour × shape pairs
    never seen in training), as one line of text — it climbs while CLIP learns."""
    from shikumi.lang import tr

    images, specs, _, _ = data.shapes(n, "heldout", seed=321)
    tokenizer = build_tokenizer()

    def sample(model: CLIP) -> str:
        with torch.no_grad():
            acc = zero_shot_accuracy(model, tokenizer, images, specs, lang)["exact"]
        return tr(f"zero-shot, {n} held-out pictures: {acc:.0%} matched to their caption",
                  f"ゼロショット、評価用の画像 {n} 枚：{acc:.0%} が正しいキャプションに結びついた")

    return sample


def train_clip_shapes(out_dir: Path, size: str = "quick", device: str = "auto", max_steps: int | None = None,
                      progress: bool = True, live=None) -> Path:
    """`shikumi train clip_shapes`: train from scratch with fixed seeds; save NAME.safetensors + .json, the
    vocabulary (NAME.vocab.json) and what training measured (NAME.history.json). size "live" is lesson 06's:
    the quick CLIP in about a minute; live: a shikumi.live.LiveTraining to watch it (with `sampler()`)."""
    from shikumi.device import seed_everything
    from shikumi.train import TrainConfig, train

    seed_everything(0)
    tokenizer = build_tokenizer()
    in_the_lesson = size == "live"   # the quick CLIP, trained in about a minute: Muon at a higher learning rate
    config = CLIPConfig.preset("quick" if in_the_lesson else size, vocab_size=tokenizer.vocab_size)
    model = CLIP(config)
    small = size in ("tiny", "quick", "live")
    get_batch = batch_sampler(tokenizer, batch_size=128, n_pool={"tiny": 1000}.get(size, 8000 if small else 20000))
    if in_the_lesson:   # issue 15: 95 % zero-shot after ~35 CPU-seconds (benchmarks/results.md, section 4e)
        cfg = TrainConfig(max_steps=max_steps or 660, lr=8e-3, warmup_steps=44, optimizer="muon", weight_decay=0.1,
                          eval_every=110, eval_steps=2, device=device, cpu_threads=1, progress=progress)
    else:
        cfg = TrainConfig(max_steps=max_steps or (1500 if small else 4000), lr=2e-3 if small else 1e-3,
                          warmup_steps=100, weight_decay=0.1, eval_every=250, eval_steps=4, device=device,
                          cpu_threads=1, progress=progress)
    history = train(model, get_batch, loss_fn, cfg, live=live)
    model.cpu()
    test = data.shapes(1000, "train", seed=123)      # new images, never seen in training
    heldout = data.shapes(1000, "heldout", seed=321)  # colour × shape pairs never seen in training
    accuracy = {f"{name}_{lang}": zero_shot_accuracy(model, tokenizer, d[0], d[1], lang)
                for name, d in (("test", test), ("heldout_pairs", heldout)) for lang in ("en", "ja")}
    out_dir = Path(out_dir)
    path = checkpoint.save(model, config, out_dir / NAME)
    tokenizer.save(out_dir / f"{NAME}.vocab.json")
    checkpoint.save_history(history, out_dir, NAME, size=size, zero_shot=accuracy,
                            logit_scale=round(model.scale().item(), 2))
    print(f"{NAME}: {model.num_parameters():,} parameters, {len(history.step)} steps in {history.seconds:.0f} s; "
          f"zero-shot exact: " + ", ".join(f"{k} {v['exact']:.1%}" for k, v in accuracy.items()))
    return path


def load_clip(device: str | torch.device = "cpu", directory: Path | None = None) -> tuple[CLIP, WordTokenizer]:
    """(model, tokenizer): the shipped CLIP (checksum verified), or one saved in `directory`."""
    if directory is None:
        model = checkpoint.load(CLIP, CLIPConfig, NAME, device=device)
        return model, load_tokenizer(checkpoint.SHIPPED / f"{NAME}.vocab.json")
    model = checkpoint.load(CLIP, CLIPConfig, Path(directory) / f"{NAME}.safetensors", device=device)
    return model, load_tokenizer(Path(directory) / f"{NAME}.vocab.json")
