"""autograder.checks.l01_ngram: the solution's own answers pass every case, and classic mistakes get their hint.

What a learner's function returns reaches verify() only after a trip through autograder.plain (encode in
the kernel, JSON on disk, decode in the grader), and the inputs make the same trip the other way, so every
call here goes through `round_trip` too.
"""

from __future__ import annotations

import functools
import math
import random
from collections import Counter

import pytest

from autograder.checks import Case, close, for_lesson
from autograder.checks import l01_ngram as l01
from shikumi.ngram import BOS, EOS, conditional_prob, count_ngrams, pad
from tests.conftest import round_trip, run_check, solution_answers

LESSON = "01_ngram"
CHECKS = for_lesson(LESSON)
SEEDS = range(6)


run = functools.partial(run_check, LESSON)

# -- the one reference answer of each exercise: the solution's own (solutions/01_ngram.py) ---------------

ANSWERS = solution_answers(LESSON)
ref_smoothed, ref_logprob, ref_greedy = (ANSWERS[g] for g in ("smoothed_prob", "sentence_logprob", "greedy_generate"))


def same(a, b) -> bool:
    if isinstance(b, float):
        return isinstance(a, (int, float)) and close(a, b)
    if isinstance(b, dict):
        return isinstance(a, dict) and dict(a) == dict(b)
    return list(a) == list(b) if isinstance(b, list) else a == b


def expect_hint(name, wrong, hint, applies=lambda case, ref: True, min_hits=1):
    """Every case that `wrong` gets wrong fails; where `applies`, its message contains `hint`."""
    hits = 0
    for seed in SEEDS:
        for case, value, message in run(name, wrong, seed):
            ref = ANSWERS[name](*round_trip(case.args))
            if message is None:
                assert same(value, ref), f"verify accepted a wrong answer: {case.args} → {value!r}, not {ref!r}"
                continue
            assert not same(value, ref), f"verify rejected a right answer: {message}"
            assert isinstance(message, str) and message
            if applies(case, ref):
                assert hint in message, message
                hits += 1
    assert hits >= min_hits, f"no case triggered the hint {hint!r}"


# -- the registry and the cases -----------------------------------------------------------------------

def test_unknown_lesson_raises_lookup_error():
    with pytest.raises(LookupError, match="no hidden checks"):
        for_lesson("99_nothing")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_cases_are_seeded_plain_data(name):
    check = CHECKS[name]
    first = check.cases(random.Random(3))
    again = check.cases(random.Random(3))
    assert first == again and len(first) >= 4
    assert all(isinstance(c, Case) for c in first)
    # other seeds give other inputs, so answers cannot be hard-coded
    assert any(check.cases(random.Random(s)) != first for s in range(4, 10))
    for case in first:
        assert round_trip(case.args) == case.args


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_solution_passes(name, seed):
    for case, _value, message in run(name, ANSWERS[name], seed):
        assert message is None, f"{case.args}: {message}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_returning_none_asks_for_return(name):
    for case, _value, message in run(name, lambda *args: None, 0):
        assert message is not None and "return" in message, (case, message)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_returning_a_function_is_reported(name):
    for _case, _value, message in run(name, lambda *args: (lambda: 0), 0):
        assert message is not None and "function" in message


def test_the_checks_helpers_agree_with_the_solution():
    # the check module computes its right answers itself, in the grader: they are the solution's
    for seed in SEEDS:
        for case in CHECKS["smoothed_prob"].cases(random.Random(seed)):
            assert close(l01._smoothed(*case.args), ref_smoothed(*case.args))
        for case in CHECKS["sentence_logprob"].cases(random.Random(seed)):
            assert close(l01._logprob(*case.args), ref_logprob(*case.args))
        for case in CHECKS["greedy_generate"].cases(random.Random(seed)):
            assert l01._greedy(*case.args) == ref_greedy(*case.args)


# -- 1.1 count_ngrams -------------------------------------------------------------------------------------

