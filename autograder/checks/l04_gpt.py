"""Hidden checks for lesson 04 · GPT (slides 12–15, 21, 25, 37–39)."""

from __future__ import annotations

import random

import torch

from autograder.checks import (
    Case,
    array_problem,
    call_text,
    check,
    expected_got,
    more,
    show,
    type_problem,
)
from autograder.checks import generator as _generator
from shikumi import gpt
from shikumi.attention import causal_mask
from shikumi.lang import tr

_LIB = "shikumi.gpt"  # the library's own solutions: calling them scores 0


# -- Block (pre-LN, causal) ---------------------------------------------------------------------------

def _random_state(block: gpt.Block, g: torch.Generator) -> dict:
    state = {}
    for name, p in block.state_dict().items():
        scale = 0.3 if p.dim() > 1 else 0.1
        base = 1.0 if name.endswith(("ln_1.weight", "ln_2.weight")) else 0.0
        state[name] = (base + scale * torch.randn(p.shape, generator=g)).float()
    return state


def block_cases(rng: random.Random) -> list[Case]:
    cases = []
    for d_model, n_head, B, T in ((16, 2, 2, 5), (24, 4, 1, 7), (12, 3, 2, 1)):
        g = _generator(rng)
        state = _random_state(gpt.Block(d_model, n_head), g)
        x = torch.randn(B, T, d_model, generator=g)
        cases.append(Case((d_model, n_head), state=state, inputs=(x,)))
    return cases


def _block_variants(d_model: int, n_head: int, state: dict, x: torch.Tensor) -> dict[str, torch.Tensor]:
    b = gpt.Block(d_model, n_head)
    b.load_state_dict(state)
    b.eval()
    T = x.size(1)
    mask = causal_mask(T)
    with torch.no_grad():
        post = gpt.Block(d_model, n_head, prenorm=False)
        post.load_state_dict(state)
        post.eval()
        no_mask = x + b.attn(b.ln_1(x))
        no_mask = no_mask + b.mlp(b.ln_2(no_mask))
        a = b.attn(b.ln_1(x), mask=mask)
        no_residual = b.mlp(b.ln_2(a))
        one_residual = x + a
        one_residual = b.mlp(b.ln_2(one_residual))
        attn_only = x + a
        same_norm = x + b.attn(b.ln_1(x), mask=mask)
        same_norm = same_norm + b.mlp(b.ln_1(same_norm))
        return {
            tr("That is post-LN (GPT-1): LayerNorm after adding. Pre-LN normalises what goes INTO attention and "
                 "the MLP: x = x + attn(ln_1(x), mask); x = x + mlp(ln_2(x)).",
                 "それは post-LN（GPT-1）で、足したあとに LayerNorm をかけています。pre-LN では、attention と MLP に"
                 "「入る」ものを正規化します：x = x + attn(ln_1(x), mask)、x = x + mlp(ln_2(x)) です。"): post(x),
            tr("The attention can see the future: pass mask=causal_mask(T, device=x.device) to self.attn.",
                 "attention から未来が見えています。self.attn に mask=causal_mask(T, device=x.device) を渡します。"):
                no_mask,
            tr("The residual connections are missing: add the input back, x = x + ….",
                 "残差接続がありません。入力を足し戻します：x = x + … です。"): no_residual,
            tr("The MLP's residual connection is missing: x = x + self.mlp(self.ln_2(x)).",
                 "MLP の残差接続がありません：x = x + self.mlp(self.ln_2(x)) です。"): one_residual,
            tr("The MLP step is missing: after attention, x = x + self.mlp(self.ln_2(x)).",
                 "MLP のステップがありません。attention のあとで x = x + self.mlp(self.ln_2(x)) です。"): attn_only,
            tr("The MLP gets its own LayerNorm: use self.ln_2 before self.mlp (ln_1 is for attention).",
                 "MLP には専用の LayerNorm があります。self.mlp の前には self.ln_2 を使います（ln_1 は attention 用"
                 "です）。"): same_norm,
        }


