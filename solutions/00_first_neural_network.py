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
#     lesson: 00_first_neural_network
#     title:
#       en: A first neural network
#       ja: "はじめてのニューラルネッ\
#         トワーク"
# ---

# %% [markdown] tags=["en"]
# # 00 · A first neural network (slides 2, 8)
#
# > **Slide 8:** 「使いこなすには Promptをこねくり回すのも大事だけど、基礎・原理を知ることが重要」 — *to really use it,
# > fiddling with prompts matters, but knowing the basics and the principles is what counts.*
#
# Every later lesson trains a neural network: a Transformer, GPT, a VAE, CLIP, a UNet. The talk says **学習**
# (*training*) on nearly every slide — 事前学習 (*pre-training*, slide 12), 「並列化できて学習早い!」 (*it trains fast*,
# slide 16) — and, as slide 2 promises, it explains things 「数式を使わずに」, *without formulas*. This lesson is the
# ramp for complete beginners: what a network is made of, and what training does to it, one small step at a time.
# Each idea comes first in words and a picture; the few formulas come after, written as code.
#
# **What you will build**
# - Tensors — boxes of numbers with a shape — and the two operations every network is made of, broadcasting and
#   the matrix product, each with a picture of the shapes.
# - A neuron that learns a straight line: you write its prediction, its loss and the step of gradient descent
#   **by hand**, then let PyTorch do the same (autograd, `torch.optim`).
# - A small neural network that learns to tell two moons of points apart, trained by the course's one training
#   loop, with sliders for the learning rate and the number of steps — and, each with a picture, every word the
#   later lessons use: loss, cross-entropy, learning rate, epoch/step/batch, overfitting, embedding, softmax,
#   ReLU/GELU. The [glossary](#glossary) at the end links to each.
#
# The picture this lesson brings to life is the one behind every 学習 in the talk: a network's decision boundary,
# bending step by step as it learns (section 8).

# %% [markdown] tags=["ja"]
# # 00 · はじめてのニューラルネットワーク（スライド 2, 8）
#
# > **スライド 8:** 「使いこなすには Promptをこねくり回すのも大事だけど、基礎・原理を知ることが重要」
#
# この先のレッスンでは、毎回ニューラルネットワークを学習させます。Transformer、GPT、VAE、CLIP、UNet。
# プレゼンにも、ほとんどのスライドに **学習** という言葉が出てきます。事前学習（スライド 12）、「並列化できて学習早い!」（スライド 16）。
# そしてスライド 2 にあるとおり、プレゼンは「数式を使わずに」説明しています。このレッスンは、AI 完全初心者のための入口です。
# ネットワークが何でできていて、学習がそれに何をするのかを、小さな一歩ずつ見ていきます。
# どのアイデアもまず言葉と図で説明し、数少ない数式はそのあとにコードとして書きます。
#
# **このレッスンで作るもの**
# - テンソル（形をもった数の箱）と、どのネットワークもそれでできている 2 つの演算、ブロードキャストと行列の積。どれも形の図つきです。
# - 直線を学習する 1 つのニューロン。予測、損失、勾配降下法の 1 ステップを **自分の手で** 書き、それから同じことを PyTorch にやらせます（autograd、`torch.optim`）。
# - 三日月形に並んだ 2 種類の点を見分ける小さなニューラルネットワーク。コース共通の学習ループで学習させ、学習率とステップ数はスライダーで変えられます。
#   この先のレッスンで使う言葉も、すべて図つきでここに登場します：損失、交差エントロピー、学習率、エポック／ステップ／バッチ、過学習、埋め込み、softmax、ReLU／GELU。
#   最後の [用語集](#glossary) から、それぞれの説明に飛べます。
#
# このレッスンで実際に動かしてみるのは、プレゼンに出てくるあらゆる「学習」の裏にある図です。
# ネットワークの決定境界が、学習の一歩ごとに曲がっていく様子です（8 節）。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `SIZE = "full"` uses five times as many points and trains longer.

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`SIZE = "full"` にすると、点の数を 5 倍にして長めに学習します。

# %% tags=["parameters"]
# en: DEVICE: "auto", "cpu" or "cuda" (these networks are tiny, but the same code runs on a GPU).
# en: SIZE: "quick" (seconds on a laptop) or "full". SEED: any whole number.
# en: (The grader and the course's tests run this notebook with exactly these values.)
# ja: DEVICE は "auto"・"cpu"・"cuda" のどれか（ここのネットワークは小さいけれど、同じコードが GPU でも動きます）。
# ja: SIZE は "quick"（ノート PC で数秒）か "full"。SEED は好きな整数。
# ja: （採点とコースのテストは、この値のままでこのノートブックを実行します。）
DEVICE = "auto"
SIZE = "quick"
SEED = 0

# %%
import copy
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import clear_output

from shikumi import data, get_device, plot, seed_everything
from shikumi.course.selfcheck import expect, expect_close, expect_shape, explained, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.train import TrainConfig, train
from shikumi.widgets import training_explorer

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. Numbers in boxes: tensors <a id="tensor"></a>
#
# A neural network only ever sees numbers. A photo is numbers (how bright each pixel is), a word becomes numbers
# (section 10), and ChatGPT's answer is numbers turned back into words. PyTorch keeps numbers in **tensors**: boxes
# of numbers with a **shape**, which says how many numbers there are along each direction.
#
# - one number (a *scalar*): shape `()`;
# - a row of 7 numbers (a *vector*): shape `(7,)`;
# - a table of 2 rows of 3 numbers (a *matrix*): shape `(2, 3)` — rows first, then columns.

# %% [markdown] tags=["ja"]
# ## 1. 数を箱に入れる：テンソル <a id="tensor"></a>
#
# ニューラルネットワークが見るのは、数だけです。写真は数（各ピクセルの明るさ）ですし、単語も数に変えます（10 節）。
# ChatGPT の答えも、数を単語に戻したものです。PyTorch は数を **テンソル** に入れて扱います。テンソルは数の箱で、
# **形**（shape）をもっています。形は、それぞれの方向に数がいくつ並んでいるかを表します。
#
# - 数 1 つ（*スカラー*）：形 `()`
# - 7 個の数の並び（*ベクトル*）：形 `(7,)`
# - 3 個の数が 2 行並んだ表（*行列*）：形 `(2, 3)`。先が行、あとが列です。

# %%
temperature = torch.tensor(21.5)                                   # en: one number: shape ()  # ja: 数 1 つ：形 ()
week = torch.tensor([21.5, 23.0, 19.0, 25.5, 24.0, 22.0, 20.5])    # en: 7 numbers: shape (7,)  # ja: 数 7 個：形 (7,)
table = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])           # en: 2 rows of 3: shape (2, 3)  # ja: 3 個ずつ 2 行：形 (2, 3)
names, title = (tr("temperature", "気温"), tr("week", "1 週間の気温"), tr("table", "表")), tr("three tensors and their shapes", "3 つのテンソルとその形")
for name, t in zip(names, (temperature, week, table)):
    print(tr(f"{name}: shape {tuple(t.shape)}, dtype {t.dtype}", f"{name}：形 {tuple(t.shape)}、dtype {t.dtype}"))
plot.tensors(list(zip(names, (temperature, week, table))), title=title)
plt.show()

# %% [markdown] tags=["en"]
# Every tensor also has a **dtype**, the kind of number in its boxes. Networks compute with `float32`, numbers with a
# decimal point (GPUs also use the smaller `bfloat16`); whole numbers, such as class labels and word ids, are `int64`.
# PyTorch picks the dtype from what you write: `1.0` is a float, `1` an integer. Indexing takes a tensor apart:
# `images[0]` is the first of a stack of pictures, `images[0, 0]` that picture's top row of pixels.

# %% [markdown] tags=["ja"]
# どのテンソルも **dtype**（データ型）、つまり箱に入っている数の種類をもっています。ネットワークは `float32`（小数点のある数）で計算します
# （GPU では、より小さい `bfloat16` も使います）。クラスのラベルや単語の番号のような整数は `int64` です。
# PyTorch は書き方から dtype を決めます。`1.0` は小数（float）、`1` は整数です。インデックスを使うとテンソルを分解できます。
# `images[0]` は積み重ねた画像の 1 枚目、`images[0, 0]` はその画像のいちばん上の行のピクセルです。

# %%
labels = torch.tensor([0, 1, 1, 0])                 # en: whole numbers: int64  # ja: 整数：int64
print(labels.dtype, "→ .float() →", labels.float().dtype)
images = torch.zeros(4, 28, 28)                     # en: 4 pictures of 28 × 28 pixels  # ja: 28 × 28 ピクセルの画像 4 枚
print(tuple(images.shape), "→ images[0]:", tuple(images[0].shape), "→ images[0, 0]:", tuple(images[0, 0].shape))

# %% [markdown] tags=["en"]
# ### Broadcasting <a id="broadcasting"></a>
#
# Arithmetic on tensors works box by box: `week - 20` takes 20 from each of the 7 numbers, and `a + b` adds the
# numbers in the same places of two tensors of the same shape. When the shapes differ, PyTorch **broadcasts**: it
# lines the two shapes up from the right, and a dimension of size 1 is stretched (copied) to match the other.
# A column of 3 plus a row of 4 gives a 3 × 4 table:

# %% [markdown] tags=["ja"]
# ### ブロードキャスト <a id="broadcasting"></a>
#
# テンソルの計算は箱ごとに行われます。`week - 20` は 7 個の数それぞれから 20 を引き、`a + b` は同じ形の 2 つのテンソルの
# 同じ位置にある数どうしを足します。形が違うときは、PyTorch が **ブロードキャスト** します。2 つの形を右端でそろえ、
# サイズ 1 の次元を相手に合わせて引き伸ばす（コピーする）のです。3 個の列と 4 個の行を足すと、3 × 4 の表になります：

# %%
print(week - 20)                                          # en: (7,) and one number: 20 comes off every day  # ja: (7,) と数 1 つ：毎日から 20 を引く
column = torch.tensor([[0.0], [10.0], [20.0]])            # (3, 1)
row = torch.tensor([[1.0, 2.0, 3.0, 4.0]])                # (1, 4)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5.4))
title1, title2 = "(3, 1) + (1, 4) → (3, 4)", tr("what broadcasting does: stretch the sizes 1, then add box by box",
                                                "ブロードキャストがしていること：サイズ 1 を引き伸ばしてから、箱ごとに足す")
plot.tensors([column, "+", row, "=", column + row], title=title1, ax=ax1)
plot.tensors([column.expand(3, 4), "+", row.expand(3, 4), "=", column + row], title=title2, ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# Broadcasting is handy — and it is behind the most common silent bug in deep learning. Predictions of shape
# `(5, 1)` minus right answers of shape `(5,)` do not give 5 differences: the shapes broadcast to `(5, 5)`, 25
# numbers, and no error says so. **Print the shapes.**

# %% [markdown] tags=["ja"]
# ブロードキャストは便利ですが、深層学習でいちばんよくある「エラーの出ないバグ」の原因でもあります。形 `(5, 1)` の予測から
# 形 `(5,)` の正解を引いても、5 個の差にはなりません。形がブロードキャストされて `(5, 5)`、つまり 25 個の数になり、
# しかもエラーは出ません。**形を print しましょう。**

# %%
pred, target = torch.zeros(5, 1), torch.ones(5)
print(tuple(pred.shape), "-", tuple(target.shape), "→", tuple((pred - target).shape))
# en: .squeeze(1) removes the dimension of size 1: (5, 1) → (5,)
# ja: .squeeze(1) はサイズ 1 の次元を取り除く：(5, 1) → (5,)
print(tuple(pred.squeeze(1).shape), "-", tuple(target.shape), "→", tuple((pred.squeeze(1) - target).shape))

# %% [markdown] tags=["en"]
# ### The matrix product <a id="matrix-product"></a>
#
# The most important operation of all: nearly all of ChatGPT's computing is matrix products. Two people buy fruit:
# `buy[i, j]` is how many of fruit j person i buys (2 people × 3 fruits), and `price[j, k]` is what fruit j costs in
# shop k (3 fruits × 4 shops). What does each person pay in each shop? For one person and one shop, multiply the
# quantities by the prices and add them up. The **matrix product** `buy @ price` does that for every person and every
# shop at once. The inner sizes must be equal (3 fruits on both sides) and disappear; the outer ones give the shape of
# the result: `(2, 3) @ (3, 4) → (2, 4)`.

# %% [markdown] tags=["ja"]
# ### 行列の積 <a id="matrix-product"></a>
#
# いちばん大事な演算です。ChatGPT の計算のほとんどは行列の積です。2 人が果物を買うとしましょう。`buy[i, j]` は人 i が果物 j を
# 何個買うか（2 人 × 3 種類）、`price[j, k]` は店 k での果物 j の値段（3 種類 × 4 店）です。それぞれの人がそれぞれの店で
# 払う金額は？ 1 人・1 店について、個数と値段を掛けて足し合わせれば求まります。**行列の積** `buy @ price` は、それを
# すべての人とすべての店について一度に計算します。内側のサイズ（両側とも果物 3 種類）は等しくなければならず、結果からは消えます。
# 外側のサイズが結果の形になります：`(2, 3) @ (3, 4) → (2, 4)`。

# %%
buy = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])              # en: (2 people, 3 fruits): how many of each  # ja: (2 人, 果物 3 種)：それぞれ何個買うか
price = torch.tensor([[100.0, 120.0, 90.0, 110.0],                   # en: (3 fruits, 4 shops): yen per fruit  # ja: (果物 3 種, 店 4 軒)：果物 1 個の値段（円）
                      [50.0, 40.0, 60.0, 45.0],
                      [200.0, 180.0, 210.0, 190.0]])
