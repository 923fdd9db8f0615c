"""shikumi.transformer and shikumi.translation (lesson 03), and the hidden checks of lesson 03.

The encoder–decoder is checked against PyTorch's own nn.TransformerEncoderLayer / nn.TransformerDecoderLayer with the
same weights; the shipped translator against its promises (held-out exact match ≥ 95 %, slide 28's example); the
checks module against the right answer (full marks) and the classic mistakes (their specific hint).
"""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
from torch import nn

from autograder.checks import for_lesson
from autograder.checks import l03_transformer as l03
from autograder.plain import decode, encode
from shikumi import checkpoint, translation, zoo
from shikumi.lang import speaking
from shikumi.transformer import (
    DecoderLayer,
    EncoderLayer,
    Transformer,
    TransformerConfig,
    sinusoidal_positional_encoding,
)
from shikumi.zoo import translator

CHECKS = for_lesson("03_transformer")

SEEDS = range(4)


@pytest.fixture(autouse=True)
def _no_fast_path():
    """PyTorch's fused inference path returns zeros at padded positions; compare with the plain math instead."""
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    yield
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(True)


def round_trip(value):
    return decode(json.loads(json.dumps(encode(value))))


# -- the model ------------------------------------------------------------------------------------

def test_positional_encoding_is_the_papers_formula():
    pe = sinusoidal_positional_encoding(10, 8)
    assert pe.shape == (10, 8)
    for pos in (0, 3, 9):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert len({tuple(row.tolist()) for row in sinusoidal_positional_encoding(24, 64)}) == 24  # every row differs
    with pytest.raises(ValueError):
        sinusoidal_positional_encoding(4, 7)


def _copy_attention(ours, theirs: nn.MultiheadAttention):
    theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
    theirs.out_proj.weight.copy_(ours.out_proj.weight)
    theirs.out_proj.bias.copy_(ours.out_proj.bias)


def _copy_rest(ours, theirs, norms):
    theirs.linear1.load_state_dict(ours.ff.fc1.state_dict())
    theirs.linear2.load_state_dict(ours.ff.fc2.state_dict())
    for n in norms:
        getattr(theirs, n).load_state_dict(getattr(ours, n).state_dict())


