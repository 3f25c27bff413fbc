"""Non-spiking reference models.

:class:`NGramLM` is the count-based language model a spiking language model
has to beat. It scores text with the same conventions as
:class:`snnsk.estimators.lm.SpikeDecoderLM`, so the two numbers compare
directly:

* every document is conditioned on beginning-of-sequence tokens
  (:data:`snnsk.text.BOS_ID`) and every one of its tokens is a prediction
  target, unknown tokens included;
* ``score`` is the mean log-likelihood per token in nats (higher is better),
  ``perplexity`` is ``exp(-score)``;
* ``bits_per_char`` is the total negative log-likelihood in bits divided by
  the number of characters of the raw documents.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, is_real
from .lm_scores import LanguageModelScoresMixin
from .tokenizers import BOS_ID, check_documents, make_tokenizer

__all__ = ["NGramLM"]


class NGramLM(LanguageModelScoresMixin, BaseEstimator):
    """N-gram language model with additive (add-k) smoothing.

    The probability of token ``w`` after the ``order - 1`` previous tokens
    ``h`` is::

        P(w | h) = (count(h, w) + smoothing) / (count(h) + smoothing * V)

    where ``V`` is the tokenizer's ``vocab_size_`` (special tokens
    included) and the counts come from the training documents, each
    prefixed with ``order - 1`` beginning-of-sequence tokens.

    Parameters
    ----------
    tokenizer : {"char", "word"} or tokenizer instance, default="char"
        ``"char"`` uses :class:`~snnsk.text.CharTokenizer` with its defaults,
        ``"word"`` :class:`~snnsk.text.WordTokenizer`; an instance (for
        example ``CharTokenizer(lowercase=True)``) is cloned and fitted on
        the training documents.
    order : int, default=2
        The ``n`` of the n-gram: 1 is a unigram model, 2 a bigram model...
    smoothing : float, default=0.1
        The additive constant ``k`` (> 0).

    Attributes
    ----------
    tokenizer_ : tokenizer
        The fitted tokenizer.
    vocab_size_ : int
        ``tokenizer_.vocab_size_``, the ``V`` of the smoothing.
    ngram_counts_ : dict of tuple to int
        Counts of the training n-grams, keyed by ``order`` token ids
        (context first, target last).
    context_counts_ : dict of tuple to int
        Counts of the contexts (the first ``order - 1`` ids of the n-grams).

    Examples
    --------
    >>> lm = NGramLM(order=2, smoothing=1.0).fit(["ab", "aa"])
    >>> lm.tokenizer_.vocabulary_
    {'<pad>': 0, '<unk>': 1, '<bos>': 2, 'a': 3, 'b': 4}
    >>> round(lm.score(["ab"]), 4)  # (log(3/7) + log(2/7)) / 2
    -1.05
    >>> round(lm.perplexity(["ab"]), 4)
    2.8577
    """

    def __init__(self, tokenizer="char", order=2, smoothing=0.1):
        self.tokenizer = tokenizer
        self.order = order
        self.smoothing = smoothing

    def _validate_params(self):
        check_int("order", self.order)
        k = self.smoothing
        if not is_real(k) or not math.isfinite(k) or k <= 0:
            raise ValueError(f"smoothing must be a positive finite number, got {k!r}")
        return make_tokenizer(self.tokenizer)

    def _ngrams(self, ids):
        """The n-grams (tuples of ``order`` ids) of one document, BOS-prefixed."""
        n = int(self.order)
        seq = [BOS_ID] * (n - 1) + ids.tolist()
        return zip(*(seq[k : len(seq) - n + 1 + k] for k in range(n)))

    def fit(self, X, y=None):
        """Count the n-grams of the documents.

        Parameters
        ----------
        X : str or list of str
            Training documents (a single string is one document).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        tokenizer = self._validate_params()
        docs = check_documents(X, allow_single_string=True)
        self.tokenizer_ = tokenizer.fit(docs)
        self.vocab_size_ = int(self.tokenizer_.vocab_size_)
        counts = Counter()
        for doc in docs:
            counts.update(self._ngrams(self.tokenizer_.encode(doc)))
        contexts = Counter()
        for gram, c in counts.items():
            contexts[gram[:-1]] += c
        self.ngram_counts_ = dict(counts)
        self.context_counts_ = dict(contexts)
        return self

    def log_likelihood(self, X):
        """Total log-likelihood of documents and the number of tokens scored.

        Parameters
        ----------
        X : str or list of str
            Documents (a single string is one document).

        Returns
        -------
        total_nats : float
            Sum over all tokens of all documents of ``log P(token | context)``
            (natural log).
        n_tokens : int
            Number of tokens scored.
        """
        check_is_fitted(self, "ngram_counts_")
        docs = check_documents(X, allow_single_string=True)
        grams = []
        for doc in docs:
            grams.extend(self._ngrams(self.tokenizer_.encode(doc)))
        if not grams:
            raise ValueError("X contains no tokens to score")
        joint = np.fromiter((self.ngram_counts_.get(g, 0) for g in grams), dtype=np.float64, count=len(grams))
        context = np.fromiter(
            (self.context_counts_.get(g[:-1], 0) for g in grams), dtype=np.float64, count=len(grams)
        )
        k = float(self.smoothing)
        total = np.sum(np.log(joint + k) - np.log(context + k * self.vocab_size_))
        return float(total), len(grams)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
