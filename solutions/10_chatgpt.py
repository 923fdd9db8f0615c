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
#     lesson: 10_chatgpt
#     title:
#       en: 'From GPT to ChatGPT: fine-tuning and preference tuning'
#       ja: "GPT から ChatGPT へ：ファインチュ\
#         ーニングと好みの学習"
# ---

# %% [markdown] tags=["en"]
# # 10 · From GPT to ChatGPT: fine-tuning and preference tuning (slides 12–15, 37–38)
#
# > **Slide 12:** GPT: Generative Pretrained Transformer — 「TransformerXL + 事前学習 + (ファインチューニング)」 —
# > *pre-training, then fine-tuning.*
# > **Slide 38:** ChatGPT's updates: 「RLHF: …といったFBで強化学習する」 — *reinforcement learning from people's feedback.*
#
# Lesson 04's GPT read six Shakespeare tragedies and learnt to continue a play. Ask it a question and it does just
# that: it goes on writing a play. ChatGPT answers. Between the two are the two steps this lesson builds, on that very
# GPT: **supervised fine-tuning** (ファインチューニング) on examples of good answers, then **preference tuning**, where
# the model learns which of two answers people like better — slide 14's 「強化学習(RLHF)」 in the GPT-4 row, and
# slide 38's 「FBで強化学習」.
#
# **What you will build**
# - A chat dataset written by code, and **supervised fine-tuning** (SFT) of lesson 04's GPT on it, with the loss on
#   the answer only (you write that masking). Measured on instructions it never saw: from 0 right answers to most.
# - InstructGPT's picture of **RLHF**, step by step: people compare two answers, a **reward model** learns their
#   taste (you write its loss), reinforcement learning makes the model chase that reward.
# - **DPO**, which gets the same result without the reward model and without reinforcement learning (you write the
#   DPO loss): the tuned model's **win rate** on held-out pairs, before and after.
#
# The picture from the talk: slide 14's table, whose last row — GPT-4 — names 「強化学習(RLHF)」, and slide 38, which
# says ChatGPT learns from feedback. The diagram in section 6 draws what that means.

# %% [markdown] tags=["ja"]
# # 10 · GPT から ChatGPT へ：ファインチューニングと好みの学習（スライド 12–15, 37–38）
#
# > **スライド 12：** GPT：Generative Pretrained Transformer ——「TransformerXL + 事前学習 + (ファインチューニング)」
# > **スライド 38：** ChatGPTでのUpdate事項 ——「RLHF: …といったFBで強化学習する」
#
# レッスン 04 の GPT はシェイクスピアの悲劇 6 作を読んで、戯曲の続きを書けるようになりました。質問をしても、やることは同じ —— 戯曲の続きを書きます。
# ChatGPT は答えます。その間にあるのが、このレッスンでまさにあの GPT に施す 2 つのステップです。よい答えのお手本で学習する
# **ファインチューニング**（教師ありファインチューニング、SFT）と、2 つの答えのどちらを人が好むかを学ぶ **好みの学習** です。
# 後者がスライド 14 の GPT-4 の行にある「強化学習(RLHF)」、スライド 38 の「FBで強化学習」です。
#
# **このレッスンで作るもの**
# - コードで作るチャットのデータセットと、それを使ったレッスン 04 の GPT の **教師ありファインチューニング**（SFT）。
#   損失は答えの部分だけで計算します（そのマスクをあなたが書きます）。一度も見ていない指示で測ると、正答は 0 からほとんどへ。
# - InstructGPT が描いた **RLHF** の全体像を 1 段ずつ：人が 2 つの答えを比べ、**報酬モデル** がその好みを学び（その損失をあなたが書きます）、
#   強化学習でモデルがその報酬を追いかけます。
# - 報酬モデルも強化学習も使わずに同じ結果にたどり着く **DPO**（DPO の損失をあなたが書きます）。評価用のペアでの **勝率** を、前と後で測ります。
#
# プレゼンの中の 1 枚：スライド 14 の表。最後の行 GPT-4 に「強化学習(RLHF)」とあります。そしてスライド 38 の「FBで強化学習する」。
# それが何を意味するのかを、6 節の図で描きます。

# %% [markdown] tags=["en"]
# **Settings** — change them as you like.
# `SIZE = "quick"` loads the small fine-tuned models that ship with the course and fine-tunes only briefly here, to
# watch the loss move; `SIZE = "full"` fine-tunes from lesson 04's GPT here, for longer (meant for a GPU).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。
# `SIZE = "quick"` はコースに同梱の小さなファインチューニング済みモデルを読み込み、ここでは損失が動くのを見る程度に短く学習します。
# `SIZE = "full"` はレッスン 04 の GPT から、ここで長めにファインチューニングします（GPU 向け）。

# %% tags=["parameters"]
# en: DEVICE: "auto" (a GPU if there is one), "cpu" or "cuda".
# en: SIZE: "quick" loads the shipped fine-tuned GPTs; "full" fine-tunes them here, longer (a GPU). SEED: any whole number.
# en: (The grader and the course's tests run this notebook with exactly these values.)
# ja: DEVICE は "auto"（GPU があれば GPU）・"cpu"・"cuda" のどれか。
# ja: SIZE は "quick"（同梱のファインチューニング済み GPT を読み込む）か "full"（ここで長めにファインチューニングする。GPU 向け）。SEED は好きな整数。
# ja: （採点とコースのテストは、この値のままでこのノートブックを実行します。）
DEVICE = "auto"
SIZE = "quick"
SEED = 0

# %%
import copy
import dataclasses

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from shikumi import chatdata, checkpoint, finetune, get_device, plot, preference, seed_everything, zoo
from shikumi.course.selfcheck import expect, expect_close, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr
from shikumi.train import TrainConfig

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. A pre-trained GPT does not answer (slides 12–13, 38)
#
# Lesson 04 ended with a chat: the whole conversation pasted into the context window (slide 38's 「文脈保持」), each
# turn a speaker's name on a line, the speech, a blank line. Here is the same layout with two new speakers, `USER`
# and `ASSISTANT`. The prompt ends with `ASSISTANT` and a line break: the model's turn.

# %% [markdown] tags=["ja"]
# ## 1. 事前学習しただけの GPT は答えない（スライド 12–13, 38）
#
# レッスン 04 はチャットで終わりました。会話全体を文脈ウィンドウに貼り付ける（スライド 38 の「文脈保持」）やり方で、1 つの発言は
# 1 行目に話者名、次に台詞、最後に空行でした。ここでも同じ形で、新しい話者 `USER` と `ASSISTANT` の 2 人を使います。
# プロンプトは `ASSISTANT` と改行で終わります。ここからがモデルの番です。

# %%
# en: lesson 04's GPT, as it shipped (pre-trained only), and its 82 characters
# ja: レッスン 04 の GPT（事前学習だけ、同梱のまま）と、その 82 文字
base, tok = zoo.gpt_shakespeare.load_gpt_shakespeare(device)
questions = ["Greet OPHELIA.", 'What is the first word of "to be or not to be"?', 'Shout "good night sweet prince".']
meanings = [tr("", "（OPHELIA にあいさつして。）\n"), tr("", "（「to be or not to be」の最初の単語は？）\n"), tr("", "（「good night sweet prince」と叫んで。）\n")]
for meaning, question, answer in zip(meanings, questions, finetune.replies(base, tok, questions)):
    print(meaning + chatdata.chat_prompt(question) + answer)
    print("-" * 70)

# %% [markdown] tags=["en"]
# It speaks as `ASSISTANT` — the speaker's name is enough for that — but it does not answer: it writes more play.
# Nothing in six tragedies looks like a question followed by its answer, and the model only ever learnt to continue
# the kind of text it read. Slide 14 tells the history: GPT-1 was pre-trained, then **fine-tuned** for each task
# (「事前学習, ファインチューニング」); GPT-2 and GPT-3 dropped fine-tuning (「ファンチューニングやめた」) and relied on size.
# ChatGPT brought it back. It was trained with the recipe of **InstructGPT** (OpenAI, 2022), which fine-tunes GPT-3 in two more steps: first on
# answers people wrote (section 4), then on which of two answers people preferred (sections 6–7).
#
# (Slide 12 writes GPT as "TransformerXL + 事前学習". GPT is the decoder of lesson 03's Transformer, as lesson 04 built
# it; Transformer-XL is a different model, from 2019, with a longer memory. The point of the slide stands:
# a Transformer, pre-trained on a lot of text.)

