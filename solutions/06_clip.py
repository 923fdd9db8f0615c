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
#     lesson: 06_clip
#     title:
#       en: 'CLIP: text and images in one space'
#       ja: "CLIP：テキストと画像を同じ空\
#         間へ"
# ---

# %% [markdown] tags=["en"]
# # 06 · CLIP: text and images in one space (slides 45–46)
#
# > **Slide 46:** 「テキストと画像のペアを大量に学習して、画像とテキストを同一の空間に埋め込む」 —
# > *learn from a huge number of text–image pairs, and embed images and text into one and the same space.*
#
# Stable Diffusion draws what you type, so somewhere it must know that the words 「赤い丸」 and a picture of a red
# circle are about the same thing. That knowledge comes from **CLIP** (OpenAI, 2021): two encoders, one for images and
# one for text, trained together so that a picture and its caption land on nearly the same vector. Slide 45 says the
# text side is 「テキストもまた違う方法でベクトルにする」 — *text, too, becomes a vector, by another route* — and calls
# that vector an **embedding** (埋め込み表現).
#
# **What you will build**
# - Slide 45's text → vector: a caption such as "a large red circle on the left" or 「左に大きな赤い丸」 becomes 64
#   numbers, read by a small Transformer at its end-of-text token; a small CNN does the same for a 32×32 picture.
# - Slide 46's training: cosine similarity, a learned temperature and the **symmetric contrastive loss**, which turn a
#   batch's image–caption similarity matrix from noise into a bright diagonal.
# - **Zero-shot** classification and image search with the trained model, in English and in Japanese — on pictures it
#   never saw, including colour × shape combinations that never appeared in training.
#
# Lesson 08 reuses this text encoder, frozen, to read the prompts of a small Stable Diffusion.

# %% [markdown] tags=["ja"]
# # 06 · CLIP：テキストと画像を同じ空間へ（スライド 45–46）
#
# > **スライド 46：** 「テキストと画像のペアを大量に学習して、画像とテキストを同一の空間に埋め込む」
#
# Stable Diffusion は入力した文のとおりに画像を描きます。ということは、どこかで「赤い丸」という言葉と赤い丸の画像が
# 同じものを指していると知っているはずです。その知識は **CLIP**（OpenAI, 2021）から来ています。画像用とテキスト用の
# 2 つのエンコーダを一緒に学習させ、画像とその説明文（キャプション）がほぼ同じベクトルになるようにしたものです。
# スライド 45 はテキスト側について「テキストもまた違う方法でベクトルにする」と言い、そのベクトルを
# **埋め込み表現（embeddings）** と呼んでいます。
#
# **このレッスンで作るもの**
# - スライド 45 の「テキスト → ベクトル」："a large red circle on the left" や「左に大きな赤い丸」が 64 個の数になります。
#   読むのは小さな Transformer で、文末（end-of-text）トークンの位置で読み取ります。32×32 の画像は小さな CNN が同じようにベクトルにします。
# - スライド 46 の学習：コサイン類似度、学習される温度、そして **対称な対照損失（contrastive loss）**。
#   これでバッチの「画像 × キャプション」類似度行列が、ノイズから明るい対角線へと変わります。
# - 学習済みモデルで **ゼロショット** 分類と画像検索。英語でも日本語でも。見たことのない画像、さらには学習中に一度も
#   出てこなかった色 × 形の組み合わせでも試します。
#
# このテキストエンコーダは、レッスン 08 で小さな Stable Diffusion のプロンプトを読むのに（凍結したまま）使います。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains CLIP here, from nothing, in about a minute, and you
# watch it learn; `MODEL = "shipped"` loads the one trained for the course instead (what the grader uses).
# `SIZE = "full"` trains a bigger CLIP (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、CLIP をここでゼロから 1 分ほどで学習させ、学習していく様子を
# 見られます。`MODEL = "shipped"` なら、コース用に学習済みのモデルを読み込みます（採点もこちらを使います）。
# `SIZE = "full"` にすると、大きめの CLIP を学習します（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" picks a CUDA GPU, then Apple MPS, then the CPU.
# en: MODEL: "train" trains CLIP here (about a minute); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is the small CLIP; "full" trains a bigger one from scratch (GPU). SEED: any whole number.
# ja: DEVICE は "auto" なら CUDA の GPU、なければ Apple の MPS、それもなければ CPU を使います。
# ja: MODEL は "train" ならここで CLIP を学習（1 分ほど）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら小さな CLIP、"full" なら大きめのものをゼロから学習します（GPU 向け）。SEED は好きな整数。
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

from shikumi import clip, data, get_device, plot, seed_everything, zoo
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.train import TrainConfig, train

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. Pairs of pictures and captions
#
# CLIP learned from 400 million image–text pairs collected from the web (Radford et al., 2021, *Learning Transferable
# Visual Models From Natural Language Supervision*). Ours are generated: a coloured shape on a black
# 32×32 picture, with its caption in English *and* in Japanese. There are 5 colours × 4 shapes × 2 sizes × 5 positions
# = 200 different captions, and every picture is drawn with a little random jitter, so no two are identical.

# %% [markdown] tags=["ja"]
# ## 1. 画像とキャプションのペア
#
# CLIP は Web から集めた 4 億組の画像とテキストのペアで学習しました（Radford ほか 2021『Learning Transferable Visual Models From
# Natural Language Supervision』）。私たちのペアは生成したものです。黒い 32×32 の画像に色つきの図形が 1 つ、
# そのキャプションが英語 *と* 日本語で付いています。5 色 × 4 形 × 2 サイズ × 5 位置 = 200 通りのキャプションがあり、
# 画像は少しずつ位置や大きさをずらして描くので、まったく同じ画像は 2 枚とありません。

# %%
images, specs, captions_en, captions_ja = data.shapes(8, "train", seed=SEED)
titles = [f"{en.replace(' on ', chr(10) + 'on ').replace(' at ', chr(10) + 'at ').replace(' in ', chr(10) + 'in ')}"
          f"\n{ja}" for en, ja in zip(captions_en, captions_ja)]
plot.image_grid(images, titles, ncols=4, size=2.2)
plt.show()

# %% [markdown] tags=["en"]
# Four colour × shape pairs never appear in training; below is one picture of each. At the end we ask whether the
# model can still name them — having seen red and triangles, but never a red triangle.

# %% [markdown] tags=["ja"]
# 次の 4 つの「色 × 形」の組み合わせは、学習に一度も出てきません。下にそれぞれ 1 枚ずつ描きました。最後に、赤いものも三角も見たことはあるけれど
# 赤い三角は見たことがないモデルが、それでも正しく言い当てられるかを確かめます。

# %%
held_out = [data.Shape(color, shape, "large", "middle") for color, shape in sorted(data.HELD_OUT)]
held_images = torch.stack([torch.from_numpy(data.draw_shape(s)) for s in held_out])   # (4, 3, 32, 32)
title = tr("held out of training: one picture of each pair", "学習から外した組み合わせ（各 1 枚）")
names = [f"{s.color} {s.shape}\n{data.COLORS[s.color][1]}{data.SHAPES[s.shape]}" for s in held_out]   # en: both languages  # ja: 両方の言語
plot.image_grid(held_images, names, ncols=4, size=2.2, title=title)
plt.show()

