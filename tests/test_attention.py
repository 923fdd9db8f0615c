"""shikumi.attention against PyTorch's own attention, and lesson 02's hidden checks (autograder.checks.l02_attention).

Part 1: the explicit math path of `scaled_dot_product_attention` (the one learners read, and the one that returns
the weights) against `torch.nn.functional.scaled_dot_product_attention`, with and without masks; and
`MultiHeadAttention` against `torch.nn.MultiheadAttention` with the same weights, for self- and cross-attention.

Part 2: the solution's own answers pass every check, and the classic mistakes get their specific hint. Values travel through autograder.plain both ways, as they do in real grading.
"""

from __future__ import annotations

import functools
import math
import random

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checks import for_lesson
from shikumi.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from tests.conftest import graded_value, plain, round_trip, run_check, solution_answers

LESSON = "02_attention"
CHECKS = for_lesson(LESSON)
SEEDS = range(5)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Thousands of tiny tensor operations: on a busy machine, more CPU threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def padded_tokens(B=3, T=6, pad_id=0, seed=0):
    """(B, T) token ids, each sentence 2..T real tokens (ids >= 1) followed by pad_id; the first is padded."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 9, (B, T), generator=g)
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    lengths[0] = T - 2
    tokens[torch.arange(T)[None, :] >= lengths[:, None]] = pad_id
    return tokens


# =====================================================================================================
# Part 1 — shikumi.attention
# =====================================================================================================

def test_causal_mask_is_lower_triangular_bool():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [[True, False, False, False], [True, True, False, False],
                          [True, True, True, False], [True, True, True, True]]


def test_padding_mask_marks_real_tokens_and_broadcasts_over_heads_and_queries():
    tokens = torch.tensor([[5, 6, 7, 0], [5, 0, 0, 0]])
    m = padding_mask(tokens, pad_id=0)
    assert m.shape == (2, 1, 1, 4) and m.dtype == torch.bool
    assert m[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]
    assert torch.broadcast_shapes(m.shape, (2, 8, 4, 4)) == (2, 8, 4, 4)


MASKS = ["none", "causal", "padding", "causal+padding", "cross", "cross+padding"]


def attention_inputs(kind, seed=0):
    """q (B, H, T_q, d), k and v (B, H, T_k, d), and a bool mask (True = may look) or None."""
    B, H, T, d = 3, 2, 6, 8
    T_k = 4 if kind.startswith("cross") else T
    q, k, v = randn(B, H, T, d, seed=seed), randn(B, H, T_k, d, seed=seed + 1), randn(B, H, T_k, d, seed=seed + 2)
    mask = None
    if "causal" in kind:
        mask = causal_mask(T)
    if "padding" in kind:
        pad = padding_mask(padded_tokens(B, T_k, seed=seed), 0)          # (B, 1, 1, T_k)
        mask = pad if mask is None else mask & pad
    return q, k, v, mask


@pytest.mark.parametrize("kind", MASKS)
def test_explicit_path_matches_torch_sdpa(kind):
    q, k, v, mask = attention_inputs(kind)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, need_weights=True)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    # the fused path of the same function agrees too
    fused, none = scaled_dot_product_attention(q, k, v, mask=mask)
    assert none is None
    torch.testing.assert_close(fused, expected, rtol=1e-10, atol=1e-10)
    # the weights are a distribution over the allowed keys
    assert weights.shape == q.shape[:-1] + (k.shape[-2],)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=weights.dtype))
    if mask is not None:
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()
    torch.testing.assert_close(weights @ v, out)


def test_explicit_weights_are_the_formula_softmax_qk_over_sqrt_d():
    q, k, v, _ = attention_inputs("cross")
    _, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    by_hand = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)))
    torch.testing.assert_close(weights, by_hand / by_hand.sum(-1, keepdim=True))


def test_causal_mask_matches_torch_is_causal():
    q, k, v, _ = attention_inputs("none")
    out, weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(q.size(-2)), need_weights=True)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert (weights[..., 0, 1:] == 0).all() and torch.allclose(weights[..., 0, 0], torch.ones(()).double())


@pytest.mark.parametrize("need_weights", [False, True])
def test_is_causal_is_the_explicit_causal_mask(need_weights):
    """is_causal=True (GPT's fast path) = mask=causal_mask(T), on both paths, with the same weights."""
    q, k, v, _ = attention_inputs("none")
    want, want_weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(6), need_weights=True)
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=need_weights)
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-10)
    if need_weights:
        torch.testing.assert_close(weights, want_weights, rtol=0, atol=0)
    else:
        assert weights is None