def _randomise(module, seed):
    """Random weights everywhere, LayerNorms included, so that a mixed-up norm would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if "norm" in name and name.endswith("weight") else 0))


@pytest.mark.parametrize("prenorm", [False, True])
def test_encoder_layer_matches_torch(prenorm):
    d, h, ff = 16, 4, 32
    ours = EncoderLayer(d, h, ff, prenorm=prenorm).eval()
    _randomise(ours, 0)
    theirs = nn.TransformerEncoderLayer(d, h, ff, dropout=0.0, batch_first=True, norm_first=prenorm).eval()
    with torch.no_grad():
        _copy_attention(ours.self_attn, theirs.self_attn)
        _copy_rest(ours, theirs, ("norm1", "norm2"))
        tokens = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]])
        x = torch.randn(2, 5, d, generator=torch.Generator().manual_seed(1))
        got = ours(x, mask=(tokens != 0)[:, None, None, :])
        want = theirs(x, src_key_padding_mask=tokens == 0)
    real = tokens != 0
    torch.testing.assert_close(got[real], want[real], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("prenorm", [False, True])
def test_decoder_layer_matches_torch(prenorm):
    d, h, ff, T = 16, 4, 32, 4
    ours = DecoderLayer(d, h, ff, prenorm=prenorm).eval()
    _randomise(ours, 2)
    theirs = nn.TransformerDecoderLayer(d, h, ff, dropout=0.0, batch_first=True, norm_first=prenorm).eval()
    with torch.no_grad():
        _copy_attention(ours.self_attn, theirs.self_attn)
        _copy_attention(ours.cross_attn, theirs.multihead_attn)
        _copy_rest(ours, theirs, ("norm1", "norm2", "norm3"))
        g = torch.Generator().manual_seed(3)
        x, memory = torch.randn(2, T, d, generator=g), torch.randn(2, 5, d, generator=g)
        src = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 0, 0, 0]])
        got = ours(x, memory, src_mask=(src != 0)[:, None, None, :])
        want = theirs(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
                      memory_key_padding_mask=src == 0)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_post_ln_stacks_match_torch_without_a_final_norm():
    config = TransformerConfig(src_vocab_size=20, tgt_vocab_size=15, d_model=16, n_head=2, n_layer=2, d_ff=32)
    torch.manual_seed(0)
    model = Transformer(config).eval()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True), 2,
                                enable_nested_tensor=False).eval()
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 2, 32, 0.0, batch_first=True), 2).eval()
    src, tgt = torch.tensor([[4, 5, 6, 7], [4, 5, 0, 0]]), torch.tensor([[1, 8, 9], [1, 10, 0]])
    with torch.no_grad():
        for ours, theirs in zip(model.encoder, enc.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_rest(ours, theirs, ("norm1", "norm2"))
        for ours, theirs in zip(model.decoder, dec.layers):
            _copy_attention(ours.self_attn, theirs.self_attn)
            _copy_attention(ours.cross_attn, theirs.multihead_attn)
            _copy_rest(ours, theirs, ("norm1", "norm2", "norm3"))
        memory = enc(model.embed(model.src_embed, src), src_key_padding_mask=src == 0)
        hidden = dec(model.embed(model.tgt_embed, tgt), memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3),
                     memory_key_padding_mask=src == 0)
        torch.testing.assert_close(model(src, tgt), model.lm_head(hidden), atol=1e-5, rtol=1e-4)


def test_pre_ln_adds_final_norms_and_changes_the_output():
    kw = dict(src_vocab_size=20, tgt_vocab_size=15, d_model=16, n_head=2, n_layer=1, d_ff=32)
    post, pre = Transformer(TransformerConfig(**kw)), Transformer(TransformerConfig(**kw, prenorm=True))
    assert isinstance(post.enc_ln_f, nn.Identity) and isinstance(pre.enc_ln_f, nn.LayerNorm)
    pre.load_state_dict(post.state_dict(), strict=False)
    src, tgt = torch.tensor([[4, 5, 6]]), torch.tensor([[1, 8]])
    assert not torch.allclose(post.eval()(src, tgt), pre.eval()(src, tgt))


def test_decoder_is_causal_and_generate_is_stepwise_argmax():
    torch.manual_seed(1)
    model = Transformer(TransformerConfig.preset("tiny", src_vocab_size=20, tgt_vocab_size=15)).eval()
    src = torch.tensor([[4, 5, 6, 7]])
    with torch.no_grad():
        a = model(src, torch.tensor([[1, 8, 9, 10]]))
        b = model(src, torch.tensor([[1, 8, 9, 11]]))
    torch.testing.assert_close(a[:, :3], b[:, :3])                  # changing the last word changes nothing before it
    assert not torch.allclose(a[:, 3], b[:, 3])
    out = model.generate(src, bos_id=1, eos_id=2, max_new_tokens=6)[0].tolist()
    scores = translation.NextWordScores(model, [4, 5, 6, 7])
    expected = l03._greedy(_Table(scores), 1, 2, 6)
    assert out[: len(expected)] == expected


class _Table:
    """A NextWordScores that looks like a dict to the checks' reference greedy decoder."""

    def __init__(self, scores):
        self.scores = scores

    def __getitem__(self, prefix):
        return self.scores[prefix]


def test_generate_pads_after_eos_in_a_batch():
    torch.manual_seed(2)
    model = Transformer(TransformerConfig.preset("tiny", src_vocab_size=20, tgt_vocab_size=15)).eval()
    out = model.generate(torch.tensor([[4, 5, 6], [7, 8, 0]]), bos_id=1, eos_id=2, max_new_tokens=5)
    for row in out.tolist():
        if 2 in row:
            assert all(t == 0 for t in row[row.index(2) + 1:])


# -- the data -------------------------------------------------------------------------------------

def _triple(ja):
    subject = ja[ja.index("は") - 1]
    verb = next(v[0].split()[0] for v in translation.VERBS if ja[-1] in v[0].split())
    return subject, verb, ja[ja.index("を") - 1]