# %% [markdown] tags=["en"]
# ## 2. Text → vector (slide 45)
#
# Slide 45: 「テキストをベクトル化したものは、埋め込み表現(embeddings)と言われたりする」 — *text turned into a vector is
# called an embedding* — and it draws "Unicorn Cat" → (2.1, 0.3, 0.8, 1.2, 3.2). 「一般に、高次元のものを低次元で表現したものを
# 「埋め込み」という」: in general, representing something high-dimensional with few numbers is called *embedding* it.
#
# First the words become token ids. English and Japanese share **one vocabulary**, so one text encoder reads both
# (Japanese is split into words with janome, as in lesson 01):

# %% [markdown] tags=["ja"]
# ## 2. テキスト → ベクトル（スライド 45）
#
# スライド 45：「テキストをベクトル化したものは、埋め込み表現(embeddings)と言われたりする」。図では "Unicorn Cat" → (2.1, 0.3, 0.8, 1.2, 3.2)。
# 「一般に、高次元のものを低次元で表現したものを「埋め込み」という」。
#
# まず単語をトークン ID にします。英語と日本語は **1 つの語彙** を共有するので、1 つのテキストエンコーダで両方を読めます
# （日本語はレッスン 01 と同じく janome で単語に区切ります）：

# %% [markdown] tags=["en"]
# Now CLIP learns, right here, from random numbers: about a minute on two CPU cores (Muon, the optimiser lesson 04
# used). Watch the loss fall and, every few seconds, how many pictures it has never seen — colour × shape pairs left
# out of training — it matches to their caption. **Stop** keeps the model as it is. (With `MODEL = "shipped"` the
# lesson loads the one `shikumi train clip_shapes` made for the course, its SHA-256 checked first.)

# %% [markdown] tags=["ja"]
# では CLIP を、でたらめな数から、ここで学習させます。CPU 2 コアで 1 分ほどです（レッスン 04 と同じ Muon を使います）。
# 損失が下がっていくところと、数秒ごとに、学習で一度も見せていない画像（学習から外した色 × 形の組み合わせ）のうち何枚を
# 正しいキャプションに結びつけられるかを見てください。**止める** を押すと、その時点のモデルで続きます
# （`MODEL = "shipped"` なら、`shikumi train clip_shapes` でコース用に学習したものを、SHA-256 を確かめてから読み込みます）。

# %%
if MODEL == "train" or SIZE == "full":
    mine = Path("my_clip")
    # en: a live loss plot, and every 5 s the zero-shot accuracy on held-out pictures; Stop keeps the model as it is
    # ja: 損失のグラフがその場で伸び、5 秒ごとに評価用画像でのゼロショットの正解率が出ます。「止める」でその時点のモデルを使います
    watch = LiveTraining(sample_fn=zoo.clip_shapes.sampler(lang=tr("en", "ja")), every_s=5,
                         stop_after_s=TRAIN_SECONDS)
    zoo.clip_shapes.train_clip_shapes(mine, size="live" if SIZE == "quick" else SIZE, device=DEVICE, live=watch)
    model, tokenizer = zoo.clip_shapes.load_clip(device, directory=mine)
    history = zoo.history("clip_shapes", mine)
else:
    model, tokenizer = zoo.clip_shapes.load_clip(device)          # en: the shipped checkpoint, SHA-256 verified  # ja: 同梱のチェックポイント（SHA-256 を確認済み）
    history = zoo.history("clip_shapes")
config = model.config
print(config)
n_params, vocab = model.num_parameters(), tokenizer.vocab_size
message = tr(f"{n_params:,} parameters; one vocabulary of {vocab} words for both languages",
             f"パラメータ {n_params:,} 個。語彙は英語と日本語で共通の {vocab} 語")
print(message)

# %%
captions = ["a large red circle on the left", "左に大きな赤い丸"]
ids = clip.tokenize(captions, tokenizer, config.context_length)   # en: (2, 16): <s> words </s> <pad>...  # ja: (2, 16)：<s> 単語 </s> <pad>...
words_label, ids_label = tr("words:", "単語："), tr("ids:  ", "ID：  ")
for caption, row in zip(captions, ids.tolist()):
    print(f"{caption}\n  {words_label} {tokenizer.decode(row, skip_special=False)}\n  {ids_label} {row}")

# %% [markdown] tags=["en"]
# The text encoder is lesson 04's GPT, made small: token embeddings plus position embeddings, then
# `n_layer` pre-LN **Blocks** (the very `shikumi.gpt.Block` class) with a **causal mask**. It gives one vector per token:
# (B, T, d_model).
#
# A caption needs *one* vector. Because of the causal mask, each token has seen only itself and the tokens before it:
# only the **last** token, the end-of-text `</s>`, has seen the whole caption. So CLIP reads the caption there.
# Captions are padded on the right to the same length, so the last real token is *not* always at position T − 1.

# %% [markdown] tags=["ja"]
# テキストエンコーダは、レッスン 04 の GPT を小さくしたものです。トークン埋め込みと位置埋め込みを足し、
# `n_layer` 個の pre-LN **Block**（`shikumi.gpt.Block` そのもの）に **因果マスク（causal mask）** 付きで通します。
# 出てくるのはトークンごとに 1 本のベクトル：(B, T, d_model) です。
#
# キャプションには *1 本* のベクトルが必要です。因果マスクのため、各トークンは自分とそれより前しか見ていません。
# キャプション全体を見ているのは **最後の** トークン、文末の `</s>` だけです。だから CLIP はそこで読み取ります。
# キャプションは右側をパディングして長さをそろえているので、最後の本物のトークンがいつも位置 T − 1 にあるとは限りません。

# %%
with torch.no_grad():
    hidden = model.text_hidden_states(ids.to(device))
message = tr(f"one vector per token: {tuple(hidden.shape)}   (captions, tokens, d_model)",
             f"トークンごとに 1 本のベクトル: {tuple(hidden.shape)}（キャプション, トークン, d_model）")
print(message)


# %% [markdown] tags=["en"]
# ### Exercise 6.1 — the vector at the end-of-text token (2 points)

# %% [markdown] tags=["ja"]
# ### 演習 6.1 — 文末トークンのベクトル（2 点）

# %% nbgrader={"grade": false, "grade_id": "pool_at_eot", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pool_at_eot(hidden, tokens, pad_id=0):
    """out[b] = hidden[b, last_b]   (slide 45)

    en: Each caption's vector at its end-of-text token: last_b is its last token that is not padding.
    ja: 各キャプションの、文末トークンの位置のベクトル。last_b は、パディングではない最後のトークンの位置。
    en: hidden: (B, T, d) float tensor, one vector per token; tokens: (B, T) long tensor of ids, padded on the right
    en: with pad_id. Returns a (B, d) tensor: row b is hidden[b, last_b], last_b = (number of real tokens in row b) - 1.
    en: Edge case: a caption that fills all T positions (no padding) is read at position T - 1.
    en: Hint: (tokens != pad_id).sum(dim=1) counts the real tokens; index with hidden[torch.arange(B), last].
    ja: hidden: (B, T, d) の float テンソル（トークンごとに 1 本のベクトル）。tokens: (B, T) の long テンソル（右側を pad_id で
    ja: パディング）。戻り値: (B, d) のテンソル。b 行目は hidden[b, last_b]、last_b = (b 行目の本物のトークン数) - 1。
    ja: 特別な場合: T 個すべてが本物のトークン（パディングなし）のキャプションは位置 T - 1 で読む。
    ja: ヒント: (tokens != pad_id).sum(dim=1) で本物のトークン数を数え、hidden[torch.arange(B), last] で取り出す。
    """
    ### BEGIN SOLUTION
    last = (tokens != pad_id).sum(dim=1) - 1
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "pool_at_eot_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
toy_hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)   # (B=2, T=4, d=3)
padded = torch.tensor([[1, 5, 2, 0],     # en: <s> word </s> <pad>: read at position 2  # ja: <s> 単語 </s> <pad>：位置 2 で読む
                       [1, 2, 0, 0]])    # en: <s> </s> <pad> <pad>: read at position 1  # ja: <s> </s> <pad> <pad>：位置 1 で読む
