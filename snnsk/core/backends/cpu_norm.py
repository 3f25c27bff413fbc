"""Backward of a LIF neuron driven by batch norm, recomputing the norm's output on the fly (numba).

:mod:`snnsk.core.fused_norm` keeps, of ``S = LIF(BN(z))``, only the norm's input
``z``, the per-channel affine map of the normalisation (``y = α_c z + β_c``)
and the spikes as int8. This kernel returns ``∂L/∂y`` from those and
``∂L/∂S``: for each block of columns it walks time forward, rebuilding the
pre-reset potentials ``H`` in a block-local buffer (the resets follow the
saved spikes, so the recomputation takes exactly the forward's branches even
where ``α_c z + β_c`` rounds differently from the norm's own kernel), then
walks time backward exactly as :func:`snnsk.core.backends.cpu.backward_kernel`
does. One pass over ``z``, the spikes and the gradients; ``H`` never leaves
the cache.

Channel ``c`` of column ``j`` of the ``[T, N]`` rows is ``(j // inner) % C``:
``inner = 1`` when the channels are innermost in memory (tokens ``[..., C]``,
channels-last images), the spatial size for ``[T·B, C, H, W]`` in the
contiguous layout.
"""

from __future__ import annotations

import functools

import numpy as np

from ..neuron_config import NeuronConfig
from ._fused import SURROGATE_CODES
from .cpu import NUMBA_ERROR, _constants, _partition

if NUMBA_ERROR is None:
    from numba import njit, prange

    from .cpu import _chunk_bounds, _surrogate_grad

# Bytes of the block-local potentials (T rows of the block): kept in L2, as the LIF kernels' state.
BLOCK_BYTES = 256 * 1024

_KERNELS: dict = {}


def backward_kernel(code: int, hard: bool, decay_input: bool):
    """The compiled kernel for one surrogate and reset (no refractory period)."""
    key = (code, hard, decay_input)
    if key in _KERNELS:
        return _KERNELS[key]

    @njit(parallel=True, nogil=True, cache=True)
    def backward(z, spikes, grad_s, grad_y, scale, shift, inner, c, n_chunks, block):
        T, N = z.shape
        C = scale.shape[0]
        tau, threshold, v_reset, one, zero = c[0], c[1], c[2], c[3], c[4]
        alpha, two, half_pi, dh_dx, decay, through_reset = c[5], c[6], c[7], c[8], c[9], c[10]
        for chunk in prange(n_chunks):
            start, stop = _chunk_bounds(N, chunk, n_chunks)
            size = max(0, min(block, stop - start))
            h = np.empty((T, size), dtype=z.dtype)
            state = np.empty(size, dtype=z.dtype)  # V[t] going forward, dL/dV[t] going back
            a = np.empty(size, dtype=z.dtype)
            b = np.empty(size, dtype=z.dtype)
            for lo in range(start, stop, block):
                hi = min(lo + block, stop)
                width = hi - lo
                # channel of the block's first column, then counted along (no division per column)
                channel, run = (lo // inner) % C, lo % inner
                for j in range(width):
                    a[j] = scale[channel]
                    b[j] = shift[channel]
                    state[j] = v_reset
                    run += 1
                    if run == inner:
                        run = 0
                        channel += 1
                        if channel == C:
                            channel = 0
                for t in range(T):
                    zt, st, ht = z[t, lo:hi], spikes[t, lo:hi], h[t]
                    for j in range(width):
                        y = zt[j] * a[j] + b[j]
                        v = state[j]
                        if decay_input:
                            hj = v + (y - (v - v_reset)) / tau
                        else:
                            hj = v - (v - v_reset) / tau + y
                        ht[j] = hj
                        if hard:
                            state[j] = v_reset if st[j] != 0 else hj
                        else:
                            state[j] = hj - threshold if st[j] != 0 else hj
                for j in range(width):
                    state[j] = zero
                for t in range(T - 1, -1, -1):
                    st, ht, gst, gyt = spikes[t, lo:hi], h[t], grad_s[t, lo:hi], grad_y[t, lo:hi]
                    for j in range(width):
                        hj = ht[j]
                        sg = _surrogate_grad(code, alpha, hj - threshold, one, two, half_pi)
                        # through_reset is 0 with detach_reset: the reset carries no gradient
                        if hard:
                            quiet = zero if st[j] != 0 else one
                            dv_dh = quiet + through_reset * (v_reset - hj) * sg
                        else:
                            dv_dh = one - through_reset * threshold * sg
                        gh = gst[j] * sg + state[j] * dv_dh
                        gyt[j] = gh * dh_dx
                        state[j] = gh * decay

    _KERNELS[key] = backward
    return backward


@functools.lru_cache(maxsize=256)
def _plan(p: NeuronConfig, dtype: np.dtype):
    kernel = backward_kernel(SURROGATE_CODES[p.surrogate.name], p.hard_reset, p.decay_input)
    return kernel, _constants(p, dtype)


def normalised_backward_into(z: np.ndarray, spikes: np.ndarray, grad_s: np.ndarray,
                             grad_y: np.ndarray, scale: np.ndarray, shift: np.ndarray,
                             inner: int, p: NeuronConfig) -> None:
    """``∂L/∂y`` of ``S = LIF(y)``, ``y = scale_c · z + shift_c``, into ``grad_y``.

    Parameters
    ----------
    z, grad_s, grad_y : numpy.ndarray of shape ``[T, N]``, C-contiguous, one float dtype
        The norm's input, the spike gradient and the output.
    spikes : numpy.ndarray of shape ``[T, N]``, int8
        The spikes of the forward pass.
    scale, shift : numpy.ndarray of shape ``[C]``
        The normalisation as a per-channel affine map, in ``z``'s dtype.
    inner : int
        Columns per channel run (see the module docstring).
    p : NeuronConfig
        The neuron (no refractory period).
    """
    kernel, c = _plan(p, z.dtype)
    T = z.shape[0]
    block = max(16, BLOCK_BYTES // (z.itemsize * max(T, 1)))
    kernel(z, spikes, grad_s, grad_y, scale, shift, inner, c, _partition(z.size), block)
