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
#     lesson: 04_gpt
#     title:
#       en: GPT
#       ja: GPT
# ---

# %% [markdown] tags=["en"]
# # 04 · GPT (slides 12–15, 21, 25, 37–39)
#
# > **Slide 13:** GPT: Generative Pretrained Transformer — 「でかいTransformerを大量に事前学習させたやつ」 —
# > *a big Transformer, pre-trained on a huge amount of text.*
#
# Lesson 03 built a Transformer with two halves, an encoder and a decoder. GPT keeps only the decoder and makes it
# very big: that alone is a **language model** (slide 21: 「Transformerは言語モデルになる!」), the thing lesson 01
# built by counting — and, made big, a **large language model**, an **LLM** (slide 21: 「そしてGPTは大規模言語モデル(LLM)である」). This lesson builds a small GPT, trains it on Shakespeare, and looks at what makes the big ones big.
#
# **What you will build**
# - A GPT **Block** (pre-LN, as GPT-2 moved it), and an exact **parameter count** that reproduces slide 14's table:
#   GPT-1 1億1700万 (117 M), GPT-2 15億 (1.5 B), GPT-3 1750億 (175 B).
# - A character-level GPT that has read six Shakespeare tragedies, measured on a play it has never seen, **against
#   the best of n-gram models like lesson 01's, now counting characters**.
# - Slide 25's decoding — greedy, temperature and top-k sampling, with sliders — and slide 38's **chat memory**:
#   earlier turns pasted into a context window of fixed size.
#
# The picture from the talk: slide 14's table, where GPT-1, 2 and 3 differ mainly in one column — the parameter count.

# %% [markdown] tags=["ja"]
# # 04 · GPT（スライド 12–15, 21, 25, 37–39）
#
# > **スライド 13:** GPT：Generative Pretrained Transformer ——「でかいTransformerを大量に事前学習させたやつ」
#
# レッスン 03 では、エンコーダとデコーダの 2 つからなる Transformer を作りました。GPT はデコーダだけを残し、それをとても大きくしたものです。
# それだけで **言語モデル** になります（スライド 21：「Transformerは言語モデルになる!」）。レッスン 01 で「数える」ことで作ったあれです。
# こうしてとても大きくした言語モデルが **大規模言語モデル（LLM）** です（スライド 21：「そしてGPTは大規模言語モデル(LLM)である」）。
# このレッスンでは小さな GPT を作り、シェイクスピアで学習させ、大きな GPT がなぜ大きいのかを見ていきます。
#
# **このレッスンで作るもの**
# - GPT の **ブロック**（GPT-2 が位置を変えた pre-LN 版）と、スライド 14 の表を再現する正確な **パラメータ数の計算**：
#   GPT-1 1億1700万、GPT-2 15億、GPT-3 1750億。
# - シェイクスピアの悲劇 6 作を読んだ文字単位の GPT。一度も読んでいない劇で、**レッスン 01 と同じ n-gram モデル（ただし文字単位）の最良のものと勝負** します。
# - スライド 25 の生成方法（貪欲法、温度と top-k によるサンプリング、スライダーつき）と、スライド 38 の **チャットの文脈保持**：
#   それまでの発言を、決まった大きさの文脈ウィンドウに貼り付けて入力します。
#
# プレゼンの中の 1 枚：スライド 14 の表。GPT-1、2、3 の違いは、ほぼ 1 つの列 —— パラメータ数です。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `MODEL = "train"` trains the GPT here, from nothing, in about two minutes, and
# you watch it learn; `MODEL = "shipped"` loads the one trained for the course instead (for a slow machine: the
# grader uses it too). `SIZE = "full"` trains a bigger GPT on all the other plays (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`MODEL = "train"` なら、GPT をここで一から 2 分ほどかけて学習させ、学習していく様子を見られます。
# `MODEL = "shipped"` なら、コース用に学習済みのモデルを読み込みます（遅いマシン向け。採点もこちらを使います）。
# `SIZE = "full"` にすると、残りの全作品で大きめの GPT を学習します（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" (a GPU if there is one), "cpu" or "cuda". SEED: any whole number.
# en: MODEL: "train" trains the GPT here (about 2 minutes); "shipped" loads the trained one (what the grader uses).
# en: TRAIN_SECONDS: with MODEL = "train", stop the training after this many seconds, as Stop does (None: all of it).
# en: SIZE: "quick" is the small GPT; "full" trains a bigger one (GPU).
# ja: DEVICE は "auto"（GPU があれば GPU）・"cpu"・"cuda" のどれか。SEED は好きな整数。
# ja: MODEL は "train" ならここで GPT を学習（2 分ほど）、"shipped" なら学習済みのものを読み込みます（採点はこちら）。
# ja: TRAIN_SECONDS は MODEL = "train" のとき、この秒数で学習を止めます（「止める」と同じ。None なら最後まで）。
# ja: SIZE は "quick" なら小さな GPT、"full" なら大きめのものを学習します（GPU 向け）。
DEVICE = "auto"
SIZE = "quick"
SEED = 0
MODEL = "train"
TRAIN_SECONDS = None

# %%
import dataclasses
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from shikumi import get_device, gpt, ngram, plot, seed_everything
from shikumi.attention import MultiHeadAttention, causal_mask
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.live import LiveTraining
from shikumi.train import TrainConfig, train
from shikumi.zoo import gpt_shakespeare

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. GPT: a Transformer decoder that predicts the next character (slides 12–13, 21, 30)
#
# Slide 30 described the decoder's basic job: 「いままで生成した文章を入れて次の一単語を出す」 — *take the text
# generated so far, output the next word*. Take away the encoder and that job is exactly a language model (slide 23).
# GPT is that decoder, stacked many times and pre-trained on a mountain of text (slide 13).
#
# Slide 12 writes GPT as 「TransformerXL + 事前学習 + (ファインチューニング)」. The recipe is right; one name is a
# near miss. GPT is a *decoder-only Transformer* (Radford et al., 2018, *Improving Language Understanding by
# Generative Pre-Training*). **Transformer-XL** (Dai et al., 2019) is a different model of the same years, a Transformer
# that carries a memory of the previous stretch of text along. So: a Transformer, plus pre-training — which is what
# this lesson builds.
#
# Our GPT reads **characters**, not words (slide 35 skips tokenisation; lesson 09 comes back to it): its vocabulary
# is the 82 characters that appear in Shakespeare. And we train it right here, from random numbers: six tragedies,
# about two minutes on two CPU cores. Watch three things while it learns: the loss on the training plays falls,
# the loss on **The Tempest** — a play it never reads, our held-out text — falls with it, and the sample of text
# it writes every few seconds turns from random letters into words, speaker names and verse. The dotted line is
# 2.0 nats per character, about where counting characters (section 5) stops. You can press **Stop** at any time:
# the lesson continues with the model as it is at that moment. (With `MODEL = "shipped"` the lesson loads a GPT
# trained the same way for ten minutes instead, its SHA-256 checked first.)

# %% [markdown] tags=["ja"]
# ## 1. GPT：次の文字を予測する Transformer デコーダ（スライド 12–13, 21, 30）
#
# スライド 30 はデコーダの基本動作をこう説明していました：「いままで生成した文章を入れて次の一単語を出す」。
# エンコーダを取り去ると、この動作はそのまま言語モデルです（スライド 23）。GPT はこのデコーダを何層も積み重ね、
# 山のようなテキストで事前学習したものです（スライド 13）。
#
# スライド 12 は GPT を「TransformerXL + 事前学習 + (ファインチューニング)」と書いています。考え方はそのとおりで、名前が 1 つだけ惜しいのです。
# GPT は *デコーダだけの Transformer* です（Radford ほか 2018『Improving Language Understanding by Generative Pre-Training』）。
# **Transformer-XL**（Dai ほか 2019）は同じころの別のモデルで、直前の文章の計算結果を記憶として持ち越す Transformer です。
# つまり「Transformer ＋ 事前学習」。このレッスンで作るのはそれです。
#
# 私たちの GPT が読むのは単語ではなく **文字** です（スライド 35 はトークナイズの話を割愛しています。レッスン 09 でその話に戻ります）。
# 語彙はシェイクスピアに出てくる 82 文字。そしてこの GPT を、ここで、でたらめな数から学習させます。読むのは悲劇 6 作、CPU 2 コアで 2 分ほどです。
# 学習中は 3 つのものを見てください。学習に使う劇での損失が下がること、一度も読ませない劇 **『テンペスト』**（評価用データ）での損失も
# いっしょに下がること、そして数秒ごとに GPT が書く文章が、でたらめな文字の並びから、単語や話者名や韻文に変わっていくこと。
# 点線は 1 文字あたり 2.0 nats、文字を数えるだけのモデル（5 節）がだいたい止まるところです。**止める** ボタンはいつ押しても構いません。
# レッスンはその時点のモデルで続きます（`MODEL = "shipped"` なら、同じやり方で 10 分学習した GPT を、SHA-256 を確かめてから読み込みます）。

