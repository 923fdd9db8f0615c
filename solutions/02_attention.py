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
#     lesson: 02_attention
#     title:
#       en: Attention
#       ja: Attention
# ---

# %% [markdown] tags=["en"]
# # 02 · Attention (slides 16–18, 32–34)
#
# > **Slide 17:** 「文中のどの単語に注目すればいいのか を表すスコアを出すモデル」 — *a model that scores which words in
# > the sentence to pay attention to.*
#
# The Transformer — the "T" of ChatGPT — is built on one idea: **attention** (slide 16: 「Attention のみに基づいた
# seq2seq伝達モデル」, *a sequence-to-sequence model based on attention alone*). In lesson 01 a word could only look at
# the one or two words right before it, always the same ones. With attention, every word **chooses** which words of
# the sentence to look at, however far away they are. Slide 18 adds what the Transformer is for: 「入力seqから出力seqを
# 予測するモデル」, *a model that predicts an output sequence from an input sequence* — translation (and a tiny chatbot) in lesson 03, chat-style prompts in 04.
#
# **What you will build**
# - Slide 32's score table for *"This is a pen."*, from small word vectors you can read, turned into weights by a softmax you write.
# - The whole mechanism as the Transformer paper writes it: why the scores are scaled down, masks that hide the
#   future or the padding, and slide 33's 8 heads.
# - A tiny attention model that learns English subject–verb agreement, and its attention map showing the grammar it was never told (slide 34).
#
# The picture from the talk this lesson brings to life is slide 32's table: one row per word, how much it looks at every other word.
#
# *Softmax is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#softmax).*

# %% [markdown] tags=["ja"]
# # 02 · Attention（スライド 16–18, 32–34）
#
# > **スライド 17:** 「文中のどの単語に注目すればいいのか を表すスコアを出すモデル」
#
# ChatGPT の「T」、Transformer は、ひとつのアイデアの上に作られています。それが **Attention（注意）** です
# （スライド 16：「Attention のみに基づいたseq2seq伝達モデル」）。レッスン 01 では、単語は直前の 1〜2 語しか見られず、
# しかも見る場所はいつも同じでした。Attention では、どの単語も文中の **どの単語を見るかを自分で選びます**。どれだけ離れていても構いません。
# スライド 18 は Transformer が何のためのものかを付け加えています：「入力seqから出力seqを予測するモデル」。レッスン 03 では翻訳（と小さなチャットボット）、04 ではチャット風のプロンプトです。
#
# **このレッスンで作るもの**
# - スライド 32 の「This is a pen.」のスコア表。中身が読める小さな単語ベクトルから計算し、自分で書いた softmax で重みに変えます。
# - Transformer の論文どおりの仕組みの全体：スコアを小さく割る理由、未来やパディングを隠すマスク、そしてスライド 33 の 8 つのヘッド。
# - 英語の主語と動詞の一致を学ぶ小さな Attention モデル。教えていない文法が Attention マップに浮かび上がる様子（スライド 34）。
#
# このレッスンで実際に動かしてみるプレゼンの図は、スライド 32 の表です。1 行が 1 単語で、その単語がほかの各単語をどれだけ見ているかを表します。
#
# *softmax は、[レッスン 00](00_first_neural_network.ipynb#softmax) で図といっしょに説明しています。*

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `SIZE = "full"` trains the model of the last section longer.

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`SIZE = "full"` にすると、最後の節のモデルを長めに学習します。

# %% tags=["parameters"]
# en: DEVICE: "auto", "cpu" or "cuda". SIZE: "quick" (seconds on a laptop) or "full". SEED: any whole number.
# en: (The grader and the course's tests run this notebook with exactly these values.)
# ja: DEVICE は "auto"・"cpu"・"cuda" のどれか。SIZE は "quick"（ノート PC で数秒）か "full"。SEED は好きな整数。
# ja: （採点とコースのテストは、この値のままでこのノートブックを実行します。）
DEVICE = "auto"
SIZE = "quick"
SEED = 0

# %%
import math
import random

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi import attention, get_device, plot, seed_everything
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.train import TrainConfig, train

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. Which word should I look at? Queries and keys (slides 17, 32)
#
# Slide 32 shows *"This is a pen."* with a score between every pair of words: 「Self Attention：各単語間での関連性のスコアを
# 出す」 — *self-attention gives a score of how related each pair of words is.* "This" scores highest with "pen.":
# it is the word that tells us what "this" *is*.
#
# Where do such scores come from? Every word gets two small vectors:
# - a **key**: *what I am* — like the tags on an item in a game's inventory;
# - a **query**: *what I am looking for* — like the text typed into the inventory's search box.
#
# The score of word i for word j is how well i's query matches j's key: their **dot product**
# q·k = q₁k₁ + q₂k₂ + … (big when both vectors are big in the same places).
#
# Real models learn vectors of hundreds of numbers that nobody can read. Here we make them **by hand**, with four
# features we can name: *pointer* (a word that points at something, like "this"), *thing* (a noun), *verb* and
# *article*. Each word is exactly one kind of word, so its key is a single 1.

# %% [markdown] tags=["ja"]
# ## 1. どの単語を見ればいい？ クエリとキー（スライド 17, 32）
#
# スライド 32 は「This is a pen.」のすべての単語の組にスコアをつけています：「Self Attention：各単語間での関連性のスコアを出す」。
# 「This」のスコアがいちばん高い相手は「pen.」。「this（これ）」が *何なのか* を教えてくれる単語だからです。
#
# このスコアはどこから来るのでしょう？ 各単語は小さなベクトルを 2 つ持ちます：
# - **キー（key）**：*自分は何者か*。ゲームのインベントリでアイテムについているタグのようなもの。
# - **クエリ（query）**：*自分は何を探しているか*。インベントリの検索ボックスに打ち込む文字のようなもの。
#
# 単語 i から単語 j へのスコアは、i のクエリと j のキーがどれだけ合っているか、つまり 2 つの **内積**
# q·k = q₁k₁ + q₂k₂ + …（同じ場所が両方とも大きいと大きくなる）です。
#
# 本物のモデルは、人には読めない何百個もの数からなるベクトルを学習します。ここでは、名前をつけられる 4 つの特徴で **手作り** します：
# *指示語*（pointer：「this」のように何かを指す語）、*モノ*（thing：名詞）、*動詞*（verb）、*冠詞*（article）。
# どの単語もちょうど 1 種類の語なので、キーは 1 が 1 つだけのベクトルです。

# %%
words = ["This", "is", "a", "pen."]
features = [tr("pointer", "指示語"), tr("thing", "モノ"), tr("verb", "動詞"), tr("article", "冠詞")]

# en: keys — what each word IS (one row per word, one column per feature)
# ja: キー：各単語が「何者か」（行が単語、列が特徴）
K = torch.tensor([
    [1.0, 0.0, 0.0, 0.0],   # en: This: a pointer word  # ja: This：指示語
    [0.0, 0.0, 1.0, 0.0],   # en: is:   a verb  # ja: is：  動詞
    [0.0, 0.0, 0.0, 1.0],   # en: a:    an article  # ja: a：   冠詞
    [0.0, 1.0, 0.0, 0.0],   # en: pen.: a thing  # ja: pen.：モノ
])
# en: queries — what each word LOOKS FOR (numbers made up to tell a story, like the slide's: 「※値は例です」)
# ja: クエリ：各単語が「何を探しているか」（スライドと同じく、話が伝わるように作った数字：「※値は例です」）
Q = torch.tensor([
    [2.0, 4.0, 2.0, 0.0],   # en: This: "which thing am I pointing at?"  # ja: This：「私が指しているのはどのモノ？」
    [1.0, 1.0, 3.0, 0.0],   # en: is:   mostly itself, a little of both sides  # ja: is：  主に自分自身、両隣も少し
    [0.0, 1.0, 2.0, 6.0],   # en: a:    itself, above all  # ja: a：   何よりも自分自身
    [4.0, 2.0, 1.0, 0.0],   # en: pen.: "who is pointing at me?"  # ja: pen.：「私を指しているのは誰？」
])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
title_k, title_q = tr("keys K: what I am", "キー K：自分は何者か"), tr("queries Q: what I look for", "クエリ Q：何を探しているか")
plot.heatmap(K, words, features, title=title_k, fmt="{:.0f}", ax=ax1)
plot.heatmap(Q, words, features, title=title_q, fmt="{:.0f}", ax=ax2)
plt.show()

# %% [markdown] tags=["en"]
# All the scores at once are one matrix product: row i of Q times column j of Kᵀ is qᵢ·kⱼ. This is what slide 16
# means by 「並列化できて学習早い!」 (*parallel, so it trains fast*): every pair of words is scored in a single
# operation, with no word waiting for another.

# %% [markdown] tags=["ja"]
# すべてのスコアは、1 回の行列の積でまとめて計算できます。Q の i 行目と Kᵀ の j 列目の積が qᵢ·kⱼ です。
# これがスライド 16 の「並列化できて学習早い!」の意味です。すべての単語の組を 1 回の演算で採点でき、ある単語が別の単語の計算を待つことがありません。

# %%
scores = Q @ K.T                                   # (4, 4): scores[i, j] = Q[i] · K[j]
print(scores.shape)
title = tr("scores = Q @ K.T  (row: who looks, column: at whom)", "scores = Q @ K.T（行：見る側、列：見られる側）")
plot.heatmap(scores, words, words, title=title, fmt="{:.0f}")
plt.show()


# %% [markdown] tags=["en"]
# Read a row: "This" (row 1) scores 4 for "pen." — its query asks for a *thing*, and "pen."'s key says *thing*.
# Scores are just numbers, though, on no fixed scale. Slide 32's rows are something else: each row **sums to 1**
# (0.17 + 0.2 + 0.03 + 0.6 = 1). They are **weights**: "spend 60 % of your attention on pen.".

