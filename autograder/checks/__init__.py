"""Hidden checks, one module per lesson (`l01_ngram.py` for `01_ngram`), keyed by the exercise's grade_id.

A check never runs the learner's code itself. It says which function to call on which inputs (`cases`,
plain data drawn from a seeded random generator, so answers cannot be hard-coded), and later judges what
came back (`verify`), computing the right answer here, in the grader's own process. A lesson's module declares
each check once, on its verify function, in the order of the lesson's exercises:

    @check("count_ngrams", cases=count_cases, twin="shikumi.ngram:count_ngrams")
    def count_verify(case: Case, value) -> str | None: ...

Messages are written in both languages, `tr("…", "…")` (shikumi.lang, the lessons' own form): the grader sets
the language of the edition the learner handed in.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autograder.plain import Unsupported
from shikumi.course.selfcheck import MESSAGES as SELF_CHECK_WORDS
from shikumi.course.selfcheck import difference
from shikumi.lang import tr


@dataclass
class Case:
    args: tuple                                       # "call": the arguments; "module": the constructor's
    kwargs: dict = field(default_factory=dict)
    state: dict | None = None                         # "module": weights for load_state_dict (tensors)
    inputs: tuple = ()                                # "module": the forward() arguments
    build: str | None = None  # "module:function" called with no arguments in the learner's kernel; what it
                              # returns goes first in args (a trained model, which plain data cannot carry)
    edge: bool = False    # an edge case (empty input, unseen context…): counts only if a main case passes,
                          # so a constant answer such as `return {}` or `return 0.0` earns nothing


@dataclass
class Check:
    name: str                                         # what the notebook must define, e.g. "count_ngrams"
    cases: Callable[[random.Random], list[Case]]      # inputs to try, from a seeded generator
    verify: Callable[[Case, Any], str | None]         # None when right, else a message for the learner
    kind: str = "call"    # "call": name(*args, **kwargs); "value": read a variable;
                          # "module": name(*args, **kwargs).load_state_dict(state), then called on inputs
    references: tuple[str, ...] = ()  # "module:qualname" of the library's own solution: using it scores 0
    explain: Callable[[Case, str, str], str] | None = None  # (case, error, message) → what a raised error
                                                            # usually means here, a tr(…) or "" (explain_error)


KINDS = ("call", "value", "module")
_REGISTERED: dict[str, dict[str, Check]] = {}  # check module's name → {grade_id: Check}, in declaration order


def check(grade_id: str, *, cases: Callable[[random.Random], list[Case]], kind: str = "call",
          twin: str | tuple[str, ...] = (), name: str | None = None,
          explain: Callable[[Case, str, str], str] | None = None):
    """Declare the decorated `verify(case, value)` the hidden check of exercise `grade_id`, in its lesson's module.

    cases: draws the inputs from a seeded generator. kind: "call" (the default), "value" or "module" (see Check).
    twin: the library's own solution(s), "module:qualname", which the answer must not call (doing so scores 0).
    name: what the notebook must define, when it is not the grade_id. explain: see explain_error.
    The function is returned unchanged; declare the checks in the order of the lesson's exercises."""
    twins = (twin,) if isinstance(twin, str) else tuple(twin)
    if kind not in KINDS:
        raise ValueError(f"check {grade_id!r}: kind must be one of {KINDS}, not {kind!r}")
    if not all(isinstance(t, str) and t.count(":") == 1 for t in twins):
        raise ValueError(f"check {grade_id!r}: each twin is \"module:qualname\", not {twins!r}")

    def register(verify: Callable[[Case, Any], str | None]):
        checks = _REGISTERED.setdefault(verify.__module__, {})
        before = checks.get(grade_id)
        if before is not None and before.verify.__qualname__ != verify.__qualname__:  # the same one: a reload
            raise ValueError(f"check {grade_id!r} is declared twice in {verify.__module__}: "
                             f"on {before.verify.__qualname__} and on {verify.__qualname__}")
        checks[grade_id] = Check(name or grade_id, cases, verify, kind=kind, references=twins, explain=explain)
        return verify

    return register