def test_count_off_by_one():
    def wrong(tokens, n):
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n))

    expect_hint("count_ngrams", wrong, "range(len(tokens) - n + 1)", min_hits=SEEDS.stop * 4)


def test_count_string_keys():
    def wrong(tokens, n):
        return Counter(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    expect_hint("count_ngrams", wrong, "Use tuple(tokens[i:i+n])")


def test_count_keys_of_the_wrong_length():
    def wrong(tokens, n):
        return Counter(tuple(tokens[i : i + n - 1]) for i in range(len(tokens) - n + 1))

    expect_hint("count_ngrams", wrong, "every key should hold n=")


def test_count_wrong_counts():
    def wrong(tokens, n):
        return Counter({k: 2 * v for k, v in count_ngrams(tokens, n).items()})

    expect_hint("count_ngrams", wrong, "should be counted")


def test_count_returns_a_list():
    def wrong(tokens, n):
        return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]

    expect_hint("count_ngrams", wrong, "Return a Counter (or dict)")


def test_count_plain_dict_and_zero_entries_accepted():
    def fine(tokens, n):
        counts = dict(count_ngrams(tokens, n))
        counts[("never",) * n] = 0
        return counts

    for seed in SEEDS:
        assert all(message is None for _c, _v, message in run("count_ngrams", fine, seed))


def test_count_extra_ngrams_get_a_message():
    def wrong(tokens, n):  # pads the tokens itself: every true n-gram is there, plus <s>/</s> ones
        return count_ngrams(pad(tokens, n), n)

    for seed in SEEDS:
        for _case, _value, message in run("count_ngrams", wrong, seed):
            assert isinstance(message, str) and message


def test_count_dedup_is_not_called_off_by_one():
    # a b a b c: (a,b) 2, (b,a) 1, (b,c) 1. Counting each distinct bigram once gives 3 of 4, but the last
    # bigram (b, c) is there: the problem is the repeated (a, b), not the range.
    case = Case((["a", "b", "a", "b", "c"], 2))
    value = round_trip(Counter(set(count_ngrams(["a", "b", "a", "b", "c"], 2))))
    message = l01.count_verify(case, value)
    assert message is not None
    assert "last one is missing" not in message


# -- 1.2 conditional_prob -----------------------------------------------------------------------------------

def _joint(case):
    counts, ctx, word = case.args
    return counts[tuple(ctx) + (word,)]


def test_cond_divides_by_all_ngrams():
    def wrong(counts, ctx, word):
        return counts[tuple(ctx) + (word,)] / sum(counts.values())

    expect_hint("conditional_prob", wrong, "instead of C(context)", min_hits=SEEDS.stop * 2)


def test_cond_returns_the_count():
    def wrong(counts, ctx, word):
        return float(counts[tuple(ctx) + (word,)])

    expect_hint("conditional_prob", wrong, "never above 1", applies=lambda case, ref: _joint(case) > 1)


def test_cond_divides_by_the_word_count():
    def word_count(counts, word):
        return sum(c for ng, c in counts.items() if ng[-1] == word)

    def wrong(counts, ctx, word):
        return counts[tuple(ctx) + (word,)] / max(1, word_count(counts, word))

    def applies(case, ref):
        counts, ctx, word = case.args
        joint = _joint(case)
        return joint > 0 and not close(joint / sum(counts.values()), joint / word_count(counts, word))

    expect_hint("conditional_prob", wrong, "count of the word instead of the count of the context", applies=applies)


def test_cond_returns_a_string():
    for _case, _value, message in run("conditional_prob", lambda *a: "0.5", 0):
        assert message is not None and "expected a float" in message


def test_cond_returns_a_bool():
    for _case, _value, message in run("conditional_prob", lambda *a: True, 0):
        assert message is not None and "expected a float" in message


def test_cond_int_zero_is_accepted_for_unseen():
    # an int 0 is a fine probability when the context or word was never seen
    def fine(counts, ctx, word):
        p = conditional_prob(counts, ctx, word)
        return 0 if p == 0 else p

    for seed in SEEDS:
        assert all(message is None for _c, _v, message in run("conditional_prob", fine, seed))


