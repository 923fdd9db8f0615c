"""shikumi.bpe: the pieces do what their docstrings say, and the tokenizer learns the same merges as Hugging Face
`tokenizers`' BPE trainer on the same text with the same settings.

What "the same settings" means, found out by reading the trainer and checked here:
- the same pre-tokens: GPT-2's pattern, run by `regex` here and by Hugging Face's own regex engine (Oniguruma)
  in `pre_tokenizers.Split` there, gives the same pieces on the course's texts;
- byte-level: all 256 bytes in the starting vocabulary (`initial_alphabet`), no special tokens, no
  continuing-subword prefix or end-of-word suffix, min_frequency 2, the same vocab_size;
- ties: the trainer's heap takes, among equally frequent pairs, the one with the smallest (left id, right id).
  Our ids are the byte values. Hugging Face numbers its starting alphabet by sorting the characters it sees,
  and its ByteLevel pre-tokeniser writes bytes as GPT-2's printable characters (space → "Ġ", U+0120), so
  there the printable bytes come first and a tie can go the other way. To compare the trainers exactly we
  write byte b as chr(0x100 + b) instead, an order-keeping alphabet (`_hf_merges`); with GPT-2's own
  ByteLevel pre-tokeniser the merges agree until the first tie, and that tie is the only difference
  (test_gpt2_byte_level_differs_only_in_how_ties_are_broken).
"""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from shikumi import bpe, data

SHIFT = 0x100  # byte b ↔ the character chr(0x100 + b): 256 letters (Ā…ſ, ƀ…ǿ) in the order of the bytes


def _mapped(piece: str) -> str:
    return "".join(chr(SHIFT + b) for b in piece.encode("utf-8"))


def _unmapped(text: str) -> bytes:
    return bytes(ord(c) - SHIFT for c in text)


def _hf_train(pieces, vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Hugging Face's BPE trainer on our pre-tokens, one pre-token per "sentence" (no pre-tokeniser of its own)."""
    tok = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  special_tokens=[], initial_alphabet=[chr(SHIFT + b) for b in range(256)])
    tok.train_from_iterator((_mapped(p) for p in pieces), trainer)
    return tok


def _merges_of(tok: Tokenizer, to_bytes=_unmapped) -> list[tuple[bytes, bytes]]:
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [tuple(to_bytes(s) for s in (m if isinstance(m, list) else m.split(" "))) for m in merges]


def _our_merges(tok: bpe.BPETokenizer) -> list[tuple[bytes, bytes]]:
    return [(tok.vocab[a], tok.vocab[b]) for a, b in tok.merges]


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    sentences = [s for tale in data.load_tales() for s in tale.sentences]
    return {"ja": "\n".join(s for i, s in enumerate(sentences) if i % 5 != 4),
            "ja_heldout": "\n".join(s for i, s in enumerate(sentences) if i % 5 == 4),
            "en": data.shakespeare(["macbeth"]),
            "en_heldout": data.shakespeare(["the-tempest"])[:30_000]}


@pytest.fixture(scope="module")
def trained(corpus) -> bpe.BPETokenizer:
    return bpe.BPETokenizer.train([corpus["ja"], corpus["en"]], bpe.BPEConfig(vocab_size=1024))


# -- the pieces ------------------------------------------------------------------------------------------------

def test_count_pairs_counts_overlapping_neighbours():
    assert bpe.count_pairs([1, 2, 1, 2]) == Counter({(1, 2): 2, (2, 1): 1})
    assert bpe.count_pairs([7, 7, 7]) == Counter({(7, 7): 2})
    assert bpe.count_pairs([5]) == Counter() and bpe.count_pairs([]) == Counter()


def test_merge_goes_left_to_right_without_overlaps():
    assert bpe.merge([1, 1, 1], (1, 1), 9) == [9, 1]
    assert bpe.merge([1, 1, 1, 1], (1, 1), 9) == [9, 9]
    assert bpe.merge([3, 1, 2, 1, 2, 4], (1, 2), 9) == [3, 9, 9, 4]
    assert bpe.merge([1, 2], (2, 1), 9) == [1, 2]


