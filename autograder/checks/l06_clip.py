"""Hidden checks for lesson 06 · CLIP (slides 45–46).

The right answers come from `shikumi.clip` and PyTorch, computed here in float64; the classic mistakes (the
last position instead of the end-of-text token, normalising the wrong axis, forgetting the scale, one direction
of the loss only, argmax over the prompts' axis…) are recognised by computing the wrong variant and comparing.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from autograder.checks import (
    Case,
    array_problem,
    check,
    expected_got,
    more,
    shape_problem,
    show,
    type_problem,
)
from autograder.checks import first_hint as _first_hint
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from autograder.checks import tensor_problem as _tensor_problem
from shikumi.clip import clip_loss, pool_at_eot, similarity
from shikumi.lang import tr


def _arg(name: str, x) -> str:
    """An argument in a message by its shape: "hidden of shape (2, 5, 4)"."""
    if not hasattr(x, "shape"):
        return f"{name} {x!r}"
    shape = tuple(x.shape)
    return tr(f"{name} of shape {shape}", f"形 {shape} の {name}")


# -- pool_at_eot -----------------------------------------------------------------------------------

def _tokens(gen: torch.Generator, lengths: list[int], T: int, pad_id: int = 0, vocab: int = 40) -> torch.Tensor:
    """(B, T) ids: each row has `length` real tokens (never pad_id), then padding."""
    ids = torch.randint(1, vocab, (len(lengths), T), generator=gen)
    ids[ids == pad_id] = pad_id + 1
    for i, n in enumerate(lengths):
        ids[i, n:] = pad_id
    return ids


def pool_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [
        Case((_randn(g, 2, 5, 4), _tokens(g, [5, 3], 5))),                                  # one full, one padded
        Case((_randn(g, 3, 6, 8), _tokens(g, [rng.randint(2, 5), 6, rng.randint(2, 5)], 6))),
        Case((_randn(g, 4, 7, 3), _tokens(g, [rng.randint(2, 6) for _ in range(4)], 7))),
        Case((_randn(g, 3, 6, 4), _tokens(g, [4, 2, 5], 6, pad_id=7)), {"pad_id": 7}),    # another padding id
        Case((_randn(g, 2, 4, 5), _tokens(g, [4, 4], 4)), edge=True),                       # no padding at all
    ]


def _pool_error(case: Case, error: str, message: str) -> str:
    """pool_at_eot without the − 1 reads one past the end of a caption that has no padding."""
    if error != "IndexError" or "bounds" not in message:
        return ""
    T = case.args[0].shape[1]
    return tr(f"a caption that fills all {T} positions has no padding, so its end-of-text token is the last one, at "
                f"{T} − 1 = {T - 1}: index with (number of real tokens) − 1.",
                f"{T} 個の位置をすべて使うキャプションにはパディングがないので、文末トークンは最後の位置 {T} − 1 = "
                f"{T - 1} にあります。インデックスは（本物のトークンの数）− 1 です。")


@check("pool_at_eot", cases=pool_cases, twin="shikumi.clip:pool_at_eot", explain=_pool_error)
def pool_verify(case: Case, value) -> str | None:
    hidden, tokens = case.args
    pad_id = case.kwargs.get("pad_id", 0)
    what = (f"pool_at_eot({_arg('hidden', hidden)}, {_arg('tokens', tokens)}"
            + (f", pad_id={pad_id})" if "pad_id" in case.kwargs else ")"))
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    h = hidden.double()
    expected = pool_at_eot(h, tokens, pad_id)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    lengths = (tokens != pad_id).sum(dim=1)
    rows = torch.arange(h.size(0))
    real = (tokens != pad_id).double()[..., None]
    variants = [
        (h[:, -1], tr("That is the last position, which is padding for the shorter captions: take each caption's "
                        "last token that is not padding (index = number of real tokens − 1).",
                        "それは最後の位置で、短いキャプションではパディングです。キャプションごとに、パディングではない"
                        "最後のトークンをとります（インデックス = 本物のトークンの数 − 1）。")),
        (h[:, 0], tr("That is the first token, <s>: with a causal mask it has seen nothing of the caption.",
                       "それは最初のトークン <s> です。因果マスクがあるので、このトークンはキャプションを何も見て"
                       "いません。")),
        (h[rows, lengths.clamp(max=h.size(1) - 1)],
         tr("Off by one: the last real token is at index length − 1.",
              "1 つずれています。最後の本物のトークンは、インデックス length − 1 にあります。")),
        (h[rows, (tokens != 0).sum(dim=1) - 1] if pad_id != 0 else None,
         tr(f"Padding is marked by pad_id (here {pad_id}), not by 0: count tokens != pad_id.",
              f"パディングの印は 0 ではなく pad_id（ここでは {pad_id}）です。tokens != pad_id を数えます。")),
        ((h * real).sum(1) / real.sum(1), tr("That is the mean over the real tokens; CLIP takes one token's vector.",
                                               "それは本物のトークンの平均です。CLIP は 1 つのトークンのベクトルを"
                                               "とります。")),
        (h.mean(dim=1), tr("That is the mean over all positions; CLIP takes the vector at the end-of-text token.",
                             "それはすべての位置の平均です。CLIP は文末トークンの位置のベクトルをとります。")),
    ]
    return problem + _first_hint(value, variants)


# -- l2_normalize ------------------------------------------------------------------------------------

def norm_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    wide = _randn(g, 5, 3)
    wide[:, 0] *= 10.0                                   # columns of very different sizes
    return [
        Case((_randn(g, 4, 8),)),
        Case((_randn(g, 3, 5, scale=10.0),)),
        Case((wide,)),
        Case((_randn(g, 2, 3, 4),)),                     # a batch of batches: still the last axis
        Case((_randn(g, 6, scale=0.1),), edge=True),     # one vector
    ]


@check("l2_normalize", cases=norm_cases, twin="torch.nn.functional:normalize")
def norm_verify(case: Case, value) -> str | None:
    (x,) = case.args
    what = f"l2_normalize({_arg('x', x)})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    x64 = x.double()
    expected = x64 / x64.norm(dim=-1, keepdim=True)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    variants = [
        (x64 / x64.norm(dim=0, keepdim=True) if x64.dim() > 1 else None,
         tr("That normalises each column (dim=0): each row, one vector, should have length 1 — use dim=-1.",
              "それは各列（dim=0）を正規化しています。長さを 1 にするのは各行（1 本のベクトル）です。dim=-1 を"
              "使います。")),
        (x64 / x64.norm(), tr("That divides by the length of the whole tensor: each row needs its own length "
                                "(norm over dim=-1, keepdim=True).",
                                "それはテンソル全体の長さで割っています。各行を、その行自身の長さで割ります"
                                "（dim=-1、keepdim=True で norm をとります）。")),
        (x64 / x64.sum(dim=-1, keepdim=True), tr("That divides by the sum: the L2 length is the square root of the "
                                                   "sum of squares.",
                                                   "それは合計で割っています。L2 の長さは、2 乗の和の平方根です。")),
        (x64 / x64.abs().sum(dim=-1, keepdim=True), tr("That is the L1 length (sum of |x|): use the L2 length, "
                                                         "√(Σ x²).",
                                                         "それは L1 の長さ（|x| の和）です。L2 の長さ √(Σ x²) を"
                                                         "使います。")),
        (x64 / (x64 ** 2).sum(dim=-1, keepdim=True), tr("Take the square root of the sum of squares.",
                                                          "2 乗の和の平方根をとります。")),
    ]
    return problem + _first_hint(value, variants)


# -- similarity_matrix --------------------------------------------------------------------------------

def sim_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [
        Case((_randn(g, 4, 8), _randn(g, 4, 8), 1.0)),
        Case((_randn(g, 3, 8, scale=5.0), _randn(g, 5, 8), round(rng.uniform(10, 20), 2))),
        Case((_randn(g, 6, 16), _randn(g, 2, 16, scale=0.2), 100.0)),
        Case((_randn(g, 2, 4), _randn(g, 3, 4), torch.tensor(round(rng.uniform(2, 8), 2)))),   # a tensor scale
    ]


@check("similarity_matrix", cases=sim_cases, twin="shikumi.clip:similarity")
def sim_verify(case: Case, value) -> str | None:
    img, txt, scale = case.args
    s = float(scale)
    what = f"similarity_matrix({_arg('image_features', img)}, {_arg('text_features', txt)}, logit_scale={s:g})"
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    i64, t64 = img.double(), txt.double()
    expected = similarity(i64, t64, s)
    if (problem := array_problem(value, expected, what)) is None:
        return None
    cos = F.normalize(i64, dim=-1) @ F.normalize(t64, dim=-1).T
    got = torch.as_tensor(value)
    if tuple(got.shape) == (txt.size(0), img.size(0)) != tuple(expected.shape):
        return problem + more(tr("Rows are images and columns are texts: image_features @ text_features.T.",
                                 "行が画像、列がテキストです：image_features @ text_features.T です。"))
    variants = [
        (s * i64 @ t64.T, tr("The features were not normalised: divide each by its length first (cosine similarity).",
                               "特徴量が正規化されていません。先に、それぞれをその長さで割ります（コサイン類似度）。")),
        (cos, tr("Multiply the cosines by logit_scale.", "コサインに logit_scale を掛けます。")),
        (math.exp(s) * cos if s < 50 else None,
         tr("logit_scale is already the multiplier exp(t): don't exp() it again.",
              "logit_scale は、すでに掛ける数 exp(t) です。もう一度 exp() をとってはいけません。")),
        (s * F.normalize(i64, dim=0) @ F.normalize(t64, dim=0).T,
         tr("Normalise each row (each vector), dim=-1, not each column.",
              "各列ではなく、各行（各ベクトル）を dim=-1 で正規化します。")),
        (s * F.normalize(i64, dim=-1) @ t64.T, tr("Normalise the text features too.", "テキストの特徴量も正規化します。")),
        (s * i64 @ F.normalize(t64, dim=-1).T, tr("Normalise the image features too.", "画像の特徴量も正規化します。")),
        (cos / s, tr("Multiply by logit_scale; don't divide.", "logit_scale で割るのではなく、掛けます。")),
    ]
    return problem + _first_hint(value, variants)


# -- clip_loss -----------------------------------------------------------------------------------------

def loss_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = [Case((_randn(g, B, E, scale=sc), _randn(g, B, E), scale))
             for B, E, sc, scale in ((4, 8, 1.0, 1.0), (8, 16, 3.0, round(rng.uniform(10, 20), 2)),
                                     (3, 4, 0.5, 100.0), (16, 8, 1.0, round(rng.uniform(2, 8), 2)))]
    img = _randn(g, 6, 8)
    cases.append(Case((img, img + 0.3 * _randn(g, 6, 8), 14.28)))            # nearly matching pairs: a low loss
    cases.append(Case((_randn(g, 1, 8), _randn(g, 1, 8), 10.0), edge=True))  # one pair: nothing to confuse, 0
    return cases


def _loss_value(value):
    if torch.is_tensor(value) and value.numel() == 1:
        return value.reshape(()).double()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    return None


@check("clip_loss", cases=loss_cases, twin=("shikumi.clip:clip_loss", "shikumi.zoo.clip_shapes:loss_fn"))
def loss_verify(case: Case, value) -> str | None:
    img, txt, scale = case.args
    B = img.size(0)
    what = (f"clip_loss({_arg('image_features', img)}, {_arg('text_features', txt)}, "
            f"logit_scale={float(scale):g})")
    if torch.is_tensor(value) and value.dim() >= 1 and value.numel() == B and B > 1:
        shape = tuple(value.shape)
        return tr(f"{what}: expected one number (a tensor of shape ()), got a tensor of shape {shape}. "
                    "Average the cross-entropy over the batch (F.cross_entropy does by default).",
                    f"{what}：期待されるのは数 1 つ（形 () のテンソル）ですが、返ってきたのは形 {shape} のテンソルです。"
                    "交差エントロピーをバッチについて平均します（F.cross_entropy は既定でそうします）。")
    got = _loss_value(value)
    if got is None:
        return (type_problem(value, torch.Tensor, what)
                or tr(f"{what} returned {show(value)}; expected a scalar tensor (shape ())",
                        f"{what} が {show(value)} を返しました。返すのはスカラーのテンソル（形 ()）です。"))
    i64, t64 = img.double(), txt.double()
    expected = clip_loss(i64, t64, float(scale))
    if torch.isclose(got, expected, rtol=1e-4, atol=1e-5):
        return None
    targets = torch.arange(B)
    logits = similarity(i64, t64, float(scale))
    raw = float(scale) * i64 @ t64.T
    i2t, t2i = F.cross_entropy(logits, targets), F.cross_entropy(logits.T, targets)
    variants = [
        (i2t, tr("That is only image → text (the rows). CLIP's loss is symmetric: also the cross-entropy of the "
                   "columns (logits.T, text → image), then the average of the two.",
                   "それは画像 → テキスト（行方向）だけです。CLIP の損失は対称なので、列方向（logits.T、テキスト → 画像）"
                   "の交差エントロピーも求め、2 つを平均します。")),
        (t2i, tr("That is only text → image (the columns): add image → text (the rows) and average the two.",
                   "それはテキスト → 画像（列方向）だけです。画像 → テキスト（行方向）も求め、2 つを平均します。")),
        (i2t + t2i, tr("Average the two directions: (image→text + text→image) / 2, not their sum.",
                         "2 つの方向は、足すのではなく平均します：(画像→テキスト + テキスト→画像) / 2 です。")),
        ((F.cross_entropy(raw, targets) + F.cross_entropy(raw.T, targets)) / 2,
         tr("The features were not normalised: use cosine similarities (normalise each row first).",
              "特徴量が正規化されていません。コサイン類似度を使います（先に各行を正規化します）。")),
        ((F.cross_entropy(logits / float(scale), targets) + F.cross_entropy(logits.T / float(scale), targets)) / 2,
         tr("Multiply the cosines by logit_scale before the cross-entropy.",
              "交差エントロピーの前に、コサインに logit_scale を掛けます。")),
        ((F.cross_entropy(logits, targets, reduction="sum") + F.cross_entropy(logits.T, targets, reduction="sum"))
         / 2, tr("Take the mean over the batch, not the sum.", "バッチについては、合計ではなく平均をとります。")),
        ((F.cross_entropy(logits, targets.flip(0)) + F.cross_entropy(logits.T, targets.flip(0))) / 2 if B > 1
         else None, tr("The right answers are on the diagonal: targets = torch.arange(B).",
                         "正解は対角線上にあります：targets = torch.arange(B) です。")),
    ]
    return expected_got(what, f"{expected.item():.6g}", f"{got.item():.6g}") + _first_hint(got, variants)


# -- zero_shot_classify -------------------------------------------------------------------------------

def _clear_margin(img: torch.Tensor, prompts: torch.Tensor) -> bool:
    """True when every image's best prompt wins by a clear margin (no near-ties that rounding could flip)."""
    cos = F.normalize(img.double(), dim=-1) @ F.normalize(prompts.double(), dim=-1).T
    if cos.size(1) < 2:
        return True
    top2 = cos.topk(2, dim=1).values
    return bool((top2[:, 0] - top2[:, 1] > 1e-3).all())


