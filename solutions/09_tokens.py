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
#     lesson: 09_tokens
#     title:
#       en: 'Tokens: byte-pair encoding'
#       ja: "トークン：バイト対符号化\
#         \ BPE"
# ---

# %% [markdown] tags=["en"]
# # 09 · Tokens: byte-pair encoding (slide 35)
#
# > **Slide 35:** 「Positional Encodingや トークナイズ(BPE)の話は目的から逸れるので割愛」 — *"Positional encoding and
# > tokenisation (BPE) stray from the point, so we skip them."*
#
# Lesson 03 built the positional encoding. This lesson is the other half of slide 35: **tokenisation**. ChatGPT never
# reads letters or words. It reads **tokens**, numbered pieces of text, and predicts the next token (slide 25). So far
# the course made a token out of a word (lessons 01 and 03) or out of a character (lesson 04). Real GPTs use
# **byte-pair encoding (BPE)**, which learns from text which pieces to use.
#
# **What you will build**
# - Text as bytes, and the two moves of BPE — count every pair of neighbouring tokens, merge the most frequent pair
#   into a new token — then the loop that repeats them, and the encoder that replays what it learnt.
# - A tokenizer trained on the course's own texts, the fairy tales and Shakespeare: watch its merges grow into
#   Japanese pieces (ました, おじいさん) and English words (" the", " king").
# - The same sentence in Japanese and in English, token by token: why Japanese costs more tokens. Then compression
#   against vocabulary size, and the real thing, Hugging Face `tokenizers`, which learns the same merges.

# %% [markdown] tags=["ja"]
# # 09 · トークン：バイト対符号化 BPE（スライド 35）
#
# > **スライド 35：** 「Positional Encodingや トークナイズ(BPE)の話は目的から逸れるので割愛」
#
# Positional Encoding はレッスン 03 で作りました。このレッスンはスライド 35 のもう半分、**トークナイズ** です。
# ChatGPT は文字や単語をそのまま読んでいるわけではありません。読んでいるのは **トークン**、番号のついたテキストの断片で、
# 次のトークンを予測しています（スライド 25）。ここまでのレッスンでは、単語（レッスン 01、03）か文字（レッスン 04）を
# 1 トークンにしてきました。本物の GPT が使うのは **BPE（バイト対符号化、byte-pair encoding）** で、どんな断片を
# トークンにするかを文章から学習します。
#
# **このレッスンで作るもの**
# - テキストをバイト列として見ることと、BPE の 2 つの操作：隣り合うトークンのペアを数える、いちばん多いペアを
#   新しいトークンにマージする。それを繰り返す学習ループと、学習したマージを再生するエンコーダ。
# - このコースの昔話とシェイクスピアで学習したトークナイザ。マージが日本語の断片（ました、おじいさん）や
#   英語の単語（" the"、" king"）に育っていく様子を見ます。
# - 同じ文の日本語版と英語版をトークンごとに比べ、日本語のほうがトークンが多くなる理由を確かめます。
#   さらに語彙サイズと圧縮率の関係、そして本物の Hugging Face `tokenizers` が同じマージを学習することも確かめます。

# %% [markdown] tags=["en"]
# **Settings** — yours to change. `SIZE = "full"` trains on all of Shakespeare with a vocabulary of 4,096 tokens (slower).

# %% [markdown] tags=["ja"]
# **設定** —— 自由に変えて構いません。`SIZE = "full"` にすると、シェイクスピア全作品を使って語彙 4,096 トークンで学習します（少し遅くなります）。

# %% tags=["parameters"]
# en: DEVICE: "auto", "cpu" or "cuda" (tokenisation needs no GPU, but every lesson has the same three knobs).
# en: SIZE: "quick" (a few seconds) or "full". SEED: any whole number.
# en: (The grader and the course's tests run this notebook with exactly these values.)
# ja: DEVICE は "auto"・"cpu"・"cuda" のどれか（トークナイズに GPU は要りませんが、どのレッスンにも同じ 3 つのつまみがあります）。
# ja: SIZE は "quick"（数秒）か "full"。SEED は好きな整数。
# ja: （採点とコースのテストは、この値のままでこのノートブックを実行します。）
DEVICE = "auto"
SIZE = "quick"
SEED = 0

# %%
import json
import time
from collections import Counter

import matplotlib.pyplot as plt

from shikumi import bpe, data, get_device, plot, seed_everything
from shikumi.course.selfcheck import expect, passed, set_language
from shikumi.device import describe
from shikumi.lang import tr

set_language(tr("en", "ja"))
seed_everything(SEED)
device = get_device(DEVICE)
print(tr("device:", "デバイス："), describe(device))

# %% [markdown] tags=["en"]
# ## 1. Text is bytes
#
# A computer stores text as **bytes**, numbers from 0 to 255, in the encoding called **UTF-8**. An English letter is
# one byte. A Japanese kana or kanji is three:

# %% [markdown] tags=["ja"]
# ## 1. テキストはバイト列
#
# コンピュータはテキストを **バイト**（0〜255 の数）の列として、**UTF-8** という符号化で保存しています。
# 英語のアルファベットは 1 文字 1 バイト。日本語のかなや漢字は 1 文字 3 バイトです：

# %%
for ch in ["a", "Z", " ", "む", "か", "し", "桃", "。"]:
    print(repr(ch), "→", list(ch.encode("utf-8")))

# %% [markdown] tags=["en"]
# Two things follow. First, 256 starting tokens — one per byte value, ids 0 to 255 — can spell **any** text, in any
# language, emoji included: no word is ever "unknown" (lesson 03 needed an `<unk>` token, lesson 04's characters
# could not spell a character they had never seen). Second, spelled in bytes, Japanese is three times longer than it
# looks:

# %% [markdown] tags=["ja"]
# ここから 2 つのことがわかります。1 つ目：バイトの値ごとに 1 つ、id 0〜255 の 256 個のトークンから始めれば、
# どんな言語のどんなテキストでも（絵文字でも）表せます。「知らない単語」がありません（レッスン 03 には `<unk>` トークンが必要でしたし、
# レッスン 04 の文字トークンは見たことのない文字を表せませんでした）。2 つ目：バイトで数えると、日本語は見た目の 3 倍の長さになります：

# %%
sentences = {"ja": "むかしむかし、あるところに、おじいさんとおばあさんがいました。",
             "en": "Once upon a time, there lived an old man and an old woman."}
line = tr("{lang}: {chars:3d} characters, {n:3d} bytes   {text}", "{lang}: {chars:3d} 文字、{n:3d} バイト   {text}")
for lang, text in sentences.items():
    print(line.format(lang=lang, chars=len(text), n=len(text.encode("utf-8")), text=text))


# %% [markdown] tags=["en"]
# With bytes as tokens, the English sentence is 58 tokens and the Japanese one 93 — and a Transformer's cost grows
# with the number of tokens it reads (lesson 02's attention compares every token with every other). BPE shortens both
# by **merging** bytes that often stand side by side into new, longer tokens.