pay = buy @ price                                                     # en: (2, 4): what each person pays in each shop  # ja: (2, 4)：各人が各店で払う金額
names = (tr("buy", "買う個数"), tr("price", "値段"), tr("pay", "支払い"))
plot.tensors([(names[0], buy), "@", (names[1], price), "=", (names[2], pay)], fmt="{:.0f}")
plt.show()
line = tr("person 0 in shop 0: 1·100 + 2·50 + 0·200 = {a:.0f}, and pay[0, 0] = {b:.0f}",
          "人 0 の店 0 での支払い：1·100 + 2·50 + 0·200 = {a:.0f}、pay[0, 0] = {b:.0f}")
print(line.format(a=(buy[0] * price[:, 0]).sum(), b=pay[0, 0]))


# %% [markdown] tags=["en"]
# ## 2. A neuron <a id="neuron"></a>
#
# A **neuron**, the unit a neural network is built from, does one simple thing: it takes a few numbers in,
# multiplies each by a **weight** (how much that input matters), adds them up, and adds a **bias** (where it starts
# from). Weights and bias are the neuron's **parameters** <a id="parameters"></a>: the numbers that training adjusts.
# GPT-3 has 175 billion of them (slide 14: 1750億); the neuron below has 3.
#
# A café wants to guess how many iced coffees it will sell from two inputs: the temperature, and whether it is a
# weekend (1) or not (0). A neuron with weights `w = [2, 15]` and bias `b = −20` guesses 2 coffees per degree, 15 more
# at weekends, minus 20. For several days at once, put one day per row of `x`, of shape `(N days, 2 inputs)`. Each
# day's weighted sum is its row of `x` times `w`, added up: that is exactly the matrix product `x @ w`, of shape
# `(N,)`. Adding `b` broadcasts it to every day.
#
# ### Exercise 0.1 — a neuron's prediction (2 points)

# %% [markdown] tags=["ja"]
# ## 2. ニューロン <a id="neuron"></a>
#
# **ニューロン** はニューラルネットワークを作る部品で、やることは単純です。いくつかの数を受け取り、それぞれに **重み**
# （その入力がどれだけ大事か）を掛けて足し合わせ、**バイアス**（出発点）を足します。重みとバイアスはニューロンの
# **パラメータ** <a id="parameters"></a> で、学習によって調整される数です。GPT-3 にはパラメータが 1750 億個あります（スライド 14）。
# 下のニューロンには 3 個です。
#
# あるカフェが、気温と、週末（1）か平日（0）かの 2 つの入力から、アイスコーヒーが何杯売れるかを予想したいとします。
# 重み `w = [2, 15]`、バイアス `b = −20` のニューロンは「気温 1 度あたり 2 杯、週末はさらに 15 杯、そこから 20 杯を引く」と予想します。
# 何日分もまとめて計算するには、`x` の 1 行に 1 日分を入れます（形 `(N 日, 2 入力)`）。各日の重みつきの和は、`x` のその行と
# `w` を掛けて足し合わせたもの、つまり行列の積 `x @ w` そのもので、形は `(N,)` です。`b` を足すと、ブロードキャストで全部の日に足されます。
#
# ### 演習 0.1 — ニューロンの予測（2 点）

# %% nbgrader={"grade": false, "grade_id": "predict", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predict(x, w, b):
    """prediction = x @ w + b

    en: One neuron: each example's weighted sum of its inputs, plus the bias.
    ja: ニューロン 1 つ：各例の入力の重みつき和に、バイアスを足したもの。

    en: x: a float tensor of shape (N, d), one example per row; w: the d weights, shape (d,);
    en: b: the bias, a number (or a tensor of shape ()).
    en: Returns a tensor of shape (N,): one prediction per example.
    en: Hint: x @ w multiplies each row by w and adds it up (section 1); x * w would only multiply.
    ja: x: 形 (N, d) の float テンソル（1 行に 1 例）。w: d 個の重み、形 (d,)。
    ja: b: バイアス（数、または形 () のテンソル）。
    ja: 戻り値: 形 (N,) のテンソル。1 例につき予測 1 つ。
    ja: ヒント: x @ w は各行に w を掛けて足し合わせる（1 節）。x * w だと掛けるだけで、足し合わせない。
    """
    ### BEGIN SOLUTION
    return x @ w + b
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "predict_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
x = torch.tensor([[30.0, 1.0], [25.0, 0.0], [20.0, 1.0]])    # en: (3 days, 2 inputs): temperature, weekend?  # ja: (3 日, 入力 2 つ)：気温と、週末かどうか
w, b = torch.tensor([2.0, 15.0]), -20.0
with explained("predict(x, w, b)"):
    got = predict(x, w, b)
hints = {(3, 2): tr("x * w multiplies each input by its weight but does not add them up: use x @ w.", "x * w は入力に重みを掛けるだけで、足し合わせません。x @ w を使います。"), (3, 1): tr("Use w of shape (d,) as it is: x @ w has one number per example, (N,).", "形 (d,) の w をそのまま使います。x @ w なら 1 例につき数 1 つ、(N,) です。"), (): tr("That is one number for all the days together: keep one prediction per example (no .sum()).", "それは全部の日をまとめた数 1 つです。1 例につき予測を 1 つ返します（.sum() は使いません）。")}
expect_shape(got, (3,), "predict(x, w, b)", hints)
hints = {75.0: tr("Every prediction is 20 too high: did you forget + b?", "どの予測も 20 大きすぎます。+ b を忘れていませんか？"), 95.0: tr("Add the bias (+ b), do not subtract it.", "バイアスは引かずに足します（+ b）。")}
hint = tr("Day 0: 2·30 + 15·1 − 20 = 55.", "0 日目：2·30 + 15·1 − 20 = 55 です。")
expect(got.tolist(), [55.0, 30.0, 35.0], "predict(x, w, b)", hints.get(round(float(got[0]), 3), hint))
what = tr("one input (d = 1) and b given as a tensor", "入力が 1 つ（d = 1）で、b がテンソルのとき")
with explained("predict(x, w, b)"):
    got = predict(torch.tensor([[1.0], [2.0]]), torch.tensor([3.0]), torch.tensor(0.5))
expect(got.tolist(), [3.5, 6.5], what)
passed("Exercise 0.1")

# %% [markdown] tags=["en"]
# The café's forecast for the week of section 1, with Saturday and Sunday as the weekend:

# %% [markdown] tags=["ja"]
# 1 節の 1 週間の気温で、カフェの予想を出してみます（土曜と日曜が週末）：

