"""TernaryLIF: an ON/OFF pair of LIF neurons per channel, output ON − OFF in {−1, 0, +1}.

Dynamics as in test_neurons.py (decay_input=True, tau=2, v_reset=0):
H[t] = V[t-1] + (X[t] - V[t-1]) / 2, spike when H[t] >= threshold.
"""

import pickle

import pytest
import torch
from torch import nn

from snnsk.core.neurons import (LIF, NeuronConfig, TernaryLIF, input_neuron, set_neuron_params,
                           spiking_layers)

BACKENDS = ["torch", "cpu"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_computed_on_off_spike_train(backend):
    # threshold 0.5. ON sees  1.5, 1.5, -1.5, -1.5: H = 0.75 (spike), 0.75 (spike), -0.75, -1.125
    # OFF sees -1.5, -1.5, 1.5, 1.5:  H = -0.75, -1.125, 0.1875, 0.84375 (spike)
    x = torch.tensor([1.5, 1.5, -1.5, -1.5]).reshape(4, 1)
    out = TernaryLIF(threshold=0.5, backend=backend)(x)
    assert out.flatten().tolist() == [1.0, 1.0, 0.0, -1.0]


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("refractory", [0, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_equals_on_minus_off_and_the_pair_never_fires_together(reset, refractory, backend):
    torch.manual_seed(0)
    x = torch.randn(9, 5, 7) * 2
    params = dict(threshold=0.25, reset=reset, refractory=refractory, backend=backend)
    on, off = LIF(**params)(x), LIF(**params)(-x)
    out = TernaryLIF(**params)(x)
    assert torch.equal(out, on - off)
    assert not torch.any((on == 1) & (off == 1))
    assert set(out.unique().tolist()) == {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_is_the_on_gradient_plus_the_off_gradient(backend):
    torch.manual_seed(1)
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    weight = torch.randn(6, 4, 3, dtype=torch.float64)
    a = x.clone().requires_grad_()
    (TernaryLIF(threshold=0.25, backend=backend)(a) * weight).sum().backward()
    b = x.clone().requires_grad_()
    lif = LIF(threshold=0.25, backend=backend)
    ((lif(b) - lif(-b)) * weight).sum().backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-12, atol=1e-12)
    assert a.grad.abs().sum() > 0


def test_is_a_lif_layer_with_two_populations():
    net = nn.Sequential(nn.Linear(3, 4), TernaryLIF(), nn.Linear(4, 2), LIF())
    layers = dict(spiking_layers(net))
    assert layers["1"].populations == 2 and layers["3"].populations == 1
    set_neuron_params(net, threshold=0.3, reset="soft")
    assert layers["1"].neuron.threshold == 0.3 and layers["1"].neuron.reset == "soft"
    back = pickle.loads(pickle.dumps(layers["1"]))
    assert type(back) is TernaryLIF and back.neuron.threshold == 0.3
    x = torch.randn(4, 2, 4)
    assert torch.equal(back(x), layers["1"](x))


def test_input_neuron_builds_either_code():
    neuron = NeuronConfig(threshold=0.5)
    assert type(input_neuron("binary", neuron)) is LIF
    ternary = input_neuron("ternary", neuron)
    assert type(ternary) is TernaryLIF and ternary.neuron is neuron
    with pytest.raises(ValueError, match="spike_code must be one of binary, ternary, got 'signed'"):
        input_neuron("signed")


@pytest.mark.parametrize("kwargs, match", [
    (dict(v_reset=0.5), r"v_reset <= 0"),
    (dict(return_v=True), "return_v"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TernaryLIF(**kwargs)


def test_a_later_positive_v_reset_is_refused_when_it_is_set():
    layer = TernaryLIF(threshold=0.5)
    with pytest.raises(ValueError, match=r"v_reset <= 0"):
        layer.neuron = layer.neuron.replace(v_reset=0.25)
    net = nn.Sequential(LIF(threshold=0.5), layer)
    with pytest.raises(ValueError, match=r"v_reset <= 0"):
        set_neuron_params(net, v_reset=0.25)
    # all or nothing: the binary layer, which could take it, kept its value too
    assert net[0].neuron.v_reset == 0.0 and layer.neuron.v_reset == 0.0