# %% [markdown] tags=["ja"]
# バイトをそのままトークンにすると、英語の文は 58 トークン、日本語の文は 93 トークンです。Transformer の計算量は
# 読むトークンの数とともに増えます（レッスン 02 の Attention は、すべてのトークンをほかのすべてのトークンと比べます）。
# BPE は、よく隣り合うバイトを新しい長いトークンに **マージ（併合）** することで、どちらも短くします。

# %% [markdown] tags=["en"]
# ## 2. Counting pairs
#
# BPE's first move is to count how often each **pair of neighbours** occurs. The classic example is the string
# `aaabdaaabac`, as bytes `[97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99]`: the pair (97, 97), "aa", occurs 4 times
# (pairs overlap: "aaa" holds "aa" twice), (97, 98) "ab" twice, and the other pairs once.
#
# ### Exercise 9.1 — count the pairs (2 points)
#
# Write `count_pairs(ids)`: return a `Counter` whose keys are the **tuples** `(left, right)` of every two neighbouring
# ids, and whose values are how often each pair occurs.

# %% [markdown] tags=["ja"]
# ## 2. ペアを数える
#
# BPE の最初の操作は、**隣り合う 2 つ** のペアがそれぞれ何回現れるかを数えることです。定番の例は文字列
# `aaabdaaabac`、バイトでは `[97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99]` です。ペア (97, 97) つまり "aa" は 4 回
# （ペアは重なり合います。"aaa" の中に "aa" は 2 回あります）、(97, 98) の "ab" は 2 回、ほかのペアは 1 回ずつです。
#
# ### 演習 9.1 — ペアを数える（2 点）
#
# `count_pairs(ids)` を書いてください。隣り合う 2 つの id の **タプル** `(左, 右)` をキーに、そのペアの出現回数を値にした
# `Counter` を返します。

# %% nbgrader={"grade": false, "grade_id": "count_pairs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_pairs(ids):
    """C(ids[i], ids[i + 1]) for i = 0, 1, ..., len(ids) - 2   (BPE)

    en: Count every pair of neighbouring token ids.
    en: ids: a list of ints, e.g. list("aaab".encode("utf-8")) = [97, 97, 97, 98].
    en: Returns a Counter from (left, right) tuples to counts; an empty Counter when there are fewer than 2 ids.
    en: Hint: pairs overlap — [97, 97, 97] holds (97, 97) twice. zip(ids, ids[1:]) walks over every pair.
    ja: 隣り合うトークン id のペアをすべて数える。
    ja: ids: int のリスト（例 list("aaab".encode("utf-8")) = [97, 97, 97, 98]）。
    ja: 戻り値: タプル (左, 右) → 回数 の Counter。id が 2 個未満なら空の Counter。
    ja: ヒント: ペアは重なり合う。[97, 97, 97] には (97, 97) が 2 回ある。zip(ids, ids[1:]) ですべてのペアをたどれる。
    """
    ### BEGIN SOLUTION
    return Counter(zip(ids, ids[1:]))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "count_pairs_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: Self-check: run me. The grader uses other, hidden inputs.
# ja: セルフチェック：実行してみましょう。採点では別の（非公開の）入力を使います。
what, hint = "count_pairs([1, 2, 3])", tr("Every neighbour pair, one step at a time up to the last: (1, 2) and (2, 3).",
                                          "隣り合うペアを 1 つずつずらして最後まで：(1, 2) と (2, 3) です。")
expect(count_pairs([1, 2, 3]), Counter({(1, 2): 1, (2, 3): 1}), what, hint)
what, hint = tr("C(7, 7) in [7, 7, 7, 7]", "[7, 7, 7, 7] の中の C(7, 7)"), tr("Count every occurrence, overlapping ones too: positions 0–1, 1–2 and 2–3.", "重なり合うものも含めて、出てくるたびに数えます：位置 0–1、1–2、2–3 です。")
expect(count_pairs([7, 7, 7, 7])[(7, 7)], 3, what, hint)
what = tr("count_pairs of aaabdaaabac", "aaabdaaabac の count_pairs")
expect(count_pairs(list(b"aaabdaaabac")),
       Counter({(97, 97): 4, (97, 98): 2, (98, 100): 1, (100, 97): 1, (98, 97): 1, (97, 99): 1}), what)
what, hint = "count_pairs([5])", tr("A single id has no neighbour: no pairs.", "id が 1 つだけなら隣がいないので、ペアはありません。")
expect(count_pairs([5]), Counter(), what, hint)
passed("Exercise 9.1")

# %% [markdown] tags=["en"]
# In Japanese, the most frequent pairs sit **inside** characters: every hiragana starts with the byte 227 (0xe3)
# followed by 129 or 130, so those pairs top the count long before any pair of whole characters does.

# %% [markdown] tags=["ja"]
# 日本語では、いちばん多いペアは文字の **中** にあります。ひらがなはどれもバイト 227（0xe3）で始まり、そのあとに 129 か 130 が続くので、
# 文字どうしのペアよりずっと先に、このペアが上位に来ます。

# %%
tale = data.load_tales()[0]                      # 桃太郎
tale_text = "\n".join(tale.sentences)
tale_bytes = list(tale_text.encode("utf-8"))
header = tr("{title}: {c} characters, {b} bytes. The most frequent pairs:", "{title}：{c} 文字、{b} バイト。いちばん多いペア：")
print(header.format(title=tale.title, c=len(tale_text), b=len(tale_bytes)))
for (a, b), n in count_pairs(tale_bytes).most_common(6):
    print(f"  ({a:3d}, {b:3d})  {bytes([a, b])!r:14}  × {n}")


# %% [markdown] tags=["en"]
# ## 3. Merging a pair
#
# BPE's second move: give the most frequent pair a **new id** and write that id wherever the pair occurs. In
# `aaabdaaabac`, merging (97, 97) into 256 gives `[256, 97, 98, 100, 256, 97, 98, 97, 99]`: eleven tokens became nine.
# Go **left to right** and never reuse an id: in "aaa" the first two a's merge and the third stays, `[256, 97]`.
#
# ### Exercise 9.2 — merge a pair (2 points)

# %% [markdown] tags=["ja"]
# ## 3. ペアをマージする
#
# BPE の 2 つ目の操作：いちばん多いペアに **新しい id** をつけ、そのペアが現れるところをすべてその id に書き換えます。
# `aaabdaaabac` で (97, 97) を 256 にマージすると `[256, 97, 98, 100, 256, 97, 98, 97, 99]`。11 個のトークンが 9 個になりました。
# **左から右へ** 進み、同じ id を 2 回使わないこと。"aaa" では最初の 2 つの a がマージされ、3 つ目は残って `[256, 97]` になります。
#
# ### 演習 9.2 — ペアをマージする（2 点）