# %%
if MODEL == "train" or SIZE == "full":
    # en: a live loss plot, a sample every 10 s from the same prompt, and a Stop button that keeps the model
    # ja: 損失のグラフがその場で伸び、10 秒ごとに同じ書き出しから生成例が出ます。「止める」を押すと、その時点のモデルを使います
    watch = LiveTraining(sample_fn=gpt_shakespeare.sampler("ROMEO\n"), every_s=10, goal=2.0,
                         stop_after_s=TRAIN_SECONDS)
    bard, history = gpt_shakespeare.train_gpt("live" if SIZE == "quick" else SIZE, device=DEVICE, seed=SEED, live=watch)
    tok = gpt_shakespeare.tokenizer()
else:
    bard, tok = gpt_shakespeare.load_gpt_shakespeare(device)   # en: the shipped checkpoint, its SHA-256 verified  # ja: 同梱のチェックポイント（SHA-256 を確認済み）
bard = bard.to(device).eval()
print(bard.config)
summary = tr(f"{bard.num_parameters():,} parameters; vocabulary: {tok.vocab_size} characters",
             f"パラメータ {bard.num_parameters():,} 個、語彙 {tok.vocab_size} 文字")
print(summary)
print(repr("".join(tok.itos)))


# %% [markdown] tags=["en"]
# Give it the start of a speech and let it write (how it picks each character is section 6):

# %% [markdown] tags=["ja"]
# 台詞の書き出しを与えて、続きを書かせてみましょう（1 文字ずつの選び方は 6 節で扱います）：

# %%
def complete(prompt, temperature=0.8, top_k=None, n=150, seed=SEED):
    """
    en: The model's continuation of `prompt`: n new characters.
    ja: モデルが書く `prompt` の続き：新しい n 文字。
    """
    ids = gpt_shakespeare.encode(prompt, tok)[None].to(device)                       # (1, T)
    g = torch.Generator(device=device).manual_seed(seed)
    out = bard.generate(ids, n, temperature=temperature, top_k=top_k or None, generator=g)  # (1, T + n)
    return tok.decode(out[0, ids.size(1):].tolist())

print("JULIET\n" + complete("JULIET\n"))

# %% [markdown] tags=["en"]
# Not Shakespeare, but clearly *shaped* like him: speaker names in capitals, short verse lines, blank lines between
# speeches, English-looking words. All of it came from predicting one character at a time.
#
# What goes in and what comes out: a batch of character ids `(B, T)` in, and for **every** position a score (a
# *logit*) for each of the 82 characters that could come next, `(B, T, 82)`. Position t may look only at positions
# ≤ t — the **causal mask** from lesson 02 — so during training all T predictions are learned at once, without
# letting any position peek at the answer.

# %% [markdown] tags=["ja"]
# シェイクスピアそのものではありませんが、明らかに彼の *形* をしています。大文字の話者名、短い韻文の行、台詞の間の空行、英語らしい単語。
# これがすべて「1 文字ずつ次を予測する」だけから出てきました。
#
# 入力と出力：文字 ID のバッチ `(B, T)` を入れると、**すべての** 位置について、次に来うる 82 文字それぞれのスコア（*ロジット*）
# `(B, T, 82)` が出てきます。位置 t が見てよいのは t 以前の位置だけ —— レッスン 02 の **因果マスク（causal mask）** です。
# だから学習のときは T 個の予測を一度に学べて、しかもどの位置も答えを盗み見できません。

# %%
x = gpt_shakespeare.encode("To be, or not", tok)[None].to(device)    # (1, 13)
with torch.no_grad():
    logits = bard(x)
print(tr("input", "入力"), tuple(x.shape), tr("→ logits", "→ ロジット"), tuple(logits.shape))

# %% [markdown] tags=["en"]
# The causal mask behind those 13 predictions, drawn for the first six characters, "To be,": 1 where a row (a query,
# the position that predicts the next character) may look at a column (a key), 0 where it may not. Every position sees
# itself and what comes before it, never what comes after.

# %% [markdown] tags=["ja"]
# この 13 個の予測の裏にある因果マスクを、最初の 6 文字「To be,」について描きます。行（クエリ：次の文字を予測する位置）が
# 列（キー）を見てよいところが 1、見てはいけないところが 0 です。どの位置も、自分自身とそれより前だけを見て、後ろは決して見ません。

# %%
# en: ␣ stands for the space
# ja: ␣ は空白のこと
chars = ["T", "o", "␣", "b", "e", ","]
title = tr("causal mask: may row (query) look at column (key)?", "因果マスク：行（クエリ）は列（キー）を見てよいか？")
plot.heatmap(causal_mask(len(chars)).int(), chars, chars, fmt="{:.0f}", title=title)
plt.show()


# %% [markdown] tags=["en"]
# ## 2. One Block, and where its LayerNorms go (slide 14)
#
# A GPT is `n_layer` identical **Blocks** on top of each other. Each Block has the two parts you met in lessons 02–03:
# - **causal self-attention**: every character gathers information from the characters before it;
# - an **MLP**: every position alone, widened to 4 × d_model, a GELU, and back to d_model.
#
# Each part is wrapped in a **residual connection** (`x = x + part(x)`) and a **LayerNorm**. Slide 14 lists, among
# GPT-2's changes, 「正規化レイヤーの位置変えた」 — *moved the normalisation layers*. GPT-1 (like the 2017 Transformer
# of lesson 03) normalises *after* adding, **post-LN**; GPT-2 normalises what goes *into* each part, **pre-LN**:
#
#     post-LN (GPT-1):   x = LayerNorm(x + Attention(x))         pre-LN (GPT-2):   x = x + Attention(LayerNorm(x))
#                        x = LayerNorm(x + MLP(x))                                 x = x + MLP(LayerNorm(x))
#
# In pre-LN the residual path `x → x + … → x + …` goes from the embedding to the output untouched, a clean highway
# for the signal and its gradient. Section 3 shows why that matters.
#
# ### Exercise 4.1 — a pre-LN GPT Block (3 points)
#
# The parts are ready in `__init__`; write `forward`. Keep the attribute names: the grader (and the self-check) load
# trained weights into your Block by these names.
#
# *An embedding is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#embedding).*
#
# *ReLU and GELU is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#relu-gelu).*

# %% [markdown] tags=["ja"]
# ## 2. ブロック 1 つと、LayerNorm の位置（スライド 14）
#
# GPT は同じ形の **ブロック** を `n_layer` 個積み重ねたものです。各ブロックには、レッスン 02–03 で見た 2 つの部品があります：
# - **因果 Self-Attention**：各文字が、自分より前の文字から情報を集める。
# - **MLP**：位置ごとに独立に、4 × d_model に広げて GELU をかけ、d_model に戻す。
#
# どちらの部品も **残差接続**（`x = x + 部品(x)`）と **LayerNorm** で包まれています。スライド 14 は GPT-2 の変更点のひとつに
# 「正規化レイヤーの位置変えた」を挙げています。GPT-1（とレッスン 03 の 2017 年の Transformer）は足したあとに正規化する **post-LN**、
# GPT-2 は各部品に *入る前* に正規化する **pre-LN** です：
#
#     post-LN (GPT-1):   x = LayerNorm(x + Attention(x))         pre-LN (GPT-2):   x = x + Attention(LayerNorm(x))
#                        x = LayerNorm(x + MLP(x))                                 x = x + MLP(LayerNorm(x))
#
# pre-LN では残差の道 `x → x + … → x + …` が埋め込みから出力まで手つかずで通ります。信号と勾配のためのきれいな高速道路です。
# それがなぜ大事かは 3 節で見ます。
#
# ### 演習 4.1 — pre-LN の GPT ブロック（3 点）
#
# 部品は `__init__` で用意してあります。`forward` を書いてください。属性名は変えないこと：採点（とセルフチェック）は、
# その名前で学習済みの重みをあなたのブロックに読み込みます。
#
# *埋め込みは、[レッスン 00](00_first_neural_network.ipynb#embedding) で図といっしょに説明しています。*
#
# *ReLU と GELU は、[レッスン 00](00_first_neural_network.ipynb#relu-gelu) で図といっしょに説明しています。*

