"""Tests for snnsk.text: document validation, normalisation and tokenizers."""

import doctest
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

import snnsk.text.tokenizers
from snnsk.text import (
    BOS_ID,
    PAD_ID,
    UNK_ID,
    CharTokenizer,
    TextNormalizer,
    WordTokenizer,
    check_documents,
    normalize_text,
)


def test_doctests():
    result = doctest.testmod(snnsk.text.tokenizers, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------------
# check_documents
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X",
    [
        ["a b", "c"],
        ("a b", "c"),
        np.array(["a b", "c"]),
        np.array(["a b", "c"], dtype=object),
        pd.Series(["a b", "c"], index=[5, 7]),
        (d for d in ["a b", "c"]),
    ],
)
def test_check_documents_accepts_collections(X):
    docs = check_documents(X)
    assert docs == ["a b", "c"]
    assert all(type(d) is str for d in docs)


def test_check_documents_single_string():
    assert check_documents("one doc", allow_single_string=True) == ["one doc"]
    with pytest.raises(TypeError, match="Iterable over raw text documents expected, string object received"):
        check_documents("one doc")


def test_check_documents_non_string_element_names_index_and_type():
    with pytest.raises(TypeError, match=r"X\[3\] is int, expected str"):
        check_documents(["a", "b", "c", 4])
    with pytest.raises(TypeError, match=r"docs\[1\] is float, expected str"):
        check_documents(["a", float("nan")], name="docs")
    # Positions, not the Series' own index labels.
    with pytest.raises(TypeError, match=r"X\[1\] is int, expected str"):
        check_documents(pd.Series(["a", 2], index=[10, 11], dtype=object))


@pytest.mark.parametrize("X", [[], (), np.array([], dtype=str)])
def test_check_documents_empty(X):
    with pytest.raises(ValueError, match="X is empty: expected at least one document"):
        check_documents(X)


def test_check_documents_all_empty_strings():
    with pytest.raises(ValueError, match="X is empty: all 2 documents are empty strings"):
        check_documents(["", ""])
    with pytest.raises(ValueError, match="X is empty"):
        check_documents("", allow_single_string=True)
    # Some empty documents are fine.
    assert check_documents(["", "x"]) == ["", "x"]


def test_check_documents_none_and_non_iterable_name_the_argument():
    with pytest.raises(TypeError, match="docs must be an iterable of str documents, got None"):
        check_documents(None, name="docs")
    with pytest.raises(TypeError, match="X must be an iterable of str documents, got int"):
        check_documents(5)


def test_check_documents_rejects_2d_and_unordered():
    with pytest.raises(ValueError, match=r"X must be one-dimensional .* shape \(1, 2\)"):
        check_documents(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="X must be one-dimensional"):
        check_documents(pd.DataFrame({"text": ["a", "b"]}))
    with pytest.raises(TypeError, match="ordered collection .* got set"):
        check_documents({"a", "b"})
    with pytest.raises(TypeError, match="got bytes; decode it first"):
        check_documents(b"abc")


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------


def test_normalize_text_strip_symbols():
    text = "\u201cHi\u201d \u2014 it\u2019s 5\u20136 \u2026 a_b #tag &\t\t x\n\n  y"
    # Quotes/dashes/ellipsis become ASCII, '_', '#', '&' go, horizontal runs
    # collapse to one space, newlines stay.
    assert normalize_text(text, strip_symbols=True) == "\"Hi\" -- it's 5-6 ... ab tag x\n\n y"
    assert normalize_text("A\u00e9\u00df1 [x]{y}", strip_symbols=True) == "A\u00e9\u00df1 xy"
    assert normalize_text("Ab\u2019C", lowercase=True) == "ab\u2019c"
    assert normalize_text("Ab  C") == "Ab  C"
    with pytest.raises(TypeError, match="text must be str, got int"):
        normalize_text(3)


def test_text_normalizer_transformer():
    norm = TextNormalizer(lowercase=True, strip_symbols=True)
    assert norm.fit(["x"]) is norm
    assert norm.transform(["Hello  World!", "A\u2014B <c>"]) == ["hello world!", "a--b c"]
    assert TextNormalizer().fit_transform(["Same  Text"]) == ["Same  Text"]
    # Stateless: usable without fit.
    assert TextNormalizer(lowercase=True).transform(["AB"]) == ["ab"]
    tags = norm.__sklearn_tags__()
    assert tags.requires_fit is False
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert clone(norm).get_params() == {"lowercase": True, "strip_symbols": True}


