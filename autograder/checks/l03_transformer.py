"""Hidden checks for lesson 03 · Transformer encoder–decoder (slides 19–20, 26–31, 35–36).

The right answers come from shikumi.transformer (the library the lesson's own model is built from); the classic
mistakes are computed here with the same weights, so a wrong answer can be told which mistake it looks like.
"""

from __future__ import annotations

import random

import torch

from autograder.checks import Case, check, expected_got, more, show, type_problem
from autograder.checks import generator as _generator
from autograder.checks import with_hint as _with_hint
from autograder.plain import Unsupported
from shikumi.attention import causal_mask
from shikumi.lang import tr
from shikumi.transformer import DecoderLayer, EncoderLayer

_LIB = "shikumi.transformer"  # the library's own solutions: calling them scores 0


# -- positional_encoding ---------------------------------------------------------------------------

def _pe(T: int, d: int, mistake: str = "") -> torch.Tensor:
    pos = torch.arange(T, dtype=torch.float64)[:, None] + (1 if mistake == "from_one" else 0)   # (T, 1)
    two_i = torch.arange(0, d, 2, dtype=torch.float64)                                         # (d/2,)
    if mistake == "i_not_2i":
        angle = pos / 10000 ** (two_i / 2 / d)
    elif mistake == "2i_doubled":   # torch.arange(0, d, 2) is already 2i; multiplied by 2 again
        angle = pos / 10000 ** (2 * two_i / d)
    elif mistake == "times":
        angle = pos * 10000 ** (two_i / d)
    else:
        angle = pos / 10000 ** (two_i / d)
    if mistake == "concat":
        return torch.cat([angle.sin(), angle.cos()], dim=1)
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = (angle.cos(), angle.sin()) if mistake == "swapped" else (angle.sin(), angle.cos())
    if mistake == "column_exponent":  # column j uses 10000^(j / d), so odd columns get (2i + 1) / d
        pe[:, 1::2] = (pos / 10000 ** ((two_i + 1) / d)).cos()
    return pe


PE_HINTS = {
    "swapped": "sin goes in the even columns (0, 2, 4, …) and cos in the odd ones, not the other way round.",
    "concat": "sin and cos alternate column by column (PE[:, 0::2] = sin, PE[:, 1::2] = cos); you put all sines "
              "first, then all cosines.",
    "i_not_2i": "the exponent is 2i / d_model, where 2i is the even column index (0, 2, 4, …): you used i / d_model.",
    "2i_doubled": "the exponent is 2i / d_model, and torch.arange(0, d_model, 2) already gives 2i (0, 2, 4, …): you "
                  "multiplied it by 2 again, so the angles shrink far too fast.",
    "column_exponent": "both columns of a pair (2i and 2i+1) share one angle, pos / 10000^(2i / d_model); your odd "
                       "columns used (2i+1) / d_model.",
    "times": "divide the position by 10000^(2i / d_model); you multiplied.",
    "from_one": "positions count from 0, so the first row is sin(0) = 0 and cos(0) = 1.",
}
PE_HINTS_JA = {
    "swapped": "sin と cos が逆になっているようです。sin は偶数列（0, 2, 4, …）に、cos は奇数列に入れます。",
    "concat": "sin をすべて先に並べ、そのあとに cos を並べているようです。sin と cos は 1 列ずつ交互に入れます"
              "（PE[:, 0::2] = sin、PE[:, 1::2] = cos）。",
    "i_not_2i": "指数に i / d_model を使っているようです。指数は 2i / d_model で、2i は偶数列の番号（0, 2, 4, …）です。",
    "2i_doubled": "指数の 2i にさらに 2 を掛けているようです。torch.arange(0, d_model, 2) がすでに 2i（0, 2, 4, …）なので、"
                  "そのまま 2i / d_model に使います。2 倍すると、角度が速く小さくなりすぎます。",
    "column_exponent": "奇数列で (2i+1) / d_model を使っているようです。ペアになる 2 つの列（2i と 2i+1）は、同じ角度 "
                       "pos / 10000^(2i / d_model) を使います。",
    "times": "位置に 10000^(2i / d_model) を掛けているようです。位置は 10000^(2i / d_model) で割ります。",
    "from_one": "位置を 1 から数えているようです。位置は 0 から数えるので、最初の行は sin(0) = 0 と cos(0) = 1 です。",
}


