"""The tonic-based loaders on small files in each dataset's own format, written here; no network.

N-MNIST: binary 5-byte event records packed by hand, in tonic's NMNIST/Train/<digit>/ folders.
DVS128 Gesture: tonic's preprocessed layout, DVSGesture/ibmGestureTrain/userNN_<lighting>/<label>.npy
holding (n, 4) columns x, y, p, t in ms. SHD: an HDF5 file with spikes/times (seconds, float16),
spikes/units (uint16), labels and extra/{keys, speaker}, as the published files have them.
"""

import pickle
import struct
import urllib.request

import numpy as np
import pytest
import torch

from snnsk import SpikingMLPClassifier, SpikingSSMClassifier
from snnsk.datasets import (fetch_dvs_gesture, fetch_nmnist, fetch_shd,
                            load_event_digit_recordings, write_nmnist, write_shd)
from snnsk.preprocessing import EventFrames

tonic = pytest.importorskip("tonic")
h5py = pytest.importorskip("h5py")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tests must not open a URL")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ---------------------------------------------------------------------------
# N-MNIST
# ---------------------------------------------------------------------------


def nmnist_record(x, y, t, p) -> bytes:
    """One event as N-MNIST stores it: x, y, then p in bit 7 and t in 23 bits, big-endian."""
    return bytes([x, y]) + struct.pack(">I", (p << 23) | t)[1:]


# (x, y, t, p) of three recordings: labels 3, 3 and 7
RECORDINGS = {
    ("3", "00000.bin"): [(0, 0, 0, 1), (33, 5, 1000, 0), (12, 33, 0x7FFFFF, 1)],
    ("3", "00001.bin"): [(1, 2, 70, 0)],
    ("7", "00002.bin"): [(5, 6, 10, 1), (6, 6, 99_999, 0), (7, 6, 100_000, 1),
                         (8, 6, 250_000, 1)],
}


def write_nmnist_by_hand(home, subset="Train"):
    for (label, name), rows in RECORDINGS.items():
        path = home / "NMNIST" / subset / label / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(nmnist_record(*row) for row in rows))


def test_nmnist_reads_the_binary_records(tmp_path):
    write_nmnist_by_hand(tmp_path)
    dataset = fetch_nmnist(data_home=tmp_path)
    assert len(dataset) == 3 and dataset.targets == [3, 3, 7]
    assert dataset.sensor_size == (34, 34, 2)
    for index, rows in enumerate(RECORDINGS.values()):
        events, label = dataset[index]
        assert label == dataset.targets[index]
        assert [tuple(int(v) for v in event) for event in events[["x", "y", "t", "p"]]] == rows
    X, y = fetch_nmnist(data_home=tmp_path, return_X_y=True)
    assert X.dtype == object and X.shape == (3,) and y.tolist() == [3, 3, 7]
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X[2]["t"], [10, 99_999, 100_000, 250_000])
    # tonic's option passes through: the first saccade ends at 100 ms
    events, _ = fetch_nmnist(data_home=tmp_path, first_saccade_only=True)[2]
    np.testing.assert_array_equal(events["t"], [10, 99_999])


def test_nmnist_test_subset_and_frames_as_arrays(tmp_path):
    write_nmnist_by_hand(tmp_path, subset="Test")
    with pytest.raises(FileNotFoundError, match="N-MNIST training set"):
        fetch_nmnist("train", data_home=tmp_path)
    frames = EventFrames(sensor_size=(34, 34, 2), event_count=1, n_frames=2)
    X, y = fetch_nmnist("test", data_home=tmp_path, transform=frames, return_X_y=True)
    assert X.shape == (3, 2, 2, 34, 34) and X.dtype == np.float32
    # recording 1 has its one event, OFF at (x=1, y=2), in the first frame
    assert X[1].sum() == 1 and X[1, 0, 0, 2, 1] == 1