# %% nbgrader={"grade": false, "grade_id": "merge", "locked": false, "schema_version": 3, "solution": true, "task": false}
def merge(ids, pair, new_id):
    """[a, b, x, a, b] → [new_id, x, new_id]   for pair = (a, b)   (BPE)

    en: Replace every occurrence of pair, going left to right.
    ja: pair が現れるところを、左から右へすべて置き換える。
    en: ids: a list of ints; pair: a tuple (left, right); new_id: the int that replaces it.
    en: Returns a new list, shorter by one for every pair replaced; the same ids when the pair never occurs.
    en: Hint: walk with an index i; where (ids[i], ids[i + 1]) == pair, append new_id and jump by 2, else append
    en: ids[i] and move by 1. Take care of the last id.
    ja: ids: int のリスト。pair: タプル (左, 右)。new_id: ペアと置き換える int。
    ja: 戻り値: 新しいリスト。ペアを 1 つ置き換えるごとに 1 つ短くなる。ペアが現れなければ同じ id の並び。
    ja: ヒント: 位置 i で進む。(ids[i], ids[i + 1]) == pair なら new_id を追加して 2 進む。そうでなければ ids[i] を追加して
    ja: 1 進む。最後の id を忘れずに。
    """
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "merge_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
what, hint = "merge([1, 2, 3, 1, 2], (1, 2), 9)", tr("Replace every (1, 2) by 9, and skip both ids of each pair.",
                                                     "(1, 2) をすべて 9 に置き換え、ペアの 2 つの id をまとめて飛ばします。")
expect(merge([1, 2, 3, 1, 2], (1, 2), 9), [9, 3, 9], what, hint)
what, hint = "merge([7, 7, 7], (7, 7), 9)", tr("Left to right, no overlaps: the first two 7s merge, the third stays.",
                                               "左から右へ、重ならないように：最初の 2 つの 7 がマージされ、3 つ目は残ります。")
expect(merge([7, 7, 7], (7, 7), 9), [9, 7], what, hint)
what, hint = "merge([1, 2, 3], (3, 1), 9)", tr("The pair never occurs: every id comes back, the last one too.",
                                               "ペアは一度も現れないので、最後の id も含めてすべてそのまま返ります。")
expect(merge([1, 2, 3], (3, 1), 9), [1, 2, 3], what, hint)
passed("Exercise 9.2")


# %% [markdown] tags=["en"]
# ## 4. The training loop
#
# That is all of BPE training: **count the pairs, merge the most frequent one, repeat.** Each merge adds one token to
# the vocabulary, with the next free id: 256, 257, 258, … The list of merges, in the order learnt, *is* the tokenizer.
#
# When two pairs are equally frequent, take the **smallest** pair (compare the left ids, then the right ones) — the
# same rule as lesson 01's ties, and the one Hugging Face's trainer uses. In `aaabdaaabac`, after "aa" → 256 both
# (97, 98) "ab" and (256, 97) "aaa" occur twice, and (97, 98) wins.
#
# ### Exercise 9.3 — learn the merges (2 points)

# %% [markdown] tags=["ja"]
# ## 4. 学習ループ
#
# BPE の学習はこれで全部です：**ペアを数え、いちばん多いペアをマージし、繰り返す。** マージするたびに、次の空いている id
# （256、257、258、…）を持つトークンが 1 つ語彙に加わります。学習した順に並べたマージのリストが、トークナイザ *そのもの* です。
#
# 同じ回数のペアが 2 つ以上あるときは、**いちばん小さい** ペアを選びます（左の id で比べ、同じなら右の id で比べる）。
# レッスン 01 の同点のときと同じ決まりで、Hugging Face の学習器も同じ決まりを使っています。`aaabdaaabac` では、
# "aa" → 256 のあと (97, 98) の "ab" と (256, 97) の "aaa" がどちらも 2 回現れ、(97, 98) が選ばれます。
#
# ### 演習 9.3 — マージを学習する（2 点）

# %% nbgrader={"grade": false, "grade_id": "learn_merges", "locked": false, "schema_version": 3, "solution": true, "task": false}
def learn_merges(ids, num_merges):
    """step = 0, 1, ..., num_merges - 1:   pair = argmax_p C(p) → new id 256 + step   (BPE)

    en: Count the pairs, merge the most frequent one into a new token, repeat.
    ja: ペアを数え、いちばん多いペアを新しいトークンにマージし、繰り返す。
    en: ids: a list of ints (bytes); num_merges: how many merges to learn.
    en: Returns a dict {pair: new id} in the order learnt: {(97, 97): 256, (97, 98): 257, ...}. New ids count up
    en: from 256. Stop early when no pair is left. Use your count_pairs and merge.
    en: Hint: on a tie, the smallest pair: min over the pairs with the key (-counts[p], p), as in lesson 01.
    ja: ids: int（バイト）のリスト。num_merges: 学習するマージの回数。
    ja: 戻り値: 学習した順の dict {ペア: 新しい id}（{(97, 97): 256, (97, 98): 257, ...}）。新しい id は 256 から数える。
    ja: ペアが 1 つも残っていなければ、そこで止める。自分の count_pairs と merge を使う。
    ja: ヒント: 同点ならいちばん小さいペア。キー (-counts[p], p) で min をとる（レッスン 01 と同じ）。
    """
    ### BEGIN SOLUTION
    ids, merges = list(ids), {}
    for step in range(num_merges):
        counts = count_pairs(ids)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges[pair] = 256 + step
        ids = merge(ids, pair, 256 + step)
    return merges
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "learn_merges_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
merges = learn_merges(list(b"aaabdaaabac"), 3)
what, hint = tr("learn_merges returns a dict", "learn_merges が dict を返す"), tr("Return a dict {pair: new id}, e.g. {(97, 97): 256, ...}.", "dict {ペア: 新しい id}（例 {(97, 97): 256, ...}）を返してください。")
expect(isinstance(merges, dict), True, what, hint)
what, hint = tr("the first merge", "最初のマージ"), tr("The most frequent pair of aaabdaaabac is (a, a) = (97, 97), 4 times.", "aaabdaaabac でいちばん多いペアは (a, a) = (97, 97) で、4 回です。")
expect(next(iter(merges), None), (97, 97), what, hint)
what, hint = tr("the new ids", "新しい id"), tr("New ids count up from 256: ids 0–255 are the bytes.", "新しい id は 256 から数えます。0〜255 はバイトの id です。")
expect(list(merges.values()), [256, 257, 258], what, hint)
what = tr("the second merge", "2 番目のマージ")
hint = tr("(a, b) = (97, 98) and (aa, a) = (256, 97) both occur twice: on a tie, take the smallest pair.",
          "(a, b) = (97, 98) と (aa, a) = (256, 97) はどちらも 2 回です。同点なら、いちばん小さいペアを選びます。")
expect(list(merges)[1:2], [(97, 98)], what, hint)
what, hint = "learn_merges(aaabdaaabac, 3)", tr("After each merge, count again on the merged ids.",
                                                "マージするたびに、マージ後の id 列で数え直します。")
expect(merges, {(97, 97): 256, (97, 98): 257, (256, 257): 258}, what, hint)
what, hint = "learn_merges([5], 3)", tr("Stop when no pair is left: a single id has none.",
                                        "ペアが残っていなければ止めます。id が 1 つだけならペアはありません。")
expect(learn_merges([5], 3), {}, what, hint)
passed("Exercise 9.3")