def test_is_causal_refuses_a_mask_or_cross_attention():
    q, k, v, _ = attention_inputs("none")
    with pytest.raises(ValueError, match="is_causal"):
        scaled_dot_product_attention(q, k, v, mask=causal_mask(6), is_causal=True)
    q, k, v, _ = attention_inputs("cross")                         # T_q = 6, T_k = 4
    with pytest.raises(ValueError, match="T_q = T_k"):
        scaled_dot_product_attention(q, k, v, is_causal=True, need_weights=True)


def test_multihead_is_causal_matches_the_causal_mask_forward_and_backward():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    x = randn(2, 5, 8, seed=4)
    outs, grads = [], []
    for kwargs in ({"mask": causal_mask(5)}, {"is_causal": True}, {"is_causal": True, "need_weights": True}):
        mha.zero_grad()
        out = mha(x, **kwargs)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in mha.parameters()]))
    for out, grad in zip(outs[1:], grads[1:]):
        torch.testing.assert_close(out, outs[0])
        torch.testing.assert_close(grad, grads[0])
    assert mha.last_weights.shape == (2, 2, 5, 5) and (mha.last_weights[..., 0, 1:] == 0).all()


def test_causal_attention_does_not_see_the_future():
    """Changing the last word changes no earlier output: the property generation relies on."""
    q, k, v, _ = attention_inputs("none")
    out, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(6), need_weights=True)
    k2, v2 = k.clone(), v.clone()
    k2[..., -1, :] += 5.0
    v2[..., -1, :] -= 5.0
    out2, _ = scaled_dot_product_attention(q, k2, v2, mask=causal_mask(6), need_weights=True)
    torch.testing.assert_close(out[..., :-1, :], out2[..., :-1, :])
    assert not torch.allclose(out[..., -1, :], out2[..., -1, :])


def test_both_paths_agree_on_a_fully_masked_row():
    q, k, v, _ = attention_inputs("none")
    mask = causal_mask(6).clone()
    mask[0] = False                                      # query 0 may look nowhere (e.g. left padding + causal)
    explicit, _ = scaled_dot_product_attention(q, k, v, mask=mask, need_weights=True)
    fused, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(explicit, fused)


def torch_mha_with_weights_of(mine: MultiHeadAttention, d_model, n_head, d_context=None) -> nn.MultiheadAttention:
    """torch.nn.MultiheadAttention holding exactly `mine`'s weights (it packs q, k, v into in_proj_weight when
    keys and queries have the same width, and keeps them apart otherwise)."""
    ref = nn.MultiheadAttention(d_model, n_head, batch_first=True, kdim=d_context, vdim=d_context).double().eval()
    with torch.no_grad():
        if ref._qkv_same_embed_dim:
            ref.in_proj_weight.copy_(torch.cat([mine.q_proj.weight, mine.k_proj.weight, mine.v_proj.weight]))
        else:
            ref.q_proj_weight.copy_(mine.q_proj.weight)
            ref.k_proj_weight.copy_(mine.k_proj.weight)
            ref.v_proj_weight.copy_(mine.v_proj.weight)
        ref.in_proj_bias.copy_(torch.cat([mine.q_proj.bias, mine.k_proj.bias, mine.v_proj.bias]))
        ref.out_proj.weight.copy_(mine.out_proj.weight)
        ref.out_proj.bias.copy_(mine.out_proj.bias)
    return ref


