"""Hidden checks for lesson 07 · diffusion, forward and reverse (slide 47).

The right answers are the papers' formulas, computed here in float64 (tests check that they agree with
`shikumi.diffusion`'s schedulers and with diffusers'). The classic mistakes — α instead of ᾱ, a forgotten square
root, x_0 and ε swapped, `alphas_cumprod[t - 1]` reading the last entry when t = 0, no noise added, σ_t² = β_t
instead of β̃_t — are recognised by computing the wrong variant and comparing.
"""

from __future__ import annotations

import random

import torch

from autograder.checks import Case, array_problem, check, more
from autograder.checks import first_hint as _first_hint
from autograder.checks import generator as _gen
from autograder.checks import randn as _randn
from autograder.checks import tensor_problem as _tensor_problem
from shikumi.diffusion import cosine_betas, linear_betas
from shikumi.lang import tr

_NOT_LIBRARY = ("shikumi.diffusion:NoiseScheduler.add_noise", "shikumi.diffusion:NoiseScheduler.predict_original",
                "shikumi.diffusion:DDPMScheduler.step", "shikumi.diffusion:DDIMScheduler.step")


def _images(g: torch.Generator, *shape: int) -> torch.Tensor:
    """Something like a clean image in [-1, 1]."""
    return (torch.rand(*shape, generator=g) * 2 - 1).float()


def _schedule(kind: str, g: torch.Generator) -> torch.Tensor:
    """ᾱ for one of: a linear schedule (250 steps), the cosine one (200 steps), a random 40-step one."""
    if kind == "linear":
        betas = linear_betas(250, 1e-4, 0.06)
    elif kind == "cosine":
        betas = cosine_betas(200)
    else:
        betas = (torch.rand(40, generator=g) * 0.05 + 0.001).float()
    return torch.cumprod(1 - betas.double(), 0).float()








def _check(value, expected, what: str, variants, rtol=1e-4, atol=1e-4, compare: str = "") -> str | None:
    """compare: what to compare (a tr(…, …)) when the shape is right and no known mistake matches."""
    if (problem := _tensor_problem(value, what)) is not None:
        return problem
    if tuple(value.shape) == tuple(expected.shape) and torch.isnan(torch.as_tensor(value).double()).any():
        return (tr(f"{what}: the result contains NaN (a square root of a negative number, or 0 / 0?).",
                     f"{what}：結果に NaN が含まれています（負の数の平方根か、0 / 0 になっていませんか？）。")
                + _first_hint(value, variants))
    problem = array_problem(value, expected, what, rtol=rtol, atol=atol)
    if problem is None:
        return None
    hint = _first_hint(value, variants)
    if not hint and compare and tuple(value.shape) == tuple(expected.shape):
        hint = more(tr(compare, compare))
    return problem + hint


def _abar(alphas_cumprod: torch.Tensor, t, shape=None) -> torch.Tensor:
    """ᾱ_t in float64; t an int (−1 means "before the first step": 1) or a (B,) tensor, reshaped to broadcast."""
    ac = alphas_cumprod.double()
    if isinstance(t, int):
        return torch.tensor(1.0, dtype=torch.float64) if t < 0 else ac[t]
    a = ac[t.long()]
    return a.view(-1, *[1] * (len(shape) - 1))


# -- compute_alphas_cumprod ---------------------------------------------------------------------------------

def cumprod_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    return [
        Case((linear_betas(10, 0.01, rng.uniform(0.1, 0.3)),)),        # a short linear schedule
        Case(((torch.rand(25, generator=g) * 0.1 + 0.001).float(),)),   # random β's
        Case((cosine_betas(rng.randint(20, 60)),)),                     # the cosine schedule
        Case((torch.tensor([rng.uniform(0.1, 0.9)]),), edge=True),      # one step: ᾱ_0 = 1 − β_0
    ]


