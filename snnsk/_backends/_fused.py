"""What the fused-kernel backends (``cpu`` and ``cupy``) share.

Both compile the four built-in surrogates into their kernels under the same
codes, and both run ``[T, ...]`` inputs as a contiguous ``[T, N]`` matrix
through an autograd function when a gradient is needed, and through the
forward kernel alone (no pre-reset potential stored) otherwise.
"""

from __future__ import annotations

import math

import torch

from .params import LIFParams

# Codes for the surrogate derivative inside the kernels.
SURROGATE_CODES = {"atan": 0, "sigmoid": 1, "fast_sigmoid": 2, "triangle": 3}


def surrogate_reason(backend: str, p: LIFParams) -> str | None:
    """Why a fused backend cannot run ``p``'s surrogate (``None`` for a built-in one).

    A user subclass of a built-in surrogate may override ``derivative``, which a
    compiled kernel would silently ignore, so only the classes of
    :mod:`snnsk.surrogate` themselves qualify.
    """
    surrogate = p.surrogate
    if type(surrogate).name not in SURROGATE_CODES or type(surrogate).__module__ != "snnsk.surrogate":
        return (f"the {backend!r} backend compiles the built-in surrogates only "
                f"({', '.join(SURROGATE_CODES)}), got {surrogate!r}")
    return None


def run_fused(x: torch.Tensor, p: LIFParams, return_v: bool, function, run_forward):
    """Run a fused backend over ``x`` of shape ``[T, ...]``; returns ``(spikes, v or None)``.

    ``function`` is the backend's :class:`torch.autograd.Function` (applied to
    the ``[T, N]`` view, ``p`` and ``return_v``); ``run_forward(x2, p,
    store_h, return_v)`` its forward launcher returning ``(spikes, h, held,
    v)``.
    """
    shape = x.shape
    x2 = x.contiguous().view(shape[0], math.prod(shape[1:]))
    if torch.is_grad_enabled() and x.requires_grad:
        spikes, v = function.apply(x2, p, return_v)
    else:
        # inference: no graph, and the pre-reset potential is never written
        spikes, _, _, v = run_forward(x2.detach(), p, False, return_v)
    return spikes.view(shape), (v.view(shape) if v is not None else None)
