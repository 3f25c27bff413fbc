"""Spike reports, operation counts, scorers and the Pareto refit.

Every count is compared with one made by hand (or by brute force) for spikes
that the test fixes: a LIF with ``tau=1`` forgets at once, so it fires exactly
where its input current is >= threshold.
"""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from torch import nn

from snnsk import SpikeDecoderLM, SpikingMLPClassifier
from snnsk.datasets import load_corpus
from snnsk.layers import CausalSelfAttention, causal_linear_attention
from snnsk.analysis.metrics import (energy_scorer, firing_rate_scorer, make_energy_scorer,
                           module_spike_report, pareto_front, pareto_refit, spike_report)
from snnsk.core.neurons import LIF, NeuronConfig, TernaryLIF

AC, MAC = 0.9e-12, 4.6e-12


def memoryless_lif():
    """Fires exactly where the input current is >= 1 (no leak memory, hard reset)."""
    return LIF(tau=1.0, threshold=1.0)


# ------------------------------------------------------------ linear layers
def test_spikes_into_a_linear_cost_fan_out_accumulates_each():
    currents = torch.tensor([[[1.5, 0.0, 2.0, 0.5]],     # t=0: neurons 0 and 2 fire
                             [[0.0, 1.0, 0.0, 0.0]]])    # t=1: neuron 1 fires
    net = nn.Sequential(memoryless_lif(), nn.Linear(4, 3))
    report = module_spike_report(net, currents)
    assert list(report.index) == ["0", "1", "total"]
    neuron, linear = report.loc["0"], report.loc["1"]
    assert (neuron["kind"], neuron["neurons"], neuron["timesteps"], neuron["spikes"]) == ("spiking", 4, 2, 3)
    assert neuron["firing_rate"] == pytest.approx(3 / 8)
    assert linear["input"] == "spikes"
    assert linear["synaptic_ops"] == 3 * 3            # 3 spikes x 3 outputs
    assert linear["macs"] == 0
    assert linear["dense_macs"] == 2 * 4 * 3          # 2 steps x 4 inputs x 3 outputs
    assert linear["energy_j"] == pytest.approx(9 * AC)
    assert report.loc["total", "energy_j"] == pytest.approx(9 * AC)


def test_ternary_spikes_into_a_linear_cost_one_accumulate_each_from_two_neurons_per_entry():
    # memoryless ON/OFF pairs: ON fires where the current is >= 1, OFF where it is <= -1
    currents = torch.tensor([[[1.5, -2.0, 0.0, 0.5]],    # t=0: +1, -1, 0, 0
                             [[-1.0, 1.0, 0.0, -0.5]]])  # t=1: -1, +1, 0, 0
    net = nn.Sequential(TernaryLIF(tau=1.0, threshold=1.0), nn.Linear(4, 3))
    report = module_spike_report(net, currents)
    neuron, linear = report.loc["0"], report.loc["1"]
    assert (neuron["neurons"], neuron["timesteps"], neuron["spikes"]) == (8, 2, 4)
    assert neuron["firing_rate"] == pytest.approx(4 / 16)
    # an OFF spike subtracts the weight: still one accumulate per output
    assert linear["input"] == "spikes"
    assert linear["synaptic_ops"] == 4 * 3
    assert linear["macs"] == 0 and linear["dense_macs"] == 2 * 4 * 3


def test_real_valued_input_costs_macs_and_energy_figures_are_overridable():
    first = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]]))
    net = nn.Sequential(first, memoryless_lif(), nn.Linear(4, 3))
    # currents [1, 0.5, 1.5, -1]: neurons 0 and 2 fire
    report = module_spike_report(net, torch.tensor([[[1.0, 0.5]]]), accumulate_energy=1.0,
                                 mac_energy=10.0)
    assert report.loc["0", "input"] == "real"
    assert (report.loc["0", "macs"], report.loc["0", "synaptic_ops"]) == (2 * 4, 0)
    assert report.loc["1", "spikes"] == 2
    assert report.loc["2", "synaptic_ops"] == 2 * 3
    total = report.loc["total"]
    assert (total["synaptic_ops"], total["macs"], total["dense_macs"]) == (6, 8, 8 + 12)
    assert total["energy_j"] == 6 * 1.0 + 8 * 10.0
    assert total["firing_rate"] == pytest.approx(2 / 4)


