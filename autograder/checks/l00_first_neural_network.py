"""Hidden checks for lesson 00 · a first neural network (slides 2, 8).

The right answers are computed here with PyTorch in float64. The classic beginner slips (x * w instead of x @ w,
a forgotten bias, a sum instead of a mean, a step uphill, a forgotten factor 2, log of a softmax that underflows,
a missing ReLU, a softmax in forward…) are recognised by computing the wrong variant here and comparing.
"""

from __future__ import annotations

import math
import random

import torch

from autograder.checks import Case, array_problem, check, close, expected_got, more, shape_problem, show
from autograder.checks import first_hint as _first_hint
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from autograder.checks import tensor_problem as _tensor_problem
from autograder.plain import Unsupported
from shikumi.lang import tr


def _arg(name: str, x) -> str:
    """An argument in a message by its shape: "x of shape (5, 3)"; a number as itself."""
    if not hasattr(x, "shape") or tuple(x.shape) == ():
        return f"{name}={show(float(x))}"
    shape = tuple(x.shape)
    return tr(f"{name} of shape {shape}", f"形 {shape} の {name}")


def _shape_hint(got: tuple, hints: dict) -> str:
    """The hint for a wrong shape, if this shape has one: {shape: tr(…, …)}."""
    return more("") + hints[got] if got in hints else ""


def _a_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _item_hint() -> str:
    return more(tr("Return the tensor itself: .item() and float() turn it into a plain number, which autograd cannot "
                   "trace back to the weights (section 5).",
                   "テンソルのまま返します。.item() や float() を使うとただの数になり、autograd が重みまでさかのぼれ"
                   "ません（5 節）。"))


# -- predict -----------------------------------------------------------------------------------------------

def predict_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = [Case((_randn(g, n, d, scale=2.0), _randn(g, d), round(rng.uniform(0.5, 3.0) * rng.choice((-1, 1)), 2)))
             for n, d in ((5, 3), (4, 1), (6, 2), (3, 5))]
    cases.append(Case((_randn(g, 4, 2), _randn(g, 2), torch.tensor(rng.uniform(0.5, 2.0)).float())))  # b: a tensor
    return cases


@check("predict", cases=predict_cases)
def predict_verify(case: Case, value) -> str | None:
    x, w, b = case.args
    what = f"predict({_arg('x', x)}, {_arg('w', w)}, {_arg('b', b)})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    x64, w64, b64 = x.double(), w.double(), float(b)
    expected = x64 @ w64 + b64                                              # (N,)
    n, d = x.shape
    got = tuple(torch.as_tensor(value).shape)
    if got != (n,):
        hints = {(n, d): tr("x * w multiplies each input by its weight but does not add them up: x @ w does both.",
                              "x * w は入力に重みを掛けるだけで、足し合わせません。x @ w なら両方を行います。"),
                 (n, 1): tr("Return one number per example, shape (N,): use w as it is, x @ w (not a column, "
                              "not x * w).",
                              "1 例につき数 1 つ、形 (N,) を返します。w は列にせず、そのまま x @ w とします"
                              "（x * w でもありません）。"),
                 (): tr("That is one number for the whole batch: keep one prediction per example (no .sum()).",
                          "それはバッチ全体で数 1 つです。1 例につき予測を 1 つ残します（.sum() は使いません）。")}
        return shape_problem(what, (n,), got) + _shape_hint(got, hints)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    return problem + _first_hint(value, [
        (x64 @ w64, tr("Every prediction is off by exactly the bias: did you forget + b?",
                         "どの予測もちょうどバイアスの分だけずれています。+ b を忘れていませんか？")),
        (x64 @ w64 - b64, tr("Add the bias (+ b), do not subtract it.", "バイアスは引かずに足します（+ b）。")),
        ((x64 @ w64) * b64, tr("Add the bias (+ b), do not multiply by it.", "バイアスは掛けずに足します（+ b）。")),
        ((x64 + b64) @ w64, tr("Add b after the weighted sum, not to every input: x @ w + b.",
                                 "b は入力それぞれにではなく、重みつきの和のあとに足します：x @ w + b。")),
    ])


# -- mse_loss ----------------------------------------------------------------------------------------------