# %% nbgrader={"grade": false, "grade_id": "Block", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Block(nn.Module):
    """GPT-2 Block, pre-LN:   x = x + attn(ln_1(x), mask);   x = x + mlp(ln_2(x))   (slide 14)

    en: x: (B, T, d_model), the vectors of T characters. Returns a tensor of the same shape (B, T, d_model).
    en: The attention must be causal: position t may only look at positions <= t. Build the mask with
    en: causal_mask(T, device=x.device), a (T, T) bool tensor, and pass it as self.attn(..., mask=mask).
    en: Hint: the LayerNorm goes INSIDE the branch (before attn / mlp); the residual adds the branch to x itself.
    ja: x: (B, T, d_model)、T 文字分のベクトル。戻り値: 同じ形 (B, T, d_model) のテンソル。
    ja: Attention は因果的に：位置 t が見てよいのは t 以前だけ。マスクは causal_mask(T, device=x.device)
    ja: （(T, T) の bool テンソル）で作り、self.attn(..., mask=mask) と渡す。
    ja: ヒント: LayerNorm は枝の「中」（attn / mlp の前）。残差では、枝の出力を x そのものに足す。
    """

    def __init__(self, d_model, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_head)    # en: q_proj, k_proj, v_proj, out_proj  # ja: q_proj、k_proj、v_proj、out_proj
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = gpt.MLP(d_model)                         # Linear(d, 4d) → GELU → Linear(4d, d)

    def forward(self, x):
        ### BEGIN SOLUTION
        mask = causal_mask(x.size(1), device=x.device)
        x = x + self.attn(self.ln_1(x), mask=mask)
        x = x + self.mlp(self.ln_2(x))
        return x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "Block_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# en: Your Block, given the trained GPT's first Block's weights, must compute exactly what that Block computes.
# ja: 学習済み GPT の 1 つ目のブロックの重みを入れたあなたのブロックは、そのブロックとまったく同じ計算をするはずです。
mine = Block(bard.config.d_model, bard.config.n_head).to(device)
mine.load_state_dict(bard.blocks[0].state_dict())
mine.eval()
ids = gpt_shakespeare.encode("To be, or not to be", tok)[None].to(device)                           # (1, 19)
with torch.no_grad():
    x = bard.token_embedding(ids) + bard.position_embedding(torch.arange(ids.size(1), device=device))
    got, want = mine(x), bard.blocks[0](x)
    # en: change only the last character's vector: the outputs before it must stay the same
    # ja: 最後の文字のベクトルだけを変える：それより前の出力は変わらないはず
    changed = x.clone()
    changed[:, -1] += 1.0
    got_changed = mine(changed)
what, hint = tr("output shape", "出力の形"), tr("Return a tensor shaped like x.", "x と同じ形のテンソルを返します。")
expect(tuple(got.shape), tuple(want.shape), what, hint)
what, hint = tr("your Block = the trained GPT's Block", "あなたの Block = 学習済み GPT のブロック"), tr("Pre-LN: x = x + attn(ln_1(x), mask=mask), then x = x + mlp(ln_2(x)).", "pre-LN です：x = x + attn(ln_1(x), mask=mask)、続いて x = x + mlp(ln_2(x))。")
expect_close(got, want, what, hint)
what = tr("earlier positions ignore a change to the last one", "最後の位置を変えても、それより前の位置の出力は変わらない")
hint = tr("Pass mask=causal_mask(T, device=x.device) to self.attn.",
          "self.attn に mask=causal_mask(T, device=x.device) を渡します。")
expect_close(got_changed[:, :-1], got[:, :-1], what, hint, atol=1e-6)
passed("Exercise 4.1")

# %% [markdown] tags=["en"]
# ## 3. Why move the LayerNorm? Pre-LN against post-LN (slide 14)
#
# An experiment: two identical small GPTs — 4 Blocks, same seed, same Shakespeare batches, the same brisk learning
# rate with almost no warm-up — that differ only in `prenorm`. We train each for a few seconds with the course's one
# training loop (`shikumi.train.train`) and compare their loss curves.

# %% [markdown] tags=["ja"]
# ## 3. なぜ LayerNorm を動かしたのか：pre-LN 対 post-LN（スライド 14）
#
# 実験です。まったく同じ小さな GPT を 2 つ用意します。ブロック 4 個、同じシード、同じシェイクスピアのバッチ、
# 同じ強めの学習率でウォームアップはほぼなし。違いは `prenorm` だけです。コース共通の学習ループ（`shikumi.train.train`）で
# それぞれ数秒ずつ学習させ、損失の曲線を比べます。
#
# *学習率は、[レッスン 00](00_first_neural_network.ipynb#learning-rate) で図といっしょに説明しています。*

# %%
# en: the plays to learn from, and The Tempest, held out
# ja: 学習に使う劇と、評価用に取っておく『テンペスト』
train_text, val_text = gpt_shakespeare.corpus(SIZE)
train_ids, val_ids = gpt_shakespeare.encode(train_text, tok), gpt_shakespeare.encode(val_text, tok)
summary = tr(f"training text: {len(train_ids):,} characters; held-out text (The Tempest): {len(val_ids):,} characters",
             f"学習用のテキスト：{len(train_ids):,} 文字、評価用のテキスト（『テンペスト』）：{len(val_ids):,} 文字")
print(summary)
print(train_text[:300])

# %%
LN_STEPS = 120

def small_gpt_run(prenorm, lr=3e-3, warmup_steps=10):
    """
    en: Train a 4-Block GPT briefly; return its training loss at every step.
    ja: ブロック 4 個の GPT を短く学習し、各ステップの学習の損失を返す。
    """
    seed_everything(SEED)
    config = gpt.GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=4, n_head=4, d_model=64, prenorm=prenorm)
    get_batch = gpt_shakespeare.batch_fn(train_ids, val_ids, config.block_size, batch_size=16, seed=SEED)
    settings = TrainConfig(max_steps=LN_STEPS, lr=lr, warmup_steps=warmup_steps, eval_every=0, device=DEVICE, cpu_threads=1)
    return train(gpt.GPT(config), get_batch, gpt_shakespeare.loss_fn, settings).train_loss

curves = {"pre-LN (GPT-2)": small_gpt_run(True), "post-LN (GPT-1)": small_gpt_run(False)}

# %%
# en: average every 10 steps, so the curves are readable
# ja: 10 ステップごとに平均して、曲線を読みやすくする
every = 10
steps = list(range(every, LN_STEPS + 1, every))
smooth = {name: [sum(loss[s - every:s]) / every for s in steps] for name, loss in curves.items()}
title = tr("same model, same data: only the LayerNorm moved", "同じモデル、同じデータ：LayerNorm の位置だけが違う")
xlabel, ylabel, guess = tr("training step", "学習ステップ"), tr("training loss (nats/char)", "学習の損失（nats/文字）"), tr("uniform guess, log 82", "当てずっぽう（一様）、log 82")
ax = plot.lines(steps, smooth, title=title, xlabel=xlabel, ylabel=ylabel)
ax.axhline(math.log(tok.vocab_size), color="gray", linestyle=":", label=guess)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))   # en: beside the plot, not on it  # ja: 凡例は図の上ではなく横に
plt.show()
for name, loss in smooth.items():
    result = tr(f"{name:<16} loss after {LN_STEPS} steps: {loss[-1]:.2f}",
                f"{name:<16} {LN_STEPS} ステップ後の損失：{loss[-1]:.2f}")
    print(result)


# %% [markdown] tags=["en"]
# With this learning rate the post-LN model stalls: it learns which characters are common (a loss around 3.3 nats,
# like lesson 01's unigram model) and then stops improving, while the pre-LN model keeps going. In post-LN every
# signal and every gradient has to pass through a LayerNorm at every Block, so a deep post-LN stack needs a gentle
# learning rate and a long warm-up to train at all. Pre-LN leaves the residual highway clear, trains faster and more
# reliably, and lets GPT-2 and GPT-3 grow to 48 and 96 Blocks. (Try `small_gpt_run(False, lr=1e-3, warmup_steps=60)`:
# with a gentler start, post-LN trains too, just more slowly.)
#
# *The learning rate is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#learning-rate).*

# %% [markdown] tags=["ja"]
# この学習率では post-LN のモデルは止まってしまいます。どの文字がよく出るかだけを覚え（損失はおよそ 3.3 nats、レッスン 01 の
# ユニグラムくらい）、そこから良くなりません。一方 pre-LN のモデルは下がり続けます。post-LN ではすべての信号と勾配が
# ブロックごとに LayerNorm を通らなければならないので、深い post-LN はそもそも学習させるのに、穏やかな学習率と長いウォームアップが要ります。
# pre-LN は残差の高速道路を空けておくので、速く安定して学習でき、GPT-2 や GPT-3 が 48 層、96 層まで大きくなれたのです。
# （`small_gpt_run(False, lr=1e-3, warmup_steps=60)` を試してみましょう。穏やかに始めれば post-LN も学習しますが、ゆっくりです。）

