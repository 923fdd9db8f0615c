"""Preference tuning: teaching the fine-tuned GPT which of two answers people prefer (lesson 10, slides 14, 38).

Slide 38 lists RLHF among ChatGPT's updates: 「…といったFBで強化学習する」 — reinforcement learning from people's
feedback. InstructGPT (Ouyang et al. 2022), ChatGPT's recipe, does it in three steps:

1. SFT: fine-tune the pre-trained GPT on demonstrations (`shikumi.finetune`).
2. A reward model r(x, y): show people two answers y_w (better) and y_l (worse) to one prompt x, and train r so
   that r(x, y_w) > r(x, y_l): loss = -log σ(r(x, y_w) - r(x, y_l))  (Bradley–Terry; `reward_model_loss`).
3. Reinforcement learning (PPO): sample answers from the model, score them with r, make high-scoring answers more
   likely — with a penalty β·KL(π ‖ π_ref) that keeps the model π near the SFT model π_ref.

DPO (Rafailov et al. 2023) gets the same optimum without steps 2–3's reward model and RL loop. The best policy of
step 3 has a closed form, π*(y|x) ∝ π_ref(y|x)·exp(r(x, y)/β); turned around, r(x, y) = β·log π*(y|x)/π_ref(y|x)
+ (a term that depends on x only, and cancels in a difference). Put that reward into step 2's loss:

    loss = -log σ(β·[(log π(y_w|x) - log π_ref(y_w|x)) - (log π(y_l|x) - log π_ref(y_l|x))])   (`dpo_loss`)

— a classification loss on the model itself, trained with the ordinary training loop. The reference π_ref is the
SFT model, frozen: its log-probabilities are computed once, before training (`finetune_dpo`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from shikumi import data
from shikumi.chatdata import Pair
from shikumi.finetune import (
    answer_logprobs,
    encode_chat,
    pad,
    sequence_logprob,
)
from shikumi.gpt import GPT
from shikumi.tokenizer import CharTokenizer
from shikumi.train import History, TrainConfig, train

# -- the two losses ----------------------------------------------------------------------------------------------

def reward_model_loss(reward_chosen: torch.Tensor, reward_rejected: torch.Tensor) -> torch.Tensor:
    """-log σ(r_w - r_l), averaged over the pairs: small when the better answer gets the higher reward.

    reward_chosen, reward_rejected: (B,). Returns a scalar. F.logsigmoid stays finite where log(σ(·)) would
    round to log(0) = -inf (a margin of -120 in float32)."""
    return -F.logsigmoid(reward_chosen - reward_rejected).mean()


def dpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
             ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """DPO: -log σ(β·[(log π(y_w) - log π_ref(y_w)) - (log π(y_l) - log π_ref(y_l))]), averaged over the pairs.

    All four inputs are (B,) sequence log-probabilities (sequence_logprob); returns a scalar. It is
    reward_model_loss with the implicit rewards β·(log π - log π_ref)."""
    return reward_model_loss(implicit_reward(policy_chosen_logps, ref_chosen_logps, beta),
                             implicit_reward(policy_rejected_logps, ref_rejected_logps, beta))


def implicit_reward(policy_logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO's reward hidden in the model: r(x, y) = β·(log π(y|x) - log π_ref(y|x)), (B,)."""
    return beta * (policy_logps - ref_logps)


# -- InstructGPT's step 2, small: a reward model that reads words -----------------------------------------------

class BagOfWordsReward(nn.Module):
    """r(y) = the sum of one learned number per word of the answer: a stand-in for InstructGPT's reward model,
    which is a whole GPT with a single number as its output. Word ids from `word_ids`; 0 is padding."""

    def __init__(self, vocab: Sequence[str]):
        super().__init__()
        self.vocab = ["<pad>", "<unk>"] + sorted(set(vocab) - {"<pad>", "<unk>"})
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.weight = nn.Embedding(len(self.vocab), 1, padding_idx=0)
        nn.init.zeros_(self.weight.weight)

    def word_ids(self, answers: Sequence[str]) -> torch.Tensor:
        rows = [[self.index.get(w, 1) for w in data.tokenize_en(a)] or [0] for a in answers]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)   # (B, L), 0 = padding
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight(ids).squeeze(-1).sum(dim=-1)                          # (B, L, 1) → (B,)

    def words(self) -> dict[str, float]:
        """{word: its reward}, for looking at what the reward model learnt."""
        return {w: self.weight.weight[i, 0].item() for i, w in enumerate(self.vocab) if i > 1}


