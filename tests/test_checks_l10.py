"""autograder.checks.l10_chatgpt: the solution's own answers pass every case, and classic beginner mistakes get their hint.

As in test_checks_l09, every input and every returned value makes the trip through autograder.plain first
(`round_trip`), as it does between the learner's kernel and the grader.
"""

from __future__ import annotations

import functools
import random

import pytest
import torch
import torch.nn.functional as F

from autograder.checks import Case, for_lesson
from shikumi import finetune, preference
from tests.conftest import round_trip, run_check, solution_answers

LESSON = "10_chatgpt"
CHECKS = for_lesson(LESSON)
SEEDS = range(5)
IGNORE = -100
run = functools.partial(run_check, LESSON)

# -- the one reference answer of each exercise: the solution's own (solutions/10_chatgpt.py) ----------------

ANSWERS = solution_answers(LESSON)
ref_masking, ref_logprob, ref_reward, ref_dpo = (ANSWERS[g] for g in CHECKS)

LIBRARY = {"sft_inputs_and_targets": finetune.sft_inputs_and_targets, "sequence_logprob": finetune.sequence_logprob,
           "reward_model_loss": preference.reward_model_loss, "dpo_loss": preference.dpo_loss}


def expect_hint(name, wrong, hint, applies=lambda case: not case.edge, min_hits=1):
    """Every main case that `wrong` gets wrong fails; where `applies`, its message contains `hint`."""
    hits = 0
    for seed in SEEDS:
        for case, _value, message in run(name, wrong, seed):
            if applies(case):
                assert message is not None, f"verify accepted a wrong answer on {case.args}"
                assert hint in message, message
                hits += 1
    assert hits >= min_hits, f"no case triggered the hint {hint!r}"


# -- the registry and the cases --------------------------------------------------------------------------------

def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if torch.is_tensor(a):
        return torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_cases_are_seeded_plain_data(name):
    check = CHECKS[name]
    first = check.cases(random.Random(3))
    assert _same([c.args for c in first], [c.args for c in check.cases(random.Random(3))]) and len(first) >= 4
    assert all(isinstance(c, Case) for c in first)
    assert any(not _same([c.args for c in check.cases(random.Random(s))], [c.args for c in first])
               for s in range(4, 10))                             # answers cannot be hard-coded
    for case in first:
        assert _same(round_trip(case.args), case.args)
    # the number and kind of cases do not depend on the seed: partial credit is a fraction of them
    assert [c.edge for c in first] == [c.edge for c in check.cases(random.Random(99))]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_solution_and_library_answers_pass(name, seed):
    for impl in (ANSWERS[name], LIBRARY[name]):
        for case, _value, message in run(name, impl, seed):
            assert message is None, f"{case.args}: {message}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_returning_none_asks_for_return(name):
    for case, _value, message in run(name, lambda *args, **kwargs: None, 0):
        assert message is not None and "return" in message, (case, message)


@pytest.mark.parametrize("seed", range(10))
def test_a_constant_answer_earns_nothing(seed):
    """log 2 is the loss of every edge case of the two losses (no preference): it must not pass a main case."""
    for gid in ("reward_model_loss", "dpo_loss"):
        check = CHECKS[gid]
        main = [c for c in check.cases(random.Random(seed)) if not c.edge]
        assert main and all(check.verify(c, torch.tensor(0.6931472)) is not None for c in main)
        edge = [c for c in check.cases(random.Random(seed)) if c.edge]
        assert all(check.verify(c, torch.tensor(0.6931472)) is None for c in edge)


# -- 10.1 sft_inputs_and_targets ---------------------------------------------------------------------------------

def _long_prompt(case):
    return not case.edge


def test_masking_swapped():
    def wrong(prompt, answer):
        x, y = ref_masking(prompt, answer)
        y = torch.tensor(prompt + answer)[1:].clone()
        y[len(prompt) - 1:] = IGNORE
        return x, y

    expect_hint("sft_inputs_and_targets", wrong, "You masked the answer", min_hits=len(SEEDS) * 4)


def test_masking_one_too_many():
    def wrong(prompt, answer):
        x, _ = ref_masking(prompt, answer)
        y = torch.tensor(prompt + answer)[1:].clone()
        y[: len(prompt)] = IGNORE
        return x, y

    expect_hint("sft_inputs_and_targets", wrong, "One target too many", min_hits=len(SEEDS) * 4)


