"""The visible self-checks after each exercise: a ✓ when right, a message that says what is wrong when not.

These are for you, the learner, to run as often as you like. The grader uses its own hidden checks, on
other inputs, so passing these is a good sign but not yet a grade.

Each lesson says which language its messages are in, once, where it imports expect and passed:
`set_language("ja")` in the Japanese edition. A lesson writes its own words (what is checked, the hint) in
that language; this module adds the fixed words around them ("expected … got …"). The grader's hidden
checks use the same words (autograder/checks/__init__.py), so a self-check and the grade say a mistake alike.

- expect(got, expected, what, hint, mistakes=[(wrong value, hint), ...]) for numbers, strings, lists;
- expect_close(got, want, what, hint, mistakes=...) for tensors: the type, then the shape, then the largest
  difference and where it is;
- mistakes: the classic wrong answers on the check's own inputs; a value equal to one gets that one's hint
  instead of the general one, so the message names the mistake;
"""

from __future__ import annotations

import math

MESSAGES = {
    "en": {"ok": "✓ {what} = {got}", "wrong": "{what}: expected {expected}, got {got}.",
           "none": "Your function returned None: did you forget `return`?",
           "passed": "🎉 {exercise}: all self-checks passed", "exercise": "Exercise",
           "not_tensor": "{what}: expected a tensor, got {got}.",
           "shape": "{what}: expected a tensor of shape {expected}, got shape {got}.",
           "nan": "{what}: the result contains NaN (not a number), which usually comes from 0 / 0, the square root "
                  "or log of a negative number, or a softmax over a row that is all -inf.",
           "differ": "{what}: values differ from the expected ones by up to {most} (at index {index}: expected "
                     "{expected}, got {got}).",
           "ok_close": "✓ {what}"},
    "ja": {"ok": "✓ {what} = {got}", "wrong": "{what}：期待される値は {expected}、返ってきた値は {got} です。",
           "none": "関数が None を返しました。`return` を書き忘れていませんか？",
           "passed": "🎉 {exercise}：セルフチェックはすべて合格です", "exercise": "演習",
           "not_tensor": "{what}：期待されるのはテンソルですが、返ってきたのは {got} です。",
           "shape": "{what}：期待される形状は {expected} ですが、返ってきたテンソルの形状は {got} です。",
           "nan": "{what}：結果に NaN（数ではない値）が含まれています。NaN はたいてい 0 / 0、負の数の平方根や対数、"
                  "すべて -inf の行にかけた softmax から生まれます。",
           "differ": "{what}：値が期待される値から最大 {most} ずれています（インデックス {index} で、期待される値は "
                     "{expected}、返ってきた値は {got} です）。",
           "ok_close": "✓ {what}"},
}
_language = "en"


class SelfCheckFailed(AssertionError):
    """A self-check that did not pass: its message already says what is wrong (no explanation is added)."""


def set_language(language: str) -> None:
    """The language of the fixed words in the messages: "en" or "ja"."""
    global _language
    if language not in MESSAGES:
        raise ValueError(f"set_language: {language!r} is not one of {sorted(MESSAGES)}")
    _language = language


def expect(got, expected, what: str, hint: str = "", rel: float = 1e-6, mistakes=()) -> None:
    """Print ✓ if `got` equals `expected` (floats: within a relative tolerance), else raise with a hint:
    the hint of the first (wrong value, hint) in `mistakes` that `got` equals, or else `hint`."""
    words = MESSAGES[_language]
    if _same(got, expected, rel):
        print(words["ok"].format(what=what, got=_show(got)))
        return
    message = words["wrong"].format(what=what, expected=_show(expected), got=_show(got))
    if got is None:
        message += " " + words["none"]
    named = next((text for wrong, text in mistakes if _same(got, wrong, rel)), None)
    raise _failure(message, hint if named is None else named)


