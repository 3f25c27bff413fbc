"""snnsk.preprocessing: EventFrames (counts by hand, agreement with tonic, errors, scikit-learn
use) and SequenceScaler (statistics by hand over ragged sequences, forms, errors, pipeline)."""

import doctest
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import snnsk.preprocessing
from snnsk import SpikingSSMClassifier
from snnsk.preprocessing import EventFrames, SequenceScaler

XYTP = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def events(*rows, dtype=XYTP):
    """A structured event array from (x, y, t, p) rows."""
    return np.array([tuple(row) for row in rows], dtype=dtype)


def random_events(rng, n, width, height, duration=5000):
    out = np.zeros(n, dtype=XYTP)
    out["x"] = rng.integers(0, width, n)
    out["y"] = rng.integers(0, height, n)
    out["t"] = np.sort(rng.integers(0, duration, n))
    out["p"] = rng.integers(0, 2, n)
    return out


def test_doctests():
    result = doctest.testmod(snnsk.preprocessing)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------
# counts computed by hand
# ---------------------------------------------------------------------------

# Six events on a 3x2 sensor; t = 0, 10, 20, 30, 40, 50.
SAMPLE = events((0, 0, 0, 1), (1, 0, 10, 0), (2, 1, 20, 1), (2, 1, 30, 1), (0, 1, 40, 0),
                (1, 1, 50, 1))
SENSOR = (3, 2, 2)


def frame(*cells):
    """A (2, 2, 3) frame from (p, y, x, count) cells."""
    out = np.zeros((2, 2, 3), dtype=np.float32)
    for p, y, x, count in cells:
        out[p, y, x] = count
    return out


def test_time_window_by_hand():
    # windows [0, 20), [20, 40): floor((50 - 20) / 20) + 1 = 2 windows, the stretch from
    # 40 on is incomplete and dropped
    got = EventFrames(SENSOR, time_window=20).fit_transform([SAMPLE])[0]
    np.testing.assert_array_equal(got, [frame((1, 0, 0, 1), (0, 0, 1, 1)),
                                        frame((1, 1, 2, 2))])
    # include_incomplete: ceil(30 / 20) + 1 = 3 windows, the third [40, 60)
    got = EventFrames(SENSOR, time_window=20, include_incomplete=True).fit_transform([SAMPLE])[0]
    assert got.shape == (3, 2, 2, 3)
    np.testing.assert_array_equal(got[2], frame((0, 1, 0, 1), (1, 1, 1, 1)))
    # overlap 10: stride 10, windows [0, 20), [10, 30), [20, 40), [30, 50)
    got = EventFrames(SENSOR, time_window=20, overlap=10).fit_transform([SAMPLE])[0]
    assert got.shape == (4, 2, 2, 3)
    np.testing.assert_array_equal(got[1], frame((0, 0, 1, 1), (1, 1, 2, 1)))
    np.testing.assert_array_equal(got[3], frame((1, 1, 2, 1), (0, 1, 0, 1)))


def test_event_count_by_hand():
    got = EventFrames(SENSOR, event_count=4).fit_transform([SAMPLE])[0]
    assert got.shape == (1, 2, 2, 3)          # 6 events: one full slice of 4
    np.testing.assert_array_equal(got[0], frame((1, 0, 0, 1), (0, 0, 1, 1), (1, 1, 2, 2)))
    got = EventFrames(SENSOR, event_count=4, include_incomplete=True).fit_transform([SAMPLE])[0]
    np.testing.assert_array_equal(got[1], frame((0, 1, 0, 1), (1, 1, 1, 1)))
    # overlap 2: slices of events 0-3 and 2-5
    got = EventFrames(SENSOR, event_count=4, overlap=2).fit_transform([SAMPLE])[0]
    np.testing.assert_array_equal(got[1], frame((1, 1, 2, 2), (0, 1, 0, 1), (1, 1, 1, 1)))