@pytest.mark.parametrize("n_head", [1, 2, 8])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding"])
def test_multihead_self_attention_matches_torch(n_head, mask_kind):
    torch.manual_seed(0)
    B, T, d_model = 3, 6, 16
    mine = MultiHeadAttention(d_model, n_head).double().eval()
    ref = torch_mha_with_weights_of(mine, d_model, n_head)
    x = randn(B, T, d_model, seed=1)
    tokens = padded_tokens(B, T)
    mask = {"none": None, "causal": causal_mask(T), "padding": padding_mask(tokens, 0)}[mask_kind]
    # torch's masks say True where a query may NOT look: the opposite of ours
    torch_kwargs = {"none": {}, "causal": {"attn_mask": ~causal_mask(T)},
                    "padding": {"key_padding_mask": tokens == 0}}[mask_kind]
    with torch.no_grad():
        out = mine(x, mask=mask, need_weights=True)
        weights = mine.last_weights
        expected, expected_weights = ref(x, x, x, need_weights=True, average_attn_weights=False, **torch_kwargs)
        fused = mine(x, mask=mask)                         # the fast path gives the same output, and no weights
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, expected_weights)
    assert weights.shape == (B, n_head, T, T)
    torch.testing.assert_close(fused, expected)
    assert mine.last_weights is None


@pytest.mark.parametrize("d_context", [None, 12])
def test_multihead_cross_attention_matches_torch(d_context):
    """Queries from x (T_q = 5), keys and values from a context of another length (T_k = 7) and width."""
    torch.manual_seed(0)
    B, d_model, n_head = 2, 16, 4
    mine = MultiHeadAttention(d_model, n_head, d_context=d_context).double().eval()
    ref = torch_mha_with_weights_of(mine, d_model, n_head, d_context=d_context)
    x, context = randn(B, 5, d_model, seed=1), randn(B, 7, d_context or d_model, seed=2)
    tokens = padded_tokens(B, 7)
    with torch.no_grad():
        out = mine(x, context, need_weights=True)
        weights = mine.last_weights
        expected, expected_weights = ref(x, context, context, need_weights=True, average_attn_weights=False)
        masked = mine(x, context, mask=padding_mask(tokens, 0))
        expected_masked, _ = ref(x, context, context, key_padding_mask=tokens == 0)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, expected_weights)
    assert weights.shape == (B, n_head, 5, 7)
    torch.testing.assert_close(masked, expected_masked)


def test_split_and_merge_heads_are_inverse_and_slice_d_model_per_head():
    mha = MultiHeadAttention(12, 3)
    x = torch.arange(2 * 4 * 12.0).view(2, 4, 12)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 4, 4)
    assert torch.equal(heads[1, 2, 3], x[1, 3, 8:12])      # head 2 of word 3 = numbers 8..11 of that word
    assert torch.equal(mha.merge_heads(heads), x)


def test_d_model_must_be_divisible_by_n_head():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


def test_dropout_only_while_training():
    torch.manual_seed(0)
    plain, dropped = MultiHeadAttention(16, 4), MultiHeadAttention(16, 4, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 16)
    plain.eval(), dropped.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropped(x), plain(x))
        torch.testing.assert_close(dropped(x, need_weights=True), plain(x))
        dropped.train()
        assert not torch.allclose(dropped(x), plain(x))
        assert not torch.allclose(dropped(x, need_weights=True), plain(x))


def test_gradients_flow_through_both_paths_alike():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    x = randn(2, 4, 8, seed=3)
    grads = []
    for need_weights in (False, True):
        mha.zero_grad()
        mha(x, mask=causal_mask(4), need_weights=need_weights).pow(2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in mha.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])


# =====================================================================================================
# Part 2 — the hidden checks of lesson 02
# =====================================================================================================

# -- the one reference answer of each exercise: the solution's own (solutions/02_attention.py) --------------

ANSWERS = solution_answers(LESSON)
ref_softmax, ref_weights, ref_causal, ref_split, ref_merge = (
    ANSWERS[g] for g in ("softmax", "attention_weights", "causal_mask", "split_heads", "merge_heads"))
run = functools.partial(run_check, LESSON)


class LibraryMHSA(MultiHeadAttention):
    """The library layer with the exercise's signature forward(x, mask=None)."""

    def __init__(self, d_model, n_head):
        super().__init__(d_model, n_head)

    def forward(self, x, mask=None):
        return super().forward(x, mask=mask)


