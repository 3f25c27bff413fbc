"""SpikingSSMClassifier: the probabilistic spiking state-space model as a scikit-learn classifier."""

from __future__ import annotations

import functools

import torch
from skorch import NeuralNet

from .._validation import Boolean, Check, Integer, Options, Real
from ..core.losses import MeanOverTimeLoss
from ..layers.ssm import KERNEL_INITS, SAMPLER_NEURON, SAMPLING_MODES, check_state_size
from ..models.pspikessm import SPIKING_NEURONS, PSpikeSSM
from .base import SpikingClassifierMixin, SpikingMixin
from .sequence_input import check_sequences, pad_sequences
from .streaming import StreamedSequences

__all__ = ["SpikingSSMClassifier", "pad_sequences", "EXPECTED_FAILED_CHECKS"]

_VARIABLE_LENGTH = ("a 2-D X holds univariate sequences, its columns are steps, and a sequence "
                    "of another length is valid input")

#: The scikit-learn estimator checks :class:`SpikingSSMClassifier` fails by design, with the
#: reason: pass ``expected_failed_checks=EXPECTED_FAILED_CHECKS`` to
#: ``sklearn.utils.estimator_checks.check_estimator`` or (``lambda est: EXPECTED_FAILED_CHECKS``)
#: to ``parametrize_with_checks``; since scikit-learn 1.6 expected failures are declared there,
#: not in the estimator's tags. Each of these checks takes the columns of a 2-D X for features,
#: of which the estimator must count ``X.shape[1]`` and refuse any other number.
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": f"n_features_in_ counts channels per step, not X.shape[1]: "
                           f"{_VARIABLE_LENGTH}",
    "check_n_features_in_after_fitting": f"n_features_in_ counts channels per step, and predict "
                                         f"takes X[:, [1]] (sequences of one step): "
                                         f"{_VARIABLE_LENGTH}",
    "check_classifiers_train": f"predict takes X.T (sequences of n_samples steps): "
                               f"{_VARIABLE_LENGTH}",
    "check_estimators_partial_fit_n_features": f"partial_fit takes X[:, :-1] (sequences one step "
                                               f"shorter; a change of channels is refused): "
                                               f"{_VARIABLE_LENGTH}",
}


class SpikingSSMClassifier(SpikingClassifierMixin, SpikingMixin, NeuralNet):
    """Probabilistic spiking state-space model (P-SpikeSSM) sequence classifier.

    Each block samples Bernoulli spikes from probabilities computed by
    normalising the residual stream, filters them with a diagonal
    state-space model (S4D) applied as an FFT convolution over the whole
    sequence (``O(L log L)``, no step-by-step loop), samples again, mixes the
    spikes across neurons and fuses them into the residual (see
    :mod:`snnsk.models.pspikessm`). ``spiking='lif'`` swaps the samplers for
    LIF neurons run along the sequence, the LIF-based variant the paper
    compares against; ``spiking='none'`` for their mean-field value
    ``clamp(p, 0, 1)``, the non-spiking twin (no spikes and no random numbers,
    in training and at inference). A skorch ``NeuralNet``: every skorch parameter (``lr``,
    ``max_epochs``, ``optimizer__*``, ``callbacks``, ``device``...) works.

    Parameters
    ----------
    embed_dim : int, default=128
        Channels of the residual stream (neurons per layer).
    depth : int, default=4
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
    spiking : {'sampler', 'lif', 'none'}, default='sampler'
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
        Where a neuron fires: the cut-off of ``sampling='threshold'``, or the
        LIF firing threshold with ``spiking='lif'``.
    tau, reset, refractory, surrogate, alpha
        LIF parameters, used with ``spiking='lif'``.
    init : {'inv', 'lin'}, default='inv'
        S4D initialisation of the state matrix.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        LIF kernel backend (``spiking='lif'``).
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
    length at prediction may differ from the one seen in fit. X may also be
    a torch ``Dataset`` of ``(sequence, label)`` pairs or skorch's
    ``SliceDataset`` (see :mod:`snnsk.estimators.streaming`): each sequence
    is checked as it is loaded, as an array of one would be, and each batch
    is padded to its longest sequence, so the model is the one the list of
    sequences gives.

    Examples
    --------
    >>> from snnsk import SpikingSSMClassifier
    >>> from snnsk.datasets import load_sequential_digits
    >>> X, y = load_sequential_digits()
    >>> clf = SpikingSSMClassifier(embed_dim=32, depth=1, max_epochs=2, random_state=0)
    >>> clf.fit(X[:200], y[:200]).predict(X[:3]).shape
    (3,)
    """

    _architecture_params = ("embed_dim", "depth", "d_state", "bidirectional", "dropout",
                            "vocab_size", "spiking", "init")
    _base_neuron = SAMPLER_NEURON
    _parameter_constraints = {
        **SpikingMixin._parameter_constraints,
        "embed_dim": Integer(1), "depth": Integer(1), "d_state": Check(check_state_size),
        "bidirectional": Boolean(), "dropout": Real(0.0, 1.0, high_open=True, what="in [0, 1)"),
        "vocab_size": Integer(1, none=True), "spiking": Options(*SPIKING_NEURONS),
        "sampling": Options(*SAMPLING_MODES), "init": Options(*KERNEL_INITS),
        "ssm_lr": Real(0, low_open=True, what="a positive number"),
    }
    _spiking_params = ("sampling",)
    _loss_params = ()

    def __init__(
        self,
        embed_dim=128,
        depth=4,
        d_state=64,
        *,
        bidirectional=False,
        dropout=0.0,
        vocab_size=None,
        spiking="sampler",
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
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         verbose=verbose, **kwargs)
        self.embed_dim = embed_dim
        self.depth = depth
        self.d_state = d_state
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.vocab_size = vocab_size
        self.spiking = spiking
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
    def _validate_X(self, X, reset: bool):
        padded, lengths = check_sequences(X, **self._sequence_checks(reset))
        if reset:
            self.n_features_in_ = 1 if self.vocab_size is not None else padded.shape[-1]
        return {"x": padded, "lengths": lengths}

    def _sequence_checks(self, reset: bool) -> dict:
        """The arguments of :func:`check_sequences` for this estimator (in fit: no channel count yet)."""
        return {"vocab_size": self.vocab_size, "estimator": type(self).__name__,
                "n_features": None if reset else self.n_features_in_}

    def get_params_for(self, prefix):
        """skorch's ``prefix__*`` parameters; training batches are shuffled unless told otherwise.

        The default ``iterator_train__shuffle=True`` is applied here, where the
        training loader takes its arguments, rather than in ``__init__``:
        scikit-learn wants ``__init__`` to store the given parameters and set
        nothing else.
        """
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            params.setdefault("shuffle", True)
        return params

    def _streamed_samples(self, X, first, validated, labels):
        # each sample keeps its own length: checked alone as arrays are, padded per batch
        return StreamedSequences(X, functools.partial(check_sequences,
                                                      **self._sequence_checks(reset=False)),
                                 labels)

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
            self.check_params()
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