# %%
weekend = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
days = torch.stack([week, weekend], dim=1)                      # en: (7 days, 2 inputs)  # ja: (7 日, 入力 2 つ)
forecast = predict(days, torch.tensor([2.0, 15.0]), -20.0)      # (7,)
day_names, series, title = [tr("Mon", "月"), tr("Tue", "火"), tr("Wed", "水"), tr("Thu", "木"), tr("Fri", "金"), tr("Sat", "土"), tr("Sun", "日")], tr("iced coffees", "アイスコーヒー（杯）"), tr("the neuron's forecast", "ニューロンの予想")
print(tuple(days.shape), "→", tuple(forecast.shape))
plot.lines(day_names, {series: forecast}, title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## 3. How wrong is it? The loss <a id="loss"></a>
#
# The café's weights were made up. A network finds its weights itself, from examples: that is **training** (学習).
# Let us watch it happen in the smallest network there is, one neuron with one input, which draws a straight line.
# Our examples: 20 learners, how many hours each one studied (x) and the score they got in a test out of 10 (y). We
# made the data ourselves from the line y = 1.5·x + 2, plus some noise; the neuron does not know that. Can it find
# the line?
#
# First it needs to know how wrong it is, as one number: the **loss**. Start from a guess, w = 0.5 and b = 1. The
# red segments are its misses, one per learner.

# %% [markdown] tags=["ja"]
# ## 3. どれだけ間違っている？ 損失 <a id="loss"></a>
#
# カフェの重みは、私たちが決めた数でした。ネットワークは、例（データ）から重みを自分で見つけます。それが **学習** です。
# いちばん小さなネットワーク、入力 1 つのニューロン 1 つで、学習が起きる様子を見てみましょう。このニューロンは直線を 1 本引きます。
# 例は 20 人の生徒の、勉強した時間（x）と 10 点満点のテストの点数（y）です。データは直線 y = 1.5·x + 2 にノイズを加えて
# 私たちが作りました。ニューロンはそれを知りません。この直線を見つけられるでしょうか？
#
# まず、自分がどれだけ間違っているかを数 1 つで知る必要があります。それが **損失**（loss）です。w = 0.5、b = 1 という当て推量から
# 始めましょう。赤い線分が、生徒 1 人につき 1 本の「外れ」です。

# %%
g = torch.Generator().manual_seed(SEED)
hours = 4 * torch.rand(20, generator=g)                          # en: (20,): hours studied, 0 to 4  # ja: (20,)：勉強した時間（0〜4 時間）
score = 1.5 * hours + 2 + 0.5 * torch.randn(20, generator=g)     # en: (20,): the test score: a line, plus noise  # ja: (20,)：テストの点数。直線にノイズを足したもの
xlabel, ylabel, title = tr("hours studied", "勉強した時間"), tr("test score", "テストの点数"), tr("a first guess: w = 0.5, b = 1", "最初の当て推量：w = 0.5、b = 1")
plot.line_fit(hours, score, 0.5, 1.0, title=title, xlabel=xlabel, ylabel=ylabel)
plt.show()


# %% [markdown] tags=["en"]
# The **mean squared error** (MSE) turns the misses into one number: square each miss, then take the average.
# Squaring makes every miss count as positive (a miss up and a miss down must not cancel out), and big misses count
# much more than small ones. A loss of 0 means every point lies exactly on the line.
#
# ### Exercise 0.2 — the mean squared error (2 points)

# %% [markdown] tags=["ja"]
# **平均二乗誤差**（MSE）は、外れを数 1 つにまとめます。外れをそれぞれ二乗して、平均をとります。二乗すると、どの外れも正の数として
# 数えられ（上への外れと下への外れが打ち消し合ってはいけません）、大きな外れは小さな外れよりずっと重く数えられます。
# 損失が 0 なら、すべての点がちょうど直線の上にあります。
#
# ### 演習 0.2 — 平均二乗誤差（2 点）

# %% nbgrader={"grade": false, "grade_id": "mse_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mse_loss(pred, target):
    """loss = mean((pred − target)²)

    en: The mean squared error.
    ja: 平均二乗誤差。

    en: pred, target: float tensors of the same shape, e.g. (N,): the predictions and the right answers.
    en: Returns a tensor of shape () (one number): the average, over all the examples, of the squared misses.
    en: Keep it a tensor (no .item() or float()): section 5 asks PyTorch to trace it back to the weights.
    en: Build it from -, ** and .mean(); do not call F.mse_loss.
    en: Hint: (pred - target) ** 2 squares each miss; .mean() averages them.
    ja: pred, target: 同じ形（たとえば (N,)）の float テンソル。予測と正解。
    ja: 戻り値: 形 ()（数 1 つ）のテンソル。すべての例についての、外れの二乗の平均。
    ja: テンソルのまま返すこと（.item() や float() は使わない）。5 節で PyTorch に、ここから重みまでさかのぼってもらうため。
    ja: -、**、.mean() から作ること。F.mse_loss は使わない。
    ja: ヒント: (pred - target) ** 2 で外れをそれぞれ二乗し、.mean() で平均する。
    """
    ### BEGIN SOLUTION
    return ((pred - target) ** 2).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "mse_loss_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
pred, target = torch.tensor([3.0, 1.0, 2.0, 6.0]), torch.tensor([1.0, 1.0, 3.0, 5.0])   # en: misses: 2, 0, −1, 1  # ja: ずれ：2, 0, −1, 1
with explained("mse_loss(pred, target)"):
    got = mse_loss(pred, target)
hints = {(4,): tr("That is one squared miss per example: average them with .mean().", "それは例ごとの外れの二乗です。.mean() で平均します。"), float: tr("Return the tensor itself: .item() and float() cut it off from autograd (section 5).", "テンソルのまま返します。.item() や float() を使うと autograd とのつながりが切れます（5 節）。")}
expect_shape(got, (), "mse_loss(pred, target)", hints)
hints = {0.5: tr("The misses 2 and −1 partly cancel out: square each miss before averaging.", "外れ 2 と −1 が一部打ち消し合っています。平均する前に、外れをそれぞれ二乗します。"), 1.0: tr("That is the average of the absolute misses: square them instead (** 2).", "それは外れの絶対値の平均です。代わりに二乗します（** 2）。"), 6.0: tr("That is the sum of the squared misses: divide by their number (.mean()).", "それは外れの二乗の合計です。個数で割ります（.mean()）。"), 1.225: tr("That is the square root of the MSE (the RMSE): leave out the square root.", "それは MSE の平方根（RMSE）です。平方根はとりません。"), 0.25: tr("Square each miss first, then average: the square of the average miss is not the same.", "先に外れを二乗してから平均します。外れの平均を二乗したものとは違います。")}
hint = tr("(2² + 0² + 1² + 1²) / 4 = 1.5.", "(2² + 0² + 1² + 1²) / 4 = 1.5 です。")
expect(round(float(got), 4), 1.5, "mse_loss([3, 1, 2, 6], [1, 1, 3, 5])", hints.get(round(float(got), 3), hint))
a, b = torch.randn(10, generator=torch.Generator().manual_seed(1)), torch.randn(10)
what = tr("mse_loss(a, b) on random numbers, against PyTorch's F.mse_loss", "乱数での mse_loss(a, b)（PyTorch の F.mse_loss と比べて）")
mistakes = [(((a - b) ** 2).sum() / 4, tr("Divide by the number of misses (.mean()), not by 4: here there are 10.", "4 ではなく外れの個数で割ります（.mean()）。ここでは 10 個です。"))]
expect_close(mse_loss(a, b), F.mse_loss(a, b), what, mistakes=mistakes)
passed("Exercise 0.2")

# %% [markdown] tags=["en"]
# A loss turns "how good is this line?" into a height. Try every slope w from −1 to 4 (keeping b = 2) and draw the
# loss of each: a valley. Training means **walking down into that valley**.

# %% [markdown] tags=["ja"]
# 損失は「この直線はどれくらい良いか」を高さに変えます。傾き w を −1 から 4 まで（b = 2 のまま）変えながら、それぞれの損失を描くと、
# 谷ができます。学習とは、**この谷を下りていくこと** です。

# %%
ws = torch.linspace(-1, 4, 101)                                          # en: 101 slopes to try  # ja: 試す傾き 101 個
valley = torch.stack([mse_loss(w * hours + 2.0, score) for w in ws])     # en: (101,): the loss of each line  # ja: (101,)：直線ごとの損失
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
guess = mse_loss(0.5 * hours + 1.0, score)
title1, title2, series = tr("w = 0.5, b = 1: loss {loss:.2f}", "w = 0.5、b = 1：損失 {loss:.2f}"), tr("the loss of every slope w (b = 2)", "傾き w ごとの損失（b = 2）"), tr("loss (MSE)", "損失（MSE）")
plot.line_fit(hours, score, 0.5, 1.0, title=title1.format(loss=guess), xlabel=xlabel, ylabel=ylabel, ax=ax1)
plot.lines(ws, {series: valley}, title=title2, xlabel="w", ylabel="MSE", marker=None, ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# ## 4. Walking downhill: gradient descent, by hand <a id="gradient-descent"></a>
#
# Imagine standing in that valley in thick fog. You cannot see the bottom, but you can feel which way the ground
# slopes under your feet. So: take a small step downhill, feel again, step again. That is all **gradient descent** is.
#
# The slope under your feet is the **gradient** <a id="gradient"></a>: how much the loss changes when a weight moves
# a tiny bit. We can measure it without any formula: nudge w by 0.001 and see how much the loss moves; then b.

# %% [markdown] tags=["ja"]
# ## 4. 坂を下る：勾配降下法を手で書く <a id="gradient-descent"></a>
#
# 濃い霧の中で、この谷に立っているところを想像してください。谷底は見えませんが、足元の地面がどちらに傾いているかはわかります。
# そこで、下り坂の方へ小さく 1 歩進み、また傾きを確かめて、また 1 歩。**勾配降下法** とは、ただそれだけのことです。
#
# 足元の傾きが **勾配**（gradient）<a id="gradient"></a> です。重みをほんの少し動かしたとき、損失がどれだけ変わるかを表します。
# これは式を使わなくても測れます。w を 0.001 だけずらして、損失がどれだけ動くかを見ます。次に b も。

# %%
w, b, nudge = 0.5, 1.0, 1e-3
loss_here = mse_loss(w * hours + b, score)
slope_w = (mse_loss((w + nudge) * hours + b, score) - loss_here) / nudge
slope_b = (mse_loss(w * hours + (b + nudge), score) - loss_here) / nudge
line = tr("nudging w by 0.001 moves the loss {a:.2f} times as much; nudging b, {b:.2f} times",
          "w を 0.001 ずらすと損失はその {a:.2f} 倍動き、b をずらすと {b:.2f} 倍動く")
print(line.format(a=slope_w, b=slope_b))

# %% [markdown] tags=["en"]
# Both slopes are negative: making w or b **bigger** lowers the loss. So we step the other way from the slope:
#
#     new w = w − lr × (slope of w)        new b = b − lr × (slope of b)
#
# where the **learning rate** `lr` sets the size of the step (the end of this section shows what it does).
#
# For the MSE of a line, the slopes also have an exact formula (calculus gives it; you need not derive it):
#
#     slope of w = mean(2 · miss · x)        slope of b = mean(2 · miss)        where miss = w·x + b − y
#
# In words: every point pulls the line towards itself, in proportion to its miss; for w, the points far to the right
# (big x) pull harder. The formula gives what we measured by nudging:

# %% [markdown] tags=["ja"]
# どちらの傾きも負です。つまり w や b を **大きく** すると損失は下がります。だから、傾きとは逆の向きに進みます：
#
#     新しい w = w − lr × (w の傾き)        新しい b = b − lr × (b の傾き)
#
# ここで **学習率**（learning rate）`lr` は 1 歩の大きさを決めます（この節の最後で、その効き目を見ます）。
#
# 直線の MSE については、傾きにはぴったりの式もあります（微分で求まりますが、導き方は知らなくて大丈夫です）：
#
#     w の傾き = mean(2 · miss · x)        b の傾き = mean(2 · miss)        ただし miss = w·x + b − y（外れ）
#
# 言葉で言うと、どの点も外れの大きさに比例して直線を自分の方へ引っぱり、w については右の方の点（x が大きい点）ほど強く引っぱります。
# この式から、ずらして測った値と同じ数が出てきます：

# %%
miss = w * hours + b - score                                     # en: (20,): how far off each prediction is  # ja: (20,)：各予測のずれ
formula_w, formula_b = (2 * miss * hours).mean(), (2 * miss).mean()
line = tr("formula: slope of w {a:.3f}, of b {b:.3f}   (nudging: {c:.3f}, {d:.3f})",
          "式：w の傾き {a:.3f}、b の傾き {b:.3f}（ずらして測った値：{c:.3f}、{d:.3f}）")
print(line.format(a=formula_w, b=formula_b, c=slope_w, d=slope_b))


# %% [markdown] tags=["en"]
# ### Exercise 0.3 — one step of gradient descent (3 points)

# %% [markdown] tags=["ja"]
# ### 演習 0.3 — 勾配降下法の 1 ステップ（3 点）

# %% nbgrader={"grade": false, "grade_id": "gradient_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gradient_step(w, b, x, y, lr):
    """w ← w − lr · mean(2·miss·x),  b ← b − lr · mean(2·miss),  miss = w·x + b − y   (gradient descent)

    en: One step downhill on the MSE of the line w·x + b.
    ja: 直線 w·x + b の MSE の上で、坂を 1 歩下る。
    en: w, b: the line's slope and intercept, numbers; x, y: float tensors of shape (N,), the inputs and the right
    en: answers; lr: the learning rate, a number > 0. Returns the new (w, b): a tuple of two numbers.
    en: Compute both slopes at the OLD w and b, before changing either. Use the formula, not autograd.
    en: Hint: miss = w * x + b - y has shape (N,); the slope of w is (2 * miss * x).mean(); step against the slope.
    ja: w, b: 直線の傾きと切片（数）。x, y: 形 (N,) の float テンソル（入力と正解）。lr: 学習率（正の数）。
    ja: 戻り値: 新しい (w, b)。2 つの数のタプル。
    ja: 2 つの傾きは、どちらかを変える前の古い w と b で計算すること。autograd ではなく式を使うこと。
    ja: ヒント: miss = w * x + b - y の形は (N,)。w の傾きは (2 * miss * x).mean()。傾きと逆向きに進む。
    """
    ### BEGIN SOLUTION
    miss = w * x + b - y                              # (N,): how far off each prediction is
    slope_w = (2 * miss * x).mean()
    slope_b = (2 * miss).mean()
    return float(w - lr * slope_w), float(b - lr * slope_b)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "gradient_step_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 5.0])
with explained("gradient_step(0, 0, x, y, 0.1)"):
    got = gradient_step(0.0, 0.0, x, y, 0.1)
what, hint = tr("gradient_step(...) returns two numbers, (w, b)", "gradient_step(...) が 2 つの数 (w, b) を返す"), tr("End with return new_w, new_b.", "最後は return new_w, new_b です。")
expect(isinstance(got, (tuple, list)) and len(got) == 2, True, what, hint)
got = tuple(round(float(v), 3) for v in got)
hints = {(-1.3, -0.8): tr("You stepped uphill: subtract lr × slope, do not add it.", "坂を上っています。lr × 傾きは足さずに引きます。"), (13.0, 8.0): tr("The step is lr × slope: multiply the slope by lr.", "1 歩は lr × 傾きです。傾きに lr を掛けます。"), (0.65, 0.4): tr("The slope of a square has a factor 2: mean(2 · miss · x).", "二乗の傾きには 2 が掛かります：mean(2 · miss · x)。"), (2.6, 1.6): tr("Average over the examples (.mean()), do not sum.", "例について合計せず、平均します（.mean()）。"), (1.3, 1.3): tr("b's slope has no x in it: mean(2 · miss).", "b の傾きには x が入りません：mean(2 · miss)。"), (0.8, 0.8): tr("w's slope has an x in it: mean(2 · miss · x).", "w の傾きには x が入ります：mean(2 · miss · x)。"), (1.3, 0.41): tr("Compute b's slope with the old w: both slopes come from the same miss, before either changes.", "b の傾きは古い w で計算します。2 つの傾きは、どちらかを変える前の同じ miss から求めます。"), (0.8, 1.3): tr("You returned (b, w): return (w, b).", "(b, w) の順で返しています。(w, b) の順で返します。")}
hint = tr("With w = b = 0 the misses are [−3, −5]: the slope of w is mean(2·[−3, −5]·[1, 2]) = −13, of b it is −8; so w = 0 − 0.1·(−13) = 1.3 and b = 0.8.",
          "w = b = 0 では外れは [−3, −5] なので、w の傾きは mean(2·[−3, −5]·[1, 2]) = −13、b の傾きは −8。よって w = 0 − 0.1·(−13) = 1.3、b = 0.8 です。")
expect(got, (1.3, 0.8), "gradient_step(0, 0, x=[1, 2], y=[3, 5], lr=0.1)", hints.get(got, hint))
what, hint = tr("on a perfect line, no step", "完全に合っている直線では動かない"), tr("When every miss is 0, both slopes are 0: w and b stay where they are.", "外れがすべて 0 なら、傾きも両方 0 です。w と b はそのままです。")
with explained("gradient_step(2, 1, x, 2x + 1, 0.5)"):
    got = gradient_step(2.0, 1.0, torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 3.0, 5.0]), 0.5)