def test_masking_one_too_few():
    def wrong(prompt, answer):
        x, _ = ref_masking(prompt, answer)
        y = torch.tensor(prompt + answer)[1:].clone()
        y[: max(0, len(prompt) - 2)] = IGNORE
        return x, y

    expect_hint("sft_inputs_and_targets", wrong, "One prompt token is still a target", min_hits=len(SEEDS) * 4)


def test_masking_with_zero():
    def wrong(prompt, answer):
        x, y = ref_masking(prompt, answer)
        return x, torch.where(y == IGNORE, 0, y)

    expect_hint("sft_inputs_and_targets", wrong, "Mask with IGNORE = -100", min_hits=len(SEEDS) * 4)


def test_masking_forgotten():
    expect_hint("sft_inputs_and_targets", lambda p, a: (torch.tensor(p + a)[:-1], torch.tensor(p + a)[1:]),
                "Nothing is masked", min_hits=len(SEEDS) * 4)


def test_masking_without_the_shift():
    def wrong(prompt, answer):
        ids = torch.tensor(prompt + answer)
        y = ids.clone()
        y[: len(prompt)] = IGNORE
        return ids, y

    expect_hint("sft_inputs_and_targets", wrong, "Shift by one", applies=lambda case: True, min_hits=len(SEEDS) * 5)


def test_masking_shifted_the_wrong_way():
    def wrong(prompt, answer):
        ids = torch.tensor(prompt + answer)
        y = ids[:-1].clone()
        y[: len(prompt) - 1] = IGNORE
        return ids[1:], y

    expect_hint("sft_inputs_and_targets", wrong, "shifted the wrong way", applies=lambda case: True,
                min_hits=len(SEEDS) * 5)


def test_masking_the_inputs_too():
    def wrong(prompt, answer):
        x, y = ref_masking(prompt, answer)
        x = x.clone()
        x[: len(prompt) - 1] = IGNORE
        return x, y

    expect_hint("sft_inputs_and_targets", wrong, "Mask only the targets y", min_hits=len(SEEDS) * 4)


def test_masking_returns_one_tensor():
    expect_hint("sft_inputs_and_targets", lambda p, a: ref_masking(p, a)[1], "return two tensors",
                applies=lambda case: True)


def test_masking_float_targets_are_named():
    expect_hint("sft_inputs_and_targets", lambda p, a: tuple(t.float() for t in ref_masking(p, a)), "torch.long",
                applies=lambda case: True)


def test_masking_lists_are_accepted():
    for seed in SEEDS:
        assert all(m is None for _c, _v, m in run("sft_inputs_and_targets",
                                                  lambda p, a: tuple(t.tolist() for t in ref_masking(p, a)), seed))


# -- 10.2 sequence_logprob ---------------------------------------------------------------------------------------

def _masked_sum(per_token, targets):
    return (per_token * (targets != IGNORE)).sum(-1)


def test_logprob_raw_logits():
    def wrong(logits, targets):
        return _masked_sum(logits.gather(-1, targets.clamp(min=0)[..., None])[..., 0], targets)

    expect_hint("sequence_logprob", wrong, "raw logits", min_hits=len(SEEDS) * 3)


def test_logprob_probabilities():
    def wrong(logits, targets):
        return _masked_sum(logits.softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0], targets)

    expect_hint("sequence_logprob", wrong, "Those are probabilities", min_hits=len(SEEDS) * 3)


def test_logprob_mean_instead_of_sum():
    def wrong(logits, targets):
        mask = targets != IGNORE
        return ref_logprob(logits, targets) / mask.sum(-1).clamp(min=1)

    expect_hint("sequence_logprob", wrong, "don't average", min_hits=len(SEEDS) * 3)


def test_logprob_counts_the_ignored_targets():
    def wrong(logits, targets):
        return logits.log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0].sum(-1)

    expect_hint("sequence_logprob", wrong, "must not count", min_hits=len(SEEDS) * 3)


def test_logprob_shifted_again():
    def wrong(logits, targets):
        return ref_logprob(logits[:, :-1], targets[:, 1:])

    expect_hint("sequence_logprob", wrong, "Don't shift again", min_hits=len(SEEDS) * 3)


