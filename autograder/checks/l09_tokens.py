"""Hidden checks for lesson 09 · Tokens: byte-pair encoding (slide 35)."""

from __future__ import annotations

import random
from collections import Counter

from autograder.checks import Case, call_text, check, expected_got, more, show, type_problem
from shikumi import bpe
from shikumi.lang import tr

LETTERS = ["a", "b", "c", "d", " ", "む", "か", "し", "。", "桃"]   # 1-byte and 3-byte characters


def _ids(rng: random.Random, pool_size: int, length: int) -> list[int]:
    pool = rng.sample(range(256), pool_size)
    return [rng.choice(pool) for _ in range(length)]


def _as_counts(value) -> Counter:
    return Counter({k: v for k, v in value.items() if v})


def _int_list(value, what: str, item: str) -> str | None:
    """type_problem for a list (or tuple) of ints, with a word on what the items should be."""
    if (problem := type_problem(value, (list, tuple), what)) is not None:
        return problem
    odd = next((x for x in value if not isinstance(x, int) or isinstance(x, bool)), None)
    if odd is not None:
        return tr(f"{what}: every item should be an int ({item}), but one is {show(odd)} ({type(odd).__name__}).",
                    f"{what}：要素はすべて int（{item}）のはずですが、{show(odd)}（{type(odd).__name__}）が入っています。")
    return None


# -- count_pairs ---------------------------------------------------------------------------------------

def pairs_cases(rng: random.Random) -> list[Case]:
    cases = []
    for length in (8, 12, 16):
        while True:  # a pair that occurs twice or more: counting each pair once must not pass
            ids = _ids(rng, 3, length)
            if max(bpe.count_pairs(ids).values()) >= 2:
                break
        cases.append(Case((ids,)))
    word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 7)))
    cases.append(Case((list((word * 3).encode("utf-8")),)))     # real UTF-8 bytes, a word three times
    cases.append(Case(([rng.randrange(256)],), edge=True))       # one id: no pairs
    cases.append(Case(([],), edge=True))
    return cases


@check("count_pairs", cases=pairs_cases, twin="shikumi.bpe:count_pairs")
def pairs_verify(case: Case, value) -> str | None:
    (ids,) = case.args
    what = call_text("count_pairs", case)
    if (problem := type_problem(value, dict, what)) is not None:
        return problem + more(tr("Return a Counter (or dict) from pairs (a, b) to how often they occur.",
                                 "ペア (a, b) から出現回数への Counter（または dict）を返してください。"))
    expected, got = bpe.count_pairs(ids), _as_counts(value)
    if got == expected:
        return None
    odd = next((k for k in got if not (isinstance(k, tuple) and len(k) == 2)), None)
    if odd is not None:
        like = show(next(iter(expected), (1, 2)))
        return tr(f"{what}: each key should be a pair of neighbouring ids, a tuple like {like}, but one is {show(odd)}.",
                    f"{what}：キーは隣り合う 2 つの id のペア、{like} のようなタプルのはずですが、{show(odd)} というキーがあります。")
    hint = ""
    if got == Counter(zip(ids[::2], ids[1::2])):
        hint = more(tr("Pairs overlap: (ids[0], ids[1]), (ids[1], ids[2]), … — move one step at a time, not two.",
                       "ペアは重なり合います：(ids[0], ids[1])、(ids[1], ids[2])、… と 1 つずつずらします（2 つずつではありません）。"))
    elif got == bpe.count_pairs(ids[:-1]):
        hint = more(tr(f"The last pair {show(tuple(ids[-2:]))} is missing: the left id runs up to position len(ids) - 2 "
                       "(zip(ids, ids[1:]) stops at the right place for you).",
                       f"最後のペア {show(tuple(ids[-2:]))} が抜けています。左の id の位置は len(ids) - 2 まで進みます"
                       "（zip(ids, ids[1:]) なら、ちょうどよいところで止まります）。"))
    elif got == bpe.count_pairs(ids[1:]):
        hint = more(tr(f"The first pair {show(tuple(ids[:2]))} is missing: start at position 0.",
                       f"最初のペア {show(tuple(ids[:2]))} が抜けています。位置 0 から始めます。"))
    elif got == Counter(set(expected)):
        hint = more(tr("Count every occurrence: a pair that appears twice counts 2, not 1.",
                       "出てくるたびに数えます。2 回出てくるペアは 1 ではなく 2 です。"))
    elif ids and got == bpe.count_pairs(ids + ids[:1]):
        hint = more(tr("The last id has no right-hand neighbour: don't pair it with the first one.",
                       "最後の id には右隣がありません。最初の id とペアにしないでください。"))
    elif got == Counter({(b, a): n for (a, b), n in expected.items()}):
        hint = more(tr("Each pair is (left, right) = (ids[i], ids[i + 1]): yours are the wrong way round.",
                       "ペアは (左, 右) = (ids[i], ids[i + 1]) です。左右が逆になっています。"))
    return expected_got(what, show(dict(expected)), show(dict(got))) + hint


