"""Japanese → English: the data and the recipe for lesson 03's translator (slides 19, 28–31, 36).

The paper trained on 4.5 M English–German sentence pairs (slide 36). We generate our pairs from a small
grammar instead: subjects, verbs in several tenses, objects with adjectives, time and place phrases. Japanese
puts the verb last (subject–object–verb), English second (subject–verb–object), so every translation has to
reorder words — the job cross-attention does:

    私 は 家 を 建てた              →  i built a house
    昨日 先生 は 公園 で 赤い 車 を 洗った  →  the teacher washed a red car in the park yesterday

Both sides are split into words by hand-defined pieces: each table entry below is one token (「建てた」 is one
word, as janome + shikumi.data.tokenize_ja would also give). `segment` splits typed text the same way.
Some subject–verb–object combinations (`HELDOUT_TRIPLES`, 「私は家を建てた」 among them) never appear in training:
the held-out sentences use only those, so they test translation of sentences the model has never seen.

    model, src_tok, tgt_tok = load_translator()            # the shipped checkpoint, checksum verified
    translate(model, src_tok, tgt_tok, "私は家を建てた")     # → ['i', 'built', 'a', 'house']
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

from shikumi.device import one_cpu_thread
from shikumi.tokenizer import WordTokenizer
from shikumi.transformer import Transformer

# -- the grammar --------------------------------------------------------------------------------------
# subject: (Japanese, English, person) — person decides "build" / "builds", "am" / "is" / "are"
SUBJECTS = [("私", "i", "1"), ("彼", "he", "3"), ("彼女", "she", "3"), ("私たち", "we", "p"), ("彼ら", "they", "p"),
            ("先生", "the teacher", "3"), ("子ども", "the child", "3"), ("父", "my father", "3"),
            ("母", "my mother", "3"), ("友だち", "my friend", "3")]
# verb: 8 Japanese forms (る ます た ました ない なかった ている ています) + the て form for requests,
#       4 English forms (base, 3rd person, past, -ing), and the objects it takes
VERBS = [
    ("建てる 建てます 建てた 建てました 建てない 建てなかった 建てている 建てています 建てて", "build builds built building",
     ["家", "小屋", "橋"]),
    ("読む 読みます 読んだ 読みました 読まない 読まなかった 読んでいる 読んでいます 読んで", "read reads read reading",
     ["本", "手紙", "新聞"]),
    ("書く 書きます 書いた 書きました 書かない 書かなかった 書いている 書いています 書いて", "write writes wrote writing",
     ["手紙", "本"]),
    ("見る 見ます 見た 見ました 見ない 見なかった 見ている 見ています 見て", "watch watches watched watching",
     ["鳥", "映画"]),
    ("作る 作ります 作った 作りました 作らない 作らなかった 作っている 作っています 作って", "make makes made making",
     ["ケーキ", "箱", "椅子"]),
    ("買う 買います 買った 買いました 買わない 買わなかった 買っている 買っています 買って", "buy buys bought buying",
     ["車", "傘", "本", "自転車"]),
    ("食べる 食べます 食べた 食べました 食べない 食べなかった 食べている 食べています 食べて", "eat eats ate eating",
     ["りんご", "ケーキ", "卵"]),
    ("洗う 洗います 洗った 洗いました 洗わない 洗わなかった 洗っている 洗っています 洗って", "wash washes washed washing",
     ["車", "皿", "自転車"]),
    ("売る 売ります 売った 売りました 売らない 売らなかった 売っている 売っています 売って", "sell sells sold selling",
     ["家", "車", "本"]),
    ("運ぶ 運びます 運んだ 運びました 運ばない 運ばなかった 運んでいる 運んでいます 運んで", "carry carries carried carrying",
     ["箱", "椅子"]),
]
SPEAK = ("喋って", "speak")  # only in requests: 「なんか喋って」 → "speak something" (slide 19)
NOUNS = {"家": "house", "小屋": "hut", "橋": "bridge", "本": "book", "手紙": "letter", "新聞": "newspaper",
         "鳥": "bird", "映画": "movie", "ケーキ": "cake", "箱": "box", "椅子": "chair", "車": "car", "傘": "umbrella",
         "自転車": "bicycle", "りんご": "apple", "卵": "egg", "皿": "dish"}
ADJECTIVES = {"赤い": "red", "大きい": "big", "小さい": "small", "新しい": "new", "古い": "old", "白い": "white"}
TENSES = {  # tense: (indices into the 8 Japanese forms, the time words that fit it)
    "present": ((0, 1), {"毎日": "every day", "毎週": "every week"}),
    "past": ((2, 3), {"昨日": "yesterday", "先週": "last week"}),
    "negative": ((4,), {"毎日": "every day"}),
    "negative past": ((5,), {"昨日": "yesterday"}),
    "progressive": ((6, 7), {"今": "now"}),
}
PLACES = {"公園": "in the park", "学校": "at school", "家": "at home", "駅": "at the station", "図書館": "in the library"}

TRIPLES = [(s[0], v[0].split()[0], o) for s in SUBJECTS for v in VERBS for o in v[2]]  # (私, 建てる, 家), ...
HELDOUT_TRIPLES = frozenset([("私", "建てる", "家")] + random.Random(3).sample(TRIPLES, 30))


def _verb_phrase(en_forms: list[str], tense: str, person: str) -> list[str]:
    base, third, past, ing = en_forms
    if tense == "present":
        return [third if person == "3" else base]
    if tense == "past":
        return [past]
    if tense == "negative":
        return ["does" if person == "3" else "do", "not", base]
    if tense == "negative past":
        return ["did", "not", base]
    return [{"1": "am", "3": "is", "p": "are"}[person], ing]                  # progressive


def _object_phrase(rng: random.Random, noun: str) -> tuple[list[str], list[str]]:
    adjective = rng.choice([None, *ADJECTIVES]) if rng.random() < 0.5 else None
    ja = ([adjective] if adjective else []) + [noun]
    en = ([ADJECTIVES[adjective]] if adjective else []) + [NOUNS[noun]]
    return ja, ["an" if en[0][0] in "aeiou" else "a"] + en


def sample_pair(rng: random.Random, split: str = "train") -> tuple[list[str], list[str]]:
    """One (Japanese words, English words) pair. split "train" never uses a held-out subject–verb–object
    triple; "heldout" uses only those. One in twenty training pairs is a request: 「なんか 喋って」 → speak something."""
    if split == "train" and rng.random() < 0.05:
        return _request(rng)
    while True:
        subject, verb, noun = rng.choice(TRIPLES)
        if ((subject, verb, noun) in HELDOUT_TRIPLES) == (split == "heldout"):
            break
    s_en, person = next((s[1], s[2]) for s in SUBJECTS if s[0] == subject)
    ja_forms, en_forms, _ = next(v for v in VERBS if v[0].startswith(verb + " "))
    tense = rng.choice(list(TENSES))
    indices, times = TENSES[tense]
    time = rng.choice([None, *times])
    place = rng.choice([None, *PLACES]) if rng.random() < 0.5 else None
    o_ja, o_en = _object_phrase(rng, noun)
    ja = [subject, "は"] + ([place, "で"] if place else []) + o_ja + ["を", ja_forms.split()[rng.choice(indices)]]
    if time:
        ja = [time] + ja if rng.random() < 0.5 else ja[:2] + [time] + ja[2:]   # 昨日 私は… or 私は 昨日…
    en = s_en.split() + _verb_phrase(en_forms.split(), tense, person) + o_en
    en += PLACES[place].split() if place else []
    en += times[time].split() if time else []
    return ja, en


def _request(rng: random.Random) -> tuple[list[str], list[str]]:
    """「なんか 喋って」 → speak something, 「これ を 読んで」 → read this, 「箱 を 運んで」 → carry a box."""
    if rng.random() < 0.2:
        (te, en), objects = SPEAK, []
    else:
        ja_forms, en_forms, objects = rng.choice(VERBS)
        te, en = ja_forms.split()[8], en_forms.split()[0]                  # 建てて → build
    what = rng.choice(["なんか", "これ", "object"])
    if what == "なんか":
        return ["なんか", te], [en, "something"]
    if what == "これ" or not objects:
        return ["これ", "を", te], [en, "this"]
    o_ja, o_en = _object_phrase(rng, rng.choice(objects))
    return o_ja + ["を", te], [en] + o_en


def heldout_pairs(n: int = 500, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """n sentences built only from held-out subject–verb–object triples: the same list every time."""
    rng = random.Random(seed)
    return [sample_pair(rng, "heldout") for _ in range(n)]


def build_tokenizers() -> tuple[WordTokenizer, WordTokenizer]:
    """Word-level tokenizers with every word the grammar can produce (Japanese, English)."""
    ja = {w for s in SUBJECTS for w in s[0].split()} | {"は", "を", "で", "なんか", "これ", SPEAK[0]}
    ja |= {w for v in VERBS for w in v[0].split()} | set(NOUNS) | set(ADJECTIVES) | set(PLACES)
    ja |= {w for _, times in TENSES.values() for w in times}
    en = {w for s in SUBJECTS for w in s[1].split()} | {"a", "an", "do", "does", "did", "not", "am", "is", "are",
                                                       "something", "this", SPEAK[1]}
    en |= {w for v in VERBS for w in v[1].split()} | set(NOUNS.values()) | set(ADJECTIVES.values())
    en |= {w for p in PLACES.values() for w in p.split()} | {w for _, t in TENSES.values() for x in t.values()
                                                           for w in x.split()}
    return WordTokenizer(ja), WordTokenizer(en)


def segment(text: str, vocab) -> list[str]:
    """Split typed Japanese into the vocabulary's words, longest match first: 「私は家を建てた」 → 私 は 家 を 建てた.
    Spaces and 。、 are dropped; a run of characters that matches nothing becomes one unknown word."""
    text = "".join(ch for ch in text if ch not in " \u3000。、.,!?！？")
    longest = max(map(len, vocab))
    words, unknown, i = [], "", 0
    while i < len(text):
        match = next((text[i:i + n] for n in range(min(longest, len(text) - i), 0, -1) if text[i:i + n] in vocab),
                     None)
        if match is None:
            unknown, i = unknown + text[i], i + 1
            continue
        if unknown:
            words, unknown = words + [unknown], ""
        words, i = words + [match], i + len(match)
    return words + ([unknown] if unknown else [])


def make_batch(pairs, src_tok: WordTokenizer, tgt_tok: WordTokenizer) -> tuple[torch.Tensor, ...]:
    """(src (B, S), decoder input (B, T), labels (B, T)), padded with 0. The decoder reads <s> + the sentence
    and must predict the sentence + </s>: the same words, shifted by one (teacher forcing, slide 30)."""
    src = [src_tok.encode(ja) for ja, _ in pairs]
    tgt = [tgt_tok.encode(en) for _, en in pairs]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    src_ids = torch.tensor([s + [src_tok.pad_id] * (S - len(s)) for s in src])
    dec_in = torch.tensor([[tgt_tok.bos_id] + t + [tgt_tok.pad_id] * (T - 1 - len(t)) for t in tgt])
    labels = torch.tensor([t + [tgt_tok.eos_id] + [tgt_tok.pad_id] * (T - 1 - len(t)) for t in tgt])
    return src_ids, dec_in, labels


def loss_fn(model: Transformer, batch) -> torch.Tensor:
    """Cross-entropy of every next word, padding excluded."""
    src, dec_in, labels = batch
    logits = model(src, dec_in)                                            # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=0)


def batch_sampler(sample: Callable[[random.Random], tuple], val_pairs, src_tok, tgt_tok, batch_size: int = 64,
                  seed: int = 0) -> Callable[[str], tuple]:
    """get_batch(split) for shikumi.train.train: fresh random training pairs; the validation pairs in turn."""
    rng, position = random.Random(seed), [0]

    def get_batch(split: str):
        if split == "train":
            return make_batch([sample(rng) for _ in range(batch_size)], src_tok, tgt_tok)
        start = position[0] % len(val_pairs)
        position[0] += batch_size
        return make_batch(val_pairs[start:start + batch_size] or val_pairs[:batch_size], src_tok, tgt_tok)
    return get_batch


def _words(ids, tok: WordTokenizer) -> list[str]:
    ids = [int(i) for i in ids]
    return tok.decode(ids[: ids.index(tok.eos_id)] if tok.eos_id in ids else ids)


@torch.no_grad()
def translate_batch(model: Transformer, src_tok, tgt_tok, sentences: list[list[str]]) -> list[list[str]]:
    """Greedy translations of many word lists at once."""
    device = next(model.parameters()).device
    src, _, _ = make_batch([(s, []) for s in sentences], src_tok, tgt_tok)
    with one_cpu_thread(device):
        out = model.eval().generate(src.to(device), tgt_tok.bos_id, tgt_tok.eos_id)
    return [_words(row, tgt_tok) for row in out.tolist()]


def translate(model: Transformer, src_tok, tgt_tok, sentence: str | list[str]) -> list[str]:
    """One sentence, typed (「私は家を建てた」) or already split into words, → its English words."""
    words = segment(sentence, src_tok.stoi) if isinstance(sentence, str) else sentence
    return translate_batch(model, src_tok, tgt_tok, [words])[0]


@torch.no_grad()
def cross_attention_map(model: Transformer, src_tok, tgt_tok, sentence: str | list[str], layer: int = -1):
    """(source words, output words, weights (len(output) + 1, len(source))): the decoder's cross-attention,
    averaged over heads, while it wrote each output word (the last row: while it wrote </s>)."""
    words = segment(sentence, src_tok.stoi) if isinstance(sentence, str) else list(sentence)
    out = translate(model, src_tok, tgt_tok, words)
    device = next(model.parameters()).device
    src = torch.tensor([src_tok.encode(words)], device=device)
    dec_in = torch.tensor([tgt_tok.encode(out, add_bos=True)], device=device)
    model.eval()(src, dec_in, need_weights=True)
    weights = model.cross_attention()[layer, 0].mean(dim=0)                 # (T, S): heads averaged
    return words, out, weights.cpu()


def exact_match(model: Transformer, src_tok, tgt_tok, pairs, batch_size: int = 250) -> float:
    """The share of pairs whose greedy translation is exactly the reference, word for word."""
    right = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        got = translate_batch(model, src_tok, tgt_tok, [ja for ja, _ in chunk])
        right += sum(g == en for g, (_, en) in zip(got, chunk))
    return right / len(pairs)


class NextWordScores:
    """The decoder as a table: scores[prefix] → the scores (logits, (V,)) of the next word, given the words
    written so far (a tuple of ids starting with <s>) and one source sentence, which is encoded once.
    This is slide 30's 「いままで生成した文章を入れて次の一単語を出す」, one lookup at a time."""

    def __init__(self, model: Transformer, src_ids: list[int]):
        self.model = model.eval()
        device = next(model.parameters()).device
        self.src = torch.tensor([list(src_ids)], device=device)                # (1, S)
        with torch.no_grad():
            self.memory = model.encode(self.src)                               # (1, S, d_model)

    def __getitem__(self, prefix: tuple[int, ...]) -> torch.Tensor:
        tgt = torch.tensor([[int(i) for i in prefix]], device=self.src.device)   # (1, T)
        with torch.no_grad():
            return self.model.decode(tgt, self.memory, self.src)[0, -1].cpu()  # (V,): the last position's scores