@pytest.mark.parametrize("param", ["lowercase", "strip_symbols"])
def test_text_normalizer_bad_params(param):
    with pytest.raises(ValueError, match=f"{param} must be a bool, got 'yes'"):
        TextNormalizer(**{param: "yes"}).fit(["a"])
    with pytest.raises(ValueError, match=f"{param} must be a bool"):
        TextNormalizer(**{param: 1}).transform(["a"])


def test_text_normalizer_rejects_single_string():
    with pytest.raises(TypeError, match="string object received"):
        TextNormalizer().transform("abc")


# ---------------------------------------------------------------------------
# CharTokenizer
# ---------------------------------------------------------------------------


def test_special_ids():
    assert (PAD_ID, UNK_ID, BOS_ID) == (0, 1, 2)
    tok = CharTokenizer().fit(["x"])
    assert list(tok.tokens_[:3]) == ["<pad>", "<unk>", "<bos>"]
    assert (tok.pad_token, tok.unk_token, tok.bos_token) == ("<pad>", "<unk>", "<bos>")


def test_char_vocabulary_by_hand():
    # Counts: a=3, b=3, c=1 -> a and b tie, broken lexicographically.
    tok = CharTokenizer().fit(["abba", "cab"])
    assert tok.vocabulary_ == {"<pad>": 0, "<unk>": 1, "<bos>": 2, "a": 3, "b": 4, "c": 5}
    assert tok.tokens_.dtype == object
    assert list(tok.tokens_) == ["<pad>", "<unk>", "<bos>", "a", "b", "c"]
    assert tok.vocab_size_ == 6
    # Document order does not change the vocabulary.
    assert CharTokenizer().fit(["cab", "abba"]).vocabulary_ == tok.vocabulary_
    # Frequency beats lexicographic order: z=3, a=1.
    assert list(CharTokenizer().fit(["zzza"]).tokens_[3:]) == ["z", "a"]


def test_char_pruning():
    # Counts: a=4, b=3, c=2, d=1.
    docs = ["aaaa", "bbb", "cc", "d"]
    assert list(CharTokenizer(min_freq=2).fit(docs).tokens_[3:]) == ["a", "b", "c"]
    assert list(CharTokenizer(min_freq=4).fit(docs).tokens_[3:]) == ["a"]
    tok = CharTokenizer(max_vocab=5).fit(docs)  # 3 specials + 2 tokens
    assert list(tok.tokens_[3:]) == ["a", "b"]
    assert tok.vocab_size_ == 5
    assert CharTokenizer(max_vocab=4).fit(docs).vocab_size_ == 4
    # min_freq first, then max_vocab.
    assert list(CharTokenizer(min_freq=3, max_vocab=100).fit(docs).tokens_[3:]) == ["a", "b"]
    np.testing.assert_array_equal(CharTokenizer(min_freq=3).fit(docs).encode("abcd"), [3, 4, UNK_ID, UNK_ID])


def test_char_encode_decode():
    tok = CharTokenizer().fit(["abba", "cab"])
    ids = tok.encode("cabx")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [5, 3, 4, UNK_ID])
    assert tok.encode("").shape == (0,)
    # PAD and BOS are skipped, UNK is rendered.
    assert tok.decode([BOS_ID, 5, 3, UNK_ID, PAD_ID, PAD_ID]) == "ca<unk>"
    assert tok.decode(np.array([], dtype=np.int64)) == ""
    assert tok.decode([]) == ""


def test_char_round_trip():
    docs = ["Hello, world!\n\tTabs and  spaces.", "\u00e9t\u00e9 \u2014 \u201cquoted\u201d", "a"]
    tok = CharTokenizer().fit(docs)
    encoded = tok.transform(docs)
    assert isinstance(encoded, list) and len(encoded) == 3
    assert [len(e) for e in encoded] == [len(d) for d in docs]
    assert tok.inverse_transform(encoded) == docs