# %% [markdown] tags=["en"]
# ## 4. How big is "big"? Counting parameters (slides 14–15)
#
# Slide 14's table:
#
# | | parameters | layers | what changed |
# |---|---|---|---|
# | GPT-1 (2018) | 1億1700万 (117 M) | 12 | pre-training + fine-tuning |
# | GPT-2 (2019) | 15億 (1.5 B) | 48 | bigger vocabulary, **LayerNorm moved**, no fine-tuning |
# | GPT-3 (2020) | 1750億 (175 B) | 96 | 特になし (でかくなっただけ) — *nothing: it just got bigger* |
# | GPT-4 (2023) | 未公開 — *not published* | — | reads images; reinforcement learning from human feedback (RLHF) |
#
# Slide 15: 「基本モデルは、Transformerのまま。ただ(クソ)でかくなっただけ。」 — *the basic model is still the Transformer;
# it just got (damn) big.* GPT-4's row has no numbers to check: OpenAI's *GPT-4 Technical Report* (2023) publishes neither its size nor its
# architecture. For GPT-1 to GPT-3 the whole table should follow from a handful of numbers: n_layer, d_model, the
# vocabulary and the context length. Every parameter of our GPT lives in one of these places (d = d_model):
#
# - token embedding: vocab_size × d (the output layer **reuses** this matrix — "tied" embeddings — so count it once);
# - position embedding: block_size × d (one learned vector per position);
# - per Block: attention's q, k, v and out projections, 4 · (d·d + d); the MLP, d·4d + 4d and 4d·d + d;
#   two LayerNorms, each a scale and a shift, 2 · 2d;
# - the final LayerNorm, 2d — only in pre-LN (GPT-1's post-LN has none).
#
# ### Exercise 4.2 — count the parameters (2 points)

# %% [markdown] tags=["ja"]
# ## 4. 「でかい」とはどのくらい？パラメータを数える（スライド 14–15）
#
# スライド 14 の表：
#
# | | パラメータ数 | レイヤー | 前バージョンとの違い |
# |---|---|---|---|
# | GPT-1 (2018) | 1億1700万 | 12 | 事前学習、ファインチューニング |
# | GPT-2 (2019) | 15億 | 48 | 語彙数増やした、**正規化レイヤーの位置変えた**、ファインチューニングやめた |
# | GPT-3 (2020) | 1750億 | 96 | 特になし（でかくなっただけ） |
# | GPT-4 (2023) | 未公開 | — | 画像が読めるようになった、強化学習（RLHF） |
#
# スライド 15：「基本モデルは、Transformerのまま。ただ(クソ)でかくなっただけ。」 GPT-4 の行には確かめられる数字がありません。OpenAI の『GPT-4 Technical Report』（2023）は、大きさも構造も公開していないからです。
# GPT-1 から GPT-3 までなら、この表はいくつかの数字 ——
# n_layer、d_model、語彙数、文脈の長さ —— だけから出てくるはずです。私たちの GPT のパラメータは、すべて次のどこかにあります（d = d_model）：
#
# - トークン埋め込み：vocab_size × d（出力層はこの行列を **使い回す**「重み共有（tied embeddings）」なので、1 回だけ数える）
# - 位置埋め込み：block_size × d（位置ごとに学習されるベクトル 1 本）
# - ブロックごと：Attention の q, k, v, out の射影 4 · (d·d + d)、MLP の d·4d + 4d と 4d·d + d、
#   LayerNorm 2 つ（それぞれスケールとシフト）2 · 2d
# - 最後の LayerNorm 2d —— pre-LN のときだけ（GPT-1 の post-LN にはない）
#
# ### 演習 4.2 — パラメータを数える（2 点）

# %% nbgrader={"grade": false, "grade_id": "count_parameters", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_parameters(config):
    """
    en: The exact number of parameters of gpt.GPT(config), from the config alone   (slides 14–15)
    ja: gpt.GPT(config) のパラメータの正確な数を、config だけから求める（スライド 14–15）。

    en: config: a dict with at least "vocab_size", "block_size", "n_layer", "n_head", "d_model" and "prenorm" (bool).
    en: Returns an int: V·d + T·d + n_layer · (per-Block parameters) + (2·d if prenorm else 0),
    en: with V = vocab_size, T = block_size, d = d_model, and per Block 4(d² + d) + (8d² + 5d) + 4d.
    en: Edge case: n_head adds nothing — the heads split d_model between them.
    en: Hint: check yourself against sum(p.numel() for p in gpt.GPT(gpt.GPTConfig(**config)).parameters()).
    ja: config: 少なくとも "vocab_size", "block_size", "n_layer", "n_head", "d_model", "prenorm"（bool）を持つ辞書。
    ja: 戻り値: int。V·d + T·d + n_layer ·（ブロック 1 つのパラメータ数）+（prenorm なら 2·d、そうでなければ 0）。
    ja: V = vocab_size、T = block_size、d = d_model。ブロック 1 つは 4(d² + d) + (8d² + 5d) + 4d。
    ja: 特別な場合: n_head は何も増やさない —— ヘッドは d_model を分け合うだけ。
    ja: ヒント: sum(p.numel() for p in gpt.GPT(gpt.GPTConfig(**config)).parameters()) と比べて確かめられる。
    """
    ### BEGIN SOLUTION
    d, V, T, L = config["d_model"], config["vocab_size"], config["block_size"], config["n_layer"]
    attention = 4 * (d * d + d)
    mlp = (d * 4 * d + 4 * d) + (4 * d * d + d)
    layer_norms = 2 * (2 * d)
    final_norm = 2 * d if config["prenorm"] else 0
    return V * d + T * d + L * (attention + mlp + layer_norms) + final_norm
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "count_parameters_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
small = gpt.GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=8)
real = sum(p.numel() for p in gpt.GPT(small).parameters())
what = tr("parameters of a small pre-LN GPT", "小さな pre-LN GPT のパラメータ数")
hint = tr("Tied embeddings: the output layer adds nothing. Don't forget biases, LayerNorms and the final LayerNorm.",
          "重み共有なので、出力層は何も増やしません。バイアス、LayerNorm、最後の LayerNorm を忘れずに数えましょう。")
expect(count_parameters(dataclasses.asdict(small)), real, what, hint)
post = dataclasses.replace(small, prenorm=False)
what, hint = tr("parameters of the same GPT, post-LN", "同じ GPT の post-LN 版のパラメータ数"), tr("Post-LN has no final LayerNorm.", "post-LN には最後の LayerNorm がありません。")
expect(count_parameters(dataclasses.asdict(post)), sum(p.numel() for p in gpt.GPT(post).parameters()), what, hint)
what = tr("parameters of our Shakespeare GPT", "私たちのシェイクスピア GPT のパラメータ数")
expect(count_parameters(dataclasses.asdict(bard.config)), bard.num_parameters(), what)
what, hint = tr("parameters of GPT-2 small", "GPT-2 small のパラメータ数"), tr("Hugging Face's gpt2 has 124,439,808.", "Hugging Face の gpt2 は 124,439,808 個です。")
expect(count_parameters(dataclasses.asdict(gpt.GPTConfig.preset("gpt2"))), 124_439_808, what, hint)
passed("Exercise 4.2")

# %% [markdown] tags=["en"]
# Now slide 14's table, from the published configurations (the GPT-1, GPT-2 and GPT-3 papers). Nothing is built: a
# GPT-3 would need about 700 GB of memory just to hold its weights — your formula needs none.

# %% [markdown] tags=["ja"]
# では、公開されている設定（GPT-1、GPT-2、GPT-3 の論文）からスライド 14 の表を作ります。モデルは作りません。
# GPT-3 は重みを置くだけで約 700 GB のメモリが要ります —— あなたの式なら何も要りません。

# %%
SLIDE_14 = {"gpt1": "1億1700万 (117 M)", "gpt2-xl": "15億 (1.5 B)", "gpt3": "1750億 (175 B)"}
counts = {}
columns = tr(f"{'model':<12}{'layers':>7}{'d_model':>8}{'heads':>7}{'context':>8}{'vocab':>7}{'parameters':>18}   slide 14",
             f"{'モデル':<9}{'層数':>5}{'d_model':>8}{'ヘッド':>4}{'文脈長':>5}{'語彙数':>4}{'パラメータ数':>12}   スライド 14")
