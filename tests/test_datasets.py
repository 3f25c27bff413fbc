"""Tests for snnsk.datasets: the embedded corpus and user text files."""

import doctest
import pathlib
import re

import numpy as np
import pytest

import snnsk.datasets
import snnsk.datasets.corpus
import snnsk.datasets.events
import snnsk.datasets.sequences
from snnsk.datasets import load_corpus, load_event_digit_recordings, load_event_digits, load_text


@pytest.mark.parametrize("module", [snnsk.datasets.corpus, snnsk.datasets.sequences,
                                    snnsk.datasets.events])
def test_doctests(module):
    result = doctest.testmod(module)
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
    with pytest.raises(ValueError, match="min_chars must be an integer >= 0"):
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
    with pytest.raises(ValueError, match="min_chars must be an integer >= 0, got -1"):
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


# ------------------------------------------------------------------ sequences
def test_sequential_digits_are_the_digit_pixels_in_raster_order():
    from sklearn.datasets import load_digits

    from snnsk.datasets import load_sequential_digits

    X, y = load_sequential_digits()
    images, labels = load_digits(return_X_y=True)
    assert X.shape == (1797, 64) and X.dtype == np.float32
    np.testing.assert_allclose(X, images / 16)
    np.testing.assert_array_equal(y, labels)


def test_permuted_digits_use_one_fixed_permutation_per_seed():
    from snnsk.datasets import load_sequential_digits

    plain, _ = load_sequential_digits()
    a, _ = load_sequential_digits(permute=True, random_state=0)
    b, _ = load_sequential_digits(permute=True, random_state=0)
    c, _ = load_sequential_digits(permute=True, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the same permutation for every image: recover it from one image's pixel columns
    order = np.argsort(np.random.RandomState(0).permutation(64))
    np.testing.assert_array_equal(a[:, order], plain)
    with pytest.raises(ValueError, match="permute must be True or False"):
        load_sequential_digits(permute="yes")


def _evaluate(tokens):
    """An independent ListOps evaluator over the printed expression."""
    ops = {"[MAX": max, "[MIN": min, "[MED": lambda v: int(np.floor(np.median(v))),
           "[SM": lambda v: sum(v) % 10}
    stack = []
    for tok in tokens:
        if tok in ops:
            stack.append([tok])
        elif tok == "]":
            op, *values = stack.pop()
            value = ops[op](values)
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(tok))
    raise AssertionError("unbalanced expression")


def test_listops_labels_are_the_values_of_the_expressions():
    from snnsk.datasets import LISTOPS_TOKENS, listops_to_string, make_listops

    X, y = make_listops(300, min_length=10, max_length=200, random_state=0)
    assert len(X) == 300 and y.dtype == np.int64
    for seq, label in zip(X, y):
        assert 10 <= len(seq) <= 200 and seq.min() >= 1 and seq.max() < len(LISTOPS_TOKENS)
        assert _evaluate(listops_to_string(seq).split()) == label
    assert set(np.unique(y)) == set(range(10))


def test_listops_by_hand_and_determinism():
    from snnsk.datasets import LISTOPS_TOKENS, listops_to_string, make_listops

    ids = [LISTOPS_TOKENS.index(t) for t in "[SM 9 [MED 1 2 7 8 ] 5 ]".split()]
    assert listops_to_string(np.array(ids + [0, 0])) == "[SM 9 [MED 1 2 7 8 ] 5 ]"
    assert _evaluate("[SM 9 [MED 1 2 7 8 ] 5 ]".split()) == (9 + 4 + 5) % 10
    a = make_listops(20, random_state=3)
    b = make_listops(20, random_state=3)
    assert all(np.array_equal(p, q) for p, q in zip(a[0], b[0]))
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=0), "n_samples must be an integer >= 1"),
    (dict(min_length=50, max_length=20), "max_length must be an integer >= 50"),
    (dict(max_args=1), "max_args must be an integer >= 2"),
    (dict(min_length=400, max_length=410, max_depth=1, max_args=2), "could not generate"),
])
def test_listops_bad_arguments(kwargs, match):
    from snnsk.datasets import make_listops

    with pytest.raises(ValueError, match=match):
        make_listops(**{"n_samples": 2, **kwargs})


# ---------------------------------------------------------------------------
# load_event_digits
# ---------------------------------------------------------------------------