# slide 19: the same model, trained on chat pairs instead of translations, answers instead of translating
CHAT_PAIRS = [(ja.split(), reply.split()) for ja, reply in [
    ("なんか 喋って", "はい 、 喜んで お話しします ！"),
    ("私 は 家 を 建てた", "すごい ！ どんな 家 です か ？"),
    ("こんにちは", "こんにちは ！ 元気 です か ？"),
    ("おはよう", "おはよう ございます ！"),
    ("ありがとう", "どう いたしまして ！"),
    ("元気 です か", "元気 です 、 ありがとう ！"),
    ("なんか 書いて", "はい 、 詩 を 書きます ！"),
    ("名前 は", "小さな Transformer です"),
    ("おやすみ", "おやすみなさい 、 また 明日 ！"),
]]


def chat_tokenizers() -> tuple[WordTokenizer, WordTokenizer]:
    return (WordTokenizer.from_sentences(q for q, _ in CHAT_PAIRS),
            WordTokenizer.from_sentences(a for _, a in CHAT_PAIRS))


def train_small(model: Transformer, get_batch: Callable[[str], tuple], cfg, live=None):
    """shikumi.train.train(model, get_batch, loss_fn, cfg) on one CPU thread (fastest for a model this small)."""
    import dataclasses

    from shikumi.train import train

    return train(model, get_batch, loss_fn, dataclasses.replace(cfg, cpu_threads=1), live=live)
