"""The oneDNN-backed Linear against torch's own: values, gradients, fallbacks, counting."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from snnsk.layers.dense import ONEDNN_MIN_ELEMENTS, Linear, linear
from snnsk.analysis.opcount import OperationCounter


def _grads(fn, x, weight, bias, grad):
    out = fn(x, weight, bias)
    inputs = [t for t in (x, weight, bias) if t is not None]
    return (out, *torch.autograd.grad(out, inputs, grad))


@pytest.mark.parametrize("shape, bias", [((4, 8, 64, 64), True), ((2048, 256), True),
                                         ((3, 7, 4099), False)])
def test_equals_f_linear_forward_and_backward_in_float32(shape, bias):
    assert torch.Size(shape).numel() >= ONEDNN_MIN_ELEMENTS  # the oneDNN path, not the fallback
    x = torch.randn(*shape, requires_grad=True)
    layer = nn.Linear(shape[-1], 48, bias=bias)
    grad = torch.randn(*shape[:-1], 48)
    ours = _grads(linear, x, layer.weight, layer.bias, grad)
    reference = _grads(F.linear, x, layer.weight, layer.bias, grad)
    torch.testing.assert_close(ours[0], reference[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(ours[1:], reference[1:]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x", [torch.randn(4, 64),  # too small to pay
                               torch.randn(64, 2048, dtype=torch.float64),
                               torch.randn(64, 2048).bfloat16()])
def test_other_inputs_take_f_linear_itself(x):
    layer = nn.Linear(x.shape[-1], 8).to(x.dtype)
    assert torch.equal(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))


def test_a_disabled_onednn_takes_f_linear(monkeypatch):
    x, layer = torch.randn(1024, 64), nn.Linear(64, 32)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    assert torch.equal(linear(x, layer.weight, layer.bias), F.linear(x, layer.weight, layer.bias))


def test_module_is_an_nn_linear_with_the_same_state_and_counts():
    torch.manual_seed(0)
    ours = Linear(64, 32)
    torch.manual_seed(0)
    plain = nn.Linear(64, 32)
    assert isinstance(ours, nn.Linear)
    assert ours.state_dict().keys() == plain.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), plain.parameters()))
    spikes = (torch.rand(2, 1024, 64) < 0.25).float()
    with OperationCounter(ours) as counter:
        ours(spikes)
    row = counter.layers[""]
    assert row.synaptic_ops == int(spikes.sum()) * 32 and row.dense_macs == spikes.numel() * 32


def test_under_a_bfloat16_autocast_the_product_is_bfloat16_and_the_output_float32():
    x = torch.randn(1024, 64, requires_grad=True)
    layer = Linear(64, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
        expected = F.linear(x, layer.weight, layer.bias)  # autocast's own bfloat16 product
    assert y.dtype == torch.float32 and expected.dtype == torch.bfloat16
    torch.testing.assert_close(y, expected.float(), rtol=1e-2, atol=1e-2)
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and layer.weight.grad.dtype == torch.float32
