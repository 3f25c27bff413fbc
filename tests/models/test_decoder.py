"""SpikeDecoder: shapes, causality, cached generation, variants, errors."""

import pytest
import torch

from snnsk.models import SpikeDecoder
from snnsk.models.decoder import DECODER_NEURON, sinusoidal_table
from snnsk.core.neurons import NeuronConfig, set_neuron_params, spiking_layers

VARIANTS = [(mode, pe, "binary") for mode in ("full", "partial", "none")
            for pe in ("static", "learned")]
VARIANTS += [("full", "static", "ternary"), ("partial", "learned", "ternary")]


def make(mode="full", pe="static", **kw):
    params = dict(embed_dim=32, heads=4, depth=2, timesteps=3, spiking=mode,
                  position_encoding=pe)  # threshold 0.5: the model's default (DECODER_NEURON)
    params.update(kw)
    return SpikeDecoder(40, 12, **params).eval()


def test_binarised_sinusoidal_table():
    table = sinusoidal_table(4, 4, binary=True)
    # position 0: sin 0 = 0 -> 0, cos 0 = 1 -> 1
    assert table[0].tolist() == [0, 1, 0, 1]
    # position 1: sin 1 > 0, cos 1 > 0, sin 0.01 > 0, cos 0.01 > 0
    assert table[1].tolist() == [1, 1, 1, 1]
    # position 2: sin 2 > 0, cos 2 < 0
    assert table[2, :2].tolist() == [1, 0]
    assert torch.allclose(sinusoidal_table(3, 2, binary=False)[:, 0], torch.sin(torch.arange(3.0)))


@pytest.mark.parametrize("mode, pe, spikes", VARIANTS)
def test_changing_a_future_token_never_changes_earlier_logits(mode, pe, spikes):
    model = make(mode, pe, spike_code=spikes)
    ids = torch.randint(3, 40, (4, 12))
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1 - 3) % 37 + 3
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert a.shape == (4, 12, 40)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.equal(a[:, 7:], b[:, 7:])


@pytest.mark.parametrize("mode, pe, spikes", VARIANTS)
def test_cached_generation_equals_uncached_token_for_token(mode, pe, spikes):
    model = make(mode, pe, spike_code=spikes)
    prompt = torch.randint(3, 40, (2, 3))
    # 30 new tokens: the 12-token window fills and restarts several times
    runs = []
    for use_cache in (True, False):
        generator = torch.Generator().manual_seed(7)
        runs.append(model.generate(prompt, 30, generator=generator, use_cache=use_cache))
    assert runs[0].shape == (2, 30)
    assert torch.equal(runs[0], runs[1])


