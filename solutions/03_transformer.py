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
#     lesson: 03_transformer
#     title:
#       en: "The Transformer: an encoder–decoder that translates"
#       ja: "Transformer：翻訳するエンコーダ\
#         ・デコーダ"
# ---

# %% [markdown] tags=["en"]
# # 03 · The Transformer: an encoder–decoder that translates (slides 19–20, 26–31, 35–36)
#
# > **Slide 28:** エンコーダ reads 「私は家を建てた」, デコーダ writes *"I built a house"*.
#
# Slide 16 calls the Transformer 「Attention のみに基づいた seq2seq 伝達モデル」 — *a sequence-to-sequence model built
# on attention alone* — and slide 18 adds 「入力seqから出力seqを予測するモデル」: it predicts an output sequence from an
# input sequence. It comes from the paper *Attention Is All You Need* (Google, 2017, slide 26). In this lesson you put
# one together from lesson 02's attention, and watch a trained one translate Japanese into English.
#
# **What you will build**
# - Slide 28's two towers: the sinusoidal **positional encoding**, an **encoder layer**, and a **decoder layer** whose
#   cross-attention reads the encoder — all from `shikumi.attention.MultiHeadAttention`, the course's version of
#   the `MultiHeadSelfAttention` you wrote in lesson 02.
# - Slide 30's loop: 「いままで生成した文章を入れて次の一単語を出す」 — *feed in everything written so far, get the next
#   word* — as **greedy decoding**, and its training-time twin, **teacher forcing**.
# - A Japanese → English translator (shipped; a minute of CPU training) that translates sentences it has never seen,
#   cross-attention maps in which you can watch the verb jump from the end of the Japanese sentence to second
#   place in the English one, and
#   slide 19's twist: the same model, trained on chat instead, answers 「なんか喋って」 instead of translating it.

# %% [markdown] tags=["ja"]
# # 03 · Transformer：翻訳するエンコーダ・デコーダ（スライド 19–20, 26–31, 35–36）
#
# > **スライド 28：** エンコーダが「私は家を建てた」を読み、デコーダが *"I built a house"* を書く。
#
# スライド 16 は Transformer を「Attention のみに基づいた seq2seq 伝達モデル」と呼び、スライド 18 は
# 「入力seqから出力seqを予測するモデル」と付け加えます。元になったのは論文 *Attention Is All You Need*（Google, 2017、スライド 26）。
# このレッスンでは、レッスン 02 の Attention から Transformer を組み立て、学習済みのモデルが日本語を英語に訳す様子を観察します。
#
# **このレッスンで作るもの**
# - スライド 28 の 2 つの塔：正弦波の **位置エンコーディング（Positional Encoding）**、**エンコーダ層**、
#   そしてエンコーダを読む Cross-Attention をもつ **デコーダ層**。どれも、レッスン 02 であなたが書いた `MultiHeadSelfAttention` の
#   コース版 `shikumi.attention.MultiHeadAttention` から作ります。
# - スライド 30 のループ「いままで生成した文章を入れて次の一単語を出す」を **貪欲デコーディング** として書き、
#   学習のときにそれと対になる **teacher forcing** も作ります。
# - 日本語 → 英語の翻訳モデル（同梱済み。CPU で 1 分の学習）。見たことのない文も訳せること、日本語では文末にある動詞が、英訳では
#   主語のすぐあとに来る様子が Cross-Attention の図に現れること、そしてスライド 19 のオチ：同じモデルをチャットで学習させると
#   「なんか喋って」を訳さずに答えること。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains the translator here, from nothing, in well under a
# minute, and you watch it learn; `MODEL = "shipped"` loads the one trained for the course instead (what the grader
# uses). `SIZE = "full"` trains a bigger translator (meant for a GPU; on a laptop CPU it takes long).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、翻訳モデルをここでゼロから 1 分足らずで学習させ、学習していく様子を
# 見られます。`MODEL = "shipped"` なら、コース用に学習済みのモデルを読み込みます（採点もこちらを使います）。
# `SIZE = "full"` にすると、大きめの翻訳モデルを学習します（GPU 向け。ノート PC の CPU では時間がかかります）。

# %% tags=["parameters"]
# en: DEVICE: "auto" picks a CUDA GPU, then Apple MPS, then the CPU.
# en: MODEL: "train" trains the translator here (under a minute); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is the small translator; "full" trains a bigger one from scratch (GPU). SEED: any whole number.
# ja: DEVICE は "auto" なら CUDA の GPU、なければ Apple の MPS、それもなければ CPU を使います。
# ja: MODEL は "train" ならここで翻訳モデルを学習（1 分足らず）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら小さな翻訳モデル、"full" なら大きめのものをゼロから学習します（GPU 向け）。SEED は好きな整数。
DEVICE = "auto"
SIZE = "quick"
SEED = 0
MODEL = "train"
TRAIN_SECONDS = None

# %%
import dataclasses
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import nn

from shikumi import get_device, plot, seed_everything, transformer, translation, zoo
from shikumi.attention import MultiHeadAttention, causal_mask, padding_mask
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.train import TrainConfig
from shikumi.transformer import Transformer

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. A model that turns one sentence into another (slides 18–20, 26)
#
# We start at the end: a translator, trained right here from random numbers on made-up Japanese–English sentence
# pairs (under a minute on two CPU cores). Watch the loss fall, and every few seconds its translation of
# 「私は家を建てた」: from nonsense to "i built a house". **Stop** keeps the model as it is. (With `MODEL = "shipped"`
# the lesson loads the one `shikumi train translator` made for the course, its SHA-256 checked first.)

# %% [markdown] tags=["ja"]
# ## 1. ある文を別の文に変えるモデル（スライド 18–20, 26）
#
# まずゴールから：翻訳モデルを、でたらめな数から、ここで学習させます。使うのはコードで作った日本語と英語の文のペア
# （CPU 2 コアで 1 分足らず）。損失が下がっていくところと、数秒ごとに「私は家を建てた」の訳が、でたらめから
# "i built a house" に変わっていくところを見てください。**止める** を押すと、その時点のモデルで続きます
# （`MODEL = "shipped"` なら、`shikumi train translator` でコース用に学習したものを、SHA-256 を確かめてから読み込みます）。

# %%
if MODEL == "train" or SIZE == "full":
    mine = Path("my_translator")
    # en: a live loss plot, and every 5 s the model's translation of two sentences; Stop keeps the model as it is
    # ja: 損失のグラフがその場で伸び、5 秒ごとに 2 つの文の訳が出ます。「止める」を押すと、その時点のモデルを使います
    watch = LiveTraining(sample_fn=zoo.translator.sampler(), every_s=5, stop_after_s=TRAIN_SECONDS)
    zoo.translator.train_translator(mine, size=SIZE, device=DEVICE, live=watch)
    model, src_tok, tgt_tok = zoo.translator.load_translator(device, directory=mine)
    history = zoo.history("translator", mine)
else:
    model, src_tok, tgt_tok = zoo.translator.load_translator(device)   # en: the shipped checkpoint, SHA-256 verified  # ja: 同梱のチェックポイント（SHA-256 を確認済み）
    history = zoo.history("translator")
config = model.config
print(config)
sizes = tr("{n:,} parameters; {ja} Japanese words, {en} English words", "パラメータ {n:,} 個、日本語 {ja} 語、英語 {en} 語")
print(sizes.format(n=model.num_parameters(), ja=src_tok.vocab_size, en=tgt_tok.vocab_size))

# %% [markdown] tags=["en"]
# Slide 28's example, 「私は家を建てた」:

# %% [markdown] tags=["ja"]
# スライド 28 の例文「私は家を建てた」を訳してみます：

# %%
print("私は家を建てた →", " ".join(translation.translate(model, src_tok, tgt_tok, "私は家を建てた")))

