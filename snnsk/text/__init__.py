"""Text for the language model: tokenizers, the normalizer, LM scores and the n-gram baseline.

* :mod:`snnsk.text.tokenizers` — documents, ``CharTokenizer``, ``WordTokenizer``,
  ``TextNormalizer`` and the document streams (re-exported here);
* :mod:`snnsk.text.lm_scores` — the language-model scores shared by the estimators;
* :mod:`snnsk.text.baselines` — :class:`~snnsk.text.baselines.NGramLM`, the count-based baseline.
"""

from .tokenizers import (
    PAD_ID, UNK_ID, BOS_ID, check_documents, iter_documents, is_document_stream,
    check_document_stream, DocumentStream, TextFiles, normalize_text, TextNormalizer,
    CharTokenizer, WordTokenizer, make_tokenizer)

__all__ = ["PAD_ID", "UNK_ID", "BOS_ID", "check_documents", "iter_documents",
           "is_document_stream", "check_document_stream", "DocumentStream", "TextFiles",
           "normalize_text", "TextNormalizer", "CharTokenizer", "WordTokenizer", "make_tokenizer"]
