"""Firing-rate monitoring, the surrogate sharpness schedule and the cosine learning-rate schedule."""

import math

import numpy as np
import pytest
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from snnsk import SpikingMLPClassifier
from snnsk.analysis.callbacks import CosineLR, FiringRateMonitor, SurrogateAlphaSchedule, firing_rate_history
from snnsk.core.neurons import spiking_layers


def small_mlp(**kwargs):
    params = dict(hidden_layer_sizes=(16, 8), threshold=0.3, max_epochs=2, batch_size=50,
                  random_state=0)
    return SpikingMLPClassifier(**{**params, **kwargs})


def test_monitor_matches_spike_stats_when_the_weights_do_not_move(digits):
    X, y = digits[0][:200], digits[1][:200]
    # lr=0: the weights stay put, so each epoch's training batches fire as spike_stats does
    clf = small_mlp(lr=0.0, callbacks=[FiringRateMonitor()]).fit(X, y)
    stats = clf.spike_stats(X)
    rates = firing_rate_history(clf)
    assert list(rates.index) == [1, 2] and list(rates.columns) == ["neurons.0", "neurons.1"]
    assert stats.loc["neurons.0", "firing_rate"] > 0
    for epoch in (1, 2):
        for layer in rates.columns:
            assert rates.loc[epoch, layer] == pytest.approx(stats.loc[layer, "firing_rate"])
    overall = stats["spikes"].sum() / (len(X) * 4 * (16 + 8))
    assert clf.history[-1, "firing_rate"] == pytest.approx(overall)


def test_monitor_skips_validation_batches(digits):
    X, y = digits
    valid = Dataset(X[300:400] * 0 + 1.0, y[300:400])  # all-ones images fire differently
    clf = small_mlp(lr=0.0, max_epochs=1, train_split=predefined_split(valid),
                    callbacks=[FiringRateMonitor(key="rate")])
    clf.fit(X[:200], y[:200])
    expected = clf.spike_stats(X[:200]).loc["neurons.0", "firing_rate"]
    assert clf.spike_stats(X[300:400] * 0 + 1.0).loc["neurons.0", "firing_rate"] != \
        pytest.approx(expected)
    assert clf.history[-1, "rate_neurons.0"] == pytest.approx(expected)
    # hooks removed after the epoch
    assert all(not layer._forward_hooks for _, layer in spiking_layers(clf.module_))


def test_monitor_on_a_silent_network_records_zero(digits):
    X, y = digits[0][:100], digits[1][:100]
    clf = small_mlp(threshold=1e6, max_epochs=1, callbacks=[FiringRateMonitor()]).fit(X, y)
    assert clf.history[-1, "firing_rate"] == 0


def test_firing_rate_history_needs_the_monitor(digits):
    clf = small_mlp(max_epochs=1).fit(digits[0][:100], digits[1][:100])
    with pytest.raises(ValueError, match="FiringRateMonitor"):
        firing_rate_history(clf)


class AlphaSpy(Callback):
    """Reads the alpha the first LIF has while training batches run."""

    def initialize(self):
        self.seen_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.seen_.append(net.module_.neurons[0].neuron.alpha)


@pytest.mark.parametrize("schedule, expected", [("linear", [1.0, 2.0, 3.0, 4.0]),
                                                ("exponential", [1.0, 2.0, 4.0, 8.0])])
def test_alpha_schedule_by_hand(digits, schedule, expected):
    X, y = digits[0][:100], digits[1][:100]
    stop = expected[-1]
    spy = AlphaSpy()
    clf = small_mlp(max_epochs=4, batch_size=100, callbacks=[
        SurrogateAlphaSchedule(start=1.0, stop=stop, schedule=schedule), spy]).fit(X, y)
    assert clf.history[:, "alpha"] == pytest.approx(expected)
    assert spy.seen_ == pytest.approx(expected)  # in effect during the batches, one per epoch
    assert all(layer.neuron.alpha == stop for layer in clf.module_.neurons)
    assert clf.alpha is None  # the estimator's parameter is left alone