print(columns)
for name in ["gpt1", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3"]:
    c = gpt.GPTConfig.preset(name)
    counts[name] = count_parameters(dataclasses.asdict(c))
    print(f"{name:<12}{c.n_layer:>7}{c.d_model:>8}{c.n_head:>7}{c.block_size:>8}{c.vocab_size:>7}{counts[name]:>18,}"
          f"   {SLIDE_14.get(name, '')}")
ours = tr("ours (Shakespeare)", "私たちの GPT")
counts[ours] = count_parameters(dataclasses.asdict(bard.config))

# %%
title, ylabel = tr("parameters (log scale): the same recipe, just bigger", "パラメータ数（対数目盛）：同じレシピで、でかくなっただけ"), tr("parameters", "パラメータ数")
ax = plot.bar(counts, title=title, ylabel=ylabel)
ax.set_yscale("log")
# en: write each count on its bar
# ja: 各棒の上に数を書く
for bar in ax.patches:
    n = bar.get_height()
    ax.text(bar.get_x() + bar.get_width() / 2, n * 1.3, f"{n / 1e9:.3g} B" if n >= 1e9 else f"{n / 1e6:.3g} M",
            ha="center", fontsize=8)
plt.show()
for name in ("gpt2", "gpt3"):
    c = gpt.GPTConfig.preset(name)
    blocks = c.n_layer * (12 * c.d_model**2 + 13 * c.d_model)
    in_blocks, in_embeddings = blocks / counts[name], (c.vocab_size + c.block_size) * c.d_model / counts[name]
    share = tr(f"{name}: {in_blocks:.1%} of the parameters are in the Blocks, {in_embeddings:.1%} in the embeddings",
               f"{name}: パラメータの {in_blocks:.1%} がブロックに、{in_embeddings:.1%} が埋め込みにある")
    print(share)

# %% [markdown] tags=["en"]
# GPT-1 ≈ 117 M, GPT-2 XL ≈ 1.56 B, GPT-3 ≈ 175 B: the formula lands on slide 14's numbers. Since each Block holds
# about 12 · d_model² parameters, the count grows with n_layer × d_model²: GPT-3 has 8 × as many Blocks as GPT-2
# small and 16 × as wide vectors, so 8 × 16² ≈ 2000 × the Block parameters. That is slide 15's 「でかくなっただけ」.

# %% [markdown] tags=["ja"]
# GPT-1 ≈ 1億1700万、GPT-2 XL ≈ 15.6 億、GPT-3 ≈ 1750 億。式がスライド 14 の数字にぴったり届きます。ブロック 1 つが
# およそ 12 · d_model² 個のパラメータを持つので、総数は n_layer × d_model² に比例して増えます。GPT-3 は GPT-2 small の
# 8 倍のブロックと 16 倍の幅のベクトルを持つので、ブロックのパラメータは 8 × 16² ≈ 2000 倍。これがスライド 15 の「でかくなっただけ」です。

# %% [markdown] tags=["en"]
# ## 5. Better than counting? GPT against the n-gram (slides 21–24, 37)
#
# GPT-2 read 40 GB of web pages (slide 37). The slide's 「Reddit のレビュー★3以上の記事に貼られた外部リンク」 are,
# precisely, the outgoing links of Reddit posts with at least 3 *karma* (the readers' up-votes minus down-votes):
# 45 million links, about 8 million documents after cleaning (Radford et al., 2019, *Language Models are Unsupervised
# Multitask Learners*). Ours read about 0.8 MB: six tragedies. Lesson 01's n-gram models can read
# the same text, character by character: `ngram.NGramModel` works on any lists of tokens, so we give it lines as lists
# of characters (its end marker `</s>` plays the newline).
#
# Both models are measured the same way, on **The Tempest**, a play neither has seen: the average of −log P(next
# character), in **nats per character** — the cross-entropy the GPT was trained to lower, and log(perplexity) from
# lesson 01. Lower is better; log 82 ≈ 4.4 would be a uniform guess. For the n-gram we try every n and a few
# smoothing constants k, and keep the best: we give counting its best shot.
#
# *Cross-entropy is defined, with a picture, in [lesson 00](00_first_neural_network.ipynb#cross-entropy).*

# %% [markdown] tags=["ja"]
# ## 5. 数えるだけのモデルに勝てるか：GPT 対 n-gram（スライド 21–24, 37）
#
# GPT-2 は 40 GB のウェブページを読みました（スライド 37）。スライドの「Reddit のレビュー★3以上の記事に貼られた外部リンク」は、
# 正確には、*karma*（読者の賛成票から反対票を引いた数）が 3 以上の Reddit の投稿から張られたリンクです。リンクは 4500 万、
# 整理したあとの文書は約 800 万（Radford ほか 2019『Language Models are Unsupervised Multitask Learners』）。私たちの GPT が読んだのは約 0.8 MB、悲劇 6 作です。
# レッスン 01 の n-gram モデルにも、同じテキストを 1 文字ずつ読ませることができます。`ngram.NGramModel` はどんなトークン列でも扱えるので、
# 行を文字のリストにして渡します（終了記号 `</s>` が改行の役をします）。
#
# どちらのモデルも同じ方法で測ります。どちらも読んでいない劇 **『テンペスト』** の上で、−log P(次の文字) の平均、
# つまり **1 文字あたりの nats**。GPT が学習で下げてきた交差エントロピーで、レッスン 01 のパープレキシティの log です。
# 小さいほど良く、log 82 ≈ 4.4 なら当てずっぽうと同じ。n-gram はすべての n といくつかのスムージング定数 k を試して、
# いちばん良いものを選びます。「数える」方式にも全力を出してもらいましょう。
#
# *交差エントロピーは、[レッスン 00](00_first_neural_network.ipynb#cross-entropy) で図といっしょに説明しています。*

# %%
gpt_loss = gpt_shakespeare.nats_per_char(bard, val_ids.to(device))
result = tr(f"GPT on The Tempest: {gpt_loss:.3f} nats/char (perplexity {math.exp(gpt_loss):.2f})",
            f"『テンペスト』での GPT：{gpt_loss:.3f} nats/文字（パープレキシティ {math.exp(gpt_loss):.2f}）")
print(result)

# %% [markdown] tags=["en"]
# Now counting, at its best: every n from 1 to 6 with three smoothing constants k — 18 n-gram models, each counted on
# the six tragedies and scored on The Tempest. The best one is our opponent:

# %% [markdown] tags=["ja"]
# 次は「数える」方式の全力です。n を 1 から 6 まで、スムージング定数 k を 3 通り試して、18 個の n-gram モデルを悲劇 6 作で数え、
# 『テンペスト』で採点します。いちばん良いものが GPT の対戦相手です：

# %%
ns, ks = [1, 2, 3, 4, 5, 6], [0.01, 0.03, 0.1]
train_lines = gpt_shakespeare.char_lines(train_text)
# en: (n, k) → nats per character on the held-out play
# ja: (n, k) → 評価用の劇での 1 文字あたりの nats
ngram_loss = {}
for n in ns:
    counted = ngram.NGramModel(n=n).fit(train_lines)
    for k in ks:
        counted.k = k
        ngram_loss[n, k] = gpt_shakespeare.ngram_nats_per_char(counted, val_text)
best_n, best_k = min(ngram_loss, key=ngram_loss.get)
best = ngram_loss[best_n, best_k]
result = tr(f"best n-gram: n={best_n}, k={best_k}: {best:.3f} nats/char (perplexity {math.exp(best):.2f})",
            f"最良の n-gram：n={best_n}、k={best_k}：{best:.3f} nats/文字（パープレキシティ {math.exp(best):.2f}）")
print(result)

# %%
series = {f"n-gram, k={k}": [ngram_loss[n, k] for n in ns] for k in ks}
title, ylabel = tr("held-out loss on The Tempest (lower is better)", "『テンペスト』での損失（小さいほど良い）"), tr("nats per character", "1 文字あたりの nats")
gpt_label = tr(f"GPT ({bard.num_parameters() / 1e6:.1f} M parameters)",
               f"GPT（{bard.num_parameters() / 1e6:.1f} M パラメータ）")
ax = plot.lines(ns, series, title=title, xlabel="n (n-gram)", ylabel=ylabel)
ax.axhline(gpt_loss, color="black", linewidth=2, label=gpt_label)
ax.legend(fontsize=8)
plt.show()
gap, gpt_choices, ngram_choices = best - gpt_loss, math.exp(gpt_loss), math.exp(best)
if gap > 0:
    verdict = tr(f"The GPT is better than the best n-gram by {gap:.3f} nats per character: ",
                 f"GPT は最良の n-gram より 1 文字あたり {gap:.3f} nats 良い。")
else:   # a GPT stopped early may not have caught up yet
    verdict = tr(f"This GPT is still {-gap:.3f} nats per character behind the best n-gram (stopped early?): ",
                 f"この GPT はまだ最良の n-gram より 1 文字あたり {-gap:.3f} nats 悪い（早く止めすぎた？）。")
detail = tr(f"it hesitates between {gpt_choices:.1f} characters where the n-gram hesitates between {ngram_choices:.1f}.",
            f"GPT が迷うのは {gpt_choices:.1f} 文字の間、n-gram は {ngram_choices:.1f} 文字の間で迷う。")
print(verdict + detail)


# %% [markdown] tags=["en"]
# The n-gram curve has the shape you saw in lesson 01: a longer context helps until the contexts become too rare
# (sparsity), and then it hurts. The GPT reads up to 128 characters back and, more importantly, *generalises*:
# characters and contexts that behave alike get similar vectors, so it can use what it learned from *similar*
# contexts instead of needing the exact same ones. That is what "Transformer は言語モデルになる" buys.

# %% [markdown] tags=["ja"]
# n-gram の曲線はレッスン 01 で見た形です。文脈を長くすると良くなるが、やがて文脈が珍しくなりすぎて（スパース性）悪くなる。
# GPT は 128 文字前まで読めて、しかももっと大事なことに *汎化* します。似た振る舞いをする文字や文脈は似たベクトルになるので、
# まったく同じ文脈でなくても *似た* 文脈で学んだことを使えるのです。これが「Transformerは言語モデルになる」で得られるものです。

# %% [markdown] tags=["en"]
# ## 6. Choosing the next character: greedy, temperature, top-k (slide 25)
#
# Slide 25: 「ChatGPTは言語モデルで、生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」 —
# *it generates, one after another, the most probable word to follow.* That is **greedy** decoding. Real systems
# usually **sample** instead, after reshaping the distribution with two knobs:
#
# - **temperature** T: probabilities = softmax(logits / T). T < 1 sharpens (towards greedy), T > 1 flattens
#   (more surprising choices). T = 0 means greedy: all the probability on the most likely token.
# - **top-k**: keep only the k largest logits; every other token gets probability 0 (set its logit to −∞ before
#   the softmax), so the sampler never picks something absurd from the long tail.
#
# ### Exercise 4.3 — temperature and top-k (2 points)

# %% [markdown] tags=["ja"]
# ## 6. 次の文字の選び方：貪欲法、温度、top-k（スライド 25）
#
# スライド 25：「ChatGPTは言語モデルで、生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」。
# これが **貪欲（greedy）** デコーディングです。実際のシステムは、分布の形を 2 つのつまみで変えてから **サンプリング** することが多いです：
#
# - **温度** T：確率 = softmax(ロジット / T)。T < 1 だと尖り（貪欲法に近づく）、T > 1 だと平らになる（意外な選択が増える）。
#   T = 0 は貪欲法：確率をすべて一番ありそうなトークンに。
# - **top-k**：ロジットの大きい k 個だけを残し、ほかのトークンの確率は 0 にする（softmax の前にロジットを −∞ にする）。
#   分布の長いすそ野からとんでもないものを引かないように。
#
# ### 演習 4.3 — 温度と top-k（2 点）

# %% nbgrader={"grade": false, "grade_id": "next_token_probs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def next_token_probs(logits, temperature=1.0, top_k=None):
    """probs = softmax(top_k(logits) / temperature)   (slide 25)

    en: The next token's probabilities; top_k(·) keeps the k largest logits and sets the others to -inf.
    ja: 次のトークンの確率。top_k(·) は大きい順に k 個のロジットを残し、ほかを -inf にする。
    en: logits: a 1-D float tensor (V,), one score per token. temperature: a float >= 0. top_k: an int or None.
    en: Returns a float tensor (V,) of probabilities that sum to 1.
    en: top_k: keep the top_k largest logits, set the others to -inf before the softmax (None: keep all).
    en: Edge case: temperature == 0 is greedy: 1.0 at the argmax (logits.argmax()), 0.0 everywhere else.
    en: Hint: torch.topk(logits, k).values[-1] is the k-th largest logit; logits.masked_fill(cond, float("-inf")).
    ja: logits: 1 次元の float テンソル (V,)、トークンごとのスコア。temperature: 0 以上の float。top_k: int か None。
    ja: 戻り値: 合計 1 の確率の float テンソル (V,)。
    ja: top_k: 大きい順に top_k 個のロジットを残し、ほかは softmax の前に -inf にする（None ならすべて残す）。
    ja: 特別な場合: temperature == 0 は貪欲法：argmax（logits.argmax()）の位置に 1.0、ほかはすべて 0.0。
    ja: ヒント: torch.topk(logits, k).values[-1] が k 番目に大きいロジット。logits.masked_fill(条件, float("-inf"))。
    """
    ### BEGIN SOLUTION
    if temperature == 0:
        probs = torch.zeros_like(logits)
        probs[logits.argmax()] = 1.0
        return probs
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "next_token_probs_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
what = tr("temperature 1, no top-k = softmax", "温度 1、top-k なし = softmax")
expect_close(next_token_probs(logits), logits.softmax(-1), what)
what, hint = tr("temperature 0.5", "温度 0.5"), tr("Divide the logits by the temperature, then softmax.", "ロジットを温度で割ってから softmax をとります。")
ignored = tr("That is the softmax at temperature 1: divide the logits by the temperature first.",
             "それは温度 1 の softmax です。先にロジットを温度で割ります。")
multiplied = tr("You multiplied the logits by the temperature: divide them (a low temperature sharpens the distribution).",
                "ロジットに温度を掛けています。割ります（温度が低いほど分布は鋭くなります）。")
expect_close(next_token_probs(logits, 0.5), (logits / 0.5).softmax(-1), what, hint,
             mistakes=[(logits.softmax(-1), ignored), ((logits * 0.5).softmax(-1), multiplied)])
p = next_token_probs(logits, 1.0, top_k=2)
what = tr("top_k=2: the two smallest logits get probability 0", "top_k=2：小さいほうの 2 つのロジットは確率 0")
hint = tr("Set the logits outside the top k to -inf before the softmax.",
          "softmax の前に、上位 k 個に入らないロジットを -inf にします。")
after = tr("You zeroed the probabilities after the softmax, so the kept two no longer sum to 1: set the logits to -inf before it.",
           "softmax のあとで確率を 0 にしたので、残した 2 つの合計が 1 になりません。softmax の前にロジットを -inf にします。")
kept = logits[:2].softmax(-1)
expect_close(p, torch.cat([kept, torch.zeros(2)]), what, hint,
             mistakes=[(torch.cat([logits.softmax(-1)[:2], torch.zeros(2)]), after)])
what, hint = tr("temperature 0 (greedy)", "温度 0（貪欲法）"), tr("Put all the probability on the argmax; don't divide by 0.", "確率をすべて argmax の位置に置きます。0 で割らないように。")
expect(next_token_probs(logits, 0).tolist(), [1.0, 0.0, 0.0, 0.0], what, hint)
passed("Exercise 4.3")

# %% [markdown] tags=["en"]
# What does the GPT expect after "I love th"? *thee*, *this*, *that*, *thy*…: the same logits at three temperatures.

# %% [markdown] tags=["ja"]
# 「I love th」のあと、GPT は何が来ると思っているでしょう。thee、this、that、thy…。同じロジットを 3 つの温度で見てみます：

# %%
prompt = "I love th"
with torch.no_grad():
    last = bard(gpt_shakespeare.encode(prompt, tok)[None].to(device))[0, -1].cpu()      # (82,)
show = {"\n": "⏎", " ": "␣"}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), sharey=True)
for ax, t in zip(axes, (0.5, 1.0, 2.0)):
    probs = next_token_probs(last, t)
    title = tr(f"temperature {t}", f"温度 {t}")
    plot.bar({show.get(c, c): p.item() for c, p in zip(tok.itos, probs)}, title=title, top=8, ax=ax)