def pe_cases(rng: random.Random) -> list[Case]:
    return [Case((5, 8)), Case((12, 16)), Case((1, 4)),
            Case((rng.randint(3, 20), 2 * rng.randint(3, 16))), Case((rng.randint(30, 50), 64))]


@check("positional_encoding", cases=pe_cases, twin=f"{_LIB}:sinusoidal_positional_encoding")
def pe_verify(case: Case, value) -> str | None:
    T, d = case.args
    what = f"positional_encoding({T}, {d})"
    expected = _pe(T, d)
    mistakes = {tr(f"It looks like {hint}", PE_HINTS_JA[mistake]): lambda m=mistake: _pe(T, d, m)
                for mistake, hint in PE_HINTS.items()}
    problem = _with_hint(value, expected, what, mistakes, atol=1e-4)
    if problem is None or any(hint in problem for hint in mistakes) or tuple(getattr(value, "shape", ())) != (T, d):
        return problem
    return problem + _pe_compare(value, expected, d)


def _pe_compare(value, expected, d: int) -> str:
    """No known mistake matches: the formula at the worst entry, with its numbers, to compare by hand."""
    diff = (torch.as_tensor(value).double() - expected).abs().nan_to_num(nan=float("inf"))
    pos, col = divmod(int(diff.argmax()), d)
    two_i = col - col % 2
    fn = "sin" if col % 2 == 0 else "cos"
    formula = f"{fn}({pos} / 10000^({two_i}/{d})) = {float(expected[pos, col]):.6g}"
    return more(tr(f"Compare by hand: PE[{pos}, {col}] should be {formula} (column {col} is {'even' if fn == 'sin' else 'odd'}: "
                   f"{fn}, with 2i = {two_i}). Check the base 10000, the exponent 2i / d_model, and that you divide the "
                   "position by 10000^(2i / d_model).",
                   f"手で比べてみましょう：PE[{pos}, {col}] は {formula} のはずです（列 {col} は"
                   f"{'偶数' if fn == 'sin' else '奇数'}列なので {fn}、2i = {two_i}）。底の 10000、指数 2i / d_model、"
                   "位置を 10000^(2i / d_model) で割っていることを確かめてください。"))


# -- EncoderLayer and DecoderLayer (kind "module") -------------------------------------------------

def _random_state(layer: torch.nn.Module, g: torch.Generator) -> dict:
    """Weights for every parameter, LayerNorms included (so that norm1 and norm2 can be told apart)."""
    state = {}
    for name, p in layer.state_dict().items():
        if "norm" in name:
            base = 1.0 if name.endswith("weight") else 0.0
            state[name] = base + 0.3 * torch.randn(p.shape, generator=g)
        else:
            fan_in = p.shape[-1] if p.dim() == 2 else p.shape[0]
            state[name] = torch.randn(p.shape, generator=g) / fan_in ** 0.5
    return state


def _padding(B: int, T: int, pad_last: int) -> torch.Tensor:
    mask = torch.ones(B, 1, 1, T, dtype=torch.bool)
    if pad_last:
        mask[-1, ..., T - pad_last:] = False          # the last sentence is shorter: padding at its end
    return mask


def encoder_cases(rng: random.Random) -> list[Case]:
    cases = []
    for d, h, ff, T, pad in ((8, 2, 16, 5, 2), (8, 2, 16, 4, 0), (12, 3, 24, 6, 3)):
        g = _generator(rng)
        state = _random_state(EncoderLayer(d, h, ff), g)
        x = torch.randn(2, T, d, generator=g)
        cases.append(Case((d, h, ff), state=state, inputs=(x, _padding(2, T, pad))))
    return cases


