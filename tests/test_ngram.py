"""shikumi.ngram, checked against numbers worked out by hand on a four-sentence toy corpus.

TOY (the same corpus lesson 01 uses), with the bigram counts after padding (n=2: one <s>, one </s>):

    S1: むかしむかし あるところに おじいさん が いました
    S2: むかしむかし あるところに おばあさん が いました
    S3: むかしむかし おじいさん と おばあさん が いました
    S4: むかしむかし おおきな 桃 が ありました

    (<s>, むかしむかし) 4           (おじいさん, が) 1        (が, いました) 3
    (むかしむかし, あるところに) 2   (おじいさん, と) 1        (が, ありました) 1
    (むかしむかし, おじいさん) 1     (おばあさん, が) 2        (いました, </s>) 3
    (むかしむかし, おおきな) 1       (と, おばあさん) 1        (ありました, </s>) 1
    (あるところに, おじいさん) 1     (おおきな, 桃) 1
    (あるところに, おばあさん) 1     (桃, が) 1

Vocabulary (every word that can come next, </s> included, <s> not): むかしむかし あるところに おじいさん
が いました おばあさん と おおきな 桃 ありました </s> = 11 words, so vocab_size V = 11 + 1 (unknown) = 12.
Words: 5 + 5 + 6 + 5 = 21, plus 4 × </s> = 25 predicted tokens.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from shikumi import data
from shikumi.ngram import BOS, EOS, NGramModel, conditional_prob, count_ngrams, pad, phrase_prob

TOY = [
    ["むかしむかし", "あるところに", "おじいさん", "が", "いました"],
    ["むかしむかし", "あるところに", "おばあさん", "が", "いました"],
    ["むかしむかし", "おじいさん", "と", "おばあさん", "が", "いました"],
    ["むかしむかし", "おおきな", "桃", "が", "ありました"],
]


def toy_counts(n: int) -> Counter:
    counts = Counter()
    for s in TOY:
        counts.update(count_ngrams(pad(s, n), n))
    return counts


@pytest.fixture(scope="module")
def bigram() -> NGramModel:
    return NGramModel(n=2).fit(TOY)


# -- pad ------------------------------------------------------------------------------------------

def test_pad_bigram_adds_one_start_and_one_end():
    assert pad(["おじいさん", "が"], 2) == ["<s>", "おじいさん", "が", "</s>"]


def test_pad_trigram_adds_two_starts():
    assert pad(["桃"], 3) == ["<s>", "<s>", "桃", "</s>"]


def test_pad_unigram_adds_only_the_end():
    assert pad(["桃", "が"], 1) == ["桃", "が", "</s>"]


def test_pad_does_not_modify_its_input():
    sentence = ["桃"]
    pad(sentence, 2)
    assert sentence == ["桃"]


def test_markers():
    assert (BOS, EOS) == ("<s>", "</s>")


# -- count_ngrams -----------------------------------------------------------------------------------

def test_count_bigrams_of_one_padded_sentence():
    # <s> むかしむかし おおきな 桃 が ありました </s>: 7 tokens → 6 bigrams, each once
    got = count_ngrams(pad(TOY[3], 2), 2)
    assert got == Counter({
        ("<s>", "むかしむかし"): 1, ("むかしむかし", "おおきな"): 1, ("おおきな", "桃"): 1,
        ("桃", "が"): 1, ("が", "ありました"): 1, ("ありました", "</s>"): 1,
    })


def test_count_unigrams():
    # a b a: (a,) twice, (b,) once; keys are 1-tuples
    assert count_ngrams(["a", "b", "a"], 1) == Counter({("a",): 2, ("b",): 1})


def test_count_trigrams_repeated():
    # a b a b a: trigrams (a,b,a) at 0 and 2, (b,a,b) at 1 → 3 in all
    assert count_ngrams(["a", "b", "a", "b", "a"], 3) == Counter({("a", "b", "a"): 2, ("b", "a", "b"): 1})


def test_count_includes_the_last_ngram():
    # 3 tokens hold 2 bigrams; the last one, (y, z), must be there
    got = count_ngrams(["x", "y", "z"], 2)
    assert got[("y", "z")] == 1
    assert sum(got.values()) == 2


def test_count_n_equal_to_length_is_one_ngram():
    assert count_ngrams(["x", "y"], 2) == Counter({("x", "y"): 1})


def test_count_n_larger_than_the_sequence_is_empty():
    assert count_ngrams(["x", "y"], 3) == Counter()
    assert count_ngrams([], 1) == Counter()


def test_count_toy_bigrams_by_hand():
    counts = toy_counts(2)
    assert counts[("<s>", "むかしむかし")] == 4
    assert counts[("むかしむかし", "あるところに")] == 2
    assert counts[("おばあさん", "が")] == 2          # S2 and S3
    assert counts[("が", "いました")] == 3            # S1, S2, S3
    assert counts[("いました", "</s>")] == 3
    assert counts[("むかしむかし", "桃")] == 0
    assert sum(counts.values()) == 25                # 21 words + 4 × </s>
    assert len(counts) == 16                         # the 16 distinct bigrams in the table above


def test_count_toy_unigrams_by_hand():
    counts = toy_counts(1)
    # むかしむかし 4, あるところに 2, おじいさん 2, が 4, いました 3, おばあさん 2, と 1, おおきな 1, 桃 1,
    # ありました 1, </s> 4 → 25
    assert counts == Counter({
        ("むかしむかし",): 4, ("あるところに",): 2, ("おじいさん",): 2, ("が",): 4, ("いました",): 3,
        ("おばあさん",): 2, ("と",): 1, ("おおきな",): 1, ("桃",): 1, ("ありました",): 1, ("</s>",): 4,
    })


# -- conditional_prob --------------------------------------------------------------------------------

def test_conditional_prob_by_hand():
    counts = toy_counts(2)
    # C(むかしむかし) = 4 (bigrams starting with it), C(むかしむかし, あるところに) = 2 → 0.5
    assert conditional_prob(counts, ["むかしむかし"], "あるところに") == pytest.approx(0.5)
    # C(むかしむかし, おじいさん) = 1 → 1/4
    assert conditional_prob(counts, ["むかしむかし"], "おじいさん") == pytest.approx(0.25)
    # C(が) = 4, C(が, いました) = 3 → 0.75
    assert conditional_prob(counts, ("が",), "いました") == pytest.approx(0.75)
    # C(おばあさん) = 2, C(おばあさん, が) = 2 → 1.0
    assert conditional_prob(counts, ["おばあさん"], "が") == pytest.approx(1.0)
    # C(<s>) = 4, C(<s>, むかしむかし) = 4 → 1.0
    assert conditional_prob(counts, ["<s>"], "むかしむかし") == pytest.approx(1.0)


def test_conditional_prob_unseen_word_is_zero():
    # むかしむかし is never followed by 桃
    assert conditional_prob(toy_counts(2), ["むかしむかし"], "桃") == 0.0


def test_conditional_prob_unseen_context_is_zero():
    assert conditional_prob(toy_counts(2), ["かぐや姫"], "が") == 0.0


def test_conditional_prob_trigram_by_hand():
    counts = toy_counts(3)
    # context (<s>, むかしむかし) occurs 4 times; followed by あるところに twice → 0.5
    assert conditional_prob(counts, ["<s>", "むかしむかし"], "あるところに") == pytest.approx(0.5)
    # context (あるところに, おじいさん) once (S1), followed by が → 1.0
    assert conditional_prob(counts, ["あるところに", "おじいさん"], "が") == pytest.approx(1.0)
    # context (むかしむかし, おじいさん) once (S3), followed by と, never by が
    assert conditional_prob(counts, ["むかしむかし", "おじいさん"], "が") == 0.0


def test_conditional_probs_after_a_context_sum_to_one():
    counts = toy_counts(2)
    # after が: いました 3/4 + ありました 1/4
    total = sum(conditional_prob(counts, ["が"], w) for w in ("いました", "ありました", "桃"))
    assert total == pytest.approx(1.0)


# -- phrase_prob --------------------------------------------------------------------------------------

def test_phrase_prob_by_hand():
    # C(むかしむかし) = 4, C(むかしむかし, あるところに) = 2 → 0.5
    assert phrase_prob(TOY, ["むかしむかし"], ["あるところに"]) == pytest.approx(0.5)
    # C(が) = 4, C(が, いました) = 3 → 0.75
    assert phrase_prob(TOY, ["が"], ["いました"]) == pytest.approx(0.75)


def test_phrase_prob_several_words():
    # C(むかしむかし, あるところに) = 2; followed by (おじいさん, が) once (S1) → 0.5
    assert phrase_prob(TOY, ["むかしむかし", "あるところに"], ["おじいさん", "が"]) == pytest.approx(0.5)
    # C(おばあさん) = 2; (おばあさん, が, いました) in S2 and S3 → 1.0
    assert phrase_prob(TOY, ["おばあさん"], ["が", "いました"]) == pytest.approx(1.0)
    # C(おじいさん) = 2; (おじいさん, と, おばあさん) once → 0.5
    assert phrase_prob(TOY, ["おじいさん"], ["と", "おばあさん"]) == pytest.approx(0.5)


def test_phrase_prob_unseen_context_is_zero():
    assert phrase_prob(TOY, ["かぐや姫"], ["が"]) == 0.0


def test_phrase_prob_accepts_a_generator():
    assert phrase_prob((s for s in TOY), ["むかしむかし"], ["おおきな"]) == pytest.approx(0.25)


# -- NGramModel.prob -------------------------------------------------------------------------------------

def test_model_rejects_n_below_one():
    with pytest.raises(ValueError, match="n must be at least 1"):
        NGramModel(n=0)


def test_vocab_size_counts_end_marker_and_unknown(bigram):
    # 10 distinct words + </s> = 11, + 1 unknown slot = 12; <s> is never predicted
    assert len(bigram.vocab) == 11
    assert EOS in bigram.vocab and BOS not in bigram.vocab
    assert bigram.vocab_size == 12


def test_prob_k0_is_plain_counting(bigram):
    # C(むかしむかし, あるところに) = 2, C(むかしむかし) = 4 → 0.5
    assert bigram.prob("あるところに", ["むかしむかし"]) == pytest.approx(0.5)
    # C(あるところに, おばあさん) = 1, C(あるところに) = 2 → 0.5
    assert bigram.prob("おばあさん", ["あるところに"]) == pytest.approx(0.5)
    # C(いました, </s>) = 3, C(いました) = 3 → 1
    assert bigram.prob(EOS, ["いました"]) == pytest.approx(1.0)
    assert bigram.prob("桃", ["むかしむかし"]) == 0.0


def test_prob_uses_only_the_last_word_of_a_long_context(bigram):
    # for a bigram only が matters: 3/4
    assert bigram.prob("いました", ["むかしむかし", "おおきな", "桃", "が"]) == pytest.approx(0.75)


def test_prob_empty_context_means_sentence_start(bigram):
    # context () is padded to (<s>,): C(<s>, むかしむかし) = 4 / C(<s>) = 4
    assert bigram.prob("むかしむかし") == pytest.approx(1.0)
    assert bigram.prob("桃") == 0.0


def test_prob_unseen_context_k0_is_zero(bigram):
    assert bigram.prob("が", ["かぐや姫"]) == 0.0


def test_prob_add_one_by_hand():
    model = NGramModel(n=2, k=1.0).fit(TOY)
    # (C + k) / (C(ctx) + k·V) = (2 + 1) / (4 + 1·12) = 3/16 = 0.1875
    assert model.prob("あるところに", ["むかしむかし"]) == pytest.approx(0.1875)
    # unseen pair: (0 + 1) / (4 + 12) = 1/16 = 0.0625
    assert model.prob("桃", ["むかしむかし"]) == pytest.approx(0.0625)
    # a word never seen in training at all: also (0 + 1) / 16
    assert model.prob("かぐや姫", ["むかしむかし"]) == pytest.approx(0.0625)
    # unseen context: (0 + 1) / (0 + 12) = 1/12
    assert model.prob("が", ["かぐや姫"]) == pytest.approx(1 / 12)


def test_prob_add_k_by_hand():
    model = NGramModel(n=2, k=0.5).fit(TOY)
    # (2 + 0.5) / (4 + 0.5·12) = 2.5 / 10 = 0.25
    assert model.prob("あるところに", ["むかしむかし"]) == pytest.approx(0.25)
    # (3 + 0.5) / (4 + 6) = 0.35
    assert model.prob("いました", ["が"]) == pytest.approx(0.35)
    # (0 + 0.5) / (2 + 6) = 0.0625
    assert model.prob("桃", ["おばあさん"]) == pytest.approx(0.0625)


def test_prob_add_k_matches_the_formula_with_vocab_size():
    k = 0.1
    model = NGramModel(n=2, k=k).fit(TOY)
    V = model.vocab_size
    assert V == 12
    # (1 + 0.1) / (4 + 0.1·12) = 1.1 / 5.2
    assert model.prob("おおきな", ["むかしむかし"]) == pytest.approx((1 + k) / (4 + k * V))
    assert model.prob("おおきな", ["むかしむかし"]) == pytest.approx(1.1 / 5.2)


def test_unigram_prob_by_hand():
    model = NGramModel(n=1).fit(TOY)
    # unigram counts: が 4 of 25 tokens
    assert model.prob("が") == pytest.approx(4 / 25)
    assert model.prob(EOS) == pytest.approx(4 / 25)
    # the context is ignored by a unigram
    assert model.prob("が", ["むかしむかし"]) == pytest.approx(4 / 25)
    smoothed = NGramModel(n=1, k=1.0).fit(TOY)
    # (4 + 1) / (25 + 12) = 5/37
    assert smoothed.prob("が") == pytest.approx(5 / 37)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("k", [0.01, 0.5, 1.0])
@pytest.mark.parametrize("context", [[], ["むかしむかし"], ["あるところに", "おじいさん"], ["かぐや姫"]])
def test_smoothed_distribution_sums_to_one(n, k, context):
    model = NGramModel(n=n, k=k).fit(TOY)
    # every vocabulary word, plus the one slot every unseen word shares
    total = sum(model.prob(w, context) for w in model.vocab) + model.prob("未知語", context)
    assert total == pytest.approx(1.0)


def test_unsmoothed_distribution_over_seen_words_sums_to_one(bigram):
    assert sum(bigram.prob(w, ["あるところに"]) for w in bigram.vocab) == pytest.approx(1.0)


def test_next_word_distribution_ranked(bigram):
    # after むかしむかし: あるところに 2/4, then おおきな and おじいさん 1/4 each, in alphabetical order
    dist = bigram.next_word_distribution(["むかしむかし"])
    assert list(dist.items()) == [("あるところに", 0.5), ("おおきな", 0.25), ("おじいさん", 0.25)]
    assert bigram.next_word_distribution(["むかしむかし"], top=1) == {"あるところに": 0.5}


# -- logprob and perplexity -------------------------------------------------------------------------------

def test_logprob_by_hand(bigram):
    # S1: P(むかしむかし|<s>) = 4/4, P(あるところに|むかしむかし) = 2/4, P(おじいさん|あるところに) = 1/2,
    #     P(が|おじいさん) = 1/2, P(いました|が) = 3/4, P(</s>|いました) = 3/3
    # log P = 0 + log 0.5 + log 0.5 + log 0.5 + log 0.75 + 0 = log 0.09375 ≈ -2.367124
    expected = 3 * math.log(0.5) + math.log(0.75)
    assert bigram.logprob(TOY[0]) == pytest.approx(expected)
    assert bigram.logprob(TOY[0]) == pytest.approx(-2.367124, abs=1e-6)


def test_logprob_s4_by_hand(bigram):
    # S4: 4/4 · 1/4 · 1/1 · 1/1 · 1/4 · 1/1 → log(1/16) = -2.772589
    assert bigram.logprob(TOY[3]) == pytest.approx(math.log(1 / 16))


def test_logprob_includes_the_end_marker():
    # trained on "a b" and "a": P(a|<s>) = 1, P(</s>|a) = 1/2, so log P(["a"]) = log 0.5, not 0
    model = NGramModel(n=2).fit([["a", "b"], ["a"]])
    assert model.logprob(["a"]) == pytest.approx(math.log(0.5))


def test_logprob_unseen_bigram_is_minus_infinity(bigram):
    # (むかしむかし, 桃) never occurs in TOY
    assert bigram.logprob(["むかしむかし", "桃", "が", "ありました"]) == -math.inf


def test_logprob_unseen_bigram_smoothed_is_finite():
    model = NGramModel(n=2, k=1.0).fit(TOY)
    # (<s>,むかしむかし): 5/16, (むかしむかし,桃): 1/16, (桃,が): 2/13, (が,ありました): 2/16, (ありました,</s>): 2/13
    expected = math.log(5 / 16) + math.log(1 / 16) + math.log(2 / 13) + math.log(2 / 16) + math.log(2 / 13)
    assert model.logprob(["むかしむかし", "桃", "が", "ありました"]) == pytest.approx(expected)


def test_perplexity_of_a_certain_model_is_one():
    # every step has probability 1 → perplexity 1
    model = NGramModel(n=2).fit([["a", "b"]])
    assert model.perplexity([["a", "b"]]) == pytest.approx(1.0)


def test_perplexity_unigram_by_hand():
    # unigram on ["a"], ["b"]: counts a 1, b 1, </s> 2 → 4 tokens.
    # P(["a"]) = P(a)·P(</s>) = 1/4 · 2/4 = 1/8 over 2 tokens → perplexity = 8 ** (1/2) ≈ 2.828427
    model = NGramModel(n=1).fit([["a"], ["b"]])
    assert model.perplexity([["a"]]) == pytest.approx(math.sqrt(8))
    assert model.perplexity([["a"]]) == pytest.approx(2.828427, abs=1e-6)


def test_perplexity_toy_by_hand(bigram):
    # S1 has probability 0.09375 = 3/32 over 6 predicted tokens → (32/3) ** (1/6) ≈ 1.483673
    assert bigram.perplexity([TOY[0]]) == pytest.approx((32 / 3) ** (1 / 6))
    assert bigram.perplexity([TOY[0]]) == pytest.approx(1.483673, abs=1e-6)
    # S1 and S4 together: probability 3/32 · 1/16 over 12 tokens → (512/3) ** (1/12)
    assert bigram.perplexity([TOY[0], TOY[3]]) == pytest.approx((512 / 3) ** (1 / 12))


def test_perplexity_with_unseen_bigram_is_infinite(bigram):
    assert bigram.perplexity([["むかしむかし", "桃"]]) == math.inf


# -- generate --------------------------------------------------------------------------------------------

def test_greedy_generate_by_hand(bigram):
    # むかしむかし → あるところに (2/4) → tie おじいさん/おばあさん (1/2 each): alphabetically おじいさん
    # → tie が/と (1/2 each): が → いました (3/4) → </s>: stop, </s> not included
    assert bigram.generate(["むかしむかし"]) == ["あるところに", "おじいさん", "が", "いました"]


def test_greedy_generate_from_empty_context(bigram):
    assert bigram.generate([]) == ["むかしむかし", "あるところに", "おじいさん", "が", "いました"]


def test_greedy_generate_is_deterministic(bigram):
    assert bigram.generate(["が"]) == bigram.generate(["が"]) == ["いました"]


def test_greedy_tie_takes_alphabetically_first_not_first_seen():
    # after x: b seen first, a second, once each → a (alphabetically first)
    model = NGramModel(n=2).fit([["x", "b"], ["x", "a"]])
    assert model.generate(["x"]) == ["a"]


def test_greedy_respects_max_words(bigram):
    assert bigram.generate(["むかしむかし"], max_words=2) == ["あるところに", "おじいさん"]
    assert bigram.generate(["むかしむかし"], max_words=0) == []


def test_greedy_loop_stops_at_max_words():
    # a → b → a → b ... (b then a is more likely than b then </s>)
    model = NGramModel(n=2).fit([["a", "b", "a", "b", "a"]])
    assert model.generate(["a"], max_words=5) == ["b", "a", "b", "a", "b"]


def test_generate_stops_on_unseen_context(bigram):
    assert bigram.generate(["かぐや姫"]) == []


def test_generate_does_not_modify_the_context(bigram):
    context = ["むかしむかし"]
    bigram.generate(context)
    assert context == ["むかしむかし"]


def test_sampled_generate_is_reproducible_with_a_seed(bigram):
    first = bigram.generate([], greedy=False, seed=123)
    second = bigram.generate([], greedy=False, seed=123)
    assert first == second
    for seed in range(10):
        assert bigram.generate([], greedy=False, seed=seed) == bigram.generate([], greedy=False, seed=seed)


def test_sampled_generate_varies_with_the_seed_and_stays_on_seen_bigrams(bigram):
    counts = toy_counts(2)
    outputs = {tuple(bigram.generate([], greedy=False, seed=seed)) for seed in range(40)}
    assert len(outputs) > 1  # sampling, not greedy
    for out in outputs:
        tokens = pad(list(out), 2)
        assert all(counts[(a, b)] > 0 for a, b in zip(tokens, tokens[1:])), out
        assert EOS not in out


def test_sampled_generate_respects_max_words():
    model = NGramModel(n=2).fit([["a", "b", "a", "b", "a"]])
    for seed in range(5):
        assert len(model.generate(["a"], max_words=3, greedy=False, seed=seed)) <= 3


def test_low_temperature_sampling_follows_the_most_probable_word():
    # after x: a 9 times, b once. With temperature 0.05 the weights are 0.9**20 vs 0.1**20: always a.
    model = NGramModel(n=2).fit([["x", "a"]] * 9 + [["x", "b"]])
    assert all(model.generate(["x"], greedy=False, temperature=0.05, seed=s) == ["a"] for s in range(20))


# -- the real corpus ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus():
    return data.mukashibanashi("train"), data.mukashibanashi("heldout")


def test_bigram_beats_unigram_on_heldout(corpus):
    train, heldout = corpus
    unigram = NGramModel(n=1, k=0.01).fit(train).perplexity(heldout)
    bigram_ = NGramModel(n=2, k=0.01).fit(train).perplexity(heldout)
    assert math.isfinite(bigram_) and math.isfinite(unigram)
    assert bigram_ < unigram
    assert bigram_ > 1.0


def test_unsmoothed_heldout_perplexity_is_infinite(corpus):
    # held-out text contains bigrams never seen in training: without smoothing one zero makes it infinite
    train, heldout = corpus
    assert NGramModel(n=2, k=0.0).fit(train).perplexity(heldout) == math.inf


def test_training_perplexity_is_lower_than_heldout(corpus):
    train, heldout = corpus
    model = NGramModel(n=2, k=0.01).fit(train)
    assert model.perplexity(train) < model.perplexity(heldout)
