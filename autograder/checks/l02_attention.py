"""Hidden checks for lesson 02 · attention (slides 16–18, 32–34).

The right answers come from `shikumi.attention` (the course's one attention) and PyTorch; the classic mistakes
(no √d, softmax over the wrong axis, a mask applied after the softmax, a view without a transpose…) are
recognised by computing the wrong variant here and comparing.
"""

from __future__ import annotations

import math
import random

import torch

from autograder.checks import Case, array_problem, check, more, shape_problem
from autograder.checks import first_hint as _first_hint
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from autograder.checks import tensor_problem as _tensor_problem
from shikumi.attention import MultiHeadAttention, causal_mask
from shikumi.lang import tr

_LIB = "shikumi.attention"  # the library's own solutions: calling them scores 0


def _arg(name: str, x) -> str:
    """An argument in a message by its shape: "x of shape (2, 5)"."""
    if not hasattr(x, "shape"):
        return f"{name} {x!r}"
    shape = tuple(x.shape)
    return tr(f"{name} of shape {shape}", f"形 {shape} の {name}")


# -- softmax -----------------------------------------------------------------------------------------

def softmax_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    rows_apart = _randn(g, 2, 5)
    rows_apart[0] += 1000.0                                  # one row around +1000, one around -1000
    rows_apart[1] -= 1000.0
    masked = _randn(g, 3, 4)
    masked[0, 1] = masked[2, 0] = masked[2, 3] = float("-inf")  # masked entries get weight 0
    return [
        Case((_randn(g, 6),)),                               # one row
        Case((_randn(g, 3, 5, scale=3.0),)),                 # each row sums to 1
        Case((_randn(g, 4, 3),), {"dim": 0}),                # each column sums to 1
        Case((_randn(g, 2, 3, 4),), {"dim": 1}),             # the middle axis of three
        Case((_randn(g, 3, 6) * 10 + 1000.0,)),              # exp(1000) overflows: subtract the max
        Case((rows_apart,)),                                 # the max must be each row's own
        Case((masked,)),                                     # -inf → 0
    ]


def _softmax_error(case: Case, error: str, message: str) -> str:
    """softmax without keepdim=True: x.max(dim=dim) or .sum(dim=dim) no longer lines up with x."""
    if error != "RuntimeError" or "must match" not in message:
        return ""
    shape = tuple(case.args[0].shape)
    return tr(f"x.max(dim=dim) and x.sum(dim=dim) drop the dimension dim, so for x of shape {shape} they no longer "
                "line up with x: add keepdim=True to both (x.max(dim=dim, keepdim=True).values).",
                f"x.max(dim=dim) と x.sum(dim=dim) は次元 dim を消すので、形 {shape} の x と向きがそろわなくなります。"
                "両方に keepdim=True をつけます（x.max(dim=dim, keepdim=True).values）。")


@check("softmax", cases=softmax_cases, explain=_softmax_error)
def softmax_verify(case: Case, value) -> str | None:
    (x,), dim = case.args, case.kwargs.get("dim", -1)
    what = f"softmax({_arg('x', x)}{'' if 'dim' not in case.kwargs else f', dim={dim}'})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    x64 = x.double()
    expected = torch.softmax(x64, dim=dim)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    others = [d for d in range(x.dim()) if d != dim % x.dim()]
    e = torch.exp(x64 - x64.max(dim=dim, keepdim=True).values)
    largest = f"{x64[torch.isfinite(x64)].abs().max():.0f}"
    variants = [
        (torch.exp(x64) / torch.exp(x64).sum(dim=dim, keepdim=True),
         tr(f"These inputs are large (up to {largest}) and exp() overflows to inf: "
              "subtract x.max(dim=dim, keepdim=True).values before torch.exp.",
              f"入力が大きく（最大 {largest}）、exp() が inf にあふれます。"
              "torch.exp の前に x.max(dim=dim, keepdim=True).values を引きます。")),
        (torch.exp(x64 - x64.max()) / torch.exp(x64 - x64.max()).sum(dim=dim, keepdim=True),
         tr("Subtract each row's own max (x.max(dim=dim, keepdim=True).values), not the max of the whole tensor: "
              "a row far below the overall max underflows to 0 / 0.",
              "テンソル全体の最大値ではなく、各行自身の最大値（x.max(dim=dim, keepdim=True).values）を引きます。"
              "全体の最大値よりずっと小さい行は、アンダーフローして 0 / 0 になります。")),
    ]
    variants += [(torch.softmax(x64, dim=d), tr(f"That is the softmax over dim={d}: use the `dim` argument "
                                                  f"(here dim={dim}) in the max and in the sum.",
                                                  f"それは dim={d} 方向の softmax です。max にも sum にも引数 `dim`"
                                                  f"（ここでは dim={dim}）を使います。")) for d in others]
    variants += [
        (e, tr("Divide by the sum along dim: the weights must sum to 1.",
                 "dim 方向の合計で割ります。重みの合計は 1 になるはずです。")),
        (e / e.sum(), tr("Divide by the sum along dim (keepdim=True), not by the sum of the whole tensor.",
                           "テンソル全体の合計ではなく、dim 方向の合計（keepdim=True）で割ります。")),
    ]
    hint = _first_hint(value, variants)
    got = torch.as_tensor(value).double()
    if tuple(got.shape) == tuple(expected.shape) and not torch.isfinite(got).all():
        problem = tr(f"{what}: the result contains nan or inf.", f"{what}：結果に nan か inf が含まれています。")
        hint = hint or more(tr("exp() of a large number is inf: subtract x.max(dim=dim, keepdim=True).values before "
                               "torch.exp.",
                               "大きな数の exp() は inf になります。torch.exp の前に x.max(dim=dim, keepdim=True).values "
                               "を引きます。"))
    return problem + hint


