"""The spiking mixin for skorch nets, and the classifier mixin built on it.

A spiking estimator is ``class MyEstimator(SpikingMixin, skorch.NeuralNet)``
(classifiers add :class:`SpikingClassifierMixin` in front). The mixin

* exposes the neuron hyperparameters (``threshold``, ``tau``, ``reset``,
  ``refractory``, ``surrogate``, ``alpha``, ``backend``) and ``timesteps`` as
  top-level, searchable parameters; the neuron ones become one
  :class:`~snnsk.core.neurons.NeuronConfig` (:meth:`neuron_config`), validated once
  and handed to the module as ``neuron=`` when it is built;
* applies them in place when they are changed by ``set_params`` after ``fit``
  (one path: a new configuration for every spiking layer,
  :func:`~snnsk.core.neurons.set_neuron_params`; architecture parameters
  re-initialise the module, as skorch does for ``module__*``);
* builds the criterion from ``loss`` ('tet' or 'mean') and ``tet_lambda``;
  the module returns per-timestep outputs ``[T, B, C]`` and :meth:`get_loss`
  receives them whole;
* seeds torch from ``random_state`` inside ``fit`` and prediction, without
  touching the caller's global random state;
* reports firing rates per spiking layer with :meth:`spike_stats`, and runs the
  inference pass that statistics, energy reports and plots observe
  (:meth:`run_inference`).
"""

from __future__ import annotations

import contextlib
import numbers
import types

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (check_consistent_length, check_is_fitted, column_or_1d,
                                      validate_data)
from skorch.dataset import get_len
from skorch.utils import multi_indexing, to_numpy

from .._validation import Check, Integer, Options, Real, is_int, validate_params
from ..analysis.spike_counts import SpikeCounter
from ..core._allocator import keep_freed_memory
from ..core.losses import LOSSES, MeanOverTimeLoss, TETLoss
from ..core.memory import compact_saved_spikes
from ..core.neurons import NeuronConfig, set_neuron_params
from .recalibration import recalibrate_batch_norm
from .streaming import StreamedSamples, first_sample, is_stream, loader_params, stream_labels

__all__ = ["SpikingMixin", "SpikingClassifierMixin", "NEURON_HYPERPARAMS"]

#: The neuron parameters (fields of :class:`~snnsk.core.neurons.NeuronConfig`) every spiking
#: estimator exposes as top-level hyperparameters.
NEURON_HYPERPARAMS = ("threshold", "tau", "reset", "refractory", "surrogate", "alpha", "backend")
#: Hyperparameters that only change the loss.
LOSS_PARAMS = ("loss", "tet_lambda")


def _check_random_state(name, random_state):
    if not (random_state is None or is_int(random_state)
            or isinstance(random_state, np.random.RandomState)):
        raise ValueError(f"{name} must be None, an int or a numpy RandomState, "
                         f"got {random_state!r}")
    return random_state


def _torch_seed(random_state) -> int | None:
    _check_random_state("random_state", random_state)
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return int(random_state)