def test_cond_unseen_context_crash_value():
    # guessing 1.0 for an unseen context is wrong: the answer is 0.0
    def wrong(counts, ctx, word):
        total = sum(c for ng, c in counts.items() if ng[:-1] == tuple(ctx))
        return counts[tuple(ctx) + (word,)] / total if total else 1.0

    messages = [m for seed in SEEDS for _c, _v, m in run("conditional_prob", wrong, seed)]
    assert sum(m is not None for m in messages) == len(SEEDS)  # exactly the unseen-context case, each seed
    assert all("expected 0, got 1" in m for m in messages if m)


# -- 1.3 smoothed_prob ------------------------------------------------------------------------------------

def _ctx_count(counts, ctx):
    return sum(c for ng, c in counts.items() if ng[:-1] == tuple(ctx))


def test_smoothed_forgets_kV():
    def wrong(counts, ctx, word, k, vocab_size):
        return (counts[tuple(ctx) + (word,)] + k) / (_ctx_count(counts, ctx) + k)

    expect_hint("smoothed_prob", wrong, "k once for every word of the vocabulary: C(context) + k·V",
                min_hits=SEEDS.stop * 3)


def test_smoothed_forgets_to_multiply_V_by_k():
    def wrong(counts, ctx, word, k, vocab_size):
        return (counts[tuple(ctx) + (word,)] + k) / (_ctx_count(counts, ctx) + vocab_size)

    expect_hint("smoothed_prob", wrong, "did you forget to multiply V by k?", min_hits=SEEDS.stop * 2)


def test_smoothed_unseen_context_is_one_over_V():
    # the case with an unseen context: (0 + k) / (0 + k·V) = 1/V, not 0
    def wrong(counts, ctx, word, k, vocab_size):
        return 0.0 if _ctx_count(counts, ctx) == 0 else ref_smoothed(counts, ctx, word, k, vocab_size)

    messages = [m for seed in SEEDS for _c, _v, m in run("smoothed_prob", wrong, seed)]
    assert sum(m is not None for m in messages) == len(SEEDS)


# -- 1.4 sentence_logprob ---------------------------------------------------------------------------------

def _logprob_variant(counts, sentence, n, log=math.log, padded=True, end=True, skip_zero=False):
    tokens = pad(sentence, n) if padded else list(sentence)
    if padded and not end:
        tokens = tokens[:-1]
    total = 0.0
    for i in range(n - 1, len(tokens)):
        p = conditional_prob(counts, tokens[i - n + 1 : i], tokens[i])
        if p == 0:
            if skip_zero:
                continue
            return -math.inf
        total += log(p)
    return total


def _finite_nonzero(case, ref):
    return math.isfinite(ref) and ref != 0


def test_logprob_log10():
    def wrong(counts, sentence, n):
        return _logprob_variant(counts, sentence, n, log=math.log10)

    expect_hint("sentence_logprob", wrong, "log10", applies=_finite_nonzero, min_hits=SEEDS.stop)


def test_logprob_returns_the_probability():
    def wrong(counts, sentence, n):
        return math.exp(ref_logprob(counts, sentence, n))

    expect_hint("sentence_logprob", wrong, "not the product", applies=_finite_nonzero, min_hits=SEEDS.stop)


def test_logprob_forgets_the_end_marker():
    def wrong(counts, sentence, n):
        return _logprob_variant(counts, sentence, n, end=False)

    def applies(case, ref):
        return math.isfinite(ref) and not close(wrong(*case.args), _logprob_variant(*case.args, log=math.log10))

    expect_hint("sentence_logprob", wrong, "The end marker '</s>'", applies=applies, min_hits=SEEDS.stop)