@check("Block", cases=block_cases, kind="module", twin=f"{_LIB}:Block")
def block_verify(case: Case, value) -> str | None:
    d_model, n_head = case.args
    (x,) = case.inputs
    shape = tuple(x.shape)
    what = tr(f"Block({d_model}, {n_head})(x of shape {shape})", f"Block({d_model}, {n_head})(形 {shape} の x)")
    block = gpt.Block(d_model, n_head)
    block.load_state_dict(case.state)
    block.eval()
    with torch.no_grad():
        expected = block(x)
    problem = array_problem(value, expected, what)
    if problem is None:
        return None
    if not _values_differ(value, expected):
        return problem
    got = torch.as_tensor(value).double()
    for hint, wrong in _block_variants(d_model, n_head, case.state, x).items():
        if got.shape == wrong.shape and torch.allclose(got, wrong.double(), rtol=1e-4, atol=1e-5):
            return problem + more("") + hint
    return problem


def _values_differ(value, expected) -> bool:
    """True when array_problem complained about the values (a tensor of the right shape, no stray NaN), not
    about what came back: only then can a wrong variant explain it."""
    if not (hasattr(value, "shape") and tuple(value.shape) == tuple(expected.shape)):
        return False
    got = torch.as_tensor(value).double()
    return not torch.isnan(got).any() or bool(torch.isnan(expected).any())


# -- count_parameters ------------------------------------------------------------------------------

def _config(rng: random.Random, prenorm: bool) -> dict:
    n_head = rng.choice([1, 2, 4])
    return gpt.config_dict(gpt.GPTConfig(vocab_size=rng.randint(20, 300), block_size=rng.randint(8, 128),
                                         n_layer=rng.randint(1, 6), n_head=n_head,
                                         d_model=n_head * rng.randint(2, 16), prenorm=prenorm))


def count_cases(rng: random.Random) -> list[Case]:
    cases = [Case((_config(rng, True),)), Case((_config(rng, True),)), Case((_config(rng, False),))]
    cases += [Case((gpt.config_dict(gpt.GPTConfig.preset(name)),)) for name in ("gpt1", "gpt2-xl", "gpt3")]
    return cases


def _count_variants(c: dict) -> dict[str, int]:
    """Wrong counts a learner may arrive at, each with the hint that explains it."""
    d, V, T, L = c["d_model"], c["vocab_size"], c["block_size"], c["n_layer"]
    ln_f = 2 * d if c["prenorm"] else 0
    right = gpt.num_parameters(gpt.GPTConfig(**c))
    per_layer = 12 * d * d + 13 * d
    return {
        tr("The output layer shares the token embedding's matrix (tied embeddings): count V·d only once.",
             "出力層はトークン埋め込みと行列を共有しています（重み共有）。V·d は 1 回だけ数えます。"): right + V * d,
        tr("Don't forget the learned position embedding: block_size · d_model more.",
             "学習する位置埋め込みも数えます。block_size · d_model 個増えます。"): right - T * d,
        tr("Every Linear layer has a bias too (attention: 4·d, MLP: 4·d + d).",
             "どの Linear 層にもバイアスがあります（attention：4·d、MLP：4·d + d）。"): right - L * 9 * d,
        tr("Each LayerNorm has a scale and a shift (2·d_model), two per Block.",
             "LayerNorm にはそれぞれスケールとシフト（2·d_model）があり、Block ごとに 2 つあります。"): right - L * 4 * d,
        tr("The final LayerNorm exists only with prenorm=True (GPT-1's post-LN has none).",
             "最後の LayerNorm があるのは prenorm=True のときだけです（GPT-1 の post-LN にはありません）。"):
            right + (-ln_f if c["prenorm"] else 2 * d),
        tr("The MLP widens to 4·d_model: d·4d + 4d + 4d·d + d.",
             "MLP は 4·d_model に広がります：d·4d + 4d + 4d·d + d です。"): right - L * (6 * d * d + 3 * d),
        tr("Attention has four projections, q, k, v and out: 4·(d² + d).",
             "attention には q, k, v, out の 4 つの射影があります：4·(d² + d) です。"): right - L * (d * d + d),
        tr("Multiply the per-Block count by n_layer.", "Block 1 つ分の数に n_layer を掛けます。"):
            right - (L - 1) * per_layer,
    }