def _encoder(case: Case, mistake: str = "") -> torch.Tensor:
    layer = EncoderLayer(*case.args)
    layer.load_state_dict(case.state)
    layer.eval()
    x, mask = case.inputs
    n1, n2 = (layer.norm2, layer.norm1) if mistake == "swapped_norms" else (layer.norm1, layer.norm2)
    m = None if mistake == "no_mask" else mask
    with torch.no_grad():
        if mistake == "pre_ln":
            x = x + layer.self_attn(n1(x), mask=m)
            return x + layer.ff(n2(x))
        if mistake == "no_residual":
            return n2(layer.ff(n1(layer.self_attn(x, mask=m))))
        if mistake == "no_norm":
            x = x + layer.self_attn(x, mask=m)
            return x + layer.ff(x)
        x = n1(x + layer.self_attn(x, mask=m))
        return n2(x + layer.ff(x))


ENCODER_HINTS = {
    "pre_ln": "That is pre-LN (LayerNorm before each sub-layer, as GPT-2 does). This exercise is the paper's post-LN: "
              "add first, then normalise: x = norm1(x + self_attn(x, mask=mask)), then norm2(x + ff(x)).",
    "no_mask": "Pass the mask to self_attn (self.self_attn(x, mask=mask)): no word may attend to padding.",
    "no_residual": "Add the sub-layer's input back before each LayerNorm (the residual connection): "
                   "norm1(x + self_attn(x)), not norm1(self_attn(x)).",
    "swapped_norms": "norm1 belongs to the attention sub-layer and norm2 to the feed-forward one.",
    "no_norm": "Each residual add is followed by its LayerNorm (norm1, then norm2).",
}
ENCODER_HINTS_JA = {
    "pre_ln": "それは pre-LN（GPT-2 のように、各サブレイヤーの前に LayerNorm）です。この演習は論文の post-LN で、"
              "先に足してから正規化します：x = norm1(x + self_attn(x, mask=mask))、続いて norm2(x + ff(x)) です。",
    "no_mask": "self_attn に mask を渡します（self.self_attn(x, mask=mask)）。どの単語も、パディングに注意を向けては"
               "いけません。",
    "no_residual": "各 LayerNorm の前に、サブレイヤーの入力を足し戻します（残差接続）：norm1(self_attn(x)) ではなく "
                   "norm1(x + self_attn(x)) です。",
    "swapped_norms": "norm1 は attention のサブレイヤーの、norm2 はフィードフォワードのサブレイヤーの LayerNorm です。",
    "no_norm": "残差を足したあとには、それぞれの LayerNorm（norm1、次に norm2）をかけます。",
}


@check("EncoderLayer", cases=encoder_cases, kind="module", twin=f"{_LIB}:EncoderLayer")
def encoder_verify(case: Case, value) -> str | None:
    d, h, ff = case.args
    x, mask = case.inputs
    shape, padding = tuple(x.shape), int((~mask).sum())
    what = tr(f"EncoderLayer({d}, {h}, {ff})(x of shape {shape}, mask with {padding} padding position(s))",
                f"EncoderLayer({d}, {h}, {ff})(形 {shape} の x、パディングが {padding} か所のマスク)")
    return _with_hint(value, _encoder(case), what, {tr(hint, ENCODER_HINTS_JA[mistake]):
                                                    lambda m=mistake: _encoder(case, m)
                                                    for mistake, hint in ENCODER_HINTS.items()})


def decoder_cases(rng: random.Random) -> list[Case]:
    cases = []
    for d, h, ff, T, S, pad in ((8, 2, 16, 4, 5, 2), (8, 2, 16, 1, 4, 1), (12, 3, 24, 5, 3, 0)):
        g = _generator(rng)
        state = _random_state(DecoderLayer(d, h, ff), g)
        x, memory = torch.randn(2, T, d, generator=g), torch.randn(2, S, d, generator=g)
        cases.append(Case((d, h, ff), state=state, inputs=(x, memory, _padding(2, S, pad))))
    return cases


