"""SpikingSSMClassifier: the probabilistic spiking state-space model as a scikit-learn classifier."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse
import torch
from skorch import NeuralNet

from ..layers.ssm import SpikeSampler
from ..losses import MeanOverTimeLoss
from ..models.pspikessm import PSpikeSSM
from .base import SpikingClassifierMixin, SpikingMixin

__all__ = ["SpikingSSMClassifier", "pad_sequences"]

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
    if isinstance(X, np.ndarray) and X.dtype != object:
        return X
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    try:
        seqs = [np.asarray(seq) for seq in X]
    except TypeError:
        raise TypeError(f"X must be {_SEQUENCE_FORMS}, got {type(X).__name__}") from None
    for i, seq in enumerate(seqs):
        if seq.dtype == object or not (np.issubdtype(seq.dtype, np.number)
                                       or seq.dtype == np.bool_):
            raise ValueError(f"sequence {i} of X is not numeric (dtype {seq.dtype}); X must be "
                             + _SEQUENCE_FORMS)
    return seqs


def pad_sequences(X, tokens: bool = False):
    """Validate sequence input and right-pad it with zeros.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(n, L)`` or ``(n, L, C)``, or a list of ``(L_i,)`` / ``(L_i, C)``
        sequences of different lengths.
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
            raise ValueError(f"X must be {expected}; got an array of shape {seqs.shape}"
                             + (" (for one sequence, pass [sequence])" if seqs.ndim == 1 else ""))
        if seqs.shape[0] == 0 or seqs.shape[1] == 0:
            raise ValueError(f"X is empty (shape {seqs.shape}); need at least one sample of "
                             "at least one step")
        lengths = np.full(seqs.shape[0], seqs.shape[1], dtype=np.int64)
        padded = seqs
    else:
        if not seqs:
            raise ValueError("X is empty: need at least one sequence")
        ndims = {seq.ndim for seq in seqs}
        if not ndims <= {1, 2} or len(ndims) > 1 or (tokens and ndims != {1}):
            shapes = sorted({seq.shape for seq in seqs}, key=len)[:3]
            expected = "1-D token-id sequences" if tokens else "all (length,) or all (length, channels)"
            raise ValueError(f"the sequences in X must be {expected}; got shapes such as {shapes}")
        channels = {seq.shape[1] for seq in seqs if seq.ndim == 2}
        if len(channels) > 1:
            raise ValueError(f"the sequences in X have different numbers of channels: {sorted(channels)}")
        lengths = np.asarray([seq.shape[0] for seq in seqs], dtype=np.int64)
        if lengths.min() == 0:
            raise ValueError(f"sequence {int(np.argmin(lengths))} of X is empty")
        padded = np.zeros((len(seqs), int(lengths.max())) + seqs[0].shape[1:],
                          dtype=np.result_type(*[seq.dtype for seq in seqs]))
        for i, seq in enumerate(seqs):
            padded[i, :len(seq)] = seq
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


