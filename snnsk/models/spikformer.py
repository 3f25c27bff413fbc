"""Spiking vision transformer: Spikformer, Spike-driven Transformer and QKFormer attention.

``SpikingViT`` = spiking patch splitting → ``depth`` × (attention block, MLP
block), both residual → mean over tokens → linear head, one set of logits per
simulation step (``[T, B, n_classes]``, for the TET loss; prediction averages
over T).

The residual stream follows each paper's design:

* ``'ssa'`` (Spikformer) and ``'qk'`` (QKFormer): the blocks output spikes,
  added to the stream, which then holds small spike counts;
  ``MLP = LIF(BN(Linear(LIF(BN(Linear(x))))))``.
* ``'sdsa'`` (Spike-driven Transformer): membrane shortcut. Each block starts
  with a LIF of the stream and ends in ``BN(Linear(·))``, so the stream holds
  membrane potentials and every Linear reads spikes;
  ``MLP = BN(Linear(LIF(BN(Linear(LIF(x))))))``.

QKFormer itself is hierarchical (QK attention in early stages, SSA in the
last); here ``'qk'`` uses QK token attention in every block, so that the whole
attention cost is linear in the number of tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_int, is_real
from ..core.encoding import bin_frames
from ..core.memory import mark_spike_sum
from ..core.neurons import LIF, NeuronConfig
from ..layers.attention import VISION_ATTENTION, vision_attention
from ..layers.linear import LinearBN, fire
from ..layers.patch import SpikingPatchSplit, auto_patch_size

__all__ = ["SpikingViT", "ViTMLPBlock", "SpikingViTBlock", "VIT_NEURON"]

#: The vision transformer's default neuron: a sigmoid surrogate and a detached reset, as in the
#: Spikformer and Spike-driven Transformer code.
VIT_NEURON = NeuronConfig(surrogate="sigmoid", detach_reset=True)


class ViTMLPBlock(nn.Module):
    """The transformer's MLP, spiking: two ``Linear → BN`` layers with LIF neurons.

    Parameters
    ----------
    embed_dim, hidden : int
        Channels of the stream and of the hidden layer.
    membrane_shortcut : bool, default=False
        ``False``: ``LIF(BN(Linear(LIF(BN(Linear(x))))))`` (spike output);
        ``True``: ``BN(Linear(LIF(BN(Linear(LIF(x))))))`` (real output).
    neuron : NeuronConfig or None, default=None
        The LIF neurons' parameters (:class:`snnsk.core.neurons.NeuronConfig`; ``None``: the defaults).
    """

    def __init__(self, embed_dim: int, hidden: int, membrane_shortcut: bool = False,
                 neuron: NeuronConfig | None = None):
        super().__init__()
        self.membrane_shortcut = membrane_shortcut
        self.input_neuron = LIF(neuron) if membrane_shortcut else None
        self.fc1 = LinearBN(embed_dim, hidden)
        self.hidden_neuron = LIF(neuron)
        self.fc2 = LinearBN(hidden, embed_dim)
        self.output_neuron = None if membrane_shortcut else LIF(neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_neuron is not None:
            x = self.input_neuron(x)
        hidden = fire(self.hidden_neuron, self.fc1, x)
        if self.output_neuron is None:
            return self.fc2(hidden)
        return fire(self.output_neuron, self.fc2, hidden)


class SpikingViTBlock(nn.Module):
    """``x = x + attention(x); x = x + mlp(x)`` on ``[T, B, N, D]``."""

    def __init__(self, attention: str, embed_dim: int, heads: int, hidden: int,
                 neuron: NeuronConfig | None = None):
        super().__init__()
        self.attention = vision_attention(attention, embed_dim, heads, neuron=neuron)
        self.mlp = ViTMLPBlock(embed_dim, hidden, membrane_shortcut=attention == "sdsa",
                                   neuron=neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a stream of spike counts ('ssa', 'qk') is recorded as such, to be kept as int8
        attended = self.attention(x)
        x = mark_spike_sum(x + attended, x, attended)
        transformed = self.mlp(x)
        return mark_spike_sum(x + transformed, x, transformed)


def _pair(name, value) -> tuple[int, int]:
    values = tuple(value)
    if len(values) != 2:
        raise ValueError(f"{name} must be (height, width), got {value!r}")
    for v in values:
        check_int(name, v)
    return tuple(int(v) for v in values)


class SpikingViT(nn.Module):
    """Spiking vision transformer with a choice of spiking attention.

    Parameters
    ----------
    n_classes : int
    in_channels : int
        Input channels (1 for grey images, 2 for ON/OFF event frames).
    image_size : (int, int)
        Height and width of the input.
    attention : {'ssa', 'sdsa', 'qk'}, default='ssa'
        Spikformer, Spike-driven Transformer or QKFormer attention.
    embed_dim : int, default=64
    depth : int, default=2
        Transformer blocks.
    heads : int, default=4
        Attention heads; must divide ``embed_dim``.
    mlp_ratio : float, default=4.0
        Hidden width of the MLP blocks over ``embed_dim``.
    patch_size : int or 'auto', default='auto'
        Downsampling of the tokenizer (a power of two up to 16); ``'auto'``
        takes the smallest from 2 up giving at most 64 tokens.
    timesteps : int, default=4
        Simulation steps for static images. Event frames ``[B, F, C, H, W]``
        are summed into ``timesteps`` consecutive bins of (nearly) equal
        length, so ``F`` need not equal ``timesteps`` (``F >= timesteps``).
    neuron : NeuronConfig or None, default=None
        The LIF neurons' parameters (the attention neurons keep their own
        threshold 0.5); ``None`` takes :data:`VIT_NEURON` (a sigmoid
        surrogate and a detached reset, as in the reference implementations).

    Input ``[B, C, H, W]`` (direct-encoded) or ``[B, F, C, H, W]`` events;
    output ``[T, B, n_classes]``.
    """

    def __init__(self, n_classes, in_channels, image_size, attention="ssa", embed_dim=64, depth=2,
                 heads=4, mlp_ratio=4.0, patch_size="auto", timesteps=4,
                 neuron: NeuronConfig | None = None):
        super().__init__()
        n_classes = check_int("n_classes", n_classes)
        in_channels = check_int("in_channels", in_channels)
        self.image_size = _pair("image_size", image_size)
        if attention not in VISION_ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(VISION_ATTENTION)}, "
                             f"got {attention!r}")
        embed_dim = check_int("embed_dim", embed_dim)
        depth = check_int("depth", depth)
        heads = check_int("heads", heads)
        if embed_dim % heads:
            raise ValueError(f"heads ({heads}) must divide embed_dim ({embed_dim})")
        if not is_real(mlp_ratio) or mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        timesteps = check_int("timesteps", timesteps)
        if isinstance(patch_size, str):
            if patch_size != "auto":
                raise ValueError(f"patch_size must be 'auto' or a power of two from 1 to 16, "
                                 f"got {patch_size!r}")
            patch_size = auto_patch_size(self.image_size)
        self.timesteps = timesteps
        neuron = VIT_NEURON if neuron is None else neuron
        self.patch_split = SpikingPatchSplit(in_channels, embed_dim, patch_size, neuron=neuron)
        hidden = max(1, round(embed_dim * mlp_ratio))
        self.blocks = nn.ModuleList(SpikingViTBlock(attention, embed_dim, heads, hidden, neuron=neuron)
                                    for _ in range(depth))
        self.head = nn.Linear(embed_dim, n_classes)

    @property
    def patch_size(self) -> int:
        return self.patch_split.patch_size

    def bin_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Sum ``[B, F, C, H, W]`` frames into ``[T, B, C, H, W]`` (:func:`snnsk.core.encoding.bin_frames`)."""
        return bin_frames(frames, self.timesteps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:
            tokens = self.patch_split(self.bin_frames(x))
        else:
            tokens = self.patch_split(x, self.timesteps)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(tokens.mean(dim=2))