plt.show()

# %% [markdown] tags=["en"]
# Now whole continuations. Greedy is deterministic and, as in lesson 01, tends to fall into a loop; sampling at a
# moderate temperature reads more like a play; a high temperature makes up words.

# %% [markdown] tags=["ja"]
# 今度は続きを丸ごと生成します。貪欲法は毎回同じ結果になり、レッスン 01 と同じくループに陥りがちです。ほどほどの温度でサンプリングすると
# 劇らしく読め、温度が高いと単語をでっち上げ始めます。

# %%
for t, k in ((0, None), (0.8, None), (0.8, 10), (1.5, None)):
    label = tr("greedy", "貪欲法") if t == 0 else f"T={t}" + (f", top_k={k}" if k else "")
    print(f"--- {label} ---")
    print("ROMEO\n" + complete("ROMEO\n", temperature=t, top_k=k, n=120))

# %% [markdown] tags=["en"]
# Play with it: edit the prompt, drag the temperature (0 = greedy) and top-k (0 = off). Each change samples again.

# %% [markdown] tags=["ja"]
# 遊んでみましょう。プロンプトを書き換え、温度（0 = 貪欲法）と top-k（0 = オフ）のスライダーを動かしてください。変えるたびにサンプリングし直します。

# %%
from shikumi.widgets import generation_explorer

labels = {"prompt": tr("prompt", "プロンプト"), "temperature": tr("temperature", "温度")}
generation_explorer(lambda prompt, t, k: complete(prompt, temperature=t, top_k=k),
                    prompt="HAMLET\n", temperature=0.8, max_top_k=tok.vocab_size, labels=labels)


# %% [markdown] tags=["en"]
# ## 7. How ChatGPT "remembers" the conversation (slide 38)
#
# Slide 38: 「文脈保持: 前のプロンプトの内容を保持する仕組み … 前のプロンプトを結合したものをインプットとしている模様」 —
# *keeping the context: it seems the previous prompts are concatenated and used as the input.* The model itself
# remembers nothing between two calls. The chat application pastes the whole conversation so far in front of your new
# message, every time. The catch: the model sees at most `block_size` tokens (GPT-3: 2048; ours: 128 characters).
# When the conversation grows longer, the oldest part has to go — and the model has truly forgotten it.
#
# Our GPT has read plays, so a chat is a dialogue: each turn is the speaker's name on a line, the speech, and a
# blank line — exactly how the plays are written. The prompt ends with the next speaker's name, and the model answers
# as that character.
#
# ### Exercise 4.4 — a chat prompt that fits the context window (2 points)