def test_n_time_bins_by_hand():
    # width 50 // 2 = 25: bins [0, 25) and [25, 50); the last event (t = 50) is in neither
    got = EventFrames(SENSOR, n_time_bins=2).fit_transform([SAMPLE])[0]
    np.testing.assert_array_equal(got, [frame((1, 0, 0, 1), (0, 0, 1, 1), (1, 1, 2, 1)),
                                        frame((1, 1, 2, 1), (0, 1, 0, 1))])
    # overlap 0.2: width 25 * 1.2 = 30, stride 30 * 0.8 = 24: [0, 30) and [24, 54)
    got = EventFrames(SENSOR, n_time_bins=2, overlap=0.2).fit_transform([SAMPLE])[0]
    np.testing.assert_array_equal(got[0], frame((1, 0, 0, 1), (0, 0, 1, 1), (1, 1, 2, 1)))
    np.testing.assert_array_equal(got[1], frame((1, 1, 2, 1), (0, 1, 0, 1), (1, 1, 1, 1)))


def test_denoise_by_hand():
    # (0,0) at t=0 is kept: every pixel starts as if it fired at 0 (tonic's rule) and
    # 0 + 100 > 0. (1,0) at 150: its neighbour (0,0) fired at 0, 0 + 100 <= 150: dropped.
    # (1,1) at 180: neighbour (1,0) fired at 150, 250 > 180: kept. (3,3) at 500: alone: dropped.
    # (0,0) at 520 again: neighbour (1,0)'s 150 is too old: dropped.
    sample = events((0, 0, 0, 1), (1, 0, 150, 1), (1, 1, 180, 1), (3, 3, 500, 1),
                    (0, 0, 520, 1))
    got = EventFrames((4, 4, 2), event_count=5, filter_time=100).fit_transform([sample])[0]
    expected = np.zeros((1, 2, 4, 4), dtype=np.float32)
    expected[0, 1, 0, 0] = 1                  # (x=0, y=0)
    expected[0, 1, 1, 1] = 1                  # (x=1, y=1)
    # only two events survive; event_count=5 gives one slice of min(5, 2) events
    np.testing.assert_array_equal(got, expected)


def test_spatial_factor_by_hand():
    # x * 0.5 floored: 0,1 -> 0; 2,3 -> 1; 4 -> 2. A 5x3 sensor becomes 3x2.
    sample = events((0, 0, 0, 1), (1, 2, 1, 1), (2, 0, 2, 0), (3, 1, 3, 1), (4, 2, 4, 1))
    got = EventFrames((5, 3, 2), event_count=5, spatial_factor=0.5).fit_transform([sample])[0]
    assert got.shape == (1, 2, 2, 3)
    expected = np.zeros((2, 2, 3), dtype=np.float32)
    expected[1, 0, 0] = 1          # (0, 0)
    expected[1, 1, 0] = 1          # (1, 2) -> (0, 1)
    expected[0, 0, 1] = 1          # (2, 0) -> (1, 0)
    expected[1, 0, 1] = 1          # (3, 1) -> (1, 0)
    expected[1, 1, 2] = 1          # (4, 2) -> (2, 1)
    np.testing.assert_array_equal(got[0], expected)


def test_single_polarity_and_missing_y_on_a_one_row_sensor():
    # SHD-style spike trains: fields t, x, p (p always 1), sensor (channels, 1, 1)
    spikes = np.array([(0, 3, 1), (5, 3, 1), (7, 0, 1), (12, 6, 1)],
                      dtype=[("t", int), ("x", int), ("p", int)])
    got = EventFrames((7, 1, 1), time_window=10).fit_transform([spikes])[0]
    assert got.shape == (1, 1, 1, 7)          # floor((12 - 10) / 10) + 1 = 1 window
    np.testing.assert_array_equal(got[0, 0, 0], [1, 0, 0, 2, 0, 0, 0])