def test_learn_merges_on_the_classic_example():
    """Wikipedia's "aaabdaaabac": aa first; then ab and (aa)a tie at 2 and the smaller pair, (97, 98), wins."""
    merges = bpe.learn_merges(list(b"aaabdaaabac"), 3)
    assert merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    tok = bpe.BPETokenizer(merges)
    assert [tok.vocab[i] for i in merges.values()] == [b"aa", b"ab", b"aaab"]
    assert bpe.learn_merges([1], 5) == {} and bpe.learn_merges([1, 2, 3], 0) == {}


def test_encode_ids_replays_the_training():
    rng = random.Random(0)
    for _ in range(20):
        ids = [rng.choice(b"abcd") for _ in range(rng.randint(2, 60))]
        merges = bpe.learn_merges(ids, rng.randint(1, 12))
        trained = list(ids)
        for pair, new_id in merges.items():
            trained = bpe.merge(trained, pair, new_id)
        assert bpe.encode_ids(ids, merges) == trained


def test_the_tokenizer_is_learn_merges_made_fast():
    """One pre-token holding the whole text, every pair allowed: BPETokenizer.train learns learn_merges' merges."""
    rng = random.Random(1)
    for _ in range(10):
        text = "".join(rng.choice("abむか ") for _ in range(200))
        merges = bpe.learn_merges(list(text.encode()), 40)
        tok = bpe.BPETokenizer.train(text, bpe.BPEConfig(vocab_size=256 + 40, min_frequency=1, pattern=r"(?s).+"))
        assert tok.merges == merges


def test_decode_inverts_encode_for_any_text(trained):
    for text in ["むかしむかし、あるところに", "To be, or not to be", "🍑 Ω ≠ ∞\tdone\n\n", "  x  ", "",
                 "見たことのない漢字：鬱、齟齬", "it's 2024 — isn't it?"]:
        assert trained.decode(trained.encode(text)) == text


def test_a_token_can_be_part_of_a_character(trained):
    ids = trained.encode("鬱")                             # 3 bytes, most likely never merged here
    assert trained.decode(ids) == "鬱"
    assert trained.decode(ids[:1]) == "\ufffd"             # alone, the first byte is not a character: �
    assert trained.piece(ids[0]).startswith("\\x")


def test_pretokenize_examples():
    assert bpe.pretokenize("Once upon a time,") == ["Once", " upon", " a", " time", ","]
    assert bpe.pretokenize("むかしむかし、あるところに") == ["むかしむかし", "、", "あるところに"]
    assert bpe.pretokenize("I'll go  now") == ["I", "'ll", " go", " ", " now"]


def test_truncated_is_training_with_a_smaller_vocabulary(corpus, trained):
    small = bpe.BPETokenizer.train([corpus["ja"], corpus["en"]], bpe.BPEConfig(vocab_size=256 + 100))
    assert small.merges == trained.truncated(100).merges


def test_training_learns_words_of_both_languages(trained):
    assert len(trained.encode(" the")) == 1 and len(trained.encode("おじいさん")) == 1
    assert trained.vocab_size == 1024 and len(trained.counts) == 768
    assert trained.counts == sorted(trained.counts, reverse=True)   # merged pairs get rarer, never commoner


# -- against Hugging Face tokenizers -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pretokenizer_is_hugging_faces_split_with_the_same_pattern(corpus, lang):
    split = pre_tokenizers.Split(Regex(bpe.GPT2_PATTERN), behavior="isolated")
    tricky = "Who's there?  'Tis I — 1,000 men…\n\n\tend  \nけれども「はい。」と言った。100円だ"
    for text in (corpus[lang], tricky):
        assert bpe.pretokenize(text) == [p for p, _ in split.pre_tokenize_str(text)]


def test_same_merges_as_hugging_face_on_the_course_texts(corpus, trained):
    pieces = [p for text in (corpus["ja"], corpus["en"]) for p in bpe.pretokenize(text)]
    hf = _hf_train(pieces, vocab_size=1024)
    assert hf.get_vocab_size() == trained.vocab_size == 1024
    assert {t: i for t, i in hf.get_vocab().items() if i < 256} == {chr(SHIFT + b): b for b in range(256)}
    assert _merges_of(hf) == _our_merges(trained)                        # all 768, in the same order


