"""The visible self-checks after each exercise: a ✓ when right, a message that says what is wrong when not.

These are for you, the learner, to run as often as you like. The grader uses its own hidden checks, on
other inputs, so passing these is a good sign but not yet a grade.

Each lesson says which language its messages are in, once, where it imports expect and passed:
`set_language("ja")` in the Japanese edition. A lesson writes its own words (what is checked, the hint) in
that language; this module adds the fixed words around them ("expected … got …").

When the learner's code raises instead of returning, `with explained("predict(x, w, b)"): ...` turns the error
into a sentence about what such an error usually means, so that a raw exception never arrives alone.
"""

from __future__ import annotations

import contextlib
import math

MESSAGES = {
    "en": {"ok": "✓ {what} = {got}", "wrong": "{what}: expected {expected}, got {got}.",
           "none": "Your function returned None: did you forget `return`?",
           "passed": "🎉 {exercise}: all self-checks passed", "exercise": "Exercise",
           "shape": "{what}: expected shape {expected}, got shape {got}.",
           "not_tensor": "{what}: expected a tensor of shape {expected}, got {got}.",
           "raised": "{what} raised {error}.",
           "not_written": "{what}: not written yet. Replace the exercise's `raise NotImplementedError(...)` line "
                          "with your code.",
           "shapes": "The shapes of two tensors do not fit together. Print the .shape of each tensor you combine: "
                     "a @ b needs (…, n) @ (n, …), and +, -, * need shapes that broadcast.",
           "no_grad": "The result has lost its link to the weights, so autograd cannot follow it back: keep it a "
                      "tensor (no .item(), float() or torch.tensor(...) in between).",
           "types": "An operation got a kind of value it cannot use (a list where a tensor is needed, an argument "
                    "missing or too many): the last line of the error names it.",
           "index": "An index points outside a tensor: positions run from 0 to size − 1.",
           "name": "A name is not defined: run the cells above this one first, top to bottom, and check the spelling.",
           "other": "The last line of the error says what went wrong; the lines above it show where."},
    "ja": {"ok": "✓ {what} = {got}", "wrong": "{what}：期待される値は {expected}、返ってきた値は {got} です。",
           "none": "関数が None を返しました。`return` を書き忘れていませんか？",
           "passed": "🎉 {exercise}：セルフチェックはすべて合格です", "exercise": "演習",
           "shape": "{what}：期待される形状は {expected}、返ってきた形状は {got} です。",
           "not_tensor": "{what}：期待されるのは形状 {expected} のテンソルですが、返ってきた値は {got} です。",
           "raised": "{what} でエラー {error} が起きました。",
           "not_written": "{what}：演習がまだ書かれていません。演習の `raise NotImplementedError(...)` の行を"
                          "あなたのコードに置き換えてください。",
           "shapes": "2 つのテンソルの形状が合っていません。組み合わせる各テンソルの .shape を print してみましょう。"
                     "a @ b には (…, n) @ (n, …) が必要で、+、-、* にはブロードキャストできる形状が必要です。",
           "no_grad": "結果と重みのつながりが切れているので、autograd がさかのぼれません。途中で .item()、float()、"
                      "torch.tensor(...) を使わず、テンソルのまま計算してください。",
           "types": "演算が、扱えない種類の値を受け取りました（テンソルが必要なところにリストがある、引数が足りない・"
                    "多すぎる、など）。エラーの最後の行に何が問題かが書かれています。",
           "index": "インデックスがテンソルの外を指しています。位置は 0 から「サイズ − 1」までです。",
           "name": "名前が定義されていません。このセルより上のセルを上から順に実行したか、つづりが正しいかを"
                   "確かめてください。",
           "other": "エラーの最後の行に何が起きたかが、その上の行にどこで起きたかが書かれています。"},
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


def expect_shape(got, expected: tuple, what: str, hints=None) -> None:
    """Print ✓ if `got` is a tensor of shape `expected`, else raise: a wrong shape is the most common slip, so it
    is checked before any value. hints: one hint, or {a wrong shape, or a type such as float: what usually gives
    it}, e.g. {(4,): "Average with .mean().", float: "Keep it a tensor: no .item()."}."""
    words = MESSAGES[_language]
    expected = tuple(expected)
    if got is None or not hasattr(got, "shape"):
        message = words["not_tensor"].format(what=what, expected=expected, got=_show(got))
        key = type(got)
    elif tuple(got.shape) == expected:
        print(words["ok"].format(what=what, got=expected))
        return
    else:
        message = words["shape"].format(what=what, expected=expected, got=tuple(got.shape))
        key = tuple(got.shape)
    hint = hints.get(key, "") if isinstance(hints, dict) else (hints or "")
    if got is None:
        hint = f"{words['none']} {hint}".strip()
    raise AssertionError(f"{message} {hint}".strip())


@contextlib.contextmanager
def explained(what: str):
    """Run code that calls the learner's function; if it raises, raise instead an AssertionError that names the
    call and the error, and says what that kind of error usually means (the original error stays attached)."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as e:
        words, meaning = MESSAGES[_language], _meaning(e)
        if meaning == "not_written":                 # the stub's own message would only repeat it
            raise AssertionError(words["not_written"].format(what=what)) from e
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        error = f"{type(e).__name__}: {text}" if text else type(e).__name__
        raise AssertionError(f"{words['raised'].format(what=what, error=error)} {words[meaning]}") from e


def _meaning(e: Exception) -> str:
    """Which of MESSAGES' explanations fits this error."""
    text = str(e).lower()
    if isinstance(e, NotImplementedError):
        return "not_written"
    if isinstance(e, NameError):
        return "name"
    if isinstance(e, IndexError):
        return "index"
    if isinstance(e, RuntimeError) and ("require grad" in text or "does not have a grad_fn" in text):
        return "no_grad"
    if isinstance(e, (RuntimeError, ValueError)) and any(
            w in text for w in ("shape", "size", "mat1 and mat2", "dimension", "broadcast")):
        return "shapes"
    if isinstance(e, TypeError):
        return "types"
    return "other"


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