# -- attention_weights -------------------------------------------------------------------------------

def _padding(g: torch.Generator, B: int, T: int) -> torch.Tensor:
    """(B, 1, 1, T) bool: each sentence keeps 2..T real tokens, then padding."""
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    lengths[0] = T - 1                                      # at least one sentence really is padded
    return (torch.arange(T)[None, :] < lengths[:, None])[:, None, None, :]


def weights_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [
        Case((_randn(g, 4, 8), _randn(g, 4, 8))),                            # one sentence, d = 8
        Case((_randn(g, 2, 3, 16), _randn(g, 2, 5, 16))),                    # a batch; 3 queries, 5 keys
        Case((_randn(g, 2, 2, 4, 4), _randn(g, 2, 2, 4, 4))),                # (B, heads, T, head_dim)
        Case((_randn(g, 5, 64), _randn(g, 5, 64))),                          # d = 64: √d matters a lot
        Case((_randn(g, 5, 8), _randn(g, 5, 8)), {"mask": causal_mask(5)}),  # causal
        Case((_randn(g, 2, 2, 6, 4), _randn(g, 2, 2, 6, 4)), {"mask": _padding(g, 2, 6)}),  # padding
    ]


def _scores(q, k, scale=True, divisor=None):
    s = q @ k.transpose(-2, -1)
    return s / (divisor if divisor is not None else math.sqrt(q.size(-1)) if scale else 1.0)


def _masked(scores, mask, fill=float("-inf"), keep=None):
    if mask is None:
        return scores
    return scores.masked_fill(~mask if keep is None else keep, fill)


