"""What the fused-kernel backends (``cpu`` and ``cupy``) share.

Both compile the four built-in surrogates into their kernels under the same
codes, and both run ``[T, ...]`` inputs as a contiguous ``[T, N]`` matrix
through an autograd function when a gradient is needed, and through the
forward kernel alone (no pre-reset potential stored) otherwise.
"""

from __future__ import annotations

import math

import torch

from ..neuron_config import NeuronConfig

# Codes for the surrogate derivative inside the kernels.
SURROGATE_CODES = {"atan": 0, "sigmoid": 1, "fast_sigmoid": 2, "triangle": 3}


def surrogate_reason(backend: str, p: NeuronConfig) -> str | None:
    """Why a fused backend cannot run ``p``'s surrogate (``None`` for a built-in one).

    A user subclass of a built-in surrogate may override ``derivative``, which a
    compiled kernel would silently ignore, so only the classes of
    :mod:`snnsk.core.surrogate` themselves qualify.
    """
    surrogate = p.surrogate
    if type(surrogate).name not in SURROGATE_CODES or type(surrogate).__module__ != "snnsk.core.surrogate":
        return (f"the {backend!r} backend compiles the built-in surrogates only "
                f"({', '.join(SURROGATE_CODES)}), got {surrogate!r}")
    return None


def run_fused(x: torch.Tensor, p: NeuronConfig, return_v: bool, function, run_forward):
    """Run a fused backend over ``x`` of shape ``[T, ...]``; returns ``(spikes, v or None)``.

    ``function`` is the backend's :class:`torch.autograd.Function` (applied to
    the ``[T, N]`` view, ``p`` and ``return_v``); ``run_forward(x2, p,
    store_h, return_v)`` its forward launcher returning ``(spikes, h, held,
    v)``.
    """
    order = memory_order(x)
    # A permutation, not a copy, when x is dense in another layout (a channels-last image
    # batch): the kernels see [T, N] in memory order and the outputs keep x's layout.
    xp = x.permute(0, *order).contiguous()
    x2 = xp.view(xp.shape[0], math.prod(xp.shape[1:]))
    if torch.is_grad_enabled() and x.requires_grad:
        spikes, v = function.apply(x2, p, return_v)
    else:
        # inference: no graph, and the pre-reset potential is never written
        spikes, _, _, v = run_forward(x2.detach(), p, False, return_v)
    inverse = [0] + [1 + order.index(d) for d in range(1, x.dim())]
    restore = (lambda t: t.view(xp.shape).permute(*inverse))
    return restore(spikes), (restore(v) if v is not None else None)


def memory_order(x: torch.Tensor) -> list[int]:
    """The dimensions after time, outermost first in memory (``[1, 2, ...]`` for a contiguous ``x``).

    Time stays first (the kernels walk it); the others follow their strides,
    so ``x.permute(0, *memory_order(x))`` is contiguous whenever each time
    step of ``x`` is dense in memory, in whatever layout (a ``[T, B, C, H, W]``
    batch of channels-last images gives ``[1, 3, 4, 2]``). For other inputs
    (an expanded or sliced one) the result is still a valid order, and the
    copy that makes the permuted tensor contiguous keeps the inner layout.
    """
    dims = list(range(1, x.dim()))
    if x.is_contiguous():
        return dims
    # size-1 dimensions have arbitrary strides: put them first, where they cannot break contiguity
    return sorted(dims, key=lambda d: -x.stride(d) if x.shape[d] > 1 else -math.inf)
