"""The simplest language model: count n-grams (slides 21–25).

A language model answers "how likely is this next word, given the words before it?" (slide 23).
An n-gram model answers by counting, with slide 24's formula:

    P(word | context) = C(context, word) / C(context)

where C(...) is how often that sequence appears in the training text and the context is the last n-1
words. This file has the pieces one at a time (the functions, which lesson 01 asks you to write
yourself), then `NGramModel`, which puts them together with smoothing, perplexity and generation.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

BOS, EOS = "<s>", "</s>"  # sentence start (padding for the first context) and sentence end


def pad(sentence: Sequence[str], n: int) -> list[str]:
    """["おじいさん", "が"] → ["<s>", "おじいさん", "が", "</s>"] for n=2: n-1 starts, one end."""
    return [BOS] * (n - 1) + list(sentence) + [EOS]


def count_ngrams(tokens: Sequence[str], n: int) -> Counter:
    """Count every run of n consecutive tokens: a Counter over n-gram tuples (lesson 01, exercise 1)."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def conditional_prob(counts: Counter, context: Sequence[str], word: str) -> float:
    """P(word | context) = C(context, word) / C(context) (slide 24; lesson 01, exercise 2).

    C(context) is the number of n-grams that start with the context; 0.0 for an unseen context.
    """
    context = tuple(context)
    context_count = sum(c for ngram, c in counts.items() if ngram[:-1] == context)
    if context_count == 0:
        return 0.0
    return counts[context + (word,)] / context_count


def phrase_prob(sentences: Iterable[Sequence[str]], context: Sequence[str], continuation: Sequence[str]) -> float:
    """Slide 24 for phrases of several words: C(context, continuation) / C(context), counted in `sentences`.

    phrase_prob(corpus, ["むかし", "むかし", "、"], ["ある", "ところ", "に"]) — how often is "むかしむかし、"
    followed by "あるところに"?
    """
    context, continuation = tuple(context), tuple(continuation)
    whole = context + continuation
    n_context = n_whole = 0
    for sentence in sentences:
        n_context += count_ngrams(sentence, len(context))[context]
        n_whole += count_ngrams(sentence, len(whole))[whole]
    return n_whole / n_context if n_context else 0.0


class NGramModel:
    """A count-based n-gram language model with add-k smoothing.

        model = NGramModel(n=2).fit(sentences)      # sentences: lists of words
        model.prob("あるところ", context=["むかし"])
        model.generate(["むかし"], max_words=20)

    k = 0 is slide 24's pure counting; k > 0 ("add-k smoothing") pretends every word of the vocabulary
    was seen k extra times after every context, so an unseen n-gram is unlikely but not impossible.
    """

    def __init__(self, n: int = 2, k: float = 0.0):
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.n, self.k = n, k
        self.next_counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)  # context → Counter(next word)
        self.vocab: set[str] = set()

    def fit(self, sentences: Iterable[Sequence[str]]) -> NGramModel:
        for sentence in sentences:
            tokens = pad(sentence, self.n)
            self.vocab.update(tokens[self.n - 1 :])  # every word that can come next, </s> included
            for ngram, c in count_ngrams(tokens, self.n).items():
                self.next_counts[ngram[:-1]][ngram[-1]] += c
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + 1  # +1: one slot for every word never seen in training ("unknown")

    def _context(self, context: Sequence[str]) -> tuple[str, ...]:
        """The last n-1 words, padded with <s> when the context is shorter."""
        context = [BOS] * (self.n - 1) + list(context)
        return tuple(context[len(context) - (self.n - 1) :]) if self.n > 1 else ()

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        """P(word | last n-1 words of context), add-k smoothed: (C(ctx, w) + k) / (C(ctx) + k·V)."""
        following = self.next_counts.get(self._context(context), Counter())
        total = sum(following.values())
        if total + self.k == 0:
            return 0.0
        return (following[word] + self.k) / (total + self.k * self.vocab_size)

    def next_word_distribution(self, context: Sequence[str] = (), top: int | None = None) -> dict[str, float]:
        """{word: P(word | context)} over the words seen after this context, most probable first."""
        following = self.next_counts.get(self._context(context), Counter())
        dist = {w: self.prob(w, context) for w in following}
        ranked = sorted(dist.items(), key=lambda wp: (-wp[1], wp[0]))
        return dict(ranked[:top] if top else ranked)

    def logprob(self, sentence: Sequence[str]) -> float:
        """log P(sentence) = Σ log P(w_i | previous n-1 words), </s> included; -inf if any factor is 0."""
        tokens = pad(sentence, self.n)
        total = 0.0
        for i in range(self.n - 1, len(tokens)):
            p = self.prob(tokens[i], tokens[max(0, i - self.n + 1) : i])  # only the last n-1 words matter
            if p == 0.0:
                return -math.inf
            total += math.log(p)
        return total

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """exp(average negative log-probability per word): "how many words is the model choosing between?"."""
        sentences = list(sentences)
        log_total = sum(self.logprob(s) for s in sentences)
        n_words = sum(len(s) + 1 for s in sentences)  # +1 for each </s>
        return math.exp(-log_total / n_words)

    def generate(self, context: Sequence[str] = (), max_words: int = 30, greedy: bool = True,
                 temperature: float = 1.0, seed: int | None = None) -> list[str]:
        """Continue `context` one word at a time until </s> or max_words (slide 25).

        greedy=True always takes the most probable next word (ties: the alphabetically first);
        greedy=False samples from P(word | context) ** (1 / temperature).
        """
        rng = random.Random(seed)
        words = list(context)
        generated: list[str] = []
        for _ in range(max_words):
            dist = self.next_word_distribution(words)
            if not dist:
                break
            if greedy:
                word = next(iter(dist))  # sorted most probable first
            else:
                weights = [p ** (1.0 / temperature) for p in dist.values()]
                word = rng.choices(list(dist), weights=weights)[0]
            if word == EOS:
                break
            words.append(word)
            generated.append(word)
        return generated
