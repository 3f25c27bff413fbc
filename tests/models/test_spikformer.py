"""SpikingViT: shapes for every input form and variant, event binning, gradients, neuron params."""

import pytest
import torch

from snnsk.core.neurons import NeuronConfig, set_neuron_params
from snnsk.models import SpikingViT
from snnsk.models.spikformer import VIT_NEURON

VARIANTS = ["ssa", "sdsa", "qk"]


@pytest.mark.parametrize("attention", VARIANTS)
@pytest.mark.parametrize("channels, size", [(1, (8, 8)), (3, (28, 28)), (3, (32, 32))])
def test_static_images_give_per_step_logits(attention, channels, size):
    model = SpikingViT(10, channels, size, attention=attention, embed_dim=16, depth=1, heads=2,
                       timesteps=3)
    assert model(torch.rand(2, channels, *size)).shape == (3, 2, 10)


@pytest.mark.parametrize("attention", VARIANTS)
def test_event_frames_64x64(attention):
    model = SpikingViT(5, 2, (64, 64), attention=attention, embed_dim=16, depth=1, heads=2,
                       timesteps=4)
    assert model.patch_size == 8
    assert model(torch.rand(2, 6, 2, 64, 64)).shape == (4, 2, 5)


def test_event_frames_are_summed_into_timesteps_bins():
    model = SpikingViT(2, 1, (4, 4), timesteps=3)
    frames = torch.arange(7.0).view(1, 7, 1, 1, 1).expand(2, 7, 1, 4, 4)
    binned = model.bin_frames(frames)
    assert binned.shape == (3, 2, 1, 4, 4)
    # 7 frames in 3 bins: [0, 2), [2, 4), [4, 7)
    assert binned[:, 0, 0, 0, 0].tolist() == [0 + 1, 2 + 3, 4 + 5 + 6]
    assert torch.equal(SpikingViT(2, 1, (4, 4), timesteps=7).bin_frames(frames),
                       frames.transpose(0, 1))
    with pytest.raises(ValueError, match="fewer than timesteps"):
        SpikingViT(2, 1, (4, 4), timesteps=8)(frames)


@pytest.mark.parametrize("attention", VARIANTS)
def test_every_parameter_gets_a_gradient(attention):
    torch.manual_seed(1)
    model = SpikingViT(4, 1, (8, 8), attention=attention, embed_dim=16, depth=2, heads=2,
                       patch_size=2, neuron=NeuronConfig(threshold=0.5))
    model(torch.rand(8, 1, 8, 8)).sum(0).logsumexp(-1).sum().backward()
    missing = [name for name, p in model.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_membrane_shortcut_only_for_the_spike_driven_variant():
    for attention, shortcut in [("ssa", False), ("sdsa", True), ("qk", False)]:
        block = SpikingViT(2, 1, (8, 8), attention=attention, embed_dim=8, heads=2).blocks[0]
        assert block.mlp.membrane_shortcut is shortcut


def test_changes_in_place_keep_weights_and_the_attention_threshold():
    model = SpikingViT(3, 1, (8, 8), embed_dim=8, heads=2)
    assert model.patch_split.neurons[0].neuron == VIT_NEURON  # sigmoid, detached reset
    weights = model.head.weight.clone()
    model.timesteps = 6
    set_neuron_params(model, threshold=0.7, tau=3.0)
    assert model(torch.rand(2, 1, 8, 8)).shape == (6, 2, 3)
    assert torch.equal(model.head.weight, weights)
    assert model.blocks[0].attention.attention_neuron.neuron.threshold == 0.5
    assert model.blocks[0].attention.qkv_neuron.neuron.threshold == 0.7
    assert model.patch_split.neurons[0].neuron.tau == 3.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(attention="linear"), "attention must be one of"),
    (dict(embed_dim=10, heads=4), r"heads \(4\) must divide embed_dim \(10\)"),
    (dict(depth=0), "depth"),
    (dict(mlp_ratio=0), "mlp_ratio"),
    (dict(patch_size=6), "patch_size"),
    (dict(timesteps=0), "timesteps"),
])
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SpikingViT(2, 1, (8, 8), **kwargs)