def test_empty_samples_and_padding():
    empty = SAMPLE[:0]
    got = EventFrames(SENSOR, n_time_bins=3).fit_transform([empty, SAMPLE])
    assert got.shape == (2, 3, 2, 2, 3) and got[0].sum() == 0
    # time_window: 2 frames for SAMPLE, 1 (empty) for the empty sample, padded to 2
    got = EventFrames(SENSOR, time_window=20).fit_transform([empty, SAMPLE])
    assert got.shape == (2, 2, 2, 2, 3) and got[0].sum() == 0 and got[1].sum() == 4
    # n_frames pads to 5 or keeps the first frame only
    padded = EventFrames(SENSOR, time_window=20, n_frames=5).fit_transform([SAMPLE])
    assert padded.shape == (1, 5, 2, 2, 3) and padded[0, 2:].sum() == 0
    np.testing.assert_array_equal(padded[0, :2], got[1])
    cut = EventFrames(SENSOR, time_window=20, n_frames=1).fit_transform([SAMPLE])
    np.testing.assert_array_equal(cut[0], got[1][:1])


def test_output_dtype_shape_and_call():
    frames = EventFrames(SENSOR, n_time_bins=2)
    out = frames.fit_transform([SAMPLE, SAMPLE])
    assert out.dtype == np.float32 and out.shape == (2, 2, 2, 2, 3)
    np.testing.assert_array_equal(frames(SAMPLE), out[0])
    # other integer types and field orders, as tonic's datasets have them
    other = np.zeros(len(SAMPLE), dtype=[("x", np.int16), ("y", np.int16), ("p", bool),
                                         ("t", np.int64)])
    for name in "xytp":
        other[name] = SAMPLE[name]
    np.testing.assert_array_equal(frames(other), out[0])
    assert SAMPLE["p"].tolist() == [1, 0, 1, 1, 0, 1]   # the input is not modified


# ---------------------------------------------------------------------------
# agreement with tonic
# ---------------------------------------------------------------------------

BINNINGS = [dict(time_window=700), dict(time_window=333.5), dict(event_count=37),
            dict(n_time_bins=5), dict(n_time_bins=1), dict(n_time_bins=7, overlap=0.3),
            dict(time_window=700, overlap=200, include_incomplete=True),
            dict(time_window=900, include_incomplete=True),
            dict(event_count=30, overlap=10, include_incomplete=True),
            dict(event_count=500)]


@pytest.mark.parametrize("binning", BINNINGS, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_agrees_with_tonic_to_frame(binning):
    transforms = pytest.importorskip("tonic.transforms")
    rng = np.random.default_rng(0)
    sensor = (9, 7, 2)
    samples = [random_events(rng, n, 9, 7) for n in (1, 2, 25, 120, 400)]
    ours = EventFrames(sensor, **binning)
    for sample in samples:
        reference = transforms.ToFrame(sensor_size=sensor, **binning)(sample.copy())
        np.testing.assert_array_equal(ours(sample), reference)


def test_defaults_are_tonics():
    transforms = pytest.importorskip("tonic.transforms")
    ours, theirs = EventFrames(), transforms.ToFrame(sensor_size=None)
    assert ours.overlap == theirs.overlap == 0
    assert ours.include_incomplete is theirs.include_incomplete is False


@pytest.mark.parametrize("filter_time, factor", [(50, 1.0), (300, 0.5), (1000, 0.34)])
def test_denoise_and_downsample_agree_with_tonic(filter_time, factor):
    transforms = pytest.importorskip("tonic.transforms")
    rng = np.random.default_rng(1)
    sensor = (16, 12, 2)
    small = (int(np.floor(15 * factor)) + 1, int(np.floor(11 * factor)) + 1, 2)
    ours = EventFrames(sensor, n_time_bins=4, filter_time=filter_time, spatial_factor=factor)
    dropped = kept = 0
    for n in (200, 800, 3000):
        sample = random_events(rng, n, 16, 12)
        denoised = transforms.Denoise(filter_time=filter_time)(sample.copy())
        dropped, kept = dropped + n - len(denoised), kept + len(denoised)
        small_events = transforms.Downsample(spatial_factor=factor)(denoised)
        reference = transforms.ToFrame(sensor_size=small, n_time_bins=4)(small_events)
        np.testing.assert_array_equal(ours(sample), reference)
    assert dropped > 0 and kept > 0          # the denoising did something either way


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sensor_size", [None, (3, 2), (3, 2, 0), (3, -2, 2), "3x2x2",
                                         (3.0, 2, 2), (3, 2, True)])
