"""Linear layers with batch normalisation over time-first token tensors.

The spiking vision transformers normalise every projection with batch norm,
not layer norm: at inference BN is a fixed per-channel affine map, which folds
into the preceding weights and keeps the network multiplication-free between
spikes. Time and tokens act as batch axes, as in the reference code, which
folds ``T`` into the batch for every non-spiking layer.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.fused_norm import time_folded

__all__ = ["TokenBatchNorm", "LinearBN", "time_folded", "fire"]


class TokenBatchNorm(nn.BatchNorm1d):
    """Batch norm over the last (channel) axis of a ``[..., C]`` tensor.

    Every leading axis (time, batch, tokens) is a sample of the statistics.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.fold_time(x)).reshape(x.shape)

    @staticmethod
    def fold_time(x: torch.Tensor) -> torch.Tensor:
        """``[..., C]`` as the ``[samples, C]`` matrix the statistics are taken over."""
        return x.reshape(-1, x.shape[-1])


class LinearBN(nn.Sequential):
    """``Linear`` (without bias: the norm's shift replaces it) followed by :class:`TokenBatchNorm`.

    Parameters
    ----------
    in_features, out_features : int
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__(nn.Linear(in_features, out_features, bias=False),
                         TokenBatchNorm(out_features))


def fire(neuron: nn.Module, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``neuron(layer(x))``, a :class:`LinearBN`'s norm handed to the neuron.

    A LIF neuron given the norm recomputes the norm's output in backward
    instead of keeping it (:mod:`snnsk.core.fused_norm`): the same values and
    gradients for less activation memory.
    """
    if isinstance(layer, LinearBN):
        return neuron(layer[0](x), norm=layer[1])
    return neuron(layer(x))