# %% [markdown] tags=["ja"]
# `ASSISTANT` として話しはします —— 話者名があればそれはできます —— が、答えてはいません。戯曲の続きを書いています。
# 悲劇 6 作の中に「質問とその答え」のようなやりとりはなく、モデルが学んだのは、読んだのと同じ種類のテキストの続きを書くことだけです。
# スライド 14 がその歴史を語っています。GPT-1 は事前学習のあと、タスクごとに **ファインチューニング** しました（「事前学習, ファインチューニング」）。
# GPT-2 と GPT-3 はファインチューニングをやめて（「ファンチューニングやめた」）、大きさに頼りました。
# ChatGPT はそれを復活させました。ChatGPT の学習に使われたのは **InstructGPT**（OpenAI、2022 年）のレシピで、GPT-3 をさらに 2 段階でファインチューニングします。
# まず人が書いた答えで（4 節）、次に 2 つの答えのどちらを人が好んだかで（6–7 節）。
#
# （スライド 12 は GPT を「TransformerXL + 事前学習」と書いています。GPT はレッスン 04 で作ったとおり、レッスン 03 の Transformer のデコーダです。
# Transformer-XL は 2019 年の別のモデルで、より長い記憶を持ちます。スライドの要点はそのまま正しいです：たくさんのテキストで事前学習した Transformer です。）

# %% [markdown] tags=["en"]
# ## 2. Instructions and answers, written by code
#
# Slide 37 lists what the models learnt from: 4.5 million sentence pairs for the Transformer, 40 GB of web text, filtered
# by people, for GPT-2. Fine-tuning needs far less, but written with care: InstructGPT's demonstrations were written by
# hired people, about 13,000 prompts with a good answer each. Ours are
# written by `shikumi.chatdata`, in four small tasks: greet someone, give the first or the last word of a line, shout
# a line. Each is a *skill*, not a fact, so it can carry over to names and lines the model never saw during
# fine-tuning. Training draws its names and lines from all 38 plays (and made-up names that sound like the fairy
# tales'). Held out, never trained on: a list of famous characters and lines of the plays and of the fairy tales.
#
# The model reads English only — its vocabulary is the 82 characters of Shakespeare — so every example also comes in
# Japanese, for us.

# %% [markdown] tags=["ja"]
# ## 2. 指示と答えを、コードで書く
#
# スライド 37 は、モデルが何から学んだかを挙げています。Transformer は 450 万の文のペア、GPT-2 は人がフィルタリングした 40 GB の
# Web テキスト。ファインチューニングに要るデータはずっと少ないけれど、丁寧に書かれたものです。InstructGPT のお手本は、雇われた人たちが書きました。
# 約 13,000 個のプロンプトに、それぞれよい答えを 1 つずつ。
# 私たちのお手本は `shikumi.chatdata` がコードで書きます。タスクは 4 つの小さなものです：誰かにあいさつする、ある一節の最初の単語か最後の単語を答える、
# 一節を叫ぶ。どれも「事実」ではなく「技能」なので、ファインチューニングで一度も見なかった名前や一節にも通用するはずです。
# 学習用の名前と一節は 38 作すべての戯曲から（それと、昔話風の作り名前から）取ります。評価用に取っておき、学習では決して使わないのは、
# 戯曲と昔話の有名な登場人物と一節のリストです。
#
# モデルが読めるのは英語だけです —— 語彙はシェイクスピアの 82 文字で、日本語の文字は 1 つも知りません（レッスン 09）。
# そこで、どの例にも私たちが読むための日本語訳をつけてあります。

# %%
train_examples = chatdata.instructions(4000 if SIZE == "quick" else 8000, "train", seed=SEED)
heldout_examples = chatdata.instructions(48, "heldout", seed=SEED + 1)
names, lines = chatdata.fillers("greet", "train"), chatdata.fillers("first", "train")
line = tr("training: {n} chats over {a} names and {b} lines; held out: {c} names and {d} lines",
          "学習用：{a} 個の名前と {b} 個の一節から作った {n} 個のチャット。評価用：{c} 個の名前と {d} 個の一節")
print(line.format(n=len(train_examples), a=len(names), b=len(lines), c=len(chatdata.NAMES), d=len(chatdata.LINES)))
print()
translation = tr("", "    ↳ {}\n\n")
for example in train_examples[:3] + heldout_examples[:3]:
    print(example.prompt + example.answer + translation.format(example.ja()), end="")

# %% [markdown] tags=["en"]
# Every answer is the task's content and then a closing remark — polite half of the time (*"At your service."*), rude
# the other half (*"Away, you rogue!"*), the way the plays' own speakers talk. We made the demonstrations half rude
# **on purpose**, so that fine-tuning alone leaves something to fix, and we can watch preference tuning fix it.
# (Real demonstrations are written to be good. What preference tuning adds there is subtler: people find it easier
# to say which of two answers is better than to write the best one themselves.)

# %% [markdown] tags=["ja"]
# どの答えも、タスクの中身のあとに締めのひとことがつきます。半分は丁寧（*「なんなりとお申しつけください。」*）、
# 残り半分は失礼（*「失せろ、ごろつきめ！」*）。戯曲の登場人物たちの話しぶりそのままです。お手本を半分失礼にしたのは **わざと** です。
# ファインチューニングだけでは直らないものを残しておき、好みの学習がそれを直すところを見るためです。
# （本物のお手本は、よい答えになるように書かれます。そこで好みの学習が加えるものはもっと微妙です：人は、最高の答えを自分で書くより、
# 2 つの答えのどちらがよいかを言うほうがずっと簡単なのです。）

# %% [markdown] tags=["en"]
# ## 3. Learn the answer, not the question
#
# Fine-tuning is training again, with the same loss as pre-training: at every position, predict the next token.
# One change. The prompt is there to be read, not learnt: we want a model that answers questions, not one that
# also learns to write the user's questions. So only the answer's tokens count in the loss.
#
# As in lesson 04, the model reads `x = ids[:-1]` and at every position predicts the next token, `y = ids[1:]`.
# Where the target `y[t]` is still part of the prompt, we write **`IGNORE = -100`** instead:
# `F.cross_entropy(..., ignore_index=-100)` skips those positions. Here it is on two positions, one of them ignored:

# %% [markdown] tags=["ja"]
# ## 3. 質問ではなく、答えを学ぶ
#
# ファインチューニングとは、事前学習と同じ損失でもう一度学習することです。どの位置でも、次のトークンを予測します。
# 違いは 1 つだけ。プロンプトは読むためにあるもので、学ぶためのものではありません。欲しいのは質問に答えるモデルで、
# ユーザーの質問を書くことまで覚えるモデルではありません。だから損失に数えるのは答えのトークンだけです。
#
# レッスン 04 と同じく、モデルは `x = ids[:-1]` を読み、各位置で次のトークン `y = ids[1:]` を予測します。
# 目標 `y[t]` がまだプロンプトの一部である位置には、代わりに **`IGNORE = -100`** を書きます。
# `F.cross_entropy(..., ignore_index=-100)` はその位置を飛ばします。2 つの位置のうち 1 つを無視した例です：

# %%
IGNORE = finetune.IGNORE                              # -100
logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])          # (2, 3)
both = F.cross_entropy(logits, torch.tensor([0, 2]))
first_only = F.cross_entropy(logits, torch.tensor([0, IGNORE]), ignore_index=IGNORE)
print(f"{both.item():.4f}  {first_only.item():.4f}  {F.cross_entropy(logits[:1], torch.tensor([0])).item():.4f}")


# %% [markdown] tags=["en"]
# The second number is the loss of the first position alone (the third): the ignored position did not count.
#
# ### Exercise 10.1 — the inputs and the targets of one chat (2 points)

# %% [markdown] tags=["ja"]
# 2 番目の数は、1 つ目の位置だけの損失（3 番目の数）と同じです。無視した位置は数えられていません。
#
# ### 演習 10.1 — 1 つのチャットの入力と目標（2 点）

# %% nbgrader={"grade": false, "grade_id": "sft_inputs_and_targets", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sft_inputs_and_targets(prompt_ids, answer_ids):
    """x = ids[:-1];  y = ids[1:], with y[t] = IGNORE where ids[t + 1] ∈ prompt   (slide 12: ファインチューニング)

    en: The inputs and the targets of one chat, with the loss on the answer only.
    ja: 1 つのチャットの入力と目標。損失は答えの部分だけにかける。
    en: prompt_ids, answer_ids: lists of token ids (ints), P and A of them; ids = prompt_ids + answer_ids.
    en: Returns (x, y): two 1-D torch.long tensors of length P + A - 1. x is what the model reads; y[t] = ids[t + 1]
    en: is what it should predict at position t, except that every target that belongs to the prompt is IGNORE (-100),
    en: so that the loss counts only the answer. Edge case: a one-token prompt hides nothing.
    en: Hint: y[t] = ids[t + 1] is part of the prompt when t + 1 < P. How many t is that?
    ja: prompt_ids, answer_ids: トークン ID（int）のリスト。それぞれ P 個と A 個。ids = prompt_ids + answer_ids。
    ja: 戻り値: (x, y)。長さ P + A - 1 の 1 次元 torch.long テンソル 2 つ。x はモデルが読むもの。y[t] = ids[t + 1] は位置 t で
    ja: 予測すべきもの。ただし、プロンプトに属する目標はすべて IGNORE（-100）にして、損失が答えだけを数えるようにする。
    ja: 注意: プロンプトが 1 トークンだけなら、何も隠れない。
    ja: ヒント: y[t] = ids[t + 1] がプロンプトの一部なのは t + 1 < P のとき。そんな t はいくつある？
    """
    ### BEGIN SOLUTION
    ids = torch.tensor(list(prompt_ids) + list(answer_ids), dtype=torch.long)
    x, y = ids[:-1], ids[1:].clone()
    y[: len(prompt_ids) - 1] = IGNORE
    return x, y
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "sft_inputs_and_targets_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
x, y = sft_inputs_and_targets([10, 11, 12, 13], [20, 21, 22])                  # P = 4, A = 3
x, y = torch.as_tensor(x), torch.as_tensor(y)
what, hint = tr("the shapes of x and y", "x と y の形"), tr("Both are the sequence shifted by one: P + A - 1 = 6 tokens each.", "どちらも 1 つずらした列です。それぞれ P + A - 1 = 6 トークン。")
expect((tuple(x.shape), tuple(y.shape)), ((6,), (6,)), what, hint)
what, hint = "x", tr("x = ids[:-1]: the whole prompt and the answer but its last token, nothing masked.",
                     "x = ids[:-1]：プロンプト全部と、最後のトークンを除いた答え。何も隠しません。")
