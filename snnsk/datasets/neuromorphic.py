"""The field's event datasets through tonic: N-MNIST, DVS128 Gesture, Spiking Heidelberg Digits.

Each loader is a thin layer over tonic's own dataset class (the optional extra
``snnsk[events]``): tonic reads the files and downloads them. What is added here:

* ``data_home`` and ``download`` as in scikit-learn's ``fetch_*`` functions. tonic downloads
  whenever its (hard-coded) check for the extracted files fails -- fewer than 10,000 ``.bin``
  files for N-MNIST, 100 ``.npy`` for DVS128 Gesture -- and looks for the archive even after
  it is extracted. Here the extracted files are what count, and nothing is downloaded unless
  ``download=True``: a missing dataset raises :class:`FileNotFoundError` saying where it was
  looked for.
* Errors naming the file and the sample for a truncated or malformed file, where tonic would
  read it silently (an N-MNIST file cut inside an event loses the event) or fail with a
  broadcasting error.
* A deterministic order for DVS128 Gesture (tonic lists the files in the file system's order).
* ``return_X_y=True``: arrays for the estimators (see each loader).

The folders are tonic's: ``data_home/NMNIST``, ``data_home/DVSGesture``, ``data_home/SHD``,
so a ``save_to`` folder of tonic's is a ``data_home`` here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from .._validation import is_bool
from ._home import get_data_home, not_found

__all__ = ["fetch_nmnist", "fetch_dvs_gesture", "fetch_shd", "write_nmnist", "write_shd"]

#: bytes per N-MNIST event record: x, y, then polarity (bit 7) and a 23-bit timestamp
_NMNIST_RECORD = 5
#: y == 240 marks a timestamp-overflow record in N-MNIST files, not an event
_NMNIST_OVERFLOW_Y = 240
_NMNIST_FOLDERS = {"train": "Train", "test": "Test"}
#: SHD's cochlear channels, and its classes (``extra/keys``): the digits in English, then German
_SHD_CHANNELS = 700
_SHD_KEYS = tuple(f"english-{w}" for w in ("zero", "one", "two", "three", "four", "five", "six",
                                           "seven", "eight", "nine")) + tuple(
    f"german-{w}" for w in ("null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben",
                            "acht", "neun"))


def _tonic():
    try:
        import tonic
    except ImportError as err:
        raise ImportError(
            f"the event-camera loaders read the datasets with tonic, which could not be imported "
            f"({err}); install it with pip install 'snnsk[events]'") from err
    return tonic


def _check_subset(subset):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    return subset == "train"


@functools.cache
def _classes():
    """tonic's dataset classes with the checks above: made on first use, as tonic is optional.

    Each keeps its tonic class name, because tonic stores a dataset in ``save_to/<class name>``,
    and is a torch ``Dataset`` too (last in line, so tonic's methods come first), which the
    estimators take as streamed input.
    """
    datasets = _tonic().datasets

    class _LocalFirst:
        """Look for the extracted files; download only when allowed."""

        _suffix = ""
        _description = ""

        def __init__(self, save_to, *, download, **kwargs):
            self._may_download = download
            super().__init__(save_to, **kwargs)

        def _expected(self) -> Path:
            return Path(self.location_on_system, self.folder_name)

        def _looked_for(self):
            return [self._expected() / f"**/*{self._suffix}"]

        def _check_exists(self) -> bool:
            return any(self._expected().rglob(f"*{self._suffix}"))

        def download(self):
            if not self._may_download:
                raise not_found(self._description, self._looked_for(),
                                f"download {self.filename} from {self.url} with tonic")
            super().download()

    class NMNIST(_LocalFirst, datasets.NMNIST, Dataset):
        _suffix = ".bin"

        @property
        def _description(self):
            return f"N-MNIST {'training' if self.train else 'test'} set"

        def __getitem__(self, index):
            path = self.data[index]
            size = os.path.getsize(path)
            if size % _NMNIST_RECORD:
                raise ValueError(f"{path} is truncated: {size} bytes is not a whole number of "
                                 f"{_NMNIST_RECORD}-byte N-MNIST event records")
            return super().__getitem__(index)

    class DVSGesture(_LocalFirst, datasets.DVSGesture, Dataset):
        _suffix = ".npy"

        def __init__(self, save_to, **kwargs):
            super().__init__(save_to, **kwargs)
            # the file system's listing order is arbitrary: sort by file name
            order = sorted(range(len(self.data)), key=self.data.__getitem__)
            for name in ("data", "targets", "users", "lighting"):
                values = getattr(self, name)
                setattr(self, name, [values[i] for i in order])

        @property
        def _description(self):
            return f"DVS128 Gesture {'training' if self.train else 'test'} set"

        def __getitem__(self, index):
            path = self.data[index]
            try:
                shape = np.load(path, mmap_mode="r").shape
            except (ValueError, OSError, EOFError) as err:
                raise ValueError(f"{path} is not a readable .npy file ({err})") from None
            if len(shape) != 2 or shape[1] != 4:
                raise ValueError(f"{path} holds an array of shape {shape}; DVS128 Gesture "
                                 f"files hold (n_events, 4) columns x, y, p, t (ms)")
            return super().__getitem__(index)

    class SHD(_LocalFirst, datasets.SHD, Dataset):
        _keys = ("spikes/times", "spikes/units", "labels", "extra/keys", "extra/speaker")

        @property
        def _description(self):
            return f"SHD {'training' if 'train' in self.filename else 'test'} set"

        def _expected(self) -> Path:
            return Path(self.location_on_system, self.data_filename)

        def _check_exists(self) -> bool:
            path = self._expected()
            if not path.is_file():
                return False
            # tonic reads the file right after this check: fail here, naming what is wrong
            _check_shd_file(path, self._keys)
            return True

        def _looked_for(self):
            return [self._expected()]

        def __init__(self, save_to, **kwargs):
            super().__init__(save_to, **kwargs)
            # tonic leaves SHD's targets empty: with the labels here, an estimator learns the
            # classes without reading (and binning) every recording
            import h5py
            with h5py.File(self._expected(), "r") as file:
                self.targets = file["labels"][()].astype(np.int64)

        def __getitem__(self, index):
            import h5py
            with h5py.File(self._expected(), "r") as file:
                n_times = len(file["spikes/times"][index])
                n_units = len(file["spikes/units"][index])
            if n_times != n_units:
                raise ValueError(f"{self._expected()}: sample {index} has {n_times} spike times "
                                 f"but {n_units} units (spikes/times, spikes/units)")
            return super().__getitem__(index)

    classes = {"NMNIST": NMNIST, "DVSGesture": DVSGesture, "SHD": SHD}
    for name, cls in classes.items():
        # found by pickle (a DataLoader's worker processes) through the module's __getattr__
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def __getattr__(name):
    if name in ("NMNIST", "DVSGesture", "SHD"):
        return _classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_shd_file(path, keys):
    import h5py
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file ({err})") from None
    with file:
        missing = [key for key in keys if key not in file]
        if missing:
            raise ValueError(f"{path} has no {', '.join(missing)}; an SHD file holds "
                             f"{', '.join(keys)}")
        lengths = {key: len(file[key]) for key in ("spikes/times", "spikes/units", "labels")}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{path}: the samples do not line up: "
                         + ", ".join(f"{key} has {n}" for key, n in lengths.items()))


def _load(name, subset, data_home, download, transform, return_X_y, **kwargs):
    train = _check_subset(subset)
    dataset = _classes()[name](str(get_data_home(data_home)), train=train, download=download,
                               transform=transform, **kwargs)
    if not return_X_y:
        return dataset
    return _as_arrays(dataset)


def _as_arrays(dataset):
    """All samples of ``dataset`` as ``(X, y)``: event arrays in an object array, or stacked
    frames when a transform made them arrays of one shape."""
    samples, labels = [], []
    for index in range(len(dataset)):
        sample, label = dataset[index]
        samples.append(sample)
        labels.append(int(label))
    y = np.asarray(labels, dtype=np.int64)
    if all(isinstance(s, np.ndarray) and s.dtype.names is not None for s in samples):
        X = np.empty(len(samples), dtype=object)
        for i, sample in enumerate(samples):  # one by one: numpy would stack equal lengths
            X[i] = sample
        return X, y
    shapes = {np.shape(s) for s in samples}
    if len(shapes) > 1:
        first = np.shape(samples[0])
        odd = next(i for i, s in enumerate(samples) if np.shape(s) != first)
        raise ValueError(f"the transform gives samples of different shapes (sample 0: {first}, "
                         f"sample {odd}: {np.shape(samples[odd])}); they cannot be stacked")
    return np.stack(samples), y


_RETURNS = """
    Returns
    -------
    dataset : tonic dataset
        When ``return_X_y`` is False: tonic's {cls} (with the checks of this
        module), a map-style dataset of ``(events, label)`` that torch's
        ``DataLoader`` takes; ``events`` is a structured array {fields}, or
        whatever ``transform`` makes of it. Attributes from tonic:
        ``sensor_size`` {sensor}, ``classes``{extra}.
    X, y : ndarrays
        When ``return_X_y`` is True: every sample read into memory. ``X`` is
        an object array of the event arrays, the input of
        :class:`snnsk.preprocessing.EventFrames` -- or, when ``transform``
        gives arrays of one shape (``EventFrames(...)`` is such a transform),
        those arrays stacked, ready for the estimators. ``y`` is int64.
        {memory}