@check("attention_weights", cases=weights_cases, twin=f"{_LIB}:scaled_dot_product_attention")
def weights_verify(case: Case, value) -> str | None:
    q, k = (a.double() for a in case.args)
    mask = case.kwargs.get("mask")
    what = f"attention_weights({_arg('q', q)}, {_arg('k', k)}" + (f", {_arg('mask', mask)})" if mask is not None else ")")
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = torch.softmax(_masked(_scores(q, k), mask), dim=-1)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    got, flipped = torch.as_tensor(value), (*expected.shape[:-2], expected.shape[-1], expected.shape[-2])
    if tuple(got.shape) != tuple(expected.shape) and tuple(got.shape) == flipped:
        return problem + more(tr("scores[i, j] = q_i · k_j, one row per query: compute q @ k.transpose(-2, -1).",
                                 "scores[i, j] = q_i · k_j で、クエリごとに 1 行です。q @ k.transpose(-2, -1) を計算します。"))
    d = q.size(-1)
    root = f"{math.sqrt(d):.3g}"
    variants = []
    if mask is not None:
        variants += [
            (torch.softmax(_scores(q, k), dim=-1).masked_fill(~mask, 0.0),
             tr("The mask was applied after the softmax, so the rows no longer sum to 1: fill the scores with -inf "
                  "before the softmax.",
                  "マスクを softmax のあとにかけたので、行の合計が 1 になりません。softmax の前に、スコアを -inf で"
                  "埋めます。")),
            (torch.softmax(_masked(_scores(q, k), mask, keep=mask), dim=-1),
             tr("The mask is inverted: True means the query MAY look there. Fill where the mask is False (~mask).",
                  "マスクが逆です。True は、そのクエリがそこを「見てよい」という意味です。マスクが False のところ"
                  "（~mask）を埋めます。")),
            (torch.softmax(_masked(_scores(q, k), mask, fill=0.0), dim=-1),
             tr("Fill the forbidden scores with float('-inf'), not 0: exp(0) = 1 still gives them weight.",
                  "見てはいけないスコアは、0 ではなく float('-inf') で埋めます。exp(0) = 1 なので、0 では重みが"
                  "残ってしまいます。")),
            (torch.softmax(_scores(q, k), dim=-1),
             tr("The mask was ignored: fill the scores where it is False with -inf before the softmax.",
                  "マスクが使われていません。softmax の前に、マスクが False のところのスコアを -inf で埋めます。")),
        ]
    variants += [
        (torch.softmax(_masked(_scores(q, k, scale=False), mask), dim=-1),
         tr(f"Did you forget to divide the scores by √d (here √{d} = {root})?",
              f"スコアを √d（ここでは √{d} = {root}）で割り忘れていませんか？")),
        (torch.softmax(_masked(_scores(q, k, divisor=d), mask), dim=-1),
         tr(f"Divide by √d = {root}, not by d = {d}.", f"d = {d} ではなく、√d = {root} で割ります。")),
        (torch.softmax(_masked(_scores(q, k), mask), dim=-2),
         tr("The softmax went over the wrong dimension: each row (one query, the last dimension) must sum to 1.",
              "softmax をとる次元が違います。各行（1 つのクエリ、最後の次元）の合計が 1 になるようにします。")),
    ]
    if q.size(-2) == k.size(-2):
        variants.append((torch.softmax(_masked(_scores(k, q), mask), dim=-1),
                         tr("scores[i, j] = q_i · k_j: compute q @ k.transpose(-2, -1), not k @ q.transpose(-2, -1).",
                              "scores[i, j] = q_i · k_j です。k @ q.transpose(-2, -1) ではなく、"
                              "q @ k.transpose(-2, -1) を計算します。")))
    return problem + _first_hint(value, variants)


# -- causal_mask -------------------------------------------------------------------------------------

def causal_cases(rng: random.Random) -> list[Case]:
    return [Case((1,)), Case((2,)), Case((4,)), Case((rng.randint(5, 8),)), Case((rng.randint(9, 16),))]


@check("causal_mask", cases=causal_cases, twin=f"{_LIB}:causal_mask")
def causal_verify(case: Case, value) -> str | None:
    (T,) = case.args
    what = f"causal_mask({T})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = torch.ones(T, T, dtype=torch.bool).tril()
    got = torch.as_tensor(value)
    if tuple(got.shape) != (T, T):
        return shape_problem(what, (T, T), tuple(got.shape))
    if got.dtype != torch.bool:
        same = torch.equal(got.double(), expected.double())
        return (tr(f"{what}: expected a bool tensor (dtype torch.bool), got dtype {got.dtype}",
                     f"{what}：期待されるのは bool のテンソル（dtype torch.bool）ですが、返ってきたテンソルの dtype は "
                     f"{got.dtype} です。")
                + (tr(" — the pattern is right: add dtype=torch.bool (or .bool()).",
                        "並び方は合っています。dtype=torch.bool（または .bool()）を付けてください。")
                   if same else tr(".", "")))
    if torch.equal(got, expected):
        return None
    want_list, got_list = expected.int().tolist(), got.int().tolist()
    problem = tr(f"{what}: expected {want_list} (1 = True), got {got_list}.",
                   f"{what}：期待される値は {want_list}（1 = True）、返ってきた値は {got_list} です。")
    if len(problem) > 300:
        row, col = (got != expected).nonzero()[0].tolist()
        want, have = bool(expected[row, col]), bool(got[row, col])
        problem = tr(f"{what}: wrong at row {row}, column {col}: expected {want}, got {have}.",
                       f"{what}：{row} 行 {col} 列が違います。期待される値は {want}、返ってきた値は {have} です。")
    ones = torch.ones(T, T, dtype=torch.int)
    return problem + _first_hint(got.int(), [
        (ones.triu(), tr("That is the upper triangle: row i is a query, and it may look at columns j <= i "
                           "(the past), so keep the lower triangle (tril).",
                           "それは上三角です。i 行目はクエリで、見てよいのは j <= i の列（過去）なので、"
                           "下三角（tril）を残します。")),
        (ones.tril(-1), tr("A word may look at itself: keep the diagonal True (tril(), not tril(-1)).",
                             "単語は自分自身を見てよいので、対角線は True のままにします（tril(-1) ではなく tril()）。")),
        ((~expected).int(), tr("True and False are swapped: True means 'may look' (itself and the past).",
                                 "True と False が逆です。True は「見てよい」（自分自身と過去）という意味です。")),
    ])