# %% [markdown] tags=["ja"]
# 1 行を読んでみましょう。「This」（1 行目）は「pen.」に 4 点をつけています。クエリが *モノ* を探していて、「pen.」のキーが *モノ* だからです。
# ただしスコアは目盛りの決まっていないただの数です。スライド 32 の行は違います。どの行も **合計が 1** です
# （0.17 + 0.2 + 0.03 + 0.6 = 1）。これは **重み** です：「注意の 60 % を pen. に向ける」。

# %% [markdown] tags=["en"]
# ## 2. From scores to weights: softmax
#
# **Softmax** turns any row of numbers into weights: make each number positive with exp, then divide by the total.
#
#     softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ)
#
# The biggest score gets the biggest weight, every weight is between 0 and 1, and they sum to 1. Written naively,
# it has a trap: exp of a large number does not fit in a computer's float.

# %% [markdown] tags=["ja"]
# ## 2. スコアから重みへ：softmax
#
# **softmax** はどんな数の並びも重みに変えます。exp で各数を正にしてから、合計で割ります。
#
#     softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ)
#
# いちばん大きなスコアがいちばん大きな重みになり、重みはどれも 0 から 1 の間で、合計は 1 です。
# ただし素直に書くと落とし穴があります。大きな数の exp は、コンピュータの float に収まらないのです。

# %%
def naive_softmax(x):
    e = torch.exp(x)
    return e / e.sum(dim=-1, keepdim=True)

print(naive_softmax(torch.tensor([1.0, 2.0, 3.0])))
print(naive_softmax(torch.tensor([1000.0, 1001.0, 1002.0])))   # en: exp(1000) = inf, and inf / inf = nan  # ja: exp(1000) = inf、そして inf / inf = nan


# %% [markdown] tags=["en"]
# The fix: subtracting the same number c from every score does not change the softmax, because
# exp(xᵢ − c) / Σⱼ exp(xⱼ − c) = exp(xᵢ) / Σⱼ exp(xⱼ) (the factor exp(−c) cancels). Choose c = the largest score:
# then the biggest exponent is exp(0) = 1 and nothing overflows. Every deep-learning library does this.
#
# ### Exercise 2.1 — a numerically stable softmax (2 points)

# %% [markdown] tags=["ja"]
# 解決法：すべてのスコアから同じ数 c を引いても softmax は変わりません。
# exp(xᵢ − c) / Σⱼ exp(xⱼ − c) = exp(xᵢ) / Σⱼ exp(xⱼ)（exp(−c) が約分されて消える）からです。c を最大のスコアにすれば、
# いちばん大きな指数は exp(0) = 1 になり、あふれません。どの深層学習ライブラリもこうしています。
#
# ### 演習 2.1 — 数値的に安定な softmax（2 点）

# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax(x, dim=-1):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j)

    en: Along the axis `dim`, and without overflow.
    ja: 軸 `dim` の方向に、あふれないように計算する。
    en: x: a float tensor of any shape; dim: the axis that must sum to 1 (default: the last one).
    en: Returns a tensor of x's shape: values in [0, 1] that sum to 1 along dim. An entry of -inf gets weight 0
    en: (masks rely on that). Build it from torch.exp and .sum — do not call torch.softmax.
    en: Hint: first subtract x.max(dim=dim, keepdim=True).values, so that the largest exponent is exp(0) = 1.
    ja: x: 任意の形の float テンソル。dim: 合計を 1 にする軸（既定は最後の軸）。
    ja: 戻り値: x と同じ形のテンソル。値は [0, 1] で、dim 方向の合計が 1。-inf の要素は重み 0 になる（マスクはこれを使う）。
    ja: torch.exp と .sum から作ること。torch.softmax は使わない。
    ja: ヒント: まず x.max(dim=dim, keepdim=True).values を引くと、いちばん大きな指数が exp(0) = 1 になる。
    """
    ### BEGIN SOLUTION
    e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "softmax_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
what, hint = "softmax([1, 2, 3])", tr("Divide exp(x) by the sum of exp(x) along dim.",
                                      "exp(x) を、dim 方向の exp(x) の合計で割ります。")
expect_close(softmax(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([0.0900, 0.2447, 0.6652]), what, hint, atol=1e-4)
table = torch.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0], [2.0, 3.0, 2.0]])   # en: every row's largest number is 3  # ja: どの行も、いちばん大きい数は 3
what = tr("softmax(3×3 table): each row on its own", "softmax(3×3 の表)：行ごとに")
no_keepdim = tr("Without keepdim=True, .sum(dim=dim) has shape (3,) and divides column j by row j's sum: use .sum(dim=dim, keepdim=True), and the same in .max.",
                "keepdim=True がないと .sum(dim=dim) の形は (3,) になり、列 j を行 j の合計で割ってしまいます。.sum(dim=dim, keepdim=True) とし、.max も同じようにします。")
columns = tr("Those are the columns' softmax: sum along `dim` (here the last axis), not down the columns.",
             "それは列ごとの softmax です。列の方向ではなく、`dim` の方向（ここでは最後の軸）に合計します。")
whole = tr("That divides by the sum of the whole table: sum along `dim` only, with keepdim=True.",
           "それは表全体の合計で割っています。`dim` の方向だけに、keepdim=True で合計します。")
e = table.exp()
expect_close(softmax(table), e / e.sum(dim=-1, keepdim=True), what, hint,
             mistakes=[(e / e.sum(dim=-1), no_keepdim), (e / e.sum(dim=0, keepdim=True), columns), (e / e.sum(), whole)])
x = torch.randn(3, 5)
what, hint = tr("softmax(x of shape (3, 5))", "softmax(形が (3, 5) の x)"), tr("keepdim=True in both .max and .sum, so that they broadcast along the rows.", ".max にも .sum にも keepdim=True をつけて、行の方向にブロードキャストされるようにします。")
expect_close(softmax(x), torch.softmax(x, dim=-1), what, hint)
what, hint = "softmax([1000, 1001, 1002]) = softmax([1, 2, 3])", tr("exp(1000) overflows to inf: subtract the max before torch.exp.",
                                                                    "exp(1000) は inf にあふれます。torch.exp の前に最大値を引きましょう。")
expect_close(softmax(torch.tensor([1000.0, 1001.0, 1002.0])), torch.tensor([0.0900, 0.2447, 0.6652]), what, hint, atol=1e-4)
what, hint = tr("softmax(x, dim=0): each column sums to 1", "softmax(x, dim=0)：各列の合計が 1"), tr("Use `dim` in the max and in the sum, with keepdim=True.", "max にも sum にも `dim` を渡し、keepdim=True にします。")
last_axis = tr("That is the softmax along the last axis: use the `dim` you are given.",
               "それは最後の軸に沿った softmax です。引数の `dim` を使います。")
expect_close(softmax(x, dim=0), torch.softmax(x, dim=0), what, hint, mistakes=[(torch.softmax(x, dim=-1), last_axis)])
what, hint = "softmax([0, -inf])", tr("exp(-inf) = 0.", "exp(-inf) = 0 です。")
expect(softmax(torch.tensor([0.0, float("-inf")])).tolist(), [1.0, 0.0], what, hint)
passed("Exercise 2.1")

# %% [markdown] tags=["en"]
# Now slide 32. We divide the scores by 2 before the softmax — section 3 explains why (2 = √4, and our vectors have
# 4 features). Left: our weights; right: the slide's. The numbers differ (both are made up: 「※値は例です」), the story
# is the same: "This" looks at "pen.", "pen." looks back at "This", "a" and "is" mostly look at themselves.

# %% [markdown] tags=["ja"]
# いよいよスライド 32 です。softmax の前にスコアを 2 で割ります。理由は 3 節で説明します（2 = √4、ベクトルの特徴が 4 つだから）。
# 左が私たちの重み、右がスライドの値です。数字は違いますが（どちらも作った値：「※値は例です」）、物語は同じです。
# 「This」は「pen.」を見て、「pen.」は「This」を見返し、「a」と「is」は主に自分自身を見ています。

# %%
weights = softmax(scores / math.sqrt(4))            # en: (4, 4): every row sums to 1  # ja: (4, 4)：どの行も合計 1
slide32 = torch.tensor([[0.17, 0.2, 0.03, 0.6], [0.2, 0.47, 0.15, 0.18], [0.03, 0.15, 0.75, 0.07], [0.6, 0.18, 0.07, 0.15]])
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
title_ours, title_slide = tr("our attention weights", "私たちの Attention の重み"), tr("slide 32 (「※値は例です」)", "スライド 32（「※値は例です」）")
plot.heatmap(weights, words, words, title=title_ours, ax=ax1)
plot.heatmap(slide32, words, words, title=title_slide, ax=ax2)
plt.show()
row_sums = tr("row sums:", "各行の合計：")
print(row_sums, weights.sum(dim=-1))

# %% [markdown] tags=["en"]
# What are the weights for? Each word collects a **weighted mix** of the other words' **values** (here the value of
# a word is simply its key: what it is). The new vector of "This" is 53 % *thing*: after attention, "This" knows that
# it stands for a thing. Slide 28 calls this output 「文中での重要度を加味した表現」 — *a representation that takes the
# importance of the words in the sentence into account*.

# %% [markdown] tags=["ja"]
# 重みは何に使うのでしょう？ 各単語は、ほかの単語の **バリュー（value）** を重みで混ぜ合わせたもの（**加重平均**）を受け取ります
# （ここでは単語のバリューはキーと同じ、つまり「何者か」です）。「This」の新しいベクトルは 53 % が *モノ*。
# Attention のあと、「This」は自分がモノを指していることを知っているのです。スライド 28 ではこの出力を
# 「文中での重要度を加味した表現」と呼んでいます。

# %%
V = K                                               # en: (4, 4): the values — here, what each word is  # ja: (4, 4)：バリュー。ここでは各単語が何者か
output = weights @ V                                # en: (4, 4): row i = sum over j of weights[i, j] * V[j]  # ja: (4, 4)：i 行目 = weights[i, j] * V[j] の j についての和
title = tr("output = weights @ V: what each word knows now", "output = weights @ V：各単語がいま知っていること")
plot.heatmap(output, words, features, title=title)
plt.show()


# %% [markdown] tags=["en"]
# ## 3. Scaled dot-product attention: softmax(QKᵀ / √d) V
#
# Put together, sections 1 and 2 are the formula of the Transformer paper (slide 26, *Attention Is All You Need*):
#
#     Attention(Q, K, V) = softmax(Q Kᵀ / √d) V        d = the length of a query (and of a key) vector
#
# Real models compute it for a whole **batch** of sentences at once, so q and k have extra leading dimensions:
# q is (…, T_q, d) — T_q queries — and k is (…, T_k, d). The weights are (…, T_q, T_k): one row per query, one
# column per key, every row summing to 1.
#
# Sometimes a word must **not** look at some others (section 4 says why). A **mask** says which: a bool tensor
# that broadcasts to (…, T_q, T_k), **True where the query may look**. Set the forbidden scores to −∞ *before*
# the softmax: exp(−∞) = 0, so they get weight exactly 0 and the rest still sum to 1.
#
# ### Exercise 2.2 — attention weights (3 points)

# %% [markdown] tags=["ja"]
# ## 3. Scaled dot-product attention：softmax(QKᵀ / √d) V
#
# 1 節と 2 節を合わせると、Transformer の論文（スライド 26、*Attention Is All You Need*）の式になります：
#
#     Attention(Q, K, V) = softmax(Q Kᵀ / √d) V        d = クエリ（とキー）のベクトルの長さ
#
# 本物のモデルは文の **バッチ** をまとめて計算するので、q と k には先頭に次元が増えます。
# q は (…, T_q, d)（T_q 個のクエリ）、k は (…, T_k, d)。重みは (…, T_q, T_k)：1 行が 1 クエリ、1 列が 1 キーで、どの行も合計 1 です。
#
# 単語によっては、ほかの単語を見ては **いけない** ことがあります（理由は 4 節）。それを指定するのが **マスク** です。
# (…, T_q, T_k) にブロードキャストできる bool テンソルで、**クエリが見てよい場所が True**。禁止されたスコアを softmax の *前に* −∞ にします。
# exp(−∞) = 0 なので重みはちょうど 0 になり、残りの合計は 1 のままです。
#
# ### 演習 2.2 — Attention の重み（3 点）

# %% nbgrader={"grade": false, "grade_id": "attention_weights", "locked": false, "schema_version": 3, "solution": true, "task": false}
def attention_weights(q, k, mask=None):
    """softmax(q kᵀ / √d)   (slides 32, 26)

    en: Forbidden positions (False in the mask) are set to -inf before the softmax.
    ja: 禁止された位置（マスクが False のところ）は、softmax の前に -inf にする。
    en: q: (..., T_q, d) queries; k: (..., T_k, d) keys (the leading dimensions broadcast, e.g. batch and heads).
    en: mask: None, or a bool tensor broadcastable to (..., T_q, T_k): True where query i may look at key j.
    en: Returns the weights, a tensor of shape (..., T_q, T_k) whose rows (the last dimension) sum to 1.
    en: Hint: k.transpose(-2, -1) turns (..., T_k, d) into (..., d, T_k); scores.masked_fill(~mask, float("-inf"))
    en: sets the forbidden scores. Use your softmax (or torch.softmax) over the last dimension.
    ja: q: (..., T_q, d) のクエリ。k: (..., T_k, d) のキー（先頭の次元、たとえばバッチとヘッドはブロードキャストされる）。
    ja: mask: None、または (..., T_q, T_k) にブロードキャストできる bool テンソル。クエリ i がキー j を見てよいところが True。
    ja: 戻り値: 形 (..., T_q, T_k) の重み。各行（最後の次元）の合計は 1。
    ja: ヒント: k.transpose(-2, -1) で (..., T_k, d) が (..., d, T_k) になる。scores.masked_fill(~mask, float("-inf"))
    ja: で禁止されたスコアを埋める。softmax は最後の次元について、自分の softmax（か torch.softmax）で。
    """
    ### BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))     # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return softmax(scores, dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "attention_weights_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 8)   # en: a batch of 2; 5 queries, 7 keys  # ja: 2 つのバッチ。クエリ 5 個、キー 7 個
w = attention_weights(q, k)
what, hint = "attention_weights(q, k).shape", tr("One row per query, one column per key: (..., T_q, T_k).",
                                                 "クエリごとに 1 行、キーごとに 1 列です：(..., T_q, T_k)。")
expect(tuple(w.shape), (2, 5, 7), what, hint)
scores = q @ k.transpose(-2, -1)                                            # en: (2, 5, 7), before scaling  # ja: (2, 5, 7)、割る前
what = tr("attention_weights(q, k), d = 8", "attention_weights(q, k)（d = 8）")
hint = tr("softmax(q kᵀ / √d) over the last dimension (the keys), with d = q.size(-1).",
          "最後の次元（キーの次元）についての softmax(q kᵀ / √d) です（d = q.size(-1)）。")
by_d = tr("Divide the scores by √d, not by d: here √8 ≈ 2.83, not 8 (math.sqrt(q.size(-1))).",
          "スコアは d ではなく √d で割ります。ここでは 8 ではなく √8 ≈ 2.83 です（math.sqrt(q.size(-1))）。")
unscaled = tr("Divide the scores by √d (d = q.size(-1)) before the softmax.",
              "softmax の前に、スコアを √d（d = q.size(-1)）で割ります。")
queries = tr("That softmax runs over the queries (dim -2): each row, one query, must sum to 1 over the keys (dim -1).",
             "その softmax はクエリの方向（次元 -2）にかかっています。各行（クエリ 1 つ）が、キーの方向（次元 -1）で合計 1 になるようにします。")
expect_close(w, torch.softmax(scores / math.sqrt(8), dim=-1), what, hint, atol=1e-6,
             mistakes=[(torch.softmax(scores / 8, dim=-1), by_d), (torch.softmax(scores, dim=-1), unscaled),
                       (torch.softmax(scores / math.sqrt(8), dim=-2), queries)])
what = tr("weights @ v = PyTorch's F.scaled_dot_product_attention(q, k, v)",
          "weights @ v = PyTorch の F.scaled_dot_product_attention(q, k, v)")
expect_close(w @ v, F.scaled_dot_product_attention(q, k, v), what)
mask = torch.tensor([[True, False], [True, True]])
what = tr("weights with a mask", "マスクつきの重み")
hint = tr("True means 'may look': fill the scores where the mask is False with -inf, before the softmax.",
          "True は「見てよい」という意味です。softmax の前に、マスクが False のところのスコアを -inf で埋めます。")
expect(attention_weights(torch.ones(2, 4), torch.ones(2, 4), mask).tolist(), [[1.0, 0.0], [0.5, 0.5]], what, hint)
passed("Exercise 2.2")

# %% [markdown] tags=["en"]
# Your function gives back slide 32's weights of section 2, and with the values it is exactly what PyTorch's fused
# kernel computes (lesson 03 onwards uses that fast kernel, through `shikumi.attention`):

# %% [markdown] tags=["ja"]
# あなたの関数で 2 節のスライド 32 の重みがそのまま得られます。バリューと組み合わせれば、PyTorch の高速なカーネルが計算するものとぴったり同じです
# （レッスン 03 以降は `shikumi.attention` を通してその高速カーネルを使います）：

# %%
same = tr("same as section 2:", "2 節と同じ：")
print(same, torch.allclose(attention_weights(Q, K), weights))
fused = F.scaled_dot_product_attention(Q[None], K[None], V[None])[0]   # en: [None] adds a batch dimension of 1  # ja: [None] で大きさ 1 のバッチの次元を足す
print("weights @ V == F.scaled_dot_product_attention:", torch.allclose(attention_weights(Q, K) @ V, fused, atol=1e-6))

# %% [markdown] tags=["en"]
# ### Why divide by √d?
#
# A query and a key of d random numbers each (mean 0, spread 1) have a dot product made of d terms, and its spread
# grows like √d. In the original Transformer each of the 8 heads works on d_k = 512 / 8 = 64 numbers, so its scores
# spread about ±8 (√64 = 8); one head on all d = 512 numbers would spread about ±23. Softmax turns big differences
# into extreme weights: **one key takes everything, the others get ~0**. The softmax is *saturated*: the
# model can no longer mix words, and learning stalls (a tiny change of a score no longer changes the weights).
# Dividing by √d brings the spread back to about 1, whatever d is.
#
# Below: 200 random queries, each against 16 random keys. How much weight does the favourite key get, on average?
# (The dotted line is 1/16: every key weighted equally.)

# %% [markdown] tags=["ja"]
# ### なぜ √d で割るの？
#
# 平均 0・ばらつき 1 の乱数 d 個からなるクエリとキーの内積は d 個の項の和なので、そのばらつきは √d のように大きくなります。
# 元の Transformer では、8 つのヘッドがそれぞれ d_k = 512 / 8 = 64 個の数を扱うので、スコアのばらつきはおよそ ±8（√64 = 8）。
# 512 個すべてを 1 つのヘッドで扱えば、およそ ±23 になります。softmax は大きな差を極端な重みに変えます：
# **1 つのキーが全部を持っていき、ほかはほぼ 0**。これを softmax の *飽和* といいます。モデルは単語を混ぜられなくなり、
# 学習も止まります（スコアを少し変えても重みが変わらないから）。√d で割れば、d がいくつでもばらつきはおよそ 1 に戻ります。
#
# 下の図：ランダムなクエリ 200 個を、それぞれランダムなキー 16 個と比べます。16 個のキーのうち最大の重みは、平均でどれくらいでしょう？
# （点線は 1/16：どのキーにも同じ重みをつけた場合です。）

# %%
gen = torch.Generator().manual_seed(SEED)
dims = [1, 4, 16, 64, 256, 1024]
without, divided = tr("without ÷√d", "÷√d なし"), tr("with ÷√d", "÷√d あり")
spread = tr("d = {d:4d}: the scores spread ±{std:5.1f}  (√d = {root:4.1f})",
            "d = {d:4d}: スコアのばらつき ±{std:5.1f}（√d = {root:4.1f}）")
top_weight = {without: [], divided: []}
for d in dims:
    q, k = torch.randn(200, d, generator=gen), torch.randn(16, d, generator=gen)
    scores_d = q @ k.T                                             # (200, 16)
    print(spread.format(d=d, std=scores_d.std(), root=math.sqrt(d)))
    top_weight[without].append(softmax(scores_d).max(dim=-1).values.mean().item())
    top_weight[divided].append(softmax(scores_d / math.sqrt(d)).max(dim=-1).values.mean().item())
title, xlabel, ylabel = tr("16 keys: the weight of the favourite one", "最大の重み（16 個のキーのうち）"), tr("d (length of q and k)", "d（q と k の長さ）"), tr("average largest weight", "いちばん大きな重みの平均")
uniform = tr("uniform, 1/16", "一様、1/16")
ax = plot.lines(dims, top_weight, title=title, xlabel=xlabel, ylabel=ylabel)
ax.set_xscale("log", base=2)
ax.axhline(1 / 16, color="gray", linestyle=":", label=uniform)
ax.legend()
plt.show()


# %% [markdown] tags=["en"]
# **Play with it.** 500 random queries, each against 8 random keys; for each query we sort its 8 weights from its
# favourite key to its least favourite, and draw the averages. Slide d up and watch the weights with and without the
# √d. Without it, the bars soon collapse into one: every query gives almost everything to its favourite. With it they
# stay a mix. Dividing by a number before a softmax is the
# **temperature** of lesson 01's sampling: √d is a temperature chosen so that d does not matter.

# %% [markdown] tags=["ja"]
# **動かしてみよう。** ランダムなクエリ 500 個を、それぞれランダムなキー 8 個と比べます。クエリごとに 8 つの重みを
# 「いちばん好きなキー」から「いちばん好きでないキー」の順に並べ、その平均を描きます。d を大きくして、√d で割るときと割らないときの重みを
# 見比べてください。割らないと、棒はすぐに 1 本にまとまってしまいます。どのクエリも、いちばん好きなキーにほぼすべてを渡すのです。
# 割れば混ざったままです。softmax の前に数で割るのは、
# レッスン 01 のサンプリングの **温度（temperature）** と同じです。√d は、d の大きさに左右されないように選んだ温度なのです。

# %%
def show_softmax(d=16, divide_by_sqrt_d=True):
    """
    en: 500 random queries against 8 random keys of d numbers: each query's weights, sorted, then averaged.
    ja: ランダムなクエリ 500 個を、d 個の数からなるランダムなキー 8 個と比べる。クエリごとの重みを大きい順に並べてから平均する。
    """
    g = torch.Generator().manual_seed(SEED)
    q, k = torch.randn(500, d, generator=g), torch.randn(8, d, generator=g)
    scores_d = q @ k.T                                             # (500, 8)
    if divide_by_sqrt_d:
        scores_d = scores_d / math.sqrt(d)
    sorted_weights = softmax(scores_d).sort(dim=-1, descending=True).values.mean(dim=0)   # (8,)
    plt.figure(figsize=(6, 2.8))
    plt.bar(range(1, 9), sorted_weights.tolist(), color="#4C72B0")
    plt.ylim(0, 1)
    xlabel, ylabel = tr("keys, from each query's favourite (1) to its least favourite (8)", "キー（各クエリにとって好きな順、1 がいちばん好き）"), tr("average weight", "重みの平均")
    scaled, raw = tr("scores ÷ √d", "スコア ÷ √d"), tr("raw scores", "そのままのスコア")
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    plt.title(f"d = {d}, " + (scaled if divide_by_sqrt_d else raw))
    plt.show()

divide_label = tr("divide by √d", "√d で割る")
widgets.interactive(show_softmax, d=widgets.SelectionSlider(options=[2**i for i in range(11)], value=16),
                    divide_by_sqrt_d=widgets.Checkbox(value=True, description=divide_label))


# %% [markdown] tags=["en"]
# ## 4. Masks: no peeking at the future, no looking at padding
#
# **Causal mask.** ChatGPT writes one word at a time, each from the words before it (lesson 01, slide 25). When
# we train such a model on a whole sentence at once, the word at position i must not see the words after it —
# they are exactly what it is learning to predict. So row i of the mask allows columns 0 … i: the past and itself.
# That is a **lower-triangular** table of True.
#
# ### Exercise 2.3 — the causal mask (1 point)

# %% [markdown] tags=["ja"]
# ## 4. マスク：未来をのぞかない、パディングを見ない
#
# **因果マスク（causal mask）。** ChatGPT は、それまでの単語から 1 語ずつ文章を書きます（レッスン 01、スライド 25）。
# このようなモデルを文全体でまとめて学習するとき、位置 i の単語はそれより後ろの単語を見てはいけません。
# 後ろの単語こそ、いま予測を学んでいる答えだからです。そこでマスクの i 行目は 0 … i 列（過去と自分自身）だけを許します。
# True が **下三角** に並んだ表です。
#
# ### 演習 2.3 — 因果マスク（1 点）

# %% nbgrader={"grade": false, "grade_id": "causal_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def causal_mask(T):
    """mask[i, j] = (j <= i)

    en: The (T, T) causal mask: query i may look at itself and the past.
    ja: (T, T) の因果マスク：クエリ i が見てよいのは、自分自身と過去だけ。
    en: T: the number of positions (an int >= 1). Returns a bool tensor (dtype torch.bool) of shape (T, T),
    en: True on and below the diagonal, False above it.
    en: Hint: look up torch.tril — it keeps the lower triangle of a table, the diagonal included.
    ja: T: 位置の数（1 以上の int）。戻り値: 形 (T, T) の bool テンソル（dtype torch.bool）。
    ja: 対角線とその下が True、上が False。
    ja: ヒント: torch.tril を調べてみよう。表の下三角（対角線を含む）を残す関数。
    """
    ### BEGIN SOLUTION
    return torch.ones(T, T, dtype=torch.bool).tril()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "causal_mask_check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
m = causal_mask(3)
what, hint = "causal_mask(3).dtype", tr("masked_fill(~mask, ...) needs a bool tensor: use dtype=torch.bool.",
                                        "masked_fill(~mask, ...) には bool テンソルが必要です。dtype=torch.bool にしましょう。")
expect(m.dtype, torch.bool, what, hint)
what, hint = "causal_mask(3)", tr("Row i (a query) may look at columns j <= i: the diagonal and below.",
                                  "i 行目（クエリ）が見てよいのは j <= i の列、つまり対角線とその下です。")
expect(m.tolist(), [[True, False, False], [True, True, False], [True, True, True]], what, hint)
expect(causal_mask(1).tolist(), [[True]], "causal_mask(1)")
passed("Exercise 2.3")

# %% [markdown] tags=["en"]
# Slide 32's sentence with a causal mask: "This" can only look at itself (weight 1), "is" at "This" and itself, …
# and the upper triangle is 0.

# %% [markdown] tags=["ja"]
# 因果マスクをかけたスライド 32 の文：「This」は自分自身しか見られず（重み 1）、「is」は「This」と自分、…と続き、上三角は 0 になります。

# %%
causal_weights = attention_weights(Q, K, mask=causal_mask(4))
title = tr("with a causal mask: nobody looks at the future", "因果マスクあり：どの単語も未来を見ない")
plot.heatmap(causal_weights, words, words, title=title)
plt.show()

# %% [markdown] tags=["en"]
# **Padding mask.** A batch is a rectangle, but sentences have different lengths, so shorter ones are filled up with
# a padding token `<pad>` that means nothing. Nobody should pay attention to it. Below, a batch of two sentences:
# *"This is a pen."* and *"a pen."* + two pads (a pad's vector is all zeros). Without a mask the pads still get
# weight — a score of 0 is not "nothing" for softmax, since exp(0) = 1. With a mask, True only on real words, they
# get exactly 0. (`shikumi.attention.padding_mask(tokens, pad_id)` builds this mask, shaped for many heads.)

# %% [markdown] tags=["ja"]
# **パディングマスク。** バッチは長方形ですが、文の長さはまちまちなので、短い文は意味のないパディングトークン `<pad>` で埋めます。
# パディングには誰も注目すべきではありません。下は 2 文のバッチ：「This is a pen.」と「a pen.」＋パディング 2 つ
# （パディングのベクトルはすべて 0）。マスクがないと、パディングにも重みがついてしまいます。softmax にとってスコア 0 は「無」ではなく、
# exp(0) = 1 だからです。本物の単語だけ True のマスクをかけると、ちょうど 0 になります。
# （`shikumi.attention.padding_mask(tokens, pad_id)` は、このマスクを複数ヘッド用の形で作ります。）

# %%
PAD = 4                                                  # en: token ids: 0-3 are our four words, 4 is <pad>  # ja: トークン ID：0〜3 は 4 つの単語、4 は <pad>
batch = torch.tensor([[0, 1, 2, 3], [2, 3, PAD, PAD]])   # en: (B=2, T=4): "This is a pen." and "a pen. <pad> <pad>"  # ja: (B=2, T=4)："This is a pen." と "a pen. <pad> <pad>"
Q_pad, K_pad = torch.cat([Q, torch.zeros(1, 4)]), torch.cat([K, torch.zeros(1, 4)])   # en: <pad>: a vector of zeros  # ja: <pad>：すべて 0 のベクトル
q_batch, k_batch = Q_pad[batch], K_pad[batch]            # (2, 4, 4): (B, T, d)
pad_mask = (batch != PAD)[:, None, :]                    # en: (B, 1, T): True on real words, the same for every query  # ja: (B, 1, T)：本物の単語で True。どのクエリにも同じ
labels = [["This", "is", "a", "pen."], ["a", "pen.", "<pad>", "<pad>"]]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
title_none, title_pad = tr("sentence 2, no mask", "2 文目、マスクなし"), tr("sentence 2, padding mask", "2 文目、パディングマスクあり")
plot.heatmap(attention_weights(q_batch, k_batch)[1], labels[1], labels[1], title=title_none, ax=ax1)
plot.heatmap(attention_weights(q_batch, k_batch, pad_mask)[1], labels[1], labels[1], title=title_pad, ax=ax2)
plt.show()


# %% [markdown] tags=["en"]
# The rows of the pads themselves are still computed (a pad is a query too); the model simply ignores what comes
# out at those positions.

# %% [markdown] tags=["ja"]
# パディング自身の行もやはり計算されます（パディングもクエリだから）。モデルは、その位置から出てきたものを使わないだけです。

# %% [markdown] tags=["en"]
# ## 5. Eight heads (slide 33)
#
# Slide 33: 「8つの異なる Attention Head で別々に計算し合算」「1個でやるよりも精度が高かった!」 — *compute attention
# separately in 8 different heads and add them up; more accurate than a single one.*
#
# One head can only say "look here" once per word. But a word may need several things at once: its subject, its
# object, the word before it… **Multi-head attention** runs several attentions side by side. The Transformer's
# vectors have d_model = 512 numbers; with 8 heads, each head gets its own slice of 512 / 8 = 64 numbers, computes its
# own weights on it, and the 8 results are glued back together into 512 numbers (concatenated). The slide says
# 合算, *added up*; the paper concatenates. Both are right: the layer's last step, a linear map (`out_proj`, Exercise
# 2.6) applied to the glued vector, is the same as giving each head its own slice of that map and **adding** the
# 8 results. Section 5's last cell checks it.
#
# In tensor shapes: split (B, T, d_model) → (B, n_head, T, head_dim), with head_dim = d_model / n_head; merge does the
# reverse. Head h takes the numbers h·head_dim … (h+1)·head_dim − 1 of every word. The heads axis sits right after
# the batch axis, so that `attention_weights` treats each head like another sentence of the batch.
#
# ### Exercise 2.4 — split into heads (2 points)

# %% [markdown] tags=["ja"]
# ## 5. 8 つのヘッド（スライド 33）
#
# スライド 33：「8つの異なる Attention Head で別々に計算し合算」「1個でやるよりも精度が高かった!」。
#
# 1 つのヘッドでは、各単語は「ここを見る」を 1 回しか言えません。でも単語は同時にいくつものものを必要とすることがあります。
# 主語、目的語、直前の単語…。**マルチヘッド Attention** は、いくつもの Attention を並べて走らせます。Transformer のベクトルは
# d_model = 512 個の数からなり、ヘッドが 8 つなら、各ヘッドは 512 / 8 = 64 個ずつの自分の担当部分を受け取り、その上で自分の重みを計算します。
# 8 つの結果は、横につなげて（連結して）元どおり 512 個の数に戻します。スライドは「合算」（足し合わせる）と書き、
# 論文は連結しています。どちらも正しいのです。層の最後には、つなげたベクトルにかける線形写像（`out_proj`、演習 2.6）があり、
# これは、その写像を 8 つに切り分けて各ヘッドに 1 切れずつ渡し、8 つの結果を **足し合わせる** のとまったく同じ計算です。
# 5 節の最後のセルで確かめます。
#
# テンソルの形で言うと、分割は (B, T, d_model) → (B, n_head, T, head_dim)（head_dim = d_model / n_head）、結合はその逆です。
# ヘッド h は、各単語の h·head_dim … (h+1)·head_dim − 1 番目の数を受け持ちます。ヘッドの軸をバッチの軸のすぐ後ろに置くので、
# `attention_weights` は各ヘッドをバッチの中の別の文のように扱えます。
#
# ### 演習 2.4 — ヘッドに分割する（2 点）

# %% nbgrader={"grade": false, "grade_id": "split_heads", "locked": false, "schema_version": 3, "solution": true, "task": false}
def split_heads(x, n_head):
    """(B, T, d_model) → (B, n_head, T, head_dim), head_dim = d_model // n_head   (slide 33)

    en: x: a tensor of shape (B, T, d_model), d_model divisible by n_head. Head h gets the slice
    en: x[:, :, h*head_dim:(h+1)*head_dim]. Returns a tensor of shape (B, n_head, T, head_dim).
    en: Hint: first x.view(B, T, n_head, head_dim), then swap the T and n_head axes with .transpose(1, 2).
    ja: x: 形 (B, T, d_model) のテンソル（d_model は n_head で割り切れる）。ヘッド h が受け持つのは
    ja: x[:, :, h*head_dim:(h+1)*head_dim]。戻り値: 形 (B, n_head, T, head_dim) のテンソル。
    ja: ヒント: まず x.view(B, T, n_head, head_dim)、それから .transpose(1, 2) で T と n_head の軸を入れ替える。
    """
    ### BEGIN SOLUTION
    B, T, d_model = x.shape
    return x.view(B, T, n_head, d_model // n_head).transpose(1, 2)    # (B, nh, T, hd)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "split_heads_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = torch.arange(2 * 3 * 8.0).view(2, 3, 8)       # en: word t of sentence b holds 8 numbers in a row  # ja: 文 b の単語 t は、8 個の数を並べて持つ
heads = split_heads(x, 2)
what, hint = tr("split_heads(x of shape (2, 3, 8), 2).shape", "split_heads(形が (2, 3, 8) の x, 2).shape"), tr("The result is (B, n_head, T, head_dim).", "結果の形は (B, n_head, T, head_dim) です。")
no_transpose = tr("That is (B, T, n_head, head_dim): swap the T and n_head axes with .transpose(1, 2).",
                  "それは (B, T, n_head, head_dim) です。.transpose(1, 2) で T と n_head の軸を入れ替えます。")
expect(tuple(heads.shape), (2, 2, 3, 4), what, hint, mistakes=[((2, 3, 2, 4), no_transpose)])
what = tr("split_heads(x, 2): head h of word t holds numbers 4h..4h+3 of word t",
          "split_heads(x, 2)：単語 t のヘッド h は、単語 t の 4h..4h+3 番目の数")
hint = tr("Head 1 takes numbers 4..7 of each word: view(B, T, n_head, head_dim), then transpose(1, 2).",
          "ヘッド 1 は、各単語の 4..7 番目の数を受け持ちます。view(B, T, n_head, head_dim) のあとで transpose(1, 2) です。")
plain_view = tr("A plain view(B, n_head, T, head_dim) cuts the numbers in the wrong places and mixes the words up: view(B, T, n_head, head_dim) first, then transpose(1, 2).",
                "いきなり view(B, n_head, T, head_dim) にすると、数を間違った場所で区切るので単語が混ざります。先に view(B, T, n_head, head_dim)、そのあとで transpose(1, 2) です。")
expect_close(heads, torch.stack([x[:, :, 0:4], x[:, :, 4:8]], dim=1), what, hint,
             mistakes=[(x.view(2, 2, 3, 4), plain_view)])
passed("Exercise 2.4")


# %% [markdown] tags=["en"]
# ### Exercise 2.5 — merge the heads (1 point)
#
# The reverse: glue the heads' results back side by side, (B, n_head, T, head_dim) → (B, T, n_head · head_dim).

# %% [markdown] tags=["ja"]
# ### 演習 2.5 — ヘッドを結合する（1 点）
#
# 逆の操作です。ヘッドの結果を横に並べてつなぎ直します：(B, n_head, T, head_dim) → (B, T, n_head · head_dim)。

# %% nbgrader={"grade": false, "grade_id": "merge_heads", "locked": false, "schema_version": 3, "solution": true, "task": false}
def merge_heads(x):
    """(B, n_head, T, head_dim) → (B, T, n_head * head_dim)   (slide 33)

    en: The inverse of split_heads.
    ja: split_heads の逆の操作。
    en: x: a tensor of shape (B, n_head, T, head_dim). Returns a tensor of shape (B, T, n_head * head_dim) in which
    en: word t holds head 0's numbers, then head 1's, and so on. merge_heads(split_heads(x, n)) gives back x.
    en: Hint: .transpose(1, 2) first, then .reshape(B, T, -1) (.view fails here: after a transpose the numbers
    en: are no longer in order in memory).
    ja: x: 形 (B, n_head, T, head_dim) のテンソル。戻り値: 形 (B, T, n_head * head_dim) のテンソル。単語 t には
    ja: ヘッド 0 の数、続いてヘッド 1 の数…が並ぶ。merge_heads(split_heads(x, n)) は x に戻る。
    ja: ヒント: 先に .transpose(1, 2)、それから .reshape(B, T, -1)（ここでは .view は失敗する。transpose の後は
    ja: メモリ上で数が順番に並んでいないため）。
    """
    ### BEGIN SOLUTION
    B, n_head, T, head_dim = x.shape
    return x.transpose(1, 2).reshape(B, T, n_head * head_dim)         # (B, T, d_model)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "merge_heads_check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = torch.randn(2, 5, 12)
heads = torch.stack(x.split(4, dim=-1), dim=1)    # en: (2, 3, 5, 4): what a right split_heads(x, 3) gives  # ja: (2, 3, 5, 4)：正しい split_heads(x, 3) が返すもの
what = tr("merge_heads(heads of shape (2, 3, 5, 4)).shape", "merge_heads(形が (2, 3, 5, 4) の heads).shape")
expect(tuple(merge_heads(heads).shape), (2, 5, 12), what)
what = "merge_heads(split_heads(x, 3)) == x"
hint = tr("Word t holds head 0's numbers, then head 1's, then head 2's.",
          "単語 t には、ヘッド 0 の数、続いてヘッド 1 の数、ヘッド 2 の数が並びます。")
no_transpose = tr("transpose(1, 2) back before the reshape, or the heads' numbers land on the wrong words.",
                  "reshape の前に transpose(1, 2) で軸を戻しましょう。そうしないと、ヘッドの数が別の単語に入ってしまいます。")
expect_close(merge_heads(heads), x, what, hint, mistakes=[(heads.reshape(2, 5, 12), no_transpose)])
passed("Exercise 2.5")

# %% [markdown] tags=["en"]
# Where does each number go? Below, "This is a pen." with d_model = 8 numbers per word, numbered 0 … 31 so that we
# can follow them, split into 2 heads of 4 numbers.

# %% [markdown] tags=["ja"]
# それぞれの数はどこへ行くのでしょう？ 下は「This is a pen.」で、1 語あたり d_model = 8 個の数（追いかけやすいように 0 … 31 の番号）を、
# 4 個ずつの 2 つのヘッドに分けたものです。

# %%
x = torch.arange(32.0).view(1, 4, 8)                          # (B=1, T=4, d_model=8)
heads = split_heads(x, n_head=2)                              # (1, 2, 4, 4)
fig, axes = plt.subplots(1, 3, figsize=(13, 3), gridspec_kw={"width_ratios": [8, 4, 4]})
plot.heatmap(x[0], words, [str(i) for i in range(8)], title="x: (T=4, d_model=8)", fmt="{:.0f}", ax=axes[0])
head_title = tr("head {h}: (T=4, head_dim=4)", "ヘッド {h}：(T=4, head_dim=4)")
for h in range(2):
    plot.heatmap(heads[0, h], words, [str(i) for i in range(4)], title=head_title.format(h=h), fmt="{:.0f}", ax=axes[1 + h])
plt.show()
print("split", tuple(x.shape), "→", tuple(heads.shape), "→ merge", tuple(merge_heads(heads).shape))


# %% [markdown] tags=["en"]
# ### Exercise 2.6 — multi-head self-attention, the whole layer (3 points)
#
# Now the full layer, as every Transformer has it. Four learned linear maps (`nn.Linear`, a matrix and a bias):
# `q_proj`, `k_proj`, `v_proj` make each word's query, key and value from its vector x — the *learned* version of
# section 1's hand-made Q and K — and `out_proj` mixes the merged heads at the end. In between: split into heads,
# attention weights (with the mask), weights @ values, merge.
#
# The `__init__` is written for you (the names matter: the grader loads weights into them). Write `forward`.

# %% [markdown] tags=["ja"]
# ### 演習 2.6 — マルチヘッド Self-Attention の層全体（3 点）
#
# いよいよ、どの Transformer にもある層の全体です。学習される 4 つの線形写像（`nn.Linear`：行列とバイアス）のうち、
# `q_proj`、`k_proj`、`v_proj` は各単語のベクトル x からクエリ・キー・値を作ります（1 節で手作りした Q と K の *学習される* 版です）。
# `out_proj` は最後に結合したヘッドを混ぜます。その間は：ヘッドに分割、（マスクつきの） Attention の重み、重み @ 値、結合。
#
# `__init__` は書いてあります（名前が大事です：採点ではここに重みを読み込みます）。`forward` を書いてください。

# %% nbgrader={"grade": false, "grade_id": "MultiHeadSelfAttention", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.n_head = n_head
        self.q_proj = nn.Linear(d_model, d_model)     # en: x → queries  # ja: x → クエリ
        self.k_proj = nn.Linear(d_model, d_model)     # en: x → keys  # ja: x → キー
        self.v_proj = nn.Linear(d_model, d_model)     # en: x → values  # ja: x → バリュー
        self.out_proj = nn.Linear(d_model, d_model)   # en: merged heads → output  # ja: 結合したヘッド → 出力

    def forward(self, x, mask=None):
        """out_proj(merge(softmax(q kᵀ / √head_dim) v)), with q, k, v = split(q_proj(x)), ...   (slide 33)

        en: x: (B, T, d_model); mask: None or a bool mask for attention_weights, e.g. causal_mask(T) or a padding
        en: mask of shape (B, 1, 1, T). Returns a tensor of shape (B, T, d_model).
        en: Steps: q, k, v = split_heads(self.q_proj(x), self.n_head), ... ; weights = attention_weights(q, k, mask);
        en: merge_heads(weights @ v); and finally self.out_proj. Use your functions from Exercises 2.2–2.5.
        en: Hint: inside attention_weights, d is q.size(-1) = head_dim, not d_model — which is what we want.
        ja: x: (B, T, d_model)。mask: None、または attention_weights 用の bool マスク（causal_mask(T) や
        ja: 形 (B, 1, 1, T) のパディングマスクなど）。戻り値: 形 (B, T, d_model) のテンソル。
        ja: 手順: q, k, v = split_heads(self.q_proj(x), self.n_head), ... ; weights = attention_weights(q, k, mask);
        ja: merge_heads(weights @ v)、最後に self.out_proj。演習 2.2–2.5 の自分の関数を使うこと。
        ja: ヒント: attention_weights の中の d は q.size(-1) = head_dim で、d_model ではない。それで正しい。
        """
        ### BEGIN SOLUTION
        q = split_heads(self.q_proj(x), self.n_head)          # (B, nh, T, hd)
        k = split_heads(self.k_proj(x), self.n_head)          # (B, nh, T, hd)
        v = split_heads(self.v_proj(x), self.n_head)          # (B, nh, T, hd)
        weights = attention_weights(q, k, mask)               # (B, nh, T, T)
        return self.out_proj(merge_heads(weights @ v))        # (B, T, d_model)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "MultiHeadSelfAttention_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# en: PyTorch's own nn.MultiheadAttention, given the same weights (it keeps q, k, v stacked in one in_proj matrix)
# ja: PyTorch 自身の nn.MultiheadAttention に同じ重みを入れる（q, k, v を 1 つの in_proj 行列に積み重ねて持っている）
torch.manual_seed(SEED)
mine = MultiHeadSelfAttention(d_model=16, n_head=4).eval()
reference = nn.MultiheadAttention(16, 4, batch_first=True).eval()
with torch.no_grad():
    reference.in_proj_weight.copy_(torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
    reference.in_proj_bias.copy_(torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]))
    reference.out_proj.weight.copy_(mine.out_proj.weight)
    reference.out_proj.bias.copy_(mine.out_proj.bias)
    x = torch.randn(2, 5, 16)
    got = mine(x)
    what, hint = "MultiHeadSelfAttention(16, 4)(x).shape", tr("The output has x's shape (B, T, d_model).",
                                                              "出力は x と同じ形 (B, T, d_model) です。")
    expect(tuple(got.shape), (2, 5, 16), what, hint)
    what = tr("same output as torch.nn.MultiheadAttention", "torch.nn.MultiheadAttention と同じ出力")
    hint = tr("Split q, k and v into heads, merge after weights @ v, and finish with self.out_proj.",
              "q, k, v をヘッドに分割し、weights @ v のあとで結合して、最後に self.out_proj をかけます。")
    expect_close(got, reference(x, x, x)[0], what, hint)
    # en: careful: PyTorch's attn_mask says True where a query may NOT look — the opposite of ours, hence the ~
    # ja: 注意：PyTorch の attn_mask は「見てはいけない」ところが True。私たちと逆なので ~ で反転する
    what, hint = tr("same output with a causal mask", "因果マスクありでも同じ出力"), tr("Pass the mask on to attention_weights.", "mask をそのまま attention_weights に渡します。")
    expect_close(mine(x, causal_mask(5)), reference(x, x, x, attn_mask=~causal_mask(5))[0], what, hint)
passed("Exercise 2.6")

# %% [markdown] tags=["en"]
# The Transformer's own sizes: d_model = 512 and 8 heads of 64. Splitting into heads costs **no** extra weights:
# the four 512 × 512 matrices are the same as for one big head — the 8 heads just use them in 8 slices.

# %% [markdown] tags=["ja"]
# Transformer 本来の大きさ：d_model = 512、64 ずつの 8 ヘッド。ヘッドに分けても重みは **まったく** 増えません。
# 4 つの 512 × 512 行列は 1 つの大きなヘッドのときと同じで、8 つのヘッドはそれを 8 つに切り分けて使うだけです。

# %%
layer = MultiHeadSelfAttention(d_model=512, n_head=8)
x = torch.randn(1, 4, 512)                                   # en: one sentence of 4 words  # ja: 4 語の文 1 つ
heads_label, output_label = tr("→ heads", "→ ヘッド"), tr("→ output", "→ 出力")
print("x", tuple(x.shape), heads_label, tuple(split_heads(layer.q_proj(x), 8).shape), output_label, tuple(layer(x).shape))
count = tr("{n:,} weights, with 8 heads or with 1", "重み {n:,} 個（ヘッドが 8 つでも 1 つでも同じ）")
print(count.format(n=sum(p.numel() for p in layer.parameters())))

# %% [markdown] tags=["en"]
# Slide 33's 合算, *added up*, in numbers. Cut `out_proj`'s matrix into 8 blocks of 64 columns, one per head: head
# h's output times its own block, summed over the 8 heads (plus the bias), is exactly `out_proj` of the glued heads.

# %% [markdown] tags=["ja"]
# スライド 33 の「合算」を数で確かめます。`out_proj` の行列を 64 列ずつ 8 つのブロック（ヘッドごとに 1 つ）に切り分けます。
# ヘッド h の出力に自分のブロックを掛け、8 つのヘッドについて足し合わせる（さらにバイアスを足す）と、つなげたヘッドに `out_proj` を
# かけたものとぴったり同じになります。

# %%
with torch.no_grad():
    q, k, v = (split_heads(proj(x), 8) for proj in (layer.q_proj, layer.k_proj, layer.v_proj))   # (1, 8, 4, 64)
    heads = attention_weights(q, k) @ v                       # en: (1, 8, 4, 64): each head's result  # ja: (1, 8, 4, 64)：各ヘッドの結果
    blocks = layer.out_proj.weight.split(64, dim=1)           # en: 8 blocks of (512, 64): one per head  # ja: (512, 64) のブロック 8 つ：ヘッドごとに 1 つ
    added_up = sum(heads[:, h] @ blocks[h].T for h in range(8)) + layer.out_proj.bias   # (1, 4, 512)
same = tr("concatenate, then out_proj == each head's own projection, added up:",
          "連結してから out_proj == 各ヘッドを自分のブロックで写して足し合わせたもの：")
print(same, torch.allclose(layer(x), added_up, atol=1e-5))

# %% [markdown] tags=["en"]
# ## 6. Grammar nobody taught: a trained attention map (slide 34)
#
# Slide 34: 「文法は教えてないけど、Attentionにより Making … more difficult という文法構造が浮かび上がる」 — *nobody taught
# it grammar, yet through attention the grammatical structure "making … more difficult" emerges.* The slide shows
# the attention of a trained Transformer: the word "making" looks at "more difficult", several words away.
#
# We can watch this happen on a small scale. The task: complete sentences like
#
#     the brave knights near the old dragon ___        →  "are"  (the knights are…)
#     the slime behind the angry wizards ___           →  "is"   (the slime is…)
#
# To choose *is* or *are*, the model must find the sentence's **subject**, skip the adjectives, and ignore the other
# noun — which is closer to the gap, and has the wrong number half of the time. We never tell it any of this: it
# sees only sentences and the right answers. The sentences are generated (nouns from a game, made plural with "s"):

# %% [markdown] tags=["ja"]
# ## 6. 教えていない文法：学習した Attention マップ（スライド 34）
#
# スライド 34：「文法は教えてないけど、Attentionにより Making … more difficult という文法構造が浮かび上がる」。
# スライドは学習済み Transformer の Attention を描いたもので、「making」という単語が数語離れた「more difficult」を見ています。
#
# これを小さな規模で実際に起こしてみましょう。課題は、次のような文を完成させることです：
#
#     the brave knights near the old dragon ___        →  "are"（騎士たちは…）
#     the slime behind the angry wizards ___           →  "is"（スライムは…）
#
# *is* か *are* かを選ぶには、文の **主語** を見つけ、形容詞を飛ばし、もう 1 つの名詞を無視しなければなりません。
# そちらの方が空欄に近く、しかも半分の確率で単数・複数が逆です。私たちはそのことを一切教えません。モデルが見るのは文と正解だけです。
# 文は自動生成します（名詞はゲームから。「s」をつけると複数形）：

# %%
NOUNS = ["knight", "dragon", "slime", "wizard", "goblin", "robot"]      # en: + "s": the plural  # ja: + "s"：複数形
ADJECTIVES = ["big", "small", "red", "old", "brave", "angry"]
PREPOSITIONS = ["near", "behind", "with"]
SLOT = "is/are?"                                                         # en: the gap to fill  # ja: 埋める空欄
VOCAB = ["<pad>", "the", SLOT] + ADJECTIVES + PREPOSITIONS + NOUNS + [n + "s" for n in NOUNS]
stoi = {w: i for i, w in enumerate(VOCAB)}
PAD_ID, SLOT_ID = stoi["<pad>"], stoi[SLOT]
BLOCK_SIZE = 10                                  # en: the longest sentence: the adj adj noun near the adj adj noun is/are?  # ja: いちばん長い文：the 形容詞 形容詞 名詞 near the 形容詞 形容詞 名詞 is/are?


def noun_phrase(rng):
    """
    en: the [0 to 2 adjectives] noun(s) → (words, is the noun plural?)
    ja: the [形容詞 0〜2 個] 名詞(s) → (単語のリスト, 名詞が複数形か)
    """
    plural = rng.random() < 0.5
    words = ["the"] + rng.sample(ADJECTIVES, rng.randint(0, 2)) + [rng.choice(NOUNS) + ("s" if plural else "")]
    return words, plural


def make_sentence(rng):
    """
    en: (words ending in the slot, label): label 1 = "are" (the subject is plural), 0 = "is".
    ja: (空欄で終わる単語のリスト, ラベル)：ラベル 1 = "are"（主語が複数）、0 = "is"。
    """
    words, plural = noun_phrase(rng)
    if rng.random() < 0.8:                       # en: most sentences get a second, distracting noun  # ja: ほとんどの文に、気をそらす 2 つ目の名詞をつける
        other, _ = noun_phrase(rng)
        words += [rng.choice(PREPOSITIONS)] + other
    return words + [SLOT], int(plural)


rng = random.Random(SEED)
for _ in range(4):
    sentence, label = make_sentence(rng)
    print(" ".join(sentence), "→", ["is", "are"][label])


# %% [markdown] tags=["en"]
# The model is as small as it gets: each word becomes a vector (a learned embedding, plus one for its position —
# attention alone does not know the word order), then **one** `MultiHeadAttention` layer (the course's, from
# `shikumi.attention`, with a single head), and the vector that comes out at the gap is turned into two scores,
# *is* and *are*. The padding mask keeps the gap from looking at `<pad>`. **Dropout**, standard in Transformers,
# zeroes a random 10 % of the numbers of the word vectors during training (and scales the rest up to make up for it).
# Since any number may vanish, the model cannot come to depend on one of them: it has to spread what it learns, which
# helps on sentences it has never seen. Dropout is a **regulariser**; it is off once training ends (`model.eval()`).
#
# *An embedding is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#embedding).*

# %% [markdown] tags=["ja"]
# モデルはこれ以上ないほど小さくします。各単語をベクトルにし（学習される埋め込み。Attention だけでは語順がわからないので、位置の埋め込みも足す）、
# Attention 層を **1 つだけ**（コースの `shikumi.attention` の `MultiHeadAttention`、ヘッドは 1 つ）通し、
# 空欄の位置から出てきたベクトルを *is* と *are* の 2 つのスコアに変えます。パディングマスクで、空欄が `<pad>` を見ないようにします。
# Transformer ではおなじみの **ドロップアウト** は、学習中に単語ベクトルの数のうちランダムな 10 % を 0 にします（残りはその分だけ大きくします）。
# どの数も消えるかもしれないので、モデルはどれか 1 つの数に頼りきることができず、学んだことを分散して持つしかありません。
# それが見たことのない文での正解率を助けます。ドロップアウトは **正則化** の一種で、学習が終わると（`model.eval()`）オフになります。
#
# *埋め込みは、[レッスン 00](00_first_neural_network.ipynb#embedding) で図といっしょに説明しています。*

# %%
class AgreementModel(nn.Module):
    """
    en: words → vectors → ONE attention layer → at the gap: a score for "is" and one for "are".
    ja: 単語 → ベクトル → Attention 層 1 つだけ → 空欄の位置で "is" と "are" のスコアを 1 つずつ。
    """

    def __init__(self, vocab_size, block_size, d_model=32, n_head=1, dropout=0.1):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)              # en: which word  # ja: どの単語か
        self.pos_emb = nn.Embedding(block_size, d_model)              # en: where it stands  # ja: どこにあるか
        self.drop = nn.Dropout(dropout)                               # en: while training, zero 10% of the numbers at random  # ja: 学習中は、数の 10% をランダムに 0 にする
        self.attn = attention.MultiHeadAttention(d_model, n_head)
        self.head = nn.Linear(d_model, 2)                             # 0: "is", 1: "are"

    def forward(self, tokens):                                        # en: tokens: (B, T) word ids  # ja: tokens：(B, T) の単語 ID
        B, T = tokens.shape
        x = self.tok_emb(tokens) + self.pos_emb(torch.arange(T, device=tokens.device))   # (B, T, d_model)
        mask = attention.padding_mask(tokens, PAD_ID)                 # en: (B, 1, 1, T): nobody looks at <pad>  # ja: (B, 1, 1, T)：誰も <pad> を見ない
        x = self.attn(self.drop(x), mask=mask, need_weights=True)                # en: (B, T, d_model); keeps attn.last_weights  # ja: (B, T, d_model)。重みは attn.last_weights に残る
        gap = (tokens == SLOT_ID).int().argmax(dim=1)                 # en: (B,): where "is/are?" stands  # ja: (B,)："is/are?" の位置
        return self.head(x[torch.arange(B), gap])                     # (B, 2)


def encode(words):
    return [stoi[w] for w in words] + [PAD_ID] * (BLOCK_SIZE - len(words))


def make_batch(rng, batch_size=256):
    sentences = [make_sentence(rng) for _ in range(batch_size)]
    tokens = torch.tensor([encode(words) for words, _ in sentences])   # (B, BLOCK_SIZE)
    labels = torch.tensor([label for _, label in sentences])          # (B,)
    return tokens, labels


train_rng, val_rng = random.Random(SEED), random.Random(SEED + 1)


# %% [markdown] tags=["en"]
# Training uses the course's one training loop (`shikumi.train`): show a batch, measure the mistake (cross-entropy),
# nudge the weights, repeat. A few seconds on a laptop.
#
# *Cross-entropy is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#cross-entropy).*

# %% [markdown] tags=["ja"]
# 学習にはコース共通の学習ループ（`shikumi.train`）を使います。バッチを見せ、間違いの大きさ（交差エントロピー）を測り、
# 重みを少し動かす、を繰り返します。ノートパソコンで数秒です。
#
# *交差エントロピーは、[レッスン 00](00_first_neural_network.ipynb#cross-entropy) で図といっしょに説明しています。*

# %%
def get_batch(split):
    return make_batch(train_rng if split == "train" else val_rng)


def loss_fn(model, batch):
    tokens, labels = batch
    return F.cross_entropy(model(tokens), labels)


# en: A model this small trains fastest on one CPU thread: with more, the threads mostly wait for each other.
# ja: これほど小さなモデルは CPU 1 スレッドがいちばん速い（スレッドを増やしても、互いを待つ時間が増えるだけ）。
torch.set_num_threads(1)
seed_everything(SEED)
model = AgreementModel(len(VOCAB), BLOCK_SIZE).to(device)
size = tr("a model of {n:,} weights", "重み {n:,} 個のモデル")
print(size.format(n=sum(p.numel() for p in model.parameters())))
config = TrainConfig(max_steps=100 if SIZE == "quick" else 400, lr=1e-2, warmup_steps=20, eval_every=20, device=DEVICE)
history = train(model, get_batch, loss_fn, config)
result = tr("{s:.1f} s; held-out loss {loss:.4f}", "{s:.1f} 秒、評価用の文での損失 {loss:.4f}")
print(result.format(s=history.seconds, loss=history.eval_loss[-1]))
series, title, xlabel, ylabel = tr("training loss", "学習中の損失"), tr("learning is/are", "is/are の学習"), tr("step", "ステップ"), tr("loss", "損失")
plot.lines(history.step, {series: history.train_loss}, title=title, xlabel=xlabel, ylabel=ylabel, logy=True)
plt.show()


# %% [markdown] tags=["en"]
# Does it work on sentences it has never seen? We also try the obvious shortcut, "copy the number of the noun
# nearest to the gap": it is right on easy sentences and **always wrong** on the *hard* ones, where the two nouns
# differ in number. The model must have found something better.

# %% [markdown] tags=["ja"]
# 見たことのない文でもうまくいくでしょうか？ ついでに、すぐ思いつく近道「空欄にいちばん近い名詞の単数・複数をまねる」も試します。
# この近道は簡単な文では正解しますが、2 つの名詞の単数・複数が違う *難しい* 文では **必ず間違えます**。モデルはもっと良いやり方を見つけたはずです。

# %%
def is_noun(word):
    return word in NOUNS or word[:-1] in NOUNS

test_rng = random.Random(SEED + 2)
test = [make_sentence(test_rng) for _ in range(1000)]
tokens = torch.tensor([encode(words) for words, _ in test]).to(device)
labels = torch.tensor([label for _, label in test])
with torch.no_grad():
    predicted = model(tokens).argmax(dim=-1).cpu()
nouns = [[w for w in words if is_noun(w)] for words, _ in test]
nearest = torch.tensor([int(ns[-1].endswith("s")) for ns in nouns])          # en: the shortcut  # ja: 近道
hard = torch.tensor([len(ns) == 2 and ns[0].endswith("s") != ns[1].endswith("s") for ns in nouns])
names = (tr("attention model", "Attention モデル"), tr("nearest-noun shortcut", "近道（いちばん近い名詞）"))
score = tr("{name:22s}: {all:6.1%} right on all sentences, {hard:6.1%} on the {n} hard ones",
           "{name}：全文で {all:.1%}、難しい {n} 文で {hard:.1%} が正解")
for name, guess in zip(names, (predicted, nearest)):
    right = guess == labels
    print(score.format(name=name, all=right.float().mean(), hard=right[hard].float().mean(), n=int(hard.sum())))


# %% [markdown] tags=["en"]
# Now the attention map: for a few held-out sentences, the row of the gap — how much attention "is/are?" paid to each
# word. Nobody told the model what a subject is.

# %% [markdown] tags=["ja"]
# では Attention マップを見てみましょう。評価用の文をいくつか選び、空欄の行、つまり「is/are?」が各単語にどれだけ注目したかを描きます。
# 主語とは何かを、モデルに教えた人は誰もいません。

# %%
def gap_attention(words):
    """
    en: The weights of the gap's row: how much "is/are?" looks at each word; and the model's P(are).
    ja: 空欄の行の重み（"is/are?" が各単語をどれだけ見ているか）と、モデルの P(are)。
    """
    tokens = torch.tensor([encode(words)]).to(device)
    with torch.no_grad():
        p_are = model(tokens).softmax(dim=-1)[0, 1].item()
    row = model.attn.last_weights[0, 0, len(words) - 1, : len(words)]     # en: (B, n_head, T, T) → the gap's row  # ja: (B, n_head, T, T) → 空欄の行
    return row.cpu(), p_are


examples = [words for words, _ in test if len(words) >= 8][:4]
fig, axes = plt.subplots(len(examples), 1, figsize=(9, 1.5 * len(examples)))
for ax, words in zip(axes, examples):
    row, p_are = gap_attention(words)
    answer = "are" if p_are > 0.5 else "is"
    plot.heatmap(row[None], [f"→ {answer} ({max(p_are, 1 - p_are):.0%})"], words, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown] tags=["en"]
# The gap looks at the **subject** — the first noun — and almost nowhere else: not at "the", not at the adjectives,
# and not at the other noun, even when it stands right next to the gap. The model discovered "the verb agrees with its
# subject" on its own, because that is where the answer is. Averaged over the held-out sentences that have a
# second noun to be fooled by:

# %% [markdown] tags=["ja"]
# 空欄は **主語**、つまり最初の名詞を見ていて、ほかはほとんど見ていません。「the」も形容詞も、空欄のすぐ隣にあるもう 1 つの名詞も見ていません。
# 答えがそこにあるから、モデルは「動詞は主語に一致する」ことを自力で見つけたのです。気をそらすもう 1 つの名詞がある評価用の文で平均すると：

# %%
with torch.no_grad():
    model(tokens)
gap_rows = model.attn.last_weights[:, 0].cpu()                   # (N, T, T)
on_subject, on_other = [], []
for i, (words, _) in enumerate(test):
    noun_positions = [j for j, w in enumerate(words) if is_noun(w)]
    if len(noun_positions) == 2:                                 # en: the sentences with a second, distracting noun  # ja: 気をそらす 2 つ目の名詞がある文
        row = gap_rows[i, len(words) - 1]
        on_subject.append(row[noun_positions[0]].item())
        on_other.append(row[noun_positions[1]].item())
subject_share, other_share = sum(on_subject) / len(on_subject), sum(on_other) / len(on_other)
heading = tr("the gap's attention, averaged over the {n} held-out sentences with two nouns:",
             "2 つの名詞を含む評価用の文 {n} 個で平均した、空欄からの注目：")
subject, other = tr("  on the subject:   ", "  主語へ："), tr("  on the other noun:", "  もう 1 つの名詞へ：")
rest = tr("  on everything else (the, adjectives, the preposition, the gap itself):",
          "  それ以外（the、形容詞、前置詞、空欄自身）へ：")
print(heading.format(n=len(on_subject)))
print(f"{subject} {subject_share:.2f}")
print(f"{other} {other_share:.2f}")
print(f"{rest} {1 - subject_share - other_share:.2f}")


# %% [markdown] tags=["en"]
# **Your turn.** Type a sentence made of the words above (for example *the old robots with the slime*, or try to
# fool it with *the dragon behind the big brave knights*) and see where the gap looks and what the model answers.

# %% [markdown] tags=["ja"]
# **やってみよう。** 上の単語で文を作って入力してください（たとえば *the old robots with the slime*、
# あるいは *the dragon behind the big brave knights* でだましてみる）。空欄がどこを見て、モデルが何と答えるかがわかります。

# %%
def show_sentence(sentence="the brave knights near the old dragon"):
    words = sentence.lower().split() + [SLOT]
    unknown = [w for w in words if w not in stoi]
    if unknown or len(words) > BLOCK_SIZE:
        hint = tr("unknown words {unknown} or too long; use at most {n} of: the {vocab}",
                  "知らない単語 {unknown} があるか、長すぎます。次の単語を {n} 個まで使えます：the {vocab}")
        print(hint.format(unknown=unknown, n=BLOCK_SIZE - 1, vocab=" ".join(VOCAB[3:])))
        return
    row, p_are = gap_attention(words)
    answer = "are" if p_are > 0.5 else "is"
    title = tr("where the gap looks", "空欄が見ている場所")
    plot.heatmap(row[None], [f"→ {answer} ({max(p_are, 1 - p_are):.0%})"], words, title=title)
    plt.show()

sentence_label = tr("sentence", "文")
widgets.interactive(show_sentence, sentence=widgets.Text(value="the brave knights near the old dragon", description=sentence_label,
                                                         continuous_update=False, layout=widgets.Layout(width="60%")))

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slides 17 and 32:** attention scores every pair of words — query · key — and a softmax turns each row into
#   weights that sum to 1. You computed slide 32's table for "This is a pen." from vectors you could read, and wrote a
#   softmax that does not overflow.
# - **The formula** softmax(QKᵀ/√d)V, checked against PyTorch: the √d keeps the softmax from saturating as vectors
#   grow; masks keep a word from seeing the future (causal) or the padding.
# - **Slide 33:** 8 heads = the same weights cut into 8 slices, each head attending on its own; gluing their results
#   and applying `out_proj` is the same as adding up each head's own projection (the slide's 合算). Your
#   `MultiHeadSelfAttention` computes exactly what `torch.nn.MultiheadAttention` does.
# - **Slide 34:** a one-layer attention model learned subject–verb agreement, and its attention map shows the grammar
#   it was never told: the gap looks at the subject.
#
# Next, lesson 03 stacks these layers into the full Transformer of slides 26–31 and trains it to translate.
#
# **To discuss:** Slide 34 says grammar "emerges" (浮かび上がる) from attention. Our model found the subject because
# that was the only way to get the answer right. Is that *understanding* grammar? What would you test to find out?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 17・32：** Attention はすべての単語の組を採点し（クエリ · キー）、softmax で各行を合計 1 の重みに変えます。
#   中身の読めるベクトルから「This is a pen.」のスライド 32 の表を計算し、あふれない softmax を書きました。
# - **式** softmax(QKᵀ/√d)V を PyTorch と照らし合わせました。√d はベクトルが大きくなっても softmax が飽和しないようにし、
#   マスクは単語が未来（因果マスク）やパディングを見ないようにします。
# - **スライド 33：** 8 つのヘッド = 同じ重みを 8 つに切り分け、各ヘッドが別々に Attention を計算したもの。結果をつなげて `out_proj` をかけるのは、
# 各ヘッドを自分の切れ端で写して足し合わせる（スライドの「合算」）のと同じ計算です。
#   あなたの `MultiHeadSelfAttention` は `torch.nn.MultiheadAttention` とまったく同じ計算をします。
# - **スライド 34：** 1 層の Attention モデルが主語と動詞の一致を学び、その Attention マップには教えていない文法が現れました。空欄は主語を見ています。
#
# 次のレッスン 03 では、この層を積み重ねてスライド 26–31 の Transformer 全体を作り、翻訳を学習させます。
#
# **話し合ってみよう：** スライド 34 は、文法が Attention から「浮かび上がる」と言います。私たちのモデルが主語を見つけたのは、
# そうしなければ正解できなかったからです。これは文法を *理解* していると言えるでしょうか？ それを確かめるには、何を試せばよいでしょう？