def test_a_network_that_never_spikes_costs_zero_accumulates():
    net = nn.Sequential(nn.Linear(5, 6), LIF(threshold=1e6), nn.Linear(6, 4), LIF(threshold=1e6),
                        nn.Linear(4, 2))
    x = torch.randn(3, 7, 5)  # [T, B, features]
    report = module_spike_report(net, x)
    assert report.loc["total", "spikes"] == 0
    assert report.loc["total", "firing_rate"] == 0
    assert report.loc["total", "synaptic_ops"] == 0
    # only the first layer, reading real input, costs anything
    assert report.loc["total", "macs"] == 3 * 7 * 5 * 6
    assert report.loc["total", "energy_j"] == pytest.approx(3 * 7 * 5 * 6 * MAC)


# ------------------------------------------------------------- convolutions
def spike_image(shape, positions):
    x = torch.zeros(shape)
    for index in positions:
        x[index] = 1.0
    return x


@pytest.mark.parametrize("conv, x, expected_ops, expected_dense", [
    # 3x3, padding 1 on 4x4: a corner spike reaches 2x2 outputs, the centre 3x3, an edge 2x3;
    # (4 + 9 + 6) positions x 4 output channels
    (nn.Conv2d(1, 4, 3, padding=1),
     spike_image((1, 1, 4, 4), [(0, 0, 0, 0), (0, 0, 1, 1), (0, 0, 0, 2)]), 19 * 4, 16 * 4 * 9),
    # stride 2 (2x2 outputs): along an axis input 0 reaches 1 output, 1 reaches 2, 2 and 3 reach 1;
    # (2*2 + 1*1 + 1*1) positions x 2 channels
    (nn.Conv2d(1, 2, 3, stride=2, padding=1),
     spike_image((1, 1, 4, 4), [(0, 0, 1, 1), (0, 0, 0, 0), (0, 0, 3, 2)]), 6 * 2, 4 * 2 * 9),
    # groups=2: a spike feeds only the 2 output channels of its group
    (nn.Conv2d(2, 4, 1, groups=2),
     spike_image((1, 2, 2, 2), [(0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 1, 1)]), 3 * 2, 4 * 4 * 1),
    # 1-d, kernel 2, no padding, length 5 -> 4 outputs; input 0 reaches 1, input 2 reaches 2
    (nn.Conv1d(1, 3, 2), spike_image((1, 1, 5), [(0, 0, 0), (0, 0, 2)]), 3 * 3, 4 * 3 * 2),
    # circular padding: a spike at 0 is also read by the last output through the wrap
    (nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular"),
     spike_image((1, 1, 4), [(0, 0, 0)]), 3, 4 * 3),
])
def test_spikes_into_a_convolution_cost_the_outputs_they_reach(conv, x, expected_ops, expected_dense):
    row = module_spike_report(conv, x).loc["total"]
    assert (row["synaptic_ops"], row["macs"], row["dense_macs"]) == (expected_ops, 0, expected_dense)


def test_real_input_into_a_convolution_costs_dense_macs():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    row = module_spike_report(conv, torch.full((1, 2, 4, 4), 0.5)).loc[""]
    assert (row["input"], row["synaptic_ops"], row["macs"]) == ("real", 0, 16 * 3 * 2 * 9)


class SpikingConv(nn.Module):
    """LIF over [T, B, C, H, W], then a conv with time folded into the batch."""

    def __init__(self):
        super().__init__()
        self.neuron = memoryless_lif()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        spikes = self.neuron(x)
        return self.conv(spikes.flatten(0, 1))


