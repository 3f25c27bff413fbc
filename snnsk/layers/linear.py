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

__all__ = ["TokenBatchNorm", "LinearBN", "time_folded"]


def time_folded(layer, x: torch.Tensor) -> torch.Tensor:
    """Apply ``layer`` (a module or callable on ``[N, ...]``) to ``x`` of shape ``[T, B, ...]`` with time folded into the batch."""
    t, b = x.shape[:2]
    y = layer(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class TokenBatchNorm(nn.BatchNorm1d):
    """Batch norm over the last (channel) axis of a ``[..., C]`` tensor.

    Every leading axis (time, batch, tokens) is a sample of the statistics.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class LinearBN(nn.Sequential):
    """``Linear`` (without bias: the norm's shift replaces it) followed by :class:`TokenBatchNorm`.

    Parameters
    ----------
    in_features, out_features : int
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__(nn.Linear(in_features, out_features, bias=False),
                         TokenBatchNorm(out_features))
