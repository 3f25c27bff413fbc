"""Tests for snnsk.datasets: the embedded corpus and user text files."""

import doctest
import pathlib
import re

import pytest

import snnsk.datasets
from snnsk.datasets import load_corpus, load_text


def test_doctests():
    result = doctest.testmod(snnsk.datasets)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------------
# load_corpus
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_corpus_deterministic_and_fresh(corpus):
    again = load_corpus()
    assert again == corpus
    assert again is not corpus  # callers may mutate their copy
    again.clear()
    assert load_corpus() == corpus


def test_corpus_shape(corpus):
    assert len(corpus) >= 100
    assert all(type(d) is str for d in corpus)
    assert all(len(d) >= 200 for d in corpus)
    assert sum(map(len, corpus)) > 150_000
    # Heading line, then at least one paragraph.
    assert corpus[0].split("\n")[0] == 'The "assert" statement'
    assert all(len(d.split("\n")) >= 2 for d in corpus)


def test_corpus_is_prose(corpus):
    for doc in corpus:
        for line in doc.split("\n"):
            assert line and not line[0].isspace(), line  # no indented code, no blank lines
            assert line == line.strip()
            assert "  " not in line
            assert not line.startswith(">>>")
            assert not re.fullmatch(r"\+[-=+]+\+|\|.*|=+( +=+)*|[-*~]{3,}", line), line
            assert not re.fullmatch(r"object\.\w+(\(.*\))?", line), line  # bare API signatures
            assert line not in ("Note:", "See also:", "-[ Footnotes ]-")
    text = "".join(corpus)
    assert sum(c.isascii() for c in text) / len(text) > 0.999
    for typographic in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026":
        assert typographic not in text


def test_corpus_no_repeated_paragraphs(corpus):
    # Topics repeat sections; shared paragraphs would leak across CV folds.
    paragraphs = [p for d in corpus for p in d.split("\n")[1:]]
    assert len(paragraphs) == len(set(paragraphs))


def test_corpus_min_chars(corpus):
    everything = load_corpus(min_chars=0)
    assert len(everything) >= len(corpus)
    assert [d for d in everything if len(d) >= 200] == corpus
    long_docs = load_corpus(min_chars=2000)
    assert 0 < len(long_docs) < len(corpus)
    assert all(len(d) >= 2000 for d in long_docs)
    assert load_corpus(min_chars=10**9) == []


@pytest.mark.parametrize("bad", [-1, 1.5, True, "200", None])
def test_corpus_bad_min_chars(bad):
    with pytest.raises(ValueError, match="min_chars must be a non-negative int"):
        load_corpus(min_chars=bad)


# ---------------------------------------------------------------------------
# load_text
# ---------------------------------------------------------------------------

TEXT = "First paragraph,\nsecond line.\n\n\n  Second paragraph.  \n \t \nx\n"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_load_text_paragraph(text_file):
    assert load_text(text_file) == ["First paragraph,\nsecond line.", "Second paragraph.", "x"]
    assert load_text(str(text_file), min_chars=2) == ["First paragraph,\nsecond line.", "Second paragraph."]


def test_load_text_line(text_file):
    assert load_text(text_file, split="line") == ["First paragraph,", "second line.", "Second paragraph.", "x"]
    assert load_text(text_file, split="line", min_chars=13) == ["First paragraph,", "Second paragraph."]


def test_load_text_none(text_file):
    assert load_text(text_file, split="none") == [TEXT.strip()]
    # min_chars=0 still drops nothing real but never returns empty documents.
    assert load_text(text_file, split="line", min_chars=0) == load_text(text_file, split="line")


def test_load_text_crlf_and_encoding(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes("caf\u00e9 one\r\n\r\ntwo\r\n".encode("latin-1"))
    assert load_text(path, encoding="latin-1") == ["caf\u00e9 one", "two"]


def test_load_text_missing(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(repr(str(missing)))):
        load_text(missing)


def test_load_text_undecodable(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"ok \xff\xfe bad")
    with pytest.raises(ValueError, match=r"Cannot decode .*bin\.txt.* with encoding 'utf-8'"):
        load_text(path)


def test_load_text_nothing_left(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"No document in .*blank\.txt"):
        load_text(path)
    short = tmp_path / "short.txt"
    short.write_text("ab\n\ncd\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"No document in .*short\.txt.*at least 3 characters"):
        load_text(short, min_chars=3)


def test_load_text_bad_arguments(text_file, tmp_path):
    with pytest.raises(ValueError, match="split must be one of 'paragraph', 'line', 'none'; got 'word'"):
        load_text(text_file, split="word")
    with pytest.raises(ValueError, match="min_chars must be a non-negative int, got -1"):
        load_text(text_file, min_chars=-1)
    with pytest.raises(ValueError, match="encoding 'no-such-codec' is not a known text encoding"):
        load_text(text_file, encoding="no-such-codec")
    with pytest.raises(ValueError, match="is a directory"):
        load_text(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_text(3)


def test_load_text_accepts_pathlike(text_file):
    assert isinstance(text_file, pathlib.Path)
    assert load_text(text_file) == load_text(str(text_file))