def expect_close(got, want, what: str, hint: str = "", mistakes=(), rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Print ✓ if the tensor `got` has `want`'s shape and close values (torch.allclose's rtol and atol), else
    raise with the first thing wrong: not a tensor, the shape, NaN, then the largest difference and where it
    is. `mistakes`: (wrong tensor, hint) pairs; a value close to one gets its hint, the others `hint`."""
    import torch

    words = MESSAGES[_language]
    if got is None:
        raise _failure(words["not_tensor"].format(what=what, got="None") + " " + words["none"], hint)
    if not _is_array(got):
        raise _failure(words["not_tensor"].format(what=what, got=f"{type(got).__name__} ({_show(got)})"), hint)
    got_t, want_t = _tensor(got), _tensor(want)
    if tuple(got_t.shape) != tuple(want_t.shape):
        named = _named(got_t, mistakes, rtol, atol)
        message = words["shape"].format(what=what, expected=tuple(want_t.shape), got=tuple(got_t.shape))
        raise _failure(message, hint if named is None else named)
    if torch.isnan(got_t).any() and not torch.isnan(want_t).any():
        named = _named(got_t, mistakes, rtol, atol)
        raise _failure(words["nan"].format(what=what), hint if named is None else named)
    if torch.allclose(got_t, want_t, rtol=rtol, atol=atol, equal_nan=True):
        print(words["ok_close"].format(what=what))
        return
    named = _named(got_t, mistakes, rtol, atol)
    raise _failure(difference(got_t, want_t, what, _language), hint if named is None else named)


def difference(got, want, what: str, language: str) -> str:
    """"what: values differ … by up to M (at index i: expected a, got b)." for two tensors of one shape that
    are not close; for a single number (shape ()), just "what: expected a, got b.". The grader says it alike."""
    import torch

    words = MESSAGES[language]
    got, want = _tensor(got), _tensor(want)
    if want.numel() == 1:
        return words["wrong"].format(what=what, expected=_number(want.item()), got=_number(got.reshape(-1)[0].item()))
    diff = (got - want).abs().nan_to_num(nan=math.inf)
    diff[(got == want) | (torch.isnan(got) & torch.isnan(want))] = 0.0
    flat = int(diff.reshape(-1).argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), tuple(want.shape)))
    index_text = str(index[0]) if len(index) == 1 else str(index)
    return words["differ"].format(what=what, most=f"{diff.reshape(-1)[flat].item():.3g}", index=index_text,
                                  expected=_number(want[index].item()), got=_number(got[index].item()))


def passed(exercise: str) -> None:
    """passed("Exercise 7.1"): say that every self-check of the exercise passed."""
    words = MESSAGES[_language]
    print(words["passed"].format(exercise=exercise.replace(MESSAGES["en"]["exercise"], words["exercise"])))


# -- helpers -------------------------------------------------------------------------------------------------

def _failure(message: str, hint: str = "") -> SelfCheckFailed:
    return SelfCheckFailed(f"{message} {hint}".strip())


def _named(got, mistakes, rtol: float, atol: float) -> str | None:
    """The hint of the first (wrong value, hint) that `got` equals (same shape, close values), or None."""
    import torch

    for wrong, text in mistakes:
        if wrong is None:
            continue
        wrong = _tensor(wrong)
        if tuple(wrong.shape) == tuple(got.shape) and torch.allclose(got, wrong, rtol=rtol, atol=atol, equal_nan=True):
            return text
    return None


def _is_array(x) -> bool:
    return type(x).__module__.split(".")[0] in ("numpy", "torch") and hasattr(x, "shape") and hasattr(x, "dtype")


def _tensor(x):
    import numpy as np
    import torch

    return torch.as_tensor(np.asarray(x) if isinstance(x, np.ndarray) else x).detach().cpu().double()


def _number(x: float) -> str:
    return f"{x:.6g}"


def _same(a, b, rel: float) -> bool:
    if isinstance(b, float) and isinstance(a, (int, float)) and not isinstance(a, bool):
        if math.isinf(b) or math.isinf(a):
            return a == b
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(b, dict) and isinstance(a, dict):
        return {k: v for k, v in a.items() if v} == {k: v for k, v in b.items() if v}
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):   # a tensor compared with a list: not the same
        return False


def _show(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in list(x.items())[:6]) + (", …}" if len(x) > 6 else "}")
    text = repr(x)
    return text if len(text) < 150 else text[:149] + "…"
