"""Hidden checks for lesson 10 · From GPT to ChatGPT: fine-tuning and preference tuning (slides 12–15, 37–38)."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from autograder.checks import (
    Case,
    array_problem,
    call_text,
    check,
    first_hint,
    generator,
    more,
    randn,
    shape_problem,
    show,
    tensor_problem,
    type_problem,
)
from autograder.plain import Unsupported
from shikumi import finetune, preference
from shikumi.lang import tr

IGNORE = finetune.IGNORE
VOCAB = 82   # lesson 04's characters


# -- sft_inputs_and_targets -----------------------------------------------------------------------------------

def _ids(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(VOCAB) for _ in range(n)]


def masking_cases(rng: random.Random) -> list[Case]:
    cases = [Case((_ids(rng, rng.randint(4, 12)), _ids(rng, rng.randint(3, 8)))) for _ in range(3)]
    cases.append(Case((_ids(rng, rng.randint(4, 9)), _ids(rng, 1))))            # a one-token answer
    cases.append(Case((_ids(rng, 1), _ids(rng, rng.randint(2, 5))), edge=True))  # a one-token prompt: nothing masked
    return cases


def _targets(prompt, answer, masked: int) -> torch.Tensor:
    y = torch.tensor(list(prompt) + list(answer))[1:].clone()
    y[:max(0, masked)] = IGNORE
    return y


def _masking_variants(prompt, answer) -> list[tuple[torch.Tensor, str]]:
    """(a wrong y, the hint that names the slip) for the classic slips; y has the right length."""
    P = len(prompt)
    ids = torch.tensor(list(prompt) + list(answer))
    swapped = ids[1:].clone()
    swapped[P - 1:] = IGNORE
    zeros = ids[1:].clone()
    zeros[:P - 1] = 0
    return [
        (swapped, tr("You masked the answer and kept the prompt: IGNORE goes where the target is still the prompt's "
                       "(y[:P-1]), and the answer's tokens are the ones learnt.",
                       "答えを隠してプロンプトを残しています。IGNORE を入れるのは、目標がまだプロンプトの文字の位置（y[:P-1]）です。"
                       "学習するのは答えの文字のほうです。")),
        (_targets(prompt, answer, P), tr("One target too many is masked: y[P-1] is the answer's first token "
                                           "(answer_ids[0]) and must count. Mask y[:P-1], not y[:P].",
                                           "IGNORE が 1 つ多すぎます。y[P-1] は答えの最初の文字（answer_ids[0]）なので、"
                                           "損失に数えます。隠すのは y[:P] ではなく y[:P-1] です。")),
        (_targets(prompt, answer, P - 2), tr("One prompt token is still a target: y[P-2] is the prompt's last token "
                                               "(prompt_ids[-1]). Mask y[:P-1], not y[:P-2].",
                                               "プロンプトの文字が 1 つ、まだ目標に残っています。y[P-2] はプロンプトの最後の文字"
                                               "（prompt_ids[-1]）です。隠すのは y[:P-2] ではなく y[:P-1] です。")),
        (zeros, tr(f"Mask with IGNORE = {IGNORE}, the value cross_entropy skips (ignore_index); 0 is a real token id "
                     "that the model would be taught to predict.",
                     f"IGNORE = {IGNORE}（cross_entropy が飛ばす値、ignore_index）で隠します。0 は本物の文字 ID なので、"
                     "それを予測するように学習してしまいます。")),
        (ids[1:], tr("Nothing is masked: the model would also learn to write the user's question. Put IGNORE where "
                       "the target is the prompt's.",
                       "何も隠れていません。これではユーザーの質問を書くことまで学習してしまいます。目標がプロンプトの文字の"
                       "位置に IGNORE を入れます。")),
    ]


def _as_tensor(value):
    if torch.is_tensor(value):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        return None


@check("sft_inputs_and_targets", cases=masking_cases, twin="shikumi.finetune:sft_inputs_and_targets")
def masking_verify(case: Case, value) -> str | None:
    prompt, answer = case.args
    what = call_text("sft_inputs_and_targets", case)
    x_want, y_want = finetune.sft_inputs_and_targets(prompt, answer)
    n = len(prompt) + len(answer)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        if value is None or isinstance(value, Unsupported):
            return type_problem(value, tuple, what)
        return tr(f"{what} returned {show(value, 60)}; return two tensors, x and y (return x, y).",
                    f"{what} が {show(value, 60)} を返しました。x と y の 2 つのテンソルを返します（return x, y）。")
    x, y = (_as_tensor(v) for v in value)
    for name, got in (("x", x), ("y", y)):
        if got is None or got.dtype.is_floating_point or got.dtype == torch.bool:
            return tr(f"{what}: {name} should be a tensor of token ids (whole numbers, torch.long), got {show(value[0 if name == 'x' else 1], 60)}.",
                        f"{what}：{name} は文字 ID（整数、torch.long）のテンソルのはずですが、{show(value[0 if name == 'x' else 1], 60)} が返ってきました。")
    if tuple(x.shape) == (n,) or tuple(y.shape) == (n,):
        name, got = ("x", x) if tuple(x.shape) == (n,) else ("y", y)
        return shape_problem(f"{what}: {name}", (n - 1,), tuple(got.shape)) + more(
            tr("Shift by one: x = ids[:-1] (what the model reads), y = ids[1:] (the next token at every position).",
             "1 つずらします：x = ids[:-1]（モデルが読むもの）、y = ids[1:]（各位置の次の文字）。"))
    for name, got, want in (("x", x, x_want), ("y", y, y_want)):
        if tuple(got.shape) != tuple(want.shape):
            return shape_problem(f"{what}: {name}", tuple(want.shape), tuple(got.shape))
    if not torch.equal(x, x_want):
        if torch.equal(x, torch.tensor(list(prompt) + list(answer))[1:]):
            return tr(f"{what}: x is shifted the wrong way. x = ids[:-1] is what the model reads; y = ids[1:] is "
                        "what it should predict.",
                        f"{what}：x のずらす向きが逆です。x = ids[:-1] がモデルの読むもの、y = ids[1:] が予測すべきものです。")
        if (x == IGNORE).any():
            return tr(f"{what}: x holds {IGNORE}. Mask only the targets y: the model must still read the whole "
                        "prompt (and -100 is no token id).",
                        f"{what}：x に {IGNORE} が入っています。隠すのは目標 y だけです。モデルはプロンプトを全部読む必要があります"
                        "（それに -100 は文字 ID ではありません）。")
        return tr(f"{what}: x should be the prompt and the answer without the last token, {show(x_want.tolist())}, "
                    f"got {show(x.tolist())}.",
                    f"{what}：x はプロンプトと答えから最後の文字を除いたもの {show(x_want.tolist())} のはずですが、"
                    f"{show(x.tolist())} が返ってきました。")
    if torch.equal(y, y_want):
        return None
    hint = next((text for wrong, text in _masking_variants(prompt, answer) if torch.equal(y, wrong)), "")
    message = tr(f"{what}: y should be {show(y_want.tolist())}, got {show(y.tolist())}.",
                   f"{what}：y は {show(y_want.tolist())} のはずですが、{show(y.tolist())} が返ってきました。")
    return message + (more("") + hint if hint else "")


# -- sequence_logprob -----------------------------------------------------------------------------------------

def logprob_cases(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(3):
        g = generator(rng)
        B, T, V = rng.randint(2, 4), rng.randint(4, 8), rng.randint(5, 10)
        logits = randn(g, B, T, V, scale=2.0)
        targets = torch.randint(V, (B, T), generator=g)
        for b in range(B):                       # a prompt at the front and padding at the back, both IGNORE
            start, end = rng.randint(1, T - 2), rng.randint(T - 1, T)
            targets[b, :start], targets[b, end:] = IGNORE, IGNORE
        cases.append(Case((logits, targets)))
    g = generator(rng)
    logits, targets = randn(g, 2, 5, 6), torch.full((2, 5), IGNORE)
    targets[0, 2:] = torch.randint(6, (3,), generator=g)
    cases.append(Case((logits, targets), edge=True))   # the second row has no answer at all: 0
    return cases


def _logprob_variants(logits, targets) -> list[tuple[torch.Tensor, str]]:
    mask = targets != IGNORE
    safe = targets.clamp(min=0).unsqueeze(-1)
    logp = logits.double().log_softmax(-1)
    picked = logp.gather(-1, safe).squeeze(-1)
    count = mask.sum(-1).clamp(min=1)
    shifted = (logp[:, :-1].gather(-1, targets[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask[:, 1:]).sum(-1)
    return [
        ((logits.double().gather(-1, safe).squeeze(-1) * mask).sum(-1),
         tr("Those are raw logits: take log_softmax over the vocabulary first (dim=-1), then pick the targets.",
              "それは生のロジットです。先に語彙方向（dim=-1）で log_softmax をとってから、目標の値を取り出します。")),
        ((logits.double().softmax(-1).gather(-1, safe).squeeze(-1) * mask).sum(-1),
         tr("Those are probabilities: add their logarithms, log_softmax, not softmax.",
              "それは確率です。足すのはその対数、つまり softmax ではなく log_softmax です。")),
        ((picked * mask).sum(-1) / count,
         tr("Sum over the answer's tokens, don't average: log P(answer) = Σ log P(token).",
              "答えの文字について平均ではなく合計をとります：log P(答え) = Σ log P(文字)。")),
        (picked.sum(-1),
         tr(f"The IGNORE targets ({IGNORE}) must not count: multiply by the mask targets != {IGNORE} before summing.",
              f"IGNORE（{IGNORE}）の目標は数えません。合計する前にマスク targets != {IGNORE} を掛けます。")),
        (shifted,
         tr("Don't shift again: targets[b, t] is already the token that comes after position t, to be scored by "
              "logits[b, t].",
              "もう一度ずらさないでください。targets[b, t] はすでに位置 t の次の文字で、logits[b, t] で採点します。")),
        ((logits.double().log_softmax(1).gather(-1, safe).squeeze(-1) * mask).sum(-1),
         tr("log_softmax over the vocabulary, the last dimension (dim=-1), not over positions.",
              "log_softmax は位置方向ではなく、語彙方向（最後の次元、dim=-1）でとります。")),
    ]


@check("sequence_logprob", cases=logprob_cases, twin="shikumi.finetune:sequence_logprob")
def logprob_verify(case: Case, value) -> str | None:
    logits, targets = case.args
    what = f"sequence_logprob(logits {tuple(logits.shape)}, targets {tuple(targets.shape)})"
    if (problem := tensor_problem(value, what)) is not None:
        return problem
    expected = finetune.sequence_logprob(logits, targets)
    if tuple(value.shape) != tuple(expected.shape):
        hint = more(tr("One number per row: sum over the positions t (dim=-1), keep the batch.",
                       "行ごとに 1 つの数です。位置 t（dim=-1）について合計し、バッチの次元は残します。"))
        if value.dim() == 0:
            hint = more(tr("Keep one log-probability per answer, shape (B,): sum over t only, not over the batch too.",
                           "答えごとに 1 つの対数確率、形 (B,) を残します。合計するのは t についてだけで、バッチまで足さないこと。"))
        return shape_problem(what, tuple(expected.shape), tuple(value.shape)) + hint
    problem = array_problem(value, expected, what, atol=1e-4)
    if problem is None:
        return None
    return problem + first_hint(value, _logprob_variants(logits, targets))


# -- reward_model_loss ----------------------------------------------------------------------------------------

def reward_cases(rng: random.Random) -> list[Case]:
    cases = []
    for _ in range(3):
        g = generator(rng)
        B = rng.randint(3, 8)
        cases.append(Case((randn(g, B, scale=3.0), randn(g, B, scale=3.0))))
    g = generator(rng)
    chosen = randn(g, 4)
    rejected = chosen.clone()
    rejected[0] = chosen[0] + 120.0                     # one pair badly wrong: log σ(-120) must stay finite
    cases.append(Case((chosen, rejected)))
    same = randn(g, 3)
    cases.append(Case((same, same.clone()), edge=True))  # no preference at all: log 2
    return cases


def _reward_variants(chosen, rejected) -> list[tuple[torch.Tensor, str]]:
    d = (chosen - rejected).double()
    with torch.no_grad():
        naive = -torch.log(torch.sigmoid(d.float())).double().mean()
    return [
        (-F.logsigmoid(-d).mean(), tr("The sign is flipped: the loss must be small when the chosen answer's reward is "
                                        "the higher one, -log σ(r_chosen - r_rejected).",
                                        "符号が逆です。選ばれた答えの報酬が高いときに損失が小さくなるように："
                                        "-log σ(r_chosen - r_rejected)。")),
        (F.logsigmoid(d).mean(), tr("Don't forget the minus: log σ(·) is negative, and the loss is -log σ(·).",
                                      "マイナスを忘れずに。log σ(·) は負の数で、損失は -log σ(·) です。")),
        (-torch.sigmoid(d).mean(), tr("Take the logarithm: -log σ(margin), F.logsigmoid, not σ itself.",
                                        "対数をとります：σ そのものではなく -log σ(差)、F.logsigmoid です。")),
        (-F.logsigmoid(d).sum(), tr("Average over the pairs (.mean()), don't sum.",
                                      "ペアについて合計ではなく平均（.mean()）をとります。")),
        (naive, tr("torch.log(torch.sigmoid(x)) rounds to log(0) = -inf for a large negative x: use F.logsigmoid(x), "
                     "which computes the same thing without rounding.",
                     "torch.log(torch.sigmoid(x)) は、大きな負の x で log(0) = -inf に丸まってしまいます。同じものを丸めずに"
                     "計算する F.logsigmoid(x) を使います。")),
    ]


@check("reward_model_loss", cases=reward_cases, twin="shikumi.preference:reward_model_loss")
def reward_verify(case: Case, value) -> str | None:
    chosen, rejected = case.args
    what = f"reward_model_loss(reward_chosen {show(chosen.tolist(), 50)}, reward_rejected {show(rejected.tolist(), 50)})"
    return _loss_problem(what, value, preference.reward_model_loss(chosen, rejected),
                               _reward_variants(chosen, rejected))


def _loss_problem(what: str, value, expected: torch.Tensor, variants) -> str | None:
    """A loss: one number (a 0-d tensor or a float), close to expected; else the hint of the slip it equals."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = torch.tensor(float(value))
    if (problem := tensor_problem(value, what)) is not None:
        return problem
    if value.numel() != 1:
        return shape_problem(what, (), tuple(value.shape)) + more(
            tr("The loss is one number: average over the pairs with .mean().",
             "損失は 1 つの数です。ペアについて .mean() で平均をとります。"))
    value = value.reshape(())
    problem = array_problem(value, expected, what, atol=1e-5)
    if problem is None:
        return None
    return problem + first_hint(value, variants)


