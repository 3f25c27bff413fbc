"""Text input for the language models: validation, normalisation, tokenizers.

* :func:`check_documents` validates a collection of raw text documents (the
  ``X`` of every text estimator) and returns it as a list of ``str``.
* :class:`TextFiles` and :class:`DocumentStream` are document streams: read
  again on every pass, never held whole (:func:`is_document_stream`,
  :func:`check_document_stream` and :func:`iter_documents` check them as they
  are read), for :class:`snnsk.SpikeDecoderLM` to train on a file of any size.
* :func:`normalize_text` and :class:`TextNormalizer` lower-case text and/or
  reduce it to a small ASCII-friendly symbol set.
* :class:`CharTokenizer` and :class:`WordTokenizer` are scikit-learn
  transformers that learn a vocabulary and map documents to integer id
  arrays and back.

Every vocabulary starts with the same three special tokens, whose ids are
module constants shared with the models: :data:`PAD_ID` (padding),
:data:`UNK_ID` (tokens outside the vocabulary) and :data:`BOS_ID` (the
beginning-of-sequence token a language model is conditioned on).
"""

from __future__ import annotations

import codecs
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, check_positive_int, is_bool, is_int

__all__ = [
    "PAD_ID",
    "UNK_ID",
    "BOS_ID",
    "check_documents",
    "iter_documents",
    "is_document_stream",
    "check_document_stream",
    "DocumentStream",
    "TextFiles",
    "normalize_text",
    "TextNormalizer",
    "CharTokenizer",
    "WordTokenizer",
    "make_tokenizer",
]

PAD_ID = 0
UNK_ID = 1
BOS_ID = 2

# Typographic punctuation and its ASCII spelling. Shared with
# :mod:`snnsk.datasets`, which cleans the embedded corpus the same way.
TYPOGRAPHIC_TO_ASCII = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark / apostrophe
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u201f": '"',  # double high-reversed-9 quotation mark
        "\u2033": '"',  # double prime
        "\u00ab": '"',  # left-pointing double angle quotation mark
        "\u00bb": '"',  # right-pointing double angle quotation mark
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2212": "-",  # minus sign
        "\u2014": "--",  # em dash
        "\u2015": "--",  # horizontal bar
        "\u2026": "...",  # horizontal ellipsis
        "\u00a0": " ",  # no-break space
    }
)

_KEPT_SYMBOLS = frozenset(".,;:!?'\"()-")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
# A word keeps inner apostrophes ("don't", "class's"); any other non-space
# character is a token of its own; a newline is a token so that line structure
# survives a word-level round trip.
_WORD_TOKEN = re.compile(r"\w+(?:'\w+)*|\n|[^\w\s]")
_NO_SPACE_BEFORE = frozenset(".,;:!?)")


def _check_bool(value, name: str) -> bool:
    if not is_bool(value):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_documents(X, *, name: str = "X", allow_single_string: bool = False) -> list[str]:
    """Validate raw text documents and return them as a list of ``str``.

    Parameters
    ----------
    X : list, tuple, 1-D numpy array or pandas Series of str
        The documents. Any other iterable of ``str`` is accepted too, except
        sets and mappings (their order is not the user's).
    name : str, default="X"
        Name of the argument, used in error messages.
    allow_single_string : bool, default=False
        If True, a single ``str`` is taken as one document. If False it is an
        error, as in scikit-learn's text vectorizers: iterating over a string
        would silently turn every character into a document.

    Returns
    -------
    list of str
        The documents, in order.

    Raises
    ------
    TypeError
        If ``X`` is None, a string (unless ``allow_single_string``), bytes,
        not iterable, or holds an element that is not a ``str``.
    ValueError
        If ``X`` is not one-dimensional, has no documents, or all its
        documents are empty strings.

    Examples
    --------
    >>> check_documents(("a cat", "a dog"))
    ['a cat', 'a dog']
    >>> check_documents("one text", allow_single_string=True)
    ['one text']
    >>> check_documents(["ok", 3])
    Traceback (most recent call last):
    ...
    TypeError: X[1] is int, expected str
    """
    return list(iter_documents(_document_collection(X, name, allow_single_string), name=name))


