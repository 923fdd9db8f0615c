"""Hidden checks for lesson 01 · n-gram language model (slides 21–25)."""

from __future__ import annotations

import math
import random
from collections import Counter

from autograder.checks import Case, call_text, check, close, expected_got, more, show, type_problem
from shikumi.lang import tr
from shikumi.ngram import BOS, EOS, conditional_prob, count_ngrams, pad

_MODEL = ("shikumi.ngram:NGramModel.fit", "shikumi.ngram:NGramModel.prob", "shikumi.ngram:NGramModel.logprob",
          "shikumi.ngram:NGramModel.generate")

WORDS = ["むかし", "おじいさん", "おばあさん", "が", "は", "山", "川", "へ", "行きました", "桃", "。", "、"]


def _sentences(rng: random.Random, n_sentences: int, vocab: list[str], max_len: int = 7) -> list[list[str]]:
    return [[rng.choice(vocab) for _ in range(rng.randint(1, max_len))] for _ in range(n_sentences)]


def _corpus_counts(rng: random.Random, n: int, n_sentences: int = 6, vocab_size: int = 6) -> Counter:
    vocab = rng.sample(WORDS, vocab_size)
    counts = Counter()
    for s in _sentences(rng, n_sentences, vocab):
        counts.update(count_ngrams(pad(s, n), n))
    return counts


def _contexts(counts: Counter) -> list[tuple[str, ...]]:
    return sorted({ngram[:-1] for ngram in counts})


def _as_counts(value) -> Counter | None:
    if isinstance(value, dict):
        return Counter({k: v for k, v in value.items() if v})
    return None


# -- count_ngrams --------------------------------------------------------------------------------

def count_cases(rng: random.Random) -> list[Case]:
    vocab = rng.sample(WORDS, 4)
    cases = [Case(([rng.choice(vocab) for _ in range(rng.randint(6, 12))], n)) for n in (1, 2, 2, 3)]
    cases.append(Case(([rng.choice(vocab) for _ in range(2)], 3), edge=True))  # shorter than n: no n-grams
    return cases


@check("count_ngrams", cases=count_cases, twin=("shikumi.ngram:count_ngrams", "shikumi.ngram:NGramModel.fit"))
def count_verify(case: Case, value) -> str | None:
    tokens, n = case.args
    what = call_text("count_ngrams", case)
    if (problem := type_problem(value, dict, what)) is not None:
        return problem + more(tr("Return a Counter (or dict) from n-gram tuples to counts.",
                                 "n-gram のタプルから回数への Counter（または dict）を返してください。"))
    expected, got = count_ngrams(tokens, n), _as_counts(value)
    if got == expected:
        return None
    wrong_keys = [k for k in got if not isinstance(k, tuple)]
    if wrong_keys:
        like, key = show(next(iter(expected), ("…",))), f"{show(wrong_keys[0])} ({type(wrong_keys[0]).__name__})"
        return tr(f"{what}: the keys should be tuples of {n} words, like {like}, but one is {key}. "
                    "Use tuple(tokens[i:i+n]).",
                    f"{what}：キーは {like} のような {n} 語のタプルにしますが、{key} というキーがあります。"
                    "tuple(tokens[i:i+n]) を使ってください。")
    bad_len = [k for k in got if len(k) != n]
    if bad_len:
        key, length = show(bad_len[0]), len(bad_len[0])
        return tr(f"{what}: every key should hold n={n} words, but {key} holds {length}.",
                    f"{what}：キーはどれも n={n} 語のはずですが、{key} は {length} 語です。")
    total_expected, total_got = sum(expected.values()), sum(got.values())
    if total_got == total_expected - 1 and got == count_ngrams(tokens[:-1], n):
        return tr(f"{what}: {len(tokens)} tokens hold {total_expected} n-grams of length {n}, you counted "
                    f"{total_got}. The last one is missing: the start positions run over range(len(tokens) - n + 1).",
                    f"{what}：{len(tokens)} 個のトークンには長さ {n} の n-gram が {total_expected} 個ありますが、"
                    f"数えたのは {total_got} 個です。最後の 1 つが抜けています。開始位置は range(len(tokens) - n + 1) です。")
    wrong = [k for k in expected if got.get(k) != expected[k]]
    if wrong:
        key, right, counted = show(wrong[0]), expected[wrong[0]], got.get(wrong[0], 0)
        detail = more(tr(f"For example {key} should be counted {right} time(s), not {counted}.",
                         f"たとえば {key} は {counted} 回ではなく {right} 回数えます。"))
    else:
        extra = show(next(k for k in got if k not in expected))
        detail = more(tr(f"{extra} is not in these tokens and should not be counted (did you pad them yourself?).",
                         f"{extra} はこのトークン列にないので、数えません（自分でパディングしていませんか？）。"))
    return expected_got(what, show(dict(expected)), show(dict(got))) + detail


