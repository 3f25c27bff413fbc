"""The P-SpikeSSM module: shapes, padding, in-place settings, gradients."""

import pytest
import torch

from snnsk.layers.ssm import MaskedLIF, SpikeSampler
from snnsk.models.pspikessm import PSpikeSSM
from snnsk.core.neurons import set_neuron_params, spiking_layers


def _model(**kwargs):
    torch.manual_seed(0)
    params = dict(n_classes=3, n_features=2, embed_dim=8, depth=2, d_state=4)
    params.update(kwargs)
    return PSpikeSSM(**params)


@pytest.mark.parametrize("spiking", ["sampler", "lif"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_is_one_readout_step_per_sequence(spiking, bidirectional):
    model = _model(spiking=spiking, bidirectional=bidirectional)
    assert model(torch.randn(5, 11, 2)).shape == (1, 5, 3)
    kinds = {type(layer) for _, layer in spiking_layers(model)}
    assert kinds == ({SpikeSampler} if spiking == "sampler" else {MaskedLIF})
    assert len(list(spiking_layers(model))) == 4  # two per block


def test_the_non_spiking_twin_is_the_same_network_without_sampling():
    spiking, twin = _model(), _model(spiking="none")
    # same architecture and, from the same seed, the same weights
    assert [n for n, _ in spiking.named_parameters()] == [n for n, _ in twin.named_parameters()]
    for a, b in zip(spiking.parameters(), twin.parameters()):
        assert torch.equal(a, b)
    assert list(spiking_layers(twin)) == [] and twin.samplers() == []
    x = torch.randn(4, 9, 2)
    # the twin computes the spiking model's 'expected' inference (the samplers' mean-field
    # value), and draws no random numbers in training either
    spiking.eval().sampling = "expected"
    torch.testing.assert_close(twin.eval()(x), spiking(x))
    twin.train()
    state = torch.random.get_rng_state()
    first = twin(x)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(twin(x), first)


def test_a_training_batch_of_one_uses_the_stored_readout_statistics():
    model = _model().train()
    out = model(torch.randn(1, 9, 2))  # batch statistics of one sample do not exist
    assert out.shape == (1, 1, 3) and torch.isfinite(out).all()


def test_token_input_is_embedded():
    model = _model(vocab_size=7)
    assert isinstance(model.encoder, torch.nn.Embedding)
    assert model(torch.randint(0, 7, (4, 9))).shape == (1, 4, 3)


@pytest.mark.parametrize("spiking", ["sampler", "lif", "none"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_output(spiking, bidirectional):
    model = _model(spiking=spiking, bidirectional=bidirectional).double().eval()
    x = torch.randn(1, 10, 2, dtype=torch.float64)
    garbage = torch.randn(1, 7, 2, dtype=torch.float64) * 100
    padded = torch.cat([x, garbage], dim=1)
    alone = model(x)
    with_padding = model(padded, torch.tensor([10]))
    torch.testing.assert_close(with_padding, alone)
    # and inside a batch with a longer sequence
    batch = torch.cat([padded, torch.randn(1, 17, 2, dtype=torch.float64)])
    torch.testing.assert_close(model(batch, torch.tensor([10, 17]))[:, :1], alone)


def test_causal_model_features_never_read_the_future():
    model = _model().double().eval()
    x = torch.randn(1, 12, 2, dtype=torch.float64)
    changed = x.clone()
    changed[:, 8:] += 5.0
    # the prediction on the first 8 steps is the same whatever follows them
    torch.testing.assert_close(model(x, torch.tensor([8])), model(changed, torch.tensor([8])))


@pytest.mark.parametrize("spiking", ["sampler", "none"])
def test_every_parameter_gets_a_gradient_through_the_samplers(spiking):
    model = _model(spiking=spiking).train()
    out = model(torch.randn(6, 9, 2))
    torch.nn.functional.cross_entropy(out[0], torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_sampling_and_neuron_parameters_change_in_place():
    model = _model()
    weight = model.decoder.weight.clone()
    model.sampling = "expected"
    set_neuron_params(model, threshold=0.3)
    assert all(s.sampling == "expected" and s.threshold == 0.3 for s in model.samplers())
    assert torch.equal(model.decoder.weight, weight)
    with pytest.raises(ValueError, match="sampling must be one of"):
        model.sampling = "nope"
    assert all(s.sampling == "expected" for s in model.samplers())
    lif = _model(spiking="lif")
    set_neuron_params(lif, threshold=0.7, tau=3.0)
    assert all(layer.neuron.threshold == 0.7 and layer.neuron.tau == 3.0
               for _, layer in spiking_layers(lif))


def test_ssm_parameters_are_the_kernel_dynamics():
    model = _model(depth=3)
    params = model.ssm_parameters()
    assert len(params) == 9
    names = {name.rsplit(".", 1)[-1] for name, p in model.named_parameters()
             if any(p is q for q in params)}
    assert names == {"log_dt", "log_neg_a_real", "a_imag"}


@pytest.mark.parametrize("kwargs, match", [
    (dict(embed_dim=0), "embed_dim must be a positive integer"),
    (dict(depth=1.5), "depth must be a positive integer"),
    (dict(spiking="izhikevich"), "spiking must be one of"),
    (dict(bidirectional="yes"), "bidirectional must be True or False"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(vocab_size=0), "vocab_size must be None or a positive integer"),
    (dict(sampling="mean"), "sampling must be one of"),
    (dict(d_state=3), "d_state must be an even"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)