def _document_collection(X, name: str, allow_single_string: bool):
    """The checks of :func:`check_documents` on the collection itself; ``X`` ready to iterate."""
    if X is None:
        raise TypeError(f"{name} must be an iterable of str documents, got None")
    if isinstance(X, str):
        if not allow_single_string:
            raise TypeError(
                f"Iterable over raw text documents expected, string object received ({name}); "
                f"pass [{name}] for a single document."
            )
        return [X]
    if isinstance(X, (bytes, bytearray)):
        raise TypeError(f"{name} must hold str documents, got {type(X).__name__}; decode it first")
    if isinstance(X, (set, frozenset, Mapping)):
        raise TypeError(
            f"{name} must be an ordered collection of str documents (list, tuple, array, Series), "
            f"got {type(X).__name__}"
        )
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim != 1:
        shape = getattr(X, "shape", None)
        raise ValueError(f"{name} must be one-dimensional (one document per entry), got shape {shape}")
    if not isinstance(X, Iterable):
        raise TypeError(f"{name} must be an iterable of str documents, got {type(X).__name__}")
    if hasattr(X, "iloc"):
        # A pandas Series iterates over values already, but positional
        # indices are what the error messages should report.
        X = X.to_numpy()
    return X


def iter_documents(X, *, name: str = "X"):
    """Yield the documents of an iterable one at a time, checking each as it comes.

    The per-document half of :func:`check_documents`, for input read as a
    stream: nothing is kept, so the empty-input errors come once the
    iterable is exhausted.

    Parameters
    ----------
    X : iterable of str
        The documents (any iterable; one pass is made).
    name : str, default="X"
        Name of the argument, used in error messages.

    Yields
    ------
    str
        Each document, as a plain ``str``.

    Raises
    ------
    TypeError
        When an element is not a ``str`` (named by its position).
    ValueError
        At the end, when there was no document or every one was empty.

    Examples
    --------
    >>> list(iter_documents(iter(["a cat", "a dog"])))
    ['a cat', 'a dog']
    """
    n_docs = n_filled = 0
    for i, doc in enumerate(X):
        if not isinstance(doc, str):
            raise TypeError(f"{name}[{i}] is {type(doc).__name__}, expected str")
        n_docs += 1
        n_filled += bool(doc)
        # numpy's str_ is a str subclass; hand back plain str.
        yield str(doc)
    if not n_docs:
        raise ValueError(f"{name} is empty: expected at least one document")
    if not n_filled:
        raise ValueError(f"{name} is empty: all {n_docs} documents are empty strings")


def is_document_stream(X) -> bool:
    """Whether ``X`` is documents to read as a stream rather than a collection in memory.

    A stream is an iterable that is not a string, bytes, set or mapping and
    has no length: :class:`TextFiles`, :class:`DocumentStream`, any object
    whose ``__iter__`` yields the documents, or a one-shot iterator such as
    a generator. Lists, tuples, arrays and Series (anything with ``len``)
    are collections.
    """
    return (isinstance(X, Iterable) and not hasattr(X, "__len__")
            and not isinstance(X, (str, bytes, bytearray, set, frozenset, Mapping)))


