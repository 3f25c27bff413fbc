"""Leaky integrate-and-fire neurons: a functional form and a multi-step module.

Semantics (SpikingJelly's multi-step LIF, plus a refractory period), for an
input sequence ``X[t]`` and membrane potential ``V`` starting at ``v_reset``:

* charge, ``decay_input=True``:  ``H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau``
* charge, ``decay_input=False``: ``H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]``
* fire: ``S[t] = 1 if H[t] >= threshold else 0`` (surrogate gradient backward)
* reset, ``'hard'``: ``V[t] = v_reset`` after a spike, else ``H[t]``;
  ``'soft'``: ``V[t] = H[t] - threshold * S[t]``. With ``detach_reset`` the
  reset does not carry gradient through ``S``.
* refractory period ``r``: for the ``r`` steps after a spike the neuron ignores
  its input, holds its post-reset potential (``v_reset`` for a hard reset) and
  cannot fire.

``v_reset`` is also the resting potential the membrane leaks toward and starts
from, for both reset modes (SpikingJelly's soft reset is ``v_reset=0``).

No state is kept between calls: each call starts from rest, so there is no
``reset_net`` to forget.
"""

from __future__ import annotations

import torch
from torch import nn

from ._backends import BACKENDS, make_params, run_lif
from ._spiking import SpikingLayer
from .fused_norm import normalised_lif
from .surrogate import Surrogate

__all__ = ["lif", "LIF", "TernaryLIF", "SPIKE_CODES", "check_spike_code", "input_neuron",
           "SpikingLayer", "NEURON_PARAMS", "set_neuron_params", "spiking_layers"]

#: Parameters of :class:`LIF` that can be changed in place on a built network.
NEURON_PARAMS = ("tau", "threshold", "reset", "v_reset", "refractory", "surrogate", "alpha",
                 "decay_input", "detach_reset", "backend")


