"""The visible self-checks after each exercise: a ✓ when right, a message that says what is wrong when not.

These are for you, the learner, to run as often as you like. The grader uses its own hidden checks, on
other inputs, so passing these is a good sign but not yet a grade.

Each lesson says which language its messages are in, once, where it imports expect and passed:
`set_language("ja")` in the Japanese edition (`set_language(tr("en", "ja"))` in its source, see shikumi.lang).
A lesson writes its own words (what is checked, the hint) in that language; this module adds the fixed words
around them ("expected … got …"). The grader's hidden checks use the same words (autograder/checks/__init__.py), so a self-check and the grade say a mistake alike.

- expect(got, expected, what, hint, mistakes=[(wrong value, hint), ...]) for numbers, strings, lists;
- expect_close(got, want, what, hint, mistakes=...) for tensors: the type, then the shape, then the largest
  difference and where it is;
- mistakes: the classic wrong answers on the check's own inputs; a value equal to one gets that one's hint
  instead of the general one, so the message names the mistake;
- an error raised in a cell (an IndexError deep in your function) is followed by a sentence on what it usually
  means (explain), once set_language has run in a notebook.
- `with explained("predict(x, w, b)"): ...` turns an error raised by the learner's code inside a
  self-check into a sentence about what such an error usually means (lesson 00).
"""

from __future__ import annotations

import contextlib
import math
import re

from shikumi import lang

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
           "ok_close": "✓ {what}",
           "usually": "💡 What this error usually means: {why}",
           "not_tensor_shape": "{what}: expected a tensor of shape {expected}, got {got}.",
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
           "not_tensor": "{what}：期待されるのはテンソルですが、返ってきたのは {got} です。",
           "shape": "{what}：期待される形は {expected} ですが、返ってきたテンソルの形は {got} です。",
           "nan": "{what}：結果に NaN（数ではない値）が含まれています。NaN はたいてい 0 / 0、負の数の平方根や対数、"
                  "すべて -inf の行にかけた softmax から生まれます。",
           "differ": "{what}：値が期待される値から最大 {most} ずれています（インデックス {index} で、期待される値は "
                     "{expected}、返ってきた値は {got} です）。",
           "ok_close": "✓ {what}",
           "usually": "💡 このエラーがたいてい意味すること：{why}",
           "not_tensor_shape": "{what}：期待されるのは形 {expected} のテンソルですが、返ってきた値は {got} です。",
           "raised": "{what} でエラー {error} が起きました。",
           "not_written": "{what}：演習がまだ書かれていません。演習の `raise NotImplementedError(...)` の行を"
                          "あなたのコードに置き換えてください。",
           "shapes": "2 つのテンソルの形が合っていません。組み合わせる各テンソルの .shape を print してみましょう。"
                     "a @ b には (…, n) @ (n, …) が必要で、+、-、* にはブロードキャストできる形が必要です。",
           "no_grad": "結果と重みのつながりが切れているので、autograd がさかのぼれません。途中で .item()、float()、"
                      "torch.tensor(...) を使わず、テンソルのまま計算してください。",
           "types": "演算が、扱えない種類の値を受け取りました（テンソルが必要なところにリストがある、引数が足りない・"
                    "多すぎる、など）。エラーの最後の行に何が問題かが書かれています。",
           "index": "インデックスがテンソルの外を指しています。位置は 0 から「サイズ − 1」までです。",
           "name": "名前が定義されていません。このセルより上のセルを上から順に実行したか、つづりが正しいかを"
                   "確かめてください。",
           "other": "エラーの最後の行に何が起きたかが、その上の行にどこで起きたかが書かれています。"},
}


class SelfCheckFailed(AssertionError):
    """A self-check that did not pass: its message already says what is wrong (no explanation is added)."""


def set_language(language: str) -> None:
    """The language of the fixed words in the messages: "en" or "ja". In a notebook, also turns on the
    sentence after an error (explain_errors)."""
    lang.set_language(language)
    explain_errors()


def language() -> str:
    """The language set_language chose: "en" (the default) or "ja"."""
    return lang.current()


def expect(got, expected, what: str, hint: str = "", rel: float = 1e-6, mistakes=()) -> None:
    """Print ✓ if `got` equals `expected` (floats: within a relative tolerance), else raise with a hint:
    the hint of the first (wrong value, hint) in `mistakes` that `got` equals, or else `hint`."""
    words = MESSAGES[lang.current()]
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

    words = MESSAGES[lang.current()]
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
    raise _failure(difference(got_t, want_t, what, lang.current()), hint if named is None else named)


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