expect(tuple(round(float(v), 6) for v in got), (2.0, 1.0), what, hint)
passed("Exercise 0.3")

# %% [markdown] tags=["en"]
# Now repeat the step 100 times, from w = b = 0 with lr = 0.1, and watch the loss fall and the line settle:

# %% [markdown] tags=["ja"]
# では、w = b = 0 から lr = 0.1 でこの 1 歩を 100 回くり返し、損失が下がり、直線が落ち着いていく様子を見ましょう：

# %%
w_hand, b_hand = 0.0, 0.0
losses = []
for step in range(100):
    w_hand, b_hand = gradient_step(w_hand, b_hand, hours, score, lr=0.1)
    losses.append(mse_loss(w_hand * hours + b_hand, score).item())
line = tr("after 100 steps: w = {w:.3f}, b = {b:.3f}, loss {loss:.3f}   (the data came from w = 1.5, b = 2, plus noise)",
          "100 ステップ後：w = {w:.3f}、b = {b:.3f}、損失 {loss:.3f}（データは w = 1.5、b = 2 にノイズを加えて作った）")
print(line.format(w=w_hand, b=b_hand, loss=losses[-1]))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
title1, title2, xlabel1 = tr("the loss, step by step", "ステップごとの損失"), tr("after 100 steps: w = {w:.2f}, b = {b:.2f}", "100 ステップ後：w = {w:.2f}、b = {b:.2f}"), tr("step", "ステップ")
plot.lines(range(1, 101), {"MSE": losses}, title=title1, xlabel=xlabel1, ylabel="MSE", logy=True, marker=None, ax=ax1)
plot.line_fit(hours, score, w_hand, b_hand, title=title2.format(w=w_hand, b=b_hand), xlabel=xlabel, ylabel=ylabel, ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# Close to 1.5 and 2, not exactly: 20 noisy points do not pin the line down exactly, and the neuron found the line
# that fits *these* points best.
#
# ### The learning rate <a id="learning-rate"></a>
#
# The **learning rate** is the size of each step, and the number you will tune most often. Below, only w learns
# (b stays at 2), so that every step can be drawn on the valley of section 3: 8 steps from w = 0, with three
# learning rates.
# - **Too small**: each step is a crawl; after 8 steps w is still far from the bottom.
# - **About right**: a few steps, and it is there.
# - **Too big**: every step overshoots the bottom to the other side, a little higher each time: the loss
#   *explodes*. (In a big network this shows as a loss that suddenly turns into `nan`.)

# %% [markdown] tags=["ja"]
# 1.5 と 2 に近いですが、ぴったりではありません。ノイズのある 20 個の点だけでは直線は 1 本に決まりきらず、ニューロンは
# *この 20 個の点* にいちばん合う直線を見つけたのです。
#
# ### 学習率 <a id="learning-rate"></a>
#
# **学習率** は 1 歩の大きさで、いちばんよく調整することになる数です。下では w だけを学習させ（b は 2 のまま）、
# すべての 1 歩を 3 節の谷の上に描きます。w = 0 から 8 歩、3 通りの学習率で進みます。
# - **小さすぎる**：1 歩ずつ這うように進み、8 歩たっても谷底からまだ遠い。
# - **ちょうどよい**：数歩で谷底に着く。
# - **大きすぎる**：毎回谷底を越えて反対側に行き、しかも少しずつ高くなっていく。損失が *発散* します
#   （大きなネットワークでは、損失が突然 `nan` になる、という形で現れます）。

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
names, panel = (tr("too small", "小さすぎる"), tr("about right", "ちょうどよい"), tr("too big", "大きすぎる")), tr("lr = {lr}: {name}", "学習率 {lr}：{name}")
for ax, lr, name in zip(axes, (0.02, 0.1, 0.27), names):
    path = [0.0]
    for step in range(8):
        new_w, _ = gradient_step(path[-1], 2.0, hours, score, lr)     # en: b stays 2: only w moves  # ja: b は 2 のまま：動くのは w だけ
        path.append(new_w)
    span = torch.linspace(min(path) - 0.5, max(path) + 0.5, 100)
    landscape = torch.stack([mse_loss(v * hours + 2.0, score) for v in span])
    steps = torch.stack([mse_loss(v * hours + 2.0, score) for v in path])
    plot.descent(span, landscape, path, steps, title=panel.format(lr=lr, name=name), xlabel="w", ylabel="MSE", ax=ax)
plt.show()

# %% [markdown] tags=["en"]
# ## 5. Let PyTorch find the slopes: autograd and `torch.optim` <a id="autograd"></a>
#
# Working out the slope formula by hand is fine for a line with 2 parameters; GPT-3 has 175 billion, in 96 layers.
# PyTorch finds every slope for us. Mark the parameters with `requires_grad=True`, compute the loss as usual, and call
# `loss.backward()`: PyTorch has remembered every operation that led from the parameters to the loss, walks them
# backwards (this walk is called **backpropagation**), and puts each parameter's slope in its `.grad`. This is
# **autograd**, automatic differentiation.

# %% [markdown] tags=["ja"]
# ## 5. 傾きは PyTorch に求めてもらう：autograd と `torch.optim` <a id="autograd"></a>
#
# 傾きの式を手で求めるのは、パラメータが 2 つの直線ならかまいません。でも GPT-3 には 96 層に 1750 億個のパラメータがあります。
# PyTorch は、すべての傾きを代わりに求めてくれます。パラメータに `requires_grad=True` と印をつけ、いつもどおり損失を計算して、
# `loss.backward()` を呼びます。PyTorch はパラメータから損失に至るまでのすべての演算を覚えていて、それを逆向きにたどり
# （このたどり方を **誤差逆伝播法**、backpropagation と呼びます）、各パラメータの傾きをその `.grad` に入れます。
# これが **autograd**（自動微分）です。

# %%
w = torch.tensor(0.5, requires_grad=True)
b = torch.tensor(1.0, requires_grad=True)
loss = mse_loss(w * hours + b, score)          # en: your Exercise 0.2  # ja: 演習 0.2 のあなたの関数
loss.backward()                                # en: fills w.grad and b.grad  # ja: w.grad と b.grad を埋める
line = tr("autograd: slope of w {a:.3f}, of b {b:.3f}   (your formula in section 4: {c:.3f}, {d:.3f})",
          "autograd：w の傾き {a:.3f}、b の傾き {b:.3f}（4 節の式：{c:.3f}、{d:.3f}）")
print(line.format(a=w.grad, b=b.grad, c=formula_w, d=formula_b))

# %% [markdown] tags=["en"]
# The same numbers. The step itself is done by an **optimizer**: `torch.optim.SGD` (*stochastic gradient descent*)
# does `w ← w − lr · w.grad` for every parameter it is given. Together that makes four lines, and **every** training
# loop looks like them, ChatGPT's included. Because `backward()` *adds* to `.grad`, each step starts by clearing it.

# %% [markdown] tags=["ja"]
# 同じ数になりました。1 歩進むのは **オプティマイザ** の仕事です。`torch.optim.SGD`（*確率的勾配降下法*）は、渡された
# すべてのパラメータについて `w ← w − lr · w.grad` を行います。合わせると 4 行になり、**どの** 学習ループも（ChatGPT のものも）
# この形をしています。`backward()` は `.grad` に *足し込む* ので、毎ステップ最初に `.grad` をクリアします。

# %%
w = torch.tensor(0.0, requires_grad=True)
b = torch.tensor(0.0, requires_grad=True)
optimizer = torch.optim.SGD([w, b], lr=0.1)
for step in range(100):
    loss = mse_loss(w * hours + b, score)      # en: 1. how wrong are we?  # ja: 1. どれだけ間違っているか
    optimizer.zero_grad()                      # en: 2. clear the previous step's slopes  # ja: 2. 前のステップの傾きを消す
    loss.backward()                            # en: 3. the slope of every parameter, into its .grad  # ja: 3. すべてのパラメータの傾きを、それぞれの .grad に
    optimizer.step()                           # en: 4. one step downhill: w ← w − lr · w.grad, the same for b  # ja: 4. 下り坂へ 1 歩：w ← w − lr · w.grad、b も同じ
line = tr("torch.optim:          w = {a:.4f}, b = {b:.4f}\nyour gradient_step:   w = {c:.4f}, b = {d:.4f}",
          "torch.optim：        w = {a:.4f}、b = {b:.4f}\nあなたの gradient_step：w = {c:.4f}、b = {d:.4f}")
print(line.format(a=w.item(), b=b.item(), c=w_hand, d=b_hand))

# %% [markdown] tags=["en"]
# ## 6. From numbers to classes: softmax and cross-entropy
#
# A line predicts a number. Much of AI instead **chooses**: is this point blue or orange, which of 10 digits is in
# this picture, which word comes next (lesson 01: P(next word | context)). Here are our next examples: points in
# the plane, each of class 0 (blue) or class 1 (orange), in two interlocking half-moons. The task: from a point's
# two coordinates, tell its class. We keep 200 more points aside that training never sees, to check the network on
# points it has not learned from (**held-out** points; section 9 says why that matters).

# %% [markdown] tags=["ja"]
# ## 6. 数からクラスへ：softmax と交差エントロピー
#
# 直線は数を予測します。でも AI の多くは、むしろ **選びます**。この点は青か橙か、この画像に写っているのは 10 個の数字のどれか、
# 次に来るのはどの単語か（レッスン 01：P(次の単語 | 文脈)）。次の例は平面上の点で、どの点もクラス 0（青）かクラス 1（橙）に属し、
# かみ合った 2 つの三日月形に並んでいます。課題は、点の 2 つの座標から、そのクラスを当てることです。
# 学習には一度も使わない点を別に 200 個とっておき、学習していない点でネットワークを確かめます（**評価用** の点。
# それがなぜ大事なのかは 9 節で説明します）。

# %%
n_train = 400 if SIZE == "quick" else 2000
points, classes = data.points_2d(n_train + 200, "moons", noise=0.15, seed=SEED)
x_train, y_train = points[:n_train], classes[:n_train]       # (n_train, 2) float32, (n_train,) int64
x_val, y_val = points[n_train:], classes[n_train:]           # en: (200, 2), (200,): held out  # ja: (200, 2)、(200,)：評価用
print("x_train", tuple(x_train.shape), x_train.dtype, "  y_train", tuple(y_train.shape), y_train.dtype)
title = tr("two moons: {n} points of 2 classes", "2 つの三日月：2 クラス、{n} 個の点")
plot.scatter(x_train, y_train, title=title.format(n=n_train))
plt.show()

# %% [markdown] tags=["en"]
# ### Softmax: scores into probabilities <a id="softmax"></a>
#
# A classifier has one output per class, a score called a **logit**: the bigger, the more the model believes in that
# class. Logits can be any numbers, negative ones too. **Softmax** turns them into probabilities: it makes every
# score positive (with exp), then divides by their total, so that they sum to 1. The biggest score keeps the biggest
# share, and the order never changes. (Lesson 02 writes softmax by hand and finds a trap in it; here we use
# PyTorch's, `torch.softmax`.)

# %% [markdown] tags=["ja"]
# ### softmax：スコアを確率に <a id="softmax"></a>
#
# 分類するモデルは、クラスごとに 1 つ、**ロジット**（logit）と呼ばれるスコアを出力します。大きいほど、モデルがそのクラスだと考えています。
# ロジットはどんな数でもよく、負の数にもなります。**softmax** はそれを確率に変えます。どのスコアも（exp で）正の数にしてから、
# その合計で割るので、合計が 1 になります。いちばん大きなスコアがいちばん大きな割合をもらい、順位は変わりません
# （レッスン 02 では softmax を自分で書き、そこに潜む落とし穴も見つけます。ここでは PyTorch の `torch.softmax` を使います）。

# %%
logits = torch.tensor([2.0, 1.0, -1.0])            # en: one score per class  # ja: クラスごとにスコア 1 つ
probs = torch.softmax(logits, dim=-1)              # en: (3,): positive, summing to 1  # ja: (3,)：どれも正で、合計 1
names, title1, title2, ylabel = [tr("cat", "ねこ"), tr("dog", "いぬ"), tr("bird", "とり")], tr("logits: any numbers", "ロジット：どんな数でもよい"), tr("softmax(logits): probabilities", "softmax(ロジット)：確率"), tr("score", "スコア")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 2.8))
plot.bar(dict(zip(names, logits.tolist())), title=title1, ylabel=ylabel, ax=ax1)
plot.bar(dict(zip(names, probs.tolist())), title=title2, ylabel="P", ax=ax2)
plt.show()
print(probs, probs.sum())

