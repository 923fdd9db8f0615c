"""autograder.checks.l09_tokens: the solution's own answers pass every case, and classic beginner mistakes get their hint.

As in test_checks_l01, every input and every returned value makes the trip through autograder.plain first
(`round_trip`), as it does between the learner's kernel and the grader.
"""

from __future__ import annotations

import functools
import random
from collections import Counter

import pytest

from autograder.checks import Case, for_lesson
from autograder.checks import l09_tokens as l09
from shikumi import bpe
from tests.conftest import round_trip, run_check, solution_answers

LESSON = "09_tokens"
CHECKS = for_lesson(LESSON)
SEEDS = range(6)
run = functools.partial(run_check, LESSON)

# -- the one reference answer of each exercise: the solution's own (solutions/09_tokens.py) -----------------

ANSWERS = solution_answers(LESSON)
ref_merge = ANSWERS["merge"]


def expect_hint(name, wrong, hint, applies=lambda case: True, min_hits=1):
    """Every case that `wrong` gets wrong fails; where `applies`, its message contains `hint`."""
    hits = 0
    for seed in SEEDS:
        for case, value, message in run(name, wrong, seed):
            right = round_trip(ANSWERS[name](*round_trip(case.args)))
            if message is None:
                assert value == right, f"verify accepted a wrong answer: {case.args} → {value!r}, not {right!r}"
                continue
            assert value != right or isinstance(right, dict) and list(value) != list(right), \
                f"verify rejected a right answer: {message}"
            if applies(case):
                assert hint in message, message
                hits += 1
    assert hits >= min_hits, f"no case triggered the hint {hint!r}"


# -- the registry and the cases --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CHECKS))
def test_cases_are_seeded_plain_data(name):
    check = CHECKS[name]
    first = check.cases(random.Random(3))
    assert first == check.cases(random.Random(3)) and len(first) >= 4
    assert all(isinstance(c, Case) for c in first)
    assert any(check.cases(random.Random(s)) != first for s in range(4, 10))   # answers cannot be hard-coded
    for case in first:
        assert round_trip(case.args) == case.args
    # the number and kind of cases do not depend on the seed: partial credit is a fraction of them
    assert [c.edge for c in first] == [c.edge for c in check.cases(random.Random(99))]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_solution_passes(name, seed):
    for case, _value, message in run(name, ANSWERS[name], seed):
        assert message is None, f"{case.args}: {message}"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_library_answers_pass_too(seed):
    for name, library in (("count_pairs", bpe.count_pairs), ("merge", bpe.merge),
                          ("learn_merges", bpe.learn_merges)):
        for _case, _value, message in run(name, library, seed):
            assert message is None
    for _case, _value, message in run("encode", lambda text, merges: bpe.encode_ids(text.encode(), merges), seed):
        assert message is None


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_returning_none_asks_for_return(name):
    for case, _value, message in run(name, lambda *args: None, 0):
        assert message is not None and "return" in message, (case, message)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_returning_a_function_is_reported(name):
    for _case, _value, message in run(name, lambda *args: (lambda: 0), 0):
        assert message is not None and "function" in message


@pytest.mark.parametrize("seed", range(30))
def test_a_constant_answer_earns_nothing(seed):
    """Cases whose right answer is trivial ({}, [], the input itself) are edge cases: they count only beside a
    real one."""
    constants = {"count_pairs": [{}, Counter()], "merge": [[]], "learn_merges": [{}], "encode": [[]]}
    for gid, values in constants.items():
        check = CHECKS[gid]
        main = [c for c in check.cases(random.Random(seed)) if not c.edge]
        assert main, gid
        for value in values:
            assert all(check.verify(c, value) is not None for c in main), (gid, value)
    merge = CHECKS["merge"]
    main = [c for c in merge.cases(random.Random(seed)) if not c.edge]
    assert all(merge.verify(c, list(c.args[0])) is not None for c in main)      # "return ids" earns nothing


# -- 9.1 count_pairs --------------------------------------------------------------------------------------------

