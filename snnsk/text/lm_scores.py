"""Scores every language model derives from its log-likelihood, with one set of conventions.

A language model implements ``log_likelihood(X) -> (total_nats, n_tokens)``
(each document conditioned on ``<bos>``, every one of its tokens a target) and
inherits :class:`LanguageModelScoresMixin` for ``score``, ``perplexity`` and
``bits_per_char``, so the spiking model and the n-gram baseline compare on the
same footing.
"""

from __future__ import annotations

import math

from .tokenizers import check_documents, is_document_stream

__all__ = ["LanguageModelScoresMixin"]


class LanguageModelScoresMixin:
    """``score``, ``perplexity`` and ``bits_per_char`` from the model's ``log_likelihood``."""

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per token, in nats (higher is better).

        Parameters
        ----------
        X : str or list of str
            Documents (a single string is one document).
        y : None
            Ignored.
        """
        total, n_tokens = self.log_likelihood(X)
        return total / n_tokens

    def perplexity(self, X) -> float:
        """``exp(-score(X))``: the effective number of choices per token."""
        return math.exp(-self.score(X))

    def bits_per_char(self, X) -> float:
        """Negative log-likelihood in bits divided by the characters of the raw documents.

        Dividing by ``sum(len(doc) for doc in X)`` rather than by the number of
        tokens lets models with different tokenizers compare directly. A
        document stream is read once (the characters are counted as it is).
        """
        if is_document_stream(X):
            # read once: the characters are counted as log_likelihood reads the documents
            n_chars = 0

            def counted():
                nonlocal n_chars
                for doc in X:
                    n_chars += len(doc) if isinstance(doc, str) else 0
                    yield doc

            total, _ = self.log_likelihood(counted())
            return -total / math.log(2) / n_chars
        docs = check_documents(X, allow_single_string=True)
        total, _ = self.log_likelihood(docs)
        return -total / math.log(2) / sum(len(doc) for doc in docs)
