"""SSM input: the array forms scikit-learn accepts, and scikit-learn's wording for bad input."""

import numpy as np
import pandas as pd
import pytest

from snnsk import SpikingSSMClassifier
from snnsk.estimators.sequence_input import pad_sequences

SMALL = dict(embed_dim=8, depth=1, d_state=4, max_epochs=1, batch_size=16, random_state=0)


class ArrayLike:
    """Stands for an array without being a list of samples (as xarray or dask arrays do)."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.array, dtype=dtype)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.rand(24, 6, 2), np.arange(24) % 3


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3)])
@pytest.mark.parametrize("form", [
    lambda X: X.astype(object),
    ArrayLike,
    lambda X: ArrayLike(X.astype(object)),
    lambda X: pd.DataFrame(X.astype(object)) if X.ndim == 2 else X.astype(object),
])
def test_object_dtype_and_array_likes_read_as_the_array(shape, form):
    X = np.random.RandomState(0).rand(*shape)
    expected, lengths = pad_sequences(X)
    padded, got_lengths = pad_sequences(form(X))
    np.testing.assert_array_equal(padded, expected)
    np.testing.assert_array_equal(got_lengths, lengths)


def test_ragged_sequences_of_numbers_stored_as_objects():
    seqs = [np.array([1, 2, 3], dtype=object), np.array([4.5], dtype=object)]
    ragged = np.empty(2, dtype=object)
    ragged[:] = seqs
    padded, lengths = pad_sequences(ragged)
    assert padded.dtype == np.float32 and lengths.tolist() == [3, 1]
    np.testing.assert_array_equal(padded[..., 0], [[1, 2, 3], [4.5, 0, 0]])
    with pytest.raises(ValueError, match="sequence 1 of X is not numeric"):
        pad_sequences([np.array([1.0]), np.array(["a", {}], dtype=object)])


def test_a_non_number_among_objects_is_numpys_type_error():
    X = np.zeros((4, 3), dtype=object)
    X[0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError, match="argument must be a string or a real number"):
        pad_sequences(X)


def test_the_estimator_fits_and_predicts_objects_and_array_likes_as_the_array(data):
    X, y = data
    clf = SpikingSSMClassifier(**SMALL).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(X.astype(object)), expected)
    np.testing.assert_array_equal(clf.predict_proba(ArrayLike(X)), expected)
    again = SpikingSSMClassifier(**SMALL).fit(ArrayLike(X.astype(object)), y)
    np.testing.assert_array_equal(again.predict_proba(X), expected)
    assert again.n_features_in_ == clf.n_features_in_ == 2


@pytest.mark.parametrize("X, match", [
    (np.empty((0, 3)), r"X is empty: found array with 0 sample\(s\) \(shape=\(0, 3\)\) "
                       r"while a minimum of 1 is required\."),
    (np.empty((12, 0)), r"no steps: found array with 0 feature\(s\) \(shape=\(12, 0\)\) "
                        r"while a minimum of 1 is required\."),
    (np.empty((12, 5, 0)), r"no channels: found array with 0 feature\(s\) "
                           r"\(shape=\(12, 5, 0\)\) while a minimum of 1 is required\."),
    ([np.empty((3, 0)), np.empty((2, 0))], r"no channels: found array with 0 feature\(s\)"),
    ([], r"X is empty: found 0 sample\(s\) while a minimum of 1 is required\."),
])
def test_empty_data_is_refused_in_scikit_learns_words(X, match):
    with pytest.raises(ValueError, match=match):
        SpikingSSMClassifier(**SMALL).fit(X, np.arange(len(X)) % 2)


def test_a_1d_array_asks_to_be_reshaped(data):
    X, y = data
    clf = SpikingSSMClassifier(**SMALL).fit(X[..., 0], y)
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=r"Reshape your data: for one sequence, pass "
                                             r"\[sequence\] or X.reshape\(1, -1\)"):
            method(X[0, :, 0])
    assert clf.predict(X[:1, :, 0]).shape == (1,)