def test_logprob_forgets_to_pad():
    def wrong(counts, sentence, n):
        return _logprob_variant(counts, sentence, n, padded=False)

    def applies(case, ref):
        value = wrong(*case.args)
        others = (_logprob_variant(*case.args, log=math.log10), math.exp(ref),
                  _logprob_variant(*case.args, end=False))
        return math.isfinite(ref) and not any(close(value, o) for o in others)

    expect_hint("sentence_logprob", wrong, "Start from the padded sentence", applies=applies)


def test_logprob_impossible_sentence_must_be_minus_inf():
    def wrong(counts, sentence, n):
        return _logprob_variant(counts, sentence, n, skip_zero=True)

    expect_hint("sentence_logprob", wrong, "return -math.inf", applies=lambda case, ref: math.isinf(ref),
                min_hits=SEEDS.stop)


# -- 1.5 greedy_generate ----------------------------------------------------------------------------------

def _greedy_variant(counts, context, n, max_words, with_context=False, with_eos=False, extra=0,
                    first_seen_ties=False):
    words, out = [BOS] * (n - 1) + list(context), []
    for _ in range(max_words + extra):
        ctx = tuple(words[len(words) - (n - 1) :]) if n > 1 else ()
        following = {ng[-1]: c for ng, c in counts.items() if ng[:-1] == ctx}
        if not following:
            break
        if first_seen_ties:
            word = max(following, key=following.get)
        else:
            word = min(following, key=lambda w: (-following[w], w))
        if word == EOS:
            if with_eos:
                out.append(word)
            break
        words.append(word)
        out.append(word)
    return list(context) + out if with_context else out


def test_greedy_includes_the_context():
    def wrong(counts, context, n, max_words):
        return _greedy_variant(counts, context, n, max_words, with_context=True)

    expect_hint("greedy_generate", wrong, "without the context", min_hits=SEEDS.stop * 4)


def test_greedy_includes_the_end_marker():
    def wrong(counts, context, n, max_words):
        return _greedy_variant(counts, context, n, max_words, with_eos=True)

    expect_hint("greedy_generate", wrong, "Stop when the next word is '</s>'", min_hits=SEEDS.stop)


def test_greedy_one_word_too_many():
    def wrong(counts, context, n, max_words):
        return _greedy_variant(counts, context, n, max_words, extra=1)

    def applies(case, ref):
        # not when the extra word happens to equal the context (a → a → a …): that reads as "with the context"
        context = case.args[1]
        value = wrong(*case.args)
        return not (value[: len(context)] == list(context) and value[len(context) :] == ref)

    expect_hint("greedy_generate", wrong, "at most max_words=", applies=applies, min_hits=SEEDS.stop)


def test_greedy_ties_by_first_seen():
    def wrong(counts, context, n, max_words):
        return _greedy_variant(counts, context, n, max_words, first_seen_ties=True)

    expect_hint("greedy_generate", wrong, "alphabetically first", min_hits=SEEDS.stop)


def test_greedy_tuple_is_accepted():
    for seed in SEEDS:
        assert all(m is None for _c, _v, m in run("greedy_generate", lambda *a: tuple(ref_greedy(*a)), seed))


def test_greedy_string_is_a_type_problem():
    for _case, _value, message in run("greedy_generate", lambda *a: " ".join(ref_greedy(*a)), 0):
        assert message is not None and "expected a list or tuple" in message


@pytest.mark.parametrize("seed", range(50))
def test_a_constant_answer_earns_nothing(seed):
    """Cases whose right answer is trivial (0.0, 1.0, [], {}) are edge cases: they count only beside a real one."""
    import random

    constants = {"count_ngrams": [{}], "conditional_prob": [0.0, 1.0], "smoothed_prob": [0.0, 1.0],
                 "sentence_logprob": [0.0, float("-inf")], "greedy_generate": [[]]}
    for gid, values in constants.items():
        check = CHECKS[gid]
        cases = check.cases(random.Random(seed))
        main = [c for c in cases if not c.edge]
        assert main, gid
        for value in values:
            assert all(check.verify(c, value) is not None for c in main), (gid, value)
