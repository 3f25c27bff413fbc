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

from ._spiking import SpikingLayer
from .backends import run_lif
from .fused_norm import normalised_lif
from .neuron_config import NEURON_PARAMS, NeuronConfig

__all__ = ["lif", "LIF", "TernaryLIF", "NeuronConfig", "SPIKE_CODES", "check_spike_code",
           "input_neuron", "SpikingLayer", "NEURON_PARAMS", "set_neuron_params", "spiking_layers"]


def _config(neuron: NeuronConfig | None, params: dict) -> NeuronConfig:
    """``neuron`` with ``params`` applied (a default configuration when ``neuron`` is None)."""
    if neuron is None:
        return NeuronConfig(**params)
    if not isinstance(neuron, NeuronConfig):
        raise TypeError(f"neuron must be a NeuronConfig or None, got {neuron!r}")
    return neuron.replace(**params) if params else neuron


def lif(x: torch.Tensor, neuron: NeuronConfig | None = None, *, return_v: bool = False, **params):
    """Multi-step LIF neuron over an input sequence.

    Parameters
    ----------
    x : torch.Tensor of shape ``[T, ...]``
        Input current, time first. Floating point.
    neuron : NeuronConfig or None, default=None
        The neuron's parameters (see :class:`NeuronConfig`); ``None`` takes
        the defaults. A configuration is validated when it is made, not here.
    return_v : bool, default=False
        Also return the post-reset membrane potential sequence.
    **params
        Neuron parameters that override ``neuron``'s (``threshold=0.5``...),
        validated at this call.

    Returns
    -------
    spikes : torch.Tensor
        Same shape and dtype as ``x``, values in {0, 1}.
    v : torch.Tensor
        Only with ``return_v=True``: the membrane potential after each step.

    Notes
    -----
    ``backend`` (a field of the configuration): ``'torch'`` is the PyTorch
    reference (any device, dtype, surrogate); ``'cpu'`` fused numba kernels
    (CPU float32/float64); ``'cupy'`` fused CUDA kernels compiled by CuPy
    (CUDA float32/float16/bfloat16, computed in float32; needs
    ``pip install 'snnsk[cuda]'``). The fused backends take the built-in
    surrogates only. ``'auto'`` picks the fastest backend that can run ``x``
    and warns when it must fall back to the reference because the fused
    backend is not usable on this machine; an explicit backend that cannot
    run ``x`` raises a ``RuntimeError`` giving the cause.

    Examples
    --------
    >>> import torch
    >>> from snnsk.core.neurons import lif
    >>> lif(torch.full((4, 1), 1.5), tau=2.0).flatten().tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [T, ...], got {type(x).__name__}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty leading time dimension [T, ...], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    spikes, v = run_lif(x, _config(neuron, params), return_v)
    return (spikes, v) if return_v else spikes


class LIF(SpikingLayer):
    """Multi-step leaky integrate-and-fire neuron: ``[T, ...]`` in, spikes ``[T, ...]`` out.

    A thin module around :func:`lif` (see there and the module docstring for
    the exact dynamics). It keeps its :class:`NeuronConfig` as ``neuron``;
    assigning a new configuration (or :func:`set_neuron_params`) changes it
    after construction. No membrane state is kept between calls.

    Parameters
    ----------
    neuron : NeuronConfig or None, default=None
        The neuron's parameters; ``None`` takes the defaults.
    return_v : bool, default=False
        Also return the membrane potentials (as in :func:`lif`).
    fixed : tuple of str, default=()
        Names of parameters that :func:`set_neuron_params` must leave alone
        (e.g. an attention neuron with its own threshold of 0.5).
    **params
        Neuron parameters that override ``neuron``'s.

    Examples
    --------
    >>> import torch
    >>> from snnsk.core.neurons import LIF, NeuronConfig
    >>> LIF(NeuronConfig(tau=2.0))(torch.full((4, 1), 1.5)).flatten().tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(self, neuron: NeuronConfig | None = None, *, return_v: bool = False,
                 fixed: tuple = (), **params):
        super().__init__()
        unknown = set(fixed) - set(NEURON_PARAMS)
        if unknown:
            raise ValueError(f"fixed names unknown neuron parameters: {sorted(unknown)}")
        self.return_v = bool(return_v)
        self.fixed = tuple(fixed)
        self.neuron = _config(neuron, params)

    @property
    def neuron(self) -> NeuronConfig:
        """The neuron's :class:`NeuronConfig` (assign a new one to change it)."""
        return self._neuron

    @neuron.setter
    def neuron(self, config: NeuronConfig):
        if not isinstance(config, NeuronConfig):
            raise TypeError(f"neuron must be a NeuronConfig, got {config!r}")
        self._check_config(config)
        self._neuron = config

    def forward(self, x: torch.Tensor, norm: nn.Module | None = None,
                layer: nn.Module | None = None):
        """Spikes for the input current ``x`` ``[T, ...]``.

        With ``norm`` (a batch-norm layer), the neuron fires on ``norm(x)``,
        or on ``norm(layer(x))`` with a ``layer`` (a convolution, a linear
        map), time folded into the batch for both. In training, the norm's
        output (and the layer's) is recomputed in backward instead of kept
        (:mod:`snnsk.core.fused_norm`; the same values and gradients as the layers
        called one after the other).
        """
        if norm is None:
            if layer is not None:
                raise ValueError("a layer before the neuron is fused only with a norm")
            return lif(x, self._neuron, return_v=self.return_v)
        if self.return_v:
            raise ValueError("a LIF with return_v=True takes no norm (it returns spikes only)")
        return normalised_lif(x, norm, self._neuron, layer=layer)

    def extra_repr(self) -> str:
        fixed = f", fixed={self.fixed!r}" if self.fixed else ""
        return f"{self._neuron!r}{fixed}"


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
    >>> from snnsk.core.neurons import TernaryLIF
    >>> TernaryLIF(threshold=0.5)(torch.tensor([[1.5], [1.5], [-1.5], [-1.5]])).flatten().tolist()
    [1.0, 1.0, 0.0, -1.0]
    """

    populations = 2

    def _check_config(self, config: NeuronConfig):
        if self.return_v:
            raise ValueError("TernaryLIF does not return membrane potentials (return_v=True)")
        if config.v_reset > 0:
            raise ValueError(f"TernaryLIF needs v_reset <= 0 (so ON and OFF never fire together), "
                             f"got v_reset={config.v_reset!r}")

    def forward(self, x: torch.Tensor):
        # one call for both populations: the ON/OFF axis rides along as a batch axis
        both = super().forward(torch.stack([x, -x], dim=1))
        return both[:, 0] - both[:, 1]


#: Spike codes of a neuron that feeds a weight layer: one LIF, or an ON/OFF pair.
SPIKE_CODES = ("binary", "ternary")


def check_spike_code(spike_code) -> str:
    """``spike_code`` if it is one of :data:`SPIKE_CODES`, else a ValueError naming the choices."""
    if spike_code not in SPIKE_CODES:
        raise ValueError(f"spike_code must be one of {', '.join(SPIKE_CODES)}, "
                         f"got {spike_code!r}")
    return spike_code


def input_neuron(spike_code: str = "binary", neuron: NeuronConfig | None = None) -> LIF:
    """A :class:`LIF` (``spike_code='binary'``) or a :class:`TernaryLIF` (``'ternary'``) with ``neuron``."""
    return (TernaryLIF if check_spike_code(spike_code) == "ternary" else LIF)(neuron)


def spiking_layers(module: nn.Module):
    """Yield ``(name, layer)`` for every :class:`SpikingLayer` (LIF or other) inside ``module``."""
    for name, sub in module.named_modules():
        if isinstance(sub, SpikingLayer):
            yield name, sub


def set_neuron_params(module: nn.Module, **params) -> nn.Module:
    """Change neuron parameters in place on every spiking layer inside ``module``.

    Every :class:`SpikingLayer` with a ``neuron`` configuration (each
    :class:`LIF`, the SSM's sampler) gets a copy with ``params`` applied,
    except the parameters a layer lists in its ``fixed`` tuple. Every new
    configuration is made (and so validated) before any layer changes, so a
    bad value changes nothing.

    Returns
    -------
    module : nn.Module
        The same module.
    """
    unknown = set(params) - set(NEURON_PARAMS)
    if unknown:
        raise ValueError(f"unknown neuron parameters: {sorted(unknown)}; known: {NEURON_PARAMS}")
    layers = [layer for _, layer in spiking_layers(module)
              if isinstance(getattr(layer, "neuron", None), NeuronConfig)]
    updated = [layer.neuron.replace(**{k: v for k, v in params.items() if k not in layer.fixed})
               for layer in layers]
    for layer, config in zip(layers, updated):
        layer._check_config(config)
    for layer, config in zip(layers, updated):
        layer.neuron = config
    return module
