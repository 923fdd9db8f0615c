"""The visible self-checks name the classic slips (issue 13): each planted mistake runs the released lesson's own
self-check cell, in both editions, and the message must name the mistake, not a neighbouring one."""

from __future__ import annotations

import math
from collections import Counter

import nbformat
import pytest
import torch
import torch.nn.functional as F

from shikumi import ngram
from shikumi.course import release, selfcheck
from shikumi.course.selfcheck import SelfCheckFailed
from tests.conftest import ROOT, solution_answers


@pytest.fixture(autouse=True)
def english_again():
    yield
    selfcheck.set_language("en")


def check_cell(lesson: str, grade_id: str, lang: str) -> str:
    nb = nbformat.read(str(ROOT / "lessons" / lang / f"{lesson}.ipynb"), as_version=4)
    return next(c.source for c in nb.cells if release.grade_id(c) == f"{grade_id}_check")


def run(lesson: str, grade_id: str, lang: str, **names) -> str | None:
    """The self-check cell of one exercise, with `names` (the learner's answers, what earlier cells made) in
    scope: None when it passes, else its message."""
    selfcheck.set_language(lang)
    scope = {"torch": torch, "math": math, "F": F, "nn": torch.nn, "SEED": 0, "Counter": Counter, "ngram": ngram,
             "expect": selfcheck.expect, "expect_close": selfcheck.expect_close, "expect_shape": selfcheck.expect_shape,
             "explained": selfcheck.explained, "passed": selfcheck.passed, **names}
    try:
        exec(check_cell(lesson, grade_id, lang), scope)
    except SelfCheckFailed as e:
        return str(e)
    return None


BOTH = pytest.mark.parametrize("lang", ["en", "ja"])


def said(message: str | None, lang: str, en: str, ja: str) -> bool:
    return message is not None and (en if lang == "en" else ja) in message


# -- lesson 00 ---------------------------------------------------------------------------------------------------
# expect_close: the value (or the largest difference and where), then the hint that names the slip

L00 = "00_first_neural_network"


@BOTH
def test_mse_divided_by_a_fixed_4_is_told_to_divide_by_the_count(lang):
    """(2² + 0² + 1² + 1²) / 4 passes on the first 4 misses; random numbers (10 of them) catch it."""
    message = run(L00, "mse_loss", lang, mse_loss=lambda pred, target: ((pred - target) ** 2).sum() / 4)
    assert said(message, lang, "F.mse_loss: expected ", "F.mse_loss と比べて）：期待される値は "), message
    assert said(message, lang, "not by 4: here there are 10.", "4 ではなく外れの個数で割ります"), message
    assert run(L00, "mse_loss", lang, mse_loss=solution_answers(L00)["mse_loss"]) is None


@BOTH
def test_cross_entropy_that_takes_every_target_for_every_row_is_named(lang):
    """log_probs[:, targets].mean() passes on all-zero logits and on one row; random logits catch it."""
    message = run(L00, "cross_entropy", lang,
                  cross_entropy=lambda logits, targets: -torch.log_softmax(logits, dim=-1)[:, targets].mean())
    assert said(message, lang, "F.cross_entropy: expected ", "F.cross_entropy と比べて）：期待される値は "), message
    assert said(message, lang, "log_probs[:, targets] takes every target for every row",
                "log_probs[:, targets] はすべての行からすべての正解を取り出します"), message
    assert run(L00, "cross_entropy", lang, cross_entropy=solution_answers(L00)["cross_entropy"]) is None


@BOTH
@pytest.mark.parametrize("forward, en, ja", [
    (lambda self, x: self.out(self.hidden(x)), "a straight line again", "直線に戻ってしまいます"),
    (lambda self, x: self.out(torch.relu(self.hidden(x))).softmax(-1), "not probabilities", "確率ではなくロジット"),
    (lambda self, x: torch.relu(self.out(torch.relu(self.hidden(x)))), "No ReLU after self.out", "self.out のあとには ReLU"),
    (lambda self, x: self.out(torch.sigmoid(self.hidden(x))), "the hidden layer, the ReLU, then", "隠れ層、ReLU、出力層の順"),
])
def test_tiny_mlp_slips_get_the_largest_difference_and_their_hint(lang, forward, en, ja):
    mlp = type("LearnersMLP", (solution_answers(L00)["TinyMLP"],), {"forward": forward})
    message = run(L00, "TinyMLP", lang, TinyMLP=mlp)
    assert said(message, lang, "values differ from the expected ones by up to", "値が期待される値から最大"), message
    assert said(message, lang, en, ja), message
    assert run(L00, "TinyMLP", lang, TinyMLP=solution_answers(L00)["TinyMLP"]) is None


# -- lesson 01 ---------------------------------------------------------------------------------------------------

def count_off_by_one(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n))


@BOTH
def test_count_ngrams_off_by_one_is_told_the_last_window_is_missing(lang):
    message = run("01_ngram", "count_ngrams", lang, count_ngrams=count_off_by_one)
    assert said(message, lang, "The last window (むかし, ある) is missing", "最後の窓（むかし, ある）が抜けています"), message
    assert run("01_ngram", "count_ngrams", lang, count_ngrams=ngram.count_ngrams) is None


def _toy_bigrams():
    nb = release.read_source(release.source_path("01_ngram"))
    scope = {"ngram": ngram, "Counter": Counter, "count_ngrams": ngram.count_ngrams}
    for cell in nb.cells:
        if cell.cell_type == "code" and ("toy = [" in cell.source or "def count_corpus" in cell.source):
            exec(cell.source, scope)
    return scope["toy_bigrams"]