# %% [markdown] tags=["en"]
# ### Cross-entropy: how surprised was the model? <a id="cross-entropy"></a>
#
# To train a classifier we need a loss again. The **cross-entropy** loss asks: *how surprised was the model by the
# right answer?* If it gave the right class the probability p, its **surprise** is −log p. Sure and right (p = 1):
# no surprise, 0. Undecided between two classes (p = 0.5): 0.69. Sure of the wrong class (p = 0.01): 4.6. The loss is
# the average surprise over the examples: it falls as the model gives the right classes more probability, and a
# model that is confidently wrong is punished hardest.
#
# The same number measured lesson 01's language models: their perplexity is exp(cross-entropy), the number of words
# the model hesitates between.

# %% [markdown] tags=["ja"]
# ### 交差エントロピー：モデルはどれだけ驚いた？ <a id="cross-entropy"></a>
#
# 分類するモデルを学習させるにも、やはり損失が必要です。**交差エントロピー** 損失は「正解を見て、モデルはどれだけ驚いたか」を測ります。
# モデルが正解のクラスに確率 p をつけていたなら、その **驚き** は −log p です。自信をもって正解（p = 1）なら驚きは 0。
# 2 つのクラスで迷っていた（p = 0.5）なら 0.69。自信をもって別のクラスを選んでいた（p = 0.01）なら 4.6。
# 損失は、すべての例についての驚きの平均です。モデルが正解のクラスに大きな確率をつけるほど下がり、自信満々で間違えたときにいちばん重く罰せられます。
#
# レッスン 01 の言語モデルも、同じ数で測っていました。パープレキシティは exp(交差エントロピー) で、モデルが何語の中で迷っているかを表します。

# %%
p = torch.linspace(0.01, 1, 200)
series, title, xlabel, ylabel = tr("surprise = −log p", "驚き = −log p"), tr("cross-entropy: the surprise at the right answer", "交差エントロピー：正解を見たときの驚き"), tr("p, the probability given to the right class", "p（正解のクラスにつけた確率）"), tr("surprise", "驚き")
ax = plot.lines(p, {series: -torch.log(p)}, title=title, xlabel=xlabel, ylabel=ylabel, marker=None)
for q in (0.01, 0.1, 0.5, 1.0):
    surprise = -math.log(q) + 0.0                   # en: + 0.0: −0.0 shows as 0.00  # ja: + 0.0：−0.0 を 0.00 と表示するため
    ax.scatter([q], [surprise], color="#C44E52", zorder=3)
    ax.annotate(f"p = {q}: {surprise:.2f}", (q, surprise), textcoords="offset points", xytext=(8, -2))
ax.set_ylim(-0.3, 5.2)
plt.show()


# %% [markdown] tags=["en"]
# ### Exercise 0.4 — cross-entropy (2 points)
#
# Write the loss for a whole batch. `logits` has one row per example and one column per class; `targets` holds each
# example's right class. For each example: the softmax of its row, the probability p of its right class, the
# surprise −log p; then the average. Taking the log of a softmax loses precision when p is tiny (p rounds to 0, and
# log 0 = −∞), so PyTorch offers `torch.log_softmax`, which gives log p directly and safely.

# %% [markdown] tags=["ja"]
# ### 演習 0.4 — 交差エントロピー（2 点）
#
# バッチ全体の損失を書きます。`logits` は 1 行が 1 例、1 列が 1 クラスです。`targets` には各例の正解のクラスが入っています。
# 例ごとに、その行の softmax をとり、正解のクラスの確率 p を取り出して、驚き −log p を求め、最後に平均します。
# softmax の log をとると、p がとても小さいときに精度が失われます（p が 0 に丸められ、log 0 = −∞ になる）。そのため PyTorch には
# `torch.log_softmax` があり、log p を直接、安全に求められます。

# %% nbgrader={"grade": false, "grade_id": "cross_entropy", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cross_entropy(logits, targets):
    """loss = mean over the examples i of −log softmax(logits[i])[targets[i]]

    en: The average surprise (the cross-entropy).
    ja: 驚きの平均（交差エントロピー）。

    en: logits: a float tensor of shape (N, C), one row of C class scores per example;
    en: targets: an int64 tensor of shape (N,), the right class of each example, from 0 to C − 1.
    en: Returns a tensor of shape (): the average over the N examples of −log p, p = the probability that the
    en: softmax of the example's row gives its right class. Build it yourself: do not call F.cross_entropy or F.nll_loss.
    en: Very sure logits must work too (a wrong class scored 120: p = e^−120, which torch.softmax rounds to 0).
    en: Hint: torch.log_softmax(logits, dim=-1) gives every log p, shape (N, C); [torch.arange(N), targets] picks
    en: row i's column targets[i], shape (N,).
    ja: logits: 形 (N, C) の float テンソル。1 行が 1 例の、C 個のクラスのスコア。
    ja: targets: 形 (N,) の int64 テンソル。各例の正解のクラス（0 から C − 1）。
    ja: 戻り値: 形 () のテンソル。N 個の例についての −log p の平均。p は、その例の行の softmax が正解のクラスにつける確率。
    ja: 自分で作ること。F.cross_entropy や F.nll_loss は使わない。
    ja: 自信の強すぎるロジットでも正しく動くこと（別のクラスのスコアが 120 なら p = e^−120 で、torch.softmax では 0 に丸められる）。
    ja: ヒント: torch.log_softmax(logits, dim=-1) ですべての log p が求まる（形 (N, C)）。[torch.arange(N), targets] で
    ja: i 行目の targets[i] 列が取り出せる（形 (N,)）。
    """
    ### BEGIN SOLUTION
    log_probs = torch.log_softmax(logits, dim=-1)                  # (N, C): log p of every class
    right = log_probs[torch.arange(len(targets)), targets]         # (N,): log p of each right class
    return -right.mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "cross_entropy_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
logits, targets = torch.zeros(4, 2), torch.tensor([0, 1, 1, 0])     # en: no opinion at all: p = 0.5 everywhere  # ja: まったく意見なし：どこでも p = 0.5
with explained("cross_entropy(logits, targets)"):
    got = cross_entropy(logits, targets)
hints = {(4,): tr("That is one surprise per example: average them (.mean()).", "それは例ごとの驚きです。平均します（.mean()）。"), (4, 4): tr("log_probs[:, targets] takes every target for every row: take one per row with [torch.arange(N), targets].", "log_probs[:, targets] はすべての行からすべての正解を取り出します。[torch.arange(N), targets] で 1 行につき 1 つ取り出します。"), float: tr("Return the tensor itself: no .item() or float().", "テンソルのまま返します。.item() や float() は使いません。")}
expect_shape(got, (), "cross_entropy(zeros(4, 2), [0, 1, 1, 0])", hints)
hints = {-0.693: tr("A surprise −log p is never negative: put a minus in front of the log.", "驚き −log p が負になることはありません。log の前にマイナスをつけます。"), 2.773: tr("That is the sum over the 4 examples: take the mean.", "それは 4 つの例の合計です。平均をとります。"), -0.5: tr("Take the log of the probability: the surprise is −log p, not −p.", "確率の log をとります。驚きは −p ではなく −log p です。"), 0.301: tr("Use the natural log (torch.log, torch.log_softmax), not log10.", "log10 ではなく自然対数（torch.log、torch.log_softmax）を使います。"), 1.386: tr("Take the softmax over the classes of each example (dim=-1), not over the examples (dim=0).", "softmax は例の方向（dim=0）ではなく、各例のクラスの方向（dim=-1）にとります。"), math.inf: tr("The log of a logit of 0 is −inf: take the softmax of the logits first, torch.log_softmax(logits, dim=-1).", "ロジット 0 の log は −inf です。先にロジットの softmax をとります：torch.log_softmax(logits, dim=-1)。")}
hint = tr("With every logit 0, softmax gives each class p = 0.5, and −log 0.5 = 0.693.",
          "ロジットがすべて 0 なら softmax はどのクラスにも p = 0.5 をつけるので、−log 0.5 = 0.693 です。")
expect(round(float(got), 4), 0.6931, "cross_entropy(zeros(4, 2), [0, 1, 1, 0])", hints.get(round(float(got), 3), hint))
with explained("cross_entropy(logits, targets)"):
    got = cross_entropy(torch.tensor([[5.0, -5.0]]), torch.tensor([1]))
what = tr("sure of the wrong class: −log(e⁻¹⁰ / (1 + e⁻¹⁰)) ≈ 10", "自信をもって間違えたとき：−log(e⁻¹⁰ / (1 + e⁻¹⁰)) ≈ 10")
hint = tr("The log of a negative logit is nan: take the softmax (or log_softmax) of the logits first.", "負のロジットの log は nan です。先にロジットの softmax（または log_softmax）をとります。") if math.isnan(float(got)) else tr("Take the right class's p: here class 1, whose logit is −5.", "正解のクラスの p を使います。ここではロジットが −5 のクラス 1 です。")
expect(round(float(got), 3), 10.0, what, hint)
l, t = torch.randn(6, 5, generator=torch.Generator().manual_seed(2)), torch.tensor([0, 4, 2, 2, 1, 3])
what = tr("cross_entropy(l, t) on random logits, against PyTorch's F.cross_entropy",
          "乱数のロジットでの cross_entropy(l, t)（PyTorch の F.cross_entropy と比べて）")
hint = tr("Softmax over the classes (dim=-1), and each row's own target: log_probs[torch.arange(N), targets].",
          "softmax はクラスの方向（dim=-1）にとり、各行からその行の正解を取り出します：log_probs[torch.arange(N), targets]。")
mistakes = [(-torch.log_softmax(l, dim=-1)[:, t].mean(), tr("log_probs[:, targets] takes every target for every row: take one per row with [torch.arange(N), targets].", "log_probs[:, targets] はすべての行からすべての正解を取り出します。[torch.arange(N), targets] で 1 行につき 1 つ取り出します。"))]
expect_close(cross_entropy(l, t), F.cross_entropy(l, t), what, hint, mistakes=mistakes)
passed("Exercise 0.4")

# %% [markdown] tags=["en"]
# ## 7. Layers of neurons: `nn.Linear`, ReLU and `nn.Module`
#
# A **layer** is many neurons side by side, all reading the same inputs. `nn.Linear(2, 16)` is 16 neurons with 2
# inputs each: it holds a weight matrix of shape (16, 2) and 16 biases, and computes `x @ weight.T + bias` — your
# `predict` for 16 neurons at once, thanks to the matrix product. From a batch of points `(N, 2)` it makes `(N, 16)`:
# 16 numbers per point.