class SpikingMixin:
    """Spiking behaviour for a skorch ``NeuralNet`` subclass.

    Subclasses list their architecture hyperparameters in
    ``_architecture_params`` (forwarded to the module constructor; changing one
    after fit re-initialises the module) and may return data-dependent module
    arguments (input size, number of classes) from :meth:`_data_module_kwargs`.
    The module takes ``neuron=`` (a :class:`~snnsk.core.neurons.NeuronConfig`), every
    name in ``_spiking_params`` and ``_architecture_params`` as keyword arguments,
    has the ``_spiking_params`` as settable attributes, and returns ``[T, B, ...]``.
    """

    _architecture_params: tuple = ()
    #: The neuron parameters this estimator exposes; :meth:`neuron_config` makes them one
    #: configuration.
    _neuron_params: tuple = NEURON_HYPERPARAMS
    #: The configuration the exposed parameters apply to: what the estimator does not expose
    #: keeps this one's values (the model's own default neuron).
    _base_neuron: NeuronConfig = NeuronConfig()
    #: Other hyperparameters of the spiking dynamics, forwarded to the module and set on it in
    #: place after fit; an estimator whose model has no simulation steps drops ``timesteps``.
    _spiking_params: tuple = ("timesteps",)
    #: Hyperparameters that only change the loss (an estimator without them sets ``()``).
    _loss_params: tuple = LOSS_PARAMS

    # skorch sets these in __init__; scikit-learn wants __init__ to set
    # parameters only, so they live here until fit sets them on the instance.
    initialized_ = False
    history_ = None
    virtual_params_ = types.MappingProxyType({})

    def _get_param_names(self):
        # skorch lists every attribute not ending in "_"; private ones are not parameters
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def _drop_init_state(self):
        for name in ("initialized_", "history_", "virtual_params_"):
            vars(self).pop(name, None)

    # ------------------------------------------------------------------ checks
    #: What each hyperparameter must be, in one place (scikit-learn's ``_parameter_constraints``
    #: is the model): subclasses extend it with their architecture; the neuron parameters are
    #: checked by the :class:`~snnsk.core.neurons.NeuronConfig` they make; relations between sizes
    #: (heads dividing the width) by the model.
    _parameter_constraints: dict = {
        "timesteps": Integer(1),
        "loss": Options(*LOSSES),
        "tet_lambda": Real(0, 1, what="a number in [0, 1]"),
        "random_state": Check(_check_random_state),
    }

    def check_params(self):
        """Validate every hyperparameter, as ``fit`` does, naming the first bad one.

        Raises
        ------
        ValueError, TypeError
        """
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        self.neuron_config()  # raises naming a bad neuron parameter

    def neuron_config(self, **changes) -> NeuronConfig:
        """The neurons' configuration made of this estimator's hyperparameters.

        Parameters
        ----------
        **changes
            Values that replace the estimator's own (to check a change before
            making it).

        Returns
        -------
        NeuronConfig
            What the module's spiking layers are built with (and, after a
            ``set_params``, set to).
        """
        values = {name: getattr(self, name) for name in self._neuron_params}
        values.update(changes)
        return self._base_neuron.replace(**values)

    # --------------------------------------------------------------- seeding
    @contextlib.contextmanager
    def _seeded(self, offset: int = 0):
        """Seed torch from ``random_state`` inside, restore the caller's RNG after."""
        seed = _torch_seed(self.random_state)
        if seed is None:
            yield
            return
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed + offset)
            yield

    def fit(self, X, y=None, **fit_params):
        """Initialise and train the module (see :meth:`skorch.NeuralNet.fit`)."""
        self.check_params()
        with self._seeded():
            return super().fit(X, y, **fit_params)

    #: Training samples the batch-norm statistics are recomputed on when a fit ends.
    _recalibration_samples = 256

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Recompute batch-norm statistics with the final weights (also after an interrupted fit).

        See :mod:`snnsk.estimators.recalibration`: the running averages lag
        behind the weights, which ruins the predictions of short fits.
        """
        super().on_train_end(net, X=X, y=y, **kwargs)
        if X is not None:
            # an int seed picks the subset; a RandomState is not consumed for it
            seed = int(self.random_state) if isinstance(self.random_state, numbers.Integral) else 0
            recalibrate_batch_norm(self, X, y, max_samples=self._recalibration_samples, seed=seed)

    def partial_fit(self, X, y=None, *args, **fit_params):
        keep_freed_memory()  # see snnsk.core._allocator: no page faults for every step's activations
        return super().partial_fit(X, y, *args, **fit_params)

    def train_step_single(self, batch, **fit_params):
        # Spikes kept for backward as int8 (exactly the same values, so the same gradients):
        # at T steps a spiking network keeps T times the activations of its non-spiking twin.
        with compact_saved_spikes():
            return super().train_step_single(batch, **fit_params)

    def get_iterator(self, dataset, training=False):
        """skorch's loader over ``dataset``, with the collate function streamed sequences need.

        See :func:`~snnsk.estimators.streaming.loader_params`; for every other
        dataset the loader is skorch's.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        params = loader_params(self, dataset, prefix)
        if params["batch_size"] == -1:
            params["batch_size"] = len(dataset)
        return getattr(self, prefix)(dataset, **params)

    # --------------------------------------------------------- module wiring
    def _module_params(self) -> dict:
        names = self._spiking_params + tuple(self._architecture_params)
        return {"neuron": self.neuron_config(), **{name: getattr(self, name) for name in names}}

    def _data_module_kwargs(self) -> dict:
        """Module arguments learned from the data in ``fit`` (input size, classes...)."""
        return {}

    def initialize_module(self):
        kwargs = {**self._module_params(), **self._data_module_kwargs(),
                  **self.get_params_for("module")}
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if self.criterion is None:
            if self.loss == "tet":
                self.criterion_ = TETLoss(lamb=self.tet_lambda, **kwargs)
            else:
                self.criterion_ = MeanOverTimeLoss(**kwargs)
        else:
            self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _apply_spiking_params(self, names):
        """Push changed spiking hyperparameters into the built module, in place.

        The one path of a change after fit: the changed neuron fields go into
        every spiking layer's configuration (:func:`set_neuron_params`; layers
        keep the fields they fix), the other spiking parameters are set on the
        module.
        """
        neuron = self.neuron_config()
        changed = {name: getattr(neuron, name) for name in names if name in self._neuron_params}
        if "surrogate" in changed or "alpha" in changed:
            # the sharpness belongs to the surrogate: the two travel together
            changed.update(surrogate=neuron.surrogate, alpha=neuron.alpha)
        if changed:
            set_neuron_params(self.module_, **changed)
        for name in names:
            if name in self._spiking_params:
                setattr(self.module_, name, getattr(self, name))

    def set_params(self, **params):
        """Set parameters; after fit, spiking parameters take effect at once.

        Neuron parameters (``threshold``, ``tau``, ...) and ``timesteps`` are
        written into the trained module in place (weights are kept); ``loss``
        and ``tet_lambda`` rebuild the criterion; architecture parameters
        re-initialise module, criterion and optimizer.
        """
        initialized = self.initialized_ and hasattr(self, "module_")
        neuron_changes = {k: v for k, v in params.items() if k in self._neuron_params}
        if initialized and neuron_changes:
            self.neuron_config(**neuron_changes)  # a bad value raises before anything changes
        super().set_params(**params)
        if not initialized:
            return self
        changed = set(params)
        if changed & set(self._architecture_params):
            self.check_params()
            self._initialize_module(reason="an architecture parameter changed")
            self._initialize_criterion()
            self._initialize_optimizer()
            return self
        spiking = [name for name in self._neuron_params + self._spiking_params if name in changed]
        if spiking or changed & set(self._loss_params):
            self.check_params()
        if spiking:
            self._apply_spiking_params(spiking)
        if changed & set(self._loss_params):
            self._initialize_criterion()
        return self

    # -------------------------------------------------------------- outputs
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Loss on the per-timestep outputs ``[T, B, C]`` (TET by default)."""
        out = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        if out.dim() < 3:
            raise ValueError(
                f"{type(self.module_).__name__} must return per-timestep outputs [T, B, C], "
                f"got shape {tuple(out.shape)}")
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def _time_averaged_outputs(self, X) -> np.ndarray:
        """Module outputs averaged over time, ``[n_samples, ...]`` (seeded)."""
        chunks = []
        with self._seeded(offset=1):
            for out in self.forward_iter(X, training=False):
                out = out[0] if isinstance(out, tuple) else out
                chunks.append(out.float().mean(0))
        return torch.cat(chunks).numpy() if chunks else np.empty((0,))

    def spike_stats(self, X) -> pd.DataFrame:
        """Firing rate of every spiking layer on ``X``.

        One inference pass (:meth:`run_inference`) counted by
        :class:`snnsk.analysis.spike_counts.SpikeCounter`: padded steps of ragged
        sequences are not neuron-steps, an ON/OFF pair is two neurons.

        Returns
        -------
        pandas.DataFrame
            One row per spiking layer (index: the layer's name in the module),
            with columns ``neurons`` (per sample), ``timesteps``, ``spikes``
            (total over all samples) and ``firing_rate`` (spikes per neuron
            per step).
        """
        check_is_fitted(self)
        with SpikeCounter(self.module_) as counter:
            self.run_inference(X)
        return counter.frame()

    def run_inference(self, X, rows=None) -> int:
        """One inference pass over ``X``, for the hooks attached to ``module_``.

        The public protocol that statistics, energy reports and plots use:
        ``X`` is validated as ``predict`` validates it, and the pass is
        seeded from ``random_state`` as prediction is. Attach forward hooks
        (a :class:`~snnsk.analysis.spike_counts.SpikeCounter`, an
        :class:`~snnsk.analysis.opcount.OperationCounter`) to ``module_`` around the
        call; the outputs are not returned.

        Parameters
        ----------
        X : array-like, Dataset or documents
            Input as ``predict`` takes it.
        rows : slice, sequence of int or None, default=None
            Only these samples of the validated input (``None``: all).

        Returns
        -------
        int
            The number of samples that went through the module.
        """
        check_is_fitted(self)
        X = self._validate_predict_input(X)
        if rows is not None:
            n = get_len(X)
            index = np.arange(n)[rows] if isinstance(rows, slice) else np.asarray(rows)
            if index.size and (index.min() < 0 or index.max() >= n):
                raise ValueError(f"rows must index the {n} samples of X (0 to {n - 1}), "
                                 f"got {rows!r}")
            X = multi_indexing(X, index)
        self._forward_for_stats(X)
        return get_len(X)

    def _validate_predict_input(self, X):
        """Hook: check and convert X for prediction (classifiers validate shape)."""
        return X

    def _forward_for_stats(self, X):
        """Hook: one inference pass over validated ``X`` (see :meth:`run_inference`)."""
        self._time_averaged_outputs(X)


class SpikingClassifierMixin(ClassifierMixin):
    """scikit-learn classifier behaviour for a spiking net.

    Validates inputs the scikit-learn way (``n_features_in_``, NaN, sparse,
    dtype, empty data), encodes arbitrary class labels (strings included) to
    integers, predicts from the time-averaged outputs and exposes ``classes_``.
    Subclasses may override :meth:`_validate_X` for non-tabular inputs.
    """

    def _validate_X(self, X, reset: bool):
        return validate_data(self, X, reset=reset, dtype=[np.float32, np.float64]).astype(
            np.float32, copy=False)

    def _validate_predict_input(self, X):
        check_is_fitted(self)
        if is_stream(X):
            return self._streamed(X, reset=False)
        return self._validate_X(X, reset=False)

    def _streamed(self, X, reset: bool, labels=None) -> StreamedSamples:
        """A ``Dataset`` / ``SliceDataset`` X as lazily validated samples (see ``streaming``).

        The first sample goes through the estimator's own array validation,
        which checks it against the fitted input (or, with ``reset``, learns
        ``n_features_in_`` and the input shape from it) and decides the shape
        the module takes; every other sample is checked as it is loaded.
        """
        first = first_sample(X)
        try:
            validated = self._validate_X(first[None], reset=reset)
        except ValueError as exc:
            # the samples after it name themselves as they are loaded: so does the first
            raise ValueError(f"sample 0 of X: {exc}") from None
        return self._streamed_samples(X, first, validated, labels)

    def _streamed_samples(self, X, first, validated, labels) -> StreamedSamples:
        """Hook: the dataset skorch reads, given the first sample, raw and validated as a batch of one.

        Here every sample must have the first one's shape; an estimator whose
        samples differ in size (the SSM's sequences) returns its own kind.
        """
        return StreamedSamples(X, first.shape, validated.shape[1:], labels)

    def _encoded_labels(self, y) -> np.ndarray:
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y contains labels not seen in fit: {unknown[:5].tolist()}")
        return self._label_encoder.transform(y).astype(np.int64)

    def fit(self, X, y=None, **fit_params):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), torch Dataset or SliceDataset
            Arrays, or data that is loaded one batch at a time: a torch
            ``Dataset`` of ``(x, y)`` pairs (with ``y=None``), or skorch's
            ``SliceDataset`` of one (with the labels as ``y``, so that
            scikit-learn's searches can index it fold by fold). Samples are
            validated as they are batched; the classes are read from the
            labels alone (the dataset's ``targets`` attribute when it has one).
        y : array-like of shape (n_samples,)
            Class labels of any type scikit-learn accepts (ints, strings...).

        Returns
        -------
        self
        """
        if is_stream(X):
            y = column_or_1d(stream_labels(X, y), warn=True)
            check_consistent_length(X, y)
            check_classification_targets(y)
            self._label_encoder = LabelEncoder().fit(y)
            self.classes_ = self._label_encoder.classes_
            data = self._streamed(X, reset=True, labels=self._encoded_labels(y))
            return super().fit(data, None, **fit_params)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = self._validate_X(X, reset=True)
        y = column_or_1d(y, warn=True)
        # sequence estimators validate X into a dict of arrays (values and lengths)
        check_consistent_length(next(iter(X.values())) if isinstance(X, dict) else X, y)
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        y_encoded = self._label_encoder.transform(y).astype(np.int64)
        return super().fit(X, y_encoded, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training on ``(X, y)`` without re-initialising (X: as in :meth:`fit`)."""
        if fit_params.get("_routing_method") == "fit":
            # skorch's fit delegates here with data this class already validated and encoded
            return super().partial_fit(X, y, classes, **fit_params)
        if not self.initialized_:
            return self.fit(X, y, **fit_params)
        if is_stream(X):
            labels = self._encoded_labels(column_or_1d(stream_labels(X, y)))
            return super().partial_fit(self._streamed(X, reset=False, labels=labels), None,
                                       **fit_params)
        X = self._validate_X(X, reset=False)
        y_encoded = self._label_encoder.transform(np.asarray(y)).astype(np.int64)
        return super().partial_fit(X, y_encoded, **fit_params)

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy on ``(X, y)``; a Dataset X brings its own labels (``y=None``)."""
        if is_stream(X):
            y = stream_labels(X, y)
        return super().score(X, y, sample_weight=sample_weight)

    def _data_module_kwargs(self):
        return {"n_classes": len(self.classes_)}

    def predict_proba(self, X):
        """Class probabilities: softmax of the outputs averaged over time.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_input(X)
        logits = torch.as_tensor(self._time_averaged_outputs(X))
        nonlin = self.predict_nonlinearity
        if nonlin == "auto":
            proba = torch.softmax(logits, dim=-1)
        elif nonlin is None:
            proba = logits
        else:
            proba = nonlin(logits)
        return to_numpy(proba)

    def predict(self, X):
        """Most likely class label for each sample."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.non_deterministic = False
        return tags