expect(x.tolist(), [10, 11, 12, 13, 20, 21], what, hint)
what = "y"
hint = tr("y = ids[1:] = [11, 12, 13, 20, 21, 22]; the targets 11, 12, 13 are the prompt's.",
          "y = ids[1:] = [11, 12, 13, 20, 21, 22] で、目標 11, 12, 13 はプロンプトのものです。")
mistakes = [([-100, -100, -100, -100, 21, 22], tr("One too many: y[3] = 20 is the answer's first token and must count.",
                                                  "1 つ多すぎます。y[3] = 20 は答えの最初のトークンなので数えます。")),
            ([-100, -100, 13, 20, 21, 22], tr("One too few: y[2] = 13 is the prompt's last token, mask it too.",
                                              "1 つ足りません。y[2] = 13 はプロンプトの最後のトークンなので、これも隠します。")),
            ([11, 12, 13, -100, -100, -100], tr("Swapped: hide the prompt's targets and keep the answer's.",
                                                "逆です。プロンプトの目標を隠し、答えの目標を残します。")),
            ([0, 0, 0, 20, 21, 22], tr("Use IGNORE = -100: 0 is a real token id.",
                                       "IGNORE = -100 を使います。0 は本物のトークン ID です。")),
            ([11, 12, 13, 20, 21, 22], tr("Nothing is masked yet: put IGNORE where the target is the prompt's.",
                                          "まだ何も隠れていません。目標がプロンプトのものである位置に IGNORE を入れます。"))]
expect(y.tolist(), [-100, -100, -100, 20, 21, 22], what, hint, mistakes=mistakes)
what, hint = tr("a one-token prompt", "1 トークンのプロンプト"), tr("With P = 1 no target belongs to the prompt: nothing is masked.", "P = 1 なら、プロンプトに属する目標はないので、何も隠しません。")
expect(torch.as_tensor(sft_inputs_and_targets([5], [6, 7])[1]).tolist(), [6, 7], what, hint)
passed("Exercise 10.1")

# %% [markdown] tags=["en"]
# One chat from the training set, through your function: what the model reads, and what it learns (`·` is IGNORE,
# `⏎` a line break). Only the answer, with its closing blank line, is learnt — that blank line is how the model learns
# to **stop**.

# %% [markdown] tags=["ja"]
# 学習用のチャットを 1 つ、あなたの関数に通してみます。モデルが読むものと、学ぶもの（`·` は IGNORE、`⏎` は改行）。
# 学ぶのは答えと、その最後の空行だけです —— その空行こそ、モデルが **止まる** ことを覚える場所です。

# %%
example = train_examples[0]
x, y = sft_inputs_and_targets(tok.encode(example.prompt), tok.encode(example.answer))
def shown(ids):
    return "".join("·" if i == IGNORE else tok.decode([i]).replace("\n", "⏎") for i in torch.as_tensor(ids).tolist())
print(tr("x, reads:  ", "x（読む）：") + shown(x))
print(tr("y, learns: ", "y（学ぶ）：") + shown(y))
counted = int((torch.as_tensor(y) != IGNORE).sum())
line = tr("{c} of {n} targets count: the answer's {a} characters", "{n} 個の目標のうち数えるのは {c} 個：答えの {a} 文字です")
print(line.format(c=counted, n=len(y), a=len(example.answer)))

# %% [markdown] tags=["en"]
# ## 4. Fine-tuning: the same training loop, new data (slides 12, 14)
#
# Fine-tuning is the course's one training loop (`shikumi.train.train`, as in lessons 02–08) started from the
# pre-trained weights, with a loss that skips the prompt. A short run with your function, 40 steps: watch the loss
# fall from where lesson 04's GPT starts.

# %% [markdown] tags=["ja"]
# ## 4. ファインチューニング：同じ学習ループに、新しいデータ（スライド 12, 14）
#
# ファインチューニングは、コース共通の学習ループ（`shikumi.train.train`、レッスン 02–08 と同じ）を、事前学習済みの重みから、
# プロンプトを飛ばす損失で回すことです。あなたの関数を使って 40 ステップだけ短く学習させ、レッスン 04 の GPT の出発点から損失が下がるのを見ましょう。

# %%
LIVE_STEPS = 40
# en: a copy of lesson 04's GPT to fine-tune; `base` itself stays as it is
# ja: ファインチューニングするのはレッスン 04 の GPT のコピー。`base` そのものはそのまま
live = copy.deepcopy(base)
val_examples = chatdata.instructions(128, "heldout", seed=SEED + 2)
settings = TrainConfig(max_steps=LIVE_STEPS, lr=1e-3, warmup_steps=5, eval_every=10, eval_steps=4,
                       weight_decay=0.0, device=DEVICE, cpu_threads=1)
live_history = finetune.finetune_sft(live, tok, train_examples, val_examples, settings, batch_size=16, seed=SEED,
                                     make_targets=sft_inputs_and_targets)
line = tr("{s} steps in {t:.0f} s: loss on the answers {a:.2f} → {b:.2f} nats per character",
          "{s} ステップ、{t:.0f} 秒：答えの損失 {a:.2f} → {b:.2f}（1 文字あたりのナット）")
print(line.format(s=LIVE_STEPS, t=live_history.seconds, a=live_history.train_loss[0], b=live_history.train_loss[-1]))

# %% [markdown] tags=["en"]
# The shipped model, `gpt_chat_sft`, is the same run, longer: 1,500 steps of 32 chats, about eight minutes on one CPU
# core (`shikumi train gpt_chat_sft` reproduces it; the loader checks its SHA-256). To fine-tune it here yourself, set
# `FINETUNE_HERE = True`. Both runs' curves — the short one above, and the shipped one as it was recorded:

# %% [markdown] tags=["ja"]
# 同梱のモデル `gpt_chat_sft` は同じ学習をもっと長く回したものです。32 個のチャットで 1,500 ステップ、CPU 1 コアで約 8 分
# （`shikumi train gpt_chat_sft` で再現でき、読み込む前に SHA-256 を確かめます）。ここで自分でファインチューニングしたい人は
# `FINETUNE_HERE = True` にしてください。2 つの学習の曲線 —— 上の短い学習と、記録しておいた同梱モデルの学習です：

# %%
# en: True: fine-tune for the whole recipe here, with your function (minutes on a CPU)
# ja: True にすると、レシピ全体のファインチューニングをここで、あなたの関数で行います（CPU で数分）
FINETUNE_HERE = False

if FINETUNE_HERE or SIZE == "full":
    recipe = zoo.gpt_chat.SFT_RECIPES[SIZE]
    sft = copy.deepcopy(base)
    sft_history = finetune.finetune_sft(sft, tok, chatdata.instructions(recipe.n_train, "train", SEED), val_examples,
                                        dataclasses.replace(recipe.train, device=DEVICE), recipe.batch_size, SEED,
                                        make_targets=sft_inputs_and_targets)
    record = {"step": sft_history.step, "train_loss": sft_history.train_loss,
              "eval_step": sft_history.eval_step, "eval_loss": sft_history.eval_loss}
else:
    # en: the shipped fine-tuned GPT, its SHA-256 verified, and what its training recorded
    # ja: 同梱のファインチューニング済み GPT（SHA-256 を確認済み）と、その学習の記録
    sft, _ = zoo.gpt_chat.load_gpt_chat("gpt_chat_sft", device)
    record = checkpoint.load_history("gpt_chat_sft")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.3))
names = {"train": tr("training chats", "学習用のチャット"), "val": tr("held-out chats", "評価用のチャット")}
title1, title2, xlabel, ylabel = tr("your 40 steps", "あなたの 40 ステップ"), tr("the shipped fine-tuning", "同梱モデルのファインチューニング"), tr("step", "ステップ"), tr("loss on the answers", "答えの損失")
ax1.plot(live_history.step, live_history.train_loss, label=names["train"])
ax1.plot(live_history.eval_step, live_history.eval_loss, marker="o", label=names["val"])
ax2.plot(record["step"], record["train_loss"], label=names["train"])
ax2.plot(record["eval_step"], record["eval_loss"], marker="o", label=names["val"])
for ax, title in ((ax1, title1), (ax2, title2)):
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
plt.show()