def test_char_lowercase_and_strip_symbols():
    tok = CharTokenizer(lowercase=True).fit(["AbA"])
    assert tok.vocabulary_ == {"<pad>": 0, "<unk>": 1, "<bos>": 2, "a": 3, "b": 4}
    np.testing.assert_array_equal(tok.encode("BAB"), [4, 3, 4])
    tok = CharTokenizer(strip_symbols=True).fit(["a\u2019b & c\u2026"])
    assert tok.tokenize("a\u2019b & c\u2026") == list("a'b c...")
    assert "&" not in tok.vocabulary_ and "\u2019" not in tok.vocabulary_
    assert tok.unknown_tokens("a&b") == []  # '&' is stripped, not unknown


def test_unknown_tokens():
    tok = CharTokenizer().fit(["abc"])
    assert tok.unknown_tokens("abxzyxa") == ["x", "z", "y"]
    assert tok.unknown_tokens("cab") == []
    np.testing.assert_array_equal(tok.encode("abxz"), [3, 4, UNK_ID, UNK_ID])


def test_transform_padded_2d_inverse():
    tok = CharTokenizer().fit(["ab"])
    padded = np.array([[3, 4, PAD_ID], [4, PAD_ID, PAD_ID]])
    assert tok.inverse_transform(padded) == ["ab", "b"]


def test_pipeline_with_normalizer():
    pipe = make_pipeline(TextNormalizer(lowercase=True), CharTokenizer())
    out = pipe.fit_transform(["AAb"])
    np.testing.assert_array_equal(out[0], [3, 3, 4])


# ---------------------------------------------------------------------------
# WordTokenizer
# ---------------------------------------------------------------------------


def test_word_tokenize():
    tok = WordTokenizer(lowercase=False)
    assert tok.tokenize("Don't stop, it's 3.5 (ok)!\n\nNext_line\ta-b") == [
        "Don't", "stop", ",", "it's", "3", ".", "5", "(", "ok", ")", "!", "\n", "\n", "Next_line", "a", "-", "b",
    ]  # fmt: skip
    assert WordTokenizer().tokenize("The CAT") == ["the", "cat"]


def test_word_vocabulary_by_hand():
    docs = ["The cat sat.", "The dog sat on the mat."]
    # Lower-cased counts: the=3, sat=2, .=2, cat=dog=on=mat=1.
    tok = WordTokenizer().fit(docs)  # min_freq=2 by default
    assert tok.vocabulary_ == {"<pad>": 0, "<unk>": 1, "<bos>": 2, "the": 3, ".": 4, "sat": 5}
    tok = WordTokenizer(min_freq=1).fit(docs)
    assert list(tok.tokens_[3:]) == ["the", ".", "sat", "cat", "dog", "mat", "on"]
    assert WordTokenizer(min_freq=1, max_vocab=6).fit(docs).vocab_size_ == 6
    np.testing.assert_array_equal(WordTokenizer().fit(docs).encode("The bird sat."), [3, UNK_ID, 5, 4])
    assert WordTokenizer().fit(docs).unknown_tokens("the bird and the bee and") == ["bird", "and", "bee"]


def test_word_round_trip():
    text = "Hello, world (big) test.\nNext line!"
    tok = WordTokenizer(lowercase=False, min_freq=1).fit([text])
    assert tok.decode(tok.encode(text)) == text
    # Horizontal whitespace is not kept: tokens are joined with single spaces.
    assert tok.decode(tok.encode("Hello   world\t( test ) .")) == "Hello world (test)."
    assert tok.decode(tok.encode("line\n\n  Next")) == "line\n\nNext"
    docs = ["Say: it's fine; really?", "(yes) \"quoted\""]
    tok = WordTokenizer(lowercase=False, min_freq=1).fit(docs)
    assert tok.inverse_transform(tok.transform(docs)) == ["Say: it's fine; really?", '(yes) " quoted "']


def test_word_decode_unknown():
    tok = WordTokenizer(min_freq=1).fit(["a b"])
    assert tok.decode(tok.encode("a z b")) == "a <unk> b"


# ---------------------------------------------------------------------------
# scikit-learn API and errors shared by both tokenizers
# ---------------------------------------------------------------------------


def test_get_params_and_clone():
    assert WordTokenizer().get_params() == {
        "lowercase": True,
        "max_vocab": None,
        "min_freq": 2,
        "strip_symbols": False,
    }
    assert CharTokenizer().get_params() == {
        "lowercase": False,
        "max_vocab": None,
        "min_freq": 1,
        "strip_symbols": False,
    }
    fitted = CharTokenizer(min_freq=2, max_vocab=10).fit(["aab"])
    cloned = clone(fitted)
    assert cloned.get_params() == fitted.get_params()
    assert not hasattr(cloned, "vocabulary_")
    assert type(cloned) is CharTokenizer


