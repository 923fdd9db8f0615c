"""Hidden checks for lesson 02 · attention (slides 16–18, 32–34).

The right answers come from `shikumi.attention` (the course's one attention) and PyTorch; the classic mistakes
(no √d, softmax over the wrong axis, a mask applied after the softmax, a view without a transpose…) are
recognised by computing the wrong variant here and comparing.
"""

from __future__ import annotations

import math
import random

import torch

from autograder.checks import Case, Check, array_problem
from autograder.checks import first_hint as _first_hint
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from autograder.checks import tensor_problem as _tensor_problem
from shikumi.attention import MultiHeadAttention, causal_mask


def _shape(x) -> str:
    return f"of shape {tuple(x.shape)}" if hasattr(x, "shape") else repr(x)








# -- Exercise 2.1: softmax ---------------------------------------------------------------------------

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


def softmax_verify(case: Case, value) -> str | None:
    (x,), dim = case.args, case.kwargs.get("dim", -1)
    what = f"softmax(x {_shape(x)}{'' if 'dim' not in case.kwargs else f', dim={dim}'})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    x64 = x.double()
    expected = torch.softmax(x64, dim=dim)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    others = [d for d in range(x.dim()) if d != dim % x.dim()]
    e = torch.exp(x64 - x64.max(dim=dim, keepdim=True).values)
    variants = [
        (torch.exp(x64) / torch.exp(x64).sum(dim=dim, keepdim=True),
         f"These inputs are large (up to {x64[torch.isfinite(x64)].abs().max():.0f}) and exp() overflows to inf: "
         "subtract x.max(dim=dim, keepdim=True).values before torch.exp."),
        (torch.exp(x64 - x64.max()) / torch.exp(x64 - x64.max()).sum(dim=dim, keepdim=True),
         "Subtract each row's own max (x.max(dim=dim, keepdim=True).values), not the max of the whole tensor: "
         "a row far below the overall max underflows to 0 / 0."),
    ]
    variants += [(torch.softmax(x64, dim=d), f"That is the softmax over dim={d}: use the `dim` argument "
                  f"(here dim={dim}) in the max and in the sum.") for d in others]
    variants += [
        (e, "Divide by the sum along dim: the weights must sum to 1."),
        (e / e.sum(), "Divide by the sum along dim (keepdim=True), not by the sum of the whole tensor."),
    ]
    hint = _first_hint(value, variants)
    got = torch.as_tensor(value).double()
    if tuple(got.shape) == tuple(expected.shape) and not torch.isfinite(got).all():
        problem = f"{what}: the result contains nan or inf."
        hint = hint or " exp() of a large number is inf: subtract x.max(dim=dim, keepdim=True).values before torch.exp."
    return problem + hint


# -- Exercise 2.2: attention_weights -----------------------------------------------------------------

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


def weights_verify(case: Case, value) -> str | None:
    q, k = (a.double() for a in case.args)
    mask = case.kwargs.get("mask")
    what = f"attention_weights(q {_shape(q)}, k {_shape(k)}" + (f", mask {_shape(mask)})" if mask is not None else ")")
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = torch.softmax(_masked(_scores(q, k), mask), dim=-1)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    got, flipped = torch.as_tensor(value), (*expected.shape[:-2], expected.shape[-1], expected.shape[-2])
    if tuple(got.shape) != tuple(expected.shape) and tuple(got.shape) == flipped:
        return problem + " scores[i, j] = q_i · k_j, one row per query: compute q @ k.transpose(-2, -1)."
    d = q.size(-1)
    variants = []
    if mask is not None:
        variants += [
            (torch.softmax(_scores(q, k), dim=-1).masked_fill(~mask, 0.0),
             "The mask was applied after the softmax, so the rows no longer sum to 1: fill the scores with -inf "
             "before the softmax."),
            (torch.softmax(_masked(_scores(q, k), mask, keep=mask), dim=-1),
             "The mask is inverted: True means the query MAY look there. Fill where the mask is False (~mask)."),
            (torch.softmax(_masked(_scores(q, k), mask, fill=0.0), dim=-1),
             "Fill the forbidden scores with float('-inf'), not 0: exp(0) = 1 still gives them weight."),
            (torch.softmax(_scores(q, k), dim=-1), "The mask was ignored: fill the scores where it is False with "
             "-inf before the softmax."),
        ]
    variants += [
        (torch.softmax(_masked(_scores(q, k, scale=False), mask), dim=-1),
         f"Did you forget to divide the scores by √d (here √{d} = {math.sqrt(d):.3g})?"),
        (torch.softmax(_masked(_scores(q, k, divisor=d), mask), dim=-1),
         f"Divide by √d = {math.sqrt(d):.3g}, not by d = {d}."),
        (torch.softmax(_masked(_scores(q, k), mask), dim=-2),
         "The softmax went over the wrong dimension: each row (one query, the last dimension) must sum to 1."),
    ]
    if q.size(-2) == k.size(-2):
        variants.append((torch.softmax(_masked(_scores(k, q), mask), dim=-1),
                         "scores[i, j] = q_i · k_j: compute q @ k.transpose(-2, -1), not k @ q.transpose(-2, -1)."))
    return problem + _first_hint(value, variants)


# -- Exercise 2.3: causal_mask -----------------------------------------------------------------------

def causal_cases(rng: random.Random) -> list[Case]:
    return [Case((1,)), Case((2,)), Case((4,)), Case((rng.randint(5, 8),)), Case((rng.randint(9, 16),))]