got = pool_at_eot(toy_hidden, padded)
what, hint = tr("pool_at_eot(...).shape", "pool_at_eot(...) の形"), tr("One vector of d numbers per caption.", "キャプション 1 つにつき、d 個の数のベクトルが 1 本です。")
expect(tuple(got.shape), (2, 3), what, hint)
what = tr("rows taken at </s>", "</s> の位置で取り出した行")
hint = tr("Row 0 has 3 real tokens, so its end-of-text token is at position 3 - 1 = 2; row 1's at 2 - 1 = 1.",
          "0 行目の本物のトークンは 3 個なので、文末トークンは位置 3 - 1 = 2 にあります。1 行目は 2 - 1 = 1 です。")
off_by_one = tr("Off by one: you read each caption at position n, the first padding; its last real token is at n - 1.",
                "1 つずれています。位置 n（最初のパディング）を読んでいます。最後の本物のトークンは位置 n - 1 にあります。")
last = tr("That is the last position, which is padding here: read each caption at its own last real token.",
          "それは最後の位置で、ここではパディングです。キャプションごとに、その最後の本物のトークンを読みます。")
expect_close(got, torch.stack([toy_hidden[0, 2], toy_hidden[1, 1]]), what, hint,
             mistakes=[(torch.stack([toy_hidden[0, 3], toy_hidden[1, 2]]), off_by_one), (toy_hidden[:, -1], last)])
what = tr("a caption with no padding, read at T - 1 = 3", "パディングのないキャプション（位置 T - 1 = 3 で読む）")
hint = tr("With no padding, n = T real tokens: the end-of-text token is at T - 1 = 3, the last position.",
          "パディングがなければ本物のトークンは n = T 個で、文末トークンは最後の位置 T - 1 = 3 にあります。")
full = torch.tensor([[1, 6, 7, 2], [1, 5, 2, 0]])
expect_close(pool_at_eot(toy_hidden, full), torch.stack([toy_hidden[0, 3], toy_hidden[1, 2]]), what, hint)
what, hint = tr("pool_at_eot with pad_id=9", "pad_id=9 での pool_at_eot"), tr("Count the tokens that are not pad_id.", "pad_id ではないトークンを数えます（0 と決めつけないこと）。")
expect_close(pool_at_eot(toy_hidden, torch.tensor([[1, 5, 9, 9], [1, 2, 9, 9]]), pad_id=9), toy_hidden[:, 1], what, hint)
with torch.no_grad():   # en: the model does exactly this, then projects into the shared space  # ja: モデルはまさにこれをして、共通の空間に写す
    mine = model.text_encoder.text_projection(pool_at_eot(hidden, ids.to(device)))
what = tr("your pooling inside the real text encoder", "本物のテキストエンコーダに、あなたのプーリングを組み込んだ結果")
expect_close(mine, model.encode_text(ids.to(device), normalize=False), what)
passed("Exercise 6.1")

# %% [markdown] tags=["en"]
# And here is slide 45 for our captions: each one, English and Japanese, is now a vector of 64 numbers (we print the
# first five, like the slide), and the cosine similarity (section 3) says how alike the two are.

# %% [markdown] tags=["ja"]
# これが私たちのキャプションにとってのスライド 45 です。英語も日本語も、それぞれ 64 個の数のベクトルになりました
# （スライドにならって最初の 5 個を表示します）。2 本がどれだけ似ているかは、コサイン類似度（3 節）で測れます。

# %%
with torch.no_grad():
    text_vectors = model.encode_text(ids.to(device), normalize=False)   # (2, embed_dim)
shape_label = tr("shape:", "形：")
print(shape_label, tuple(text_vectors.shape))
for caption, v in zip(captions, text_vectors.tolist()):
    print(f"{caption}\n  → ({', '.join(f'{x:.1f}' for x in v[:5])}, …)")
cosine = F.cosine_similarity(text_vectors[0], text_vectors[1], dim=0).item()
message = tr(f"cosine similarity of the two: {cosine:.3f}", f"2 本のコサイン類似度: {cosine:.3f}")
print(message)

# %% [markdown] tags=["en"]
# Nearly the same vector for the English caption and its Japanese translation — yet the model was never shown the two
# side by side. Section 5 explains how that happened.

# %% [markdown] tags=["ja"]
# 英語のキャプションとその日本語訳が、ほぼ同じベクトルになっています。モデルはこの 2 つを並べて見せられたことが一度もないのに、です。
# どうしてそうなるのかは 5 節で説明します。

# %% [markdown] tags=["en"]
# ## 3. Picture → vector, in the same space
#
# The image side is a small **CNN** (a convolutional network): three stages that each halve the picture
# (32 → 16 → 8 → 4 pixels) while looking for edges, then corners and colours, then whole shapes; a linear layer then
# maps the result to 64 numbers — the same width as the text vectors, because they must live in **one space**.

# %% [markdown] tags=["ja"]
# ## 3. 画像 → ベクトル、同じ空間へ
#
# 画像側は小さな **CNN**（畳み込みニューラルネットワーク）です。3 段階で画像を半分ずつ小さくしながら（32 → 16 → 8 → 4 ピクセル）、
# 輪郭、角や色、形全体を順に探します。最後に線形層で 64 個の数に写します。テキストのベクトルと同じ幅なのは、**同じ空間** に
# 住まなければならないからです。

# %%
print(model.image_encoder)
with torch.no_grad():
    image_vectors = model.encode_image(images[:2].to(device), normalize=False)   # (2, embed_dim)
shape_label = tr("shape:", "形：")
print(shape_label, tuple(image_vectors.shape))


# %% [markdown] tags=["en"]
# To compare a picture with a caption, CLIP uses the **cosine similarity**: the cosine of the angle between the two
# vectors, 1 when they point the same way, 0 when unrelated, −1 when opposite. It ignores their lengths. The easiest
# way to compute it: scale each vector to length 1 first (**L2 normalisation**), then take the dot product.
#
# ### Exercise 6.2 — L2 normalisation (2 points)

# %% [markdown] tags=["ja"]
# 画像とキャプションを比べるのに、CLIP は **コサイン類似度** を使います。2 本のベクトルのなす角のコサインで、同じ向きなら 1、
# 無関係なら 0、逆向きなら −1。長さは無視します。計算するには、まず各ベクトルの長さを 1 にそろえ（**L2 正規化**）、
# それから内積をとるのがいちばん簡単です。
#
# ### 演習 6.2 — L2 正規化（2 点）