# %% [markdown] tags=["ja"]
# ## 7. ChatGPT はどうやって会話を「覚えて」いるのか（スライド 38）
#
# スライド 38：「文脈保持: 前のプロンプトの内容を保持する仕組み … 前のプロンプトを結合したものをインプットとしている模様」。
# モデル自体は、2 回の呼び出しの間に何も覚えていません。チャットのアプリが、それまでの会話全体を新しいメッセージの前に毎回貼り付けているのです。
# 問題は、モデルが一度に見られるのは最大 `block_size` トークン（GPT-3 は 2048、私たちのモデルは 128 文字）だということ。
# 会話がそれより長くなると、いちばん古い部分を捨てるしかありません —— そしてモデルは本当にそれを忘れます。
#
# 私たちの GPT は戯曲を読んだので、チャットは対話劇です。1 つの発言は、1 行目に話者名、次に台詞、最後に空行 —— 戯曲の書き方そのままです。
# プロンプトは次の話者名で終わり、モデルはその人物として答えます。
#
# ### 演習 4.4 — 文脈ウィンドウに収まるチャットのプロンプト（2 点）

# %% nbgrader={"grade": false, "grade_id": "build_chat_prompt", "locked": false, "schema_version": 3, "solution": true, "task": false}
def build_chat_prompt(turns, next_speaker, block_size):
    """
    en: The whole conversation as one prompt, cut to fit the context window   (slide 38)
    ja: 会話全体を 1 つのプロンプトにし、文脈ウィンドウに収まるように切る（スライド 38）。

    en: turns: a list of (speaker, text) pairs, oldest first, e.g. [("ROMEO", "Good morrow."), ("JULIET", "Hi.")].
    en: Each turn becomes  speaker + "\n" + text + "\n\n"; the prompt is all the turns, then next_speaker + "\n".
    en: Returns a str of at most block_size characters: if the prompt is too long, drop the OLDEST turns, whole,
    en: until it fits. Edge case: if even the newest turn (with the next speaker's line) does not fit, return the
    en: last block_size characters of the full prompt.
    en: Hint: try keeping turns[start:] for start = 0, 1, 2, ... and return the first prompt that fits.
    ja: turns: (話者, 台詞) のペアのリスト。古い順。例 [("ROMEO", "Good morrow."), ("JULIET", "Hi.")]。
    ja: 発言 1 つは  話者 + "\n" + 台詞 + "\n\n"。プロンプトはすべての発言のあとに next_speaker + "\n"。
    ja: 戻り値: block_size 文字以下の str。長すぎるときは、収まるまで「いちばん古い」発言から 1 つずつ丸ごと捨てる。
    ja: 特別な場合: いちばん新しい発言（と次の話者の行）だけでも収まらないときは、全体のプロンプトの最後の block_size 文字を返す。
    ja: ヒント: start = 0, 1, 2, ... について turns[start:] を残してみて、最初に収まったプロンプトを返す。
    """
    ### BEGIN SOLUTION
    header = next_speaker + "\n"
    parts = [speaker + "\n" + text + "\n\n" for speaker, text in turns]
    for start in range(len(parts)):
        prompt = "".join(parts[start:]) + header
        if len(prompt) <= block_size:
            return prompt
    return ("".join(parts) + header)[-block_size:]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "build_chat_prompt_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
turns = [("ROMEO", "Good morrow."), ("JULIET", "Good night!")]
full = "ROMEO\nGood morrow.\n\nJULIET\nGood night!\n\nROMEO\n"                   # en: 46 characters  # ja: 46 文字
what = tr("everything fits", "全部が収まる")
hint = tr("Each turn is speaker + '\\n' + text + '\\n\\n'; end with the next speaker and '\\n'.",
          "発言 1 つは speaker + '\\n' + text + '\\n\\n' です。最後に次の話者と '\\n' をつけます。")
expect(build_chat_prompt(turns, "ROMEO", 100), full, what, hint)
what = tr("block_size=46: the prompt is exactly 46 characters long, so it fits",
          "block_size=46：プロンプトはちょうど 46 文字なので、収まる")
hint = tr("A prompt of exactly block_size characters fits: compare len(prompt) <= block_size.",
          "ちょうど block_size 文字のプロンプトは収まります。len(prompt) <= block_size で比べます。")
strict = tr("A prompt of exactly block_size characters fits: use <=, not <, so the oldest turn stays.",
            "ちょうど block_size 文字のプロンプトは収まります。< ではなく <= を使えば、いちばん古い発言は残ります。")
expect(build_chat_prompt(turns, "ROMEO", 46), full, what, hint, mistakes=[("JULIET\nGood night!\n\nROMEO\n", strict)])
what, hint = tr("block_size=30: the oldest turn goes", "block_size=30：いちばん古い発言が消える"), tr("Drop whole turns from the front (the oldest) until the prompt fits.", "プロンプトが収まるまで、先頭（いちばん古い発言）から発言を丸ごと捨てます。")
cut = tr("Drop whole turns (the oldest first) rather than cutting the prompt in the middle of a turn.",
         "プロンプトを発言の途中で切らずに、発言を丸ごと（いちばん古いものから）捨てます。")
front = tr("You kept the beginning: the model needs the newest turns, so drop from the front (the oldest).",
           "先頭を残しています。モデルに必要なのは新しい発言なので、先頭（いちばん古い発言）から捨てます。")
expect(build_chat_prompt(turns, "ROMEO", 30), "JULIET\nGood night!\n\nROMEO\n", what, hint,
       mistakes=[(full[-30:], cut), (full[:30], front)])
what, hint = tr("block_size=10: not even the newest turn fits", "block_size=10：いちばん新しい発言さえ収まらない"), tr("Then keep the last block_size characters of the full prompt.", "そのときは、全体のプロンプトの最後の block_size 文字を返します。")
first = tr("full[block_size:] drops the first block_size characters; the last block_size characters are full[-block_size:].",
           "full[block_size:] は最初の block_size 文字を捨てたものです。最後の block_size 文字は full[-block_size:] です。")
nothing = tr("Return the last block_size characters rather than an empty prompt.",
             "空のプロンプトではなく、最後の block_size 文字を返します。")
expect(build_chat_prompt(turns, "ROMEO", 10), "t!\n\nROMEO\n", what, hint,
       mistakes=[(full[10:], first), (full[:10], front), ("", nothing)])
what = tr("no turns yet", "まだ発言がない")
expect(build_chat_prompt([], "HAMLET", 50), "HAMLET\n", what)
passed("Exercise 4.4")

# %% [markdown] tags=["en"]
# A conversation: you are Romeo, the GPT is Juliet. After each exchange we print how long the whole conversation is
# and how much of it the model can still see. The model's turn ends where it writes a blank line (the end of a
# speech in the plays).

# %% [markdown] tags=["ja"]
# 会話してみましょう。あなたがロミオ、GPT がジュリエットです。やりとりのたびに、会話全体の長さと、モデルがまだ見えている長さを表示します。
# モデルの発言は、空行を書いたところ（戯曲での台詞の終わり）で終わりにします。

# %%
window = bard.config.block_size
romeo_says = ["Lady, by yonder blessed moon I swear.", "What shall I swear by?", "I must be gone and live, or stay and die.",
              "Tell me, what was my first oath?"]
turns, seen, total = [], [], []
for i, line in enumerate(romeo_says):
    turns.append(("ROMEO", line))
    prompt = build_chat_prompt(turns, "JULIET", window)
    reply = complete(prompt, temperature=0.7, n=80, seed=SEED + i).split("\n\n")[0].strip()
    turns.append(("JULIET", reply))
    whole = sum(len(f"{s}\n{t}\n\n") for s, t in turns[:-1]) + len("JULIET\n")
    seen.append(len(prompt))
    total.append(whole)
    note = tr(f"[conversation {whole} characters, the model saw {len(prompt)}]",
              f"[会話全体は {whole} 文字、モデルが見たのは {len(prompt)} 文字]")
    print(f"ROMEO:  {line}\nJULIET: {reply!r}\n        {note}\n")

# %%
series = {tr("the whole conversation", "会話全体"): total, tr("what the model sees", "モデルに見えている部分"): seen}
title, xlabel, ylabel = tr("chat context (slide 38)", "チャットの文脈（スライド 38）"), tr("Romeo's turn", "ロミオの発言（何回目か）"), tr("characters", "文字数")
ax = plot.lines(range(1, len(total) + 1), series, title=title, xlabel=xlabel, ylabel=ylabel)
ax.set_xticks(range(1, len(total) + 1))
ax.axhline(window, color="gray", linestyle=":", label=f"block_size = {window}")
ax.legend()
plt.show()
heading = tr("What the model saw before Juliet's last answer:", "ジュリエットの最後の返答の前に、モデルが見ていたもの：")
print(heading + "\n" + "-" * 40)
print(prompt)