# %% [markdown] tags=["en"]
# The loss falls fast at first: the model learns the *format* (who speaks, where to stop, the closing remarks) in a
# few dozen steps. The rest is the skills. The loss on the held-out chats cannot reach 0: which of the twelve closing
# remarks comes next is a coin toss the model cannot win.
#
# Now the same three questions as in section 1 and three more, never seen in fine-tuning, side by side — lesson 04's
# GPT, after your 40 steps, and after the whole fine-tuning:

# %% [markdown] tags=["ja"]
# 損失は最初に急に下がります。数十ステップで *形式*（誰が話すか、どこで止まるか、締めのひとこと）を覚えるからです。残りは技能の学習です。
# 評価用のチャットでの損失は 0 にはなりません。12 種類の締めのひとことのどれが来るかは、モデルには当てようのないくじ引きだからです。
#
# では、1 節と同じ 3 つの質問と、ファインチューニングで一度も見なかった 3 つを並べてみます。レッスン 04 の GPT、あなたの 40 ステップ後、
# そしてファインチューニングを最後までしたものです：

# %%
showcase = questions + [e.instruction for e in heldout_examples[3:6]]
labels = {tr("lesson 04 GPT", "レッスン 04 の GPT"): base, tr(f"after {LIVE_STEPS} steps", f"{LIVE_STEPS} ステップ後"): live, tr("fine-tuned (SFT)", "ファインチューニング後 (SFT)"): sft}
answers = {label: finetune.replies(model, tok, showcase) for label, model in labels.items()}
for i, question in enumerate(showcase):
    print("USER: " + question)
    for label in labels:
        print(f"  {label:>18}: {answers[label][i]!r}")
    print()

# %% [markdown] tags=["en"]
# After 40 steps the model already has the *form* of an answer — a greeting, `It is "…".`, a closing remark, a blank
# line to stop — but not yet the skills: it greets someone else, and leaves the word out. The whole fine-tuning gets
# them right.
#
# How much better, in numbers? We ask each model the 48 held-out instructions and let a rule mark the answers
# (`chatdata.judge`: does the answer start with the right content, and does it end?). We also measure how surprised
# each model is by the demonstrated answers (the loss on the answers, as in the training curves).

# %% [markdown] tags=["ja"]
# 40 ステップ後のモデルは、答えの *形* はもう身につけています —— あいさつ、`It is "…".`、締めのひとこと、止まるための空行。
# でも技能はまだです。別の人にあいさつしたり、単語を抜かしたりします。ファインチューニングを最後までやると、正しく答えられるようになります。
#
# どれくらいよくなったのか、数字で見ましょう。それぞれのモデルに評価用の 48 個の指示を出し、答えを規則で採点します
# （`chatdata.judge`：答えが正しい中身で始まり、ちゃんと終わっているか）。お手本の答えに対してモデルがどれだけ驚くか
# （学習曲線と同じ、答えの損失）も測ります。

# %%
scores = {"base": finetune.score(base, tok, heldout_examples), "SFT": finetune.score(sft, tok, heldout_examples)}
answer_loss = {name: finetune.answer_loss(model, tok, heldout_examples) for name, model in (("base", base), ("SFT", sft))}
line = tr("held-out instructions answered right: lesson 04's GPT {a:.0%}, fine-tuned {b:.0%}",
          "評価用の指示に正しく答えた割合：レッスン 04 の GPT {a:.0%}、ファインチューニング後 {b:.0%}")
print(line.format(a=scores["base"].correct, b=scores["SFT"].correct))
line = tr("loss on the held-out answers: {a:.2f} → {b:.2f} nats per character",
          "評価用の答えの損失：{a:.2f} → {b:.2f}（1 文字あたりのナット）")
print(line.format(a=answer_loss["base"], b=answer_loss["SFT"]))
groups = {tr("lesson 04 GPT", "レッスン 04 の GPT"): {tr("right", "正しい"): scores["base"].correct, tr("right and polite", "正しくて丁寧"): scores["base"].preferred},
          tr("fine-tuned (SFT)", "ファインチューニング後"): {tr("right", "正しい"): scores["SFT"].correct, tr("right and polite", "正しくて丁寧"): scores["SFT"].preferred}}
title = tr("48 held-out instructions, greedy answers", "評価用の指示 48 個、貪欲法での答え")
plot.bars(groups, title=title, percent=True)
plt.show()


# %% [markdown] tags=["en"]
# From no right answer to nearly all of them, on names and lines the model never saw while fine-tuned: it learnt
# the skills, not a list of answers. Half of those answers are rude, though — the demonstrations were. Fine-tuning
# copies the demonstrations, good and bad. The next step teaches the model which answers people *prefer*.

# %% [markdown] tags=["ja"]
# 正答ゼロから、ほぼ全問正解へ。しかもファインチューニング中に一度も見なかった名前と一節でです。モデルは答えのリストではなく、技能を学びました。
# ただし、その答えの半分は失礼です —— お手本がそうだったからです。ファインチューニングはお手本を、よいところも悪いところもまねます。
# 次のステップでは、人がどちらの答えを *好む* かをモデルに教えます。

# %% [markdown] tags=["en"]
# ## 5. How likely is a whole answer?
#
# Preference tuning compares two answers to one prompt, and for that we need one number per answer: how probable the
# model finds it, **log P(answer | prompt)**. A GPT gives the probability of one token at a time (slide 25), so the
# probability of the answer is the product, and its logarithm the sum:
#
#     log P(answer | prompt) = Σ over the answer's positions t of  log softmax(logits[t])[target t]
#
# With the targets of section 3 (IGNORE at the prompt and at the padding), that is a sum over the positions whose
# target is not IGNORE.
#
# ### Exercise 10.2 — the log-probability of each answer in a batch (2 points)

# %% [markdown] tags=["ja"]
# ## 5. 答え全体は、どれくらいありそうか
#
# 好みの学習では、1 つのプロンプトへの 2 つの答えを比べます。そのために、答えごとに 1 つの数が必要です：モデルがその答えをどれくらいありそうだと思うか、
# **log P(答え | プロンプト)**。GPT が出すのは 1 トークンずつの確率（スライド 25）なので、答えの確率はその積、対数をとれば和です：
#
#     log P(答え | プロンプト) = 答えの各位置 t についての  log softmax(logits[t])[目標 t]  の和
#
# 3 節の目標（プロンプトとパディングには IGNORE）を使えば、目標が IGNORE でない位置についての和になります。
#
# ### 演習 10.2 — バッチの各答えの対数確率（2 点）

# %% nbgrader={"grade": false, "grade_id": "sequence_logprob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sequence_logprob(logits, targets):
    """log P(answer | prompt) = Σ_t log softmax(logits[b, t])[targets[b, t]],   t: targets[b, t] ≠ IGNORE

    en: How likely the model finds each answer of a batch, all its tokens together.
    ja: バッチの各答えを、モデルがどれくらいありそうだと思うか。答えのトークン全部をまとめて。
    en: logits: (B, T, vocab) floats, the model's output; targets: (B, T) token ids, IGNORE (-100) at the prompt and
    en: the padding. Returns a (B,) tensor: one log-probability per row (0.0 for a row with no answer at all).
    en: targets[b, t] is already the token that follows position t: don't shift again.
    en: Hint: log_softmax over the last dimension, then .gather(-1, ...) picks each target's value; -100 is not an
    en: index, so replace it (e.g. by 0) before gathering, and multiply by the mask targets != IGNORE after.
    ja: logits: (B, T, vocab) の float。モデルの出力。targets: (B, T) のトークン ID。プロンプトとパディングは IGNORE（-100）。
    ja: 戻り値: 形 (B,) のテンソル。行ごとに 1 つの対数確率（答えがまったくない行は 0.0）。
    ja: targets[b, t] はすでに位置 t の次のトークン。もう一度ずらさないこと。
    ja: ヒント: 最後の次元で log_softmax をとり、.gather(-1, ...) で各目標の値を取り出す。-100 はインデックスにならないので、
    ja: gather の前に（たとえば 0 に）置き換え、あとでマスク targets != IGNORE を掛ける。
    """
    ### BEGIN SOLUTION
    mask = targets != IGNORE
    logp = logits.log_softmax(dim=-1)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=-1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "sequence_logprob_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: one answer of two tokens after a one-token prompt: P = 0.8, then 0.6 (the logits are log-probabilities + 3)
