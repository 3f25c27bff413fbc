"""Spikformer SSA, Spike-driven SDSA and QKFormer token attention: formulas, spikes, op counts."""

import pytest
import torch

from snnsk.core.neurons import NeuronConfig
from snnsk.layers import (QKTokenAttention, SpikeDrivenSelfAttention, SpikingSelfAttention,
                          vision_attention)
from snnsk.analysis.opcount import OperationCounter

VARIANTS = {"ssa": SpikingSelfAttention, "sdsa": SpikeDrivenSelfAttention, "qk": QKTokenAttention}


def _capture(module, name):
    """Record the input and output of submodule ``name`` on the next forward."""
    seen = {}
    layer = dict(module.named_modules())[name]

    def hook(_module, inputs, output):
        seen["input"], seen["output"] = inputs[0].detach(), output.detach()
    layer.register_forward_hook(hook)
    return seen


def _tokens(t=3, b=2, n=6, e=8, seed=0):
    # residual-stream-like input: small spike counts, dense enough to make every neuron fire
    return torch.randint(0, 3, (t, b, n, e), generator=torch.Generator().manual_seed(seed)).float()


def _heads(x, h):
    t, b, n, e = x.shape
    return x.view(t, b, n, h, e // h).transpose(2, 3)


@pytest.mark.parametrize("name", VARIANTS)
def test_factory_builds_each_variant_and_keeps_the_shape(name):
    layer = vision_attention(name, 8, 2)
    assert isinstance(layer, VARIANTS[name])
    assert layer(_tokens()).shape == (3, 2, 6, 8)


def test_unknown_variant_and_heads_not_dividing_are_refused():
    with pytest.raises(ValueError, match="attention must be one of ssa, sdsa, qk"):
        vision_attention("softmax", 8, 2)
    with pytest.raises(ValueError, match=r"heads \(3\) must divide embed_dim \(8\)"):
        vision_attention("ssa", 8, 3)


def test_ssa_is_q_kT_v_scaled_per_head_without_softmax():
    layer = SpikingSelfAttention(8, 2, scale=0.125).eval()
    qkv = _capture(layer, "qkv_neuron")
    attention = _capture(layer, "attention_neuron")
    layer(_tokens())
    q, k, v = (_heads(part, 2) for part in qkv["output"].chunk(3, dim=-1))
    assert q.sum() > 0 and k.sum() > 0 and v.sum() > 0
    expected = torch.zeros_like(q)
    t, b, h, n, d = q.shape
    for i in range(n):            # independent loop form of (Q Kᵀ) V · s
        for j in range(n):
            weight = (q[..., i, :] * k[..., j, :]).sum(-1, keepdim=True)
            expected[..., i, :] += 0.125 * weight * v[..., j, :]
    torch.testing.assert_close(attention["input"], expected)


def test_sdsa_sums_k_and_v_over_tokens_then_masks_q():
    layer = SpikeDrivenSelfAttention(8, 2).eval()
    qkv = _capture(layer, "qkv_neuron")
    attention = _capture(layer, "attention_neuron")
    projection_input = _capture(layer, "proj.0")
    layer(_tokens())
    q, k, v = (_heads(part, 2) for part in qkv["output"].chunk(3, dim=-1))
    expected_kv = sum(k[..., j:j + 1, :] * v[..., j:j + 1, :] for j in range(k.shape[-2]))
    torch.testing.assert_close(attention["input"], expected_kv)
    kv = attention["output"]
    assert kv.shape == (3, 2, 2, 1, 4)
    merged = (q * kv).transpose(2, 3).reshape(3, 2, 6, 8)
    torch.testing.assert_close(projection_input["input"], merged)


def test_qk_masks_tokens_of_k_by_the_channel_sum_of_q():
    layer = QKTokenAttention(8, 2).eval()
    qk = _capture(layer, "qk_neuron")
    attention = _capture(layer, "attention_neuron")
    projection_input = _capture(layer, "proj.0")
    layer(_tokens())
    q, k = (_heads(part, 2) for part in qk["output"].chunk(2, dim=-1))
    torch.testing.assert_close(attention["input"], q.sum(-1, keepdim=True))
    mask = attention["output"]
    assert mask.shape == (3, 2, 2, 6, 1)
    # threshold 0.5, tau 2: a single active channel in the token's row is enough to fire
    # at the first step, where the membrane starts from rest
    torch.testing.assert_close(mask[0], (q[0].sum(-1, keepdim=True) >= 1).float())
    torch.testing.assert_close(projection_input["input"],
                               (mask * k).transpose(2, 3).reshape(3, 2, 6, 8))


@pytest.mark.parametrize("name", ["ssa", "qk"])
def test_spike_output_where_the_paper_has_spikes(name):
    # 16 tokens: SSA's attention sum must reach its neuron's threshold 0.5 (scale 0.125)
    out = vision_attention(name, 8, 2, neuron=NeuronConfig(threshold=0.1)).eval()(_tokens(n=16))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert out.sum() > 0


def test_sdsa_output_is_real_valued_but_its_attention_product_is_binary():
    layer = SpikeDrivenSelfAttention(8, 2, neuron=NeuronConfig(threshold=0.1)).eval()
    projection_input = _capture(layer, "proj.0")
    out = layer(_tokens())
    assert set(projection_input["input"].unique().tolist()) <= {0.0, 1.0}
    assert not set(out.unique().tolist()) <= {0.0, 1.0}   # membrane shortcut: BN output


def test_attention_neurons_keep_threshold_half_when_the_network_threshold_changes():
    from snnsk.core.neurons import set_neuron_params
    layer = SpikingSelfAttention(8, 2, neuron=NeuronConfig(threshold=1.0))
    set_neuron_params(layer, threshold=2.0)
    assert layer.attention_neuron.neuron.threshold == 0.5
    assert layer.qkv_neuron.neuron.threshold == 2.0 and layer.proj_neuron.neuron.threshold == 2.0


def _attention_dense_macs(name, n_tokens):
    layer = vision_attention(name, 16, 4).eval()
    x = _tokens(t=2, b=1, n=n_tokens, e=16)
    with OperationCounter(layer) as counter, torch.no_grad():
        layer(x)
    products = {key: entry for key, entry in counter.layers.items() if entry.kind == "matmul"}
    assert products, "the attention products must be reported to snnsk.analysis.opcount"
    return sum(entry.dense_macs for entry in products.values()), products


@pytest.mark.parametrize("name, growth", [("ssa", 16), ("sdsa", 4), ("qk", 4)])
def test_attention_cost_grows_quadratically_for_ssa_and_linearly_otherwise(name, growth):
    small, _ = _attention_dense_macs(name, 8)
    large, _ = _attention_dense_macs(name, 32)
    assert large == growth * small


def test_sdsa_synaptic_ops_are_the_co_active_key_value_pairs():
    layer = SpikeDrivenSelfAttention(8, 2, neuron=NeuronConfig(threshold=0.1)).eval()
    qkv = _capture(layer, "qkv_neuron")
    attention = _capture(layer, "attention_neuron")
    with OperationCounter(layer) as counter, torch.no_grad():
        layer(_tokens())
    q, k, v = (_heads(part, 2) for part in qkv["output"].chunk(3, dim=-1))
    kv_pairs = int(((k != 0) & (v != 0)).sum())
    mask_pairs = int(((q != 0) & (attention["output"] != 0)).sum())
    assert counter.layers["kv"].synaptic_ops == kv_pairs > 0
    assert counter.layers["mask"].synaptic_ops == mask_pairs
    t, b, h, n, d = q.shape
    assert counter.layers["kv"].dense_macs == t * b * h * d * n
    assert counter.layers["mask"].dense_macs == t * b * h * n * d


def test_ssa_product_recomputes_the_scores_with_the_compositions_gradients():
    from snnsk.layers.attention import _MaskedAttention
    from snnsk.core.memory import saved_activation_bytes

    g = torch.Generator().manual_seed(3)
    q, k, v = ((torch.rand(2, 3, 2, 7, 4, generator=g) > 0.5).double().requires_grad_()
               for _ in range(3))
    w = torch.randn(2, 3, 2, 7, 4, generator=g, dtype=torch.float64)
    composed = torch.autograd.grad((((q @ k.transpose(-2, -1)) @ v) * w).sum(), (q, k, v))
    fused = torch.autograd.grad((_MaskedAttention.apply(q, k, v, None, False) * w).sum(),
                                (q, k, v))
    for a, b in zip(composed, fused):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert all(a.abs().sum() > 0 for a in fused)
    # no [.., 7, 7] score matrix kept: just Q, K and V
    kept = saved_activation_bytes(lambda: _MaskedAttention.apply(q, k, v, None, False).sum(),
                                  compact=False)
    assert kept == 3 * q.numel() * 8
