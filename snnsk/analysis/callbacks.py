"""skorch callbacks for spiking estimators: firing-rate monitoring, a surrogate sharpness schedule
and a cosine learning-rate schedule over the fit.

Pass them as ``callbacks=[...]`` to any snnsk estimator (or any skorch net
whose module holds spiking layers).
"""

from __future__ import annotations

import math

import pandas as pd
from skorch.callbacks import Callback

from .._validation import check_real, is_int, is_real
from ..core.neurons import set_neuron_params
from .spike_counts import SpikeCounter

__all__ = ["FiringRateMonitor", "SurrogateAlphaSchedule", "CosineLR", "firing_rate_history",
           "SCHEDULES"]

#: Shapes of :class:`SurrogateAlphaSchedule`.
SCHEDULES = ("linear", "exponential")


class FiringRateMonitor(Callback):
    """Record the firing rate of every spiking layer, each epoch, in the net's history.

    The rates are those of the epoch's **training batches**, counted by forward
    hooks while they run: no extra forward pass, so it costs one sum per layer
    per batch. Validation batches are not counted. The weights change during
    the epoch, so the rate is an average over it, not that of the final
    weights (use ``spike_stats`` for those).

    Each epoch's history row gets ``"<key>"``, spikes per neuron per step
    over all spiking layers together, and ``"<key>_<layer>"`` for each layer
    (the layer's name in the module); :func:`firing_rate_history` gathers
    them into a table.

    Parameters
    ----------
    key : str, default='firing_rate'
        Prefix of the history keys.

    Examples
    --------
    >>> from snnsk import SpikingMLPClassifier
    >>> from snnsk.analysis.callbacks import FiringRateMonitor, firing_rate_history
    >>> clf = SpikingMLPClassifier(max_epochs=3, callbacks=[FiringRateMonitor()])
    """

    def __init__(self, key: str = "firing_rate"):
        self.key = key

    def initialize(self):
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty string, got {self.key!r}")
        self.counter_ = None
        return self

    def _stop_counting(self):
        counter, self.counter_ = self.counter_, None
        if counter is not None:
            counter.close()
        return counter

    def on_epoch_begin(self, net, **kwargs):
        self._stop_counting()
        # the counts stay tensors on the spikes' device: no synchronisation per batch
        self.counter_ = SpikeCounter(net.module_).__enter__()
        self.counter_.active = False

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if self.counter_ is not None:
            self.counter_.active = bool(training)

    def on_epoch_end(self, net, **kwargs):
        counter = self._stop_counting()
        if counter is None:
            return
        for name, count in counter.layers.items():
            net.history.record(f"{self.key}_{name}", count.firing_rate)
        if counter.neuron_steps:
            net.history.record(self.key, counter.firing_rate)

    def on_train_end(self, net, **kwargs):
        self._stop_counting()  # also after an interrupted epoch