def _decoder(case: Case, mistake: str = "") -> torch.Tensor:
    layer = DecoderLayer(*case.args)
    layer.load_state_dict(case.state)
    layer.eval()
    x, memory, src_mask = case.inputs
    T = x.size(1)
    future = {"no_causal": None, "anti_causal": causal_mask(T).T}.get(mistake, causal_mask(T))
    context = None if mistake == "self_not_cross" else memory           # None: keys and values from x itself
    m = None if mistake == "no_src_mask" else src_mask

    def self_attn(h):
        return layer.self_attn(h, mask=future)

    def cross_attn(h):
        return layer.cross_attn(h, context, mask=m if context is not None else None)

    with torch.no_grad():
        if mistake == "pre_ln":
            x = x + self_attn(layer.norm1(x))
            x = x + cross_attn(layer.norm2(x))
            return x + layer.ff(layer.norm3(x))
        if mistake == "cross_first":
            x = layer.norm1(x + cross_attn(x))
            x = layer.norm2(x + self_attn(x))
            return layer.norm3(x + layer.ff(x))
        x = layer.norm1(x + self_attn(x))
        x = layer.norm2(x + cross_attn(x))
        return layer.norm3(x + layer.ff(x))


DECODER_HINTS = {
    "no_causal": "The decoder's self-attention needs the causal mask (mask=causal_mask(T, x.device)): while writing "
                 "word t it must not see the words after it.",
    "anti_causal": "The causal mask is lower-triangular (causal_mask(T)): each word sees itself and the past; yours "
                   "let words see the future instead.",
    "self_not_cross": "Cross-attention takes its keys and values from the encoder: self.cross_attn(x, memory, "
                      "mask=src_mask). You attended to the decoder's own words a second time.",
    "no_src_mask": "Pass src_mask to the cross-attention: the decoder must not look at the source's padding.",
    "pre_ln": "That is pre-LN. This exercise is the paper's post-LN: x = norm1(x + self_attn(x, …)), then "
              "norm2(x + cross_attn(x, memory, …)), then norm3(x + ff(x)).",
    "cross_first": "First the causal self-attention, then the cross-attention, then the feed-forward network.",
}
DECODER_HINTS_JA = {
    "no_causal": "デコーダの Self-Attention には因果マスクが必要です（mask=causal_mask(T, x.device)）。単語 t を"
                 "書いているときに、それより後の単語を見てはいけません。",
    "anti_causal": "因果マスクは下三角です（causal_mask(T)）。各単語が見るのは自分自身と過去です。あなたのマスクでは、"
                   "代わりに未来が見えています。",
    "self_not_cross": "Cross-Attention のキーとバリューはエンコーダから取ります：self.cross_attn(x, memory, "
                      "mask=src_mask)。あなたの層は、デコーダ自身の単語にもう一度注意を向けています。",
    "no_src_mask": "Cross-Attention に src_mask を渡します。デコーダは、ソースのパディングを見てはいけません。",
    "pre_ln": "それは pre-LN です。この演習は論文の post-LN です：x = norm1(x + self_attn(x, …))、続いて "
              "norm2(x + cross_attn(x, memory, …))、最後に norm3(x + ff(x)) です。",
    "cross_first": "まず因果的 Self-Attention、次に Cross-Attention、最後にフィードフォワードネットワークの順です。",
}


@check("DecoderLayer", cases=decoder_cases, kind="module", twin=f"{_LIB}:DecoderLayer")
def decoder_verify(case: Case, value) -> str | None:
    d, h, ff = case.args
    x, memory, src_mask = case.inputs
    x_shape, m_shape, padding = tuple(x.shape), tuple(memory.shape), int((~src_mask).sum())
    what = tr(f"DecoderLayer({d}, {h}, {ff})(x of shape {x_shape}, memory of shape {m_shape}, "
                f"src_mask with {padding} padding position(s))",
                f"DecoderLayer({d}, {h}, {ff})(形 {x_shape} の x、形 {m_shape} の memory、"
                f"パディングが {padding} か所の src_mask)")
    return _with_hint(value, _decoder(case), what, {tr(hint, DECODER_HINTS_JA[mistake]):
                                                    lambda m=mistake: _decoder(case, m)
                                                    for mistake, hint in DECODER_HINTS.items()})


