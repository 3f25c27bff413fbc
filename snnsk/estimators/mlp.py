"""SpikingMLPClassifier: the spiking counterpart of scikit-learn's MLPClassifier."""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch
from skorch import NeuralNet
from sklearn.utils.validation import check_array

from .._validation import Check, Options, Real
from ..core.encoding import ENCODERS
from ..models.mlp import SpikingMLP, check_layer_sizes
from .base import SpikingClassifierMixin, SpikingMixin

__all__ = ["SpikingMLPClassifier"]


class SpikingMLPClassifier(SpikingClassifierMixin, SpikingMixin, NeuralNet):
    """Fully connected spiking neural network classifier.

    Inputs are encoded over ``timesteps`` steps, pass through Linear → LIF
    layers and a linear readout that produces logits at every step; training
    uses the TET loss on the per-step logits and prediction averages them over
    time. A skorch ``NeuralNet``: every skorch parameter (``lr``,
    ``max_epochs``, ``optimizer__*``, ``callbacks``, ``device``...) works.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(512,)
        Width of each spiking hidden layer.
    timesteps : int, default=4
        Simulation steps T.
    threshold : float, default=1.0
        Firing threshold of the LIF neurons.
    tau : float, default=2.0
        Membrane time constant.
    reset : {'hard', 'soft'}, default='hard'
        Reset after a spike.
    refractory : int, default=0
        Refractory period in steps.
    surrogate : {'atan', 'sigmoid', 'fast_sigmoid', 'triangle'}, default='atan'
        Surrogate gradient.
    alpha : float or None, default=None
        Surrogate sharpness (``None``: the surrogate's default).
    encoding : {'direct', 'rate', 'latency'}, default='direct'
        Input encoding; 'rate' and 'latency' expect inputs scaled to [0, 1].
    dropout : float, default=0.0
        Dropout on hidden spikes.
    loss : {'tet', 'mean'}, default='tet'
        TET loss on per-step outputs, or cross-entropy of the time average.
    tet_lambda : float, default=1e-3
        Weight of TET's MSE regulariser.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        LIF kernel backend.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, dropout and rate encoding.
    lr : float, default=2e-3
        Learning rate of the optimizer (Adam).
    max_epochs : int, default=40
    batch_size : int, default=64
    train_split : None or callable, default=None
        No internal validation split by default (as MLPClassifier without
        early stopping); pass ``skorch.dataset.ValidSplit(...)`` to get one.
    verbose : int, default=0
    **kwargs
        Any other skorch ``NeuralNet`` parameter.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Features per sample, or per time step of sequence input.
    sequence_input_ : bool
        Whether the model was fitted on sequences ``(n_samples, length, n_features)``.
    module_ : SpikingMLP

    Notes
    -----
    X is ``(n_samples, n_features)`` (static, encoded by ``encoding``) or
    ``(n_samples, length, n_features)``: input that has its own time axis,
    such as the spike counts of the Spiking Heidelberg Digits (700 channels
    per time bin). A sequence is fed as it is, summed into ``timesteps``
    consecutive bins of its ``length`` steps (``length >= timesteps``; the
    length may differ between fit and prediction).
    history_ : skorch.History

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from snnsk import SpikingMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = SpikingMLPClassifier(max_epochs=5, random_state=0).fit(X / 16, y)
    >>> clf.predict(X[:3] / 16).shape
    (3,)
    """

    _architecture_params = ("hidden_layer_sizes", "encoding", "dropout")
    _parameter_constraints = {
        **SpikingMixin._parameter_constraints,
        "hidden_layer_sizes": Check(check_layer_sizes),
        "encoding": Options(*ENCODERS),
        "dropout": Real(0.0, 1.0, high_open=True, what="in [0, 1)"),
    }

    def __init__(
        self,
        hidden_layer_sizes=(512,),
        *,
        timesteps=4,
        threshold=1.0,
        tau=2.0,
        reset="hard",
        refractory=0,
        surrogate="atan",
        alpha=None,
        encoding="direct",
        dropout=0.0,
        loss="tet",
        tet_lambda=1e-3,
        backend="auto",
        random_state=None,
        module=SpikingMLP,
        criterion=None,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=40,
        batch_size=64,
        train_split=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         verbose=verbose, **kwargs)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.timesteps = timesteps
        self.threshold = threshold
        self.tau = tau
        self.reset = reset
        self.refractory = refractory
        self.surrogate = surrogate
        self.alpha = alpha
        self.encoding = encoding
        self.dropout = dropout
        self.loss = loss
        self.tet_lambda = tet_lambda
        self.backend = backend
        self.random_state = random_state
        self._drop_init_state()

    def _validate_X(self, X, reset: bool):
        if getattr(X, "ndim", None) != 3 or scipy.sparse.issparse(X):
            X = super()._validate_X(X, reset)
            sequences = False
        else:
            X = check_array(X, allow_nd=True, dtype=[np.float32, np.float64], input_name="X")
            sequences = True
            if reset:
                self.n_features_in_ = int(X.shape[2])
                vars(self).pop("feature_names_in_", None)
            elif getattr(self, "sequence_input_", False) and X.shape[2] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[2]} features per step, but "
                                 f"{type(self).__name__} was fitted on {self.n_features_in_}")
        if reset:
            self.sequence_input_ = sequences
        elif sequences != getattr(self, "sequence_input_", False):  # older fits: static
            fitted = "sequences" if sequences is False else "static samples"
            got = "sequences (n_samples, length, n_features)" if sequences else "static samples"
            raise ValueError(f"{type(self).__name__} was fitted on {fitted}, but X holds {got}")
        return X.astype(np.float32, copy=False)

    def _data_module_kwargs(self):
        return {"n_features": self.n_features_in_, **super()._data_module_kwargs()}