def test_grammar_keeps_the_heldout_triples_out_of_training():
    src_tok, tgt_tok = translation.build_tokenizers()
    rng = random.Random(0)
    train = [translation.sample_pair(rng) for _ in range(3000)]
    heldout = translation.heldout_pairs()
    for ja, en in train + heldout:
        assert src_tok.unk_id not in src_tok.encode(ja) and tgt_tok.unk_id not in tgt_tok.encode(en), (ja, en)
    statements = [ja for ja, _ in train if "は" in ja]
    assert len(statements) > 2500 and not any(_triple(ja) in translation.HELDOUT_TRIPLES for ja in statements)
    assert all(_triple(ja) in translation.HELDOUT_TRIPLES for ja, _ in heldout)
    assert heldout == translation.heldout_pairs()                  # deterministic
    assert ("私", "建てる", "家") in translation.HELDOUT_TRIPLES


def test_english_agrees_with_the_subject_and_puts_the_verb_second():
    rng = random.Random(1)
    persons = {ja: (en.split(), person) for ja, en, person in translation.SUBJECTS}
    be = {"1": "am", "3": "is", "p": "are"}
    checked = 0
    for _ in range(2000):
        ja, en = translation.sample_pair(rng)
        if "は" not in ja:
            continue                                                # a request: 「なんか 喋って」
        subject, person = persons[ja[ja.index("は") - 1]]
        forms, english, _ = next(v for v in translation.VERBS if ja[-1] in v[0].split())
        base, third, past, ing = english.split()
        after_subject = en[len(subject):len(subject) + 2]
        kind = forms.split().index(ja[-1])                          # which of the 9 Japanese forms ends the sentence
        expected = {0: [third if person == "3" else base], 1: [third if person == "3" else base], 2: [past],
                    3: [past], 4: ["does" if person == "3" else "do", "not"], 5: ["did", "not"],
                    6: [be[person], ing], 7: [be[person], ing]}[kind]
        assert en[: len(subject)] == subject and after_subject[: len(expected)] == expected, (ja, en)
        checked += 1
    assert checked > 1800


def test_segment_splits_typed_japanese_longest_match_first():
    vocab = translation.build_tokenizers()[0].stoi
    assert translation.segment("私は家を建てた", vocab) == ["私", "は", "家", "を", "建てた"]
    assert translation.segment("私たちは 昨日、公園で本を読んだ。", vocab) == ["私たち", "は", "昨日", "公園", "で", "本",
                                                                             "を", "読んだ"]
    assert translation.segment("猫は魚を食べた", vocab) == ["猫", "は", "魚", "を", "食べた"]  # unknown words kept
    assert translation.segment("", vocab) == []


def test_make_batch_is_teacher_forcing():
    src_tok, tgt_tok = translation.build_tokenizers()
    src, dec_in, labels = translation.make_batch([(["なんか", "喋って"], ["speak", "something"])], src_tok, tgt_tok)
    assert dec_in[0].tolist() == [tgt_tok.bos_id] + tgt_tok.encode(["speak", "something"])
    assert labels[0].tolist() == tgt_tok.encode(["speak", "something"]) + [tgt_tok.eos_id]


# -- the shipped translator -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return translator.load_translator()


def test_shipped_translator_is_small_and_verified():
    path = checkpoint.verify(translator.NAME)
    assert path.stat().st_size < 10 * 2**20
    history = zoo.history("translator")
    assert history["train_seconds"] <= 90 and history["heldout_exact_match"] >= 0.95


def test_shipped_translator_translates_heldout_sentences(shipped):
    model, src_tok, tgt_tok = shipped
    assert translation.exact_match(model, src_tok, tgt_tok, translation.heldout_pairs()) >= 0.95
    assert translation.translate(model, src_tok, tgt_tok, "私は家を建てた") == ["i", "built", "a", "house"]
    assert translation.translate(model, src_tok, tgt_tok, "なんか喋って") == ["speak", "something"]


