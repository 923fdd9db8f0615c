"""Hidden checks for lesson 08 · text to image, slide 42's seven steps (slides 42, 48–50).

Formulas are recomputed here in float64. The two exercises that drive the trained model (predict_noise,
generate) receive a fresh copy of the shipped model, built in the learner's kernel from the library
(`Case.build`), and are compared with the library's pipeline run here, in the grader, on the same inputs.
Classic mistakes (no mask on the padding, the wrong √d, softmax over pixels, the image flattened without a
transpose, the guidance the wrong way round, img2img counted from the wrong end) are recognised by computing
the wrong variant and comparing.
"""

from __future__ import annotations

import functools
import math
import random

import torch

from autograder.checks import Case, check, expected_got, first_hint, more, tensor_problem, type_problem
from autograder.checks import array_problem as _array_problem
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from shikumi.lang import tr

_P = "shikumi.pipeline:"  # the library's own solutions (twins): calling them scores 0


def _check(value, expected, what: str, variants=(), rtol=1e-4, atol=1e-4) -> str | None:
    if (problem := tensor_problem(value, what)) is not None:
        return problem
    problem = _array_problem(value, expected, what, rtol=rtol, atol=atol)
    return None if problem is None else problem + first_hint(value, variants)


@functools.lru_cache(maxsize=1)
def _pipeline():
    """The shipped pipeline in the grader's process, in float32 on the CPU (the reference)."""
    from shikumi.zoo.sd_shapes import load_pipeline

    return load_pipeline("cpu")


# -- text_cross_attention (④: text and noise features meet) -------------------------------------------------

def cross_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for B, C, H, W, T, D, d, n_real in ((2, 8, 4, 4, 6, 5, 4, (6, 3)), (1, 6, 2, 3, 5, 7, 6, (2,)),
                                        (3, 4, 3, 3, 4, 4, 8, (4, 1, 2))):
        mask = torch.zeros(B, T, dtype=torch.bool)
        for b, n in enumerate(n_real):
            mask[b, :n] = True
        text = _randn(g, B, T, D)
        text[~mask] = _randn(g, int((~mask).sum()), D, scale=3.0)      # padding that must be ignored
        cases.append(Case((_randn(g, B, C, H, W), text, mask, _randn(g, C, d, scale=0.5),
                           _randn(g, D, d, scale=0.5), _randn(g, D, C, scale=0.5))))
    return cases


def _cross(features, text, mask, w_q, w_k, w_v, *, use_mask=True, scale=None, softmax_dim=-1, flatten="ok"):
    B, C, H, W = features.shape
    f, t = features.double(), text.double()
    x = f.reshape(B, H * W, C) if flatten == "no-transpose" else f.flatten(2).transpose(1, 2)   # (B, HW, C)
    q, k, v = x @ w_q.double(), t @ w_k.double(), t @ w_v.double()                              # (B, HW, d)…
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1] if scale is None else scale)       # (B, HW, T)
    if use_mask:
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    out = scores.softmax(softmax_dim) @ v                                                         # (B, HW, C)
    if flatten == "no-transpose":
        return out.reshape(B, C, H, W)
    return out.transpose(1, 2).reshape(B, C, H, W)


@check("text_cross_attention", cases=cross_cases,
       twin=("shikumi.attention:scaled_dot_product_attention",
             "shikumi.attention:MultiHeadAttention.forward"))
def cross_verify(case: Case, value) -> str | None:
    features, text, mask, w_q, w_k, w_v = case.args
    what = (f"text_cross_attention(features {tuple(features.shape)}, text {tuple(text.shape)}, "
            f"text_mask {tuple(mask.shape)}, …)")
    a = case.args
    variants = [
        (_cross(*a, use_mask=False), tr("The padding tokens were attended to: set their scores to −inf before the "
                                          "softmax (text_mask is False there).",
                                          "パディングのトークンにも注意が向いています。softmax の前に、そのスコアを "
                                          "−inf にします（そこでは text_mask が False です）。")),
        (_cross(*a, scale=features.shape[1]), tr("Divide by √d where d = w_q.shape[1] (the query/key width), not √C.",
                                                   "√C ではなく √d（d = w_q.shape[1]、クエリとキーの幅）で割ります。")),
        (_cross(*a, scale=1.0), tr("Forgot to divide the scores by √d.", "スコアを √d で割るのを忘れています。")),
        (_cross(*a, softmax_dim=-2), tr("Softmax over the wrong axis: each pixel's weights over the words must sum "
                                          "to 1 (dim=-1).",
                                          "softmax の軸が違います。ピクセルごとに、単語についての重みの合計が 1 に"
                                          "なるようにします（dim=-1）。")),
        (_cross(*a, flatten="no-transpose"), tr("The image was reshaped to (B, H·W, C) without moving the channels: "
                                                  "use features.flatten(2).transpose(1, 2), and undo it at the end.",
                                                  "チャネルを動かさずに、画像を (B, H·W, C) に reshape しています。"
                                                  "features.flatten(2).transpose(1, 2) を使い、最後に元に戻します。")),
    ]
    return _check(value, _cross(*a), what, variants)