# ja: 1 トークンのプロンプトのあとの、2 トークンの答え：確率 0.8、次に 0.6（ロジットは対数確率 + 3）
probs = torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]])      # (1, 3, 3)
logits, targets = probs.log() + 3, torch.tensor([[IGNORE, 1, 2]])
got = sequence_logprob(logits, targets)
what, hint = tr("the shape", "形"), tr("One log-probability per row: sum over t, keep the batch, shape (B,) = (1,).", "行ごとに 1 つの対数確率です。t について合計し、バッチは残します。形 (B,) = (1,)。")
expect(tuple(torch.as_tensor(got).shape), (1,), what, hint)
what, hint = "log 0.8 + log 0.6", tr("log_softmax over the vocabulary, pick the targets, sum where the target is not IGNORE.",
                                     "語彙方向に log_softmax をとり、目標の値を取り出し、目標が IGNORE でないところを合計します。")
mistakes = [(5.266031, tr("Those are raw logits: take log_softmax first.",
                          "それは生のロジットです。先に log_softmax をとります。")),
            (1.4, tr("Those are probabilities: add their logarithms (log_softmax).",
                     "それは確率です。足すのはその対数（log_softmax）です。")),
            (-0.366985, tr("Sum over the answer's tokens, don't average.", "答えのトークンについて、平均ではなく合計をとります。")),
            (-1.427116, tr("The IGNORE target at position 0 must not count: multiply by the mask.",
                           "位置 0 の IGNORE の目標は数えません。マスクを掛けます。")),
            (-3.688879, tr("Don't shift again: targets[b, t] is scored by logits[b, t].",
                           "もう一度ずらさないでください。targets[b, t] は logits[b, t] で採点します。"))]
expect(round(float(torch.as_tensor(got).reshape(-1)[0]), 6), -0.733969, what, hint, rel=1e-5, mistakes=mistakes)
g = torch.Generator().manual_seed(SEED)
logits, targets = torch.randn(3, 6, 5, generator=g), torch.randint(5, (3, 6), generator=g)
# en: a prompt of 2 tokens in every row, and padding at the end of the last row
# ja: どの行にも 2 トークンのプロンプト、最後の行の終わりにはパディング
targets[:, :2], targets[2, 4:] = IGNORE, IGNORE
want = -F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="none").view(3, 6).sum(-1)
what, hint = tr("random logits, a prompt and padding", "ランダムなロジット、プロンプトとパディング"), tr("Only the targets that are not IGNORE count.", "数えるのは IGNORE でない目標だけです。")
expect_close(sequence_logprob(logits, targets), want, what, hint)
passed("Exercise 10.2")

# %% [markdown] tags=["en"]
# Now a **preference pair**: one held-out instruction, a polite answer and a rude one with the same content. How
# likely does the fine-tuned model find each? Each dot below is one of 200 held-out pairs; above the diagonal the model
# finds the polite answer more likely. The fraction of dots above it is the model's **win rate**: how often it agrees
# with the people who prefer the polite answer.

# %% [markdown] tags=["ja"]
# ここで **好みのペア** です。評価用の指示 1 つに、中身が同じで、丁寧な答えと失礼な答えが 1 つずつ。ファインチューニング後のモデルは、
# それぞれをどれくらいありそうだと思うでしょう？ 下の点の 1 つ 1 つが評価用の 200 ペアのひとつで、対角線より上なら、モデルは丁寧な答えのほうを
# ありそうだと思っています。対角線より上の点の割合がモデルの **勝率** です：丁寧な答えを好む人たちと、どれくらい意見が合うか。

# %%
heldout_pairs = chatdata.preference_pairs(200, "heldout", seed=SEED + 1)

@torch.no_grad()
def pair_logprobs(model, pairs):
    """
    en: (log P(polite answer), log P(rude answer)) for each pair, with your sequence_logprob.
    ja: 各ペアの (log P(丁寧な答え), log P(失礼な答え))。あなたの sequence_logprob で計算する。
    """
    out = []
    for answers in ([p.chosen for p in pairs], [p.rejected for p in pairs]):
        x, y = finetune.pad([finetune.encode_chat(tok, p.prompt, a) for p, a in zip(pairs, answers)])
        out.append(torch.as_tensor(sequence_logprob(model(x.to(device)).float().cpu(), y)))
    return out

def preference_picture(model, title, ax):
    polite, rude = pair_logprobs(model, heldout_pairs)
    above = polite > rude
    labels = [tr("polite more likely", "丁寧なほうがありそう") if a else tr("rude more likely", "失礼なほうがありそう") for a in above]
    xlabel, ylabel = tr("log P(rude answer)", "log P(失礼な答え)"), tr("log P(polite answer)", "log P(丁寧な答え)")
    plot.scatter(torch.stack([rude, polite], 1), labels, title=title.format(above.float().mean()), ax=ax,
                 xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8, loc="lower right")
    low, high = float(torch.cat([polite, rude]).min()), float(torch.cat([polite, rude]).max())
    ax.plot([low, high], [low, high], color="gray", linestyle=":")
    return above.float().mean().item()

fig, ax = plt.subplots(figsize=(6, 4.5))
title = tr("SFT, win rate on 200 held-out pairs: {:.0%}", "SFT、評価用 200 ペアでの勝率：{:.0%}")
win_rate_sft = preference_picture(sft, title, ax)
plt.show()

# %% [markdown] tags=["en"]
# About half above, half below: a coin toss. The fine-tuned model has no preference, since its demonstrations had
# none. Preference tuning should move the dots up.

# %% [markdown] tags=["ja"]
# だいたい半分が上、半分が下。くじ引きです。お手本に好みがなかったので、ファインチューニング後のモデルにも好みはありません。
# 好みの学習で、点が上へ動くはずです。

# %% [markdown] tags=["en"]
# ## 6. InstructGPT's recipe: a reward model, then reinforcement learning (slide 38: RLHF)
#
# Slide 38: 「といったFBで強化学習する」 — ChatGPT learns by reinforcement from feedback. InstructGPT, the paper behind
# it, does it in three steps after pre-training:
#
# 1. **SFT** — fine-tune on demonstrations: section 4.
# 2. **A reward model** — show people several answers to one prompt and let them rank them. Train a model
#    r(prompt, answer) → one number, so that the answer people preferred gets the higher number.
# 3. **Reinforcement learning** (PPO) — let the SFT model answer prompts, score each answer with the reward model,
#    and change the model to make high-scoring answers more likely; with a penalty, β·KL, for drifting far from the
#    SFT model (which would let it find answers that fool the reward model).
#
# The second row below is section 7's shortcut, DPO.

# %% [markdown] tags=["ja"]
# ## 6. InstructGPT のレシピ：報酬モデル、そして強化学習（スライド 38：RLHF）
#
# スライド 38：「といったFBで強化学習する」。ChatGPT はフィードバックからの強化学習で学びます。その元になった論文 InstructGPT は、
# 事前学習のあとを 3 段階で行います：
#
# 1. **SFT** —— お手本でファインチューニング。4 節でやったことです。
# 2. **報酬モデル** —— 1 つのプロンプトへのいくつかの答えを人に見せ、順位をつけてもらいます。そして r(プロンプト, 答え) → 1 つの数、
#    というモデルを、人が好んだ答えほど大きな数になるように学習させます。
# 3. **強化学習**（PPO）—— SFT モデルにプロンプトへ答えさせ、各答えを報酬モデルで採点し、点の高い答えが出やすくなるようにモデルを変えます。
#    ただし SFT モデルから離れすぎると罰（β·KL）を受けます（離れすぎると、報酬モデルをだます答えを見つけてしまうからです）。
#
# 下の図の 2 行目は、7 節で扱う近道、DPO です。

# %%
rows = tr({"InstructGPT\n(RLHF)": ["pre-trained GPT\n(lesson 04)", "① SFT\non demonstrations",
                                   "② reward model\nr(x, y), from people's\ncomparisons",
                                   "③ RL (PPO)\nmake high-r answers\nlikely, − β·KL", "assistant"],
           "DPO": ["pre-trained GPT\n(lesson 04)", "① SFT\non demonstrations", "",
                   "DPO: the comparisons,\nstraight into the GPT", "assistant"]},
          {"InstructGPT\n(RLHF)": ["事前学習した GPT\n（レッスン 04）", "① SFT\nお手本で", "② 報酬モデル\nr(x, y)\n人の比較から",
                                   "③ 強化学習 (PPO)\nr の高い答えを\n出やすく、− β·KL", "アシスタント"],
           "DPO": ["事前学習した GPT\n（レッスン 04）", "① SFT\nお手本で", "", "DPO：比較を\nそのまま GPT に", "アシスタント"]})
title = tr("From GPT to ChatGPT: InstructGPT's three steps (Ouyang et al. 2022), and DPO (Rafailov et al. 2023)",
           "GPT から ChatGPT へ：InstructGPT の 3 段階（Ouyang ら 2022）と DPO（Rafailov ら 2023）")
plot.flow(rows, title=title)
plt.show()


