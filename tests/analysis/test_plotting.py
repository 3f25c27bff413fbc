"""Plots render without a display and draw what they claim."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from snnsk.analysis.plotting import plot_firing_rates, plot_pareto_front, plot_spike_raster  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def fitted(small_fitted_mlp, digits):
    return small_fitted_mlp, digits[0][200:210]


def saved_png(ax, path):
    ax.figure.savefig(path)
    return path.stat().st_size


def test_raster_has_one_mark_per_spike(fitted, tmp_path):
    clf, X = fitted
    ax = plot_spike_raster(clf, X, sample=1)
    stats = clf.spike_stats(X[1:2])  # counted by the estimator's own hooks
    first, second = (collection.get_offsets() for collection in ax.collections)
    assert len(first) == stats.loc["neurons.0", "spikes"] > 0
    assert len(second) == stats.loc["neurons.1", "spikes"] > 0
    # the 8 neurons of the second layer sit above the 16 of the first
    assert first[:, 1].max() < 16 <= second[:, 1].min() < 24
    assert set(first[:, 0]) <= {0, 1, 2, 3}  # steps
    assert [t.get_text() for t in ax.get_yticklabels()] == ["neurons.0", "neurons.1"]
    assert saved_png(ax, tmp_path / "raster.png") > 0


def test_raster_of_chosen_layers_and_bad_arguments(fitted):
    clf, X = fitted
    ax = plot_spike_raster(clf, X, layers=["neurons.1"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["neurons.1"]
    with pytest.raises(ValueError, match="layers"):
        plot_spike_raster(clf, X, layers=["readout"])
    with pytest.raises(ValueError, match="sample"):
        plot_spike_raster(clf, X, sample=10)


def test_firing_rate_bars_are_the_report_rates(tmp_path):
    report = pd.DataFrame({"kind": ["linear", "spiking", "spiking", "total"],
                           "firing_rate": [np.nan, 0.25, 0.1, 0.2]},
                          index=["fc", "lif1", "lif2", "total"])
    ax = plot_firing_rates(report)
    assert [bar.get_width() for bar in ax.patches] == [0.25, 0.1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["lif1", "lif2"]
    assert saved_png(ax, tmp_path / "rates.png") > 0
    with pytest.raises(TypeError, match="report"):
        plot_firing_rates({"firing_rate": [0.1]})


def test_firing_rates_of_spike_stats(fitted):
    clf, X = fitted
    stats = clf.spike_stats(X)
    ax = plot_firing_rates(stats)
    assert [bar.get_width() for bar in ax.patches] == pytest.approx(list(stats["firing_rate"]))


def test_pareto_plot_draws_the_front_by_hand(tmp_path):
    results = {
        "mean_test_accuracy": np.array([0.90, 0.95, 0.94, 0.80, 0.95]),
        "mean_test_energy": np.array([-2.0, -5.0, -3.0, -1.0, -6.0]),
        "params": [{"threshold": t} for t in (0.5, 1.0, 1.5, 2.0, 2.5)],
    }
    ax = plot_pareto_front(results, best_index=2)
    front = ax.lines[0]
    # candidate 4 is dominated by 1; the front runs cheapest first, costs shown positive
    assert list(front.get_xdata()) == [1.0, 2.0, 3.0, 5.0]
    assert list(front.get_ydata()) == [0.80, 0.90, 0.94, 0.95]
    assert ax.get_xlabel() == "energy (lower is better)"
    assert [t.get_text() for t in ax.texts] == ["threshold=2.0", "threshold=0.5",
                                               "threshold=1.5", "threshold=1.0"]
    assert saved_png(ax, tmp_path / "pareto.png") > 0
    with pytest.raises(ValueError, match="best_index"):
        plot_pareto_front(results, best_index=7)


def test_raster_of_a_sequence_model_runs_one_sample():
    # the sequence model's validated input is a dict of arrays; one row of it is one sequence
    from snnsk import SpikingSSMClassifier
    from snnsk.datasets import load_sequential_digits
    X, y = load_sequential_digits()
    clf = SpikingSSMClassifier(embed_dim=8, depth=1, d_state=4, max_epochs=1,
                               random_state=0).fit(X[:60], y[:60])
    ax = plot_spike_raster(clf, X[:5], sample=3)
    marks = sum(len(collection.get_offsets()) for collection in ax.collections)
    assert marks == clf.spike_stats(X[3:4])["spikes"].sum() > 0
    assert ax.get_xlim() == (-0.5, 63.5)  # positions along the 64-step sequence
    with pytest.raises(ValueError, match="0 to 4"):
        plot_spike_raster(clf, X[:5], sample=5)