def mse_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = [Case((_randn(g, n, scale=s), _randn(g, n, scale=s))) for n, s in ((8, 1.0), (5, 3.0), (12, 0.5))]
    cases.append(Case((_randn(g, 3, 4), _randn(g, 3, 4))))                   # any shape: the mean of every number
    same = _randn(g, 6)
    cases.append(Case((same, same.clone()), edge=True))                       # a perfect prediction: 0
    return cases


@check("mse_loss", cases=mse_cases, twin="torch.nn.functional:mse_loss")
def mse_verify(case: Case, value) -> str | None:
    pred, target = case.args
    what = f"mse_loss({_arg('pred', pred)}, {_arg('target', target)})"
    miss = pred.double() - target.double()
    expected = (miss ** 2).mean()
    if _a_number(value):
        right = more(tr("The number is right.", "数そのものは正しい値です。")) if close(float(value), expected.item(),
                                                                          rel=1e-4, abs_=1e-6) else ""
        return tr(f"{what} returned a plain number ({show(value)}), not a tensor.",
                    f"{what} がテンソルではなく、ただの数（{show(value)}）を返しました。") + right + _item_hint()
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    got = tuple(torch.as_tensor(value).shape)
    if got != ():
        hints = {tuple(pred.shape): tr("That is one squared miss per example: average them with .mean().",
                                         "それは例ごとの外れの二乗です。.mean() で平均します。")}
        return shape_problem(what, (), got) + _shape_hint(got, hints)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    return problem + _first_hint(value, [
        (miss.mean(), tr("Misses up and down cancel out: square each miss before averaging.",
                           "上への外れと下への外れが打ち消し合っています。平均する前に外れをそれぞれ二乗します。")),
        (miss.abs().mean(), tr("That is the mean of the absolute misses: square them instead (** 2).",
                                 "それは外れの絶対値の平均です。代わりに二乗します（** 2）。")),
        ((miss ** 2).sum(), tr("That is the sum of the squared misses: divide by their number (.mean()).",
                                 "それは外れの二乗の合計です。個数で割ります（.mean()）。")),
        (expected.sqrt(), tr("That is the square root of the MSE (the RMSE): leave out the square root.",
                               "それは MSE の平方根（RMSE）です。平方根はとりません。")),
        (miss.mean() ** 2, tr("Square each miss first, then average: the square of the average miss is not the same.",
                                "先に外れをそれぞれ二乗してから平均します。外れの平均の二乗とは違います。")),
        (expected / 2, tr("The MSE has no ½: the mean of (pred − target)², as it is.",
                            "MSE に ½ は掛けません。(pred − target)² の平均そのものです。")),
        ((miss ** 2).sum() / 4, tr(f"Divide by the number of misses (.mean()), not by 4: here there are "
                                   f"{miss.numel()}.",
                                   f"4 ではなく外れの個数で割ります（.mean()）。ここでは {miss.numel()} 個です。")),
    ])


# -- gradient_step -----------------------------------------------------------------------------------------

def step_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for n, lr in ((6, 0.1), (10, 0.05), (4, 0.01), (8, 0.2)):
        x = _randn(g, n, scale=1.5)
        y = (rng.uniform(-2, 2) * x + rng.uniform(-2, 2) + _randn(g, n, scale=0.3)).float()
        cases.append(Case((round(rng.uniform(-2, 2), 2), round(rng.uniform(-2, 2), 2), x, y, lr)))
    x = _randn(g, 5)
    w, b = round(rng.uniform(-2, 2), 2), round(rng.uniform(-2, 2), 2)
    cases.append(Case((w, b, x, (w * x.double() + b).float(), 0.1), edge=True))   # on the line: no step at all
    return cases


def _step(case: Case, sign=-1.0, use_lr=True, two=2.0, mean=True, x_in_w=True, x_in_b=False, old_w=True):
    """(new w, new b) of gradient descent on the MSE, in float64, with switches for the classic slips."""
    w, b, x, y, lr = case.args
    x, y = x.double(), y.double()
    reduce = (lambda t: t.mean()) if mean else (lambda t: t.sum())
    step = lr if use_lr else 1.0
    miss = w * x + b - y
    new_w = w + sign * step * reduce(two * miss * (x if x_in_w else 1.0)).item()
    if not old_w:
        miss = new_w * x + b - y
    new_b = b + sign * step * reduce(two * miss * (x if x_in_b else 1.0)).item()
    return new_w, new_b


