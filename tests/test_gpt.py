"""shikumi.gpt and shikumi.zoo.gpt_shakespeare (lesson 04), and the hidden checks of autograder.checks.l04_gpt.

The GPT is checked against Hugging Face's GPT2LMHeadModel, built locally with random weights (nothing is
downloaded); the shipped Shakespeare checkpoint must beat the best character n-gram on the held-out play.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checks import for_lesson
from autograder.checks import l04_gpt as l04
from autograder.plain import encode
from shikumi import checkpoint, gpt, ngram
from shikumi.attention import causal_mask
from shikumi.zoo import gpt_shakespeare
from tests.conftest import run_check, solution_answers

CHECKS = for_lesson("04_gpt")
ANSWERS = solution_answers("04_gpt")  # the one reference answer of each exercise: the solution's own

SEEDS = range(5)


def small_config(**overrides) -> gpt.GPTConfig:
    return gpt.GPTConfig(**{**dict(vocab_size=37, block_size=16, n_layer=2, n_head=4, d_model=32), **overrides})


# -- GPT against transformers' GPT-2 ----------------------------------------------------------------

def _save_hf_gpt2(tmp_path, strip_prefix: bool = False):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=101, n_positions=40,
                                     bos_token_id=0, eos_token_id=0)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random LayerNorms and biases too, so a mix-up of any tensor shows in the logits
        for name, p in hf.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    hf.save_pretrained(tmp_path, safe_serialization=True)
    if strip_prefix:  # the layout of OpenAI's original upload: "h.0.attn…" rather than "transformer.h.0.attn…"
        from safetensors.torch import load_file, save_file

        state = load_file(str(tmp_path / "model.safetensors"))
        save_file({k.removeprefix("transformer."): v for k, v in state.items() if k != "lm_head.weight"},
                  str(tmp_path / "model.safetensors"))
    return hf


@pytest.mark.parametrize("strip_prefix", [False, True])
def test_from_pretrained_matches_transformers_logits(tmp_path, strip_prefix):
    hf = _save_hf_gpt2(tmp_path, strip_prefix)
    ours = gpt.GPT.from_pretrained(tmp_path)
    idx = torch.randint(0, 101, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = hf(idx).logits, ours(idx)
    error = (want - got).abs().max().item()
    print(f"max |logits error| vs transformers GPT2LMHeadModel: {error:.2e}")
    assert error < 1e-5
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters())
    assert ours.lm_head.weight is ours.token_embedding.weight  # still tied after loading


def test_greedy_generate_matches_transformers(tmp_path):
    hf = _save_hf_gpt2(tmp_path)
    ours = gpt.GPT.from_pretrained(tmp_path)
    prompt = torch.tensor([[5, 17, 42, 8]])
    want = hf.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0)
    got = ours.generate(prompt, 12, temperature=0)
    assert torch.equal(got, want)


def test_from_pretrained_refuses_another_activation(tmp_path):
    _save_hf_gpt2(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["activation_function"] = "relu"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="GELU"):
        gpt.GPT.from_pretrained(tmp_path)


# -- parameter counts (slide 14) ---------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [{}, {"prenorm": False}, {"n_head": 1}, {"n_layer": 5, "d_model": 24, "n_head": 3},
                                       {"vocab_size": 2, "block_size": 1}])
def test_num_parameters_is_exact(overrides):
    config = small_config(**overrides)
    assert gpt.num_parameters(config) == gpt.GPT(config).num_parameters()


def test_presets_match_the_published_sizes():
    assert gpt.num_parameters(gpt.GPTConfig.preset("gpt2")) == 124_439_808      # Hugging Face's gpt2
    assert gpt.num_parameters(gpt.GPTConfig.preset("gpt1")) == pytest.approx(117e6, rel=0.01)
    assert gpt.num_parameters(gpt.GPTConfig.preset("gpt2-xl")) == pytest.approx(1.5e9, rel=0.05)
    assert gpt.num_parameters(gpt.GPTConfig.preset("gpt3")) == pytest.approx(175e9, rel=0.01)
    assert gpt.GPTConfig.preset("gpt1").prenorm is False and gpt.GPTConfig.preset("gpt1").block_size == 512
    with pytest.raises(KeyError, match="gpt2-xl"):
        gpt.GPTConfig.preset("gpt5")


def test_post_ln_has_no_final_layer_norm_and_differs():
    pre, post = gpt.GPT(small_config()), gpt.GPT(small_config(prenorm=False))
    assert isinstance(post.ln_f, nn.Identity) and isinstance(pre.ln_f, nn.LayerNorm)
    post.load_state_dict({k: v for k, v in pre.state_dict().items() if not k.startswith("ln_f")})
    x = torch.randint(0, 37, (2, 10))
    with torch.no_grad():
        assert not torch.allclose(pre(x), post(x), atol=1e-3)


# -- the model's behaviour ----------------------------------------------------------------------------

def test_block_matches_a_hand_written_pre_ln_block():
    torch.manual_seed(0)
    block = gpt.Block(16, 2).eval()
    x = torch.randn(2, 6, 16)
    T = x.size(1)
    mask = torch.ones(T, T).tril().bool()
    a = block.attn
    with torch.no_grad():
        h = F.layer_norm(x, (16,), block.ln_1.weight, block.ln_1.bias)
        q, k, v = (p(h).view(2, T, 2, 8).transpose(1, 2) for p in (a.q_proj, a.k_proj, a.v_proj))
        scores = (q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~mask, float("-inf"))
        y = x + a.out_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, T, 16))
        h = F.layer_norm(y, (16,), block.ln_2.weight, block.ln_2.bias)
        want = y + block.mlp.proj(F.gelu(block.mlp.fc(h), approximate="tanh"))
        assert torch.allclose(block(x), want, atol=1e-5)


@pytest.mark.parametrize("prenorm", [True, False])
def test_gpt_logits_are_those_of_the_explicit_causal_mask(prenorm):
    """Block uses is_causal=True (the fused kernel's fast path); the logits are those of lesson 02's
    mask=causal_mask(T) on the explicit path."""
    torch.manual_seed(0)
    model = gpt.GPT(small_config(prenorm=prenorm)).eval()
    idx = torch.randint(0, 37, (3, 16))
    mask = causal_mask(16)

    def block_with_mask(b, x):
        if prenorm:
            x = x + b.attn(b.ln_1(x), mask=mask, need_weights=True)
            return x + b.mlp(b.ln_2(x))
        x = b.ln_1(x + b.attn(x, mask=mask, need_weights=True))
        return b.ln_2(x + b.mlp(x))

    with torch.no_grad():
        x = model.token_embedding(idx) + model.position_embedding(torch.arange(16))
        for b in model.blocks:
            x = block_with_mask(b, x)
        torch.testing.assert_close(model(idx), model.lm_head(model.ln_f(x)))


def test_future_tokens_do_not_change_earlier_logits():
    model = gpt.GPT(small_config()).eval()
    x = torch.randint(0, 37, (1, 12))
    y = x.clone()
    y[0, 7:] = (y[0, 7:] + 1) % 37
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :7], model(y)[:, :7], atol=1e-6)
        assert not torch.allclose(model(x)[:, 7:], model(y)[:, 7:], atol=1e-4)


def test_forward_refuses_more_than_block_size():
    with pytest.raises(ValueError, match="block_size=16"):
        gpt.GPT(small_config())(torch.zeros(1, 17, dtype=torch.long))


def test_generate_crops_the_context_and_is_greedy_at_temperature_zero():
    torch.manual_seed(0)
    model = gpt.GPT(small_config()).eval()
    prompt = torch.randint(0, 37, (2, 30))                       # longer than block_size: only the last 16 are read
    out = model.generate(prompt, 5, temperature=0)
    assert out.shape == (2, 35) and torch.equal(out[:, :30], prompt)
    idx = prompt
    for _ in range(5):
        with torch.no_grad():
            idx = torch.cat([idx, model(idx[:, -16:])[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, idx)
    assert torch.equal(model.generate(prompt, 5, temperature=1.0, top_k=1), out)   # top-1 sampling is greedy
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.generate(prompt, 8, 1.0, generator=g1), model.generate(prompt, 8, 1.0, generator=g2))
    assert not model.training


# -- the key/value cache (GPT.generate) ---------------------------------------------------------------

@pytest.mark.parametrize("prenorm", [True, False])
def test_cached_logits_are_those_of_the_full_forward(prenorm):
    """Read 5 tokens, then one at a time up to block_size: every step's logits are the full forward's at that
    position. A cache that ignored the positions, or let a query see a later slot, would differ."""
    torch.manual_seed(0)
    model = gpt.GPT(small_config(prenorm=prenorm)).eval()
    idx = torch.randint(0, 37, (3, 16))
    with torch.no_grad():
        full = model(idx)                                                   # (3, 16, 37)
        cache = gpt.GPTCache(model.config, 3)
        steps = [model(idx[:, :5], cache=cache)] + [model(idx[:, t:t + 1], cache=cache) for t in range(5, 16)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    assert cache.lengths.tolist() == [16, 16, 16]
    with pytest.raises(ValueError, match="block_size=16"):                 # the cache is full: no 17th position
        model(idx[:, :1], cache=cache)


def test_cache_rows_of_different_lengths_padded_at_the_end():
    """Row 0 reads 9 tokens, row 1 reads 4, padded with other tokens to 9: once the padding is dropped from the
    lengths, row 1's next tokens take positions 4, 5, … and never see the padding's keys and values; then row 0
    is dropped and row 1 goes on alone."""
    torch.manual_seed(0)
    model = gpt.GPT(small_config()).eval()
    a, b = torch.randint(0, 37, (1, 14)), torch.randint(0, 37, (1, 10))
    x = torch.cat([a[:, :9], torch.cat([b[:, :4], torch.randint(0, 37, (1, 5))], dim=1)])   # (2, 9)
    with torch.no_grad():
        cache = gpt.GPTCache(model.config, 2)
        first = model(x, cache=cache)
        cache.lengths = torch.tensor([9, 4])                                # the padding does not count
        nxt = [model(torch.stack([a[0, 9 + t], b[0, 4 + t]])[:, None], cache=cache)[:, 0] for t in range(5)]
        cache.keep([1])                                                     # row 0 is done; row 1 goes on alone
        last = model(b[:, -1:], cache=cache)[0, 0]
        want_a, want_b = model(a)[0], model(b)[0]
    torch.testing.assert_close(first[0], want_a[:9], atol=1e-5, rtol=0)
    torch.testing.assert_close(first[1, :4], want_b[:4], atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.stack([n[0] for n in nxt]), want_a[9:], atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.stack([n[1] for n in nxt]), want_b[4:9], atol=1e-5, rtol=0)
    torch.testing.assert_close(last, want_b[9], atol=1e-5, rtol=0)


def _generate_without_cache(model, idx, n, temperature, generator=None):
    """GPT.generate as it was before the cache: the whole window (its last block_size tokens) at every step."""
    with torch.no_grad():
        for _ in range(n):
            logits = model(idx[:, -model.config.block_size:])[:, -1].float()
            if temperature == 0:
                next_id = logits.argmax(-1, keepdim=True)
            else:
                next_id = torch.multinomial(gpt.next_token_probs(logits, temperature), 1, generator=generator)
            idx = torch.cat([idx, next_id], dim=1)
    return idx


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_generate_with_the_cache_slides_its_window_as_before(temperature):
    """From 6 tokens to 30 with block_size 16: steps 1–10 use the cache, then the window slides and every step
    reads its last 16 tokens afresh (the positions moved). Same tokens as without the cache, greedy or sampled."""
    torch.manual_seed(0)
    model = gpt.GPT(small_config()).eval()
    prompt = torch.randint(0, 37, (3, 6))
    got = model.generate(prompt, 24, temperature, generator=torch.Generator().manual_seed(5))
    want = _generate_without_cache(model, prompt, 24, temperature, torch.Generator().manual_seed(5))
    assert got.shape == (3, 30) and torch.equal(got, want)


def test_next_token_probs():
    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0], [0.0, 0.0, 5.0, 1.0]])
    assert torch.allclose(gpt.next_token_probs(logits, 2.0), (logits / 2).softmax(-1))
    p = gpt.next_token_probs(logits, 1.0, top_k=2)
    assert torch.allclose(p.sum(-1), torch.ones(2))
    assert p[0, 0] == 0 and p[0, 3] == 0 and p[1, 0] == 0 and p[1, 1] == 0
    assert torch.equal(gpt.next_token_probs(logits, 0), torch.tensor([[0.0, 1, 0, 0], [0, 0, 1, 0]]))
    assert torch.allclose(gpt.next_token_probs(logits, 1.0, top_k=10), logits.softmax(-1))


def test_checkpoint_round_trip_keeps_the_embeddings_tied(tmp_path):
    model = gpt.GPT(small_config())
    checkpoint.save(model, model.config, tmp_path / "tiny")
    loaded = checkpoint.load(gpt.GPT, gpt.GPTConfig, tmp_path / "tiny")
    assert loaded.lm_head.weight is loaded.token_embedding.weight
    x = torch.randint(0, 37, (1, 9))
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), loaded(x))


# -- zoo.gpt_shakespeare: data, loss, the recipe ----------------------------------------------------------------

def test_batches_are_windows_shifted_by_one():
    ids = torch.arange(100)
    get_batch = gpt_shakespeare.batch_fn(ids, ids + 1000, block_size=8, batch_size=4, seed=0)
    x, y = get_batch("train")
    assert x.shape == y.shape == (4, 8) and torch.equal(y, x + 1)
    assert (get_batch("val")[0] >= 1000).all()
    again = gpt_shakespeare.batch_fn(ids, ids + 1000, block_size=8, batch_size=4, seed=0)("train")[0]
    assert torch.equal(again, x)                                   # seeded: the same batches every run


@pytest.mark.parametrize("length", [33, 40, 2])
def test_nats_per_char_scores_every_character_once(length):
    torch.manual_seed(0)
    model = gpt.GPT(small_config(block_size=8)).eval()
    ids = torch.randint(0, 37, (length,))
    total = 0.0
    with torch.no_grad():
        for s in range(0, length - 1, 8):
            x = ids[s : min(s + 8, length - 1)]
            total += F.cross_entropy(model(x[None])[0], ids[s + 1 : s + 1 + len(x)], reduction="sum").item()
    assert gpt_shakespeare.nats_per_char(model, ids, batch_size=2) == pytest.approx(total / (length - 1), rel=1e-5)


def test_corpus_holds_out_the_tempest_and_every_character_encodes():
    train_text, val_text = gpt_shakespeare.corpus("quick")
    assert "PROSPERO" in val_text and "PROSPERO" not in train_text and "HAMLET" in train_text
    assert 700_000 < len(train_text) < 1_000_000
    tok = gpt_shakespeare.tokenizer()
    assert tok.vocab_size == 82 and tok.decode(tok.encode(val_text[:500])) == val_text[:500]
    assert sum(len(line) + 1 for line in gpt_shakespeare.char_lines(val_text)) == len(val_text) + 1


def test_recipe_writes_a_loadable_checkpoint(tmp_path, monkeypatch):
    tiny = gpt_shakespeare.Recipe(gpt.GPTConfig(n_layer=1, n_head=2, d_model=16, block_size=16),
                         gpt_shakespeare.TrainConfig(max_steps=3, eval_every=0, eval_steps=1), batch_size=2,
                         plays=["macbeth"])
    monkeypatch.setitem(gpt_shakespeare.RECIPES, "quick", tiny)
    path = gpt_shakespeare.train_gpt_shakespeare(tmp_path, size="quick", device="cpu")
    assert path == tmp_path / "gpt_shakespeare.safetensors"
    model, tok = gpt_shakespeare.load_gpt_shakespeare(path=path)
    assert model.config.d_model == 16 and tok.vocab_size == model.config.vocab_size == 82


def test_shipped_checkpoint_is_small_and_verified():
    path = checkpoint.verify(gpt_shakespeare.NAME)
    assert path.stat().st_size <= 10 * 2**20
    model, tok = gpt_shakespeare.load_gpt_shakespeare()
    assert model.config.vocab_size == tok.vocab_size == 82 and model.config.prenorm


def test_shipped_gpt_beats_the_best_character_ngram():
    model, tok = gpt_shakespeare.load_gpt_shakespeare()
    train_text, val_text = gpt_shakespeare.corpus("quick")
    gpt_loss = gpt_shakespeare.nats_per_char(model, gpt_shakespeare.encode(val_text, tok))
    lines = gpt_shakespeare.char_lines(train_text)
    best = math.inf
    for n in (4, 5):  # the best n on this split (lesson 04 sweeps 1–6: 4 and 5 win)
        counted = ngram.NGramModel(n=n).fit(lines)
        for k in (0.03, 0.1):
            counted.k = k
            best = min(best, gpt_shakespeare.ngram_nats_per_char(counted, val_text))
    print(f"held-out nats/char: GPT {gpt_loss:.3f}, best n-gram {best:.3f}")
    assert gpt_loss < best - 0.05
    assert gpt_loss < math.log(tok.vocab_size) / 2                 # far better than a uniform guess


# -- hidden checks (autograder.checks.l04_gpt) ------------------------------------------------------

def run_call(name, impl, seed):
    """[(case, value as the grader sees it, the check's message)]: what the grader does for kind "call"."""
    return run_check("04_gpt", name, impl, seed)


def run_module(cls, seed):
    """What the grader's harness does for kind "module": build, load the state, eval, call under no_grad."""
    return run_check("04_gpt", "Block", cls, seed)


LearnerBlock = ANSWERS["Block"]  # the lesson's skeleton with the solution's forward; subclasses fill it in as
                                 # learners might


class PostLN(LearnerBlock):
    def forward(self, x):
        x = self.ln_1(x + self.attn(x, mask=causal_mask(x.size(1))))
        return self.ln_2(x + self.mlp(x))


class NoMask(LearnerBlock):
    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NoResidual(LearnerBlock):
    def forward(self, x):
        return self.mlp(self.ln_2(self.attn(self.ln_1(x), mask=causal_mask(x.size(1)))))


class ReturnsTuple(LearnerBlock):
    def forward(self, x):
        return x, x


ref_count, ref_probs, ref_chat = (ANSWERS[g] for g in ("count_parameters", "next_token_probs", "build_chat_prompt"))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_cases_are_plain_data_with_a_fixed_structure(name):
    sizes = {len(CHECKS[name].cases(random.Random(s))) for s in SEEDS}
    assert len(sizes) == 1                                         # partial credit is the same fraction every time
    for case in CHECKS[name].cases(random.Random(0)):
        json.dumps(encode((case.args, case.kwargs, case.state, case.inputs)))
    a, b = (CHECKS[name].cases(random.Random(s)) for s in (1, 2))
    assert repr(a) != repr(b)                                      # other inputs for another submission


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["count_parameters", "next_token_probs", "build_chat_prompt"])
def test_the_solution_passes(name, seed):
    problems = [msg for _, _, msg in run_call(name, ANSWERS[name], seed)]
    assert problems == [None] * len(problems)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_solution_block_passes(seed):
    problems = [msg for _, _, msg in run_module(LearnerBlock, seed)]
    assert problems == [None] * len(problems)


def test_the_library_answers_pass_too():
    assert all(m is None for _, _, m in run_call("count_parameters", lambda c: gpt.num_parameters(gpt.GPTConfig(**c)), 0))
    assert all(m is None for _, _, m in run_call("next_token_probs", gpt.next_token_probs, 0))
    assert all(m is None for _, _, m in run_module(gpt.Block, 0))


@pytest.mark.parametrize("cls, hint", [(PostLN, "post-LN"), (NoMask, "causal_mask"), (NoResidual, "residual"),
                                       (ReturnsTuple, "tuple")])
def test_block_mistakes_get_their_hint(cls, hint):
    messages = [m for _, _, m in run_module(cls, 0) if m]
    assert messages and hint in messages[0], messages[:1]


@pytest.mark.parametrize("wrong, hint", [
    (lambda c: ref_count(c) + c["vocab_size"] * c["d_model"], "tied"),
    (lambda c: ref_count(c) - c["block_size"] * c["d_model"], "position embedding"),
    (lambda c: ref_count(c) + (0 if c["prenorm"] else 2 * c["d_model"]), "final LayerNorm"),
    (lambda c: ref_count(c) - c["n_layer"] * 6 * c["d_model"] ** 2 - c["n_layer"] * 3 * c["d_model"], "4·d_model"),
    (lambda c: float(ref_count(c)) + 0.5, "expected"),
    (lambda c: str(ref_count(c)), "str"),
])
def test_count_mistakes_get_their_hint(wrong, hint):
    messages = [m for _, _, m in run_call("count_parameters", wrong, 0) if m]
    assert messages and hint in messages[0], messages[:1]


def test_count_accepts_a_whole_float():
    assert all(m is None for _, _, m in run_call("count_parameters", lambda c: float(ref_count(c)), 0)[:3])


def _no_renormalise(logits, temperature=1.0, top_k=None):
    p = ref_probs(logits.clone(), temperature)
    if top_k is not None and temperature:
        p[p < torch.topk(p, top_k).values[-1]] = 0.0
    return p


@pytest.mark.parametrize("wrong, hint", [
    (lambda lg, t=1.0, k=None: ref_probs(lg * t, 1.0, k) if t else ref_probs(lg, 0), "multiplied"),
    (lambda lg, t=1.0, k=None: lg / t if t else ref_probs(lg, 0), "returned the (scaled) logits"),
    (lambda lg, t=1.0, k=None: ref_probs(lg.clone(), t, None), "top_k"),
    (_no_renormalise, "sum to 1"),
    (lambda lg, t=1.0, k=None: int(lg.argmax()) if t == 0 else ref_probs(lg.clone(), t, k), "not the token"),
    (lambda lg, t=1.0, k=None: ref_probs(lg.clone(), t, k) if t else (lg / t).softmax(-1), "NaN"),
])
def test_probs_mistakes_get_their_hint(wrong, hint):
    messages = [m for _, _, m in run_call("next_token_probs", wrong, 0) if m]
    assert messages and hint in messages[0], messages[:1]


def test_probs_top_k_off_by_one_is_named():
    def k_minus_one(logits, temperature=1.0, top_k=None):
        return ref_probs(logits.clone(), temperature, top_k - 1 if top_k and top_k > 1 else top_k)
    messages = [m for case, _, m in run_call("next_token_probs", k_minus_one, 0) if m]
    assert messages and "one too few" in messages[0]


@pytest.mark.parametrize("wrong, hint", [
    (lambda turns, sp, n: ("".join(f"{s}\n{t}\n\n" for s, t in turns) + sp + "\n")[:n], "kept the beginning"),
    (lambda turns, sp, n: ("".join(f"{s}\n{t}\n\n" for s, t in turns) + sp + "\n")[-n:], "whole turns"),
    (lambda turns, sp, n: "".join(f"{s}\n{t}\n\n" for s, t in turns) + sp + "\n", "at most block_size"),
    (lambda turns, sp, n: ref_chat(turns, sp, n).removesuffix(sp + "\n"), "next speaker"),
    (lambda turns, sp, n: None, "return"),
    (lambda turns, sp, n: l04.reference_prompt(turns, sp, n, strict=True), "exactly block_size="),
    (lambda turns, sp, n: ("".join(f"{s}\n{t}\n\n" for s, t in turns) + sp + "\n")[n:], "full[block_size:] drops"),
    (lambda turns, sp, n: ref_chat(turns, sp, n).replace("\n\n", "\n", 1), "Compare the two texts"),
])
def test_chat_mistakes_get_their_hint(wrong, hint):
    messages = [m for _, _, m in run_call("build_chat_prompt", wrong, 0) if m]
    assert messages and hint in messages[0], messages[:1]


def test_chat_reference_examples():
    turns = [("ROMEO", "Good morrow."), ("JULIET", "Good night!")]
    assert l04.reference_prompt(turns, "ROMEO", 30) == "JULIET\nGood night!\n\nROMEO\n"
    assert l04.reference_prompt(turns, "ROMEO", 10) == "t!\n\nROMEO\n"
    assert l04.reference_prompt([], "HAMLET", 3) == "ET\n"
    full = "ROMEO\nGood morrow.\n\nJULIET\nGood night!\n\nROMEO\n"
    assert l04.reference_prompt(turns, "ROMEO", len(full)) == full


def test_config_dict_round_trips():
    config = gpt.GPTConfig.preset("nano", vocab_size=82)
    assert gpt.GPTConfig(**gpt.config_dict(config)) == config == dataclasses.replace(config)