def test_same_merges_as_hugging_face_when_ties_abound():
    """Small random texts, every pair allowed (min_frequency 1): many ties, all broken alike."""
    rng = random.Random(2)
    for _ in range(30):
        text = " ".join("".join(rng.choice("abcむ") for _ in range(rng.randint(1, 8))) for _ in range(30))
        tok = bpe.BPETokenizer.train(text, bpe.BPEConfig(vocab_size=256 + 60, min_frequency=1))
        hf = _hf_train(bpe.pretokenize(text), vocab_size=256 + 60, min_frequency=1)
        assert _merges_of(hf) == _our_merges(tok)


def test_min_frequency_stops_both_at_the_same_merge(corpus):
    pieces = bpe.pretokenize(corpus["ja"])
    tok = bpe.BPETokenizer.train(corpus["ja"], bpe.BPEConfig(vocab_size=5000, min_frequency=20))
    hf = _hf_train(pieces, vocab_size=5000, min_frequency=20)
    assert 50 < len(tok.merges) < 5000 - 256 and min(tok.counts) >= 20
    assert _merges_of(hf) == _our_merges(tok)


def test_same_token_ids_as_hugging_face_on_held_out_text(corpus, trained):
    pieces = [p for text in (corpus["ja"], corpus["en"]) for p in bpe.pretokenize(text)]
    hf = _hf_train(pieces, vocab_size=1024)
    for text in (corpus["ja_heldout"], corpus["en_heldout"]):
        theirs = [t.id for p in bpe.pretokenize(text) for t in hf.model.tokenize(_mapped(p))]
        assert trained.encode(text) == theirs


def _gpt2_bytes_to_unicode() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte (Hugging Face's ByteLevel uses the same): {character: byte}."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + i): b for i, b in enumerate(others)}}


def test_gpt2_byte_level_differs_only_in_how_ties_are_broken(corpus, trained):
    """Hugging Face's GPT-2 set-up as a learner would write it: the ByteLevel pre-tokeniser (GPT-2's pattern, bytes
    as printable characters) and all 256 bytes. Same pre-tokens, same merges up to the first tie; at that tie both
    pairs really are equally frequent, and HF takes the one that comes first in GPT-2's byte order."""
    texts = [corpus["ja"], corpus["en"]]
    to_byte = _gpt2_bytes_to_unicode()
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for text in texts:
        theirs = [bytes(to_byte[c] for c in p) for p, _ in byte_level.pre_tokenize_str(text)]
        assert theirs == [p.encode("utf-8") for p in bpe.pretokenize(text)]
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = byte_level
    hf.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1024, min_frequency=2, show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    theirs, ours = _merges_of(hf, lambda s: bytes(to_byte[c] for c in s)), _our_merges(trained)
    first = next(i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b)
    assert first > 50
    # at that step, with the first `first` merges done, both pairs occur equally often
    before = trained.truncated(first)
    freq = Counter(bpe.pretokenize(texts[0]) + bpe.pretokenize(texts[1]))
    counts = Counter()
    for piece, n in freq.items():
        for pair in zip(before.encode(piece), before.encode(piece)[1:]):
            counts[before.vocab[pair[0]], before.vocab[pair[1]]] += n
    assert counts[theirs[first]] == counts[ours[first]] == trained.counts[first]
    hf_id = hf.get_vocab()                                               # HF's ids, in its own order
    to_char = {b: c for c, b in to_byte.items()}

    def ids(pair):
        return tuple(hf_id["".join(to_char[b] for b in token)] for token in pair)

    assert ids(theirs[first]) < ids(ours[first])                         # the tie went to HF's smaller ids
    assert len(set(theirs) & set(ours)) >= 0.98 * len(ours)              # the rest: the same merges, nearly all


def test_gpt2_byte_chars_are_hugging_faces_byte_level_alphabet():
    mapping = bpe.gpt2_byte_chars()
    assert mapping == {b: c for c, b in _gpt2_bytes_to_unicode().items()}
    assert sorted(mapping.values()) == sorted(pre_tokenizers.ByteLevel.alphabet())
    text = "a Z\n\tむ。🍑"
    (piece, _), *_ = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False).pre_tokenize_str(text)
    assert piece == "".join(mapping[b] for b in text.encode("utf-8"))