# -- decoder_input_and_labels -------------------------------------------------------------------------

def io_cases(rng: random.Random) -> list[Case]:
    cases = []
    for length, bos, eos in ((4, 1, 2), (6, 1, 2), (1, 1, 2), (0, 1, 2), (5, rng.randint(3, 9), rng.randint(10, 19))):
        target = [rng.randint(20, 60) for _ in range(length)]
        cases.append(Case((target, bos, eos)))
    return cases


def _as_ids(value):
    if hasattr(value, "tolist") and not isinstance(value, Unsupported):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return [int(i) for i in value]
    return None


@check("decoder_input_and_labels", cases=io_cases)
def io_verify(case: Case, value) -> str | None:
    target, bos, eos = case.args
    what = f"decoder_input_and_labels({show(target)}, bos_id={bos}, eos_id={eos})"
    if (problem := type_problem(value, (tuple, list), what)) is not None:
        return problem + more(tr("Return a pair: (decoder_input, labels).", "ペア (decoder_input, labels) を返してください。"))
    if len(value) != 2:
        return tr(f"{what} returned {len(value)} things; expected a pair (decoder_input, labels).",
                    f"{what} が {len(value)} 個のものを返しました。返すのはペア (decoder_input, labels) です。")
    got_in, got_labels = _as_ids(value[0]), _as_ids(value[1])
    want_in, want_labels = [bos] + target, target + [eos]
    if got_in is None or got_labels is None:
        return tr(f"{what} returned {show(value)}; expected two lists of ints, {want_in} and {want_labels}.",
                    f"{what} が {show(value)} を返しました。返すのは int のリスト 2 つ、{want_in} と {want_labels} です。")
    if (got_in, got_labels) == (want_in, want_labels):
        return None
    hint = ""
    if (got_in, got_labels) == (want_labels, want_in):
        hint = more(tr("You swapped them: the decoder reads <s> + the sentence, and must predict the sentence + </s>.",
                       "2 つが逆です。デコーダは <s> + 文を読んで、文 + </s> を予測します。"))
    elif got_labels == target:
        hint = more(tr("The labels end with </s>: the decoder must learn when to stop.",
                       "ラベルの最後は </s> です。デコーダは、いつ止まるかも学ばなければなりません。"))
    elif got_in == [bos] + target + [eos]:
        hint = more(tr("The decoder input has no </s>: it is the labels shifted right by one, so both have the same length.",
                       "デコーダの入力に </s> は入りません。入力はラベルを右に 1 つずらしたものなので、2 つの長さは同じです。"))
    elif got_labels == [bos] + target + [eos] or got_labels == [bos] + target:
        hint = more(tr("The labels do not start with <s>: nobody has to predict <s>, it is given.",
                       "ラベルは <s> で始まりません。<s> は与えられるもので、予測するものではありません。"))
    elif len(got_in) != len(got_labels):
        hint = more(tr("Both lists have the same length: position t of the input predicts position t of the labels.",
                       "2 つのリストの長さは同じです。入力の位置 t から、ラベルの位置 t を予測します。"))
    return expected_got(what, f"({want_in}, {want_labels})", f"({got_in}, {got_labels})") + hint


# -- greedy_decode --------------------------------------------------------------------------------