@check("compute_alphas_cumprod", cases=cumprod_cases)
def cumprod_verify(case: Case, value) -> str | None:
    (betas,) = case.args
    shape = tuple(betas.shape)
    what = tr(f"compute_alphas_cumprod(betas of shape {shape})", f"compute_alphas_cumprod(形 {shape} の betas)")
    b = betas.double()
    expected = torch.cumprod(1 - b, 0)
    variants = [
        (torch.cumprod(b, 0), tr("That is the cumulative product of the β's: multiply the α_t = 1 − β_t instead.",
                                   "それは β の累積積です。代わりに α_t = 1 − β_t を掛け合わせます。")),
        (1 - b, tr("That is α_t = 1 − β_t for each step alone; ᾱ_t multiplies all of them up to t (torch.cumprod).",
                     "それはステップごとの α_t = 1 − β_t そのものです。ᾱ_t は、t までの α をすべて掛け合わせたもの"
                     "です（torch.cumprod）。")),
        (torch.cat([torch.ones(1, dtype=torch.float64), expected[:-1]]),
         tr("Shifted by one step: ᾱ_0 is already α_0 = 1 − β_0 (the first image is noised once).",
              "1 ステップずれています。ᾱ_0 はすでに α_0 = 1 − β_0 です（最初の画像にも 1 回ノイズが加わっています）。")),
        (1 - torch.cumsum(b, 0), tr("That is 1 − (β_0 + … + β_t): ᾱ_t is a product, (1 − β_0)(1 − β_1)…(1 − β_t).",
                                      "それは 1 − (β_0 + … + β_t) です。ᾱ_t は積 (1 − β_0)(1 − β_1)…(1 − β_t) です。")),
        (torch.cumprod(1 - b, 0).sqrt(), tr("That is √ᾱ_t: return ᾱ_t itself (the square root comes in add_noise).",
                                              "それは √ᾱ_t です。ᾱ_t そのものを返します（平方根は add_noise で使います）。")),
    ]
    return _check(value, expected, what, variants, rtol=1e-5, atol=1e-6)


# -- add_noise -------------------------------------------------------------------------------------------

def add_noise_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for kind, shape in (("linear", (3, 1, 4, 5)), ("cosine", (2, 3, 4, 4)), ("random", (4, 1, 3, 3))):
        ac = _schedule(kind, g)
        t = torch.randint(1, len(ac), (shape[0],), generator=g)
        cases.append(Case((_images(g, *shape), _randn(g, *shape), t, ac)))
    ac = _schedule("linear", g)
    cases.append(Case((_images(g, 2, 1, 3, 5), _randn(g, 2, 1, 3, 5), torch.tensor([0, len(ac) - 1]), ac)))
    return cases


def _off_by_one() -> str:
    return tr("Off by one: use alphas_cumprod[t], not [t − 1].",
                "1 つずれています。[t − 1] ではなく alphas_cumprod[t] を使います。")


def _forward(x0, noise, a):
    return a.sqrt() * x0.double() + (1 - a).sqrt() * noise.double()