def check_document_stream(X, *, name: str = "X", reiterable: bool = False):
    """Return a document stream ``X`` unchanged; refuse a one-shot iterator where it is read again.

    Nothing is read: the documents are checked by :func:`iter_documents` as
    they are used.

    Parameters
    ----------
    X : iterable of str
        A stream (see :func:`is_document_stream`).
    name : str, default="X"
    reiterable : bool, default=False
        Whether ``X`` will be read more than once (training reads it once
        per epoch). An iterator, such as a generator or an open file, can be
        read only once and is then refused.

    Returns
    -------
    X
    """
    if reiterable and isinstance(X, Iterator):
        raise TypeError(
            f"{name} is a one-shot {type(X).__name__}: training reads the documents once per "
            f"epoch (and once more for the vocabulary), and an iterator can be read only once. "
            f"Pass a list, snnsk.text.TextFiles(paths), or DocumentStream(function) around the "
            f"function that makes the iterator."
        )
    return X


class DocumentStream:
    """Documents made afresh each time they are iterated: a re-iterable around a generator function.

    A generator can be read once; a training loop reads its documents once
    per epoch. ``DocumentStream(function, *args, **kwargs)`` calls
    ``function(*args, **kwargs)`` at every iteration and yields what that
    iterable yields.

    Parameters
    ----------
    function : callable
        Returns a new iterable of ``str`` documents each time it is called
        (typically a generator function).
    *args, **kwargs
        Passed to ``function``.

    Examples
    --------
    >>> def lines(n):
    ...     for i in range(n):
    ...         yield f"document {i}"
    >>> docs = DocumentStream(lines, 2)
    >>> list(docs), list(docs)
    (['document 0', 'document 1'], ['document 0', 'document 1'])
    """

    def __init__(self, function, *args, **kwargs):
        if not callable(function):
            raise TypeError(f"function must be callable, got {type(function).__name__}")
        self.function = function
        self.args = args
        self.kwargs = kwargs

    def __iter__(self):
        return iter(self.function(*self.args, **self.kwargs))

    def __repr__(self):
        return f"DocumentStream({getattr(self.function, '__name__', self.function)!s})"


#: Values of ``TextFiles(split=...)``.
FILE_SPLITS = ("file", "paragraph", "line")


def read_documents(path, split: str = "paragraph", encoding: str = "utf-8", min_chars: int = 1):
    """Yield the documents of one text file, reading it a line at a time (``split='file'``: whole).

    ``'paragraph'``: a document per block of lines between blank (or
    whitespace-only) lines, keeping its inner line breaks; ``'line'``: a
    document per line; ``'file'``: the whole file. Documents are stripped of
    surrounding whitespace, and those empty or shorter than ``min_chars``
    are skipped. Line endings are normalised to ``"\\n"``. Only one
    paragraph or line is in memory at a time (the whole file with
    ``'file'``).
    """
    try:
        with open(path, encoding=encoding) as f:
            pieces = [f.read()] if split == "file" else f if split == "line" \
                else map("".join, _line_blocks(f))
            for piece in pieces:
                doc = piece.strip()
                if doc and len(doc) >= min_chars:
                    yield doc
    except UnicodeDecodeError as err:
        raise ValueError(f"Cannot decode {os.fspath(path)!r} with encoding {encoding!r}: "
                         f"{err.reason}; pass the file's encoding") from err


def _check_min_chars(min_chars) -> int:
    return check_int("min_chars", min_chars, minimum=0)


def _line_blocks(lines):
    """Split lines into blank-line separated blocks (lists of lines)."""
    block = []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


