"""The spike-counting engine: counts by hand, padding masks, ternary pairs, and every reader agreeing."""

import numpy as np
import pytest
import torch
from torch import nn

from snnsk import SpikingSSMClassifier
from snnsk.analysis.callbacks import FiringRateMonitor
from snnsk.layers.ssm import MaskedLIF
from snnsk.analysis.metrics import firing_rate_scorer, spike_report
from snnsk.core.neurons import LIF, TernaryLIF
from snnsk.analysis.spike_counts import SpikeCounter, SpikeRecorder


def test_counts_of_a_known_spike_train_by_hand():
    # a constant 1.5 into LIF(tau=2, threshold=1) fires at steps 1 and 3 of 4: [0, 1, 0, 1]
    net = nn.Sequential(LIF())
    with SpikeCounter(net) as counter:
        net(torch.full((4, 2, 3), 1.5))
    count = counter.layers["0"]
    assert (count.neurons, count.timesteps, count.spikes, count.neuron_steps) == (3, 4, 12.0, 24)
    assert count.firing_rate == 0.5
    assert counter.frame().loc["0"].tolist() == [3, 4, 12.0, 0.5]
    # hooks are gone after the block
    assert not net[0]._forward_hooks


def test_a_ternary_entry_is_two_neurons_and_an_off_spike_counts():
    # ON fires on +1.5 at steps 1 and 3; OFF fires on -1.5 likewise: outputs +1 / -1
    net = nn.Sequential(TernaryLIF(threshold=1.0))
    x = torch.full((4, 1, 2), 1.5)
    x[:, :, 1] = -1.5
    with SpikeCounter(net) as counter:
        out = net(x)
    assert out[:, 0].tolist() == [[0, 0], [1, -1], [0, 0], [1, -1]]
    count = counter.layers["0"]
    assert (count.neurons, count.spikes, count.neuron_steps) == (4, 4.0, 16)
    assert count.firing_rate == 0.25


def test_padded_steps_are_not_neuron_steps():
    layer = MaskedLIF()
    x = torch.full((4, 2, 3), 1.5)
    mask = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    with SpikeCounter(layer) as counter:
        layer(x, mask)
    count = counter.layers[""]
    # sample 0: 4 real steps, 2 spikes per neuron; sample 1: 2 real steps, 1 spike per neuron
    assert (count.spikes, count.neuron_steps) == (9.0, 18)
    assert count.firing_rate == pytest.approx(0.5)


def test_an_inactive_counter_counts_nothing():
    net = nn.Sequential(LIF())
    with SpikeCounter(net) as counter:
        counter.active = False
        net(torch.ones(2, 1, 1))
    assert counter.layers == {} and np.isnan(counter.firing_rate)


def test_recorder_keeps_one_samples_spike_train():
    net = nn.Sequential(nn.Identity(), LIF())
    x = torch.zeros(4, 2, 3)
    x[:, 1] = 1.5
    with SpikeRecorder(net, sample=1) as recorder:
        net(x)
    assert recorder.spikes["1"].tolist() == [[0.0] * 3, [1.0] * 3, [0.0] * 3, [1.0] * 3]


def _ragged(n=24, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.rand(L, 2).astype(np.float32) for L in rng.randint(3, 30, size=n)]
    return X, np.arange(n) % 3


@pytest.mark.parametrize("spiking", ["sampler", "lif"])
def test_every_reader_agrees_on_ragged_sequences(spiking):
    X, y = _ragged()
    clf = SpikingSSMClassifier(embed_dim=8, depth=1, d_state=4, max_epochs=1, batch_size=8,
                               spiking=spiking, threshold=0.3, random_state=0,
                               callbacks=[FiringRateMonitor()], lr=0.0).fit(X, y)
    stats = clf.spike_stats(X)
    report = spike_report(clf, X)
    spiking_rows = report[report["kind"] == "spiking"]
    assert list(spiking_rows.index) == list(stats.index)
    np.testing.assert_allclose(spiking_rows["firing_rate"].to_numpy(float),
                               stats["firing_rate"].to_numpy(float))
    # by hand: each sequence alone, where no step is padding
    by_hand_spikes, by_hand_steps = 0.0, 0
    for x in X:
        with SpikeCounter(clf.module_) as counter:
            clf.run_inference([x])
        for count in counter.layers.values():
            by_hand_spikes += count.spikes
            by_hand_steps += count.neuron_steps
            assert count.neuron_steps == len(x) * count.neurons
    total_rate = by_hand_spikes / by_hand_steps
    assert stats["spikes"].sum() == pytest.approx(by_hand_spikes)
    assert report.loc["total", "firing_rate"] == pytest.approx(total_rate)
    assert -firing_rate_scorer(clf, X) == pytest.approx(total_rate)
    # padding would have lowered the rate: the old numel() rule differs on this input
    padded_steps = sum(max(map(len, X[i:i + 8])) for i in range(0, len(X), 8))
    assert padded_steps * 8 > sum(map(len, X))
    # the monitor counted the training batches by the same rule: a rate, from real steps only
    assert 0 < clf.history[-1, "firing_rate"] < 1


def test_run_inference_takes_rows_and_names_a_bad_one():
    X, y = _ragged(n=9)
    clf = SpikingSSMClassifier(embed_dim=8, depth=1, d_state=4, max_epochs=1,
                               random_state=0).fit(X, y)
    assert clf.run_inference(X) == 9
    assert clf.run_inference(X, rows=[2, 4]) == 2
    assert clf.run_inference(X, rows=slice(1, 4)) == 3
    with pytest.raises(ValueError, match="rows must index the 9 samples of X"):
        clf.run_inference(X, rows=[9])