# -- guidance (classifier-free guidance) ----------------------------------------------------------------------

def guidance_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [Case((_randn(g, 2, 4, 4, 4), _randn(g, 2, 4, 4, 4), round(rng.uniform(2.0, 9.0), 2))),
            Case((_randn(g, 1, 4, 4, 4), _randn(g, 1, 4, 4, 4), round(rng.uniform(0.2, 0.9), 2))),
            Case((_randn(g, 3, 4, 2, 2), _randn(g, 3, 4, 2, 2), 1.0), edge=True),
            Case((_randn(g, 2, 4, 4, 4), _randn(g, 2, 4, 4, 4), 0.0), edge=True)]


@check("guidance", cases=guidance_cases, twin=_P + "classifier_free_guidance")
def guidance_verify(case: Case, value) -> str | None:
    uncond, text, s = case.args
    what = f"guidance(noise_uncond {tuple(uncond.shape)}, noise_text, guidance_scale={s})"
    u, c = uncond.double(), text.double()
    variants = [
        (c + s * (u - c), tr("Backwards: start from ε̂_uncond and move towards ε̂_text, "
                               "ε̂_uncond + s · (ε̂_text − ε̂_uncond).",
                               "向きが逆です。ε̂_uncond から出発して ε̂_text の方へ進みます："
                               "ε̂_uncond + s · (ε̂_text − ε̂_uncond) です。")),
        (s * c, tr("Only the text half, scaled: the formula mixes both predictions.",
                     "テキスト付きの予測だけを s 倍しています。式では 2 つの予測を組み合わせます。")),
        (u + s * c, tr("Push along the difference (ε̂_text − ε̂_uncond), not along ε̂_text itself.",
                         "ε̂_text そのものではなく、差 (ε̂_text − ε̂_uncond) の方向に進みます。")),
        ((u + c) / 2, tr("That is the average of the two; the scale s decides how far past ε̂_text to go.",
                           "それは 2 つの平均です。スケール s で、ε̂_text よりどれだけ先まで進むかが決まります。")),
    ]
    return _check(value, u + s * (c - u), what, variants, atol=1e-5)


# -- predict_noise (⑤: the UNet reads the text) ---------------------------------------------------------------

def _texts(rng: random.Random, n: int) -> list[str]:
    from shikumi import data

    pool = data.all_shapes("all")
    return [rng.choice(pool).caption(rng.choice(("en", "ja"))) for _ in range(n)]


def noise_cases(rng: random.Random) -> list[Case]:
    pipe = _pipeline()
    g = _gen(rng)
    cases = []
    for B, s in ((2, round(rng.uniform(2.0, 6.0), 1)), (1, round(rng.uniform(6.0, 9.0), 1)), (3, 1.0)):
        text, uncond = pipe.encode_prompt(_texts(rng, B)), pipe.encode_prompt([""] * B)
        t = rng.randrange(20, 980)
        cases.append(Case((_randn(g, B, 4, 4, 4), t, text, uncond, s), build="shikumi.zoo.sd_shapes:load_unet"))
    return cases


@check("predict_noise", cases=noise_cases,
       twin=(_P + "classifier_free_guidance", _P + "TextToImagePipeline.predict_noise"))
def noise_verify(case: Case, value) -> str | None:
    latents, t, text, uncond, s = case.args
    what = f"predict_noise(unet, latents {tuple(latents.shape)}, t={t}, text, uncond, guidance_scale={s})"
    unet = _pipeline().unet
    with torch.no_grad():
        eps_text, eps_uncond = unet(latents, t, *text).double(), unet(latents, t, *uncond).double()
        variants = [
            (eps_text, tr("That is the text prediction alone: combine it with the empty prompt's, using guidance().",
                            "それはテキスト付きの予測だけです。guidance() で、空のプロンプトでの予測と組み合わせます。")),
            (eps_uncond, tr("That is the empty prompt's prediction alone: the UNet must also read `text`.",
                              "それは空のプロンプトでの予測だけです。UNet には `text` も読ませます。")),
            (eps_text + s * (eps_uncond - eps_text), tr("The guidance is the wrong way round (see Exercise 8.2).",
                                                          "ガイダンスの向きが逆です（演習 8.2 を見てください）。")),
            ((unet(latents, t, uncond[0]) + s * (unet(latents, t, text[0]) - unet(latents, t, uncond[0]))).double(),
             tr("The padding masks (text[1], uncond[1]) were not passed to the UNet: unet(latents, t, states, mask).",
                  "パディングのマスク（text[1]、uncond[1]）が UNet に渡されていません：unet(latents, t, states, mask) "
                  "です。")),
        ]
    return _check(value, eps_uncond + s * (eps_text - eps_uncond), what, variants, rtol=1e-3, atol=1e-4)


