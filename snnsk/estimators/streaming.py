"""Input that is never loaded whole: a torch ``Dataset`` or skorch's ``SliceDataset``.

A classifier takes, besides arrays,

* a torch ``Dataset`` whose items are ``(x, y)`` pairs, with ``y=None``;
* skorch's ``SliceDataset`` of such a dataset as ``X`` (what scikit-learn's
  searches index fold by fold without loading anything), with the labels as an
  array or as another ``SliceDataset``.

:class:`StreamedSamples` wraps either into the dataset skorch's loaders read:
each item is loaded only when a batch needs it, checked — same shape as the
first sample, finite — and brought into the form the module takes (the
estimator's own array validation decides that form once, on the first
sample), with its label encoded. The errors are those of arrays, naming the
sample. :class:`StreamedSequences` does the same for samples of their own
lengths (the SSM's sequences): each is checked by the estimator's array
validation as a batch of one, and a batch is padded by the dataset's
``collate_fn``, which :func:`loader_params` hands to the loaders.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.helper import SliceDataset
from torch.utils.data import Dataset, Subset

from .sequence_input import pad_right

__all__ = ["is_stream", "StreamedSamples", "StreamedSequences", "stream_labels",
           "first_sample", "loader_params"]


def is_stream(X) -> bool:
    """Whether ``X`` is a torch ``Dataset`` or a skorch ``SliceDataset`` (not loaded whole)."""
    return isinstance(X, (Dataset, SliceDataset))


def _item(X, i):
    """Sample ``i`` of ``X`` and its label, or None where ``X`` only holds inputs."""
    item = X[i]
    if isinstance(X, SliceDataset):
        return item, None
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(f"item {i} of the dataset must be an (x, y) pair, got "
                         f"{type(item).__name__}" + (f" of length {len(item)}"
                                                     if isinstance(item, (tuple, list)) else ""))
    return item[0], item[1]


def _as_array(x, i) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample {i} of X is not an array: {exc}") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"sample {i} of X is not numeric (dtype {x.dtype})")
    return x


def first_sample(X) -> np.ndarray:
    """The first sample of a stream as an array (its shape is the shape every sample must have)."""
    if len(X) == 0:
        raise ValueError("X is an empty dataset: need at least one sample")
    return _as_array(_item(X, 0)[0], 0)


def stream_labels(X, y=None) -> np.ndarray:
    """The labels of a stream, as a 1-D array, read without keeping any sample.

    ``y`` given (an array or a ``SliceDataset`` of the labels) is used as is.
    Otherwise the dataset's ``targets`` attribute (the torchvision convention)
    when it has one of the right length, else the second element of every
    item, loaded one at a time.
    """
    if y is not None:
        labels = [y[i] for i in range(len(y))] if isinstance(y, SliceDataset) else y
    else:
        if isinstance(X, SliceDataset):
            raise ValueError("X is a SliceDataset of the inputs only: pass the labels as y "
                             "(an array, or SliceDataset(dataset, idx=1))")
        targets = getattr(X, "targets", None)
        if targets is not None and len(targets) == len(X):
            labels = targets
        else:
            labels = []
            for i in range(len(X)):
                label = _item(X, i)[1]
                if label is None:
                    raise ValueError(f"item {i} of the dataset has no label (y is None)")
                labels.append(label)
    labels = [label.item() if torch.is_tensor(label) and label.dim() == 0 else label
              for label in (labels.tolist() if torch.is_tensor(labels) else labels)]
    return np.asarray(labels)


class StreamedSamples(Dataset):
    """The dataset skorch reads: validated, reshaped samples and encoded labels, loaded lazily.

    Parameters
    ----------
    source : torch Dataset or SliceDataset
        The user's data.
    sample_shape : tuple
        The shape every raw sample must have (that of the first one).
    module_shape : tuple
        The shape the module takes per sample (the estimator's validation of
        the first sample decides it: a flat image gets its channel and pixel
        axes, for example).
    labels : ndarray or None
        Encoded labels (int64), one per sample; None at prediction when the
        source holds no labels (then every item's target is 0).
    """

    #: How a loader stacks the items into a batch: None for torch's default (one shape).
    collate_fn = None

    def __init__(self, source, sample_shape, module_shape, labels=None):
        self.source = source
        self.sample_shape = tuple(sample_shape)
        self.module_shape = tuple(module_shape)
        self.labels = labels

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        x = self._checked(_as_array(_item(self.source, i)[0], i), i)
        target = self.labels[i] if self.labels is not None else 0
        return x, int(target)

    def _checked(self, x: np.ndarray, i: int):
        """Sample ``i`` checked and in the module's form (the hook of :class:`StreamedSequences`)."""
        if x.shape != self.sample_shape:
            raise ValueError(f"sample {i} of X has shape {x.shape}, but the first sample has "
                             f"{self.sample_shape}: every sample must have the same shape")
        x = x.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise ValueError(f"sample {i} of X contains NaN or infinity")
        return torch.from_numpy(x.reshape(self.module_shape))


class StreamedSequences(StreamedSamples):
    """Streamed sequences ``(L_i,)`` or ``(L_i, C)`` of their own lengths, padded per batch.

    Parameters
    ----------
    source : torch Dataset or SliceDataset
        The user's data.
    check : callable
        The estimator's array validation, ``check(X) -> (padded, lengths)``
        (picklable, for a loader's worker processes); each sample goes
        through it as a batch of one, so it gets the checks arrays get, and
        its error is raised naming the sample.
    labels : ndarray or None
        As in :class:`StreamedSamples`.
    """

    def __init__(self, source, check, labels=None):
        self.source = source
        self.check = check
        self.labels = labels

    def _checked(self, x: np.ndarray, i: int) -> np.ndarray:
        try:
            padded, _ = self.check(x[None])
        except ValueError as exc:
            raise ValueError(f"sample {i} of X: {exc}") from None
        return padded[0]

    def collate_fn(self, batch):
        """The module's input for a batch of items: ``{"x", "lengths"}`` as arrays get, and the targets."""
        samples, targets = zip(*batch)
        padded, lengths = pad_right(samples)
        return ({"x": torch.from_numpy(padded), "lengths": torch.from_numpy(lengths)},
                torch.as_tensor(targets, dtype=torch.int64))


def loader_params(net, dataset, prefix: str) -> dict:
    """The keyword arguments of ``net``'s loader ``prefix`` (``'iterator_train'`` or ``'iterator_valid'``).

    skorch's: the net's ``batch_size`` unless ``prefix__batch_size`` is set;
    and, for streamed samples that torch cannot stack as they are (also
    inside the ``Subset`` of a validation split or a calibration sample),
    their dataset's ``collate_fn`` unless ``prefix__collate_fn`` is set.
    """
    base = dataset
    while isinstance(base, Subset):
        base = base.dataset
    collate = base.collate_fn if isinstance(base, StreamedSamples) else None
    params = {"batch_size": net.batch_size}
    if collate is not None:
        params["collate_fn"] = collate
    return {**params, **net.get_params_for(prefix)}