"""

_RAISES = """    FileNotFoundError
        The dataset's files are not in ``data_home`` and ``download`` is False.
    ImportError
        tonic, or what it imports, is not installed (``pip install 'snnsk[events]'``).
"""

_COMMON = """
    subset : {{'train', 'test'}}, default='train'
    data_home : str, path-like or None, default=None
        The folder of the datasets (see :func:`snnsk.datasets.get_data_home`);
        the files are in ``data_home/{folder}/``, tonic's layout.
    download : bool, default=False
        Let tonic download and extract the archive from its official source
        when the files are not there. When False a missing dataset raises
        :class:`FileNotFoundError` saying where it was looked for.
    transform : callable or None, default=None
        Applied to each sample's events when it is read (tonic's
        ``transform``), e.g. ``snnsk.preprocessing.EventFrames(...)`` or
        ``tonic.transforms.ToFrame(...)``.
    return_X_y : bool, default=False
        Return arrays instead of the dataset.
"""


def fetch_nmnist(subset="train", *, data_home=None, download=False, transform=None,
                 return_X_y=False, first_saccade_only=False):
    """N-MNIST: the MNIST digits recorded by an event camera (ATIS) making three saccades.

    60,000 training and 10,000 test recordings of about 300 ms on a 34x34
    sensor with two polarities (Orchard et al., 2015). The files are the
    original binary ones, ``NMNIST/Train/<digit>/<n>.bin`` (and ``Test``),
    five bytes per event: x, y, then the polarity in the top bit and a
    23-bit timestamp in microseconds.

    Parameters
    ----------{common}
    first_saccade_only : bool, default=False
        Keep the events of the first saccade only (``t < 100,000`` µs), as
        tonic's option of that name.
{returns}
    Raises
    ------
    ValueError
        When a sample is read: its file is truncated (not a whole number of
        5-byte records); the message names the file.
{raises}    """
    return _load("NMNIST", subset, data_home, download, transform, return_X_y,
                 first_saccade_only=first_saccade_only)


def fetch_dvs_gesture(subset="train", *, data_home=None, download=False, transform=None,
                      return_X_y=False):
    """DVS128 Gesture: 11 hand and arm gestures of 29 people under 5 lightings (IBM).

    1,176 training and 288 test recordings of about 6 s on a 128x128 DVS
    (Amir et al., 2017), in tonic's preprocessed form (recordings already cut
    into one gesture each, timestamps at millisecond precision):
    ``DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` (and
    ``ibmGestureTest``), each an ``(n_events, 4)`` array of columns x, y, p
    and t in milliseconds. Samples are in file-name order; the dataset's
    ``users`` and ``lighting`` lists follow it.

    Parameters
    ----------{common}
{returns}
    Raises
    ------
    ValueError
        When a sample is read: its file is not a readable ``.npy`` or does not
        hold ``(n_events, 4)``; the message names the file.
{raises}    """
    return _load("DVSGesture", subset, data_home, download, transform, return_X_y)


def fetch_shd(subset="train", *, data_home=None, download=False, transform=None,
              return_X_y=False):
    """The Spiking Heidelberg Digits: spoken digits 0-9 in English and German as spike trains.

    8,156 training and 2,264 test recordings (Cramer et al., 2020) of 700
    cochlear channels, in one HDF5 file per subset, ``SHD/shd_train.h5``
    (``shd_test.h5``): ``spikes/times`` (per sample, seconds),
    ``spikes/units`` (per sample, channel 0-699), ``labels`` (0-19: the
    digits in English, then in German), ``extra/keys`` and ``extra/speaker``.
    tonic gives each sample as events with fields ``t`` (microseconds),
    ``x`` (the channel) and ``p`` (always 1), on a sensor of size
    ``(700, 1, 1)``; ``EventFrames(sensor_size=(700, 1, 1), ...)`` bins them
    into ``(n, F, 1, 1, 700)`` spike counts (reshape to ``(n, F, 700)`` for
    a sequence model).

    Parameters
    ----------{common}
{returns}
    Raises
    ------
    ValueError
        The file is not HDF5, lacks one of the datasets above, or its
        ``spikes/times``, ``spikes/units`` and ``labels`` differ in length; or,
        when a sample is read, its times and units differ in length. The
        message names the file (and the sample).
{raises}    """
    return _load("SHD", subset, data_home, download, transform, return_X_y)


def _fill_docstrings():
    """The three loaders share their parameter and return sections."""
    for loader, folder, cls, fields, sensor, extra, memory in (
            (fetch_nmnist, "NMNIST", "NMNIST", "``(x, y, t, p)``", "``(34, 34, 2)``", "",
             "All 60,000 training recordings as events take about 8 GB (tonic gives int64 "
             "fields): bin them with a transform instead, or index the dataset."),
            (fetch_dvs_gesture, "DVSGesture", "DVSGesture", "``(x, y, p, t)``",
             "``(128, 128, 2)``", ", ``users``, ``lighting``",
             "The training recordings as events take several GB: bin them with a transform "
             "(``spatial_factor`` shrinks the frames too)."),
            (fetch_shd, "SHD", "SHD", "``(t, x, p)``", "``(700, 1, 1)``", ", ``speaker``",
             "The training set as events takes about 1.5 GB.")):
        loader.__doc__ = loader.__doc__.format(
            common=_COMMON.format(folder=folder), raises=_RAISES,
            returns=_RETURNS.format(cls=f"``{cls}``", fields=fields + ", ``t`` in microseconds",
                                    sensor=sensor, extra=extra, memory=memory))


if fetch_nmnist.__doc__:  # docstrings are None under python -OO
    _fill_docstrings()


def write_nmnist(events, labels, data_home, subset="train"):
    """Write recordings as N-MNIST files, in the folder layout tonic (and :func:`fetch_nmnist`) reads.

    Sample ``i`` goes to ``data_home/NMNIST/<Train|Test>/<label>/<i:05d>.bin``
    in N-MNIST's binary format: per event five bytes, x, y, then the
    polarity in bit 7 and the timestamp (microseconds, 23 bits) big-endian
    in the rest.

    Parameters
    ----------
    events : sequence of structured ndarrays
        One array per recording with integer fields ``x``, ``y``, ``t``,
        ``p`` (as :func:`snnsk.datasets.load_event_digit_recordings` gives).
    labels : sequence of int
        The digit of each recording, 0 to 9 (the folder name is the label).
    data_home : str or path-like
        The folder to write into (a ``data_home`` for :func:`fetch_nmnist`).
    subset : {'train', 'test'}, default='train'

    Returns
    -------
    pathlib.Path
        The ``Train`` or ``Test`` folder written.

    Raises
    ------
    ValueError
        A field does not fit the format: ``x`` or ``y`` outside 0-255,
        ``y == 240`` (the mark of an overflow record), ``t`` outside
        ``[0, 2**23)``, ``p`` not 0 or 1, or a label outside 0-9; the message
        names the sample and the field.
    """
    _check_subset(subset)
    events, labels = list(events), list(labels)
    if len(events) != len(labels):
        raise ValueError(f"{len(events)} recordings but {len(labels)} labels")
    folder = Path(os.fspath(data_home)) / "NMNIST" / _NMNIST_FOLDERS[subset]
    records = [_nmnist_records(sample, i) for i, sample in enumerate(events)]
    for i, label in enumerate(labels):
        if is_bool(label) or not float(label).is_integer() or not 0 <= label <= 9:
            raise ValueError(f"label of sample {i} must be a digit 0-9, got {label!r}")
    for i, (data, label) in enumerate(zip(records, labels)):
        path = folder / str(int(label)) / f"{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def _nmnist_records(events, index) -> bytes:
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise TypeError(f"sample {index} is not a structured event array")
    missing = [name for name in ("x", "y", "t", "p") if name not in events.dtype.names]
    if missing:
        raise ValueError(f"sample {index} has no field {', '.join(map(repr, missing))}")
    limits = {"x": (0, 256), "y": (0, 256), "t": (0, 1 << 23), "p": (0, 2)}
    values = {}
    for name, (low, high) in limits.items():
        column = events[name]
        if column.dtype.kind not in "biu":
            raise ValueError(f"sample {index}: field {name!r} must hold integers, "
                             f"got {column.dtype}")
        column = column.astype(np.int64)
        if len(column) and (column.min() < low or column.max() >= high):
            bad = column.min() if column.min() < low else column.max()
            raise ValueError(f"sample {index}: field {name!r} has value {bad}; N-MNIST files "
                             f"hold {low} <= {name} < {high}")
        values[name] = column
    if np.any(values["y"] == _NMNIST_OVERFLOW_Y):
        raise ValueError(f"sample {index}: field 'y' has value {_NMNIST_OVERFLOW_Y}, which marks "
                         f"a timestamp-overflow record in N-MNIST files")
    t = values["t"]
    out = np.empty((len(t), _NMNIST_RECORD), dtype=np.uint8)
    out[:, 0] = values["x"]
    out[:, 1] = values["y"]
    out[:, 2] = (values["p"] << 7) | (t >> 16)
    out[:, 3] = (t >> 8) & 0xFF
    out[:, 4] = t & 0xFF
    return out.tobytes()


def write_shd(times, units, labels, data_home, subset="train", speakers=None):
    """Write spike trains as an SHD file, in the HDF5 layout tonic (and :func:`fetch_shd`) reads.

    The file is ``data_home/SHD/shd_<subset>.h5`` with the published files'
    datasets: ``spikes/times`` (per sample, seconds, float16 as in SHD),
    ``spikes/units`` (per sample, uint16 channels), ``labels`` (uint16),
    ``extra/speaker`` and ``extra/keys`` (the 20 class names).

    Parameters
    ----------
    times : sequence of array-like
        Each sample's spike times in seconds, ``>= 0``.
    units : sequence of array-like
        Each sample's spiking channels, integers 0-699, one per spike time.
    labels : sequence of int
        The class of each sample, 0-19 (SHD: digits 0-9 in English, then in
        German).
    data_home : str or path-like
        The folder to write into (a ``data_home`` for :func:`fetch_shd`).
    subset : {'train', 'test'}, default='train'
    speakers : sequence of int or None, default=None
        Each sample's speaker (``extra/speaker``); None writes 0 for all.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        The sequences differ in length; or a sample's times and units differ
        in length, a time is negative or not finite, a unit is not an integer
        in 0-699, or a label is not an integer in 0-19; the message names the
        sample.
    """
    import h5py
    _check_subset(subset)
    times, units, labels = list(times), list(units), list(labels)
    speakers = [0] * len(labels) if speakers is None else list(speakers)
    if not len(times) == len(units) == len(labels) == len(speakers):
        raise ValueError(f"{len(times)} samples of times, {len(units)} of units, "
                         f"{len(labels)} labels and {len(speakers)} speakers")
    for i, (t, u, label) in enumerate(zip(times, units, labels)):
        _check_shd_sample(i, np.asarray(t), np.asarray(u), label)
    path = Path(os.fspath(data_home)) / "SHD" / f"shd_{subset}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        n = len(labels)
        spike_times = file.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        spike_units = file.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(times, units)):
            spike_times[i] = np.asarray(t, dtype=np.float16)
            spike_units[i] = np.asarray(u, dtype=np.uint16)
        file["labels"] = np.asarray(labels, dtype=np.uint16)
        file["extra/speaker"] = np.asarray(speakers, dtype=np.uint16)
        file["extra/keys"] = np.array([key.encode() for key in _SHD_KEYS])
    return path


def _check_shd_sample(index, times, units, label):
    if times.ndim != 1 or times.shape != units.shape:
        raise ValueError(f"sample {index} has {times.size} spike times but {units.size} units; "
                         f"each needs one unit per time")
    if times.size and (not np.issubdtype(times.dtype, np.number)
                       or not np.all(np.isfinite(times)) or times.min() < 0):
        raise ValueError(f"sample {index}: spike times must be finite seconds >= 0")
    if units.size and (units.dtype.kind not in "iu" or units.min() < 0
                       or units.max() >= _SHD_CHANNELS):
        raise ValueError(f"sample {index}: units must be integer channels 0-{_SHD_CHANNELS - 1}")
    if is_bool(label) or not float(label).is_integer() or not 0 <= label < len(_SHD_KEYS):
        raise ValueError(f"label of sample {index} must be an integer 0-{len(_SHD_KEYS) - 1}, "
                         f"got {label!r}")
