"""Causal self-attention: the mask, the decay, the cache and the non-spiking twin."""

import pytest
import torch
from torch.nn import functional as F

from snnsk.core.neurons import NeuronConfig
from snnsk.layers import (CausalSelfAttention, KVCache, causal_linear_attention, causal_mask,
                          head_decay_rates)


def test_plain_mask_is_zero_above_the_diagonal():
    m = causal_mask(3, 3)
    assert m.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    # two new queries after two cached positions see keys up to their own position
    assert causal_mask(2, 4).tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]


def test_decayed_mask_weights_by_distance():
    m = causal_mask(3, 3, torch.tensor([0.5], dtype=torch.float64))
    assert m[0].tolist() == [[1, 0, 0], [0.5, 1, 0], [0.25, 0.5, 1]]
    rates = head_decay_rates(4)
    assert rates[0] == 0.5 and rates[-1] == pytest.approx(1 - 2 ** -5)
    assert torch.all(rates[1:] > rates[:-1])


def test_linear_attention_by_hand():
    # one head, spikes: q0 = [1, 0], q1 = [1, 1]; k0 = [1, 1], k1 = [0, 1]; v0 = [1, 0], v1 = [0, 1]
    q = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    k = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # scores: row 0 sees k0 only: q0.k0 = 1; row 1: q1.k0 = 2, q1.k1 = 1
    out = causal_linear_attention(q, k, v, scale=0.5)
    assert out.tolist() == [[0.5, 0.0], [1.0, 0.5]]
    decayed = causal_linear_attention(q[None], k[None], v[None], scale=0.5,
                                      decay=torch.tensor([0.5], dtype=torch.float64))
    assert decayed[0].tolist() == [[0.5, 0.0], [0.5, 0.5]]  # q1.k0 = 2 is weighted 0.5


@pytest.mark.parametrize("spiking, decay", [(True, False), (True, True), (False, False)])
def test_future_positions_never_change_the_past(spiking, decay):
    layer = CausalSelfAttention(32, 2, spiking=spiking, decay=decay, neuron=NeuronConfig(threshold=0.25)).eval()
    x = torch.randn(3, 2, 10, 32)
    y = x.clone()
    y[:, :, 6:] = torch.randn(3, 2, 4, 32)
    with torch.no_grad():
        a, b = layer(x), layer(y)
    assert torch.equal(a[:, :, :6], b[:, :, :6])
    assert not torch.equal(a[:, :, 6:], b[:, :, 6:])


@pytest.mark.parametrize("spiking", [True, False])
def test_cache_gives_the_same_outputs_as_the_full_sequence(spiking):
    layer = CausalSelfAttention(16, 2, spiking=spiking, decay=True, neuron=NeuronConfig(threshold=0.5)).double().eval()
    x = torch.randn(2, 1, 7, 16, dtype=torch.float64)
    cache = KVCache()
    with torch.no_grad():
        full = layer(x)
        first = layer(x[:, :, :4], cache)
        steps = [layer(x[:, :, i:i + 1], cache) for i in range(4, 7)]
    assert len(cache) == 7
    torch.testing.assert_close(torch.cat([first] + steps, dim=2), full, rtol=1e-12, atol=1e-12)


def test_spiking_attention_emits_spikes_before_the_projection():
    layer = CausalSelfAttention(8, 2, neuron=NeuronConfig(threshold=0.5))
    seen = {}
    layer.attention_neuron.register_forward_hook(lambda m, i, o: seen.setdefault("s", o))
    layer.qkv_neuron.register_forward_hook(lambda m, i, o: seen.setdefault("qkv", o))
    layer(torch.randn(4, 2, 5, 8))
    for name in ("s", "qkv"):
        assert set(seen[name].unique().tolist()) <= {0.0, 1.0}


def test_heads_must_divide_embed_dim():
    with pytest.raises(ValueError, match=r"heads \(3\) must divide embed_dim \(16\)"):
        CausalSelfAttention(16, 3)


