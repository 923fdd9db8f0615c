"""Hidden checks for lesson 05 · autoencoder and VAE (slides 43–44).

The right answers are computed here (in float64, from the formulas) or by shikumi.autoencoder; the classic
mistakes are computed too, so a wrong answer can be told which mistake it looks like.
"""

from __future__ import annotations

import math
import random

import torch

from autograder.checks import Case, call_text, check, close, expected_got, more, show, type_problem
from autograder.checks import generator as _generator
from autograder.checks import with_hint as _with_hint
from shikumi.lang import tr

_LIB = "shikumi.autoencoder"  # the library's own solutions: calling them scores 0


def _few(values: torch.Tensor) -> str:
    """A short list of numbers for a message: [12.5, 3.25, 7]."""
    return "[" + ", ".join(f"{float(v):.4g}" for v in values[:4]) + (", …]" if len(values) > 4 else "]")


def _tensor_text(name: str, case: Case) -> str:
    """call_text with tensors shown by their shape: kl_divergence(tensor (4, 16), tensor (4, 16))."""
    tensor = tr("tensor", "テンソル")
    parts = [f"{tensor} {tuple(a.shape)}" if isinstance(a, torch.Tensor) else show(a, 40) for a in case.args]
    return f"{name}({', '.join(parts)})"


# -- compression_ratio -----------------------------------------------------------------------------

