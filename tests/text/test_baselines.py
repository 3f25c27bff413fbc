"""Tests for snnsk.text.baselines.NGramLM."""

import doctest
import math
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

import snnsk.text.baselines
from snnsk.text.baselines import NGramLM
from snnsk.datasets import load_corpus
from snnsk.text import BOS_ID, UNK_ID, CharTokenizer, WordTokenizer

log = math.log


def test_doctests():
    result = doctest.testmod(snnsk.text.baselines)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.fixture(scope="module")
def corpus_split():
    docs = load_corpus()
    # Every fifth document held out: deterministic and spread over topics.
    train = [d for i, d in enumerate(docs) if i % 5]
    test = docs[::5]
    return train, test


# Tiny corpus ["ab", "aa"] with CharTokenizer: counts a=3, b=1 ->
# ids <pad>=0 <unk>=1 <bos>=2 a=3 b=4, V = 5.


def test_bigram_counts_by_hand():
    lm = NGramLM(order=2, smoothing=1.0).fit(["ab", "aa"])
    assert lm.vocab_size_ == 5
    a, b = 3, 4
    assert lm.ngram_counts_ == {(BOS_ID, a): 2, (a, b): 1, (a, a): 1}
    assert lm.context_counts_ == {(BOS_ID,): 2, (a,): 2}


def test_bigram_probabilities_by_hand():
    lm = NGramLM(order=2, smoothing=1.0).fit(["ab", "aa"])
    # P(a|<bos>) = (2+1)/(2+5), P(b|a) = (1+1)/(2+5), P(a|a) = (1+1)/(2+5).
    expected_ab = log(3 / 7) + log(2 / 7)
    total, n = lm.log_likelihood(["ab"])
    assert n == 2
    assert total == pytest.approx(expected_ab)
    assert lm.score(["ab"]) == pytest.approx(expected_ab / 2)
    # Both training documents, 4 tokens.
    expected = (log(3 / 7) + log(2 / 7) + log(3 / 7) + log(2 / 7)) / 4
    assert lm.score(["ab", "aa"]) == pytest.approx(expected)
    # An unseen bigram with an unseen target: P(b|b) = (0+1)/(0+5).
    assert lm.score(["bb"]) == pytest.approx((log(1 / 7) + log(1 / 5)) / 2)
    # Unknown characters are targets too, as <unk>: P(<unk>|a) = (0+1)/(2+5).
    assert lm.log_likelihood(["ac"]) == (pytest.approx(log(3 / 7) + log(1 / 7)), 2)
    assert lm.tokenizer_.encode("ac")[1] == UNK_ID


def test_unigram_by_hand():
    lm = NGramLM(order=1, smoothing=1.0).fit(["ab", "aa"])
    assert lm.ngram_counts_ == {(3,): 3, (4,): 1}
    assert lm.context_counts_ == {(): 4}
    # P(a) = (3+1)/(4+5), P(b) = (1+1)/(4+5), P(<unk>) = 1/9.
    assert lm.score(["ab"]) == pytest.approx((log(4 / 9) + log(2 / 9)) / 2)
    assert lm.score("z") == pytest.approx(log(1 / 9))


def test_trigram_prefix_and_smoothing():
    lm = NGramLM(order=3, smoothing=0.5).fit("ab")  # a single string is one document
    a, b = 3, 4  # tie a=b=1 broken lexicographically
    assert lm.ngram_counts_ == {(BOS_ID, BOS_ID, a): 1, (BOS_ID, a, b): 1}
    # V = 5: P(a|bos,bos) = (1+.5)/(1+2.5), P(b|bos,a) = (1+.5)/(1+2.5).
    assert lm.score("ab") == pytest.approx(log(1.5 / 3.5))


def test_probabilities_sum_to_one():
    lm = NGramLM(order=2, smoothing=0.3).fit(["abcab", "cba"])
    V = lm.vocab_size_
    for context in [(BOS_ID,), (3,), (4,), (1,)]:
        probs = [
            (lm.ngram_counts_.get(context + (w,), 0) + 0.3) / (lm.context_counts_.get(context, 0) + 0.3 * V)
            for w in range(V)
        ]
        assert sum(probs) == pytest.approx(1.0)


