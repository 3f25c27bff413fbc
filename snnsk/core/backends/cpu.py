"""Fused multi-step LIF on the CPU, compiled with numba.

The whole time loop runs inside one pass over blocks of neurons: for each block
(contiguous columns of the ``[T, N]`` input) the membrane state lives in a
local buffer while the kernel walks over time, so every input element is read
once and every output written once. Training traffic is the ideal 24 bytes per
float32 element and step: the forward reads ``x`` and writes the spikes and the
pre-reset potential ``h`` (the only thing backward needs); the backward reads
the spike gradient and ``h`` and writes the input gradient in one reverse pass.

Each thread takes one contiguous range of columns and walks it block by block.
Blocks are wide (a 256 KiB state buffer, kept in L2): each step of a block then
reads and writes runs of 256 KiB per array, which the hardware prefetchers
stream at full speed; 2 KiB runs (512 float32 columns, a state buffer that
fits L1) measured 1.5x slower at T = 8, N = 2**20.

Within a step the kernel computes TILE columns at a time into small L1
buffers and stores them to the outputs from there. Large outputs (at least
STREAM_MIN_BYTES each) are stored with non-temporal 64-byte stores, which do
not read each destination line into the cache before overwriting it: with
ordinary stores that read is a third more memory traffic than the ideal.

Scalars are cast to the array dtype before the call and the arithmetic follows
the torch reference's operation order, so spikes agree bit for bit.
"""

from __future__ import annotations

import functools
import math
import platform
import sys
import threading

import numpy as np
import torch

from ..neuron_config import NeuronConfig
from ._fused import SURROGATE_CODES, run_fused, surrogate_reason

try:  # numba is a hard dependency, but keep `import snnsk` alive if it breaks
    import numba
    from llvmlite import ir
    from numba import njit, prange, types
    from numba.extending import intrinsic, overload

    NUMBA_ERROR = None
except (ImportError, OSError) as exc:  # pragma: no cover - a missing or broken install (a bug elsewhere raises)
    numba = None
    NUMBA_ERROR = exc

SUPPORTED_DTYPES = (torch.float32, torch.float64)
# Bytes of membrane state per block (the block width is this over the item
# size): it stays in L2 while the block's rows stream through. 64-512 KiB
# measured alike at T = 4-16 (within 5 %); 2-16 KiB 10-50 % slower.
BLOCK_BYTES = 256 * 1024
# Columns computed at a time into small L1 buffers, from which the results
# are stored to the outputs (see _put). 64-256 measured alike; 512 and more
# 10-15 % slower with streaming stores.
TILE = 128
# Outputs of at least this many bytes are written with non-temporal
# (streaming) stores; smaller ones are often still cached when they are read
# next (backward reads H right after forward in a benchmark). Forward +
# backward with streaming stores, against ordinary ones, at T = 4 / 8 / 16
# (2-core EPYC, 32 MiB L3): 8 MiB outputs 1.15-1.27x slower, 16 MiB
# 0.93-1.05x, 32 MiB 0.85-1.01x, 64 MiB 0.93x.
STREAM_MIN_BYTES = 16 << 20
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def unsupported_reason(x: torch.Tensor, p: NeuronConfig) -> str | None:
    """Why this backend cannot run ``x`` with ``p`` (``None`` when it can)."""
    if numba is None:
        return f"numba could not be imported ({NUMBA_ERROR!r})"
    if x.device.type != "cpu":
        return f"the 'cpu' backend runs on CPU tensors, got a tensor on {x.device}"
    if x.dtype not in SUPPORTED_DTYPES:
        return f"the 'cpu' backend supports float32 and float64, got {x.dtype}"
    return surrogate_reason("cpu", p)


