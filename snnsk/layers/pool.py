"""Max-pooling of spikes that keeps only its input for backward.

``nn.MaxPool2d`` keeps, for backward, its input and the position of every
window's maximum as int64: eight bytes per output element, twice the float
input's size over a stride-2 window. For spike inputs the input itself is
kept as int8 (:mod:`snnsk.core.memory`), so the positions are most of what the
pool costs. :class:`SpikeMaxPool2d` keeps only the input and finds the
positions again in backward (one more pooling pass, with the same kernel and
so the same positions); its output, a selection of its input, is recorded as spikes
when the input is, for the next layer to keep compactly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.utils import _pair

from ..core.memory import mark_spikes

__all__ = ["SpikeMaxPool2d"]


class _RecomputedMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, pool):
        ctx.args = tuple(_pair(a) for a in (pool.kernel_size, pool.stride, pool.padding,
                                           pool.dilation)) + (pool.ceil_mode,)
        ctx.save_for_backward(x)
        return F.max_pool2d(x, *ctx.args)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        _, indices = F.max_pool2d(x, *ctx.args, return_indices=True)
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, *ctx.args, indices), None


class SpikeMaxPool2d(nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` for spike inputs, keeping less for backward (see the module docstring).

    Same parameters, values and gradients (ties go to the same position) as
    ``nn.MaxPool2d``; ``return_indices`` is not supported.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.return_indices:
            raise ValueError("SpikeMaxPool2d does not return indices")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return mark_spikes(_RecomputedMaxPool.apply(x, self), x)
        return mark_spikes(super().forward(x), x)