class TextFiles:
    """Documents read from text files every time they are iterated, never held whole.

    A re-iterable document source for :class:`snnsk.SpikeDecoderLM` (and
    the tokenizers): each pass opens the files again and reads them a line
    at a time, so fitting on a file of several hundred megabytes keeps only
    the current paragraph (and the model's batches) in memory.

    Parameters
    ----------
    paths : str, os.PathLike or list of them
        The text files, read in this order.
    split : {'paragraph', 'line', 'file'}, default='paragraph'
        A document per paragraph (lines between blank lines, inner line
        breaks kept), per non-empty line, or per file (then one whole file
        is in memory at a time).
    encoding : str, default='utf-8'
        Encoding of the files.
    min_chars : int, default=1
        Documents shorter than this (after stripping surrounding whitespace)
        are skipped; empty ones always are.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a, b = pathlib.Path(d, "a.txt"), pathlib.Path(d, "b.txt")
    ...     _ = a.write_text("one\\ntwo\\n"), b.write_text("\\nthree\\n")
    ...     docs = TextFiles([a, b], split="line")
    ...     list(docs) == list(docs) == ["one", "two", "three"]  # read again on every pass
    True
    """

    def __init__(self, paths, *, split="paragraph", encoding="utf-8", min_chars=1):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if isinstance(paths, (bytes, bytearray)) or not isinstance(paths, Iterable):
            raise TypeError(f"paths must be a path or a list of paths, got {type(paths).__name__}")
        paths = list(paths)
        if not paths:
            raise ValueError("paths is empty: expected at least one text file")
        for path in paths:
            if not isinstance(path, (str, os.PathLike)):
                raise TypeError(f"paths must hold str or os.PathLike, got {type(path).__name__}")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No such text file: {os.fspath(path)!r}")
        if split not in FILE_SPLITS:
            raise ValueError(f"split must be one of {', '.join(map(repr, FILE_SPLITS))}; got {split!r}")
        if not isinstance(encoding, str):
            raise TypeError(f"encoding must be a str, got {type(encoding).__name__}")
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise ValueError(f"encoding {encoding!r} is not a known text encoding") from err
        self.min_chars = _check_min_chars(min_chars)
        self.paths = [os.fspath(path) for path in paths]
        self.split = split
        self.encoding = encoding

    def __iter__(self):
        for path in self.paths:
            yield from read_documents(path, self.split, self.encoding, self.min_chars)

    def __repr__(self):
        return f"TextFiles({self.paths!r}, split={self.split!r}, encoding={self.encoding!r})"


def normalize_text(text: str, lowercase: bool = False, strip_symbols: bool = False) -> str:
    """Normalise one text.

    Parameters
    ----------
    text : str
        The text.
    lowercase : bool, default=False
        Lower-case the text.
    strip_symbols : bool, default=False
        Replace typographic quotes, dashes and the ellipsis with their ASCII
        spelling, remove every character that is not a letter, a digit,
        whitespace or one of ``.,;:!?'"()-``, and collapse runs of horizontal
        whitespace (spaces, tabs) into one space. Newlines are kept.

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_text("\u201cSpikes\u201d \u2014 fast & sparse!", strip_symbols=True)
    '"Spikes" -- fast sparse!'
    >>> normalize_text("Hello World", lowercase=True)
    'hello world'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    if strip_symbols:
        text = text.translate(TYPOGRAPHIC_TO_ASCII)
        text = "".join(c for c in text if c.isalnum() or c.isspace() or c in _KEPT_SYMBOLS)
        text = _HORIZONTAL_SPACE.sub(" ", text)
    if lowercase:
        text = text.lower()
    return text


def _text_tags(tags):
    # Text estimators take a list of strings, not a 2-D numeric array; these
    # tags keep scikit-learn's common checks from feeding them matrices.
    tags.input_tags.string = True
    tags.input_tags.two_d_array = False
    return tags


class TextNormalizer(TransformerMixin, BaseEstimator):
    """Stateless transformer applying :func:`normalize_text` to each document.

    Parameters
    ----------
    lowercase : bool, default=False
        Lower-case the documents.
    strip_symbols : bool, default=False
        ASCII-fy typographic punctuation, drop symbols outside
        ``.,;:!?'"()-`` and collapse horizontal whitespace; see
        :func:`normalize_text`.

    Examples
    --------
    >>> TextNormalizer(lowercase=True).fit_transform(["Spiking Nets", "LIF"])
    ['spiking nets', 'lif']
    """

    def __init__(self, lowercase=False, strip_symbols=False):
        self.lowercase = lowercase
        self.strip_symbols = strip_symbols

    def _validate_params(self):
        _check_bool(self.lowercase, "lowercase")
        _check_bool(self.strip_symbols, "strip_symbols")

    def fit(self, X, y=None):
        """Check the parameters and ``X``; nothing is learned.

        Parameters
        ----------
        X : list of str
            Documents.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        check_documents(X)
        return self

    def transform(self, X):
        """Normalise every document.

        Parameters
        ----------
        X : list of str
            Documents.

        Returns
        -------
        list of str
        """
        self._validate_params()
        docs = check_documents(X)
        return [normalize_text(d, self.lowercase, self.strip_symbols) for d in docs]

    def __sklearn_tags__(self):
        tags = _text_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags


class _BaseTokenizer(TransformerMixin, BaseEstimator):
    """Vocabulary learning and id mapping shared by the tokenizers.

    Subclasses implement :meth:`_split` (normalised text to tokens) and
    :meth:`_join` (tokens back to text).
    """

    pad_token = "<pad>"
    unk_token = "<unk>"
    bos_token = "<bos>"

    def __init__(self, lowercase=False, strip_symbols=False, min_freq=1, max_vocab=None):
        self.lowercase = lowercase
        self.strip_symbols = strip_symbols
        self.min_freq = min_freq
        self.max_vocab = max_vocab

    # -- subclass hooks -------------------------------------------------
    def _split(self, text: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _join(self, tokens: list[str]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- parameters -----------------------------------------------------
    def _validate_params(self):
        _check_bool(self.lowercase, "lowercase")
        _check_bool(self.strip_symbols, "strip_symbols")
        check_positive_int("min_freq", self.min_freq)
        mv = self.max_vocab
        if mv is not None and (not is_int(mv) or mv < 4):
            raise ValueError(
                f"max_vocab must be None or an int >= 4 (it counts the 3 special tokens), got {mv!r}"
            )

    @property
    def _specials(self) -> tuple[str, str, str]:
        # Order fixes the ids: PAD_ID, UNK_ID, BOS_ID.
        return (self.pad_token, self.unk_token, self.bos_token)

    # -- scikit-learn API ------------------------------------------------
    def fit(self, X, y=None):
        """Learn the vocabulary from documents.

        Tokens are counted over all documents, those seen fewer than
        ``min_freq`` times are dropped, and the most frequent ones are kept
        (ties broken lexicographically) so that the vocabulary, special
        tokens included, has at most ``max_vocab`` entries.

        The documents are read in one pass, one at a time, so ``X`` can be a
        stream too (:class:`TextFiles`, a generator): only the counts are kept.

        Parameters
        ----------
        X : list of str, or iterable of str
            Training documents.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        counts = Counter()
        for doc in iter_documents(_document_collection(X, "X", allow_single_string=False)):
            counts.update(self.tokenize(doc))
        specials = self._specials
        kept = [
            (tok, n) for tok, n in counts.items() if n >= self.min_freq and tok not in specials
        ]
        # Descending frequency, then lexicographic: the vocabulary does not
        # depend on dict or document order.
        kept.sort(key=lambda item: (-item[1], item[0]))
        if self.max_vocab is not None:
            kept = kept[: self.max_vocab - len(specials)]
        if not kept:
            raise ValueError(
                f"No token left in the vocabulary: min_freq={self.min_freq!r} and "
                f"max_vocab={self.max_vocab!r} pruned all {len(counts)} distinct tokens"
            )
        tokens = list(specials) + [tok for tok, _ in kept]
        self.tokens_ = np.array(tokens, dtype=object)
        self.vocabulary_ = {tok: i for i, tok in enumerate(tokens)}
        self.vocab_size_ = len(tokens)
        return self

    def tokenize(self, text: str) -> list[str]:
        """Normalise ``text`` with the tokenizer's settings and split it into tokens.

        Parameters
        ----------
        text : str

        Returns
        -------
        list of str
        """
        return self._split(normalize_text(text, self.lowercase, self.strip_symbols))

    def encode(self, text: str) -> np.ndarray:
        """Map one text to token ids; tokens outside the vocabulary become :data:`UNK_ID`.

        No :data:`BOS_ID` is prepended.

        Parameters
        ----------
        text : str

        Returns
        -------
        ndarray of int64, shape (n_tokens,)
        """
        check_is_fitted(self, "vocabulary_")
        tokens = self.tokenize(text)
        vocab = self.vocabulary_
        return np.fromiter((vocab.get(t, UNK_ID) for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids) -> str:
        """Map token ids back to text.

        Padding and beginning-of-sequence ids are skipped; unknown tokens are
        rendered as :attr:`unk_token`.

        Parameters
        ----------
        ids : 1-D array-like of int
            Token ids in ``[0, vocab_size_)``.

        Returns
        -------
        str
        """
        check_is_fitted(self, "vocabulary_")
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
        if arr.size == 0:
            return ""
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.vocab_size_:
            raise ValueError(
                f"ids must lie in [0, {self.vocab_size_}) (vocab_size_), got values in "
                f"[{arr.min()}, {arr.max()}]"
            )
        tokens = [self.tokens_[i] for i in arr.tolist() if i != PAD_ID and i != BOS_ID]
        return self._join(tokens)

    def transform(self, X):
        """Encode every document.

        Parameters
        ----------
        X : list of str
            Documents.

        Returns
        -------
        list of ndarray of int64
            One id array per document (lengths differ).
        """
        check_is_fitted(self, "vocabulary_")
        docs = check_documents(X)
        return [self.encode(doc) for doc in docs]

    def inverse_transform(self, X):
        """Decode a collection of id sequences.

        Parameters
        ----------
        X : list of 1-D int arrays, or 2-D int array
            One id sequence per document. Rows of a padded 2-D array work too
            (padding is skipped).

        Returns
        -------
        list of str
        """
        check_is_fitted(self, "vocabulary_")
        if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype != object:
            raise TypeError(
                "X must be a collection of id sequences, one per document; got a single 1-D array "
                "(use decode() for one sequence)"
            )
        if X is None or isinstance(X, (str, bytes)) or not isinstance(X, Iterable):
            raise TypeError(f"X must be a collection of id sequences, got {type(X).__name__}")
        return [self.decode(ids) for ids in X]

    def unknown_tokens(self, text: str) -> list[str]:
        """Distinct tokens of ``text`` missing from the vocabulary, in order of appearance.

        Parameters
        ----------
        text : str

        Returns
        -------
        list of str
        """
        check_is_fitted(self, "vocabulary_")
        vocab = self.vocabulary_
        return list(dict.fromkeys(t for t in self.tokenize(text) if t not in vocab))

    def __sklearn_tags__(self):
        return _text_tags(super().__sklearn_tags__())


class CharTokenizer(_BaseTokenizer):
    """Character-level tokenizer: every character is a token.

    Parameters
    ----------
    lowercase : bool, default=False
        Lower-case text before tokenizing.
    strip_symbols : bool, default=False
        Reduce text to letters, digits, whitespace and ``.,;:!?'"()-`` first;
        see :func:`normalize_text`.
    min_freq : int, default=1
        Drop characters seen fewer than ``min_freq`` times in the training
        documents.
    max_vocab : int or None, default=None
        Keep at most this many vocabulary entries, counting the three special
        tokens (so at least 4). The most frequent characters are kept.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id. Ids 0, 1, 2 are ``<pad>``, ``<unk>``, ``<bos>``; the
        other tokens follow by descending frequency, ties in lexicographic
        order.
    tokens_ : ndarray of object
        Id to token.
    vocab_size_ : int
        Number of entries of the vocabulary, special tokens included.

    Examples
    --------
    >>> tok = CharTokenizer().fit(["abba", "cab"])
    >>> tok.vocabulary_
    {'<pad>': 0, '<unk>': 1, '<bos>': 2, 'a': 3, 'b': 4, 'c': 5}
    >>> tok.encode("cabd")
    array([5, 3, 4, 1])
    >>> tok.decode([2, 5, 3, 4])
    'cab'
    """

    def __init__(self, lowercase=False, strip_symbols=False, min_freq=1, max_vocab=None):
        super().__init__(lowercase=lowercase, strip_symbols=strip_symbols, min_freq=min_freq, max_vocab=max_vocab)

    def _split(self, text):
        return list(text)

    def _join(self, tokens):
        return "".join(tokens)


class WordTokenizer(_BaseTokenizer):
    """Word-level tokenizer.

    A token is a word (letters, digits and underscores, with inner
    apostrophes as in "don't"), any other single non-space character, or a
    newline. Spaces and tabs separate tokens and are dropped, so decoding
    re-inserts single spaces: none before ``.,;:!?)``, after ``(``, or around
    a newline.

    Parameters
    ----------
    lowercase : bool, default=True
        Lower-case text before tokenizing.
    strip_symbols : bool, default=False
        Reduce text to letters, digits, whitespace and ``.,;:!?'"()-`` first;
        see :func:`normalize_text`.
    min_freq : int, default=2
        Drop words seen fewer than ``min_freq`` times in the training
        documents; they map to ``<unk>``.
    max_vocab : int or None, default=None
        Keep at most this many vocabulary entries, counting the three special
        tokens (so at least 4). The most frequent words are kept.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id. Ids 0, 1, 2 are ``<pad>``, ``<unk>``, ``<bos>``; the
        other tokens follow by descending frequency, ties in lexicographic
        order.
    tokens_ : ndarray of object
        Id to token.
    vocab_size_ : int
        Number of entries of the vocabulary, special tokens included.

    Examples
    --------
    >>> tok = WordTokenizer(min_freq=1).fit(["The cat sat.", "the dog (sat)."])
    >>> tok.tokenize("The cat sat.")
    ['the', 'cat', 'sat', '.']
    >>> tok.decode(tok.encode("The bird sat (down)."))
    'the <unk> sat (<unk>).'
    """

    def __init__(self, lowercase=True, strip_symbols=False, min_freq=2, max_vocab=None):
        super().__init__(lowercase=lowercase, strip_symbols=strip_symbols, min_freq=min_freq, max_vocab=max_vocab)

    def _split(self, text):
        return _WORD_TOKEN.findall(text)

    def _join(self, tokens):
        parts = []
        prev = None
        for tok in tokens:
            if prev is not None and not (
                tok in _NO_SPACE_BEFORE or tok == "\n" or prev == "(" or prev == "\n"
            ):
                parts.append(" ")
            parts.append(tok)
            prev = tok
        return "".join(parts)


_TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}


def make_tokenizer(tokenizer):
    """An unfitted tokenizer from an estimator's ``tokenizer`` parameter.

    Parameters
    ----------
    tokenizer : {'char', 'word'} or tokenizer instance
        ``'char'`` and ``'word'`` give :class:`CharTokenizer` and
        :class:`WordTokenizer` with their defaults; an instance is cloned, so
        the caller's object is never fitted in place.

    Returns
    -------
    CharTokenizer, WordTokenizer or a clone of ``tokenizer``
    """
    if isinstance(tokenizer, str):
        if tokenizer not in _TOKENIZERS:
            raise ValueError(
                f"tokenizer must be 'char', 'word' or a tokenizer instance, got {tokenizer!r}")
        return _TOKENIZERS[tokenizer]()
    if not all(hasattr(tokenizer, name) for name in ("fit", "encode", "decode", "get_params")):
        raise TypeError(
            "tokenizer must be 'char', 'word' or a tokenizer instance (with fit, encode, decode "
            f"and get_params), got {type(tokenizer).__name__}")
    return clone(tokenizer)
