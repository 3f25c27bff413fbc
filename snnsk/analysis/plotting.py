"""Plots of spiking activity and of energy-aware model searches.

Each function draws on ``ax`` (a new figure when it is None) and returns the
matplotlib ``Axes``. matplotlib is an optional dependency
(``pip install 'snnsk[plot]'``); nothing here is imported by ``import snnsk``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import check_int, is_int
from .metrics import _mean_scores, check_spiking_estimator, pareto_front
from .spike_counts import SpikeRecorder

__all__ = ["plot_spike_raster", "plot_firing_rates", "plot_pareto_front"]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("snnsk.analysis.plotting needs matplotlib: pip install 'snnsk[plot]'") from exc
    return plt.subplots()[1]


def _first_sample_spikes(estimator, X, sample: int) -> dict:
    """``{layer: spikes [T, neurons]}`` of every spiking layer for row ``sample`` of ``X``."""
    check_spiking_estimator(estimator)
    index = check_int("sample", sample, minimum=0)
    with SpikeRecorder(estimator.module_) as recorder:
        try:
            estimator.run_inference(X, rows=[index])
        except ValueError as exc:
            if str(exc).startswith("rows must index"):
                raise ValueError(f"sample must be an integer index into X, got {sample!r} "
                                 f"({exc})") from None
            raise
    return recorder.spikes


def plot_spike_raster(estimator, X, sample: int = 0, layers=None, ax=None, **scatter_kwargs):
    """Spike raster of one input: a mark at (step, neuron) for every spike.

    Parameters
    ----------
    estimator : fitted snnsk estimator
    X : array-like
        Input as ``predict`` takes it; only row ``sample`` of the validated
        input (a context window for the language model) is run.
    sample : int, default=0
        Which row.
    layers : list of str or None, default=None
        Spiking layers to show (names as in ``spike_stats``); None shows all.
        Layers are stacked bottom-up in the order they ran, each labelled on
        the y axis; every neuron of a layer gets a row (for a sequence model,
        positions × channels).
    ax : matplotlib Axes or None, default=None
    **scatter_kwargs
        Passed to ``Axes.scatter`` (``s``, ``color``...).

    Returns
    -------
    matplotlib.axes.Axes
    """
    spikes = _first_sample_spikes(estimator, X, sample)
    if layers is not None:
        unknown = sorted(set(layers) - set(spikes))
        if unknown:
            raise ValueError(f"layers {unknown} are not spiking layers that ran; "
                             f"known: {list(spikes)}")
        spikes = {name: s for name, s in spikes.items() if name in layers}
    ax = _axes(ax)
    from matplotlib.ticker import MaxNLocator  # after _axes: it reports a missing matplotlib

    style = {"marker": "|", "s": 30, **scatter_kwargs}
    offset, ticks, timesteps = 0, [], 1
    for name, layer_spikes in spikes.items():
        steps, neurons = np.nonzero(layer_spikes.numpy())
        ax.scatter(steps, neurons + offset, label=name, **style)
        ticks.append(offset + layer_spikes.shape[1] / 2)
        offset += layer_spikes.shape[1]
        timesteps = max(timesteps, layer_spikes.shape[0])
        ax.axhline(offset - 0.5, color="0.8", linewidth=0.5)
    ax.set_yticks(ticks, list(spikes))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole
    ax.set_xlim(-0.5, timesteps - 0.5)
    ax.set_ylim(-0.5, max(offset, 1) - 0.5)
    ax.set_xlabel("timestep")
    ax.set_ylabel("neuron, by layer")
    ax.set_title(f"spikes of sample {sample}")
    return ax


def plot_firing_rates(report: pd.DataFrame, ax=None):
    """Horizontal bars of the firing rate of each spiking layer, first layer on top.

    Parameters
    ----------
    report : pandas.DataFrame
        From :func:`snnsk.analysis.metrics.spike_report` (its spiking rows are drawn)
        or from an estimator's ``spike_stats``.
    ax : matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(report, pd.DataFrame) or "firing_rate" not in report:
        raise TypeError("report must be a DataFrame with a 'firing_rate' column, as from "
                        "spike_report or spike_stats")
    rows = report[report["kind"] == "spiking"] if "kind" in report else report.drop(
        index="total", errors="ignore")
    rates = rows["firing_rate"].dropna()
    ax = _axes(ax)
    positions = np.arange(len(rates))
    ax.barh(positions, rates.to_numpy(dtype=float))
    ax.set_yticks(positions, [str(name) for name in rates.index])
    ax.invert_yaxis()
    ax.set_xlabel("firing rate (spikes per neuron per step)")
    return ax


def _params_label(params: dict) -> str:
    return ", ".join(f"{k.split('__')[-1]}={v}" for k, v in params.items())


def plot_pareto_front(cv_results, accuracy: str = "accuracy", cost: str = "energy",
                      best_index=None, annotate: bool = True, ax=None):
    """Accuracy against cost for every candidate of a search, with the Pareto front.

    Parameters
    ----------
    cv_results : dict
        A multi-metric search's ``cv_results_``.
    accuracy, cost : str
        Metric names (keys of the search's ``scoring``). The cost metric is a
        negated cost, the scikit-learn way (:data:`snnsk.analysis.metrics.energy_scorer`);
        it is drawn un-negated, so the cheapest candidates are on the left.
    best_index : int or None, default=None
        Candidate to mark with a star (the search's ``best_index_``).
    annotate : bool, default=True
        Label the front's candidates with their parameters.
    ax : matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.axes.Axes
        Candidates are a scatter; the front (:func:`snnsk.analysis.metrics.pareto_front`)
        is a staircase line, cheapest first.
    """
    acc = _mean_scores(cv_results, accuracy, "accuracy")
    spent = -_mean_scores(cv_results, cost, "cost")
    front = pareto_front(cv_results, accuracy, cost)
    ax = _axes(ax)
    ax.scatter(spent, acc, color="0.6", label="candidates")
    ax.plot(spent[front], acc[front], marker="o", drawstyle="steps-post", label="Pareto front")
    if annotate and "params" in cv_results:
        for i in front:
            ax.annotate(_params_label(cv_results["params"][i]), (spent[i], acc[i]),
                        textcoords="offset points", xytext=(4, -10), fontsize="small")
    if best_index is not None:
        if not is_int(best_index) or not 0 <= best_index < len(acc):
            raise ValueError(f"best_index must be a candidate index (0 to {len(acc) - 1}), "
                             f"got {best_index!r}")
        ax.scatter([spent[best_index]], [acc[best_index]], marker="*", s=200, color="C3",
                   zorder=3, label="selected")
    ax.set_xlabel(f"{cost} (lower is better)")
    ax.set_ylabel(accuracy)
    ax.legend()
    return ax