def test_write_nmnist_round_trip_through_tonic(tmp_path):
    X, y = load_event_digit_recordings(12, random_state=0)
    folder = write_nmnist(X, y, tmp_path)
    assert folder == tmp_path / "NMNIST" / "Train"
    dataset = fetch_nmnist(data_home=tmp_path)
    assert len(dataset) == 12
    # tonic lists the label folders in order: match each file back to its sample by name
    for index in range(len(dataset)):
        sample = int(dataset.data[index].rsplit("/", 1)[-1][:-4])
        events, label = dataset[index]
        assert label == y[sample]
        for name in "xytp":
            np.testing.assert_array_equal(events[name], X[sample][name])
    # the writer's bytes are the format's, as packed by hand above
    rows = [(1, 2, 70, 0), (12, 33, 0x7FFFFF, 1)]
    write_nmnist([np.array(rows, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])], [4],
                 tmp_path / "check", subset="test")
    assert (tmp_path / "check/NMNIST/Test/4/00000.bin").read_bytes() == b"".join(
        nmnist_record(*row) for row in rows)


def test_a_truncated_nmnist_file_is_named(tmp_path):
    write_nmnist_by_hand(tmp_path)
    path = tmp_path / "NMNIST/Train/7/00002.bin"
    path.write_bytes(path.read_bytes()[:-2])
    dataset = fetch_nmnist(data_home=tmp_path)
    dataset[0]                                  # the other files still read
    with pytest.raises(ValueError, match=r"00002\.bin is truncated: 18 bytes"):
        dataset[2]
    with pytest.raises(ValueError, match="truncated"):
        fetch_nmnist(data_home=tmp_path, return_X_y=True)


def test_missing_nmnist_says_where_and_does_not_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        fetch_nmnist(data_home=tmp_path / "empty")
    message = str(err.value)
    assert str(tmp_path / "empty" / "NMNIST" / "Train") in message
    assert "download=True" in message and "train.zip" in message
    assert not (tmp_path / "empty").exists()    # looking creates no folders


def test_download_true_hands_over_to_tonic(tmp_path, monkeypatch):
    """With download=True the files come from tonic's download (replaced here by one that
    writes the extracted folder, as unpacking tonic's train.zip would)."""
    calls = []

    def fake_download(self):
        calls.append((self.url, self.filename))
        write_nmnist_by_hand(tmp_path)
    monkeypatch.setattr(tonic.datasets.NMNIST, "download", fake_download)
    dataset = fetch_nmnist(data_home=tmp_path, download=True)
    assert len(calls) == 1 and calls[0][1] == "train.zip" and len(dataset) == 3
    fetch_nmnist(data_home=tmp_path, download=True)      # present now: no second download
    assert len(calls) == 1


def test_nmnist_dataset_pickles(tmp_path):
    write_nmnist_by_hand(tmp_path)
    dataset = fetch_nmnist(data_home=tmp_path)
    restored = pickle.loads(pickle.dumps(dataset))
    assert type(restored).__name__ == "NMNIST" and restored.data == dataset.data
    np.testing.assert_array_equal(restored[0][0], dataset[0][0])