def causal_verify(case: Case, value) -> str | None:
    (T,) = case.args
    what = f"causal_mask({T})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = torch.ones(T, T, dtype=torch.bool).tril()
    got = torch.as_tensor(value)
    if tuple(got.shape) != (T, T):
        return f"{what}: expected a tensor of shape ({T}, {T}), got shape {tuple(got.shape)}."
    if got.dtype != torch.bool:
        same = torch.equal(got.double(), expected.double())
        return (f"{what}: expected a bool tensor (dtype torch.bool), got dtype {got.dtype}"
                + (" — the pattern is right: add dtype=torch.bool (or .bool())." if same else "."))
    if torch.equal(got, expected):
        return None
    problem = f"{what}: expected {expected.int().tolist()} (1 = True), got {got.int().tolist()}."
    if len(problem) > 300:
        wrong = (got != expected).nonzero()[0].tolist()
        problem = (f"{what}: wrong at row {wrong[0]}, column {wrong[1]}: expected {bool(expected[tuple(wrong)])}, "
                   f"got {bool(got[tuple(wrong)])}.")
    ones = torch.ones(T, T, dtype=torch.int)
    return problem + _first_hint(got.int(), [
        (ones.triu(), "That is the upper triangle: row i is a query, and it may look at columns j <= i "
                      "(the past), so keep the lower triangle (tril)."),
        (ones.tril(-1), "A word may look at itself: keep the diagonal True (tril(), not tril(-1))."),
        ((~expected).int(), "True and False are swapped: True means 'may look' (itself and the past)."),
    ])


# -- Exercises 2.4 and 2.5: split_heads, merge_heads ----------------------------------------------------

def split_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [Case((_randn(g, B, T, d), n)) for B, T, d, n in
            ((1, 3, 4, 2), (2, 4, 12, 3), (2, 5, 8, 4), (1, 3, 8, 1), (2, 2, 16, 8))]


def split_verify(case: Case, value) -> str | None:
    x, n_head = case.args
    B, T, d_model = x.shape
    hd = d_model // n_head
    what = f"split_heads(x {_shape(x)}, n_head={n_head})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = x.view(B, T, n_head, hd).transpose(1, 2)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    if tuple(value.shape) == (B, T, n_head, hd):
        return problem + " That is the shape after the view: now swap the T and n_head axes with .transpose(1, 2)."
    return problem + _first_hint(value, [
        (x.reshape(B, n_head, T, hd), "x.view(B, n_head, T, head_dim) cuts the numbers in the wrong order and "
                                      "mixes the words up: view(B, T, n_head, head_dim), then .transpose(1, 2)."),
        (x.view(B, T, hd, n_head).permute(0, 3, 1, 2), "Head h takes a block of consecutive numbers "
                                                        "h*head_dim … (h+1)*head_dim - 1: view(B, T, n_head, head_dim)."),
    ])


def merge_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [Case((_randn(g, B, n, T, hd),)) for B, n, T, hd in
            ((1, 2, 3, 2), (2, 3, 4, 4), (2, 4, 5, 2), (1, 1, 3, 8), (2, 8, 2, 2))]


def merge_verify(case: Case, value) -> str | None:
    (x,) = case.args
    B, n_head, T, hd = x.shape
    what = f"merge_heads(x {_shape(x)})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = x.transpose(1, 2).reshape(B, T, n_head * hd)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    if tuple(value.shape) == (B, T, n_head, hd):
        return problem + " Almost: after the transpose, also join the last two axes with .reshape(B, T, -1)."
    return problem + _first_hint(value, [
        (x.reshape(B, T, n_head * hd), "Transpose back first (.transpose(1, 2)), then reshape: reshaping "
                                       "(B, n_head, T, head_dim) directly puts the heads' numbers on the wrong words."),
    ])


# -- Exercise 2.6: MultiHeadSelfAttention (a module) --------------------------------------------------------

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


def mha_verify(case: Case, value) -> str | None:
    d, n_head = case.args
    x = case.inputs[0]
    mask_text = "" if len(case.inputs) == 1 else (", causal_mask" if case.inputs[1].dim() == 2 else ", padding mask")
    what = f"MultiHeadSelfAttention({d}, {n_head})(x {_shape(x)}{mask_text})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    reference = MultiHeadAttention(d, n_head).double()
    reference.load_state_dict({k: v.double() for k, v in case.state.items()})
    with torch.no_grad():
        expected = reference(x.double(), mask=case.inputs[1] if len(case.inputs) > 1 else None)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    variants = [
        (_mha(case, out_proj=False), "Finish with self.out_proj on the merged heads."),
        (_mha(case, scale_d=d), f"Scale by √head_dim = √{d // n_head} (q.size(-1) after the split), "
                                f"not √d_model = √{d}."),
        (_mha(case, n_head=1), "That is a single head: split q, k and v into self.n_head heads first."),
        (_mha(case, swap_kv=True), "Keys and values are swapped: weights come from q and k, then weights @ v."),
        (_mha(case, merge_ok=False), "Merge the heads with transpose(1, 2) before the reshape (your merge_heads)."),
    ]
    if len(case.inputs) > 1:
        variants.append((_mha(case, use_mask=False), "The mask was ignored: pass it on to attention_weights."))
    return problem + (_first_hint(value, variants) or " The layer calls your split_heads, attention_weights and "
                      "merge_heads: check that their exercises pass first, then follow the steps in the docstring.")


CHECKS = {
    "softmax": Check("softmax", softmax_cases, softmax_verify),
    "attention_weights": Check("attention_weights", weights_cases, weights_verify),
    "causal_mask": Check("causal_mask", causal_cases, causal_verify),
    "split_heads": Check("split_heads", split_cases, split_verify),
    "merge_heads": Check("merge_heads", merge_cases, merge_verify),
    "MultiHeadSelfAttention": Check("MultiHeadSelfAttention", mha_cases, mha_verify, kind="module"),
}