@pytest.mark.parametrize("cls", [CharTokenizer, WordTokenizer])
def test_pickle_fitted(cls):
    docs = ["the spiking cat", "the spiking dog"]
    tok = cls(min_freq=1).fit(docs)
    restored = pickle.loads(pickle.dumps(tok))
    assert restored.vocabulary_ == tok.vocabulary_
    np.testing.assert_array_equal(restored.tokens_, tok.tokens_)
    np.testing.assert_array_equal(restored.encode("the cat"), tok.encode("the cat"))


@pytest.mark.parametrize("cls", [CharTokenizer, WordTokenizer])
def test_tags(cls):
    tags = cls().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False


@pytest.mark.parametrize(
    "params, match",
    [
        ({"min_freq": 0}, "min_freq must be a positive integer, got 0"),
        ({"min_freq": 1.5}, "min_freq must be a positive integer, got 1.5"),
        ({"min_freq": True}, "min_freq must be a positive integer, got True"),
        ({"max_vocab": 3}, r"max_vocab must be None or an int >= 4 .*got 3"),
        ({"max_vocab": 10.0}, "max_vocab must be None or an int >= 4"),
        ({"lowercase": "no"}, "lowercase must be a bool, got 'no'"),
        ({"strip_symbols": None}, "strip_symbols must be a bool, got None"),
    ],
)
@pytest.mark.parametrize("cls", [CharTokenizer, WordTokenizer])
def test_bad_params(cls, params, match):
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(["some text"])


def test_numpy_scalar_params():
    docs = ["aab", "abc"]
    tok = CharTokenizer(min_freq=np.int64(2), max_vocab=np.int32(5)).fit(docs)
    assert list(tok.tokens_[3:]) == ["a", "b"]
    assert TextNormalizer(lowercase=np.True_).fit_transform(["AB"]) == ["ab"]
    with pytest.raises(ValueError, match="min_freq must be a positive integer, got np.True_"):
        CharTokenizer(min_freq=np.True_).fit(docs)
    with pytest.raises(ValueError, match="max_vocab must be None or an int >= 4"):
        CharTokenizer(max_vocab=np.float64(10)).fit(docs)


def test_everything_pruned():
    with pytest.raises(ValueError, match=r"min_freq=5 and max_vocab=None pruned all 3 distinct tokens"):
        CharTokenizer(min_freq=5).fit(["abc"])
    with pytest.raises(ValueError, match="pruned all"):
        WordTokenizer().fit(["each word once"])  # min_freq=2


def test_not_fitted():
    tok = CharTokenizer()
    for call in (
        lambda: tok.encode("a"),
        lambda: tok.decode([3]),
        lambda: tok.transform(["a"]),
        lambda: tok.inverse_transform([[3]]),
        lambda: tok.unknown_tokens("a"),
    ):
        with pytest.raises(NotFittedError):
            call()
    # tokenize only needs the parameters.
    assert tok.tokenize("ab") == ["a", "b"]


def test_input_errors():
    tok = CharTokenizer().fit(["abc"])
    with pytest.raises(TypeError, match="string object received"):
        CharTokenizer().fit("abc")
    with pytest.raises(TypeError, match="string object received"):
        tok.transform("abc")
    with pytest.raises(TypeError, match=r"X\[1\] is int, expected str"):
        tok.transform(["a", 1])
    with pytest.raises(ValueError, match="X is empty"):
        tok.fit([])
    with pytest.raises(TypeError, match="text must be str, got list"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 6\)"):
        tok.decode([3, 6])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 6\)"):
        tok.decode([-1])
    with pytest.raises(ValueError, match=r"ids must be one-dimensional, got shape \(1, 1\)"):
        tok.decode([[3]])
    with pytest.raises(TypeError, match="ids must be integers, got dtype float64"):
        tok.decode([3.0])
    with pytest.raises(TypeError, match="use decode\\(\\) for one sequence"):
        tok.inverse_transform(np.array([3, 4]))
    with pytest.raises(TypeError, match="X must be a collection of id sequences, got int"):
        tok.inverse_transform(3)
