"""shikumi (仕組み) — the small, readable library behind the course.

Every lesson imports from here, so each shared thing exists exactly once:

- `shikumi.device`  — which device to run on, seeding, mixed precision
- `shikumi.data`    — the corpora (Japanese fairy tales, Shakespeare)
- `shikumi.ngram`   — the count-based language model of lesson 01
- `shikumi.attention`, `transformer`, `translation` — attention (02) and the encoder–decoder (03)
- `shikumi.gpt`, `charlm` — GPT and its Shakespeare character model (04)
- `shikumi.autoencoder`, `clip`, `diffusion`, `unet` — the image track (05–07)
- `shikumi.train`, `checkpoint`, `recipes`, `tokenizer` — one training loop, one checkpoint format
- `shikumi.plot`    — one helper per kind of picture
- `shikumi.widgets` — the interactive explorers
- `shikumi.release` — builds the student notebooks from `solutions/`
"""

from shikumi.device import autocast, get_device, seed_everything

__all__ = ["autocast", "get_device", "seed_everything"]
__version__ = "0.1.0"
