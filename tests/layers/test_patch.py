"""Spiking patch splitting: sizes for every image size, direct encoding, spike sums."""

import pytest
import torch

from snnsk.layers import SpikingPatchSplit
from snnsk.layers.patch import auto_patch_size, token_grid


@pytest.mark.parametrize("size, patch, grid", [
    ((8, 8), 1, (8, 8)), ((8, 8), 2, (4, 4)), ((8, 8), 4, (2, 2)), ((8, 8), 8, (1, 1)),
    ((28, 28), 4, (7, 7)), ((32, 32), 4, (8, 8)), ((64, 64), 8, (8, 8)), ((7, 13), 2, (4, 7)),
])
def test_token_count_follows_the_input_size(size, patch, grid):
    assert token_grid(size, patch) == grid
    split = SpikingPatchSplit(2, 16, patch).eval()
    tokens = split(torch.rand(3, 2, *size), timesteps=2)
    assert tokens.shape == (2, 3, grid[0] * grid[1], 16)


@pytest.mark.parametrize("size, patch", [((8, 8), 2), ((16, 16), 2), ((28, 28), 4), ((32, 32), 4),
                                         ((64, 64), 8), ((128, 128), 16), ((1, 3), 2)])
def test_auto_patch_size_gives_at_most_64_tokens(size, patch):
    assert auto_patch_size(size) == patch


@pytest.mark.parametrize("patch", [0, 3, 32, 2.0, True])
def test_patch_size_must_be_a_power_of_two_up_to_16(patch):
    with pytest.raises(ValueError, match="patch_size"):
        SpikingPatchSplit(1, 16, patch)


def test_tokens_are_pooled_spikes_plus_position_spikes():
    split = SpikingPatchSplit(1, 16, 2)   # training mode: batch norm keeps every stage active
    tokens = split(torch.rand(4, 1, 8, 8), timesteps=3)
    assert set(tokens.unique().tolist()) <= {0.0, 1.0, 2.0}
    assert (tokens == 2).any() and (tokens == 0).any()


def test_direct_encoding_equals_the_image_repeated_as_frames():
    # training mode: the batch statistics of T copies equal those of one copy
    split = SpikingPatchSplit(1, 16, 2).double()
    images = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    direct = split(images, timesteps=4)
    frames = split(images.unsqueeze(0).expand(4, -1, -1, -1, -1))
    assert direct.sum() > 0
    torch.testing.assert_close(direct, frames, rtol=0, atol=1e-12)


def test_static_input_needs_timesteps_and_other_ranks_are_refused():
    split = SpikingPatchSplit(1, 8, 1)
    with pytest.raises(ValueError, match="needs timesteps"):
        split(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="got shape"):
        split(torch.rand(2, 8, 8))