def test_alpha_schedule_holds_stop_after_its_epochs(digits):
    X, y = digits[0][:100], digits[1][:100]
    clf = small_mlp(max_epochs=2, callbacks=[SurrogateAlphaSchedule(1.0, 3.0, epochs=3)]).fit(X, y)
    clf.partial_fit(X, y)  # two more epochs
    assert clf.history[:, "alpha"] == pytest.approx([1.0, 2.0, 3.0, 3.0])
    # the geometric midpoint of 2 and 8
    assert np.isclose(SurrogateAlphaSchedule(2.0, 8.0, schedule="exponential").alpha_at(1, 3), 4.0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start=0.0), ValueError, "start"),
    (dict(stop="sharp"), TypeError, "stop"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(schedule="cosine"), ValueError, "schedule"),
])
def test_alpha_schedule_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        SurrogateAlphaSchedule(**kwargs).initialize()


def test_schedules_take_numpy_scalars_and_refuse_numpy_booleans():
    # np.linspace / np.arange grids give numpy scalars
    schedule = SurrogateAlphaSchedule(np.float32(1.0), np.float64(3.0), epochs=np.int64(3)).initialize()
    assert schedule.alpha_at(1, schedule.epochs) == pytest.approx(2.0)
    CosineLR(warmup=np.float32(0.25)).initialize()
    with pytest.raises(TypeError, match="start must be a positive number, got np.True_"):
        SurrogateAlphaSchedule(start=np.True_).initialize()
    with pytest.raises(ValueError, match="epochs must be None or an integer >= 1"):
        SurrogateAlphaSchedule(epochs=np.True_).initialize()
    with pytest.raises(ValueError, match=r"warmup must be a number in \[0, 1\)"):
        CosineLR(warmup=np.False_).initialize()


def test_monitor_rejects_a_bad_key():
    with pytest.raises(ValueError, match="key"):
        FiringRateMonitor(key="").initialize()


class _RecordLR(Callback):
    """Records the first group's learning rate at every training batch."""

    def initialize(self):
        self.lrs_ = []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.lrs_.append(net.optimizer_.param_groups[0]["lr"])


def _fit_with_schedule(digits, schedule, n=100, epochs=3, **kwargs):
    X, y = digits
    record = _RecordLR()
    # the recorder runs after the schedule (callbacks run in order)
    clf = SpikingMLPClassifier(hidden_layer_sizes=(8,), max_epochs=epochs, batch_size=20, lr=0.01,
                               random_state=0, callbacks=[schedule, record], **kwargs)
    return clf.fit(X[:n], y[:n]), record.lrs_


def test_cosine_lr_follows_the_formula_and_comes_back(digits):
    clf, lrs = _fit_with_schedule(digits, CosineLR())
    n = 3 * 5  # 3 epochs of 100 samples in batches of 20
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * i / n)) for i in range(n)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[-1] < 0.01 * 0.02  # annealed by the last batch
    assert clf.optimizer_.param_groups[0]["lr"] == 0.01  # the initial rate is put back


def test_cosine_lr_warms_up_linearly(digits):
    _, lrs = _fit_with_schedule(digits, CosineLR(warmup=0.2))
    # 15 batches, 3 of warm-up: 1/4, 2/4, 3/4 of the rate, then the cosine from the top
    np.testing.assert_allclose(lrs[:4], [0.0025, 0.005, 0.0075, 0.01], rtol=1e-12)


def test_cosine_lr_counts_the_batches_a_validation_split_leaves(digits):
    from skorch.dataset import ValidSplit
    _, lrs = _fit_with_schedule(digits, CosineLR(), train_split=ValidSplit(5))
    # 80 training samples: 4 batches per epoch, 12 in all; the estimate (5 per epoch) is
    # replaced after the first epoch, so the last batch is at step 11 of 12
    assert len(lrs) == 12
    np.testing.assert_allclose(lrs[-1], 0.01 * 0.5 * (1 + math.cos(math.pi * 11 / 12)))


def test_cosine_lr_rejects_a_bad_warmup(digits):
    X, y = digits
    with pytest.raises(ValueError, match="warmup"):
        SpikingMLPClassifier(max_epochs=1, callbacks=[CosineLR(warmup=1.5)]).fit(X[:20], y[:20])