# %% [markdown] tags=["en"]
# Your `learn_merges` on 桃太郎, 30 merges. To read a token, join the bytes of the two tokens it was made of:
# `bpe.BPETokenizer(merges)` does that bookkeeping, and `.piece(id)` shows a token as text. A token that is only part
# of a character shows its bytes as `\x..`: the first merge, `\xe3\x81`, is the start of half the hiragana.

# %% [markdown] tags=["ja"]
# あなたの `learn_merges` で、桃太郎から 30 個のマージを学習します。トークンを読むには、それを作った 2 つのトークンのバイトをつなげます。
# `bpe.BPETokenizer(merges)` がその記録をして、`.piece(id)` がトークンをテキストとして見せてくれます。文字の一部でしかないトークンは、
# バイトが `\x..` の形で表示されます。最初のマージ `\xe3\x81` は、ひらがなの半分に共通する先頭の 2 バイトです。

# %%
start = time.perf_counter()
tale_merges = learn_merges(tale_bytes, 30)
seconds = time.perf_counter() - start
tale_tok = bpe.BPETokenizer(tale_merges)
print(" | ".join(tale_tok.piece(new_id) for new_id in tale_merges.values()))
took = tr("30 merges in {s:.2f} s", "30 回のマージに {s:.2f} 秒")
print(took.format(s=seconds))


# %% [markdown] tags=["en"]
# Three byte pairs first, then whole kana (し, た, ま), and within ten merges ました and ました。 — almost every sentence
# of the story ends that way; even the line break after it joins in (`\n`). 桃, さん and お follow. Every step of your
# loop counts the whole text again, so its time grows with the length of the text times the number of merges.

# %% [markdown] tags=["ja"]
# まずバイトのペアが 3 つ、次にかな 1 文字分のトークン（し、た、ま）、そして 10 回目までに ました と ました。 ができます。
# この話の文はほとんどが「ました。」で終わるからです。そのあとの改行（`\n`）まで一緒にくっついています。続いて 桃、さん、お。
# あなたのループは 1 ステップごとにテキスト全体を数え直すので、かかる時間は「テキストの長さ × マージの回数」に比例して増えます。

# %% [markdown] tags=["en"]
# ## 5. Encoding new text
#
# A trained tokenizer meets text it has never seen. To encode it, start from its bytes and **replay the merges in the
# order they were learnt**: first every (97, 97) becomes 256, then every (97, 98) becomes 257, and so on. A later merge
# can use tokens made by earlier ones ((256, 257) → 258 needs both), so the order matters.
#
# ### Exercise 9.4 — encode (2 points)

# %% [markdown] tags=["ja"]
# ## 5. 新しいテキストをエンコードする
#
# 学習を終えたトークナイザは、見たことのないテキストにも出会います。エンコードするには、そのテキストのバイト列から始めて
# **学習した順にマージを再生** します。まずすべての (97, 97) を 256 に、次にすべての (97, 98) を 257 に、という具合です。
# 後のマージは前のマージで作られたトークンを使うことがある（(256, 257) → 258 には両方が必要）ので、順番が大切です。
#
# ### 演習 9.4 — エンコードする（2 点）

# %% nbgrader={"grade": false, "grade_id": "encode", "locked": false, "schema_version": 3, "solution": true, "task": false}
def encode(text, merges):
    """bytes(text) → merges[0] → merges[1] → ...   (BPE)

    en: Start from the text's bytes and replay the merges in the order they were learnt.
    ja: テキストのバイト列から始めて、学習した順にマージを再生する。
    en: text: a str; merges: the dict {pair: new id} that learn_merges returns, in the order learnt.
    en: Returns the token ids, a list of ints; [] for "".
    en: Hint: start from list(text.encode("utf-8")) — the bytes, not ord() of each character — and use your merge.
    ja: text: 文字列。merges: learn_merges が返す、学習した順の dict {ペア: 新しい id}。
    ja: 戻り値: トークン id（int のリスト）。"" なら []。
    ja: ヒント: list(text.encode("utf-8")) から始める（各文字の ord() ではなくバイト列）。自分の merge を使う。
    """
    ### BEGIN SOLUTION
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges.items():
        ids = merge(ids, pair, new_id)
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "encode_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# en: The merges learn_merges learns from aaabdaaabac (written out, so this check needs only your encode):
# ja: learn_merges が aaabdaaabac から学習するマージ（この確認があなたの encode だけで済むように、書き出しておきます）：
classic = {(97, 97): 256, (97, 98): 257, (256, 257): 258}
what, hint = "encode('む', {})", tr("Start from the UTF-8 bytes, list(text.encode('utf-8')): 「む」 is 3 bytes.",
                                   "UTF-8 のバイト列 list(text.encode('utf-8')) から始めます。「む」は 3 バイトです。")
expect(encode("む", {}), [227, 130, 128], what, hint)
what, hint = "encode('aaab', classic)", tr("Replay every merge, in order: aa → 256, then ab → 257, then (256, 257) → 258.",
                                           "すべてのマージを順に再生します：aa → 256、ab → 257、(256, 257) → 258。")
expect(encode("aaab", classic), [258], what, hint)
what = "encode('aaabdaaabac', classic)"
expect(encode("aaabdaaabac", classic), [258, 100, 258, 97, 99], what)
what = "encode('', classic)"
expect(encode("", classic), [], what)
passed("Exercise 9.4")

# %% [markdown] tags=["en"]
# Encoding the start of another tale with 桃太郎's 30 merges, and decoding it back. **Decoding** is the easy direction:
# join the tokens' bytes and read them as UTF-8. One token alone may be only part of a character; decoded alone, it
# becomes �, the "not a character" sign. That is why a chatbot streaming its answer token by token sometimes shows a
# broken character for an instant.

# %% [markdown] tags=["ja"]
# 桃太郎の 30 個のマージで別の昔話の書き出しをエンコードし、デコードして元に戻します。**デコード** は簡単な向きです。
# トークンのバイトをつなげて UTF-8 として読むだけ。ただしトークン 1 つだけでは文字の一部かもしれず、それだけをデコードすると
# 「文字ではない」という印 � になります。チャットボットが答えをトークンごとに流すとき、一瞬だけ文字化けが見えることがあるのはこのためです。

# %%
other = data.load_tales()[1].sentences[0]
ids = encode(other, tale_merges)
line = tr("{n} characters → {b} bytes → {t} tokens", "{n} 文字 → {b} バイト → {t} トークン")
print(other)
print(line.format(n=len(other), b=len(other.encode("utf-8")), t=len(ids)))
print(ids)
print(tale_tok.decode(ids))
print([tale_tok.decode([i]) for i in ids[:6]])

# %% [markdown] tags=["en"]
# ## 6. Pre-tokenisation: where merges may not go
#
# Trained on raw text, BPE would happily merge across words: "e t" in "the time", or a word with the comma after it.
# GPT-2 first cuts the text into **pre-tokens** with a regular expression, and merges only inside them (GPT-2 paper,
# section 2.2: otherwise BPE spends its vocabulary on "dog.", "dog!" and "dog?" as separate tokens). The rule, `bpe.GPT2_PATTERN`: a run of
# letters with at most one space in front (" time"), a run of digits, a run of punctuation, a run of spaces, plus
# English endings such as 's and 'll. `\p{L}` means "a letter in any script", so kana and kanji count as letters —
# and since Japanese has no spaces, a Japanese pre-token is a whole phrase between two punctuation marks.