def firing_rate_history(net, key: str = "firing_rate") -> pd.DataFrame:
    """The per-layer firing rates a :class:`FiringRateMonitor` recorded, one row per epoch.

    Parameters
    ----------
    net : skorch NeuralNet
        A net trained with a :class:`FiringRateMonitor`.
    key : str, default='firing_rate'
        The monitor's ``key``.

    Returns
    -------
    pandas.DataFrame
        Index ``epoch`` (from 1), one column per spiking layer.
    """
    prefix = f"{key}_"
    rows = {row["epoch"]: {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
            for row in net.history}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if frame.empty:
        raise ValueError(f"the history holds no {prefix}* entries: train the net with "
                         f"FiringRateMonitor(key={key!r}) among its callbacks")
    frame.index.name = "epoch"
    return frame


class SurrogateAlphaSchedule(Callback):
    """Sharpen the surrogate gradient over training: ``alpha`` grows from ``start`` to ``stop``.

    A smooth surrogate (small ``alpha``) passes gradient to many neurons and
    trains fast early; a sharp one (large ``alpha``) matches the true spike
    function better late (IM-Loss, NeurIPS 2022; snetx's ``EvolvedAlpha``).
    At the start of epoch ``e`` (from 0) of ``E = epochs``, every LIF gets,
    in place through :func:`snnsk.core.neurons.set_neuron_params` (layers that list
    ``alpha`` in ``fixed`` keep theirs),

    * ``'linear'``: ``start + (stop - start) * e / (E - 1)``;
    * ``'exponential'``: ``start * (stop / start) ** (e / (E - 1))``;

    and ``stop`` once ``e >= E - 1`` (further epochs, ``partial_fit``). The
    value is recorded in the history under ``key``. The estimator's own
    ``alpha`` parameter is left alone (as skorch's ``LRScheduler`` leaves
    ``lr``), so ``clone`` gives the unscheduled estimator.

    Parameters
    ----------
    start : float, default=1.0
        ``alpha`` of the first epoch (> 0).
    stop : float, default=4.0
        ``alpha`` of the last scheduled epoch (> 0).
    epochs : int or None, default=None
        Epochs over which alpha grows; ``None`` takes the net's ``max_epochs``.
    schedule : {'linear', 'exponential'}, default='linear'
    key : str, default='alpha'
        History key of the value in effect during each epoch.

    Examples
    --------
    >>> from snnsk import SpikingMLPClassifier
    >>> from snnsk.analysis.callbacks import SurrogateAlphaSchedule
    >>> clf = SpikingMLPClassifier(max_epochs=20,
    ...                            callbacks=[SurrogateAlphaSchedule(start=2.0, stop=8.0)])
    """

    def __init__(self, start: float = 1.0, stop: float = 4.0, epochs: int | None = None,
                 schedule: str = "linear", key: str = "alpha"):
        self.start = start
        self.stop = stop
        self.epochs = epochs
        self.schedule = schedule
        self.key = key

    def initialize(self):
        check_real("start", self.start, 0, low_open=True, what="a positive number")
        check_real("stop", self.stop, 0, low_open=True, what="a positive number")
        epochs = self.epochs
        if epochs is not None and (not is_int(epochs) or epochs < 1):
            raise ValueError(f"epochs must be None or an integer >= 1, got {epochs!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        return self

    def alpha_at(self, epoch: int, epochs: int) -> float:
        """``alpha`` for epoch ``epoch`` (from 0) of a schedule over ``epochs`` epochs."""
        start, stop = float(self.start), float(self.stop)
        progress = min(epoch / (epochs - 1), 1.0) if epochs > 1 else 1.0
        if self.schedule == "linear":
            return start + (stop - start) * progress
        return start * (stop / start) ** progress

    def on_epoch_begin(self, net, **kwargs):
        # the net has already opened this epoch's history row
        epoch = len(net.history) - 1
        alpha = self.alpha_at(epoch, self.epochs or net.max_epochs)
        set_neuron_params(net.module_, alpha=alpha)
        net.history.record(self.key, alpha)


class CosineLR(Callback):
    """Cosine decay of the learning rate over the whole fit, stepped every training batch.

    At training batch ``i`` of ``n = max_epochs × batches per epoch``, every
    parameter group gets ``lr₀ · (1 + cos(π · i / n)) / 2`` (after an optional
    linear warm-up over the first ``warmup · n`` batches), so the rate reaches
    zero with the last batch however many epochs the fit has: a budget-aware
    search (``HalvingGridSearchCV(resource='max_epochs')``) judges every
    candidate on a fully annealed model. ``lr₀`` is each group's rate when
    the fit starts, and is put back when it ends, so a following
    ``partial_fit`` anneals again from it.

    skorch's ``LRScheduler`` with ``CosineAnnealingLR`` needs the number of
    steps when it is built; this one counts them from the data and
    ``max_epochs`` at the start of each fit (the first epoch's batch count
    replaces the estimate once known, which matters with a validation split).

    Parameters
    ----------
    warmup : float, default=0.0
        Fraction of the batches over which the rate rises linearly from 0.

    Examples
    --------
    >>> from snnsk import SpikingMLPClassifier
    >>> from snnsk.analysis.callbacks import CosineLR
    >>> clf = SpikingMLPClassifier(max_epochs=10, callbacks=[CosineLR(warmup=0.05)])
    """

    def __init__(self, warmup: float = 0.0):
        self.warmup = warmup

    def initialize(self):
        w = self.warmup
        if not is_real(w) or not 0 <= w < 1:
            raise ValueError(f"warmup must be a number in [0, 1), got {w!r}")
        return self

    def factor(self, step: int, total: int) -> float:
        """The multiplier of the initial rate at training batch ``step`` (from 0) of ``total``."""
        warm = int(self.warmup * total)
        if step < warm:
            return (step + 1) / (warm + 1)
        progress = min((step - warm) / max(1, total - warm), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]
        n = len(net.get_dataset(X, y)) if X is not None else 1
        batch = n if net.batch_size in (None, -1) else net.batch_size
        self.total_ = max(1, math.ceil(n / batch) * net.max_epochs)
        self.step_ = 0
        self.epoch_batches_ = None

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        factor = self.factor(self.step_, self.total_)
        for group, base in zip(net.optimizer_.param_groups, self.base_lrs_):
            group["lr"] = base * factor
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        if self.epoch_batches_ is None:
            # the real batches per epoch (a validation split takes some of the data)
            self.epoch_batches_ = self.step_
            self.total_ = max(1, self.epoch_batches_ * net.max_epochs)

    def on_train_end(self, net, **kwargs):
        for group, base in zip(net.optimizer_.param_groups, getattr(self, "base_lrs_", [])):
            group["lr"] = base
