"""autograder.checks.l00_first_neural_network: the solution's own answers pass every case, and the beginner's
classic mistakes get their hint.

Values travel through autograder.plain both ways, as they do in real grading (encode in the kernel, JSON, decode
in the grader), so every call here goes through `round_trip`.
"""

from __future__ import annotations

import functools
import math
import random

import pytest
import torch
import torch.nn.functional as F

from autograder.checks import for_lesson
from autograder.plain import Unsupported
from shikumi.course import release
from tests.conftest import ROOT, graded_value, plain, round_trip, run_check, solution_answers

LESSON = "00_first_neural_network"
CHECKS = for_lesson(LESSON)
SEEDS = range(5)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Hundreds of tiny tensor operations: on a busy machine, more CPU threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the one reference answer of each exercise: the solution's own (solutions/00_first_neural_network.py) ----

ANSWERS = solution_answers(LESSON)
ref_step, ref_ce = ANSWERS["gradient_step"], ANSWERS["cross_entropy"]
run = functools.partial(run_check, LESSON)


def call(name, impl, case):
    """What the grader would receive from `impl` on `case` (module or function), after the plain-data trip."""
    return graded_value(CHECKS[name], impl, case)


def mlp_with(forward):
    """A TinyMLP whose forward is `forward(self, x)`: a learner's version of the TinyMLP exercise."""
    return type("LearnersMLP", (ANSWERS["TinyMLP"],), {"forward": forward})


def same(a, b) -> bool:
    if isinstance(b, tuple):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(
            math.isclose(float(x), y, rel_tol=1e-4, abs_tol=1e-5) for x, y in zip(a, b))
    if isinstance(a, (int, float)) or isinstance(a, Unsupported) or a is None:
        return False
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


def expect_hint(name, wrong, hint, applies=lambda case: True, min_hits=1):
    """Every case that `wrong` gets wrong fails; where `applies`, its message contains `hint`."""
    hits = 0
    for seed in SEEDS:
        for case, value, message in run(name, wrong, seed):
            right = call(name, ANSWERS[name], case)
            if message is None:
                assert same(value, right), f"verify accepted a wrong answer for {case.args}"
                continue
            assert not same(value, right), f"verify rejected a right answer: {message}"
            if applies(case):
                assert hint in message, message
                hits += 1
    assert hits >= min_hits, f"no case triggered the hint {hint!r}"


# -- the registry and the cases ------------------------------------------------------------------------------

def test_the_five_exercises_are_numbered_from_0_1():
    """(That the registry lists them in this order, with their kinds: tests/test_check_registry.py.)"""
    source = release.read_source(release.source_path(LESSON))
    assert [e.number for e in release.exercises(source)] == ["0.1", "0.2", "0.3", "0.4", "0.5"]
    assert list(CHECKS) == ["predict", "mse_loss", "gradient_step", "cross_entropy", "TinyMLP"]


def test_no_other_lesson_has_these_exercise_names():
    """The grader recognises a notebook that lost its metadata and its file name by its exercises."""
    others = {e.grade_id for src in release.sources(ROOT) if not src.name.startswith("00_")
              for e in release.exercises(release.read_source(src))}
    assert not others & set(CHECKS)


@pytest.mark.parametrize("name", list(CHECKS))
def test_cases_are_small_seeded_plain_data(name):
    check = CHECKS[name]

    def spec(cases):
        return plain([(c.args, c.kwargs, c.state, c.inputs) for c in cases])

    first = check.cases(random.Random(3))
    assert spec(first) == spec(check.cases(random.Random(3))) and len(first) >= 5
    others = [check.cases(random.Random(s)) for s in range(4, 8)]
    assert any(spec(o) != spec(first) for o in others)            # answers cannot be hard-coded
    assert all(len(o) == len(first) for o in others)
    for case in first:                                             # tensors survive the trip, dtype included
        assert plain(round_trip(case.args)) == plain(case.args)
    assert len(spec(first)) < 60_000


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(CHECKS))
def test_the_solution_passes(name, seed):
    for _case, _value, message in run(name, ANSWERS[name], seed):
        assert message is None, message


@pytest.mark.parametrize("name", ["predict", "mse_loss", "gradient_step", "cross_entropy"])
def test_returning_none_asks_for_return(name):
    for _case, _value, message in run(name, lambda *a, **k: None, 0):
        assert message is not None and "return" in message


@pytest.mark.parametrize("name", ["predict", "mse_loss", "gradient_step", "cross_entropy"])
def test_a_constant_answer_earns_nothing(name):
    """Only an edge case (a perfect prediction, a line already right) may be hit by returning a constant."""
    constants = {"predict": torch.zeros(3), "mse_loss": torch.tensor(0.0), "gradient_step": (0.0, 0.0),
                 "cross_entropy": torch.tensor(0.0)}
    for seed in SEEDS:
        main = [c for c in CHECKS[name].cases(random.Random(seed)) if not c.edge]
        assert main and all(CHECKS[name].verify(c, round_trip(constants[name])) is not None for c in main)