@check("add_noise", cases=add_noise_cases, twin=_NOT_LIBRARY)
def add_noise_verify(case: Case, value) -> str | None:
    x0, noise, t, ac = case.args
    what = f"add_noise(x0 {tuple(x0.shape)}, noise, t={t.tolist()}, alphas_cumprod)"
    a = _abar(ac, t, x0.shape)
    x, e = x0.double(), noise.double()
    variants = [
        (a * x + (1 - a) * e, tr("Forgot the square roots: x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise.",
                                   "平方根を忘れています：x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise です。")),
        (a * x + (1 - a).sqrt() * e, tr("Forgot the square root on the image: x0 is multiplied by √ᾱ_t, not ᾱ_t.",
                                          "画像の平方根を忘れています。x0 に掛けるのは ᾱ_t ではなく √ᾱ_t です。")),
        (a.sqrt() * x + (1 - a) * e, tr("Forgot the square root on the noise: noise is multiplied by √(1 − ᾱ_t), "
                                          "not 1 − ᾱ_t.",
                                          "ノイズの平方根を忘れています。noise に掛けるのは 1 − ᾱ_t ではなく "
                                          "√(1 − ᾱ_t) です。")),
        ((1 - a).sqrt() * x + a.sqrt() * e, tr("x0 and noise are swapped: the image gets √ᾱ_t, the noise √(1 − ᾱ_t).",
                                                 "x0 と noise が逆です。画像には √ᾱ_t、ノイズには √(1 − ᾱ_t) を"
                                                 "掛けます。")),
        (x + (1 - a).sqrt() * e, tr("The image must shrink too: multiply x0 by √ᾱ_t (that keeps the variance at 1).",
                                      "画像も縮めます。x0 に √ᾱ_t を掛けます（そうすると分散が 1 に保たれます）。")),
        (_forward(x, e, _abar(ac, (t - 1).clamp(min=0), x0.shape)), _off_by_one()),
        (a.sqrt() * x + a.sqrt().neg().add(1) * e, tr("The noise's factor is √(1 − ᾱ_t), not 1 − √ᾱ_t.",
                                                        "ノイズの係数は 1 − √ᾱ_t ではなく √(1 − ᾱ_t) です。")),
    ]
    return _check(value, _forward(x, e, a), what, variants, compare=_compare_abar(ac, t, "x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise"))


def _compare_abar(ac: torch.Tensor, t, formula: str) -> str:
    """What to compare when no known mistake matches: the formula, and the ᾱ_t it should use."""
    steps = t.tolist() if isinstance(t, torch.Tensor) else [t]
    abar = ", ".join(f"{float(ac.double()[s]):.4g}" for s in steps[:4]) + (", …" if len(steps) > 4 else "")
    return tr(f"Compare with {formula}, where ᾱ_t = alphas_cumprod[t] = {abar} for t = {steps[:4]}: print the two "
                "factors you multiply by and check them against these.",
                f"{formula} と比べてみましょう。t = {steps[:4]} の ᾱ_t = alphas_cumprod[t] は {abar} です。掛けている "
                "2 つの係数を print して、これと確かめてください。")


# -- predict_x0 -----------------------------------------------------------------------------------------

def predict_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for kind, shape in (("linear", (2, 1, 4, 4)), ("cosine", (3, 1, 3, 5)), ("random", (2, 3, 4, 4))):
        ac = _schedule(kind, g)
        t = rng.randint(1, int(len(ac) * 0.9))
        cases.append(Case((_randn(g, *shape), _randn(g, *shape), t, ac)))
    ac = _schedule("linear", g)
    cases.append(Case((_randn(g, 2, 1, 3, 3), _randn(g, 2, 1, 3, 3), 0, ac), edge=True))  # t = 0: little noise
    return cases