def lif(
    x: torch.Tensor,
    tau: float = 2.0,
    threshold: float = 1.0,
    reset: str = "hard",
    v_reset: float = 0.0,
    refractory: int = 0,
    surrogate: str | Surrogate = "atan",
    alpha: float | None = None,
    decay_input: bool = True,
    detach_reset: bool = False,
    backend: str = "auto",
    return_v: bool = False,
):
    """Multi-step LIF neuron over an input sequence.

    Parameters
    ----------
    x : torch.Tensor of shape ``[T, ...]``
        Input current, time first. Floating point.
    tau : float, default=2.0
        Membrane time constant (>= 1; 1 means no memory).
    threshold : float, default=1.0
        Firing threshold (> 0).
    reset : {'hard', 'soft'}, default='hard'
        Hard reset sets the potential to ``v_reset`` after a spike; soft reset
        subtracts ``threshold``.
    v_reset : float, default=0.0
        Reset and resting potential (< ``threshold``).
    refractory : int, default=0
        Steps after a spike during which the neuron ignores input and cannot fire.
    surrogate : str or Surrogate, default='atan'
        Surrogate gradient: ``'atan'``, ``'sigmoid'``, ``'fast_sigmoid'``,
        ``'triangle'`` or a :class:`snnsk.surrogate.Surrogate` instance.
    alpha : float or None, default=None
        Surrogate sharpness; ``None`` takes the surrogate's default.
    decay_input : bool, default=True
        Whether the input is divided by ``tau`` when charging.
    detach_reset : bool, default=False
        Stop the gradient through the spike in the reset.
    backend : {'auto', 'torch', 'cpu', 'cupy'}, default='auto'
        ``'torch'``: the PyTorch reference (any device, dtype, surrogate);
        ``'cpu'``: fused numba kernels (CPU float32/float64); ``'cupy'``: fused
        CUDA kernels compiled by CuPy (CUDA float32/float16/bfloat16, computed
        in float32; needs ``pip install 'snnsk[cuda]'``). The fused backends
        take the built-in surrogates only. ``'auto'`` picks the fastest backend
        that can run ``x`` (on CUDA: ``'cupy'`` when CuPy works, else
        ``'torch'``); an explicit backend that cannot run ``x`` raises a
        ``RuntimeError`` giving the cause.
    return_v : bool, default=False
        Also return the post-reset membrane potential sequence.

    Returns
    -------
    spikes : torch.Tensor
        Same shape and dtype as ``x``, values in {0, 1}.
    v : torch.Tensor
        Only with ``return_v=True``: the membrane potential after each step.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [T, ...], got {type(x).__name__}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty leading time dimension [T, ...], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    p = make_params(tau, threshold, reset, v_reset, refractory, surrogate, alpha, decay_input,
                    detach_reset)
    spikes, v = run_lif(x, p, backend, return_v)
    return (spikes, v) if return_v else spikes


class LIF(SpikingLayer):
    """Multi-step leaky integrate-and-fire neuron: ``[T, ...]`` in, spikes ``[T, ...]`` out.

    A thin module around :func:`lif` (see there and the module docstring for
    the parameters and the exact dynamics). Parameters are plain attributes and
    can be changed after construction; no membrane state is kept between calls.

    Parameters
    ----------
    tau, threshold, reset, v_reset, refractory, surrogate, alpha, decay_input, detach_reset, backend, return_v
        As in :func:`lif`.
    fixed : tuple of str, default=()
        Names of parameters that :func:`set_neuron_params` must leave alone
        (e.g. an attention neuron with its own threshold of 0.5).

    Examples
    --------
    >>> import torch
    >>> from snnsk.neurons import LIF
    >>> LIF(tau=2.0)(torch.full((4, 1), 1.5)).flatten().tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        reset: str = "hard",
        v_reset: float = 0.0,
        refractory: int = 0,
        surrogate: str | Surrogate = "atan",
        alpha: float | None = None,
        decay_input: bool = True,
        detach_reset: bool = False,
        backend: str = "auto",
        return_v: bool = False,
        fixed: tuple = (),
    ):
        super().__init__()
        # Validate now so a bad value fails at construction, not at the first batch.
        make_params(tau, threshold, reset, v_reset, refractory, surrogate, alpha, decay_input,
                    detach_reset)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        unknown = set(fixed) - set(NEURON_PARAMS)
        if unknown:
            raise ValueError(f"fixed names unknown neuron parameters: {sorted(unknown)}")
        self.tau = tau
        self.threshold = threshold
        self.reset = reset
        self.v_reset = v_reset
        self.refractory = refractory
        self.surrogate = surrogate
        self.alpha = alpha
        self.decay_input = decay_input
        self.detach_reset = detach_reset
        self.backend = backend
        self.return_v = return_v
        self.fixed = tuple(fixed)

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None,
                layer: nn.Module | None = None):
        """Spikes for the input current ``x`` ``[T, ...]``.

        With ``norm`` (a batch-norm layer), the neuron fires on ``norm(x)``,
        or on ``norm(layer(x))`` with a ``layer`` (a convolution, a linear
        map), time folded into the batch for both. In training, the norm's
        output (and the layer's) is recomputed in backward instead of kept
        (:mod:`snnsk.fused_norm`; the same values and gradients as the layers
        called one after the other).
        """
        params = {name: getattr(self, name) for name in NEURON_PARAMS}
        if norm is None:
            if layer is not None:
                raise ValueError("a layer before the neuron is fused only with a norm")
            return lif(x, **params, return_v=self.return_v)
        if self.return_v:
            raise ValueError("a LIF with return_v=True takes no norm (it returns spikes only)")
        backend = params.pop("backend")
        return normalised_lif(x, norm, make_params(**params), backend, layer=layer)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in NEURON_PARAMS)