def test_perplexity_and_bits_per_char(corpus_split):
    train, test = corpus_split
    lm = NGramLM(order=3).fit(train)
    score = lm.score(test)
    total, n_tokens = lm.log_likelihood(test)
    n_chars = sum(len(d) for d in test)
    assert n_tokens == n_chars  # char tokenizer, no normalisation
    assert score == pytest.approx(total / n_tokens)
    assert lm.perplexity(test) == pytest.approx(math.exp(-score))
    assert lm.bits_per_char(test) == pytest.approx(-score * n_tokens / math.log(2) / n_chars)
    assert lm.bits_per_char(test) == pytest.approx(-score / math.log(2))


def test_word_bits_per_char_uses_raw_characters():
    docs = ["The cat sat.", "The dog sat."]
    lm = NGramLM(tokenizer="word", order=2).fit(docs)
    total, n_tokens = lm.log_likelihood(docs)
    assert n_tokens == 8
    assert lm.bits_per_char(docs) == pytest.approx(-total / math.log(2) / 24)


def test_bigram_beats_unigram_on_held_out(corpus_split):
    train, test = corpus_split
    unigram = NGramLM(order=1).fit(train).score(test)
    bigram = NGramLM(order=2).fit(train).score(test)
    trigram = NGramLM(order=3).fit(train).score(test)
    assert bigram > unigram + 0.3
    assert trigram > bigram
    word_uni = NGramLM("word", order=1).fit(train).score(test)
    word_bi = NGramLM("word", order=2).fit(train).score(test)
    assert word_bi > word_uni


def test_tokenizer_choices():
    docs = ["The cat sat.", "the cat ran."]
    assert isinstance(NGramLM().fit(docs).tokenizer_, CharTokenizer)
    assert isinstance(NGramLM("word").fit(docs).tokenizer_, WordTokenizer)
    template = CharTokenizer(lowercase=True)
    lm = NGramLM(tokenizer=template).fit(docs)
    assert lm.tokenizer_ is not template
    assert not hasattr(template, "vocabulary_")  # the parameter is cloned, not fitted
    assert lm.tokenizer_.lowercase is True
    assert "T" not in lm.tokenizer_.vocabulary_


def test_clone_get_params_pickle():
    lm = NGramLM(tokenizer=WordTokenizer(min_freq=1), order=3, smoothing=0.5)
    params = lm.get_params()
    assert params["order"] == 3 and params["smoothing"] == 0.5
    assert params["tokenizer__min_freq"] == 1
    lm.fit(["a b c", "a b d"])
    cloned = clone(lm)
    assert not hasattr(cloned, "ngram_counts_")
    assert cloned.get_params()["tokenizer__min_freq"] == 1
    restored = pickle.loads(pickle.dumps(lm))
    assert restored.score(["a b c"]) == lm.score(["a b c"])


def test_grid_search_prefers_bigram(corpus_split):
    train, _ = corpus_split
    search = GridSearchCV(NGramLM(), {"order": [1, 2]}, cv=2).fit(train[:40])
    assert search.best_params_ == {"order": 2}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize("order", [0, -1, 1.5, True, "2", None])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        NGramLM(order=order).fit(["ab"])


@pytest.mark.parametrize("smoothing", [0, -0.1, float("nan"), float("inf"), True, "0.1", None])
def test_bad_smoothing(smoothing):
    with pytest.raises(ValueError, match="smoothing must be a positive finite number"):
        NGramLM(smoothing=smoothing).fit(["ab"])


def test_bad_tokenizer():
    with pytest.raises(ValueError, match="tokenizer must be 'char', 'word' or a tokenizer instance, got 'bpe'"):
        NGramLM(tokenizer="bpe").fit(["ab"])
    with pytest.raises(TypeError, match="tokenizer must be .* got int"):
        NGramLM(tokenizer=3).fit(["ab"])


def test_input_errors():
    with pytest.raises(NotFittedError):
        NGramLM().score(["ab"])
    lm = NGramLM("word").fit(["a a b b"])
    with pytest.raises(ValueError, match="X contains no tokens to score"):
        lm.score(["   "])
    with pytest.raises(TypeError, match=r"X\[1\] is int, expected str"):
        lm.score(["a", 1])
    with pytest.raises(ValueError, match="X is empty"):
        NGramLM().fit([])
    with pytest.raises(TypeError, match="X must be an iterable of str documents, got None"):
        NGramLM().fit(None)


def test_tags():
    tags = NGramLM().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