# %% [markdown] tags=["ja"]
# ## 7. ニューロンを並べた層：`nn.Linear`、ReLU、`nn.Module`
#
# **層**（layer）は、同じ入力を読むたくさんのニューロンを横に並べたものです。`nn.Linear(2, 16)` は入力が 2 つのニューロン 16 個で、
# 形 (16, 2) の重み行列と 16 個のバイアスをもち、`x @ weight.T + bias` を計算します。行列の積のおかげで、あなたの `predict` を
# 16 個のニューロンについて一度に計算しているのです。点のバッチ `(N, 2)` から `(N, 16)`、つまり点 1 つにつき 16 個の数を作ります。

# %%
layer = nn.Linear(2, 16)
print("weight", tuple(layer.weight.shape), " bias", tuple(layer.bias.shape))
out = layer(x_train[:5])
same = tr(" same as x @ weight.T + bias:", "  x @ weight.T + bias と同じ：")
print(tuple(x_train[:5].shape), "→", tuple(out.shape), same, torch.allclose(out, x_train[:5] @ layer.weight.T + layer.bias))

# %% [markdown] tags=["en"]
# Stacking layers alone gains nothing: a weighted sum of weighted sums is still one weighted sum, and the boundary it
# draws between the classes is still a straight line. What makes a network more than a line is a bend between the
# layers, an **activation function** <a id="relu-gelu"></a>. The simplest is **ReLU**: keep a positive number, replace
# a negative one by 0. GPT uses **GELU** (lesson 04), a smooth ReLU: instead of a sharp corner at 0, it dips slightly
# below 0 just left of it.

# %% [markdown] tags=["ja"]
# 層を重ねるだけでは何も得られません。重みつきの和の重みつきの和は、やはり 1 つの重みつきの和で、クラスの間に引く境界もやはり直線です。
# ネットワークを直線以上のものにするのは、層と層の間の「折れ曲がり」、**活性化関数** <a id="relu-gelu"></a> です。いちばん単純なのは
# **ReLU** で、正の数はそのまま、負の数は 0 に置き換えます。GPT は **GELU** を使います（レッスン 04）。GELU はなめらかな ReLU で、
# 0 で鋭く折れ曲がる代わりに、0 の少し左でわずかに 0 より下がります。

# %%
z = torch.linspace(-3, 3, 200)
title, xlabel, ylabel = tr("two activation functions", "2 つの活性化関数"), tr("z, a neuron's weighted sum", "z（ニューロンの重みつきの和）"), tr("what the neuron passes on", "ニューロンが次に渡す値")
plot.lines(z, {"ReLU: max(0, z)": torch.relu(z), "GELU": F.gelu(z)}, title=title, xlabel=xlabel, ylabel=ylabel,
           marker=None)
plt.show()


# %% [markdown] tags=["en"]
# A network of layers is written as an **`nn.Module`** <a id="nn-module"></a>: a class that creates its layers in
# `__init__` (PyTorch then finds all their parameters: `model.parameters()`), and says in `forward` how an input
# becomes an output. Calling `model(x)` runs `forward`.
#
# Our network is a **multi-layer perceptron** (MLP): 2 inputs → a hidden layer of 16 neurons → ReLU → 2 outputs, one
# logit per class.
#
# ### Exercise 0.5 — the network's forward pass (2 points)
#
# The `__init__` is written for you (the names matter: the grader loads weights into them). Write `forward`.

# %% [markdown] tags=["ja"]
# 層でできたネットワークは **`nn.Module`** <a id="nn-module"></a> として書きます。`__init__` で層を作り（PyTorch はそれらのパラメータを
# すべて見つけてくれます：`model.parameters()`）、`forward` で入力がどう出力になるかを書くクラスです。`model(x)` を呼ぶと `forward` が実行されます。
#
# 私たちのネットワークは **多層パーセプトロン**（MLP）です：入力 2 つ → 16 個のニューロンの隠れ層 → ReLU → 出力 2 つ（クラスごとに 1 つのロジット）。
#
# ### 演習 0.5 — ネットワークの順伝播（2 点）
#
# `__init__` は書いてあります（名前が大事です。採点ではこの名前の層に重みを読み込みます）。`forward` を書いてください。

# %% nbgrader={"grade": false, "grade_id": "TinyMLP", "locked": false, "schema_version": 3, "solution": true, "task": false}
class TinyMLP(nn.Module):
    """2 numbers → 16 hidden neurons → ReLU → 2 logits: a multi-layer perceptron (MLP)."""

    def __init__(self, n_in=2, n_hidden=16, n_out=2):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)      # en: n_hidden neurons, each reading the n_in inputs  # ja: n_hidden 個のニューロン。どれも n_in 個の入力を読む
        self.out = nn.Linear(n_hidden, n_out)        # en: one neuron per class, reading the hidden neurons  # ja: クラスごとにニューロン 1 つ。隠れ層のニューロンを読む

    def forward(self, x):
        """logits = out(relu(hidden(x)))

        en: x: a float tensor of shape (N, n_in). Returns the logits, a tensor of shape (N, n_out): one score per
        en: class, any numbers (no softmax here: the loss applies it).
        en: Hint: self.hidden(x) is (N, n_hidden); torch.relu bends it; self.out turns it into the logits.
        ja: x: 形 (N, n_in) の float テンソル。戻り値: ロジット、形 (N, n_out) のテンソル。クラスごとのスコアで、どんな数でもよい
        ja: （ここでは softmax をかけない。softmax は損失の中でかける）。
        ja: ヒント: self.hidden(x) は (N, n_hidden)。torch.relu で折り曲げ、self.out でロジットにする。
        """
        ### BEGIN SOLUTION
        h = torch.relu(self.hidden(x))               # (N, n_hidden)
        return self.out(h)                           # (N, n_out)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "TinyMLP_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
torch.manual_seed(SEED)
model = TinyMLP()
x = torch.tensor([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.5]])
with torch.no_grad():
    with explained("TinyMLP()(x)"):
        got = model(x)
    hints = {(3, 16): tr("Those are the hidden neurons: finish with self.out.", "それは隠れ層のニューロンです。最後に self.out をかけます。"), (3,): tr("Keep one logit per class: (N, n_out).", "クラスごとに 1 つのロジットを残します：(N, n_out)。")}
    what = tr("TinyMLP()(x) for x of shape (3, 2)", "形 (3, 2) の x に対する TinyMLP()(x)")
    expect_shape(got, (3, 2), what, hints)
    reference = nn.Sequential(model.hidden, nn.ReLU(), model.out)(x)       # en: the same layers, chained by PyTorch  # ja: 同じ層を PyTorch につないでもらう
    straight = torch.allclose(model(2 * x) - model(x), model(x) - model(0 * x), atol=1e-5)   # en: still a straight line?  # ja: まだ直線？
    slip = "softmax" if torch.allclose(got.sum(dim=-1), torch.ones(3)) else "straight" if straight else "relu_out" if (got >= 0).all() else ""
    hints = {"softmax": tr("Return the logits, not probabilities: no softmax in forward (the loss applies it).", "確率ではなくロジットを返します。forward では softmax をかけません（損失の中でかけます）。"), "straight": tr("Without the ReLU the network is a straight line again: torch.relu between the two layers.", "ReLU がないと、ネットワークはまた直線に戻ってしまいます。2 つの層の間に torch.relu を入れます。"), "relu_out": tr("No ReLU after self.out: logits may be negative.", "self.out のあとには ReLU をかけません。ロジットは負にもなります。"), "": tr("out(relu(hidden(x))): the hidden layer, the ReLU, then the output layer.", "out(relu(hidden(x)))：隠れ層、ReLU、出力層の順です。")}
    what = tr("the same logits as nn.Sequential(hidden, ReLU, out)",
              "nn.Sequential(hidden, ReLU, out) と同じロジット")
    expect_close(got, reference, what, hints[slip], atol=1e-6)
passed("Exercise 0.5")

# %% [markdown] tags=["en"]
# How many parameters is that? 16 neurons × (2 weights + 1 bias) in the hidden layer, 2 × (16 + 1) in the output:

# %% [markdown] tags=["ja"]
# パラメータはいくつでしょう？ 隠れ層に 16 個 ×（重み 2 + バイアス 1）、出力層に 2 ×（16 + 1）：

# %%
for name, parameter in TinyMLP().named_parameters():
    print(f"{name:14s} {tuple(parameter.shape)}")
total = tr("in all: {n} parameters", "合計：パラメータ {n} 個")
print(total.format(n=sum(parameter.numel() for parameter in TinyMLP().parameters())))


# %% [markdown] tags=["en"]
# ## 8. Training the network: epochs, steps and batches <a id="epoch-step-batch"></a>
#
# The line of section 4 looked at all 20 learners at every step. Real training sets are far too big for that (GPT-3
# read 300 billion tokens), so each step looks at a small handful:
# - a **batch**: the examples one step looks at (here 32 points);
# - a **step**: one update of the weights, from one batch: the four lines of section 5;
# - an **epoch**: one pass over the whole training set. Each epoch shuffles the examples and cuts them into batches;
#   with 400 points and batches of 32, an epoch is 13 steps (the last batch holds the 16 points left over).
#
# In the picture, 10 examples in batches of 4, for two epochs:

# %% [markdown] tags=["ja"]
# ## 8. ネットワークを学習させる：エポック、ステップ、バッチ <a id="epoch-step-batch"></a>
#
# 4 節の直線は、1 ステップごとに 20 人全員を見ていました。本物の学習データはそれには大きすぎるので（GPT-3 は 3000 億トークンを読みました）、
# 1 ステップでは一握りの例だけを見ます：
# - **バッチ**：1 ステップで見る例のまとまり（ここでは 32 個の点）。
# - **ステップ**：1 つのバッチから重みを 1 回更新すること。5 節の 4 行です。
# - **エポック**：学習データ全体をひととおり見ること。エポックごとに例をシャッフルしてバッチに切り分けます。
#   点が 400 個でバッチが 32 個なら、1 エポックは 13 ステップです（最後のバッチには残りの 16 個が入ります）。
#
# 図は、10 個の例を 4 個ずつのバッチにして、2 エポック分見たところです：

# %%
def batches_of(n, batch_size, seed):
    """
    en: Example numbers, batch after batch, forever: every epoch a new shuffle of all n examples, cut into batches.
    ja: 例の番号を、バッチごとにいつまでも返す。エポックごとに n 個すべてをシャッフルし直し、バッチに切り分ける。
    """
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=g)              # en: a new epoch: all n examples, shuffled  # ja: 新しいエポック：n 個の例すべてをシャッフル
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]         # en: one batch: one step  # ja: バッチ 1 つ：1 ステップ


toy = batches_of(10, 4, SEED)
order = torch.stack([torch.cat([next(toy) for _ in range(3)]) for epoch in range(2)])   # en: (2 epochs, 10 examples)  # ja: (2 エポック, 10 個の例)
title, row_label, step_label = tr("10 examples, batches of 4: 3 steps per epoch", "例 10 個、バッチ 4 個：1 エポック 3 ステップ"), tr("epoch {i}", "エポック {i}"), tr("step {s}", "ステップ {s}")
plot.batches(order, batch_size=4, title=title, row_label=row_label, step_label=step_label)
plt.show()

# %% [markdown] tags=["en"]
# ### The course's training loop
#
# Every later lesson trains its model with one function, `shikumi.train.train` (open `lib/shikumi/train.py`: it is
# short). Inside it are the four lines of section 5, plus what real training adds: **AdamW**, a smarter step than
# plain SGD (it adapts each weight's step to how that weight's slopes have behaved so far); a **warm-up** that starts
# with small steps and a cosine decay that ends with small steps; clipping, which caps a step that would be too big;
# a progress bar; and, every `eval_every` steps, the loss on the held-out points. You give it three things:
# - the model;
# - `get_batch(split)`: a batch of training examples for `"train"`, of held-out ones for `"val"`;
# - `loss_fn(model, batch)`: the model's loss on a batch — here, your cross-entropy.

