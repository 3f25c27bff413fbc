"""SequenceScaler: per-channel standardisation of ragged sequences (snnsk.preprocessing)."""

import doctest

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

import snnsk.preprocessing
from snnsk import SpikingSSMClassifier
from snnsk.preprocessing import SequenceScaler


def test_doctest():
    assert doctest.testmod(snnsk.preprocessing, optionflags=doctest.ELLIPSIS).failed == 0


def test_statistics_by_hand_over_real_steps_only():
    # channel 0: 1, 3, 5 -> mean 3, std sqrt(8/3); channel 1: 0, 0, 6 -> mean 2, std sqrt(8)
    X = [np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([[5.0, 6.0]])]
    scaler = SequenceScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, [3.0, 2.0])
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(8 / 3), np.sqrt(8)])
    out = scaler.transform(X)
    assert isinstance(out, list) and [x.shape for x in out] == [(2, 2), (1, 2)]
    np.testing.assert_allclose(out[1], [[2 / np.sqrt(8 / 3), 4 / np.sqrt(8)]], rtol=1e-6)
    assert scaler.n_features_in_ == 2


def test_array_forms_and_options():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(5, 7, 3))
    out = SequenceScaler().fit_transform(X)
    assert out.shape == X.shape
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.reshape(-1, 3).std(0), 1, rtol=1e-4)
    # (n, L) is one channel, and equals its (n, L, 1) form
    flat = SequenceScaler().fit_transform(X[..., 0])
    np.testing.assert_allclose(flat, out[..., 0], rtol=1e-5)
    assert SequenceScaler(with_mean=False).fit(X).mean_.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(SequenceScaler(with_std=False).fit(X).scale_, 1)
    constant = np.ones((2, 4, 1))
    np.testing.assert_array_equal(SequenceScaler().fit_transform(constant), 0)  # scale 1


def test_bad_input_is_named():
    scaler = SequenceScaler().fit([np.zeros((3, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="sequence 0 of X has 3 channels per step, but "
                                         "SequenceScaler was fitted with 2"):
        scaler.transform([np.zeros((3, 3)), np.zeros((2, 3))][::-1])
    with pytest.raises(ValueError, match="NaN"):
        SequenceScaler().fit([np.array([[np.nan]])])


def test_in_a_pipeline_with_the_ssm():
    rng = np.random.default_rng(1)
    X = [rng.normal(10.0 * (i % 2), 1.0, size=(5 + i % 3, 2)) for i in range(24)]
    y = np.arange(24) % 2
    pipe = make_pipeline(SequenceScaler(), SpikingSSMClassifier(d_model=8, n_layers=1,
                                                                d_state=4, max_epochs=2,
                                                                random_state=0)).fit(X, y)
    scaler, clf = pipe.named_steps.values()
    # the classifier was fitted on, and predicts from, the scaled sequences
    np.testing.assert_allclose(scaler.mean_, [5.0, 5.0], atol=0.6)
    np.testing.assert_array_equal(pipe.predict_proba(X), clf.predict_proba(scaler.transform(X)))
