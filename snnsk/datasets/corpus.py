"""Text for the language models, available offline.

* :func:`load_corpus` -- English prose documents extracted from the Python
  help text that ships with the interpreter (:mod:`pydoc_data.topics`).
* :func:`load_text` -- a user's own text file split into documents.
"""

from __future__ import annotations

import functools
import os
import re

from ..text.tokenizers import TYPOGRAPHIC_TO_ASCII, _check_min_chars, _line_blocks, read_documents

__all__ = ["load_corpus", "load_text"]


# ---------------------------------------------------------------------------
# load_corpus
# ---------------------------------------------------------------------------

# A reStructuredText-style heading underline, as pydoc renders it.
_UNDERLINE = re.compile(r"([*=~-])\1{2,}")
# Lines of rendered tables: grid rules "+----+", cell rows "| ... |" and the
# rules of simple tables "=====  =====".
_TABLE_LINE = re.compile(r"\+[-=+]+\+|\|.*|=+(?: +=+)+")
# Admonition labels ("Note:", "See also:") whose content is an indented block
# (dropped), and rubrics ("-[ Footnotes ]-"): markup, not prose.
_LABEL = re.compile(r"[A-Z][a-z]*(?: [a-z]+)?:|-\[ .* \]-")
# Bare API signatures, alone in a block one per line ("object.__len__(self)",
# "class dict(**kwargs)"); their description is indented and dropped.
_SIGNATURE = re.compile(r"(?:class )?[\w.]+(?:\(.*\))?")
_SPACES = re.compile(r" {2,}")


def _sections(text: str):
    """Yield ``(heading, body_lines)`` for each headed section of one help topic."""
    lines = text.split("\n")
    heads = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and not lines[i][0].isspace()
        and _UNDERLINE.fullmatch(lines[i + 1])
        # A heading follows a blank line; a dash rule right under text is
        # not an underline unless that text starts a section.
        and (i == 0 or not lines[i - 1].strip())
    ]
    for j, h in enumerate(heads):
        end = heads[j + 1] if j + 1 < len(heads) else len(lines)
        yield lines[h], lines[h + 2 : end]


def _prose_paragraphs(lines) -> list[str]:
    """Reflowed prose paragraphs of a section body.

    A paragraph is a block starting in column 0; indented blocks are code,
    grammar or nested material. Continuation lines of a list item or
    footnote are indented under its first line and belong to it.
    """
    paragraphs = []
    for block in _line_blocks(lines):
        if block[0][0].isspace():
            continue
        if any(
            _TABLE_LINE.fullmatch(line.rstrip())
            or _UNDERLINE.fullmatch(line.rstrip())
            or line.startswith(">>>")
            for line in block
        ):
            continue
        if len(block) == 1 and _LABEL.fullmatch(block[0].strip()):
            continue
        if all(_SIGNATURE.fullmatch(line.strip()) for line in block):
            continue
        text = " ".join(line.strip() for line in block)
        paragraphs.append(_SPACES.sub(" ", text.translate(TYPOGRAPHIC_TO_ASCII)))
    return paragraphs


@functools.lru_cache(maxsize=1)
def _corpus_documents() -> tuple[str, ...]:
    # Imported here: it is a 0.5 MB module only this loader needs.
    from pydoc_data.topics import topics

    documents = []
    seen = set()
    for key in sorted(topics):
        for heading, body in _sections(topics[key]):
            # Several topics embed the same sections (the "compound" topic
            # holds "if", "while", ...). A paragraph is kept only the first
            # time it appears so that no text is shared between documents,
            # which would leak between cross-validation folds.
            paragraphs = []
            for p in _prose_paragraphs(body):
                if p not in seen:
                    seen.add(p)
                    paragraphs.append(p)
            if paragraphs:
                head = _SPACES.sub(" ", heading.strip().translate(TYPOGRAPHIC_TO_ASCII))
                documents.append(head + "\n" + "\n".join(paragraphs))
    return tuple(documents)


def load_corpus(min_chars: int = 200) -> list[str]:
    """English prose documents built from Python's own help text.

    The text is :mod:`pydoc_data.topics` (the pages ``help("topic")``
    shows), so nothing is downloaded and the corpus is the same on every
    run for a given Python version. Each document is one headed section of a
    topic: its heading line, then its prose paragraphs, one per line.

    How a document is built, topics taken in sorted order:

    * a topic is split into sections at headings (a line underlined with
      ``*``, ``=``, ``-`` or ``~``);
    * only prose is kept: blocks starting in column 0 (indented code, grammar
      and nested blocks are dropped), without tables, doctest lines,
      admonition labels such as ``Note:`` or bare API signatures;
    * each paragraph is reflowed onto one line, typographic quotes, dashes
      and ellipses become ASCII, runs of spaces become one space;
    * a paragraph already seen in an earlier section (several topics repeat
      the same sections) is dropped, so documents share no paragraph;
    * documents shorter than ``min_chars`` characters are dropped.

    Parameters
    ----------
    min_chars : int, default=200
        Minimum length of a document in characters.

    Returns
    -------
    list of str
        The documents, in a fixed order (a new list on each call).

    Examples
    --------
    >>> docs = load_corpus()
    >>> docs[0].splitlines()[0]
    'The "assert" statement'
    >>> all(len(d) >= 200 for d in docs)
    True
    """
    min_chars = _check_min_chars(min_chars)
    return [doc for doc in _corpus_documents() if len(doc) >= min_chars]


# ---------------------------------------------------------------------------
# load_text
# ---------------------------------------------------------------------------

_SPLITS = ("paragraph", "line", "none")


def load_text(path, *, split: str = "paragraph", min_chars: int = 1, encoding: str = "utf-8") -> list[str]:
    """Read a text file and split it into documents.

    Parameters
    ----------
    path : str or os.PathLike
        The text file.
    split : {"paragraph", "line", "none"}, default="paragraph"
        ``"paragraph"``: a document per block of text between blank lines
        (lines inside a paragraph keep their line breaks); ``"line"``: a
        document per non-empty line; ``"none"``: the whole file is one
        document.
    min_chars : int, default=1
        Documents shorter than this (after stripping surrounding whitespace)
        are dropped. Empty documents are always dropped.
    encoding : str, default="utf-8"
        Encoding of the file. Line endings are normalised to ``"\\n"``.

    Returns
    -------
    list of str
        The stripped documents, in file order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``split``, ``min_chars`` or ``encoding`` is invalid, the file is a
        directory or cannot be decoded with ``encoding``, or no document is
        left.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d, "notes.txt")
    ...     _ = p.write_text("First paragraph\\non two lines.\\n\\nSecond one.\\n")
    ...     load_text(p)
    ['First paragraph\\non two lines.', 'Second one.']
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, _SPLITS))}; got {split!r}")
    min_chars = _check_min_chars(min_chars)
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str, got {type(encoding).__name__}")
    path_str = os.fspath(path)
    if not os.path.exists(path_str):
        raise FileNotFoundError(f"No such text file: {path_str!r} (path)")
    if os.path.isdir(path_str):
        raise ValueError(f"path {path_str!r} is a directory, expected a text file")
    try:
        docs = list(read_documents(path_str, "file" if split == "none" else split, encoding, min_chars))
    except LookupError as err:
        raise ValueError(f"encoding {encoding!r} is not a known text encoding") from err
    if not docs:
        raise ValueError(
            f"No document in {path_str!r}: nothing of at least {min_chars} characters "
            f"with split={split!r}"
        )
    return docs