# -- conditional_prob ----------------------------------------------------------------------------

def cond_cases(rng: random.Random) -> list[Case]:
    cases = []
    for n in (2, 2, 3):
        for _ in range(100):  # prefer a context with several followers: P strictly between 0 and 1
            counts = _corpus_counts(rng, n)
            choices = [(ctx, w) for ctx in _contexts(counts) for w in sorted({g[-1] for g in counts if g[:-1] == ctx})
                       if 0 < conditional_prob(counts, ctx, w) < 1]
            if choices:
                break
        if choices:
            cases.append(Case((counts, *rng.choice(choices))))
        else:  # every context has one follower: P = 1, which `return 1.0` would hit
            ctx = rng.choice(_contexts(counts))
            cases.append(Case((counts, ctx, sorted(g[-1] for g in counts if g[:-1] == ctx)[0]), edge=True))
    counts = _corpus_counts(rng, 2)
    ctx = rng.choice(_contexts(counts))
    cases.append(Case((counts, ctx, "ウェイヨッシャ"), edge=True))      # a word never seen after it: 0.0
    cases.append(Case((counts, ("ウェイヨッシャ",), "。"), edge=True))  # a context never seen at all: 0.0
    return cases


@check("conditional_prob", cases=cond_cases,
       twin=("shikumi.ngram:conditional_prob", "shikumi.ngram:phrase_prob", *_MODEL))
def cond_verify(case: Case, value) -> str | None:
    counts, ctx, word = case.args
    what = call_text("conditional_prob", case)
    if (problem := type_problem(value, float, what)) is not None:
        return problem
    expected = conditional_prob(counts, ctx, word)
    if close(value, expected):
        return None
    hint = ""
    joint = counts[tuple(ctx) + (word,)]
    if joint and close(value, joint / sum(counts.values())):
        hint = more(tr("Did you divide by the number of all n-grams instead of C(context)?",
                       "C(context) ではなく、すべての n-gram の数で割っていませんか？"))
    elif value > 1:
        hint = more(tr("A probability is never above 1: did you return the count C(context, word) without dividing?",
                       "確率が 1 を超えることはありません。回数 C(context, word) を割らずに返していませんか？"))
    elif joint and close(value, joint / max(1, sum(c for ng, c in counts.items() if ng[-1] == word))):
        hint = more(tr("Did you divide by the count of the word instead of the count of the context?",
                       "文脈の回数ではなく、単語の回数で割っていませんか？"))
    return expected_got(what, f"{expected:.6g}", show(value)) + hint


# -- smoothed_prob ------------------------------------------------------------------------------

def _smoothed(counts, ctx, word, k, vocab_size) -> float:
    ctx = tuple(ctx)
    context_count = sum(c for ng, c in counts.items() if ng[:-1] == ctx)
    return (counts[ctx + (word,)] + k) / (context_count + k * vocab_size)