def reference_attention(layer, x):
    """The layer's computation written plainly: torch's Linear, three LayerNorms and a cat,
    the mask of :func:`causal_mask` and the scale applied after the product (the composition
    the layer's fused path must equal)."""
    t, b, n, e = x.shape
    h, d = layer.heads, e // layer.heads
    x = layer.in_norm(x)
    if layer.spiking:
        projected = F.linear(layer.input_neuron(x), layer.qkv.weight, layer.qkv.bias)
        projected = torch.cat([norm(part) for norm, part
                               in zip(layer.qkv_norms, projected.chunk(3, dim=-1))], dim=-1)
        qkv = layer.qkv_neuron(projected)
    else:
        qkv = F.linear(x, layer.qkv.weight, layer.qkv.bias)
    q, k, v = (part.reshape(t, b, n, h, d).transpose(2, 3) for part in qkv.chunk(3, dim=-1))
    if layer.spiking:
        mask = causal_mask(n, n, layer.decay_rates, dtype=x.dtype)
        y = layer.attention_neuron(((q @ k.transpose(-2, -1)) * mask) @ v * layer.scale)
    else:
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(n, n, dtype=torch.bool))
    y = F.linear(y.transpose(2, 3).reshape(t, b, n, e), layer.proj.weight, layer.proj.bias)
    return layer.out_norm(y) if layer.spiking else y


@pytest.mark.parametrize("spiking, decay", [(True, False), (True, True), (False, False)])
def test_layer_equals_its_reference_composition_forward_and_backward(spiking, decay):
    # large enough ([2, 8, 32, 64]) for the products to take the oneDNN path in float32
    layer = CausalSelfAttention(64, 4, spiking=spiking, decay=decay, neuron=NeuronConfig(threshold=0.5)).train()
    x = torch.randn(2, 8, 32, 64, requires_grad=True)
    grad = torch.randn(2, 8, 32, 64)
    outputs = []
    for forward in (layer, lambda inputs: reference_attention(layer, inputs)):
        out = forward(x)
        outputs.append((out, *torch.autograd.grad(out, [x, *layer.parameters()], grad)))
    ours, reference = outputs
    torch.testing.assert_close(ours[0], reference[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(ours[1:], reference[1:]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spiking", [True, False])
def test_a_static_input_equals_the_same_input_repeated_over_time(spiking):
    layer = CausalSelfAttention(16, 2, spiking=spiking, decay=True, neuron=NeuronConfig(threshold=0.25)).eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        repeated = layer(x.expand(3, *x.shape))
        static = layer(x, timesteps=3)
    assert torch.equal(static, repeated)
    with pytest.raises(ValueError, match="needs `timesteps`"):
        layer(x)


def test_linear_attention_equals_the_masked_composition_in_value_and_gradient():
    # the in-place masked products against autograd through the plain formula
    q, k, v = ((torch.rand(3, 2, 4, 10, 8) < 0.4).float().requires_grad_() for _ in range(3))
    grad = torch.randn(3, 2, 4, 10, 8)
    for decay in (None, head_decay_rates(4)):
        ours = causal_linear_attention(q, k, v, 0.3, decay)
        reference = ((q @ k.transpose(-2, -1)) * causal_mask(10, 10, decay)) @ v * 0.3
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
        for a, b in zip(torch.autograd.grad(ours, (q, k, v), grad),
                        torch.autograd.grad(reference, (q, k, v), grad)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_masks_built_under_inference_mode_still_train():
    layer = CausalSelfAttention(8, 2, decay=True, neuron=NeuronConfig(threshold=0.25))
    with torch.inference_mode():
        layer(torch.randn(2, 1, 7, 8))  # builds and caches the mask for this shape
    layer(torch.randn(2, 1, 7, 8, requires_grad=True)).sum().backward()
    assert layer.qkv.weight.grad is not None


def test_under_a_bfloat16_autocast_spike_attention_keeps_float32_and_trains():
    layer = CausalSelfAttention(16, 2, decay=True, neuron=NeuronConfig(threshold=0.25))
    x = torch.randn(2, 3, 9, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, layer(x), rtol=0.05, atol=0.05)
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and layer.qkv.weight.grad is not None
