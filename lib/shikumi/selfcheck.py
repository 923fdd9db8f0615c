"""The visible self-checks after each exercise: a ✓ when right, a message that says what is wrong when not.

These are for you, the learner, to run as often as you like. The grader uses its own hidden checks, on
other inputs, so passing these is a good sign but not yet a grade.

Each lesson says which language its messages are in, once, where it imports expect and passed:
`set_language("ja")` in the Japanese edition. A lesson writes its own words (what is checked, the hint) in
that language; this module adds the fixed words around them ("expected … got …").
"""

from __future__ import annotations

import math

MESSAGES = {
    "en": {"ok": "✓ {what} = {got}", "wrong": "{what}: expected {expected}, got {got}.",
           "none": "Your function returned None: did you forget `return`?",
           "passed": "🎉 {exercise}: all self-checks passed", "exercise": "Exercise"},
    "ja": {"ok": "✓ {what} = {got}", "wrong": "{what}：期待される値は {expected}、返ってきた値は {got} です。",
           "none": "関数が None を返しました。`return` を書き忘れていませんか？",
           "passed": "🎉 {exercise}：セルフチェックはすべて合格です", "exercise": "演習"},
}
_language = "en"


def set_language(language: str) -> None:
    """The language of the fixed words in the messages: "en" or "ja"."""
    global _language
    if language not in MESSAGES:
        raise ValueError(f"set_language: {language!r} is not one of {sorted(MESSAGES)}")
    _language = language


def expect(got, expected, what: str, hint: str = "", rel: float = 1e-6) -> None:
    """Print ✓ if `got` equals `expected` (floats: within a relative tolerance), else raise with a hint."""
    words = MESSAGES[_language]
    if _same(got, expected, rel):
        print(words["ok"].format(what=what, got=_show(got)))
        return
    message = words["wrong"].format(what=what, expected=_show(expected), got=_show(got))
    if got is None:
        message += " " + words["none"]
    raise AssertionError(f"{message} {hint}".strip())


def passed(exercise: str) -> None:
    """passed("Exercise 7.1"): say that every self-check of the exercise passed."""
    words = MESSAGES[_language]
    print(words["passed"].format(exercise=exercise.replace(MESSAGES["en"]["exercise"], words["exercise"])))


def _same(a, b, rel: float) -> bool:
    if isinstance(b, float) and isinstance(a, (int, float)) and not isinstance(a, bool):
        if math.isinf(b) or math.isinf(a):
            return a == b
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(b, dict) and isinstance(a, dict):
        return {k: v for k, v in a.items() if v} == {k: v for k, v in b.items() if v}
    return a == b


def _show(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in list(x.items())[:6]) + (", …}" if len(x) > 6 else "}")
    text = repr(x)
    return text if len(text) < 150 else text[:149] + "…"