def expect_shape(got, expected: tuple, what: str, hints=None) -> None:
    """Print ✓ if `got` is a tensor of shape `expected`, else raise: a wrong shape is the most common slip, so it
    is checked before any value. hints: one hint, or {a wrong shape, or a type such as float: what usually gives
    it}, e.g. {(4,): "Average with .mean().", float: "Keep it a tensor: no .item()."}."""
    words = MESSAGES[lang.current()]
    expected = tuple(expected)
    if got is None or not hasattr(got, "shape"):
        message = words["not_tensor_shape"].format(what=what, expected=expected, got=_show(got))
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
        words, meaning = MESSAGES[lang.current()], _meaning(e)
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
    words = MESSAGES[lang.current()]
    print(words["passed"].format(exercise=exercise.replace(MESSAGES["en"]["exercise"], words["exercise"])))


# -- what an error usually means ---------------------------------------------------------------------------
# (exception name, a pattern its message matches, English, Japanese): the first that matches explains it.
# {name} is the pattern's group of that name; {last} is one less than the size (the last index). The grader adds the same sentence to an error it reports.

ERRORS = [
    ("IndexError", r"index (?P<i>\d+) is out of bounds for (?:dimension|axis) (?P<dim>\d+) with size (?P=i)$",
     "index {i} is one past the end: along dimension {dim} the positions run from 0 to {last}. Usually a "
     "forgotten − 1 (the last of n items is at index n − 1).",
     "インデックス {i} は 1 つ行き過ぎです。次元 {dim} の位置は 0 から {last} までです。たいていは − 1 の書き忘れです"
     "（n 個の並びの最後はインデックス n − 1）。"),
    ("IndexError", r"index (?P<i>-?\d+) is out of bounds for (?:dimension|axis) (?P<dim>\d+) with size (?P<size>\d+)",
     "index {i} is outside the tensor: along dimension {dim} the positions run from 0 to {last}. Print the "
     "index you computed and the tensor's .shape.",
     "インデックス {i} はテンソルの外です。次元 {dim} の位置は 0 から {last} までです。計算したインデックスと、"
     "テンソルの .shape を print してみましょう。"),
    ("IndexError", r"list index out of range|string index out of range|tuple index out of range",
     "an index is past the end: a list of n items has the indices 0 … n − 1. A forgotten − 1, or a loop that "
     "runs one step too far?",
     "インデックスが最後を越えています。n 個の要素のリストのインデックスは 0 … n − 1 です。− 1 の書き忘れか、"
     "1 回多く回るループではありませんか？"),
    ("IndexError", r"too many indices for tensor of dimension (?P<ndim>\d+)",
     "you indexed with more positions than the tensor has dimensions ({ndim}): print its .shape.",
     "テンソルの次元の数（{ndim}）より多くの位置で添字を指定しています。.shape を print してみましょう。"),
    ("IndexError", r"Dimension out of range",
     "that dim does not exist in this tensor: dimensions count from 0 to ndim − 1, or from the end with -1 "
     "(the last), which works for any number of dimensions.",
     "その dim はこのテンソルにありません。次元は 0 から ndim − 1 まで、または後ろから -1（最後）と数えます。"
     "-1 なら次元の数に関係なく使えます。"),
    ("RuntimeError", r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)",
     "two tensors whose shapes do not fit together met in +, −, × or ÷. Usually a .sum(), .max() or .mean() "
     "without keepdim=True dropped a dimension, so the result no longer lines up: print the .shape of both sides.",
     "形の合わない 2 つのテンソルを +, −, ×, ÷ で組み合わせています。たいていは keepdim=True のない .sum()、"
     ".max()、.mean() で次元が 1 つ消え、向きがそろわなくなったのが原因です。両辺の .shape を print してみましょう。"),
    ("RuntimeError", r"cannot be multiplied|Expected size for first two dimensions of batch2|size mismatch",
     "in a matrix product a @ b the last size of a must equal the second-to-last of b: (…, n, k) @ (…, k, m). "
     "Print both shapes; a missing .transpose(-2, -1) (or .T) is the usual cause.",
     "行列積 a @ b では、a の最後のサイズと b の後ろから 2 番目のサイズが等しくなければいけません："
     "(…, n, k) @ (…, k, m)。両方の形を print してみましょう。たいていは .transpose(-2, -1)（か .T）の忘れです。"),
    ("RuntimeError", r"view size is not compatible with input tensor's size and stride",
     "after a .transpose the numbers are no longer in order in memory, so .view cannot regroup them: use "
     ".reshape (or .contiguous().view).",
     ".transpose のあとは数がメモリ上で順番に並んでいないので、.view では組み替えられません。.reshape"
     "（または .contiguous().view）を使います。"),
    ("RuntimeError", r"shape '\[[^\]]*\]' is invalid for input of size (?P<n>\d+)",
     "view/reshape asks for a shape whose sizes do not multiply to the tensor's {n} numbers: check the sizes "
     "you passed.",
     "view/reshape に渡した形のサイズを掛け合わせても、テンソルの数の個数 {n} になりません。渡したサイズを確かめ"
     "ましょう。"),
    ("RuntimeError", r"expected scalar type|expected .*dtype|dtype.*(but|does not match)|found dtype",
     "two tensors of different dtypes met (float32 and float64, or a float and a long): convert one, e.g. "
     "with .to(x.dtype), or create new tensors with dtype=x.dtype.",
     "dtype の違う 2 つのテンソル（float32 と float64、float と long など）を組み合わせています。どちらかを "
     ".to(x.dtype) などで変換するか、新しいテンソルを dtype=x.dtype で作ります。"),
    ("RuntimeError", r"same device",
     "some tensors are on the GPU and some on the CPU: create new tensors with device=x.device.",
     "GPU 上のテンソルと CPU 上のテンソルが混ざっています。新しいテンソルは device=x.device で作ります。"),
    ("RuntimeError", r"Boolean value of Tensor with more than one value is ambiguous",
     "`if`, `and` or `or` on a tensor of many numbers: work element by element instead, with torch.where, "
     "masked_fill, or & and |.",
     "たくさんの数を持つテンソルに `if`、`and`、`or` を使っています。torch.where、masked_fill、& と | で、"
     "要素ごとに計算します。"),
    ("RuntimeError", r"masked_fill.* boolean|mask.*Bool",
     "a mask must be a bool tensor (dtype=torch.bool): compare (x == 0) or create it with dtype=torch.bool.",
     "マスクは bool テンソル（dtype=torch.bool）でなければいけません。(x == 0) のような比較で作るか、"
     "dtype=torch.bool を指定します。"),
    ("TypeError", r"NoneType",
     "something is None where a value was expected: a function without `return` gives None.",
     "値があるはずのところが None です。`return` のない関数は None を返します。"),
    ("ZeroDivisionError", r"",
     "a division by zero: a count of 0 (an empty input, an unseen context) must be handled before dividing.",
     "0 で割っています。回数が 0 のとき（空の入力、見たことのない文脈）は、割る前に扱います。"),
    ("KeyError", r"",
     "a dict has no such key: a plain dict raises KeyError for a missing key; a Counter, or dict.get(key, 0), "
     "gives 0 instead.",
     "辞書にそのキーがありません。ふつうの dict は、ないキーで KeyError を出します。Counter や dict.get(key, 0) "
     "なら 0 が返ります。"),
    ("NameError", r"name '(?P<name>\w+)' is not defined",
     "{name} is not defined yet: run the cells above this one (the imports, your answer cell), and check the "
     "spelling.",
     "{name} はまだ定義されていません。このセルより上のセル（import、答えのセル）を実行し、綴りも確かめましょう。"),
    ("NotImplementedError", r"",
     "an exercise still raises NotImplementedError: replace the raise line in its answer cell with your code, "
     "then run that cell again.",
     "演習の答えがまだ NotImplementedError を送出しています。答えのセルの raise の行を自分のコードに置き換え、"
     "そのセルをもう一度実行しましょう。"),
    ("ValueError", r"too many values to unpack|not enough values to unpack",
     "unpacking needs as many names as values: B, T, C = x.shape needs a 3-D x. Print the .shape.",
     "アンパックには、値と同じ数の名前が必要です。B, T, C = x.shape には 3 次元の x が必要です。.shape を print "
     "してみましょう。"),
]
FALLBACK = ("read the last lines of the traceback above: they show the line of your code that raised it. "
            "Print the shapes and values used on that line.",
            "上のトレースバックの最後の数行に、エラーの起きたあなたのコードの行があります。その行で使っている値と形を"
            "print してみましょう。")


def explain(error: str, message: str, language: str | None = None) -> str:
    """What an error (its class name and message) usually means, one or two sentences in the language."""
    english = (language or lang.current()) == "en"
    for name, pattern, en, ja in ERRORS:
        match = re.search(pattern, message)
        if name == error and match:
            found = match.groupdict()
            size = found.get("size") or found.get("i")
            return (en if english else ja).format(**found, last=int(size) - 1 if size else "")
    return FALLBACK[0 if english else 1]


def explain_errors() -> bool:
    """In a notebook, print explain()'s sentence under every error a cell raises (a self-check's own message
    already says what is wrong, so it gets none). True when it is on; outside IPython it does nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    callbacks = shell.events.callbacks["post_run_cell"]
    if not any(getattr(c, "__name__", "") == _after_cell.__name__ for c in callbacks):
        shell.events.register("post_run_cell", _after_cell)
    return True


def _after_cell(result) -> None:
    error = getattr(result, "error_in_exec", None)
    if isinstance(error, Exception) and not isinstance(error, SelfCheckFailed):
        print(MESSAGES[lang.current()]["usually"].format(why=explain(type(error).__name__, str(error))))


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
