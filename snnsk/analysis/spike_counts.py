"""The one spike-counting engine: spikes and neuron-steps of every spiking layer of a module.

Everything in snnsk that reports spikes counts them here (``spike_stats``,
:func:`snnsk.analysis.metrics.spike_report` and the scorers built on it, the
:class:`~snnsk.analysis.callbacks.FiringRateMonitor`, the plots, the demo), with one
rule:

* **spikes** are ``Σ |s|`` over a layer's output: an OFF spike of a ternary
  layer (``−1``) is a spike, and a non-binary output (the SSM sampler's
  ``'expected'`` inference) counts its expected spikes;
* **neuron-steps** are the real steps times the layer's neurons: a layer
  called with a padding mask (``layer(x, mask)``, mask ``[T, B]``) counts
  only the steps the mask marks real; an output entry stands for
  ``populations`` neurons (2 for an ON/OFF pair, whose output is ``ON − OFF``);
* the **firing rate** is spikes over neuron-steps.

:class:`SpikeCounter` attaches forward hooks to every
:class:`~snnsk.core.neurons.SpikingLayer` of a module and accumulates those counts
(as tensors on the spikes' device, so counting does not synchronise a GPU
per batch); an estimator's :meth:`~snnsk.estimators.SpikingMixin.run_inference`
runs the pass it observes. :class:`SpikeRecorder` keeps the spike trains
themselves (for a raster plot) through the same hooks.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from ..core._spiking import SpikingLayer

__all__ = ["SpikeCount", "SpikeCounter", "SpikeRecorder", "padding_mask", "spike_output",
           "STATS_COLUMNS"]

#: Columns of :meth:`SpikeCounter.frame` (and so of ``spike_stats``).
STATS_COLUMNS = ("neurons", "timesteps", "spikes", "firing_rate")


def spike_output(output) -> torch.Tensor:
    """The spike tensor of a spiking layer's output (the first element of a tuple)."""
    return output[0] if isinstance(output, tuple) else output


def padding_mask(inputs: tuple, spikes: torch.Tensor) -> torch.Tensor | None:
    """The ``[T, B]`` boolean mask a spiking layer was called with (its second argument), if any."""
    if len(inputs) > 1 and torch.is_tensor(inputs[1]) and inputs[1].dtype == torch.bool \
            and tuple(inputs[1].shape) == tuple(spikes.shape[:2]):
        return inputs[1]
    return None


class SpikeCount:
    """The running count of one spiking layer (see the module docstring for the rule).

    Attributes
    ----------
    neurons : int
        Neurons per sample (output entries after time and batch, times populations).
    timesteps : int
        Steps of the longest call.
    spikes : float
        Spikes over every call.
    neuron_steps : int
        Real (unpadded) neuron-steps over every call.
    """

    def __init__(self):
        self.neurons = 0
        self.timesteps = 0
        self._spikes = None
        self._neuron_steps = 0

    def add(self, spikes: torch.Tensor, mask: torch.Tensor | None, populations: int):
        """Count one call's output ``spikes`` ``[T, B, ...]`` (and its padding ``mask``)."""
        spikes = spikes.detach()
        entries = math.prod(spikes.shape[2:]) if spikes.dim() > 2 else 1
        self.neurons = entries * populations
        self.timesteps = max(self.timesteps, int(spikes.shape[0]))
        total = spikes.abs().sum(dtype=torch.float64)
        self._spikes = total if self._spikes is None else self._spikes + total
        if mask is None:
            self._neuron_steps += spikes.numel() * populations
        else:
            steps = mask.sum()
            self._neuron_steps = self._neuron_steps + steps * self.neurons

    @property
    def spikes(self) -> float:
        return 0.0 if self._spikes is None else float(self._spikes)

    @property
    def neuron_steps(self) -> int:
        return int(self._neuron_steps)

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per real step (NaN before any step was counted)."""
        steps = self.neuron_steps
        return self.spikes / steps if steps else math.nan


class _SpikingHooks:
    """Forward hooks on every spiking layer of ``module`` while the context is open."""

    def __init__(self, module: nn.Module):
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self._handles = []

    def __enter__(self):
        for name, layer in self.module.named_modules():
            if isinstance(layer, SpikingLayer):
                self._handles.append(layer.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Remove the hooks (what was gathered stays readable)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str):
        raise NotImplementedError


class SpikeCounter(_SpikingHooks):
    """Count the spikes of every spiking layer of ``module`` while the context is open.

    Parameters
    ----------
    module : torch.nn.Module
        Every :class:`~snnsk.core.neurons.SpikingLayer` inside it is counted.

    Attributes
    ----------
    layers : dict of str to SpikeCount
        By the layer's name in ``module``, in the order the layers first ran.
    active : bool
        Calls are counted only while True (a monitor switches it off for
        validation batches).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from snnsk.core.neurons import LIF
    >>> from snnsk.analysis.spike_counts import SpikeCounter
    >>> net = nn.Sequential(nn.Linear(2, 3), LIF())
    >>> with SpikeCounter(net) as counter:
    ...     _ = net(torch.ones(4, 1, 2))
    >>> counter.layers["1"].neuron_steps
    12
    """

    def __init__(self, module: nn.Module):
        super().__init__(module)
        self.layers: dict[str, SpikeCount] = {}
        self.active = True

    def _hook(self, name: str):
        def record(layer, inputs, output):
            if not self.active:
                return
            spikes = spike_output(output)
            count = self.layers.get(name)
            if count is None:
                count = self.layers[name] = SpikeCount()
            count.add(spikes, padding_mask(inputs, spikes), layer.populations)
        return record

    @property
    def spikes(self) -> float:
        """Spikes of every layer together."""
        return sum(count.spikes for count in self.layers.values())

    @property
    def neuron_steps(self) -> int:
        """Neuron-steps of every layer together."""
        return sum(count.neuron_steps for count in self.layers.values())

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per step over every layer together (larger layers weigh more)."""
        steps = self.neuron_steps
        return self.spikes / steps if steps else math.nan

    def frame(self) -> pd.DataFrame:
        """One row per layer (index ``layer``): :data:`STATS_COLUMNS`."""
        frame = pd.DataFrame.from_dict(
            {name: {"neurons": c.neurons, "timesteps": c.timesteps, "spikes": c.spikes,
                    "firing_rate": c.firing_rate} for name, c in self.layers.items()},
            orient="index", columns=list(STATS_COLUMNS))
        frame.index.name = "layer"
        return frame


class SpikeRecorder(_SpikingHooks):
    """Keep the spikes of one sample, per spiking layer, while the context is open.

    Parameters
    ----------
    module : torch.nn.Module
    sample : int, default=0
        Which sample of the batch (the second axis) to keep.

    Attributes
    ----------
    spikes : dict of str to torch.Tensor
        ``[T, neurons]`` (CPU) of each layer's first call, in the order the layers ran.
    """

    def __init__(self, module: nn.Module, sample: int = 0):
        super().__init__(module)
        self.sample = sample
        self.spikes: dict[str, torch.Tensor] = {}

    def _hook(self, name: str):
        def keep(_layer, _inputs, output):
            spikes = spike_output(output).detach()
            self.spikes.setdefault(
                name, spikes[:, self.sample].reshape(spikes.shape[0], -1).cpu())
        return keep