def test_count_steps_by_two():
    expect_hint("count_pairs", lambda ids: Counter(zip(ids[::2], ids[1::2])), "one step at a time, not two",
                min_hits=len(SEEDS) * 3)


def test_count_misses_the_last_pair():
    def wrong(ids):
        return Counter((ids[i], ids[i + 1]) for i in range(len(ids) - 2))

    expect_hint("count_pairs", wrong, "The last pair", applies=lambda case: len(case.args[0]) > 2,
                min_hits=len(SEEDS) * 4)


def test_count_misses_the_first_pair():
    expect_hint("count_pairs", lambda ids: Counter(zip(ids[1:], ids[2:])), "The first pair",
                applies=lambda case: len(case.args[0]) > 2 and bpe.count_pairs(case.args[0][:-1])
                != bpe.count_pairs(case.args[0][1:]))


def test_count_each_pair_once():
    expect_hint("count_pairs", lambda ids: Counter(set(zip(ids, ids[1:]))), "Count every occurrence",
                min_hits=len(SEEDS) * 3)


def test_count_wraps_around():
    expect_hint("count_pairs", lambda ids: Counter(zip(ids, ids[1:] + ids[:1])), "no right-hand neighbour",
                applies=lambda case: len(case.args[0]) > 1)


def test_count_pairs_the_wrong_way_round():
    expect_hint("count_pairs", lambda ids: Counter(zip(ids[1:], ids)), "the wrong way round",
                applies=lambda case: len(case.args[0]) > 1)


def test_count_string_keys():
    def wrong(ids):
        return Counter(f"{a},{b}" for a, b in zip(ids, ids[1:]))

    expect_hint("count_pairs", wrong, "a tuple like", applies=lambda case: len(case.args[0]) > 1)


def test_count_returns_a_list():
    expect_hint("count_pairs", lambda ids: list(zip(ids, ids[1:])), "Return a Counter (or dict)")


# -- 9.2 merge --------------------------------------------------------------------------------------------------

def test_merge_does_not_skip_the_second_id():
    def wrong(ids, pair, new_id):
        return l09._merge_variant(ids, pair, new_id, step_after_merge=1)

    expect_hint("merge", wrong, "jump over both ids", min_hits=len(SEEDS) * 3)


def test_merge_only_the_first():
    def wrong(ids, pair, new_id):
        ids = list(ids)
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == tuple(pair):
                return ids[:i] + [new_id] + ids[i + 2:]
        return ids

    expect_hint("merge", wrong, "not only the first", min_hits=len(SEEDS) * 3)


