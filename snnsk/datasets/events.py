"""Event-camera (DVS) digits, generated offline from scikit-learn's digits."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from .._validation import check_int

__all__ = ["load_event_digits", "saccade_path"]

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
    if not np.isfinite(contrast_threshold) or contrast_threshold <= 0:
        raise ValueError(f"contrast_threshold must be a positive number, got {contrast_threshold!r}")
    if not 0 <= noise < 1:
        raise ValueError(f"noise must be a probability in [0, 1), got {noise!r}")
    rng = check_random_state(random_state)
    images, y = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8) / 16.0
    n = len(images)
    amplitude = 3.0
    margin = (size - 8 - amplitude) / 2  # centres the path's bounding box
    jitter = rng.uniform(-1.0, 1.0, size=(n, 2))
    path = saccade_path(timesteps * substeps + 1, amplitude)

    frames = np.zeros((n, timesteps, 2, size, size), dtype=np.float32)
    # the reference level of every pixel: the log brightness at its last event
    reference = None
    for step, (dy, dx) in enumerate(path):
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
        frame = (step - 1) // substeps
        frames[:, frame, 0] += on
        frames[:, frame, 1] += off
    if noise > 0:
        frames += rng.random_sample(frames.shape) < noise
    return frames, y


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