# -- split_heads, merge_heads ---------------------------------------------------------------------------

def split_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [Case((_randn(g, B, T, d), n)) for B, T, d, n in
            ((1, 3, 4, 2), (2, 4, 12, 3), (2, 5, 8, 4), (1, 3, 8, 1), (2, 2, 16, 8))]


@check("split_heads", cases=split_cases, twin=f"{_LIB}:MultiHeadAttention.split_heads")
def split_verify(case: Case, value) -> str | None:
    x, n_head = case.args
    B, T, d_model = x.shape
    hd = d_model // n_head
    what = f"split_heads({_arg('x', x)}, n_head={n_head})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = x.view(B, T, n_head, hd).transpose(1, 2)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    if tuple(value.shape) == (B, T, n_head, hd):
        return problem + more(tr("That is the shape after the view: now swap the T and n_head axes with .transpose(1, 2).",
                                 "それは view の直後の形です。続けて .transpose(1, 2) で T と n_head の軸を入れ替えます。"))
    return problem + _first_hint(value, [
        (x.reshape(B, n_head, T, hd),
         tr("x.view(B, n_head, T, head_dim) cuts the numbers in the wrong order and mixes the words up: "
              "view(B, T, n_head, head_dim), then .transpose(1, 2).",
              "x.view(B, n_head, T, head_dim) では数を切り分ける順番が違い、単語が混ざってしまいます。"
              "view(B, T, n_head, head_dim) のあとで .transpose(1, 2) です。")),
        (x.view(B, T, hd, n_head).permute(0, 3, 1, 2),
         tr("Head h takes a block of consecutive numbers h*head_dim … (h+1)*head_dim - 1: "
              "view(B, T, n_head, head_dim).",
              "ヘッド h は、連続した数 h*head_dim … (h+1)*head_dim - 1 のまとまりを受け持ちます。"
              "view(B, T, n_head, head_dim) です。")),
    ])


def merge_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [Case((_randn(g, B, n, T, hd),)) for B, n, T, hd in
            ((1, 2, 3, 2), (2, 3, 4, 4), (2, 4, 5, 2), (1, 1, 3, 8), (2, 8, 2, 2))]


@check("merge_heads", cases=merge_cases, twin=f"{_LIB}:MultiHeadAttention.merge_heads")
def merge_verify(case: Case, value) -> str | None:
    (x,) = case.args
    B, n_head, T, hd = x.shape
    what = f"merge_heads({_arg('x', x)})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = x.transpose(1, 2).reshape(B, T, n_head * hd)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    if tuple(value.shape) == (B, T, n_head, hd):
        return problem + more(tr("Almost: after the transpose, also join the last two axes with .reshape(B, T, -1).",
                                 "あと少しです。transpose のあとで、最後の 2 つの軸も .reshape(B, T, -1) でつなげます。"))
    return problem + _first_hint(value, [
        (x.reshape(B, T, n_head * hd),
         tr("Transpose back first (.transpose(1, 2)), then reshape: reshaping (B, n_head, T, head_dim) directly "
              "puts the heads' numbers on the wrong words.",
              "先に .transpose(1, 2) で軸を戻してから reshape します。(B, n_head, T, head_dim) をそのまま reshape "
              "すると、ヘッドの数が別の単語に入ってしまいます。")),
    ])


# -- MultiHeadSelfAttention (a module) ----------------------------------------------------------------------

def _state(g: torch.Generator, d: int) -> dict[str, torch.Tensor]:
    state = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        state[f"{name}.weight"] = _randn(g, d, d, scale=1 / math.sqrt(d))
        state[f"{name}.bias"] = _randn(g, d, scale=0.1)
    return state