# %% [markdown] tags=["ja"]
# ### コース共通の学習ループ
#
# この先のレッスンでは、どのモデルも 1 つの関数 `shikumi.train.train` で学習させます（`lib/shikumi/train.py` を開いてみてください。短いファイルです）。
# 中身は 5 節の 4 行に、本物の学習で加わるものを足したものです。素の SGD より賢い 1 歩である **AdamW**（重みごとに、それまでの傾きの
# 様子に合わせて歩幅を調整します）、小さな歩幅から始める **ウォームアップ** と、最後を小さな歩幅で終えるコサイン減衰、大きすぎる 1 歩を
# 抑えるクリッピング、進み具合のバー、そして `eval_every` ステップごとの評価用の点での損失です。渡すものは 3 つです：
# - モデル
# - `get_batch(split)`：`"train"` なら学習用の例のバッチ、`"val"` なら評価用の例
# - `loss_fn(model, batch)`：バッチに対するモデルの損失。ここではあなたの交差エントロピー

# %%
BATCH_SIZE = 32


def batch_source(x, y, seed):
    """
    en: get_batch for shikumi.train: "train" walks through (x, y) batch by batch, epoch after epoch; "val" gives
    en: the held-out points, all at once.
    ja: shikumi.train 用の get_batch。"train" は (x, y) をバッチごと、エポックごとに順にたどり、"val" は評価用の点を一度に返す。
    """
    order = batches_of(len(x), BATCH_SIZE, seed)

    def get_batch(split):
        if split == "train":
            i = next(order)                                 # en: (≤ 32,) example numbers  # ja: (≤ 32,) 例の番号
            return x[i], y[i]
        return x_val, y_val
    return get_batch


def loss_fn(model, batch):
    x, y = batch
    return cross_entropy(model(x), y)                       # en: your Exercise 0.4  # ja: 演習 0.4 のあなたの関数


def accuracy(model, x, y):
    """
    en: The share of points whose biggest logit is their class.
    ja: いちばん大きいロジットが正解のクラスである点の割合。
    """
    where = next(model.parameters()).device                 # en: the device the model is on  # ja: モデルが置かれているデバイス
    with torch.no_grad():
        return (model(x.to(where)).argmax(dim=-1).cpu() == y).float().mean().item()


def p_orange(model):
    """
    en: For plot.decision_boundary: places (M, 2) → the model's probability of class 1 (orange), (M,).
    ja: plot.decision_boundary 用：場所 (M, 2) → モデルが出すクラス 1（オレンジ）の確率 (M,)。
    """
    where = next(model.parameters()).device
    return lambda places: torch.softmax(model(places.to(where)).float(), dim=-1)[:, 1].cpu()


# %% [markdown] tags=["en"]
# First, no hidden layer at all: `nn.Linear(2, 2)`, one neuron per class. Its boundary, where the two logits are
# equal, can only be a straight line, and a straight line cannot follow a moon:

# %% [markdown] tags=["ja"]
# まず、隠れ層なしで試します。`nn.Linear(2, 2)`、クラスごとにニューロン 1 つです。2 つのロジットが等しくなるところが境界なので、
# 境界は直線にしかなれません。そして直線では三日月の形に沿えません：

# %%
seed_everything(SEED)
linear = nn.Linear(2, 2)
config = TrainConfig(max_steps=300, lr=0.03, warmup_steps=20, eval_every=50, eval_steps=1, device=DEVICE,
                     cpu_threads=1)
history_linear = train(linear, batch_source(x_train, y_train, SEED), loss_fn, config)
title = tr("one layer, no hidden neurons: {acc:.1%} of held-out points right",
           "層 1 つ、隠れ層なし：評価用の点の {acc:.1%} が正解")
plot.decision_boundary(p_orange(linear), x_val, y_val, title=title.format(acc=accuracy(linear, x_val, y_val)))
plt.show()

# %% [markdown] tags=["en"]
# Now the MLP, trained the same way. The loop calls `on_eval` after each check on the held-out points; we use it to
# keep a copy of the network at those moments, and draw its boundary as it bends: every hidden neuron draws a line,
# ReLU folds the plane along it, and the output layer combines the folds into a curve.

# %% [markdown] tags=["ja"]
# 次は MLP を、同じやり方で学習させます。学習ループは評価用の点で確かめるたびに `on_eval` を呼ぶので、それを使ってその時点のネットワークの
# コピーをとっておき、境界が曲がっていく様子を描きます。隠れ層のニューロンはそれぞれ 1 本の直線を引き、ReLU がその直線に沿って平面を折り、
# 出力層がその折り目を組み合わせて曲線にするのです。

# %%
seed_everything(SEED)
mlp = TinyMLP()
frames = {0: copy.deepcopy(mlp)}                            # en: the network before training  # ja: 学習前のネットワーク


def remember(step, val_loss):
    frames[step + 1] = copy.deepcopy(mlp)                   # en: step + 1 updates so far  # ja: ここまでの更新は step + 1 回


config = TrainConfig(max_steps=300 if SIZE == "quick" else 1500, lr=0.03, warmup_steps=20, eval_every=25,
                     eval_steps=1, device=DEVICE, cpu_threads=1)
history = train(mlp, batch_source(x_train, y_train, SEED), loss_fn, config, on_eval=remember)
line = tr("{s:.1f} s; held-out loss {loss:.3f}; held-out accuracy {acc:.1%} (one layer: {lin:.1%})",
          "{s:.1f} 秒、評価用の損失 {loss:.3f}、評価用の正解率 {acc:.1%}（層 1 つでは {lin:.1%}）")
print(line.format(s=history.seconds, loss=history.eval_loss[-1], acc=accuracy(mlp, x_val, y_val),
                  lin=accuracy(linear, x_val, y_val)))
shown = [0, 26, 51, 101, config.max_steps]
fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.2))
title = tr("after {k} steps", "{k} ステップ後")
for ax, k in zip(axes, shown):
    plot.decision_boundary(p_orange(frames[k]), x_train, y_train, title=title.format(k=k), ax=ax)
plt.show()
names, title, xlabel, ylabel = (tr("training batches", "学習用のバッチ"), tr("held-out points", "評価用の点")), tr("the loss while training", "学習中の損失"), tr("step", "ステップ"), tr("cross-entropy", "交差エントロピー")
ax = plot.lines(history.step, {names[0]: history.train_loss}, marker=None, logy=True)
plot.lines(history.eval_step, {names[1]: history.eval_loss}, title=title, xlabel=xlabel, ylabel=ylabel, ax=ax)
plt.show()

# %% [markdown] tags=["en"]
# ### Try it: the learning rate and the number of steps
#
# Move a slider: a fresh network trains with that learning rate (the slider moves in powers of ten) and that number
# of steps, and its boundary is redrawn as it trains. Try a tiny learning rate (0.0003: the boundary hardly moves),
# the default 0.03, and a huge one (3 or more: the steps overshoot, the boundary jumps about, the loss may explode).

# %% [markdown] tags=["ja"]
# ### 動かしてみよう：学習率とステップ数
#
# スライダーを動かすと、その学習率（スライダーは 10 倍刻みで動きます）とステップ数で新しいネットワークが学習し、学習しながら境界が描き直されます。
# とても小さな学習率（0.0003：境界はほとんど動きません）、既定の 0.03、とても大きな学習率（3 以上：1 歩が行きすぎて境界が飛び回り、損失が発散することもあります）を試してみましょう。

# %%
title = tr("lr {lr:.2g}, after {step} steps: held-out loss {loss:.3f}",
           "学習率 {lr:.2g}、{step} ステップ後：評価用の損失 {loss:.3f}")