def for_lesson(lesson: str) -> dict[str, Check]:
    """{grade_id: Check} for a lesson name such as "01_ngram", in the order its module declares them."""
    try:
        module = importlib.import_module(f"autograder.checks.l{lesson}")
    except ModuleNotFoundError as e:
        raise LookupError(f"no hidden checks for lesson {lesson!r} (expected autograder/checks/l{lesson}.py)") from e
    if not _REGISTERED.get(module.__name__):
        raise LookupError(f"autograder/checks/l{lesson}.py declares no check (@check(…) on a verify function)")
    return _REGISTERED[module.__name__]


# -- helpers for writing messages a beginner can act on ------------------------------------------

def show(value: Any, limit: int = 120) -> str:
    """A short, readable form of a value for a message."""
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, dict) and not isinstance(value, Unsupported):
        text = "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in list(value.items())[:8]) + (
            ", …}" if len(value) > 8 else "}")
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_text(name: str, case: Case) -> str:
    parts = [show(a, 60) for a in case.args] + [f"{k}={show(v, 40)}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def type_problem(value: Any, expected: type | tuple[type, ...], what: str) -> str | None:
    """A message when `value` is not of the expected type (the most common beginner mistake), else None."""
    names = _names(expected)
    if isinstance(value, Unsupported):
        types = [t.__name__ for t in _tuple(expected)]
        neither = " ".join(f"{t} でも" for t in types) + "ありません" if len(types) > 1 else f"{types[0]} ではありません"
        return tr(f"{what} returned {value!r}, which is not a {names}.",
                    f"{what} が {value!r} を返しました。これは {neither}。")
    if _is_array(value) and not any(_is_array_type(t) for t in _tuple(expected)):
        shape = tuple(value.shape)
        return tr(f"{what} returned an array of shape {shape}; expected a {names}.",
                    f"{what} が形 {shape} の配列を返しました。返すのは {names} です。")
    if value is None:
        return tr(f"{what} returned None: did you forget the `return` statement?",
                    f"{what} が None を返しました。`return` 文を書き忘れていませんか？")
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return None  # an int is a fine probability of 0 or 1
    if not isinstance(value, expected) or isinstance(value, bool) and bool not in _tuple(expected):
        got = f"{type(value).__name__} ({show(value, 60)})"
        return tr(f"{what} returned a {got}; expected a {names}.",
                    f"{what} が {got} を返しました。返すのは {names} です。")
    return None


def close(a: float, b: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _tuple(t):
    return t if isinstance(t, tuple) else (t,)


def _names(t) -> str:
    return tr(" or ", " か ").join(x.__name__ for x in _tuple(t))


def _is_array(x) -> bool:
    return type(x).__module__.split(".")[0] in ("numpy", "torch") and hasattr(x, "shape") and hasattr(x, "dtype")


def _is_array_type(t) -> bool:
    return t.__module__.split(".")[0] in ("numpy", "torch")


def array_problem(value, expected, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """None when `value` is a tensor (or array) of `expected`'s shape with close values, else a message that
    names the first thing wrong: not an array, the shape (the most common mistake), NaNs, then the values."""
    import numpy as np
    import torch

    if isinstance(value, Unsupported) or value is None or not _is_array(value):
        return type_problem(value, torch.Tensor, what) or tr(f"{what} returned {show(value)}, not a tensor.",
                                                               f"{what} が {show(value)} を返しました。テンソルではありません。")
    got = torch.as_tensor(np.asarray(value) if isinstance(value, np.ndarray) else value).double()
    want = torch.as_tensor(expected).double()
    if tuple(got.shape) != tuple(want.shape):
        return shape_problem(what, tuple(want.shape), tuple(got.shape))
    if torch.isnan(got).any() and not torch.isnan(want).any():
        return _words("nan", what=what)
    if not torch.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        return tr(*(difference(got, want, what, lang) for lang in ("en", "ja")))
    return None


def shape_problem(what: str, expected: tuple, got: tuple) -> str:
    """The message for a tensor of the wrong shape."""
    return _words("shape", what=what, expected=expected, got=got)


def expected_got(what: str, expected: str, got: str) -> str:
    """"what: expected …, got …." (the values already shown as text): the self-checks' own wording
    (shikumi.course.selfcheck), so the grader and the lesson say it alike, in both languages."""
    return _words("wrong", what=what, expected=expected, got=got)


def _words(key: str, **values) -> str:
    """One of the self-checks' fixed sentences (shikumi.course.selfcheck.MESSAGES), in the learner's language."""
    return tr(*(SELF_CHECK_WORDS[lang][key].format(**values) for lang in ("en", "ja")))


def more(text: str) -> str:
    """One more sentence for the end of a message, `more(tr("Did you …?", "…ていませんか？"))`: after a space in
    English, right after 。 in Japanese."""
    return tr(" " + text, text)


def matches(value, variant, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Does the learner's value equal this (usually wrong) variant? Same shape and close values."""
    import torch

    try:
        got = torch.as_tensor(value).double()
    except (TypeError, ValueError, RuntimeError):
        return False
    want = torch.as_tensor(variant).double()
    if got.numel() == 1 and want.numel() == 1:
        got, want = got.reshape(()), want.reshape(())
    return tuple(got.shape) == tuple(want.shape) and torch.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def first_hint(value, variants) -> str:
    """The hint of the first (variant, hint) whose variant the value equals, or "": names the classic mistake.
    Each hint is one tr(…, …), appended after a space in English."""
    for variant, text in variants:
        if variant is not None and matches(value, variant):
            return more("") + text
    return ""


def with_hint(value, expected, what: str, mistakes: dict[str, Callable[[], Any]], atol: float = 1e-5,
              otherwise: str = "") -> str | None:
    """array_problem's message, plus the hint of the first classic mistake that gives this very value.
    mistakes: {hint: a function computing the wrong value}, called only when the value is wrong.
    otherwise: what to compare when the shape is right but no mistake matches (a tr(…, …))."""
    problem = array_problem(value, expected, what, atol=atol)
    if problem is None or not _is_array(value) or tuple(value.shape) != tuple(expected.shape):
        return problem
    text = next((text for text, wrong in mistakes.items() if matches(value, wrong(), atol=1e-4)), otherwise)
    return problem + more("") + text if text else problem



def explain_error(check: Check, case: Case, error: str, message: str) -> str:
    """What an error the learner's function raised on this case usually means, as one more sentence for the end
    of "… raised IndexError: …" (see more()). The check may know better (`@check(…, explain=function(case,
    error, message) → a tr(…) or "")`); else shikumi.course.selfcheck.explain, the very sentence the notebook prints
    under the traceback."""
    from shikumi.course.selfcheck import explain

    why = check.explain(case, error, message) if check.explain else ""
    if not why:
        why = tr(explain(error, message, "en"), explain(error, message, "ja"))
    text = _words("usually", why=why).removeprefix("💡 ")
    return more(tr(text, text))

# -- helpers for drawing cases -------------------------------------------------------------------

def generator(rng: random.Random):
    """A torch.Generator seeded from the case generator: the same submission gets the same tensors."""
    import torch

    return torch.Generator().manual_seed(rng.getrandbits(32))


def randn(g, *shape: int, scale: float = 1.0):
    """Standard normal float32 numbers of this shape from generator g, times scale."""
    import torch

    return (torch.randn(*shape, generator=g) * scale).float()


def tensor_problem(value, what: str) -> str | None:
    """type_problem for a function that must return one tensor (a tuple of tensors gets its own message)."""
    import torch

    if isinstance(value, tuple) and value and all(torch.is_tensor(v) for v in value):
        return tr(f"{what} returned a tuple of {len(value)} tensors; return just one tensor.",
                    f"{what} が {len(value)} 個のテンソルのタプルを返しました。テンソルを 1 つだけ返してください。")
    return type_problem(value, torch.Tensor, what)