# %% [markdown] tags=["en"]
# Step 2 turns comparisons into numbers with a simple model of choice (Bradley–Terry, 1952): if the answers' rewards
# are r_w (the winner) and r_l (the loser), people pick the winner with probability σ(r_w − r_l), where the sigmoid
# σ(z) = 1 / (1 + e^(−z)) turns any number into a probability between 0 and 1. Training maximises that probability for every pair people labelled; as a loss to
# minimise, **−log σ(r_w − r_l)**: small when the winner's reward is well above the loser's, large when it is below.
#
# ### Exercise 10.3 — the reward model's loss (2 points)

# %% [markdown] tags=["ja"]
# ステップ 2 は、単純な選択のモデル（Bradley–Terry、1952 年）で比較を数に変えます。2 つの答えの報酬が r_w（勝った方）と r_l（負けた方）なら、
# 人が勝った方を選ぶ確率は σ(r_w − r_l) です。シグモイド関数 σ(z) = 1 / (1 + e^(−z)) は、どんな数も 0 と 1 の間の確率に変えます。人がラベルをつけたすべてのペアについてこの確率を最大にするのが学習で、
# 最小化する損失として書けば **−log σ(r_w − r_l)**。勝った方の報酬が負けた方よりずっと上なら小さく、下なら大きくなります。
#
# ### 演習 10.3 — 報酬モデルの損失（2 点）

# %% nbgrader={"grade": false, "grade_id": "reward_model_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reward_model_loss(reward_chosen, reward_rejected):
    """loss = mean_i −log σ(r_chosen[i] − r_rejected[i])   (Bradley–Terry; InstructGPT ②; slide 38: RLHF)

    en: The reward model's loss: small when the answer people preferred gets the higher reward.
    ja: 報酬モデルの損失。人が好んだ答えの報酬のほうが高いときに小さくなる。
    en: reward_chosen, reward_rejected: (B,) tensors, the rewards of the answer people preferred and of the other one.
    en: Returns a scalar tensor: small when every chosen answer's reward is well above its rejected one's.
    en: Edge case: equal rewards give log 2 = 0.693 (the model cannot tell the answers apart).
    en: Hint: F.logsigmoid(x) computes log σ(x) without rounding: torch.log(torch.sigmoid(x)) turns into log(0) = -inf
    en: for a large negative x.
    ja: reward_chosen, reward_rejected: (B,) のテンソル。人が好んだ答えの報酬と、もう一方の答えの報酬。
    ja: 戻り値: スカラーのテンソル。どのペアでも、選ばれた答えの報酬が選ばれなかった答えよりずっと上なら小さい。
    ja: 注意: 報酬が等しければ log 2 = 0.693（モデルには 2 つの答えの区別がつかない）。
    ja: ヒント: F.logsigmoid(x) は log σ(x) を丸めずに計算する。torch.log(torch.sigmoid(x)) は、大きな負の x で log(0) = -inf になる。
    """
    ### BEGIN SOLUTION
    return -F.logsigmoid(reward_chosen - reward_rejected).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "reward_model_loss_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
got = reward_model_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]))
what, hint = tr("the loss is one number", "損失は 1 つの数"), tr("Average over the pairs with .mean(): the result is a scalar.", "ペアについて .mean() で平均をとります。結果はスカラーです。")
expect(torch.as_tensor(got).numel(), 1, what, hint)
what = "reward_model_loss([2, 0], [0, 0])"
hint = tr("-log σ(2 - 0) = 0.127 and -log σ(0) = 0.693, averaged.",
          "-log σ(2 - 0) = 0.127 と -log σ(0) = 0.693 の平均です。")
mistakes = [(1.410038, tr("The sign is flipped: -log σ(r_chosen - r_rejected).",
                          "符号が逆です：-log σ(r_chosen - r_rejected)。")),
            (-0.410038, tr("Don't forget the minus: log σ(·) is negative.", "マイナスを忘れずに。log σ(·) は負の数です。")),
            (-0.690399, tr("Take the logarithm: F.logsigmoid, not σ itself.",
                           "対数をとります。σ そのものではなく F.logsigmoid です。")),
            (0.820075, tr("Average over the pairs (.mean()), don't sum.", "ペアについて合計ではなく平均（.mean()）をとります。"))]
expect(round(float(torch.as_tensor(got).reshape(())), 6), 0.410038, what, hint, rel=1e-5, mistakes=mistakes)
what = tr("a pair the reward model gets badly wrong: reward_model_loss([0], [200])",
          "報酬モデルがひどく間違えたペア：reward_model_loss([0], [200])")
hint = tr("The loss is 200, not inf: use F.logsigmoid, which stays finite where log(sigmoid(-200)) = log(0).",
          "損失は inf ではなく 200 です。F.logsigmoid を使えば、log(sigmoid(-200)) = log(0) となるところでも有限のままです。")
expect(float(torch.as_tensor(reward_model_loss(torch.tensor([0.0]), torch.tensor([200.0]))).reshape(())), 200.0, what, hint)
passed("Exercise 10.3")

# %% [markdown] tags=["en"]
# InstructGPT's reward model is a whole GPT with one number as its output. Ours is the smallest reward model there is:
# one number per word, and an answer's reward is the sum of its words' numbers. Trained with your loss on 1,000
# preference pairs for a second or two, it has learnt which words people like:

# %% [markdown] tags=["ja"]
# InstructGPT の報酬モデルは、出力が 1 つの数になった GPT まるごとです。私たちのは、いちばん小さな報酬モデル：単語ごとに 1 つの数を持ち、
# 答えの報酬はその単語たちの数の合計です。あなたの損失で 1,000 個の好みのペアを 1、2 秒学習させると、人がどんな単語を好むかを覚えます：

# %%
train_pairs = chatdata.preference_pairs(1000, "train", seed=SEED)
val_pairs = chatdata.preference_pairs(128, "heldout", seed=SEED + 2)
rm_settings = TrainConfig(max_steps=100, lr=0.1, warmup_steps=1, eval_every=50, weight_decay=0.0, device="cpu")
reward_model, _ = preference.train_reward_model(train_pairs, val_pairs, rm_settings, loss=reward_model_loss)
line = tr("the reward model prefers the better answer of {a:.0%} of the held-out pairs",
          "報酬モデルは、評価用のペアの {a:.0%} で、よいほうの答えに高い報酬をつけます")
print(line.format(a=preference.reward_accuracy(reward_model, heldout_pairs)))
# en: the words' rewards (punctuation left out)
# ja: 単語ごとの報酬（句読点は除く）
words = {w: r for w, r in reward_model.words().items() if w.isalpha()}
ranked = sorted(words, key=words.get)
title, ylabel = tr("what the reward model learnt: the reward of each word", "報酬モデルが学んだこと：単語ごとの報酬"), tr("reward", "報酬")
plot.bar({w: words[w] for w in ranked[:8] + ranked[-8:]}, title=title, ylabel=ylabel, top=16)
plt.show()


# %% [markdown] tags=["en"]
# Step 3 would now let the SFT model answer thousands of prompts, score every answer with the reward model, and
# nudge the model towards what scores well (PPO, a reinforcement-learning algorithm), while the β·KL penalty keeps it
# close to the SFT model. That loop is the heavy part of RLHF: four models in memory (the model being trained, a
# frozen copy of the SFT model, the reward model, and PPO's value model), sampling in the middle of training, and many
# settings to tune. We skip it — and so, since 2023, do many who tune chat models: the next section shows why it can
# be skipped.

# %% [markdown] tags=["ja"]
# ステップ 3 では、SFT モデルに何千ものプロンプトへ答えさせ、すべての答えを報酬モデルで採点し、点の高い方へモデルを少しずつ動かします
# （PPO という強化学習のアルゴリズム）。そのあいだ β·KL の罰が、モデルを SFT モデルの近くにとどめます。このループが RLHF の重い部分です。
# メモリには 4 つのモデル（学習中のモデル、凍結した SFT モデルのコピー、報酬モデル、PPO の価値モデル）、学習の途中でのサンプリング、
# 調整すべきたくさんの設定。私たちはここを飛ばします —— 2023 年からは、チャットモデルを調整する多くの人もそうしています。なぜ飛ばせるのかを、次の節で見ます。

# %% [markdown] tags=["en"]
# ## 7. DPO: the reward model was inside the GPT all along
#
# Step 3 asks for the model π that gets the most reward while staying near the SFT model π_ref. That problem has a
# known answer (Rafailov et al. 2023, *Direct Preference Optimization*): the best model makes each answer y more
# likely than π_ref does by a factor that grows with its reward, **π(y | x) ∝ π_ref(y | x) · exp(r(x, y) / β)**.
# Turn it around and the reward is written in the model itself:
#
#     r(x, y) = β · (log π(y | x) − log π_ref(y | x))  + (a term that depends on the prompt x only)
#
# Put that reward into step 2's loss. The term that depends only on x is the same for both answers and cancels in
# r_w − r_l, and what is left is the **DPO loss**, a loss on the GPT itself:
#
#     loss = −log σ( β · [ (log π(y_w | x) − log π_ref(y_w | x)) − (log π(y_l | x) − log π_ref(y_l | x)) ] )
#
# No reward model, no sampling, no reinforcement learning: the course's training loop, on preference pairs. The
# reference π_ref is the SFT model, frozen; β says how far the model may stray from it (a small β lets it go far).
#
# ### Exercise 10.4 — the DPO loss (3 points)

