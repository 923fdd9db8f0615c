"""Text → token ids → text. Character-level (GPT on Shakespeare) and word-level (translation, chat).

Slide 35 skips tokenisation (BPE) "because it strays from the point"; lessons 01–08 do too: a character or a
whole word is one token. (Lesson 09 builds the real thing, byte-level BPE: `shikumi.bpe`.) Both tokenizers share one shape, like Hugging Face's: `encode(text) → list[int]`,
`decode(ids) → str`, `vocab_size`, and they save to / load from a small JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3 in every word-level vocabulary


class CharTokenizer:
    """Every distinct character of the training text is one token (65 or so for Shakespeare)."""

    def __init__(self, chars: Iterable[str]):
        self.itos = sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return [self.stoi[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"type": "char", "itos": self.itos}, ensure_ascii=False), encoding="utf-8")


class WordTokenizer:
    """Every distinct word is one token; ids 0–3 are <pad>, <s>, </s>, <unk>. Input is already split into words."""

    def __init__(self, words: Iterable[str]):
        self.itos = list(SPECIALS) + sorted(set(words) - set(SPECIALS))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[Iterable[str]]) -> WordTokenizer:
        return cls(w for s in sentences for w in s)

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, words: Iterable[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        ids = [self.stoi.get(w, self.unk_id) for w in words]
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> list[str]:
        words = [self.itos[int(i)] for i in ids]
        return [w for w in words if w not in SPECIALS] if skip_special else words

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"type": "word", "itos": self.itos}, ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: str | Path) -> CharTokenizer | WordTokenizer:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data["type"] == "char":
        return CharTokenizer(data["itos"])
    tok = WordTokenizer([])
    tok.itos, tok.stoi = data["itos"], {w: i for i, w in enumerate(data["itos"])}
    return tok
