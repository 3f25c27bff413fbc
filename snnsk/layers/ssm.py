"""Layers of the probabilistic spiking state-space model (P-SpikeSSM).

Tensors are time first, ``[L, B, H]``: the sequence axis is the spiking
model's time axis, so the LIF-based variant runs :class:`snnsk.neurons.LIF`
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

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_positive_int
from ..neurons import LIF, SpikingLayer
from ..opcount import count_fanout, counting

__all__ = ["S4DKernel", "S4DConv", "fft_conv", "ssm_recurrence", "SpikeSampler", "SAMPLING_MODES",
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
    d_model : int
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

    def __init__(self, d_model: int, d_state: int = 64, channels: int = 1, init: str = "inv",
                 dt_min: float = 1e-3, dt_max: float = 1e-1, generator=None):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("channels", channels)
        if isinstance(d_state, bool) or not isinstance(d_state, int) or d_state < 2 or d_state % 2:
            raise ValueError(f"d_state must be an even integer >= 2, got {d_state!r}")
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
        u = torch.rand(d_model, generator=generator)
        log_dt = math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))
        c = torch.randn(channels, d_model, modes, 2, generator=generator) * math.sqrt(0.5)
        self.log_dt = nn.Parameter(log_dt)
        # Re A = -exp(.) keeps every mode stable whatever the optimiser does
        self.log_neg_a_real = nn.Parameter(torch.full((d_model, modes), math.log(0.5)))
        self.a_imag = nn.Parameter(imag.repeat(d_model, 1))
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
    """
    length = u.shape[0]
    n = 2 * length  # zero-padded to 2L: a linear, not circular, convolution
    # half types lose too much in a long FFT: work in float32 at least
    work = torch.promote_types(u.dtype, torch.float32)
    x = u.to(work)
    spectra = torch.fft.rfft(kernel[..., :length].to(work), n=n, dim=-1)  # [c, H, n/2+1]
    outputs = []
    for direction in range(kernel.shape[0]):
        source = x.flip(0) if direction else x
        y = torch.fft.irfft(torch.fft.rfft(source, n=n, dim=0) * spectra[direction].T[:, None, :],
                            n=n, dim=0)[:length]
        if direction:
            y = y.flip(0)
        outputs.append((y + d[direction] * x).to(u.dtype))
    return torch.cat(outputs, dim=-1)


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

    def __init__(self, d_model: int, d_state: int = 64, bidirectional: bool = False,
                 init: str = "inv", dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        channels = 2 if bidirectional else 1
        self.kernel = S4DKernel(d_model, d_state, channels=channels, init=init, dt_min=dt_min,
                                dt_max=dt_max)
        self.d = nn.Parameter(torch.randn(channels, d_model))
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


class _ExpectationSurrogate(torch.autograd.Function):
    """Forward: the sample; backward: the gradient of its expectation ``clamp(p, 0, 1)``."""

    @staticmethod
    def forward(ctx, p, noise):
        ctx.save_for_backward(p)
        return (noise < p).to(p.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (p,) = ctx.saved_tensors
        inside = (p > 0) & (p < 1)
        return grad_output * inside.to(grad_output.dtype), None


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
    threshold : float, default=0.5
        Cut-off of ``'threshold'`` sampling.

    Forward ``(p, mask=None)``: ``p`` of any shape ``[L, B, ...]``; ``mask``
    (bool ``[L, B]``) zeroes the padded steps.
    """

    def __init__(self, sampling: str = "threshold", threshold: float = 0.5):
        super().__init__()
        self.sampling = sampling
        self.threshold = threshold
        self.check(sampling=sampling, threshold=threshold)

    @staticmethod
    def check(sampling=None, threshold=None):
        """Validate ``sampling`` / ``threshold`` values (either may be None)."""
        if sampling is not None and sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {sampling!r}")
        if threshold is not None and (isinstance(threshold, bool)
                                      or not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")

    def forward(self, p: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.training or self.sampling == "bernoulli":
            spikes = _ExpectationSurrogate.apply(p, torch.rand_like(p))
        elif self.sampling == "expected":
            spikes = p.clamp(0, 1)
        else:
            spikes = (p.clamp(0, 1) > self.threshold).to(p.dtype)
        return _apply_mask(spikes, mask)

    def extra_repr(self) -> str:
        return f"sampling={self.sampling!r}, threshold={self.threshold!r}"


class MaskedLIF(LIF):
    """:class:`snnsk.neurons.LIF` taking the sampler's ``(x, mask)`` call.

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

    def __init__(self, in_channels: int, d_model: int):
        super().__init__()
        self.linear = nn.Linear(in_channels, d_model)

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

    def __init__(self, d_model: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        residual = x if y is None else x + y
        return residual, self.norm(residual).clamp(0, 1)
