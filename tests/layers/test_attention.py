"""Causal self-attention: the mask, the decay, the cache and the non-spiking twin."""

import pytest
import torch

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
    layer = CausalSelfAttention(32, 2, spiking=spiking, decay=decay, threshold=0.25).eval()
    x = torch.randn(3, 2, 10, 32)
    y = x.clone()
    y[:, :, 6:] = torch.randn(3, 2, 4, 32)
    with torch.no_grad():
        a, b = layer(x), layer(y)
    assert torch.equal(a[:, :, :6], b[:, :, :6])
    assert not torch.equal(a[:, :, 6:], b[:, :, 6:])


@pytest.mark.parametrize("spiking", [True, False])
def test_cache_gives_the_same_outputs_as_the_full_sequence(spiking):
    layer = CausalSelfAttention(16, 2, spiking=spiking, decay=True, threshold=0.5).double().eval()
    x = torch.randn(2, 1, 7, 16, dtype=torch.float64)
    cache = KVCache()
    with torch.no_grad():
        full = layer(x)
        first = layer(x[:, :, :4], cache)
        steps = [layer(x[:, :, i:i + 1], cache) for i in range(4, 7)]
    assert len(cache) == 7
    torch.testing.assert_close(torch.cat([first] + steps, dim=2), full, rtol=1e-12, atol=1e-12)


def test_spiking_attention_emits_spikes_before_the_projection():
    layer = CausalSelfAttention(8, 2, threshold=0.5)
    seen = {}
    layer.attention_neuron.register_forward_hook(lambda m, i, o: seen.setdefault("s", o))
    layer.qkv_neuron.register_forward_hook(lambda m, i, o: seen.setdefault("qkv", o))
    layer(torch.randn(4, 2, 5, 8))
    for name in ("s", "qkv"):
        assert set(seen[name].unique().tolist()) <= {0.0, 1.0}


def test_heads_must_divide_embed_dim():
    with pytest.raises(ValueError, match=r"heads \(3\) must divide embed_dim \(16\)"):
        CausalSelfAttention(16, 3)