class SpikingSSMClassifier(SpikingClassifierMixin, SpikingMixin, NeuralNet):
    """Probabilistic spiking state-space model (P-SpikeSSM) sequence classifier.

    Each block samples Bernoulli spikes from probabilities computed by
    normalising the residual stream, filters them with a diagonal
    state-space model (S4D) applied as an FFT convolution over the whole
    sequence (``O(L log L)``, no step-by-step loop), samples again, mixes the
    spikes across neurons and fuses them into the residual (see
    :mod:`snnsk.models.pspikessm`). ``neuron='lif'`` swaps the samplers for
    LIF neurons run along the sequence, the LIF-based variant the paper
    compares against; ``neuron='none'`` for their mean-field value
    ``clamp(p, 0, 1)``, the non-spiking twin (no spikes and no random numbers,
    in training and at inference). A skorch ``NeuralNet``: every skorch parameter (``lr``,
    ``max_epochs``, ``optimizer__*``, ``callbacks``, ``device``...) works.

    Parameters
    ----------
    d_model : int, default=128
        Channels of the residual stream (neurons per layer).
    n_layers : int, default=4
        Number of blocks.
    d_state : int, default=64
        State size of each channel's SSM (even).
    bidirectional : bool, default=False
        Non-causal kernels reading the sequence both ways (for whole-sequence
        classification); ``False`` keeps every step causal.
    dropout : float, default=0.0
        Dropout on each block's mixer output.
    vocab_size : int or None, default=None
        Set it when X holds integer token ids in ``[0, vocab_size)`` (e.g.
        ListOps): they are embedded. ``None``: X holds real-valued features.
    neuron : {'sampler', 'lif', 'none'}, default='sampler'
        Stochastic spike sampler (P-SpikeSSM), LIF neurons along the sequence,
        or none: the same network with each sampler replaced by the spike
        probability itself, ``clamp(p, 0, 1)`` (what ``sampling='expected'``
        gives at inference, used in training too), the non-spiking twin that
        the spiking model's accuracy and cost compare against.
    sampling : {'bernoulli', 'expected', 'threshold'}, default='threshold'
        How the samplers spike at inference (training always samples):
        seeded Bernoulli draws, the expected value (not binary), or the
        deterministic ``1[p > threshold]``. Deterministic modes make a
        prediction independent of the batch it is computed in.
    threshold : float, default=0.5
        Cut-off of ``sampling='threshold'``; the firing threshold of
        ``neuron='lif'``.
    tau, reset, refractory, surrogate, alpha
        LIF parameters, used with ``neuron='lif'``.
    init : {'inv', 'lin'}, default='inv'
        S4D initialisation of the state matrix.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        LIF kernel backend (``neuron='lif'``).
    ssm_lr : float, default=1e-3
        Learning rate of the SSM dynamics (``dt`` and ``A``), which also get
        no weight decay, as is usual for SSMs.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, shuffling, dropout and spike sampling (in
        training, and at inference with ``sampling='bernoulli'``).
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=3e-3
        Learning rate of every other parameter.
    max_epochs : int, default=30
    batch_size : int, default=64
    train_split : None or callable, default=None
    verbose : int, default=0
    **kwargs
        Any other skorch ``NeuralNet`` parameter (training batches are
        shuffled unless ``iterator_train__shuffle=False``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Channels per step (1 for univariate or token sequences).
    module_ : PSpikeSSM

    Notes
    -----
    X may be an array ``(n_samples, length)`` or ``(n_samples, length,
    channels)``, or a list of sequences of different lengths, which are
    zero-padded inside; padded steps are masked out of every convolution and
    of the pooling, so padding never changes a prediction. The sequence
    length at prediction may differ from the one seen in fit.

    Examples
    --------
    >>> from snnsk import SpikingSSMClassifier
    >>> from snnsk.datasets import load_sequential_digits
    >>> X, y = load_sequential_digits()
    >>> clf = SpikingSSMClassifier(d_model=32, n_layers=1, max_epochs=2, random_state=0)
    >>> clf.fit(X[:200], y[:200]).predict(X[:3]).shape
    (3,)
    """

    _architecture_params = ("d_model", "n_layers", "d_state", "bidirectional", "dropout",
                            "vocab_size", "neuron", "init")
    _spiking_params = ("threshold", "tau", "reset", "refractory", "surrogate", "alpha", "sampling")
    _loss_params = ()

    def __init__(
        self,
        d_model=128,
        n_layers=4,
        d_state=64,
        *,
        bidirectional=False,
        dropout=0.0,
        vocab_size=None,
        neuron="sampler",
        sampling="threshold",
        threshold=0.5,
        tau=2.0,
        reset="hard",
        refractory=0,
        surrogate="atan",
        alpha=None,
        init="inv",
        backend="auto",
        ssm_lr=1e-3,
        random_state=None,
        module=PSpikeSSM,
        criterion=None,
        optimizer=torch.optim.AdamW,
        lr=3e-3,
        max_epochs=30,
        batch_size=64,
        train_split=None,
        verbose=0,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         verbose=verbose, **kwargs)
        self.d_model = d_model
        self.n_layers = n_layers
        self.d_state = d_state
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.vocab_size = vocab_size
        self.neuron = neuron
        self.sampling = sampling
        self.threshold = threshold
        self.tau = tau
        self.reset = reset
        self.refractory = refractory
        self.surrogate = surrogate
        self.alpha = alpha
        self.init = init
        self.backend = backend
        self.ssm_lr = ssm_lr
        self.random_state = random_state
        self._drop_init_state()

    # ------------------------------------------------------------ validation
    def _check_spiking_params(self):
        super()._check_spiking_params()
        SpikeSampler.check(sampling=self.sampling, threshold=self.threshold)
        lr = self.ssm_lr
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"ssm_lr must be a positive number, got {lr!r}")

    def _validate_X(self, X, reset: bool):
        tokens = self.vocab_size is not None
        padded, lengths = pad_sequences(X, tokens=tokens)
        channels = 1 if tokens else padded.shape[-1]
        if tokens:
            low, high = int(padded.min()), int(padded.max())
            if low < 0 or high >= self.vocab_size:
                raise ValueError(f"token ids must be in [0, vocab_size={self.vocab_size}), "
                                 f"got values from {low} to {high}")
        if reset:
            self.n_features_in_ = channels
        elif channels != self.n_features_in_:
            raise ValueError(f"X has {channels} channels per step, but {type(self).__name__} "
                             f"was fitted with {self.n_features_in_}")
        return {"x": padded, "lengths": lengths}

    # --------------------------------------------------------- module wiring
    def _data_module_kwargs(self):
        return {"n_features": self.n_features_in_, **super()._data_module_kwargs()}

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if self.criterion is None:
            # one readout per sequence: plain cross-entropy
            self.criterion_ = MeanOverTimeLoss(**kwargs)
        else:
            self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def set_params(self, **params):
        """Set parameters (see :meth:`SpikingMixin.set_params`); a new ``ssm_lr`` rebuilds the optimizer."""
        super().set_params(**params)
        if "ssm_lr" in params and self.initialized_ and hasattr(self, "module_"):
            self._check_spiking_params()
            self._initialize_optimizer()
        return self

    def initialize_optimizer(self, triggered_directly=None):
        """The optimizer, with the SSM dynamics in their own group (``ssm_lr``, no weight decay)."""
        ssm_ids = {id(p) for p in self.module_.ssm_parameters()}
        named = [(name, p) for name, p in self.get_all_learnable_params()]
        (groups, *rest), kwargs = self.get_params_for_optimizer(
            "optimizer", [(name, p) for name, p in named if id(p) not in ssm_ids])
        ssm_group = {"params": [p for _, p in named if id(p) in ssm_ids],
                     "lr": self.ssm_lr, "weight_decay": 0.0}
        self.optimizer_ = self.optimizer(list(groups) + [ssm_group], *rest, **kwargs)
        return self
