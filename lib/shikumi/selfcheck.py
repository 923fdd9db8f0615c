"""The visible self-checks after each exercise: a ✓ when right, a message that says what is wrong when not.

These are for you, the learner, to run as often as you like. The grader uses its own hidden checks, on
other inputs, so passing these is a good sign but not yet a grade.
"""

from __future__ import annotations

import math


def expect(got, expected, what: str, hint: str = "", rel: float = 1e-6) -> None:
    """Print ✓ if `got` equals `expected` (floats: within a relative tolerance), else raise with a hint."""
    if _same(got, expected, rel):
        print(f"✓ {what} = {_show(got)}")
        return
    message = f"{what}: expected {_show(expected)}, got {_show(got)}."
    if got is None:
        message += " Your function returned None: did you forget `return`?"
    raise AssertionError(f"{message} {hint}".strip())


def passed(exercise: str) -> None:
    print(f"🎉 {exercise}: all self-checks passed")


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
