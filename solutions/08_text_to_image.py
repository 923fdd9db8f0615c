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
#     lesson: 08_text_to_image
#     title:
#       en: 'Text to image: the whole pipeline'
#       ja: "テキストから画像へ：パイ\
#         プラインの全体"
# ---

# %% [markdown] tags=["en"]
# # 08 · Text to image: the whole pipeline (slides 41–42, 48–50)
#
# > **Slide 42:** 「① 適当なノイズを用意します … ③ 入力テキストもエンコードします … ⑤ UNetを使って、ノイズ除去を1Step行います … ⑥ ⑤をN回繰り返します ⑦ 最終的に得られた特徴マップを画像にデコードします」
# > — and, in red: 「UNetには毎回入力テキストを入れる」 — *the text goes into the UNet at every step.*
#
# Every part of Stable Diffusion is already on your table: the VAE that squeezes a picture into a small latent (lesson 05),
# CLIP's text encoder that turns English or Japanese into vectors (lesson 06), and the UNet and scheduler that take noise
# away step by step (lesson 07). This lesson plugs them together into a model that draws what you type.
#
# **What you will build**
# - Slide 42's seven steps, each in its own cell: noise → text vectors → a UNet that reads the text through cross-attention → N denoising steps → a picture.
# - Classifier-free guidance (how strongly to follow the prompt), a prompt box, and img2img (redraw an existing picture under a new prompt).
# - A measurement of whether the pictures match their prompts — including colour × shape pairs the model has never seen — and a look at the real Stable Diffusion pipeline in `diffusers`, part by part.
#
# The picture from the talk: slide 42's diagram, 「“Unicorn Cat”」 going into a text encoder, noise going into the UNet, the
# loop ×N, and an image decoder at the end.

# %% [markdown] tags=["ja"]
# # 08 · テキストから画像へ：パイプラインの全体（スライド 41–42、48–50）
#
# > **スライド 42:** 「① 適当なノイズを用意します … ③ 入力テキストもエンコードします … ⑤ UNetを使って、ノイズ除去を1Step行います … ⑥ ⑤をN回繰り返します ⑦ 最終的に得られた特徴マップを画像にデコードします」
# > そして赤字で：「UNetには毎回入力テキストを入れる」
#
# Stable Diffusion の部品は、もう全部そろっています。画像を小さな潜在表現に圧縮する VAE（レッスン 05）、英語や日本語をベクトルにする
# CLIP のテキストエンコーダ（レッスン 06）、そして少しずつノイズを取り除く UNet とスケジューラ（レッスン 07）。このレッスンではそれらをつなぎ、
# 入力した文のとおりに画像を描くモデルを組み立てます。
#
# **このレッスンで作るもの**
# - スライド 42 の 7 つのステップを、それぞれ 1 つのセルで：ノイズ → テキストのベクトル → Cross-Attention でテキストを読む UNet → N 回のノイズ除去 → 画像。
# - Classifier-free guidance（プロンプトにどれだけ強く従うか）、プロンプト入力ボックス、そして img2img（既存の画像を新しいプロンプトで描き直す）。
# - 画像がプロンプトに合っているかの測定（モデルが一度も見たことのない色 × 形の組み合わせも含む）と、`diffusers` の本物の Stable Diffusion パイプラインを部品ごとに見る最後の節。
#
# プレゼンの 1 枚：スライド 42 の図。「“Unicorn Cat”」がテキストエンコーダに入り、ノイズが UNet に入り、×N のループを回って、最後に画像デコーダへ。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains the UNet here, from nothing, in about three minutes, and
# you watch it learn to draw; `MODEL = "shipped"` loads the one trained for the course instead (for a slow machine:
# the grader uses it too). Either way the VAE and the text encoder are the ones that ship with the course.
# `SIZE = "full"` trains a wider UNet (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、UNet をここでゼロから 3 分ほどで学習させ、画像を描けるように
# なっていく様子を見られます。`MODEL = "shipped"` なら、コース用に学習済みの UNet を読み込みます（遅いマシン向け。採点もこちらを
# 使います）。どちらの場合も、VAE とテキストエンコーダはコースに同梱されたものを使います。`SIZE = "full"` にすると、幅の広い UNet を
# 学習します（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" picks a CUDA GPU, then Apple MPS, then the CPU.
# en: MODEL: "train" trains the UNet here (about 3 minutes); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is the small UNet; "full" trains a wider one from scratch (GPU). SEED: any whole number.
# ja: DEVICE は "auto" なら CUDA の GPU、なければ Apple の MPS、それもなければ CPU を使います。
# ja: MODEL は "train" ならここで UNet を学習（3 分ほど）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら小さな UNet、"full" なら幅の広いものをゼロから学習します（GPU 向け）。SEED は好きな整数。
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

from shikumi import data, get_device, plot, seed_everything, zoo
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.widgets import prompt_explorer

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
if device.type == "cpu":
    # en: small models: one CPU thread is faster than several threads waiting for each other
    # ja: 小さなモデルでは、複数のスレッドが互いを待つより 1 スレッドの方が速い
    torch.set_num_threads(1)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. The parts, laid out
#
# Slide 42 names four boxes: *Image Encoder*, *Text Encoder*, *UNet*, *Image Decoder*. In the course they are:
#
# | slide 42 | the course | lesson | what it does here |
# |---|---|---|---|
# | Image Encoder / Decoder | `vae_shapes` (a VAE) | 05 | a 32×32×3 picture ↔ a 4×4×4 latent: 1/48 of the numbers (slide 43) |
# | Text Encoder | `clip_shapes`' text tower | 06 | a caption (English or Japanese) → one 64-number vector per token |
# | UNet | `sd_shapes` | 07 + this lesson | predicts the noise in a latent, *reading the text* |
# | (the loop) | `DDIMScheduler` | 07 | turns the predicted noise into a slightly cleaner latent |
#
# The VAE and CLIP were trained in lessons 05 and 06; here they are the ones that ship with the course, and **frozen**: the
# only new model is the UNet, and you train it below, from random numbers. It learns from the captioned shapes of lesson
# 06 — *except* four colour × shape pairs (`data.HELD_OUT`: a red triangle, a blue cross, a yellow circle, a green
# square) that it never sees. Keep them in mind.
#
# Slide 41 shows where this design comes from: the figure of the Latent Diffusion paper (Rombach et al., 2022,
# *High-Resolution Image Synthesis with Latent Diffusion Models*, Fig. 3). On its left, *pixel space*: an encoder ℰ and
# a decoder 𝒟 — our VAE. In the middle, *latent space*: the diffusion process, and a denoising U-Net whose blocks hold
# QKV cross-attention — our UNet. On the right, *conditioning*: text (or other inputs) through an encoder τ_θ — our CLIP
# text encoder. The figure lets the condition in either by concatenation or by cross-attention; slide 42's 「concat」
# is the first of the two, and section 4 shows the second, the one Stable Diffusion uses for text.

# %% [markdown] tags=["ja"]
# ## 1. 部品をそろえる
#
# スライド 42 には 4 つの箱があります：*Image Encoder*、*Text Encoder*、*UNet*、*Image Decoder*。このコースではこうなります：
#
# | スライド 42 | コース | レッスン | ここでの役割 |
# |---|---|---|---|
# | Image Encoder / Decoder | `vae_shapes`（VAE） | 05 | 32×32×3 の画像 ↔ 4×4×4 の潜在表現：数の個数は 1/48（スライド 43） |
# | Text Encoder | `clip_shapes` のテキスト側 | 06 | キャプション（英語でも日本語でも）→ トークンごとに 64 個の数のベクトル |
# | UNet | `sd_shapes` | 07 + このレッスン | 潜在表現の中のノイズを *テキストを読みながら* 予測する |
# | （ループ） | `DDIMScheduler` | 07 | 予測したノイズから、少しきれいになった潜在表現を作る |
#
# VAE と CLIP はレッスン 05 と 06 で学習しました。ここではコースに同梱されたものを使い、**凍結**（学習しない）しています。
# 新しいモデルは UNet だけで、このすぐ下で、でたらめな数から学習させます。学習に使うのはレッスン 06 のキャプション付き図形 —
# ただし 4 つの色 × 形の組み合わせ（`data.HELD_OUT`：赤い三角、青い十字、黄色い丸、緑の四角）は *一度も見せません*。
# 覚えておいてください。
#
# スライド 41 は、この設計の出どころを示しています。Latent Diffusion の論文（Rombach ほか 2022『High-Resolution Image Synthesis
# with Latent Diffusion Models』の図 3）です。左は *ピクセル空間*：エンコーダ ℰ とデコーダ 𝒟、つまり私たちの VAE。中央は *潜在空間*：
# 拡散の過程と、ブロックに QKV の Cross-Attention をもつノイズ除去の UNet、つまり私たちの UNet。右は *条件づけ*：テキスト（ほかの入力でもよい）を
# エンコーダ τ_θ で読むところ、つまり私たちの CLIP のテキストエンコーダです。図では条件の入れ方を、連結（concat）と Cross-Attention から
# 選べます。スライド 42 の「concat」は前者で、4 節では後者、Stable Diffusion がテキストに使う方法を見ます。

# %% [markdown] tags=["en"]
# Now the UNet learns, right here: about three minutes on two CPU cores. The VAE turns every training picture into its
# latent once, and CLIP every caption into its vectors once, before the first step — they are frozen, so their answers
# never change — and then the UNet practises slide 47's exercise on the latents: add noise, guess the noise, reading
# the caption. Watch the loss fall and, every ten seconds, the pictures it draws for the same eight prompts (DDIM,
# 20 steps, guidance 3: sections 5 and 6 explain both): grey blur first, then colours, then shapes in the right places. The
# bottom row asks for pairs it never sees. **Stop** keeps the model as it is, and the rest of the lesson uses it. (With
# `MODEL = "shipped"` the lesson loads a UNet trained for the course, its SHA-256 checked first.)