def test_spikes_from_a_lif_into_a_convolution():
    currents = torch.zeros(2, 1, 1, 3, 3)
    currents[0, 0, 0, 1, 1] = 1.2  # centre at t=0: reaches all 9 outputs
    currents[1, 0, 0, 0, 0] = 3.0  # corner at t=1: reaches 4
    currents[1, 0, 0, 2, 2] = 0.9  # below threshold
    report = module_spike_report(SpikingConv(), currents)
    assert report.loc["neuron", "spikes"] == 2
    assert report.loc["conv", "synaptic_ops"] == (9 + 4) * 2


# ---------------------------------------------------------------- attention
class Attend(nn.Module):
    def __init__(self, decay=None):
        super().__init__()
        self.decay = decay

    def forward(self, q, k, v):
        return causal_linear_attention(q, k, v, scale=0.5, decay=self.decay)


def hand_attention_inputs():
    # the example of tests/layers/test_attention.py: q0 = [1, 0], q1 = [1, 1]; k0 = [1, 1],
    # k1 = [0, 1]; v0 = [1, 0], v1 = [0, 1]
    q = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    k = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    v = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    return q, k, v


def test_spike_attention_costs_one_accumulate_per_coactive_pair():
    report = module_spike_report(Attend(), *hand_attention_inputs())
    scores, values = report.loc["scores"], report.loc["values"]
    # visible (query, key): (0,0) shares 1 active channel, (1,0) shares 2, (1,1) shares 1;
    # (0,1) is masked and costs nothing
    assert (scores["kind"], scores["input"], scores["synaptic_ops"], scores["macs"]) == \
        ("matmul", "spikes", 4, 0)
    assert scores["dense_macs"] == 3 * 2          # 3 visible scores x 2 channels
    # A = [[1, 0], [2, 1]]: each of its 3 nonzero entries meets 1 active value channel
    assert (values["synaptic_ops"], values["macs"], values["dense_macs"]) == (3, 0, 2 * 2 * 2)


def test_decayed_attention_adds_one_multiply_per_nonzero_score():
    report = module_spike_report(Attend(torch.tensor([0.5], dtype=torch.float64)),
                                 *hand_attention_inputs())
    assert (report.loc["scores", "synaptic_ops"], report.loc["scores", "macs"]) == (4, 3)
    assert report.loc["values", "synaptic_ops"] == 3


def test_attention_counts_match_brute_force_on_random_spikes():
    generator = torch.Generator().manual_seed(3)
    q, k, v = ((torch.rand(2, 2, 5, 3, generator=generator) < 0.4).float() for _ in range(3))
    report = module_spike_report(Attend(), q, k, v)
    score_pairs = value_pairs = 0
    for b, h, i, j in itertools.product(range(2), range(2), range(5), range(5)):
        if j > i:
            continue  # causal
        shared = int((q[b, h, i] * k[b, h, j]).sum())
        score_pairs += shared
        if shared:  # a nonzero score meets every active channel of value j
            value_pairs += int(v[b, h, j].sum())
    assert report.loc["scores", "synaptic_ops"] == score_pairs
    assert report.loc["values", "synaptic_ops"] == value_pairs


def test_attention_layer_rows_follow_the_spikes_that_feed_them():
    layer = CausalSelfAttention(8, 2, neuron=NeuronConfig(threshold=0.25)).eval()
    report = module_spike_report(layer, torch.randn(2, 1, 5, 8))
    assert list(report.index) == ["input_neuron", "qkv", "qkv_neuron", "scores", "values",
                                  "attention_neuron", "proj", "total"]
    assert report.loc["input_neuron", "spikes"] > 0
    assert report.loc["qkv", "synaptic_ops"] == report.loc["input_neuron", "spikes"] * 24
    assert report.loc["proj", "synaptic_ops"] == report.loc["attention_neuron", "spikes"] * 8


