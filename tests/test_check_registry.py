"""One way to declare a hidden check: `@check(grade_id, cases=…, kind=…, twin=…)` on its verify function.

Every lesson's module declares exactly its source's exercises, in the source's order, each of the kind its
solution answers with, and names the library's own solution (the twin the learner must not call) unless the
lesson has none to name.
"""

from __future__ import annotations

import importlib
import inspect
import random
import sys
import types

import pytest

from autograder import checks
from autograder.checks import Case, check, for_lesson
from shikumi.course import release
from tests.conftest import lesson_names, solution_answers

# Exercises with no library twin: the library has no function of that name and shape (a one-line formula, a
# class the lesson builds from the library's parts, a format of the lesson's own). Every other exercise names one.
NO_TWIN = {"predict", "gradient_step", "TinyMLP", "softmax", "decoder_input_and_labels", "build_chat_prompt",
           "conv_output_size", "zero_shot_classify", "compute_alphas_cumprod"}


@pytest.mark.parametrize("lesson", lesson_names())
def test_each_lesson_declares_its_exercises_in_order(lesson):
    source = release.read_source(release.source_path(lesson))
    registered = for_lesson(lesson)
    assert list(registered) == [e.grade_id for e in release.exercises(source)]
    assert for_lesson(lesson) is registered                       # declared once, at import
    for grade_id, declared in registered.items():
        assert declared.name == grade_id
        assert declared.verify.__module__ == f"autograder.checks.l{lesson}"
        assert declared.cases.__module__ == f"autograder.checks.l{lesson}"
        assert list(inspect.signature(declared.verify).parameters) == ["case", "value"]


@pytest.mark.parametrize("lesson", lesson_names())
def test_kinds_follow_the_solution(lesson):
    """A class is built, loaded with weights and called ("module"); a function is called ("call")."""
    answers = solution_answers(lesson)
    for grade_id, declared in for_lesson(lesson).items():
        assert declared.kind == ("module" if isinstance(answers[grade_id], type) else "call"), grade_id


@pytest.mark.parametrize("lesson", lesson_names())
def test_every_twin_is_real_library_code(lesson):
    for grade_id, declared in for_lesson(lesson).items():
        assert bool(declared.references) == (grade_id not in NO_TWIN), grade_id
        for dotted in declared.references:
            module, _, path = dotted.partition(":")
            assert module.split(".")[0] in ("shikumi", "torch"), dotted
            owner = importlib.import_module(module)
            for part in path.split("."):
                owner = getattr(owner, part)                      # raises if the name is stale
            assert callable(owner), dotted


def test_the_explanations_of_errors_are_declared_with_their_check():
    explained = {gid: c.explain.__name__ for lesson in lesson_names() for gid, c in for_lesson(lesson).items()
                 if c.explain}
    assert explained == {"softmax": "_softmax_error", "pool_at_eot": "_pool_error"}


@pytest.fixture
def scratch_module(monkeypatch):
    """An empty check module, autograder.checks.l98_scratch, forgotten afterwards."""
    module = types.ModuleType("autograder.checks.l98_scratch")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    yield module
    checks._REGISTERED.pop(module.__name__, None)


def _declare(module, grade_id, verify_name="verify", **declaration):
    def verify(case, value):
        return None if value == 1 else "no"

    verify.__module__, verify.__qualname__ = module.__name__, verify_name
    return check(grade_id, cases=lambda rng: [Case((rng.random(),))], **declaration)(verify)


def test_a_declaration_registers_the_function_unchanged(scratch_module):
    verify = _declare(scratch_module, "one", twin="shikumi.ngram:count_ngrams")
    _declare(scratch_module, "Two", verify_name="two_verify", kind="module", name="TwoLayers",
             twin=("shikumi.gpt:Block", "shikumi.gpt:GPT"))
    registered = for_lesson("98_scratch")
    assert list(registered) == ["one", "Two"] and registered["one"].verify is verify
    assert registered["one"].references == ("shikumi.ngram:count_ngrams",) and registered["one"].kind == "call"
    assert registered["Two"].name == "TwoLayers" and registered["Two"].kind == "module"
    assert registered["Two"].references == ("shikumi.gpt:Block", "shikumi.gpt:GPT")
    assert len(registered["one"].cases(random.Random(0))) == 1


def test_a_grade_id_declared_twice_is_refused(scratch_module):
    _declare(scratch_module, "one")
    _declare(scratch_module, "one")                               # the same function again: a reload
    with pytest.raises(ValueError, match="declared twice"):
        _declare(scratch_module, "one", verify_name="other_verify")


@pytest.mark.parametrize("declaration, words", [({"kind": "function"}, "kind must be one of"),
                                                 ({"twin": "shikumi.ngram.count_ngrams"}, "module:qualname"),
                                                 ({"twin": ["shikumi.ngram:pad", 3]}, "module:qualname")])
def test_a_bad_declaration_is_refused(scratch_module, declaration, words):
    with pytest.raises(ValueError, match=words):
        _declare(scratch_module, "one", **declaration)


def test_a_module_that_declares_nothing_is_refused(scratch_module):
    with pytest.raises(LookupError, match="declares no check"):
        for_lesson("98_scratch")
    with pytest.raises(LookupError, match="no hidden checks"):
        for_lesson("99_nothing")