# %% [markdown] tags=["ja"]
# では UNet を、ここで学習させます。CPU 2 コアで 3 分ほどです。最初のステップの前に、VAE が学習用の画像をそれぞれ 1 度だけ潜在表現に、
# CLIP がキャプションをそれぞれ 1 度だけベクトルにします（どちらも凍結しているので、答えは変わりません）。そのあと UNet は、
# 潜在表現の上でスライド 47 の練習をくり返します。ノイズを加え、キャプションを読みながら、そのノイズを当てるのです。
# 損失が下がっていくところと、10 秒ごとに同じ 8 つのプロンプトで描く画像（DDIM 20 ステップ、guidance 3。どちらも 5 節と 6 節で説明します）を
# 見てください。最初は灰色のぼやけ、次に色が、そして正しい場所に形が現れます。下の段は、一度も見せない組み合わせです。
# **止める** を押すと、その時点のモデルでレッスンの続きを進めます（`MODEL = "shipped"` なら、コース用に学習した UNet を、
# SHA-256 を確かめてから読み込みます）。

# %%
if MODEL == "train" or SIZE == "full":
    mine = Path("my_sd_shapes")
    # en: a live loss plot, every 10 s the pictures for the same eight prompts, and a Stop button that keeps the model
    # ja: 損失のグラフがその場で伸び、10 秒ごとに同じ 8 つのプロンプトで描いた画像が出ます。「止める」でその時点のモデルを使います
    watch = LiveTraining(sample_fn=zoo.sd_shapes.sampler(lang=tr("en", "ja")), every_s=10,
                         stop_after_s=TRAIN_SECONDS)
    zoo.sd_shapes.train_sd_shapes(mine, size="live" if SIZE == "quick" else SIZE, device=DEVICE, live=watch)
    pipe = zoo.sd_shapes.load_pipeline(device, directory=mine)
    history = zoo.history("sd_shapes", mine)
else:
    pipe = zoo.sd_shapes.load_pipeline(device)          # en: vae_shapes + clip_shapes + sd_shapes, each SHA-256 verified  # ja: vae_shapes + clip_shapes + sd_shapes。どれも SHA-256 を確認済み
    history = zoo.history("sd_shapes")
tower, row = tr("CLIP (text and image towers)", "CLIP（テキスト側と画像側）"), tr("{name:>30}: {count:>9,} parameters", "{count:>9,} 個のパラメータ：{name}")
for name, part in [("VAE", pipe.vae), (tower, pipe.text_encoder), ("UNet", pipe.unet)]:
    print(row.format(name=name, count=sum(p.numel() for p in part.parameters())))
trained = tr("the UNet trained for {steps:,} steps ({minutes:.1f} min on {device})",
             "UNet の学習：{steps:,} ステップ（{device} で {minutes:.1f} 分）")
print(trained.format(steps=history["steps"], minutes=history["train_seconds"] / 60, device=history["device"]))
heading, pair, comma = tr("never seen in training: ", "学習で一度も見ていない組み合わせ："), tr("{color} {shape}", "{color_ja}{shape_ja}"), tr(", ", "、")
print(heading + comma.join(pair.format(color=c, shape=s, color_ja=data.COLORS[c][1], shape_ja=data.SHAPES[s])
                           for c, s in sorted(data.HELD_OUT)))

# %% [markdown] tags=["en"]
# ## 2. ① Noise (「適当なノイズを用意します」)
#
# The picture starts as noise — but not 32×32×3 pixels of it. Stable Diffusion works on the VAE's **latent** (slide 42's
# note: 「特徴マップを潜在表現ともいうので、Latent Diffusion Modelという」 — *the feature map is also called the latent
# representation, hence "latent diffusion model"*). Ours is 4×4 with 4 channels: 64 numbers instead of 3,072.
#
# Slide 42's step ② sends the noise through the Image Encoder. In practice the noise is drawn directly in the latent's
# shape — the encoder of random noise would give just another random latent — and the encoder is used for img2img
# (section 9), where we start from a real picture.

# %% [markdown] tags=["ja"]
# ## 2. ① ノイズ（「適当なノイズを用意します」）
#
# 画像はノイズから始まります。ただし 32×32×3 ピクセルのノイズではありません。Stable Diffusion は VAE の **潜在表現** の上で動きます
# （スライド 42 の注：「特徴マップを潜在表現ともいうので、Latent Diffusion Modelという」）。このコースの潜在表現は 4 チャネルの 4×4、
# 3,072 個ではなく 64 個の数です。
#
# スライド 42 のステップ ② では、ノイズを Image Encoder に通しています。実際には、ノイズは最初から潜在表現の形で引きます
# （ランダムなノイズをエンコーダに通しても、別のランダムな潜在表現になるだけだからです）。エンコーダは、本物の画像から出発する
# img2img（9 節）で使います。

# %%
generator = torch.Generator().manual_seed(SEED)
latents = pipe.prepare_latents(4, generator)              # ① z_T ~ N(0, I): (4, 4, 4, 4)
summary = tr("latents: {shape} = {n} numbers per picture; the picture has {pixels}",
             "潜在表現：{shape} = 画像 1 枚あたり {n} 個の数。画像そのものは {pixels} 個")
print(summary.format(shape=tuple(latents.shape), n=math.prod(latents.shape[1:]),
                     pixels=math.prod(pipe.vae.config.image_shape)))
title, label = tr("① four random latents, through the VAE's decoder (⑦)", "① ランダムな潜在表現 4 つを VAE のデコーダ（⑦）に通す"), tr("noise, decoded", "ノイズをデコード")
plot.image_grid(pipe.decode_latents(latents), [label] * 4, ncols=4, size=1.5, title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## 3. ③ The text (「入力テキストもエンコードします」)
#
# CLIP's text encoder reads the prompt. Lesson 06 used one vector per caption (at the end-of-text token) to compare
# captions with pictures. The UNet wants more: **one vector per token**, so that each part of the picture can look up the
# word it needs — "red" for the colour, "triangle" for the shape, "left" for the place. A mask says which tokens are real
# words and which are padding.

# %% [markdown] tags=["ja"]
# ## 3. ③ テキスト（「入力テキストもエンコードします」）
#
# CLIP のテキストエンコーダがプロンプトを読みます。レッスン 06 ではキャプションごとに 1 本のベクトル（文末トークンの位置）を使って
# 画像と比べました。UNet にはもっと細かい情報が必要です：**トークンごとに 1 本のベクトル**。そうすれば画像の各部分が、必要な単語を
# 探しに行けます。色なら「赤い」、形なら「三角」、場所なら「左に」。マスクは、どのトークンが本物の単語で、どれが穴埋め（パディング）かを示します。

# %%
prompts = ["a large red circle on the left", "右に小さな青い三角"]
text_states, text_mask = pipe.encode_prompt(prompts)      # en: ③ (2, 16, 64) and (2, 16)  # ja: ③ (2, 16, 64) と (2, 16)
print("text_states:", tuple(text_states.shape), " text_mask:", tuple(text_mask.shape))
from shikumi.clip import caption_words

counts = tr("'{prompt}': <s> {words} </s> → {real} real tokens, {padding} padding",
            "「{prompt}」：<s> {words} </s> → 本物のトークン {real} 個、パディング {padding} 個")
for prompt, mask in zip(prompts, text_mask):
    print(counts.format(prompt=prompt, words=" ".join(caption_words(prompt)), real=int(mask.sum()),
                        padding=int((~mask).sum())))

# %%
words = ["<s>", *caption_words(prompts[0]), "</s>"]
title = tr(f"③ one vector per token: the first 16 of its 64 numbers, for '{prompts[0]}'",
           f"③ トークンごとに 1 本のベクトル（64 個のうち最初の 16 個）：「{prompts[0]}」")
plot.heatmap(text_states[0, :len(words), :16].cpu().numpy(), words, [str(i) for i in range(16)], fmt="{:.1f}",
             title=title)
plt.show()


# %% [markdown] tags=["en"]
# ## 4. ④ Text meets noise: cross-attention (「テキストとノイズの特徴を結合します」)
#
# Slide 42's step ④ *combines* the text's features with the noise's (the diagram even says 「concat」). The simplest way
# would be to glue one text vector onto every pixel. Stable Diffusion does something better, the attention of lesson 02:
# **cross-attention**. Every position of the latent (a *query*) scores every word (the *keys*), and takes a mix of the
# words' *values*:
#
# - queries from the picture: Q = X W_q, where X is the latent's feature map with every pixel made a token (B, H·W, C);
# - keys and values from the text: K = S W_k, V = S W_v, where S are the text states (B, T, D);
# - weights = softmax(Q Kᵀ / √d), padding tokens masked out; the output Attention = weights · V goes back to (B, C, H, W).
#
# So the pixels at the left of the picture can read "left", and all of them "red". The UNet has a cross-attention layer at
# each of its levels, and runs it at every denoising step: 「UNetには毎回入力テキストを入れる」.
#
# ### Exercise 8.1 — cross-attention from pixels to words (3 points)

# %% [markdown] tags=["ja"]
# ## 4. ④ テキストとノイズが出会う：Cross-Attention（「テキストとノイズの特徴を結合します」）
#
# スライド 42 のステップ ④ は、テキストの特徴とノイズの特徴を *結合* します（図には「concat」とも書かれています）。いちばん単純なのは、
# 1 本のテキストベクトルを全ピクセルにくっつけることでしょう。Stable Diffusion はもっとうまいことをします。レッスン 02 の Attention、
# **Cross-Attention** です。潜在表現の各位置（*クエリ*）がすべての単語（*キー*）に点数をつけ、単語の *バリュー* を混ぜて受け取ります：
#
# - クエリは画像から：Q = X W_q。X は潜在表現の特徴マップで、ピクセル 1 つ 1 つをトークンにしたもの (B, H·W, C)。
# - キーとバリューはテキストから：K = S W_k、V = S W_v。S はテキストの状態 (B, T, D)。
# - 重み = softmax(Q Kᵀ / √d)。パディングのトークンはマスクで除外。出力 Attention = 重み · V を (B, C, H, W) に戻す。
#
# こうして画像の左側のピクセルは「左に」を、すべてのピクセルは「赤い」を読めます。UNet はどの段にも Cross-Attention 層を持ち、
# ノイズ除去の各ステップで毎回それを実行します：「UNetには毎回入力テキストを入れる」。
#
# ### 演習 8.1 — ピクセルから単語への Cross-Attention（3 点）

# %% nbgrader={"grade": false, "grade_id": "text_cross_attention", "locked": false, "schema_version": 3, "solution": true, "task": false}
def text_cross_attention(features, text, text_mask, w_q, w_k, w_v):
    """softmax(Q Kᵀ / √d) V,  Q = X W_q,  K = S W_k,  V = S W_v   (slide 42 ④)

    en: The queries Q come from the picture, the keys K and the values V from the text.
    ja: クエリ Q は画像から、キー K とバリュー V はテキストから作る。
    en: features: the latent's feature map (B, C, H, W); text: the text states S (B, T, D);
    en: text_mask: (B, T) bool, True for real tokens; w_q: (C, d); w_k: (D, d); w_v: (D, C).
    en: Returns (B, C, H, W): for every pixel, the mix of the words' values it attends to.
    en: Edge: padding tokens (text_mask False) must get weight 0.
    en: Hint: X = features.flatten(2).transpose(1, 2) makes every pixel a token (B, H·W, C); undo it at the end
    en: with .transpose(1, 2).reshape(B, C, H, W). Mask with masked_fill(~text_mask[:, None, :], float("-inf")).
    ja: features: 潜在表現の特徴マップ (B, C, H, W)。text: テキストの状態 S (B, T, D)。
    ja: text_mask: (B, T) の bool。本物のトークンが True。w_q: (C, d)、w_k: (D, d)、w_v: (D, C)。
    ja: 戻り値: (B, C, H, W)。各ピクセルについて、注目した単語のバリューを混ぜたもの。
    ja: 特別な場合: パディングのトークン（text_mask が False）の重みは 0 にすること。
    ja: ヒント: X = features.flatten(2).transpose(1, 2) で各ピクセルがトークンになる (B, H·W, C)。最後に
    ja: .transpose(1, 2).reshape(B, C, H, W) で元に戻す。マスクは masked_fill(~text_mask[:, None, :], float("-inf"))。
    """
    ### BEGIN SOLUTION
    B, C, H, W = features.shape
    x = features.flatten(2).transpose(1, 2)                   # (B, H·W, C): one token per pixel
    q, k, v = x @ w_q, text @ w_k, text @ w_v                 # (B, H·W, d), (B, T, d), (B, T, C)
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])   # (B, H·W, T)
    scores = scores.masked_fill(~text_mask[:, None, :], float("-inf"))
    out = scores.softmax(dim=-1) @ v                          # (B, H·W, C)
    return out.transpose(1, 2).reshape(B, C, H, W)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "text_cross_attention_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