def _x0(x_t, eps, a):
    return (x_t.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()


@check("predict_x0", cases=predict_cases, twin=_NOT_LIBRARY)
def predict_verify(case: Case, value) -> str | None:
    x_t, eps, t, ac = case.args
    what = f"predict_x0(x_t {tuple(x_t.shape)}, eps_hat, t={t}, alphas_cumprod)"
    a = _abar(ac, t)
    x, e = x_t.double(), eps.double()
    variants = [
        ((x - (1 - a) * e) / a, tr("Forgot the square roots: x̂0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t.",
                                     "平方根を忘れています：x̂0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t です。")),
        ((x - (1 - a).sqrt() * e) / a, tr("Divide by √ᾱ_t, not ᾱ_t: the image was scaled by √ᾱ_t.",
                                            "ᾱ_t ではなく √ᾱ_t で割ります。画像は √ᾱ_t 倍されています。")),
        ((x - (1 - a) * e) / a.sqrt(), tr("The noise's factor is √(1 − ᾱ_t), not 1 − ᾱ_t.",
                                            "ノイズの係数は 1 − ᾱ_t ではなく √(1 − ᾱ_t) です。")),
        ((x + (1 - a).sqrt() * e) / a.sqrt(), tr("Sign: subtract the noise, x_t − √(1 − ᾱ_t) · ε̂.",
                                                   "符号が逆です。ノイズは引きます：x_t − √(1 − ᾱ_t) · ε̂ です。")),
        (x - (1 - a).sqrt() * e, tr("Divide by √ᾱ_t at the end: the image was shrunk by √ᾱ_t when it was noised.",
                                      "最後に √ᾱ_t で割ります。ノイズを加えたとき、画像は √ᾱ_t 倍に縮められています。")),
        ((x - a.sqrt() * e) / (1 - a).sqrt(), tr("√ᾱ_t and √(1 − ᾱ_t) are swapped.", "√ᾱ_t と √(1 − ᾱ_t) が逆です。")),
        (_x0(x, e, _abar(ac, max(t - 1, 0))), _off_by_one()),
    ]
    return _check(value, _x0(x, e, a), what, variants,
                  compare=_compare_abar(ac, t, "x̂0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t"))


# -- ddpm_step ---------------------------------------------------------------------------------------------

def ddpm_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for kind, shape in (("linear", (2, 1, 4, 4)), ("cosine", (2, 1, 3, 5)), ("random", (3, 2, 3, 3))):
        ac = _schedule(kind, g)
        t = rng.randint(2, int(len(ac) * 0.9))
        cases.append(Case((_randn(g, *shape), _randn(g, *shape), t, ac, _randn(g, *shape))))
    ac = _schedule("linear", g)
    cases.append(Case((_randn(g, 2, 1, 3, 3), _randn(g, 2, 1, 3, 3), 0, ac, _randn(g, 2, 1, 3, 3))))  # last step
    return cases


def _ddpm(x_t, eps, t, ac, z, sigma2="small", prev=None, alpha="step"):
    a_t = _abar(ac, t)
    a_prev = _abar(ac, t - 1) if prev is None else prev
    alpha_t = a_t / a_prev if alpha == "step" else a_t
    beta_t = 1 - alpha_t
    mean = (x_t.double() - beta_t / (1 - a_t).sqrt() * eps.double()) / alpha_t.sqrt()
    var = {"small": (1 - a_prev) / (1 - a_t) * beta_t, "large": beta_t, "none": torch.zeros(())}[sigma2]
    return mean + var.sqrt() * z.double(), mean, var


@check("ddpm_step", cases=ddpm_cases, twin=_NOT_LIBRARY)
def ddpm_verify(case: Case, value) -> str | None:
    x_t, eps, t, ac, z = case.args
    what = f"ddpm_step(x_t {tuple(x_t.shape)}, eps_hat, t={t}, alphas_cumprod, z)"
    expected, mean, var = _ddpm(x_t, eps, t, ac, z)
    variants = [
        (mean, tr("That is μ alone: add σ_t · z (the noise that keeps DDPM's samples varied).",
                    "それは μ だけです。σ_t · z を足します（DDPM のサンプルの多様さを保つノイズです）。") if t > 0 else ""),
        (_ddpm(x_t, eps, t, ac, z, sigma2="large")[0],
         tr("You used σ_t² = β_t; this exercise asks for β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t.",
              "σ_t² = β_t を使っています。この演習で使うのは β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t です。")),
        (mean + var * z.double(), tr("Multiply z by σ_t = √(σ_t²), not by the variance σ_t².",
                                       "z に掛けるのは、分散 σ_t² ではなく σ_t = √(σ_t²) です。")),
        (_ddpm(x_t, eps, t, ac, z, alpha="bar")[0], tr("α_t is one step's α: ᾱ_t / ᾱ_{t−1}, not ᾱ_t itself.",
                                                         "α_t は 1 ステップ分の α です：ᾱ_t そのものではなく "
                                                         "ᾱ_t / ᾱ_{t−1} です。")),
    ]
    if t == 0:
        variants.insert(0, (_ddpm(x_t, eps, t, ac, z, prev=ac.double()[-1])[0],
                            tr("At t = 0, ᾱ_{t−1} is 1 (nothing comes before the first step): alphas_cumprod[t − 1] "
                                 "with t = 0 reads the LAST entry of the tensor.",
                                 "t = 0 では ᾱ_{t−1} は 1 です（最初のステップの前には何もありません）。t = 0 で "
                                 "alphas_cumprod[t − 1] とすると、テンソルの「最後」の要素を読んでしまいます。")))
    return _check(value, expected, what, [v for v in variants if v[1]])


# -- ddim_step ---------------------------------------------------------------------------------------------

def ddim_cases(rng: random.Random) -> list[Case]:
    g = _gen(rng)
    cases = []
    for kind, shape in (("linear", (2, 1, 4, 4)), ("cosine", (2, 1, 3, 5)), ("random", (3, 2, 3, 3))):
        ac = _schedule(kind, g)
        t = rng.randint(len(ac) // 3, int(len(ac) * 0.9))
        t_prev = t - rng.randint(2, len(ac) // 5)
        cases.append(Case((_randn(g, *shape), _randn(g, *shape), t, t_prev, ac)))
    ac = _schedule("linear", g)
    cases.append(Case((_randn(g, 2, 1, 3, 3), _randn(g, 2, 1, 3, 3), rng.randint(10, 40), -1, ac)))  # the last jump
    return cases


def _ddim(x_t, eps, t, t_prev, ac, prev=None):
    a_t = _abar(ac, t)
    a_prev = _abar(ac, t_prev) if prev is None else prev
    x0 = _x0(x_t, eps, a_t)
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps.double(), x0, a_prev


@check("ddim_step", cases=ddim_cases, twin=_NOT_LIBRARY)
def ddim_verify(case: Case, value) -> str | None:
    x_t, eps, t, t_prev, ac = case.args
    what = f"ddim_step(x_t {tuple(x_t.shape)}, eps_hat, t={t}, t_prev={t_prev}, alphas_cumprod)"
    expected, x0, a_prev = _ddim(x_t, eps, t, t_prev, ac)
    e = eps.double()
    variants = [
        (_ddim(x_t, eps, t, t_prev, ac, prev=ac.double()[-1])[0] if t_prev < 0 else None,
         tr("For t_prev = −1 use ᾱ = 1 (the clean image): alphas_cumprod[-1] reads the LAST entry of the tensor.",
              "t_prev = −1 では ᾱ = 1（きれいな画像）とします。alphas_cumprod[-1] では、テンソルの「最後」の要素を"
              "読んでしまいます。")),
        (x0, tr("That is x̂0: re-noise it to the level of t_prev, √ᾱ_prev · x̂0 + √(1 − ᾱ_prev) · ε̂.",
                  "それは x̂0 です。t_prev のノイズの量まで戻します：√ᾱ_prev · x̂0 + √(1 − ᾱ_prev) · ε̂ です。")),
        (a_prev * x0 + (1 - a_prev) * e, tr("Forgot the square roots of ᾱ_prev and 1 − ᾱ_prev.",
                                              "ᾱ_prev と 1 − ᾱ_prev の平方根を忘れています。")),
        ((1 - a_prev).sqrt() * x0 + a_prev.sqrt() * e, tr("x̂0 and ε̂ are swapped: x̂0 gets √ᾱ_prev.",
                                                            "x̂0 と ε̂ が逆です。x̂0 に掛けるのは √ᾱ_prev です。")),
        (_ddim(x_t, eps, t, t - 1, ac)[0], tr(f"Jump to t_prev={t_prev}, not to t − 1 = {t - 1}.",
                                                f"t − 1 = {t - 1} ではなく、t_prev={t_prev} へジャンプします。")),
    ]
    return _check(value, expected, what, variants)