# %% [markdown] tags=["en"]
# Japanese puts the verb last (私は 家を **建てた**: subject, object, verb); English puts it second (I **built** a house:
# subject, verb, object). So translating is not swapping words one by one: the model has to *reorder* them. How it
# knows which Japanese word to look at while writing each English word is this lesson's story.

# %% [markdown] tags=["ja"]
# 日本語は動詞が最後（私は 家を **建てた**：主語・目的語・動詞）、英語は 2 番目（I **built** a house：主語・動詞・目的語）です。
# つまり翻訳は単語の置き換えではなく、*並べ替え* が必要です。英語の各単語を書くときに、日本語のどの単語を見ればよいのかを
# モデルがどうやって知るのか。それがこのレッスンの物語です。

# %% [markdown] tags=["en"]
# ## 2. The data: sentence pairs (slide 36)
#
# Slide 36: the original Transformer learned English → German from 「450万のEnglish - German のセンテンスペア」 — 4.5
# million sentence pairs. Ours come from a small grammar (`shikumi/translation.py`): 10 subjects, 10 verbs in five
# tenses, objects with adjectives, time and place phrases. Each word is one token, as in lesson 01 (slide 35 skips
# BPE tokenisation as 「目的から逸れる」, *off the point*; lesson 09 comes back to it).

# %% [markdown] tags=["ja"]
# ## 2. データ：文のペア（スライド 36）
#
# スライド 36：元祖 Transformer は英語 → ドイツ語の翻訳を「450万のEnglish - German のセンテンスペア」で学習しました。
# 私たちのペアは小さな文法（`shikumi/translation.py`）から作ります：主語 10 個、5 つの時制をもつ動詞 10 個、形容詞つきの目的語、
# 時や場所の句。レッスン 01 と同じく 1 単語が 1 トークンです（スライド 35 は BPE によるトークナイズを「目的から逸れるので割愛」
# しています。BPE にはレッスン 09 で戻ってきます）。

# %%
import random

rng = random.Random(SEED)
for _ in range(6):
    ja, en = translation.sample_pair(rng)
    print(f"{' '.join(ja):<34} → {' '.join(en)}")

# %% [markdown] tags=["en"]
# To test whether the model *translates* rather than *remembers*, some subject–verb–object combinations never appear
# in training: the **held-out** sentences are made only from those. 「私は家を建てた」 is one of them — the translation
# you saw above is of a combination the model had never seen.

# %% [markdown] tags=["ja"]
# モデルが *覚えている* のではなく *訳している* のかを確かめるため、いくつかの「主語・動詞・目的語」の組み合わせは学習に一度も
# 出てきません。**評価用** の文（held-out）は、その組み合わせだけで作ります。「私は家を建てた」もその 1 つ。
# さっきの翻訳は、モデルが一度も見たことのない組み合わせだったのです。

# %%
combinations = tr("{n} subject–verb–object combinations, {held} held out, e.g.:",
                  "主語・動詞・目的語の組み合わせ {n} 個のうち、{held} 個を評価用に取っておく。たとえば：")
print(combinations.format(n=len(translation.TRIPLES), held=len(translation.HELDOUT_TRIPLES)))
print(sorted(translation.HELDOUT_TRIPLES)[:6])
held_out = tr("(私, 建てる, 家) held out:", "(私, 建てる, 家) は評価用：")
print(held_out, ("私", "建てる", "家") in translation.HELDOUT_TRIPLES)

# %% [markdown] tags=["en"]
# ## 3. Slide 28's picture, and where the words' order comes from
#
# Slide 28 in one diagram (×N: the paper stacks 6 layers; our translator has 2):
#
# ```
#  encoder / エンコーダ                          decoder / デコーダ
#  私 は 家 を 建てた  (翻訳前の文章)              <s> i built a   (今までの出力: the output so far)
#         |                                             |
#   embedding + Positional Encoding               embedding + Positional Encoding
#         |                                             |
#  +------v----------------+                    +-------v---------------------------+
#  | Multi-Head Attention  |                    | Masked Multi-Head Attention       |
#  | FFN                   |  xN                | Multi-Head Attention  <-- memory  |  xN
#  +------+----------------+                    | FFN                               |
#         |                                     +-------+---------------------------+
#         +------------- memory ---------------------^  |
#                                                       v  Linear: a score per English word
#                                                    house  (次に来そうな単語: the likely next word)
# ```
#
# Every box labelled *Multi-Head Attention* is the course's `shikumi.attention.MultiHeadAttention`: your lesson 02
# `MultiHeadSelfAttention`, with one addition — its keys and values may come from another sentence (`context`),
# which is all cross-attention needs. Here are the parts of our trained
# model and their sizes:
#
# *An embedding is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#embedding).*

# %% [markdown] tags=["ja"]
# ## 3. スライド 28 の図と、語順の情報の出どころ
#
# スライド 28 を 1 枚の図にすると（×N：論文は 6 層、私たちの翻訳モデルは 2 層）：
#
# ```
#  encoder / エンコーダ                          decoder / デコーダ
#  私 は 家 を 建てた  (翻訳前の文章)              <s> i built a   (今までの出力)
#         |                                             |
#   embedding + Positional Encoding               embedding + Positional Encoding
#         |                                             |
#  +------v----------------+                    +-------v---------------------------+
#  | Multi-Head Attention  |                    | Masked Multi-Head Attention       |
#  | FFN                   |  xN                | Multi-Head Attention  <-- memory  |  xN
#  +------+----------------+                    | FFN                               |
#         |                                     +-------+---------------------------+
#         +------------- memory ---------------------^  |
#                                                       v  Linear：英単語ごとのスコア
#                                                    house  (次に来そうな単語)
# ```
#
# *Multi-Head Attention* と書かれた箱はすべて、コースの `shikumi.attention.MultiHeadAttention` です。レッスン 02 であなたが書いた
# `MultiHeadSelfAttention` に 1 つだけ機能を足したもので、キーとバリューを別の文（`context`）から作れます。
# Cross-Attention に必要なのはそれだけです。学習済みモデルの部品とその大きさ：

# %%
part_line = tr("{name:10} {n:>8,} parameters   {kind}", "{name:10} パラメータ {n:>8,} 個   {kind}")
for name, part in model.named_children():
    print(part_line.format(name=name, n=sum(p.numel() for p in part.parameters()), kind=type(part).__name__))

# %% [markdown] tags=["en"]
# ### Attention alone does not see word order
#
# Slide 35 skips positional encoding; we cannot, because attention by itself is blind to order. Feed an encoder layer
# the words of 「私は家を建てた」 *without* positions, then the same words shuffled: every word comes out exactly the
# same, only shuffled along. 「私は家を建てた」 and 「家を私は建てた」 would mean the same thing to it.

# %% [markdown] tags=["ja"]
# ### Attention だけでは語順がわからない
#
# スライド 35 は Positional Encoding を割愛していますが、私たちは飛ばせません。Attention はそれだけでは語順が見えないからです。
# エンコーダ層に「私は家を建てた」の単語を位置情報 *なし* で入れ、次に同じ単語を並べ替えて入れてみます。
# どの単語もまったく同じ出力になり、並びが入れ替わるだけ。「私は家を建てた」と「家を私は建てた」の区別がつかないのです。

# %%
words = ["私", "は", "家", "を", "建てた"]
ids = torch.tensor([src_tok.encode(words)], device=device)            # (1, 5)
shuffle = torch.tensor([2, 3, 0, 1, 4], device=device)                 # 家 を 私 は 建てた
with torch.no_grad():
    x = model.src_embed(ids)                                           # en: (1, 5, d_model): words, no positions  # ja: (1, 5, d_model)：単語だけで、位置はなし
    out = model.encoder[0](x)
    out_shuffled = model.encoder[0](x[:, shuffle])