def call(name, impl, case):
    """What the grader would receive from `impl` on `case` (module or function), after the plain-data trip."""
    return graded_value(CHECKS[name], impl, case)


def same(a, b) -> bool:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return a.shape == b.shape and a.dtype == b.dtype and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


def expect_hint(name, wrong, hint, applies=lambda case: True, min_hits=1):
    """Every case that `wrong` gets wrong fails; where `applies`, its message contains `hint`."""
    hits = 0
    for seed in SEEDS:
        for case, value, message in run(name, wrong, seed):
            right = call(name, ANSWERS[name], case)
            if message is None:
                assert same(value, right), f"verify accepted a wrong answer for {case.args}"
                continue
            assert not same(value, right), f"verify rejected a right answer: {message}"
            if applies(case):
                assert hint in message, message
                hits += 1
    assert hits >= min_hits, f"no case triggered the hint {hint!r}"


# -- the registry and the cases ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CHECKS))
def test_cases_are_small_seeded_plain_data(name):
    check = CHECKS[name]
    first = check.cases(random.Random(3))
    assert plain(first_args := [(c.args, c.kwargs, c.state, c.inputs) for c in first]) == plain(
        [(c.args, c.kwargs, c.state, c.inputs) for c in check.cases(random.Random(3))])
    assert len(first) >= 5
    # other seeds give other inputs, so answers cannot be hard-coded — but the same structure, so that the
    # score of an answer does not depend on its luck
    others = [check.cases(random.Random(s)) for s in range(4, 8)]
    assert any(plain([(c.args, c.kwargs, c.state, c.inputs) for c in o]) != plain(first_args) for o in others)
    assert all(len(o) == len(first) for o in others)
    # tensors survive the trip through JSON, dtype included; and the whole spec stays small
    for case in first:
        assert plain(round_trip(case.args)) == plain(case.args)
    assert len(plain(first_args)) < 120_000


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(CHECKS))
def test_the_solution_passes(name, seed):
    for _case, _value, message in run(name, ANSWERS[name], seed):
        assert message is None, message


@pytest.mark.parametrize("name", [n for n in CHECKS if n != "MultiHeadSelfAttention"])
def test_returning_none_asks_for_return(name):
    for _case, _value, message in run(name, lambda *a, **k: None, 0):
        assert message is not None and "return" in message


def test_returning_weights_and_output_together_is_reported():
    def wrong(q, k, mask=None):
        w = ref_weights(q, k, mask)
        return w, w @ k

    for _case, _value, message in run("attention_weights", wrong, 0):
        assert message is not None and "tuple of 2 tensors" in message


# -- 2.1 softmax -------------------------------------------------------------------------------------------

def test_softmax_naive_overflows():
    def wrong(x, dim=-1):
        return torch.exp(x) / torch.exp(x).sum(dim=dim, keepdim=True)

    expect_hint("softmax", wrong, "overflows to inf", min_hits=2 * len(SEEDS))


def test_softmax_global_max_underflows():
    def wrong(x, dim=-1):
        e = torch.exp(x - x.max())
        return e / e.sum(dim=dim, keepdim=True)

    expect_hint("softmax", wrong, "each row's own max", min_hits=len(SEEDS))


def test_softmax_ignores_dim():
    def wrong(x, dim=-1):
        return ref_softmax(x, dim=-1)

    expect_hint("softmax", wrong, "use the `dim` argument", min_hits=2 * len(SEEDS))


def test_softmax_forgets_to_normalise():
    def wrong(x, dim=-1):
        return torch.exp(x - x.max(dim=dim, keepdim=True).values)

    expect_hint("softmax", wrong, "must sum to 1", min_hits=5 * len(SEEDS))


def test_softmax_divides_by_the_total():
    def wrong(x, dim=-1):
        e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
        return e / e.sum()

    expect_hint("softmax", wrong, "not by the sum of the whole tensor", applies=lambda case: case.args[0].dim() > 1,
                min_hits=4 * len(SEEDS))


# -- 2.2 attention_weights ------------------------------------------------------------------------------

def _has_mask(case):
    return case.kwargs.get("mask") is not None


