"""SpikingViTClassifier: input forms, scikit-learn contract, search, pipeline, persistence."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from snnsk import SpikingViTClassifier
from snnsk.datasets import load_event_digits
from snnsk.analysis.metrics import spike_report

TINY = dict(embed_dim=16, depth=1, heads=2, max_epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def images(digits):
    X, y = digits
    return X[:120], y[:120]


@pytest.mark.parametrize("form, shape", [
    ("flat with image_shape", (120, 64)),
    ("flat square", (120, 64)),
    ("grey images", (120, 8, 8)),
    ("channel images", (120, 1, 8, 8)),
])
def test_every_static_input_form(images, form, shape):
    X, y = images
    kw = dict(image_shape=(8, 8)) if form == "flat with image_shape" else {}
    clf = SpikingViTClassifier(**TINY, **kw).fit(X.reshape(shape), y)
    assert clf.image_shape_ == (1, 8, 8) and clf.event_input_ is False
    assert clf.n_features_in_ == 64
    proba = clf.predict_proba(X[:7].reshape(7, *shape[1:]))
    assert proba.shape == (7, 10)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)


def test_flat_input_of_other_sizes_is_a_square_or_a_row(images):
    X, y = images
    assert SpikingViTClassifier(**TINY).fit(X[:, :49], y).image_shape_ == (1, 7, 7)
    assert SpikingViTClassifier(**TINY).fit(X[:, :10], y).image_shape_ == (1, 1, 10)
    assert SpikingViTClassifier(**TINY, image_shape=(2, 4, 8)).fit(X, y).image_shape_ == (2, 4, 8)


@pytest.mark.parametrize("attention", ["ssa", "sdsa", "qk"])
def test_event_input_for_every_variant(attention):
    X, y = load_event_digits(timesteps=4, random_state=0, size=12)
    clf = SpikingViTClassifier(attention, **{**TINY, "timesteps": 2}).fit(X[:64], y[:64])
    assert clf.event_input_ is True and clf.image_shape_ == (2, 12, 12)
    assert clf.predict(X[64:70]).shape == (6,)
    assert clf.module_(clf.module_.patch_split.convs[0].weight.new_tensor(X[:3])).shape \
        == (2, 3, 10)


def test_bad_input_is_named(images):
    X, y = images
    with pytest.raises(ValueError, match=r"image_shape \(8, 9\) holds 72 values, but X has 64"):
        SpikingViTClassifier(**TINY, image_shape=(8, 9)).fit(X, y)
    with pytest.raises(ValueError, match="image_shape must be None"):
        SpikingViTClassifier(**TINY, image_shape=(8, 0)).fit(X, y)
    with pytest.raises(ValueError, match=r"does not match the \(channels, height, width\)"):
        SpikingViTClassifier(**TINY, image_shape=(4, 16)).fit(X.reshape(-1, 8, 8), y)
    bad = X.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SpikingViTClassifier(**TINY, image_shape=(8, 8)).fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        SpikingViTClassifier(**TINY).fit(bad.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match="6 dimensions"):
        SpikingViTClassifier(**TINY).fit(np.zeros((4, 1, 1, 1, 8, 8)), y[:4])

    clf = SpikingViTClassifier(**TINY).fit(X.reshape(-1, 1, 8, 8), y)
    with pytest.raises(ValueError, match="X has 2 channels, but SpikingViTClassifier was "
                                         "fitted on 1"):
        clf.predict(np.zeros((3, 2, 8, 8)))
    with pytest.raises(ValueError, match="X has 8x9 images"):
        clf.predict(np.zeros((3, 1, 8, 9)))
    with pytest.raises(ValueError, match="fitted on static images, but X holds event frames"):
        clf.predict(np.zeros((3, 4, 1, 8, 8)))
    with pytest.raises(ValueError, match="X has 63 features"):
        clf.predict(X[:3, :63])


def test_too_few_event_frames_for_timesteps():
    X, y = load_event_digits(timesteps=2, random_state=0, size=12)
    with pytest.raises(ValueError, match="input has 2 frames .*, fewer than timesteps \\(4\\)"):
        SpikingViTClassifier(**{**TINY, "timesteps": 4}).fit(X[:20], y[:20])


def test_same_random_state_same_predictions(images):
    X, y = images
    a = SpikingViTClassifier("qk", **TINY, image_shape=(8, 8)).fit(X, y)
    b = SpikingViTClassifier("qk", **TINY, image_shape=(8, 8)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = SpikingViTClassifier("qk", **{**TINY, "random_state": 1}, image_shape=(8, 8)).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_grid_search_over_attention_heads_threshold_and_timesteps(digits):
    X, y = digits
    X, y = X[:160], y[:160]
    grid = {"attention": ["ssa", "sdsa", "qk"], "heads": [1, 2], "threshold": [0.5, 1.0],
            "timesteps": [1, 2]}
    search = GridSearchCV(SpikingViTClassifier(**{**TINY, "embed_dim": 8}), grid, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 24
    best = search.best_estimator_
    assert best.module_.timesteps == search.best_params_["timesteps"]
    attention = best.module_.blocks[0].attention
    assert attention.heads == search.best_params_["heads"]
    assert type(attention).__name__ == {"ssa": "SpikingSelfAttention",
                                        "sdsa": "SpikeDrivenSelfAttention",
                                        "qk": "QKTokenAttention"}[search.best_params_["attention"]]
    assert best.module_.patch_split.neurons[0].neuron.threshold == search.best_params_["threshold"]


def test_pipeline_with_a_scaler_and_joblib_round_trip(images, tmp_path):
    X, y = images
    pipe = make_pipeline(StandardScaler(), SpikingViTClassifier("sdsa", **TINY,
                                                                image_shape=(8, 8)))
    pipe.fit(X, y)
    path = tmp_path / "vit.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_set_params_after_fit(images):
    X, y = images
    clf = SpikingViTClassifier(**TINY, image_shape=(8, 8)).fit(X, y)
    weights = clf.module_.head.weight.detach().clone()
    clf.set_params(timesteps=3, threshold=0.8)
    assert clf.module_.timesteps == 3 and clf.predict(X[:2]).shape == (2,)
    assert clf.module_.head.weight.equal(weights)
    clf.set_params(heads=4)                 # architecture: a new module
    assert clf.module_.blocks[0].attention.heads == 4


def test_spike_stats_and_report_see_attention_products(images):
    X, y = images
    clf = SpikingViTClassifier(**{**TINY, "threshold": 0.5}, image_shape=(8, 8)).fit(X, y)
    stats = clf.spike_stats(X[:20])
    assert "blocks.0.attention.attention_neuron" in stats.index
    assert ((stats.firing_rate >= 0) & (stats.firing_rate <= 1)).all()
    report = spike_report(clf, X[:20])
    assert "blocks.0.attention.scores" in report.index
    assert "blocks.0.attention.values" in report.index
    assert report.loc["blocks.0.attention.scores", "dense_macs"] > 0


@pytest.mark.slow
def test_digits_accuracy_on_a_held_out_split(digits):
    """A small model, 8 epochs: held-out accuracy above 0.80 (chance 0.1; the seed scores 0.836)."""
    X, y = digits
    clf = SpikingViTClassifier("sdsa", embed_dim=32, depth=1, heads=2, patch_size=2,
                               max_epochs=8, random_state=0, image_shape=(8, 8))
    clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.80


@parametrize_with_checks(
    # threshold 0.5: the checks feed 2-feature blobs, a 1x2 image; at the default 1.0 too few
    # first-layer neurons fire to fit them within 20 epochs (training accuracy 0.56 vs 0.88).
    # batch 32: with batch-norm statistics calibrated to the final weights, the 300 blobs in
    # batches of 64 reach 0.80 training accuracy (the check wants 0.83; the lagging running
    # averages had given 0.85 by chance); batches of 32 give 0.91-0.93 over three seeds.
    [SpikingViTClassifier(embed_dim=16, depth=1, heads=2, threshold=0.5, max_epochs=20,
                          batch_size=32, random_state=0)],
    # Only array-API input is not run (scikit-learn skips it unless SCIPY_ARRAY_API is set);
    # every other check is expected to pass.
    expected_failed_checks=lambda est: {},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["ssa", "sdsa", "qk"])
def test_a_two_epoch_fit_is_meaningful(digits, attention):
    """2 epochs of the default model beat 0.5 held-out accuracy (without recalibrated batch-norm
    statistics SDSA scored 0.30 here, and the issue saw one class predicted for every input)."""
    from sklearn.model_selection import train_test_split
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    clf = SpikingViTClassifier(attention, max_epochs=2, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.5


def test_lr_schedule_anneals_by_default_and_can_be_turned_off(images):
    X, y = images
    clf = SpikingViTClassifier(**TINY).fit(X, y)
    assert "cosine_lr" in dict(clf.callbacks_)
    clf.set_params(lr_schedule=None)
    assert "cosine_lr" not in dict(clf.callbacks_)
    with pytest.raises(ValueError, match="lr_schedule"):
        SpikingViTClassifier(**TINY, lr_schedule="step").fit(X, y)
