"""shikumi (仕組み) — the small, readable library behind the course.

Every lesson imports from here, so each shared thing exists exactly once:

- `shikumi.device`  — which device to run on, seeding, mixed precision
- `shikumi.data`    — the corpora (Japanese fairy tales, Shakespeare), digits, and generated shapes and points
- `shikumi.ngram`   — the count-based language model of lesson 01
- `shikumi.attention`, `transformer`, `translation` — attention (02) and the encoder–decoder (03)
- `shikumi.gpt`     — GPT, decoder-only (04)
- `shikumi.autoencoder`, `clip`, `diffusion`, `unet` — the image track (05–07)
- `shikumi.pipeline`, `bridge` — text to image, slide 42's seven steps, and diffusers' real pipeline (08)
- `shikumi.bpe`     — byte-pair encoding: how a GPT cuts text into tokens (09)
- `shikumi.chatdata`, `finetune`, `preference` — from GPT to a chat model: SFT, reward model, DPO (10)
- `shikumi.train`, `checkpoint`, `tokenizer` — one training loop, one checkpoint format
- `shikumi.zoo`     — each shipped model's recipe and loader (`shikumi train NAME`); the model modules hold only
                      the model and its math
- `shikumi.plot`    — one helper per kind of picture
- `shikumi.widgets` — the interactive explorers
- `shikumi.lang`    — `tr("English", "日本語")`, the course's one bilingual form

The course's own tooling lives apart, in `shikumi.course`: the self-checks the lessons import (`selfcheck`),
`release` (the student notebooks from `solutions/`) and the `shikumi` command (`cli`, also `python -m shikumi`).
Nothing above imports it or the grader.
"""

__all__ = ["autocast", "get_device", "seed_everything"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """`from shikumi import get_device` works as usual, but importing shikumi alone does not import torch (the
    grader's command line and `shikumi release` need no torch, and start faster without it)."""
    if name in __all__:
        from shikumi import device

        return getattr(device, name)
    raise AttributeError(f"module 'shikumi' has no attribute {name!r}")