def test_weights_without_sqrt_d():
    def wrong(q, k, mask=None):
        return ref_weights(q * math.sqrt(q.size(-1)), k, mask)

    expect_hint("attention_weights", wrong, "forget to divide the scores by √d", min_hits=6 * len(SEEDS))


def test_weights_divided_by_d():
    def wrong(q, k, mask=None):
        return ref_weights(q / math.sqrt(q.size(-1)), k, mask)

    expect_hint("attention_weights", wrong, "not by d =", min_hits=6 * len(SEEDS))


def test_weights_softmax_over_the_queries():
    def wrong(q, k, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-2)

    expect_hint("attention_weights", wrong, "wrong dimension", applies=lambda case: not _has_mask(case),
                min_hits=4 * len(SEEDS))


def test_weights_k_times_q():
    def wrong(q, k, mask=None):
        return ref_weights(k, q, mask)

    expect_hint("attention_weights", wrong, "q @ k.transpose(-2, -1)", min_hits=5 * len(SEEDS))


def test_weights_mask_after_softmax():
    def wrong(q, k, mask=None):
        w = ref_weights(q, k)
        return w if mask is None else w.masked_fill(~mask, 0.0)

    expect_hint("attention_weights", wrong, "after the softmax", applies=_has_mask, min_hits=2 * len(SEEDS))


def test_weights_mask_inverted():
    def wrong(q, k, mask=None):
        return ref_weights(q, k, None if mask is None else ~mask)

    expect_hint("attention_weights", wrong, "inverted", applies=_has_mask, min_hits=2 * len(SEEDS))


