"""Spiking patch splitting: images or event frames to a sequence of spiking tokens.

Spikformer's SPS tokenizer: a few ``Conv3×3 → BN → LIF`` stages whose widths
grow to ``embed_dim``, max-pooling (3×3, stride 2) after the last
``log2(patch_size)`` stages, then a relative position embedding
``x + LIF(BN(Conv3×3(x)))``. Pooling with padding rounds up, so any image
size works: an ``H×W`` input gives ``ceil(H / p) × ceil(W / p)`` tokens.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_int
from ..core.memory import mark_spike_sum
from ..core.neurons import LIF, NeuronConfig
from .linear import time_folded
from .pool import SpikeMaxPool2d

__all__ = ["SpikingPatchSplit", "token_grid", "auto_patch_size"]

#: Conv stages of the tokenizer (Spikformer's); pooling can follow at most this many.
STAGES = 4


def token_grid(image_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Token grid ``(h, w)`` the tokenizer makes of an ``image_size`` input."""
    height, width = image_size
    return math.ceil(height / patch_size), math.ceil(width / patch_size)


def auto_patch_size(image_size: tuple[int, int], max_tokens: int = 64) -> int:
    """Smallest power-of-two patch size from 2 up giving at most ``max_tokens`` tokens.

    64 tokens is what the reference models use on CIFAR (32×32, patch 4) and
    on 128×128 event frames (patch 16). They always pool: with 1-pixel
    patches a token would only see the few pixels the tokenizer's 3×3
    convolutions reach, so 2 is the smallest automatic choice.
    """
    patch = 2
    while patch < 2 ** STAGES and math.prod(token_grid(image_size, patch)) > max_tokens:
        patch *= 2
    return patch


def _check_patch_size(patch_size) -> int:
    patch_size = check_int("patch_size", patch_size)
    if patch_size & (patch_size - 1) or patch_size > 2 ** STAGES:
        raise ValueError(f"patch_size must be a power of two from 1 to {2 ** STAGES}, "
                         f"got {patch_size!r}")
    return patch_size


class SpikingPatchSplit(nn.Module):
    """Spiking tokenizer of images (direct-encoded) or event frames.

    Parameters
    ----------
    in_channels : int
        Channels of the input (1 for grey images, 2 for ON/OFF events).
    embed_dim : int
        Channels of the output tokens; the stages have ``embed_dim / 8``,
        ``/ 4``, ``/ 2`` and ``embed_dim`` channels (at least 1).
    patch_size : int, default=4
        A power of two from 1 to 16: the downsampling factor, one max-pool per
        factor of two.
    neuron : NeuronConfig or None, default=None
        The LIF neurons' parameters (:class:`snnsk.core.neurons.NeuronConfig`; ``None``: the defaults).

    Input ``[B, C, H, W]`` (a static image, repeated over ``timesteps``) or
    ``[T, B, C, H, W]`` (frames); output tokens ``[T, B, N, embed_dim]``
    with ``N = ceil(H / p) · ceil(W / p)``, each entry a sum of two spikes
    (the pooled spikes plus the position embedding's).
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int = 4,
                 neuron: NeuronConfig | None = None):
        super().__init__()
        in_channels = check_int("in_channels", in_channels)
        embed_dim = check_int("embed_dim", embed_dim)
        self.patch_size = _check_patch_size(patch_size)
        pools = int(math.log2(self.patch_size))
        widths = [max(1, embed_dim >> (STAGES - 1 - i)) for i in range(STAGES)]
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.neurons = nn.ModuleList()
        self.pools = nn.ModuleList()
        for i, width in enumerate(widths):
            self.convs.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], width, 3,
                                        padding=1, bias=False))
            self.norms.append(nn.BatchNorm2d(width))
            self.neurons.append(LIF(neuron))
            pooled = i >= STAGES - pools
            self.pools.append(SpikeMaxPool2d(3, stride=2, padding=1) if pooled else nn.Identity())
        self.position_conv = nn.Conv2d(embed_dim, embed_dim, 3, padding=1, bias=False)
        self.position_norm = nn.BatchNorm2d(embed_dim)
        self.position_neuron = LIF(neuron)

    def _first_stage(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last from here on: oneDNN's convolutions, batch norm and max-pooling run
        # 1.2-2.5x faster on it for these narrow stages, and the LIF neurons keep whatever
        # layout they get. With one input channel both layouts are the same memory, so the
        # first output is converted explicitly; later convolutions follow their input.
        z = self.convs[0](x.contiguous(memory_format=torch.channels_last))
        return self.norms[0](z.contiguous(memory_format=torch.channels_last))

    def forward(self, x: torch.Tensor, timesteps: int | None = None) -> torch.Tensor:
        if x.dim() == 4:
            if timesteps is None:
                raise ValueError("a static image [B, C, H, W] needs timesteps")
            # Direct encoding: the input is the same at every step, so the first
            # conv and its norm run once and the result is repeated.
            z = self._first_stage(x)
            z = z.unsqueeze(0).expand(timesteps, *z.shape)
        elif x.dim() == 5:
            z = time_folded(self._first_stage, x)
        else:
            raise ValueError(f"expected [B, C, H, W] images or [T, B, C, H, W] frames, "
                             f"got shape {tuple(x.shape)}")
        s = time_folded(self.pools[0], self.neurons[0](z))
        for conv, norm, neuron, pool in zip(self.convs[1:], self.norms[1:], self.neurons[1:],
                                            self.pools[1:]):
            # conv -> BN -> LIF fused, the convolution computed again in backward: only the
            # input spikes are kept (as int8) of the two full-size float outputs
            s = time_folded(pool, neuron(s, norm=norm, layer=conv))
        # The position convolution's output is kept instead: computing it again would save a
        # quarter of what stage 3's does, for half of stage 3's arithmetic.
        position = self.position_neuron(time_folded(self.position_conv, s),
                                        norm=self.position_norm)
        tokens = mark_spike_sum(s + position, s, position)  # [T, B, D, h, w]
        return tokens.flatten(3).transpose(2, 3)
