"""SpikeMaxPool2d against torch's max-pool: values, gradients (ties included), what it keeps."""

import pytest
import torch
from torch import nn

from snnsk.layers.pool import SpikeMaxPool2d
from snnsk.core.memory import compact_saved_spikes, saved_activation_bytes
from snnsk.core.neurons import LIF


@pytest.mark.parametrize("args", [dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=2), dict(kernel_size=3, stride=1, ceil_mode=True)])
@pytest.mark.parametrize("binary", [True, False], ids=["spikes", "real"])
def test_equals_torch_max_pool(args, binary):
    torch.manual_seed(0)
    x = torch.rand(6, 3, 9, 9)
    if binary:
        x = (x > 0.6).float()  # many ties inside each window
    x = x.contiguous(memory_format=torch.channels_last)
    g = torch.randn_like(nn.MaxPool2d(**args)(x))
    results = []
    for pool in (nn.MaxPool2d(**args), SpikeMaxPool2d(**args)):
        xi = x.clone().requires_grad_()
        y = pool(xi)
        (y * g).sum().backward()
        results.append((y.detach(), xi.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_keeps_no_positions_and_passes_spikes_on_compactly():
    neuron, after = LIF(backend="cpu", threshold=0.3), nn.Conv2d(4, 2, 1, bias=False)
    x = torch.rand(2, 3, 4, 8, 8, requires_grad=True)

    def step(pool):
        def run():
            s = neuron(x).flatten(0, 1)
            return after(pool(s)).sum()
        return run

    torch_bytes = saved_activation_bytes(step(nn.MaxPool2d(2)), compact=True)
    ours = saved_activation_bytes(step(SpikeMaxPool2d(2)), compact=True)
    pooled = 6 * 4 * 4 * 4  # elements of the pooled output
    # torch keeps the positions (int64) and its output for the conv as float; ours neither
    assert torch_bytes - ours == 8 * pooled + (4 - 1) * pooled


def test_return_indices_is_refused():
    with pytest.raises(ValueError, match="indices"):
        SpikeMaxPool2d(2, return_indices=True)


def test_inference_under_compact_block_is_the_plain_pool():
    x = (torch.rand(2, 1, 4, 4) > 0.5).float()
    with compact_saved_spikes(), torch.no_grad():
        assert torch.equal(SpikeMaxPool2d(2)(x), nn.MaxPool2d(2)(x))
