"""The marker base class of spiking layers (here so that low modules can test for it).

Public as :class:`snnsk.core.neurons.SpikingLayer`.
"""

from __future__ import annotations

from torch import nn

__all__ = ["SpikingLayer"]


class SpikingLayer(nn.Module):
    """Marker base class of every layer whose output is a spike tensor, time first.

    :func:`spiking_layers` finds these, so spike statistics and energy
    estimates see every kind of spiking neuron (LIF, the SSM's stochastic
    sampler...). A subclass may take a boolean ``mask`` of shape ``[T, B]`` as
    its second forward argument, marking the steps that are real data (not
    padding); statistics then count only those steps.

    ``populations`` is how many neurons stand behind each output entry (2 for
    the ON/OFF pair of :class:`TernaryLIF`, whose output is ``ON − OFF``).
    Statistics count a spike per nonzero entry (``|s|``) and divide by
    ``populations`` neurons per entry.

    A layer with a neuron configuration keeps it as ``neuron`` (a
    :class:`~snnsk.core.neurons.NeuronConfig`), which
    :func:`~snnsk.core.neurons.set_neuron_params` replaces, leaving the fields
    named in ``fixed`` as they are and asking :meth:`_check_config` first.
    """

    populations = 1
    #: Neuron parameters :func:`~snnsk.core.neurons.set_neuron_params` leaves alone.
    fixed: tuple = ()

    def _check_config(self, config):
        """Hook: refuse a configuration this kind of neuron cannot run (checked when it is set)."""