g = torch.Generator().manual_seed(0)
feats = torch.randn(2, 8, 4, 4, generator=g).to(device)            # en: on the device, like text_states  # ja: text_states と同じデバイスに置く
w_q, w_k, w_v = (torch.randn(*shape, generator=g).to(device) for shape in ((8, 4), (64, 4), (64, 8)))
mine = text_cross_attention(feats, text_states, text_mask, w_q, w_k, w_v)
what, hint = tr("the output's shape", "出力の形"), tr("Return (B, C, H, W), the shape of features.", "features と同じ形 (B, C, H, W) を返します。")
expect(tuple(mine.shape), (2, 8, 4, 4), what, hint)
q = feats.flatten(2).transpose(1, 2) @ w_q
reference = torch.nn.functional.scaled_dot_product_attention(
    q, text_states @ w_k, text_states @ w_v, attn_mask=text_mask[:, None, :]).transpose(1, 2).reshape(2, 8, 4, 4)
what = tr("the same as torch's scaled_dot_product_attention", "torch の scaled_dot_product_attention と同じ")
hint = tr("Check the √d, the softmax axis (over the words), the mask and the reshapes.",
          "√d、softmax の軸（単語の方向）、マスク、形の変換を確かめてください。")
by_d = tr("Divide the scores by √d, not by d: here √4 = 2 (d = w_q.shape[1], the query width).",
          "スコアは d ではなく √d で割ります。ここでは √4 = 2 です（d = w_q.shape[1]、クエリの幅）。")
unscaled = tr("Divide the scores by √d (d = the query width, here 4) before the softmax.",
              "softmax の前に、スコアを √d（d はクエリの幅、ここでは 4）で割ります。")
scaled_as = {s: torch.nn.functional.scaled_dot_product_attention(
    q, text_states @ w_k, text_states @ w_v, attn_mask=text_mask[:, None, :], scale=s).transpose(1, 2).reshape(2, 8, 4, 4)
    for s in (1 / 4, 1.0)}
expect_close(mine, reference, what, hint, atol=1e-4, mistakes=[(scaled_as[1 / 4], by_d), (scaled_as[1.0], unscaled)])
changed_padding = text_states.clone()
changed_padding[~text_mask] = 99.0
what, hint = tr("changing the padding tokens changes nothing", "パディングのトークンを変えても結果は同じ"), tr("Mask the padding's scores to −inf before the softmax.", "softmax の前に、パディングのスコアを −inf でマスクします。")
expect_close(text_cross_attention(feats, changed_padding, text_mask, w_q, w_k, w_v), mine, what, hint, atol=1e-4)
passed("Exercise 8.1")

# %% [markdown] tags=["en"]
# Which words does the trained UNet read? Each of its five cross-attention layers (section 10 shows where they sit),
# halfway through the denoising (t = 500), for one prompt: the attention weights of every latent pixel and every head,
# averaged, for each word:

# %% [markdown] tags=["ja"]
# 学習済みの UNet はどの単語を読んでいるのでしょう？ 5 つある Cross-Attention 層（どこにあるかは 10 節で見ます）それぞれについて、
# ノイズ除去の途中（t = 500）で、あるプロンプトに対する Attention の重みを、潜在表現のすべてのピクセルとすべてのヘッドで平均して、単語ごとに並べます：

# %%
prompt = "a large yellow square on the left"
text, mask = pipe.encode_prompt([prompt])
words = ["<s>", *caption_words(prompt), "</s>"]
layers = {name: m for name, m in pipe.unet.named_modules() if name.endswith("cross_attn")}
# en: ask these layers to keep their attention weights (need_weights=True) while the UNet runs once
# ja: これらの層に、UNet を 1 回動かす間だけ Attention の重みを残してもらう（need_weights=True）
hooks = [m.register_forward_pre_hook(lambda m, args, kwargs: (args, {**kwargs, "need_weights": True}),
                                     with_kwargs=True) for m in layers.values()]
with torch.no_grad():
    pipe.unet(pipe.prepare_latents(1, torch.Generator().manual_seed(SEED)), 500, text, mask)
for h in hooks:
    h.remove()
# en: last_weights: (1, heads, pixels, 16 tokens) → the mean over heads and pixels, for the real tokens
# ja: last_weights: (1, ヘッド, ピクセル, 16 トークン) → ヘッドとピクセルで平均し、本物のトークンだけ残す
table = torch.stack([m.last_weights[0].mean(dim=(0, 1))[:len(words)] for m in layers.values()])
title = tr(f"④ which words each cross-attention reads: '{prompt}'", f"④ 各 Cross-Attention が読む単語：「{prompt}」")
plot.heatmap(table.cpu().numpy(), list(layers), words, fmt="{:.2f}", title=title)
plt.show()


# %% [markdown] tags=["en"]
# The layers read differently: some spread their attention, others pick out "large", "left" or the colour. Much weight goes
# to the end-of-text token `</s>`: CLIP's text encoder is causal (lesson 06), so `</s>` is the one token that has read the
# whole prompt — it is the summary lesson 06 compared with pictures.

# %% [markdown] tags=["ja"]
# 層によって読み方が違います。まんべんなく見る層もあれば、「large」「left」や色を選んで見る層もあります。文末のトークン `</s>` には
# 大きな重みが集まっています。CLIP のテキストエンコーダは因果マスクを使う（レッスン 06）ので、`</s>` はプロンプト全体を読んだ唯一のトークン、
# つまりレッスン 06 で画像と比べた「要約」なのです。

# %% [markdown] tags=["en"]
# ## 5. ⑤ One denoising step, with the text (「UNetを使って、ノイズ除去を1Step行います」)
#
# The UNet is lesson 07's, with cross-attention added: `unet(latents, t, text_states, text_mask)` predicts the noise ε̂ in
# the latents at step t, *given the prompt*.
#
# One more idea makes the pictures follow the prompt well: **classifier-free guidance** (Ho & Salimans, 2022). During
# training the prompt was replaced by the empty prompt "" one time in ten, so the same UNet can also predict the noise
# *without* text, ε̂_uncond. At sampling time we ask both questions and go further in the direction the text points:
#
#     ε̂ = ε̂_uncond + s · (ε̂_text − ε̂_uncond)
#
# With s = 0 the prompt is ignored; s = 1 is the plain text-conditioned prediction; s > 1 exaggerates what the text
# changes (Stable Diffusion's default is 7.5; our small model likes about 3).
#
# ### Exercise 8.2 — classifier-free guidance (2 points)