@check("count_parameters", cases=count_cases, twin=(f"{_LIB}:num_parameters", f"{_LIB}:GPT.num_parameters"))
def count_verify(case: Case, value) -> str | None:
    (config,) = case.args
    what = f"count_parameters({{n_layer={config['n_layer']}, d_model={config['d_model']}, "\
           f"vocab_size={config['vocab_size']}, block_size={config['block_size']}, prenorm={config['prenorm']}, …}})"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if (problem := type_problem(value, int, what)) is not None:
        return problem + more(tr("Return a whole number (an int).", "整数（int）を返してください。"))
    expected = gpt.num_parameters(gpt.GPTConfig(**config))
    if value == expected:
        return None
    hint = next((h for h, wrong in _count_variants(config).items() if wrong == value and wrong != expected), "")
    if not hint and config["n_head"] > 1 and value == expected * config["n_head"]:
        hint = tr("The heads split d_model between them: n_head adds no parameters.",
                    "ヘッドは d_model を分け合うだけなので、n_head でパラメータは増えません。")
    return expected_got(what, f"{expected:,}", f"{value:,}") + (more("") + hint if hint else "")


# -- next_token_probs -----------------------------------------------------------------------------------

def probs_cases(rng: random.Random) -> list[Case]:
    cases = []
    for temperature, top_k in ((1.0, None), (0.5, None), (2.0, 3), (0.8, 1), (0, None), (1.5, 5)):
        V = rng.randint(6, 12)
        logits = (torch.randn(V, generator=_generator(rng)) * 2).float()
        cases.append(Case((logits, temperature, top_k)))
    return cases


def _probs_variants(logits: torch.Tensor, temperature: float, top_k) -> dict[str, torch.Tensor]:
    V = logits.numel()
    out = {}
    if temperature:
        out[tr("Divide the logits by the temperature (you multiplied).",
                 "ロジットは温度で、掛けるのではなく割ります。")] = gpt.next_token_probs(logits * temperature, 1.0, top_k)
        out[tr("Softmax turns logits into probabilities: you returned the (scaled) logits.",
                 "softmax でロジットを確率に変えます。返したのは（スケールした）ロジットです。")] = logits / temperature
        keep = tr(f"Keep exactly the top_k={top_k} largest logits", f"大きいほうから top_k={top_k} 個のロジットをちょうど残します")
        if top_k is not None and 1 < top_k < V:
            out[keep + tr(" (you kept one too few).", "（1 個少なく残しています）。")] = gpt.next_token_probs(
                logits, temperature, top_k - 1)
        if top_k is not None and top_k + 1 < V:
            out[keep + tr(" (you kept one too many).", "（1 個多く残しています）。")] = gpt.next_token_probs(
                logits, temperature, top_k + 1)
        if top_k is not None and top_k < V:
            full = gpt.next_token_probs(logits, temperature)
            kth = torch.topk(full, top_k).values[-1]
            out[tr("Set the other logits to -inf BEFORE the softmax, so the kept probabilities sum to 1 "
                     "(you zeroed probabilities after it).",
                     "残りのロジットは softmax の「前」に -inf にします。そうすれば、残した確率の合計が 1 になります"
                     "（softmax のあとで確率を 0 にしています）。")] = torch.where(full >= kth, full, torch.zeros_like(full))
        if top_k is not None:
            out[tr("Apply top_k: every token outside the k largest logits gets probability 0.",
                     "top_k を適用します。ロジットの大きいほうから k 個に入らないトークンの確率は 0 です。")] = \
                gpt.next_token_probs(logits, temperature)
        if temperature != 1:
            out[tr("Divide by the temperature before the softmax.", "softmax の前に温度で割ります。")] = \
                gpt.next_token_probs(logits, 1.0, top_k)
    return out