def test_logprob_softmax_over_positions():
    def wrong(logits, targets):
        return _masked_sum(logits.log_softmax(1).gather(-1, targets.clamp(min=0)[..., None])[..., 0], targets)

    expect_hint("sequence_logprob", wrong, "not over positions", min_hits=len(SEEDS) * 3)


def test_logprob_sums_the_batch_too():
    expect_hint("sequence_logprob", lambda logits, targets: ref_logprob(logits, targets).sum(), "not over the batch",
                applies=lambda case: True)


def test_logprob_per_token():
    def wrong(logits, targets):
        return logits.log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0] * (targets != IGNORE)

    expect_hint("sequence_logprob", wrong, "One number per row", applies=lambda case: True)


# -- 10.3 reward_model_loss ----------------------------------------------------------------------------------

def test_reward_sign_flipped():
    expect_hint("reward_model_loss", lambda c, r: ref_reward(r, c), "The sign is flipped", min_hits=len(SEEDS) * 4)


def test_reward_minus_forgotten():
    expect_hint("reward_model_loss", lambda c, r: F.logsigmoid(c - r).mean(), "Don't forget the minus",
                min_hits=len(SEEDS) * 4)


def test_reward_without_the_log():
    expect_hint("reward_model_loss", lambda c, r: -torch.sigmoid(c - r).mean(), "Take the logarithm",
                min_hits=len(SEEDS) * 4)


def test_reward_sum():
    expect_hint("reward_model_loss", lambda c, r: -F.logsigmoid(c - r).sum(), "don't sum", min_hits=len(SEEDS) * 4)


def test_reward_log_of_sigmoid_overflows():
    expect_hint("reward_model_loss", lambda c, r: -torch.log(torch.sigmoid(c - r)).mean(), "F.logsigmoid",
                applies=lambda case: (case.args[1] - case.args[0]).max() > 100, min_hits=len(SEEDS))


def test_reward_per_pair():
    expect_hint("reward_model_loss", lambda c, r: -F.logsigmoid(c - r), "The loss is one number",
                applies=lambda case: True)


def test_reward_float_is_accepted():
    for seed in SEEDS:
        assert all(m is None for _c, _v, m in run("reward_model_loss", lambda c, r: ref_reward(c, r).item(), seed))


# -- 10.4 dpo_loss ---------------------------------------------------------------------------------------------

def _beta_not_one(case):
    return not case.edge and case.kwargs["beta"] != 1


def test_dpo_beta_missing():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: ref_dpo(pc, pr, rc, rr, 1.0), "β is missing",
                applies=_beta_not_one, min_hits=len(SEEDS) * 3)


def test_dpo_beta_divides():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: ref_dpo(pc, pr, rc, rr, 1 / beta), "don't divide",
                applies=_beta_not_one, min_hits=len(SEEDS) * 3)


def test_dpo_reference_forgotten():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * (pc - pr)).mean(),
                "The reference is missing", min_hits=len(SEEDS) * 3)


def test_dpo_sign_flipped():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: ref_dpo(pr, pc, rr, rc, beta), "The sign is flipped",
                min_hits=len(SEEDS) * 3)


@pytest.mark.parametrize("wrong", [lambda pc, pr, rc, rr, beta: ref_dpo(pc, pr, rr, rc, beta),     # swapped
                                   lambda pc, pr, rc, rr, beta: ref_dpo(pc, pr, -rc, -rr, beta)])  # added
def test_dpo_reference_the_wrong_way(wrong):
    """(π_c - r_r) - (π_r - r_c) and (π_c + r_c) - (π_r + r_r) are the same number: one hint names both."""
    expect_hint("dpo_loss", wrong, "The reference enters the wrong way", min_hits=len(SEEDS) * 3)


def test_dpo_sum():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum(),
                "don't sum", min_hits=len(SEEDS) * 3)


def test_dpo_without_the_log():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: -torch.sigmoid(beta * ((pc - rc) - (pr - rr))).mean(),
                "Take the logarithm", min_hits=len(SEEDS) * 3)


def test_dpo_per_pair():
    expect_hint("dpo_loss", lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))),
                "The loss is one number", applies=lambda case: True)
