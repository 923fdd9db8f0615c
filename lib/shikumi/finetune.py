"""Supervised fine-tuning (SFT): from a GPT that continues plays to one that answers (lesson 10, slides 12–14, 38).

Slide 12: GPT = 事前学習 + (ファインチューニング) — pre-training, then fine-tuning. Pre-training (lesson 04) taught the
model to continue text. Fine-tuning goes on training the same model, with the same next-token loss, on a small
set of demonstrations: a chat that ends in a good answer (`shikumi.chatdata`). One change: the loss counts only
the answer's tokens. The instruction is there to be read, not to be learnt — the model should not be taught to
write the user's questions.

    ids = prompt + answer                     e.g. "USER\\nGreet HAMLET.\\n\\nASSISTANT\\n" + "Good morrow, …\\n\\n"
    x   = ids[:-1]                            what the model reads
    y   = ids[1:], with IGNORE where the next token is still the prompt's
    loss = cross-entropy over the positions whose target is not IGNORE

    model, tok = load_gpt_chat("gpt_chat_sft")                  # the shipped SFT model, checksum verified
    print(reply(model, tok, "Greet OPHELIA."))

`shikumi train gpt_chat_sft` reproduces it from lesson 04's gpt_shakespeare with the course's one training loop.
Preference tuning, the next step, is `shikumi.preference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from shikumi.chatdata import Example, chat_prompt, judge
from shikumi.device import one_cpu_thread
from shikumi.gpt import GPT, GPTCache, next_token_probs
from shikumi.tokenizer import CharTokenizer
from shikumi.train import History, TrainConfig, train

IGNORE = -100          # F.cross_entropy's ignore_index: a target that does not count


# -- the data: one chat → (x, y), a batch of them → padded tensors --------------------------------------------

def sft_inputs_and_targets(prompt_ids: Sequence[int], answer_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """x, y for one chat: y is x shifted by one, with IGNORE wherever the target is still part of the prompt.

    Position t reads ids[t] and predicts ids[t + 1]; the targets ids[1 .. P-1] are the prompt's (P = its length),
    so y[0 .. P-2] are IGNORE, and y[P-1] = ids[P], the answer's first token, is the first one learnt.
    """
    ids = torch.tensor(list(prompt_ids) + list(answer_ids), dtype=torch.long)  # (P + A,)
    x, y = ids[:-1].clone(), ids[1:].clone()                                   # (P + A - 1,) each
    y[: len(prompt_ids) - 1] = IGNORE
    return x, y


def pad(rows: Sequence[tuple[torch.Tensor, torch.Tensor]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (x, y) rows of different lengths into (B, T) tensors: x padded with pad_id, y with IGNORE.

    Padding goes at the end: with the causal mask no real position ever looks at it, and its targets do not count.
    """
    T = max(len(x) for x, _ in rows)
    X = torch.full((len(rows), T), pad_id, dtype=torch.long)                   # (B, T)
    Y = torch.full((len(rows), T), IGNORE, dtype=torch.long)                   # (B, T)
    for i, (x, y) in enumerate(rows):
        X[i, : len(x)], Y[i, : len(y)] = x, y
    return X, Y


def encode_chat(tok: CharTokenizer, prompt: str, answer: str, make_targets=sft_inputs_and_targets):
    """One chat as (x, y), by `make_targets` (the lesson passes the learner's own sft_inputs_and_targets)."""
    return make_targets(tok.encode(prompt), tok.encode(answer))


def sft_batch_fn(train_examples: Sequence[Example], val_examples: Sequence[Example], tok: CharTokenizer,
                 batch_size: int, seed: int = 0, make_targets=sft_inputs_and_targets):
    """get_batch(split) for shikumi.train: batch_size random chats of the split, padded to (B, T)."""
    encoded = {split: [encode_chat(tok, e.prompt, e.answer, make_targets) for e in examples]
               for split, examples in (("train", train_examples), ("val", val_examples))}
    generators = {"train": torch.Generator().manual_seed(seed), "val": torch.Generator().manual_seed(seed + 1)}

    def get_batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        rows = encoded[split]
        picks = torch.randint(len(rows), (batch_size,), generator=generators[split]).tolist()
        return pad([rows[i] for i in picks])

    return get_batch