# %% [markdown] tags=["ja"]
# ## 7. DPO：報酬モデルは、はじめから GPT の中にあった
#
# ステップ 3 が求めているのは、SFT モデル π_ref の近くにとどまりながら、報酬がいちばん高くなるモデル π です。この問題には答えがわかっています
# （Rafailov ら 2023、*Direct Preference Optimization*、直接選好最適化）。最良のモデルは、各答え y を π_ref よりも、報酬が高いほど大きな倍率で
# 出やすくします：**π(y | x) ∝ π_ref(y | x) · exp(r(x, y) / β)**。これを逆に読むと、報酬はモデル自身の中に書かれています：
#
#     r(x, y) = β · (log π(y | x) − log π_ref(y | x))  +（プロンプト x だけで決まる項）
#
# この報酬をステップ 2 の損失に入れます。x だけで決まる項は 2 つの答えで同じなので、r_w − r_l で打ち消し合います。
# 残るのが **DPO の損失**、GPT そのものについての損失です：
#
#     損失 = −log σ( β · [ (log π(y_w | x) − log π_ref(y_w | x)) − (log π(y_l | x) − log π_ref(y_l | x)) ] )
#
# 報酬モデルも、サンプリングも、強化学習もいりません。好みのペアで、コース共通の学習ループを回すだけです。参照モデル π_ref は凍結した SFT モデル、
# β はモデルがそこからどれだけ離れてよいかを決めます（β が小さいほど遠くまで行けます）。
#
# ### 演習 10.4 — DPO の損失（3 点）