# %% [markdown] tags=["en"]
# After a few exchanges the conversation no longer fits: Romeo's first lines have fallen out of the window, so when he asks about his "first oath" the model cannot know what it was. ChatGPT works the same way, with
# a far larger window and a far better model — but a window all the same. How large keeps changing: GPT-3's was
# 2,048 tokens (2020); OpenAI's GPT-4 Turbo, announced in November 2023, reads 128,000.

# %% [markdown] tags=["ja"]
# 何回かやりとりすると、会話はもうウィンドウに収まりません。ロミオの最初の台詞はウィンドウから落ちているので、
# 「最初の誓い」について聞かれても、モデルにはそれが何だったか知りようがありません。ChatGPT も同じ仕組みです。
# ウィンドウはずっと大きく、モデルもずっと賢いけれど、ウィンドウであることに変わりはありません。その大きさは年々変わっています。
# GPT-3 は 2,048 トークン（2020 年）、2023 年 11 月に発表された OpenAI の GPT-4 Turbo は 128,000 トークンです。

# %% [markdown] tags=["en"]
# ## 8. The real thing: OpenAI's GPT-2 in this GPT class
#
# `gpt.GPT` is shaped exactly like GPT-2 (slide 14's pre-LN, learned positions, tied embeddings, GELU), so it can load
# OpenAI's released weights. With an internet connection (once), a learner could run this — it is not run here,
# since the course never downloads anything:
#
# ```python
# # pip install transformers   (once, with internet)
# from transformers import GPT2LMHeadModel, GPT2TokenizerFast
#
# GPT2LMHeadModel.from_pretrained("gpt2").save_pretrained("gpt2-local")    # config.json + model.safetensors
# GPT2TokenizerFast.from_pretrained("gpt2").save_pretrained("gpt2-local")  # GPT-2's BPE tokenizer (slide 35)
#
# from shikumi.gpt import GPT
# model = GPT.from_pretrained("gpt2-local")          # 124,439,808 parameters — your count_parameters agrees
# tokenizer = GPT2TokenizerFast.from_pretrained("gpt2-local")
# ids = torch.tensor([tokenizer.encode("Once upon a time")])
# print(tokenizer.decode(model.generate(ids, 40, temperature=0.8, top_k=50)[0].tolist()))
# ```
#
# `GPT.from_pretrained` does two translations: Hugging Face's GPT-2 stores its layers as `Conv1D`, whose weight is
# the *transpose* of `nn.Linear`'s, and packs the query, key and value projections into one matrix `c_attn`, which we
# cut into `q_proj`, `k_proj` and `v_proj`. The course's tests build a small random GPT-2 with `transformers`, load
# it into `gpt.GPT` and check that both give the same logits (to about 1e-7).

# %% [markdown] tags=["ja"]
# ## 8. 本物：OpenAI の GPT-2 をこの GPT クラスで
#
# `gpt.GPT` は GPT-2 とまったく同じ形（スライド 14 の pre-LN、学習される位置埋め込み、重み共有、GELU）なので、OpenAI が公開した重みを
# 読み込めます。インターネットにつながる環境なら（最初の 1 回だけ）、次のコードを実行できます。このコースは何もダウンロードしないので、
# ここでは実行しません：
#
# ```python
# # pip install transformers   （1 回だけ、インターネット接続が必要）
# from transformers import GPT2LMHeadModel, GPT2TokenizerFast
#
# GPT2LMHeadModel.from_pretrained("gpt2").save_pretrained("gpt2-local")    # config.json + model.safetensors
# GPT2TokenizerFast.from_pretrained("gpt2").save_pretrained("gpt2-local")  # GPT-2 の BPE トークナイザ（スライド 35）
#
# from shikumi.gpt import GPT
# model = GPT.from_pretrained("gpt2-local")          # 124,439,808 パラメータ —— あなたの count_parameters と一致
# tokenizer = GPT2TokenizerFast.from_pretrained("gpt2-local")
# ids = torch.tensor([tokenizer.encode("Once upon a time")])
# print(tokenizer.decode(model.generate(ids, 40, temperature=0.8, top_k=50)[0].tolist()))
# ```
#
# `GPT.from_pretrained` は 2 つの変換をしています。Hugging Face の GPT-2 は層を `Conv1D` として保存していて、その重みは
# `nn.Linear` の重みの *転置* です。また、クエリ・キー・バリューの射影を 1 つの行列 `c_attn` にまとめているので、それを
# `q_proj`、`k_proj`、`v_proj` に切り分けます。コースのテストでは `transformers` で小さなランダムな GPT-2 を作って `gpt.GPT` に読み込み、
# 両者が同じロジットを出すこと（誤差 1e-7 程度）を確かめています。

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slides 12–13, 21:** GPT is a Transformer decoder that predicts the next token; you wrote its **Block** and
#   watched a character-level GPT learn Shakespeare from nothing.
# - **Slide 14:** 「正規化レイヤーの位置変えた」 — pre-LN trains where post-LN stalls; and your **count_parameters**
#   reproduced the table: GPT-1 117 M, GPT-2 1.5 B, GPT-3 175 B, from n_layer and d_model alone (slide 15:
#   「でかくなっただけ」).
# - **Slides 21–24, 37:** on a play it never read, the GPT beat the best n-gram model (lesson 01's counting, over characters):
#   same text, and less data than GPT-2 by a factor of 50,000.
# - **Slide 25:** greedy decoding versus temperature and top-k sampling (**next_token_probs**).
# - **Slides 38–39:** a chat is the whole conversation pasted into the context window (**build_chat_prompt**); what
#   falls out of the window is forgotten. As slide 39 says: 「あくまで確率的に高いものを出しているだけ」 — it outputs
#   what is probable, one token at a time (「だけ」ということはないけど・・).
#
# **To discuss:** ChatGPT seems to remember what you told it twenty messages ago, yet the model has no memory at
# all. Where does the "memory" live, and what would you expect to happen in a very long conversation?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 12–13, 21：** GPT は次のトークンを予測する Transformer デコーダ。その **ブロック** を書き、文字単位の GPT が
#   でたらめな状態からシェイクスピアを学んでいくところを見ました。
# - **スライド 14：**「正規化レイヤーの位置変えた」—— post-LN が止まるところで pre-LN は学習が進む。そしてあなたの **count_parameters** が
#   表を再現しました。GPT-1 1億1700万、GPT-2 15億、GPT-3 1750億。n_layer と d_model だけから（スライド 15：「でかくなっただけ」）。
# - **スライド 21–24, 37：** 読んだことのない劇で、GPT は最良の n-gram（レッスン 01 と同じ数え方を、文字単位で）に勝ちました。同じテキストで、データは GPT-2 の 5 万分の 1。
# - **スライド 25：** 貪欲法と、温度・top-k によるサンプリング（**next_token_probs**）。
# - **スライド 38–39：** チャットとは、会話全体を文脈ウィンドウに貼り付けること（**build_chat_prompt**）。ウィンドウから落ちたものは忘れられます。
#   スライド 39 のとおり：「あくまで確率的に高いものを出しているだけ」——1 トークンずつ、ありそうなものを出している（「だけ」ということはないけど・・）。
#
# **話し合ってみよう：** ChatGPT は 20 回前のメッセージで伝えたことを覚えているように見えますが、モデル自体には記憶がまったくありません。
# その「記憶」はどこにあるのでしょう？ そして、とても長い会話では何が起きると思いますか？

# %% [markdown] tags=["en"]
# **Next.** This GPT continues plays; ask it a question and it writes more play. **Lesson 10** turns this very
# model into a small chat assistant, the way ChatGPT was made from GPT-3: fine-tuning on examples of good answers,
# then on which of two answers people prefer (slide 38's RLHF). And from **slide 40** the talk turns to its other
# half, Stable Diffusion — text to image — which lessons 05–08 build, starting with the autoencoder.

# %% [markdown] tags=["ja"]
# **次へ。** この GPT は戯曲の続きを書きます。質問をしても、戯曲の続きを書くだけです。**レッスン 10** では、ChatGPT が
# GPT-3 から作られたのと同じやり方で、まさにこのモデルを小さなチャットアシスタントに変えます。よい答えのお手本でファインチューニングし、
# 次に 2 つの答えのどちらを人が好むかで学習します（スライド 38 の RLHF）。そして **スライド 40** から、プレゼンは後半の
# Stable Diffusion —— テキストから画像へ —— に移ります。レッスン 05–08 で、オートエンコーダから順に組み立てます。