# -- merge ----------------------------------------------------------------------------------------------

def _merge_variant(ids, pair, new_id, step_after_merge=2, first_only=False, drop_tail=False, right_to_left=False):
    if right_to_left:
        return list(reversed(_merge_variant(list(reversed(ids)), pair[::-1], new_id)))
    out, i, merged = [], 0, False
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair) and not (first_only and merged):
            out.append(new_id)
            i += step_after_merge
            merged = True
        elif drop_tail and i == len(ids) - 1:
            break
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_cases(rng: random.Random) -> list[Case]:
    cases = []
    for length in (10, 14):
        while True:  # the pair occurs at least twice, and not at the very end (so every slip shows)
            ids = _ids(rng, 3, length)
            counts = bpe.count_pairs(ids)
            pair = max(counts, key=lambda p: (counts[p], p))
            if counts[pair] >= 2 and pair[0] != pair[1]:
                break
        cases.append(Case((ids, pair, 256 + rng.randrange(100))))
    x, y = rng.sample(range(256), 2)
    run = [y] + [x] * rng.choice((3, 5)) + [y, x, x, y]              # an odd run: left to right matters
    cases.append(Case((run, (x, x), 256 + rng.randrange(100))))
    word = "".join(rng.choice(LETTERS[5:9]) for _ in range(3))        # Japanese: a 3-byte character's first two bytes
    ids = list((word + word[::-1]).encode("utf-8"))
    cases.append(Case((ids, (ids[0], ids[1]), 256 + rng.randrange(100))))
    ids = _ids(rng, 3, 8)
    absent = next((a, b) for a in range(256) for b in range(256) if (a, b) not in bpe.count_pairs(ids))
    cases.append(Case((ids, absent, 300), edge=True))                # nothing to merge: the same list
    cases.append(Case(([], (1, 2), 300), edge=True))
    return cases


@check("merge", cases=merge_cases, twin="shikumi.bpe:merge")
def merge_verify(case: Case, value) -> str | None:
    ids, pair, new_id = case.args
    what = call_text("merge", case)
    if (problem := _int_list(value, what, tr("a token id", "トークン id"))) is not None:
        return problem
    value, expected = list(value), bpe.merge(ids, pair, new_id)
    if value == expected:
        return None
    hint = ""
    if value == ids and expected != ids:
        hint = more(tr(f"Nothing was replaced: look for ids[i] == {pair[0]} and ids[i + 1] == {pair[1]}, compared as a "
                       "tuple (ids[i], ids[i + 1]) == pair.",
                       f"何も置き換わっていません。ids[i] == {pair[0]} かつ ids[i + 1] == {pair[1]} のところを探します"
                       "（タプル (ids[i], ids[i + 1]) == pair で比べます）。"))
    elif value == _merge_variant(ids, pair, new_id, right_to_left=True):
        hint = more(tr("Go from left to right: in [x, x, x] the first two merge, giving [new, x], not [x, new].",
                       "左から右へ進みます。[x, x, x] では最初の 2 つがマージされて [new, x] になります（[x, new] ではありません）。"))
    elif value == _merge_variant(ids, pair, new_id, step_after_merge=1):
        hint = more(tr("After a merge, jump over both ids (i += 2): the second one is already inside the new token.",
                       "マージしたら 2 つの id をまとめて飛ばします（i += 2）。2 つ目の id はもう新しいトークンの中に入っています。"))
    elif value == _merge_variant(ids, pair, new_id, first_only=True):
        hint = more(tr("Replace every occurrence of the pair, not only the first.",
                       "最初の 1 か所だけでなく、ペアが現れるところをすべて置き換えます。"))
    elif value == _merge_variant(ids, pair, new_id, drop_tail=True):
        hint = more(tr("The last id is missing: when no pair starts at the last position, keep that id as it is.",
                       "最後の id が抜けています。最後の位置から始まるペアはないので、その id はそのまま残します。"))
    elif len(value) == len(ids):
        hint = more(tr(f"The result should be shorter than the input: the two ids of each pair become ONE id, {new_id}.",
                       f"結果は入力より短くなるはずです。ペアの 2 つの id は 1 つの id（{new_id}）になります。"))
    return expected_got(what, show(expected), show(value)) + hint


