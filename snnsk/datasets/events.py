"""Event-camera (DVS) digits, generated offline from scikit-learn's digits: as frames, or as
raw event recordings in the form tonic gives real ones."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from .._validation import check_int

__all__ = ["load_event_digits", "load_event_digit_recordings", "saccade_path"]

#: Offset added before the logarithm: a DVS pixel responds to relative
#: brightness change, and black pixels would otherwise have log(0).
_LOG_OFFSET = 0.1
_ROUNDING_TOLERANCE = 1e-9


def saccade_path(n_points: int, amplitude: float) -> np.ndarray:
    """``(n_points, 2)`` (dy, dx) offsets along a closed triangular saccade.

    Three straight segments of equal duration through (0, 0), (amplitude,
    amplitude / 2) and (0, amplitude), back to the start, like the three
    saccades N-MNIST's camera made. The segments are diagonal or vertical,
    so edges of every orientation produce events.
    """
    vertices = np.array([[0.0, 0.0], [amplitude, amplitude / 2], [0.0, amplitude], [0.0, 0.0]])
    progress = np.linspace(0.0, 3.0, n_points)
    segment = np.minimum(progress.astype(int), 2)
    fraction = (progress - segment)[:, None]
    return vertices[segment] * (1 - fraction) + vertices[segment + 1] * fraction


def load_event_digits(timesteps: int = 8, random_state=None, size: int = 16, substeps: int = 4,
                      contrast_threshold: float = 0.2, noise: float = 0.002):
    """scikit-learn's digits seen by a simulated event camera during small saccades.

    Each 8×8 digit is placed on a black ``size × size`` canvas and moved
    along a triangular saccade path (:func:`saccade_path`); the camera's
    pixels emit an ON (OFF) event each time their log brightness rises (falls)
    by ``contrast_threshold`` from the level at their last event, the DVS
    model. The events are summed into ``timesteps`` frames of ``substeps``
    path samples each.

    Parameters
    ----------
    timesteps : int, default=8
        Frames per sample.
    random_state : int, RandomState or None, default=None
        Seeds each digit's placement (a shift of up to one pixel either way)
        and the background noise events.
    size : int, default=16
        Height and width of the frames (at least 12: the digit plus the
        saccade's 3-pixel range and the placement jitter).
    substeps : int, default=4
        Path samples per frame (the temporal resolution of the simulation).
    contrast_threshold : float, default=0.2
        Log-brightness change that triggers an event.
    noise : float, default=0.002
        Probability of a spurious event per pixel, polarity and frame
        (background activity of real sensors).

    Returns
    -------
    X : ndarray of shape (1797, timesteps, 2, size, size), float32
        Event counts; channel 0 is ON, channel 1 is OFF.
    y : ndarray of shape (1797,), int
        The digit, 0 to 9.

    Examples
    --------
    >>> X, y = load_event_digits(timesteps=4, random_state=0)
    >>> X.shape
    (1797, 4, 2, 16, 16)
    """
    timesteps = check_int("timesteps", timesteps)
    substeps = check_int("substeps", substeps)
    size = check_int("size", size, minimum=12)
    _check_contrast_and_noise(contrast_threshold, noise)
    rng = check_random_state(random_state)
    images, y = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8) / 16.0
    jitter = rng.uniform(-1.0, 1.0, size=(len(images), 2))
    frames = np.zeros((len(images), timesteps, 2, size, size), dtype=np.float32)
    for step, on, off in _dvs_steps(images, size, timesteps * substeps, contrast_threshold, jitter):
        frame = step // substeps
        frames[:, frame, 0] += on
        frames[:, frame, 1] += off
    if noise > 0:
        frames += rng.random_sample(frames.shape) < noise
    return frames, y


#: dtype of the recordings: the fields tonic's datasets give, in tonic's order for N-MNIST
_EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])


def load_event_digit_recordings(n_samples=None, *, random_state=None, size: int = 34,
                                duration: int = 300_000, steps: int = 30,
                                contrast_threshold: float = 0.2, noise: float = 0.001):
    """scikit-learn's digits recorded by a simulated event camera, as raw event lists.

    The simulated camera of :func:`load_event_digits`, giving what a real
    event camera and tonic's datasets give (N-MNIST's in particular) instead
    of frames: one structured array of events ``(x, y, t, p)`` per digit, in
    time order, ``t`` in microseconds over ``duration`` (N-MNIST's
    recordings last about 300 ms), ``p`` 1 for ON (brightness up) and 0 for
    OFF. Each digit is enlarged by the largest whole factor that fits the
    sensor with its saccade (3, to 24x24 pixels, on the default 34x34
    sensor, N-MNIST's) and moved along the triangular saccade path. In each
    step of the path, a pixel emits one event per ``contrast_threshold`` its
    log brightness has changed by since its last event, each at a random time
    within the step; spurious events (``noise`` per pixel, polarity and step)
    are added as real sensors have them. Nothing is downloaded. Write them in
    N-MNIST's file format with :func:`snnsk.datasets.write_nmnist`, bin them
    with :class:`snnsk.preprocessing.EventFrames`.

    Parameters
    ----------
    n_samples : int or None, default=None
        Record the first ``n_samples`` digits (at most 1797); ``None``: all
        (about 6,000 events each, some seconds on one core).
    random_state : int, RandomState or None, default=None
        Seeds the placement jitter, the event times and the noise.
    size : int, default=34
        Width and height of the sensor (at least 13).
    duration : int, default=300000
        Length of a recording in microseconds.
    steps : int, default=30
        Steps along the saccade path (its temporal resolution).
    contrast_threshold : float, default=0.2
        Log-brightness change that triggers an event.
    noise : float, default=0.001
        Probability of a spurious event per pixel, polarity and step.

    Returns
    -------
    X : ndarray of shape (n_samples,), object
        One structured array per digit, dtype ``[('x', int16), ('y', int16),
        ('t', int64), ('p', int8)]``.
    y : ndarray of shape (n_samples,), int64
        The digit, 0 to 9.

    Examples
    --------
    >>> X, y = load_event_digit_recordings(20, random_state=0)
    >>> X.shape, X[0].dtype.names, bool((X[0]["t"] < 300_000).all()), y[:4].tolist()
    ((20,), ('x', 'y', 't', 'p'), True, [0, 1, 2, 3])
    """
    size = check_int("size", size, minimum=13)
    duration = check_int("duration", duration)
    steps = check_int("steps", steps)
    _check_contrast_and_noise(contrast_threshold, noise)
    rng = check_random_state(random_state)
    digits, y = load_digits(return_X_y=True)
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples)
        digits, y = digits[:n_samples], y[:n_samples]
    scale = (size - 5) // 8  # the digit, the 3-pixel saccade and a pixel of jitter either side
    images = np.kron(digits.reshape(-1, 8, 8) / 16.0, np.ones((scale, scale)))
    jitter = rng.uniform(-1.0, 1.0, size=(len(images), 2))
    step_length = duration / steps
    parts = []
    for step, on, off in _dvs_steps(images, size, steps, contrast_threshold, jitter):
        if noise > 0:
            on = on + (rng.random_sample(on.shape) < noise)
            off = off + (rng.random_sample(off.shape) < noise)
        counts = np.stack([off, on], axis=1)  # (n, polarity, row, col)
        where = np.nonzero(counts)
        repeats = counts[where].astype(np.int64)
        sample, polarity, row, col = (np.repeat(v, repeats) for v in where)
        times = np.floor((step + rng.random_sample(len(sample))) * step_length).astype(np.int64)
        order = np.argsort(times, kind="stable")
        parts.append((sample.astype(np.int16)[order], col[order], row[order], times[order],
                      polarity[order]))
    sample, *fields = (np.concatenate(column) for column in zip(*parts))
    # The steps follow each other in time and each is in time order, so a stable sort by digit
    # leaves every digit's events in time order (and on int16, numpy sorts by radix: fast).
    order = np.argsort(sample, kind="stable")
    events = np.empty(len(order), dtype=_EVENT_DTYPE)
    for name, values in zip(("x", "y", "t", "p"), fields):
        events[name] = values[order]
    X = np.empty(len(images), dtype=object)
    for i, chunk in enumerate(np.split(events, np.searchsorted(sample[order],
                                                                np.arange(1, len(images))))):
        X[i] = chunk
    return X, y.astype(np.int64)


def _check_contrast_and_noise(contrast_threshold, noise):
    if not np.isfinite(contrast_threshold) or contrast_threshold <= 0:
        raise ValueError(f"contrast_threshold must be a positive number, got {contrast_threshold!r}")
    if not 0 <= noise < 1:
        raise ValueError(f"noise must be a probability in [0, 1), got {noise!r}")


def _dvs_steps(images, size, n_steps, contrast_threshold, jitter):
    """Simulate the DVS over ``n_steps`` steps of the saccade: yield ``(step, on, off)``.

    ``images`` (n, h, w) in [0, 1] are drawn on a black ``size`` x ``size`` canvas, centred
    on the path's bounding box plus each image's ``jitter``; ``on`` / ``off`` are the
    (n, size, size) event counts of the step.
    """
    amplitude = 3.0
    margin = (size - images.shape[1] - amplitude) / 2  # centres the path's bounding box
    # the reference level of every pixel: the log brightness at its last event
    reference = None
    for step, (dy, dx) in enumerate(saccade_path(n_steps + 1, amplitude)):
        level = np.log(_LOG_OFFSET + _render_jittered(images, size, margin + dy, margin + dx,
                                                        jitter))
        if reference is None:
            reference = level
            continue
        change = level - reference
        # A pixel returning to an earlier brightness lands exactly on a multiple of the
        # threshold from its reference; the tolerance keeps rounding from dropping that event.
        on = np.floor(np.maximum(change, 0) / contrast_threshold + _ROUNDING_TOLERANCE)
        off = np.floor(np.maximum(-change, 0) / contrast_threshold + _ROUNDING_TOLERANCE)
        reference = reference + (on - off) * contrast_threshold
        yield step - 1, on, off


def _render_jittered(images, size, dy, dx, jitter):
    """Render every image at ``(dy, dx)`` plus its own jitter, bilinearly."""
    out = np.empty((len(images), size, size))
    offsets = np.array([dy, dx]) + jitter
    whole = np.floor(offsets).astype(int)
    for key in np.unique(whole, axis=0):
        rows = np.all(whole == key, axis=1)
        out[rows] = _render_bilinear(images[rows], size, offsets[rows])
    return out


def _render_bilinear(images, size, offsets):
    """``images`` (n, h, w) at per-image offsets (n, 2) sharing one integer part, bilinear."""
    n, h, w = images.shape
    y0, x0 = np.floor(offsets[0]).astype(int)
    fy = (offsets[:, 0] - y0)[:, None, None]
    fx = (offsets[:, 1] - x0)[:, None, None]
    canvas = np.zeros((n, size + 1, size + 1))
    canvas[:, 1 + y0:1 + y0 + h, 1 + x0:1 + x0 + w] = images
    # a pixel at (i, j) shifted by (fy, fx) takes from (i - fy, j - fx): mix four neighbours
    return ((1 - fy) * (1 - fx) * canvas[:, 1:, 1:] + (1 - fy) * fx * canvas[:, 1:, :-1]
            + fy * (1 - fx) * canvas[:, :-1, 1:] + fy * fx * canvas[:, :-1, :-1])
