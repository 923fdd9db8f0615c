"""Hidden checks for lesson 03 · Transformer encoder–decoder (slides 19–20, 26–31, 35–36).

The right answers come from shikumi.transformer (the library the lesson's own model is built from); the classic
mistakes are computed here with the same weights, so a wrong answer can be told which mistake it looks like.
"""

from __future__ import annotations

import random

import torch

from autograder.checks import Case, Check, show, type_problem
from autograder.checks import generator as _generator
from autograder.checks import with_hint as _with_hint
from autograder.plain import Unsupported
from shikumi.attention import causal_mask
from shikumi.transformer import DecoderLayer, EncoderLayer

# -- Exercise 3.1: positional_encoding -------------------------------------------------------------

def _pe(T: int, d: int, mistake: str = "") -> torch.Tensor:
    pos = torch.arange(T, dtype=torch.float64)[:, None] + (1 if mistake == "from_one" else 0)   # (T, 1)
    two_i = torch.arange(0, d, 2, dtype=torch.float64)                                         # (d/2,)
    if mistake == "i_not_2i":
        angle = pos / 10000 ** (two_i / 2 / d)
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
    "column_exponent": "both columns of a pair (2i and 2i+1) share one angle, pos / 10000^(2i / d_model); your odd "
                       "columns used (2i+1) / d_model.",
    "times": "divide the position by 10000^(2i / d_model); you multiplied.",
    "from_one": "positions count from 0, so the first row is sin(0) = 0 and cos(0) = 1.",
}


def pe_cases(rng: random.Random) -> list[Case]:
    return [Case((5, 8)), Case((12, 16)), Case((1, 4)),
            Case((rng.randint(3, 20), 2 * rng.randint(3, 16))), Case((rng.randint(30, 50), 64))]


def pe_verify(case: Case, value) -> str | None:
    T, d = case.args
    what = f"positional_encoding({T}, {d})"
    return _with_hint(value, _pe(T, d), what, {f"It looks like {hint}": lambda m=mistake: _pe(T, d, m)
                                               for mistake, hint in PE_HINTS.items()}, atol=1e-4)


# -- Exercises 3.2 and 3.3: EncoderLayer and DecoderLayer (kind "module") --------------------------

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


def encoder_verify(case: Case, value) -> str | None:
    d, h, ff = case.args
    x, mask = case.inputs
    what = (f"EncoderLayer({d}, {h}, {ff})(x of shape {tuple(x.shape)}, mask with "
            f"{int((~mask).sum())} padding position(s))")
    return _with_hint(value, _encoder(case), what, {hint: lambda m=mistake: _encoder(case, m)
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


def decoder_verify(case: Case, value) -> str | None:
    d, h, ff = case.args
    x, memory, src_mask = case.inputs
    what = (f"DecoderLayer({d}, {h}, {ff})(x of shape {tuple(x.shape)}, memory of shape {tuple(memory.shape)}, "
            f"src_mask with {int((~src_mask).sum())} padding position(s))")
    return _with_hint(value, _decoder(case), what, {hint: lambda m=mistake: _decoder(case, m)
                                                    for mistake, hint in DECODER_HINTS.items()})


# -- Exercise 3.4: decoder_input_and_labels -----------------------------------------------------------

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


def io_verify(case: Case, value) -> str | None:
    target, bos, eos = case.args
    what = f"decoder_input_and_labels({show(target)}, bos_id={bos}, eos_id={eos})"
    if (problem := type_problem(value, (tuple, list), what)) is not None:
        return problem + " Return a pair: (decoder_input, labels)."
    if len(value) != 2:
        return f"{what} returned {len(value)} things; expected a pair (decoder_input, labels)."
    got_in, got_labels = _as_ids(value[0]), _as_ids(value[1])
    want_in, want_labels = [bos] + target, target + [eos]
    if got_in is None or got_labels is None:
        return f"{what} returned {show(value)}; expected two lists of ints, {want_in} and {want_labels}."
    if (got_in, got_labels) == (want_in, want_labels):
        return None
    hint = ""
    if (got_in, got_labels) == (want_labels, want_in):
        hint = " You swapped them: the decoder reads <s> + the sentence, and must predict the sentence + </s>."
    elif got_labels == target:
        hint = " The labels end with </s>: the decoder must learn when to stop."
    elif got_in == [bos] + target + [eos]:
        hint = " The decoder input has no </s>: it is the labels shifted right by one, so both have the same length."
    elif got_labels == [bos] + target + [eos] or got_labels == [bos] + target:
        hint = " The labels do not start with <s>: nobody has to predict <s>, it is given."
    elif len(got_in) != len(got_labels):
        hint = " Both lists have the same length: position t of the input predicts position t of the labels."
    return f"{what}: expected ({want_in}, {want_labels}), got ({got_in}, {got_labels}).{hint}"


# -- Exercise 3.5: greedy_decode ------------------------------------------------------------------

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


def greedy_verify(case: Case, value) -> str | None:
    table, bos, eos, max_len = case.args
    what = f"greedy_decode(<a decoder table>, bos_id={bos}, eos_id={eos}, max_len={max_len})"
    if (problem := type_problem(value, (list, tuple, torch.Tensor), what)) is not None:
        return problem + " Return the list of word ids you generated."
    got = _as_ids(value)
    if got is None:
        return f"{what} returned {show(value)}; expected a list of ints (use int(...) on each argmax)."
    expected = _greedy(table, bos, eos, max_len)
    if got == expected:
        return None
    hint = ""
    if got == [bos] + expected:
        hint = " Return only the generated words, without the <s> you started from."
    elif got == expected + [eos]:
        hint = " Stop when the next word is </s>, and do not include it."
    elif eos in got:
        hint = " Stop as soon as the decoder's best next word is </s>."
    elif len(got) > max_len:
        hint = f" Generate at most max_len={max_len} words."
    elif got == expected[:-1] and len(expected) == max_len:
        hint = f" You stopped one word early: max_len={max_len} words are allowed."
    elif got[:1] != expected[:1]:
        hint = (" The first word is the best-scoring one after (bos_id,): scores[(bos_id,)].argmax(). Take the "
                "largest score (argmax), and look up the whole prefix, as a tuple, each time.")
    return f"{what}: expected {expected}, got {got}.{hint}"


CHECKS = {
    "positional_encoding": Check("positional_encoding", pe_cases, pe_verify),
    "EncoderLayer": Check("EncoderLayer", encoder_cases, encoder_verify, kind="module"),
    "DecoderLayer": Check("DecoderLayer", decoder_cases, decoder_verify, kind="module"),
    "decoder_input_and_labels": Check("decoder_input_and_labels", io_cases, io_verify),
    "greedy_decode": Check("greedy_decode", greedy_cases, greedy_verify),
}
