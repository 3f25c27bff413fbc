"""Fused multi-step LIF on the CPU, compiled with numba.

The whole time loop runs inside one pass over blocks of neurons: for each block
(contiguous columns of the ``[T, N]`` input) the membrane state lives in a small
local buffer while the kernel walks over time, so every input element is read
once and every output written once. Training traffic is the ideal 24 bytes per
float32 element and step: the forward reads ``x`` and writes the spikes and the
pre-reset potential ``h`` (the only thing backward needs); the backward reads
the spike gradient and ``h`` and writes the input gradient in one reverse pass.

Scalars are cast to the array dtype before the call and the arithmetic follows
the torch reference's operation order, so spikes agree bit for bit.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np
import torch

from ._fused import SURROGATE_CODES, run_fused, surrogate_reason
from .params import LIFParams

try:  # numba is a hard dependency, but keep `import snnsk` alive if it breaks
    import numba
    from numba import njit, prange

    NUMBA_ERROR = None
except Exception as exc:  # pragma: no cover - exercised only on broken installs
    numba = None
    NUMBA_ERROR = exc

SUPPORTED_DTYPES = (torch.float32, torch.float64)
# Columns per block: the local state stays in L1 and each row segment is a
# contiguous, vectorisable stream.
BLOCK = 512


def unsupported_reason(x: torch.Tensor, p: LIFParams) -> str | None:
    """Why this backend cannot run ``x`` with ``p`` (``None`` when it can)."""
    if numba is None:
        return f"numba could not be imported ({NUMBA_ERROR!r})"
    if x.device.type != "cpu":
        return f"the 'cpu' backend runs on CPU tensors, got a tensor on {x.device}"
    if x.dtype not in SUPPORTED_DTYPES:
        return f"the 'cpu' backend supports float32 and float64, got {x.dtype}"
    return surrogate_reason("cpu", p)


if numba is not None:

    @njit(inline="always", cache=True)
    def _surrogate_grad(code, alpha, x, one, two, half_pi):
        # Evaluated in the array dtype: constants come in typed, never as literals.
        if code == 0:  # atan
            z = half_pi * alpha * x
            return alpha / (two * (one + z * z))
        if code == 1:  # sigmoid
            sg = one / (one + np.exp(-alpha * x))
            return alpha * sg * (one - sg)
        if code == 2:  # fast_sigmoid
            d = one + alpha * abs(x)
            return alpha / (two * d * d)
        return max(x - x, alpha - alpha * alpha * abs(x))  # triangle


# The options that change the shape of the inner loop (reset kind, refractory
# bookkeeping, what is stored, the surrogate) are closure constants of their
# own compiled kernel, so each variant's loop is branch-free and vectorised:
# run-time flags for all of them measured 2-4x slower (LLVM stops unswitching).
# Options that only change a factor (decay_input's dH/dX, detach_reset) are
# values in the constants array. numba caches closures on disk per constant
# set, so each variant compiles once per machine.
_KERNELS: dict = {}


def forward_kernel(hard: bool, decay_input: bool, refractory: bool, store_h: bool, store_v: bool):
    """The compiled forward kernel for one option set."""
    key = ("forward", hard, decay_input, refractory, store_h, store_v)
    if key in _KERNELS:
        return _KERNELS[key]

    @njit(parallel=True, nogil=True, cache=True)
    def forward(x, spikes, h_out, held_out, v_out, c, n_refractory):
        T, N = x.shape
        tau, threshold, v_reset, one, zero = c[0], c[1], c[2], c[3], c[4]
        n_blocks = (N + BLOCK - 1) // BLOCK
        for b in prange(n_blocks):
            lo = b * BLOCK
            width = min(BLOCK, N - lo)
            hi = lo + width
            v = np.empty(width, dtype=x.dtype)
            v[:] = v_reset
            left = np.zeros(width if refractory else 1, dtype=np.int32)  # steps still refractory
            for t in range(T):
                xr, sr = x[t, lo:hi], spikes[t, lo:hi]
                hr = h_out[t, lo:hi] if store_h else h_out[0, 0:1]
                mr = held_out[t, lo:hi] if (store_h and refractory) else held_out[0, 0:1]
                vr = v_out[t, lo:hi] if store_v else v_out[0, 0:1]
                for j in range(width):
                    vj = v[j]
                    if decay_input:
                        h = vj + (xr[j] - (vj - v_reset)) / tau
                    else:
                        h = vj - (vj - v_reset) / tau + xr[j]
                    fire = h >= threshold
                    if refractory:
                        held = left[j] > 0
                        if held:
                            h = vj
                            fire = False
                            left[j] -= 1
                        elif fire:
                            left[j] = n_refractory
                        if store_h:
                            mr[j] = 1 if held else 0
                    sr[j] = one if fire else zero
                    if hard:
                        vj = v_reset if fire else h
                    else:
                        vj = h - threshold if fire else h
                    v[j] = vj
                    if store_h:
                        hr[j] = h
                    if store_v:
                        vr[j] = vj

    _KERNELS[key] = forward
    return forward


def backward_kernel(code: int, hard: bool, refractory: bool, has_grad_v: bool):
    """The compiled backward kernel for one option set (``code`` picks the surrogate)."""
    key = ("backward", code, hard, refractory, has_grad_v)
    if key in _KERNELS:
        return _KERNELS[key]

    @njit(parallel=True, nogil=True, cache=True)
    def backward(grad_s, grad_v, h_in, held_in, grad_x, c):
        T, N = h_in.shape
        threshold, v_reset, one, zero, alpha, two, half_pi = c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        dh_dx, decay, through_reset = c[8], c[9], c[10]
        n_blocks = (N + BLOCK - 1) // BLOCK
        for b in prange(n_blocks):
            lo = b * BLOCK
            width = min(BLOCK, N - lo)
            hi = lo + width
            gv_next = np.zeros(width, dtype=h_in.dtype)  # dL/dV[t] from step t + 1
            for t in range(T - 1, -1, -1):
                hr, gsr, gxr = h_in[t, lo:hi], grad_s[t, lo:hi], grad_x[t, lo:hi]
                mr = held_in[t, lo:hi] if refractory else held_in[0, 0:1]
                gvr = grad_v[t, lo:hi] if has_grad_v else grad_v[0, 0:1]
                for j in range(width):
                    gv = gv_next[j]
                    if has_grad_v:
                        gv += gvr[j]
                    if refractory and mr[j] != 0:
                        # held step: V[t] = H[t] = V[t-1], the input has no effect
                        gxr[j] = zero
                        gv_next[j] = gv
                        continue
                    h = hr[j]
                    sg = _surrogate_grad(code, alpha, h - threshold, one, two, half_pi)
                    # through_reset is 0 with detach_reset: the reset carries no gradient
                    if hard:
                        dv_dh = (zero if h >= threshold else one) + through_reset * (v_reset - h) * sg
                    else:
                        dv_dh = one - through_reset * threshold * sg
                    gh = gsr[j] * sg + gv * dv_dh
                    gxr[j] = gh * dh_dx
                    gv_next[j] = gh * decay

    _KERNELS[key] = backward
    return backward


def _constants(p: LIFParams, dtype) -> np.ndarray:
    """Every scalar the kernels use, in the array dtype (so no float64 promotion)."""
    dh_dx = 1.0 / p.tau if p.decay_input else 1.0
    return np.array([p.tau, p.threshold, p.v_reset, 1.0, 0.0, p.surrogate.alpha, 2.0, 0.5 * math.pi,
                     dh_dx, 1.0 - 1.0 / p.tau, 0.0 if p.detach_reset else 1.0], dtype=dtype)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# Below this many elements a second thread costs more to wake than it saves
# (and small batches are the common case when training on tabular data).
PARALLEL_MIN_ELEMENTS = 1 << 18


def _set_threads(n_elements: int):
    # Follow torch's thread budget, which joblib/threadpoolctl and
    # OMP_NUM_THREADS already limit inside parallel searches.
    if n_elements < PARALLEL_MIN_ELEMENTS:
        numba.set_num_threads(1)
    else:
        numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


class BufferPool:
    """Reuses large kernel output buffers once nothing references them any more.

    A fresh multi-megabyte tensor costs a page fault per 4 KiB page on first
    touch, which measured 3-5x the kernel time itself at N = 2^20. Buffers are
    numpy arrays handed out as tensors through ``torch.from_numpy``; the
    tensor's storage holds a reference to its array until the last view and
    autograd's saved copy are gone, so an array only the pool references is
    free to hand out again. Holds at most ``max_bytes`` of free buffers.
    """

    def __init__(self, max_bytes: int = 1 << 30, min_bytes: int = 1 << 20):
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._buffers: list[np.ndarray] = []
        self._lock = threading.Lock()

    def empty(self, shape, dtype) -> torch.Tensor:
        dtype = np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < self.min_bytes:
            return torch.from_numpy(np.empty(shape, dtype))
        with self._lock:
            for array in self._buffers:
                # unused: referenced only by the pool's list, this loop and getrefcount itself
                if (array.shape == tuple(shape) and array.dtype == dtype
                        and sys.getrefcount(array) <= 3):
                    return torch.from_numpy(array)
            array = np.empty(shape, dtype)
            self._buffers.append(array)
            self._evict()
            return torch.from_numpy(array)

    def _evict(self):
        total = sum(a.nbytes for a in self._buffers)
        for array in list(self._buffers):
            if total <= self.max_bytes:
                break
            # an array still in use leaves the pool too: its tensor frees it as usual
            self._buffers.remove(array)
            total -= array.nbytes

    def clear(self):
        """Forget every pooled buffer (those in use stay valid)."""
        with self._lock:
            self._buffers.clear()


POOL = BufferPool()


def _run_forward(x: torch.Tensor, p: LIFParams, store_h: bool, return_v: bool):
    """Run the forward kernel on ``x`` ``[T, N]``; returns spikes, h, held, v (None where not stored)."""
    dtype = x.numpy().dtype
    dummy = np.zeros((1, 1), dtype)  # zeros: casting uninitialised memory warns
    spikes = POOL.empty(x.shape, dtype)
    h = POOL.empty(x.shape, dtype) if store_h else None
    held = POOL.empty(x.shape, np.uint8) if (store_h and p.refractory) else None
    v = POOL.empty(x.shape, dtype) if return_v else None
    _set_threads(x.numel())
    kernel = forward_kernel(p.hard_reset, p.decay_input, p.refractory > 0, store_h, return_v)
    kernel(_numpy(x), _numpy(spikes), _numpy(h) if h is not None else dummy,
           _numpy(held) if held is not None else dummy.astype(np.uint8),
           _numpy(v) if v is not None else dummy, _constants(p, dtype), p.refractory)
    return spikes, h, held, v


class LIFFunction(torch.autograd.Function):
    """Autograd wrapper around the fused numba kernels (input ``[T, N]``)."""

    @staticmethod
    def forward(ctx, x, p: LIFParams, return_v: bool):
        ctx.set_materialize_grads(False)
        spikes, h, held, v = _run_forward(x, p, True, return_v)
        ctx.p = p
        # the refractory mask is saved only when there is a refractory period
        ctx.save_for_backward(h, held if held is not None else h)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_s, grad_v):
        h, held = ctx.saved_tensors
        p = ctx.p
        dtype = h.numpy().dtype
        # grad_s is None only when the spikes feed nothing differentiable
        gs = grad_s.contiguous() if grad_s is not None else torch.zeros_like(h)
        gv = grad_v.contiguous() if grad_v is not None else h.new_empty((1, 1))
        grad_x = POOL.empty(h.shape, dtype)
        _set_threads(h.numel())
        kernel = backward_kernel(SURROGATE_CODES[p.surrogate.name], p.hard_reset, p.refractory > 0,
                                 grad_v is not None)
        kernel(_numpy(gs), _numpy(gv), _numpy(h), _numpy(held) if p.refractory else
               np.empty((1, 1), np.uint8), _numpy(grad_x), _constants(p, dtype))
        return grad_x, None, None


def lif_cpu(x: torch.Tensor, p: LIFParams, return_v: bool = False):
    """Fused LIF over ``x`` of shape ``[T, ...]``; returns ``(spikes, v or None)``."""
    return run_fused(x, p, return_v, LIFFunction, _run_forward)