def test_generation_is_seeded_and_respects_banned_and_top_k():
    model = make()
    prompt = torch.randint(3, 40, (1, 4))
    a = model.generate(prompt, 20, generator=torch.Generator().manual_seed(1), banned=(0, 1, 2))
    b = model.generate(prompt, 20, generator=torch.Generator().manual_seed(1), banned=(0, 1, 2))
    assert torch.equal(a, b) and a.min() >= 3
    greedy = model.generate(prompt, 5, temperature=0)
    with torch.no_grad():
        first = model(prompt)[:, -1].argmax(-1)
    assert greedy[0, 0] == first[0]
    top1 = model.generate(prompt, 5, top_k=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(top1, greedy)


def test_variants_differ_in_what_spikes():
    full, partial, none = make("full"), make("partial"), make("none")
    full_names = {name for name, _ in spiking_layers(full)}
    partial_names = {name for name, _ in spiking_layers(partial)}
    assert any("mlp" in n for n in full_names) and not any("mlp" in n for n in partial_names)
    assert any("attention" in n for n in partial_names)
    assert not list(spiking_layers(none))
    assert none.effective_timesteps == 1 and full.effective_timesteps == 3
    # the binary codes of the fully spiking variant are spikes
    codes = full.embed(torch.randint(0, 40, (2, 12)))
    assert set(codes.unique().tolist()) <= {0.0, 1.0}


def test_ternary_code_reads_the_residual_stream_with_on_off_pairs():
    model = make("full", spike_code="ternary")
    ternary = sorted(name for name, layer in spiking_layers(model) if layer.populations == 2)
    assert ternary == ["blocks.0.attention.input_neuron", "blocks.0.mlp.input_neuron",
                       "blocks.1.attention.input_neuron", "blocks.1.mlp.input_neuron",
                       "readout_neuron"]
    seen = {}
    hooks = [model.get_submodule(name).register_forward_hook(
        lambda _m, _i, out, name=name: seen.setdefault(name, out)) for name in
        ("blocks.0.mlp.input_neuron", "blocks.0.attention.qkv_neuron")]
    with torch.no_grad():
        model(torch.randint(3, 40, (4, 12)))
    for hook in hooks:
        hook.remove()
    # the sign of the normalised input is carried by OFF spikes; Q, K, V stay binary
    assert set(seen["blocks.0.mlp.input_neuron"].unique().tolist()) == {-1.0, 0.0, 1.0}
    assert set(seen["blocks.0.attention.qkv_neuron"].unique().tolist()) == {0.0, 1.0}
    # the non-spiking baseline has no neurons to change
    assert not list(spiking_layers(make("none", spike_code="ternary")))


@pytest.mark.parametrize("spikes", ["binary", "ternary"])
def test_gradients_reach_every_parameter_through_the_spikes(spikes):
    model = make("full", "learned", spike_code=spikes).train()
    ids = torch.randint(3, 40, (4, 12))
    loss = torch.nn.functional.cross_entropy(model(ids).reshape(-1, 40), ids.roll(-1, 1).reshape(-1))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_changes_in_place():
    model = make()
    assert all(layer.neuron == DECODER_NEURON for _, layer in spiking_layers(model))
    before = model.head.weight.clone()
    model.timesteps = 5
    set_neuron_params(model, threshold=2.0)
    assert model.effective_timesteps == 5
    assert all(layer.neuron.threshold == 2.0 for _, layer in spiking_layers(model))
    assert torch.equal(model.head.weight, before)


@pytest.mark.parametrize("kwargs, match", [
    (dict(heads=3), r"heads \(3\) must divide embed_dim \(32\)"),
    (dict(spiking="half"), "spiking must be one of"),
    (dict(position_encoding="rope"), "position_encoding must be one of"),
    (dict(depth=0), "depth must be an integer >= 1"),
    (dict(mlp_ratio=0), "mlp_ratio must be a positive number"),
    (dict(spike_code="signed"), "spike_code must be one of binary, ternary"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)


def test_too_long_input_is_an_error():
    with pytest.raises(ValueError, match=r"exceeds context_length \(12\)"):
        make()(torch.zeros(1, 13, dtype=torch.long))


@pytest.mark.parametrize("mode, spikes", [("full", "binary"), ("full", "ternary"), ("none", "binary")])
def test_forward_equals_the_embedding_repeated_before_the_first_block(mode, spikes):
    # the first block normalises the embedding once; the reference repeats it over T first
    model = SpikeDecoder(40, 32, embed_dim=64, heads=4, timesteps=3, spiking=mode,
                         spike_code=spikes, neuron=NeuronConfig(threshold=0.5)).train()
    ids = torch.randint(3, 40, (8, 32))
    grad = torch.randn(8, 32, 40)

    def reference(ids):
        x = model.embed(ids)
        x = x.unsqueeze(0).expand(model.effective_timesteps, *x.shape)
        for block in model.blocks:
            x = x + block.attention(x)
            x = x + block.mlp(x)
        if mode == "none":
            return model.head(model.readout_norm(x[0]))
        return model.head(model.readout_neuron(model.readout_norm(x)).mean(0))

    outputs = []
    for forward in (model, reference):
        out = forward(ids)
        outputs.append((out, *torch.autograd.grad(out, list(model.parameters()), grad)))
    torch.testing.assert_close(outputs[0][0], outputs[1][0], rtol=1e-5, atol=1e-5)
    for a, b in zip(outputs[0][1:], outputs[1][1:]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