def test_softmax_attention_baseline_costs_macs():
    layer = CausalSelfAttention(8, 2, spiking=False).eval()
    report = module_spike_report(layer, torch.randn(1, 1, 3, 8))
    assert report.loc["total", "synaptic_ops"] == 0
    assert report.loc["qkv", "macs"] == 3 * 8 * 24
    assert report.loc["scores", "macs"] == 2 * 6 * 4   # heads x visible scores x head width
    assert report.loc["values", "macs"] == 2 * 3 * 3 * 4
    assert report.loc["proj", "macs"] == 3 * 8 * 8


# --------------------------------------------------------------- estimators
@pytest.fixture
def digits_mlp(small_fitted_mlp, digits):
    return small_fitted_mlp, digits[0][200:240]


def test_estimator_report_agrees_with_spike_stats(digits_mlp):
    clf, X = digits_mlp
    report = spike_report(clf, X)
    stats = clf.spike_stats(X)  # counted by the mixin's own hooks
    assert list(report.index) == ["linears.0", "neurons.0", "linears.1", "neurons.1", "readout",
                                  "total"]
    assert report.attrs["n_samples"] == 40
    for layer in ("neurons.0", "neurons.1"):
        assert report.loc[layer, "spikes"] == stats.loc[layer, "spikes"]
        assert report.loc[layer, "firing_rate"] == pytest.approx(stats.loc[layer, "firing_rate"])
    assert stats.loc["neurons.0", "spikes"] > 0
    # direct encoding: the first layer runs once on the 64 real pixels
    assert report.loc["linears.0", "macs"] == 40 * 64 * 16
    assert report.loc["linears.1", "synaptic_ops"] == stats.loc["neurons.0", "spikes"] * 8
    assert report.loc["readout", "synaptic_ops"] == stats.loc["neurons.1", "spikes"] * 10
    expected = report.loc["total", "synaptic_ops"] * AC + 40 * 64 * 16 * MAC
    assert report.loc["total", "energy_j"] == pytest.approx(expected)


def test_scorers_on_a_silent_network_are_computed_by_hand(digits_mlp):
    clf, X = digits_mlp
    silent = SpikingMLPClassifier(hidden_layer_sizes=(16, 8), max_epochs=1, random_state=0)
    silent.fit(X, np.arange(len(X)) % 3).set_params(threshold=1e6)
    assert firing_rate_scorer(silent, X) == 0
    # only the first layer costs anything: 64 x 16 MACs per sample
    assert energy_scorer(silent, X) == pytest.approx(-64 * 16 * MAC)
    assert make_energy_scorer(accumulate_energy=0, mac_energy=1.0)(silent, X) == -64 * 16
    assert firing_rate_scorer(clf, X) < 0


def test_language_model_report_counts_spiking_attention():
    docs = load_corpus()[:4]
    kwargs = dict(max_epochs=0, embed_dim=8, heads=2, depth=1, context_length=8, random_state=0)
    lm = SpikeDecoderLM(**kwargs).fit(docs)
    report = spike_report(lm, docs[:1])
    attention = "blocks.0.attention"
    assert report.loc[f"{attention}.scores", "input"] == "spikes"
    assert report.loc[f"{attention}.values", "input"] == "spikes"
    assert report.loc[f"{attention}.qkv", "synaptic_ops"] == \
        report.loc[f"{attention}.input_neuron", "spikes"] * 24
    baseline = SpikeDecoderLM(spiking="none", **kwargs).fit(docs)
    base_report = spike_report(baseline, docs[:1])
    assert base_report.loc["total", "synaptic_ops"] == 0
    assert base_report.loc[f"{attention}.scores", "input"] == "real"
    assert firing_rate_scorer(baseline, docs[:1]) == 0


