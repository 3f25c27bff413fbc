"""Batch norm fused into the LIF neuron (snnsk.core.fused_norm) against the two layers composed."""

import copy

import pytest
import torch
from torch import nn

from snnsk.core.fused_norm import apply_norm, time_folded
from snnsk.layers.linear import LinearBN, TokenBatchNorm, fire
from snnsk.core.memory import saved_activation_bytes
from snnsk.core.neurons import LIF

BACKENDS = ["cpu", "torch"]


def _images():
    # [T, B, C, H, W] with channels-last time steps, as the tokenizer's convolutions make them
    x = torch.randn(4, 3, 6, 5, 5) * 2 + 0.5
    return x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (4, 3))


CASES = {
    "image": (lambda: nn.BatchNorm2d(6), _images),
    "tokens": (lambda: TokenBatchNorm(7), lambda: torch.randn(4, 3, 5, 7) * 2 + 0.5),
    "tokens-momentum-None": (lambda: TokenBatchNorm(7, momentum=None),
                             lambda: torch.randn(4, 3, 5, 7) * 2 + 0.5),
}


def _run(neuron, norm, x, fused, weights):
    x = x.detach().clone().requires_grad_()
    spikes = neuron(x, norm=norm) if fused else neuron(apply_norm(norm, x))
    (spikes * weights).sum().backward()
    return spikes.detach(), x.grad, norm.weight.grad, norm.bias.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", CASES)
def test_fused_equals_composition(case, training, backend):
    make_norm, make_x = CASES[case]
    torch.manual_seed(0)
    norm = make_norm()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.2, 0.6)
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    norm.train(training)
    x = make_x()
    weights = torch.randn(x.shape)
    neuron = LIF(tau=2.0, threshold=0.7, surrogate="sigmoid", detach_reset=True, backend=backend)
    composed_norm, fused_norm = norm, copy.deepcopy(norm)
    expected = _run(neuron, composed_norm, x, fused=False, weights=weights)
    got = _run(neuron, fused_norm, x, fused=True, weights=weights)
    assert expected[0].sum() > 0 and (expected[0] == 0).any()  # some neurons fire, some do not
    assert torch.equal(got[0], expected[0])
    assert got[0].shape == x.shape and got[0].stride() == expected[0].stride()
    for g, e in zip(got[1:], expected[1:]):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    # running statistics move exactly as the norm's own forward moves them
    torch.testing.assert_close(fused_norm.running_mean, composed_norm.running_mean, rtol=0, atol=1e-7)
    torch.testing.assert_close(fused_norm.running_var, composed_norm.running_var, rtol=0, atol=1e-7)
    assert fused_norm.num_batches_tracked == composed_norm.num_batches_tracked


def test_one_step_gradient_by_hand():
    """At T = 1 from rest, S = H(norm(x) / tau - threshold) and the sigmoid surrogate's
    gradient is that of the smooth sigma(alpha (norm(x) / tau - threshold)): autograd through
    torch's own batch norm and sigmoid (checked against finite differences) is the reference."""
    torch.manual_seed(1)
    norm = TokenBatchNorm(3).double()
    tau, threshold, alpha = 2.0, 0.5, 4.0
    neuron = LIF(tau=tau, threshold=threshold, surrogate="sigmoid", alpha=alpha, backend="cpu")
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(1, 2, 4, 3, dtype=torch.float64)

    def smooth(z):
        return (torch.sigmoid(alpha * (apply_norm(norm, z) / tau - threshold)) * w).sum()

    grad_fused, = torch.autograd.grad((neuron(x, norm=norm) * w).sum(), x)
    grad_smooth, = torch.autograd.grad(smooth(x), x)
    torch.testing.assert_close(grad_fused, grad_smooth, rtol=1e-10, atol=1e-12)
    assert grad_fused.abs().sum() > 0
    assert torch.autograd.gradcheck(smooth, (x.detach().requires_grad_(),))


def test_fire_keeps_less_for_backward():
    """LinearBN -> LIF -> Linear keeps the norm's input, the statistics and the spikes (once, as
    int8, shared with the next layer), not the neuron's potentials: one float tensor less."""
    torch.manual_seed(0)
    layer, neuron, after = LinearBN(5, 6), LIF(backend="cpu"), nn.Linear(6, 2)
    x = torch.randn(4, 2, 3, 5)

    def composed():
        return after(neuron(layer(x))).sum()

    def fused():
        return after(fire(neuron, layer, x)).sum()

    potentials = 4 * 2 * 3 * 6 * 4  # one [T, B, N, 6] float32 tensor
    assert saved_activation_bytes(composed) - saved_activation_bytes(fused) == potentials


def test_inference_and_hooks_use_the_norm_itself():
    """Without a gradient, or when something hooks the norm, the norm module itself is called."""
    torch.manual_seed(0)
    norm, neuron = TokenBatchNorm(4), LIF(backend="cpu", threshold=0.5)
    unhooked = copy.deepcopy(norm)
    calls = []
    handle = norm.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(2, 3, 4, requires_grad=True)
    neuron(x, norm=norm).sum().backward()
    assert len(calls) == 1 and x.grad is not None
    with torch.no_grad():
        spikes = neuron(x, norm=norm)
        expected = neuron(apply_norm(unhooked, x))
    handle.remove()
    assert len(calls) == 2 and torch.equal(spikes, expected) and spikes.sum() > 0


def test_return_v_with_norm_is_refused():
    with pytest.raises(ValueError, match="return_v"):
        LIF(return_v=True)(torch.randn(2, 3, 4), norm=TokenBatchNorm(4))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_conv_norm_neuron_fused_equals_composition(training):
    """The tokenizer's conv -> BN -> LIF with the conv's output recomputed in backward."""
    torch.manual_seed(2)
    conv, norm = nn.Conv2d(3, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5)
    with torch.no_grad():
        norm.running_var.uniform_(0.5, 2.0)
    norm.train(training)
    neuron = LIF(tau=2.0, threshold=0.6, surrogate="sigmoid", detach_reset=True, backend="cpu")
    x = (torch.rand(4, 2, 3, 6, 6) > 0.5).float()  # spikes, time first
    x = x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (4, 2))
    weights = torch.randn(4, 2, 5, 6, 6)

    def run(fused):
        c, n = copy.deepcopy(conv), copy.deepcopy(norm)
        xi = x.clone().requires_grad_()
        s = neuron(xi, norm=n, layer=c) if fused else neuron(
            apply_norm(n, time_folded(c, xi)))
        (s * weights).sum().backward()
        return s.detach(), xi.grad, c.weight.grad, n.weight.grad, n.bias.grad, n.running_mean

    expected, got = run(False), run(True)
    assert torch.equal(got[0], expected[0]) and 0 < got[0].mean() < 1
    for g, e in zip(got[1:], expected[1:]):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)

    def keeps(fused):
        return saved_activation_bytes(lambda: (neuron(x.requires_grad_(), norm=norm, layer=conv)
                                               if fused else neuron(apply_norm(
                                                   norm, time_folded(conv, x)))).sum())

    # the composition keeps the conv's output and the potentials, the fused form neither
    outputs = 4 * 2 * 5 * 6 * 6 * 4
    assert keeps(False) - keeps(True) >= 2 * outputs - 4 * 2 * 5 * 6 * 6  # less its int8 spikes


def test_layer_without_norm_is_refused():
    with pytest.raises(ValueError, match="only with a norm"):
        LIF()(torch.randn(2, 3, 4), layer=nn.Linear(4, 4))