def _as_number(v) -> float | None:
    """A number, or a tensor (or array) holding exactly one, as a float; else None."""
    if _a_number(v):
        return float(v)
    if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, Unsupported):
        t = torch.as_tensor(v)
        if t.numel() == 1:
            return float(t.reshape(-1)[0])
    return None


@check("gradient_step", cases=step_cases)
def step_verify(case: Case, value) -> str | None:
    w, b, x, y, lr = case.args
    what = f"gradient_step(w={show(w)}, b={show(b)}, {_arg('x', x)}, {_arg('y', y)}, lr={show(lr)})"
    numbers = [_as_number(v) for v in value] if isinstance(value, (tuple, list)) else []
    if len(numbers) != 2 or None in numbers:
        if value is None:
            return tr(f"{what} returned None: end with `return new_w, new_b`.",
                        f"{what} が None を返しました。最後に `return new_w, new_b` と書きます。")
        return tr(f"{what} should return two numbers, (new w, new b); it returned {show(value)}.",
                    f"{what} は 2 つの数 (新しい w, 新しい b) を返します。返ってきた値は {show(value)} です。")
    expected = _step(case)
    if all(close(a, e, rel=1e-4, abs_=1e-5) for a, e in zip(numbers, expected)):
        return None
    shown = f"({expected[0]:.6g}, {expected[1]:.6g})", f"({numbers[0]:.6g}, {numbers[1]:.6g})"
    miss = (w * x.double() + b - y.double())
    slopes = ((2 * miss * x.double()).mean().item(), (2 * miss).mean().item())
    variants = [
        (_step(case, sign=1.0), tr("You stepped uphill: subtract lr × slope, do not add it.",
                                     "坂を上っています。lr × 傾きは足さずに引きます。")),
        (slopes, tr("Those are the slopes themselves: return the new w and b, w − lr × slope and b − lr × slope.",
                      "それは傾きそのものです。新しい w と b、つまり w − lr × 傾き と b − lr × 傾き を返します。")),
        (_step(case, use_lr=False), tr("The step is lr × slope: multiply the slope by lr.",
                                         "1 歩は lr × 傾きです。傾きに lr を掛けます。")),
        (_step(case, two=1.0), tr("The slope of a square has a factor 2: mean(2 · miss · x) and mean(2 · miss).",
                                    "二乗の傾きには 2 が掛かります：mean(2 · miss · x) と mean(2 · miss)。")),
        (_step(case, mean=False), tr("Average over the examples (.mean()), do not sum.",
                                       "例について合計せず、平均します（.mean()）。")),
        (_step(case, x_in_b=True), tr("b's slope has no x in it: mean(2 · miss).",
                                        "b の傾きには x が入りません：mean(2 · miss)。")),
        (_step(case, x_in_w=False), tr("w's slope has an x in it: mean(2 · miss · x).",
                                         "w の傾きには x が入ります：mean(2 · miss · x)。")),
        (_step(case, old_w=False), tr("Compute b's slope with the old w: both slopes come from the same miss, "
                                        "before either changes.",
                                        "b の傾きは古い w で計算します。2 つの傾きは、どちらかを変える前の同じ miss "
                                        "から求めます。")),
        (expected[::-1], tr("You returned (b, w): return (w, b).", "(b, w) の順で返しています。(w, b) の順で返します。")),
    ]
    hint = next((text for variant, text in variants
                 if all(close(a, v, rel=1e-4, abs_=1e-5) for a, v in zip(numbers, variant))), "")
    return expected_got(what, *shown) + (more("") + hint if hint else "")


# -- cross_entropy -----------------------------------------------------------------------------------------

def ce_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for n, c, scale in ((6, 3, 1.0), (4, 5, 2.0), (8, 2, 1.0), (5, 10, 3.0)):
        cases.append(Case((_randn(g, n, c, scale=scale), torch.randint(0, c, (n,), generator=g))))
    logits, targets = _randn(g, 3, 4, scale=0.5), torch.randint(0, 4, (3,), generator=g)
    logits[0, (targets[0] + 1) % 4] = 120.0           # sure of a wrong class: p = e^-120, which rounds to 0 in float32
    cases.append(Case((logits, targets)))
    return cases