def _greedy_table(g: torch.Generator, V: int, bos: int, eos: int, eos_at: int | None, max_len: int) -> dict:
    """A decoder as a table {prefix: scores (V,)}: along the greedy path, </s> wins at step eos_at (or never),
    and the table goes on a little past the end so off-by-one answers get a value to compare."""
    table, prefix = {}, (bos,)
    for step in range(max_len + 2):
        scores = torch.randn(V, generator=g)
        scores[bos] = scores.min() - 1.0                        # like a trained decoder: <s> is never written
        others = [i for i in range(V) if i not in (bos, eos)]
        best = max(scores[i].item() for i in others)
        scores[eos] = best + 1.0 if step == eos_at else best - 1.0 - torch.rand(1, generator=g).item()
        table[prefix] = scores
        prefix += (int(scores.argmax()),)
    return table


def _greedy(table: dict, bos: int, eos: int, max_len: int) -> list[int]:
    prefix, out = (bos,), []
    for _ in range(max_len):
        next_id = int(torch.as_tensor(table[prefix]).argmax())
        if next_id == eos:
            break
        prefix += (next_id,)
        out.append(next_id)
    return out


def greedy_cases(rng: random.Random) -> list[Case]:
    cases = []
    bos2 = rng.randint(3, 9)
    eos2 = rng.choice([i for i in range(10) if i != bos2])
    for V, bos, eos, eos_at, max_len in ((8, 1, 2, 3, 10), (8, 1, 2, None, 4), (6, 1, 2, 0, 5),
                                         (10, bos2, eos2, 5, 8), (8, 1, 2, 2, 2)):
        table = _greedy_table(_generator(rng), V, bos, eos, eos_at, max_len)
        cases.append(Case((table, bos, eos, max_len)))
    return cases


@check("greedy_decode", cases=greedy_cases, twin=f"{_LIB}:Transformer.generate")
def greedy_verify(case: Case, value) -> str | None:
    table, bos, eos, max_len = case.args
    table_text = tr("<a decoder table>", "<デコーダの表>")
    what = f"greedy_decode({table_text}, bos_id={bos}, eos_id={eos}, max_len={max_len})"
    if (problem := type_problem(value, (list, tuple, torch.Tensor), what)) is not None:
        return problem + more(tr("Return the list of word ids you generated.", "生成した単語 ID のリストを返してください。"))
    got = _as_ids(value)
    if got is None:
        return tr(f"{what} returned {show(value)}; expected a list of ints (use int(...) on each argmax).",
                    f"{what} が {show(value)} を返しました。返すのは int のリストです（argmax のそれぞれに int(...) を"
                    "使います）。")
    expected = _greedy(table, bos, eos, max_len)
    if got == expected:
        return None
    hint = ""
    if got == [bos] + expected:
        hint = more(tr("Return only the generated words, without the <s> you started from.",
                       "出発点の <s> は含めずに、生成した単語だけを返します。"))
    elif got == expected + [eos]:
        hint = more(tr("Stop when the next word is </s>, and do not include it.",
                       "次の単語が </s> になったら止めます。</s> は含めません。"))
    elif eos in got:
        hint = more(tr("Stop as soon as the decoder's best next word is </s>.",
                       "デコーダがいちばん良いとする次の単語が </s> になったら、すぐに止めます。"))
    elif len(got) > max_len:
        hint = more(tr(f"Generate at most max_len={max_len} words.", f"生成する単語は最大で max_len={max_len} 個です。"))
    elif got == expected[:-1] and len(expected) == max_len:
        hint = more(tr(f"You stopped one word early: max_len={max_len} words are allowed.",
                       f"1 語早く止まっています。max_len={max_len} 個まで生成してかまいません。"))
    elif got[:1] != expected[:1]:
        hint = more(tr("The first word is the best-scoring one after (bos_id,): scores[(bos_id,)].argmax(). Take the "
                       "largest score (argmax), and look up the whole prefix, as a tuple, each time.",
                       "最初の単語は、(bos_id,) のあとでスコアがいちばん高い単語、scores[(bos_id,)].argmax() です。"
                       "スコアがいちばん大きいもの（argmax）をとり、毎回、それまでの単語の並び全体をタプルにして引きます。"))
    return expected_got(what, f"{expected}", f"{got}") + hint