def test_gradient_step_that_does_not_move_earns_only_the_edge_case():
    for seed in SEEDS:
        for case, _value, message in run("gradient_step", lambda w, b, x, y, lr: (w, b), seed):
            assert (message is None) == case.edge


# -- 0.1 predict -----------------------------------------------------------------------------------------------

def test_predict_forgets_the_bias():
    expect_hint("predict", lambda x, w, b: x @ w, "did you forget + b?", min_hits=len(SEEDS) * 5)


def test_predict_subtracts_the_bias():
    expect_hint("predict", lambda x, w, b: x @ w - b, "do not subtract it")


def test_predict_multiplies_without_adding_up():
    expect_hint("predict", lambda x, w, b: x * w + b, "x * w multiplies each input by its weight",
                applies=lambda case: case.args[0].shape[1] > 1, min_hits=len(SEEDS) * 4)


def test_predict_returns_a_column():
    expect_hint("predict", lambda x, w, b: x @ w[:, None] + b, "use w as it is")


def test_predict_sums_the_batch():
    expect_hint("predict", lambda x, w, b: (x @ w + b).sum(), "one number for the whole batch")


def test_predict_adds_b_to_every_input():
    expect_hint("predict", lambda x, w, b: (x + b) @ w, "not to every input")


# -- 0.2 mse_loss ----------------------------------------------------------------------------------------------

def _nonzero(case):
    return not torch.equal(*case.args)


def test_mse_without_the_square():
    expect_hint("mse_loss", lambda p, t: (p - t).mean(), "square each miss", applies=_nonzero, min_hits=len(SEEDS) * 4)


def test_mse_absolute_misses():
    def applies(case):                            # misses of both signs: else abs changes nothing
        miss = case.args[0] - case.args[1]
        return bool((miss > 0).any() and (miss < 0).any())

    expect_hint("mse_loss", lambda p, t: (p - t).abs().mean(), "absolute misses", applies=applies)


def test_mse_sum_instead_of_mean():
    expect_hint("mse_loss", lambda p, t: ((p - t) ** 2).sum(), "divide by their number", applies=_nonzero)


def test_mse_square_root():
    expect_hint("mse_loss", lambda p, t: ((p - t) ** 2).mean().sqrt(), "(the RMSE)", applies=_nonzero)


def test_mse_square_of_the_mean_miss():
    expect_hint("mse_loss", lambda p, t: (p - t).mean() ** 2, "square of the average miss", applies=_nonzero)


def test_mse_halved():
    expect_hint("mse_loss", lambda p, t: ((p - t) ** 2).mean() / 2, "no ½", applies=_nonzero)


def test_mse_forgets_the_mean():
    expect_hint("mse_loss", lambda p, t: (p - t) ** 2, "average them with .mean()")


def test_mse_returns_a_plain_number():
    messages = [m for seed in SEEDS for _c, _v, m in run("mse_loss", lambda p, t: ((p - t) ** 2).mean().item(), seed)]
    assert all(m is not None and ".item()" in m and "The number is right." in m for m in messages)


# -- 0.3 gradient_step -----------------------------------------------------------------------------------------

def _step_variant(w, b, x, y, lr, sign=-1, use_lr=True, two=2.0, reduce="mean", x_in_w=True, x_in_b=False,
                  old_w=True, swap=False):
    agg = torch.mean if reduce == "mean" else torch.sum
    miss = w * x + b - y
    new_w = float(w + sign * (lr if use_lr else 1.0) * agg(two * miss * (x if x_in_w else 1.0)))
    if not old_w:
        miss = new_w * x + b - y
    new_b = float(b + sign * (lr if use_lr else 1.0) * agg(two * miss * (x if x_in_b else 1.0)))
    return (new_b, new_w) if swap else (new_w, new_b)


def _moves(case):
    return not case.edge


@pytest.mark.parametrize("slip, hint, per_seed", [
    ({"sign": 1}, "You stepped uphill", 4),
    ({"use_lr": False}, "multiply the slope by lr", 4),
    ({"two": 1.0}, "has a factor 2", 4),
    ({"reduce": "sum"}, "do not sum", 4),
    ({"x_in_b": True}, "b's slope has no x in it", 4),
    ({"x_in_w": False}, "w's slope has an x in it", 4),
    ({"old_w": False}, "Compute b's slope with the old w", 3),   # with lr = 0.01 the difference is within tolerance
    ({"swap": True}, "You returned (b, w)", 4),
])
def test_gradient_step_slips(slip, hint, per_seed):
    expect_hint("gradient_step", lambda *a: _step_variant(*a, **slip), hint, applies=_moves,
                min_hits=len(SEEDS) * per_seed)


def test_gradient_step_returns_the_slopes():
    def slopes(w, b, x, y, lr):
        miss = w * x + b - y
        return float((2 * miss * x).mean()), float((2 * miss).mean())

    expect_hint("gradient_step", slopes, "Those are the slopes themselves", applies=_moves, min_hits=len(SEEDS) * 4)