class TernaryLIF(LIF):
    """An ON and an OFF LIF neuron per channel, output ``ON − OFF`` in {−1, 0, +1}.

    The ON neuron integrates ``x``, the OFF neuron ``−x``, both with the same
    parameters (as in :class:`LIF`). A binary LIF maps every negative input to
    silence, so a weight layer reading it never learns the sign of its
    input; the OFF population carries it. A layer reading these spikes still
    only accumulates: it adds the weight for an ON spike and subtracts it for
    an OFF spike (the ternary spikes of Guo et al., AAAI 2024, and SpikeLM's
    bidirectional spikes, built from two ordinary LIF neurons like a DVS
    pixel's ON and OFF events).

    Resets only lower a potential (``v_reset`` ≤ 0 < ``threshold``), so the
    ON potential never exceeds minus the OFF potential and the two never fire
    in the same step: each nonzero output entry is exactly one spike.

    Examples
    --------
    >>> import torch
    >>> from snnsk.neurons import TernaryLIF
    >>> TernaryLIF(tau=2.0, threshold=0.5)(torch.tensor([[1.5], [1.5], [-1.5], [-1.5]])).flatten().tolist()
    [1.0, 1.0, 0.0, -1.0]
    """

    populations = 2

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._check_pair()

    def _check_pair(self):
        # at construction and at every call: set_neuron_params may change the values in between
        if self.return_v:
            raise ValueError("TernaryLIF does not return membrane potentials (return_v=True)")
        if not (self.threshold > 0 and self.v_reset <= 0):
            raise ValueError(f"TernaryLIF needs threshold > 0 and v_reset <= 0 (so ON and OFF never "
                             f"fire together), got threshold={self.threshold!r}, "
                             f"v_reset={self.v_reset!r}")

    def forward(self, x: torch.Tensor):
        self._check_pair()
        # one call for both populations: the ON/OFF axis rides along as a batch axis
        both = super().forward(torch.stack([x, -x], dim=1))
        return both[:, 0] - both[:, 1]


#: Spike codes of a neuron that feeds a weight layer: one LIF, or an ON/OFF pair.
SPIKE_CODES = ("binary", "ternary")


def check_spike_code(spikes) -> str:
    """``spikes`` if it is one of :data:`SPIKE_CODES`, else a ValueError naming the choices."""
    if spikes not in SPIKE_CODES:
        raise ValueError(f"spikes must be one of {', '.join(SPIKE_CODES)}, got {spikes!r}")
    return spikes


def input_neuron(spikes: str = "binary", **neuron) -> LIF:
    """A :class:`LIF` (``spikes='binary'``) or a :class:`TernaryLIF` (``'ternary'``)."""
    return (TernaryLIF if check_spike_code(spikes) == "ternary" else LIF)(**neuron)


def spiking_layers(module: nn.Module):
    """Yield ``(name, layer)`` for every :class:`SpikingLayer` (LIF or other) inside ``module``."""
    for name, sub in module.named_modules():
        if isinstance(sub, SpikingLayer):
            yield name, sub


def _lif_layers(module: nn.Module):
    return ((name, sub) for name, sub in spiking_layers(module) if isinstance(sub, LIF))


def set_neuron_params(module: nn.Module, **params) -> nn.Module:
    """Change neuron parameters in place on every :class:`LIF` inside ``module``.

    Layers that list a parameter in their ``fixed`` tuple keep their own value.
    The values are validated first, so a bad value changes nothing.

    Returns
    -------
    module : nn.Module
        The same module.
    """
    unknown = set(params) - set(NEURON_PARAMS)
    if unknown:
        raise ValueError(f"unknown neuron parameters: {sorted(unknown)}; known: {NEURON_PARAMS}")
    for _, layer in _lif_layers(module):
        updated = {k: v for k, v in params.items() if k not in layer.fixed}
        merged = {name: getattr(layer, name) for name in NEURON_PARAMS if name != "backend"}
        merged.update({k: v for k, v in updated.items() if k != "backend"})
        make_params(**merged)
        if "backend" in updated and updated["backend"] not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {updated['backend']!r}")
    for _, layer in _lif_layers(module):
        for k, v in params.items():
            if k not in layer.fixed:
                setattr(layer, k, v)
    return module
