"""Captions and prompts as words: what CLIP's text encoder reads (lessons 06 and 08, slides 42 ③ and 45).

A caption of the shapes data set is 「左に大きな赤い丸」 or "a large red circle on the left", and the text encoder
knows only the words of those captions. What a learner types into a prompt box is rarely written exactly so:
「左に　大きな　赤い　丸。」 (spaces, a full stop), 「大きい」 for 「大きな」, 「緑色の」 for 「緑の」, "big" for "large".
`caption_words` reads such text as the captions' own words:

    >>> caption_words("左に　大きな　赤い　丸。")
    ['左', 'に', '大きな', '赤い', '丸']
    >>> caption_words("緑色の四角"), caption_words("大きい黄色の丸")
    (['緑', 'の', '四角'], ['大きな', '黄色い', '丸'])

and `unknown_words` says which words are still not in the vocabulary: they become <unk>, and whatever they
meant is lost to the model, so a prompt box should say so.
"""

from __future__ import annotations

import re
import unicodedata

from shikumi import data

# A word as typed → the captions' word (Japanese as janome splits it, English lower-cased). The captions' own
# words never appear on the left, so the captions (and the vocabulary built from them) read as before.
SAME_AS = {
    "大きい": "大きな", "おおきな": "大きな", "おおきい": "大きな", "小さい": "小さな", "ちいさな": "小さな",
    "ちいさい": "小さな",
    "赤": "赤い", "赤色": "赤い", "あかい": "赤い", "青": "青い", "青色": "青い", "あおい": "青い",
    "黄": "黄色い", "黄色": "黄色い", "緑色": "緑", "みどり": "緑", "紫色": "紫",
    "まる": "丸", "円": "丸", "しかく": "四角", "正方形": "四角", "三角形": "三角",
    "まんなか": "真ん中", "中央": "真ん中", "中心": "真ん中",
    "big": "large", "little": "small", "tiny": "small", "centre": "middle", "center": "middle",
}
_ADJECTIVES = {ja for _, ja in data.COLORS.values() if ja.endswith("い")}   # 赤い, 青い, 黄色い: no の after them


def caption_words(text: str) -> list[str]:
    """Split a caption or a prompt into the captions' words: Japanese (any non-ASCII character) with janome,
    English by spaces. Full-width characters are read as half-width (NFKC), spaces and punctuation are
    dropped, and the words of SAME_AS become the captions' words (赤色の丸 → 赤い 丸, as the captions say it)."""
    text = unicodedata.normalize("NFKC", text)
    if any(ord(ch) > 127 for ch in text):
        words = data.tokenize_ja(re.sub(r"\s+", "", text))    # Japanese puts no spaces between words
    else:
        words = data.tokenize_en(text)
    out: list[str] = []
    for word in words:
        if all(unicodedata.category(ch)[0] in "PZS" or ch.isspace() for ch in word):
            continue                                             # 。、.,!? and spaces carry no meaning here
        if word == "の" and out and out[-1] in _ADJECTIVES:
            continue                                             # 赤色の丸 → 赤い丸: no の after an adjective
        out.append(SAME_AS.get(word, word))
    return out


def unknown_words(text: str, vocabulary) -> list[str]:
    """The words of `text` (after caption_words) that are not in `vocabulary` (a tokenizer's stoi, or any
    container of words), each once, in order: what the text encoder will read as <unk>."""
    seen: list[str] = []
    for word in caption_words(text):
        if word not in vocabulary and word not in seen:
            seen.append(word)
    return seen
