"""Layers of the probabilistic spiking state-space model (P-SpikeSSM).

Tensors are time first, ``[L, B, H]``: the sequence axis is the spiking
model's time axis, so the LIF-based variant runs :class:`snnsk.core.neurons.LIF`
along it unchanged.

* :class:`S4DKernel` — a diagonal state-space model (S4D) per channel,
  discretised with zero-order hold and materialised as a length-``L``
  convolution kernel for the whole sequence at once (Vandermonde product).
* :func:`fft_conv` — that kernel applied as a long convolution by FFT,
  ``O(L log L)``; causal, or bidirectional with a second kernel read backwards.
  :func:`ssm_recurrence` is the same map computed step by step (the streaming
  form, and the independent reference the tests hold the FFT path to).
* :class:`SpikeSampler` — Bernoulli spikes with probability ``clamp(p, 0, 1)``
  and the expectation-based surrogate gradient.
* :class:`SpikeMixer`, :class:`ClampFuse`, :class:`ChannelAffine` — the
  spike-mixing, residual-fusing and per-channel scaling steps of a block.
* :class:`MaskedLIF` — the LIF neuron of the comparison variant, taking the
  same padding mask as the sampler.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_positive_int, is_int
from ..analysis.opcount import count_fanout, counting
from ..core.neuron_config import NeuronConfig
from ..core.neurons import LIF, SpikingLayer

try:  # numba is a dependency; without it (a broken install) the torch expressions serve
    import numba
    from numba import njit, prange
except Exception:  # pragma: no cover - exercised only on broken installs
    numba = None

# outside the guard: a renamed helper must fail loudly, not silently drop every
# compiled kernel here (which once cost the SSM 2-3x of its speed unnoticed)
from ..core.backends.cpu import POOL  # noqa: E402
from ..core.backends.cpu import _partition as _set_threads  # noqa: E402  (sets numba's threads)

__all__ = ["S4DKernel", "S4DConv", "fft_conv", "fft_size", "ssm_recurrence", "SpikeSampler", "SAMPLING_MODES",
           "SAMPLER_NEURON", "check_sampling", "check_state_size",
           "bernoulli_spikes", "threshold_spikes", "mean_field", "counter_uniform", "draw_key", "MeanFieldNeuron",
           "SpikeMixer", "ClampFuse", "ChannelAffine", "MaskedLIF", "KERNEL_INITS"]

#: Initialisations of the diagonal state matrix A (S4D paper, section 4).
KERNEL_INITS = ("inv", "lin")
#: How a :class:`SpikeSampler` turns probabilities into outputs at inference.
SAMPLING_MODES = ("bernoulli", "expected", "threshold")


class S4DKernel(nn.Module):
    """Diagonal state-space convolution kernels, one SSM per channel.

    For channel ``h`` the continuous system ``x' = A x + B u``, ``y = Re(C x)``
    has ``d_state // 2`` complex modes (the other half are their conjugates,
    hence the factor 2 below) and a learned step ``dt``. Zero-order hold gives
    ``dA = exp(dt A)``, ``dB = (dA - 1) / A · B`` and the kernel
    ``K[l] = 2 Re(Σ_n C_n dB_n dA_n^l)``. ``B`` is fixed to one (its scale is
    absorbed by ``C``), as in S4D.

    Parameters
    ----------
    embed_dim : int
        Channels ``H``; each gets its own SSM.
    d_state : int, default=64
        State size ``N`` (even; ``N / 2`` complex modes).
    channels : int, default=1
        Independent kernels per channel (2 for a bidirectional convolution).
    init : {'inv', 'lin'}, default='inv'
        S4D-Inv (``Im A_n = N/π (N / (2n + 1) - 1)``) or S4D-Lin
        (``Im A_n = π n``); ``Re A_n = -1/2`` for both.
    dt_min, dt_max : float, default=1e-3, 1e-1
        Range of the log-uniform initial step.
    generator : torch.Generator, optional
        Source of the random initial ``dt`` and ``C``.
    """

    def __init__(self, embed_dim: int, d_state: int = 64, channels: int = 1, init: str = "inv",
                 dt_min: float = 1e-3, dt_max: float = 1e-1, generator=None):
        super().__init__()
        embed_dim = check_positive_int("embed_dim", embed_dim)
        channels = check_positive_int("channels", channels)
        d_state = check_state_size("d_state", d_state)
        if init not in KERNEL_INITS:
            raise ValueError(f"init must be one of {', '.join(KERNEL_INITS)}, got {init!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {dt_min!r}, {dt_max!r}")
        modes = d_state // 2
        n = torch.arange(modes, dtype=torch.float32)
        if init == "inv":
            imag = d_state / math.pi * (d_state / (2 * n + 1) - 1)
        else:
            imag = math.pi * n
        u = torch.rand(embed_dim, generator=generator)
        log_dt = math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))
        c = torch.randn(channels, embed_dim, modes, 2, generator=generator) * math.sqrt(0.5)
        self.log_dt = nn.Parameter(log_dt)
        # Re A = -exp(.) keeps every mode stable whatever the optimiser does
        self.log_neg_a_real = nn.Parameter(torch.full((embed_dim, modes), math.log(0.5)))
        self.a_imag = nn.Parameter(imag.repeat(embed_dim, 1))
        self.c = nn.Parameter(c)
        self.d_state = d_state

    def ssm_parameters(self):
        """The parameters of the dynamics (``dt`` and ``A``), trained with their own learning rate."""
        return [self.log_dt, self.log_neg_a_real, self.a_imag]

    def _dt_a(self):
        """``(A, dt·A)``, complex ``[H, N/2]``: what both the recurrence and the kernel start from."""
        a = torch.complex(-torch.exp(self.log_neg_a_real), self.a_imag)
        return a, torch.exp(self.log_dt)[:, None] * a

    def discretize(self):
        """Zero-order-hold discretisation: ``(dA, dB, C)``, complex, ``[H, N/2]`` (C: ``[c, H, N/2]``)."""
        a, dt_a = self._dt_a()
        d_a = torch.exp(dt_a)
        return d_a, (d_a - 1) / a, torch.view_as_complex(self.c)

    def forward(self, length: int) -> torch.Tensor:
        """The kernels ``[channels, H, length]`` (real)."""
        check_positive_int("length", length)
        a, dt_a = self._dt_a()
        weights = torch.view_as_complex(self.c) * (torch.exp(dt_a) - 1) / a
        # Vandermonde product K[l] = Σ_n w_n dA_n^l, with l = a·S + b split into blocks of
        # S ≈ √L steps: dA^l = dA^(a·S) · dA^b turns it into one batched matrix product
        # over N, with intermediates of size N·√L instead of N·L per channel (which, at
        # long L, left the cache and made the kernel, not the FFT, the cost that grew).
        block = math.isqrt(length - 1) + 1
        n_blocks = -(-length // block)
        real = dt_a.real.dtype
        fine = torch.exp(dt_a[..., None] * torch.arange(block, device=dt_a.device, dtype=real))
        coarse = torch.exp(dt_a[..., None]
                           * (torch.arange(n_blocks, device=dt_a.device, dtype=real) * block))
        blocks = torch.einsum("chna,hnb->chab", weights[..., None] * coarse, fine)
        return 2 * blocks.reshape(*blocks.shape[:2], -1)[..., :length].real


def fft_size(length: int) -> int:
    """FFT length for a linear convolution of two length-``L`` sequences.

    A circular convolution of length ``n`` equals the linear one on the
    first ``L`` outputs once ``n >= 2L - 1``; the smallest such ``n`` whose
    factors are all 2, 3 and 5 is used (``2L`` itself can be twice as slow,
    e.g. 2·98 = 196 against 200).
    """
    return scipy.fft.next_fast_len(2 * length - 1, real=True)


def _rfft_rows(x: np.ndarray, n: int) -> np.ndarray:
    """Real FFT of each row of ``x`` (already zero-padded to ``n``), on two cores.

    Measured on the two-core CPU this was tuned on (8192 rows): torch's
    transform is faster below ``n = 1024`` (0.4 against 0.5 ms at n = 80), scipy's
    pocketfft above it (15 against 30 ms at n = 2048).
    """
    if n < 1024:
        return torch.fft.rfft(torch.from_numpy(x), dim=-1).numpy()
    return scipy.fft.rfft(x, axis=-1, workers=max(1, torch.get_num_threads()))


def _irfft_rows(x: np.ndarray, n: int) -> np.ndarray:
    if n < 1024:
        return torch.fft.irfft(torch.from_numpy(x), n=n, dim=-1).numpy()
    return scipy.fft.irfft(x, n=n, axis=-1, workers=max(1, torch.get_num_threads()))


if numba is not None:

    @njit(parallel=True, cache=True)
    def _transpose_time(time_first, rows, to_rows):
        # time_first [L, M] <-> rows [M, n] (one series per row, zero after step L), in square
        # tiles of 16 steps x 16 series: a tile touches 16 lines on each side, where a column
        # strip over all L steps touched a new page (and TLB entry) at every step
        length, cols = time_first.shape
        n = rows.shape[1]
        tile = 16
        col_tiles = (cols + tile - 1) // tile
        step_tiles = (length + tile - 1) // tile
        for job in prange(col_tiles * step_tiles):
            m0 = (job // step_tiles) * tile
            t0 = (job % step_tiles) * tile
            m1 = min(cols, m0 + tile)
            t1 = min(length, t0 + tile)
            if to_rows:
                for m in range(m0, m1):
                    for t in range(t0, t1):
                        rows[m, t] = time_first[t, m]
            else:
                for t in range(t0, t1):
                    for m in range(m0, m1):
                        time_first[t, m] = rows[m, t]
        if to_rows and n > length:
            for m in prange(cols):
                for t in range(length, n):
                    rows[m, t] = 0

    @njit(parallel=True, cache=True)
    def _spectral_product(u_hat, spectrum, out):
        # out[b, c, h] = u_hat[b, h] · spectrum[c, h] (frequencies along the last axis)
        batch, width, freqs = u_hat.shape
        channels = spectrum.shape[0]
        for bh in prange(batch * width):
            b = bh // width
            h = bh % width
            for c in range(channels):
                for f in range(freqs):
                    out[b, c, h, f] = u_hat[b, h, f] * spectrum[c, h, f]

    @njit(parallel=True, cache=True)
    def _spectral_adjoint(u_hat, spectrum, g_hat, grad_u_hat, grad_spectrum, want_u, want_k):
        # grad_u_hat[b, h] = Σ_c g_hat[b, c, h] conj(spectrum[c, h]);
        # grad_spectrum[c, h] = Σ_b conj(u_hat[b, h]) g_hat[b, c, h]. One read of g_hat for
        # both; a thread owns whole channels h, so the batch sum needs no atomics.
        batch, width, freqs = u_hat.shape
        channels = spectrum.shape[0]
        for h in prange(width):
            for b in range(batch):
                if want_u:
                    for f in range(freqs):
                        acc = g_hat[b, 0, h, f] * spectrum[0, h, f].conjugate()
                        for c in range(1, channels):
                            acc += g_hat[b, c, h, f] * spectrum[c, h, f].conjugate()
                        grad_u_hat[b, h, f] = acc
                if want_k:
                    for c in range(channels):
                        for f in range(freqs):
                            grad_spectrum[c, h, f] += u_hat[b, h, f].conjugate() * g_hat[b, c, h, f]


def _kernel_spectrum(kernel: torch.Tensor, n: int) -> torch.Tensor:
    """``rfft`` of the kernels ``[c, H, L]``; the backward kernel (c = 1) conjugated:
    reading the sequence backwards is a correlation, the conjugate spectrum."""
    spectrum = torch.fft.rfft(kernel.detach(), n=n, dim=-1)
    if kernel.shape[0] == 2:
        spectrum = torch.stack([spectrum[0], spectrum[1].conj()])
    return spectrum.resolve_conj()


def _spectral_to_kernel(grad_spectrum: torch.Tensor, n: int, length: int) -> torch.Tensor:
    """The kernel gradient ``[c, H, L]`` from ``Σ_b conj(U) G`` (per kernel, ``[c, H, F]``)."""
    if grad_spectrum.shape[0] == 2:
        # the backward kernel's correlation runs the other way: the conjugate
        grad_spectrum = torch.stack([grad_spectrum[0], grad_spectrum[1].conj()])
    return torch.fft.irfft(grad_spectrum, n=n, dim=-1)[..., :length]


def _spectra_of_series(time_first: torch.Tensor, n: int) -> np.ndarray:
    """``rfft`` (size ``n``) of every series of a time-first ``[L, ...]`` tensor: ``[M, n // 2 + 1]``."""
    length = time_first.shape[0]
    # pooled: a fresh buffer this size (64 MiB at L = 1024, batch 64, width 128) page-faults on
    # every first touch, and it is needed only until its transform is taken
    rows = POOL.array((time_first[0].numel(), n), np.float32)
    _transpose_time(time_first.contiguous().reshape(length, -1).numpy(), rows, True)
    return _rfft_rows(rows, n)


def _series_of_spectra(spectra: np.ndarray, n: int, length: int) -> torch.Tensor:
    """The first ``length`` steps of ``irfft`` (size ``n``) of ``[M, F]`` spectra, time first ``[L, M]``."""
    rows = _irfft_rows(spectra, n)
    out = POOL.empty((length, spectra.shape[0]), np.float32)
    _transpose_time(out.numpy(), rows, False)
    return out


class _SpectralConvCPU(torch.autograd.Function):
    """The convolution on CPU: compiled transposes, FFTs along contiguous rows.

    An FFT along the time axis of a time-first ``[L, B·H]`` tensor is strided
    and measured 3-8x slower than the same transforms along contiguous rows
    (with the zero padding already in place: torch pads internally with one
    more copy); a cache-blocked transpose costs less than the difference.
    """

    @staticmethod
    def forward(ctx, u, kernel):
        length, batch, width = u.shape
        channels = kernel.shape[0]
        n = fft_size(length)
        _set_threads(u.numel())
        u_hat = _spectra_of_series(u.detach(), n).reshape(batch, width, -1)
        spectrum = _kernel_spectrum(kernel, n).numpy()
        y_hat = np.empty((batch, channels, width, u_hat.shape[-1]), np.complex64)
        _spectral_product(u_hat, spectrum, y_hat)
        out = _series_of_spectra(y_hat.reshape(batch * channels * width, -1), n, length)
        ctx.n, ctx.u_hat, ctx.spectrum = n, u_hat, spectrum
        return out.reshape(length, batch, channels * width)

    @staticmethod
    def backward(ctx, grad):
        n, u_hat, spectrum = ctx.n, ctx.u_hat, ctx.spectrum
        length = grad.shape[0]
        batch, width, freqs = u_hat.shape
        channels = spectrum.shape[0]
        _set_threads(grad.numel())
        g_hat = _spectra_of_series(grad, n).reshape(batch, channels, width, freqs)
        want_u, want_k = ctx.needs_input_grad
        grad_u_hat = np.empty((batch, width, freqs) if want_u else (1, 1, 1), np.complex64)
        grad_spectrum = np.zeros((channels, width, freqs), np.complex64)
        _spectral_adjoint(u_hat, spectrum, g_hat, grad_u_hat, grad_spectrum, want_u, want_k)
        grad_u = grad_kernel = None
        if want_u:
            grad_u = _series_of_spectra(grad_u_hat.reshape(batch * width, freqs), n, length)
            grad_u = grad_u.reshape(length, batch, width)
        if want_k:
            grad_kernel = _spectral_to_kernel(torch.from_numpy(grad_spectrum), n, length)
        return grad_u, grad_kernel


class _SpectralConv(torch.autograd.Function):
    """``y = irfft(rfft(u) · spectrum)`` along time in torch (any device), hand-differentiated.

    ``u`` is ``[L, B, H]``; ``kernel`` ``[c, H, L]`` (real, the skip term
    already at lag 0). Kernel 0 is causal; kernel 1 (bidirectional) reads the
    sequence backwards, which in the frequency domain is the conjugate of its
    spectrum: one transform of ``u`` serves both directions and nothing is
    flipped. The backward uses the same transforms: ``∂u`` is the adjoint
    (the conjugate spectrum, both directions summed before one inverse
    transform) and ``∂K`` a correlation reduced over the batch in the
    frequency domain, so autograd never differentiates through an FFT (its
    ``rfft`` backward is a full complex transform of twice the size).
    """

    @staticmethod
    def forward(ctx, u, kernel):
        length, batch, width = u.shape
        channels = kernel.shape[0]
        n = fft_size(length)
        spectrum = _kernel_spectrum(kernel, n).permute(2, 0, 1)  # [F, c, H]
        u_hat = torch.fft.rfft(u.detach(), n=n, dim=0)  # [F, B, H]
        y = torch.fft.irfft(u_hat[:, :, None, :] * spectrum[:, None], n=n, dim=0)[:length]
        ctx.n, ctx.u_hat, ctx.spectrum = n, u_hat, spectrum
        return y.reshape(length, batch, channels * width)

    @staticmethod
    def backward(ctx, grad):
        n, u_hat, spectrum = ctx.n, ctx.u_hat, ctx.spectrum
        channels = spectrum.shape[1]
        length, batch = grad.shape[:2]
        g_hat = torch.fft.rfft(grad.reshape(length, batch, channels, -1), n=n, dim=0)
        grad_u = grad_kernel = None
        if ctx.needs_input_grad[0]:
            total = (g_hat * spectrum[:, None].conj()).sum(2)
            grad_u = torch.fft.irfft(total, n=n, dim=0)[:length]
        if ctx.needs_input_grad[1]:
            per_kernel = (u_hat.conj()[:, :, None] * g_hat).sum(1)  # [F, c, H]
            grad_kernel = _spectral_to_kernel(per_kernel.permute(1, 2, 0), n, length)
        return grad_u, grad_kernel


def fft_conv(u: torch.Tensor, kernel: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Long convolution of ``u`` with SSM kernels, by FFT in ``O(L log L)``.

    Parameters
    ----------
    u : torch.Tensor ``[L, B, H]``
        Input sequence, time first.
    kernel : torch.Tensor ``[c, H, L']`` with ``L' >= L``
        ``c = 1``: causal, ``y[t] = Σ_{j <= t} K[t - j] u[j]``. ``c = 2``: the
        second kernel reads the sequence backwards,
        ``y_b[t] = Σ_{j >= t} K_b[j - t] u[j]`` (bidirectional).
    d : torch.Tensor ``[c, H]``
        Skip connection, ``+ D ⊙ u`` for each kernel.

    Returns
    -------
    torch.Tensor ``[L, B, c·H]``
        The forward outputs, then (bidirectional) the backward ones.
        Zero-padding ``u`` at the end leaves every earlier output unchanged
        in both directions, which makes padded batches safe.

    Notes
    -----
    The transforms have length :func:`fft_size` ``(L)``; on CPU they run in
    scipy (float32 and float64), elsewhere in ``torch.fft``. Half types are
    transformed in float32 (a long FFT loses too much in 16 bits).
    """
    length = u.shape[0]
    work = torch.promote_types(u.dtype, torch.float32)
    kernel = kernel[..., :length].to(work)
    # D ⊙ u is the kernel's lag 0: fold it in, one term less to compute and differentiate
    kernel = torch.cat([kernel[..., :1] + d.to(work)[..., None], kernel[..., 1:]], dim=-1)
    u = u.to(work)
    if numba is not None and u.device.type == "cpu" and work == torch.float32:
        return _SpectralConvCPU.apply(u, kernel).to(u.dtype)
    return _SpectralConv.apply(u, kernel).to(u.dtype)


def ssm_recurrence(u: torch.Tensor, kernel: S4DKernel, d: torch.Tensor) -> torch.Tensor:
    """The map of :func:`fft_conv` computed as a recurrence, one step at a time.

    ``x[t] = dA ⊙ x[t-1] + dB · u[t]``, ``y[t] = 2 Re(C · x[t]) + D ⊙ u[t]``
    (the backward kernel runs the same recurrence from the end). ``O(L N)``
    per channel and sequential: the streaming form of the layer, and an
    implementation independent of the kernel materialisation and the FFT.
    """
    d_a, d_b, c = kernel.discretize()
    outputs = []
    for direction in range(c.shape[0]):
        x = u.flip(0) if direction else u
        state = torch.zeros(u.shape[1], *d_a.shape, dtype=d_a.dtype, device=u.device)
        ys = []
        for t in range(u.shape[0]):
            state = d_a * state + d_b * x[t][..., None]
            ys.append(2 * (state * c[direction]).sum(-1).real + d[direction] * x[t])
        y = torch.stack(ys)
        outputs.append(y.flip(0) if direction else y)
    return torch.cat(outputs, dim=-1)


class S4DConv(nn.Module):
    """An :class:`S4DKernel` applied by :func:`fft_conv`, with its skip term ``D``.

    Input ``[L, B, H]``; output ``[L, B, H]``, or ``[L, B, 2H]`` when
    ``bidirectional`` (forward channels, then backward ones).
    """

    def __init__(self, embed_dim: int, d_state: int = 64, bidirectional: bool = False,
                 init: str = "inv", dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        channels = 2 if bidirectional else 1
        self.kernel = S4DKernel(embed_dim, d_state, channels=channels, init=init, dt_min=dt_min,
                                dt_max=dt_max)
        self.d = nn.Parameter(torch.randn(channels, embed_dim))
        self.bidirectional = bidirectional

    @property
    def out_channels(self) -> int:
        return self.d.numel()

    def ssm_parameters(self):
        return self.kernel.ssm_parameters()

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if counting():
            self._count_operations(u)
        return fft_conv(u, self.kernel(u.shape[0]), self.d)

    def _count_operations(self, u: torch.Tensor):
        # Step t reaches the L - t later outputs (the backward kernel: the t + 1 earlier ones),
        # its own included, where D is added too: the event-driven cost of the convolution.
        steps = torch.arange(u.shape[0], device=u.device)
        reach = u.shape[0] - steps
        if self.bidirectional:
            reach = reach + steps + 1
        count_fanout("convolution", u, reach.reshape(-1, *([1] * (u.dim() - 1))))


def _apply_mask(spikes: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return spikes
    return spikes * mask.reshape(*mask.shape, *([1] * (spikes.dim() - 2))).to(spikes.dtype)


# ------------------------------------------------------------------ counter-based uniforms
# The samplers draw their uniforms from a counter-based generator: element i of a call
# with key k gets the top 24 bits of splitmix64(k + i·γ) (Steele, Lea & Flood 2014; the
# generator of java.util.SplittableRandom), scaled to [0, 1). torch.rand's float32 has
# the same 24-bit resolution, so P(u < p) = ceil(2^24 p) / 2^24, the Bernoulli(p) of
# torch.rand to within 2^-24. A counter-based stream can be computed in any order:
# a parallel compiled kernel produces it at ~0.4 ns per number on two cores where
# torch.rand (a sequential Mersenne twister) takes ~4 ns, and the torch expressions
# below give the same numbers bit for bit, on any device.
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def _mix64(z: int) -> int:
    """splitmix64's finaliser on a Python int (64-bit unsigned arithmetic)."""
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _as_int64(z: int) -> int:
    return z - (1 << 64) if z >= 1 << 63 else z


def _lshr(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch has no unsigned 64-bit shift)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def draw_key() -> int:
    """A fresh 64-bit key for :func:`counter_uniform`, from torch's global generator.

    Drawing it from torch's RNG makes the samplers follow ``torch.manual_seed``
    (and so the estimators' ``random_state``); hashing it keeps the streams of
    successive keys apart.
    """
    seed = int(torch.randint(-(1 << 62), 1 << 62, (1,), dtype=torch.int64))
    return _mix64(seed & _MASK64)


def counter_uniform(key: int, shape, device=None) -> torch.Tensor:
    """Uniform float32 numbers in [0, 1) from the samplers' counter-based generator.

    Element ``i`` (row-major) is the top 24 bits of ``splitmix64(key + i·γ)``
    times ``2^-24``: the reference the compiled sampler kernel is tested
    against, and the sampler's path on devices without it.
    """
    count = math.prod(shape)
    z = torch.arange(count, dtype=torch.int64, device=device) * _as_int64(_GAMMA) + _as_int64(key)
    # int64 products wrap modulo 2^64, which is exactly the unsigned arithmetic needed
    z = (z ^ _lshr(z, 30)) * _as_int64(_MIX1)
    z = (z ^ _lshr(z, 27)) * _as_int64(_MIX2)
    z = z ^ _lshr(z, 31)
    return (_lshr(z, 40).to(torch.float32) * 2.0 ** -24).reshape(shape)


if numba is not None:

    @njit(inline="always", cache=True)
    def _uniform(key, index):
        z = key + index * np.uint64(_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
        z = z ^ (z >> np.uint64(31))
        return np.float32(z >> np.uint64(40)) * np.float32(2.0 ** -24)

    @njit(parallel=True, cache=True)
    def _bernoulli_rows(p, out, key, mask, masked):
        # p, out [rows, width]; row r is (step, sample) r of [L, B]; mask [rows]
        rows, width = p.shape
        key = np.uint64(key)
        for r in prange(rows):
            base = np.uint64(r) * np.uint64(width)
            if masked and not mask[r]:
                for h in range(width):
                    out[r, h] = 0
            else:
                for h in range(width):
                    out[r, h] = 1 if _uniform(key, base + np.uint64(h)) < p[r, h] else 0

    @njit(parallel=True, cache=True)
    def _clamp_rows(p, out, binary, threshold, mask, masked):
        # clamp(p, 0, 1), or with ``binary`` its spike 1[clamp(p, 0, 1) > threshold], in one
        # pass (torch's expression of the spike makes three)
        rows, width = p.shape
        for r in prange(rows):
            if masked and not mask[r]:
                for h in range(width):
                    out[r, h] = 0
            elif binary:
                for h in range(width):
                    out[r, h] = 1 if min(max(p[r, h], 0), 1) > threshold else 0
            else:
                for h in range(width):
                    out[r, h] = min(max(p[r, h], 0), 1)

    @njit(parallel=True, cache=True)
    def _inside_rows(grad, p, out, mask, masked):
        # d clamp(p, 0, 1) / dp on the open interval, zero on padded steps
        rows, width = p.shape
        for r in prange(rows):
            if masked and not mask[r]:
                for h in range(width):
                    out[r, h] = 0
            else:
                for h in range(width):
                    x = p[r, h]
                    out[r, h] = grad[r, h] if 0 < x < 1 else 0


def _compiled(x: torch.Tensor) -> bool:
    return (numba is not None and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64))


def _rows(x: torch.Tensor) -> np.ndarray:
    """``[L, B, ...]`` as ``[L·B, rest]`` (one row per step and sample, as the mask has them)."""
    rows = x.shape[0] * x.shape[1] if x.dim() >= 2 else 1
    return x.detach().contiguous().reshape(rows, -1).numpy()


def _row_mask(mask: torch.Tensor | None):
    if mask is None:
        return np.ones(1, np.bool_), False
    return mask.contiguous().reshape(-1).numpy(), True


def _open_interval_grad(grad, p, mask):
    """``grad · 1[0 < p < 1]``, zero on padded steps: the gradient of ``E[s] = clamp(p, 0, 1)``."""
    if _compiled(p):
        out = POOL.empty(p.shape, p.numpy().dtype)
        _set_threads(p.numel())
        _inside_rows(_rows(grad), _rows(p), _rows(out), *_row_mask(mask))
        return out
    return _apply_mask(grad * ((p > 0) & (p < 1)).to(grad.dtype), mask)


class _BernoulliSpikes(torch.autograd.Function):
    """Forward: ``1[u < p]`` with the counter-based uniforms ``u`` of ``key``, zero on
    padded steps; backward: the gradient of the expectation ``clamp(p, 0, 1)``."""

    @staticmethod
    def forward(ctx, p, mask, key):
        ctx.save_for_backward(p, mask)
        if _compiled(p):
            out = POOL.empty(p.shape, p.numpy().dtype)
            _set_threads(p.numel())
            _bernoulli_rows(_rows(p), _rows(out), np.uint64(key & _MASK64), *_row_mask(mask))
            return out
        return _apply_mask((counter_uniform(key, p.shape, p.device) < p).to(p.dtype), mask)

    @staticmethod
    def backward(ctx, grad):
        p, mask = ctx.saved_tensors
        return _open_interval_grad(grad, p, mask), None, None


class _MeanField(torch.autograd.Function):
    """``clamp(p, 0, 1)`` (zero on padded steps) with the sampler's backward, for the
    non-spiking twin: the same kernels and layout as :class:`_BernoulliSpikes`, only no
    random numbers, so the two differ by the sampling alone."""

    @staticmethod
    def forward(ctx, p, mask):
        ctx.save_for_backward(p, mask)
        if _compiled(p):
            rows = _rows(p)
            out = POOL.empty(p.shape, rows.dtype)
            _set_threads(p.numel())
            _clamp_rows(rows, _rows(out), False, rows.dtype.type(0), *_row_mask(mask))
            return out
        return _apply_mask(p.clamp(0, 1), mask)

    @staticmethod
    def backward(ctx, grad):
        p, mask = ctx.saved_tensors
        return _open_interval_grad(grad, p, mask), None


def bernoulli_spikes(p: torch.Tensor, mask: torch.Tensor | None = None,
                     key: int | None = None) -> torch.Tensor:
    """Bernoulli spikes ``1[u < clamp(p, 0, 1)]`` with the expectation-based surrogate gradient.

    Parameters
    ----------
    p : torch.Tensor ``[L, B, ...]``
        Spike probabilities (values outside [0, 1] are clamped: they never /
        always spike).
    mask : torch.Tensor ``[L, B]`` of bool, optional
        Real (not padded) steps; padded ones never spike.
    key : int, optional
        Key of the counter-based uniforms (see :func:`counter_uniform`); by
        default a fresh one from torch's global generator (:func:`draw_key`).

    Returns
    -------
    torch.Tensor
        Spikes of ``p``'s shape and dtype; the backward pass is that of
        ``clamp(p, 0, 1)`` on the open interval (one inside, zero outside).
    """
    # the key travels as a signed 64-bit pattern: autograd's argument recording (the
    # profiler's record_shapes) cannot convert Python ints of 2^63 and above
    return _BernoulliSpikes.apply(p, mask, _as_int64(draw_key() if key is None else key))


def threshold_spikes(p: torch.Tensor, threshold: float,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """The sampler's deterministic inference spikes ``1[clamp(p, 0, 1) > threshold]``.

    Zero on padded steps (``mask`` as in :func:`bernoulli_spikes`); no gradient
    flows (a comparison has none).
    """
    if _compiled(p):
        rows = _rows(p)
        out = POOL.empty(p.shape, rows.dtype)
        _set_threads(p.numel())
        _clamp_rows(rows, _rows(out), True, rows.dtype.type(threshold), *_row_mask(mask))
        return out
    return _apply_mask((p.clamp(0, 1) > threshold).to(p.dtype), mask)


def mean_field(p: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``clamp(p, 0, 1)``, zero on padded steps: the expectation of :func:`bernoulli_spikes`.

    Its backward is the sampler's (one on the open interval ``0 < p < 1``),
    so a network with this in place of the sampler is its exact mean-field
    (non-spiking) twin.
    """
    return _MeanField.apply(p, mask)


class SpikeSampler(SpikingLayer):
    """Stochastic spiking neuron: ``s = 1[U < clamp(p, 0, 1)]`` with ``U ~ Uniform(0, 1)``.

    In training the spikes are always Bernoulli samples and the backward pass
    uses the gradient of their expectation ``E[s] = clamp(p, 0, 1)``: one
    where ``0 < p < 1``, zero outside. At inference (``eval()``) ``sampling``
    chooses the output:

    * ``'bernoulli'`` — sample as in training (draws from torch's RNG; the
      estimators seed it from ``random_state``);
    * ``'expected'`` — the probability itself (not binary: the mean-field
      network);
    * ``'threshold'`` — the deterministic spike ``1[clamp(p, 0, 1) > threshold]``.

    Parameters
    ----------
    sampling : {'bernoulli', 'expected', 'threshold'}, default='threshold'
    neuron : NeuronConfig or None, default=None
        Its ``threshold`` is the cut-off of ``'threshold'`` sampling (the
        other fields are the LIF's and play no part here); ``None`` takes
        :data:`SAMPLER_NEURON` (0.5). A configuration, as every spiking
        layer has, so that :func:`snnsk.core.neurons.set_neuron_params` changes
        a sampler's threshold as it changes a LIF's.

    Forward ``(p, mask=None)``: ``p`` of any shape ``[L, B, ...]``; ``mask``
    (bool ``[L, B]``) zeroes the padded steps.
    """

    def __init__(self, sampling: str = "threshold", neuron: NeuronConfig | None = None):
        super().__init__()
        self.sampling = check_sampling(sampling)
        self.neuron = SAMPLER_NEURON if neuron is None else neuron

    @property
    def threshold(self) -> float:
        """The cut-off of ``'threshold'`` sampling (``neuron.threshold``)."""
        return self.neuron.threshold

    def forward(self, p: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.training or self.sampling == "bernoulli":
            return bernoulli_spikes(p, mask)
        if self.sampling == "expected":
            return mean_field(p, mask)
        return threshold_spikes(p, self.neuron.threshold, mask)

    def extra_repr(self) -> str:
        return f"sampling={self.sampling!r}, threshold={self.neuron.threshold!r}"


def check_state_size(name, value) -> int:
    """``value`` as an ``int`` if it is an even integer >= 2 (complex modes come in conjugate pairs)."""
    if not is_int(value) or value < 2 or value % 2:
        raise ValueError(f"{name} must be an even integer >= 2, got {value!r}")
    return int(value)


#: A sampler's default configuration: it fires where the probability exceeds one half.
SAMPLER_NEURON = NeuronConfig(threshold=0.5)


def check_sampling(sampling) -> str:
    """``sampling`` if it is one of :data:`SAMPLING_MODES`, else a ValueError naming the choices."""
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {sampling!r}")
    return sampling


class MeanFieldNeuron(nn.Module):
    """The sampler's non-spiking twin: outputs ``clamp(p, 0, 1)`` itself, in training too.

    What :class:`SpikeSampler` gives with ``sampling='expected'`` at inference,
    used in training as well, with the sampler's backward: no random numbers,
    no binary spikes. ``PSpikeSSM(spiking='none')`` puts it in place of every
    sampler, so the network is the same apart from the sampling, which makes it
    the baseline the spiking model's cost and accuracy are measured against.
    Not a :class:`~snnsk.core.neurons.SpikingLayer`: spike statistics skip it.

    Forward ``(p, mask=None)`` as :class:`SpikeSampler`.
    """

    def forward(self, p: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return mean_field(p, mask)


class MaskedLIF(LIF):
    """:class:`snnsk.core.neurons.LIF` taking the sampler's ``(x, mask)`` call.

    Padding comes after a sequence's last step, so it never reaches the
    membrane of a real step; the mask only silences the padded outputs.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return _apply_mask(super().forward(x), mask)


class ChannelAffine(nn.Module):
    """``a ⊙ x + b`` with one learned scale and offset per channel (last axis)."""

    def __init__(self, channels: int, scale: float = 1.0, bias: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))
        self.bias = nn.Parameter(torch.full((channels,), float(bias)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


class SpikeMixer(nn.Module):
    """``GELU(Linear(s))``: mixes the spikes of a layer's neuron population.

    With a bidirectional convolution the input holds forward and backward
    spikes side by side (``2H``) and the mixer folds them back to ``H``.
    """

    def __init__(self, in_channels: int, embed_dim: int):
        super().__init__()
        self.linear = nn.Linear(in_channels, embed_dim)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.linear(spikes))


class ClampFuse(nn.Module):
    """Residual fusion: ``r = x + y`` and the next sampler's input ``clamp(Norm(r), 0, 1)``.

    The residual stream itself stays unclamped (real-valued), as in any
    pre-norm residual network; what leaves the block towards the next
    :class:`SpikeSampler` is normalised and clamped into [0, 1], a valid
    spike probability. Clamping the residual stream itself would cut the
    gradient of every negative entry at every block, and trains far slower.

    Forward ``(x, y=None)`` returns ``(r, p)``; without ``y``, ``r = x`` (the
    encoder output entering the first block).
    """

    def __init__(self, embed_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        residual = x if y is None else x + y
        return residual, self.norm(residual).clamp(0, 1)