# %% [markdown] tags=["ja"]
# ## 6. 事前トークン化：マージしてはいけないところ
#
# 生のテキストでそのまま学習すると、BPE は単語をまたいでもマージしてしまいます。"the time" の "e t" や、単語とその後ろの読点などです。
# GPT-2 はまず正規表現でテキストを **事前トークン** に切り分け、その内側でだけマージします（GPT-2 論文の 2.2 節：
# そうしないと "dog."、"dog!"、"dog?" が別々のトークンになり、語彙が無駄になるからです）。規則は `bpe.GPT2_PATTERN` です。前に空白を最大 1 つ伴う文字の並び（" time"）、
# 数字の並び、記号の並び、空白の並び、それに 's や 'll のような英語の語尾。`\p{L}` は「どの文字体系でもよいから文字」という意味なので、
# かなや漢字も文字として扱われます。日本語には空白がないので、日本語の事前トークンは句読点から句読点までのひとまとまりになります。

# %%
for text in ["Once upon a time, there lived an old man.", "I'll tell thee, 'tis 12 o'clock!",
             "むかしむかし、あるところに、おじいさんとおばあさんがいました。"]:
    print(bpe.pretokenize(text))

# %% [markdown] tags=["en"]
# ## 7. A tokenizer for the course's texts
#
# Now the real training run, on the fairy tales and on Shakespeare (`SIZE = "quick"`: two plays; `"full"`: all of them
# but *The Tempest*). Four of every five sentences of the tales are for training; every fifth, and *The Tempest*, are
# kept out, to measure the tokenizer on text it has never seen. `bpe.BPETokenizer.train` runs your loop with two
# pieces of bookkeeping that make it fast: each distinct pre-token is stored once with its count, and after a merge
# only the pre-tokens that contain the pair are counted again.

# %% [markdown] tags=["ja"]
# ## 7. このコースのテキストのためのトークナイザ
#
# いよいよ本番の学習です。題材は昔話とシェイクスピア（`SIZE = "quick"` では 2 作品、`"full"` では『テンペスト』以外の全作品）。
# 昔話の 5 文のうち 4 文を学習に使い、5 文目ごとの文と『テンペスト』は取っておいて、見たことのないテキストでトークナイザを測ります。
# `bpe.BPETokenizer.train` はあなたのループと同じことを、速くするための 2 つの工夫とともに行います。同じ事前トークンは回数をつけて
# 1 回だけ記録すること、そしてマージのあとは、そのペアを含む事前トークンだけを数え直すことです。

# %%
config = bpe.PRESETS[SIZE]
sentences_ja = [s for t in data.load_tales() for s in t.sentences]
ja_train = "\n".join(s for i, s in enumerate(sentences_ja) if i % 5 != 4)
ja_heldout = "\n".join(s for i, s in enumerate(sentences_ja) if i % 5 == 4)
plays = ["hamlet", "macbeth"] if SIZE == "quick" else [p for p in data.shakespeare_plays() if p != "the-tempest"]
en_train = data.shakespeare(plays)
en_heldout = data.shakespeare(["the-tempest"])

start = time.perf_counter()
tok = bpe.BPETokenizer.train([ja_train, en_train], config)
ours_seconds = time.perf_counter() - start
line = tr("trained on {ja:,} bytes of Japanese and {en:,} bytes of English: {m} merges in {s:.1f} s",
          "日本語 {ja:,} バイトと英語 {en:,} バイトで学習：{m} 回のマージに {s:.1f} 秒")
print(line.format(ja=len(ja_train.encode()), en=len(en_train.encode()), m=len(tok.merges), s=ours_seconds))
print(" | ".join(tok.piece(i) for i in range(256, 256 + 48)))

# %% [markdown] tags=["en"]
# With `SIZE = "quick"` the very first merge is Japanese: `\xe3\x81`, the first two bytes of half the hiragana, a
# pair inside nearly every Japanese character. The rest are mostly English pieces (" t", "he", " the"): Shakespeare is
# most of the training text.
# Which tokens are the longest in each language?

# %% [markdown] tags=["ja"]
# `SIZE = "quick"` では、いちばん最初のマージは日本語です。`\xe3\x81` はひらがなの半分に共通する先頭の 2 バイトで、
# 日本語のほぼすべての文字の中にあるペアです。ほかはほとんどが英語の断片（" t"、"he"、" the"）です。学習テキストの大部分がシェイクスピアだからです。
# それぞれの言語でいちばん長いトークンは何でしょう？

# %%
is_japanese = {i: any(b >= 0x80 for b in tok.vocab[i]) for i in range(256, tok.vocab_size)}
names = {True: tr("Japanese", "日本語"), False: tr("English", "英語")}
for flag, name in names.items():
    ids = [i for i, ja in is_japanese.items() if ja == flag]
    whole = [i for i in ids if "\\x" not in tok.piece(i)]          # en: whole characters only, no stray bytes  # ja: 文字として完結したものだけ（はみ出したバイトなし）
    longest = sorted(whole, key=lambda i: -len(tok.vocab[i]))[:10]
    line = tr("{name}: {n} of the {m} merged tokens; the longest: {pieces}",
              "{name}：マージでできた {m} 個のトークンのうち {n} 個。長いもの：{pieces}")
    print(line.format(name=name, n=len(ids), m=len(is_japanese), pieces=" | ".join(tok.piece(i) for i in longest)))

# %% [markdown] tags=["en"]
# The longest Japanese tokens are the tales' stock phrases (と言いました, おじいさんは); the longest English ones are
# the speakers' names, printed before every speech in the plays. How words come together, merge by merge: each line
# is one word, its number of tokens after the first k merges.
# Every word starts as its bytes (3 per kana or kanji) and drops as merges are learnt — the common English words
# first, because they are frequent in a text that is mostly English.

# %% [markdown] tags=["ja"]
# 日本語でいちばん長いトークンは昔話のお決まりの言い回し（と言いました、おじいさんは）、英語では戯曲のせりふの前に毎回書かれる
# 登場人物の名前です。次は、単語がマージごとにまとまっていく様子です。1 本の線が 1 つの単語で、最初の k 回のマージを学習した時点でのトークン数を表します。
# どの単語もバイト数（かな・漢字は 1 文字 3 バイト）から始まり、マージを覚えるにつれて減っていきます。
# 英語のよく使う単語が先にまとまるのは、学習テキストの大部分が英語なので、それだけ頻度が高いからです。