def sft_loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the next token, averaged over the answer's tokens only (IGNORE targets do not count)."""
    x, y = batch
    logits = model(x)                                                          # (B, T, vocab)
    return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE)


# -- how likely is an answer? ----------------------------------------------------------------------------------

def sequence_logprob(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log P(answer | prompt) = Σ_t log softmax(logits[b, t])[targets[b, t]] over the targets that are not IGNORE.

    logits: (B, T, vocab); targets: (B, T) with IGNORE at the prompt and the padding. Returns (B,).
    """
    mask = targets != IGNORE                                                   # (B, T)
    logp = logits.float().log_softmax(dim=-1)                                  # (B, T, vocab)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)   # (B, T): log P(target)
    return (picked * mask).sum(dim=-1)                                         # (B,)


@torch.no_grad()
def answer_logprobs(model: GPT, tok: CharTokenizer, prompts: Sequence[str], answers: Sequence[str],
                    batch_size: int = 64) -> torch.Tensor:
    """log P(answer | prompt) for each pair of texts: (N,) float32, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with one_cpu_thread(device):
        for i in range(0, len(prompts), batch_size):
            x, y = pad([encode_chat(tok, p, a) for p, a in zip(prompts[i:i + batch_size], answers[i:i + batch_size])])
            out.append(sequence_logprob(model(x.to(device)), y.to(device)).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def answer_loss(model: GPT, tok: CharTokenizer, examples: Sequence[Example]) -> float:
    """How surprised the model is by the demonstrated answers: -log P(answer | prompt) per character, in nats."""
    logps = answer_logprobs(model, tok, [e.prompt for e in examples], [e.answer for e in examples])
    return -logps.sum().item() / sum(len(e.answer) for e in examples)


# -- talking to it ---------------------------------------------------------------------------------------------

def read_on(model: GPT, cache: GPTCache, pieces: Sequence[Sequence[int]]) -> torch.Tensor:
    """Feed row j of the cache the tokens pieces[j] (at least one; rows may differ); return each row's logits for
    the token after its piece: (B, vocab).

    The pieces are padded at the end to the longest. A padding token's key and value land in a slot past its row's
    end: the mask hides it, and the row's next token overwrites it — so each row gets the numbers it would alone.
    """
    device = next(model.parameters()).device
    x = torch.zeros(len(pieces), max(map(len, pieces)), dtype=torch.long)                # (B, W)
    for j, piece in enumerate(pieces):
        x[j, : len(piece)] = torch.tensor(piece)
    sizes = torch.tensor([len(piece) for piece in pieces], device=device)               # (B,)
    lengths = cache.lengths + sizes                                                      # (B,) after this call
    logits = model(x.to(device), cache=cache)                                            # (B, W, vocab)
    cache.lengths = lengths                                                              # the padding does not count
    return logits[torch.arange(len(pieces), device=device), sizes - 1]                   # (B, vocab)


@torch.no_grad()
def replies(model: GPT, tok: CharTokenizer, instructions: Sequence[str], temperature: float = 0.0,
            max_new_tokens: int = 64, generator: torch.Generator | None = None) -> list[str]:
    """The model's answer to each instruction: the characters after "ASSISTANT\\n", up to and with the first blank
    line (the end of a speech), or max_new_tokens of them. temperature 0 is greedy.

    The chats still talking grow together, one token per step, as GPT.generate does for one, and with its cache:
    the first step reads every prompt (padded at the end to the longest), then each step feeds every chat only its
    newest token, at its own position — the same numbers as generating each chat alone. A finished chat is not fed
    again. A chat longer than block_size is read in its last block_size tokens; its window slides at every step,
    so the cache no longer holds for it, and its whole window is computed again.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = [tok.encode(chat_prompt(instruction)) for instruction in instructions]
    starts, done = [len(r) for r in rows], [False] * len(rows)
    T, V = model.config.block_size, model.config.vocab_size
    cache, cached = GPTCache(model.config, len(rows), device), list(range(len(rows)))   # cache row j: chat cached[j]
    with one_cpu_thread(device):
        for _ in range(max_new_tokens):
            talking = [i for i, finished in enumerate(done) if not finished]
            if not talking:
                break
            # the cache goes on with the chats still talking whose text still fits the window
            keep = [j for j, i in enumerate(cached) if not done[i] and len(rows[i]) <= T]
            cache.keep(keep)
            cached = [cached[j] for j in keep]
            last = {}                                                                      # chat → (vocab,)
            if cached:  # each cached chat reads what the cache does not hold yet: its prompt, then its newest token
                pieces = [rows[i][n:] for i, n in zip(cached, cache.lengths.tolist())]
                last.update(zip(cached, read_on(model, cache, pieces)))
            slid = [i for i in talking if len(rows[i]) > T]
            if slid:    # the window slid: every position moved, so read the last block_size tokens afresh
                x = torch.tensor([rows[i][-T:] for i in slid], device=device)             # (S, T)
                last.update(zip(slid, model(x)[:, -1]))
            last = torch.stack([last[i] for i in talking]).float()                         # (A, vocab)
            if temperature == 0:
                next_ids = last.argmax(dim=-1)                                             # (A,)
            else:  # every chat draws, finished or not, so each gets the same random numbers however the others go
                probs = torch.full((len(rows), V), 1.0 / V)                                # (B, vocab)
                probs[talking] = next_token_probs(last, temperature).cpu()
                next_ids = torch.multinomial(probs, 1, generator=generator)[talking, 0]    # (A,)
            for i, next_id in zip(talking, next_ids.tolist()):
                rows[i].append(next_id)
                done[i] = tok.decode(rows[i][starts[i]:]).endswith("\n\n")
    return [tok.decode(r[s:]) for r, s in zip(rows, starts)]


def reply(model: GPT, tok: CharTokenizer, instruction: str, temperature: float = 0.0, max_new_tokens: int = 64,
          generator: torch.Generator | None = None) -> str:
    """The model's answer to one instruction (see replies)."""
    return replies(model, tok, [instruction], temperature, max_new_tokens, generator)[0]


@dataclass
class Score:
    correct: float      # fraction of answers with the right content (and finished)
    polite: float       # fraction without a rude word
    preferred: float    # right, polite and finished: what the labelers want
    replies: list[str]


def score(model: GPT, tok: CharTokenizer, examples: Sequence[Example], temperature: float = 0.0,
          seed: int = 0) -> Score:
    """Ask the model every instruction and let the judge (shikumi.chatdata.judge) mark each answer."""
    g = torch.Generator().manual_seed(seed)
    answers = replies(model, tok, [e.instruction for e in examples], temperature, generator=g)
    verdicts = [judge(e, r) for e, r in zip(examples, answers)]
    n = max(1, len(verdicts))
    return Score(sum(v.correct for v in verdicts) / n, sum(v.polite for v in verdicts) / n,
                 sum(v.preferred for v in verdicts) / n, answers)


# -- fine-tuning, with the course's one training loop ----------------------------------------------------------

def finetune_sft(model: GPT, tok: CharTokenizer, train_examples: Sequence[Example], val_examples: Sequence[Example],
                 cfg: TrainConfig, batch_size: int = 32, seed: int = 0, make_targets=sft_inputs_and_targets,
                 on_eval=None) -> History:
    """Go on training `model` (in place) on the demonstrations, with the loss on the answers only."""
    get_batch = sft_batch_fn(train_examples, val_examples, tok, batch_size, seed, make_targets)
    return train(model, get_batch, sft_loss_fn, cfg, on_eval=on_eval)