def test_merge_drops_the_last_id():
    def wrong(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == tuple(pair):
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out

    expect_hint("merge", wrong, "The last id is missing", min_hits=len(SEEDS))


def test_merge_right_to_left():
    def wrong(ids, pair, new_id):
        return l09._merge_variant(ids, pair, new_id, right_to_left=True)

    expect_hint("merge", wrong, "left to right", min_hits=len(SEEDS))


def test_merge_keeps_the_length():
    def wrong(ids, pair, new_id):  # each id of the pair replaced, the pair not joined
        out = list(ids)
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == tuple(pair):
                out[i] = out[i + 1] = new_id
        return out

    expect_hint("merge", wrong, "ONE id", min_hits=len(SEEDS) * 3)


def test_merge_compares_lists_with_tuples():
    def wrong(ids, pair, new_id):  # [a, b] == (a, b) is False in Python: nothing is ever merged
        return [x for x in ids] if [ids[:2]] == [pair] else list(ids)

    expect_hint("merge", wrong, "Nothing was replaced", min_hits=len(SEEDS) * 4)


def test_merge_returns_strings():
    expect_hint("merge", lambda ids, pair, new_id: [str(i) for i in bpe.merge(ids, pair, new_id)],
                "should be an int", applies=lambda case: bool(case.args[0]))


def test_merge_tuple_is_accepted():
    for seed in SEEDS:
        assert all(m is None for _c, _v, m in run("merge", lambda *a: tuple(ref_merge(*a)), seed))


# -- 9.3 learn_merges -------------------------------------------------------------------------------------------

def test_learn_ties_by_first_seen():
    expect_hint("learn_merges", lambda ids, n: l09._learn_variant(ids, n, ties="first"), "the smallest pair",
                min_hits=len(SEEDS))


def test_learn_ties_by_largest_pair():
    expect_hint("learn_merges", lambda ids, n: l09._learn_variant(ids, n, ties="largest"), "the smallest pair",
                min_hits=len(SEEDS))


def test_learn_ids_from_zero():
    expect_hint("learn_merges", lambda ids, n: l09._learn_variant(ids, n, first_id=0), "count up from 256",
                applies=lambda case: case.args[1] > 0 and len(case.args[0]) > 1, min_hits=len(SEEDS) * 4)


def test_learn_forgets_to_apply_the_merge():
    expect_hint("learn_merges", lambda ids, n: l09._learn_variant(ids, n, apply=False), "go on with the merged ids",
                applies=lambda case: case.args[1] > 1 and len(case.args[0]) > 2, min_hits=len(SEEDS) * 3)


def test_learn_one_merge_too_many():
    expect_hint("learn_merges", lambda ids, n: l09._learn_variant(ids, n, extra=1), "exactly num_merges",
                min_hits=len(SEEDS) * 3)


def test_learn_returns_a_list_of_pairs():
    expect_hint("learn_merges", lambda ids, n: list(bpe.learn_merges(ids, n)), "return a dict {pair: new id}",
                applies=lambda case: bool(bpe.learn_merges(*case.args)))


def test_learn_merges_out_of_order():
    def wrong(ids, n):
        return dict(sorted(bpe.learn_merges(ids, n).items()))

    expect_hint("learn_merges", wrong, "not in the order learnt",
                applies=lambda case: list(bpe.learn_merges(*case.args)) != sorted(bpe.learn_merges(*case.args)))


# -- 9.4 encode -------------------------------------------------------------------------------------------------

def _has_wide_char(case):
    return any(ord(c) > 255 for c in case.args[0])


def test_encode_from_characters():
    expect_hint("encode", lambda text, merges: l09._encode_variant(text, merges, start="chars"),
                "Start from the UTF-8 bytes", applies=_has_wide_char, min_hits=len(SEEDS))


def test_encode_forgets_the_merges():
    expect_hint("encode", lambda text, merges: list(text.encode("utf-8")), "now replay the merges",
                applies=lambda case: bpe.encode_ids(case.args[0].encode(), case.args[1]) != list(case.args[0].encode()),
                min_hits=len(SEEDS) * 3)


def test_encode_backwards():
    def applies(case):
        text, merges = case.args
        return (l09._encode_variant(text, merges, order=-1) != l09._encode_variant(text, merges, passes=1)
                and l09._encode_variant(text, merges, order=-1) != list(text.encode()))

    expect_hint("encode", lambda text, merges: l09._encode_variant(text, merges, order=-1), "not backwards",
                applies=applies, min_hits=len(SEEDS))


def test_encode_stops_after_one_merge():
    def applies(case):
        return l09._encode_variant(*case.args, passes=1) != list(case.args[0].encode())

    expect_hint("encode", lambda text, merges: l09._encode_variant(text, merges, passes=1), "replay every merge",
                applies=applies, min_hits=len(SEEDS) * 2)


def test_encode_returns_bytes():
    for _case, _value, message in run("encode", lambda text, merges: text.encode("utf-8"), 0):
        assert message is not None and ("bytes" in message or "return" in message)


def test_encode_returns_pieces_of_text():
    def wrong(text, merges):
        tok = bpe.BPETokenizer(merges)
        return [tok.piece(i) for i in bpe.encode_ids(text.encode(), merges)]

    expect_hint("encode", wrong, "should be an int", applies=lambda case: bool(case.args[0]))