def test_wrong_sensor_size(sensor_size):
    with pytest.raises(ValueError, match="sensor_size"):
        EventFrames(sensor_size, n_time_bins=2).fit([SAMPLE])


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of .*got none"),
    (dict(time_window=10, n_time_bins=2), "exactly one of .*time_window=10, n_time_bins=2"),
    (dict(time_window=10, event_count=3, n_time_bins=2), "exactly one of"),
    (dict(time_window=0), "time_window"), (dict(event_count=2.5), "event_count"),
    (dict(n_time_bins=0), "n_time_bins"),
    (dict(time_window=10, overlap=10), "overlap"), (dict(event_count=4, overlap=1.5), "overlap"),
    (dict(n_time_bins=3, overlap=1.0), "overlap"), (dict(n_time_bins=3, overlap=-0.1), "overlap"),
    (dict(n_time_bins=3, include_incomplete=True), "include_incomplete"),
    (dict(time_window=10, include_incomplete="yes"), "include_incomplete"),
    (dict(n_time_bins=3, n_frames=3), "n_frames"), (dict(time_window=10, n_frames=0), "n_frames"),
    (dict(n_time_bins=3, filter_time=0), "filter_time"),
    (dict(n_time_bins=3, spatial_factor=0), "spatial_factor"),
    (dict(n_time_bins=3, spatial_factor=2), "spatial_factor"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EventFrames(SENSOR, **kwargs).fit([SAMPLE])
    with pytest.raises(ValueError, match=message):   # transform checks them too
        EventFrames(SENSOR, **kwargs).transform([SAMPLE])


@pytest.mark.parametrize("python, numpy_", [
    (dict(time_window=20, include_incomplete=True, overlap=5),
     dict(time_window=np.float32(20), include_incomplete=np.True_, overlap=np.int64(5))),
    (dict(event_count=4, overlap=2), dict(event_count=np.int64(4), overlap=np.float64(2.0))),
    (dict(n_time_bins=3, spatial_factor=0.5, filter_time=15),
     dict(n_time_bins=np.int32(3), spatial_factor=np.float64(0.5), filter_time=np.int64(15))),
])
def test_numpy_scalar_parameters_give_the_same_frames(python, numpy_):
    expected = EventFrames(SENSOR, **python).fit_transform([SAMPLE])
    got = EventFrames(np.array(SENSOR), **numpy_).fit_transform([SAMPLE])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kwargs, name", [
    (dict(time_window=np.True_), "time_window"), (dict(n_time_bins=np.True_), "n_time_bins"),
    (dict(n_time_bins=3, spatial_factor=np.True_), "spatial_factor"),
    (dict(n_time_bins=3, overlap=np.False_), "overlap"),
    (dict(time_window=10, include_incomplete=np.int64(1)), "include_incomplete"),
])
def test_numpy_booleans_are_not_numbers_nor_numbers_booleans(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EventFrames(SENSOR, **kwargs).fit([SAMPLE])


def test_events_outside_the_sensor_name_the_sample_and_the_field():
    inside = SAMPLE.copy()
    for field, value, size in (("x", 3, "width 3"), ("y", 2, "height 2"), ("x", -1, "width 3")):
        outside = SAMPLE.copy()
        outside[field][4] = value
        with pytest.raises(ValueError, match=rf"sample 2: field '{field}' has value {value}, "
                                             rf"outside the sensor .*{size}"):
            EventFrames(SENSOR, n_time_bins=2).fit([inside, inside, outside])
    bad_polarity = SAMPLE.copy()
    bad_polarity["p"][0] = 2
    with pytest.raises(ValueError, match="sample 1: field 'p' has value 2"):
        EventFrames(SENSOR, n_time_bins=2).transform([inside, bad_polarity])
    with pytest.raises(ValueError, match="sample 0: field 'p' has both polarities"):
        EventFrames((3, 2, 1), n_time_bins=2).fit([SAMPLE])


def test_malformed_samples():
    no_p = np.zeros(3, dtype=[("x", int), ("y", int), ("t", int)])
    with pytest.raises(ValueError, match=r"sample 1 has no field 'p' \(its fields: x, y, t\)"):
        EventFrames(SENSOR, n_time_bins=2).fit([SAMPLE, no_p])
    no_y = np.zeros(3, dtype=[("x", int), ("t", int), ("p", int)])
    with pytest.raises(ValueError, match="sample 0 has no field 'y'"):
        EventFrames(SENSOR, n_time_bins=2).fit([no_y])
    with pytest.raises(TypeError, match="sample 1 is not a 1-d structured array"):
        EventFrames(SENSOR, n_time_bins=2).fit([SAMPLE, np.zeros((3, 4))])
    with pytest.raises(TypeError, match="single structured event array"):
        EventFrames(SENSOR, n_time_bins=2).fit(SAMPLE)
    with pytest.raises(TypeError, match="sequence of structured event arrays"):
        EventFrames(SENSOR, n_time_bins=2).fit(3)
    float_x = np.zeros(2, dtype=[("x", float), ("y", int), ("t", int), ("p", int)])
    with pytest.raises(TypeError, match="sample 0: field 'x' must hold integers"):
        EventFrames(SENSOR, n_time_bins=2).fit([float_x])
    shuffled = SAMPLE[[0, 2, 1, 3, 4, 5]]
    with pytest.raises(ValueError, match="sample 0: field 't' is not in time order"):
        EventFrames(SENSOR, n_time_bins=2).fit([shuffled])
    nan_t = np.zeros(2, dtype=[("x", int), ("y", int), ("t", float), ("p", int)])
    nan_t["t"][1] = np.nan
    with pytest.raises(ValueError, match="sample 0: field 't' has NaN"):
        EventFrames(SENSOR, n_time_bins=2).fit([nan_t])


# ---------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------


def test_is_a_stateless_scikit_learn_transformer():
    frames = EventFrames(SENSOR, time_window=20, filter_time=5)
    copy = clone(frames)
    assert copy.get_params() == frames.get_params()
    assert frames.fit([SAMPLE]) is frames
    assert not [name for name in vars(frames) if name.endswith("_")]      # fit learnt nothing
    copy.set_params(time_window=None, n_time_bins=3)
    assert copy.transform([SAMPLE]).shape == (1, 3, 2, 2, 3)               # no fit needed
    restored = pickle.loads(pickle.dumps(frames))
    np.testing.assert_array_equal(restored.transform([SAMPLE]), frames.transform([SAMPLE]))
    assert frames.__sklearn_tags__().requires_fit is False


@pytest.fixture(scope="module")
def recordings():
    from snnsk.datasets import load_event_digit_recordings
    X, y = load_event_digit_recordings(48, random_state=0, size=16)
    return X, y


def test_pipeline_grid_search_over_the_binning_and_the_neurons(recordings):
    from snnsk import SpikingViTClassifier
    X, y = recordings
    pipe = make_pipeline(EventFrames((16, 16, 2), n_time_bins=4),
                         SpikingViTClassifier(embed_dim=16, depth=1, heads=2, timesteps=4,
                                              max_epochs=1, batch_size=16, random_state=0))
    grid = {"eventframes__n_time_bins": [4, 8], "spikingvitclassifier__threshold": [0.5, 1.0]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    n_bins = search.best_params_["eventframes__n_time_bins"]
    assert best[0].n_time_bins == n_bins
    # the classifier was fitted on frames of the chosen binning
    assert best[-1].n_features_in_ == n_bins * 2 * 16 * 16
    assert best.predict(X[:5]).shape == (5,)


# ---------------------------------------------------------------------------
# SequenceScaler
# ---------------------------------------------------------------------------

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
    pipe = make_pipeline(SequenceScaler(), SpikingSSMClassifier(embed_dim=8, depth=1,
                                                                d_state=4, max_epochs=2,
                                                                random_state=0)).fit(X, y)
    scaler, clf = pipe.named_steps.values()
    # the classifier was fitted on, and predicts from, the scaled sequences
    np.testing.assert_allclose(scaler.mean_, [5.0, 5.0], atol=0.6)
    np.testing.assert_array_equal(pipe.predict_proba(X), clf.predict_proba(scaler.transform(X)))