@check("next_token_probs", cases=probs_cases, twin=f"{_LIB}:next_token_probs")
def probs_verify(case: Case, value) -> str | None:
    logits, temperature, top_k = case.args
    what = call_text("next_token_probs", case)
    if temperature == 0 and isinstance(value, int) and not isinstance(value, bool):
        V, best = logits.numel(), int(logits.argmax())
        return tr(f"{what}: return the probabilities, not the token: a tensor of shape ({V},) with 1.0 "
                    f"at the argmax ({best}) and 0.0 everywhere else.",
                    f"{what}：トークンではなく確率を返します。形 ({V},) のテンソルで、argmax（{best}）の位置が 1.0、"
                    "ほかはすべて 0.0 です。")
    expected = gpt.next_token_probs(logits, temperature, top_k)
    problem = array_problem(value, expected, what)
    if problem is None:
        return None
    if not _values_differ(value, expected):
        if temperature == 0 and "NaN" in problem:
            problem += more(tr("temperature=0 means greedy: don't divide by 0, put all the probability on the argmax.",
                               "temperature=0 は貪欲法です。0 で割らずに、確率をすべて argmax に置きます。"))
        return problem
    got = torch.as_tensor(value).double()
    for hint, wrong in _probs_variants(logits, temperature, top_k).items():
        if torch.allclose(got, wrong.double(), rtol=1e-4, atol=1e-5):
            return problem + more("") + hint
    if temperature == 0:
        return problem + more(tr("temperature=0 means greedy: probability 1.0 at the argmax, 0.0 everywhere else.",
                                 "temperature=0 は貪欲法です。argmax の確率が 1.0、ほかはすべて 0.0 です。"))
    if abs(got.sum().item() - 1) > 1e-3:
        total = f"{got.sum().item():.4g}"
        return problem + more(tr(f"The probabilities should sum to 1; yours sum to {total}.",
                                 f"確率の合計は 1 になるはずですが、あなたの答えでは {total} です。"))
    return problem


# -- build_chat_prompt -----------------------------------------------------------------------------

SPEAKERS = ["ROMEO", "JULIET", "HAMLET", "OPHELIA", "MACBETH", "LADY MACBETH", "OTHELLO", "IAGO", "LEAR"]
LINES = ["Good morrow, my lord.", "What light through yonder window breaks?", "To be, or not to be.",
         "Is this a dagger which I see before me?", "Speak, I am bound to hear.", "O, I am fortune's fool!",
         "Get thee to a nunnery.", "Nothing will come of nothing.", "Fair is foul, and foul is fair.",
         "I will wear my heart upon my sleeve.", "The rest is silence.", "What's in a name?"]


def reference_prompt(turns, next_speaker: str, block_size: int, strict: bool = False) -> str:
    """All the turns, then the next speaker's name; drop the oldest whole turns until it fits in block_size
    characters; if not even the newest turn fits, the last block_size characters. strict: the classic slip of
    `len(prompt) < block_size`, which drops a turn from a prompt exactly block_size long."""
    parts = [f"{speaker}\n{line}\n\n" for speaker, line in turns]
    header = f"{next_speaker}\n"
    for start in range(len(parts)):
        prompt = "".join(parts[start:]) + header
        if len(prompt) < block_size or len(prompt) == block_size and not strict:
            return prompt
    return ("".join(parts) + header)[-block_size:]


def _turns(rng: random.Random, n: int) -> list[tuple[str, str]]:
    a, b = rng.sample(SPEAKERS, 2)
    return [((a, b)[i % 2], rng.choice(LINES)) for i in range(n)]


def chat_cases(rng: random.Random) -> list[Case]:
    cases = []
    turns = _turns(rng, 2)                                    # everything fits
    cases.append(Case((turns, turns[0][0], 200)))
    turns = _turns(rng, 5)                                    # the oldest turns must go
    full = len(reference_prompt(turns, turns[-2][0], 10**6))
    cases.append(Case((turns, turns[-2][0], full - rng.randint(30, 60))))
    turns = _turns(rng, 3)                                    # exactly fits: nothing is dropped
    cases.append(Case((turns, turns[1][0], len(reference_prompt(turns, turns[1][0], 10**6)))))
    turns = _turns(rng, 3)                                    # not even the newest turn fits: a character cut
    cases.append(Case((turns, turns[1][0], rng.randint(12, 18))))
    cases.append(Case(([], rng.choice(SPEAKERS), 64)))        # no history yet
    return cases