# -- generate (① ③ ⑥ ⑦, the whole loop) ------------------------------------------------------------------------

def generate_cases(rng: random.Random) -> list[Case]:
    return [Case((_texts(rng, 2), rng.choice((4, 5, 8)), round(rng.uniform(2.0, 5.0), 1), rng.randrange(10_000)),
                 build="shikumi.zoo.sd_shapes:load_pipeline"),
            Case((_texts(rng, 1), rng.choice((3, 6)), 1.0, rng.randrange(10_000)),
                 build="shikumi.zoo.sd_shapes:load_pipeline")]


@check("generate", cases=generate_cases, twin=_P + "TextToImagePipeline.__call__")
def generate_verify(case: Case, value) -> str | None:
    prompts, steps, s, seed = case.args
    what = f"generate(pipe, {prompts}, num_inference_steps={steps}, guidance_scale={s}, seed={seed})"
    pipe = _pipeline()
    with torch.no_grad():
        expected = pipe(prompts, num_inference_steps=steps, guidance_scale=s,
                        generator=torch.Generator().manual_seed(seed)).images.double()
        variants = [
            (pipe(prompts, num_inference_steps=steps, guidance_scale=1.0 if s != 1.0 else 0.0,
                  generator=torch.Generator().manual_seed(seed)).images.double(),
             tr("The guidance scale was not used: pass it to predict_noise at every step.",
                  "ガイダンスのスケールが使われていません。各ステップで predict_noise に渡します。")),
            (pipe.decode_latents(pipe.prepare_latents(len(prompts), torch.Generator().manual_seed(seed))).double(),
             tr("That is the starting noise decoded: run the loop over pipe.scheduler.timesteps and update the latents.",
                  "それは最初のノイズをデコードしたものです。pipe.scheduler.timesteps でループを回して、潜在表現を更新"
                  "します。")),
        ]
    return _check(value, expected, what, variants, rtol=1e-3, atol=2e-3)


# -- img2img_start ----------------------------------------------------------------------------------------------

def start_cases(rng: random.Random) -> list[Case]:
    # strengths away from 0.5, so that "the steps to run" and "the start index" always differ
    return [Case((rng.choice((20, 25, 50)), round(rng.uniform(0.62, 0.92), 2))),
            Case((rng.choice((7, 13)), round(rng.uniform(0.1, 0.4), 3))),
            Case((10, 0.37)),                                   # int() rounds down: 3 steps, start 7 (not 6)
            Case((rng.choice((10, 30)), 1.0), edge=True),
            Case((rng.choice((10, 30)), 0.0), edge=True)]


@check("img2img_start", cases=start_cases, twin=_P + "img2img_start")
def start_verify(case: Case, value) -> str | None:
    n, strength = case.args
    what = f"img2img_start({n}, strength={strength})"
    if (problem := type_problem(value, int, what)) is not None:
        return problem
    run = min(int(n * strength), n)
    expected = n - run
    if value == expected:
        return None
    hints = [(run, tr("That is the number of steps to run; the start index is num_inference_steps minus that.",
                        "それは実行するステップの数です。開始インデックスは、num_inference_steps からそれを引いたもの"
                        "です。")),
             (n - round(n * strength), tr("Round down, as diffusers does: int(num_inference_steps · strength).",
                                            "diffusers と同じように切り捨てます：int(num_inference_steps · strength) "
                                            "です。")),
             (int(n * (1 - strength)), tr("Count the steps to run first, int(n · strength), then subtract from n: "
                                            "int(n · (1 − strength)) can differ by one.",
                                            "先に実行するステップの数 int(n · strength) を求めてから、n から引きます。"
                                            "int(n · (1 − strength)) では 1 ずれることがあります。"))]
    hint = next((text for wrong, text in hints if value == wrong),
                tr("strength 1.0 starts at index 0 (pure noise), strength 0.0 at index n (no step).",
                     "strength 1.0 ならインデックス 0（純粋なノイズ）から、strength 0.0 ならインデックス n"
                     "（1 ステップも実行しない）から始めます。"))
    return expected_got(what, f"{expected}", f"{value}") + more("") + hint