def test_cross_attention_follows_the_verb_to_the_end_of_the_sentence(shipped):
    model, src_tok, tgt_tok = shipped
    ja, en, weights = translation.cross_attention_map(model, src_tok, tgt_tok, "私は家を建てた")
    assert weights.shape == (len(en) + 1, len(ja))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(len(en) + 1))
    looked_at = {e: ja[int(weights[i].argmax())] for i, e in enumerate(en)}
    assert looked_at["i"] == "私" and looked_at["built"] == "建てた" and looked_at["house"] == "家"


def test_a_short_training_run_beats_guessing(tmp_path):
    path = translator.train_translator(tmp_path, size="tiny", device="cpu", max_steps=120, progress=False)
    history = zoo.history("translator", tmp_path)
    uniform = math.log(translation.build_tokenizers()[1].vocab_size)
    assert history["eval_loss"][-1] < 0.5 * uniform
    model, src_tok, tgt_tok = translator.load_translator(directory=path.parent)
    assert model.config.d_model == 32 and tgt_tok.itos == translation.build_tokenizers()[1].itos


def test_the_same_model_learns_to_chat():
    chat_src, chat_tgt = translation.chat_tokenizers()
    torch.manual_seed(0)
    bot = Transformer(TransformerConfig.preset("tiny", src_vocab_size=chat_src.vocab_size,
                                               tgt_vocab_size=chat_tgt.vocab_size))
    from shikumi.train import TrainConfig

    get_batch = translation.batch_sampler(lambda rng: rng.choice(translation.CHAT_PAIRS), translation.CHAT_PAIRS,
                                          chat_src, chat_tgt, batch_size=16)
    translation.train_small(bot, get_batch, TrainConfig(max_steps=150, lr=3e-3, warmup_steps=10, eval_every=0,
                                                        device="cpu", progress=False))
    assert "".join(translation.translate(bot, chat_src, chat_tgt, "なんか喋って")) == "はい、喜んでお話しします！"


# -- the hidden checks ----------------------------------------------------------------------------

def _learner(gid):
    """The right answer, as a learner could write it (here: the library)."""
    return {
        "positional_encoding": sinusoidal_positional_encoding,
        "EncoderLayer": EncoderLayer,
        "DecoderLayer": DecoderLayer,
        "decoder_input_and_labels": lambda t, b, e: ([b] + list(t), list(t) + [e]),
        "greedy_decode": lambda table, b, e, n: l03._greedy(table, b, e, n),
    }[gid]


def _run(check, impl, case):
    """What the harness does in the kernel, with the same JSON round trips."""
    args, kwargs = round_trip(case.args), round_trip(case.kwargs)
    if check.kind == "module":
        module = impl(*args, **kwargs)
        module.load_state_dict(dict(round_trip(case.state)))
        with torch.no_grad():
            return round_trip(module.eval()(*round_trip(case.inputs)))
    return round_trip(impl(*args, **kwargs))


@pytest.mark.parametrize("gid", list(CHECKS))
def test_right_answers_pass_every_case(gid):
    check = CHECKS[gid]
    counts = set()
    for seed in SEEDS:
        cases = check.cases(random.Random(seed))
        counts.add(len(cases))
        for case in cases:
            assert check.verify(case, _run(check, _learner(gid), case)) is None
    assert len(counts) == 1  # a fixed number of cases: partial credit means the same on every seed


def test_pe_reference_is_the_library():
    for T, d in ((5, 8), (30, 64)):
        torch.testing.assert_close(l03._pe(T, d).float(), sinusoidal_positional_encoding(T, d), atol=1e-5, rtol=0)


@pytest.mark.parametrize("mistake", list(l03.PE_HINTS))
def test_positional_encoding_mistakes_get_their_hint(mistake):
    case = l03.pe_cases(random.Random(0))[1]
    message = l03.pe_verify(case, round_trip(l03._pe(*case.args, mistake).float()))
    assert message and l03.PE_HINTS[mistake] in message
    assert "shape (12, 16), got shape (16, 12)" in l03.pe_verify(case, round_trip(torch.zeros(16, 12)))