same = tr("same vectors, just shuffled:", "同じベクトルが並べ替わっただけ：")
print(same, torch.allclose(out[:, shuffle], out_shuffled, atol=1e-5))


# %% [markdown] tags=["en"]
# The fix (slide 28: 「位置情報をもった表現」, *a representation that carries the position*) is to add to each word
# vector a pattern that is different for every position. The paper uses waves of many wavelengths:
#
#     PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
#     PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))
#
# Column pairs (2i, 2i+1) share one angle; the first columns change fast with the position, the last ones slowly —
# like the hands of a clock. Nothing is learned: it is a fixed table, added to the embeddings.
#
# ### Exercise 3.1 — sinusoidal positional encoding (2 points)

# %% [markdown] tags=["ja"]
# 対策は（スライド 28：「位置情報をもった表現」）、位置ごとに異なるパターンを各単語ベクトルに足すことです。
# 論文はさまざまな波長の波を使います：
#
#     PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
#     PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))
#
# 列のペア (2i, 2i+1) は同じ角度を使います。最初の列は位置とともに速く、最後の列はゆっくり変わります。時計の針のようなものです。
# 学習するものは何もなく、固定の表を埋め込みに足すだけです。
#
# ### 演習 3.1 — 正弦波の位置エンコーディング（2 点）
#
# *埋め込みは、[レッスン 00](00_first_neural_network.ipynb#embedding) で図といっしょに説明しています。*

