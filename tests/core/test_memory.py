"""Spikes saved for backward as int8 (snnsk.core.memory)."""

import numpy as np
import pytest
import torch
from torch import nn

from snnsk.core.losses import TETLoss
from snnsk.core.memory import compact_saved_spikes, mark_spikes, saved_activation_bytes
from snnsk.models.spikformer import SpikingViT
from snnsk.core.neurons import LIF, NeuronConfig, SpikingLayer, TernaryLIF


class SpikesIntoLinear(nn.Module):
    def __init__(self, neuron):
        super().__init__()
        self.neuron = neuron
        self.linear = nn.Linear(5, 4, bias=False)

    def forward(self, x):
        return self.linear(self.neuron(x))


@pytest.mark.parametrize("neuron", [LIF(backend="cpu"), TernaryLIF(backend="cpu", threshold=0.5)],
                         ids=["binary", "ternary"])
def test_saved_bytes_by_hand(neuron):
    """x [T=3, B=2, 5] -> LIF (keeps H: 30 float32) -> Linear(5, 4) (keeps its input, 30 spikes,
    and its weight, 20 float32). The spikes take 4 bytes each, or 1 when compact."""
    torch.manual_seed(0)
    module = SpikesIntoLinear(neuron)
    x = torch.randn(3, 2, 5, requires_grad=True)
    pairs = 2 if isinstance(neuron, TernaryLIF) else 1  # ON and OFF potentials

    def step():
        return module(x).sum()

    kept_h = 4 * 30 * pairs
    assert saved_activation_bytes(step, compact=False) == kept_h + 4 * 30 + 4 * 20
    assert saved_activation_bytes(step, compact=True) == kept_h + 1 * 30 + 4 * 20


def test_real_valued_saved_tensors_are_left_alone():
    linear = nn.Linear(5, 4, bias=False)
    x = torch.randn(6, 5, requires_grad=True)
    assert saved_activation_bytes(lambda: linear(x).sum(), compact=True) == 4 * 30 + 4 * 20


@pytest.mark.parametrize("attention", ["ssa", "sdsa", "qk"])
def test_gradients_are_exactly_those_of_the_plain_graph(attention):
    torch.manual_seed(1)
    model = SpikingViT(10, 1, (8, 8), attention=attention, embed_dim=16, depth=1, heads=2,
                       patch_size=2, neuron=NeuronConfig(threshold=0.5))
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 10, (6,))
    criterion = TETLoss(lamb=1e-3)

    def gradients(compact):
        model.zero_grad()
        if compact:
            with compact_saved_spikes():
                loss = criterion(model(x), y)
        else:
            loss = criterion(model(x), y)
        loss.backward()  # after the block: the packed spikes unpack in backward
        return [p.grad.clone() for p in model.parameters()]

    plain, compact = gradients(False), gradients(True)
    for a, b in zip(plain, compact):
        assert torch.equal(a, b)
    smaller = saved_activation_bytes(lambda: criterion(model(x), y), compact=True)
    assert smaller < saved_activation_bytes(lambda: criterion(model(x), y), compact=False)


def test_blocks_nest_and_outputs_of_other_modules_are_not_recorded():
    linear = nn.Linear(5, 5)
    x = torch.randn(6, 5, requires_grad=True)
    with compact_saved_spikes(), compact_saved_spikes():
        hidden = (linear(x) > 0).float()  # binary, but not a spiking layer's output
        loss = nn.functional.linear(hidden, linear.weight).sum()
    loss.backward()
    assert saved_activation_bytes(
        lambda: nn.functional.linear((linear(x) > 0).float(), linear.weight).sum(),
        compact=True) == saved_activation_bytes(
        lambda: nn.functional.linear((linear(x) > 0).float(), linear.weight).sum(),
        compact=False)


class SpikesFromOneBuffer(SpikingLayer):
    """A spiking layer whose every output lies in the same memory, as when the
    allocator hands a freed output's address to the next layer's output."""

    def __init__(self):
        super().__init__()
        self.buffer = np.zeros(3, np.float32)

    def forward(self, spikes):
        self.buffer[:] = spikes
        return torch.from_numpy(self.buffer)


def test_a_new_output_at_a_freed_outputs_address_is_packed_anew():
    layer, w = SpikesFromOneBuffer(), torch.ones(3, requires_grad=True)
    with compact_saved_spikes():
        first = layer(np.array([1, 0, 0], np.float32))
        loss = (w * first).sum()  # saves the first spikes
        del first
        second = layer(np.array([0, 1, 1], np.float32))  # same storage, other values
        loss = loss + (w * second).sum()
    loss.backward()
    # dL/dw = first + second, each as it was when saved
    torch.testing.assert_close(w.grad, torch.ones(3))


def test_spikes_read_through_a_view_after_the_output_is_dropped_are_packed():
    """A consumer that keeps a reshaped view of spikes whose output tensor object is gone
    (the tokenizer's convolutions read ``x.reshape(T * B, ...)``) still keeps them as int8."""
    neuron, linear = LIF(backend="cpu"), nn.Linear(5, 4, bias=False)
    x = torch.randn(3, 2, 5, requires_grad=True)

    def step():
        flat = neuron(x).reshape(6, 5)  # the output object itself is dropped here
        return linear(flat).sum()

    # H (30 float32) + the spikes (30) + the weight (20 float32)
    assert saved_activation_bytes(step, compact=True) == 4 * 30 + 1 * 30 + 4 * 20


def test_marked_products_of_spikes_are_packed_and_real_inputs_are_not():
    neuron, w = LIF(backend="cpu", threshold=0.5), torch.randn(3, 2, 5, requires_grad=True)
    x = torch.randn(3, 2, 5, requires_grad=True)

    def product(of_spikes):
        def step():
            a = neuron(x)
            b = neuron(x * 2) if of_spikes else torch.relu(x * 2)
            return (mark_spikes(a * b, a, b) * w).sum()  # mul by w keeps a * b
        return step

    spiking, real = product(True), product(False)
    base = 2 * 4 * 30  # the two neurons' potentials, or one potential and the relu's input
    assert saved_activation_bytes(spiking, compact=True) == (
        base + 2 * 1 * 30 + 1 * 30 + 4 * 30)  # a, b, a * b as int8; w
    # with a real factor, a * b stays float; a (int8) and relu's output (float) as usual
    assert saved_activation_bytes(real, compact=True) > saved_activation_bytes(spiking, compact=True)
    with compact_saved_spikes():
        a = neuron(x)
        c = torch.relu(x)
        loss = (mark_spikes(a * c, a, c) * w).sum()  # real values: must not become int8
    loss.backward()
    torch.testing.assert_close(w.grad, (neuron(x) * torch.relu(x)).detach())


def test_views_of_one_storage_share_one_int8_copy():
    """Q, K and V are chunks of one spike tensor: kept once, not once per chunk."""
    neuron = LIF(backend="cpu", threshold=0.5)
    x = torch.randn(3, 2, 12, requires_grad=True)
    w = torch.randn(3, 2, 12, requires_grad=True)  # s * w then keeps s (as int8) and w

    def whole_then_chunks():
        s = neuron(x)
        q, k, v = s.chunk(3, dim=-1)
        return (s * w).sum() + (q * k * v).sum()  # s * w keeps s; the products keep the chunks

    kept = saved_activation_bytes(whole_then_chunks, compact=True)
    without_chunks = saved_activation_bytes(lambda: (neuron(x) * w).sum(), compact=True)
    # the chunk products also keep q * k (float, not marked): one [3, 2, 4] float32 tensor
    assert kept == without_chunks + 4 * 3 * 2 * 4