def train_reward_model(train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], cfg: TrainConfig,
                       loss=reward_model_loss) -> tuple[BagOfWordsReward, History]:
    """Fit a BagOfWordsReward to preference pairs with `loss` (the learner's reward_model_loss in the lesson)."""
    vocab = [w for p in train_pairs for a in (p.chosen, p.rejected) for w in data.tokenize_en(a)]
    model = BagOfWordsReward(vocab)
    batches = {split: (model.word_ids([p.chosen for p in pairs]), model.word_ids([p.rejected for p in pairs]))
               for split, pairs in (("train", train_pairs), ("val", val_pairs))}
    history = train(model, lambda split: batches[split], lambda m, b: loss(m(b[0]), m(b[1])), cfg)
    return model, history


@torch.no_grad()
def reward_accuracy(model: BagOfWordsReward, pairs: Sequence[Pair]) -> float:
    """The fraction of pairs whose better answer gets the higher reward."""
    model = model.cpu().eval()
    chosen, rejected = model(model.word_ids([p.chosen for p in pairs])), model(model.word_ids([p.rejected for p in pairs]))
    return (chosen > rejected).float().mean().item()


# -- DPO on the GPT ----------------------------------------------------------------------------------------------

def pair_logprobs(model: GPT, tok: CharTokenizer, pairs: Sequence[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(chosen | prompt), log π(rejected | prompt)) for every pair: two (N,) tensors, on the CPU."""
    prompts = [p.prompt for p in pairs]
    return (answer_logprobs(model, tok, prompts, [p.chosen for p in pairs]),
            answer_logprobs(model, tok, prompts, [p.rejected for p in pairs]))


def win_rate(model: GPT, tok: CharTokenizer, pairs: Sequence[Pair]) -> float:
    """How often the model agrees with the labelers: the fraction of pairs where it finds the better answer more
    likely than the worse one, P(chosen | prompt) > P(rejected | prompt)."""
    chosen, rejected = pair_logprobs(model, tok, pairs)
    return (chosen > rejected).float().mean().item()


def dpo_batch_fn(pairs: dict[str, Sequence[Pair]], ref_logps: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 tok: CharTokenizer, batch_size: int, seed: int = 0):
    """get_batch(split) for shikumi.train: (x, y) of batch_size chosen answers, then of their rejected answers,
    padded to (2B, T), and the reference's log-probabilities of both, (B,) each."""
    rows = {split: ([encode_chat(tok, p.prompt, p.chosen) for p in ps], [encode_chat(tok, p.prompt, p.rejected) for p in ps])
            for split, ps in pairs.items()}
    generators = {split: torch.Generator().manual_seed(seed + i) for i, split in enumerate(pairs)}

    def get_batch(split: str):
        chosen, rejected = rows[split]
        picks = torch.randint(len(chosen), (batch_size,), generator=generators[split])
        x, y = pad([chosen[i] for i in picks.tolist()] + [rejected[i] for i in picks.tolist()])  # (2B, T) each
        ref_chosen, ref_rejected = ref_logps[split]
        return x, y, ref_chosen[picks], ref_rejected[picks]

    return get_batch


def dpo_loss_fn(beta: float, loss=dpo_loss):
    """loss_fn(model, batch) for shikumi.train: the policy's log-probabilities of both answers, then `loss`."""
    def loss_fn(model: nn.Module, batch) -> torch.Tensor:
        x, y, ref_chosen, ref_rejected = batch
        logps = sequence_logprob(model(x), y)                                     # (2B,)
        chosen, rejected = logps.chunk(2)                                         # (B,), (B,)
        return loss(chosen, rejected, ref_chosen, ref_rejected, beta)
    return loss_fn


def finetune_dpo(model: GPT, tok: CharTokenizer, train_pairs: Sequence[Pair], val_pairs: Sequence[Pair],
                 cfg: TrainConfig, beta: float = 0.1, batch_size: int = 16, seed: int = 0, loss=dpo_loss,
                 reference: GPT | None = None) -> History:
    """DPO-tune `model` in place. The reference (default: a frozen copy of `model` as it is now, the SFT model)
    never changes, so its log-probabilities are computed once, here."""
    reference = reference if reference is not None else copy.deepcopy(model)
    pairs = {"train": train_pairs, "val": val_pairs}
    ref_logps = {split: pair_logprobs(reference, tok, ps) for split, ps in pairs.items()}
    get_batch = dpo_batch_fn(pairs, ref_logps, tok, batch_size, seed)
    return train(model, get_batch, dpo_loss_fn(beta, loss), cfg)