@check("cross_entropy", cases=ce_cases,
       twin=("torch.nn.functional:cross_entropy", "torch.nn.functional:nll_loss"))
def ce_verify(case: Case, value) -> str | None:
    logits, targets = case.args
    n, c = logits.shape
    what = f"cross_entropy({_arg('logits', logits)}, {_arg('targets', targets)})"
    log_probs = torch.log_softmax(logits.double(), dim=-1)                     # (N, C)
    rows = torch.arange(n)
    expected = -log_probs[rows, targets].mean()
    if _a_number(value):
        return tr(f"{what} returned a plain number ({show(value)}), not a tensor.",
                    f"{what} がテンソルではなく、ただの数（{show(value)}）を返しました。") + _item_hint()
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    got = tuple(torch.as_tensor(value).shape)
    if got != ():
        hints = {(n,): tr("That is one surprise per example: average them (.mean()).",
                            "それは例ごとの驚きです。平均します（.mean()）。"),
                 (n, n): tr("log_probs[:, targets] takes every target for every row: take one per row with "
                              "[torch.arange(N), targets].",
                              "log_probs[:, targets] はすべての行からすべての正解を取り出します。"
                              "[torch.arange(N), targets] で 1 行につき 1 つ取り出します。"),
                 (n, c): tr("That is −log p of every class: keep only each row's right class, "
                              "[torch.arange(N), targets], then average.",
                              "それはすべてのクラスの −log p です。各行の正解のクラスだけを [torch.arange(N), targets] で"
                              "取り出してから平均します。")}
        return shape_problem(what, (), got) + _shape_hint(got, hints)
    number = float(torch.as_tensor(value).reshape(()))
    if math.isnan(number):
        return tr(f"{what} returned nan.", f"{what} が nan を返しました。") + more(
            tr("The log of a negative logit is nan: take the softmax of the logits first (torch.log_softmax).",
             "負のロジットの log は nan です。先にロジットの softmax をとります（torch.log_softmax）。"))
    if math.isinf(number):
        return tr(f"{what} returned inf.", f"{what} が inf を返しました。") + more(
            tr("Some example's right class gets a tiny p, which rounds to 0 in float32, and log 0 = −inf: "
             "torch.log_softmax computes log p directly, without rounding p to 0.",
             "正解のクラスの p がとても小さい例があり、それが float32 では 0 に丸められて log 0 = −inf になります。"
             "torch.log_softmax なら、p を 0 に丸めずに log p を直接求めます。"))
    if (problem := array_problem(value, expected, what)) is None:
        return None
    probs = log_probs.exp()
    return problem + _first_hint(value, [
        (-expected, tr("A surprise −log p is never negative: put a minus in front of the log.",
                         "驚き −log p が負になることはありません。log の前にマイナスをつけます。")),
        (n * expected, tr("That is the sum over the examples: take the mean.", "それは例についての合計です。平均をとります。")),
        (expected / math.log(10), tr("Use the natural log (torch.log, torch.log_softmax), not log10.",
                                       "log10 ではなく自然対数（torch.log、torch.log_softmax）を使います。")),
        (-probs[rows, targets].mean(), tr("Take the log of the probability: the surprise is −log p, not −p.",
                                            "確率の log をとります。驚きは −p ではなく −log p です。")),
        (-log_probs[:, targets].mean(), tr("log_probs[:, targets] takes every target for every row: take one per row "
                                             "with [torch.arange(N), targets].",
                                             "log_probs[:, targets] はすべての行からすべての正解を取り出します。"
                                             "[torch.arange(N), targets] で 1 行につき 1 つ取り出します。")),
        (-torch.log_softmax(logits.double(), dim=0)[rows, targets].mean(),
         tr("Take the softmax over the classes of each example (dim=-1), not over the examples (dim=0).",
              "softmax は例の方向（dim=0）ではなく、各例のクラスの方向（dim=-1）にとります。")),
        (-logits.double()[rows, targets].mean(), tr("The logits are not log-probabilities yet: take "
                                                      "torch.log_softmax(logits, dim=-1) first.",
                                                      "ロジットはまだ対数確率ではありません。先に "
                                                      "torch.log_softmax(logits, dim=-1) をとります。")),
    ])