def greedy(counts, context, n, max_words=20, tie="min"):
    words, out = [ngram.BOS] * (n - 1) + list(context), []
    for _ in range(max_words):
        last = tuple(words[len(words) - (n - 1):])
        following = {g[-1]: c for g, c in counts.items() if g[:-1] == last}
        if not following:
            break
        if tie == "min":
            word = min(following, key=lambda w: (-following[w], w))
        elif tie == "first":
            word = max(following, key=following.get)           # whichever the Counter lists first
        else:
            word = max(following, key=lambda w: (following[w], w))  # the alphabetically last
        if word == ngram.EOS:
            break
        words.append(word)
        out.append(word)
    return out


@BOTH
@pytest.mark.parametrize("tie, en, ja", [
    ("first", "not whichever the Counter lists first", "Counter が先に並べた単語"),
    ("last", "おじいさん and おばあさん tie", "「おじいさん」と「おばあさん」が同点"),
])
def test_greedy_tie_breaks_are_self_checked(lang, tie, en, ja):
    bigrams = _toy_bigrams()
    message = run("01_ngram", "greedy_generate", lang, toy_bigrams=bigrams,
                  greedy_generate=lambda *a, **k: greedy(*a, **k, tie=tie))
    assert said(message, lang, en, ja), message
    assert run("01_ngram", "greedy_generate", lang, toy_bigrams=bigrams, greedy_generate=greedy) is None


# -- lesson 02 ---------------------------------------------------------------------------------------------------

def softmax(x, dim=-1):
    return solution_answers("02_attention")["softmax"](x, dim=dim)


def softmax_without_keepdim(x, dim=-1):
    e = torch.exp(x - x.max(dim=dim).values)
    return e / e.sum(dim=dim)


@BOTH
def test_softmax_without_keepdim_is_caught_by_its_own_self_check(lang):
    message = run("02_attention", "softmax", lang, softmax=softmax_without_keepdim)
    assert said(message, lang, "Without keepdim=True", "keepdim=True がないと"), message
    assert run("02_attention", "softmax", lang, softmax=softmax) is None


def softmax_keepdim_on_sum_only(x, dim=-1):
    e = torch.exp(x - x.max(dim=dim).values)
    return e / e.sum(dim=dim, keepdim=True)


def test_softmax_without_keepdim_on_max_raises_with_a_sentence_on_keepdim():
    with pytest.raises(RuntimeError) as info:
        run("02_attention", "softmax", "en", softmax=softmax_keepdim_on_sum_only)
    assert "keepdim=True" in selfcheck.explain(type(info.value).__name__, str(info.value), "en")


def weights(q, k, mask=None, scale="sqrt"):
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / {"sqrt": math.sqrt(d), "d": d}[scale]
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return softmax(scores, dim=-1)


@BOTH
def test_dividing_by_d_is_told_sqrt_d_not_d(lang):
    message = run("02_attention", "attention_weights", lang, softmax=softmax,
                  attention_weights=lambda q, k, mask=None: weights(q, k, mask, scale="d"))
    assert said(message, lang, "by √d, not by d", "d ではなく √d で割ります"), message
    assert run("02_attention", "attention_weights", lang, softmax=softmax, attention_weights=weights) is None


def split_heads(x, n_head):
    return solution_answers("02_attention")["split_heads"](x, n_head)


@BOTH
@pytest.mark.parametrize("wrong, en, ja", [
    (lambda x, n: x.view(x.size(0), n, x.size(1), x.size(2) // n), "A plain view(B, n_head, T, head_dim)",
     "いきなり view(B, n_head, T, head_dim) にすると"),
    (lambda x, n: x.view(x.size(0), x.size(1), n, x.size(2) // n), "swap the T and n_head axes", "T と n_head の軸を入れ替えます"),
])
def test_split_heads_mistakes_meet_their_hint_first(lang, wrong, en, ja):
    message = run("02_attention", "split_heads", lang, split_heads=wrong)
    assert said(message, lang, en, ja), message
    assert run("02_attention", "split_heads", lang, split_heads=split_heads) is None


# -- lesson 04 ---------------------------------------------------------------------------------------------------

@BOTH
def test_a_prompt_exactly_block_size_long_is_self_checked(lang):
    from autograder.checks.l04_gpt import reference_prompt  # strict=True: the mistake, `<` for `<=`

    message = run("04_gpt", "build_chat_prompt", lang, build_chat_prompt=lambda *a: reference_prompt(*a, strict=True))
    assert said(message, lang, "use <=, not <", "< ではなく <= を使えば"), message
    right = solution_answers("04_gpt")["build_chat_prompt"]
    assert run("04_gpt", "build_chat_prompt", lang, build_chat_prompt=right) is None


# -- lesson 06 ---------------------------------------------------------------------------------------------------

def pool(hidden, tokens, pad_id=0, minus_one=True):
    last = (tokens != pad_id).sum(dim=1) - (1 if minus_one else 0)
    return hidden[torch.arange(hidden.size(0)), last]


@BOTH
def test_pool_at_eot_without_minus_one_is_told_off_by_one_not_an_index_error(lang):
    message = run("06_clip", "pool_at_eot", lang, pool_at_eot=lambda *a, **k: pool(*a, **k, minus_one=False))
    assert said(message, lang, "Off by one", "1 つずれています"), message
