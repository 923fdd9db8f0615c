"""Byte-pair encoding (BPE): how GPT cuts text into tokens (lesson 09).

Slide 35 says 「トークナイズ(BPE)の話は目的から逸れるので割愛」 — tokenisation (BPE) strays from the point, so the
talk skips it. Lesson 09 does not. A GPT never sees characters or words: it sees token ids, and BPE decides them.

Byte-level BPE, as in GPT-2, in three steps:

1. Text → bytes. UTF-8 writes "a" as 1 byte and 「む」 as 3, so 256 starting tokens (ids 0–255, one per byte
   value) can spell any text in any language: no token is ever "unknown".
2. Training: count every pair of adjacent tokens, merge the most frequent pair into a new token (id 256, 257, …),
   and repeat until the vocabulary is big enough. The list of merges, in order, *is* the tokenizer.
3. Encoding a new text: start from its bytes and replay the merges, the earliest learnt first.

Before counting, the text is cut into pre-tokens with GPT-2's regular expression (`GPT2_PATTERN`): a word with the
space in front of it (" time"), a run of digits, a run of punctuation, a run of spaces. Merges never cross a
pre-token's edge, so " the" can become one token but "the." cannot. Japanese has no spaces: its pre-tokens are the
whole runs of kana and kanji between two punctuation marks.

The functions at the top are the pieces, one at a time (lesson 09 asks you to write them yourself): `count_pairs`,
`merge`, `learn_merges` (the whole training loop on one list of ids) and `encode_ids`. `BPETokenizer` is the same
algorithm made fast enough for a real corpus. Its merges are those of Hugging Face `tokenizers`' BPE trainer on
the same pre-tokens (tests/test_bpe.py): ties between equally frequent pairs go to the smallest pair of ids, and a
pair must occur at least `min_frequency` times to be merged.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex  # like `re`, plus Unicode classes such as \p{L} ("any letter, in any script")

# GPT-2's pre-tokeniser, verbatim (tiktoken's `gpt2` encoding, Hugging Face's ByteLevel pre-tokeniser): English
# contractions, then a letter run, a digit run or a punctuation run with at most one space in front, then spaces.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

Pair = tuple[int, int]  # two adjacent token ids, e.g. (227, 129)


def gpt2_byte_chars() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, as in its vocabulary files and Hugging Face's ByteLevel: a printable
    byte is itself ("a" → "a"); the others move to characters from U+0100 on, so a space shows as "Ġ"."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


def pretokenize(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """"Once upon a time," → ['Once', ' upon', ' a', ' time', ','];
    「むかしむかし、あるところに」 → ['むかしむかし', '、', 'あるところに']."""
    return regex.findall(pattern, text)


def count_pairs(ids: Sequence[int]) -> Counter:
    """How often each pair of neighbours occurs: [1, 2, 1, 2] → Counter({(1, 2): 2, (2, 1): 1})."""
    return Counter(zip(ids, ids[1:]))


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of `pair` by `new_id`, left to right: merge([1, 1, 1], (1, 1), 9) → [9, 1]."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def most_frequent(counts: Counter) -> Pair:
    """The pair with the highest count; among equals, the smallest pair of ids (as Hugging Face's trainer)."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


def learn_merges(ids: Sequence[int], num_merges: int) -> dict[Pair, int]:
    """BPE training in its plainest form, on one list of token ids: {pair: the id of the token it became}, in the
    order learnt. New ids count up from 256; training stops early when no pair is left."""
    ids, merges = list(ids), {}
    for step in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair = most_frequent(counts)
        merges[pair] = 256 + step
        ids = merge(ids, pair, 256 + step)
    return merges


def encode_ids(ids: Sequence[int], merges: dict[Pair, int], rank: dict[Pair, int] | None = None) -> list[int]:
    """Replay the merges on a list of ids: again and again, merge the adjacent pair that was learnt first.
    rank: {pair: its place in `merges`}, if you have it already."""
    ids = list(ids)
    rank = rank if rank is not None else {pair: r for r, pair in enumerate(merges)}  # 0: the first merge learnt
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
        if pair not in rank:
            break  # no adjacent pair was ever merged: done
        ids = merge(ids, pair, merges[pair])
    return ids


@dataclass(frozen=True)
class BPEConfig:
    vocab_size: int = 1024            # the 256 bytes plus the merged tokens (GPT-2: 50,257)
    min_frequency: int = 2            # never merge a pair seen fewer times than this
    pattern: str = GPT2_PATTERN       # the pre-tokeniser


PRESETS = {"quick": BPEConfig(vocab_size=1024), "full": BPEConfig(vocab_size=4096)}


class BPETokenizer:
    """A byte-level BPE tokenizer: `encode(text) → list[int]`, `decode(ids) → str`, `vocab_size`, like the
    course's other tokenizers and Hugging Face's.

        tok = BPETokenizer.train([tales, plays], BPEConfig(vocab_size=1024))
        tok.encode("Once upon a time")   # a list of ids, one for each of the pieces below
        tok.pieces("Once upon a time")   # ['O', 'n', 'ce', ' upon', ' a', ' time'] (lesson 09, SIZE = "quick")
    """

    def __init__(self, merges: Iterable[Pair] = (), pattern: str = GPT2_PATTERN):
        self.pattern = pattern
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]   # id → its bytes
        self.merges: dict[Pair, int] = {}                             # (left id, right id) → new id, in order
        self.rank: dict[Pair, int] = {}                               # (left id, right id) → 0, 1, 2, …
        self.counts: list[int] = []                                   # how often each merged pair was seen
        for pair in merges:
            self._add_merge(pair)
        self._cache: dict[str, list[int]] = {}                        # pre-token → its ids

    def _add_merge(self, pair: Pair) -> int:
        new_id = len(self.vocab)
        self.vocab.append(self.vocab[pair[0]] + self.vocab[pair[1]])
        self.rank[pair] = len(self.rank)
        self.merges[pair] = new_id
        return new_id

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, texts: str | Iterable[str], config: BPEConfig = BPEConfig()) -> BPETokenizer:
        """learn_merges on a whole corpus, with two pieces of bookkeeping that make it fast:

        - each distinct pre-token is stored once, with how often it occurs (" the" is one entry, not 20,000);
        - after a merge, only the pre-tokens that contain the merged pair are recounted, and a heap keeps the
          pairs sorted by count (entries that went stale are fixed when they reach the top).
        """
        texts = [texts] if isinstance(texts, str) else texts
        freq = Counter(p for text in texts for p in pretokenize(text, config.pattern))
        words = [list(p.encode("utf-8")) for p in freq]            # each pre-token as a list of ids
        weights = list(freq.values())                               # how often it occurs
        counts: Counter = Counter()                                 # pair → count over the corpus
        where: defaultdict[Pair, set[int]] = defaultdict(set)       # pair → the words that contain it
        for w, (ids, n) in enumerate(zip(words, weights)):
            for pair in zip(ids, ids[1:]):
                counts[pair] += n
                where[pair].add(w)
        heap = [(-n, pair) for pair, n in counts.items()]          # the most frequent, then smallest pair on top
        heapq.heapify(heap)

        tok = cls(pattern=config.pattern)
        while tok.vocab_size < config.vocab_size and heap:
            neg, pair = heapq.heappop(heap)
            if -neg != counts.get(pair, 0):                         # stale: its count changed since it was pushed
                if counts.get(pair, 0) > 0:
                    heapq.heappush(heap, (-counts[pair], pair))
                continue
            if -neg < config.min_frequency:
                break
            new_id = tok._add_merge(pair)
            tok.counts.append(-neg)
            touched = set()
            for w in where.pop(pair):
                ids, n = words[w], weights[w]
                for p in zip(ids, ids[1:]):                         # take the word's pairs out …
                    counts[p] -= n
                ids = words[w] = merge(ids, pair, new_id)
                for p in zip(ids, ids[1:]):                         # … and put the merged word's back in
                    counts[p] += n
                    where[p].add(w)
                    touched.add(p)
            counts.pop(pair, None)
            for p in touched:                                       # pairs that may have grown: push again
                if counts[p] > 0:
                    heapq.heappush(heap, (-counts[p], p))
        return tok

    def truncated(self, num_merges: int) -> BPETokenizer:
        """The tokenizer after only its first num_merges merges (training with a smaller vocabulary)."""
        return BPETokenizer(list(self.merges)[:num_merges], self.pattern)

    def encode(self, text: str) -> list[int]:
        """Text → token ids: pre-tokenise, then replay the merges on each pre-token's bytes (remembered)."""
        ids = []
        for piece in pretokenize(text, self.pattern):
            if piece not in self._cache:
                self._cache[piece] = encode_ids(piece.encode("utf-8"), self.merges, self.rank)
            ids.extend(self._cache[piece])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids → text. A token can hold part of a character (1 of 「む」's 3 bytes): alone, it shows as �."""
        return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")

    def piece(self, token_id: int) -> str:
        """One token as readable text: bytes that are not a whole character show as \\x.. escapes, a line break
        as \\n."""
        return self.vocab[token_id].decode("utf-8", errors="backslashreplace").replace("\n", "\\n")

    def pieces(self, text: str) -> list[str]:
        """The text cut into its tokens, as readable pieces: "Once upon" → ['Once', ' upon']."""
        return [self.piece(i) for i in self.encode(text)]
