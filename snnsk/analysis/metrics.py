"""Spike statistics, operation counts and energy estimates, and scorers that select on them.

* :func:`spike_report` — per layer of a fitted estimator on ``X``: neurons,
  timesteps, spikes, firing rate, synaptic operations, MACs, the dense
  equivalent and the estimated energy, plus a total row.
  :func:`module_spike_report` does the same for a plain ``nn.Module``.
* :func:`firing_rate_scorer`, :data:`energy_scorer` (:func:`make_energy_scorer`
  for other energy figures) — scorers for any scikit-learn search, signed the
  scikit-learn way (greater is better, so they return the negated cost).
* :func:`pareto_refit` — ``GridSearchCV(refit=...)`` that picks, among the
  Pareto-optimal candidates of a multi-metric search, the cheapest one within
  a tolerance of the best accuracy; :func:`pareto_front` lists those candidates.

Energies are in joules. The defaults are the usual 45 nm CMOS figures
(Horowitz, ISSCC 2014) for 32-bit floating point: 0.9 pJ per accumulate,
4.6 pJ per multiply-accumulate. What is counted, and what is not, is described
in :mod:`snnsk.analysis.opcount`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from .._validation import check_real
from .opcount import OperationCounter
from .spike_counts import SpikeCounter

__all__ = ["spike_report", "module_spike_report", "firing_rate_scorer", "energy_scorer",
           "make_energy_scorer", "pareto_refit", "pareto_front", "ACCUMULATE_ENERGY",
           "MAC_ENERGY"]

#: Joules per accumulate (45 nm, 32-bit float add).
ACCUMULATE_ENERGY = 0.9e-12
#: Joules per multiply-accumulate (45 nm, 32-bit float multiply and add).
MAC_ENERGY = 4.6e-12

REPORT_COLUMNS = ("kind", "input", "neurons", "timesteps", "spikes", "firing_rate",
                  "synaptic_ops", "macs", "dense_macs", "energy_j")


# ------------------------------------------------------------------ reports
def _check_energy(name, value) -> float:
    return check_real(name, value, 0, what="a number of joules >= 0")


def check_spiking_estimator(estimator):
    """Raise unless ``estimator`` is a fitted snnsk estimator (one with ``run_inference``)."""
    if not callable(getattr(estimator, "run_inference", None)):
        raise TypeError(f"estimator must be an snnsk spiking estimator (with run_inference), "
                        f"got {type(estimator).__name__}")
    check_is_fitted(estimator)


def _count_estimator(estimator, X, operations: bool):
    check_spiking_estimator(estimator)
    with OperationCounter(estimator.module_, operations=operations) as counter:
        n_samples = estimator.run_inference(X)
    return counter, n_samples


def _report_frame(counter: OperationCounter, accumulate_energy: float,
                  mac_energy: float) -> pd.DataFrame:
    rows = {}
    for name, c in counter.layers.items():
        spiking = c.kind == "spiking"
        rows[name] = {
            "kind": c.kind,
            "input": c.input,
            "neurons": c.neurons if spiking else pd.NA,
            "timesteps": c.timesteps if spiking else pd.NA,
            "spikes": c.spikes if spiking else pd.NA,
            "firing_rate": c.spikes / c.neuron_steps if spiking and c.neuron_steps else np.nan,
            "synaptic_ops": c.synaptic_ops,
            "macs": c.macs,
            "dense_macs": c.dense_macs,
            "energy_j": c.synaptic_ops * accumulate_energy + c.macs * mac_energy,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(REPORT_COLUMNS))
    spiking = [c for c in counter.layers.values() if c.kind == "spiking"]
    neuron_steps = sum(c.neuron_steps for c in spiking)
    total_spikes = sum(c.spikes for c in spiking)
    frame.loc["total"] = {
        "kind": "total", "input": None,
        "neurons": sum(c.neurons for c in spiking), "timesteps": pd.NA,
        "spikes": total_spikes,
        # spikes per neuron per step over all spiking layers (larger layers weigh more)
        "firing_rate": total_spikes / neuron_steps if neuron_steps else np.nan,
        "synaptic_ops": int(frame["synaptic_ops"].sum()), "macs": int(frame["macs"].sum()),
        "dense_macs": int(frame["dense_macs"].sum()), "energy_j": float(frame["energy_j"].sum()),
    }
    for column in ("neurons", "timesteps"):
        frame[column] = frame[column].astype("Int64")
    # Σ|s|: a whole number for binary and ternary spikes, an expected count for 'expected' sampling
    frame["spikes"] = frame["spikes"].astype("Float64")
    for column in ("synaptic_ops", "macs", "dense_macs"):
        frame[column] = frame[column].astype("int64")
    frame["firing_rate"] = frame["firing_rate"].astype("float64")
    frame["energy_j"] = frame["energy_j"].astype("float64")
    frame.index.name = "layer"
    frame.attrs.update(accumulate_energy=accumulate_energy, mac_energy=mac_energy)
    return frame


def spike_report(estimator, X, accumulate_energy: float = ACCUMULATE_ENERGY,
                 mac_energy: float = MAC_ENERGY) -> pd.DataFrame:
    """Spikes, operations and estimated energy of each layer of a fitted estimator on ``X``.

    One inference pass over ``X`` (the same pass as ``estimator.spike_stats``)
    with hooks on the spiking layers and on the layers that do arithmetic:
    ``nn.Linear``, ``nn.Conv1d/2d/3d`` and the products that layers report
    (spiking attention: ``Q Kᵀ`` and ``A V``). See :mod:`snnsk.analysis.opcount` for
    exactly what is counted.

    Parameters
    ----------
    estimator : fitted snnsk estimator
        Any estimator built on :class:`snnsk.estimators.SpikingMixin`.
    X : array-like
        Input as ``predict`` takes it (documents for the language model).
    accumulate_energy : float, default=0.9e-12
        Joules per accumulate (a synaptic operation driven by a spike).
    mac_energy : float, default=4.6e-12
        Joules per multiply-accumulate (a product on real-valued input).

    Returns
    -------
    pandas.DataFrame
        Index ``layer`` (the layer's name in the module; a reported product is
        ``"<module>.<op>"``), in the order the layers ran, then ``"total"``.
        Columns, totals over all of ``X``:

        * ``kind`` — ``'spiking'``, ``'linear'``, ``'conv'``, ``'matmul'`` or ``'total'``;
        * ``input`` — what a counted layer received: ``'spikes'`` (binary),
          ``'real'`` or ``'mixed'`` (over several calls);
        * ``neurons`` (per sample), ``timesteps``, ``spikes`` — spiking layers;
        * ``firing_rate`` — spikes per neuron per step (the total row: over
          all spiking layers together);
        * ``synaptic_ops`` — accumulates driven by spikes (spikes × fan-out);
        * ``macs`` — multiply-accumulates on real-valued input;
        * ``dense_macs`` — the same products done densely: the equivalent
          non-spiking count, at every step the layer ran. (To compare with a
          non-spiking network, report that network: its real forward pass may
          run fewer steps.)
        * ``energy_j`` — ``synaptic_ops * accumulate_energy + macs * mac_energy``.

        ``attrs`` holds ``n_samples`` (rows of validated ``X``: samples, or
        context windows for the language model), ``accumulate_energy`` and
        ``mac_energy``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from snnsk import SpikingMLPClassifier
    >>> from snnsk.analysis.metrics import spike_report
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = SpikingMLPClassifier(max_epochs=2, random_state=0).fit(X / 16, y)
    >>> report = spike_report(clf, X[:100] / 16)
    >>> list(report.index)
    ['linears.0', 'neurons.0', 'readout', 'total']
    """
    accumulate_energy = _check_energy("accumulate_energy", accumulate_energy)
    mac_energy = _check_energy("mac_energy", mac_energy)
    counter, n_samples = _count_estimator(estimator, X, operations=True)
    frame = _report_frame(counter, accumulate_energy, mac_energy)
    frame.attrs["n_samples"] = n_samples
    return frame


def module_spike_report(module: torch.nn.Module, *inputs, accumulate_energy: float = ACCUMULATE_ENERGY,
                        mac_energy: float = MAC_ENERGY) -> pd.DataFrame:
    """:func:`spike_report` for a plain ``nn.Module``: runs ``module(*inputs)`` once.

    The module runs as it is (call ``.eval()`` first for inference
    behaviour), under ``torch.no_grad()``. Columns as in :func:`spike_report`;
    ``attrs`` has no ``n_samples``.
    """
    accumulate_energy = _check_energy("accumulate_energy", accumulate_energy)
    mac_energy = _check_energy("mac_energy", mac_energy)
    with OperationCounter(module) as counter, torch.no_grad():
        module(*inputs)
    return _report_frame(counter, accumulate_energy, mac_energy)


# ------------------------------------------------------------------ scorers
def firing_rate_scorer(estimator, X, y=None) -> float:
    """Minus the firing rate of ``estimator`` on ``X``: a scorer (greater is better).

    The rate is spikes per neuron per step over all spiking layers together
    (the total row of :func:`spike_report`); a network with no spiking layer
    scores 0. ``y`` is ignored.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from snnsk.analysis.metrics import firing_rate_scorer
    >>> scoring = {"accuracy": "accuracy", "firing_rate": firing_rate_scorer}
    """
    check_spiking_estimator(estimator)
    with SpikeCounter(estimator.module_) as counter:
        estimator.run_inference(X)
    return -counter.firing_rate if counter.neuron_steps else 0.0


class _EnergyScorer:
    """Minus the estimated energy per sample, in joules (see :func:`make_energy_scorer`)."""

    def __init__(self, accumulate_energy=ACCUMULATE_ENERGY, mac_energy=MAC_ENERGY):
        self.accumulate_energy = _check_energy("accumulate_energy", accumulate_energy)
        self.mac_energy = _check_energy("mac_energy", mac_energy)

    def __call__(self, estimator, X, y=None) -> float:
        report = spike_report(estimator, X, self.accumulate_energy, self.mac_energy)
        n_samples = report.attrs["n_samples"]
        if not n_samples:
            raise ValueError("X must hold at least one sample to estimate energy per sample")
        return -float(report.loc["total", "energy_j"]) / n_samples

    def __repr__(self):
        return (f"make_energy_scorer(accumulate_energy={self.accumulate_energy!r}, "
                f"mac_energy={self.mac_energy!r})")


def make_energy_scorer(accumulate_energy: float = ACCUMULATE_ENERGY,
                       mac_energy: float = MAC_ENERGY):
    """A scorer returning minus the estimated energy per sample, in joules.

    Parameters
    ----------
    accumulate_energy, mac_energy : float
        Joules per accumulate and per multiply-accumulate (see :func:`spike_report`).

    Returns
    -------
    callable
        ``scorer(estimator, X, y=None) -> float``: ``-energy_j / n_samples``
        from :func:`spike_report` (per context window for the language
        model). Picklable, so it works with ``n_jobs``.
    """
    return _EnergyScorer(accumulate_energy, mac_energy)


#: Minus the estimated energy per sample (joules) with the default 45 nm figures.
energy_scorer = make_energy_scorer()


# ---------------------------------------------------------------- Pareto
def _mean_scores(cv_results, metric: str, role: str) -> np.ndarray:
    if not isinstance(metric, str):
        raise TypeError(f"{role} must be the name of a scoring metric (a str), got {metric!r}")
    key = f"mean_test_{metric}"
    if key not in cv_results:
        found = sorted(k[len("mean_test_"):] for k in cv_results if k.startswith("mean_test_"))
        raise ValueError(f"{role}={metric!r}: cv_results has no {key!r}; the search's scoring "
                         f"must be a dict with that key (metrics found: {found})")
    return np.asarray(cv_results[key], dtype=float)


def _pareto_mask(accuracy: np.ndarray, cost_score: np.ndarray) -> np.ndarray:
    """Candidates no other candidate beats on one score while matching it on the other.

    Both are greater-is-better; candidates with a NaN score are never on the front.
    """
    valid = ~(np.isnan(accuracy) | np.isnan(cost_score))
    acc = np.where(valid, accuracy, -np.inf)
    cost = np.where(valid, cost_score, -np.inf)
    at_least = (acc[:, None] >= acc[None, :]) & (cost[:, None] >= cost[None, :])
    better = (acc[:, None] > acc[None, :]) | (cost[:, None] > cost[None, :])
    dominated = (at_least & better & valid[:, None]).any(axis=0)
    return valid & ~dominated


def pareto_front(cv_results, accuracy: str = "accuracy", cost: str = "energy") -> np.ndarray:
    """Indices of the Pareto-optimal candidates of a multi-metric search, cheapest first.

    Parameters
    ----------
    cv_results : dict
        A search's ``cv_results_``, scored with a dict holding ``accuracy``
        and ``cost``.
    accuracy, cost : str
        Metric names. Both scores are greater-is-better, the scikit-learn way:
        the cost metric is a negated cost such as :data:`energy_scorer`.

    Returns
    -------
    ndarray of int
        Candidates that no other candidate matches on both mean test scores
        while beating it on one, sorted from cheapest to most accurate.
        Candidates with a NaN score (failed fits) are left out.
    """
    acc = _mean_scores(cv_results, accuracy, "accuracy")
    cost_score = _mean_scores(cv_results, cost, "cost")
    front = np.flatnonzero(_pareto_mask(acc, cost_score))
    return front[np.lexsort((-acc[front], -cost_score[front]))]


class _ParetoRefit:
    """``GridSearchCV(refit=...)`` callable; see :func:`pareto_refit`."""

    def __init__(self, accuracy, cost, tolerance):
        for role, name in (("accuracy", accuracy), ("cost", cost)):
            if not isinstance(name, str):
                raise TypeError(f"{role} must be the name of a scoring metric (a str), got {name!r}")
        self.accuracy = accuracy
        self.cost = cost
        self.tolerance = check_real("tolerance", tolerance, 0, what="a number >= 0")

    def __call__(self, cv_results) -> int:
        front = pareto_front(cv_results, self.accuracy, self.cost)
        if not len(front):
            raise ValueError(f"every candidate has a NaN mean test {self.accuracy!r} or "
                             f"{self.cost!r} score; nothing to refit")
        acc = _mean_scores(cv_results, self.accuracy, "accuracy")
        # the slack absorbs rounding in `best - tolerance` (0.95 - 0.01 < 0.94 in floats)
        floor = acc[front].max() - self.tolerance - 1e-12
        # the front is sorted cheapest first, so the first one above the floor is the answer
        return int(next(i for i in front if acc[i] >= floor))

    def __repr__(self):
        return (f"pareto_refit(accuracy={self.accuracy!r}, cost={self.cost!r}, "
                f"tolerance={self.tolerance!r})")


def pareto_refit(accuracy: str = "accuracy", cost: str = "energy", tolerance: float = 0.0):
    """Refit strategy: the cheapest Pareto-optimal candidate within ``tolerance`` of the best accuracy.

    Parameters
    ----------
    accuracy : str, default='accuracy'
        Key of the accuracy metric in the search's ``scoring`` dict.
    cost : str, default='energy'
        Key of the cost metric: a greater-is-better (negated) cost, as
        :data:`energy_scorer`, :func:`firing_rate_scorer` or any scorer made
        with ``make_scorer(..., greater_is_better=False)``.
    tolerance : float, default=0.0
        How much mean test accuracy (absolute, in the metric's units) may be
        given up for a cheaper model; 0 picks the cheapest of the most
        accurate candidates.

    Returns
    -------
    callable
        ``refit(cv_results) -> int`` for ``GridSearchCV(refit=...)``: the
        search's ``best_index_``. Picklable. Raises ``ValueError`` when the
        search has no such metrics or every candidate failed.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from snnsk import SpikingMLPClassifier
    >>> from snnsk.analysis.metrics import energy_scorer, pareto_refit
    >>> search = GridSearchCV(SpikingMLPClassifier(max_epochs=5), {"threshold": [0.5, 1.0]},
    ...                       scoring={"accuracy": "accuracy", "energy": energy_scorer},
    ...                       refit=pareto_refit("accuracy", "energy", tolerance=0.01))
    """
    return _ParetoRefit(accuracy, cost, tolerance)