def zero_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for N, C, E in ((6, 4, 8), (10, 5, 16), (3, 7, 4)):
        while True:
            img = _randn(g, N, E)
            lengths = torch.rand(C, 1, generator=g) * 9.9 + 0.1          # prompts of very different lengths
            prompts = _randn(g, C, E) * lengths
            raw_pick = (img @ prompts.T).argmax(1)
            cos_pick = (img @ F.normalize(prompts, dim=-1).T).argmax(1)
            if _clear_margin(img, prompts) and (raw_pick != cos_pick).any():
                break
        cases.append(Case((img, prompts)))
    cases.append(Case((_randn(g, 4, 8), _randn(g, 1, 8)), edge=True))   # one prompt: every image gets class 0
    return cases


@check("zero_shot_classify", cases=zero_cases)
def zero_verify(case: Case, value) -> str | None:
    img, prompts = case.args
    what = f"zero_shot_classify({_arg('image_features', img)}, {_arg('prompt_features', prompts)})"
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        value = torch.tensor(list(value), dtype=torch.long)
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    cos = F.normalize(img.double(), dim=-1) @ F.normalize(prompts.double(), dim=-1).T
    expected = cos.argmax(dim=1)
    got = torch.as_tensor(value)
    if tuple(got.shape) != tuple(expected.shape):
        hint = ""
        if tuple(got.shape) == (prompts.size(0),):
            hint = more(tr("That is one answer per prompt: take the argmax over the prompts, dim=1 (one answer per image).",
                           "それはプロンプトごとに 1 つの答えです。プロンプトの方向 dim=1 で argmax をとります"
                           "（画像ごとに 1 つの答え）。"))
        elif tuple(got.shape) == tuple(cos.shape):
            hint = more(tr("Those are the similarities: return their argmax over the prompts (dim=1).",
                           "それは類似度そのものです。プロンプトの方向（dim=1）の argmax を返します。"))
        return shape_problem(what, tuple(expected.shape), tuple(got.shape)) + hint
    if got.is_floating_point() and not torch.equal(got, got.round()):
        values = show(got.tolist())
        return tr(f"{what}: expected class indices (whole numbers), got {values}.",
                    f"{what}：期待されるのはクラスのインデックス（整数）ですが、返ってきた値は {values} です。")
    if torch.equal(got.long(), expected):
        return None
    hint = ""
    if torch.equal(got.long(), (img.double() @ prompts.double().T).argmax(1)):
        hint = more(tr("That is the argmax of the plain dot product: a prompt with a longer vector wins too often. "
                       "Normalise the prompt features (cosine similarity).",
                       "それはただの内積の argmax です。これでは、ベクトルが長いプロンプトが勝ちすぎます。プロンプトの"
                       "特徴量を正規化します（コサイン類似度）。"))
    elif torch.equal(got.long(), cos.argmin(1)):
        hint = more(tr("That is the least similar prompt: use argmax.",
                       "それはいちばん似ていないプロンプトです。argmax を使います。"))
    return expected_got(what, f"{expected.tolist()}", f"{got.long().tolist()}") + hint