# %% nbgrader={"grade": false, "grade_id": "l2_normalize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def l2_normalize(x):
    """x / ||x||,  ||x|| = sqrt(x_1² + ... + x_d²)

    en: Scale every vector (the last axis) to length 1.
    ja: 各ベクトル（最後の軸）の長さを 1 にそろえる。
    en: x: a float tensor (..., d), e.g. (B, d) — B vectors of d numbers. Returns a tensor of the same shape whose
    en: vectors along the last axis have length 1 (same direction as before). Write it yourself, without F.normalize.
    en: Edge case: a single vector of shape (d,) works the same way.
    en: Hint: x.norm(dim=-1, keepdim=True) gives each vector's length, shaped (..., 1) so the division broadcasts.
    ja: x: float テンソル (..., d)。たとえば (B, d) は d 個の数からなるベクトルが B 本。戻り値は同じ形で、最後の軸に沿った
    ja: 各ベクトルの長さが 1（向きはそのまま）。F.normalize を使わずに自分で書くこと。
    ja: 特別な場合: 形 (d,) のベクトル 1 本でも同じように動く。
    ja: ヒント: x.norm(dim=-1, keepdim=True) が各ベクトルの長さ。形が (..., 1) なので割り算がブロードキャストされる。
    """
    ### BEGIN SOLUTION
    return x / x.norm(dim=-1, keepdim=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "l2_normalize_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
v = l2_normalize(torch.tensor([[3.0, 4.0], [0.0, -2.0]]))
what = "l2_normalize([[3, 4], [0, -2]])"
hint = tr("[3, 4] has length 5, so it becomes [0.6, 0.8]. Divide each row by its own length (dim=-1).",
          "[3, 4] の長さは 5 なので [0.6, 0.8] になります。各行を、その行自身の長さで割ります（dim=-1）。")
columns = tr("You divided each column by its length (dim=0): divide each row, one vector, by its own length (dim=-1).",
             "各列をその長さで割っています（dim=0）。各行（ベクトル 1 本）を、その行自身の長さで割ります（dim=-1）。")
whole = tr("You divided by the length of the whole table: divide each row by its own length, x.norm(dim=-1, keepdim=True).",
           "表全体の長さで割っています。各行を、その行自身の長さ x.norm(dim=-1, keepdim=True) で割ります。")
squared = tr("That divides by the squared length: x.norm() is already the square root of the sum of squares.",
             "それは長さの 2 乗で割っています。x.norm() はすでに 2 乗和の平方根です。")
expect_close(v, torch.tensor([[0.6, 0.8], [0.0, -1.0]]), what, hint,
             mistakes=[(torch.tensor([[1.0, 4 / 20 ** 0.5], [0.0, -2 / 20 ** 0.5]]), columns),
                       (torch.tensor([[3.0, 4.0], [0.0, -2.0]]) / 29 ** 0.5, whole),
                       (torch.tensor([[0.12, 0.16], [0.0, -0.5]]), squared)])
what = tr("lengths after normalising two image vectors", "画像のベクトル 2 本を正規化した後の長さ")
expect_close(l2_normalize(image_vectors).norm(dim=-1), torch.ones(2), what)
what, hint = tr("l2_normalize of one vector (d,)", "ベクトル 1 本 (d,) の l2_normalize"), tr("Use dim=-1 so a single vector works too.", "dim=-1 を使えば、ベクトル 1 本でも動きます。")
expect_close(l2_normalize(torch.tensor([0.0, 5.0, 0.0])), torch.tensor([0.0, 1.0, 0.0]), what, hint)
passed("Exercise 6.2")


# %% [markdown] tags=["en"]
# ### Exercise 6.3 — the similarity matrix (2 points)
#
# For a batch of N pictures and M captions, CLIP computes every pair at once: an N × M matrix of cosine similarities,
# multiplied by a number called `logit_scale` (its inverse is the **temperature**; more on it in section 4).
# Row i holds picture i against every caption.

# %% [markdown] tags=["ja"]
# ### 演習 6.3 — 類似度行列（2 点）
#
# N 枚の画像と M 個のキャプションのバッチについて、CLIP はすべての組を一度に計算します。コサイン類似度の N × M 行列に、
# `logit_scale` という数を掛けたものです（その逆数が **温度**。4 節で説明します）。i 行目は、画像 i とすべてのキャプションの組です。

# %% nbgrader={"grade": false, "grade_id": "similarity_matrix", "locked": false, "schema_version": 3, "solution": true, "task": false}
def similarity_matrix(image_features, text_features, logit_scale):
    """logits[i, j] = logit_scale × cos(image i, text j)   (slide 46)

    en: image_features: (N, E) float tensor; text_features: (M, E) float tensor; neither is normalised yet.
    en: logit_scale: a float or a scalar tensor, the multiplier itself (already exp of the learned number).
    en: Returns an (N, M) tensor: rows are images, columns are texts.
    en: Hint: normalise both with your l2_normalize, then one matrix product with text_features transposed (.T).
    ja: image_features: (N, E) の float テンソル。text_features: (M, E) の float テンソル。どちらもまだ正規化されていない。
    ja: logit_scale: float またはスカラーのテンソル。掛ける数そのもの（学習される数の exp をとった後の値）。
    ja: 戻り値: (N, M) のテンソル。行が画像、列がテキスト。
    ja: ヒント: 両方を自分の l2_normalize で正規化してから、text_features の転置（.T）と 1 回の行列積。
    """
    ### BEGIN SOLUTION
    return logit_scale * l2_normalize(image_features) @ l2_normalize(text_features).T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "similarity_matrix_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
a = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
t = torch.tensor([[5.0, 0.0], [1.0, 1.0]])
s = similarity_matrix(a, t, 10.0)
what, hint = tr("similarity_matrix(3 images, 2 texts).shape", "similarity_matrix(画像 3 枚, テキスト 2 個) の形"), tr("Rows are images, columns texts.", "行が画像、列がテキストです。")
expect(tuple(s.shape), (3, 2), what, hint)
r = 2 ** -0.5
what, hint = tr("similarity_matrix values", "similarity_matrix の値"), tr("Cosines (normalise first), times logit_scale.", "コサイン（先に正規化します）に logit_scale を掛けます。")
no_scale = tr("Those are the cosines alone: multiply them by logit_scale.", "それはコサインだけです。logit_scale を掛けます。")
raw = tr("Those are raw dot products: normalise both sides with l2_normalize first, so only the directions count.",
         "それは生の内積です。先に両方を l2_normalize で正規化して、向きだけで比べます。")
expect_close(s, 10.0 * torch.tensor([[1.0, r], [0.0, r], [r, 1.0]]), what, hint,
             mistakes=[(torch.tensor([[1.0, r], [0.0, r], [r, 1.0]]), no_scale), (10.0 * a @ t.T, raw)])
passed("Exercise 6.3")

# %% [markdown] tags=["en"]
# Let us look at a batch of 8 pictures and their 8 captions through a CLIP that has **not been trained** (random
# weights). Each row is a picture, each column a caption; the right caption of every picture is on the **diagonal**.

# %% [markdown] tags=["ja"]
# まだ **学習していない**（重みがランダムな）CLIP で、8 枚の画像とその 8 個のキャプションを見てみましょう。
# 各行が画像、各列がキャプションです。どの画像も、正しいキャプションは **対角線** 上にあります。

# %%
batch_images, batch_specs, batch_en, batch_ja = data.shapes(64, "train", seed=SEED + 2)
pick = []                                            # en: the first 8 pictures with 8 different captions  # ja: キャプションがすべて違う、最初の 8 枚
for i, spec in enumerate(batch_specs):
    if len(pick) < 8 and all(batch_specs[j] != spec for j in pick):
        pick.append(i)
batch_images = batch_images[pick]
batch_text = [batch_en[i] if k % 2 == 0 else batch_ja[i] for k, i in enumerate(pick)]   # en: both languages  # ja: 両方の言語
batch_ids = clip.tokenize(batch_text, tokenizer, config.context_length)

seed_everything(SEED)
untrained = clip.CLIP(config).to(device).eval()

def show_matrix(clip_model, title):
    """
    en: The batch's cosine similarities (logit_scale = 1) as CLIP draws them: pictures × captions.
    ja: CLIP が計算するとおりのバッチのコサイン類似度（logit_scale = 1）：画像 × キャプション。
    """
    with torch.no_grad():
        img = clip_model.encode_image(batch_images.to(device), normalize=False)
        txt = clip_model.encode_text(batch_ids.to(device), normalize=False)
        cosines = similarity_matrix(img, txt, 1.0).cpu()
    plot.image_text_matrix(cosines, batch_images, batch_text, title=title)
    plt.show()
    return cosines

title = tr("untrained: cosine similarity", "学習前：コサイン類似度")
before = show_matrix(untrained, title)


# %% [markdown] tags=["en"]
# Nothing to see: the untrained image encoder gives every picture nearly the same vector, so every row is the same and
# no caption prefers its own picture. Training must make the diagonal red (similar) and the rest blue.

# %% [markdown] tags=["ja"]
# 何も読み取れません。学習前の画像エンコーダはどの画像にもほぼ同じベクトルを返すので、どの行も同じになり、
# どのキャプションも自分の画像を選べません。学習で、対角線を赤く（似ている）、それ以外を青くしなければなりません。

# %% [markdown] tags=["en"]
# ## 4. Learning from pairs: the contrastive loss (slide 46)
#
# How do we train two encoders to 「同一の空間に埋め込む」 — embed into one space? In a batch of N pairs, every picture
# should be more similar to **its own** caption than to the N − 1 others. That is a classification problem with N
# classes, one per caption, and the right class of picture i is caption i: the diagonal. So:
#
# - **image → text:** take row i of the similarity matrix as the logits of an N-way classification, and the
#   cross-entropy with target i (lesson 04 used the same cross-entropy to predict the next token);
# - **text → image:** the same for column j, the caption choosing among the N pictures;
# - the loss is the **average of the two directions** (that is why it is called *symmetric*).
#
# The other captions in the batch serve as wrong answers ("negatives") for free: no labels needed beyond the pairs.
#
# **The temperature.** Cosines lie between −1 and 1, too close together for a confident softmax. CLIP multiplies them by
# `logit_scale` = exp(t), where t is **learned**, starting at log(1 / 0.07) (scale ≈ 14.3, temperature 0.07) and
# clamped so that the scale never exceeds 100, as in the paper.
#
# ### Exercise 6.4 — the symmetric contrastive loss (2 points)

# %% [markdown] tags=["ja"]
# ## 4. ペアから学ぶ：対照損失（スライド 46）
#
# 2 つのエンコーダを「同一の空間に埋め込む」ように学習させるには？N 組のペアからなるバッチでは、どの画像も、**自分の**
# キャプションとの類似度が残り N − 1 個のキャプションとの類似度より高くあってほしい。これは、キャプション 1 つを 1 クラスとする
# N クラス分類の問題で、画像 i の正解クラスはキャプション i、つまり対角線です。そこで：
#
# - **画像 → テキスト：** 類似度行列の i 行目を N クラス分類のロジットとみなし、正解 i との交差エントロピーをとる
#   （レッスン 04 で次のトークンを予測したのと同じ交差エントロピーです）。
# - **テキスト → 画像：** j 列目についても同じく。キャプションが N 枚の画像から自分の画像を選びます。
# - 損失は **2 方向の平均**（だから *対称* と呼びます）。
#
# バッチ内のほかのキャプションは、タダで手に入る不正解（ネガティブ）です。ペア以外のラベルは要りません。
#
# **温度。** コサインは −1 から 1 の間の値しかとらないので、そのまま softmax にかけても差が小さすぎて、はっきりした確率になりません。CLIP はそれに `logit_scale` = exp(t) を
# 掛けます。t は **学習される** 数で、log(1 / 0.07)（スケール ≈ 14.3、温度 0.07）から始まり、論文と同じくスケールが 100 を
# 超えないように上限で切られます（clamp）。
#
# ### 演習 6.4 — 対称な対照損失（2 点）

# %% nbgrader={"grade": false, "grade_id": "clip_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def clip_loss(image_features, text_features, logit_scale):
    """(CE(image → text) + CE(text → image)) / 2   (slide 46)

    en: CLIP's symmetric contrastive loss.
    ja: CLIP の対称な対照損失。
    en: image_features, text_features: (B, E) float tensors, row i of each from the same pair (not normalised yet).
    en: logit_scale: a float or a scalar tensor (the multiplier). Returns a scalar tensor (shape ()).
    en: logits = similarity_matrix(...) is (B, B); the targets are the diagonal, torch.arange(B), in both directions:
    en: F.cross_entropy(logits, targets) for the rows and F.cross_entropy(logits.T, targets) for the columns.
    en: Edge case: B = 1 gives 0 (one pair, nothing to confuse it with).
    en: Hint: F.cross_entropy already averages over the batch.
    ja: image_features, text_features: (B, E) の float テンソル。それぞれの i 行目が同じペア（まだ正規化されていない）。
    ja: logit_scale: float またはスカラーのテンソル（掛ける数）。戻り値: スカラーのテンソル（形 ()）。
    ja: logits = similarity_matrix(...) は (B, B)。正解は両方向とも対角線 torch.arange(B)。
    ja: 行には F.cross_entropy(logits, targets)、列には F.cross_entropy(logits.T, targets)。
    ja: 特別な場合: B = 1 なら 0（ペアが 1 組しかなく、取り違えようがない）。
    ja: ヒント: F.cross_entropy はバッチの平均まで計算してくれる。
    """
    ### BEGIN SOLUTION
    logits = similarity_matrix(image_features, text_features, logit_scale)
    targets = torch.arange(logits.size(0), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "clip_loss_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
eye = torch.eye(2)
# en: matching pairs, scale 1: logits [[1, 0], [0, 1]]; each row's cross-entropy is log(1 + e^-1)
# ja: 正しいペア、スケール 1：ロジットは [[1, 0], [0, 1]]。各行の交差エントロピーは log(1 + e^-1)
what = tr("clip_loss, pairs that match", "clip_loss（ペアが正しく並んでいる）")
hint = tr("Average F.cross_entropy over the rows and over the columns, targets torch.arange(B).",
          "行方向と列方向の F.cross_entropy を平均します。正解はどちらも torch.arange(B) です。")
expect(clip_loss(eye, eye, 1.0).item(), math.log(1 + math.exp(-1)), what, hint, rel=1e-5)
what = tr("clip_loss, pairs swapped", "clip_loss（ペアを入れ替えた）")
expect(clip_loss(eye, eye.flip(0), 1.0).item(), math.log(1 + math.e), what, rel=1e-5)
# en: an asymmetric case: image 1 points between both texts, so rows and columns give different losses
# en: (logits [[1, 0], [r, r]] with r = 1/√2; rows: log(1 + e^-1), log 2; columns: log(1 + e^(r-1)), log(1 + e^-r))
# ja: 非対称な場合：画像 1 が 2 つのテキストの中間を向くので、行と列で損失が変わる
# ja: （ロジット [[1, 0], [r, r]]、r = 1/√2。行：log(1 + e^-1)、log 2。列：log(1 + e^(r-1))、log(1 + e^-r)）
r = 1 / math.sqrt(2)
both_ways = (math.log(1 + math.exp(-1)) + math.log(2) + math.log(1 + math.exp(r - 1)) + math.log(1 + math.exp(-r))) / 4
what = tr("clip_loss, an image between two texts", "clip_loss（2 つのテキストの中間を向く画像）")
hint = tr("Both directions count: the rows (image → text) and the columns (text → image) differ here.",
          "両方向を数えます。ここでは行（画像 → テキスト）と列（テキスト → 画像）の損失が違います。")
expect(clip_loss(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), eye, 1.0).item(), both_ways, what, hint, rel=1e-5)
what, hint = tr("the loss's shape", "損失の形"), tr("Return one number: a tensor of shape ().", "数を 1 つ、つまり形 () のテンソルを返します。")
expect(tuple(clip_loss(torch.randn(5, 8), torch.randn(5, 8), 14.3).shape), (), what, hint)
passed("Exercise 6.4")

# %% [markdown] tags=["en"]
# Before any training the loss should be close to log(B): the model is guessing among B captions.

# %% [markdown] tags=["ja"]
# 学習前の損失は log(B) に近いはずです。モデルは B 個のキャプションから当てずっぽうに選んでいるからです。

# %%
get_batch = zoo.clip_shapes.batch_sampler(tokenizer, batch_size=64, n_pool=1600, seed=SEED)   # en: no caption twice in a batch  # ja: 1 つのバッチに同じキャプションは 2 度出ない
with torch.no_grad():
    first = clip_loss(*untrained(*(t.to(device) for t in get_batch("val"))))
message = tr(f"untrained loss {first.item():.3f}   log(64) = {math.log(64):.3f}",
             f"学習前の損失 {first.item():.3f}   log(64) = {math.log(64):.3f}")
print(message)

# %% [markdown] tags=["en"]
# Now a short training run with **your** `clip_loss`, on the shared training loop (AdamW, warmup, a progress bar).
# Each batch holds 64 pictures, each with its English or its Japanese caption, and no caption twice. A few seconds of
# CPU are enough to see the diagonal appear; the shipped model trained 1500 steps of 128 pairs.

# %% [markdown] tags=["ja"]
# では **あなたの** `clip_loss` で、共通の学習ループ（AdamW、ウォームアップ、プログレスバー）を使って短く学習させます。
# 各バッチは 64 枚の画像で、それぞれ英語か日本語のキャプションが付き、同じキャプションは 2 度出てきません。対角線が現れるのを見るには
# CPU で数秒で十分です。同梱のモデルは 128 組のバッチで 1500 ステップ学習しました。

# %%
steps = 60 if SIZE == "quick" else 400
short_run = train(untrained, get_batch, lambda m, batch: clip_loss(*m(*batch)),
                  TrainConfig(max_steps=steps, lr=2e-3, warmup_steps=10, eval_every=0, eval_steps=2,
                              device=DEVICE, cpu_threads=1))
seconds, first_loss, last_loss = short_run.seconds, short_run.train_loss[0], short_run.eval_loss[-1]
message = tr(f"{steps} steps in {seconds:.0f} s: loss {first_loss:.2f} → {last_loss:.2f}",
             f"{steps} ステップ（{seconds:.0f} 秒）: 損失 {first_loss:.2f} → {last_loss:.2f}")
print(message)
title = tr(f"after {steps} steps: cosine similarity", f"{steps} ステップ学習後：コサイン類似度")
after_short = show_matrix(untrained.eval(), title)

# %% [markdown] tags=["en"]
# After a few seconds the diagonal already stands out, but many other cells are red too: the model has picked up
# some attributes and not yet the others. Which two pictures does it still mix up most? The cell below finds the
# reddest cell off the diagonal and says what the picture and that other caption have in common:

# %% [markdown] tags=["ja"]
# 数秒で対角線はもう目立っていますが、ほかにも赤いマスがたくさんあります。モデルは属性の一部を覚え始めたところで、残りはまだです。
# いちばん取り違えやすいのはどの組でしょう？ 次のセルは、対角線の外でいちばん赤いマスを探し、その画像と相手のキャプションの共通点を表示します：

# %%
off_diagonal = after_short.clone()
off_diagonal.fill_diagonal_(float("-inf"))                  # en: leave out each picture's own caption  # ja: 各画像の自分のキャプションは除く
i, j = divmod(int(off_diagonal.argmax()), off_diagonal.size(1))
picture, caption = batch_specs[pick[i]], batch_specs[pick[j]]
lang, attributes = tr("en", "ja"), {"color": tr("colour", "色"), "shape": tr("shape", "形"), "size": tr("size", "大きさ"), "position": tr("place", "位置")}
shared = [word for name, word in attributes.items() if getattr(picture, name) == getattr(caption, name)]
mixup = tr("picture {i} ({p}) against caption {j} ({c}): cosine {x:.2f}; against its own caption: {own:.2f}",
           "画像 {i}（{p}）とキャプション {j}（{c}）：コサイン {x:.2f}。自分のキャプションとは {own:.2f}")
common, comma, nothing = tr("what they share: {shared}", "共通点：{shared}"), tr(", ", "、"), tr("nothing", "なし")
print(mixup.format(i=i + 1, p=picture.caption(lang), j=j + 1, c=batch_text[j], x=after_short[i, j], own=after_short[i, i]))
print(common.format(shared=comma.join(shared) or nothing))

# %% [markdown] tags=["en"]
# Pictures that differ in most attributes can still look alike to the model after so short a training: it has
# learned the attributes they share first. Here is the model of section 2 (trained in this lesson, or the shipped
# one with `MODEL = "shipped"`), trained for longer:

# %% [markdown] tags=["ja"]
# ほとんどの属性が違う 2 枚でも、これほど短い学習のあとでは、モデルにはまだ似て見えることがあります。共通する属性から先に覚えたのです。
# もっと長く学習させた 2 節のモデル（このレッスンで学習したもの。`MODEL = "shipped"` なら同梱のもの）がこちら：

# %%
title = tr("trained CLIP: cosine similarity", "学習済み CLIP：コサイン類似度")
after = show_matrix(model, title)
series, title, xlabel, ylabel = tr("training loss", "学習の損失"), tr("training the CLIP of section 2", "2 節の CLIP の学習"), tr("step", "ステップ"), tr("contrastive loss", "対照損失")
plot.lines(history["step"], {series: history["train_loss"]}, title=title, xlabel=xlabel, ylabel=ylabel, logy=True)
plt.show()
scale = model.scale().item()
message = tr(f"learned logit_scale = {scale:.1f} (temperature {1 / scale:.3f}); it started at {1 / 0.07:.1f}",
             f"学習された logit_scale = {scale:.1f}（温度 {1 / scale:.3f}）。最初は {1 / 0.07:.1f} でした")
print(message)


# %% [markdown] tags=["en"]
# A red diagonal. Look off the diagonal too: a picture is somewhat similar to captions that share its colour or
# its shape — the space has structure. The temperature was learned as well: the model chose a larger scale (a
# sharper softmax) than the paper's starting point.

# %% [markdown] tags=["ja"]
# 赤い対角線です。対角線の外も見てください。画像は、色や形が同じキャプションとはそこそこ似ています。空間に構造ができているのです。
# 温度も学習されました。モデルは論文の出発点より大きなスケール（より鋭い softmax）を選びました。

# %% [markdown] tags=["en"]
# ## 5. Zero-shot classification
#
# CLIP was never trained to classify, yet it can: write one **prompt** per class, encode them, and give each picture the
# class whose prompt is the most similar. "Zero-shot" means no training for this particular task.
#
# **Our task.** The classes are all 200 captions (every colour × shape × size × position), one prompt per class: the
# caption itself, in English or in Japanese. A picture is right when its most similar caption is its own (all four
# attributes right; we also count each attribute alone). Chance is 1 in 200 (0.5 %). We test on pictures **never seen
# in training**, and on the four **held-out colour × shape pairs**, whose captions were never seen either: a red
# triangle can only be recognised by composing "red" and "triangle", learned apart.
#
# ### Exercise 6.5 — zero-shot classification (2 points)

# %% [markdown] tags=["ja"]
# ## 5. ゼロショット分類
#
# CLIP は分類するように学習したわけではありませんが、分類できます。クラスごとに **プロンプト**（説明文）を 1 つ書いてエンコードし、
# 各画像にはいちばん似ているプロンプトのクラスを割り当てます。「ゼロショット」とは、その課題のための学習をまったくしないという意味です。
#
# **ここでの課題。** クラスは 200 通りのキャプションすべて（色 × 形 × サイズ × 位置）で、プロンプトはクラスごとに 1 つ、
# キャプションそのもの（英語または日本語）です。いちばん似ているキャプションが自分のキャプションなら正解（4 つの属性すべてが正しい。
# 属性ごとの正解率も数えます）。当てずっぽうなら 200 分の 1（0.5 %）。テストするのは **学習中に一度も見ていない** 画像と、
# **学習から外した色 × 形の 4 組** の画像です。後者はキャプションも一度も見ていません。赤い三角を見分けるには、別々に覚えた
# 「赤い」と「三角」を組み合わせるしかないのです。
#
# ### 演習 6.5 — ゼロショット分類（2 点）

# %% nbgrader={"grade": false, "grade_id": "zero_shot_classify", "locked": false, "schema_version": 3, "solution": true, "task": false}
def zero_shot_classify(image_features, prompt_features):
    """class_i = argmax_c cos(image i, prompt c)

    en: The class of each image: the index of its most similar prompt, by cosine similarity.
    ja: 各画像のクラス：コサイン類似度がいちばん高いプロンプトの番号。
    en: image_features: (N, E) float tensor; prompt_features: (C, E) float tensor, one prompt per class.
    en: Returns a (N,) long tensor of class indices in 0 .. C-1.
    en: Edge case: with a single prompt (C = 1) every image gets class 0.
    en: Hint: your similarity_matrix (any positive scale) and .argmax over the prompts' axis, dim=1.
    ja: image_features: (N, E) の float テンソル。prompt_features: (C, E) の float テンソル（クラスごとに 1 つのプロンプト）。
    ja: 戻り値: 0 .. C-1 のクラス番号を並べた (N,) の long テンソル。
    ja: 特別な場合: プロンプトが 1 つだけ（C = 1）なら、すべての画像がクラス 0。
    ja: ヒント: 自分の similarity_matrix（スケールは正なら何でもよい）と、プロンプトの軸 dim=1 に沿った .argmax。
    """
    ### BEGIN SOLUTION
    return similarity_matrix(image_features, prompt_features, 1.0).argmax(dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "zero_shot_classify_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
imgs = torch.tensor([[1.0, 0.1], [0.1, 1.0], [1.0, 1.2]])
prompts = torch.tensor([[10.0, 0.0], [0.0, 0.5], [1.0, 1.0]])   # en: very different lengths  # ja: 長さがまったく違う
what = tr("zero_shot_classify(3 images, 3 prompts)", "zero_shot_classify(画像 3 枚, プロンプト 3 個)")
hint = tr("Compare directions (cosine), not raw dot products: a long prompt vector must not win just for its length.",
          "生の内積ではなく、向き（コサイン）で比べます。長いプロンプトのベクトルが、長いというだけで勝ってはいけません。")
expect(zero_shot_classify(imgs, prompts).tolist(), [0, 1, 2], what, hint)
what = tr("with one prompt", "プロンプトが 1 つのとき")
expect(zero_shot_classify(imgs, prompts[:1]).tolist(), [0, 0, 0], what)
passed("Exercise 6.5")

# %% [markdown] tags=["en"]
# Now on the real thing: 1000 new pictures of the training pairs and 1000 of the held-out pairs, each classified among
# all 200 captions, first with English prompts, then with Japanese ones.

# %% [markdown] tags=["ja"]
# では本番です。学習したペアの新しい画像 1000 枚と、学習から外したペアの画像 1000 枚を、200 通りすべてのキャプションの中から分類します。
# まず英語のプロンプトで、次に日本語のプロンプトで。

# %%
classes = data.all_shapes("all")                     # en: 200 classes: every caption  # ja: 200 クラス：すべてのキャプション
tests = {"new pictures": data.shapes(1000, "train", seed=SEED + 2026),
         "held-out pairs": data.shapes(1000, "heldout", seed=SEED + 2027)}
with torch.no_grad():
    prompts = {lang: model.encode_text(clip.tokenize([c.caption(lang) for c in classes], tokenizer,
                                                     config.context_length).to(device)) for lang in ("en", "ja")}
    pictures = {name: model.encode_image(t[0].to(device)) for name, t in tests.items()}

predictions, table = {}, {}
for name, (_, test_specs, _, _) in tests.items():
    for lang in ("en", "ja"):
        picks = zero_shot_classify(pictures[name], prompts[lang]).tolist()
        predictions[name, lang] = [classes[p] for p in picks]
        table[name, lang] = {a: sum(getattr(classes[p], a) == getattr(s, a) for p, s in zip(picks, test_specs)) / 1000
                             for a in ("color", "shape", "size", "position")}
        table[name, lang]["exact"] = sum(classes[p] == s for p, s in zip(picks, test_specs)) / 1000
test_names = {"new pictures": tr("new pictures", "学習したペアの新しい画像"), "held-out pairs": tr("held-out pairs", "学習から外したペアの画像")}
header = tr(f"{'':26}{'exact':>8}{'colour':>8}{'shape':>8}{'size':>8}{'position':>9}",
            "                                     完全一致      色      形  サイズ     位置")
print(header)
for (name, lang), acc in table.items():
    row = f"{test_names[name] + ', ' + lang:26}"
    print(row + "".join(f"{acc[a]:8.1%}" for a in ("exact", "color", "shape", "size")) + f"{acc['position']:9.1%}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
for k, (key, acc) in enumerate(table.items()):
    ax.bar(k, acc["exact"], color="#4C72B0" if key[0] == "new pictures" else "#DD8452")
    ax.text(k, acc["exact"] + 0.01, f"{acc['exact']:.1%}", ha="center")
ylabel, title = tr("exact accuracy", "完全一致の正解率"), tr(f"zero-shot: the right caption out of 200 (chance: {1 / 200:.1%})", f"ゼロショット：200 通りのキャプションから正解を選ぶ（当てずっぽうなら {1 / 200:.1%}）")
ticks = {"new pictures": tr("new pictures", "学習したペアの\n新しい画像"), "held-out pairs": tr("held-out pairs", "学習から外した\nペアの画像")}
ax.set_xticks(range(len(table)), [f"{ticks[name]}\n{lang}" for name, lang in table])
ax.set(ylim=(0, 1.1), ylabel=ylabel, title=title)
plt.show()

# %% [markdown] tags=["en"]
# Some held-out pictures with the caption the model picked among the Japanese prompts (written here in English);
# ○ is right, × a mistake:

# %% [markdown] tags=["ja"]
# 学習から外したペアの画像と、モデルが選んだキャプション（日本語プロンプト）。○ は正解、× は間違いです：

# %%
held_images, held_specs = tests["held-out pairs"][0], tests["held-out pairs"][1]
wrong = [i for i, (p, s) in enumerate(zip(predictions["held-out pairs", "ja"], held_specs)) if p != s]
shown = [i for i in range(16) if i not in wrong][:16 - min(4, len(wrong))] + wrong[:4]
lang = tr("en", "ja")

def label(i):
    picked = predictions["held-out pairs", "ja"][i]
    caption = picked.caption(lang).removeprefix("a ").replace(" on ", "\non ").replace(" at ", "\nat ")
    return ("○ " if picked == held_specs[i] else "× ") + caption.replace(" in ", "\nin ")

plot.image_grid(held_images[shown], [label(i) for i in shown], ncols=8, size=1.6)
plt.show()

# %% [markdown] tags=["en"]
# The model never saw a red triangle or a caption with 「赤い三角」, yet it finds the right one among 200 most of the
# time: the text encoder composes words it learned apart, and the image encoder does the same with colour and shape.
# Its mistakes (×) are telling: most of them trade the unseen pair for one it has seen — a red triangle read as a
# purple one, a yellow circle as a yellow square. Training data leaves its mark.
#
# **English and Japanese meet in one space.** No English caption was ever paired with its Japanese translation; each was
# only paired with pictures. Still, because both had to land near the same pictures, they land near each other:

# %% [markdown] tags=["ja"]
# モデルは赤い三角も「赤い三角」というキャプションも見たことがないのに、200 個の中からたいてい正しいものを見つけます。
# テキストエンコーダは別々に覚えた単語を組み合わせ、画像エンコーダは色と形について同じことをしているのです。
# 間違い（×）も示唆的です。たいていは、見たことのない組み合わせを見たことのある組み合わせにすり替えています。赤い三角を紫の三角、
# 黄色い丸を黄色い四角と読むように。学習データの偏りが、そのまま間違い方に表れるのです。
#
# **英語と日本語が同じ空間で出会う。** 英語のキャプションが日本語訳とペアにされたことは一度もありません。どちらも画像とペアにされただけです。
# それでも、同じ画像の近くに置かれなければならなかったので、結果としてお互いの近くに置かれます：

# %%
sample = [classes[i] for i in (0, 13, 57, 101, 150, 199)]
with torch.no_grad():
    en_vec = model.encode_text(clip.tokenize([c.caption("en") for c in sample], tokenizer).to(device))
    ja_vec = model.encode_text(clip.tokenize([c.caption("ja") for c in sample], tokenizer).to(device))
title = tr("English × Japanese captions: cosine similarity", "英語 × 日本語のキャプション：コサイン類似度")
plot.heatmap((en_vec @ ja_vec.T).cpu(), [c.caption("en") for c in sample], [c.caption("ja") for c in sample],
             title=title)
plt.xticks(rotation=30, ha="left")
plt.show()

# %% [markdown] tags=["en"]
# ## 6. Search pictures with words
#
# Image search is zero-shot classification turned around: encode a gallery of pictures once, encode what you type, and
# show the pictures whose vectors are the most similar. Type in English or Japanese — try 「右に小さな黄色い丸」 (a held-out
# pair), "a large blue cross at the top", or a word the model does not know (it becomes `<unk>`).

# %% [markdown] tags=["ja"]
# ## 6. 言葉で画像を探す
#
# 画像検索は、ゼロショット分類を裏返したものです。ギャラリーの画像を一度だけエンコードしておき、入力した文をエンコードして、
# ベクトルがいちばん似ている画像を表示します。英語でも日本語でもどうぞ。「右に小さな黄色い丸」（学習から外した組み合わせ）、
# "a large blue cross at the top"、あるいはモデルの知らない単語（`<unk>` になります）も試してみましょう。

# %%
from shikumi.widgets import image_search_explorer

gallery = torch.cat([tests["new pictures"][0][:240], tests["held-out pairs"][0][:60]])   # en: 300 pictures  # ja: 画像 300 枚
with torch.no_grad():
    gallery_vectors = model.encode_image(gallery.to(device))

unknown_note = tr("words the model does not know (read as <unk>):", "モデルの知らない単語（<unk> として読みます）:")

def search(text, k=8):
    ids = clip.tokenize([text], tokenizer, config.context_length)
    unknown = clip.unknown_words(text, tokenizer.stoi)     # spaces, 。, 大きい, 〜色 are read as the captions' words
    if unknown:
        print(unknown_note, unknown)
    with torch.no_grad():
        scores = similarity_matrix(model.encode_text(ids.to(device)), gallery_vectors, 1.0)[0]
    best = scores.topk(k).indices.cpu()
    return gallery[best], [f"{scores[i]:.2f}" for i in best]

labels = {"caption": tr("caption", "キャプション")}
image_search_explorer(search, text="右に小さな黄色い丸", labels=labels)

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 45:** text → vector. A caption, English or Japanese, becomes 64 numbers: token ids, a small GPT-style
#   Transformer with a causal mask, and the vector at the end-of-text token (your `pool_at_eot`). A CNN does the same for
#   pictures.
# - **Slide 46:** 「テキストと画像のペアを大量に学習して、画像とテキストを同一の空間に埋め込む」. Your `l2_normalize`,
#   `similarity_matrix` and symmetric `clip_loss`, with a learned temperature, turned a noisy similarity matrix into a
#   bright diagonal.
# - What the shared space buys: zero-shot classification (your `zero_shot_classify`) on pictures never seen, even
#   colour × shape pairs never seen; English and Japanese captions that meet without ever being paired; search by words.
# - Next: lesson 07 learns to remove noise from pictures, and lesson 08 steers that with this text encoder — slide 42's
#   「入力テキストもエンコードします」.
#
# **To discuss:** our CLIP learned from 200 different captions; the real one from 400 million image–text pairs
# from the web (Radford et al., 2021). What might it learn from the web that we would not want it to — and how would that show up in the
# pictures Stable Diffusion draws?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 45：** テキスト → ベクトル。英語でも日本語でも、キャプションは 64 個の数になります。トークン ID、因果マスク付きの
#   小さな GPT 型 Transformer、そして文末トークンのベクトル（あなたの `pool_at_eot`）。画像には CNN が同じことをします。
# - **スライド 46：** 「テキストと画像のペアを大量に学習して、画像とテキストを同一の空間に埋め込む」。あなたの `l2_normalize`、
#   `similarity_matrix`、対称な `clip_loss` と学習される温度が、ノイズだらけの類似度行列を明るい対角線に変えました。
# - 同じ空間に置くと何が得られるか：見たことのない画像、さらには見たことのない色 × 形の組み合わせでのゼロショット分類
#   （あなたの `zero_shot_classify`）。一度もペアにされていないのに出会う英語と日本語のキャプション。言葉による画像検索。
# - 次は：レッスン 07 で画像からノイズを取り除くことを学び、レッスン 08 でそれをこのテキストエンコーダで操ります。
#   スライド 42 の「③ 入力テキストもエンコードします」です。
#
# **話し合ってみよう：** 私たちの CLIP は 200 通りのキャプションから学びました。本物の CLIP は Web から集めた 4 億組の画像とテキストのペアから
# 学んでいます（Radford ほか 2021）。Web から学ぶと、学んでほしくないことまで学んでしまうとしたら、それは何でしょう？そしてそれは、Stable Diffusion が
# 描く画像にどう現れるでしょうか？