def train_and_draw(lr, steps):
    seed_everything(SEED)
    model = TinyMLP()

    def show(step, val_loss):                                # en: after every check: redraw in place  # ja: 確認のたびに、同じ場所に描き直す
        clear_output(wait=True)
        plot.decision_boundary(p_orange(model), x_val, y_val, title=title.format(lr=lr, step=step + 1, loss=val_loss))
        plt.show()

    config = TrainConfig(max_steps=steps, lr=lr, warmup_steps=min(20, steps // 5), eval_every=max(10, steps // 10),
                         eval_steps=1, device=DEVICE, cpu_threads=1, progress=False)
    train(model, batch_source(x_train, y_train, SEED), loss_fn, config, on_eval=show)


labels = {"lr": tr("learning rate", "学習率"), "steps": tr("steps", "ステップ数")}
training_explorer(train_and_draw, lr=0.03, steps=300, labels=labels)

# %% [markdown] tags=["en"]
# ## 9. Learning or memorising? Overfitting <a id="overfitting"></a>
#
# A network is trained to do well on its training examples, but what we want is a network that does well on **new**
# ones. A network with many parameters and few examples can learn its examples by heart instead — their noise
# included — and get *worse* on new ones: that is **overfitting**. We see it by keeping **held-out** examples that
# training never touches, and watching two losses: on the training examples, and on the held-out ones.
#
# Below: only 40 noisy training points, and a much bigger network (two hidden layers of 128 neurons: 17,154
# parameters, over 400 per point), trained for 1,000 steps on all 40 points at every step. (Its weight decay is off:
# see the end.)

# %% [markdown] tags=["ja"]
# ## 9. 学んでいる？ 丸暗記している？ 過学習 <a id="overfitting"></a>
#
# ネットワークは学習用の例でうまくいくように学習しますが、私たちがほしいのは **新しい** 例でうまくいくネットワークです。
# パラメータが多く例が少ないと、ネットワークは例を（ノイズまで含めて）丸暗記してしまい、新しい例ではかえって *悪く* なることがあります。
# これが **過学習** です。学習に一切使わない **評価用** の例をとっておき、2 つの損失、学習用の例での損失と評価用の例での損失を見比べると、過学習が見えます。
#
# 下の例では、ノイズの多い学習用の点を 40 個だけにして、ずっと大きなネットワーク（128 個のニューロンの隠れ層が 2 つ：パラメータ 17,154 個、
# 点 1 つあたり 400 個以上）を、毎ステップ 40 個すべての点を使って 1,000 ステップ学習させます（重み減衰はオフにしています。最後を見てください）。

# %%
x_few, y_few = data.points_2d(40, "moons", noise=0.3, seed=SEED + 1)      # en: 40 training points  # ja: 学習用の点 40 個
x_new, y_new = data.points_2d(500, "moons", noise=0.3, seed=SEED + 2)     # en: 500 held-out points  # ja: 評価用の点 500 個
seed_everything(SEED)
big = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
config = TrainConfig(max_steps=1000, lr=0.002, warmup_steps=20, weight_decay=0.0, eval_every=10, eval_steps=1,
                     device=DEVICE, cpu_threads=1)
history_big = train(big, lambda split: (x_few, y_few) if split == "train" else (x_new, y_new), loss_fn, config)
best = min(range(len(history_big.eval_loss)), key=history_big.eval_loss.__getitem__)
line = tr("{n} parameters. Held-out loss: lowest {low:.2f} at step {at}, {end:.2f} at the end; training loss at the end {train:.4f}",
          "パラメータ {n} 個。評価用の損失：最小 {low:.2f}（ステップ {at}）、最後 {end:.2f}。学習用の損失は最後に {train:.4f}")
print(line.format(n=sum(p.numel() for p in big.parameters()), low=history_big.eval_loss[best], at=history_big.eval_step[best],
                  end=history_big.eval_loss[-1], train=history_big.train_loss[-1]))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
names, title1, title2, xlabel, ylabel = (tr("40 training points", "学習用の点 40 個"), tr("500 held-out points", "評価用の点 500 個")), tr("overfitting: two losses", "過学習：2 つの損失"), tr("1,000 steps later: training points fenced in one by one", "1,000 ステップ後：学習用の点を 1 つずつ囲い込む"), tr("step", "ステップ"), tr("cross-entropy", "交差エントロピー")
plot.lines(history_big.step, {names[0]: history_big.train_loss}, marker=None, ax=ax1)
plot.lines(history_big.eval_step, {names[1]: history_big.eval_loss}, title=title1, xlabel=xlabel, ylabel=ylabel,
           marker=None, ax=ax1)
ax1.axvline(history_big.eval_step[best], color="gray", linestyle=":")
plot.decision_boundary(p_orange(big), x_few, y_few, title=title2, ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# The training loss falls to 0: the network gets all 40 of its points right, with total confidence. The held-out
# loss falls at first — the network is learning the moons — and then **rises** (after the dotted line) while the
# training loss keeps falling: from there on the network learns the noise of its 40 points, and on new points it is
# confidently wrong, which cross-entropy punishes hard. The boundary on the right twists around single points.
#
# The cures: more data; a smaller model; stopping at the dotted line (*early stopping*); **weight decay**, which pulls
# every weight a little towards 0 at each step (`shikumi.train` applies it by default, `weight_decay=0.1`; we turned
# it off here to show the problem); dropout (lesson 02). Large language models are trained on so much text that most of it
# is read less than once (GPT-3: its paper, Brown et al. 2020, table 2.2), and their held-out loss is watched all
# along.

# %% [markdown] tags=["ja"]
# 学習用の損失は 0 まで下がります。ネットワークは 40 個の点をすべて、完全な自信をもって当てるようになります。評価用の損失は、
# はじめは下がります（三日月の形を学んでいるところです）が、やがて **上がり始め**（点線より右）、その間も学習用の損失は下がり続けます。
# そこから先、ネットワークは 40 個の点のノイズを覚えていき、新しい点では自信満々に間違えるのです。交差エントロピーはそれを重く罰します。
# 右の図の境界は、1 つ 1 つの点を囲むようにねじれています。
#
# 対策は、データを増やす、モデルを小さくする、点線のところで止める（*早期終了*、early stopping）、毎ステップすべての重みを少しずつ 0 に
# 近づける **重み減衰**（weight decay。`shikumi.train` は既定で `weight_decay=0.1` をかけます。ここでは問題を見せるためにオフにしました）、
# ドロップアウト（レッスン 02）などです。大規模言語モデルは膨大な量の文章で学習するので、その大部分は 1 回未満しか読まれません
# （GPT-3 の場合：論文 Brown et al. 2020 の表 2.2）。そして学習中はずっと、評価用の損失を見張っています。

# %% [markdown] tags=["en"]
# ## 10. Words into numbers: embeddings <a id="embedding"></a>
#
# Points in the plane are numbers already. Words are not: a network needs numbers for 「桃」 too. An **embedding** is
# the simplest possible answer: a table with one row of numbers (a vector) per word of the vocabulary. To turn a word
# into numbers, look up its row; the word's number in the vocabulary, its **id**, is the row number. The numbers
# start random and are trained like any other weights, so that words used alike end up with alike rows. Every text
# model of the course starts with one: lesson 02's `tok_emb`, GPT in lesson 04, CLIP's text encoder in lesson 06.

# %% [markdown] tags=["ja"]
# ## 10. 単語を数に：埋め込み <a id="embedding"></a>
#
# 平面上の点は、はじめから数です。でも単語は違います。ネットワークには「桃」も数にして渡す必要があります。**埋め込み**（embedding）は、
# そのいちばん単純な答えです。語彙の単語 1 つにつき 1 行の数（ベクトル）をもつ表を用意し、単語を数にするときは、その行を引きます。
# 語彙の中での単語の番号、**ID** が行番号です。表の数ははじめはランダムで、ほかの重みと同じように学習され、似た使われ方をする単語ほど
# 似た行になっていきます。このコースのテキストを扱うモデルは、どれも埋め込みから始まります。レッスン 02 の `tok_emb`、レッスン 04 の GPT、
# レッスン 06 の CLIP のテキストエンコーダです。

# %%
vocab = [tr("big", "大きな"), tr("peach", "桃"), tr("and", "と"), tr("river", "川"), tr("old", "おじいさん"), tr("ogre", "鬼")]
seed_everything(SEED)
embedding = nn.Embedding(len(vocab), 4)                   # en: the table: one row of 4 numbers per word  # ja: 表：単語ごとに 4 個の数の行が 1 つ
ids = torch.tensor([0, 1, 2, 0, 3])                       # en: a sentence, as row numbers (ids)  # ja: 文を行番号（ID）の列にしたもの
vectors = embedding(ids)                                  # en: (5 words, 4 numbers): the rows, looked up  # ja: (5 語, 4 個の数)：引いてきた行
print(" ".join(vocab[i] for i in ids), "→ ids", ids.tolist(), "→", tuple(vectors.shape))
title1, title2 = tr("the table: nn.Embedding(6, 4)", "表：nn.Embedding(6, 4)"), tr("the sentence, looked up: (5, 4)", "文の各単語の行を引いたもの：(5, 4)")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
columns = [str(j) for j in range(4)]
plot.heatmap(embedding.weight.detach(), vocab, columns, title=title1, signed=True, ax=ax1)
plot.heatmap(vectors.detach(), [vocab[i] for i in ids], columns, title=title2, signed=True, ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# The same word gets the same row, wherever it stands (the first and fourth rows on the right). Looking up a row is
# the same as a matrix product with a **one-hot** vector — all 0s, and a 1 at the word's id — since the 1 picks its
# row out of the table. So an embedding is just one more layer, trained by the same loop as the others:

# %% [markdown] tags=["ja"]
# 同じ単語は、どこにあっても同じ行になります（右の図の 1 行目と 4 行目）。行を引くことは、**one-hot** ベクトル（すべて 0 で、単語の ID の
# 位置だけ 1）との行列の積と同じです。1 が表からその行を取り出すからです。つまり埋め込みは、ほかの層と同じループで学習される、層の 1 つにすぎません：

# %%
one_hot = F.one_hot(ids, len(vocab)).float()             # en: (5, 6): a single 1 per row, at the word's id  # ja: (5, 6)：各行の、単語の ID の位置にだけ 1
print(one_hot)
same = tr("one_hot @ table == the looked-up rows:", "one_hot @ 表 == 引いた行：")
print(same, torch.allclose(one_hot @ embedding.weight, vectors))

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 8's 基礎・原理, the basics and the principles:** a neuron is a weighted sum (`predict`); training is
#   measuring how wrong it is (`mse_loss`, `cross_entropy`) and stepping downhill (`gradient_step`); a network is
#   layers of neurons with a bend between them (`TinyMLP`).
# - **Slide 2's 「数式を使わずに」:** the slope came first as "nudge a weight and watch the loss"; autograd computes
#   it for any network, and the four lines of section 5 are the skeleton of every training loop, ChatGPT's included.
# - **The words of the next lessons**, each with its picture, in the glossary below. Next, lesson 01: a language
#   model with no network at all, which only counts — and then, from lesson 02 on, networks like yours, bigger.
#
# **To discuss:** ChatGPT was trained with the same four lines as your straight line, on an enormous amount of text.
# Someone says: "it just memorised the internet". Which section of this lesson would you use to answer, and how?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 8 の「基礎・原理」：** ニューロンは重みつきの和（`predict`）。学習とは、どれだけ間違っているかを測り（`mse_loss`、`cross_entropy`）、
#   坂を下ること（`gradient_step`）。ネットワークは、間に折れ曲がりをはさんでニューロンの層を重ねたもの（`TinyMLP`）。
# - **スライド 2 の「数式を使わずに」：** 傾きは、まず「重みを少しずらして損失の変化を見る」ことでした。autograd はそれをどんなネットワークについても計算し、
#   5 節の 4 行は、ChatGPT のものも含め、あらゆる学習ループの骨組みです。
# - **この先のレッスンで使う言葉**：それぞれの図とともに、下の用語集にまとめました。次はレッスン 01、ネットワークをまったく使わず、
#   数えるだけの言語モデルです。そしてレッスン 02 からは、あなたが作ったのと同じ、もっと大きなネットワークが登場します。
#
# **話し合ってみよう：** ChatGPT は、あなたの直線と同じ 4 行で、とてつもない量の文章から学習しました。「あれはインターネットを丸暗記しているだけだ」
# と言う人がいます。このレッスンのどの節を使って、どう答えますか？

# %% [markdown] tags=["en"]
# ## Glossary <a id="glossary"></a>
#
# Later lessons link here (`00_first_neural_network.ipynb#loss`, …) instead of defining these words again.
#
# | word | in one line | where |
# |---|---|---|
# | tensor, shape, dtype | a box of numbers; how many along each direction; what kind of number | [§1](#tensor) |
# | broadcasting | a dimension of size 1 is stretched to match the other tensor | [§1](#broadcasting) |
# | matrix product `@` | rows times columns, added up: `(a, b) @ (b, c) → (a, c)` | [§1](#matrix-product) |
# | neuron, weight, bias, parameter | a weighted sum of inputs plus a bias; the numbers training adjusts | [§2](#neuron) |
# | loss, MSE | how wrong the model is, as one number; the mean squared miss | [§3](#loss) |
# | gradient, gradient descent | the slope of the loss; stepping against it | [§4](#gradient-descent) |
# | learning rate | the size of each step | [§4](#learning-rate) |
# | autograd, backpropagation, optimizer | PyTorch finds every slope (`backward`); `step` moves the weights | [§5](#autograd) |
# | logit, softmax | a class's score; scores into probabilities | [§6](#softmax) |
# | cross-entropy | the average surprise −log p at the right answer | [§6](#cross-entropy) |
# | layer, ReLU, GELU | neurons side by side; the bends between layers | [§7](#relu-gelu) |
# | `nn.Module` | a network: layers in `__init__`, the computation in `forward` | [§7](#nn-module) |
# | epoch, step, batch | a pass over the data; one update; the examples it uses | [§8](#epoch-step-batch) |
# | overfitting, held-out, weight decay | learning the examples by heart; the examples kept aside to see it; one cure | [§9](#overfitting) |
# | embedding | a table with one learned row of numbers per word | [§10](#embedding) |

# %% [markdown] tags=["ja"]
# ## 用語集 <a id="glossary"></a>
#
# この先のレッスンでは、これらの言葉を定義し直す代わりに、ここにリンクします（`00_first_neural_network.ipynb#loss` など）。
#
# | 言葉 | ひとことで | 場所 |
# |---|---|---|
# | テンソル、形、dtype | 数の箱。各方向に数がいくつ並ぶか。数の種類 | [1 節](#tensor) |
# | ブロードキャスト | サイズ 1 の次元を相手のテンソルに合わせて引き伸ばす | [1 節](#broadcasting) |
# | 行列の積 `@` | 行と列を掛けて足し合わせる：`(a, b) @ (b, c) → (a, c)` | [1 節](#matrix-product) |
# | ニューロン、重み、バイアス、パラメータ | 入力の重みつきの和＋バイアス。学習で調整される数 | [2 節](#neuron) |
# | 損失、MSE | モデルがどれだけ間違っているかを表す数 1 つ。外れの二乗の平均 | [3 節](#loss) |
# | 勾配、勾配降下法 | 損失の傾き。その逆向きに進むこと | [4 節](#gradient-descent) |
# | 学習率 | 1 歩の大きさ | [4 節](#learning-rate) |
# | autograd、誤差逆伝播法、オプティマイザ | PyTorch がすべての傾きを求める（`backward`）。`step` が重みを動かす | [5 節](#autograd) |
# | ロジット、softmax | クラスのスコア。スコアを確率に変える | [6 節](#softmax) |
# | 交差エントロピー | 正解を見たときの驚き −log p の平均 | [6 節](#cross-entropy) |
# | 層、ReLU、GELU | 横に並べたニューロン。層と層の間の折れ曲がり | [7 節](#relu-gelu) |
# | `nn.Module` | ネットワーク。`__init__` に層、`forward` に計算 | [7 節](#nn-module) |
# | エポック、ステップ、バッチ | データをひととおり見ること。1 回の更新。そこで使う例 | [8 節](#epoch-step-batch) |
# | 過学習、評価用、重み減衰 | 例の丸暗記。それを見るためにとっておく例。対策の 1 つ | [9 節](#overfitting) |
# | 埋め込み | 単語ごとに学習される数の行をもつ表 | [10 節](#embedding) |
