"""Sequence input of the SSM: validation and right-padding, for arrays and streamed samples alike.

Arrays and lists of sequences are checked and padded whole by
:func:`check_sequences`; a streamed sample is checked by the same function as
a batch of one, and a batch of them is padded by :func:`pad_right`, the
padding the arrays get. Both paths thus give the module the same
``{"x": ..., "lengths": ...}`` input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch

__all__ = ["pad_sequences", "pad_right", "check_sequences"]

_SEQUENCE_FORMS = ("an array (n_samples, length) or (n_samples, length, channels), "
                   "or a list of sequences of shape (length,) or (length, channels)")


def _as_sequences(X) -> list[np.ndarray] | np.ndarray:
    """X as one regular numeric array, or as a list of per-sample arrays (ragged)."""
    if scipy.sparse.issparse(X):
        raise TypeError("sparse input is not supported; X must be " + _SEQUENCE_FORMS)
    if isinstance(X, (str, bytes)):
        raise TypeError(f"X must be {_SEQUENCE_FORMS}, got a string")
    if hasattr(X, "to_numpy"):  # pandas
        X = X.to_numpy()
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    if not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__"):
        # other array-likes (xarray, dask, wrappers) become the array they stand for, as
        # scikit-learn's check_array makes them; a list or tuple may be ragged and is not
        X = np.asarray(X)
    if isinstance(X, np.ndarray):
        if X.dtype != object:
            return X
        if X.ndim > 1:
            # numbers stored as objects, converted as scikit-learn converts them: anything
            # else raises numpy's TypeError or ValueError, which names the offending value
            return X.astype(np.float64)
        # a 1-D object array holds one sequence per element (the ragged form of an array)
    try:
        items = list(X)
    except TypeError:
        raise TypeError(f"X must be {_SEQUENCE_FORMS}, got {type(X).__name__}") from None
    return [_numeric_sequence(np.asarray(seq), i) for i, seq in enumerate(items)]


def _numeric_sequence(seq: np.ndarray, i: int) -> np.ndarray:
    """Sequence ``i`` of X as a numeric array (numbers stored as objects are converted)."""
    if seq.dtype == object:
        try:
            return seq.astype(np.float64)
        except (TypeError, ValueError):
            pass  # refused below, naming the sequence
    elif np.issubdtype(seq.dtype, np.number) or seq.dtype == np.bool_:
        return seq
    raise ValueError(f"sequence {i} of X is not numeric (dtype {seq.dtype}); X must be "
                     + _SEQUENCE_FORMS)


def pad_right(seqs):
    """Stack sequences of one trailing shape, zero-padded at the end to the longest.

    Parameters
    ----------
    seqs : sequence of ndarray
        Arrays ``(L_i, ...)`` with the same trailing axes.

    Returns
    -------
    padded : ndarray of shape (n, max L_i, ...)
        In the dtype the sequences share (numpy's result type).
    lengths : ndarray of shape (n,), int64
    """
    lengths = np.asarray([seq.shape[0] for seq in seqs], dtype=np.int64)
    padded = np.zeros((len(seqs), int(lengths.max())) + seqs[0].shape[1:],
                      dtype=np.result_type(*[seq.dtype for seq in seqs]))
    for i, seq in enumerate(seqs):
        padded[i, :len(seq)] = seq
    return padded, lengths


def check_sequences(X, vocab_size=None, n_features=None, estimator="the estimator"):
    """The SSM's input checks: :func:`pad_sequences`, token range and channel count.

    Parameters
    ----------
    X : array-like or list of array-like
        As in :func:`pad_sequences`.
    vocab_size : int or None, default=None
        Set when X holds token ids, which must then lie in ``[0, vocab_size)``.
    n_features : int or None, default=None
        The channels per step the estimator was fitted with; None in fit.
    estimator : str
        The estimator's name, for the error messages.

    Returns
    -------
    padded, lengths : ndarray
        As :func:`pad_sequences` gives them.

    Raises
    ------
    ValueError
        Everything :func:`pad_sequences` raises; token ids out of range; a
        channel count other than ``n_features``.
    """
    tokens = vocab_size is not None
    padded, lengths = pad_sequences(X, tokens=tokens)
    if tokens:
        low, high = int(padded.min()), int(padded.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"token ids must be in [0, vocab_size={vocab_size}), "
                             f"got values from {low} to {high}")
    channels = 1 if tokens else padded.shape[-1]
    if n_features is not None and channels != n_features:
        raise ValueError(f"X has {channels} channels per step, but {estimator} "
                         f"was fitted with {n_features}")
    return padded, lengths


def pad_sequences(X, tokens: bool = False):
    """Validate sequence input and right-pad it with zeros.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(n, L)`` or ``(n, L, C)``, or a list of ``(L_i,)`` / ``(L_i, C)``
        sequences of different lengths. Anything numpy turns into such an
        array is taken (a DataFrame, a tensor, an object with ``__array__``),
        and numbers stored with dtype ``object`` are converted to float64
        first, as scikit-learn converts them.
    tokens : bool, default=False
        The values are token ids (integers, one channel) rather than real
        features.

    Returns
    -------
    padded : ndarray
        ``(n, L_max, C)`` float32, or ``(n, L_max)`` int64 for tokens.
    lengths : ndarray of shape (n,), int64
        Each sequence's real length.
    """
    seqs = _as_sequences(X)
    if isinstance(seqs, np.ndarray):
        if seqs.ndim not in (2, 3) or (tokens and seqs.ndim != 2):
            expected = "(n_samples, length) token ids" if tokens else _SEQUENCE_FORMS
            # "Reshape your data" is scikit-learn's wording for a 1-D X
            raise ValueError(f"X must be {expected}; got an array of shape {seqs.shape}"
                             + (". Reshape your data: for one sequence, pass [sequence] or "
                                "X.reshape(1, -1)" if seqs.ndim == 1 else ""))
        # scikit-learn's wording for empty data ("Found array with 0 sample(s) ..."); the
        # features of a 2-D X are the steps of univariate sequences
        if seqs.shape[0] == 0:
            raise ValueError(f"X is empty: found array with 0 sample(s) (shape={seqs.shape}) "
                             "while a minimum of 1 is required.")
        if seqs.shape[1] == 0:
            raise ValueError(f"the sequences in X have no steps: found array with 0 feature(s) "
                             f"(shape={seqs.shape}) while a minimum of 1 is required.")
        lengths = np.full(seqs.shape[0], seqs.shape[1], dtype=np.int64)
        padded = seqs
    else:
        if not seqs:
            raise ValueError("X is empty: found 0 sample(s) while a minimum of 1 is required.")
        ndims = {seq.ndim for seq in seqs}
        if not ndims <= {1, 2} or len(ndims) > 1 or (tokens and ndims != {1}):
            shapes = sorted({seq.shape for seq in seqs}, key=len)[:3]
            expected = "1-D token-id sequences" if tokens else "all (length,) or all (length, channels)"
            raise ValueError(f"the sequences in X must be {expected}; got shapes such as {shapes}")
        channels = {seq.shape[1] for seq in seqs if seq.ndim == 2}
        if len(channels) > 1:
            raise ValueError(f"the sequences in X have different numbers of channels: {sorted(channels)}")
        padded, lengths = pad_right(seqs)
        if lengths.min() == 0:
            raise ValueError(f"sequence {int(np.argmin(lengths))} of X is empty")
    if padded.ndim == 3 and padded.shape[2] == 0:
        raise ValueError(f"the sequences in X have no channels: found array with 0 feature(s) "
                         f"(shape={padded.shape}) while a minimum of 1 is required.")
    if not (np.issubdtype(padded.dtype, np.number) or padded.dtype == np.bool_):
        raise ValueError(f"X must be numeric, got dtype {padded.dtype}")
    if tokens:
        if not np.all(np.isfinite(padded)) or not np.all(np.mod(padded, 1) == 0):
            raise ValueError("X must hold integer token ids when vocab_size is set")
        return padded.astype(np.int64), lengths
    if not np.all(np.isfinite(padded)):
        raise ValueError("X contains NaN or infinity")
    if padded.ndim == 2:
        padded = padded[..., None]
    return padded.astype(np.float32), lengths