def smooth_cases(rng: random.Random) -> list[Case]:
    counts = _corpus_counts(rng, 2)
    ctxs = _contexts(counts)
    vocab_size = len({ng[-1] for ng in counts}) + 1
    ctx = rng.choice(ctxs)
    seen = sorted(ng[-1] for ng in counts if ng[:-1] == ctx)
    cases = [
        Case((counts, ctx, rng.choice(seen), 1.0, vocab_size)),
        Case((counts, ctx, "ウェイヨッシャ", 1.0, vocab_size)),          # unseen pair: small but not 0
        Case((counts, rng.choice(ctxs), rng.choice(seen), round(rng.uniform(0.05, 0.5), 2), vocab_size)),
        Case((counts, ("ウェイヨッシャ",), "。", 0.5, vocab_size)),       # unseen context: 1 / V
        Case((counts, ctx, rng.choice(seen), 0.0, vocab_size)),            # k = 0 is plain counting
    ]
    for case in cases:  # a right answer of exactly 0 or 1 is one a constant could hit: an edge case
        case.edge = _smoothed(*case.args) in (0.0, 1.0)
    return cases


@check("smoothed_prob", cases=smooth_cases, twin=_MODEL)
def smooth_verify(case: Case, value) -> str | None:
    counts, ctx, word, k, vocab_size = case.args
    what = call_text("smoothed_prob", case)
    if (problem := type_problem(value, float, what)) is not None:
        return problem
    expected = _smoothed(counts, ctx, word, k, vocab_size)
    if close(value, expected):
        return None
    ctx_count = sum(c for ng, c in counts.items() if ng[:-1] == tuple(ctx))
    hint = ""
    if ctx_count + k and close(value, (counts[tuple(ctx) + (word,)] + k) / (ctx_count + k)):
        hint = more(tr("The denominator needs k once for every word of the vocabulary: C(context) + k·V.",
                       "分母には、語彙の単語 1 つにつき k を 1 回ずつ足します：C(context) + k·V です。"))
    elif close(value, (counts[tuple(ctx) + (word,)] + k) / (ctx_count + vocab_size)):
        hint = more(tr("The denominator is C(context) + k·V: did you forget to multiply V by k?",
                       "分母は C(context) + k·V です。V に k を掛け忘れていませんか？"))
    return expected_got(what, f"{expected:.6g}", show(value)) + hint


# -- sentence_logprob ----------------------------------------------------------------------------

def _logprob(counts, sentence, n, log=math.log, padded=True, end=True) -> float:
    tokens = pad(sentence, n) if padded else list(sentence)
    if padded and not end:
        tokens = tokens[:-1]
    total = 0.0
    for i in range(n - 1, len(tokens)):
        p = conditional_prob(counts, tokens[i - n + 1 : i], tokens[i])
        if p == 0:
            return -math.inf
        total += log(p)
    return total


def logprob_cases(rng: random.Random) -> list[Case]:
    cases = []
    for n in (2, 2, 3):
        vocab = rng.sample(WORDS, 4)
        sentences = _sentences(rng, 8, vocab, max_len=5)
        counts = Counter()
        for s in sentences:
            counts.update(count_ngrams(pad(s, n), n))
        sentence = rng.choice(sentences)
        cases.append(Case((counts, sentence, n), edge=_logprob(counts, sentence, n) == 0.0))  # P = 1: trivial
    cases.append(Case((counts, list(reversed(sentences[0])) + ["ウェイヨッシャ"], n), edge=True))  # -inf
    return cases