# %%
words = ["ました", "おじいさん", "おばあさん", "むかし", "桃太郎", " the", " and", " king", " thou", " Hamlet"]
steps = [0, 25, 50, 100, 200, 400, len(tok.merges)]
truncated = {k: tok.truncated(k) for k in steps}
series = {repr(w): [len(truncated[k].encode(w)) for k in steps] for w in words}
fig, ax = plt.subplots(figsize=(7.5, 3.6))
title, xlabel, ylabel = tr("words becoming tokens", "単語がトークンになっていく"), tr("merges learnt", "学習したマージの数"), tr("tokens for the word", "単語のトークン数")
plot.lines(steps, series, title=title, xlabel=xlabel, ylabel=ylabel, ax=ax)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
plt.show()

# %% [markdown] tags=["en"]
# One last look at speed: how long would your `learn_merges` take for the same job? Two merges on the whole corpus, timed, then multiplied
# out (your loop also merges across word edges, but its speed is what we measure here):

# %% [markdown] tags=["ja"]
# 最後に速さを見ておきましょう。同じ仕事を、あなたの `learn_merges` ならどれくらいかかるでしょう？ コーパス全体で 2 回だけマージして時間を測り、
# マージの回数ぶんに掛け算します（あなたのループは単語の境目もまたいでマージしますが、ここで測るのは速さだけです）：

# %%
corpus_bytes = list((ja_train + "\n" + en_train).encode("utf-8"))
start = time.perf_counter()
learn_merges(corpus_bytes, 2)
per_merge = (time.perf_counter() - start) / 2
line = tr("your loop: about {s:.0f} s for {m} merges ({p:.2f} s each); bpe.BPETokenizer.train: {o:.1f} s",
          "あなたのループ：{m} 回のマージに約 {s:.0f} 秒（1 回 {p:.2f} 秒）。bpe.BPETokenizer.train：{o:.1f} 秒")
print(line.format(s=per_merge * len(tok.merges), m=len(tok.merges), p=per_merge, o=ours_seconds))

# %% [markdown] tags=["en"]
# ## 8. The same sentence in Japanese and in English
#
# Here is the question every study session asks: does Japanese cost more tokens? Four sentences, each in both
# languages: one from the tales, one from *Hamlet*, and two from neither. The boxes are the tokens; a grey box is a
# token that is only part of a character.

# %% [markdown] tags=["ja"]
# ## 8. 同じ文を日本語と英語で
#
# 勉強会で必ず出る質問です。日本語のほうがトークンを多く使うのでしょうか？ 4 つの文をそれぞれ両方の言語で比べます。
# 1 つは昔話から、1 つは『ハムレット』から、2 つはどちらにもない文です。箱の 1 つ 1 つがトークンで、灰色の箱は文字の一部でしかないトークンです。

# %%
pairs = [("むかしむかし、あるところに、おじいさんとおばあさんがいました。", "Once upon a time, there lived an old man and an old woman."),
         ("生きるべきか、死ぬべきか、それが問題だ。", "To be, or not to be, that is the question."),
         ("今日はいい天気ですね。", "The weather is nice today."),
         ("桃太郎は鬼退治に行きました。", "Momotaro went to fight the ogres.")]
rows = {}
label = tr("{i}. {lang}: {n} tokens ({b} bytes)", "{i}. {lang}：{n} トークン（{b} バイト）")
for i, (ja, en) in enumerate(pairs, start=1):
    for lang, text in (("ja", ja), ("en", en)):
        pieces = tok.pieces(text)
        rows[label.format(i=i, lang=lang, n=len(pieces), b=len(text.encode("utf-8")))] = pieces
title = tr("the same four sentences in Japanese and in English", "同じ 4 つの文、日本語と英語")
plot.tokens(rows, title=title, width=10)
plt.show()

# %% [markdown] tags=["en"]
# Two reasons, both visible above:
#
# 1. **UTF-8.** Before any merge a kana or kanji costs 3 tokens, a Latin letter 1. Merges must first rebuild each
#    character out of its bytes before they can start on words.
# 2. **Fewer merges learnt for Japanese.** A merge is learnt when a pair is frequent *in the training text*. Ours is
#    mostly English, so most merges are English; 天気 and 問題 never appear in the tales, and stay as bytes.
#
# GPT-2 is in the same position, more so: its merges were learnt from WebText, web pages linked from Reddit (slides
# 36–37), from which the authors deliberately removed non-English pages (GPT-2 paper, section 3.7). What does the
# training mix do? Train the same tokenizer on Shakespeare alone, and on as much Shakespeare as there are tales:

# %% [markdown] tags=["ja"]
# 理由は 2 つあり、どちらも上の図に表れています：
#
# 1. **UTF-8。** マージの前は、かなや漢字は 1 文字 3 トークン、ラテン文字は 1 トークンです。マージはまず 1 文字をバイトから組み立て直さないと、
#    単語に取りかかれません。
# 2. **日本語のために学習されたマージが少ない。** マージは *学習テキストの中で* 多いペアについて学習されます。このコースの学習テキストは
#    大部分が英語なので、マージもほとんどが英語です。「天気」や「問題」は昔話に出てこないので、バイトのまま残っています。
#
# GPT-2 も同じ立場で、もっと極端です。GPT-2 のマージは WebText（Reddit からリンクされたウェブページ、スライド 36–37）で学習され、
# しかも著者たちは英語以外のページを意図的に取り除いていました（GPT-2 論文 3.7 節）。学習テキストの配分で何が変わるでしょう？
# 同じトークナイザを、シェイクスピアだけで、そして昔話と同じ量のシェイクスピアで学習してみます：

# %%
names = [tr("English only", "英語だけ"), tr("as trained above", "上と同じ"), tr("half and half", "日英半々")]
half = en_train[:len(ja_train.encode("utf-8"))]                   # en: as many bytes of Shakespeare as of tales  # ja: シェイクスピアも昔話と同じバイト数だけ
mix_tokenizers = dict(zip(names, [bpe.BPETokenizer.train(en_train, config), tok,
                                  bpe.BPETokenizer.train([ja_train, half], config)]))
print("".join(f"   {i}: ja / en" for i in range(1, len(pairs) + 1)))
for name, mix_tok in mix_tokenizers.items():
    row = [(len(mix_tok.encode(ja)), len(mix_tok.encode(en))) for ja, en in pairs]
    print("".join(f"   {j:5d} / {e:2d}" for j, e in row), "  ", name)

# %% [markdown] tags=["en"]
# Trained on English alone, a Japanese sentence costs exactly its bytes, three tokens per character: no merge ever
# involved a Japanese byte. Give Japanese an equal share and its sentences shrink, the tales' own sentence most of
# all, while the English ones grow a little. A vocabulary has only so many slots, and each language gets them in
# proportion to how much of it the tokenizer saw.

# %% [markdown] tags=["ja"]
# 英語だけで学習すると、日本語の文はバイト数そのまま、1 文字 3 トークンになります。日本語のバイトを含むマージが 1 つもないからです。
# 日本語に半分を割り当てると日本語の文は短くなり（とくに昔話そのものの文が大きく縮みます）、英語の文は少し長くなります。
# 語彙の枠には限りがあり、それぞれの言語は、トークナイザが見た量に応じて枠を分けてもらうのです。