def test_weights_mask_filled_with_zero():
    def wrong(q, k, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
        if mask is not None:
            scores = scores.masked_fill(~mask, 0.0)
        return torch.softmax(scores, dim=-1)

    expect_hint("attention_weights", wrong, "not 0", applies=_has_mask, min_hits=2 * len(SEEDS))


def test_weights_mask_ignored():
    def wrong(q, k, mask=None):
        return ref_weights(q, k)

    expect_hint("attention_weights", wrong, "mask was ignored", applies=_has_mask, min_hits=2 * len(SEEDS))


# -- 2.3 causal_mask ------------------------------------------------------------------------------------

def test_causal_float_mask_asks_for_bool():
    expect_hint("causal_mask", lambda T: torch.ones(T, T).tril(), "add dtype=torch.bool", min_hits=5 * len(SEEDS))


def test_causal_upper_triangle():
    expect_hint("causal_mask", lambda T: ref_causal(T).T.contiguous(), "upper triangle",
                applies=lambda case: case.args[0] > 1, min_hits=4 * len(SEEDS))


def test_causal_without_the_diagonal():
    expect_hint("causal_mask", lambda T: ref_causal(T).tril(-1), "keep the diagonal", min_hits=5 * len(SEEDS))


def test_causal_swapped():
    expect_hint("causal_mask", lambda T: ~ref_causal(T), "swapped", applies=lambda case: case.args[0] > 1,
                min_hits=4 * len(SEEDS))


# -- 2.4 / 2.5 split_heads and merge_heads --------------------------------------------------------------

def test_split_without_transpose():
    def wrong(x, n_head):
        B, T, d = x.shape
        return x.view(B, T, n_head, d // n_head)

    expect_hint("split_heads", wrong, ".transpose(1, 2)", applies=lambda case: case.args[1] > 1,
                min_hits=4 * len(SEEDS))


def test_split_viewed_in_the_wrong_order():
    def wrong(x, n_head):
        B, T, d = x.shape
        return x.reshape(B, n_head, T, d // n_head)

    expect_hint("split_heads", wrong, "mixes the words up", applies=lambda case: case.args[1] > 1,
                min_hits=4 * len(SEEDS))


def test_split_interleaved_heads():
    def wrong(x, n_head):
        B, T, d = x.shape
        return x.view(B, T, d // n_head, n_head).permute(0, 3, 1, 2)

    expect_hint("split_heads", wrong, "consecutive numbers",
                applies=lambda case: 1 < case.args[1] < case.args[0].shape[-1], min_hits=3 * len(SEEDS))


def test_merge_without_transpose():
    def wrong(x):
        B, n, T, hd = x.shape
        return x.reshape(B, T, n * hd)

    expect_hint("merge_heads", wrong, "Transpose back first", applies=lambda case: case.args[0].shape[1] > 1,
                min_hits=4 * len(SEEDS))


def test_merge_forgets_to_join_the_last_axes():
    expect_hint("merge_heads", lambda x: x.transpose(1, 2), "join the last two axes", min_hits=5 * len(SEEDS))


# -- 2.6 MultiHeadSelfAttention -------------------------------------------------------------------------

class WrongMHSA(ANSWERS["MultiHeadSelfAttention"]):
    """Self-attention written out, with one classic mistake switched on."""

    mistake = ""

    def forward(self, x, mask=None):
        B, T, d = x.shape
        n_head = 1 if self.mistake == "one head" else self.n_head
        q, k, v = (ref_split(p(x), n_head) for p in (self.q_proj, self.k_proj, self.v_proj))
        if self.mistake == "k v swapped":
            k, v = v, k
        if self.mistake == "√d_model":
            q = q * math.sqrt(d // n_head) / math.sqrt(d)
        out = ref_weights(q, k, None if self.mistake == "no mask" else mask) @ v
        out = out.reshape(B, T, d) if self.mistake == "merge without transpose" else ref_merge(out)
        return out if self.mistake == "no out_proj" else self.out_proj(out)


def wrong_mhsa(mistake):
    return type("Wrong", (WrongMHSA,), {"mistake": mistake})


@pytest.mark.parametrize("mistake, hint, applies, per_seed", [
    ("no out_proj", "Finish with self.out_proj", lambda case: True, 5),
    ("√d_model", "not √d_model", lambda case: case.args[1] > 1, 4),
    ("one head", "That is a single head", lambda case: case.args[1] > 1, 4),
    ("k v swapped", "Keys and values are swapped", lambda case: True, 5),
    ("merge without transpose", "Merge the heads with transpose", lambda case: case.args[1] > 1, 4),
    ("no mask", "The mask was ignored", lambda case: len(case.inputs) > 1, 3),
])
def test_mhsa_classic_mistakes(mistake, hint, applies, per_seed):
    expect_hint("MultiHeadSelfAttention", wrong_mhsa(mistake), hint, applies=applies, min_hits=per_seed * len(SEEDS))


def test_mhsa_checks_each_case_against_torch_multihead_attention():
    """The grader's reference (shikumi's layer) is what torch.nn.MultiheadAttention computes, case by case."""
    for case in CHECKS["MultiHeadSelfAttention"].cases(random.Random(0)):
        d, n_head = case.args
        mine = LibraryMHSA(d, n_head).double().eval()
        mine.load_state_dict({k: v.double() for k, v in case.state.items()})
        ref = torch_mha_with_weights_of(mine, d, n_head)
        x = case.inputs[0].double()
        kwargs = {}
        if len(case.inputs) > 1:
            m = case.inputs[1]
            kwargs = {"attn_mask": ~m} if m.dim() == 2 else {"key_padding_mask": ~m[:, 0, 0]}
        with torch.no_grad():
            torch.testing.assert_close(mine(x, *case.inputs[1:]), ref(x, x, x, **kwargs)[0])


def test_a_softmax_without_keepdim_raises_and_gets_a_sentence_on_keepdim():
    """Issue 13: the missing keepdim surfaced as a raw broadcasting error. The grader's sentence (explain_error,
    for grade.py to append after "… raised …") names keepdim, in both languages."""
    import random as _random

    from autograder.checks import explain_error
    from shikumi.lang import speaking

    check = CHECKS["softmax"]
    case = check.cases(_random.Random(0))[1]                       # x of shape (3, 5)
    (x,) = case.args
    with pytest.raises(RuntimeError) as info:
        e = torch.exp(x - x.max(dim=-1).values)
        e / e.sum(dim=-1)
    said = explain_error(check, case, "RuntimeError", str(info.value))
    assert "keepdim=True" in said and "(3, 5)" in said
    with speaking("ja"):
        assert "keepdim=True" in explain_error(check, case, "RuntimeError", str(info.value))
