"""shikumi.chatdata and shikumi.finetune (lesson 10): the chat data, the answer-only loss, and supervised
fine-tuning that makes lesson 04's GPT answer instructions it never saw."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from shikumi import chatdata, checkpoint, finetune
from shikumi.gpt import GPT, GPTConfig
from shikumi.train import TrainConfig
from shikumi.zoo import gpt_chat, gpt_shakespeare

IGNORE = finetune.IGNORE


@pytest.fixture(scope="module")
def base():
    return gpt_shakespeare.load_gpt_shakespeare()


@pytest.fixture(scope="module")
def sft():
    return gpt_chat.load_gpt_chat(gpt_chat.SFT_NAME)[0]


# -- the data ----------------------------------------------------------------------------------------------------

def test_every_chat_fits_the_context_window_and_the_82_characters(base):
    _, tok = base
    longest = 0
    for task in chatdata.TASKS:
        for split in ("train", "heldout"):
            fillers = chatdata.fillers(task, split)
            assert set("".join(text for text, _ in fillers)) <= set(tok.itos)
            for filler in sorted(fillers, key=lambda f: -len(f[0]))[:3]:   # the longest names and lines
                for variant in range(len(chatdata.TASKS[task][0])):
                    for remark in chatdata.POLITE + chatdata.RUDE:
                        e = chatdata.make_example(task, filler, variant, remark)
                        longest = max(longest, len(tok.encode(e.prompt + e.answer)))
    assert longest - 1 <= 128      # x = ids[:-1] must fit block_size


def test_held_out_names_and_lines_never_appear_in_training():
    for task in ("greet", "first"):
        train = {text for text, _ in chatdata.fillers(task, "train")}
        held = {text for text, _ in chatdata.fillers(task, "heldout")}
        assert held and len(train) > 10 * len(held)
        assert not train & held
    held_lines = [line for line, _ in chatdata.LINES]
    assert not any(h in line for line, _ in chatdata.fillers("first", "train") for h in held_lines)
    train_names = {text.upper() for text, _ in chatdata.fillers("greet", "train")}
    assert not train_names & {name.upper() for name, _ in chatdata.NAMES}


def test_data_is_deterministic_half_polite_and_bilingual():
    examples = chatdata.instructions(400, "train", seed=3)
    assert examples == chatdata.instructions(400, "train", seed=3) != chatdata.instructions(400, "train", seed=4)
    assert 0.4 < sum(e.polite for e in examples) / len(examples) < 0.6
    assert {e.task for e in examples} == set(chatdata.TASKS)
    held = chatdata.instructions(50, "heldout")
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in e.ja()) for e in held)       # Japanese for the reader
    pairs = chatdata.preference_pairs(50, "heldout")
    assert all(p.chosen_example.polite and not p.rejected_example.polite for p in pairs)
    assert all(p.chosen_example.content == p.rejected_example.content for p in pairs)


def test_judge():
    e = chatdata.make_example("shout", ("the fool doth think he is wise", ""), 0, chatdata.POLITE[0])
    assert chatdata.judge(e, e.answer) == chatdata.Verdict(True, True, True)        # "FOOL" in the content is fine
    rude = chatdata.make_example("shout", ("the fool doth think he is wise", ""), 0, chatdata.RUDE[0])
    assert chatdata.judge(e, rude.answer) == chatdata.Verdict(True, False, True)
    assert not chatdata.judge(e, e.answer.strip()).correct                           # it never stopped
    assert not chatdata.judge(e, "THE FOOL! At your service.\n\n").correct


# -- the answer-only loss --------------------------------------------------------------------------------------

@pytest.mark.parametrize("P,A", [(1, 3), (2, 1), (5, 4), (30, 20)])
def test_targets_hide_exactly_the_prompt(P, A):
    prompt, answer = list(range(100, 100 + P)), list(range(200, 200 + A))
    x, y = finetune.sft_inputs_and_targets(prompt, answer)
    assert x.dtype == y.dtype == torch.long and x.shape == y.shape == (P + A - 1,)
    assert x.tolist() == (prompt + answer)[:-1]
    assert y[y != IGNORE].tolist() == answer                      # every answer token is learnt, nothing else
    assert (y == IGNORE).sum() == P - 1


def test_the_loss_ignores_the_prompt_entirely(base):
    model, tok = base
    e = chatdata.instructions(1, "train")[0]
    x, y = finetune.pad([finetune.encode_chat(tok, e.prompt, e.answer)])
    logits = model(x).detach().requires_grad_()
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)
    loss.backward()
    P = len(e.prompt)
    assert logits.grad[0, : P - 1].abs().max() == 0 and logits.grad[0, P - 1:].abs().max() > 0
    answer_only = F.cross_entropy(logits[0, P - 1:], torch.tensor(tok.encode(e.answer)))
    torch.testing.assert_close(loss, answer_only)


def test_padding_changes_nothing(base):
    model, tok = base
    examples = chatdata.instructions(4, "heldout")
    rows = [finetune.encode_chat(tok, e.prompt, e.answer) for e in examples]
    x, y = finetune.pad(rows)
    for i, (rx, ry) in enumerate(rows):
        assert torch.equal(x[i, : len(rx)], rx) and torch.equal(y[i, : len(ry)], ry) and (y[i, len(ry):] == IGNORE).all()
    with torch.no_grad():
        batched = finetune.sequence_logprob(model(x), y)
        one_by_one = torch.stack([finetune.sequence_logprob(model(r[0][None]), r[1][None])[0] for r in rows])
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-4)


def test_sequence_logprob_is_the_log_of_the_product_of_probabilities():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 7, 11, generator=g), torch.randint(11, (3, 7), generator=g)
    targets[:, :3], targets[1, 5:] = IGNORE, IGNORE
    probs = logits.double().softmax(-1)
    want = torch.stack([torch.prod(torch.stack([probs[b, t, targets[b, t]] for t in range(7) if targets[b, t] != IGNORE]))
                        for b in range(3)]).log()
    torch.testing.assert_close(finetune.sequence_logprob(logits, targets).double(), want, rtol=1e-5, atol=1e-5)


# -- fine-tuning works ---------------------------------------------------------------------------------------

def test_a_short_fine_tune_learns_the_held_out_answers(base):
    """60 steps with the answer-only loss: the held-out answers' loss falls far below the base GPT's."""
    model, tok = base
    model = copy.deepcopy(model)
    held = chatdata.instructions(48, "heldout", seed=5)
    before = finetune.answer_loss(model, tok, held)
    cfg = TrainConfig(max_steps=60, lr=1e-3, warmup_steps=5, eval_every=0, eval_steps=1, weight_decay=0.0,
                      device="cpu", cpu_threads=1, progress=False)
    finetune.finetune_sft(model, tok, chatdata.instructions(1000, "train"), held, cfg, batch_size=16)
    after = finetune.answer_loss(model, tok, held)
    print(f"held-out answer loss: {before:.2f} → {after:.2f} nats/char")
    assert after < before / 2


def test_shipped_sft_answers_held_out_instructions_better_than_the_base(base, sft):
    model, tok = base
    held = chatdata.instructions(32, "heldout", seed=7)
    before, after = finetune.score(model, tok, held), finetune.score(sft, tok, held)
    print(f"held-out answers right: base {before.correct:.0%}, SFT {after.correct:.0%} (polite {after.polite:.0%})")
    assert before.correct <= 0.05 and after.correct >= 0.8
    assert 0.2 < after.polite < 0.9                         # the demonstrations were half rude, and so is it
    assert finetune.answer_loss(sft, tok, held) < finetune.answer_loss(model, tok, held) / 5


def test_reply_stops_at_the_end_of_the_speech(sft):
    tok = gpt_chat.load_gpt_chat()[1]
    text = finetune.reply(sft, tok, "Greet OPHELIA.")
    assert text.startswith("Good morrow, OPHELIA!") and text.endswith("\n\n") and text.count("\n\n") == 1


def test_shipped_checkpoints_are_small_verified_and_recorded():
    for name in (gpt_chat.SFT_NAME, "gpt_chat_dpo"):
        path = checkpoint.verify(name)
        assert path.stat().st_size <= 4 * 2**20
        record = checkpoint.load_history(name)
        assert record["steps"] and record["eval_loss"]
    sft_record = checkpoint.load_history(gpt_chat.SFT_NAME)
    assert sft_record["heldout_correct"] > sft_record["heldout_correct_base"] + 0.5


def test_recipe_writes_a_loadable_checkpoint(tmp_path, monkeypatch):
    tiny = dataclasses.replace(gpt_chat.SFT_RECIPES["quick"], n_train=40, n_val=8, batch_size=2,
                               train=TrainConfig(max_steps=2, eval_every=0, eval_steps=1, progress=False))
    monkeypatch.setitem(gpt_chat.SFT_RECIPES, "quick", tiny)
    monkeypatch.setattr(gpt_chat, "score", lambda *a, **k: finetune.Score(0.0, 1.0, 0.0, []))
    path = gpt_chat.train_gpt_chat_sft(tmp_path, size="quick", device="cpu")
    assert path == tmp_path / "gpt_chat_sft.safetensors"
    model, tok = gpt_chat.load_gpt_chat(path=path)
    assert isinstance(model, GPT) and model.config == GPTConfig.preset("nano", vocab_size=82)
    assert tok.vocab_size == model.config.vocab_size == 82
    assert checkpoint.load_history("gpt_chat_sft", tmp_path)["steps"] == 2


def _generate_alone(model, tok, instruction, max_new_tokens=64):
    """Greedy, one chat at a time, as GPT.generate does: the reference for the batched replies."""
    ids = torch.tensor([tok.encode(chatdata.chat_prompt(instruction))])
    start = ids.size(1)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            next_id = model(ids[:, -model.config.block_size:])[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=1)
            if tok.decode(ids[0, start:].tolist()).endswith("\n\n"):
                break
    return tok.decode(ids[0, start:].tolist())


def test_batched_replies_are_those_of_each_chat_alone(base, sft):
    """Rows of different lengths, and (for the base GPT, which never stops) chats longer than the context window."""
    model, tok = base
    instructions = [e.instruction for e in chatdata.instructions(6, "heldout", seed=11)]
    for m in (model, sft):
        assert finetune.replies(m, tok, instructions) == [_generate_alone(m, tok, i) for i in instructions]
    longest = max(len(chatdata.chat_prompt(i)) for i in instructions)
    assert longest + 64 > model.config.block_size


def _sampled_without_cache(model, tok, instructions, seed, max_new_tokens=64):
    """Sampled replies as finetune.replies gave them before its cache: every talking chat's whole window (its last
    block_size tokens, padded at the end) at every step, and one draw per chat per step."""
    g = torch.Generator().manual_seed(seed)
    rows = [tok.encode(chatdata.chat_prompt(i)) for i in instructions]
    starts, done = [len(r) for r in rows], [False] * len(rows)
    T, V = model.config.block_size, model.config.vocab_size
    with torch.no_grad():
        for _ in range(max_new_tokens):
            talking = [i for i, d in enumerate(done) if not d]
            if not talking:
                break
            windows = [rows[i][-T:] for i in talking]
            x = torch.zeros(len(talking), max(map(len, windows)), dtype=torch.long)
            for j, w in enumerate(windows):
                x[j, : len(w)] = torch.tensor(w)
            last = model(x)[torch.arange(len(talking)), torch.tensor([len(w) - 1 for w in windows])]
            probs = torch.full((len(rows), V), 1.0 / V)
            probs[talking] = last.softmax(-1)
            for i, next_id in zip(talking, torch.multinomial(probs, 1, generator=g)[talking, 0].tolist()):
                rows[i].append(next_id)
                done[i] = tok.decode(rows[i][starts[i]:]).endswith("\n\n")
    return [tok.decode(r[s:]) for r, s in zip(rows, starts)]


def test_sampled_replies_with_the_cache_are_those_without(base, sft):
    """Temperature 1, seeded: the cached replies draw the same characters, chats whose window slides included."""
    model, tok = base
    instructions = [e.instruction for e in chatdata.instructions(6, "heldout", seed=11)]
    got = {name: finetune.replies(m, tok, instructions, temperature=1.0, generator=torch.Generator().manual_seed(4))
           for name, m in (("base", model), ("SFT", sft))}
    assert got["base"] == _sampled_without_cache(model, tok, instructions, seed=4)
    assert got["SFT"] == _sampled_without_cache(sft, tok, instructions, seed=4)
    lengths = [len(chatdata.chat_prompt(i)) + len(r) for i, r in zip(instructions, got["base"])]
    assert max(lengths) > model.config.block_size