def test_report_rejects_bad_arguments(digits_mlp):
    clf, X = digits_mlp
    with pytest.raises(ValueError, match="accumulate_energy"):
        spike_report(clf, X, accumulate_energy=-1.0)
    with pytest.raises(TypeError, match="mac_energy"):
        spike_report(clf, X, mac_energy="4.6 pJ")
    with pytest.raises(TypeError, match="estimator"):
        spike_report(nn.Linear(2, 2), X)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        spike_report(SpikingMLPClassifier(), X)


# ------------------------------------------------------------ model search
def test_scorers_and_pareto_refit_inside_grid_search(digits):
    X, y = digits
    search = GridSearchCV(
        SpikingMLPClassifier(hidden_layer_sizes=(16,), max_epochs=1, random_state=0),
        {"threshold": [0.3, 3.0]}, cv=2,
        scoring={"accuracy": "accuracy", "energy": energy_scorer, "firing_rate": firing_rate_scorer},
        refit=pareto_refit("accuracy", "energy", tolerance=1.0))
    search.fit(X[:200], y[:200])
    results = search.cv_results_
    assert np.all(results["mean_test_energy"] < 0) and np.all(results["mean_test_firing_rate"] <= 0)
    # a higher threshold fires less, so it scores higher (less negative)
    assert results["mean_test_firing_rate"][1] > results["mean_test_firing_rate"][0]
    # any accuracy is within a tolerance of 1: the refit takes the cheapest candidate
    assert search.best_index_ == int(np.argmax(results["mean_test_energy"]))
    assert search.best_estimator_.threshold == results["params"][search.best_index_]["threshold"]


def constructed_results():
    return {
        "mean_test_accuracy": np.array([0.90, 0.95, 0.94, 0.80, 0.95, np.nan]),
        "mean_test_energy": np.array([-2.0, -5.0, -3.0, -1.0, -6.0, -0.5]),
        "params": [{"c": i} for i in range(6)],
    }


def test_pareto_front_by_hand():
    # 4 is dominated by 1 (same accuracy, dearer); 5 failed (NaN)
    assert pareto_front(constructed_results()).tolist() == [3, 0, 2, 1]


@pytest.mark.parametrize("tolerance, expected", [(0.0, 1), (0.01, 2), (0.05, 0), (0.2, 3)])
def test_pareto_refit_picks_the_cheapest_within_tolerance(tolerance, expected):
    assert pareto_refit("accuracy", "energy", tolerance=tolerance)(constructed_results()) == expected


def test_pareto_refit_errors_and_pickling():
    with pytest.raises(ValueError, match="tolerance"):
        pareto_refit(tolerance=-0.1)
    with pytest.raises(TypeError, match="accuracy"):
        pareto_refit(accuracy=None)
    with pytest.raises(ValueError, match="mean_test_cost.*metrics found"):
        pareto_refit("accuracy", "cost")(constructed_results())
    failed = {"mean_test_accuracy": np.array([np.nan]), "mean_test_energy": np.array([-1.0])}
    with pytest.raises(ValueError, match="NaN"):
        pareto_refit()(failed)
    refit = pickle.loads(pickle.dumps(pareto_refit(tolerance=0.01)))
    assert refit(constructed_results()) == 2
    scorer = pickle.loads(pickle.dumps(make_energy_scorer(mac_energy=1e-12)))
    assert scorer.mac_energy == 1e-12


def test_sequence_model_report_counts_samples_not_dict_keys():
    # the sequence model validates X into a dict {x, lengths}: n_samples must be its rows
    from snnsk import SpikingSSMClassifier
    from snnsk.datasets import load_sequential_digits
    X, y = load_sequential_digits()
    clf = SpikingSSMClassifier(embed_dim=8, depth=1, d_state=4, max_epochs=1,
                               random_state=0).fit(X[:60], y[:60])
    report = spike_report(clf, X[:30])
    assert report.attrs["n_samples"] == 30
    assert energy_scorer(clf, X[:30]) == pytest.approx(-report.loc["total", "energy_j"] / 30)