def test_gradient_step_tensors_and_lists_are_accepted():
    def as_tensors(w, b, x, y, lr):
        new_w, new_b = ref_step(w, b, x, y, lr)
        return [torch.tensor(new_w), torch.tensor([new_b])]

    for seed in SEEDS:
        assert all(m is None for _c, _v, m in run("gradient_step", as_tensors, seed))


def test_gradient_step_returning_one_number_is_told_to_return_two():
    for _case, _value, message in run("gradient_step", lambda *a: ref_step(*a)[0], 0):
        assert "should return two numbers" in message


# -- 0.4 cross_entropy -----------------------------------------------------------------------------------------

def _moderate(case):
    return case.args[0].abs().max() < 50          # not the case with a logit of 120


def test_ce_without_the_minus():
    expect_hint("cross_entropy", lambda lg, t: -ref_ce(lg, t), "put a minus in front of the log", min_hits=len(SEEDS) * 5)


def test_ce_sum_instead_of_mean():
    expect_hint("cross_entropy", lambda lg, t: ref_ce(lg, t) * len(t), "That is the sum over the examples")


def test_ce_log10():
    expect_hint("cross_entropy", lambda lg, t: ref_ce(lg, t) / math.log(10), "not log10")


def test_ce_without_the_log():
    expect_hint("cross_entropy", lambda lg, t: -torch.softmax(lg, -1)[torch.arange(len(t)), t].mean(), "not −p")


def test_ce_every_target_for_every_row():
    expect_hint("cross_entropy", lambda lg, t: -torch.log_softmax(lg, -1)[:, t].mean(), "[torch.arange(N), targets]")


def test_ce_softmax_over_the_examples():
    expect_hint("cross_entropy", lambda lg, t: -torch.log_softmax(lg, 0)[torch.arange(len(t)), t].mean(),
                "not over the examples (dim=0)", applies=_moderate)


def test_ce_logits_taken_for_log_probabilities():
    expect_hint("cross_entropy", lambda lg, t: -lg[torch.arange(len(t)), t].mean(), "not log-probabilities yet",
                applies=_moderate)


def test_ce_log_of_softmax_underflows_on_the_confident_case_only():
    def log_of_softmax(lg, t):
        return -torch.log(torch.softmax(lg, dim=-1))[torch.arange(len(t)), t].mean()

    for seed in SEEDS:
        for case, _value, message in run("cross_entropy", log_of_softmax, seed):
            assert (message is None) == bool(_moderate(case))
            if message is not None:
                assert "returned inf" in message and "torch.log_softmax" in message


def test_ce_log_of_logits_is_nan():
    def applies(case):                            # a right class with a negative logit: its log is nan
        logits, targets = case.args
        return bool((logits[torch.arange(len(targets)), targets] < 0).any())

    expect_hint("cross_entropy", lambda lg, t: -torch.log(lg)[torch.arange(len(t)), t].mean(), "returned nan",
                applies=applies, min_hits=len(SEEDS) * 3)


def test_ce_forgets_the_mean():
    expect_hint("cross_entropy", lambda lg, t: -torch.log_softmax(lg, -1)[torch.arange(len(t)), t],
                "one surprise per example")


def test_ce_returns_a_plain_number():
    for _case, _value, message in run("cross_entropy", lambda lg, t: ref_ce(lg, t).item(), 0):
        assert message is not None and "not a tensor" in message and ".item()" in message


# -- 0.5 TinyMLP -----------------------------------------------------------------------------------------------

MLP_SLIPS = [      # in the order the check tries them
    (lambda self, x: self.out(self.hidden(x)), "Without the ReLU"),
    (lambda self, x: torch.relu(self.out(torch.relu(self.hidden(x)))), "No ReLU after self.out"),
    (lambda self, x: torch.softmax(self.out(torch.relu(self.hidden(x))), dim=-1), "no softmax in forward"),
    (lambda self, x: torch.log_softmax(self.out(torch.relu(self.hidden(x))), dim=-1), "no log_softmax in forward"),
    (lambda self, x: torch.relu(self.out(self.hidden(x))), "between the two layers, not after the last one"),
    (lambda self, x: self.out(torch.sigmoid(self.hidden(x))), "That is a sigmoid"),
    (lambda self, x: self.out(torch.tanh(self.hidden(x))), "That is tanh"),
    (lambda self, x: self.out(F.gelu(self.hidden(x))), "That is GELU"),
    (lambda self, x: torch.relu(self.hidden(x)), "Those are the hidden neurons"),
]


@pytest.mark.parametrize("forward, hint", MLP_SLIPS)
def test_mlp_slips(forward, hint):
    def applies(case):                            # this slip gives a value no slip listed before it gives
        value = call("TinyMLP", mlp_with(forward), case)
        earlier = [f for f, _ in MLP_SLIPS[: [h for _, h in MLP_SLIPS].index(hint)]]
        return not any(same(value, call("TinyMLP", mlp_with(f), case)) for f in earlier)

    expect_hint("TinyMLP", mlp_with(forward), hint, applies=applies, min_hits=len(SEEDS) * 3)