def test_event_digits_shape_labels_and_determinism():
    from sklearn.datasets import load_digits
    X, y = load_event_digits(timesteps=5, random_state=0, size=14)
    assert X.shape == (1797, 5, 2, 14, 14) and X.dtype == np.float32
    np.testing.assert_array_equal(y, load_digits().target)
    assert (X >= 0).all() and np.array_equal(X, np.round(X))      # event counts
    assert (X.sum(axis=(1, 2, 3, 4)) > 0).all()                    # every digit moves, so it fires
    again, _ = load_event_digits(timesteps=5, random_state=0, size=14)
    np.testing.assert_array_equal(X, again)
    other, _ = load_event_digits(timesteps=5, random_state=1, size=14)
    assert not np.array_equal(X, other)


def test_a_closed_saccade_gives_every_pixel_as_many_on_as_off_events():
    """The path returns to its start, so each pixel's log brightness does too; a DVS pixel
    steps its reference by one threshold per event, hence ON and OFF counts must balance."""
    X, _ = load_event_digits(timesteps=6, random_state=0, noise=0.0)
    on, off = X[:, :, 0].sum(axis=1), X[:, :, 1].sum(axis=1)
    np.testing.assert_array_equal(on, off)
    assert on.sum() > 0
    # the canvas corner is never reached by the digit: no events there without noise
    assert X[:, :, :, 0, 0].sum() == 0


def test_saccade_path_is_a_closed_triangle():
    path = snnsk.datasets.events.saccade_path(7, 3.0)
    np.testing.assert_allclose(path[[0, 2, 4, 6]], [[0, 0], [3, 1.5], [0, 3], [0, 0]])


def test_noise_events_appear_at_the_stated_rate():
    quiet, _ = load_event_digits(timesteps=2, random_state=0, noise=0.0)
    noisy, _ = load_event_digits(timesteps=2, random_state=0, noise=0.1)
    extra = (noisy - quiet).mean()
    assert 0.09 < extra < 0.11


@pytest.mark.parametrize("kwargs, message", [
    (dict(timesteps=0), "timesteps"), (dict(size=11), "size"), (dict(substeps=0), "substeps"),
    (dict(contrast_threshold=0), "contrast_threshold"), (dict(noise=1.0), "noise"),
])
def test_event_digits_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_event_digits(**kwargs)


# ---------------------------------------------------------------------------
# load_event_digit_recordings
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recordings():
    return load_event_digit_recordings(60, random_state=0)


def test_recordings_are_event_lists_on_the_sensor_in_time_order(recordings):
    from sklearn.datasets import load_digits
    X, y = recordings
    assert X.shape == (60,) and X.dtype == object
    np.testing.assert_array_equal(y, load_digits().target[:60])
    assert y.dtype == np.int64
    for events in X:
        assert events.dtype.names == ("x", "y", "t", "p")
        assert len(events) > 100
        assert (np.diff(events["t"]) >= 0).all()
        assert events["t"].min() >= 0 and events["t"].max() < 300_000
        assert 0 <= events["x"].min() and events["x"].max() < 34
        assert 0 <= events["y"].min() and events["y"].max() < 34
        assert set(np.unique(events["p"])) == {0, 1}
    again, _ = load_event_digit_recordings(60, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(X, again))
    other, _ = load_event_digit_recordings(60, random_state=1)
    assert not all(np.array_equal(a, b) for a, b in zip(X, other))


def test_recordings_of_a_closed_saccade_balance_on_and_off_per_pixel():
    """As for the frames: the path returns to its start, so without noise every pixel has as
    many ON as OFF events -- counted here from the raw events."""
    X, _ = load_event_digit_recordings(20, random_state=0, noise=0.0, size=20, steps=12)
    for events in X:
        pixel = events["y"].astype(int) * 20 + events["x"]
        on = np.bincount(pixel[events["p"] == 1], minlength=400)
        off = np.bincount(pixel[events["p"] == 0], minlength=400)
        np.testing.assert_array_equal(on, off)
        assert on.sum() > 0


def test_recording_noise_adds_events_at_the_stated_rate():
    quiet, _ = load_event_digit_recordings(50, random_state=0, noise=0.0, size=16, steps=10)
    noisy, _ = load_event_digit_recordings(50, random_state=0, noise=0.05, size=16, steps=10)
    extra = sum(map(len, noisy)) - sum(map(len, quiet))
    expected = 0.05 * 50 * 16 * 16 * 2 * 10     # per pixel, polarity and step
    assert abs(extra - expected) < 0.05 * expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_samples=0), "n_samples"), (dict(size=12), "size"), (dict(steps=0), "steps"),
    (dict(duration=0), "duration"), (dict(noise=-0.1), "noise"),
    (dict(contrast_threshold=-1), "contrast_threshold"),
])
def test_recordings_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_event_digit_recordings(**kwargs)