@pytest.mark.parametrize("mistake", list(l03.ENCODER_HINTS))
def test_encoder_mistakes_get_their_hint(mistake):
    case = l03.encoder_cases(random.Random(1))[0]                 # the case with padding
    message = l03.encoder_verify(case, round_trip(l03._encoder(case, mistake)))
    assert message and l03.ENCODER_HINTS[mistake] in message, message


@pytest.mark.parametrize("mistake", list(l03.DECODER_HINTS))
def test_decoder_mistakes_get_their_hint(mistake):
    case = l03.decoder_cases(random.Random(1))[0]
    message = l03.decoder_verify(case, round_trip(l03._decoder(case, mistake)))
    assert message and l03.DECODER_HINTS[mistake] in message, message


@pytest.mark.parametrize("answer, hint", [
    (lambda t, b, e: ([b] + t + [e], t + [e]), "has no </s>"),
    (lambda t, b, e: ([b] + t, t), "end with </s>"),
    (lambda t, b, e: (t + [e], [b] + t), "swapped"),
    (lambda t, b, e: ([b] + t, [b] + t + [e]), "do not start with <s>"),
])
def test_teacher_forcing_mistakes_get_their_hint(answer, hint):
    case = l03.io_cases(random.Random(0))[0]
    assert hint in l03.io_verify(case, round_trip(answer(*case.args)))


def test_greedy_mistakes_get_their_hint():
    cases = l03.greedy_cases(random.Random(0))
    normal, capped = cases[0], cases[1]                          # stops at </s>; stops at max_len

    def with_bos(table, b, e, n):
        return [b] + l03._greedy(table, b, e, n)

    def with_eos(table, b, e, n):
        return l03._greedy(table, b, e, n) + [e]

    def never_stops(table, b, e, n):
        prefix = (b,)
        for _ in range(n):
            prefix += (int(table[prefix].argmax()),)
        return list(prefix[1:])

    def one_short(table, b, e, n):
        return l03._greedy(table, b, e, n - 1)

    def argmin(table, b, e, n):
        return [int(table[(b,)].argmin())]

    assert "without the <s>" in l03.greedy_verify(normal, _run(CHECKS["greedy_decode"], with_bos, normal))
    assert "do not include it" in l03.greedy_verify(normal, _run(CHECKS["greedy_decode"], with_eos, normal))
    assert "Stop as soon as" in l03.greedy_verify(normal, _run(CHECKS["greedy_decode"], never_stops, normal))
    assert "one word early" in l03.greedy_verify(capped, _run(CHECKS["greedy_decode"], one_short, capped))
    assert "argmax" in l03.greedy_verify(normal, _run(CHECKS["greedy_decode"], argmin, normal))
    assert "list of ints" in l03.greedy_verify(normal, round_trip([1.5, 2.5]))


def test_positional_encoding_with_no_known_mistake_says_what_to_compare():
    """Issue 13: "values differ … expected 0.389418, got 0.0399893" alone named nothing. An unforeseen slip (base
    1000) gets the formula at the worst entry, with its numbers."""
    case = l03.pe_cases(random.Random(0))[0]
    T, d = case.args
    angle = torch.arange(T, dtype=torch.float64)[:, None] / 1000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    wrong = torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(T, d).float()
    message = l03.pe_verify(case, round_trip(wrong))
    assert "Compare by hand: PE[4, 2] should be sin(4 / 10000^(2/8)) = 0.389418" in message, message
    assert not any(hint in message for hint in l03.PE_HINTS.values())
    with speaking("ja"):
        assert "PE[4, 2] は sin(4 / 10000^(2/8)) = 0.389418 のはずです" in l03.pe_verify(case, round_trip(wrong))


def test_the_live_sampler_shows_each_sentence_and_its_translation():
    """Lesson 03 watches its translator learn through this: one line per sentence, source → translation."""

    model, src_tok, tgt_tok = translator.load_translator("cpu")
    lines = translator.sampler(("私は家を建てた",), src_tok, tgt_tok)(model).splitlines()
    assert lines == ["私は家を建てた → i built a house"]