# %% [markdown] tags=["en"]
# ## 9. Compression against vocabulary size
#
# More merges, longer tokens: fewer tokens per text, but a bigger vocabulary (a bigger embedding table and output
# layer, lesson 04). Measured on the held-out text: how many bytes one token holds on average, and how many tokens
# one character costs, after the first k merges.

# %% [markdown] tags=["ja"]
# ## 9. 語彙サイズと圧縮率
#
# マージが増えるほどトークンは長くなり、同じテキストのトークン数は減ります。そのかわり語彙が大きくなります（埋め込みの表と出力層が
# 大きくなる、レッスン 04）。取っておいたテキストで、最初の k 回のマージのあと、1 トークンが平均何バイトを表すか、
# 1 文字が何トークンかかるかを測ります。

# %%
ks = [0, 32, 64, 128, 256, 512, len(tok.merges)]
vocab_sizes = [256 + k for k in ks]
heldout = {"ja": ja_heldout, "en": en_heldout}
n_tokens = {lang: [len(tok.truncated(k).encode(text)) for k in ks] for lang, text in heldout.items()}
bytes_per_token = {lang: [len(heldout[lang].encode()) / n for n in n_tokens[lang]] for lang in heldout}
tokens_per_char = {lang: [n / len(heldout[lang]) for n in n_tokens[lang]] for lang in heldout}

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
names = {"ja": tr("Japanese (held-out tales)", "日本語（取っておいた昔話）"), "en": tr("English (The Tempest)", "英語（テンペスト）")}
title1, title2, xlabel = tr("compression: bytes per token", "圧縮率：1 トークンあたりのバイト数"), tr("cost: tokens per character", "コスト：1 文字あたりのトークン数"), tr("vocabulary size", "語彙サイズ")
plot.lines(vocab_sizes, {names[k]: v for k, v in bytes_per_token.items()}, title=title1, xlabel=xlabel, ax=ax1)
plot.lines(vocab_sizes, {names[k]: v for k, v in tokens_per_char.items()}, title=title2, xlabel=xlabel, ax=ax2)
plt.show()
line = tr("vocabulary {v}: {lang} {b:.2f} bytes/token, {c:.2f} tokens/character",
          "語彙 {v}：{lang} 1 トークン {b:.2f} バイト、1 文字 {c:.2f} トークン")
for lang in heldout:
    print(line.format(v=vocab_sizes[-1], lang=lang, b=bytes_per_token[lang][-1], c=tokens_per_char[lang][-1]))

# %% [markdown] tags=["en"]
# Left: by bytes, Japanese compresses as well as English or better, since one merged kana already holds 3 bytes.
# Right: what a reader pays per character is another matter — a Japanese character still costs more than twice
# as many tokens as an English letter. (A Japanese character also says more than an English letter, which is why
# the sentence-by-sentence comparison of section 8 is the fair one.) Both curves flatten: the first merges are the
# most frequent pairs and save the most, and each later one saves a little less. GPT-2 stopped at 50,257 tokens.

# %% [markdown] tags=["ja"]
# 左：バイトで見ると、日本語は英語と同じかそれ以上に圧縮されます。かな 1 文字分のトークンだけで、もう 3 バイトあるからです。
# 右：読み手が 1 文字ごとに払うコストは別の話で、日本語の 1 文字には英語の 1 文字の 2 倍以上のトークンがかかります
# （ただし日本語の 1 文字は英語の 1 文字より多くの意味を運ぶので、公平な比べ方は 8 節の文ごとの比較のほうです）。
# どちらの曲線も寝ていきます。最初のマージは最も多いペアなので節約も大きく、あとのマージほど節約は少しずつ小さくなります。
# GPT-2 は 50,257 トークンで止めました。

# %% [markdown] tags=["en"]
# ## 10. The real thing: Hugging Face `tokenizers`, GPT-2 and tiktoken
#
# Hugging Face's `tokenizers` library (written in Rust; `transformers` uses it) trains the same kind of tokenizer.
# We give it GPT-2's set-up: the `ByteLevel` pre-tokeniser (the same pattern, then each byte written as a printable
# character) and all 256 bytes to start from, with our vocabulary size and minimum frequency.

# %% [markdown] tags=["ja"]
# ## 10. 本物：Hugging Face `tokenizers`、GPT-2、tiktoken
#
# Hugging Face の `tokenizers` ライブラリ（Rust で書かれていて、`transformers` が使っています）も、同じ種類のトークナイザを学習します。
# GPT-2 と同じ設定にします。`ByteLevel` 事前トークナイザ（同じ正規表現のあと、各バイトを印字できる文字で書く）と、出発点の 256 バイトすべて、
# それに私たちと同じ語彙サイズと最小出現回数です。

# %%
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

hf = Tokenizer(models.BPE())
hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
hf.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=config.vocab_size, min_frequency=config.min_frequency, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
start = time.perf_counter()
hf.train_from_iterator([ja_train, en_train], trainer)
hf_seconds = time.perf_counter() - start

to_byte = {c: b for b, c in bpe.gpt2_byte_chars().items()}          # en: "Ġ" → 32 (a space), …  # ja: "Ġ" → 32（空白）、…
hf_merges = [tuple(bytes(to_byte[c] for c in side) for side in (m if isinstance(m, list) else m.split(" ")))
             for m in json.loads(hf.to_str())["model"]["merges"]]
our_merges = [(tok.vocab[a], tok.vocab[b]) for a, b in tok.merges]
first_difference = next((i for i, (a, b) in enumerate(zip(hf_merges, our_merges)) if a != b), len(our_merges))
shared = len(set(hf_merges) & set(our_merges))
line = tr("Hugging Face: {n} merges in {hs:.2f} s (ours: {os:.1f} s). The first {d} are the same, in the same order; "
          "{s} of {n} are shared.",
          "Hugging Face：{n} 回のマージに {hs:.2f} 秒（私たちのは {os:.1f} 秒）。最初の {d} 個は同じマージが同じ順に並び、"
          "{n} 個のうち {s} 個が共通です。")
print(line.format(n=len(hf_merges), hs=hf_seconds, os=ours_seconds, d=first_difference, s=shared))

if first_difference < len(our_merges):   # en: how often each of the two pairs occurs at that point  # ja: その時点で、2 つのペアがそれぞれ何回現れるか
    before = tok.truncated(first_difference)
    pair_counts = Counter()
    for piece, n in Counter(bpe.pretokenize(ja_train) + bpe.pretokenize(en_train)).items():
        ids = before.encode(piece)
        for a, b in zip(ids, ids[1:]):
            pair_counts[before.vocab[a], before.vocab[b]] += n
    line = tr("merge {k}: Hugging Face {theirs}, {n1} times; ours {ours}, {n2} times",
              "マージ {k}：Hugging Face は {theirs}（{n1} 回）、私たちのは {ours}（{n2} 回）")
    print(line.format(k=first_difference + 1, theirs=hf_merges[first_difference], ours=our_merges[first_difference],
                      n1=pair_counts[hf_merges[first_difference]], n2=pair_counts[our_merges[first_difference]]))