@check("build_chat_prompt", cases=chat_cases)
def chat_verify(case: Case, value) -> str | None:
    turns, next_speaker, block_size = case.args
    what = call_text("build_chat_prompt", case)
    if (problem := type_problem(value, str, what)) is not None:
        return problem
    expected = reference_prompt(turns, next_speaker, block_size)
    if value == expected:
        return None
    full = "".join(f"{s}\n{t}\n\n" for s, t in turns) + f"{next_speaker}\n"
    hint = ""
    if len(value) > block_size:
        hint = more(tr(f"The prompt must fit the context window: at most block_size={block_size} characters, "
                       f"got {len(value)}.",
                       f"プロンプトはコンテキストウィンドウに収まるようにします。最大 block_size={block_size} 文字ですが、"
                       f"{len(value)} 文字あります。"))
    elif value == full[:block_size]:
        hint = more(tr("You kept the beginning: the model needs the newest turns, so drop from the front (the oldest).",
                       "先頭を残しています。モデルに必要なのは新しい発言なので、先頭（いちばん古い発言）から捨てます。"))
    elif value == full[-block_size:]:
        hint = more(tr("Drop whole turns (the oldest first) rather than cutting a turn in the middle.",
                       "発言を途中で切らずに、発言を丸ごと（いちばん古いものから）捨てます。"))
    elif value == reference_prompt(turns, next_speaker, block_size, strict=True):
        hint = more(tr(f"A prompt of exactly block_size={block_size} characters fits: compare len(prompt) <= block_size, "
                       "not <, so no turn is dropped that fits.",
                       f"ちょうど block_size={block_size} 文字のプロンプトは収まります。len(prompt) < block_size ではなく "
                       "<= で比べれば、収まる発言を捨てずに済みます。"))
    elif value == full[block_size:]:
        hint = more(tr("full[block_size:] drops the first block_size characters; the last block_size characters are "
                       "full[-block_size:].",
                       "full[block_size:] は最初の block_size 文字を捨てたものです。最後の block_size 文字は "
                       "full[-block_size:] です。"))
    elif value in (full[-block_size + 1:], full[-block_size - 1:]):
        hint = more(tr(f"Off by one: keep exactly the last block_size={block_size} characters, full[-block_size:] "
                       f"(you kept {len(value)}).",
                       f"1 つずれています。最後のちょうど block_size={block_size} 文字、full[-block_size:] を残します"
                       f"（{len(value)} 文字になっています）。"))
    elif not value.endswith(f"{next_speaker}\n"):
        last = repr(next_speaker + "\n")
        hint = more(tr(f"End with the next speaker's name on its own line, {last}, so the model answers as them.",
                       f"最後は、次の話者の名前だけの行 {last} にします。そうすれば、モデルはその話者として答えます。"))
    else:
        hint = _first_difference(expected, value)
    return expected_got(what, show(expected, 200), show(value, 200)) + hint


def _first_difference(expected: str, value: str) -> str:
    """No known mistake matches: where the two texts part, to compare them there."""
    i = next((k for k, (a, b) in enumerate(zip(expected, value)) if a != b), min(len(expected), len(value)))
    want, got = show(expected[i:i + 15], 40), show(value[i:i + 15], 40)
    return more(tr(f"Compare the two texts: the expected one has {len(expected)} characters, yours {len(value)}; they "
                   f"first differ at character {i} (expected {want}, got {got}). Each turn is speaker + '\\n' + text "
                   "+ '\\n\\n', and whole turns go from the front.",
                   f"2 つの文字列を比べてみましょう。期待される文字列は {len(expected)} 文字、あなたの文字列は "
                   f"{len(value)} 文字で、{i} 文字目から違います（期待されるのは {want}、返ってきたのは {got} です）。"
                   "発言 1 つは speaker + '\\n' + text + '\\n\\n' で、捨てるときは先頭から発言を丸ごと捨てます。"))