@check("sentence_logprob", cases=logprob_cases, twin=_MODEL)
def logprob_verify(case: Case, value) -> str | None:
    counts, sentence, n = case.args
    what = call_text("sentence_logprob", case)
    if (problem := type_problem(value, float, what)) is not None:
        return problem
    expected = _logprob(counts, sentence, n)
    if close(value, expected):
        return None
    if math.isinf(expected):
        return tr(f"{what}: this sentence contains an n-gram never seen in training, so its probability is 0 and "
                    f"its log-probability is -inf (return -math.inf); got {show(value)}.",
                    f"{what}：この文には学習で一度も出てこなかった n-gram があるので、確率は 0、対数確率は -inf です"
                    f"（-math.inf を返します）。返ってきた値は {show(value)} です。")
    hint = ""
    if close(value, _logprob(counts, sentence, n, log=math.log10)):
        hint = more(tr("That is log10: use the natural log, math.log.",
                       "それは log10 です。自然対数 math.log を使います。"))
    elif close(value, math.exp(expected)):
        hint = more(tr("That is the probability itself: return the sum of the logs, not the product.",
                       "それは確率そのものです。確率の積ではなく、対数の和を返します。"))
    elif close(value, _logprob(counts, sentence, n, end=False)):
        hint = more(tr(f"The end marker {EOS!r} is part of the sentence too: pad(sentence, n) adds it.",
                       f"文末の記号 {EOS!r} も文の一部です。pad(sentence, n) が付け加えます。"))
    elif close(value, _logprob(counts, sentence, n, padded=False)):
        hint = more(tr(f"Start from the padded sentence, pad(sentence, n): the first word is predicted from {BOS!r}.",
                       f"パディングした文 pad(sentence, n) から始めます。最初の単語は {BOS!r} から予測します。"))
    return expected_got(what, f"{expected:.6g}", show(value)) + hint


# -- greedy_generate -----------------------------------------------------------------------------

def _greedy(counts, context, n, max_words, alphabetical_ties=True) -> list[str]:
    words, out = [BOS] * (n - 1) + list(context), []
    for _ in range(max_words):
        ctx = tuple(words[len(words) - (n - 1) :]) if n > 1 else ()
        following = {ng[-1]: c for ng, c in counts.items() if ng[:-1] == ctx}
        if not following:
            break
        if alphabetical_ties:
            word = min(following, key=lambda w: (-following[w], w))
        else:  # whichever tied word the dict happens to list first
            word = max(following, key=following.get)
        if word == EOS:
            break
        words.append(word)
        out.append(word)
    return out


def greedy_cases(rng: random.Random) -> list[Case]:
    cases = []
    for n, max_words in ((2, 10), (3, 10), (2, 4)):
        counts = _corpus_counts(rng, n, n_sentences=8)
        start = rng.choice([ng[-1] for ng in counts if ng[-1] != EOS])
        empty = not _greedy(counts, [start], n, max_words)  # `return []` must not earn this one
        cases.append(Case((counts, [start], n, max_words), edge=empty))
    a, b = rng.sample(WORDS, 2)
    loop = count_ngrams(pad([a, b, a, b, a, b, a], 2), 2)  # greedy goes round a → b → a → …
    cases.append(Case((loop, [a], 2, 7)))
    tie = Counter({(BOS, "むかし"): 2, ("むかし", "桃"): 1, ("むかし", "山"): 1, ("山", EOS): 1, ("桃", EOS): 1})
    cases.append(Case((tie, [], 2, 5)))                    # a tie: the alphabetically first word wins
    return cases


@check("greedy_generate", cases=greedy_cases, twin=_MODEL)
def greedy_verify(case: Case, value) -> str | None:
    counts, context, n, max_words = case.args
    what = call_text("greedy_generate", case)
    if (problem := type_problem(value, (list, tuple), what)) is not None:
        return problem
    value = list(value)
    expected = _greedy(counts, context, n, max_words)
    if value == expected:
        return None
    hint = ""
    if value[: len(context)] == list(context) and value[len(context):] == expected:
        hint = more(tr("Return only the new words, without the context you were given.",
                       "与えられた文脈は含めずに、新しく生成した単語だけを返します。"))
    elif EOS in value:
        hint = more(tr(f"Stop when the next word is {EOS!r}, and don't include it.",
                       f"次の単語が {EOS!r} になったら止めます。{EOS!r} は含めません。"))
    elif len(value) > max_words:
        hint = more(tr(f"Generate at most max_words={max_words} words.",
                       f"生成する単語は最大で max_words={max_words} 個です。"))
    elif value == _greedy(counts, context, n, max_words, alphabetical_ties=False):
        hint = more(tr("When two words are equally likely, take the alphabetically first one (min of the tied words).",
                       "回数が同じ単語がいくつかあるときは、辞書順で最初の単語（同点の単語の min）を選びます。"))
    return expected_got(what, show(expected), show(value)) + hint