# %% [markdown] tags=["en"]
# Where they part, the two pairs are **equally frequent**, and the two libraries break the
# tie differently. Both take the smallest pair of ids, but Hugging Face numbers the bytes in GPT-2's printable order,
# in which a space ("Ġ") comes after the letters, while ours numbers them by value. From then on, equal counts can go
# either way; in the end the two vocabularies still share nearly all their merges (the count above), some in another
# order. With the bytes numbered alike, the merges are identical, all of them, in order (`tests/test_bpe.py` checks
# it, along with the token ids on held-out text). Hugging Face is faster: it is written in Rust.
#
# Hugging Face shows tokens the way GPT-2's vocabulary file writes them: "Ġ" for a space, and a Japanese character's
# three bytes as three odd Latin letters. The decoder turns them back into text:

# %% [markdown] tags=["ja"]
# 食い違うところでは、2 つのペアの回数が **同じ** で、2 つのライブラリの同点の決め方が違います。
# どちらも id がいちばん小さいペアを選びますが、Hugging Face はバイトに GPT-2 の印字できる文字の順で番号をつけるので、
# 空白（"Ġ"）がアルファベットより後ろに来ます。私たちのほうはバイトの値の順です。そこから先は、同じ回数のペアがどちらに転ぶかが変わります。それでも最後には、2 つの語彙はほぼすべてのマージを共有しています
# （上に表示した数）。順番が違うものがあるだけです。バイトの番号を揃えれば、マージは最後まで順番も含めてすべて一致します
# （`tests/test_bpe.py` が、取っておいたテキストでのトークン id とともに確かめています）。Hugging Face のほうが速いのは、Rust で書かれているからです。
#
# Hugging Face は、GPT-2 の語彙ファイルと同じ書き方でトークンを表示します。空白は "Ġ"、日本語の 1 文字の 3 バイトは見慣れない 3 つのラテン文字です。
# デコーダがそれをテキストに戻します：

# %%
line = tr("{n} tokens (ours: {m}) → {text}", "{n} トークン（私たちのは {m}）→ {text}")
for text in (pairs[0][1], pairs[0][0]):
    encoding = hf.encode(text)
    print(encoding.tokens)
    print(line.format(n=len(encoding.ids), m=len(tok.encode(text)), text=hf.decode(encoding.ids)))

# %% [markdown] tags=["en"]
# **GPT-2 and tiktoken.** OpenAI's `tiktoken` would show GPT-2's own tokens, but it is not installed here, and its
# package holds no vocabulary: `tiktoken.get_encoding("gpt2")` downloads GPT-2's merges from OpenAI the first time
# (tiktoken 0.14). This course runs offline, so we stop at what is known about it. GPT-2's tokenizer is exactly the
# kind you trained: byte-level BPE, with the pre-tokeniser above (`bpe.GPT2_PATTERN` is GPT-2's pattern, verbatim),
# **50,257** tokens = 256 bytes + 50,000 merges + one `<|endoftext|>` marker, learnt from WebText. Later OpenAI
# encodings keep the method and grow the vocabulary (`cl100k_base`, about 100,000 tokens; `o200k_base`, about
# 200,000). In `transformers`, `AutoTokenizer.from_pretrained("gpt2")` would load the same files (also a download).

# %% [markdown] tags=["ja"]
# **GPT-2 と tiktoken。** OpenAI の `tiktoken` を使えば GPT-2 自身のトークンを見られますが、ここにはインストールされていません。
# しかもこのパッケージには語彙が入っておらず、`tiktoken.get_encoding("gpt2")` は最初の呼び出しで GPT-2 のマージを OpenAI から
# ダウンロードします（tiktoken 0.14）。このコースはオフラインで動くので、わかっていることまでにとどめます。GPT-2 のトークナイザは、
# あなたが学習させたものとまったく同じ種類です。バイトレベルの BPE で、事前トークナイザは上のもの（`bpe.GPT2_PATTERN` は GPT-2 の正規表現そのまま）、
# トークンは **50,257** 個 = 256 バイト + 50,000 回のマージ + 区切りの `<|endoftext|>` 1 つで、WebText で学習されています。
# その後の OpenAI の符号化も方法は同じで、語彙が大きくなっています（`cl100k_base` は約 10 万トークン、`o200k_base` は約 20 万）。
# `transformers` の `AutoTokenizer.from_pretrained("gpt2")` も同じファイルを読み込みます（これもダウンロードです）。

# %% [markdown] tags=["en"]
# ## What you built
#
# - **Slide 35**, the part it skipped: a GPT reads tokens, and byte-pair encoding decides them. 256 byte tokens spell
#   anything; your `count_pairs` and `merge`, repeated by `learn_merges`, grow the vocabulary one merge at a time;
#   your `encode` replays the merges on new text.
# - A tokenizer trained on the course's tales and plays, whose merges grew into ました, おじいさん, " the", " king" —
#   the same merges Hugging Face's `tokenizers` learns, up to how ties are broken.
# - Why Japanese costs more tokens: three UTF-8 bytes per character, and fewer merges learnt for a language that is
#   a small part of the training text — GPT-2's case, and ours.
# - Slide 25 said ChatGPT generates "the most probable next word"; more precisely it is the next **token**, and the
#   context window (lesson 04) is counted in tokens too, as is the price of OpenAI's API.
#
# **To discuss:** ChatGPT's context window, and the price of OpenAI's API, are counted in tokens. The same question
# asked in Japanese takes more tokens than in English. What does that mean for a Japanese user, and how would you build a tokenizer
# that is fairer to Japanese — and what would it cost?

# %% [markdown] tags=["ja"]
# ## このレッスンで作ったもの
#
# - **スライド 35** が割愛した部分：GPT が読むのはトークンで、それを決めるのがバイト対符号化（BPE）。256 個のバイトトークンで何でも表せます。
#   あなたの `count_pairs` と `merge` を `learn_merges` が繰り返し、語彙をマージ 1 回ずつ育てました。あなたの `encode` は、
#   新しいテキストにそのマージを再生します。
# - このコースの昔話と戯曲で学習したトークナイザ。マージは ました、おじいさん、" the"、" king" に育ちました。同点の決め方を除けば、
#   Hugging Face の `tokenizers` が学習するのと同じマージです。
# - 日本語のほうがトークンが多くなる理由：1 文字が UTF-8 で 3 バイトであること、そして学習テキストの中で少ない言語にはマージがあまり学習されないこと。
#   GPT-2 もそうでしたし、私たちのトークナイザもそうです。
# - スライド 25 は、ChatGPT は「確率の最も高い単語」を次々に生成すると言っていました。正確には次の **トークン** です。
#   コンテキストウィンドウ（レッスン 04）もトークンで数えますし、OpenAI の API の料金もトークン単位です。
#
# **話し合ってみよう：** ChatGPT のコンテキストウィンドウも、OpenAI の API の料金も、トークンで数えます。同じ質問でも、日本語で聞くと英語より多くのトークンを使います。
# これは日本語を使う人にとって何を意味するでしょうか？ 日本語にもっと公平なトークナイザを作るにはどうすればよく、その代わりに何を失うでしょうか？
