"""A drop-in ``nn.Linear`` whose large CPU float32 products run on oneDNN.

On the CPU, ``F.linear`` calls MKL's SGEMM. MKL picks its code path by CPU
vendor, and on AMD processors it runs the AVX2 kernels even where AVX-512 is
there: on the 2-core AMD EPYC machine of ``bench/BENCHMARKS.md`` an
``[8192, 64] x [64, 256]`` product runs at about 190 GFLOP/s. oneDNN, which
PyTorch ships for its CPU convolutions, dispatches on the instruction set
alone and runs the same product about twice as fast, forward and backward. A
linear layer over ``N`` rows is a 1x1 convolution over an ``N``-pixel image
with the channels last, which is exactly the row-major ``[N, in]`` matrix, so
the products reach oneDNN through ``F.conv2d`` without a copy, with PyTorch's
own autograd and full float32 arithmetic (no reduced-precision math mode).

Small products stay on ``F.linear``: below about 2^16 input entries the
convolution's fixed cost is larger than what it saves.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Linear", "linear", "ONEDNN_MIN_ELEMENTS"]

#: Input entries (rows x in_features) from which the oneDNN path pays.
ONEDNN_MIN_ELEMENTS = 1 << 16


def _onednn_usable(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and x.numel() >= ONEDNN_MIN_ELEMENTS and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, on oneDNN for large CPU float32 inputs.

    Parameters
    ----------
    x : torch.Tensor of shape ``[..., in_features]``
    weight : torch.Tensor of shape ``[out_features, in_features]``
    bias : torch.Tensor of shape ``[out_features]`` or None

    Returns
    -------
    torch.Tensor of shape ``[..., out_features]``
        Equal to ``F.linear`` up to float32 rounding (the sums run in another order),
        in ``x``'s dtype also under an autocast (whose lower precision the product uses).
    """
    if not _onednn_usable(x, weight):
        y = F.linear(x, weight, bias)
    else:
        out_features, in_features = weight.shape
        rows = x.numel() // in_features
        # [rows, in] row-major is the channels-last layout of a [1, in, rows, 1] image
        image = x.reshape(1, rows, 1, in_features).permute(0, 3, 1, 2)
        y = F.conv2d(image, weight.reshape(out_features, in_features, 1, 1), bias)
        # the output keeps the channels-last layout: [1, out, rows, 1] is [rows, out] in memory
        y = y.permute(0, 2, 3, 1).reshape(*x.shape[:-1], out_features)
    # Under a bfloat16 autocast the product ran in bfloat16; what follows (norms,
    # neurons, the residual stream) gets the input's dtype back.
    return y if y.dtype == x.dtype else y.to(x.dtype)


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` computed by :func:`linear` (same parameters, same state dict).

    Being an ``nn.Linear``, it is counted by :mod:`snnsk.analysis.opcount` like one.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