# %% [markdown] tags=["ja"]
# ## 5. ⑤ テキスト付きでノイズ除去を 1 ステップ（「UNetを使って、ノイズ除去を1Step行います」）
#
# UNet はレッスン 07 のものに Cross-Attention を加えたものです。`unet(latents, t, text_states, text_mask)` は、*プロンプトを受け取って*、
# ステップ t の潜在表現に含まれるノイズ ε̂ を予測します。
#
# 画像をプロンプトにしっかり従わせるための、もう 1 つのアイデアがあります。**Classifier-free guidance**（Ho & Salimans, 2022）です。
# 学習のとき、10 回に 1 回はプロンプトを空の文字列 "" に置き換えておきました。だから同じ UNet で、テキスト *なし* のノイズ ε̂_uncond も
# 予測できます。サンプリングのときは両方を予測させて、テキストが指す方向へさらに進みます：
#
#     ε̂ = ε̂_uncond + s · (ε̂_text − ε̂_uncond)
#
# s = 0 ならプロンプトは無視され、s = 1 ならテキスト付きの予測そのもの、s > 1 ならテキストがもたらす変化を強調します
# （Stable Diffusion の標準は 7.5、このコースの小さなモデルは 3 くらいが合っています）。
#
# ### 演習 8.2 — Classifier-free guidance（2 点）

# %% nbgrader={"grade": false, "grade_id": "guidance", "locked": false, "schema_version": 3, "solution": true, "task": false}
def guidance(noise_uncond, noise_text, guidance_scale):
    """ε̂ = ε̂_uncond + s · (ε̂_text − ε̂_uncond)   (classifier-free guidance, Ho & Salimans 2022)

    en: noise_uncond: the UNet's prediction for the empty prompt ""; noise_text: for the real prompt; both
    en: (B, 4, H, W) tensors. guidance_scale: the float s. Returns the guided ε̂, the same shape.
    en: Edge: s = 1 must return noise_text exactly; s = 0 returns noise_uncond.
    en: Hint: one line of tensor arithmetic.
    ja: noise_uncond: 空のプロンプト "" に対する UNet の予測。noise_text: 本物のプロンプトに対する予測。どちらも
    ja: (B, 4, H, W) のテンソル。guidance_scale: float の s。戻り値: ガイダンスをかけた ε̂（同じ形）。
    ja: 特別な場合: s = 1 なら noise_text そのもの、s = 0 なら noise_uncond を返す。
    ja: ヒント: テンソルの計算 1 行で書ける。
    """
    ### BEGIN SOLUTION
    return noise_uncond + guidance_scale * (noise_text - noise_uncond)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "guidance_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
u, c = torch.zeros(1, 4, 4, 4), torch.ones(1, 4, 4, 4)
hint = tr("Start at ε̂_uncond and move s times (ε̂_text − ε̂_uncond).",
          "ε̂_uncond から出発して、(ε̂_text − ε̂_uncond) の s 倍だけ進みます。")
swapped = tr("ε̂_uncond and ε̂_text are swapped: start at the unconditional prediction, move towards the text one.",
             "ε̂_uncond と ε̂_text が逆です。テキストなしの予測から出発して、テキスト付きの予測の方向へ進みます。")
expect_close(guidance(u, c, 3.0), torch.full((1, 4, 4, 4), 3.0), "guidance(0, 1, s=3)", hint,
             mistakes=[(torch.full((1, 4, 4, 4), -2.0), swapped)])
what = tr("s = 1 gives the text prediction", "s = 1 ならテキスト付きの予測そのもの")
expect_close(guidance(u + 2, c, 1.0), c, what, hint)
what = tr("s = 0 gives the unconditional prediction", "s = 0 ならテキストなしの予測そのもの")
expect_close(guidance(u + 2, c, 0.0), u + 2, what, hint)
passed("Exercise 8.2")


# %% [markdown] tags=["en"]
# ### Exercise 8.3 — the UNet's guided prediction (2 points)
#
# Now ask the UNet both questions — with the text and with the empty prompt — and guide. (Stable Diffusion runs the two
# as one batch of 2B to save time; two calls give the same numbers.)

# %% [markdown] tags=["ja"]
# ### 演習 8.3 — UNet のガイダンス付き予測（2 点）
#
# UNet に、テキストありと空のプロンプトで 1 回ずつ予測させ、ガイダンスをかけます。（Stable Diffusion は時間を節約するため、2 つを
# 2B 個の 1 つのバッチにまとめて実行します。2 回呼んでも同じ数値になります。）