@pytest.mark.parametrize("field, value, message", [
    ("x", 256, "field 'x' has value 256"), ("y", 240, "field 'y' has value 240"),
    ("t", 1 << 23, "field 't' has value 8388608"), ("p", 2, "field 'p' has value 2"),
    ("t", -1, "field 't' has value -1"),
])
def test_write_nmnist_refuses_what_the_format_cannot_hold(tmp_path, field, value, message):
    good = np.zeros(3, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    bad = good.copy()
    bad[field][1] = value
    with pytest.raises(ValueError, match=f"sample 1: {message}"):
        write_nmnist([good, bad], [0, 1], tmp_path)
    with pytest.raises(ValueError, match="label of sample 0 must be a digit"):
        write_nmnist([good], [10], tmp_path)
    with pytest.raises(ValueError, match="2 recordings but 1 labels"):
        write_nmnist([good, good], [1], tmp_path)
    with pytest.raises(ValueError, match="sample 0 has no field 'p'"):
        write_nmnist([good[["x", "y", "t"]]], [1], tmp_path)
    assert not (tmp_path / "NMNIST").exists()   # nothing written when a sample is bad


def test_write_nmnist_and_write_shd_refuse_boolean_labels(tmp_path):
    # numpy's booleans are not labels either (float(np.True_) is 1.0)
    good = np.zeros(3, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    with pytest.raises(ValueError, match="label of sample 0 must be a digit 0-9, got np.True_"):
        write_nmnist([good], [np.True_], tmp_path)
    times, units, _ = spoken(2)
    with pytest.raises(ValueError, match="label of sample 1 must be an integer 0-19, got np.True_"):
        write_shd(times, units, [0, np.True_], tmp_path)
    assert not (tmp_path / "NMNIST").exists() and not (tmp_path / "SHD").exists()
    # numpy integers are labels
    folder = write_nmnist([good], [np.int64(3)], tmp_path)
    assert (folder / "3" / "00000.bin").exists()


# ---------------------------------------------------------------------------
# DVS128 Gesture
# ---------------------------------------------------------------------------

GESTURES = {  # folder -> {label: rows (x, y, p, t in ms)}
    "user01_fluorescent": {0: [(0, 0, 1, 0), (127, 3, 0, 2)], 3: [(5, 5, 1, 7)]},
    "user02_fluorescent_led": {10: [(64, 127, 0, 1), (64, 126, 1, 1), (1, 1, 1, 6123)]},
}


def write_gestures(home, subset="ibmGestureTrain", dtype=np.int64):
    for folder, samples in GESTURES.items():
        for label, rows in samples.items():
            path = home / "DVSGesture" / subset / folder / f"{label}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.array(rows, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_dvs_gesture_reads_tonics_layout(tmp_path, dtype):
    write_gestures(tmp_path, dtype=dtype)
    dataset = fetch_dvs_gesture(data_home=tmp_path)
    # file-name order: user01 .../0.npy, .../3.npy, then user02 .../10.npy
    assert dataset.targets == [0, 3, 10]
    assert dataset.users == [1, 1, 2]
    assert dataset.lighting == ["fluorescent", "fluorescent", "fluorescent_led"]
    assert dataset.sensor_size == (128, 128, 2)
    expected = [rows for samples in GESTURES.values() for rows in samples.values()]
    for index, rows in enumerate(expected):
        events, label = dataset[index]
        assert label == dataset.targets[index]
        np.testing.assert_array_equal(events["x"], [r[0] for r in rows])
        np.testing.assert_array_equal(events["y"], [r[1] for r in rows])
        np.testing.assert_array_equal(events["p"], [r[2] for r in rows])
        np.testing.assert_array_equal(events["t"], [r[3] * 1000 for r in rows])  # ms -> µs
    frames = EventFrames(sensor_size=(128, 128, 2), n_time_bins=2, spatial_factor=0.25)
    X, y = fetch_dvs_gesture(data_home=tmp_path, transform=frames, return_X_y=True)
    assert X.shape == (3, 2, 2, 32, 32) and y.tolist() == [0, 3, 10]


def test_dvs_gesture_bad_files_are_named(tmp_path):
    write_gestures(tmp_path, subset="ibmGestureTest")
    with pytest.raises(FileNotFoundError, match="DVS128 Gesture training set"):
        fetch_dvs_gesture(data_home=tmp_path)
    folder = tmp_path / "DVSGesture/ibmGestureTest/user01_fluorescent"
    np.save(folder / "3.npy", np.zeros((4, 3)))
    dataset = fetch_dvs_gesture("test", data_home=tmp_path)
    with pytest.raises(ValueError, match=r"3\.npy holds an array of shape \(4, 3\)"):
        dataset[1]
    (folder / "0.npy").write_bytes((folder / "0.npy").read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"0\.npy is not a readable \.npy file"):
        dataset[0]


# ---------------------------------------------------------------------------
# Spiking Heidelberg Digits
# ---------------------------------------------------------------------------

SPIKES = [  # (times in s, units), label, speaker
    (([0.0, 0.25, 0.5, 0.75], [3, 699, 3, 0]), 4, 1),
    (([0.125], [10]), 19, 7),
    (([0.5, 0.5, 1.0], [1, 2, 1]), 0, 1),
]


def write_shd_by_hand(path, spikes=SPIKES, drop=(), units_of=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        n = len(spikes)
        times = file.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        units = file.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, ((t, u), _, _) in enumerate(spikes):
            times[i] = np.asarray(t, dtype=np.float16)
            units[i] = np.asarray(u if units_of is None else units_of(i, u), dtype=np.uint16)
        file["labels"] = np.array([label for _, label, _ in spikes], dtype=np.uint16)
        file["extra/speaker"] = np.array([speaker for *_, speaker in spikes], dtype=np.uint16)
        file["extra/keys"] = np.array([f"digit-{k}".encode() for k in range(20)])
        for key in drop:
            del file[key]


def test_shd_reads_the_hdf5_layout(tmp_path):
    write_shd_by_hand(tmp_path / "SHD" / "shd_train.h5")
    dataset = fetch_shd(data_home=tmp_path)
    assert len(dataset) == 3 and dataset.sensor_size == (700, 1, 1)
    assert list(dataset.speaker) == [1, 7, 1] and dataset.classes[19] == b"digit-19"
    for index, ((times, units), label, _) in enumerate(SPIKES):
        events, target = dataset[index]
        assert target == label
        np.testing.assert_array_equal(events["t"], np.array(times) * 1e6)   # µs
        np.testing.assert_array_equal(events["x"], units)
        assert (events["p"] == 1).all()
    # into spike counts (n, F, 1, 1, 700): 250 ms windows from each sample's first spike
    frames = EventFrames(sensor_size=(700, 1, 1), time_window=250_000, n_frames=3)
    X, y = fetch_shd(data_home=tmp_path, transform=frames, return_X_y=True)
    assert X.shape == (3, 3, 1, 1, 700) and y.tolist() == [4, 19, 0]
    counts = X[:, :, 0, 0, :]
    # sample 0: windows [0, .25), [.25, .5), [.5, .75) s; the spike at .75 s is after them
    assert counts[0, 0, 3] == 1 and counts[0, 1, 699] == 1 and counts[0, 2, 3] == 1
    assert counts[0].sum() == 3
    # sample 2 starts at 0.5 s: [0.5, 0.75) holds two spikes, [0.75, 1.0) none, and
    # floor((1.0 - 0.5 - 0.25) / 0.25) + 1 = 2 windows, padded to 3
    assert counts[2, 0, 1] == 1 and counts[2, 0, 2] == 1 and counts[2].sum() == 2


def test_shd_bad_files_are_named(tmp_path):
    path = tmp_path / "SHD" / "shd_test.h5"
    with pytest.raises(FileNotFoundError, match="shd_test.h5"):
        fetch_shd("test", data_home=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"shd_test\.h5 is not a readable HDF5 file"):
        fetch_shd("test", data_home=tmp_path)
    write_shd_by_hand(path, drop=("spikes/units",))
    with pytest.raises(ValueError, match=r"shd_test\.h5 has no spikes/units"):
        fetch_shd("test", data_home=tmp_path)
    write_shd_by_hand(path, spikes=SPIKES)
    with h5py.File(path, "a") as file:
        del file["labels"]
        file["labels"] = np.zeros(2, dtype=np.uint16)
    with pytest.raises(ValueError, match="do not line up: spikes/times has 3, .* labels has 2"):
        fetch_shd("test", data_home=tmp_path)
    write_shd_by_hand(path, units_of=lambda i, u: u[:-1] if i == 2 else u)
    dataset = fetch_shd("test", data_home=tmp_path)
    dataset[0]
    with pytest.raises(ValueError, match="sample 2 has 3 spike times but 2 units"):
        dataset[2]


def spoken(n=12, seed=0):
    """SHD-like spike trains: each of 3 classes sweeps its own band of channels, 60-300 ms long."""
    rng = np.random.default_rng(seed)
    times, units, labels = [], [], np.arange(n) % 3
    for label in labels:
        t = np.sort(rng.uniform(0, rng.uniform(0.06, 0.3), size=80))
        times.append(t)
        units.append((200 * label + 300 * t + rng.integers(0, 40, size=80)).astype(np.int64))
    return times, units, labels


def test_write_shd_round_trip_through_tonic(tmp_path):
    times, units, labels = spoken(3)
    path = write_shd(times, units, labels, tmp_path, subset="test", speakers=[4, 5, 6])
    assert path == tmp_path / "SHD" / "shd_test.h5"
    dataset = fetch_shd("test", data_home=tmp_path)
    assert list(dataset.speaker) == [4, 5, 6] and dataset.classes[10] == b"german-null"
    assert isinstance(dataset, torch.utils.data.Dataset)   # what the estimators stream
    np.testing.assert_array_equal(dataset.targets, labels)
    for i in range(3):
        events, target = dataset[i]
        assert target == labels[i]
        np.testing.assert_array_equal(events["x"], units[i])
        # the file holds float16 seconds, as SHD's; tonic gives whole microseconds
        np.testing.assert_allclose(events["t"], times[i].astype(np.float16).astype(float) * 1e6,
                                   atol=1)


@pytest.mark.parametrize("change, match", [
    (lambda t, u, y: (t, [u[0][:-1]] + u[1:], y), "sample 0 has 80 spike times but 79 units"),
    (lambda t, u, y: (t, [u[0] + 700] + u[1:], y), "sample 0: units must be integer channels"),
    (lambda t, u, y: ([-t[0]] + t[1:], u, y), "sample 0: spike times must be finite"),
    (lambda t, u, y: (t, u, [20] + list(y[1:])), "label of sample 0 must be an integer 0-19"),
    (lambda t, u, y: (t[:1], u, y), "1 samples of times, 2 of units"),
])
def test_write_shd_names_bad_samples(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        write_shd(*change(*spoken(2)), tmp_path)


def test_shd_spike_counts_feed_the_sequence_classifiers(tmp_path):
    times, units, labels = spoken()
    write_shd(times, units, labels, tmp_path)
    frames = EventFrames(sensor_size=(700, 1, 1), time_window=20_000)   # 20 ms bins

    def counts(events):   # (F, 1, 1, 700) frames of a recording of its own length -> (F, 700)
        return frames(events).reshape(-1, 700)

    # ragged (F_i, 700) spike counts, read when a batch needs them, into the SSM
    ragged = fetch_shd(data_home=tmp_path, transform=counts)
    assert len({ragged[i][0].shape[0] for i in range(len(ragged))}) > 1
    ssm = SpikingSSMClassifier(embed_dim=16, depth=1, d_state=8, max_epochs=1,
                               random_state=0).fit(ragged, None)
    assert ssm.n_features_in_ == 700 and ssm.predict(ragged).shape == (12,)
    # (n, 8, 700) dense counts: both classifiers, as arrays and as a Dataset alike
    fixed = EventFrames(sensor_size=(700, 1, 1), time_window=20_000, n_frames=8)
    X, y = fetch_shd(data_home=tmp_path, transform=fixed, return_X_y=True)
    X = X.reshape(len(X), 8, 700)
    mlp = dict(hidden_layer_sizes=(16,), threshold=0.5, max_epochs=1, random_state=0)
    from_arrays = SpikingMLPClassifier(**mlp).fit(X, y)
    dataset = fetch_shd(data_home=tmp_path, transform=lambda events: fixed(events).reshape(8, 700))
    from_dataset = SpikingMLPClassifier(**mlp).fit(dataset, None)
    np.testing.assert_array_equal(from_dataset.predict_proba(dataset), from_arrays.predict_proba(X))
    assert SpikingSSMClassifier(embed_dim=16, depth=1, d_state=8, max_epochs=1,
                                random_state=0).fit(X, y).predict(X).shape == (12,)


def test_bad_subset():
    for loader in (fetch_nmnist, fetch_dvs_gesture, fetch_shd):
        with pytest.raises(ValueError, match="subset"):
            loader("valid")