# %% nbgrader={"grade": false, "grade_id": "dpo_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """loss = mean_i −log σ(β·[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))])   (DPO)

    en: DPO's loss: the reward model's loss, with the reward that hides in the model, β·(log π − log π_ref).
    ja: DPO の損失。報酬モデルの損失と同じ形で、報酬にはモデルの中に隠れている β·(log π − log π_ref) を使う。
    en: All four inputs are (B,) tensors of sequence log-probabilities (your sequence_logprob): of the chosen and the
    en: rejected answer, under the model being tuned (policy) and under the frozen SFT model (ref). beta: a float > 0.
    en: Returns a scalar tensor. Edge case: while the policy is still the reference, the loss is log 2 = 0.693.
    en: Hint: this is your reward_model_loss, with each answer's reward β·(log π - log π_ref).
    ja: 4 つの入力はどれも、系列の対数確率（あなたの sequence_logprob）の (B,) テンソル。選ばれた答えと選ばれなかった答えについて、
    ja: 調整中のモデル（policy）と、凍結した SFT モデル（ref）での値。beta: 0 より大きい float。
    ja: 戻り値: スカラーのテンソル。注意: 方策がまだ参照モデルと同じあいだは、損失は log 2 = 0.693。
    ja: ヒント: これはあなたの reward_model_loss で、各答えの報酬を β·(log π - log π_ref) にしたもの。
    """
    ### BEGIN SOLUTION
    reward_chosen = beta * (policy_chosen_logps - ref_chosen_logps)
    reward_rejected = beta * (policy_rejected_logps - ref_rejected_logps)
    return reward_model_loss(reward_chosen, reward_rejected)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "dpo_loss_check", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# en: the policy's log-probabilities of the chosen and the rejected answers, then the reference's
# ja: 方策での、選ばれた答えと選ばれなかった答えの対数確率。次の行は参照モデルでの値
pc, pr = torch.tensor([-10.0, -12.0, -8.0]), torch.tensor([-11.0, -9.0, -9.5])
rc, rr = torch.tensor([-10.5, -12.0, -9.0]), torch.tensor([-10.5, -10.0, -9.0])
got = dpo_loss(pc, pr, rc, rr, beta=0.25)
what, hint = tr("the loss is one number", "損失は 1 つの数"), tr("Average over the pairs with .mean(): the result is a scalar.", "ペアについて .mean() で平均をとります。結果はスカラーです。")
expect(torch.as_tensor(got).numel(), 1, what, hint)
what = "dpo_loss(beta=0.25)"
hint = tr("The log-ratios are [0.5, 0, 1] (chosen) and [-0.5, 1, -0.5] (rejected): -log σ(0.25 · their difference), averaged.",
          "対数比は [0.5, 0, 1]（chosen）と [-0.5, 1, -0.5]（rejected）。その差に 0.25 を掛けて -log σ、平均をとります。")
mistakes = [(0.609312, tr("β is missing: multiply the difference of log-ratios by beta.",
                          "β が抜けています。対数比の差に beta を掛けます。")),
            (1.346259, tr("Multiply by β, don't divide.", "β で割らずに、掛けます。")),
            (0.745311, tr("The reference is missing: subtract ref_chosen_logps and ref_rejected_logps.",
                          "参照モデルが抜けています。ref_chosen_logps と ref_rejected_logps を引きます。")),
            (0.766667, tr("The sign is flipped: the chosen answer's log-ratio comes first.",
                          "符号が逆です。選ばれた答えの対数比が先です。")),
            (0.866997, tr("Each answer with its own reference: chosen - ref_chosen, rejected - ref_rejected, both subtracted.",
                          "答えごとに自分の参照モデルで：chosen - ref_chosen、rejected - ref_rejected。どちらも引き算です。")),
            (1.925002, tr("Average over the pairs (.mean()), don't sum.", "ペアについて合計ではなく平均（.mean()）をとります。")),
            (-0.530889, tr("Take the logarithm: -log σ(·), not σ itself.",
                           "対数をとります。σ そのものではなく -log σ(·) です。"))]
expect(round(float(torch.as_tensor(got).reshape(())), 6), 0.641667, what, hint, rel=1e-5, mistakes=mistakes)
what = tr("at the start, the policy is the reference: log 2", "はじめは方策 = 参照モデル：log 2")
hint = tr("With log π = log π_ref every reward is 0, and -log σ(0) = log 2 = 0.693, whatever β.",
          "log π = log π_ref なら報酬はすべて 0 で、β によらず -log σ(0) = log 2 = 0.693 です。")
expect(round(float(torch.as_tensor(dpo_loss(rc, rr, rc, rr, beta=0.3)).reshape(())), 6), 0.693147, what, hint, rel=1e-5)
passed("Exercise 10.4")

# %% [markdown] tags=["en"]
# DPO with your loss, on the fine-tuned model: 20 steps of 16 pairs. The reference model's log-probabilities never
# change, so they are computed once, before training. Watch the loss leave log 2 = 0.693 and the win rate move:

# %% [markdown] tags=["ja"]
# あなたの損失で、ファインチューニング後のモデルに DPO をかけます。16 ペアで 20 ステップ。参照モデルの対数確率は変わらないので、
# 学習の前に一度だけ計算します。損失が log 2 = 0.693 から離れ、勝率が動くのを見ましょう：

# %%
LIVE_DPO_STEPS = 20
tuned = copy.deepcopy(sft)
dpo_settings = TrainConfig(max_steps=LIVE_DPO_STEPS, lr=1e-5, warmup_steps=2, eval_every=5, eval_steps=4,
                           weight_decay=0.0, device=DEVICE, cpu_threads=1)
dpo_history = preference.finetune_dpo(tuned, tok, train_pairs[:400], val_pairs, dpo_settings, beta=0.1, batch_size=16,
                                      seed=SEED, loss=dpo_loss)
line = tr("{s} steps in {t:.0f} s: DPO loss {a:.3f} → {b:.3f}; win rate on the held-out pairs {w0:.0%} → {w1:.0%}",
          "{s} ステップ、{t:.0f} 秒：DPO の損失 {a:.3f} → {b:.3f}、評価用ペアでの勝率 {w0:.0%} → {w1:.0%}")
print(line.format(s=LIVE_DPO_STEPS, t=dpo_history.seconds, a=dpo_history.train_loss[0], b=dpo_history.train_loss[-1],
                  w0=win_rate_sft, w1=preference.win_rate(tuned, tok, heldout_pairs)))
names = {"train": tr("training pairs", "学習用のペア"), "val": tr("held-out pairs", "評価用のペア")}
title, xlabel, ylabel = tr("DPO, your 20 steps", "DPO、あなたの 20 ステップ"), tr("step", "ステップ"), tr("DPO loss", "DPO の損失")
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.plot(dpo_history.step, dpo_history.train_loss, label=names["train"])
ax.plot(dpo_history.eval_step, dpo_history.eval_loss, marker="o", label=names["val"])
ax.axhline(0.6931, color="gray", linestyle=":", label="log 2")
ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
ax.legend()
plt.show()

# %% [markdown] tags=["en"]
# The shipped `gpt_chat_dpo` is the same DPO, 120 steps (`shikumi train gpt_chat_dpo`, about a minute on one core). A
# small learning rate and few steps are deliberate: pushed harder (try `lr=3e-4`), DPO keeps widening the gap by
# making *both* answers less likely, until the model forgets how to write at all. The reference and β only keep it
# near the SFT model as long as training does not run off. Before and after, the same 200 held-out pairs:

# %% [markdown] tags=["ja"]
# 同梱の `gpt_chat_dpo` は同じ DPO を 120 ステップ回したものです（`shikumi train gpt_chat_dpo`、CPU 1 コアで約 1 分）。
# 学習率を小さく、ステップ数を少なくしているのはわざとです。強く押しすぎると（`lr=3e-4` を試してみてください）、DPO は *両方の* 答えを出にくくする
# ことで差を広げ続け、ついにはモデルが文章の書き方を忘れてしまいます。参照モデルと β がモデルを SFT モデルの近くにとどめてくれるのは、
# 学習が暴走しないあいだだけです。同じ評価用の 200 ペアで、前と後を比べます：

# %%
if FINETUNE_HERE or SIZE == "full":
    recipe = zoo.gpt_chat.DPO_RECIPES[SIZE]
    dpo = copy.deepcopy(sft)
    preference.finetune_dpo(dpo, tok, chatdata.preference_pairs(recipe.n_train, "train", SEED), val_pairs,
                            dataclasses.replace(recipe.train, device=DEVICE), recipe.beta, recipe.batch_size, SEED,
                            loss=dpo_loss)
else:
    dpo, _ = zoo.gpt_chat.load_gpt_chat("gpt_chat_dpo", device)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
titles = (tr("before, SFT: win rate {:.0%}", "前、SFT：勝率 {:.0%}"), tr("after, DPO: win rate {:.0%}", "後、DPO：勝率 {:.0%}"))
win_rate_sft = preference_picture(sft, titles[0], ax1)
win_rate_dpo = preference_picture(dpo, titles[1], ax2)
plt.show()
line = tr("win rate on 200 held-out pairs: SFT {a:.0%} (the baseline: a coin toss) → DPO {b:.0%}",
          "評価用 200 ペアでの勝率：SFT {a:.0%}（基準：くじ引き）→ DPO {b:.0%}")
print(line.format(a=win_rate_sft, b=win_rate_dpo))

# %% [markdown] tags=["en"]
# The win rate counts what the model *thinks* likely. What it *says* is what people see: each model answers the 48
# held-out instructions, sampled at temperature 1 (as a chat assistant samples), and greedily.

# %% [markdown] tags=["ja"]
# 勝率が数えるのは、モデルが何をありそうだと *思っているか* です。人が目にするのは、モデルが何を *言うか* です。
# それぞれのモデルに評価用の 48 個の指示へ答えさせます。温度 1 でのサンプリング（チャットのアシスタントと同じ）と、貪欲法とで。

# %%
sampled = {name: finetune.score(model, tok, heldout_examples, temperature=1.0, seed=SEED)
           for name, model in (("SFT", sft), ("DPO", dpo))}
greedy = {"SFT": scores["SFT"], "DPO": finetune.score(dpo, tok, heldout_examples)}
groups = {tr("win rate\n(held-out pairs)", "勝率\n（評価用ペア）"): {"SFT": win_rate_sft, "DPO": win_rate_dpo},
          tr("polite\n(sampled)", "丁寧\n（サンプリング）"): {n: s.polite for n, s in sampled.items()},
          tr("right and polite\n(sampled)", "正しくて丁寧\n（サンプリング）"): {n: s.preferred for n, s in sampled.items()},
          tr("right\n(greedy)", "正しい\n（貪欲法）"): {n: s.correct for n, s in greedy.items()}}
title = tr("before (SFT) and after (DPO), on held-out instructions", "前（SFT）と後（DPO）、評価用の指示で")
plot.bars(groups, title=title, percent=True)
plt.show()
translation = tr("", "    ↳ {}\n")
for example, before, after in list(zip(heldout_examples, sampled["SFT"].replies, sampled["DPO"].replies))[:6]:
    print("USER: " + example.instruction + "\n" + translation.format(example.instruction_ja), end="")
    print(f"   SFT: {before!r}\n   DPO: {after!r}")

# %% [markdown] tags=["en"]
# DPO made the polite answer the likely one, and the sampled answers followed; the skills learnt in fine-tuning mostly
# survived. "Mostly": a few greedy answers that were right before may be wrong now. InstructGPT's authors saw the same
# and called it the **alignment tax** — tuning a model to people's taste can cost a little of what it could do before.
# Trained twice as long, our DPO model gets politer still, and pays more of that tax.
#
# Talk to the three models yourself. The model reads only the 82 characters of Shakespeare (English letters and
# punctuation); try an instruction like the ones above, and one of your own.

# %% [markdown] tags=["ja"]
# DPO は丁寧な答えの方を「ありそうなもの」にし、サンプリングした答えもそれに続きました。ファインチューニングで身につけた技能は、ほぼ残っています。
# 「ほぼ」というのは、前は正しかった貪欲法の答えが、いくつか間違いになっているかもしれないからです。InstructGPT の著者たちも同じことを見て、
# それを **アラインメント税**（alignment tax）と呼びました —— モデルを人の好みに合わせると、前にできたことが少し失われることがあります。
# 私たちの DPO も、2 倍長く学習させるともっと丁寧になり、そのぶん税も多く払います。
#
# 3 つのモデルと話してみましょう。モデルが読めるのはシェイクスピアの 82 文字（英語の文字と記号）だけです。上のような指示と、
# 自分で考えた指示を試してください（日本語は読めません）。

# %%
from shikumi.widgets import prompt_explorer

models = {tr("lesson 04 GPT", "レッスン 04 の GPT"): base, "SFT": sft, "DPO": dpo}
unknown_line = tr("characters the model cannot read: {c}", "モデルが読めない文字：{c}")

def talk(prompt, temperature):
    unknown = sorted(set(prompt) - set(tok.itos))
    if unknown:
        print(unknown_line.format(c="".join(unknown)))
        return
    for label, model in models.items():
        g = torch.Generator().manual_seed(SEED)
        print(f"{label:>18}: {finetune.reply(model, tok, prompt, temperature, generator=g)!r}")

labels = {"prompt": tr("instruction", "指示"), "temperature": tr("temperature", "温度")}
prompt_explorer(talk, prompt="Greet Momotaro.", sliders={"temperature": (0.0, 1.5, 0.1, 1.0)}, labels=labels)

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slides 12–14:** 事前学習 + ファインチューニング. Lesson 04's pre-trained GPT continued plays; fine-tuned on
#   demonstrations with the loss on the answer only (your **sft_inputs_and_targets**), it answers instructions it never
#   saw — the numbers above, held-out answers right before and after.
# - **Slide 38 and slide 14's 「強化学習(RLHF)」:** InstructGPT's three steps — SFT, a reward model trained on people's
#   comparisons (your **reward_model_loss**, the Bradley–Terry loss), reinforcement learning against that reward.
# - **DPO:** the reward is β·log π/π_ref, hidden in the model, so the comparisons can train the GPT directly
#   (your **sequence_logprob** and **dpo_loss**): the win rate on held-out pairs rose from a coin toss, measured.
# - Slide 39 still holds: 「あくまで確率的に高いものを出しているだけ」. Fine-tuning and preference tuning change which
#   answers are probable; the model still outputs, one token at a time, what is probable.
#
# **To discuss:** our labelers were a rule that dislikes six words. ChatGPT's were people, comparing answers on
# helpfulness, honesty and harm. What could go wrong when a model is tuned to what its labelers *prefer* — rather than
# to what is true — and how would you notice?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 12–14：** 事前学習 + ファインチューニング。戯曲の続きを書いていたレッスン 04 の事前学習済み GPT は、答えだけに損失をかけた
#   お手本での学習（あなたの **sft_inputs_and_targets**）で、一度も見たことのない指示に答えるようになりました —— 上の数字、評価用の指示の正答率の前と後です。
# - **スライド 38 と、スライド 14 の「強化学習(RLHF)」：** InstructGPT の 3 段階 —— SFT、人の比較から学ぶ報酬モデル（あなたの
#   **reward_model_loss**、Bradley–Terry の損失）、その報酬に向けた強化学習。
# - **DPO：** 報酬は β·log π/π_ref としてモデルの中に隠れているので、比較で GPT を直接学習できます（あなたの **sequence_logprob** と **dpo_loss**）。
#   評価用ペアでの勝率は、くじ引きから上がりました。測ったとおりです。
# - スライド 39 は今も正しい：「あくまで確率的に高いものを出しているだけ」。ファインチューニングと好みの学習が変えるのは、どの答えがありそうかです。
#   モデルはやはり 1 トークンずつ、ありそうなものを出しています。
#
# **話し合ってみよう：** 私たちのラベラーは、6 つの単語を嫌う規則でした。ChatGPT のラベラーは人で、役に立つか、正直か、害がないかで答えを比べました。
# モデルを「正しいこと」ではなく、ラベラーが *好むこと* に合わせると、何がまずくなりうるでしょう？ そして、それにどうやって気づけるでしょう？