# -- TinyMLP (a module) ------------------------------------------------------------------------------------

def mlp_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for n_in, n_hidden, n_out, n in ((2, 16, 2, 6), (3, 8, 4, 5), (2, 5, 3, 4), (4, 12, 2, 3), (2, 32, 2, 8)):
        state = {"hidden.weight": _randn(g, n_hidden, n_in, scale=1 / math.sqrt(n_in)),
                 "hidden.bias": _randn(g, n_hidden, scale=0.5),
                 "out.weight": _randn(g, n_out, n_hidden, scale=1 / math.sqrt(n_hidden)),
                 "out.bias": _randn(g, n_out, scale=0.5)}
        cases.append(Case((n_in, n_hidden, n_out), state=state, inputs=(_randn(g, n, n_in, scale=2.0),)))
    return cases


def _identity(t):
    return t


def _mlp(case: Case, act=torch.relu, after=None, use_out=True):
    """The forward pass in float64, with switches for the classic slips."""
    s = {k: v.double() for k, v in case.state.items()}
    h = act(case.inputs[0].double() @ s["hidden.weight"].T + s["hidden.bias"])        # (N, n_hidden)
    if not use_out:
        return h
    logits = h @ s["out.weight"].T + s["out.bias"]                                    # (N, n_out)
    return after(logits) if after is not None else logits


@check("TinyMLP", cases=mlp_cases, kind="module")
def mlp_verify(case: Case, value) -> str | None:
    n_in, n_hidden, n_out = case.args
    x = case.inputs[0]
    what = f"TinyMLP({n_in}, {n_hidden}, {n_out})({_arg('x', x)})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    expected = _mlp(case)
    got = tuple(torch.as_tensor(value).shape)
    if got != tuple(expected.shape):
        hints = {(len(x), n_hidden): tr("Those are the hidden neurons: finish with self.out.",
                                          "それは隠れ層のニューロンです。最後に self.out をかけます。")}
        return shape_problem(what, tuple(expected.shape), got) + _shape_hint(got, hints)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    return problem + _first_hint(value, [
        (_mlp(case, act=_identity), tr("Without the ReLU the network is a straight line again: torch.relu between "
                                        "the two layers.",
                                        "ReLU がないと、ネットワークはまた直線に戻ってしまいます。2 つの層の間に "
                                        "torch.relu を入れます。")),
        (_mlp(case, after=torch.relu), tr("No ReLU after self.out: logits may be negative.",
                                            "self.out のあとには ReLU をかけません。ロジットは負にもなります。")),
        (_mlp(case, after=lambda t: torch.softmax(t, dim=-1)),
         tr("Return the logits, not probabilities: no softmax in forward (the loss applies it).",
              "確率ではなくロジットを返します。forward では softmax をかけません（損失の中でかけます）。")),
        (_mlp(case, after=lambda t: torch.log_softmax(t, dim=-1)),
         tr("Return the logits themselves: no log_softmax in forward (the loss applies it).",
              "ロジットそのものを返します。forward では log_softmax をかけません（損失の中でかけます）。")),
        (_mlp(case, after=torch.relu, act=_identity), tr("The ReLU goes between the two layers, not after the last one.",
                                                          "ReLU は最後の層のあとではなく、2 つの層の間に入れます。")),
        (_mlp(case, act=torch.sigmoid), tr("That is a sigmoid: this network uses ReLU, torch.relu.",
                                             "それはシグモイドです。このネットワークでは ReLU（torch.relu）を使います。")),
        (_mlp(case, act=torch.tanh), tr("That is tanh: this network uses ReLU, torch.relu.",
                                          "それは tanh です。このネットワークでは ReLU（torch.relu）を使います。")),
        (_mlp(case, act=torch.nn.functional.gelu), tr("That is GELU: this network uses ReLU, torch.relu.",
                                                        "それは GELU です。このネットワークでは ReLU（torch.relu）を使います。")),
    ])