def ratio_cases(rng: random.Random) -> list[Case]:
    cases = [Case(((3, 512, 512), (4, 64, 64))),                         # slide 43: 48
             Case(((1, 28, 28), (16,))),                                 # this lesson's digits: 49
             Case(((3, 28, 28), (5, 7, 7)))]                             # 9.6: not a whole number
    c, side, f = rng.choice((1, 3)), rng.choice((16, 32, 64, 96)), rng.choice((2, 4, 8))
    cases.append(Case(((c, side, side), (rng.randint(2, 8), side // f, side // f))))
    cases.append(Case(((3, 64, 64), (3, 64, 64)), edge=True))            # no compression at all: 1.0
    return cases


@check("compression_ratio", cases=ratio_cases, twin=f"{_LIB}:compression_ratio")
def ratio_verify(case: Case, value) -> str | None:
    image_shape, latent_shape = case.args
    what = call_text("compression_ratio", case)
    if (problem := type_problem(value, float, what)) is not None:
        return problem
    expected = math.prod(image_shape) / math.prod(latent_shape)
    if close(value, expected):
        return None
    hint = ""
    if close(value, 1 / expected):
        hint = more(tr("That is latent / image: the ratio is how many image numbers there are per latent number.",
                       "それは「潜在表現 / 画像」です。圧縮率は、潜在表現の数 1 つあたりに画像の数がいくつあるかです。"))
    elif close(value, math.prod(image_shape) // math.prod(latent_shape)):
        hint = more(tr("Use / (true division), not // (which rounds down).",
                       "//（切り捨て）ではなく、/（小数まで求める割り算）を使います。"))
    elif close(value, sum(image_shape) / sum(latent_shape)):
        hint = more(tr("Count the numbers in a tensor by multiplying its dimensions (math.prod), not adding them.",
                       "テンソルの中の数の個数は、次元を足すのではなく、掛け合わせて（math.prod）求めます。"))
    elif len(latent_shape) == 3 and close(value, math.prod(image_shape[1:]) / math.prod(latent_shape[1:])):
        hint = more(tr("That compares only H × W: the channels (3 for RGB, 4 latent channels) count too.",
                       "それは H × W だけを比べています。チャネル（RGB の 3、潜在表現の 4 チャネル）も数に入れます。"))
    return expected_got(what, f"{expected:.6g}", show(value)) + hint


# -- conv_output_size ------------------------------------------------------------------------------

def _conv_size(size, k, s, p) -> int:
    return (size + 2 * p - k) // s + 1


def conv_cases(rng: random.Random) -> list[Case]:
    return [Case((512, 3, 2, 1)),                                        # SD's encoder: 512 → 256
            Case((rng.choice((28, 14)), 3, 2, 1)),
            Case((7, 3, 2, 1)),                                          # an odd size: 7 → 4 (rounds down)
            Case((rng.choice((32, 28, 64)), 3, 1, 1)),                   # stride 1, padding 1 keeps the size
            Case((rng.randint(20, 40), 5, rng.choice((2, 3)), 0)),       # no padding
            Case((rng.randint(9, 30), 4, 2, 1))]


@check("conv_output_size", cases=conv_cases)
def conv_verify(case: Case, value) -> str | None:
    size, k, s, p = case.args
    what = f"conv_output_size(size={size}, kernel_size={k}, stride={s}, padding={p})"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if (problem := type_problem(value, int, what)) is not None:
        return problem + more(tr("Use // (integer division).", "//（整数の割り算）を使ってください。"))
    expected = _conv_size(size, k, s, p)
    if value == expected:
        return None
    hint = ""
    if value == expected - 1:
        hint = more(tr("Did you forget the + 1? The first position counts too.",
                       "+ 1 を忘れていませんか？最初の位置も数に入ります。"))
    elif value == (size - k) // s + 1:
        hint = more(tr("The padding adds p pixels on both sides: size + 2·padding.",
                       "パディングは両側に p ピクセルずつ足します：size + 2·padding です。"))
    elif value == (size + p - k) // s + 1:
        hint = more(tr("The padding adds p pixels on *both* sides: 2·padding.",
                       "パディングは「両側」に p ピクセルずつ足します：2·padding です。"))
    elif value == math.ceil((size + 2 * p - k) / s) + 1:
        hint = more(tr("Round down (//), not up: a window that would stick out past the padding is not computed.",
                       "切り上げではなく、切り捨て（//）です。パディングの外まではみ出す窓は計算しません。"))
    elif value == size // s:
        hint = more(tr("size // stride is right only for some kernels and paddings: use the full formula.",
                       "size // stride が正しいのは、一部のカーネルとパディングのときだけです。式をそのまま使います。"))
    return expected_got(what, f"{expected}", show(value)) + hint


# -- reparameterize --------------------------------------------------------------------------------

def reparam_cases(rng: random.Random) -> list[Case]:
    cases = []
    for shape in ((3, 8), (2, 4, 4, 4)):
        g = _generator(rng)
        mu, logvar, eps = (torch.randn(shape, generator=g) for _ in range(3))
        cases.append(Case((mu, logvar, eps)))
    g = _generator(rng)
    mu = torch.randn(2, 6, generator=g)
    cases.append(Case((mu, torch.full((2, 6), -2.0), torch.randn(2, 6, generator=g))))  # σ = e^-1
    cases.append(Case((mu, torch.zeros(2, 6), torch.zeros(2, 6)), edge=True))          # ε = 0: z = μ
    return cases


@check("reparameterize", cases=reparam_cases,
       twin=(f"{_LIB}:reparameterize", f"{_LIB}:DiagonalGaussian.sample"))
def reparam_verify(case: Case, value) -> str | None:
    mu, logvar, eps = (a.double() for a in case.args)
    want = mu + torch.exp(0.5 * logvar) * eps
    return _with_hint(value, want, _tensor_text("reparameterize", case), {
        tr("σ² is exp(logvar); σ (the standard deviation) is its square root: exp(0.5 · logvar).",
             "σ² が exp(logvar) で、σ（標準偏差）はその平方根 exp(0.5 · logvar) です。"):
            lambda: mu + torch.exp(logvar) * eps,
        tr("logvar is log σ², not σ: turn it into σ with exp(0.5 · logvar) first.",
             "logvar は σ ではなく log σ² です。先に exp(0.5 · logvar) で σ に直します。"): lambda: mu + logvar * eps,
        tr("Start from the mean: z = μ + σ·ε.", "平均から始めます：z = μ + σ·ε です。"):
            lambda: torch.exp(0.5 * logvar) * eps,
        tr("σ = exp(+0.5 · logvar), not exp(-0.5 · logvar).",
             "σ = exp(+0.5 · logvar) です。exp(-0.5 · logvar) ではありません。"):
            lambda: mu + torch.exp(-0.5 * logvar) * eps,
        tr("Multiply ε by σ; don't add it: z = μ + σ·ε.", "ε には σ を足すのではなく、掛けます：z = μ + σ·ε です。"):
            lambda: mu + torch.exp(0.5 * logvar) + eps,
    }, otherwise=tr("Compare at that index, element by element: z = μ + exp(0.5 · logvar) · ε, with μ, logvar and ε "
                      "taken at the same place.",
                      "そのインデックスで、要素ごとに比べてみましょう：z = μ + exp(0.5 · logvar) · ε です。μ、logvar、ε は"
                      "同じ場所の値を使います。"))


# -- kl_divergence ---------------------------------------------------------------------------------

def _kl_terms(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


def kl_cases(rng: random.Random) -> list[Case]:
    cases = []
    for shape in ((4, 16), (3, 4, 4, 4), (1, 8)):
        g = _generator(rng)
        cases.append(Case((torch.randn(shape, generator=g), 0.5 * torch.randn(shape, generator=g))))
    cases.append(Case((torch.zeros(2, 5), torch.zeros(2, 5)), edge=True))   # already N(0, 1): KL = 0
    return cases


@check("kl_divergence", cases=kl_cases,
       twin=(f"{_LIB}:kl_divergence", f"{_LIB}:DiagonalGaussian.kl", f"{_LIB}:vae_loss"))
def kl_verify(case: Case, value) -> str | None:
    mu, logvar = (a.double() for a in case.args)
    what = _tensor_text("kl_divergence", case)
    if isinstance(value, float) or (isinstance(value, torch.Tensor) and value.numel() == 1 and value.dim() > 0):
        got, shape = show(value, 60), tuple(value.shape) if isinstance(value, torch.Tensor) else None
        return tr(f"{what}: expected a scalar tensor (shape ()), got {got}{'' if shape is None else f' of shape {shape}'}. "
                    "Keep it a tensor (no .item()), and reduce it to one number with .sum(...) then .mean().",
                    f"{what}：期待されるのはスカラーのテンソル（形 ()）ですが、返ってきたのは {got}"
                    f"{'' if shape is None else f'（形 {shape}）'} です。テンソルのまま（.item() は使わずに）、"
                    ".sum(...) と .mean() で 1 つの数にまとめます。")
    terms = _kl_terms(mu, logvar)
    want = terms.flatten(1).sum(1).mean()
    return _with_hint(value, want, what, {
        tr("Sum over each image's latent numbers and average only over the batch (dimension 0); "
             "you averaged over everything.",
             "画像ごとに潜在表現の数を合計し、平均はバッチ（次元 0）についてだけとります。あなたの答えは、すべてに"
             "ついて平均しています。"): lambda: terms.mean(),
        tr("Average over the batch instead of summing it too: .flatten(1).sum(1).mean().",
             "バッチについては合計せずに平均します：.flatten(1).sum(1).mean() です。"): lambda: terms.sum(),
        tr("Sum over *every* dimension but the batch (dims 1, 2, 3 for maps): .flatten(1).sum(1).mean().",
             "バッチ以外の「すべての」次元で合計します（マップなら次元 1, 2, 3）：.flatten(1).sum(1).mean() です。"):
            lambda: terms.sum(1).mean(),
        tr("The sign: KL is never negative. It is -0.5 · Σ(1 + log σ² − μ² − σ²), i.e. +0.5 · Σ(μ² + σ² − 1 − log σ²).",
             "符号が逆です。KL が負になることはありません。-0.5 · Σ(1 + log σ² − μ² − σ²)、つまり "
             "+0.5 · Σ(μ² + σ² − 1 − log σ²) です。"): lambda: -want,
        tr("Don't forget the factor 0.5.", "係数 0.5 を忘れないでください。"): lambda: 2 * want,
        tr("σ² is exp(logvar), not exp(0.5 · logvar).", "σ² は exp(0.5 · logvar) ではなく exp(logvar) です。"):
            lambda: (0.5 * (mu.pow(2) + (0.5 * logvar).exp() - 1 - logvar)).flatten(1).sum(1).mean(),
        tr("μ enters squared: μ², not μ.", "μ は 2 乗して入ります：μ ではなく μ² です。"):
            lambda: (0.5 * (mu + logvar.exp() - 1 - logvar)).flatten(1).sum(1).mean(),
    }, otherwise=tr(f"Compare step by step: the terms 0.5 · (μ² + exp(logvar) − 1 − logvar) summed over each image give "
                      f"{_few(terms.flatten(1).sum(1))}, and their batch mean is {float(want):.6g}.",
                      f"順に比べてみましょう：項 0.5 · (μ² + exp(logvar) − 1 − logvar) を画像ごとに合計すると "
                      f"{_few(terms.flatten(1).sum(1))} で、そのバッチ平均が {float(want):.6g} です。"))


# -- vae_loss --------------------------------------------------------------------------------------

def loss_cases(rng: random.Random) -> list[Case]:
    cases = []
    for shape, beta in (((3, 1, 6, 6), 1.0), ((2, 3, 4, 4), round(rng.uniform(0.05, 0.5), 3)), ((4, 1, 5, 5), 0.0)):
        g = _generator(rng)
        x = torch.rand(shape, generator=g)
        x_hat = x + 0.3 * torch.randn(shape, generator=g)
        latent = (shape[0], 2, 2, 2) if len(cases) == 1 else (shape[0], 6)
        mu, logvar = torch.randn(latent, generator=g), 0.5 * torch.randn(latent, generator=g)
        cases.append(Case((x_hat, x, mu, logvar, beta)))
    return cases


@check("vae_loss", cases=loss_cases,
       twin=(f"{_LIB}:vae_loss", f"{_LIB}:kl_divergence", f"{_LIB}:vae_loss_fn"))
def loss_verify(case: Case, value) -> str | None:
    x_hat, x, mu, logvar = (a.double() for a in case.args[:4])
    beta = case.args[4]
    what = _tensor_text("vae_loss", case)
    if isinstance(value, float) or (isinstance(value, torch.Tensor) and value.numel() == 1 and value.dim() > 0):
        return tr(f"{what}: expected a scalar tensor (shape ()), got {show(value, 60)}. Keep it a tensor (no .item()).",
                    f"{what}：期待されるのはスカラーのテンソル（形 ()）ですが、返ってきたのは {show(value, 60)} です。"
                    "テンソルのまま返します（.item() は使いません）。")
    sq = (x_hat - x).pow(2)
    recon = sq.flatten(1).sum(1).mean()
    kl = _kl_terms(mu, logvar).flatten(1).sum(1).mean()
    want = recon + beta * kl
    return _with_hint(value, want, what, {
        tr("The reconstruction term sums the squared error over each image's pixels and averages over the batch "
             "(F.mse_loss's default averages over the pixels too, which makes the KL term far too strong).",
             "再構成項は、画像ごとにピクセルの二乗誤差を合計し、バッチについて平均します（F.mse_loss の既定では"
             "ピクセルについても平均するので、KL 項が強くなりすぎます）。"): lambda: sq.mean() + beta * kl,
        tr("Average the squared error over the batch, don't sum it.",
             "二乗誤差は、バッチについては合計せずに平均します。"): lambda: sq.sum() + beta * kl,
        tr("β multiplies the KL term only: recon + β · KL.", "β を掛けるのは KL 項だけです：recon + β · KL です。"):
            lambda: beta * recon + kl,
        tr("Multiply the KL term by β.", "KL 項に β を掛けます。"): lambda: recon + kl,
        tr("Square the difference: (x̂ − x)².", "差を 2 乗します：(x̂ − x)² です。"):
            lambda: (x_hat - x).abs().flatten(1).sum(1).mean() + beta * kl,
        tr("Add the two terms: the KL term is a penalty, recon + β · KL.",
             "2 つの項は足します。KL 項はペナルティです：recon + β · KL です。"): lambda: recon - beta * kl,
    }, otherwise=tr(f"Compare the two terms: the reconstruction term (squared error summed over each image, then the "
                      f"batch mean) is {float(recon):.6g}, the KL term {float(kl):.6g}, and β = {beta}.",
                      f"2 つの項を比べてみましょう：再構成項（画像ごとの二乗誤差の合計のバッチ平均）は {float(recon):.6g}、"
                      f"KL 項は {float(kl):.6g}、β = {beta} です。"))