# %% nbgrader={"grade": false, "grade_id": "positional_encoding", "locked": false, "schema_version": 3, "solution": true, "task": false}
def positional_encoding(T, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i / d_model)),  PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

    en: T: the number of positions (0, 1, ..., T-1); d_model: the vector width, an even number.
    en: Returns a float tensor of shape (T, d_model): row pos is the pattern added to the word at position pos.
    en: Hint: torch.arange(0, d_model, 2) gives the even columns 2i; fill pe[:, 0::2] with sines and pe[:, 1::2]
    en: with cosines of the same angles.
    ja: T: 位置の数（0, 1, ..., T-1）。d_model: ベクトルの幅（偶数）。
    ja: 戻り値: 形 (T, d_model) の float テンソル。pos 行目が、位置 pos の単語に足すパターン。
    ja: ヒント: torch.arange(0, d_model, 2) が偶数列 2i。pe[:, 0::2] に sin を、pe[:, 1::2] に同じ角度の cos を入れる。
    """
    ### BEGIN SOLUTION
    position = torch.arange(T, dtype=torch.float32)[:, None]
    even = torch.arange(0, d_model, 2, dtype=torch.float32)
    angles = position / 10000 ** (even / d_model)
    pe = torch.zeros(T, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "positional_encoding_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
pe = positional_encoding(6, 8)
what, hint = tr("shape of positional_encoding(6, 8)", "positional_encoding(6, 8) の形"), tr("One row per position, one column per dimension.", "位置ごとに 1 行、次元ごとに 1 列です。")
expect(tuple(pe.shape), (6, 8), what, hint)
what, hint = "PE[0]", tr("At position 0 every angle is 0: sin 0 = 0, cos 0 = 1.",
                         "位置 0 では角度がすべて 0 です：sin 0 = 0、cos 0 = 1。")
swapped = tr("sin goes in the even columns (0, 2, …) and cos in the odd ones, not the other way round.",
             "sin と cos が逆です。sin は偶数列（0, 2, …）に、cos は奇数列に入れます。")
halves = tr("sin and cos alternate column by column (pe[:, 0::2] = sin, pe[:, 1::2] = cos), not all sines first.",
            "sin をすべて先に並べずに、sin と cos を 1 列ずつ交互に入れます（pe[:, 0::2] = sin、pe[:, 1::2] = cos）。")
expect(pe[0].tolist(), [0.0, 1.0] * 4, what, hint, mistakes=[([1.0, 0.0] * 4, swapped), ([0.0] * 4 + [1.0] * 4, halves)])
what, hint = "PE[3, 4]", tr("Column 4 = 2i with i = 2: sin(3 / 10000^(4/8)).",
                            "列 4 は 2i（i = 2）なので、sin(3 / 10000^(4/8)) です。")
doubled = tr("That is sin(3 / 10000^(8/8)): torch.arange(0, d_model, 2) already gives 2i, so don't multiply it by 2 again.",
             "それは sin(3 / 10000^(8/8)) です。torch.arange(0, d_model, 2) がすでに 2i なので、さらに 2 を掛けません。")
halved = tr("That is sin(3 / 10000^(2/8)): the exponent is 2i / d_model with 2i = 4 (the column), not i / d_model.",
            "それは sin(3 / 10000^(2/8)) です。指数は 2i / d_model で、2i = 4（列の番号）です。i / d_model ではありません。")
times = tr("That is sin(3 · 10000^(4/8)): divide the position by 10000^(2i / d_model).",
           "それは sin(3 · 10000^(4/8)) です。位置を 10000^(2i / d_model) で割ります。")
expect(float(pe[3, 4]), math.sin(3 / 10000 ** (4 / 8)), what, hint, rel=1e-5,
       mistakes=[(math.cos(3 / 10000 ** (4 / 8)), swapped), (math.sin(3 / 10000 ** (8 / 8)), doubled),
                 (math.sin(3 / 10000 ** (2 / 8)), halved), (math.sin(3 * 10000 ** (4 / 8)), times)])
what, hint = "PE[3, 5]", tr("Column 5 shares column 4's angle, with cos.", "列 5 は列 4 と同じ角度の cos です。")
own_angle = tr("Columns 2i and 2i+1 share one angle: column 5 uses 10000^(4/8), not 10000^(5/8).",
               "列 2i と 2i+1 は同じ角度を使います。列 5 で使うのは 10000^(5/8) ではなく 10000^(4/8) です。")
expect(float(pe[3, 5]), math.cos(3 / 10000 ** (4 / 8)), what, hint, rel=1e-5,
       mistakes=[(math.cos(3 / 10000 ** (5 / 8)), own_angle)])
passed("Exercise 3.1")

# %% [markdown] tags=["en"]
# Each column is a wave over the positions; the first columns oscillate fast, later ones slowly. Together they give
# every position its own fingerprint. The dots are your table's values at the word positions 0, 1, 2, …; the thin
# lines draw the same waves in between (column 0 turns by one radian per position, so its dots alone look jagged):

# %% [markdown] tags=["ja"]
# 各列は位置に沿った波です。最初の列は速く、後ろの列はゆっくり振動します。全部あわせると、位置ごとに固有の「指紋」になります。
# 点は、あなたの表の単語の位置 0, 1, 2, … での値です。細い線は、その間も同じ波を描いたものです（列 0 は 1 位置ごとに 1 ラジアン回るので、点だけだとギザギザに見えます）：

# %%
pe = positional_encoding(config.block_size, config.d_model)          # (block_size, d_model)
positions = torch.arange(config.block_size)
between = torch.linspace(0, config.block_size - 1, 400)               # en: the same waves between the word positions  # ja: 単語の位置の間も、同じ波を描く
column = tr("column {j}", "列 {j}")
title, xlabel, ylabel = tr("positional encoding: a few columns", "位置エンコーディング：いくつかの列"), tr("position in the sentence", "文中の位置"), tr("value", "値")
fig, ax = plt.subplots(figsize=(7, 3.2))
for j in (0, 1, 6, 20):
    frequency = 1 / 10000 ** (2 * (j // 2) / config.d_model)         # en: columns 2i and 2i+1 share one angle  # ja: 列 2i と 2i+1 は同じ角度を使う
    wave = torch.sin if j % 2 == 0 else torch.cos
    (line,) = ax.plot(between, wave(between * frequency), linewidth=1, label=column.format(j=j))
    ax.plot(positions, pe[:, j], "o", markersize=4, color=line.get_color())   # en: your table  # ja: あなたの表
ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))   # en: beside the plot, not on it  # ja: 凡例は図の上ではなく横に
plt.show()


# %% [markdown] tags=["en"]
# ## 4. The encoder layer (slides 28, 31)
#
# One encoder layer does two things to the sentence. First **self-attention** (lesson 02): every word looks at every
# other word and mixes in what matters (slide 28: 「文中での重要度を加味した表現」, *a representation that weighs what
# matters in the sentence*). Then a small **feed-forward network** (FFN: Linear → ReLU → Linear) on each word alone.
# Slide 31: 「Attentionレイヤーを挟ませて、文中の重要度を加味した表現にすることで精度を上げるのがポイント」 — *inserting
# attention layers to get such representations is what makes it accurate.*
#
# Each of the two is wrapped in a **residual connection** (add the input back: the layer only learns a correction)
# and a **LayerNorm** (rescale each word vector to mean 0 and variance 1, then a learned scale and shift). The paper
# normalises *after* the add — "post-LN":
#
#     x = LayerNorm(x + SelfAttention(x))
#     x = LayerNorm(x + FFN(x))
#
# GPT-2 later moved the LayerNorm *before* each sub-layer (slide 14: 「正規化レイヤーの位置変えた」); that is
# `TransformerConfig(prenorm=True)` in the library, and lesson 04.
#
# ### Exercise 3.2 — an encoder layer, post-LN (2 points)
#
# The parts are built for you in `__init__`; write `forward`. Keep the attribute names: the grader (and the
# self-check) load trained weights into your layer by those names.
#
# *ReLU and GELU is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#relu-gelu).*

# %% [markdown] tags=["ja"]
# ## 4. エンコーダ層（スライド 28, 31）
#
# エンコーダ層 1 つは、文に 2 つのことをします。まず **Self-Attention**（レッスン 02）：各単語がほかのすべての単語を見て、
# 重要なものを混ぜ込みます（スライド 28：「文中での重要度を加味した表現」）。次に、各単語に単独で小さな
# **フィードフォワードネットワーク**（FFN：Linear → ReLU → Linear）をかけます。スライド 31：
# 「Attentionレイヤーを挟ませて、文中の重要度を加味した表現にすることで精度を上げるのがポイント」。
#
# どちらも **残差接続**（入力を足し戻す。層は「補正」だけを学べばよい）と **LayerNorm**（各単語ベクトルを平均 0・分散 1 に
# そろえ、学習したスケールとシフトをかける）で包まれています。論文は足したあとに正規化します。「post-LN」と呼ばれます：
#
#     x = LayerNorm(x + SelfAttention(x))
#     x = LayerNorm(x + FFN(x))
#
# のちに GPT-2 は LayerNorm を各サブレイヤーの *前* に移しました（スライド 14：「正規化レイヤーの位置変えた」）。
# ライブラリでは `TransformerConfig(prenorm=True)`、そしてレッスン 04 の話です。
#
# ### 演習 3.2 — エンコーダ層、post-LN（2 点）
#
# 部品は `__init__` で用意してあります。`forward` を書いてください。属性名は変えないこと：採点（とセルフチェック）は、
# その名前で学習済みの重みをあなたの層に読み込みます。
#
# *ReLU と GELU は、[レッスン 00](00_first_neural_network.ipynb#relu-gelu) で図といっしょに説明しています。*

# %% nbgrader={"grade": false, "grade_id": "EncoderLayer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class EncoderLayer(nn.Module):
    """EncoderLayer (slide 28), post-LN:   x = norm1(x + self_attn(x, mask));   x = norm2(x + ff(x))

    en: x: (B, S, d_model) word vectors; mask: (B, 1, 1, S) bool, True for real words, False for padding (or None).
    en: Returns a tensor of the same shape (B, S, d_model).
    en: Hint: self.self_attn(x, mask=mask) is the course's MultiHeadAttention, lesson 02's MultiHeadSelfAttention (queries, keys and values all from x);
    en: the LayerNorm comes AFTER the residual add.
    ja: x: (B, S, d_model) の単語ベクトル。mask: (B, 1, 1, S) の bool。本物の単語は True、パディングは False（または None）。
    ja: 戻り値: 同じ形 (B, S, d_model) のテンソル。
    ja: ヒント: self.self_attn(x, mask=mask) はコースの MultiHeadAttention で、中身はレッスン 02 の MultiHeadSelfAttention（クエリ・キー・バリューはすべて x から）。
    ja: LayerNorm は残差の足し算の「あと」。
    """

    def __init__(self, d_model, n_head, d_ff):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_head)
        self.ff = transformer.FeedForward(d_model, d_ff)      # Linear → ReLU → Linear
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        ### BEGIN SOLUTION
        attended = self.norm1(x + self.self_attn(x, mask=mask))
        return self.norm2(attended + self.ff(attended))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "EncoderLayer_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Your layer, given the trained translator's first encoder layer's weights, must compute exactly what it computes.
# ja: 学習済み翻訳モデルのエンコーダ 1 層目の重みを入れたあなたの層は、その層とまったく同じ計算をするはずです。
sentences = [["私", "は", "家", "を", "建てた"], ["なんか", "喋って"]]
src = translation.make_batch([(s, []) for s in sentences], src_tok, tgt_tok)[0].to(device)   # en: (2, 5), padded  # ja: (2, 5)、パディング済み
mask = padding_mask(src, src_tok.pad_id)                                                     # (2, 1, 1, 5)
mine = EncoderLayer(config.d_model, config.n_head, config.d_ff).to(device)
mine.load_state_dict(model.encoder[0].state_dict())
mine.eval()
with torch.no_grad():
    x = model.embed(model.src_embed, src)                                                    # (2, 5, d_model)
    got, want = mine(x, mask), model.encoder[0](x, mask)
what, hint = tr("output shape", "出力の形"), tr("Return a tensor shaped like x.", "x と同じ形のテンソルを返します。")
expect(tuple(got.shape), tuple(want.shape), what, hint)
what = tr("your EncoderLayer = the trained encoder layer", "あなたの EncoderLayer = 学習済みのエンコーダ層")
hint = tr("Post-LN: add the attention output to x, then norm1; add ff of that, then norm2. Pass mask to self_attn.",
          "post-LN です：x に attention の出力を足してから norm1、その結果に ff の出力を足してから norm2。mask は self_attn に渡します。")
expect_close(got, want, what, hint)
passed("Exercise 3.2")

# %% [markdown] tags=["en"]
# What does the trained encoder's self-attention look at? Each row is one word of 「私は家を建てた」 as a query; the
# columns are the words it attends to (first layer, the heads averaged):

# %% [markdown] tags=["ja"]
# 学習済みエンコーダの Self-Attention は何を見ているのでしょう。各行が「私は家を建てた」のクエリとしての単語、
# 各列が注目先の単語です（1 層目、ヘッドの平均）：

# %%
src = torch.tensor([src_tok.encode(words)], device=device)
with torch.no_grad():
    x = model.embed(model.src_embed, src)
    model.encoder[0].self_attn(x, need_weights=True)
weights = model.encoder[0].self_attn.last_weights[0].mean(dim=0).cpu()     # en: (5, 5): heads averaged  # ja: (5, 5)：ヘッドの平均
title = tr("encoder self-attention (layer 1)", "エンコーダの Self-Attention（1 層目）")
plot.heatmap(weights, words, words, title=title)
plt.show()


# %% [markdown] tags=["en"]
# Unlike the cross-attention of section 8, this picture has no clean grammar to read. Each of the layer's 4 heads puts
# nearly all of a word's attention on one single word (its weights are almost exactly 0 or 1), so the average of the
# heads comes in quarters: 0.25, 0.50, 0.75. Which word each head picks is whatever helped the translation in training,
# not a rule we can name — so do not read too much into this map.

# %% [markdown] tags=["ja"]
# 8 節の Cross-Attention と違って、この図から読み取れるきれいな文法はありません。この層の 4 つのヘッドはどれも、
# 各単語の注目をほぼすべて 1 つの単語だけに向けています（重みはほとんどちょうど 0 か 1）。そのため、ヘッドの平均は
# 0.25、0.50、0.75 と 4 分の 1 刻みになります。各ヘッドがどの単語を選ぶかは、学習中に翻訳の役に立ったかどうかで決まったもので、
# 名前のつけられる規則ではありません。この図を深読みしすぎないようにしましょう。

# %% [markdown] tags=["en"]
# ## 5. The decoder layer: the output so far, plus the encoder (slides 29–30)
#
# Slide 30: 「いままで生成した文章を入れて次の一単語を出す」というデコーダの基本動作に、エンコーダがインプット文の情報を足すイメージ —
# *the decoder's basic job is "take the sentence generated so far, output the next word"; the encoder adds the input
# sentence's information to it.* A decoder layer has three sub-layers, each with its residual add and LayerNorm:
#
# 1. **Causal self-attention** over the English written so far. "Causal": word t may look at words 0…t, never at
#    later ones (`causal_mask`, lesson 02) — they do not exist yet when word t+1 is being chosen.
# 2. **Cross-attention**: the queries come from the decoder, the keys and values from the encoder's output (the
#    `memory`). This is where 「翻訳前の文章」, the sentence being translated, flows in. `src_mask` hides its padding.
# 3. The **FFN**, as in the encoder.
#
# ### Exercise 3.3 — a decoder layer with cross-attention (2 points)

# %% [markdown] tags=["ja"]
# ## 5. デコーダ層：今までの出力 ＋ エンコーダ（スライド 29–30）
#
# スライド 30：「いままで生成した文章を入れて次の一単語を出す」というデコーダの基本動作に、エンコーダがインプット文の情報を足すイメージ。
# デコーダ層には 3 つのサブレイヤーがあり、それぞれ残差の足し算と LayerNorm がつきます：
#
# 1. ここまで書いた英語への **因果的（causal） Self-Attention**。単語 t は 0…t の単語だけを見て、後ろの単語は決して見ません
#    （`causal_mask`、レッスン 02）。単語 t+1 を選ぶ時点では、まだ存在しないからです。
# 2. **Cross-Attention**：クエリはデコーダから、キーとバリューはエンコーダの出力（`memory`）から。ここで「翻訳前の文章」が
#    流れ込みます。`src_mask` はそのパディングを隠します。
# 3. エンコーダと同じ **FFN**。
#
# ### 演習 3.3 — Cross-Attention つきのデコーダ層（2 点）

# %% nbgrader={"grade": false, "grade_id": "DecoderLayer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class DecoderLayer(nn.Module):
    """DecoderLayer (slides 28–30), post-LN:
        x = norm1(x + self_attn(x, causal mask))
        x = norm2(x + cross_attn(x, memory, src_mask))
        x = norm3(x + ff(x))

    en: x: (B, T, d_model) the English so far; memory: (B, S, d_model) the encoder's output;
    en: src_mask: (B, 1, 1, S) bool, False at the source's padding (or None). Returns (B, T, d_model).
    en: Hint: causal_mask(T, x.device) is the (T, T) mask of lesson 02; cross-attention is
    en: self.cross_attn(queries, context, mask=...), with the keys and values taken from the context.
    ja: x: (B, T, d_model) ここまでの英語。memory: (B, S, d_model) エンコーダの出力。
    ja: src_mask: (B, 1, 1, S) の bool。入力文のパディングで False（または None）。戻り値: (B, T, d_model)。
    ja: ヒント: causal_mask(T, x.device) はレッスン 02 の (T, T) マスク。Cross-Attention は
    ja: self.cross_attn(クエリ, context, mask=...) で、キーとバリューは context から取られる。
    """

    def __init__(self, d_model, n_head, d_ff):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_head)
        self.cross_attn = MultiHeadAttention(d_model, n_head)
        self.ff = transformer.FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(self, x, memory, src_mask=None):
        ### BEGIN SOLUTION
        no_future = causal_mask(x.size(1), x.device)
        h = self.norm1(x + self.self_attn(x, mask=no_future))
        h = self.norm2(h + self.cross_attn(h, memory, mask=src_mask))
        return self.norm3(h + self.ff(h))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "DecoderLayer_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
src = torch.tensor([src_tok.encode(["私", "は", "家", "を", "建てた"])], device=device)
dec_in = torch.tensor([tgt_tok.encode(["i", "built", "a", "house"], add_bos=True)], device=device)   # (1, 5)
mine = DecoderLayer(config.d_model, config.n_head, config.d_ff).to(device)
mine.load_state_dict(model.decoder[0].state_dict())
mine.eval()
with torch.no_grad():
    memory, src_mask = model.encode(src), padding_mask(src, src_tok.pad_id)
    y = model.embed(model.tgt_embed, dec_in)                                                # (1, 5, d_model)
    got, want = mine(y, memory, src_mask), model.decoder[0](y, memory, src_mask)
    changed_last = y.clone()
    changed_last[:, -1] = torch.randn_like(changed_last[:, -1])
    got_changed = mine(changed_last, memory, src_mask)
what, hint = tr("output shape", "出力の形"), tr("Return a tensor shaped like x.", "x と同じ形のテンソルを返します。")
expect(tuple(got.shape), tuple(want.shape), what, hint)
what, hint = tr("the earlier positions ignore a change to the last word", "最後の単語を変えても、それより前の位置の出力は変わらない"), tr("Give self_attn the causal mask.", "self_attn に因果マスクを渡します。")
expect_close(got_changed[:, :-1], got[:, :-1], what, hint)
what = tr("your DecoderLayer = the trained decoder layer", "あなたの DecoderLayer = 学習済みのデコーダ層")
hint = tr("Causal self-attention → norm1, cross-attention to memory (mask=src_mask) → norm2, ff → norm3.",
          "因果的 Self-Attention → norm1、memory への Cross-Attention（mask=src_mask）→ norm2、ff → norm3 の順です。")
expect_close(got, want, what, hint)
passed("Exercise 3.3")

# %% [markdown] tags=["en"]
# The trained decoder's causal self-attention on "<s> i built a house": a triangle. No word looks to its right.

# %% [markdown] tags=["ja"]
# 学習済みデコーダの因果的 Self-Attention を "<s> i built a house" で見ると、三角形になります。どの単語も右側を見ません。

# %%
english = ["<s>", "i", "built", "a", "house"]
with torch.no_grad():
    y = model.embed(model.tgt_embed, torch.tensor([tgt_tok.encode(english[1:], add_bos=True)], device=device))
    model.decoder[0].self_attn(y, mask=causal_mask(y.size(1), device), need_weights=True)
title = tr("decoder causal self-attention (layer 1)", "デコーダの因果的 Self-Attention（1 層目）")
plot.heatmap(model.decoder[0].self_attn.last_weights[0].mean(dim=0).cpu(), english, english, title=title)
plt.show()


# %% [markdown] tags=["en"]
# ## 6. How it learns: teacher forcing
#
# At translation time the decoder writes one word per step. Training does not have to wait: we already know the
# whole English sentence, so the decoder reads it all at once, shifted right by one — `<s> i built a house` — and at
# every position must predict the *next* word: `i built a house </s>`. The causal mask makes this honest: position t
# cannot peek at the word it must predict. This is **teacher forcing**: one pass trains every step of the loop.
#
# ### Exercise 3.4 — decoder input and labels (2 points)

# %% [markdown] tags=["ja"]
# ## 6. どうやって学ぶか：teacher forcing
#
# 翻訳のときデコーダは 1 ステップに 1 単語ずつ書きます。でも学習では待つ必要がありません。英文全体がもうわかっているので、
# デコーダは 1 つ右にずらした文 `<s> i built a house` を一度に読み、各位置で *次の* 単語 `i built a house </s>` を予測します。
# 因果マスクのおかげでズルはできません。位置 t は、自分が当てるべき単語を覗けないのです。これが **teacher forcing**：
# 1 回の計算でループの全ステップを学習します。
#
# ### 演習 3.4 — デコーダの入力と正解ラベル（2 点）

# %% nbgrader={"grade": false, "grade_id": "decoder_input_and_labels", "locked": false, "schema_version": 3, "solution": true, "task": false}
def decoder_input_and_labels(target_ids, bos_id, eos_id):
    """
    en: Teacher forcing: what the decoder reads, and the word it must predict at each position.
    ja: teacher forcing：デコーダが読むものと、各位置で予測しなければならない単語。

    en: target_ids: the English sentence as a list of word ids, e.g. [i, built, a, house].
    en: Returns a tuple of two lists of the same length:
    en:   decoder input = [bos_id] + the sentence      e.g. [<s>, i, built, a, house]
    en:   labels        = the sentence + [eos_id]      e.g. [i, built, a, house, </s>]
    en: An empty sentence gives ([bos_id], [eos_id]): the decoder must learn to stop at once.
    ja: target_ids: 英文を単語 ID のリストにしたもの。例 [i, built, a, house]。
    ja: 戻り値: 同じ長さの 2 つのリストのタプル：
    ja:   デコーダの入力 = [bos_id] + 文      例 [<s>, i, built, a, house]
    ja:   正解ラベル     = 文 + [eos_id]      例 [i, built, a, house, </s>]
    ja: 空の文なら ([bos_id], [eos_id])：すぐに止まることを学ぶ。
    """
    ### BEGIN SOLUTION
    sentence = list(target_ids)
    return [bos_id] + sentence, sentence + [eos_id]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "decoder_input_and_labels_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what = "decoder_input_and_labels([7, 8, 9], bos_id=1, eos_id=2)"
hint = tr("The input starts with <s>; the labels are the same words shifted left, ending with </s>.",
          "入力は <s> で始まります。正解ラベルは入力を左に 1 つずらしたもので、最後が </s> です。")
expect(tuple(decoder_input_and_labels([7, 8, 9], 1, 2)), ([1, 7, 8, 9], [7, 8, 9, 2]), what, hint)
what = tr("an empty sentence", "空の文")
expect(tuple(decoder_input_and_labels([], 1, 2)), ([1], [2]), what)
passed("Exercise 3.4")

# %% [markdown] tags=["en"]
# `translation.make_batch` does the same for a whole batch and pads the rows to one length with id 0. Training
# minimises the cross-entropy between the decoder's scores and the labels, ignoring the padding. Before training
# the loss is about ln(vocabulary size) — a uniform guess; after, it is close to 0:
#
# *Cross-entropy is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#cross-entropy).*

# %% [markdown] tags=["ja"]
# `translation.make_batch` は同じことをバッチ全体に対して行い、ID 0 でパディングして行の長さをそろえます。学習では、
# デコーダのスコアと正解ラベルの交差エントロピーを（パディングを除いて）最小化します。学習前の損失は約 ln(語彙数)、
# つまり当てずっぽう。学習後はほぼ 0 です：
#
# *交差エントロピーは、[レッスン 00](00_first_neural_network.ipynb#cross-entropy) で図といっしょに説明しています。*

# %%
pairs = [translation.sample_pair(random.Random(i)) for i in (1, 2)]
src, dec_in, labels = translation.make_batch(pairs, src_tok, tgt_tok)
print("src    ", tuple(src.shape), src.tolist())
print("dec_in ", tuple(dec_in.shape), dec_in.tolist())
print("labels ", tuple(labels.shape), labels.tolist())
untrained = Transformer(config).to(device).eval()
batch = tuple(t.to(device) for t in translation.make_batch(translation.heldout_pairs(64), src_tok, tgt_tok))
losses = tr("loss untrained {before:.3f} (ln {v} = {ln_v:.3f}), trained {after:.5f}",
            "損失：学習前 {before:.3f}（ln {v} = {ln_v:.3f}）、学習後 {after:.5f}")
with torch.no_grad():
    print(losses.format(before=translation.loss_fn(untrained, batch), v=tgt_tok.vocab_size,
                        ln_v=math.log(tgt_tok.vocab_size), after=translation.loss_fn(model, batch)))

# %% [markdown] tags=["en"]
# The translator's training (the one you watched in section 1, or the shipped one with `MODEL = "shipped"`): the
# loss per step on fresh training sentences, and on held-out sentences.

# %% [markdown] tags=["ja"]
# 翻訳モデルの学習の様子（1 節で見守ったモデル。`MODEL = "shipped"` なら同梱のモデル）：新しく作った学習文での各ステップの
# 損失と、評価用の文での損失です。

# %%
trained_on, held_out = tr("training sentences", "学習文"), tr("held-out sentences", "評価用の文")
title, xlabel, ylabel = tr("training the translator ({s:.0f} s)", "翻訳モデルの学習（{s:.0f} 秒）"), tr("step", "ステップ"), tr("cross-entropy", "交差エントロピー")
ax = plot.lines(history["step"], {trained_on: history["train_loss"]})
plot.lines(history["eval_step"], {held_out: history["eval_loss"]}, logy=True, ax=ax, xlabel=xlabel,
           ylabel=ylabel, title=title.format(s=history["train_seconds"]))
plt.show()


# %% [markdown] tags=["en"]
# ## 7. Writing the translation one word at a time (slides 25, 30)
#
# Slide 25 (lesson 01): 「生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」 — greedy: always take
# the most probable next word. Slide 30 adds the decoder's twist: the *whole* output so far goes in each time, and
# the encoder's information is added. We hand you the decoder as a lookup table: `next_scores[prefix]` returns
# the scores of every possible next word after `prefix` (a tuple of ids starting with `<s>`).
#
# ### Exercise 3.5 — greedy decoding (2 points)

# %% [markdown] tags=["ja"]
# ## 7. 1 単語ずつ訳文を書く（スライド 25, 30）
#
# スライド 25（レッスン 01）：「生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」。貪欲法：
# いつも一番確率の高い単語を選ぶ。スライド 30 はデコーダならではの点を加えます：毎回、今までの出力 *全体* を入れ、
# そこにエンコーダの情報が足されるのです。デコーダは引き表の形で渡します：`next_scores[prefix]` は、`prefix`
# （`<s>` で始まる ID のタプル）の次に来うるすべての単語のスコアを返します。
#
# ### 演習 3.5 — 貪欲デコーディング（2 点）

# %% nbgrader={"grade": false, "grade_id": "greedy_decode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def greedy_decode(next_scores, bos_id, eos_id, max_len=20):
    """w_{t+1} = argmax next_scores[(bos_id, w_1, ..., w_t)]   (slides 25, 30)

    en: Greedy decoding: 「いままで生成した文章を入れて次の一単語を出す」, again and again.
    ja: 貪欲デコーディング：「いままで生成した文章を入れて次の一単語を出す」を繰り返す。
    en: next_scores[prefix]: a 1-D tensor, one score per word of the vocabulary, for the word that follows `prefix`,
    en: a tuple of word ids that starts with bos_id: (bos_id,), then (bos_id, 5), (bos_id, 5, 9), ...
    en: Start from (bos_id,) and append the best-scoring word each time. Stop when that word is eos_id (do not
    en: include it) or after max_len words. Returns the generated ids as a list of ints, without bos_id.
    en: Hint: int(scores.argmax()) is the best word as a plain int; a tuple grows with prefix + (word,).
    ja: next_scores[prefix]: prefix の次に来る単語の、語彙の単語ごとのスコア（1 次元テンソル）。prefix は bos_id で始まる
    ja: 単語 ID のタプル：(bos_id,)、次は (bos_id, 5)、(bos_id, 5, 9)、...
    ja: (bos_id,) から始めて、毎回スコア最大の単語を付け足す。その単語が eos_id なら止める（含めない）。max_len 語に
    ja: なっても止める。戻り値: 生成した ID の int のリスト（bos_id は含めない）。
    ja: ヒント: int(scores.argmax()) で最良の単語がただの int になる。タプルは prefix + (word,) で伸ばせる。
    """
    ### BEGIN SOLUTION
    prefix = (bos_id,)
    for _ in range(max_len):
        best = int(next_scores[prefix].argmax())
        if best == eos_id:
            break
        prefix = prefix + (best,)
    return list(prefix[1:])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "greedy_decode_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
toy = {(1,): torch.tensor([0.0, 0.0, 1.0, 5.0, 2.0]),        # en: after <s> (id 1): word 3 scores best  # ja: <s>（ID 1）のあと：単語 3 のスコアが最大
       (1, 3): torch.tensor([0.0, 0.0, 1.0, 2.0, 6.0]),      # en: then word 4  # ja: 次は単語 4
       (1, 3, 4): torch.tensor([0.0, 0.0, 9.0, 1.0, 2.0])}   # en: then </s> (id 2): stop  # ja: 次は </s>（ID 2）：止まる
what, hint = "greedy_decode(toy, bos_id=1, eos_id=2)", tr("Take the argmax each time, and stop at </s> without including it.",
                                                          "毎回 argmax をとり、</s> が来たら、それを含めずに止めます。")
expect(greedy_decode(toy, 1, 2), [3, 4], what, hint)
what, hint = "greedy_decode(toy, 1, 2, max_len=1)", tr("At most max_len words.", "単語は最大で max_len 個までです。")
expect(greedy_decode(toy, 1, 2, max_len=1), [3], what, hint)
passed("Exercise 3.5")

# %% [markdown] tags=["en"]
# `translation.NextWordScores` wraps the trained model as such a table: it encodes the Japanese once, and each lookup
# runs the decoder on the prefix. Your function now translates:

# %% [markdown] tags=["ja"]
# `translation.NextWordScores` は学習済みモデルをこの引き表の形に包みます。日本語は一度だけエンコードし、引くたびに prefix で
# デコーダを動かします。これであなたの関数が翻訳します：

# %%
scores = translation.NextWordScores(model, src_tok.encode(words))
ids = greedy_decode(scores, tgt_tok.bos_id, tgt_tok.eos_id, max_len=20)
print(ids, "→", " ".join(tgt_tok.decode(ids)))

# %% [markdown] tags=["en"]
# Slide 30 step by step: what goes into the decoder at each step, and its three favourite next words (softmax
# probabilities):

# %% [markdown] tags=["ja"]
# スライド 30 をステップごとに：各ステップでデコーダに入るものと、次の単語の上位 3 つ（softmax の確率）：

# %%
written = (tgt_tok.bos_id,)
for step in range(1, 10):
    probs = scores[written].softmax(dim=-1)
    top = probs.topk(3)
    favourites = ", ".join(f"{tgt_tok.itos[i]} {p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist()))
    step_line = tr("step {step}: {written:<22} → {favourites}", "ステップ {step}：{written:<22} → {favourites}")
    print(step_line.format(step=step, written=" ".join(tgt_tok.itos[i] for i in written), favourites=favourites))
    if top.indices[0] == tgt_tok.eos_id:
        break
    written += (int(top.indices[0]),)

# %% [markdown] tags=["en"]
# ## 8. Watching the word order flip: cross-attention (slides 29–31)
#
# While writing each English word, where does the decoder look in the Japanese? `MultiHeadAttention` keeps its
# weights when called with `need_weights=True`; here are the decoder's cross-attention weights (last layer, heads
# averaged). Each row is one English word being written; each column a Japanese word.

# %% [markdown] tags=["ja"]
# ## 8. 語順が入れ替わる様子を見る：Cross-Attention（スライド 29–31）
#
# 英単語を 1 つ書くたびに、デコーダは日本語のどこを見ているのでしょう。`MultiHeadAttention` は `need_weights=True` で
# 呼ぶと重みを保存します。デコーダの Cross-Attention の重み（最終層、ヘッドの平均）を見てみましょう。
# 各行が書いている英単語、各列が日本語の単語です。

# %%
ja_words, en_words, weights = translation.cross_attention_map(model, src_tok, tgt_tok, "私は家を建てた")
title = tr("cross-attention: 私は家を建てた → ", "Cross-Attention：私は家を建てた → ")
plot.heatmap(weights[: len(en_words)], en_words, ja_words, title=title + " ".join(en_words))
plt.show()

# %% [markdown] tags=["en"]
# Writing *i*, it looks at 私; writing *built*, it jumps to the **last** word, 建てた; then back to を and 家 for
# *a house*. The bright cells do not run down the diagonal: they cross over, exactly where Japanese and English
# order the verb differently. Nobody taught it grammar — like slide 34's 「文法は教えてないけど」, the structure emerges
# from attention. A longer sentence, with a time and a place:

# %% [markdown] tags=["ja"]
# *i* を書くときは「私」を、*built* を書くときは **最後の** 単語「建てた」に飛び、*a house* では「を」と「家」に戻ります。
# 明るいマスは対角線に沿って並ばず、日本語と英語で動詞の位置が違うところで交差します。文法は誰も教えていません。
# スライド 34 の「文法は教えてないけど」と同じく、構造が Attention から浮かび上がるのです。時と場所の入った長い文では：

# %%
ja_words, en_words, weights = translation.cross_attention_map(model, src_tok, tgt_tok, "昨日先生は公園で赤い車を洗った")
title = tr("cross-attention: ", "Cross-Attention：")
plot.heatmap(weights[: len(en_words)], en_words, ja_words, title=title + " ".join(en_words), fmt="{:.1f}")
plt.show()

# %% [markdown] tags=["en"]
# *yesterday* comes first in Japanese and last in English, *washed* the other way round: the two longest jumps.
#
# ## 9. Sentences it has never seen
#
# Exact match on 500 held-out sentences — every one built from a subject–verb–object combination absent from
# training — counts only translations that are right word for word:

# %% [markdown] tags=["ja"]
# *yesterday* は日本語では先頭、英語では最後。*washed* はその逆。いちばん長い 2 つのジャンプです。
#
# ## 9. 見たことのない文
#
# 500 個の評価用の文（どれも学習に出てこない主語・動詞・目的語の組み合わせ）で、一語一句正しい翻訳だけを数える
# 完全一致率（exact match）を測ります：

# %%
heldout = translation.heldout_pairs()
match = tr("held-out exact match: {rate:.1%} of {n} sentences", "評価用の文 {n} 文の完全一致率：{rate:.1%}")
print(match.format(rate=translation.exact_match(model, src_tok, tgt_tok, heldout), n=len(heldout)))
for ja, en in heldout[:6]:
    got = translation.translate(model, src_tok, tgt_tok, ja)
    print("✓" if got == en else "✗", f"{' '.join(ja):<32} → {' '.join(got)}")

# %% [markdown] tags=["en"]
# ### Try it
#
# Type a Japanese sentence from the grammar's words (it is split into words automatically), e.g.
# 「彼女は昨日駅で新しい傘を買った」, 「私たちは毎日りんごを食べます」, 「なんか喋って」 — and one it never learned,
# like 「猫は魚を食べた」. Unknown words become `<unk>`: see what the model makes of them.

# %% [markdown] tags=["ja"]
# ### 試してみよう
#
# 文法に出てくる単語で日本語の文を入力してください（自動で単語に分けます）。例：「彼女は昨日駅で新しい傘を買った」
# 「私たちは毎日りんごを食べます」「なんか喋って」。学習していない文、たとえば「猫は魚を食べた」も。
# 知らない単語は `<unk>` になります。モデルがそれをどう扱うか見てみましょう。

# %%
from shikumi.widgets import attention_explorer


def explain(text):
    if not translation.segment(text, src_tok.stoi):
        prompt = tr("(type a sentence)", "（文を入力してください）")
        return prompt, [], [], []
    ja_words, en_words, weights = translation.cross_attention_map(model, src_tok, tgt_tok, text)
    return " ".join(en_words), weights[: len(en_words)], en_words, ja_words


title, labels = tr("cross-attention", "Cross-Attention"), {"input": tr("input", "入力")}
attention_explorer(explain, text="彼女は昨日駅で新しい傘を買った", title=title, labels=labels)

# %% [markdown] tags=["en"]
# ## 10. Same model, different data (slides 19–20)
#
# Slide 19 shows two models receiving 「なんか喋って」: the one trained on translation answers *"Speak something"*; the one
# trained on chat answers 「はい、喜んでお話しします！」. Nothing but the training pairs differs. Let us check: the very
# same architecture (the translator's config, with the chat vocabulary), trained for a few seconds on nine chat
# pairs with the same training loop.

# %% [markdown] tags=["ja"]
# ## 10. 同じモデル、違うデータ（スライド 19–20）
#
# スライド 19 では、2 つのモデルが「なんか喋って」を受け取ります。翻訳を学習したモデルは *"Speak something"*、
# チャットを学習したモデルは「はい、喜んでお話しします！」と返します。違うのは学習に使ったペアだけ。確かめましょう：
# まったく同じ構造（翻訳モデルの config に、チャット用の語彙）を、同じ学習ループで、9 組のチャットのペアで数秒だけ学習させます。

# %%
for question, answer in translation.CHAT_PAIRS[:4]:
    print(f"{''.join(question):<10} → {''.join(answer)}")

# %% [markdown] tags=["en"]
# The chat pairs have words of their own, so the chatbot gets its own two vocabularies. Everything else — the number of
# layers, the vector width, the heads — is the translator's config, unchanged:

# %% [markdown] tags=["ja"]
# チャットのペアには独自の単語があるので、チャットボットには専用の語彙を 2 つ用意します。それ以外（層の数、ベクトルの幅、ヘッド）は、
# 翻訳モデルの config そのままです：

# %%
chat_src, chat_tgt = translation.chat_tokenizers()
chatbot = Transformer(dataclasses.replace(config, src_vocab_size=chat_src.vocab_size,
                                          tgt_vocab_size=chat_tgt.vocab_size)).to(device)
sizes = tr("chatbot: {n:,} parameters ({q} question words, {a} answer words); translator: {m:,} parameters",
           "チャットボット：パラメータ {n:,} 個（質問の単語 {q} 語、答えの単語 {a} 語）。翻訳モデル：パラメータ {m:,} 個")
print(sizes.format(n=chatbot.num_parameters(), q=chat_src.vocab_size, a=chat_tgt.vocab_size, m=model.num_parameters()))

# %% [markdown] tags=["en"]
# And the same training loop as the translator's, for 150 steps on batches drawn from the nine pairs:

# %% [markdown] tags=["ja"]
# そして翻訳モデルと同じ学習ループで、9 組のペアから作ったバッチを 150 ステップ学習させます：

# %%
get_chat_batch = translation.batch_sampler(lambda rng: rng.choice(translation.CHAT_PAIRS), translation.CHAT_PAIRS,
                                           chat_src, chat_tgt, batch_size=16, seed=SEED)
chat_history = translation.train_small(chatbot, get_chat_batch,
                                       TrainConfig(max_steps=150, lr=3e-3, warmup_steps=10, eval_every=0, device=DEVICE, cpu_threads=1))
chat_line = tr("chat training: {steps} steps in {s:.1f} s, final loss {loss:.4f}",
               "チャットの学習：{steps} ステップ、{s:.1f} 秒、最後の損失 {loss:.4f}")
print(chat_line.format(steps=len(chat_history.step), s=chat_history.seconds, loss=chat_history.train_loss[-1]))

# %%
for text in ["なんか喋って", "私は家を建てた"]:
    translated = " ".join(translation.translate(model, src_tok, tgt_tok, text))
    answered = "".join(translation.translate(chatbot, chat_src, chat_tgt, text))
    both = tr("{text}\n   translator: {translated}\n   chatbot:    {answered}",
              "{text}\n   翻訳モデル：　　{translated}\n   チャットボット：{answered}")
    print(both.format(text=text, translated=translated, answered=answered))

# %% [markdown] tags=["en"]
# Slide 20: 「テキストToテキストならいろんなことに使えて汎用的！」 — *anything text-to-text, so it is general-purpose.* The
# architecture does not know it is translating; the data decides. Lesson 04 keeps only the decoder half and trains it
# on plain text: that is GPT.
#
# ## What you built
#
# - **Slide 28's two towers**: your `positional_encoding` (position as waves), `EncoderLayer` (self-attention + FFN,
#   each with a residual and post-LN) and `DecoderLayer` (causal self-attention, cross-attention to the encoder, FFN).
#   With the trained weights loaded, yours compute exactly what the library's translator computes.
# - **Slide 30's loop**: `greedy_decode` feeds everything written so far back in and appends the best next word;
#   `decoder_input_and_labels` is the same loop unrolled for training (teacher forcing).
# - **Slides 29–31 in pictures**: the cross-attention crosses over where Japanese and English order their words
#   differently, and the translator gets sentences it has never seen right.
# - **Slides 19–20**: the same model trained on chat pairs answers instead of translating.
#
# **To discuss:** our translator is perfect on its grammar but helpless with 「猫は魚を食べた」, while the chatbot can
# only repeat its nine answers. The paper used 4.5 million sentence pairs (slide 36), GPT-2 40 GB of web text (slide 37).
# What does more (and more varied) data buy, and what stays the same?

# %% [markdown] tags=["ja"]
# スライド 20：「テキストToテキストならいろんなことに使えて汎用的！」。モデルの構造は自分が翻訳しているとは知りません。
# 決めるのはデータです。レッスン 04 ではデコーダの半分だけを残し、ふつうの文章で学習させます。それが GPT です。
#
# ## このレッスンで作ったもの
#
# - **スライド 28 の 2 つの塔**：あなたの `positional_encoding`（位置を波で表す）、`EncoderLayer`（Self-Attention ＋ FFN、
#   それぞれに残差と post-LN）、`DecoderLayer`（因果的 Self-Attention、エンコーダへの Cross-Attention、FFN）。
#   学習済みの重みを入れると、ライブラリの翻訳モデルとまったく同じ計算をします。
# - **スライド 30 のループ**：`greedy_decode` はここまで書いたものをすべて入れ直し、最良の次の単語を付け足します。
#   `decoder_input_and_labels` は、同じループを学習用に一度に展開したもの（teacher forcing）です。
# - **スライド 29–31 を図で**：日本語と英語で語順が違うところで Cross-Attention が交差し、翻訳モデルは見たことのない文も正しく訳します。
# - **スライド 19–20**：同じモデルをチャットのペアで学習させると、訳すかわりに答えます。
#
# **話し合ってみよう：** 私たちの翻訳モデルは自分の文法では完璧なのに「猫は魚を食べた」にはお手上げで、チャットボットは
# 9 つの答えを繰り返すことしかできません。論文は 450 万の文のペア（スライド 36）、GPT-2 は 40 GB の Web テキスト（スライド 37）を
# 使いました。データを増やし多様にすると何が手に入り、何は変わらないのでしょうか？