if numba is not None:

    @intrinsic
    def _pow2(typingctx, n):
        """``2 ** n`` for a float ``n`` holding an integer in the normal exponent range.

        Built from its bits (the biased exponent shifted into place), so that
        the loops around it vectorise: ``np.exp`` is a libm call per element
        (numba's LLVM has no vector math library), a sixth of the backward
        kernel's speed with the sigmoid surrogate.
        """
        if n == types.float32:
            itype, mantissa, bias = ir.IntType(32), 23, 127
        else:
            itype, mantissa, bias = ir.IntType(64), 52, 1023

        def codegen(context, builder, signature, args):
            biased = builder.add(builder.fptosi(args[0], itype), ir.Constant(itype, bias))
            bits = builder.shl(biased, ir.Constant(itype, mantissa))
            return builder.bitcast(bits, context.get_data_type(signature.return_type))

        return n(n), codegen

    @njit(inline="always", cache=True)
    def _exp32(z):
        # Cody-Waite reduction z = n ln2 + r, |r| <= ln2 / 2, then a degree-7
        # Taylor polynomial (truncation 5e-9 relative, below float32's 6e-8):
        # 1e-7 relative error over the clamped range, where exp(z) is a
        # normal float32
        lo, hi = np.float32(-87.0), np.float32(88.0)
        z = lo if z < lo else z
        z = hi if z > hi else z
        shift = np.float32(12582912.0)  # 1.5 * 2**23: adding it rounds to an integer
        n = (z * np.float32(1.4426950408889634) + shift) - shift
        r = z - n * np.float32(0.693145751953125)  # ln 2, upper bits (exact product)
        r = r - n * np.float32(1.428606765330187e-06)  # ln 2, the rest
        p = np.float32(1.0 / 5040)
        p = p * r + np.float32(1.0 / 720)
        p = p * r + np.float32(1.0 / 120)
        p = p * r + np.float32(1.0 / 24)
        p = p * r + np.float32(1.0 / 6)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        p = p * r + np.float32(1.0)
        return p * _pow2(n)

    def _exp(z):
        """``exp(z)`` in the kernels: vectorisable in float32 (see :func:`_exp32`)."""
        return np.exp(z)

    @overload(_exp, inline="always")
    def _exp_typed(z):
        if z == types.float32:
            return lambda z: _exp32(z)
        return lambda z: np.exp(z)  # float64 keeps libm's exp: the reference precision

    @njit(inline="always", cache=True)
    def _surrogate_grad(code, alpha, x, one, two, half_pi):
        # Evaluated in the array dtype: constants come in typed, never as literals.
        if code == 0:  # atan
            z = half_pi * alpha * x
            return alpha / (two * (one + z * z))
        if code == 1:  # sigmoid
            sg = one / (one + _exp(-alpha * x))
            return alpha * sg * (one - sg)
        if code == 2:  # fast_sigmoid
            d = one + alpha * abs(x)
            return alpha / (two * d * d)
        return max(x - x, alpha - alpha * alpha * abs(x))  # triangle

    @njit(inline="always", cache=True)
    def _chunk_bounds(n, chunk, n_chunks):
        # Contiguous column ranges, one per thread; inner bounds on multiples
        # of 16 columns, so that threads share no cache line of aligned rows.
        start = 0 if chunk == 0 else (n * chunk // n_chunks) & ~15
        stop = n if chunk == n_chunks - 1 else (n * (chunk + 1) // n_chunks) & ~15
        return start, stop

    @intrinsic
    def _stream64(typingctx, dst, dst_index, src, src_index):
        """Store the 64 bytes at ``src[src_index:]`` to ``dst[dst_index:]``, non-temporally.

        ``dst[dst_index]`` must be 64-byte aligned; ``src`` is read unaligned.
        """
        sig = types.void(dst, types.intp, src, types.intp)

        def codegen(context, builder, signature, args):
            dst_ty, _, src_ty, _ = signature.args
            element = context.get_data_type(dst_ty.dtype)
            vector = ir.VectorType(element, 64 // context.get_abi_sizeof(element))
            itemsize = context.get_abi_sizeof(element)

            def address(ty, array, index):
                data = context.make_array(ty)(context, builder, array).data
                return builder.bitcast(builder.gep(data, [index]), vector.as_pointer())

            value = builder.load(address(src_ty, args[2], args[3]), align=itemsize)
            store = builder.store(value, address(dst_ty, args[0], args[1]), align=64)
            store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
            return context.get_dummy_value()

        return sig, codegen

    @intrinsic
    def _store_fence(typingctx):
        """Order this thread's streaming stores before anything it writes later."""

        def codegen(context, builder, signature, args):
            if _X86:  # sfence drains the write-combining buffers; a plain fence may not
                fn = builder.module.declare_intrinsic("llvm.x86.sse.sfence",
                                                      fnty=ir.FunctionType(ir.VoidType(), []))
                builder.call(fn, [])
            else:
                builder.fence("seq_cst")
            return context.get_dummy_value()

        return types.void(), codegen

    @njit(inline="always", cache=True)
    def _lead(row, n):
        # elements of row before its first 64-byte boundary (at most n)
        return min(n, ((-row.ctypes.data) % 64) // row.itemsize)

    @njit(inline="always", cache=True)
    def _put(dst, src, n, stream):
        # dst[:n] = src[:n], with streaming stores on dst's aligned 64-byte runs
        k = 0
        if stream:
            k = _lead(dst, n)
            for j in range(k):
                dst[j] = src[j]
            step = 64 // dst.itemsize
            while k + step <= n:
                _stream64(dst, k, src, k)
                k += step
        # zero-based over sub-slices: with range(k, n) LLVM cannot rule out
        # negative (wrapped-around) indices and emits a gather/scatter loop
        dst_rest, src_rest = dst[k:n], src[k:n]
        for j in range(n - k):
            dst_rest[j] = src_rest[j]

    @njit(inline="always", cache=True)
    def _tile_end(j0, width, lead):
        # tiles start on the first output's 64-byte boundaries: a short first
        # tile up to the boundary, then TILE columns at a time
        return min(width, lead if (j0 == 0 and lead > 0) else j0 + TILE)


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
    def forward(x, spikes, h_out, held_out, v_out, c, n_refractory, n_chunks, block, stream):
        T, N = x.shape
        tau, threshold, v_reset, one, zero = c[0], c[1], c[2], c[3], c[4]
        for chunk in prange(n_chunks):
            start, stop = _chunk_bounds(N, chunk, n_chunks)
            size = max(0, min(block, stop - start))
            v = np.empty(size, dtype=x.dtype)
            left = np.empty(size if refractory else 1, dtype=np.int32)  # steps still refractory
            s_tile = np.empty(TILE, dtype=x.dtype)
            h_tile = np.empty(TILE, dtype=x.dtype)
            v_tile = np.empty(TILE, dtype=x.dtype)
            held_tile = np.empty(TILE, dtype=np.uint8)
            for lo in range(start, stop, block):
                hi = min(lo + block, stop)
                width = hi - lo
                v[:width] = v_reset
                left[:width if refractory else 0] = 0
                for t in range(T):
                    xr, sr = x[t, lo:hi], spikes[t, lo:hi]
                    lead = _lead(sr, width)
                    j0 = 0
                    while j0 < width:
                        j1 = _tile_end(j0, width, lead)
                        n = j1 - j0
                        xt, vt, lt = x[t, lo + j0:lo + j1], v[j0:j1], left[j0:j1] if refractory else left
                        for j in range(n):
                            vj = vt[j]
                            if decay_input:
                                h = vj + (xt[j] - (vj - v_reset)) / tau
                            else:
                                h = vj - (vj - v_reset) / tau + xt[j]
                            fire = h >= threshold
                            if refractory:
                                held = lt[j] > 0
                                if held:
                                    h = vj
                                    fire = False
                                    lt[j] -= 1
                                elif fire:
                                    lt[j] = n_refractory
                                if store_h:
                                    held_tile[j] = 1 if held else 0
                            s_tile[j] = one if fire else zero
                            if hard:
                                vj = v_reset if fire else h
                            else:
                                vj = h - threshold if fire else h
                            vt[j] = vj
                            if store_h:
                                h_tile[j] = h
                            if store_v:
                                v_tile[j] = vj
                        _put(sr[j0:j1], s_tile, n, stream)
                        if store_h:
                            _put(h_out[t, lo + j0:lo + j1], h_tile, n, stream)
                            if refractory:
                                _put(held_out[t, lo + j0:lo + j1], held_tile, n, stream)
                        if store_v:
                            _put(v_out[t, lo + j0:lo + j1], v_tile, n, stream)
                        j0 = j1
            if stream:
                _store_fence()

    _KERNELS[key] = forward
    return forward


def backward_kernel(code: int, hard: bool, refractory: bool, has_grad_v: bool):
    """The compiled backward kernel for one option set (``code`` picks the surrogate)."""
    key = ("backward", code, hard, refractory, has_grad_v)
    if key in _KERNELS:
        return _KERNELS[key]

    @njit(parallel=True, nogil=True, cache=True)
    def backward(grad_s, grad_v, h_in, held_in, grad_x, c, n_chunks, block, stream):
        T, N = h_in.shape
        threshold, v_reset, one, zero, alpha, two, half_pi = c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        dh_dx, decay, through_reset = c[8], c[9], c[10]
        for chunk in prange(n_chunks):
            start, stop = _chunk_bounds(N, chunk, n_chunks)
            gv_next = np.empty(max(0, min(block, stop - start)), dtype=h_in.dtype)  # dL/dV[t] from t + 1
            gx_tile = np.empty(TILE, dtype=h_in.dtype)
            for lo in range(start, stop, block):
                hi = min(lo + block, stop)
                width = hi - lo
                gv_next[:width] = zero
                for t in range(T - 1, -1, -1):
                    gxr = grad_x[t, lo:hi]
                    lead = _lead(gxr, width)
                    j0 = 0
                    while j0 < width:
                        j1 = _tile_end(j0, width, lead)
                        n = j1 - j0
                        a, b = lo + j0, lo + j1
                        ht, gst, gvt = h_in[t, a:b], grad_s[t, a:b], gv_next[j0:j1]
                        mt = held_in[t, a:b] if refractory else held_in[0, 0:1]
                        gvin = grad_v[t, a:b] if has_grad_v else grad_v[0, 0:1]
                        for j in range(n):
                            gv = gvt[j]
                            if has_grad_v:
                                gv += gvin[j]
                            if refractory and mt[j] != 0:
                                # held step: V[t] = H[t] = V[t-1], the input has no effect
                                gx_tile[j] = zero
                                gvt[j] = gv
                                continue
                            h = ht[j]
                            sg = _surrogate_grad(code, alpha, h - threshold, one, two, half_pi)
                            # through_reset is 0 with detach_reset: the reset carries no gradient
                            if hard:
                                dv_dh = (zero if h >= threshold else one) + through_reset * (v_reset - h) * sg
                            else:
                                dv_dh = one - through_reset * threshold * sg
                            gh = gst[j] * sg + gv * dv_dh
                            gx_tile[j] = gh * dh_dx
                            gvt[j] = gh * decay
                        _put(gxr[j0:j1], gx_tile, n, stream)
                        j0 = j1
            if stream:
                _store_fence()

    _KERNELS[key] = backward
    return backward


def _constants(p: NeuronConfig, dtype) -> np.ndarray:
    """Every scalar the kernels use, in the array dtype (so no float64 promotion)."""
    dh_dx = 1.0 / p.tau if p.decay_input else 1.0
    return np.array([p.tau, p.threshold, p.v_reset, 1.0, 0.0, p.surrogate.alpha, 2.0, 0.5 * math.pi,
                     dh_dx, 1.0 - 1.0 / p.tau, 0.0 if p.detach_reset else 1.0], dtype=dtype)


# The Python around the kernels is what a training step pays with caches
# cold (the kernels have just streamed tens of megabytes through them): one
# call of lif() forward + backward measured 0.14 ms warm, 0.7 ms cold. So the
# launchers look up one cached plan per call (kernel, constants) and set
# numba's thread count only when it changes (numba.set_num_threads alone
# measured 0.09 ms cold).
@functools.lru_cache(maxsize=512)
def _forward_plan(p: NeuronConfig, dtype: np.dtype, store_h: bool, store_v: bool):
    kernel = forward_kernel(p.hard_reset, p.decay_input, p.refractory > 0, store_h, store_v)
    return kernel, _constants(p, dtype), _UNUSED[dtype]


@functools.lru_cache(maxsize=512)
def _backward_plan(p: NeuronConfig, dtype: np.dtype, has_grad_v: bool):
    kernel = backward_kernel(SURROGATE_CODES[p.surrogate.name], p.hard_reset, p.refractory > 0,
                             has_grad_v)
    return kernel, _constants(p, dtype), _UNUSED[dtype]


# Stand-ins for the arrays a variant does not use (never read or written);
# zeros, because casting uninitialised memory warns.
_UNUSED = {np.dtype(d): np.zeros((1, 1), d) for d in (np.float32, np.float64, np.uint8)}
_UNUSED_MASK = _UNUSED[np.dtype(np.uint8)]

# Below this many elements a second thread costs more to wake than it saves
# (and small batches are the common case when training on tabular data).
PARALLEL_MIN_ELEMENTS = 1 << 18


def _partition(n_elements: int) -> int:
    """Set numba's threads for a call over ``n_elements``; returns the column chunks (one per thread)."""
    if n_elements < PARALLEL_MIN_ELEMENTS:
        n = 1
    else:
        # Follow torch's thread budget, which joblib/threadpoolctl and
        # OMP_NUM_THREADS already limit inside parallel searches.
        n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    # numba's thread count is per calling thread, and so is this record of
    # what was last set (another library setting it in between changes the
    # speed, not the result: the chunks are fixed here)
    if getattr(_threads_set, "n", None) != n:
        numba.set_num_threads(n)
        _threads_set.n = n
    return n


_threads_set = threading.local()


def forward_into(x: np.ndarray, spikes: np.ndarray, h, held, v, p: NeuronConfig) -> None:
    """Run the forward kernel of ``p`` on ``x`` ``[T, N]``, writing into the given arrays.

    Parameters
    ----------
    x, spikes : numpy.ndarray of shape ``[T, N]``, C-contiguous, float32 or float64
        Input current and the spike output (same dtype).
    h, held, v : numpy.ndarray or None
        Where to store the pre-reset potential (x's dtype), the refractory
        mask (uint8; only with ``h`` and a refractory period) and the
        post-reset potential; ``None``: not stored.
    p : NeuronConfig
        The neuron.
    """
    kernel, c, unused = _forward_plan(p, x.dtype, h is not None, v is not None)
    kernel(x, spikes, unused if h is None else h, _UNUSED_MASK if held is None else held,
           unused if v is None else v, c, p.refractory, _partition(x.size),
           BLOCK_BYTES // x.itemsize, x.nbytes >= STREAM_MIN_BYTES)


def backward_into(grad_s: np.ndarray, grad_v, h: np.ndarray, held, grad_x: np.ndarray,
                  p: NeuronConfig) -> None:
    """Run the backward kernel of ``p``: the input gradient into ``grad_x``.

    Parameters
    ----------
    grad_s : numpy.ndarray of shape ``[T, N]``
        Gradient of the loss with respect to the spikes.
    grad_v : numpy.ndarray of shape ``[T, N]`` or None
        Gradient with respect to the post-reset potential; ``None``: zero.
    h, held : numpy.ndarray
        What :func:`forward_into` stored (``held`` only with a refractory period, else ``None``).
    grad_x : numpy.ndarray of shape ``[T, N]``
        Output: gradient with respect to the input.
    p : NeuronConfig
        The neuron the forward ran.
    """
    kernel, c, unused = _backward_plan(p, h.dtype, grad_v is not None)
    kernel(grad_s, unused if grad_v is None else grad_v, h, _UNUSED_MASK if held is None else held,
           grad_x, c, _partition(h.size), BLOCK_BYTES // h.itemsize, h.nbytes >= STREAM_MIN_BYTES)


def _page_aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialised array starting on a 4 KiB page boundary.

    numpy's own large arrays start 16 bytes past a page, so none of their
    rows would start on a 64-byte line and every streaming store run would
    begin with a partial line (stored the ordinary way).
    """
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + 4096, np.uint8)
    offset = -raw.ctypes.data % 4096
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


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

    def array(self, shape, dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, pooled when large."""
        dtype = np.dtype(dtype)
        if math.prod(shape) * dtype.itemsize < self.min_bytes:
            return np.empty(shape, dtype)
        shape = tuple(shape)
        with self._lock:
            for array in self._buffers:
                # unused: referenced only by the pool's list, this loop and getrefcount itself
                if array.shape == shape and array.dtype == dtype and sys.getrefcount(array) <= 3:
                    return array
            array = _page_aligned_empty(shape, dtype)
            self._buffers.append(array)
            self._evict()
            return array

    def empty(self, shape, dtype) -> torch.Tensor:
        """Like :meth:`array`, as a tensor sharing the array's memory."""
        return torch.from_numpy(self.array(shape, dtype))

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


def _tensor(array):
    return None if array is None else torch.from_numpy(array)


def _run_forward(x: torch.Tensor, p: NeuronConfig, store_h: bool, return_v: bool):
    """Run the forward kernel on ``x`` ``[T, N]``; returns spikes, h, held, v (None where not stored)."""
    xa = x.detach().numpy()
    shape, dtype = xa.shape, xa.dtype
    spikes = POOL.array(shape, dtype)
    h = POOL.array(shape, dtype) if store_h else None
    held = POOL.array(shape, np.uint8) if (store_h and p.refractory) else None
    v = POOL.array(shape, dtype) if return_v else None
    forward_into(xa, spikes, h, held, v, p)
    return torch.from_numpy(spikes), _tensor(h), _tensor(held), _tensor(v)


class LIFFunction(torch.autograd.Function):
    """Autograd wrapper around the fused numba kernels (input ``[T, N]``)."""

    @staticmethod
    def forward(ctx, x, p: NeuronConfig, return_v: bool):
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
        h = h.numpy()
        # grad_s is None only when the spikes feed nothing differentiable
        gs = grad_s.detach().contiguous().numpy() if grad_s is not None else np.zeros_like(h)
        gv = grad_v.detach().contiguous().numpy() if grad_v is not None else None
        grad_x = POOL.array(h.shape, h.dtype)
        backward_into(gs, gv, h, held.numpy() if p.refractory else None, grad_x, p)
        return torch.from_numpy(grad_x), None, None


class RepeatedInputLIF(torch.autograd.Function):
    """The LIF of one input repeated at every step, keeping that input instead of ``T`` potentials.

    A directly encoded image drives the first neurons with the same current
    at every step (``x`` expanded over time, no copy). Keeping the pre-reset
    potentials would keep ``T`` full tensors; this keeps the one input and
    runs the forward kernel again in backward (the same kernel on the same
    input: the same potentials, bit for bit).
    """

    @staticmethod
    def forward(ctx, x, p: NeuronConfig):
        ctx.p = p
        ctx.save_for_backward(x)  # a stride-0 view: its storage is one step's
        return run_fused(x, p, False, LIFFunction, _run_forward)[0]

    @staticmethod
    def backward(ctx, grad_spikes):
        x, = ctx.saved_tensors
        with torch.enable_grad():
            x = x.detach().requires_grad_()
            spikes, _ = run_fused(x, ctx.p, False, LIFFunction, _run_forward)
        grad_x, = torch.autograd.grad(spikes, x, grad_spikes)
        return grad_x, None


def lif_cpu(x: torch.Tensor, p: NeuronConfig, return_v: bool = False):
    """Fused LIF over ``x`` of shape ``[T, ...]``; returns ``(spikes, v or None)``."""
    if (x.dim() > 1 and x.shape[0] > 1 and x.stride(0) == 0 and not return_v
            and torch.is_grad_enabled() and x.requires_grad):
        return RepeatedInputLIF.apply(x, p), None
    return run_fused(x, p, return_v, LIFFunction, _run_forward)
