"""SpikingMLPClassifier: quality on digits, scikit-learn integration, persistence."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from snnsk import SpikingMLPClassifier
from snnsk.models import SpikingMLP


@pytest.mark.slow
def test_default_accuracy_on_digits(digits):
    """Default hyperparameters, stratified 5-fold CV without shuffling (SVC: 0.946)."""
    X, y = digits
    scores = cross_val_score(SpikingMLPClassifier(random_state=0), X, y, cv=StratifiedKFold(5))
    assert scores.mean() >= 0.93, scores


def test_grid_search_over_threshold_and_timesteps(digits):
    X, y = digits
    X, y = X[:400], y[:400]
    search = GridSearchCV(
        SpikingMLPClassifier(hidden_layer_sizes=(64,), max_epochs=10, batch_size=32, random_state=0),
        {"threshold": [0.5, 1.0], "timesteps": [2, 3]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.module_.timesteps == search.best_params_["timesteps"]
    assert all(layer.neuron.threshold == search.best_params_["threshold"]
               for layer in search.best_estimator_.module_.neurons)
    assert search.best_score_ > 0.5


def test_same_random_state_same_predictions(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32,), max_epochs=3, random_state=7, encoding="rate")
    a = SpikingMLPClassifier(**kw).fit(X[:300], y[:300])
    b = SpikingMLPClassifier(**kw).fit(X[:300], y[:300])
    np.testing.assert_array_equal(a.predict_proba(X[300:400]), b.predict_proba(X[300:400]))
    # rate encoding is stochastic, yet a seeded estimator predicts the same every call
    np.testing.assert_array_equal(a.predict_proba(X[300:400]), a.predict_proba(X[300:400]))
    c = SpikingMLPClassifier(**{**kw, "random_state": 8}).fit(X[:300], y[:300])
    assert not np.array_equal(a.predict_proba(X[300:400]), c.predict_proba(X[300:400]))


def test_fit_does_not_touch_the_global_torch_rng(digits):
    import torch
    X, y = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SpikingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=1, random_state=0).fit(X[:50], y[:50])
    assert torch.equal(torch.rand(3), expected)


def test_joblib_round_trip_predicts_identically(digits, tmp_path):
    X, y = digits
    pipe = make_pipeline(MinMaxScaler(), SpikingMLPClassifier(hidden_layer_sizes=(32,), max_epochs=3,
                                                              random_state=0))
    pipe.fit(X[:300], y[:300])
    path = tmp_path / "mlp.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X[300:]), pipe.predict_proba(X[300:]))
    np.testing.assert_array_equal(loaded.predict(X[300:]), pipe.predict(X[300:]))


def test_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = SpikingMLPClassifier(hidden_layer_sizes=(64,), max_epochs=8, random_state=0)
    clf.fit(X[:500], names[y[:500]])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(X[500:700])
    assert pred.dtype == names.dtype
    assert np.mean(pred == names[y[500:700]]) > 0.7


def test_module_outputs_per_timestep_logits():
    import torch
    module = SpikingMLP(n_features=5, n_classes=3, hidden_layer_sizes=(7, 6), timesteps=4)
    assert module(torch.rand(2, 5)).shape == (4, 2, 3)
    for encoding in ("rate", "latency"):
        module = SpikingMLP(5, 3, (7,), timesteps=3, encoding=encoding)
        assert module(torch.rand(2, 5)).shape == (3, 2, 3)


@parametrize_with_checks(
    [SpikingMLPClassifier(hidden_layer_sizes=(32,), max_epochs=20)],
    # The only check not run is array-API input, which scikit-learn skips unless
    # SCIPY_ARRAY_API is set; every other check is expected to pass.
    expected_failed_checks=lambda est: {},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _spike_sequences(n, rng):
    """Spike counts (n, 50 steps, 40 channels): class c fires channels 10c..10c+9 mid-sequence."""
    y = rng.integers(0, 3, n)
    X = (rng.random((n, 50, 40)) < 0.02).astype(np.float32)
    for i in range(n):
        X[i, 15:35, 10 * y[i]:10 * y[i] + 10] += rng.random((20, 10)) < 0.3
    return X, y


def test_sequence_input_is_fed_by_time_bins():
    """SHD-style (n, length, channels) spike counts: the length is summed into T bins."""
    rng = np.random.default_rng(0)
    X, y = _spike_sequences(300, rng)
    clf = SpikingMLPClassifier(hidden_layer_sizes=(64,), max_epochs=10, random_state=0)
    clf.fit(X[:200], y[:200])
    assert clf.sequence_input_ and clf.n_features_in_ == 40
    assert clf.score(X[200:], y[200:]) > 0.9  # chance 1/3
    # the module sees T = 4 bins of the 50 steps: the same as feeding the binned sums
    binned = np.stack([X[200:210, a:b].sum(1) for a, b in ((0, 12), (12, 25), (25, 37), (37, 50))],
                      axis=1)
    np.testing.assert_allclose(clf.predict_proba(binned), clf.predict_proba(X[200:210]), rtol=1e-6)
    with pytest.raises(ValueError, match="30 features per step, but SpikingMLPClassifier was "
                                         "fitted on 40"):
        clf.predict(X[:5, :, :30])
    with pytest.raises(ValueError, match="fitted on sequences, but X holds static samples"):
        clf.predict(X[:5, 0])
    static = SpikingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=1).fit(X[:20, 0], y[:20])
    with pytest.raises(ValueError, match="fitted on static samples, but X holds sequences"):
        static.predict(X[:5])