# -- dpo_loss ----------------------------------------------------------------------------------------------------

def dpo_cases(rng: random.Random) -> list[Case]:
    cases = []
    for beta in (0.1, rng.choice([0.05, 0.2, 0.3]), rng.choice([0.5, 2.0])):
        g = generator(rng)
        B = rng.randint(3, 8)
        logps = [-(torch.rand(B, generator=g) * 30 + 5) for _ in range(4)]   # log-probabilities: negative
        cases.append(Case(tuple(logps), {"beta": beta}))
    g = generator(rng)
    ref_c, ref_r = -(torch.rand(3, generator=g) * 20 + 5), -(torch.rand(3, generator=g) * 20 + 5)
    cases.append(Case((ref_c.clone(), ref_r.clone(), ref_c, ref_r), {"beta": 0.1}, edge=True))  # π = π_ref: log 2
    return cases


def _dpo(pc, pr, rc, rr, beta):
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


def _dpo_variants(pc, pr, rc, rr, beta) -> list[tuple[torch.Tensor, str]]:
    pc, pr, rc, rr = (t.double() for t in (pc, pr, rc, rr))
    return [
        (_dpo(pc, pr, rc, rr, 1.0), tr(f"β is missing: multiply the difference of log-ratios by beta (here {beta}).",
                                         f"β が抜けています。対数比の差に beta（ここでは {beta}）を掛けます。")),
        (_dpo(pc, pr, rc, rr, 1 / beta), tr("Multiply by β, don't divide.", "β で割らずに、掛けます。")),
        (-F.logsigmoid(beta * (pc - pr)).mean(),
         tr("The reference is missing: each answer's reward is β·(log π - log π_ref), so subtract ref_chosen_logps "
              "and ref_rejected_logps.",
              "参照モデルが抜けています。各答えの報酬は β·(log π - log π_ref) なので、ref_chosen_logps と "
              "ref_rejected_logps を引きます。")),
        (_dpo(pc, pr, rc, rr, -beta), tr("The sign is flipped: the loss must fall when the policy raises the chosen "
                                           "answer relative to the reference, -log σ(β·(chosen - rejected)).",
                                           "符号が逆です。方策が参照モデルに比べて選ばれた答えの確率を上げたときに、損失が下がるように："
                                           "-log σ(β·(chosen - rejected))。")),
        (_dpo(pc, pr, rr, rc, beta), tr("The reference enters the wrong way: each answer's reward is β·(log π - "
                                          "log π_ref) with its own reference, so (policy_chosen_logps - ref_chosen_logps) "
                                          "- (policy_rejected_logps - ref_rejected_logps).",
                                          "参照モデルの入れ方が違います。各答えの報酬は、その答え自身の参照モデルを使った "
                                          "β·(log π - log π_ref) なので、(policy_chosen_logps - ref_chosen_logps) - "
                                          "(policy_rejected_logps - ref_rejected_logps) です。")),
        (-F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum(), tr("Average over the pairs (.mean()), don't sum.",
                                                                   "ペアについて合計ではなく平均（.mean()）をとります。")),
        (-torch.sigmoid(beta * ((pc - rc) - (pr - rr))).mean(),
         tr("Take the logarithm: -log σ(·) with F.logsigmoid, not σ itself.",
              "対数をとります：σ そのものではなく、F.logsigmoid で -log σ(·) です。")),
    ]


@check("dpo_loss", cases=dpo_cases,
       twin=("shikumi.preference:dpo_loss", "shikumi.preference:reward_model_loss"))
def dpo_verify(case: Case, value) -> str | None:
    pc, pr, rc, rr = case.args
    beta = case.kwargs["beta"]
    what = f"dpo_loss(4 × ({len(pc)},) log-probabilities, beta={beta})"
    expected = preference.dpo_loss(pc, pr, rc, rr, beta)
    return _loss_problem(what, value, expected, _dpo_variants(pc, pr, rc, rr, beta))