# -- learn_merges ----------------------------------------------------------------------------------------

def _learn_variant(ids, num_merges, first_id=256, ties="smallest", apply=True, extra=0):
    ids, merges = list(ids), {}
    for step in range(num_merges + extra):
        counts = bpe.count_pairs(ids)
        if not counts:
            break
        if ties == "smallest":
            pair = min(counts, key=lambda p: (-counts[p], p))
        elif ties == "largest":
            pair = max(counts, key=lambda p: (counts[p], p))
        else:  # the first seen: max() over a Counter in insertion order
            pair = max(counts, key=counts.get)
        merges[pair] = first_id + step
        if apply:
            ids = bpe.merge(ids, pair, first_id + step)
    return merges


def learn_cases(rng: random.Random) -> list[Case]:
    cases = []
    for length, num_merges in ((24, 4), (40, 6)):
        for _ in range(200):  # prefer inputs where a tie is broken differently by "first seen"
            ids = _ids(rng, 4, length)
            if _learn_variant(ids, num_merges, ties="first") != bpe.learn_merges(ids, num_merges):
                break
        cases.append(Case((ids, num_merges)))
    text = "".join(rng.choice(LETTERS) for _ in range(12))
    cases.append(Case((list(text.encode("utf-8")), 5)))
    a, b = rng.sample(range(256), 2)
    cases.append(Case(([a, b], 3)))                                  # one merge, then no pair is left: stop
    cases.append(Case((_ids(rng, 3, 10), 0), edge=True))             # no merges asked for
    cases.append(Case(([rng.randrange(256)], 4), edge=True))         # a single id: no pair at all
    return cases


@check("learn_merges", cases=learn_cases,
       twin=("shikumi.bpe:learn_merges", "shikumi.bpe:most_frequent", "shikumi.bpe:BPETokenizer.train"))
def learn_verify(case: Case, value) -> str | None:
    ids, num_merges = case.args
    what = call_text("learn_merges", case)
    if isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) for p in value):
        return tr(f"{what} returned a {type(value).__name__} of pairs; return a dict {{pair: new id}}, e.g. "
                    "{(97, 97): 256, (97, 98): 257}.",
                    f"{what} がペアの {type(value).__name__} を返しました。{{ペア: 新しい id}} の dict を返してください"
                    "（例：{(97, 97): 256, (97, 98): 257}）。")
    if (problem := type_problem(value, dict, what)) is not None:
        return problem
    expected, got = bpe.learn_merges(ids, num_merges), dict(value)
    if got == expected and list(got) == list(expected):
        return None
    hint, new_ids = "", [v for v in got.values() if isinstance(v, int) and not isinstance(v, bool)]
    if got == expected:
        hint = more(tr("The right merges, but not in the order learnt: add each one to the dict as you learn it.",
                       "マージの中身は正しいのですが、学習した順になっていません。学習するたびに dict に追加します。"))
    elif got == _learn_variant(ids, num_merges, apply=False):
        hint = more(tr("After each merge, go on with the merged ids (ids = merge(ids, pair, new_id)) before counting again.",
                       "マージするたびに、マージ後の id 列（ids = merge(ids, pair, new_id)）で数え直します。"))
    elif expected and new_ids and min(new_ids) != 256:
        hint = more(tr("New ids count up from 256: ids 0–255 are the bytes themselves.",
                       "新しい id は 256 から数えます。0〜255 はバイトそのものの id です。"))
    elif got in (_learn_variant(ids, num_merges, ties="first"), _learn_variant(ids, num_merges, ties="largest")):
        hint = more(tr("When several pairs are equally frequent, take the smallest pair: "
                       "min(counts, key=lambda p: (-counts[p], p)).",
                       "同じ回数のペアがいくつかあるときは、いちばん小さいペアを選びます："
                       "min(counts, key=lambda p: (-counts[p], p))。"))
    elif len(got) != len(expected):
        hint = more(tr(f"Learn exactly num_merges = {num_merges} merges, fewer only when no pair is left.",
                       f"マージはちょうど num_merges = {num_merges} 回です。少なくなるのは、ペアが 1 つも残らないときだけです。"))
    return expected_got(what, show(expected), show(got)) + hint