def mha_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for (d, n_head, B, T), mask in zip(((8, 2, 2, 4), (12, 3, 1, 5), (16, 4, 2, 6), (8, 1, 2, 3), (16, 8, 1, 4)),
                                       (None, "causal", "padding", None, "causal")):
        x = _randn(g, B, T, d)
        m = causal_mask(T) if mask == "causal" else _padding(g, B, T) if mask == "padding" else None
        cases.append(Case((d, n_head), state=_state(g, d), inputs=(x,) if m is None else (x, m)))
    return cases


def _mha(case: Case, n_head=None, scale_d=None, out_proj=True, swap_kv=False, use_mask=True, merge_ok=True):
    """Multi-head self-attention written out, with switches for the classic mistakes."""
    d, heads = case.args
    n_head = n_head or heads
    s = {k: v.double() for k, v in case.state.items()}
    x = case.inputs[0].double()
    mask = case.inputs[1] if len(case.inputs) > 1 and use_mask else None
    B, T, _ = x.shape
    hd = d // n_head

    def proj(name, t):
        return t @ s[f"{name}.weight"].T + s[f"{name}.bias"]

    def split(t):
        return t.view(B, T, n_head, hd).transpose(1, 2)

    q, k, v = split(proj("q_proj", x)), split(proj("k_proj", x)), split(proj("v_proj", x))
    if swap_kv:
        k, v = v, k
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale_d or hd)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    out = scores.softmax(-1) @ v                                   # (B, nh, T, hd)
    out = out.transpose(1, 2).reshape(B, T, d) if merge_ok else out.reshape(B, T, d)
    return proj("out_proj", out) if out_proj else out


@check("MultiHeadSelfAttention", cases=mha_cases, kind="module", twin=f"{_LIB}:MultiHeadAttention")
def mha_verify(case: Case, value) -> str | None:
    d, n_head = case.args
    x = case.inputs[0]
    mask_text = "" if len(case.inputs) == 1 else (", causal_mask" if case.inputs[1].dim() == 2
                                                  else tr(", padding mask", ", パディングマスク"))
    what = f"MultiHeadSelfAttention({d}, {n_head})({_arg('x', x)}{mask_text})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    reference = MultiHeadAttention(d, n_head).double()
    reference.load_state_dict({k: v.double() for k, v in case.state.items()})
    with torch.no_grad():
        expected = reference(x.double(), mask=case.inputs[1] if len(case.inputs) > 1 else None)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    variants = [
        (_mha(case, out_proj=False), tr("Finish with self.out_proj on the merged heads.",
                                          "最後に、結合したヘッドに self.out_proj をかけます。")),
        (_mha(case, scale_d=d), tr(f"Scale by √head_dim = √{d // n_head} (q.size(-1) after the split), "
                                     f"not √d_model = √{d}.",
                                     f"√d_model = √{d} ではなく、√head_dim = √{d // n_head}（分割したあとの q.size(-1)）"
                                     "で割ります。")),
        (_mha(case, n_head=1), tr("That is a single head: split q, k and v into self.n_head heads first.",
                                    "それはヘッドが 1 つの場合です。先に q, k, v を self.n_head 個のヘッドに分割します。")),
        (_mha(case, swap_kv=True), tr("Keys and values are swapped: weights come from q and k, then weights @ v.",
                                        "キーとバリューが逆です。重みは q と k から求め、それから weights @ v です。")),
        (_mha(case, merge_ok=False), tr("Merge the heads with transpose(1, 2) before the reshape (your merge_heads).",
                                          "reshape の前に transpose(1, 2) をして、ヘッドを結合します"
                                          "（あなたの merge_heads）。")),
    ]
    if len(case.inputs) > 1:
        variants.append((_mha(case, use_mask=False), tr("The mask was ignored: pass it on to attention_weights.",
                                                          "マスクが使われていません。attention_weights に渡します。")))
    return problem + (_first_hint(value, variants) or more(
        tr("The layer calls your split_heads, attention_weights and merge_heads: check that their exercises pass first, "
         "then follow the steps in the docstring.",
         "この層は、あなたの split_heads、attention_weights、merge_heads を呼び出します。まずそれらの演習が合格する"
         "ことを確かめてから、docstring の手順どおりに書きます。")))