# %% nbgrader={"grade": false, "grade_id": "predict_noise", "locked": false, "schema_version": 3, "solution": true, "task": false}
def predict_noise(unet, latents, t, text, uncond, guidance_scale):
    """ε̂ = guidance(unet(z_t, t, uncond), unet(z_t, t, text), s)   (slide 42 ⑤)

    en: unet: the text-conditioned UNet, called as unet(latents, t, states, mask). latents: z_t, (B, 4, 4, 4);
    en: t: an int timestep; text and uncond: (states (B, 16, 64), mask (B, 16)) pairs from pipe.encode_prompt,
    en: for the prompts and for "" ; guidance_scale: a float. Returns the guided ε̂, (B, 4, 4, 4).
    en: Edge: with guidance_scale = 1 the result is simply the text prediction.
    en: Hint: unet(latents, t, *text) unpacks the pair; wrap the calls in torch.no_grad(); use your guidance().
    ja: unet: テキスト付きの UNet。unet(latents, t, states, mask) と呼ぶ。latents: z_t、(B, 4, 4, 4)。
    ja: t: int のタイムステップ。text と uncond: pipe.encode_prompt が返す (states (B, 16, 64), mask (B, 16)) の組。
    ja: それぞれプロンプトと "" のもの。guidance_scale: float。戻り値: ガイダンスをかけた ε̂、(B, 4, 4, 4)。
    ja: 特別な場合: guidance_scale = 1 なら結果はテキスト付きの予測そのもの。
    ja: ヒント: unet(latents, t, *text) で組を展開できる。torch.no_grad() の中で呼び、自分の guidance() を使うこと。
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        noise_text = unet(latents, t, *text)
        noise_uncond = unet(latents, t, *uncond)
    return guidance(noise_uncond, noise_text, guidance_scale)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "predict_noise_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
z = pipe.prepare_latents(2, torch.Generator().manual_seed(1))
text, uncond = pipe.encode_prompt(prompts), pipe.encode_prompt(["", ""])
mine = predict_noise(pipe.unet, z, 600, text, uncond, 3.0)
what, hint = tr("the shape of ε̂", "ε̂ の形"), tr("The UNet returns the latents' shape.", "UNet は潜在表現と同じ形を返します。")
expect(tuple(mine.shape), (2, 4, 4, 4), what, hint)
what = tr("the same ε̂ as the course's pipeline", "コースのパイプラインと同じ ε̂")
hint = tr("Text prediction, empty-prompt prediction, then guidance(uncond, text, s).",
          "テキスト付きの予測と空のプロンプトでの予測を求め、それから guidance(uncond, text, s) です。")
swapped = tr("The text and the empty prompt are swapped: guidance(uncond, text, s) takes the empty prompt's prediction first.",
             "テキストと空のプロンプトが逆です。guidance(uncond, text, s) には、空のプロンプトの予測を先に渡します。")
expect_close(mine, pipe.predict_noise(z, 600, text, uncond, 3.0), what, hint, atol=1e-4,
             mistakes=[(pipe.predict_noise(z, 600, uncond, text, 3.0), swapped)])
passed("Exercise 8.3")


# %% [markdown] tags=["en"]
# ## 6. ⑥ Repeat N times, ⑦ decode (「⑤をN回繰り返します」「最終的に得られた特徴マップを画像にデコードします」)
#
# The loop of lesson 07, with the text inside: start from noise (①), encode the prompt once (③), then for each of the
# scheduler's timesteps predict the guided noise (④ ⑤) and let the scheduler take one step; at the end decode (⑦).
#
# ### Exercise 8.4 — the whole pipeline (3 points)

# %% [markdown] tags=["ja"]
# ## 6. ⑥ N 回繰り返し、⑦ デコード（「⑤をN回繰り返します」「最終的に得られた特徴マップを画像にデコードします」）
#
# レッスン 07 のループに、テキストを入れたものです。ノイズから始め（①）、プロンプトを 1 回エンコードし（③）、スケジューラの各タイムステップで
# ガイダンス付きのノイズを予測して（④ ⑤）スケジューラに 1 歩進めてもらいます。最後にデコードします（⑦）。
#
# ### 演習 8.4 — パイプライン全体（3 点）

# %% nbgrader={"grade": false, "grade_id": "generate", "locked": false, "schema_version": 3, "solution": true, "task": false}
def generate(pipe, prompts, num_inference_steps, guidance_scale, seed):
    """① → ③ → (⑤ ⑥) × N → ⑦   (slide 42)

    en: Slide 42's steps: prompts in, pictures out.
    ja: スライド 42 の各ステップ：プロンプトを受け取り、画像を返す。
    en: pipe: the course's pipeline (pipe.unet, pipe.scheduler, pipe.prepare_latents, pipe.encode_prompt,
    en: pipe.decode_latents). prompts: a list of B strings; num_inference_steps: an int; guidance_scale: a float;
    en: seed: an int. Returns the pictures, (B, 3, 32, 32) in [0, 1].
    en: Steps: ① the starting latents from pipe.prepare_latents, with a torch.Generator seeded by `seed`;
    en: ③ the prompts, and B empty prompts "", through pipe.encode_prompt; tell the scheduler the number of steps
    en: (set_timesteps); ⑥ for every t in pipe.scheduler.timesteps: ⑤ ε̂ from your predict_noise, then the
    en: scheduler's step(ε̂, t, latents).prev_sample; ⑦ pictures from pipe.decode_latents.
    en: Hint: draw the noise FIRST (before anything else uses the generator), so a seed always gives the same picture.
    ja: pipe: コースのパイプライン（pipe.unet、pipe.scheduler、pipe.prepare_latents、pipe.encode_prompt、
    ja: pipe.decode_latents）。prompts: B 個の文字列のリスト。num_inference_steps: int。guidance_scale: float。
    ja: seed: int。戻り値: 画像 (B, 3, 32, 32)、値は [0, 1]。
    ja: 手順: ① seed で初期化した torch.Generator を使い、pipe.prepare_latents で出発点の潜在表現を作る。
    ja: ③ プロンプトと、B 個の空のプロンプト "" を pipe.encode_prompt に通す。スケジューラにステップ数を伝える
    ja: （set_timesteps）。⑥ pipe.scheduler.timesteps の各 t について：⑤ 自分の predict_noise で ε̂ を求め、
    ja: スケジューラの step(ε̂, t, latents).prev_sample で進める。⑦ pipe.decode_latents で画像にする。
    ja: ヒント: ノイズは最初に引くこと（ほかの処理が generator を使う前に）。そうすれば同じ seed から必ず同じ画像になる。
    """
    ### BEGIN SOLUTION
    B = len(prompts)
    latents = pipe.prepare_latents(B, torch.Generator().manual_seed(seed))          # ①
    text, uncond = pipe.encode_prompt(prompts), pipe.encode_prompt([""] * B)        # ③
    pipe.scheduler.set_timesteps(num_inference_steps)
    for t in pipe.scheduler.timesteps:                                              # ⑥
        noise = predict_noise(pipe.unet, latents, t, text, uncond, guidance_scale)  # ④ ⑤
        latents = pipe.scheduler.step(noise, t, latents).prev_sample
    return pipe.decode_latents(latents)                                             # ⑦
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "generate_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
mine = generate(pipe, prompts, 20, 3.0, SEED)
what, hint = tr("the pictures' shape", "画像の形"), tr("Decode the latents at the end (⑦).", "最後に潜在表現をデコードします（⑦）。")
expect(tuple(mine.shape), (2, 3, 32, 32), what, hint)
course = pipe(prompts, num_inference_steps=20, guidance_scale=3.0, generator=torch.Generator().manual_seed(SEED))
what = tr("the same pictures as the course's pipeline", "コースのパイプラインと同じ画像")
hint = tr("Draw the noise first, encode \"\" for uncond, loop over pipe.scheduler.timesteps, decode at the end.",
          "ノイズを最初に引き、uncond には \"\" をエンコードし、pipe.scheduler.timesteps でループして、最後にデコードします。")
expect_close(mine, course.images, what, hint, atol=1e-3)
passed("Exercise 8.4")
title = tr("your pipeline", "あなたのパイプライン")
plot.image_grid(mine, prompts, ncols=2, size=2.2, title=title)
plt.show()

# %% [markdown] tags=["en"]
# Watch the denoising, step by step: the pipeline's `callback` hands us the latents after each step, and the VAE's
# decoder (⑦) shows what they have become so far.

# %% [markdown] tags=["ja"]
# ノイズ除去をステップごとに見てみましょう。パイプラインの `callback` が各ステップの後の潜在表現を渡してくれるので、VAE のデコーダ（⑦）で
# その時点の姿を見られます。

# %%
prompt, steps = tr("a large purple cross in the middle", "真ん中に大きな紫の十字"), 20
step_label = tr("step {}, t={}", "ステップ {}、t={}")
frames, titles = [], []

def keep(i, t, latents):
    if i % 4 == 3 or i == 0:
        frames.append(pipe.decode_latents(latents))
        titles.append(step_label.format(i + 1, t))

result = pipe(prompt, num_inference_steps=steps, guidance_scale=3.0, generator=torch.Generator().manual_seed(SEED),
              callback=keep)
title = tr(f"⑥ '{prompt}', step by step", f"⑥「{prompt}」をステップごとに")
plot.image_grid(torch.cat(frames), titles, ncols=len(frames), size=1.5, title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## 7. Prompts, in English and in Japanese
#
# The text encoder learned both languages from the same pictures (lesson 06), so the UNet understands both. Below, the
# same four scenes asked for in each language, and a row of **never-seen** pairs: red triangles, blue crosses,
# yellow circles and green squares were not in the UNet's training data. It has seen red things and triangles — just
# never together.

# %% [markdown] tags=["ja"]
# ## 7. 英語と日本語のプロンプト
#
# テキストエンコーダは同じ画像から両方の言語を学びました（レッスン 06）。だから UNet はどちらも理解します。下は同じ 4 つの場面を
# それぞれの言語で頼んだものと、**一度も見たことのない** 組み合わせの行です。赤い三角、青い十字、黄色い丸、緑の四角は、
# UNet の学習データにありませんでした。赤いものも三角も見たことはありますが、その 2 つが一緒になったものは見たことがないのです。

# %%
scenes = [data.Shape("red", "circle", "large", "left"), data.Shape("blue", "square", "small", "top"),
          data.Shape("green", "triangle", "large", "middle"), data.Shape("yellow", "cross", "small", "right")]
never_seen = [data.Shape("red", "triangle", "large", "middle"), data.Shape("blue", "cross", "large", "left"),
              data.Shape("yellow", "circle", "small", "bottom"), data.Shape("green", "square", "large", "right")]
rows = [s.caption("en") for s in scenes] + [s.caption("ja") for s in scenes] + [s.caption("en") for s in never_seen]
images = pipe(rows, num_inference_steps=20, guidance_scale=3.0, generator=torch.Generator().manual_seed(SEED)).images
title = tr("English, 日本語, and pairs never seen in training", "英語、日本語、そして学習で一度も見ていない組み合わせ")
plot.image_grid(images, rows, ncols=4, size=2.3, title=title)
plt.show()

# %% [markdown] tags=["en"]
# **The guidance scale.** The same prompt and the same starting noise, for guidance scales from 0 (the prompt is ignored:
# a shape of the model's own choosing) to 7:

# %% [markdown] tags=["ja"]
# **ガイダンススケール。** 同じプロンプト、同じ出発点のノイズで、ガイダンススケールを 0（プロンプトは無視され、モデルが好きな図形を描く）
# から 7 まで変えてみます：

# %%
prompt, scales = "下に小さな緑の三角", [0.0, 1.0, 2.0, 3.0, 5.0, 7.0]
images = torch.cat([pipe(prompt, num_inference_steps=20, guidance_scale=s,
                         generator=torch.Generator().manual_seed(SEED + 1)).images for s in scales])
plot.image_grid(images, [f"s = {s}" for s in scales], ncols=len(scales), size=1.6, title=prompt)
plt.show()

# %% [markdown] tags=["en"]
# **Play with it.** Type any prompt built from the course's words — colours *red, green, blue, yellow, purple*
# (赤い 緑の 青い 黄色い 紫の), shapes *circle, square, triangle, cross* (丸 四角 三角 十字), *small/large* (小さな 大きな) and
# a place (*on the left, on the right, at the top, at the bottom, in the middle*; 左に 右に 上に 下に 真ん中に).
# Spaces, punctuation and near-synonyms (*big*, 大きい, 緑色の) are read as the course's words; a word it never learned
# becomes an unknown token, and the box says which: what happens to the picture then?

# %% [markdown] tags=["ja"]
# **動かしてみよう。** コースの単語でプロンプトを作ってみましょう。色 *赤い 緑の 青い 黄色い 紫の*（red, green, blue, yellow, purple）、
# 形 *丸 四角 三角 十字*（circle, square, triangle, cross）、*小さな 大きな*（small/large）、場所（*左に 右に 上に 下に 真ん中に*；
# on the left …）。空白や句読点、言い換え（大きい、緑色の、big）はコースの単語として読みます。
# 知らない単語は「未知のトークン」になり、どの単語がそうなったかが表示されます。そのとき画像はどうなるでしょう？

# %%
seed_label = tr("seed {}, #{}", "シード {}、#{}")
unknown_note = tr("words the model does not know (read as <unk>, so ignored):",
                  "モデルの知らない単語（<unk> として読むので、無視されます）:")

def draw(prompt, guidance_scale, seed):
    if unknown := pipe.unknown_words(prompt):      # spaces, 。, 大きい, 〜色 are read as the captions' words
        print(unknown_note, unknown)
    images = pipe([prompt] * 4, num_inference_steps=20, guidance_scale=guidance_scale,
                  generator=torch.Generator().manual_seed(seed)).images
    plot.image_grid(images, [seed_label.format(seed, i) for i in range(4)], ncols=4, size=2.0, title=prompt)

labels = {"prompt": tr("prompt", "プロンプト"), "guidance_scale": tr("guidance_scale", "ガイダンスの強さ"), "seed": tr("seed", "シード")}
sliders = {"guidance_scale": (0.0, 9.0, 0.5, 3.0), "seed": (0, 99, 1, SEED)}
prompt = tr("a large blue circle at the bottom", "下に大きな青い丸")
prompt_explorer(draw, prompt, sliders, labels=labels)

# %% [markdown] tags=["en"]
# ## 8. Does the picture match the prompt? (slide 50)
#
# Slide 50: 「画像とテキストのペアを大量に学習しているので、正確にテキストの情報が画像の特徴に反映される」 — *because it learned
# from a great many image–text pairs, the text's information shows up accurately in the picture.* Let us measure
# "accurately". A judge that is *not* a neural network, `data.read_shape`, reads a picture back by simple rules: the
# colour most bright pixels are closest to, and which of the four shapes, drawn on the spot, overlaps it best. On the
# dataset's own drawings it is always right (the tests check). Ask the pipeline for every combination, in both
# languages, and count:

# %% [markdown] tags=["ja"]
# ## 8. 画像はプロンプトに合っている？（スライド 50）
#
# スライド 50：「画像とテキストのペアを大量に学習しているので、正確にテキストの情報が画像の特徴に反映される」。この「正確に」を測ってみましょう。
# ニューラルネットワーク *ではない* 審判 `data.read_shape` が、単純な規則で画像を読み取ります：明るいピクセルの多くがいちばん近い色と、
# 4 つの形をその場で描いてみていちばんよく重なるもの。データセット自身の画像なら必ず正解します（テストで確かめています）。
# パイプラインにすべての組み合わせを両方の言語で描かせ、数えてみます：

# %%
fidelity = {}
names = {"train": tr("trained pairs", "学習した組み合わせ"), "heldout": tr("never-seen pairs", "一度も見ていない組み合わせ")}
for split, repeats in (("train", 1), ("heldout", 2)):
    desc = tr(f"drawing and judging ({names[split]})", f"描いて判定中（{names[split]}）")
    fidelity[split] = zoo.sd_shapes.prompt_fidelity(pipe, split, repeats=repeats, seed=SEED, num_inference_steps=20,
                                         guidance_scale=3.0, progress=True, desc=desc)
    r = fidelity[split]
    line = tr(f"{names[split]}: {r['n']} pictures; colour and shape right: {r['color_shape']:.1%} (English {r['en']:.1%}, Japanese {r['ja']:.1%}); all four words right: {r['all']:.1%}",
              f"{names[split]}：{r['n']} 枚。色と形が正しい：{r['color_shape']:.1%}（英語 {r['en']:.1%}、日本語 {r['ja']:.1%}）。4 語すべて正しい：{r['all']:.1%}")
    print(line)
heading = tr("some misses on never-seen pairs (asked → read):", "一度も見ていない組み合わせでの間違いの例（頼んだもの → 読み取ったもの）：")
print(heading, *(f"{asked} → {read}" for asked, read in fidelity["heldout"]["misses"][:4]), sep="\n  ")
kept = tr("of these misses, the colour was still right in {:.0%}", "間違いのうち、色は合っていたもの：{:.0%}")
print(kept.format(fidelity["heldout"]["kept_color"]))


# %% [markdown] tags=["en"]
# On pairs it was trained on, most pictures are right (the shipped UNet, trained about five times longer, gets nearly
# all of them). On the never-seen pairs fewer, but most still are: the model has learned
# "red" and "triangle" as separate ideas it can combine — what people call *compositional generalisation*. Where it fails,
# read the misses above and the last line: when the colour is still right, the shape it drew is one it has seen in that
# colour (each colour lost only one shape from training), so the model fell back on a pair it knows.

# %% [markdown] tags=["ja"]
# 学習した組み合わせでは、大半の画像が正解です（5 倍ほど長く学習した同梱の UNet なら、ほぼすべて）。一度も見ていない組み合わせでは
# それより少ないものの、やはり大半が正解します。モデルは「赤い」と「三角」を、
# 組み合わせられる別々の概念として学んだのです（*合成的汎化* と呼ばれます）。失敗したときは、上の間違いの例と最後の行を見てください。
# 色が合っているなら、描いた形はその色で見たことのある形です（学習から外したのは、どの色も形 1 つだけだからです）。
# つまりモデルは、知っている組み合わせに逃げたのです。

# %% [markdown] tags=["en"]
# ## 9. ② img2img: start from a picture (「ノイズを特徴マップにエンコードします」)
#
# Step ② of slide 42 sends a picture through the Image Encoder. That gives **img2img**: encode an existing picture into a
# latent, add noise to it — not all the way to pure noise, only to some step in between — and denoise from there under a
# *new* prompt. The **strength** (from 0 to 1) says how far back to go: at 0 nothing changes; at 1 the picture is
# drowned (almost) completely and we are (almost) back to text-to-image. With N inference steps, img2img runs the last int(N · strength) of
# them, so it joins the loop at index N − int(N · strength) of `scheduler.timesteps`.
#
# ### Exercise 8.5 — where img2img joins the loop (2 points)

# %% [markdown] tags=["ja"]
# ## 9. ② img2img：画像から始める（「ノイズを特徴マップにエンコードします」）
#
# スライド 42 のステップ ② では、画像を Image Encoder に通します。これで **img2img** ができます：既存の画像を潜在表現にエンコードし、
# ノイズを足して（純粋なノイズまでではなく、途中のステップまで）、そこから *新しい* プロンプトでノイズを除去します。**strength**（0 から 1）は、
# どこまで戻るかを表します。0 なら何も変わらず、1 なら画像は（ほぼ）完全にノイズに沈み、（ほぼ）テキストからの画像生成と同じになります。推論ステップが N 回なら、
# img2img はそのうち最後の int(N · strength) 回を実行します。つまり `scheduler.timesteps` のインデックス N − int(N · strength) からループに合流します。
#
# ### 演習 8.5 — img2img がループに合流する位置（2 点）

# %% nbgrader={"grade": false, "grade_id": "img2img_start", "locked": false, "schema_version": 3, "solution": true, "task": false}
def img2img_start(num_inference_steps, strength):
    """start = N − int(N · strength)

    en: The index into scheduler.timesteps where img2img starts, computed as diffusers does.
    ja: img2img が始まる、scheduler.timesteps のインデックス。diffusers と同じ計算。
    en: num_inference_steps: the int N; strength: a float in [0, 1]. Returns an int from 0 to N.
    en: Edge: strength 1.0 → 0 (start from pure noise); strength 0.0 → N (no step at all: the picture is kept).
    en: Hint: compute the number of steps to run first, int(N · strength), never more than N.
    ja: num_inference_steps: int の N。strength: [0, 1] の float。戻り値: 0 から N までの int。
    ja: 特別な場合: strength 1.0 → 0（純粋なノイズから始める）。strength 0.0 → N（1 ステップも実行しない：画像はそのまま）。
    ja: ヒント: まず実行するステップ数 int(N · strength)（N を超えない）を求める。
    """
    ### BEGIN SOLUTION
    steps_to_run = min(int(num_inference_steps * strength), num_inference_steps)
    return num_inference_steps - steps_to_run
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "img2img_start_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
hint = tr("Run the last int(20 · 0.75) = 15 steps: start at 20 − 15.",
          "最後の int(20 · 0.75) = 15 ステップを実行するので、20 − 15 から始めます。")
expect(img2img_start(20, 0.75), 5, "img2img_start(20, 0.75)", hint)
hint = tr("Strength 1: from the very first timestep.", "strength 1 なら、いちばん最初のタイムステップから始めます。")
expect(img2img_start(10, 1.0), 0, "img2img_start(10, 1.0)", hint)
hint = tr("Strength 0: no step at all.", "strength 0 なら、1 ステップも実行しません。")
expect(img2img_start(10, 0.0), 10, "img2img_start(10, 0.0)", hint)
hint = tr("int(7 · 0.5) = 3 steps to run, so start at index 4.",
          "実行するのは int(7 · 0.5) = 3 ステップなので、インデックス 4 から始めます。")
expect(img2img_start(7, 0.5), 4, "img2img_start(7, 0.5)", hint)
passed("Exercise 8.5")

# %% [markdown] tags=["en"]
# A red circle, redrawn as "a large blue square on the left" at growing strengths. The pipeline encodes it (②), noises it
# to `scheduler.timesteps[start]`, and runs the rest of the loop:

# %% [markdown] tags=["ja"]
# 赤い丸を、strength を上げながら「左に大きな青い四角」として描き直します。パイプラインは画像をエンコードし（②）、
# `scheduler.timesteps[start]` までノイズを足して、ループの残りを実行します：

# %%
source = data.draw_shape(data.Shape("red", "circle", "large", "middle"))[None]     # (1, 3, 32, 32)
source = torch.from_numpy(source)
new_prompt, strengths = tr("a large blue square on the left", "左に大きな青い四角"), [0.0, 0.3, 0.5, 0.7, 0.85, 1.0]
images = [pipe(new_prompt, image=source, strength=s, num_inference_steps=20, guidance_scale=3.0,
               generator=torch.Generator().manual_seed(SEED)).images for s in strengths]
titles = [tr(f"strength {s}: start {img2img_start(20, s)}",
             f"strength {s}：開始 {img2img_start(20, s)}") for s in strengths]
title = tr(f"img2img: a red circle → '{new_prompt}'", f"img2img：赤い丸 → 「{new_prompt}」")
plot.image_grid(torch.cat(images), titles, ncols=len(strengths), size=1.7, title=title)
plt.show()
lang, nothing = tr("en", "ja"), tr("nothing", "何もない")
for s, image in zip(strengths, images):
    read = data.read_shape(image[0].cpu())                      # en: lesson 08's judge, by rules  # ja: レッスン 08 の審判（規則で読む）
    print(tr(f"strength {s}: {read.caption(lang) if read else nothing}",
             f"strength {s}：{read.caption(lang) if read else nothing}"))


# %% [markdown] tags=["en"]
# At strength 0 nothing changes; at strength 1 the picture follows the new prompt alone. In between, watch which
# part of the new prompt wins first, here read back by `data.read_shape` under the pictures. Often the colour and the
# shape change before the place does: the layout is the coarsest thing in a picture, and it survives the noise longest.
# Even strength 1 does not quite wipe out the source: the first timestep, 950, is not pure noise
# (√ᾱ_950 ≈ 0.08 of the picture is left), so a trace of the old picture can remain. Try it:

# %% [markdown] tags=["ja"]
# strength 0 では何も変わらず、strength 1 では新しいプロンプトだけに従います。その間では、新しいプロンプトのどの部分が先に勝つかに
# 注目してください。画像の下に `data.read_shape` の読み取りを表示しています。位置より先に色と形が変わることがよくあります。配置は
# 画像の中でいちばん大まかな情報で、ノイズにいちばん長く耐えるからです。strength 1 でも元の画像が完全に消えるわけではありません。
# 最初のタイムステップ 950 は純粋なノイズではなく（画像が √ᾱ_950 ≈ 0.08 だけ残っている）、元の画像の痕跡が残ることがあります。試してみましょう：

# %%
def redraw(prompt, strength):
    if unknown := pipe.unknown_words(prompt):
        print(unknown_note, unknown)
    out = pipe([prompt] * 4, image=source.expand(4, -1, -1, -1), strength=strength, num_inference_steps=20,
               guidance_scale=3.0, generator=torch.Generator().manual_seed(SEED)).images
    first, heading = tr("the source", "元の画像"), tr("'{}', strength {}", "「{}」、strength {}")
    plot.image_grid(torch.cat([source, out.cpu()]), [first] + [f"#{i}" for i in range(4)], ncols=5, size=1.8,
                    title=heading.format(prompt, strength))

labels = {"prompt": tr("prompt", "プロンプト"), "strength": tr("strength", "強さ (strength)")}
prompt_explorer(redraw, "右に小さな紫の十字", {"strength": (0.0, 1.0, 0.05, 0.7)}, labels=labels)

# %% [markdown] tags=["en"]
# ## 10. Optional: inside the UNet (slide 49: 「UNetの詳細については時間がないので割愛」)
#
# Slide 49 skips the UNet "for lack of time" — and adds 「毎ステップごとにテキスト情報を入れてノイズ除去を行う」, *the text goes
# in at every step*. Lesson 07 opened the UNet on digits; here is the same code (`lib/shikumi/unet.py`) as the text-to-image
# UNet, on 4×4 latents. Follow one call: the **down path** halves 4×4 to 2×2, the **middle** works at 2×2, the **up path**
# doubles back, and each up level also receives the down path's output of the same size (the **skip connections**).
# Every level ends in an attention block — self-attention between latent pixels, then **cross-attention to the words**:
# that is where the text enters, at every level and at every step.

# %% [markdown] tags=["ja"]
# ## 10. おまけ：UNet の中身（スライド 49：「UNetの詳細については時間がないので割愛」）
#
# スライド 49 は時間の都合で UNet を飛ばし、「毎ステップごとにテキスト情報を入れてノイズ除去を行う」と添えています。レッスン 07 では数字の
# UNet を開きました。ここでは同じコード（`lib/shikumi/unet.py`）を、4×4 の潜在表現で動くテキスト付き UNet として見ます。1 回の呼び出しを
# 追ってみましょう：**下り道** は 4×4 を 2×2 に半分にし、**中間** は 2×2 で働き、**上り道** は倍に戻します。上りの各段は、下り道の
# 同じ大きさの出力も受け取ります（**スキップ接続**）。どの段も Attention ブロックで終わります。潜在表現のピクセルどうしの Self-Attention、
# そして **単語への Cross-Attention**。テキストが入るのはここで、すべての段、すべてのステップで入ります。

# %%
unet = pipe.unet
parts = [("conv_in", unet.conv_in)] + [(f"down {i}", m) for i, m in enumerate(unet.down)] + [("middle", unet.mid)] \
        + [(f"up {len(unet.up) - 1 - i}", m) for i, m in enumerate(unet.up)] + [("conv_out", unet.conv_out)]
hooks = [m.register_forward_hook(lambda _m, _in, out, name=name: print(f"{name:>9}: {tuple(out.shape)}"))
         for name, m in parts]
text, mask = pipe.encode_prompt(["a small red cross on the left"])
with torch.no_grad():
    unet(pipe.prepare_latents(1, torch.Generator().manual_seed(SEED)), 500, text, mask)
for h in hooks:
    h.remove()
cross = [name for name, m in unet.named_modules() if name.endswith("cross_attn")]
reads = tr("{} cross-attention layers read the text:", "テキストを読む Cross-Attention 層（{} 個）：")
print("\n" + reads.format(len(cross)), *cross, sep="\n  ")

# %% [markdown] tags=["en"]
# ## 11. The real thing: Stable Diffusion in `diffusers`
#
# Everything you built has a counterpart in the libraries that run the real Stable Diffusion. `shikumi.bridge` builds
# diffusers' `StableDiffusionPipeline` at *our* sizes, with random weights and no download, so you can see each real part
# take the same tensors as ours:

# %% [markdown] tags=["ja"]
# ## 11. 本物：`diffusers` の Stable Diffusion
#
# あなたが組み立てたものには、本物の Stable Diffusion を動かすライブラリの中に、それぞれ対応する部品があります。`shikumi.bridge` は
# diffusers の `StableDiffusionPipeline` を *このコースの* 大きさで、ランダムな重みで、ダウンロードなしに組み立てます。
# 本物の各部品が、このコースのものと同じテンソルを受け取る様子を見てみましょう：

# %%
from shikumi.bridge import tiny_stable_diffusion

real = tiny_stable_diffusion(seed=SEED)     # en: diffusers.StableDiffusionPipeline, random weights, on the CPU  # ja: diffusers.StableDiffusionPipeline。重みはランダム、CPU 上
picture = torch.from_numpy(data.draw_shape(scenes[0])[None])
with torch.no_grad():
    ids = real.tokenizer(["a red circle"], padding="max_length", return_tensors="pt").input_ids
    steps = (tr("③ text encoder", "③ テキストエンコーダ"), tr("② image encoder", "② 画像エンコーダ"), "⑤ UNet", tr("⑦ image decoder", "⑦ 画像デコーダ"))
    rows = [
        (steps[0], "pipe.encode_prompt", tuple(pipe.encode_prompt(["a red circle"])[0].shape),
         "CLIPTextModel", tuple(real.text_encoder(ids).last_hidden_state.shape)),
        (steps[1], "pipe.vae.encode", tuple(pipe.encode_image(picture).shape),
         "AutoencoderKL.encode", tuple(real.vae.encode(picture * 2 - 1).latent_dist.mean.shape)),
        (steps[2], "pipe.unet", tuple(pipe.unet(latents[:1], 500, *pipe.encode_prompt(["a red circle"])).shape),
         "UNet2DConditionModel",
         tuple(real.unet(latents[:1].cpu(), 500, real.text_encoder(ids).last_hidden_state).sample.shape)),
        (steps[3], "pipe.vae.decode", tuple(pipe.decode_latents(latents[:1]).shape),
         "AutoencoderKL.decode", tuple(real.vae.decode(latents[:1].cpu()).sample.shape)),
    ]


def pad(text, width):
    """
    en: text, then spaces up to `width` columns (a Japanese letter takes two).
    ja: text のあとに、`width` 列になるまで空白を足す（日本語の文字は 2 列ぶん）。
    """
    return text + " " * (width - sum(2 if ord(ch) >= 0x3000 else 1 for ch in text))

header = (tr("step", "ステップ"), tr("the course", "このコース"), tr("shape", "形"), "diffusers / transformers", tr("shape", "形"))
for step, ours, our_shape, theirs, their_shape in [header, *rows]:
    print(pad(step, 22) + pad(ours, 22) + pad(str(our_shape), 18) + pad(theirs, 26) + str(their_shape))
scheduler = tr("\nscheduler: {} ↔ {}", "\nスケジューラ：{} ↔ {}")
print(scheduler.format(type(pipe.scheduler).__name__, type(real.scheduler).__name__))
tiny, encoder, comma = tr("the tiny real pipeline: ", "小さな本物のパイプライン："), tr("text encoder", "テキストエンコーダ"), tr(", ", "、")
sizes = {"VAE": real.vae, encoder: real.text_encoder, "UNet": real.unet}
print(tiny + comma.join(f"{k} {sum(p.numel() for p in m.parameters()):,}" for k, m in sizes.items()))

# %% [markdown] tags=["en"]
# (Its tokenizer here reads single characters, so a prompt is up to 64 tokens; ours reads words, 16. The real CLIP
# tokenizer has 49,408 learned word pieces and reads 77.) The same call works on the real pipeline too — with random weights the picture is just coloured noise, but every step
# of slide 42 ran:

# %% [markdown] tags=["ja"]
# （ここでのトークナイザは 1 文字ずつ読むので、プロンプトは最大 64 トークンです。このコースのものは単語単位で 16。本物の CLIP の
# トークナイザは学習済みの 49,408 個の部分語を使い、77 トークンを読みます。）同じ呼び出し方が本物のパイプラインでも使えます。重みがランダムなので画像はただの色つきノイズですが、スライド 42 のすべてのステップが実行されています：

# %%
noise_picture = real("a red circle", num_inference_steps=4, guidance_scale=3.0, height=32, width=32, output_type="pt",
                     generator=torch.Generator().manual_seed(SEED)).images
ours = pipe("a red circle", generator=torch.Generator().manual_seed(SEED)).images.cpu()
titles = [tr("diffusers, random weights", "diffusers（ランダムな重み）"), tr("the course, trained", "このコース（学習済み）")]
plot.image_grid(torch.cat([noise_picture, ours]), titles, ncols=2, size=2.0)
plt.show()

# %% [markdown] tags=["en"]
# **Running the real model.** With the weights of a real Stable Diffusion 1.x checkpoint (v1.5, say) (several GB, downloaded where that is
# allowed, e.g. `StableDiffusionPipeline.from_pretrained(<model id>, torch_dtype=torch.float16).to("cuda")`) and a GPU,
# `pipe("a unicorn cat").images[0]` runs exactly the steps of this lesson: 77 tokens → (1, 77, 768) text states, latents of
# (1, 4, 64, 64) for a 512×512 picture (1/48 again), a UNet of 860 million parameters instead of ours, about 50 DDIM-like
# steps with guidance scale 7.5, and the VAE's decoder. Those numbers are Stable Diffusion 1.x's: its text encoder is
# CLIP ViT-L/14's, 768 numbers wide (the Stable Diffusion v1 model card, CompVis 2022). Stable Diffusion 2 reads the prompt with OpenCLIP ViT-H, (1, 77, 1024), and SDXL
# joins two text encoders, (1, 77, 2048) (Podell et al., 2023); the loop is the same. Nothing in this course needs it.

# %% [markdown] tags=["ja"]
# **本物のモデルを動かすには。** 本物の Stable Diffusion 1.x（たとえば v1.5）のチェックポイントの重み（数 GB。ダウンロードが許される環境で、例えば
# `StableDiffusionPipeline.from_pretrained(<モデル ID>, torch_dtype=torch.float16).to("cuda")`）と GPU があれば、
# `pipe("a unicorn cat").images[0]` はこのレッスンのステップをそのまま実行します：77 トークン → (1, 77, 768) のテキスト状態、512×512 の画像には
# (1, 4, 64, 64) の潜在表現（ここでも 1/48）、このコースのものの代わりに 8 億 6 千万パラメータの UNet、ガイダンススケール 7.5 で
# 50 回ほどの DDIM 風のステップ、そして VAE のデコーダ。これらは Stable Diffusion 1.x の数字です。テキストエンコーダは CLIP ViT-L/14 のもので、
# 幅は 768 です（Stable Diffusion v1 のモデルカード、CompVis 2022）。Stable Diffusion 2 は OpenCLIP ViT-H でプロンプトを読むので (1, 77, 1024)、
# SDXL は 2 つのテキストエンコーダをつなげて (1, 77, 2048) です（Podell ほか 2023）。ループは同じです。このコースでは必要ありません。

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 42, steps ① to ⑦:** noise in the latent space of lesson 05's VAE (①), the prompt as one vector per token from
#   lesson 06's CLIP (③), cross-attention from latent pixels to words (④, your `text_cross_attention`), one guided
#   denoising step (⑤, your `guidance` and `predict_noise`), the loop and the decoder (⑥ ⑦, your `generate`).
# - **Slide 42's red note, 「UNetには毎回入力テキストを入れる」:** the text enters every level of the UNet at every step; classifier-free
#   guidance decides how strongly.
# - **Step ②, img2img:** encode a picture, noise it part of the way (your `img2img_start`), redraw it under a new prompt.
# - **Slide 50, 「正確にテキストの情報が画像の特徴に反映される」, measured:** a rule-based judge read the pictures back — including
#   colour × shape pairs the model never saw.
# - **Slide 49's skipped UNet**, opened; and the same parts in diffusers' real `StableDiffusionPipeline`.
#
# **To discuss:** the model drew red triangles although it never saw one. What would it need to draw "a red triangle *and*
# a blue circle" in one picture — more data, a different text encoder, or a different UNet? And what changes when the
# pictures are photographs and the prompts are anything people type?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 42、ステップ ① 〜 ⑦：** レッスン 05 の VAE の潜在空間でのノイズ（①）、レッスン 06 の CLIP によるトークンごとのベクトル（③）、
#   潜在表現のピクセルから単語への Cross-Attention（④、あなたの `text_cross_attention`）、ガイダンス付きのノイズ除去 1 ステップ
#   （⑤、あなたの `guidance` と `predict_noise`）、ループとデコーダ（⑥ ⑦、あなたの `generate`）。
# - **スライド 42 の赤字「UNetには毎回入力テキストを入れる」：** テキストは毎ステップ、UNet のすべての段に入ります。その強さを決めるのが
#   Classifier-free guidance です。
# - **ステップ ②、img2img：** 画像をエンコードし、途中までノイズを足して（あなたの `img2img_start`）、新しいプロンプトで描き直しました。
# - **スライド 50「正確にテキストの情報が画像の特徴に反映される」を測定：** 規則ベースの審判が画像を読み取りました。モデルが一度も見ていない
#   色 × 形の組み合わせも含めて。
# - **スライド 49 で割愛された UNet** の中身を開き、同じ部品を diffusers の本物の `StableDiffusionPipeline` で確かめました。
#
# **話し合ってみよう：** このモデルは、一度も見たことがないのに赤い三角を描けました。では「赤い三角 *と* 青い丸」を 1 枚に描くには、
# 何が必要でしょう。もっと多くのデータ？別のテキストエンコーダ？別の UNet？そして、描くものが図形ではなく写真になり、プロンプトが人の打ち込む何でもありの文に
# なったら、何が変わるでしょう？

# %% [markdown] tags=["en"]
# ## The whole course, and where the field went next <a id="course-wrap-up"></a>
#
# You have now built, small but real, every box of the talk: counting words (01), attention (02), the
# Transformer (03), GPT (04), tokens (09), and from GPT to a chat assistant (10); on the image side the
# autoencoder and its latents (05), CLIP (06), diffusion (07) and, here, the whole text-to-image pipeline.
#
# **What the talk (and this course) simplified.** Stable Diffusion 1.x works in a latent space 8× smaller per
# side with 4 channels (slide 43's 1/48); its text encoder is CLIP ViT-L/14, whose output for one prompt is
# (1, 77, 768); its UNet predicts the noise and is sampled with far fewer steps than it was trained with, and
# classifier-free guidance (Ho & Salimans, 2022) mixes a prompted and an unprompted prediction, as in your
# `guidance` exercise. Our models are a few million parameters on coloured shapes; the real UNet has about
# 860 million and learnt from billions of image–text pairs.
#
# **Where it went next** (one paragraph each; read the papers for the details):
#
# - **SDXL** (Podell et al., 2023, *SDXL: Improving Latent Diffusion Models for High-Resolution Image
#   Synthesis*): the same recipe, bigger — a UNet about three times larger, two text encoders whose outputs are
#   joined, 1024 × 1024 pictures, and an optional second "refiner" model for the last denoising steps.
# - **DiT** (Peebles & Xie, 2023, *Scalable Diffusion Models with Transformers*): the UNet is replaced by a
#   Transformer that reads the latent cut into patches, like words — the block you wrote in lesson 04 — and the
#   pictures improve steadily as the model gets more compute.
# - **Flow matching** (Lipman et al., 2023, *Flow Matching for Generative Modeling*; Liu et al., 2023,
#   *Flow Straight and Fast*): instead of learning the noise, the model learns the direction from noise to
#   picture along (nearly) straight paths, so fewer steps suffice. Stable Diffusion 3 (Esser et al., 2024,
#   *Scaling Rectified Flow Transformers for High-Resolution Image Synthesis*) combines this with a
#   Transformer that reads text and image together.
#
# **Further reading.** Jay Alammar, *The Illustrated Stable Diffusion* and *The Illustrated Transformer*;
# Lilian Weng, *What are Diffusion Models?*; Hugging Face, *The Annotated Diffusion Model* and the `diffusers`
# documentation (your schedulers are shaped like theirs); Andrej Karpathy's nanoGPT and *Let's build GPT*;
# the papers this course cites in each lesson.
#

# %% [markdown] tags=["ja"]
# ## コース全体のまとめと、その先 <a id="course-wrap-up"></a>
#
# これで、プレゼンの図にあった箱を、小さいながらも本物として、すべて自分で作りました。単語を数える（01）、
# Attention（02）、Transformer（03）、GPT（04）、トークン（09）、GPT からチャットアシスタントへ（10）。
# 画像の側では、オートエンコーダと潜在表現（05）、CLIP（06）、拡散モデル（07）、そしてこのレッスンで
# テキストから画像を作るパイプライン全体です。
#
# **プレゼン（とこのコース）が省略したこと。** Stable Diffusion 1.x は、縦横それぞれ 8 分の 1、4 チャネルの
# 潜在空間で計算します（スライド 43 の 1/48）。テキストエンコーダは CLIP ViT-L/14 で、プロンプト 1 つの出力は
# (1, 77, 768) です。UNet はノイズを予測し、学習したときよりずっと少ないステップ数でサンプリングします。
# classifier-free guidance（Ho & Salimans, 2022）は、プロンプトありとなしの 2 つの予測を混ぜます。演習
# `guidance` で書いたとおりです。このコースのモデルは色つきの図形を描く数百万パラメータのものですが、本物の UNet は
# 約 8 億 6000 万パラメータで、何十億組もの画像とテキストから学習しています。
#
# **その先の発展**（それぞれ 1 段落だけ。詳しくは論文を読んでください）：
#
# - **SDXL**（Podell ほか, 2023, *SDXL: Improving Latent Diffusion Models for High-Resolution Image
#   Synthesis*）：同じ作り方を大きくしたものです。UNet は約 3 倍になり、テキストエンコーダを 2 つ使って出力を
#   つなぎ合わせ、1024 × 1024 の画像を作ります。最後のノイズ除去ステップを担当する「リファイナー」モデルも
#   追加で使えます。
# - **DiT**（Peebles & Xie, 2023, *Scalable Diffusion Models with Transformers*）：UNet の代わりに
#   Transformer を使います。潜在表現をパッチに切り分け、単語のように読むのです（レッスン 04 で書いたブロックです）。
#   計算量を増やすほど、画像の質が着実に上がります。
# - **Flow matching**（Lipman ほか, 2023, *Flow Matching for Generative Modeling*；Liu ほか, 2023,
#   *Flow Straight and Fast*）：ノイズを予測する代わりに、ノイズから画像へ向かう（ほぼ）まっすぐな道の向きを
#   学習します。そのため少ないステップで済みます。Stable Diffusion 3（Esser ほか, 2024, *Scaling Rectified
#   Flow Transformers for High-Resolution Image Synthesis*）は、これとテキストと画像をいっしょに読む
#   Transformer を組み合わせています。
#
# **さらに学ぶために。** Jay Alammar の *The Illustrated Stable Diffusion* と *The Illustrated
# Transformer*、Lilian Weng の *What are Diffusion Models?*、Hugging Face の *The Annotated Diffusion Model*
# と `diffusers` のドキュメント（このコースのスケジューラは diffusers と同じ形です）、Andrej Karpathy の
# nanoGPT と *Let's build GPT*、そして各レッスンで引用した論文。
#
