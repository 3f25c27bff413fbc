"""Preprocessing for real data: raw event-camera recordings to the frames the estimators take.

:class:`EventFrames` is a scikit-learn transformer, so the binning of the events is a
hyperparameter like any other::

    pipe = make_pipeline(EventFrames(sensor_size=(34, 34, 2), n_time_bins=8),
                         SpikingViTClassifier(timesteps=4))
    GridSearchCV(pipe, {"eventframes__n_time_bins": [4, 8],
                        "spikingvitclassifier__threshold": [0.5, 1.0]})

It needs nothing beyond numpy: tonic (``snnsk[events]``) reads the datasets, but the
binning here is computed on its own and checked against tonic's ``ToFrame`` in the tests.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import check_int, is_bool, is_int, is_real

__all__ = ["EventFrames", "SequenceScaler"]

_MODES = ("time_window", "event_count", "n_time_bins")


class EventFrames(TransformerMixin, BaseEstimator):
    """Bin raw event-camera recordings into frames ``(n, F, P, H, W)`` of event counts.

    Each sample is a structured numpy array of events with fields ``x``,
    ``y``, ``t`` and ``p`` in time order, as tonic's datasets give them (any
    field order; other fields are ignored). The frames of a sample count its
    events per polarity and pixel in consecutive slices of the recording,
    with tonic's ``ToFrame`` rules (``ToFrame``'s defaults are the defaults
    here, and the two give the same counts on the same events):

    * ``time_window``: slices of that duration (in the unit of ``t``; tonic's
      datasets use microseconds) starting at the sample's first event, one
      every ``time_window - overlap``. Without ``include_incomplete`` the
      number of slices is ``floor((duration - time_window) / stride) + 1``
      (at least 1), so a last, shorter stretch of the recording is dropped;
      with it, ``ceil(...) + 1``.
    * ``event_count``: slices of that many events, one every
      ``event_count - overlap`` events; ``include_incomplete`` keeps a last,
      shorter slice.
    * ``n_time_bins``: exactly that many slices of width
      ``(duration // n_time_bins) * (1 + overlap)``, one every
      ``width * (1 - overlap)``. As in tonic the width is rounded down and
      every slice is half-open, so the events in the last
      ``duration - n_time_bins * width`` time units, the sample's last event
      among them, are in no frame; with microsecond timestamps that is under
      ``n_time_bins`` microseconds of a recording.

    Slices are half-open, ``[start, start + width)``. Before binning,
    ``filter_time`` drops isolated events (tonic's ``Denoise``) and
    ``spatial_factor`` shrinks the pixel grid (tonic's ``Downsample``), in
    that order.

    ``fit`` learns nothing; it checks the parameters and the samples, so a
    pipeline fails at ``fit`` on bad input. ``transform`` works without it.
    An instance is also a callable on one sample (``frames(events)``, giving
    ``(F, P, H, W)``), usable as a tonic or torch dataset transform.

    Parameters
    ----------
    sensor_size : tuple of 3 int
        ``(width, height, polarities)`` of the sensor, the way tonic spells it
        (tonic's datasets have it as ``sensor_size``: N-MNIST ``(34, 34, 2)``,
        DVS128 Gesture ``(128, 128, 2)``, SHD ``(700, 1, 1)``). Required.
        Events must lie on it: ``0 <= x < width``, ``0 <= y < height``,
        ``0 <= p < polarities``. With one polarity every event of a sample
        must have the same ``p`` and goes to channel 0; with ``height == 1``
        the ``y`` field may be absent (spike trains such as SHD's).
    time_window : float or None, default=None
        Duration of a frame, in the unit of ``t``.
    event_count : int or None, default=None
        Events per frame.
    n_time_bins : int or None, default=None
        Number of frames per sample.
    overlap : float, default=0
        Overlap of consecutive slices: in time units for ``time_window``
        (``0 <= overlap < time_window``), in events for ``event_count``
        (an integer ``< event_count``), a fraction of a slice for
        ``n_time_bins`` (``0 <= overlap < 1``).
    include_incomplete : bool, default=False
        Keep the last, incomplete slice (``time_window`` and ``event_count``
        only).
    n_frames : int or None, default=None
        ``time_window`` and ``event_count`` give a number of frames that
        depends on the recording; samples are padded with empty frames at the
        end to a common number: ``n_frames``, or when ``None`` the largest
        number in the call (then two calls can differ: set it when the frames
        of a training and a test set must match). A sample with more frames
        keeps its first ``n_frames``. Not used with ``n_time_bins``.
    filter_time : float or None, default=None
        Denoising as tonic's ``Denoise(filter_time)``: an event is dropped
        unless one of its four neighbouring pixels had an event less than
        ``filter_time`` before it (or at the same time, earlier in the
        array). As in tonic, every pixel starts as if it had an event at time
        0, so all events before ``filter_time`` are kept, and the grid of
        neighbours is that of the sample's own largest ``x`` and ``y``.
        ``None``: no denoising.
    spatial_factor : float, default=1.0
        Spatial downsampling, in (0, 1]: pixel ``(x, y)`` becomes
        ``(floor(x * f), floor(y * f))`` (tonic's ``Downsample``), on a grid of
        ``floor((width - 1) * f) + 1`` by ``floor((height - 1) * f) + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> events = np.zeros(4, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    >>> events["x"], events["t"], events["p"] = [0, 1, 1, 2], [0, 10, 20, 30], [1, 0, 1, 1]
    >>> frames = EventFrames(sensor_size=(3, 1, 2), time_window=15).fit_transform([events])
    >>> frames.shape
    (1, 2, 2, 1, 3)
    >>> frames[0, :, 1, 0].tolist()      # ON events per frame: t in [0, 15) and [15, 30)
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    def __init__(self, sensor_size=None, *, time_window=None, event_count=None, n_time_bins=None,
                 overlap=0, include_incomplete=False, n_frames=None, filter_time=None,
                 spatial_factor=1.0):
        self.sensor_size = sensor_size
        self.time_window = time_window
        self.event_count = event_count
        self.n_time_bins = n_time_bins
        self.overlap = overlap
        self.include_incomplete = include_incomplete
        self.n_frames = n_frames
        self.filter_time = filter_time
        self.spatial_factor = spatial_factor

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False          # stateless: fit only validates
        tags.input_tags.two_d_array = False  # a list of event arrays, not a matrix
        return tags

    def fit(self, X, y=None):
        """Check the parameters and every sample of ``X``; learn nothing.

        Parameters
        ----------
        X : sequence of structured ndarrays
            One event array per sample (see the class docstring).
        y : ignored

        Returns
        -------
        self
        """
        settings = self._settings()
        for i, events in enumerate(_samples(X)):
            _check_events(events, i, settings)
        return self

    def transform(self, X):
        """Bin every sample of ``X`` into frames.

        Parameters
        ----------
        X : sequence of structured ndarrays
            One event array per sample.

        Returns
        -------
        ndarray of shape (n_samples, F, P, H, W), float32
            Event counts; ``F`` is ``n_time_bins``, or ``n_frames``, or the
            most frames of a sample in ``X``; ``(H, W)`` is the sensor's
            height and width after ``spatial_factor``.
        """
        settings = self._settings()
        frames = [_frames_of(_check_events(events, i, settings), settings)
                  for i, events in enumerate(_samples(X))]
        n_frames = settings["n_frames"] or max((len(f) for f in frames), default=1)
        out = np.zeros((len(frames), n_frames, *settings["frame_shape"]), dtype=np.float32)
        for i, sample in enumerate(frames):
            kept = sample[:n_frames]
            out[i, :len(kept)] = kept
        return out

    def __call__(self, events):
        """The frames ``(F, P, H, W)`` of one sample (a dataset transform)."""
        return self.transform([events])[0]

    # ------------------------------------------------------------------ checks
    def _settings(self) -> dict:
        """Validated parameters, with the frame shape they give."""
        width, height, polarities = _check_sensor_size(self.sensor_size)
        chosen = [name for name in _MODES if getattr(self, name) is not None]
        if len(chosen) != 1:
            got = ", ".join(f"{name}={getattr(self, name)!r}" for name in chosen) or "none"
            raise ValueError("set exactly one of time_window, event_count and n_time_bins; "
                             f"got {got}")
        mode = chosen[0]
        value = getattr(self, mode)
        if mode == "time_window":
            value = _check_positive_real("time_window", value)
        else:
            value = check_int(mode, value)
        overlap = self._checked_overlap(mode, value)
        if not is_bool(self.include_incomplete):
            raise ValueError(f"include_incomplete must be True or False, "
                             f"got {self.include_incomplete!r}")
        if self.include_incomplete and mode == "n_time_bins":
            raise ValueError("include_incomplete applies to time_window and event_count; "
                             "n_time_bins always gives n_time_bins frames")
        n_frames = self.n_frames
        if n_frames is not None:
            if mode == "n_time_bins":
                raise ValueError("n_frames applies to time_window and event_count; "
                                 "with n_time_bins the number of frames is n_time_bins")
            n_frames = check_int("n_frames", n_frames)
        elif mode == "n_time_bins":
            n_frames = value
        filter_time = (None if self.filter_time is None
                       else _check_positive_real("filter_time", self.filter_time))
        factor = self.spatial_factor
        if not is_real(factor) or not 0 < factor <= 1:
            raise ValueError(f"spatial_factor must be a number in (0, 1], got {factor!r}")
        out_width = int(np.floor((width - 1) * factor)) + 1
        out_height = int(np.floor((height - 1) * factor)) + 1
        return {"sensor": (width, height, polarities), "mode": mode, "value": value,
                "overlap": overlap, "include_incomplete": bool(self.include_incomplete),
                "n_frames": n_frames, "filter_time": filter_time, "factor": factor,
                "frame_shape": (polarities, out_height, out_width)}

    def _checked_overlap(self, mode, value):
        overlap = self.overlap
        if not is_real(overlap) or not np.isfinite(overlap) or overlap < 0:
            raise ValueError(f"overlap must be a number >= 0, got {overlap!r}")
        if mode == "time_window" and overlap >= value:
            raise ValueError(f"overlap must be smaller than time_window={value!r}, "
                             f"got {overlap!r}")
        if mode == "event_count" and (not float(overlap).is_integer() or overlap >= value):
            raise ValueError(f"with event_count, overlap is a number of events: an integer "
                             f"smaller than event_count={value!r}, got {overlap!r}")
        if mode == "n_time_bins" and overlap >= 1:
            raise ValueError(f"with n_time_bins, overlap is a fraction of a bin in [0, 1), "
                             f"got {overlap!r}")
        return int(overlap) if mode == "event_count" else overlap


def _check_sensor_size(sensor_size):
    if sensor_size is None:
        raise ValueError("sensor_size is required: (width, height, polarities) of the sensor, "
                         "as tonic spells it, e.g. (34, 34, 2) for N-MNIST")
    if isinstance(sensor_size, (str, bytes)) or np.ndim(sensor_size) != 1 \
            or len(sensor_size) != 3 or not all(is_int(v) and v >= 1 for v in sensor_size):
        raise ValueError("sensor_size must be (width, height, polarities): three positive "
                         f"integers, as tonic spells it; got {sensor_size!r}")
    return tuple(int(v) for v in sensor_size)


def _check_positive_real(name, value):
    if not is_real(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _samples(X):
    if isinstance(X, np.ndarray) and X.dtype.names is not None:
        raise TypeError("X is a single structured event array; pass a sequence of them, "
                        "one per sample (e.g. [events])")
    try:
        return list(X)
    except TypeError:
        raise TypeError(f"X must be a sequence of structured event arrays, one per sample; "
                        f"got {type(X).__name__}") from None


def _check_events(events, index, settings):
    """Validate one sample; return its fields ``(x, y, t, p)`` as plain arrays."""
    width, height, polarities = settings["sensor"]
    if not isinstance(events, np.ndarray) or events.dtype.names is None or events.ndim != 1:
        raise TypeError(f"sample {index} is not a 1-d structured array of events with fields "
                        f"x, y, t, p (got {type(events).__name__}"
                        f"{' of dtype ' + str(events.dtype) if hasattr(events, 'dtype') else ''})")
    required = ("x", "t", "p") if height == 1 else ("x", "y", "t", "p")
    missing = [name for name in required if name not in events.dtype.names]
    if missing:
        raise ValueError(f"sample {index} has no field {', '.join(map(repr, missing))} "
                         f"(its fields: {', '.join(events.dtype.names)})")
    for name in ("x", "y", "p"):
        if name in events.dtype.names and events.dtype[name].kind not in "biu":
            raise TypeError(f"sample {index}: field {name!r} must hold integers, "
                            f"got {events.dtype[name]}")
    if events.dtype["t"].kind not in "iuf":
        raise TypeError(f"sample {index}: field 't' must hold numbers, got {events.dtype['t']}")
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64) if "y" in events.dtype.names else np.zeros_like(x)
    t = events["t"]
    p = events["p"].astype(np.int64)
    if len(t):
        if events.dtype["t"].kind == "f" and not np.isfinite(t).all():
            raise ValueError(f"sample {index}: field 't' has NaN or infinite timestamps")
        if np.any(t[1:] < t[:-1]):
            raise ValueError(f"sample {index}: field 't' is not in time order; events must be "
                             f"sorted by t, as tonic gives them")
        for name, values, size, what in (("x", x, width, "width"), ("y", y, height, "height")):
            if values.min() < 0 or values.max() >= size:
                bad = values.min() if values.min() < 0 else values.max()
                raise ValueError(f"sample {index}: field {name!r} has value {bad}, outside the "
                                 f"sensor (0 <= {name} < {what} {size}, sensor_size="
                                 f"{settings['sensor']})")
        if polarities == 1:
            if np.any(p != p[0]):
                raise ValueError(f"sample {index}: field 'p' has both polarities, but "
                                 f"sensor_size={settings['sensor']} has one")
            p = np.zeros_like(p)
        elif p.min() < 0 or p.max() >= polarities:
            bad = p.min() if p.min() < 0 else p.max()
            raise ValueError(f"sample {index}: field 'p' has value {bad}, outside the "
                             f"{polarities} polarities of sensor_size={settings['sensor']}")
    return x, y, t, p


# --------------------------------------------------------------------- binning
def _frames_of(fields, settings):
    """``(F, P, H, W)`` event counts of one validated sample."""
    x, y, t, p = fields
    if settings["filter_time"] is not None and len(t):
        keep = _denoise_mask(x, y, t, settings["filter_time"])
        x, y, t, p = x[keep], y[keep], t[keep], p[keep]
    factor = settings["factor"]
    if factor != 1:
        # the same float product tonic's Downsample takes, then its integer cast (x >= 0)
        x = np.floor(x * factor).astype(np.int64)
        y = np.floor(y * factor).astype(np.int64)
    starts, ends = _slices(t, settings)
    n_channels, height, width = settings["frame_shape"]
    cells = n_channels * height * width
    pixel = (p * height + y) * width + x
    lengths = ends - starts
    # every slice's events, concatenated (a slice is a range of event indices; slices overlap
    # when overlap > 0), tagged with the slice's frame, then counted in one bincount
    first = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    members = first + np.arange(lengths.sum())
    frame = np.repeat(np.arange(len(starts)), lengths)
    counts = np.bincount(frame * cells + pixel[members], minlength=len(starts) * cells)
    return counts.reshape(len(starts), n_channels, height, width)


def _slices(t, settings):
    """Start and end event indices of each slice, by tonic's slicing rules."""
    mode, value, overlap = settings["mode"], settings["value"], settings["overlap"]
    n_events = len(t)
    if n_events == 0:
        # tonic's ToFrame gives one empty frame (n_time_bins: n_time_bins empty frames)
        count = value if mode == "n_time_bins" else 1
        return np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
    rounding = np.ceil if settings["include_incomplete"] else np.floor
    if mode == "event_count":
        per_slice = min(value, n_events)
        stride = value - overlap
        n_slices = int(rounding((n_events - per_slice) / stride) + 1)
        starts = np.arange(n_slices, dtype=np.int64) * stride
        return starts, np.minimum(starts + per_slice, n_events)
    if mode == "time_window":
        stride = value - overlap
        duration = t[-1] - t[0]
        n_slices = max(int(rounding((duration - value) / stride) + 1), 1)
        window = value
    else:
        n_slices = value
        window = (t[-1] - t[0]) // value * (1 + overlap)
        stride = window * (1 - overlap)
    begin = np.arange(n_slices) * stride + t[0]
    return np.searchsorted(t, begin), np.searchsorted(t, begin + window)


def _denoise_mask(x, y, t, filter_time):
    """Which events tonic's ``Denoise(filter_time)`` keeps, without its per-event loop.

    Tonic walks the events in order, keeping a per-pixel "last event time + filter_time"
    (initially filter_time) and keeping an event when a 4-neighbour's value exceeds its t.
    Here the last earlier event at each neighbour is found at once: events are sorted by
    (pixel, index), and a neighbour's last event before event i is the one just below
    (neighbour, i) in that order.
    """
    n_events = len(t)
    width, height = int(x.max()) + 1, int(y.max()) + 1
    pixel = x * height + y
    keys = pixel * n_events + np.arange(n_events)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    times = t.astype(np.float64)
    keep = np.zeros(n_events, dtype=bool)
    for dx, dy, valid in ((-1, 0, x > 0), (1, 0, x < width - 1),
                          (0, -1, y > 0), (0, 1, y < height - 1)):
        neighbour = (x + dx) * height + (y + dy)
        below = np.searchsorted(sorted_keys, neighbour * n_events + np.arange(n_events)) - 1
        found = (below >= 0) & (sorted_keys[np.maximum(below, 0)] // n_events == neighbour)
        memory = np.where(found, times[order[np.maximum(below, 0)]] + filter_time, filter_time)
        keep |= valid & (memory > times)
    return keep


class SequenceScaler(TransformerMixin, BaseEstimator):
    """Standardise each channel of sequence input over the real steps of the training sequences.

    scikit-learn's ``StandardScaler`` takes one row per sample; sequences are
    ``(n, L, C)`` arrays or lists of ``(L_i, C)`` (or ``(L_i,)``) arrays of
    different lengths, as :class:`~snnsk.SpikingSSMClassifier` takes them.
    This scaler learns, per channel, the mean and standard deviation over
    every step of every training sequence (padding, which lists of ragged
    sequences do not have, cannot enter), and ``transform`` returns the
    input in the same form with ``(x - mean_) / scale_``.

    Log-mel spectrograms are the case in point: their bands differ by several
    units in level, and the default SSM on the spoken digits of FSDD (speaker
    split, ragged recordings) scored 0.692 on the raw values and 0.819 after
    this scaling (``bench/speed_ssm.py --quality-only``).

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation (a constant channel is divided by 1).

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features_in_,)
    n_features_in_ : int
        Channels per step.

    Examples
    --------
    >>> import numpy as np
    >>> X = [np.array([[0.0], [2.0]]), np.array([[4.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_.round(3)
    (array([2.]), array([1.633]))
    >>> for x in scaler.transform(X):
    ...     print(x.ravel().round(3))
    [-1.225  0.   ]
    [1.225]
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        """Learn each channel's mean and standard deviation over all real steps of ``X``."""
        from .estimators.sequence_input import pad_sequences

        padded, lengths = pad_sequences(X)  # validated, (n, L, C) float32
        real = np.arange(padded.shape[1])[None, :] < lengths[:, None]
        values = padded[real].astype(np.float64)  # [real steps, C]
        channels = values.shape[1]
        self.mean_ = values.mean(0) if self.with_mean else np.zeros(channels)
        scale = values.std(0) if self.with_std else np.ones(channels)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.n_features_in_ = channels
        return self

    def transform(self, X):
        """``(x - mean_) / scale_`` per channel, in ``X``'s own form (array or list)."""
        from sklearn.utils.validation import check_is_fitted

        from .estimators.sequence_input import pad_sequences

        check_is_fitted(self, "mean_")
        pad_sequences(X)  # the same validation as fit
        mean, scale = self.mean_.astype(np.float32), self.scale_.astype(np.float32)

        def scaled(seq, i):
            seq = np.asarray(seq, dtype=np.float32)
            channels = 1 if seq.ndim == 1 else seq.shape[-1]  # (L,) is one channel
            if channels != self.n_features_in_:
                raise ValueError(f"sequence {i} of X has {channels} channels per step, but "
                                 f"SequenceScaler was fitted with {self.n_features_in_}")
            return (seq - mean[:channels]) / scale[:channels]

        if isinstance(X, np.ndarray) and X.dtype != object:
            if X.ndim == 2:  # (n, L): one channel per step
                return scaled(X[..., None], 0)[..., 0]
            return scaled(X, 0)
        return [scaled(seq, i) for i, seq in enumerate(X)]