# -- encode -------------------------------------------------------------------------------------------------

def _encode_variant(text, merges, start="bytes", order=1, passes=None):
    ids = [ord(c) for c in text] if start == "chars" else list(text.encode("utf-8"))
    for k, (pair, new_id) in enumerate(list(merges.items())[::order]):
        if passes is not None and k >= passes:
            break
        ids = bpe.merge(ids, pair, new_id)
    return ids


def encode_cases(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(3):
        letters = rng.sample(LETTERS, 5)
        train = "".join(rng.choice(letters) for _ in range(40))
        merges = bpe.learn_merges(list(train.encode("utf-8")), rng.randint(6, 12))
        text = "".join(rng.choice(letters) for _ in range(rng.randint(8, 14)))
        cases.append(Case((text, merges)))
    cases.append(Case(("鬼" + text, merges)))                             # a character never seen in training
    cases.append(Case(("", merges), edge=True))
    cases.append(Case((rng.choice("abcd"), merges), edge=True))          # one byte: nothing to merge
    return cases


@check("encode", cases=encode_cases, twin=("shikumi.bpe:encode_ids", "shikumi.bpe:BPETokenizer.encode"))
def encode_verify(case: Case, value) -> str | None:
    text, merges = case.args
    what = call_text("encode", case)
    if isinstance(value, (bytes, bytearray)):
        return tr(f"{what} returned bytes; return a list of token ids (ints), after replaying the merges.",
                    f"{what} が bytes を返しました。マージを再生したあとのトークン id（int）のリストを返してください。")
    if (problem := _int_list(value, what, tr("a token id", "トークン id"))) is not None:
        return problem
    value, expected = list(value), bpe.encode_ids(text.encode("utf-8"), merges)
    if value == expected:
        return None
    hint = ""
    if value == list(text.encode("utf-8")):
        hint = more(tr("Those are the bytes: now replay the merges on them, in the order they were learnt.",
                       "それはバイト列です。ここに、学習した順にマージを再生します。"))
    elif value == _encode_variant(text, merges, start="chars"):
        char = next(c for c in text if ord(c) > 255)
        hint = more(tr(f"Start from the UTF-8 bytes, list(text.encode('utf-8')): {char!r} is {len(char.encode())} bytes, "
                       f"not the one number ord({char!r}) = {ord(char)}.",
                       f"UTF-8 のバイト列 list(text.encode('utf-8')) から始めます。{char!r} は ord({char!r}) = {ord(char)} "
                       f"という 1 つの数ではなく、{len(char.encode())} バイトです。"))
    elif value == _encode_variant(text, merges, passes=1):
        hint = more(tr("Keep going after the first merge: replay every merge.",
                       "最初のマージで止めずに、すべてのマージを再生します。"))
    elif value == _encode_variant(text, merges, order=-1):
        hint = more(tr("Replay the merges in the order they were learnt (the dict's order), not backwards: later merges "
                       "build on the tokens of earlier ones.",
                       "マージは学習した順（dict の順）に再生します。逆順ではありません。後のマージは前のマージでできたトークンを使います。"))
    return expected_got(what, show(expected), show(value)) + hint
